/*
 * test_sync - the sync wire format (sign, verify, parse, encode) and the
 * receiving side (window, replay memory, peer and entry checks, merging into
 * a real LMDB store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "sync.h"

static const unsigned char KAT_KEY[] = "0123456789abcdef0123456789abcdef";

/* Known answer, computed independently with Python's hmac module. */
static void test_sign_known_answer(void **state)
{
    char hex[SYNC_SIG_HEX_LEN + 1];
    const char *body = "{\"entries\":[]}";

    (void)state;
    sync_sign(KAT_KEY, 32, "POST", "/v1/sync", "1764325200", "mx2", body,
              strlen(body), hex);
    assert_string_equal(hex,
        "5936c5a930e782e28143a3a9e2144fd088465d269d581a1adebcfb03de13e22d");
}

/* Every signed part matters; malformed signatures are told apart. */
static void test_verify_table(void **state)
{
    static const char *const body = "{\"entries\":[]}";
    char good[SYNC_SIG_HEX_LEN + 1], upper[SYNC_SIG_HEX_LEN + 1];
    const unsigned char other_key[] = "0123456789abcdef0123456789abcdeX";
    struct {
        const char *what;
        const unsigned char *key;
        const char *method, *path, *ts, *server, *body, *sig;
        int want;
    } cases[] = {
        { "all as signed", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body, good, SYNC_OK },
        { "upper-case hex", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body, upper, SYNC_OK },
        { "body changed", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", "{\"entries\":[ ]}", good, SYNC_ESIG },
        { "timestamp changed", KAT_KEY, "POST", "/v1/sync", "1764325201", "mx2", body, good, SYNC_ESIG },
        { "server changed", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx3", body, good, SYNC_ESIG },
        { "method changed", KAT_KEY, "PUT", "/v1/sync", "1764325200", "mx2", body, good, SYNC_ESIG },
        { "path changed", KAT_KEY, "POST", "/v1/syncx", "1764325200", "mx2", body, good, SYNC_ESIG },
        { "other key", other_key, "POST", "/v1/sync", "1764325200", "mx2", body, good, SYNC_ESIG },
        { "signature truncated", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body,
          "5936c5a930e782e28143a3a9e2144fd088465d269d581a1adebcfb03de13e22", SYNC_EHEADER },
        { "signature not hex", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body,
          "5936c5a930e782e28143a3a9e2144fd088465d269d581a1adebcfb03de13e2zz", SYNC_EHEADER },
        { "signature empty", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body, "", SYNC_EHEADER },
        { "signature missing", KAT_KEY, "POST", "/v1/sync", "1764325200", "mx2", body, NULL, SYNC_EHEADER },
    };

    (void)state;
    sync_sign(KAT_KEY, 32, "POST", "/v1/sync", "1764325200", "mx2", body, strlen(body), good);
    for (size_t i = 0; i <= SYNC_SIG_HEX_LEN; i++)
        upper[i] = (char)(good[i] >= 'a' && good[i] <= 'f' ? good[i] - 32 : good[i]);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = sync_verify(cases[i].key, 32, cases[i].method, cases[i].path,
                             cases[i].ts, cases[i].server, cases[i].body,
                             strlen(cases[i].body), cases[i].sig);
        if (rc != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].what, rc, cases[i].want);
    }
}

/* Timestamps: decimal digits only. */
static void test_timestamp_table(void **state)
{
    struct { const char *in; int want; long long v; } cases[] = {
        { "1764325200", SYNC_OK, 1764325200LL },
        { "0", SYNC_OK, 0 },
        { "", SYNC_EHEADER, 0 },                    /* empty */
        { "-5", SYNC_EHEADER, 0 },                  /* sign */
        { "+5", SYNC_EHEADER, 0 },
        { " 5", SYNC_EHEADER, 0 },                  /* space */
        { "5 ", SYNC_EHEADER, 0 },
        { "12a", SYNC_EHEADER, 0 },                 /* junk */
        { "1.5", SYNC_EHEADER, 0 },                 /* fraction */
        { "1234567890123456789", SYNC_EHEADER, 0 }, /* 19 digits: overflow risk */
        { NULL, SYNC_EHEADER, 0 },                  /* missing */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long v = -1;
        int rc = sync_parse_timestamp(cases[i].in, &v);
        if (rc != cases[i].want || (rc == SYNC_OK && v != cases[i].v))
            fail_msg("case %zu (%s): got %d", i, cases[i].in ? cases[i].in : "NULL", rc);
    }
}

