/*
 * test_store_multi - the store under concurrency and at its limits:
 * threads with group commit, two processes on one path, map growth up to
 * map_size_max and STORE_EFULL, schema refusal, reopening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include "store_fixture.h"

/* ---- threads: 8 x 200 reads through the group-commit queue ---- */

#define N_THREADS 8
#define N_READS   200

struct worker {
    store_t    *st;
    const char *id;
    int         n;
    int         failures;
};

static const char *const rcpts8[N_THREADS + 1] = {
    "r0@a.example", "r1@a.example", "r2@a.example", "r3@a.example",
    "r4@a.example", "r5@a.example", "r6@a.example", "r7@a.example",
    "shared@a.example",
};

/*
 * Even iterations read the thread's own recipient, odd ones the shared one.
 * Every 20th iteration also reports a recipient that was never recorded:
 * it lands in the same batches as the good writes and must get its own
 * STORE_ENORCPT without failing or undoing them.
 */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < N_READS; i++) {
        const char *r = (i & 1) ? rcpts8[N_THREADS] : rcpts8[w->n];
        if (store_mark_read(w->st, w->id, r, T0 + (uint64_t)i + 1, "api", NULL, NULL)
            != STORE_OK)
            w->failures++;
        if (i % 20 == 0 &&
            store_mark_read(w->st, w->id, "ghost@a.example", T0, "api", NULL, NULL)
            != STORE_ENORCPT)
            w->failures++;
    }
    return NULL;
}

static void test_threads_group_commit(void **state)
{
    store_t *st = fx_open(*state, 1, 0, 0);
    struct worker w[N_THREADS];
    pthread_t th[N_THREADS];
    struct store_stats s;
    char id[MAILID_ID_LEN + 1];

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts8, N_THREADS + 1, id), STORE_OK);
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (struct worker){ st, id, t, 0 };
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(w[t].failures, 0);
    }
    for (int t = 0; t <= N_THREADS; t++) {
        struct store_rcpt e;
        assert_int_equal(fx_entry(st, id, rcpts8[t], &e), STORE_OK);
        assert_int_equal(e.status, STORE_READ);
        assert_int_equal(e.read_count, t < N_THREADS ? N_READS / 2 : N_THREADS * N_READS / 2);
        assert_int_equal(e.first_read_ms, t < N_THREADS ? T0 + 1 : T0 + 2);
        assert_int_equal(e.last_read_ms, t < N_THREADS ? T0 + N_READS - 1 : T0 + N_READS);
        store_rcpt_clear(&e);
    }
    assert_int_equal(store_stats(st, &s), STORE_OK);
    /* put_sent + 1600 reads; fewer commits than writes proves batching */
    assert_int_equal(s.writes, 1 + N_THREADS * N_READS);
    print_message("group commit: %llu writes in %llu commits (%.1f writes/commit)\n",
                  (unsigned long long)s.writes, (unsigned long long)s.commits,
                  (double)s.writes / (double)s.commits);
    assert_true(s.commits < s.writes);
    store_close(st);
}

/* The committer thread blocks SIGTERM (and every signal), so a daemon's
 * signal handling thread still gets them; the caller's mask is unchanged. */
static void test_committer_blocks_signals(void **state)
{
    store_t *st = fx_open(*state, 1, 0, 0);
    sigset_t cur;
    int blocked_threads = 0;

    assert_non_null(st);
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    assert_false(sigismember(&cur, SIGTERM));
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[300], line[128];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        while (fgets(line, sizeof(line), fp))
            if (strncmp(line, "SigBlk:", 7) == 0) {
                unsigned long long mask = strtoull(line + 7, NULL, 16);
                blocked_threads += (mask >> (SIGTERM - 1)) & 1;
            }
        fclose(fp);
    }
    closedir(d);
    assert_int_equal(blocked_threads, 1);
    store_close(st);
}

/* ---- two processes writing to one path at once ---- */

#define N_PER_PROC 300

/* Child: open after fork, write n mails, report through the exit status. */
static int child_writer(const char *dir, int which)
{
    char sender[64], id[MAILID_ID_LEN + 1];
    static const char *const r[] = { "bob@a.example" };
    store_t *st = fx_open(dir, which, 0, 0);   /* one with group commit, one without */

    if (st == NULL)
        return 2;
    snprintf(sender, sizeof(sender), "proc%d@a.example", which);
    for (int i = 0; i < N_PER_PROC; i++)
        if (fx_put(st, T0 + (uint64_t)i, sender, r, 1, id) != STORE_OK)
            return 3;
    store_close(st);
    return 0;
}

