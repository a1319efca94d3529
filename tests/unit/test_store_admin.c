/*
 * test_store_admin - listing (paging and every filter, against a model),
 * retention purge in batches, the outbox (order, delete, park, stats) and
 * erasure of an address, on a real LMDB in a private temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

static int setup(void **state)
{
    return fx_setup_mode(state, 1);   /* group commit */
}

/* ---- listing against a model ---- */

#define N_MAILS 40
static const char *const senders[] = { "alice@a.example", "bob@a.example", "zed@b.example" };
static const char *const people[] = { "r1@a.example", "r2@a.example", "r3@b.example" };

struct model {
    char        id[MAILID_ID_LEN + 1];
    uint64_t    ms;
    const char *sender;
    int         has[3];      /* recipient i recorded */
    int         status[3];
};

static struct model model[N_MAILS];

/* Mail i at T0 + 1000 i; recipients and statuses follow i so that every
 * filter selects a different, irregular subset. */
static void build_model(store_t *st)
{
    for (int i = 0; i < N_MAILS; i++) {
        struct model *m = &model[i];
        const char *rc[3];
        size_t n = 0;
        m->ms = T0 + 1000u * (uint64_t)i;
        m->sender = senders[i % 3];
        for (int r = 0; r < 3; r++) {
            m->has[r] = r == 0 || (r == 1 && i % 2 == 0) || (r == 2 && i % 7 < 3);
            m->status[r] = STORE_SENT;
            if (m->has[r])
                rc[n++] = people[r];
        }
        assert_int_equal(fx_put(st, m->ms, m->sender, rc, n, m->id), STORE_OK);
        if (i % 4 == 0) {
            assert_int_equal(store_mark_read(st, m->id, people[0], m->ms + 5, "api",
                                             NULL, NULL), STORE_OK);
            m->status[0] = STORE_READ;
        }
        if (m->has[1] && i % 3 == 0) {
            assert_int_equal(store_mark_deleted_unread(st, m->id, people[1], m->ms + 5,
                                                       "imap", NULL, NULL), STORE_OK);
            m->status[1] = STORE_DELETED_UNREAD;
        }
    }
}

struct list_case {
    const char *name;
    const char *sender, *recipient;
    int         since_i, until_i;   /* mail index bounds; -1 = none */
    int         status;
};

static const struct list_case list_cases[] = {
    { "everything",                 NULL, NULL, -1, -1, -1 },
    { "by sender",                  "alice@a.example", NULL, -1, -1, -1 },
    { "by sender with no mail",     "nobody@a.example", NULL, -1, -1, -1 },
    { "by recipient",               NULL, "r2@a.example", -1, -1, -1 },
    { "by recipient (prefix of none)", NULL, "r2@a.exampl", -1, -1, -1 },
    { "since only",                 NULL, NULL, 25, -1, -1 },
    { "until only",                 NULL, NULL, -1, 12, -1 },
    { "since and until",            NULL, NULL, 10, 30, -1 },
    { "status read (any rcpt)",     NULL, NULL, -1, -1, STORE_READ },
    { "status deleted_unread",      NULL, NULL, -1, -1, STORE_DELETED_UNREAD },
    { "recipient and status sent",  NULL, "r1@a.example", -1, -1, STORE_SENT },
    { "recipient and status read",  NULL, "r1@a.example", -1, -1, STORE_READ },
    { "sender and recipient",       "bob@a.example", "r3@b.example", -1, -1, -1 },
    { "sender, recipient, window, status", "zed@b.example", "r2@a.example", 4, 36,
      STORE_DELETED_UNREAD },
    { "sender and status",          "alice@a.example", NULL, 3, -1, STORE_READ },
    { "until before everything",    NULL, NULL, -1, 0, -1 },
    { "since after everything",     NULL, NULL, N_MAILS, -1, -1 },
    { NULL, NULL, NULL, 0, 0, 0 },
};

