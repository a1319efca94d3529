/*
 * store_event - events for final recipients: lists, aliases and
 * +addresses matched to the entries the milter recorded; contract in
 * store.h (store_record_event, store_merge_member).
 *
 * Matching and the update run in one write transaction, so two deliveries
 * of one list mail to two members racing each other both find the list
 * entry and each creates its own member entry.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "store_db.h"
#include "store_env.h"
#include "store_events.h"
#include "store_outbox.h"
#include "store_rec.h"
#include "xmem.h"

struct ev_arg {
    const struct store_event_in *ev;
    const struct store_rcpt     *remote;   /* store_merge_member */
    const char                  *peer;
    uint64_t                     now;
    struct store_rcpt            after;
    int                          matched;
    int                          overflow;  /* the peer's outbox was full */
    char                        *dry_orig;  /* store_event_peek: rule 3's list */
};

/* Add a fresh member entry (status sent) and its rcpt_idx entry. */
static int add_member(store_t *st, MDB_txn *txn, const char *id, const char *rcpt,
                      const char *server, const char *original, uint64_t now)
{
    struct store_rcpt m = { 0 };
    int rc;

    m.address = (char *)(uintptr_t)rcpt;
    m.server = (char *)(uintptr_t)server;
    m.status = STORE_SENT;
    m.updated_ms = now;
    m.original_recipient = (char *)(uintptr_t)original;
    rc = store_db_rcpt_save(st, txn, id, &m);
    if (rc == 0)
        rc = store_db_rcpt_index_add(st, txn, rcpt, strlen(rcpt), id);
    return rc;
}

/* Mark the list/alias entry expanded (once). */
static int mark_expanded(store_t *st, MDB_txn *txn, const char *id, const char *addr,
                         uint64_t now)
{
    struct store_rcpt e;
    int rc = store_db_rcpt_load(st, txn, id, addr, &e);

    if (rc == 0 && !e.expanded) {
        e.expanded = 1;
        e.updated_ms = now;
        rc = store_db_rcpt_save(st, txn, id, &e);
    }
    store_rcpt_clear(&e);
    return rc;
}

/* An entry for addr hosted by server?  0 yes, STORE_ENORCPT no, else error. */
static int hosted_entry(store_t *st, MDB_txn *txn, const char *id, const char *addr,
                        const char *server)
{
    struct store_rcpt e;
    int rc = store_db_rcpt_load(st, txn, id, addr, &e);

    if (rc == 0 && (e.server == NULL || strcmp(e.server, server) != 0))
        rc = STORE_ENORCPT;
    store_rcpt_clear(&e);
    return rc;
}

/*
 * Rules 1-3 of store_record_event: the address of the entry to update in
 * *target (allocated), creating a member entry for rule 3 (dry: only
 * saying so, in a read-only transaction; *orig_out = the list's address).
 */
static int ev_match(store_t *st, MDB_txn *txn, struct ev_arg *a, char **target, int dry)
{
    const struct store_event_in *ev = a->ev;
    char bare[ADDR_KEY_MAX + 1];
    struct store_mail_rec *rec = NULL;
    int rc;

    rc = hosted_entry(st, txn, ev->id, ev->rcpt, ev->this_server);
    if (rc != STORE_ENORCPT) {
        if (rc == 0) {
            *target = xstrdup(ev->rcpt);
            a->matched = STORE_MATCH_SAME;
        }
        return rc;
    }
    /* Rule 2: bob+news@ recorded, bob@ reports. */
    rc = store_db_rec_load(st, txn, ev->id, &rec);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct store_rcpt *r = &rec->rcpts[i];
        if (r->server && strcmp(r->server, ev->this_server) == 0 &&
            addr_strip_ext(r->address, ev->delims, bare) && strcmp(bare, ev->rcpt) == 0) {
            *target = xstrdup(r->address);
            a->matched = STORE_MATCH_EXTENSION;
            store_mail_rec_free(rec);
            return 0;
        }
    }
    store_mail_rec_free(rec);
    /* Rule 3: a member of a recorded list or alias. */
    if (ev->original == NULL || ev->original[0] == '\0')
        return STORE_ENORCPT;
    const char *orig = ev->original;
    rc = strcmp(orig, ev->rcpt) == 0 ? STORE_ENORCPT
                                     : hosted_entry(st, txn, ev->id, orig, ev->this_server);
    if (rc == STORE_ENORCPT && addr_strip_ext(ev->original, ev->delims, bare) &&
        strcmp(bare, ev->rcpt) != 0) {
        orig = bare;
        rc = hosted_entry(st, txn, ev->id, orig, ev->this_server);
    }
    if (rc != 0)
        return rc;
    if (dry) {
        *target = xstrdup(ev->rcpt);
        a->dry_orig = xstrdup(orig);
        a->matched = STORE_MATCH_MEMBER;
        return 0;
    }
    rc = add_member(st, txn, ev->id, ev->rcpt, ev->this_server, orig, a->now);
    if (rc == 0)
        rc = mark_expanded(st, txn, ev->id, orig, a->now);
    if (rc == 0) {
        *target = xstrdup(ev->rcpt);
        a->matched = STORE_MATCH_MEMBER;
    }
    return rc;
}

