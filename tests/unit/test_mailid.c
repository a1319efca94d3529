/*
 * test_mailid - ids, tags, strict parsing and verification (mailid.h).
 * Bad inputs are table-driven; each row is named by the input it tries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mailid.h"

static const unsigned char key[] = "system key of any length, here 37 b.";
static const char sender[] = "alice@a.example";

static int setup(void **state)
{
    (void)state;
    return mailid_init() == MAILID_OK ? 0 : -1;
}

static void make_value(uint64_t ms, char value[MAILID_VALUE_LEN + 1])
{
    assert_int_equal(mailid_make(key, sizeof(key) - 1, sender, ms, value), MAILID_OK);
}

static void test_generate_shape(void **state)
{
    char id[MAILID_ID_LEN + 1];
    (void)state;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mailid_generate(0, id), MAILID_OK);
        assert_int_equal(strlen(id), MAILID_ID_LEN);
        assert_true(mailid_id_valid(id, MAILID_ID_LEN));
        /* 128 bits in 26 chars: the top character carries 2 zero bits */
        assert_true(id[0] >= '0' && id[0] <= '7');
        assert_null(strpbrk(id, "ILOU"));
    }
}

static void test_time_round_trip(void **state)
{
    static const uint64_t times[] = {
        1, 1000, 1764324000123ull, (1ull << 48) - 1, 0x123456789abull,
    };
    char id[MAILID_ID_LEN + 1], prefix[MAILID_TIME_LEN + 1];
    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        assert_int_equal(mailid_generate(times[i], id), MAILID_OK);
        assert_int_equal(mailid_time_ms(id), times[i]);
        mailid_time_prefix(times[i], prefix);
        assert_int_equal(strlen(prefix), MAILID_TIME_LEN);
        assert_memory_equal(id, prefix, MAILID_TIME_LEN);
    }
    /* the largest 48-bit time is "7ZZZZZZZZZ" */
    mailid_time_prefix((1ull << 48) - 1, prefix);
    assert_string_equal(prefix, "7ZZZZZZZZZ");
    mailid_time_prefix(0, prefix);
    assert_string_equal(prefix, "0000000000");
}

static void test_time_order(void **state)
{
    char prev[MAILID_ID_LEN + 1], id[MAILID_ID_LEN + 1];
    (void)state;
    /* ids made at increasing times sort in that order as strings */
    assert_int_equal(mailid_generate(1764324000000ull, prev), MAILID_OK);
    for (uint64_t ms = 1764324000001ull; ms < 1764324000000ull + 500; ms += 7) {
        assert_int_equal(mailid_generate(ms, id), MAILID_OK);
        assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, sizeof(id));
    }
    /* ids generated in sequence from the clock never go back in time */
    assert_int_equal(mailid_generate(0, prev), MAILID_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(mailid_generate(0, id), MAILID_OK);
        assert_true(memcmp(prev, id, MAILID_TIME_LEN) <= 0);
        assert_true(mailid_time_ms(prev) <= mailid_time_ms(id));
        memcpy(prev, id, sizeof(id));
    }
}

