/*
 * test_evapply_durable - a power cut at any moment loses no acknowledged
 * event (issue 17 item 5): the model of test_store_durable, extended to the
 * event log.
 *
 * fdatasync() and fsync() are interposed (this executable's definitions win
 * over libc's for liblmdb's and evlog.c's calls).  Each time one succeeds
 * on data.mdb or on an event log segment of the store under test, the whole
 * file is copied: that copy is what the disk is known to hold.  While four
 * threads submit reads (each acknowledged one appended to a list), the main
 * thread repeatedly takes "the disk" at that instant (every file as of its
 * last good sync; files removed or renamed since are gone) and starts a
 * mail log and event log from it in a directory of their own, as the
 * tracker would after the power came back: LMDB must open, the replay must
 * succeed, and every read acknowledged before the cut must be in the mail
 * log.  Segments are small (64 KiB) so that segments are reused during the
 * run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include "evapply.h"
#include "store_fixture.h"

/* ---- the model disk ---- */

#define MAX_FILES 64

struct image {
    char   path[300];
    char  *data;
    size_t len;
};

static pthread_mutex_t disk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct image images[MAX_FILES];
static char live[256];                  /* files under here are modelled */
static atomic_int capture;
static atomic_int file_syncs;

int fdatasync(int fd);
int fsync(int fd);

static void synced(int fd)
{
    char link[64], path[300];
    struct stat sb;
    ssize_t n;

    if (!atomic_load(&capture))
        return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = '\0';
    size_t ll = strlen(live);
    if (strncmp(path, live, ll) != 0 || path[ll] != '/' ||
        !(strstr(path, "/data.mdb") || strstr(path, ".evlog")) || fstat(fd, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return;
    pthread_mutex_lock(&disk_mu);
    struct image *im = NULL;
    for (int i = 0; i < MAX_FILES && im == NULL; i++)
        if (strcmp(images[i].path, path) == 0)
            im = &images[i];
    for (int i = 0; i < MAX_FILES && im == NULL; i++)
        if (images[i].path[0] == '\0')
            im = &images[i];
    if (im != NULL) {
        snprintf(im->path, sizeof im->path, "%s", path);
        free(im->data);
        im->data = malloc((size_t)sb.st_size + 1);
        im->len = 0;
        /* The writer's descriptor may be write-only: read through another. */
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        while (rfd >= 0 && im->data && im->len < (size_t)sb.st_size) {
            ssize_t r = pread(rfd, im->data + im->len, (size_t)sb.st_size - im->len,
                              (off_t)im->len);
            if (r <= 0)
                break;
            im->len += (size_t)r;
        }
        if (rfd >= 0)
            close(rfd);
        atomic_fetch_add(&file_syncs, 1);
    }
    pthread_mutex_unlock(&disk_mu);
}

int fdatasync(int fd)
{
    int rc = (int)syscall(SYS_fdatasync, fd);
    if (rc == 0)
        synced(fd);
    return rc;
}

int fsync(int fd)
{
    int rc = (int)syscall(SYS_fsync, fd);
    if (rc == 0)
        synced(fd);
    return rc;
}

/* Writes the disk as of now under dir (store/ and evlog/).  Holds disk_mu. */
static void image_write(const char *dir)
{
    size_t ll = strlen(live);
    for (int i = 0; i < MAX_FILES; i++) {
        struct stat sb;
        char out[500];
        if (images[i].path[0] == '\0' || stat(images[i].path, &sb) != 0)
            continue;           /* removed or renamed away since its sync */
        if (snprintf(out, sizeof out, "%s%s", dir, images[i].path + ll) >= 480)
            abort();
        char *slash = strrchr(out, '/');
        *slash = '\0';
        fx_mkdirs(out);
        *slash = '/';
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, images[i].data, images[i].len), (ssize_t)images[i].len);
        close(fd);
    }
}

/* ---- the workload ---- */

#define W_THREADS 4
#define W_READS   150
#define W_MAILS   ((W_THREADS * W_READS + 15) / 16)

static char ids[W_MAILS][MAILID_ID_LEN + 1];
static char rcpt_names[16][40];
static const char *rcpt_ptrs[16];

/* Acknowledged reads: index k = mail k / 16, recipient k % 16. */
static int acked[W_THREADS * W_READS];
static atomic_int n_acked;

struct worker {
    evapply_t *ea;
    int        t;
    int        bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < W_READS; i++) {
        /* Spread: each read goes to another mail. */
        int k = (i * W_THREADS + w->t);
        int mail = k % W_MAILS, rc_i = k / W_MAILS;
        struct store_event_in ev = { .id = ids[mail], .rcpt = rcpt_ptrs[rc_i],
                                     .this_server = "mx1", .event = STORE_EV_READ,
                                     .via = "imap", .delims = "+" };
        struct store_rcpt after;
        int matched;
        if (evapply_submit(w->ea, &ev, &after, &matched) != STORE_OK) {
            w->bad++;
            continue;
        }
        store_rcpt_clear(&after);
        acked[atomic_fetch_add(&n_acked, 1)] = mail * 16 + rc_i;
    }
    return NULL;
}

