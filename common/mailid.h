#ifndef MAILSTATE_MAILID_H
#define MAILSTATE_MAILID_H
/*
 * mailid - mail ids and their MACs (design §4).
 *
 * An id is 128 bits: 48-bit Unix time in milliseconds, then 80 random bits
 * from getrandom(2).  Text form: Crockford base32, upper case, 26 characters:
 * 10 for the time, 16 for the random part (as ULID does), so ids sort by time
 * as plain strings and the first 10 characters are a time prefix.
 *
 * The tag is HMAC-SHA256(key, id || 0x00 || sender_key) truncated to 80 bits
 * (MAILID_TAG_BYTES), base32, 16 characters.  sender_key is the sender in
 * addr normal form, so "<Alice@A.EXAMPLE>" and "alice@a.example" verify the
 * same.  The header value is "ID.TAG" (MAILID_VALUE_LEN characters).
 *
 * Parsing a header value is strict: leading/trailing SP/TAB and folding
 * (CRLF or LF followed by SP/TAB) are tolerated around the value; inside it
 * exactly 26 base32 characters, '.', 16 base32 characters.  Lower case is
 * accepted and upper-cased; Crockford aliases (I, L, O) are refused, so every
 * id has exactly one spelling.  Anything else is MAILID_ESYNTAX.
 *
 * Verification compares tags in constant time (sodium_memcmp).
 * All functions are thread-safe; mailid_init() (sodium_init) must have
 * succeeded once before any of them.
 */
#include <stddef.h>
#include <stdint.h>

#define MAILID_ID_LEN     26
#define MAILID_TIME_LEN   10
#define MAILID_TAG_BYTES  10
#define MAILID_TAG_LEN    16
#define MAILID_VALUE_LEN  (MAILID_ID_LEN + 1 + MAILID_TAG_LEN)

enum mailid_err {
    MAILID_OK      = 0,
    MAILID_ESYNTAX = -1,   /* not a well-formed id / value */
    MAILID_EMAC    = -2,   /* tag does not match */
    MAILID_ERANDOM = -3,   /* getrandom failed */
    MAILID_EINIT   = -4,   /* libsodium could not initialise */
};

int mailid_init(void);

/* New id for time now_ms (pass 0 for the current time). */
int mailid_generate(uint64_t now_ms, char id[MAILID_ID_LEN + 1]);

/* Tag for (id, sender_key) under key. */
void mailid_tag(const unsigned char *key, size_t key_len, const char *id,
                const char *sender_key, char tag[MAILID_TAG_LEN + 1]);

/*
 * A key made ready once (HMAC-SHA256's inner and outer pads already hashed),
 * so that each tag costs two SHA-256 blocks instead of four: the daemons tag
 * or verify on every mail and every API answer.  It is as secret as the key:
 * mailid_key_wipe() it before freeing.  The _k functions below are the ones
 * above with a prepared key; both give the same tags.
 */
#define MAILID_KEY_STATE 208    /* sizeof(crypto_auth_hmacsha256_state), checked */
struct mailid_key {
    _Alignas(16) unsigned char st[MAILID_KEY_STATE];
};
void mailid_key_init(struct mailid_key *k, const unsigned char *key, size_t key_len);
void mailid_key_wipe(struct mailid_key *k);
void mailid_tag_k(const struct mailid_key *k, const char *id, const char *sender_key,
                  char tag[MAILID_TAG_LEN + 1]);

/* generate + tag, formatted "ID.TAG". */
int mailid_make(const unsigned char *key, size_t key_len, const char *sender_key,
                uint64_t now_ms, char value[MAILID_VALUE_LEN + 1]);

/* Strict parse of a header value of len bytes into id and tag. */
int mailid_parse(const char *value, size_t len, char id[MAILID_ID_LEN + 1],
                 char tag[MAILID_TAG_LEN + 1]);

/* parse + constant-time check of the tag: MAILID_OK, _ESYNTAX or _EMAC. */
int mailid_verify(const unsigned char *key, size_t key_len, const char *value,
                  size_t len, const char *sender_key, char id[MAILID_ID_LEN + 1]);
int mailid_make_k(const struct mailid_key *k, const char *sender_key, uint64_t now_ms,
                  char value[MAILID_VALUE_LEN + 1]);
int mailid_verify_k(const struct mailid_key *k, const char *value, size_t len,
                    const char *sender_key, char id[MAILID_ID_LEN + 1]);

/* 1 if id is 26 valid canonical base32 characters (no tag). */
int mailid_id_valid(const char *id, size_t len);

/* Time part of a valid id, in ms. */
uint64_t mailid_time_ms(const char *id);

/* The 10-character time prefix for ms (for range scans). */
void mailid_time_prefix(uint64_t ms, char prefix[MAILID_TIME_LEN + 1]);

const char *mailid_strerror(int err);

#endif
