/*
 * store_env - LMDB environment, transactions, group commit and map growth;
 * see store_env.h.
 *
 * Retry limits: a transaction is retried after the map grew or another
 * process resized it, at most STORE_RETRY_MAX times in a row.  Growth doubles
 * the map, so from 64 KiB even a 1 TiB limit is reached in 24 steps; more
 * retries than that mean something else is wrong, and the caller gets EIO
 * rather than a livelock.
 */
#include "store_env.h"
#include "store_sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store_events.h"
#include "store_me.h"
#include "store_outbox.h"
#include "store_schema5.h"
#include "xmem.h"

#define STORE_RETRY_MAX       64
#define STORE_DEFAULT_MAP     ((size_t)64 << 20)
#define STORE_DEFAULT_READERS 126

/* One queued write: what store_env_write hands to the committer. */
struct wop {
    store_txn_fn fn;
    void        *arg;
    int          frees;     /* a deletion: may use the reserve (map_limit) */
    int          internal;  /* not counted in the stats */
};

static int solo_run(store_t *st, struct wop *w);

static const char *const db_names[STORE_DB_COUNT] = {
    "mails", "rcpts", "by_sender", "rcpt_idx", "outbox", "parked", "meta",
    "by_login", "by_msgid",
    "replay",
    "outbox_idx",
    "events",               /* issue 17: the event feed (store_events.h) */
    "erasures",
};

/* Flags each sub-database is created with; LMDB keeps them on disk, and
 * every open passes the same ones. */
static const unsigned db_flags[STORE_DB_COUNT] = {
    [STORE_DB_OUTBOX_IDX] = MDB_DUPSORT,
    [STORE_DB_BY_RCPT] = MDB_DUPSORT | MDB_DUPFIXED,      /* schema 5 */
};

uint64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int store_env_err(int rc, const char *what)
{
    if (rc <= 0 && rc >= STORE_ECLOSED)
        return rc;                      /* already a store code */
    /* EFBIG: the file may not grow (RLIMIT_FSIZE, file system limits). */
    if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT || rc == EFBIG)
        return STORE_EFULL;
    log_error("store: %s: %s", what, mdb_strerror(rc));
    return STORE_EIO;
}

/*
 * A write transaction failed with rc.  LMDB turns a short write, which is
 * what a file system that is almost full gives (or a file about to pass the
 * process's RLIMIT_FSIZE), into EIO; with little room left that is a full
 * disk (STORE_EFULL, which callers know to expect), not a broken one.
 */
static int write_err(const store_t *st, int rc, const char *what)
{
    if (rc == EIO && store_sync_disk_low(st)) {
        log_error("store %s: %s: %s, and the disk (or file size limit) is (nearly) full",
                  st->path, what, mdb_strerror(rc));
        return STORE_EFULL;
    }
    return store_env_err(rc, what);
}

static size_t map_size_now(store_t *st)
{
    MDB_envinfo info;
    if (st->env == NULL)
        return 0;
    mdb_env_info(st->env, &info);
    return info.me_mapsize;
}

/*
 * Double the map (up to the limit), unless it already changed since the
 * failing transaction saw `seen`.  Returns 0 if the caller should retry,
 * -1 if the map is at its limit.
 */
static int map_grow(store_t *st, size_t seen, size_t limit)
{
    int rc = 0;

    pthread_rwlock_wrlock(&st->maplock);
    size_t cur = map_size_now(st);
    if (st->env == NULL) {
        rc = -1;
    } else if (cur == seen) {
        if (cur >= limit) {
            rc = -1;
        } else {
            size_t want = cur > limit / 2 ? limit : cur * 2;
            int mrc = mdb_env_set_mapsize(st->env, want);
            if (mrc != 0) {
                log_error("store %s: cannot grow the map to %zu bytes: %s",
                          st->path, want, mdb_strerror(mrc));
                rc = -1;
            } else {
                log_info("store %s: map grown from %zu to %zu bytes", st->path,
                         cur, map_size_now(st));
            }
        }
    }
    pthread_rwlock_unlock(&st->maplock);
    return rc;
}

/*
 * LMDB copies pages on write, so even a delete needs free pages: a map that
 * is full cannot be purged.  Deleting writes may therefore grow the map past
 * map_size_max by this reserve; afterwards the map is set back (LMDB clamps
 * it to the pages in use) so inserts never eat into the reserve.
 */
