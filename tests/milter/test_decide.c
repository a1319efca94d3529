/*
 * Unit tests of milter/decide.c: every end-of-data decision of issue 3 §3,
 * called directly with plain C values (no libmilter, no MTA).
 *
 * System under test: this server mx1 hosts a.example, b.example and
 * "bücher.example" (UTF-8); mx2 hosts c.example; trusted_networks =
 * 127.0.0.1/32.  "127.0.0.2" is therefore an untrusted client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "conf.h"
#include "decide.h"
#include "mailid.h"
#include "xmem.h"

#define TRUSTED   "127.0.0.1"
#define UNTRUSTED "127.0.0.2"
#define PEER      "127.0.0.3"     /* peer_networks: another server of the system */

static char tmpdir[512];
static char keypath[600];

static struct conf *make_conf(const char *extra_system)
{
    char *text, *errors = NULL;
    struct conf *c;

    text = xasprintf("[system]\n"
                     "this_server = mx1\n"
                     "key_file = %s\n"
                     "trusted_networks = 127.0.0.1/32 127.0.0.3/32\n"
                     "peer_networks = 127.0.0.3/32\n"
                     "%s\n"
                     "[server mx1]\n"
                     "domains = a.example b.example b\xc3\xbc" "cher.example\n"
                     "[server mx2]\n"
                     "domains = c.example\n"
                     "[milter]\n"
                     "socket = unix:%s/milter.sock\n"
                     "[store]\n"
                     "path = %s/store\n",
                     keypath, extra_system ? extra_system : "", tmpdir, tmpdir);
    c = conf_load_string(text, "test.conf", 0, &errors);
    if (c == NULL)
        fail_msg("config did not load: %s", errors ? errors : "?");
    free(text);
    free(errors);
    return c;
}

static int setup_all(void **state)
{
    const char *base = getenv("MAILSTATE_TEST_TMP");
    FILE *fp;
    unsigned char key[32];

    (void)state;
    if (mailid_init() != MAILID_OK)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "%s/decide.XXXXXX", base && base[0] ? base : "/tmp");
    if (base && base[0]) {
        char *cmd = xasprintf("mkdir -p '%s'", base);
        if (system(cmd) != 0) {
            free(cmd);
            return -1;
        }
        free(cmd);
    }
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(keypath, sizeof(keypath), "%s/system.key", tmpdir);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 7 + 3);
    if ((fp = fopen(keypath, "w")) == NULL)
        return -1;
    fwrite(key, 1, sizeof(key), fp);
    fclose(fp);
    chmod(keypath, 0600);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    unlink(keypath);
    rmdir(tmpdir);
    return 0;
}

static int setup(void **state)
{
    *state = make_conf(NULL);
    return 0;
}

static int teardown(void **state)
{
    conf_unref(*state);
    return 0;
}

/* A valid X-Mail-Id value for sender under the test key. */
static void valid_value(const struct conf *c, const char *sender, char v[MAILID_VALUE_LEN + 1])
{
    assert_int_equal(mailid_make(c->key_mailid, sizeof(c->key_mailid), sender, 0, v), MAILID_OK);
}

static const struct store_rcpt *find_rcpt(const struct decide_out *o, const char *addr)
{
    for (size_t i = 0; i < o->n_rcpts; i++)
        if (strcmp(o->rcpts[i].address, addr) == 0)
            return &o->rcpts[i];
    return NULL;
}

/* ---- table: who is tagged (sender, auth, client, recipients) ---- */

struct tag_case {
    const char *name;
    const char *sender;
    const char *login;         /* SMTP AUTH login, NULL = none */
    const char *client;
    const char *rcpts[4];
    int         action;        /* expected */
    size_t      n_records;     /* in-system recipients recorded */
};

