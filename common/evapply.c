/*
 * evapply - the event log in front of the mail log; contract in evapply.h.
 */
#include "evapply.h"
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <sodium.h>

#include "evlog.h"
#include "log.h"
#include "store_rec.h"
#include "xmem.h"

#define EVAPPLY_BATCH_MIN   16
#define EVAPPLY_BATCH_MAX   4096
#define EVAPPLY_BUCKETS     4096         /* overlay hash buckets (power of two) */
/* Version 2 adds at_ms (u64 after when_ms); version 1 records, written
 * before, still decode (at_ms 0: applied as of the apply's time). */
#define EVAPPLY_REC_VERSION 2
#define EVAPPLY_REC_V1      1
#define EVAPPLY_NSTR        7
#define EVAPPLY_NULLSTR     0xFFFFu

/* ---- records ---------------------------------------------------------------- */

/* id, rcpt, original, delims, this_server, via, forward_to */
static void ev_strings(const struct store_event_in *ev, const char *s[EVAPPLY_NSTR])
{
    s[0] = ev->id;
    s[1] = ev->rcpt;
    s[2] = ev->original;
    s[3] = ev->delims;
    s[4] = ev->this_server;
    s[5] = ev->via;
    s[6] = ev->forward_to;
}

size_t evapply_encode(const struct store_event_in *ev, unsigned char *buf, size_t cap)
{
    const char *s[EVAPPLY_NSTR];
    size_t n = 18;

    if (cap < n || ev->event < 0 || ev->event > 255)
        return 0;
    buf[0] = EVAPPLY_REC_VERSION;
    buf[1] = (unsigned char)ev->event;
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = (unsigned char)(ev->when_ms >> (8 * i));
        buf[10 + i] = (unsigned char)(ev->at_ms >> (8 * i));
    }
    ev_strings(ev, s);
    for (int i = 0; i < EVAPPLY_NSTR; i++) {
        size_t len = s[i] ? strlen(s[i]) : 0;
        unsigned v = s[i] ? (unsigned)len : EVAPPLY_NULLSTR;
        if (len >= EVAPPLY_NULLSTR || n + 2 + len > cap)
            return 0;
        buf[n] = (unsigned char)(v & 0xFF);
        buf[n + 1] = (unsigned char)(v >> 8);
        if (len)
            memcpy(buf + n + 2, s[i], len);
        n += 2 + len;
    }
    return n;
}

int evapply_decode(const void *data, size_t len, struct store_event_in *ev, char *strings,
                   size_t cap)
{
    const unsigned char *p = data;
    const char *s[EVAPPLY_NSTR];
    size_t n, used = 0;

    memset(ev, 0, sizeof(*ev));
    if (len < 1 || (p[0] != EVAPPLY_REC_VERSION && p[0] != EVAPPLY_REC_V1))
        return -1;
    n = p[0] == EVAPPLY_REC_V1 ? 10 : 18;
    if (len < n || p[1] > STORE_EV_DELETED_UNREAD)
        return -1;
    ev->event = p[1];
    for (int i = 7; i >= 0; i--) {
        ev->when_ms = ev->when_ms << 8 | p[2 + i];
        if (n == 18)
            ev->at_ms = ev->at_ms << 8 | p[10 + i];
    }
    for (int i = 0; i < EVAPPLY_NSTR; i++) {
        if (n + 2 > len)
            return -1;
        unsigned v = (unsigned)p[n] | (unsigned)p[n + 1] << 8;
        n += 2;
        if (v == EVAPPLY_NULLSTR) {
            s[i] = NULL;
            continue;
        }
        if (n + v > len || used + v + 1 > cap || memchr(p + n, '\0', v) != NULL)
            return -1;
        memcpy(strings + used, p + n, v);
        strings[used + v] = '\0';
        s[i] = strings + used;
        used += v + 1;
        n += v;
    }
    if (n != len || s[0] == NULL || s[1] == NULL || s[4] == NULL)
        return -1;
    ev->id = s[0];
    ev->rcpt = s[1];
    ev->original = s[2];
    ev->delims = s[3];
    ev->this_server = s[4];
    ev->via = s[5];
    ev->forward_to = s[6];
    return 0;
}

