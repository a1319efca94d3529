/*
 * test_store_me - a user's view of the mail log (store_me.h): "my sent
 * mail" as the union of the login and sender indexes, the Message-ID
 * lookup (normal form, batches, another user's mail not returned), index
 * upkeep on purge, and the migration of a schema 1 database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "store_fixture.h"
#include "store_me.h"

static const char *const bob[] = { "bob@a.example", "dave@a.example" };

static int put(store_t *st, uint64_t ms, const char *sender, const char *login,
               const char *msgid, char id[MAILID_ID_LEN + 1])
{
    struct store_mail m = { .sender = (char *)(uintptr_t)sender, .created_ms = ms,
                            .login = (char *)(uintptr_t)login,
                            .message_id = (char *)(uintptr_t)msgid, .n_rcpt = 2 };
    struct store_rcpt r[2] = {
        { .address = (char *)(uintptr_t)bob[0], .server = (char *)(uintptr_t)"mx1" },
        { .address = (char *)(uintptr_t)bob[1], .server = (char *)(uintptr_t)"mx1" },
    };
    if (mailid_generate(ms, m.id) != MAILID_OK)
        return -100;
    memcpy(id, m.id, MAILID_ID_LEN + 1);
    return store_put_sent(st, &m, r, 2);
}

static size_t raw_count(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return ms.ms_entries;
}

/* Mails of alice: by login "alice" (one sent as another address, e.g. an
 * alias), by sender alice@a.example without a login (trusted network), and
 * both at once; a mail of carol that names neither must not appear. */