static int model_match(const struct list_case *c, const struct model *m)
{
    if (c->sender && strcmp(c->sender, m->sender) != 0)
        return 0;
    if (c->since_i >= 0 && m->ms < T0 + 1000u * (uint64_t)c->since_i)
        return 0;
    if (c->until_i >= 0 && m->ms >= T0 + 1000u * (uint64_t)c->until_i)
        return 0;
    int any = 0;
    for (int r = 0; r < 3; r++) {
        if (!m->has[r])
            continue;
        if (c->recipient && strcmp(c->recipient, people[r]) != 0)
            continue;
        if (c->status < 0 || m->status[r] == c->status)
            any = 1;
    }
    return any || (c->recipient == NULL && c->status < 0);
}

static void check_case(store_t *st, const struct list_case *c, size_t limit)
{
    const char *want[N_MAILS];
    size_t n_want = 0, got = 0, pages = 0;
    char cursor[MAILID_ID_LEN + 1] = "";

    for (int i = N_MAILS - 1; i >= 0; i--)           /* newest first */
        if (model_match(c, &model[i]))
            want[n_want++] = model[i].id;
    do {
        struct store_query q = {
            .sender = c->sender, .recipient = c->recipient, .status = c->status,
            .since_ms = c->since_i >= 0 ? T0 + 1000u * (uint64_t)c->since_i : 0,
            .until_ms = c->until_i >= 0 ? T0 + 1000u * (uint64_t)c->until_i : 0,
            .limit = limit, .cursor = cursor[0] ? cursor : NULL,
        };
        struct store_list l;
        if (c->until_i == 0)
            q.until_ms = T0;                         /* before the first mail */
        int rc = store_list(st, &q, &l);
        if (rc != STORE_OK)
            fail_msg("case \"%s\" limit %zu: rc %d", c->name, limit, rc);
        pages++;
        for (size_t j = 0; j < l.n_mails; j++, got++) {
            if (got >= n_want || strcmp(l.mails[j].mail.id, want[got]) != 0)
                fail_msg("case \"%s\" limit %zu: item %zu is %s, want %s", c->name,
                         limit, got, l.mails[j].mail.id, got < n_want ? want[got] : "none");
            assert_true(l.mails[j].n_rcpts >= 1);    /* full records */
        }
        /* a page is full unless it is the last; no empty trailing page */
        if (l.next_cursor[0]) {
            assert_int_equal(l.n_mails, limit);
            assert_string_equal(l.next_cursor, l.mails[l.n_mails - 1].mail.id);
        }
        memcpy(cursor, l.next_cursor, sizeof(cursor));
        store_list_clear(&l);
    } while (cursor[0] && pages <= N_MAILS + 1);
    if (got != n_want)
        fail_msg("case \"%s\" limit %zu: got %zu mails, want %zu", c->name, limit, got,
                 n_want);
    if (n_want > 0)
        assert_int_equal(pages, (n_want + limit - 1) / limit);
}

static void test_list_filters_and_paging(void **state)
{
    struct fx *f = *state;
    static const size_t limits[] = { 1, 3, 7, 1000 };

    build_model(f->st);
    for (const struct list_case *c = list_cases; c->name; c++)
        for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
            check_case(f->st, c, limits[l]);
}

static void test_list_bad_queries(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    struct store_query ok = { .status = -1, .limit = 10 }, q;

    /* each row changes one field of a good query to a bad value */
    q = ok; q.limit = 0;                      /* limit below 1 */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.limit = 1001;                   /* limit above 1000 */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.cursor = "garbage";             /* cursor that is no id */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.status = 4;                     /* status out of range */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.status = -2;
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.sender = "";                    /* empty sender */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    q = ok; q.recipient = "";                 /* empty recipient */
    assert_int_equal(store_list(f->st, &q, &l), STORE_EINVAL);
    assert_int_equal(l.n_mails, 0);
    assert_null(l.mails);
    /* since >= until is an empty window, not an error */
    q = ok; q.since_ms = T0 + 10; q.until_ms = T0 + 10;
    assert_int_equal(store_list(f->st, &q, &l), STORE_OK);
    assert_int_equal(l.n_mails, 0);
    store_list_clear(&l);
}

