/*
 * fixture - shared setup for the sync and forwarder tests: a private temp
 * dir, a system key file, a two/three-server system config, a real store.
 *
 * The system: mx1 hosts a.example (alice, dave), mx2 hosts c.example (bob,
 * carol), mx3 hosts d.example (erin).  Every test dir lives under
 * $MAILSTATE_TEST_TMP (or /tmp) and is removed by fx_cleanup.
 */
#ifndef MAILSTATE_TEST_FIXTURE_H
#define MAILSTATE_TEST_FIXTURE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "mailid.h"
#include "store.h"
#include "xmem.h"

#define FX_UNUSED __attribute__((unused))

static FX_UNUSED char *fx_tmpdir(const char *name)
{
    const char *base = getenv("MAILSTATE_TEST_TMP");
    char *dir;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    mkdir(base, 0700);
    dir = xasprintf("%s/%s.XXXXXX", base, name);
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        abort();
    }
    return dir;
}

static FX_UNUSED void fx_cleanup(char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    xfree(cmd);
    xfree(dir);
}

/* A key file of 32 bytes: fill byte c, so two fills give two different keys. */
static FX_UNUSED char *fx_key(const char *dir, const char *name, char c)
{
    char *path = xasprintf("%s/%s", dir, name);
    char buf[32];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    memset(buf, c, sizeof(buf));
    if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
        perror(path);
        abort();
    }
    close(fd);
    return path;
}

/* Conf of the three-server system as seen from `me`; mx1's tracker at
   mx1_url; extra lines go into [system]. */
static FX_UNUSED struct conf *fx_conf_ex(const char *me, const char *key_path,
                                         const char *mx1_url, const char *mx2_url,
                                         const char *extra)
{
    char *errors = NULL;
    char *text = xasprintf(
        "[system]\nthis_server = %s\nkey_file = %s\n%s\n\n"
        "[server mx1]\ndomains = a.example\ntracker = %s\n\n"
        "[server mx2]\ndomains = c.example\ntracker = %s\n\n"
        "[server mx3]\ndomains = d.example\ntracker = http://127.0.0.1:9\n",
        me, key_path, extra, mx1_url, mx2_url);
    struct conf *c = conf_load_string(text, "fixture.conf", 0, &errors);

    if (c == NULL) {
        fprintf(stderr, "fixture config: %s\n", errors ? errors : "?");
        abort();
    }
    c->tracker_sync_window = 300;
    xfree(text);
    return c;
}

static FX_UNUSED struct conf *fx_conf(const char *me, const char *key_path,
                                      const char *mx1_url, const char *mx2_url)
{
    return fx_conf_ex(me, key_path, mx1_url, mx2_url, "");
}

static FX_UNUSED store_t *fx_store(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct store_opts o = { .path = path, .map_size = 16u << 20 };
    char err[256];
    store_t *st = NULL;

    if (store_open(&o, &st, err, sizeof(err)) != STORE_OK) {
        fprintf(stderr, "store %s: %s\n", path, err);
        abort();
    }
    xfree(path);
    return st;
}

/* Record a mail from sender to the given (address, server) pairs; a new id
   is generated into id unless id[0] is set already. */
static FX_UNUSED void fx_mail(store_t *st, const char *sender, char id[MAILID_ID_LEN + 1],
                              const char *const *rcpts, const char *const *servers,
                              size_t n)
{
    struct store_mail m = { .sender = (char *)(uintptr_t)sender, .created_ms = 0,
                            .n_rcpt = (uint32_t)n };
    struct store_rcpt r[8];

    if (id[0] == '\0' && mailid_generate(0, id) != MAILID_OK)
        abort();
    memcpy(m.id, id, MAILID_ID_LEN + 1);
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < n && i < 8; i++) {
        r[i].address = (char *)(uintptr_t)rcpts[i];
        r[i].server = (char *)(uintptr_t)servers[i];
        r[i].status = STORE_SENT;
    }
    if (store_put_sent(st, &m, r, n) != STORE_OK)
        abort();
}

/* The entry of (id, rcpt); status -1 if none. */
static FX_UNUSED struct store_rcpt fx_entry(store_t *st, const char *id, const char *rcpt)
{
    struct store_mail_rec *rec = NULL;
    struct store_rcpt out;

    memset(&out, 0, sizeof(out));
    out.status = -1;
    if (store_get_mail(st, id, &rec) != STORE_OK)
        return out;
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        if (strcmp(rec->rcpts[i].address, rcpt) == 0) {
            out = rec->rcpts[i];
            out.address = NULL;
            out.server = NULL;
        }
    }
    store_mail_rec_free(rec);
    return out;
}

#endif
