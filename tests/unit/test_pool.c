/* Unit tests for the start-up pool, the allocation guard and the error strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "lq_fake.h"

static void test_pool_alignment_zeroing_and_exhaustion(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    lq_pool_init();
    unsigned char *a = lq_pool_alloc(3, 1, "a");
    assert_non_null(a);
    uint64_t *b = lq_pool_alloc(sizeof(uint64_t) * 4, 8, "b");
    assert_non_null(b);
    assert_int_equal((uintptr_t)b % 8, 0);
    assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
    assert_null(lq_pool_alloc(8, 3, "bad align"));
    size_t used = lq_pool_used();
    assert_null(lq_pool_alloc(lq_pool_capacity(), 1, "too big"));
    assert_non_null(strstr(lq_fake_log_text(), "start-up pool exhausted: too big"));
    assert_int_equal(lq_pool_used(), used); /* a failed request takes nothing */
    lq_pool_seal();
    assert_true(lq_pool_sealed());
    assert_null(lq_pool_alloc(1, 1, "late"));
    assert_non_null(strstr(lq_fake_log_text(), "after start-up refused"));
}

/* The guard counts heap calls made after the seal by code linked with --wrap (this test
 * binary is). Counting is checked as a difference, because cmocka allocates between tests. */
static void test_allocguard_counts_heap_use_after_seal(void **state)
{
    (void)state;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    void *volatile p = malloc(16); /* before the seal: allowed (volatile: keep the call) */
    free(p);
    assert_int_equal(lq_allocguard_violations(), v0);
    lq_pool_seal();
    p = malloc(16);
    assert_int_equal(lq_allocguard_violations(), v0 + 1);
    free(p);
    assert_int_equal(lq_allocguard_violations(), v0 + 2);
    lq_allocguard_allow_enter(); /* the documented libcoap exception */
    p = calloc(2, 8);
    free(p);
    lq_allocguard_allow_leave();
    assert_int_equal(lq_allocguard_violations(), v0 + 2);
    lq_pool_init(); /* unseal for cmocka's own bookkeeping */
}

static void test_err_strings_cover_every_code(void **state)
{
    (void)state;
    assert_string_equal(lq_err_str(LQ_OK), "ok");
    assert_string_equal(lq_err_name(LQ_ETOOBIG), "LQ_ETOOBIG");
    for (int e = 0; e < (int)LQ_ERR_COUNT_; e++) {
        assert_non_null(lq_err_str((lq_err_t)e));
        assert_true(strlen(lq_err_str((lq_err_t)e)) > 1);
        assert_int_equal(strncmp(lq_err_name((lq_err_t)e), "LQ_", 3), 0);
        for (int f = 0; f < e; f++)
            assert_string_not_equal(lq_err_str((lq_err_t)e), lq_err_str((lq_err_t)f));
    }
    assert_string_equal(lq_err_str((lq_err_t)9999), "unknown error");
    assert_string_equal(lq_err_str((lq_err_t)-1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_alignment_zeroing_and_exhaustion),
        cmocka_unit_test(test_allocguard_counts_heap_use_after_seal),
        cmocka_unit_test(test_err_strings_cover_every_code),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
