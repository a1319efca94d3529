/*
 * webhook - the feed's outgoing webhooks (see webhook.h).
 */
#include "webhook.h"
#include "deadline.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "feed.h"
#include "log.h"
#include "whsig.h"
#include "xmem.h"

struct hook {
    struct hook         *next;
    char                *name;
    char                *url;
    unsigned char       *secret;
    size_t               secret_len;
    unsigned             events;
    unsigned             backoff_max_s;
    long                 timeout_ms;
    store_t             *st;
    pthread_t            thread;
    _Atomic int          stop;          /* this one is being stopped */
    atomic_uint_fast64_t cursor;
    atomic_uint_fast64_t delivered, failures;
};

/* The running webhooks, in config order.  The list is changed only by the
 * thread that calls webhooks_start/reload/stop (the main thread), under
 * hooks_lock, which also guards the metrics' walk and the threads' sleeps. */
static struct hook    *hooks;
static store_t        *hooks_st;
static int             hooks_started;
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  hooks_cond;

/* ---- pure ---- */

unsigned webhook_backoff_s(unsigned failures, unsigned max_s)
{
    unsigned s = 1;

    if (max_s == 0)
        max_s = 1;
    for (unsigned i = 1; i < failures && s < max_s; i++)
        s *= 2;
    return s < max_s ? s : max_s;
}

int webhook_wants(unsigned events, const struct store_feed_event *e)
{
    const char *name = store_events_name(e);

    if (strcmp(name, "read") == 0)
        return (events & CONF_EV_READ) != 0;
    if (strcmp(name, "received") == 0)
        return (events & CONF_EV_RECEIVED) != 0;
    if (strcmp(name, "deleted_unread") == 0)
        return (events & CONF_EV_DELETED_UNREAD) != 0;
    return 0;                   /* "sent": a bare member entry from a peer */
}

char *webhook_body(const char *name, const struct store_feed_event *const *ev, size_t n,
                   size_t *len)
{
    json_t *o = json_object(), *arr = json_array();
    char *s;

    json_object_set_new(o, "webhook", json_string(name));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, feed_event_json(ev[i]));
    json_object_set_new(o, "events", arr);
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        log_panic("webhook: out of memory");
    *len = strlen(s);
    return s;
}

/* ---- delivery ---- */

/* Sleep ms or until h is stopped; 1 if it is. */
static int hook_sleep(struct hook *h, unsigned long ms)
{
    struct timespec until = deadline_in(CLOCK_MONOTONIC, ms);
    int stop;

    pthread_mutex_lock(&hooks_lock);
    while (!atomic_load(&h->stop) &&
           pthread_cond_timedwait(&hooks_cond, &hooks_lock, &until) != ETIMEDOUT)
        ;
    stop = atomic_load(&h->stop);
    pthread_mutex_unlock(&hooks_lock);
    return stop;
}

static size_t hook_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr, (void)arg;
    return size * nmemb;
}

static int hook_progress(void *clientp, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct hook *h = clientp;
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&h->stop) ? 1 : 0;
}

/* One POST of body; 1 on a 2xx. */
static int hook_post(struct hook *h, CURL *curl, const char *body, size_t len,
                     uint64_t first, uint64_t last)
{
    char sig[WHSIG_HEADER_MAX], h_sig[WHSIG_HEADER_MAX + 32], h_id[160];
    struct curl_slist *hdrs = NULL;
    long code = 0;
    CURLcode cc;

    whsig_header(h->secret, h->secret_len, (uint64_t)time(NULL), body, len, sig);
    snprintf(h_sig, sizeof h_sig, "Mailstate-Signature: %s", sig);
    snprintf(h_id, sizeof h_id, "Mailstate-Delivery: %s-%llu-%llu", h->name,
             (unsigned long long)first, (unsigned long long)last);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, h_sig);
    hdrs = curl_slist_append(hdrs, h_id);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    if (cc == CURLE_OK && code >= 200 && code < 300)
        return 1;
    if (!atomic_load(&h->stop)) {
        if (cc != CURLE_OK)
            log_warn("webhook %s: events %llu..%llu not delivered: %s", h->name,
                     (unsigned long long)first, (unsigned long long)last,
                     curl_easy_strerror(cc));
        else
            log_warn("webhook %s: events %llu..%llu not delivered: HTTP %ld", h->name,
                     (unsigned long long)first, (unsigned long long)last, code);
    }
    return 0;
}

