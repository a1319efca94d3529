/*
 * test_store_erase - erasure in bounded transactions (as sender, login and
 * recipient; the time bound; several transactions for a large one) and the
 * erasures queue for the peers, on a real LMDB in a private temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_erase.h"
#include "store_fixture.h"

static int setup(void **state)
{
    return fx_setup_mode(state, 0);   /* tools mode: one commit per write */
}

/* A mail from sender submitted under SMTP AUTH login (NULL = none). */
static int put_login(store_t *st, uint64_t ms, const char *sender, const char *login,
                     const char *rcpt, char id[MAILID_ID_LEN + 1])
{
    struct store_mail m = { .sender = (char *)(uintptr_t)sender, .created_ms = ms,
                            .login = (char *)(uintptr_t)login, .n_rcpt = 1 };
    struct store_rcpt r = { .address = (char *)(uintptr_t)rcpt,
                            .server = (char *)(uintptr_t)"mx1" };

    if (mailid_generate(ms, m.id) != MAILID_OK)
        return -100;
    memcpy(id, m.id, MAILID_ID_LEN + 1);
    return store_put_sent(st, &m, &r, 1);
}

static int exists(store_t *st, const char *id)
{
    struct store_mail_rec *rec = NULL;
    int rc = store_get_mail(st, id, &rec);
    store_mail_rec_free(rec);
    return rc == STORE_OK;
}

static uint64_t commits(store_t *st)
{
    struct store_stats s;
    assert_int_equal(store_stats(st, &s), STORE_OK);
    return s.commits;
}

/* 70 mails of alice, 10 she submitted as sales@ (her login), 200 entries
 * of hers in bob's mails, and what is not hers: all of hers go, in
 * several transactions of at most STORE_ERASE_BATCH index entries. */
