/*
 * test_forwarder - the forwarder against a real HTTP peer.
 *
 * The peer is a libmicrohttpd server inside the test playing mx1 (the
 * sender's home server): it runs the real receiving code (sync_handle) on
 * its own LMDB store, or answers what a case needs (503 for a while, 422 for
 * one poisoned mail id, 404 to erasures).  The forwarder plays mx2 (the recipient's server)
 * with a second store whose outbox is filled by store_mark_read.
 * Every wait polls for the outcome (up to 20 s); nothing is timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include "erase.h"
#include "fixture.h"
#include "forwarder.h"
#include "peer.h"
#include "sync.h"

/* Poll expr every 10 ms for up to 20 s. */
#define WAIT_FOR(expr) do {                                         \
        for (int w_ = 0; w_ < 2000 && !(expr); w_++)                \
            nanosleep(&(struct timespec){ 0, 10000000L }, NULL);    \
    } while (0)

struct srv {
    struct MHD_Daemon *d;
    unsigned short     port;
    sync_receiver_t   *rx;
    atomic_int         fail_first;   /* answer fail_code to this many requests */
    int                fail_code;    /* 0 = 503 */
    int                one_only;     /* 413 for a body with more than one entry */
    char               poison[MAILID_ID_LEN + 1];  /* 422 if the body names it */
    atomic_int         requests;
    store_t           *st;           /* the receiver's store (erasures) */
    atomic_int         erase_404;    /* answer 404 to /v1/erase (an old peer) */
};

struct req {
    char  *body;
    size_t len;
};

static int more_than_one(const char *body)
{
    const char *first = body ? strstr(body, "\"mail_id\"") : NULL;
    return first != NULL && strstr(first + 1, "\"mail_id\"") != NULL;
}

static enum MHD_Result srv_handler(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    struct srv *s = cls;
    struct req *rq = *con_cls;
    struct MHD_Response *resp;
    char *reply = NULL;
    int status;
    enum MHD_Result ret;

    (void)version;
    if (rq == NULL) {
        *con_cls = xcalloc(1, sizeof(struct req));
        return MHD_YES;
    }
    if (*upload_size > 0) {
        rq->body = xrealloc(rq->body, rq->len + *upload_size + 1);
        memcpy(rq->body + rq->len, upload, *upload_size);
        rq->len += *upload_size;
        rq->body[rq->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&s->requests, 1);
    if (atomic_load(&s->fail_first) > 0) {
        atomic_fetch_sub(&s->fail_first, 1);
        status = s->fail_code ? s->fail_code : 503;
        reply = strdup("{\"error\":\"busy\"}");
    } else if (s->one_only && more_than_one(rq->body)) {
        status = 413;
        reply = strdup("{\"error\":\"too_large\"}");
    } else if (s->poison[0] && rq->body && strstr(rq->body, s->poison)) {
        status = 422;
        reply = strdup("{\"error\":\"bad_body\"}");
    } else if (strcmp(url, ERASE_PATH) == 0) {
        if (atomic_load(&s->erase_404)) {
            status = 404;
            reply = strdup("{\"error\":\"not_found\"}");
        } else {
            status = erase_handle(s->rx, s->st,
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_SERVER),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_TIMESTAMP),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_SIGNATURE),
                rq->body, rq->len, (long long)time(NULL), &reply);
        }
    } else {
        status = sync_handle(s->rx, method, url,
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_SERVER),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_TIMESTAMP),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, SYNC_HDR_SIGNATURE),
            rq->body, rq->len, (long long)time(NULL), &reply);
    }
    resp = MHD_create_response_from_buffer(strlen(reply), reply, MHD_RESPMEM_MUST_FREE);
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void srv_done(void *cls, struct MHD_Connection *c, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    (void)cls, (void)c, (void)toe;
    if (rq) {
        xfree(rq->body);
        xfree(rq);
        *con_cls = NULL;
    }
}

/* A loopback port nobody listens on (right now). */
static unsigned short free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void srv_start(struct srv *s)
{
    struct sockaddr_in a = { .sin_family = AF_INET };

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(s->port);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                            0, NULL, NULL, srv_handler, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
                            MHD_OPTION_NOTIFY_COMPLETED, srv_done, s,
                            MHD_OPTION_END);
    assert_non_null(s->d);
}

static void srv_stop(struct srv *s)
{
    if (s->d)
        MHD_stop_daemon(s->d);
    s->d = NULL;
}

struct fx {
    char            *dir;
    char            *key, *badkey;
    char            *mx1_url;
    struct conf     *conf1, *conf2;   /* as mx1 (receiver), as mx2 (forwarder) */
    store_t         *st1, *st2;
    struct srv       srv;
    fwd_t           *fwd;
    struct fwd_opts  o;
    char             ids[8][MAILID_ID_LEN + 1];
    size_t           n_ids;
};

