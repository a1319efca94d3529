/*
 * forwarder - one thread per peer draining the outbox (contract in forwarder.h).
 */
#include "forwarder.h"
#include "deadline.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "erase.h"
#include "log.h"
#include "msys.h"
#include "store_erase.h"
#include "sync.h"
#include "xmem.h"

#define FWD_REPLY_MAX 65536

struct fwd_peer {
    struct fwd      *f;
    char            *name;
    char            *url;          /* tracker URL + /v1/sync */
    char            *erase_url;    /* tracker URL + /v1/erase */
    pthread_t        thread;
    int              started;
    int              kicked;       /* under f->lock */
    _Atomic uint64_t attempts, failures, sent, refused, parked;
    _Atomic uint64_t erasures_sent, erasures_dropped;
};

struct fwd {
    struct conf     *conf;
    store_t         *st;
    struct fwd_opts  o;
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    atomic_int       stop;
    struct fwd_peer *peers;
    size_t           n_peers;
};

/* What became of one request. */
enum fwd_outcome { FWD_DONE, FWD_RETRY, FWD_REFUSED };

static pthread_once_t fwd_curl_once = PTHREAD_ONCE_INIT;

static void fwd_curl_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        log_fatal("forwarder: curl_global_init failed");
}

static uint64_t fwd_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t fwd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Wait up to ms on the condition, until stop (or a kick, if wake_on_kick).
 * Called with f->lock held.
 */
static void fwd_wait(struct fwd_peer *p, unsigned ms, int wake_on_kick)
{
    struct fwd *f = p->f;
    struct timespec until = deadline_in(CLOCK_MONOTONIC, ms);

    while (!atomic_load(&f->stop) && !(wake_on_kick && p->kicked)) {
        if (pthread_cond_timedwait(&f->cond, &f->lock, &until) != 0)
            break;   /* ETIMEDOUT */
    }
}

static unsigned fwd_backoff(const struct fwd_opts *o, uint64_t failures)
{
    uint64_t d = o->backoff_min_ms;

    for (uint64_t i = 1; i < failures && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    /* "equal jitter": half fixed, half random, so peers do not retry in step */
    return (unsigned)(d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1)));
}

struct fwd_buf {
    char  *data;
    size_t len;
};

static size_t fwd_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct fwd_buf *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n > FWD_REPLY_MAX)
        n = FWD_REPLY_MAX - b->len;     /* keep the start, drop the rest */
    if (n > 0) {
        b->data = xrealloc(b->data, b->len + n + 1);
        memcpy(b->data + b->len, ptr, n);
        b->len += n;
        b->data[b->len] = '\0';
    }
    return size * nmemb;
}

static int fwd_progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                           curl_off_t ultotal, curl_off_t ulnow)
{
    struct fwd *f = clientp;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&f->stop) ? 1 : 0;   /* non-zero aborts the transfer */
}

/*
 * Answers that blame the items: the body (400 not JSON / bad headers, 413
 * too large, 422 a bad entry).  401 (signature), 403 (not a known peer) and
 * 404 (no sync route at that URL) blame the configuration of one side - a
 * key rotated on one server first, a server list not yet updated, a wrong
 * tracker URL - and every item would fail alike: parking them would lose
 * every read of the outage for good (nothing takes items out of "parked"),
 * so those are retried with backoff until the configuration is fixed.
 */
static int fwd_permanent(long code)
{
    return code == 400 || code == 413 || code == 422;
}

/*
 * POST body to url, signed for path with the key of the current config
 * (fwd_set_conf).  Returns the curl result; *code = the HTTP status;
 * reply receives the start of the answer (caller frees reply->data).
 */
static CURLcode fwd_request(struct fwd_peer *p, CURL *curl, const char *url,
                            const char *path, const char *body, long *code,
                            struct fwd_buf *reply)
{
    struct conf *c;
    const char *me;
    char ts[24], sig[SYNC_SIG_HEX_LEN + 1];
    char *h_server, *h_ts, *h_sig;
    struct curl_slist *hdrs = NULL;
    CURLcode cc;

