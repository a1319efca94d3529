/*
 * conf_parse - the key table and the INI reading half of conf (conf.h);
 * conf.c builds, validates and owns the result.
 *
 * Everything is driven by conf_keys[] below: the defaults are loaded by
 * parsing each row's default text with the row's own type parser (so a bad
 * default cannot hide), the INI handler looks rows up by section and name,
 * and conf_write_sample() prints the rows.
 *
 * libinih (Debian's r55) is built without INI_HANDLER_LINENO, so we feed it
 * through ini_parse_stream() with our own reader that counts lines; the
 * handler runs while inih works on the line the reader just handed out, so
 * the reader's count is the handler's line.  The reader also sees every raw
 * line, which lets us name syntax errors inih only counts, spot section
 * headers (empty or repeated sections, bad names) and tell continuation
 * lines from keys.  Debian's build makes the line buffer a run-time size
 * (ini_max_line, a stack VLA); we raise it once, process-wide.
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf_priv.h"
#include "log.h"
#include "paths.h"
#include "xmem.h"

/* ---- the table ---------------------------------------------------------- */

#define C(field) offsetof(struct conf, field), sizeof(((struct conf *)0)->field)
#define S(field) offsetof(struct conf_srv_raw, field), sizeof(((struct conf_srv_raw *)0)->field)
#define T(field) offsetof(struct conf_tok_raw, field), sizeof(((struct conf_tok_raw *)0)->field)
#define W(field) offsetof(struct conf_hook_raw, field), sizeof(((struct conf_hook_raw *)0)->field)

#define KB 1024LL
#define MB (1024LL * KB)
#define GB (1024LL * MB)
#define DAY 86400LL

static const char *const on_error_names[] = { "accept", "tempfail", NULL };
static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };

