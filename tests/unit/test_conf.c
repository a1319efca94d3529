/*
 * test_conf - mailstate.conf loading (conf.h): value parsers, defaults, a
 * full example, every kind of bad file (each case names what is wrong),
 * key and token files with wrong permissions or sizes, token lookup,
 * opt-out, reference counting across threads.  The key table and the
 * sample config are in test_conf_sample.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_priv.h"
#include "log.h"
#include "paths.h"

#include "conf_defaults.h"

static char tmpdir[512];

static int setup_tmp(void **state)
{
    const char *base = getenv("MAILSTATE_TEST_TMP");
    (void)state;
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_conf.XXXXXX", base);
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_tmp(void **state)
{
    char cmd[600];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write len bytes (or strlen) to tmpdir/name with mode; returns the path. */
static const char *write_file(const char *name, const char *data, size_t len, mode_t mode)
{
    static char path[8][600];
    static int slot;
    char *p = path[slot++ % 8];
    int fd;

    snprintf(p, 600, "%s/%s", tmpdir, name);
    unlink(p);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    if (len == 0)
        len = strlen(data);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- value parsers ------------------------------------------------------ */

static void test_parse_duration(void **state)
{
    static const struct { const char *in; int rc; long long out; } cases[] = {
        { "45s", 0, 45 }, { "90m", 0, 5400 }, { "12h", 0, 43200 }, { "30d", 0, 2592000 },
        { "2w", 0, 1209600 }, { "17", 0, 17 }, { "0", 0, 0 },
        { "", -1, 0 },               /* bad: empty */
        { "s", -1, 0 },              /* bad: unit without number */
        { "-5s", -1, 0 },            /* bad: negative */
        { "5x", -1, 0 },             /* bad: unknown unit */
        { "5 s", -1, 0 },            /* bad: space before unit */
        { "5ss", -1, 0 },            /* bad: two units */
        { "1.5h", -1, 0 },           /* bad: fraction */
        { "99999999999999999999s", -1, 0 },   /* bad: overflows */
        { "9223372036854775807w", -1, 0 },    /* bad: overflows when scaled */
        { "+5s", -1, 0 },            /* bad: sign */
        { NULL, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; cases[i].in; i++) {
        long long v = -1;
        int rc = conf_parse_duration(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].out))
            fail_msg("duration \"%s\": rc %d value %lld", cases[i].in, rc, v);
    }
}

static void test_parse_size(void **state)
{
    static const struct { const char *in; int rc; size_t out; } cases[] = {
        { "4096", 0, 4096 }, { "64k", 0, 65536 }, { "64K", 0, 65536 },
        { "512M", 0, 536870912 }, { "4G", 0, 4294967296ULL }, { "1T", 0, 1099511627776ULL },
        { "0", 0, 0 },
        { "", -1, 0 },               /* bad: empty */
        { "k", -1, 0 },              /* bad: unit alone */
        { "-1k", -1, 0 },            /* bad: negative */
        { "64kb", -1, 0 },           /* bad: two-letter unit */
        { "64 k", -1, 0 },           /* bad: space */
        { "1P", -1, 0 },             /* bad: unknown unit */
        { "99999999999999999999", -1, 0 },   /* bad: overflows */
        { "16777216T", -1, 0 },      /* bad: overflows when scaled */
        { NULL, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; cases[i].in; i++) {
        size_t v = 1;
        int rc = conf_parse_size(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].out))
            fail_msg("size \"%s\": rc %d value %zu", cases[i].in, rc, v);
    }
}

static void test_parse_bool(void **state)
{
    static const struct { const char *in; int rc, out; } cases[] = {
        { "yes", 0, 1 }, { "YES", 0, 1 }, { "true", 0, 1 }, { "on", 0, 1 }, { "1", 0, 1 },
        { "no", 0, 0 }, { "False", 0, 0 }, { "off", 0, 0 }, { "0", 0, 0 },
        { "", -1, 0 },               /* bad: empty */
        { "y", -1, 0 },              /* bad: abbreviation */
        { "2", -1, 0 },              /* bad: other number */
        { "yes please", -1, 0 },     /* bad: trailing words */
        { NULL, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; cases[i].in; i++) {
        int v = -1;
        int rc = conf_parse_bool(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].out))
            fail_msg("bool \"%s\": rc %d value %d", cases[i].in, rc, v);
    }
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
    char *errors = (char *)"untouched";
    struct conf *c;
    (void)state;

    c = conf_load_string("", "empty", CONF_NO_KEY, &errors);
    assert_non_null(c);
    assert_null(errors);
    check_defaults(c);
    assert_string_equal(c->path, "empty");
    conf_unref(c);

    /* a missing file is "all defaults" only with CONF_MISSING_OK */
    c = conf_load("/nonexistent/mailstate.conf", CONF_MISSING_OK | CONF_NO_KEY, &errors);
    assert_non_null(c);
    assert_string_equal(c->path, "(defaults)");
    check_defaults(c);
    conf_unref(c);
    /* bad input: a missing file without CONF_MISSING_OK */
    c = conf_load("/nonexistent/mailstate.conf", CONF_NO_KEY, &errors);
    assert_null(c);
    assert_string_equal(errors, "/nonexistent/mailstate.conf:0: cannot open: "
                                "No such file or directory\n");
    free(errors);
}

/* ---- a full file -------------------------------------------------------- */

