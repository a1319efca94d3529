/*
 * cmd_read - the commands that only read the mail log: status, show, list,
 * export (see ctl.h).  JSON shapes are the tracker's (render.h), so a mail
 * looks the same here as in GET /v1/mails/{id}.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"
#include "jw.h"
#include "mailid.h"
#include "render.h"
#include "store_ctl.h"
#include "store_erase.h"

static void human_size(size_t n, char *buf, size_t len)
{
    if (n >= (size_t)1 << 30)
        snprintf(buf, len, "%.1f GiB", (double)n / (1 << 30));
    else if (n >= (size_t)1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else
        snprintf(buf, len, "%.1f KiB", (double)n / (1 << 10));
}

static int no_options(struct ctl *c, int argc, char **argv, int nargs)
{
    if (ctl_opt_json(c, argc, argv) != 0)
        return -1;
    if (argc - optind != nargs) {
        ctl_err("%s takes %d argument%s", argv[0], nargs, nargs == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* ---- status ---- */

struct peer_fig {
    const char *name;
    size_t      depth, parked, erasures;
    uint64_t    oldest, erasure_oldest;
};

int cmd_status(struct ctl *c, int argc, char **argv)
{
    struct store_ctl_figures f;
    struct stat sb;
    char path[4096 + 16], a[32], b[32], m[32], t[40];
    struct peer_fig *peers;
    size_t np = 0, in_peers = 0, parked_in_peers = 0;
    store_t *st;
    int rc;

    if (no_options(c, argc, argv, 0) != 0)
        return CTL_EXIT_USAGE;
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    if ((rc = store_ctl_figures(st, &f)) != STORE_OK)
        return ctl_store_exit(rc, "status");
    const msys_t *ms = c->conf->msys;
    size_t ns = msys_server_count(ms);
    peers = calloc(ns ? ns : 1, sizeof(*peers));
    if (peers == NULL)
        return CTL_EXIT_ERROR;
    for (size_t i = 0; i < ns; i++) {
        const char *name = msys_server_name(ms, i);
        if (strcmp(name, msys_this_server(ms)) == 0)
            continue;
        peers[np].name = name;
        rc = store_outbox_stats(st, name, &peers[np].depth, &peers[np].oldest,
                                &peers[np].parked);
        if (rc != STORE_OK) {
            free(peers);
            return ctl_store_exit(rc, "status");
        }
        rc = store_erasure_stats(st, name, &peers[np].erasures, &peers[np].erasure_oldest);
        if (rc != STORE_OK) {
            free(peers);
            return ctl_store_exit(rc, "status");
        }
        in_peers += peers[np].depth;
        parked_in_peers += peers[np].parked;
        np++;
    }
    snprintf(path, sizeof path, "%s/data.mdb", c->conf->store_path);
    size_t file_size = stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
    size_t max = c->conf->store_map_size_max;
    /* what is in use: the high-water mark less the reusable free pages */
    size_t used = f.map_used - (f.free_pages * f.page_size < f.map_used
                                ? f.free_pages * f.page_size : f.map_used);
    double pct = max ? 100.0 * (double)used / (double)max : 0;

    if (c->json) {
        struct jw w;
        jw_init(&w, 1024);
        jw_obj_open(&w);
        jw_key(&w, "path"); jw_str(&w, c->conf->store_path);
        jw_key(&w, "schema"); jw_int(&w, f.schema);
        jw_key(&w, "file_size"); jw_int(&w, (long long)file_size);
        jw_key(&w, "map_size"); jw_int(&w, (long long)f.map_size);
        jw_key(&w, "map_size_max"); jw_int(&w, (long long)max);
        jw_key(&w, "high_water"); jw_int(&w, (long long)f.map_used);
        jw_key(&w, "used"); jw_int(&w, (long long)used);
        jw_key(&w, "used_percent"); jw_int(&w, (long long)(pct + 0.5));
        jw_key(&w, "mails"); jw_int(&w, (long long)f.mails);
        jw_key(&w, "entries"); jw_int(&w, (long long)f.entries);
        jw_key(&w, "outbox"); jw_int(&w, (long long)f.outbox);
        jw_key(&w, "parked"); jw_int(&w, (long long)f.parked);
        jw_key(&w, "retention_s"); jw_int(&w, c->conf->retention);
        jw_key(&w, "last_purge");
        if (f.last_purge_ms) {
            ctl_time(f.last_purge_ms, t, sizeof t);
            jw_str(&w, t);
        } else {
            jw_null(&w);
        }
        jw_key(&w, "last_purge_mails"); jw_int(&w, (long long)f.last_purge_mails);
        jw_key(&w, "peers");
        jw_arr_open(&w);
        for (size_t i = 0; i < np; i++) {
            jw_obj_open(&w);
            jw_key(&w, "peer"); jw_str(&w, peers[i].name);
            jw_key(&w, "outbox"); jw_int(&w, (long long)peers[i].depth);
            jw_key(&w, "oldest");
            if (peers[i].oldest) {
                ctl_time(peers[i].oldest, t, sizeof t);
                jw_str(&w, t);
            } else {
                jw_null(&w);
            }
            jw_key(&w, "parked"); jw_int(&w, (long long)peers[i].parked);
            jw_key(&w, "erasures"); jw_int(&w, (long long)peers[i].erasures);
            jw_key(&w, "erasure_oldest");
            if (peers[i].erasure_oldest) {
                ctl_time(peers[i].erasure_oldest, t, sizeof t);
                jw_str(&w, t);
            } else {
                jw_null(&w);
            }
            jw_obj_close(&w);
        }
        jw_arr_close(&w);
        jw_key(&w, "outbox_other_peers"); jw_int(&w, (long long)(f.outbox - in_peers));
        jw_key(&w, "parked_other_peers"); jw_int(&w, (long long)(f.parked - parked_in_peers));
        jw_obj_close(&w);
        ctl_print_jw(&w);
        free(peers);
        return CTL_EXIT_OK;
    }
    human_size(used, a, sizeof a);
    human_size(max, m, sizeof m);
    human_size(f.map_size, b, sizeof b);
    printf("mail log     %s (schema %u, file %zu bytes)\n", c->conf->store_path, f.schema,
           file_size);
    printf("use          %s of %s (%.0f%%), map now %s\n", a, m, pct, b);
    printf("mails        %llu\n", (unsigned long long)f.mails);
    printf("entries      %llu\n", (unsigned long long)f.entries);
    if (c->conf->retention > 0 && c->conf->retention % 86400 == 0)
        printf("retention    %lldd", c->conf->retention / 86400);
    else if (c->conf->retention > 0)
        printf("retention    %llds", c->conf->retention);
    else
        printf("retention    off");
    if (f.last_purge_ms) {
        ctl_time(f.last_purge_ms, t, sizeof t);
        printf(", last purge %s (%llu mails)\n", t, (unsigned long long)f.last_purge_mails);
    } else {
        printf(", last purge never recorded\n");
    }
    printf("outbox       %llu waiting, %llu parked\n", (unsigned long long)f.outbox,
           (unsigned long long)f.parked);
    for (size_t i = 0; i < np; i++) {
        ctl_time(peers[i].oldest, t, sizeof t);
        printf("  peer %-12s %6zu waiting  oldest %-24s %6zu parked\n", peers[i].name,
               peers[i].depth, t, peers[i].parked);
        if (peers[i].erasures > 0) {
            ctl_time(peers[i].erasure_oldest, t, sizeof t);
            printf("  peer %-12s %6zu erasure%s to send, oldest %s\n", peers[i].name,
                   peers[i].erasures, peers[i].erasures == 1 ? "" : "s", t);
        }
    }
    if (f.outbox > in_peers || f.parked > parked_in_peers)
        printf("  (peers not in the config: %llu waiting, %llu parked)\n",
               (unsigned long long)(f.outbox - in_peers),
               (unsigned long long)(f.parked - parked_in_peers));
    free(peers);
    return CTL_EXIT_OK;
}