static size_t count_sender(store_t *st, const char *sender)
{
    struct store_query q = { .sender = sender, .status = -1, .limit = 1000 };
    struct store_list l;
    size_t n = 0;
    char cursor[MAILID_ID_LEN + 1] = "";

    do {
        q.cursor = cursor[0] ? cursor : NULL;
        assert_int_equal(store_list(st, &q, &l), STORE_OK);
        n += l.n_mails;
        memcpy(cursor, l.next_cursor, sizeof(cursor));
        store_list_clear(&l);
    } while (cursor[0]);
    return n;
}

static void test_two_processes(void **state)
{
    const char *dir = *state;
    pid_t pid[2];
    int status;

    /* fork before any store is open in this process */
    for (int p = 0; p < 2; p++) {
        pid[p] = fork();
        assert_true(pid[p] >= 0);
        if (pid[p] == 0)
            _exit(child_writer(dir, p));
    }
    for (int p = 0; p < 2; p++) {
        assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    store_t *st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    assert_int_equal(count_sender(st, "proc0@a.example"), N_PER_PROC);
    assert_int_equal(count_sender(st, "proc1@a.example"), N_PER_PROC);
    struct store_query q = { .recipient = "bob@a.example", .status = STORE_SENT,
                             .limit = 1000 };
    struct store_list l;
    assert_int_equal(store_list(st, &q, &l), STORE_OK);
    assert_int_equal(l.n_mails, 2 * N_PER_PROC);
    store_list_clear(&l);
    store_close(st);
}

/* ---- map growth ---- */

static const char *const bob[] = { "bob@a.example", "carol@a.example" };

static void test_map_grows(void **state)
{
    store_t *st = fx_open(*state, 1, 64 << 10, 4 << 20);
    struct store_stats s;
    char id[MAILID_ID_LEN + 1], first[MAILID_ID_LEN + 1];

    assert_non_null(st);
    assert_int_equal(store_stats(st, &s), STORE_OK);
    assert_int_equal(s.map_size, 64 << 10);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(fx_put_fat(st, T0 + (uint64_t)i, "alice@a.example", bob, 2, id),
                         STORE_OK);
        if (i == 0)
            memcpy(first, id, sizeof(first));
    }
    assert_int_equal(store_stats(st, &s), STORE_OK);
    assert_true(s.map_size > (64u << 10));
    assert_true(s.map_size <= (4u << 20));
    assert_true(s.map_size >= (1u << 20));
    print_message("map grew from 64 KiB to %zu KiB for 300 mails\n", s.map_size >> 10);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st, first, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st);
}

static void test_map_full(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 1, 64 << 10, 256 << 10);
    char ids[4000][MAILID_ID_LEN + 1];
    int n = 0, rc = STORE_OK;
    struct store_stats s;

    assert_non_null(st);
    /* write until the map is at its limit */
    while (n < 4000) {
        rc = fx_put(st, T0 + (uint64_t)n, "alice@a.example", bob, 2, ids[n]);
        if (rc != STORE_OK)
            break;
        n++;
    }
    assert_int_equal(rc, STORE_EFULL);
    assert_true(n > 100);
    assert_int_equal(store_stats(st, &s), STORE_OK);
    assert_int_equal(s.map_size, 256 << 10);
    /* the failed mail left nothing behind */
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st, ids[n], &rec), STORE_ENOTFOUND);
    /* reads still work, and every mail written is intact */
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_get_mail(st, ids[i], &rec), STORE_OK);
        assert_int_equal(rec->n_rcpts, 2);
        store_mail_rec_free(rec);
    }
    /* a write that needs no new page still fails cleanly or succeeds */
    rc = store_mark_read(st, ids[0], "bob@a.example", T0, "api", NULL, NULL);
    assert_true(rc == STORE_OK || rc == STORE_EFULL);
    /* purging frees pages: writing works again afterwards */
    size_t purged;
    assert_int_equal(store_purge(st, T0 + (uint64_t)n / 2, 1000, &purged), STORE_OK);
    assert_int_equal(purged, (size_t)n / 2);
    char id[MAILID_ID_LEN + 1];
    assert_int_equal(fx_put(st, T0 + 10000, "alice@a.example", bob, 2, id), STORE_OK);
    store_close(st);

    /* not corrupted: reopens, and the kept half reads back */
    st = fx_open(dir, 0, 64 << 10, 256 << 10);
    assert_non_null(st);
    for (int i = n / 2; i < n; i++) {
        assert_int_equal(store_get_mail(st, ids[i], &rec), STORE_OK);
        store_mail_rec_free(rec);
    }
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st);
}