static const struct tag_case tag_cases[] = {
    /* internal -> internal from a trusted network */
    { "internal to internal, trusted", "<alice@a.example>", NULL, TRUSTED,
      { "<bob@a.example>" }, DECIDE_TAG, 1 },
    /* internal -> external only: nothing to track */
    { "internal to external only", "<alice@a.example>", NULL, TRUSTED,
      { "<x@ext.example>", "<y@other.example>" }, DECIDE_NONE, 0 },
    /* external sender -> internal: not ours to track */
    { "external to internal", "<eve@ext.example>", NULL, TRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* authenticated submission from an untrusted address is in-system */
    { "authenticated, untrusted client", "<alice@a.example>", "alice@a.example", UNTRUSTED,
      { "<bob@a.example>" }, DECIDE_TAG, 1 },
    /* bad input: internal MAIL FROM from outside, no auth = spoof */
    { "spoofed internal sender", "<alice@a.example>", NULL, UNTRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* unknown client address is not trusted */
    { "unknown client address", "<alice@a.example>", NULL, NULL,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* mixed: local, other server, external -> one header set, 2 records */
    { "mixed recipients", "<alice@a.example>", NULL, TRUSTED,
      { "<bob@a.example>", "<carol@c.example>", "<x@ext.example>" }, DECIDE_TAG, 2 },
    /* only a recipient on another server of the system */
    { "internal to other server", "alice@b.example", "Alice@B.example", UNTRUSTED,
      { "<carol@c.example>" }, DECIDE_TAG, 1 },
    /* bad input: null sender (bounces) is never in the system */
    { "null sender", "<>", "alice@a.example", TRUSTED, { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* bad input: CR LF in the sender (header injection attempt) */
    { "sender with CRLF", "<alice@a.example>\r\nBcc: x@ext.example", "alice@a.example", TRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* bad input: NUL-free control byte in the sender */
    { "sender with control byte", "<ali\x01" "ce@a.example>", "alice@a.example", TRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* SMTPUTF8 recipient: UTF-8 local part and UTF-8 domain of mx1 */
    { "SMTPUTF8 recipient", "<alice@a.example>", NULL, TRUSTED,
      { "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>" }, DECIDE_TAG, 1 },
    /* duplicates in two spellings are recorded once */
    { "duplicate recipients", "<alice@a.example>", NULL, TRUSTED,
      { "<Bob@A.Example>", "bob@a.example" }, DECIDE_TAG, 1 },
    /* attack: an authenticated mallory claims to be the ceo (issue 14) */
    { "login does not match MAIL FROM", "<ceo@a.example>", "mallory@a.example", UNTRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* attack: the same from a trusted network: the login still binds */
    { "login mismatch, trusted client", "<ceo@a.example>", "mallory@a.example", TRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* a bare login is not an address: without a map it matches nobody */
    { "bare login without a map", "<alice@a.example>", "alice", UNTRUSTED,
      { "<bob@a.example>" }, DECIDE_NONE, 0 },
    /* bad input: unparsable recipient counts as external */
    { "garbage recipient", "<alice@a.example>", NULL, TRUSTED,
      { "<not an address>" }, DECIDE_NONE, 0 },
};

static void test_tag_table(void **state)
{
    const struct conf *c = *state;

    for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
        const struct tag_case *tc = &tag_cases[i];
        struct decide_in in = { 0 };
        struct decide_out out;
        size_t n = 0;

        while (n < 4 && tc->rcpts[n])
            n++;
        in.conf = c;
        in.sender = tc->sender;
        in.authenticated = tc->login != NULL;
        in.auth_login = tc->login;
        in.client_addr = tc->client;
        in.rcpts = tc->rcpts;
        in.n_rcpts = n;
        in.queue_id = "4F2A1C3";
        assert_int_equal(decide(&in, &out), 0);
        if (out.action != tc->action || out.n_rcpts != tc->n_records)
            fail_msg("case \"%s\": action %d records %zu (want %d, %zu): %s", tc->name,
                     out.action, out.n_rcpts, tc->action, tc->n_records, out.reason);
        if (tc->action == DECIDE_TAG) {
            struct addr a;
            char id[MAILID_ID_LEN + 1];
            assert_int_equal(addr_parse_str(tc->sender, &a), ADDR_OK);
            /* both values present, fit for a header, and the MAC verifies */
            assert_non_null(out.sender_value);
            assert_string_equal(out.sender_value, a.key);
            assert_true(decide_value_ok(out.mailid_value, DECIDE_VALUE_MAX));
            assert_int_equal(mailid_verify(c->key_mailid, sizeof(c->key_mailid), out.mailid_value,
                                           strlen(out.mailid_value), a.key, id), MAILID_OK);
            assert_memory_equal(out.mail.id, out.mailid_value, MAILID_ID_LEN);
            assert_string_equal(out.mail.sender, a.key);
            assert_string_equal(out.mail.queue_id, "4F2A1C3");
            assert_int_equal(out.mail.n_rcpt, n);
        } else {
            assert_null(out.sender_value);
            assert_string_equal(out.mailid_value, "");
        }
        assert_int_equal(out.n_del_mailid, 0);
        assert_int_equal(out.n_del_sender, 0);
        decide_out_clear(&out);
    }
}

/* Mixed recipients: servers named, external not recorded, n_rcpt = all. */
static void test_mixed_servers(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>", "<carol@c.example>", "<x@ext.example>" };
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = TRUSTED,
                            .rcpts = rcpts, .n_rcpts = 3 };
    struct decide_out out;

    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    const struct store_rcpt *bob = find_rcpt(&out, "bob@a.example");
    const struct store_rcpt *carol = find_rcpt(&out, "carol@c.example");
    if (bob == NULL || carol == NULL)
        fail_msg("recipient missing");
    assert_string_equal(bob->server, "mx1");
    assert_string_equal(carol->server, "mx2");
    assert_int_equal(carol->status, STORE_SENT);
    assert_null(find_rcpt(&out, "x@ext.example"));
    assert_int_equal(out.mail.n_rcpt, 3);
    decide_out_clear(&out);
}

/* Bad input: two forged X-Mail-Id and one X-Sender from outside: all go, last first. */
static void test_forged_removed(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    char v[MAILID_VALUE_LEN + 1];
    const char *ids[2], *senders[] = { "alice@a.example" };
    struct decide_in in = { .conf = c, .sender = "<eve@ext.example>", .client_addr = UNTRUSTED,
                            .rcpts = rcpts, .n_rcpts = 1 };
    struct decide_out out;

    valid_value(c, "alice@a.example", v);   /* even a valid MAC from outside goes */
    ids[0] = "01JDQ0000000000000000000AB.ZZZZZZZZZZZZZZZZ";
    ids[1] = v;
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = 2;
    in.sender_hdrs = senders;
    in.n_sender_hdrs = 1;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_NONE);
    assert_int_equal(out.n_del_mailid, 2);
    assert_int_equal(out.del_mailid[0], 2);
    assert_int_equal(out.del_mailid[1], 1);
    assert_int_equal(out.n_del_sender, 1);
    assert_int_equal(out.del_sender[0], 1);
    assert_int_equal(out.n_rcpts, 0);
    decide_out_clear(&out);

    /* same forgeries on an authenticated internal submission: removed and re-tagged */
    in.sender = "<alice@a.example>";
    in.authenticated = 1;
    in.auth_login = "alice@a.example";
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_int_equal(out.n_del_mailid, 2);
    assert_int_equal(out.n_del_sender, 1);
    assert_string_not_equal(out.mailid_value, v);
    decide_out_clear(&out);
}

/* A valid id relayed by a trusted peer is kept; only local recipients recorded. */
static void test_peer_id_kept(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>", "<carol@c.example>", "<dave@b.example>" };
    char v[MAILID_VALUE_LEN + 1];
    const char *ids[1], *senders[] = { "carol@c.example" };
    struct decide_in in = { .conf = c, .sender = "<carol@c.example>", .client_addr = PEER,
                            .rcpts = rcpts, .n_rcpts = 3,
                            .sender_hdrs = senders, .n_sender_hdrs = 1 };
    struct decide_out out;

    valid_value(c, "carol@c.example", v);
    ids[0] = v;
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = 1;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_KEEP);
    assert_int_equal(out.n_del_mailid + out.n_del_sender, 0);
    assert_string_equal(out.mailid_value, "");        /* no second id */
    assert_int_equal(out.n_rcpts, 2);                  /* bob, dave: hosted here */
    assert_null(find_rcpt(&out, "carol@c.example"));
    assert_memory_equal(out.mail.id, v, MAILID_ID_LEN);
    assert_string_equal(out.mail.sender, "carol@c.example");
    assert_int_equal(out.mail.created_ms, mailid_time_ms(out.mail.id));
    decide_out_clear(&out);
}

/*
 * Attack (issue 14 item 5): a trusted client that is not a peer (local
 * sendmail(1), webmail) submits a genuine id copied from another mail.  It
 * is removed and the mail tagged afresh: nothing lands under the copy.
 */
static void test_copied_id_from_trusted(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    char v[MAILID_VALUE_LEN + 1];
    const char *ids[1], *senders[] = { "carol@c.example" };
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = TRUSTED,
                            .rcpts = rcpts, .n_rcpts = 1,
                            .sender_hdrs = senders, .n_sender_hdrs = 1 };
    struct decide_out out;

    valid_value(c, "carol@c.example", v);
    ids[0] = v;
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = 1;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_int_equal(out.n_del_mailid, 1);
    assert_int_equal(out.n_del_sender, 1);
    assert_memory_not_equal(out.mail.id, v, MAILID_ID_LEN);
    assert_string_equal(out.mail.sender, "alice@a.example");
    decide_out_clear(&out);
}

/* Bad input: a trusted peer relays a kept id plus a forged one: only the forgery goes. */
static void test_peer_id_extra_forgery(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    char v[MAILID_VALUE_LEN + 1], w[MAILID_VALUE_LEN + 1];
    const char *ids[3], *senders[] = { "mallory@a.example", "carol@c.example" };
    struct decide_in in = { .conf = c, .sender = "<carol@c.example>", .client_addr = PEER,
                            .rcpts = rcpts, .n_rcpts = 1,
                            .sender_hdrs = senders, .n_sender_hdrs = 2 };
    struct decide_out out;

    valid_value(c, "carol@c.example", v);
    valid_value(c, "carol@c.example", w);
    w[MAILID_VALUE_LEN - 1] = w[MAILID_VALUE_LEN - 1] == 'A' ? 'B' : 'A';  /* tampered */
    ids[0] = w;
    ids[1] = v;
    ids[2] = "garbage";
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = 3;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_KEEP);
    assert_int_equal(out.n_del_mailid, 2);
    assert_int_equal(out.del_mailid[0], 3);
    assert_int_equal(out.del_mailid[1], 1);
    assert_int_equal(out.n_del_sender, 1);
    assert_int_equal(out.del_sender[0], 1);
    decide_out_clear(&out);
}

/*
 * Bad input: a trusted client (a webmail on loopback, a peer relaying what
 * it was given) sends 3000 X-Mail-Id and 3000 X-Sender headers.  Trying
 * every pair would be 9 million MAC checks at end-of-data - minutes during
 * which the MTA waits.  Only the first DECIDE_KEEP_TRY of each are tried
 * (a real relay carries one of each); all are deleted; the in-system
 * sender's mail is tagged afresh.  A valid pair hidden behind the limit is
 * therefore not kept: that is how the test tells the bound is there.
 */
static void test_header_flood(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    enum { N = 3000 };
    const char **ids = xcalloc(N, sizeof(*ids)), **senders = xcalloc(N, sizeof(*senders));
    char v[MAILID_VALUE_LEN + 1];
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = PEER,
                            .rcpts = rcpts, .n_rcpts = 1 };
    struct decide_out out;

    valid_value(c, "carol@c.example", v);
    for (size_t i = 0; i < N; i++) {
        ids[i] = "01JDQ0000000000000000000000.AAAAAAAAAAAAAAAA";
        senders[i] = "mallory@a.example";
    }
    ids[N - 1] = v;                           /* the one valid pair, last */
    senders[N - 1] = "carol@c.example";
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = N;
    in.sender_hdrs = senders;
    in.n_sender_hdrs = N;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_int_equal(out.n_del_mailid, N);
    assert_int_equal(out.n_del_sender, N);
    assert_int_equal(out.del_mailid[0], N);   /* highest first */
    assert_int_equal(out.del_mailid[N - 1], 1);
    decide_out_clear(&out);
    free(ids);
    free(senders);
}

/* Bad input: a tampered MAC from a trusted peer is removed; an in-system sender is re-tagged. */
static void test_tampered_mac(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    char v[MAILID_VALUE_LEN + 1];
    const char *ids[1], *senders[] = { "alice@a.example" };
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = TRUSTED,
                            .rcpts = rcpts, .n_rcpts = 1,
                            .sender_hdrs = senders, .n_sender_hdrs = 1 };
    struct decide_out out;

    valid_value(c, "alice@a.example", v);
    v[MAILID_ID_LEN + 1] = v[MAILID_ID_LEN + 1] == 'A' ? 'B' : 'A';
    ids[0] = v;
    in.mailid_hdrs = ids;
    in.n_mailid_hdrs = 1;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_int_equal(out.n_del_mailid, 1);
    assert_int_equal(out.n_del_sender, 1);
    decide_out_clear(&out);

    /* the MAC binds the sender: a valid id with another X-Sender is removed too */
    valid_value(c, "alice@a.example", v);
    senders[0] = "mallory@a.example";
    in.sender = "<eve@ext.example>";
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_NONE);
    assert_int_equal(out.n_del_mailid, 1);
    assert_int_equal(out.n_del_sender, 1);
    decide_out_clear(&out);
}

