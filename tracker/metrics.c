/*
 * metrics - Prometheus counters (see metrics.h).
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "peer.h"
#include "route.h"
#include "log.h"
#include "me.h"

#define METRICS_CODES 600   /* HTTP status codes 0..599, indexed directly */

/* Upper bounds of the latency buckets, in µs (+Inf is implicit). */
static const uint64_t metrics_bounds_us[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000
};
#define METRICS_NBUCKETS (sizeof metrics_bounds_us / sizeof metrics_bounds_us[0])

static _Atomic uint64_t metrics_req[ROUTE_COUNT][METRICS_CODES];
static _Atomic uint64_t metrics_bucket[METRICS_NBUCKETS + 1];
static _Atomic uint64_t metrics_sum_us;
static _Atomic uint64_t metrics_count;
static _Atomic uint64_t metrics_rec[METRICS_EVENTS];
static _Atomic uint64_t metrics_um[METRICS_UM_COUNT];
static _Atomic uint64_t metrics_members;
static _Atomic uint64_t metrics_lookups[2];     /* answered at once, waited */
static _Atomic uint64_t metrics_ign[2];
static _Atomic uint64_t metrics_store_err;
static _Atomic long long metrics_flight;
static evapply_t *_Atomic metrics_ev;

void metrics_set_evapply(evapply_t *ev)
{
    atomic_store(&metrics_ev, ev);
}

/* The event log (issue 17): how far the mail log is behind the answers. */
static void metrics_evlog_write(FILE *fp)
{
    evapply_t *ev = atomic_load(&metrics_ev);
    struct evapply_stats s;

    if (ev == NULL)
        return;
    evapply_stats(ev, &s);
    fprintf(fp, "# HELP mailstate_evlog_lag Events acknowledged but not yet in the mail log.\n"
                "# TYPE mailstate_evlog_lag gauge\nmailstate_evlog_lag %llu\n"
                "# HELP mailstate_evlog_appended Number of the last event appended.\n"
                "# TYPE mailstate_evlog_appended gauge\nmailstate_evlog_appended %llu\n"
                "# HELP mailstate_evlog_applied Number of the last event in the mail log.\n"
                "# TYPE mailstate_evlog_applied gauge\nmailstate_evlog_applied %llu\n"
                "# HELP mailstate_evlog_syncs_total Groups of events written with one fdatasync.\n"
                "# TYPE mailstate_evlog_syncs_total counter\nmailstate_evlog_syncs_total %llu\n"
                "# HELP mailstate_evlog_sync_seconds_total Time in their write and fdatasync.\n"
                "# TYPE mailstate_evlog_sync_seconds_total counter\n"
                "mailstate_evlog_sync_seconds_total %.6f\n"
                "# HELP mailstate_evlog_sync_max_seconds The longest of them.\n"
                "# TYPE mailstate_evlog_sync_max_seconds gauge\n"
                "mailstate_evlog_sync_max_seconds %.6f\n"
                "# HELP mailstate_evlog_apply_batches_total Mail log transactions applying events.\n"
                "# TYPE mailstate_evlog_apply_batches_total counter\n"
                "mailstate_evlog_apply_batches_total %llu\n"
                "# HELP mailstate_evlog_apply_max_seconds Longest such transaction.\n"
                "# TYPE mailstate_evlog_apply_max_seconds gauge\n"
                "mailstate_evlog_apply_max_seconds %.3f\n"
                "# HELP mailstate_evlog_apply_errors_total Failed apply transactions (retried).\n"
                "# TYPE mailstate_evlog_apply_errors_total counter\n"
                "mailstate_evlog_apply_errors_total %llu\n"
                "# HELP mailstate_evlog_busy_total Reads answered 503 for the lag bound.\n"
                "# TYPE mailstate_evlog_busy_total counter\nmailstate_evlog_busy_total %llu\n",
            (unsigned long long)s.lag, (unsigned long long)s.appended,
            (unsigned long long)s.applied, (unsigned long long)s.groups,
            (double)s.sync_us / 1e6, (double)s.sync_max_us / 1e6,
            (unsigned long long)s.batches, (double)s.batch_max_ms / 1000.0,
            (unsigned long long)s.apply_errors, (unsigned long long)s.busy);
}

