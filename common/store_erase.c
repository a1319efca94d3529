/*
 * store_erase - erasure in bounded transactions and the erasure queue; see
 * store_erase.h.
 *
 * Each batch collects index entries first and deletes them after (a cursor
 * must not walk over its own deletions), and always deletes the index
 * entries it collected, whatever the record behind them was (missing,
 * recorded under another login): every batch makes progress, so the loop
 * ends.
 */
#include "store_erase.h"

#include <stdlib.h>
#include <string.h>

#include "store_db.h"
#include "store_env.h"
#include "store_events.h"
#include "xmem.h"

#define ERASURE_VERSION 1

/* ---- erasure ---- */

struct batch_arg {
    const char *addr;
    char        before[MAILID_TIME_LEN + 1];
    int         bounded;
    size_t      done;       /* index entries handled in this transaction */
    size_t      erased;     /* mails + entries removed in this transaction */
};

/* Up to max ids of "addr 0x00 ID" in dbi, oldest first, inside the bound. */
static int collect(const struct batch_arg *a, MDB_txn *txn, MDB_dbi dbi, size_t max,
                   struct store_idlist *ids)
{
    struct store_key pfx;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    ids->n = 0;
    store_db_key_prefix(&pfx, a->addr);
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    k = store_db_val(&pfx);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && ids->n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *id = (const char *)k.mv_data + pfx.len;
        if (k.mv_size != pfx.len + MAILID_ID_LEN || memcmp(k.mv_data, pfx.b, pfx.len) != 0)
            break;
        if (a->bounded && memcmp(id, a->before, MAILID_TIME_LEN) >= 0)
            break;                      /* ids sort by time: the rest is newer */
        store_idlist_add(ids, id);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int del_index(MDB_txn *txn, MDB_dbi dbi, const char *addr, const char *id)
{
    struct store_key key;

    store_db_key_index(&key, addr, id);
    MDB_val k = store_db_val(&key);
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Whole mails found through dbi (by_sender or by_login). */
static int erase_mails(store_t *st, MDB_txn *txn, struct batch_arg *a, MDB_dbi dbi,
                       size_t max)
{
    struct store_idlist ids = { 0 };
    int rc = collect(a, txn, dbi, max, &ids);

    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        rc = store_db_mail_delete(st, txn, ids.ids[i]);
        if (rc == 0)
            a->erased++;
        else if (rc == STORE_ENOTFOUND)
            rc = 0;                     /* a dangling index entry */
        if (rc == 0)
            rc = del_index(txn, dbi, a->addr, ids.ids[i]);
        a->done++;
    }
    store_idlist_free(&ids);
    return rc;
}

/* Up to max ids of addr in by_rcpt (schema 5: key addr, duplicates ID,
 * sorted), oldest first, inside the bound. */
static int collect_rcpt(const struct batch_arg *a, store_t *st, MDB_txn *txn, size_t max,
                        struct store_idlist *ids)
{
    MDB_cursor *cur;
    MDB_val k = { strlen(a->addr), STORE_MV(a->addr) }, v;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_BY_RCPT], &cur);

    ids->n = 0;
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0 && ids->n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        if (v.mv_size != MAILID_ID_LEN)
            continue;
        if (a->bounded && memcmp(v.mv_data, a->before, MAILID_TIME_LEN) >= 0)
            break;                      /* ids sort by time: the rest is newer */
        store_idlist_add(ids, v.mv_data);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The address's own recipient entries; the mails stay. */
static int erase_entries(store_t *st, MDB_txn *txn, struct batch_arg *a, size_t max)
{
    struct store_idlist ids = { 0 };
    struct store_key key;
    int rc = collect_rcpt(a, st, txn, max, &ids);

    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        store_db_key_rcpt(&key, ids.ids[i], a->addr);
        MDB_val k = store_db_val(&key);
        rc = mdb_del(txn, st->dbi[STORE_DB_RCPTS], &k, NULL);
        if (rc == 0)
            a->erased++;
        else if (rc == MDB_NOTFOUND)
            rc = 0;
        if (rc == 0) {
            MDB_val ik = { strlen(a->addr), STORE_MV(a->addr) };
            MDB_val iv = { MAILID_ID_LEN, ids.ids[i] };
            rc = mdb_del(txn, st->dbi[STORE_DB_BY_RCPT], &ik, &iv);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        a->done++;
    }
    store_idlist_free(&ids);
    return rc;
}

static int batch_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct batch_arg *a = arg;
    int rc;

    a->done = a->erased = 0;            /* fn may run again after a map resize */
    rc = erase_mails(st, txn, a, st->dbi[STORE_DB_BY_SENDER], STORE_ERASE_BATCH);
    if (rc == 0 && a->done < STORE_ERASE_BATCH)
        rc = erase_mails(st, txn, a, st->dbi[STORE_DB_BY_LOGIN],
                         STORE_ERASE_BATCH - a->done);
    if (rc == 0 && a->done < STORE_ERASE_BATCH)
        rc = erase_entries(st, txn, a, STORE_ERASE_BATCH - a->done);
    return rc;
}