/* Bad input: a 1000-character sender never reaches a header. */
static void test_long_sender(void **state)
{
    const struct conf *c = *state;
    const char *rcpts[] = { "<bob@a.example>" };
    char sender[1100];
    struct decide_in in = { .conf = c, .client_addr = TRUSTED, .authenticated = 1,
                            .rcpts = rcpts, .n_rcpts = 1 };
    struct decide_out out;

    sender[0] = '<';
    memset(sender + 1, 'a', 988);
    strcpy(sender + 989, "@a.example>");
    assert_int_equal(strlen(sender), 1000);
    in.sender = sender;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_NONE);
    assert_null(out.sender_value);
    assert_int_equal(out.n_rcpts, 0);
    assert_non_null(strstr(out.reason, "sender"));
    decide_out_clear(&out);
}

/* 500 recipients: all recorded, in order, once. */
static void test_500_recipients(void **state)
{
    const struct conf *c = *state;
    char *bufs[500];
    const char *rcpts[500];
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = TRUSTED };
    struct decide_out out;

    for (int i = 0; i < 500; i++) {
        bufs[i] = xasprintf("<user%03d@%s>", i, i % 2 ? "a.example" : "c.example");
        rcpts[i] = bufs[i];
    }
    in.rcpts = rcpts;
    in.n_rcpts = 500;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_int_equal(out.n_rcpts, 500);
    assert_string_equal(out.rcpts[0].address, "user000@c.example");
    assert_string_equal(out.rcpts[0].server, "mx2");
    assert_string_equal(out.rcpts[499].address, "user499@a.example");
    assert_string_equal(out.rcpts[499].server, "mx1");
    assert_int_equal(out.mail.n_rcpt, 500);
    decide_out_clear(&out);
    for (int i = 0; i < 500; i++)
        free(bufs[i]);
}

