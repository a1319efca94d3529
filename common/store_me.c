/*
 * store_me - a user's own view of the mail log; see store_me.h.
 */
#include "store_me.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "store_db.h"
#include "store_env.h"
#include "store_rec.h"
#include "xmem.h"

size_t store_msgid_norm(const char *in, char *out, size_t outlen)
{
    size_t a = 0, b, n, o = 0;

    if (in == NULL || outlen < 3)
        return 0;
    b = strlen(in);
    while (a < b && (in[a] == ' ' || in[a] == '\t' || in[a] == '\r' || in[a] == '\n'))
        a++;
    while (b > a && (in[b - 1] == ' ' || in[b - 1] == '\t' || in[b - 1] == '\r' ||
                     in[b - 1] == '\n'))
        b--;
    n = b - a;
    if (n >= 2 && in[a] == '<' && in[b - 1] == '>') {
        a++;
        b--;
        n -= 2;
    }
    if (n == 0 || n + 2 > STORE_MSGID_LEN_MAX || n + 3 > outlen)
        return 0;
    const char *at = NULL;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x21 || c == 0x7f || c == '<' || c == '>')
            return 0;
        if (c == '@')
            at = in + i;
    }
    out[o++] = '<';
    for (size_t i = a; i < b; i++) {
        char c = in[i];
        if (at && in + i > at && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = c;
    }
    out[o++] = '>';
    out[o] = '\0';
    return o;
}

int store_msgid_hash(const char *msgid, unsigned char h[STORE_MSGID_HASH])
{
    char norm[STORE_MSGID_LEN_MAX + 1];
    size_t n = store_msgid_norm(msgid, norm, sizeof(norm));

    if (n == 0)
        return -1;
    crypto_generichash(h, STORE_MSGID_HASH, (const unsigned char *)norm, n, NULL, 0);
    return 0;
}

/* ---- index maintenance ---- */

static int idx_op(MDB_txn *txn, MDB_dbi dbi, const struct store_key *key, int del)
{
    MDB_val k = store_db_val(key), empty = { 0, (void *)"" };
    if (!del)
        return mdb_put(txn, dbi, &k, &empty, 0);
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void key_msgid(struct store_key *k, const unsigned char h[STORE_MSGID_HASH],
                      const char *id)
{
    memcpy(k->b, h, STORE_MSGID_HASH);
    memcpy(k->b + STORE_MSGID_HASH, id, MAILID_ID_LEN);
    k->len = STORE_MSGID_HASH + MAILID_ID_LEN;
}

int store_me_index(store_t *st, MDB_txn *txn, const struct store_mail *m, int del)
{
    struct store_key key;
    unsigned char h[STORE_MSGID_HASH];
    int rc = 0;

    if (m->login && store_db_addr_ok(m->login)) {
        store_db_key_index(&key, m->login, m->id);
        rc = idx_op(txn, st->dbi[STORE_DB_BY_LOGIN], &key, del);
    }
    if (rc == 0 && m->message_id && store_msgid_hash(m->message_id, h) == 0) {
        key_msgid(&key, h, m->id);
        rc = idx_op(txn, st->dbi[STORE_DB_BY_MSGID], &key, del);
    }
    return rc;
}

int store_me_migrate_1(store_t *st, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct store_idlist ids = { 0 };
    int rc;

    /* Collect first: the index puts must not run under the mails cursor's
     * feet (different sub-databases, but keep it simple and obvious). */
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_MAILS], &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size == MAILID_ID_LEN)
            store_idlist_add(&ids, k.mv_data);
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        store_idlist_free(&ids);
        return rc;
    }
    rc = 0;
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        struct store_mail m;
        rc = store_db_mail_load(st, txn, ids.ids[i], &m);
        if (rc == STORE_EIO) {
            rc = 0;                 /* logged; a damaged record is not indexed */
            continue;
        }
        if (rc == 0)
            rc = store_me_index(st, txn, &m, 0);
        store_rec_mail_clear(&m);
    }
    if (rc == 0 && ids.n)
        log_info("store %s: indexed %zu mails by Message-ID", st->path, ids.n);
    store_idlist_free(&ids);
    return rc;
}

/* ---- scans ---- */

/* One descending range scan over "prefix ID" keys of an index. */
struct scan {
    MDB_cursor      *cur;
    struct store_key pfx;
    int              done;
    char             id[MAILID_ID_LEN + 1];
};

