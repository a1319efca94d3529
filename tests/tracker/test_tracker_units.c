/*
 * Unit tests of the tracker's pure modules: route (table of paths and
 * methods), render (RFC 3339 in and out), auth (tokens and scopes), and api
 * handlers called directly against a real store in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"
#include "auth.h"
#include "conf.h"
#include "jw.h"
#include "mailid.h"
#include "render.h"
#include "route.h"
#include "store.h"

/* ---- route -------------------------------------------------------------- */

static const struct {
    const char *method, *path;
    int         want;
    const char *arg;      /* expected path parameter, or NULL */
    const char *allow;    /* expected Allow for 405 */
} route_cases[] = {
    { "GET",    "/healthz",            ROUTE_HEALTHZ,   NULL, NULL },
    { "GET",    "/metrics",            ROUTE_METRICS,   NULL, NULL },
    { "POST",   "/v1/reads",           ROUTE_READS,     NULL, NULL },
    { "GET",    "/v1/mails",           ROUTE_MAILS,     NULL, NULL },
    { "GET",    "/v1/mails/ABC",       ROUTE_MAIL,      "ABC", NULL },
    { "POST",   "/v1/sync",            ROUTE_SYNC,      NULL, NULL },
    { "POST",   "/v1/erase",           ROUTE_ERASE,     NULL, NULL },
    { "GET",    "/v1/erase",           ROUTE_ENOMETHOD, NULL, "POST" },
    { "GET",    "/v1/reads",           ROUTE_ENOMETHOD, NULL, "POST" },   /* wrong method */
    { "HEAD",   "/healthz",            ROUTE_ENOMETHOD, NULL, "GET" },
    { "DELETE", "/v1/mails/ABC",       ROUTE_ENOMETHOD, NULL, "GET" },
    { "GET",    "/v1/mails/",          ROUTE_ENOTFOUND, NULL, NULL },     /* empty id */
    { "GET",    "/v1/mails/A/B",       ROUTE_ENOTFOUND, NULL, NULL },     /* extra segment */
    { "GET",    "/v1/reads/",          ROUTE_ENOTFOUND, NULL, NULL },     /* trailing slash */
    { "GET",    "/V1/MAILS",           ROUTE_ENOTFOUND, NULL, NULL },     /* case */
    { "GET",    "",                    ROUTE_ENOTFOUND, NULL, NULL },
    { "GET",    "/healthz/../metrics", ROUTE_ENOTFOUND, NULL, NULL },
    { NULL, NULL, 0, NULL, NULL }
};

static void test_route(void **state)
{
    (void)state;
    for (size_t i = 0; route_cases[i].method != NULL; i++) {
        const char *arg, *allow;
        size_t len;
        int got = route_match(route_cases[i].method, route_cases[i].path, &arg, &len, &allow);
        assert_int_equal(got, route_cases[i].want);
        if (route_cases[i].arg != NULL) {
            assert_int_equal(len, strlen(route_cases[i].arg));
            assert_memory_equal(arg, route_cases[i].arg, len);
        }
        if (route_cases[i].allow != NULL)
            assert_string_equal(allow, route_cases[i].allow);
    }
    assert_true(route_is_write(ROUTE_READS));
    assert_false(route_is_write(ROUTE_MAIL));
    assert_string_equal(route_name(ROUTE_ENOTFOUND), "other");
}

/* ---- render -------------------------------------------------------------- */

static const struct {
    const char *in;
    int         ok;
    uint64_t    ms;
} time_cases[] = {
    { "1970-01-01T00:00:00Z",          1, 0 },
    { "2026-11-28T10:00:00.123Z",      1, 1795860000123ULL },
    { "2026-11-28t10:00:00.123z",      1, 1795860000123ULL },   /* lower case */
    { "2026-11-28 10:00:00.1234567Z",  1, 1795860000123ULL },   /* space, long fraction */
    { "2026-11-28T11:30:00.5+01:30",   1, 1795860000500ULL },   /* offset */
    { "2026-11-28T08:00:00-02:00",     1, 1795860000000ULL },
    { "2024-02-29T00:00:00Z",          1, 1709164800000ULL },   /* leap day */
    { "2026-02-29T00:00:00Z",          0, 0 },                  /* not a leap year */
    { "2026-11-28T10:00:60Z",          0, 0 },                  /* leap second */
    { "2026-11-28T24:00:00Z",          0, 0 },
    { "2026-13-01T00:00:00Z",          0, 0 },
    { "2026-11-28T10:00:00",           0, 0 },                  /* no zone */
    { "2026-11-28T10:00:00.Z",         0, 0 },                  /* empty fraction */
    { "2026-11-28T10:00:00Zjunk",      0, 0 },
    { "1969-12-31T23:59:59Z",          0, 0 },                  /* before the epoch */
    { "26-11-28T10:00:00Z",            0, 0 },
    { "",                              0, 0 },
    { NULL, 0, 0 }
};