static void test_full_example(void **state)
{
    char text[4096];
    const char *key, *tokfile;
    char *errors = NULL;
    struct conf *c;
    const struct conf_token *t;
    (void)state;

    key = write_file("system.key", "0123456789abcdef0123456789abcdef!", 0, 0600);
    tokfile = write_file("webmail.token", "webmail-secret-0123456789\n", 0, 0600);
    snprintf(text, sizeof(text),
             "; the design's example, every key set\n"
             "[system]\n"
             "this_server      = mx1\n"
             "key_file         = %s\n"
             "trusted_networks = 127.0.0.0/8 ::1/128, 10.0.0.2\n"
             "record_subject   = yes\n"
             "tracking         = off\n"
             "retention        = 2w   ; inline comment\n"
             "opt_out          = Carol@A.Example, <dave@b\xc3\xbc" "cher.example>\n"
             "                   carol@a.example\n"
             "header_mail_id   = X-MS-Id\n"
             "header_sender    = X-MS-Sender\n"
             "\n"
             "[server mx1]\n"
             "domains = a.example b.example\n"
             "          .dept.a.example\n"
             "tracker = http://127.0.0.1:8026\n"
             "\n"
             "[server mx2]\n"
             "domains = c.example\n"
             "tracker = http://10.0.0.2:8026\n"
             "\n"
             "[milter]\n"
             "socket   = inet:8891@127.0.0.1\n"
             "on_error = tempfail\n"
             "socket_mode = 0600\n"
             "user = mailstate\n"
             "pid_file = /run/mailstate/milter.pid\n"
             "timeout = 10m\n"
             "\n"
             "[tracker]\n"
             "listen = [::1]:9000\n"
             "threads = 4\n"
             "max_body = 128k\n"
             "max_header = 16k\n"
             "max_url = 4k\n"
             "max_connections = 64\n"
             "idle_timeout = 1m\n"
             "user = mailstate\n"
             "pid_file = /run/mailstate/tracker.pid\n"
             "sync_window = 10m\n"
             "\n"
             "[store]\n"
             "path = /srv/mailstate\n"
             "map_size = 1G\n"
             "map_size_max = 8G\n"
             "\n"
             "[log]\n"
             "level = debug\n"
             "\n"
             "[token webmail]\n"
             "secret_file = %s\n"
             "scopes      = notify query\n"
             "\n"
             "[token admin]\n"
             "secret = admin-secret-abcdefghij\n"
             "scopes = admin,query\n",
             key, tokfile);
    /* Bad input (issue 14 item 8): an inline secret in a file that group
     * or others can read is refused like a secret file with those bits. */
    c = conf_load(write_file("full.conf", text, 0, 0644), 0, &errors);
    assert_null(c);
    assert_non_null(errors);
    assert_non_null(strstr(errors, "[token admin] secret is inline in"));
    assert_non_null(strstr(errors, "chmod 600"));
    assert_null(strstr(errors, "[token webmail]"));   /* secret_file: its own checks */
    free(errors);
    errors = NULL;
    c = conf_load(write_file("full.conf", text, 0, 0600), 0, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    assert_string_equal(c->this_server, "mx1");
    assert_int_equal(c->key_len, 33);
    assert_memory_equal(c->key, "0123456789abcdef0123456789abcdef!", 33);
    assert_int_equal(c->tracking, 0);
    assert_int_equal(c->record_subject, 1);
    assert_int_equal(c->retention, 14 * 86400);
    assert_int_equal(c->n_opt_out, 2);      /* duplicate spelling merged */
    assert_string_equal(c->opt_out[0], "carol@a.example");
    assert_string_equal(c->opt_out[1], "dave@xn--bcher-kva.example");
    assert_string_equal(c->header_mail_id, "X-MS-Id");
    assert_string_equal(c->header_sender, "X-MS-Sender");
    assert_string_equal(c->milter_socket, "inet:8891@127.0.0.1");
    assert_int_equal(c->milter_on_error, CONF_ON_ERROR_TEMPFAIL);
    assert_int_equal(c->milter_socket_mode, 0600);
    assert_string_equal(c->milter_user, "mailstate");
    assert_string_equal(c->milter_pid_file, "/run/mailstate/milter.pid");
    assert_int_equal(c->milter_timeout, 600);
    assert_string_equal(c->tracker_listen, "[::1]:9000");
    assert_int_equal(c->tracker_threads, 4);
    assert_int_equal(c->tracker_max_body, 131072);
    assert_int_equal(c->tracker_max_header, 16384);
    assert_int_equal(c->tracker_max_url, 4096);
    assert_int_equal(c->tracker_max_connections, 64);
    assert_int_equal(c->tracker_idle_timeout, 60);
    assert_string_equal(c->tracker_user, "mailstate");
    assert_string_equal(c->tracker_pid_file, "/run/mailstate/tracker.pid");
    assert_int_equal(c->tracker_sync_window, 600);
    assert_string_equal(c->store_path, "/srv/mailstate");
    assert_int_equal(c->store_map_size, 1ULL << 30);
    assert_int_equal(c->store_map_size_max, 8ULL << 30);
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);

    assert_int_equal(msys_server_count(c->msys), 2);
    assert_string_equal(msys_this_server(c->msys), "mx1");
    assert_string_equal(msys_server_tracker(c->msys, "mx2"), "http://10.0.0.2:8026");
    assert_int_equal(msys_judge_recipient(c->msys, "x@hr.dept.a.example", NULL), MSYS_LOCAL);
    assert_int_equal(msys_judge_recipient(c->msys, "x@c.example", NULL), MSYS_SYSTEM);
    assert_int_equal(msys_judge_recipient(c->msys, "x@localhost", NULL), MSYS_EXTERNAL);
    assert_int_equal(msys_client_trusted(c->msys, "10.0.0.2"), 1);
    assert_int_equal(msys_client_trusted(c->msys, "10.0.0.3"), 0);

    assert_int_equal(c->n_tokens, 2);
    t = conf_token_find(c, "webmail-secret-0123456789", 25);   /* newline stripped */
    assert_non_null(t);
    assert_string_equal(t->name, "webmail");
    assert_int_equal(t->scopes, CONF_SCOPE_NOTIFY | CONF_SCOPE_QUERY);
    t = conf_token_find(c, "admin-secret-abcdefghij", 23);
    assert_non_null(t);
    assert_string_equal(t->name, "admin");
    assert_int_equal(t->scopes, CONF_SCOPE_ADMIN | CONF_SCOPE_QUERY);

    assert_int_equal(conf_is_opt_out(c, "carol@a.example"), 1);
    assert_int_equal(conf_is_opt_out(c, "dave@xn--bcher-kva.example"), 1);
    assert_int_equal(conf_is_opt_out(c, "bob@a.example"), 0);
    assert_int_equal(conf_is_opt_out(c, NULL), 0);
    conf_unref(c);
}

