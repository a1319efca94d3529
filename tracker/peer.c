/*
 * peer - the tracker's side of peer sync (contract in peer.h).
 */
#include "peer.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "erase.h"
#include "forwarder.h"
#include "route.h"
#include "sync.h"
#include "xmem.h"

static sync_receiver_t *peer_rx;
static fwd_t *peer_fwd;
static store_t *peer_st;

/* The handlers' answer: status and the JSON reply (taken, from json_dumps). */
static void peer_reply(struct api_resp *resp, int status, char *reply)
{
    api_resp_clear(resp);
    resp->status = (unsigned)status;
    resp->body = xstrdup(reply);        /* api_resp_clear frees with xfree */
    resp->body_len = strlen(reply);
    resp->content_type = "application/json";
    free(reply);
}

static void peer_sync_handler(const struct api_ctx *ctx, const struct api_req *req,
                              struct api_resp *resp)
{
    char *reply = NULL;
    int status;

    (void)ctx;
    if (peer_rx == NULL) {
        api_error(resp, 503, "unavailable", "peer sync is not running");
        return;
    }
    status = sync_handle(peer_rx, "POST", SYNC_PATH,
                         req->header(req->header_cls, SYNC_HDR_SERVER),
                         req->header(req->header_cls, SYNC_HDR_TIMESTAMP),
                         req->header(req->header_cls, SYNC_HDR_SIGNATURE),
                         req->body, req->body_len, (long long)(req->now_ms / 1000),
                         &reply);
    peer_reply(resp, status, reply);
}

/* POST /v1/erase: a peer's erasures (erase.h), checked like a sync */
static void peer_erase_handler(const struct api_ctx *ctx, const struct api_req *req,
                               struct api_resp *resp)
{
    char *reply = NULL;
    int status;

    (void)ctx;
    if (peer_rx == NULL) {
        api_error(resp, 503, "unavailable", "peer sync is not running");
        return;
    }
    status = erase_handle(peer_rx, peer_st, req->header(req->header_cls, SYNC_HDR_SERVER),
                          req->header(req->header_cls, SYNC_HDR_TIMESTAMP),
                          req->header(req->header_cls, SYNC_HDR_SIGNATURE),
                          req->body, req->body_len, (long long)(req->now_ms / 1000), &reply);
    peer_reply(resp, status, reply);
}

void peer_start(struct conf *conf, store_t *st)
{
    peer_rx = sync_receiver_new(conf, st, 0);
    peer_st = st;
    api_register(ROUTE_SYNC, peer_sync_handler);
    api_register(ROUTE_ERASE, peer_erase_handler);
    /* [tracker] forward_*: batch size, backoff cap, request timeout, idle poll */
    struct fwd_opts o = {
        .batch_max = conf->tracker_forward_batch > 0 ? (size_t)conf->tracker_forward_batch : 0,
        .backoff_max_ms = (unsigned)conf->tracker_forward_backoff_max * 1000u,
        .timeout_ms = (unsigned)conf->tracker_forward_timeout * 1000u,
        .poll_ms = (unsigned)conf->tracker_forward_poll * 1000u,
    };
    peer_fwd = fwd_start(conf, st, &o);
}

void peer_set_conf(struct conf *conf)
{
    if (peer_rx != NULL)
        sync_receiver_set_conf(peer_rx, conf);
    fwd_set_conf(peer_fwd, conf);
}

void peer_kick(const char *peer)
{
    fwd_kick(peer_fwd, peer);
}

void peer_metrics_write(FILE *fp)
{
    sync_metrics_write(fp);
    erase_metrics_write(fp);
    fwd_metrics_write(peer_fwd, fp);
}

void peer_stop(void)
{
    peer_fwd = fwd_stop(peer_fwd);
    peer_rx = sync_receiver_free(peer_rx);
}
