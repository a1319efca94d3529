/*
 * ms-testtool - a test helper: what the black-box tests need from the common
 * library without going through a daemon.
 *
 *   ms-testtool mkid KEYFILE SENDER   print a valid X-Mail-Id value (a peer's tag)
 *   ms-testtool show STOREDIR ID      print the mail and its recipients, sorted:
 *       mail ID sender=S queue_id=Q message_id=M subject=S n_rcpt=N
 *       rcpt ADDRESS SERVER STATUS
 *     exit 1 and "notfound" if the mail is not in the log
 *   ms-testtool count STOREDIR        number of mails in the log
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "mailid.h"
#include "store.h"
#include "xmem.h"

static int open_store(const char *dir, store_t **st)
{
    struct store_opts o = { .path = dir };
    char err[256] = "";
    int rc = store_open(&o, st, err, sizeof(err));

    if (rc != STORE_OK)
        fprintf(stderr, "store %s: %s\n", dir, err[0] ? err : store_strerror(rc));
    return rc;
}

static int cmp_rcpt(const void *a, const void *b)
{
    return strcmp(((const struct store_rcpt *)a)->address,
                  ((const struct store_rcpt *)b)->address);
}

static int cmd_mkid(const char *keyfile, const char *sender)
{
    unsigned char key[4096];
    char v[MAILID_VALUE_LEN + 1];
    size_t n;
    FILE *fp = fopen(keyfile, "rb");

    if (fp == NULL) {
        perror(keyfile);
        return 2;
    }
    n = fread(key, 1, sizeof(key), fp);
    fclose(fp);
    unsigned char k[KEYS_LEN];
    keys_derive(key, n, KEYS_PURPOSE_MAILID, k);
    if (mailid_make(k, sizeof(k), sender, 0, v) != MAILID_OK)
        return 2;
    printf("%s\n", v);
    return 0;
}

static int cmd_show(const char *dir, const char *id)
{
    store_t *st;
    struct store_mail_rec *rec = NULL;
    int rc;

    if (open_store(dir, &st) != STORE_OK)
        return 2;
    rc = store_get_mail(st, id, &rec);
    if (rc == STORE_ENOTFOUND) {
        printf("notfound\n");
        store_close(st);
        return 1;
    }
    if (rc != STORE_OK) {
        fprintf(stderr, "get %s: %s\n", id, store_strerror(rc));
        store_close(st);
        return 2;
    }
    printf("mail %s sender=%s queue_id=%s message_id=%s subject=%s n_rcpt=%u\n",
           rec->mail.id, rec->mail.sender, rec->mail.queue_id ? rec->mail.queue_id : "-",
           rec->mail.message_id ? rec->mail.message_id : "-",
           rec->mail.subject ? rec->mail.subject : "-", (unsigned)rec->mail.n_rcpt);
    qsort(rec->rcpts, rec->n_rcpts, sizeof(*rec->rcpts), cmp_rcpt);
    for (size_t i = 0; i < rec->n_rcpts; i++)
        printf("rcpt %s %s %s\n", rec->rcpts[i].address, rec->rcpts[i].server,
               store_status_name(rec->rcpts[i].status));
    store_mail_rec_free(rec);
    store_close(st);
    return 0;
}

static int cmd_count(const char *dir)
{
    store_t *st;
    struct store_query q = { .status = -1, .limit = 1000 };
    struct store_list l;
    char cursor[MAILID_ID_LEN + 1] = "";
    size_t total = 0;
    int rc;

    if (open_store(dir, &st) != STORE_OK)
        return 2;
    do {
        q.cursor = cursor[0] ? cursor : NULL;
        if ((rc = store_list(st, &q, &l)) != STORE_OK) {
            fprintf(stderr, "list: %s\n", store_strerror(rc));
            store_close(st);
            return 2;
        }
        total += l.n_mails;
        memcpy(cursor, l.next_cursor, sizeof(cursor));
        store_list_clear(&l);
    } while (cursor[0]);
    printf("%zu\n", total);
    store_close(st);
    return 0;
}

int main(int argc, char **argv)
{
    if (mailid_init() != MAILID_OK)
        return 2;
    if (argc == 4 && strcmp(argv[1], "mkid") == 0)
        return cmd_mkid(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "show") == 0)
        return cmd_show(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "count") == 0)
        return cmd_count(argv[2]);
    fprintf(stderr, "usage: ms-testtool mkid KEYFILE SENDER | show STOREDIR ID | count STOREDIR\n");
    return 2;
}
