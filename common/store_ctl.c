/*
 * store_ctl - the admin tool's store functions (see store_ctl.h).
 *
 * Outbox and parked keys are "peer 0x00 SEQ(u64 BE)" (store.h); the walks
 * here take the peer from the key itself, so they cover every peer that has
 * items, also one no longer in the config.
 */
#include "store_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_db.h"
#include "store_env.h"
#include "store_outbox.h"
#include "store_rec.h"
#include "xmem.h"

#define CTL_ITEMS_MAX 1000000

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Peer length of an outbox/parked key, or -1 if it has not that shape. */
static long item_key_peer(const MDB_val *k)
{
    const unsigned char *b = k->mv_data;
    if (k->mv_size < 10 || k->mv_size > STORE_PEER_MAX + 9 || b[k->mv_size - 9] != 0)
        return -1;
    return (long)k->mv_size - 9;
}

static uint64_t item_key_seq(const MDB_val *k)
{
    const unsigned char *p = (const unsigned char *)k->mv_data + k->mv_size - 8;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | p[i];
    return seq;
}

/* ---- figures ---- */

static int figures_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct store_ctl_figures *f = arg;
    MDB_stat ms;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_stat(txn, st->dbi[STORE_DB_MAILS], &ms)) != 0)
        return rc;
    f->mails = ms.ms_entries;
    if ((rc = mdb_stat(txn, st->dbi[STORE_DB_RCPTS], &ms)) != 0)
        return rc;
    f->entries = ms.ms_entries;
    if ((rc = mdb_stat(txn, st->dbi[STORE_DB_OUTBOX], &ms)) != 0)
        return rc;
    f->outbox = ms.ms_entries;
    if ((rc = mdb_stat(txn, st->dbi[STORE_DB_PARKED], &ms)) != 0)
        return rc;
    f->parked = ms.ms_entries;

    k.mv_data = STORE_MV("last_purge");
    k.mv_size = 10;
    rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v);
    if (rc == 0 && v.mv_size == 16) {
        f->last_purge_ms = le64(v.mv_data);
        f->last_purge_mails = le64((const unsigned char *)v.mv_data + 8);
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    k.mv_data = STORE_MV("schema");
    k.mv_size = 6;
    rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v);
    if (rc == 0 && v.mv_size > 0 && v.mv_size < 8) {
        char b[8];
        memcpy(b, v.mv_data, v.mv_size);
        b[v.mv_size] = '\0';
        f->schema = (unsigned)strtoul(b, NULL, 10);
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    /* LMDB's free list (dbi 0): each value is a page list whose first
     * word is its length (what `mdb_stat -f` adds up). */
    f->free_pages = 0;
    if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
        if (v.mv_size >= sizeof(size_t)) {
            size_t n;
            memcpy(&n, v.mv_data, sizeof(n));
            f->free_pages += n;
        }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_ctl_figures(store_t *st, struct store_ctl_figures *out)
{
    struct store_stats s;
    int rc;

    if (st == NULL || out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = store_stats(st, &s)) != STORE_OK)
        return rc;
    out->map_size = s.map_size;
    out->map_used = s.map_used;
    pthread_rwlock_rdlock(&st->maplock);
    if (st->env != NULL) {
        MDB_stat ms;
        mdb_env_stat(st->env, &ms);
        out->page_size = ms.ms_psize;
    }
    pthread_rwlock_unlock(&st->maplock);
    rc = store_env_read(st, figures_fn, out);
    if (rc != STORE_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    return STORE_OK;
}

/* ---- items ---- */

struct items_arg {
    int                    parked;
    size_t                 max, n;
    struct store_ctl_item *items;
};

static int items_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct items_arg *a = arg;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    store_ctl_items_free(a->items, a->n);
    a->items = NULL;
    a->n = 0;
    rc = mdb_cursor_open(txn, st->dbi[a->parked ? STORE_DB_PARKED : STORE_DB_OUTBOX], &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && a->n < a->max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store_ctl_item it = { .parked = a->parked, .status = -1 };
        const char *rcpt;
        size_t rlen;
        long plen = item_key_peer(&k);

        if (plen < 0 || store_rec_outbox_decode(v.mv_data, v.mv_size, &it.queued_ms, it.id,
                                                &rcpt, &rlen) < 0 || rlen > STORE_ADDR_MAX)
            continue;                   /* undecodable: the next sweep drops it */
        it.peer = xstrndup(k.mv_data, (size_t)plen);
        it.seq = item_key_seq(&k);
        it.recipient = xstrndup(rcpt, rlen);

        struct store_mail m;
        struct store_rcpt r;
        int lrc = store_db_mail_load(st, txn, it.id, &m);
        if (lrc == 0) {
            it.sender = m.sender;
            m.sender = NULL;
            store_rec_mail_clear(&m);
            lrc = store_db_rcpt_load(st, txn, it.id, it.recipient, &r);
            if (lrc == 0) {
                it.status = r.status;
                store_rcpt_clear(&r);
            }
        }
        if (lrc != 0 && lrc != STORE_ENOTFOUND && lrc != STORE_ENORCPT) {
            free(it.peer);
            free(it.recipient);
            free(it.sender);
            rc = lrc;
            break;
        }
        a->items = xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
        a->items[a->n++] = it;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_ctl_items(store_t *st, int parked, size_t max,
                    struct store_ctl_item **items, size_t *n)
{
    struct items_arg a = { parked != 0, max, 0, NULL };

    if (items)
        *items = NULL;
    if (n)
        *n = 0;
    if (st == NULL || items == NULL || n == NULL || max == 0 || max > CTL_ITEMS_MAX)
        return STORE_EINVAL;
    int rc = store_env_read(st, items_fn, &a);
    if (rc != STORE_OK) {
        store_ctl_items_free(a.items, a.n);
        return rc;
    }
    *items = a.items;
    *n = a.n;
    return STORE_OK;
}

void store_ctl_items_free(struct store_ctl_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].peer);
        free(items[i].recipient);
        free(items[i].sender);
    }
    free(items);
}