const struct conf_key conf_keys[] = {
    { "system", "this_server", CT_STRING, "", 0, 0, NULL, C(this_server),
      "the [server NAME] section that is this host (empty: the short host name)" },
    { "system", "key_file", CT_STRING, MAILSTATE_KEY_PATH, 1, 0, NULL, C(key_file),
      "the system's shared secret, >= 32 bytes, mode 600 (head -c 32 /dev/urandom)" },
    { "system", "trusted_networks", CT_CIDRS, "127.0.0.0/8 ::1/128", 0, 0, NULL, C(msys),
      "MAIL FROM is believed without SMTP AUTH from these networks (list the other servers)" },
    { "system", "peer_networks", CT_CIDRS, "", 0, 0, NULL, C(msys),
      "the other servers of the system: only mail from these keeps its X-Mail-Id "
      "(empty: the IP hosts of the other [server] tracker URLs)" },
    { "system", "tracking", CT_BOOL, "yes", 0, 1, NULL, C(tracking),
      "org-wide switch: no = nothing is tagged or recorded" },
    { "system", "record_subject", CT_BOOL, "no", 0, 1, NULL, C(record_subject),
      "store the Subject in the mail log" },
    { "system", "retention", CT_DURATION, "30d", 3600, 3650 * DAY, NULL, C(retention),
      "entries older than this are purged by the tracker" },
    { "system", "opt_out", CT_ADDRS, "", 0, 0, NULL, C(opt_out),
      "addresses whose reads are never recorded" },
    { "system", "recipient_delimiter", CT_STRING, "+", 0, 0, NULL, C(recipient_delimiter),
      "Postfix's recipient_delimiter: bob+news@ is bob@ for reads and logins (empty: none)" },
    { "system", "header_mail_id", CT_HEADER, "X-Mail-Id", 0, 0, NULL, C(header_mail_id),
      "name of the mail id header" },
    { "system", "header_sender", CT_HEADER, "X-Sender", 0, 0, NULL, C(header_sender),
      "name of the judged sender header" },

    { "milter", "socket", CT_SOCKET, "unix:" MAILSTATE_RUN_DIR "/milter.sock", 0, 0, NULL,
      C(milter_socket), "unix:/path or inet:PORT@HOST, as Postfix writes it" },
    { "milter", "on_error", CT_ENUM, "accept", 0, 0, on_error_names, C(milter_on_error),
      "on the milter's own trouble: accept (mail passes unchanged) or tempfail (4xx)" },
    { "milter", "socket_mode", CT_MODE, "0660", 0, 0777, NULL, C(milter_socket_mode),
      "permissions of a unix socket (octal)" },
    { "milter", "user", CT_STRING, "", 0, 0, NULL, C(milter_user),
      "drop privileges to this user after opening the socket (empty: stay)" },
    { "milter", "pid_file", CT_STRING, "", 0, 0, NULL, C(milter_pid_file),
      "write the PID here (empty: none)" },
    /* libmilter's own default: the MTA may sit silent between SMTP commands
     * for as long as its SMTP timeouts allow (Postfix smtpd_timeout 300s). */
    { "milter", "timeout", CT_DURATION, "7210s", 1, DAY, NULL, C(milter_timeout),
      "how long libmilter waits on the MTA; keep above the MTA's SMTP timeouts" },
    { "milter", "sender_login_check", CT_BOOL, "yes", 0, 1, NULL, C(milter_sender_login_check),
      "an SMTP AUTH login may send only as its own address or as sender_login_maps allows; "
      "else the mail passes untagged" },
    { "milter", "sender_login_maps", CT_STRING, "", 0, 0, NULL, C(milter_sender_login_maps),
      "file in Postfix smtpd_sender_login_maps source format: SENDER LOGIN[, LOGIN...] "
      "(empty: none)" },

    { "tracker", "listen", CT_LISTEN, "127.0.0.1:8026", 0, 0, NULL, C(tracker_listen),
      "HTTP address and port (IPv6 as [::1]:8026)" },
    { "tracker", "threads", CT_INT, "0", 0, 256, NULL, C(tracker_threads),
      "worker threads (0: number of cores)" },
    { "tracker", "max_body", CT_SIZE, "64k", 1 * KB, 64 * MB, NULL, C(tracker_max_body),
      "largest request body" },
    { "tracker", "max_header", CT_SIZE, "8k", 1 * KB, 1 * MB, NULL, C(tracker_max_header),
      "request header bytes" },
    { "tracker", "max_url", CT_SIZE, "2k", 256, 64 * KB, NULL, C(tracker_max_url),
      "longest request URL" },
    { "tracker", "max_connections", CT_INT, "1024", 1, 65536, NULL, C(tracker_max_connections),
      "concurrent connections" },
    { "tracker", "idle_timeout", CT_DURATION, "30s", 1, 3600, NULL, C(tracker_idle_timeout),
      "an idle or stalled connection is closed after this" },
    { "tracker", "user", CT_STRING, "", 0, 0, NULL, C(tracker_user),
      "drop privileges to this user after binding (empty: stay)" },
    { "tracker", "pid_file", CT_STRING, "", 0, 0, NULL, C(tracker_pid_file),
      "write the PID here (empty: none)" },
    { "tracker", "sync_window", CT_DURATION, "300s", 10, DAY, NULL, C(tracker_sync_window),
      "a signed sync from a peer older than this (or replayed) is refused" },
    { "tracker", "forward_batch", CT_INT, "100", 1, 1000, NULL, C(tracker_forward_batch),
      "outbox items sent to a peer in one sync request" },
    { "tracker", "forward_backoff_max", CT_DURATION, "60s", 1, DAY, NULL,
      C(tracker_forward_backoff_max),
      "longest wait between retries while a peer is down (the backoff doubles up to it)" },
    { "tracker", "forward_timeout", CT_DURATION, "30s", 1, 3600, NULL,
      C(tracker_forward_timeout), "a sync request to a peer that takes longer is retried" },
    { "tracker", "forward_poll", CT_DURATION, "30s", 1, DAY, NULL, C(tracker_forward_poll),
      "how often an idle forwarder looks at the outbox (new reads wake it at once)" },
    { "tracker", "max_connections_per_ip", CT_INT, "256", 0, 65536, NULL,
      C(tracker_max_connections_per_ip),
      "concurrent connections from one client address; more are closed at once (0: no "
      "limit; raise it where many Dovecot processes share one address)" },
    { "tracker", "max_scan", CT_INT, "10000", 10, 100000000, NULL, C(tracker_max_scan),
      "mails one list request examines; beyond it the page holds what was found and "
      "next_cursor goes on from there" },
    /* issue 17: the write-ahead event log */
    { "tracker", "event_log", CT_STRING, "", 0, 0, NULL, C(tracker_event_log),
      "directory of the event log, where a read is durable before it is answered (empty: "
      "evlog in the mail log's directory)" },
    { "tracker", "event_log_segment", CT_SIZE, "16M", 64 * KB, 1 * GB, NULL,
      C(tracker_event_log_segment), "size of one event log segment file (preallocated)" },
    { "tracker", "event_log_lag_max", CT_INT, "100000", 100, 100000000, NULL,
      C(tracker_event_log_lag_max),
      "events acknowledged but not yet in the mail log; beyond it reads are answered 503 "
      "with Retry-After" },
    { "tracker", "forward_max_queue", CT_INT, "100000", 0, 100000000, NULL,
      C(tracker_forward_max_queue),
      "outbox items per peer (one per mail and recipient); beyond it changes are recorded "
      "here but not forwarded (0: no bound)" },

    /* issue 12: the sender's own view */
    { "tracker", "public_url", CT_STRING, "", 0, 0, NULL, C(tracker_public_url),
      "the web page's address as users reach it (https://... makes the session cookie Secure)" },
    { "tracker", "www_dir", CT_STRING, MAILSTATE_WWW_DIR, 1, 0, NULL, C(tracker_www_dir),
      "directory of the web page's files served at /" },

    { "store", "path", CT_STRING, MAILSTATE_STATE_DIR, 1, 0, NULL, C(store_path),
      "directory of the LMDB mail log" },
    { "store", "map_size", CT_SIZE, "64M", 1 * MB, 1024 * GB, NULL, C(store_map_size),
      "initial LMDB map size" },
    { "store", "map_size_max", CT_SIZE, "4G", 1 * MB, 1024 * GB, NULL, C(store_map_size_max),
      "the map grows up to this when full" },

    { "auth", "dovecot_socket", CT_STRING, "", 0, 0, NULL, C(auth_dovecot_socket),
      "Dovecot auth-client socket checking users' mail passwords (empty: no user login)" },
    { "auth", "default_domain", CT_STRING, "", 0, 0, NULL, C(auth_default_domain),
      "a Dovecot user without @ has the address user@default_domain" },
    { "auth", "cache_ttl", CT_DURATION, "60s", 0, 3600, NULL, C(auth_cache_ttl),
      "a checked password is trusted this long (keyed hash only; 0: ask Dovecot every time)" },
    { "auth", "session_ttl", CT_DURATION, "8h", 60, 30 * DAY, NULL, C(auth_session_ttl),
      "a web page login lasts this long (sessions live in the tracker's memory)" },
    { "auth", "admins", CT_STRING, "", 0, 0, NULL, C(auth_admins),
      "users (as Dovecot names them) who may search the whole mail log on the web page" },

    { "log", "level", CT_ENUM, "info", 0, 0, level_names, C(log_level),
      "error, warn, info or debug" },
    { "log", "rate", CT_INT, "100", 0, 1000000, NULL, C(log_rate),
      "the tracker's per-change and per-refusal lines: at most this many of each per "
      "second, the rest counted as suppressed (0: no limit)" },

    /* issue 17: the event feed (GET /v1/events, webhooks) */
    { "events", "keep", CT_DURATION, "7d", 3600, 3650 * DAY, NULL, C(events_keep),
      "the feed keeps an event this long (at most retention); a client or webhook "
      "further behind misses what was pruned" },
    { "events", "max_waiters", CT_INT, "32", 1, 1024, NULL, C(events_max_waiters),
      "GET /v1/events long polls waiting at once (each holds a thread); more get 503" },
    { "events", "max_wait", CT_DURATION, "60s", 1, 300, NULL, C(events_max_wait),
      "longest ?wait= a long poll may ask for" },
    { "events", "webhook_backoff_max", CT_DURATION, "5m", 1, DAY, NULL,
      C(webhook_backoff_max),
      "longest wait between retries of a failing webhook (1 s doubling up to it)" },
    { "events", "webhook_timeout", CT_DURATION, "10s", 1, 600, NULL, C(webhook_timeout),
      "a webhook POST that takes longer fails and is retried" },

    /* Named sections: the default text is the sample's example value. */
    { "server", "domains", CT_DOMAINS, "a.example b.example .dept.a.example", 0, 0, NULL,
      S(doms), "domains this server hosts; a leading dot means every subdomain" },
    { "server", "tracker", CT_URL, "http://127.0.0.1:8026", 0, 0, NULL, S(tracker),
      "URL of this server's tracker, for forwarding reads between servers" },
    { "token", "secret", CT_SECRET, "change-me-to-a-long-random-string", 0, 0, NULL,
      T(secret), "the bearer token, >= 16 visible characters (or use secret_file)" },
    { "token", "secret_file", CT_STRING, "/etc/mailstate/dovecot.token", 1, 0, NULL,
      T(secret_file), "a file holding the token, mode 600 (or use secret)" },
    { "token", "scopes", CT_SCOPES, "notify", 0, 0, NULL, T(scopes),
      "notify (POST /v1/reads), query (GET /v1/mails), events (GET /v1/events), admin" },
    { "webhook", "url", CT_URL, "https://hooks.example/mailstate", 0, 0, NULL, W(url),
      "where the events are POSTed (http:// or https://)" },
    { "webhook", "secret_file", CT_STRING, "/etc/mailstate/hook.secret", 1, 0, NULL,
      W(secret_file), "the HMAC-SHA256 signing secret, >= 16 bytes, mode 600" },
    { "webhook", "events", CT_EVENTS, "read received deleted_unread", 0, 0, NULL, W(events),
      "which events to send: read, received, deleted_unread" },
    { NULL, NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL },
};

