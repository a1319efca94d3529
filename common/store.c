/*
 * store - the public mail-log API (store.h): open/close, recording mails,
 * reads, merges, lookups and listing.  Purge, erasure and the outbox are in
 * store_admin.c; the LMDB machinery is store_env.c, keys and record access
 * store_db.c, the byte encoding store_rec.c.
 *
 * Each write function validates its arguments, then hands a function to
 * store_env_write(); that function may run more than once (map growth), so
 * it clears its own outputs first and touches nothing outside the txn.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_db.h"
#include "store_events.h"
#include "store_env.h"
#include "store_outbox.h"
#include "store_me.h"
#include "store_rec.h"
#include "xmem.h"

int store_open(const struct store_opts *opts, store_t **out, char *err, size_t errlen)
{
    return store_env_open(opts, out, err, errlen);
}

store_t *store_close(store_t *st)
{
    store_env_close(st);
    return NULL;
}

void store_rcpt_clear(struct store_rcpt *r)
{
    if (r == NULL)
        return;
    free(r->address);
    free(r->server);
    free(r->original_recipient);
    memset(r, 0, sizeof(*r));
}

struct store_mail_rec *store_mail_rec_free(struct store_mail_rec *rec)
{
    if (rec == NULL)
        return NULL;
    store_rec_mail_clear(&rec->mail);
    for (size_t i = 0; i < rec->n_rcpts; i++)
        store_rcpt_clear(&rec->rcpts[i]);
    free(rec->rcpts);
    free(rec);
    return NULL;
}

/* ---- put_sent ---- */

struct put_arg {
    const struct store_mail *mail;
    const struct store_rcpt **order;   /* rcpts by address (key order) */
    size_t                   n;
    uint64_t                 now;
};

static int put_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct put_arg *a = arg;
    const char *id = a->mail->id;
    struct store_rec_buf b = { 0 };
    struct store_key key;
    MDB_val k = { MAILID_ID_LEN, STORE_MV(id) }, v;
    int rc;

    rc = mdb_get(txn, st->dbi[STORE_DB_MAILS], &k, &v);
    if (rc == MDB_NOTFOUND) {
        /* A new mail; a relayed one keeps the record made first. */
        struct store_mail m = *a->mail;
        if (m.created_ms == 0)
            m.created_ms = a->now;
        store_rec_mail_encode(&b, &m);
        v.mv_size = b.len;
        v.mv_data = b.p;
        rc = mdb_put(txn, st->dbi[STORE_DB_MAILS], &k, &v, 0);
        if (rc == 0) {
            store_db_key_index(&key, m.sender, id);
            MDB_val ik = store_db_val(&key), empty = { 0, (void *)"" };
            rc = mdb_put(txn, st->dbi[STORE_DB_BY_SENDER], &ik, &empty, 0);
        }
        if (rc == 0)
            rc = store_me_index(st, txn, &m, 0);
    }
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        struct store_rcpt r = *a->order[i];
        r.status = STORE_SENT;
        r.first_read_ms = r.last_read_ms = 0;
        r.read_count = 0;
        r.updated_ms = a->now;
        r.via[0] = '\0';
        store_rec_rcpt_encode(&b, &r);
        store_db_key_rcpt(&key, id, r.address);
        MDB_val rk = store_db_val(&key), rv = { b.len, b.p };
        /* A new mail's id is (nearly always) the newest and its entries
         * come in key order: MDB_APPEND then fills pages instead of
         * splitting them in half.  It refuses (MDB_KEYEXIST) a key that is
         * not past the last one; the plain insert below never resets an
         * existing entry (a relayed mail seen twice). */
        rc = mdb_put(txn, st->dbi[STORE_DB_RCPTS], &rk, &rv, MDB_APPEND);
        if (rc == MDB_KEYEXIST)
            rc = mdb_put(txn, st->dbi[STORE_DB_RCPTS], &rk, &rv, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = store_db_rcpt_index_add(st, txn, r.address, strlen(r.address), id);
    }
    store_rec_buf_free(&b);
    return rc;
}

