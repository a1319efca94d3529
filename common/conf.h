#ifndef MAILSTATE_CONF_H
#define MAILSTATE_CONF_H
/*
 * conf - the mailstate.conf INI file (design §3), read through libinih.
 *
 * One table in conf.c lists every key: section, name, type, default, bounds,
 * one line of documentation, and where the value lands in struct conf.
 * Parsing, validation, the defaults and the sample config (conf_write_sample)
 * all come from that table.
 *
 * Sections: [system] [milter] [tracker] [store] [auth] [log] [events], and
 * the named sections [server NAME] (domains, tracker), [token NAME] (secret
 * or secret_file, scopes) and [webhook NAME] (url, secret_file, events;
 * secret_file read with the token files' checks, 16.. bytes, required).  Unknown sections and keys are errors.  A key given
 * twice in one section is an error.
 *
 * Value types: string; bool (yes/no/true/false/on/off/1/0); integer with
 * bounds; duration ("45s", "90m", "12h", "30d", "2w"; bare number = seconds);
 * size ("64k", "512M", "4G"; bare number = bytes; powers of 1024); address
 * list and domain list (whitespace or comma separated; a double-quoted part
 * such as "john doe"@a.example stays one item; a list may continue on
 * indented lines); CIDR list (IPv4 and IPv6); enum (e.g. on_error = accept |
 * tempfail).  Comments: lines starting with # or ;, and " ;" after a value
 * (inih's inline comment, so a value cannot contain " ;").
 *
 * Errors: conf_load() collects every problem it finds, one per line, each as
 * "FILE:LINE: message" (LINE 0 when the problem is not on one line, such as
 * a missing key file), and returns NULL with that text in *errors (caller
 * frees).  Nothing is half-loaded.  Messages are sorted by line; LINE 0
 * ones come last.
 *
 * The key file is read at load: it must be a regular file, at least
 * CONF_KEY_MIN bytes (at most CONF_KEY_MAX), and neither group- nor
 * world-readable or -writable (a clear message says "chmod 600 FILE").  The
 * whole file content is the key.  It is used only through the keys derived
 * from it (keys.h): key_mailid for mail-id tags, key_sync for signatures.
 * [milter] sender_login_maps is loaded at load too (loginmap.h), so -n and
 * a SIGHUP reload check it.
 *
 * Tokens: secret (16..CONF_KEY_MAX visible ASCII bytes, no spaces: it travels
 * in an Authorization header) or secret_file (same checks as the key file;
 * one trailing newline is dropped), never both; an inline secret in a
 * config file that group or others can read is refused like such a file; scopes required; no two
 * tokens may share a secret.  CONF_NO_KEY also skips reading secret files:
 * such tokens then match nothing.
 *
 * Defaults make a one-server system work with no config file at all (see
 * CONF_MISSING_OK): this_server = the short host name; when no [server]
 * section exists an implicit one named this_server hosts "localhost";
 * trusted_networks = 127.0.0.0/8 ::1/128.  When [server] sections exist,
 * this_server must name one of them.
 *
 * Lifetime: a loaded struct conf is immutable.  It is reference counted so a
 * milter connection can hold the snapshot it started with while SIGHUP
 * installs a new one: conf_ref() / conf_unref() are atomic; the last
 * conf_unref() frees it.  All pointers inside live as long as the conf.
 *
 * Debian's libinih keeps its options in process-wide variables; the first
 * conf_load*() sets them once (line buffer CONF_LINE_MAX in conf_priv.h).
 * Nothing else in mailstate uses inih.
 */
#include <stddef.h>
#include <stdio.h>

#include "keys.h"
#include "loginmap.h"
#include "mailid.h"
#include "msys.h"

#define CONF_KEY_MIN 32
#define CONF_KEY_MAX 4096

enum conf_on_error { CONF_ON_ERROR_ACCEPT = 0, CONF_ON_ERROR_TEMPFAIL = 1 };

enum conf_scope {
    CONF_SCOPE_NOTIFY = 1u << 0,   /* POST /v1/reads */
    CONF_SCOPE_QUERY  = 1u << 1,   /* GET /v1/mails... */
    CONF_SCOPE_ADMIN  = 1u << 2,   /* erasure, admin routes */
    CONF_SCOPE_EVENTS = 1u << 3,   /* GET /v1/events (issue 17) */
};

/* Event kinds a webhook asks for (bit = 1 << STORE_EV_* of store.h). */
enum conf_event_bits {
    CONF_EV_READ           = 1u << 0,
    CONF_EV_RECEIVED       = 1u << 1,
    CONF_EV_DELETED_UNREAD = 1u << 2,
};

/* [webhook NAME] (issue 17): where the event feed is POSTed. */
struct conf_webhook {
    char          *name;
    char          *url;             /* http:// or https:// */
    unsigned char *secret;          /* HMAC key, from secret_file */
    size_t         secret_len;
    unsigned       events;          /* CONF_EV_* bits */
};

struct conf_token {
    char          *name;
    unsigned char *secret;
    size_t         secret_len;
    unsigned       scopes;          /* CONF_SCOPE_* bits */
};

struct conf {
    char *path;                     /* file it came from ("(defaults)" if none) */

