#ifndef MAILSTATE_CALLBACKS_H
#define MAILSTATE_CALLBACKS_H
/*
 * callbacks - the libmilter side of mailstate-milter: thin callbacks that
 * collect the envelope and the X-Mail-Id / X-Sender / Message-ID / Subject
 * headers, call decide() at end-of-data, write the records through the store
 * (durable before the reply), then delete and insert headers.
 *
 * Configuration: callbacks_set_conf() installs a snapshot (takes a
 * reference of its own); each connection takes a reference at negotiation
 * and keeps it until close, so a SIGHUP reload never changes the config
 * under a message in flight.
 *
 * Store: opened once per process (group commit on) by callbacks_open_store();
 * if that fails the milter still runs (mail flows untagged) and retries the
 * open at most every CALLBACKS_STORE_RETRY seconds at end-of-data.
 *
 * Own trouble (store write, header change, id generation): accept the mail
 * without new headers (or 4xx if on_error = tempfail), one log line that
 * names the queue id.
 */
#include <libmilter/mfapi.h>

#include "conf.h"

#define CALLBACKS_STORE_RETRY 10

extern struct smfiDesc callbacks_desc;

void callbacks_set_conf(struct conf *c);
struct conf *callbacks_get_conf(void);      /* a new reference; conf_unref it */

/* 0 ok, -1 failed (logged; retried later). */
int callbacks_open_store(void);
/* Waits for record writes in progress; later ones find no store (untagged). */
void callbacks_close_store(void);

/* End-of-data callbacks running right now (shutdown waits for them). */
int callbacks_busy(void);

#endif