const size_t conf_n_keys = sizeof(conf_keys) / sizeof(conf_keys[0]) - 1;
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) - 1 <= CONF_N_KEYS_MAX,
               "raise CONF_N_KEYS_MAX (the per-record seen[] arrays)");

static const char *const fixed_sections[] = { "system", "milter", "tracker", "store", "log",
                                              "auth", "events", NULL };

/* ---- value parsers ------------------------------------------------------ */

static int parse_scaled(const char *s, const char *units, const long long *mult, long long *out)
{
    char *end;
    long long v, m = 1;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0)
        return -1;
    if (*end != '\0') {
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return -1;
        m = mult[u - units];
    }
    if (v > LLONG_MAX / m)
        return -1;
    *out = v * m;
    return 0;
}

int conf_parse_duration(const char *s, long long *seconds)
{
    static const long long mult[] = { 1, 60, 3600, DAY, 7 * DAY };
    return parse_scaled(s, "smhdw", mult, seconds);
}

int conf_parse_size(const char *s, size_t *bytes)
{
    static const long long mult[] = { KB, KB, MB, MB, GB, GB, 1024 * GB, 1024 * GB };
    long long v;

    if (parse_scaled(s, "kKmMgGtT", mult, &v) < 0 || (unsigned long long)v > SIZE_MAX)
        return -1;
    *bytes = (size_t)v;
    return 0;
}

