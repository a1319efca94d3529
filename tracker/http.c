/*
 * http - libmicrohttpd glue (see http.h).
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "reclog.h"
#include "route.h"
#include "work.h"
#include "xmem.h"

#define HTTP_MAX_ARGS   32
#define HTTP_WRITERS    64
#define HTTP_QUERIERS   8
#define HTTP_EVENT_WAITERS 32
#define HTTP_BACKLOG    1024

struct http {
    struct MHD_Daemon *mhd;
    work_t            *work;
    work_t            *queries;      /* read-only handlers (lists, lookups) */
    work_t            *events;       /* GET /v1/events long polls (issue 17) */
    _Atomic unsigned   events_busy;  /* of h->opts.events_waiters */
    struct api_ctx     ctx;          /* ctx.conf: the current config (one ref) */
    pthread_mutex_t    conf_lock;    /* guards ctx.conf between swap and ref */
    struct http_opts   opts;
    unsigned           port;
    _Atomic long       in_flight;
    _Atomic long       log_waiting;  /* suspended until their read's record is synced */
    _Atomic int        draining;     /* after http_quiesce: close after each answer */
    pthread_mutex_t    work_lock;    /* orders work_submit against http_stop */
    _Atomic int        work_closed;  /* set under work_lock: no more jobs or writes (503) */
};

enum http_state {
    HTTP_NEW = 0,     /* announced by the URI callback, handler not yet called */
    HTTP_BODY,        /* headers seen, collecting the body */
    HTTP_WAIT,        /* suspended while the write pool runs the handler */
    HTTP_READY,       /* resp is filled in, queue it on this call */
    HTTP_SENT,
};

struct http_req {
    http_t               *h;
    struct MHD_Connection *conn;
    enum http_state       state;
    int                   counted;      /* in h->in_flight */
    uint64_t              start_us;
    size_t                uri_len;      /* request target incl. query */
    int                   route;
    char                 *body;
    size_t                body_len, body_cap;
    struct api_arg        args[HTTP_MAX_ARGS];
    size_t                n_args;
    int                   too_many_args;
    int                   scope_error;  /* 403: the token lacks the route's scope */
    struct api_ctx        ctx;          /* config snapshot (own ref) + store */
    struct api_req        areq;
    struct api_resp       resp;         /* set when an answer is decided */
    struct evlog_waiter   waiter;       /* POST /v1/reads: its record's sync */
    unsigned              code;         /* status sent (metrics) */
    char                  client_addr[INET6_ADDRSTRLEN + 1];
};

static uint64_t http_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t http_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the request object ---------------------------------------------------- */

/*
 * Called by MHD once per request with the raw target, before anything else;
 * what it returns becomes the request's context, so every request (also
 * those MHD rejects itself) reaches http_completed() and is freed there.
 */
