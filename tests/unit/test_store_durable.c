/*
 * test_store_durable - no acknowledged write is lost, with the group
 * commit's unsynced meta pages (MDB_NOMETASYNC, see store.h).
 *
 * A process kill loses nothing that was written to the page cache, so a
 * kill -9 test alone cannot tell a synced commit from an unsynced one.  This
 * test models a power cut instead: it interposes fdatasync() and fsync()
 * (this executable's definitions win over libc's for liblmdb's calls) and,
 * each time one of them succeeds on data.mdb, copies the whole file: that
 * copy is what the disk is known to hold.  Every time a write is
 * acknowledged, the copy taken so far must already contain it when opened
 * as an LMDB environment of its own.  Answering a batch right after its
 * commit (before the next commit or an explicit sync covered its meta page)
 * fails this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "store_fixture.h"

/* ---- the model disk ---- */

static pthread_mutex_t disk_mu = PTHREAD_MUTEX_INITIALIZER;
static char    disk_file[600];      /* data.mdb of the store under test */
static char    image_dir[500];      /* where the image is opened */
static char   *image;               /* data.mdb as of the last good sync */
static size_t  image_len;
static atomic_int capture;
static atomic_int syncs;
static atomic_int fail_every;       /* fail every n-th sync of data.mdb (0: none) */
static atomic_int sync_calls, syncs_failed;

int fdatasync(int fd);
int fsync(int fd);

