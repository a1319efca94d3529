#ifndef MAILSTATE_EVAPPLY_H
#define MAILSTATE_EVAPPLY_H
/*
 * evapply - events acknowledged from the event log, applied to the LMDB
 * mail log behind the answer (issue 17).
 *
 * evapply_submit() checks an event against the mail log (store_event_peek:
 * the same matching rules and errors as store_record_event), works out the
 * entry's state after it, appends the event to the event log (evlog.h) and
 * returns once that record is durable: the caller may acknowledge it.  The
 * state it returns is exact: it is computed from the entry's last pending
 * state when events for that entry are still waiting (the overlay), else
 * from the mail log, with the same pure rule the apply uses
 * (store_event_apply).  An event that changes nothing (a second `received`)
 * is answered without touching the disk.
 *
 * One apply thread takes durable events in order, sorts each batch by
 * (mail, recipient) keeping the order of one entry's events, and applies
 * the batch in one LMDB write transaction that also records the number of
 * its last event (store_apply_events).  Batches are bounded in time: the
 * milter's `sent` records share LMDB's single writer lock, so the batch
 * size halves when a transaction took more than EVAPPLY_TXN_MS and grows
 * again below a quarter of it.  Only after that commit is durable may the
 * event log reuse the segments holding those events.
 *
 * Reading your own writes: queries that must see every acknowledged event
 * call evapply_barrier_mail() (one mail: waits only while that mail has
 * events pending) or evapply_barrier_all() (everything acknowledged before
 * the call) before they read the mail log.
 *
 * Start: evapply_open() replays the events the mail log does not hold yet
 * (evlog recovery), in batches, before it returns; a kill at any point of
 * that replay only repeats it.  Stop: evapply_close() applies everything
 * acknowledged, then closes the log.
 *
 * Back pressure: above opts.lag_max events not yet applied, submit answers
 * EVAPPLY_EBUSY at once (the tracker: 503 with Retry-After).  A failed
 * write or sync of the event log is final (evlog.h): on_fatal runs.
 */
#include <stddef.h>
#include <stdint.h>

#include "evlog.h"
#include "store.h"

#define EVAPPLY_EBUSY  (-100)   /* submit: too many events wait to be applied */
#define EVAPPLY_TXN_MS 50       /* bound on one apply transaction (its sync included) */
#define EVAPPLY_GATHER_MS 20    /* an apply batch gathers events this long at most */

typedef struct evapply evapply_t;

/* After each applied event (apply thread): rc is its store result. */
typedef void (*evapply_applied_fn)(void *arg, const struct store_event_in *ev, int rc,
                                   int matched);

struct evapply_opts {
    store_t           *store;
    const char        *dir;          /* event log directory */
    size_t             seg_size;
    uint64_t           lag_max;
    void             (*on_fatal)(void *arg, const char *what);
    evapply_applied_fn on_applied;   /* may be NULL */
    void              *arg;          /* for both */
};

int evapply_open(const struct evapply_opts *opts, evapply_t **out, char *err, size_t errlen);
void evapply_close(evapply_t *ea);

/*
 * STORE_OK (*after = the entry's state with this event, owned by the
 * caller: store_rcpt_clear; *matched the rule), STORE_ENOTFOUND,
 * STORE_ENORCPT, STORE_EINVAL, EVAPPLY_EBUSY, or STORE_EIO / STORE_ECLOSED
 * when the event log has stopped.
 */
int evapply_submit(evapply_t *ea, const struct store_event_in *ev, struct store_rcpt *after,
                   int *matched);

/*
 * evapply_submit() in two halves, for callers that must not block (the
 * tracker's HTTP polling threads).  submit_nowait does everything but the
 * wait: on STORE_OK *seq is the event's record, to be durable before the
 * event is acknowledged (0: nothing was appended, answer at once).  Then
 * either evapply_wait(seq) (blocks; STORE_OK, STORE_EIO, STORE_ECLOSED) or
 * an evlog waiter (evlog.h) with w->seq = seq: evapply_notify() answers 1
 * when seq is durable already, STORE_OK when w->fn will run, else the
 * error; w->fn's rc goes through evapply_rc() to a STORE_* code.
 */
int evapply_submit_nowait(evapply_t *ea, const struct store_event_in *ev,
                          struct store_rcpt *after, int *matched, uint64_t *seq);
int evapply_wait(evapply_t *ea, uint64_t seq);
int evapply_notify(evapply_t *ea, struct evlog_waiter *w);
int evapply_rc(int evlog_rc);

/* 0 once the mail log shows what was acknowledged; -1 after timeout_ms. */
int evapply_barrier_mail(evapply_t *ea, const char *id, int timeout_ms);
int evapply_barrier_all(evapply_t *ea, int timeout_ms);

struct evapply_stats {
    uint64_t appended, applied, lag;
    uint64_t groups;          /* event log syncs */
    uint64_t sync_us, sync_max_us; /* their time (evlog_stats) */
    uint64_t batches;         /* apply transactions */
    uint64_t batch_max_ms;    /* longest apply transaction */
    uint64_t apply_errors;    /* failed apply transactions (retried) */
    uint64_t busy;            /* submits refused for lag */
    size_t   batch_size;      /* current batch bound */
};
void evapply_stats(evapply_t *ea, struct evapply_stats *out);

/*
 * An event as a log record and back (pure; exposed for the tests).  encode:
 * the record's length, 0 if it does not fit cap.  decode: 0, or -1 for a
 * malformed record; ev's strings then point into strings (cap bytes, at
 * least len + 8 is always enough).
 */
size_t evapply_encode(const struct store_event_in *ev, unsigned char *buf, size_t cap);
int evapply_decode(const void *data, size_t len, struct store_event_in *ev, char *strings,
                   size_t cap);

#endif