static void test_render_time(void **state)
{
    char buf[RENDER_TIME_LEN + 1];

    (void)state;
    for (size_t i = 0; time_cases[i].in != NULL; i++) {
        uint64_t ms = 0;
        int rc = render_parse_time(time_cases[i].in, &ms);
        if (time_cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_true(ms == time_cases[i].ms);
        } else {
            assert_int_equal(rc, -1);
        }
    }
    render_time(1795860000123ULL, buf);
    assert_string_equal(buf, "2026-11-28T10:00:00.123Z");
    render_time(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    /* Formatting and parsing agree across leap years and month ends. */
    for (uint64_t ms = 0; ms < 5000ULL * 86400000ULL * 7; ms += 86400000ULL * 7 + 3600123ULL) {
        uint64_t back;
        render_time(ms, buf);
        assert_int_equal(render_parse_time(buf, &back), 0);
        assert_true(back == ms);
    }
    render_time(951782400000ULL, buf);          /* 2000 is a leap year */
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
}

/* ---- jw: every string comes out as valid JSON with the same text ---------- */

static const struct {
    const char *in;
    const char *want;   /* the string jansson reads back */
} jw_cases[] = {
    { "plain", "plain" },
    { "quote\" backslash\\ slash/", "quote\" backslash\\ slash/" },
    { "ctl\x01\x1f\n\r\t", "ctl\x01\x1f\n\r\t" },            /* control bytes escaped */
    { "b\xc3\xbc" "cher \xe2\x82\xac \xf0\x9f\x93\xa7", "b\xc3\xbc" "cher \xe2\x82\xac \xf0\x9f\x93\xa7" },
    { "bad\xff\xfe", "bad??" },                         /* not UTF-8 */
    { "cut\xe2\x82", "cut??" },                          /* truncated sequence */
    { "over\xc0\xaf", "over??" },                        /* overlong '/' */
    { "sur\xed\xa0\x80", "sur???" },                    /* UTF-16 surrogate */
    { "", "" },
    { NULL, NULL }
};

static void test_jw(void **state)
{
    (void)state;
    for (size_t i = 0; jw_cases[i].in != NULL; i++) {
        struct jw w;
        size_t len;
        jw_init(&w, 4);
        jw_obj_open(&w);
        jw_key(&w, "s");
        jw_str(&w, jw_cases[i].in);
        jw_key(&w, "n");
        jw_int(&w, -42);
        jw_key(&w, "a");
        jw_arr_open(&w);
        jw_bool(&w, 1);
        jw_null(&w);
        jw_obj_open(&w);
        jw_obj_close(&w);
        jw_arr_close(&w);
        jw_obj_close(&w);
        char *text = jw_finish(&w, &len);
        json_error_t e;
        json_t *j = json_loadb(text, len, 0, &e);
        if (j == NULL)
            fail_msg("case %zu: %s: %s", i, text, e.text);
        assert_string_equal(json_string_value(json_object_get(j, "s")), jw_cases[i].want);
        assert_int_equal(json_integer_value(json_object_get(j, "n")), -42);
        assert_int_equal(json_array_size(json_object_get(j, "a")), 3);
        json_decref(j);
        free(text);
    }
}

/* Integers at the edges, and a string that escapes to 6x its length (the
 * writer reserves the worst case at once: ASan sees any overrun). */
static void test_jw_edges(void **state)
{
    static const long long ints[] = { 0, 7, -1, 10, 1234567890123LL, LLONG_MAX, LLONG_MIN };
    char ctl[1000];
    (void)state;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        struct jw w;
        size_t len;
        char want[32];
        jw_init(&w, 1);
        jw_int(&w, ints[i]);
        char *text = jw_finish(&w, &len);
        snprintf(want, sizeof want, "%lld", ints[i]);
        assert_string_equal(text, want);
        assert_int_equal(len, strlen(want));
        free(text);
    }
    memset(ctl, 0x01, sizeof ctl);
    {
        struct jw w;
        size_t len;
        json_error_t e;
        jw_init(&w, 1);
        jw_strn(&w, ctl, sizeof ctl);
        char *text = jw_finish(&w, &len);
        assert_int_equal(len, 6 * sizeof ctl + 2);
        json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        assert_non_null(j);
        assert_int_equal(json_string_length(j), sizeof ctl);
        assert_memory_equal(json_string_value(j), ctl, sizeof ctl);
        json_decref(j);
        free(text);
    }
}

