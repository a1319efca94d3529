/*
 * api - request handlers (see api.h).
 */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"
#include "jw.h"
#include "log.h"
#include "mailid.h"
#include "metrics.h"
#include "msys.h"
#include "peer.h"
#include "render.h"
#include "route.h"
#include "xmem.h"

static const char api_ct_json[] = "application/json";
static const char api_ct_metrics[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- responses ---------------------------------------------------------- */

void api_json(struct api_resp *resp, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (text == NULL)
        log_panic("api: cannot serialise a response (out of memory)");
    free(resp->body);
    resp->status = status;
    resp->body = text;
    resp->body_len = strlen(text);
    resp->content_type = api_ct_json;
}

/* A JSON text written with jw (the hot paths). */
static void api_jw(struct api_resp *resp, unsigned status, struct jw *w)
{
    free(resp->body);
    resp->status = status;
    resp->body = jw_finish(w, &resp->body_len);
    resp->content_type = api_ct_json;
}

void api_error(struct api_resp *resp, unsigned status, const char *error,
               const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    json_t *o = json_object();

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_object_set_new(o, "error", json_string(error));
    /* The detail may quote client input that is not valid UTF-8. */
    json_t *d = json_string(detail);
    json_object_set_new(o, "detail", d ? d : json_string("(unprintable)"));
    api_json(resp, status, o);
}

void api_resp_clear(struct api_resp *resp)
{
    resp->body = xfree(resp->body);
    resp->body_len = 0;
    for (size_t i = 0; i < resp->n_hdrs; i++)
        resp->hdrs[i].value = xfree(resp->hdrs[i].value);
    resp->n_hdrs = 0;
    resp->wait_seq = 0;
    resp->again = 0;
}

void api_resp_header(struct api_resp *resp, const char *name, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (resp->n_hdrs == API_RESP_HDRS)
        log_panic("api: more than %d extra response headers", API_RESP_HDRS);
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    resp->hdrs[resp->n_hdrs].name = name;
    resp->hdrs[resp->n_hdrs].value = xstrdup(buf);
    resp->n_hdrs++;
}

/* A store error as an HTTP answer (the not-found cases are per route). */
void api_store_error(struct api_resp *resp, int rc)
{
    switch (rc) {
    case STORE_EINVAL:
        api_error(resp, 400, "bad_request", "%s", store_strerror(rc));
        return;
    case STORE_EFULL:
        metrics_store_error();
        api_error(resp, 503, "store_full", "%s", store_strerror(rc));
        return;
    case STORE_ECLOSED:
        api_error(resp, 503, "unavailable", "the tracker is shutting down");
        return;
    case EVAPPLY_EBUSY:
        /* The event log is ahead of the mail log by event_log_lag_max:
         * better a retry than a log growing without limit. */
        metrics_store_error();
        api_resp_header(resp, "Retry-After", "1");
        api_error(resp, 503, "busy", "too many reads wait to be applied; retry");
        return;
    default:
        metrics_store_error();
        api_error(resp, 500, "store_error", "%s", store_strerror(rc));
        return;
    }
}

/*
 * Reads see every acknowledged event (issue 17): wait until the mail log
 * holds what the event log acknowledged for this mail (id) or for all
 * (id NULL).  1 to go on, 0 with a 503 when the apply is stuck.
 */
int api_barrier(const struct api_ctx *ctx, const char *id, struct api_resp *resp)
{
    int ms = ctx->nonblocking ? 0 : API_BARRIER_MS;

    if (ctx->ev == NULL)
        return 1;
    if ((id ? evapply_barrier_mail(ctx->ev, id, ms)
            : evapply_barrier_all(ctx->ev, ms)) == 0)
        return 1;
    if (ctx->nonblocking) {
        resp->again = 1;        /* the caller runs it again where it may wait */
        return 0;
    }
    api_resp_header(resp, "Retry-After", "1");
    api_error(resp, 503, "busy", "recent reads are not applied yet; retry");
    return 0;
}

/* ---- POST /v1/reads ------------------------------------------------------ */

static const char *const api_read_fields[] = {
    "mail_id", "sender", "recipient", "via", "event", "time", "original_recipient", NULL
};

/*
 * The string field name of obj into *out (NULL if absent and optional).
 * Returns 0, or -1 with the error response filled in.
 */
static int api_str_field(json_t *obj, const char *name, int required,
                         const char **out, struct api_resp *resp)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL) {
        if (!required)
            return 0;
        api_error(resp, 400, "bad_field", "missing field \"%s\"", name);
        return -1;
    }
    if (!json_is_string(v)) {
        api_error(resp, 400, "bad_field", "field \"%s\" must be a string", name);
        return -1;
    }
    /* An embedded NUL would make the C string shorter than the JSON one. */
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        api_error(resp, 400, "bad_field", "field \"%s\" contains a NUL", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int api_via_valid(const char *via)
{
    size_t n = strlen(via);

    if (n == 0 || n >= sizeof ((struct store_rcpt *)0)->via)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)via[i]) && !isdigit((unsigned char)via[i]) &&
            via[i] != '_' && via[i] != '-')
            return 0;
    return 1;
}

