/*
 * test_evapply - acknowledged events applied behind the answer
 * (common/evapply.h): the record encoding, exact answers from the overlay
 * under concurrency, reads seeing what was acknowledged, the matching
 * errors, and a kill -9 in the middle of the start-up replay (every event
 * applied exactly once afterwards).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "evapply.h"
#include "evlog.h"
#include "store_fixture.h"

static char *tdir;

static int setup(void **state)
{
    (void)state;
    tdir = fx_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmtree(tdir);
    free(tdir);
    return 0;
}

static char *sub(const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", tdir, name) < 0)
        abort();
    return p;
}

static evapply_t *ea_open(store_t *st)
{
    char *dir = sub("evlog"), err[256] = "";
    struct evapply_opts o = { .store = st, .dir = dir, .seg_size = 1024 * 1024,
                              .lag_max = 1000000 };
    evapply_t *ea = NULL;
    int rc = evapply_open(&o, &ea, err, sizeof err);
    if (rc != STORE_OK)
        fail_msg("evapply_open: %s", err);
    free(dir);
    return ea;
}

static struct store_event_in read_ev(const char *id, const char *rcpt)
{
    struct store_event_in ev = { .id = id, .rcpt = rcpt, .this_server = "mx1",
                                 .event = STORE_EV_READ, .via = "imap", .delims = "+" };
    return ev;
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    struct store_event_in ev = { .id = "01JDZ8Q6W9V3T0A5B7C9D1E3F5", .rcpt = "bob@a.example",
                                 .original = "team@a.example", .delims = "+-",
                                 .this_server = "mx1", .event = STORE_EV_RECEIVED,
                                 .when_ms = 1764324000123ull, .via = "lmtp",
                                 .forward_to = "mx2", .at_ms = 1764324000456ull }, out;
    unsigned char buf[EVLOG_REC_MAX];
    char strings[EVLOG_REC_MAX + 8];
    size_t n = evapply_encode(&ev, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), 0);
    assert_string_equal(out.id, ev.id);
    assert_string_equal(out.rcpt, ev.rcpt);
    assert_string_equal(out.original, ev.original);
    assert_string_equal(out.delims, ev.delims);
    assert_string_equal(out.this_server, ev.this_server);
    assert_string_equal(out.via, ev.via);
    assert_string_equal(out.forward_to, ev.forward_to);
    assert_int_equal(out.event, STORE_EV_RECEIVED);
    assert_int_equal(out.when_ms, ev.when_ms);
    assert_int_equal(out.at_ms, ev.at_ms);

    /* A version 1 record (written before at_ms existed: no such field)
     * still decodes, with at_ms 0 (applied as of the apply's time). */
    unsigned char v1[EVLOG_REC_MAX];
    memcpy(v1, buf, 10);
    v1[0] = 1;
    memcpy(v1 + 10, buf + 18, n - 18);
    assert_int_equal(evapply_decode(v1, n - 8, &out, strings, sizeof strings), 0);
    assert_string_equal(out.id, ev.id);
    assert_string_equal(out.forward_to, ev.forward_to);
    assert_int_equal(out.when_ms, ev.when_ms);
    assert_int_equal(out.at_ms, 0);

    /* Absent strings stay absent (not ""). */
    ev.original = NULL;
    ev.forward_to = NULL;
    n = evapply_encode(&ev, buf, sizeof buf);
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), 0);
    assert_null(out.original);
    assert_null(out.forward_to);

    /* Bad input: truncated, trailing bytes, another version, an unknown
     * event, a NUL inside a string, a missing id; and a record too big. */
    assert_int_equal(evapply_decode(buf, n - 1, &out, strings, sizeof strings), -1);
    unsigned char longer[EVLOG_REC_MAX];
    memcpy(longer, buf, n);
    longer[n] = 0;
    assert_int_equal(evapply_decode(longer, n + 1, &out, strings, sizeof strings), -1);
    buf[0] = 3;
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), -1);
    buf[0] = 1;                             /* a version 2 body read as version 1 */
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), -1);
    buf[0] = 2;
    buf[1] = 9;
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), -1);
    buf[1] = STORE_EV_RECEIVED;
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), 0);
    buf[21] = '\0';                         /* inside the id */
    assert_int_equal(evapply_decode(buf, n, &out, strings, sizeof strings), -1);
    assert_int_equal(evapply_encode(&ev, buf, 20), 0);
}

