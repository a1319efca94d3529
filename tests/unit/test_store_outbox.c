/*
 * test_store_outbox - the outbox holds state, not events (store_outbox.h):
 * many changes of one entry leave one item with the final state; a change
 * while the forwarder sends the old item is not lost; the per-peer bound
 * (store_opts.outbox_max) records locally and counts what it did not
 * queue; parking and deleting keep the index right; a schema 2 database
 * with duplicate items is coalesced at open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "store_fixture.h"

static const char *const bob[] = { "bob@a.example" };

static store_t *open_max(const char *dir, size_t max)
{
    struct store_opts o = { .path = dir, .group_commit = 1, .outbox_max = max };
    char err[256];
    store_t *st = NULL;
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), STORE_OK);
    return st;
}

static size_t depth(store_t *st, const char *peer)
{
    size_t d = 99, parked;
    assert_int_equal(store_outbox_stats(st, peer, &d, NULL, &parked), STORE_OK);
    return d;
}

/* 50 toggles of \Seen of one message while the peer is down: one item,
 * carrying the entry's final state; the oldest queued time is the first
 * change's. */
static void test_toggles_coalesce(void **state)
{
    store_t *st = open_max(*state, 0);
    char id[MAILID_ID_LEN + 1];
    struct store_outbox_item *it;
    size_t n;
    uint64_t oldest1, oldest;

    assert_int_equal(fx_put(st, T0, "alice@c.example", bob, 1, id), STORE_OK);
    assert_int_equal(store_mark_read(st, id, bob[0], T0 + 100, "imap", "mx2", NULL),
                     STORE_OK);
    assert_int_equal(store_outbox_stats(st, "mx2", NULL, &oldest1, NULL), STORE_OK);
    assert_true(oldest1 > 0);
    for (int i = 1; i < 50; i++)
        assert_int_equal(store_mark_read(st, id, bob[0], T0 + 100 + (uint64_t)i, "imap",
                                         "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 1);
    assert_int_equal(store_outbox_stats(st, "mx2", NULL, &oldest, NULL), STORE_OK);
    assert_int_equal(oldest, oldest1);
    assert_int_equal(store_outbox_peek(st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(it[0].id, id);
    assert_int_equal(it[0].rcpt.read_count, 50);
    assert_int_equal(it[0].rcpt.last_read_ms, T0 + 149);
    assert_int_equal(it[0].queued_ms, oldest1);
    store_outbox_free(it, n);
    /* another peer and another recipient have items of their own */
    static const char *const two[] = { "bob@a.example", "carol@a.example" };
    char id2[MAILID_ID_LEN + 1];
    assert_int_equal(fx_put(st, T0 + 1, "alice@c.example", two, 2, id2), STORE_OK);
    assert_int_equal(store_mark_read(st, id2, two[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_mark_read(st, id2, two[1], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_mark_read(st, id2, two[1], 0, "imap", "mx3", NULL), STORE_OK);
    assert_int_equal(store_mark_read(st, id2, two[1], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 3);
    assert_int_equal(depth(st, "mx3"), 1);
    st = store_close(st);
}

/* The forwarder peeked item s1 and is sending it when a newer change
 * arrives; its delete of s1 after the 2xx must not drop the newer state. */
static void test_change_while_sending(void **state)
{
    store_t *st = open_max(*state, 0);
    char id[MAILID_ID_LEN + 1];
    struct store_outbox_item *it;
    size_t n;

    assert_int_equal(fx_put(st, T0, "alice@c.example", bob, 1, id), STORE_OK);
    assert_int_equal(store_mark_read(st, id, bob[0], T0 + 1, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_outbox_peek(st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 1);
    uint64_t s1 = it[0].seq;
    store_outbox_free(it, n);
    assert_int_equal(store_mark_read(st, id, bob[0], T0 + 2, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_outbox_delete(st, "mx2", &s1, 1), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 1);
    assert_int_equal(store_outbox_peek(st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_true(it[0].seq > s1);
    assert_int_equal(it[0].rcpt.read_count, 2);
    uint64_t s2 = it[0].seq;
    store_outbox_free(it, n);
    /* delivered: the index goes with it, so the next change queues anew */
    assert_int_equal(store_outbox_delete(st, "mx2", &s2, 1), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 0);
    assert_int_equal(store_mark_read(st, id, bob[0], T0 + 3, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 1);
    /* parked: out of the queue; a later change queues a new item */
    assert_int_equal(store_outbox_peek(st, "mx2", 10, &it, &n), STORE_OK);
    uint64_t s3 = it[0].seq;
    store_outbox_free(it, n);
    assert_int_equal(store_outbox_park(st, "mx2", &s3, 1), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 0);
    assert_int_equal(store_mark_read(st, id, bob[0], T0 + 4, "imap", "mx2", NULL), STORE_OK);
    size_t d, parked;
    assert_int_equal(store_outbox_stats(st, "mx2", &d, NULL, &parked), STORE_OK);
    assert_int_equal(d, 1);
    assert_int_equal(parked, 1);
    st = store_close(st);
}

/* The per-peer bound: beyond it, reads are recorded but not queued, and
 * counted; an entry already queued still gets its newer state; the
 * bound is per peer; after delivery there is room again. */
static void test_bound(void **state)
{
    store_t *st = open_max(*state, 3);
    char id[6][MAILID_ID_LEN + 1];
    struct store_stats ss;
    struct store_rcpt e;

    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx_put(st, T0 + (uint64_t)i, "alice@c.example", bob, 1, id[i]),
                         STORE_OK);
        assert_int_equal(store_mark_read(st, id[i], bob[0], 0, "imap", "mx2", NULL),
                         STORE_OK);
    }
    assert_int_equal(depth(st, "mx2"), 3);
    assert_int_equal(store_stats(st, &ss), STORE_OK);
    assert_int_equal(ss.outbox_overflow, 2);
    /* recorded here all the same */
    assert_int_equal(fx_entry(st, id[4], bob[0], &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    store_rcpt_clear(&e);
    /* a queued entry's newer change replaces its item, full or not */
    assert_int_equal(store_mark_read(st, id[0], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 3);
    assert_int_equal(store_stats(st, &ss), STORE_OK);
    assert_int_equal(ss.outbox_overflow, 2);
    /* another peer has its own room */
    assert_int_equal(store_mark_read(st, id[4], bob[0], 0, "imap", "mx3", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx3"), 1);
    /* one delivered: room for one more */
    struct store_outbox_item *it;
    size_t n;
    assert_int_equal(store_outbox_peek(st, "mx2", 1, &it, &n), STORE_OK);
    uint64_t s = it[0].seq;
    store_outbox_free(it, n);
    assert_int_equal(store_outbox_delete(st, "mx2", &s, 1), STORE_OK);
    assert_int_equal(store_mark_read(st, id[3], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 3);
    assert_int_equal(store_stats(st, &ss), STORE_OK);
    assert_int_equal(ss.outbox_overflow, 2);
    st = store_close(st);
}

/* Purge and erasure take the index along: no stale index value keeps a
 * purged entry's slot (the bound would count it) */
static void test_purge_clears_index(void **state)
{
    store_t *st = open_max(*state, 2);
    char id[3][MAILID_ID_LEN + 1];
    size_t purged;

    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx_put(st, T0 + (uint64_t)i, "alice@c.example", bob, 1, id[i]),
                         STORE_OK);
        assert_int_equal(store_mark_read(st, id[i], bob[0], 0, "imap", "mx2", NULL),
                         STORE_OK);
    }
    assert_int_equal(store_purge(st, T0 + 1000, 10, &purged), STORE_OK);
    assert_int_equal(purged, 2);
    assert_int_equal(depth(st, "mx2"), 0);
    assert_int_equal(fx_put(st, T0 + 2000, "alice@c.example", bob, 1, id[2]), STORE_OK);
    assert_int_equal(store_mark_read(st, id[2], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 1);
    size_t erased;
    assert_int_equal(store_erase_address(st, bob[0], &erased), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 0);
    struct store_stats ss;
    assert_int_equal(store_stats(st, &ss), STORE_OK);
    assert_int_equal(ss.outbox_overflow, 0);
    st = store_close(st);
}

/* A schema 2 database (no outbox_idx) whose outbox holds three items of
 * one entry and one of another: opening coalesces them to two, keeps the
 * newest, and later changes coalesce. */
static void test_migrate_from_2(void **state)
{
    const char *dir = *state;
    store_t *st = open_max(dir, 0);
    char id[2][MAILID_ID_LEN + 1];
    struct store_outbox_item *it;
    size_t n;

    assert_int_equal(fx_put(st, T0, "alice@c.example", bob, 1, id[0]), STORE_OK);
    assert_int_equal(fx_put(st, T0 + 1, "alice@c.example", bob, 1, id[1]), STORE_OK);
    assert_int_equal(store_mark_read(st, id[0], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_mark_read(st, id[1], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    st = store_close(st);

    /* make it what schema 2 left: copies of the first item under later
     * seqs, no index, schema "2" */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi ob, meta, idx;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "outbox", 0, &ob), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "outbox_idx", MDB_DUPSORT, &idx), 0);
    assert_int_equal(mdb_drop(txn, idx, 1), 0);
    assert_int_equal(mdb_cursor_open(txn, ob, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    unsigned char key[64], val[128];
    size_t klen = k.mv_size, vlen = v.mv_size;
    assert_true(klen <= sizeof(key) && vlen <= sizeof(val));
    memcpy(key, k.mv_data, klen);
    memcpy(val, v.mv_data, vlen);
    mdb_cursor_close(cur);
    for (unsigned char s = 100; s < 102; s++) {
        key[klen - 1] = s;              /* seqs 100, 101: after the two */
        MDB_val nk = { klen, key }, nv = { vlen, val };
        assert_int_equal(mdb_put(txn, ob, &nk, &nv, 0), 0);
    }
    MDB_val sk = { 6, (void *)"schema" }, sv = { 1, (void *)"2" };
    assert_int_equal(mdb_put(txn, meta, &sk, &sv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = open_max(dir, 0);
    assert_int_equal(depth(st, "mx2"), 2);
    assert_int_equal(store_outbox_peek(st, "mx2", 10, &it, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(it[0].id, id[1]);       /* the first's newest copy is last */
    assert_string_equal(it[1].id, id[0]);
    assert_int_equal(it[1].seq, 101);
    store_outbox_free(it, n);
    assert_int_equal(store_mark_read(st, id[0], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(store_mark_read(st, id[1], bob[0], 0, "imap", "mx2", NULL), STORE_OK);
    assert_int_equal(depth(st, "mx2"), 2);
    st = store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_toggles_coalesce),
        T(test_change_while_sending),
        T(test_bound),
        T(test_purge_clears_index),
        T(test_migrate_from_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
