#ifndef MAILSTATE_API_H
#define MAILSTATE_API_H
/*
 * api - the tracker's request handlers (design §6), independent of the HTTP
 * library: a parsed request in, a status and a body out.  Unit-testable with
 * a real store and no network.
 *
 * api_handle() runs the handler of req->route.  Authentication has been done
 * by the caller (auth.h); req->token is the token used (NULL for routes that
 * need none).  The handler fills *resp: status, an allocated body
 * (resp->body, freed by api_resp_clear), its content type, and for 405 the
 * Allow value.  Errors are JSON {"error": CODE, "detail": TEXT}.
 *
 * Routes and their answers:
 *   POST /v1/reads   200 {"recorded": true, "mail_id", "event", "recipient": ENTRY}
 *                    200 {"recorded": false, "reason": "opt_out"|"tracking_off"}
 *                    400 bad_json, bad_field (missing, unknown, wrong type,
 *                        bad value), bad_mail_id, bad_address, bad_time
 *                    403 bad_mac   404 mail_not_found, recipient_not_found
 *                    503 store_full / unavailable, 500 store_error
 *   GET /v1/mails/ID[.TAG]          200 MAIL, 400 bad_mail_id, 404 mail_not_found
 *   GET /v1/mails?sender=&recipient=&since=&until=&status=&limit=&cursor=
 *                    200 {"mails": [MAIL...], "next_cursor": ID|null}, 400 bad_query
 *   GET /healthz     200 {"status": "ok", "server": NAME}
 *   GET /metrics     200 Prometheus text
 * A route without a handler (ROUTE_SYNC until registered) answers 404.
 *
 * Hooks: api_register() installs the handler of a route (the sync module
 * does this for ROUTE_SYNC before the HTTP server starts); not thread-safe
 * against running requests.  A handler may read request headers through
 * req->header (e.g. a signature), and gets the raw body.
 *
 * Writes block until durable (store contract), so the HTTP layer runs
 * route_is_write() routes off its polling threads -- except POST
 * /v1/reads with ctx->nonblocking, which does not block: it appends to the
 * event log and the HTTP layer answers once the record is durable.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "evapply.h"
#include "store.h"

struct api_ctx {
    struct conf *conf;
    store_t     *store;
    evapply_t   *ev;            /* the event log in front of the store (issue 17) */
    /* The caller is a polling thread that must not block: POST /v1/reads
     * leaves the wait for its record to the caller (resp->wait_seq), and a
     * barrier that would wait gives up with resp->again. */
    int          nonblocking;
};

struct api_arg {
    const char *key;
    const char *value;          /* NULL for "?key" without '=' */
};

struct api_req {
    int                      route;        /* ROUTE_* */
    const char              *arg;          /* path parameter ({id}), not NUL-terminated */
    size_t                   arg_len;
    const struct api_arg    *args;         /* decoded query arguments, in order */
    size_t                   n_args;
    const char              *body;         /* raw body (may be NULL if empty) */
    size_t                   body_len;
    const struct conf_token *token;
    uint64_t                 now_ms;
    const char             *(*header)(void *cls, const char *name);
    void                    *header_cls;
    const char              *client_addr;  /* textual IP of the peer ("" unknown) */
    const char              *method;       /* "GET", "POST", ... */
};

#define API_RESP_HDRS 4
struct api_resp {
    unsigned    status;
    char       *body;
    size_t      body_len;
    const char *content_type;   /* static string */
    const char *allow;          /* static string, for 405 */
    /* Extra response headers (Set-Cookie, WWW-Authenticate, Retry-After):
     * static names, allocated values freed by api_resp_clear.  A
     * WWW-Authenticate here replaces the HTTP layer's Bearer one. */
    struct { const char *name; char *value; } hdrs[API_RESP_HDRS];
    size_t      n_hdrs;
    /* ctx->nonblocking only.  wait_seq: the answer is ready but may be
     * sent only once event log record wait_seq is durable (evapply_notify;
     * on failure replace it with api_store_error's).  again: nothing was
     * done, run the handler again where it may block. */
    uint64_t    wait_seq;
    int         again;
};

typedef void (*api_handler_fn)(const struct api_ctx *ctx, const struct api_req *req,
                               struct api_resp *resp);

void api_register(int route, api_handler_fn fn);
/*
 * Before a query reads the mail log: wait (at most API_BARRIER_MS) until it
 * shows every event acknowledged so far, for mail id or (NULL) for all.
 * 1 = go on; 0 = resp holds a 503 with Retry-After.
 */
int api_barrier(const struct api_ctx *ctx, const char *id, struct api_resp *resp);
#define API_BARRIER_MS 5000
void api_handle(const struct api_ctx *ctx, const struct api_req *req,
                struct api_resp *resp);

/* Response helpers for handlers (also used by the HTTP layer). */
void api_error(struct api_resp *resp, unsigned status, const char *error,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void api_json(struct api_resp *resp, unsigned status, json_t *body); /* steals body */
void api_resp_clear(struct api_resp *resp);
/* The answer for a failed STORE_* rc (503 store_full / unavailable / busy, 500). */
void api_store_error(struct api_resp *resp, int rc);
void api_resp_header(struct api_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Limit on the number of mails in one page of GET /v1/mails. */
#define API_LIMIT_DEFAULT 50
#define API_LIMIT_MAX     1000
/* A replayed read may carry a time at most this far in the future. */
#define API_FUTURE_SLACK_MS (5 * 60 * 1000)

#endif
