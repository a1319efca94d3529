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

/* The version 2 layout (schema 1-4): still decoded. */
static const unsigned char rcpt_v2[] = {
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

static void test_rcpt_layout(void **state)
{
    struct store_rec_buf b = { 0 };
    struct store_rcpt r = { .status = STORE_READ, .first_read_ms = 0x0102030405060708ull,
                            .last_read_ms = 9, .read_count = 0x11223344,
                            .updated_ms = 10, .server = (char *)(uintptr_t)"mx",
                            .via = "api" };
    static const unsigned char want[] = {
        3,                                        /* version */
        0x03 | 0x08 | 0x10,                       /* read, reads and via follow */
        10,                                       /* updated */
        2, 'm', 'x',                              /* server */
        0x88, 0x8e, 0x98, 0xa8, 0xc0, 0xe0, 0x80, 0x81, 0x01, /* first_read */
        9,                                        /* last_read */
        0xc4, 0xe6, 0x88, 0x89, 0x01,             /* read_count */
        3, 'a', 'p', 'i',                         /* via */
    };
    (void)state;
    store_rec_rcpt_encode(&b, &r);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));

    /* a fresh (sent) entry as the milter writes it: 12 bytes (50 in v2) */
    {
        struct store_rcpt s = { .status = STORE_SENT, .updated_ms = 1764324000123ull,
                                .server = (char *)(uintptr_t)"mx1" };
        static const unsigned char sent[] = {
            3, 0, 0xfb, 0x82, 0x9f, 0xcf, 0xac, 0x33, 3, 'm', 'x', '1',
        };
        store_rec_rcpt_encode(&b, &s);
        assert_int_equal(b.len, sizeof(sent));
        assert_memory_equal(b.p, sent, sizeof(sent));
    }

    /* a version 2 entry (schema 4) decodes to the same fields */
    struct store_rcpt d;
    assert_int_equal(store_rec_rcpt_decode(rcpt_v2, sizeof(rcpt_v2), "bob@a.exampleXXX", 13,
                                           &d), 0);
    assert_string_equal(d.address, "bob@a.example");
    assert_string_equal(d.server, "mx");
    assert_string_equal(d.via, "api");
    assert_int_equal(d.status, STORE_READ);
    assert_int_equal(d.first_read_ms, 0x0102030405060708ull);
    assert_int_equal(d.last_read_ms, 9);
    assert_int_equal(d.read_count, 0x11223344);
    assert_int_equal(d.updated_ms, 10);
    assert_null(d.original_recipient);
    assert_int_equal(d.expanded, 0);
    /* ... and re-encodes as version 3, the bytes above */
    store_rec_rcpt_encode(&b, &d);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    store_rcpt_clear(&d);

    /* a version 1 entry (before lists) decodes with no original, not expanded */
    {
        unsigned char v1[sizeof(rcpt_v2) - 5];
        struct store_rcpt o;
        memcpy(v1, rcpt_v2, sizeof(v1));
        v1[0] = 1;
        assert_int_equal(store_rec_rcpt_decode(v1, sizeof(v1), "bob@a.example", 13, &o), 0);
        assert_null(o.original_recipient);
        assert_int_equal(o.expanded, 0);
        assert_int_equal(o.read_count, 0x11223344);
        store_rcpt_clear(&o);
    }
    /* bad input: a version 2 member entry round-trips; an expanded byte of 2
     * is damage */
    {
        static const unsigned char tail[] = { 14, 0, 0, 0, 't', 'e', 'a', 'm', '@', 'a', '.',
                                              'e', 'x', 'a', 'm', 'p', 'l', 'e', 1 };
        unsigned char m2[sizeof(rcpt_v2) - 5 + sizeof(tail)];
        struct store_rcpt o;
        memcpy(m2, rcpt_v2, sizeof(rcpt_v2) - 5);
        memcpy(m2 + sizeof(rcpt_v2) - 5, tail, sizeof(tail));
        assert_int_equal(store_rec_rcpt_decode(m2, sizeof(m2), "dave@a.example", 14, &o), 0);
        assert_string_equal(o.original_recipient, "team@a.example");
        assert_int_equal(o.expanded, 1);
        store_rcpt_clear(&o);
        m2[sizeof(m2) - 1] = 2;
        assert_int_equal(store_rec_rcpt_decode(m2, sizeof(m2), "dave@a.example", 14, &o), -1);
    }
    store_rec_buf_free(&b);
}

