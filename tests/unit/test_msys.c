/*
 * test_msys - the mail system model (msys.h): domain matching rules,
 * recipient and sender judges, building errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "addr.h"
#include "msys.h"

/*
 * mx1 (this server): a.example, b.example, .dept.a.example, b\xc3\xbc" "cher.example
 * mx2: c.example, .a.example (every other subdomain of a.example),
 *      x.dept.a.example (exact beats mx1's parent match)
 * mx3: .example (catch-all parent, shortest)
 */
static msys_t *build(void)
{
    static const struct { const char *server, *domain; } doms[] = {
        { "mx1", "a.example" }, { "mx1", "B.Example" }, { "mx1", ".dept.a.example" },
        { "mx1", "b\xc3\xbc" "cher.example" },
        { "mx2", "c.example" }, { "mx2", ".a.example" }, { "mx2", "x.dept.a.example" },
        { "mx3", ".example" },
        { NULL, NULL },
    };
    msys_t *ms = msys_new();
    cidr_list_t *trusted = cidr_list_new();
    char err[256];

    assert_int_equal(msys_add_server(ms, "mx1", "http://127.0.0.1:8026", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx2", "http://127.0.0.2:8026", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx3", NULL, err, sizeof(err)), 0);
    for (size_t i = 0; doms[i].server; i++)
        if (msys_add_domain(ms, doms[i].server, doms[i].domain, err, sizeof(err)) != 0)
            fail_msg("add %s: %s", doms[i].domain, err);
    assert_int_equal(msys_set_this_server(ms, "mx1", err, sizeof(err)), 0);
    assert_int_equal(cidr_list_add(trusted, "127.0.0.0/8", err, sizeof(err)), 0);
    assert_int_equal(cidr_list_add(trusted, "::1", err, sizeof(err)), 0);
    msys_set_trusted(ms, trusted);
    return ms;
}

static void test_domain_server(void **state)
{
    static const struct { const char *name, *domain, *server; } cases[] = {
        { "exact", "a.example", "mx1" },
        { "exact, upper case", "A.EXAMPLE", "mx1" },
        { "exact, added in upper case", "b.example", "mx1" },
        { "UTF-8 form of UTF-8 entry", "b\xc3\xbc" "cher.example", "mx1" },
        { "A-label form of UTF-8 entry", "xn--bcher-kva.example", "mx1" },
        { "upper A-label", "XN--BCHER-KVA.EXAMPLE", "mx1" },
        { "upper UTF-8", "B\xc3\x9c" "CHER.EXAMPLE", "mx1" },
        { "parent .dept.a.example", "y.dept.a.example", "mx1" },
        { "deep parent .dept.a.example", "z.y.dept.a.example", "mx1" },
        { "longer parent beats shorter", "q.dept.a.example", "mx1" },
        { "exact beats parent", "x.dept.a.example", "mx2" },
        { "below an exact entry: parent again", "w.x.dept.a.example", "mx1" },
        { "dotted entry is not itself", "dept.a.example", "mx2" },
        { "parent .a.example", "other.a.example", "mx2" },
        { "catch-all parent", "zzz.example", "mx3" },
        { "subdomain of UTF-8 entry via .example", "sub.xn--bcher-kva.example", "mx3" },
        { "bad: the bare TLD is not .example", "example", NULL },
        { "bad: other TLD", "a.test", NULL },
        { "bad: suffix without dot", "xa.test", NULL },
        { "bad: empty", "", NULL },
        { "bad: leading dot lookup", ".a.example", NULL },
        { "bad: invalid UTF-8", "a\xc3.example", NULL },
        { "bad: trailing dot", "a.example.", NULL },
        { NULL, NULL, NULL },
    };
    msys_t *ms = build();
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        const char *got = msys_domain_server(ms, cases[i].domain);
        if ((got == NULL) != (cases[i].server == NULL) ||
            (got && strcmp(got, cases[i].server) != 0))
            fail_msg("case \"%s\": %s, want %s", cases[i].name, got ? got : "NULL",
                     cases[i].server ? cases[i].server : "NULL");
    }
    msys_free(ms);
}

static void test_judge_recipient(void **state)
{
    static const struct { const char *name, *addr; enum msys_where w; const char *server; } cases[] = {
        { "local exact", "<bob@a.example>", MSYS_LOCAL, "mx1" },
        { "local UTF-8", "<bob@B\xc3\xbc" "cher.example>", MSYS_LOCAL, "mx1" },
        { "local parent", "<bob@hr.dept.a.example>", MSYS_LOCAL, "mx1" },
        { "system exact", "<carol@c.example>", MSYS_SYSTEM, "mx2" },
        { "system exact beats local parent", "<d@x.dept.a.example>", MSYS_SYSTEM, "mx2" },
        { "system via catch-all", "<e@f.example>", MSYS_SYSTEM, "mx3" },
        { "external", "<eve@evil.test>", MSYS_EXTERNAL, NULL },
        { "null sender as recipient", "<>", MSYS_EXTERNAL, NULL },
        { NULL, NULL, 0, NULL },
    };
    msys_t *ms = build();
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        struct addr a;
        const char *server = "unset";
        assert_int_equal(addr_parse_str(cases[i].addr, &a), ADDR_OK);
        enum msys_where w = msys_judge_recipient(ms, a.key, &server);
        if (w != cases[i].w)
            fail_msg("case \"%s\": %s", cases[i].name, msys_where_name(w));
        if ((server == NULL) != (cases[i].server == NULL) ||
            (server && strcmp(server, cases[i].server) != 0))
            fail_msg("case \"%s\": server %s", cases[i].name, server ? server : "NULL");
    }
    /* bad input: no '@', NULL, NULL out-pointer */
    assert_int_equal(msys_judge_recipient(ms, "postmaster", NULL), MSYS_EXTERNAL);
    assert_int_equal(msys_judge_recipient(ms, NULL, NULL), MSYS_EXTERNAL);
    assert_int_equal(msys_judge_recipient(ms, "bob@a.example", NULL), MSYS_LOCAL);
    msys_free(ms);
}

