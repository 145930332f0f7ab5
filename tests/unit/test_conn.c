/* Unit tests of the connection state machine on the fake port (plain TCP transport):
 * requests, keep-alive reuse, streaming bodies, reconnects, timeouts and failures;
 * streamed (chunked) request bodies and read back-pressure, and the two together piping
 * one connection's response into another's upload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    int bodies;          /* on_body calls */
    int pause_on_head;   /* on_head pauses reading */
    int pause_in_body;   /* every on_body pauses reading */
} rec_t;

static rec_t rec;

static lq_err_t on_head(lq_conn_t *c, const lq_http_resp_t *r, void *ctx)
{
    rec_t *x = ctx;
    x->heads++;
    x->status = r->status;
    if (x->pause_on_head)
        lq_conn_read_pause(c, true);
    return LQ_OK;
}

static lq_err_t on_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    rec_t *x = ctx;
    x->bodies++;
    if (x->pause_in_body)
        lq_conn_read_pause(c, true);
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

static const lq_conn_handler_t handler = { .on_head = on_head, .on_body = on_body,
                                           .on_done = on_done, .ctx = &rec };

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

/* Bytes after a complete keep-alive body (a smuggled or desynchronised second response)
 * are never taken as the answer to the next request: the connection is closed and the
 * next request gets a fresh one (issue 17, finding 9). */
static void test_bytes_after_body_close_the_connection(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(3);
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n{\"gitVersion\":\"v1.36\"}"
                               "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    lq_fake_sock_feed(fd, resp, sizeof resp - 1);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK); /* the first answer is whole and good */
    assert_int_equal(rec.status, 200);
    assert_true(lq_fake_sock_closed(fd));
    assert_int_equal(conn.stats.trailing_garbage, 1);

    memset(&rec, 0, sizeof rec);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(3);
    assert_int_equal(rec.dones, 0); /* nothing left over answers it */
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    lq_fake_sock_feed(fd2, ok, sizeof ok - 1);
    spin(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 200);
    assert_int_equal(conn.stats.connects, 2);
}

/* A body that stops arriving fails after the idle time; time paused by the owner does
 * not count, and each byte starts the wait again (issue 17, finding 3). */
static void test_body_stall_deadline(void **state)
{
    (void)state;
    lq_conn_set_body_idle(&conn, 5000);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    spin(3);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    spin(2);
    assert_int_equal(conn.state, LQ_CONN_BODY);
    lq_fake_clock_advance(4000); /* past the head timeout: no longer relevant */
    spin(2);
    lq_fake_sock_feed(fd, "d", 1); /* one byte: the wait starts again */
    spin(2);
    lq_fake_clock_advance(4000);
    spin(2);
    assert_int_equal(rec.dones, 0);
    lq_conn_read_pause(&conn, true);
    lq_fake_clock_advance(60000); /* paused: the owner's time */
    spin(2);
    assert_int_equal(rec.dones, 0);
    lq_conn_read_pause(&conn, false);
    spin(2);
    lq_fake_clock_advance(4000);
    spin(2);
    assert_int_equal(rec.dones, 0);
    lq_fake_clock_advance(1500);
    spin(2);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_non_null(strstr(conn.error, "response stalled: nothing received for 5000 ms"));
    assert_int_equal(conn.stats.body_stalls, 1);
    assert_true(lq_fake_sock_closed(fd));
}

/* Runs the loop without letting the fake clock move (nothing waits). */
static void spin0(int n)
{
    for (int i = 0; i < n && rec.dones == 0; i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
}

/* Moves the fake clock to t (never back). */
static void clock_to(int64_t t)
{
    int64_t now = lq_port_mono_ms();
    if (t > now)
        lq_fake_clock_advance(t - now);
}

/* A server that trickles one body byte a second never trips the idle deadline but is cut
 * at the total deadline, counted from the request, with the connection closed; the next
 * request connects again (issue 17, finding 3). */
static void test_total_deadline_cuts_trickle(void **state)
{
    (void)state;
    lq_conn_set_body_idle(&conn, 30000);
    lq_conn_set_total(&conn, 60000);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    int64_t t0 = lq_port_mono_ms();
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 30000), LQ_OK);
    spin0(3);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    spin0(3);
    assert_int_equal(conn.state, LQ_CONN_BODY);
    int64_t cut = -1;
    for (int s = 1; s <= 120 && cut < 0; s++) {
        clock_to(t0 + (int64_t)s * 1000 - 1);
        spin0(3);
        if (rec.dones > 0) {
            cut = lq_port_mono_ms() - t0;
            break;
        }
        lq_fake_sock_feed(fd, "x", 1);
        spin0(3);
        clock_to(t0 + (int64_t)s * 1000);
        spin0(3);
        if (rec.dones > 0)
            cut = lq_port_mono_ms() - t0;
    }
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_true(cut >= 60000 && cut < 61000);
    assert_int_equal(rec.body_len, 60); /* one byte a second, the last just before the cut */
    assert_non_null(strstr(conn.error, "home API server 127.0.0.1:6443: request not complete "
                                       "within 60000 ms (total deadline)"));
    assert_int_equal(conn.stats.deadlines, 1);
    assert_int_equal(conn.stats.body_stalls, 0);
    assert_int_equal(conn.stats.failures, 1);
    assert_int_equal(conn.state, LQ_CONN_IDLE);
    spin0(1); /* reap */
    assert_true(lq_fake_sock_closed(fd));
    /* A late byte or timer changes nothing; the next request connects again. */
    lq_fake_clock_advance(120000);
    spin0(3);
    assert_int_equal(rec.dones, 1);
    memset(&rec, 0, sizeof rec);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 30000), LQ_OK);
    lq_fake_sock_feed(fd2, "HTTP/1.1 204 No Content\r\n\r\n", 27);
    spin0(5);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(conn.stats.connects, 2);
}

