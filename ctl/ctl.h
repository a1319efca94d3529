#ifndef MAILSTATE_CTL_H
#define MAILSTATE_CTL_H
/*
 * ctl - mailstatectl, the administrator's tool (issue 16): the commands,
 * their shared context and the exit codes (documented in mailstatectl(8)).
 *
 * Each command is a function taking the context and its own arguments
 * (argv after the command name) and returning an exit code.  Commands
 * that need the mail log call ctl_store(), which opens it once, in tools
 * mode (no group commit: every write is its own synced commit, safe beside
 * the running daemons, since LMDB serialises the writers of all processes).
 * Output: a table or plain lines for people on stdout, JSON (one object,
 * or JSON lines for lists) with --json; errors on stderr as
 * "mailstatectl: ...".
 */
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "conf.h"
#include "store.h"

enum ctl_exit {
    CTL_EXIT_OK       = 0,   /* done */
    CTL_EXIT_ERROR    = 1,   /* the operation failed (store, I/O, config) */
    CTL_EXIT_USAGE    = 2,   /* bad command line: unknown command or option,
                                malformed id, address, time, number */
    CTL_EXIT_NOTFOUND = 3,   /* no such mail, no entry of the address, no item */
    CTL_EXIT_CHECK    = 4,   /* check found problems */
    CTL_EXIT_FULL     = 5,   /* the mail log is full (map_size_max, disk) */
    CTL_EXIT_REFUSED  = 6,   /* refused: not confirmed, file exists */
};

#define CTL_ADDR_BUF (ADDR_KEY_MAX + 1)

struct ctl {
    const char  *conf_path;
    int          conf_given;  /* -c given: a missing file is an error */
    int          json;
    struct conf *conf;        /* loaded by ctl_conf() */
    store_t     *store;       /* opened by ctl_store() */
};

/* Load the config (once); prints its errors.  NULL on failure. */
struct conf *ctl_conf(struct ctl *c);
/* Open the mail log (once); prints why not.  NULL on failure.  Refuses a
 * store directory that does not exist (a typo must not create a new, empty
 * mail log). */
store_t *ctl_store(struct ctl *c);

/* Store result -> exit code (printing store_strerror with what). */
int ctl_store_exit(int rc, const char *what);

void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses "1h", "30d", ... (conf durations) or an RFC 3339 time. */
int ctl_parse_duration(const char *s, long long *seconds);
int ctl_parse_time(const char *s, uint64_t *ms);
/* An address in the store's normal form (addr_key), or -1 with a message. */
int ctl_addr_key(const char *in, char *out, size_t outlen);
/* "ID" or "ID.TAG" (tag checked against any sender with the key is not
 * possible without the sender: it is checked once the mail is loaded). */
int ctl_parse_id(const char *in, char id[MAILID_ID_LEN + 1], char **tag);
void ctl_time(uint64_t ms, char *buf, size_t len);   /* "-" for 0 */

struct jw;
/* Finish w (jw.h) and print it as one line on stdout; w is spent. */
void ctl_print_jw(struct jw *w);
/* Options of a command whose only option is --json (sets c->json):
 * 0, or CTL_EXIT_USAGE for any other; the operands start at optind. */
int ctl_opt_json(struct ctl *c, int argc, char **argv);

int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_show(struct ctl *c, int argc, char **argv);
int cmd_list(struct ctl *c, int argc, char **argv);
int cmd_export(struct ctl *c, int argc, char **argv);
int cmd_erase(struct ctl *c, int argc, char **argv);
int cmd_purge(struct ctl *c, int argc, char **argv);
int cmd_outbox(struct ctl *c, int argc, char **argv);
int cmd_backup(struct ctl *c, int argc, char **argv);
int cmd_keygen(struct ctl *c, int argc, char **argv);
int cmd_check(struct ctl *c, int argc, char **argv);

#endif
