/*
 * mailstate-tracker - read notifications and status queries over HTTP
 * (design §1 steps 3 and 5, §6).
 *
 *   mailstate-tracker [-c FILE] [-f] [-n]
 *
 * -c FILE  config (default MAILSTATE_CONF_PATH; a missing default file means
 *          all defaults), -f stay in the foreground and log to stderr,
 *          -n check the config and exit (0 = fine, 1 = errors on stderr).
 *
 * Startup order: config, daemonize, PID file, drop privileges, store, HTTP.
 * The main thread then only waits for signals: SIGTERM/SIGINT stop accepting
 * connections, let the requests in flight finish (their writes included),
 * and exit 0.  SIGHUP reloads the config for requests that start afterwards
 * (tokens, opt-outs, tracking switch, key - for reads, syncs received and
 * syncs sent) and makes the [webhook] sections the running set (added ones
 * start, removed ones stop, changed ones restart; positions are kept by
 * name: webhook.h); a config with errors is logged
 * and the running one kept.  Listen address, store, threads, limits, user
 * and peers need a restart (logged when they differ).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "conf.h"
#include "feed.h"
#include "http.h"
#include "log.h"
#include "me.h"
#include "pidfile.h"
#include "mailid.h"
#include "paths.h"
#include "peer.h"
#include "metrics.h"
#include "reclog.h"
#include "retention.h"
#include "store.h"
#include "webhook.h"
#include "xmem.h"

#define MAIN_DRAIN_MS      10000  /* how long SIGTERM waits for requests in flight */
#define MAIN_PURGE_EVERY_S 60
#define MAIN_PURGE_BATCH   200

/*
 * The event log could not be written or synced: stop at once.  Retrying a
 * failed fdatasync could acknowledge data the kernel has dropped; the next
 * start replays what is on disk (systemd restarts the unit).
 */
static void main_evlog_fatal(void *arg, const char *what)
{
    (void)arg;
    log_error("event log: %s: exiting for a clean replay at the next start", what);
    _exit(75);                  /* EX_TEMPFAIL */
}

/* An event is in the mail log now: wake the forwarder if it queued one. */
static void main_evlog_applied(void *arg, const struct store_event_in *ev, int rc, int matched)
{
    (void)arg;
    (void)matched;
    if (rc == STORE_OK && ev->forward_to != NULL)
        peer_kick(ev->forward_to);
    else if (rc != STORE_OK)
        log_info("mail %s: %s event for %s not applied: %s (gone since it was acknowledged)",
                 ev->id, ev->event == STORE_EV_READ ? "read" : ev->event == STORE_EV_RECEIVED
                 ? "received" : "deleted_unread", ev->rcpt, store_strerror(rc));
}

static void main_usage(FILE *fp)
{
    fprintf(fp, "usage: mailstate-tracker [-c FILE] [-f] [-n]\n"
                "  -c FILE  configuration file (default %s)\n"
                "  -f       stay in the foreground, log to stderr\n"
                "  -n       check the configuration and exit\n"
                "  -V       print the version and exit\n", MAILSTATE_CONF_PATH);
}

static int main_drop_privileges(const char *user)
{
    struct passwd *pw;

    if (user == NULL || *user == '\0' || geteuid() != 0)
        return 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        log_error("no such user \"%s\" ([tracker] user)", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_error_errno("cannot become user %s", user);
        return -1;
    }
    return 0;
}

static struct conf *main_load_conf(const char *path, int given)
{
    char *errors = NULL;
    struct conf *c = conf_load(path, given ? 0 : CONF_MISSING_OK, &errors);

