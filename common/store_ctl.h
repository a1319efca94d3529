#ifndef MAILSTATE_STORE_CTL_H
#define MAILSTATE_STORE_CTL_H
/*
 * store_ctl - what the admin tool (mailstatectl) needs from the store beyond
 * store.h: figures for `status`, the outbox and parked items of every peer,
 * releasing and dropping items, the time of the last purge, and a compacted
 * copy of the environment.
 *
 * Same conventions as store.h: 0 (STORE_OK) or a STORE_E* code; results are
 * allocated here and released with the matching *_free; writes return only
 * once committed and synced.  Items are named by their outbox sequence
 * number, which is global over all peers (meta "outbox_seq"), so a number
 * alone names one item; releasing a parked item moves it back to the outbox
 * under the same key, so it keeps its number and its place in the queue.
 *
 * Removing items (release, drop) may use the map reserve of store.h, so
 * they work on a full store.  store_ctl_note_purge records in meta
 * "last_purge" (u64 LE ms, u64 LE mails) when a purge pass ended; the
 * tracker's retention thread and `mailstatectl purge` call it.
 */
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_ctl_figures {
    size_t   map_size;        /* current map size */
    size_t   map_used;        /* high-water mark: last page * page size */
    size_t   page_size;
    size_t   free_pages;      /* pages on LMDB's free list (reusable) */
    uint64_t mails;           /* mail records */
    uint64_t entries;         /* recipient entries */
    uint64_t outbox;          /* items waiting, all peers */
    uint64_t parked;          /* items parked, all peers */
    uint64_t last_purge_ms;   /* 0 = never recorded */
    uint64_t last_purge_mails;
    unsigned schema;
};

struct store_ctl_item {
    char     *peer;
    uint64_t  seq;
    uint64_t  queued_ms;
    int       parked;                   /* 1 = in "parked" */
    char      id[MAILID_ID_LEN + 1];
    char     *recipient;
    char     *sender;                   /* NULL if the mail is gone */
    int       status;                   /* entry's status, -1 if gone */
};

int store_ctl_figures(store_t *st, struct store_ctl_figures *out);

/* Every item of the outbox (parked = 0) or of parked (1), by peer then
 * sequence, at most max (1..1000000). */
int store_ctl_items(store_t *st, int parked, size_t max,
                    struct store_ctl_item **items, size_t *n);
void store_ctl_items_free(struct store_ctl_item *items, size_t n);

/* Move parked item seq (or every parked item if all) back to the outbox;
 * *moved = how many.  STORE_ENOTFOUND if seq is not parked. */
int store_ctl_release(store_t *st, uint64_t seq, int all, size_t *moved);

/* Delete item seq from the outbox or parked.  STORE_ENOTFOUND if neither
 * holds it. */
int store_ctl_drop(store_t *st, uint64_t seq);

int store_ctl_note_purge(store_t *st, uint64_t when_ms, uint64_t mails);

/*
 * A consistent, compacted copy of the environment into dir (created 0700
 * if missing; must not hold a data.mdb already: STORE_EINVAL), through
 * mdb_env_copy2(MDB_CP_COMPACT): a read snapshot, so writers go on.
 * err receives a message on failure.
 */
int store_ctl_backup(store_t *st, const char *dir, char *err, size_t errlen);

#endif
