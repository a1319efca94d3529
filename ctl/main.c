/*
 * mailstatectl - the administrator's tool (see ctl.h and mailstatectl(8)).
 *
 *   mailstatectl [-c FILE] [--json] COMMAND [ARGS]
 *
 * This file: the command line, the shared helpers of ctl.h, dispatch.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "addr.h"
#include "ctl.h"
#include "jw.h"
#include "log.h"
#include "mailid.h"
#include "paths.h"
#include "render.h"

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mailstatectl [-c FILE] [--json] COMMAND [ARGS]\n"
        "  status                         store use, entries, outbox per peer, retention\n"
        "  show ID                        one mail with every recipient\n"
        "  list [--sender A] [--recipient A] [--since T] [--until T]\n"
        "       [--status S] [--limit N]  mails, newest first\n"
        "  export ADDRESS                 every entry of the address (JSON lines)\n"
        "  erase ADDRESS [--yes]          delete every entry of the address\n"
        "  purge [--older-than D]         delete mails older than D (default: retention)\n"
        "  outbox list | release ID|--all | drop ID\n"
        "  keygen FILE                    write a new system key (mode 600)\n"
        "  check                          check the configuration of both daemons\n"
        "  backup DIR                     compacted consistent copy of the mail log\n"
        "options: -c FILE (default %s), --json, -h, -V\n", MAILSTATE_CONF_PATH);
}

void ctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("mailstatectl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

struct conf *ctl_conf(struct ctl *c)
{
    char *errors = NULL;

    if (c->conf != NULL)
        return c->conf;
    c->conf = conf_load(c->conf_path, c->conf_given ? 0 : CONF_MISSING_OK, &errors);
    if (c->conf == NULL) {
        fprintf(stderr, "%s", errors ? errors : "mailstatectl: cannot load the configuration\n");
        if (errors != NULL && errors[0] != '\0' && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
    }
    free(errors);
    return c->conf;
}

store_t *ctl_store(struct ctl *c)
{
    struct store_opts o = { 0 };
    struct stat sb;
    char err[512];
    int rc;

    if (c->store != NULL)
        return c->store;
    if (ctl_conf(c) == NULL)
        return NULL;
    errno = 0;
    if (stat(c->conf->store_path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        ctl_err("no mail log at %s ([store] path): %s", c->conf->store_path,
                errno ? strerror(errno) : "not a directory");
        return NULL;
    }
    o.path = c->conf->store_path;
    o.map_size = c->conf->store_map_size;
    o.map_size_max = c->conf->store_map_size_max;
    o.group_commit = 0;         /* tools mode: each write its own synced commit */
    rc = store_open(&o, &c->store, err, sizeof err);
    if (rc != STORE_OK) {
        ctl_err("%s", err);
        c->store = NULL;
    }
    return c->store;
}

int ctl_store_exit(int rc, const char *what)
{
    if (rc == STORE_OK)
        return CTL_EXIT_OK;
    ctl_err("%s: %s", what, store_strerror(rc));
    switch (rc) {
    case STORE_ENOTFOUND:
    case STORE_ENORCPT:   return CTL_EXIT_NOTFOUND;
    case STORE_EFULL:     return CTL_EXIT_FULL;
    case STORE_EINVAL:    return CTL_EXIT_USAGE;
    default:              return CTL_EXIT_ERROR;
    }
}

void ctl_print_jw(struct jw *w)
{
    size_t len;
    char *s = jw_finish(w, &len);

    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
    free(s);
}

int ctl_opt_json(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt != 'j')
            return CTL_EXIT_USAGE;
        c->json = 1;
    }
    return 0;
}

int ctl_parse_duration(const char *s, long long *seconds)
{
    if (s == NULL || conf_parse_duration(s, seconds) != 0 || *seconds <= 0) {
        ctl_err("\"%s\" is not a duration (e.g. 90m, 12h, 30d, 2w)", s ? s : "");
        return -1;
    }
    return 0;
}