#define ID1 "01JDQ5K3J4M8N9P0QRSTVWXYZ0"
#define E(fields) "{\"entries\":[{" fields "}]}"
#define GOOD_FIELDS "\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\"," \
    "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000," \
    "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""

/* Strict parsing: each case names the bad input it tries. */
static void test_parse_table(void **state)
{
    struct { const char *what, *body; int want; } cases[] = {
        { "a good entry", E(GOOD_FIELDS), SYNC_OK },
        { "no entries", "{\"entries\":[]}", SYNC_OK },
        { "addresses in other forms", E("\"mail_id\":\"" ID1 "\",\"sender\":\"<Alice@A.Example>\","
          "\"recipient\":\"bob@C.EXAMPLE\",\"status\":\"read\",\"first_read\":1,"
          "\"last_read\":1,\"read_count\":1,\"via\":\"\""), SYNC_OK },
        { "not JSON", "{\"entries\":[", SYNC_EJSON },
        { "empty body", "", SYNC_EJSON },
        { "top level array", "[]", SYNC_EBATCH },
        { "entries missing", "{}", SYNC_EBATCH },
        { "entries not an array", "{\"entries\":{}}", SYNC_EBATCH },
        { "unknown top-level field", "{\"entries\":[],\"x\":1}", SYNC_EBATCH },
        { "duplicate key", "{\"entries\":[],\"entries\":[]}", SYNC_EJSON },
        { "entry not an object", "{\"entries\":[1]}", SYNC_EBATCH },
        { "unknown entry field", E(GOOD_FIELDS ",\"extra\":1"), SYNC_EBATCH },
        { "field missing", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2"), SYNC_EBATCH },
        { "number as string", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":\"1000\","
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "real for integer", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000.5,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "null for string", E("\"mail_id\":null,\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "negative time", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":-1,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "first after last", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":3000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "count over 32 bits", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":4294967296,\"via\":\"imap\""), SYNC_EBATCH },
        { "time beyond 48 bits", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":281474976710656,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "id with tag", E("\"mail_id\":\"" ID1 ".ABCDEFGHJKMNPQRS\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "id too short", E("\"mail_id\":\"01JDQ5K3J4M8N9P0QRSTVWXYZ\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "id with letter U", E("\"mail_id\":\"01JDQ5K3J4M8N9P0QRSTVWXYZU\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "unknown status", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"seen\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "via too long", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"abcdefghijklmnop\""), SYNC_EBATCH },
        { "via with a space", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"im ap\""), SYNC_EBATCH },
        { "sender not an address", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "null sender", E("\"mail_id\":\"" ID1 "\",\"sender\":\"<>\","
          "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
        { "NUL inside recipient", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\\u0000x\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EJSON }, /* jansson refuses \\u0000 */
        { "CRLF inside recipient", E("\"mail_id\":\"" ID1 "\",\"sender\":\"alice@a.example\","
          "\"recipient\":\"bob@c.example\\r\\nX: y\",\"status\":\"read\",\"first_read\":1000,"
          "\"last_read\":2000,\"read_count\":2,\"via\":\"imap\""), SYNC_EBATCH },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sync_batch b;
        char err[256] = "";
        int rc = sync_parse(cases[i].body, strlen(cases[i].body), &b, err, sizeof(err));
        if (rc != cases[i].want)
            fail_msg("%s: got %d (%s), want %d", cases[i].what, rc, err, cases[i].want);
        if (rc == SYNC_OK)
            sync_batch_clear(&b);
        else
            assert_true(err[0] != '\0');     /* every refusal says why */
    }
}

/* A body of n copies of the good entry. */
static char *many(size_t n)
{
    const char *one = "{" GOOD_FIELDS "}";
    char *body = xmalloc(32 + n * (strlen(one) + 1));
    size_t len = (size_t)sprintf(body, "{\"entries\":[");

    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s%s", i ? "," : "", one);
    strcpy(body + len, "]}");
    return body;
}

/* Too many entries in one batch; exactly the maximum is fine. */
static void test_parse_too_many(void **state)
{
    struct sync_batch b;
    char *body = many(SYNC_MAX_ENTRIES + 1);

    (void)state;
    assert_int_equal(sync_parse(body, strlen(body), &b, NULL, 0), SYNC_EBATCH);
    xfree(body);
    body = many(SYNC_MAX_ENTRIES);
    assert_int_equal(sync_parse(body, strlen(body), &b, NULL, 0), SYNC_OK);
    assert_int_equal(b.n, SYNC_MAX_ENTRIES);
    sync_batch_clear(&b);
    xfree(body);
}

/* What the forwarder encodes, the receiver parses back unchanged. */
static void test_encode_roundtrip(void **state)
{
    struct store_outbox_item it[2];
    struct sync_batch b;
    char *body;

    (void)state;
    memset(it, 0, sizeof(it));
    strcpy(it[0].id, ID1);
    it[0].sender = "alice@a.example";
    it[0].rcpt.address = "bob@c.example";
    it[0].rcpt.status = STORE_READ;
    it[0].rcpt.first_read_ms = 1764325200123ULL;
    it[0].rcpt.last_read_ms = 1764325300456ULL;
    it[0].rcpt.read_count = 3;
    strcpy(it[0].rcpt.via, "imap");
    strcpy(it[1].id, ID1);
    it[1].sender = "alice@a.example";
    it[1].rcpt.address = "carol@c.example";
    it[1].rcpt.status = STORE_DELETED_UNREAD;
    body = sync_encode(it, 2);
    assert_int_equal(sync_parse(body, strlen(body), &b, NULL, 0), SYNC_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.entries[0].id, ID1);
    assert_string_equal(b.entries[0].sender, "alice@a.example");
    assert_string_equal(b.entries[0].rcpt.address, "bob@c.example");
    assert_int_equal(b.entries[0].rcpt.status, STORE_READ);
    assert_true(b.entries[0].rcpt.first_read_ms == 1764325200123ULL);
    assert_true(b.entries[0].rcpt.last_read_ms == 1764325300456ULL);
    assert_int_equal(b.entries[0].rcpt.read_count, 3);
    assert_string_equal(b.entries[0].rcpt.via, "imap");
    assert_int_equal(b.entries[1].rcpt.status, STORE_DELETED_UNREAD);
    assert_string_equal(b.entries[1].rcpt.via, "");
    sync_batch_clear(&b);
    free(body);
    body = sync_encode(NULL, 0);
    assert_string_equal(body, "{\"entries\":[]}");
    free(body);
}

/* ---- receiver, against a real store ---- */

struct rx {
    char            *dir;
    char            *key;
    struct conf     *conf;
    store_t         *st;
    sync_receiver_t *r;
    char             id[MAILID_ID_LEN + 1];
};

static int rx_setup(void **state)
{
    struct rx *x = xcalloc(1, sizeof(*x));
    static const char *const rcpts[] = { "bob@c.example", "dave@a.example" };
    static const char *const servers[] = { "mx2", "mx1" };

    x->dir = fx_tmpdir("test_sync");
    x->key = fx_key(x->dir, "system.key", 'k');
    x->conf = fx_conf("mx1", x->key, "http://127.0.0.1:1", "http://127.0.0.1:2");
    x->st = fx_store(x->dir, "mx1");
    x->r = sync_receiver_new(x->conf, x->st, 64);
    x->id[0] = '\0';
    fx_mail(x->st, "alice@a.example", x->id, rcpts, servers, 2);
    *state = x;
    return 0;
}

static int rx_teardown(void **state)
{
    struct rx *x = *state;

    x->r = sync_receiver_free(x->r);
    x->st = store_close(x->st);
    x->conf = conf_unref(x->conf);
    xfree(x->key);
    fx_cleanup(x->dir);
    xfree(x);
    return 0;
}

/* Sign body as server at ts with the system key and hand it to sync_handle. */
static int rx_post(struct rx *x, const char *server, long long ts, long long now,
                   const char *body, char **reply)
{
    char tsbuf[24], sig[SYNC_SIG_HEX_LEN + 1];

    snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, tsbuf, server,
              body, strlen(body), sig);
    return sync_handle(x->r, "POST", SYNC_PATH, server, tsbuf, sig, body,
                       strlen(body), now, reply);
}

