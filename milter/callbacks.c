/*
 * callbacks - libmilter callbacks of mailstate-milter; see callbacks.h.
 *
 * One struct ms_conn per MTA connection, allocated at negotiation and freed
 * only in mlfi_close (libmilter calls it for every connection, after abort
 * too), so there is one place that frees.  Per-message state is reset at
 * MAIL FROM, end-of-data and abort.
 */
#include "callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "decide.h"
#include "log.h"
#include "store.h"
#include "xmem.h"

struct strv {
    char  **v;
    size_t  n, cap;
};

struct ms_conn {
    struct conf   *conf;           /* snapshot held for the whole connection */
    unsigned long  actions;        /* SMFIF_* the MTA granted */
    unsigned long  noreply;        /* SMFIP_NR_* in effect */
    char           client_addr[INET6_ADDRSTRLEN + 1];
    /* the current message */
    char          *sender;
    int            authenticated;
    char          *auth_login;     /* {auth_authen}, NULL if none */
    char          *queue_id;
    struct strv    rcpts;
    struct strv    mailid_hdrs;
    struct strv    sender_hdrs;
    char          *message_id;
    char          *subject;
};

static pthread_mutex_t cb_conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conf *cb_conf;

static int cb_busy;              /* end-of-data callbacks running now */

/*
 * The store handle: read-locked (cb_store_rw) by every writer of records,
 * write-locked by callbacks_close_store(), so the store is never closed
 * under a write.  Opening (at start, or retried at end-of-data) is
 * serialised by cb_store_lock; the pointer itself is read atomically.
 */
static pthread_rwlock_t cb_store_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t cb_store_lock = PTHREAD_MUTEX_INITIALIZER;
static store_t *cb_store;
static int cb_store_closing;
static time_t cb_store_next_try;

/* ---- configuration and store holders ---- */

void callbacks_set_conf(struct conf *c)
{
    struct conf *old;

    pthread_mutex_lock(&cb_conf_lock);
    old = cb_conf;
    cb_conf = c ? conf_ref(c) : NULL;
    pthread_mutex_unlock(&cb_conf_lock);
    if (old)
        conf_unref(old);
}

struct conf *callbacks_get_conf(void)
{
    struct conf *c;

    pthread_mutex_lock(&cb_conf_lock);
    c = cb_conf ? conf_ref(cb_conf) : NULL;
    pthread_mutex_unlock(&cb_conf_lock);
    return c;
}

/* Caller holds cb_store_lock. */
static int cb_store_open_locked(void)
{
    struct conf *c = callbacks_get_conf();
    struct store_opts o;
    char err[256] = "";
    int rc;

    if (c == NULL)
        return -1;
    memset(&o, 0, sizeof(o));
    o.path = c->store_path;
    o.map_size = c->store_map_size;
    o.map_size_max = c->store_map_size_max;
    o.group_commit = 1;
    store_t *st = NULL;
    rc = store_open(&o, &st, err, sizeof(err));
    if (rc == STORE_OK) {
        __atomic_store_n(&cb_store, st, __ATOMIC_RELEASE);
    } else {
        cb_store_next_try = time(NULL) + CALLBACKS_STORE_RETRY;
        log_error("cannot open the mail log %s: %s (mail passes untagged; retrying in %ds)",
                  o.path, err[0] ? err : store_strerror(rc), CALLBACKS_STORE_RETRY);
    }
    conf_unref(c);
    return rc == STORE_OK ? 0 : -1;
}

int callbacks_open_store(void)
{
    int rc = 0;

    pthread_mutex_lock(&cb_store_lock);
    if (cb_store == NULL)
        rc = cb_store_open_locked();
    pthread_mutex_unlock(&cb_store_lock);
    return rc;
}

/* Write the records; STORE_ECLOSED when there is no open store. */
static int cb_store_put(const struct decide_out *out)
{
    store_t *st;
    int rc = STORE_ECLOSED;

    pthread_rwlock_rdlock(&cb_store_rw);
    if ((st = __atomic_load_n(&cb_store, __ATOMIC_ACQUIRE)) == NULL && !cb_store_closing) {
        pthread_mutex_lock(&cb_store_lock);
        if (cb_store == NULL && time(NULL) >= cb_store_next_try)
            (void)cb_store_open_locked();
        pthread_mutex_unlock(&cb_store_lock);
        st = __atomic_load_n(&cb_store, __ATOMIC_ACQUIRE);
    }
    if (st != NULL)
        rc = store_put_sent(st, &out->mail, out->rcpts, out->n_rcpts);
    pthread_rwlock_unlock(&cb_store_rw);
    return rc;
}