static size_t map_limit(const store_t *st, int frees)
{
    if (!frees)
        return st->map_size_max;
    size_t reserve = st->map_size_max / 8;
    if (reserve < ((size_t)1 << 20))
        reserve = (size_t)1 << 20;
    return st->map_size_max + reserve;
}

/* Set the map back to map_size_max after a deletion used the reserve. */
static void map_shrink_back(store_t *st)
{
    pthread_rwlock_rdlock(&st->maplock);
    int over = map_size_now(st) > st->map_size_max;
    pthread_rwlock_unlock(&st->maplock);
    if (!over)
        return;
    pthread_rwlock_wrlock(&st->maplock);
    if (st->env != NULL && map_size_now(st) > st->map_size_max) {
        int rc = mdb_env_set_mapsize(st->env, st->map_size_max);
        if (rc != 0)
            log_warn("store %s: cannot set the map back to %zu bytes: %s", st->path,
                     st->map_size_max, mdb_strerror(rc));
    }
    pthread_rwlock_unlock(&st->maplock);
}

/* A small real write: see map_settle. */
static int settle_fn(store_t *st, MDB_txn *txn, void *arg)
{
    unsigned char b[8];
    uint64_t now = store_now_ms();
    MDB_val k = { 6, (void *)"settle" }, v = { 8, b };
    (void)arg;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(now >> (8 * i));
    return mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
}

static uint64_t last_txnid(store_t *st)
{
    MDB_envinfo info = { .me_last_txnid = 0 };
    pthread_rwlock_rdlock(&st->maplock);
    if (st->env != NULL)
        mdb_env_info(st->env, &info);
    pthread_rwlock_unlock(&st->maplock);
    return (uint64_t)info.me_last_txnid;
}

/* *a = max(*a, v). */
static void seq_raise(atomic_uint_fast64_t *a, uint64_t v)
{
    uint64_t have = atomic_load(a);
    while (have < v && !atomic_compare_exchange_weak(a, &have, v))
        ;
}

/* The feed's event_seq in a write transaction about to commit (0 if it
 * cannot be read: the durable point then waits for the next commit). */
static uint64_t txn_event_seq(store_t *st, MDB_txn *txn)
{
    uint64_t seq = 0;
    return store_events_txn_seq(st, txn, &seq) == 0 ? seq : 0;
}

/*
 * A write found the map full at its limit.  Pages freed by a transaction
 * (a purge) are reusable only from the second transaction after it (LMDB
 * keeps the previous snapshot intact), so one small commit (which may use
 * the reserve) is made before the insert is tried a last time.
 * Returns 0 if the insert should be retried, -1 if not: when nobody (no
 * thread, no process) has committed since the last settle, another one
 * cannot free a page, and a full map must not cost every insert a synced
 * commit and two remaps (the milter keeps inserting while the map is full).
 */
static int map_settle(store_t *st)
{
    struct wop w = { settle_fn, NULL, 1, 1 };

    if (last_txnid(st) == atomic_load(&st->settled_at))
        return -1;
    if (solo_run(st, &w) != STORE_OK)
        log_warn("store %s: cannot settle the full map", st->path);
    atomic_store(&st->settled_at, last_txnid(st));
    map_shrink_back(st);
    return 0;
}

/* Another process grew the map: adopt its size (LMDB reads it from meta). */
static void map_adopt(store_t *st)
{
    pthread_rwlock_wrlock(&st->maplock);
    int rc = st->env ? mdb_env_set_mapsize(st->env, 0) : 0;
    if (rc != 0)
        log_warn("store %s: adopting the new map size: %s", st->path, mdb_strerror(rc));
    pthread_rwlock_unlock(&st->maplock);
}

/* Clear reader slots of dead processes; returns how many. */
static int readers_clear(store_t *st)
{
    int dead = 0, rc = -1;
    pthread_rwlock_rdlock(&st->maplock);
    if (st->env != NULL)
        rc = mdb_reader_check(st->env, &dead);
    pthread_rwlock_unlock(&st->maplock);
    if (rc == 0 && dead > 0)
        log_warn("store %s: cleared %d reader slots of dead processes", st->path, dead);
    return rc == 0 && dead > 0 ? dead : 0;
}

/* ---- the environment itself ---- */

