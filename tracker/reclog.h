#ifndef MAILSTATE_RECLOG_H
#define MAILSTATE_RECLOG_H
/*
 * reclog - the tracker's story in its log: one info line per change it
 * records and one per refusal, with the reason, in one fixed shape that
 * an administrator can grep:
 *
 *   mail ID: rcpt ADDR: EVENT via VIA from SOURCE: recorded
 *   mail ID: rcpt ADDR: EVENT via VIA from SOURCE: refused: REASON (DETAIL)
 *   mail ID: rcpt ADDR: EVENT via VIA from SOURCE: not recorded: opt_out
 *
 * ID is the bare mail id (no tag), SOURCE "token NAME" (POST /v1/reads:
 * API clients, webmail, the Dovecot plugin's token) or "peer NAME" (a
 * merged sync entry).  Values from the wire are cut (ids 40, addresses
 * 100 bytes) and log.h replaces control bytes, so a request cannot forge
 * a line; a value that is missing or unparsable is "?".
 *
 * Rate limit: recorded and refused lines have a token bucket each
 * (tbucket.h) of reclog_set_rate() lines per second (and as many at once;
 * 0 = no limit), so a flood of requests cannot fill the disk; the next
 * line after a gap says how many were suppressed.  Thread-safe.
 */
#include <stddef.h>

#include "api.h"
#include "conf.h"

void reclog_set_rate(unsigned lines_per_s);

/* The line for one answered POST /v1/reads: request body (raw, may be NULL)
 * and the answer (status and JSON body); tok the token used (may be NULL). */
void reclog_read(const struct conf_token *tok, const char *body, size_t body_len,
                 const struct api_resp *resp);

/* One line in the shape above; reason NULL = recorded.  Any string may be
 * NULL ("?"). */
void reclog_line(const char *id, const char *rcpt, const char *event, const char *via,
                 const char *src_kind, const char *src_name, const char *reason,
                 const char *detail);

#endif
