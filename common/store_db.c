/*
 * store_db - keys and record access inside a transaction; see store_db.h.
 */
#include "store_db.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_me.h"
#include "store_outbox.h"
#include "store_rec.h"
#include "xmem.h"

int store_db_addr_ok(const char *s)
{
    size_t n = s ? strnlen(s, STORE_ADDR_MAX + 1) : 0;
    return n > 0 && n <= STORE_ADDR_MAX;
}

int store_db_peer_ok(const char *s)
{
    size_t n = s ? strnlen(s, STORE_PEER_MAX + 1) : 0;
    return n > 0 && n <= STORE_PEER_MAX;
}

int store_db_field_ok(const char *s)
{
    return s == NULL || strnlen(s, STORE_FIELD_MAX + 1) <= STORE_FIELD_MAX;
}

int store_db_id_ok(const char *id)
{
    return id != NULL && mailid_id_valid(id, strnlen(id, MAILID_ID_LEN + 1));
}

void store_db_key_index(struct store_key *k, const char *addr, const char *id)
{
    size_t n = strlen(addr);
    memcpy(k->b, addr, n);
    k->b[n] = 0;
    memcpy(k->b + n + 1, id, MAILID_ID_LEN);
    k->len = n + 1 + MAILID_ID_LEN;
}

void store_db_key_rcpt(struct store_key *k, const char *id, const char *addr)
{
    size_t n = strlen(addr);
    memcpy(k->b, id, MAILID_ID_LEN);
    memcpy(k->b + MAILID_ID_LEN, addr, n);
    k->len = MAILID_ID_LEN + n;
}

void store_db_key_prefix(struct store_key *k, const char *name)
{
    size_t n = strlen(name);
    memcpy(k->b, name, n);
    k->b[n] = 0;
    k->len = n + 1;
}

void store_db_key_outbox(struct store_key *k, const char *peer, uint64_t seq)
{
    store_db_key_prefix(k, peer);
    /* big-endian so that keys sort by sequence */
    for (int i = 0; i < 8; i++)
        k->b[k->len + (size_t)i] = (unsigned char)(seq >> (56 - 8 * i));
    k->len += 8;
}

static int corrupt(const char *what, const char *id)
{
    log_error("store: %s record of mail %.26s cannot be decoded", what, id);
    return STORE_EIO;
}

int store_db_mail_load(store_t *st, MDB_txn *txn, const char *id, struct store_mail *out)
{
    MDB_val k = { MAILID_ID_LEN, STORE_MV(id) }, v;
    int rc = mdb_get(txn, st->dbi[STORE_DB_MAILS], &k, &v);

    if (rc == MDB_NOTFOUND)
        return STORE_ENOTFOUND;
    if (rc != 0)
        return rc;
    if (store_rec_mail_decode(v.mv_data, v.mv_size, id, out) < 0)
        return corrupt("mail", id);
    return 0;
}

int store_db_rec_load(store_t *st, MDB_txn *txn, const char *id,
                      struct store_mail_rec **out)
{
    struct store_mail_rec *rec = xcalloc(1, sizeof(*rec));
    MDB_cursor *cur = NULL;
    MDB_val k = { MAILID_ID_LEN, STORE_MV(id) }, v;
    size_t cap = 0;
    int rc;

    *out = NULL;
    rc = store_db_mail_load(st, txn, id, &rec->mail);
    if (rc != 0)
        goto fail;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_RCPTS], &cur);
    if (rc != 0)
        goto fail;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= MAILID_ID_LEN || memcmp(k.mv_data, id, MAILID_ID_LEN) != 0)
            break;
        if (rec->n_rcpts == cap) {
            cap = cap ? cap * 2 : 4;
            rec->rcpts = xrealloc(rec->rcpts, cap * sizeof(*rec->rcpts));
        }
        if (store_rec_rcpt_decode(v.mv_data, v.mv_size,
                                  (const char *)k.mv_data + MAILID_ID_LEN,
                                  k.mv_size - MAILID_ID_LEN,
                                  &rec->rcpts[rec->n_rcpts]) < 0) {
            rc = corrupt("recipient", id);
            goto fail;
        }
        rec->n_rcpts++;
    }
    if (rc != MDB_NOTFOUND && rc != 0)
        goto fail;
    mdb_cursor_close(cur);
    *out = rec;
    return 0;