/* Writers grow the map (exclusive lock) while readers keep reading. */
struct grow_ctx {
    store_t     *st;
    int          n;
    int          failures;
    volatile int *stop;
    char        (*ids)[MAILID_ID_LEN + 1];
};

static void *grow_writer(void *arg)
{
    struct grow_ctx *g = arg;
    for (int i = 0; i < 100; i++)
        if (fx_put(g->st, T0 + (uint64_t)(g->n * 1000 + i), "alice@a.example", bob, 2,
                   g->ids[g->n * 100 + i]) != STORE_OK)
            g->failures++;
    return NULL;
}

static void *grow_reader(void *arg)
{
    struct grow_ctx *g = arg;
    while (!__atomic_load_n(g->stop, __ATOMIC_ACQUIRE)) {
        struct store_query q = { .recipient = "bob@a.example", .status = -1, .limit = 50 };
        struct store_list l;
        if (store_list(g->st, &q, &l) != STORE_OK)
            g->failures++;
        store_list_clear(&l);
    }
    return NULL;
}

static void test_growth_under_concurrency(void **state)
{
    store_t *st = fx_open(*state, 1, 64 << 10, 16 << 20);
    static char ids[400][MAILID_ID_LEN + 1];
    struct grow_ctx g[6];
    pthread_t th[6];
    volatile int stop = 0;

    assert_non_null(st);
    for (int t = 0; t < 6; t++) {
        g[t] = (struct grow_ctx){ st, t, 0, &stop, ids };
        assert_int_equal(pthread_create(&th[t], NULL, t < 4 ? grow_writer : grow_reader,
                                        &g[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = 4; t < 6; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 6; t++)
        assert_int_equal(g[t].failures, 0);
    for (int i = 0; i < 400; i++) {
        struct store_mail_rec *rec;
        assert_int_equal(store_get_mail(st, ids[i], &rec), STORE_OK);
        store_mail_rec_free(rec);
    }
    struct store_stats s;
    assert_int_equal(store_stats(st, &s), STORE_OK);
    assert_true(s.map_size > (64u << 10));
    assert_int_equal(s.writes, 400);
    store_close(st);
}

/* Another process grows the map; this one adopts the size (MDB_MAP_RESIZED). */
static void test_map_resized_elsewhere(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 0, 64 << 10, 64 << 20);
    char id[MAILID_ID_LEN + 1];
    pid_t pid;
    int status;

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", bob, 2, id), STORE_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child opens its own handle (never use a parent's env) */
        store_t *c = fx_open(dir, 0, 64 << 10, 64 << 20);
        char cid[MAILID_ID_LEN + 1];
        if (c == NULL)
            _exit(2);
        for (int i = 0; i < 300; i++)
            if (fx_put_fat(c, T0 + 1 + (uint64_t)i, "child@a.example", bob, 2, cid)
                != STORE_OK)
                _exit(3);
        store_close(c);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* the file is now far beyond this handle's 64 KiB map */
    assert_int_equal(count_sender(st, "child@a.example"), 300);
    assert_int_equal(fx_put(st, T0 + 5000, "alice@a.example", bob, 2, id), STORE_OK);
    struct store_stats s;
    assert_int_equal(store_stats(st, &s), STORE_OK);
    assert_true(s.map_size >= (1u << 20));
    store_close(st);
}

/* ---- stale readers of a crashed process ---- */

/* Child: take a read slot with raw LMDB, then die without releasing it. */
static void child_leak_reader(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;

    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
        mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        _exit(2);
    raise(SIGKILL);
    _exit(3);
}

static void test_stale_readers_cleared(void **state)
{
    const char *dir = *state;
    struct store_opts o = { .path = dir, .max_readers = 2 };
    store_t *st = NULL;
    char err[256], id[MAILID_ID_LEN + 1];
    struct store_mail_rec *rec;

    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_OK);
    assert_int_equal(fx_put(st, T0, "alice@a.example", bob, 2, id), STORE_OK);
    /* two crashed processes fill both reader slots of the table */
    for (int i = 0; i < 2; i++) {
        int status;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_leak_reader(dir);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
    }
    /* the read hits MDB_READERS_FULL, clears the dead slots, and succeeds */
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st);
}

