#ifndef MAILSTATE_STORE_GC_H
#define MAILSTATE_STORE_GC_H
/*
 * store_gc - the group-commit queue (internal to the store).
 *
 * One committer thread.  store_gc_submit() appends an op to the queue and
 * blocks until the committer has run it; the committer takes every op queued
 * while it was busy (the previous batch was committing and syncing) and hands
 * the whole list to run(ctx, list) in one call.  run() must set op->result
 * for each op of the list; submit then returns that result to its caller.
 *
 * The committer thread blocks every signal (it inherits a full mask), so
 * opening a store does not change which thread a process signal reaches.
 *
 * store_gc_stop() refuses new ops (STORE_ECLOSED), lets the committer finish
 * every op already queued, and joins it.  Ops are owned by their submitters
 * (normally on their stacks); the queue never frees them.
 */
struct store_gc_op {
    void               *item;      /* the submitter's payload */
    int                 result;
    int                 done;
    struct store_gc_op *next;
};

typedef void (*store_gc_run_fn)(void *ctx, struct store_gc_op *list);

struct store_gc;

/* NULL if the thread cannot be started (logged). */
struct store_gc *store_gc_start(store_gc_run_fn run, void *ctx);
int store_gc_submit(struct store_gc *gc, struct store_gc_op *op);
/* Returns NULL. */
struct store_gc *store_gc_stop(struct store_gc *gc);

#endif