static void test_ids_unique(void **state)
{
    char ids[64][MAILID_ID_LEN + 1];
    (void)state;
    for (int i = 0; i < 64; i++) {
        assert_int_equal(mailid_generate(1764324000000ull, ids[i]), MAILID_OK);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
}

static void test_make_parse_verify_round_trip(void **state)
{
    char value[MAILID_VALUE_LEN + 1], id[MAILID_ID_LEN + 1], tag[MAILID_TAG_LEN + 1];
    char want[MAILID_TAG_LEN + 1], vid[MAILID_ID_LEN + 1];
    (void)state;
    for (int i = 0; i < 50; i++) {
        make_value(0, value);
        assert_int_equal(strlen(value), MAILID_VALUE_LEN);
        assert_int_equal(mailid_parse(value, strlen(value), id, tag), MAILID_OK);
        assert_memory_equal(value, id, MAILID_ID_LEN);
        assert_string_equal(value + MAILID_ID_LEN + 1, tag);
        mailid_tag(key, sizeof(key) - 1, id, sender, want);
        assert_string_equal(tag, want);
        assert_int_equal(mailid_verify(key, sizeof(key) - 1, value, strlen(value),
                                       sender, vid), MAILID_OK);
        assert_string_equal(vid, id);
    }
}

static void test_keys_of_any_length(void **state)
{
    unsigned char longkey[200];
    char value[MAILID_VALUE_LEN + 1], id[MAILID_ID_LEN + 1];
    (void)state;
    memset(longkey, 0xA5, sizeof(longkey));
    /* a 1-byte key and a 200-byte key (longer than the SHA-256 block) */
    assert_int_equal(mailid_make(longkey, 1, sender, 0, value), MAILID_OK);
    assert_int_equal(mailid_verify(longkey, 1, value, MAILID_VALUE_LEN, sender, id), MAILID_OK);
    assert_int_equal(mailid_verify(longkey, 2, value, MAILID_VALUE_LEN, sender, id), MAILID_EMAC);
    assert_int_equal(mailid_make(longkey, sizeof(longkey), sender, 0, value), MAILID_OK);
    assert_int_equal(mailid_verify(longkey, sizeof(longkey), value, MAILID_VALUE_LEN,
                                   sender, id), MAILID_OK);
    assert_int_equal(mailid_verify(longkey, sizeof(longkey) - 1, value, MAILID_VALUE_LEN,
                                   sender, id), MAILID_EMAC);
}

/* A known-answer check: the tag is HMAC-SHA256(key, id 0x00 sender), first
 * 10 bytes in base32, computed here independently with the one-shot API. */
static void test_tag_known_answer(void **state)
{
    static const char id[] = "01JDQ8ZZ0000000000000000AB";
    char tag[MAILID_TAG_LEN + 1];
    (void)state;
    mailid_tag((const unsigned char *)"k", 1, id, "a@b", tag);
    /* python3: hmac.new(b"k", id.encode()+b"\0a@b", sha256).digest()[:10]
     * encoded in Crockford base32 */
    assert_string_equal(tag, "CKGJ46PHPAPS8ZJQ");
}

/*
 * A prepared key (mailid_key) gives the same tags as the raw key: the known
 * answer above, keys shorter and longer than the SHA-256 block, and a value
 * made under one key is refused under a prepared other key.  The prepared
 * state is reused many times (it must not be consumed by a tag).
 */
static void test_prepared_key(void **state)
{
    static const char id[] = "01JDQ8ZZ0000000000000000AB";
    unsigned char longkey[200];
    struct mailid_key k, other;
    char tag[MAILID_TAG_LEN + 1], raw[MAILID_TAG_LEN + 1];
    char value[MAILID_VALUE_LEN + 1], vid[MAILID_ID_LEN + 1];
    (void)state;

    mailid_key_init(&k, (const unsigned char *)"k", 1);
    for (int i = 0; i < 3; i++) {
        mailid_tag_k(&k, id, "a@b", tag);
        assert_string_equal(tag, "CKGJ46PHPAPS8ZJQ");
    }
    mailid_key_wipe(&k);

    memset(longkey, 0x5A, sizeof(longkey));
    for (size_t len = 1; len <= sizeof(longkey); len += 33) {
        mailid_key_init(&k, longkey, len);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(mailid_make_k(&k, sender, 0, value), MAILID_OK);
            assert_int_equal(mailid_verify(longkey, len, value, MAILID_VALUE_LEN, sender, vid),
                             MAILID_OK);
            assert_int_equal(mailid_verify_k(&k, value, MAILID_VALUE_LEN, sender, vid),
                             MAILID_OK);
            mailid_tag(longkey, len, vid, sender, raw);
            mailid_tag_k(&k, vid, sender, tag);
            assert_string_equal(tag, raw);
            /* another sender, or another key: refused */
            assert_int_equal(mailid_verify_k(&k, value, MAILID_VALUE_LEN, "x@y", vid),
                             MAILID_EMAC);
            mailid_key_init(&other, longkey, len + 1);
            assert_int_equal(mailid_verify_k(&other, value, MAILID_VALUE_LEN, sender, vid),
                             MAILID_EMAC);
            mailid_key_wipe(&other);
        }
        mailid_key_wipe(&k);
    }
    /* wiped means wiped */
    for (size_t i = 0; i < sizeof(k.st); i++)
        assert_int_equal(k.st[i], 0);
}

