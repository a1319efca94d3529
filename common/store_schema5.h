#ifndef MAILSTATE_STORE_SCHEMA5_H
#define MAILSTATE_STORE_SCHEMA5_H
/*
 * store_schema5 - the migration of a schema 4 database to schema 5
 * (internal to the store; store_env runs it at open).
 *
 * Schema 5 keeps the recipient index in a new sub-database "rcpt_idx"
 * (MDB_DUPSORT | MDB_DUPFIXED: rcpt_key -> dups ID(26)) instead of
 * "by_rcpt" (rcpt_key 0x00 ID(26) -> ""): the ids sit packed 26 bytes
 * apiece, without a node header and key copy each.  Recipient records of
 * versions 1-2 still decode (store_rec.h) and are rewritten as version 3
 * when they next change, so only the index is rebuilt here.
 *
 * store_schema5_step() copies up to STORE_SCHEMA5_STEP index entries in
 * the caller's write transaction and saves where it stopped (meta
 * "schema5_at": the next old key), so a large database is migrated in
 * bounded transactions and an interrupted migration resumes at the next
 * open.  When the old index is used up it drops "by_rcpt", writes meta
 * "schema" = 5 and sets *done.  Old keys that are not "address 0x00 ID"
 * are skipped (logged); nothing else is changed.
 * Returns 0 or an LMDB code (the step is then discarded).
 */
#include <lmdb.h>

#include "store.h"

#define STORE_SCHEMA5_STEP 200000

int store_schema5_step(store_t *st, MDB_txn *txn, int *done);

#endif
