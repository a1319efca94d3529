/*
 * store_admin - the maintenance half of store.h: retention purge and the
 * outbox of pending forwards to peers (erasure of an address: store_erase.c).
 *
 * Deletions first collect the ids or keys to delete, then delete them, so a
 * cursor never walks over its own deletions.  After anything that removes
 * recipient entries, outbox and parked items that point at a removed entry
 * are dropped in the same transaction (they could never be sent, and erasure
 * must not leave the address behind in the outbox).
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "store_db.h"
#include "store_env.h"
#include "store_events.h"
#include "store_outbox.h"
#include "store_rec.h"
#include "xmem.h"

#define STORE_PURGE_BATCH_MAX 100000

/* ---- purge ---- */

struct purge_arg {
    char   before[MAILID_TIME_LEN + 1];
    size_t batch, purged;
};

/*
 * Mails are keyed by id and ids start with their creation time, so the
 * oldest mails are the first keys: a purge is a scan from the start that
 * stops at the first id not older than the limit.
 */
static int purge_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct purge_arg *a = arg;
    struct store_idlist ids = { 0 };
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    a->purged = 0;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_MAILS], &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ids.n < a->batch;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != MAILID_ID_LEN || memcmp(k.mv_data, a->before, MAILID_TIME_LEN) >= 0)
            break;
        store_idlist_add(&ids, k.mv_data);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < ids.n; i++)
        rc = store_db_mail_delete(st, txn, ids.ids[i]);
    /* ids are the oldest mails, in order: none at or before the last is left */
    if (rc == 0 && ids.n > 0)
        rc = store_db_outbox_sweep(st, txn, ids.ids[ids.n - 1]);
    if (rc == 0)
        a->purged = ids.n;
    store_idlist_free(&ids);
    return rc;
}

int store_purge(store_t *st, uint64_t before_ms, size_t batch, size_t *purged)
{
    struct purge_arg a = { .batch = batch };

    if (purged)
        *purged = 0;
    if (st == NULL || batch == 0 || batch > STORE_PURGE_BATCH_MAX)
        return STORE_EINVAL;
    mailid_time_prefix(before_ms, a.before);
    int rc = store_env_write_free(st, purge_fn, &a);
    if (rc == STORE_OK && purged)
        *purged = a.purged;
    return rc;
}

/* ---- erasure: store_erase.c ---- */

/* ---- outbox ---- */

static uint64_t key_seq(const MDB_val *k)
{
    const unsigned char *p = (const unsigned char *)k->mv_data + k->mv_size - 8;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | p[i];
    return seq;
}

static int key_in_peer(const MDB_val *k, const struct store_key *pfx)
{
    return k->mv_size == pfx->len + 8 && memcmp(k->mv_data, pfx->b, pfx->len) == 0;
}

struct peek_arg {
    const char               *peer;
    size_t                    max, n;
    struct store_outbox_item *items;
};

static int peek_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct peek_arg *a = arg;
    struct store_key pfx;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    store_outbox_free(a->items, a->n);
    a->items = NULL;
    a->n = 0;
    store_db_key_prefix(&pfx, a->peer);
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_OUTBOX], &cur);
    if (rc != 0)
        return rc;
    k = store_db_val(&pfx);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && a->n < a->max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store_outbox_item it = { .seq = 0 };
        const char *rcpt;
        size_t rlen;
        if (!key_in_peer(&k, &pfx))
            break;
        if (store_rec_outbox_decode(v.mv_data, v.mv_size, &it.queued_ms, it.id,
                                    &rcpt, &rlen) < 0 || rlen > STORE_ADDR_MAX)
            continue;                   /* undecodable: the next sweep drops it */
        char addr[STORE_ADDR_MAX + 1];
        memcpy(addr, rcpt, rlen);
        addr[rlen] = '\0';
        struct store_mail m;
        rc = store_db_mail_load(st, txn, it.id, &m);
        if (rc == 0)
            rc = store_db_rcpt_load(st, txn, it.id, addr, &it.rcpt);
        else
            memset(&m, 0, sizeof(m));
        if (rc == STORE_ENOTFOUND || rc == STORE_ENORCPT) {
            store_rec_mail_clear(&m);
            continue;                   /* entry gone meanwhile: nothing to send */
        }
        if (rc != 0) {
            store_rec_mail_clear(&m);
            break;
        }
        it.seq = key_seq(&k);
        it.sender = m.sender;
        m.sender = NULL;
        store_rec_mail_clear(&m);
        a->items = xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
        a->items[a->n++] = it;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_outbox_peek(store_t *st, const char *peer, size_t max,
                      struct store_outbox_item **items, size_t *n)
{
    struct peek_arg a = { peer, max, 0, NULL };