int conf_parse_bool(const char *s, int *value)
{
    static const char *const yes[] = { "yes", "true", "on", "1", NULL };
    static const char *const no[] = { "no", "false", "off", "0", NULL };

    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *value = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *value = 0;
            return 0;
        }
    }
    return -1;
}

/*
 * Next item of a whitespace- or comma-separated list, or NULL at the end.
 * A double-quoted part (a quoted local part: "john doe"@a.example) is kept
 * whole, backslash escapes included.
 */
static const char *list_next(const char **p, size_t *len)
{
    const char *s = *p, *e;
    int quoted = 0;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0')
        return NULL;
    for (e = s; *e && (quoted || (*e != ' ' && *e != '\t' && *e != ',')); e++) {
        if (*e == '"')
            quoted = !quoted;
        else if (*e == '\\' && quoted && e[1] != '\0')
            e++;
    }
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

static int valid_port(const char *s)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return 0;
    v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535;
}

static int valid_socket(const char *s)
{
    const char *at;

    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0)
        return strchr(s, ':')[1] == '/';
    if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
        char port[8];
        const char *p = strchr(s, ':') + 1;
        size_t n;
        at = strchr(p, '@');
        n = at ? (size_t)(at - p) : strlen(p);
        if (n == 0 || n >= sizeof(port) || (at && at[1] == '\0'))
            return 0;
        memcpy(port, p, n);
        port[n] = '\0';
        return valid_port(port);
    }
    return 0;
}

static int valid_listen(const char *s)
{
    const char *colon;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || close[1] != ':')
            return 0;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || colon == s || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return 0;
    }
    return valid_port(colon + 1);
}

/* A header field name (RFC 5322 ftext), sensible length. */
static int valid_header(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
            return 0;
    return 1;
}

