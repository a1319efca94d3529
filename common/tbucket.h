#ifndef MAILSTATE_TBUCKET_H
#define MAILSTATE_TBUCKET_H
/*
 * tbucket - a token bucket: at most `burst` events at once, refilled at
 * `rate` per second.  Used to rate-limit log lines so a flood of requests
 * cannot fill the disk (the tracker's per-change and per-refusal lines,
 * the store's outbox-full warning).
 *
 * tbucket_take(b, now_ms, &dropped) returns 1 if the event may happen (a
 * token was taken) and then sets *dropped (if not NULL) to the number of
 * events refused since the previous allowed one, so the caller can say
 * "N lines suppressed"; it returns 0 (and counts the event) otherwise.
 * A clock that goes backwards refills nothing.  Thread-safe (a mutex per
 * bucket).  TBUCKET_INIT(rate, burst) initialises a static bucket (full);
 * rate 0 means unlimited (every take succeeds).
 */
#include <pthread.h>
#include <stdint.h>

struct tbucket {
    pthread_mutex_t lock;
    double          rate;       /* tokens per second; 0 = unlimited */
    double          burst;      /* capacity */
    double          tokens;
    uint64_t        last_ms;    /* 0 = never used */
    uint64_t        dropped;    /* refused since the last allowed take */
};

#define TBUCKET_INIT(rate_, burst_) \
    { PTHREAD_MUTEX_INITIALIZER, (rate_), (burst_), (burst_), 0, 0 }

void tbucket_init(struct tbucket *b, double rate, double burst);
/* Changes rate and burst, keeps the tokens (capped at the new burst). */
void tbucket_set(struct tbucket *b, double rate, double burst);
int tbucket_take(struct tbucket *b, uint64_t now_ms, uint64_t *dropped);
/* Milliseconds of CLOCK_MONOTONIC (for now_ms). */
uint64_t tbucket_now_ms(void);

#endif
