#ifndef MAILSTATE_STORE_SYNC_H
#define MAILSTATE_STORE_SYNC_H
/*
 * store_sync - when a group commit is durable (internal to the store).
 *
 * A group-commit handle opens LMDB with MDB_NOMETASYNC: a commit syncs its
 * data pages, then writes the meta page without syncing it.  The next
 * commit's data sync (fdatasync of the same file, by any thread or process)
 * makes that meta page durable; so does mdb_env_sync(env, 1).  The committer
 * therefore answers a batch only once a later commit was published (a later
 * meta page can only be written after its data sync succeeded) or an
 * explicit sync succeeded (store_gc.h, settle).
 *
 * A failing commit complicates this: was the earlier meta page synced?
 * store_sync_commit_failed() sorts the failure:
 *  - LMDB marked the environment dead: the failure was in the meta page
 *    write, which LMDB does only after the data sync succeeded, so every
 *    earlier commit is durable (durable_txnid);
 *  - LMDB's own codes (MDB_MAP_FULL while saving the free list...) and
 *    ENOMEM come before anything is written; the disk refusing a write
 *    (ENOSPC, EDQUOT, EFBIG, or a short write, which LMDB reports as EIO,
 *    with the disk or RLIMIT_FSIZE nearly reached) happens at write(),
 *    before any sync: in both cases a later explicit sync tells the truth;
 *  - anything else (EIO): the data sync itself may have failed.  Linux
 *    reports a writeback error to each open file once, so a later sync could
 *    return 0 although the earlier meta page never reached the disk.  Such a
 *    failure taints every batch run before it was settled: their callers get
 *    STORE_EIO although their changes may well be on disk (a false failure
 *    on a failing disk rather than a false success).
 *
 * store_sync_commit_failed(st, rc): a top-level mdb_txn_commit returned
 * rc; call with st->maplock held shared and st->env the environment that
 * failed.  store_sync_settle(): the gc's settle function (store_gc.h), ctx
 * the store_t; may call mdb_env_sync.  store_sync_disk_low(): 1 if the file
 * system has less than 4 MiB free or data.mdb is within 4 MiB of
 * RLIMIT_FSIZE (an EIO from a write is then a short write: a full disk).
 * A successful settle also moves the event feed's durable point to the
 * event_seq its batch committed (store_events_durable).
 *
 * store_sync_now(): fdatasync data.mdb now (mdb_env_sync force), for any
 * thread; every commit visible before the call, by any process, is then on
 * disk (the page cache is shared).  STORE_OK or STORE_EIO (logged, and it
 * taints like a failed settle).
 */
#include "store_env.h"

int store_sync_disk_low(const store_t *st);
void store_sync_commit_failed(store_t *st, int rc);
int store_sync_settle(void *ctx, const struct store_gc_mark *mark);
int store_sync_now(store_t *st);

#endif