static int api_parse_addr(const char *field, const char *s, struct addr *a,
                          struct api_resp *resp)
{
    int rc = addr_parse_str(s, a);

    if (rc != ADDR_OK) {
        api_error(resp, 400, "bad_address", "%s: %s", field, addr_strerror(rc));
        return -1;
    }
    if (a->is_null) {
        api_error(resp, 400, "bad_address", "%s: the null address is not allowed", field);
        return -1;
    }
    return 0;
}

/* A read notification, checked; owns its data (the JSON is freed early). */
struct api_read {
    struct addr sender, rcpt;
    char        id[MAILID_ID_LEN + 1];
    char        value[MAILID_VALUE_LEN + 1];   /* canonical ID.TAG */
    char        via[sizeof ((struct store_rcpt *)0)->via];  /* copied: the JSON is freed */
    int         event;                         /* enum store_event */
    uint64_t    when_ms;
    struct addr orig;                          /* original_recipient ... */
    int         has_orig;                      /* ... if given */
};

static const char *api_event_name(int event)
{
    return event == STORE_EV_DELETED_UNREAD ? "deleted_unread"
           : event == STORE_EV_RECEIVED ? "received" : "read";
}

/*
 * An event no entry matched: said at info and counted, never dropped
 * silently (design §11).  Addresses here are in normal form (no control
 * bytes): safe to log.
 */
static void api_unmatched(const struct api_read *rd, enum metrics_unmatched why,
                          const char *reason)
{
    metrics_unmatched(why);
    log_info("mail %s: %s for %s%s%s%s not recorded: %s", rd->id, api_event_name(rd->event),
             rd->rcpt.key, rd->has_orig ? " (original recipient " : "",
             rd->has_orig ? rd->orig.key : "", rd->has_orig ? ")" : "", reason);
}