/* ---- bad files ---------------------------------------------------------- */

struct bad_case {
    const char *name;     /* what is wrong */
    const char *text;
    const char *want;     /* a line of the error text */
};

static const struct bad_case bad_cases[] = {
    { "unknown section", "[system]\n[sytsem]\n", "t:2: unknown section [sytsem]" },
    { "unknown key", "[system]\nretension = 3d\n", "t:2: unknown key 'retension' in [system]" },
    { "key of another section", "[milter]\nlisten = 127.0.0.1:1\n",
      "t:2: unknown key 'listen' in [milter]" },
    { "key before any section", "retention = 3d\n", "t:1: 'retention' outside of any section" },
    { "duplicate key", "[log]\nlevel = info\nlevel = debug\n",
      "t:3: 'level' given twice in [log] (first on line 2)" },
    { "duplicate section", "[log]\n[store]\n[log]\n",
      "t:3: section [log] appears twice (first on line 1)" },
    { "duplicate named section", "[server a]\n[server a]\n[system]\nthis_server = a\n",
      "t:2: section [server a] appears twice (first on line 1)" },
    { "line without =", "[system]\njust words\n", "t:2: expected 'key = value'" },
    { "unclosed section", "[system\n", "t:1: missing ] in section header" },
    { "section with extra words", "[server a b]\n", "t:1: bad section header [server a b]" },
    { "server without name", "[server]\n", "t:1: section [server] needs a name: [server NAME]" },
    { "bad server name", "[server a/b]\n", "t:1: bad server name 'a/b'" },
    { "bad bool", "[system]\ntracking = maybe\n", "t:2: tracking: 'maybe' is not yes or no" },
    { "bad duration", "[system]\nretention = 1y\n", "t:2: retention: bad duration '1y'" },
    { "duration below minimum", "[system]\nretention = 59m\n",
      "t:2: retention: 59m is out of bounds (1h..3650d)" },
    { "duration above maximum", "[tracker]\nsync_window = 2d\n",
      "t:2: sync_window: 2d is out of bounds (10s..1d)" },
    { "bad size", "[tracker]\nmax_body = lots\n", "t:2: max_body: bad size 'lots'" },
    { "size above maximum", "[tracker]\nmax_body = 1G\n",
      "t:2: max_body: 1G is out of bounds (1k..64M)" },
    { "size below minimum", "[tracker]\nmax_url = 10\n",
      "t:2: max_url: 10 is out of bounds (256..64k)" },
    { "integer with junk", "[tracker]\nthreads = 4x\n", "t:2: threads: '4x' is not a number" },
    { "negative integer", "[tracker]\nthreads = -4\n", "t:2: threads: '-4' is not a number" },
    { "integer too large", "[tracker]\nmax_connections = 99999999999999999999\n",
      "t:2: max_connections: 99999999999999999999 is out of bounds (1..65536)" },
    { "bad octal mode", "[milter]\nsocket_mode = 0668\n",
      "t:2: socket_mode: '0668' is not an octal mode" },
    { "mode too large", "[milter]\nsocket_mode = 01777\n",
      "t:2: socket_mode: 01777 is out of bounds (00..0777)" },
    { "bad enum", "[milter]\non_error = reject\n",
      "t:2: on_error: 'reject' is not one of accept, tempfail" },
    { "bad log level", "[log]\nlevel = loud\n",
      "t:2: level: 'loud' is not one of error, warn, info, debug" },
    { "bad socket scheme", "[milter]\nsocket = tcp:127.0.0.1:1\n", "t:2: socket: bad value" },
    { "relative unix socket", "[milter]\nsocket = unix:milter.sock\n", "t:2: socket: bad value" },
    { "inet socket port 0", "[milter]\nsocket = inet:0@127.0.0.1\n", "t:2: socket: bad value" },
    { "inet socket empty host", "[milter]\nsocket = inet:25@\n", "t:2: socket: bad value" },
    { "listen without port", "[tracker]\nlisten = 127.0.0.1\n", "t:2: listen: bad value" },
    { "listen bare IPv6", "[tracker]\nlisten = ::1:8026\n", "t:2: listen: bad value" },
    { "listen port too big", "[tracker]\nlisten = 127.0.0.1:65536\n", "t:2: listen: bad value" },
    { "header name with colon", "[system]\nheader_sender = X-Sender:\n",
      "t:2: header_sender: bad value" },
    { "header name with space", "[system]\nheader_sender = X Sender\n",
      "t:2: header_sender: bad value" },
    { "same header twice", "[system]\nheader_sender = x-mail-id\n",
      "t:2: header_mail_id and header_sender are the same header" },
    { "empty key_file", "[system]\nkey_file =\n", "t:2: key_file: must not be empty" },
    { "empty store path", "[store]\npath =\n", "t:2: path: must not be empty" },
    { "map_size over max", "[store]\nmap_size = 8G\n",
      "t:2: map_size (8589934592) is larger than map_size_max (4294967296)" },
    { "bad trusted network", "[system]\ntrusted_networks = 127.0.0.0/8 10.0.0.0/33\n",
      "t:2: trusted_networks: bad prefix length in 10.0.0.0/33" },
    { "bad opt_out address", "[system]\nopt_out = carol\n",
      "t:2: opt_out: 'carol': not an address" },
    { "null sender in opt_out", "[system]\nopt_out = <>\n", "t:2: opt_out: '<>': not an address" },
    { "this_server unknown", "[system]\nthis_server = mx9\n[server mx1]\ndomains = a.example\n",
      "t:2: this_server 'mx9' names no [server mx9] section" },
    { "this_server default unknown", "[server zz-no-such-host]\n",
      "names no [server" },
    { "domain in two servers",
      "[system]\nthis_server=a\n[server a]\ndomains = x.example\n[server b]\ndomains = X.Example\n",
      "t:6: [server b] domains: domain X.Example is hosted by both a and b" },
    { "domain in two servers, UTF-8 and A-label",
      "[system]\nthis_server=a\n[server a]\ndomains = b\xc3\xbc" "cher.example\n"
      "[server b]\ndomains = xn--bcher-kva.example\n",
      "is hosted by both a and b" },
    { "bad domain", "[system]\nthis_server=a\n[server a]\ndomains = a..example\n",
      "t:4: [server a] domains: bad domain a..example" },
    { "bad tracker URL", "[server a]\ntracker = ftp://a\n", "t:2: tracker: bad value 'ftp://a'" },
    { "token without secret", "[token t]\nscopes = notify\n",
      "t:1: [token t] needs secret or secret_file" },
    { "token with both secrets",
      "[token t]\nsecret = 0123456789abcdefgh\nsecret_file = /x\nscopes = query\n",
      "t:3: [token t] has both secret and secret_file; keep one" },
    { "token without scopes", "[token t]\nsecret = 0123456789abcdefgh\n",
      "t:1: [token t] needs scopes (notify, query, admin, events)" },
    { "token bad scope", "[token t]\nsecret = 0123456789abcdefgh\nscopes = notify root\n",
      "t:3: scopes: bad scope 'root' (notify, query, admin, events)" },
    { "token short secret", "[token t]\nsecret = short\nscopes = query\n",
      "t:2: [token t] secret: 5 bytes, need 16..4096" },
    { "token secret with space", "[token t]\nsecret = abc def ghi jkl mno\nscopes = query\n",
      "t:2: secret: bad value" },
    { "two tokens, one secret",
      "[token a]\nsecret = 0123456789abcdefgh\nscopes = query\n"
      "[token b]\nsecret = 0123456789abcdefgh\nscopes = notify\n",
      "t:4: [token b] has the same secret as [token a]" },
    { "scalar continued", "[system]\nretention = 3d\n  4d\n",
      "t:3: retention: only lists may continue on the next line" },
    /* issue 17: webhooks.  Bad input: a receiver that is not http(s), no
     * url, no secret, an unknown event, an empty list, a nameless section */
    { "webhook ftp url", "[webhook w]\nurl = ftp://h.example/x\nsecret_file = /x\n",
      "t:2: url: bad value 'ftp://h.example/x'" },
    { "webhook file url", "[webhook w]\nurl = file:///etc/passwd\nsecret_file = /x\n",
      "t:2: url: bad value 'file:///etc/passwd'" },
    { "webhook without url", "[webhook w]\nsecret_file = /x\n",
      "t:1: [webhook w] needs url" },
    { "webhook without secret", "[webhook w]\nurl = http://127.0.0.1:9/\n",
      "t:1: [webhook w] needs secret_file" },
    { "webhook bad event", "[webhook w]\nurl = http://127.0.0.1:9/\nsecret_file = /x\n"
      "events = read opened\n", "t:4: events: bad event 'opened'" },
    { "webhook no events", "[webhook w]\nurl = http://127.0.0.1:9/\nsecret_file = /x\n"
      "events = ,\n", "t:4: [webhook w] events: name at least one" },
    { "webhook nameless", "[webhook]\nurl = http://127.0.0.1:9/\n",
      "t:1: section [webhook] needs a name" },
    { "webhook twice", "[webhook w]\nurl = http://a.example/\nsecret_file = /x\n"
      "[webhook w]\n", "t:4: section [webhook w] appears twice" },
    { "events keep too short", "[events]\nkeep = 10s\n", "t:2: keep: 10s is out of bounds" },
    { "events max_wait too long", "[events]\nmax_wait = 1h\n",
      "t:2: max_wait: 1h is out of bounds" },
    { NULL, NULL, NULL },
};

