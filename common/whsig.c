/*
 * whsig - webhook signatures; see whsig.h.
 */
#include "whsig.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void mac(const unsigned char *secret, size_t secret_len, uint64_t t, const void *body,
                size_t body_len, unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state s;
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%llu.", (unsigned long long)t);

    crypto_auth_hmacsha256_init(&s, secret, secret_len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&s, body, body_len);
    crypto_auth_hmacsha256_final(&s, out);
    sodium_memzero(&s, sizeof(s));
}

size_t whsig_header(const unsigned char *secret, size_t secret_len, uint64_t t,
                    const void *body, size_t body_len, char out[WHSIG_HEADER_MAX])
{
    unsigned char m[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof(m) + 1];
    int n;

    mac(secret, secret_len, t, body, body_len, m);
    sodium_bin2hex(hex, sizeof(hex), m, sizeof(m));
    n = snprintf(out, WHSIG_HEADER_MAX, "t=%llu,v1=%s", (unsigned long long)t, hex);
    return n > 0 ? (size_t)n : 0;
}

int whsig_verify(const unsigned char *secret, size_t secret_len, const char *header,
                 const void *body, size_t body_len, uint64_t *t)
{
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    uint64_t ts = 0;
    const char *p = header;
    size_t digits = 0, bin_len = 0;
    const char *end;

    if (p == NULL || strncmp(p, "t=", 2) != 0)
        return -1;
    for (p += 2; *p >= '0' && *p <= '9' && digits < 19; p++, digits++)
        ts = ts * 10 + (uint64_t)(*p - '0');
    if (digits == 0 || strncmp(p, ",v1=", 4) != 0)
        return -1;
    p += 4;
    if (strlen(p) != 2 * sizeof(got) ||
        sodium_hex2bin(got, sizeof(got), p, strlen(p), NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof(got) || *end != '\0')
        return -1;
    mac(secret, secret_len, ts, body, body_len, want);
    if (sodium_memcmp(want, got, sizeof(got)) != 0)
        return -1;
    if (t)
        *t = ts;
    return 0;
}