static void *http_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *r = xcalloc(1, sizeof *r);

    r->h = cls;
    r->conn = conn;
    /* The config this request sees from start to end, even across a reload. */
    pthread_mutex_lock(&r->h->conf_lock);
    r->ctx.conf = conf_ref(r->h->ctx.conf);
    pthread_mutex_unlock(&r->h->conf_lock);
    r->ctx.store = r->h->ctx.store;
    r->ctx.ev = r->h->ctx.ev;
    r->start_us = http_now_us();
    r->uri_len = uri ? strlen(uri) : 0;
    return r;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    http_t *h = cls;
    struct http_req *r = *con_cls;

    (void)conn;
    if (r == NULL)
        return;
    if (r->state != HTTP_NEW || r->code != 0) {
        uint64_t us = http_now_us() - r->start_us;
        metrics_request(r->route, r->code, us);
        log_debug("http: %s answered %u in %llu.%03llu ms (token %s)", route_name(r->route),
                  r->code, (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
                  r->areq.token ? r->areq.token->name : "none");
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("http: request on route %s ended early (%d)", route_name(r->route),
                  (int)toe);
    if (r->counted) {
        atomic_fetch_sub(&h->in_flight, 1);
        metrics_in_flight(-1);
    }
    api_resp_clear(&r->resp);
    conf_unref(r->ctx.conf);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- responses ----------------------------------------------------------- */

/* Queue r->resp; the body is handed to MHD (freed by it with free()). */
static enum MHD_Result http_queue(struct http_req *r, struct MHD_Connection *conn)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (r->route == ROUTE_READS)        /* the story line: recorded or refused */
        reclog_read(r->areq.token, r->body, r->body_len, &r->resp);
    mr = MHD_create_response_from_buffer(r->resp.body_len,
                                         r->resp.body ? r->resp.body : (void *)"",
                                         r->resp.body ? MHD_RESPMEM_MUST_FREE
                                                      : MHD_RESPMEM_PERSISTENT);
    if (mr == NULL) {
        log_error("http: cannot create a response");
        return MHD_NO;
    }
    r->resp.body = NULL;               /* owned by MHD now */
    r->resp.body_len = 0;
    if (r->resp.content_type != NULL)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp.content_type);
    if (r->resp.allow != NULL)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->resp.allow);
    int own_auth = 0;
    for (size_t i = 0; i < r->resp.n_hdrs; i++) {
        MHD_add_response_header(mr, r->resp.hdrs[i].name, r->resp.hdrs[i].value);
        own_auth |= strcmp(r->resp.hdrs[i].name, MHD_HTTP_HEADER_WWW_AUTHENTICATE) == 0;
    }
    /* The web page (issue 12): no inline script, no framing, no sniffing. */
    MHD_add_response_header(mr, "Content-Security-Policy",
                            "default-src 'self'; frame-ancestors 'none'");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    if (r->resp.status == 401 && !own_auth)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"mailstate\"");
    else if (r->scope_error)    /* RFC 6750 3.1; tells it apart from 403 bad_mac */
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"mailstate\", error=\"insufficient_scope\"");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* Shutting down: keep-alive clients must not keep the drain waiting. */
    if (atomic_load_explicit(&r->h->draining, memory_order_relaxed))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(conn, r->resp.status, mr);
    MHD_destroy_response(mr);
    r->code = r->resp.status;
    r->state = HTTP_SENT;
    return ret;
}

/* Accept policy: nothing new once draining (see http_quiesce). */
static enum MHD_Result http_accept_cb(void *cls, const struct sockaddr *addr,
                                      socklen_t addrlen)
{
    http_t *h = cls;

    (void)addr;
    (void)addrlen;
    return atomic_load_explicit(&h->draining, memory_order_relaxed) ? MHD_NO : MHD_YES;
}

/* ---- the handler ----------------------------------------------------------- */

static enum MHD_Result http_arg_cb(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    struct http_req *r = cls;

    (void)kind;
    if (r->n_args == HTTP_MAX_ARGS) {
        r->too_many_args = 1;
        return MHD_NO;
    }
    r->args[r->n_args].key = key;
    r->args[r->n_args].value = value;
    r->n_args++;
    return MHD_YES;
}

static const char *http_header_cb(void *cls, const char *name)
{
    struct http_req *r = cls;

    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/*
 * First call: route, limits, token.  Any refusal is stored in r->resp and
 * sent once the request is complete (so keep-alive survives), except an
 * announced oversize body, which is answered at once without reading it.
 */
static enum MHD_Result http_begin(http_t *h, struct http_req *r,
                                  struct MHD_Connection *conn, const char *url,
                                  const char *method)
{
    const char *arg, *allow, *cl;
    size_t arg_len;
    int rc;

    r->state = HTTP_BODY;
    r->counted = 1;
    atomic_fetch_add(&h->in_flight, 1);
    metrics_in_flight(1);

    rc = route_match(method, url, &arg, &arg_len, &allow);
    r->route = rc > 0 ? rc : ROUTE_NONE;
    if (r->uri_len > h->opts.max_url) {
        api_error(&r->resp, 414, "uri_too_long", "the request target exceeds %zu bytes",
                  h->opts.max_url);
        return MHD_YES;
    }
    if (rc == ROUTE_ENOTFOUND) {
        api_error(&r->resp, 404, "not_found", "no such resource");
        return MHD_YES;
    }
    if (rc == ROUTE_ENOMETHOD) {
        api_error(&r->resp, 405, "method_not_allowed", "use %s", allow);
        r->resp.allow = allow;
        return MHD_YES;
    }

    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || n > h->opts.max_body) {
            api_error(&r->resp, 413, "body_too_large", "the body exceeds %zu bytes",
                      h->opts.max_body);
            return http_queue(r, conn);
        }
    }

    rc = auth_check(r->ctx.conf,
                    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION),
                    auth_route_scopes(r->route), &r->areq.token);
    if (auth_route_scopes(r->route) != 0 && rc != AUTH_OK) {
        if (rc == AUTH_ESCOPE) {
            api_error(&r->resp, 403, "forbidden", "the token lacks the scope for this route");
            r->scope_error = 1;
        }
        else if (rc == AUTH_EBAD)
            api_error(&r->resp, 401, "unauthorized", "unknown token");
        else
            api_error(&r->resp, 401, "unauthorized", "a bearer token is required");
        return MHD_YES;
    }

    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, http_arg_cb, r);
    if (r->too_many_args) {
        api_error(&r->resp, 400, "bad_query", "more than %d query parameters", HTTP_MAX_ARGS);
        return MHD_YES;
    }
    r->areq.route = r->route;
    r->areq.arg = arg;
    r->areq.arg_len = arg_len;
    r->areq.args = r->args;
    r->areq.n_args = r->n_args;
    r->areq.header = http_header_cb;
    r->areq.header_cls = r;
    r->areq.method = method;
    {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      r->client_addr, sizeof r->client_addr);
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      r->client_addr, sizeof r->client_addr);
        r->areq.client_addr = r->client_addr;
    }
    return MHD_YES;
}

