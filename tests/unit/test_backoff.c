/* Unit tests of the jittered exponential backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "liqolet/backoff.h"

static void test_growth_jitter_cap_reset(void **state)
{
    (void)state;
    lq_backoff_t b;
    lq_backoff_init(&b, 100, 5000, 42);
    uint32_t ceil = 100;
    for (int i = 0; i < 12; i++) {
        uint32_t d = lq_backoff_next(&b);
        assert_true(d >= ceil / 2);
        assert_true(d <= ceil);
        ceil = ceil * 2 > 5000 ? 5000 : ceil * 2;
    }
    assert_int_equal(b.attempts, 12);
    assert_int_equal(b.cur_ms, 5000);
    lq_backoff_reset(&b);
    uint32_t d = lq_backoff_next(&b);
    assert_true(d >= 50 && d <= 100);
}

static void test_jitter_spreads_and_seeds_differ(void **state)
{
    (void)state;
    /* 200 delays at a fixed 1000 ms ceiling must not all be equal, and must cover both
     * halves of [500, 1000]. */
    lq_backoff_t b;
    lq_backoff_init(&b, 1000, 1000, 7);
    int low = 0, high = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t d = lq_backoff_next(&b);
        assert_true(d >= 500 && d <= 1000);
        if (d < 750)
            low++;
        else
            high++;
    }
    assert_true(low > 40 && high > 40);
    lq_backoff_t x, y;
    lq_backoff_init(&x, 1000, 1000, 1);
    lq_backoff_init(&y, 1000, 1000, 2);
    int same = 0;
    for (int i = 0; i < 20; i++)
        same += lq_backoff_next(&x) == lq_backoff_next(&y);
    assert_true(same < 20);
}

static void test_degenerate_bounds(void **state)
{
    (void)state;
    lq_backoff_t b;
    lq_backoff_init(&b, 0, 0, 0);
    for (int i = 0; i < 5; i++)
        assert_true(lq_backoff_next(&b) <= 1);
    lq_backoff_init(&b, 4000000000u, 4294967295u, 3);
    for (int i = 0; i < 5; i++)
        assert_true(lq_backoff_next(&b) >= 2000000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_jitter_cap_reset),
        cmocka_unit_test(test_jitter_spreads_and_seeds_differ),
        cmocka_unit_test(test_degenerate_bounds),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
