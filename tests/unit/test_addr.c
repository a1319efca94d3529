/*
 * test_addr - envelope address parsing and normal form (addr.h).
 * Table-driven: each row names the input it tries; bad inputs are named by
 * what is wrong with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "addr_priv.h"

struct addr_case {
    const char *name;     /* what the case tries */
    const char *in;
    size_t      len;      /* 0 = strlen(in); set for embedded NUL */
    int         rc;
    const char *key;      /* expected key when rc == ADDR_OK */
    int         is_null;
    int         is_utf8;
};

static const struct addr_case good_cases[] = {
    { "bracketed", "<alice@a.example>", 0, ADDR_OK, "alice@a.example", 0, 0 },
    { "bare", "alice@a.example", 0, ADDR_OK, "alice@a.example", 0, 0 },
    { "surrounding SP and TAB", " \t<alice@a.example>\t ", 0, ADDR_OK, "alice@a.example", 0, 0 },
    { "null sender", "<>", 0, ADDR_OK, "", 1, 0 },
    { "null sender with space", "  <>  ", 0, ADDR_OK, "", 1, 0 },
    { "upper case local and domain", "<Alice.Smith@A.Example>", 0, ADDR_OK,
      "alice.smith@a.example", 0, 0 },
    { "atext specials", "<a!#$%&'*+-/=?^_`{|}~z@a.example>", 0, ADDR_OK,
      "a!#$%&'*+-/=?^_`{|}~z@a.example", 0, 0 },
    { "quoted dot-atom loses quotes", "<\"John.Doe\"@a.example>", 0, ADDR_OK,
      "john.doe@a.example", 0, 0 },
    { "quoted with space keeps quotes", "<\"john doe\"@a.example>", 0, ADDR_OK,
      "\"john doe\"@a.example", 0, 0 },
    { "quoted with escaped quote", "<\"a\\\"b\"@a.example>", 0, ADDR_OK,
      "\"a\\\"b\"@a.example", 0, 0 },
    { "needless escape dropped", "<\"a\\b\"@a.example>", 0, ADDR_OK, "ab@a.example", 0, 0 },
    { "quoted with @ inside", "<\"a@b\"@a.example>", 0, ADDR_OK, "\"a@b\"@a.example", 0, 0 },
    { "empty quoted local part", "<\"\"@a.example>", 0, ADDR_OK, "\"\"@a.example", 0, 0 },
    { "source route dropped", "<@relay.example:bob@a.example>", 0, ADDR_OK,
      "bob@a.example", 0, 0 },
    { "two-hop source route", "<@r1.example,@r2.example:bob@a.example>", 0, ADDR_OK,
      "bob@a.example", 0, 0 },
    { "UTF-8 domain to A-label", "<bob@b\xc3\xbc" "cher.example>", 0, ADDR_OK,
      "bob@xn--bcher-kva.example", 0, 1 },
    { "A-label domain stays", "<bob@xn--bcher-kva.example>", 0, ADDR_OK,
      "bob@xn--bcher-kva.example", 0, 0 },
    { "upper case A-label", "<bob@XN--BCHER-KVA.Example>", 0, ADDR_OK,
      "bob@xn--bcher-kva.example", 0, 0 },
    { "upper case UTF-8 domain", "<bob@B\xc3\x9c" "CHER.example>", 0, ADDR_OK,
      "bob@xn--bcher-kva.example", 0, 1 },
    { "UTF-8 local part kept, ASCII lowered", "<J\xc3\xb6rg@a.example>", 0, ADDR_OK,
      "j\xc3\xb6rg@a.example", 0, 1 },
    { "sharp s nontransitional", "<x@fa\xc3\x9f.de>", 0, ADDR_OK, "x@xn--fa-hia.de", 0, 1 },
    { "IPv4 literal", "<root@[127.0.0.1]>", 0, ADDR_OK, "root@[127.0.0.1]", 0, 0 },
    { "IPv6 literal", "<root@[IPv6:::1]>", 0, ADDR_OK, "root@[ipv6:::1]", 0, 0 },
    { "underscore label", "<a@_srv.a.example>", 0, ADDR_OK, "a@_srv.a.example", 0, 0 },
    { "64-byte local part",
      "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@a.example>", 0, ADDR_OK,
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@a.example", 0, 0 },
    { NULL, NULL, 0, 0, NULL, 0, 0 },
};

static const struct addr_case bad_cases[] = {
    { "CR in local part", "<ali\rce@a.example>", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "LF header injection", "<alice@a.example>\nX-Evil: 1", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "CRLF at end", "<alice@a.example>\r\n", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "embedded NUL", "<alice\0@a.example>", 18, ADDR_ECTRL, NULL, 0, 0 },
    { "DEL byte", "<ali\x7f" "ce@a.example>", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "ESC byte", "<\x1b[31m@a.example>", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "TAB inside", "<ali\tce@a.example>", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "control in quoted string", "<\"a\x01\"@a.example>", 0, ADDR_ECTRL, NULL, 0, 0 },
    { "65-byte local part",
      "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@a.example>", 0,
      ADDR_ELONG, NULL, 0, 0 },
    { "lone continuation byte", "<a\x80@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "overlong slash", "<a\xc0\xaf@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "overlong 3-byte", "<a\xe0\x80\xaf@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "UTF-16 surrogate", "<a\xed\xa0\x80@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "above U+10FFFF", "<a\xf4\x90\x80\x80@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "truncated sequence at end", "<a@b.example\xc3>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "0xff byte", "<a\xff@a.example>", 0, ADDR_EUTF8, NULL, 0, 0 },
    { "empty input", "", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "only spaces", "   ", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "no at sign", "<alice>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "missing closing bracket", "<alice@a.example", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "missing opening bracket", "alice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "lone opening bracket", "<", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "double brackets", "<<alice@a.example>>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "empty local part", "<@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "empty domain", "<alice@>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "two at signs", "<a@b@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "leading dot in local", "<.alice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "double dot in local", "<al..ice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "space in unquoted local", "<al ice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "unterminated quote", "<\"alice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "escaped closing quote", "<\"alice\\\"@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "quote then a lone backslash", "\"\\", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "quoted part ending in a backslash", "\"a\\", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "text after quote", "<\"a\"b@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "source route without colon", "<@relay.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "display name form", "Alice <alice@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "comma list", "<a@a.example>,<b@a.example>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "domain double dot", "<a@a..example>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "domain trailing dot", "<a@a.example.>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "domain leading hyphen", "<a@-a.example>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "bad punycode", "<a@xn--zz.example>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "space in domain", "<a@a b.example>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "bad IPv4 literal", "<a@[300.1.1.1]>", 0, ADDR_EDOMAIN, NULL, 0, 0 },
    { "unclosed literal", "<a@[127.0.0.1>", 0, ADDR_ESYNTAX, NULL, 0, 0 },
    { "64-byte label", "<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>",
      0, ADDR_EDOMAIN, NULL, 0, 0 },
    { NULL, NULL, 0, 0, NULL, 0, 0 },
};

static void run_cases(const struct addr_case *cases)
{
    for (size_t i = 0; cases[i].name != NULL; i++) {
        const struct addr_case *c = &cases[i];
        struct addr a;
        size_t len = c->len ? c->len : strlen(c->in);
        int rc = addr_parse(c->in, len, &a);

        if (rc != c->rc)
            fail_msg("case \"%s\": rc %d (%s), want %d", c->name, rc, addr_strerror(rc), c->rc);
        if (rc != ADDR_OK)
            continue;
        if (strcmp(a.key, c->key) != 0)
            fail_msg("case \"%s\": key \"%s\", want \"%s\"", c->name, a.key, c->key);
        if (a.is_null != c->is_null || a.is_utf8 != c->is_utf8)
            fail_msg("case \"%s\": is_null %d is_utf8 %d", c->name, a.is_null, a.is_utf8);
    }
}

static void test_good(void **state)
{
    (void)state;
    run_cases(good_cases);
}

static void test_bad(void **state)
{
    (void)state;
    run_cases(bad_cases);
}

/* "<x@" + a domain of n bytes (63-byte labels) + ">" */
static void long_domain_addr(char *buf, size_t n)
{
    size_t o = 0;
    o += (size_t)sprintf(buf, "<x@");
    for (size_t i = 0; i < n; i++)
        buf[o++] = (i % 64 == 63) ? '.' : 'b';
    buf[o++] = '>';
    buf[o] = '\0';
}

/* Bad input: over-long raw input and over-long domains. */
static void test_lengths(void **state)
{
    char buf[2048];
    struct addr a;
    (void)state;

    /* raw input of ADDR_INPUT_MAX + 1 bytes, which is otherwise a fine address */
    memset(buf, 'a', sizeof(buf));
    memcpy(buf + 400, "@a.example", 10);
    assert_int_equal(addr_parse(buf + 400 - 60, 70, &a), ADDR_OK);
    memset(buf, 'a', sizeof(buf));
    assert_int_equal(addr_parse(buf, ADDR_INPUT_MAX + 1, &a), ADDR_ELONG);
    /* 253 bytes: the longest DNS name */
    long_domain_addr(buf, 253);
    assert_int_equal(addr_parse_str(buf, &a), ADDR_OK);
    assert_int_equal(strlen(a.domain), 253);
    /* 254 and 255 bytes: libidn2 refuses (DNS limit), still ADDR_ELONG */
    long_domain_addr(buf, 254);
    assert_int_equal(addr_parse_str(buf, &a), ADDR_ELONG);
    /* 256 bytes: refused before libidn2 */
    long_domain_addr(buf, 256);
    assert_int_equal(addr_parse_str(buf, &a), ADDR_ELONG);
}

/* The same mailbox written in different ways has one key. */
static void test_equivalent_forms(void **state)
{
    static const char *const forms[] = {
        "<bob@b\xc3\xbc" "cher.example>", "bob@xn--bcher-kva.example",
        "  <\"BOB\"@XN--BCHER-KVA.EXAMPLE>", "<@relay:Bob@B\xc3\x9c" "cher.Example>", NULL,
    };
    struct addr a;
    (void)state;
    for (size_t i = 0; forms[i]; i++) {
        assert_int_equal(addr_parse_str(forms[i], &a), ADDR_OK);
        assert_string_equal(a.key, "bob@xn--bcher-kva.example");
        assert_string_equal(a.local, "bob");
        assert_string_equal(a.domain, "xn--bcher-kva.example");
    }
}

static void test_domain_norm(void **state)
{
    static const struct {
        const char *name, *in;
        int rc;
        const char *out;
    } cases[] = {
        { "plain", "a.example", ADDR_OK, "a.example" },
        { "upper case", "A.EXAMPLE", ADDR_OK, "a.example" },
        { "leading dot kept", ".Dept.A.Example", ADDR_OK, ".dept.a.example" },
        { "UTF-8 with dot", ".b\xc3\xbc" "cher.example", ADDR_OK, ".xn--bcher-kva.example" },
        { "full-width letters", "\xef\xbc\xa1.example", ADDR_OK, "a.example" },
        { "bad: two leading dots", "..a.example", ADDR_EDOMAIN, NULL },
        { "bad: only a dot", ".", ADDR_ESYNTAX, NULL },
        { "bad: empty", "", ADDR_ESYNTAX, NULL },
        { "bad: LF", "a.example\n", ADDR_ECTRL, NULL },
        { "bad: invalid UTF-8", "a\xc3.example", ADDR_EUTF8, NULL },
        { "bad: at sign", "a@b.example", ADDR_EDOMAIN, NULL },
        { "bad: trailing hyphen", "a-.example", ADDR_EDOMAIN, NULL },
        { NULL, NULL, 0, NULL },
    };
    char out[ADDR_DOMAIN_MAX + 2];
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        int rc = addr_domain_norm(cases[i].in, out);
        if (rc != cases[i].rc)
            fail_msg("case \"%s\": rc %d, want %d", cases[i].name, rc, cases[i].rc);
        if (rc == ADDR_OK && strcmp(out, cases[i].out) != 0)
            fail_msg("case \"%s\": \"%s\", want \"%s\"", cases[i].name, out, cases[i].out);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(addr_strerror(ADDR_ECTRL), "control character in address");
    assert_non_null(addr_strerror(-99));
    for (int e = ADDR_EDOMAIN; e <= ADDR_OK; e++)
        assert_true(strlen(addr_strerror(e)) > 0);
}

/* Deterministic xorshift so a failure reproduces. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/*
 * Bad input: 50,000 random strings built from address-ish pieces and random
 * bytes.  Whatever comes in, the result is a known code, and a key that
 * comes out is clean, bounded, and parses back to itself.
 */
static void test_random_inputs(void **state)
{
    static const char *const pieces[] = {
        "<", ">", "@", ".", "\"", "\\", " ", "\t", "a", "Z", "xn--", "bcher-kva", "\xc3\xbc",
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "[", "]", "IPv6:", "::1", "127.0.0.1", ":", ",",
        "-", "_", "\r", "\n", "example", "\xff", "\xc0", "!", "%",
    };
    static const char *const seeds[] = {
        "<alice@a.example>", "bob@b\xc3\xbc" "cher.example", "<\"john doe\"@a.example>", "<>",
        "<@relay.example:carol@c.example>", "<root@[IPv6:::1]>", "<x@[127.0.0.1]>",
        " <J\xc3\xb6rg.M@XN--BCHER-KVA.EXAMPLE> ", "<a!#$%&'*+-/=?^_`{|}~z@_srv.a.example>",
    };
    char buf[ADDR_INPUT_MAX + 64];
    int ok = 0;
    (void)state;

    for (int i = 0; i < 50000; i++) {
        size_t len, muts = rnd() % 4;
        struct addr a, b;
        int rc;

        /* a valid seed, then 0..3 mutations: insert a piece, drop or change a byte */
        len = (size_t)snprintf(buf, sizeof(buf), "%s", seeds[rnd() % (sizeof(seeds) / sizeof(seeds[0]))]);
        for (size_t m = 0; m < muts && len > 0; m++) {
            size_t at = rnd() % len;
            const char *piece = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = strlen(piece);
            switch (rnd() % 3) {
            case 0:
                if (len + pl < sizeof(buf)) {
                    memmove(buf + at + pl, buf + at, len - at);
                    memcpy(buf + at, piece, pl);
                    len += pl;
                }
                break;
            case 1:
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default:
                buf[at] = (char)(rnd() & 0xff);
            }
        }
        rc = addr_parse(buf, len, &a);
        if (rc > 0 || rc < ADDR_EDOMAIN)
            fail_msg("unknown code %d", rc);
        if (rc != ADDR_OK)
            continue;
        ok++;
        assert_true(strlen(a.key) <= ADDR_KEY_MAX);
        for (const char *k = a.key; *k; k++)
            assert_false((unsigned char)*k < 0x20 || *k == 0x7f);
        if (a.is_null)
            continue;
        rc = addr_parse_str(a.key, &b);
        if (rc != ADDR_OK || strcmp(a.key, b.key) != 0)
            fail_msg("key \"%s\" does not parse back (%d, \"%s\")", a.key, rc, b.key);
    }
    print_message("%d of 50000 parsed\n", ok);
    assert_true(ok > 10000);        /* the generator does reach valid addresses */
}

/*
 * The ASCII fast path against libidn2: 200,000 ASCII domains built from
 * label-ish pieces (upper and lower case, digits, '-', '_', "xn--" and
 * valid and broken A-labels, "--" in the 3rd and 4th place, empty labels,
 * leading and trailing dots and hyphens, a few other printable bytes, and
 * lengths around the 63-byte label and 253-byte name limits).  For each,
 * addr_domain_norm (fast path on) and addr_domain_norm_idn (every domain
 * through libidn2) must give the same code and the same bytes, and
 * addr_parse of "u@DOMAIN" the same domain.
 */
static void test_ascii_fast_path_matches_idn2(void **state)
{
    static const char *const pieces[] = {
        "a", "Z", "mail", "EXAMPLE", "0", "9", "-", "_", ".", "..", "xn--", "XN--",
        "xn--bcher-kva", "Xn--BCHER-KVA", "xn--zz", "ab--cd", "--", "x", "n", "Mx2", "-a",
        "a-", "!", "*", " ", "~", "=", "/", "com", "co.uk",
    };
    char dom[400], a_out[ADDR_DOMAIN_MAX + 2], b_out[ADDR_DOMAIN_MAX + 2], in[512];
    int ok = 0, n = 200000;
    (void)state;

    for (int i = 0; i < n; i++) {
        size_t len = 0, want = 1 + rnd() % 8;
        if (rnd() % 20 == 0)
            want = 60 + rnd() % 200;       /* around the label and name limits */
        while (len < want && len < 300) {
            const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
            if (want > 8 && rnd() % 3)
                p = rnd() % 9 ? "abcdefghij" : ".";
            size_t pl = strlen(p);
            memcpy(dom + len, p, pl);
            len += pl;
        }
        dom[len] = '\0';
        int ra = addr_domain_norm(dom, a_out);
        int rb = addr_domain_norm_idn(dom, b_out);
        if (ra != rb || (ra == ADDR_OK && strcmp(a_out, b_out) != 0))
            fail_msg("\"%s\": fast %d \"%s\", libidn2 %d \"%s\"", dom, ra,
                     ra == ADDR_OK ? a_out : "", rb, rb == ADDR_OK ? b_out : "");
        ok += ra == ADDR_OK;
        if (dom[0] == '.' || len > ADDR_DOMAIN_MAX)
            continue;
        struct addr ad;
        snprintf(in, sizeof(in), "<u@%s>", dom);
        int rp = addr_parse_str(in, &ad);
        if (rb == ADDR_OK && (rp != ADDR_OK || strcmp(ad.domain, b_out) != 0))
            fail_msg("addr_parse(%s): %d \"%s\", libidn2 \"%s\"", in, rp, ad.domain, b_out);
        if (rb != ADDR_OK && rp == ADDR_OK)
            fail_msg("addr_parse(%s) accepted what libidn2 refused (%d)", in, rb);
    }
    print_message("%d of %d domains valid, all alike\n", ok, n);
    assert_true(ok > n / 5);               /* the generator does make valid names */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_equivalent_forms),
        cmocka_unit_test(test_domain_norm),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_ascii_fast_path_matches_idn2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
