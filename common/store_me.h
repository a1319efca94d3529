#ifndef MAILSTATE_STORE_ME_H
#define MAILSTATE_STORE_ME_H
/*
 * store_me - the mail log as one user sees it (issue 12): "my sent mail"
 * and the lookup by Message-ID, as range scans over the by_login,
 * by_sender and by_msgid indexes (store.h, schema 2).
 *
 * A user's sent mail is every mail whose recorded SMTP AUTH login equals
 * the user's login, or whose sender equals the user's address (addr key).
 * store_list_sent() merges the two time-ordered index ranges newest first,
 * each mail once; the query's sender field is ignored, recipient / status /
 * since / until / limit / cursor mean what they mean for store_list().
 *
 * store_find_msgids() returns the user's mails whose Message-ID equals one
 * of msgids (at most STORE_MSGID_MAX values, each compared in normal form),
 * newest first, each mail once.  A mail of another user with the same
 * Message-ID is not returned (not even counted).
 *
 * Message-ID normal form (store_msgid_norm): surrounding whitespace trimmed,
 * angle brackets added when missing, the part after the last '@' lower-cased
 * (a domain); the local part stays case-sensitive (RFC 5322 3.6.4).  Returns
 * the length written to out (< outlen), or 0 for an empty or oversize id
 * (more than STORE_MSGID_LEN_MAX bytes) or one with control characters.
 *
 * Results are owned by the caller (store_list_clear).  Errors as store.h.
 */
#include <stddef.h>

#include "store.h"

#define STORE_MSGID_MAX     50
#define STORE_MSGID_LEN_MAX 998      /* a header line's limit */
#define STORE_MSGID_HASH    16

int store_list_sent(store_t *st, const char *login, const char *address,
                    const struct store_query *q, struct store_list *out);

int store_find_msgids(store_t *st, const char *login, const char *address,
                      const char *const *msgids, size_t n, struct store_list *out);

size_t store_msgid_norm(const char *in, char *out, size_t outlen);
/* BLAKE2b-128 of the normal form; 0, or -1 if msgid has none (not indexed). */
int store_msgid_hash(const char *msgid, unsigned char h[STORE_MSGID_HASH]);

/* Internal to the store (store_env's open, store.c, store_db.c). */
struct MDB_txn;
/* Schema 1 -> 2: build by_msgid from every mail record (no v1 mail has a
 * login, so by_login starts empty). */
int store_me_migrate_1(store_t *st, struct MDB_txn *txn);
/* Add (del = 0) or delete (del = 1) the by_login / by_msgid entries of m. */
int store_me_index(store_t *st, struct MDB_txn *txn, const struct store_mail *m, int del);

#endif