/* The total deadline runs per request: one that ends in time stops it, and the next one
 * (on the kept-alive connection) has the whole deadline again. A slow head also counts:
 * the deadline covers the wait for the head when the head timeout is longer. */
static void test_total_deadline_per_request(void **state)
{
    (void)state;
    lq_conn_set_total(&conn, 10000);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 0), LQ_OK);
    spin0(3);
    lq_fake_clock_advance(9000);
    spin0(3);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    lq_fake_sock_feed(fd, ok, sizeof ok - 1);
    spin0(3);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    memset(&rec, 0, sizeof rec);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 0), LQ_OK);
    assert_int_equal(conn.stats.reuses, 1);
    spin0(3);
    lq_fake_clock_advance(9000); /* 18 s since the first request: the clock started again */
    spin0(3);
    assert_int_equal(rec.dones, 0);
    lq_fake_clock_advance(1000);
    spin0(3);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_non_null(strstr(conn.error, "not complete within 10000 ms"));
    assert_int_equal(conn.stats.deadlines, 1);
    spin0(1);
    assert_true(lq_fake_sock_closed(fd));
}

/* Without a total deadline (watches) a stream that brings a byte within every idle period
 * lives on: ten minutes of a byte every 20 s. */
static void test_no_total_deadline_for_streams(void **state)
{
    (void)state;
    lq_conn_set_body_idle(&conn, 30000);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_http_req_t w = { .method = "GET", .target = "/api/v1/pods?watch=1" };
    assert_int_equal(lq_conn_request(&conn, &w, &handler, 0), LQ_OK);
    spin0(3);
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    spin0(3);
    for (int i = 0; i < 30; i++) {
        lq_fake_clock_advance(20000);
        spin0(3);
        lq_fake_sock_feed(fd, "1\r\nx\r\n", 6);
        spin0(3);
    }
    assert_int_equal(rec.dones, 0);
    assert_int_equal(rec.body_len, 30);
    assert_int_equal(conn.stats.deadlines, 0);
    lq_fake_clock_advance(30000); /* the idle deadline still holds */
    spin0(3);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_int_equal(conn.stats.body_stalls, 1);
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

/* ---- streamed request bodies ------------------------------------------------------ */

/* The bytes of a test upload: position-dependent, so a lost, doubled or re-ordered
 * byte shows. */
static char pattern(size_t i)
{
    return (char)((i * 131u + (i >> 9) + 7u) & 0xffu);
}

/* A scripted producer: `total` bytes cut into pieces of sizes[] (cycled), LQ_AGAIN on
 * every again_every-th call (0: never), an abort on call abort_at (0: never). */
typedef struct {
    size_t total, made;
    const size_t *sizes;
    size_t nsizes;
    int calls, pieces;
    int again_every;
    int abort_at;
    int waiting;        /* said LQ_AGAIN, not resumed yet */
    int called_waiting; /* on_send called while waiting: a bug */
    int eof_given;
    int endless;        /* ignore total: always bytes */
    lq_port_fd_t fd_on_call; /* feed `answer` and close the peer on call answer_at */
    int answer_at;
    const char *answer;
} prod_t;

static prod_t prod;

static lq_err_t prod_send(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof,
                          void *ctx)
{
    (void)c;
    (void)ctx;
    prod_t *p = &prod;
    if (p->waiting)
        p->called_waiting++;
    p->calls++;
    assert_int_equal(*len, 0);
    assert_false(*eof);
    assert_int_equal(cap, LQ_CONN_SEND_CAP);
    if (p->answer_at && p->calls == p->answer_at) {
        /* the server answers and hangs up while the body is still going out */
        lq_fake_sock_feed(p->fd_on_call, p->answer, strlen(p->answer));
        lq_fake_sock_close_peer(p->fd_on_call);
    }
    if (p->abort_at && p->calls == p->abort_at)
        return LQ_ECONFLICT;
    if (p->again_every && p->calls % p->again_every == 0) {
        p->waiting = 1;
        return LQ_AGAIN;
    }
    size_t n = p->sizes[(size_t)p->pieces % p->nsizes];
    if (n > cap)
        n = cap;
    if (!p->endless && n > p->total - p->made)
        n = p->total - p->made;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(p->made + i);
    p->made += n;
    *len = n;
    if (n > 0)
        p->pieces++;
    if (!p->endless && p->made == p->total) {
        *eof = true;
        p->eof_given = 1;
    }
    return LQ_OK;
}

/* What the fake API server has read of the upload. */
static char up[400u * 1024u];
static size_t up_len;

static void drain(lq_port_fd_t fd)
{
    size_t n;
    const char *p = lq_fake_sock_sent(fd, &n);
    assert_true(up_len + n <= sizeof up);
    memcpy(up + up_len, p, n);
    up_len += n;
    lq_fake_sock_sent_consume(fd, n);
}

/* A strict chunked decoder, written apart from src/kube/http.c so the two cannot share
 * a mistake: returns the bytes after the request head that were framing-valid, fills
 * out with the payload, counts data chunks and says whether the last chunk came. Any
 * framing error fails the test. */
static size_t dechunk(const char *p, size_t n, char *out, size_t cap, size_t *out_len,
                      int *chunks, int *complete)
{
    size_t i = 0;
    *out_len = 0;
    *chunks = 0;
    *complete = 0;
    while (i < n) {
        size_t sz = 0, start = i;
        while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            sz = sz * 16u + (size_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
            i++;
        }
        if (i == n)
            return start; /* size line cut by the end of what was sent */
        assert_true(i > start);
        assert_true(i - start == 1 || p[start] != '0'); /* no leading zeros */
        if (i + 2 > n)
            return start;
        assert_memory_equal(p + i, "\r\n", 2);
        i += 2;
        if (sz == 0) {
            if (i + 2 > n)
                return start;
            assert_memory_equal(p + i, "\r\n", 2);
            i += 2;
            *complete = 1;
            assert_int_equal(i, n); /* nothing after the last chunk */
            return i;
        }
        if (i + sz + 2 > n)
            return start;
        assert_true(*out_len + sz <= cap);
        memcpy(out + *out_len, p + i, sz);
        *out_len += sz;
        i += sz;
        assert_memory_equal(p + i, "\r\n", 2);
        i += 2;
        (*chunks)++;
    }
    return i;
}

/* Splits up[] into the request head and the decoded body. */
static char got_body[400u * 1024u];
static size_t got_len;
static int got_chunks, got_complete;
static size_t head_len;

static void decode_upload(void)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 4 <= up_len; i++) {
        if (memcmp(up + i, "\r\n\r\n", 4) == 0) {
            sep = up + i;
            break;
        }
    }
    assert_non_null(sep);
    head_len = (size_t)(sep - up) + 4;
    size_t used = dechunk(up + head_len, up_len - head_len, got_body, sizeof got_body,
                          &got_len, &got_chunks, &got_complete);
    if (got_complete)
        assert_int_equal(head_len + used, up_len);
}