static void test_sent_union(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 0, 0, 0);
    char a1[27], a2[27], a3[27], c1[27], a4[27];
    struct store_query q = { .status = -1, .limit = 10 };
    struct store_list l;

    assert_non_null(st);
    assert_int_equal(put(st, T0 + 1000, "alice@a.example", "alice", "<1@x>", a1), 0);
    assert_int_equal(put(st, T0 + 2000, "sales@a.example", "alice", "<2@x>", a2), 0);
    assert_int_equal(put(st, T0 + 3000, "alice@a.example", NULL, "<3@x>", a3), 0);
    assert_int_equal(put(st, T0 + 3500, "carol@a.example", "carol", "<c@x>", c1), 0);
    assert_int_equal(put(st, T0 + 4000, "alice@a.example", "alice", "<4@x>", a4), 0);

    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 4);
    assert_string_equal(l.mails[0].mail.id, a4);   /* newest first, each once */
    assert_string_equal(l.mails[1].mail.id, a3);
    assert_string_equal(l.mails[2].mail.id, a2);
    assert_string_equal(l.mails[3].mail.id, a1);
    assert_string_equal(l.mails[0].mail.login, "alice");
    assert_null(l.mails[1].mail.login);
    assert_string_equal(l.next_cursor, "");
    store_list_clear(&l);

    /* paging: 2 + 2, the cursor continues exactly after the page */
    q.limit = 2;
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 2);
    assert_string_equal(l.next_cursor, a3);
    char cur[27];
    memcpy(cur, l.next_cursor, sizeof(cur));
    store_list_clear(&l);
    q.cursor = cur;
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 2);
    assert_string_equal(l.mails[0].mail.id, a2);
    assert_string_equal(l.mails[1].mail.id, a1);
    assert_string_equal(l.next_cursor, "");
    store_list_clear(&l);

    /* time window and a recipient filter */
    q.cursor = NULL;
    q.limit = 10;
    q.since_ms = T0 + 2000;
    q.until_ms = T0 + 4000;
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 2);
    assert_string_equal(l.mails[0].mail.id, a3);
    assert_string_equal(l.mails[1].mail.id, a2);
    store_list_clear(&l);
    q.since_ms = q.until_ms = 0;
    q.recipient = "nobody@a.example";
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 0);
    store_list_clear(&l);
    q.recipient = NULL;
    q.status = STORE_READ;
    assert_int_equal(store_mark_read(st, a2, "bob@a.example", T0 + 5000, "imap", NULL,
                                     NULL), 0);
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 1);
    assert_string_equal(l.mails[0].mail.id, a2);
    store_list_clear(&l);
    q.status = -1;

    /* only the address (a user without recorded logins) */
    assert_int_equal(store_list_sent(st, NULL, "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 3);
    store_list_clear(&l);
    /* carol sees only hers */
    assert_int_equal(store_list_sent(st, "carol", "carol@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 1);
    assert_string_equal(l.mails[0].mail.id, c1);
    store_list_clear(&l);
    /* bad input: no identity at all, a limit of 0, a malformed cursor */
    assert_int_equal(store_list_sent(st, NULL, NULL, &q, &l), STORE_EINVAL);
    q.limit = 0;
    assert_int_equal(store_list_sent(st, "alice", NULL, &q, &l), STORE_EINVAL);
    q.limit = 1;
    q.cursor = "../../etc";
    assert_int_equal(store_list_sent(st, "alice", NULL, &q, &l), STORE_EINVAL);
    store_close(st);
}

static void test_msgid_norm(void **state)
{
    static const struct { const char *in, *out; } cases[] = {
        { "<a@b.example>",            "<a@b.example>" },
        { "  a@B.Example \t",         "<a@b.example>" },
        { " <Ab.C@MX.A.EXAMPLE>\r\n", "<Ab.C@mx.a.example>" },   /* local part kept */
        { "<no-at-sign>",             "<no-at-sign>" },
        { "",                         NULL },
        { "<>",                       NULL },
        { "   ",                      NULL },
        { "<a b@c>",                  NULL },                    /* space inside */
        { "<a\x01@c>",                NULL },                    /* control char */
        { "<<a@c>>",                  NULL },
        { NULL, NULL },
    };
    char out[STORE_MSGID_LEN_MAX + 1];
    (void)state;
    for (size_t i = 0; cases[i].in; i++) {
        size_t n = store_msgid_norm(cases[i].in, out, sizeof(out));
        if (cases[i].out == NULL) {
            if (n != 0)
                fail_msg("\"%s\" was accepted as %s", cases[i].in, out);
        } else {
            if (n == 0 || strcmp(out, cases[i].out) != 0)
                fail_msg("\"%s\" -> \"%s\", want \"%s\"", cases[i].in, n ? out : "",
                         cases[i].out);
        }
    }
    /* bad input: an id longer than a header line may be */
    char big[1200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_msgid_norm(big, out, sizeof(out)), 0);
}

static void test_find_msgids(void **state)
{
    const char *dir = *state;
    store_t *st = fx_open(dir, 0, 0, 0);
    char a1[27], a2[27], a3[27], c1[27];
    struct store_list l;

    assert_non_null(st);
    assert_int_equal(put(st, T0 + 1000, "alice@a.example", "alice", " <m1@A.example>", a1), 0);
    assert_int_equal(put(st, T0 + 2000, "alice@a.example", "alice", "<m2@a.example>", a2), 0);
    /* the same Message-ID sent twice by alice (a re-send): both found */
    assert_int_equal(put(st, T0 + 3000, "alice@a.example", NULL, "<m2@a.example>", a3), 0);
    /* carol's mail with alice's Message-ID (forged or copied): never alice's */
    assert_int_equal(put(st, T0 + 3500, "carol@a.example", "carol", "<m1@a.example>", c1), 0);

    const char *one[] = { "m1@a.example" };
    assert_int_equal(store_find_msgids(st, "alice", "alice@a.example", one, 1, &l), 0);
    assert_int_equal(l.n_mails, 1);
    assert_string_equal(l.mails[0].mail.id, a1);
    store_list_clear(&l);

    const char *batch[] = { "<m2@a.example>", "<m1@a.example>", "<missing@a.example>",
                            "<M2@a.example>", "", "<m2@A.EXAMPLE>" };
    assert_int_equal(store_find_msgids(st, "alice", "alice@a.example", batch, 6, &l), 0);
    assert_int_equal(l.n_mails, 3);                /* each once, newest first */
    assert_string_equal(l.mails[0].mail.id, a3);
    assert_string_equal(l.mails[1].mail.id, a2);
    assert_string_equal(l.mails[2].mail.id, a1);
    store_list_clear(&l);

    assert_int_equal(store_find_msgids(st, "carol", "carol@a.example", one, 1, &l), 0);
    assert_int_equal(l.n_mails, 1);
    assert_string_equal(l.mails[0].mail.id, c1);
    store_list_clear(&l);
    /* bad input: more than STORE_MSGID_MAX values */
    const char *many[STORE_MSGID_MAX + 1];
    for (size_t i = 0; i <= STORE_MSGID_MAX; i++)
        many[i] = "<m1@a.example>";
    assert_int_equal(store_find_msgids(st, "alice", NULL, many, STORE_MSGID_MAX + 1, &l),
                     STORE_EINVAL);
    assert_int_equal(store_find_msgids(st, "alice", NULL, many, STORE_MSGID_MAX, &l), 0);
    assert_int_equal(l.n_mails, 1);
    store_list_clear(&l);
    store_close(st);

    assert_int_equal(raw_count(dir, "by_login"), 3);
    assert_int_equal(raw_count(dir, "by_msgid"), 4);
    /* a purge takes the index entries with the mails */
    st = fx_open(dir, 0, 0, 0);
    size_t purged;
    assert_int_equal(store_purge(st, T0 + 10000, 100, &purged), 0);
    assert_int_equal(purged, 4);
    store_close(st);
    assert_int_equal(raw_count(dir, "by_login"), 0);
    assert_int_equal(raw_count(dir, "by_msgid"), 0);
}

/* A schema 1 database: mail records of version 1, no by_login / by_msgid
 * sub-databases, meta schema "1".  Opening migrates it: schema 2, the
 * Message-ID index built, the old mails found as the sender's. */
static void test_migrate_from_1(void **state)
{
    const char *dir = *state;
    char id[MAILID_ID_LEN + 1];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    assert_int_equal(mailid_generate(T0, id), MAILID_OK);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    static const char *const names[] = { "mails", "rcpts", "by_sender", "by_rcpt",
                                         "outbox", "parked", "meta" };
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi), 0);
    static const unsigned char v1[] = {
        1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
        15, 0, 0, 0, 'a', 'l', 'i', 'c', 'e', '@', 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        0xFF, 0xFF, 0xFF, 0xFF,
        7, 0, 0, 0, '<', 'o', '@', 'l', 'd', '>', ' ',
        0xFF, 0xFF, 0xFF, 0xFF,
    };
    MDB_val k = { MAILID_ID_LEN, id }, v = { sizeof(v1), (void *)(uintptr_t)v1 };
    assert_int_equal(mdb_dbi_open(txn, "mails", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    char ik[64];
    memcpy(ik, "alice@a.example", 16);       /* with its 0x00 */
    memcpy(ik + 16, id, MAILID_ID_LEN);
    MDB_val kk = { 16 + MAILID_ID_LEN, ik }, e = { 0, (void *)"" };
    assert_int_equal(mdb_dbi_open(txn, "by_sender", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &kk, &e, 0), 0);
    MDB_val sk = { 6, (void *)"schema" }, sv = { 1, (void *)"1" };
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &sk, &sv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    store_t *st = fx_open(dir, 0, 0, 0);
    assert_non_null(st);
    struct store_list l;
    const char *want[] = { "<o@ld>" };
    assert_int_equal(store_find_msgids(st, "alice", "alice@a.example", want, 1, &l), 0);
    assert_int_equal(l.n_mails, 1);
    assert_string_equal(l.mails[0].mail.id, id);
    assert_null(l.mails[0].mail.login);
    store_list_clear(&l);
    struct store_query q = { .status = -1, .limit = 5 };
    assert_int_equal(store_list_sent(st, "alice", "alice@a.example", &q, &l), 0);
    assert_int_equal(l.n_mails, 1);
    store_list_clear(&l);
    store_close(st);

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &sk, &sv), 0);
    /* migrated to the current schema (later schemas migrate on from 2) */
    char schema[8];
    snprintf(schema, sizeof(schema), "%d", STORE_SCHEMA_VERSION);
    assert_int_equal(sv.mv_size, strlen(schema));
    assert_memory_equal(sv.mv_data, schema, strlen(schema));
    mdb_txn_abort(txn);
    mdb_env_close(env);
    assert_int_equal(raw_count(dir, "by_msgid"), 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_dir_setup, fx_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sent_union),
        cmocka_unit_test(test_msgid_norm),
        T(test_find_msgids),
        T(test_migrate_from_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
