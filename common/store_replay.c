/*
 * store_replay - the sync replay memory in LMDB; contract in store.h.
 *
 * Small by construction: only signed requests from known peers are added,
 * each lives one sync window, and every start prunes what expired.
 */
#include "store.h"

#include <string.h>

#include "store_env.h"

#define REPLAY_MAC_MAX 64

struct replay_put {
    const unsigned char *mac;
    size_t               len;
    uint64_t             expires;
};

static void u64le(unsigned char out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int put_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct replay_put *a = arg;
    unsigned char buf[8];
    MDB_val k = { a->len, (void *)(uintptr_t)a->mac }, v = { sizeof(buf), buf };

    u64le(buf, a->expires);
    return mdb_put(txn, st->dbi[STORE_DB_REPLAY], &k, &v, 0);
}

int store_replay_add(store_t *st, const unsigned char *mac, size_t len, uint64_t expires_s)
{
    struct replay_put a = { mac, len, expires_s };

    if (st == NULL || mac == NULL || len == 0 || len > REPLAY_MAC_MAX)
        return STORE_EINVAL;
    return store_env_write(st, put_fn, &a);
}

struct replay_scan {
    uint64_t now;
    void   (*fn)(void *arg, const unsigned char *mac, size_t len, uint64_t expires_s);
    void    *arg;
    size_t   expired;
};

/* The expiry of a live entry in *exp, else 0: expired, or damaged (a
 * damaged value counts as expired: it is pruned, never trusted). */
static int replay_live(const MDB_val *k, const MDB_val *v, uint64_t now, uint64_t *exp)
{
    if (v->mv_size != 8 || k->mv_size == 0 || k->mv_size > REPLAY_MAC_MAX)
        return 0;
    *exp = get_u64le(v->mv_data);
    return *exp >= now;
}

static int scan_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct replay_scan *a = arg;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_REPLAY], &cur);

    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t exp;
        if (!replay_live(&k, &v, a->now, &exp)) {
            a->expired++;
            continue;
        }
        a->fn(a->arg, k.mv_data, k.mv_size, exp);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int prune_fn(store_t *st, MDB_txn *txn, void *arg)
{
    const uint64_t *now = arg;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_REPLAY], &cur);

    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t exp;
        if (!replay_live(&k, &v, *now, &exp)) {
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0)
                break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_replay_load(store_t *st, uint64_t now_s,
                      void (*fn)(void *arg, const unsigned char *mac, size_t len,
                                 uint64_t expires_s),
                      void *arg)
{
    struct replay_scan a = { now_s, fn, arg, 0 };
    int rc;

    if (st == NULL || fn == NULL)
        return STORE_EINVAL;
    rc = store_env_read(st, scan_fn, &a);
    if (rc != STORE_OK || a.expired == 0)
        return rc;
    return store_env_write_free(st, prune_fn, &now_s);
}
