/*
 * test_store_rec - the byte encoding of store records (store_rec.h): exact
 * little-endian layout, round trips, and refusal of damaged records
 * (every truncation, trailing bytes, unknown versions, NUL in strings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store_rec.h"

static const char id[] = "01JDQ8ZZ0000000000000000AB";

static void test_rcpt_layout(void **state)
{
    struct store_rec_buf b = { 0 };
    struct store_rcpt r = { .status = STORE_READ, .first_read_ms = 0x0102030405060708ull,
                            .last_read_ms = 9, .read_count = 0x11223344,
                            .updated_ms = 10, .server = (char *)(uintptr_t)"mx",
                            .via = "api" };
    static const unsigned char want[] = {
        2,                                        /* version */
        3,                                        /* status read */
        8, 7, 6, 5, 4, 3, 2, 1,                   /* first_read, LE */
        9, 0, 0, 0, 0, 0, 0, 0,                   /* last_read */
        0x44, 0x33, 0x22, 0x11,                   /* read_count */
        10, 0, 0, 0, 0, 0, 0, 0,                  /* updated */
        2, 0, 0, 0, 'm', 'x',                     /* server */
        3, 0, 0, 0, 'a', 'p', 'i',                /* via */
        0xff, 0xff, 0xff, 0xff,                   /* original_recipient NULL */
        0,                                        /* not expanded */
    };
    (void)state;
    store_rec_rcpt_encode(&b, &r);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));

    /* a version 1 entry (before lists) decodes with no original, not expanded */
    {
        unsigned char v1[sizeof(want) - 5];
        struct store_rcpt o;
        memcpy(v1, want, sizeof(v1));
        v1[0] = 1;
        assert_int_equal(store_rec_rcpt_decode(v1, sizeof(v1), "bob@a.example", 13, &o), 0);
        assert_null(o.original_recipient);
        assert_int_equal(o.expanded, 0);
        assert_int_equal(o.read_count, 0x11223344);
        store_rcpt_clear(&o);
    }
    /* bad input: a member entry round-trips; an expanded byte of 2 is damage */
    {
        struct store_rcpt m = r, o;
        m.original_recipient = (char *)(uintptr_t)"team@a.example";
        m.expanded = 1;
        store_rec_rcpt_encode(&b, &m);
        assert_int_equal(store_rec_rcpt_decode(b.p, b.len, "dave@a.example", 14, &o), 0);
        assert_string_equal(o.original_recipient, "team@a.example");
        assert_int_equal(o.expanded, 1);
        store_rcpt_clear(&o);
        b.p[b.len - 1] = 2;
        assert_int_equal(store_rec_rcpt_decode(b.p, b.len, "dave@a.example", 14, &o), -1);
        store_rec_rcpt_encode(&b, &r);
    }

    struct store_rcpt d;
    assert_int_equal(store_rec_rcpt_decode(b.p, b.len, "bob@a.exampleXXX", 13, &d), 0);
    assert_string_equal(d.address, "bob@a.example");
    assert_string_equal(d.server, "mx");
    assert_string_equal(d.via, "api");
    assert_int_equal(d.status, STORE_READ);
    assert_int_equal(d.first_read_ms, 0x0102030405060708ull);
    assert_int_equal(d.last_read_ms, 9);
    assert_int_equal(d.read_count, 0x11223344);
    assert_int_equal(d.updated_ms, 10);
    free(d.address);
    free(d.server);
    store_rec_buf_free(&b);
}