/* Create and open st->env with a map of `map` bytes; 0 or an LMDB code. */
static int env_create(store_t *st, size_t map)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);

    if (rc != 0)
        return rc;
    rc = mdb_env_set_maxdbs(env, STORE_DB_COUNT + 1);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, map);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(env, st->max_readers);
    /* MDB_NOTLS: read transactions belong to their txn object, not to the
     * thread, so any thread may hold one while another thread writes (and a
     * thread's reader slot is not kept after the thread ends).  Without
     * group commit, default sync flags: a commit is on disk when
     * mdb_txn_commit returns.  With it, MDB_NOMETASYNC (one fdatasync per
     * commit instead of two); the committer restores durability (see
     * store_sync.h). */
    if (rc == 0)
        rc = mdb_env_open(env, st->path,
                          MDB_NOTLS | (st->nometasync ? MDB_NOMETASYNC : 0), 0600);
    if (rc != 0) {
        mdb_env_close(env);
        return rc;
    }
    st->env = env;
    return 0;
}

/* Handles of the (existing) sub-databases after a reopen. */
static int dbis_reopen(store_t *st)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);

    for (int i = 0; rc == 0 && i < STORE_DB_COUNT; i++)
        rc = mdb_dbi_open(txn, db_names[i], db_flags[i], &st->dbi[i]);
    if (rc == 0)
        return mdb_txn_commit(txn);
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/*
 * LMDB marks an environment dead when it could not write a meta page (a
 * disk error): every later transaction fails with MDB_PANIC until the
 * environment is closed and opened again.  The meta page was not switched,
 * so the last committed state on disk is intact and reopening is safe.
 * The exclusive maplock means no transaction of this process is open.
 * gen is the generation the caller saw fail (another thread may have
 * reopened since).  Returns 0 if the caller should retry, -1 if not.
 */
static int env_reopen(store_t *st, unsigned gen)
{
    int rc = 0;

    pthread_rwlock_wrlock(&st->maplock);
    if (st->env_gen == gen) {
        size_t map = map_size_now(st);
        if (st->env != NULL)
            mdb_env_close(st->env);      /* close first: see open_register */
        st->env = NULL;
        st->env_gen++;
        rc = env_create(st, map ? map : st->map_size_max);
        if (rc == 0 && (rc = dbis_reopen(st)) != 0) {
            mdb_env_close(st->env);
            st->env = NULL;
        }
        if (rc != 0) {
            log_error("store %s: reopening the environment after a fatal error failed: %s",
                      st->path, mdb_strerror(rc));
            rc = -1;
        } else {
            log_warn("store %s: environment reopened after a fatal LMDB error "
                     "(a meta page write failed: check the disk)", st->path);
        }
    }
    pthread_rwlock_unlock(&st->maplock);
    return rc;
}

int store_env_read(store_t *st, store_txn_fn fn, void *arg)
{
    int readers_checked = 0;

    for (int attempt = 0; attempt < STORE_RETRY_MAX; attempt++) {
        MDB_txn *txn;
        pthread_rwlock_rdlock(&st->maplock);
        unsigned gen = st->env_gen;
        int rc = st->env ? mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) : MDB_PANIC;
        if (rc == 0) {
            rc = fn(st, txn, arg);
            mdb_txn_abort(txn);
            pthread_rwlock_unlock(&st->maplock);
            return store_env_err(rc, "read");
        }
        pthread_rwlock_unlock(&st->maplock);
        if (rc == MDB_MAP_RESIZED) {
            map_adopt(st);
        } else if (rc == MDB_PANIC) {
            if (env_reopen(st, gen) != 0)
                return STORE_EIO;
        } else if (rc == MDB_READERS_FULL && !readers_checked) {
            readers_checked = 1;
            readers_clear(st);
        } else {
            return store_env_err(rc, "begin read transaction");
        }
    }
    log_error("store %s: read gave up after %d retries", st->path, STORE_RETRY_MAX);
    return STORE_EIO;
}


/* batch_try: an op failed in a flat run; run the batch again, nested.
 * (Negative and far from every LMDB, errno and STORE_* code.) */
#define BATCH_REDO_NESTED (-100000)