/* [webhook NAME] and [events] (issue 17): parsed, defaults, scope events. */
static void test_webhooks(void **state)
{
    char *errors = NULL;
    struct conf *c;
    (void)state;

    c = conf_load_string("[system]\nretention = 2d\n[events]\nkeep = 7d\n"
                         "[token f]\nsecret = feed-0123456789abcdef\nscopes = events\n"
                         "[webhook a]\nurl = https://hooks.example/a\nsecret_file = /x\n"
                         "events = read\n  deleted_unread\n"
                         "[webhook b]\nurl = http://127.0.0.1:9/b\nsecret_file = /y\n",
                         "w", CONF_NO_KEY, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    assert_int_equal(c->n_webhooks, 2);
    assert_string_equal(c->webhooks[0].name, "a");
    assert_string_equal(c->webhooks[0].url, "https://hooks.example/a");
    assert_int_equal(c->webhooks[0].events, CONF_EV_READ | CONF_EV_DELETED_UNREAD);
    assert_int_equal(c->webhooks[1].events,
                     CONF_EV_READ | CONF_EV_RECEIVED | CONF_EV_DELETED_UNREAD);
    assert_null(c->webhooks[0].secret);          /* CONF_NO_KEY: files not read */
    assert_int_equal(c->events_keep, 2 * 86400); /* never longer than retention */
    assert_int_equal(c->events_max_wait, 60);
    assert_int_equal(c->tokens[0].scopes, CONF_SCOPE_EVENTS);
    conf_unref(c);
}

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; bad_cases[i].name; i++) {
        char *errors = NULL;
        struct conf *c = conf_load_string(bad_cases[i].text, "t", CONF_NO_KEY, &errors);
        if (c != NULL)
            fail_msg("case \"%s\": loaded", bad_cases[i].name);
        if (errors == NULL || strstr(errors, bad_cases[i].want) == NULL)
            fail_msg("case \"%s\": want \"%s\" in:\n%s", bad_cases[i].name, bad_cases[i].want,
                     errors ? errors : "(null)");
        free(errors);
    }
}

