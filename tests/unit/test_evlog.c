/*
 * test_evlog - the event log's file layer (common/evlog.h): group commit,
 * recovery past a torn tail, stale records of a reused segment, a gap,
 * segment reuse, the lag bound, and a failing fdatasync.
 *
 * fdatasync() is interposed (this executable's definition wins over libc's
 * for evlog.c's calls) so a test can make the disk fail a sync.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "crc32c.h"
#include "evlog.h"
#include "store_fixture.h"

static atomic_int fail_syncs;      /* bad input on demand: the disk fails fdatasync */

int fdatasync(int fd);
int fdatasync(int fd)
{
    if (atomic_load(&fail_syncs)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

#define SEG (64u * 1024u)

static char *tdir;

static int setup(void **state)
{
    (void)state;
    tdir = fx_tmpdir();
    atomic_store(&fail_syncs, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmtree(tdir);
    free(tdir);
    return 0;
}

static char *logdir(void)
{
    char *p;
    if (asprintf(&p, "%s/evlog", tdir) < 0)
        abort();
    return p;
}

/* Records seen by replay: their seqs and the number in their payload. */
struct seen {
    uint64_t seqs[20000];
    unsigned vals[20000];
    size_t   n;
};

static int replay_rec(void *arg, uint64_t seq, const void *data, size_t len)
{
    struct seen *s = arg;
    unsigned v = 0;
    if (len < 16 || sscanf(data, "rec %u", &v) != 1 || s->n >= 20000)
        return -1;
    s->seqs[s->n] = seq;
    s->vals[s->n] = v;
    s->n++;
    return 0;
}

static evlog_t *open_log(uint64_t applied, struct seen *s, uint64_t lag_max, int *rc_out)
{
    char *dir = logdir();
    struct evlog_opts o = { .dir = dir, .seg_size = SEG, .lag_max = lag_max };
    char err[256] = "";
    evlog_t *log = NULL;
    int rc = evlog_open(&o, applied, s ? replay_rec : NULL, s, &log, err, sizeof err);
    if (rc_out)
        *rc_out = rc;
    else if (rc != EVLOG_OK)
        fail_msg("evlog_open: %s", err);
    free(dir);
    return log;
}

/* A record of 100 bytes that says which one it is. */
static uint64_t put(evlog_t *log, unsigned v)
{
    char buf[100];
    uint64_t seq = 0;
    memset(buf, '.', sizeof buf);
    int n = snprintf(buf, sizeof buf, "rec %u ", v);
    buf[n] = ' ';
    assert_int_equal(evlog_append(log, buf, sizeof buf, &seq), EVLOG_OK);
    return seq;
}

static size_t count_segments(void)
{
    char *dir = logdir();
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".evlog") != NULL;
    if (d)
        closedir(d);
    free(dir);
    return n;
}

static void test_crc32c(void **state)
{
    (void)state;
    /* The catalogue's check value of CRC-32C, and a split computation. */
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

struct appender {
    evlog_t *log;
    unsigned base;
    int      bad;
};

static void *appender_main(void *arg)
{
    struct appender *a = arg;
    for (unsigned i = 0; i < 250; i++) {
        uint64_t seq = put(a->log, a->base + i);
        if (evlog_wait(a->log, seq) != EVLOG_OK)
            a->bad++;
    }
    return NULL;
}

/* Four threads append 1000 records: all durable, taken in order, fewer syncs. */
static void test_group_commit_and_take(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    pthread_t t[4];
    struct appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){ log, (unsigned)i * 1000, 0 };
        pthread_create(&t[i], NULL, appender_main, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    struct evlog_stats s;
    evlog_stats(log, &s);
    assert_int_equal(s.appended, 1000);
    assert_int_equal(s.durable, 1000);
    assert_true(s.groups >= 1 && s.groups <= 1000);
    print_message("1000 records in %llu syncs, %zu segments\n", (unsigned long long)s.groups,
                  s.segments);

    struct evlog_rec recs[300];
    uint64_t next = 1;
    size_t n;
    while (next <= 1000 && (n = evlog_take(log, recs, 300, 1000)) > 0) {
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(recs[i].seq, next);
            assert_int_equal(recs[i].len, 100);
            assert_memory_equal(recs[i].data, "rec ", 4);
            next++;
        }
    }
    assert_int_equal(next, 1001);
    evlog_done(log, 1000);
    evlog_close(log);
}

/* Recovery replays exactly the records past applied, in order. */
static void test_recovery_replays_past_applied(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    uint64_t last = 0;
    for (unsigned i = 1; i <= 1500; i++)
        last = put(log, i);
    assert_int_equal(evlog_wait(log, last), EVLOG_OK);
    evlog_close(log);

    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(1000, &s, 0, NULL);
    assert_int_equal(s.n, 500);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.seqs[i], 1001 + i);
        assert_int_equal(s.vals[i], 1001 + i);
    }
    /* Numbers go on after the last record. */
    assert_int_equal(put(log, 9999), 1501);
    assert_int_equal(evlog_wait(log, 1501), EVLOG_OK);
    evlog_close(log);

    /* Nothing to replay when everything is applied. */
    memset(&s, 0, sizeof s);
    log = open_log(1501, &s, 0, NULL);
    assert_int_equal(s.n, 0);
    evlog_close(log);
}