/* By address bytes, as LMDB orders the keys "ID address" of one mail
 * (addresses hold no NUL, so strcmp is memcmp then length); a repeated
 * address keeps its input order (the first one is recorded, as before). */
static int rcpt_order_cmp(const void *x, const void *y)
{
    const struct store_rcpt *const *a = x, *const *b = y;
    int c = strcmp((*a)->address, (*b)->address);
    return c ? c : (*a < *b ? -1 : *a > *b);
}

static int put_sent_ok(const struct store_mail *mail, const struct store_rcpt *rcpts,
                       size_t n_rcpts)
{
    if (mail == NULL || !store_db_id_ok(mail->id) ||
        !store_db_addr_ok(mail->sender) || !store_db_field_ok(mail->queue_id) ||
        !store_db_field_ok(mail->message_id) || !store_db_field_ok(mail->subject) ||
        (mail->login && !store_db_addr_ok(mail->login)) ||
        (n_rcpts > 0 && rcpts == NULL))
        return 0;
    for (size_t i = 0; i < n_rcpts; i++)
        if (!store_db_addr_ok(rcpts[i].address) || !store_db_field_ok(rcpts[i].server))
            return 0;
    return 1;
}

static const struct store_rcpt **put_order(const struct store_rcpt *rcpts, size_t n_rcpts)
{
    const struct store_rcpt **order = xcalloc(n_rcpts ? n_rcpts : 1, sizeof(*order));
    for (size_t i = 0; i < n_rcpts; i++)
        order[i] = &rcpts[i];
    qsort(order, n_rcpts, sizeof(*order), rcpt_order_cmp);
    return order;
}

int store_put_sent(store_t *st, const struct store_mail *mail,
                   const struct store_rcpt *rcpts, size_t n_rcpts)
{
    if (st == NULL || !put_sent_ok(mail, rcpts, n_rcpts))
        return STORE_EINVAL;
    const struct store_rcpt **order = put_order(rcpts, n_rcpts);
    struct put_arg a = { mail, order, n_rcpts, store_now_ms() };
    int rc = store_env_write(st, put_fn, &a);
    free(order);
    return rc;
}

struct put_many_arg {
    struct put_arg *puts;
    size_t          n;
};

static int put_many_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct put_many_arg *a = arg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->n; i++)
        rc = put_fn(st, txn, &a->puts[i]);
    return rc;
}

int store_put_sent_many(store_t *st, const struct store_sent *mails, size_t n)
{
    if (st == NULL || (n > 0 && mails == NULL))
        return STORE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!put_sent_ok(mails[i].mail, mails[i].rcpts, mails[i].n_rcpts))
            return STORE_EINVAL;
    if (n == 0)
        return STORE_OK;
    struct put_many_arg a = { xcalloc(n, sizeof(*a.puts)), n };
    uint64_t now = store_now_ms();
    for (size_t i = 0; i < n; i++) {
        a.puts[i].mail = mails[i].mail;
        a.puts[i].order = put_order(mails[i].rcpts, mails[i].n_rcpts);
        a.puts[i].n = mails[i].n_rcpts;
        a.puts[i].now = now;
    }
    int rc = store_env_write(st, put_many_fn, &a);
    for (size_t i = 0; i < n; i++)
        free(a.puts[i].order);
    free(a.puts);
    return rc;
}

/* ---- reads and deletions reported for a recipient ---- */

struct mark_arg {
    const char       *id, *rcpt, *via, *forward_to;
    uint64_t          when, now;
    int               deleted;     /* 0 = read, 1 = deleted_unread */
    int               overflow;    /* the peer's outbox was full: not queued */
    const struct store_rcpt *remote; /* merge */
    struct store_rcpt after;
};