/* ---- show ---- */

static void print_mail_human(const struct store_mail_rec *rec)
{
    char t[40], fr[40], lr[40];

    ctl_time(rec->mail.created_ms, t, sizeof t);
    printf("mail %s from %s, created %s\n", rec->mail.id, rec->mail.sender, t);
    if (rec->mail.queue_id)
        printf("  queue id    %s\n", rec->mail.queue_id);
    if (rec->mail.message_id)
        printf("  message-id  %s\n", rec->mail.message_id);
    if (rec->mail.subject)
        printf("  subject     %s\n", rec->mail.subject);
    printf("  %-32s %-8s %-15s %-24s %-24s %5s %s\n", "RECIPIENT", "SERVER", "STATUS",
           "FIRST READ", "LAST READ", "READS", "VIA");
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct store_rcpt *r = &rec->rcpts[i];
        ctl_time(r->first_read_ms, fr, sizeof fr);
        ctl_time(r->last_read_ms, lr, sizeof lr);
        printf("  %-32s %-8s %-15s %-24s %-24s %5u %s\n", r->address,
               r->server ? r->server : "-", store_status_name(r->status), fr, lr,
               r->read_count, r->via[0] ? r->via : "-");
    }
}

int cmd_show(struct ctl *c, int argc, char **argv)
{
    char id[MAILID_ID_LEN + 1];
    char *tag = NULL;
    struct store_mail_rec *rec = NULL;
    store_t *st;
    int rc;

    if (no_options(c, argc, argv, 1) != 0)
        return CTL_EXIT_USAGE;
    if (ctl_parse_id(argv[optind], id, &tag) != 0)
        return CTL_EXIT_USAGE;
    if ((st = ctl_store(c)) == NULL) {
        free(tag);
        return CTL_EXIT_ERROR;
    }
    rc = store_get_mail(st, id, &rec);
    if (rc != STORE_OK) {
        free(tag);
        return ctl_store_exit(rc, id);
    }
    if (tag != NULL) {
        /* ID.TAG as in X-Mail-Id: a tag that does not verify names no mail */
        char want[MAILID_TAG_LEN + 1];
        mailid_tag_k(&c->conf->mac_key, id, rec->mail.sender, want);
        int bad = strcmp(want, tag) != 0;
        free(tag);
        if (bad) {
            store_mail_rec_free(rec);
            ctl_err("%s: the tag does not match this mail (not an id of this system)", id);
            return CTL_EXIT_USAGE;
        }
    }
    if (c->json) {
        struct jw w;
        jw_init(&w, 1024);
        render_mail(&w, rec);
        ctl_print_jw(&w);
    } else {
        print_mail_human(rec);
    }
    store_mail_rec_free(rec);
    return CTL_EXIT_OK;
}

