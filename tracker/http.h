#ifndef MAILSTATE_HTTP_H
#define MAILSTATE_HTTP_H
/*
 * http - the tracker's HTTP server on libmicrohttpd.
 *
 * One MHD daemon with an internal epoll thread pool (opts.threads, 0 = the
 * number of cores).  Each request goes: route (route.h) -> limits -> bearer
 * token (auth.h) -> body -> api_handle (api.h).  Routes that write
 * (route_is_write) run on a pool of opts.writers threads (work.h) while the
 * connection is suspended, so a write waiting for its group commit never
 * blocks the polling threads and many writes share one commit.  Every other
 * handler except /healthz and /metrics runs the same way on a pool of
 * opts.queriers threads, so a slow query never holds up the polling threads
 * (nor the writers).  GET /v1/events, whose long poll may wait for many
 * seconds, has a pool of its own (opts.events_waiters threads); a request
 * beyond that many at once is answered 503 with Retry-After at once,
 * rather than queued behind the waiting ones.
 *
 * Limits, all explicit: request line + headers <= max_header bytes (MHD's
 * per-connection memory; MHD itself answers 431/414 beyond it), request
 * target <= max_url (414), body <= max_body (413, answered before the body
 * is read when Content-Length says so, else as soon as it overflows),
 * at most max_connections connections (further ones wait in the backlog),
 * at most max_connections_per_ip from one client address (libmicrohttpd
 * closes further ones at once, so one address cannot take every slot),
 * idle_timeout seconds without progress closes a connection (a client that
 * sends half a request and stalls).
 *
 * Responses are queued on the handler call after the one that announced the
 * request, never the first (libmicrohttpd 0.9.75 closes keep-alive
 * connections otherwise).  Per-request state is freed in the
 * request-completed callback, whatever the outcome.
 *
 * Shutdown: http_quiesce() makes the daemon close every new connection at
 * once and every later answer close its connection (so keep-alive clients
 * let go; idle keep-alive connections are closed by http_stop(), which a
 * client must expect of any HTTP/1.1 server);
 * http_drain() waits until no request is in flight (or timeout_ms passed,
 * returns the number still in flight); http_stop() finishes queued writes
 * (a write whose body completes after that is answered 503), stops the
 * daemon and frees everything (returns NULL).
 */
#include <stddef.h>

#include "api.h"

struct http_opts {
    const char *listen;           /* "HOST:PORT", "[V6]:PORT"; port 0 = any */
    unsigned    threads;          /* MHD pool; 0 = cores */
    unsigned    writers;          /* write pool; 0 = 64 */
    unsigned    queriers;         /* query pool; 0 = 8 */
    size_t      max_body;
    size_t      max_header;
    size_t      max_url;
    unsigned    max_connections;
    unsigned    max_connections_per_ip;   /* 0 = no per-address limit */
    unsigned    idle_timeout;     /* seconds */
    unsigned    events_waiters;   /* GET /v1/events pool (issue 17); 0 = 32 */
};

typedef struct http http_t;

/* 0, or -1 with a message in err.  Takes its own reference on ctx->conf;
 * ctx->store must outlive the server. */
int http_start(const struct http_opts *opts, const struct api_ctx *ctx,
               http_t **out, char *err, size_t errlen);
/*
 * Install a new config for requests that start from now on (tokens,
 * opt-outs, key, limits inside api); requests in progress keep theirs.
 * Takes over the caller's reference.  Listen address, thread counts and
 * the HTTP limits given to http_start() do not change.
 */
void http_set_conf(http_t *h, struct conf *c);
/* The bound TCP port (useful with port 0). */
unsigned http_port(const http_t *h);
void http_quiesce(http_t *h);
unsigned http_drain(http_t *h, unsigned timeout_ms);
http_t *http_stop(http_t *h);

/* Parse "HOST:PORT" / "[V6]:PORT" / "PORT" (numeric only): 0 or -1. */
struct sockaddr_storage;
int http_parse_listen(const char *s, struct sockaddr_storage *ss, size_t *sslen);

#endif
