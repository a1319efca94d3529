#ifndef MAILSTATE_TEST_STORE_FIXTURE_H
#define MAILSTATE_TEST_STORE_FIXTURE_H
/*
 * Shared helpers of the store tests: a private temp directory under
 * $MAILSTATE_TEST_TMP (or /tmp), removed afterwards, and short ways to open
 * a store and record a mail.  Included by test_store*.c only.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailid.h"
#include "store.h"

/* Base time of the test mails: 2026-11-28T10:00:00Z. */
#define T0 1764324000000ull

static inline void fx_mkdirs_mode(const char *path, mode_t mode)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, mode);
            *p = '/';
        }
    mkdir(buf, mode);
}

static inline void fx_mkdirs(const char *path)
{
    fx_mkdirs_mode(path, 0700);
}

/* A new private directory; the caller frees the string after fx_rmtree. */
static inline char *fx_tmpdir(void)
{
    const char *base = getenv("MAILSTATE_TEST_TMP");
    char *tmpl;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    /* The base is shared with the shell tests, whose daemons drop to
     * nobody and must pass through it: 0755 (each test's own dir is 0700). */
    fx_mkdirs_mode(base, 0755);
    if (asprintf(&tmpl, "%s/store-XXXXXX", base) < 0)
        abort();
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return tmpl;
}

static inline int fx_rm_one(const char *path, const struct stat *sb, int flag,
                            struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fx_rmtree(const char *path)
{
    nftw(path, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline store_t *fx_open(const char *dir, int group, size_t map, size_t max)
{
    struct store_opts o = { .path = dir, .map_size = map, .map_size_max = max,
                            .group_commit = group };
    char err[256];
    store_t *st = NULL;
    int rc = store_open(&o, &st, err, sizeof(err));
    if (rc != STORE_OK) {
        fprintf(stderr, "store_open(%s): %d %s\n", dir, rc, err);
        return NULL;
    }
    return st;
}

/* Record a mail at time ms from sender to the n addresses; id returned. */
static inline int fx_put_subject(store_t *st, uint64_t ms, const char *sender,
                                 const char *const *rcpts, size_t n, const char *subject,
                                 char id[MAILID_ID_LEN + 1])
{
    struct store_mail m = { .sender = (char *)(uintptr_t)sender, .created_ms = ms,
                            .queue_id = (char *)(uintptr_t)"4F2A1C3",
                            .subject = (char *)(uintptr_t)subject,
                            .n_rcpt = (uint32_t)n };
    struct store_rcpt r[16];

    if (n > 16 || mailid_generate(ms, m.id) != MAILID_OK)
        return -100;
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < n; i++) {
        r[i].address = (char *)(uintptr_t)rcpts[i];
        r[i].server = (char *)(uintptr_t)"mx1";
    }
    memcpy(id, m.id, MAILID_ID_LEN + 1);
    return store_put_sent(st, &m, r, n);
}

static inline int fx_put(store_t *st, uint64_t ms, const char *sender,
                         const char *const *rcpts, size_t n, char id[MAILID_ID_LEN + 1])
{
    return fx_put_subject(st, ms, sender, rcpts, n, NULL, id);
}

/* A mail whose 3000-byte subject takes an overflow page of its own: fills
 * the map quickly, so growth tests need few (fsync'd) commits. */
static inline int fx_put_fat(store_t *st, uint64_t ms, const char *sender,
                             const char *const *rcpts, size_t n, char id[MAILID_ID_LEN + 1])
{
    static char subject[3001];
    if (subject[0] == '\0')
        memset(subject, 's', sizeof(subject) - 1);
    return fx_put_subject(st, ms, sender, rcpts, n, subject, id);
}

/* The entry of rcpt in mail id (a copy in *out); STORE_ENORCPT if absent. */
static inline int fx_entry(store_t *st, const char *id, const char *rcpt,
                           struct store_rcpt *out)
{
    struct store_mail_rec *rec;
    int rc = store_get_mail(st, id, &rec);
    memset(out, 0, sizeof(*out));
    if (rc != STORE_OK)
        return rc;
    rc = STORE_ENORCPT;
    for (size_t i = 0; i < rec->n_rcpts; i++)
        if (strcmp(rec->rcpts[i].address, rcpt) == 0) {
            *out = rec->rcpts[i];
            rec->rcpts[i].address = NULL;
            rec->rcpts[i].server = NULL;
            rec->rcpts[i].original_recipient = NULL;   /* moved to *out too */
            rc = STORE_OK;
        }
    store_mail_rec_free(rec);
    return rc;
}

/* Only a private temp dir per test, as a string in *state (cmocka
 * setup/teardown for tests that open their stores themselves). */
static inline int fx_dir_setup(void **state)
{
    if (mailid_init() != MAILID_OK)
        return -1;
    *state = fx_tmpdir();
    return 0;
}

static inline int fx_dir_teardown(void **state)
{
    fx_rmtree(*state);
    free(*state);
    return 0;
}

/* A store in a private temp dir per test (cmocka setup/teardown). */
struct fx {
    char    *dir;
    store_t *st;
};

static inline int fx_setup_mode(void **state, int group_commit)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL || mailid_init() != MAILID_OK)
        return -1;
    f->dir = fx_tmpdir();
    f->st = fx_open(f->dir, group_commit, 0, 0);
    *state = f;
    return f->st ? 0 : -1;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    f->st = store_close(f->st);
    fx_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

#endif