/* Bad header values for the same good value; each row names what it tries. */
struct bad_case {
    const char *name;
    int         want;          /* MAILID_ESYNTAX or MAILID_EMAC */
    void      (*mutate)(char *buf, size_t *len);
};

static void flip_tag_char(char *b, size_t *n)
{
    (void)n;
    char *c = b + MAILID_ID_LEN + 5;
    *c = *c == 'A' ? 'B' : 'A';
}
static void flip_id_char(char *b, size_t *n)
{
    (void)n;
    char *c = b + 20;
    *c = *c == 'A' ? 'B' : 'A';
}
static void truncate_one(char *b, size_t *n) { (void)b; *n -= 1; }
static void truncate_tag(char *b, size_t *n) { (void)b; *n = MAILID_ID_LEN + 1; }
static void id_only(char *b, size_t *n) { (void)b; *n = MAILID_ID_LEN; }
static void empty(char *b, size_t *n) { (void)b; *n = 0; }
static void put_at(char *b, size_t pos, char c) { b[pos] = c; }
static void alias_i(char *b, size_t *n) { (void)n; put_at(b, MAILID_ID_LEN + 3, 'I'); }
static void alias_l(char *b, size_t *n) { (void)n; put_at(b, 12, 'L'); }
static void alias_o(char *b, size_t *n) { (void)n; put_at(b, 15, 'O'); }
static void alias_o_lower(char *b, size_t *n) { (void)n; put_at(b, 15, 'o'); }
static void letter_u(char *b, size_t *n) { (void)n; put_at(b, 14, 'U'); }
static void embedded_cr(char *b, size_t *n) { (void)n; put_at(b, 8, '\r'); }
static void embedded_lf(char *b, size_t *n) { (void)n; put_at(b, 8, '\n'); }
static void embedded_nul(char *b, size_t *n) { (void)n; put_at(b, 30, '\0'); }
static void embedded_space(char *b, size_t *n) { (void)n; put_at(b, 30, ' '); }
static void dash_not_dot(char *b, size_t *n) { (void)n; put_at(b, MAILID_ID_LEN, '-'); }
static void top_char_8(char *b, size_t *n) { (void)n; put_at(b, 0, '8'); }
static void append(char *b, size_t *n, const char *s)
{
    memcpy(b + *n, s, strlen(s));
    *n += strlen(s);
}
static void prepend(char *b, size_t *n, const char *s)
{
    size_t k = strlen(s);
    memmove(b + k, b, *n);
    memcpy(b, s, k);
    *n += k;
}
static void extra_char(char *b, size_t *n) { append(b, n, "A"); }
static void extra_junk(char *b, size_t *n) { append(b, n, " junk"); }
static void second_value(char *b, size_t *n) { append(b, n, ", 0123"); }
static void trailing_nul(char *b, size_t *n) { append(b, n, "x"); b[*n - 1] = '\0'; }
static void trailing_crlf_no_fold(char *b, size_t *n) { append(b, n, "\r\n"); }
static void trailing_lf_no_fold(char *b, size_t *n) { append(b, n, "\n"); }
static void trailing_bare_cr(char *b, size_t *n) { append(b, n, "\r"); }
static void trailing_cr_sp(char *b, size_t *n) { append(b, n, "\r "); }
static void leading_crlf_no_wsp(char *b, size_t *n) { prepend(b, n, "\r\n"); }
static void leading_bare_cr(char *b, size_t *n) { prepend(b, n, "\r "); }
static void angle_brackets(char *b, size_t *n) { prepend(b, n, "<"); append(b, n, ">"); }
static void fold_inside(char *b, size_t *n)
{
    /* a fold in the middle of the value, between id and '.' */
    memmove(b + MAILID_ID_LEN + 3, b + MAILID_ID_LEN, *n - MAILID_ID_LEN);
    memcpy(b + MAILID_ID_LEN, "\r\n ", 3);
    *n += 3;
}

