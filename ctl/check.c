/*
 * check - `mailstatectl check`: everything `-n` checks for both daemons
 * (conf_load with its FILE:LINE messages, the tracker's listen address,
 * the milter's socket form), and what only a look at the machine shows:
 *   - the key file can be read by the users the daemons run as;
 *   - the mail log directory can be written by them;
 *   - a unix: milter socket can be reached by the `postfix` user: every
 *     directory on the way searchable, the socket (or, while the milter is
 *     not running, the socket it will create with [milter] socket_mode)
 *     writable; and whether a milter answers on it.
 * Token secret files are checked by conf_load (regular file, mode 600,
 * length).  Each finding is one line: "ok", "problem" (exit 4) or "note".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "jw.h"

struct who {
    const char *name;
    uid_t       uid;
    gid_t       gids[64];
    int         ngids;
};

struct findings {
    struct jw w;
    int       json, problems;
};

__attribute__((format(printf, 3, 4)))
static void say(struct findings *f, const char *kind, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (strcmp(kind, "problem") == 0)
        f->problems++;
    if (f->json) {
        jw_obj_open(&f->w);
        jw_key(&f->w, "kind");
        jw_str(&f->w, kind);
        jw_key(&f->w, "text");
        jw_str(&f->w, buf);
        jw_obj_close(&f->w);
    } else {
        printf("%-8s %s\n", kind, buf);
    }
}

static int who_get(const char *name, struct who *w)
{
    struct passwd *pw = getpwnam(name);

    if (pw == NULL)
        return -1;
    w->name = name;
    w->uid = pw->pw_uid;
    w->ngids = (int)(sizeof w->gids / sizeof w->gids[0]);
    if (getgrouplist(name, pw->pw_gid, w->gids, &w->ngids) < 0) {
        w->gids[0] = pw->pw_gid;
        w->ngids = 1;
    }
    return 0;
}

/* Would w be granted want (4 r, 2 w, 1 x) on a file with sb's owner and
 * mode?  (The classic owner/group/other rule; root passes.) */
static int may(const struct stat *sb, const struct who *w, unsigned want)
{
    unsigned mode = (unsigned)sb->st_mode;

    if (w->uid == 0)
        return 1;
    if (sb->st_uid == w->uid)
        return ((mode >> 6) & want) == want;
    for (int i = 0; i < w->ngids; i++)
        if (sb->st_gid == w->gids[i])
            return ((mode >> 3) & want) == want;
    return (mode & want) == want;
}

/* Every directory above path searchable by w?  Names the first that is not. */
static int path_searchable(const char *path, const struct who *w, char *bad, size_t badlen)
{
    char dir[PATH_MAX];
    struct stat sb;

    if (strlen(path) >= sizeof dir || path[0] != '/')
        return 0;
    strcpy(dir, path);
    for (char *p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (stat(dir, &sb) == 0 && !may(&sb, w, 1)) {
            snprintf(bad, badlen, "%s", dir);
            return 0;
        }
        *p = '/';
    }
    return 1;
}

static void check_readable(struct findings *f, const char *what, const char *path,
                           const char *user)
{
    struct who w;
    struct stat sb;
    char bad[PATH_MAX];

    if (user == NULL || *user == '\0')
        return;                 /* the daemon stays the user that starts it */
    if (who_get(user, &w) != 0) {
        say(f, "problem", "user \"%s\" (a daemon's [..] user) does not exist", user);
        return;
    }
    if (stat(path, &sb) != 0)
        return;                 /* conf_load reported it */
    if (!path_searchable(path, &w, bad, sizeof bad))
        say(f, "problem", "%s %s: user %s cannot reach it (directory %s)", what, path,
            user, bad);
    else if (!may(&sb, &w, 4))
        say(f, "problem", "%s %s: user %s cannot read it (chown %s %s)", what, path, user,
            user, path);
    else
        say(f, "ok", "%s %s readable by %s", what, path, user);
}

static void check_store_dir(struct findings *f, const char *path, const char *user)
{
    struct who w;
    struct stat sb;
    char bad[PATH_MAX];

    if (stat(path, &sb) != 0) {
        say(f, "note", "mail log directory %s does not exist yet (created at the first start)",
            path);
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        say(f, "problem", "[store] path %s is not a directory", path);
        return;
    }
    if (user == NULL || *user == '\0' || who_get(user, &w) != 0)
        return;
    if (!path_searchable(path, &w, bad, sizeof bad) || !may(&sb, &w, 2 | 1))
        say(f, "problem", "mail log directory %s: user %s cannot write it", path, user);
    else
        say(f, "ok", "mail log directory %s writable by %s", path, user);
}

static int listen_ok(const char *s)
{
    char host[256];
    const char *colon;
    unsigned char buf[16];
    char *end;

    if (s == NULL)
        return 0;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return 0;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
        if (inet_pton(AF_INET6, host, buf) != 1)
            return 0;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || (size_t)(colon - s) >= sizeof host)
            return 0;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (inet_pton(AF_INET, host, buf) != 1)
            return 0;
    }
    long port = strtol(colon + 1, &end, 10);
    return colon[1] != '\0' && *end == '\0' && port >= 0 && port <= 65535;
}

