/*
 * ctl-seed - put outbox and parked items into a mail log the way the
 * tracker does, for mailstatectl's tests:
 *
 *   ctl-seed DIR read ID RCPT PEER   a read of (ID, RCPT) queued for PEER
 *                                    (store_mark_read with forward_to, as
 *                                    POST /v1/reads does for a peer's sender)
 *   ctl-seed DIR park PEER           park every outbox item of PEER (as the
 *                                    forwarder does after a 422)
 * Exit 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"

int main(int argc, char **argv)
{
    struct store_opts so = { .map_size = 0 };
    store_t *st;
    char err[256];
    int rc = STORE_EINVAL;

    if (argc < 4) {
        fprintf(stderr, "usage: ctl-seed DIR read ID RCPT PEER | park PEER\n");
        return 1;
    }
    so.path = argv[1];
    so.map_size = (size_t)1 << 20;
    so.map_size_max = (size_t)64 << 20;
    if (store_open(&so, &st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "ctl-seed: %s\n", err);
        return 1;
    }
    if (strcmp(argv[2], "read") == 0 && argc == 6) {
        rc = store_mark_read(st, argv[3], argv[4], (uint64_t)time(NULL) * 1000u, "imap",
                             argv[5], NULL);
    } else if (strcmp(argv[2], "park") == 0 && argc == 4) {
        struct store_outbox_item *items;
        size_t n;
        rc = store_outbox_peek(st, argv[3], 100000, &items, &n);
        if (rc == STORE_OK) {
            static uint64_t seqs[100000];
            for (size_t i = 0; i < n; i++)
                seqs[i] = items[i].seq;
            rc = store_outbox_park(st, argv[3], seqs, n);
            store_outbox_free(items, n);
        }
    }
    if (rc != STORE_OK)
        fprintf(stderr, "ctl-seed: %s\n", store_strerror(rc));
    store_close(st);
    return rc == STORE_OK ? 0 : 1;
}
