#ifndef MAILSTATE_ERASE_H
#define MAILSTATE_ERASE_H
/*
 * erase - telling the peers that an address was erased (design §9,
 * issue 16): the wire format of POST /v1/erase and its receiving side.
 *
 * `mailstatectl erase A` erases A here and queues one item per other
 * server of the system (store_erase.h); the forwarder sends a peer's items
 * first in each round, as one request, signed exactly like a sync (sync.h:
 * the same headers, the sync key, METHOD "\n" PATH "\n" TIMESTAMP "\n"
 * SERVER "\n" BODY with PATH "/v1/erase", so a sync's signature is never a
 * valid erase and the reverse):
 *
 *   body: {"erase": [{"address": "a@x", "before": MS}, ...]}   1..100 items
 *
 * "before" is the request time (Unix ms): the peer erases what it holds of
 * the address from mails created before it plus 5 minutes of clock skew
 * between the servers (store_erase_until), so a peer told late does not
 * erase mails that came after the request.
 *
 * Receiving (erase_handle): the request is checked by sync_check (signature,
 * a known other server, the window, the replay memory shared with the
 * syncs) and refused as a whole as a sync is (sync_check_refusal: 400 401
 * 403 409 503); a body that is not JSON is 400, one that is not a valid list
 * (unknown field, not an address, a bad time, more than 100 items) 422.
 * Any server of the system may ask: each one's administrator may erase.
 * Each address is erased here and logged ("erase from PEER: ADDR: N
 * entries erased"); nothing is queued onward, so an erasure never travels
 * further than one hop and cannot loop.  Reply 200 {"erased": N}; a store
 * error is 503 (the forwarder retries; erasing again is harmless).
 *
 * Thread-safety: pure functions re-entrant; erase_handle from any thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "store_erase.h"
#include "sync.h"

#define ERASE_PATH      "/v1/erase"
#define ERASE_MAX_ITEMS 100

struct erase_item {
    char     *address;        /* addr key */
    uint64_t  before_ms;
};

/* The body for n queued erasures (caller frees); never NULL. */
char *erase_encode(const struct store_erasure *items, size_t n);

/* Strict parse: SYNC_OK (free with erase_items_free), SYNC_EJSON or
 * SYNC_EBATCH with a one-line reason in err. */
int erase_parse(const char *body, size_t len, struct erase_item **items, size_t *n,
                char *err, size_t errlen);
void erase_items_free(struct erase_item *items, size_t n);

/* The whole request; returns the HTTP status and a JSON reply (caller
 * frees with free()).  Header values may be NULL (missing). */
int erase_handle(sync_receiver_t *r, store_t *st, const char *server,
                 const char *timestamp, const char *sig_hex, const char *body,
                 size_t body_len, long long now_s, char **reply);

/* Process-wide counters: requests refused, addresses erased, entries. */
void erase_metrics_write(FILE *fp);

#endif
