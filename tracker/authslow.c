/*
 * authslow - back-off for password failures per client address (authslow.h).
 */
#include "authslow.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define WAYS 4

struct slot {
    char     addr[48];
    unsigned failures;
    uint64_t last_ms;
};

static pthread_mutex_t as_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot as_slots[AUTHSLOW_SLOTS];

unsigned authslow_delay_s(unsigned failures)
{
    if (failures < AUTHSLOW_FREE)
        return 0;
    unsigned shift = failures - AUTHSLOW_FREE;
    if (shift >= 8)
        return AUTHSLOW_MAX_S;
    unsigned d = AUTHSLOW_BASE_S << shift;
    return d > AUTHSLOW_MAX_S ? AUTHSLOW_MAX_S : d;
}

static int live(const struct slot *s, uint64_t now_ms)
{
    return s->addr[0] && now_ms - s->last_ms < (uint64_t)AUTHSLOW_FORGET_S * 1000;
}

/* The slot of addr (create = 1: make one). */
static struct slot *find(const char *addr, uint64_t now_ms, int create)
{
    unsigned char h[8];
    crypto_generichash(h, sizeof(h), (const unsigned char *)addr, strlen(addr), NULL, 0);
    size_t base = (((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16) %
                   (AUTHSLOW_SLOTS / WAYS)) * WAYS;
    struct slot *victim = NULL;
    for (size_t i = base; i < base + WAYS; i++) {
        struct slot *s = &as_slots[i];
        if (s->addr[0] && strcmp(s->addr, addr) == 0)
            return s;
        if (!live(s, now_ms) && victim == NULL)
            victim = s;
    }
    if (!create)
        return NULL;
    if (victim == NULL) {
        victim = &as_slots[base];
        for (size_t i = base + 1; i < base + WAYS; i++)
            if (as_slots[i].last_ms < victim->last_ms)
                victim = &as_slots[i];
    }
    snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
    victim->failures = 0;
    victim->last_ms = now_ms;
    return victim;
}

unsigned authslow_check(const char *addr, uint64_t now_ms)
{
    unsigned wait = 0;

    if (addr == NULL || addr[0] == '\0')
        addr = "?";
    pthread_mutex_lock(&as_lock);
    struct slot *s = find(addr, now_ms, 0);
    if (s && live(s, now_ms)) {
        uint64_t until = s->last_ms + (uint64_t)authslow_delay_s(s->failures) * 1000;
        if (now_ms < until)
            wait = (unsigned)((until - now_ms + 999) / 1000);
    }
    pthread_mutex_unlock(&as_lock);
    return wait;
}

void authslow_failed(const char *addr, uint64_t now_ms)
{
    if (addr == NULL || addr[0] == '\0')
        addr = "?";
    pthread_mutex_lock(&as_lock);
    struct slot *s = find(addr, now_ms, 1);
    if (!live(s, now_ms))
        s->failures = 0;
    if (s->failures < 1000)
        s->failures++;
    s->last_ms = now_ms;
    pthread_mutex_unlock(&as_lock);
}
