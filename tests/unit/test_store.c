/*
 * test_store - the store API one function at a time on a real LMDB in a
 * private temp dir: recording, read semantics, merge, lookups, bad arguments.
 * Listing, purge, outbox and erasure: test_store_admin.c; threads, processes,
 * map growth and schema: test_store_multi.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

static int setup(void **state)
{
    return fx_setup_mode(state, 0);   /* direct commits */
}

static const char *const two[] = { "bob@a.example", "carol@b.example" };

static void test_put_and_get(void **state)
{
    struct fx *f = *state;
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .created_ms = T0 + 5,
                            .queue_id = (char *)(uintptr_t)"4F2A1C3",
                            .message_id = (char *)(uintptr_t)"<x@a.example>",
                            .subject = NULL, .n_rcpt = 3 };
    struct store_rcpt r[2] = {
        { .address = (char *)(uintptr_t)"bob@a.example", .server = (char *)(uintptr_t)"mx1" },
        /* caller-set read fields are ignored: new entries start as sent */
        { .address = (char *)(uintptr_t)"carol@b.example", .server = (char *)(uintptr_t)"mx2",
          .status = STORE_READ, .read_count = 9, .first_read_ms = 1 },
    };
    struct store_mail_rec *rec;

    assert_int_equal(mailid_generate(T0, m.id), MAILID_OK);
    assert_int_equal(store_put_sent(f->st, &m, r, 2), STORE_OK);
    assert_int_equal(store_get_mail(f->st, m.id, &rec), STORE_OK);
    assert_string_equal(rec->mail.id, m.id);
    assert_string_equal(rec->mail.sender, "alice@a.example");
    assert_int_equal(rec->mail.created_ms, T0 + 5);
    assert_string_equal(rec->mail.queue_id, "4F2A1C3");
    assert_string_equal(rec->mail.message_id, "<x@a.example>");
    assert_null(rec->mail.subject);
    assert_int_equal(rec->mail.n_rcpt, 3);
    assert_int_equal(rec->n_rcpts, 2);
    /* recipients come back in key order (address order within the mail) */
    assert_string_equal(rec->rcpts[0].address, "bob@a.example");
    assert_string_equal(rec->rcpts[0].server, "mx1");
    assert_string_equal(rec->rcpts[1].address, "carol@b.example");
    assert_string_equal(rec->rcpts[1].server, "mx2");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rec->rcpts[i].status, STORE_SENT);
        assert_int_equal(rec->rcpts[i].read_count, 0);
        assert_int_equal(rec->rcpts[i].first_read_ms, 0);
        assert_string_equal(rec->rcpts[i].via, "");
        assert_true(rec->rcpts[i].updated_ms > 0);
    }
    rec = store_mail_rec_free(rec);
    assert_null(rec);
}

static void test_get_unknown(void **state)
{
    struct fx *f = *state;
    struct store_mail_rec *rec = (struct store_mail_rec *)(uintptr_t)1;
    char id[MAILID_ID_LEN + 1];

    assert_int_equal(mailid_generate(T0, id), MAILID_OK);
    assert_int_equal(store_get_mail(f->st, id, &rec), STORE_ENOTFOUND);
    assert_null(rec);
}