static CURL *hook_curl(struct hook *h)
{
    CURL *curl = curl_easy_init();

    if (curl == NULL)
        log_panic("webhook: curl_easy_init failed");
    curl_easy_setopt(curl, CURLOPT_URL, h->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, hook_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, hook_discard);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mailstate-webhook");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    return curl;
}

/* Move the cursor to seq, durably; retried until it sticks or we stop. */
static int hook_advance(struct hook *h, uint64_t seq)
{
    unsigned failures = 0;
    int rc;

    while ((rc = store_events_cursor_set(h->st, h->name, seq)) != STORE_OK) {
        log_error("webhook %s: cannot save the position %llu: %s", h->name,
                  (unsigned long long)seq, store_strerror(rc));
        if (rc == STORE_ECLOSED || hook_sleep(h, 1000u * webhook_backoff_s(++failures, 60)))
            return -1;
    }
    atomic_store(&h->cursor, seq);
    return 0;
}

static void *hook_main(void *arg)
{
    struct hook *h = arg;
    CURL *curl = hook_curl(h);
    uint64_t cursor = 0;
    int rc;

    while ((rc = store_events_cursor_get(h->st, h->name, &cursor)) != STORE_OK) {
        log_error("webhook %s: cannot read its position: %s", h->name, store_strerror(rc));
        if (hook_sleep(h, 1000))
            goto out;
    }
    atomic_store(&h->cursor, cursor);
    while (!atomic_load(&h->stop)) {
        struct store_feed_event *ev = NULL;
        const struct store_feed_event *want[WEBHOOK_BATCH];
        size_t n = 0, k = 0;
        uint64_t last = 0;

        cursor = atomic_load(&h->cursor);
        rc = store_events_read(h->st, cursor, WEBHOOK_BATCH, &ev, &n, &last);
        if (rc != STORE_OK) {
            log_error("webhook %s: cannot read the feed: %s", h->name, store_strerror(rc));
            if (hook_sleep(h, 1000))
                break;
            continue;
        }
        if (n == 0) {
            if (last < cursor)
                log_warn("webhook %s: position %llu is past the feed's newest event %llu "
                         "(a restored mail log?); waiting for %llu", h->name,
                         (unsigned long long)cursor, (unsigned long long)last,
                         (unsigned long long)cursor + 1);
            if (feed_wait_for(h->st, cursor, 30000, &h->stop) < 0 && hook_sleep(h, 1000))
                break;          /* the feed stopped first (shutdown) */
            continue;
        }
        if (ev[0].seq > cursor + 1)
            log_warn("webhook %s: events %llu..%llu were pruned before delivery", h->name,
                     (unsigned long long)cursor + 1, (unsigned long long)ev[0].seq - 1);
        for (size_t i = 0; i < n; i++)
            if (webhook_wants(h->events, &ev[i]))
                want[k++] = &ev[i];
        uint64_t upto = ev[n - 1].seq;
        if (k > 0) {
            size_t len;
            char *body = webhook_body(h->name, want, k, &len);
            unsigned failures = 0;
            int ok;
            while (!(ok = hook_post(h, curl, body, len, want[0]->seq, want[k - 1]->seq))) {
                atomic_fetch_add(&h->failures, 1);
                if (hook_sleep(h, 1000ul * webhook_backoff_s(++failures, h->backoff_max_s)))
                    break;
            }
            free(body);
            if (ok) {
                atomic_fetch_add(&h->delivered, k);
                if (failures > 0)
                    log_info("webhook %s: events %llu..%llu delivered after %u failures",
                             h->name, (unsigned long long)want[0]->seq,
                             (unsigned long long)want[k - 1]->seq, failures);
            } else {
                upto = 0;       /* stopping: not delivered, keep the cursor */
            }
        }
        store_events_free(ev, n);
        if (upto > 0 && hook_advance(h, upto) != 0)
            break;
    }
out:
    curl_easy_cleanup(curl);
    return NULL;
}