/*
 * The whole batch in one write transaction.  First flat: every op straight
 * in the batch's transaction, which is the common case (writes rarely fail)
 * and saves a nested transaction per op (LMDB allocates ~3 MiB of page lists
 * for each and merges them on commit: ~15 us of ~25 us per put in a plain
 * LMDB loop without fsync; end to end the fsync and thread wake-ups weigh
 * more, so this is headroom for the committer thread, not a speed-up one
 * can see at low load).  When an op fails in a flat run its partial changes
 * are in the transaction, so the run is dropped: alone, the op's result is
 * final; with others, the batch is run again (nested) with each op in a
 * nested transaction, so one failing write does not undo the others.
 * Returns 0 (op results set), BATCH_REDO_NESTED, or the raw code that
 * stopped the batch with nothing committed: MDB_MAP_FULL / MDB_MAP_RESIZED /
 * MDB_TXN_FULL / MDB_PANIC or a begin/commit error.  *seen and *gen receive
 * the map size and environment generation the attempt ran with.
 */
static int batch_try(store_t *st, struct store_gc_op *list, int nested, size_t *seen,
                     unsigned *gen)
{
    MDB_txn *txn, *child = NULL;
    int rc;
    uint64_t ok = 0;

    pthread_rwlock_rdlock(&st->maplock);
    *seen = map_size_now(st);
    *gen = st->env_gen;
    rc = st->env ? mdb_txn_begin(st->env, NULL, 0, &txn) : MDB_PANIC;
    if (rc != 0)
        goto out;
    for (struct store_gc_op *op = list; op; op = op->next) {
        struct wop *w = op->item;
        if (nested) {
            rc = mdb_txn_begin(st->env, txn, 0, &child);
            if (rc != 0) {
                mdb_txn_abort(txn);
                goto out;
            }
        }
        int r = w->fn(st, nested ? child : txn, w->arg);
        if (nested) {
            if (r == 0)
                r = mdb_txn_commit(child);
            else
                mdb_txn_abort(child);
        }
        if (r == MDB_MAP_FULL || r == MDB_TXN_FULL) {
            mdb_txn_abort(txn);
            rc = r;
            goto out;
        }
        if (r != 0 && !nested) {
            mdb_txn_abort(txn);
            if (list->next == NULL)
                op->result = r;         /* alone: nothing else to keep */
            else
                rc = BATCH_REDO_NESTED;
            goto out;
        }
        op->result = r;
        ok += r == 0;
    }
    if (ok == 0) {
        mdb_txn_abort(txn);             /* every op failed: nothing to sync */
        goto out;
    }
    uint64_t ev_seq = txn_event_seq(st, txn);
    rc = mdb_txn_commit(txn);
    if (rc == 0) {
        atomic_fetch_add(&st->commits, 1);
        atomic_fetch_add(&st->writes, ok);
        seq_raise(&st->ev_committed, ev_seq);
    } else {
        store_sync_commit_failed(st, rc);
    }
out:
    pthread_rwlock_unlock(&st->maplock);
    return rc;
}

/* One op alone in its own write transaction, with growth and resize. */
static int solo_run(store_t *st, struct wop *w)
{
    /* A deletion settles too: pages that an earlier deletion freed (one
     * that used the reserve, say) are reusable only after one more commit.
     * The settle itself never settles. */
    int settled = w->fn == settle_fn;
    int readers_checked = 0;

    for (int attempt = 0; attempt < STORE_RETRY_MAX; attempt++) {
        MDB_txn *txn;
        size_t seen;
        pthread_rwlock_rdlock(&st->maplock);
        seen = map_size_now(st);
        unsigned gen = st->env_gen;
        int rc = st->env ? mdb_txn_begin(st->env, NULL, 0, &txn) : MDB_PANIC;
        if (rc == 0) {
            rc = w->fn(st, txn, w->arg);
            uint64_t ev_seq = rc == 0 ? txn_event_seq(st, txn) : 0;
            if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
                store_sync_commit_failed(st, rc);
            else if (rc != 0)
                mdb_txn_abort(txn);
            else
                seq_raise(&st->ev_committed, ev_seq);
            if (rc == 0 && !w->internal) {
                atomic_fetch_add(&st->commits, 1);
                atomic_fetch_add(&st->writes, 1);
            }
        }
        pthread_rwlock_unlock(&st->maplock);
        if (rc == MDB_MAP_RESIZED) {
            map_adopt(st);
        } else if (rc == MDB_PANIC) {
            if (env_reopen(st, gen) != 0)
                return STORE_EIO;
        } else if (rc == MDB_MAP_FULL) {
            /* A process that died inside a read transaction pins every page
             * freed since: clear it before growing or giving up. */
            if (!readers_checked++ && readers_clear(st) > 0)
                continue;
            if (map_grow(st, seen, map_limit(st, w->frees)) == 0)
                continue;
            if (settled)
                return STORE_EFULL;
            settled = 1;
            if (map_settle(st) != 0)
                return STORE_EFULL;
        } else {
            return write_err(st, rc, "write");
        }
    }
    log_error("store %s: write gave up after %d retries", st->path, STORE_RETRY_MAX);
    return STORE_EIO;
}