/* Append upload data; 0, or -1 when it overflows max_body. */
static int http_take_body(http_t *h, struct http_req *r, const char *data, size_t n)
{
    if (n > h->opts.max_body - r->body_len)
        return -1;
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        r->body = xrealloc(r->body, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/*
 * Which requests leave the polling threads: writes that block on a commit
 * (syncs, erasures, sessions) on the write pool, and the handlers that may
 * take long (a list walks up to max_scan mails, the /v1/me routes ask
 * Dovecot) on the query pool, so they never hold up the epoll threads that
 * accept and read everyone else's requests.  The pools are separate so
 * queries cannot take the writers' threads.
 *
 * Run on the polling thread itself, without blocking (ctx.nonblocking):
 * the monitoring routes, POST /v1/reads (it only appends to the event log;
 * the connection is suspended until the record is durable and resumed by
 * the log's writer, see http_durable) and GET /v1/mails/{id} (one lookup;
 * if the mail has events not applied yet it goes to the query pool to
 * wait there).  A hand-off to a pool thread and back costs two context
 * switches per request, which on a 2-core VM was most of a read's cost.
 */
static int http_pooled(int route)
{
    return route != ROUTE_HEALTHZ && route != ROUTE_METRICS && route != ROUTE_READS &&
           route != ROUTE_MAIL;
}

/*
 * Writer thread of the event log, right after the sync that made the
 * read's record durable (or when the log failed or closed): the answer is
 * ready, the polling thread sends it once resumed.
 */
static void http_durable(struct evlog_waiter *w, int rc)
{
    struct http_req *r =
        (struct http_req *)(void *)((char *)w - offsetof(struct http_req, waiter));
    http_t *h = r->h;       /* r may be gone once resumed */

    if (rc != EVLOG_OK) {
        api_resp_clear(&r->resp);
        api_store_error(&r->resp, evapply_rc(rc));
    }
    r->state = HTTP_READY;
    MHD_resume_connection(r->conn);
    atomic_fetch_sub(&h->log_waiting, 1);
}

/* The handler's answer waits for r->resp.wait_seq to be durable. */
static enum MHD_Result http_wait_durable(struct http_req *r, struct MHD_Connection *conn)
{
    int rc;

    r->state = HTTP_WAIT;
    /* Suspend before registering, so the writer's resume cannot come first. */
    MHD_suspend_connection(conn);
    r->waiter.seq = r->resp.wait_seq;
    r->waiter.fn = http_durable;
    atomic_fetch_add(&r->h->log_waiting, 1);
    rc = evapply_notify(r->ctx.ev, &r->waiter);
    if (rc == STORE_OK)
        return MHD_YES;             /* http_durable resumes it */
    atomic_fetch_sub(&r->h->log_waiting, 1);
    if (rc != 1) {                  /* failed or closing: nothing will call back */
        api_resp_clear(&r->resp);
        api_store_error(&r->resp, rc);
    }
    r->state = HTTP_READY;
    MHD_resume_connection(conn);
    return MHD_YES;
}

/* Runs on a pool while the connection is suspended. */
static void http_job(void *arg)
{
    struct http_req *r = arg;

    api_handle(&r->ctx, &r->areq, &r->resp);
    if (r->route == ROUTE_EVENTS)
        atomic_fetch_sub(&r->h->events_busy, 1);
    r->state = HTTP_READY;
    /* MHD's resume takes its cleanup mutex: r's fields are visible after it. */
    MHD_resume_connection(r->conn);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    http_t *h = cls;
    struct http_req *r = *con_cls;

    (void)version;
    if (r == NULL)      /* no URI callback happened (should not occur) */
        *con_cls = r = http_uri_cb(h, url, conn);
    r->conn = conn;

    switch (r->state) {
    case HTTP_NEW:
        return http_begin(h, r, conn, url, method);

    case HTTP_BODY:
        if (*upload_data_size > 0) {
            /* A refusal already decided: read and drop the body. */
            if (r->resp.status == 0 &&
                http_take_body(h, r, upload_data, *upload_data_size) != 0) {
                api_error(&r->resp, 413, "body_too_large",
                          "the body exceeds %zu bytes", h->opts.max_body);
                /* Chunked overflow: answer now if MHD lets us, else cut off. */
                return http_queue(r, conn);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (r->resp.status != 0)
            return http_queue(r, conn);
        r->areq.body = r->body;
        r->areq.body_len = r->body_len;
        r->areq.now_ms = http_wall_ms();
        if (!http_pooled(r->route)) {
            r->ctx.nonblocking = r->ctx.ev != NULL || !route_is_write(r->route);
            if (r->ctx.nonblocking && route_is_write(r->route) &&
                atomic_load(&h->work_closed)) {
                api_error(&r->resp, 503, "unavailable", "the tracker is shutting down");
                return http_queue(r, conn);
            }
            if (r->ctx.nonblocking) {
                api_handle(&r->ctx, &r->areq, &r->resp);
                if (r->resp.wait_seq != 0 && r->resp.status == 200)
                    return http_wait_durable(r, conn);
                if (r->route == ROUTE_MAIL)
                    metrics_lookup(r->resp.again);
                if (!r->resp.again)
                    return http_queue(r, conn);
                api_resp_clear(&r->resp);       /* it would block: to a pool */
                r->resp.status = 0;
                r->ctx.nonblocking = 0;
            }
        }
        {
            /*
             * A request may complete its body after http_stop() began (a
             * keep-alive client, or one still uploading when the drain gave
             * up): the pool is gone then, and a job submitted to it would
             * run on freed memory or never resume the connection.
             */
            pthread_mutex_lock(&h->work_lock);
            if (h->work_closed) {
                pthread_mutex_unlock(&h->work_lock);
                api_error(&r->resp, 503, "unavailable", "the tracker is shutting down");
                return http_queue(r, conn);
            }
            /* The feed's long polls: a bounded pool, no queue behind it. */
            if (r->route == ROUTE_EVENTS &&
                atomic_fetch_add(&h->events_busy, 1) >= h->opts.events_waiters) {
                atomic_fetch_sub(&h->events_busy, 1);
                pthread_mutex_unlock(&h->work_lock);
                api_error(&r->resp, 503, "busy", "%u event feed requests are waiting already",
                          h->opts.events_waiters);
                api_resp_header(&r->resp, "Retry-After", "1");
                return http_queue(r, conn);
            }
            r->state = HTTP_WAIT;
            /* Suspend before submitting, so the job's resume cannot come first. */
            MHD_suspend_connection(conn);
            work_submit(r->route == ROUTE_EVENTS   ? h->events
                        : route_is_write(r->route) ? h->work
                                                   : h->queries,
                        http_job, r);
            pthread_mutex_unlock(&h->work_lock);
            return MHD_YES;
        }
    case HTTP_READY:
        return http_queue(r, conn);

    case HTTP_WAIT:     /* spurious call while suspended: nothing to do yet */
        return MHD_YES;
    case HTTP_SENT:
    default:
        return MHD_NO;
    }
}

/* ---- daemon ------------------------------------------------------------- */

__attribute__((format(printf, 2, 0)))
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    (void)cls;
    vsnprintf(buf, sizeof buf, fmt, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_info("http: %s", buf);
}

int http_parse_listen(const char *s, struct sockaddr_storage *ss, size_t *sslen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port;
    struct addrinfo hints, *res = NULL;
    size_t hl = 0;

    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        hl = (size_t)(close - s - 1);
        if (hl == 0 || hl >= sizeof host)
            return -1;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL) {
            snprintf(host, sizeof host, "127.0.0.1");
            port = s;
        } else {
            hl = (size_t)(colon - s);
            if (hl == 0 || hl >= sizeof host || memchr(s, ':', hl) != NULL)
                return -1;
            memcpy(host, s, hl);
            host[hl] = '\0';
            port = colon + 1;
        }
    }
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) > 65535)
        return -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int http_start(const struct http_opts *opts, const struct api_ctx *ctx,
               http_t **out, char *err, size_t errlen)
{
    http_t *h;
    struct sockaddr_storage ss;
    size_t sslen;
    unsigned flags, threads;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    if (http_parse_listen(opts->listen, &ss, &sslen) != 0) {
        snprintf(err, errlen, "listen address \"%s\" is not HOST:PORT or [IPV6]:PORT",
                 opts->listen ? opts->listen : "");
        return -1;
    }
    h = xcalloc(1, sizeof *h);
    h->ctx = *ctx;
    h->ctx.conf = conf_ref(ctx->conf);
    pthread_mutex_init(&h->conf_lock, NULL);
    pthread_mutex_init(&h->work_lock, NULL);
    h->opts = *opts;
    h->opts.listen = NULL;      /* not kept */
    if (h->opts.writers == 0)
        h->opts.writers = HTTP_WRITERS;
    threads = opts->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    h->work = work_start(h->opts.writers);
    h->queries = work_start(h->opts.queriers ? h->opts.queriers : HTTP_QUERIERS);
    if (h->opts.events_waiters == 0)
        h->opts.events_waiters = HTTP_EVENT_WAITERS;
    h->events = work_start(h->opts.events_waiters);

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->mhd = MHD_start_daemon(
        flags, 0, http_accept_cb, h, http_access, h,
        /* First, so that MHD's own start-up complaints come through it. */
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(threads > 1 ? threads : 0),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, opts->max_header,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)opts->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)opts->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)opts->idle_timeout,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)HTTP_BACKLOG,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_cb, h,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
        MHD_OPTION_END);
    if (h->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not an address of this host)",
                 opts->listen);
        h->work = work_stop(h->work);
        h->queries = work_stop(h->queries);
        h->events = work_stop(h->events);
        conf_unref(h->ctx.conf);
        pthread_mutex_destroy(&h->conf_lock);
        pthread_mutex_destroy(&h->work_lock);
        free(h);
        return -1;
    }
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
}