static void test_put_twice_keeps_entries(void **state)
{
    struct fx *f = *state;
    struct store_rcpt e;
    struct store_mail_rec *rec;
    char id[MAILID_ID_LEN + 1];

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 100, "imap",
                                     NULL, NULL), STORE_OK);
    /* the same id again (a relayed mail), other fields and one new rcpt */
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .created_ms = T0 + 999,
                            .queue_id = (char *)(uintptr_t)"OTHERQ", .n_rcpt = 7 };
    struct store_rcpt r[2] = {
        { .address = (char *)(uintptr_t)"bob@a.example", .server = (char *)(uintptr_t)"mx9" },
        { .address = (char *)(uintptr_t)"dave@c.example", .server = (char *)(uintptr_t)"mx3" },
    };
    memcpy(m.id, id, sizeof(m.id));
    assert_int_equal(store_put_sent(f->st, &m, r, 2), STORE_OK);

    assert_int_equal(store_get_mail(f->st, id, &rec), STORE_OK);
    assert_int_equal(rec->mail.created_ms, T0);           /* first record kept */
    assert_string_equal(rec->mail.queue_id, "4F2A1C3");
    assert_int_equal(rec->mail.n_rcpt, 2);
    assert_int_equal(rec->n_rcpts, 3);                      /* dave added */
    rec = store_mail_rec_free(rec);
    assert_int_equal(fx_entry(f->st, id, "bob@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);                 /* not reset */
    assert_int_equal(e.read_count, 1);
    assert_string_equal(e.server, "mx1");
    store_rcpt_clear(&e);
    assert_int_equal(fx_entry(f->st, id, "dave@c.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_SENT);
    store_rcpt_clear(&e);
}

static void test_read_semantics(void **state)
{
    struct fx *f = *state;
    struct store_rcpt a;
    char id[MAILID_ID_LEN + 1];

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    /* first read: first = last = when, count 1 */
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 500, "imap",
                                     NULL, &a), STORE_OK);
    assert_int_equal(a.status, STORE_READ);
    assert_int_equal(a.first_read_ms, T0 + 500);
    assert_int_equal(a.last_read_ms, T0 + 500);
    assert_int_equal(a.read_count, 1);
    assert_string_equal(a.via, "imap");
    assert_string_equal(a.address, "bob@a.example");
    assert_string_equal(a.server, "mx1");
    store_rcpt_clear(&a);
    /* a later read moves last_read only */
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 900, "api",
                                     NULL, &a), STORE_OK);
    assert_int_equal(a.first_read_ms, T0 + 500);
    assert_int_equal(a.last_read_ms, T0 + 900);
    assert_int_equal(a.read_count, 2);
    assert_string_equal(a.via, "api");
    store_rcpt_clear(&a);
    /* a read reported late (older time) never moves last_read back */
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 300, "api",
                                     NULL, &a), STORE_OK);
    assert_int_equal(a.first_read_ms, T0 + 300);
    assert_int_equal(a.last_read_ms, T0 + 900);
    assert_int_equal(a.read_count, 3);
    store_rcpt_clear(&a);
    /* deleted_unread after a read: ignored, STORE_OK, entry unchanged */
    assert_int_equal(store_mark_deleted_unread(f->st, id, "bob@a.example", T0 + 1000,
                                               "imap", NULL, &a), STORE_OK);
    assert_int_equal(a.status, STORE_READ);
    assert_int_equal(a.read_count, 3);
    assert_string_equal(a.via, "api");
    store_rcpt_clear(&a);
    /* deleted_unread before any read, then a read beats it */
    assert_int_equal(store_mark_deleted_unread(f->st, id, "carol@b.example", T0 + 10,
                                               "imap", NULL, &a), STORE_OK);
    assert_int_equal(a.status, STORE_DELETED_UNREAD);
    assert_int_equal(a.read_count, 0);
    store_rcpt_clear(&a);
    assert_int_equal(store_mark_deleted_unread(f->st, id, "carol@b.example", T0 + 20,
                                               "api", NULL, &a), STORE_OK);
    assert_int_equal(a.status, STORE_DELETED_UNREAD);
    assert_string_equal(a.via, "imap");                      /* unchanged */
    store_rcpt_clear(&a);
    assert_int_equal(store_mark_read(f->st, id, "carol@b.example", T0 + 30, "imap",
                                     NULL, &a), STORE_OK);
    assert_int_equal(a.status, STORE_READ);
    assert_int_equal(a.first_read_ms, T0 + 30);
    assert_int_equal(a.read_count, 1);
    store_rcpt_clear(&a);
    /* a peer's stale "sent" never sets a read entry back */
    struct store_rcpt stale = { .address = (char *)(uintptr_t)"carol@b.example",
                                .status = STORE_SENT };
    assert_int_equal(store_merge(f->st, id, &stale, &a), STORE_OK);
    assert_int_equal(a.status, STORE_READ);
    assert_int_equal(a.read_count, 1);
    store_rcpt_clear(&a);
    /* when 0 means now */
    assert_int_equal(store_mark_read(f->st, id, "carol@b.example", 0, NULL, NULL, &a),
                     STORE_OK);
    assert_true(a.last_read_ms > T0);
    assert_string_equal(a.via, "");
    store_rcpt_clear(&a);
}