static void test_erase_large_in_batches(void **state)
{
    struct fx *f = *state;
    static char ids[280][MAILID_ID_LEN + 1];
    char other[MAILID_ID_LEN + 1], cased[MAILID_ID_LEN + 1];
    size_t erased = 0, n = 0;

    for (int i = 0; i < 70; i++)
        assert_int_equal(put_login(f->st, T0 + (uint64_t)n, "alice@a.example", NULL,
                                   "bob@a.example", ids[n]), STORE_OK), n++;
    for (int i = 0; i < 10; i++)
        assert_int_equal(put_login(f->st, T0 + (uint64_t)n, "sales@a.example",
                                   "alice@a.example", "bob@a.example", ids[n]), STORE_OK), n++;
    for (int i = 0; i < 200; i++)
        assert_int_equal(put_login(f->st, T0 + (uint64_t)n, "bob@a.example", "bob@a.example",
                                   "alice@a.example", ids[n]), STORE_OK), n++;
    /* not hers: sales@ under bob's login; a login that only differs in case
     * is not hers either (logins are compared exactly) */
    assert_int_equal(put_login(f->st, T0 + 500, "sales@a.example", "bob@a.example",
                               "carol@a.example", other), STORE_OK);
    assert_int_equal(put_login(f->st, T0 + 501, "sales@a.example", "Alice@a.example",
                               "carol@a.example", cased), STORE_OK);

    uint64_t c0 = commits(f->st);
    assert_int_equal(store_erase_address(f->st, "alice@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 280);
    /* 280 index entries, at most 64 per transaction: >= 5, plus the sweep */
    assert_true(commits(f->st) - c0 >= 280 / STORE_ERASE_BATCH + 1 + 1);
    for (size_t i = 0; i < 80; i++)
        assert_false(exists(f->st, ids[i]));
    for (size_t i = 80; i < 280; i++) {      /* bob's mails stay, without her */
        struct store_rcpt r;
        assert_int_equal(fx_entry(f->st, ids[i], "alice@a.example", &r), STORE_ENORCPT);
    }
    assert_true(exists(f->st, ids[279]));
    assert_true(exists(f->st, other));
    assert_true(exists(f->st, cased));
    assert_int_equal(store_erase_address(f->st, "alice@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 0);
}

/* The time bound: only mails whose id time is before it. */
static const struct {
    uint64_t before;     /* 0 = none */
    size_t   erased;     /* of 3 mails at T0, T0 + 1 s, T0 + 2 s */
} bound_cases[] = {
    { 0, 3 },
    { T0, 0 },
    { T0 + 1, 1 },
    { T0 + 1500, 2 },
    { T0 + 2000, 2 },
    { T0 + 2001, 3 },
    { UINT64_C(1) << 47, 3 },
};

static void test_erase_time_bound(void **state)
{
    struct fx *f = *state;

    for (size_t c = 0; c < sizeof(bound_cases) / sizeof(bound_cases[0]); c++) {
        char id[3][MAILID_ID_LEN + 1];
        size_t erased = 99;
        for (int i = 0; i < 3; i++)
            assert_int_equal(put_login(f->st, T0 + 1000u * (uint64_t)i, "alice@a.example",
                                       NULL, "bob@a.example", id[i]), STORE_OK);
        assert_int_equal(store_erase_until(f->st, "alice@a.example", bound_cases[c].before,
                                           &erased), STORE_OK);
        assert_int_equal(erased, bound_cases[c].erased);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(exists(f->st, id[i]), i >= bound_cases[c].erased);
        assert_int_equal(store_erase_address(f->st, "alice@a.example", &erased), STORE_OK);
        assert_int_equal(erased, 3 - bound_cases[c].erased);
    }
    assert_int_equal(store_erase_until(f->st, "", 0, NULL), STORE_EINVAL);
    assert_int_equal(store_erase_until(NULL, "a@b", 0, NULL), STORE_EINVAL);
}

static void test_erasure_queue(void **state)
{
    struct fx *f = *state;
    static const char *const peers[] = { "mx2", "mx3" };
    struct store_erasure *it;
    size_t n, depth;
    uint64_t oldest;

    assert_int_equal(store_erasure_queue(f->st, "alice@a.example", peers, 2, 1000), STORE_OK);
    assert_int_equal(store_erasure_queue(f->st, "bob@a.example", peers, 1, 2000), STORE_OK);
    /* alice again: replaces her items (one per peer and address) */
    assert_int_equal(store_erasure_queue(f->st, "alice@a.example", peers, 2, 3000), STORE_OK);
    assert_int_equal(store_erasure_stats(f->st, "mx2", &depth, &oldest), STORE_OK);
    assert_int_equal(depth, 2);
    assert_int_equal(oldest, 2000);
    assert_int_equal(store_erasure_stats(f->st, NULL, &depth, NULL), STORE_OK);
    assert_int_equal(depth, 3);

    assert_int_equal(store_erasure_peek(f->st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 2);                 /* in queue order: bob, then alice */
    assert_string_equal(it[0].address, "bob@a.example");
    assert_string_equal(it[0].peer, "mx2");
    assert_int_equal(it[0].requested_ms, 2000);
    assert_string_equal(it[1].address, "alice@a.example");
    assert_int_equal(it[1].requested_ms, 3000);
    assert_true(it[0].seq < it[1].seq);
    uint64_t seqs[2] = { it[0].seq, 424242 };   /* an unknown seq is ignored */
    store_erasure_free(it, n);
    assert_int_equal(store_erasure_peek(f->st, "mx2", 1, &it, &n), STORE_OK);
    assert_int_equal(n, 1);
    store_erasure_free(it, n);

    assert_int_equal(store_erasure_delete(f->st, "mx2", seqs, 2), STORE_OK);
    assert_int_equal(store_erasure_peek(f->st, NULL, 10, &it, &n), STORE_OK);
    assert_int_equal(n, 2);                 /* mx2: alice; mx3: alice */
    assert_string_equal(it[0].peer, "mx2");
    assert_string_equal(it[1].peer, "mx3");
    store_erasure_free(it, n);
    assert_int_equal(store_erasure_peek(f->st, "mx4", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 0);

    /* bad arguments change nothing */
    assert_int_equal(store_erasure_queue(f->st, "", peers, 2, 1), STORE_EINVAL);
    static const char *const badpeer[] = { "mx2", "" };
    assert_int_equal(store_erasure_queue(f->st, "zed@a.example", badpeer, 2, 1), STORE_EINVAL);
    assert_int_equal(store_erasure_queue(f->st, "zed@a.example", NULL, 1, 1), STORE_EINVAL);
    assert_int_equal(store_erasure_peek(f->st, "", 10, &it, &n), STORE_EINVAL);
    assert_int_equal(store_erasure_delete(f->st, NULL, seqs, 1), STORE_EINVAL);
    assert_int_equal(store_erasure_stats(f->st, NULL, &depth, NULL), STORE_OK);
    assert_int_equal(depth, 2);
}

/* Erasure on a store at map_size_max: fill a 1 MiB map, then erase an
 * address with an entry in every mail. */
static void test_erase_full_store(void **state)
{
    char *dir = *state;
    store_t *st = fx_open(dir, 0, 1u << 20, 1u << 20);
    static const char *const to[] = { "r0@a.example", "r1@a.example", "r2@a.example",
                                      "r3@a.example", "r4@a.example", "r5@a.example" };
    char id[MAILID_ID_LEN + 1];
    size_t n = 0, erased = 0;
    int rc;

    assert_non_null(st);
    while ((rc = fx_put(st, T0 + n, "alice@a.example", to, 6, id)) == STORE_OK)
        n++;
    assert_int_equal(rc, STORE_EFULL);
    assert_true(n > 200);
    assert_int_equal(store_erase_address(st, "r3@a.example", &erased), STORE_OK);
    assert_int_equal(erased, n);
    assert_int_equal(store_erase_address(st, "r3@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 0);
    store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_erase_large_in_batches),
        T(test_erase_time_bound),
        T(test_erasure_queue),
        cmocka_unit_test_setup_teardown(test_erase_full_store, fx_dir_setup, fx_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
