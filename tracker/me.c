/*
 * me - users' own view of the mail log, sessions and the web page (me.h).
 */
#include "me.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "addr.h"
#include "api.h"
#include "authcache.h"
#include "authslow.h"
#include "dvauth.h"
#include "jw.h"
#include "log.h"
#include "mailid.h"
#include "render.h"
#include "route.h"
#include "session.h"
#include "store_me.h"
#include "xmem.h"

#define ME_COOKIE     "mailstate_session"
/* Dovecot delays a failure by auth_failure_delay (2 s) plus its own
 * penalty per client address (up to 15 s): wait longer than both. */
#define ME_TIMEOUT_MS 20000
#define ME_FILE_MAX   (1024 * 1024)

static _Atomic unsigned long long me_n_ok, me_n_fail, me_n_slowed, me_n_unavail, me_n_cached;

void me_metrics_write(FILE *fp)
{
    fprintf(fp, "# HELP mailstate_auth_checks_total User password checks by result.\n"
            "# TYPE mailstate_auth_checks_total counter\n"
            "mailstate_auth_checks_total{result=\"ok\"} %llu\n"
            "mailstate_auth_checks_total{result=\"cached\"} %llu\n"
            "mailstate_auth_checks_total{result=\"fail\"} %llu\n"
            "mailstate_auth_checks_total{result=\"slowed\"} %llu\n"
            "mailstate_auth_checks_total{result=\"unavailable\"} %llu\n",
            atomic_load(&me_n_ok), atomic_load(&me_n_cached), atomic_load(&me_n_fail),
            atomic_load(&me_n_slowed), atomic_load(&me_n_unavail));
}

static uint64_t me_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct me_user {
    char user[DVAUTH_USER_MAX + 1];
    char address[ADDR_KEY_MAX + 1];     /* "" = none */
    int  admin;
    int  by_cookie;
};

/* ---- who is asking ---------------------------------------------------------- */

