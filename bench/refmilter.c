/*
 * refmilter - the reference for bench/milter-throughput: the least a milter
 * that tags mail can do.  It negotiates away every step it does not need
 * (like mailstate-milter), remembers the envelope sender, and at
 * end-of-message inserts two headers.  No config, no crypto, no storage:
 * the floor any header-adding milter pays.
 *
 *   refmilter SOCKET        (e.g. unix:/tmp/ref.sock, inet:9999@127.0.0.1)
 *
 * SIGTERM stops it (libmilter's own handling).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

struct ref_ctx {
    char sender[512];
    unsigned long n;
};

static sfsistat ref_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                              unsigned long f2, unsigned long f3, unsigned long *pf0,
                              unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    const unsigned long want = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                               SMFIP_NOEOH | SMFIP_NOHDRS | SMFIP_NORCPT | SMFIP_NR_CONN |
                               SMFIP_NR_MAIL;

    (void)f2;
    (void)f3;
    if (smfi_getpriv(ctx) == NULL)
        smfi_setpriv(ctx, calloc(1, sizeof(struct ref_ctx)));
    *pf0 = f0 & SMFIF_ADDHDRS;
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat ref_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)ctx;
    (void)host;
    (void)sa;
    return SMFIS_NOREPLY;
}

static sfsistat ref_envfrom(SMFICTX *ctx, char **argv)
{
    struct ref_ctx *rc = smfi_getpriv(ctx);

    if (rc)
        snprintf(rc->sender, sizeof(rc->sender), "%s", argv[0] ? argv[0] : "");
    return SMFIS_NOREPLY;
}

static sfsistat ref_eom(SMFICTX *ctx)
{
    struct ref_ctx *rc = smfi_getpriv(ctx);
    char id[64];

    if (rc == NULL)
        return SMFIS_CONTINUE;
    snprintf(id, sizeof(id), "%ld.%lu", (long)getpid(), ++rc->n);
    smfi_insheader(ctx, 0, "X-Ref-Sender", rc->sender);
    smfi_insheader(ctx, 0, "X-Ref-Id", id);
    return SMFIS_CONTINUE;
}

static sfsistat ref_close(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

static struct smfiDesc ref_desc = {
    .xxfi_name = "refmilter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS,
    .xxfi_connect = ref_connect,
    .xxfi_envfrom = ref_envfrom,
    .xxfi_eom = ref_eom,
    .xxfi_close = ref_close,
    .xxfi_negotiate = ref_negotiate,
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: refmilter SOCKET\n");
        return 2;
    }
    if (smfi_register(ref_desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "refmilter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    if (strncmp(argv[1], "unix:", 5) == 0)
        chmod(argv[1] + 5, 0666);
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
