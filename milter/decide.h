#ifndef MAILSTATE_DECIDE_H
#define MAILSTATE_DECIDE_H
/*
 * decide - what mailstate-milter does with one message at end-of-data
 * (design §3, §4), as a pure function of plain C values.  No libmilter
 * types: the callbacks collect the envelope and the interesting header
 * occurrences, call decide(), and carry out the result.
 *
 * Rules, in order:
 *  1. Incoming X-Mail-Id / X-Sender (names from the config, any case):
 *     when the client is a peer (peer_networks: another server of the
 *     system relaying mail; trusted_networks is not enough, since local
 *     submission and webmail could hand in a copied id), the first X-Mail-Id whose MAC verifies against an
 *     X-Sender occurrence (its address in normal form) is KEPT together with
 *     that X-Sender; only the first DECIDE_KEEP_TRY occurrences of each are
 *     tried (a relay carries one of each; a flood of them must not cost the
 *     MTA minutes of MAC checks).  Every other occurrence - all of them from an untrusted
 *     client - is deleted.  Deletions are given as 1-based occurrence
 *     indexes per header name, highest first, because smfi_chgheader()
 *     indexes shift after a delete.
 *  2. A kept id: no new headers (no second id); this server records the
 *     recipients it hosts itself (MSYS_LOCAL) under that id, with the sender
 *     from X-Sender and the time from the id.
 *  3. Otherwise, if tracking is on, the sender is in the system (its domain
 *     is hosted and the client authenticated or is trusted), an
 *     authenticated login may send as that sender (sender_login_check:
 *     loginmap_allows; a trusted client that also authenticated is held
 *     to its login too), and at least one
 *     envelope recipient is in the system: TAG - insert X-Mail-Id (a new id
 *     and its MAC) and X-Sender (the sender in normal form), both or
 *     neither, and record every in-system recipient (local and other
 *     servers) with status sent.  Mixed recipients: one header set, only
 *     in-system recipients recorded.
 *  4. Header values are checked before insertion (decide_value_ok): no CR,
 *     LF, NUL or other control byte, at most DECIDE_VALUE_MAX bytes.  A
 *     sender address that does not parse (control bytes, too long, bad
 *     syntax) is never put into a header: the message passes untagged and
 *     out->reason says why.
 *
 * Queue id, Message-ID and Subject are recorded cut to DECIDE_FIELD_MAX
 * bytes (at a UTF-8 character boundary), the most the store takes.
 *
 * Recipients that do not parse count as external; duplicates (same normal
 * form) are recorded once.  The null sender is never in the system.
 *
 * Returns 0 (out filled; release with decide_out_clear) or a negative
 * mailid error when no id could be generated (getrandom failed): that is
 * the milter's own trouble, handled by on_error.  Thread-safe; allocation
 * failure aborts (xmem).
 */
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mailid.h"
#include "store.h"

#define DECIDE_VALUE_MAX 512      /* longest header value we insert */
#define DECIDE_KEEP_TRY  8         /* X-Mail-Id / X-Sender occurrences tried for rule 1 */
#define DECIDE_FIELD_MAX 4096     /* queue id, Message-ID, Subject recorded (store limit) */

enum decide_action {
    DECIDE_NONE = 0,              /* insert nothing (deletions may still apply) */
    DECIDE_TAG  = 1,              /* insert both headers */
    DECIDE_KEEP = 2,              /* a valid id from a trusted peer stays */
};

struct decide_in {
    const struct conf  *conf;
    const char         *sender;        /* MAIL FROM argument ("<a@b>", "<>") */
    int                 authenticated; /* {auth_authen} was non-empty */
    const char         *auth_login;    /* {auth_authen} itself, NULL if none;
                                          recorded with the mail (<= 320 bytes,
                                          else not recorded) */
    const char         *client_addr;   /* textual IP, NULL if unknown */
    const char *const  *rcpts;         /* RCPT TO arguments */
    size_t              n_rcpts;
    const char *const  *mailid_hdrs;   /* values of each X-Mail-Id, in order */
    size_t              n_mailid_hdrs;
    const char *const  *sender_hdrs;   /* values of each X-Sender, in order */
    size_t              n_sender_hdrs;
    const char         *queue_id;      /* may be NULL */
    const char         *message_id;    /* may be NULL */
    const char         *subject;       /* may be NULL; kept only if record_subject */
    uint64_t            now_ms;        /* 0 = the current time */
};

struct decide_out {
    int     action;                    /* enum decide_action */
    size_t *del_mailid;                /* indexes to delete, highest first */
    size_t  n_del_mailid;
    size_t *del_sender;
    size_t  n_del_sender;
    char    mailid_value[MAILID_VALUE_LEN + 1];   /* TAG: X-Mail-Id value */
    char   *sender_value;                         /* TAG: X-Sender value */
    /* Records to write before replying (n_rcpts == 0: nothing to write). */
    struct store_mail  mail;
    struct store_rcpt *rcpts;
    size_t             n_rcpts;
    char    reason[512];               /* one log line's worth: why, in words */
    int     notice;                    /* NONE that the admin should see at info
                                          (a login not allowed for its sender) */
};

int decide(const struct decide_in *in, struct decide_out *out);
void decide_out_clear(struct decide_out *out);

/* 1 if v may go into a header value: no byte < 0x20 except TAB, no DEL, len <= max. */
int decide_value_ok(const char *v, size_t max);

#endif