/* Subject only with record_subject; Message-ID always. */
static void test_record_subject(void **state)
{
    const char *rcpts[] = { "<bob@a.example>" };
    struct decide_in in = { .conf = *state, .sender = "<alice@a.example>",
                            .client_addr = TRUSTED, .rcpts = rcpts, .n_rcpts = 1,
                            .message_id = "<m1@a.example>", .subject = "secret plans" };
    struct decide_out out;
    struct conf *c2;

    assert_int_equal(decide(&in, &out), 0);
    assert_null(out.mail.subject);
    assert_string_equal(out.mail.message_id, "<m1@a.example>");
    assert_null(out.mail.login);              /* trusted network, no SMTP AUTH */
    decide_out_clear(&out);

    /* the SMTP AUTH login is recorded with the mail (issue 12) ... */
    in.authenticated = 1;
    in.auth_login = "Alice@A.example";
    assert_int_equal(decide(&in, &out), 0);
    assert_string_equal(out.mail.login, "Alice@A.example");
    decide_out_clear(&out);
    /* ... bad input: a login longer than the store keys (321 bytes) can be
     * nobody's address: the login binding (issue 14) leaves the mail
     * untagged, unrecorded, and says why */
    char longlogin[322];
    memset(longlogin, 'l', 321);
    longlogin[321] = '\0';
    in.auth_login = longlogin;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_NONE);
    assert_int_equal(out.n_rcpts, 0);
    assert_true(out.notice);
    assert_non_null(strstr(out.reason, "may not send as alice@a.example"));
    decide_out_clear(&out);
    in.authenticated = 0;
    in.auth_login = NULL;

    c2 = make_conf("record_subject = yes");
    in.conf = c2;
    assert_int_equal(decide(&in, &out), 0);
    assert_string_equal(out.mail.subject, "secret plans");
    decide_out_clear(&out);
    conf_unref(c2);
}

