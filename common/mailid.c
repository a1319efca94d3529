/*
 * mailid - mail ids and their MACs; see mailid.h.
 *
 * The id is laid out as ULID does: 130 bits of base32 hold 2 zero bits, the
 * 48-bit time and the 80 random bits, so the time is exactly the first 10
 * characters (the first one is at most '7') and the random part the last 16.
 * The 80-bit tag is exactly 16 characters.
 */
#include "mailid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <sodium.h>

#define MAILID_RAND_BYTES 10

static const char b32_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * Value of a canonical character, or -1.  Lower case maps like upper case;
 * the Crockford aliases I, L, O (and U, which is not in the alphabet) are
 * refused so each id has one spelling.
 */
static int b32_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
    const char *p = c ? strchr(b32_alphabet, c) : NULL;
    return p ? (int)(p - b32_alphabet) : -1;
}

/* 10 bytes -> 16 characters, big-endian 5-bit groups. */
static void b32_encode80(const unsigned char in[10], char out[16])
{
    for (int block = 0; block < 2; block++) {
        const unsigned char *b = in + block * 5;
        uint64_t v = ((uint64_t)b[0] << 32) | ((uint64_t)b[1] << 24) |
                     ((uint64_t)b[2] << 16) | ((uint64_t)b[3] << 8) | b[4];
        for (int i = 0; i < 8; i++)
            out[block * 8 + i] = b32_alphabet[(v >> (35 - 5 * i)) & 31];
    }
}

int mailid_init(void)
{
    return sodium_init() < 0 ? MAILID_EINIT : MAILID_OK;
}

static uint64_t now_ms_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void mailid_time_prefix(uint64_t ms, char prefix[MAILID_TIME_LEN + 1])
{
    ms &= (UINT64_C(1) << 48) - 1;
    for (int i = MAILID_TIME_LEN - 1; i >= 0; i--) {
        prefix[i] = b32_alphabet[ms & 31];
        ms >>= 5;
    }
    prefix[MAILID_TIME_LEN] = '\0';
}

int mailid_generate(uint64_t now_ms, char id[MAILID_ID_LEN + 1])
{
    unsigned char rnd[MAILID_RAND_BYTES];
    size_t got = 0;

    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MAILID_ERANDOM;
        }
        got += (size_t)n;
    }
    mailid_time_prefix(now_ms ? now_ms : now_ms_realtime(), id);
    b32_encode80(rnd, id + MAILID_TIME_LEN);
    id[MAILID_ID_LEN] = '\0';
    return MAILID_OK;
}

_Static_assert(sizeof(crypto_auth_hmacsha256_state) == MAILID_KEY_STATE,
               "MAILID_KEY_STATE must match libsodium's HMAC state");

void mailid_key_init(struct mailid_key *k, const unsigned char *key, size_t key_len)
{
    crypto_auth_hmacsha256_init((crypto_auth_hmacsha256_state *)(void *)k->st, key, key_len);
}

void mailid_key_wipe(struct mailid_key *k)
{
    sodium_memzero(k->st, sizeof(k->st));
}

void mailid_tag_k(const struct mailid_key *k, const char *id, const char *sender_key,
                  char tag[MAILID_TAG_LEN + 1])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    static const unsigned char zero = 0;

    /* The state after init depends on the key alone: a copy continues it. */
    memcpy(&st, k->st, sizeof(st));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, MAILID_ID_LEN);
    crypto_auth_hmacsha256_update(&st, &zero, 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)sender_key,
                                  strlen(sender_key));
    crypto_auth_hmacsha256_final(&st, mac);
    b32_encode80(mac, tag);
    tag[MAILID_TAG_LEN] = '\0';
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(mac, sizeof(mac));
}

void mailid_tag(const unsigned char *key, size_t key_len, const char *id,
                const char *sender_key, char tag[MAILID_TAG_LEN + 1])
{
    struct mailid_key k;

    mailid_key_init(&k, key, key_len);
    mailid_tag_k(&k, id, sender_key, tag);
    mailid_key_wipe(&k);
}

int mailid_make_k(const struct mailid_key *k, const char *sender_key, uint64_t now_ms,
                  char value[MAILID_VALUE_LEN + 1])
{
    char id[MAILID_ID_LEN + 1], tag[MAILID_TAG_LEN + 1];
    int rc = mailid_generate(now_ms, id);

    if (rc != MAILID_OK)
        return rc;
    mailid_tag_k(k, id, sender_key, tag);
    memcpy(value, id, MAILID_ID_LEN);
    value[MAILID_ID_LEN] = '.';
    memcpy(value + MAILID_ID_LEN + 1, tag, MAILID_TAG_LEN);
    value[MAILID_VALUE_LEN] = '\0';
    return MAILID_OK;
}

