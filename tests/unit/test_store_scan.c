/*
 * test_store_scan - store_opts.list_max_scan (issue 15 item 3): a list
 * whose filter matches little examines at most list_max_scan mails per
 * call and returns what it found with a cursor; following the cursors
 * finds every match exactly once; unfiltered pages stay full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

static const char *const bob[] = { "bob@a.example" };

static void test_bounded_scan(void **state)
{
    struct store_opts o = { .path = *state, .list_max_scan = 10 };
    char err[256], id[35][MAILID_ID_LEN + 1];
    store_t *st = NULL;
    struct store_query q = { .status = STORE_READ, .limit = 100 };
    struct store_list l;

    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_OK);
    for (int i = 0; i < 35; i++)
        assert_int_equal(fx_put(st, T0 + 1000u * (uint64_t)i, "alice@a.example", bob, 1,
                                id[i]), STORE_OK);
    static const int readn[] = { 5, 17, 30 };
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_mark_read(st, id[readn[i]], bob[0], 0, "api", NULL, NULL),
                         STORE_OK);
    /* newest first: 30 in the first 10 (34..25), 17 in 24..15, 5 in 14..5 */
    char cursor[MAILID_ID_LEN + 1] = "";
    int found[3] = { 0 }, pages = 0;
    do {
        q.cursor = cursor[0] ? cursor : NULL;
        assert_int_equal(store_list(st, &q, &l), STORE_OK);
        pages++;
        assert_true(l.n_mails <= 1);
        for (size_t i = 0; i < l.n_mails; i++)
            for (int k = 0; k < 3; k++)
                if (strcmp(l.mails[i].mail.id, id[readn[k]]) == 0)
                    found[k]++;
        if (l.next_cursor[0])
            assert_true(l.scan_limited);
        memcpy(cursor, l.next_cursor, sizeof(cursor));
        store_list_clear(&l);
    } while (cursor[0] && pages < 100);
    assert_int_equal(pages, 4);         /* 10 + 10 + 10 + 5 mails examined */
    for (int k = 0; k < 3; k++)
        assert_int_equal(found[k], 1);

    /* no filter: pages fill before the bound and are not marked */
    struct store_query all = { .status = -1, .limit = 5 };
    assert_int_equal(store_list(st, &all, &l), STORE_OK);
    assert_int_equal(l.n_mails, 5);
    assert_false(l.scan_limited);
    assert_string_equal(l.next_cursor, id[30]);
    store_list_clear(&l);
    /* a recipient-index scan is bounded the same way */
    struct store_query br = { .recipient = bob[0], .status = STORE_READ, .limit = 100 };
    assert_int_equal(store_list(st, &br, &l), STORE_OK);
    assert_int_equal(l.n_mails, 1);
    assert_true(l.scan_limited);
    assert_string_equal(l.next_cursor, id[25]);
    store_list_clear(&l);
    st = store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_bounded_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