/* Once per erasure: the outbox sweep and the event feed (store_events.h)
 * both walk their whole database. */
static int sweep_fn(store_t *st, MDB_txn *txn, void *arg)
{
    int rc = store_db_outbox_sweep(st, txn, NULL);
    return rc ? rc : store_events_erase_addr(st, txn, arg);
}

int store_erase_until(store_t *st, const char *addr_key, uint64_t before_ms,
                      size_t *erased)
{
    struct batch_arg a = { .addr = addr_key, .bounded = before_ms != 0 };
    size_t total = 0;
    int rc;

    if (erased)
        *erased = 0;
    if (st == NULL || !store_db_addr_ok(addr_key))
        return STORE_EINVAL;
    if (a.bounded)
        mailid_time_prefix(before_ms, a.before);
    do {
        rc = store_env_write_free(st, batch_fn, &a);
        if (rc == STORE_OK)
            total += a.erased;
    } while (rc == STORE_OK && a.done > 0);
    /* also after a run that found nothing: an earlier run may have stopped
     * between its last batch and this sweep */
    if (rc == STORE_OK)
        rc = store_env_write_free(st, sweep_fn, (void *)(uintptr_t)addr_key);
    if (erased)
        *erased = total;
    return rc;
}

int store_erase_address(store_t *st, const char *addr_key, size_t *erased)
{
    return store_erase_until(st, addr_key, 0, erased);
}

/* ---- the erasure queue ---- */

static void le64_put(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* An item's key and value apart: 0, or -1 if it is not one of ours. */
static int item_decode(const MDB_val *k, const MDB_val *v, struct store_erasure *out,
                       int copy)
{
    const unsigned char *kb = k->mv_data, *vb = v->mv_data;
    size_t plen, alen;

    if (k->mv_size < 10 || k->mv_size > STORE_PEER_MAX + 9 || kb[k->mv_size - 9] != 0)
        return -1;
    if (v->mv_size < 1 + 8 + 1 || v->mv_size > 1 + 8 + STORE_ADDR_MAX ||
        vb[0] != ERASURE_VERSION || memchr(vb + 9, 0, v->mv_size - 9) != NULL)
        return -1;
    plen = k->mv_size - 9;
    alen = v->mv_size - 9;
    out->seq = be64_get(kb + plen + 1);
    out->requested_ms = le64_get(vb + 1);
    out->peer = out->address = NULL;
    if (copy) {
        out->peer = xmalloc(plen + 1);
        memcpy(out->peer, kb, plen);
        out->peer[plen] = '\0';
        out->address = xmalloc(alen + 1);
        memcpy(out->address, vb + 9, alen);
        out->address[alen] = '\0';
    }
    return 0;
}

static int next_seq(store_t *st, MDB_txn *txn, uint64_t *seq)
{
    MDB_val mk = { 11, (void *)"erasure_seq" }, mv;
    unsigned char b[8];
    int rc = mdb_get(txn, st->dbi[STORE_DB_META], &mk, &mv);

    *seq = 0;
    if (rc == 0 && mv.mv_size == 8)
        *seq = le64_get(mv.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    (*seq)++;
    le64_put(b, *seq);
    mv.mv_size = 8;
    mv.mv_data = b;
    return mdb_put(txn, st->dbi[STORE_DB_META], &mk, &mv, 0);
}

struct queue_arg {
    const char         *addr;
    const char *const  *peers;
    size_t              n;
    uint64_t            requested_ms;
};

/* Delete peer's items for addr (the new request replaces them): the seqs
 * are collected first, so the cursor never walks over its own deletions. */
static int drop_same(store_t *st, MDB_txn *txn, const char *peer, const char *addr)
{
    struct store_key pfx;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t *seqs = NULL;
    size_t n = 0, alen = strlen(addr);
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_ERASURES], &cur);

    if (rc != 0)
        return rc;
    store_db_key_prefix(&pfx, peer);
    k = store_db_val(&pfx);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store_erasure e;
        if (k.mv_size != pfx.len + 8 || memcmp(k.mv_data, pfx.b, pfx.len) != 0)
            break;
        if (item_decode(&k, &v, &e, 0) == 0 && v.mv_size - 9 == alen &&
            memcmp((const char *)v.mv_data + 9, addr, alen) == 0) {
            seqs = xrealloc(seqs, (n + 1) * sizeof(*seqs));
            seqs[n++] = e.seq;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct store_key key;
        store_db_key_outbox(&key, peer, seqs[i]);
        MDB_val dk = store_db_val(&key);
        rc = mdb_del(txn, st->dbi[STORE_DB_ERASURES], &dk, NULL);
    }
    free(seqs);
    return rc;
}

