#ifndef MAILSTATE_STORE_H
#define MAILSTATE_STORE_H
/*
 * store - the LMDB mail log of design §5, behind an opaque handle.
 *
 * Layout (one LMDB environment in a directory, named sub-databases):
 *   mails     ID(26)                 -> mail record (version byte first)
 *   rcpts     ID(26) rcpt_key        -> recipient entry (version byte first)
 *   by_sender sender_key 0x00 ID(26) -> ""    (time-ordered per sender)
 *   rcpt_idx  rcpt_key -> dups ID(26)        (schema 5, MDB_DUPSORT |
 *                                              MDB_DUPFIXED: time-ordered per
 *                                              recipient; schema 4 and older
 *                                              had by_rcpt rcpt_key 0x00 ID)
 *   by_login  login 0x00 ID(26)      -> ""    (schema 2: the SMTP AUTH login
 *                                              of mails that had one)
 *   by_msgid  H(16) ID(26)           -> ""    (schema 2: H = BLAKE2b-128 of
 *                                              the Message-ID in normal form,
 *                                              store_msgid_norm; store_me.h)
 *   outbox    peer 0x00 SEQ(u64 BE)  -> version, queued_ms, ID(26) rcpt_key
 *                                       (pending forwards; at most one per
 *                                       (peer, mail, recipient): store_outbox.h)
 *   outbox_idx peer -> dups ID(26) rcpt_key 0x00 SEQ(u64 BE)
 *                                      (schema 4, MDB_DUPSORT: finds an
 *                                       entry's queued item; dups = depth)
 *   parked    same as outbox         -> items a peer refused for good
 *   meta      "schema" (ASCII decimal), "outbox_seq" (u64 LE, global),
 *             "settle" (see map size)
 *   replay    MAC (1..64 bytes)      -> expires (u64 LE, Unix s): the sync
 *                                       receiver's replay memory, kept
 *                                       across restarts
 *   erasures  peer 0x00 SEQ(u64 BE)  -> erasures the peers are still to be
 *                                       told about (store_erase.h)
 * Ids sort by time (mailid.h), so every index is a time-ordered range scan.
 * Record encoding: store_rec.h (version byte, little-endian, length-prefixed).
 * Limits: addresses 1..320 bytes, peer names 1..255, queue id / Message-ID /
 * subject / server at most 4096 bytes (longer: STORE_EINVAL; callers
 * truncate what they record).
 *
 * Durability: every write function returns STORE_OK only after its change
 * is committed to disk (fsync'd); an error normally means no change.  With
 * opts.group_commit set, a committer thread takes every write queued from
 * every thread while the previous commit was syncing and applies them in one
 * LMDB write transaction, then wakes each caller with its own result: many
 * writers, one fsync.  One failing write does not undo the others: a batch
 * in which a write fails is run again with each write in its own nested
 * transaction (only then: nested transactions cost LMDB a large allocation
 * each).  A failed commit gives every write of the batch an error (each is
 * then tried alone once more), never a false success.
 *
 * Group commit is pipelined: the environment is opened with MDB_NOMETASYNC,
 * so a commit costs one fdatasync (the data pages) instead of two (LMDB's
 * doc: "preserves ACI but not D": the meta page that makes the commit the
 * current state is written but not synced, and a crash may roll back to the
 * commit before).  D is restored by answering late: the writers of batch N
 * are woken only once its meta page is on disk, that is after the next
 * batch's commit succeeded (its data fdatasync, on the same file, flushed
 * meta page N first; LMDB publishes a meta page only after its data sync),
 * or, when no write is waiting, after an explicit mdb_env_sync.  If that
 * covering commit or sync fails in a way that may have hidden a writeback
 * error (EIO), batch N's writers get STORE_EIO too, although their change
 * may be on disk: on a failing disk a write may be reported failed and
 * still be there (never the reverse).  Failures that happen before anything
 * is synced (a full disk or map) and a failed meta page write (after a good
 * data sync) do not cost batch N anything.  Without group commit (the
 * tools) LMDB's defaults apply: synced data and meta page in every commit.
 *
 * Concurrency: all functions are safe from any number of threads.  Several
 * processes (the milter and the tracker) may open the same path at once;
 * LMDB serialises their writers.  Do not open a store before fork().
 * Within one process a path is open at most once: a second store_open()
 * of the same directory fails with STORE_EINVAL (LMDB's locks would break
 * for every process when either handle closed); share the handle instead.
 * (A child process may open the path for itself after fork().)
 *
 * Map size: starts at opts.map_size; on MDB_MAP_FULL the write is retried
 * after doubling the map, up to opts.map_size_max (then STORE_EFULL).  A map
 * grown by another process (MDB_MAP_RESIZED) is adopted and the call retried.
 * LMDB needs fresh pages even to delete, so purge, erasure and outbox
 * removal may grow the map past map_size_max by a reserve (1/8 of it, at
 * least 1 MiB); the map is set back afterwards.  A full store can therefore
 * always be purged.  A write that finds the map full at its limit first
 * commits one small write (meta "settle"), because LMDB reuses the pages a
 * purge freed only from the second transaction after it; so inserts work
 * again right after a purge.
 * An I/O error while LMDB writes its meta page leaves the environment
 * dead (MDB_PANIC); the store then closes and reopens it (the last commit
 * on disk is intact), so the write that hit the error fails with
 * STORE_EIO and the handle keeps working.
 * Readers left by dead processes are cleared at open, when the reader
 * table fills, and when a write finds the map full (mdb_reader_check): a
 * dead reader pins every page freed after its snapshot, so the map would
 * otherwise grow to its limit and stay full whatever is purged.
 *
 * Schema: meta "schema" holds STORE_SCHEMA_VERSION.  A new database gets it;
 * an older one is migrated at open; a newer one is refused (STORE_ESCHEMA,
 * with the versions in the error text).  Every record starts with a version
 * byte so records can be migrated lazily.
 *
 * Read semantics (design §5): statuses only move forward:
 *   sent < received < deleted_unread < read
 * except that a read always wins over deleted_unread and nothing ever sets a
 * read entry back.  The first read sets first_read = last_read = when,
 * read_count = 1; each later read sets first_read = min(first_read, when)
 * (a read reported late), last_read = max(last_read, when) and
 * read_count += 1.  Merging a peer's entry (store_merge) takes status = the
 * higher one, first_read = min of the non-zero ones, last_read = max,
 * read_count = max, via = that of the higher (status, via string) pair:
 * idempotent and order-free.
 *
 * Strings passed in are copied; results are allocated by the store and
 * owned by the caller, released with the matching *_free (which returns NULL).
 * Addresses are expected in addr normal form (addr.h); the store does not
 * re-normalise them.
 */