static void test_mail_round_trip_and_nulls(void **state)
{
    struct store_rec_buf b = { 0 };
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .created_ms = 1764324000123ull, .n_rcpt = 4,
                            .queue_id = NULL, .message_id = (char *)(uintptr_t)"",
                            .subject = (char *)(uintptr_t)"Hello \xc3\xa9" };
    struct store_mail d;
    (void)state;
    store_rec_mail_encode(&b, &m);
    assert_int_equal(b.p[0], STORE_REC_MAIL_VERSION);
    assert_int_equal(store_rec_mail_decode(b.p, b.len, id, &d), 0);
    assert_string_equal(d.id, id);
    assert_string_equal(d.sender, "alice@a.example");
    assert_int_equal(d.created_ms, 1764324000123ull);
    assert_int_equal(d.n_rcpt, 4);
    assert_null(d.queue_id);                      /* NULL stays NULL ... */
    assert_non_null(d.message_id);                /* ... and "" stays "" */
    assert_string_equal(d.message_id, "");
    assert_string_equal(d.subject, "Hello \xc3\xa9");
    assert_null(d.login);
    store_rec_mail_clear(&d);

    m.login = (char *)(uintptr_t)"alice";
    store_rec_mail_encode(&b, &m);
    assert_int_equal(store_rec_mail_decode(b.p, b.len, id, &d), 0);
    assert_string_equal(d.login, "alice");
    store_rec_mail_clear(&d);
    store_rec_buf_free(&b);
}

/* A mail record written by schema 1 (no login field) still decodes, with
 * login NULL; the same bytes labelled version 2 lack the login and are
 * refused, and version 3 (a newer writer) is refused too. */
static void test_mail_version1(void **state)
{
    static const unsigned char v1[] = {
        1,                                        /* version 1 */
        7, 0, 0, 0, 0, 0, 0, 0,                   /* created */
        2, 0, 0, 0,                               /* n_rcpt */
        3, 0, 0, 0, 'a', '@', 'b',                /* sender */
        0xFF, 0xFF, 0xFF, 0xFF,                   /* queue_id NULL */
        5, 0, 0, 0, '<', 'x', '@', 'y', '>',      /* message_id */
        0xFF, 0xFF, 0xFF, 0xFF,                   /* subject NULL */
    };
    unsigned char buf[sizeof(v1)];
    struct store_mail d;
    (void)state;
    assert_int_equal(store_rec_mail_decode(v1, sizeof(v1), id, &d), 0);
    assert_string_equal(d.sender, "a@b");
    assert_string_equal(d.message_id, "<x@y>");
    assert_int_equal(d.created_ms, 7);
    assert_null(d.login);
    store_rec_mail_clear(&d);
    memcpy(buf, v1, sizeof(v1));
    buf[0] = 2;
    assert_int_equal(store_rec_mail_decode(buf, sizeof(buf), id, &d), -1);
    buf[0] = 3;
    assert_int_equal(store_rec_mail_decode(buf, sizeof(buf), id, &d), -1);
}

/* Every proper prefix of a valid record is refused, and so is one extra
 * byte (a record from a newer writer that this reader would misread). */
static void test_truncations_and_trailing(void **state)
{
    struct store_rec_buf b = { 0 };
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .queue_id = (char *)(uintptr_t)"Q1",
                            .subject = (char *)(uintptr_t)"s" };
    struct store_rcpt r = { .server = (char *)(uintptr_t)"mx1", .via = "imap" };
    struct store_mail dm;
    struct store_rcpt dr;
    (void)state;

    store_rec_mail_encode(&b, &m);
    for (size_t n = 0; n < b.len; n++)
        if (store_rec_mail_decode(b.p, n, id, &dm) != -1)
            fail_msg("mail truncated to %zu of %zu bytes was accepted", n, b.len);
    unsigned char *longer = malloc(b.len + 1);
    memcpy(longer, b.p, b.len);
    longer[b.len] = 0;
    assert_int_equal(store_rec_mail_decode(longer, b.len + 1, id, &dm), -1);
    free(longer);

    store_rec_rcpt_encode(&b, &r);
    for (size_t n = 0; n < b.len; n++)
        if (store_rec_rcpt_decode(b.p, n, "a@b", 3, &dr) != -1)
            fail_msg("rcpt truncated to %zu of %zu bytes was accepted", n, b.len);
    assert_null(dr.address);
    assert_null(dr.server);
    store_rec_buf_free(&b);
}

struct damage {
    const char *name;
    size_t      offset;
    unsigned    value;
    size_t      count;       /* bytes set to value from offset */
};