static void batch_ops(store_t *st, struct store_gc_op *list);

/*
 * The committer's run function (also used directly without group commit,
 * where LMDB syncs the meta page itself and the return value is ignored).
 * Returns 1 if an op succeeded: its commit waits for store_sync_settle.  The
 * taint is read before anything is committed, so a failed sync during the
 * run (say, of one op's solo commit after another's) taints the batch too.
 */
static int batch_run(void *ctx, struct store_gc_op *list, struct store_gc_mark *mark)
{
    store_t *st = ctx;
    int any = 0;

    mark->taint = atomic_load(&st->taint);
    batch_ops(st, list);
    for (struct store_gc_op *op = list; op; op = op->next)
        any |= op->result == STORE_OK;
    if (!any)
        return 0;
    mark->txnid = last_txnid(st);
    mark->ev_seq = atomic_load(&st->ev_committed);
    if (!st->nometasync)                /* LMDB synced the meta page itself */
        store_events_durable(st, mark->ev_seq);
    return st->nometasync;
}

static void batch_ops(store_t *st, struct store_gc_op *list)
{
    int rc = 0, frees = 1, nested = 0, readers_checked = 0;

    for (struct store_gc_op *op = list; op; op = op->next)
        frees &= ((struct wop *)op->item)->frees;

    for (int attempt = 0; attempt < STORE_RETRY_MAX; attempt++) {
        size_t seen;
        unsigned gen;
        rc = batch_try(st, list, nested, &seen, &gen);
        if (rc == MDB_PANIC && env_reopen(st, gen) == 0)
            continue;
        if (rc == BATCH_REDO_NESTED) {
            nested = 1;
            continue;
        }
        if (rc == MDB_MAP_RESIZED) {
            map_adopt(st);
            continue;
        }
        if (rc == MDB_MAP_FULL && !readers_checked++ && readers_clear(st) > 0)
            continue;                   /* see solo_run */
        if (rc == MDB_MAP_FULL && map_grow(st, seen, map_limit(st, frees)) == 0)
            continue;
        break;
    }
    if (rc == 0) {
        for (struct store_gc_op *op = list; op; op = op->next)
            op->result = store_env_err(op->result, "write");
        return;
    }
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || list->next != NULL) {
        /* The batch as a whole failed (map at its limit, too many dirty
         * pages, or an op left the transaction unusable): give each op its
         * own transaction and result, so one that still fits (a delete) is
         * not failed by another. */
        for (struct store_gc_op *op = list; op; op = op->next)
            op->result = solo_run(st, op->item);
        return;
    }
    int err = write_err(st, rc, "write batch");
    for (struct store_gc_op *op = list; op; op = op->next)
        op->result = err;
}

static int write_op(store_t *st, store_txn_fn fn, void *arg, int frees)
{
    struct wop w = { fn, arg, frees, 0 };
    struct store_gc_op op = { .item = &w };
    struct store_gc_mark mark;

    /* While this is counted, the feed's readers leave events past the
     * durable point to our settle (store_events.h, Durability). */
    atomic_fetch_add(&st->ev_writers, 1);
    if (st->gc) {
        op.result = store_gc_submit(st->gc, &op);
    } else {
        batch_run(st, &op, &mark);
    }
    atomic_fetch_sub(&st->ev_writers, 1);
    if (frees)
        map_shrink_back(st);
    store_events_committed(st);         /* wake the feed's long polls */
    return op.result;
}

int store_env_write(store_t *st, store_txn_fn fn, void *arg)
{
    return write_op(st, fn, arg, 0);
}

int store_env_write_free(store_t *st, store_txn_fn fn, void *arg)
{
    return write_op(st, fn, arg, 1);
}

