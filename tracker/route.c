/*
 * route - the tracker's fixed route table (see route.h).
 */
#include "route.h"

#include <string.h>

struct route_def {
    int         id;
    const char *method;
    const char *path;      /* exact path, or prefix when prefix = 1 */
    int         prefix;    /* path + one non-empty segment without '/' */
    int         write;
};

static const struct route_def route_table[] = {
    { ROUTE_HEALTHZ, "GET",  "/healthz",    0, 0 },
    { ROUTE_METRICS, "GET",  "/metrics",    0, 0 },
    { ROUTE_READS,   "POST", "/v1/reads",   0, 1 },
    { ROUTE_MAILS,   "GET",  "/v1/mails",   0, 0 },
    { ROUTE_MAIL,    "GET",  "/v1/mails/",  1, 0 },
    { ROUTE_SYNC,    "POST", "/v1/sync",    0, 1 },
    /* issue 12: "write" = run off the polling threads (Dovecot auth blocks) */
    { ROUTE_ME,          "GET",    "/v1/me",        0, 1 },
    { ROUTE_ME_SENT,     "GET",    "/v1/me/sent",   0, 1 },
    { ROUTE_ME_SENT_ONE, "GET",    "/v1/me/sent/",  1, 1 },
    { ROUTE_ME_READS,    "GET",    "/v1/me/reads",  0, 1 },
    { ROUTE_ME_ALL,      "GET",    "/v1/me/all",    0, 1 },
    { ROUTE_SESSION,     "POST",   "/v1/session",   0, 1 },
    { ROUTE_SESSION_END, "DELETE", "/v1/session",   0, 1 },
    { ROUTE_WWW_INDEX,   "GET",    "/",             0, 0 },
    { ROUTE_WWW,         "GET",    "/www/",         1, 0 },
    { ROUTE_EVENTS,      "GET",    "/v1/events",    0, 0 },    /* issue 17 */
    /* issue 16 */
    { ROUTE_ERASE,       "POST",   "/v1/erase",     0, 1 },
    { 0, NULL, NULL, 0, 0 }
};

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_NONE]    = "other",
    [ROUTE_HEALTHZ] = "healthz",
    [ROUTE_METRICS] = "metrics",
    [ROUTE_READS]   = "reads",
    [ROUTE_MAIL]    = "mail",
    [ROUTE_MAILS]   = "mails",
    [ROUTE_SYNC]    = "sync",
    [ROUTE_ME]          = "me",
    [ROUTE_ME_SENT]     = "me_sent",
    [ROUTE_ME_SENT_ONE] = "me_sent_one",
    [ROUTE_ME_READS]    = "me_reads",
    [ROUTE_ME_ALL]      = "me_all",
    [ROUTE_SESSION]     = "session",
    [ROUTE_SESSION_END] = "session_end",
    [ROUTE_WWW_INDEX]   = "www",
    [ROUTE_WWW]         = "www",
    [ROUTE_EVENTS]      = "events",
    [ROUTE_ERASE]       = "erase",
};

/* Does path match d?  Sets the parameter of prefix routes. */
static int route_path_matches(const struct route_def *d, const char *path,
                              const char **arg, size_t *arg_len)
{
    size_t n = strlen(d->path);

    if (!d->prefix)
        return strcmp(path, d->path) == 0;
    if (strncmp(path, d->path, n) != 0)
        return 0;
    const char *rest = path + n;
    size_t len = strlen(rest);
    if (len == 0 || memchr(rest, '/', len) != NULL)
        return 0;
    *arg = rest;
    *arg_len = len;
    return 1;
}

int route_match(const char *method, const char *path, const char **arg,
                size_t *arg_len, const char **allow)
{
    const char *a = NULL;
    size_t alen = 0;
    int path_known = 0;

    *arg = NULL;
    *arg_len = 0;
    *allow = NULL;
    if (method == NULL || path == NULL)
        return ROUTE_ENOTFOUND;
    for (const struct route_def *d = route_table; d->method != NULL; d++) {
        if (!route_path_matches(d, path, &a, &alen))
            continue;
        /* A path may appear once per method (/v1/session: POST, DELETE). */
        if (strcmp(method, d->method) == 0) {
            *arg = a;
            *arg_len = alen;
            return d->id;
        }
        path_known = 1;
        *allow = d->id == ROUTE_SESSION || d->id == ROUTE_SESSION_END ? "POST, DELETE"
                                                                       : d->method;
    }
    return path_known ? ROUTE_ENOMETHOD : ROUTE_ENOTFOUND;
}

const char *route_name(int route)
{
    if (route <= ROUTE_NONE || route >= ROUTE_COUNT)
        return route_names[ROUTE_NONE];
    return route_names[route];
}

int route_is_write(int route)
{
    for (const struct route_def *d = route_table; d->method != NULL; d++)
        if (d->id == route)
            return d->write;
    return 0;
}