/* Bearer token characters: visible ASCII, no space (it goes in a header). */
int conf_secret_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
            return 0;
    return 1;
}

static void fmt_value(const struct conf_key *k, long long v, char *buf, size_t len)
{
    if (k->type == CT_DURATION && v % DAY == 0 && v)
        snprintf(buf, len, "%lldd", v / DAY);
    else if (k->type == CT_DURATION && v % 3600 == 0 && v)
        snprintf(buf, len, "%lldh", v / 3600);
    else if (k->type == CT_DURATION && v % 60 == 0 && v)
        snprintf(buf, len, "%lldm", v / 60);
    else if (k->type == CT_DURATION)
        snprintf(buf, len, "%llds", v);
    else if (k->type == CT_SIZE && v % GB == 0 && v)
        snprintf(buf, len, "%lldG", v / GB);
    else if (k->type == CT_SIZE && v % MB == 0 && v)
        snprintf(buf, len, "%lldM", v / MB);
    else if (k->type == CT_SIZE && v % KB == 0 && v)
        snprintf(buf, len, "%lldk", v / KB);
    else if (k->type == CT_MODE)
        snprintf(buf, len, "0%llo", v);
    else
        snprintf(buf, len, "%lld", v);
}

static void store_int(void *field, size_t size, long long v)
{
    if (size == sizeof(int)) {
        int i = (int)v;
        memcpy(field, &i, sizeof(i));
    } else {
        memcpy(field, &v, sizeof(v));      /* long long or size_t, both 8 bytes */
    }
}

/*
 * Parse value for row k into the record at base.  Returns 0, -1 with a
 * message in err, or -2 when the problems were reported already (lists).  ld is needed by the list types that collect line numbers.
 */
int conf_set_value(struct conf_loader *ld, const struct conf_key *k, void *base,
                   const char *value, int line, char *err, size_t errlen)
{
    void *field = (char *)base + k->off;
    long long v = 0;
    int b;

    switch (k->type) {
    case CT_STRING:
    case CT_SECRET:
    case CT_URL:
    case CT_SOCKET:
    case CT_LISTEN:
    case CT_HEADER:
        if (k->min && value[0] == '\0')
            return snprintf(err, errlen, "%s: must not be empty", k->name), -1;
        if ((k->type == CT_SOCKET && !valid_socket(value)) ||
            (k->type == CT_LISTEN && !valid_listen(value)) ||
            (k->type == CT_HEADER && !valid_header(value)) ||
            (k->type == CT_SECRET && !conf_secret_chars(value, strlen(value))) ||
            (k->type == CT_URL && strncmp(value, "http://", 7) != 0 &&
             strncmp(value, "https://", 8) != 0))
            return snprintf(err, errlen, "%s: bad value '%s' (%s)", k->name, value, k->doc), -1;
        free(*(char **)field);
        *(char **)field = xstrdup(value);
        return 0;
    case CT_BOOL:
        if (conf_parse_bool(value, &b) < 0)
            return snprintf(err, errlen, "%s: '%s' is not yes or no", k->name, value), -1;
        store_int(field, k->size, b);
        return 0;
    case CT_INT:
    case CT_MODE: {
        char *end = NULL;
        if (value[0] >= '0' && value[0] <= '9')
            v = strtoll(value, &end, k->type == CT_MODE ? 8 : 10);
        if (end == NULL || *end != '\0')
            return snprintf(err, errlen, "%s: '%s' is not %s", k->name, value,
                            k->type == CT_MODE ? "an octal mode" : "a number"), -1;
        break;
    }
    case CT_DURATION:
        if (conf_parse_duration(value, &v) < 0)
            return snprintf(err, errlen, "%s: bad duration '%s' (use 45s, 90m, 12h, 30d, 2w)",
                            k->name, value), -1;
        break;
    case CT_SIZE: {
        size_t sz;
        if (conf_parse_size(value, &sz) < 0)
            return snprintf(err, errlen, "%s: bad size '%s' (use 4096, 64k, 512M, 4G)",
                            k->name, value), -1;
        v = (long long)sz;
        break;
    }
    case CT_ENUM:
        for (size_t i = 0; k->choices[i]; i++) {
            if (strcasecmp(value, k->choices[i]) == 0) {
                store_int(field, k->size, (long long)i);
                return 0;
            }
        }
    {
        char names[128] = "";
        for (size_t i = 0; k->choices[i]; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                     i ? ", " : "", k->choices[i]);
        return snprintf(err, errlen, "%s: '%s' is not one of %s", k->name, value, names), -1;
    }
    case CT_CIDRS:
    case CT_ADDRS:
    case CT_DOMAINS:
    case CT_SCOPES:
    case CT_EVENTS:
        return conf_set_list(ld, k, base, value, line, err, errlen);
    }
    if ((k->min || k->max) && (v < k->min || v > k->max)) {
        char lo[32], hi[32];
        fmt_value(k, k->min, lo, sizeof(lo));
        fmt_value(k, k->max, hi, sizeof(hi));
        return snprintf(err, errlen, "%s: %s is out of bounds (%s..%s)", k->name, value, lo, hi), -1;
    }
    store_int(field, k->size, v);
    return 0;
}