int mailid_make(const unsigned char *key, size_t key_len, const char *sender_key,
                uint64_t now_ms, char value[MAILID_VALUE_LEN + 1])
{
    struct mailid_key k;
    int rc;

    mailid_key_init(&k, key, key_len);
    rc = mailid_make_k(&k, sender_key, now_ms, value);
    mailid_key_wipe(&k);
    return rc;
}

/* Copy n base32 characters upper-cased into out; 0 if one is not canonical. */
static int b32_copy(const char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        int v = b32_value((unsigned char)in[i]);
        if (v < 0)
            return 0;
        out[i] = b32_alphabet[v];
    }
    out[n] = '\0';
    return 1;
}

int mailid_id_valid(const char *id, size_t len)
{
    if (id == NULL || len != MAILID_ID_LEN)
        return 0;
    /* The first character carries the 2 padding bits: above '7' the id
     * would not fit 128 bits.  Upper case only: this is the stored form. */
    if (id[0] < '0' || id[0] > '7')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c >= 'a' && c <= 'z')
            return 0;
        if (b32_value(c) < 0)
            return 0;
    }
    return 1;
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

int mailid_parse(const char *value, size_t len, char id[MAILID_ID_LEN + 1],
                 char tag[MAILID_TAG_LEN + 1])
{
    size_t b = 0, e = len;

    if (value == NULL)
        return MAILID_ESYNTAX;
    /* Leading white space and folds: SP/TAB, or CRLF/LF followed by SP/TAB. */
    for (;;) {
        if (b < e && is_wsp(value[b]))
            b++;
        else if (e - b >= 3 && value[b] == '\r' && value[b + 1] == '\n' &&
                 is_wsp(value[b + 2]))
            b += 3;
        else if (e - b >= 2 && value[b] == '\n' && is_wsp(value[b + 1]))
            b += 2;
        else
            break;
    }
    /* Trailing: SP/TAB, and a CRLF/LF only when SP/TAB followed it. */
    for (;;) {
        size_t w = e;
        while (w > b && is_wsp(value[w - 1]))
            w--;
        if (w == e)
            break;
        e = w;
        if (e > b && value[e - 1] == '\n') {
            e--;
            if (e > b && value[e - 1] == '\r')
                e--;
        }
    }
    if (e - b != MAILID_VALUE_LEN || value[b + MAILID_ID_LEN] != '.')
        return MAILID_ESYNTAX;
    if (!b32_copy(value + b, MAILID_ID_LEN, id) ||
        !b32_copy(value + b + MAILID_ID_LEN + 1, MAILID_TAG_LEN, tag) ||
        !mailid_id_valid(id, MAILID_ID_LEN))
        return MAILID_ESYNTAX;
    return MAILID_OK;
}

int mailid_verify_k(const struct mailid_key *k, const char *value, size_t len,
                    const char *sender_key, char id[MAILID_ID_LEN + 1])
{
    char got[MAILID_TAG_LEN + 1], want[MAILID_TAG_LEN + 1];
    int rc = mailid_parse(value, len, id, got);

    if (rc != MAILID_OK)
        return rc;
    mailid_tag_k(k, id, sender_key, want);
    return sodium_memcmp(got, want, MAILID_TAG_LEN) == 0 ? MAILID_OK : MAILID_EMAC;
}

int mailid_verify(const unsigned char *key, size_t key_len, const char *value,
                  size_t len, const char *sender_key, char id[MAILID_ID_LEN + 1])
{
    struct mailid_key k;
    int rc;

    mailid_key_init(&k, key, key_len);
    rc = mailid_verify_k(&k, value, len, sender_key, id);
    mailid_key_wipe(&k);
    return rc;
}

uint64_t mailid_time_ms(const char *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < MAILID_TIME_LEN; i++) {
        int v = b32_value((unsigned char)id[i]);
        ms = (ms << 5) | (uint64_t)(v < 0 ? 0 : v);
    }
    return ms;
}

const char *mailid_strerror(int err)
{
    switch (err) {
    case MAILID_OK:      return "ok";
    case MAILID_ESYNTAX: return "malformed mail id";
    case MAILID_EMAC:    return "mail id MAC does not match";
    case MAILID_ERANDOM: return "getrandom failed";
    case MAILID_EINIT:   return "libsodium initialisation failed";
    default:             return "unknown mail id error";
    }
}
