/*
 * readev.c - plain-C decisions of the Dovecot plugin.  Contract in readev.h.
 */
#include "readev.h"

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
