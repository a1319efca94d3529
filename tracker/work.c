/*
 * work - job pool (see work.h).
 */
#include "work.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "xmem.h"

struct work_job {
    struct work_job *next;
    void           (*fn)(void *arg);
    void            *arg;
};

struct work {
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    struct work_job *head, *tail;
    int              stopping;
    unsigned         n_threads;
    pthread_t       *threads;
};

static void *work_main(void *arg)
{
    work_t *w = arg;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct work_job *j = w->head;
        if (j == NULL) {
            if (w->stopping)
                break;
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

work_t *work_start(unsigned threads)
{
    work_t *w = xcalloc(1, sizeof *w);
    pthread_attr_t attr;

    if (threads == 0)
        threads = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->threads = xcalloc(threads, sizeof *w->threads);
    /* The jobs are shallow (a store call); 256 KiB stacks keep 64 threads cheap. */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&w->threads[i], &attr, work_main, w);
        if (rc != 0) {
            if (i == 0)
                log_panic("work: cannot start a thread (error %d)", rc);
            log_warn("work: started %u of %u threads (error %d)", i, threads, rc);
            break;
        }
        w->n_threads = i + 1;
    }
    pthread_attr_destroy(&attr);
    return w;
}

void work_submit(work_t *w, void (*fn)(void *arg), void *arg)
{
    struct work_job *j = xmalloc(sizeof *j);

    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

work_t *work_stop(work_t *w)
{
    if (w == NULL)
        return NULL;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->threads);
    free(w);
    return NULL;
}
