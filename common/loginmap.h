#ifndef MAILSTATE_LOGINMAP_H
#define MAILSTATE_LOGINMAP_H
/*
 * loginmap - which SMTP AUTH logins may send as which envelope sender
 * (design §11, "SMTP AUTH must match MAIL FROM").
 *
 * The map file has the source format of Postfix's smtpd_sender_login_maps
 * (what postmap reads): one "KEY VALUE" per line, KEY an address or
 * "@domain", VALUE one or more logins separated by commas or whitespace;
 * '#' starts a comment line; a line starting with whitespace continues the
 * previous one.  Keys are compared in addr normal form (addr.h), logins
 * case-insensitively for ASCII (as Postfix does).
 *
 * loginmap_allows(map, sender, login) says yes when
 *   - login, parsed as an address, has the same normal form as sender; or
 *   - the map lists login for the sender, for the sender without its
 *     recipient-delimiter extension (bob+news@ -> bob@), or for "@domain".
 * The first key that exists decides (as in Postfix: a listed address does
 * not fall back to its domain).  map may be NULL (no map: only the first
 * rule applies).
 *
 * loginmap_load() reads the whole file: 0, or -1 with "FILE:LINE: message"
 * in err (bad key, key without logins, unreadable file).  A loaded map is
 * immutable and thread-safe; loginmap_free() returns NULL.
 */
#include <stddef.h>

typedef struct loginmap loginmap_t;

int loginmap_load(const char *path, loginmap_t **out, char *err, size_t errlen);
/* Same from text (tests); name stands in for the file name in messages. */
int loginmap_load_string(const char *text, const char *name, loginmap_t **out,
                         char *err, size_t errlen);
loginmap_t *loginmap_free(loginmap_t *map);

/* sender_key: addr normal form; delims: recipient delimiters ("" = none). */
int loginmap_allows(const loginmap_t *map, const char *sender_key, const char *login,
                    const char *delims);

size_t loginmap_count(const loginmap_t *map);

#endif
