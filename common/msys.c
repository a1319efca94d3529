/*
 * msys - the mail system model; see msys.h.
 *
 * Domains are kept normalised (addr_domain_norm) in one array sorted by
 * name, so a lookup is a handful of bsearch() calls: the exact name first,
 * then ".parent" for each parent from the longest to the shortest.  The
 * array is built once at load time (insertion keeps it sorted), then only
 * read, which is what makes the judges thread-safe without locks.
 */
#include "msys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "xmem.h"

struct msys_server {
    char *name;
    char *tracker;
};

struct msys_domain {
    char  *name;        /* normalised; leading '.' = subdomains only */
    size_t server;      /* index into servers */
};

struct msys {
    struct msys_server *servers;
    size_t              n_servers;
    struct msys_domain *domains;   /* sorted by name */
    size_t              n_domains;
    long                this_server;   /* index, -1 if unset */
    cidr_list_t        *trusted;
    cidr_list_t        *peers;         /* set, or derived by msys_derive_peers */
    int                 peers_set;
};

msys_t *msys_new(void)
{
    msys_t *ms = xcalloc(1, sizeof(*ms));
    ms->this_server = -1;
    return ms;
}

msys_t *msys_free(msys_t *ms)
{
    if (ms == NULL)
        return NULL;
    for (size_t i = 0; i < ms->n_servers; i++) {
        free(ms->servers[i].name);
        free(ms->servers[i].tracker);
    }
    for (size_t i = 0; i < ms->n_domains; i++)
        free(ms->domains[i].name);
    free(ms->servers);
    free(ms->domains);
    cidr_list_free(ms->trusted);
    cidr_list_free(ms->peers);
    free(ms);
    return NULL;
}

static long server_index(const msys_t *ms, const char *name)
{
    for (size_t i = 0; i < ms->n_servers; i++)
        if (strcmp(ms->servers[i].name, name) == 0)
            return (long)i;
    return -1;
}

int msys_add_server(msys_t *ms, const char *name, const char *tracker_url,
                    char *err, size_t errlen)
{
    if (name == NULL || name[0] == '\0') {
        snprintf(err, errlen, "empty server name");
        return -1;
    }
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(err, errlen, "server name contains a space or control byte");
            return -1;
        }
    }
    if (server_index(ms, name) >= 0) {
        snprintf(err, errlen, "server %s defined twice", name);
        return -1;
    }
    ms->servers = xrealloc(ms->servers, (ms->n_servers + 1) * sizeof(*ms->servers));
    ms->servers[ms->n_servers].name = xstrdup(name);
    ms->servers[ms->n_servers].tracker =
        (tracker_url && tracker_url[0]) ? xstrdup(tracker_url) : NULL;
    ms->n_servers++;
    return 0;
}

static int domain_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct msys_domain *)elem)->name);
}

static const struct msys_domain *domain_find(const msys_t *ms, const char *norm)
{
    if (ms->n_domains == 0)
        return NULL;
    return bsearch(norm, ms->domains, ms->n_domains, sizeof(*ms->domains), domain_cmp);
}

int msys_add_domain(msys_t *ms, const char *server, const char *domain,
                    char *err, size_t errlen)
{
    char norm[ADDR_DOMAIN_MAX + 2];
    const struct msys_domain *old;
    long si = server_index(ms, server);
    size_t pos;
    int rc;

    if (si < 0) {
        snprintf(err, errlen, "unknown server %s", server);
        return -1;
    }
    if ((rc = addr_domain_norm(domain, norm)) != ADDR_OK) {
        snprintf(err, errlen, "bad domain %s: %s", domain, addr_strerror(rc));
        return -1;
    }
    if (strcmp(norm, ".") == 0 || norm[0] == '[') {
        snprintf(err, errlen, "bad domain %s", domain);
        return -1;
    }
    if ((old = domain_find(ms, norm)) != NULL) {
        if (old->server == (size_t)si)
            snprintf(err, errlen, "domain %s listed twice for server %s", domain, server);
        else
            snprintf(err, errlen, "domain %s is hosted by both %s and %s", domain,
                     ms->servers[old->server].name, server);
        return -1;
    }
    for (pos = 0; pos < ms->n_domains; pos++)
        if (strcmp(norm, ms->domains[pos].name) < 0)
            break;
    ms->domains = xrealloc(ms->domains, (ms->n_domains + 1) * sizeof(*ms->domains));
    memmove(ms->domains + pos + 1, ms->domains + pos,
            (ms->n_domains - pos) * sizeof(*ms->domains));
    ms->domains[pos].name = xstrdup(norm);
    ms->domains[pos].server = (size_t)si;
    ms->n_domains++;
    return 0;
}

int msys_set_this_server(msys_t *ms, const char *name, char *err, size_t errlen)
{
    long si = server_index(ms, name);

    if (si < 0) {
        snprintf(err, errlen, "this_server %s is not a configured server", name);
        return -1;
    }
    ms->this_server = si;
    return 0;
}

void msys_set_trusted(msys_t *ms, cidr_list_t *list)
{
    cidr_list_free(ms->trusted);
    ms->trusted = list;
}

