/* Unit tests of the virtual node's address choice (DESIGN.md Decision 10) on the fake port,
 * whose lq_port_route_addr answers what lq_fake_route_set scripted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "liqolet/nodeip.h"
#include "lq_fake.h"

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    return 0;
}

static void test_loopback_rule(void **state)
{
    (void)state;
    static const char *const loop[] = { "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1",
                                        "::FFFF:127.0.0.9", "0.0.0.0", "::" };
    static const char *const not_loop[] = { "10.0.0.1", "192.0.2.2", "1.127.0.0", "fd00::2",
                                            "::2", "::ffff:10.0.0.1", "2001:db8::127", "" };
    for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++)
        assert_true(lq_nodeip_is_loopback(loop[i]));
    for (size_t i = 0; i < sizeof not_loop / sizeof not_loop[0]; i++)
        assert_false(lq_nodeip_is_loopback(not_loop[i]));
    assert_false(lq_nodeip_is_loopback(NULL));
}

static void test_order(void **state)
{
    (void)state;
    char ip[64];
    lq_nodeip_src_t src;
    lq_fake_route_set("192.0.2.2", "fd00::2");
    /* configured wins, even loopback (asked for) */
    assert_int_equal(lq_nodeip_pick("127.0.0.1", "10.1.1.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(src, LQ_NODEIP_CONFIGURED);
    /* a routable connection address next */
    assert_int_equal(lq_nodeip_pick("", "10.1.1.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "10.1.1.1");
    assert_int_equal(src, LQ_NODEIP_CONNECTION);
    assert_int_equal(lq_nodeip_pick(NULL, "fd00::7", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "fd00::7");
    assert_int_equal(src, LQ_NODEIP_CONNECTION);
    /* loopback connection (k3s): the default route's address, same family first */
    assert_int_equal(lq_nodeip_pick("", "127.0.0.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "192.0.2.2");
    assert_int_equal(src, LQ_NODEIP_ROUTE);
    assert_int_equal(lq_nodeip_pick("", "::1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "fd00::2");
    assert_int_equal(lq_nodeip_pick("", "::ffff:127.0.0.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "192.0.2.2");
    /* unknown connection address: IPv4 first */
    assert_int_equal(lq_nodeip_pick(NULL, NULL, ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "192.0.2.2");
    assert_int_equal(src, LQ_NODEIP_ROUTE);
}

static void test_other_family_and_none(void **state)
{
    (void)state;
    char ip[64];
    lq_nodeip_src_t src;
    lq_fake_route_set(NULL, "fd00::2"); /* IPv6-only site reached over 127.0.0.1 */
    assert_int_equal(lq_nodeip_pick("", "127.0.0.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "fd00::2");
    lq_fake_route_set("192.0.2.2", NULL);
    assert_int_equal(lq_nodeip_pick("", "::1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "192.0.2.2");
    /* a "default route" that only yields loopback is no route */
    lq_fake_route_set("127.0.0.1", "::1");
    assert_int_equal(lq_nodeip_pick("", "127.0.0.1", ip, sizeof ip, &src), LQ_ENOTFOUND);
    assert_string_equal(ip, "");
    lq_fake_route_set(NULL, NULL);
    assert_int_equal(lq_nodeip_pick(NULL, "127.0.0.1", ip, sizeof ip, &src), LQ_ENOTFOUND);
    assert_string_equal(ip, "");
    /* but the configured or a routable connection address needs no route */
    assert_int_equal(lq_nodeip_pick(NULL, "10.1.1.1", ip, sizeof ip, &src), LQ_OK);
    assert_int_equal(lq_nodeip_pick("::1", "127.0.0.1", ip, sizeof ip, &src), LQ_OK);
    assert_string_equal(ip, "::1");
}

static void test_limits(void **state)
{
    (void)state;
    char ip[10];
    lq_nodeip_src_t src;
    lq_fake_route_set("192.0.2.222", NULL);
    assert_int_equal(lq_nodeip_pick("", "127.0.0.1", ip, sizeof ip, &src), LQ_ETOOBIG);
    assert_int_equal(lq_nodeip_pick("10.10.10.10", NULL, ip, sizeof ip, &src), LQ_ETOOBIG);
    assert_int_equal(lq_nodeip_pick("10.1.1.1", NULL, ip, sizeof ip, &src), LQ_OK);
    assert_int_equal(lq_nodeip_pick("10.1.1.1", NULL, NULL, sizeof ip, &src), LQ_EINVAL);
    assert_int_equal(lq_nodeip_pick("10.1.1.1", NULL, ip, sizeof ip, NULL), LQ_EINVAL);
    assert_int_equal(lq_nodeip_pick("10.1.1.1", NULL, ip, 0, &src), LQ_EINVAL);
    assert_non_null(strstr(lq_nodeip_src_str(LQ_NODEIP_ROUTE), "default route"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_loopback_rule, setup),
        cmocka_unit_test_setup(test_order, setup),
        cmocka_unit_test_setup(test_other_family_and_none, setup),
        cmocka_unit_test_setup(test_limits, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
