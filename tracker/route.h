#ifndef MAILSTATE_ROUTE_H
#define MAILSTATE_ROUTE_H
/*
 * route - map an HTTP method and path to one of the tracker's routes.
 *
 * Pure: no allocation, no global state, thread-safe.  route_match() returns
 * a ROUTE_* value (never ROUTE_NONE) on a match, and fills *arg with the
 * path parameter of routes that have one (the {id} of /v1/mails/{id}; a
 * pointer into path, arg_len bytes; not decoded, not validated).  When the
 * path is known but the method is not allowed it returns ROUTE_ENOMETHOD and
 * *allow names the allowed methods ("GET", "POST") for the Allow header;
 * an unknown path gives ROUTE_ENOTFOUND.
 *
 * The route table is fixed at compile time.  A route whose handler is not
 * registered (api_register) still matches here; api answers it with 404.
 * Paths match exactly (no trailing slash, no "//", no dot segments).
 */
#include <stddef.h>

enum route_id {
    ROUTE_ENOTFOUND = -1,
    ROUTE_ENOMETHOD = -2,
    ROUTE_NONE      = 0,   /* unmatched (metrics label "other") */
    ROUTE_HEALTHZ,         /* GET  /healthz */
    ROUTE_METRICS,         /* GET  /metrics */
    ROUTE_READS,           /* POST /v1/reads */
    ROUTE_MAIL,            /* GET  /v1/mails/{id} */
    ROUTE_MAILS,           /* GET  /v1/mails */
    ROUTE_SYNC,            /* POST /v1/sync (the sync module registers it) */
    /* issue 12: users with their mail password (me.h registers these) */
    ROUTE_ME,              /* GET    /v1/me */
    ROUTE_ME_SENT,         /* GET    /v1/me/sent */
    ROUTE_ME_SENT_ONE,     /* GET    /v1/me/sent/{id} */
    ROUTE_ME_READS,        /* GET    /v1/me/reads */
    ROUTE_ME_ALL,          /* GET    /v1/me/all (admins: the whole log) */
    ROUTE_SESSION,         /* POST   /v1/session */
    ROUTE_SESSION_END,     /* DELETE /v1/session */
    ROUTE_WWW_INDEX,       /* GET    / */
    ROUTE_WWW,             /* GET    /www/{file} */
    ROUTE_EVENTS,          /* GET    /v1/events (issue 17, feed.h registers it) */
    /* issue 16: erasures told to the peers (peer.c registers it) */
    ROUTE_ERASE,           /* POST   /v1/erase */
    ROUTE_COUNT
};

int route_match(const char *method, const char *path, const char **arg,
                size_t *arg_len, const char **allow);

/* Short name of a route for logs and metrics labels ("reads", "other"). */
const char *route_name(int route);

/* 1 if the route writes (its handler may block on a durable commit), or
 * may block otherwise (the user routes ask Dovecot's auth socket).
 * ROUTE_EVENTS is neither: its long poll runs on a pool of its own. */
int route_is_write(int route);

#endif
