#ifndef MAILSTATE_EVLOG_H
#define MAILSTATE_EVLOG_H
/*
 * evlog - a write-ahead log of opaque records (issue 17): sequential,
 * checksummed, group-committed, fdatasync'd.  The tracker acknowledges an
 * event once it is here and brings the LMDB mail log up to date behind the
 * answer (evapply.h).
 *
 * Records, little-endian, 8-byte aligned:
 *     u32 crc32c | u32 len | u64 seq | payload[len] | zeros to a multiple of 8
 * The CRC-32C covers len, seq and the payload.  seq numbers are contiguous
 * (1, 2, 3, ... across restarts); a record is valid only with a good CRC, a
 * possible length and exactly the seq that comes next.
 *
 * Segments: DIR/<16 hex digits>.evlog, named by the seq of their first
 * record, seg_size bytes each and zero-filled when created, so a sync never
 * changes a file's size or extents.  A group never spans two segments.
 *
 * Writing: evlog_append() copies a record into the group being gathered and
 * returns its seq at once; evlog_wait() blocks until that seq is durable.
 * One writer thread takes the whole gathered group, writes it with one
 * pwrite(), fdatasync()s once and then wakes every waiter of the group,
 * while the next group gathers.  A failed write or sync is final: the log
 * stops (every waiter and every later append gets EVLOG_EIO) and on_fatal
 * runs once.  The caller must not retry: after a failed fdatasync the
 * kernel may have dropped the dirty pages, and a second sync could report
 * success for data that never reached the disk.  It should exit; the next
 * start replays what is on disk.
 *
 * Consuming: one consumer takes durable records in seq order
 * (evlog_take, pointers valid until the next evlog_take or evlog_done) and
 * says with evlog_done(seq) that every record up to seq is durable in its
 * own state.  Only then may the segments holding them be reused: at
 * rotation the oldest such segment is renamed to be the new one and any
 * other such segment is removed, so the log's disk use follows the lag.
 * Backpressure: evlog_append() answers EVLOG_EBUSY while more than
 * opts.lag_max records are appended but not done (the tracker answers 503
 * with Retry-After) and waits while the gathering group is full.
 *
 * Recovery, in evlog_open(applied): applied is the seq the consumer's own
 * durable state already holds.  From the segment that holds applied + 1 it
 * reads up to the first invalid record (a torn tail, stale bytes of a
 * reused segment, the unused zeros), calls replay() for every record past
 * applied, in order, then zero-fills the rest of that segment and syncs it
 * (bytes of a group that was never acknowledged could otherwise line up as
 * a valid record after the next writes), removes later segments and
 * appends from there.  Segments that start after applied + 1 while nothing
 * holds applied + 1 mean acknowledged events are missing: EVLOG_EGAP, and
 * nothing is changed.  A log that ends before applied (restored from an
 * older backup, say) is not an error: appending goes on at applied + 1.
 *
 * Threads: evlog_append/evlog_wait from any thread; evlog_take/evlog_done
 * from one consumer thread.  evlog_close() stops the writer after it has
 * written what was appended (waiters are woken either way).
 */
#include <stddef.h>
#include <stdint.h>

enum evlog_err {
    EVLOG_OK     = 0,
    EVLOG_EIO    = -1,  /* a write or sync failed: the log has stopped */
    EVLOG_EBUSY  = -2,  /* too many records not yet done (lag_max) */
    EVLOG_EINVAL = -3,  /* bad argument (empty or oversized record) */
    EVLOG_EGAP   = -4,  /* open: records after applied are missing */
    EVLOG_ECLOSED = -5, /* closing */
    EVLOG_EREPLAY = -6, /* open: replay() returned an error */
};

#define EVLOG_REC_MAX    4096u         /* largest payload */
#define EVLOG_SEG_MIN    (64u * 1024u) /* smallest segment */

typedef struct evlog evlog_t;

struct evlog_opts {
    const char *dir;         /* created (0750) if missing */
    size_t      seg_size;    /* bytes per segment, >= EVLOG_SEG_MIN, multiple of 4096 */
    uint64_t    lag_max;     /* appended - done above this: EVLOG_EBUSY (0: no bound) */
    void      (*on_fatal)(void *arg, const char *what); /* once, from the writer */
    void       *fatal_arg;
};

/* Called by evlog_open for each record past applied; nonzero stops the open. */
typedef int (*evlog_replay_fn)(void *arg, uint64_t seq, const void *data, size_t len);

int evlog_open(const struct evlog_opts *opts, uint64_t applied, evlog_replay_fn replay,
               void *arg, evlog_t **out, char *err, size_t errlen);
void evlog_close(evlog_t *log);

/* Appends a copy of data; *seq = its number.  Does not wait for the disk. */
int evlog_append(evlog_t *log, const void *data, size_t len, uint64_t *seq);
/* Blocks until record seq is durable: EVLOG_OK, or EVLOG_EIO/EVLOG_ECLOSED. */
int evlog_wait(evlog_t *log, uint64_t seq);

/*
 * Waiting without a thread (the tracker's HTTP polling threads): the
 * caller owns w, sets w->seq and w->fn, and evlog_notify() either answers
 * at once -- 1: seq is durable already, fn is not called -- or registers w
 * and returns EVLOG_OK; fn(w, rc) then runs exactly once, on the writer
 * thread right after the sync that made seq durable (rc EVLOG_OK), or when
 * the log fails or closes (EVLOG_EIO / EVLOG_ECLOSED).  fn may run before
 * evlog_notify() has returned, and must be short: the next group waits
 * for it.  A log that has failed or is closing answers EVLOG_EIO /
 * EVLOG_ECLOSED and does not register w.
 */
struct evlog_waiter {
    uint64_t             seq;
    void               (*fn)(struct evlog_waiter *w, int rc);
    struct evlog_waiter *next;       /* the log's */
};
int evlog_notify(evlog_t *log, struct evlog_waiter *w);

struct evlog_rec {
    uint64_t    seq;
    const void *data;
    size_t      len;
};
/*
 * Up to max durable records not taken yet, in order, into recs; waits up to
 * timeout_ms for the first one.  Returns the count (0 on timeout or when
 * closing and everything was taken).
 */
size_t evlog_take(evlog_t *log, struct evlog_rec *recs, size_t max, int timeout_ms);
/* Every record up to seq is durable in the consumer's state. */
void evlog_done(evlog_t *log, uint64_t seq);

struct evlog_stats {
    uint64_t appended;   /* last seq handed out */
    uint64_t durable;    /* last seq synced */
    uint64_t done;       /* last seq the consumer has made durable */
    uint64_t groups;     /* groups written (= fdatasyncs of records) */
    uint64_t sync_us;    /* their write + fdatasync time, summed */
    uint64_t sync_max_us;/* the longest */
    size_t   segments;   /* segment files in use */
};
void evlog_stats(evlog_t *log, struct evlog_stats *out);

const char *evlog_strerror(int err);

#endif