/* The newest segment file's path. */
static char *last_segment(void)
{
    char *dir = logdir(), *best = NULL;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".evlog") && (best == NULL || strcmp(de->d_name, best) > 0)) {
            free(best);
            best = strdup(de->d_name);
        }
    }
    closedir(d);
    char *p;
    if (asprintf(&p, "%s/%s", dir, best) < 0)
        abort();
    free(best);
    free(dir);
    return p;
}

/*
 * A torn tail: record 20's bytes are damaged (a write cut by a power
 * failure) while record 21 after it is intact but was never acknowledged.
 * Recovery stops at 19, and record 21 must never come back, even when the
 * new record 20 ends exactly where the old 21 began (the tail is zeroed).
 */
static void test_torn_tail(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    for (unsigned i = 1; i <= 21; i++)
        put(log, i);
    assert_int_equal(evlog_wait(log, 21), EVLOG_OK);
    evlog_close(log);

    char *seg = last_segment();
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    const off_t rec = 16 + 104;          /* header + 100 bytes padded to 8 */
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, 19 * rec + 40), 1);
    b ^= 0x5A;
    assert_int_equal(pwrite(fd, &b, 1, 19 * rec + 40), 1);
    close(fd);

    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(0, &s, 0, NULL);
    assert_int_equal(s.n, 19);
    assert_int_equal(s.seqs[18], 19);
    /* A new record 20 of the same size lands where the damaged one was. */
    assert_int_equal(put(log, 2020), 20);
    assert_int_equal(evlog_wait(log, 20), EVLOG_OK);
    evlog_close(log);

    memset(&s, 0, sizeof s);
    log = open_log(0, &s, 0, NULL);
    assert_int_equal(s.n, 20);
    assert_int_equal(s.vals[19], 2020);     /* the new 20, and no stale 21 */
    evlog_close(log);
    free(seg);
}

/* Garbage after the last record (not a record at all) is cut the same way. */
static void test_garbage_tail(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    for (unsigned i = 1; i <= 5; i++)
        put(log, i);
    assert_int_equal(evlog_wait(log, 5), EVLOG_OK);
    evlog_close(log);

    char *seg = last_segment();
    int fd = open(seg, O_RDWR);
    unsigned char junk[64];
    memset(junk, 0xFF, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 5 * 120), (ssize_t)sizeof junk);
    close(fd);
    free(seg);

    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(0, &s, 0, NULL);
    assert_int_equal(s.n, 5);
    assert_int_equal(put(log, 6), 6);
    evlog_close(log);
}

/*
 * Segments are reused once their records are done, so the log's files
 * follow the lag, not the history; records of a reused segment never pass
 * as new ones.
 */
static void test_segment_reuse(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    struct evlog_rec recs[512];
    size_t most = 0;
    uint64_t last = 0;
    for (unsigned i = 1; i <= 5000; i++) {
        last = put(log, i);
        if (i % 250 == 0) {
            assert_int_equal(evlog_wait(log, last), EVLOG_OK);
            size_t n;
            uint64_t upto = 0;
            while ((n = evlog_take(log, recs, 512, 0)) > 0)
                upto = recs[n - 1].seq;
            if (upto)
                evlog_done(log, upto);
            size_t segs = count_segments();
            most = segs > most ? segs : most;
        }
    }
    assert_int_equal(evlog_wait(log, last), EVLOG_OK);
    evlog_close(log);
    /* 5000 x 120 bytes = 600 kB = about 10 segments of 64 kB written. */
    print_message("at most %zu segment files for 10 segments written\n", most);
    assert_true(most <= 3);

    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(4500, &s, 0, NULL);
    assert_int_equal(s.n, 500);
    assert_int_equal(s.seqs[0], 4501);
    assert_int_equal(s.vals[499], 5000);
    evlog_close(log);
}