static int queue_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct queue_arg *a = arg;
    unsigned char val[1 + 8 + STORE_ADDR_MAX];
    size_t alen = strlen(a->addr);
    int rc = 0;

    val[0] = ERASURE_VERSION;
    le64_put(val + 1, a->requested_ms);
    memcpy(val + 9, a->addr, alen);
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        struct store_key key;
        uint64_t seq;
        rc = drop_same(st, txn, a->peers[i], a->addr);
        if (rc == 0)
            rc = next_seq(st, txn, &seq);
        if (rc == 0) {
            store_db_key_outbox(&key, a->peers[i], seq);
            MDB_val k = store_db_val(&key), v = { 9 + alen, val };
            rc = mdb_put(txn, st->dbi[STORE_DB_ERASURES], &k, &v, 0);
        }
    }
    return rc;
}

int store_erasure_queue(store_t *st, const char *addr_key, const char *const *peers,
                        size_t n, uint64_t requested_ms)
{
    struct queue_arg a = { addr_key, peers, n, requested_ms };

    if (st == NULL || !store_db_addr_ok(addr_key) || (n > 0 && peers == NULL))
        return STORE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!store_db_peer_ok(peers[i]))
            return STORE_EINVAL;
    if (n == 0)
        return STORE_OK;
    return store_env_write_free(st, queue_fn, &a);
}

struct peek_arg {
    const char           *peer;
    size_t                max, n;
    struct store_erasure *items;
    size_t                depth;
    uint64_t              oldest;
    int                   count_only;
};

static int peek_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct peek_arg *a = arg;
    struct store_key pfx = { .len = 0 };
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    store_erasure_free(a->items, a->n);
    a->items = NULL;
    a->n = a->depth = 0;
    a->oldest = 0;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_ERASURES], &cur);
    if (rc != 0)
        return rc;
    if (a->peer) {
        store_db_key_prefix(&pfx, a->peer);
        k = store_db_val(&pfx);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0 && (a->count_only || a->n < a->max);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store_erasure e;
        if (a->peer && (k.mv_size != pfx.len + 8 || memcmp(k.mv_data, pfx.b, pfx.len) != 0))
            break;
        if (item_decode(&k, &v, &e, !a->count_only) != 0)
            continue;                   /* not ours: never sent, never counted */
        if (a->count_only) {
            a->depth++;
            if (a->oldest == 0 || e.requested_ms < a->oldest)
                a->oldest = e.requested_ms;
            continue;
        }
        a->items = xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
        a->items[a->n++] = e;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_erasure_peek(store_t *st, const char *peer, size_t max,
                       struct store_erasure **items, size_t *n)
{
    struct peek_arg a = { .peer = peer, .max = max };

    if (items)
        *items = NULL;
    if (n)
        *n = 0;
    if (st == NULL || items == NULL || n == NULL || (peer && !store_db_peer_ok(peer)))
        return STORE_EINVAL;
    if (max == 0)
        return STORE_OK;
    int rc = store_env_read(st, peek_fn, &a);
    if (rc != STORE_OK) {
        store_erasure_free(a.items, a.n);
        return rc;
    }
    *items = a.items;
    *n = a.n;
    return STORE_OK;
}

void store_erasure_free(struct store_erasure *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].peer);
        free(items[i].address);
    }
    free(items);
}

struct del_arg {
    const char     *peer;
    const uint64_t *seqs;
    size_t          n;
};

static int del_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct del_arg *a = arg;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        struct store_key key;
        store_db_key_outbox(&key, a->peer, a->seqs[i]);
        MDB_val k = store_db_val(&key);
        rc = mdb_del(txn, st->dbi[STORE_DB_ERASURES], &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

int store_erasure_delete(store_t *st, const char *peer, const uint64_t *seqs, size_t n)
{
    struct del_arg a = { peer, seqs, n };

    if (st == NULL || !store_db_peer_ok(peer) || (n > 0 && seqs == NULL))
        return STORE_EINVAL;
    if (n == 0)
        return STORE_OK;
    return store_env_write_free(st, del_fn, &a);
}

int store_erasure_stats(store_t *st, const char *peer, size_t *depth, uint64_t *oldest_ms)
{
    struct peek_arg a = { .peer = peer, .count_only = 1 };

    if (st == NULL || (peer && !store_db_peer_ok(peer)))
        return STORE_EINVAL;
    int rc = store_env_read(st, peek_fn, &a);
    if (depth)
        *depth = rc == STORE_OK ? a.depth : 0;
    if (oldest_ms)
        *oldest_ms = rc == STORE_OK ? a.oldest : 0;
    return rc;
}
