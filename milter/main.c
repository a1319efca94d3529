/*
 * mailstate-milter - tags and records internal mail (design §1 steps 1-2).
 *
 *   mailstate-milter [-c FILE] [-f] [-n]
 *
 * Startup: load the config (errors name file and line), open the socket
 * from [milter] socket ("unix:/path" or "inet:PORT@HOST"), removing a stale socket file, chmod it to
 * socket_mode, write the PID file, drop privileges to [milter] user, open
 * the mail log (group commit), then serve.
 *
 * Threads and signals: libmilter's own signal thread treats SIGHUP as "stop",
 * so smfi_main() runs in a thread of its own and the main thread keeps
 * SIGHUP, SIGTERM and SIGINT unblocked with handlers; Linux delivers a
 * process-directed signal to the main thread when that thread does not block
 * it, so libmilter never sees them.  Every other thread is created with the
 * three signals blocked, and smfi_main() (which starts libmilter's sigwait
 * thread) only runs once the main thread has unblocked them, so a signal
 * sent during startup cannot land in libmilter either.  SIGHUP reloads (a bad config keeps the running
 * one); SIGTERM/SIGINT call smfi_stop() and wait for connections to finish.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "conf.h"
#include "log.h"
#include "pidfile.h"
#include "mailid.h"
#include "paths.h"
#include "xmem.h"

/* How long SIGTERM waits for end-of-data callbacks in progress. */
#define STOP_WAIT_MS 10000

static volatile sig_atomic_t got_hup, got_term;
static int sig_pipe[2] = { -1, -1 };
static sem_t listener_go;

static void on_signal(int sig)
{
    int saved = errno;
    char b = (char)sig;

    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_term = 1;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* pipe full: a wake-up is already pending */
    }
    errno = saved;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: mailstate-milter [-c FILE] [-f] [-n]\n"
                "  -c FILE  configuration (default %s)\n"
                "  -f       stay in the foreground, log to stderr\n"
                "  -n       check the configuration and exit\n", MAILSTATE_CONF_PATH);
}

static struct conf *load_conf(const char *path, unsigned flags, int quiet)
{
    char *errors = NULL;
    struct conf *c = conf_load(path, flags, &errors);

    if (c == NULL && !quiet) {
        fprintf(stderr, "%s", errors ? errors : "configuration failed to load\n");
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
    } else if (c == NULL) {
        /* one log line per problem, so none is cut */
        char *save = NULL;
        for (char *l = strtok_r(errors ? errors : (char *)(uintptr_t)"unknown error", "\n", &save);
             l; l = strtok_r(NULL, "\n", &save))
            log_error("reload: %s", l);
    }
    free(errors);
    return c;
}

static const char *unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    if (spec[0] == '/')
        return spec;
    return NULL;
}

static int drop_privileges(const char *user, const char *sock_path)
{
    struct passwd *pw;

    if (user == NULL || user[0] == '\0')
        return 0;
    if ((pw = getpwnam(user)) == NULL) {
        log_error("[milter] user %s: no such user", user);
        return -1;
    }
    if (sock_path && chown(sock_path, pw->pw_uid, pw->pw_gid) != 0)
        log_warn_errno("chown %s", sock_path);
    if (getuid() == pw->pw_uid)
        return 0;
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_error_errno("cannot become user %s", user);
        return -1;
    }
    return 0;
}

/*
 * libmilter's accept loop holds its listener mutex across a 5-second
 * select(), and smfi_stop() waits for that mutex; a connection to our own
 * socket ends the select at once.  Failure is harmless: the timeout still
 * ends the loop.
 */
static void wake_listener(const char *spec)
{
    const char *path = unix_path(spec);
    int fd;

    if (path != NULL) {
        struct sockaddr_un sun;
        if (strlen(path) >= sizeof(sun.sun_path))
            return;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, path, strlen(path) + 1);
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0) {
            (void)connect(fd, (struct sockaddr *)&sun, sizeof(sun));
            close(fd);
        }
    } else if (strncmp(spec, "inet:", 5) == 0) {
        const char *at = strchr(spec, '@');
        struct addrinfo hints, *res = NULL;
        char port[16];
        if (at == NULL || (size_t)(at - spec - 5) >= sizeof(port))
            return;
        snprintf(port, sizeof(port), "%.*s", (int)(at - spec - 5), spec + 5);
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(at + 1, port, &hints, &res) != 0)
            return;
        if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) >= 0) {
            (void)connect(fd, res->ai_addr, res->ai_addrlen);
            close(fd);
        }
        freeaddrinfo(res);
    }
}

/* 1 if something accepts connections on the unix socket path (a live milter). */
static int unix_socket_live(const char *path)
{
    struct sockaddr_un sun;
    int fd, live;

    if (path == NULL || strlen(path) >= sizeof(sun.sun_path))
        return 0;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
        return 0;
    live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    return live;
}

static void *stopper(void *arg)
{
    (void)arg;
    smfi_stop();
    return NULL;
}

static void *listener(void *arg)
{
    int *rc = arg;

    /*
     * smfi_main() starts libmilter's sigwait thread; wait until the main
     * thread has unblocked the signals, so a signal that arrived during
     * startup goes to the main thread's handlers, not to libmilter.
     */
    while (sem_wait(&listener_go) != 0 && errno == EINTR)
        ;
    *rc = smfi_main();
    /* tell the main thread, in case libmilter stopped on its own */
    got_term = 1;
    if (write(sig_pipe[1], "x", 1) < 0) {
        /* nothing to do */
    }
    return NULL;
}