/* Every problem is reported, in line order, not just the first. */
static void test_all_errors_collected(void **state)
{
    static const char text[] =
        "[system]\n"                       /* 1 */
        "retention = forever\n"            /* 2 bad duration */
        "this_server = mx9\n"              /* 3 unknown server (found after the parse) */
        "opt_out = <> nobody bad@@x\n"     /* 4 three bad addresses */
        "[nope]\n"                         /* 5 unknown section */
        "key = value\n"                    /* 6 (in the unknown section: not repeated) */
        "[log]\n"                          /* 7 */
        "level = loud\n"                   /* 8 bad level */
        "garbage\n"                        /* 9 syntax */
        "[server mx1]\n";                  /* 10 */
    char *errors = NULL;
    const char *p;
    int last = 0;
    (void)state;

    assert_null(conf_load_string(text, "f.conf", CONF_NO_KEY, &errors));
    assert_non_null(errors);
    assert_int_equal(count_lines(errors), 8);
    for (p = errors; *p; p = strchr(p, '\n') + 1) {
        int line = atoi(p + strlen("f.conf:"));
        assert_memory_equal(p, "f.conf:", 7);
        assert_true(line >= last);
        last = line;
    }
    assert_non_null(strstr(errors, "f.conf:3: this_server 'mx9'"));
    assert_non_null(strstr(errors, "f.conf:4: opt_out: 'bad@@x'"));
    assert_null(strstr(errors, "f.conf:6:"));
    free(errors);
    /* the errors pointer may be NULL */
    assert_null(conf_load_string(text, "f.conf", CONF_NO_KEY, NULL));
}

/* Lines longer than inih's buffer and NUL bytes: reported, not split in two. */
static void test_long_line_and_nul(void **state)
{
    char *text = malloc(CONF_LINE_MAX + 100);
    char *errors = NULL;
    struct conf *c;
    const char *path;
    static const char nul_text[] = "[system]\nretention = 3d\0junk\n[log]\nlevel = debug\n";
    (void)state;

    /* a long but fine list line: many opt-out addresses */
    strcpy(text, "[system]\nopt_out =");
    while (strlen(text) < 3000)
        strcat(text, " someone.with.a.long.name@a.example");
    strcat(text, "\n");
    c = conf_load_string(text, "t", CONF_NO_KEY, &errors);
    assert_non_null(c);
    assert_int_equal(c->n_opt_out, 1);
    conf_unref(c);

    /* bad input: one line over the limit */
    strcpy(text, "[system]\nopt_out = ");
    memset(text + strlen(text), 'a', CONF_LINE_MAX);
    strcpy(text + strlen("[system]\nopt_out = ") + CONF_LINE_MAX, "@a.example\n[log]\nlevel = x\n");
    assert_null(conf_load_string(text, "t", CONF_NO_KEY, &errors));
    assert_non_null(strstr(errors, "t:2: line too long"));
    assert_non_null(strstr(errors, "t:4: level: 'x'"));   /* the line count stays right */
    assert_int_equal(count_lines(errors), 2);
    free(errors);
    free(text);

    /* bad input: a NUL byte inside a line (only possible from a file) */
    path = write_file("nul.conf", nul_text, sizeof(nul_text) - 1, 0644);
    assert_null(conf_load(path, CONF_NO_KEY, &errors));
    assert_non_null(strstr(errors, ":2: NUL byte in line"));
    assert_int_equal(count_lines(errors), 1);
    free(errors);
}