static char long_server[4097], long_orig[321];

/* Every field survives a round trip, at its boundary values. */
static void test_rcpt_round_trip_table(void **state)
{
    struct rt {
        const char *name;
        struct store_rcpt r;
    };
    memset(long_server, 's', sizeof(long_server) - 1);
    memset(long_orig, 'o', sizeof(long_orig) - 1);
    struct rt cases[] = {
        { "all zero, server \"\"", { .server = (char *)(uintptr_t)"" } },
        { "received", { .status = STORE_RECEIVED, .server = (char *)(uintptr_t)"mx1" } },
        { "deleted_unread, via", { .status = STORE_DELETED_UNREAD,
                                   .server = (char *)(uintptr_t)"mx1", .via = "imap" } },
        { "only read_count", { .status = STORE_READ, .read_count = 1,
                               .server = (char *)(uintptr_t)"m" } },
        { "only first_read", { .first_read_ms = 1, .server = (char *)(uintptr_t)"m" } },
        { "only last_read", { .last_read_ms = 127, .server = (char *)(uintptr_t)"m" } },
        { "first after last", { .status = STORE_READ, .first_read_ms = 900,
                                .last_read_ms = 100, .read_count = 2,
                                .server = (char *)(uintptr_t)"m" } },
        { "every integer at its maximum", { .status = STORE_READ,
                                            .first_read_ms = UINT64_MAX,
                                            .last_read_ms = UINT64_MAX,
                                            .read_count = UINT32_MAX,
                                            .updated_ms = UINT64_MAX,
                                            .server = (char *)(uintptr_t)"m" } },
        { "varint boundaries 127/128", { .first_read_ms = 127, .last_read_ms = 128,
                                         .read_count = 16383, .updated_ms = 16384,
                                         .server = (char *)(uintptr_t)"m" } },
        { "via of 15 chars", { .server = (char *)(uintptr_t)"m", .via = "0123456789abcde" } },
        { "via of 1 char", { .server = (char *)(uintptr_t)"m", .via = "x" } },
        { "original \"\" (kept apart from NULL)",
          { .server = (char *)(uintptr_t)"m", .original_recipient = (char *)(uintptr_t)"" } },
        { "member of a list, expanded",
          { .status = STORE_READ, .read_count = 3, .server = (char *)(uintptr_t)"mx2",
            .original_recipient = (char *)(uintptr_t)"team@a.example", .expanded = 1,
            .via = "sync" } },
        { "expanded alone", { .server = (char *)(uintptr_t)"m", .expanded = 1 } },
        { "longest server and original", { .server = long_server,
                                           .original_recipient = long_orig } },
    };
    struct store_rec_buf b = { 0 };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct store_rcpt *r = &cases[i].r;
        struct store_rcpt d;
        store_rec_rcpt_encode(&b, r);
        if (store_rec_rcpt_decode(b.p, b.len, "a@b", 3, &d) != 0)
            fail_msg("case \"%s\" does not decode", cases[i].name);
        if (d.status != r->status || d.first_read_ms != r->first_read_ms ||
            d.last_read_ms != r->last_read_ms || d.read_count != r->read_count ||
            d.updated_ms != r->updated_ms || d.expanded != r->expanded ||
            strcmp(d.server, r->server) != 0 || strcmp(d.via, r->via) != 0 ||
            (d.original_recipient == NULL) != (r->original_recipient == NULL) ||
            (d.original_recipient && strcmp(d.original_recipient, r->original_recipient)) ||
            strcmp(d.address, "a@b") != 0)
            fail_msg("case \"%s\" changed in the round trip", cases[i].name);
        store_rcpt_clear(&d);
    }
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

