/*
 * test_log - the log module: levels, context prefix, sanitising, parsing.
 * Output goes to stderr (captured into a pipe here) so lines can be checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Run fn with stderr redirected into buf. */
static void capture(void (*fn)(void), char *buf, size_t len)
{
    int fds[2], saved;
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fds[1], 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, len - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
}

static void emit_levels(void)
{
    log_set_level(LOG_LEVEL_WARN);
    log_info("hidden info");
    log_warn("shown warning %d", 42);
    log_set_level(LOG_LEVEL_INFO);
}

static void test_level_filter(void **state)
{
    char buf[4096];
    (void)state;
    capture(emit_levels, buf, sizeof(buf));
    assert_null(strstr(buf, "hidden info"));
    assert_non_null(strstr(buf, "warning: shown warning 42"));
}

static void emit_context(void)
{
    log_context("milter %s", "4F2A1C3");
    log_info("tagged");
    log_context(NULL);
    log_info("plain");
}

static void test_context_prefix(void **state)
{
    char buf[4096];
    (void)state;
    capture(emit_context, buf, sizeof(buf));
    assert_non_null(strstr(buf, "info: milter 4F2A1C3: tagged\n"));
    assert_non_null(strstr(buf, "info: plain\n"));
}

static void emit_crlf(void)
{
    /* bad input: a hostile value with CR/LF tries to forge a second line */
    log_warn("sender %s", "evil\r\nfake: line");
}

static void test_crlf_cannot_forge_lines(void **state)
{
    char buf[4096];
    (void)state;
    capture(emit_crlf, buf, sizeof(buf));
    assert_non_null(strstr(buf, "sender evil??fake: line\n"));
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

/* Bad input: levels outside the enum (a cast int from a caller's bug). */
static void emit_bad_levels(void)
{
    log_msg((enum log_level)-3, 0, "below error");
    log_msg((enum log_level)1000, 0, "above debug");
    log_set_level((enum log_level)-1);
    log_warn("hidden by error level");
    log_set_level(LOG_LEVEL_INFO);
}

static void emit_errno(void)
{
    errno = ENOENT;
    log_warn_errno("open %s", "/nonexistent");
    errno = 4242;                       /* not a known errno */
    log_error_errno("odd");
}

static void test_errno_text(void **state)
{
    char buf[4096];
    (void)state;
    capture(emit_errno, buf, sizeof(buf));
    assert_non_null(strstr(buf, "warning: open /nonexistent: No such file or directory\n"));
    assert_non_null(strstr(buf, "error: odd: Unknown error 4242\n"));
}

static void test_out_of_range_levels(void **state)
{
    char buf[4096];
    (void)state;
    capture(emit_bad_levels, buf, sizeof(buf));
    assert_non_null(strstr(buf, "error: below error"));
    assert_null(strstr(buf, "above debug"));        /* debug: below info */
    assert_null(strstr(buf, "hidden by error level"));
    assert_int_equal(log_get_level(), LOG_LEVEL_INFO);
}

static void test_level_parse(void **state)
{
    static const struct { const char *in; int out; } cases[] = {
        { "error", LOG_LEVEL_ERROR }, { "WARN", LOG_LEVEL_WARN },
        { "warning", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },
        { "debug", LOG_LEVEL_DEBUG }, { "verbose", -1 }, { "", -1 }, { NULL, 0 },
    };
    (void)state;
    for (size_t i = 0; cases[i].in != NULL; i++)
        assert_int_equal(log_level_parse(cases[i].in), cases[i].out);
    assert_int_equal(log_level_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_context_prefix),
        cmocka_unit_test(test_crlf_cannot_forge_lines),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_out_of_range_levels),
        cmocka_unit_test(test_errno_text),
    };
    log_open("test_log", 1, LOG_LEVEL_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