static char *rx_body(const char *id, const char *sender, const char *rcpt,
                     long long first, long long last, long long count)
{
    return xasprintf("{\"entries\":[{\"mail_id\":\"%s\",\"sender\":\"%s\","
                     "\"recipient\":\"%s\",\"status\":\"read\",\"first_read\":%lld,"
                     "\"last_read\":%lld,\"read_count\":%lld,\"via\":\"imap\"}]}",
                     id, sender, rcpt, first, last, count);
}

/* Window, replay, peers and signatures decide before anything is parsed. */
static void test_check_table(void **state)
{
    struct rx *x = *state;
    const char *body = "{\"entries\":[]}";
    long long now = 1764325200;
    char ts[24], sig[SYNC_SIG_HEX_LEN + 1];
    struct {
        const char *what, *server;
        long long ts;
        int want;
    } cases[] = {
        { "fresh", "mx2", now, SYNC_OK },
        { "window edge, past", "mx2", now - 300, SYNC_OK },
        { "window edge, future", "mx2", now + 300, SYNC_OK },
        { "just too old", "mx2", now - 301, SYNC_ESTALE },
        { "just too far ahead", "mx2", now + 301, SYNC_ESTALE },
        { "an hour old", "mx3", now - 3600, SYNC_ESTALE },
        { "this server itself", "mx1", now, SYNC_EPEER },
        { "not in the system", "mx9", now, SYNC_EPEER },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;
        snprintf(ts, sizeof(ts), "%lld", cases[i].ts);
        sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts,
                  cases[i].server, body, strlen(body), sig);
        rc = sync_check(x->r, "POST", SYNC_PATH, cases[i].server, ts, sig, body,
                        strlen(body), now);
        if (rc != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].what, rc, cases[i].want);
        /* the exact same request again is a replay if it was accepted */
        rc = sync_check(x->r, "POST", SYNC_PATH, cases[i].server, ts, sig, body,
                        strlen(body), now);
        if (rc != (cases[i].want == SYNC_OK ? SYNC_EREPLAY : cases[i].want))
            fail_msg("%s again: got %d", cases[i].what, rc);
    }
    /* missing or malformed headers */
    snprintf(ts, sizeof(ts), "%lld", now);
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts, "mx2", body,
              strlen(body), sig);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, NULL, ts, sig, body, strlen(body), now), SYNC_EHEADER);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "", ts, sig, body, strlen(body), now), SYNC_EHEADER);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", NULL, sig, body, strlen(body), now), SYNC_EHEADER);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", "soon", sig, body, strlen(body), now), SYNC_EHEADER);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", ts, NULL, body, strlen(body), now), SYNC_ESIG);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", ts, "00", body, strlen(body), now), SYNC_ESIG);
    /* a request signed for mx2 presented as mx3 */
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx3", ts, sig, body, strlen(body), now), SYNC_ESIG);
}