    if (items)
        *items = NULL;
    if (n)
        *n = 0;
    if (st == NULL || items == NULL || n == NULL || !store_db_peer_ok(peer))
        return STORE_EINVAL;
    if (max == 0)
        return STORE_OK;
    int rc = store_env_read(st, peek_fn, &a);
    if (rc != STORE_OK) {
        store_outbox_free(a.items, a.n);
        return rc;
    }
    *items = a.items;
    *n = a.n;
    return STORE_OK;
}

void store_outbox_free(struct store_outbox_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].sender);
        store_rcpt_clear(&items[i].rcpt);
    }
    free(items);
}

struct seqs_arg {
    const char     *peer;
    const uint64_t *seqs;
    size_t          n;
    int             park;
};

static int seqs_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct seqs_arg *a = arg;
    struct store_key key;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        store_db_key_outbox(&key, a->peer, a->seqs[i]);
        MDB_val k = store_db_val(&key);
        rc = store_outbox_del_txn(st, txn, &k, st->dbi[STORE_DB_PARKED], a->park);
    }
    return rc;
}

static int seqs_run(store_t *st, const char *peer, const uint64_t *seqs, size_t n, int park)
{
    struct seqs_arg a = { peer, seqs, n, park };

    if (st == NULL || !store_db_peer_ok(peer) || (n > 0 && seqs == NULL))
        return STORE_EINVAL;
    if (n == 0)
        return STORE_OK;
    return store_env_write_free(st, seqs_fn, &a);
}

int store_outbox_delete(store_t *st, const char *peer, const uint64_t *seqs, size_t n)
{
    return seqs_run(st, peer, seqs, n, 0);
}

int store_outbox_park(store_t *st, const char *peer, const uint64_t *seqs, size_t n)
{
    return seqs_run(st, peer, seqs, n, 1);
}

struct ostats_arg {
    const char *peer;
    size_t      depth, parked;
    uint64_t    oldest;
};

static int count_peer(MDB_txn *txn, MDB_dbi dbi, const struct store_key *pfx,
                      size_t *count, uint64_t *first_queued)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    *count = 0;
    if (rc != 0)
        return rc;
    k = store_db_val(pfx);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!key_in_peer(&k, pfx))
            break;
        if (first_queued) {
            /* a replaced item keeps its first queued_ms at a later seq
             * (store_outbox.h): the oldest is a minimum, not the first */
            char id[MAILID_ID_LEN + 1];
            const char *r;
            size_t rl;
            uint64_t q;
            if (store_rec_outbox_decode(v.mv_data, v.mv_size, &q, id, &r, &rl) == 0 &&
                q != 0 && (*first_queued == 0 || q < *first_queued))
                *first_queued = q;
        }
        (*count)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ostats_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct ostats_arg *a = arg;
    struct store_key pfx;

    a->oldest = 0;
    store_db_key_prefix(&pfx, a->peer);
    int rc = count_peer(txn, st->dbi[STORE_DB_OUTBOX], &pfx, &a->depth, &a->oldest);
    if (rc == 0)
        rc = count_peer(txn, st->dbi[STORE_DB_PARKED], &pfx, &a->parked, NULL);
    return rc;
}

int store_outbox_stats(store_t *st, const char *peer, size_t *depth,
                       uint64_t *oldest_ms, size_t *parked)
{
    struct ostats_arg a = { peer, 0, 0, 0 };

    if (st == NULL || !store_db_peer_ok(peer))
        return STORE_EINVAL;
    int rc = store_env_read(st, ostats_fn, &a);
    if (rc != STORE_OK)
        a.depth = a.parked = 0, a.oldest = 0;
    if (depth)
        *depth = a.depth;
    if (oldest_ms)
        *oldest_ms = a.oldest;
    if (parked)
        *parked = a.parked;
    return rc;
}
