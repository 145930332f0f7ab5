/* Unit tests for the service manager notifications (src/core/notify.c) on the fake port:
 * the watchdog interval, READY/STATUS/STOPPING messages and the loop's WATCHDOG=1 pings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/notify.h"
#include "lq_fake.h"

static lq_loop_t loop;
static lq_notify_t nt;

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_loop_init(&loop);
    return 0;
}

static size_t count_of(const char *text, const char *line)
{
    size_t n = 0, len = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += len)
        if ((p == text || p[-1] == '\n') && p[len] == '\n')
            n++;
    return n;
}

static void test_watchdog_interval(void **state)
{
    (void)state;
    assert_int_equal(lq_notify_watchdog_ms("30000000", NULL, 7), 15000);
    assert_int_equal(lq_notify_watchdog_ms("30000000", "7", 7), 15000);
    assert_int_equal(lq_notify_watchdog_ms("3000", NULL, 7), 1);
    assert_int_equal(lq_notify_watchdog_ms("1", NULL, 7), 1);
    /* Another process's watchdog, or nothing usable. */
    assert_int_equal(lq_notify_watchdog_ms("30000000", "8", 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("30000000", "", 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("30000000", "7x", 7), 0);
    assert_int_equal(lq_notify_watchdog_ms(NULL, NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("", NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("0", NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("-5", NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms(" 30", NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("30s", NULL, 7), 0);
    assert_int_equal(lq_notify_watchdog_ms("99999999999999999999999", NULL, 7), 0);
}

static void test_no_socket_no_messages(void **state)
{
    (void)state;
    assert_int_equal(lq_fake_env_set("WATCHDOG_USEC", "2000000"), 0);
    lq_notify_ready(&nt, &loop, "starting");
    assert_int_equal(nt.every_ms, 0);
    assert_false(nt.timer.armed);
    lq_notify_status("x");
    lq_notify_stopping(&nt, &loop);
    assert_int_equal(lq_fake_notify_count(), 0);
}

static void test_ready_watchdog_stopping(void **state)
{
    (void)state;
    assert_int_equal(lq_fake_env_set("NOTIFY_SOCKET", "@/org/freedesktop/systemd1/notify"), 0);
    assert_int_equal(lq_fake_env_set("WATCHDOG_USEC", "30000000"), 0);
    lq_notify_ready(&nt, &loop, "waiting\nfor the lock");
    assert_string_equal(lq_fake_notify_text(), "READY=1\nSTATUS=waiting for the lock\n");
    assert_int_equal(nt.every_ms, 15000);
    /* 60 s of loop: a ping every 15 s, sent by the loop's timer. */
    while (lq_port_mono_ms() < 60000)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_int_equal(count_of(lq_fake_notify_text(), "WATCHDOG=1"), 4);
    assert_int_equal(nt.pings, 4);
    lq_notify_status("node up");
    /* A stop signal: STOPPING=1, and no ping after it. */
    lq_notify_stopping(&nt, &loop);
    while (lq_port_mono_ms() < 120000)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_string_equal(lq_fake_notify_text(),
                        "READY=1\nSTATUS=waiting for the lock\nWATCHDOG=1\nWATCHDOG=1\n"
                        "WATCHDOG=1\nWATCHDOG=1\nSTATUS=node up\nSTOPPING=1\n");
}

static void test_watchdog_of_another_pid(void **state)
{
    (void)state;
    assert_int_equal(lq_fake_env_set("NOTIFY_SOCKET", "/run/systemd/notify"), 0);
    assert_int_equal(lq_fake_env_set("WATCHDOG_USEC", "30000000"), 0);
    assert_int_equal(lq_fake_env_set("WATCHDOG_PID", "1"), 0);
    lq_notify_ready(&nt, &loop, NULL);
    assert_int_equal(nt.every_ms, 0);
    while (lq_port_mono_ms() < 60000)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_string_equal(lq_fake_notify_text(), "READY=1\n");
    /* Our own pid: pinged. */
    lq_loop_init(&loop);
    assert_int_equal(lq_fake_env_set("WATCHDOG_PID", "4242"), 0);
    lq_notify_ready(&nt, &loop, NULL);
    assert_int_equal(nt.every_ms, 15000);
    while (lq_port_mono_ms() < 90000)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_int_equal(count_of(lq_fake_notify_text(), "WATCHDOG=1"), 2);
}

static void test_status_is_cut_to_one_datagram(void **state)
{
    (void)state;
    assert_int_equal(lq_fake_env_set("NOTIFY_SOCKET", "@n"), 0);
    char lng[600];
    memset(lng, 's', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    lq_notify_status(lng);
    assert_int_equal(lq_fake_notify_count(), 1);
    assert_int_equal(strlen(lq_fake_notify_text()), LQ_PORT_NOTIFY_MAX + 1);
    assert_memory_equal(lq_fake_notify_text(), "STATUS=sss", 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_watchdog_interval, setup),
        cmocka_unit_test_setup(test_no_socket_no_messages, setup),
        cmocka_unit_test_setup(test_ready_watchdog_stopping, setup),
        cmocka_unit_test_setup(test_watchdog_of_another_pid, setup),
        cmocka_unit_test_setup(test_status_is_cut_to_one_datagram, setup),
    };
    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
