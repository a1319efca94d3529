#ifndef MAILSTATE_JW_H
#define MAILSTATE_JW_H
/*
 * jw - a JSON writer for the tracker's hot responses.
 *
 * Why not jansson here: building a json_t tree for every GET costs an
 * allocation and a hash insert per field, and dumping it walks the tree
 * again; for a mail with a few recipients that was about 85% of the time
 * of GET /v1/mails/{id}.  Writing the text directly is an order of
 * magnitude cheaper.  Parsing (request bodies) stays with jansson, and so
 * do cold paths (errors, /healthz).
 *
 * Output is RFC 8259 JSON: strings are escaped (", \, control characters
 * as \uXXXX), valid UTF-8 passes through, and each byte of an invalid
 * UTF-8 sequence becomes '?' (stored data is not trusted to be UTF-8).
 * The caller drives the structure: jw_key() before each member value,
 * values in arrays directly; commas are inserted automatically.  Misuse
 * (a value where a key is due) is not detected.  Memory: xmem (never
 * fails).  jw_finish() returns the text (caller frees) and resets w.
 */
#include <stddef.h>

struct jw {
    char  *buf;
    size_t len, cap;
    int    comma;      /* a value was just written: the next one needs ',' */
};

void jw_init(struct jw *w, size_t cap);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *key);     /* key is escaped too */
void jw_str(struct jw *w, const char *s);       /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
char *jw_finish(struct jw *w, size_t *len);

#endif
