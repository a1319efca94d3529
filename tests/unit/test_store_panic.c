/*
 * test_store_panic - an I/O error while LMDB writes its meta page.
 *
 * LMDB then marks the environment dead (MDB_PANIC): every later
 * transaction fails until the environment is closed and opened again.  The
 * test interposes pwrite() (this executable's definition wins over libc's
 * for liblmdb's calls) and fails the writes to the two meta pages on demand,
 * as a failing disk would.  The failed write must get an error (never a
 * false success), and the same handle must work again afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "store_fixture.h"

static atomic_int fail_meta;        /* number of meta writes still to fail */
static atomic_int meta_failed;

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);

/* Meta pages are the first two pages (at most 64 KiB each). */
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (off < 2 * 65536 && n < 4096 && atomic_load(&fail_meta) > 0) {
        atomic_fetch_sub(&fail_meta, 1);
        atomic_fetch_add(&meta_failed, 1);
        errno = EIO;
        return -1;
    }
    return syscall(SYS_pwrite64, fd, buf, n, off);
}

static const char *const rcpts[] = { "bob@a.example", "carol@a.example" };

static void run(const char *dir, int group)
{
    store_t *st = fx_open(dir, group, 0, 0);
    char ok_id[MAILID_ID_LEN + 1], bad_id[MAILID_ID_LEN + 1], id[MAILID_ID_LEN + 1];
    struct store_mail_rec *rec;

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, 2, ok_id), STORE_OK);
    /* Bad input: the disk fails the meta page write of the next commit. */
    atomic_store(&meta_failed, 0);
    atomic_store(&fail_meta, 1);
    int rc = fx_put(st, T0 + 1, "alice@a.example", rcpts, 2, bad_id);
    atomic_store(&fail_meta, 0);
    assert_int_equal(atomic_load(&meta_failed), 1);     /* the fault did hit */
    assert_int_equal(rc, STORE_EIO);
    /* the handle works again: reads and writes */
    assert_int_equal(store_get_mail(st, ok_id, &rec), STORE_OK);
    rec = store_mail_rec_free(rec);
    assert_int_equal(fx_put(st, T0 + 2, "alice@a.example", rcpts, 2, id), STORE_OK);
    assert_int_equal(store_mark_read(st, ok_id, "bob@a.example", T0 + 3, "imap", NULL, NULL),
                     STORE_OK);
    store_close(st);
    /* reopened: the good writes are there */
    st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    assert_int_equal(store_get_mail(st, ok_id, &rec), STORE_OK);
    rec = store_mail_rec_free(rec);
    assert_int_equal(store_get_mail(st, id, &rec), STORE_OK);
    rec = store_mail_rec_free(rec);
    store_close(st);
}

static void test_meta_write_error_group(void **state)
{
    run(*state, 1);
}

static void test_meta_write_error_solo(void **state)
{
    run(*state, 0);
}

/* ---- the fault in the middle of concurrent batches ---- */

#define P_THREADS 4
#define P_WRITES  30

struct pw {
    store_t *st;
    int      t;
    char     ids[P_WRITES][MAILID_ID_LEN + 1];
    int      rc[P_WRITES];
};

static void *pw_main(void *arg)
{
    struct pw *w = arg;
    for (int i = 0; i < P_WRITES; i++) {
        if (w->t == 0 && i == P_WRITES / 3)
            atomic_store(&fail_meta, 1);        /* the disk hiccups once */
        w->rc[i] = fx_put(w->st, T0 + (uint64_t)(w->t * 100 + i), "alice@a.example",
                          rcpts, 2, w->ids[i]);
    }
    return NULL;
}

/* Bad input: a meta page write fails while four threads write through the
 * group commit; each write gets OK or STORE_EIO, every OK is on disk, and
 * nothing refused is. */
static void test_meta_write_error_concurrent(void **state)
{
    const char *dir = *state;
    static struct pw w[P_THREADS];
    pthread_t th[P_THREADS];
    int failed = 0;
    store_t *st = fx_open(dir, 1, 0, 0);

    assert_non_null(st);
    atomic_store(&meta_failed, 0);
    for (int t = 0; t < P_THREADS; t++) {
        w[t].st = st;
        w[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, pw_main, &w[t]), 0);
    }
    for (int t = 0; t < P_THREADS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&fail_meta, 0);
    assert_int_equal(atomic_load(&meta_failed), 1);
    store_close(st);
    st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    for (int t = 0; t < P_THREADS; t++)
        for (int i = 0; i < P_WRITES; i++) {
            struct store_mail_rec *rec = NULL;
            int rc = store_get_mail(st, w[t].ids[i], &rec);
            if (w[t].rc[i] == STORE_OK) {
                assert_int_equal(rc, STORE_OK);
            } else {
                assert_int_equal(w[t].rc[i], STORE_EIO);
                assert_int_equal(rc, STORE_ENOTFOUND);
                failed++;
            }
            rec = store_mail_rec_free(rec);
        }
    print_message("%d of %d writes refused around the failed meta write\n", failed,
                  P_THREADS * P_WRITES);
    /* a batch of one gets the error; a bigger one is retried write by write */
    assert_true(failed <= 1);
    store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_meta_write_error_group),
        T(test_meta_write_error_solo),
        T(test_meta_write_error_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