/* Comments, BOM, CRLF, spacing, key/value forms inih accepts. */
static void test_syntax_forms(void **state)
{
    static const char text[] =
        "\xef\xbb\xbf# BOM first, then a comment\n"
        "; another comment\r\n"
        "[system]\r\n"
        "  retention=3d ; inline comment\r\n"
        "record_subject : yes\n"
        "opt_out = a@a.example,b@a.example ,\n"
        "   c@a.example\n"
        "\n"
        "[ log ]\n"
        "level = WARN\n";
    char *errors = NULL;
    struct conf *c;
    (void)state;

    c = conf_load_string(text, "t", CONF_NO_KEY, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    assert_int_equal(c->retention, 3 * 86400);
    assert_int_equal(c->record_subject, 1);
    assert_int_equal(c->n_opt_out, 3);
    assert_int_equal(c->log_level, LOG_LEVEL_WARN);
    conf_unref(c);
}

/* ---- key file and secret files ------------------------------------------ */

static void test_key_file(void **state)
{
    static const char key32[] = "0123456789abcdef0123456789abcdef";
    static const struct {
        const char *name;
        const char *data;     /* NULL: do not create */
        size_t len;
        mode_t mode;
        const char *want;     /* NULL: loads */
    } cases[] = {
        { "32 bytes, 0600", key32, 32, 0600, NULL },
        { "32 bytes, 0400", key32, 32, 0400, NULL },
        { "binary with NUL bytes", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
          32, 0600, NULL },
        { "missing file", NULL, 0, 0, ":0: cannot read key file" },
        { "world-readable 0644", key32, 32, 0644, "(mode 0644); run: chmod 600 " },
        { "group-readable 0640", key32, 32, 0640, "(mode 0640); run: chmod 600 " },
        { "group-writable 0620", key32, 32, 0620, "(mode 0620); run: chmod 600 " },
        { "other-executable 0601", key32, 32, 0601, "(mode 0601); run: chmod 600 " },
        { "31 bytes", key32, 31, 0600, "is too short (31 bytes, need 32..4096)" },
        { "empty", key32, 0, 0600, "is too short (0 bytes" },
        { NULL, NULL, 0, 0, NULL },
    };
    (void)state;
    for (size_t i = 0; cases[i].name; i++) {
        char path[600], text[700];
        char *errors = NULL;
        struct conf *c;

        snprintf(path, sizeof(path), "%s/key%zu", tmpdir, i);
        if (cases[i].data) {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, cases[i].data, cases[i].len), (ssize_t)cases[i].len);
            close(fd);
            assert_int_equal(chmod(path, cases[i].mode), 0);
        }
        snprintf(text, sizeof(text), "[system]\nkey_file = %s\n", path);
        c = conf_load_string(text, "k", 0, &errors);
        if (cases[i].want == NULL) {
            if (c == NULL)
                fail_msg("case \"%s\": %s", cases[i].name, errors);
            assert_int_equal(c->key_len, cases[i].len);
            assert_memory_equal(c->key, cases[i].data, cases[i].len);
            conf_unref(c);
        } else {
            if (c != NULL)
                fail_msg("case \"%s\": loaded", cases[i].name);
            if (strstr(errors, cases[i].want) == NULL || strstr(errors, path) == NULL ||
                strncmp(errors, "k:0: ", 5) != 0)
                fail_msg("case \"%s\": %s", cases[i].name, errors);
            free(errors);
        }
    }
}

static void test_key_file_special(void **state)
{
    char big[CONF_KEY_MAX + 10], text[700], path[600];
    char *errors = NULL;
    struct conf *c;
    (void)state;

    /* bad input: a directory as key file */
    snprintf(text, sizeof(text), "[system]\nkey_file = %s\n", tmpdir);
    assert_null(conf_load_string(text, "k", 0, &errors));
    assert_non_null(strstr(errors, "is not a regular file"));
    free(errors);
    /* bad input: longer than CONF_KEY_MAX */
    memset(big, 'k', sizeof(big));
    snprintf(path, sizeof(path), "%s", write_file("big.key", big, CONF_KEY_MAX + 1, 0600));
    snprintf(text, sizeof(text), "[system]\nkey_file = %s\n", path);
    assert_null(conf_load_string(text, "k", 0, &errors));
    assert_non_null(strstr(errors, "is too long"));
    free(errors);
    /* exactly CONF_KEY_MAX is fine, and a trailing newline is part of the key */
    write_file("big.key", big, CONF_KEY_MAX, 0600);
    c = conf_load_string(text, "k", 0, &errors);
    assert_non_null(c);
    assert_int_equal(c->key_len, CONF_KEY_MAX);
    conf_unref(c);
    write_file("nl.key", "0123456789abcdef0123456789abcdef\n", 0, 0600);
    snprintf(text, sizeof(text), "[system]\nkey_file = %s/nl.key\n", tmpdir);
    c = conf_load_string(text, "k", 0, &errors);
    assert_non_null(c);
    assert_int_equal(c->key_len, 33);
    conf_unref(c);
    /* CONF_NO_KEY does not touch the (missing) file */
    c = conf_load_string("[system]\nkey_file = /nonexistent/key\n", "k", CONF_NO_KEY, &errors);
    assert_non_null(c);
    assert_null(c->key);
    conf_unref(c);
}