static void test_mark_unknown(void **state)
{
    struct fx *f = *state;
    struct store_rcpt a;
    char id[MAILID_ID_LEN + 1], other[MAILID_ID_LEN + 1];

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    assert_int_equal(mailid_generate(T0, other), MAILID_OK);
    /* a mail this server never recorded */
    assert_int_equal(store_mark_read(f->st, other, "bob@a.example", T0, "api", NULL, &a),
                     STORE_ENOTFOUND);
    assert_null(a.address);
    /* a recipient this server never recorded for a known mail */
    assert_int_equal(store_mark_read(f->st, id, "eve@a.example", T0, "api", NULL, &a),
                     STORE_ENORCPT);
    assert_int_equal(store_mark_deleted_unread(f->st, id, "eve@a.example", T0, "api",
                                               NULL, NULL), STORE_ENORCPT);
    /* nothing was created by the failed calls */
    assert_int_equal(fx_entry(f->st, id, "eve@a.example", &a), STORE_ENORCPT);
}

/* Merge: one local entry, remote entries applied in every order. */
static const struct store_rcpt remotes[] = {
    { .status = STORE_READ, .first_read_ms = T0 + 50, .last_read_ms = T0 + 70,
      .read_count = 2, .via = "imap" },
    { .status = STORE_DELETED_UNREAD, .via = "imap" },
    { .status = STORE_READ, .first_read_ms = T0 + 40, .last_read_ms = T0 + 45,
      .read_count = 4, .via = "api" },
    { .status = STORE_RECEIVED, .via = "" },
};
#define N_REMOTES 4

static void apply_perm(store_t *st, const char *id, const int *perm, int twice,
                       struct store_rcpt *out)
{
    for (int rep = 0; rep <= twice; rep++)
        for (int i = 0; i < N_REMOTES; i++) {
            struct store_rcpt r = remotes[perm[i]];
            r.address = (char *)(uintptr_t)"bob@a.example";
            assert_int_equal(store_merge(st, id, &r, NULL), STORE_OK);
        }
    assert_int_equal(fx_entry(st, id, "bob@a.example", out), STORE_OK);
}

static int next_perm(int *p, int n)
{
    int i = n - 2, j = n - 1, t;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return 0;
    while (p[j] <= p[i])
        j--;
    t = p[i], p[i] = p[j], p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--)
        t = p[a], p[a] = p[b], p[b] = t;
    return 1;
}

static void test_merge_order_free(void **state)
{
    struct fx *f = *state;
    int perm[N_REMOTES] = { 0, 1, 2, 3 }, runs = 0;
    static const char *const bob[] = { "bob@a.example" };

    do {
        char id[MAILID_ID_LEN + 1];
        struct store_rcpt e;
        assert_int_equal(fx_put(f->st, T0, "alice@a.example", bob, 1, id), STORE_OK);
        /* odd permutations are applied twice: repetition changes nothing */
        apply_perm(f->st, id, perm, runs & 1, &e);
        assert_int_equal(e.status, STORE_READ);
        assert_int_equal(e.first_read_ms, T0 + 40);   /* min of non-zero */
        assert_int_equal(e.last_read_ms, T0 + 70);    /* max */
        assert_int_equal(e.read_count, 4);            /* max, not the sum */
        assert_string_equal(e.via, "imap");           /* max (status, via) */
        store_rcpt_clear(&e);
        runs++;
    } while (next_perm(perm, N_REMOTES));
    assert_int_equal(runs, 24);
}

