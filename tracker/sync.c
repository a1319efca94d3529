/*
 * sync - peer sync wire format, checks, and merging (contract in sync.h).
 *
 * The replay memory is a fixed table of buckets indexed by the first bytes
 * of the (uniformly random) MAC, each bucket a handful of slots.  A slot is
 * live while its timestamp is still inside the window; after that the window
 * check refuses the request anyway, so the slot may be reused.  No eviction
 * of live slots: a full bucket refuses with SYNC_EBUSY (503, the sender
 * retries) rather than forget a signature and let a replay through.  Only
 * requests that carry a valid signature from a known peer reach the table,
 * so outsiders cannot fill it.
 */
#include "sync.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "msys.h"
#include "reclog.h"
#include "xmem.h"

#define SYNC_MAC_LEN       crypto_auth_hmacsha256_BYTES
#define SYNC_BUCKET_SLOTS  32
#define SYNC_MS_MAX        ((1LL << 48) - 1)   /* the range of a mail id's time */

static _Atomic uint64_t sync_refused[SYNC_R_COUNT];
static _Atomic uint64_t sync_merged;

static const char *const sync_reason_names[SYNC_R_COUNT] = {
    [SYNC_R_BAD_HEADER]        = "bad_header",
    [SYNC_R_BAD_SIGNATURE]     = "bad_signature",
    [SYNC_R_UNKNOWN_PEER]      = "unknown_peer",
    [SYNC_R_BAD_BODY]          = "bad_body",
    [SYNC_R_STALE]             = "stale_timestamp",
    [SYNC_R_REPLAY]            = "replay",
    [SYNC_R_BUSY]              = "busy",
    [SYNC_R_STORE]             = "store_error",
    [SYNC_R_FOREIGN_SENDER]    = "foreign_sender",
    [SYNC_R_WRONG_PEER]        = "wrong_peer",
    [SYNC_R_UNKNOWN_MAIL]      = "unknown_mail",
    [SYNC_R_UNKNOWN_RECIPIENT] = "unknown_recipient",
    [SYNC_R_SENDER_MISMATCH]   = "sender_mismatch",
    [SYNC_R_OPT_OUT]           = "opt_out",
    [SYNC_R_TRACKING_OFF]      = "tracking_off",
};

const char *sync_reason_name(enum sync_reason r)
{
    return (r >= 0 && r < SYNC_R_COUNT) ? sync_reason_names[r] : "unknown";
}

const char *sync_strerror(int err)
{
    switch (err) {
    case SYNC_OK:      return "ok";
    case SYNC_EHEADER: return "sync header missing or malformed";
    case SYNC_ESIG:    return "bad signature";
    case SYNC_EPEER:   return "not a peer server of this mail system";
    case SYNC_EJSON:   return "body is not JSON";
    case SYNC_EBATCH:  return "body is not a valid sync batch";
    case SYNC_ESTALE:  return "timestamp outside the sync window";
    case SYNC_EREPLAY: return "replayed request";
    case SYNC_EBUSY:   return "replay memory full, retry later";
    case SYNC_ESTORE:  return "store error";
    default:           return "unknown sync error";
    }
}

/* ---- signing ---- */

static void sync_mac(const unsigned char *key, size_t key_len, const char *method,
                     const char *path, const char *timestamp, const char *server,
                     const char *body, size_t body_len,
                     unsigned char mac[SYNC_MAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    const char *parts[4] = { method, path, timestamp, server };

    crypto_auth_hmacsha256_init(&st, key, key_len);
    for (size_t i = 0; i < 4; i++) {
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)parts[i],
                                      strlen(parts[i]));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    }
    if (body_len > 0)
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
}

void sync_sign(const unsigned char *key, size_t key_len, const char *method,
               const char *path, const char *timestamp, const char *server,
               const char *body, size_t body_len, char hex[SYNC_SIG_HEX_LEN + 1])
{
    unsigned char mac[SYNC_MAC_LEN];

    sync_mac(key, key_len, method, path, timestamp, server, body, body_len, mac);
    sodium_bin2hex(hex, SYNC_SIG_HEX_LEN + 1, mac, sizeof(mac));
}