static int mark_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct mark_arg *a = arg;
    int changed = 1, rc;

    store_rcpt_clear(&a->after);
    a->overflow = 0;
    rc = store_db_rcpt_load(st, txn, a->id, a->rcpt, &a->after);
    if (rc != 0)
        return rc;
    if (a->remote)
        changed = store_rec_merge(&a->after, a->remote);
    else if (a->deleted)
        changed = store_rec_apply_deleted(&a->after, a->via);
    else
        store_rec_apply_read(&a->after, a->when, a->via);
    if (!changed)
        return 0;
    a->after.updated_ms = a->now;
    rc = store_db_rcpt_save(st, txn, a->id, &a->after);
    if (rc == 0)    /* the feed (issue 17): a merge, an expunge or a read */
        rc = store_events_append(st, txn, a->remote ? STORE_EVK_MERGE : a->deleted ? STORE_EV_DELETED_UNREAD : STORE_EV_READ, a->id, &a->after, a->now);
    if (rc == 0 && a->forward_to)
        rc = store_outbox_add_txn(st, txn, a->forward_to, a->id, a->rcpt, a->now,
                                  &a->overflow);
    return rc;
}

static int mark_run(store_t *st, struct mark_arg *a, struct store_rcpt *after)
{
    if (after)
        memset(after, 0, sizeof(*after));
    if (st == NULL || !store_db_id_ok(a->id) || !store_db_addr_ok(a->rcpt) ||
        (a->forward_to && !store_db_peer_ok(a->forward_to)))
        return STORE_EINVAL;
    a->now = store_now_ms();
    if (a->when == 0)
        a->when = a->now;
    int rc = store_env_write(st, mark_fn, a);
    if (rc == STORE_OK && a->overflow)
        store_outbox_overflowed(st, a->id, a->rcpt, a->forward_to);
    if (rc == STORE_OK && after)
        *after = a->after;
    else
        store_rcpt_clear(&a->after);
    return rc;
}

int store_mark_read(store_t *st, const char *id, const char *rcpt,
                    uint64_t when_ms, const char *via, const char *forward_to,
                    struct store_rcpt *after)
{
    struct mark_arg a = { .id = id, .rcpt = rcpt, .via = via,
                          .forward_to = forward_to, .when = when_ms };
    return mark_run(st, &a, after);
}

int store_mark_deleted_unread(store_t *st, const char *id, const char *rcpt,
                              uint64_t when_ms, const char *via,
                              const char *forward_to, struct store_rcpt *after)
{
    struct mark_arg a = { .id = id, .rcpt = rcpt, .via = via,
                          .forward_to = forward_to, .when = when_ms, .deleted = 1 };
    return mark_run(st, &a, after);
}

int store_merge(store_t *st, const char *id, const struct store_rcpt *remote,
                struct store_rcpt *after)
{
    if (remote == NULL || remote->status < STORE_SENT || remote->status > STORE_READ ||
        memchr(remote->via, '\0', sizeof(remote->via)) == NULL) {
        if (after)
            memset(after, 0, sizeof(*after));
        return STORE_EINVAL;
    }
    struct mark_arg a = { .id = id, .rcpt = remote->address, .remote = remote };
    return mark_run(st, &a, after);
}

/* ---- lookups ---- */

struct get_arg {
    const char            *id;
    struct store_mail_rec *rec;
};

static int get_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct get_arg *a = arg;
    return store_db_rec_load(st, txn, a->id, &a->rec);
}

int store_get_mail(store_t *st, const char *id, struct store_mail_rec **out)
{
    struct get_arg a = { id, NULL };

    if (out)
        *out = NULL;
    if (st == NULL || out == NULL || !store_db_id_ok(id))
        return STORE_EINVAL;
    int rc = store_env_read(st, get_fn, &a);
    if (rc == STORE_OK)
        *out = a.rec;
    return rc;
}

/* ---- listing ---- */

struct list_arg {
    const struct store_query *q;
    struct store_list        *out;
    size_t                    cap;
    size_t                    max_scan;   /* 0 = no bound */
};

