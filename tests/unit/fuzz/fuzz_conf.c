/* libFuzzer target: conf_load_string on arbitrary text (no key file).
 * Either a conf or an error text, never both, never neither. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *errors = NULL;

    memcpy(text, data, size);
    text[size] = '\0';
    struct conf *c = conf_load_string(text, "fuzz", CONF_NO_KEY, &errors);
    if ((c == NULL) == (errors == NULL))
        abort();
    if (c) {
        struct conf *r = conf_ref(c);
        conf_unref(r);
        conf_unref(c);
    }
    free(errors);
    free(text);
    return 0;
}
