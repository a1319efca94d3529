/*
 * cmd_write - the commands that change the mail log or write files: erase,
 * purge, outbox, backup, keygen (see ctl.h).  Every change is logged to
 * syslog as "mailstatectl: ..." with the uid that made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "jw.h"
#include "log.h"
#include "store_ctl.h"
#include "store_erase.h"

static int parse_seq(const char *s, uint64_t *seq)
{
    char *end;

    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '1' || *s > '9' || *end != '\0' || errno != 0) {
        ctl_err("\"%s\" is not an outbox item number (see outbox list)", s);
        return -1;
    }
    *seq = v;
    return 0;
}

/* ---- erase ---- */

static int confirm(const char *what)
{
    char line[16];

    if (!isatty(STDIN_FILENO)) {
        ctl_err("%s: not confirmed (give --yes)", what);
        return 0;
    }
    fprintf(stderr, "%s? [y/N] ", what);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

int cmd_erase(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "yes", no_argument, NULL, 'y' }, { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    char key[CTL_ADDR_BUF], what[CTL_ADDR_BUF + 64];
    int opt, yes = 0, rc;
    size_t erased = 0;
    store_t *st;

    while ((opt = getopt_long(argc, argv, "+y", opts, NULL)) != -1) {
        if (opt == 'y')
            yes = 1;
        else if (opt == 'j')
            c->json = 1;
        else
            return CTL_EXIT_USAGE;
    }
    if (argc - optind != 1) {
        ctl_err("erase takes one address");
        return CTL_EXIT_USAGE;
    }
    if (ctl_addr_key(argv[optind], key, sizeof key) != 0)
        return CTL_EXIT_USAGE;
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    snprintf(what, sizeof what, "erase every entry of %s", key);
    if (!yes && !confirm(what))
        return CTL_EXIT_REFUSED;
    /*
     * The peers first: every other server of the system may hold copies
     * (it hosts recipients of her mails, or senders of mails to her), and
     * the queued item is the durable intent, so a run that stops half way
     * (or a local log that holds nothing) still has them told.  The
     * running tracker's forwarder sends the items (signed, POST /v1/erase)
     * within [tracker] forward_poll.
     */
    const msys_t *ms = c->conf->msys;
    const char **peers = calloc(msys_server_count(ms) + 1, sizeof(*peers));
    size_t np = 0;
    if (peers == NULL) {
        ctl_err("erase: out of memory");
        return CTL_EXIT_ERROR;
    }
    for (size_t i = 0; i < msys_server_count(ms); i++)
        if (strcmp(msys_server_name(ms, i), msys_this_server(ms)) != 0)
            peers[np++] = msys_server_name(ms, i);
    uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
    rc = store_erasure_queue(st, key, peers, np, now_ms);
    if (rc != STORE_OK) {
        free(peers);
        return ctl_store_exit(rc, "erase: queueing for the peers");
    }
    rc = store_erase_address(st, key, &erased);
    if (rc != STORE_OK) {
        log_info("erase: %s: stopped after %zu entries: %s (uid %u)", key, erased,
                 store_strerror(rc), (unsigned)getuid());
        free(peers);
        if (erased > 0)
            ctl_err("erase: %zu entries erased before the error; run it again", erased);
        return ctl_store_exit(rc, "erase");
    }
    log_info("erase: %s: %zu entries erased here, queued for %zu peer(s) (uid %u)", key,
             erased, np, (unsigned)getuid());
    if (c->json) {
        struct jw w;
        jw_init(&w, 256);
        jw_obj_open(&w);
        jw_key(&w, "address"); jw_str(&w, key);
        jw_key(&w, "erased"); jw_int(&w, (long long)erased);
        jw_key(&w, "queued_for");
        jw_arr_open(&w);
        for (size_t i = 0; i < np; i++)
            jw_str(&w, peers[i]);
        jw_arr_close(&w);
        jw_obj_close(&w);
        ctl_print_jw(&w);
    } else {
        printf("erased %zu entries of %s\n", erased, key);
        for (size_t i = 0; i < np; i++)
            printf("queued for %s: its tracker erases its copies too once the forwarder "
                   "delivers it (see status)\n", peers[i]);
    }
    free(peers);
    if (erased == 0) {
        ctl_err("erase: the mail log here held no entry of %s%s", key,
                np ? " (the peers are told all the same)" : "");
        return CTL_EXIT_NOTFOUND;
    }
    return CTL_EXIT_OK;
}

/* ---- purge ---- */

int cmd_purge(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "older-than", required_argument, NULL, 'o' }, { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    long long older = -1;
    size_t purged, total = 0;
    store_t *st;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt == 'o') {
            if (ctl_parse_duration(optarg, &older) != 0)
                return CTL_EXIT_USAGE;
        } else if (opt == 'j') {
            c->json = 1;
        } else {
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        ctl_err("purge takes no arguments besides --older-than");
        return CTL_EXIT_USAGE;
    }
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    if (older < 0)
        older = c->conf->retention;
    if (older <= 0) {
        ctl_err("retention is off: give --older-than");
        return CTL_EXIT_USAGE;
    }
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    uint64_t before = (uint64_t)older * 1000u >= now ? 0 : now - (uint64_t)older * 1000u;
    /* small batches, as the tracker does: each transaction holds the
     * writer lock (the milter's too) only briefly */
    do {
        rc = store_purge(st, before, 1000, &purged);
        total += purged;
    } while (rc == STORE_OK && purged > 0);
    if (rc != STORE_OK)
        return ctl_store_exit(rc, "purge");
    (void)store_ctl_note_purge(st, now, total);
    log_info("purge: %zu mails older than %lld s (uid %u)", total, older, (unsigned)getuid());
    if (c->json)
        printf("{\"purged\": %zu, \"older_than_s\": %lld}\n", total, older);
    else
        printf("purged %zu mails older than %lld s\n", total, older);
    return CTL_EXIT_OK;
}