static int ev_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct ev_arg *a = arg;
    const struct store_event_in *ev = a->ev;
    char *target = NULL;
    int changed, rc;

    store_rcpt_clear(&a->after);
    a->overflow = 0;
    a->matched = STORE_MATCH_NONE;
    rc = ev_match(st, txn, a, &target, 0);
    if (rc == 0)
        rc = store_db_rcpt_load(st, txn, ev->id, target, &a->after);
    if (rc != 0) {
        free(target);
        return rc;
    }
    changed = store_event_apply(&a->after, ev, a->now);
    /* A new member entry is news for the sender's server even unchanged. */
    if (changed || a->matched == STORE_MATCH_MEMBER) {
        a->after.updated_ms = a->now;
        rc = store_db_rcpt_save(st, txn, ev->id, &a->after);
        if (rc == 0)    /* the feed (issue 17) */
            rc = store_events_append(st, txn, ev->event, ev->id, &a->after, a->now);
        if (rc == 0 && ev->forward_to)
            rc = store_outbox_add_txn(st, txn, ev->forward_to, ev->id, target, a->now,
                                      &a->overflow);
    }
    free(target);
    return rc;
}

int store_event_apply(struct store_rcpt *r, const struct store_event_in *ev, uint64_t now_ms)
{
    switch (ev->event) {
    case STORE_EV_RECEIVED:
        return store_rec_apply_received(r, ev->via);
    case STORE_EV_DELETED_UNREAD:
        return store_rec_apply_deleted(r, ev->via);
    default:
        store_rec_apply_read(r, ev->when_ms ? ev->when_ms : now_ms, ev->via);
        return 1;
    }
}

static int ev_args_ok(const struct store_event_in *ev)
{
    return ev != NULL && store_db_id_ok(ev->id) && store_db_addr_ok(ev->rcpt) &&
           !(ev->original && ev->original[0] && !store_db_addr_ok(ev->original)) &&
           ev->this_server != NULL && store_db_field_ok(ev->this_server) &&
           ev->event >= STORE_EV_READ && ev->event <= STORE_EV_DELETED_UNREAD &&
           !(ev->forward_to && !store_db_peer_ok(ev->forward_to));
}

static int peek_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct ev_arg *a = arg;
    char *target = NULL;
    int rc;

    store_rcpt_clear(&a->after);
    a->dry_orig = xfree(a->dry_orig);
    a->matched = STORE_MATCH_NONE;
    rc = ev_match(st, txn, a, &target, 1);
    if (rc == 0 && a->matched == STORE_MATCH_MEMBER) {
        /* What add_member would create. */
        a->after.address = target;
        a->after.server = xstrdup(a->ev->this_server);
        a->after.status = STORE_SENT;
        a->after.original_recipient = a->dry_orig;
        a->dry_orig = NULL;
        return 0;
    }
    if (rc == 0)
        rc = store_db_rcpt_load(st, txn, a->ev->id, target, &a->after);
    free(target);
    return rc;
}

int store_event_peek(store_t *st, const struct store_event_in *ev, struct store_rcpt *current,
                     int *matched)
{
    struct ev_arg a = { 0 };
    int rc;

    memset(current, 0, sizeof(*current));
    *matched = STORE_MATCH_NONE;
    if (st == NULL || !ev_args_ok(ev))
        return STORE_EINVAL;
    a.ev = ev;
    rc = store_env_read(st, peek_fn, &a);
    free(a.dry_orig);
    if (rc == STORE_OK) {
        *current = a.after;
        *matched = a.matched;
    } else {
        store_rcpt_clear(&a.after);
    }
    return rc;
}

static const MDB_val applied_key = { 11, (void *)"wal_applied" };

static int applied_load(store_t *st, MDB_txn *txn, uint64_t *seq)
{
    MDB_val v;
    MDB_val k = applied_key;
    int rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v);

    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return MDB_CORRUPTED;
    const unsigned char *p = v.mv_data;
    for (int i = 7; i >= 0; i--)
        *seq = *seq << 8 | p[i];
    return 0;
}

static int applied_fn(store_t *st, MDB_txn *txn, void *arg)
{
    return store_env_err(applied_load(st, txn, arg), "reading the applied event number");
}

int store_applied_seq(store_t *st, uint64_t *seq)
{
    *seq = 0;
    return st == NULL ? STORE_EINVAL : store_env_read(st, applied_fn, seq);
}

struct batch_arg {
    struct store_event_batch *b;
    uint64_t                  now;
};