static int me_is_admin(const struct conf *c, const char *user)
{
    const char *p = c->auth_admins;
    size_t ul = strlen(user);

    while (p && *p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == ul && n > 0 && memcmp(p, user, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static void me_fill(const struct conf *c, struct me_user *u)
{
    struct addr a;
    char buf[DVAUTH_USER_MAX + 256];

    u->address[0] = '\0';
    if (strchr(u->user, '@') != NULL)
        snprintf(buf, sizeof buf, "%s", u->user);
    else if (c->auth_default_domain && c->auth_default_domain[0])
        snprintf(buf, sizeof buf, "%s@%s", u->user, c->auth_default_domain);
    else
        buf[0] = '\0';
    if (buf[0] && addr_parse_str(buf, &a) == ADDR_OK && !a.is_null)
        snprintf(u->address, sizeof u->address, "%s", a.key);
    u->admin = me_is_admin(c, u->user);
}

static const char *me_cookie(const struct api_req *req, char *out, size_t outlen)
{
    const char *h = req->header ? req->header(req->header_cls, "Cookie") : NULL;
    size_t cl = strlen(ME_COOKIE);

    while (h && *h) {
        h += strspn(h, " ;");
        if (strncmp(h, ME_COOKIE, cl) == 0 && h[cl] == '=') {
            h += cl + 1;
            size_t n = strcspn(h, "; ");
            if (n >= outlen)
                return NULL;
            memcpy(out, h, n);
            out[n] = '\0';
            return out;
        }
        h += strcspn(h, ";");
    }
    return NULL;
}

/* The web page's own requests (X-Requested-With) get no WWW-Authenticate:
 * a browser would pop up its Basic login dialog over the page's form. */
static void me_unauthorized(const struct api_req *req, struct api_resp *resp,
                            const char *detail)
{
    const char *xrw = req->header ? req->header(req->header_cls, "X-Requested-With") : NULL;

    api_error(resp, 401, "unauthorized", "%s", detail);
    if (xrw == NULL)
        api_resp_header(resp, "WWW-Authenticate", "Basic realm=\"mailstate\", charset=\"UTF-8\"");
    else
        api_resp_header(resp, "WWW-Authenticate", "Session realm=\"mailstate\"");
}

/*
 * Check user + password: the cache, then the failure back-off, then
 * Dovecot.  0 with u filled, or -1 with resp set.
 */
static int me_check_password(const struct api_ctx *ctx, const struct api_req *req,
                             const char *user, const char *password, struct me_user *u,
                             struct api_resp *resp)
{
    const struct conf *c = ctx->conf;
    const char *rip = req->client_addr ? req->client_addr : "";
    char ident[DVAUTH_USER_MAX + 1];

    if (authcache_get(user, password, req->now_ms, (unsigned)c->auth_cache_ttl, ident)) {
        atomic_fetch_add(&me_n_cached, 1);
    } else {
        unsigned wait = authslow_check(rip, req->now_ms);
        if (wait) {
            atomic_fetch_add(&me_n_slowed, 1);
            api_error(resp, 429, "too_many_failures",
                      "too many wrong passwords from %s; try again in %u s", rip, wait);
            api_resp_header(resp, "Retry-After", "%u", wait);
            return -1;
        }
        /* Loopback or an https public_url: the password did not cross a
         * network in clear (Dovecot's disable_plaintext_auth). */
        int secured = strcmp(rip, "127.0.0.1") == 0 || strcmp(rip, "::1") == 0 ||
                      strncmp(c->tracker_public_url, "https://", 8) == 0;
        int rc = dvauth_check(c->auth_dovecot_socket, ME_TIMEOUT_MS, user, password,
                              rip[0] ? rip : NULL, secured, ident);
        if (rc == DVAUTH_FAIL) {
            atomic_fetch_add(&me_n_fail, 1);
            authslow_failed(rip, me_now_ms());   /* after Dovecot's own delay */
            log_info("auth: login of \"%.64s\" from %s refused", user, rip);
            me_unauthorized(req, resp, "wrong user or password");
            return -1;
        }
        if (rc != DVAUTH_OK) {
            atomic_fetch_add(&me_n_unavail, 1);
            api_error(resp, 503, "auth_unavailable", "the password cannot be checked now");
            return -1;
        }
        atomic_fetch_add(&me_n_ok, 1);
        authcache_put(user, password, req->now_ms, ident);
    }
    memset(u, 0, sizeof *u);
    snprintf(u->user, sizeof u->user, "%s", ident);
    me_fill(c, u);
    return 0;
}

static int me_identify(const struct api_ctx *ctx, const struct api_req *req,
                       struct me_user *u, struct api_resp *resp)
{
    const struct conf *c = ctx->conf;
    char tok[SESSION_TOKEN_LEN + 2];
    const char *auth;

    if (c->auth_dovecot_socket == NULL || c->auth_dovecot_socket[0] == '\0') {
        api_error(resp, 404, "auth_not_configured",
                  "user logins need [auth] dovecot_socket in mailstate.conf");
        return -1;
    }
    auth = req->header ? req->header(req->header_cls, "Authorization") : NULL;
    if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
        unsigned char raw[DVAUTH_USER_MAX + 1100];
        size_t n = 0;
        const char *b = auth + 6;
        while (*b == ' ')
            b++;
        if (sodium_base642bin(raw, sizeof raw - 1, b, strlen(b), " ", &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            memchr(raw, '\0', n) != NULL) {
            me_unauthorized(req, resp, "malformed Basic credentials");
            return -1;
        }
        raw[n] = '\0';
        char *colon = strchr((char *)raw, ':');
        if (colon == NULL || colon == (char *)raw || colon[1] == '\0') {
            sodium_memzero(raw, sizeof raw);
            me_unauthorized(req, resp, "Basic credentials need user:password");
            return -1;
        }
        *colon = '\0';
        int rc = me_check_password(ctx, req, (char *)raw, colon + 1, u, resp);
        sodium_memzero(raw, sizeof raw);
        return rc;
    }
    if (me_cookie(req, tok, sizeof tok) != NULL) {
        memset(u, 0, sizeof *u);
        if (session_get(tok, req->now_ms, u->user) == 0) {
            me_fill(c, u);
            u->by_cookie = 1;
            return 0;
        }
        me_unauthorized(req, resp, "the session has ended; log in again");
        return -1;
    }
    me_unauthorized(req, resp, "log in with your mail password");
    return -1;
}

/*
 * A state-changing request from another site is refused (CSRF): besides
 * the SameSite=Strict cookie, the browser's Sec-Fetch-Site must say
 * same-origin (or none: typed by the user), and an Origin, when sent, must
 * be this server's (public_url's origin, or http(s)://Host).
 */
static int me_same_site(const struct api_ctx *ctx, const struct api_req *req)
{
    const char *sfs = req->header(req->header_cls, "Sec-Fetch-Site");
    const char *origin = req->header(req->header_cls, "Origin");
    const char *host = req->header(req->header_cls, "Host");
    const char *pub = ctx->conf->tracker_public_url;

    if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0)
        return 0;
    if (origin == NULL || strcmp(origin, "null") == 0)
        return origin == NULL;
    if (pub && pub[0]) {
        const char *p = strstr(pub, "://");
        size_t n = p ? (size_t)(strcspn(p + 3, "/") + (size_t)(p + 3 - pub)) : strlen(pub);
        if (strlen(origin) == n && strncasecmp(origin, pub, n) == 0)
            return 1;
    }
    if (host) {
        const char *o = strstr(origin, "://");
        if (o && strcasecmp(o + 3, host) == 0)
            return 1;
    }
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static void me_time(struct jw *w, const char *key, uint64_t ms)
{
    char buf[RENDER_TIME_LEN + 1];
    render_time(ms, buf);
    jw_key(w, key);
    jw_strn(w, buf, RENDER_TIME_LEN);
}

static void me_jw(struct api_resp *resp, struct jw *w)
{
    free(resp->body);
    resp->status = 200;
    resp->body = jw_finish(w, &resp->body_len);
    resp->content_type = "application/json";
}

static void me_store_error(struct api_resp *resp, int rc)
{
    if (rc == STORE_EINVAL)
        api_error(resp, 400, "bad_query", "%s", store_strerror(rc));
    else
        api_error(resp, 503, "store_error", "%s", store_strerror(rc));
}

/* ---- query parameters ---------------------------------------------------- */

struct me_q {
    struct store_query q;
    struct addr        rcpt;
    const char        *msgids[STORE_MSGID_MAX];
    size_t             n_msgids;
    int                has_msgid;
};

/* allowed: a NULL-terminated list of parameter names. */
static int me_parse_q(const struct api_req *req, const char *const *allowed, struct me_q *mq,
                      struct api_resp *resp)
{
    memset(mq, 0, sizeof *mq);
    mq->q.status = -1;
    mq->q.limit = 50;
    for (size_t i = 0; i < req->n_args; i++) {
        const char *k = req->args[i].key, *v = req->args[i].value;
        size_t j = 0;
        while (allowed[j] && strcmp(allowed[j], k) != 0)
            j++;
        if (allowed[j] == NULL) {
            api_error(resp, 400, "bad_query", "unknown parameter \"%.64s\"", k);
            return -1;
        }
        if (v == NULL || v[0] == '\0')
            continue;
        if (strcmp(k, "message_id") == 0) {
            if (mq->n_msgids == STORE_MSGID_MAX) {
                api_error(resp, 400, "bad_query", "at most %d message_id values",
                          STORE_MSGID_MAX);
                return -1;
            }
            mq->msgids[mq->n_msgids++] = v;
            mq->has_msgid = 1;
        } else if (strcmp(k, "since") == 0 || strcmp(k, "until") == 0) {
            uint64_t ms;
            if (render_parse_time(v, &ms) != 0) {
                api_error(resp, 400, "bad_query", "%s is not an RFC 3339 date-time", k);
                return -1;
            }
            if (k[0] == 's')
                mq->q.since_ms = ms;
            else
                mq->q.until_ms = ms;
        } else if (strcmp(k, "status") == 0) {
            if ((mq->q.status = store_status_parse(v)) < 0) {
                api_error(resp, 400, "bad_query", "unknown status \"%.32s\"", v);
                return -1;
            }
        } else if (strcmp(k, "recipient") == 0) {
            if (addr_parse_str(v, &mq->rcpt) != ADDR_OK || mq->rcpt.is_null) {
                api_error(resp, 400, "bad_query", "recipient is not an address");
                return -1;
            }
            mq->q.recipient = mq->rcpt.key;
        } else if (strcmp(k, "limit") == 0) {
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (!isdigit((unsigned char)v[0]) || *end || errno || n < 1 || n > 1000) {
                api_error(resp, 400, "bad_query", "limit must be 1 to 1000");
                return -1;
            }
            mq->q.limit = n;
        } else if (strcmp(k, "cursor") == 0) {
            if (strlen(v) != MAILID_ID_LEN || !mailid_id_valid(v, MAILID_ID_LEN)) {
                api_error(resp, 400, "bad_query", "cursor is not a next_cursor value");
                return -1;
            }
            mq->q.cursor = v;
        }
    }
    return 0;
}

/* ---- handlers ------------------------------------------------------------ */

static void me_get(const struct api_ctx *ctx, const struct api_req *req,
                   struct api_resp *resp)
{
    struct me_user u;
    if (me_identify(ctx, req, &u, resp) != 0)
        return;
    api_json(resp, 200, json_pack("{s:s, s:s?, s:b}", "user", u.user, "address",
                                  u.address[0] ? u.address : NULL, "admin", u.admin));
}

static const char *me_login(const struct me_user *u)
{
    return u->user;
}

static const char *me_addr(const struct me_user *u)
{
    return u->address[0] ? u->address : NULL;
}

static void me_sent(const struct api_ctx *ctx, const struct api_req *req,
                    struct api_resp *resp)
{
    static const char *const allowed[] = { "since", "until", "message_id", "status",
                                           "recipient", "limit", "cursor", NULL };
    struct me_user u;
    struct me_q mq;
    struct store_list l;
    int rc;

    if (me_identify(ctx, req, &u, resp) != 0 || me_parse_q(req, allowed, &mq, resp) != 0 ||
        !api_barrier(ctx, NULL, resp))
        return;
    if (mq.has_msgid)
        rc = store_find_msgids(ctx->store, me_login(&u), me_addr(&u), mq.msgids,
                               mq.n_msgids, &l);
    else
        rc = store_list_sent(ctx->store, me_login(&u), me_addr(&u), &mq.q, &l);
    if (rc != STORE_OK) {
        me_store_error(resp, rc);
        return;
    }
    struct jw w;
    jw_init(&w, 1024);
    jw_obj_open(&w);
    jw_key(&w, "mails");
    jw_arr_open(&w);
    for (size_t i = 0; i < l.n_mails; i++)
        render_mail(&w, &l.mails[i]);
    jw_arr_close(&w);
    jw_key(&w, "next_cursor");
    jw_str(&w, l.next_cursor);
    jw_obj_close(&w);
    store_list_clear(&l);
    me_jw(resp, &w);
}

static void me_sent_one(const struct api_ctx *ctx, const struct api_req *req,
                        struct api_resp *resp)
{
    struct me_user u;
    char id[MAILID_ID_LEN + 1];
    struct store_mail_rec *rec = NULL;

    if (me_identify(ctx, req, &u, resp) != 0)
        return;
    if (req->arg_len != MAILID_ID_LEN) {
        api_error(resp, 400, "bad_mail_id", "expected a mail id (26 characters)");
        return;
    }
    for (size_t i = 0; i < MAILID_ID_LEN; i++)
        id[i] = (char)toupper((unsigned char)req->arg[i]);
    id[MAILID_ID_LEN] = '\0';
    if (!mailid_id_valid(id, MAILID_ID_LEN)) {
        api_error(resp, 400, "bad_mail_id", "not a mail id");
        return;
    }
    if (!api_barrier(ctx, id, resp))
        return;
    int rc = store_get_mail(ctx->store, id, &rec);
    /* Another user's mail is answered exactly like a missing one. */
    if (rc == STORE_OK &&
        !((rec->mail.login && strcmp(rec->mail.login, u.user) == 0) ||
          (u.address[0] && strcmp(rec->mail.sender, u.address) == 0)))
        rc = STORE_ENOTFOUND;
    if (rc == STORE_ENOTFOUND) {
        store_mail_rec_free(rec);
        api_error(resp, 404, "mail_not_found", "no such mail of yours");
        return;
    }
    if (rc != STORE_OK) {
        me_store_error(resp, rc);
        return;
    }
    struct jw w;
    jw_init(&w, 1024);
    render_mail(&w, rec);
    store_mail_rec_free(rec);
    me_jw(resp, &w);
}

static void me_reads(const struct api_ctx *ctx, const struct api_req *req,
                     struct api_resp *resp)
{
    static const char *const allowed[] = { "since", "until", "limit", "cursor", NULL };
    struct me_user u;
    struct me_q mq;
    struct store_list l;

    if (me_identify(ctx, req, &u, resp) != 0 || me_parse_q(req, allowed, &mq, resp) != 0)
        return;
    struct jw w;
    jw_init(&w, 1024);
    jw_obj_open(&w);
    jw_key(&w, "reads");
    jw_arr_open(&w);
    if (u.address[0] == '\0') {
        jw_arr_close(&w);
        jw_key(&w, "next_cursor");
        jw_str(&w, "");
        jw_obj_close(&w);
        me_jw(resp, &w);
        return;
    }
    if (!api_barrier(ctx, NULL, resp)) {
        free(jw_finish(&w, NULL));
        return;
    }
    mq.q.recipient = u.address;
    int rc = store_list(ctx->store, &mq.q, &l);
    if (rc != STORE_OK) {
        free(jw_finish(&w, NULL));
        me_store_error(resp, rc);
        return;
    }
    for (size_t i = 0; i < l.n_mails; i++) {
        const struct store_mail_rec *rec = &l.mails[i];
        for (size_t j = 0; j < rec->n_rcpts; j++) {
            const struct store_rcpt *r = &rec->rcpts[j];
            if (strcmp(r->address, u.address) != 0)
                continue;
            /* Only my own entry: never the other recipients of the mail. */
            jw_obj_open(&w);
            jw_key(&w, "mail_id");
            jw_strn(&w, rec->mail.id, MAILID_ID_LEN);
            jw_key(&w, "sender");
            jw_str(&w, rec->mail.sender);
            me_time(&w, "created", rec->mail.created_ms);
            if (rec->mail.subject) {
                jw_key(&w, "subject");
                jw_str(&w, rec->mail.subject);
            }
            jw_key(&w, "status");
            jw_str(&w, store_status_name(r->status));
            if (r->first_read_ms) {
                me_time(&w, "first_read", r->first_read_ms);
                me_time(&w, "last_read", r->last_read_ms);
            }
            jw_key(&w, "read_count");
            jw_int(&w, r->read_count);
            if (r->via[0]) {
                jw_key(&w, "via");
                jw_strn(&w, r->via, strnlen(r->via, sizeof r->via));
            }
            jw_obj_close(&w);
        }
    }
    jw_arr_close(&w);
    jw_key(&w, "next_cursor");
    jw_str(&w, l.next_cursor);
    jw_obj_close(&w);
    store_list_clear(&l);
    me_jw(resp, &w);
}

static void me_all(const struct api_ctx *ctx, const struct api_req *req,
                   struct api_resp *resp)
{
    struct me_user u;
    if (me_identify(ctx, req, &u, resp) != 0)
        return;
    if (!u.admin) {
        api_error(resp, 403, "forbidden", "only [auth] admins search the whole mail log");
        return;
    }
    struct api_req r2 = *req;
    r2.route = ROUTE_MAILS;
    api_handle(ctx, &r2, resp);
}

/* ---- the session --------------------------------------------------------- */

/* user and password from a JSON or form body; 0 or -1. */
static int me_body_creds(const struct api_req *req, char *user, size_t ul, char *pass,
                         size_t pl)
{
    const char *ct = req->header(req->header_cls, "Content-Type");
    int rc = -1;

    if (req->body == NULL || req->body_len == 0)
        return -1;
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        char *body = xstrndup(req->body, req->body_len), *save = NULL;
        int got = 0;
        for (char *kv = strtok_r(body, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq == NULL)
                continue;
            *eq = '\0';
            for (char *p = eq + 1; *p; p++)
                if (*p == '+')
                    *p = ' ';
            int n = 0;
            char *v = curl_easy_unescape(NULL, eq + 1, 0, &n);
            if (v == NULL)
                continue;
            if (memchr(v, '\0', (size_t)n) == NULL) {
                if (strcmp(kv, "user") == 0 && (size_t)n < ul) {
                    memcpy(user, v, (size_t)n + 1);
                    got |= 1;
                } else if (strcmp(kv, "password") == 0 && (size_t)n < pl) {
                    memcpy(pass, v, (size_t)n + 1);
                    got |= 2;
                }
            }
            sodium_memzero(v, (size_t)n);
            curl_free(v);
        }
        sodium_memzero(body, req->body_len);
        free(body);
        return got == 3 ? 0 : -1;
    }
    json_error_t err;
    json_t *o = json_loadb(req->body, req->body_len, 0, &err);
    const char *u = json_string_value(json_object_get(o, "user"));
    const char *p = json_string_value(json_object_get(o, "password"));
    if (u && p && strlen(u) < ul && strlen(p) < pl) {
        strcpy(user, u);
        strcpy(pass, p);
        rc = 0;
    }
    /* jansson keeps its own copy of the password: wipe it before freeing. */
    if (p)
        sodium_memzero((void *)(uintptr_t)p, strlen(p));
    json_decref(o);
    return rc;
}

static const char *me_secure(const struct api_ctx *ctx)
{
    return strncmp(ctx->conf->tracker_public_url, "https://", 8) == 0 ? "; Secure" : "";
}

static void me_session(const struct api_ctx *ctx, const struct api_req *req,
                       struct api_resp *resp)
{
    char user[DVAUTH_USER_MAX + 1], pass[1025], tok[SESSION_TOKEN_LEN + 1];
    struct me_user u;

    if (ctx->conf->auth_dovecot_socket[0] == '\0') {
        api_error(resp, 404, "auth_not_configured",
                  "user logins need [auth] dovecot_socket in mailstate.conf");
        return;
    }
    if (!me_same_site(ctx, req)) {
        api_error(resp, 403, "cross_site", "a login from another site is refused");
        return;
    }
    if (me_body_creds(req, user, sizeof user, pass, sizeof pass) != 0) {
        api_error(resp, 400, "bad_field", "send user and password (JSON or a form)");
        return;
    }
    int rc = me_check_password(ctx, req, user, pass, &u, resp);
    sodium_memzero(pass, sizeof pass);
    if (rc != 0)
        return;
    session_new(u.user, req->now_ms, (unsigned)ctx->conf->auth_session_ttl, tok);
    api_json(resp, 200, json_pack("{s:s, s:s?, s:b}", "user", u.user, "address",
                                  u.address[0] ? u.address : NULL, "admin", u.admin));
    api_resp_header(resp, "Set-Cookie", ME_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
                    "Max-Age=%d%s", tok, ctx->conf->auth_session_ttl, me_secure(ctx));
    sodium_memzero(tok, sizeof tok);
}

static void me_session_end(const struct api_ctx *ctx, const struct api_req *req,
                           struct api_resp *resp)
{
    char tok[SESSION_TOKEN_LEN + 2];

    if (!me_same_site(ctx, req)) {
        api_error(resp, 403, "cross_site", "a logout from another site is refused");
        return;
    }
    if (me_cookie(req, tok, sizeof tok))
        session_end(tok);
    api_json(resp, 200, json_pack("{s:b}", "logged_out", 1));
    api_resp_header(resp, "Set-Cookie", ME_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
                    "Max-Age=0%s", me_secure(ctx));
}

/* ---- the web page's files ----------------------------------------------- */

static const char *me_ctype(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".css",  "text/css; charset=utf-8" },
        { ".js",   "text/javascript; charset=utf-8" },
        { ".svg",  "image/svg+xml" },
        { ".png",  "image/png" },
        { ".ico",  "image/x-icon" },
        { NULL, NULL },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && types[i].ext; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* Only names like "app.js": letters, digits, '-', '_', one inner '.', a
 * known extension.  No '/', no "..", no hidden files. */
static int me_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > 64 || name[0] == '.')
        return 0;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.')
            dots++;
        else if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return 0;
    }
    return dots == 1;
}