/* Starts from the image in dir; every one of the first n acks is there. */
static int check_image(const char *dir, int n, int *replayed_ok)
{
    char sdir[480], ldir[480], err[256];
    if (snprintf(sdir, sizeof sdir, "%.400s/store", dir) >= 470 ||
        snprintf(ldir, sizeof ldir, "%.400s/evlog", dir) >= 470)
        abort();
    fx_mkdirs(sdir);
    store_t *st = fx_open(sdir, 0, 1 << 20, 64 << 20);
    if (st == NULL)
        return -1;              /* LMDB did not open */
    struct evapply_opts o = { .store = st, .dir = ldir, .seg_size = 64 * 1024,
                              .lag_max = 1000000 };
    evapply_t *ea = NULL;
    if (evapply_open(&o, &ea, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "replay failed: %s\n", err);
        store_close(st);
        return -1;
    }
    *replayed_ok = 1;
    evapply_close(ea);
    int lost = 0;
    for (int i = 0; i < n; i++) {
        struct store_rcpt e;
        int mail = acked[i] / 16, r = acked[i] % 16;
        if (fx_entry(st, ids[mail], rcpt_ptrs[r], &e) != STORE_OK || e.status != STORE_READ)
            lost++;
        store_rcpt_clear(&e);
    }
    store_close(st);
    return lost;
}

static void test_power_cut_loses_no_ack(void **state)
{
    const char *dir = *state;
    char sdir[300], ldir[300];

    if (snprintf(live, sizeof live, "%.200s/live", dir) >= 240)
        abort();
    snprintf(sdir, sizeof sdir, "%s/store", live);
    snprintf(ldir, sizeof ldir, "%s/evlog", live);
    fx_mkdirs(sdir);
    for (int i = 0; i < 16; i++) {
        snprintf(rcpt_names[i], sizeof rcpt_names[i], "recipient-number-%02d@a.example", i);
        rcpt_ptrs[i] = rcpt_names[i];
    }
    atomic_store(&capture, 1);
    store_t *st = fx_open(sdir, 1, 1 << 20, 64 << 20);
    assert_non_null(st);
    for (int m = 0; m < W_MAILS; m++)
        assert_int_equal(fx_put(st, T0 + (uint64_t)m, "alice@a.example", rcpt_ptrs, 16, ids[m]),
                         STORE_OK);
    char err[256];
    struct evapply_opts o = { .store = st, .dir = ldir, .seg_size = 64 * 1024,
                              .lag_max = 1000000 };
    evapply_t *ea = NULL;
    assert_int_equal(evapply_open(&o, &ea, err, sizeof err), STORE_OK);

    static struct worker w[W_THREADS];
    pthread_t th[W_THREADS];
    atomic_store(&n_acked, 0);
    for (int t = 0; t < W_THREADS; t++) {
        w[t] = (struct worker){ ea, t, 0 };
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    /* The power fails at these instants; each disk is checked afterwards
     * (checking is slower than writing).  The acks counted before each cut
     * must survive it. */
    enum { MAX_CUTS = 40 };
    static int cut_acks[MAX_CUTS + 1];
    int cuts = 0, lost = 0, not_open = 0, checked_max = 0;
    for (int done = 0; !done && cuts < MAX_CUTS; cuts++) {
        done = atomic_load(&n_acked) >= W_THREADS * W_READS;
        cut_acks[cuts] = atomic_load(&n_acked);
        char snap[400];
        snprintf(snap, sizeof snap, "%.200s/cut%d", dir, cuts);
        pthread_mutex_lock(&disk_mu);
        image_write(snap);
        pthread_mutex_unlock(&disk_mu);
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    for (int t = 0; t < W_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(w[t].bad, 0);
    }
    struct evapply_stats s;
    evapply_stats(ea, &s);
    evapply_close(ea);
    store_close(st);
    atomic_store(&capture, 0);
    /* And a cut after the last answer. */
    cut_acks[cuts] = atomic_load(&n_acked);
    {
        char snap[400];
        snprintf(snap, sizeof snap, "%.200s/cut%d", dir, cuts);
        pthread_mutex_lock(&disk_mu);
        image_write(snap);
        pthread_mutex_unlock(&disk_mu);
        cuts++;
    }
    for (int c = 0; c < cuts; c++) {
        char snap[400];
        snprintf(snap, sizeof snap, "%.200s/cut%d", dir, c);
        int replayed = 0, l = check_image(snap, cut_acks[c], &replayed);
        if (l < 0)
            not_open++;
        else
            lost += l;
        checked_max = cut_acks[c] > checked_max ? cut_acks[c] : checked_max;
        fx_rmtree(snap);
    }
    print_message("%d reads, %llu log syncs, %llu apply transactions, %d file syncs "
                  "imaged; %d power cuts checked (up to %d acks): %d acks lost, %d images "
                  "that did not open\n", W_THREADS * W_READS, (unsigned long long)s.groups,
                  (unsigned long long)s.batches, atomic_load(&file_syncs), cuts, checked_max,
                  lost, not_open);
    assert_true(cuts >= 3);
    assert_int_equal(checked_max, W_THREADS * W_READS);
    assert_int_equal(not_open, 0);
    assert_int_equal(lost, 0);
}

static int setup(void **state)
{
    *state = fx_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    pthread_mutex_lock(&disk_mu);
    for (int i = 0; i < MAX_FILES; i++) {
        free(images[i].data);
        memset(&images[i], 0, sizeof images[i]);
    }
    pthread_mutex_unlock(&disk_mu);
    fx_rmtree(*state);
    free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_cut_loses_no_ack, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
