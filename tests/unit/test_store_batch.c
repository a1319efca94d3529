/*
 * test_store_batch - group commit with failing writes in the batch.
 *
 * To make batches certain, another process holds LMDB's writer lock (a raw
 * write transaction) while the threads submit: the committer blocks on the
 * first write, every other write queues behind it, and they all go into
 * the next batch once the lock is released.  (The short wait for the
 * threads to queue only makes bigger batches likely; nothing asserts on
 * time.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <sys/wait.h>

#include "store_env.h"
#include "store_fixture.h"

/* Child: hold the writer lock until told to let go (a byte on `go`). */
static int lock_holder(const char *dir, int ready, int go)
{
    MDB_env *env;
    MDB_txn *txn;
    char c = 'x';

    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
        mdb_env_set_mapsize(env, 64 << 20) != 0 ||
        mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(env, NULL, 0, &txn) != 0)
        return 1;
    if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
        return 2;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}

#define N_OPS 12

static const char *const rcpts[] = {
    "r0@a.example", "r1@a.example", "r2@a.example", "r3@a.example",
    "r4@a.example", "r5@a.example", "r6@a.example", "r7@a.example",
    "r8@a.example", "r9@a.example", "r10@a.example", "r11@a.example",
};

struct op {
    store_t    *st;
    const char *id;
    int         i, rc;
    char        put_id[MAILID_ID_LEN + 1];
};

/*
 * Op i: mostly reads of recipient i; every third op is bad in its own way:
 * a recipient never recorded (STORE_ENORCPT), a mail that does not exist
 * (STORE_ENOTFOUND), or a new mail (a write that must succeed next to them).
 */
static void *op_main(void *arg)
{
    struct op *o = arg;
    switch (o->i % 6) {
    case 2:
        o->rc = store_mark_read(o->st, o->id, "ghost@a.example", T0 + 5, "api", NULL, NULL);
        break;
    case 4: {
        char other[MAILID_ID_LEN + 1];
        mailid_generate(T0, other);
        o->rc = store_mark_read(o->st, other, rcpts[o->i], T0 + 5, "api", NULL, NULL);
        break;
    }
    case 5:
        o->rc = fx_put(o->st, T0 + (uint64_t)o->i, "dave@a.example", rcpts, 2, o->put_id);
        break;
    default:
        o->rc = store_mark_read(o->st, o->id, rcpts[o->i], T0 + (uint64_t)o->i, "imap",
                                o->i == 0 ? "mx2" : NULL, NULL);
    }
    return NULL;
}

static int expected(int i)
{
    return i % 6 == 2 ? STORE_ENORCPT : i % 6 == 4 ? STORE_ENOTFOUND : STORE_OK;
}

/* Bad input: unknown recipients and unknown mails in the same batch as
 * good reads and a new mail; each gets its own result, the good ones stay. */
static void test_failing_ops_share_a_batch(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 1, 0, 0);
    struct op ops[N_OPS];
    pthread_t th[N_OPS];
    int ready[2], go[2], status;
    char id[MAILID_ID_LEN + 1], c;
    struct store_stats s;

    assert_non_null(st);
    assert_int_equal(fx_put(st, T0, "alice@a.example", rcpts, N_OPS, id), STORE_OK);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(lock_holder(dir, ready[1], go[0]));
    assert_int_equal(read(ready[0], &c, 1), 1);     /* the writer lock is taken */
    for (int i = 0; i < N_OPS; i++) {
        ops[i] = (struct op){ .st = st, .id = id, .i = i };
        assert_int_equal(pthread_create(&th[i], NULL, op_main, &ops[i]), 0);
    }
    usleep(200 * 1000);                             /* let them queue */
    assert_int_equal(write(go[1], "x", 1), 1);
    for (int i = 0; i < N_OPS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);

    int good = 0;
    for (int i = 0; i < N_OPS; i++) {
        assert_int_equal(ops[i].rc, expected(i));
        good += ops[i].rc == STORE_OK;
    }
    assert_int_equal(store_stats(st, &s), STORE_OK);
    print_message("%d writes (%d good) in %llu commits\n", N_OPS, good,
                  (unsigned long long)s.commits);
    assert_int_equal(s.writes, 1 + (uint64_t)good);
    /* every good write is there, exactly once, and nothing of the bad ones */
    for (int i = 0; i < N_OPS; i++) {
        struct store_rcpt e;
        assert_int_equal(fx_entry(st, id, rcpts[i], &e), STORE_OK);
        if (expected(i) == STORE_OK && i % 6 != 5) {
            assert_int_equal(e.status, STORE_READ);
            assert_int_equal(e.read_count, 1);
            assert_int_equal(e.first_read_ms, T0 + (uint64_t)i);
            assert_string_equal(e.via, "imap");
        } else {
            assert_int_equal(e.status, STORE_SENT);
        }
        store_rcpt_clear(&e);
        if (i % 6 == 5) {
            struct store_mail_rec *rec;
            assert_int_equal(store_get_mail(st, ops[i].put_id, &rec), STORE_OK);
            assert_int_equal(rec->n_rcpts, 2);
            rec = store_mail_rec_free(rec);
        }
    }
    struct store_rcpt e;
    assert_int_equal(fx_entry(st, id, "ghost@a.example", &e), STORE_ENORCPT);
    /* op 0 queued a forward in the same batch */
    size_t depth;
    assert_int_equal(store_outbox_stats(st, "mx2", &depth, NULL, NULL), STORE_OK);
    assert_int_equal(depth, 1);
    store_close(st);
}

/*
 * "Durable when it returns" rests on LMDB's sync behaviour: a guard against
 * someone adding MDB_NOSYNC (or its cousins) for speed.  The one exception
 * is MDB_NOMETASYNC with group commit (the committer answers a batch only
 * after a later commit or an explicit sync made its meta page durable:
 * test_store_durable proves it); a handle without group commit (the tools)
 * keeps LMDB's default, fully synced commits.
 */
static void check_flags(const char *dir, int group)
{
    store_t *st = fx_open(dir, group, 0, 0);
    unsigned flags = 0;

    assert_non_null(st);
    assert_int_equal(mdb_env_get_flags(st->env, &flags), 0);
    assert_int_equal(flags & (MDB_NOSYNC | MDB_MAPASYNC | MDB_NOLOCK | MDB_WRITEMAP |
                              MDB_RDONLY), 0);
    assert_int_equal(flags & MDB_NOMETASYNC, group ? MDB_NOMETASYNC : 0);
    assert_true(flags & MDB_NOTLS);     /* read txns are not tied to threads */
    store_close(st);
}

static void test_env_flags_keep_fsync(void **state)
{
    check_flags(*state, 1);
    check_flags(*state, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_failing_ops_share_a_batch),
        T(test_env_flags_keep_fsync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