static void me_file(const struct api_ctx *ctx, const char *name, size_t n,
                    struct api_resp *resp)
{
    char fname[65], path[4096];
    struct stat sb;
    const char *ct;

    if (!me_name_ok(name, n)) {
        api_error(resp, 404, "not_found", "no such file");
        return;
    }
    memcpy(fname, name, n);
    fname[n] = '\0';
    if ((ct = me_ctype(fname)) == NULL) {
        api_error(resp, 404, "not_found", "no such file");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", ctx->conf->tracker_www_dir, fname);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > ME_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        api_error(resp, 404, "not_found", "no such file");
        return;
    }
    char *buf = xmalloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    free(resp->body);
    resp->status = 200;
    resp->body = buf;
    resp->body_len = got;
    resp->content_type = ct;
}

static void me_www_index(const struct api_ctx *ctx, const struct api_req *req,
                         struct api_resp *resp)
{
    (void)req;
    me_file(ctx, "index.html", 10, resp);
}

static void me_www(const struct api_ctx *ctx, const struct api_req *req,
                   struct api_resp *resp)
{
    me_file(ctx, req->arg, req->arg_len, resp);
}

void me_register(void)
{
    api_register(ROUTE_ME, me_get);
    api_register(ROUTE_ME_SENT, me_sent);
    api_register(ROUTE_ME_SENT_ONE, me_sent_one);
    api_register(ROUTE_ME_READS, me_reads);
    api_register(ROUTE_ME_ALL, me_all);
    api_register(ROUTE_SESSION, me_session);
    api_register(ROUTE_SESSION_END, me_session_end);
    api_register(ROUTE_WWW_INDEX, me_www_index);
    api_register(ROUTE_WWW, me_www);
}