/* ---- the overlay: entries with events not applied yet -------------------- */

struct ov_node {
    char              id[MAILID_ID_LEN + 1];
    struct store_rcpt state;            /* after its last pending event */
    uint64_t          seq;              /* that event's number */
    struct ov_node   *next;
};

struct evapply {
    store_t           *st;
    evlog_t           *log;
    evapply_applied_fn on_applied;
    void              *arg;

    pthread_mutex_t    mu;              /* overlay, applied, gen */
    pthread_cond_t     applied_cv;
    struct ov_node    *buckets[EVAPPLY_BUCKETS];
    unsigned char      hkey[crypto_shorthash_KEYBYTES];
    uint64_t           applied;         /* last event the mail log shows */
    uint64_t           gen;             /* overlay clean-ups so far */
    size_t             n_nodes;

    pthread_t          thread;
    int                started;
    atomic_int         stop;
    atomic_uint_fast64_t batches, batch_max_ms, apply_errors, busy, batch_size;
};

static size_t ov_bucket(const evapply_t *ea, const char *id)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    crypto_shorthash(h, (const unsigned char *)id, MAILID_ID_LEN, ea->hkey);
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (size_t)(v & (EVAPPLY_BUCKETS - 1));
}

static struct ov_node *ov_find(evapply_t *ea, const char *id, const char *addr)
{
    for (struct ov_node *n = ea->buckets[ov_bucket(ea, id)]; n; n = n->next) {
        if (memcmp(n->id, id, MAILID_ID_LEN) == 0 && strcmp(n->state.address, addr) == 0)
            return n;
    }
    return NULL;
}

/* Drops the nodes of id whose last event is applied (under mu). */
static void ov_clean(evapply_t *ea, const char *id, uint64_t applied)
{
    struct ov_node **pp = &ea->buckets[ov_bucket(ea, id)];

    while (*pp) {
        struct ov_node *n = *pp;
        if (memcmp(n->id, id, MAILID_ID_LEN) == 0 && n->seq <= applied) {
            *pp = n->next;
            store_rcpt_clear(&n->state);
            free(n);
            ea->n_nodes--;
        } else {
            pp = &n->next;
        }
    }
}

/* ---- applying ------------------------------------------------------------------ */

struct batch {
    struct store_event_in *evs;
    char                 **strings;     /* per event, its decoded strings */
    uint64_t              *seqs;
    size_t                *order;
    int                   *results, *matched, *overflow;
    struct store_event_in *sorted;
    size_t                 n, cap;
};

static void batch_grow(struct batch *b, size_t cap)
{
    if (cap <= b->cap)
        return;
    b->evs = xrealloc(b->evs, cap * sizeof(*b->evs));
    b->strings = xrealloc(b->strings, cap * sizeof(*b->strings));
    for (size_t i = b->cap; i < cap; i++)
        b->strings[i] = xmalloc(EVLOG_REC_MAX + 8);
    b->seqs = xrealloc(b->seqs, cap * sizeof(*b->seqs));
    b->order = xrealloc(b->order, cap * sizeof(*b->order));
    b->results = xrealloc(b->results, cap * sizeof(*b->results));
    b->matched = xrealloc(b->matched, cap * sizeof(*b->matched));
    b->overflow = xrealloc(b->overflow, cap * sizeof(*b->overflow));
    b->sorted = xrealloc(b->sorted, cap * sizeof(*b->sorted));
    b->cap = cap;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->cap; i++)
        free(b->strings[i]);
    free(b->strings);
    free(b->evs);
    free(b->seqs);
    free(b->order);
    free(b->results);
    free(b->matched);
    free(b->overflow);
    free(b->sorted);
    memset(b, 0, sizeof(*b));
}