static bool head_has(const char *line)
{
    size_t n = strlen(line);
    for (size_t i = 0; i + n <= head_len; i++)
        if (memcmp(up + i, line, n) == 0)
            return true;
    return false;
}

static const lq_http_req_t patch_req = { .method = "PATCH",
                                         .target = "/api/v1/namespaces/a/configmaps/big",
                                         .content_type = "application/merge-patch+json" };
static const lq_conn_handler_t up_handler = { .on_head = on_head, .on_body = on_body,
                                              .on_done = on_done, .ctx = &rec,
                                              .on_send = prod_send };

/* A fresh producer of `total` bytes (0: endless) in pieces of sizes[], and an empty
 * peer. */
static void stream_setup(const size_t *sizes, size_t nsizes, size_t total, int again_every)
{
    memset(&prod, 0, sizeof prod);
    prod.sizes = sizes;
    prod.nsizes = nsizes;
    prod.total = total;
    prod.endless = total == 0;
    prod.again_every = again_every;
    up_len = 0;
    got_len = 0;
}

/* ~300 KiB in pieces of many sizes, LQ_AGAIN every third call with a resume from the
 * test, partial socket writes: the peer decodes exactly the bytes produced, one chunk
 * per piece, then the last chunk; the response comes as usual and the connection stays
 * open. */
