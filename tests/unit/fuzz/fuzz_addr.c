/* libFuzzer target: addr_parse and addr_domain_norm on arbitrary bytes.
 * Checks the contract as well as memory safety: an accepted address has a
 * key that parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct addr a, b;
    char dom[ADDR_DOMAIN_MAX + 2];
    int rc = addr_parse((const char *)data, size, &a);

    if (rc == ADDR_OK && !a.is_null) {
        if (strlen(a.key) > ADDR_KEY_MAX || addr_parse_str(a.key, &b) != ADDR_OK ||
            strcmp(a.key, b.key) != 0)
            abort();
    }
    if (size < 600) {
        char buf[600];
        memcpy(buf, data, size);
        buf[size] = '\0';
        if (addr_domain_norm(buf, dom) == ADDR_OK && strlen(dom) > ADDR_DOMAIN_MAX + 1)
            abort();
    }
    return 0;
}