/* Adds one record; -1 if it does not decode (never written by us: a bug). */
static int batch_add(struct batch *b, uint64_t seq, const void *data, size_t len)
{
    batch_grow(b, b->n + 1 > b->cap ? (b->cap ? 2 * b->cap : 64) : b->cap);
    if (evapply_decode(data, len, &b->evs[b->n], b->strings[b->n], EVLOG_REC_MAX + 8) != 0) {
        log_error("event log: event %llu does not decode", (unsigned long long)seq);
        return -1;
    }
    b->seqs[b->n] = seq;
    b->n++;
    return 0;
}

/* By (mail, recipient); one entry's events keep their order (by seq). */
static int order_cmp(const void *x, const void *y, void *arg)
{
    const struct batch *b = arg;
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = memcmp(b->evs[i].id, b->evs[j].id, MAILID_ID_LEN);

    if (c == 0)
        c = strcmp(b->evs[i].rcpt, b->evs[j].rcpt);
    if (c == 0)
        c = b->seqs[i] < b->seqs[j] ? -1 : b->seqs[i] > b->seqs[j];
    return c;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Applies the batch (sorted) in one transaction; after its commit:
 * on_applied per event, the overlay cleaned, waiters woken.  Retries a
 * failed transaction with a growing pause (the events are safe in the
 * log); gives up only when asked to stop.
 */
static int batch_apply(evapply_t *ea, struct batch *b)
{
    struct store_event_batch sb;
    unsigned pause_ms = 100;
    int rc;

    if (b->n == 0)
        return 0;
    for (size_t i = 0; i < b->n; i++)
        b->order[i] = i;
    qsort_r(b->order, b->n, sizeof(*b->order), order_cmp, b);
    for (size_t i = 0; i < b->n; i++)
        b->sorted[i] = b->evs[b->order[i]];

    uint64_t last = b->seqs[b->n - 1];
    for (;;) {
        memset(&sb, 0, sizeof sb);
        sb.evs = b->sorted;
        sb.n = b->n;
        sb.seq = last;
        sb.results = b->results;
        sb.matched = b->matched;
        sb.overflow = b->overflow;
        uint64_t t0 = mono_ms();
        rc = store_apply_events(ea->st, &sb);
        uint64_t dt = mono_ms() - t0;
        if (rc == STORE_OK) {
            atomic_fetch_add(&ea->batches, 1);
            if (dt > atomic_load(&ea->batch_max_ms))
                atomic_store(&ea->batch_max_ms, dt);
            /* Bounded in time: the milter waits behind this transaction. */
            uint64_t bs = atomic_load(&ea->batch_size);
            if (dt > EVAPPLY_TXN_MS && bs > EVAPPLY_BATCH_MIN)
                atomic_store(&ea->batch_size, bs / 2);
            else if (dt * 4 < EVAPPLY_TXN_MS && bs < EVAPPLY_BATCH_MAX && b->n >= bs)
                atomic_store(&ea->batch_size, bs * 2);
            break;
        }
        atomic_fetch_add(&ea->apply_errors, 1);
        log_error("event log: applying events up to %llu failed: %s (retrying in %u ms)",
                  (unsigned long long)last, store_strerror(rc), pause_ms);
        if (atomic_load(&ea->stop))
            return -1;      /* closing: the events stay in the log for the next start */
        struct timespec ts = { pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        if (pause_ms < 5000)
            pause_ms *= 2;
    }
    if (ea->log)
        evlog_done(ea->log, last);
    if (!sb.already && ea->on_applied) {
        for (size_t i = 0; i < b->n; i++)
            ea->on_applied(ea->arg, &b->sorted[i], b->results[i], b->matched[i]);
    }
    pthread_mutex_lock(&ea->mu);
    for (size_t i = 0; i < b->n; i++)
        ov_clean(ea, b->sorted[i].id, last);
    ea->applied = last;
    ea->gen++;
    pthread_cond_broadcast(&ea->applied_cv);
    pthread_mutex_unlock(&ea->mu);
    b->n = 0;
    return 0;
}

static void *apply_main(void *arg)
{
    evapply_t *ea = arg;

    pthread_setname_np(pthread_self(), "evlog-apply");
    struct batch b = { 0 };
    struct evlog_rec *recs = xmalloc(EVAPPLY_BATCH_MAX * sizeof(*recs));

    for (;;) {
        size_t max = (size_t)atomic_load(&ea->batch_size);
        size_t n = evlog_take(ea->log, recs, max, 200);
        if (n == 0) {
            struct evlog_stats s;
            evlog_stats(ea->log, &s);
            if (atomic_load(&ea->stop) && s.durable <= ea->applied)
                break;
            continue;
        }
        /* Gather for up to EVAPPLY_GATHER_MS: each apply costs the disk
         * syncs of an LMDB commit, which compete with the event log's own;
         * fewer, larger batches leave the log's syncs the disk.  (The
         * records are copied by batch_add, so taking more is safe.) */
        uint64_t t0 = mono_ms();
        for (;;) {
            for (size_t i = 0; i < n; i++) {
                if (batch_add(&b, recs[i].seq, recs[i].data, recs[i].len) != 0)
                    log_panic("event log: a record this process wrote does not decode");
            }
            uint64_t waited = mono_ms() - t0;
            if (b.n >= max || waited >= EVAPPLY_GATHER_MS || atomic_load(&ea->stop))
                break;
            n = evlog_take(ea->log, recs, max - b.n, (int)(EVAPPLY_GATHER_MS - waited));
        }
        if (batch_apply(ea, &b) != 0)
            break;
    }
    free(recs);
    batch_free(&b);
    return NULL;
}

/* ---- recovery -------------------------------------------------------------- */

struct replay_arg {
    evapply_t   *ea;
    struct batch b;
    uint64_t     count;
};

static int replay_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    struct replay_arg *ra = arg;

    if (batch_add(&ra->b, seq, data, len) != 0)
        return -1;
    ra->count++;
    if (ra->b.n >= EVAPPLY_BATCH_MAX)
        return batch_apply(ra->ea, &ra->b);
    return 0;
}

int evapply_open(const struct evapply_opts *opts, evapply_t **out, char *err, size_t errlen)
{
    evapply_t *ea;
    uint64_t applied = 0;
    int rc;

    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium does not initialise");
        return STORE_EIO;
    }
    rc = store_applied_seq(opts->store, &applied);
    if (rc != STORE_OK) {
        snprintf(err, errlen, "reading the mail log's applied event number: %s",
                 store_strerror(rc));
        return rc;
    }
    ea = xcalloc(1, sizeof(*ea));
    ea->st = opts->store;
    ea->on_applied = opts->on_applied;
    ea->arg = opts->arg;
    ea->applied = applied;
    randombytes_buf(ea->hkey, sizeof ea->hkey);
    atomic_store(&ea->batch_size, 256);
    pthread_mutex_init(&ea->mu, NULL);
    pthread_cond_init(&ea->applied_cv, NULL);

    struct evlog_opts lo = {
        .dir = opts->dir, .seg_size = opts->seg_size, .lag_max = opts->lag_max,
        .on_fatal = opts->on_fatal, .fatal_arg = opts->arg,
    };
    struct replay_arg ra = { .ea = ea };
    rc = evlog_open(&lo, applied, replay_one, &ra, &ea->log, err, errlen);
    if (rc == EVLOG_OK && ra.b.n > 0 && batch_apply(ea, &ra.b) != 0) {
        snprintf(err, errlen, "replaying the event log into the mail log failed");
        rc = EVLOG_EREPLAY;
    }
    batch_free(&ra.b);
    if (rc != EVLOG_OK) {
        evapply_close(ea);
        return STORE_EIO;
    }
    if (ra.count > 0)
        log_info("event log: %llu events replayed into the mail log (up to %llu)",
                   (unsigned long long)ra.count, (unsigned long long)ea->applied);
    evlog_done(ea->log, ea->applied);
    if (pthread_create(&ea->thread, NULL, apply_main, ea) != 0) {
        snprintf(err, errlen, "cannot start the apply thread");
        evapply_close(ea);
        return STORE_EIO;
    }
    ea->started = 1;
    *out = ea;
    return STORE_OK;
}