/* ---- open / close ---- */

/*
 * Environments open in this process, by directory (device, inode).  LMDB
 * must not open one environment twice in a process: closing either handle
 * drops the process's fcntl locks on lock.mdb, and the next process to open
 * it then takes itself for the only user and resets the lock table (reader
 * slots and writer mutex) under the feet of the other processes.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static store_t *open_list;

/* Register st under its directory; -1 if that one is open already. */
static int open_register(store_t *st)
{
    struct stat sb;
    int rc = 0;

    if (stat(st->path, &sb) != 0)
        return 0;                       /* mdb_env_open will say why */
    pthread_mutex_lock(&open_lock);
    /* Handles inherited over fork() belong to the parent: a child may open
     * the path for itself (its close does not touch the parent's locks). */
    for (store_t *o = open_list; o; o = o->open_next)
        if (o->dev == sb.st_dev && o->ino == sb.st_ino && o->pid == getpid())
            rc = -1;
    if (rc == 0) {
        st->pid = getpid();
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
        st->registered = 1;
        st->open_next = open_list;
        open_list = st;
    }
    pthread_mutex_unlock(&open_lock);
    return rc;
}

static void open_unregister(store_t *st)
{
    if (!st->registered)
        return;
    pthread_mutex_lock(&open_lock);
    for (store_t **p = &open_list; *p; p = &(*p)->open_next)
        if (*p == st) {
            *p = st->open_next;
            break;
        }
    pthread_mutex_unlock(&open_lock);
    st->registered = 0;
}

struct open_ctx {
    char  *err;
    size_t errlen;
    int    schema5;     /* a schema 4 database: store_schema5 steps to run */
};

/* Create/open the sub-databases and check the schema (one write txn). */
static int open_dbs(store_t *st, MDB_txn *txn, void *arg)
{
    struct open_ctx *oc = arg;
    MDB_val k = { 6, (void *)"schema" }, v;
    char buf[24];
    int rc;

    for (int i = 0; i < STORE_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE | db_flags[i], &st->dbi[i]);
        if (rc != 0)
            return rc;
    }
    rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        int n = snprintf(buf, sizeof(buf), "%d", STORE_SCHEMA_VERSION);
        v.mv_data = buf;
        v.mv_size = (size_t)n;
        return mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
    }
    if (rc != 0)
        return rc;
    /* The schema is ASCII decimal so mdb_dump shows it plainly. */
    unsigned long have = 0;
    int valid = v.mv_size > 0 && v.mv_size < 10;
    for (size_t i = 0; valid && i < v.mv_size; i++) {
        char c = ((const char *)v.mv_data)[i];
        valid = c >= '0' && c <= '9';
        have = have * 10 + (unsigned long)(c - '0');
    }
    if (!valid) {
        snprintf(oc->err, oc->errlen, "store %s: meta schema value is not a number",
                 st->path);
        return STORE_ESCHEMA;
    }
    if (have > STORE_SCHEMA_VERSION) {
        snprintf(oc->err, oc->errlen,
                 "store %s: database schema version %lu is newer than this "
                 "program's schema version %d; upgrade mailstate",
                 st->path, have, STORE_SCHEMA_VERSION);
        return STORE_ESCHEMA;
    }
    /* Records migrate lazily by their version byte; indexes a newer schema
     * adds are built here, in this one write transaction. */
    if (have < 2) {
        rc = store_me_migrate_1(st, txn);
        if (rc != 0)
            return rc;
    }
    if (have < 4) {
        rc = store_outbox_migrate_2(st, txn);
        if (rc != 0)
            return rc;
    }
    /* Up to 4 in this transaction; 4 -> 5 in steps after it (see
     * store_schema5.h), which write 5 at their end. */
    if (have < 4) {
        v.mv_data = (void *)"4";
        v.mv_size = 1;
        rc = mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
        if (rc == 0)
            log_info("store %s: schema %lu migrated to 4", st->path, have);
    }
    oc->schema5 = have < 5;
    return rc;
}

static int schema5_fn(store_t *st, MDB_txn *txn, void *arg)
{
    return store_schema5_step(st, txn, arg);
}