    pthread_mutex_lock(&p->f->lock);
    c = conf_ref(p->f->conf);
    pthread_mutex_unlock(&p->f->lock);
    me = msys_this_server(c->msys);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    sync_sign(c->key_sync, sizeof(c->key_sync), "POST", path, ts, me, body, strlen(body), sig);
    h_server = xasprintf("%s: %s", SYNC_HDR_SERVER, me);
    h_ts = xasprintf("%s: %s", SYNC_HDR_TIMESTAMP, ts);
    h_sig = xasprintf("%s: %s", SYNC_HDR_SIGNATURE, sig);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");    /* no 100-continue round trip */
    hdrs = curl_slist_append(hdrs, h_server);
    hdrs = curl_slist_append(hdrs, h_ts);
    hdrs = curl_slist_append(hdrs, h_sig);
    if (hdrs == NULL)
        log_panic("forwarder: out of memory");

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fwd_write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);

    atomic_fetch_add(&p->attempts, 1);
    *code = 0;
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdrs);
    xfree(h_server);
    xfree(h_ts);
    xfree(h_sig);
    conf_unref(c);
    return cc;
}

/* What an answer means; logs the failures ("what" names the items). */
static enum fwd_outcome fwd_judge(struct fwd_peer *p, CURLcode cc, long code,
                                  const struct fwd_buf *reply, size_t n, const char *what)
{
    if (cc != CURLE_OK) {
        if (!atomic_load(&p->f->stop))
            log_warn("%zu %s not sent: %s", n, what, curl_easy_strerror(cc));
        return FWD_RETRY;
    }
    if (code >= 200 && code < 300)
        return FWD_DONE;
    log_warn("%zu %s not taken: HTTP %ld: %.200s%s", n, what, code,
             reply->data ? reply->data : "",
             code == 401 || code == 403 || code == 404
                 ? " (check key_file, the [server] list and the tracker URL on both "
                   "servers; retrying)" : "");
    return fwd_permanent(code) ? FWD_REFUSED : FWD_RETRY;
}

/* POST one batch; on FWD_DONE *refused = entries the peer refused. */
static enum fwd_outcome fwd_post(struct fwd_peer *p, CURL *curl,
                                 const struct store_outbox_item *items, size_t n,
                                 uint64_t *refused)
{
    char *body = sync_encode(items, n);
    struct fwd_buf reply = { NULL, 0 };
    long code;
    CURLcode cc = fwd_request(p, curl, p->url, SYNC_PATH, body, &code, &reply);
    enum fwd_outcome out = fwd_judge(p, cc, code, &reply, n, "item(s)");

    if (out == FWD_DONE) {
        json_t *j = reply.data ? json_loads(reply.data, 0, NULL) : NULL;
        json_t *r = j ? json_object_get(j, "refused") : NULL;
        *refused = json_is_integer(r) && json_integer_value(r) > 0
                       ? (uint64_t)json_integer_value(r) : 0;
        json_decref(j);
        log_debug("%zu item(s) sent (%ld), %" PRIu64 " refused by the peer",
                  n, code, *refused);
    }
    xfree(reply.data);
    free(body);         /* from json_dumps */
    return out;
}

/*
 * The peer's queued erasures (erase.h), one request: *sent = how
 * many left the queue.  A peer that refuses them for good (a body it can
 * never take: only servers of different versions) gets them dropped, each
 * named in an error line, so that its outbox is not held up for ever; the
 * administrator then erases there by hand.
 */
static enum fwd_outcome fwd_erasures(struct fwd_peer *p, CURL *curl, size_t *sent)
{
    struct store_erasure *items = NULL;
    struct fwd_buf reply = { NULL, 0 };
    size_t n = 0;
    long code;
    int rc;

    *sent = 0;
    rc = store_erasure_peek(p->f->st, p->name, ERASE_MAX_ITEMS, &items, &n);
    if (rc != STORE_OK) {
        log_error("erasures: %s", store_strerror(rc));
        return FWD_RETRY;
    }
    if (n == 0)
        return FWD_DONE;
    char *body = erase_encode(items, n);
    CURLcode cc = fwd_request(p, curl, p->erase_url, ERASE_PATH, body, &code, &reply);
    enum fwd_outcome out = fwd_judge(p, cc, code, &reply, n, "erasure(s)");
    if (out != FWD_RETRY) {
        uint64_t *seqs = xcalloc(n, sizeof(*seqs));
        for (size_t i = 0; i < n; i++) {
            seqs[i] = items[i].seq;
            if (out == FWD_DONE)
                log_info("erasure of %s delivered to %s", items[i].address, p->name);
            else
                log_error("erasure of %s dropped: %s will never take it; erase there "
                          "by hand (mailstatectl erase)", items[i].address, p->name);
        }
        if ((rc = store_erasure_delete(p->f->st, p->name, seqs, n)) != STORE_OK)
            log_error("erasures: delete: %s (they will be sent again)", store_strerror(rc));
        atomic_fetch_add(out == FWD_DONE ? &p->erasures_sent : &p->erasures_dropped, n);
        *sent = n;
        xfree(seqs);
    }
    xfree(reply.data);
    free(body);         /* from json_dumps */
    store_erasure_free(items, n);
    return out == FWD_REFUSED ? FWD_DONE : out;
}

