/*
 * evlog - the write-ahead event log; contract in evlog.h.
 */
#include "evlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "deadline.h"
#include "log.h"
#include "xmem.h"

#define EVLOG_HDR     16u
#define EVLOG_NAMELEN 16u               /* hex digits of a segment name */
#define EVLOG_SUFFIX  ".evlog"

struct evlog_seg {
    uint64_t first;                     /* seq of its first record */
    char    *path;
};

/* A group of encoded records, gathered, then written, then consumed. */
struct evlog_group {
    unsigned char      *buf;
    size_t              len, cap;
    uint64_t            first, last;     /* seqs; first == 0: empty */
    size_t              taken;           /* consumer's offset into buf */
    struct evlog_group *next;
};

struct evlog {
    char              *dir;
    size_t             seg_size, group_cap;
    uint64_t           lag_max;
    void             (*on_fatal)(void *, const char *);
    void              *fatal_arg;

    pthread_mutex_t    mu;
    pthread_cond_t     work;            /* writer: something gathered / stop */
    pthread_cond_t     space;           /* appenders: the gathering group was taken */
    pthread_cond_t     durable_cv;      /* waiters and the consumer */
    struct evlog_group *gather;
    struct evlog_group *dhead, *dtail;  /* durable, not yet consumed */
    struct evlog_waiter *whead, *wtail; /* evlog_notify's, in seq order */
    uint64_t           appended, durable, done, groups;
    uint64_t           sync_us, sync_max_us; /* time in write + fdatasync */
    int                failed, stopping;
    pthread_t          writer;
    int                writer_started;

    /* writer-only (and open) */
    struct evlog_seg  *segs;            /* in seq order; the last one is written */
    size_t             n_segs;
    int                fd;              /* of the last segment, -1 none */
    size_t             off;             /* its write position */
    size_t             cur_size;        /* its size (an older one may differ from seg_size) */
};

