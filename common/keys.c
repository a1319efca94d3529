/*
 * keys - per-purpose keys derived from the system key; see keys.h.
 */
#include "keys.h"

#include <string.h>
#include <sodium.h>

int keys_hkdf(const unsigned char *salt, size_t salt_len,
              const unsigned char *ikm, size_t ikm_len,
              const unsigned char *info, size_t info_len,
              unsigned char *out, size_t out_len)
{
    unsigned char prk[crypto_auth_hmacsha256_BYTES];
    unsigned char t[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t done = 0;
    unsigned char ctr = 0;

    if (out_len == 0 || out_len > 255 * sizeof(t))
        return -1;
    /* Extract: PRK = HMAC(salt, IKM); an empty salt is HashLen zero bytes. */
    if (salt_len == 0) {
        static const unsigned char zeros[crypto_auth_hmacsha256_BYTES];
        salt = zeros;
        salt_len = sizeof(zeros);
    }
    crypto_auth_hmacsha256_init(&st, salt, salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    /* Expand: T(i) = HMAC(PRK, T(i-1) | info | i). */
    while (done < out_len) {
        size_t n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
        ctr++;
        crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
        if (ctr > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof(t));
        crypto_auth_hmacsha256_update(&st, info, info_len);
        crypto_auth_hmacsha256_update(&st, &ctr, 1);
        crypto_auth_hmacsha256_final(&st, t);
        memcpy(out + done, t, n);
        done += n;
    }
    sodium_memzero(prk, sizeof(prk));
    sodium_memzero(t, sizeof(t));
    sodium_memzero(&st, sizeof(st));
    return 0;
}

void keys_derive(const unsigned char *key, size_t key_len, const char *purpose,
                 unsigned char out[KEYS_LEN])
{
    (void)keys_hkdf((const unsigned char *)KEYS_SALT, strlen(KEYS_SALT), key, key_len,
                    (const unsigned char *)purpose, strlen(purpose), out, KEYS_LEN);
}
