/* Unit tests of the lock Lease reading shared by `liqolet run` and `liqolet unpeer`
 * (src/node/lock.c): who holds it, whether the claim is still live, and the words the
 * logs use for the holder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/lock.h"

/* 2026-01-01T00:00:30Z in ms since the epoch */
#define T30 1767225630000LL

static const char *lease(const char *holder, const char *renew, const char *dur)
{
    static char buf[1024];
    (void)snprintf(buf, sizeof buf,
                   "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"liqolet-x\",\"resourceVersion\":\"42\"},"
                   "\"spec\":{%s%s%s%s%s%s\"acquireTime\":\"2026-01-01T00:00:00.000000Z\"}}",
                   holder ? "\"holderIdentity\":\"" : "", holder ? holder : "", holder ? "\"," : "",
                   renew ? "\"renewTime\":\"" : "", renew ? renew : "", renew ? "\"," : "");
    if (dur) {
        size_t n = strlen(buf);
        (void)snprintf(buf + n - 2, sizeof buf - n + 2, ",\"leaseDurationSeconds\":%s}}", dur);
    }
    return buf;
}

static void test_parse_live_and_expired(void **state)
{
    lq_lock_info_t info;
    const char *b;
    (void)state;

    /* renewed 10 s before now, 30 s duration: live */
    b = lease("liqolet-0123456789ab@liqo-edge", "2026-01-01T00:00:20.000000Z", "30");
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_true(info.live);
    assert_string_equal(info.holder, "liqolet-0123456789ab@liqo-edge");
    assert_string_equal(info.rv, "42");
    assert_int_equal(info.duration_s, 30);
    /* the same 40 s later: expired */
    assert_int_equal(lq_lock_parse(b, strlen(b), T30 + 40000, &info), LQ_OK);
    assert_false(info.live);
    assert_string_equal(info.holder, "liqolet-0123456789ab@liqo-edge");
    /* a short duration of its own counts, not ours */
    b = lease("h@n", "2026-01-01T00:00:20.000000Z", "5");
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_false(info.live);
    assert_int_equal(info.duration_s, 5);
}

static void test_parse_released_and_odd(void **state)
{
    lq_lock_info_t info;
    const char *b;
    (void)state;

    /* released: no holder, whatever the time */
    b = lease(NULL, "2026-01-01T00:00:29.000000Z", "30");
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_false(info.live);
    assert_string_equal(info.holder, "");
    b = lease("", "2026-01-01T00:00:29.000000Z", "30");
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_false(info.live);
    /* no renewTime: not live */
    b = lease("h@n", NULL, "30");
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_false(info.live);
    /* no duration: 30 s */
    b = lease("h@n", "2026-01-01T00:00:10.000000Z", NULL);
    assert_int_equal(lq_lock_parse(b, strlen(b), T30, &info), LQ_OK);
    assert_true(info.live);
    assert_int_equal(info.duration_s, LQ_LOCK_DURATION_S);
    /* not JSON */
    assert_int_not_equal(lq_lock_parse("{\"spec\":", 8, T30, &info), LQ_OK);
    assert_false(info.live);
}

static void test_holder_describe(void **state)
{
    char out[LQ_LOCK_HOLDER_MAX + 64];
    (void)state;

    assert_string_equal(lq_lock_holder_describe("liqolet-0123456789ab@liqo-edge1", out, sizeof out),
                        "agent liqolet-0123456789ab for node liqo-edge1");
    /* earlier versions wrote no node */
    assert_string_equal(lq_lock_holder_describe("liqolet-0123456789ab", out, sizeof out),
                        "agent liqolet-0123456789ab (an earlier version: its node name is not recorded)");
    assert_string_equal(lq_lock_holder_describe("", out, sizeof out),
                        "agent ? (an earlier version: its node name is not recorded)");
    /* a trailing '@' names no node */
    assert_string_equal(lq_lock_holder_describe("x@", out, sizeof out),
                        "agent x@ (an earlier version: its node name is not recorded)");
    /* cut, never overrun */
    char small[12];
    assert_ptr_equal(lq_lock_holder_describe("liqolet-0123456789ab@n", small, sizeof small), small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_live_and_expired),
        cmocka_unit_test(test_parse_released_and_odd),
        cmocka_unit_test(test_holder_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
