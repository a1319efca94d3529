#ifndef MAILSTATE_AUTH_H
#define MAILSTATE_AUTH_H
/*
 * auth - bearer tokens of the tracker's API (design §6).
 *
 * auth_route_scopes() says which CONF_SCOPE_* bit a route needs (0 = none:
 * /healthz, /metrics, and /v1/sync, which carries its own signature).
 * auth_check() takes the raw Authorization header value (NULL if absent),
 * finds the token with conf_token_find (constant time over all tokens) and
 * checks that it has every bit of need.  Pure apart from reading conf.
 *
 * Returns AUTH_OK (and *token, when token is not NULL), AUTH_EMISSING (no
 * header, or not the Bearer scheme: 401), AUTH_EBAD (unknown token: 401) or
 * AUTH_ESCOPE (valid token without the scope: 403).
 */
#include "conf.h"

enum auth_result {
    AUTH_OK       = 0,
    AUTH_EMISSING = -1,
    AUTH_EBAD     = -2,
    AUTH_ESCOPE   = -3,
};

unsigned auth_route_scopes(int route);
int auth_check(const struct conf *c, const char *authorization, unsigned need,
               const struct conf_token **token);

#endif