static void check_socket(struct findings *f, const struct conf *cf)
{
    const char *spec = cf->milter_socket, *path;
    struct stat sb;
    struct who pf;
    char bad[PATH_MAX];

    if (strncmp(spec, "unix:", 5) == 0)
        path = spec + 5;
    else if (strncmp(spec, "local:", 6) == 0)
        path = spec + 6;
    else {
        say(f, "ok", "milter socket %s is a TCP socket (no file permissions)", spec);
        return;
    }
    if (who_get("postfix", &pf) != 0) {
        say(f, "note", "no user \"postfix\" on this host: socket permissions not checked");
        return;
    }
    if (!path_searchable(path, &pf, bad, sizeof bad)) {
        say(f, "problem", "milter socket %s: user postfix cannot search %s", path, bad);
        return;
    }
    if (stat(path, &sb) != 0) {
        /* not running: judge the socket it will create */
        struct stat dsb;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir)
            *slash = '\0';
        if (stat(dir, &dsb) != 0) {
            say(f, "problem", "milter socket %s: directory %s does not exist", path, dir);
            return;
        }
        unsigned mode = (unsigned)cf->milter_socket_mode;
        int reach = (mode & 02) != 0;
        /* the socket's group: that of [milter] user, or else (the unit's
         * User=, RuntimeDirectory=) the group of the directory it is in */
        gid_t sgid = dsb.st_gid;
        struct passwd *pw = cf->milter_user && *cf->milter_user
                            ? getpwnam(cf->milter_user) : NULL;
        if (pw != NULL)
            sgid = pw->pw_gid;
        for (int i = 0; !reach && (mode & 020) && i < pf.ngids; i++)
            reach = pf.gids[i] == sgid;
        if (reach)
            say(f, "ok", "milter socket %s (not there yet: the milter is not running) "
                "will be writable by postfix (socket_mode %04o)", path, mode);
        else
            say(f, "problem", "milter socket %s will not be writable by postfix "
                "(socket_mode %04o, user %s): add postfix to the milter's group", path, mode,
                cf->milter_user ? cf->milter_user : "");
        return;
    }
    if (!S_ISSOCK(sb.st_mode)) {
        say(f, "problem", "milter socket %s exists but is not a socket", path);
        return;
    }
    if (!may(&sb, &pf, 2)) {
        say(f, "problem", "milter socket %s: user postfix cannot write it (mode %04o)", path,
            (unsigned)sb.st_mode & 07777);
        return;
    }
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int up = fd >= 0 && strlen(path) < sizeof sun.sun_path &&
             (strcpy(sun.sun_path, path), connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
    if (fd >= 0)
        close(fd);
    if (up)
        say(f, "ok", "milter socket %s reachable by postfix, a milter answers", path);
    else
        say(f, "note", "milter socket %s writable by postfix, but nothing answers (stale?)",
            path);
}

int cmd_check(struct ctl *c, int argc, char **argv)
{
    struct findings f = { .json = 0 };
    struct conf *cf;

    if (ctl_opt_json(c, argc, argv) != 0)
        return CTL_EXIT_USAGE;
    if (optind != argc) {
        ctl_err("check takes no arguments");
        return CTL_EXIT_USAGE;
    }
    if ((cf = ctl_conf(c)) == NULL)
        return CTL_EXIT_CHECK;   /* the FILE:LINE messages are on stderr */
    f.json = c->json;
    if (f.json) {
        jw_init(&f.w, 1024);
        jw_obj_open(&f.w);
        jw_key(&f.w, "config");
        jw_str(&f.w, cf->path);
        jw_key(&f.w, "findings");
        jw_arr_open(&f.w);
    }
    say(&f, "ok", "%s: configuration ok (milter and tracker)", cf->path);
    if (!listen_ok(cf->tracker_listen))
        say(&f, "problem", "%s:0: [tracker] listen \"%s\" is not HOST:PORT or [IPV6]:PORT",
            cf->path, cf->tracker_listen ? cf->tracker_listen : "");
    check_readable(&f, "key file", cf->key_file, cf->milter_user);
    if (!cf->milter_user || !cf->tracker_user || strcmp(cf->milter_user, cf->tracker_user))
        check_readable(&f, "key file", cf->key_file, cf->tracker_user);
    check_store_dir(&f, cf->store_path, cf->milter_user);
    if (!cf->milter_user || !cf->tracker_user || strcmp(cf->milter_user, cf->tracker_user))
        check_store_dir(&f, cf->store_path, cf->tracker_user);
    check_socket(&f, cf);
    if (f.json) {
        size_t len;
        jw_arr_close(&f.w);
        jw_key(&f.w, "problems");
        jw_int(&f.w, f.problems);
        jw_obj_close(&f.w);
        char *s = jw_finish(&f.w, &len);
        printf("%s\n", s);
        free(s);
    } else {
        printf("%d problem%s\n", f.problems, f.problems == 1 ? "" : "s");
    }
    return f.problems ? CTL_EXIT_CHECK : CTL_EXIT_OK;
}