/* Checks everything in the body of a read notification; 0 or -1 (resp set). */
static int api_read_parse(const struct api_ctx *ctx, const struct api_req *req,
                          json_t *root, struct api_read *rd, struct api_resp *resp)
{
    const char *mail_id, *sender, *rcpt, *via, *event, *when, *orig;
    const char *key;
    json_t *val;
    char tag[MAILID_TAG_LEN + 1];
    int rc;

    if (!json_is_object(root)) {
        api_error(resp, 400, "bad_json", "the body must be a JSON object");
        return -1;
    }
    json_object_foreach(root, key, val) {
        size_t i = 0;
        while (api_read_fields[i] != NULL && strcmp(api_read_fields[i], key) != 0)
            i++;
        if (api_read_fields[i] == NULL) {
            api_error(resp, 400, "bad_field", "unknown field \"%.64s\"", key);
            return -1;
        }
    }
    if (api_str_field(root, "mail_id", 1, &mail_id, resp) ||
        api_str_field(root, "sender", 1, &sender, resp) ||
        api_str_field(root, "recipient", 1, &rcpt, resp) ||
        api_str_field(root, "via", 0, &via, resp) ||
        api_str_field(root, "event", 0, &event, resp) ||
        api_str_field(root, "time", 0, &when, resp) ||
        api_str_field(root, "original_recipient", 0, &orig, resp))
        return -1;

    if (api_parse_addr("sender", sender, &rd->sender, resp) ||
        api_parse_addr("recipient", rcpt, &rd->rcpt, resp))
        return -1;
    rd->has_orig = 0;
    if (orig != NULL) {
        if (api_parse_addr("original_recipient", orig, &rd->orig, resp))
            return -1;
        rd->has_orig = 1;
    }

    rc = mailid_verify_k(&ctx->conf->mac_key, mail_id, strlen(mail_id), rd->sender.key,
                         rd->id);
    if (rc == MAILID_EMAC) {
        /* The id's syntax was checked before its MAC: safe to log. */
        metrics_unmatched(METRICS_UM_BAD_MAC);
        log_info("mail %.26s: event for %s not recorded: the mail id's MAC does not match "
                 "sender %s (forged or copied id)", mail_id, rd->rcpt.key, rd->sender.key);
        api_error(resp, 403, "bad_mac", "mail_id was not issued for this sender");
        return -1;
    }
    if (rc != MAILID_OK ||
        mailid_parse(mail_id, strlen(mail_id), rd->id, tag) != MAILID_OK) {
        api_error(resp, 400, "bad_mail_id", "mail_id: %s", mailid_strerror(rc));
        return -1;
    }
    snprintf(rd->value, sizeof rd->value, "%s.%s", rd->id, tag);

    if (via == NULL)
        via = "api";
    if (!api_via_valid(via)) {
        api_error(resp, 400, "bad_field",
                  "via must be 1-15 characters of a-z 0-9 _ -");
        return -1;
    }
    memcpy(rd->via, via, strlen(via) + 1);
    if (event == NULL || strcmp(event, "read") == 0) {
        rd->event = STORE_EV_READ;
    } else if (strcmp(event, "received") == 0) {
        rd->event = STORE_EV_RECEIVED;
    } else if (strcmp(event, "deleted_unread") == 0) {
        rd->event = STORE_EV_DELETED_UNREAD;
    } else {
        api_error(resp, 400, "bad_field",
                  "event must be \"read\", \"received\" or \"deleted_unread\"");
        return -1;
    }
    rd->when_ms = req->now_ms;
    if (when != NULL) {
        if (render_parse_time(when, &rd->when_ms) != 0) {
            api_error(resp, 400, "bad_time", "time is not an RFC 3339 date-time");
            return -1;
        }
        if (rd->when_ms > req->now_ms + API_FUTURE_SLACK_MS) {
            api_error(resp, 400, "bad_time", "time is more than 5 minutes in the future");
            return -1;
        }
    }
    return 0;
}

static void api_reads(const struct api_ctx *ctx, const struct api_req *req,
                      struct api_resp *resp)
{
    const struct conf *conf = ctx->conf;
    struct api_read rd;
    struct store_rcpt after;
    json_error_t jerr;
    json_t *root, *o;
    const char *home, *forward_to = NULL;
    int rc;

    root = json_loadb(req->body ? req->body : "", req->body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        api_error(resp, 400, "bad_json", "%s (line %d, column %d)", jerr.text,
                  jerr.line, jerr.column);
        return;
    }
    rc = api_read_parse(ctx, req, root, &rd, resp);
    json_decref(root);
    if (rc != 0)
        return;

    /* Only the recipient's own server may say the recipient read it: a
     * read for someone another server hosts could never be lowered by
     * that server's real state (design §11). */
    {
        const char *where_server = NULL;
        if (msys_judge_recipient(conf->msys, rd.rcpt.key, &where_server) != MSYS_LOCAL) {
            api_unmatched(&rd, METRICS_UM_NOT_LOCAL, "recipient not hosted by this server");
            api_error(resp, 422, "not_local",
                      "recipient %s is not hosted by this server (%s)", rd.rcpt.key,
                      where_server ? where_server : "outside the system");
            return;
        }
    }
    /* Nobody reads a mail before it existed (the id carries its time; the
     * slack covers clock skew between the servers). */
    if (rd.when_ms + API_FUTURE_SLACK_MS < mailid_time_ms(rd.id)) {
        api_error(resp, 400, "bad_time", "time is before the mail was sent");
        return;
    }

