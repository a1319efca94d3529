#ifndef MAILSTATE_PEER_H
#define MAILSTATE_PEER_H
/*
 * peer - wires the peer sync (sync.h) and the outbox forwarder
 * (forwarder.h) into the tracker, so the tracker's own files only call
 * these functions.
 *
 *   peer_start()  before the HTTP server starts: creates the sync receiver,
 *                 registers the POST /v1/sync and POST /v1/erase (erase.h)
 *                 handlers (api_register) and
 *                 starts the forwarder threads.
 *   peer_kick()   after a read was queued for a peer (store_mark_read with
 *                 forward_to): wakes that peer's forwarder.  A no-op before
 *                 peer_start / after peer_stop (unit tests of api).
 *   peer_metrics_write()  appends the sync and forwarder metrics to the
 *                 tracker's /metrics text.
 *   peer_stop()   after the HTTP server stopped, before the store closes:
 *                 stops the forwarder (a request in flight is aborted, items
 *                 stay queued) and frees the receiver.
 *
 * One instance per process (the tracker has one store and one config).
 * peer_start/peer_stop are called from the main thread only; peer_kick and
 * peer_metrics_write from any thread between them.
 */
#include <stdio.h>

#include "conf.h"
#include "store.h"

void peer_start(struct conf *conf, store_t *st);
/* SIGHUP: the receiver and the forwarder use conf (its key, server list,
 * opt-outs, tracking switch) for requests from now on; own references. */
void peer_set_conf(struct conf *conf);
void peer_kick(const char *peer);
void peer_metrics_write(FILE *fp);
void peer_stop(void);

#endif
