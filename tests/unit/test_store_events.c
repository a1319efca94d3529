/*
 * test_store_events - the event feed (issue 17): the record codec
 * (table-driven, damaged records refused), and against a real LMDB store:
 * one event per real change in commit order, none for a change that
 * changes nothing, member creation, merges, erasure, retention, cursors
 * and the wake-up hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_events.h"
#include "store_fixture.h"

static const char ID[] = "01KB4YFG81AFQ7YW998F2WE3AP";

/* ---- codec ---- */

static void test_codec_roundtrip(void **state)
{
    static const struct {
        int kind, status;
        uint32_t count;
        const char *sender, *rcpt, *orig, *via;
    } cases[] = {
        { STORE_EV_READ, STORE_READ, 1, "alice@a.example", "bob@a.example", NULL, "imap" },
        { STORE_EV_RECEIVED, STORE_RECEIVED, 0, "alice@a.example", "carol@a.example",
          "list@a.example", "lmtp" },
        { STORE_EV_DELETED_UNREAD, STORE_DELETED_UNREAD, 0, NULL, "d@a.example", NULL, "" },
        { STORE_EVK_MERGE, STORE_READ, 7, "a@a.example", "e@c.example", NULL, "sync" },
        { 0, 0, 0, NULL, NULL, NULL, NULL },
    };
    (void)state;
    for (size_t i = 0; cases[i].rcpt; i++) {
        struct store_feed_event in = { .time_ms = T0 + i, .kind = cases[i].kind,
                                       .status = cases[i].status,
                                       .read_count = cases[i].count,
                                       .sender = (char *)(uintptr_t)cases[i].sender,
                                       .recipient = (char *)(uintptr_t)cases[i].rcpt,
                                       .original_recipient = (char *)(uintptr_t)cases[i].orig };
        struct store_feed_event out;
        struct store_rec_buf b = { 0 };

        memcpy(in.id, ID, sizeof(ID));
        snprintf(in.via, sizeof(in.via), "%s", cases[i].via);
        store_events_encode(&b, &in);
        assert_int_equal(b.p[0], STORE_EVENTS_VERSION);
        assert_int_equal(store_events_decode(b.p, b.len, 42 + i, &out), 0);
        assert_int_equal(out.seq, 42 + i);
        assert_int_equal(out.time_ms, T0 + i);
        assert_int_equal(out.kind, cases[i].kind);
        assert_int_equal(out.status, cases[i].status);
        assert_int_equal(out.read_count, cases[i].count);
        assert_string_equal(out.id, ID);
        if (cases[i].sender)
            assert_string_equal(out.sender, cases[i].sender);
        else
            assert_null(out.sender);
        assert_string_equal(out.recipient, cases[i].rcpt);
        if (cases[i].orig)
            assert_string_equal(out.original_recipient, cases[i].orig);
        else
            assert_null(out.original_recipient);
        assert_string_equal(out.via, cases[i].via);
        store_feed_event_clear(&out);
        /* bad input: every truncation and one byte too many are refused */
        for (size_t n = 0; n < b.len; n++)
            assert_int_equal(store_events_decode(b.p, n, 1, &out), -1);
        unsigned char *longer = malloc(b.len + 1);
        memcpy(longer, b.p, b.len);
        longer[b.len] = 0;
        assert_int_equal(store_events_decode(longer, b.len + 1, 1, &out), -1);
        free(longer);
        /* bad input: unknown version, kind and status bytes */
        b.p[0] = 9;
        assert_int_equal(store_events_decode(b.p, b.len, 1, &out), -1);
        b.p[0] = STORE_EVENTS_VERSION;
        b.p[9] = 4;
        assert_int_equal(store_events_decode(b.p, b.len, 1, &out), -1);
        b.p[9] = (unsigned char)cases[i].kind;
        b.p[10] = 4;
        assert_int_equal(store_events_decode(b.p, b.len, 1, &out), -1);
        b.p[10] = (unsigned char)cases[i].status;
        b.p[15] = '!';          /* bad input: not a mail id */
        assert_int_equal(store_events_decode(b.p, b.len, 1, &out), -1);
        store_rec_buf_free(&b);
    }
}