#include <stddef.h>
#include <stdint.h>

#include "mailid.h"

/* 2: mail records carry the SMTP AUTH login; by_login and by_msgid indexes
 * (a version 1 database gets by_msgid built at open). */
/* 3: the replay sub-database (sync replay memory; nothing to migrate).
 * 4: outbox_idx, one outbox item per (peer, mail, recipient) (an older
 * database gets it built at open, duplicate items coalesced).
 * 5: smaller entries: recipient records of version 3 (store_rec.h; older
 * ones still decode), and rcpt_idx instead of by_rcpt (a schema 4 database
 * gets it built at open, in bounded steps: store_schema5.h). */
#define STORE_SCHEMA_VERSION 5

enum store_err {
    STORE_OK        = 0,
    STORE_ENOTFOUND = -1,   /* no such mail */
    STORE_ENORCPT   = -2,   /* mail known, but not this recipient */
    STORE_EFULL     = -3,   /* map at map_size_max, or disk full */
    STORE_ESCHEMA   = -4,   /* database of a newer schema */
    STORE_EIO       = -5,   /* any other LMDB or system error (logged) */
    STORE_EINVAL    = -6,   /* bad argument (id, empty address, too long) */
    STORE_ECLOSED   = -7,   /* store is shutting down */
};

enum store_status {
    STORE_SENT           = 0,
    STORE_RECEIVED       = 1,
    STORE_DELETED_UNREAD = 2,
    STORE_READ           = 3,
};

typedef struct store store_t;

struct store_opts {
    const char *path;          /* directory; created (0700) if missing */
    size_t      map_size;      /* initial map size; 0 = 64 MiB */
    size_t      map_size_max;  /* 0 = same as map_size (no growth) */
    unsigned    max_readers;   /* 0 = 126 */
    int         group_commit;  /* 1 = batch concurrent writes (daemons) */
    size_t      list_max_scan; /* mails one store_list examines; 0 = no bound */
    size_t      outbox_max;    /* per-peer outbox bound; 0 = unbounded.  A
                                  change of an entry not yet queued for a
                                  full peer is recorded, not queued (logged,
                                  counted in outbox_overflow) */
};

