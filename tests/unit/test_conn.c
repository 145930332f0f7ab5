/* Unit tests of the connection state machine on the fake port (plain TCP transport):
 * requests, keep-alive reuse, streaming bodies, reconnects, timeouts and failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/conn.h"
#include "lq_fake.h"

static lq_loop_t loop;
static lq_conn_t conn;
static const lq_conn_target_t target = { "127.0.0.1", 6443, NULL, -1, "home" };

typedef struct {
    int heads, dones;
    int status;
    lq_err_t err;
    char body[8192];
    size_t body_len;
    int abort_on_body;
} rec_t;

static rec_t rec;

static lq_err_t on_head(lq_conn_t *c, const lq_http_resp_t *r, void *ctx)
{
    (void)c;
    rec_t *x = ctx;
    x->heads++;
    x->status = r->status;
    return LQ_OK;
}

static lq_err_t on_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    (void)c;
    rec_t *x = ctx;
    if (x->abort_on_body)
        return LQ_ECONFLICT;
    if (x->body_len + n <= sizeof x->body) {
        memcpy(x->body + x->body_len, d, n);
        x->body_len += n;
    }
    return LQ_OK;
}

static void on_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    (void)c;
    rec_t *x = ctx;
    x->dones++;
    x->err = err;
}

static const lq_conn_handler_t handler = { on_head, on_body, on_done, &rec };

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_loop_init(&loop);
    lq_conn_init(&conn, &loop, &target);
    memset(&rec, 0, sizeof rec);
    return 0;
}

static void spin(int n)
{
    for (int i = 0; i < n && rec.dones == 0; i++)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
}

static const lq_http_req_t get_version = { .method = "GET", .target = "/version" };

static void test_get_keep_alive_and_reuse(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_AGAIN);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_ESTATE);
    assert_string_equal(lq_fake_last_connect_host(), "127.0.0.1");
    spin(3); /* connect completes, request written */
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    assert_true(len > 0);
    assert_memory_equal(sent, "GET /version HTTP/1.1\r\nHost: 127.0.0.1:6443\r\n", 45);
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 22\r\n\r\n{\"gitVersion\":\"v1.36\"}";
    lq_fake_sock_feed(fd, resp, sizeof resp - 1);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.body_len, 22);
    assert_memory_equal(rec.body, "{\"gitVersion\":\"v1.36\"}", 22);
    assert_int_equal(conn.state, LQ_CONN_IDLE);
    assert_false(lq_fake_sock_closed(fd));

    /* Second request on the same connection. */
    memset(&rec, 0, sizeof rec);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(2);
    lq_fake_sock_feed(fd, resp, sizeof resp - 1);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(conn.stats.connects, 1);
    assert_int_equal(conn.stats.reuses, 1);
    sent = lq_fake_sock_sent(fd, &len);
    assert_non_null(strstr(sent + 45, "GET /version HTTP/1.1\r\n"));
}

static void test_chunked_stream_byte_at_a_time(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_http_req_t w = { .method = "GET", .target = "/api/v1/pods?watch=1" };
    assert_int_equal(lq_conn_request(&conn, &w, &handler, 0), LQ_OK);
    static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    lq_fake_sock_feed(fd, resp, sizeof resp - 1);
    lq_fake_sock_recv_chunk(fd, 1);
    spin(400);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.body_len, 12);
    assert_memory_equal(rec.body, "hello, world", 12);
    assert_int_equal(conn.stats.bytes_in, 12);
}

static void test_connect_refused_names_the_server(void **state)
{
    (void)state;
    /* nothing scripted: the fake port refuses */
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ECONNREFUSED);
    assert_non_null(strstr(conn.error, "home API server 127.0.0.1:6443: cannot connect"));
    assert_int_equal(conn.stats.failures, 1);
    /* The connection can be used again afterwards. */
    memset(&rec, 0, sizeof rec);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    lq_fake_sock_feed(fd, "HTTP/1.1 204 No Content\r\n\r\n", 27);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 204);
}