static int fx_setup(void **state)
{
    struct fx *x = xcalloc(1, sizeof(*x));

    x->dir = fx_tmpdir("test_forwarder");
    x->key = fx_key(x->dir, "system.key", 'k');
    x->badkey = fx_key(x->dir, "other.key", 'z');
    x->srv.port = free_port();
    x->mx1_url = xasprintf("http://127.0.0.1:%u/", x->srv.port);  /* trailing '/' on purpose */
    x->conf1 = fx_conf("mx1", x->key, x->mx1_url, "http://127.0.0.1:9");
    x->conf2 = fx_conf("mx2", x->key, x->mx1_url, "http://127.0.0.1:9");
    x->st1 = fx_store(x->dir, "mx1");
    x->st2 = fx_store(x->dir, "mx2");
    x->srv.rx = sync_receiver_new(x->conf1, x->st1, 0);
    x->srv.st = x->st1;
    x->o = (struct fwd_opts){ .batch_max = 10, .backoff_min_ms = 20,
                              .backoff_max_ms = 200, .connect_timeout_ms = 2000,
                              .timeout_ms = 10000, .poll_ms = 200 };
    *state = x;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *x = *state;

    x->fwd = fwd_stop(x->fwd);
    srv_stop(&x->srv);
    x->srv.rx = sync_receiver_free(x->srv.rx);
    x->st1 = store_close(x->st1);
    x->st2 = store_close(x->st2);
    x->conf1 = conf_unref(x->conf1);
    x->conf2 = conf_unref(x->conf2);
    xfree(x->mx1_url);
    xfree(x->key);
    xfree(x->badkey);
    fx_cleanup(x->dir);
    xfree(x);
    return 0;
}

/*
 * n new mails from alice@a.example (mx1) to bob@c.example (mx2), recorded in
 * both stores as the two milters would; bob reads each at mx2, which queues
 * an outbox item for mx1.
 */
static void fx_reads(struct fx *x, size_t n)
{
    static const char *const home_rcpts[] = { "bob@c.example", "dave@a.example" };
    static const char *const home_servers[] = { "mx2", "mx1" };
    static const char *const peer_rcpts[] = { "bob@c.example" };
    static const char *const peer_servers[] = { "mx2" };

    for (size_t i = 0; i < n && x->n_ids < 8; i++) {
        char *id = x->ids[x->n_ids++];
        id[0] = '\0';
        fx_mail(x->st1, "alice@a.example", id, home_rcpts, home_servers, 2);
        fx_mail(x->st2, "alice@a.example", id, peer_rcpts, peer_servers, 1);
        assert_int_equal(store_mark_read(x->st2, id, "bob@c.example",
                                         1764325200000ULL + x->n_ids, "imap",
                                         "mx1", NULL), STORE_OK);
    }
}

static size_t fx_depth(struct fx *x)
{
    size_t depth = 0, parked = 0;
    uint64_t oldest = 0;

    assert_int_equal(store_outbox_stats(x->st2, "mx1", &depth, &oldest, &parked), STORE_OK);
    return depth;
}

static struct fwd_peer_stats fx_stats(struct fx *x)
{
    struct fwd_peer_stats s;

    assert_int_equal(fwd_peer_stats(x->fwd, "mx1", &s), 0);
    return s;
}

static int fx_home_read(struct fx *x, size_t i)
{
    struct store_rcpt e = fx_entry(x->st1, x->ids[i], "bob@c.example");
    return e.status == STORE_READ && e.read_count == 1 &&
           e.first_read_ms == 1764325200000ULL + i + 1;
}

/* Reads queued at mx2 reach mx1 and leave the outbox; metrics say so. */
static void test_deliver(void **state)
{
    struct fx *x = *state;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;

    srv_start(&x->srv);
    fx_reads(x, 3);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    for (size_t i = 0; i < 3; i++)
        assert_true(fx_home_read(x, i));
    /* dave (local to mx1) untouched */
    assert_int_equal(fx_entry(x->st1, x->ids[0], "dave@a.example").status, STORE_SENT);
    assert_true(fx_stats(x).sent == 3);
    assert_true(fx_stats(x).failures == 0);

    fp = open_memstream(&buf, &len);
    fwd_metrics_write(x->fwd, fp);
    fclose(fp);
    assert_non_null(strstr(buf, "mailstate_outbox_depth{peer=\"mx1\"} 0\n"));
    assert_non_null(strstr(buf, "mailstate_forward_items_sent_total{peer=\"mx1\"} 3\n"));
    assert_non_null(strstr(buf, "mailstate_outbox_oldest_age_seconds{peer=\"mx3\"} 0.000\n"));
    assert_null(strstr(buf, "peer=\"mx2\""));     /* never a peer of itself */
    free(buf);
}

