#ifndef MAILSTATE_RETENTION_H
#define MAILSTATE_RETENTION_H
/*
 * retention - a thread that purges mails older than the configured
 * retention from the mail log (design §5, §9).
 *
 * Every interval_s seconds (the first pass shortly after start) it calls
 * store_purge() in batches of `batch` mails, pausing a moment between
 * batches, so each write transaction is short and reads and writes of
 * requests interleave with it.  retention_s = 0 disables purging.
 * After each pass it prunes the event feed (store_events.h) of events
 * older than min(retention_s, events_keep_s) the same way.
 * retention_stop() wakes the thread, waits for the batch in progress, and
 * frees it (returns NULL).  Errors are logged and retried next interval.
 */
#include <stddef.h>

#include "store.h"

typedef struct retention retention_t;

retention_t *retention_start(store_t *st, long long retention_s, long long events_keep_s,
                             unsigned interval_s, size_t batch);
retention_t *retention_stop(retention_t *r);

#endif
