/*
 * erase - POST /v1/erase: encoding, parsing and the receiver (contract in
 * erase.h).
 */
#include "erase.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "xmem.h"

#define ERASE_MS_MAX ((1LL << 48) - 1)   /* the range of a mail id's time */
/* Clocks of two servers differ: a mail made just before the request on a
 * server whose clock is ahead still goes (the 5 minutes of skew reads get). */
#define ERASE_SKEW_MS (5 * 60 * 1000)

static _Atomic uint64_t erase_refused, erase_addresses, erase_entries;

char *erase_encode(const struct store_erasure *items, size_t n)
{
    json_t *arr = json_array(), *root;
    char *s;

    if (arr == NULL)
        log_panic("erase: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s, s:I}", "address", items[i].address,
                              "before", (json_int_t)items[i].requested_ms);
        if (e == NULL || json_array_append_new(arr, e) != 0)
            log_panic("erase: cannot encode erasure %" PRIu64, items[i].seq);
    }
    root = json_pack("{s:o}", "erase", arr);
    if (root == NULL || (s = json_dumps(root, JSON_COMPACT)) == NULL)
        log_panic("erase: out of memory");
    json_decref(root);
    return s;
}

void erase_items_free(struct erase_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        xfree(items[i].address);
    xfree(items);
}

int erase_parse(const char *body, size_t len, struct erase_item **items, size_t *n,
                char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *arr = NULL;
    size_t count;

    *items = NULL;
    *n = 0;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        sync_seterr(err, errlen, "line %d: %s", jerr.line, jerr.text);
        return SYNC_EJSON;
    }
    if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o}", "erase", &arr) != 0 ||
        !json_is_array(arr)) {
        sync_seterr(err, errlen, "%s", arr == NULL ? jerr.text : "erase is not an array");
        json_decref(root);
        return SYNC_EBATCH;
    }
    count = json_array_size(arr);
    if (count == 0 || count > ERASE_MAX_ITEMS) {
        sync_seterr(err, errlen, "%zu items, want 1 to %d", count, ERASE_MAX_ITEMS);
        json_decref(root);
        return SYNC_EBATCH;
    }
    struct erase_item *out = xcalloc(count, sizeof(*out));
    for (size_t i = 0; i < count; i++) {
        const char *a;
        size_t alen;
        json_int_t before;
        struct addr pa;
        if (json_unpack_ex(json_array_get(arr, i), &jerr, JSON_STRICT, "{s:s%, s:I}",
                           "address", &a, &alen, "before", &before) != 0) {
            sync_seterr(err, errlen, "item %zu: %s", i, jerr.text);
            goto bad;
        }
        /* addr_parse refuses embedded NULs (alen counts them) */
        if (addr_parse(a, alen, &pa) != ADDR_OK || pa.is_null) {
            sync_seterr(err, errlen, "item %zu: address is not an address", i);
            goto bad;
        }
        if (before <= 0 || before > ERASE_MS_MAX) {
            sync_seterr(err, errlen, "item %zu: before out of range", i);
            goto bad;
        }
        out[i].address = xstrdup(pa.key);
        out[i].before_ms = (uint64_t)before;
        *n = i + 1;
        continue;
    bad:
        erase_items_free(out, i);
        *n = 0;
        json_decref(root);
        return SYNC_EBATCH;
    }
    *items = out;
    json_decref(root);
    return SYNC_OK;
}

static int erase_fail(int status, const char *error, const char *server,
                      const char *detail, char **reply)
{
    atomic_fetch_add(&erase_refused, 1);
    log_warn("erase from %.64s: refused (%d %s): %s", server ? server : "?", status,
             error, detail);
    *reply = sync_error_reply(error, detail);
    return status;
}

int erase_handle(sync_receiver_t *r, store_t *st, const char *server,
                 const char *timestamp, const char *sig_hex, const char *body,
                 size_t body_len, long long now_s, char **reply)
{
    struct erase_item *items;
    size_t n, total = 0;
    char err[256];
    int rc;

    *reply = NULL;
    if (body == NULL)
        body = "";
    rc = sync_check(r, "POST", ERASE_PATH, server, timestamp, sig_hex, body, body_len,
                    now_s);
    if (rc != SYNC_OK) {
        struct sync_refusal f = sync_check_refusal(rc);
        return erase_fail(f.status, sync_reason_name(f.reason), server, f.detail, reply);
    }
    rc = erase_parse(body, body_len, &items, &n, err, sizeof(err));
    if (rc != SYNC_OK)
        return erase_fail(rc == SYNC_EJSON ? 400 : 422, sync_reason_name(SYNC_R_BAD_BODY),
                          server, err, reply);
    for (size_t i = 0; i < n; i++) {
        size_t erased = 0;
        rc = store_erase_until(st, items[i].address, items[i].before_ms + ERASE_SKEW_MS,
                               &erased);
        total += erased;
        atomic_fetch_add(&erase_entries, erased);
        if (rc != STORE_OK) {
            log_error("erase from %s: %s: %s after %zu entries (the peer retries)", server,
                      items[i].address, store_strerror(rc), erased);
            erase_items_free(items, n);
            return erase_fail(503, sync_reason_name(SYNC_R_STORE), server,
                              "store error, retry later", reply);
        }
        atomic_fetch_add(&erase_addresses, 1);
        log_info("erase from %s: %s: %zu entries erased (mails before %" PRIu64 " ms)",
                 server, items[i].address, erased, items[i].before_ms);
    }
    erase_items_free(items, n);
    json_t *j = json_pack("{s:I}", "erased", (json_int_t)total);
    if (j == NULL || (*reply = json_dumps(j, JSON_COMPACT)) == NULL)
        log_panic("erase: out of memory");
    json_decref(j);
    return 200;
}

void erase_metrics_write(FILE *fp)
{
    fprintf(fp,
            "# HELP mailstate_erase_requests_refused_total Erase requests from peers refused.\n"
            "# TYPE mailstate_erase_requests_refused_total counter\n"
            "mailstate_erase_requests_refused_total %" PRIu64 "\n"
            "# HELP mailstate_erase_addresses_total Addresses erased at a peer's request.\n"
            "# TYPE mailstate_erase_addresses_total counter\n"
            "mailstate_erase_addresses_total %" PRIu64 "\n"
            "# HELP mailstate_erase_entries_total Mails and entries erased at a peer's request.\n"
            "# TYPE mailstate_erase_entries_total counter\n"
            "mailstate_erase_entries_total %" PRIu64 "\n",
            atomic_load(&erase_refused), atomic_load(&erase_addresses),
            atomic_load(&erase_entries));
}