/*
 * Attack (issue 14 item 7): a sync request captured on the wire and
 * replayed right after the receiving tracker restarted.  The replay memory
 * is in the mail log, so the new receiver refuses it; a freshly signed
 * request still passes.
 */
/* Every sync_check result maps to the status and reason sync.h promises. */
static void test_check_refusal_table(void **state)
{
    (void)state;
    static const struct {
        int rc, status;
        enum sync_reason reason;
    } cases[] = {
        { SYNC_EHEADER, 400, SYNC_R_BAD_HEADER },
        { SYNC_ESIG,    401, SYNC_R_BAD_SIGNATURE },
        { SYNC_EPEER,   403, SYNC_R_UNKNOWN_PEER },
        { SYNC_ESTALE,  409, SYNC_R_STALE },
        { SYNC_EREPLAY, 409, SYNC_R_REPLAY },
        { SYNC_EBUSY,   503, SYNC_R_BUSY },
        { SYNC_ESTORE,  503, SYNC_R_BUSY },
        { 0, 0, 0 }
    };
    for (size_t i = 0; cases[i].status != 0; i++) {
        struct sync_refusal f = sync_check_refusal(cases[i].rc);
        assert_int_equal(f.status, cases[i].status);
        assert_int_equal(f.reason, cases[i].reason);
        assert_non_null(f.detail);
        assert_true(strlen(f.detail) > 0);
    }
    char *reply = sync_error_reply("replay", "a \"quoted\" detail");
    assert_string_equal(reply, "{\"error\":\"replay\",\"detail\":\"a \\\"quoted\\\" detail\"}");
    free(reply);
}