fail:
    if (cur)
        mdb_cursor_close(cur);
    store_mail_rec_free(rec);
    return rc;
}

int store_db_rcpt_load(store_t *st, MDB_txn *txn, const char *id, const char *rcpt,
                       struct store_rcpt *out)
{
    struct store_key key;
    MDB_val k, v;
    int rc;

    memset(out, 0, sizeof(*out));
    store_db_key_rcpt(&key, id, rcpt);
    k = store_db_val(&key);
    rc = mdb_get(txn, st->dbi[STORE_DB_RCPTS], &k, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_val mk = { MAILID_ID_LEN, STORE_MV(id) }, mv;
        rc = mdb_get(txn, st->dbi[STORE_DB_MAILS], &mk, &mv);
        if (rc == MDB_NOTFOUND)
            return STORE_ENOTFOUND;
        return rc == 0 ? STORE_ENORCPT : rc;
    }
    if (rc != 0)
        return rc;
    if (store_rec_rcpt_decode(v.mv_data, v.mv_size, rcpt, strlen(rcpt), out) < 0)
        return corrupt("recipient", id);
    return 0;
}

int store_db_rcpt_save(store_t *st, MDB_txn *txn, const char *id,
                       const struct store_rcpt *r)
{
    struct store_rec_buf b = { 0 };
    struct store_key key;
    MDB_val k, v;
    int rc;

    store_rec_rcpt_encode(&b, r);
    store_db_key_rcpt(&key, id, r->address);
    k = store_db_val(&key);
    v.mv_size = b.len;
    v.mv_data = b.p;
    rc = mdb_put(txn, st->dbi[STORE_DB_RCPTS], &k, &v, 0);
    store_rec_buf_free(&b);
    return rc;
}

