/*
 * test_keys - HKDF-SHA256 against RFC 5869's test vectors, and the derived
 * keys: one per purpose, different from each other and from the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "keys.h"

static void hex(const char *h, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* RFC 5869 A.1 (basic) and A.3 (zero-length salt and info). */
static void test_rfc5869(void **state)
{
    unsigned char ikm[22], salt[13], info[10], okm[42], want[42];
    (void)state;

    memset(ikm, 0x0b, sizeof(ikm));
    for (size_t i = 0; i < sizeof(salt); i++)
        salt[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (unsigned char)(0xf0 + i);
    assert_int_equal(keys_hkdf(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info),
                               okm, sizeof(okm)), 0);
    hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        "34007208d5b887185865", want, sizeof(want));
    assert_memory_equal(okm, want, sizeof(want));

    assert_int_equal(keys_hkdf(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, sizeof(okm)), 0);
    hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        "9d201395faa4b61a96c8", want, sizeof(want));
    assert_memory_equal(okm, want, sizeof(want));

    /* bad arguments: no output, or more than 255 blocks */
    assert_int_equal(keys_hkdf(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 0), -1);
    assert_int_equal(keys_hkdf(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 255 * 32 + 1), -1);
}

static void test_purposes(void **state)
{
    unsigned char key[32], a[KEYS_LEN], b[KEYS_LEN], a2[KEYS_LEN], other[KEYS_LEN];
    (void)state;

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 7 + 3);
    keys_derive(key, sizeof(key), KEYS_PURPOSE_MAILID, a);
    keys_derive(key, sizeof(key), KEYS_PURPOSE_SYNC, b);
    keys_derive(key, sizeof(key), KEYS_PURPOSE_MAILID, a2);
    assert_memory_equal(a, a2, KEYS_LEN);             /* deterministic: every server agrees */
    assert_memory_not_equal(a, b, KEYS_LEN);          /* one key per purpose */
    assert_memory_not_equal(a, key, KEYS_LEN);        /* never the system key itself */
    key[31] ^= 1;
    keys_derive(key, sizeof(key), KEYS_PURPOSE_MAILID, other);
    assert_memory_not_equal(a, other, KEYS_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5869),
        cmocka_unit_test(test_purposes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