    if (!conf->tracking || conf_is_opt_out(conf, rd.rcpt.key)) {
        int off = !conf->tracking;
        metrics_ignored(off ? METRICS_TRACKING_OFF : METRICS_OPT_OUT);
        o = json_pack("{s:b, s:s, s:s}", "recorded", 0, "reason",
                      off ? "tracking_off" : "opt_out", "mail_id", rd.value);
        api_json(resp, 200, o);
        return;
    }

    /* The sender's home server keeps its own log: queue a forward there. */
    home = msys_domain_server(conf->msys, rd.sender.domain);
    if (home != NULL && strcmp(home, msys_this_server(conf->msys)) != 0)
        forward_to = home;

    memset(&after, 0, sizeof after);
    struct store_event_in ev = {
        .id = rd.id, .rcpt = rd.rcpt.key, .original = rd.has_orig ? rd.orig.key : NULL,
        .delims = conf->recipient_delimiter, .this_server = msys_this_server(conf->msys),
        .event = rd.event, .when_ms = rd.when_ms, .via = rd.via, .forward_to = forward_to,
    };
    int matched = STORE_MATCH_NONE;
    uint64_t seq = 0;
    if (ctx->ev == NULL)
        rc = store_record_event(ctx->store, &ev, &after, &matched);
    else if (ctx->nonblocking)
        rc = evapply_submit_nowait(ctx->ev, &ev, &after, &matched, &seq);
    else
        rc = evapply_submit(ctx->ev, &ev, &after, &matched);
    if (rc == STORE_ENOTFOUND) {
        api_unmatched(&rd, METRICS_UM_UNKNOWN_MAIL, "mail not in this server's log");
        api_error(resp, 404, "mail_not_found", "mail %s is not in this server's log", rd.id);
        return;
    }
    if (rc == STORE_ENORCPT) {
        api_unmatched(&rd, METRICS_UM_UNKNOWN_RECIPIENT, rd.has_orig
                      ? "neither it nor its original recipient was recorded for this mail"
                      : "no entry for it (nor for it with an extension) in this mail");
        api_error(resp, 404, "recipient_not_found",
                  "mail %s has no entry for this recipient on this server", rd.id);
        return;
    }
    if (rc != STORE_OK) {
        log_error("mail %s: recording a read failed: %s", rd.id, store_strerror(rc));
        api_store_error(resp, rc);
        return;
    }
    if (matched == STORE_MATCH_MEMBER) {
        metrics_member_created();
        log_info("mail %s: %s is a member of %s: entry created", rd.id, rd.rcpt.key,
                 after.original_recipient ? after.original_recipient : "?");
    }
    metrics_recorded(rd.event == STORE_EV_DELETED_UNREAD ? METRICS_DELETED_UNREAD
                     : rd.event == STORE_EV_RECEIVED ? METRICS_RECEIVED : METRICS_READ);
    if (forward_to != NULL && ctx->ev == NULL)
        peer_kick(forward_to);          /* wake the forwarder (else: once applied) */
    struct jw w;
    jw_init(&w, 512);
    jw_obj_open(&w);
    jw_key(&w, "recorded");
    jw_bool(&w, 1);
    jw_key(&w, "mail_id");
    jw_str(&w, rd.value);
    jw_key(&w, "event");
    jw_str(&w, api_event_name(rd.event));
    jw_key(&w, "recipient");
    render_rcpt(&w, &after);
    jw_obj_close(&w);
    store_rcpt_clear(&after);
    api_jw(resp, 200, &w);
    resp->wait_seq = seq;       /* sent once durable (ctx->nonblocking) */
}

/* ---- GET /v1/mails/{id} --------------------------------------------------- */

