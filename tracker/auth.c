/*
 * auth - bearer tokens (see auth.h).
 */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "route.h"

unsigned auth_route_scopes(int route)
{
    switch (route) {
    case ROUTE_READS:
        return CONF_SCOPE_NOTIFY;
    case ROUTE_MAIL:
    case ROUTE_MAILS:
        return CONF_SCOPE_QUERY;
    case ROUTE_EVENTS:
        return CONF_SCOPE_EVENTS;
    default:
        return 0;
    }
}

int auth_check(const struct conf *c, const char *authorization, unsigned need,
               const struct conf_token **token)
{
    static const char scheme[] = "Bearer";
    const struct conf_token *t;
    const char *p;
    size_t len;

    if (token != NULL)
        *token = NULL;
    if (authorization == NULL)
        return AUTH_EMISSING;
    /* RFC 6750: scheme is case-insensitive, then one or more spaces. */
    if (strncasecmp(authorization, scheme, sizeof scheme - 1) != 0 ||
        authorization[sizeof scheme - 1] != ' ')
        return AUTH_EMISSING;
    p = authorization + sizeof scheme - 1;
    while (*p == ' ')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0)
        return AUTH_EMISSING;
    t = conf_token_find(c, p, len);
    if (t == NULL)
        return AUTH_EBAD;
    if ((t->scopes & need) != need)
        return AUTH_ESCOPE;
    if (token != NULL)
        *token = t;
    return AUTH_OK;
}
