/*
 * readev.c - plain-C decisions of the Dovecot plugin.  Contract in readev.h.
 */
#include "readev.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char readev_ws[] = " \t\r\n";

/* value without the white space around it: *start, length */
static size_t readev_trim(const char *value, const char **start)
{
    size_t len;

    value += strspn(value, readev_ws);
    len = strlen(value);
    while (len > 0 && strchr(readev_ws, value[len - 1]) != NULL)
        len--;
    *start = value;
    return len;
}

/* Crockford base32 as mailid.h spells it: 0-9, A-Z without I L O U. */
static int readev_b32(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    return (c >= '0' && c <= '9') ||
           (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U');
}

int readev_mail_id(const char *value, char out[READEV_VALUE_LEN + 1])
{
    const char *p;
    size_t len = readev_trim(value, &p), i;

    if (len != READEV_VALUE_LEN)
        return -1;
    for (i = 0; i < len; i++) {
        if (i == READEV_ID_LEN ? p[i] != '.' : !readev_b32(p[i]))
            return -1;
    }
    for (i = 0; i < len; i++)
        out[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 'a' + 'A') : p[i];
    out[len] = '\0';
    return 0;
}

int readev_sender(const char *value, char out[READEV_SENDER_MAX + 1])
{
    const char *p;
    size_t len = readev_trim(value, &p), i;

    if (len == 0 || len > READEV_SENDER_MAX)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= ' ' || c == 0x7f)
            return -1;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

int readev_time(uint64_t ms, char out[READEV_TIME_LEN + 1])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[20];                       /* "YYYY-MM-DDTHH:MM:SS" */

    /* years past 9999 do not fit RFC 3339 */
    if (ms >= UINT64_C(253402300800000) || gmtime_r(&secs, &tm) == NULL ||
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
        return -1;
    snprintf(out, READEV_TIME_LEN + 1, "%s.%03uZ", buf, (unsigned)(ms % 1000));
    return 0;
}

int readev_spool_name(const char *name)
{
    size_t len = strlen(name), slen = strlen(READEV_SPOOL_SUFFIX);

    return name[0] != '.' && len > slen &&
           strcmp(name + len - slen, READEV_SPOOL_SUFFIX) == 0;
}

int readev_claim_parse(const char *name, char *orig, size_t origlen, long *pid)
{
    const char *dot = strrchr(name, '.');
    char *end;
    long n;
    size_t olen;

    if (dot == NULL || dot[1] < '1' || dot[1] > '9')
        return -1;
    n = strtol(dot + 1, &end, 10);
    if (*end != '\0' || n <= 0 || n > 0x7fffffffL)
        return -1;
    olen = (size_t)(dot - name);
    if (olen + 1 > origlen)
        return -1;
    memcpy(orig, name, olen);
    orig[olen] = '\0';
    if (!readev_spool_name(orig))
        return -1;
    *pid = n;
    return 0;
}

int readev_address(const char *value, char out[READEV_SENDER_MAX + 1])
{
    size_t len = strlen(value), i, at = 0, n_at = 0;

    if (len == 0 || len > READEV_SENDER_MAX)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        /* no spaces, controls, quotes, brackets or separators: the value
           goes into a JSON body and the tracker's log */
        if (c <= ' ' || c == 0x7f || strchr("\"<>()[]\\,;:", c) != NULL)
            return -1;
        if (c == '@') {
            at = i;
            n_at++;
        }
    }
    if (n_at != 1 || at == 0 || at == len - 1)
        return -1;
    memcpy(out, value, len + 1);
    return 0;
}

/* n decimal digits at p, or -1 */
static int readev_digits(const char *p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int readev_time_parse(const char *value, uint64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0;
    size_t len = strlen(value);
    struct tm tm;
    time_t t;

    /* "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    if (len != 20 && len != 24)
        return -1;
    if (value[4] != '-' || value[7] != '-' || value[10] != 'T' ||
        value[13] != ':' || value[16] != ':' || value[len - 1] != 'Z')
        return -1;
    y = readev_digits(value, 4);
    mo = readev_digits(value + 5, 2);
    d = readev_digits(value + 8, 2);
    h = readev_digits(value + 11, 2);
    mi = readev_digits(value + 14, 2);
    sec = readev_digits(value + 17, 2);
    if (len == 24 && (value[19] != '.' || (frac = readev_digits(value + 20, 3)) < 0))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    /* timegm normalises 2026-02-31 to March: refuse what it moved */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return -1;
    *ms = (uint64_t)t * 1000 + (uint64_t)frac;
    return 0;
}

static int readev_b32_value(char c)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const char *p = strchr(alphabet, c);

    return c != '\0' && p != NULL ? (int)(p - alphabet) : 0;
}

uint64_t readev_id_time_ms(const char id[READEV_ID_LEN])
{
    uint64_t ms = 0;

    for (int i = 0; i < 10; i++)
        ms = (ms << 5) | (uint64_t)readev_b32_value(id[i]);
    return ms;
}