const char *msys_this_server(const msys_t *ms)
{
    return ms->this_server >= 0 ? ms->servers[ms->this_server].name : NULL;
}

size_t msys_server_count(const msys_t *ms)
{
    return ms->n_servers;
}

const char *msys_server_name(const msys_t *ms, size_t i)
{
    return i < ms->n_servers ? ms->servers[i].name : NULL;
}

const char *msys_server_tracker(const msys_t *ms, const char *name)
{
    long si = name ? server_index(ms, name) : -1;
    return si >= 0 ? ms->servers[si].tracker : NULL;
}

/* Already in normal form?  Then skip libidn2 on the hot path. */
static int is_plain_lower(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

const char *msys_domain_server(const msys_t *ms, const char *domain)
{
    char buf[ADDR_DOMAIN_MAX + 2];
    const char *norm = domain;
    const struct msys_domain *d;

    if (domain == NULL || domain[0] == '\0' || domain[0] == '.')
        return NULL;
    if (!is_plain_lower(domain)) {
        if (addr_domain_norm(domain, buf) != ADDR_OK)
            return NULL;
        norm = buf;
    }
    if (strlen(norm) > ADDR_DOMAIN_MAX)
        return NULL;
    if ((d = domain_find(ms, norm)) != NULL)
        return ms->servers[d->server].name;
    /* Parents from the longest (".dept.a.example") to the shortest. */
    for (const char *dot = strchr(norm, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
        if ((d = domain_find(ms, dot)) != NULL)
            return ms->servers[d->server].name;
    }
    return NULL;
}

static const char *key_domain(const char *addr_key)
{
    const char *at;

    if (addr_key == NULL || (at = strrchr(addr_key, '@')) == NULL)
        return NULL;
    return at + 1;
}

enum msys_where msys_judge_recipient(const msys_t *ms, const char *addr_key,
                                     const char **server)
{
    const char *dom = key_domain(addr_key);
    const char *name = dom ? msys_domain_server(ms, dom) : NULL;

    if (server != NULL)
        *server = name;
    if (name == NULL)
        return MSYS_EXTERNAL;
    if (ms->this_server >= 0 && strcmp(name, ms->servers[ms->this_server].name) == 0)
        return MSYS_LOCAL;
    return MSYS_SYSTEM;
}

int msys_client_trusted(const msys_t *ms, const char *client_addr)
{
    if (client_addr == NULL || ms->trusted == NULL)
        return 0;
    return cidr_match_str(ms->trusted, client_addr);
}

void msys_set_peers(msys_t *ms, cidr_list_t *list)
{
    cidr_list_free(ms->peers);
    ms->peers = list;
    ms->peers_set = list != NULL;
}

/*
 * The host of an http(s) URL when it is an IP literal ("10.0.0.2",
 * "[fd00::2]"), copied into buf; 0 if it is a name or the URL is odd.
 */
static int url_ip_host(const char *url, char *buf, size_t len)
{
    const char *p = strstr(url, "://"), *end;
    size_t n;
    char err[64];
    cidr_list_t *probe;
    int ok;

    if (p == NULL)
        return 0;
    p += 3;
    if (*p == '[') {
        end = strchr(++p, ']');
    } else {
        end = p + strcspn(p, ":/?#");
    }
    if (end == NULL || end == p || (n = (size_t)(end - p)) >= len)
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    /* cidr_list_add is the one parser of addresses: a name fails it. */
    probe = cidr_list_new();
    ok = strchr(buf, '/') == NULL && cidr_list_add(probe, buf, err, sizeof(err)) == 0;
    cidr_list_free(probe);
    return ok;
}

void msys_derive_peers(msys_t *ms)
{
    char host[64], err[64];

    /* An empty list (the default) means "derive", like no list at all. */
    if (ms->peers_set && cidr_list_count(ms->peers) > 0)
        return;
    cidr_list_free(ms->peers);
    ms->peers = cidr_list_new();
    for (size_t i = 0; i < ms->n_servers; i++) {
        if ((long)i == ms->this_server || ms->servers[i].tracker == NULL)
            continue;
        if (url_ip_host(ms->servers[i].tracker, host, sizeof(host)))
            (void)cidr_list_add(ms->peers, host, err, sizeof(err));
    }
}

int msys_client_peer(const msys_t *ms, const char *client_addr)
{
    if (client_addr == NULL || ms->peers == NULL)
        return 0;
    return cidr_match_str(ms->peers, client_addr);
}

int msys_sender_in_system(const msys_t *ms, const char *sender_key,
                          int authenticated, const char *client_addr)
{
    const char *dom = key_domain(sender_key);

    if (dom == NULL || msys_domain_server(ms, dom) == NULL)
        return 0;
    return authenticated || msys_client_trusted(ms, client_addr);
}

const char *msys_where_name(enum msys_where w)
{
    switch (w) {
    case MSYS_LOCAL:    return "local";
    case MSYS_SYSTEM:   return "system";
    case MSYS_EXTERNAL: return "external";
    }
    return "external";
}
