/*
 * test_store_schema5 - schema 5 (smaller entries, store_schema5.h): a
 * schema 4 database (version 2 recipient records, by_rcpt "addr 0x00 ID"
 * keys), written here byte by byte as schema 4 wrote it, opens migrated:
 * the recipient index rebuilt as rcpt_idx (every list by recipient, cursor
 * and time bound as before), by_rcpt gone, old records still read and
 * rewritten as version 3 when they change, erasure finds the migrated
 * entries.  A large index migrates in bounded steps, and a migration cut
 * off half way resumes without losing or doubling an entry.  The index of
 * a new database: out-of-order ids, repeated recipients, recipients in any
 * order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "store_fixture.h"
#include "store_rec.h"
#include "store_schema5.h"

#define T0 1764324000000ull

static void put_u32(unsigned char **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

/* A recipient record as schema 4 wrote it (version 2). */
static size_t rcpt_v2(unsigned char *out, int status, uint64_t first, uint32_t count,
                      uint64_t updated, const char *server)
{
    unsigned char *p = out;
    *p++ = 2;
    *p++ = (unsigned char)status;
    put_u64(&p, first);
    put_u64(&p, first);
    put_u32(&p, count);
    put_u64(&p, updated);
    put_u32(&p, (uint32_t)strlen(server));
    memcpy(p, server, strlen(server));
    p += strlen(server);
    put_u32(&p, status == STORE_READ ? 3 : 0);
    if (status == STORE_READ) {
        memcpy(p, "api", 3);
        p += 3;
    }
    put_u32(&p, 0xFFFFFFFFu);           /* original_recipient NULL */
    *p++ = 0;                           /* not expanded */
    return (size_t)(p - out);
}

struct raw {
    MDB_env *env;
    MDB_txn *txn;
};

static MDB_dbi raw_db(struct raw *r, const char *name, unsigned flags)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(r->txn, name, MDB_CREATE | flags, &dbi), 0);
    return dbi;
}