static void test_replay_across_restart(void **state)
{
    struct rx *x = *state;
    long long now = (long long)time(NULL);
    char ts[24], sig[SYNC_SIG_HEX_LEN + 1];
    const char *body = "{\"entries\":[]}";

    snprintf(ts, sizeof(ts), "%lld", now);
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts, "mx2",
              body, strlen(body), sig);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", ts, sig, body, strlen(body),
                                now), SYNC_OK);
    /* the restart: a new receiver on the same mail log */
    sync_receiver_free(x->r);
    x->r = sync_receiver_new(x->conf, x->st, 0);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", ts, sig, body, strlen(body),
                                now + 1), SYNC_EREPLAY);
    snprintf(ts, sizeof(ts), "%lld", now + 1);
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts, "mx2",
              body, strlen(body), sig);
    assert_int_equal(sync_check(x->r, "POST", SYNC_PATH, "mx2", ts, sig, body, strlen(body),
                                now + 1), SYNC_OK);
}

/* The replay memory is bounded: full means 503, never forgetting a live one. */
static void test_replay_memory_full(void **state)
{
    struct rx *x = *state;
    sync_receiver_t *small = sync_receiver_new(x->conf, x->st, 32); /* one bucket */
    long long now = 1764325200;
    char ts[24], sig[SYNC_SIG_HEX_LEN + 1], body[64];

    snprintf(ts, sizeof(ts), "%lld", now);
    for (int i = 0; i < 33; i++) {
        snprintf(body, sizeof(body), "{\"entries\":[],\"n\":%d}", i);
        sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts, "mx2",
                  body, strlen(body), sig);
        assert_int_equal(sync_check(small, "POST", SYNC_PATH, "mx2", ts, sig, body,
                                    strlen(body), now), i < 32 ? SYNC_OK : SYNC_EBUSY);
    }
    /* once the window has passed, the slots are free again */
    snprintf(ts, sizeof(ts), "%lld", now + 301);
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, ts, "mx2", body,
              strlen(body), sig);
    assert_int_equal(sync_check(small, "POST", SYNC_PATH, "mx2", ts, sig, body,
                                strlen(body), now + 301), SYNC_OK);
    sync_receiver_free(small);
}

/* Merging: min/max/max, idempotent, order-free; HTTP codes of sync_handle. */
static void test_handle_merge(void **state)
{
    struct rx *x = *state;
    long long now = 1764325200;
    char *reply = NULL, *body;
    struct store_rcpt e;
    uint64_t merged0 = sync_merged_count();

    /* a read of bob, as mx2 reports it */
    body = rx_body(x->id, "alice@a.example", "bob@c.example", 5000, 7000, 2);
    assert_int_equal(rx_post(x, "mx2", now, now, body, &reply), 200);
    assert_string_equal(reply, "{\"merged\":1,\"refused\":0}");
    reply = xfree(reply);
    e = fx_entry(x->st, x->id, "bob@c.example");
    assert_int_equal(e.status, STORE_READ);
    assert_true(e.first_read_ms == 5000 && e.last_read_ms == 7000 && e.read_count == 2);

    /* the same content again (new timestamp): no change */
    assert_int_equal(rx_post(x, "mx2", now + 1, now + 1, body, &reply), 200);
    reply = xfree(reply);
    e = fx_entry(x->st, x->id, "bob@c.example");
    assert_true(e.first_read_ms == 5000 && e.last_read_ms == 7000 && e.read_count == 2);
    xfree(body);

    /* an older, smaller state arriving late: first=min, last=max, count=max */
    body = rx_body(x->id, "alice@a.example", "bob@c.example", 4000, 4000, 1);
    assert_int_equal(rx_post(x, "mx2", now + 2, now + 2, body, &reply), 200);
    reply = xfree(reply);
    xfree(body);
    e = fx_entry(x->st, x->id, "bob@c.example");
    assert_true(e.first_read_ms == 4000 && e.last_read_ms == 7000 && e.read_count == 2);
    assert_true(sync_merged_count() - merged0 == 3);

    /* the exact same request replayed inside the window changes nothing */
    body = rx_body(x->id, "alice@a.example", "bob@c.example", 1000, 90000, 50);
    assert_int_equal(rx_post(x, "mx2", now + 3, now + 3, body, &reply), 200);
    reply = xfree(reply);
    {
        char tsbuf[24], sig[SYNC_SIG_HEX_LEN + 1];
        uint64_t replays = sync_refused_count(SYNC_R_REPLAY);
        snprintf(tsbuf, sizeof(tsbuf), "%lld", now + 3);
        sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, tsbuf, "mx2",
                  body, strlen(body), sig);
        assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", tsbuf, sig, body,
                                     strlen(body), now + 4, &reply), 409);
        assert_non_null(strstr(reply, "\"replay\""));
        reply = xfree(reply);
        assert_true(sync_refused_count(SYNC_R_REPLAY) == replays + 1);
        /* a bad signature: 401, nothing merged */
        sig[0] = sig[0] == 'a' ? 'b' : 'a';
        assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", tsbuf, sig, body,
                                     strlen(body), now + 4, &reply), 401);
        reply = xfree(reply);
    }
    xfree(body);

    /* request-level refusals and their codes */
    assert_int_equal(rx_post(x, "mx2", now - 1000, now, "{\"entries\":[]}", &reply), 409);
    reply = xfree(reply);
    assert_int_equal(rx_post(x, "mx9", now, now, "{\"entries\":[]}", &reply), 403);
    reply = xfree(reply);
    assert_int_equal(rx_post(x, "mx2", now + 5, now + 5, "{\"entries\":", &reply), 400);
    reply = xfree(reply);
    assert_int_equal(rx_post(x, "mx2", now + 6, now + 6, "{\"entries\":[],\"x\":0}", &reply), 422);
    assert_non_null(strstr(reply, "\"error\""));
    reply = xfree(reply);
    assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", NULL, NULL, "", 0, now, &reply), 400);
    reply = xfree(reply);
}