static void test_chunked_upload_with_again_and_resume(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 700, LQ_CONN_SEND_CAP, 4096, 5, LQ_CONN_SEND_CAP - 1 };
    stream_setup(sizes, sizeof sizes / sizeof sizes[0], 300u * 1024u + 17u, 3);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_fake_sock_send_limit(fd, 3001); /* chunks split across writes */
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    int resumes = 0;
    for (int i = 0; i < 5000 && !(got_complete && prod.eof_given); i++) {
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
        drain(fd);
        if (prod.waiting) {
            int calls = prod.calls;
            prod.waiting = 0;
            lq_conn_send_resume(&conn);
            assert_int_equal(prod.calls, calls); /* never from inside the resume */
            resumes++;
        }
        if (prod.eof_given)
            decode_upload();
    }
    assert_int_equal(prod.called_waiting, 0);
    assert_true(resumes > 20);
    assert_int_equal(rec.dones, 0);
    decode_upload();
    assert_true(got_complete);
    assert_int_equal(got_len, prod.total);
    for (size_t i = 0; i < got_len; i++)
        if (got_body[i] != pattern(i))
            fail_msg("upload byte %zu differs", i);
    assert_int_equal(got_chunks, prod.pieces);
    assert_int_equal(conn.stats.chunks_out, (uint64_t)prod.pieces + 1u);
    assert_true(head_has("PATCH /api/v1/namespaces/a/configmaps/big HTTP/1.1\r\n"));
    assert_true(head_has("\r\nContent-Type: application/merge-patch+json\r\n"));
    assert_true(head_has("\r\nTransfer-Encoding: chunked\r\n"));
    assert_false(head_has("Content-Length"));
    assert_int_equal(conn.state, LQ_CONN_HEAD);
    /* A resume with nothing to resume is a no-op. */
    int calls = prod.calls;
    lq_conn_send_resume(&conn);
    spin(2);
    assert_int_equal(prod.calls, calls);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    lq_fake_sock_feed(fd, ok, sizeof ok - 1);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 200);
    assert_false(lq_fake_sock_closed(fd)); /* a complete request: keep-alive */

    /* The next request on the same connection is a plain one again. */
    memset(&rec, 0, sizeof rec);
    lq_fake_sock_sent_consume(fd, SIZE_MAX);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 5000), LQ_OK);
    spin(2);
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    assert_true(len > 0);
    assert_null(strstr(sent, "chunked"));
}

/* A producer error mid-body and a close while the producer waits: the connection is
 * closed without the last chunk (the server must discard the request), on_done gets
 * the error. */