/* Damaged bytes of an encoded recipient entry (see the layout above). */
static const struct damage damages[] = {
    { "version 0",                    0, 0, 1 },
    { "version 3 (newer)",            0, 3, 1 },
    { "version 255",                  0, 255, 1 },
    { "status 4 (out of range)",      1, 4, 1 },
    { "server length beyond end",    30, 200, 1 },
    { "server NULL (length ~0)",     30, 0xFF, 4 },
    { "NUL inside the server string", 34, 0, 1 },
    { "via longer than the field",   37, 16, 1 },
    { NULL, 0, 0, 0 },
};

static void test_damaged_rcpt(void **state)
{
    struct store_rec_buf b = { 0 };
    struct store_rcpt r = { .server = (char *)(uintptr_t)"mx1", .via = "imap" };
    struct store_rcpt d;
    (void)state;
    store_rec_rcpt_encode(&b, &r);
    for (const struct damage *c = damages; c->name; c++) {
        unsigned char buf[128];
        size_t len = b.len;
        memcpy(buf, b.p, b.len);
        memset(buf + c->offset, (int)c->value, c->count);
        if (strcmp(c->name, "via longer than the field") == 0) {
            /* make the via string really 16 bytes long */
            memset(buf + 41, 'v', 16);
            len = 41 + 16;
        }
        if (store_rec_rcpt_decode(buf, len, "a@b", 3, &d) != -1)
            fail_msg("case \"%s\" was accepted", c->name);
    }
    store_rec_buf_free(&b);
}

static void test_outbox_value(void **state)
{
    struct store_rec_buf b = { 0 };
    uint64_t q;
    char got[MAILID_ID_LEN + 1];
    const char *rcpt;
    size_t rlen;
    (void)state;
    store_rec_outbox_encode(&b, 77, id, "bob@a.example");
    assert_int_equal(b.len, 1 + 8 + 26 + 13);
    assert_int_equal(store_rec_outbox_decode(b.p, b.len, &q, got, &rcpt, &rlen), 0);
    assert_int_equal(q, 77);
    assert_string_equal(got, id);
    assert_int_equal(rlen, 13);
    assert_memory_equal(rcpt, "bob@a.example", 13);
    /* no recipient at all, and a wrong version */
    assert_int_equal(store_rec_outbox_decode(b.p, 1 + 8 + 26, &q, got, &rcpt, &rlen), -1);
    b.p[0] = 9;
    assert_int_equal(store_rec_outbox_decode(b.p, b.len, &q, got, &rcpt, &rlen), -1);
    store_rec_buf_free(&b);
}

static void test_rules(void **state)
{
    struct store_rcpt r = { .status = STORE_SENT };
    (void)state;
    /* deleted_unread only from below; never over a read */
    assert_int_equal(store_rec_apply_deleted(&r, "imap"), 1);
    assert_int_equal(r.status, STORE_DELETED_UNREAD);
    assert_int_equal(store_rec_apply_deleted(&r, "api"), 0);
    store_rec_apply_read(&r, 100, "api");
    assert_int_equal(r.status, STORE_READ);
    assert_int_equal(r.read_count, 1);
    assert_int_equal(store_rec_apply_deleted(&r, "imap"), 0);
    assert_int_equal(r.status, STORE_READ);
    /* via is truncated to the field, never overflows */
    store_rec_set_via(&r, "a-very-long-via-name-indeed");
    assert_int_equal(strlen(r.via), sizeof(r.via) - 1);
    /* merge: a lower remote changes nothing; the same entry twice neither */
    struct store_rcpt low = { .status = STORE_RECEIVED, .via = "zzz" };
    struct store_rcpt before = r;
    assert_int_equal(store_rec_merge(&r, &low), 0);
    assert_memory_equal(&r, &before, sizeof(r));
    struct store_rcpt same = r;
    assert_int_equal(store_rec_merge(&r, &same), 0);
    /* read_count saturates instead of wrapping */
    r.read_count = UINT32_MAX;
    store_rec_apply_read(&r, 200, "api");
    assert_int_equal(r.read_count, UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcpt_layout),
        cmocka_unit_test(test_mail_round_trip_and_nulls),
        cmocka_unit_test(test_mail_version1),
        cmocka_unit_test(test_truncations_and_trailing),
        cmocka_unit_test(test_damaged_rcpt),
        cmocka_unit_test(test_outbox_value),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