/* The settings of w as a hook would run them; 1 if h runs exactly those. */
static int hook_same(const struct hook *h, const struct conf_webhook *w, const struct conf *c)
{
    return strcmp(h->url, w->url) == 0 && h->secret_len == w->secret_len &&
           (w->secret_len == 0 || sodium_memcmp(h->secret, w->secret, w->secret_len) == 0) &&
           h->events == w->events && h->backoff_max_s == (unsigned)c->webhook_backoff_max &&
           h->timeout_ms == (long)c->webhook_timeout * 1000L;
}

static struct hook *hook_new(const struct conf_webhook *w, const struct conf *c)
{
    struct hook *h = xcalloc(1, sizeof(*h));

    h->name = xstrdup(w->name);
    h->url = xstrdup(w->url);
    h->secret_len = w->secret_len;
    h->secret = xmalloc(w->secret_len ? w->secret_len : 1);
    if (w->secret_len)
        memcpy(h->secret, w->secret, w->secret_len);
    h->events = w->events;
    h->backoff_max_s = (unsigned)c->webhook_backoff_max;
    h->timeout_ms = (long)c->webhook_timeout * 1000L;
    h->st = hooks_st;
    atomic_init(&h->stop, 0);
    atomic_init(&h->cursor, 0);
    atomic_init(&h->delivered, 0);
    atomic_init(&h->failures, 0);
    return h;
}

static void hook_run(struct hook *h)
{
    int rc = pthread_create(&h->thread, NULL, hook_main, h);
    if (rc != 0)
        log_panic("webhook %s: cannot start its thread (error %d)", h->name, rc);
}

/* Stop h's thread (h is out of the list already) and wait for it. */
static void hook_stop_join(struct hook *h)
{
    pthread_mutex_lock(&hooks_lock);
    atomic_store(&h->stop, 1);
    pthread_cond_broadcast(&hooks_cond);
    pthread_mutex_unlock(&hooks_lock);
    feed_kick();                /* an idle thread waits on the feed */
    pthread_join(h->thread, NULL);
}

static void hook_free(struct hook *h)
{
    sodium_memzero(h->secret, h->secret_len);
    free(h->secret);
    free(h->name);
    free(h->url);
    free(h);
}

static const struct conf_webhook *conf_hook(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->n_webhooks; i++)
        if (strcmp(c->webhooks[i].name, name) == 0)
            return &c->webhooks[i];
    return NULL;
}

/* What a changed hook hands to its successor: its counters, and its
 * position for the metrics until the new thread has read it. */
struct hook_carry {
    uint64_t delivered, failures, cursor;
    int      changed;
};

