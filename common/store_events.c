/*
 * store_events - the event feed; contract in store_events.h.
 */
#include "store_events.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_db.h"
#include "store_env.h"
#include "store_sync.h"
#include "xmem.h"

#define STR_NULL 0xFFFFFFFFu
#define EV_READ_MAX 10000
#define EV_PRUNE_MAX 100000
#define CURSOR_NAME_MAX 64

/* ---- codec ---- */

static void put(struct store_rec_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_le(struct store_rec_buf *b, uint64_t v, int n)
{
    unsigned char c[8];
    for (int i = 0; i < n; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, (size_t)n);
}

static void put_str(struct store_rec_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_le(b, s ? (uint32_t)n : STR_NULL, 4);
    put(b, s, n);
}

void store_events_encode(struct store_rec_buf *b, const struct store_feed_event *e)
{
    put_le(b, STORE_EVENTS_VERSION, 1);
    put_le(b, e->time_ms, 8);
    put_le(b, (uint64_t)e->kind, 1);
    put_le(b, (uint64_t)e->status, 1);
    put_le(b, e->read_count, 4);
    put(b, e->id, MAILID_ID_LEN);
    put_str(b, e->sender);
    put_str(b, e->recipient);
    put_str(b, e->original_recipient);
    put_str(b, e->via[0] ? e->via : NULL);
}

struct rd {
    const unsigned char *p;
    size_t               len, off;
    int                  bad;
};

static uint64_t get_le(struct rd *r, int n)
{
    uint64_t v = 0;
    if (r->bad || r->len - r->off < (size_t)n) {
        r->bad = 1;
        return 0;
    }
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | r->p[r->off + (size_t)i];
    r->off += (size_t)n;
    return v;
}

/* A string of at most max bytes (NULL stays NULL); sets bad on overrun. */
static char *get_str(struct rd *r, size_t max)
{
    uint32_t n = (uint32_t)get_le(r, 4);
    if (r->bad || n == STR_NULL)
        return NULL;
    if (n > max || r->len - r->off < n || memchr(r->p + r->off, '\0', n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    char *s = xstrndup((const char *)r->p + r->off, n);
    r->off += n;
    return s;
}

int store_events_decode(const void *data, size_t len, uint64_t seq,
                        struct store_feed_event *out)
{
    struct rd r = { data, len, 0, 0 };
    char *via;

    memset(out, 0, sizeof(*out));
    if (get_le(&r, 1) != STORE_EVENTS_VERSION)
        return -1;
    out->seq = seq;
    out->time_ms = get_le(&r, 8);
    out->kind = (int)get_le(&r, 1);
    out->status = (int)get_le(&r, 1);
    out->read_count = (uint32_t)get_le(&r, 4);
    if (!r.bad && r.len - r.off >= MAILID_ID_LEN) {
        memcpy(out->id, r.p + r.off, MAILID_ID_LEN);
        r.off += MAILID_ID_LEN;
    } else {
        r.bad = 1;
    }
    out->sender = get_str(&r, STORE_ADDR_MAX);
    out->recipient = get_str(&r, STORE_ADDR_MAX);
    out->original_recipient = get_str(&r, STORE_ADDR_MAX);
    via = get_str(&r, sizeof(out->via) - 1);
    if (via)
        memcpy(out->via, via, strlen(via) + 1);
    free(via);
    if (r.bad || r.off != r.len || out->recipient == NULL ||
        !mailid_id_valid(out->id, MAILID_ID_LEN) || out->kind < STORE_EV_READ ||
        out->kind > STORE_EVK_MERGE || out->status < STORE_SENT || out->status > STORE_READ) {
        store_feed_event_clear(out);
        return -1;
    }
    return 0;
}

void store_feed_event_clear(struct store_feed_event *e)
{
    free(e->sender);
    free(e->recipient);
    free(e->original_recipient);
    memset(e, 0, sizeof(*e));
}

const char *store_events_name(const struct store_feed_event *e)
{
    switch (e->kind) {
    case STORE_EV_READ:           return "read";
    case STORE_EV_RECEIVED:       return "received";
    case STORE_EV_DELETED_UNREAD: return "deleted_unread";
    default:                      return store_status_name(e->status);
    }
}

/* ---- durability and wake-up ---- */

static void (*hook_fn)(void *);
static void *hook_arg;

void store_events_set_hook(void (*fn)(void *arg), void *arg)
{
    hook_arg = arg;
    hook_fn = fn;
}

uint64_t store_events_servable(uint64_t newest, uint64_t durable, int writing, int *sync)
{
    *sync = 0;
    if (newest <= durable)
        return newest;
    /* Ours, not yet settled (the settle moves the point and wakes), or
     * another process's: only a sync can tell they are on disk. */
    *sync = !writing;
    return durable;
}

void store_events_durable(store_t *st, uint64_t seq)
{
    uint64_t have = atomic_load(&st->ev_durable);
    while (have < seq && !atomic_compare_exchange_weak(&st->ev_durable, &have, seq))
        ;
}

void store_events_committed(store_t *st)
{
    uint64_t d = atomic_load(&st->ev_durable);
    uint64_t a = atomic_load(&st->ev_announced);

    while (a < d) {
        if (atomic_compare_exchange_weak(&st->ev_announced, &a, d)) {
            if (hook_fn != NULL)
                hook_fn(hook_arg);
            return;
        }
    }
}

/* The limit for a reader that saw `newest` in its snapshot (call inside
 * the read transaction, after reading it). */
static uint64_t ev_limit(store_t *st, uint64_t newest, int *sync)
{
    uint64_t durable = atomic_load(&st->ev_durable);
    return store_events_servable(newest, durable, atomic_load(&st->ev_writers) > 0, sync);
}

/* Events up to `newest` that no write of ours is about to settle: another
 * process committed them.  Sync the file once (the first reader to get
 * here does; the others find the point moved) and serve them. */
static int ev_settle(store_t *st, uint64_t newest)
{
    int rc = STORE_OK;

    pthread_mutex_lock(&st->ev_sync_lock);
    if (atomic_load(&st->ev_durable) < newest && (rc = store_sync_now(st)) == STORE_OK)
        store_events_durable(st, newest);
    pthread_mutex_unlock(&st->ev_sync_lock);
    if (rc == STORE_OK)
        store_events_committed(st);     /* wake the other waiters too */
    return rc;
}

/* ---- inside a write ---- */

static void key_seq(unsigned char k[8], uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        k[i] = (unsigned char)(seq >> (56 - 8 * i));
}

static uint64_t seq_of(const MDB_val *k)
{
    uint64_t s = 0;
    for (size_t i = 0; i < 8 && i < k->mv_size; i++)
        s = (s << 8) | ((const unsigned char *)k->mv_data)[i];
    return s;
}

static int meta_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *out)
{
    MDB_val k = { strlen(key), STORE_MV(key) }, v;
    int rc = mdb_get(txn, meta, &k, &v);

    *out = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return STORE_EIO;
    for (int i = 7; i >= 0; i--)
        *out = (*out << 8) | ((const unsigned char *)v.mv_data)[i];
    return 0;
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t val)
{
    unsigned char b[8];
    MDB_val k = { strlen(key), STORE_MV(key) }, v = { 8, b };

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(val >> (8 * i));
    return mdb_put(txn, meta, &k, &v, 0);
}

int store_events_append(store_t *st, MDB_txn *txn, int kind, const char *id,
                        const struct store_rcpt *after, uint64_t now_ms)
{
    struct store_feed_event e = { 0 };
    struct store_mail m;
    struct store_rec_buf b = { 0 };
    unsigned char kb[8];
    uint64_t seq;
    int rc, have_mail;

    rc = meta_u64(txn, st->dbi[STORE_DB_META], "event_seq", &seq);
    if (rc != 0)
        return rc;
    seq++;
    /* A missing or undecodable mail record (logged) leaves sender NULL:
     * the change itself stands, and so does its event. */
    rc = store_db_mail_load(st, txn, id, &m);
    if (rc > 0)
        return rc;                      /* LMDB's own error */
    have_mail = rc == 0;
    e.time_ms = now_ms;
    e.kind = kind;
    e.status = after->status;
    e.read_count = after->read_count;
    memcpy(e.id, id, MAILID_ID_LEN);
    e.sender = have_mail ? m.sender : NULL;
    e.recipient = after->address;
    e.original_recipient = after->original_recipient;
    memcpy(e.via, after->via, sizeof(e.via));
    e.via[sizeof(e.via) - 1] = '\0';
    store_events_encode(&b, &e);
    if (have_mail)
        store_rec_mail_clear(&m);
    key_seq(kb, seq);
    MDB_val k = { 8, kb }, v = { b.len, b.p };
    /* MDB_APPEND: keys only grow, so LMDB fills pages to the end. */
    rc = mdb_put(txn, st->dbi[STORE_DB_EVENTS], &k, &v, MDB_APPEND);
    store_rec_buf_free(&b);
    if (rc == 0)
        rc = meta_put_u64(txn, st->dbi[STORE_DB_META], "event_seq", seq);
    return rc;
}

int store_events_txn_seq(store_t *st, MDB_txn *txn, uint64_t *seq)
{
    return meta_u64(txn, st->dbi[STORE_DB_META], "event_seq", seq);
}

/* Delete the item at the cursor and move to the one after it: re-seek the
 * deleted key (the store never trusts a cursor across its own deletion). */
static int del_and_next(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    unsigned char kb[8] = { 0 };
    int rc;

    memcpy(kb, k->mv_data, k->mv_size < 8 ? k->mv_size : 8);
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0)
        return rc;
    k->mv_size = 8;
    k->mv_data = kb;
    rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    return rc;
}

static int names_addr(const struct store_feed_event *e, const char *addr)
{
    return (e->sender && strcmp(e->sender, addr) == 0) || strcmp(e->recipient, addr) == 0 ||
           (e->original_recipient && strcmp(e->original_recipient, addr) == 0);
}

int store_events_erase_addr(store_t *st, MDB_txn *txn, const char *addr)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_EVENTS], &cur);

    if (rc != 0)
        return rc;
    /* Deleting at the cursor moves it to the next item: no collect step. */
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        struct store_feed_event e;
        int gone = store_events_decode(v.mv_data, v.mv_size, seq_of(&k), &e) < 0 ||
                   names_addr(&e, addr);
        store_feed_event_clear(&e);
        if (gone) {
            rc = del_and_next(cur, &k, &v);
        } else {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- reading ---- */

struct read_arg {
    uint64_t                 after, last, newest;
    size_t                   max, n;
    int                      sync;     /* past the durable point: ev_settle */
    struct store_feed_event *ev;
};

static int read_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct read_arg *a = arg;
    unsigned char kb[8];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    store_events_free(a->ev, a->n);
    a->ev = NULL;
    a->n = 0;
    rc = meta_u64(txn, st->dbi[STORE_DB_META], "event_seq", &a->newest);
    if (rc != 0)
        return rc;
    a->last = ev_limit(st, a->newest, &a->sync);
    if (a->last <= a->after || a->max == 0)
        return 0;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_EVENTS], &cur);
    if (rc != 0)
        return rc;
    key_seq(kb, a->after + 1);
    k.mv_size = 8;
    k.mv_data = kb;
    a->ev = xcalloc(a->max, sizeof(*a->ev));
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && a->n < a->max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 8 && seq_of(&k) > a->last)
            break;                      /* not known to be on disk yet */
        if (k.mv_size != 8 ||
            store_events_decode(v.mv_data, v.mv_size, seq_of(&k), &a->ev[a->n]) < 0) {
            log_error("store %s: event %llu cannot be decoded; skipped", st->path,
                      (unsigned long long)seq_of(&k));
            continue;
        }
        a->n++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_events_read(store_t *st, uint64_t after, size_t max,
                      struct store_feed_event **out, size_t *n, uint64_t *last)
{
    struct read_arg a = { .after = after, .max = max };
    int rc;