/* ---- list ---- */

static void print_row(const struct store_mail_rec *rec)
{
    char t[40];
    size_t nread = 0;

    for (size_t i = 0; i < rec->n_rcpts; i++)
        nread += rec->rcpts[i].status == STORE_READ;
    ctl_time(rec->mail.created_ms, t, sizeof t);
    printf("%-26s %-24s %-32s %zu/%zu read\n", rec->mail.id, t, rec->mail.sender, nread,
           rec->n_rcpts);
}

int cmd_list(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "sender", required_argument, NULL, 's' },
        { "recipient", required_argument, NULL, 'r' },
        { "since", required_argument, NULL, 'S' },
        { "until", required_argument, NULL, 'U' },
        { "status", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'l' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    char sender[CTL_ADDR_BUF], rcpt[CTL_ADDR_BUF];
    struct store_query q = { .status = -1 };
    unsigned long long limit = 100;
    store_t *st;
    int opt, rc = STORE_OK;

    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            if (ctl_addr_key(optarg, sender, sizeof sender) != 0)
                return CTL_EXIT_USAGE;
            q.sender = sender;
            break;
        case 'r':
            if (ctl_addr_key(optarg, rcpt, sizeof rcpt) != 0)
                return CTL_EXIT_USAGE;
            q.recipient = rcpt;
            break;
        case 'S':
            if (ctl_parse_time(optarg, &q.since_ms) != 0)
                return CTL_EXIT_USAGE;
            break;
        case 'U':
            if (ctl_parse_time(optarg, &q.until_ms) != 0)
                return CTL_EXIT_USAGE;
            break;
        case 't':
            if ((q.status = store_status_parse(optarg)) < 0) {
                ctl_err("unknown status \"%s\" (sent, received, deleted_unread, read)", optarg);
                return CTL_EXIT_USAGE;
            }
            break;
        case 'l':
            limit = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || limit == 0 || limit > 1000000) {
                ctl_err("--limit wants a number from 1 to 1000000");
                return CTL_EXIT_USAGE;
            }
            break;
        case 'j': c->json = 1; break;
        default: return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        ctl_err("list takes no arguments besides its options");
        return CTL_EXIT_USAGE;
    }
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    if (!c->json)
        printf("%-26s %-24s %-32s %s\n", "ID", "CREATED", "SENDER", "READ");
    char cursor[MAILID_ID_LEN + 1] = "";
    size_t shown = 0;
    do {
        struct store_list l;
        q.limit = limit - shown > 1000 ? 1000 : (size_t)(limit - shown);
        q.cursor = cursor[0] ? cursor : NULL;
        if ((rc = store_list(st, &q, &l)) != STORE_OK)
            return ctl_store_exit(rc, "list");
        for (size_t i = 0; i < l.n_mails; i++) {
            if (c->json) {
                struct jw w;
                jw_init(&w, 1024);
                render_mail(&w, &l.mails[i]);
                ctl_print_jw(&w);
            } else {
                print_row(&l.mails[i]);
            }
        }
        shown += l.n_mails;
        memcpy(cursor, l.next_cursor, sizeof cursor);
        store_list_clear(&l);
    } while (cursor[0] != '\0' && shown < limit);
    return CTL_EXIT_OK;
}

