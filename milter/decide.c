/*
 * decide - end-of-data decisions of mailstate-milter; see decide.h.
 */
#include "decide.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "addr.h"
#include "msys.h"
#include "xmem.h"

static uint64_t decide_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

int decide_value_ok(const char *v, size_t max)
{
    size_t n = 0;

    if (v == NULL)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
        if (n >= max)
            return 0;
    }
    return 1;
}

/* Indexes 1..n except keep (0 = none), highest first. */
static size_t *decide_deletions(size_t n, size_t keep, size_t *count)
{
    size_t *idx = NULL, k = 0;

    if (n > 0)
        idx = xcalloc(n, sizeof(*idx));
    for (size_t i = n; i >= 1; i--)
        if (i != keep)
            idx[k++] = i;
    *count = k;
    if (k == 0)
        idx = xfree(idx);
    return idx;
}

/*
 * Rule 1: the first (X-Mail-Id, X-Sender) pair that verifies, if the client
 * is trusted.  *mi / *si get 1-based indexes (0 = nothing kept).
 */
static void decide_find_kept(const struct decide_in *in, size_t *mi, size_t *si,
                             char id[MAILID_ID_LEN + 1], struct addr *xsender)
{
    const struct conf *c = in->conf;

    struct addr a[DECIDE_KEEP_TRY];
    int ok[DECIDE_KEEP_TRY];
    size_t n_id = in->n_mailid_hdrs, n_s = in->n_sender_hdrs;

    *mi = *si = 0;
    if (!msys_client_peer(c->msys, in->client_addr))
        return;
    /* Bounded: every pair is a MAC check, and the MTA waits for the reply. */
    if (n_id > DECIDE_KEEP_TRY)
        n_id = DECIDE_KEEP_TRY;
    if (n_s > DECIDE_KEEP_TRY)
        n_s = DECIDE_KEEP_TRY;
    for (size_t j = 0; j < n_s; j++) {
        const char *s = in->sender_hdrs[j];
        ok[j] = s != NULL && addr_parse_str(s, &a[j]) == ADDR_OK && !a[j].is_null;
    }
    for (size_t i = 0; i < n_id; i++) {
        const char *v = in->mailid_hdrs[i];
        if (v == NULL)
            continue;
        for (size_t j = 0; j < n_s; j++) {
            if (!ok[j])
                continue;
            if (mailid_verify_k(&c->mac_key, v, strlen(v), a[j].key, id) == MAILID_OK) {
                *mi = i + 1;
                *si = j + 1;
                *xsender = a[j];
                return;
            }
        }
    }
}

/*
 * The recipients to record: parsed, judged, deduplicated.  local_only keeps
 * only MSYS_LOCAL (rule 2); otherwise MSYS_LOCAL and MSYS_SYSTEM (rule 3).
 */
static void decide_recipients(const struct decide_in *in, int local_only,
                              struct decide_out *out, size_t *n_bad)
{
    const msys_t *ms = in->conf->msys;
    struct addr a;

    *n_bad = 0;
    if (in->n_rcpts == 0)
        return;
    out->rcpts = xcalloc(in->n_rcpts, sizeof(*out->rcpts));
    for (size_t i = 0; i < in->n_rcpts; i++) {
        const char *server = NULL;
        enum msys_where w;
        int dup = 0;

        if (in->rcpts[i] == NULL || addr_parse_str(in->rcpts[i], &a) != ADDR_OK || a.is_null) {
            (*n_bad)++;
            continue;
        }
        w = msys_judge_recipient(ms, a.key, &server);
        if (w == MSYS_EXTERNAL || (local_only && w != MSYS_LOCAL))
            continue;
        if (w == MSYS_LOCAL || server == NULL)
            server = msys_this_server(ms);
        for (size_t k = 0; k < out->n_rcpts && !dup; k++)
            dup = strcmp(out->rcpts[k].address, a.key) == 0;
        if (dup)
            continue;
        out->rcpts[out->n_rcpts].address = xstrdup(a.key);
        out->rcpts[out->n_rcpts].server = xstrdup(server ? server : "");
        out->rcpts[out->n_rcpts].status = STORE_SENT;
        out->n_rcpts++;
    }
    if (out->n_rcpts == 0)
        out->rcpts = xfree(out->rcpts);
}

/*
 * A copy of a header value for the mail log, at most DECIDE_FIELD_MAX bytes:
 * the store refuses longer fields, and a refused write would leave legal
 * mail (Postfix passes headers up to 100 kB) untagged, or deferred for good
 * with on_error = tempfail.  Cut before a UTF-8 continuation byte so no
 * half character is recorded.
 */