/* ---- a config and a store for auth and api ----------------------------------- */

struct fixture {
    char          dir[256];
    struct conf  *conf;
    store_t      *store;
    struct api_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *base = getenv("MAILSTATE_TEST_TMP");
    char path[512], *errors = NULL, *text;
    FILE *fp;

    assert_non_null(f);
    assert_int_equal(mailid_init(), MAILID_OK);
    if (base == NULL)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(f->dir, sizeof f->dir, "%s/tracker-units.XXXXXX", base);
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/system.key", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("0123456789abcdef0123456789abcdef", fp);
    fclose(fp);
    chmod(path, 0600);
    text = NULL;
    assert_true(asprintf(&text,
        "[system]\nthis_server = mx1\nkey_file = %s\nopt_out = carol@a.example\n"
        "[server mx1]\ndomains = a.example\ntracker = http://127.0.0.1:1\n"
        "[server mx2]\ndomains = c.example\ntracker = http://127.0.0.2:1\n"
        "[store]\npath = %s/store\n"
        "[token n]\nsecret = notify-secret-0123456\nscopes = notify\n"
        "[token q]\nsecret = query-secret-0123456\nscopes = query\n", path, f->dir) > 0);
    f->conf = conf_load_string(text, "units.conf", 0, &errors);
    if (f->conf == NULL)
        fail_msg("config: %s", errors ? errors : "?");
    free(errors);
    free(text);
    struct store_opts so = { .path = f->conf->store_path };
    char err[256];
    assert_int_equal(store_open(&so, &f->store, err, sizeof err), STORE_OK);
    f->ctx.conf = f->conf;
    f->ctx.store = f->store;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[600];