static int is_data_file(int fd, struct stat *a)
{
    struct stat b;
    return atomic_load(&capture) && fstat(fd, a) == 0 && stat(disk_file, &b) == 0 &&
           a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* Bad input on demand: the disk fails a sync of data.mdb (as after a
 * writeback error); nothing of it reaches the model disk. */
static int sync_fails(int fd)
{
    struct stat a;
    int every = atomic_load(&fail_every);
    if (every == 0 || !is_data_file(fd, &a) || (atomic_fetch_add(&sync_calls, 1) + 1) % every)
        return 0;
    atomic_fetch_add(&syncs_failed, 1);
    errno = EIO;
    return 1;
}

/* After a successful sync of fd: if it is data.mdb, it is now on "disk". */
static void synced(int fd)
{
    struct stat a;

    if (!is_data_file(fd, &a))
        return;
    pthread_mutex_lock(&disk_mu);
    free(image);
    image = malloc((size_t)a.st_size);
    image_len = 0;
    while (image && image_len < (size_t)a.st_size) {
        ssize_t n = pread(fd, image + image_len, (size_t)a.st_size - image_len,
                          (off_t)image_len);
        if (n <= 0)
            break;
        image_len += (size_t)n;
    }
    atomic_fetch_add(&syncs, 1);
    pthread_mutex_unlock(&disk_mu);
}

int fdatasync(int fd)
{
    if (sync_fails(fd))
        return -1;
    int rc = (int)syscall(SYS_fdatasync, fd);
    if (rc == 0)
        synced(fd);
    return rc;
}

int fsync(int fd)
{
    if (sync_fails(fd))
        return -1;
    int rc = (int)syscall(SYS_fsync, fd);
    if (rc == 0)
        synced(fd);
    return rc;
}

/* Does the disk image (as of now) hold mail id?  Holds disk_mu. */
static int image_has_locked(const char *id)
{
    char path[600];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = { MAILID_ID_LEN, (void *)(uintptr_t)id }, v;
    int fd, found = 0;

    snprintf(path, sizeof(path), "%s/data.mdb", image_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || image == NULL || write(fd, image, image_len) != (ssize_t)image_len) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (mdb_env_create(&env) != 0)
        return -1;
    if (mdb_env_set_maxdbs(env, 16) == 0 &&
        mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                     0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_dbi_open(txn, "mails", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0)
            found = 1;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return found;
}

static int image_has(const char *id)
{
    pthread_mutex_lock(&disk_mu);
    int found = image_has_locked(id);
    pthread_mutex_unlock(&disk_mu);
    return found;
}

/* ---- fixtures ---- */

static int teardown(void **state)
{
    atomic_store(&capture, 0);
    pthread_mutex_lock(&disk_mu);
    free(image);
    image = NULL;
    image_len = 0;
    pthread_mutex_unlock(&disk_mu);
    return fx_dir_teardown(state);
}

static const char *const rcpts[] = { "bob@a.example", "carol@a.example" };

#define D_THREADS 4
#define D_WRITES  40

struct dw {
    store_t *st;
    int      t, n;
    int      lost;          /* acknowledged but not on the model disk */
    int      refused;       /* STORE_EIO (only with failing syncs) */
};

static void *dw_main(void *arg)
{
    struct dw *w = arg;
    char id[MAILID_ID_LEN + 1];

    for (int i = 0; i < w->n; i++) {
        int rc = fx_put(w->st, T0 + (uint64_t)(w->t * 1000 + i), "alice@a.example", rcpts,
                        2, id);
        if (rc == STORE_EIO && atomic_load(&fail_every)) {
            w->refused++;
            continue;
        }
        if (rc != STORE_OK)
            return (void *)(intptr_t)rc;
        if (image_has(id) != 1)     /* the power fails right after the answer */
            w->lost++;
    }
    return NULL;
}

/* Store under dir/store, image under dir/image; capture on. */
static store_t *durable_open(const char *dir)
{
    char path[500];

    snprintf(path, sizeof(path), "%s/store", dir);
    snprintf(disk_file, sizeof(disk_file), "%s/data.mdb", path);
    snprintf(image_dir, sizeof(image_dir), "%s/image", dir);
    fx_mkdirs(image_dir);
    atomic_store(&syncs, 0);
    atomic_store(&capture, 1);
    return fx_open(path, 1, 0, 0);
}

/* Returns how many writes were refused. */
static int run_writers(const char *dir, int threads, int writes, int fail)
{
    static struct dw w[D_THREADS];
    pthread_t th[D_THREADS];
    store_t *st = durable_open(dir);
    struct store_stats s;
    int lost = 0, refused = 0;

    assert_non_null(st);
    atomic_store(&sync_calls, 0);
    atomic_store(&fail_every, fail);
    for (int t = 0; t < threads; t++) {
        w[t] = (struct dw){ st, t, writes, 0, 0 };
        assert_int_equal(pthread_create(&th[t], NULL, dw_main, &w[t]), 0);
    }
    for (int t = 0; t < threads; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_int_equal((intptr_t)ret, STORE_OK);
        lost += w[t].lost;
        refused += w[t].refused;
    }
    atomic_store(&fail_every, 0);
    assert_int_equal(store_stats(st, &s), STORE_OK);
    print_message("%d writes in %llu commits with %d data syncs (%d failed, %d writes "
                  "refused); %d acknowledged before they were on disk\n", threads * writes,
                  (unsigned long long)s.commits, atomic_load(&syncs),
                  atomic_load(&syncs_failed), refused, lost);
    assert_int_equal(lost, 0);
    store_close(st);
    return refused;
}

/* One writer: every batch is alone, the committer syncs when idle. */
static void test_acked_write_on_disk_alone(void **state)
{
    run_writers(*state, 1, 30, 0);
}

/* Four writers: batches are covered by the next batch's commit. */
static void test_acked_write_on_disk_concurrent(void **state)
{
    run_writers(*state, D_THREADS, D_WRITES, 0);
}

/*
 * Bad input: every 3rd sync of data.mdb fails (EIO), once with the writer
 * alone (the failing sync is then a commit's data sync or the committer's
 * idle sync of the batch before) and once with four.  A write whose commit
 * or covering sync failed must be refused, never acknowledged before it is
 * on disk; the handle keeps working between the failures.
 */
static void test_failing_sync_refuses(void **state)
{
    char sub[400];

    atomic_store(&syncs_failed, 0);
    snprintf(sub, sizeof(sub), "%s/one", (const char *)*state);
    fx_mkdirs(sub);
    int refused = run_writers(sub, 1, 30, 3);
    assert_true(refused > 0);
    assert_true(refused < 30);
    atomic_store(&capture, 0);
    snprintf(sub, sizeof(sub), "%s/four", (const char *)*state);
    fx_mkdirs(sub);
    refused = run_writers(sub, D_THREADS, D_WRITES, 3);
    assert_true(refused > 0);
    assert_true(refused < D_THREADS * D_WRITES);
}

/*
 * Bad input: the process is killed (SIGKILL) right after a write was
 * acknowledged.  The reopened store has it.
 */
static void test_killed_after_ack(void **state)
{
    const char *dir = *state;
    char id[MAILID_ID_LEN + 1];
    int fd[2], status;

    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        store_t *st = fx_open(dir, 1, 0, 0);
        if (st == NULL || fx_put(st, T0, "alice@a.example", rcpts, 2, id) != STORE_OK)
            _exit(2);
        if (write(fd[1], id, MAILID_ID_LEN) != MAILID_ID_LEN)
            _exit(3);
        for (;;)
            pause();                    /* no close: killed with the store open */
    }
    close(fd[1]);
    ssize_t r = read(fd[0], id, MAILID_ID_LEN);
    kill(pid, SIGKILL);
    close(fd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(r, MAILID_ID_LEN);
    assert_true(WIFSIGNALED(status));
    id[MAILID_ID_LEN] = '\0';

    store_t *st = fx_open(dir, 0, 0, 0);
    struct store_mail_rec *rec;
    assert_non_null(st);
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    assert_int_equal(rec->n_rcpts, 2);
    store_mail_rec_free(rec);
    store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_acked_write_on_disk_alone),
        T(test_acked_write_on_disk_concurrent),
        T(test_failing_sync_refuses),
        T(test_killed_after_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
