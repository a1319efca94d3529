/*
 * addr - envelope address parsing and normal form; see addr.h.
 *
 * The parser works on a bounded copy of the input (ADDR_INPUT_MAX), so the
 * only allocation is the one libidn2 makes internally for a domain, which
 * is released before returning.  Plain ASCII domains skip libidn2 (see
 * domain_ascii) with the same results.  Checks run in a fixed order so that a
 * given bad input always gets the same code: length, control bytes, UTF-8,
 * then syntax, then the domain.
 */
#include "addr.h"
#include "addr_priv.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <string.h>

static int is_ctrl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static int is_atext(unsigned char c)
{
    if (c >= 0x80)                        /* UTF8-non-ascii (RFC 6531) */
        return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned long cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;                     /* continuation byte, 0xc0/0xc1, 0xf5+ */
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* A dot-atom: atoms of atext separated by single dots. */
static int is_dot_atom(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return 0;
        } else if (!is_atext((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Host name after IDNA: LDH (and '_', seen in real names) labels of 1..63. */
static int ldh_valid(const char *s)
{
    size_t label = 0;

    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0 || s[-1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && s[-1] != '-';
}

/*
 * The common case without libidn2 (it costs a milter several microseconds
 * per address: TR46 tables, NFC, allocation): a pure ASCII domain of
 * letters, digits, '-', '_' and dots, at most 253 bytes, with no label that
 * has "--" in its 3rd and 4th place (A-labels "xn--", and the labels
 * IDNA2008 reserves, which libidn2 refuses).  libidn2 passes such a name
 * through with upper case mapped to lower case (TR46 maps nothing else in
 * it) and ldh_valid() then decides; so lower-case it here and, if
 * ldh_valid() accepts it, that is libidn2's answer too.  Anything else
 * (other bytes, "??--" labels, which libidn2 must decode to validate or
 * refuses, longer names, where it enforces the DNS limit, or a name
 * ldh_valid() refuses, so that the error code stays libidn2's) returns 0
 * and takes the libidn2 path.  test_addr holds this to libidn2.
 */
static int domain_ascii(const char *s, size_t len, char *out)
{
    if (len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = lower(s[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
        if ((i == 0 || s[i - 1] == '.') && len - i >= 4 && s[i + 2] == '-' &&
            s[i + 3] == '-')
            return 0;                     /* "??--": an A-label, or reserved */
        out[i] = c;
    }
    out[len] = '\0';
    return ldh_valid(out);
}

/* "[1.2.3.4]" or "[IPv6:...]" into out, lower case. */
static int domain_literal(const char *s, size_t len, char *out)
{
    char buf[64];
    unsigned char bin[16];
    const char *ip = buf;
    int af = AF_INET;

    if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf))
        return ADDR_ESYNTAX;
    memcpy(buf, s + 1, len - 2);
    buf[len - 2] = '\0';
    if (strncasecmp(buf, "IPv6:", 5) == 0) {
        ip = buf + 5;
        af = AF_INET6;
    }
    if (inet_pton(af, ip, bin) != 1)
        return ADDR_EDOMAIN;
    for (size_t i = 0; i < len; i++)
        out[i] = lower(s[i]);
    out[len] = '\0';
    return ADDR_OK;
}

/*
 * Domain of len bytes (valid UTF-8, no control bytes) into out as a lower
 * case A-label.  A leading dot is allowed only when dot_ok.  Writes at most
 * ADDR_DOMAIN_MAX + 1 bytes, + 1 more for the leading dot.
 */
static int domain_norm(const char *s, size_t len, int dot_ok, int fast, char *out)
{
    char buf[ADDR_DOMAIN_MAX + 2];
    char *ascii = NULL;
    size_t off = 0, n;
    int rc;

    if (len == 0)
        return ADDR_ESYNTAX;
    if (s[0] == '[')
        return domain_literal(s, len, out);
    if (s[0] == '.' && dot_ok) {
        out[off++] = '.';
        s++;
        len--;
    }
    if (len > ADDR_DOMAIN_MAX)
        return ADDR_ELONG;
    if (len == 0)
        return ADDR_ESYNTAX;
    if (fast && domain_ascii(s, len, out + off))
        return ADDR_OK;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /*
     * Nontransitional TR46 processing maps upper case and compatibility
     * forms (full-width letters) to lower case, so "B\xc3\xbccher" and
     * "XN--BCHER-KVA" both come out as "xn--bcher-kva".  It passes plain
     * ASCII through unchecked, hence ldh_valid() afterwards.
     */
    rc = idn2_to_ascii_8z(buf, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        if (rc == IDN2_TOO_BIG_DOMAIN)
            return ADDR_ELONG;
        return ADDR_EDOMAIN;
    }
    n = strlen(ascii);
    if (n > ADDR_DOMAIN_MAX - off) {
        idn2_free(ascii);
        return ADDR_ELONG;
    }
    for (size_t i = 0; i < n; i++)
        out[off + i] = lower(ascii[i]);
    out[off + n] = '\0';
    idn2_free(ascii);
    return ldh_valid(out + off) ? ADDR_OK : ADDR_EDOMAIN;
}

static int domain_norm_bare(const char *domain, int fast, char out[ADDR_DOMAIN_MAX + 2])
{
    size_t len = strlen(domain);

    out[0] = '\0';
    if (len > ADDR_DOMAIN_MAX + 1)
        return ADDR_ELONG;
    for (size_t i = 0; i < len; i++)
        if (is_ctrl((unsigned char)domain[i]))
            return ADDR_ECTRL;
    if (!utf8_valid((const unsigned char *)domain, len))
        return ADDR_EUTF8;
    return domain_norm(domain, len, 1, fast, out);
}

int addr_domain_norm(const char *domain, char out[ADDR_DOMAIN_MAX + 2])
{
    return domain_norm_bare(domain, 1, out);
}

int addr_domain_norm_idn(const char *domain, char out[ADDR_DOMAIN_MAX + 2])
{
    return domain_norm_bare(domain, 0, out);
}

/*
 * Local part at s (len bytes, the raw form, quotes included) into out.
 * Quotes are dropped when the unescaped content is a dot-atom; otherwise it
 * is re-quoted with only '"' and '\\' escaped, so equal contents give equal
 * keys however they were escaped.
 */
static int local_norm(const char *s, size_t len, char out[ADDR_LOCAL_MAX + 3])
{
    char content[ADDR_LOCAL_MAX + 1] = "";
    size_t n = 0, o = 0;

    if (len == 0)
        return ADDR_ESYNTAX;
    if (len > ADDR_LOCAL_MAX)
        return ADDR_ELONG;
    if (s[0] != '"') {
        if (!is_dot_atom(s, len))
            return ADDR_ESYNTAX;
        for (size_t i = 0; i < len; i++)
            out[i] = lower(s[i]);
        out[len] = '\0';
        return ADDR_OK;
    }
    if (len < 2 || s[len - 1] != '"')
        return ADDR_ESYNTAX;
    for (size_t i = 1; i < len - 1; i++) {
        char c = s[i];
        if (c == '\\') {
            if (++i >= len - 1)
                return ADDR_ESYNTAX;     /* backslash escapes the closing quote */
            c = s[i];
        } else if (c == '"') {
            return ADDR_ESYNTAX;
        }
        content[n++] = lower(c);
    }
    if (is_dot_atom(content, n)) {
        memcpy(out, content, n);
        out[n] = '\0';
        return ADDR_OK;
    }
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (content[i] == '"' || content[i] == '\\')
            out[o++] = '\\';
        out[o++] = content[i];
    }
    out[o++] = '"';
    out[o] = '\0';
    return ADDR_OK;
}

/* End of the local part starting at s: the '@' after it, or NULL. */
static const char *local_end(const char *s, const char *end)
{
    if (s < end && *s == '"') {
        for (s++; s < end; s++) {
            if (*s == '\\') {
                if (++s == end)
                    break;              /* never step two past the end */
            } else if (*s == '"')
                return (s + 1 < end && s[1] == '@') ? s + 1 : NULL;
        }
        return NULL;
    }
    for (const char *p = end; p > s; p--)
        if (p[-1] == '@')
            return p - 1;
    return NULL;
}

int addr_parse(const char *s, size_t len, struct addr *out)
{
    const char *p, *end, *at;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > ADDR_INPUT_MAX)
        return ADDR_ELONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            out->is_utf8 = 1;
        else if (is_ctrl(c) && c != '\t')
            return ADDR_ECTRL;
    }
    if (out->is_utf8 && !utf8_valid((const unsigned char *)s, len))
        return ADDR_EUTF8;

    p = s;
    end = s + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *q = p; q < end; q++)
        if (*q == '\t')
            return ADDR_ECTRL;           /* TAB only as surrounding space */

    if (p < end && *p == '<') {
        if (end[-1] != '>' || end - p < 2)
            return ADDR_ESYNTAX;
        p++;
        end--;
        if (p == end) {
            out->is_null = 1;
            return ADDR_OK;
        }
    }
    if (p == end)
        return ADDR_ESYNTAX;

    /* Source route "@relay1,@relay2:": checked for shape, then dropped. */
    if (*p == '@') {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL || colon == p + 1)
            return ADDR_ESYNTAX;
        for (const char *q = p; q < colon; q++)
            if (*q == '"' || *q == '<' || *q == '>' || *q == ' ' || *q == '\\')
                return ADDR_ESYNTAX;
        p = colon + 1;
    }
    for (const char *q = p; q < end; q++)
        if ((*q == '<' || *q == '>') && *p != '"')
            return ADDR_ESYNTAX;

    at = local_end(p, end);
    if (at == NULL)
        return ADDR_ESYNTAX;
    if ((size_t)(end - at - 1) > ADDR_DOMAIN_MAX)
        return ADDR_ELONG;
    if ((rc = local_norm(p, (size_t)(at - p), out->local)) != ADDR_OK)
        return rc;
    if (memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL)
        return ADDR_ESYNTAX;
    if ((rc = domain_norm(at + 1, (size_t)(end - at - 1), 0, 1, out->domain)) != ADDR_OK) {
        out->local[0] = '\0';
        out->domain[0] = '\0';
        return rc;
    }
    {
        size_t ll = strlen(out->local), dl = strlen(out->domain);
        memcpy(out->key, out->local, ll);
        out->key[ll] = '@';
        memcpy(out->key + ll + 1, out->domain, dl + 1);
    }
    return ADDR_OK;
}

int addr_parse_str(const char *s, struct addr *out)
{
    return addr_parse(s, strlen(s), out);
}

int addr_strip_ext(const char *key, const char *delims, char out[ADDR_KEY_MAX + 1])
{
    const char *at = strrchr(key, '@');
    size_t cut, dlen;

    if (delims == NULL || delims[0] == '\0' || at == NULL || key[0] == '"')
        return 0;
    cut = strcspn(key, delims);
    if (cut == 0 || key + cut >= at)
        return 0;
    dlen = strlen(at);
    if (cut + dlen > ADDR_KEY_MAX)
        return 0;
    memcpy(out, key, cut);
    memcpy(out + cut, at, dlen + 1);
    return 1;
}

const char *addr_strerror(int err)
{
    switch (err) {
    case ADDR_OK:      return "ok";
    case ADDR_ECTRL:   return "control character in address";
    case ADDR_ELONG:   return "address too long";
    case ADDR_ESYNTAX: return "not an address";
    case ADDR_EUTF8:   return "invalid UTF-8 in address";
    case ADDR_EDOMAIN: return "invalid domain";
    default:           return "unknown address error";
    }
}
