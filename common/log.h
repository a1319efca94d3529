#ifndef MAILSTATE_LOG_H
#define MAILSTATE_LOG_H
/*
 * log - leveled logging to syslog (default) or stderr (-f).
 *
 * Contract:
 *  - log_open() once at start, before threads; until then lines go to stderr.
 *  - Every function is thread-safe; each call emits exactly one line.
 *  - A thread may set a context prefix (e.g. "milter 4F2A1C3" or
 *    "mail 01J..."); it is prepended as "PREFIX: " to that thread's lines
 *    until cleared with log_context(NULL).  The prefix is copied
 *    (truncated at LOG_CONTEXT_MAX bytes).
 *  - Lines below the configured level are dropped inside the API, so callers
 *    never guard their calls.
 *  - log_*_errno variants append ": strerror(errno)".
 *  - log_fatal() logs and exits with status 1 (configuration and startup
 *    errors); log_panic() logs and aborts (a broken invariant).
 *  - Message text is passed through as data; CR/LF/control bytes in it are
 *    replaced by '?' so a hostile value cannot forge a second log line.
 */
#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN  = 1,
    LOG_LEVEL_INFO  = 2,
    LOG_LEVEL_DEBUG = 3,
};

#define LOG_CONTEXT_MAX 96

/* ident: syslog identity ("mailstate-milter"); to_stderr: -f given. */
void log_open(const char *ident, int to_stderr, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);
void log_close(void);

void log_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void log_msg(enum log_level level, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(...)       log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)        log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_warn(...)        log_msg(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_warn_errno(...)  log_msg(LOG_LEVEL_WARN, 1, __VA_ARGS__)
#define log_error(...)       log_msg(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_error_errno(...) log_msg(LOG_LEVEL_ERROR, 1, __VA_ARGS__)

void log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
