/*
 * store_sync - durability of the pipelined group commit; see store_sync.h.
 */
#include "store_sync.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "log.h"
#include "store_events.h"

/* Below this much room an EIO from a commit is taken for a full disk. */
#define STORE_DISK_LOW ((uint64_t)4 << 20)

int store_sync_disk_low(const store_t *st)
{
    struct statvfs vfs;
    struct rlimit rl;
    struct stat sb;
    char path[4096];

    if (statvfs(st->path, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < STORE_DISK_LOW)
        return 1;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    snprintf(path, sizeof(path), "%s/data.mdb", st->path);
    return stat(path, &sb) == 0 && (uint64_t)sb.st_size + STORE_DISK_LOW > rl.rlim_cur;
}

void store_sync_commit_failed(store_t *st, int rc)
{
    MDB_txn *probe;
    int prc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &probe);

    if (prc == 0)
        mdb_txn_abort(probe);
    if (prc == MDB_PANIC) {
        MDB_envinfo info;
        mdb_env_info(st->env, &info);
        uint64_t upto = (uint64_t)info.me_last_txnid;
        uint64_t have = atomic_load(&st->durable_txnid);
        while (have < upto && !atomic_compare_exchange_weak(&st->durable_txnid, &have, upto))
            ;
        return;
    }
    if (rc < 0 || rc == ENOMEM || rc == ENOSPC || rc == EDQUOT || rc == EFBIG ||
        (rc == EIO && store_sync_disk_low(st)))
        return;                         /* LMDB's own codes: before any write */
    atomic_fetch_add(&st->taint, 1);
}

/* The batch's commit is on disk: so are the events it carried.  (Before
 * its submitters are woken, so their hook call sees the new point.) */
static int settled(store_t *st, const struct store_gc_mark *mark)
{
    store_events_durable(st, mark->ev_seq);
    return STORE_OK;
}

int store_sync_settle(void *ctx, const struct store_gc_mark *mark)
{
    store_t *st = ctx;
    MDB_envinfo info = { .me_last_txnid = 0 };
    int rc;

    if (atomic_load(&st->taint) != mark->taint)
        return STORE_EIO;               /* a sync failed after it: unknown */
    if (atomic_load(&st->durable_txnid) >= mark->txnid)
        return settled(st, mark);
    pthread_rwlock_rdlock(&st->maplock);
    if (st->env != NULL)
        mdb_env_info(st->env, &info);
    if ((uint64_t)info.me_last_txnid > mark->txnid) {
        pthread_rwlock_unlock(&st->maplock);
        return settled(st, mark);       /* a later commit synced its data */
    }
    rc = st->env ? mdb_env_sync(st->env, 1) : MDB_PANIC;
    pthread_rwlock_unlock(&st->maplock);
    if (rc != 0) {
        log_error("store %s: sync: %s", st->path, mdb_strerror(rc));
        atomic_fetch_add(&st->taint, 1);
        return STORE_EIO;
    }
    uint64_t have = atomic_load(&st->durable_txnid);
    while (have < (uint64_t)info.me_last_txnid &&
           !atomic_compare_exchange_weak(&st->durable_txnid, &have,
                                         (uint64_t)info.me_last_txnid))
        ;
    return settled(st, mark);
}

int store_sync_now(store_t *st)
{
    pthread_rwlock_rdlock(&st->maplock);
    int rc = st->env ? mdb_env_sync(st->env, 1) : MDB_PANIC;
    pthread_rwlock_unlock(&st->maplock);
    if (rc != 0) {
        log_error("store %s: sync: %s", st->path, mdb_strerror(rc));
        atomic_fetch_add(&st->taint, 1);    /* may hide a writeback error */
        return STORE_EIO;
    }
    return STORE_OK;
}