/*
 * Bad input: a Message-ID (5000 bytes) and a Subject (6000 bytes of UTF-8)
 * longer than the mail log takes per field (4096).  Postfix passes headers
 * up to 100 kB, so this is legal mail: decide() cuts both (the Subject
 * between two characters) so the record is written and the mail tagged -
 * not passed untagged, or with on_error = tempfail deferred until it
 * bounces.  The real store must take the result.
 */
static void test_long_fields(void **state)
{
    const char *rcpts[] = { "<bob@a.example>" };
    char *msgid = xmalloc(5001), *subject = xmalloc(6001), *qid = xmalloc(5001);
    struct decide_in in = { .sender = "<alice@a.example>", .client_addr = TRUSTED,
                            .rcpts = rcpts, .n_rcpts = 1 };
    struct decide_out out;
    struct conf *c = make_conf("record_subject = yes");
    struct store_opts so = { 0 };
    store_t *st = NULL;
    char err[256], *path = xasprintf("%s/store-long", tmpdir), *cmd;

    (void)state;
    msgid[0] = '<';
    memset(msgid + 1, 'm', 4998);
    memcpy(msgid + 4999, ">", 2);
    for (size_t i = 0; i < 3000; i++)
        memcpy(subject + 2 * i, "\xc3\xa4", 2);              /* "ä" */
    subject[6000] = '\0';
    memset(qid, 'Q', 5000);
    qid[5000] = '\0';
    in.conf = c;
    in.message_id = msgid;
    in.subject = subject;
    in.queue_id = qid;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_TAG);
    assert_true(strlen(out.mail.message_id) <= DECIDE_FIELD_MAX);
    assert_true(strlen(out.mail.queue_id) <= DECIDE_FIELD_MAX);
    assert_true(strlen(out.mail.subject) <= DECIDE_FIELD_MAX);
    assert_true(strlen(out.mail.subject) % 2 == 0);        /* no half "ä" */
    assert_memory_equal(out.mail.message_id, msgid, strlen(out.mail.message_id));

    so.path = path;
    so.map_size = 4 << 20;
    so.map_size_max = 4 << 20;
    assert_int_equal(store_open(&so, &st, err, sizeof(err)), STORE_OK);
    assert_int_equal(store_put_sent(st, &out.mail, out.rcpts, out.n_rcpts), STORE_OK);
    st = store_close(st);
    decide_out_clear(&out);
    conf_unref(c);
    cmd = xasprintf("rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(path);
    free(msgid);
    free(subject);
    free(qid);
}