    /* [system] */
    char          *this_server;
    char          *key_file;
    unsigned char *key;             /* key_len >= CONF_KEY_MIN bytes */
    size_t         key_len;
    unsigned char  key_mailid[KEYS_LEN];  /* derived from key: mail-id tags */
    unsigned char  key_sync[KEYS_LEN];    /* derived from key: sync signatures */
    struct mailid_key mac_key;      /* key_mailid prepared for tags; valid when key != NULL */
    char          *recipient_delimiter;   /* Postfix's recipient_delimiter ("" = none) */
    int            tracking;        /* org-wide switch (design §9); default yes */
    int            record_subject;
    long long      retention;       /* seconds */
    char         **opt_out;         /* addr keys, sorted; n_opt_out entries */
    size_t         n_opt_out;
    char          *header_mail_id;  /* "X-Mail-Id" */
    char          *header_sender;   /* "X-Sender" */
    msys_t        *msys;            /* servers, domains, trusted networks */

    /* [milter] */
    char *milter_socket;            /* "unix:/path" or "inet:PORT@HOST" */
    int   milter_on_error;          /* enum conf_on_error */
    int   milter_socket_mode;       /* permissions of a unix socket, e.g. 0660 */
    char *milter_user;              /* drop privileges to this user ("" = stay) */
    char *milter_pid_file;          /* "" = none */
    int   milter_timeout;           /* seconds libmilter waits on the MTA (7210) */
    int   milter_sender_login_check;  /* SMTP AUTH login must match MAIL FROM */
    char *milter_sender_login_maps;   /* "" = none */
    loginmap_t *sender_login_map;     /* loaded from it; NULL = none */

    /* [tracker] */
    char     *tracker_listen;       /* "127.0.0.1:8026" or "[::1]:8026" */
    int       tracker_threads;      /* 0 = number of cores */
    size_t    tracker_max_body;
    size_t    tracker_max_header;   /* request header bytes (MHD memory limit) */
    size_t    tracker_max_url;
    int       tracker_max_connections;
    int       tracker_idle_timeout; /* seconds */
    char     *tracker_user;
    char     *tracker_pid_file;
    long long tracker_sync_window;  /* seconds a signed sync stays valid */
    int       tracker_forward_batch;       /* outbox items per sync request */
    int       tracker_forward_backoff_max; /* seconds, cap of the retry backoff */
    int       tracker_forward_timeout;     /* seconds per sync request */
    int       tracker_forward_poll;        /* seconds between looks at an idle outbox */
    int       tracker_forward_max_queue;   /* outbox items per peer (0 = no bound) */
    int       tracker_max_connections_per_ip; /* 0 = no per-address limit */
    int       tracker_max_scan;            /* mails one list request examines */
    char     *tracker_event_log;           /* "" = STORE/evlog (issue 17) */
    size_t    tracker_event_log_segment;
    int       tracker_event_log_lag_max;
    char     *tracker_public_url;   /* "" = unknown (cookie not Secure) */
    char     *tracker_www_dir;      /* the web page's files */

    /* [store] */
    char  *store_path;              /* directory of the LMDB environment */
    size_t store_map_size;          /* initial map size */
    size_t store_map_size_max;      /* growth limit on MDB_MAP_FULL */

    /* [auth] (issue 12; dovecot_socket "" = user routes off) */
    char     *auth_dovecot_socket;
    char     *auth_default_domain;
    int       auth_cache_ttl;       /* seconds */
    int       auth_session_ttl;     /* seconds */
    char     *auth_admins;          /* users, space/comma separated */

    /* [log] */
    int log_level;                  /* enum log_level */
    int log_rate;                   /* tracker story lines per second (0 = no limit) */

    /* [token NAME] */
    struct conf_token *tokens;
    size_t             n_tokens;

    /* [events] and [webhook NAME] (issue 17: the event feed) */
    long long            events_keep;         /* seconds the feed keeps an event */
    int                  events_max_waiters;  /* long polls waiting at once */
    int                  events_max_wait;     /* seconds: cap of ?wait= */
    int                  webhook_backoff_max; /* seconds: cap of the retry backoff */
    int                  webhook_timeout;     /* seconds per POST */
    struct conf_webhook *webhooks;
    size_t               n_webhooks;

    int refcnt;                     /* private: use conf_ref/conf_unref */
};

enum conf_flags {
    CONF_MISSING_OK = 1u << 0,      /* a missing file means "all defaults" */
    CONF_NO_KEY     = 1u << 1,      /* do not read the key file (tools, tests) */
};

struct conf *conf_load(const char *path, unsigned flags, char **errors);
/* Same from a string; name is used in error messages in place of a file name. */
struct conf *conf_load_string(const char *text, const char *name, unsigned flags,
                              char **errors);

struct conf *conf_ref(struct conf *c);
struct conf *conf_unref(struct conf *c);   /* returns NULL */

/* 1 if addr_key (addr normal form) opted out of read tracking. */
int conf_is_opt_out(const struct conf *c, const char *addr_key);

/*
 * The token whose secret equals the presented bytes, or NULL.  Compares with
 * every configured token in constant time (sodium_memcmp on equal lengths),
 * so timing does not tell which token or how much of it matched.
 */
const struct conf_token *conf_token_find(const struct conf *c,
                                         const char *presented, size_t len);

/* Parsers behind the value types, exported for tests: 0 ok, -1 bad. */
int conf_parse_duration(const char *s, long long *seconds);
int conf_parse_size(const char *s, size_t *bytes);
int conf_parse_bool(const char *s, int *value);

/* The sample config: every key, commented out, with its default and doc line. */
void conf_write_sample(FILE *fp);

#endif