static void test_chunked_abort_mid_body(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1000 };
    stream_setup(sizes, 1, 100000, 0);
    prod.abort_at = 4;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    spin(20);
    drain(fd);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ECONFLICT);
    assert_non_null(strstr(conn.error, "request body aborted by its producer"));
    assert_int_equal(prod.calls, 4);
    decode_upload();
    assert_int_equal(got_chunks, 3);
    assert_int_equal(got_len, 3000);
    assert_false(got_complete);
    (void)lq_loop_run_once(&loop, 10); /* reap */
    assert_true(lq_fake_sock_closed(fd));
    assert_int_equal(conn.state, LQ_CONN_IDLE);

    /* The owner closes while the producer waits for bytes. */
    memset(&rec, 0, sizeof rec);
    stream_setup(sizes, 1, 100000, 3);
    fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    spin(5);
    assert_true(prod.waiting);
    lq_conn_close(&conn);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ECLOSED);
    drain(fd);
    decode_upload();
    assert_int_equal(got_len, 2000);
    assert_false(got_complete);
    lq_conn_send_resume(&conn); /* too late: nothing happens */
    for (int i = 0; i < 3; i++)
        (void)lq_loop_run_once(&loop, 10);
    assert_int_equal(prod.calls, 3);
    assert_true(lq_fake_sock_closed(fd));
}

/* The API server rejects the request while its body is still being produced: the
 * upload stops (no more on_send, no last chunk), the error response is delivered whole
 * and the connection is closed after it. Then the same with a server that answers
 * and hangs up, so that the next write fails: the answer is still read. */
static void test_chunked_early_error_response(void **state)
{
    (void)state;
    static const size_t sizes[] = { 2048 };
    static const char too_large[] =
        "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
        "Content-Length: 44\r\n\r\n{\"kind\":\"Status\",\"reason\":\"RequestTooLarge\"}";
    stream_setup(sizes, 1, 0, 4);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    spin(5);
    assert_true(prod.waiting);
    lq_fake_sock_feed(fd, too_large, sizeof too_large - 1);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 413);
    assert_int_equal(rec.body_len, 44);
    assert_memory_equal(rec.body, "{\"kind\":\"Status\",\"reason\":\"RequestTooLarge\"}", 44);
    assert_int_equal(conn.stats.early_responses, 1);
    int calls = prod.calls;
    lq_conn_send_resume(&conn);
    spin(3);
    assert_int_equal(prod.calls, calls);
    drain(fd);
    decode_upload();
    assert_false(got_complete);
    assert_int_equal(got_len, 3u * 2048u);
    assert_true(lq_fake_sock_closed(fd)); /* the request on the wire was incomplete */

    /* Answer and hang up during a burst: the write fails, the answer is read. */
    memset(&rec, 0, sizeof rec);
    static const char forbidden[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    stream_setup(sizes, 1, 0, 0);
    fd = lq_fake_expect_connect(LQ_OK);
    prod.fd_on_call = fd;
    prod.answer_at = 3;
    prod.answer = forbidden;
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.status, 403);
    assert_int_equal(prod.calls, 3);

    /* Hang up without an answer: the request fails and says so. */
    memset(&rec, 0, sizeof rec);
    stream_setup(sizes, 1, 0, 0);
    fd = lq_fake_expect_connect(LQ_OK);
    prod.fd_on_call = fd;
    prod.answer_at = 2;
    prod.answer = "";
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 5000), LQ_OK);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ECLOSED);
    assert_non_null(strstr(conn.error, "connection lost while sending the request body"));
}

/* While a streamed body is produced, the timeout counts from the last chunk sent: a
 * body that keeps coming outlives the timeout; one that stalls fails after it. */
static void test_chunked_idle_timeout(void **state)
{
    (void)state;
    static const size_t sizes[] = { 100 };
    stream_setup(sizes, 1, 0, 0);
    prod.again_every = 2; /* one piece, then wait */
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &patch_req, &up_handler, 1000), LQ_OK);
    int64_t start = lq_port_mono_ms(), last = start;
    for (int round = 0; round < 5; round++) { /* 5 x 800 ms, far past 1000 ms in all */
        while (lq_port_mono_ms() - last < 800) {
            assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
            assert_int_equal(rec.dones, 0);
        }
        assert_true(prod.waiting);
        prod.waiting = 0;
        lq_conn_send_resume(&conn);
        int pieces = prod.pieces;
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
        assert_int_equal(prod.pieces, pieces + 1);
        last = lq_port_mono_ms();
    }
    assert_true(last - start > 3000);
    assert_int_equal(rec.dones, 0);
    /* Now the producer stalls. */
    while (rec.dones == 0 && lq_port_mono_ms() - last < 5000)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_ETIMEDOUT);
    assert_true(lq_port_mono_ms() - last >= 1000);
    assert_true(lq_port_mono_ms() - last <= 1100);
    assert_non_null(strstr(conn.error, "request body stalled: nothing sent for 1000 ms"));
    drain(fd);
    decode_upload();
    assert_false(got_complete);
    assert_int_equal(got_chunks, 6);
}

