/*
 * store_outbox - one outbox item per entry and the per-peer bound; see
 * store_outbox.h.
 */
#include "store_outbox.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_db.h"
#include "store_rec.h"
#include "tbucket.h"
#include "xmem.h"

/* An index value: ID(26) rcpt_key 0x00 SEQ(u64 BE). */
struct idxval {
    unsigned char b[MAILID_ID_LEN + STORE_ADDR_MAX + 1 + 8];
    size_t        len;
};

static void idx_prefix(struct idxval *x, const char *id, const char *rcpt, size_t rlen)
{
    memcpy(x->b, id, MAILID_ID_LEN);
    memcpy(x->b + MAILID_ID_LEN, rcpt, rlen);
    x->b[MAILID_ID_LEN + rlen] = 0;
    x->len = MAILID_ID_LEN + rlen + 1;
}

static void idx_full(struct idxval *x, const char *id, const char *rcpt, size_t rlen,
                     uint64_t seq)
{
    idx_prefix(x, id, rcpt, rlen);
    for (int i = 0; i < 8; i++)
        x->b[x->len + (size_t)i] = (unsigned char)(seq >> (56 - 8 * i));
    x->len += 8;
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static MDB_val peer_val(const char *peer)
{
    MDB_val v = { strlen(peer), STORE_MV(peer) };
    return v;
}

/* The seq queued for (peer, id, rcpt): 0, MDB_NOTFOUND, or an error. */
static int idx_find(store_t *st, MDB_txn *txn, const char *peer, const char *id,
                    const char *rcpt, size_t rlen, uint64_t *seq)
{
    struct idxval pfx;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_OUTBOX_IDX], &cur);

    if (rc != 0)
        return rc;
    idx_prefix(&pfx, id, rcpt, rlen);
    MDB_val k = peer_val(peer), v = { pfx.len, pfx.b };
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
    if (rc == 0) {
        if (v.mv_size == pfx.len + 8 && memcmp(v.mv_data, pfx.b, pfx.len) == 0)
            *seq = be64((const unsigned char *)v.mv_data + pfx.len);
        else
            rc = MDB_NOTFOUND;
    }
    mdb_cursor_close(cur);
    return rc;
}

static int next_seq(store_t *st, MDB_txn *txn, uint64_t *out)
{
    MDB_val mk = { 10, (void *)"outbox_seq" }, mv;
    unsigned char sb[8];
    uint64_t seq = 0;
    int rc = mdb_get(txn, st->dbi[STORE_DB_META], &mk, &mv);

    if (rc == 0 && mv.mv_size == 8) {
        for (int i = 7; i >= 0; i--)
            seq = (seq << 8) | ((const unsigned char *)mv.mv_data)[i];
    } else if (rc != MDB_NOTFOUND && rc != 0) {
        return rc;
    }
    seq++;
    for (int i = 0; i < 8; i++)
        sb[i] = (unsigned char)(seq >> (8 * i));
    mv.mv_size = 8;
    mv.mv_data = sb;
    *out = seq;
    return mdb_put(txn, st->dbi[STORE_DB_META], &mk, &mv, 0);
}

int store_outbox_depth_txn(store_t *st, MDB_txn *txn, const char *peer, size_t *depth)
{
    MDB_cursor *cur;
    MDB_val k = peer_val(peer), v;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_OUTBOX_IDX], &cur);

    *depth = 0;
    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count(cur, depth);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Put the item and its index value under a fresh seq. */
static int put_item(store_t *st, MDB_txn *txn, const char *peer, const char *id,
                    const char *rcpt, size_t rlen, uint64_t queued_ms)
{
    struct store_key key;
    struct store_rec_buf b = { 0 };
    struct idxval x;
    uint64_t seq;
    char addr[STORE_ADDR_MAX + 1];
    int rc = next_seq(st, txn, &seq);

    if (rc != 0)
        return rc;
    memcpy(addr, rcpt, rlen);
    addr[rlen] = '\0';
    store_db_key_outbox(&key, peer, seq);
    store_rec_outbox_encode(&b, queued_ms, id, addr);
    MDB_val k = store_db_val(&key), v = { b.len, b.p };
    rc = mdb_put(txn, st->dbi[STORE_DB_OUTBOX], &k, &v, 0);
    store_rec_buf_free(&b);
    if (rc != 0)
        return rc;
    idx_full(&x, id, rcpt, rlen, seq);
    MDB_val ik = peer_val(peer), iv = { x.len, x.b };
    return mdb_put(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv, 0);
}

/* Remove the item (peer, seq) of (id, rcpt) and its index value; *queued
 * lowered to the item's queued_ms. */
