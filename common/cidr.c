/*
 * cidr - IPv4/IPv6 network lists; see cidr.h.
 *
 * Every network is stored as 16 bytes plus a prefix length: IPv4 networks as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so one comparison serves
 * both families and a mapped client address matches IPv4 networks for free.
 * Lists are short (a handful of trusted networks), so matching is a linear
 * scan.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

struct cidr_net {
    unsigned char addr[16];
    unsigned      prefix;      /* 0..128 in the mapped space */
};

struct cidr_list {
    struct cidr_net *nets;
    size_t           n, cap;
};

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

cidr_list_t *cidr_list_new(void)
{
    return xcalloc(1, sizeof(cidr_list_t));
}

cidr_list_t *cidr_list_free(cidr_list_t *list)
{
    if (list != NULL) {
        free(list->nets);
        free(list);
    }
    return NULL;
}

size_t cidr_list_count(const cidr_list_t *list)
{
    return list ? list->n : 0;
}

/*
 * Parse an address in any accepted form ("1.2.3.4", "::1", "[1.2.3.4]",
 * "[IPv6:::1]", "[::1]", and Sendmail's macro form "IPv6:::1") into 16
 * bytes; returns 4 or 6 for the family written, 0 if unparsable.
 */
static int parse_addr(const char *text, size_t len, unsigned char out[16])
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *p = text;
    int tagged = 0;

    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        p++;
        len -= 2;
    }
    if (len >= 5 && strncasecmp(p, "IPv6:", 5) == 0) {
        p += 5;
        len -= 5;
        tagged = 1;
    }
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (!tagged && inet_pton(AF_INET, buf, out + 12) == 1) {
        memcpy(out, v4mapped, 12);
        return 4;
    }
    if (inet_pton(AF_INET6, buf, out) == 1)
        return 6;
    return 0;
}

static int net_contains(const struct cidr_net *net, const unsigned char a[16])
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;

    if (memcmp(net->addr, a, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((net->addr[full] ^ a[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

int cidr_list_add(cidr_list_t *list, const char *text, char *err, size_t errlen)
{
    struct cidr_net net;
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    int fam = parse_addr(text, alen, net.addr);
    unsigned max;

    if (fam == 0) {
        snprintf(err, errlen, "not an IPv4 or IPv6 address: %.*s", (int)alen, text);
        return -1;
    }
    max = fam == 4 ? 32 : 128;
    if (slash == NULL) {
        net.prefix = max;
    } else {
        char *end;
        unsigned long v;
        if (slash[1] < '0' || slash[1] > '9') {
            snprintf(err, errlen, "bad prefix length in %s", text);
            return -1;
        }
        v = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || v > max) {
            snprintf(err, errlen, "bad prefix length in %s (0..%u)", text, max);
            return -1;
        }
        net.prefix = (unsigned)v;
    }
    if (fam == 4)
        net.prefix += 96;
    /* Clear host bits so "10.1.2.3/8" means 10.0.0.0/8 (as Postfix does). */
    for (unsigned i = net.prefix; i < 128; i++)
        net.addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 4;
        list->nets = xrealloc(list->nets, list->cap * sizeof(*list->nets));
    }
    list->nets[list->n++] = net;
    return 0;
}

static int match_bytes(const cidr_list_t *list, const unsigned char a[16])
{
    for (size_t i = 0; i < list->n; i++)
        if (net_contains(&list->nets[i], a))
            return 1;
    return 0;
}

int cidr_match_str(const cidr_list_t *list, const char *addr)
{
    unsigned char a[16];

    if (list == NULL || addr == NULL || parse_addr(addr, strlen(addr), a) == 0)
        return 0;
    return match_bytes(list, a);
}

int cidr_match_sa(const cidr_list_t *list, const struct sockaddr *sa)
{
    unsigned char a[16];

    if (list == NULL || sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(a, v4mapped, 12);
        memcpy(a + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(a, &in6->sin6_addr, 16);
    } else {
        return 0;
    }
    return match_bytes(list, a);
}