/* ---- schema ---- */

/* Write key -> value into sub-database db with raw LMDB (store closed). */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen,
                    const void *value, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = { klen, (void *)(uintptr_t)key };
    MDB_val v = { vlen, (void *)(uintptr_t)value };

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void set_raw_schema(const char *dir, const char *value)
{
    raw_put(dir, "meta", "schema", 6, value, strlen(value));
}

/* A damaged record is reported as STORE_EIO, never decoded into garbage. */
static void test_corrupt_record(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 0, 0, 0);
    char good[MAILID_ID_LEN + 1], bad[MAILID_ID_LEN + 1];
    struct store_mail_rec *rec;
    struct store_list l;
    struct store_query q = { .status = -1, .limit = 10 };

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", bob, 2, good), STORE_OK);
    assert_int_equal(fx_put(st, T0 + 1, "alice@a.example", bob, 2, bad), STORE_OK);
    store_close(st);
    /* bad input: a mail record of an unknown version with junk after it */
    raw_put(dir, "mails", bad, MAILID_ID_LEN, "\x09junk", 5);
    st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    assert_int_equal(store_get_mail(st, bad, &rec), STORE_EIO);
    assert_null(rec);
    assert_int_equal(store_mark_read(st, bad, "bob@a.example", T0, "api", NULL, NULL),
                     STORE_OK);   /* the recipient entry itself is intact */
    assert_int_equal(store_list(st, &q, &l), STORE_EIO);
    assert_int_equal(l.n_mails, 0);
    assert_int_equal(store_get_mail(st, good, &rec), STORE_OK);
    store_mail_rec_free(rec);
    /* bad input: a recipient entry cut short */
    char key[MAILID_ID_LEN + 32];
    memcpy(key, good, MAILID_ID_LEN);
    memcpy(key + MAILID_ID_LEN, "bob@a.example", 13);
    store_close(st);
    raw_put(dir, "rcpts", key, MAILID_ID_LEN + 13, "\x01\x03", 2);
    st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    assert_int_equal(store_get_mail(st, good, &rec), STORE_EIO);
    assert_int_equal(store_mark_read(st, good, "bob@a.example", T0, "api", NULL, NULL),
                     STORE_EIO);
    assert_int_equal(store_mark_read(st, good, "carol@a.example", T0, "api", NULL, NULL),
                     STORE_OK);
    store_close(st);
}

static void test_schema_newer_refused(void **state)
{
    const char *dir = *state;
    struct store_opts o = { .path = dir };
    char err[256];
    store_t *st = fx_open(dir, 0, 0, 0);
    char id[MAILID_ID_LEN + 1];

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", bob, 2, id), STORE_OK);
    store_close(st);

    /* a database written by a newer mailstate (schema 99) */
    char ours[32];
    snprintf(ours, sizeof(ours), "schema version %d", STORE_SCHEMA_VERSION);
    set_raw_schema(dir, "99");
    st = (store_t *)(uintptr_t)1;
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_ESCHEMA);
    assert_null(st);
    assert_non_null(strstr(err, "schema version 99"));
    assert_non_null(strstr(err, ours));

    /* garbage in the schema key is refused too */
    set_raw_schema(dir, "x1");
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_ESCHEMA);

    /* back to 2: the data is untouched by the refused opens */
    set_raw_schema(dir, "2");
    st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st);
}

static void test_open_errors(void **state)
{
    const char *dir = *state;
    char path[512], err[256];
    store_t *st;

    /* no options, no path, empty path */
    assert_int_equal(store_open(NULL, &st, err, sizeof(err)), STORE_EINVAL);
    struct store_opts o = { .path = "" };
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_EINVAL);
    /* a path whose parent does not exist */
    snprintf(path, sizeof(path), "%s/missing/deeper", dir);
    o.path = path;
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_EIO);
    assert_non_null(strstr(err, "missing/deeper"));
    assert_null(st);
    /* the directory is created 0700 when missing */
    snprintf(path, sizeof(path), "%s/new", dir);
    st = fx_open(path, 0, 0, 0);
    assert_non_null(st);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_threads_group_commit),
        T(test_committer_blocks_signals),
        T(test_two_processes),
        T(test_map_grows),
        T(test_map_full),
        T(test_growth_under_concurrency),
        T(test_map_resized_elsewhere),
        T(test_stale_readers_cleared),
        T(test_schema_newer_refused),
        T(test_corrupt_record),
        T(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