int ctl_parse_time(const char *s, uint64_t *ms)
{
    long long secs;

    if (s != NULL && render_parse_time(s, ms) == 0)
        return 0;
    /* a duration means "that long ago" */
    if (s != NULL && conf_parse_duration(s, &secs) == 0 && secs > 0) {
        uint64_t now = (uint64_t)time(NULL) * 1000u;
        *ms = (uint64_t)secs * 1000u > now ? 1 : now - (uint64_t)secs * 1000u;
        return 0;
    }
    ctl_err("\"%s\" is neither an RFC 3339 time nor a duration ago (e.g. 2d)", s ? s : "");
    return -1;
}

int ctl_addr_key(const char *in, char *out, size_t outlen)
{
    struct addr a;
    int rc = addr_parse_str(in, &a);

    if (rc != ADDR_OK || a.is_null) {
        ctl_err("\"%s\" is not an address: %s", in,
                rc != ADDR_OK ? addr_strerror(rc) : "the null sender");
        return -1;
    }
    if (strlen(a.key) + 1 > outlen)
        return -1;
    memcpy(out, a.key, strlen(a.key) + 1);
    return 0;
}

int ctl_parse_id(const char *in, char id[MAILID_ID_LEN + 1], char **tag)
{
    char t[MAILID_TAG_LEN + 1];
    size_t n = strlen(in);

    *tag = NULL;
    if (n == MAILID_ID_LEN && mailid_id_valid(in, n)) {
        memcpy(id, in, MAILID_ID_LEN + 1);
        return 0;
    }
    if (mailid_parse(in, n, id, t) == MAILID_OK) {
        *tag = strdup(t);
        return *tag ? 0 : -1;
    }
    ctl_err("\"%s\" is not a mail id (26 base32 characters, optionally .TAG)", in);
    return -1;
}

void ctl_time(uint64_t ms, char *buf, size_t len)
{
    char t[RENDER_TIME_LEN + 1];

    if (ms == 0) {
        snprintf(buf, len, "-");
        return;
    }
    render_time(ms, t);
    snprintf(buf, len, "%s", t);
}

static const struct {
    const char *name;
    int (*fn)(struct ctl *, int, char **);
} commands[] = {
    { "status", cmd_status }, { "show", cmd_show }, { "list", cmd_list },
    { "export", cmd_export }, { "erase", cmd_erase }, { "purge", cmd_purge },
    { "outbox", cmd_outbox }, { "backup", cmd_backup }, { "keygen", cmd_keygen },
    { "check", cmd_check },
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct ctl c = { .conf_path = MAILSTATE_CONF_PATH };
    int opt, rc = -1;

    /* "+": options after the command belong to the command */
    while ((opt = getopt_long(argc, argv, "+c:jhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': c.conf_path = optarg; c.conf_given = 1; break;
        case 'j': c.json = 1; break;
        case 'h': usage(stdout); return CTL_EXIT_OK;
        case 'V': printf("mailstatectl %s\n", MAILSTATE_VERSION); return CTL_EXIT_OK;
        default:  usage(stderr); return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    /* syslog for the record of what was changed (erase, purge, drop) */
    log_open("mailstatectl", 0, LOG_LEVEL_INFO);
    if (mailid_init() != MAILID_OK) {
        ctl_err("libsodium cannot initialise");
        return CTL_EXIT_ERROR;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0) {
            /* command's own options: --json may also come after it */
            int cargc = argc - optind;
            char **cargv = argv + optind;
            optind = 0;         /* reset getopt for the command (glibc) */
            rc = commands[i].fn(&c, cargc, cargv);
            break;
        }
    if (rc < 0) {
        ctl_err("unknown command \"%s\"", argv[optind]);
        usage(stderr);
        rc = CTL_EXIT_USAGE;
    }
    if (c.store != NULL)
        c.store = store_close(c.store);
    if (c.conf != NULL)
        c.conf = conf_unref(c.conf);
    log_close();
    return rc;
}
