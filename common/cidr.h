#ifndef MAILSTATE_CIDR_H
#define MAILSTATE_CIDR_H
/*
 * cidr - IPv4 and IPv6 network lists ("127.0.0.0/8 ::1/128 10.1.2.3").
 *
 * A bare address means a host (/32 or /128).  An IPv4 client seen as an
 * IPv4-mapped IPv6 address (::ffff:127.0.0.1) matches IPv4 networks.
 * Milter macros write IPv6 in several ways ("IPv6:::1" in Sendmail's
 * {client_addr}, "[IPv6:::1]" in address literals, "::1" from Postfix);
 * cidr_match_str() accepts all of them ("IPv6:" marks IPv6 only).
 *
 * A list is an opaque value owned by the caller; cidr_list_free() returns NULL.
 * Matching is read-only and thread-safe.
 */
#include <stddef.h>
#include <sys/socket.h>

typedef struct cidr_list cidr_list_t;

cidr_list_t *cidr_list_new(void);
cidr_list_t *cidr_list_free(cidr_list_t *list);

/* Add one network; returns 0, or -1 with a message in err for bad syntax or prefix. */
int cidr_list_add(cidr_list_t *list, const char *text, char *err, size_t errlen);

size_t cidr_list_count(const cidr_list_t *list);

/* 1 if the textual address is inside one of the networks, 0 if not or unparsable. */
int cidr_match_str(const cidr_list_t *list, const char *addr);

/* Same for a socket address (AF_INET, AF_INET6; anything else is 0). */
int cidr_match_sa(const cidr_list_t *list, const struct sockaddr *sa);

#endif
