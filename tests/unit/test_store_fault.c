/*
 * test_store_fault - the store when the disk refuses writes.
 *
 * Two ways to fill the disk, each in a forked child: RLIMIT_FSIZE (SIGXFSZ
 * ignored, so the write that would extend data.mdb past the limit fails
 * with EFBIG or comes back short), and, where the test may mount (root), a
 * real ENOSPC on a 512 KiB tmpfs in a private mount namespace (nothing
 * leaks out of the child, even if it crashes).  Writers must get
 * STORE_EFULL and never a false "durable" answer, nothing may crash, and
 * the same handle must work again once the disk has room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "store_fixture.h"

static const char *const rcpts[] = { "bob@a.example", "carol@a.example" };

#define FULL_THREADS 4
#define FULL_PER_THREAD 40

struct full_writer {
    store_t *st;
    int      which;
    char     ids[FULL_PER_THREAD][MAILID_ID_LEN + 1];
    int      rc[FULL_PER_THREAD];
};

static void *full_writer_main(void *arg)
{
    struct full_writer *w = arg;
    for (int i = 0; i < FULL_PER_THREAD; i++)
        w->rc[i] = fx_put_fat(w->st, T0 + (uint64_t)(w->which * 1000 + i),
                              "alice@a.example", rcpts, 2, w->ids[i]);
    return NULL;
}

static off_t data_size(const char *dir)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

enum { FULL_RLIMIT, FULL_TMPFS };
#define SKIPPED 77

/* A 512 KiB tmpfs on dir, private to this process; 0, or -1 if not allowed. */
static int tmpfs_mount(const char *dir)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=512k,mode=0700") != 0)
        return -1;
    return 0;
}

/* The child's checks; its exit status says which one failed (0 = all good). */
static int disk_full_child(const char *dir, int how)
{
    static struct full_writer w[FULL_THREADS];
    pthread_t th[FULL_THREADS];
    char id[MAILID_ID_LEN + 1];
    struct rlimit rl;
    rlim_t hard = 0;
    store_t *st;
    int ok = 0, failed = 0;

    if (how == FULL_TMPFS && tmpfs_mount(dir) != 0)
        return SKIPPED;
    st = fx_open(dir, 1, 1 << 20, 64 << 20);
    if (st == NULL)
        return 10;
    if (fx_put(st, T0, "alice@a.example", rcpts, 2, id) != STORE_OK)
        return 11;
    if (how == FULL_RLIMIT) {
        /* Room for a few more pages only: the writers run into the limit. */
        signal(SIGXFSZ, SIG_IGN);
        if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 12;
        hard = rl.rlim_max;
        rl.rlim_cur = (rlim_t)data_size(dir) + 16 * 4096;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 13;
    }
    for (int t = 0; t < FULL_THREADS; t++) {
        w[t].st = st;
        w[t].which = t + 1;
        pthread_create(&th[t], NULL, full_writer_main, &w[t]);
    }
    for (int t = 0; t < FULL_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < FULL_THREADS; t++)
        for (int i = 0; i < FULL_PER_THREAD; i++) {
            if (w[t].rc[i] == STORE_OK) {
                ok++;
            } else if (w[t].rc[i] == STORE_EFULL) {
                failed++;
            } else {
                fprintf(stderr, "write during disk full: %d %s\n", w[t].rc[i],
                        store_strerror(w[t].rc[i]));
                return 14;              /* a full disk is STORE_EFULL */
            }
        }
    if (failed == 0)
        return 15;                      /* the limit never bit: test is void */
    /* The disk has room again: the same handle works. */
    if (how == FULL_RLIMIT) {
        rl.rlim_cur = hard;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 16;
    } else if (mount("tmpfs", dir, NULL, MS_REMOUNT, "size=8m,mode=0700") != 0) {
        return 16;
    }
    if (fx_put_fat(st, T0 + 99999, "alice@a.example", rcpts, 2, id) != STORE_OK)
        return 17;
    st = store_close(st);
    /* Reopened: every write that was answered OK is there, every refused
     * one left nothing behind. */
    st = fx_open(dir, 0, 1 << 20, 64 << 20);
    if (st == NULL)
        return 18;
    for (int t = 0; t < FULL_THREADS; t++)
        for (int i = 0; i < FULL_PER_THREAD; i++) {
            struct store_mail_rec *rec = NULL;
            int rc = store_get_mail(st, w[t].ids[i], &rec);
            if (w[t].rc[i] == STORE_OK && (rc != STORE_OK || rec->n_rcpts != 2))
                return 19;              /* a false "durable" answer */
            if (w[t].rc[i] != STORE_OK && rc != STORE_ENOTFOUND)
                return 20;              /* a refused write left a record */
            store_mail_rec_free(rec);
        }
    struct store_mail_rec *rec = NULL;
    if (store_get_mail(st, id, &rec) != STORE_OK)
        return 21;
    store_mail_rec_free(rec);
    fprintf(stderr, "disk full: %d writes committed, %d refused\n", ok, failed);
    store_close(st);
    return 0;
}

