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

struct addr_case {
    const char *in;
    int ok;
};

static void test_address(void **state)
{
    static const struct addr_case cases[] = {
        { "bob@a.example", 1 },
        { "bob+news@a.example", 1 },
        { "b@c", 1 },
        /* bad input from here on */
        { "", 0 },
        { "bob", 0 },
        { "@a.example", 0 },
        { "bob@", 0 },
        { "bob@a@b.example", 0 },
        { "bob @a.example", 0 },
        { "<bob@a.example>", 0 },
        { "\"bob\"@a.example", 0 },
        { "bob@a.example,carol@a.example", 0 },
        { "bob@a.example\r\n", 0 },
        { "bob@a\x7f.example", 0 },
    };
    char out[READEV_SENDER_MAX + 1];
    char big[READEV_SENDER_MAX + 2];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = readev_address(cases[i].in, out);

        if (cases[i].ok ? rc != 0 || strcmp(out, cases[i].in) != 0 : rc != -1)
            fail_msg("address \"%s\": rc %d", cases[i].in, rc);
    }
    /* bad input: one byte over the bound */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[10] = '@';
    assert_int_equal(readev_address(big, out), -1);
}

struct tparse_case {
    const char *in;
    uint64_t want;     /* 0 = refused */
};

static void test_time_parse(void **state)
{
    static const struct tparse_case cases[] = {
        { "2026-11-28T10:05:00.123Z", UINT64_C(1795860300123) },
        { "2026-11-28T10:05:00Z", UINT64_C(1795860300000) },
        { "1970-01-01T00:00:00.001Z", 1 },
        { "2024-02-29T00:00:00Z", UINT64_C(1709164800000) },
        /* bad input from here on */
        { "", 0 },
        { "2026-11-28 10:05:00Z", 0 },
        { "2026-11-28T10:05:00+01:00", 0 },
        { "2026-11-28T10:05:00.12Z", 0 },
        { "2026-11-28T10:05:60Z", 0 },
        { "2026-13-28T10:05:00Z", 0 },
        { "2026-02-31T10:05:00Z", 0 },
        { "2025-02-29T10:05:00Z", 0 },
        { "1969-12-31T23:59:59Z", 0 },
        { "2026-11-28T1a:05:00Z", 0 },
        { "-026-11-28T10:05:00Z", 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ms = 42;
        int rc = readev_time_parse(cases[i].in, &ms);

        if (cases[i].want == 0 ? rc != -1 || ms != 42
                               : rc != 0 || ms != cases[i].want)
            fail_msg("time \"%s\": rc %d, %llu", cases[i].in, rc,
                     (unsigned long long)ms);
    }
    /* the id's time prefix: 01JDQ5ZB8S is 2024-11-27T16:06:24.281Z */
    assert_true(readev_id_time_ms(ID) == UINT64_C(1732723584281));
}

/* ID's own time is 2024-11-27T16:06:24.281Z; "now" is a day later. */
#define NOW  UINT64_C(1732809984281)
#define OK_T "2024-11-27T17:00:00.000Z"
#define BODY(extra) "{\"mail_id\":\"" ID "." TAG "\",\"sender\":\"alice@a.example\"" extra "}"

struct spool_case {
    const char *what;
    const char *in;
    int want;              /* 0 or READEV_E* */
    const char *via;       /* expected via when accepted */
};

static void test_spool_parse(void **state)
{
    static const struct spool_case cases[] = {
        { "read as the plugin writes it",
          BODY(",\"recipient\":\"bob@a.example\",\"via\":\"imap\",\"event\":\"read\",\"time\":\"" OK_T "\""), 0, "imap" },
        { "via defaults to the event's",
          BODY(",\"event\":\"deleted_unread\",\"time\":\"" OK_T "\""), 0, "imap" },
        { "received over lda with its original recipient",
          BODY(",\"event\":\"received\",\"via\":\"lda\",\"original_recipient\":\"team@a.example\",\"time\":\"" OK_T "\""), 0, "lda" },
        { "received defaults to lmtp",
          BODY(",\"event\":\"received\",\"time\":\"" OK_T "\""), 0, "lmtp" },
        { "within the skew before the id's time",
          BODY(",\"event\":\"read\",\"time\":\"2024-11-27T16:02:00.000Z\""), 0, "imap" },
        /* bad input from here on: what a mail user could drop in the spool */
        { "not JSON", "read bob@a.example", READEV_EJSON, NULL },
        { "a JSON array", "[1,2]", READEV_EJSON, NULL },
        { "duplicate member (which one would count?)",
          BODY(",\"event\":\"read\",\"event\":\"read\",\"time\":\"" OK_T "\""), READEV_EJSON, NULL },
        { "no mail id", "{\"sender\":\"alice@a.example\",\"event\":\"read\",\"time\":\"" OK_T "\"}", READEV_EID, NULL },
        { "mail id a number", "{\"mail_id\":42,\"sender\":\"alice@a.example\",\"event\":\"read\",\"time\":\"" OK_T "\"}", READEV_EID, NULL },
        { "malformed mail id", "{\"mail_id\":\"x.y\",\"sender\":\"alice@a.example\",\"event\":\"read\",\"time\":\"" OK_T "\"}", READEV_EID, NULL },
        { "sender not an address", "{\"mail_id\":\"" ID "." TAG "\",\"sender\":\"alice\",\"event\":\"read\",\"time\":\"" OK_T "\"}", READEV_ESENDER, NULL },
        { "unknown event", BODY(",\"event\":\"sent\",\"time\":\"" OK_T "\""), READEV_EEVENT, NULL },
        { "no event", BODY(",\"time\":\"" OK_T "\""), READEV_EEVENT, NULL },
        { "via api (not the plugin's)", BODY(",\"event\":\"read\",\"via\":\"api\",\"time\":\"" OK_T "\""), READEV_EVIA, NULL },
        { "read claimed by lmtp", BODY(",\"event\":\"read\",\"via\":\"lmtp\",\"time\":\"" OK_T "\""), READEV_EVIA, NULL },
        { "via not a string", BODY(",\"event\":\"read\",\"via\":1,\"time\":\"" OK_T "\""), READEV_EVIA, NULL },
        { "no time", BODY(",\"event\":\"read\""), READEV_ETIME, NULL },
        { "time with an offset", BODY(",\"event\":\"read\",\"time\":\"2024-11-27T17:00:00+01:00\""), READEV_ETIME, NULL },
        { "backdated before the mail existed", BODY(",\"event\":\"read\",\"time\":\"2024-11-27T15:00:00.000Z\""), READEV_EPAST, NULL },
        { "in the future", BODY(",\"event\":\"read\",\"time\":\"2024-11-28T17:00:00.000Z\""), READEV_EFUTURE, NULL },
        { "original recipient on a read", BODY(",\"event\":\"read\",\"original_recipient\":\"team@a.example\",\"time\":\"" OK_T "\""), READEV_EORIG, NULL },
        { "original recipient not an address", BODY(",\"event\":\"received\",\"original_recipient\":\"team\",\"time\":\"" OK_T "\""), READEV_EORIG, NULL },
        { "recipient not an address", BODY(",\"event\":\"read\",\"recipient\":\"carol@a.example, bob@a.example\",\"time\":\"" OK_T "\""), READEV_ERCPT, NULL },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct readev_spooled ev;
        int rc;

        memset(&ev, 0x55, sizeof ev);
        rc = readev_spool_parse(cases[i].in, strlen(cases[i].in), NOW, &ev);
        if (rc != cases[i].want)
            fail_msg("%s: rc %d (%s)", cases[i].what, rc, readev_spool_strerror(rc));
        if (rc != 0) {
            if (((unsigned char *)&ev)[0] != 0x55)
                fail_msg("%s: out written on refusal", cases[i].what);
            continue;
        }
        assert_string_equal(ev.mail_id, ID "." TAG);
        assert_string_equal(ev.sender, "alice@a.example");
        assert_string_equal(ev.via, cases[i].via);
        assert_int_equal(strlen(ev.time), READEV_TIME_LEN);
    }
}

static void test_spool_parse_fields(void **state)
{
    struct readev_spooled ev;
    const char *in = BODY(",\"recipient\":\"carol@a.example\",\"event\":\"received\","
                          "\"original_recipient\":\"team@a.example\",\"time\":\"2024-11-27T17:00:00Z\"");

    (void)state;
    assert_int_equal(readev_spool_parse(in, strlen(in), NOW, &ev), 0);
    assert_string_equal(ev.event, "received");
    assert_string_equal(ev.time, "2024-11-27T17:00:00.000Z");
    assert_string_equal(ev.original_recipient, "team@a.example");
    /* the file's recipient is reported, for the log only */
    assert_string_equal(ev.recipient, "carol@a.example");
    /* bad input: the buffer is cut short (no NUL inside the length) */
    assert_int_equal(readev_spool_parse(in, 10, NOW, &ev), READEV_EJSON);
}

static void test_error_body(void **state)
{
    char error[READEV_ERROR_MAX + 1], detail[READEV_DETAIL_MAX + 1];
    const char *in = "{\"error\":\"recipient_not_found\",\"detail\":\"no entry\\nfor bob\"}";
    char big[600];

    (void)state;
    assert_int_equal(readev_error_body(in, strlen(in), error, detail), 0);
    assert_string_equal(error, "recipient_not_found");
    /* bad input: a newline in the detail would forge a second log line */
    assert_string_equal(detail, "no entry?for bob");
    in = "{\"error\":42}";
    assert_int_equal(readev_error_body(in, strlen(in), error, detail), 0);
    assert_string_equal(error, "-");
    assert_string_equal(detail, "-");
    /* bad input: not JSON (a proxy's HTML page), a JSON string */
    assert_int_equal(readev_error_body("<html>", 6, error, detail), -1);
    assert_int_equal(readev_error_body("\"x\"", 3, error, detail), -1);
    /* bad input: a detail longer than the buffer is cut */
    memset(big, 'd', sizeof big);
    memcpy(big, "{\"detail\":\"", 11);
    memcpy(big + sizeof big - 2, "\"}", 2);
    assert_int_equal(readev_error_body(big, sizeof big, error, detail), 0);
    assert_int_equal(strlen(detail), READEV_DETAIL_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail_id),
        cmocka_unit_test(test_sender),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_spool_names),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_spool_parse),
        cmocka_unit_test(test_spool_parse_fields),
        cmocka_unit_test(test_error_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
