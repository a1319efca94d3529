/*
 * render - JSON for mails and recipient entries, RFC 3339 times.
 */
#include "render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailid.h"
#include "xmem.h"

void render_time(uint64_t ms, char buf[RENDER_TIME_LEN + 1])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, RENDER_TIME_LEN + 1, "1970-01-01T00:00:00.000Z");
        return;
    }
    char tmp[80];   /* room for any int fields; the result has 24 chars */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
    memcpy(buf, tmp, RENDER_TIME_LEN);
    buf[RENDER_TIME_LEN] = '\0';
}

/* n decimal digits at *p into *out; advances *p.  -1 if not all digits. */
static int render_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int render_expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int render_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int render_parse_time(const char *s, uint64_t *ms)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *p = s;
    int y, mo, d, h, mi, sec, frac_ms = 0;
    long long off = 0;

    if (s == NULL)
        return -1;
    if (render_digits(&p, 4, &y) || render_expect(&p, '-') ||
        render_digits(&p, 2, &mo) || render_expect(&p, '-') ||
        render_digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (render_digits(&p, 2, &h) || render_expect(&p, ':') ||
        render_digits(&p, 2, &mi) || render_expect(&p, ':') ||
        render_digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return -1;
    if (d > mdays[mo - 1] + (mo == 2 && render_leap(y)))
        return -1;
    if (*p == '.') {
        int ndig = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (ndig < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            ndig++;
            p++;
        }
        if (ndig == 0)
            return -1;
        for (int i = ndig; i < 3; i++)
            frac_ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (render_digits(&p, 2, &oh) || render_expect(&p, ':') ||
            render_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600LL + om * 60LL);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;

    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec };
    long long t = (long long)timegm(&tm) - off;
    if (t < 0)
        return -1;
    *ms = (uint64_t)t * 1000u + (uint64_t)frac_ms;
    return 0;
}

/*
 * A JSON string from stored bytes.  jansson refuses invalid UTF-8 (a raw
 * 8-bit Subject, say); such bytes are shown as '?' rather than dropping the
 * field.
 */
static json_t *render_str(const char *s)
{
    json_t *j;

    if (s == NULL)
        s = "";
    j = json_string(s);
    if (j == NULL) {
        char *copy = xstrdup(s);
        for (char *p = copy; *p != '\0'; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        j = json_string(copy);
        free(copy);
    }
    return j;
}

static void render_set_time(json_t *o, const char *key, uint64_t ms)
{
    char buf[RENDER_TIME_LEN + 1];

    render_time(ms, buf);
    json_object_set_new(o, key, json_string(buf));
}

json_t *render_rcpt(const struct store_rcpt *r)
{
    json_t *o = json_object();
    const char *status = store_status_name(r->status);

    json_object_set_new(o, "address", render_str(r->address));
    if (r->server != NULL)
        json_object_set_new(o, "server", render_str(r->server));
    json_object_set_new(o, "status", json_string(status ? status : "unknown"));
    if (r->first_read_ms != 0) {
        render_set_time(o, "first_read", r->first_read_ms);
        render_set_time(o, "last_read", r->last_read_ms);
        json_object_set_new(o, "read_count", json_integer(r->read_count));
    }
    if (r->via[0] != '\0')
        json_object_set_new(o, "via", json_stringn(r->via, strnlen(r->via, sizeof r->via)));
    if (r->updated_ms != 0)
        render_set_time(o, "updated", r->updated_ms);
    return o;
}

json_t *render_mail(const struct conf *conf, const struct store_mail_rec *rec)
{
    const struct store_mail *m = &rec->mail;
    json_t *o = json_object();
    json_t *rcpts = json_array();
    char tag[MAILID_TAG_LEN + 1];
    char value[MAILID_VALUE_LEN + 1];

    mailid_tag(conf->key, conf->key_len, m->id, m->sender ? m->sender : "", tag);
    snprintf(value, sizeof value, "%s.%s", m->id, tag);
    json_object_set_new(o, "mail_id", json_string(value));
    json_object_set_new(o, "sender", render_str(m->sender));
    render_set_time(o, "created", m->created_ms);
    if (m->queue_id != NULL)
        json_object_set_new(o, "queue_id", render_str(m->queue_id));
    if (m->message_id != NULL)
        json_object_set_new(o, "message_id", render_str(m->message_id));
    if (m->subject != NULL)
        json_object_set_new(o, "subject", render_str(m->subject));
    json_object_set_new(o, "recipient_count", json_integer(m->n_rcpt));
    for (size_t i = 0; i < rec->n_rcpts; i++)
        json_array_append_new(rcpts, render_rcpt(&rec->rcpts[i]));
    json_object_set_new(o, "recipients", rcpts);
    return o;
}
