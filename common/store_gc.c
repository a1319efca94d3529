/*
 * store_gc - group-commit queue; see store_gc.h.
 *
 * One mutex guards the queue; "more" wakes the committer, and each op has
 * its own condition variable, so a release wakes exactly its batch's
 * submitters (a broadcast woke every waiting thread, 64 of them in the
 * tracker, to answer the ~20 of one batch).
 */
#include "store_gc.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "xmem.h"

struct store_gc {
    pthread_mutex_t     mu;
    pthread_cond_t      more;
    struct store_gc_op *head, **tail;
    int                 stopping;
    pthread_t           thread;
    store_gc_run_fn     run;
    store_gc_settle_fn  settle;
    void               *ctx;
};

/* Wake the submitters of list; err replaces each success.  Holds mu. */
static void release(struct store_gc_op *list, int err)
{
    for (struct store_gc_op *op = list, *next; op; op = next) {
        next = op->next;
        if (err != 0 && op->result == 0)
            op->result = err;
        op->done = 1;
        /* Still under mu: the submitter cannot see done, return and
         * destroy op->wake before this signal is over. */
        pthread_cond_signal(&op->wake);
    }
}

static void *committer(void *arg)
{
    struct store_gc *gc = arg;
    struct store_gc_op *pending = NULL;    /* run, not yet known durable */
    struct store_gc_mark pmark = { 0, 0, 0 };

    pthread_mutex_lock(&gc->mu);
    for (;;) {
        while (gc->head == NULL && pending == NULL && !gc->stopping)
            pthread_cond_wait(&gc->more, &gc->mu);
        if (gc->head == NULL && pending == NULL)
            break;                      /* stopping and drained */
        if (gc->head == NULL) {
            /* Idle: nothing will cover the pending commit, so sync now. */
            pthread_mutex_unlock(&gc->mu);
            int err = gc->settle(gc->ctx, &pmark);
            pthread_mutex_lock(&gc->mu);
            release(pending, err);
            pending = NULL;
            continue;
        }
        struct store_gc_op *list = gc->head;
        gc->head = NULL;
        gc->tail = &gc->head;
        pthread_mutex_unlock(&gc->mu);

        struct store_gc_mark mark = { 0, 0, 0 };
        int wait = gc->run(gc->ctx, list, &mark);
        /* Normally this batch's commit synced the pending one's meta page. */
        int err = pending ? gc->settle(gc->ctx, &pmark) : 0;

        pthread_mutex_lock(&gc->mu);
        if (pending)
            release(pending, err);
        pending = NULL;
        if (wait) {
            pending = list;
            pmark = mark;
        } else {
            release(list, 0);
        }
    }
    pthread_mutex_unlock(&gc->mu);
    return NULL;
}

struct store_gc *store_gc_start(store_gc_run_fn run, store_gc_settle_fn settle, void *ctx)
{
    struct store_gc *gc = xcalloc(1, sizeof(*gc));
    int rc;

    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->more, NULL);
    gc->tail = &gc->head;
    gc->run = run;
    gc->settle = settle;
    gc->ctx = ctx;
    /* The committer takes no signals: daemons (libmilter's sigwait thread)
     * expect process signals to reach only the thread that waits for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&gc->thread, NULL, committer, gc);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("store: cannot start the committer thread: %s", strerror(rc));
        pthread_cond_destroy(&gc->more);
        pthread_mutex_destroy(&gc->mu);
        return xfree(gc);
    }
    return gc;
}

int store_gc_submit(struct store_gc *gc, struct store_gc_op *op)
{
    op->done = 0;
    op->result = STORE_EIO;
    op->next = NULL;
    pthread_mutex_lock(&gc->mu);
    if (gc->stopping) {
        pthread_mutex_unlock(&gc->mu);
        return STORE_ECLOSED;
    }
    pthread_cond_init(&op->wake, NULL);
    *gc->tail = op;
    gc->tail = &op->next;
    pthread_cond_signal(&gc->more);
    while (!op->done)
        pthread_cond_wait(&op->wake, &gc->mu);
    pthread_mutex_unlock(&gc->mu);
    pthread_cond_destroy(&op->wake);
    return op->result;
}

struct store_gc *store_gc_stop(struct store_gc *gc)
{
    if (gc == NULL)
        return NULL;
    pthread_mutex_lock(&gc->mu);
    gc->stopping = 1;
    pthread_cond_signal(&gc->more);
    pthread_mutex_unlock(&gc->mu);
    pthread_join(gc->thread, NULL);
    pthread_cond_destroy(&gc->more);
    pthread_mutex_destroy(&gc->mu);
    return xfree(gc);
}