/* Entries the home server must not take are refused one by one and counted. */
static void test_handle_refused_entries(void **state)
{
    struct rx *x = *state;
    long long now = 1764325200;
    char other[MAILID_ID_LEN + 1] = "", *reply = NULL, *body;
    struct store_rcpt e;
    struct {
        const char *what, *id, *sender, *rcpt;
        enum sync_reason why;
    } cases[] = {
        { "recipient never recorded", x->id, "alice@a.example", "carol@c.example", SYNC_R_UNKNOWN_RECIPIENT },
        { "recipient local to the home server", x->id, "alice@a.example", "dave@a.example", SYNC_R_WRONG_PEER },
        { "recipient of another peer", x->id, "alice@a.example", "erin@d.example", SYNC_R_WRONG_PEER },
        { "recipient outside the system", x->id, "alice@a.example", "eve@evil.example", SYNC_R_WRONG_PEER },
        { "sender not hosted here", x->id, "bob@c.example", "carol@c.example", SYNC_R_FOREIGN_SENDER },
        { "sender outside the system", x->id, "eve@evil.example", "bob@c.example", SYNC_R_FOREIGN_SENDER },
        { "unknown mail", other, "alice@a.example", "bob@c.example", SYNC_R_UNKNOWN_MAIL },
        { "sender differs from the mail's", x->id, "mallory@a.example", "bob@c.example", SYNC_R_SENDER_MISMATCH },
    };

    assert_int_equal(mailid_generate(0, other), MAILID_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t before = sync_refused_count(cases[i].why);
        body = rx_body(cases[i].id, cases[i].sender, cases[i].rcpt, 5000, 5000, 1);
        if (rx_post(x, "mx2", now + (long long)i, now, body, &reply) != 200 ||
            strcmp(reply, "{\"merged\":0,\"refused\":1}") != 0)
            fail_msg("%s: %s", cases[i].what, reply ? reply : "(no reply)");
        if (sync_refused_count(cases[i].why) != before + 1)
            fail_msg("%s: not counted as %s", cases[i].what, sync_reason_name(cases[i].why));
        reply = xfree(reply);
        xfree(body);
    }
    /* nothing changed for the recorded recipients */
    e = fx_entry(x->st, x->id, "bob@c.example");
    assert_int_equal(e.status, STORE_SENT);
    e = fx_entry(x->st, x->id, "dave@a.example");
    assert_int_equal(e.status, STORE_SENT);
    /* a refused entry does not spoil the good one in the same batch */
    body = xasprintf("{\"entries\":[{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\","
                     "\"recipient\":\"carol@c.example\",\"status\":\"read\",\"first_read\":1,"
                     "\"last_read\":1,\"read_count\":1,\"via\":\"imap\"},"
                     "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\","
                     "\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1,"
                     "\"last_read\":1,\"read_count\":1,\"via\":\"imap\"}]}", x->id, x->id);
    assert_int_equal(rx_post(x, "mx2", now + 100, now, body, &reply), 200);
    assert_string_equal(reply, "{\"merged\":1,\"refused\":1}");
    reply = xfree(reply);
    xfree(body);
    e = fx_entry(x->st, x->id, "bob@c.example");
    assert_int_equal(e.status, STORE_READ);
}