    if (c == NULL) {
        fprintf(stderr, "%s", errors ? errors : "cannot load the configuration\n");
        if (errors != NULL && errors[0] != '\0' && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
        return NULL;
    }
    free(errors);
    return c;
}

/* Checks that only the tracker cares about; prints them like conf does. */
static int main_check_tracker(const struct conf *c)
{
    struct sockaddr_storage ss;
    size_t sslen;

    if (http_parse_listen(c->tracker_listen, &ss, &sslen) != 0) {
        fprintf(stderr, "%s:0: [tracker] listen \"%s\" is not HOST:PORT or [IPV6]:PORT\n",
                c->path, c->tracker_listen ? c->tracker_listen : "");
        return -1;
    }
    return 0;
}

static int main_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/*
 * SIGHUP: load the file again and hand it to the HTTP server.  Runs on the
 * main thread; errors go to the log (stderr may be /dev/null by now).
 */
static void main_reload(const char *path, int given, const struct conf *running,
                        http_t *http)
{
    char *errors = NULL;
    struct sockaddr_storage ss;
    size_t sslen;
    struct conf *c = conf_load(path, given ? 0 : CONF_MISSING_OK, &errors);

    if (c == NULL) {
        char *line, *save = NULL;
        for (line = strtok_r(errors, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            log_error("reload: %s", line);
        log_error("reload: %s has errors; keeping the running config", path);
        free(errors);
        return;
    }
    free(errors);
    if (http_parse_listen(c->tracker_listen, &ss, &sslen) != 0) {
        log_error("reload: [tracker] listen \"%s\" is not HOST:PORT; keeping the running config",
                  c->tracker_listen ? c->tracker_listen : "");
        conf_unref(c);
        return;
    }
    if (main_differs(c->tracker_listen, running->tracker_listen) ||
        main_differs(c->store_path, running->store_path) ||
        main_differs(c->this_server, running->this_server) ||
        c->tracker_threads != running->tracker_threads ||
        c->tracker_max_body != running->tracker_max_body ||
        c->tracker_max_header != running->tracker_max_header ||
        c->tracker_max_url != running->tracker_max_url ||
        c->tracker_max_connections != running->tracker_max_connections ||
        c->tracker_max_connections_per_ip != running->tracker_max_connections_per_ip ||
        c->tracker_max_scan != running->tracker_max_scan ||
        c->tracker_idle_timeout != running->tracker_idle_timeout ||
        c->retention != running->retention ||
        c->tracker_forward_batch != running->tracker_forward_batch ||
        c->tracker_forward_backoff_max != running->tracker_forward_backoff_max ||
        c->tracker_forward_timeout != running->tracker_forward_timeout ||
        c->tracker_forward_poll != running->tracker_forward_poll ||
        c->tracker_forward_max_queue != running->tracker_forward_max_queue ||
        msys_server_count(c->msys) != msys_server_count(running->msys))
        log_warn("reload: listen, store, this_server, threads, limits, retention, "
                 "forward_* and server list changes take effect at the next restart");
    /* issue 17: the feed's pool and retention; webhooks follow the file */
    if (c->events_max_waiters != running->events_max_waiters ||
        c->events_keep != running->events_keep)
        log_warn("reload: [events] keep and max_waiters take effect at the next restart");
    webhooks_reload(c);
    log_set_level((enum log_level)c->log_level);
    reclog_set_rate((unsigned)c->log_rate);
    peer_set_conf(c);           /* sync receiver and forwarder: own references */
    http_set_conf(http, c);
    log_info("reload: %s loaded", path);
}

int main(int argc, char **argv)
{
    const char *conf_path = MAILSTATE_CONF_PATH;
    int given = 0, foreground = 0, check = 0, opt, sig, status = 0;
    struct conf *conf;
    store_t *st = NULL;
    evapply_t *ev = NULL;
    int rc;
    http_t *http = NULL;
    retention_t *ret = NULL;
    struct api_ctx ctx;
    sigset_t sigs;
    char err[512];

    while ((opt = getopt(argc, argv, "c:fnhV")) != -1) {
        switch (opt) {
        case 'c': conf_path = optarg; given = 1; break;
        case 'f': foreground = 1; break;
        case 'n': check = 1; break;
        case 'V': printf("mailstate-tracker %s\n", MAILSTATE_VERSION); return 0;
        case 'h': main_usage(stdout); return 0;
        default:  main_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
        return 2;
    }

    log_open("mailstate-tracker", 1, LOG_LEVEL_INFO);
    if (mailid_init() != MAILID_OK)
        log_fatal("libsodium cannot initialise");
    conf = main_load_conf(conf_path, given);
    if (conf == NULL || main_check_tracker(conf) != 0) {
        conf_unref(conf);
        return 1;
    }
    if (check) {
        printf("%s: OK\n", conf->path);
        conf_unref(conf);
        return 0;
    }
    log_close();
    log_open("mailstate-tracker", foreground, (enum log_level)conf->log_level);
    reclog_set_rate((unsigned)conf->log_rate);

    if (!foreground && daemon(0, 0) != 0)
        log_fatal("cannot become a daemon: %s", strerror(errno));

    /* Threads inherit this mask: signals are taken by sigwait() below only. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pidfile_write(conf->tracker_pid_file) != 0 ||
        main_drop_privileges(conf->tracker_user) != 0) {
        status = 1;
        goto out;
    }

    struct store_opts so = {
        .path = conf->store_path,
        .map_size = conf->store_map_size,
        .map_size_max = conf->store_map_size_max,
        .group_commit = 1,
        .outbox_max = (size_t)conf->tracker_forward_max_queue,
        .list_max_scan = (size_t)conf->tracker_max_scan,
    };
    if (store_open(&so, &st, err, sizeof err) != STORE_OK) {
        log_error("cannot open the mail log in %s: %s", conf->store_path, err);
        status = 1;
        goto out;
    }

    /* The event log in front of the mail log (issue 17): replays what the
     * mail log lacks before anything is served. */
    char *evdir = conf->tracker_event_log && conf->tracker_event_log[0]
                  ? xstrdup(conf->tracker_event_log) : xasprintf("%s/evlog", conf->store_path);
    struct evapply_opts eo = {
        .store = st, .dir = evdir, .seg_size = conf->tracker_event_log_segment,
        .lag_max = (uint64_t)conf->tracker_event_log_lag_max,
        .on_fatal = main_evlog_fatal, .on_applied = main_evlog_applied,
    };
    rc = evapply_open(&eo, &ev, err, sizeof err);
    if (rc != STORE_OK) {
        log_error("cannot open the event log in %s: %s", evdir, err);
        free(evdir);
        status = 1;
        goto out;
    }
    free(evdir);
    metrics_set_evapply(ev);

    ctx.conf = conf;
    ctx.store = st;
    ctx.ev = ev;
    /* Peer sync (design §7): POST /v1/sync and the outbox forwarder. */
    peer_start(conf, st);
    me_register();              /* users' own view, the web page (issue 12) */
    feed_start();               /* GET /v1/events (issue 17) */
    webhooks_start(conf, st);   /* and its webhooks */
    struct http_opts ho = {
        .listen = conf->tracker_listen,
        .threads = conf->tracker_threads > 0 ? (unsigned)conf->tracker_threads : 0,
        .max_body = conf->tracker_max_body,
        .max_header = conf->tracker_max_header,
        .max_url = conf->tracker_max_url,
        .max_connections = conf->tracker_max_connections > 0
                           ? (unsigned)conf->tracker_max_connections : 1024,
        .max_connections_per_ip = (unsigned)conf->tracker_max_connections_per_ip,
        .idle_timeout = conf->tracker_idle_timeout > 0
                        ? (unsigned)conf->tracker_idle_timeout : 30,
        .events_waiters = (unsigned)conf->events_max_waiters,
    };
    if (http_start(&ho, &ctx, &http, err, sizeof err) != 0) {
        log_error("%s", err);
        status = 1;
        goto out;
    }
    ret = retention_start(st, conf->retention, conf->events_keep, MAIN_PURGE_EVERY_S,
                          MAIN_PURGE_BATCH);
    log_info("listening on %s (port %u), server %s, mail log %s", conf->tracker_listen,
             http_port(http), msys_this_server(conf->msys), conf->store_path);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            main_reload(conf_path, given, conf, http);
            continue;
        }
        break;
    }
    log_info("signal %d: finishing requests in flight", sig);
    http_quiesce(http);
    feed_stop();                /* long polls answer now */
    unsigned left = http_drain(http, MAIN_DRAIN_MS);
    if (left > 0)
        log_warn("%u requests still in flight after %d ms; closing them", left,
                 MAIN_DRAIN_MS);

out:
    feed_stop();
    ret = retention_stop(ret);
    http = http_stop(http);
    metrics_set_evapply(NULL);
    evapply_close(ev);          /* applies what was acknowledged */
    ev = NULL;
    webhooks_stop();            /* after http: /metrics reads them */
    peer_stop();
    st = store_close(st);
    if (conf->tracker_pid_file != NULL && conf->tracker_pid_file[0] != '\0')
        unlink(conf->tracker_pid_file);
    log_info("stopped");
    conf = conf_unref(conf);
    log_close();
    return status;
}