    store_close(f->store);
    conf_unref(f->conf);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static void test_auth(void **state)
{
    struct fixture *f = *state;
    const struct conf_token *t;

    assert_int_equal(auth_check(f->conf, "Bearer notify-secret-0123456", CONF_SCOPE_NOTIFY, &t), AUTH_OK);
    assert_string_equal(t->name, "n");
    assert_int_equal(auth_check(f->conf, "bearer   notify-secret-0123456 ", CONF_SCOPE_NOTIFY, &t), AUTH_OK);
    assert_int_equal(auth_check(f->conf, NULL, CONF_SCOPE_NOTIFY, &t), AUTH_EMISSING);
    assert_int_equal(auth_check(f->conf, "Basic bm90aWZ5", CONF_SCOPE_NOTIFY, &t), AUTH_EMISSING);
    assert_int_equal(auth_check(f->conf, "Bearer ", CONF_SCOPE_NOTIFY, &t), AUTH_EMISSING);
    assert_int_equal(auth_check(f->conf, "Bearer notify-secret-012345T", CONF_SCOPE_NOTIFY, &t), AUTH_EBAD);
    assert_int_equal(auth_check(f->conf, "Bearer notify-secret-012345", CONF_SCOPE_NOTIFY, &t), AUTH_EBAD);
    assert_int_equal(auth_check(f->conf, "Bearer query-secret-0123456", CONF_SCOPE_NOTIFY, &t), AUTH_ESCOPE);
    assert_int_equal(auth_route_scopes(ROUTE_READS), CONF_SCOPE_NOTIFY);
    assert_int_equal(auth_route_scopes(ROUTE_MAILS), CONF_SCOPE_QUERY);
    assert_int_equal(auth_route_scopes(ROUTE_HEALTHZ), 0);
}

/* Record a mail from sender to rcpt; returns its ID.TAG in value. */
static void put_mail(struct fixture *f, const char *sender, const char *rcpt,
                     char value[MAILID_VALUE_LEN + 1])
{
    struct store_mail m;
    struct store_rcpt r;
    char sbuf[128], rbuf[128], server[] = "mx1";

    snprintf(sbuf, sizeof sbuf, "%s", sender);
    snprintf(rbuf, sizeof rbuf, "%s", rcpt);

    /* created 2026-11-28T08:00:00Z, two hours before the requests' "now" */
    assert_int_equal(mailid_make(f->conf->key_mailid, sizeof(f->conf->key_mailid), sender,
                                 1795852800000ULL, value), MAILID_OK);
    memset(&m, 0, sizeof m);
    memcpy(m.id, value, MAILID_ID_LEN);
    m.sender = sbuf;
    m.created_ms = mailid_time_ms(m.id);
    m.n_rcpt = 1;
    memset(&r, 0, sizeof r);
    r.address = rbuf;
    r.server = server;
    assert_int_equal(store_put_sent(f->store, &m, &r, 1), STORE_OK);
}

/* POST /v1/reads with body; returns the parsed response (caller decrefs). */
static json_t *post_read(struct fixture *f, const char *body, unsigned want)
{
    struct api_req req = { .route = ROUTE_READS, .body = body, .body_len = strlen(body),
                           .now_ms = 1795860000000ULL };
    struct api_resp resp = { 0 };
    json_t *j;

    api_handle(&f->ctx, &req, &resp);
    if (resp.status != want)
        fail_msg("status %u, want %u: %s", resp.status, want, resp.body);
    j = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_non_null(j);
    api_resp_clear(&resp);
    return j;
}

static void test_api_reads(void **state)
{
    struct fixture *f = *state;
    char v[MAILID_VALUE_LEN + 1], body[512];
    json_t *j;

    put_mail(f, "alice@a.example", "bob@a.example", v);
    snprintf(body, sizeof body,
             "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\","
             "\"time\":\"2026-11-28T09:00:00Z\"}", v);
    j = post_read(f, body, 200);
    assert_true(json_is_true(json_object_get(j, "recorded")));
    json_t *r = json_object_get(j, "recipient");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "read");
    assert_string_equal(json_string_value(json_object_get(r, "first_read")),
                        "2026-11-28T09:00:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(r, "read_count")), 1);
    json_decref(j);

    /* Each bad body and its error code. */
    static const struct { const char *fmt; unsigned status; const char *error; } bad[] = {
        { "{\"mail_id\":\"%s\",\"sender\":\"mallory@a.example\",\"recipient\":\"bob@a.example\"}",
          403, "bad_mac" },                                 /* MAC of another sender */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\"}", 400, "bad_field" },  /* missing */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":7}", 400, "bad_field" },
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\",\"x\":1}",
          400, "bad_field" },                               /* unknown field */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"b\\u0000b@a.example\"}",
          400, "bad_json" },                                /* embedded NUL: refused by the parser */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"zed@a.example\"}",
          404, "recipient_not_found" },
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\","
          "\"time\":\"2026-11-28T10:06:00Z\"}", 400, "bad_time" },   /* 6 min ahead of now */
        /* attack: a backdated read, before the mail existed (issue 14) */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\","
          "\"time\":\"2026-11-28T07:50:00Z\"}", 400, "bad_time" },   /* 10 min before the mail */
        /* attack: a read for a recipient another server hosts (issue 14) */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"eve@c.example\"}",
          422, "not_local" },
        /* and for one outside the system */
        { "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"x@ext.example\"}",
          422, "not_local" },
        { "{\"mail_id\":\"%.26s\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\"}",
          400, "bad_mail_id" },                             /* id without tag */
        { "[\"%s\"]", 400, "bad_json" },
        { "{\"mail_id\":\"%s\"", 400, "bad_json" },
        { NULL, 0, NULL }
    };
    for (size_t i = 0; bad[i].fmt != NULL; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(body, sizeof body, bad[i].fmt, v);
#pragma GCC diagnostic pop
        j = post_read(f, body, bad[i].status);
        assert_string_equal(json_string_value(json_object_get(j, "error")), bad[i].error);
        json_decref(j);
    }

    /* Opt-out: acknowledged, not recorded. */
    put_mail(f, "alice@a.example", "carol@a.example", v);
    snprintf(body, sizeof body,
             "{\"mail_id\":\"%s\",\"sender\":\"alice@a.example\",\"recipient\":\"carol@a.example\"}", v);
    j = post_read(f, body, 200);
    assert_true(json_is_false(json_object_get(j, "recorded")));
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "opt_out");
    json_decref(j);
}

static void test_api_unregistered_sync(void **state)
{
    struct fixture *f = *state;
    struct api_req req = { .route = ROUTE_SYNC };
    struct api_resp resp = { 0 };

    api_handle(&f->ctx, &req, &resp);
    assert_int_equal(resp.status, 404);
    api_resp_clear(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_render_time),
        cmocka_unit_test(test_jw),
        cmocka_unit_test(test_jw_edges),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_unregistered_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
