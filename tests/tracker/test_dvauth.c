/*
 * test_dvauth - the pure parts of issue 12's login: Dovecot auth-client
 * lines (dvauth_parse, table-driven, with malformed ones), the AUTH line
 * (dvauth_build_auth: PLAIN encoding, refusals), the failure back-off
 * schedule (authslow), the keyed-hash cache (authcache) and sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "api.h"
#include "authcache.h"
#include "authslow.h"
#include "dvauth.h"
#include "me.h"
#include "route.h"
#include "session.h"

static const struct {
    const char   *line;
    int           type;
    unsigned long id;
    const char   *user;
    int           nologin, temp;
} lines[] = {
    { "VERSION\t1\t2",                       DVL_VERSION, 0, "", 0, 0 },
    { "MECH\tPLAIN\tplaintext",              DVL_OTHER, 0, "", 0, 0 },
    { "SPID\t1234",                          DVL_OTHER, 0, "", 0, 0 },
    { "COOKIE\t0123abcd",                    DVL_OTHER, 0, "", 0, 0 },
    { "DONE",                                DVL_DONE, 0, "", 0, 0 },
    { "OK\t7\tuser=alice@a.example",         DVL_OK, 7, "alice@a.example", 0, 0 },
    { "OK\t8\tuser=bob\tnologin\treason=x",  DVL_OK, 8, "bob", 1, 0 },
    { "OK\t9\tuser=a\\tb",                   DVL_OK, 9, "a\tb", 0, 0 },  /* tab-escaped */
    { "FAIL\t7\tuser=alice",                 DVL_FAIL, 7, "alice", 0, 0 },
    { "FAIL\t3\ttemp",                       DVL_FAIL, 3, "", 0, 1 },
    { "CONT\t5\tAAAA",                       DVL_CONT, 5, "", 0, 0 },
    /* bad input: what a broken or hostile socket might send */
    { "",                                    DVL_BAD, 0, "", 0, 0 },
    { "VERSION\tx\t2",                       DVL_BAD, 0, "", 0, 0 },
    { "VERSION",                             DVL_BAD, 0, "", 0, 0 },
    { "OK",                                  DVL_BAD, 0, "", 0, 0 },
    { "OK\tseven\tuser=a",                   DVL_BAD, 0, "", 0, 0 },
    { "OK\t12345678901\tuser=a",             DVL_BAD, 0, "", 0, 0 },   /* id too long */
    { "OK\t1\tuser=a\\",                     DVL_BAD, 0, "", 0, 0 },   /* dangling escape */
    { "OK\t1\tuser=a\x01x",                  DVL_BAD, 0, "", 0, 0 },
    { NULL, 0, 0, NULL, 0, 0 },
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; lines[i].line; i++) {
        struct dvauth_reply r;
        int t = dvauth_parse(lines[i].line, strlen(lines[i].line), &r);
        if (t != lines[i].type || r.type != t)
            fail_msg("\"%s\": type %d, want %d", lines[i].line, t, lines[i].type);
        if (t == DVL_OK || t == DVL_FAIL) {
            assert_int_equal(r.id, lines[i].id);
            assert_string_equal(r.user, lines[i].user);
            assert_int_equal(r.nologin, lines[i].nologin);
            assert_int_equal(r.temp, lines[i].temp);
        }
    }
    /* bad input: a user= longer than any address, a NUL inside the line */
    char big[600] = "OK\t1\tuser=";
    memset(big + strlen(big), 'u', 400);
    big[10 + 400] = '\0';
    struct dvauth_reply r;
    assert_int_equal(dvauth_parse(big, strlen(big), &r), DVL_BAD);
    assert_int_equal(dvauth_parse("OK\t1\0x", 6, &r), DVL_BAD);
}

static void test_build(void **state)
{
    char buf[4096];
    (void)state;
    size_t n = dvauth_build_auth(buf, sizeof buf, 42, "mailstate", "127.0.0.1", 1,
                                 "alice@a.example", "s3cret");
    /* base64("\0alice@a.example\0s3cret") */
    assert_true(n > 0);
    assert_string_equal(buf, "AUTH\t42\tPLAIN\tservice=mailstate\trip=127.0.0.1\tsecured"
                             "\tresp=AGFsaWNlQGEuZXhhbXBsZQBzM2NyZXQ=\n");
    n = dvauth_build_auth(buf, sizeof buf, 1, "mailstate", NULL, 0, "a", "b");
    assert_string_equal(buf, "AUTH\t1\tPLAIN\tservice=mailstate\tresp=AGEAYg==\n");
    /* bad input: empty user/password, a rip with a tab (header injection
     * into the line), an overlong password, a buffer too small */
    assert_int_equal(dvauth_build_auth(buf, sizeof buf, 1, "mailstate", NULL, 0, "", "x"), 0);
    assert_int_equal(dvauth_build_auth(buf, sizeof buf, 1, "mailstate", NULL, 0, "a", ""), 0);
    assert_int_equal(dvauth_build_auth(buf, sizeof buf, 1, "mailstate", "1.2.3.4\tsecured", 0,
                                       "a", "b"), 0);
    char pw[1100];
    memset(pw, 'p', sizeof pw - 1);
    pw[sizeof pw - 1] = '\0';
    assert_int_equal(dvauth_build_auth(buf, sizeof buf, 1, "mailstate", NULL, 0, "a", pw), 0);
    assert_int_equal(dvauth_build_auth(buf, 20, 1, "mailstate", NULL, 0, "a", "b"), 0);
}

