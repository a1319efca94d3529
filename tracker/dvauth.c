/*
 * dvauth - Dovecot auth-client protocol (see dvauth.h).
 */
#include "dvauth.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

#define DV_PASS_MAX 1024
#define DV_LINE_MAX 8192

/* ---- pure part ---- */

/* Next tab-separated field of [*p, end); NULL at the end. */
static const char *field_next(const char **p, const char *end, size_t *n)
{
    if (*p == NULL || *p > end)
        return NULL;
    const char *f = *p, *tab = memchr(f, '\t', (size_t)(end - f));
    *n = (size_t)((tab ? tab : end) - f);
    *p = tab ? tab + 1 : NULL;
    return f;
}

static int field_is(const char *f, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(f, word, n) == 0;
}

static int parse_ulong(const char *f, size_t n, unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (f[i] < '0' || f[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(f[i] - '0');
    }
    *out = v;
    return 0;
}

/* Dovecot's str_tabunescape: \1 -> 0x01, \t, \r, \n, \\ ; 0 or -1. */
static int tab_unescape(const char *f, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = f[i];
        if (c == '\001' || c == '\0')
            return -1;
        if (c == '\\') {
            if (++i == n)
                return -1;
            switch (f[i]) {
            case '1': c = '\001'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'n': c = '\n'; break;
            default:  c = f[i]; break;
            }
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int dvauth_parse(const char *line, size_t len, struct dvauth_reply *out)
{
    const char *end = line + len, *p = line, *f;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (line == NULL || memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
        return out->type = DVL_BAD;
    f = field_next(&p, end, &n);
    if (f == NULL || n == 0)
        return out->type = DVL_BAD;
    if (field_is(f, n, "VERSION")) {
        unsigned long major;
        f = field_next(&p, end, &n);
        if (f == NULL || parse_ulong(f, n, &major) < 0)
            return out->type = DVL_BAD;
        out->major = (unsigned)major;
        return out->type = DVL_VERSION;
    }
    if (field_is(f, n, "DONE"))
        return out->type = DVL_DONE;
    int type = field_is(f, n, "OK") ? DVL_OK : field_is(f, n, "FAIL") ? DVL_FAIL
             : field_is(f, n, "CONT") ? DVL_CONT : DVL_OTHER;
    if (type == DVL_OTHER)
        return out->type = DVL_OTHER;
    f = field_next(&p, end, &n);
    if (f == NULL || parse_ulong(f, n, &out->id) < 0)
        return out->type = DVL_BAD;
    while (type != DVL_CONT && (f = field_next(&p, end, &n)) != NULL) {
        if (n > 5 && memcmp(f, "user=", 5) == 0) {
            if (tab_unescape(f + 5, n - 5, out->user, sizeof(out->user)) < 0)
                return out->type = DVL_BAD;
        } else if (field_is(f, n, "nologin")) {
            out->nologin = 1;
        } else if (field_is(f, n, "temp")) {
            out->temp = 1;
        }
    }
    return out->type = type;
}

size_t dvauth_build_auth(char *buf, size_t buflen, unsigned long id, const char *service,
                         const char *rip, int secured, const char *user,
                         const char *password)
{
    unsigned char plain[1 + DVAUTH_USER_MAX + 1 + DV_PASS_MAX];
    char b64[sizeof(plain) * 4 / 3 + 8];
    size_t ul = user ? strlen(user) : 0, pl = password ? strlen(password) : 0;
    int n;

    if (ul == 0 || ul > DVAUTH_USER_MAX || pl == 0 || pl > DV_PASS_MAX)
        return 0;
    /* rip and service go into a tab-separated line unescaped: only plain
     * characters are allowed (rip is an IP address we formatted). */
    if ((rip && strspn(rip, "0123456789abcdefABCDEF.:") != strlen(rip)) ||
        strspn(service, "abcdefghijklmnopqrstuvwxyz-") != strlen(service))
        return 0;
    /* PLAIN (RFC 4616): authzid NUL authcid NUL passwd, authzid empty. */
    plain[0] = '\0';
    memcpy(plain + 1, user, ul);
    plain[1 + ul] = '\0';
    memcpy(plain + 2 + ul, password, pl);
    sodium_bin2base64(b64, sizeof(b64), plain, 2 + ul + pl, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(plain, sizeof(plain));
    n = snprintf(buf, buflen, "AUTH\t%lu\tPLAIN\tservice=%s%s%s%s\tresp=%s\n", id, service,
                 rip ? "\trip=" : "", rip ? rip : "", secured ? "\tsecured" : "", b64);
    sodium_memzero(b64, sizeof(b64));
    if (n < 0 || (size_t)n >= buflen) {
        sodium_memzero(buf, buflen);
        return 0;
    }
    return (size_t)n;
}

/* ---- socket part ---- */

struct dvconn {
    int      fd;
    unsigned timeout_ms;
    char     buf[DV_LINE_MAX];
    size_t   len;
};

static int dv_wait(struct dvconn *c, short ev)
{
    struct pollfd p = { c->fd, ev, 0 };
    int rc;
    do
        rc = poll(&p, 1, (int)c->timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc > 0 ? 0 : -1;
}

static int dv_write(struct dvconn *c, const char *s, size_t n)
{
    while (n > 0) {
        if (dv_wait(c, POLLOUT) < 0)
            return -1;
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line without its newline into *line (points into c->buf); its
 * length, or -1 (timeout, EOF, overlong). */
static long dv_read_line(struct dvconn *c, const char **line, size_t *consumed)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            *line = c->buf;
            *consumed = (size_t)(nl - c->buf) + 1;
            return nl - c->buf;
        }
        if (c->len == sizeof(c->buf) || dv_wait(c, POLLIN) < 0)
            return -1;
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

static void dv_consume(struct dvconn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int dv_connect(struct dvconn *c, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return -1;
    int err = 0;
    socklen_t el = sizeof(err);
    if (dv_wait(c, POLLOUT) < 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
        err != 0)
        return -1;
    return 0;
}

int dvauth_check(const char *socket_path, unsigned timeout_ms, const char *user,
                 const char *password, const char *rip, int secured,
                 char user_out[DVAUTH_USER_MAX + 1])
{
    static _Atomic unsigned long next_id = 1;
    struct dvconn c = { .fd = -1, .timeout_ms = timeout_ms ? timeout_ms : 5000 };
    struct dvauth_reply rep;
    char hello[64], req[2 * DV_PASS_MAX + 2 * DVAUTH_USER_MAX + 256];
    const char *line;
    size_t used, n;
    long len;
    int result = DVAUTH_EUNAVAIL, saw_version = 0;
    unsigned long id = next_id++;

    user_out[0] = '\0';
    n = dvauth_build_auth(req, sizeof(req), id, "mailstate", rip, secured, user, password);
    if (n == 0)
        return DVAUTH_FAIL;             /* nothing Dovecot could accept */
    if (socket_path == NULL || socket_path[0] == '\0' || dv_connect(&c, socket_path) < 0) {
        log_warn("auth: cannot connect to Dovecot's auth socket %s: %s",
                 socket_path ? socket_path : "", strerror(errno));
        goto out;
    }
    int hl = snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
    if (dv_write(&c, hello, (size_t)hl) < 0)
        goto proto;
    /* The handshake ends with DONE; only major version 1 is spoken. */
    for (;;) {
        if ((len = dv_read_line(&c, &line, &used)) < 0)
            goto proto;
        dvauth_parse(line, (size_t)len, &rep);
        dv_consume(&c, used);
        if (rep.type == DVL_VERSION) {
            if (rep.major != 1) {
                log_warn("auth: Dovecot speaks auth protocol %u, not 1", rep.major);
                goto out;
            }
            saw_version = 1;
        } else if (rep.type == DVL_DONE) {
            break;
        } else if (rep.type == DVL_BAD) {
            goto proto;
        }
    }
    if (!saw_version || dv_write(&c, req, n) < 0)
        goto proto;
    for (;;) {
        if ((len = dv_read_line(&c, &line, &used)) < 0)
            goto proto;
        dvauth_parse(line, (size_t)len, &rep);
        dv_consume(&c, used);
        if ((rep.type == DVL_OK || rep.type == DVL_FAIL || rep.type == DVL_CONT) &&
            rep.id != id)
            continue;
        if (rep.type == DVL_OK && !rep.nologin) {
            snprintf(user_out, DVAUTH_USER_MAX + 1, "%s", rep.user[0] ? rep.user : user);
            result = DVAUTH_OK;
        } else if (rep.type == DVL_OK || rep.type == DVL_FAIL) {
            result = rep.temp ? DVAUTH_ETEMP : DVAUTH_FAIL;
        } else if (rep.type == DVL_CONT || rep.type == DVL_BAD) {
            goto proto;                 /* PLAIN never continues */
        } else {
            continue;
        }
        break;
    }
    goto out;
proto:
    log_warn("auth: Dovecot's auth socket %s: no or a malformed answer", socket_path);
    result = DVAUTH_EUNAVAIL;
out:
    sodium_memzero(req, sizeof(req));
    if (c.fd >= 0)
        close(c.fd);
    return result;
}
