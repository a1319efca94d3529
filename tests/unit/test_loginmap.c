/*
 * test_loginmap - the SMTP AUTH login to sender map (Postfix
 * smtpd_sender_login_maps source format) and addr_strip_ext behind it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "loginmap.h"

static const char map_text[] =
    "# sender            logins\n"
    "boss@a.example      assistant@a.example, Alice@a.example\n"
    "@a.example          relay-a\n"
    "    deputy\n"
    "\n"
    "ops@b\xc3\xbc" "cher.example  ops\n";   /* UTF-8 key, matched in A-label form */

struct allow_case {
    const char *sender;   /* normal form */
    const char *login;
    int         want;
    const char *why;
};

static const struct allow_case allow_cases[] = {
    { "alice@a.example", "alice@a.example", 1, "own address" },
    { "alice@a.example", "ALICE@A.EXAMPLE", 1, "own address, other case" },
    { "alice@a.example", "alice", 0, "a bare login is not an address" },
    { "ceo@a.example", "mallory@a.example", 0, "attack: another user's address" },
    { "boss@a.example", "assistant@a.example", 1, "listed login" },
    { "boss@a.example", "alice@a.example", 1, "listed login, case-insensitive" },
    { "boss@a.example", "deputy", 0, "an address entry does not fall back to @domain" },
    { "boss+x@a.example", "assistant@a.example", 1, "extension stripped" },
    { "anyone@a.example", "deputy", 1, "@domain entry, continuation line" },
    { "anyone@a.example", "relay-a", 1, "@domain entry, first login" },
    { "anyone@b.example", "relay-a", 0, "other domain" },
    { "ops@xn--bcher-kva.example", "ops", 1, "IDN key in UTF-8 form" },
    { "alice@a.example", "", 0, "empty login" },
    { "alice@a.example", NULL, 0, "no login" },
    { NULL, NULL, 0, NULL },
};

static void test_allows(void **state)
{
    loginmap_t *map = NULL;
    char err[256];
    (void)state;

    if (loginmap_load_string(map_text, "test.map", &map, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_int_equal(loginmap_count(map), 3);
    for (size_t i = 0; allow_cases[i].sender; i++) {
        const struct allow_case *c = &allow_cases[i];
        if (loginmap_allows(map, c->sender, c->login, "+-") != c->want)
            fail_msg("case %zu (%s): %s as %s: want %d", i, c->why,
                     c->login ? c->login : "(null)", c->sender, c->want);
    }
    /* no map: only the own address */
    assert_int_equal(loginmap_allows(NULL, "a@a.example", "a@a.example", "+"), 1);
    assert_int_equal(loginmap_allows(NULL, "boss@a.example", "assistant@a.example", "+"), 0);
    assert_null(loginmap_free(map));
}

/* Bad map files: each refused with FILE:LINE and a reason, nothing loaded. */
static void test_bad_maps(void **state)
{
    static const struct { const char *text, *want; } bad[] = {
        { "bob@a.example\n", "test.map:1: key 'bob@a.example' has no login" },
        { "  deputy\n", "test.map:1: continuation line without a key" },
        { "# c\nnot an address x\n", "test.map:2: key 'not'" },
        { "@ x\n", "test.map:1: key '@': not a domain" },
        { "b\x01ob@a.example x\n", "test.map:1: key" },
        { "bob@a.example x\nBOB@A.EXAMPLE y\n", "listed twice" },
        { NULL, NULL },
    };
    char err[256];
    loginmap_t *map;
    (void)state;

    for (size_t i = 0; bad[i].text; i++) {
        map = (loginmap_t *)1;
        err[0] = '\0';
        assert_int_equal(loginmap_load_string(bad[i].text, "test.map", &map, err, sizeof(err)), -1);
        assert_null(map);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("case %zu: error '%s' lacks '%s'", i, err, bad[i].want);
    }
    assert_int_equal(loginmap_load("/nonexistent/login.map", &map, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/login.map:0: cannot open"));
}

static void test_strip_ext(void **state)
{
    static const struct { const char *key, *delims, *want; } cases[] = {
        { "bob+news@a.example", "+", "bob@a.example" },
        { "bob-news@a.example", "+-", "bob@a.example" },
        { "bob+a+b@a.example", "+", "bob@a.example" },   /* cut at the first delimiter */
        { "bob@a.example", "+", NULL },
        { "+bob@a.example", "+", NULL },                 /* leading delimiter: not an extension */
        { "bob+news@a.example", "", NULL },
        { "bob+news@a.example", NULL, NULL },
        { "\"b+b\"@a.example", "+", NULL },               /* quoted local part */
        { NULL, NULL, NULL },
    };
    char out[ADDR_KEY_MAX + 1];
    (void)state;

    for (size_t i = 0; cases[i].key; i++) {
        int rc = addr_strip_ext(cases[i].key, cases[i].delims, out);
        if (cases[i].want == NULL) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, 1);
            assert_string_equal(out, cases[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allows),
        cmocka_unit_test(test_bad_maps),
        cmocka_unit_test(test_strip_ext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