static CURL *fwd_curl_new(struct fwd *f)
{
    CURL *curl = curl_easy_init();

    if (curl == NULL)
        log_panic("forwarder: curl_easy_init failed");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)f->o.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)f->o.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, fwd_progress_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, f);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mailstate-forwarder");
    return curl;
}

static void *fwd_thread(void *arg)
{
    struct fwd_peer *p = arg;
    struct fwd *f = p->f;
    CURL *curl = fwd_curl_new(f);
    size_t limit = f->o.batch_max, isolate = 0;
    uint64_t failures = 0, erase_failures = 0, erase_after = 0;

    log_context("forward %s", p->name);
    log_info("forwarding to %s", p->url);
    pthread_mutex_lock(&f->lock);
    while (!atomic_load(&f->stop)) {
        struct store_outbox_item *items = NULL;
        size_t n = 0;
        uint64_t *seqs, refused = 0;
        char what[400] = "";
        enum fwd_outcome out;
        int rc;

        p->kicked = 0;      /* a kick from now on means: look again */
        pthread_mutex_unlock(&f->lock);
        /* erasures first, each round, on their own backoff: a failing one
           (a peer of an older version answers 404) does not hold up the
           outbox, and order does not matter (forwarder.h) */
        if (fwd_mono_ms() >= erase_after) {
            size_t erased = 0;
            if (fwd_erasures(p, curl, &erased) == FWD_RETRY) {
                atomic_fetch_add(&p->failures, 1);
                erase_failures++;
                erase_after = fwd_mono_ms() + fwd_backoff(&f->o, erase_failures);
            } else {
                erase_failures = 0;
            }
            if (erased > 0) {
                pthread_mutex_lock(&f->lock);
                continue;           /* more may wait */
            }
        }
        rc = store_outbox_peek(f->st, p->name, limit, &items, &n);
        if (rc != STORE_OK) {
            log_error("outbox: %s", store_strerror(rc));
            pthread_mutex_lock(&f->lock);
            fwd_wait(p, f->o.backoff_max_ms, 0);
            continue;
        }
        if (n == 0) {
            pthread_mutex_lock(&f->lock);
            fwd_wait(p, f->o.poll_ms, 1);
            continue;
        }
        out = fwd_post(p, curl, items, n, &refused);
        seqs = xcalloc(n, sizeof(*seqs));
        for (size_t i = 0; i < n; i++)
            seqs[i] = items[i].seq;
        if (out == FWD_REFUSED && n == 1)   /* the log names what is parked */
            snprintf(what, sizeof(what), "mail %s: read of %.320s", items[0].id,
                     items[0].rcpt.address ? items[0].rcpt.address : "?");
        store_outbox_free(items, n);

        if (out == FWD_DONE) {
            if ((rc = store_outbox_delete(f->st, p->name, seqs, n)) != STORE_OK)
                log_error("outbox: delete: %s (items will be sent again)",
                          store_strerror(rc));
            atomic_fetch_add(&p->sent, n);
            atomic_fetch_add(&p->refused, refused);
            if (failures > 0)
                log_info("%s reachable again after %" PRIu64 " failed attempt(s)",
                         p->name, failures);
            failures = 0;
        } else if (out == FWD_REFUSED && n > 1) {
            /* find the item(s) the peer objects to: go through this batch
               one item at a time, then back to full batches */
            isolate = n;
        } else if (out == FWD_REFUSED) {
            if ((rc = store_outbox_park(f->st, p->name, seqs, n)) != STORE_OK)
                log_error("outbox: park: %s", store_strerror(rc));
            else
                atomic_fetch_add(&p->parked, n);
            log_warn("%s (outbox item %" PRIu64 ") parked: %s will never take it", what,
                     seqs[0], p->name);
        }
        xfree(seqs);
        if (out != FWD_RETRY && !(out == FWD_REFUSED && n > 1) && isolate > 0)
            isolate--;
        limit = isolate > 0 ? 1 : f->o.batch_max;
        pthread_mutex_lock(&f->lock);
        if (out == FWD_RETRY && !atomic_load(&f->stop)) {
            atomic_fetch_add(&p->failures, 1);
            failures++;
            fwd_wait(p, fwd_backoff(&f->o, failures), 0);
        }
    }
    pthread_mutex_unlock(&f->lock);
    curl_easy_cleanup(curl);
    log_context(NULL);
    return NULL;
}