static void reload(const char *path, unsigned flags)
{
    struct conf *nc = load_conf(path, flags, 1), *old;

    if (nc == NULL) {
        log_error("reload of %s failed; keeping the running configuration", path);
        return;
    }
    old = callbacks_get_conf();
    if (old && strcmp(old->milter_socket, nc->milter_socket) != 0)
        log_warn("reload: [milter] socket changed to %s; takes effect after a restart",
                 nc->milter_socket);
    if (old && strcmp(old->store_path, nc->store_path) != 0)
        log_warn("reload: [store] path changed to %s; takes effect after a restart",
                 nc->store_path);
    if (old)
        conf_unref(old);
    log_set_level((enum log_level)nc->log_level);
    callbacks_set_conf(nc);
    conf_unref(nc);
    log_info("reloaded %s", path);
}

int main(int argc, char **argv)
{
    const char *path = MAILSTATE_CONF_PATH;
    static char abs_path[PATH_MAX];
    unsigned flags = CONF_MISSING_OK;
    int foreground = 0, check = 0, opt, mrc = MI_FAILURE;
    struct conf *conf;
    char *spec;
    const char *sock_path;
    pthread_t lt, st;
    sigset_t sigs;
    struct sigaction sa;

    while ((opt = getopt(argc, argv, "c:fnhV")) != -1) {
        switch (opt) {
        case 'c': path = optarg; flags = 0; break;
        case 'f': foreground = 1; break;
        case 'n': check = 1; break;
        case 'V': printf("mailstate-milter %s\n", MAILSTATE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (mailid_init() != MAILID_OK) {
        fprintf(stderr, "mailstate-milter: libsodium failed to initialise\n");
        return 1;
    }
    if ((conf = load_conf(path, flags, 0)) == NULL)
        return 1;
    /* daemon() changes to /: keep an absolute path for SIGHUP reloads */
    if (realpath(path, abs_path) != NULL)
        path = abs_path;
    if (check) {
        printf("%s: configuration ok\n", conf->path);
        conf_unref(conf);
        return 0;
    }
    if (!foreground && daemon(0, 0) != 0) {
        perror("mailstate-milter: daemon");
        return 1;
    }
    log_open("mailstate-milter", foreground, (enum log_level)conf->log_level);
    callbacks_set_conf(conf);

    spec = xstrdup(conf->milter_socket);   /* conf checked its form */
    sock_path = unix_path(spec);
    if (smfi_register(callbacks_desc) != MI_SUCCESS)
        log_fatal("smfi_register failed");
    if (smfi_setconn(spec) != MI_SUCCESS)
        log_fatal("[milter] socket %s: not a socket libmilter accepts", conf->milter_socket);
    if (conf->milter_timeout > 0)
        smfi_settimeout(conf->milter_timeout);
    /* 1 = remove a stale socket file left by a crash - but not a live one */
    if (unix_socket_live(sock_path))
        log_fatal("%s: another milter is listening there", sock_path);
    if (smfi_opensocket(1) != MI_SUCCESS)
        log_fatal("cannot open milter socket %s", conf->milter_socket);
    if (sock_path && chmod(sock_path, (mode_t)conf->milter_socket_mode) != 0)
        log_error_errno("chmod %s", sock_path);
    if (pidfile_write(conf->milter_pid_file) != 0 ||
        drop_privileges(conf->milter_user, sock_path) != 0)
        log_fatal("startup failed");

    if (pipe(sig_pipe) != 0)
        log_fatal("pipe: %s", strerror(errno));
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Threads created now (store committer, libmilter) inherit the block. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    (void)callbacks_open_store();
    sem_init(&listener_go, 0, 0);
    if (pthread_create(&lt, NULL, listener, &mrc) != 0)
        log_fatal("cannot start the listener thread");
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    sem_post(&listener_go);
    log_info("listening on %s (config %s)", conf->milter_socket, conf->path);

    while (!got_term) {
        char b[16];
        ssize_t n = read(sig_pipe[0], b, sizeof(b));
        if (n < 0 && errno != EINTR)
            break;
        if (got_hup) {
            got_hup = 0;
            reload(path, flags);
        }
    }
    log_info("stopping");
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (pthread_create(&st, NULL, stopper, NULL) == 0) {
        while (pthread_tryjoin_np(lt, NULL) == EBUSY) {
            wake_listener(spec);
            usleep(50 * 1000);
        }
        pthread_join(st, NULL);
    } else {
        smfi_stop();
        pthread_join(lt, NULL);
    }
    /*
     * Let end-of-data callbacks in progress finish (bounded).  Connections
     * idle between commands are not waited for: once stopped, Debian's
     * libmilter (worker pool) no longer reads them, and the MTA treats the
     * closed connection per milter_default_action.
     */
    for (int i = 0; i < STOP_WAIT_MS / 50 && callbacks_busy() > 0; i++)
        usleep(50 * 1000);
    if (callbacks_busy() > 0)
        log_warn("%d end-of-data callback(s) still running at exit", callbacks_busy());
    callbacks_close_store();
    if (sock_path)
        (void)unlink(sock_path);
    if (conf->milter_pid_file && conf->milter_pid_file[0])
        (void)unlink(conf->milter_pid_file);
    callbacks_set_conf(NULL);
    conf_unref(conf);
    spec = xfree(spec);
    log_info("stopped");
    return mrc == MI_SUCCESS ? 0 : 1;
}