void webhooks_reload(const struct conf *c)
{
    struct hook *gone = NULL, *list = NULL, **tail = &list;
    struct hook_carry *carry;

    if (!hooks_started)
        return;
    carry = xcalloc(c->n_webhooks ? c->n_webhooks : 1, sizeof(*carry));
    /* Unlink the hooks that went or changed and stop them before anything
     * starts, so two threads never deliver under one name (one cursor). */
    pthread_mutex_lock(&hooks_lock);
    for (struct hook **pp = &hooks; *pp;) {
        struct hook *h = *pp;
        const struct conf_webhook *w = conf_hook(c, h->name);
        if (w != NULL && hook_same(h, w, c)) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        h->next = gone;
        gone = h;
    }
    pthread_mutex_unlock(&hooks_lock);
    while (gone != NULL) {
        struct hook *h = gone;
        const struct conf_webhook *w = conf_hook(c, h->name);
        gone = h->next;
        if (w == NULL)
            log_info("webhook %s: no longer in the config; stopped (its position is kept)",
                     h->name);
        hook_stop_join(h);
        if (w != NULL) {
            struct hook_carry *k = &carry[w - c->webhooks];
            k->delivered = atomic_load(&h->delivered);
            k->failures = atomic_load(&h->failures);
            k->cursor = atomic_load(&h->cursor);
            k->changed = 1;
        }
        hook_free(h);
    }
    /* The list again in config order: the kept hooks, and a new thread for
     * each new or changed one (it reads its position from the store). */
    pthread_mutex_lock(&hooks_lock);
    for (size_t i = 0; i < c->n_webhooks; i++) {
        const struct conf_webhook *w = &c->webhooks[i];
        struct hook *h = NULL;
        for (struct hook **pp = &hooks; *pp; pp = &(*pp)->next)
            if (strcmp((*pp)->name, w->name) == 0) {
                h = *pp;
                *pp = h->next;
                break;
            }
        if (h == NULL) {
            h = hook_new(w, c);
            atomic_store(&h->delivered, carry[i].delivered);
            atomic_store(&h->failures, carry[i].failures);
            atomic_store(&h->cursor, carry[i].cursor);
            hook_run(h);
            log_info("webhook %s: %s events to %s", h->name,
                     carry[i].changed ? "changed; posting" : "posting", h->url);
        }
        h->next = NULL;
        *tail = h;
        tail = &h->next;
    }
    hooks = list;
    pthread_mutex_unlock(&hooks_lock);
    free(carry);
}

void webhooks_start(const struct conf *c, store_t *st)
{
    pthread_condattr_t ca;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        log_fatal("webhook: curl_global_init failed");
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hooks_cond, &ca);
    pthread_condattr_destroy(&ca);
    hooks_st = st;
    hooks_started = 1;
    webhooks_reload(c);
}

void webhooks_stop(void)
{
    struct hook *list;

    if (!hooks_started)
        return;
    pthread_mutex_lock(&hooks_lock);
    list = hooks;
    hooks = NULL;
    pthread_mutex_unlock(&hooks_lock);
    while (list != NULL) {
        struct hook *h = list;
        list = h->next;
        hook_stop_join(h);
        hook_free(h);
    }
    hooks_started = 0;
    hooks_st = NULL;
    pthread_cond_destroy(&hooks_cond);
    curl_global_cleanup();
}

void webhook_metrics_write(FILE *fp, uint64_t last_seq)
{
    pthread_mutex_lock(&hooks_lock);
    if (hooks == NULL) {
        pthread_mutex_unlock(&hooks_lock);
        return;
    }
    fputs("# HELP mailstate_webhook_backlog Feed events after the webhook's position.\n"
          "# TYPE mailstate_webhook_backlog gauge\n", fp);
    for (const struct hook *h = hooks; h; h = h->next) {
        uint64_t c = atomic_load(&h->cursor);
        fprintf(fp, "mailstate_webhook_backlog{webhook=\"%s\"} %llu\n", h->name,
                (unsigned long long)(last_seq > c ? last_seq - c : 0));
    }
    fputs("# HELP mailstate_webhook_delivered_total Events a webhook's receiver accepted.\n"
          "# TYPE mailstate_webhook_delivered_total counter\n", fp);
    for (const struct hook *h = hooks; h; h = h->next)
        fprintf(fp, "mailstate_webhook_delivered_total{webhook=\"%s\"} %llu\n", h->name,
                (unsigned long long)atomic_load(&h->delivered));
    fputs("# HELP mailstate_webhook_failures_total Webhook POSTs that failed (retried).\n"
          "# TYPE mailstate_webhook_failures_total counter\n", fp);
    for (const struct hook *h = hooks; h; h = h->next)
        fprintf(fp, "mailstate_webhook_failures_total{webhook=\"%s\"} %llu\n", h->name,
                (unsigned long long)atomic_load(&h->failures));
    pthread_mutex_unlock(&hooks_lock);
}
