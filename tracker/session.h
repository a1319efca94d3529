#ifndef MAILSTATE_SESSION_H
#define MAILSTATE_SESSION_H
/*
 * session - web page logins (POST /v1/session), kept in the tracker's
 * memory: a tracker restart logs everybody out (documented).
 *
 * A session token is 32 random bytes, base64url (43 characters), handed to
 * the browser in a cookie; the table keeps only its BLAKE2b-256 hash (a
 * memory dump does not yield usable cookies) with the user, the expiry and
 * whether the user is an admin.  At most SESSION_MAX sessions: a new one
 * replaces an expired one, else the oldest.  Thread-safe.
 *
 * session_new() fills token (SESSION_TOKEN_LEN + 1).  session_get():
 * 0 and the user while token is live, else -1.  session_end(): forgets it.
 */
#include <stdint.h>

#include "dvauth.h"

#define SESSION_TOKEN_LEN 43
#define SESSION_MAX       4096

void session_new(const char *user, uint64_t now_ms, unsigned ttl_s,
                 char token[SESSION_TOKEN_LEN + 1]);
int  session_get(const char *token, uint64_t now_ms, char user[DVAUTH_USER_MAX + 1]);
void session_end(const char *token);

#endif
