#ifndef MAILSTATE_RENDER_H
#define MAILSTATE_RENDER_H
/*
 * render - the tracker's JSON shapes (design §6) and RFC 3339 times.
 *
 * render_time() formats milliseconds since the epoch as RFC 3339 UTC with
 * milliseconds ("2026-11-28T10:00:00.123Z").  render_parse_time() accepts
 * RFC 3339 date-times: "T" or "t" or one space between date and time, an
 * optional fraction (any number of digits, truncated to ms), and "Z", "z" or
 * a numeric offset; returns 0 or -1 (syntax, out-of-range field, or a time
 * before 1970).  Leap seconds (":60") are refused.
 *
 * render_rcpt() and render_mail() write a JSON object to w (jw.h).  A recipient carries first_read/last_read/read_count only
 * once it has been read, via when known.  The mail's "mail_id" is the bare
 * ID, never ID.TAG: a tag is what a read notification must show, so an
 * answer that handed tags out would let a token with query and notify read
 * the log and then mark anything read (design §11).
 */
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "jw.h"
#include "store.h"

#define RENDER_TIME_LEN 24   /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */

void render_time(uint64_t ms, char buf[RENDER_TIME_LEN + 1]);
int render_parse_time(const char *s, uint64_t *ms);

void render_rcpt(struct jw *w, const struct store_rcpt *r);
void render_mail(struct jw *w, const struct store_mail_rec *rec);

#endif
