/*
 * log - leveled logging to syslog or stderr; see log.h.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

/* Longest line we emit; longer messages are cut (a log line is not a data channel). */
#define LOG_LINE_MAX 2048

static int log_to_stderr = 1;   /* before log_open(): stderr */
static int log_syslog_open;
/* atomic: read by every thread, set on reload (a plain int is a data race) */
static _Atomic int log_level = LOG_LEVEL_INFO;
static const char *log_ident = "mailstate";
static _Thread_local char log_ctx[LOG_CONTEXT_MAX + 1];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = { "error", "warning", "info", "debug" };

/* Out-of-range levels (a cast int) are clamped: they index log_names[]. */
static int clamp_level(int level)
{
    return level < LOG_LEVEL_ERROR ? LOG_LEVEL_ERROR
         : level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level;
}

void log_open(const char *ident, int to_stderr, enum log_level level)
{
    log_ident = ident;
    log_to_stderr = to_stderr;
    log_level = clamp_level((int)level);
    if (!to_stderr) {
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
        log_syslog_open = 1;
    }
}

void log_close(void)
{
    if (log_syslog_open)
        closelog();
    log_syslog_open = 0;
    log_to_stderr = 1;
}

void log_set_level(enum log_level level)
{
    log_level = clamp_level((int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)log_level;
}

int log_level_parse(const char *name)
{
    static const struct { const char *name; int level; } names[] = {
        { "error", LOG_LEVEL_ERROR }, { "err", LOG_LEVEL_ERROR },
        { "warn", LOG_LEVEL_WARN }, { "warning", LOG_LEVEL_WARN },
        { "info", LOG_LEVEL_INFO }, { "debug", LOG_LEVEL_DEBUG },
    };
    for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].level;
    return -1;
}

void log_context(const char *fmt, ...)
{
    va_list ap;

    if (fmt == NULL) {
        log_ctx[0] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(log_ctx, sizeof(log_ctx), fmt, ap);
    va_end(ap);
}

/* Replace bytes that would break the one-line-per-call promise. */
static void log_sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    char line[LOG_LINE_MAX];
    int saved = errno;
    size_t n = 0;

    level = (enum log_level)clamp_level((int)level);
    if ((int)level > log_level)
        return;
    if (log_ctx[0] != '\0')
        n = (size_t)snprintf(line, sizeof(line), "%s: ", log_ctx);
    if (n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    n = strlen(line);
    if (with_errno && n < sizeof(line)) {
        /* strerror_r (GNU form, _GNU_SOURCE): strerror is not MT-safe */
        char ebuf[128];
        snprintf(line + n, sizeof(line) - n, ": %s", strerror_r(saved, ebuf, sizeof(ebuf)));
    }
    log_sanitize(line);

    if (log_to_stderr) {
        struct timespec ts;
        struct tm tm;
        char stamp[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        pthread_mutex_lock(&log_lock);
        fprintf(stderr, "%s.%03ldZ %s: %s: %s\n", stamp, ts.tv_nsec / 1000000,
                log_ident, log_names[level], line);
        pthread_mutex_unlock(&log_lock);
    } else {
        syslog(prio[level], "%s: %s", log_names[level], line);
    }
    errno = saved;
}

void log_msg(enum log_level level, int with_errno, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, with_errno, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
    va_end(ap);
    exit(1);
}

void log_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
    va_end(ap);
    abort();
}