/* Peer down: items stay, failures count; a restart of the forwarder loses
   nothing; when the peer comes up everything arrives. */
static void test_peer_down_restart_up(void **state)
{
    struct fx *x = *state;

    fx_reads(x, 2);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_stats(x).failures >= 3);
    assert_true(fx_stats(x).failures >= 3);
    assert_int_equal(fx_depth(x), 2);
    x->fwd = fwd_stop(x->fwd);              /* "restart of mx2's tracker" */
    assert_int_equal(fx_depth(x), 2);
    fx_reads(x, 1);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    srv_start(&x->srv);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    for (size_t i = 0; i < 3; i++)
        assert_true(fx_home_read(x, i));
}

/* 503 twice, then the real answer: retried, delivered once accepted. */
static void test_5xx_retried(void **state)
{
    struct fx *x = *state;

    atomic_store(&x->srv.fail_first, 2);
    srv_start(&x->srv);
    fx_reads(x, 1);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_home_read(x, 0));
    assert_true(fx_stats(x).failures == 2);
    assert_true(fx_stats(x).attempts == 3);
    assert_true(fx_stats(x).parked == 0);
}

/* 429 (and 408, 409) are not final: retried, never parked. */
static void test_429_retried(void **state)
{
    struct fx *x = *state;

    atomic_store(&x->srv.fail_first, 3);
    x->srv.fail_code = 429;
    srv_start(&x->srv);
    fx_reads(x, 2);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_stats(x).failures == 3);
    assert_true(fx_stats(x).parked == 0);
    assert_true(fx_home_read(x, 0) && fx_home_read(x, 1));
}

/* A peer whose body limit takes one entry only (413 for more): the forwarder
   goes one at a time and everything arrives, nothing parked. */
static void test_413_one_at_a_time(void **state)
{
    struct fx *x = *state;

    x->srv.one_only = 1;
    srv_start(&x->srv);
    fx_reads(x, 3);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_stats(x).parked == 0);
    assert_true(fx_stats(x).sent == 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(fx_home_read(x, i));
}

/*
 * A forwarder signing with the wrong key gets 401 (bad input: a key that
 * differs between servers, e.g. halfway through a key rotation).  That is
 * the request's fault, not any item's: the items stay queued and are
 * retried, nothing is parked (there is no way back from "parked"), the home
 * server changes nothing; once the key is right everything arrives.  403
 * (this server missing from the peer's server list) and 404 (no sync route
 * at that URL) are the same kind of configuration trouble.
 */
static void test_bad_key_retried(void **state)
{
    struct fx *x = *state;
    struct conf *wrong = fx_conf("mx2", x->badkey, x->mx1_url, "http://127.0.0.1:9");
    uint64_t badsig = sync_refused_count(SYNC_R_BAD_SIGNATURE);
    size_t depth = 0, parked = 9;
    uint64_t oldest = 0;

    srv_start(&x->srv);
    fx_reads(x, 3);
    x->fwd = fwd_start(wrong, x->st2, &x->o);
    WAIT_FOR(sync_refused_count(SYNC_R_BAD_SIGNATURE) - badsig >= 4);
    assert_true(sync_refused_count(SYNC_R_BAD_SIGNATURE) - badsig >= 4);
    x->fwd = fwd_stop(x->fwd);
    assert_int_equal(store_outbox_stats(x->st2, "mx1", &depth, &oldest, &parked), STORE_OK);
    assert_int_equal(depth, 3);
    assert_int_equal(parked, 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fx_entry(x->st1, x->ids[i], "bob@c.example").status, STORE_SENT);
    conf_unref(wrong);

    /* the key fixed (a restart with the right config): all of it arrives */
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    for (size_t i = 0; i < 3; i++)
        assert_true(fx_home_read(x, i));
}

/* 403 and 404 from the peer: retried, never parked. */
static void test_403_404_retried(void **state)
{
    struct fx *x = *state;

    atomic_store(&x->srv.fail_first, 2);
    x->srv.fail_code = 403;
    srv_start(&x->srv);
    fx_reads(x, 2);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_stats(x).parked == 0);
    x->fwd = fwd_stop(x->fwd);

    fx_reads(x, 1);
    atomic_store(&x->srv.fail_first, 2);
    x->srv.fail_code = 404;
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_stats(x).parked == 0);
    for (size_t i = 0; i < 3; i++)
        assert_true(fx_home_read(x, i));
}

/* One item the peer refuses for good (422) is parked alone; the others in
   its batch still arrive. */