static int drop_item(store_t *st, MDB_txn *txn, const char *peer, uint64_t seq,
                     const char *id, const char *rcpt, size_t rlen, uint64_t *queued)
{
    struct store_key key;
    struct idxval x;
    MDB_val k, v;
    int rc;

    store_db_key_outbox(&key, peer, seq);
    k = store_db_val(&key);
    rc = mdb_get(txn, st->dbi[STORE_DB_OUTBOX], &k, &v);
    if (rc == 0) {
        uint64_t q;
        char oid[MAILID_ID_LEN + 1];
        const char *r;
        size_t rl;
        if (store_rec_outbox_decode(v.mv_data, v.mv_size, &q, oid, &r, &rl) == 0 &&
            q != 0 && q < *queued)
            *queued = q;
        rc = mdb_del(txn, st->dbi[STORE_DB_OUTBOX], &k, NULL);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    idx_full(&x, id, rcpt, rlen, seq);
    MDB_val ik = peer_val(peer), iv = { x.len, x.b };
    rc = mdb_del(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_outbox_add_txn(store_t *st, MDB_txn *txn, const char *peer,
                         const char *id, const char *rcpt, uint64_t now_ms,
                         int *overflow)
{
    size_t rlen = strlen(rcpt);
    uint64_t queued = now_ms, old;
    int rc;

    if (overflow)
        *overflow = 0;
    if (rlen == 0 || rlen > STORE_ADDR_MAX)
        return STORE_EINVAL;
    rc = idx_find(st, txn, peer, id, rcpt, rlen, &old);
    if (rc == 0) {
        rc = drop_item(st, txn, peer, old, id, rcpt, rlen, &queued);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
        if (overflow && st->outbox_max) {
            size_t depth;
            rc = store_outbox_depth_txn(st, txn, peer, &depth);
            if (rc == 0 && depth >= st->outbox_max) {
                *overflow = 1;
                return 0;
            }
        }
    }
    if (rc != 0)
        return rc;
    return put_item(st, txn, peer, id, rcpt, rlen, queued);
}

int store_outbox_del_txn(store_t *st, MDB_txn *txn, const MDB_val *k, MDB_dbi moved_to,
                         int move)
{
    MDB_val key = *k, v;
    unsigned char *copy;
    size_t len;
    int rc;

    if (k->mv_size < 10 || k->mv_size > STORE_PEER_MAX + 9)
        return 0;                       /* not an outbox key: nothing there */
    rc = mdb_get(txn, st->dbi[STORE_DB_OUTBOX], &key, &v);
    if (rc == MDB_NOTFOUND)
        return 0;                       /* already gone: deleting is idempotent */
    if (rc != 0)
        return rc;
    /* v points into LMDB's pages, valid only until the next update. */
    len = v.mv_size;
    copy = xmalloc(len ? len : 1);
    memcpy(copy, v.mv_data, len);
    if (move) {
        MDB_val mv = { len, copy };
        rc = mdb_put(txn, moved_to, &key, &mv, 0);
    }
    if (rc == 0)
        rc = mdb_del(txn, st->dbi[STORE_DB_OUTBOX], &key, NULL);
    if (rc == 0) {
        uint64_t q;
        char id[MAILID_ID_LEN + 1], peer[STORE_PEER_MAX + 1];
        const char *r;
        size_t rl;
        const unsigned char *kb = k->mv_data;
        if (store_rec_outbox_decode(copy, len, &q, id, &r, &rl) == 0 &&
            rl <= STORE_ADDR_MAX) {
            struct idxval x;
            size_t plen = k->mv_size - 9;
            memcpy(peer, kb, plen);
            peer[plen] = '\0';
            idx_full(&x, id, r, rl, be64(kb + k->mv_size - 8));
            MDB_val ik = { plen, peer }, iv = { x.len, x.b };
            rc = mdb_del(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        /* undecodable: its index value, if any, goes in the next sweep */
    }
    free(copy);
    return rc;
}

int store_outbox_adopt_txn(store_t *st, MDB_txn *txn, const MDB_val *k)
{
    MDB_val key = *k, v;
    uint64_t q, old;
    char id[MAILID_ID_LEN + 1], peer[STORE_PEER_MAX + 1], addr[STORE_ADDR_MAX + 1];
    const char *r;
    size_t rl;
    int rc;

    if (k->mv_size < 10 || k->mv_size > STORE_PEER_MAX + 9)
        return 0;
    rc = mdb_get(txn, st->dbi[STORE_DB_OUTBOX], &key, &v);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (store_rec_outbox_decode(v.mv_data, v.mv_size, &q, id, &r, &rl) < 0 ||
        rl == 0 || rl > STORE_ADDR_MAX)
        return 0;                       /* undecodable: the next sweep drops it */
    memcpy(addr, r, rl);                /* r lives in LMDB's pages: copy first */
    addr[rl] = '\0';
    memcpy(peer, k->mv_data, k->mv_size - 9);
    peer[k->mv_size - 9] = '\0';
    uint64_t seq = be64((const unsigned char *)k->mv_data + k->mv_size - 8);
    rc = idx_find(st, txn, peer, id, addr, rl, &old);
    if (rc == 0 && old != seq)
        return mdb_del(txn, st->dbi[STORE_DB_OUTBOX], &key, NULL);
    if (rc == 0)
        return 0;
    if (rc != MDB_NOTFOUND)
        return rc;
    struct idxval x;
    idx_full(&x, id, addr, rl, seq);
    MDB_val ik = peer_val(peer), iv = { x.len, x.b };
    return mdb_put(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv, 0);
}

struct kv {
    unsigned char *k, *v;
    size_t         klen, vlen;
};

static void kv_free(struct kv *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].k);
        free(a[i].v);
    }
    free(a);
}

/* Every (key, value) of dbi, copied (so deleting does not move the walk). */
static int collect_all(MDB_txn *txn, MDB_dbi dbi, struct kv **out, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t cap = 0;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    *out = NULL;
    *n = 0;
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        struct kv *e = &(*out)[(*n)++];
        e->klen = k.mv_size;
        e->vlen = v.mv_size;
        e->k = xmalloc(k.mv_size ? k.mv_size : 1);
        e->v = xmalloc(v.mv_size ? v.mv_size : 1);
        memcpy(e->k, k.mv_data, k.mv_size);
        memcpy(e->v, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_outbox_idx_sweep(store_t *st, MDB_txn *txn)
{
    struct kv *all;
    size_t n;
    int rc = collect_all(txn, st->dbi[STORE_DB_OUTBOX_IDX], &all, &n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct store_key key;
        MDB_val ov;
        int gone = all[i].klen == 0 || all[i].klen > STORE_PEER_MAX ||
                   all[i].vlen < MAILID_ID_LEN + 1 + 8;
        if (!gone) {
            char peer[STORE_PEER_MAX + 1];
            memcpy(peer, all[i].k, all[i].klen);
            peer[all[i].klen] = '\0';
            store_db_key_outbox(&key, peer, be64(all[i].v + all[i].vlen - 8));
            MDB_val ok = store_db_val(&key);
            rc = mdb_get(txn, st->dbi[STORE_DB_OUTBOX], &ok, &ov);
            gone = rc == MDB_NOTFOUND;
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc == 0 && gone) {
            MDB_val ik = { all[i].klen, all[i].k }, iv = { all[i].vlen, all[i].v };
            rc = mdb_del(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    kv_free(all, n);
    return rc;
}

int store_outbox_migrate_2(store_t *st, MDB_txn *txn)
{
    struct kv *all;
    size_t n;
    int rc = collect_all(txn, st->dbi[STORE_DB_OUTBOX], &all, &n);

    /* Keys sort by peer then seq, so an entry's newest item comes last. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t queued, old;
        char id[MAILID_ID_LEN + 1], peer[STORE_PEER_MAX + 1];
        const char *r;
        size_t rl;
        if (all[i].klen < 10 || all[i].klen > STORE_PEER_MAX + 9 ||
            store_rec_outbox_decode(all[i].v, all[i].vlen, &queued, id, &r, &rl) < 0 ||
            rl == 0 || rl > STORE_ADDR_MAX)
            continue;                   /* the next sweep drops what cannot be sent */
        memcpy(peer, all[i].k, all[i].klen - 9);
        peer[all[i].klen - 9] = '\0';
        uint64_t seq = be64(all[i].k + all[i].klen - 8);
        rc = idx_find(st, txn, peer, id, r, rl, &old);
        if (rc == 0) {
            /* an older item of the same entry: this one replaces it */
            uint64_t q = queued;
            rc = drop_item(st, txn, peer, old, id, r, rl, &q);
            if (rc == 0 && q < queued) {
                struct store_rec_buf b = { 0 };
                char addr[STORE_ADDR_MAX + 1];
                memcpy(addr, r, rl);
                addr[rl] = '\0';
                store_rec_outbox_encode(&b, q, id, addr);
                MDB_val k = { all[i].klen, all[i].k }, v = { b.len, b.p };
                rc = mdb_put(txn, st->dbi[STORE_DB_OUTBOX], &k, &v, 0);
                store_rec_buf_free(&b);
            }
        } else if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
        if (rc == 0) {
            struct idxval x;
            idx_full(&x, id, r, rl, seq);
            MDB_val ik = peer_val(peer), iv = { x.len, x.b };
            rc = mdb_put(txn, st->dbi[STORE_DB_OUTBOX_IDX], &ik, &iv, 0);
        }
    }
    kv_free(all, n);
    return rc;
}

void store_outbox_overflowed(store_t *st, const char *id, const char *rcpt,
                             const char *peer)
{
    /* recorded here, not forwarded: one line per burst, not per read */
    static struct tbucket tb = TBUCKET_INIT(1.0 / 10, 1);
    uint64_t dropped = 0;

    atomic_fetch_add(&st->outbox_overflow, 1);
    if (tbucket_take(&tb, tbucket_now_ms(), &dropped))
        log_warn("mail %s: rcpt %s: outbox for %s full (forward_max_queue = %zu): "
                 "change recorded here, not forwarded (%llu more since the last "
                 "such line)", id, rcpt, peer, st->outbox_max, (unsigned long long)dropped);
}
