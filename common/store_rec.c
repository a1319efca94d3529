/*
 * store_rec - record encoding and the read/merge rules; see store_rec.h.
 */
#include "store_rec.h"

#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define STR_NULL 0xFFFFFFFFu
/* Longest string a version 3 record may hold (as versions 1-2: u32). */
#define STORE_REC_STR_MAX 0xFFFFFFFEu

/* ---- writing ---- */

static void buf_reserve(struct store_rec_buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + n)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void store_rec_buf_free(struct store_rec_buf *b)
{
    b->p = xfree(b->p);
    b->len = b->cap = 0;
}

static void put_bytes(struct store_rec_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u8(struct store_rec_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put_bytes(b, &c, 1);
}

static void put_u32(struct store_rec_buf *b, uint32_t v)
{
    unsigned char c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put_bytes(b, c, 4);
}

static void put_u64(struct store_rec_buf *b, uint64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put_bytes(b, c, 8);
}

static void put_str(struct store_rec_buf *b, const char *s)
{
    if (s == NULL) {
        put_u32(b, STR_NULL);
        return;
    }
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put_bytes(b, s, n);
}

/* ---- reading: a cursor that turns every overrun into one error flag ---- */

struct rd {
    const unsigned char *p;
    size_t               len, off;
    int                  bad;
};

static const unsigned char *get_bytes(struct rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

static unsigned get_u8(struct rd *r)
{
    const unsigned char *p = get_bytes(r, 1);
    return p ? p[0] : 0;
}

static uint32_t get_u32(struct rd *r)
{
    const unsigned char *p = get_bytes(r, 4);
    uint32_t v = 0;
    for (int i = 3; p && i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(struct rd *r)
{
    const unsigned char *p = get_bytes(r, 8);
    uint64_t v = 0;
    for (int i = 7; p && i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* NULL for a NULL string (or an error, which sets bad). */
static char *get_str(struct rd *r)
{
    uint32_t n = get_u32(r);
    if (r->bad || n == STR_NULL)
        return NULL;
    const unsigned char *p = get_bytes(r, n);
    if (p == NULL)
        return NULL;
    if (memchr(p, '\0', n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    return xstrndup((const char *)p, n);
}

static void get_str_fixed(struct rd *r, char *out, size_t outlen)
{
    char *s = get_str(r);
    out[0] = '\0';
    if (s) {
        size_t n = strlen(s);
        if (n >= outlen)
            r->bad = 1;
        else
            memcpy(out, s, n + 1);
    }
    free(s);
}

/* Start of a record: the version byte, or -1 if there is none. */
static int rd_version(struct rd *r, const void *data, size_t len)
{
    r->p = data;
    r->len = len;
    r->off = 0;
    r->bad = 0;
    unsigned v = get_u8(r);
    return r->bad ? -1 : (int)v;
}

/* Start of a record: the version byte must be one we know. */
static int rd_begin(struct rd *r, const void *data, size_t len)
{
    return rd_version(r, data, len) == STORE_REC_VERSION ? 0 : -1;
}

/* A record must be used up exactly: trailing bytes mean a newer writer. */
static int rd_end(const struct rd *r)
{
    return r->bad || r->off != r->len ? -1 : 0;
}

/* ---- mail ---- */

void store_rec_mail_encode(struct store_rec_buf *b, const struct store_mail *m)
{
    b->len = 0;
    put_u8(b, STORE_REC_MAIL_VERSION);
    put_u64(b, m->created_ms);
    put_u32(b, m->n_rcpt);
    put_str(b, m->sender ? m->sender : "");
    put_str(b, m->queue_id);
    put_str(b, m->message_id);
    put_str(b, m->subject);
    put_str(b, m->login);
}

void store_rec_mail_clear(struct store_mail *m)
{
    m->sender = xfree(m->sender);
    m->queue_id = xfree(m->queue_id);
    m->message_id = xfree(m->message_id);
    m->subject = xfree(m->subject);
    m->login = xfree(m->login);
}

int store_rec_mail_decode(const void *data, size_t len, const char *id,
                          struct store_mail *out)
{
    struct rd r;

    memset(out, 0, sizeof(*out));
    memcpy(out->id, id, MAILID_ID_LEN);
    out->id[MAILID_ID_LEN] = '\0';
    int version = rd_version(&r, data, len);
    if (version != 1 && version != STORE_REC_MAIL_VERSION)
        return -1;
    out->created_ms = get_u64(&r);
    out->n_rcpt = get_u32(&r);
    out->sender = get_str(&r);
    out->queue_id = get_str(&r);
    out->message_id = get_str(&r);
    out->subject = get_str(&r);
    if (version >= 2)
        out->login = get_str(&r);
    if (rd_end(&r) < 0 || out->sender == NULL) {
        store_rec_mail_clear(out);
        return -1;
    }
    return 0;
}

/* ---- recipient entry ---- */

/* Version 3 flags byte: status in bits 0-1, then which optional parts
 * follow (an absent part is its zero value). */
#define RF_STATUS   0x03u
#define RF_EXPANDED 0x04u
#define RF_READS    0x08u       /* first_read, last_read, read_count follow */
#define RF_VIA      0x10u
#define RF_ORIG     0x20u       /* original_recipient follows (maybe "") */
#define RF_UNKNOWN  0xC0u

/* LEB128: 7 bits a byte, low bits first, high bit = more follow. */
static void put_varint(struct store_rec_buf *b, uint64_t v)
{
    unsigned char c[10];
    size_t n = 0;
    do {
        c[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            c[n] |= 0x80;
        n++;
    } while (v);
    put_bytes(b, c, n);
}

static void put_vstr(struct store_rec_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_varint(b, n);
    put_bytes(b, s, n);
}

void store_rec_rcpt_encode(struct store_rec_buf *b, const struct store_rcpt *rc)
{
    unsigned flags = (unsigned)rc->status & RF_STATUS;
    int reads = rc->first_read_ms || rc->last_read_ms || rc->read_count;

    flags |= rc->expanded ? RF_EXPANDED : 0;
    flags |= reads ? RF_READS : 0;
    flags |= rc->via[0] ? RF_VIA : 0;
    flags |= rc->original_recipient ? RF_ORIG : 0;
    b->len = 0;
    put_u8(b, STORE_REC_RCPT_VERSION);
    put_u8(b, flags);
    put_varint(b, rc->updated_ms);
    put_vstr(b, rc->server ? rc->server : "");
    if (reads) {
        put_varint(b, rc->first_read_ms);
        put_varint(b, rc->last_read_ms);
        put_varint(b, rc->read_count);
    }
    if (rc->via[0])
        put_vstr(b, rc->via);
    if (rc->original_recipient)
        put_vstr(b, rc->original_recipient);
}

/* One spelling per value: at most 10 bytes, no bits past 64, no trailing
 * zero byte (an overlong encoding). */
static uint64_t get_varint(struct rd *r)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        const unsigned char *p = get_bytes(r, 1);
        if (p == NULL)
            return 0;
        if ((i == 9 && *p > 1) || (i > 0 && *p == 0)) {
            r->bad = 1;
            return 0;
        }
        v |= (uint64_t)(*p & 0x7f) << (7 * i);
        if (!(*p & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

/* A varint-length string (never NULL unless bad); max is the longest
 * accepted, empty_ok whether "" is a valid spelling here. */
static char *get_vstr(struct rd *r, size_t max, int empty_ok)
{
    uint64_t n = get_varint(r);
    if (r->bad || n > max || (n == 0 && !empty_ok)) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = get_bytes(r, (size_t)n);
    if (p == NULL)
        return NULL;
    if (memchr(p, '\0', (size_t)n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    return xstrndup((const char *)p, (size_t)n);
}

/* Versions 1 and 2: fixed-width integers, u32-length strings. */
static void rcpt_decode_v2(struct rd *r, int version, struct store_rcpt *out)
{
    out->status = (int)get_u8(r);
    out->first_read_ms = get_u64(r);
    out->last_read_ms = get_u64(r);
    out->read_count = get_u32(r);
    out->updated_ms = get_u64(r);
    out->server = get_str(r);
    get_str_fixed(r, out->via, sizeof(out->via));
    if (version >= 2) {
        unsigned exp;
        out->original_recipient = get_str(r);
        exp = get_u8(r);
        out->expanded = exp == 1;
        if (exp > 1)
            r->bad = 1;
    }
}

static void rcpt_decode_v3(struct rd *r, struct store_rcpt *out)
{
    unsigned flags = get_u8(r);

    if (flags & RF_UNKNOWN)
        r->bad = 1;
    out->status = (int)(flags & RF_STATUS);
    out->expanded = (flags & RF_EXPANDED) != 0;
    out->updated_ms = get_varint(r);
    out->server = get_vstr(r, STORE_REC_STR_MAX, 1);
    if (flags & RF_READS) {
        out->first_read_ms = get_varint(r);
        out->last_read_ms = get_varint(r);
        uint64_t n = get_varint(r);
        if (n > UINT32_MAX)
            r->bad = 1;
        out->read_count = (uint32_t)n;
        /* all three zero is spelt without the flag */
        if (!out->first_read_ms && !out->last_read_ms && !out->read_count)
            r->bad = 1;
    }
    if (flags & RF_VIA) {
        char *via = get_vstr(r, sizeof(out->via) - 1, 0);
        if (via)
            memcpy(out->via, via, strlen(via) + 1);
        free(via);
    }
    if (flags & RF_ORIG)
        out->original_recipient = get_vstr(r, STORE_REC_STR_MAX, 1);
}

int store_rec_rcpt_decode(const void *data, size_t len, const char *address,
                          size_t address_len, struct store_rcpt *out)
{
    struct rd r;

    memset(out, 0, sizeof(*out));
    int version = rd_version(&r, data, len);
    if (version == 1 || version == 2)
        rcpt_decode_v2(&r, version, out);
    else if (version == STORE_REC_RCPT_VERSION)
        rcpt_decode_v3(&r, out);
    else
        return -1;
    if (rd_end(&r) < 0 || out->server == NULL || out->status < STORE_SENT ||
        out->status > STORE_READ) {
        out->server = xfree(out->server);
        out->original_recipient = xfree(out->original_recipient);
        return -1;
    }
    out->address = xstrndup(address, address_len);
    return 0;
}

void store_rec_rcpt_copy(struct store_rcpt *dst, const struct store_rcpt *src)
{
    *dst = *src;
    dst->address = src->address ? xstrdup(src->address) : NULL;
    dst->server = src->server ? xstrdup(src->server) : NULL;
    dst->original_recipient = src->original_recipient ? xstrdup(src->original_recipient)
                                                      : NULL;
}

/* ---- outbox item ---- */

void store_rec_outbox_encode(struct store_rec_buf *b, uint64_t queued_ms,
                             const char *id, const char *rcpt)
{
    b->len = 0;
    put_u8(b, STORE_REC_VERSION);
    put_u64(b, queued_ms);
    put_bytes(b, id, MAILID_ID_LEN);
    put_bytes(b, rcpt, strlen(rcpt));
}

int store_rec_outbox_decode(const void *data, size_t len, uint64_t *queued_ms,
                            char id[MAILID_ID_LEN + 1], const char **rcpt,
                            size_t *rcpt_len)
{
    struct rd r;
    const unsigned char *p;

    if (rd_begin(&r, data, len) < 0)
        return -1;
    *queued_ms = get_u64(&r);
    p = get_bytes(&r, MAILID_ID_LEN);
    if (p == NULL || r.off >= r.len)
        return -1;
    memcpy(id, p, MAILID_ID_LEN);
    id[MAILID_ID_LEN] = '\0';
    *rcpt = (const char *)r.p + r.off;
    *rcpt_len = r.len - r.off;
    return 0;
}

/* ---- rules ---- */

void store_rec_set_via(struct store_rcpt *r, const char *via)
{
    size_t n = via ? strnlen(via, sizeof(r->via) - 1) : 0;
    if (n)
        memcpy(r->via, via, n);
    r->via[n] = '\0';
}

void store_rec_apply_read(struct store_rcpt *r, uint64_t when_ms, const char *via)
{
    if (r->status != STORE_READ) {
        r->status = STORE_READ;
        r->first_read_ms = r->last_read_ms = when_ms;
        r->read_count = 1;
    } else {
        if (r->first_read_ms == 0 || when_ms < r->first_read_ms)
            r->first_read_ms = when_ms;
        if (when_ms > r->last_read_ms)
            r->last_read_ms = when_ms;
        if (r->read_count < UINT32_MAX)
            r->read_count++;
    }
    store_rec_set_via(r, via);
}

int store_rec_apply_received(struct store_rcpt *r, const char *via)
{
    if (r->status >= STORE_RECEIVED)
        return 0;
    r->status = STORE_RECEIVED;
    store_rec_set_via(r, via);
    return 1;
}

int store_rec_apply_deleted(struct store_rcpt *r, const char *via)
{
    if (r->status >= STORE_DELETED_UNREAD)
        return 0;
    r->status = STORE_DELETED_UNREAD;
    store_rec_set_via(r, via);
    return 1;
}

int store_rec_merge(struct store_rcpt *local, const struct store_rcpt *remote)
{
    struct store_rcpt m = *local;

    if (remote->status > m.status ||
        (remote->status == m.status && strcmp(remote->via, m.via) > 0))
        memcpy(m.via, remote->via, sizeof(m.via));
    if (remote->status > m.status)
        m.status = remote->status;
    if (remote->first_read_ms &&
        (m.first_read_ms == 0 || remote->first_read_ms < m.first_read_ms))
        m.first_read_ms = remote->first_read_ms;
    if (remote->last_read_ms > m.last_read_ms)
        m.last_read_ms = remote->last_read_ms;
    if (remote->read_count > m.read_count)
        m.read_count = remote->read_count;
    m.via[sizeof(m.via) - 1] = '\0';

    int changed = m.status != local->status || m.first_read_ms != local->first_read_ms ||
                  m.last_read_ms != local->last_read_ms ||
                  m.read_count != local->read_count || strcmp(m.via, local->via) != 0;
    *local = m;
    return changed;
}
