#ifndef MAILSTATE_METRICS_H
#define MAILSTATE_METRICS_H
/*
 * metrics - the tracker's counters, exposed in the Prometheus text format
 * (version 0.0.4) at GET /metrics.
 *
 * Process-wide, lock-free (relaxed atomics): safe from any thread, cheap on
 * the request path.  metrics_render() returns an allocated text (caller
 * frees) with:
 *   mailstate_http_requests_total{route,code}     counter
 *   mailstate_http_request_duration_seconds       histogram (all routes)
 *   mailstate_reads_recorded_total{event}         counter (read, received, deleted_unread)
 *   mailstate_events_unmatched_total{reason}      counter (unknown_mail, unknown_recipient,
 *                                                 not_local, bad_mac)
 *   mailstate_member_entries_created_total        counter
 *   mailstate_reads_ignored_total{reason}         counter (opt_out, tracking_off)
 *   mailstate_store_errors_total                  counter
 *   mailstate_store_map_size_bytes, _map_used_bytes, _commits_total,
 *   _writes_total, mailstate_outbox_overflow_total from store_stats (if st)
 *   mailstate_http_in_flight                      gauge
 *   and the peer sync's (peer_metrics_write: outbox depth/age, forwards
 *   per peer, syncs refused by reason; docs/sync.md), and the event feed's
 *   (feed_metrics_write: mailstate_events_last_seq, _events_waiting, and
 *   per webhook mailstate_webhook_backlog{webhook}, _delivered_total,
 *   _failures_total)
 */
#include <stddef.h>
#include <stdint.h>

#include "evapply.h"
#include "store.h"

enum metrics_event { METRICS_READ = 0, METRICS_DELETED_UNREAD = 1, METRICS_RECEIVED = 2,
                     METRICS_EVENTS = 3 };
/* Events the tracker could not match to an entry (design §11: nothing is
 * dropped silently; each is logged at info too). */
enum metrics_unmatched { METRICS_UM_UNKNOWN_MAIL = 0, METRICS_UM_UNKNOWN_RECIPIENT = 1,
                         METRICS_UM_NOT_LOCAL = 2, METRICS_UM_BAD_MAC = 3,
                         METRICS_UM_COUNT = 4 };
enum metrics_ignored { METRICS_OPT_OUT = 0, METRICS_TRACKING_OFF = 1 };

/* One finished request: route (ROUTE_*), HTTP status, duration in µs. */
void metrics_request(int route, unsigned code, uint64_t usec);
void metrics_recorded(enum metrics_event ev);
void metrics_ignored(enum metrics_ignored why);
void metrics_unmatched(enum metrics_unmatched why);
void metrics_lookup(int waited);        /* GET /v1/mails/{id}: 0 direct, 1 waited */
void metrics_member_created(void);    /* a list/alias member got its own entry */
void metrics_store_error(void);
void metrics_in_flight(int delta);

char *metrics_render(store_t *st, size_t *len);
/* The event log whose figures /metrics shows (NULL: none). */
void metrics_set_evapply(evapply_t *ev);

#endif
