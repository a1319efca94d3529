/*
 * test_feed - the pure parts of the event feed's HTTP side and webhooks
 * (issue 17): GET /v1/events parameter checks (table-driven, every bad
 * input refused with a message), the retry schedule, the event filter and
 * the webhook body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feed.h"
#include "webhook.h"

static void test_parse_query(void **state)
{
    static const struct {
        const char *k1, *v1, *k2, *v2;
        int ok;
        uint64_t after;
        size_t limit;
        unsigned wait;
    } cases[] = {
        { NULL, NULL, NULL, NULL, 1, 0, FEED_LIMIT_DEFAULT, 0 },
        { "after", "17", NULL, NULL, 1, 17, FEED_LIMIT_DEFAULT, 0 },
        { "after", "0", "wait", "60", 1, 0, FEED_LIMIT_DEFAULT, 60 },
        { "limit", "1000", "after", "9223372036854775807", 1, 9223372036854775807ull, 1000, 0 },
        { "limit", "1", NULL, NULL, 1, 0, 1, 0 },
        /* bad input: signs, spaces, fractions, exponents, empty, overflow,
         * out of range, unknown, twice, a missing value */
        { "after", "-1", NULL, NULL, 0, 0, 0, 0 },
        { "after", "+1", NULL, NULL, 0, 0, 0, 0 },
        { "after", " 1", NULL, NULL, 0, 0, 0, 0 },
        { "after", "1e3", NULL, NULL, 0, 0, 0, 0 },
        { "after", "", NULL, NULL, 0, 0, 0, 0 },
        { "after", NULL, NULL, NULL, 0, 0, 0, 0 },
        { "after", "9223372036854775808", NULL, NULL, 0, 0, 0, 0 },
        { "after", "99999999999999999999999", NULL, NULL, 0, 0, 0, 0 },
        { "limit", "0", NULL, NULL, 0, 0, 0, 0 },
        { "limit", "1001", NULL, NULL, 0, 0, 0, 0 },
        { "wait", "61", NULL, NULL, 0, 0, 0, 0 },
        { "wait", "1.5", NULL, NULL, 0, 0, 0, 0 },
        { "since", "1", NULL, NULL, 0, 0, 0, 0 },
        { "after", "1", "after", "2", 0, 0, 0, 0 },
        { "x", "1", NULL, NULL, 0, 0, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_arg args[2] = { { cases[i].k1, cases[i].v1 }, { cases[i].k2, cases[i].v2 } };
        size_t n = cases[i].k2 ? 2 : cases[i].k1 ? 1 : 0;
        struct feed_query q;
        char err[160] = "";
        int rc = feed_parse_query(args, n, 60, &q, err, sizeof err);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(q.after, cases[i].after);
            assert_int_equal(q.limit, cases[i].limit);
            assert_int_equal(q.wait_s, cases[i].wait);
        } else {
            if (rc != -1 || err[0] == '\0')
                fail_msg("case %zu (%s=%s) accepted", i, cases[i].k1,
                         cases[i].v1 ? cases[i].v1 : "(none)");
        }
    }
}

static void test_backoff(void **state)
{
    static const struct { unsigned failures, max, want; } cases[] = {
        { 1, 300, 1 }, { 2, 300, 2 }, { 3, 300, 4 }, { 9, 300, 256 }, { 10, 300, 300 },
        { 1000, 300, 300 }, { 5, 1, 1 }, { 1, 0, 1 }, { 4, 5, 5 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(webhook_backoff_s(cases[i].failures, cases[i].max), cases[i].want);
}

static void test_wants(void **state)
{
    static const struct { unsigned events; int kind, status, want; } cases[] = {
        { CONF_EV_READ, STORE_EV_READ, STORE_READ, 1 },
        { CONF_EV_READ, STORE_EV_RECEIVED, STORE_RECEIVED, 0 },
        { CONF_EV_RECEIVED, STORE_EV_RECEIVED, STORE_RECEIVED, 1 },
        { CONF_EV_DELETED_UNREAD, STORE_EV_DELETED_UNREAD, STORE_DELETED_UNREAD, 1 },
        { CONF_EV_READ, STORE_EVK_MERGE, STORE_READ, 1 },      /* a peer's read */
        { CONF_EV_RECEIVED, STORE_EVK_MERGE, STORE_READ, 0 },
        { CONF_EV_READ | CONF_EV_RECEIVED | CONF_EV_DELETED_UNREAD, STORE_EVK_MERGE,
          STORE_SENT, 0 },                                      /* a bare member */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct store_feed_event e = { .kind = cases[i].kind, .status = cases[i].status };
        assert_int_equal(webhook_wants(cases[i].events, &e), cases[i].want);
    }
}

static void test_body(void **state)
{
    struct store_feed_event a = { .seq = 5, .time_ms = 1764324000123ull, .kind = STORE_EV_READ,
                                  .status = STORE_READ, .read_count = 2,
                                  .sender = (char *)"alice@a.example",
                                  .recipient = (char *)"bob@a.example", .via = "imap" };
    struct store_feed_event b = { .seq = 9, .time_ms = 1764324000999ull,
                                  .kind = STORE_EVK_MERGE, .status = STORE_RECEIVED,
                                  .recipient = (char *)"m@a.example",
                                  .original_recipient = (char *)"list@a.example" };
    const struct store_feed_event *ev[] = { &a, &b };
    json_error_t jerr;
    size_t len;
    (void)state;

    memcpy(a.id, "01KB4YFG81AFQ7YW998F2WE3AP", 27);
    memcpy(b.id, "01KB4YFG81AFQ7YW998F2WE3AQ", 27);
    char *s = webhook_body("crm", ev, 2, &len);
    assert_int_equal(len, strlen(s));
    json_t *o = json_loads(s, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "webhook")), "crm");
    json_t *arr = json_object_get(o, "events");
    assert_int_equal(json_array_size(arr), 2);
    json_t *e0 = json_array_get(arr, 0), *e1 = json_array_get(arr, 1);
    assert_int_equal(json_integer_value(json_object_get(e0, "seq")), 5);
    assert_string_equal(json_string_value(json_object_get(e0, "mail_id")),
                        "01KB4YFG81AFQ7YW998F2WE3AP");
    assert_string_equal(json_string_value(json_object_get(e0, "sender")), "alice@a.example");
    assert_string_equal(json_string_value(json_object_get(e0, "event")), "read");
    assert_string_equal(json_string_value(json_object_get(e0, "source")), "local");
    assert_string_equal(json_string_value(json_object_get(e0, "time")),
                        "2025-11-28T10:00:00.123Z");
    assert_int_equal(json_integer_value(json_object_get(e0, "read_count")), 2);
    assert_null(json_object_get(e0, "original_recipient"));
    assert_true(json_is_null(json_object_get(e1, "sender")));
    assert_string_equal(json_string_value(json_object_get(e1, "event")), "received");
    assert_string_equal(json_string_value(json_object_get(e1, "source")), "peer");
    assert_string_equal(json_string_value(json_object_get(e1, "original_recipient")),
                        "list@a.example");
    json_decref(o);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_query),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_wants),
        cmocka_unit_test(test_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