void metrics_request(int route, unsigned code, uint64_t usec)
{
    size_t b = 0;

    if (route < 0 || route >= ROUTE_COUNT)
        route = ROUTE_NONE;
    if (code >= METRICS_CODES)
        code = 0;
    atomic_fetch_add_explicit(&metrics_req[route][code], 1, memory_order_relaxed);
    while (b < METRICS_NBUCKETS && usec > metrics_bounds_us[b])
        b++;
    /* Non-cumulative here; metrics_render() sums them up. */
    atomic_fetch_add_explicit(&metrics_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics_sum_us, usec, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics_count, 1, memory_order_relaxed);
}

void metrics_recorded(enum metrics_event ev)
{
    if ((unsigned)ev < METRICS_EVENTS)
        atomic_fetch_add_explicit(&metrics_rec[ev], 1, memory_order_relaxed);
}

void metrics_unmatched(enum metrics_unmatched why)
{
    if ((unsigned)why < METRICS_UM_COUNT)
        atomic_fetch_add_explicit(&metrics_um[why], 1, memory_order_relaxed);
}

void metrics_lookup(int waited)
{
    atomic_fetch_add_explicit(&metrics_lookups[waited != 0], 1, memory_order_relaxed);
}

void metrics_member_created(void)
{
    atomic_fetch_add_explicit(&metrics_members, 1, memory_order_relaxed);
}

void metrics_ignored(enum metrics_ignored why)
{
    atomic_fetch_add_explicit(&metrics_ign[why & 1], 1, memory_order_relaxed);
}

void metrics_store_error(void)
{
    atomic_fetch_add_explicit(&metrics_store_err, 1, memory_order_relaxed);
}

void metrics_in_flight(int delta)
{
    atomic_fetch_add_explicit(&metrics_flight, delta, memory_order_relaxed);
}

static uint64_t metrics_load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