static void test_judge_sender(void **state)
{
    static const struct {
        const char *name, *sender;
        int auth;
        const char *client;
        int in;
    } cases[] = {
        { "authenticated from anywhere", "alice@a.example", 1, "203.0.113.5", 1 },
        { "trusted network, no auth", "alice@a.example", 0, "127.0.0.1", 1 },
        { "trusted IPv6", "alice@c.example", 0, "::1", 1 },
        { "trusted Sendmail IPv6 form", "alice@c.example", 0, "[IPv6:::1]", 1 },
        { "trusted mapped IPv4", "alice@a.example", 0, "::ffff:127.0.0.2", 1 },
        { "spoof: internal sender from outside", "alice@a.example", 0, "203.0.113.5", 0 },
        { "spoof: unknown client address", "alice@a.example", 0, NULL, 0 },
        { "external sender, authenticated", "eve@evil.test", 1, "127.0.0.1", 0 },
        { "null sender, trusted", "", 1, "127.0.0.1", 0 },
        { "bad: no at sign", "alice", 1, "127.0.0.1", 0 },
        { NULL, NULL, 0, NULL, 0 },
    };
    msys_t *ms = build();
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        int in = msys_sender_in_system(ms, cases[i].sender, cases[i].auth, cases[i].client);
        if (in != cases[i].in)
            fail_msg("case \"%s\": %d", cases[i].name, in);
    }
    assert_int_equal(msys_sender_in_system(ms, NULL, 1, "127.0.0.1"), 0);
    assert_int_equal(msys_client_trusted(ms, "127.9.9.9"), 1);
    assert_int_equal(msys_client_trusted(ms, "10.0.0.1"), 0);
    assert_int_equal(msys_client_trusted(ms, NULL), 0);
    msys_free(ms);
}