/* Records after applied + 1 without applied + 1 itself: refused, nothing touched. */
static void test_gap_refused(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    for (unsigned i = 1; i <= 3000; i++)
        put(log, i);
    assert_int_equal(evlog_wait(log, 3000), EVLOG_OK);
    evlog_close(log);
    size_t before = count_segments();
    assert_true(before >= 2);
    /* Bad input: the oldest segment is lost (deleted by hand). */
    char *dir = logdir(), path[600];
    snprintf(path, sizeof path, "%s/%016x.evlog", dir, 1);
    assert_int_equal(unlink(path), 0);
    free(dir);

    int rc;
    log = open_log(10, NULL, 0, &rc);
    assert_null(log);
    assert_int_equal(rc, EVLOG_EGAP);
    assert_int_equal(count_segments(), before - 1);
}

/* A log that ends before the mail log's number (an older backup): go on after it. */
static void test_log_behind(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    put(log, 1);
    assert_int_equal(evlog_wait(log, 1), EVLOG_OK);
    evlog_close(log);
    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(50, &s, 0, NULL);
    assert_int_equal(s.n, 0);
    assert_int_equal(put(log, 51), 51);
    assert_int_equal(evlog_wait(log, 51), EVLOG_OK);
    evlog_close(log);
}

/* Back pressure: lag_max records not done -> EVLOG_EBUSY, and bad records. */
static void test_lag_bound_and_bad_records(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 10, NULL);
    uint64_t seq;
    for (unsigned i = 1; i <= 10; i++)
        put(log, i);
    assert_int_equal(evlog_append(log, "x", 1, &seq), EVLOG_EBUSY);
    assert_int_equal(evlog_wait(log, 10), EVLOG_OK);
    evlog_done(log, 5);
    assert_int_equal(evlog_append(log, "x", 1, &seq), EVLOG_OK);
    assert_int_equal(seq, 11);
    /* Bad input: an empty record and one past the largest. */
    static char big[EVLOG_REC_MAX + 1];
    assert_int_equal(evlog_append(log, "", 0, &seq), EVLOG_EINVAL);
    assert_int_equal(evlog_append(log, big, sizeof big, &seq), EVLOG_EINVAL);
    evlog_close(log);
}

static atomic_int fatal_calls;
static void on_fatal(void *arg, const char *what)
{
    (void)arg;
    (void)what;
    atomic_fetch_add(&fatal_calls, 1);
}

/*
 * A failed fdatasync is final: the waiter is told EVLOG_EIO (never a false
 * success), on_fatal runs once, and later appends are refused even when
 * the disk would sync again (no retry of a failed sync).
 */
static void test_failed_sync_is_final(void **state)
{
    (void)state;
    char *dir = logdir();
    struct evlog_opts o = { .dir = dir, .seg_size = SEG, .on_fatal = on_fatal };
    char err[256];
    evlog_t *log = NULL;
    assert_int_equal(evlog_open(&o, 0, NULL, NULL, &log, err, sizeof err), EVLOG_OK);
    uint64_t seq = put(log, 1);
    assert_int_equal(evlog_wait(log, seq), EVLOG_OK);

    atomic_store(&fail_syncs, 1);
    seq = put(log, 2);
    assert_int_equal(evlog_wait(log, seq), EVLOG_EIO);
    atomic_store(&fail_syncs, 0);
    assert_int_equal(evlog_append(log, "x", 1, &seq), EVLOG_EIO);
    assert_int_equal(atomic_load(&fatal_calls), 1);
    evlog_close(log);
    free(dir);

    /* The next start sees what is on disk (record 1, perhaps 2). */
    static struct seen s;
    memset(&s, 0, sizeof s);
    log = open_log(0, &s, 0, NULL);
    assert_true(s.n >= 1 && s.n <= 2);
    assert_int_equal(s.vals[0], 1);
    evlog_close(log);
}

/* ---- waiting without a thread (evlog_notify) ------------------------------ */

struct nw {
    struct evlog_waiter w;
    evlog_t            *log;
    atomic_int          calls;
    int                 rc;
    int                 durable_then;   /* was seq durable when fn ran? */
};

