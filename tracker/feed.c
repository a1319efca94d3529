/*
 * feed - GET /v1/events and its long poll (see feed.h).
 */
#include "feed.h"
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "render.h"
#include "route.h"
#include "webhook.h"

static pthread_mutex_t feed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t feed_cond;
static pthread_once_t feed_once = PTHREAD_ONCE_INIT;
static uint64_t feed_gen;          /* bumped by each wake-up (feed_lock) */
static int feed_stopping;
static _Atomic long feed_waiting;  /* long polls in feed_wait now */

static void feed_init_cond(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&feed_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* The store's hook: the durable point moved (new events to serve). */
static void feed_wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&feed_lock);
    feed_gen++;
    pthread_cond_broadcast(&feed_cond);
    pthread_mutex_unlock(&feed_lock);
}

/* A plain decimal number without sign or spaces, at most max. */
static int feed_number(const char *v, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;

    if (v == NULL || v[0] == '\0' || strlen(v) > 20)
        return -1;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

int feed_parse_query(const struct api_arg *args, size_t n, unsigned max_wait_s,
                     struct feed_query *q, char *err, size_t errlen)
{
    static const char *const names[] = { "after", "limit", "wait", NULL };
    unsigned seen = 0;

    q->after = 0;
    q->limit = FEED_LIMIT_DEFAULT;
    q->wait_s = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = args[i].key, *v = args[i].value;
        uint64_t num;
        unsigned k = 0;

        while (names[k] != NULL && strcmp(names[k], key) != 0)
            k++;
        if (names[k] == NULL) {
            snprintf(err, errlen, "unknown parameter \"%.64s\"", key);
            return -1;
        }
        if (seen & (1u << k)) {
            snprintf(err, errlen, "parameter \"%s\" given twice", key);
            return -1;
        }
        seen |= 1u << k;
        if (k == 0) {
            if (feed_number(v, INT64_MAX, &num) != 0) {
                snprintf(err, errlen, "after must be a sequence number (0 or more)");
                return -1;
            }
            q->after = num;
        } else if (k == 1) {
            if (feed_number(v, FEED_LIMIT_MAX, &num) != 0 || num == 0) {
                snprintf(err, errlen, "limit must be 1 to %d", FEED_LIMIT_MAX);
                return -1;
            }
            q->limit = (size_t)num;
        } else {
            if (feed_number(v, max_wait_s, &num) != 0) {
                snprintf(err, errlen, "wait must be 0 to %u seconds", max_wait_s);
                return -1;
            }
            q->wait_s = (unsigned)num;
        }
    }
    return 0;
}

json_t *feed_event_json(const struct store_feed_event *e)
{
    char when[RENDER_TIME_LEN + 1];
    json_t *o = json_object();

    render_time(e->time_ms, when);
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "mail_id", json_stringn(e->id, MAILID_ID_LEN));
    json_object_set_new(o, "sender", e->sender ? json_string(e->sender) : json_null());
    json_object_set_new(o, "recipient", json_string(e->recipient));
    if (e->original_recipient)
        json_object_set_new(o, "original_recipient", json_string(e->original_recipient));
    json_object_set_new(o, "event", json_string(store_events_name(e)));
    json_object_set_new(o, "source", json_string(e->kind == STORE_EVK_MERGE ? "peer" : "local"));
    json_object_set_new(o, "status", json_string(store_status_name(e->status)));
    json_object_set_new(o, "read_count", json_integer(e->read_count));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "via", json_string(e->via));
    return o;
}

/*
 * Wait until an event after `after` may be there, the deadline passes or the
 * tracker stops.  Returns 1 to read again, 0 to answer with nothing.
 */