static void test_submit_apply_and_errors(void **state)
{
    (void)state;
    char *sdir = sub("store"), id[MAILID_ID_LEN + 1], other[MAILID_ID_LEN + 1];
    fx_mkdirs(sdir);
    store_t *st = fx_open(sdir, 1, 1 << 20, 64 << 20);
    static const char *const rcpts[] = { "bob@a.example", "carol@a.example", "team@a.example",
                                         "dave+news@a.example" };
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, 4, id), STORE_OK);
    assert_int_equal(fx_put(st, T0 + 1, "alice@a.example", rcpts, 1, other), STORE_OK);
    evapply_t *ea = ea_open(st);
    struct store_rcpt after, e;
    int matched;

    struct store_event_in ev = read_ev(id, "bob@a.example");
    assert_int_equal(evapply_submit(ea, &ev, &after, &matched), STORE_OK);
    assert_int_equal(after.status, STORE_READ);
    assert_int_equal(after.read_count, 1);
    assert_int_equal(matched, STORE_MATCH_SAME);
    store_rcpt_clear(&after);
    assert_int_equal(evapply_submit(ea, &ev, &after, &matched), STORE_OK);
    assert_int_equal(after.read_count, 2);
    uint64_t answered_updated = after.updated_ms, answered_last = after.last_read_ms;
    store_rcpt_clear(&after);
    /* A query after the answers sees both, and exactly the state answered
     * (`updated` as of the answer, not of the apply a little later). */
    assert_int_equal(evapply_barrier_mail(ea, id, 5000), 0);
    assert_int_equal(fx_entry(st, id, "bob@a.example", &e), STORE_OK);
    assert_int_equal(e.read_count, 2);
    assert_int_equal(e.updated_ms, answered_updated);
    assert_int_equal(e.last_read_ms, answered_last);
    store_rcpt_clear(&e);

    /* received twice: the second changes nothing and is not logged. */
    struct store_event_in rc_ev = read_ev(id, "carol@a.example");
    rc_ev.event = STORE_EV_RECEIVED;
    rc_ev.via = "lmtp";
    assert_int_equal(evapply_submit(ea, &rc_ev, &after, &matched), STORE_OK);
    assert_int_equal(after.status, STORE_RECEIVED);
    store_rcpt_clear(&after);
    struct evapply_stats s1, s2;
    evapply_stats(ea, &s1);
    assert_int_equal(evapply_submit(ea, &rc_ev, &after, &matched), STORE_OK);
    assert_int_equal(after.status, STORE_RECEIVED);
    store_rcpt_clear(&after);
    evapply_stats(ea, &s2);
    assert_int_equal(s2.appended, s1.appended);

    /* A list member (rule 3) and a +extension (rule 2). */
    struct store_event_in m = read_ev(id, "erin@a.example");
    m.original = "team@a.example";
    assert_int_equal(evapply_submit(ea, &m, &after, &matched), STORE_OK);
    assert_int_equal(matched, STORE_MATCH_MEMBER);
    assert_string_equal(after.original_recipient, "team@a.example");
    assert_int_equal(after.read_count, 1);
    store_rcpt_clear(&after);
    assert_int_equal(evapply_submit(ea, &m, &after, &matched), STORE_OK);
    assert_int_equal(after.read_count, 2);      /* the pending member, not a new one */
    store_rcpt_clear(&after);
    struct store_event_in x = read_ev(id, "dave@a.example");
    assert_int_equal(evapply_submit(ea, &x, &after, &matched), STORE_OK);
    assert_int_equal(matched, STORE_MATCH_EXTENSION);
    assert_string_equal(after.address, "dave+news@a.example");
    store_rcpt_clear(&after);
    assert_int_equal(evapply_barrier_all(ea, 5000), 0);
    assert_int_equal(fx_entry(st, id, "erin@a.example", &e), STORE_OK);
    assert_int_equal(e.read_count, 2);
    assert_string_equal(e.original_recipient, "team@a.example");
    store_rcpt_clear(&e);

    /* Bad input: an unknown mail, a recipient the mail never had, an
     * original it never had: refused, nothing logged. */
    evapply_stats(ea, &s1);
    struct store_event_in bad = read_ev("01JDZ8Q6W9V3T0A5B7C9D1E3F5", "bob@a.example");
    assert_int_equal(evapply_submit(ea, &bad, &after, &matched), STORE_ENOTFOUND);
    bad = read_ev(other, "mallory@a.example");
    assert_int_equal(evapply_submit(ea, &bad, &after, &matched), STORE_ENORCPT);
    bad.original = "nolist@a.example";
    assert_int_equal(evapply_submit(ea, &bad, &after, &matched), STORE_ENORCPT);
    bad = read_ev("not-an-id", "bob@a.example");
    assert_int_equal(evapply_submit(ea, &bad, &after, &matched), STORE_EINVAL);
    evapply_stats(ea, &s2);
    assert_int_equal(s2.appended, s1.appended);

    evapply_close(ea);
    /* Closing applied everything: the mail log holds the last number. */
    uint64_t applied;
    assert_int_equal(store_applied_seq(st, &applied), STORE_OK);
    assert_int_equal(applied, s2.appended);
    store_close(st);
    free(sdir);
}

