#ifndef MAILSTATE_ME_H
#define MAILSTATE_ME_H
/*
 * me - users' own view (issue 12): HTTP Basic with the mail password
 * (checked by Dovecot, dvauth.h; cached, authcache.h; failures slowed,
 * authslow.h) or the session cookie of the web page (session.h).
 *
 * Routes (JSON, bare mail ids; shapes fixed in coord CONTRACTS.md):
 *   GET /v1/me                 {"user", "address", "admin"}
 *   GET /v1/me/sent?since=&until=&message_id=(repeatable, <= 50)&status=
 *                  &recipient=&limit=&cursor=   {"mails": [MAIL], "next_cursor"}
 *   GET /v1/me/sent/{id}       MAIL, 404 mail_not_found unless the user's
 *   GET /v1/me/reads?since=&until=&limit=&cursor=  {"reads": [...], "next_cursor"}
 *   GET /v1/me/all?sender=&recipient=&...   admins only (GET /v1/mails)
 *   POST /v1/session           JSON or form body {user, password} -> cookie
 *   DELETE /v1/session         forgets the session, clears the cookie
 *   GET / and /www/{file}      the web page from [tracker] www_dir
 * Errors: 401 unauthorized + WWW-Authenticate: Basic realm="mailstate";
 * 429 too_many_failures + Retry-After; 503 auth_unavailable; 404
 * auth_not_configured without [auth] dovecot_socket; 403 cross_site for a
 * state-changing request whose Origin / Sec-Fetch-Site says another site.
 *
 * A user's identity is Dovecot's user=; the address is that user when it
 * parses as an address, else user@[auth] default_domain (none without it).
 * Passwords are never logged.
 *
 * me_register() installs the handlers (before the HTTP server starts).
 * me_metrics_write() appends this module's counters to /metrics.
 */
#include <stdio.h>

void me_register(void);
void me_metrics_write(FILE *fp);

#endif