char *metrics_render(store_t *st, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);
    uint64_t cum = 0;

    /* open_memstream fails only without memory: xmem's policy is to die. */
    if (fp == NULL)
        log_panic("metrics: out of memory");
    fputs("# HELP mailstate_http_requests_total HTTP requests by route and status code.\n"
          "# TYPE mailstate_http_requests_total counter\n", fp);
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (unsigned c = 0; c < METRICS_CODES; c++) {
            uint64_t n = metrics_load(&metrics_req[r][c]);
            if (n != 0)
                fprintf(fp, "mailstate_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                        route_name(r), c, (unsigned long long)n);
        }

    fputs("# HELP mailstate_http_request_duration_seconds Time from request line to response.\n"
          "# TYPE mailstate_http_request_duration_seconds histogram\n", fp);
    for (size_t b = 0; b < METRICS_NBUCKETS; b++) {
        cum += metrics_load(&metrics_bucket[b]);
        fprintf(fp, "mailstate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)metrics_bounds_us[b] / 1e6, (unsigned long long)cum);
    }
    cum += metrics_load(&metrics_bucket[METRICS_NBUCKETS]);
    fprintf(fp, "mailstate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)cum);
    fprintf(fp, "mailstate_http_request_duration_seconds_sum %.6f\n",
            (double)metrics_load(&metrics_sum_us) / 1e6);
    fprintf(fp, "mailstate_http_request_duration_seconds_count %llu\n",
            (unsigned long long)metrics_load(&metrics_count));

    fprintf(fp, "# HELP mailstate_reads_recorded_total Read notifications written to the mail log.\n"
            "# TYPE mailstate_reads_recorded_total counter\n"
            "mailstate_reads_recorded_total{event=\"read\"} %llu\n"
            "mailstate_reads_recorded_total{event=\"received\"} %llu\n"
            "mailstate_reads_recorded_total{event=\"deleted_unread\"} %llu\n",
            (unsigned long long)metrics_load(&metrics_rec[METRICS_READ]),
            (unsigned long long)metrics_load(&metrics_rec[METRICS_RECEIVED]),
            (unsigned long long)metrics_load(&metrics_rec[METRICS_DELETED_UNREAD]));
    fprintf(fp, "# HELP mailstate_events_unmatched_total Events refused: no entry matched.\n"
            "# TYPE mailstate_events_unmatched_total counter\n");
    static const char *const um_names[METRICS_UM_COUNT] = {
        "unknown_mail", "unknown_recipient", "not_local", "bad_mac" };
    for (int i = 0; i < METRICS_UM_COUNT; i++)
        fprintf(fp, "mailstate_events_unmatched_total{reason=\"%s\"} %llu\n", um_names[i],
                (unsigned long long)metrics_load(&metrics_um[i]));
    fprintf(fp, "# HELP mailstate_member_entries_created_total List or alias members given "
            "their own entry.\n"
            "# TYPE mailstate_member_entries_created_total counter\n"
            "mailstate_member_entries_created_total %llu\n",
            (unsigned long long)metrics_load(&metrics_members));
    fprintf(fp, "# HELP mailstate_lookups_total Single-mail lookups: answered on the polling "
            "thread, or waited on the query pool for the mail's pending events.\n"
            "# TYPE mailstate_lookups_total counter\n"
            "mailstate_lookups_total{path=\"direct\"} %llu\n"
            "mailstate_lookups_total{path=\"waited\"} %llu\n",
            (unsigned long long)metrics_load(&metrics_lookups[0]),
            (unsigned long long)metrics_load(&metrics_lookups[1]));
    fprintf(fp, "# HELP mailstate_reads_ignored_total Read notifications acknowledged, not recorded.\n"
            "# TYPE mailstate_reads_ignored_total counter\n"
            "mailstate_reads_ignored_total{reason=\"opt_out\"} %llu\n"
            "mailstate_reads_ignored_total{reason=\"tracking_off\"} %llu\n",
            (unsigned long long)metrics_load(&metrics_ign[METRICS_OPT_OUT]),
            (unsigned long long)metrics_load(&metrics_ign[METRICS_TRACKING_OFF]));
    fprintf(fp, "# HELP mailstate_store_errors_total Mail log operations that failed.\n"
            "# TYPE mailstate_store_errors_total counter\n"
            "mailstate_store_errors_total %llu\n",
            (unsigned long long)metrics_load(&metrics_store_err));
    fprintf(fp, "# HELP mailstate_http_in_flight Requests being handled now.\n"
            "# TYPE mailstate_http_in_flight gauge\n"
            "mailstate_http_in_flight %lld\n",
            atomic_load_explicit(&metrics_flight, memory_order_relaxed));

    struct store_stats ss;
    if (st != NULL && store_stats(st, &ss) == STORE_OK)
        fprintf(fp, "# TYPE mailstate_store_map_size_bytes gauge\n"
                "mailstate_store_map_size_bytes %zu\n"
                "# TYPE mailstate_store_map_used_bytes gauge\n"
                "mailstate_store_map_used_bytes %zu\n"
                "# TYPE mailstate_store_commits_total counter\n"
                "mailstate_store_commits_total %llu\n"
                "# TYPE mailstate_store_writes_total counter\n"
                "mailstate_store_writes_total %llu\n"
                "# HELP mailstate_outbox_overflow_total Changes recorded but not queued for "
                "a peer: its outbox was at forward_max_queue.\n"
                "# TYPE mailstate_outbox_overflow_total counter\n"
                "mailstate_outbox_overflow_total %llu\n",
                ss.map_size, ss.map_used, (unsigned long long)ss.commits,
                (unsigned long long)ss.writes, (unsigned long long)ss.outbox_overflow);
    peer_metrics_write(fp);             /* outbox, forwards, refused syncs */
    metrics_evlog_write(fp);
    me_metrics_write(fp);               /* user password checks (issue 12) */
    feed_metrics_write(fp, st);         /* the event feed, webhooks (issue 17) */
    if (fclose(fp) != 0 || buf == NULL)
        log_panic("metrics: out of memory");
    *len = size;
    return buf;
}
