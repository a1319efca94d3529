#ifndef MAILSTATE_WEBHOOK_H
#define MAILSTATE_WEBHOOK_H
/*
 * webhook - outgoing webhooks of the event feed (issue 17): one thread per
 * [webhook NAME] section POSTs the feed's events (store_events.h) to url.
 *
 * Delivery: the thread keeps a durable cursor (meta "webhook:NAME", the
 * last seq delivered or skipped).  It reads up to WEBHOOK_BATCH events
 * after the cursor, keeps those whose event name is in `events`, and POSTs
 *   {"webhook": NAME, "events": [EVENT...]}       (EVENT as feed.h)
 * with headers
 *   Content-Type: application/json
 *   Mailstate-Signature: t=UNIX,v1=HEX     (whsig.h, signed at each try)
 *   Mailstate-Delivery: NAME-FIRST-LAST    (seqs of the batch; a retry of
 *                                           the same batch has the same id)
 * A 2xx answer moves the cursor past the batch (then it is durable); any
 * other answer, a timeout or a connection error keeps it and retries the
 * same batch after 1 s, 2 s, 4 s ... up to [events] webhook_backoff_max.
 * So each event arrives at least once (a crash between the 2xx and the
 * cursor's commit resends the batch), in sequence order (global order, so
 * per mail too), and none is skipped while the receiver is down, unless
 * the feed's retention pruned it first (logged: "events A..B pruned").  A
 * batch with nothing the webhook wants only moves the cursor.
 *
 * Idle threads wait on the feed's wake-up (feed_wait_for), so a new event
 * goes out at once.  Only http:// and https:// (conf checks the URL; libcurl
 * is limited to them, no redirects).
 *
 * Reload (SIGHUP, webhooks_reload): the running set is made the config's.
 * A hook whose settings are unchanged (url, secret, events, [events]
 * webhook_backoff_max and webhook_timeout) keeps running untouched.  A hook
 * no longer configured is stopped; one whose settings changed is stopped
 * and started again with the new ones (its counters go on); a new one is
 * started.  A stop aborts an attempt in progress (the batch is not marked
 * delivered, so the successor resends it) and is joined before any
 * successor starts.  A started hook takes its position from meta
 * "webhook:NAME", so a name keeps its position across reloads, removal
 * and restarts alike (a new name starts at the oldest kept event).  The
 * caller validates the config first (a bad one never gets here).
 * Like every feed reader, hooks see only durable events (store_events.h).
 *
 * Metrics (webhook_metrics_write, via feed_metrics_write):
 *   mailstate_webhook_backlog{webhook}        gauge: events after the cursor
 *                                             (last_seq - cursor)
 *   mailstate_webhook_delivered_total{webhook} counter: events delivered
 *   mailstate_webhook_failures_total{webhook}  counter: failed POSTs
 *
 * Pure parts (unit-tested): webhook_backoff_s(), webhook_wants(),
 * webhook_body().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "store_events.h"

#define WEBHOOK_BATCH 100

/* Seconds to wait after `failures` consecutive failures (>= 1): 1, 2, 4,
 * ... capped at max_s (>= 1). */
unsigned webhook_backoff_s(unsigned failures, unsigned max_s);
/* 1 if a webhook with these CONF_EV_* bits wants e. */
int webhook_wants(unsigned events, const struct store_feed_event *e);
/* The JSON body (allocated, NUL-terminated; *len without the NUL). */
char *webhook_body(const char *name, const struct store_feed_event *const *ev, size_t n,
                   size_t *len);

/* Starts a thread per webhook of c (c's data is copied). */
void webhooks_start(const struct conf *c, store_t *st);
/* Makes the running set c's (see Reload); from the thread that started
 * them, between webhooks_start and webhooks_stop. */
void webhooks_reload(const struct conf *c);
/* Stops them (an attempt in progress is aborted; its batch is resent at
 * the next start). */
void webhooks_stop(void);
void webhook_metrics_write(FILE *fp, uint64_t last_seq);

#endif