/*
 * The list types; a continuation line appends to what came before.  Returns
 * -2 when it reported bad items itself (conf_set_value passes that on).
 */
int conf_set_list(struct conf_loader *ld, const struct conf_key *k, void *base,
                  const char *value, int line, char *err, size_t errlen)
{
    void *field = (char *)base + k->off;
    const char *p = value, *item;
    size_t n;
    char buf[ADDR_INPUT_MAX + 1];
    int bad = 0;

    if (k->type == CT_CIDRS && !ld->continuing) {
        cidr_list_t *fresh = cidr_list_new();
        if (strcmp(k->name, "peer_networks") == 0)
            msys_set_peers(ld->c->msys, fresh);
        else
            msys_set_trusted(ld->c->msys, fresh);
        ld->trusted = fresh;
    }
    if (k->type == CT_ADDRS && !ld->continuing) {
        struct conf *c = ld->c;
        for (size_t i = 0; i < c->n_opt_out; i++)
            free(c->opt_out[i]);
        c->opt_out = xfree(c->opt_out);
        c->n_opt_out = 0;
    }
    if ((k->type == CT_SCOPES || k->type == CT_EVENTS) && !ld->continuing)
        *(unsigned *)field = 0;
    /* Each bad item is reported on its own, so one run shows them all. */
    while ((item = list_next(&p, &n)) != NULL) {
        if (n >= sizeof(buf)) {
            conf_error(ld, line, "%s: item too long", k->name);
            bad = -2;
            continue;
        }
        memcpy(buf, item, n);
        buf[n] = '\0';
        if (k->type == CT_CIDRS) {
            if (cidr_list_add(ld->trusted, buf, err, errlen) < 0) {
                conf_error(ld, line, "%s: %s", k->name, err);
                bad = -2;
            }
        } else if (k->type == CT_ADDRS) {
            struct addr a;
            int rc = addr_parse_str(buf, &a);
            if (rc == ADDR_OK && a.is_null)
                rc = ADDR_ESYNTAX;
            if (rc != ADDR_OK) {
                conf_error(ld, line, "%s: '%s': %s", k->name, buf, addr_strerror(rc));
                bad = -2;
                continue;
            }
            struct conf *c = ld->c;
            c->opt_out = xrealloc(c->opt_out, (c->n_opt_out + 1) * sizeof(char *));
            c->opt_out[c->n_opt_out++] = xstrdup(a.key);
        } else if (k->type == CT_DOMAINS) {
            struct conf_srv_raw *s = base;
            s->doms = xrealloc(s->doms, (s->n_doms + 1) * sizeof(*s->doms));
            s->doms[s->n_doms].text = xstrdup(buf);
            s->doms[s->n_doms].line = line;
            s->n_doms++;
        } else if (k->type == CT_EVENTS) {
            static const char *const names[] = { "read", "received", "deleted_unread", NULL };
            size_t i;
            for (i = 0; names[i] && strcmp(names[i], buf) != 0; i++)
                ;
            if (names[i] == NULL) {
                conf_error(ld, line, "%s: bad event '%s' (read, received, deleted_unread)",
                           k->name, buf);
                bad = -2;
                continue;
            }
            *(unsigned *)field |= 1u << i;
        } else {
            static const char *const names[] = { "notify", "query", "admin", "events", NULL };
            size_t i;
            for (i = 0; names[i] && strcmp(names[i], buf) != 0; i++)
                ;
            if (names[i] == NULL) {
                conf_error(ld, line, "%s: bad scope '%s' (notify, query, admin, events)",
                           k->name, buf);
                bad = -2;
                continue;
            }
            *(unsigned *)field |= 1u << i;
        }
    }
    return bad;
}

