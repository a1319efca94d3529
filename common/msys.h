#ifndef MAILSTATE_MSYS_H
#define MAILSTATE_MSYS_H
/*
 * msys - the mail system of design §3: its servers, the domains each one
 * hosts, which of them is this host, and the trusted networks.
 *
 * Build with msys_new() and the msys_add_*() calls (conf does this from the
 * config file; tests do it directly), then treat it as immutable: the judge
 * functions are read-only and safe from any number of threads.
 *
 * Domains: case-insensitive; UTF-8 and A-label forms match each other
 * (normalised with addr_domain_norm).  A domain with a leading dot
 * (".dept.a.example") matches every subdomain of it but not itself.  Exact
 * matches win over parent-domain matches, and a longer parent match wins over
 * a shorter one (".dept.a.example" beats ".a.example").  A domain may belong
 * to one server only (msys_add_domain refuses a duplicate).
 *
 * Judging a recipient: MSYS_LOCAL (hosted by this server), MSYS_SYSTEM (by
 * another server of the system; *server names it) or MSYS_EXTERNAL.
 *
 * Judging a sender: in the system only if its domain is hosted by some server
 * of the system AND (the client authenticated OR the client address is in
 * the trusted networks).  The null sender is never in the system.
 *
 * Peers (design §11, issue 14): an X-Mail-Id is kept only from a client in
 * the peer networks - the other servers of the system relaying mail.  When
 * no peer list was set, it is derived: the IP-literal hosts of the other
 * servers' tracker URLs (a host name is not resolved: a config must not
 * depend on DNS; list such peers explicitly).  Trusted networks (local
 * submission, webmail) are not peers: they may not hand in a copied id.
 */
#include <stddef.h>

#include "cidr.h"

typedef struct msys msys_t;

enum msys_where {
    MSYS_EXTERNAL = 0,
    MSYS_LOCAL    = 1,
    MSYS_SYSTEM   = 2,
};

msys_t *msys_new(void);
msys_t *msys_free(msys_t *ms);

/* Each returns 0, or -1 with a reason in err (duplicate, bad domain, ...). */
int msys_add_server(msys_t *ms, const char *name, const char *tracker_url,
                    char *err, size_t errlen);
int msys_add_domain(msys_t *ms, const char *server, const char *domain,
                    char *err, size_t errlen);
int msys_set_this_server(msys_t *ms, const char *name, char *err, size_t errlen);
/* Takes ownership of list (freed by msys_free). */
void msys_set_trusted(msys_t *ms, cidr_list_t *list);
/* Takes ownership of list; NULL = derive from the servers (see above). */
void msys_set_peers(msys_t *ms, cidr_list_t *list);
/* When no list was set: derive it.  Call once the servers and this_server
 * are in (conf does, at the end of a load). */
void msys_derive_peers(msys_t *ms);

const char *msys_this_server(const msys_t *ms);
size_t msys_server_count(const msys_t *ms);
/* i-th server's name and tracker URL (NULL if none configured); i < count. */
const char *msys_server_name(const msys_t *ms, size_t i);
const char *msys_server_tracker(const msys_t *ms, const char *name);

/*
 * Which server hosts this domain (normalised or not)?  Returns its name
 * (owned by ms) or NULL when the domain is outside the system.
 */
const char *msys_domain_server(const msys_t *ms, const char *domain);

/* addr_key: an address in addr normal form (struct addr.key). */
enum msys_where msys_judge_recipient(const msys_t *ms, const char *addr_key,
                                     const char **server);

/* client_addr may be NULL (unknown: not trusted). */
int msys_client_trusted(const msys_t *ms, const char *client_addr);
/* 1 if client_addr is a peer server of the system (may relay kept ids). */
int msys_client_peer(const msys_t *ms, const char *client_addr);
int msys_sender_in_system(const msys_t *ms, const char *sender_key,
                          int authenticated, const char *client_addr);

const char *msys_where_name(enum msys_where w);   /* "local", "system", "external" */

#endif
