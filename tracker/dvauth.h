#ifndef MAILSTATE_DVAUTH_H
#define MAILSTATE_DVAUTH_H
/*
 * dvauth - a client of Dovecot's auth-client protocol (the one Postfix's
 * smtpd_sasl_type = dovecot speaks) to check a user's mail password.
 *
 * The protocol is tab-separated lines.  The client sends "VERSION\t1\t2"
 * and "CPID\tPID"; the server answers VERSION, MECH, SPID, CUID, COOKIE
 * lines and DONE.  Then "AUTH\tID\tPLAIN\tservice=mailstate\trip=IP
 * [\tsecured]\tresp=BASE64(\0user\0password)" (resp last) is answered by
 * "OK\tID\tuser=NAME..." or "FAIL\tID[\t...]" ("temp" among the fields: a
 * temporary failure).  An OK carrying "nologin" is not a login.
 *
 * Pure part (unit-tested): dvauth_parse() classifies one server line (no
 * trailing newline) and pulls out the fields we use; dvauth_build_auth()
 * writes the AUTH line.
 *
 * Socket part: dvauth_check() opens a new connection per check (simple,
 * and a cache in front makes checks rare), with timeout_ms bounding every
 * wait (connect, each read, each write).  Returns DVAUTH_OK (user_out =
 * Dovecot's user=), DVAUTH_FAIL (wrong password, unknown user),
 * DVAUTH_ETEMP (Dovecot said temp) or DVAUTH_EUNAVAIL (socket missing,
 * refused, timeout, protocol error; logged without the password).  Never
 * logs or keeps the password; the buffer holding it is wiped.
 */
#include <stddef.h>

enum dvauth_result {
    DVAUTH_OK       = 0,
    DVAUTH_FAIL     = -1,
    DVAUTH_ETEMP    = -2,
    DVAUTH_EUNAVAIL = -3,
};

enum dvauth_line {
    DVL_OTHER = 0,     /* a line we ignore (MECH, SPID, CUID, COOKIE, unknown) */
    DVL_VERSION,       /* major in .major */
    DVL_DONE,
    DVL_OK,            /* .id, .user (may be empty), .nologin */
    DVL_FAIL,          /* .id, .temp */
    DVL_CONT,          /* .id: a challenge (PLAIN never needs one) */
    DVL_BAD,           /* malformed */
};

#define DVAUTH_USER_MAX 320

struct dvauth_reply {
    int           type;          /* enum dvauth_line */
    unsigned      major;
    unsigned long id;
    char          user[DVAUTH_USER_MAX + 1];
    int           nologin;
    int           temp;
};

int dvauth_parse(const char *line, size_t len, struct dvauth_reply *out);

/* The AUTH line with '\n'; its length, or 0 if it does not fit or user /
 * password are empty, too long (user > 320, password > 1024) or contain
 * NUL.  rip may be NULL. */
size_t dvauth_build_auth(char *buf, size_t buflen, unsigned long id, const char *service,
                         const char *rip, int secured, const char *user,
                         const char *password);

int dvauth_check(const char *socket_path, unsigned timeout_ms, const char *user,
                 const char *password, const char *rip, int secured,
                 char user_out[DVAUTH_USER_MAX + 1]);

#endif