/* A batch bigger than the worker count: every entry merged or refused
   exactly once, whatever thread took it. */
static void test_handle_large_batch(void **state)
{
    struct rx *x = *state;
    static const char *const rcpts[] = { "bob@c.example" };
    static const char *const servers[] = { "mx2" };
    char ids[40][MAILID_ID_LEN + 1], *reply = NULL;
    size_t len = 0, cap = 50 * 300;
    char *body = xmalloc(cap);
    uint64_t norcpt = sync_refused_count(SYNC_R_UNKNOWN_RECIPIENT);

    len += (size_t)snprintf(body, cap, "{\"entries\":[");
    for (int i = 0; i < 40; i++) {
        ids[i][0] = '\0';
        fx_mail(x->st, "alice@a.example", ids[i], rcpts, servers, 1);
        len += (size_t)snprintf(body + len, cap - len,
            "%s{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":"
            "\"bob@c.example\",\"status\":\"read\",\"first_read\":%d,\"last_read\":%d,"
            "\"read_count\":%d,\"via\":\"imap\"}", i ? "," : "", ids[i], 1000 + i,
            2000 + i, 1 + i % 3);
        if (i % 4 == 0)     /* and one for a recipient never recorded */
            len += (size_t)snprintf(body + len, cap - len,
                ",{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":"
                "\"carol@c.example\",\"status\":\"read\",\"first_read\":1,\"last_read\":1,"
                "\"read_count\":1,\"via\":\"imap\"}", ids[i]);
    }
    snprintf(body + len, cap - len, "]}");
    assert_int_equal(rx_post(x, "mx2", 1764325200, 1764325200, body, &reply), 200);
    assert_string_equal(reply, "{\"merged\":40,\"refused\":10}");
    assert_true(sync_refused_count(SYNC_R_UNKNOWN_RECIPIENT) - norcpt == 10);
    for (int i = 0; i < 40; i++) {
        struct store_rcpt e = fx_entry(x->st, ids[i], "bob@c.example");
        assert_int_equal(e.status, STORE_READ);
        assert_true(e.first_read_ms == (uint64_t)(1000 + i));
        assert_true(e.last_read_ms == (uint64_t)(2000 + i));
        assert_int_equal(e.read_count, 1 + i % 3);
        assert_int_equal(fx_entry(x->st, ids[i], "carol@c.example").status, -1);
    }
    xfree(reply);
    xfree(body);
}

/* The home server's own opt-out list and tracking switch hold for synced
   reads too, whatever the peer's config says. */
static void test_handle_privacy(void **state)
{
    struct rx *x = *state;
    static const char *const rcpts[] = { "bob@c.example", "carol@c.example" };
    static const char *const servers[] = { "mx2", "mx2" };
    const char *extras[] = { "opt_out = carol@c.example", "tracking = no" };
    const enum sync_reason why[] = { SYNC_R_OPT_OUT, SYNC_R_TRACKING_OFF };

    for (int k = 0; k < 2; k++) {
        struct conf *c = fx_conf_ex("mx1", x->key, "http://127.0.0.1:1",
                                    "http://127.0.0.1:2", extras[k]);
        sync_receiver_t *r = sync_receiver_new(c, x->st, 0);
        char id[MAILID_ID_LEN + 1] = "", *body, *reply = NULL, ts[24];
        char sig[SYNC_SIG_HEX_LEN + 1];
        uint64_t before = sync_refused_count(why[k]);

        fx_mail(x->st, "alice@a.example", id, rcpts, servers, 2);
        body = rx_body(id, "alice@a.example", "carol@c.example", 5000, 5000, 1);
        snprintf(ts, sizeof(ts), "%d", 1764325200 + k);
        sync_sign(c->key_sync, sizeof(c->key_sync), "POST", SYNC_PATH, ts, "mx2", body, strlen(body), sig);
        assert_int_equal(sync_handle(r, "POST", SYNC_PATH, "mx2", ts, sig, body,
                                     strlen(body), 1764325200, &reply), 200);
        assert_string_equal(reply, "{\"merged\":0,\"refused\":1}");
        assert_true(sync_refused_count(why[k]) == before + 1);
        assert_int_equal(fx_entry(x->st, id, "carol@c.example").status, STORE_SENT);
        xfree(reply);
        xfree(body);
        sync_receiver_free(r);
        conf_unref(c);
    }
}

