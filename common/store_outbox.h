#ifndef MAILSTATE_STORE_OUTBOX_H
#define MAILSTATE_STORE_OUTBOX_H
/*
 * store_outbox - the outbox as state, not events (internal to the store;
 * the layout is in store.h).
 *
 * One pending item per (peer, mail, recipient): the forwarder always sends
 * the entry's current state, so a newer change of an entry that is already
 * queued replaces its item instead of adding one.  The index that finds
 * the queued item is the sub-database outbox_idx (MDB_DUPSORT):
 *   peer -> { ID(26) rcpt_key 0x00 SEQ(u64 BE) } one value per queued item
 * (an LMDB key is at most 511 bytes, too short for peer + ID + address, so
 * the peer is the key and the rest a sorted duplicate value; the NUL after
 * the address, which an address key never contains, makes "this address"
 * a prefix no other address shares).  The number of duplicates of a peer
 * is its outbox depth, which LMDB counts without a walk, so the per-peer
 * bound (store_opts.outbox_max) costs one lookup.
 *
 * Replacing gives the item a new sequence number at the tail (a forwarder
 * that is sending the old one then deletes only the old one, so the newer
 * state is sent next round and never lost) and keeps the old item's
 * queued_ms (the age of the oldest change not yet delivered).
 *
 * All functions run inside the caller's write transaction and return 0, a
 * STORE_E* code or a raw LMDB code (store_env maps it).
 */
#include <lmdb.h>
#include <stdint.h>

#include "store_env.h"

/*
 * Queue (id, rcpt) for peer.  An item already queued for the entry is
 * replaced.  If the entry has none and overflow is not NULL and the peer's
 * outbox holds st->outbox_max items (when set), nothing is queued and
 * *overflow is set to 1; otherwise *overflow is 0.
 */
int store_outbox_add_txn(store_t *st, MDB_txn *txn, const char *peer,
                         const char *id, const char *rcpt, uint64_t now_ms,
                         int *overflow);
/* Delete the outbox item under key k (peer 0x00 SEQ) and its index value;
 * a missing item is not an error.  With move set, the item's value is put
 * under the same key in moved_to first (parking). */
int store_outbox_del_txn(store_t *st, MDB_txn *txn, const MDB_val *k, MDB_dbi moved_to,
                         int move);
/* An item just put into the outbox under key k by other means (a parked
 * item released): index it, or, if its entry already has a queued item
 * (which sends the same current state), delete it again.  0 or an error. */
int store_outbox_adopt_txn(store_t *st, MDB_txn *txn, const MDB_val *k);
/* After a committed write whose change was not queued (overflow): count
 * it and log a rate-limited warning. */
void store_outbox_overflowed(store_t *st, const char *id, const char *rcpt,
                             const char *peer);
/* Drop index values whose outbox item is gone (after a sweep). */
int store_outbox_idx_sweep(store_t *st, MDB_txn *txn);
/* Schema 3 -> 4 (any older database): index every queued item, coalescing duplicates (the
 * newest item of an entry stays, the oldest one's queued_ms with it). */
int store_outbox_migrate_2(store_t *st, MDB_txn *txn);
/* Queued items of peer (0 if none). */
int store_outbox_depth_txn(store_t *st, MDB_txn *txn, const char *peer, size_t *depth);

#endif
