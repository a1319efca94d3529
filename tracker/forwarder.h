#ifndef MAILSTATE_FORWARDER_H
#define MAILSTATE_FORWARDER_H
/*
 * forwarder - sends the outbox to the peers' POST /v1/sync (design §7).
 *
 * One thread per peer (every [server] of the system other than this one that
 * has a tracker URL), so a peer that is down never delays another.  Each
 * thread loops:
 *   first the peer's queued erasures (store_erase.h), up to 100 in one
 *   signed POST /v1/erase (erase.h); 2xx deletes them, 400 413 422 drops
 *   them with an error line, anything else is retried on a backoff of
 *   their own (as below), and the outbox goes on meanwhile: order does
 *   not matter, since the peer erases only mails created before the
 *   request, and an entry queued here after it is either of such a mail
 *   (which the erasure here removed first, so none is queued) or of a
 *   later one, which the erasure leaves alone; then
 *   peek up to batch_max oldest items for its peer (store_outbox_peek),
 *   sign them (sync.h) and POST them with libcurl, then
 *   - 2xx: delete them (store_outbox_delete); go on at once;
 *   - 400 413 422 (the body will never be taken): if the batch held more
 *     than one item, retry one item at a time so only the item that causes
 *     it is parked; a single item is parked (store_outbox_park) and counted;
 *   - anything else (5xx, 401 403 404 = a key or server list that differs
 *     between the servers, 408, 409, 429, connect error, timeout): keep the
 *     items, wait an exponential backoff with jitter
 *       d = min(backoff_max, backoff_min * 2^(failures-1)), wait in [d/2, d]
 *     and retry with a new timestamp and signature;
 *   - an empty outbox: sleep until fwd_kick() or poll_ms.
 * A kick during a backoff does not cut it short (no hammering a dead peer).
 * Items leave the outbox only after a 2xx or by parking, and the outbox is
 * in the durable store, so a restart resumes where the last run stopped;
 * the receiver's merge is idempotent, so an item sent twice does no harm.
 *
 * fwd_stop() wakes every thread, aborts a request in flight (libcurl
 * progress callback) and joins them; nothing is lost, the items stay queued.
 *
 * Thread-safety: fwd_kick and the stats/metrics functions may be called from
 * any thread between fwd_start and fwd_stop.  Call fwd_start before the
 * process starts other threads that use libcurl (it runs curl_global_init).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "store.h"

struct fwd_opts {
    size_t   batch_max;           /* items per request; 0 = 100 */
    unsigned backoff_min_ms;      /* first retry delay; 0 = 1000 */
    unsigned backoff_max_ms;      /* cap of the delay; 0 = 60000 */
    unsigned connect_timeout_ms;  /* 0 = 5000 */
    unsigned timeout_ms;          /* whole request; 0 = 30000 */
    unsigned poll_ms;             /* look at an idle outbox this often; 0 = 30000 */
};

typedef struct fwd fwd_t;

/* Starts the threads; conf is referenced until fwd_stop; st must outlive it. */
fwd_t *fwd_start(struct conf *conf, store_t *st, const struct fwd_opts *opts);

/* New items for peer (NULL = every peer).  f may be NULL (no-op). */
void fwd_kick(fwd_t *f, const char *peer);

/* A reloaded config: the key and this server's name sign the next request
 * (peers, URLs and options stay those of fwd_start).  Takes its own
 * reference.  f may be NULL. */
void fwd_set_conf(fwd_t *f, struct conf *conf);

/* Stops and joins every thread; returns NULL.  f may be NULL. */
fwd_t *fwd_stop(fwd_t *f);

struct fwd_peer_stats {
    uint64_t attempts;       /* requests sent */
    uint64_t failures;       /* requests that ended in a retry */
    uint64_t sent;           /* items the peer took (2xx) */
    uint64_t refused;        /* of those, entries the peer counted as refused */
    uint64_t parked;         /* items parked by this process */
    size_t   depth;          /* outbox now */
    uint64_t oldest_ms;      /* enqueue time of the oldest item (0 = empty) */
    size_t   parked_total;   /* parked items in the store */
    size_t   erasures;       /* erasures waiting (store_erase.h) */
    uint64_t erasures_sent;  /* erasures the peer took */
    uint64_t erasures_dropped; /* erasures the peer refused for good */
};

/* 0, or -1 if peer is not one this forwarder serves, or a store error. */
int fwd_peer_stats(fwd_t *f, const char *peer, struct fwd_peer_stats *out);

/* Prometheus text for every peer (outbox depth/age, forwards per peer). */
void fwd_metrics_write(fwd_t *f, FILE *fp);

#endif