/*
 * SIGHUP: an opt-out added by a reload holds for syncs from then on (the
 * receiver kept its start-up config before, so a reloaded opt-out let the
 * peers' reads through).  A key rotated by a reload verifies new
 * signatures, and the old key is refused.
 */
static void test_reload_conf(void **state)
{
    struct rx *x = *state;
    static const char *const rcpts[] = { "carol@c.example" };
    static const char *const servers[] = { "mx2" };
    struct conf *c = fx_conf_ex("mx1", x->key, "http://127.0.0.1:1", "http://127.0.0.1:2",
                                "opt_out = carol@c.example");
    char *key2 = fx_key(x->dir, "system2.key", 'n');
    struct conf *c2 = fx_conf("mx1", key2, "http://127.0.0.1:1", "http://127.0.0.1:2");
    char id[MAILID_ID_LEN + 1] = "", *body, *reply = NULL, sig[SYNC_SIG_HEX_LEN + 1];

    fx_mail(x->st, "alice@a.example", id, rcpts, servers, 1);
    body = rx_body(id, "alice@a.example", "carol@c.example", 5000, 5000, 1);
    sync_receiver_set_conf(x->r, c);
    conf_unref(c);                 /* the receiver holds its own reference */
    sync_sign(x->conf->key_sync, sizeof(x->conf->key_sync), "POST", SYNC_PATH, "1764325200", "mx2", body,
              strlen(body), sig);
    assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", "1764325200", sig, body,
                                 strlen(body), 1764325200, &reply), 200);
    assert_string_equal(reply, "{\"merged\":0,\"refused\":1}");
    assert_int_equal(fx_entry(x->st, id, "carol@c.example").status, STORE_SENT);
    xfree(reply);

    /* a new key: the old one no longer verifies, the new one does */
    sync_receiver_set_conf(x->r, c2);
    assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", "1764325201", sig, body,
                                 strlen(body), 1764325200, &reply), 401);
    xfree(reply);
    sync_sign(c2->key_sync, sizeof(c2->key_sync), "POST", SYNC_PATH, "1764325201", "mx2", body,
              strlen(body), sig);
    assert_int_equal(sync_handle(x->r, "POST", SYNC_PATH, "mx2", "1764325201", sig, body,
                                 strlen(body), 1764325200, &reply), 200);
    assert_string_equal(reply, "{\"merged\":1,\"refused\":0}");
    assert_int_equal(fx_entry(x->st, id, "carol@c.example").status, STORE_READ);
    xfree(reply);
    xfree(body);
    conf_unref(c2);
    xfree(key2);
}

/* Where a read of a sender's mail must go. */
static void test_home_peer(void **state)
{
    struct rx *x = *state;
    const msys_t *ms = x->conf->msys;

    assert_null(sync_home_peer(ms, "alice@a.example"));         /* this server */
    assert_string_equal(sync_home_peer(ms, "bob@c.example"), "mx2");
    assert_string_equal(sync_home_peer(ms, "erin@d.example"), "mx3");
    assert_null(sync_home_peer(ms, "eve@evil.example"));        /* outside */
    assert_null(sync_home_peer(ms, "nodomain"));
}

/* The metrics text names every reason. */
static void test_metrics_text(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    (void)state;
    sync_metrics_write(fp);
    fclose(fp);
    for (int i = 0; i < SYNC_R_COUNT; i++) {
        char *want = xasprintf("mailstate_sync_refused_total{reason=\"%s\"} ",
                               sync_reason_name((enum sync_reason)i));
        assert_non_null(strstr(buf, want));
        xfree(want);
    }
    assert_non_null(strstr(buf, "# TYPE mailstate_sync_refused_total counter"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_verify_table),
        cmocka_unit_test(test_timestamp_table),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_too_many),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test_setup_teardown(test_check_table, rx_setup, rx_teardown),
        cmocka_unit_test(test_check_refusal_table),
        cmocka_unit_test_setup_teardown(test_replay_memory_full, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_across_restart, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_handle_merge, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_handle_refused_entries, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_handle_large_batch, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_handle_privacy, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_reload_conf, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_home_peer, rx_setup, rx_teardown),
        cmocka_unit_test(test_metrics_text),
    };

    if (mailid_init() != MAILID_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