/* the string member key of obj, or NULL */
static const char *readev_member(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int readev_event_via(const char *event, const char *via,
                            struct readev_spooled *out)
{
    static const struct { const char *event, *via[3]; } rules[] = {
        { "read", { "imap", NULL, NULL } },
        { "deleted_unread", { "imap", NULL, NULL } },
        { "received", { "lmtp", "lda", NULL } },
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(event, rules[i].event) != 0)
            continue;
        if (via == NULL)
            via = rules[i].via[0];
        for (size_t j = 0; j < 3 && rules[i].via[j] != NULL; j++) {
            if (strcmp(via, rules[i].via[j]) == 0) {
                snprintf(out->event, sizeof out->event, "%s", event);
                snprintf(out->via, sizeof out->via, "%s", via);
                return 0;
            }
        }
        return READEV_EVIA;
    }
    return READEV_EEVENT;
}

static int readev_spool_fields(json_t *obj, uint64_t now_ms,
                               struct readev_spooled *out)
{
    const char *id = readev_member(obj, "mail_id");
    const char *sender = readev_member(obj, "sender");
    const char *event = readev_member(obj, "event");
    const char *via = readev_member(obj, "via");
    const char *time = readev_member(obj, "time");
    const char *orig = readev_member(obj, "original_recipient");
    const char *rcpt = readev_member(obj, "recipient");
    uint64_t t_ms, id_ms;
    int rc;

    /* a member of the wrong type is as bad as a malformed one */
    if (id == NULL || readev_mail_id(id, out->mail_id) < 0)
        return READEV_EID;
    if (sender == NULL || readev_address(sender, out->sender) < 0)
        return READEV_ESENDER;
    if (event == NULL)
        return READEV_EEVENT;
    if (via == NULL && json_object_get(obj, "via") != NULL)
        return READEV_EVIA;
    if ((rc = readev_event_via(event, via, out)) < 0)
        return rc;
    if (time == NULL || readev_time_parse(time, &t_ms) < 0 ||
        readev_time(t_ms, out->time) < 0)
        return READEV_ETIME;
    id_ms = readev_id_time_ms(out->mail_id);
    if (t_ms + READEV_SKEW_MS < id_ms)
        return READEV_EPAST;
    if (t_ms > now_ms + READEV_SKEW_MS)
        return READEV_EFUTURE;
    out->original_recipient[0] = '\0';
    if (orig != NULL || json_object_get(obj, "original_recipient") != NULL) {
        /* only a delivery knows the envelope's address */
        if (orig == NULL || strcmp(out->event, "received") != 0 ||
            readev_address(orig, out->original_recipient) < 0)
            return READEV_EORIG;
    }
    out->recipient[0] = '\0';
    if (rcpt != NULL || json_object_get(obj, "recipient") != NULL) {
        if (rcpt == NULL || readev_address(rcpt, out->recipient) < 0)
            return READEV_ERCPT;
    }
    return 0;
}

int readev_spool_parse(const char *buf, size_t len, uint64_t now_ms,
                       struct readev_spooled *out)
{
    struct readev_spooled tmp;
    json_t *obj;
    int rc;

    obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return READEV_EJSON;
    }
    memset(&tmp, 0, sizeof tmp);
    rc = readev_spool_fields(obj, now_ms, &tmp);
    json_decref(obj);
    if (rc == 0)
        *out = tmp;
    return rc;
}

const char *readev_spool_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case READEV_EJSON: return "not a JSON object";
    case READEV_EID: return "mail_id missing or malformed";
    case READEV_ESENDER: return "sender missing or not an address";
    case READEV_EEVENT: return "event missing or unknown";
    case READEV_EVIA: return "via unknown or not the event's";
    case READEV_ETIME: return "time missing or not RFC 3339 UTC";
    case READEV_EPAST: return "time before the mail id's own time";
    case READEV_EFUTURE: return "time in the future";
    case READEV_EORIG: return "original_recipient not an address or not a delivery's";
    case READEV_ERCPT: return "recipient not an address";
    default: return "unknown error";
    }
}

/* value cut to max bytes, non-printable bytes as '?' */
static void readev_printable(const char *value, char *out, size_t max)
{
    size_t i;

    if (value == NULL)
        value = "-";
    for (i = 0; i < max && value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];
        out[i] = c >= ' ' && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

int readev_error_body(const char *buf, size_t len,
                      char error[READEV_ERROR_MAX + 1],
                      char detail[READEV_DETAIL_MAX + 1])
{
    json_t *obj = json_loadb(buf, len, 0, NULL);

    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return -1;
    }
    readev_printable(readev_member(obj, "error"), error, READEV_ERROR_MAX);
    readev_printable(readev_member(obj, "detail"), detail, READEV_DETAIL_MAX);
    json_decref(obj);
    return 0;
}