static char *decide_field(const char *v)
{
    size_t n;

    if (v == NULL)
        return NULL;
    n = strlen(v);
    if (n > DECIDE_FIELD_MAX) {
        n = DECIDE_FIELD_MAX;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    return xstrndup(v, n);
}

static void decide_fill_mail(const struct decide_in *in, struct decide_out *out,
                             const char *id, const char *sender_key, uint64_t created)
{
    memcpy(out->mail.id, id, MAILID_ID_LEN);
    out->mail.id[MAILID_ID_LEN] = '\0';
    out->mail.sender = xstrdup(sender_key);
    out->mail.created_ms = created;
    out->mail.queue_id = decide_field(in->queue_id);
    out->mail.message_id = decide_field(in->message_id);
    out->mail.subject = in->conf->record_subject ? decide_field(in->subject) : NULL;
    out->mail.n_rcpt = (uint32_t)in->n_rcpts;
    /* The login names whose mail this is (issue 12); one the store cannot
     * key (over 320 bytes, or with a NUL) is not recorded: the sender
     * address still identifies the mail. */
    out->mail.login = NULL;
    if (in->auth_login && in->auth_login[0] && strlen(in->auth_login) <= 320)
        out->mail.login = xstrdup(in->auth_login);
}

static void decide_record_clear(struct decide_out *out)
{
    for (size_t i = 0; i < out->n_rcpts; i++) {
        out->rcpts[i].address = xfree(out->rcpts[i].address);
        out->rcpts[i].server = xfree(out->rcpts[i].server);
    }
    out->rcpts = xfree(out->rcpts);
    out->n_rcpts = 0;
}

int decide(const struct decide_in *in, struct decide_out *out)
{
    const struct conf *c = in->conf;
    uint64_t now = in->now_ms ? in->now_ms : decide_now_ms();
    char id[MAILID_ID_LEN + 1];
    struct addr xsender, sender;
    size_t keep_mi, keep_si, n_bad;
    int rc = ADDR_OK;

    memset(out, 0, sizeof(*out));

    /* Rule 1: what goes, what stays. */
    decide_find_kept(in, &keep_mi, &keep_si, id, &xsender);
    out->del_mailid = decide_deletions(in->n_mailid_hdrs, keep_mi, &out->n_del_mailid);
    out->del_sender = decide_deletions(in->n_sender_hdrs, keep_si, &out->n_del_sender);

    /* Rule 2: a peer relayed a mail the system already tagged. */
    if (keep_mi) {
        out->action = DECIDE_KEEP;
        if (!c->tracking) {
            snprintf(out->reason, sizeof(out->reason), "kept id %s; tracking is off", id);
            return 0;
        }
        decide_recipients(in, 1, out, &n_bad);
        if (out->n_rcpts > 0)
            decide_fill_mail(in, out, id, xsender.key, mailid_time_ms(id));
        snprintf(out->reason, sizeof(out->reason),
                 "kept id %s from peer, %zu local recipient(s)", id, out->n_rcpts);
        return 0;
    }

    /* Rule 3: tag internal mail. */
    out->action = DECIDE_NONE;
    if (!c->tracking) {
        snprintf(out->reason, sizeof(out->reason), "tracking is off");
        return 0;
    }
    if (in->sender == NULL || (rc = addr_parse_str(in->sender, &sender)) != ADDR_OK) {
        snprintf(out->reason, sizeof(out->reason), "sender not used: %s",
                 in->sender == NULL ? "missing" : addr_strerror(rc));
        return 0;
    }
    if (sender.is_null) {
        snprintf(out->reason, sizeof(out->reason), "null sender");
        return 0;
    }
    if (!msys_sender_in_system(c->msys, sender.key, in->authenticated, in->client_addr)) {
        snprintf(out->reason, sizeof(out->reason), "sender %s not in the system (%s)",
                 sender.key, msys_domain_server(c->msys, sender.domain) == NULL
                     ? "domain outside" : "not authenticated, untrusted client");
        return 0;
    }
    if (c->milter_sender_login_check && in->authenticated &&
        !loginmap_allows(c->sender_login_map, sender.key, in->auth_login, c->recipient_delimiter)) {
        snprintf(out->reason, sizeof(out->reason),
                 "SMTP AUTH login %.64s may not send as %.200s (sender_login_check; "
                 "see sender_login_maps)", in->auth_login ? in->auth_login : "(unknown)", sender.key);
        out->notice = 1;
        return 0;
    }
    decide_recipients(in, 0, out, &n_bad);
    if (out->n_rcpts == 0) {
        snprintf(out->reason, sizeof(out->reason), "no recipient in the system");
        return 0;
    }
    /* Rule 4: both values or neither. */
    if (!decide_value_ok(sender.key, DECIDE_VALUE_MAX)) {
        snprintf(out->reason, sizeof(out->reason), "sender not fit for a header");
        decide_record_clear(out);
        return 0;
    }
    rc = mailid_make_k(&c->mac_key, sender.key, now, out->mailid_value);
    if (rc != MAILID_OK) {
        snprintf(out->reason, sizeof(out->reason), "no mail id: %s", mailid_strerror(rc));
        decide_record_clear(out);
        return rc;
    }
    out->sender_value = xstrdup(sender.key);
    out->action = DECIDE_TAG;
    decide_fill_mail(in, out, out->mailid_value, sender.key, now);
    snprintf(out->reason, sizeof(out->reason), "tagged %s, %zu of %zu recipient(s) in the system",
             out->mailid_value, out->n_rcpts, in->n_rcpts);
    return 0;
}

void decide_out_clear(struct decide_out *out)
{
    out->del_mailid = xfree(out->del_mailid);
    out->del_sender = xfree(out->del_sender);
    out->sender_value = xfree(out->sender_value);
    out->mail.sender = xfree(out->mail.sender);
    out->mail.queue_id = xfree(out->mail.queue_id);
    out->mail.message_id = xfree(out->mail.message_id);
    out->mail.subject = xfree(out->mail.subject);
    out->mail.login = xfree(out->mail.login);
    decide_record_clear(out);
    out->n_del_mailid = out->n_del_sender = 0;
    out->action = DECIDE_NONE;
}