static void api_mail(const struct api_ctx *ctx, const struct api_req *req,
                     struct api_resp *resp)
{
    char buf[MAILID_VALUE_LEN + 1];
    char id[MAILID_ID_LEN + 1], tag[MAILID_TAG_LEN + 1] = "";
    struct store_mail_rec *rec = NULL;
    int rc;

    if (req->arg_len != MAILID_ID_LEN && req->arg_len != MAILID_VALUE_LEN) {
        api_error(resp, 400, "bad_mail_id", "expected ID (26 characters) or ID.TAG");
        return;
    }
    for (size_t i = 0; i < req->arg_len; i++)
        buf[i] = (char)toupper((unsigned char)req->arg[i]);
    buf[req->arg_len] = '\0';
    if (req->arg_len == MAILID_ID_LEN) {
        if (!mailid_id_valid(buf, MAILID_ID_LEN)) {
            api_error(resp, 400, "bad_mail_id", "not a mail id");
            return;
        }
        memcpy(id, buf, sizeof id);
    } else if (mailid_parse(buf, req->arg_len, id, tag) != MAILID_OK) {
        api_error(resp, 400, "bad_mail_id", "not a mail id");
        return;
    }

    if (!api_barrier(ctx, id, resp))
        return;
    rc = store_get_mail(ctx->store, id, &rec);
    if (rc == STORE_ENOTFOUND) {
        api_error(resp, 404, "mail_not_found", "mail %s is not in this server's log", id);
        return;
    }
    if (rc != STORE_OK) {
        api_store_error(resp, rc);
        return;
    }
    if (tag[0] != '\0') {
        char want[MAILID_TAG_LEN + 1];
        mailid_tag_k(&ctx->conf->mac_key, id, rec->mail.sender ? rec->mail.sender : "",
                     want);
        if (sodium_memcmp(want, tag, MAILID_TAG_LEN) != 0) {
            store_mail_rec_free(rec);
            api_error(resp, 400, "bad_mail_id", "the tag does not match this mail");
            return;
        }
    }
    struct jw w;
    jw_init(&w, 512 + 256 * rec->n_rcpts);
    render_mail(&w, rec);
    store_mail_rec_free(rec);
    api_jw(resp, 200, &w);
}

/* ---- GET /v1/mails?... ----------------------------------------------------- */

static const char *const api_list_params[] = {
    "sender", "recipient", "since", "until", "status", "limit", "cursor", NULL
};

/* Storage for the parsed query (addresses need room). */
struct api_list_q {
    struct store_query q;
    struct addr        sender, rcpt;
};

static int api_list_param(const char *key, const char *v, struct api_list_q *lq,
                          struct api_resp *resp)
{
    if (strcmp(key, "sender") == 0 || strcmp(key, "recipient") == 0) {
        struct addr *a = key[0] == 's' ? &lq->sender : &lq->rcpt;
        int rc = addr_parse_str(v, a);
        if (rc != ADDR_OK) {
            api_error(resp, 400, "bad_query", "%s: %s", key, addr_strerror(rc));
            return -1;
        }
        if (key[0] == 's')
            lq->q.sender = a->key;
        else
            lq->q.recipient = a->key;
    } else if (strcmp(key, "since") == 0 || strcmp(key, "until") == 0) {
        uint64_t ms;
        if (render_parse_time(v, &ms) != 0) {
            api_error(resp, 400, "bad_query", "%s is not an RFC 3339 date-time", key);
            return -1;
        }
        if (key[0] == 's')
            lq->q.since_ms = ms;
        else
            lq->q.until_ms = ms;
    } else if (strcmp(key, "status") == 0) {
        lq->q.status = store_status_parse(v);
        if (lq->q.status < 0) {
            api_error(resp, 400, "bad_query", "unknown status \"%.32s\"", v);
            return -1;
        }
    } else if (strcmp(key, "limit") == 0) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 ||
            n < 1 || n > API_LIMIT_MAX) {
            api_error(resp, 400, "bad_query", "limit must be 1 to %d", API_LIMIT_MAX);
            return -1;
        }
        lq->q.limit = n;
    } else { /* cursor */
        if (strlen(v) != MAILID_ID_LEN || !mailid_id_valid(v, MAILID_ID_LEN)) {
            api_error(resp, 400, "bad_query", "cursor is not a next_cursor value");
            return -1;
        }
        lq->q.cursor = v;
    }
    return 0;
}

