#ifndef MAILSTATE_AUTHCACHE_H
#define MAILSTATE_AUTHCACHE_H
/*
 * authcache - passwords Dovecot accepted, remembered for [auth] cache_ttl
 * so that every API call does not cost an auth round trip.
 *
 * An entry is the keyed BLAKE2b-256 (libsodium crypto_generichash) of
 * user NUL password under a random key made once per process, with the
 * identity Dovecot returned and an expiry: the password itself is never
 * stored, and the hashes are worthless outside this process.  Only
 * successes are stored.  A fixed table (AUTHCACHE_SLOTS, chosen by the
 * hash) replaces the entry in a slot.  Thread-safe (one mutex).
 *
 * authcache_get(): 1 and the identity when (user, password) was accepted
 * less than ttl_s seconds before now_ms, else 0.
 */
#include <stdint.h>

#include "dvauth.h"

#define AUTHCACHE_SLOTS 1024

int  authcache_get(const char *user, const char *password, uint64_t now_ms,
                   unsigned ttl_s, char identity[DVAUTH_USER_MAX + 1]);
void authcache_put(const char *user, const char *password, uint64_t now_ms,
                   const char *identity);

#endif