/* ---- purge ---- */

static size_t count_list(store_t *st, const char *sender, const char *rcpt)
{
    struct store_query q = { .sender = sender, .recipient = rcpt, .status = -1,
                             .limit = 1000 };
    struct store_list l;
    assert_int_equal(store_list(st, &q, &l), STORE_OK);
    size_t n = l.n_mails;
    store_list_clear(&l);
    return n;
}

static void test_purge_batches(void **state)
{
    struct fx *f = *state;
    static const char *const r[] = { "bob@a.example", "carol@b.example" };
    char ids[10][MAILID_ID_LEN + 1];
    size_t purged, depth, parked;
    uint64_t oldest;

    for (int i = 0; i < 10; i++) {
        assert_int_equal(fx_put(f->st, T0 + 1000u * (uint64_t)i, "alice@a.example", r, 2,
                                ids[i]), STORE_OK);
        /* every mail has a pending forward */
        assert_int_equal(store_mark_read(f->st, ids[i], "bob@a.example", 0, "api", "mx2",
                                         NULL), STORE_OK);
    }
    /* mails 0..6 are older than the limit; batches of 3: 3, 3, 1, 0 */
    static const size_t want[] = { 3, 3, 1, 0, 0 };
    for (int b = 0; b < 5; b++) {
        assert_int_equal(store_purge(f->st, T0 + 7000, 3, &purged), STORE_OK);
        assert_int_equal(purged, want[b]);
    }
    struct store_mail_rec *rec;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(store_get_mail(f->st, ids[i], &rec), i < 7 ? STORE_ENOTFOUND
                                                                  : STORE_OK);
        rec = store_mail_rec_free(rec);
    }
    /* the indexes and the outbox went with the mails */
    assert_int_equal(count_list(f->st, "alice@a.example", NULL), 3);
    assert_int_equal(count_list(f->st, NULL, "bob@a.example"), 3);
    assert_int_equal(count_list(f->st, NULL, "carol@b.example"), 3);
    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 3);
    /* batch 0 is refused rather than looping forever */
    assert_int_equal(store_purge(f->st, T0 + 7000, 0, &purged), STORE_EINVAL);
}

/* Purged mails take their outbox and parked items along, over several
 * batches; items of the mails that stay are kept, parked or not. */
static void test_purge_sweeps_outbox_and_parked(void **state)
{
    struct fx *f = *state;
    static const char *const r[] = { "bob@a.example" };
    char ids[10][MAILID_ID_LEN + 1];
    struct store_outbox_item *items;
    size_t n, purged, depth, parked;

    for (int i = 0; i < 10; i++) {
        assert_int_equal(fx_put(f->st, T0 + 1000u * (uint64_t)i, "alice@a.example", r, 1,
                                ids[i]), STORE_OK);
        assert_int_equal(store_mark_read(f->st, ids[i], "bob@a.example", 0, "api", "mx2",
                                         NULL), STORE_OK);
    }
    /* park the items of mail 1 (to be purged) and mail 8 (to stay) */
    assert_int_equal(store_outbox_peek(f->st, "mx2", 10, &items, &n), STORE_OK);
    assert_int_equal(n, 10);
    uint64_t park[2] = { items[1].seq, items[8].seq };
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_park(f->st, "mx2", park, 2), STORE_OK);
    do {
        assert_int_equal(store_purge(f->st, T0 + 5000, 2, &purged), STORE_OK);
    } while (purged > 0);
    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, NULL, &parked), STORE_OK);
    assert_int_equal(depth, 4);         /* mails 5, 6, 7, 9 */
    assert_int_equal(parked, 1);        /* mail 8 */
    assert_int_equal(store_outbox_peek(f->st, "mx2", 10, &items, &n), STORE_OK);
    assert_int_equal(n, 4);
    static const int left[] = { 5, 6, 7, 9 };
    for (size_t i = 0; i < n; i++)
        assert_string_equal(items[i].id, ids[left[i]]);
    store_outbox_free(items, n);
}

