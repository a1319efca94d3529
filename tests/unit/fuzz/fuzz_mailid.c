/* libFuzzer target: mailid_parse on arbitrary bytes.  An accepted value
 * gives a valid id, and the canonical "ID.TAG" parses to the same id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[MAILID_ID_LEN + 1], tag[MAILID_TAG_LEN + 1];
    char id2[MAILID_ID_LEN + 1], tag2[MAILID_TAG_LEN + 1];
    char canon[MAILID_VALUE_LEN + 1];

    if (mailid_parse((const char *)data, size, id, tag) != MAILID_OK)
        return 0;
    if (!mailid_id_valid(id, strlen(id)) || strlen(tag) != MAILID_TAG_LEN)
        abort();
    memcpy(canon, id, MAILID_ID_LEN);
    canon[MAILID_ID_LEN] = '.';
    memcpy(canon + MAILID_ID_LEN + 1, tag, MAILID_TAG_LEN + 1);
    if (mailid_parse(canon, strlen(canon), id2, tag2) != MAILID_OK ||
        strcmp(id, id2) != 0 || strcmp(tag, tag2) != 0)
        abort();
    /* the time prefix of the id round-trips */
    char pfx[MAILID_TIME_LEN + 1];
    mailid_time_prefix(mailid_time_ms(id), pfx);
    if (memcmp(pfx, id, MAILID_TIME_LEN) != 0)
        abort();
    return 0;
}