static atomic_int nw_calls;

static void nw_fn(struct evlog_waiter *w, int rc)
{
    struct nw *n = (struct nw *)(void *)w;
    struct evlog_stats s;

    evlog_stats(n->log, &s);
    n->rc = rc;
    n->durable_then = s.durable >= w->seq;
    atomic_fetch_add(&n->calls, 1);
    atomic_fetch_add(&nw_calls, 1);
}

static void nw_wait_calls(int want)
{
    for (int i = 0; i < 5000 && atomic_load(&nw_calls) < want; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&nw_calls), want);
}

/*
 * Every registered waiter runs exactly once, after its record is durable,
 * also when registered out of order (the HTTP threads race); one for a
 * record durable already answers 1 and never runs; one for a record never
 * appended is refused (a caller bug, not a hang).
 */
static void test_notify(void **state)
{
    (void)state;
    evlog_t *log = open_log(0, NULL, 0, NULL);
    static struct nw w[600];
    uint64_t seqs[600];

    memset(w, 0, sizeof w);
    atomic_store(&nw_calls, 0);
    for (int i = 0; i < 600; i++)
        seqs[i] = put(log, (unsigned)i);
    int registered = 0, early = 0;
    /* Backwards in blocks of 10: inserts land before the tail, too. */
    for (int b = 0; b < 60; b++) {
        for (int j = 9; j >= 0; j--) {
            int i = b * 10 + j;
            w[i].log = log;
            w[i].w.seq = seqs[i];
            w[i].w.fn = nw_fn;
            int rc = evlog_notify(log, &w[i].w);
            assert_true(rc == EVLOG_OK || rc == 1);
            if (rc == EVLOG_OK)
                registered++;
            else
                early++;
        }
    }
    nw_wait_calls(registered);
    for (int i = 0; i < 600; i++) {
        int calls = atomic_load(&w[i].calls);
        assert_true(calls <= 1);
        if (calls == 1) {
            assert_int_equal(w[i].rc, EVLOG_OK);
            assert_true(w[i].durable_then);
        }
    }
    print_message("600 waiters: %d called back, %d durable at once\n", registered, early);

    /* Durable already: 1, and fn is not called. */
    struct nw late = { .log = log };
    late.w.seq = seqs[0];
    late.w.fn = nw_fn;
    assert_int_equal(evlog_notify(log, &late.w), 1);
    /* Never appended: refused. */
    late.w.seq = seqs[599] + 1000;
    assert_int_equal(evlog_notify(log, &late.w), EVLOG_EINVAL);
    assert_int_equal(atomic_load(&late.calls), 0);
    evlog_close(log);
}

/*
 * A failed fdatasync: every waiter still registered hears EIO (the tracker
 * answers 503 instead of hanging the connection), and later registrations
 * are refused at once.
 */
static void test_notify_failed_sync(void **state)
{
    (void)state;
    char *dir = logdir();
    struct evlog_opts o = { .dir = dir, .seg_size = SEG, .on_fatal = on_fatal };
    char err[256];
    evlog_t *log = NULL;
    static struct nw w[50];

    memset(w, 0, sizeof w);
    atomic_store(&nw_calls, 0);
    assert_int_equal(evlog_open(&o, 0, NULL, NULL, &log, err, sizeof err), EVLOG_OK);
    atomic_store(&fail_syncs, 1);
    int registered = 0;
    for (int i = 0; i < 50; i++) {
        w[i].log = log;
        w[i].w.seq = put(log, (unsigned)i);
        w[i].w.fn = nw_fn;
        int rc = evlog_notify(log, &w[i].w);
        if (rc == EVLOG_OK)
            registered++;
        else
            assert_int_equal(rc, EVLOG_EIO);    /* the log failed meanwhile */
    }
    assert_true(registered >= 1);
    nw_wait_calls(registered);
    for (int i = 0; i < 50; i++) {
        if (atomic_load(&w[i].calls) == 1) {
            assert_int_equal(w[i].rc, EVLOG_EIO);
            assert_false(w[i].durable_then);
        }
    }
    struct nw late = { .log = log };
    late.w.seq = 1;
    late.w.fn = nw_fn;
    assert_int_equal(evlog_notify(log, &late.w), EVLOG_EIO);
    atomic_store(&fail_syncs, 0);
    evlog_close(log);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_group_commit_and_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_replays_past_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lag_bound_and_bad_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_failed_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
