/*
 * test_conf_sample - the conf key table and the sample config: every row
 * documented and in the sample, packaging/mailstate.conf equal to
 * conf_write_sample(), the sample parsing back to the defaults, and damaged
 * configs failing cleanly.  "test_conf_sample --sample" prints the sample
 * (to regenerate packaging/mailstate.conf).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_priv.h"
#include "log.h"
#include "paths.h"

#include "conf_defaults.h"

/* ---- the table and the sample ------------------------------------------- */

static char *sample_text(size_t *len)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, len);
    assert_non_null(fp);
    conf_write_sample(fp);
    fclose(fp);
    return buf;
}

static void test_table(void **state)
{
    static const char *const fields[] = {
        "this_server", "key_file", "tracking", "record_subject", "retention", "opt_out",
        "header_mail_id", "header_sender", "trusted_networks",
        "socket", "on_error", "socket_mode", "user", "pid_file", "timeout",
        "listen", "threads", "max_body", "max_header", "max_url", "max_connections",
        "idle_timeout", "sync_window", "path", "map_size", "map_size_max", "level",
        "domains", "tracker", "secret", "secret_file", "scopes", NULL,
    };
    size_t len;
    char *sample = sample_text(&len);
    (void)state;

    assert_true(conf_n_keys <= CONF_N_KEYS_MAX);
    for (size_t i = 0; i < conf_n_keys; i++) {
        const struct conf_key *k = &conf_keys[i];
        char line[200];
        assert_non_null(k->doc);
        assert_true(strlen(k->doc) > 10);
        assert_non_null(k->def);
        assert_ptr_equal(conf_key_find(k->section, k->name), k);  /* no duplicate rows */
        snprintf(line, sizeof(line), "\n#%s =", k->name);
        if (strstr(sample, line) == NULL)
            fail_msg("[%s] %s missing from the sample", k->section, k->name);
        snprintf(line, sizeof(line), "# %s\n#%s =", k->doc, k->name);
        if (strstr(sample, line) == NULL)
            fail_msg("[%s] %s: doc line missing from the sample", k->section, k->name);
    }
    for (size_t i = 0; fields[i]; i++) {
        int found = 0;
        for (size_t j = 0; j < conf_n_keys; j++)
            found |= strcmp(conf_keys[j].name, fields[i]) == 0;
        if (!found)
            fail_msg("no row for %s", fields[i]);
    }
    free(sample);
}