static const struct bad_case bad_cases[] = {
    { "flipped tag char",          MAILID_EMAC,    flip_tag_char },
    { "flipped id char",           MAILID_EMAC,    flip_id_char },
    { "truncated by one",          MAILID_ESYNTAX, truncate_one },
    { "tag missing after dot",     MAILID_ESYNTAX, truncate_tag },
    { "id only, no tag",           MAILID_ESYNTAX, id_only },
    { "empty value",               MAILID_ESYNTAX, empty },
    { "alias I in tag",            MAILID_ESYNTAX, alias_i },
    { "alias L in id",             MAILID_ESYNTAX, alias_l },
    { "alias O in id",             MAILID_ESYNTAX, alias_o },
    { "alias o (lower) in id",     MAILID_ESYNTAX, alias_o_lower },
    { "letter U",                  MAILID_ESYNTAX, letter_u },
    { "embedded CR",               MAILID_ESYNTAX, embedded_cr },
    { "embedded LF",               MAILID_ESYNTAX, embedded_lf },
    { "embedded NUL",              MAILID_ESYNTAX, embedded_nul },
    { "embedded space",            MAILID_ESYNTAX, embedded_space },
    { "dash instead of dot",       MAILID_ESYNTAX, dash_not_dot },
    { "first char above 7",        MAILID_ESYNTAX, top_char_8 },
    { "one extra char",            MAILID_ESYNTAX, extra_char },
    { "extra junk after space",    MAILID_ESYNTAX, extra_junk },
    { "second value appended",     MAILID_ESYNTAX, second_value },
    { "trailing NUL",              MAILID_ESYNTAX, trailing_nul },
    { "trailing CRLF, no fold",    MAILID_ESYNTAX, trailing_crlf_no_fold },
    { "trailing LF, no fold",      MAILID_ESYNTAX, trailing_lf_no_fold },
    { "trailing bare CR",          MAILID_ESYNTAX, trailing_bare_cr },
    { "trailing CR then SP",       MAILID_ESYNTAX, trailing_cr_sp },
    { "leading CRLF without WSP",  MAILID_ESYNTAX, leading_crlf_no_wsp },
    { "leading bare CR then SP",   MAILID_ESYNTAX, leading_bare_cr },
    { "angle brackets",            MAILID_ESYNTAX, angle_brackets },
    { "fold inside the value",     MAILID_ESYNTAX, fold_inside },
    { NULL, 0, NULL },
};

static void test_bad_values(void **state)
{
    char value[MAILID_VALUE_LEN + 1], buf[128], id[MAILID_ID_LEN + 1];
    (void)state;
    for (const struct bad_case *c = bad_cases; c->name; c++) {
        size_t n = MAILID_VALUE_LEN;
        make_value(0, value);
        memset(buf, 0, sizeof(buf));
        memcpy(buf, value, n);
        c->mutate(buf, &n);
        int rc = mailid_verify(key, sizeof(key) - 1, buf, n, sender, id);
        if (rc != c->want)
            fail_msg("case \"%s\": got %d (%s), want %d", c->name, rc,
                     mailid_strerror(rc), c->want);
    }
}

/* Good variants of the same value: all verify and yield the same id. */
struct good_case {
    const char *name;
    const char *before, *after;
    int         lower;
};

static const struct good_case good_cases[] = {
    { "plain",                       "",           "",          0 },
    { "lower case",                  "",           "",          1 },
    { "leading space",               " ",          "",          0 },
    { "leading tabs and spaces",     "\t \t",      "",          0 },
    { "trailing space and tab",      "",           " \t",       0 },
    { "leading CRLF fold",           "\r\n ",      "",          0 },
    { "leading LF fold",             "\n\t",       "",          0 },
    { "two leading folds",           " \r\n \r\n\t", "",        0 },
    { "trailing CRLF fold",          "",           "\r\n ",     0 },
    { "trailing LF fold",            "",           "\n\t",      0 },
    { "space, fold, space",          " \r\n  ",    " \r\n\t ",  1 },
    { NULL, NULL, NULL, 0 },
};

