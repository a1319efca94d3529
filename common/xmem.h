#ifndef MAILSTATE_XMEM_H
#define MAILSTATE_XMEM_H
/*
 * xmem - allocation that never returns NULL.
 *
 * Contract: out of memory is not a recoverable error for a mail daemon; each
 * function logs one line and aborts the process (the MTA's milter_default_action
 * or the client's retry takes over).  Everything returned is owned by the
 * caller and released with free().  xfree() returns NULL so that
 * "p = xfree(p);" clears the pointer.
 */
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);            /* old p is dead after the call */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);      /* copies at most n bytes, NUL-terminates */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xfree(void *p);

#endif