/* The org-wide switch: nothing tagged or recorded, forgeries still removed. */
static void test_tracking_off(void **state)
{
    const char *rcpts[] = { "<bob@a.example>" };
    const char *ids[] = { "forged" };
    struct conf *c = make_conf("tracking = no");
    struct decide_in in = { .conf = c, .sender = "<alice@a.example>", .client_addr = UNTRUSTED,
                            .authenticated = 1, .rcpts = rcpts, .n_rcpts = 1,
                            .mailid_hdrs = ids, .n_mailid_hdrs = 1 };
    struct decide_out out;

    (void)state;
    assert_int_equal(decide(&in, &out), 0);
    assert_int_equal(out.action, DECIDE_NONE);
    assert_int_equal(out.n_rcpts, 0);
    assert_int_equal(out.n_del_mailid, 1);
    decide_out_clear(&out);
    conf_unref(c);
}

/* decide_value_ok: the last check before a value goes into a header. */
static void test_value_ok(void **state)
{
    static const struct { const char *v; size_t max; int ok; } cases[] = {
        { "alice@a.example", 512, 1 },
        { "a\tb", 512, 1 },                 /* TAB is allowed in a header value */
        { "a\rb", 512, 0 },                 /* bad: CR */
        { "a\nb", 512, 0 },                 /* bad: LF (header injection) */
        { "a\x7f" "b", 512, 0 },            /* bad: DEL */
        { "a\x1b" "b", 512, 0 },            /* bad: ESC */
        { "abcd", 4, 1 },
        { "abcde", 4, 0 },                  /* bad: longer than the bound */
        { "", 4, 1 },
        { NULL, 4, 0 },                     /* bad: missing */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (decide_value_ok(cases[i].v, cases[i].max) != cases[i].ok)
            fail_msg("case %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tag_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_servers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_id_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_id_extra_forgery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copied_id_from_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_mac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracking_off, setup, teardown),
        cmocka_unit_test(test_long_fields),
        cmocka_unit_test_setup_teardown(test_header_flood, setup, teardown),
        cmocka_unit_test(test_value_ok),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