static int feed_wait(store_t *st, uint64_t after, const struct timespec *deadline,
                     _Atomic int *cancel)
{
    for (;;) {
        uint64_t last = 0, gen;
        struct timespec now, until;

        /* Take the generation before reading: a commit after the read
         * bumps it, so the wait below cannot sleep through that commit. */
        pthread_mutex_lock(&feed_lock);
        gen = feed_gen;
        pthread_mutex_unlock(&feed_lock);
        if (store_events_last(st, &last) != STORE_OK || last > after)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline->tv_sec ||
            (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
            return 0;
        /* Re-read every FEED_RECHECK_MS: other processes' commits (a
         * mailstatectl, a second tracker) do not run our hook. */
        until = deadline_add(now, FEED_RECHECK_MS);
        if (until.tv_sec > deadline->tv_sec ||
            (until.tv_sec == deadline->tv_sec && until.tv_nsec > deadline->tv_nsec))
            until = *deadline;
        pthread_mutex_lock(&feed_lock);
        while (!feed_stopping && feed_gen == gen && !(cancel && atomic_load(cancel)) &&
               pthread_cond_timedwait(&feed_cond, &feed_lock, &until) != ETIMEDOUT)
            ;
        int stop = feed_stopping || (cancel && atomic_load(cancel));
        pthread_mutex_unlock(&feed_lock);
        if (stop)
            return 0;
    }
}

static void feed_get(const struct api_ctx *ctx, const struct api_req *req,
                     struct api_resp *resp)
{
    struct feed_query q;
    struct store_feed_event *ev = NULL;
    size_t n = 0;
    uint64_t last = 0;
    char err[160];
    int rc;

    if (feed_parse_query(req->args, req->n_args, (unsigned)ctx->conf->events_max_wait, &q, err,
                         sizeof err) != 0) {
        api_error(resp, 400, "bad_query", "%s", err);
        return;
    }
    rc = store_events_read(ctx->store, q.after, q.limit, &ev, &n, &last);
    if (rc == STORE_OK && n == 0 && q.wait_s > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)q.wait_s;
        atomic_fetch_add(&feed_waiting, 1);
        int again = feed_wait(ctx->store, q.after, &deadline, NULL);
        atomic_fetch_sub(&feed_waiting, 1);
        if (again)
            rc = store_events_read(ctx->store, q.after, q.limit, &ev, &n, &last);
    }
    if (rc != STORE_OK) {
        metrics_store_error();
        api_error(resp, 500, "store_error", "%s", store_strerror(rc));
        return;
    }
    json_t *arr = json_array(), *body = json_object();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, feed_event_json(&ev[i]));
    json_object_set_new(body, "events", arr);
    json_object_set_new(body, "next", json_integer((json_int_t)(n ? ev[n - 1].seq : q.after)));
    store_events_free(ev, n);
    api_json(resp, 200, body);
}

int feed_wait_for(store_t *st, uint64_t after, unsigned ms, _Atomic int *cancel)
{
    pthread_once(&feed_once, feed_init_cond);
    struct timespec deadline = deadline_in(CLOCK_MONOTONIC, ms);

    int rc = feed_wait(st, after, &deadline, cancel);
    pthread_mutex_lock(&feed_lock);
    if (rc == 0 && feed_stopping)
        rc = -1;
    pthread_mutex_unlock(&feed_lock);
    return rc;
}

void feed_kick(void)
{
    pthread_once(&feed_once, feed_init_cond);
    feed_wake(NULL);
}

void feed_metrics_write(FILE *fp, store_t *st)
{
    uint64_t last = 0;

    if (st != NULL && store_events_last(st, &last) == STORE_OK)
        fprintf(fp, "# HELP mailstate_events_last_seq Sequence number of the newest event.\n"
                "# TYPE mailstate_events_last_seq gauge\n"
                "mailstate_events_last_seq %llu\n", (unsigned long long)last);
    fprintf(fp, "# HELP mailstate_events_waiting GET /v1/events long polls waiting now.\n"
            "# TYPE mailstate_events_waiting gauge\n"
            "mailstate_events_waiting %ld\n", atomic_load(&feed_waiting));
    webhook_metrics_write(fp, last);
}

void feed_start(void)
{
    pthread_once(&feed_once, feed_init_cond);
    pthread_mutex_lock(&feed_lock);
    feed_stopping = 0;
    pthread_mutex_unlock(&feed_lock);
    store_events_set_hook(feed_wake, NULL);
    api_register(ROUTE_EVENTS, feed_get);
}

void feed_stop(void)
{
    pthread_once(&feed_once, feed_init_cond);
    pthread_mutex_lock(&feed_lock);
    feed_stopping = 1;
    pthread_cond_broadcast(&feed_cond);
    pthread_mutex_unlock(&feed_lock);
}
