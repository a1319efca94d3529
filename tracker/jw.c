/*
 * jw - JSON writer (see jw.h).
 */
#include "jw.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "xmem.h"

static void jw_reserve(struct jw *w, size_t n)
{
    if (w->len + n + 1 <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    w->buf = xrealloc(w->buf, cap);
    w->cap = cap;
}

static void jw_put(struct jw *w, const char *s, size_t n)
{
    jw_reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void jw_ch(struct jw *w, char c)
{
    jw_reserve(w, 1);
    w->buf[w->len++] = c;
    w->buf[w->len] = '\0';
}

/* Before a value: the comma that separates it from the previous one. */
static void jw_sep(struct jw *w)
{
    if (w->comma)
        jw_ch(w, ',');
    w->comma = 0;
}

void jw_init(struct jw *w, size_t cap)
{
    w->buf = NULL;
    w->len = w->cap = 0;
    w->comma = 0;
    jw_reserve(w, cap);
    w->buf[0] = '\0';
}

void jw_obj_open(struct jw *w)  { jw_sep(w); jw_ch(w, '{'); }
void jw_arr_open(struct jw *w)  { jw_sep(w); jw_ch(w, '['); }
void jw_obj_close(struct jw *w) { jw_ch(w, '}'); w->comma = 1; }
void jw_arr_close(struct jw *w) { jw_ch(w, ']'); w->comma = 1; }

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t jw_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned c = s[0];
    unsigned long cp;

    if (c < 0xC2)
        return 0;                       /* continuation byte or overlong */
    else if (c < 0xE0) { len = 2; cp = c & 0x1F; }
    else if (c < 0xF0) { len = 3; cp = c & 0x0F; }
    else if (c < 0xF5) { len = 4; cp = c & 0x07; }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/*
 * One pass straight into the buffer, reserved for the worst case up front
 * (every byte a 6-byte \u00XX): this runs for every key and string of every
 * answer, and the per-byte reserve checks were a visible share of a GET.
 */
static void jw_escaped(struct jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    char *o;
    size_t i = 0;

    if (n > (SIZE_MAX - 3) / 6)
        log_panic("jw: a string of %zu bytes cannot be escaped", n);
    jw_reserve(w, 6 * n + 2);
    o = w->buf + w->len;
    *o++ = '"';
    while (i < n) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
            i++;
        } else {
            size_t len = jw_utf8_len(p + i, n - i);
            if (len == 0) {
                *o++ = '?';
                i++;
            } else {
                memcpy(o, s + i, len);
                o += len;
                i += len;
            }
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void jw_key(struct jw *w, const char *key)
{
    jw_sep(w);
    jw_escaped(w, key, strlen(key));
    jw_ch(w, ':');
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    jw_sep(w);
    jw_escaped(w, s, n);
    w->comma = 1;
}

void jw_str(struct jw *w, const char *s)
{
    if (s == NULL)
        jw_null(w);
    else
        jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, long long v)
{
    char buf[24], *e = buf + sizeof buf, *p = e;
    /* unsigned, so that LLONG_MIN negates without overflow */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    jw_sep(w);
    jw_put(w, p, (size_t)(e - p));
    w->comma = 1;
}

void jw_bool(struct jw *w, int v)
{
    jw_sep(w);
    if (v)
        jw_put(w, "true", 4);
    else
        jw_put(w, "false", 5);
    w->comma = 1;
}

void jw_null(struct jw *w)
{
    jw_sep(w);
    jw_put(w, "null", 4);
    w->comma = 1;
}

char *jw_finish(struct jw *w, size_t *len)
{
    char *s = w->buf;

    if (len != NULL)
        *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    w->comma = 0;
    return s;
}