/* ---- read back-pressure ------------------------------------------------------------ */

static const char chunked_head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
static const char chunked_rest[] = "5\r\nhello\r\n7\r\n, world\r\n1\r\n!\r\n0\r\n\r\n";

/* Paused after the head: the rest of the response arrives, nothing is delivered and
 * the loop sleeps (no spinning on unread bytes), the request timeout does not fire;
 * the un-pause calls nothing itself, and the loop then delivers everything in order,
 * the end included. */
static void test_read_pause_resume_buffered(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    lq_fake_sock_feed(fd, chunked_head, sizeof chunked_head - 1);
    spin(3);
    assert_int_equal(rec.heads, 1);
    lq_conn_read_pause(&conn, true);
    lq_conn_read_pause(&conn, true); /* idempotent */
    lq_fake_sock_feed(fd, chunked_rest, sizeof chunked_rest - 1);
    int64_t slept = lq_fake_slept_ms();
    spin(30); /* 3 virtual seconds, three times the request timeout */
    assert_int_equal(rec.bodies, 0);
    assert_int_equal(rec.dones, 0);
    assert_true(lq_fake_slept_ms() - slept >= 2900);
    lq_conn_read_pause(&conn, false);
    assert_int_equal(rec.bodies, 0); /* nothing from inside the call */
    assert_int_equal(rec.dones, 0);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.body_len, 13);
    assert_memory_equal(rec.body, "hello, world!", 13);
    assert_false(lq_fake_sock_closed(fd));

    /* Paused from on_head, the body already in the receive buffer behind the head. */
    memset(&rec, 0, sizeof rec);
    rec.pause_on_head = 1;
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    spin(2);
    lq_fake_sock_feed(fd, chunked_head, sizeof chunked_head - 1);
    lq_fake_sock_feed(fd, chunked_rest, sizeof chunked_rest - 1);
    spin(20);
    assert_int_equal(rec.heads, 1);
    assert_int_equal(rec.bodies, 0);
    assert_int_equal(rec.dones, 0);
    lq_conn_read_pause(&conn, false);
    assert_int_equal(rec.bodies, 0);
    spin(5);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_memory_equal(rec.body, "hello, world!", 13);

    /* A connection that breaks while paused fails the request (no spinning on the
     * error either). */
    memset(&rec, 0, sizeof rec);
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    spin(2);
    lq_fake_sock_feed(fd, chunked_head, sizeof chunked_head - 1);
    spin(2);
    lq_conn_read_pause(&conn, true);
    lq_fake_sock_fail(fd, 104);
    spin(3);
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_EIO);
    assert_non_null(strstr(conn.error, "broke while reading was paused"));
}

/* on_body pauses after every piece: exactly one piece per un-pause, in order, and the
 * response end only after the un-pause that follows the last piece. */
static void test_pause_from_on_body(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    rec.pause_in_body = 1;
    assert_int_equal(lq_conn_request(&conn, &get_version, &handler, 1000), LQ_OK);
    lq_fake_sock_feed(fd, chunked_head, sizeof chunked_head - 1);
    lq_fake_sock_feed(fd, chunked_rest, sizeof chunked_rest - 1);
    lq_fake_sock_recv_chunk(fd, 9); /* several pieces */
    spin(10);
    assert_int_equal(rec.heads, 1);
    int rounds = 0;
    while (rec.dones == 0 && rounds < 100) {
        int bodies = rec.bodies;
        size_t len = rec.body_len;
        spin(5); /* paused: nothing moves */
        assert_int_equal(rec.bodies, bodies);
        assert_int_equal(rec.body_len, len);
        lq_conn_read_pause(&conn, false);
        for (int i = 0; i < 20 && rec.bodies == bodies && rec.dones == 0; i++)
            assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
        assert_true(rec.bodies <= bodies + 1);
        assert_memory_equal(rec.body, "hello, world!", rec.body_len);
        rounds++;
    }
    assert_int_equal(rec.dones, 1);
    assert_int_equal(rec.err, LQ_OK);
    assert_int_equal(rec.body_len, 13);
    assert_true(rec.bodies >= 3);
    /* The first piece came without an un-pause; every later one took one, and so did
     * the end: had it come with the last piece, rounds would be bodies - 1. */
    assert_int_equal(rounds, rec.bodies);
}

