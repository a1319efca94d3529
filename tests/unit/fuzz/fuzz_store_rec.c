/* libFuzzer target: the store's record decoders on damaged bytes (what a
 * corrupt database hands back).  A mail that decodes re-encodes to the
 * same bytes; a recipient entry to one that decodes the same (a NULL via
 * and an empty one both read as ""). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char id[] = "01JDQ0000000000000000000AB";
    struct store_rec_buf b = { 0 };
    struct store_mail m;
    struct store_rcpt r;

    if (store_rec_mail_decode(data, size, id, &m) == 0) {
        store_rec_mail_encode(&b, &m);
        if (b.len != size || memcmp(b.p, data, size) != 0)
            abort();
        store_rec_mail_clear(&m);
    }
    if (store_rec_rcpt_decode(data, size, "bob@a.example", 13, &r) == 0) {
        if (r.status < STORE_SENT || r.status > STORE_READ || strlen(r.via) >= sizeof(r.via))
            abort();
        /* via NULL and "" both decode to "": compare decoded entries */
        struct store_rcpt r2;
        store_rec_rcpt_encode(&b, &r);
        if (store_rec_rcpt_decode(b.p, b.len, "bob@a.example", 13, &r2) != 0 ||
            r2.status != r.status || r2.first_read_ms != r.first_read_ms ||
            r2.last_read_ms != r.last_read_ms || r2.read_count != r.read_count ||
            r2.updated_ms != r.updated_ms || strcmp(r2.server, r.server) != 0 ||
            strcmp(r2.via, r.via) != 0)
            abort();
        store_rcpt_clear(&r2);
        store_rcpt_clear(&r);
    }
    uint64_t q;
    char oid[27];
    const char *rcpt;
    size_t rlen;
    if (store_rec_outbox_decode(data, size, &q, oid, &rcpt, &rlen) == 0 &&
        (rlen == 0 || rcpt + rlen != (const char *)data + size))
        abort();
    store_rec_buf_free(&b);
    return 0;
}
