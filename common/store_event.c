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
 * *target (allocated), creating a member entry for rule 3.
 */
static int ev_match(store_t *st, MDB_txn *txn, struct ev_arg *a, char **target)
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
    rc = ev_match(st, txn, a, &target);
    if (rc == 0)
        rc = store_db_rcpt_load(st, txn, ev->id, target, &a->after);
    if (rc != 0) {
        free(target);
        return rc;
    }
    switch (ev->event) {
    case STORE_EV_RECEIVED:
        changed = store_rec_apply_received(&a->after, ev->via);
        break;
    case STORE_EV_DELETED_UNREAD:
        changed = store_rec_apply_deleted(&a->after, ev->via);
        break;
    default:
        store_rec_apply_read(&a->after, ev->when_ms ? ev->when_ms : a->now, ev->via);
        changed = 1;
        break;
    }
    /* A new member entry is news for the sender's server even unchanged. */
    if (changed || a->matched == STORE_MATCH_MEMBER) {
        a->after.updated_ms = a->now;
        rc = store_db_rcpt_save(st, txn, ev->id, &a->after);
        if (rc == 0 && ev->forward_to)
            rc = store_outbox_add_txn(st, txn, ev->forward_to, ev->id, target, a->now,
                                      &a->overflow);
    }
    free(target);
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
    if (st == NULL || ev == NULL || !store_db_id_ok(ev->id) || !store_db_addr_ok(ev->rcpt) ||
        (ev->original && ev->original[0] && !store_db_addr_ok(ev->original)) ||
        ev->this_server == NULL || !store_db_field_ok(ev->this_server) ||
        ev->event < STORE_EV_READ || ev->event > STORE_EV_DELETED_UNREAD ||
        (ev->forward_to && !store_db_peer_ok(ev->forward_to)))
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
