/* Unit tests of the management endpoint's HTTP listener (src/mgmt/http.c) over the fake
 * port: the listener, its connections and the loop run as in the agent, the clients are
 * scripted connections (lq_fake_accept_push) and time is virtual. The listener is driven
 * on its own, with a test source instead of the service object, which also shows that it
 * needs nothing of the CoAP side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/loop.h"
#include "liqolet/mgmt_http.h"
#include "liqolet/pool.h"
#include "lq_fake.h"

static lq_loop_t loop;
static lq_mgmt_http_t http;
static lq_mgmt_snapshot_t snap;
static lq_mgmt_stats_t stats;
static unsigned views;
static char names[LQ_MAX_NAMESPACES][32];

static void test_view(void *ctx, lq_mgmt_view_t *v, bool fresh)
{
    (void)ctx;
    (void)fresh;
    views++;
    memset(v, 0, sizeof *v);
    v->snap = &snap;
    v->uptime_ms = 1234;
    v->version = "1.2.3";
    v->board = "host";
}

static const lq_mgmt_source_t source = { test_view, NULL, &stats };

static int setup(void **st)
{
    (void)st;
    lq_fake_reset();
    memset(&snap, 0, sizeof snap);
    snap.home = (lq_mgmt_cluster_t){ "home-uid", "home", "10.0.0.1:6443", true, false };
    snap.foreign = (lq_mgmt_cluster_t){ "foreign-uid", "fore", "10.0.0.2:6443", true, false };
    snap.vnode.name = "liqo-edge";
    snap.vnode.registered = true;
    snap.vnode.lock_held = true;
    memset(&stats, 0, sizeof stats);
    views = 0;
    lq_loop_init(&loop);
    lq_mgmt_http_init(&http);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    lq_mgmt_http_close(&http);
    (void)lq_loop_run_once(&loop, 0);
    return 0;
}

/* Starts on 127.0.0.1 port 0; returns the listening descriptor. */
static lq_port_fd_t start(void)
{
    static const lq_config_addr_t a = { "127.0.0.1", 0 };
    assert_int_equal(lq_mgmt_http_start(&http, &loop, &a, 1, &source), LQ_OK);
    lq_port_fd_t ls = lq_fake_last_listen_fd();
    assert_true(ls >= 0);
    assert_string_equal(lq_fake_last_listen_addr(), "127.0.0.1");
    return ls;
}