static void test_good_variants(void **state)
{
    char value[MAILID_VALUE_LEN + 1], buf[128], id[MAILID_ID_LEN + 1];
    (void)state;
    for (const struct good_case *c = good_cases; c->name; c++) {
        make_value(0, value);
        char core[MAILID_VALUE_LEN + 1];
        memcpy(core, value, sizeof(core));
        if (c->lower)
            for (char *p = core; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
        int n = snprintf(buf, sizeof(buf), "%s%s%s", c->before, core, c->after);
        int rc = mailid_verify(key, sizeof(key) - 1, buf, (size_t)n, sender, id);
        if (rc != MAILID_OK)
            fail_msg("case \"%s\": got %d (%s)", c->name, rc, mailid_strerror(rc));
        assert_memory_equal(id, value, MAILID_ID_LEN);
        assert_true(mailid_id_valid(id, MAILID_ID_LEN));
    }
}

static void test_wrong_key_or_sender(void **state)
{
    char value[MAILID_VALUE_LEN + 1], id[MAILID_ID_LEN + 1];
    static const unsigned char other_key[] = "system key of any length, here 37 c.";
    (void)state;
    make_value(0, value);
    /* bad input: a different key of the same length */
    assert_int_equal(mailid_verify(other_key, sizeof(other_key) - 1, value,
                                   MAILID_VALUE_LEN, sender, id), MAILID_EMAC);
    /* bad input: the key one byte short (a prefix of the real key) */
    assert_int_equal(mailid_verify(key, sizeof(key) - 2, value, MAILID_VALUE_LEN,
                                   sender, id), MAILID_EMAC);
    /* bad input: another sender; a sender differing only by case (the caller
     * normalises, mailid does not); the sender with the id glued on */
    assert_int_equal(mailid_verify(key, sizeof(key) - 1, value, MAILID_VALUE_LEN,
                                   "mallory@a.example", id), MAILID_EMAC);
    assert_int_equal(mailid_verify(key, sizeof(key) - 1, value, MAILID_VALUE_LEN,
                                   "Alice@a.example", id), MAILID_EMAC);
    assert_int_equal(mailid_verify(key, sizeof(key) - 1, value, MAILID_VALUE_LEN,
                                   "", id), MAILID_EMAC);
    /* the tag of one id does not verify another id */
    char other[MAILID_VALUE_LEN + 1];
    make_value(0, other);
    memcpy(other + MAILID_ID_LEN, value + MAILID_ID_LEN, MAILID_TAG_LEN + 1);
    assert_int_equal(mailid_verify(key, sizeof(key) - 1, other, MAILID_VALUE_LEN,
                                   sender, id), MAILID_EMAC);
}

struct id_case {
    const char *name;
    const char *id;
    int         valid;
};

static const struct id_case id_cases[] = {
    { "canonical",               "01JDQ8ZZ0000000000000000AB", 1 },
    { "all sevens and Z",        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 1 },
    { "first char 8 (overflow)", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", 0 },
    { "lower case (not stored)", "01jdq8zz0000000000000000ab", 0 },
    { "alias I",                 "01JDQ8ZZ000000000000000IAB", 0 },
    { "alias L",                 "01JDQ8ZZ000000000000000LAB", 0 },
    { "alias O",                 "01JDQ8ZZ000000000000000OAB", 0 },
    { "U",                       "01JDQ8ZZ000000000000000UAB", 0 },
    { "25 chars",                "01JDQ8ZZ0000000000000000A",  0 },
    { "27 chars",                "01JDQ8ZZ0000000000000000ABC", 0 },
    { "punctuation",             "01JDQ8ZZ00000000000000-0AB", 0 },
    { NULL, NULL, 0 },
};

static void test_id_valid(void **state)
{
    (void)state;
    for (const struct id_case *c = id_cases; c->name; c++)
        if (mailid_id_valid(c->id, strlen(c->id)) != c->valid)
            fail_msg("case \"%s\": want valid=%d", c->name, c->valid);
    assert_false(mailid_id_valid(NULL, 26));
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(mailid_strerror(MAILID_EMAC), "mail id MAC does not match");
    assert_non_null(mailid_strerror(MAILID_ESYNTAX));
    assert_non_null(mailid_strerror(12345));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_shape),
        cmocka_unit_test(test_time_round_trip),
        cmocka_unit_test(test_time_order),
        cmocka_unit_test(test_ids_unique),
        cmocka_unit_test(test_make_parse_verify_round_trip),
        cmocka_unit_test(test_keys_of_any_length),
        cmocka_unit_test(test_tag_known_answer),
        cmocka_unit_test(test_prepared_key),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_good_variants),
        cmocka_unit_test(test_wrong_key_or_sender),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