static void test_secret_file(void **state)
{
    static const struct {
        const char *name, *data;
        mode_t mode;
        const char *want;     /* NULL: loads */
    } cases[] = {
        { "token with newline", "tok-0123456789abcdef\n", 0600, NULL },
        { "token with CRLF", "tok-0123456789abcdef\r\n", 0600, NULL },
        { "token without newline", "tok-0123456789abcdef", 0600, NULL },
        { "world-readable", "tok-0123456789abcdef\n", 0644, "run: chmod 600 " },
        { "group-readable", "tok-0123456789abcdef\n", 0640, "run: chmod 600 " },
        { "short", "tok-0123456\n", 0600, "is too short (11 bytes, need 16..4096)" },
        { "space inside", "tok 0123456789abcdef\n", 0600, "only visible ASCII" },
        { "two lines", "tok-0123456789abcdef\nmore\n", 0600, "only visible ASCII" },
        { NULL, NULL, 0, NULL },
    };
    const char *key = write_file("tokens.key", "0123456789abcdef0123456789abcdef", 0, 0600);
    char keypath[600];
    (void)state;
    snprintf(keypath, sizeof(keypath), "%s", key);
    for (size_t i = 0; cases[i].name; i++) {
        char text[1400], fname[32];
        char *errors = NULL;
        const char *path;
        struct conf *c;

        snprintf(fname, sizeof(fname), "tok%zu", i);
        path = write_file(fname, cases[i].data, 0, cases[i].mode);
        snprintf(text, sizeof(text),
                 "[system]\nkey_file = %s\n[token t]\nsecret_file = %s\nscopes = notify\n",
                 keypath, path);
        c = conf_load_string(text, "s", 0, &errors);
        if (cases[i].want == NULL) {
            if (c == NULL)
                fail_msg("case \"%s\": %s", cases[i].name, errors);
            assert_non_null(conf_token_find(c, "tok-0123456789abcdef", 20));
            assert_int_equal(c->tokens[0].secret_len, 20);
            conf_unref(c);
            continue;
        }
        assert_null(c);
        if (strstr(errors, cases[i].want) == NULL || strstr(errors, "[token t] secret_file") == NULL)
            fail_msg("case \"%s\": %s", cases[i].name, errors);
        free(errors);
    }
    /* A webhook's secret file has the same checks (bad input: mode 0644). */
    {
        char text[1400];
        char *errors = NULL;
        const char *ok = write_file("hook-ok", "hook-0123456789abcdef\n", 0, 0600);
        char okpath[600];
        snprintf(okpath, sizeof(okpath), "%s", ok);
        const char *open_ = write_file("hook-open", "hook-0123456789abcdef\n", 0, 0644);
        snprintf(text, sizeof(text),
                 "[system]\nkey_file = %s\n[webhook w]\nurl = http://127.0.0.1:9/\n"
                 "secret_file = %s\n", keypath, okpath);
        struct conf *c = conf_load_string(text, "s", 0, &errors);
        if (c == NULL)
            fail_msg("%s", errors);
        assert_int_equal(c->webhooks[0].secret_len, 21);
        assert_memory_equal(c->webhooks[0].secret, "hook-0123456789abcdef", 21);
        conf_unref(c);
        snprintf(text, sizeof(text),
                 "[system]\nkey_file = %s\n[webhook w]\nurl = http://127.0.0.1:9/\n"
                 "secret_file = %s\n", keypath, open_);
        assert_null(conf_load_string(text, "s", 0, &errors));
        assert_non_null(strstr(errors, "[webhook w] secret_file"));
        assert_non_null(strstr(errors, "run: chmod 600 "));
        free(errors);
    }
    /* bad input: missing secret file */
    {
        char text[1400];
        char *errors = NULL;
        snprintf(text, sizeof(text),
                 "[system]\nkey_file = %s\n[token t]\nsecret_file = %s/none\nscopes = notify\n",
                 keypath, tmpdir);
        assert_null(conf_load_string(text, "s", 0, &errors));
        assert_non_null(strstr(errors, "s:0: cannot read [token t] secret_file"));
        free(errors);
    }
}

/* ---- tokens and opt-out ------------------------------------------------- */