/* ---- release, drop ---- */

struct move_arg {
    uint64_t seq;
    int      all, to_outbox;   /* release: parked -> outbox; drop: delete */
    size_t   done;
};

/* Keys in dbi with sequence a->seq (or every key if a->all). */
static int collect_keys(MDB_txn *txn, MDB_dbi dbi, const struct move_arg *a,
                        MDB_val **keys, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (item_key_peer(&k) < 0 || (!a->all && item_key_seq(&k) != a->seq))
            continue;
        *keys = xrealloc(*keys, (*n + 1) * sizeof(**keys));
        (*keys)[*n].mv_size = k.mv_size;
        (*keys)[*n].mv_data = xmalloc(k.mv_size);
        memcpy((*keys)[*n].mv_data, k.mv_data, k.mv_size);
        (*n)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void free_keys(MDB_val *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i].mv_data);
    free(keys);
}

static int move_dbi(store_t *st, MDB_txn *txn, MDB_dbi from, struct move_arg *a)
{
    MDB_val *keys = NULL;
    size_t n = 0;
    int rc = collect_keys(txn, from, a, &keys, &n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        MDB_val v;
        if (a->to_outbox) {
            rc = mdb_get(txn, from, &keys[i], &v);
            if (rc == 0) {
                /* v lives in LMDB's pages until the next update: copy it */
                void *copy = xmalloc(v.mv_size);
                memcpy(copy, v.mv_data, v.mv_size);
                v.mv_data = copy;
                rc = mdb_put(txn, st->dbi[STORE_DB_OUTBOX], &keys[i], &v, 0);
                free(copy);
            }
            /* one item per entry (store_outbox.h) */
            if (rc == 0)
                rc = store_outbox_adopt_txn(st, txn, &keys[i]);
        }
        if (rc == 0 && from == st->dbi[STORE_DB_OUTBOX])
            rc = store_outbox_del_txn(st, txn, &keys[i], 0, 0);   /* and its index */
        else if (rc == 0)
            rc = mdb_del(txn, from, &keys[i], NULL);
        if (rc == 0)
            a->done++;
    }
    free_keys(keys, n);
    return rc;
}

static int release_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct move_arg *a = arg;

    a->done = 0;
    int rc = move_dbi(st, txn, st->dbi[STORE_DB_PARKED], a);
    if (rc == 0 && a->done == 0 && !a->all)
        rc = STORE_ENOTFOUND;
    return rc;
}

int store_ctl_release(store_t *st, uint64_t seq, int all, size_t *moved)
{
    struct move_arg a = { seq, all != 0, 1, 0 };

    if (moved)
        *moved = 0;
    if (st == NULL)
        return STORE_EINVAL;
    int rc = store_env_write_free(st, release_fn, &a);
    if (rc == STORE_OK && moved)
        *moved = a.done;
    return rc;
}

static int drop_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct move_arg *a = arg;

    a->done = 0;
    int rc = move_dbi(st, txn, st->dbi[STORE_DB_OUTBOX], a);
    if (rc == 0)
        rc = move_dbi(st, txn, st->dbi[STORE_DB_PARKED], a);
    if (rc == 0 && a->done == 0)
        rc = STORE_ENOTFOUND;
    return rc;
}

int store_ctl_drop(store_t *st, uint64_t seq)
{
    struct move_arg a = { seq, 0, 0, 0 };

    if (st == NULL)
        return STORE_EINVAL;
    return store_env_write_free(st, drop_fn, &a);
}

/* ---- last purge ---- */

struct note_arg {
    uint64_t when, mails;
};

static int note_fn(store_t *st, MDB_txn *txn, void *arg)
{
    struct note_arg *a = arg;
    unsigned char b[16];
    MDB_val k = { 10, STORE_MV("last_purge") }, v = { 16, b };

    put_le64(b, a->when);
    put_le64(b + 8, a->mails);
    return mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
}

int store_ctl_note_purge(store_t *st, uint64_t when_ms, uint64_t mails)
{
    struct note_arg a = { when_ms, mails };

    if (st == NULL)
        return STORE_EINVAL;
    /* a small write that may use the reserve: a full store is purged, and
     * the note of it must not fail for want of the pages it freed */
    return store_env_write_free(st, note_fn, &a);
}

/* ---- backup ---- */

int store_ctl_backup(store_t *st, const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    char *file;
    int rc;

    if (st == NULL || dir == NULL || *dir == '\0') {
        snprintf(err, errlen, "no backup directory given");
        return STORE_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return STORE_EIO;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return STORE_EINVAL;
    }
    file = xmalloc(strlen(dir) + sizeof("/data.mdb"));
    sprintf(file, "%s/data.mdb", dir);
    rc = lstat(file, &sb);
    free(file);
    if (rc == 0) {
        snprintf(err, errlen, "%s already holds a data.mdb; give an empty directory", dir);
        return STORE_EINVAL;
    }
    pthread_rwlock_rdlock(&st->maplock);
    rc = st->env ? mdb_env_copy2(st->env, dir, MDB_CP_COMPACT) : EIO;
    pthread_rwlock_unlock(&st->maplock);
    if (rc != 0) {
        snprintf(err, errlen, "copy to %s: %s", dir, mdb_strerror(rc));
        return rc == ENOSPC || rc == EDQUOT || rc == EFBIG ? STORE_EFULL : STORE_EIO;
    }
    return STORE_OK;
}