/* packaging/mailstate.conf must be exactly what conf_write_sample prints. */
static void test_sample_matches_packaging(void **state)
{
    const char *path = MAILSTATE_SOURCE_DIR "/packaging/mailstate.conf";
    size_t len, flen;
    char *sample = sample_text(&len);
    char *file;
    FILE *fp = fopen(path, "r");
    (void)state;

    if (fp == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    file = malloc(len + 2);
    flen = fread(file, 1, len + 1, fp);
    fclose(fp);
    if (flen != len || memcmp(file, sample, len) != 0)
        fail_msg("%s differs from conf_write_sample(); regenerate it with: "
                 "test_conf_sample --sample > packaging/mailstate.conf", path);
    free(file);
    free(sample);
}

/*
 * The sample parses as is (all commented out), and with every key of the
 * fixed sections uncommented it gives exactly the defaults.
 */
static void test_sample_parses_back(void **state)
{
    size_t len;
    char *sample = sample_text(&len);
    char *copy = malloc(len + 1), *out = malloc(len + 1), *line, *save = NULL;
    char *errors = NULL;
    struct conf *c;
    size_t o = 0;
    int in_examples = 0, uncommented = 0, in_webhook = 0;
    (void)state;

    c = conf_load_string(sample, "sample", CONF_NO_KEY, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    check_defaults(c);
    conf_unref(c);

    memcpy(copy, sample, len + 1);
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# One [server", 13) == 0)
            in_examples = 1;
        if (!in_examples && line[0] == '#' && line[1] >= 'a' && line[1] <= 'z') {
            line++;
            uncommented++;
        }
        o += (size_t)sprintf(out + o, "%s\n", line);
    }
    /* all but [server]/[token]/[webhook] */
    assert_int_equal(uncommented, (int)conf_n_keys - 8);
    c = conf_load_string(out, "sample-uncommented", CONF_NO_KEY, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    check_defaults(c);
    conf_unref(c);

    /* and the examples, uncommented too, describe a working two-server system */
    o = 0;
    memcpy(copy, sample, len + 1);
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "#[", 2) == 0 || (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z'))
            line++;
        if (line[0] == '[')
            in_webhook = strncmp(line, "[webhook ", 9) == 0;
        if (strncmp(line, "secret =", 8) == 0)
            continue;                       /* the alternative to secret_file */
        if (strncmp(line, "secret_file =", 13) == 0 && !in_webhook)
            line = (char *)"secret = change-me-to-a-long-random-string";
        if (strncmp(line, "this_server =", 13) == 0)
            line = (char *)"this_server = mx1";
        o += (size_t)sprintf(out + o, "%s\n", line);
    }
    c = conf_load_string(out, "sample-examples", CONF_NO_KEY, &errors);
    if (c == NULL)
        fail_msg("%s", errors);
    assert_int_equal(msys_server_count(c->msys), 2);
    assert_int_equal(msys_judge_recipient(c->msys, "a@x.dept.a.example", NULL), MSYS_LOCAL);
    assert_int_equal(msys_judge_recipient(c->msys, "a@c.example", NULL), MSYS_SYSTEM);
    assert_int_equal(c->n_tokens, 1);
    /* the sample token notifies only: no sample token has notify and query */
    assert_int_equal(c->tokens[0].scopes, CONF_SCOPE_NOTIFY);
    assert_int_equal(c->n_webhooks, 1);     /* issue 17's example */
    assert_int_equal(c->webhooks[0].events,
                     CONF_EV_READ | CONF_EV_RECEIVED | CONF_EV_DELETED_UNREAD);
    conf_unref(c);
    free(copy);
    free(out);
    free(sample);
}

static uint32_t rnd_state = 88172645u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/*
 * Bad input: 2,000 damaged copies of a full config (bytes dropped, changed,
 * pieces of INI syntax inserted).  Each either loads or fails with messages
 * that all have the "NAME:LINE: " form and a line inside the text.
 */
static void test_mutated_files(void **state)
{
    static const char base[] =
        "[system]\nthis_server = mx1\ntrusted_networks = 127.0.0.0/8 ::1\n"
        "opt_out = carol@a.example \"x y\"@a.example\n  dave@a.example\nretention = 3d\n"
        "[server mx1]\ndomains = a.example .dept.a.example\ntracker = http://127.0.0.1:1\n"
        "[server mx2]\ndomains = c.example\n[milter]\nsocket = inet:1@127.0.0.1\n"
        "timeout = 10m\n[tracker]\nlisten = [::1]:2\nmax_body = 1M\n[store]\nmap_size = 1G\n"
        "[log]\nlevel = debug\n[token t]\nsecret = 0123456789abcdefgh\nscopes = query\n";
    static const char *const pieces[] = {
        "[", "]", "=", ";", "#", "\n", " ", "\t", ",", "\"", "[server x]\n", "[token y]\n",
        "\n  ", "k", "0", "\xc3\xbc", "\xff", "\r\n", "[system]\n", "domains = ",
    };
    char buf[sizeof(base) + 256];
    int loaded = 0;
    (void)state;

    for (int i = 0; i < 2000; i++) {
        size_t len = sizeof(base) - 1, lines = 1;
        char *errors = NULL;
        struct conf *c;

        memcpy(buf, base, len);
        for (size_t m = 0, muts = 1 + rnd() % 3; m < muts; m++) {
            size_t at = rnd() % len;
            const char *piece = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = strlen(piece);
            switch (rnd() % 3) {
            case 0:
                if (len + pl < sizeof(buf) - 1) {
                    memmove(buf + at + pl, buf + at, len - at);
                    memcpy(buf + at, piece, pl);
                    len += pl;
                }
                break;
            case 1:
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default:
                buf[at] = (char)(1 + rnd() % 255);   /* a string cannot hold NUL */
            }
        }
        buf[len] = '\0';
        for (size_t k = 0; k < len; k++)
            lines += buf[k] == '\n';
        c = conf_load_string(buf, "m", CONF_NO_KEY, &errors);
        if (c != NULL) {
            loaded++;
            assert_null(errors);
            conf_unref(c);
            continue;
        }
        assert_non_null(errors);
        assert_true(strlen(errors) > 0);
        for (const char *p = errors; *p; p = strchr(p, '\n') + 1) {
            char *end;
            long line;
            if (strncmp(p, "m:", 2) != 0)
                fail_msg("bad message form: %s", p);
            line = strtol(p + 2, &end, 10);
            if (end == p + 2 || strncmp(end, ": ", 2) != 0 || line < 0 || (size_t)line > lines)
                fail_msg("bad line number in: %s", p);
            assert_non_null(strchr(p, '\n'));
        }
        free(errors);
    }
    print_message("%d of 2000 damaged files still loaded\n", loaded);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_sample_matches_packaging),
        cmocka_unit_test(test_sample_parses_back),
        cmocka_unit_test(test_mutated_files),
    };
    if (argc == 2 && strcmp(argv[1], "--sample") == 0) {
        conf_write_sample(stdout);       /* to regenerate packaging/mailstate.conf */
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