static void test_names(void **state)
{
    static const struct { int kind, status; const char *want; } cases[] = {
        { STORE_EV_READ, STORE_READ, "read" },
        { STORE_EV_RECEIVED, STORE_RECEIVED, "received" },
        { STORE_EV_DELETED_UNREAD, STORE_DELETED_UNREAD, "deleted_unread" },
        { STORE_EVK_MERGE, STORE_READ, "read" },
        { STORE_EVK_MERGE, STORE_RECEIVED, "received" },
        { STORE_EVK_MERGE, STORE_SENT, "sent" },
        { 0, 0, NULL },
    };
    (void)state;
    for (size_t i = 0; cases[i].want; i++) {
        struct store_feed_event e = { .kind = cases[i].kind, .status = cases[i].status };
        assert_string_equal(store_events_name(&e), cases[i].want);
    }
}

/* ---- against a real store ---- */

static const char *const rcpts[] = { "bob@a.example", "carol@a.example", "list@a.example" };

static struct store_feed_event *all(store_t *st, uint64_t after, size_t *n)
{
    struct store_feed_event *ev;
    uint64_t last;
    assert_int_equal(store_events_read(st, after, 1000, &ev, n, &last), STORE_OK);
    return ev;
}

static int hook_calls;
static void hook(void *arg)
{
    (void)arg;
    hook_calls++;
}