static void test_build_errors(void **state)
{
    msys_t *ms = msys_new();
    char err[256];
    (void)state;

    assert_int_equal(msys_add_server(ms, "mx1", NULL, err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx2", "http://x", err, sizeof(err)), 0);
    /* bad input: a server defined twice */
    assert_int_equal(msys_add_server(ms, "mx1", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    /* bad input: empty name, name with a space */
    assert_int_equal(msys_add_server(ms, "", NULL, err, sizeof(err)), -1);
    assert_int_equal(msys_add_server(ms, "m x", NULL, err, sizeof(err)), -1);
    assert_int_equal(msys_add_domain(ms, "mx1", "a.example", err, sizeof(err)), 0);
    /* bad input: one domain in two servers, also in another spelling */
    assert_int_equal(msys_add_domain(ms, "mx2", "A.Example", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "both mx1 and mx2"));
    assert_int_equal(msys_add_domain(ms, "mx1", "b\xc3\xbc" "cher.example", err, sizeof(err)), 0);
    assert_int_equal(msys_add_domain(ms, "mx2", "xn--bcher-kva.example", err, sizeof(err)), -1);
    /* bad input: same domain twice in one server */
    assert_int_equal(msys_add_domain(ms, "mx1", "a.example", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    /* a parent entry and the exact name are different entries */
    assert_int_equal(msys_add_domain(ms, "mx2", ".a.example", err, sizeof(err)), 0);
    /* bad input: unknown server, bad domains */
    assert_int_equal(msys_add_domain(ms, "mx9", "z.example", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown server"));
    assert_int_equal(msys_add_domain(ms, "mx1", "a..example", err, sizeof(err)), -1);
    assert_int_equal(msys_add_domain(ms, "mx1", ".", err, sizeof(err)), -1);
    assert_int_equal(msys_add_domain(ms, "mx1", "", err, sizeof(err)), -1);
    assert_int_equal(msys_add_domain(ms, "mx1", "a\nb.example", err, sizeof(err)), -1);
    assert_int_equal(msys_add_domain(ms, "mx1", "[127.0.0.1]", err, sizeof(err)), -1);
    /* bad input: this_server naming no server */
    assert_null(msys_this_server(ms));
    assert_int_equal(msys_set_this_server(ms, "mx9", err, sizeof(err)), -1);
    assert_int_equal(msys_set_this_server(ms, "mx2", err, sizeof(err)), 0);
    assert_string_equal(msys_this_server(ms), "mx2");

    assert_int_equal(msys_server_count(ms), 2);
    assert_string_equal(msys_server_name(ms, 0), "mx1");
    assert_string_equal(msys_server_name(ms, 1), "mx2");
    assert_null(msys_server_name(ms, 2));
    assert_null(msys_server_tracker(ms, "mx1"));
    assert_string_equal(msys_server_tracker(ms, "mx2"), "http://x");
    assert_null(msys_server_tracker(ms, "mx9"));
    /* no trusted list set: nobody is trusted */
    assert_int_equal(msys_client_trusted(ms, "127.0.0.1"), 0);
    assert_null(msys_free(ms));
}

/* Without this_server every hosted domain is "system", none "local". */
static void test_no_this_server(void **state)
{
    msys_t *ms = msys_new();
    char err[128];
    const char *server;
    (void)state;
    assert_int_equal(msys_add_server(ms, "mx1", NULL, err, sizeof(err)), 0);
    assert_int_equal(msys_add_domain(ms, "mx1", "a.example", err, sizeof(err)), 0);
    assert_int_equal(msys_judge_recipient(ms, "bob@a.example", &server), MSYS_SYSTEM);
    assert_string_equal(server, "mx1");
    msys_free(ms);
}

/*
 * Peers (issue 14 item 5): derived from the other servers' tracker URLs when
 * they are IP literals; this server, host names and odd URLs give none; an
 * explicit list replaces the derivation.
 */
static void test_peers(void **state)
{
    msys_t *ms = msys_new();
    char err[128];
    (void)state;
    assert_int_equal(msys_add_server(ms, "mx1", "http://10.0.0.1:8026", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx2", "http://10.0.0.2:8026/", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx3", "https://[fd00::3]:8026", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx4", "http://mx4.example:8026", err, sizeof(err)), 0);
    assert_int_equal(msys_add_server(ms, "mx5", "http://10.0.0.5/24", err, sizeof(err)), 0);
    assert_int_equal(msys_set_this_server(ms, "mx1", err, sizeof(err)), 0);
    msys_derive_peers(ms);
    assert_int_equal(msys_client_peer(ms, "10.0.0.2"), 1);
    assert_int_equal(msys_client_peer(ms, "fd00::3"), 1);
    assert_int_equal(msys_client_peer(ms, "10.0.0.1"), 0);   /* this server */
    assert_int_equal(msys_client_peer(ms, "10.0.0.5"), 1);   /* "/24" is the URL's path */
    assert_int_equal(msys_client_peer(ms, "10.0.0.4"), 0);
    assert_int_equal(msys_client_peer(ms, NULL), 0);
    /* a trusted client is not a peer */
    cidr_list_t *t = cidr_list_new();
    assert_int_equal(cidr_list_add(t, "127.0.0.0/8", err, sizeof(err)), 0);
    msys_set_trusted(ms, t);
    assert_int_equal(msys_client_peer(ms, "127.0.0.1"), 0);
    /* an explicit list wins over the derivation */
    cidr_list_t *p = cidr_list_new();
    assert_int_equal(cidr_list_add(p, "192.0.2.0/24", err, sizeof(err)), 0);
    msys_set_peers(ms, p);
    msys_derive_peers(ms);
    assert_int_equal(msys_client_peer(ms, "192.0.2.9"), 1);
    assert_int_equal(msys_client_peer(ms, "10.0.0.2"), 0);
    msys_free(ms);
}

static void test_where_name(void **state)
{
    (void)state;
    assert_string_equal(msys_where_name(MSYS_LOCAL), "local");
    assert_string_equal(msys_where_name(MSYS_SYSTEM), "system");
    assert_string_equal(msys_where_name(MSYS_EXTERNAL), "external");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_server),
        cmocka_unit_test(test_judge_recipient),
        cmocka_unit_test(test_judge_sender),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_no_this_server),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_where_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