/* ---- outbox ---- */

static void item_json(const struct store_ctl_item *it)
{
    struct jw w;
    char t[40];

    jw_init(&w, 256);
    jw_obj_open(&w);
    jw_key(&w, "item"); jw_int(&w, (long long)it->seq);
    jw_key(&w, "peer"); jw_str(&w, it->peer);
    jw_key(&w, "state"); jw_str(&w, it->parked ? "parked" : "waiting");
    ctl_time(it->queued_ms, t, sizeof t);
    jw_key(&w, "queued"); jw_str(&w, t);
    jw_key(&w, "mail_id"); jw_str(&w, it->id);
    jw_key(&w, "sender"); jw_str(&w, it->sender);
    jw_key(&w, "recipient"); jw_str(&w, it->recipient);
    jw_key(&w, "status");
    if (it->status >= 0)
        jw_str(&w, store_status_name(it->status));
    else
        jw_null(&w);
    jw_obj_close(&w);
    ctl_print_jw(&w);
}

static int outbox_list(struct ctl *c, store_t *st)
{
    for (int parked = 0; parked <= 1; parked++) {
        struct store_ctl_item *items;
        size_t n;
        int rc = store_ctl_items(st, parked, 1000000, &items, &n);
        if (rc != STORE_OK)
            return ctl_store_exit(rc, "outbox list");
        if (!c->json && parked == 0)
            printf("%-8s %-12s %-8s %-24s %-26s %s\n", "ITEM", "PEER", "STATE", "QUEUED",
                   "MAIL", "RECIPIENT");
        for (size_t i = 0; i < n; i++) {
            char t[40];
            if (c->json) {
                item_json(&items[i]);
                continue;
            }
            ctl_time(items[i].queued_ms, t, sizeof t);
            printf("%-8llu %-12s %-8s %-24s %-26s %s%s\n",
                   (unsigned long long)items[i].seq, items[i].peer,
                   parked ? "parked" : "waiting", t, items[i].id, items[i].recipient,
                   items[i].status < 0 ? " (entry gone)" : "");
        }
        store_ctl_items_free(items, n);
    }
    return CTL_EXIT_OK;
}