static void test_backoff(void **state)
{
    static const struct { unsigned failures, delay; } sched[] = {
        { 0, 0 }, { 1, 0 }, { 2, 0 }, { 3, 5 }, { 4, 10 }, { 5, 20 }, { 6, 40 },
        { 9, 300 }, { 1000, 300 }, { 0, 0 },
    };
    (void)state;
    for (size_t i = 0; i == 0 || sched[i].failures; i++)
        assert_int_equal(authslow_delay_s(sched[i].failures), sched[i].delay);
    uint64_t t = 1764324000000ull;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(authslow_check("192.0.2.1", t), 0);
        authslow_failed("192.0.2.1", t);
    }
    assert_int_equal(authslow_check("192.0.2.1", t + 100), 5);
    assert_int_equal(authslow_check("192.0.2.2", t + 100), 0);     /* another address */
    assert_int_equal(authslow_check("192.0.2.1", t + 5000), 0);    /* waited */
    authslow_failed("192.0.2.1", t + 5000);
    assert_int_equal(authslow_check("192.0.2.1", t + 5001), 10);
    /* forgotten 15 minutes after the last failure */
    assert_int_equal(authslow_check("192.0.2.1", t + 5000 + 901000), 0);
}

static void test_cache(void **state)
{
    char id[DVAUTH_USER_MAX + 1];
    uint64_t t = 1764324000000ull;
    (void)state;
    assert_int_equal(authcache_get("alice", "pw", t, 60, id), 0);
    authcache_put("alice", "pw", t, "alice@a.example");
    assert_int_equal(authcache_get("alice", "pw", t + 1000, 60, id), 1);
    assert_string_equal(id, "alice@a.example");
    /* a wrong password, another user, the "user\0pw" split moved, expiry, ttl 0 */
    assert_int_equal(authcache_get("alice", "pW", t + 1000, 60, id), 0);
    assert_int_equal(authcache_get("alic", "epw", t + 1000, 60, id), 0);
    assert_int_equal(authcache_get("alice", "pw", t + 60000, 60, id), 0);
    assert_int_equal(authcache_get("alice", "pw", t + 1000, 0, id), 0);
}

static void test_session(void **state)
{
    char tok[SESSION_TOKEN_LEN + 1], tok2[SESSION_TOKEN_LEN + 1], user[DVAUTH_USER_MAX + 1];
    uint64_t t = 1764324000000ull;
    (void)state;
    session_new("alice@a.example", t, 3600, tok);
    session_new("bob@a.example", t, 3600, tok2);
    assert_int_equal(strlen(tok), SESSION_TOKEN_LEN);
    assert_string_not_equal(tok, tok2);
    assert_int_equal(session_get(tok, t + 1, user), 0);
    assert_string_equal(user, "alice@a.example");
    assert_int_equal(session_get(tok2, t + 1, user), 0);
    assert_string_equal(user, "bob@a.example");
    assert_int_equal(session_get(tok, t + 3600 * 1000, user), -1);     /* expired */
    session_end(tok2);
    assert_int_equal(session_get(tok2, t + 1, user), -1);
    /* bad input: a token of the wrong length, one altered character */
    assert_int_equal(session_get("short", t, user), -1);
    tok[0] = tok[0] == 'A' ? 'B' : 'A';
    assert_int_equal(session_get(tok, t + 1, user), -1);
}

static const char *no_header(void *cls, const char *name)
{
    (void)cls;
    (void)name;
    return NULL;
}

/* Without [auth] dovecot_socket every user route says so, in JSON. */
static void test_not_configured(void **state)
{
    char *errors = NULL;
    struct conf *c = conf_load_string("[system]\nthis_server = mx1\n", "t.conf",
                                      CONF_NO_KEY, &errors);
    (void)state;
    assert_non_null(c);
    me_register();
    struct api_ctx ctx = { .conf = c, .store = NULL, .ev = NULL };
    static const int routes[] = { ROUTE_ME, ROUTE_ME_SENT, ROUTE_ME_READS, ROUTE_ME_ALL,
                                  ROUTE_SESSION };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct api_req req = { .route = routes[i], .header = no_header, .now_ms = 1 };
        struct api_resp resp = { 0 };
        api_handle(&ctx, &req, &resp);
        assert_int_equal(resp.status, 404);
        assert_non_null(strstr(resp.body, "\"auth_not_configured\""));
        api_resp_clear(&resp);
    }
    conf_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_not_configured),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
