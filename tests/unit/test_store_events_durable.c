/*
 * test_store_events_durable - the feed serves only events on disk
 * (store_events.h, Durability).
 *
 * With group commit a commit is visible before its meta page is synced; a
 * power cut then rolls it back and its seq goes to another event.  This
 * test holds the committer inside that window: it interposes fdatasync()
 * and fsync() (this executable's definitions win over libc's for liblmdb's
 * calls) and blocks the second sync of data.mdb after arming, which is the
 * settle of a lone batch (the first is its commit's data sync).  While it
 * is held the change is visible (the entry reads "read") but the event must
 * not be served, nor the hook run; once the sync passes both happen.
 * Another process's event (a child that opens the store for itself) is
 * served after one sync by the reader.  Plus the pure rule, as a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "store_events.h"
#include "store_fixture.h"

/* ---- the sync gate ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  gate_cv = PTHREAD_COND_INITIALIZER;
static char gate_file[600];         /* data.mdb of the store under test */
static int  gate_hold_at;           /* hold the n-th sync after arming (0: none) */
static int  gate_count;             /* syncs of data.mdb since arming */
static int  gate_held, gate_open;
static atomic_int data_syncs;       /* every sync of data.mdb */

int fdatasync(int fd);
int fsync(int fd);

static int is_data_file(int fd)
{
    struct stat a, b;
    return gate_file[0] && fstat(fd, &a) == 0 && stat(gate_file, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void gate(int fd)
{
    if (!is_data_file(fd))
        return;
    atomic_fetch_add(&data_syncs, 1);
    pthread_mutex_lock(&gate_mu);
    if (gate_hold_at > 0 && ++gate_count == gate_hold_at) {
        gate_held = 1;
        pthread_cond_broadcast(&gate_cv);
        while (!gate_open)
            pthread_cond_wait(&gate_cv, &gate_mu);
        gate_held = 0;
    }
    pthread_mutex_unlock(&gate_mu);
}

int fdatasync(int fd)
{
    gate(fd);
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
    gate(fd);
    return (int)syscall(SYS_fsync, fd);
}

static void gate_arm(int hold_at)
{
    pthread_mutex_lock(&gate_mu);
    gate_hold_at = hold_at;
    gate_count = 0;
    gate_open = 0;
    pthread_mutex_unlock(&gate_mu);
}

/* Wait (at most 10 s) until a sync is held; 1 if it is. */
static int gate_wait_held(void)
{
    struct timespec until;
    int held;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&gate_mu);
    while (!gate_held && pthread_cond_timedwait(&gate_cv, &gate_mu, &until) == 0)
        ;
    held = gate_held;
    pthread_mutex_unlock(&gate_mu);
    return held;
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    gate_hold_at = 0;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* ---- fixture ---- */

static const char *const rcpts[] = { "bob@a.example", "dave@a.example" };

static int setup(void **state)
{
    if (fx_setup_mode(state, 1) != 0)     /* group commit, as the tracker */
        return -1;
    snprintf(gate_file, sizeof(gate_file), "%s/data.mdb", ((struct fx *)*state)->dir);
    return 0;
}

static int teardown(void **state)
{
    gate_release();
    store_events_set_hook(NULL, NULL);
    gate_file[0] = '\0';
    return fx_teardown(state);
}

static atomic_int hook_calls;
static void hook(void *arg)
{
    (void)arg;
    atomic_fetch_add(&hook_calls, 1);
}

struct reader_arg {
    store_t    *st;
    const char *id;
    int         rc;
};

static void *mark_thread(void *p)
{
    struct reader_arg *a = p;
    a->rc = store_mark_read(a->st, a->id, "bob@a.example", T0 + 10, "api", NULL, NULL);
    return NULL;
}

/* How many events after `after` a reader gets now (and *last). */
static size_t served(store_t *st, uint64_t after, uint64_t *last)
{
    struct store_feed_event *ev;
    size_t n;
    assert_int_equal(store_events_read(st, after, 10, &ev, &n, last), STORE_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ev[i].seq, after + 1 + i);
    store_events_free(ev, n);
    return n;
}

/* ---- tests ---- */

static void test_rule(void **state)
{
    static const struct {
        uint64_t newest, durable;
        int      writing;
        uint64_t limit;
        int      sync;
    } cases[] = {
        { 0, 0, 0, 0, 0 },          /* empty feed */
        { 5, 5, 0, 5, 0 },          /* all durable */
        { 5, 5, 1, 5, 0 },
        { 5, 7, 0, 5, 0 },          /* an older snapshot than D */
        { 7, 5, 1, 5, 0 },          /* ours in flight: wait for the settle */
        { 7, 5, 0, 5, 1 },          /* another process's: sync, then 7 */
        { 1, 0, 1, 0, 0 },
        { 1, 0, 0, 0, 1 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int sync = -1;
        uint64_t lim = store_events_servable(cases[i].newest, cases[i].durable,
                                             cases[i].writing, &sync);
        assert_int_equal(lim, cases[i].limit);
        assert_int_equal(sync, cases[i].sync);
    }
}

static void test_unsynced_not_served(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    struct reader_arg a = { f->st, id, -1 };
    struct store_rcpt r;
    pthread_t th;
    uint64_t last = 99;

    store_events_set_hook(hook, NULL);
    assert_int_equal(fx_put(f->st, T0, "alice@a.example", rcpts, 2, id), STORE_OK);
    assert_int_equal(served(f->st, 0, &last), 0);
    assert_int_equal(last, 0);
    atomic_store(&hook_calls, 0);

    /* bob reads: the commit's data sync passes, its settle is held */
    gate_arm(2);
    assert_int_equal(pthread_create(&th, NULL, mark_thread, &a), 0);
    assert_true(gate_wait_held());

    /* committed and visible ... */
    assert_int_equal(fx_entry(f->st, id, "bob@a.example", &r), STORE_OK);
    assert_int_equal(r.status, STORE_READ);
    store_rcpt_clear(&r);
    /* ... but not on disk: not served, no wake-up */
    assert_int_equal(served(f->st, 0, &last), 0);
    assert_int_equal(last, 0);
    assert_int_equal(store_events_last(f->st, &last), STORE_OK);
    assert_int_equal(last, 0);
    assert_int_equal(atomic_load(&hook_calls), 0);

    /* the sync passes: the writer is answered, the event served */
    gate_release();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.rc, STORE_OK);
    assert_int_equal(served(f->st, 0, &last), 1);
    assert_int_equal(last, 1);
    assert_int_equal(store_events_last(f->st, &last), STORE_OK);
    assert_int_equal(last, 1);
    assert_int_equal(atomic_load(&hook_calls), 1);
}

/* Child: open the store for itself (as mailstatectl does: no group
 * commit), make dave's read an event, exit 0. */
static int child_mark(const char *dir, const char *id)
{
    store_t *st = fx_open(dir, 0, 0, 0);
    if (st == NULL)
        return 2;
    int rc = store_mark_read(st, id, "dave@a.example", T0 + 20, "api", NULL, NULL);
    store_close(st);
    return rc == STORE_OK ? 0 : 3;
}

static void test_other_process_served_after_sync(void **state)
{
    struct fx *f = *state;
    char id[MAILID_ID_LEN + 1];
    uint64_t last = 0;
    int status;
    pid_t pid;

    store_events_set_hook(hook, NULL);
    assert_int_equal(fx_put(f->st, T0, "alice@a.example", rcpts, 2, id), STORE_OK);
    assert_int_equal(store_mark_read(f->st, id, "bob@a.example", T0 + 10, "api", NULL, NULL),
                     STORE_OK);
    assert_int_equal(served(f->st, 0, &last), 1);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_mark(f->dir, id));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* No write of ours covers seq 2: the reader syncs once and serves it. */
    atomic_store(&hook_calls, 0);
    int before = atomic_load(&data_syncs);
    assert_int_equal(served(f->st, 1, &last), 1);
    assert_int_equal(last, 2);
    assert_int_equal(atomic_load(&data_syncs), before + 1);
    assert_int_equal(atomic_load(&hook_calls), 1);      /* other waiters wake */
    /* known durable now: no second sync */
    assert_int_equal(store_events_last(f->st, &last), STORE_OK);
    assert_int_equal(last, 2);
    assert_int_equal(atomic_load(&data_syncs), before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test_setup_teardown(test_unsynced_not_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_process_served_after_sync, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
