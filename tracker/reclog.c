/*
 * reclog - one line per recorded change and per refusal; see reclog.h.
 */
#include "reclog.h"

#include <jansson.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"
#include "mailid.h"
#include "tbucket.h"

#define RECLOG_DEFAULT_RATE 100

static struct tbucket reclog_ok = TBUCKET_INIT(RECLOG_DEFAULT_RATE, RECLOG_DEFAULT_RATE);
static struct tbucket reclog_bad = TBUCKET_INIT(RECLOG_DEFAULT_RATE, RECLOG_DEFAULT_RATE);

void reclog_set_rate(unsigned lines_per_s)
{
    tbucket_set(&reclog_ok, lines_per_s, lines_per_s);
    tbucket_set(&reclog_bad, lines_per_s, lines_per_s);
}

static const char *q(const char *s)
{
    return s && *s ? s : "?";
}

/* 1 if a line of this kind (a change, or bad: a refusal) may be written now. */
static int reclog_take(int bad)
{
    uint64_t dropped = 0;

    if (log_get_level() < LOG_LEVEL_INFO ||
        !tbucket_take(bad ? &reclog_bad : &reclog_ok, tbucket_now_ms(), &dropped))
        return 0;
    if (dropped > 0)
        log_warn("log: %llu %s lines suppressed (more than [log] rate per second)",
                 (unsigned long long)dropped, bad ? "refusal" : "change");
    return 1;
}

static void reclog_emit(const char *id, const char *rcpt, const char *event, const char *via,
                        const char *src_kind, const char *src_name, const char *reason,
                        const char *detail)
{
    if (reason == NULL)
        log_info("mail %.40s: rcpt %.100s: %.20s via %.20s from %s %.64s: recorded", q(id),
                 q(rcpt), q(event), q(via), q(src_kind), q(src_name));
    else if (detail && *detail)
        log_info("mail %.40s: rcpt %.100s: %.20s via %.20s from %s %.64s: %s: %.40s (%.200s)",
                 q(id), q(rcpt), q(event), q(via), q(src_kind), q(src_name),
                 strcmp(reason, "opt_out") == 0 || strcmp(reason, "tracking_off") == 0
                     ? "not recorded" : "refused", reason, detail);
    else
        log_info("mail %.40s: rcpt %.100s: %.20s via %.20s from %s %.64s: %s: %.40s",
                 q(id), q(rcpt), q(event), q(via), q(src_kind), q(src_name),
                 strcmp(reason, "opt_out") == 0 || strcmp(reason, "tracking_off") == 0
                     ? "not recorded" : "refused", reason);
}

void reclog_line(const char *id, const char *rcpt, const char *event, const char *via,
                 const char *src_kind, const char *src_name, const char *reason,
                 const char *detail)
{
    if (reclog_take(reason != NULL))
        reclog_emit(id, rcpt, event, via, src_kind, src_name, reason, detail);
}

/* A string member of obj, or NULL. */
static const char *str(json_t *obj, const char *name)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void reclog_read(const struct conf_token *tok, const char *body, size_t body_len,
                 const struct api_resp *resp)
{
    json_t *in = NULL, *out = NULL, *entry;
    char id[41] = "";
    const char *mid, *rcpt, *event, *via, *reason = NULL, *detail = NULL;

    if (log_get_level() < LOG_LEVEL_INFO || resp == NULL)
        return;
    /* The bucket first: at a high rate most reads are only counted, and
     * parsing both bodies again for a line that is not written cost every
     * read two JSON parses.  api_reads renders a recorded read's answer
     * beginning with exactly this. */
    static const char recorded[] = "{\"recorded\":true";
    int ok = resp->status == 200 && resp->body != NULL &&
             resp->body_len >= sizeof recorded - 1 &&
             memcmp(resp->body, recorded, sizeof recorded - 1) == 0;
    if (!reclog_take(!ok))
        return;
    if (body && body_len)
        in = json_loadb(body, body_len, 0, NULL);
    if (resp->body && resp->body_len)
        out = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        in = NULL;
    }
    mid = str(in, "mail_id");
    rcpt = str(in, "recipient");
    event = str(in, "event");
    via = str(in, "via");
    if (mid) {
        /* the bare id: the tag is a credential of sorts, keep it out */
        size_t n = strcspn(mid, ".");
        snprintf(id, sizeof(id), "%.*s", (int)(n < 40 ? n : 40), mid);
    }
    if (event == NULL)
        event = "read";
    if (via == NULL)
        via = "api";
    if (resp->status == 200 && json_is_true(json_object_get(out, "recorded"))) {
        entry = json_object_get(out, "recipient");
        if (str(entry, "address"))
            rcpt = str(entry, "address");
    } else if (resp->status == 200) {
        reason = str(out, "reason");
        if (reason == NULL)
            reason = "not_recorded";
    } else {
        reason = str(out, "error");
        detail = str(out, "detail");
        if (reason == NULL)
            reason = "error";
    }
    reclog_emit(id, rcpt, event, via, "token", tok ? tok->name : NULL, reason, detail);
    json_decref(in);
    json_decref(out);
}