    *out = NULL;
    *n = 0;
    if (last)
        *last = 0;
    if (st == NULL || max > EV_READ_MAX)
        return STORE_EINVAL;
    rc = store_env_read(st, read_fn, &a);
    /* Another process's events: one sync, then read again (a failed sync
     * is logged; the events up to the durable point are still served). */
    if (rc == STORE_OK && a.sync && a.n < max && ev_settle(st, a.newest) == STORE_OK)
        rc = store_env_read(st, read_fn, &a);
    if (rc != STORE_OK) {
        store_events_free(a.ev, a.n);
        return rc;
    }
    if (a.n == 0)
        a.ev = xfree(a.ev);
    *out = a.ev;
    *n = a.n;
    if (last)
        *last = a.last;
    return STORE_OK;
}

void store_events_free(struct store_feed_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++)
        store_feed_event_clear(&ev[i]);
    free(ev);
}

struct last_arg {
    uint64_t seq, newest;
    int      sync;
};

static int last_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct last_arg *a = arg;
    int rc = meta_u64(txn, st->dbi[STORE_DB_META], "event_seq", &a->newest);

    a->seq = rc == 0 ? ev_limit(st, a->newest, &a->sync) : 0;
    return rc;
}

int store_events_last(store_t *st, uint64_t *seq)
{
    struct last_arg a = { 0 };
    int rc;

    if (st == NULL)
        return STORE_EINVAL;
    rc = store_env_read(st, last_fn, &a);
    if (rc == STORE_OK && a.sync && ev_settle(st, a.newest) == STORE_OK)
        a.seq = a.newest;
    *seq = rc == STORE_OK ? a.seq : 0;
    return rc;
}

