/*
 * test_tbucket - the token bucket that rate-limits log lines (tbucket.h):
 * burst, refill at the rate, the cap, the count of refused takes reported
 * with the next allowed one, a clock going backwards, and rate 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tbucket.h"

struct step {
    uint64_t now_ms;
    int      ok;            /* expected result of the take */
    uint64_t dropped;       /* expected *dropped when ok */
};

struct tcase {
    const char *name;
    double      rate, burst;
    struct step steps[12];
    size_t      n;
};

static const struct tcase cases[] = {
    { "burst then refused", 1, 3,
      { { 1000, 1, 0 }, { 1000, 1, 0 }, { 1000, 1, 0 }, { 1000, 0, 0 }, { 1001, 0, 0 } }, 5 },
    { "refill at the rate, refused counted", 2, 1,
      { { 1000, 1, 0 }, { 1100, 0, 0 }, { 1200, 0, 0 }, { 1500, 1, 2 }, { 1600, 0, 0 },
        { 2000, 1, 1 } }, 6 },
    { "refill capped at the burst", 1, 2,
      { { 1000, 1, 0 }, { 1000, 1, 0 }, { 100000, 1, 0 }, { 100000, 1, 0 },
        { 100000, 0, 0 } }, 5 },
    { "clock backwards refills nothing", 1, 1,
      { { 5000, 1, 0 }, { 1000, 0, 0 }, { 4000, 0, 0 }, { 5999, 0, 0 }, { 6000, 1, 3 } }, 5 },
    { "rate 0 is unlimited", 0, 0,
      { { 1, 1, 0 }, { 1, 1, 0 }, { 1, 1, 0 } }, 3 },
    { "slow rate: one per ten seconds", 0.1, 1,
      { { 1000, 1, 0 }, { 5000, 0, 0 }, { 10999, 0, 0 }, { 11000, 1, 2 } }, 4 },
};

static void test_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct tbucket b;
        tbucket_init(&b, cases[c].rate, cases[c].burst);
        for (size_t i = 0; i < cases[c].n; i++) {
            uint64_t dropped = 12345;
            int ok = tbucket_take(&b, cases[c].steps[i].now_ms, &dropped);
            if (ok != cases[c].steps[i].ok ||
                (ok && dropped != cases[c].steps[i].dropped)) {
                fail_msg("%s: step %zu: ok %d dropped %llu", cases[c].name, i, ok,
                         (unsigned long long)dropped);
            }
            if (!ok)
                assert_int_equal(dropped, 12345);   /* untouched when refused */
        }
    }
}

static void test_static_and_set(void **state)
{
    (void)state;
    static struct tbucket b = TBUCKET_INIT(1, 2);
    assert_int_equal(tbucket_take(&b, 10, NULL), 1);
    assert_int_equal(tbucket_take(&b, 10, NULL), 1);
    assert_int_equal(tbucket_take(&b, 10, NULL), 0);
    /* a smaller burst caps what is there; the refusal is still counted */
    tbucket_set(&b, 1, 1);
    uint64_t dropped = 0;
    assert_int_equal(tbucket_take(&b, 100000, &dropped), 1);
    assert_int_equal(dropped, 1);
    assert_int_equal(tbucket_take(&b, 100000, NULL), 0);
    assert_true(tbucket_now_ms() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_static_and_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