static void test_timeout_without_response(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    spin(50);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_non_null(strstr(conn.error, "no response within 1000 ms"));
    spin(1); /* reap */
    assert_true(lq_fake_sock_closed(fd));
}

static void test_idle_close_then_transparent_reconnect(void **state)
{
    (void)state;
    lq_port_fd_t fd1 = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    lq_fake_sock_feed(fd1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    /* The server closes the idle connection; the next request must not fail. */
    lq_fake_sock_close_peer(fd1);
    (void)lq_loop_run_once(&loop, 10);
    (void)lq_loop_run_once(&loop, 10);
    memset(&rec, 0, sizeof rec);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(5);
    lq_fake_sock_feed(fd2, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes", 41);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_memory_equal(rec.body, "yes", 3);
    assert_int_equal(conn.stats.connects, 2);
}

static void test_peer_closes_mid_body(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(2); /* the request is written before the server answers and goes away */
    lq_fake_sock_feed(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 42);
    lq_fake_sock_close_peer(fd);
    spin(10);
    assert_int_equal(rec.err, LQ_ECLOSED);
    assert_non_null(strstr(conn.error, "closed before the response ended"));
    assert_int_equal(rec.body_len, 3);
}

static void test_owner_abort_and_malformed_response(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    rec.abort_on_body = 1;
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    lq_fake_sock_feed(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
    spin(5);
    assert_int_equal(rec.err, LQ_ECONFLICT);
    spin(1);
    assert_true(lq_fake_sock_closed(fd));

    memset(&rec, 0, sizeof rec);
    fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(3);
    lq_fake_sock_feed(fd, "SSH-2.0-OpenSSH_9.2\r\n", 21);
    spin(5);
    assert_int_equal(rec.err, LQ_EPROTO);
    assert_non_null(strstr(conn.error, "malformed HTTP response"));
}

static void test_close_aborts_request(void **state)
{
    (void)state;
    (void)lq_fake_expect_connect(LQ_AGAIN);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    lq_conn_close(&conn);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ECLOSED);
    lq_conn_close(&conn); /* idempotent */
    assert_int_equal(rec.dones, 1);
}

static void test_large_body_sent_from_caller_buffer(void **state)
{
    (void)state;
    static char body[20000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_fake_sock_send_limit(fd, 777); /* partial writes across head and body */
    lq_http_req_t post = { .method = "POST", .target = "/api/v1/namespaces/x/configmaps",
                           .content_type = "application/json", .has_body = true,
                           .body = body, .body_len = sizeof body };
    assert_int_equal(lq_conn_request(&conn, &post, &handler, 5000), LQ_OK);
    spin(40); /* 26 partial writes, then idle iterations of 100 virtual ms */
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    const char *sep = strstr(sent, "\r\n\r\n");
    assert_non_null(sep);
    assert_non_null(strstr(sent, "Content-Length: 20000\r\n"));
    size_t head = (size_t)(sep - sent) + 4;
    assert_int_equal(len, head + sizeof body);
    assert_memory_equal(sent + head, body, sizeof body);
    static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    lq_fake_sock_feed(fd, created, sizeof created - 1);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 201);
    /* A body without has_body is refused before anything is sent. */
    lq_http_req_t bad = post;
    bad.has_body = false;
    assert_int_equal(lq_conn_request(&conn, &bad, &handler, 5000), LQ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_get_keep_alive_and_reuse, setup),
        cmocka_unit_test_setup(test_chunked_stream_byte_at_a_time, setup),
        cmocka_unit_test_setup(test_connect_refused_names_the_server, setup),
        cmocka_unit_test_setup(test_timeout_without_response, setup),
        cmocka_unit_test_setup(test_idle_close_then_transparent_reconnect, setup),
        cmocka_unit_test_setup(test_peer_closes_mid_body, setup),
        cmocka_unit_test_setup(test_owner_abort_and_malformed_response, setup),
        cmocka_unit_test_setup(test_close_aborts_request, setup),
        cmocka_unit_test_setup(test_large_body_sent_from_caller_buffer, setup),
    };
    return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