/* ---- retention ---- */

struct prune_arg {
    uint64_t before;
    size_t   batch, pruned;
};

static int prune_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct prune_arg *a = arg;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    a->pruned = 0;
    rc = mdb_cursor_open(txn, st->dbi[STORE_DB_EVENTS], &cur);
    if (rc != 0)
        return rc;
    /* Times follow the sequence, so the old events are the first keys; an
     * undecodable one goes too.  (Read events carry the time they were
     * acknowledged, and one apply batch is sorted by mail: within a batch
     * times may step back by up to its gather time, so such an event is
     * only pruned a pass later.) */
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && a->pruned < a->batch) {
        struct store_feed_event e;
        int bad = store_events_decode(v.mv_data, v.mv_size, seq_of(&k), &e) < 0;
        uint64_t t = e.time_ms;
        store_feed_event_clear(&e);
        if (!bad && t >= a->before)
            break;
        rc = del_and_next(cur, &k, &v);
        a->pruned += rc == 0 || rc == MDB_NOTFOUND;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_events_prune(store_t *st, uint64_t before_ms, size_t batch, size_t *pruned)
{
    struct prune_arg a = { .before = before_ms, .batch = batch };
    int rc;

    if (pruned)
        *pruned = 0;
    if (st == NULL || batch == 0 || batch > EV_PRUNE_MAX)
        return STORE_EINVAL;
    rc = store_env_write_free(st, prune_fn, &a);
    if (rc == STORE_OK && pruned)
        *pruned = a.pruned;
    return rc;
}

/* ---- webhook cursors ---- */

struct cursor_arg {
    char     key[8 + CURSOR_NAME_MAX + 1];
    uint64_t seq;
};

static int cursor_key(struct cursor_arg *a, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > CURSOR_NAME_MAX)
        return STORE_EINVAL;
    snprintf(a->key, sizeof(a->key), "webhook:%s", name);
    return 0;
}

static int cursor_get_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct cursor_arg *a = arg;
    return meta_u64(txn, st->dbi[STORE_DB_META], a->key, &a->seq);
}

static int cursor_set_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct cursor_arg *a = arg;
    return meta_put_u64(txn, st->dbi[STORE_DB_META], a->key, a->seq);
}

int store_events_cursor_get(store_t *st, const char *name, uint64_t *seq)
{
    struct cursor_arg a = { .seq = 0 };
    int rc;

    *seq = 0;
    if (st == NULL || cursor_key(&a, name) != 0)
        return STORE_EINVAL;
    rc = store_env_read(st, cursor_get_fn, &a);
    if (rc == STORE_OK)
        *seq = a.seq;
    return rc;
}

int store_events_cursor_set(store_t *st, const char *name, uint64_t seq)
{
    struct cursor_arg a = { .seq = seq };

    if (st == NULL || cursor_key(&a, name) != 0)
        return STORE_EINVAL;
    return store_env_write(st, cursor_set_fn, &a);
}
