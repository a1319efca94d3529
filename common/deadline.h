#ifndef MAILSTATE_DEADLINE_H
#define MAILSTATE_DEADLINE_H
/*
 * deadline - absolute times for pthread_cond_timedwait(), which wants "now
 * on the condition's clock, plus ms" with tv_nsec kept below one second.
 *
 * deadline_add(from, ms): from + ms, normalised (from must be normalised).
 * deadline_in(clock, ms): now on clock + ms.  The clock must be the one the
 * condition variable waits on: CLOCK_REALTIME for a default condition,
 * CLOCK_MONOTONIC for one made with pthread_condattr_setclock().
 */
#include <time.h>

struct timespec deadline_add(struct timespec from, unsigned long ms);
struct timespec deadline_in(clockid_t clock, unsigned long ms);

#endif
