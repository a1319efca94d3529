#ifndef MAILSTATE_STORE_ENV_H
#define MAILSTATE_STORE_ENV_H
/*
 * store_env - the LMDB environment behind store_t (internal to the store):
 * open/close, schema check, and the two ways to run a transaction.
 *
 * store_env_read(st, fn, arg) runs fn in a read-only transaction.
 * store_env_write(st, fn, arg) runs fn in a write transaction and returns
 * only once it is committed and synced (with group commit the meta page is
 * synced by the next batch's commit or an explicit sync before the caller is
 * answered: see store.h, Durability); with group commit, fn runs inside
 * the committer's batch transaction (in a nested one if the batch is redone
 * after another write in it failed).  fn may be run more than
 * once (after the map grew or was resized by another process), so it must
 * clear any output of an earlier attempt before writing new output.
 *
 * fn returns 0, a STORE_E* code (its change is then discarded), or a raw
 * LMDB/errno code, which the runner maps: MDB_MAP_FULL grows the map (up to
 * map_size_max, then STORE_EFULL), ENOSPC, EDQUOT and EFBIG (and an EIO from
 * a commit while the disk is nearly full: LMDB reports short writes so) are
 * STORE_EFULL, anything else is
 * logged and becomes STORE_EIO.
 *
 * Locking: every transaction of this handle holds st->maplock shared;
 * mdb_env_set_mapsize (growth, adopting a resize) takes it exclusive, since
 * LMDB requires no active transaction in the process for that call.  fn must
 * not call store functions (the lock is not recursive).
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "store.h"
#include "store_gc.h"

#if MDB_VERSION_FULL < MDB_VERINT(0, 9, 24)
#error "LMDB 0.9.24 or newer is required"
#endif

enum store_db {
    STORE_DB_MAILS,
    STORE_DB_RCPTS,
    STORE_DB_BY_SENDER,
    STORE_DB_BY_RCPT,       /* "rcpt_idx" since schema 5 (MDB_DUPSORT) */
    STORE_DB_OUTBOX,
    STORE_DB_PARKED,
    STORE_DB_META,
    STORE_DB_BY_LOGIN,      /* schema 2 */
    STORE_DB_BY_MSGID,      /* schema 2 */
    STORE_DB_REPLAY,
    STORE_DB_OUTBOX_IDX,    /* schema 4 (MDB_DUPSORT) */
    STORE_DB_EVENTS,        /* issue 17, created at open: no schema bump */
    STORE_DB_ERASURES,      /* erasures for the peers (created at open) */
    STORE_DB_COUNT
};

struct store {
    MDB_env             *env;            /* NULL only if a reopen failed */
    unsigned             env_gen;         /* bumped by each reopen (maplock) */
    unsigned             max_readers;
    MDB_dbi              dbi[STORE_DB_COUNT];
    pthread_rwlock_t     maplock;
    size_t               map_size_max;
    size_t               outbox_max;     /* per peer; 0 = unbounded */
    size_t               list_max_scan;  /* store_list; 0 = unbounded */
    atomic_uint_fast64_t outbox_overflow; /* changes not queued (bound) */
    struct store_gc     *gc;             /* NULL without group commit */
    atomic_uint_fast64_t commits, writes;
    atomic_uint_fast64_t settled_at;     /* last txn id after our last settle */
    int                  nometasync;      /* group commit: meta pages unsynced */
    atomic_uint_fast64_t durable_txnid;   /* commits up to this one are synced */
    atomic_uint_fast64_t taint;           /* failed syncs: see commit_failed */
    /* The event feed's durable point (store_events.h, "Durability"). */
    atomic_uint_fast64_t ev_committed;    /* event_seq in our newest commit */
    atomic_uint_fast64_t ev_durable;      /* events up to here are on disk */
    atomic_uint_fast64_t ev_announced;    /* ev_durable when the hook last ran */
    atomic_int           ev_writers;      /* store_env_write* calls running */
    pthread_mutex_t      ev_sync_lock;    /* one reader-side sync at a time */
    char                *path;
    dev_t                dev;             /* of the directory: open_register */
    ino_t                ino;
    pid_t                pid;             /* the process that opened it */
    int                  registered;
    struct store        *open_next;
};

typedef int (*store_txn_fn)(store_t *st, MDB_txn *txn, void *arg);

int store_env_open(const struct store_opts *opts, store_t **out, char *err, size_t errlen);
void store_env_close(store_t *st);

int store_env_read(store_t *st, store_txn_fn fn, void *arg);
int store_env_write(store_t *st, store_txn_fn fn, void *arg);
/*
 * The same for writes that delete (purge, erasure, outbox removal): LMDB
 * needs fresh pages even to delete, so these may grow the map past
 * map_size_max by a reserve (1/8 of it, at least 1 MiB), and the map is set
 * back afterwards.  A full mail log can thus always be purged.
 */
int store_env_write_free(store_t *st, store_txn_fn fn, void *arg);

/* Raw LMDB/errno/store code -> STORE_* (logging what is unexpected). */
int store_env_err(int rc, const char *what);

uint64_t store_now_ms(void);

#endif