/* 64 hex digits (either case) into 32 bytes; -1 if malformed. */
static int sync_sig_decode(const char *sig_hex, unsigned char mac[SYNC_MAC_LEN])
{
    size_t bin_len = 0;

    if (sig_hex == NULL || strlen(sig_hex) != SYNC_SIG_HEX_LEN)
        return -1;
    if (sodium_hex2bin(mac, SYNC_MAC_LEN, sig_hex, SYNC_SIG_HEX_LEN, NULL,
                       &bin_len, NULL) != 0 || bin_len != SYNC_MAC_LEN)
        return -1;
    return 0;
}

int sync_verify(const unsigned char *key, size_t key_len, const char *method,
                const char *path, const char *timestamp, const char *server,
                const char *body, size_t body_len, const char *sig_hex)
{
    unsigned char got[SYNC_MAC_LEN], want[SYNC_MAC_LEN];

    if (sync_sig_decode(sig_hex, got) != 0)
        return SYNC_EHEADER;
    sync_mac(key, key_len, method, path, timestamp, server, body, body_len, want);
    return sodium_memcmp(got, want, SYNC_MAC_LEN) == 0 ? SYNC_OK : SYNC_ESIG;
}

int sync_parse_timestamp(const char *s, long long *out)
{
    long long v = 0;
    size_t n;

    if (s == NULL)
        return SYNC_EHEADER;
    n = strlen(s);
    if (n == 0 || n > 18)
        return SYNC_EHEADER;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SYNC_EHEADER;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return SYNC_OK;
}

/* ---- body ---- */

void sync_batch_clear(struct sync_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->entries[i].sender = xfree(b->entries[i].sender);
        b->entries[i].rcpt.address = xfree(b->entries[i].rcpt.address);
        b->entries[i].rcpt.original_recipient = xfree(b->entries[i].rcpt.original_recipient);
    }
    b->entries = xfree(b->entries);
    b->n = 0;
}

void sync_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* An address field: no embedded NUL, parses, not the null address. */
static int sync_addr(const char *s, size_t len, char **key)
{
    struct addr a;

    if (addr_parse(s, len, &a) != ADDR_OK || a.is_null)
        return -1;
    *key = xstrdup(a.key);
    return 0;
}

static int sync_parse_entry(json_t *obj, size_t idx, struct sync_entry *e,
                            char *err, size_t errlen)
{
    json_error_t jerr;
    const char *id, *sender, *rcpt, *status, *via, *orig = NULL;
    size_t id_len, sender_len, rcpt_len, status_len, via_len, orig_len = 0;
    json_int_t first, last, count;
    int st;

    /* original_recipient (design §11): a member of a list or alias entry. */
    if (json_unpack_ex(obj, &jerr, JSON_STRICT,
                       "{s:s%, s:s%, s:s%, s:s%, s:I, s:I, s:I, s:s%, s?s%}",
                       "mail_id", &id, &id_len, "sender", &sender, &sender_len,
                       "recipient", &rcpt, &rcpt_len, "status", &status, &status_len,
                       "first_read", &first, "last_read", &last,
                       "read_count", &count, "via", &via, &via_len,
                       "original_recipient", &orig, &orig_len) != 0) {
        sync_seterr(err, errlen, "entry %zu: %s", idx, jerr.text);
        return -1;
    }
    if (id_len != MAILID_ID_LEN || !mailid_id_valid(id, id_len)) {
        sync_seterr(err, errlen, "entry %zu: mail_id is not a mail id", idx);
        return -1;
    }
    if (status_len != strlen(status) || (st = store_status_parse(status)) < 0) {
        sync_seterr(err, errlen, "entry %zu: unknown status", idx);
        return -1;
    }
    if (first < 0 || last < 0 || first > SYNC_MS_MAX || last > SYNC_MS_MAX ||
        (first > 0 && last > 0 && first > last) || count < 0 ||
        count > (json_int_t)UINT32_MAX) {
        sync_seterr(err, errlen, "entry %zu: read times or count out of range", idx);
        return -1;
    }
    if (via_len > SYNC_VIA_MAX || via_len != strlen(via)) {
        sync_seterr(err, errlen, "entry %zu: via too long", idx);
        return -1;
    }
    for (size_t i = 0; i < via_len; i++) {
        if ((unsigned char)via[i] < 0x21 || (unsigned char)via[i] > 0x7e) {
            sync_seterr(err, errlen, "entry %zu: via has a bad character", idx);
            return -1;
        }
    }
    memcpy(e->id, id, MAILID_ID_LEN);
    e->id[MAILID_ID_LEN] = '\0';
    if (sync_addr(sender, sender_len, &e->sender) != 0) {
        sync_seterr(err, errlen, "entry %zu: sender is not an address", idx);
        return -1;
    }
    if (sync_addr(rcpt, rcpt_len, &e->rcpt.address) != 0) {
        sync_seterr(err, errlen, "entry %zu: recipient is not an address", idx);
        return -1;
    }
    if (orig != NULL && sync_addr(orig, orig_len, &e->rcpt.original_recipient) != 0) {
        sync_seterr(err, errlen, "entry %zu: original_recipient is not an address", idx);
        return -1;
    }
    e->rcpt.status = st;
    e->rcpt.first_read_ms = (uint64_t)first;
    e->rcpt.last_read_ms = (uint64_t)last;
    e->rcpt.read_count = (uint32_t)count;
    memcpy(e->rcpt.via, via, via_len);
    e->rcpt.via[via_len] = '\0';
    return 0;
}