static int batch_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct batch_arg *ba = arg;
    struct store_event_batch *b = ba->b;
    uint64_t prev;
    unsigned char v[8];
    int rc;

    rc = applied_load(st, txn, &prev);
    if (rc != 0)
        return store_env_err(rc, "reading the applied event number");
    if (prev >= b->seq) {
        /* Already applied (a retried batch whose commit did happen). */
        for (size_t i = 0; i < b->n; i++)
            b->results[i] = STORE_OK;
        b->already = 1;
        return 0;
    }
    b->already = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct ev_arg a = { .ev = &b->evs[i],
                            .now = b->evs[i].at_ms ? b->evs[i].at_ms : ba->now };
        rc = ev_fn(st, txn, &a);
        store_rcpt_clear(&a.after);
        b->matched[i] = a.matched;
        b->overflow[i] = a.overflow;
        b->results[i] = rc;
        /* An event for a mail or entry gone since (purged, erased) changes
         * nothing and is reported; anything else fails the whole batch. */
        if (rc != 0 && rc != STORE_ENOTFOUND && rc != STORE_ENORCPT)
            return rc;
    }
    for (int i = 0; i < 8; i++)
        v[i] = (unsigned char)(b->seq >> (8 * i));
    MDB_val k = applied_key, val = { 8, v };
    return store_env_err(mdb_put(txn, st->dbi[STORE_DB_META], &k, &val, 0),
                         "writing the applied event number");
}

int store_apply_events(store_t *st, struct store_event_batch *b)
{
    struct batch_arg ba = { .b = b };
    int rc;

    if (st == NULL || b == NULL || b->seq == 0)
        return STORE_EINVAL;
    for (size_t i = 0; i < b->n; i++) {
        if (!ev_args_ok(&b->evs[i]))
            return STORE_EINVAL;
    }
    ba.now = store_now_ms();
    rc = store_env_write(st, batch_fn, &ba);
    if (rc == STORE_OK && !b->already) {
        for (size_t i = 0; i < b->n; i++) {
            if (b->overflow[i])
                store_outbox_overflowed(st, b->evs[i].id, b->evs[i].rcpt, b->evs[i].forward_to);
        }
    }
    return rc;
}

int store_record_event(store_t *st, const struct store_event_in *ev,
                       struct store_rcpt *after, int *matched)
{
    struct ev_arg a = { 0 };
    int rc;

    if (after)
        memset(after, 0, sizeof(*after));
    if (matched)
        *matched = STORE_MATCH_NONE;
    if (st == NULL || !ev_args_ok(ev))
        return STORE_EINVAL;
    a.ev = ev;
    a.now = store_now_ms();
    rc = store_env_write(st, ev_fn, &a);
    if (rc == STORE_OK && a.overflow)
        store_outbox_overflowed(st, ev->id, ev->rcpt, ev->forward_to);
    if (matched)
        *matched = rc == STORE_OK ? a.matched : STORE_MATCH_NONE;
    if (rc == STORE_OK && after)
        *after = a.after;
    else
        store_rcpt_clear(&a.after);
    return rc;
}

static int member_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct ev_arg *a = arg;
    const struct store_rcpt *remote = a->remote;
    int rc;

    store_rcpt_clear(&a->after);
    rc = store_db_rcpt_load(st, txn, a->ev->id, remote->address, &a->after);
    if (rc == STORE_ENORCPT && remote->original_recipient != NULL &&
        strcmp(remote->original_recipient, remote->address) != 0) {
        rc = hosted_entry(st, txn, a->ev->id, remote->original_recipient, a->peer);
        if (rc == 0)
            rc = add_member(st, txn, a->ev->id, remote->address, a->peer,
                            remote->original_recipient, a->now);
        if (rc == 0)
            rc = mark_expanded(st, txn, a->ev->id, remote->original_recipient, a->now);
        if (rc == 0)
            rc = store_db_rcpt_load(st, txn, a->ev->id, remote->address, &a->after);
        a->matched = STORE_MATCH_MEMBER;
    }
    if (rc != 0)
        return rc;
    if (store_rec_merge(&a->after, remote) || a->matched == STORE_MATCH_MEMBER) {
        a->after.updated_ms = a->now;
        rc = store_db_rcpt_save(st, txn, a->ev->id, &a->after);
        if (rc == 0)    /* the feed (issue 17) */
            rc = store_events_append(st, txn, STORE_EVK_MERGE, a->ev->id, &a->after, a->now);
    }
    return rc;
}

int store_merge_member(store_t *st, const char *id, const struct store_rcpt *remote,
                       const char *peer, struct store_rcpt *after)
{
    struct store_event_in ev = { .id = id };
    struct ev_arg a = { 0 };
    int rc;

    if (after)
        memset(after, 0, sizeof(*after));
    if (st == NULL || remote == NULL || remote->status < STORE_SENT ||
        remote->status > STORE_READ || memchr(remote->via, '\0', sizeof(remote->via)) == NULL ||
        !store_db_id_ok(id) || !store_db_addr_ok(remote->address) || peer == NULL ||
        !store_db_peer_ok(peer) ||
        (remote->original_recipient && !store_db_addr_ok(remote->original_recipient)))
        return STORE_EINVAL;
    a.ev = &ev;
    a.remote = remote;
    a.peer = peer;
    a.now = store_now_ms();
    rc = store_env_write(st, member_fn, &a);
    if (rc == STORE_OK && after)
        *after = a.after;
    else
        store_rcpt_clear(&a.after);
    return rc;
}