void callbacks_close_store(void)
{
    pthread_rwlock_wrlock(&cb_store_rw);
    cb_store_closing = 1;
    pthread_mutex_lock(&cb_store_lock);
    cb_store = store_close(cb_store);
    pthread_mutex_unlock(&cb_store_lock);
    pthread_rwlock_unlock(&cb_store_rw);
}

int callbacks_busy(void)
{
    return __atomic_load_n(&cb_busy, __ATOMIC_SEQ_CST);
}

/* ---- per-connection state ---- */

static void strv_push(struct strv *sv, const char *s)
{
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 8;
        sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
    }
    sv->v[sv->n++] = xstrdup(s ? s : "");
}

static void strv_clear(struct strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        sv->v[i] = xfree(sv->v[i]);
    sv->n = 0;
}

static void strv_free(struct strv *sv)
{
    strv_clear(sv);
    sv->v = xfree(sv->v);
    sv->cap = 0;
}

static void msg_reset(struct ms_conn *mc)
{
    mc->sender = xfree(mc->sender);
    mc->queue_id = xfree(mc->queue_id);
    mc->message_id = xfree(mc->message_id);
    mc->auth_login = xfree(mc->auth_login);
    mc->subject = xfree(mc->subject);
    mc->authenticated = 0;
    strv_clear(&mc->rcpts);
    strv_clear(&mc->mailid_hdrs);
    strv_clear(&mc->sender_hdrs);
}

static struct ms_conn *conn_get(SMFICTX *ctx)
{
    struct ms_conn *mc = smfi_getpriv(ctx);

    if (mc == NULL) {
        mc = xcalloc(1, sizeof(*mc));
        mc->conf = callbacks_get_conf();
        smfi_setpriv(ctx, mc);
    }
    return mc;
}

/* Reply for a step the MTA may have told us not to answer. */
static sfsistat cb_reply(const struct ms_conn *mc, unsigned long nr_flag)
{
    return (mc != NULL && (mc->noreply & nr_flag)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static void cb_set_queue_id(SMFICTX *ctx, struct ms_conn *mc)
{
    const char *qid = smfi_getsymval(ctx, "i");

    if (qid != NULL && qid[0] != '\0' && (mc->queue_id == NULL || strcmp(mc->queue_id, qid))) {
        mc->queue_id = xfree(mc->queue_id);
        mc->queue_id = xstrdup(qid);
    }
}

/* ---- callbacks ---- */

static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                               unsigned long f2, unsigned long f3, unsigned long *pf0,
                               unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    /* Steps we never look at, and steps we never answer (we only act at EOM). */
    const unsigned long skip = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
                               SMFIP_NODATA | SMFIP_NOEOH;
    const unsigned long quiet = SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR;
    struct ms_conn *mc = conn_get(ctx);

    (void)f2;
    (void)f3;
    mc->actions = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST);
    mc->noreply = f1 & quiet;
    *pf0 = mc->actions;
    *pf1 = (f1 & skip) | mc->noreply;
    *pf2 = 0;
    *pf3 = 0;
    if (mc->actions & SMFIF_SETSYMLIST) {
        /* Ask for exactly the macros we read (Postfix and Sendmail honour this). */
        (void)smfi_setsymlist(ctx, SMFIM_CONNECT, "{client_addr}");
        (void)smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
        (void)smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    return SMFIS_CONTINUE;
}

static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
    struct ms_conn *mc = conn_get(ctx);
    const char *m;

    (void)hostname;
    mc->client_addr[0] = '\0';
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  mc->client_addr, sizeof(mc->client_addr));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  mc->client_addr, sizeof(mc->client_addr));
    else if ((m = smfi_getsymval(ctx, "{client_addr}")) != NULL)
        snprintf(mc->client_addr, sizeof(mc->client_addr), "%s", m);
    return cb_reply(mc, SMFIP_NR_CONN);
}

static sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
    struct ms_conn *mc = conn_get(ctx);
    const char *auth = smfi_getsymval(ctx, "{auth_authen}");

    msg_reset(mc);
    mc->sender = xstrdup(argv && argv[0] ? argv[0] : "");
    mc->authenticated = auth != NULL && auth[0] != '\0';
    mc->auth_login = mc->authenticated ? xstrdup(auth) : NULL;
    cb_set_queue_id(ctx, mc);
    return cb_reply(mc, SMFIP_NR_MAIL);
}

static sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
    struct ms_conn *mc = conn_get(ctx);

    if (argv && argv[0])
        strv_push(&mc->rcpts, argv[0]);
    return cb_reply(mc, SMFIP_NR_RCPT);
}

static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
    struct ms_conn *mc = conn_get(ctx);
    const struct conf *c = mc->conf;

    if (c == NULL || name == NULL)
        return cb_reply(mc, SMFIP_NR_HDR);
    /* Every occurrence counts (deletion indexes); only the first few are
       ever looked at (decide.h), so the rest keep no copy of their value. */
    if (strcasecmp(name, c->header_mail_id) == 0)
        strv_push(&mc->mailid_hdrs, mc->mailid_hdrs.n < DECIDE_KEEP_TRY ? value : "");
    else if (strcasecmp(name, c->header_sender) == 0)
        strv_push(&mc->sender_hdrs, mc->sender_hdrs.n < DECIDE_KEEP_TRY ? value : "");
    else if (mc->message_id == NULL && strcasecmp(name, "Message-ID") == 0)
        mc->message_id = xstrdup(value ? value : "");
    else if (mc->subject == NULL && c->record_subject && strcasecmp(name, "Subject") == 0)
        mc->subject = xstrdup(value ? value : "");
    return cb_reply(mc, SMFIP_NR_HDR);
}

