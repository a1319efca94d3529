#ifndef MAILSTATE_FEED_H
#define MAILSTATE_FEED_H
/*
 * feed - GET /v1/events (issue 17): the event feed of store_events.h over
 * HTTP, with a long poll.
 *
 *   GET /v1/events?after=SEQ&limit=N&wait=S      (token scope "events")
 *   200 {"events": [EVENT...], "next": SEQ}
 *   EVENT = {"seq", "mail_id" (bare id), "sender", "recipient",
 *            "original_recipient" (only for a list/alias member), "event"
 *            (read | received | deleted_unread, or for a change merged
 *            from a peer the status it led to), "source" ("local" | "peer"),
 *            "status", "read_count", "time" (RFC 3339, when this server
 *            recorded it), "via"}
 *   after: events with seq > after (default 0); limit 1..1000 (100);
 *   wait 0..[events] max_wait seconds (0): with nothing after `after`, the
 *   answer waits until an event is durable or wait runs out (then
 *   "events": []).  next = the seq of the last event returned, or after.
 *   Only events known to be on disk are served (store_events.h,
 *   Durability), so a seq once seen is never given to another event.
 *   400 bad_query: a parameter that is not a plain decimal number, out of
 *   range, given twice, or unknown.
 *
 * The handler runs on a pool of its own ([events] max_waiters threads;
 * the HTTP layer answers 503 beyond that), never on a polling thread.  It
 * wakes on the hook store_events runs when the durable point moves (after
 * the settle of a commit of this process, not at the commit), and re-reads
 * the store every FEED_RECHECK_MS for writes by other processes (the read
 * then syncs for them: store_events.h).  feed_stop() (at shutdown) ends every wait at once.
 *
 * feed_event_json() is the EVENT object, shared with the webhooks.
 * feed_parse_query() is the pure parameter check (unit-tested).
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "store_events.h"

#define FEED_LIMIT_DEFAULT 100
#define FEED_LIMIT_MAX     1000
#define FEED_RECHECK_MS    1000

struct feed_query {
    uint64_t after;
    size_t   limit;
    unsigned wait_s;
};

/* 0, or -1 with a message for the 400 in err. */
int feed_parse_query(const struct api_arg *args, size_t n, unsigned max_wait_s,
                     struct feed_query *q, char *err, size_t errlen);

json_t *feed_event_json(const struct store_feed_event *e);

/* Prometheus lines: mailstate_events_last_seq (gauge, st may be NULL),
 * mailstate_events_waiting (long polls waiting now), and the webhooks'. */
#include <stdio.h>
void feed_metrics_write(FILE *fp, store_t *st);

/* Wait up to ms for an event after `after` (the webhooks' idle wait): 1 if
 * there may be one, 0 on timeout or *cancel set (cancel may be NULL), -1
 * after feed_stop() (returns at once: the caller must pace itself).  feed_kick() wakes every wait so it looks at *cancel. */
int  feed_wait_for(store_t *st, uint64_t after, unsigned ms, _Atomic int *cancel);
void feed_kick(void);

/* Registers the handler and the store's wake-up hook. */
void feed_start(void);
void feed_stop(void);

#endif
