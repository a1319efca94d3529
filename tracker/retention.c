/*
 * retention - periodic purge (see retention.h).
 */
#include "retention.h"
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "store_ctl.h"
#include "store_events.h"
#include "xmem.h"

#define RETENTION_FIRST_S  1    /* first pass soon after start */
#define RETENTION_PAUSE_MS 20   /* between batches: let the writers in */

struct retention {
    store_t        *st;
    long long       retention_s;
    long long       events_keep_s;   /* the event feed's bound (issue 17) */
    unsigned        interval_s;
    size_t          batch;
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             stopping;
    uint64_t        noted_s;     /* last store_ctl_note_purge, Unix s */
};

/* Wait ms milliseconds or until stopping; returns 1 if stopping. */
static int retention_sleep(struct retention *r, unsigned long ms)
{
    struct timespec until = deadline_in(CLOCK_MONOTONIC, ms);
    int stop;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping &&
           pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
        ;
    stop = r->stopping;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

/* The event feed: kept for min(retention, [events] keep). */
static void retention_events(struct retention *r, uint64_t now_ms)
{
    long long keep = r->events_keep_s < r->retention_s ? r->events_keep_s : r->retention_s;
    size_t pruned, total = 0;
    int rc;

    do {
        rc = store_events_prune(r->st, now_ms - (uint64_t)keep * 1000u, r->batch * 10, &pruned);
        if (rc != STORE_OK) {
            if (rc != STORE_ECLOSED)
                log_error("retention: event prune failed: %s", store_strerror(rc));
            break;
        }
        total += pruned;
    } while (pruned > 0 && !retention_sleep(r, RETENTION_PAUSE_MS));
    if (total > 0)
        log_info("retention: pruned %zu feed events older than %lld s", total, keep);
}

static void retention_pass(struct retention *r)
{
    struct timespec now;
    uint64_t before_ms;
    size_t purged, total = 0;
    int rc;

    clock_gettime(CLOCK_REALTIME, &now);
    before_ms = (uint64_t)now.tv_sec * 1000u - (uint64_t)r->retention_s * 1000u;
    do {
        rc = store_purge(r->st, before_ms, r->batch, &purged);
        if (rc != STORE_OK) {
            if (rc != STORE_ECLOSED)
                log_error("retention: purge failed: %s", store_strerror(rc));
            break;
        }
        total += purged;
    } while (purged > 0 && !retention_sleep(r, RETENTION_PAUSE_MS));
    if (total > 0)
        log_info("retention: purged %zu mails older than %lld s", total, r->retention_s);
    if (rc == STORE_OK)
        retention_events(r, (uint64_t)now.tv_sec * 1000u);
    /* "last purge" for mailstatectl status: after a pass that removed
     * mails, and hourly otherwise (one small commit, not one per pass) */
    if (rc == STORE_OK && (total > 0 || (uint64_t)now.tv_sec >= r->noted_s + 3600)) {
        if (store_ctl_note_purge(r->st, (uint64_t)now.tv_sec * 1000u, total) == STORE_OK)
            r->noted_s = (uint64_t)now.tv_sec;
    }
}

static void *retention_main(void *arg)
{
    struct retention *r = arg;

    if (retention_sleep(r, RETENTION_FIRST_S * 1000u))
        return NULL;
    do {
        retention_pass(r);
    } while (!retention_sleep(r, (unsigned long)r->interval_s * 1000u));
    return NULL;
}

retention_t *retention_start(store_t *st, long long retention_s, long long events_keep_s,
                             unsigned interval_s, size_t batch)
{
    struct retention *r;
    pthread_condattr_t ca;
    int rc;

    if (retention_s <= 0)
        return NULL;
    r = xcalloc(1, sizeof *r);
    r->st = st;
    r->retention_s = retention_s;
    r->events_keep_s = events_keep_s > 0 ? events_keep_s : retention_s;
    r->interval_s = interval_s ? interval_s : 60;
    r->batch = batch ? batch : 100;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&r->thread, NULL, retention_main, r);
    if (rc != 0)
        log_panic("retention: cannot start its thread (error %d)", rc);
    return r;
}

retention_t *retention_stop(retention_t *r)
{
    if (r == NULL)
        return NULL;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    return NULL;
}
