/*
 * authcache - keyed-hash cache of accepted passwords (see authcache.h).
 */
#include "authcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct slot {
    unsigned char h[crypto_generichash_BYTES];
    uint64_t      at_ms;                    /* 0 = empty */
    char          identity[DVAUTH_USER_MAX + 1];
};

static pthread_mutex_t ac_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ac_once = PTHREAD_ONCE_INIT;
static unsigned char ac_key[crypto_generichash_KEYBYTES];
static struct slot ac_slots[AUTHCACHE_SLOTS];

static void ac_init(void)
{
    if (sodium_init() < 0)
        abort();
    randombytes_buf(ac_key, sizeof(ac_key));
}

static void ac_hash(const char *user, const char *password, unsigned char h[crypto_generichash_BYTES])
{
    crypto_generichash_state s;
    pthread_once(&ac_once, ac_init);
    crypto_generichash_init(&s, ac_key, sizeof(ac_key), crypto_generichash_BYTES);
    crypto_generichash_update(&s, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&s, (const unsigned char *)password, strlen(password));
    crypto_generichash_final(&s, h, crypto_generichash_BYTES);
}

static struct slot *ac_slot(const unsigned char *h)
{
    unsigned idx = ((unsigned)h[0] | (unsigned)h[1] << 8) % AUTHCACHE_SLOTS;
    return &ac_slots[idx];
}

int authcache_get(const char *user, const char *password, uint64_t now_ms,
                  unsigned ttl_s, char identity[DVAUTH_USER_MAX + 1])
{
    unsigned char h[crypto_generichash_BYTES];
    int hit = 0;

    if (ttl_s == 0 || user == NULL || password == NULL)
        return 0;
    ac_hash(user, password, h);
    pthread_mutex_lock(&ac_lock);
    struct slot *s = ac_slot(h);
    if (s->at_ms != 0 && now_ms >= s->at_ms && now_ms - s->at_ms < (uint64_t)ttl_s * 1000 &&
        sodium_memcmp(s->h, h, sizeof(h)) == 0) {
        memcpy(identity, s->identity, sizeof(s->identity));
        hit = 1;
    }
    pthread_mutex_unlock(&ac_lock);
    sodium_memzero(h, sizeof(h));
    return hit;
}

void authcache_put(const char *user, const char *password, uint64_t now_ms,
                   const char *identity)
{
    unsigned char h[crypto_generichash_BYTES];

    if (user == NULL || password == NULL || identity == NULL ||
        strlen(identity) > DVAUTH_USER_MAX)
        return;
    ac_hash(user, password, h);
    pthread_mutex_lock(&ac_lock);
    struct slot *s = ac_slot(h);
    memcpy(s->h, h, sizeof(h));
    s->at_ms = now_ms ? now_ms : 1;
    strcpy(s->identity, identity);
    pthread_mutex_unlock(&ac_lock);
    sodium_memzero(h, sizeof(h));
}
