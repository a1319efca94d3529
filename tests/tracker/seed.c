/*
 * seed - record mails in a mail log the way the milter does, for the
 * tracker's tests and benchmark (before and besides the real milter).
 *
 *   seed -d STORE_DIR -k KEY_FILE [-s SENDER] [-r RCPT]... [-R N] [-m N]
 *        [-a AGE_S] [-S SERVER] [-M MAP_SIZE_MB] [-i ID.TAG] [-B N] [-L LOGIN]
 *
 * Records -m mails (default 1) from SENDER (default alice@a.example), each
 * with the -r recipients plus N generated ones (u0@a.example ... with -R N),
 * created AGE_S seconds ago (default 0), recipients on server SERVER
 * (default mx1; "-r ADDR=SRV" puts one recipient on server SRV).  -i records
 * the one mail under an id made before (the same mail on a second server).
 * Mail m of N is created N-1-m milliseconds before the newest, so the ids
 * sort in the order the mails are recorded, as the milter's do.  -B N
 * records N mails per write transaction (bulk loading for the benchmarks:
 * 10M entries in minutes; default 1, one transaction per mail as the
 * milter does).  -L records LOGIN as each mail's SMTP AUTH login.  Prints
 * one line per mail: the X-Mail-Id value ID.TAG.
 * Exit 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "addr.h"
#include "keys.h"
#include "mailid.h"
#include "store.h"
#include "xmem.h"

static unsigned char *seed_read_key(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = xmalloc(8192);

    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    *len = fread(buf, 1, 8192, fp);
    fclose(fp);
    if (*len < 32) {
        fprintf(stderr, "%s: key shorter than 32 bytes\n", path);
        exit(1);
    }
    return buf;
}

static void seed_addr(const char *s, struct addr *a)
{
    int rc = addr_parse_str(s, a);

    if (rc != ADDR_OK) {
        fprintf(stderr, "seed: %s: %s\n", s, addr_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *keyfile = NULL, *sender_in = "alice@a.example";
    const char *server = "mx1", *id_in = NULL;
    char *login = NULL;
    char **rcpt_in = xcalloc((size_t)argc, sizeof *rcpt_in);
    size_t n_in = 0, n_gen = 0, n_mails = 1, map_mb = 64, bulk = 1;
    long long age_s = 0;
    int opt;

    while ((opt = getopt(argc, argv, "d:k:s:r:R:m:a:S:M:i:B:L:")) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'k': keyfile = optarg; break;
        case 's': sender_in = optarg; break;
        case 'r': rcpt_in[n_in++] = optarg; break;
        case 'R': n_gen = strtoul(optarg, NULL, 10); break;
        case 'm': n_mails = strtoul(optarg, NULL, 10); break;
        case 'a': age_s = strtoll(optarg, NULL, 10); break;
        case 'S': server = optarg; break;
        case 'M': map_mb = strtoul(optarg, NULL, 10); break;
        case 'i': id_in = optarg; n_mails = 1; break;
        case 'L': login = optarg; break;
        case 'B': bulk = strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: seed -d DIR -k KEY [-s SENDER] [-r RCPT]... "
                            "[-R N] [-m N] [-a AGE_S] [-S SERVER] [-M MB] [-B N]\n");
            return 1;
        }
    }
    if (bulk == 0)
        bulk = 1;
    if (dir == NULL || keyfile == NULL || n_in + n_gen == 0) {
        fprintf(stderr, "seed: -d, -k and at least one recipient are required\n");
        return 1;
    }
    if (mailid_init() != MAILID_OK)
        return 1;

    size_t key_len;
    unsigned char *raw = seed_read_key(keyfile, &key_len);
    unsigned char key[KEYS_LEN];
    keys_derive(raw, key_len, KEYS_PURPOSE_MAILID, key);
    key_len = sizeof(key);
    struct addr sender;
    seed_addr(sender_in, &sender);

    size_t n_rcpts = n_in + n_gen;
    struct store_rcpt *rcpts = xcalloc(n_rcpts, sizeof *rcpts);
    for (size_t i = 0; i < n_rcpts; i++) {
        struct addr a;
        const char *srv = server;
        if (i < n_in) {
            char *eq = strchr(rcpt_in[i], '=');
            if (eq != NULL) {
                *eq = '\0';
                srv = eq + 1;
            }
            seed_addr(rcpt_in[i], &a);
        } else {
            char *s = xasprintf("u%zu@a.example", i - n_in);
            seed_addr(s, &a);
            free(s);
        }
        rcpts[i].address = xstrdup(a.key);
        rcpts[i].server = xstrdup(srv);
        rcpts[i].status = STORE_SENT;
    }

    struct store_opts so = { .path = dir, .map_size = map_mb << 20,
                             .map_size_max = (map_mb << 20) * 4 };
    store_t *st;
    char err[256];
    if (store_open(&so, &st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "seed: %s: %s\n", dir, err);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t created = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u -
                       (uint64_t)age_s * 1000u;
    int status = 0;
    struct store_mail *batch = xcalloc(bulk, sizeof *batch);
    struct store_sent *sent = xcalloc(bulk, sizeof *sent);
    char (*values)[MAILID_VALUE_LEN + 1] = xcalloc(bulk, sizeof *values);
    size_t nb = 0;
    for (size_t m = 0; m < n_mails; m++) {
        char *value = values[nb];
        struct store_mail *mail = &batch[nb];
        uint64_t at = created - (uint64_t)(n_mails - 1 - m);
        memset(mail, 0, sizeof *mail);
        if (id_in != NULL && strlen(id_in) <= MAILID_VALUE_LEN &&
            strlen(id_in) > MAILID_ID_LEN) {
            snprintf(value, MAILID_VALUE_LEN + 1, "%s", id_in);
        } else if (id_in != NULL ||
                   mailid_make(key, key_len, sender.key, at, value) != MAILID_OK) {
            fprintf(stderr, "seed: cannot make a mail id\n");
            status = 1;
            break;
        }
        memcpy(mail->id, value, MAILID_ID_LEN);
        mail->id[MAILID_ID_LEN] = '\0';
        mail->sender = sender.key;
        mail->created_ms = at;
        mail->queue_id = (char *)"SEEDQ";
        mail->message_id = (char *)"<seed@a.example>";
        mail->n_rcpt = (uint32_t)n_rcpts;
        mail->login = login;
        sent[nb].mail = mail;
        sent[nb].rcpts = rcpts;
        sent[nb].n_rcpts = n_rcpts;
        if (++nb < bulk && m + 1 < n_mails)
            continue;
        int rc = bulk == 1 ? store_put_sent(st, mail, rcpts, n_rcpts)
                           : store_put_sent_many(st, sent, nb);
        if (rc != STORE_OK) {
            fprintf(stderr, "seed: store_put_sent: %s\n", store_strerror(rc));
            status = 1;
            break;
        }
        for (size_t i = 0; i < nb; i++)
            printf("%s\n", values[i]);
        nb = 0;
    }
    free(batch);
    free(sent);
    free(values);
    store_close(st);
    for (size_t i = 0; i < n_rcpts; i++) {
        free(rcpts[i].address);
        free(rcpts[i].server);
    }
    free(rcpts);
    free(rcpt_in);
    sodium_memzero(key, sizeof(key));
    free(raw);
    return status;
}
