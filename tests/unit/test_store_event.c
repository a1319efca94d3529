/*
 * test_store_event - events for final recipients (design §11): lists,
 * aliases and +addresses matched to recorded entries, member entries, and
 * the bad inputs that must change nothing (an original recipient the mail
 * never had, one hosted by another server, an unknown mail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"

static int setup(void **state) { return fx_setup_mode(state, 0); }
static int teardown(void **state) { return fx_teardown(state); }

/* team@ (a list), info@ (an alias), bob+news@, and mx2's zoe@c.example */
static void put_mail(store_t *st, char id[MAILID_ID_LEN + 1])
{
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .created_ms = T0, .n_rcpt = 4 };
    struct store_rcpt r[4];
    const char *addr[4] = { "team@a.example", "info@a.example", "bob+news@a.example",
                            "zoe@c.example" };

    memset(r, 0, sizeof(r));
    for (int i = 0; i < 4; i++) {
        r[i].address = (char *)(uintptr_t)addr[i];
        r[i].server = (char *)(uintptr_t)(i == 3 ? "mx2" : "mx1");
    }
    assert_int_equal(mailid_generate(T0, m.id), MAILID_OK);
    memcpy(id, m.id, MAILID_ID_LEN + 1);
    assert_int_equal(store_put_sent(st, &m, r, 4), STORE_OK);
}

static int event(store_t *st, const char *id, const char *rcpt, const char *orig, int ev,
                 int *matched)
{
    struct store_event_in in = { .id = id, .rcpt = rcpt, .original = orig, .delims = "+",
                                 .this_server = "mx1", .event = ev, .via = "imap" };
    struct store_rcpt after;
    int rc = store_record_event(st, &in, &after, matched);
    store_rcpt_clear(&after);
    return rc;
}

static size_t n_entries(store_t *st, const char *id)
{
    struct store_mail_rec *rec;
    size_t n;
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    n = rec->n_rcpts;
    store_mail_rec_free(rec);
    return n;
}

