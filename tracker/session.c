/*
 * session - in-memory web sessions (see session.h).
 */
#include "session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct sess {
    unsigned char h[crypto_generichash_BYTES];
    uint64_t      created_ms, expires_ms;      /* 0 = free */
    char          user[DVAUTH_USER_MAX + 1];
};

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sess *s_tab;

static void s_hash(const char *token, unsigned char h[crypto_generichash_BYTES])
{
    crypto_generichash(h, crypto_generichash_BYTES, (const unsigned char *)token,
                       strlen(token), NULL, 0);
}

void session_new(const char *user, uint64_t now_ms, unsigned ttl_s,
                 char token[SESSION_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    struct sess *v = NULL;

    if (sodium_init() < 0)
        abort();
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, SESSION_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    pthread_mutex_lock(&s_lock);
    if (s_tab == NULL)
        s_tab = calloc(SESSION_MAX, sizeof(*s_tab));
    if (s_tab == NULL)
        abort();
    for (size_t i = 0; i < SESSION_MAX; i++) {
        struct sess *s = &s_tab[i];
        if (s->expires_ms <= now_ms) {
            v = s;
            break;
        }
        if (v == NULL || s->created_ms < v->created_ms)
            v = s;
    }
    s_hash(token, v->h);
    v->created_ms = now_ms;
    v->expires_ms = now_ms + (uint64_t)ttl_s * 1000;
    strncpy(v->user, user, DVAUTH_USER_MAX);
    v->user[DVAUTH_USER_MAX] = '\0';
    pthread_mutex_unlock(&s_lock);
}

int session_get(const char *token, uint64_t now_ms, char user[DVAUTH_USER_MAX + 1])
{
    unsigned char h[crypto_generichash_BYTES];
    int rc = -1;

    if (token == NULL || strlen(token) != SESSION_TOKEN_LEN)
        return -1;
    s_hash(token, h);
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; s_tab && i < SESSION_MAX; i++) {
        struct sess *s = &s_tab[i];
        if (s->expires_ms > now_ms && sodium_memcmp(s->h, h, sizeof(h)) == 0) {
            memcpy(user, s->user, sizeof(s->user));
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void session_end(const char *token)
{
    unsigned char h[crypto_generichash_BYTES];

    if (token == NULL || strlen(token) != SESSION_TOKEN_LEN)
        return;
    s_hash(token, h);
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; s_tab && i < SESSION_MAX; i++)
        if (sodium_memcmp(s_tab[i].h, h, sizeof(h)) == 0)
            memset(&s_tab[i], 0, sizeof(s_tab[i]));
    pthread_mutex_unlock(&s_lock);
}
