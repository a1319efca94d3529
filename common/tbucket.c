/*
 * tbucket - a token bucket; see tbucket.h.
 */
#include "tbucket.h"

#include <time.h>

void tbucket_init(struct tbucket *b, double rate, double burst)
{
    pthread_mutex_init(&b->lock, NULL);
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->last_ms = 0;
    b->dropped = 0;
}

void tbucket_set(struct tbucket *b, double rate, double burst)
{
    pthread_mutex_lock(&b->lock);
    b->rate = rate;
    b->burst = burst;
    if (b->tokens > burst)
        b->tokens = burst;
    pthread_mutex_unlock(&b->lock);
}

int tbucket_take(struct tbucket *b, uint64_t now_ms, uint64_t *dropped)
{
    int ok;

    pthread_mutex_lock(&b->lock);
    if (b->rate <= 0) {
        ok = 1;
    } else {
        if (b->last_ms != 0 && now_ms > b->last_ms) {
            b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
            if (b->tokens > b->burst)
                b->tokens = b->burst;
        }
        if (b->last_ms == 0 || now_ms > b->last_ms)
            b->last_ms = now_ms;
        ok = b->tokens >= 1.0 - 1e-9;  /* sums of fractions round */
        if (ok)
            b->tokens = b->tokens > 1.0 ? b->tokens - 1.0 : 0.0;
    }
    if (ok) {
        if (dropped)
            *dropped = b->dropped;
        b->dropped = 0;
    } else {
        b->dropped++;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

uint64_t tbucket_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
