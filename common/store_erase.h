#ifndef MAILSTATE_STORE_ERASE_H
#define MAILSTATE_STORE_ERASE_H
/*
 * store_erase - erasure of an address (design §9, issue 16) in bounded
 * transactions, and the queue of erasures the peers still have to be told
 * about.
 *
 * Erasure (store_erase_until; store_erase_address in store.h is the same
 * with no time bound) removes, for the address key A:
 *   - every mail whose sender is A (by_sender), whole;
 *   - every mail whose SMTP AUTH login is A, compared exactly (by_login):
 *     a mail A submitted under another sender address is A's mail too;
 *   - A's own recipient entry of every mail (by_rcpt); the mail stays for
 *     its sender and the other recipients;
 *   - then, in a last transaction, every outbox and parked item whose entry
 *     is gone (so A's address does not stay behind in the outbox).
 * Only mails whose id time is before before_ms (0 = no bound) are touched:
 * a peer told late (it was down) must not erase what A received after the
 * request.  Each transaction handles at most STORE_ERASE_BATCH index
 * entries, so an erasure of any size works on a store at map_size_max
 * (deletions may use the map reserve, store.h "Map size") and never holds
 * LMDB's writer lock (the milter's too) for long.  *erased counts mails
 * and recipient entries removed.  An error after some batches leaves those
 * erased (*erased says how many): running it again finishes the job.
 *
 * The erasure queue (sub-database "erasures", created at open; nothing to
 * migrate):  peer 0x00 SEQ(u64 BE) -> 0x01, requested_ms (u64 LE), A
 * SEQ comes from meta "erasure_seq" (u64 LE), so items of one peer keep
 * their order.  At most one item per (peer, address): queueing it again
 * replaces the old one (with the newer request time).  The tracker's
 * forwarder sends a peer's erasures first in each round, on a backoff of
 * their own (forwarder.h: order does not matter).
 * Queueing uses the map reserve too: an erasure must be possible on a
 * full store, and it is what frees the space.
 *
 * Conventions of store.h: 0 or a STORE_E* code, results allocated here and
 * freed with store_erasure_free, writes durable when they return.
 */
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_ERASE_BATCH 64

int store_erase_until(store_t *st, const char *addr_key, uint64_t before_ms,
                      size_t *erased);

struct store_erasure {
    char     *peer;
    uint64_t  seq;
    uint64_t  requested_ms;
    char     *address;
};

/* Queue an erasure of addr_key for each of peers[0..n-1] (one transaction). */
int store_erasure_queue(store_t *st, const char *addr_key, const char *const *peers,
                        size_t n, uint64_t requested_ms);
/* Up to max oldest items of peer (NULL = every peer, by peer then seq). */
int store_erasure_peek(store_t *st, const char *peer, size_t max,
                       struct store_erasure **items, size_t *n);
void store_erasure_free(struct store_erasure *items, size_t n);
/* Remove delivered items; unknown seqs are ignored. */
int store_erasure_delete(store_t *st, const char *peer, const uint64_t *seqs, size_t n);
/* Items waiting for peer and the request time of the oldest (0 if none). */
int store_erasure_stats(store_t *st, const char *peer, size_t *depth, uint64_t *oldest_ms);

#endif
