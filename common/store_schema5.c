/*
 * store_schema5 - the schema 4 -> 5 migration of the recipient index; see
 * store_schema5.h.
 */
#include "store_schema5.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_db.h"
#include "store_env.h"

static const MDB_val at_key = { 10, (void *)"schema5_at" };

/* The end: the old index dropped, the schema written. */
static int finish(store_t *st, MDB_txn *txn, MDB_dbi old, int have_old)
{
    MDB_val k = { 6, (void *)"schema" }, v = { 1, (void *)"5" };
    MDB_val ak = at_key;
    int rc = have_old ? mdb_drop(txn, old, 1) : 0;

    if (rc == 0) {
        rc = mdb_del(txn, st->dbi[STORE_DB_META], &ak, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        rc = mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
    if (rc == 0)
        log_info("store %s: schema 4 migrated to 5 (recipient index rebuilt as rcpt_idx)",
                 st->path);
    return rc;
}

int store_schema5_step(store_t *st, MDB_txn *txn, int *done)
{
    MDB_dbi old;
    MDB_cursor *cur;
    MDB_val k, v, ak = at_key;
    unsigned char kb[STORE_ADDR_MAX + 1 + MAILID_ID_LEN];
    size_t n = 0, skipped = 0;
    int rc;

    *done = 0;
    rc = mdb_dbi_open(txn, "by_rcpt", 0, &old);
    if (rc == MDB_NOTFOUND) {
        *done = 1;
        return finish(st, txn, old, 0);
    }
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, old, &cur);
    if (rc != 0)
        return rc;
    rc = mdb_get(txn, st->dbi[STORE_DB_META], &ak, &v);
    if (rc == 0 && v.mv_size > 0 && v.mv_size <= sizeof(kb)) {
        memcpy(kb, v.mv_data, v.mv_size);
        k.mv_size = v.mv_size;
        k.mv_data = kb;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size > sizeof(kb)) {
            skipped++;
            continue;
        }
        memcpy(kb, k.mv_data, k.mv_size);
        if (n == STORE_SCHEMA5_STEP)
            break;                      /* the next step starts at this key */
        size_t alen = k.mv_size > MAILID_ID_LEN + 1 ? k.mv_size - MAILID_ID_LEN - 1 : 0;
        if (alen == 0 || kb[alen] != 0 || memchr(kb, 0, alen) != NULL ||
            !mailid_id_valid((const char *)kb + alen + 1, MAILID_ID_LEN)) {
            skipped++;
            continue;
        }
        rc = store_db_rcpt_index_add(st, txn, (const char *)kb, alen,
                                     (const char *)kb + alen + 1);
        if (rc != 0)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (skipped)
        log_warn("store %s: %zu malformed by_rcpt keys were not migrated", st->path,
                 skipped);
    if (rc == 0) {
        MDB_val sv = { k.mv_size, kb };
        log_debug("store %s: schema 5 migration: %zu recipient index entries copied",
                  st->path, n);
        return mdb_put(txn, st->dbi[STORE_DB_META], &ak, &sv, 0);
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    *done = 1;
    return finish(st, txn, old, 1);
}