struct store_mail {
    char      id[MAILID_ID_LEN + 1];
    char     *sender;          /* addr key */
    uint64_t  created_ms;
    char     *queue_id;        /* may be NULL */
    char     *message_id;      /* may be NULL */
    char     *subject;         /* NULL unless record_subject */
    uint32_t  n_rcpt;          /* envelope recipients of the message, all kinds */
    char     *login;           /* SMTP AUTH login ({auth_authen}), NULL if none;
                                  1..320 bytes, compared exactly */
};

struct store_rcpt {
    char     *address;         /* addr key */
    char     *server;          /* msys server name hosting the recipient */
    int       status;          /* enum store_status */
    uint64_t  first_read_ms;   /* 0 = never */
    uint64_t  last_read_ms;
    uint32_t  read_count;
    uint64_t  updated_ms;      /* last change of this entry */
    char      via[16];         /* "api", "imap", "sync", ... ("" = none) */
    /* Lists, aliases (design §11): a member's entry names the recorded
     * entry it came through; that entry is then marked expanded. */
    char     *original_recipient;  /* addr key of the list/alias entry, NULL = none */
    int       expanded;            /* this entry's mail went to member entries */
};

/* One mail with all its recipients (result of get/list). */
struct store_mail_rec {
    struct store_mail  mail;
    struct store_rcpt *rcpts;
    size_t             n_rcpts;
};

struct store_query {
    const char *sender;        /* NULL = any */
    const char *recipient;     /* NULL = any */
    uint64_t    since_ms;      /* 0 = no lower bound (inclusive) */
    uint64_t    until_ms;      /* 0 = no upper bound (exclusive) */
    int         status;        /* -1 = any; else a recipient must have it
                                  (with recipient set: that recipient) */
    size_t      limit;         /* 1..1000 */
    const char *cursor;        /* NULL, or next_cursor of the previous page */
};
/* since/until compare the time in the mail id.  A page is full unless it is
 * the last one (next_cursor ""), or the scan examined opts.list_max_scan
 * mails without filling it (scan_limited set): then it holds what it found
 * (maybe nothing) and next_cursor continues below the last mail examined,
 * so a filter that matches little (?status=received) costs bounded work per
 * request instead of a walk of the whole log.
 * A damaged record on the way fails the call with STORE_EIO (logged). */

struct store_list {
    struct store_mail_rec *mails;   /* newest first */
    size_t                 n_mails;
    char                   next_cursor[MAILID_ID_LEN + 1]; /* "" = no more */
    int                    scan_limited;   /* stopped at list_max_scan */
};

/* An outbox item: a recipient entry to forward to a peer's /v1/sync. */
struct store_outbox_item {
    uint64_t          seq;
    uint64_t          queued_ms;
    char              id[MAILID_ID_LEN + 1];
    char             *sender;
    struct store_rcpt rcpt;     /* the entry as it is now (latest state) */
};

struct store_stats {
    size_t   map_size;          /* current map size */
    size_t   map_used;          /* bytes in use (last page * page size) */
    uint64_t commits;           /* write transactions committed by this handle */
    uint64_t writes;            /* write operations committed by this handle */
    uint64_t outbox_overflow;   /* changes not queued: the peer's outbox full */
};

int store_open(const struct store_opts *opts, store_t **out, char *err, size_t errlen);
/* Waits for queued writes to finish, stops the committer, closes the env. */
store_t *store_close(store_t *st);

/*
 * Record a mail and its in-system recipients.  If the mail id already exists
 * (a relayed mail another server tagged), the existing mail record is kept
 * and only recipients not yet recorded are added; existing recipient entries
 * are never reset.  Recipients are created with status sent.
 */
int store_put_sent(store_t *st, const struct store_mail *mail,
                   const struct store_rcpt *rcpts, size_t n_rcpts);

/*
 * Bulk loading (tools, benchmarks): n mails recorded as store_put_sent
 * records each, all in one write transaction (one sync for all).  Any
 * invalid mail fails the whole call with STORE_EINVAL and nothing written;
 * the transaction's size is the caller's to bound (LMDB refuses one that
 * dirties more than about 500 MB: STORE_EIO).
 */
struct store_sent {
    const struct store_mail *mail;
    const struct store_rcpt *rcpts;
    size_t                   n_rcpts;
};
int store_put_sent_many(store_t *st, const struct store_sent *mails, size_t n);

