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

/* Two digits of v at p. */
static void render_2d(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/*
 * Without gmtime_r() and snprintf(): both showed in the GET profile
 * (gmtime_r takes glibc's timezone lock).  Civil date from days since the
 * epoch after H. Hinnant's "chrono-Compatible Low-Level Date Algorithms".
 */
void render_time(uint64_t ms, char buf[RENDER_TIME_LEN + 1])
{
    uint64_t secs = ms / 1000;
    long long z = (long long)(secs / 86400) + 719468;
    unsigned sod = (unsigned)(secs % 86400);
    long long era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    unsigned y = (unsigned)(yoe + era * 400 + (m <= 2));
    unsigned frac = (unsigned)(ms % 1000);

    render_2d(buf, y / 100 % 100);
    render_2d(buf + 2, y % 100);
    buf[4] = '-';
    render_2d(buf + 5, m);
    buf[7] = '-';
    render_2d(buf + 8, d);
    buf[10] = 'T';
    render_2d(buf + 11, sod / 3600);
    buf[13] = ':';
    render_2d(buf + 14, sod / 60 % 60);
    buf[16] = ':';
    render_2d(buf + 17, sod % 60);
    buf[19] = '.';
    buf[20] = (char)('0' + frac / 100);
    render_2d(buf + 21, frac % 100);
    buf[23] = 'Z';
    buf[24] = '\0';
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

static void render_set_time(struct jw *w, const char *key, uint64_t ms)
{
    char buf[RENDER_TIME_LEN + 1];

    render_time(ms, buf);
    jw_key(w, key);
    jw_strn(w, buf, RENDER_TIME_LEN);
}

/* The fields of one entry, inside an open object. */
static void render_rcpt_fields(struct jw *w, const struct store_rcpt *r)
{
    const char *status = store_status_name(r->status);

    jw_key(w, "address");
    jw_str(w, r->address ? r->address : "");
    if (r->server != NULL) {
        jw_key(w, "server");
        jw_str(w, r->server);
    }
    jw_key(w, "status");
    jw_str(w, status ? status : "unknown");
    if (r->first_read_ms != 0) {
        render_set_time(w, "first_read", r->first_read_ms);
        render_set_time(w, "last_read", r->last_read_ms);
        jw_key(w, "read_count");
        jw_int(w, r->read_count);
    }
    if (r->via[0] != '\0') {
        jw_key(w, "via");
        jw_strn(w, r->via, strnlen(r->via, sizeof r->via));
    }
    if (r->updated_ms != 0)
        render_set_time(w, "updated", r->updated_ms);
    if (r->original_recipient != NULL) {
        jw_key(w, "original_recipient");
        jw_str(w, r->original_recipient);
    }
}

void render_rcpt(struct jw *w, const struct store_rcpt *r)
{
    jw_obj_open(w);
    render_rcpt_fields(w, r);
    jw_obj_close(w);
}

/*
 * A list or alias entry: "expanded" and how its members stand, counted
 * over the mail's entries that name it as their original recipient.
 */
static void render_members(struct jw *w, const struct store_mail_rec *rec,
                           const struct store_rcpt *list)
{
    unsigned long long by[STORE_READ + 1] = { 0 }, total = 0;

    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct store_rcpt *m = &rec->rcpts[i];
        if (m->original_recipient == NULL || strcmp(m->original_recipient, list->address) != 0 ||
            m->status < STORE_SENT || m->status > STORE_READ)
            continue;
        by[m->status]++;
        total++;
    }
    jw_key(w, "expanded");
    jw_bool(w, 1);
    jw_key(w, "members");
    jw_obj_open(w);
    jw_key(w, "total");
    jw_int(w, (long long)total);
    /* the order of CONTRACTS.md's summary: read, received, sent, deleted_unread */
    static const int order[] = { STORE_READ, STORE_RECEIVED, STORE_SENT, STORE_DELETED_UNREAD };
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        jw_key(w, store_status_name(order[k]));
        jw_int(w, (long long)by[order[k]]);
    }
    jw_obj_close(w);
}

void render_mail(struct jw *w, const struct store_mail_rec *rec)
{
    const struct store_mail *m = &rec->mail;

    jw_obj_open(w);
    jw_key(w, "mail_id");
    jw_strn(w, m->id, MAILID_ID_LEN);
    jw_key(w, "sender");
    jw_str(w, m->sender ? m->sender : "");
    render_set_time(w, "created", m->created_ms);
    if (m->queue_id != NULL) {
        jw_key(w, "queue_id");
        jw_str(w, m->queue_id);
    }
    if (m->message_id != NULL) {
        jw_key(w, "message_id");
        jw_str(w, m->message_id);
    }
    if (m->subject != NULL) {
        jw_key(w, "subject");
        jw_str(w, m->subject);
    }
    jw_key(w, "recipient_count");
    jw_int(w, m->n_rcpt);
    jw_key(w, "recipients");
    jw_arr_open(w);
    unsigned long long by[STORE_READ + 1] = { 0 }, persons = 0;
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct store_rcpt *r = &rec->rcpts[i];
        jw_obj_open(w);
        render_rcpt_fields(w, r);
        if (r->expanded)
            render_members(w, rec, r);
        jw_obj_close(w);
        /* the summary counts people: a list's entry stands for its members */
        if (!r->expanded && r->status >= STORE_SENT && r->status <= STORE_READ) {
            by[r->status]++;
            persons++;
        }
    }
    jw_arr_close(w);
    jw_key(w, "summary");
    jw_obj_open(w);
    jw_key(w, "total");
    jw_int(w, (long long)persons);
    /* the order of CONTRACTS.md's summary: read, received, sent, deleted_unread */
    static const int order[] = { STORE_READ, STORE_RECEIVED, STORE_SENT, STORE_DELETED_UNREAD };
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        jw_key(w, store_status_name(order[k]));
        jw_int(w, (long long)by[order[k]]);
    }
    jw_obj_close(w);
    jw_obj_close(w);
}
