#ifndef MAILSTATE_STORE_DB_H
#define MAILSTATE_STORE_DB_H
/*
 * store_db - key layout and record access inside one transaction (internal
 * to the store; the layout is documented in store.h).
 *
 * Every function takes an open transaction and returns 0, a STORE_E* code,
 * or a raw LMDB code for store_env to map.  Undecodable records are logged
 * and reported as STORE_EIO.  Nothing here commits.
 */
#include <lmdb.h>
#include <stdint.h>

#include "store.h"
#include "store_env.h"

/* Longest address key and peer name the store accepts (LMDB keys are at
 * most 511 bytes; an index key is address 0x00 ID). */
#define STORE_ADDR_MAX  320
#define STORE_PEER_MAX  255
/* Longest queue id / Message-ID / subject / server name. */
#define STORE_FIELD_MAX 4096

struct store_key {
    unsigned char b[STORE_ADDR_MAX + 1 + MAILID_ID_LEN + 8];
    size_t        len;
};

/* 1 if s is a usable address key / peer name / optional field. */
int store_db_addr_ok(const char *s);
int store_db_peer_ok(const char *s);
int store_db_field_ok(const char *s);
int store_db_id_ok(const char *id);

void store_db_key_index(struct store_key *k, const char *addr, const char *id);
void store_db_key_rcpt(struct store_key *k, const char *id, const char *addr);
void store_db_key_outbox(struct store_key *k, const char *peer, uint64_t seq);
/* Prefix "addr 0x00" (or "peer 0x00"). */
void store_db_key_prefix(struct store_key *k, const char *name);

/* MDB_val wants a non-const pointer even for keys LMDB only reads. */
#define STORE_MV(p) ((void *)(uintptr_t)(p))

static inline MDB_val store_db_val(const struct store_key *k)
{
    MDB_val v = { k->len, STORE_MV(k->b) };
    return v;
}

int store_db_mail_load(store_t *st, MDB_txn *txn, const char *id, struct store_mail *out);
/* The mail and all its recipients (*out allocated). */
int store_db_rec_load(store_t *st, MDB_txn *txn, const char *id,
                      struct store_mail_rec **out);
/* STORE_ENOTFOUND (no mail) / STORE_ENORCPT (mail, but not this rcpt). */
int store_db_rcpt_load(store_t *st, MDB_txn *txn, const char *id, const char *rcpt,
                       struct store_rcpt *out);
int store_db_rcpt_save(store_t *st, MDB_txn *txn, const char *id,
                       const struct store_rcpt *r);

/*
 * rcpt_idx (schema 5, MDB_DUPSORT | MDB_DUPFIXED): rcpt_key -> dups ID(26).
 * add appends when id sorts after the address's newest id (full pages, the
 * common case: ids sort by time), else inserts; an existing pair is kept.
 * del ignores a missing pair.
 */
int store_db_rcpt_index_add(store_t *st, MDB_txn *txn, const char *addr, size_t addr_len,
                            const char *id);
int store_db_rcpt_index_del(store_t *st, MDB_txn *txn, const char *addr, size_t addr_len,
                            const char *id);

/* Delete a mail, its recipient entries and their index entries. */
int store_db_mail_delete(store_t *st, MDB_txn *txn, const char *id);

/* Queue (id, rcpt) for peer under the next outbox sequence number,
 * replacing the entry's queued item (store_outbox.h); never bounded. */
int store_db_outbox_add(store_t *st, MDB_txn *txn, const char *peer,
                        const char *id, const char *rcpt, uint64_t now_ms);
/* Drop outbox and parked items whose recipient entry no longer exists;
 * upto_id (a purge: no mail at or before it is left) or NULL (look each
 * entry up). */
int store_db_outbox_sweep(store_t *st, MDB_txn *txn, const char *upto_id);

/* A growing array of ids (collected before deleting, so no cursor walks
 * over its own deletions). */
struct store_idlist {
    char  (*ids)[MAILID_ID_LEN + 1];
    size_t n, cap;
};
void store_idlist_add(struct store_idlist *l, const void *id);
void store_idlist_free(struct store_idlist *l);

#endif
