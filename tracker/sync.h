#ifndef MAILSTATE_SYNC_H
#define MAILSTATE_SYNC_H
/*
 * sync - the peer sync wire format of design §7 and its checks.
 *
 * A sync is one HTTP request  POST /v1/sync  from the recipient's server (the
 * "peer") to the sender's home server, carrying updated recipient entries:
 *
 *   X-Mailstate-Server:    NAME        the sending server's [server NAME]
 *   X-Mailstate-Timestamp: SECONDS     Unix time of signing, decimal
 *   X-Mailstate-Signature: HEX         64 lower-case hex digits
 *   body: {"entries": [{"mail_id": "ID", "sender": "a@x", "recipient": "b@y",
 *           "status": "read", "first_read": MS, "last_read": MS,
 *           "read_count": N, "via": "imap"}, ...]}
 *
 * Signature = HMAC-SHA256 under the system key over
 *   METHOD "\n" PATH "\n" TIMESTAMP "\n" SERVER "\n" BODY
 * (TIMESTAMP exactly as sent in the header), compared in constant time.
 *
 * Receiving (sync_handle): the request is refused as a whole, with the HTTP
 * status in brackets, when
 *   - a header is missing or malformed, or the body is not JSON   [400]
 *   - the signature does not verify                                [401]
 *   - SERVER is not another server of this mail system             [403]
 *   - the body is JSON but not a valid batch (unknown field, wrong
 *     type, bad id/address/status, too many entries)               [422]
 *   - TIMESTAMP is more than `window` seconds away from now        [409]
 *   - the same signature was accepted within the window (replay)   [409]
 *   - the replay memory is full of live signatures                 [503]
 *   - the store fails                                              [503]
 * Stale timestamps and replays answer 409, not 401: a peer whose clock is
 * off, or whose earlier attempt did get through, must retry (with a new
 * timestamp), not park its items forever.  A bad body will never succeed
 * and is parked by the sender; a bad signature or an unknown peer is a
 * configuration difference between the servers, retried until fixed
 * (forwarder.h).
 *
 * Entries of an accepted batch are merged one by one (store_merge: first
 * read = min, last read = max, count = max; idempotent, order-free).  An
 * entry is refused, counted, and does not fail the batch when: its sender's
 * domain is not hosted by this server; its recipient is not hosted by the
 * peer that signed the batch; the mail is unknown here; the recipient was
 * never recorded here for that mail; the sender differs from the mail's
 * recorded sender; or this server's own config says the recipient opted
 * out or tracking is off (privacy holds even if the peers' configs drift).  The reply is 200 {"merged": N, "refused": M}.
 *
 * Counters (refused requests by reason, entries merged/refused by reason)
 * are process-wide atomics, printed by sync_metrics_write().
 *
 * Thread-safety: sync_sign/sync_verify/parse/encode are pure and
 * re-entrant.  A sync_receiver_t may be used from any number of threads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "mailid.h"
#include "msys.h"
#include "store.h"

#define SYNC_PATH            "/v1/sync"
#define SYNC_HDR_SERVER      "X-Mailstate-Server"
#define SYNC_HDR_TIMESTAMP   "X-Mailstate-Timestamp"
#define SYNC_HDR_SIGNATURE   "X-Mailstate-Signature"
#define SYNC_SIG_HEX_LEN     64
#define SYNC_MAX_ENTRIES     1000
#define SYNC_VIA_MAX         15      /* bytes; store_rcpt.via holds 16 */

enum sync_err {
    SYNC_OK       = 0,
    SYNC_EHEADER  = -1,   /* header missing or malformed */
    SYNC_ESIG     = -2,   /* signature does not verify */
    SYNC_EPEER    = -3,   /* server not a peer of this system */
    SYNC_EJSON    = -4,   /* body is not JSON */
    SYNC_EBATCH   = -5,   /* JSON, but not a valid batch */
    SYNC_ESTALE   = -6,   /* timestamp outside the window */
    SYNC_EREPLAY  = -7,   /* signature already accepted */
    SYNC_EBUSY    = -8,   /* replay memory full */
    SYNC_ESTORE   = -9,   /* store error */
};

/* Why a request or an entry was refused (metric labels). */
enum sync_reason {
    SYNC_R_BAD_HEADER = 0,
    SYNC_R_BAD_SIGNATURE,
    SYNC_R_UNKNOWN_PEER,
    SYNC_R_BAD_BODY,
    SYNC_R_STALE,
    SYNC_R_REPLAY,
    SYNC_R_BUSY,
    SYNC_R_STORE,
    /* per entry */
    SYNC_R_FOREIGN_SENDER,
    SYNC_R_WRONG_PEER,
    SYNC_R_UNKNOWN_MAIL,
    SYNC_R_UNKNOWN_RECIPIENT,
    SYNC_R_SENDER_MISMATCH,
    SYNC_R_OPT_OUT,
    SYNC_R_TRACKING_OFF,
    SYNC_R_COUNT
};