/* 1 if rec passes the filters the scan itself does not apply. */
static int list_match(const struct store_query *q, const struct store_mail_rec *rec)
{
    if (q->sender && strcmp(rec->mail.sender, q->sender) != 0)
        return 0;
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

/*
 * Position cur (on rcpt_idx) on addr's newest id below bound (a time prefix
 * or an id; NULL = none); MDB_NOTFOUND if there is none.  The bound is
 * padded with '0', the lowest base32 digit: below "PREFIX000..." is below
 * every id with that prefix, as below "PREFIX" was in the old key layout.
 */
static int list_seek_dup(MDB_cursor *cur, const char *addr, const char *bound,
                         MDB_val *k, MDB_val *v)
{
    char b[MAILID_ID_LEN];
    int rc;

    k->mv_size = strlen(addr);
    k->mv_data = STORE_MV(addr);
    rc = mdb_cursor_get(cur, k, v, MDB_SET);
    if (rc != 0 || bound == NULL)
        return rc ? rc : mdb_cursor_get(cur, k, v, MDB_LAST_DUP);
    memset(b, '0', sizeof(b));
    memcpy(b, bound, strnlen(bound, sizeof(b)));
    v->mv_size = sizeof(b);
    v->mv_data = b;
    rc = mdb_cursor_get(cur, k, v, MDB_GET_BOTH_RANGE);
    if (rc == 0)
        return mdb_cursor_get(cur, k, v, MDB_PREV_DUP);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* every id is below the bound: the newest one */
    k->mv_size = strlen(addr);
    k->mv_data = STORE_MV(addr);
    rc = mdb_cursor_get(cur, k, v, MDB_SET);
    return rc ? rc : mdb_cursor_get(cur, k, v, MDB_LAST_DUP);
}

static int list_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct list_arg *a = arg;
    const struct store_query *q = a->q;
    struct store_list *out = a->out;
    struct store_key pfx = { .len = 0 }, upper;
    char since[MAILID_TIME_LEN + 1], until[MAILID_TIME_LEN + 1];
    const char *bound = NULL;
    MDB_dbi dbi = st->dbi[STORE_DB_MAILS];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    /* Clear an earlier attempt's output (cannot happen for reads today). */
    store_list_clear(out);
    a->cap = 0;
    size_t scanned = 0;
    char last[MAILID_ID_LEN + 1] = "";
    int dup = q->recipient != NULL;     /* rcpt_idx: the address's dups */
    if (dup) {
        dbi = st->dbi[STORE_DB_BY_RCPT];
    } else if (q->sender) {
        dbi = st->dbi[STORE_DB_BY_SENDER];
        store_db_key_prefix(&pfx, q->sender);
    }
    mailid_time_prefix(q->since_ms, since);
    if (q->until_ms) {
        mailid_time_prefix(q->until_ms, until);
        bound = until;
    }
    if (q->cursor && (bound == NULL || strcmp(q->cursor, bound) < 0))
        bound = q->cursor;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    if (dup) {
        rc = list_seek_dup(cur, q->recipient, bound, &k, &v);
    } else {
        /* Position on the newest key below the upper bound, within the
         * prefix. */
        upper = pfx;
        if (bound) {
            memcpy(upper.b + upper.len, bound, strlen(bound));
            upper.len += strlen(bound);
        } else if (pfx.len) {
            upper.b[pfx.len - 1] = 1;   /* just past every "addr 0x00 ..." */
        }
        if (upper.len) {
            k = store_db_val(&upper);
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            rc = mdb_cursor_get(cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
        } else {
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        }
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, dup ? MDB_PREV_DUP : MDB_PREV)) {
        const char *id;
        if (dup) {
            if (v.mv_size != MAILID_ID_LEN)
                break;
            id = v.mv_data;
        } else {
            if (k.mv_size != pfx.len + MAILID_ID_LEN ||
                memcmp(k.mv_data, pfx.b, pfx.len) != 0)
                break;
            id = (const char *)k.mv_data + pfx.len;
        }
        if (q->since_ms && memcmp(id, since, MAILID_TIME_LEN) < 0)
            break;
        char idz[MAILID_ID_LEN + 1];
        memcpy(idz, id, MAILID_ID_LEN);
        idz[MAILID_ID_LEN] = '\0';
        if (a->max_scan && scanned == a->max_scan) {
            /* More may match below: stop here with a cursor rather than walk
             * the whole log under one read transaction. */
            out->scan_limited = 1;
            memcpy(out->next_cursor, last, MAILID_ID_LEN + 1);
            break;
        }
        scanned++;
        memcpy(last, idz, MAILID_ID_LEN + 1);
        struct store_mail_rec *rec;
        rc = store_db_rec_load(st, txn, idz, &rec);
        if (rc == STORE_ENOTFOUND) {
            log_warn("store: index entry for mail %s without a mail record", idz);
            continue;
        }
        if (rc != 0)
            break;
        int match = list_match(q, rec);
        if (match && out->n_mails == q->limit) {
            /* one more match exists: the page ends at the last one taken */
            memcpy(out->next_cursor, out->mails[out->n_mails - 1].mail.id,
                   MAILID_ID_LEN + 1);
            store_mail_rec_free(rec);
            break;
        }
        if (match) {
            if (out->n_mails == a->cap) {
                a->cap = a->cap ? a->cap * 2 : 16;
                out->mails = xrealloc(out->mails, a->cap * sizeof(*out->mails));
            }
            out->mails[out->n_mails++] = *rec;
            free(rec);                  /* contents moved into the array */
        } else {
            store_mail_rec_free(rec);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_list(store_t *st, const struct store_query *q, struct store_list *out)
{
    if (out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof(*out));
    if (st == NULL || q == NULL || q->limit < 1 || q->limit > 1000 ||
        (q->sender && !store_db_addr_ok(q->sender)) ||
        (q->recipient && !store_db_addr_ok(q->recipient)) ||
        q->status < -1 || q->status > STORE_READ ||
        (q->cursor && !store_db_id_ok(q->cursor)))
        return STORE_EINVAL;
    if (q->until_ms && q->until_ms <= q->since_ms)
        return STORE_OK;                /* an empty interval */
    struct list_arg a = { q, out, 0, st->list_max_scan };
    int rc = store_env_read(st, list_fn, &a);
    if (rc != STORE_OK)
        store_list_clear(out);
    return rc;
}

void store_list_clear(struct store_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n_mails; i++) {
        struct store_mail_rec *r = &list->mails[i];
        store_rec_mail_clear(&r->mail);
        for (size_t j = 0; j < r->n_rcpts; j++)
            store_rcpt_clear(&r->rcpts[j]);
        free(r->rcpts);
    }
    free(list->mails);
    memset(list, 0, sizeof(*list));
}

/* ---- names and numbers ---- */

int store_stats(store_t *st, struct store_stats *out)
{
    MDB_envinfo info;
    MDB_stat ms;

    if (st == NULL || out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof(*out));
    /* mdb_env_info reads this process's map size and the last committed
     * meta; the rwlock keeps it from racing with a resize. */
    pthread_rwlock_rdlock(&st->maplock);
    if (st->env == NULL) {              /* a reopen after a fatal error failed */
        pthread_rwlock_unlock(&st->maplock);
        return STORE_EIO;
    }
    mdb_env_info(st->env, &info);
    mdb_env_stat(st->env, &ms);
    pthread_rwlock_unlock(&st->maplock);
    out->map_size = info.me_mapsize;
    out->map_used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
    out->commits = atomic_load(&st->commits);
    out->writes = atomic_load(&st->writes);
    out->outbox_overflow = atomic_load(&st->outbox_overflow);
    return STORE_OK;
}

static const char *const status_names[] = { "sent", "received", "deleted_unread", "read" };

const char *store_status_name(int status)
{
    if (status < STORE_SENT || status > STORE_READ)
        return "unknown";
    return status_names[status];
}

int store_status_parse(const char *name)
{
    for (int i = STORE_SENT; name && i <= STORE_READ; i++)
        if (strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK:        return "ok";
    case STORE_ENOTFOUND: return "no such mail";
    case STORE_ENORCPT:   return "mail not recorded for this recipient";
    case STORE_EFULL:     return "mail log full";
    case STORE_ESCHEMA:   return "mail log of a newer or unknown schema";
    case STORE_EIO:       return "mail log I/O error";
    case STORE_EINVAL:    return "invalid argument";
    case STORE_ECLOSED:   return "mail log is closing";
    default:              return "unknown store error";
    }
}
