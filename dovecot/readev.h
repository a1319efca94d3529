#ifndef MAILSTATE_READEV_H
#define MAILSTATE_READEV_H
/*
 * readev - the plain-C decisions of the Dovecot plugin, kept apart from
 * Dovecot's API so they are unit-tested (tests/dovecot/test_readev.c).
 *
 *   readev_mail_id   an X-Mail-Id header value -> canonical "ID.TAG"
 *                    (26 + '.' + 16 Crockford base32, upper-cased; the
 *                    same syntax as mailid.h; SP/TAB/CR/LF around it are
 *                    trimmed, anything else is refused).  The MAC is the
 *                    tracker's to check.
 *   readev_sender    an X-Sender value -> the trimmed address token: no
 *                    spaces or control characters, 1..READEV_SENDER_MAX bytes
 *   readev_time      milliseconds since the epoch -> RFC 3339 UTC with
 *                    milliseconds ("2026-11-28T10:05:00.123Z")
 *   readev_spool_name / readev_claim_parse   spool file names: events are
 *                    "NAME.json", claimed ones "NAME.json.PID"
 *
 * All return 0 on success and -1 on refusal, write only on success, and
 * never allocate.  Thread-safe.
 */
#include <stddef.h>
#include <stdint.h>

#define READEV_ID_LEN        26
#define READEV_TAG_LEN       16
#define READEV_VALUE_LEN     (READEV_ID_LEN + 1 + READEV_TAG_LEN)
#define READEV_SENDER_MAX    320
#define READEV_TIME_LEN      24
#define READEV_SPOOL_SUFFIX  ".json"

int readev_mail_id(const char *value, char out[READEV_VALUE_LEN + 1]);
int readev_sender(const char *value, char out[READEV_SENDER_MAX + 1]);
int readev_time(uint64_t ms, char out[READEV_TIME_LEN + 1]);

/* 1 if name is an event file (not hidden, ends in ".json"), else 0. */
int readev_spool_name(const char *name);
/* "NAME.json.PID" -> orig "NAME.json" (origlen bytes incl. NUL) and pid. */
int readev_claim_parse(const char *name, char *orig, size_t origlen, long *pid);

#endif