static void api_mails(const struct api_ctx *ctx, const struct api_req *req,
                      struct api_resp *resp)
{
    struct api_list_q lq;
    struct store_list list;
    unsigned seen = 0;
    struct jw w;
    int rc;

    memset(&lq, 0, sizeof lq);
    lq.q.status = -1;
    lq.q.limit = API_LIMIT_DEFAULT;
    for (size_t i = 0; i < req->n_args; i++) {
        const char *key = req->args[i].key, *v = req->args[i].value;
        unsigned k = 0;
        while (api_list_params[k] != NULL && strcmp(api_list_params[k], key) != 0)
            k++;
        if (api_list_params[k] == NULL) {
            api_error(resp, 400, "bad_query", "unknown parameter \"%.64s\"", key);
            return;
        }
        if (seen & (1u << k)) {
            api_error(resp, 400, "bad_query", "parameter \"%s\" given twice", key);
            return;
        }
        seen |= 1u << k;
        if (v == NULL || v[0] == '\0')     /* "?sender=" means no filter */
            continue;
        if (api_list_param(key, v, &lq, resp) != 0)
            return;
    }

    memset(&list, 0, sizeof list);
    if (!api_barrier(ctx, NULL, resp))
        return;
    rc = store_list(ctx->store, &lq.q, &list);
    if (rc != STORE_OK) {
        api_store_error(resp, rc);
        return;
    }
    jw_init(&w, 1024);
    jw_obj_open(&w);
    jw_key(&w, "mails");
    jw_arr_open(&w);
    for (size_t i = 0; i < list.n_mails; i++)
        render_mail(&w, &list.mails[i]);
    jw_arr_close(&w);
    jw_key(&w, "next_cursor");
    jw_str(&w, list.next_cursor[0] != '\0' ? list.next_cursor : NULL);
    jw_obj_close(&w);
    store_list_clear(&list);
    api_jw(resp, 200, &w);
}

/* ---- monitoring ------------------------------------------------------------ */

static void api_healthz(const struct api_ctx *ctx, const struct api_req *req,
                        struct api_resp *resp)
{
    struct store_stats ss;

    (void)req;
    if (store_stats(ctx->store, &ss) != STORE_OK) {
        api_error(resp, 503, "unavailable", "the mail log cannot be read");
        return;
    }
    api_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "server",
                                  msys_this_server(ctx->conf->msys)));
}

static void api_metrics(const struct api_ctx *ctx, const struct api_req *req,
                        struct api_resp *resp)
{
    (void)req;
    free(resp->body);
    resp->body = metrics_render(ctx->store, &resp->body_len);
    resp->status = 200;
    resp->content_type = api_ct_metrics;
}

/* ---- dispatch -------------------------------------------------------------- */

static api_handler_fn api_handlers[ROUTE_COUNT] = {
    [ROUTE_HEALTHZ] = api_healthz,
    [ROUTE_METRICS] = api_metrics,
    [ROUTE_READS]   = api_reads,
    [ROUTE_MAIL]    = api_mail,
    [ROUTE_MAILS]   = api_mails,
    [ROUTE_SYNC]    = NULL,          /* installed by the sync module */
};

void api_register(int route, api_handler_fn fn)
{
    if (route <= ROUTE_NONE || route >= ROUTE_COUNT)
        log_panic("api_register: no route %d", route);
    api_handlers[route] = fn;
}

void api_handle(const struct api_ctx *ctx, const struct api_req *req,
                struct api_resp *resp)
{
    api_handler_fn fn = NULL;

    if (req->route > ROUTE_NONE && req->route < ROUTE_COUNT)
        fn = api_handlers[req->route];
    if (fn == NULL) {
        api_error(resp, 404, "not_found", "no such resource");
        return;
    }
    fn(ctx, req, resp);
}