static int del_ignoring_missing(MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    int rc = mdb_del(txn, dbi, k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_db_rcpt_index_add(store_t *st, MDB_txn *txn, const char *addr, size_t addr_len,
                            const char *id)
{
    MDB_val k = { addr_len, STORE_MV(addr) }, v = { MAILID_ID_LEN, STORE_MV(id) };
    /* MDB_APPENDDUP fills the address's pages instead of splitting them
     * in half; it refuses (MDB_KEYEXIST) an id that is not the newest. */
    int rc = mdb_put(txn, st->dbi[STORE_DB_BY_RCPT], &k, &v, MDB_APPENDDUP);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(txn, st->dbi[STORE_DB_BY_RCPT], &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

int store_db_rcpt_index_del(store_t *st, MDB_txn *txn, const char *addr, size_t addr_len,
                            const char *id)
{
    MDB_val k = { addr_len, STORE_MV(addr) }, v = { MAILID_ID_LEN, STORE_MV(id) };
    int rc = mdb_del(txn, st->dbi[STORE_DB_BY_RCPT], &k, &v);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_db_mail_delete(store_t *st, MDB_txn *txn, const char *id)
{
    struct store_mail m;
    struct store_key key;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    rc = store_db_mail_load(st, txn, id, &m);
    if (rc != 0)
        return rc;
    if (!store_db_addr_ok(m.sender)) {
        store_rec_mail_clear(&m);
        return corrupt("mail", id);
    }
    rc = store_me_index(st, txn, &m, 1);
    store_db_key_index(&key, m.sender, id);
    store_rec_mail_clear(&m);
    if (rc != 0)
        return rc;
    k = store_db_val(&key);
    rc = del_ignoring_missing(txn, st->dbi[STORE_DB_BY_SENDER], &k);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_RCPTS], &cur);
    if (rc != 0)
        return rc;
    for (;;) {
        k.mv_size = MAILID_ID_LEN;
        k.mv_data = STORE_MV(id);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND ||
            (rc == 0 && (k.mv_size <= MAILID_ID_LEN ||
                         memcmp(k.mv_data, id, MAILID_ID_LEN) != 0))) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        size_t alen = k.mv_size - MAILID_ID_LEN;
        if (alen > STORE_ADDR_MAX) {
            rc = corrupt("recipient key", id);
            break;
        }
        /* copied out of the rcpts page before writing elsewhere */
        memcpy(key.b, (const char *)k.mv_data + MAILID_ID_LEN, alen);
        rc = store_db_rcpt_index_del(st, txn, (const char *)key.b, alen, id);
        if (rc == 0)
            rc = mdb_cursor_del(cur, 0);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    k.mv_size = MAILID_ID_LEN;
    k.mv_data = STORE_MV(id);
    return mdb_del(txn, st->dbi[STORE_DB_MAILS], &k, NULL);
}

int store_db_outbox_add(store_t *st, MDB_txn *txn, const char *peer,
                        const char *id, const char *rcpt, uint64_t now_ms)
{
    return store_outbox_add_txn(st, txn, peer, id, rcpt, now_ms, NULL);
}

/*
 * Keys of items in dbi whose recipient entry is gone, then delete them.
 * With upto set (a purge), an item is gone iff its id sorts at or before
 * upto: no mail that old is left, so no lookup per item is needed (the
 * sweep runs under the writer lock, and a peer that is down for long
 * leaves a big outbox).
 */
static int sweep_one(store_t *st, MDB_txn *txn, MDB_dbi dbi, const char *upto)
{
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned char (*dead)[sizeof(((struct store_key *)0)->b)] = NULL;
    size_t *dead_len = NULL, n = 0, cap = 0;
    int rc;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t queued;
        char id[MAILID_ID_LEN + 1];
        const char *rcpt;
        size_t rlen;
        int gone;
        if (store_rec_outbox_decode(v.mv_data, v.mv_size, &queued, id, &rcpt, &rlen) < 0 ||
            rlen > STORE_ADDR_MAX) {
            gone = 1;                   /* undecodable: nothing could send it */
        } else if (upto) {
            gone = memcmp(id, upto, MAILID_ID_LEN) <= 0;
        } else {
            struct store_key rk;
            memcpy(rk.b, id, MAILID_ID_LEN);
            memcpy(rk.b + MAILID_ID_LEN, rcpt, rlen);
            rk.len = MAILID_ID_LEN + rlen;
            MDB_val ek = store_db_val(&rk), ev;
            int grc = mdb_get(txn, st->dbi[STORE_DB_RCPTS], &ek, &ev);
            if (grc != 0 && grc != MDB_NOTFOUND) {
                rc = grc;
                break;
            }
            gone = grc == MDB_NOTFOUND;
        }
        if (gone && k.mv_size <= sizeof(dead[0])) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                dead = xrealloc(dead, cap * sizeof(*dead));
                dead_len = xrealloc(dead_len, cap * sizeof(*dead_len));
            }
            memcpy(dead[n], k.mv_data, k.mv_size);
            dead_len[n++] = k.mv_size;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        MDB_val dk = { dead_len[i], dead[i] };
        rc = del_ignoring_missing(txn, dbi, &dk);
    }
    free(dead);
    free(dead_len);
    return rc;
}

int store_db_outbox_sweep(store_t *st, MDB_txn *txn, const char *upto_id)
{
    int rc = sweep_one(st, txn, st->dbi[STORE_DB_OUTBOX], upto_id);
    if (rc == 0)
        rc = store_outbox_idx_sweep(st, txn);
    return rc ? rc : sweep_one(st, txn, st->dbi[STORE_DB_PARKED], upto_id);
}

void store_idlist_add(struct store_idlist *l, const void *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
    }
    memcpy(l->ids[l->n], id, MAILID_ID_LEN);
    l->ids[l->n][MAILID_ID_LEN] = '\0';
    l->n++;
}

void store_idlist_free(struct store_idlist *l)
{
    l->ids = xfree(l->ids);
    l->n = l->cap = 0;
}
