/* Tests of the fake port's listeners (port/fake): the scripted accept queue that the
 * listener tests (test_mgmt_http.c) and a later kubelet API server drive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/port.h"
#include "lq_fake.h"

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    return 0;
}

static unsigned readiness(lq_port_fd_t fd, unsigned want)
{
    lq_port_pollfd_t p = { fd, want, 0 };
    size_t n = 0;
    assert_int_equal(lq_port_wait(&p, 1, 0, &n), LQ_OK);
    return p.got;
}

static void test_listen_records_and_binds(void **state)
{
    (void)state;
    assert_int_equal(lq_fake_last_listen_fd(), -1);
    lq_port_fd_t a = -1, b = -1, c = -1;
    assert_int_equal(lq_port_tcp_listen("127.0.0.1", 9090, 16, &a), LQ_OK);
    assert_true(a >= 0);
    assert_int_equal(lq_fake_last_listen_fd(), a);
    assert_string_equal(lq_fake_last_listen_addr(), "127.0.0.1");
    assert_int_equal(lq_fake_last_listen_port(), 9090);
    assert_int_equal(lq_fake_last_listen_backlog(), 16);
    uint16_t port = 0;
    assert_int_equal(lq_port_local_port(a, &port), LQ_OK);
    assert_int_equal(port, 9090);
    /* Port 0 picks one; the same address and port twice is a conflict. */
    assert_int_equal(lq_port_tcp_listen("::1", 0, 0, &b), LQ_OK);
    assert_int_equal(lq_port_local_port(b, &port), LQ_OK);
    assert_true(port >= 40000);
    assert_int_equal(lq_port_tcp_listen("127.0.0.1", 9090, 0, &c), LQ_ECONFLICT);
    assert_int_equal(c, -1);
    assert_int_not_equal(lq_port_sock_error(-1), 0);
    /* Once closed, the address is free again. */
    lq_port_close(a);
    assert_int_equal(lq_port_tcp_listen("127.0.0.1", 9090, 0, &c), LQ_OK);
    /* Names are refused like the real port. */
    assert_int_equal(lq_port_tcp_listen("localhost", 80, 0, &c), LQ_EINVAL);
    assert_int_equal(lq_port_tcp_listen("[::1]", 80, 0, &c), LQ_EINVAL);
}

static void test_listen_scripted_failure_is_one_shot(void **state)
{
    (void)state;
    lq_port_fd_t fd = -1;
    lq_fake_listen_result(LQ_ENOTSUP, 99);
    assert_int_equal(lq_port_tcp_listen("::1", 0, 0, &fd), LQ_ENOTSUP);
    assert_int_equal(fd, -1);
    assert_int_equal(lq_port_sock_error(-1), 99);
    assert_int_equal(lq_port_tcp_listen("::1", 0, 0, &fd), LQ_OK);
}

static void test_accept_queue_in_order(void **state)
{
    (void)state;
    lq_port_fd_t ls = -1, c = -1;
    assert_int_equal(lq_port_tcp_listen("127.0.0.1", 0, 0, &ls), LQ_OK);
    char peer[LQ_PORT_PEER_MAX];
    assert_int_equal(lq_port_tcp_accept(ls, &c, peer, sizeof peer), LQ_AGAIN);
    assert_int_equal(readiness(ls, LQ_PORT_IN), 0);

    lq_port_fd_t c1 = lq_fake_accept_push(ls, "127.0.0.1:50001");
    lq_port_fd_t c2 = lq_fake_accept_push(ls, "127.0.0.1:50002");
    assert_true(c1 >= 0 && c2 >= 0 && c1 != c2);
    assert_int_equal(lq_fake_accept_pending(ls), 2);
    assert_int_equal(readiness(ls, LQ_PORT_IN), LQ_PORT_IN);
    assert_int_equal(readiness(ls, LQ_PORT_OUT), 0);
    /* Bytes may arrive before the agent accepts. */
    assert_int_equal(lq_fake_sock_feed(c1, "hi", 2), 0);

    assert_int_equal(lq_port_tcp_accept(ls, &c, peer, sizeof peer), LQ_OK);
    assert_int_equal(c, c1);
    assert_string_equal(peer, "127.0.0.1:50001");
    char buf[8];
    assert_int_equal(lq_port_recv(c, buf, sizeof buf), 2);
    assert_int_equal(lq_port_send(c, "ok", 2), 2);
    size_t len = 0;
    assert_memory_equal(lq_fake_sock_sent(c1, &len), "ok", 2);
    assert_int_equal(len, 2);

    assert_int_equal(lq_port_tcp_accept(ls, &c, NULL, 0), LQ_OK);
    assert_int_equal(c, c2);
    assert_int_equal(lq_fake_accept_pending(ls), 0);
    assert_int_equal(readiness(ls, LQ_PORT_IN), 0);
    assert_int_equal(lq_port_tcp_accept(ls, &c, peer, sizeof peer), LQ_AGAIN);
    assert_int_equal(c, -1);
    /* A listener moves no bytes. */
    assert_int_equal(lq_port_recv(ls, buf, sizeof buf), LQ_IO_ERR);
    assert_int_equal(lq_port_send(ls, "x", 1), LQ_IO_ERR);
}

static void test_accept_scripted_errors(void **state)
{
    (void)state;
    lq_port_fd_t ls = -1, c = -1;
    assert_int_equal(lq_port_tcp_listen("127.0.0.1", 0, 0, &ls), LQ_OK);
    lq_port_fd_t q = lq_fake_accept_push(ls, NULL);
    lq_fake_accept_result(ls, LQ_ENOSPC);
    /* Out of descriptors: the connection stays queued for the next try. */
    assert_int_equal(lq_port_tcp_accept(ls, &c, NULL, 0), LQ_ENOSPC);
    assert_int_equal(lq_fake_accept_pending(ls), 1);
    char small[4];
    assert_int_equal(lq_port_tcp_accept(ls, &c, small, sizeof small), LQ_EINVAL);
    assert_int_equal(lq_port_tcp_accept(ls, &c, NULL, 0), LQ_OK);
    assert_int_equal(c, q);
    /* Not a listener, or a closed one. */
    assert_int_equal(lq_port_tcp_accept(c, &c, NULL, 0), LQ_EIO);
    lq_port_close(ls);
    assert_int_equal(lq_fake_accept_push(ls, NULL), -1);
    assert_int_equal(lq_port_tcp_accept(ls, &c, NULL, 0), LQ_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_listen_records_and_binds, setup),
        cmocka_unit_test_setup(test_listen_scripted_failure_is_one_shot, setup),
        cmocka_unit_test_setup(test_accept_queue_in_order, setup),
        cmocka_unit_test_setup(test_accept_scripted_errors, setup),
    };
    return cmocka_run_group_tests_name("port_fake", tests, NULL, NULL);
}