static int run_child(const char *dir, int how)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(disk_full_child(dir, how));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Bad input: writes that would grow the file past RLIMIT_FSIZE (EFBIG). */
static void test_file_size_limit(void **state)
{
    assert_int_equal(run_child(*state, FULL_RLIMIT), 0);
}

/* Bad input: a file system with no space left (ENOSPC, short writes). */
static void test_disk_full(void **state)
{
    int rc = run_child(*state, FULL_TMPFS);
    if (rc == SKIPPED)
        skip();                         /* may not mount here (not root) */
    assert_int_equal(rc, 0);
}

/* ---- a full map ---- */

/* The meta "settle" value as another process sees it (0 if none). */
static uint64_t settle_value(const char *dir)
{
    int fd[2];
    uint64_t v = 0;

    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_val k = { 6, (void *)(uintptr_t)"settle" }, val;
        uint64_t out = 0;
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
            mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600) ||
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
            mdb_dbi_open(txn, "meta", 0, &dbi))
            _exit(1);
        if (mdb_get(txn, dbi, &k, &val) == 0 && val.mv_size == 8)
            memcpy(&out, val.mv_data, 8);
        mdb_txn_abort(txn);             /* a dead reader would pin the pages */
        mdb_env_close(env);
        _exit(write(fd[1], &out, 8) == 8 ? 0 : 2);
    }
    int status;
    assert_int_equal(read(fd[0], &v, 8), 8);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fd[0]);
    close(fd[1]);
    return v;
}

/*
 * Bad input: inserts into a map that is full at map_size_max.  The first
 * one makes the small "settle" commit (pages a purge freed become usable);
 * later ones, with nothing committed in between, must fail without another
 * synced commit each.  After a purge, inserts work again.
 */
static void test_full_map_settles_once(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 1, 64 << 10, 256 << 10);
    char ids[4000][MAILID_ID_LEN + 1], id[MAILID_ID_LEN + 1];
    int n = 0, rc = STORE_OK;

    assert_non_null(st);
    while (n < 4000 && (rc = fx_put_fat(st, T0 + (uint64_t)n, "alice@a.example", rcpts, 2,
                                    ids[n])) == STORE_OK)
        n++;
    assert_int_equal(rc, STORE_EFULL);
    uint64_t first = settle_value(dir);
    assert_true(first != 0);                /* the first full insert settled */
    for (int i = 0; i < 5; i++) {
        usleep(2000);                       /* a new settle would write a new time */
        assert_int_equal(fx_put_fat(st, T0 + 5000, "alice@a.example", rcpts, 2, id),
                         STORE_EFULL);
    }
    assert_int_equal(settle_value(dir), first);
    /* a purge commits: the next insert settles again and then fits */
    size_t purged;
    assert_int_equal(store_purge(st, T0 + (uint64_t)n / 2, 1000, &purged), STORE_OK);
    assert_int_equal(purged, (size_t)n / 2);
    assert_int_equal(fx_put(st, T0 + 10000, "alice@a.example", rcpts, 2, id), STORE_OK);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st);
}

/* Child: take a read slot with raw LMDB and die inside the transaction. */
static void crashed_reader(const char *dir)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        MDB_env *env;
        MDB_txn *txn;
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
            mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600) ||
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
            _exit(1);
        _exit(0);                       /* no abort: the slot stays taken */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Bad input: a process died inside a read transaction, so its stale reader
 * slot pins the snapshot it saw, and nothing freed since can be reused.
 * With the map at its limit, a purge must still make room for new mails:
 * the store clears dead readers before it reports the map full.
 */
static void test_dead_reader_at_full_map(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 1, 64 << 10, 256 << 10);
    char ids[4000][MAILID_ID_LEN + 1], id[MAILID_ID_LEN + 1];
    int n = 0, rc = STORE_OK;

    assert_non_null(st);
    crashed_reader(dir);
    while (n < 4000 && (rc = fx_put_fat(st, T0 + (uint64_t)n, "alice@a.example", rcpts, 2,
                                    ids[n])) == STORE_OK)
        n++;
    assert_int_equal(rc, STORE_EFULL);
    crashed_reader(dir);
    size_t purged;
    assert_int_equal(store_purge(st, T0 + (uint64_t)n / 2, 1000, &purged), STORE_OK);
    assert_int_equal(purged, (size_t)n / 2);
    for (int i = 0; i < 10; i++)
        assert_int_equal(fx_put(st, T0 + 10000 + (uint64_t)i, "alice@a.example", rcpts, 2,
                                id), STORE_OK);
    store_close(st);
}