/*
 * A read of (id, rcpt) at when_ms reported via `via`.  If forward_to is not
 * NULL (the sender's home server is that peer), an outbox item for it is
 * queued in the same transaction: it replaces the entry's item if one is
 * pending (one item per (peer, mail, recipient)); a new one is not queued
 * if the peer's outbox is at opts.outbox_max (see store_opts).  *after (optional) receives the entry after
 * the update (caller frees with store_rcpt_clear).
 * STORE_ENOTFOUND / STORE_ENORCPT when this server never recorded it.
 */
int store_mark_read(store_t *st, const char *id, const char *rcpt,
                    uint64_t when_ms, const char *via, const char *forward_to,
                    struct store_rcpt *after);

/* Expunged while unseen; ignored (STORE_OK, unchanged) if already read. */
int store_mark_deleted_unread(store_t *st, const char *id, const char *rcpt,
                              uint64_t when_ms, const char *via,
                              const char *forward_to, struct store_rcpt *after);

/*
 * Merge a peer's entry for (id, remote->address) (design §7).  The
 * recipient must have been recorded here (else STORE_ENORCPT, no change;
 * STORE_ENOTFOUND, no change, if the mail itself is unknown).  Only status,
 * the read fields and via are taken from remote; server stays local.
 */
int store_merge(store_t *st, const char *id, const struct store_rcpt *remote,
                struct store_rcpt *after);

/*
 * An event reported by the recipient's server for a final recipient
 * (design §11: lists, aliases, +addresses), matched in one transaction:
 *   1. an entry for rcpt itself                          -> STORE_MATCH_SAME
 *   2. an entry E hosted by this_server whose address without its
 *      recipient-delimiter extension (delims) is rcpt    -> STORE_MATCH_EXTENSION
 *      (bob+news@ recorded, bob@ reads: the same person, E is updated)
 *   3. original (the address the envelope named) or original without its
 *      extension is an entry E hosted by this_server, E != rcpt: a member
 *      entry for rcpt is created (server this_server, status sent,
 *      original_recipient = E) and E marked expanded       -> STORE_MATCH_MEMBER
 * then the event is applied to the matched entry (read, received or
 * deleted_unread, as the store_mark_* functions do) and, with forward_to,
 * queued for that peer.  *matched (optional) says which rule matched.
 * STORE_ENOTFOUND: no such mail; STORE_ENORCPT: nothing matched (nothing
 * changed); never an entry for a mail or an original recipient that was
 * not recorded, or one hosted by another server.
 */
enum store_event { STORE_EV_READ = 0, STORE_EV_RECEIVED = 1, STORE_EV_DELETED_UNREAD = 2 };
enum store_match { STORE_MATCH_NONE = 0, STORE_MATCH_SAME, STORE_MATCH_EXTENSION,
                   STORE_MATCH_MEMBER };

struct store_event_in {
    const char *id;
    const char *rcpt;            /* final recipient, addr key */
    const char *original;        /* address the envelope named, NULL = unknown */
    const char *delims;          /* recipient_delimiter ("" or NULL = none) */
    const char *this_server;     /* server name entries must be hosted by */
    int         event;           /* enum store_event */
    uint64_t    when_ms;         /* 0 = now */
    const char *via;
    const char *forward_to;      /* peer to queue the entry for, or NULL */
    /* When the event was acknowledged (the event log's answer came before
     * the apply): store_apply_events records the entry's `updated` and the
     * feed event's time as of then, so the mail log holds exactly the state
     * that was answered.  0 = the time of the write. */
    uint64_t    at_ms;
};

int store_record_event(store_t *st, const struct store_event_in *ev,
                       struct store_rcpt *after, int *matched);

/*
 * The event log's side (issue 17, evapply.h).
 *
 * store_event_peek: what store_record_event would match, without changing
 * anything (one read transaction): *current = the matched entry as it is
 * now (for rule 3, the member entry it would create), *matched the rule.
 * Errors as store_record_event's.
 *
 * store_event_apply: the pure update rule store_record_event applies to
 * the matched entry; 1 if r changed.
 *
 * store_apply_events: b->n events in one write transaction, in the given
 * order, and meta "wal_applied" = b->seq in the same transaction (so the
 * mail log and the number of the last event it holds never disagree).
 * Per event, results[i] is STORE_OK, or STORE_ENOTFOUND / STORE_ENORCPT
 * for an event whose mail or entry is gone (nothing changed for it);
 * matched[i] and overflow[i] (the peer's outbox was full) as for
 * store_record_event.  A batch with b->seq not above the stored number is
 * not applied again (b->already = 1).  Any other error: nothing applied.
 * store_applied_seq: the stored number (0 = none yet).
 */