/* ---- the two together: a GET piped into a chunked PATCH ---------------------------- */

/* The owner's ring between the two connections. It must hold one piece of on_body (up
 * to LQ_CONN_RX_BUF) beyond the level at which home is paused. */
#define RING_CAP (LQ_CONN_RX_BUF + 4096u)
static struct {
    char buf[RING_CAP];
    size_t head, used, peak;
    bool home_done, home_paused;
    lq_err_t home_err;
    int foreign_dones;
    lq_err_t foreign_err;
    int foreign_status;
    lq_conn_t *home, *foreign;
} pipe_;

static lq_err_t home_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    (void)ctx;
    assert_true(n <= RING_CAP - pipe_.used); /* the pause came in time */
    for (size_t i = 0; i < n; i++)
        pipe_.buf[(pipe_.head + pipe_.used + i) % RING_CAP] = d[i];
    pipe_.used += n;
    if (pipe_.used > pipe_.peak)
        pipe_.peak = pipe_.used;
    if (RING_CAP - pipe_.used < LQ_CONN_RX_BUF) {
        lq_conn_read_pause(c, true);
        pipe_.home_paused = true;
    }
    lq_conn_send_resume(pipe_.foreign);
    return LQ_OK;
}

static void home_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    (void)c;
    (void)ctx;
    pipe_.home_done = true;
    pipe_.home_err = err;
    lq_conn_send_resume(pipe_.foreign);
}

static lq_err_t foreign_send(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof,
                             void *ctx)
{
    (void)c;
    (void)ctx;
    if (pipe_.used == 0) {
        if (!pipe_.home_done)
            return LQ_AGAIN;
        if (pipe_.home_err != LQ_OK)
            return pipe_.home_err; /* never complete a body whose source failed */
        *eof = true;
        return LQ_OK;
    }
    size_t n = pipe_.used < cap ? pipe_.used : cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = pipe_.buf[(pipe_.head + i) % RING_CAP];
    pipe_.head = (pipe_.head + n) % RING_CAP;
    pipe_.used -= n;
    if (pipe_.home_paused && RING_CAP - pipe_.used >= LQ_CONN_RX_BUF) {
        pipe_.home_paused = false;
        lq_conn_read_pause(pipe_.home, false);
    }
    *len = n;
    return LQ_OK;
}

static lq_err_t foreign_head(lq_conn_t *c, const lq_http_resp_t *r, void *ctx)
{
    (void)c;
    (void)ctx;
    pipe_.foreign_status = r->status;
    return LQ_OK;
}

static void foreign_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    (void)c;
    (void)ctx;
    pipe_.foreign_dones++;
    pipe_.foreign_err = err;
}

/* A ConfigMap of ~300 KiB streamed from home (chunked GET response, fed in parts) into
 * a chunked PATCH to foreign through a ring of RING_CAP bytes: the foreign peer gets
 * the same bytes, the ring never holds more than its capacity, and both requests end
 * well. */