const char *evlog_strerror(int err)
{
    switch (err) {
    case EVLOG_OK:      return "ok";
    case EVLOG_EIO:     return "the event log could not be written or synced";
    case EVLOG_EBUSY:   return "too many events wait to be applied";
    case EVLOG_EINVAL:  return "invalid record";
    case EVLOG_EGAP:    return "events are missing from the event log";
    case EVLOG_ECLOSED: return "the event log is closing";
    case EVLOG_EREPLAY: return "replaying the event log failed";
    }
    return "unknown event log error";
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static size_t rec_size(size_t len)
{
    return (EVLOG_HDR + len + 7u) & ~(size_t)7u;
}

/* Writes one record at p (rec_size(len) bytes, padding zeroed). */
static void rec_encode(unsigned char *p, uint64_t seq, const void *data, size_t len)
{
    size_t total = rec_size(len);

    put32(p + 4, (uint32_t)len);
    put64(p + 8, seq);
    memcpy(p + EVLOG_HDR, data, len);
    memset(p + EVLOG_HDR + len, 0, total - EVLOG_HDR - len);
    put32(p, crc32c(0, p + 4, EVLOG_HDR - 4 + len));
}

/* The record at buf[off] if valid with seq `expect`: its payload length, else -1. */
static long rec_check(const unsigned char *buf, size_t size, size_t off, uint64_t expect)
{
    if (off + EVLOG_HDR > size)
        return -1;
    uint32_t len = get32(buf + off + 4);
    if (len == 0 || len > EVLOG_REC_MAX || off + rec_size(len) > size ||
        get64(buf + off + 8) != expect ||
        crc32c(0, buf + off + 4, EVLOG_HDR - 4 + len) != get32(buf + off))
        return -1;
    return (long)len;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *seg_path(const evlog_t *log, uint64_t first)
{
    return xasprintf("%s/%016" PRIx64 EVLOG_SUFFIX, log->dir, first);
}

static int seg_cmp(const void *a, const void *b)
{
    const struct evlog_seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Every segment file of the directory, sorted. */
static int seg_list(evlog_t *log, char *err, size_t errlen)
{
    DIR *d = opendir(log->dir);
    struct dirent *de;
    size_t cap = 0;

    if (d == NULL) {
        seterr(err, errlen, "cannot read event log directory %s: %s", log->dir,
               strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        char *end;
        if (strlen(n) != EVLOG_NAMELEN + strlen(EVLOG_SUFFIX) ||
            strcmp(n + EVLOG_NAMELEN, EVLOG_SUFFIX) != 0 ||
            strspn(n, "0123456789abcdef") != EVLOG_NAMELEN)
            continue;
        uint64_t first = strtoull(n, &end, 16);
        if (first == 0)
            continue;
        if (log->n_segs == cap) {
            cap = cap ? 2 * cap : 8;
            log->segs = xrealloc(log->segs, cap * sizeof(*log->segs));
        }
        log->segs[log->n_segs].first = first;
        log->segs[log->n_segs].path = seg_path(log, first);
        log->n_segs++;
    }
    closedir(d);
    if (log->n_segs > 1)
        qsort(log->segs, log->n_segs, sizeof(*log->segs), seg_cmp);
    return 0;
}

/*
 * Reads a whole segment into a new buffer; *size = the file's size, which
 * is what it holds even if [tracker] event_log_segment changed since it
 * was made (only new segments take the new size).
 */
static unsigned char *seg_read(const char *path, size_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    unsigned char *buf;
    struct stat sb;
    size_t got = 0;

    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size > (off_t)(1u << 30) * 4) {
        seterr(err, errlen, "cannot open %s: %s", path, fd < 0 || errno ? strerror(errno)
               : "not a regular file of a possible size");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *size = (size_t)sb.st_size;
    buf = xcalloc(1, *size ? *size : 1);
    while (got < *size) {
        ssize_t n = pread(fd, buf + got, *size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            seterr(err, errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            free(buf);
            return NULL;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return buf;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Zero-fills fd from off to size. */
static int zero_from(int fd, size_t off, size_t size)
{
    static const unsigned char zeros[65536];

    while (off < size) {
        size_t n = size - off < sizeof zeros ? size - off : sizeof zeros;
        if (write_all(fd, zeros, n, (off_t)off) != 0)
            return -1;
        off += n;
    }
    return 0;
}

/* ---- the writer ---------------------------------------------------------- */

/* Detaches the waiters up to seq (all: UINT64_MAX), under mu. */
static struct evlog_waiter *waiters_upto(evlog_t *log, uint64_t seq)
{
    struct evlog_waiter *head = log->whead, *last = NULL;

    for (struct evlog_waiter *w = log->whead; w && w->seq <= seq; w = w->next)
        last = w;
    if (last == NULL)
        return NULL;
    log->whead = last->next;
    if (log->whead == NULL)
        log->wtail = NULL;
    last->next = NULL;
    return head;
}

/* Calls fn of a detached list, outside mu (fn may free its waiter). */
static void waiters_call(struct evlog_waiter *w, int rc)
{
    while (w) {
        struct evlog_waiter *next = w->next;
        w->fn(w, rc);
        w = next;
    }
}

static void fatal(evlog_t *log, const char *what)
{
    /* Only the writer gets here, once: it stops after this.  on_fatal runs
     * before any waiter hears of the failure (the tracker exits there). */
    log_error_errno("event log: %s", what);
    if (log->on_fatal)
        log->on_fatal(log->fatal_arg, what);
    pthread_mutex_lock(&log->mu);
    log->failed = 1;
    pthread_cond_broadcast(&log->durable_cv);
    pthread_cond_broadcast(&log->space);
    struct evlog_waiter *w = waiters_upto(log, UINT64_MAX);
    pthread_mutex_unlock(&log->mu);
    waiters_call(w, EVLOG_EIO);
}

/*
 * A new segment for records from `first` on: the oldest segment whose
 * records are all done is renamed to it (its stale records have lower seqs
 * and so never pass as records of the new one); other such segments are
 * removed; without one a zero-filled file is made.
 */
static int rotate(evlog_t *log, uint64_t first)
{
    uint64_t done;
    char *path = seg_path(log, first);
    int fd = -1, reused = 0;

    pthread_mutex_lock(&log->mu);
    done = log->done;
    pthread_mutex_unlock(&log->mu);
    if (log->fd >= 0) {
        close(log->fd);
        log->fd = -1;
    }
    /* Segment i holds records up to the next one's first - 1 (the last
     * one: up to first - 1); those all done may go. */
    size_t free_n = 0;
    while (free_n < log->n_segs) {
        uint64_t end = (free_n + 1 < log->n_segs ? log->segs[free_n + 1].first : first) - 1;
        if (end > done)
            break;
        free_n++;
    }
    for (size_t i = 0; i < free_n; i++) {
        if (!reused && rename(log->segs[i].path, path) == 0) {
            reused = 1;
        } else if (unlink(log->segs[i].path) != 0 && errno != ENOENT) {
            log_warn_errno("event log: cannot remove %s", log->segs[i].path);
        }
        free(log->segs[i].path);
    }
    if (free_n > 0) {
        memmove(log->segs, log->segs + free_n, (log->n_segs - free_n) * sizeof(*log->segs));
        log->n_segs -= free_n;
    }

    if (reused) {
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd >= 0 && (zero_from(fd, 0, log->seg_size) != 0 || fsync(fd) != 0)) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0 || sync_dir(log->dir) != 0) {
        if (fd >= 0)
            close(fd);
        free(path);
        return -1;
    }
    log->segs = xrealloc(log->segs, (log->n_segs + 1) * sizeof(*log->segs));
    log->segs[log->n_segs].first = first;
    log->segs[log->n_segs].path = path;
    log->n_segs++;
    log->fd = fd;
    log->off = 0;
    log->cur_size = log->seg_size;
    return 0;
}

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *writer_main(void *arg)
{
    evlog_t *log = arg;

    pthread_setname_np(pthread_self(), "evlog-writer");   /* top -H, perf */

    for (;;) {
        struct evlog_group *g;

        pthread_mutex_lock(&log->mu);
        while ((log->gather == NULL || log->gather->first == 0) && !log->stopping &&
               !log->failed)
            pthread_cond_wait(&log->work, &log->mu);
        if (log->failed || log->gather == NULL || log->gather->first == 0) {
            pthread_mutex_unlock(&log->mu);
            break;
        }
        g = log->gather;
        log->gather = NULL;
        pthread_cond_broadcast(&log->space);
        pthread_mutex_unlock(&log->mu);

        if ((log->fd < 0 || log->off + g->len > log->cur_size) && rotate(log, g->first) != 0) {
            fatal(log, "cannot start a new segment");
            free(g->buf);
            free(g);
            break;
        }
        uint64_t t0 = mono_us();
        if (write_all(log->fd, g->buf, g->len, (off_t)log->off) != 0) {
            fatal(log, "write failed");
            free(g->buf);
            free(g);
            break;
        }
        if (fdatasync(log->fd) != 0) {
            fatal(log, "fdatasync failed (not retried: the next start replays the log)");
            free(g->buf);
            free(g);
            break;
        }
        log->off += g->len;
        uint64_t took = mono_us() - t0;

        pthread_mutex_lock(&log->mu);
        log->durable = g->last;
        log->groups++;
        log->sync_us += took;
        if (took > log->sync_max_us)
            log->sync_max_us = took;
        if (log->dtail)
            log->dtail->next = g;
        else
            log->dhead = g;
        log->dtail = g;
        pthread_cond_broadcast(&log->durable_cv);
        struct evlog_waiter *w = waiters_upto(log, log->durable);
        pthread_mutex_unlock(&log->mu);
        waiters_call(w, EVLOG_OK);
    }
    return NULL;
}

/* ---- recovery ------------------------------------------------------------ */

/*
 * Replays from the segment holding applied + 1; leaves log->segs, fd, off
 * and appended ready for appending.
 */
static int recover(evlog_t *log, uint64_t applied, evlog_replay_fn replay, void *arg,
                   char *err, size_t errlen)
{
    size_t i, end_seg;
    uint64_t expect;
    size_t off = 0, size = 0;
    unsigned char *buf = NULL;

    log->appended = applied;
    if (log->n_segs == 0)
        return 0;                       /* a new log: the first write makes a segment */
    for (i = log->n_segs; i > 0 && log->segs[i - 1].first > applied + 1; i--)
        ;
    if (i == 0) {
        seterr(err, errlen, "event log in %s starts at event %" PRIu64 " but the mail log "
               "holds events up to %" PRIu64 " only: events are missing", log->dir,
               log->segs[0].first, applied);
        return EVLOG_EGAP;
    }
    i--;
    expect = log->segs[i].first;
    end_seg = i;
    for (;;) {
        buf = seg_read(log->segs[i].path, &size, err, errlen);
        if (buf == NULL)
            return EVLOG_EIO;
        off = 0;
        long len;
        while ((len = rec_check(buf, size, off, expect)) >= 0) {
            if (expect > applied && replay &&
                replay(arg, expect, buf + off + EVLOG_HDR, (size_t)len) != 0) {
                seterr(err, errlen, "replaying event %" PRIu64 " failed", expect);
                free(buf);
                return EVLOG_EREPLAY;
            }
            off += rec_size((size_t)len);
            expect++;
        }
        free(buf);
        end_seg = i;
        if (i + 1 < log->n_segs && log->segs[i + 1].first == expect) {
            i++;
            continue;
        }
        break;
    }
    /* Segments after the end hold only what was never acknowledged. */
    for (size_t k = end_seg + 1; k < log->n_segs; k++) {
        if (unlink(log->segs[k].path) != 0 && errno != ENOENT) {
            seterr(err, errlen, "cannot remove %s: %s", log->segs[k].path, strerror(errno));
            return EVLOG_EIO;
        }
        free(log->segs[k].path);
    }
    log->n_segs = end_seg + 1;

    if (expect - 1 < applied) {
        /* The log ends before the mail log's state: go on after it. */
        log_warn("event log in %s ends at event %" PRIu64 ", the mail log holds %" PRIu64
                 ": continuing at %" PRIu64, log->dir, expect - 1, applied, applied + 1);
        return sync_dir(log->dir) == 0 ? 0 : EVLOG_EIO;
    }
    log->appended = expect - 1;
    int fd = open(log->segs[end_seg].path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || zero_from(fd, off, size) != 0 || fdatasync(fd) != 0 ||
        sync_dir(log->dir) != 0) {
        seterr(err, errlen, "cannot truncate the tail of %s: %s", log->segs[end_seg].path,
               strerror(errno));
        if (fd >= 0)
            close(fd);
        return EVLOG_EIO;
    }
    log->fd = fd;
    log->off = off;
    log->cur_size = size;
    return 0;
}

/* ---- the interface --------------------------------------------------------- */

int evlog_open(const struct evlog_opts *opts, uint64_t applied, evlog_replay_fn replay,
               void *arg, evlog_t **out, char *err, size_t errlen)
{
    evlog_t *log;
    int rc;

    *out = NULL;
    if (opts == NULL || opts->dir == NULL || opts->dir[0] == '\0' ||
        opts->seg_size < EVLOG_SEG_MIN || opts->seg_size % 4096 != 0) {
        seterr(err, errlen, "event log: bad options");
        return EVLOG_EINVAL;
    }
    if (mkdir(opts->dir, 0750) != 0 && errno != EEXIST) {
        seterr(err, errlen, "cannot create event log directory %s: %s", opts->dir,
               strerror(errno));
        return EVLOG_EIO;
    }
    log = xcalloc(1, sizeof(*log));
    log->dir = xstrdup(opts->dir);
    log->seg_size = opts->seg_size;
    /* A group fits a segment many times over and always holds one record. */
    log->group_cap = opts->seg_size / 4;
    log->lag_max = opts->lag_max;
    log->on_fatal = opts->on_fatal;
    log->fatal_arg = opts->fatal_arg;
    log->fd = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->work, NULL);
    pthread_cond_init(&log->space, NULL);
    pthread_cond_init(&log->durable_cv, NULL);

    rc = seg_list(log, err, errlen) == 0 ? recover(log, applied, replay, arg, err, errlen)
                                         : EVLOG_EIO;
    if (rc == 0) {
        log->durable = log->appended;
        log->done = applied < log->appended ? applied : log->appended;
        if (pthread_create(&log->writer, NULL, writer_main, log) != 0) {
            seterr(err, errlen, "cannot start the event log writer");
            rc = EVLOG_EIO;
        } else {
            log->writer_started = 1;
        }
    }
    if (rc != 0) {
        evlog_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

static void group_free(struct evlog_group *g)
{
    if (g) {
        free(g->buf);
        free(g);
    }
}

void evlog_close(evlog_t *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->mu);
    log->stopping = 1;
    pthread_cond_broadcast(&log->work);
    pthread_cond_broadcast(&log->space);
    pthread_mutex_unlock(&log->mu);
    if (log->writer_started)
        pthread_join(log->writer, NULL);
    pthread_mutex_lock(&log->mu);
    log->failed = log->failed || (log->gather && log->gather->first);
    pthread_cond_broadcast(&log->durable_cv);
    struct evlog_waiter *w = waiters_upto(log, UINT64_MAX);
    pthread_mutex_unlock(&log->mu);
    waiters_call(w, EVLOG_ECLOSED);     /* the writer wrote all it could */
    group_free(log->gather);
    while (log->dhead) {
        struct evlog_group *n = log->dhead->next;
        group_free(log->dhead);
        log->dhead = n;
    }
    if (log->fd >= 0)
        close(log->fd);
    for (size_t i = 0; i < log->n_segs; i++)
        free(log->segs[i].path);
    free(log->segs);
    pthread_cond_destroy(&log->work);
    pthread_cond_destroy(&log->space);
    pthread_cond_destroy(&log->durable_cv);
    pthread_mutex_destroy(&log->mu);
    free(log->dir);
    free(log);
}

int evlog_append(evlog_t *log, const void *data, size_t len, uint64_t *seq)
{
    size_t need = rec_size(len);
    struct evlog_group *g;

    if (log == NULL || data == NULL || len == 0 || len > EVLOG_REC_MAX)
        return EVLOG_EINVAL;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        if (log->failed) {
            pthread_mutex_unlock(&log->mu);
            return EVLOG_EIO;
        }
        if (log->stopping) {
            pthread_mutex_unlock(&log->mu);
            return EVLOG_ECLOSED;
        }
        if (log->lag_max && log->appended - log->done >= log->lag_max) {
            pthread_mutex_unlock(&log->mu);
            return EVLOG_EBUSY;
        }
        if (log->gather == NULL || log->gather->len + need <= log->group_cap)
            break;
        pthread_cond_wait(&log->space, &log->mu);
    }
    g = log->gather;
    if (g == NULL) {
        g = log->gather = xcalloc(1, sizeof(*g));
    }
    if (g->len + need > g->cap) {
        size_t cap = g->cap ? g->cap : 16384;
        while (cap < g->len + need)
            cap *= 2;
        g->buf = xrealloc(g->buf, cap);
        g->cap = cap;
    }
    *seq = ++log->appended;
    rec_encode(g->buf + g->len, *seq, data, len);
    g->len += need;
    if (g->first == 0)
        g->first = *seq;
    g->last = *seq;
    pthread_cond_signal(&log->work);
    pthread_mutex_unlock(&log->mu);
    return 0;
}

int evlog_wait(evlog_t *log, uint64_t seq)
{
    int rc;

    pthread_mutex_lock(&log->mu);
    while (log->durable < seq && !log->failed)
        pthread_cond_wait(&log->durable_cv, &log->mu);
    rc = log->durable >= seq ? EVLOG_OK : log->failed ? EVLOG_EIO : EVLOG_ECLOSED;
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int evlog_notify(evlog_t *log, struct evlog_waiter *w)
{
    int rc = EVLOG_OK;

    pthread_mutex_lock(&log->mu);
    if (log->durable >= w->seq) {
        rc = 1;
    } else if (log->failed) {
        rc = EVLOG_EIO;
    } else if (log->stopping || w->seq > log->appended) {
        rc = w->seq > log->appended ? EVLOG_EINVAL : EVLOG_ECLOSED;
    } else {
        /* Kept in seq order.  Registrations come nearly in append order, so
         * the tail is the usual place; threads that raced between their
         * append and this call are put in order from the head. */
        struct evlog_waiter **pp = &log->whead;
        if (log->wtail && log->wtail->seq <= w->seq)
            pp = &log->wtail->next;
        else
            while (*pp && (*pp)->seq <= w->seq)
                pp = &(*pp)->next;
        w->next = *pp;
        *pp = w;
        if (w->next == NULL)
            log->wtail = w;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

size_t evlog_take(evlog_t *log, struct evlog_rec *recs, size_t max, int timeout_ms)
{
    size_t n = 0;
    struct timespec until =
        deadline_in(CLOCK_REALTIME, timeout_ms > 0 ? (unsigned long)timeout_ms : 0);

    pthread_mutex_lock(&log->mu);
    /* Groups fully taken by the previous call are released now. */
    while (log->dhead && log->dhead->taken == log->dhead->len) {
        struct evlog_group *g = log->dhead;
        log->dhead = g->next;
        if (log->dhead == NULL)
            log->dtail = NULL;
        group_free(g);
    }
    while (log->dhead == NULL && !log->failed && !log->stopping) {
        if (pthread_cond_timedwait(&log->durable_cv, &log->mu, &until) == ETIMEDOUT)
            break;
    }
    for (struct evlog_group *g = log->dhead; g && n < max; g = g->next) {
        while (g->taken < g->len && n < max) {
            const unsigned char *p = g->buf + g->taken;
            uint32_t len = get32(p + 4);
            recs[n].seq = get64(p + 8);
            recs[n].data = p + EVLOG_HDR;
            recs[n].len = len;
            n++;
            g->taken += rec_size(len);
        }
    }
    pthread_mutex_unlock(&log->mu);
    return n;
}

void evlog_done(evlog_t *log, uint64_t seq)
{
    pthread_mutex_lock(&log->mu);
    if (seq > log->done && seq <= log->durable)
        log->done = seq;
    pthread_mutex_unlock(&log->mu);
}

void evlog_stats(evlog_t *log, struct evlog_stats *out)
{
    pthread_mutex_lock(&log->mu);
    out->appended = log->appended;
    out->durable = log->durable;
    out->done = log->done;
    out->groups = log->groups;
    out->sync_us = log->sync_us;
    out->sync_max_us = log->sync_max_us;
    out->segments = log->n_segs;
    pthread_mutex_unlock(&log->mu);
}