static void test_list_members(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    struct store_rcpt e;
    int m;

    put_mail(f->st, id);
    /* carl and dave get the list mail: each a member entry of team@ (bob
     * is not used here: bob+news@ would match him by rule 2) */
    assert_int_equal(event(f->st, id, "carl@a.example", "team@a.example", STORE_EV_RECEIVED, &m),
                     STORE_OK);
    assert_int_equal(m, STORE_MATCH_MEMBER);
    assert_int_equal(event(f->st, id, "dave@a.example", "team@a.example", STORE_EV_RECEIVED, &m),
                     STORE_OK);
    assert_int_equal(m, STORE_MATCH_MEMBER);
    /* carl reads it: his own entry now (rule 1), original not needed */
    assert_int_equal(event(f->st, id, "carl@a.example", NULL, STORE_EV_READ, &m), STORE_OK);
    assert_int_equal(m, STORE_MATCH_SAME);

    assert_int_equal(fx_entry(f->st, id, "carl@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    assert_string_equal(e.original_recipient, "team@a.example");
    assert_string_equal(e.server, "mx1");
    store_rcpt_clear(&e);
    assert_int_equal(fx_entry(f->st, id, "dave@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_RECEIVED);
    store_rcpt_clear(&e);
    assert_int_equal(fx_entry(f->st, id, "team@a.example", &e), STORE_OK);
    assert_int_equal(e.expanded, 1);
    assert_int_equal(e.status, STORE_SENT);      /* the list itself read nothing */
    store_rcpt_clear(&e);

    /* GET ?recipient=carl finds the list mail */
    struct store_query q = { .recipient = "carl@a.example", .status = -1, .limit = 10 };
    struct store_list l;
    assert_int_equal(store_list(f->st, &q, &l), STORE_OK);
    assert_int_equal(l.n_mails, 1);
    store_list_clear(&l);
}

static void test_alias_and_extension(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    struct store_rcpt e;
    int m;

    put_mail(f->st, id);
    /* without LMTP (Postfix local delivery): a read from bob@ finds bob+news@ */
    assert_int_equal(event(f->st, id, "bob@a.example", NULL, STORE_EV_READ, &m), STORE_OK);
    assert_int_equal(m, STORE_MATCH_EXTENSION);
    assert_int_equal(fx_entry(f->st, id, "bob+news@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    store_rcpt_clear(&e);
    assert_int_equal(fx_entry(f->st, id, "bob@a.example", &e), STORE_ENORCPT);
    /* an alias info@ -> carol@: carol's entry, original info@ */
    assert_int_equal(event(f->st, id, "carol@a.example", "info@a.example", STORE_EV_READ, &m),
                     STORE_OK);
    assert_int_equal(m, STORE_MATCH_MEMBER);
    /* an ORCPT with an extension of a recorded list: team+x@ -> team@ */
    assert_int_equal(event(f->st, id, "erin@a.example", "team+x@a.example", STORE_EV_RECEIVED,
                           &m), STORE_OK);
    assert_int_equal(fx_entry(f->st, id, "erin@a.example", &e), STORE_OK);
    assert_string_equal(e.original_recipient, "team@a.example");
    store_rcpt_clear(&e);
    assert_int_equal(n_entries(f->st, id), 6);
}

/* Bad inputs: each refused, nothing changed. */
static void test_refused(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1], other[MAILID_ID_LEN + 1];
    int m;

    put_mail(f->st, id);
    /* an original recipient the mail never had */
    assert_int_equal(event(f->st, id, "mallory@a.example", "board@a.example", STORE_EV_READ, &m),
                     STORE_ENORCPT);
    assert_int_equal(m, STORE_MATCH_NONE);
    /* no original at all, unknown recipient */
    assert_int_equal(event(f->st, id, "mallory@a.example", NULL, STORE_EV_READ, &m),
                     STORE_ENORCPT);
    /* an original recipient another server hosts (zoe@c.example on mx2) */
    assert_int_equal(event(f->st, id, "yan@a.example", "zoe@c.example", STORE_EV_READ, &m),
                     STORE_ENORCPT);
    /* an entry hosted by another server is not this server's to update */
    assert_int_equal(event(f->st, id, "zoe@c.example", NULL, STORE_EV_READ, &m),
                     STORE_ENORCPT);
    /* a mail this server never recorded */
    assert_int_equal(mailid_generate(T0 + 5, other), MAILID_OK);
    assert_int_equal(event(f->st, other, "bob@a.example", "team@a.example", STORE_EV_READ, &m),
                     STORE_ENOTFOUND);
    assert_int_equal(n_entries(f->st, id), 4);
    struct store_rcpt e;
    assert_int_equal(fx_entry(f->st, id, "team@a.example", &e), STORE_OK);
    assert_int_equal(e.expanded, 0);
    store_rcpt_clear(&e);
    /* bad arguments */
    struct store_event_in in = { .id = id, .rcpt = "bob@a.example", .event = 7,
                                 .this_server = "mx1" };
    assert_int_equal(store_record_event(f->st, &in, NULL, NULL), STORE_EINVAL);
    in.event = STORE_EV_READ;
    in.this_server = NULL;
    assert_int_equal(store_record_event(f->st, &in, NULL, NULL), STORE_EINVAL);
}

/* The sender's server takes a peer's member entry only through an
 * original recipient it recorded as hosted by that peer. */
static void test_merge_member(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    struct store_rcpt r = { .address = (char *)(uintptr_t)"zed@c.example",
                            .status = STORE_READ, .first_read_ms = T0 + 10,
                            .last_read_ms = T0 + 10, .read_count = 1, .via = "imap",
                            .original_recipient = (char *)(uintptr_t)"zoe@c.example" };
    struct store_rcpt e;

    put_mail(f->st, id);
    /* bad input: the signing peer is not the one the original was recorded for */
    assert_int_equal(store_merge_member(f->st, id, &r, "mx3", NULL), STORE_ENORCPT);
    /* bad input: an original this mail never had */
    r.original_recipient = (char *)(uintptr_t)"nobody@c.example";
    assert_int_equal(store_merge_member(f->st, id, &r, "mx2", NULL), STORE_ENORCPT);
    assert_int_equal(n_entries(f->st, id), 4);
    r.original_recipient = (char *)(uintptr_t)"zoe@c.example";
    assert_int_equal(store_merge_member(f->st, id, &r, "mx2", NULL), STORE_OK);
    assert_int_equal(fx_entry(f->st, id, "zed@c.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    assert_string_equal(e.server, "mx2");
    assert_string_equal(e.original_recipient, "zoe@c.example");
    store_rcpt_clear(&e);
    assert_int_equal(fx_entry(f->st, id, "zoe@c.example", &e), STORE_OK);
    assert_int_equal(e.expanded, 1);
    store_rcpt_clear(&e);
    /* the same sync again: idempotent */
    assert_int_equal(store_merge_member(f->st, id, &r, "mx2", NULL), STORE_OK);
    assert_int_equal(n_entries(f->st, id), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_and_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_member, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