static void raw_begin(struct raw *r, const char *dir)
{
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(r->env, (size_t)256 << 20), 0);
    assert_int_equal(mdb_env_open(r->env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
}

static void raw_end(struct raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static void raw_put(struct raw *r, const char *db, const void *k, size_t kl,
                    const void *v, size_t vl)
{
    MDB_val kv = { kl, (void *)(uintptr_t)k }, vv = { vl, (void *)(uintptr_t)v };
    assert_int_equal(mdb_put(r->txn, raw_db(r, db, 0), &kv, &vv, 0), 0);
}

/* The sub-databases of schema 4, empty, and meta schema "4". */
static void schema4_skeleton(struct raw *r)
{
    static const char *const names[] = { "mails", "rcpts", "by_sender", "by_rcpt",
                                         "outbox", "parked", "meta", "by_login",
                                         "by_msgid", "replay" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        raw_db(r, names[i], 0);
    raw_db(r, "outbox_idx", MDB_DUPSORT);
    raw_put(r, "meta", "schema", 6, "4", 1);
}

/* "addr 0x00 ID": a schema 4 by_rcpt key. */
static size_t old_key(unsigned char *k, const char *addr, const char *id)
{
    size_t n = strlen(addr);
    memcpy(k, addr, n);
    k[n] = 0;
    memcpy(k + n + 1, id, MAILID_ID_LEN);
    return n + 1 + MAILID_ID_LEN;
}

/* Entries in a sub-database (a DUPSORT one counts every id); -1 if absent. */
static long raw_count(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    long n = -1;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    if (mdb_dbi_open(txn, db, 0, &dbi) == 0) {
        assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
        n = (long)ms.ms_entries;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* The raw value of a meta key into buf ("" if absent). */
static void raw_meta(const char *dir, const char *key, char *buf, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = { strlen(key), (void *)(uintptr_t)key }, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    buf[0] = '\0';
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size < len) {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* The version byte of (id, rcpt)'s record. */
static int raw_rcpt_version(const char *dir, const char *id, const char *rcpt)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned char kb[128];
    memcpy(kb, id, MAILID_ID_LEN);
    memcpy(kb + MAILID_ID_LEN, rcpt, strlen(rcpt));
    MDB_val k = { MAILID_ID_LEN + strlen(rcpt), kb }, v;
    int ver = -1;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "rcpts", 0, &dbi), 0);
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size > 0)
        ver = ((const unsigned char *)v.mv_data)[0];
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return ver;
}

/* The ids of a list page, newest first, as one string "ID,ID,". */
static void page(store_t *st, const struct store_query *q, char *out, char *next)
{
    struct store_list l;
    assert_int_equal(store_list(st, q, &l), STORE_OK);
    out[0] = '\0';
    for (size_t i = 0; i < l.n_mails; i++) {
        strcat(out, l.mails[i].mail.id);
        strcat(out, ",");
    }
    strcpy(next, l.next_cursor);
    store_list_clear(&l);
}

static void test_migrate_from_4(void **state)
{
    const char *dir = *state;
    char id[3][MAILID_ID_LEN + 1];
    struct raw r;
    unsigned char k[512], v[256];

    raw_begin(&r, dir);
    schema4_skeleton(&r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mailid_generate(T0 + 1000u * (unsigned)i, id[i]), MAILID_OK);
        struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                                .created_ms = T0 + 1000u * (unsigned)i, .n_rcpt = 2 };
        struct store_rec_buf b = { 0 };
        store_rec_mail_encode(&b, &m);
        raw_put(&r, "mails", id[i], MAILID_ID_LEN, b.p, b.len);
        store_rec_buf_free(&b);
        raw_put(&r, "by_sender", k, old_key(k, "alice@a.example", id[i]), "", 0);
        const char *to[2] = { "bob@a.example", "carol@a.example" };
        for (int j = 0; j < 2; j++) {
            memcpy(k, id[i], MAILID_ID_LEN);
            memcpy(k + MAILID_ID_LEN, to[j], strlen(to[j]));
            size_t vl = rcpt_v2(v, i == 0 && j == 1 ? STORE_READ : STORE_SENT,
                                i == 0 && j == 1 ? T0 + 5 : 0, i == 0 && j == 1,
                                T0 + 1000u * (unsigned)i, "mx1");
            raw_put(&r, "rcpts", k, MAILID_ID_LEN + strlen(to[j]), v, vl);
            raw_put(&r, "by_rcpt", k, old_key(k, to[j], id[i]), "", 0);
        }
    }
    /* bad input: a damaged old index key (no 0x00 ID) is skipped, not copied */
    raw_put(&r, "by_rcpt", "junk", 4, "", 0);
    raw_end(&r);

    store_t *st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    char got[256], want[256], next[MAILID_ID_LEN + 1];
    /* by recipient, newest first, in pages with a cursor */
    struct store_query q = { .recipient = "bob@a.example", .status = -1, .limit = 2 };
    page(st, &q, got, next);
    snprintf(want, sizeof(want), "%s,%s,", id[2], id[1]);
    assert_string_equal(got, want);
    assert_string_equal(next, id[1]);
    q.cursor = next;
    char next2[MAILID_ID_LEN + 1];
    page(st, &q, got, next2);
    snprintf(want, sizeof(want), "%s,", id[0]);
    assert_string_equal(got, want);
    assert_string_equal(next2, "");
    /* time bounds: [T0 + 1000, T0 + 2000) is the middle mail only */
    struct store_query qt = { .recipient = "carol@a.example", .status = -1, .limit = 10,
                              .since_ms = T0 + 1000, .until_ms = T0 + 2000 };
    page(st, &qt, got, next);
    snprintf(want, sizeof(want), "%s,", id[1]);
    assert_string_equal(got, want);
    /* a status filter with the recipient: carol read the oldest one */
    struct store_query qs = { .recipient = "carol@a.example", .status = STORE_READ,
                              .limit = 10 };
    page(st, &qs, got, next);
    snprintf(want, sizeof(want), "%s,", id[0]);
    assert_string_equal(got, want);
    /* a version 2 record reads whole ... */
    struct store_rcpt e;
    assert_int_equal(fx_entry(st, id[0], "carol@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);
    assert_int_equal(e.first_read_ms, T0 + 5);
    assert_int_equal(e.read_count, 1);
    assert_string_equal(e.via, "api");
    assert_string_equal(e.server, "mx1");
    store_rcpt_clear(&e);
    /* ... and is rewritten as version 3 when it changes */
    assert_int_equal(store_mark_read(st, id[1], "bob@a.example", T0 + 9000, "imap", NULL,
                                     NULL), STORE_OK);
    store_close(st);
    assert_int_equal(raw_rcpt_version(dir, id[1], "bob@a.example"), 3);
    assert_int_equal(raw_rcpt_version(dir, id[0], "bob@a.example"), 2);
    assert_int_equal(raw_count(dir, "by_rcpt"), -1);
    assert_int_equal(raw_count(dir, "rcpt_idx"), 6);
    raw_meta(dir, "schema", got, sizeof(got));
    assert_string_equal(got, "5");
    raw_meta(dir, "schema5_at", got, sizeof(got));
    assert_string_equal(got, "");

    /* the migrated index drives erasure: bob's three entries go */
    st = fx_open(dir, 0, 0, 0);
    size_t erased;
    assert_int_equal(store_erase_address(st, "bob@a.example", &erased), STORE_OK);
    assert_int_equal(erased, 3);
    q.cursor = NULL;
    page(st, &q, got, next);
    assert_string_equal(got, "");
    assert_int_equal(fx_entry(st, id[1], "bob@a.example", &e), STORE_ENORCPT);
    store_close(st);
    assert_int_equal(raw_count(dir, "rcpt_idx"), 3);
}

#define NIDS 301
#define NADDR 1000
#define NBIG (STORE_SCHEMA5_STEP + STORE_SCHEMA5_STEP / 2 + 7)

/* LMDB's default key order: bytes, then length. */
static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/*
 * A big old index, and a migration that was cut off: rcpt_idx already holds
 * every entry below the saved resume key and some beyond it (the step that
 * copied those was lost).  Opening finishes it in bounded steps: every
 * entry exactly once, no resume key left, schema 5.
 */
static void test_migrate_resumes_in_steps(void **state)
{
    const char *dir = *state;
    static char ids[NIDS][MAILID_ID_LEN + 1];
    struct raw r;
    unsigned char k[128], resume[128];
    char addr[32];

    for (int i = 0; i < NIDS; i++)
        assert_int_equal(mailid_generate(T0 + (unsigned)i, ids[i]), MAILID_OK);
    /* about 11% of the keys sort below it: the rest takes two steps */
    size_t rl = old_key(resume, "u1@a.example", ids[7]);
    raw_begin(&r, dir);
    schema4_skeleton(&r);
    MDB_dbi old = raw_db(&r, "by_rcpt", 0);
    MDB_dbi idx = raw_db(&r, "rcpt_idx", MDB_DUPSORT | MDB_DUPFIXED);
    size_t copied = 0;
    for (long e = 0; e < NBIG; e++) {
        snprintf(addr, sizeof(addr), "u%ld@a.example", e % NADDR);
        const char *id = ids[e / NADDR];
        size_t kl = old_key(k, addr, id);
        MDB_val kv = { kl, k }, ev = { 0, (void *)"" };
        assert_int_equal(mdb_put(r.txn, old, &kv, &ev, 0), 0);
        /* copied before the cut: everything below the resume key, and
         * every 10th entry after it */
        if (key_cmp(k, kl, resume, rl) < 0 || e % 10 == 0) {
            MDB_val ak = { strlen(addr), addr }, iv = { MAILID_ID_LEN, (void *)(uintptr_t)id };
            assert_int_equal(mdb_put(r.txn, idx, &ak, &iv, MDB_NODUPDATA), 0);
            copied++;
        }
    }
    raw_put(&r, "meta", "schema5_at", 10, resume, rl);
    raw_end(&r);
    assert_true(copied > 0 && copied < NBIG);

    store_t *st = fx_open(dir, 0, (size_t)64 << 20, (size_t)1 << 30);
    assert_non_null(st);
    struct store_query q = { .recipient = "u500@a.example", .status = -1, .limit = 1000 };
    struct store_list l;
    assert_int_equal(store_list(st, &q, &l), STORE_OK);
    /* no mail records: every index entry is dangling, so none is listed */
    assert_int_equal(l.n_mails, 0);
    store_list_clear(&l);
    store_close(st);
    assert_int_equal(raw_count(dir, "rcpt_idx"), NBIG);
    assert_int_equal(raw_count(dir, "by_rcpt"), -1);
    char got[64];
    raw_meta(dir, "schema", got, sizeof(got));
    assert_string_equal(got, "5");
    raw_meta(dir, "schema5_at", got, sizeof(got));
    assert_string_equal(got, "");
}

/*
 * The index of a new database: recipients given in any order, one given
 * twice (the first one is recorded), a mail older than the newest (its
 * entries cannot be appended), and a relayed mail recorded again: every
 * list by recipient finds each mail once, newest first.
 */
static void test_new_index_any_order(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 0, 0, 0);
    char a[MAILID_ID_LEN + 1], b[MAILID_ID_LEN + 1], c[MAILID_ID_LEN + 1];
    char got[256], want[256], next[MAILID_ID_LEN + 1];
    assert_non_null(st);

    const char *to1[] = { "zed@a.example", "bob@a.example", "amy@a.example",
                          "bob@a.example" };
    assert_int_equal(fx_put(st, T0 + 2000, "alice@a.example", to1, 4, b), STORE_OK);
    const char *to2[] = { "bob@a.example", "amy@a.example" };
    assert_int_equal(fx_put(st, T0 + 3000, "alice@a.example", to2, 2, c), STORE_OK);
    /* an older id after a newer one */
    assert_int_equal(fx_put(st, T0 + 1000, "alice@a.example", to2, 2, a), STORE_OK);
    /* the same mail again (relayed): nothing doubles, nothing resets */
    assert_int_equal(store_mark_read(st, a, "bob@a.example", T0 + 5000, "api", NULL, NULL),
                     STORE_OK);
    struct store_mail m = { .sender = (char *)(uintptr_t)"alice@a.example",
                            .created_ms = T0 + 1000 };
    memcpy(m.id, a, sizeof(m.id));
    struct store_rcpt again[2] = {
        { .address = (char *)(uintptr_t)"bob@a.example", .server = (char *)(uintptr_t)"mx1" },
        { .address = (char *)(uintptr_t)"cat@a.example", .server = (char *)(uintptr_t)"mx1" },
    };
    assert_int_equal(store_put_sent(st, &m, again, 2), STORE_OK);

    struct store_query q = { .status = -1, .limit = 10 };
    q.recipient = "bob@a.example";
    page(st, &q, got, next);
    snprintf(want, sizeof(want), "%s,%s,%s,", c, b, a);
    assert_string_equal(got, want);
    q.recipient = "amy@a.example";
    page(st, &q, got, next);
    assert_string_equal(got, want);
    q.recipient = "zed@a.example";
    page(st, &q, got, next);
    snprintf(want, sizeof(want), "%s,", b);
    assert_string_equal(got, want);
    q.recipient = "cat@a.example";
    page(st, &q, got, next);
    snprintf(want, sizeof(want), "%s,", a);
    assert_string_equal(got, want);
    struct store_rcpt e;
    assert_int_equal(fx_entry(st, a, "bob@a.example", &e), STORE_OK);
    assert_int_equal(e.status, STORE_READ);         /* not reset by the relay */
    store_rcpt_clear(&e);
    struct store_mail_rec *rec;
    assert_int_equal(store_get_mail(st, b, &rec), STORE_OK);
    assert_int_equal(rec->n_rcpts, 3);              /* bob once */
    store_mail_rec_free(rec);
    /* a purge takes the index entries with the mails */
    size_t purged;
    assert_int_equal(store_purge(st, T0 + 2500, 100, &purged), STORE_OK);
    assert_int_equal(purged, 2);
    q.recipient = "bob@a.example";
    page(st, &q, got, next);
    snprintf(want, sizeof(want), "%s,", c);
    assert_string_equal(got, want);
    store_close(st);
    assert_int_equal(raw_count(dir, "rcpt_idx"), 2);
    assert_int_equal(raw_count(dir, "by_rcpt"), -1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_migrate_from_4),
        T(test_migrate_resumes_in_steps),
        T(test_new_index_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