struct hammer {
    evapply_t  *ea;
    const char *id;
    uint32_t    counts[100];
    int         bad;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct store_event_in ev = read_ev(h->id, "bob@a.example");
    for (int i = 0; i < 100; i++) {
        struct store_rcpt after;
        int matched;
        if (evapply_submit(h->ea, &ev, &after, &matched) != STORE_OK) {
            h->bad++;
            continue;
        }
        h->counts[i] = after.read_count;
        store_rcpt_clear(&after);
    }
    return NULL;
}

/* 8 threads x 100 reads of one entry: the answers count 1..800, each once. */
static void test_concurrent_answers_exact(void **state)
{
    (void)state;
    char *sdir = sub("store"), id[MAILID_ID_LEN + 1];
    fx_mkdirs(sdir);
    store_t *st = fx_open(sdir, 1, 1 << 20, 64 << 20);
    static const char *const rcpts[] = { "bob@a.example" };
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, 1, id), STORE_OK);
    evapply_t *ea = ea_open(st);
    static struct hammer h[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].ea = ea;
        h[i].id = id;
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    static unsigned char seen[801];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].bad, 0);
        for (int k = 0; k < 100; k++) {
            assert_true(h[i].counts[k] >= 1 && h[i].counts[k] <= 800);
            seen[h[i].counts[k]]++;
        }
    }
    for (int c = 1; c <= 800; c++)
        assert_int_equal(seen[c], 1);
    struct store_rcpt e;
    assert_int_equal(evapply_barrier_mail(ea, id, 5000), 0);
    assert_int_equal(fx_entry(st, id, "bob@a.example", &e), STORE_OK);
    assert_int_equal(e.read_count, 800);
    store_rcpt_clear(&e);
    struct evapply_stats s;
    evapply_stats(ea, &s);
    print_message("800 reads: %llu log syncs, %llu apply transactions\n",
                  (unsigned long long)s.groups, (unsigned long long)s.batches);
    assert_true(s.batches < 800);
    evapply_close(ea);
    store_close(st);
    free(sdir);
}

#define K_RCPTS 16
#define K_EVENTS 40000