int sync_parse(const char *body, size_t len, struct sync_batch *out,
               char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *arr = NULL;
    size_t n;

    memset(out, 0, sizeof(*out));
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        sync_seterr(err, errlen, "line %d: %s", jerr.line, jerr.text);
        return SYNC_EJSON;
    }
    if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o}", "entries", &arr) != 0 ||
        !json_is_array(arr)) {
        sync_seterr(err, errlen, "%s", arr == NULL ? jerr.text
                                                    : "entries is not an array");
        json_decref(root);
        return SYNC_EBATCH;
    }
    n = json_array_size(arr);
    if (n > SYNC_MAX_ENTRIES) {
        sync_seterr(err, errlen, "%zu entries, at most %d", n, SYNC_MAX_ENTRIES);
        json_decref(root);
        return SYNC_EBATCH;
    }
    out->entries = xcalloc(n ? n : 1, sizeof(*out->entries));
    for (size_t i = 0; i < n; i++) {
        out->n = i + 1;     /* so clear() frees a half-filled entry */
        if (sync_parse_entry(json_array_get(arr, i), i, &out->entries[i],
                             err, errlen) != 0) {
            sync_batch_clear(out);
            json_decref(root);
            return SYNC_EBATCH;
        }
    }
    out->n = n;
    json_decref(root);
    return SYNC_OK;
}

char *sync_encode(const struct store_outbox_item *items, size_t n)
{
    json_t *arr = json_array(), *root;
    char *s;

    if (arr == NULL)
        log_panic("sync: out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct store_outbox_item *it = &items[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}",
                              "mail_id", it->id, "sender", it->sender,
                              "recipient", it->rcpt.address,
                              "status", store_status_name(it->rcpt.status),
                              "first_read", (json_int_t)it->rcpt.first_read_ms,
                              "last_read", (json_int_t)it->rcpt.last_read_ms,
                              "read_count", (json_int_t)it->rcpt.read_count,
                              "via", it->rcpt.via);
        if (e != NULL && it->rcpt.original_recipient != NULL &&
            json_object_set_new(e, "original_recipient",
                                json_string(it->rcpt.original_recipient)) != 0)
            e = NULL;
        if (e == NULL || json_array_append_new(arr, e) != 0)
            log_panic("sync: cannot encode outbox item %" PRIu64, it->seq);
    }
    root = json_pack("{s:o}", "entries", arr);
    if (root == NULL || (s = json_dumps(root, JSON_COMPACT)) == NULL)
        log_panic("sync: out of memory");
    json_decref(root);
    return s;
}

/* ---- receiver ---- */

struct sync_slot {
    unsigned char mac[SYNC_MAC_LEN];
    long long     expires;      /* Unix s; slot free when < now (0 = never used) */
};

struct sync_receiver {
    struct conf      *conf;     /* current config; under conf_lock */
    pthread_mutex_t   conf_lock;
    store_t          *st;
    pthread_mutex_t   lock;
    size_t            n_buckets;
    struct sync_slot *slots;    /* n_buckets * SYNC_BUCKET_SLOTS */
};

static void sync_replay_loaded(void *arg, const unsigned char *mac, size_t len,
                               uint64_t expires_s);