int store_env_open(const struct store_opts *opts, store_t **out, char *err, size_t errlen)
{
    store_t *st;
    char dummy[1];
    int rc;

    *out = NULL;
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (opts == NULL || opts->path == NULL || opts->path[0] == '\0') {
        snprintf(err, errlen, "store: no path given");
        return STORE_EINVAL;
    }
    if (mkdir(opts->path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "store %s: cannot create the directory: %s",
                 opts->path, strerror(errno));
        return STORE_EIO;
    }
    st = xcalloc(1, sizeof(*st));
    st->path = xstrdup(opts->path);
    if (open_register(st) != 0) {
        snprintf(err, errlen, "store %s: already open in this process (LMDB forbids a "
                 "second handle; share the first)", st->path);
        free(st->path);
        free(st);
        return STORE_EINVAL;
    }
    size_t map = opts->map_size ? opts->map_size : STORE_DEFAULT_MAP;
    st->map_size_max = opts->map_size_max > map ? opts->map_size_max : map;
    st->outbox_max = opts->outbox_max;
    st->list_max_scan = opts->list_max_scan;
    atomic_init(&st->commits, 0);
    atomic_init(&st->writes, 0);
    atomic_init(&st->settled_at, 0);

    /* Prefer writers: a grower must not starve behind a stream of readers.
     * No thread ever takes the lock shared twice, so this cannot deadlock. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&st->maplock, &ra);
    pthread_rwlockattr_destroy(&ra);

    st->max_readers = opts->max_readers ? opts->max_readers : STORE_DEFAULT_READERS;
    st->nometasync = opts->group_commit != 0;
    atomic_init(&st->durable_txnid, 0);
    atomic_init(&st->taint, 0);
    atomic_init(&st->ev_committed, 0);
    atomic_init(&st->ev_durable, 0);
    atomic_init(&st->ev_announced, 0);
    atomic_init(&st->ev_writers, 0);
    pthread_mutex_init(&st->ev_sync_lock, NULL);
    rc = env_create(st, map);
    if (rc != 0) {
        snprintf(err, errlen, "store %s: cannot open: %s", st->path, mdb_strerror(rc));
        store_env_close(st);
        return rc == ENOSPC ? STORE_EFULL : STORE_EIO;
    }
    readers_clear(st);

    struct open_ctx oc = { err, errlen, 0 };
    struct wop w = { open_dbs, &oc, 0, 1 };
    rc = solo_run(st, &w);
    if (rc != STORE_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "store %s: cannot initialise: %s", st->path,
                     store_strerror(rc));
        if (rc == STORE_ESCHEMA)
            log_error("%s", err);
        store_env_close(st);
        return rc;
    }
    for (int done = !oc.schema5; rc == STORE_OK && !done;) {
        struct wop w5 = { schema5_fn, &done, 0, 1 };
        rc = solo_run(st, &w5);
    }
    if (rc != STORE_OK) {
        snprintf(err, errlen, "store %s: migrating to schema 5: %s", st->path,
                 store_strerror(rc));
        store_env_close(st);
        return rc;
    }
    /* The init commit's meta page: synced before anyone relies on it. */
    if (st->nometasync && (rc = mdb_env_sync(st->env, 1)) != 0) {
        snprintf(err, errlen, "store %s: cannot sync: %s", st->path, mdb_strerror(rc));
        store_env_close(st);
        return STORE_EIO;
    }
    /* Every event committed so far is on disk now (the init commit saw them
     * all, and its meta page is synced). */
    store_events_durable(st, atomic_load(&st->ev_committed));
    atomic_store(&st->ev_announced, atomic_load(&st->ev_durable));
    if (opts->group_commit) {
        st->gc = store_gc_start(batch_run, store_sync_settle, st);
        if (st->gc == NULL) {
            snprintf(err, errlen, "store %s: cannot start the committer thread", st->path);
            store_env_close(st);
            return STORE_EIO;
        }
    }
    /* The init transaction is not a write the caller made. */
    atomic_store(&st->commits, 0);
    atomic_store(&st->writes, 0);
    *out = st;
    return STORE_OK;
}

void store_env_close(store_t *st)
{
    if (st == NULL)
        return;
    st->gc = store_gc_stop(st->gc);
    if (st->env)
        mdb_env_close(st->env);
    open_unregister(st);
    pthread_rwlock_destroy(&st->maplock);
    pthread_mutex_destroy(&st->ev_sync_lock);
    free(st->path);
    free(st);
}