int cmd_outbox(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "all", no_argument, NULL, 'a' }, { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    int opt, all = 0, rc;
    uint64_t seq = 0;
    store_t *st;

    if (argc < 2) {
        ctl_err("outbox wants list, release or drop");
        return CTL_EXIT_USAGE;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt == 'a')
            all = 1;
        else if (opt == 'j')
            c->json = 1;
        else
            return CTL_EXIT_USAGE;
    }
    int nargs = argc - optind;
    if (strcmp(sub, "list") == 0) {
        if (nargs != 0 || all) {
            ctl_err("outbox list takes no arguments");
            return CTL_EXIT_USAGE;
        }
        if ((st = ctl_store(c)) == NULL)
            return CTL_EXIT_ERROR;
        return outbox_list(c, st);
    }
    int release = strcmp(sub, "release") == 0;
    if (!release && strcmp(sub, "drop") != 0) {
        ctl_err("unknown outbox command \"%s\" (list, release, drop)", sub);
        return CTL_EXIT_USAGE;
    }
    if ((!release && all) || (release && all ? nargs != 0 : nargs != 1)) {
        ctl_err(release ? "outbox release wants one item number or --all"
                        : "outbox drop wants one item number");
        return CTL_EXIT_USAGE;
    }
    if (nargs == 1 && parse_seq(argv[optind], &seq) != 0)
        return CTL_EXIT_USAGE;
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    if (release) {
        size_t moved = 0;
        rc = store_ctl_release(st, seq, all, &moved);
        if (rc == STORE_ENOTFOUND) {
            ctl_err("outbox release: item %llu is not parked", (unsigned long long)seq);
            return CTL_EXIT_NOTFOUND;
        }
        if (rc != STORE_OK)
            return ctl_store_exit(rc, "outbox release");
        log_info("outbox: released %zu parked items (uid %u)", moved, (unsigned)getuid());
        if (c->json)
            printf("{\"released\": %zu}\n", moved);
        else
            printf("released %zu parked item%s to the outbox\n", moved, moved == 1 ? "" : "s");
        return CTL_EXIT_OK;
    }
    rc = store_ctl_drop(st, seq);
    if (rc == STORE_ENOTFOUND) {
        ctl_err("outbox drop: no item %llu", (unsigned long long)seq);
        return CTL_EXIT_NOTFOUND;
    }
    if (rc != STORE_OK)
        return ctl_store_exit(rc, "outbox drop");
    log_info("outbox: dropped item %llu (uid %u)", (unsigned long long)seq, (unsigned)getuid());
    if (c->json)
        printf("{\"dropped\": %llu}\n", (unsigned long long)seq);
    else
        printf("dropped item %llu\n", (unsigned long long)seq);
    return CTL_EXIT_OK;
}

/* ---- backup ---- */

int cmd_backup(struct ctl *c, int argc, char **argv)
{
    char err[512];
    store_t *st;

    if (ctl_opt_json(c, argc, argv) != 0)
        return CTL_EXIT_USAGE;
    if (argc - optind != 1) {
        ctl_err("backup takes one directory");
        return CTL_EXIT_USAGE;
    }
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    int rc = store_ctl_backup(st, argv[optind], err, sizeof err);
    if (rc != STORE_OK) {
        ctl_err("backup: %s", err);
        return rc == STORE_EINVAL ? CTL_EXIT_REFUSED
             : rc == STORE_EFULL ? CTL_EXIT_FULL : CTL_EXIT_ERROR;
    }
    if (c->json) {
        struct jw w;
        jw_init(&w, 256);
        jw_obj_open(&w);
        jw_key(&w, "backup"); jw_str(&w, argv[optind]);
        jw_obj_close(&w);
        ctl_print_jw(&w);
    } else {
        printf("backup written to %s/data.mdb\n", argv[optind]);
    }
    return CTL_EXIT_OK;
}

/* ---- keygen ---- */

int cmd_keygen(struct ctl *c, int argc, char **argv)
{
    unsigned char key[32];

    if (ctl_opt_json(c, argc, argv) != 0)
        return CTL_EXIT_USAGE;
    if (argc - optind != 1) {
        ctl_err("keygen takes one file name");
        return CTL_EXIT_USAGE;
    }
    const char *path = argv[optind];
    /* O_EXCL: never overwrite a key (every mail id of the system hangs on
     * it); O_NOFOLLOW: not through a planted link */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        ctl_err("keygen: %s: %s", path, strerror(e));
        return e == EEXIST ? CTL_EXIT_REFUSED : CTL_EXIT_ERROR;
    }
    randombytes_buf(key, sizeof key);
    ssize_t w = write(fd, key, sizeof key);
    sodium_memzero(key, sizeof key);
    if (w != (ssize_t)sizeof key || fsync(fd) != 0 || close(fd) != 0) {
        ctl_err("keygen: cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return CTL_EXIT_ERROR;
    }
    if (c->json) {
        struct jw jw;
        jw_init(&jw, 128);
        jw_obj_open(&jw);
        jw_key(&jw, "key_file"); jw_str(&jw, path);
        jw_key(&jw, "bytes"); jw_int(&jw, (long long)sizeof key);
        jw_obj_close(&jw);
        ctl_print_jw(&jw);
    } else
        printf("wrote a %zu-byte key to %s (mode 600)\n", sizeof key, path);
    return CTL_EXIT_OK;
}