int store_event_peek(store_t *st, const struct store_event_in *ev, struct store_rcpt *current,
                     int *matched);
int store_event_apply(struct store_rcpt *r, const struct store_event_in *ev, uint64_t now_ms);

struct store_event_batch {
    const struct store_event_in *evs;
    size_t                       n;
    uint64_t                     seq;      /* the last event's number */
    int                         *results;  /* n each, filled in */
    int                         *matched;
    int                         *overflow;
    int                          already;
};
int store_apply_events(store_t *st, struct store_event_batch *b);
int store_applied_seq(store_t *st, uint64_t *seq);

/*
 * A peer's member entry (design §11, §7): like store_merge, but when
 * remote->address was not recorded here and remote->original_recipient was
 * recorded for this mail as hosted by peer, the member entry is created
 * first (server peer, original_recipient as given) and the original marked
 * expanded.  Anything else is STORE_ENORCPT (nothing changed).
 */
int store_merge_member(store_t *st, const char *id, const struct store_rcpt *remote,
                       const char *peer, struct store_rcpt *after);

int store_get_mail(store_t *st, const char *id, struct store_mail_rec **out);
struct store_mail_rec *store_mail_rec_free(struct store_mail_rec *rec);

int store_list(store_t *st, const struct store_query *q, struct store_list *out);
void store_list_clear(struct store_list *list);
void store_rcpt_clear(struct store_rcpt *r);

/*
 * Delete mails created before before_ms (with their recipients and index
 * entries), at most batch (1..100000) mails in one transaction; *purged =
 * how many.  "Created" is the time in the mail id (the sender's server's
 * clock), so the purge is a range scan from the oldest id.  Outbox and
 * parked items of purged mails go too.  Call again until *purged is 0 so no
 * single transaction holds the writer lock for long.
 */
int store_purge(store_t *st, uint64_t before_ms, size_t batch, size_t *purged);

/*
 * Delete every entry of an address (design §9): as sender or SMTP AUTH
 * login, whole mails; as recipient, its entries (the mail stays for the
 * others); and the outbox / parked items naming them.  *erased = mails +
 * recipient entries deleted.  Runs in bounded transactions (store_erase.h,
 * store_erase_until with no time bound).
 */
int store_erase_address(store_t *st, const char *addr_key, size_t *erased);

/* Up to max oldest outbox items for peer, in queue order, each with the
 * entry's current state; *items freed with store_outbox_free. */
int store_outbox_peek(store_t *st, const char *peer, size_t max,
                      struct store_outbox_item **items, size_t *n);
void store_outbox_free(struct store_outbox_item *items, size_t n);
/* Remove delivered items (after a 2xx).  Unknown seqs are ignored. */
int store_outbox_delete(store_t *st, const char *peer, const uint64_t *seqs, size_t n);
/* Move items a peer refused for good to "parked". */
int store_outbox_park(store_t *st, const char *peer, const uint64_t *seqs, size_t n);
/* Depth and enqueue time of the oldest item (0 if empty). */
int store_outbox_stats(store_t *st, const char *peer, size_t *depth,
                       uint64_t *oldest_ms, size_t *parked);

int store_stats(store_t *st, struct store_stats *out);

/*
 * The sync receiver's replay memory (design §7, §11): a signature accepted
 * once must be refused until it expires, also after a restart.
 * store_replay_add() records mac (1..64 bytes) until expires_s, durably
 * (STORE_OK only once on disk).  store_replay_load() calls fn for every
 * entry still live at now_s (expires_s >= now_s), then deletes the expired
 * ones in one write.
 */
int store_replay_add(store_t *st, const unsigned char *mac, size_t len, uint64_t expires_s);
int store_replay_load(store_t *st, uint64_t now_s,
                      void (*fn)(void *arg, const unsigned char *mac, size_t len,
                                 uint64_t expires_s),
                      void *arg);

const char *store_status_name(int status);      /* "sent", "read", ... */
int store_status_parse(const char *name);        /* -1 if unknown */
const char *store_strerror(int err);

#endif