/* ---- export ---- */

/* One JSON line: the address as sender (the whole mail, it is theirs) or
 * as recipient (the mail's envelope facts and only their own entry: the
 * other recipients' entries are other people's data). */
static void export_line(const struct store_mail_rec *rec, const char *as_rcpt)
{
    struct jw w;
    char t[40];

    jw_init(&w, 1024);
    if (as_rcpt == NULL) {
        jw_obj_open(&w);
        jw_key(&w, "role");
        jw_str(&w, "sender");
        jw_key(&w, "mail");
        render_mail(&w, rec);
        jw_obj_close(&w);
        ctl_print_jw(&w);
        return;
    }
    jw_obj_open(&w);
    jw_key(&w, "role");
    jw_str(&w, "recipient");
    jw_key(&w, "mail_id");
    jw_str(&w, rec->mail.id);
    jw_key(&w, "sender");
    jw_str(&w, rec->mail.sender);
    ctl_time(rec->mail.created_ms, t, sizeof t);
    jw_key(&w, "created");
    jw_str(&w, t);
    if (rec->mail.message_id) {
        jw_key(&w, "message_id");
        jw_str(&w, rec->mail.message_id);
    }
    if (rec->mail.subject) {
        jw_key(&w, "subject");
        jw_str(&w, rec->mail.subject);
    }
    for (size_t i = 0; i < rec->n_rcpts; i++)
        if (strcmp(rec->rcpts[i].address, as_rcpt) == 0) {
            jw_key(&w, "entry");
            render_rcpt(&w, &rec->rcpts[i]);
        }
    jw_obj_close(&w);
    ctl_print_jw(&w);
}

static int export_role(store_t *st, const char *key, int as_rcpt, size_t *n)
{
    struct store_query q = { .status = -1, .limit = 1000 };
    char cursor[MAILID_ID_LEN + 1] = "";
    int rc;

    if (as_rcpt)
        q.recipient = key;
    else
        q.sender = key;
    do {
        struct store_list l;
        q.cursor = cursor[0] ? cursor : NULL;
        if ((rc = store_list(st, &q, &l)) != STORE_OK)
            return rc;
        for (size_t i = 0; i < l.n_mails; i++)
            export_line(&l.mails[i], as_rcpt ? key : NULL);
        *n += l.n_mails;
        memcpy(cursor, l.next_cursor, sizeof cursor);
        store_list_clear(&l);
    } while (cursor[0] != '\0');
    return STORE_OK;
}

int cmd_export(struct ctl *c, int argc, char **argv)
{
    char key[CTL_ADDR_BUF];
    size_t n = 0;
    store_t *st;
    int rc;

    if (no_options(c, argc, argv, 1) != 0)
        return CTL_EXIT_USAGE;
    if (ctl_addr_key(argv[optind], key, sizeof key) != 0)
        return CTL_EXIT_USAGE;
    if ((st = ctl_store(c)) == NULL)
        return CTL_EXIT_ERROR;
    if ((rc = export_role(st, key, 0, &n)) != STORE_OK ||
        (rc = export_role(st, key, 1, &n)) != STORE_OK)
        return ctl_store_exit(rc, "export");
    if (fflush(stdout) != 0) {
        ctl_err("export: cannot write the output");
        return CTL_EXIT_ERROR;
    }
    if (n == 0) {
        ctl_err("export: the mail log holds no entry of %s", key);
        return CTL_EXIT_NOTFOUND;
    }
    return CTL_EXIT_OK;
}