/* ---- outbox ---- */

static void test_outbox(void **state)
{
    struct fx *f = *state;
    static const char *const r[] = { "bob@a.example", "carol@b.example" };
    char m1[MAILID_ID_LEN + 1], m2[MAILID_ID_LEN + 1];
    struct store_outbox_item *it;
    size_t n, depth, parked;
    uint64_t oldest;

    assert_int_equal(fx_put(f->st, T0, "alice@c.example", r, 2, m1), STORE_OK);
    assert_int_equal(fx_put(f->st, T0 + 1, "dave@c.example", r, 2, m2), STORE_OK);
    /* empty outbox */
    assert_int_equal(store_outbox_peek(f->st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth + parked + oldest, 0);

    assert_int_equal(store_mark_read(f->st, m2, "bob@a.example", T0 + 10, "imap", "mx2",
                                     NULL), STORE_OK);
    assert_int_equal(store_mark_read(f->st, m1, "carol@b.example", T0 + 20, "api", "mx3",
                                     NULL), STORE_OK);
    assert_int_equal(store_mark_deleted_unread(f->st, m1, "bob@a.example", T0 + 30, "imap",
                                               "mx2", NULL), STORE_OK);
    assert_int_equal(store_mark_read(f->st, m1, "carol@b.example", T0 + 40, "api", "mx2",
                                     NULL), STORE_OK);
    /* a deletion of a read entry changes nothing, so nothing is queued */
    assert_int_equal(store_mark_deleted_unread(f->st, m2, "bob@a.example", T0 + 50, "imap",
                                               "mx2", NULL), STORE_OK);
    /* a later read without forwarding: the queued item carries the new state */
    assert_int_equal(store_mark_read(f->st, m2, "bob@a.example", T0 + 60, "imap", NULL,
                                     NULL), STORE_OK);

    assert_int_equal(store_outbox_peek(f->st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_true(it[0].seq < it[1].seq && it[1].seq < it[2].seq);   /* queue order */
    assert_string_equal(it[0].id, m2);
    assert_string_equal(it[0].sender, "dave@c.example");
    assert_string_equal(it[0].rcpt.address, "bob@a.example");
    assert_int_equal(it[0].rcpt.status, STORE_READ);
    assert_int_equal(it[0].rcpt.read_count, 2);
    assert_int_equal(it[0].rcpt.last_read_ms, T0 + 60);
    assert_true(it[0].queued_ms > 0);
    assert_string_equal(it[1].id, m1);
    assert_string_equal(it[1].rcpt.address, "bob@a.example");
    assert_int_equal(it[1].rcpt.status, STORE_DELETED_UNREAD);
    assert_string_equal(it[2].rcpt.address, "carol@b.example");
    assert_int_equal(it[2].rcpt.read_count, 2);
    uint64_t seqs[3] = { it[0].seq, it[1].seq, it[2].seq };
    store_outbox_free(it, n);

    /* max limits the peek to the oldest items */
    assert_int_equal(store_outbox_peek(f->st, "mx2", 2, &it, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(it[1].seq, seqs[1]);
    store_outbox_free(it, n);
    /* another peer's queue is separate; a peer that is a prefix sees nothing */
    assert_int_equal(store_outbox_stats(f->st, "mx3", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 1);
    assert_int_equal(store_outbox_stats(f->st, "mx", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 0);

    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 3);
    assert_int_equal(parked, 0);
    assert_true(oldest > 0);
    /* delivered: delete the first; refused for good: park the second */
    assert_int_equal(store_outbox_delete(f->st, "mx2", &seqs[0], 1), STORE_OK);
    assert_int_equal(store_outbox_park(f->st, "mx2", &seqs[1], 1), STORE_OK);
    /* deleting again, or a seq that never existed, is harmless */
    uint64_t again[2] = { seqs[0], 999999 };
    assert_int_equal(store_outbox_delete(f->st, "mx2", again, 2), STORE_OK);
    assert_int_equal(store_outbox_park(f->st, "mx2", again, 2), STORE_OK);
    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 1);
    assert_int_equal(parked, 1);
    assert_int_equal(store_outbox_peek(f->st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].seq, seqs[2]);
    store_outbox_free(it, n);
    /* bad peers */
    assert_int_equal(store_outbox_peek(f->st, "", 10, &it, &n), STORE_EINVAL);
    assert_int_equal(store_outbox_delete(f->st, NULL, seqs, 1), STORE_EINVAL);
}

/* ---- erasure ---- */

static void test_erase_address(void **state)
{
    struct fx *f = *state;
    static const char *const to_bc[] = { "bob@a.example", "carol@b.example" };
    static const char *const to_ac[] = { "alice@a.example", "carol@b.example" };
    static const char *const to_b[] = { "bob@a.example" };
    char m1[MAILID_ID_LEN + 1], m2[MAILID_ID_LEN + 1], m3[MAILID_ID_LEN + 1];
    struct store_mail_rec *rec;
    size_t erased, depth;

    assert_int_equal(fx_put(f->st, T0, "alice@a.example", to_bc, 2, m1), STORE_OK);
    assert_int_equal(fx_put(f->st, T0 + 1, "bob@a.example", to_ac, 2, m2), STORE_OK);
    assert_int_equal(fx_put(f->st, T0 + 2, "carol@b.example", to_b, 1, m3), STORE_OK);
    assert_int_equal(store_mark_read(f->st, m1, "bob@a.example", 0, "api", "mx2", NULL),
                     STORE_OK);
    assert_int_equal(store_mark_read(f->st, m2, "alice@a.example", 0, "api", "mx2", NULL),
                     STORE_OK);
    assert_int_equal(store_mark_read(f->st, m3, "bob@a.example", 0, "api", "mx2", NULL),
                     STORE_OK);

    /* alice: her mail m1 (1) and her entry in m2 (1) */
    assert_int_equal(store_erase_address(f->st, "alice@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 2);
    assert_int_equal(store_get_mail(f->st, m1, &rec), STORE_ENOTFOUND);
    assert_int_equal(store_get_mail(f->st, m2, &rec), STORE_OK);
    assert_int_equal(rec->n_rcpts, 1);
    assert_string_equal(rec->rcpts[0].address, "carol@b.example");
    store_mail_rec_free(rec);
    assert_int_equal(store_get_mail(f->st, m3, &rec), STORE_OK);
    store_mail_rec_free(rec);
    assert_int_equal(count_list(f->st, "alice@a.example", NULL), 0);
    assert_int_equal(count_list(f->st, NULL, "alice@a.example"), 0);
    assert_int_equal(count_list(f->st, NULL, "bob@a.example"), 1);     /* m3 only */
    assert_int_equal(count_list(f->st, NULL, "carol@b.example"), 1);   /* m2 only */
    /* the outbox items naming alice (as recipient, or of her mail) are gone */
    assert_int_equal(store_outbox_stats(f->st, "mx2", &depth, NULL, NULL), STORE_OK);
    assert_int_equal(depth, 1);
    /* erasing again, or an unknown address, erases nothing */
    assert_int_equal(store_erase_address(f->st, "alice@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 0);
    assert_int_equal(store_erase_address(f->st, "", &erased), STORE_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_list_filters_and_paging),
        T(test_list_bad_queries),
        T(test_purge_batches),
        T(test_purge_sweeps_outbox_and_parked),
        T(test_outbox),
        T(test_erase_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
