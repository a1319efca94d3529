/*
 * test_deadline - absolute wait times: the carry into seconds, big and zero
 * waits, and "now + ms" on the clock asked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deadline.h"

static void test_add(void **state)
{
    (void)state;
    struct timespec t = { 10, 999000000L }, r;

    r = deadline_add(t, 0);
    assert_int_equal(r.tv_sec, 10);
    assert_int_equal(r.tv_nsec, 999000000L);
    r = deadline_add(t, 1);                     /* carries into the seconds */
    assert_int_equal(r.tv_sec, 11);
    assert_int_equal(r.tv_nsec, 0);
    r = deadline_add(t, 2500);
    assert_int_equal(r.tv_sec, 13);
    assert_int_equal(r.tv_nsec, 499000000L);
    r = deadline_add((struct timespec){ 0, 0 }, 86400000UL * 30);   /* 30 days */
    assert_int_equal(r.tv_sec, 86400 * 30);
    assert_int_equal(r.tv_nsec, 0);
}

static void test_in(void **state)
{
    (void)state;
    struct timespec before, r;
    clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC };

    for (size_t i = 0; i < 2; i++) {
        clock_gettime(clocks[i], &before);
        r = deadline_in(clocks[i], 1500);
        int64_t d = ((int64_t)r.tv_sec - before.tv_sec) * 1000 +
                    (r.tv_nsec - before.tv_nsec) / 1000000;
        assert_true(d >= 1500 && d < 1500 + 1000);  /* on that clock, not another */
        assert_true(r.tv_nsec >= 0 && r.tv_nsec < 1000000000L);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