/* ---- errors ------------------------------------------------------------- */

void conf_error(struct conf_loader *ld, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = snprintf(NULL, 0, "%s:%d: %s\n", ld->name, line, msg);
    ld->errors = xrealloc(ld->errors, ld->errlen + (size_t)n + 1);
    snprintf(ld->errors + ld->errlen, (size_t)n + 1, "%s:%d: %s\n", ld->name, line, msg);
    ld->errlen += (size_t)n;
    ld->n_errors++;
}

static int has_error_on(const struct conf_loader *ld, int line)
{
    char tag[64];
    const char *p = ld->errors;
    size_t nl = strlen(ld->name);

    snprintf(tag, sizeof(tag), ":%d: ", line);
    while (p != NULL && *p) {
        if (strncmp(p, ld->name, nl) == 0 && strncmp(p + nl, tag, strlen(tag)) == 0)
            return 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

/* ---- reader and handler ------------------------------------------------- */

const struct conf_key *conf_key_find(const char *section, const char *name)
{
    for (size_t i = 0; i < conf_n_keys; i++)
        if (strcmp(conf_keys[i].section, section) == 0 && strcmp(conf_keys[i].name, name) == 0)
            return &conf_keys[i];
    return NULL;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > CONF_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* A "[...]" line: set the current section (or mark it bad, reported). */
static void section_header(struct conf_loader *ld, const char *s)
{
    const char *close = strchr(s, ']');
    const char *p, *w1, *w2;
    size_t n1, n2 = 0;
    char kind[16];

    ld->sec_kind = CONF_SEC_BAD;
    ld->sec_record = NULL;
    ld->have_key = 0;
    if (close == NULL) {
        conf_error(ld, ld->line, "missing ] in section header");
        return;
    }
    {
        char inner[256];
        size_t len = (size_t)(close - s - 1);
        if (len >= sizeof(inner)) {
            conf_error(ld, ld->line, "section name too long");
            return;
        }
        memcpy(inner, s + 1, len);
        inner[len] = '\0';
        p = inner;
        w1 = list_next(&p, &n1);
        w2 = w1 ? list_next(&p, &n2) : NULL;
        if (w1 == NULL || n1 >= sizeof(kind) || (w2 && list_next(&p, &n2) != NULL) ||
            strchr(inner, ',') != NULL) {
            conf_error(ld, ld->line, "bad section header [%s]", inner);
            return;
        }
        memcpy(kind, w1, n1);
        kind[n1] = '\0';
        if (w2 == NULL) {
            for (int i = 0; fixed_sections[i]; i++) {
                if (strcmp(kind, fixed_sections[i]) == 0) {
                    if (ld->fixed_line[i]) {
                        conf_error(ld, ld->line, "section [%s] appears twice (first on line %d)",
                                   kind, ld->fixed_line[i]);
                        return;
                    }
                    ld->fixed_line[i] = ld->line;
                    ld->sec_kind = CONF_SEC_FIXED;
                    snprintf(ld->sec_name, sizeof(ld->sec_name), "%s", kind);
                    return;
                }
            }
            if (conf_is_named(kind))
                conf_error(ld, ld->line, "section [%s] needs a name: [%s NAME]", kind, kind);
            else
                conf_error(ld, ld->line, "unknown section [%s]", inner);
            return;
        }
        if (!conf_is_named(kind)) {
            conf_error(ld, ld->line, "unknown section [%s]", inner);
            return;
        }
        if (!valid_name(w2, n2)) {
            conf_error(ld, ld->line, "bad %s name '%.*s' (letters, digits, . - _; at most %d)",
                       kind, (int)n2, w2, CONF_NAME_MAX);
            return;
        }
        conf_named_section(ld, kind, w2, n2);
    }
}

/*
 * fgets-style reader handed to ini_parse_stream.  One call = one line.  A
 * line that does not fit inih's buffer or holds a NUL is reported and
 * replaced by an empty one so that inih does not split it into two.
 */
static char *conf_reader(char *str, int num, void *stream)
{
    struct conf_loader *ld = stream;
    const char *line, *s;
    size_t n;

    conf_line_done(ld);
    if (conf_src_next(ld, &line, &n) < 0)
        return NULL;
    ld->line++;
    ld->handled = 0;
    ld->indented = n > 0 && (line[0] == ' ' || line[0] == '\t');
    if (memchr(line, '\0', n) != NULL) {
        conf_error(ld, ld->line, "NUL byte in line");
        n = 0;
    } else if (n + 2 > (size_t)num) {
        conf_error(ld, ld->line, "line too long (at most %d bytes)", num - 2);
        n = 0;
    }
    memcpy(str, line, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    if (ld->line == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        line += 3;                          /* BOM: inih skips it too */
        n -= 3;
    }
    ld->content = 0;
    for (s = line; s < line + n && (*s == ' ' || *s == '\t' || *s == '\r'); s++)
        ;
    if (s < line + n && *s != ';' && *s != '#') {
        if (*s == '[' && !(ld->have_key && ld->indented)) {
            char hdr[512];
            size_t hn = (size_t)(line + n - s);
            if (hn >= sizeof(hdr))
                hn = sizeof(hdr) - 1;
            memcpy(hdr, s, hn);
            hdr[hn] = '\0';
            section_header(ld, hdr);
        } else {
            ld->content = 1;
        }
    }
    return str;
}

/* After inih is done with a line: a content line that reached no handler is bad. */
void conf_line_done(struct conf_loader *ld)
{
    if (ld->line > 0 && ld->content && !ld->handled && !has_error_on(ld, ld->line))
        conf_error(ld, ld->line, "expected 'key = value'");
    ld->content = 0;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_loader *ld = user;
    const struct conf_key *k;
    char err[600];
    int *seen;
    void *base;

    (void)section;                 /* ours, parsed from the raw header line */
    ld->handled = 1;
    ld->continuing = ld->indented && ld->have_key;
    ld->have_key = 1;
    if (ld->continuing && ld->last_bad)
        return 1;                  /* the key line itself was reported */
    ld->last_bad = 1;
    if (ld->sec_kind == CONF_SEC_BAD)
        return 1;                  /* already reported at the header */
    if (ld->sec_kind == CONF_SEC_NONE) {
        conf_error(ld, ld->line, "'%s' outside of any section", name);
        return 1;
    }
    if ((k = conf_key_find(ld->sec_kind == CONF_SEC_FIXED ? ld->sec_name : ld->sec_type,
                           name)) == NULL) {
        conf_error(ld, ld->line, "unknown key '%s' in [%s]", name, ld->sec_name);
        return 1;
    }
    seen = ld->sec_kind == CONF_SEC_FIXED ? &ld->seen[k - conf_keys]
                                         : conf_record_seen(ld, k);
    base = ld->sec_kind == CONF_SEC_FIXED ? (void *)ld->c : ld->sec_record;
    if (ld->continuing) {
        if (k->type != CT_CIDRS && k->type != CT_ADDRS && k->type != CT_DOMAINS &&
            k->type != CT_SCOPES && k->type != CT_EVENTS) {
            conf_error(ld, ld->line, "%s: only lists may continue on the next line", name);
            return 1;
        }
    } else if (*seen) {
        conf_error(ld, ld->line, "'%s' given twice in [%s] (first on line %d)", name,
                   ld->sec_name, *seen);
        return 1;
    } else {
        *seen = ld->line;
    }
    ld->last_bad = 0;
    if (conf_set_value(ld, k, base, value, ld->line, err, sizeof(err)) == -1)
        conf_error(ld, ld->line, "%s", err);
    return 1;
}

int conf_parse_text(struct conf_loader *ld)
{
    int rc;

    rc = ini_parse_stream(conf_reader, ld, conf_handler, ld);
    conf_line_done(ld);
    if (rc > 0 && !has_error_on(ld, rc))
        conf_error(ld, rc, "syntax error");
    return rc == 0 ? 0 : rc;
}

/* ---- process-wide inih settings ------------------------------------------ */

static pthread_once_t ini_once = PTHREAD_ONCE_INIT;

static void ini_setup(void)
{
    ini_max_line = CONF_LINE_MAX + 2;     /* + '\n' + NUL; a stack VLA in Debian's build */
    ini_use_stack = true;
    ini_allow_multiline = true;
    ini_allow_inline_comments = true;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    ini_allow_bom = true;
}

void conf_ini_setup(void)
{
    pthread_once(&ini_once, ini_setup);
}
