#ifndef MAILSTATE_KEYS_H
#define MAILSTATE_KEYS_H
/*
 * keys - one system key, one derived key per purpose (design §11).
 *
 * The system key file is shared by every server of the system.  It is never
 * used directly: HKDF-SHA256 (RFC 5869, built from libsodium's HMAC-SHA256;
 * libsodium 1.0.18 in Debian 12 has no HKDF of its own) derives a key for
 * each purpose, so a value made for one use (a mail-id tag) can never be
 * presented as another (a sync signature), and a new purpose gets a fresh
 * key without touching the key file.
 *
 *   keys_hkdf(): the RFC 5869 function (salt may be empty; out_len <= 8160).
 *   keys_derive(): HKDF with salt KEYS_SALT and info = the purpose string,
 *                  32 bytes out.
 *
 * Pure functions, thread-safe.  Callers wipe what they derive
 * (sodium_memzero) when done.
 */
#include <stddef.h>

#define KEYS_LEN 32
#define KEYS_SALT "mailstate system key v1"
#define KEYS_PURPOSE_MAILID "mailstate mail-id tag"
#define KEYS_PURPOSE_SYNC   "mailstate sync signature"

/* 0, or -1 if out_len is 0 or over 255 * 32. */
int keys_hkdf(const unsigned char *salt, size_t salt_len,
              const unsigned char *ikm, size_t ikm_len,
              const unsigned char *info, size_t info_len,
              unsigned char *out, size_t out_len);

void keys_derive(const unsigned char *key, size_t key_len, const char *purpose,
                 unsigned char out[KEYS_LEN]);

#endif