sync_receiver_t *sync_receiver_new(struct conf *conf, store_t *st,
                                   size_t replay_slots)
{
    sync_receiver_t *r = xcalloc(1, sizeof(*r));

    if (replay_slots == 0)
        replay_slots = 8192;
    r->conf = conf_ref(conf);
    pthread_mutex_init(&r->conf_lock, NULL);
    r->st = st;
    r->n_buckets = (replay_slots + SYNC_BUCKET_SLOTS - 1) / SYNC_BUCKET_SLOTS;
    r->slots = xcalloc(r->n_buckets * SYNC_BUCKET_SLOTS, sizeof(*r->slots));
    pthread_mutex_init(&r->lock, NULL);
    /* The signatures accepted before a restart stay refused (design §11):
     * a request captured and replayed right after a restart is a replay. */
    if (st != NULL) {
        long long now_s = (long long)time(NULL);
        int rc = store_replay_load(st, (uint64_t)now_s, sync_replay_loaded, r);
        if (rc != STORE_OK)
            log_error("sync: cannot load the replay memory: %s", store_strerror(rc));
    }
    return r;
}

sync_receiver_t *sync_receiver_free(sync_receiver_t *r)
{
    if (r == NULL)
        return NULL;
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->conf_lock);
    r->slots = xfree(r->slots);
    r->conf = conf_unref(r->conf);
    return xfree(r);
}

void sync_receiver_set_conf(sync_receiver_t *r, struct conf *conf)
{
    struct conf *old;

    conf_ref(conf);
    pthread_mutex_lock(&r->conf_lock);
    old = r->conf;
    r->conf = conf;
    pthread_mutex_unlock(&r->conf_lock);
    conf_unref(old);
}

/* The config one request uses from start to end (a reference). */
static struct conf *sync_conf_get(sync_receiver_t *r)
{
    struct conf *c;

    pthread_mutex_lock(&r->conf_lock);
    c = conf_ref(r->conf);
    pthread_mutex_unlock(&r->conf_lock);
    return c;
}

/* A live signature from the store: into the memory (a full bucket drops
 * it with a log line; the table is sized for the window's traffic). */
static int sync_remember(sync_receiver_t *r, const unsigned char *mac,
                         long long expires, long long now_s);

static void sync_replay_loaded(void *arg, const unsigned char *mac, size_t len,
                               uint64_t expires_s)
{
    sync_receiver_t *r = arg;

    if (len != SYNC_MAC_LEN)
        return;
    if (sync_remember(r, mac, (long long)expires_s, (long long)time(NULL)) ==
        SYNC_EBUSY)
        log_warn("sync: replay memory full while loading it from the mail log");
}

