/*
 * test_cidr - IPv4/IPv6 network lists (cidr.h): parsing, prefixes, mapped
 * addresses, bracketed milter forms, socket addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "cidr.h"

static void test_add(void **state)
{
    static const struct {
        const char *name, *text;
        int rc;
    } cases[] = {
        { "IPv4 network", "127.0.0.0/8", 0 },
        { "IPv4 host", "10.1.2.3", 0 },
        { "IPv4 /0", "0.0.0.0/0", 0 },
        { "IPv4 /32", "192.0.2.1/32", 0 },
        { "host bits set", "10.1.2.3/8", 0 },
        { "IPv6 network", "2001:db8::/32", 0 },
        { "IPv6 host", "::1", 0 },
        { "IPv6 /128", "::1/128", 0 },
        { "bracketed IPv4", "[192.0.2.1]", 0 },
        { "Sendmail IPv6 form", "[IPv6:2001:db8::1]/64", 0 },
        { "bad: empty", "", -1 },
        { "bad: hostname", "localhost", -1 },
        { "bad: IPv4 prefix 33", "10.0.0.0/33", -1 },
        { "bad: IPv6 prefix 129", "::/129", -1 },
        { "bad: negative prefix", "10.0.0.0/-1", -1 },
        { "bad: empty prefix", "10.0.0.0/", -1 },
        { "bad: prefix with junk", "10.0.0.0/8x", -1 },
        { "bad: two slashes", "10.0.0.0/8/8", -1 },
        { "bad: octet 256", "256.0.0.1", -1 },
        { "bad: short IPv4", "10.1", -1 },
        { "bad: zone id", "fe80::1%eth0", -1 },
        { "bad: spaces", " 10.0.0.1", -1 },
        { "bad: unclosed bracket", "[10.0.0.1", -1 },
        { NULL, NULL, 0 },
    };
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        cidr_list_t *l = cidr_list_new();
        char err[256] = "";
        int rc = cidr_list_add(l, cases[i].text, err, sizeof(err));
        if (rc != cases[i].rc)
            fail_msg("case \"%s\": rc %d (%s)", cases[i].name, rc, err);
        if (rc < 0 && err[0] == '\0')
            fail_msg("case \"%s\": no error message", cases[i].name);
        assert_int_equal(cidr_list_count(l), rc == 0 ? 1 : 0);
        l = cidr_list_free(l);
        assert_null(l);
    }
}

static void test_match(void **state)
{
    static const char *const nets[] = {
        "127.0.0.0/8", "::1/128", "10.1.2.3/8", "192.0.2.77", "2001:db8:aa::/48",
        "172.16.0.0/12", NULL,
    };
    static const struct {
        const char *name, *addr;
        int match;
    } cases[] = {
        { "loopback", "127.0.0.1", 1 },
        { "loopback end", "127.255.255.255", 1 },
        { "IPv6 loopback", "::1", 1 },
        { "IPv4-mapped loopback", "::ffff:127.0.0.1", 1 },
        { "Sendmail IPv6 loopback", "[IPv6:::1]", 1 },
        { "Sendmail IPv6 lower case tag", "[ipv6:::1]", 1 },
        { "Sendmail IPv6 mapped", "[IPv6:::ffff:10.9.9.9]", 1 },
        /* Sendmail's {client_addr} macro: "IPv6:" prefix, no brackets */
        { "Sendmail client_addr IPv6", "IPv6:::1", 1 },
        { "Sendmail client_addr IPv6 outside", "IPv6:2001:db8:ab::1", 0 },
        { "bad: IPv6 tag on IPv4", "IPv6:127.0.0.1", 0 },
        { "bad: IPv6 tag alone", "IPv6:", 0 },
        { "bracketed IPv4", "[127.0.0.1]", 1 },
        { "host bits cleared at add", "10.200.0.1", 1 },
        { "host entry", "192.0.2.77", 1 },
        { "next to host entry", "192.0.2.78", 0 },
        { "/12 inside", "172.31.255.255", 1 },
        { "/12 outside", "172.32.0.0", 0 },
        { "IPv6 /48 inside", "2001:db8:aa:ffff::1", 1 },
        { "IPv6 /48 outside", "2001:db8:ab::1", 0 },
        { "other IPv4", "192.0.2.1", 0 },
        { "other IPv6", "::2", 0 },
        { "IPv4-compatible is not mapped", "::127.0.0.1", 0 },
        { "bad: hostname", "localhost", 0 },
        { "bad: empty", "", 0 },
        { "bad: empty brackets", "[]", 0 },
        { "bad: garbage", "127.0.0.1x", 0 },
        { NULL, NULL, 0 },
    };
    cidr_list_t *l = cidr_list_new();
    char err[128];
    (void)state;

    for (size_t i = 0; nets[i]; i++)
        assert_int_equal(cidr_list_add(l, nets[i], err, sizeof(err)), 0);
    assert_int_equal(cidr_list_count(l), 6);
    for (size_t i = 0; cases[i].name; i++)
        if (cidr_match_str(l, cases[i].addr) != cases[i].match)
            fail_msg("case \"%s\" (%s): want %d", cases[i].name, cases[i].addr, cases[i].match);
    assert_int_equal(cidr_match_str(l, NULL), 0);
    cidr_list_free(l);
}

static void test_empty_and_all(void **state)
{
    cidr_list_t *l = cidr_list_new();
    char err[128];
    (void)state;

    assert_int_equal(cidr_match_str(l, "127.0.0.1"), 0);
    assert_int_equal(cidr_list_add(l, "0.0.0.0/0", err, sizeof(err)), 0);
    assert_int_equal(cidr_match_str(l, "203.0.113.9"), 1);
    assert_int_equal(cidr_match_str(l, "::ffff:203.0.113.9"), 1);
    assert_int_equal(cidr_match_str(l, "2001:db8::1"), 0);  /* IPv4 /0 is not all of IPv6 */
    assert_int_equal(cidr_list_add(l, "::/0", err, sizeof(err)), 0);
    assert_int_equal(cidr_match_str(l, "2001:db8::1"), 1);
    cidr_list_free(l);
    assert_int_equal(cidr_match_str(NULL, "127.0.0.1"), 0);
    assert_int_equal(cidr_list_count(NULL), 0);
}

static void test_sockaddr(void **state)
{
    cidr_list_t *l = cidr_list_new();
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
    char err[128];
    (void)state;

    assert_int_equal(cidr_list_add(l, "127.0.0.0/8", err, sizeof(err)), 0);
    assert_int_equal(cidr_list_add(l, "2001:db8::/32", err, sizeof(err)), 0);

    memset(&in4, 0, sizeof(in4));
    in4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.9", &in4.sin_addr);
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&in4), 1);
    inet_pton(AF_INET, "128.0.0.1", &in4.sin_addr);
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&in4), 0);

    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.1.2.3", &in6.sin6_addr);   /* mapped v4 client */
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&in6), 1);
    inet_pton(AF_INET6, "2001:db8:1::5", &in6.sin6_addr);
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&in6), 1);
    inet_pton(AF_INET6, "2001:db9::5", &in6.sin6_addr);
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&in6), 0);

    /* bad input: a unix socket peer is never trusted by address */
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    assert_int_equal(cidr_match_sa(l, (struct sockaddr *)&un), 0);
    assert_int_equal(cidr_match_sa(l, NULL), 0);
    cidr_list_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_empty_and_all),
        cmocka_unit_test(test_sockaddr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