/*
 * Damaged version 3 recipient entries (bad input: a torn or tampered record,
 * or one from a newer writer).  Each is a whole record; none may decode.
 */
struct damage {
    const char         *name;
    size_t              len;
    const unsigned char b[24];
};

static const struct damage damages[] = {
    { "version 0",                         5, { 0, 0, 0, 1, 'm' } },
    { "version 4 (newer)",                 5, { 4, 0, 0, 1, 'm' } },
    { "version 255",                       5, { 255, 0, 0, 1, 'm' } },
    { "unknown flag 0x40",                 5, { 3, 0x40, 0, 1, 'm' } },
    { "unknown flag 0x80",                 5, { 3, 0x80, 0, 1, 'm' } },
    { "server length beyond the end",      5, { 3, 0, 0, 2, 'm' } },
    { "server length varint unfinished",   4, { 3, 0, 0, 0x81 } },
    { "NUL inside the server string",      6, { 3, 0, 0, 2, 'm', 0 } },
    { "updated overlong (0x80 0x00)",      6, { 3, 0, 0x80, 0, 1, 'm' } },
    { "updated past 64 bits",             14, { 3, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0x02, 1, 'm' } },
    { "updated of 11 varint bytes",       15, { 3, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                                0x80, 0x80, 0x80, 0x80, 0x01, 1, 'm' } },
    { "read_count past 32 bits",          12, { 3, 0x08, 0, 1, 'm', 0, 0, 0x80, 0x80, 0x80,
                                                0x80, 0x10 } },
    { "read flag with all three zero",     8, { 3, 0x08, 0, 1, 'm', 0, 0, 0 } },
    { "via flag, via empty",               6, { 3, 0x10, 0, 1, 'm', 0 } },
    { "via of 16 bytes",                  22, { 3, 0x10, 0, 1, 'm', 16, 'v', 'v', 'v', 'v',
                                                'v', 'v', 'v', 'v', 'v', 'v', 'v', 'v',
                                                'v', 'v', 'v', 'v' } },
    { "via flag, nothing follows",         5, { 3, 0x10, 0, 1, 'm' } },
    { "original flag, nothing follows",    5, { 3, 0x20, 0, 1, 'm' } },
    { "a trailing byte",                   6, { 3, 0, 0, 1, 'm', 0 } },
    { NULL, 0, { 0 } },
};

static void test_damaged_rcpt(void **state)
{
    struct store_rcpt d;
    (void)state;
    for (const struct damage *c = damages; c->name; c++)
        if (store_rec_rcpt_decode(c->b, c->len, "a@b", 3, &d) != -1)
            fail_msg("case \"%s\" was accepted", c->name);
    /* the undamaged base of the table decodes (so the cases test what they say) */
    static const unsigned char ok[] = { 3, 0, 0, 1, 'm' };
    assert_int_equal(store_rec_rcpt_decode(ok, sizeof(ok), "a@b", 3, &d), 0);
    assert_string_equal(d.server, "m");
    store_rcpt_clear(&d);
    /* bad input: a version 2 entry with a 16-byte via is refused too */
    unsigned char v2[sizeof(rcpt_v2) + 13];
    memcpy(v2, rcpt_v2, 36);
    v2[36] = 16; v2[37] = v2[38] = v2[39] = 0;
    memset(v2 + 40, 'v', 16);
    memcpy(v2 + 56, rcpt_v2 + 43, 5);
    assert_int_equal(store_rec_rcpt_decode(v2, 61, "a@b", 3, &d), -1);
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
        cmocka_unit_test(test_rcpt_round_trip_table),
        cmocka_unit_test(test_mail_round_trip_and_nulls),
        cmocka_unit_test(test_mail_version1),
        cmocka_unit_test(test_truncations_and_trailing),
        cmocka_unit_test(test_damaged_rcpt),
        cmocka_unit_test(test_outbox_value),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
