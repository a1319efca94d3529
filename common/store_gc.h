#ifndef MAILSTATE_STORE_GC_H
#define MAILSTATE_STORE_GC_H
/*
 * store_gc - the group-commit queue (internal to the store).
 *
 * One committer thread.  store_gc_submit() appends an op to the queue and
 * blocks until the committer has run it and the run is durable; the
 * committer takes every op queued while it was busy and hands the whole list
 * to run(ctx, list, &mark) in one call.  run() must set op->result for each
 * op of the list.
 *
 * Pipelining: run() returns 1 when some op of the batch succeeded but its
 * commit is not yet known to be on disk (the store writes LMDB's meta page
 * without syncing it; the next commit's data sync, or an explicit sync,
 * makes it durable), 0 when the batch may be answered at once.  A batch
 * that returned 1 stays pending, with the mark run() filled in: after the
 * next batch has run, or as soon as the queue is empty, the committer calls
 * settle(ctx, &mark), which returns 0 once that commit is durable (syncing
 * itself if nothing has covered it yet) or an error code; with an error,
 * every op of the pending batch whose result was 0 gets that code instead.
 * Only then are the pending batch's submitters woken.  At most one batch is
 * pending, so submitters are answered in commit order.
 *
 * The committer thread blocks every signal (it inherits a full mask), so
 * opening a store does not change which thread a process signal reaches.
 *
 * store_gc_stop() refuses new ops (STORE_ECLOSED), lets the committer finish
 * (and settle) every op already queued, and joins it.  Ops are owned by their
 * submitters (normally on their stacks); the queue never frees them.
 */
#include <pthread.h>
#include <stdint.h>

struct store_gc_op {
    void               *item;      /* the submitter's payload */
    int                 result;
    int                 done;
    pthread_cond_t      wake;      /* signalled for this op alone (queue's) */
    struct store_gc_op *next;
};

/* What run() records about its batch's commit for settle(); the queue only
 * stores it. */
struct store_gc_mark {
    uint64_t txnid;
    uint64_t taint;
    uint64_t ev_seq;    /* the feed's event_seq as of that commit */
};

typedef int (*store_gc_run_fn)(void *ctx, struct store_gc_op *list,
                               struct store_gc_mark *mark);
typedef int (*store_gc_settle_fn)(void *ctx, const struct store_gc_mark *mark);

struct store_gc;

/* NULL if the thread cannot be started (logged). */
struct store_gc *store_gc_start(store_gc_run_fn run, store_gc_settle_fn settle, void *ctx);
int store_gc_submit(struct store_gc *gc, struct store_gc_op *op);
/* Returns NULL. */
struct store_gc *store_gc_stop(struct store_gc *gc);

#endif
