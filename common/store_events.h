#ifndef MAILSTATE_STORE_EVENTS_H
#define MAILSTATE_STORE_EVENTS_H
/*
 * store_events - the event feed (issue 17 item 3): one record per real
 * change of a recipient entry, numbered by a gapless sequence.
 *
 * Layout (see also store.h):
 *   events  SEQ(u64 BE) -> event record (version byte first, below)
 *   meta    "event_seq"  (u64 LE): the last sequence number handed out
 *           "webhook:NAME" (u64 LE): a webhook's durable cursor (the last
 *           sequence number it delivered)
 * The sub-database is created at open like every other (MDB_CREATE):
 * nothing to migrate, so no schema bump; an older program ignores it.
 *
 * store_events_append() runs INSIDE the write transaction that changed the
 * entry (store.c mark_fn, store_event.c ev_fn and member_fn call it once
 * each), so an event exists iff its change was committed, in commit order,
 * whatever the source (API or plugin reads, peers' syncs, member creation).
 * Callers append only when the entry really changed (a duplicate merge
 * appends nothing).  The sender is taken from the mail record in the same
 * transaction.
 *
 * Record (little-endian, strings as in store_rec.h: u32 length, 0xFFFFFFFF
 * = NULL):
 *   v(=1) u64 time_ms, u8 kind, u8 status, u32 read_count, ID(26),
 *         str sender, str recipient, str original_recipient, str via
 * kind: STORE_EV_READ / _RECEIVED / _DELETED_UNREAD (store.h) for a change
 * reported to this server, STORE_EVK_MERGE for a peer's entry merged here.
 * Decoding is strict: a short, overlong or unknown-version record is -1.
 *
 * Readers: store_events_read() returns events with seq > after, oldest
 * first, at most max, and *last = the newest seq a reader may see (0 if
 * none; see Durability), so a caller can tell "nothing new" from "pruned
 * past".  store_events_last() is that *last alone.  Results are owned by
 * the caller (store_events_free).
 *
 * Durability: readers are served only events known to be on disk, so no
 * seq handed out can be rolled back by a power cut and given to another
 * event.  With group commit (MDB_NOMETASYNC, store.h) a commit is visible
 * to readers before its meta page is synced; each handle therefore keeps a
 * durable point D (the event_seq of its newest commit known synced: moved
 * by the settle of each batch, by every commit without group commit, and
 * at open, which syncs) and reads stop at D.  The rule
 * store_events_servable() (pure) decides, from the snapshot's newest seq N:
 *   N <= D                      serve up to N;
 *   N > D, a write of this handle running (store_env_write* in progress)
 *                               serve up to D: the events past it are ours
 *                               or will be covered by our settle, which
 *                               moves D and runs the hook;
 *   N > D, no write running     another process committed them (the tracker
 *                               alone appends events today; the milter and
 *                               mailstatectl only add sent entries or delete
 *                               events, but a tool may): whatever its sync
 *                               flags, one fdatasync of data.mdb by this
 *                               process (store_sync_now: the page cache is
 *                               shared) makes every commit it saw durable;
 *                               the reader does that (once: concurrent
 *                               readers find D moved) and serves up to N.
 * A failed sync serves up to D and is logged.  Erasure and pruning delete
 * events below N and are no concern (a deleted seq is never reused).
 *
 * Retention: store_events_prune() deletes events recorded before before_ms,
 * oldest first, at most batch per transaction (the tracker's retention
 * thread calls it with min(retention, [events] keep)).  Erasure:
 * store_events_erase_addr() runs inside store_erase_address's transaction
 * and deletes every event naming the address as sender, recipient or
 * original recipient (a scan of the feed, which retention keeps short).
 *
 * Wake-up: store_env calls store_events_committed() after every write
 * (ours settled, or failed); when D moved since the last call it runs the
 * hook set with store_events_set_hook() (process-wide; the tracker's long
 * poll sets it).  So the hook means "new durable events", never merely
 * "committed".  It runs on the writer's (or syncing reader's) thread and
 * must not block.  Writes by other processes are not seen this way:
 * waiters re-read the store periodically (which runs the rule above).
 */
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_rec.h"

#define STORE_EVENTS_VERSION 1
#define STORE_EVK_MERGE 3

struct store_feed_event {
    uint64_t seq;
    uint64_t time_ms;               /* when this server recorded the change */
    int      kind;                  /* STORE_EV_* or STORE_EVK_MERGE */
    int      status;                /* entry status after the change */
    uint32_t read_count;            /* after the change */
    char     id[MAILID_ID_LEN + 1]; /* bare mail id */
    char    *sender;                /* NULL if the mail record was missing */
    char    *recipient;
    char    *original_recipient;    /* NULL = none */
    char     via[16];
};

/* Pure codec (unit-tested). */
void store_events_encode(struct store_rec_buf *b, const struct store_feed_event *e);
int  store_events_decode(const void *data, size_t len, uint64_t seq,
                         struct store_feed_event *out);
void store_feed_event_clear(struct store_feed_event *e);

/* Name of an event as the feed shows it: "read", "received",
 * "deleted_unread", or for a merge the status it led to. */
const char *store_events_name(const struct store_feed_event *e);

/* Inside a write transaction (store-internal callers). */
int store_events_append(store_t *st, MDB_txn *txn, int kind, const char *id,
                        const struct store_rcpt *after, uint64_t now_ms);
int store_events_erase_addr(store_t *st, MDB_txn *txn, const char *addr);

int  store_events_read(store_t *st, uint64_t after, size_t max,
                       struct store_feed_event **out, size_t *n, uint64_t *last);
void store_events_free(struct store_feed_event *ev, size_t n);
/* The newest sequence number (0 = no event yet). */
int  store_events_last(store_t *st, uint64_t *seq);
int  store_events_prune(store_t *st, uint64_t before_ms, size_t batch, size_t *pruned);

/* A webhook's cursor ("webhook:" name, name 1..64 bytes); 0 if never set. */
int store_events_cursor_get(store_t *st, const char *name, uint64_t *seq);
int store_events_cursor_set(store_t *st, const char *name, uint64_t seq);

void store_events_set_hook(void (*fn)(void *arg), void *arg);

/* Pure: how far a reader may serve (see Durability).  newest: the
 * snapshot's event_seq; durable: the handle's D; writing: a write of the
 * handle is running.  *sync = 1 when a sync would make newest servable. */
uint64_t store_events_servable(uint64_t newest, uint64_t durable, int writing, int *sync);

/* Store-internal (store_env, store_sync). */
int  store_events_txn_seq(store_t *st, MDB_txn *txn, uint64_t *seq); /* event_seq in txn */
void store_events_durable(store_t *st, uint64_t seq);   /* events <= seq are on disk */
void store_events_committed(store_t *st);               /* after each write: the hook */

#endif