static void pump_until_closed(lq_port_fd_t fd)
{
    for (int i = 0; i < 200 && !lq_fake_sock_closed(fd); i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
}

typedef struct answer {
    int status;
    char head[512];
    const char *body; /* into the fake socket's sent bytes */
    size_t body_len;
    size_t content_length;
} answer_t;

/* Splits what the listener sent on fd into status, head and body; checks the framing. */
static answer_t answer_of(lq_port_fd_t fd)
{
    answer_t a;
    memset(&a, 0, sizeof a);
    size_t len = 0;
    const char *out = lq_fake_sock_sent(fd, &len);
    const char *end = NULL;
    for (size_t i = 0; i + 4 <= len && end == NULL; i++)
        if (memcmp(out + i, "\r\n\r\n", 4) == 0)
            end = out + i + 4;
    assert_non_null(end);
    size_t hl = (size_t)(end - out);
    assert_true(hl < sizeof a.head);
    memcpy(a.head, out, hl);
    a.head[hl] = '\0';
    assert_int_equal(strncmp(a.head, "HTTP/1.1 ", 9), 0);
    a.status = atoi(a.head + 9);
    const char *cl = strstr(a.head, "\r\nContent-Length: ");
    assert_non_null(cl);
    a.content_length = (size_t)strtoul(cl + 18, NULL, 10);
    assert_non_null(strstr(a.head, "\r\nConnection: close\r\n"));
    a.body = end;
    a.body_len = len - hl;
    return a;
}

/* One client: connects, sends req (in chunks of `chunk` bytes per recv; 0 = at once),
 * and reads until the listener closes. */
static answer_t ask(lq_port_fd_t ls, const char *req, size_t chunk)
{
    lq_port_fd_t c = lq_fake_accept_push(ls, "127.0.0.1:50000");
    assert_true(c >= 0);
    lq_fake_sock_recv_chunk(c, chunk);
    assert_int_equal(lq_fake_sock_feed(c, req, strlen(req)), 0);
    pump_until_closed(c);
    assert_true(lq_fake_sock_closed(c));
    return answer_of(c);
}

static void test_healthz_200(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    uint16_t port = 0;
    assert_int_equal(lq_port_local_port(ls, &port), LQ_OK);
    assert_int_equal(http.ports[0], port);
    assert_non_null(strstr(lq_fake_log_text(), "HTTP listening on http://127.0.0.1:"));

    answer_t a = ask(ls, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.content_length, 3);
    assert_int_equal(a.body_len, 3);
    assert_memory_equal(a.body, "ok\n", 3);
    assert_non_null(strstr(a.head, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_int_equal(stats.http_requests, 1);
    /* The same, one byte per recv, and HEAD (no body). */
    a = ask(ls, "GET /healthz HTTP/1.0\n\n", 1);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body_len, 3);
    a = ask(ls, "HEAD /healthz HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.content_length, 3);
    assert_int_equal(a.body_len, 0);
    assert_int_equal(stats.http_requests, 3);
}

static void test_readyz_503_with_reasons(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    answer_t a = ask(ls, "GET /readyz HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body_len, strlen("ready\n"));
    assert_memory_equal(a.body, "ready\n", a.body_len);

    snap.foreign.reachable = false;
    snap.vnode.lock_held = false;
    a = ask(ls, "GET /readyz HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.head, "503 Service Unavailable\r\n"));
    static const char want[] =
        "not ready: foreign API server unreachable; waiting for the single-instance Lease\n";
    assert_int_equal(a.content_length, strlen(want));
    assert_int_equal(a.body_len, strlen(want));
    assert_memory_equal(a.body, want, strlen(want));
}

static void test_unknown_path_404_and_method_405(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    answer_t a = ask(ls, "GET /status HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 404);
    assert_int_equal(a.body_len, a.content_length);
    assert_non_null(strstr(a.body, "only /healthz, /readyz and /metrics"));
    a = ask(ls, "GET /healthzz HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 404);
    a = ask(ls, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.head, "\r\nAllow: GET, HEAD\r\n"));
    assert_int_equal(stats.http_requests, 3);
}

static void test_oversized_or_malformed_head_400(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    /* A head that never ends within LQ_MGMT_HTTP_REQ_MAX bytes. */
    static char huge[LQ_MGMT_HTTP_REQ_MAX + 64];
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX-Pad: ", 30);
    memset(huge + 30, 'a', sizeof huge - 31);
    huge[sizeof huge - 1] = '\0';
    answer_t a = ask(ls, huge, 0);
    assert_int_equal(a.status, 400);
    assert_int_equal(a.body_len, a.content_length);
    /* Exactly full without the empty line: also 400, not a wait for more. */
    huge[LQ_MGMT_HTTP_REQ_MAX] = '\0';
    a = ask(ls, huge, 0);
    assert_int_equal(a.status, 400);
    a = ask(ls, "GET metrics HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(a.status, 400);
    a = ask(ls, "GET /metrics HTTP/2\r\n\r\n", 0);
    assert_int_equal(a.status, 400);
}

/* Renders the whole representation block by block, as a client of the pure core. */
static size_t render_whole(lq_mgmt_res_t res, char *out, size_t cap)
{
    size_t len = 0;
    for (uint32_t num = 0;; num++) {
        lq_mgmt_view_t v;
        test_view(NULL, &v, true);
        lq_mgmt_req_t q;
        memset(&q, 0, sizeof q);
        q.res = res;
        q.accept = -1;
        q.max_block = 1024;
        q.has_block2 = true;
        q.block2 = num << 4 | 6;
        char buf[1024];
        lq_mgmt_resp_t r;
        assert_int_equal(lq_mgmt_render_response(&v, &q, NULL, buf, sizeof buf, &r), LQ_OK);
        assert_int_equal(r.code, 205);
        assert_true(len + r.len <= cap);
        memcpy(out + len, buf, r.len);
        len += r.len;
        if (!(r.block2_value & 0x8u))
            return len;
    }
}

static void fill_big_snapshot(void)
{
    snap.n_ns = 40;
    for (size_t i = 0; i < snap.n_ns; i++) {
        snprintf(names[i], sizeof names[i], "namespace-%02u", (unsigned)i);
        snap.ns[i] = (lq_mgmt_ns_t){ .local = names[i], .remote = names[i], .state = "Ready" };
        snap.ns[i].items[LQ_MGMT_KIND_POD] = i;
    }
}

static void test_metrics_streamed_in_windows(void **st)
{
    (void)st;
    fill_big_snapshot();
    static char want[64 * 1024];
    size_t wl = render_whole(LQ_MGMT_RES_METRICS, want, sizeof want);
    assert_true(wl > 3 * LQ_MGMT_HTTP_REQ_MAX); /* more than one window */

    lq_port_fd_t ls = start();
    lq_port_fd_t c = lq_fake_accept_push(ls, "[::1]:50000");
    lq_fake_sock_send_limit(c, 333); /* partial sends that straddle the windows */
    const char *req = "GET /metrics?x=1 HTTP/1.1\r\n\r\n";
    assert_int_equal(lq_fake_sock_feed(c, req, strlen(req)), 0);
    pump_until_closed(c);
    answer_t a = answer_of(c);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.head, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert_int_equal(a.content_length, wl);
    assert_int_equal(a.body_len, wl);
    assert_memory_equal(a.body, want, wl);
}

static void test_body_changed_while_sent_is_cut_short(void **st)
{
    (void)st;
    fill_big_snapshot();
    lq_port_fd_t ls = start();
    lq_port_fd_t c = lq_fake_accept_push(ls, NULL);
    const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
    assert_int_equal(lq_fake_sock_feed(c, req, strlen(req)), 0);
    /* The client reads nothing after the head and a window and a half... */
    lq_fake_sock_send_budget(c, 1800);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_false(lq_fake_sock_closed(c));
    size_t sent = 0;
    (void)lq_fake_sock_sent(c, &sent);
    assert_int_equal(sent, 1800);
    /* ...the agent changes, then the client reads on. */
    snap.ns[3].items[LQ_MGMT_KIND_POD] = 999;
    lq_fake_sock_send_budget(c, SIZE_MAX);
    pump_until_closed(c);
    answer_t a = answer_of(c);
    assert_int_equal(a.status, 200);
    assert_true(a.body_len < a.content_length);
}

static void test_idle_connection_times_out(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    lq_port_fd_t c = lq_fake_accept_push(ls, NULL);
    assert_int_equal(lq_fake_sock_feed(c, "GET /hea", 8), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_false(lq_fake_sock_closed(c));
    lq_fake_clock_advance(LQ_MGMT_HTTP_HEAD_TIMEOUT_MS - 1); /* the head has this long */
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_false(lq_fake_sock_closed(c));
    lq_fake_clock_advance(1);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_true(lq_fake_sock_closed(c));
    size_t len = 0;
    (void)lq_fake_sock_sent(c, &len);
    assert_int_equal(len, 0);
}

/* Connections that sent no head yet (idle, or trickling) give way to newcomers when the
 * table is full; one peer holds at most LQ_MGMT_HTTP_PER_PEER; when every slot is busy
 * answering, newcomers are refused (issue 17, finding 4). */
static void test_connections_over_the_table(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    char peer[32];
    /* one peer: the third connection is refused */
    lq_port_fd_t p[3];
    for (int i = 0; i < 3; i++)
        p[i] = lq_fake_accept_push(ls, "10.0.0.66:4000");
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_false(lq_fake_sock_closed(p[0]));
    assert_false(lq_fake_sock_closed(p[1]));
    assert_true(lq_fake_sock_closed(p[2]));
    assert_int_equal(stats.http_refused, 1);
    /* fill the table with idle connections from other peers, then a probe arrives:
     * the oldest idle connection (p[0]) makes room, the probe is answered */
    lq_port_fd_t c[LQ_MGMT_HTTP_CONNS];
    for (size_t i = 0; i + 2 < LQ_MGMT_HTTP_CONNS; i++) {
        lq_fake_clock_advance(10);
        snprintf(peer, sizeof peer, "10.0.1.%u:5000", (unsigned)i);
        c[i] = lq_fake_accept_push(ls, peer);
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
        assert_false(lq_fake_sock_closed(c[i]));
    }
    lq_fake_clock_advance(10);
    lq_port_fd_t probe = lq_fake_accept_push(ls, "192.0.2.2:6000");
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_true(lq_fake_sock_closed(p[0]));   /* the oldest idle one */
    assert_false(lq_fake_sock_closed(p[1]));
    assert_false(lq_fake_sock_closed(probe));
    assert_int_equal(stats.http_evicted, 1);
    assert_int_equal(lq_fake_sock_feed(probe, "GET /healthz HTTP/1.1\r\n\r\n", 25), 0);
    pump_until_closed(probe);
    assert_int_equal(answer_of(probe).status, 200);
    /* every slot busy answering slow readers: a newcomer is refused, nobody evicted */
    fill_big_snapshot();
    for (int round = 0; round < 3; round++)
        (void)lq_loop_run_once(&loop, 0); /* reap the closed ones */
    lq_fake_clock_advance(LQ_MGMT_HTTP_HEAD_TIMEOUT_MS); /* the idle ones time out */
    for (int round = 0; round < 3; round++)
        (void)lq_loop_run_once(&loop, 0);
    lq_port_fd_t slow[LQ_MGMT_HTTP_CONNS];
    for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS; i++) {
        snprintf(peer, sizeof peer, "10.0.2.%u:7000", (unsigned)i);
        slow[i] = lq_fake_accept_push(ls, peer);
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
        assert_false(lq_fake_sock_closed(slow[i]));
        lq_fake_sock_send_budget(slow[i], 400); /* the head and a little body, then full */
        assert_int_equal(lq_fake_sock_feed(slow[i], "GET /metrics HTTP/1.1\r\n\r\n", 25), 0);
        for (int k = 0; k < 3; k++)
            (void)lq_loop_run_once(&loop, 0);
        assert_false(lq_fake_sock_closed(slow[i]));
    }
    uint64_t evicted = stats.http_evicted;
    lq_port_fd_t late = lq_fake_accept_push(ls, "192.0.2.3:6000");
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_true(lq_fake_sock_closed(late));
    assert_int_equal(stats.http_evicted, evicted);
    for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS; i++)
        assert_false(lq_fake_sock_closed(slow[i]));
}

static void test_accept_pauses_when_out_of_descriptors(void **st)
{
    (void)st;
    lq_port_fd_t ls = start();
    lq_port_fd_t c = lq_fake_accept_push(ls, NULL);
    lq_fake_accept_result(ls, LQ_ENOSPC);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_int_equal(lq_fake_accept_pending(ls), 1);
    /* Paused: the listener is not watched, so the loop does not spin on it. */
    uint64_t wakeups = lq_loop_stats(&loop)->wakeups_io;
    for (int i = 0; i < 5; i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_int_equal(lq_loop_stats(&loop)->wakeups_io, wakeups);
    assert_int_equal(lq_fake_accept_pending(ls), 1);
    lq_fake_clock_advance(1000);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_int_equal(lq_fake_accept_pending(ls), 0);
    assert_int_equal(lq_fake_sock_feed(c, "GET /healthz HTTP/1.1\r\n\r\n", 25), 0);
    pump_until_closed(c);
    assert_int_equal(answer_of(c).status, 200);
}

static void test_listen_failure_leaves_nothing_open(void **st)
{
    (void)st;
    /* The second address is the first one again: in use. */
    static const lq_config_addr_t a[2] = { { "::1", 9090 }, { "::1", 9090 } };
    assert_int_equal(lq_mgmt_http_start(&http, &loop, a, 2, &source), LQ_ECONFLICT);
    lq_port_fd_t first = lq_fake_last_listen_fd();
    assert_true(first >= 0);
    assert_false(http.started);
    assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    assert_true(lq_fake_sock_closed(first));
    assert_non_null(strstr(lq_fake_log_text(), "cannot listen on http://[::1]:9090"));
    /* A name is not an address. */
    static const lq_config_addr_t name = { "localhost", 9090 };
    assert_int_equal(lq_mgmt_http_start(&http, &loop, &name, 1, &source), LQ_EINVAL);
    /* And a clean start afterwards works; close is idempotent. */
    assert_int_equal(lq_mgmt_http_start(&http, &loop, a, 1, &source), LQ_OK);
    assert_int_equal(http.ports[0], 9090);
    lq_mgmt_http_close(&http);
    lq_mgmt_http_close(&http);
}

/* Answering never touches the heap (the guard stays quiet after the seal). */
static void test_answers_allocate_nothing(void **st)
{
    (void)st;
    fill_big_snapshot();
    lq_port_fd_t ls = start();
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    answer_t a1 = ask(ls, "GET /metrics HTTP/1.1\r\n\r\n", 7);
    answer_t a2 = ask(ls, "GET /nothing HTTP/1.1\r\n\r\n", 0);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(a1.status, 200);
    assert_int_equal(a2.status, 404);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_503_with_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_404_and_method_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_or_malformed_head_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_streamed_in_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_changed_while_sent_is_cut_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_over_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_pauses_when_out_of_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_failure_leaves_nothing_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_allocate_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("mgmt_http", tests, NULL, NULL);
}