void evapply_close(evapply_t *ea)
{
    if (ea == NULL)
        return;
    atomic_store(&ea->stop, 1);
    if (ea->started) {
        /* The writer first writes what was appended; the apply thread then
         * applies everything durable and stops. */
        pthread_join(ea->thread, NULL);
    }
    evlog_close(ea->log);
    ea->log = NULL;
    for (size_t i = 0; i < EVAPPLY_BUCKETS; i++) {
        while (ea->buckets[i]) {
            struct ov_node *n = ea->buckets[i];
            ea->buckets[i] = n->next;
            store_rcpt_clear(&n->state);
            free(n);
        }
    }
    pthread_cond_destroy(&ea->applied_cv);
    pthread_mutex_destroy(&ea->mu);
    free(ea);
}

/* ---- submitting ------------------------------------------------------------ */

int evapply_submit_nowait(evapply_t *ea, const struct store_event_in *ev,
                          struct store_rcpt *after, int *matched, uint64_t *seq_out)
{
    unsigned char rec[EVLOG_REC_MAX];
    struct store_rcpt cur;
    uint64_t seq = 0;
    size_t len;
    int rc, changed;

    memset(after, 0, sizeof(*after));
    *matched = STORE_MATCH_NONE;
    *seq_out = 0;
    if (evapply_encode(ev, rec, sizeof rec) == 0)   /* fits (checked once, early) */
        return STORE_EINVAL;
    for (;;) {
        pthread_mutex_lock(&ea->mu);
        uint64_t gen = ea->gen;
        pthread_mutex_unlock(&ea->mu);

        rc = store_event_peek(ea->st, ev, &cur, matched);
        if (rc != STORE_OK)
            return rc;

        pthread_mutex_lock(&ea->mu);
        struct ov_node *n = ov_find(ea, ev->id, cur.address);
        if (n == NULL && ea->gen != gen) {
            /* An apply finished since the peek: its snapshot may miss an
             * event whose overlay node is gone now.  Look again. */
            pthread_mutex_unlock(&ea->mu);
            store_rcpt_clear(&cur);
            continue;
        }
        if (n != NULL) {
            store_rcpt_clear(&cur);
            store_rec_rcpt_copy(&cur, &n->state);
            if (*matched == STORE_MATCH_MEMBER)
                *matched = STORE_MATCH_SAME;    /* created by an earlier event */
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        changed = store_event_apply(&cur, ev, now);
        if (!changed && *matched != STORE_MATCH_MEMBER) {
            /* Nothing to record: the answer is the state as it is. */
            pthread_mutex_unlock(&ea->mu);
            *after = cur;
            return STORE_OK;
        }
        cur.updated_ms = now;
        /* The apply records the entry as of this moment: the mail log
         * then holds exactly the state this answer gives. */
        struct store_event_in at = *ev;
        at.at_ms = now;
        len = evapply_encode(&at, rec, sizeof rec);
        rc = evlog_append(ea->log, rec, len, &seq);
        if (rc != EVLOG_OK) {
            pthread_mutex_unlock(&ea->mu);
            store_rcpt_clear(&cur);
            if (rc == EVLOG_EBUSY) {
                atomic_fetch_add(&ea->busy, 1);
                return EVAPPLY_EBUSY;
            }
            return rc == EVLOG_ECLOSED ? STORE_ECLOSED
                   : rc == EVLOG_EINVAL ? STORE_EINVAL : STORE_EIO;
        }
        if (n == NULL) {
            n = xcalloc(1, sizeof(*n));
            memcpy(n->id, ev->id, MAILID_ID_LEN);
            struct ov_node **head = &ea->buckets[ov_bucket(ea, ev->id)];
            n->next = *head;
            *head = n;
            ea->n_nodes++;
        } else {
            store_rcpt_clear(&n->state);
        }
        store_rec_rcpt_copy(&n->state, &cur);
        n->seq = seq;
        pthread_mutex_unlock(&ea->mu);
        break;
    }
    *after = cur;
    *seq_out = seq;
    return STORE_OK;
}

static int wait_rc(int rc)
{
    return rc == EVLOG_OK || rc == 1 ? STORE_OK : rc == EVLOG_ECLOSED ? STORE_ECLOSED
                                                                      : STORE_EIO;
}

int evapply_wait(evapply_t *ea, uint64_t seq)
{
    return seq == 0 ? STORE_OK : wait_rc(evlog_wait(ea->log, seq));
}

int evapply_notify(evapply_t *ea, struct evlog_waiter *w)
{
    int rc = evlog_notify(ea->log, w);

    return rc == 1 ? 1 : wait_rc(rc);
}

int evapply_rc(int evlog_rc)
{
    return wait_rc(evlog_rc);
}

int evapply_submit(evapply_t *ea, const struct store_event_in *ev, struct store_rcpt *after,
                   int *matched)
{
    uint64_t seq;
    int rc = evapply_submit_nowait(ea, ev, after, matched, &seq);

    if (rc == STORE_OK && (rc = evapply_wait(ea, seq)) != STORE_OK)
        store_rcpt_clear(after);
    return rc;
}

static int wait_applied(evapply_t *ea, uint64_t target, int timeout_ms)
{
    struct timespec until =
        deadline_in(CLOCK_REALTIME, timeout_ms > 0 ? (unsigned long)timeout_ms : 0);
    int rc = 0;

    while (ea->applied < target && rc == 0)
        rc = pthread_cond_timedwait(&ea->applied_cv, &ea->mu, &until);
    return ea->applied >= target ? 0 : -1;
}

int evapply_barrier_mail(evapply_t *ea, const char *id, int timeout_ms)
{
    uint64_t target = 0;
    int rc;

    if (strlen(id) < MAILID_ID_LEN)
        return 0;
    pthread_mutex_lock(&ea->mu);
    for (struct ov_node *n = ea->buckets[ov_bucket(ea, id)]; n; n = n->next) {
        if (memcmp(n->id, id, MAILID_ID_LEN) == 0 && n->seq > target)
            target = n->seq;
    }
    rc = wait_applied(ea, target, timeout_ms);
    pthread_mutex_unlock(&ea->mu);
    return rc;
}

int evapply_barrier_all(evapply_t *ea, int timeout_ms)
{
    struct evlog_stats s;
    int rc;

    evlog_stats(ea->log, &s);
    pthread_mutex_lock(&ea->mu);
    rc = wait_applied(ea, s.appended, timeout_ms);
    pthread_mutex_unlock(&ea->mu);
    return rc;
}

void evapply_stats(evapply_t *ea, struct evapply_stats *out)
{
    struct evlog_stats s;

    memset(out, 0, sizeof(*out));
    evlog_stats(ea->log, &s);
    pthread_mutex_lock(&ea->mu);
    out->applied = ea->applied;
    pthread_mutex_unlock(&ea->mu);
    out->appended = s.appended;
    out->lag = s.appended > out->applied ? s.appended - out->applied : 0;
    out->groups = s.groups;
    out->sync_us = s.sync_us;
    out->sync_max_us = s.sync_max_us;
    out->batches = atomic_load(&ea->batches);
    out->batch_max_ms = atomic_load(&ea->batch_max_ms);
    out->apply_errors = atomic_load(&ea->apply_errors);
    out->busy = atomic_load(&ea->busy);
    out->batch_size = (size_t)atomic_load(&ea->batch_size);
}