/* Remember mac until expires; SYNC_EREPLAY if live already, SYNC_EBUSY if full. */
static int sync_remember(sync_receiver_t *r, const unsigned char *mac,
                         long long expires, long long now_s)
{
    size_t b = ((size_t)mac[0] << 24 | (size_t)mac[1] << 16 |
                (size_t)mac[2] << 8 | mac[3]) % r->n_buckets;
    struct sync_slot *bucket = &r->slots[b * SYNC_BUCKET_SLOTS], *freeslot = NULL;
    int rc = SYNC_OK;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < SYNC_BUCKET_SLOTS; i++) {
        struct sync_slot *s = &bucket[i];
        if (s->expires < now_s) {
            if (freeslot == NULL)
                freeslot = s;
        } else if (sodium_memcmp(s->mac, mac, SYNC_MAC_LEN) == 0) {
            rc = SYNC_EREPLAY;
            break;
        }
    }
    if (rc == SYNC_OK) {
        if (freeslot == NULL) {
            rc = SYNC_EBUSY;
        } else {
            memcpy(freeslot->mac, mac, SYNC_MAC_LEN);
            freeslot->expires = expires;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static int sync_check_c(sync_receiver_t *r, const struct conf *c, const char *method,
                        const char *path, const char *server, const char *timestamp,
                        const char *sig_hex, const char *body, size_t body_len,
                        long long now_s)
{
    unsigned char mac[SYNC_MAC_LEN];
    long long ts, window = c->tracker_sync_window;
    int rc;

    if (server == NULL || *server == '\0' || strlen(server) > 255 ||
        sync_parse_timestamp(timestamp, &ts) != SYNC_OK)
        return SYNC_EHEADER;
    if (sig_hex == NULL || sync_sig_decode(sig_hex, mac) != 0)
        return SYNC_ESIG;
    rc = sync_verify(c->key_sync, sizeof(c->key_sync), method, path, timestamp, server, body,
                     body_len, sig_hex);
    if (rc != SYNC_OK)
        return SYNC_ESIG;
    if (strcmp(server, msys_this_server(c->msys)) == 0)
        return SYNC_EPEER;
    {
        int known = 0;
        for (size_t i = 0; i < msys_server_count(c->msys); i++)
            if (strcmp(msys_server_name(c->msys, i), server) == 0)
                known = 1;
        if (!known)
            return SYNC_EPEER;
    }
    if (ts < now_s - window || ts > now_s + window)
        return SYNC_ESTALE;
    rc = sync_remember(r, mac, ts + window, now_s);
    /* Durable before the batch is applied, so no restart forgets it; if
     * it cannot be written the peer retries (with a fresh signature). */
    if (rc == SYNC_OK && r->st != NULL &&
        store_replay_add(r->st, mac, SYNC_MAC_LEN, (uint64_t)(ts + window)) != STORE_OK)
        return SYNC_ESTORE;
    return rc;
}

int sync_check(sync_receiver_t *r, const char *method, const char *path,
               const char *server, const char *timestamp, const char *sig_hex,
               const char *body, size_t body_len, long long now_s)
{
    struct conf *c = sync_conf_get(r);
    int rc = sync_check_c(r, c, method, path, server, timestamp, sig_hex, body, body_len,
                          now_s);

    conf_unref(c);
    return rc;
}

static const char *sync_domain(const char *addr_key)
{
    const char *at = strrchr(addr_key, '@');
    return at ? at + 1 : "";
}

const char *sync_home_peer(const msys_t *ms, const char *sender_key)
{
    const char *home = msys_domain_server(ms, sync_domain(sender_key));

    if (home == NULL || strcmp(home, msys_this_server(ms)) == 0)
        return NULL;
    return home;
}

/* Is the entry one this server may take from peer? SYNC_R_COUNT if so. */
static enum sync_reason sync_entry_allowed(const struct conf *c, const char *peer,
                                           const struct sync_entry *e)
{
    const msys_t *ms = c->msys;
    const char *home = msys_domain_server(ms, sync_domain(e->sender));
    const char *rserver = NULL;

    if (home == NULL || strcmp(home, msys_this_server(ms)) != 0)
        return SYNC_R_FOREIGN_SENDER;
    if (msys_judge_recipient(ms, e->rcpt.address, &rserver) != MSYS_SYSTEM ||
        rserver == NULL || strcmp(rserver, peer) != 0)
        return SYNC_R_WRONG_PEER;
    if (!c->tracking)
        return SYNC_R_TRACKING_OFF;
    if (conf_is_opt_out(c, e->rcpt.address))
        return SYNC_R_OPT_OUT;
    return SYNC_R_COUNT;
}

/* Check and merge one entry: SYNC_OK with *why (SYNC_R_COUNT = merged), or
   SYNC_ESTORE. */
static int sync_apply_one(sync_receiver_t *r, const struct conf *c, const char *peer,
                          const struct sync_entry *e, enum sync_reason *why)
{
    struct store_mail_rec *rec = NULL;
    int rc;

    *why = sync_entry_allowed(c, peer, e);
    if (*why != SYNC_R_COUNT)
        return SYNC_OK;
    rc = store_get_mail(r->st, e->id, &rec);
    if (rc == STORE_ENOTFOUND) {
        *why = SYNC_R_UNKNOWN_MAIL;
        return SYNC_OK;
    }
    if (rc != STORE_OK) {
        log_error("sync from %s: mail %s: %s", peer, e->id, store_strerror(rc));
        return SYNC_ESTORE;
    }
    if (strcmp(rec->mail.sender, e->sender) != 0)
        *why = SYNC_R_SENDER_MISMATCH;
    rec = store_mail_rec_free(rec);
    if (*why != SYNC_R_COUNT)
        return SYNC_OK;
    /* A member entry (list or alias) is created only when its original
     * recipient was recorded here as hosted by this very peer. */
    rc = store_merge_member(r->st, e->id, &e->rcpt, peer, NULL);
    if (rc == STORE_ENORCPT) {
        *why = SYNC_R_UNKNOWN_RECIPIENT;
    } else if (rc == STORE_ENOTFOUND) {
        *why = SYNC_R_UNKNOWN_MAIL;
    } else if (rc != STORE_OK) {
        log_error("sync from %s: mail %s: %s", peer, e->id, store_strerror(rc));
        return SYNC_ESTORE;
    }
    return SYNC_OK;
}

/*
 * Every merge is its own durable write.  Issued one after the other, a batch
 * of 100 costs 100 fsyncs; issued from several threads at once, the store's
 * group commit puts the waiting ones into one transaction (measured: 100
 * entries: 740 ms one after the other, 10-60 ms from 16 threads, on a
 * loaded 2-core box).  Merges are order-free, so the entries of a batch may
 * be applied in any order.
 */
#define SYNC_APPLY_THREADS 16

struct sync_job {
    sync_receiver_t         *r;
    const struct conf       *c;
    const char              *peer;
    const struct sync_batch *b;
    enum sync_reason        *why;     /* per entry */
    atomic_size_t            next;
    atomic_int               failed;
};

static void *sync_worker(void *arg)
{
    struct sync_job *j = arg;
    size_t i;

    while ((i = atomic_fetch_add(&j->next, 1)) < j->b->n && !atomic_load(&j->failed))
        if (sync_apply_one(j->r, j->c, j->peer, &j->b->entries[i], &j->why[i]) != SYNC_OK)
            atomic_store(&j->failed, 1);
    return NULL;
}

static int sync_apply_c(sync_receiver_t *r, const struct conf *c, const char *peer,
                        const struct sync_batch *b, struct sync_apply_result *res)
{
    struct sync_job job = { .r = r, .c = c, .peer = peer, .b = b };
    pthread_t tid[SYNC_APPLY_THREADS];
    size_t n_threads = 0, want = b->n < SYNC_APPLY_THREADS ? b->n : SYNC_APPLY_THREADS;
    sigset_t all, old;

    memset(res, 0, sizeof(*res));
    if (b->n == 0)
        return SYNC_OK;
    job.why = xcalloc(b->n, sizeof(*job.why));
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    /* helpers block signals; this thread is one of the workers */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (n_threads + 1 < want &&
           pthread_create(&tid[n_threads], NULL, sync_worker, &job) == 0)
        n_threads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sync_worker(&job);
    for (size_t t = 0; t < n_threads; t++)
        pthread_join(tid[t], NULL);
    if (atomic_load(&job.failed)) {
        xfree(job.why);
        return SYNC_ESTORE;     /* merges done so far stay: they are idempotent */
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct sync_entry *e = &b->entries[i];
        enum sync_reason why = job.why[i];

        if (why == SYNC_R_COUNT) {
            res->merged++;
            atomic_fetch_add(&sync_merged, 1);
            reclog_line(e->id, e->rcpt.address, store_status_name(e->rcpt.status),
                        e->rcpt.via, "peer", peer, NULL, NULL);
        } else {
            res->refused++;
            res->by_reason[why]++;
            atomic_fetch_add(&sync_refused[why], 1);
            reclog_line(e->id, e->rcpt.address, store_status_name(e->rcpt.status),
                        e->rcpt.via, "peer", peer, sync_reason_name(why), NULL);
        }
    }
    xfree(job.why);
    return SYNC_OK;
}

int sync_apply(sync_receiver_t *r, const char *peer, const struct sync_batch *b,
               struct sync_apply_result *res)
{
    struct conf *c = sync_conf_get(r);
    int rc = sync_apply_c(r, c, peer, b, res);

    conf_unref(c);
    return rc;
}

struct sync_refusal sync_check_refusal(int rc)
{
    switch (rc) {
    case SYNC_EHEADER:
        return (struct sync_refusal){ 400, SYNC_R_BAD_HEADER,
            "X-Mailstate-Server and X-Mailstate-Timestamp are required" };
    case SYNC_ESIG:
        return (struct sync_refusal){ 401, SYNC_R_BAD_SIGNATURE,
            "X-Mailstate-Signature does not verify" };
    case SYNC_EPEER:
        return (struct sync_refusal){ 403, SYNC_R_UNKNOWN_PEER,
            "not another server of this mail system" };
    case SYNC_ESTALE:
        return (struct sync_refusal){ 409, SYNC_R_STALE,
            "timestamp outside the sync window; check the clocks" };
    case SYNC_EREPLAY:
        return (struct sync_refusal){ 409, SYNC_R_REPLAY,
            "this signed request was already accepted" };
    default:
        /* SYNC_EBUSY, and SYNC_ESTORE (the replay memory could not be made
         * durable): either way the peer retries later */
        return (struct sync_refusal){ 503, SYNC_R_BUSY,
            "too many recent syncs, retry later" };
    }
}

char *sync_error_reply(const char *error, const char *detail)
{
    json_t *j = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    char *s;

    if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL)
        log_panic("sync: out of memory");
    json_decref(j);
    return s;
}

static int sync_fail(enum sync_reason why, int status, const char *server,
                     const char *detail, char **reply)
{
    atomic_fetch_add(&sync_refused[why], 1);
    log_warn("sync from %.64s: refused (%d %s): %s", server ? server : "?",
             status, sync_reason_name(why), detail);
    *reply = sync_error_reply(sync_reason_name(why), detail);
    return status;
}

static int sync_handle_c(sync_receiver_t *r, const struct conf *c, const char *method,
                         const char *path, const char *server, const char *timestamp,
                         const char *sig_hex, const char *body, size_t body_len,
                         long long now_s, char **reply)
{
    struct sync_batch b;
    struct sync_apply_result res;
    char err[256];
    int rc;
    json_t *j;

    *reply = NULL;
    if (body == NULL)
        body = "";
    rc = sync_check_c(r, c, method, path, server, timestamp, sig_hex, body, body_len,
                      now_s);
    if (rc != SYNC_OK) {
        struct sync_refusal f = sync_check_refusal(rc);
        return sync_fail(f.reason, f.status, server, f.detail, reply);
    }
    rc = sync_parse(body, body_len, &b, err, sizeof(err));
    if (rc != SYNC_OK)
        return sync_fail(SYNC_R_BAD_BODY, rc == SYNC_EJSON ? 400 : 422, server,
                         err, reply);
    rc = sync_apply_c(r, c, server, &b, &res);
    sync_batch_clear(&b);
    if (rc != SYNC_OK)
        return sync_fail(SYNC_R_STORE, 503, server, "store error, retry later",
                         reply);
    if (res.refused > 0 || log_get_level() >= LOG_LEVEL_DEBUG)
        log_info("sync from %s: %zu merged, %zu refused", server, res.merged,
                 res.refused);
    j = json_pack("{s:I, s:I}", "merged", (json_int_t)res.merged,
                  "refused", (json_int_t)res.refused);
    if (j == NULL || (*reply = json_dumps(j, JSON_COMPACT)) == NULL)
        log_panic("sync: out of memory");
    json_decref(j);
    return 200;
}

int sync_handle(sync_receiver_t *r, const char *method, const char *path,
                const char *server, const char *timestamp, const char *sig_hex,
                const char *body, size_t body_len, long long now_s,
                char **reply)
{
    struct conf *c = sync_conf_get(r);
    int status = sync_handle_c(r, c, method, path, server, timestamp, sig_hex, body,
                               body_len, now_s, reply);

    conf_unref(c);
    return status;
}

uint64_t sync_refused_count(enum sync_reason r)
{
    return (r >= 0 && r < SYNC_R_COUNT) ? atomic_load(&sync_refused[r]) : 0;
}

uint64_t sync_merged_count(void)
{
    return atomic_load(&sync_merged);
}

void sync_metrics_write(FILE *fp)
{
    fprintf(fp, "# HELP mailstate_sync_entries_merged_total Synced entries merged into the mail log.\n"
                "# TYPE mailstate_sync_entries_merged_total counter\n"
                "mailstate_sync_entries_merged_total %" PRIu64 "\n",
            sync_merged_count());
    fprintf(fp, "# HELP mailstate_sync_refused_total Sync requests (and entries) refused, by reason.\n"
                "# TYPE mailstate_sync_refused_total counter\n");
    for (int i = 0; i < SYNC_R_COUNT; i++)
        fprintf(fp, "mailstate_sync_refused_total{reason=\"%s\"} %" PRIu64 "\n",
                sync_reason_names[i], sync_refused_count((enum sync_reason)i));
}