/* ---- a writer killed mid-write ---- */

#define KILL_THREADS 4
#define KILL_AFTER   60                 /* acknowledged writes before SIGKILL */

struct killed_writer {
    store_t        *st;
    int             fd, t;
    pthread_mutex_t *mu;
};

/* Writes forever; every acknowledged id goes down the pipe. */
static void *killed_writer_main(void *arg)
{
    struct killed_writer *w = arg;
    char id[MAILID_ID_LEN + 1];
    for (uint64_t i = 0;; i++) {
        if (fx_put(w->st, T0 + i * KILL_THREADS + (uint64_t)w->t, "alice@a.example", rcpts,
                   2, id) != STORE_OK)
            _exit(3);
        pthread_mutex_lock(w->mu);
        if (write(w->fd, id, MAILID_ID_LEN) != MAILID_ID_LEN)
            _exit(4);
        pthread_mutex_unlock(w->mu);
    }
    return NULL;
}

/*
 * Bad input: the writing process (say the milter) is killed at a random
 * point of its writes, maybe holding LMDB's writer lock.  Another process
 * must neither hang on that lock nor find a damaged store, and every write
 * that was acknowledged before the kill must be there.
 */
static void test_writer_killed(void **state)
{
    const char *dir = *state;
    int fd[2];
    static char acked[4096][MAILID_ID_LEN + 1];
    size_t n = 0;

    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static struct killed_writer w[KILL_THREADS];
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_t th;
        close(fd[0]);
        store_t *st = fx_open(dir, 1, 64 << 10, 64 << 20);
        if (st == NULL)
            _exit(2);
        for (int t = 0; t < KILL_THREADS; t++) {
            w[t] = (struct killed_writer){ st, fd[1], t, &mu };
            pthread_create(&th, NULL, killed_writer_main, &w[t]);
        }
        for (;;)
            pause();
    }
    close(fd[1]);
    while (n < KILL_AFTER) {
        ssize_t r = read(fd[0], acked[n], MAILID_ID_LEN);
        assert_int_equal(r, MAILID_ID_LEN);
        acked[n++][MAILID_ID_LEN] = '\0';
    }
    kill(pid, SIGKILL);
    /* acknowledgements already in the pipe count too */
    while (n < 4096 && read(fd[0], acked[n], MAILID_ID_LEN) == MAILID_ID_LEN)
        acked[n++][MAILID_ID_LEN] = '\0';
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    store_t *st = fx_open(dir, 1, 64 << 10, 64 << 20);
    assert_non_null(st);
    char id[MAILID_ID_LEN + 1];
    assert_int_equal(fx_put(st, T0 + 999999, "alice@a.example", rcpts, 2, id), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        struct store_mail_rec *rec;
        assert_int_equal(store_get_mail(st, acked[i], &rec), STORE_OK);
        assert_int_equal(rec->n_rcpts, 2);
        store_mail_rec_free(rec);
    }
    print_message("%zu acknowledged writes before the kill, all there\n", n);
    store_close(st);
}

/* ---- one handle per path and process ---- */

/*
 * Bad input: the same directory opened twice in one process (also through
 * another spelling of the path).  LMDB forbids it: closing either handle
 * would drop this process's locks on lock.mdb for both, and the next process
 * to open the store would reset the lock table under the running ones.
 */
static void test_second_open_refused(void **state)
{
    const char *dir = *state;
    struct store_opts o = { .path = dir };
    char err[256], other[512];
    store_t *st = fx_open(dir, 1, 0, 0), *st2 = (store_t *)&o;

    assert_non_null(st);
    assert_int_equal(store_open(&o, &st2, err, sizeof(err)), STORE_EINVAL);
    assert_null(st2);
    assert_non_null(strstr(err, "already open"));
    snprintf(other, sizeof(other), "%s/./", dir);
    o.path = other;
    assert_int_equal(store_open(&o, &st2, err, sizeof(err)), STORE_EINVAL);
    /* the first handle is unharmed; after closing it the path opens again */
    char id[MAILID_ID_LEN + 1];
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, 2, id), STORE_OK);
    st = store_close(st);
    o.path = dir;
    assert_int_equal(store_open(&o, &st2, err, sizeof(err)), STORE_OK);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st2, id, &rec), STORE_OK);
    store_mail_rec_free(rec);
    store_close(st2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_file_size_limit),
        T(test_disk_full),
        T(test_full_map_settles_once),
        T(test_dead_reader_at_full_map),
        T(test_writer_killed),
        T(test_second_open_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