static void test_changes_make_events(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    struct store_feed_event *ev;
    struct store_rcpt remote = { 0 };
    size_t n;
    uint64_t last;

    store_events_set_hook(hook, NULL);
    hook_calls = 0;
    assert_int_equal(fx_put(f->st, T0, "alice@a.example", rcpts, 3, id), STORE_OK);
    assert_int_equal(store_events_last(f->st, &last), STORE_OK);
    assert_int_equal(last, 0);                  /* sent entries are not events */
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 10, "api", NULL, NULL),
                     STORE_OK);
    assert_true(hook_calls >= 1);
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 20, "imap", NULL, NULL),
                     STORE_OK);
    /* deleted_unread after a read changes nothing: no event */
    assert_int_equal(store_mark_deleted_unread(f->st, id, "bob@a.example", T0 + 30, "imap",
                                               NULL, NULL), STORE_OK);
    struct store_event_in in = { .id = id, .rcpt = "carol@a.example", .this_server = "mx1",
                                 .event = STORE_EV_RECEIVED, .via = "lmtp" };
    assert_int_equal(store_record_event(f->st, &in, NULL, NULL), STORE_OK);
    assert_int_equal(store_record_event(f->st, &in, NULL, NULL), STORE_OK);  /* no change */
    /* a list member: created and received in one transaction, one event */
    struct store_event_in mem = { .id = id, .rcpt = "dave@a.example",
                                  .original = "list@a.example", .this_server = "mx1",
                                  .event = STORE_EV_RECEIVED, .via = "lmtp" };
    assert_int_equal(store_record_event(f->st, &mem, NULL, NULL), STORE_OK);
    /* a peer's merge: a real change once, the duplicate nothing */
    remote.address = (char *)"carol@a.example";
    remote.status = STORE_READ;
    remote.first_read_ms = remote.last_read_ms = T0 + 40;
    remote.read_count = 3;
    snprintf(remote.via, sizeof(remote.via), "imap");
    assert_int_equal(store_merge(f->st, id, &remote, NULL), STORE_OK);
    assert_int_equal(store_merge(f->st, id, &remote, NULL), STORE_OK);

    ev = all(f->st, 0, &n);
    assert_int_equal(n, 5);
    static const struct { const char *rcpt, *event, *via; int status; uint32_t count; } want[] = {
        { "bob@a.example", "read", "api", STORE_READ, 1 },
        { "bob@a.example", "read", "imap", STORE_READ, 2 },
        { "carol@a.example", "received", "lmtp", STORE_RECEIVED, 0 },
        { "dave@a.example", "received", "lmtp", STORE_RECEIVED, 0 },
        { "carol@a.example", "read", "imap", STORE_READ, 3 },
    };
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].seq, i + 1);     /* gapless, in commit order */
        assert_string_equal(ev[i].id, id);
        assert_string_equal(ev[i].sender, "alice@a.example");
        assert_string_equal(ev[i].recipient, want[i].rcpt);
        assert_string_equal(store_events_name(&ev[i]), want[i].event);
        assert_string_equal(ev[i].via, want[i].via);
        assert_int_equal(ev[i].status, want[i].status);
        assert_int_equal(ev[i].read_count, want[i].count);
        assert_true(ev[i].time_ms > 0);
    }
    assert_string_equal(ev[3].original_recipient, "list@a.example");
    assert_null(ev[0].original_recipient);
    assert_int_equal(ev[4].kind, STORE_EVK_MERGE);
    store_events_free(ev, n);

    /* paging: after and max */
    struct store_feed_event *page;
    assert_int_equal(store_events_read(f->st, 2, 2, &page, &n, &last), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(page[0].seq, 3);
    assert_int_equal(page[1].seq, 4);
    assert_int_equal(last, 5);
    store_events_free(page, n);
    assert_int_equal(store_events_read(f->st, 5, 10, &page, &n, &last), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(page);
    assert_int_equal(last, 5);
    /* bad input: a page larger than the bound */
    assert_int_equal(store_events_read(f->st, 0, 10001, &page, &n, &last), STORE_EINVAL);
    store_events_set_hook(NULL, NULL);
}

static void test_erase_and_prune(void **state)
{
    struct fx *f = *state;
    char a[MAILID_ID_LEN + 1], b[MAILID_ID_LEN + 1];
    static const char *const one[] = { "bob@a.example" };
    struct store_feed_event *ev;
    size_t n, erased, pruned;

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", rcpts, 2, a), STORE_OK);
    assert_int_equal(fx_put(f->st, T0 + 1, "erin@a.example", one, 1, b), STORE_OK);
    assert_int_equal(store_mark_read(f->st, a, "bob@a.example", 0, "api", NULL, NULL), STORE_OK);
    assert_int_equal(store_mark_read(f->st, a, "carol@a.example", 0, "api", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_mark_read(f->st, b, "bob@a.example", 0, "api", NULL, NULL), STORE_OK);
    /* erasing carol (a recipient) and erin (a sender) takes their events */
    assert_int_equal(store_erase_address(f->st, "carol@a.example", &erased), STORE_OK);
    assert_int_equal(store_erase_address(f->st, "erin@a.example", &erased), STORE_OK);
    ev = all(f->st, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].seq, 1);
    assert_string_equal(ev[0].recipient, "bob@a.example");
    store_events_free(ev, n);
    /* the sequence never goes back: the next event is 4, not 2 */
    assert_int_equal(store_mark_read(f->st, a, "bob@a.example", 0, "api", NULL, NULL), STORE_OK);
    ev = all(f->st, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].seq, 4);
    uint64_t t4 = ev[0].time_ms;
    store_events_free(ev, n);
    /* retention: everything recorded before t4 goes, in batches */
    assert_int_equal(store_events_prune(f->st, t4, 1, &pruned), STORE_OK);
    assert_int_equal(pruned, 1);
    assert_int_equal(store_events_prune(f->st, t4, 1, &pruned), STORE_OK);
    assert_int_equal(pruned, 0);
    ev = all(f->st, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].seq, 4);
    store_events_free(ev, n);
    assert_int_equal(store_events_prune(f->st, t4 + 1, 100, &pruned), STORE_OK);
    assert_int_equal(pruned, 1);
    ev = all(f->st, 0, &n);
    assert_int_equal(n, 0);
    assert_int_equal(store_events_prune(f->st, t4, 0, &pruned), STORE_EINVAL);
}

static void test_cursors(void **state)
{
    struct fx *f = *state;
    uint64_t seq;
    char longname[80];

    assert_int_equal(store_events_cursor_get(f->st, "crm", &seq), STORE_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(store_events_cursor_set(f->st, "crm", 17), STORE_OK);
    assert_int_equal(store_events_cursor_set(f->st, "other", 3), STORE_OK);
    assert_int_equal(store_events_cursor_get(f->st, "crm", &seq), STORE_OK);
    assert_int_equal(seq, 17);
    /* bad input: empty and overlong names */
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(store_events_cursor_set(f->st, "", 1), STORE_EINVAL);
    assert_int_equal(store_events_cursor_set(f->st, longname, 1), STORE_EINVAL);
    /* durable: a reopened store has it */
    f->st = store_close(f->st);
    f->st = fx_open(f->dir, 1, 0, 0);
    assert_non_null(f->st);
    assert_int_equal(store_events_cursor_get(f->st, "crm", &seq), STORE_OK);
    assert_int_equal(seq, 17);
}

static int setup(void **state)
{
    return fx_setup_mode(state, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_changes_make_events, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_erase_and_prune, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cursors, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