static unsigned fwd_default(unsigned v, unsigned def)
{
    return v ? v : def;
}

fwd_t *fwd_start(struct conf *conf, store_t *st, const struct fwd_opts *opts)
{
    struct fwd *f = xcalloc(1, sizeof(*f));
    const msys_t *ms = conf->msys;
    const char *me = msys_this_server(ms);
    pthread_condattr_t ca;
    sigset_t all, old;

    pthread_once(&fwd_curl_once, fwd_curl_init);
    if (opts)
        f->o = *opts;
    f->o.batch_max = f->o.batch_max ? f->o.batch_max : 100;
    if (f->o.batch_max > SYNC_MAX_ENTRIES)
        f->o.batch_max = SYNC_MAX_ENTRIES;
    f->o.backoff_min_ms = fwd_default(f->o.backoff_min_ms, 1000);
    f->o.backoff_max_ms = fwd_default(f->o.backoff_max_ms, 60000);
    if (f->o.backoff_max_ms < f->o.backoff_min_ms)
        f->o.backoff_max_ms = f->o.backoff_min_ms;
    f->o.timeout_ms = fwd_default(f->o.timeout_ms, 30000);
    f->o.connect_timeout_ms = fwd_default(f->o.connect_timeout_ms, 5000);
    if (f->o.connect_timeout_ms > f->o.timeout_ms)
        f->o.connect_timeout_ms = f->o.timeout_ms;
    f->o.poll_ms = fwd_default(f->o.poll_ms, 30000);
    f->conf = conf_ref(conf);
    f->st = st;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);

    f->peers = xcalloc(msys_server_count(ms) + 1, sizeof(*f->peers));
    for (size_t i = 0; i < msys_server_count(ms); i++) {
        const char *name = msys_server_name(ms, i);
        const char *url = msys_server_tracker(ms, name);
        struct fwd_peer *p;
        size_t len;

        if (strcmp(name, me) == 0)
            continue;
        if (url == NULL || *url == '\0') {
            log_warn("forwarder: server %s has no tracker URL; reads for its "
                     "senders stay in the outbox", name);
            continue;
        }
        p = &f->peers[f->n_peers++];
        p->f = f;
        p->name = xstrdup(name);
        len = strlen(url);
        while (len > 0 && url[len - 1] == '/')
            len--;
        p->url = xasprintf("%.*s%s", (int)len, url, SYNC_PATH);
        p->erase_url = xasprintf("%.*s%s", (int)len, url, ERASE_PATH);
    }
    /* the threads block every signal: SIGTERM/SIGHUP belong to the main thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < f->n_peers; i++) {
        struct fwd_peer *p = &f->peers[i];
        int rc = pthread_create(&p->thread, NULL, fwd_thread, p);
        if (rc != 0)
            log_fatal("forwarder: cannot start a thread for %s: %s", p->name,
                      strerror(rc));
        p->started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return f;
}

void fwd_kick(fwd_t *f, const char *peer)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n_peers; i++)
        if (peer == NULL || strcmp(f->peers[i].name, peer) == 0)
            f->peers[i].kicked = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

fwd_t *fwd_stop(fwd_t *f)
{
    if (f == NULL)
        return NULL;
    pthread_mutex_lock(&f->lock);
    atomic_store(&f->stop, 1);
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < f->n_peers; i++) {
        if (f->peers[i].started)
            pthread_join(f->peers[i].thread, NULL);
        f->peers[i].name = xfree(f->peers[i].name);
        f->peers[i].url = xfree(f->peers[i].url);
        f->peers[i].erase_url = xfree(f->peers[i].erase_url);
    }
    f->peers = xfree(f->peers);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    f->conf = conf_unref(f->conf);
    return xfree(f);
}

void fwd_set_conf(fwd_t *f, struct conf *conf)
{
    struct conf *old;

    if (f == NULL)
        return;
    conf_ref(conf);
    pthread_mutex_lock(&f->lock);
    old = f->conf;
    f->conf = conf;
    pthread_mutex_unlock(&f->lock);
    conf_unref(old);
}

static struct fwd_peer *fwd_find(fwd_t *f, const char *peer)
{
    for (size_t i = 0; i < f->n_peers; i++)
        if (strcmp(f->peers[i].name, peer) == 0)
            return &f->peers[i];
    return NULL;
}

int fwd_peer_stats(fwd_t *f, const char *peer, struct fwd_peer_stats *out)
{
    struct fwd_peer *p = f ? fwd_find(f, peer) : NULL;

    memset(out, 0, sizeof(*out));
    if (p == NULL)
        return -1;
    out->attempts = atomic_load(&p->attempts);
    out->failures = atomic_load(&p->failures);
    out->sent = atomic_load(&p->sent);
    out->refused = atomic_load(&p->refused);
    out->parked = atomic_load(&p->parked);
    out->erasures_sent = atomic_load(&p->erasures_sent);
    out->erasures_dropped = atomic_load(&p->erasures_dropped);
    if (store_erasure_stats(f->st, p->name, &out->erasures, NULL) != STORE_OK)
        return -1;
    if (store_outbox_stats(f->st, p->name, &out->depth, &out->oldest_ms,
                           &out->parked_total) != STORE_OK)
        return -1;
    return 0;
}

void fwd_metrics_write(fwd_t *f, FILE *fp)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        { "mailstate_outbox_depth", "gauge", "Items waiting in the outbox, per peer." },
        { "mailstate_outbox_oldest_age_seconds", "gauge",
          "Age of the oldest waiting item (0 when empty)." },
        { "mailstate_outbox_parked", "gauge", "Items a peer refused for good." },
        { "mailstate_forward_attempts_total", "counter", "Sync requests sent to a peer." },
        { "mailstate_forward_failures_total", "counter",
          "Sync requests that failed and will be retried." },
        { "mailstate_forward_items_sent_total", "counter", "Items a peer took (2xx)." },
        { "mailstate_forward_items_refused_total", "counter",
          "Items a peer took but refused to merge (counted there by reason)." },
        { "mailstate_forward_items_parked_total", "counter",
          "Items parked because the peer will never take them." },
        { "mailstate_outbox_full", "gauge",
          "1 while the peer's outbox is at forward_max_queue (new entries not queued)." },
        { "mailstate_outbox_erasures", "gauge",
          "Erasures (mailstatectl erase) waiting to be sent to the peer." },
        { "mailstate_forward_erasures_sent_total", "counter", "Erasures a peer took (2xx)." },
        { "mailstate_forward_erasures_dropped_total", "counter",
          "Erasures dropped because the peer will never take them." },
    };
    struct fwd_peer_stats *s;
    uint64_t now = fwd_now_ms();

    if (f == NULL || f->n_peers == 0)
        return;
    /* the bound is the store's, set at start like the other forward_* keys */
    pthread_mutex_lock(&f->lock);
    size_t max = (size_t)f->conf->tracker_forward_max_queue;
    pthread_mutex_unlock(&f->lock);
    s = xcalloc(f->n_peers, sizeof(*s));
    for (size_t i = 0; i < f->n_peers; i++)
        fwd_peer_stats(f, f->peers[i].name, &s[i]);
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help,
                m[k].name, m[k].type);
        for (size_t i = 0; i < f->n_peers; i++) {
            uint64_t v[] = {
                s[i].depth,
                s[i].oldest_ms && now > s[i].oldest_ms ? now - s[i].oldest_ms : 0,
                s[i].parked_total, s[i].attempts, s[i].failures, s[i].sent,
                s[i].refused, s[i].parked,
                max > 0 && s[i].depth >= max,
                s[i].erasures, s[i].erasures_sent, s[i].erasures_dropped,
            };
            if (k == 1)     /* an age: seconds with milliseconds */
                fprintf(fp, "%s{peer=\"%s\"} %" PRIu64 ".%03u\n", m[k].name,
                        f->peers[i].name, v[k] / 1000, (unsigned)(v[k] % 1000));
            else
                fprintf(fp, "%s{peer=\"%s\"} %" PRIu64 "\n", m[k].name,
                        f->peers[i].name, v[k]);
        }
    }
    xfree(s);
}
