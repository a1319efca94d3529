/*
 * test_readev - table-driven tests of the Dovecot plugin's plain-C decisions
 * (dovecot/readev.h): which header values become events, the event time,
 * and the spool's file names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "readev.h"

#define ID  "01JDQ5ZB8S3KCM9V7WXYZ0ABCD"
#define TAG "K3J4M5N6P7Q8R9ST"

struct id_case {
    const char *what;
    const char *in;
    const char *want;      /* NULL = refused */
};

static const struct id_case id_cases[] = {
    { "canonical", ID "." TAG, ID "." TAG },
    { "lower case is upper-cased", "01jdq5zb8s3kcm9v7wxyz0abcd.k3j4m5n6p7q8r9st", ID "." TAG },
    { "white space around is trimmed", " \t" ID "." TAG "\r\n", ID "." TAG },
    /* bad input from here on */
    { "empty", "", NULL },
    { "only blanks", "  \t", NULL },
    { "id without tag", ID, NULL },
    { "missing dot", ID TAG, NULL },
    { "dot in the wrong place", "01JDQ5ZB8S3KCM9V7WXYZ0ABC.DK3J4M5N6P7Q8R9ST", NULL },
    { "tag one short", ID "." "K3J4M5N6P7Q8R9S", NULL },
    { "tag one long", ID "." TAG "0", NULL },
    { "Crockford alias I", "01JDQ5ZB8S3KCM9V7WXYZ0ABCI." TAG, NULL },
    { "Crockford alias L", ID "." "K3J4M5N6P7Q8R9SL", NULL },
    { "Crockford alias O", "O1JDQ5ZB8S3KCM9V7WXYZ0ABCD." TAG, NULL },
    { "U is not base32", ID "." "U3J4M5N6P7Q8R9ST", NULL },
    { "space inside", "01JDQ5ZB8S3KCM9V7WX Z0ABCD." TAG, NULL },
    { "folded inside", "01JDQ5ZB8S3KCM\r\n 9V7WXYZ0ABCD." TAG, NULL },
    { "two ids", ID "." TAG " " ID "." TAG, NULL },
    { "angle brackets", "<" ID "." TAG ">", NULL },
    { "NUL-free garbage", "not-a-mail-id", NULL },
    { NULL, NULL, NULL }
};

static void test_mail_id(void **state)
{
    (void)state;
    for (const struct id_case *c = id_cases; c->what != NULL; c++) {
        char out[READEV_VALUE_LEN + 1] = "untouched";
        int rc = readev_mail_id(c->in, out);

        if (c->want == NULL) {
            if (rc != -1 || strcmp(out, "untouched") != 0)
                fail_msg("%s: %s accepted", c->what, c->in);
        } else if (rc != 0 || strcmp(out, c->want) != 0) {
            fail_msg("%s: got rc %d, \"%s\"", c->what, rc, out);
        }
    }
}

struct sender_case {
    const char *what;
    const char *in;
    const char *want;
};

static char long_addr[READEV_SENDER_MAX + 2];

static void test_sender(void **state)
{
    const struct sender_case cases[] = {
        { "plain", "alice@a.example", "alice@a.example" },
        { "trimmed", "  alice@a.example\r\n", "alice@a.example" },
        { "UTF-8 kept", "j\xc3\xb6rg@a.example", "j\xc3\xb6rg@a.example" },
        { "at the limit", long_addr + 1, long_addr + 1 },
        /* bad input */
        { "empty", "", NULL },
        { "blank", " \t ", NULL },
        { "space inside", "alice @a.example", NULL },
        { "display name", "Alice <alice@a.example>", NULL },
        { "control character", "alice\x01@a.example", NULL },
        { "DEL", "alice\x7f@a.example", NULL },
        { "one over the limit", long_addr, NULL },
        { NULL, NULL, NULL }
    };

    (void)state;
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    for (const struct sender_case *c = cases; c->what != NULL; c++) {
        char out[READEV_SENDER_MAX + 1] = "untouched";
        int rc = readev_sender(c->in, out);

        if (c->want == NULL) {
            if (rc != -1 || strcmp(out, "untouched") != 0)
                fail_msg("%s: accepted", c->what);
        } else if (rc != 0 || strcmp(out, c->want) != 0) {
            fail_msg("%s: got rc %d, \"%s\"", c->what, rc, out);
        }
    }
}

static void test_time(void **state)
{
    const struct { uint64_t ms; const char *want; } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 1795861802123ULL, "2026-11-28T10:30:02.123Z" },
        { 951782400999ULL, "2000-02-29T00:00:00.999Z" },
        { 253402300799999ULL, "9999-12-31T23:59:59.999Z" },
        { 253402300800000ULL, NULL },       /* year 10000: not RFC 3339 */
        { UINT64_MAX, NULL },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[READEV_TIME_LEN + 1] = "";
        int rc = readev_time(cases[i].ms, out);

        if (cases[i].want == NULL) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(out, cases[i].want);
        }
    }
}

static void test_spool_names(void **state)
{
    const struct { const char *name; int event; } names[] = {
        { "1795861802123-4242-1.json", 1 },
        { "x.json", 1 },
        { ".tmp-1795861802123-4242-1.json", 0 },   /* being written */
        { "1795861802123-4242-1.json.4242", 0 },   /* claimed */
        { ".json", 0 },
        { "json", 0 },
        { "a.jso", 0 },
        { ".", 0 },
        { "..", 0 },
        { "", 0 },
    };
    const struct { const char *name; const char *orig; long pid; } claims[] = {
        { "1795861802123-4242-1.json.4242", "1795861802123-4242-1.json", 4242 },
        { "x.json.1", "x.json", 1 },
        /* bad input: not claims of ours */
        { "x.json", NULL, 0 },
        { "x.json.", NULL, 0 },
        { "x.json.0", NULL, 0 },
        { "x.json.-5", NULL, 0 },
        { "x.json.12ab", NULL, 0 },
        { "x.json.99999999999", NULL, 0 },
        { "x.txt.42", NULL, 0 },
        { ".tmp-x.json.42", NULL, 0 },
        { "42", NULL, 0 },
    };
    char orig[64];
    long pid;

    (void)state;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (readev_spool_name(names[i].name) != names[i].event)
            fail_msg("spool name \"%s\"", names[i].name);
    }
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        int rc = readev_claim_parse(claims[i].name, orig, sizeof orig, &pid);

        if (claims[i].orig == NULL) {
            if (rc != -1)
                fail_msg("claim \"%s\" accepted", claims[i].name);
        } else if (rc != 0 || strcmp(orig, claims[i].orig) != 0 ||
                   pid != claims[i].pid) {
            fail_msg("claim \"%s\": rc %d", claims[i].name, rc);
        }
    }
    /* bad input: the original name does not fit the caller's buffer */
    assert_int_equal(readev_claim_parse("x.json.42", orig, 6, &pid), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail_id),
        cmocka_unit_test(test_sender),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_spool_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
