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
 *   readev_address   an address -> "local@domain": one '@', both sides
 *                    non-empty, no spaces, controls, quotes or brackets
 *   readev_time_parse  RFC 3339 UTC as readev_time writes it (milliseconds
 *                    optional) -> milliseconds since the epoch
 *   readev_id_time_ms  the time in a mail id's first 10 characters
 *   readev_spool_parse  one spool file's text -> the fields a replay may take
 *                    from it (issue 14: the spool is written by the plugin,
 *                    but the mail user can write there too, so it is input
 *                    from the wire): mail id, sender, event, time, and for
 *                    "received" the original recipient.  The recipient a
 *                    file names is returned only for the log: the replay
 *                    sends the session's own recipient, never the file's.
 *                    Refused (READEV_E*): not a JSON object, a field
 *                    missing or of the wrong type or syntax, an unknown
 *                    event, a "via" that does not belong to the event, a
 *                    time before the mail id's own time or later than now,
 *                    each with READEV_SKEW_MS of tolerance.
 *   readev_error_body  the tracker's error answer {"error", "detail"} ->
 *                    both strings, cut to their buffers, every byte outside
 *                    printable ASCII replaced by '?', so they can go into a
 *                    log line; "-" for a member that is missing
 *
 * All return 0 on success and -1 (readev_spool_parse: a READEV_E* code) on
 * refusal, write only on success, and never allocate (readev_spool_parse
 * uses jansson internally and frees what it allocated).  Thread-safe.
 */
#include <stddef.h>
#include <stdint.h>

#define READEV_ID_LEN        26
#define READEV_TAG_LEN       16
#define READEV_VALUE_LEN     (READEV_ID_LEN + 1 + READEV_TAG_LEN)
#define READEV_SENDER_MAX    320
#define READEV_TIME_LEN      24
#define READEV_SPOOL_SUFFIX  ".json"

/* Clock difference tolerated between the server that made a mail id and
   the one that saw it read, and between the spool's writer and now. */
#define READEV_SKEW_MS       (5 * 60 * 1000)
#define READEV_EVENT_MAX     16
#define READEV_VIA_MAX       8

enum readev_spool_err {
    READEV_EJSON = -1,      /* not a JSON object */
    READEV_EID = -2,        /* mail_id missing or malformed */
    READEV_ESENDER = -3,    /* sender missing or not an address */
    READEV_EEVENT = -4,     /* event unknown */
    READEV_EVIA = -5,       /* via unknown or not this event's */
    READEV_ETIME = -6,      /* time missing or malformed */
    READEV_EPAST = -7,      /* time before the mail id's own time */
    READEV_EFUTURE = -8,    /* time after now */
    READEV_EORIG = -9,      /* original_recipient not an address */
    READEV_ERCPT = -10,     /* recipient present but not an address */
};

struct readev_spooled {
    char mail_id[READEV_VALUE_LEN + 1];
    char sender[READEV_SENDER_MAX + 1];
    char event[READEV_EVENT_MAX + 1];
    char via[READEV_VIA_MAX + 1];
    char time[READEV_TIME_LEN + 1];            /* canonical, readev_time */
    char original_recipient[READEV_SENDER_MAX + 1];   /* "" = none */
    char recipient[READEV_SENDER_MAX + 1];     /* "" = none; log only */
};

int readev_mail_id(const char *value, char out[READEV_VALUE_LEN + 1]);
int readev_sender(const char *value, char out[READEV_SENDER_MAX + 1]);
int readev_time(uint64_t ms, char out[READEV_TIME_LEN + 1]);

/* 1 if name is an event file (not hidden, ends in ".json"), else 0. */
int readev_spool_name(const char *name);
/* "NAME.json.PID" -> orig "NAME.json" (origlen bytes incl. NUL) and pid. */
int readev_claim_parse(const char *name, char *orig, size_t origlen, long *pid);

int readev_address(const char *value, char out[READEV_SENDER_MAX + 1]);
int readev_time_parse(const char *value, uint64_t *ms);
uint64_t readev_id_time_ms(const char id[READEV_ID_LEN]);
int readev_spool_parse(const char *buf, size_t len, uint64_t now_ms,
                       struct readev_spooled *out);
const char *readev_spool_strerror(int err);

#define READEV_ERROR_MAX   64
#define READEV_DETAIL_MAX  256
int readev_error_body(const char *buf, size_t len,
                      char error[READEV_ERROR_MAX + 1],
                      char detail[READEV_DETAIL_MAX + 1]);

#endif