static void test_merge_refused(void **state)
{
    struct fx *f = *state;
    struct store_rcpt r = { .address = (char *)(uintptr_t)"eve@a.example",
                            .status = STORE_READ, .read_count = 1 }, a;
    char id[MAILID_ID_LEN + 1], other[MAILID_ID_LEN + 1];

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    /* a peer syncs a recipient this server never recorded */
    assert_int_equal(store_merge(f->st, id, &r, &a), STORE_ENORCPT);
    assert_int_equal(fx_entry(f->st, id, "eve@a.example", &a), STORE_ENORCPT);
    /* a peer syncs a mail this server never recorded */
    assert_int_equal(mailid_generate(T0, other), MAILID_OK);
    assert_int_equal(store_merge(f->st, other, &r, &a), STORE_ENOTFOUND);
    /* a status out of range */
    r.address = (char *)(uintptr_t)"bob@a.example";
    r.status = 7;
    assert_int_equal(store_merge(f->st, id, &r, &a), STORE_EINVAL);
}

static void test_bad_arguments(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1], longaddr[400];
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example" };
    struct store_rcpt r = { .address = (char *)(uintptr_t)"bob@a.example" };
    struct store_mail_rec *rec;

    memset(longaddr, 'x', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    /* an id that is not 26 canonical characters */
    assert_int_equal(store_get_mail(f->st, "01JDQ8ZZ", &rec), STORE_EINVAL);
    assert_int_equal(store_get_mail(f->st, "01jdq8zz0000000000000000ab", &rec), STORE_EINVAL);
    assert_int_equal(store_mark_read(f->st, "not-an-id", "bob@a.example", 0, NULL, NULL,
                                     NULL), STORE_EINVAL);
    /* an empty / NULL / too long address */
    assert_int_equal(store_mark_read(f->st, id, "", 0, NULL, NULL, NULL), STORE_EINVAL);
    assert_int_equal(store_mark_read(f->st, id, NULL, 0, NULL, NULL, NULL), STORE_EINVAL);
    assert_int_equal(store_mark_read(f->st, id, longaddr, 0, NULL, NULL, NULL), STORE_EINVAL);
    /* an empty forward_to peer */
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", 0, NULL, "", NULL),
                     STORE_EINVAL);
    /* put_sent: bad id, empty sender, long recipient, NULL rcpt array */
    memcpy(m.id, "0000", 5);
    assert_int_equal(store_put_sent(f->st, &m, &r, 1), STORE_EINVAL);
    assert_int_equal(mailid_generate(T0, m.id), MAILID_OK);
    m.sender = (char *)(uintptr_t)"";
    assert_int_equal(store_put_sent(f->st, &m, &r, 1), STORE_EINVAL);
    m.sender = (char *)(uintptr_t)"alice@a.example";
    r.address = longaddr;
    assert_int_equal(store_put_sent(f->st, &m, &r, 1), STORE_EINVAL);
    assert_int_equal(store_put_sent(f->st, &m, NULL, 1), STORE_EINVAL);
    /* none of the refused calls recorded the mail */
    assert_int_equal(store_get_mail(f->st, m.id, &rec), STORE_ENOTFOUND);
    /* no recipients at all is fine (the mail is still recorded) */
    assert_int_equal(store_put_sent(f->st, &m, NULL, 0), STORE_OK);
    assert_int_equal(store_get_mail(f->st, m.id, &rec), STORE_OK);
    assert_int_equal(rec->n_rcpts, 0);
    store_mail_rec_free(rec);
}

static void test_reopen(void **state)
{
    struct fx *f = *state;
    struct store_rcpt e;
    char id[MAILID_ID_LEN + 1];

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 1, "imap", NULL,
                                     NULL), STORE_OK);
    f->st = store_close(f->st);
    assert_null(f->st);
    f->st = fx_open(f->dir, 1, 0, 0);
    assert_non_null(f->st);
    assert_int_equal(fx_entry(f->st, id, "bob@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    assert_int_equal(e.first_read_ms, T0 + 1);
    store_rcpt_clear(&e);
}

static void test_names(void **state)
{
    static const char *const names[] = { "sent", "received", "deleted_unread", "read" };
    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_string_equal(store_status_name(i), names[i]);
        assert_int_equal(store_status_parse(names[i]), i);
    }
    /* unknown names and numbers */
    assert_int_equal(store_status_parse("unread"), -1);
    assert_int_equal(store_status_parse("READ"), -1);
    assert_int_equal(store_status_parse(NULL), -1);
    assert_string_equal(store_status_name(9), "unknown");
    for (int e = STORE_OK; e >= STORE_ECLOSED; e--)
        assert_string_not_equal(store_strerror(e), "unknown store error");
}

