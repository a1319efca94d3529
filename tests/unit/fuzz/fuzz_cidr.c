/* libFuzzer target: cidr_list_add / cidr_match_str on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[256], err[128];
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cidr_list_t *l = cidr_list_new();
    if (cidr_list_add(l, text, err, sizeof(err)) == 0) {
        /* the network's own address (before the slash) is inside it */
        char host[256];
        size_t n = strcspn(text, "/");
        memcpy(host, text, n);
        host[n] = '\0';
        if (!cidr_match_str(l, host))
            abort();
    }
    cidr_match_str(l, text);
    l = cidr_list_free(l);
    return 0;
}
