#ifndef MAILSTATE_WHSIG_H
#define MAILSTATE_WHSIG_H
/*
 * whsig - the signature of an outgoing webhook POST (issue 17), the scheme
 * Stripe and Mailgun users know:
 *
 *   Mailstate-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "UNIX." + body))
 *
 * UNIX is the signing time in seconds (decimal), the signed text is that
 * number, a dot and the exact body bytes; HEX is lower-case.  A receiver
 * recomputes the HMAC over what it got, compares in constant time, and
 * refuses a t too far from its clock (replays).
 *
 * Pure (libsodium's crypto_auth_hmacsha256 with a key of any length).
 * whsig_header() writes the header value into out (WHSIG_HEADER_MAX bytes,
 * NUL-terminated) and returns its length.  whsig_verify() parses such a
 * value and checks it: 0 if it matches body under secret, -1 if not or if
 * the value is malformed (it does not judge t's age: the caller does).
 */
#include <stddef.h>
#include <stdint.h>

#define WHSIG_HEADER_MAX 96   /* "t=" 20 digits ",v1=" 64 hex + NUL */

size_t whsig_header(const unsigned char *secret, size_t secret_len, uint64_t t,
                    const void *body, size_t body_len, char out[WHSIG_HEADER_MAX]);
int whsig_verify(const unsigned char *secret, size_t secret_len, const char *header,
                 const void *body, size_t body_len, uint64_t *t);

#endif