static void test_stats_count_writes(void **state)
{
    struct fx *f = *state;
    struct store_stats s;
    char id[MAILID_ID_LEN + 1];

    assert_int_equal(store_stats(f->st, &s), STORE_OK);
    assert_int_equal(s.commits, 0);
    assert_int_equal(s.map_size, 64u << 20);
    assert_int_equal(fx_put(f->st, T0, "alice@a.example", two, 2, id), STORE_OK);
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0, "api", NULL, NULL),
                     STORE_OK);
    /* a refused write is not counted */
    assert_int_equal(store_mark_read(f->st, id, "eve@a.example", T0, "api", NULL, NULL),
                     STORE_ENORCPT);
    assert_int_equal(store_stats(f->st, &s), STORE_OK);
    assert_int_equal(s.writes, 2);
    assert_int_equal(s.commits, 2);      /* without group commit: one each */
    assert_true(s.map_used > 0 && s.map_used <= s.map_size);
}

/* Bulk loading: three mails in one call are one commit and read back
 * like store_put_sent's; one invalid mail among them (bad input: an empty
 * recipient address) fails the call and writes none of them. */
static void test_put_sent_many(void **state)
{
    struct fx *f = *state;
    struct store_mail m[3];
    struct store_rcpt r[2] = {
        { .address = (char *)(uintptr_t)"bob@a.example", .server = (char *)(uintptr_t)"mx1" },
        { .address = (char *)(uintptr_t)"amy@a.example", .server = (char *)(uintptr_t)"mx2" },
    };
    struct store_sent sent[3];
    struct store_stats s;

    for (int i = 0; i < 3; i++) {
        memset(&m[i], 0, sizeof(m[i]));
        m[i].sender = (char *)(uintptr_t)"alice@a.example";
        m[i].created_ms = T0 + (uint64_t)i;
        m[i].n_rcpt = 2;
        assert_int_equal(mailid_generate(T0 + (uint64_t)i, m[i].id), MAILID_OK);
        sent[i].mail = &m[i];
        sent[i].rcpts = r;
        sent[i].n_rcpts = 2;
    }
    struct store_rcpt bad[1] = { { .address = (char *)(uintptr_t)"",
                                   .server = (char *)(uintptr_t)"mx1" } };
    sent[1].rcpts = bad;
    sent[1].n_rcpts = 1;
    assert_int_equal(store_put_sent_many(f->st, sent, 3), STORE_EINVAL);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(f->st, m[0].id, &rec), STORE_ENOTFOUND);
    sent[1].rcpts = r;
    sent[1].n_rcpts = 2;
    assert_int_equal(store_put_sent_many(f->st, sent, 3), STORE_OK);
    assert_int_equal(store_stats(f->st, &s), STORE_OK);
    assert_int_equal(s.commits, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_get_mail(f->st, m[i].id, &rec), STORE_OK);
        assert_int_equal(rec->n_rcpts, 2);
        assert_string_equal(rec->rcpts[0].address, "amy@a.example");
        assert_string_equal(rec->rcpts[0].server, "mx2");
        assert_int_equal(rec->rcpts[1].status, STORE_SENT);
        store_mail_rec_free(rec);
    }
    assert_int_equal(store_put_sent_many(f->st, NULL, 0), STORE_OK);
    assert_int_equal(store_put_sent_many(NULL, sent, 3), STORE_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_put_and_get),
        T(test_get_unknown),
        T(test_put_twice_keeps_entries),
        T(test_read_semantics),
        T(test_mark_unknown),
        T(test_merge_order_free),
        T(test_merge_refused),
        T(test_bad_arguments),
        T(test_reopen),
        T(test_stats_count_writes),
        T(test_put_sent_many),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
