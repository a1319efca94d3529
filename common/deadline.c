/*
 * deadline - absolute wait times; contract in deadline.h.
 */
#include "deadline.h"

struct timespec deadline_add(struct timespec from, unsigned long ms)
{
    from.tv_sec += (time_t)(ms / 1000);
    from.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (from.tv_nsec >= 1000000000L) {
        from.tv_sec++;
        from.tv_nsec -= 1000000000L;
    }
    return from;
}

struct timespec deadline_in(clockid_t clock, unsigned long ms)
{
    struct timespec now;

    clock_gettime(clock, &now);
    return deadline_add(now, ms);
}