static void test_poison_isolated(void **state)
{
    struct fx *x = *state;

    fx_reads(x, 3);
    memcpy(x->srv.poison, x->ids[1], sizeof(x->srv.poison));
    srv_start(&x->srv);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_stats(x).parked == 1);
    assert_true(fx_stats(x).sent == 2);
    assert_true(fx_home_read(x, 0));
    assert_int_equal(fx_entry(x->st1, x->ids[1], "bob@c.example").status, STORE_SENT);
    assert_true(fx_home_read(x, 2));
}

/* With an hour between polls, only fwd_kick can explain a prompt delivery. */
static void test_kick_wakes(void **state)
{
    struct fx *x = *state;

    x->o.poll_ms = 3600 * 1000;
    srv_start(&x->srv);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    fx_reads(x, 1);
    fwd_kick(x->fwd, "mx1");
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);
    assert_true(fx_home_read(x, 0));
    fwd_kick(NULL, NULL);        /* no forwarder: a no-op */
}

/* A peer that accepts the connection and never answers: fwd_stop still
   returns (the request is aborted) and the item stays queued. */
static void test_stop_aborts_hung_request(void **state)
{
    struct fx *x = *state;
    struct sockaddr_in a = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(x->srv.port);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);          /* never accept()ed */
    x->o.timeout_ms = 600 * 1000;
    fx_reads(x, 1);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_stats(x).attempts >= 1);
    assert_true(fx_stats(x).attempts >= 1);
    x->fwd = fwd_stop(x->fwd);
    assert_null(x->fwd);
    assert_int_equal(fx_depth(x), 1);
    close(fd);
}

/* [tracker] forward_batch reaches the forwarder through peer_start(): 5
   queued reads with forward_batch = 2 take exactly 3 requests. */
static void test_peer_conf_batch(void **state)
{
    struct fx *x = *state;

    assert_int_equal(x->conf2->tracker_forward_batch, 100);      /* the default */
    x->conf2->tracker_forward_batch = 2;
    x->conf2->tracker_forward_backoff_max = 1;
    srv_start(&x->srv);
    fx_reads(x, 5);
    peer_start(x->conf2, x->st2);
    WAIT_FOR(fx_depth(x) == 0);
    peer_stop();
    assert_int_equal(fx_depth(x), 0);
    assert_int_equal(atomic_load(&x->srv.requests), 3);
    for (size_t i = 0; i < 5; i++)
        assert_true(fx_home_read(x, i));
}

/*
 * Erasures (erase.h): a peer that cannot take them (404, an older version)
 * does not hold up the reads, the erasure stays queued; once the peer takes
 * it, it is applied there (alice's mails gone at mx1) and leaves the queue.
 */
static void test_erasure_own_backoff(void **state)
{
    struct fx *x = *state;
    static const char *const to_mx1[] = { "mx1" };
    size_t depth = 0;
    struct store_mail_rec *rec;

    atomic_store(&x->srv.erase_404, 1);
    srv_start(&x->srv);
    fx_reads(x, 2);
    assert_int_equal(store_erasure_queue(x->st2, "alice@a.example", to_mx1, 1,
                                         UINT64_C(1) << 47), STORE_OK);
    x->fwd = fwd_start(x->conf2, x->st2, &x->o);
    WAIT_FOR(fx_depth(x) == 0);
    assert_int_equal(fx_depth(x), 0);       /* the reads went through */
    assert_true(fx_home_read(x, 0) && fx_home_read(x, 1));
    WAIT_FOR(fx_stats(x).failures >= 2);
    assert_true(fx_stats(x).failures >= 2);
    assert_int_equal(store_erasure_stats(x->st2, "mx1", &depth, NULL), STORE_OK);
    assert_int_equal(depth, 1);             /* still queued */
    assert_int_equal(fx_stats(x).erasures, 1);

    atomic_store(&x->srv.erase_404, 0);     /* "mx1 upgraded" */
    WAIT_FOR(fx_stats(x).erasures_sent == 1);
    assert_int_equal(fx_stats(x).erasures_sent, 1);
    assert_int_equal(store_erasure_stats(x->st2, "mx1", &depth, NULL), STORE_OK);
    assert_int_equal(depth, 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(store_get_mail(x->st1, x->ids[i], &rec), STORE_ENOTFOUND);
    /* the sender of the erasure keeps its own copies: it erased them itself */
    assert_int_equal(store_get_mail(x->st2, x->ids[0], &rec), STORE_OK);
    store_mail_rec_free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_peer_down_restart_up, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_5xx_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_429_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_413_one_at_a_time, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_403_404_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_poison_isolated, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kick_wakes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_aborts_hung_request, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_peer_conf_batch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_erasure_own_backoff, fx_setup, fx_teardown),
    };

    if (mailid_init() != MAILID_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