/* Our own trouble: one log line, then accept unchanged or tempfail. */
static sfsistat cb_trouble(const struct ms_conn *mc, const char *what, const char *detail)
{
    int tempfail = mc->conf && mc->conf->milter_on_error == CONF_ON_ERROR_TEMPFAIL;

    log_error("%s: %s; %s", what, detail,
              tempfail ? "answering 4xx (on_error = tempfail)" : "passing the mail untagged");
    return tempfail ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

/* Delete occurrences highest index first: indexes shift after a delete. */
static int cb_delete(SMFICTX *ctx, const char *name, const size_t *idx, size_t n)
{
    int failed = 0;

    for (size_t i = 0; i < n; i++)
        if (smfi_chgheader(ctx, (char *)(uintptr_t)name, (int)idx[i], NULL) != MI_SUCCESS)
            failed++;
    return failed;
}

static sfsistat mlfi_eom(SMFICTX *ctx)
{
    struct ms_conn *mc = conn_get(ctx);
    const struct conf *c = mc->conf;
    struct decide_in in;
    struct decide_out out;
    sfsistat ret = SMFIS_CONTINUE;
    int trouble = 0, rc;

    __atomic_add_fetch(&cb_busy, 1, __ATOMIC_SEQ_CST);
    cb_set_queue_id(ctx, mc);
    log_context("milter %s", mc->queue_id ? mc->queue_id : "NOQUEUE");
    if (c == NULL) {
        ret = cb_trouble(mc, "no configuration", "none loaded");
        goto done;
    }
    if (mc->client_addr[0] == '\0') {
        const char *m = smfi_getsymval(ctx, "{client_addr}");
        if (m)
            snprintf(mc->client_addr, sizeof(mc->client_addr), "%s", m);
    }

    memset(&in, 0, sizeof(in));
    in.conf = c;
    in.sender = mc->sender;
    in.authenticated = mc->authenticated;
    in.auth_login = mc->auth_login;
    in.client_addr = mc->client_addr[0] ? mc->client_addr : NULL;
    in.rcpts = (const char *const *)mc->rcpts.v;
    in.n_rcpts = mc->rcpts.n;
    in.mailid_hdrs = (const char *const *)mc->mailid_hdrs.v;
    in.n_mailid_hdrs = mc->mailid_hdrs.n;
    in.sender_hdrs = (const char *const *)mc->sender_hdrs.v;
    in.n_sender_hdrs = mc->sender_hdrs.n;
    in.queue_id = mc->queue_id;
    in.message_id = mc->message_id;
    in.subject = mc->subject;
    rc = decide(&in, &out);
    if (rc < 0) {
        ret = cb_trouble(mc, "cannot make a mail id", out.reason);
        trouble = 1;
        if (ret != SMFIS_CONTINUE)
            goto clear;
    }
    if (out.action == DECIDE_TAG && (mc->actions & SMFIF_ADDHDRS) == 0) {
        ret = cb_trouble(mc, "cannot add headers", "the MTA did not grant SMFIF_ADDHDRS");
        trouble = 1;
        if (ret != SMFIS_CONTINUE)
            goto clear;
    }

    /* Forged headers that cannot be removed would pass as genuine: that is
     * the milter's trouble (on_error), never a silent pass. */
    if (!trouble && out.n_del_mailid + out.n_del_sender > 0 &&
        (mc->actions & SMFIF_CHGHDRS) == 0) {
        ret = cb_trouble(mc, "cannot remove incoming tracking headers",
                         "the MTA did not grant SMFIF_CHGHDRS");
        trouble = 1;
        if (ret != SMFIS_CONTINUE)
            goto clear;
    }

    /* The records are durable before the reply (and before the headers go in). */
    if (!trouble && out.n_rcpts > 0) {
        rc = cb_store_put(&out);
        if (rc != STORE_OK) {
            ret = cb_trouble(mc, "mail log write failed", rc == STORE_ECLOSED
                                 ? "mail log not open" : store_strerror(rc));
            trouble = 1;
            if (ret != SMFIS_CONTINUE)
                goto clear;
        }
    }

    /* Forged or unverifiable ids go in every case (where the MTA lets us). */
    if (out.n_del_mailid + out.n_del_sender > 0 && (mc->actions & SMFIF_CHGHDRS) != 0) {
        int failed = cb_delete(ctx, c->header_mail_id, out.del_mailid, out.n_del_mailid) +
                     cb_delete(ctx, c->header_sender, out.del_sender, out.n_del_sender);
        if (failed)
            log_error("could not delete %d incoming header(s)", failed);
        else
            log_info("removed %zu %s and %zu %s header(s)", out.n_del_mailid,
                     c->header_mail_id, out.n_del_sender, c->header_sender);
    }

    if (!trouble && out.action == DECIDE_TAG) {
        /* Inserted at 0 in reverse order: X-Mail-Id then X-Sender, above Received:. */
        if (smfi_insheader(ctx, 0, c->header_sender, out.sender_value) != MI_SUCCESS ||
            smfi_insheader(ctx, 0, c->header_mail_id, out.mailid_value) != MI_SUCCESS)
            ret = cb_trouble(mc, "header insert failed", out.mailid_value);
        else
            log_info("%s", out.reason);
    } else if (!trouble) {
        if (out.action == DECIDE_KEEP || out.notice)
            log_info("%s%s", out.notice ? "not tagged: " : "", out.reason);
        else
            log_debug("not tagged: %s", out.reason);
    }

clear:
    decide_out_clear(&out);
done:
    msg_reset(mc);
    log_context(NULL);
    __atomic_sub_fetch(&cb_busy, 1, __ATOMIC_SEQ_CST);
    return ret;
}

static sfsistat mlfi_abort(SMFICTX *ctx)
{
    struct ms_conn *mc = smfi_getpriv(ctx);

    if (mc)
        msg_reset(mc);
    return SMFIS_CONTINUE;
}

static sfsistat mlfi_close(SMFICTX *ctx)
{
    struct ms_conn *mc = smfi_getpriv(ctx);

    if (mc) {
        msg_reset(mc);
        strv_free(&mc->rcpts);
        strv_free(&mc->mailid_hdrs);
        strv_free(&mc->sender_hdrs);
        if (mc->conf)
            mc->conf = conf_unref(mc->conf);
        free(mc);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc callbacks_desc = {
    .xxfi_name      = "mailstate-milter",
    .xxfi_version   = SMFI_VERSION,
    .xxfi_flags     = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
    .xxfi_connect   = mlfi_connect,
    .xxfi_helo      = NULL,
    .xxfi_envfrom   = mlfi_envfrom,
    .xxfi_envrcpt   = mlfi_envrcpt,
    .xxfi_header    = mlfi_header,
    .xxfi_eoh       = NULL,
    .xxfi_body      = NULL,
    .xxfi_eom       = mlfi_eom,
    .xxfi_abort     = mlfi_abort,
    .xxfi_close     = mlfi_close,
    .xxfi_unknown   = NULL,
    .xxfi_data      = NULL,
    .xxfi_negotiate = mlfi_negotiate,
};
