/*
 * test_erase - the POST /v1/erase body (tracker/erase.c): what the strict
 * parser takes and refuses (each refused body is a bad input a peer, or
 * someone with a stolen key, might send), and that the encoder's output
 * parses back to the queued items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "erase.h"

static const struct {
    const char *body;
    int         want;          /* SYNC_OK, SYNC_EJSON, SYNC_EBATCH */
    size_t      n;
    const char *first;         /* normal form of the first address */
} cases[] = {
    { "{\"erase\":[{\"address\":\"alice@a.example\",\"before\":1}]}", SYNC_OK, 1,
      "alice@a.example" },
    /* addresses are put in normal form (addr.h: lower case) */
    { "{\"erase\":[{\"address\":\"Alice@A.EXAMPLE\",\"before\":5},"
      "{\"address\":\"<bob@c.example>\",\"before\":6}]}", SYNC_OK, 2, "alice@a.example" },
    { "not json", SYNC_EJSON, 0, NULL },
    { "", SYNC_EJSON, 0, NULL },
    { "[]", SYNC_EBATCH, 0, NULL },                                     /* not an object */
    { "{}", SYNC_EBATCH, 0, NULL },                                     /* no list */
    { "{\"erase\":{}}", SYNC_EBATCH, 0, NULL },                         /* not a list */
    { "{\"erase\":[]}", SYNC_EBATCH, 0, NULL },                         /* empty */
    { "{\"erase\":[],\"entries\":[]}", SYNC_EBATCH, 0, NULL },          /* extra field */
    { "{\"erase\":[{\"address\":\"a@b.example\"}]}", SYNC_EBATCH, 0, NULL },   /* no time */
    { "{\"erase\":[{\"before\":1}]}", SYNC_EBATCH, 0, NULL },           /* no address */
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":1,\"x\":1}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"no address\",\"before\":1}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"\",\"before\":1}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"<>\",\"before\":1}]}", SYNC_EBATCH, 0, NULL },  /* null */
    { "{\"erase\":[{\"address\":\"a\\u0000@b.example\",\"before\":1}]}", SYNC_EJSON, 0,
      NULL },                                          /* NUL: jansson refuses it */
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":0}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":-5}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":281474976710656}]}", SYNC_EBATCH,
      0, NULL },                                                        /* past 2^48 ms */
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":\"1\"}]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[{\"address\":\"a@b.example\",\"before\":1},"
      "{\"address\":\"bad\",\"before\":1}]}", SYNC_EBATCH, 0, NULL },   /* one bad item */
    { "{\"erase\":[1]}", SYNC_EBATCH, 0, NULL },
    { "{\"erase\":[],\"erase\":[]}", SYNC_EJSON, 0, NULL },             /* duplicate key */
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct erase_item *items = (void *)1;
        size_t n = 99;
        char err[256] = "";
        int rc = erase_parse(cases[c].body, strlen(cases[c].body), &items, &n, err,
                             sizeof(err));
        if (rc != cases[c].want)
            fail_msg("case %zu (%s): got %d, want %d (%s)", c, cases[c].body, rc,
                     cases[c].want, err);
        assert_int_equal(n, cases[c].n);
        if (rc == SYNC_OK) {
            assert_string_equal(items[0].address, cases[c].first);
            erase_items_free(items, n);
        } else {
            assert_null(items);
            assert_true(err[0] != '\0');
        }
    }
}

static void test_too_many(void **state)
{
    (void)state;
    /* 101 items: one more than a request may carry */
    size_t cap = 64 + 101 * 48, len = 0;
    char *b = malloc(cap);
    struct erase_item *items;
    size_t n;

    assert_non_null(b);
    len += (size_t)snprintf(b + len, cap - len, "{\"erase\":[");
    for (int i = 0; i <= ERASE_MAX_ITEMS; i++)
        len += (size_t)snprintf(b + len, cap - len, "%s{\"address\":\"u%d@a.example\","
                                "\"before\":1}", i ? "," : "", i);
    len += (size_t)snprintf(b + len, cap - len, "]}");
    assert_int_equal(erase_parse(b, len, &items, &n, NULL, 0), SYNC_EBATCH);
    free(b);
}

static void test_encode_round_trip(void **state)
{
    struct store_erasure q[2] = {
        { .peer = "mx2", .seq = 7, .requested_ms = 1764633601000ull,
          .address = "alice@a.example" },
        { .peer = "mx2", .seq = 9, .requested_ms = 1764633602000ull,
          .address = "\"odd name\"@a.example" },
    };
    struct erase_item *items;
    size_t n;
    char *body = erase_encode(q, 2);

    (void)state;
    assert_int_equal(erase_parse(body, strlen(body), &items, &n, NULL, 0), SYNC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].address, "alice@a.example");
    assert_int_equal(items[0].before_ms, 1764633601000ull);
    assert_string_equal(items[1].address, "\"odd name\"@a.example");
    assert_int_equal(items[1].before_ms, 1764633602000ull);
    erase_items_free(items, n);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_encode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