static void test_pipe_get_into_chunked_patch(void **state)
{
    (void)state;
    static lq_conn_t foreign;
    static const lq_conn_target_t ftarget = { "127.0.0.2", 6443, NULL, -1, "foreign" };
    memset(&pipe_, 0, sizeof pipe_);
    pipe_.home = &conn;
    pipe_.foreign = &foreign;
    stream_setup(NULL, 0, 0, 0);
    lq_conn_init(&foreign, &loop, &ftarget);
    const size_t total = 300u * 1024u + 333u;
    lq_port_fd_t hfd = lq_fake_expect_connect(LQ_OK);
    const lq_conn_handler_t hh = { .on_body = home_body, .on_done = home_done };
    assert_int_equal(lq_conn_request(&conn, &get_version, &hh, 5000), LQ_OK);
    lq_port_fd_t ffd = lq_fake_expect_connect(LQ_OK);
    const lq_conn_handler_t fh = { .on_head = foreign_head, .on_done = foreign_done,
                                   .on_send = foreign_send };
    assert_int_equal(lq_conn_request(&foreign, &patch_req, &fh, 5000), LQ_OK);
    lq_fake_sock_feed(hfd, chunked_head, sizeof chunked_head - 1);
    lq_fake_sock_send_limit(ffd, 5000); /* foreign is slower than home */
    size_t fed = 0;
    static char piece[12000];
    for (int i = 0; i < 20000 && pipe_.foreign_dones == 0; i++) {
        /* home sends its body in chunks of varying size as room frees up */
        if (fed < total) {
            size_t n = 1000u + (size_t)(i * 977) % 9000u;
            if (n > total - fed)
                n = total - fed;
            char line[16];
            int l = snprintf(line, sizeof line, "%zx\r\n", n);
            for (size_t k = 0; k < n; k++)
                piece[k] = pattern(fed + k);
            if (lq_fake_sock_feed(hfd, line, (size_t)l) == 0) {
                assert_int_equal(lq_fake_sock_feed(hfd, piece, n), 0);
                assert_int_equal(lq_fake_sock_feed(hfd, "\r\n", 2), 0);
                fed += n;
                if (fed == total)
                    assert_int_equal(lq_fake_sock_feed(hfd, "0\r\n\r\n", 5), 0);
            }
        }
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
        drain(ffd);
        if (pipe_.home_done && pipe_.used == 0 && foreign.state == LQ_CONN_HEAD) {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            lq_fake_sock_feed(ffd, ok, sizeof ok - 1);
        }
    }
    assert_true(pipe_.home_done);
    assert_int_equal(pipe_.home_err, LQ_OK);
    assert_int_equal(pipe_.foreign_dones, 1);
    assert_int_equal(pipe_.foreign_err, LQ_OK);
    assert_int_equal(pipe_.foreign_status, 200);
    assert_true(pipe_.peak <= RING_CAP);
    assert_true(pipe_.peak > LQ_CONN_RX_BUF / 2); /* the ring did fill: back-pressure ran */
    assert_true(conn.stats.bytes_in == total);
    decode_upload();
    assert_true(got_complete);
    assert_int_equal(got_len, total);
    for (size_t i = 0; i < got_len; i++)
        if (got_body[i] != pattern(i))
            fail_msg("piped byte %zu differs", i);
    lq_conn_close(&foreign);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_get_keep_alive_and_reuse, setup),
        cmocka_unit_test_setup(test_bytes_after_body_close_the_connection, setup),
        cmocka_unit_test_setup(test_body_stall_deadline, setup),
        cmocka_unit_test_setup(test_total_deadline_cuts_trickle, setup),
        cmocka_unit_test_setup(test_total_deadline_per_request, setup),
        cmocka_unit_test_setup(test_no_total_deadline_for_streams, setup),
        cmocka_unit_test_setup(test_chunked_stream_byte_at_a_time, setup),
        cmocka_unit_test_setup(test_connect_refused_names_the_server, setup),
        cmocka_unit_test_setup(test_timeout_without_response, setup),
        cmocka_unit_test_setup(test_idle_close_then_transparent_reconnect, setup),
        cmocka_unit_test_setup(test_peer_closes_mid_body, setup),
        cmocka_unit_test_setup(test_owner_abort_and_malformed_response, setup),
        cmocka_unit_test_setup(test_close_aborts_request, setup),
        cmocka_unit_test_setup(test_large_body_sent_from_caller_buffer, setup),
        cmocka_unit_test_setup(test_chunked_upload_with_again_and_resume, setup),
        cmocka_unit_test_setup(test_chunked_abort_mid_body, setup),
        cmocka_unit_test_setup(test_chunked_early_error_response, setup),
        cmocka_unit_test_setup(test_chunked_idle_timeout, setup),
        cmocka_unit_test_setup(test_read_pause_resume_buffered, setup),
        cmocka_unit_test_setup(test_pause_from_on_body, setup),
        cmocka_unit_test_setup(test_pipe_get_into_chunked_patch, setup),
    };
    return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
