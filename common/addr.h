#ifndef MAILSTATE_ADDR_H
#define MAILSTATE_ADDR_H
/*
 * addr - envelope addresses as Postfix and Sendmail hand them to a milter.
 *
 * Accepted input forms: "<local@domain>", bare "local@domain", "<>" (the
 * null sender), quoted local parts ("<\"john doe\"@a.example>"), UTF-8 in
 * local part and domain (SMTPUTF8), optional surrounding SP/TAB.  A source
 * route ("<@relay:a@b>") is accepted and dropped, as RFC 5321 says.
 * Address literals ("root@[127.0.0.1]", "root@[IPv6:::1]") are accepted
 * and lower-cased.  TAB counts as space only around the address.
 *
 * Refused, with a distinct code: CR, LF, NUL or other control bytes anywhere
 * (ADDR_ECTRL), input longer than ADDR_INPUT_MAX or a local part > 64 bytes
 * or a domain > 255 bytes (ADDR_ELONG), invalid UTF-8 (ADDR_EUTF8), anything
 * else that is not an address (ADDR_ESYNTAX), a domain libidn2 rejects
 * or that is not LDH labels of 1..63 bytes after IDNA, e.g. "a..b",
 * "a.example." (ADDR_EDOMAIN).  Checks run in that order: length, control
 * bytes, UTF-8, syntax, domain.
 *
 * Normal form (struct addr.key), used as the store key and for comparisons:
 *   local part: quotes removed when the content is a valid dot-atom,
 *               ASCII letters lower-cased (UTF-8 bytes kept as they are);
 *   domain:     IDNA A-label, lower case ("b\xc3\xbccher.example" and
 *               "xn--bcher-kva.example" give the same key).
 * The null sender has key "" and is_null set.
 *
 * Pure functions: no allocation the caller sees (libidn2 allocates and
 * frees inside), no global state, thread-safe.
 */
#include <stddef.h>

#define ADDR_INPUT_MAX  512   /* bytes of raw input, brackets included */
#define ADDR_LOCAL_MAX  64
#define ADDR_DOMAIN_MAX 255
#define ADDR_KEY_MAX    (ADDR_LOCAL_MAX + 2 + 1 + ADDR_DOMAIN_MAX) /* + quotes, '@' */

enum addr_err {
    ADDR_OK       = 0,
    ADDR_ECTRL    = -1,   /* CR, LF, NUL or another control byte */
    ADDR_ELONG    = -2,
    ADDR_ESYNTAX  = -3,
    ADDR_EUTF8    = -4,
    ADDR_EDOMAIN  = -5,
};

struct addr {
    int  is_null;                         /* "<>" */
    int  is_utf8;                         /* non-ASCII in the input */
    char local[ADDR_LOCAL_MAX + 3];       /* as normalised, quotes kept if needed */
    char domain[ADDR_DOMAIN_MAX + 1];     /* A-label, lower case */
    char key[ADDR_KEY_MAX + 1];           /* local@domain, or "" for <> */
};

/* Parse len bytes at s (need not be NUL-terminated; an embedded NUL is ADDR_ECTRL). */
int addr_parse(const char *s, size_t len, struct addr *out);

/* Convenience for NUL-terminated input. */
int addr_parse_str(const char *s, struct addr *out);

/*
 * Normalise a bare domain (UTF-8 or A-label, any case, an optional leading
 * '.' kept) into out (A-label, lower case).  Returns ADDR_OK or an error.
 */
int addr_domain_norm(const char *domain, char out[ADDR_DOMAIN_MAX + 2]);

/*
 * The address key without its recipient-delimiter extension, as Postfix's
 * recipient_delimiter means it: the local part is cut at the first byte
 * that is one of delims ("+", "+-"), unless that byte is the first of the
 * local part or the local part is quoted.  key is in normal form.
 * Returns 1 and fills out (ADDR_KEY_MAX + 1 bytes) when something was cut,
 * else 0 (out untouched).
 */
int addr_strip_ext(const char *key, const char *delims, char out[ADDR_KEY_MAX + 1]);

const char *addr_strerror(int err);

#endif