void http_set_conf(http_t *h, struct conf *c)
{
    struct conf *old;

    pthread_mutex_lock(&h->conf_lock);
    old = h->ctx.conf;
    h->ctx.conf = c;
    pthread_mutex_unlock(&h->conf_lock);
    conf_unref(old);            /* freed when its last request ends */
}

unsigned http_port(const http_t *h)
{
    return h->port;
}

/*
 * Not MHD_quiesce_daemon(): in libmicrohttpd 0.9.75 it races the pool's own
 * epoll loop for the listen socket (both delete it from the epoll set, the
 * loser gets ENOENT and MHD_PANIC aborts the process; seen under ASan on a
 * 2-core CI box).  The socket stays open until http_stop(), and the accept
 * policy below closes every connection that arrives meanwhile.
 */
void http_quiesce(http_t *h)
{
    atomic_store(&h->draining, 1);
}

unsigned http_drain(http_t *h, unsigned timeout_ms)
{
    unsigned waited = 0;
    long n;

    while ((n = atomic_load(&h->in_flight)) > 0 && waited < timeout_ms) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        waited += 10;
    }
    return n > 0 ? (unsigned)n : 0;
}

http_t *http_stop(http_t *h)
{
    if (h == NULL)
        return NULL;
    /* Writes whose body completes from now on are answered 503 ... */
    pthread_mutex_lock(&h->work_lock);
    h->work_closed = 1;
    pthread_mutex_unlock(&h->work_lock);
    /* ... and queued ones finish and resume their connections before MHD stops. */
    h->work = work_stop(h->work);
    h->queries = work_stop(h->queries);
    h->events = work_stop(h->events);   /* feed_stop() ended their waits */
    /* Reads waiting for the log's sync: the writer resumes each of them
     * (durable, or failed) and must not resume a connection MHD has freed,
     * so wait for them without a time limit, as the pool threads blocked
     * in evlog_wait were waited for before. */
    while (atomic_load(&h->log_waiting) > 0) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    http_drain(h, 2000);
    MHD_stop_daemon(h->mhd);
    conf_unref(h->ctx.conf);
    pthread_mutex_destroy(&h->conf_lock);
    pthread_mutex_destroy(&h->work_lock);
    free(h);
    return NULL;
}