static void test_token_find(void **state)
{
    static const char text[] =
        "[token webmail]\nsecret = webmail-0123456789abcdef\nscopes = notify\n"
        "[token dovecot]\nsecret = dovecot-0123456789abcdef\nscopes = notify\n"
        "[token admin]\nsecret = admin-0123456789abcdef-long\nscopes = admin query\n";
    static const struct {
        const char *name, *presented;
        const char *want;      /* token name, NULL = no match */
    } cases[] = {
        { "exact webmail", "webmail-0123456789abcdef", "webmail" },
        { "exact dovecot", "dovecot-0123456789abcdef", "dovecot" },
        { "exact admin", "admin-0123456789abcdef-long", "admin" },
        { "bad: prefix of a secret", "webmail-0123456789abcde", NULL },
        { "bad: secret plus a byte", "webmail-0123456789abcdefX", NULL },
        { "bad: last byte differs", "webmail-0123456789abcdeF", NULL },
        { "bad: empty", "", NULL },
        { "bad: token name as secret", "webmail", NULL },
        { "bad: two secrets glued", "webmail-0123456789abcdefdovecot-0123456789abcdef", NULL },
        { NULL, NULL, NULL },
    };
    char *errors = NULL;
    struct conf *c = conf_load_string(text, "t", CONF_NO_KEY, &errors);
    char big[10000];
    (void)state;

    if (c == NULL)
        fail_msg("%s", errors);
    for (size_t i = 0; cases[i].name; i++) {
        const struct conf_token *t =
            conf_token_find(c, cases[i].presented, strlen(cases[i].presented));
        if ((t == NULL) != (cases[i].want == NULL) ||
            (t && strcmp(t->name, cases[i].want) != 0))
            fail_msg("case \"%s\": %s", cases[i].name, t ? t->name : "NULL");
    }
    /* bad input: embedded NUL after a valid secret, huge input, NULL */
    assert_null(conf_token_find(c, "webmail-0123456789abcdef\0", 25));
    memset(big, 'a', sizeof(big));
    assert_null(conf_token_find(c, big, sizeof(big)));
    assert_null(conf_token_find(c, NULL, 0));
    assert_int_equal(conf_token_find(c, "admin-0123456789abcdef-long", 27)->scopes,
                     CONF_SCOPE_ADMIN | CONF_SCOPE_QUERY);
    conf_unref(c);
    /* no tokens at all */
    c = conf_load_string("", "t", CONF_NO_KEY, &errors);
    assert_null(conf_token_find(c, "webmail-0123456789abcdef", 24));
    conf_unref(c);
}

static void test_opt_out(void **state)
{
    static const char text[] =
        "[system]\n"
        "opt_out = zed@a.example, Carol@A.EXAMPLE <bob@b\xc3\xbc" "cher.example>\n"
        "          \"Alice.Smith\"@a.example \"john doe\"@a.example, carol@a.example\n";
    static const struct { const char *addr; int out; } cases[] = {
        { "<carol@a.example>", 1 }, { "CAROL@a.example", 1 }, { "zed@a.example", 1 },
        { "bob@xn--bcher-kva.example", 1 }, { "<bob@B\xc3\x9c" "CHER.example>", 1 },
        { "alice.smith@a.example", 1 }, { "<\"john doe\"@a.example>", 1 },
        { "<john.doe@a.example>", 0 }, { "carol@b.example", 0 }, { "arol@a.example", 0 },
        { "<>", 0 }, { NULL, 0 },
    };
    char *errors = NULL;
    struct conf *c = conf_load_string(text, "t", CONF_NO_KEY, &errors);
    (void)state;

    if (c == NULL)
        fail_msg("%s", errors);
    assert_int_equal(c->n_opt_out, 5);
    for (size_t i = 1; i < c->n_opt_out; i++)
        assert_true(strcmp(c->opt_out[i - 1], c->opt_out[i]) < 0);    /* sorted, unique */
    for (size_t i = 0; cases[i].addr; i++) {
        struct addr a;
        assert_int_equal(addr_parse_str(cases[i].addr, &a), ADDR_OK);
        if (conf_is_opt_out(c, a.key) != cases[i].out)
            fail_msg("%s: want %d", cases[i].addr, cases[i].out);
    }
    conf_unref(c);
}

/* ---- lifetime ----------------------------------------------------------- */

struct ref_arg {
    struct conf *c;
    int rounds;
};

static void *ref_worker(void *p)
{
    struct ref_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        struct conf *mine = conf_ref(a->c);
        if (mine->tracker_max_body != 65536)
            abort();
        conf_unref(mine);
    }
    /* drop the reference main took for this thread */
    conf_unref(a->c);
    return NULL;
}

static void test_refcount_threads(void **state)
{
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    struct ref_arg arg;
    char *errors = NULL;
    struct conf *c = conf_load_string("", "t", CONF_NO_KEY, &errors);
    (void)state;

    assert_non_null(c);
    assert_int_equal(c->refcnt, 1);
    arg.c = c;
    arg.rounds = 20000;
    for (int i = 0; i < THREADS; i++) {
        conf_ref(c);
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, &arg), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(__atomic_load_n(&c->refcnt, __ATOMIC_SEQ_CST), 1);
    /* the last unref frees (ASan/LeakSanitizer would see a leak or double free) */
    assert_null(conf_unref(c));
    assert_null(conf_unref(NULL));
    assert_null(conf_ref(NULL));
}

/* Bad input: a directory given as the config file. */
static void test_directory_as_file(void **state)
{
    char *errors = NULL;
    (void)state;
    assert_null(conf_load(tmpdir, CONF_NO_KEY, &errors));
    assert_non_null(strstr(errors, ":0: not a regular file"));
    free(errors);
    assert_null(conf_load(tmpdir, CONF_NO_KEY | CONF_MISSING_OK, &errors));
    free(errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_webhooks),
        cmocka_unit_test(test_all_errors_collected),
        cmocka_unit_test(test_long_line_and_nul),
        cmocka_unit_test(test_syntax_forms),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_key_file_special),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_token_find),
        cmocka_unit_test(test_opt_out),
        cmocka_unit_test(test_refcount_threads),
        cmocka_unit_test(test_directory_as_file),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