static int scan_check(struct scan *s, int rc, MDB_val *k)
{
    if (rc == MDB_NOTFOUND) {
        s->done = 1;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (k->mv_size != s->pfx.len + MAILID_ID_LEN ||
        memcmp(k->mv_data, s->pfx.b, s->pfx.len) != 0) {
        s->done = 1;
        return 0;
    }
    memcpy(s->id, (const char *)k->mv_data + s->pfx.len, MAILID_ID_LEN);
    s->id[MAILID_ID_LEN] = '\0';
    return 0;
}

/* Position on the newest key of the prefix below bound (an id or id prefix,
 * NULL = none). */
static int scan_open(store_t *st, MDB_txn *txn, MDB_dbi dbi, struct scan *s,
                     const char *name, const char *bound)
{
    struct store_key upper;
    MDB_val k, v;
    int rc;

    memset(s, 0, sizeof(*s));
    if (name == NULL || !store_db_addr_ok(name)) {
        s->done = 1;
        return 0;
    }
    store_db_key_prefix(&s->pfx, name);
    rc = mdb_cursor_open(txn, dbi, &s->cur);
    if (rc != 0)
        return rc;
    (void)st;
    upper = s->pfx;
    if (bound) {
        memcpy(upper.b + upper.len, bound, strlen(bound));
        upper.len += strlen(bound);
    } else {
        upper.b[upper.len - 1] = 1;
    }
    k = store_db_val(&upper);
    rc = mdb_cursor_get(s->cur, &k, &v, MDB_SET_RANGE);
    rc = mdb_cursor_get(s->cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    return scan_check(s, rc, &k);
}

static int scan_next(struct scan *s)
{
    MDB_val k, v;
    if (s->done)
        return 0;
    int rc = mdb_cursor_get(s->cur, &k, &v, MDB_PREV);
    return scan_check(s, rc, &k);
}

static void scan_close(struct scan *s)
{
    if (s->cur)
        mdb_cursor_close(s->cur);
    s->cur = NULL;
}

/* Filters of a query that the index scan does not apply. */
static int me_match(const struct store_query *q, const struct store_mail_rec *rec)
{
    if (q->recipient || q->status >= 0) {
        for (size_t i = 0; i < rec->n_rcpts; i++) {
            const struct store_rcpt *r = &rec->rcpts[i];
            if (q->recipient && strcmp(r->address, q->recipient) != 0)
                continue;
            if (q->status < 0 || r->status == q->status)
                return 1;
        }
        return 0;
    }
    return 1;
}

static void list_push(struct store_list *out, size_t *cap, struct store_mail_rec *rec)
{
    if (out->n_mails == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->mails = xrealloc(out->mails, *cap * sizeof(*out->mails));
    }
    out->mails[out->n_mails++] = *rec;
    free(rec);                          /* contents moved into the array */
}

struct sent_arg {
    const char               *login, *address;
    const struct store_query *q;
    struct store_list        *out;
};

static int sent_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct sent_arg *a = arg;
    const struct store_query *q = a->q;
    struct store_list *out = a->out;
    struct scan s1, s2;
    char since[MAILID_TIME_LEN + 1], until[MAILID_TIME_LEN + 1];
    const char *bound = NULL;
    size_t cap = 0;
    int rc;

    store_list_clear(out);
    mailid_time_prefix(q->since_ms, since);
    if (q->until_ms) {
        mailid_time_prefix(q->until_ms, until);
        bound = until;
    }
    if (q->cursor && (bound == NULL || strcmp(q->cursor, bound) < 0))
        bound = q->cursor;
    rc = scan_open(st, txn, st->dbi[STORE_DB_BY_LOGIN], &s1, a->login, bound);
    if (rc == 0)
        rc = scan_open(st, txn, st->dbi[STORE_DB_BY_SENDER], &s2, a->address, bound);
    while (rc == 0 && !(s1.done && s2.done)) {
        /* The newer of the two heads; equal ids are one mail (advance both). */
        char id[MAILID_ID_LEN + 1];
        int c = s1.done ? 1 : s2.done ? -1 : -strcmp(s1.id, s2.id);
        memcpy(id, c <= 0 ? s1.id : s2.id, sizeof(id));
        if (q->since_ms && memcmp(id, since, MAILID_TIME_LEN) < 0)
            break;
        if (c <= 0)
            rc = scan_next(&s1);
        if (rc == 0 && c >= 0)
            rc = scan_next(&s2);
        if (rc != 0)
            break;
        struct store_mail_rec *rec;
        rc = store_db_rec_load(st, txn, id, &rec);
        if (rc == STORE_ENOTFOUND) {
            log_warn("store: index entry for mail %s without a mail record", id);
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        if (!me_match(q, rec)) {
            store_mail_rec_free(rec);
            continue;
        }
        if (out->n_mails == q->limit) {
            memcpy(out->next_cursor, out->mails[out->n_mails - 1].mail.id,
                   MAILID_ID_LEN + 1);
            store_mail_rec_free(rec);
            break;
        }
        list_push(out, &cap, rec);
    }
    scan_close(&s1);
    scan_close(&s2);
    return rc;
}

int store_list_sent(store_t *st, const char *login, const char *address,
                    const struct store_query *q, struct store_list *out)
{
    if (out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof(*out));
    if (st == NULL || q == NULL || q->limit < 1 || q->limit > 1000 ||
        (login == NULL && address == NULL) ||
        (q->recipient && !store_db_addr_ok(q->recipient)) ||
        q->status < -1 || q->status > STORE_READ ||
        (q->cursor && !store_db_id_ok(q->cursor)))
        return STORE_EINVAL;
    if (q->until_ms && q->until_ms <= q->since_ms)
        return STORE_OK;
    struct sent_arg a = { login, address, q, out };
    int rc = store_env_read(st, sent_fn, &a);
    if (rc != STORE_OK)
        store_list_clear(out);
    return rc;
}

/* ---- by Message-ID ---- */

struct msgid_arg {
    const char        *login, *address;
    const char *const *msgids;
    size_t             n;
    struct store_list *out;
};

static int mine(const struct msgid_arg *a, const struct store_mail *m)
{
    return (a->login && m->login && strcmp(a->login, m->login) == 0) ||
           (a->address && strcmp(a->address, m->sender) == 0);
}

static int cmp_newest_first(const void *x, const void *y)
{
    const struct store_mail_rec *a = x, *b = y;
    return -strcmp(a->mail.id, b->mail.id);
}

static int msgid_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct msgid_arg *a = arg;
    struct store_list *out = a->out;
    struct store_idlist seen = { 0 };
    size_t cap = 0;
    MDB_cursor *cur;
    int rc;

    store_list_clear(out);
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_BY_MSGID], &cur);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        char want[STORE_MSGID_LEN_MAX + 1], have[STORE_MSGID_LEN_MAX + 1];
        unsigned char h[STORE_MSGID_HASH];
        if (store_msgid_norm(a->msgids[i], want, sizeof(want)) == 0)
            continue;
        crypto_generichash(h, sizeof(h), (const unsigned char *)want, strlen(want),
                           NULL, 0);
        MDB_val k = { sizeof(h), h }, v;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != STORE_MSGID_HASH + MAILID_ID_LEN ||
                memcmp(k.mv_data, h, STORE_MSGID_HASH) != 0)
                break;
            char id[MAILID_ID_LEN + 1];
            memcpy(id, (const char *)k.mv_data + STORE_MSGID_HASH, MAILID_ID_LEN);
            id[MAILID_ID_LEN] = '\0';
            int dup = 0;
            for (size_t j = 0; j < seen.n && !dup; j++)
                dup = memcmp(seen.ids[j], id, MAILID_ID_LEN) == 0;
            if (dup)
                continue;
            struct store_mail_rec *rec;
            int lrc = store_db_rec_load(st, txn, id, &rec);
            if (lrc == STORE_ENOTFOUND)
                continue;
            if (lrc != 0) {
                rc = lrc;
                break;
            }
            /* The hash only narrows: the Message-ID itself must be equal. */
            if (mine(a, &rec->mail) && rec->mail.message_id &&
                store_msgid_norm(rec->mail.message_id, have, sizeof(have)) &&
                strcmp(have, want) == 0) {
                store_idlist_add(&seen, id);
                list_push(out, &cap, rec);
            } else {
                store_mail_rec_free(rec);
            }
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    mdb_cursor_close(cur);
    store_idlist_free(&seen);
    if (rc == 0 && out->n_mails > 1)
        qsort(out->mails, out->n_mails, sizeof(*out->mails), cmp_newest_first);
    return rc;
}

int store_find_msgids(store_t *st, const char *login, const char *address,
                      const char *const *msgids, size_t n, struct store_list *out)
{
    if (out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof(*out));
    if (st == NULL || (login == NULL && address == NULL) || n > STORE_MSGID_MAX ||
        (n > 0 && msgids == NULL))
        return STORE_EINVAL;
    struct msgid_arg a = { login, address, msgids, n, out };
    int rc = store_env_read(st, msgid_fn, &a);
    if (rc != STORE_OK)
        store_list_clear(out);
    return rc;
}
