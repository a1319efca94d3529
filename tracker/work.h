#ifndef MAILSTATE_WORK_H
#define MAILSTATE_WORK_H
/*
 * work - a fixed pool of threads running queued jobs in FIFO order.
 *
 * Why: a durable write blocks its caller until the group commit has synced.
 * libmicrohttpd's few polling threads must not block, so the HTTP layer
 * suspends the connection, hands the write to this pool and resumes the
 * connection from the job.  With many pool threads many writes wait on the
 * same commit, which is what makes group commit pay off.
 *
 * work_submit() never fails (the queue is unbounded; the HTTP connection
 * limit bounds it in practice).  work_stop() lets every job already queued
 * run to the end, then joins the threads and frees the pool; it returns
 * NULL.  Jobs must not call work_stop().
 */
typedef struct work work_t;

work_t *work_start(unsigned threads);
void work_submit(work_t *w, void (*fn)(void *arg), void *arg);
work_t *work_stop(work_t *w);

#endif