struct sync_entry {
    char              id[MAILID_ID_LEN + 1];
    char             *sender;          /* addr key */
    struct store_rcpt rcpt;            /* address = recipient addr key;
                                          server = NULL */
};

struct sync_batch {
    struct sync_entry *entries;
    size_t             n;
};

/* HMAC-SHA256 over the signed string, as 64 lower-case hex digits + NUL. */
void sync_sign(const unsigned char *key, size_t key_len, const char *method,
               const char *path, const char *timestamp, const char *server,
               const char *body, size_t body_len, char hex[SYNC_SIG_HEX_LEN + 1]);

/* SYNC_OK, SYNC_EHEADER (sig not 64 hex digits) or SYNC_ESIG. Constant time. */
int sync_verify(const unsigned char *key, size_t key_len, const char *method,
                const char *path, const char *timestamp, const char *server,
                const char *body, size_t body_len, const char *sig_hex);

/* Strict decimal Unix seconds (1..18 digits, nothing else): 0 or SYNC_EHEADER. */
int sync_parse_timestamp(const char *s, long long *out);

/*
 * Strict parse of a body of len bytes.  SYNC_OK (caller frees with
 * sync_batch_clear), SYNC_EJSON or SYNC_EBATCH; a one-line reason goes to
 * err when not NULL.  Addresses are normalised (addr.h); via may be "".
 */
int sync_parse(const char *body, size_t len, struct sync_batch *out,
               char *err, size_t errlen);
void sync_batch_clear(struct sync_batch *b);

/* The body for n outbox items (caller frees); never NULL. */
char *sync_encode(const struct store_outbox_item *items, size_t n);

/*
 * The peer a read of a mail from sender_key must be forwarded to: the server
 * hosting the sender's domain when that is another server of the system,
 * else NULL (sender local or outside the system).  Owned by ms.
 */
const char *sync_home_peer(const msys_t *ms, const char *sender_key);

/* ---- receiving ---- */

typedef struct sync_receiver sync_receiver_t;

/*
 * conf (referenced until free) gives the key, msys, this_server and
 * tracker_sync_window; st must outlive the receiver.  replay_slots = how
 * many live signatures are remembered (0 = 8192).
 */
sync_receiver_t *sync_receiver_new(struct conf *conf, store_t *st,
                                   size_t replay_slots);
sync_receiver_t *sync_receiver_free(sync_receiver_t *r);
/*
 * A reloaded config (SIGHUP) for requests that start from now on: key,
 * server list, window, tracking switch and opt-outs; a request in progress
 * keeps the one it started with.  Takes its own reference.
 */
void sync_receiver_set_conf(sync_receiver_t *r, struct conf *conf);

/*
 * Check signature, peer, window and replay (in that order, so only a signed
 * request can fill the replay memory) and remember the signature.
 * now_s: current Unix time (tests pass their own).
 */
int sync_check(sync_receiver_t *r, const char *method, const char *path,
               const char *server, const char *timestamp, const char *sig_hex,
               const char *body, size_t body_len, long long now_s);

/*
 * How a receiver refuses a request that sync_check did not pass (any
 * result but SYNC_OK): the HTTP status, the reason (its name is the JSON
 * "error") and a static one-line detail.  Pure; shared by POST /v1/sync
 * and POST /v1/erase so both answer a bad signed request the same way.
 */
struct sync_refusal {
    int               status;
    enum sync_reason  reason;
    const char       *detail;
};
struct sync_refusal sync_check_refusal(int rc);

/* The JSON error reply {"error": ERROR, "detail": DETAIL} (caller frees
 * with free()); never NULL. */
char *sync_error_reply(const char *error, const char *detail);

/* For the parsers of this wire format (sync_parse, erase_parse): a
 * one-line reason into err, unless err is NULL or errlen 0. */
void sync_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct sync_apply_result {
    size_t merged;
    size_t refused;
    size_t by_reason[SYNC_R_COUNT];
};

/* Merge a parsed batch from peer; SYNC_OK or SYNC_ESTORE (retryable). */
int sync_apply(sync_receiver_t *r, const char *peer, const struct sync_batch *b,
               struct sync_apply_result *res);

/*
 * The whole request: sync_check, parse, apply, count.  Returns the HTTP
 * status and a JSON reply (caller frees): {"merged": N, "refused": M} or
 * {"error": "...", "detail": "..."}.  Header values may be NULL (missing).
 */
int sync_handle(sync_receiver_t *r, const char *method, const char *path,
                const char *server, const char *timestamp, const char *sig_hex,
                const char *body, size_t body_len, long long now_s,
                char **reply);

const char *sync_reason_name(enum sync_reason r);
const char *sync_strerror(int err);

/* Process-wide counters, for tests and /metrics. */
uint64_t sync_refused_count(enum sync_reason r);
uint64_t sync_merged_count(void);
/* Prometheus text: mailstate_sync_refused_total{reason=...}, ... */
void sync_metrics_write(FILE *fp);

#endif