/*
 * kill -9 during the start-up replay: 40000 acknowledged reads wait in the
 * event log; a child starts replaying them and is killed once the mail log
 * holds some but not all; the next start finishes.  Every entry's count is
 * then exact: no event applied twice, none lost.
 */
static void test_kill_during_replay(void **state)
{
    (void)state;
    char *sdir = sub("store"), *ldir = sub("evlog"), id[MAILID_ID_LEN + 1], err[256];
    static const char *const rcpts[K_RCPTS] = {
        "u0@a.example", "u1@a.example", "u2@a.example", "u3@a.example", "u4@a.example",
        "u5@a.example", "u6@a.example", "u7@a.example", "u8@a.example", "u9@a.example",
        "u10@a.example", "u11@a.example", "u12@a.example", "u13@a.example",
        "u14@a.example", "u15@a.example" };
    fx_mkdirs(sdir);
    store_t *st = fx_open(sdir, 0, 1 << 20, 256 << 20);
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, K_RCPTS, id), STORE_OK);
    store_close(st);

    /* The acknowledged events, as a crashed tracker left them; its
     * segments were 4 MiB, the restarts use 1 MiB (event_log_segment
     * changed): an old segment is still read whole. */
    struct evlog_opts lo = { .dir = ldir, .seg_size = 4 * 1024 * 1024 };
    evlog_t *log = NULL;
    assert_int_equal(evlog_open(&lo, 0, NULL, NULL, &log, err, sizeof err), EVLOG_OK);
    uint64_t seq = 0;
    for (int i = 0; i < K_EVENTS; i++) {
        struct store_event_in ev = read_ev(id, rcpts[i % K_RCPTS]);
        unsigned char buf[512];
        size_t n = evapply_encode(&ev, buf, sizeof buf);
        assert_int_equal(evlog_append(log, buf, n, &seq), EVLOG_OK);
    }
    assert_int_equal(evlog_wait(log, seq), EVLOG_OK);
    evlog_close(log);

    int killed_midway = 0;
    for (int attempt = 0; attempt < 5 && !killed_midway; attempt++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            store_t *cst = fx_open(sdir, 1, 1 << 20, 256 << 20);
            evapply_t *ea = cst ? ea_open(cst) : NULL;
            evapply_close(ea);
            store_close(cst);
            _exit(0);
        }
        /* Watch the mail log's number from here; kill once it moved. */
        store_t *watch = NULL;
        uint64_t applied = 0, before = 0;
        for (int i = 0; i < 20000; i++) {
            if (watch == NULL)
                watch = fx_open(sdir, 0, 1 << 20, 256 << 20);
            if (watch && store_applied_seq(watch, &applied) == STORE_OK && i == 0)
                before = applied;
            if (applied > before || applied >= K_EVENTS)
                break;
            struct timespec ts = { 0, 200000 };
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        store_applied_seq(watch, &applied);
        store_close(watch);
        killed_midway = WIFSIGNALED(status) && applied > 0 && applied < K_EVENTS;
        print_message("attempt %d: killed with %llu of %d events applied\n", attempt + 1,
                      (unsigned long long)applied, K_EVENTS);
    }
    assert_true(killed_midway);

    st = fx_open(sdir, 1, 1 << 20, 256 << 20);
    evapply_t *ea = ea_open(st);
    evapply_close(ea);
    for (int r = 0; r < K_RCPTS; r++) {
        struct store_rcpt e;
        assert_int_equal(fx_entry(st, id, rcpts[r], &e), STORE_OK);
        assert_int_equal(e.read_count, K_EVENTS / K_RCPTS);
        store_rcpt_clear(&e);
    }
    uint64_t applied;
    assert_int_equal(store_applied_seq(st, &applied), STORE_OK);
    assert_int_equal(applied, K_EVENTS);
    store_close(st);
    free(sdir);
    free(ldir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test_setup_teardown(test_submit_apply_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_answers_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_replay, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
