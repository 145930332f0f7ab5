/* Unit tests of the Kubernetes request pool (src/kube/kreq.c) on the fake port, plain TCP:
 * verbs and their wire form, Status decoding, retries with backoff and Retry-After,
 * 401 token rotation, queueing beyond the pool, oversized bodies, and no heap use; the
 * shared request head (lq_kreq_head) and streamed requests (lq_kreq_stream_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/kapi.h"
#include "liqolet/kreq.h"
#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "lq_fake.h"

static lq_loop_t loop;
static lq_kreq_client_t cl;
static lq_kcfg_t kcfg;
static const lq_conn_target_t target = { "127.0.0.1", 6443, NULL, -1, "home" };

typedef struct {
    int dones;
    lq_err_t err;
    int order; /* completion rank, 1-based */
} rec_t;

#define NREQ 8
static lq_kreq_t reqs[NREQ];
static rec_t recs[NREQ];
static char bufs[NREQ][256];
static int completed;

static void on_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    rec_t *x = ctx;
    assert_ptr_equal(r->ctx, ctx);
    x->dones++;
    x->err = err;
    x->order = ++completed;
}

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    lq_log_set_level(LQ_LOG_DEBUG);
    lq_loop_init(&loop);
    memset(&kcfg, 0, sizeof kcfg);
    memcpy(kcfg.token, "static-token-1234", 17);
    kcfg.token_len = 17;
    lq_kreq_client_init(&cl, &loop, &target, &kcfg);
    memset(recs, 0, sizeof recs);
    completed = 0;
    for (int i = 0; i < NREQ; i++)
        lq_kreq_init(&reqs[i], bufs[i], sizeof bufs[i], on_done, &recs[i]);
    return 0;
}

/* Runs the loop until rec has completed (or n iterations); each idle iteration moves
 * the virtual clock by up to `step` ms. */
static void spin_until(const rec_t *rec, int n, int step)
{
    for (int i = 0; i < n && rec->dones == 0; i++)
        assert_int_equal(lq_loop_run_once(&loop, step), LQ_OK);
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(lq_loop_run_once(&loop, 10), LQ_OK);
}

static size_t count(const char *hay, size_t len, const char *needle)
{
    size_t c = 0, n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            c++;
    return c;
}

static size_t sent_count(lq_port_fd_t fd, const char *needle)
{
    size_t len = 0;
    const char *s = lq_fake_sock_sent(fd, &len);
    return s ? count(s, len, needle) : 0;
}

static void feed(lq_port_fd_t fd, const char *s)
{
    assert_int_equal(lq_fake_sock_feed(fd, s, strlen(s)), 0);
}

/* A full response with a JSON body. */
static void respond(lq_port_fd_t fd, const char *status_line, const char *extra,
                    const char *body)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu"
                     "\r\n\r\n%s",
                     status_line, extra ? extra : "", strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    feed(fd, buf);
}

static const char status_409[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"pods \\\"web-1\\\" already exists\",\"reason\":\"AlreadyExists\","
    "\"details\":{\"name\":\"web-1\",\"kind\":\"pods\"},\"code\":409}";

static void test_get_200_into_buffer(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/api/v1/namespaces/kube-system"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_ESTATE); /* already pending */
    assert_int_equal(r->state, LQ_KREQ_SENT);
    spin(2);
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    assert_true(len > 0);
    assert_memory_equal(sent, "GET /api/v1/namespaces/kube-system HTTP/1.1\r\n", 45);
    assert_int_equal(count(sent, len, "Authorization: Bearer static-token-1234\r\n"), 1);
    assert_int_equal(count(sent, len, "Accept: application/json\r\n"), 1);
    assert_int_equal(count(sent, len, "Content-Type"), 0);
    assert_int_equal(count(sent, len, "Content-Length"), 0);
    respond(fd, "200 OK", NULL, "{\"metadata\":{\"uid\":\"abc\"}}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].dones, 1);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->resp_len, 26);
    assert_memory_equal(bufs[0], "{\"metadata\":{\"uid\":\"abc\"}}", 26);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->state, LQ_KREQ_IDLE);
    assert_int_equal(cl.stats.submitted, 1);
    assert_int_equal(cl.stats.completed, 1);
    assert_int_equal(cl.stats.failures, 0);
    assert_int_equal(cl.stats.retries, 0);
    /* Same request again: reuses the kept-alive connection. */
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "200 OK", NULL, "{}");
    recs[0].dones = 0;
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->resp_len, 2);
    assert_int_equal(cl.conns[0].stats.reuses, 1);
    assert_int_equal(cl.conns[0].stats.connects, 1);
}

static void test_body_too_big(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char body[320];
    (void)snprintf(body, sizeof body, "\"%s\"", big); /* 301 bytes > 256 */
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    memset(bufs[0], 0, sizeof bufs[0]);
    assert_int_equal(lq_kreq_get(r, "/api/v1/configmaps"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "200 OK", NULL, body);
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ETOOBIG);
    assert_int_equal(r->resp_len, 301); /* the size needed */
    assert_non_null(strstr(r->message, "301 bytes exceeds the buffer of 256"));
    assert_int_equal(r->attempts, 1);
    assert_int_equal(cl.stats.failures, 1);
    spin(1);
    assert_false(lq_fake_sock_closed(fd)); /* drained: the connection stays usable */

    /* Chunked (no Content-Length): still never truncated; the connection drained and
     * reusable. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    feed(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[400];
    (void)snprintf(chunk, sizeof chunk, "12d\r\n%s\r\n0\r\n\r\n", body);
    feed(fd, chunk);
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ETOOBIG);
    assert_true(r->resp_len >= 257);
    assert_non_null(strstr(r->message, "at least"));
    assert_false(lq_fake_sock_closed(fd));

    /* A huge Content-Length is not read at all: the connection is closed. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    feed(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n{\"items\":[");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ETOOBIG);
    assert_int_equal(r->resp_len, 10000000);
    spin(1);
    assert_true(lq_fake_sock_closed(fd));
}

static void test_create_201_and_409_already_exists(void **state)
{
    (void)state;
    static const char pod[] = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\"}}";
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_create(r, "/api/v1/namespaces/shop/pods", pod, strlen(pod)), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    assert_memory_equal(sent, "POST /api/v1/namespaces/shop/pods HTTP/1.1\r\n", 44);
    assert_int_equal(count(sent, len, "Content-Type: application/json\r\n"), 1);
    char cl_hdr[64];
    (void)snprintf(cl_hdr, sizeof cl_hdr, "Content-Length: %zu\r\n", strlen(pod));
    assert_int_equal(count(sent, len, cl_hdr), 1);
    assert_memory_equal(sent + len - strlen(pod), pod, strlen(pod));
    respond(fd, "201 Created", NULL, pod);
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->status, 201);
    assert_int_equal(r->resp_len, strlen(pod));

    /* Create again: 409 AlreadyExists -> LQ_ECONFLICT + ADOPT, not retried. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "409 Conflict", NULL, status_409);
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ECONFLICT);
    assert_int_equal(r->action, LQ_KAPI_ADOPT);
    assert_int_equal(r->status, 409);
    assert_string_equal(r->reason, "AlreadyExists");
    assert_string_equal(r->message, "pods \"web-1\" already exists");
    assert_int_equal(r->attempts, 1);
    assert_int_equal(sent_count(fd, "POST "), 2);

    /* 409 Conflict on update -> REREAD. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_update(r, "/api/v1/namespaces/shop/pods/web-1", pod, strlen(pod)),
                     LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "409 Conflict", NULL,
            "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"the object has been "
            "modified; please apply your changes to the latest version\",\"code\":409}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ECONFLICT);
    assert_int_equal(r->action, LQ_KAPI_REREAD);
    assert_string_equal(r->reason, "Conflict");
    assert_int_equal(sent_count(fd, "PUT /api/v1/namespaces/shop/pods/web-1 HTTP/1.1"), 1);
}

static void test_404_not_found(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/api/v1/namespaces/shop/pods/nope"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "404 Not Found", NULL,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
            "\"pods \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"code\":404}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ENOTFOUND);
    assert_int_equal(r->action, LQ_KAPI_DONE);
    assert_string_equal(r->reason, "NotFound");
    assert_string_equal(r->message, "pods \"nope\" not found");
    assert_int_equal(r->resp_len, 0); /* error bodies do not land in the caller's buffer */

    /* A non-Status error body: reason stays empty, message is the status line. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "403 Forbidden", NULL, "<html>nope</html>");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_EFORBIDDEN);
    assert_string_equal(r->reason, "");
    assert_string_equal(r->message, "HTTP 403 Forbidden");
}

static void test_503_then_200_honours_retry_after(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/version"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "503 Service Unavailable", "Retry-After: 2\r\n",
            "{\"kind\":\"Status\",\"reason\":\"ServiceUnavailable\",\"message\":\"etcd is "
            "busy\",\"code\":503}");
    spin(2);
    int64_t t0 = lq_port_mono_ms();
    assert_int_equal(r->state, LQ_KREQ_BACKOFF);
    assert_int_equal(recs[0].dones, 0);
    /* Nothing is re-sent before the 2 s the server asked for. */
    while (lq_port_mono_ms() - t0 < 1900)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    assert_int_equal(sent_count(fd, "GET /version"), 1);
    while (lq_port_mono_ms() - t0 < 2200)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    assert_int_equal(sent_count(fd, "GET /version"), 2);
    respond(fd, "200 OK", NULL, "{\"gitVersion\":\"v1.36.0\"}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->message, "HTTP 200 OK");
    assert_int_equal(cl.stats.retries, 1);
    assert_int_equal(cl.stats.sent, 2);
}

static void test_503_without_retry_after_uses_backoff(void **state)
{
    (void)state;
    cl.backoff_base_ms = 1000;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/version"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "500 Internal Server Error", NULL, "{}");
    spin(1);
    int64_t t0 = lq_port_mono_ms();
    assert_int_equal(r->state, LQ_KREQ_BACKOFF);
    while (sent_count(fd, "GET /version") < 2 && lq_port_mono_ms() - t0 < 5000)
        assert_int_equal(lq_loop_run_once(&loop, 50), LQ_OK);
    int64_t waited = lq_port_mono_ms() - t0;
    /* equal jitter: the first delay is within [base/2, base] */
    assert_true(waited >= 450 && waited <= 1100);
    respond(fd, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
}

static void test_429_five_times_gives_up(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_merge_patch(r, "/api/v1/namespaces/shop/pods/web-1", "{}", 2),
                     LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    for (size_t i = 1; i <= 5; i++) {
        for (int k = 0; k < 200 && sent_count(fd, "PATCH /api") < i; k++)
            assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
        assert_int_equal(sent_count(fd, "PATCH /api"), i);
        assert_int_equal(recs[0].dones, 0);
        respond(fd, "429 Too Many Requests", NULL,
                "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow down\","
                "\"code\":429}");
    }
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].dones, 1);
    assert_int_equal(recs[0].err, LQ_EHTTP);
    assert_int_equal(r->action, LQ_KAPI_RETRY); /* the caller may requeue later */
    assert_int_equal(r->attempts, 5);
    assert_int_equal(r->status, 429);
    assert_string_equal(r->reason, "TooManyRequests");
    assert_string_equal(r->message, "slow down");
    spin(20);
    assert_int_equal(sent_count(fd, "PATCH /api"), 5); /* no sixth attempt */
    assert_int_equal(cl.stats.retries, 4);
    assert_int_equal(cl.stats.failures, 1);
    assert_int_equal(recs[0].dones, 1);
}

static void test_401_rotated_token_resent(void **state)
{
    (void)state;
    static const char old_tok[] = "old-token-aaaaaaaaaaaaaaaa";
    static const char new_tok[] = "new-token-bbbbbbbbbbbbbbbb";
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", old_tok, strlen(old_tok)), 0);
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.token_file, sizeof kcfg.token_file, "/var/run/sa/token");
    bool changed = false;
    assert_int_equal(lq_kcfg_token_refresh(&kcfg, true, &changed), LQ_OK);
    assert_true(changed);

    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/api/v1/nodes/edge-1"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    assert_int_equal(sent_count(fd, "Authorization: Bearer old-token-aaaaaaaaaaaaaaaa\r\n"), 1);
    lq_fake_clock_advance(5000);
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", new_tok, strlen(new_tok)), 0);
    respond(fd, "401 Unauthorized", NULL,
            "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\","
            "\"code\":401}");
    spin(3);
    assert_int_equal(sent_count(fd, "Authorization: Bearer new-token-bbbbbbbbbbbbbbbb\r\n"), 1);
    assert_int_equal(sent_count(fd, "GET /api/v1/nodes/edge-1 HTTP/1.1\r\n"), 2);
    respond(fd, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(cl.stats.reauths, 1);

    /* 401 again with an unchanged token: fails, the token is re-read only once. */
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    respond(fd, "401 Unauthorized", NULL, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\"}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_EAUTH);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(cl.stats.reauths, 1);

    const char *log = lq_fake_log_text();
    assert_non_null(strstr(log, "401, token re-read")); /* the log was written... */
    assert_null(strstr(log, "old-token-"));            /* ...without the tokens */
    assert_null(strstr(log, "new-token-"));
}

static void test_more_requests_than_connections_fifo(void **state)
{
    (void)state;
    lq_port_fd_t fds[LQ_MAX_REQ_CONNS];
    char path[64];
    for (int i = 0; i < LQ_MAX_REQ_CONNS; i++) {
        fds[i] = lq_fake_expect_connect(LQ_OK);
        (void)snprintf(path, sizeof path, "/api/v1/namespaces/ns-%d", i);
        assert_int_equal(lq_kreq_get(&reqs[i], path), LQ_OK);
        assert_int_equal(lq_kreq_submit(&cl, &reqs[i]), LQ_OK);
        assert_int_equal(reqs[i].state, LQ_KREQ_SENT);
    }
    const int extra = NREQ - LQ_MAX_REQ_CONNS;
    assert_true(extra >= 2);
    for (int i = LQ_MAX_REQ_CONNS; i < NREQ; i++) {
        (void)snprintf(path, sizeof path, "/api/v1/namespaces/ns-%d", i);
        assert_int_equal(lq_kreq_get(&reqs[i], path), LQ_OK);
        assert_int_equal(lq_kreq_submit(&cl, &reqs[i]), LQ_OK);
        assert_int_equal(reqs[i].state, LQ_KREQ_QUEUED);
    }
    assert_int_equal(cl.stats.queued, extra);
    assert_int_equal(cl.stats.queue_hwm, extra);
    spin(2);
    /* Answer the last connection first: the first queued request goes there. */
    int last = LQ_MAX_REQ_CONNS - 1;
    respond(fds[last], "200 OK", NULL, "{\"n\":3}");
    spin(3);
    assert_int_equal(recs[last].dones, 1);
    assert_int_equal(reqs[LQ_MAX_REQ_CONNS].state, LQ_KREQ_SENT);
    assert_int_equal(reqs[LQ_MAX_REQ_CONNS + 1].state, LQ_KREQ_QUEUED);
    (void)snprintf(path, sizeof path, "GET /api/v1/namespaces/ns-%d ", LQ_MAX_REQ_CONNS);
    assert_int_equal(sent_count(fds[last], path), 1);
    /* Then the first connection: the next queued one. */
    respond(fds[0], "200 OK", NULL, "{\"n\":0}");
    spin(3);
    (void)snprintf(path, sizeof path, "GET /api/v1/namespaces/ns-%d ", LQ_MAX_REQ_CONNS + 1);
    assert_int_equal(sent_count(fds[0], path), 1);
    /* Answer everything still open, in whatever order, until all are done. */
    for (int round = 0; round < 8 && completed < NREQ; round++) {
        for (int c = 0; c < LQ_MAX_REQ_CONNS; c++) {
            if (cl.conns[c].state == LQ_CONN_HEAD)
                respond(fds[c], "200 OK", NULL, "{}");
        }
        spin(3);
    }
    assert_int_equal(completed, NREQ);
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(recs[i].dones, 1);
        assert_int_equal(recs[i].err, LQ_OK);
    }
    /* queued requests were started in FIFO order */
    assert_true(recs[LQ_MAX_REQ_CONNS].order < recs[NREQ - 1].order);
    assert_int_equal(cl.stats.queued, 0);
    assert_int_equal(cl.stats.completed, NREQ);
    uint64_t connects = 0, reuses = 0;
    for (int c = 0; c < LQ_MAX_REQ_CONNS; c++) {
        connects += cl.conns[c].stats.connects;
        reuses += cl.conns[c].stats.reuses;
    }
    assert_int_equal(connects, LQ_MAX_REQ_CONNS);
    assert_int_equal(reuses, extra);
}

/* Priority requests (Lease renewals, health pings): with every ordinary connection busy
 * and requests queued, one goes out at once on the kept connection; the next waits in
 * front of the ordinary ones; ordinary requests never use the kept connection
 * (issue 17, finding 3). */
static void test_priority_uses_the_kept_connection(void **state)
{
    (void)state;
    lq_port_fd_t fds[LQ_MAX_REQ_CONNS];
    char path[64];
    for (int i = 0; i < LQ_MAX_REQ_CONNS; i++) {
        fds[i] = lq_fake_expect_connect(LQ_OK);
        (void)snprintf(path, sizeof path, "/api/v1/namespaces/bulk-%d", i);
        assert_int_equal(lq_kreq_get(&reqs[i], path), LQ_OK);
        assert_int_equal(lq_kreq_submit(&cl, &reqs[i]), LQ_OK);
    }
    int q = LQ_MAX_REQ_CONNS; /* one ordinary request queued */
    assert_int_equal(lq_kreq_get(&reqs[q], "/api/v1/namespaces/queued"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, &reqs[q]), LQ_OK);
    assert_int_equal(reqs[q].state, LQ_KREQ_QUEUED);
    spin(2);
    assert_int_equal(cl.conns[LQ_KREQ_CONNS - 1].stats.connects, 0); /* kept idle */

    int p1 = q + 1, p2 = q + 2;
    lq_port_fd_t kept = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_kreq_get(&reqs[p1], "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n"), LQ_OK);
    reqs[p1].priority = true;
    assert_int_equal(lq_kreq_submit(&cl, &reqs[p1]), LQ_OK);
    assert_int_equal(reqs[p1].state, LQ_KREQ_SENT);
    assert_int_equal(cl.stats.priority_reserved, 1);
    spin(2);
    assert_int_equal(sent_count(kept, "GET /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n "), 1);
    /* a second one while the kept connection is busy: first in the queue */
    assert_int_equal(lq_kreq_get(&reqs[p2], "/readyz"), LQ_OK);
    reqs[p2].priority = true;
    assert_int_equal(lq_kreq_submit(&cl, &reqs[p2]), LQ_OK);
    assert_int_equal(reqs[p2].state, LQ_KREQ_QUEUED);
    respond(fds[0], "200 OK", NULL, "{}");
    spin(3);
    assert_int_equal(reqs[p2].state, LQ_KREQ_SENT);
    assert_int_equal(sent_count(fds[0], "GET /readyz "), 1);
    assert_int_equal(reqs[q].state, LQ_KREQ_QUEUED); /* the ordinary one still waits */
    /* the kept connection frees: the ordinary request does not take it */
    respond(kept, "200 OK", NULL, "{}");
    spin(3);
    assert_int_equal(recs[p1].dones, 1);
    assert_int_equal(reqs[q].state, LQ_KREQ_QUEUED);
    respond(fds[1], "200 OK", NULL, "{}");
    spin(3);
    assert_int_equal(reqs[q].state, LQ_KREQ_SENT);
    assert_int_equal(sent_count(fds[1], "GET /api/v1/namespaces/queued "), 1);
    assert_int_equal(sent_count(kept, "queued"), 0);
}

static void test_connection_refused_then_ok(void **state)
{
    (void)state;
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/version"), LQ_OK);
    /* nothing scripted: the fake port refuses at once */
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    assert_int_equal(r->state, LQ_KREQ_BACKOFF);
    assert_int_equal(r->action, LQ_KAPI_RETRY);
    assert_non_null(strstr(r->message, "cannot connect"));
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    for (int k = 0; k < 100 && sent_count(fd, "GET /version") == 0; k++)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    assert_int_equal(sent_count(fd, "GET /version"), 1);
    respond(fd, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->attempts, 2);
    assert_string_equal(r->message, "HTTP 200 OK");

    /* Refused every time: the connection error after max_attempts. */
    memset(&recs[0], 0, sizeof recs[0]);
    cl.max_attempts = 3;
    spin(2); /* let the old descriptor be reaped */
    r->max_attempts = 2; /* the request's own limit wins */
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin_until(&recs[0], 200, 1000);
    assert_int_equal(recs[0].err, LQ_ECONNREFUSED);
    assert_int_equal(r->attempts, 2);
    assert_non_null(strstr(r->message, "home API server 127.0.0.1:6443: cannot connect"));
}

static void test_timeout_retried(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/version"), LQ_OK);
    r->timeout_ms = 1000;
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    for (int k = 0; k < 50 && r->state != LQ_KREQ_BACKOFF; k++)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    assert_int_equal(r->state, LQ_KREQ_BACKOFF);
    assert_non_null(strstr(r->message, "no response within 1000 ms"));
    spin(1);
    assert_true(lq_fake_sock_closed(fd));
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    for (int k = 0; k < 100 && sent_count(fd2, "GET /version") == 0; k++)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    respond(fd2, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->attempts, 2);
}

/* A pool request whose body trickles a byte a second is cut at LQ_KREQ_TOTAL_MS from its
 * start (the idle deadline never trips), its connection closed, and retried on a new one
 * like any broken connection (issue 17, finding 3). */
static void test_total_deadline_retried(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/api/v1/namespaces/default"), LQ_OK);
    int64_t t0 = lq_port_mono_ms();
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    for (int k = 0; k < 10 && sent_count(fd, "GET /api/v1/namespaces/default") == 0; k++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    feed(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{");
    for (int k = 0; k < 10; k++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    while (r->state != LQ_KREQ_BACKOFF && lq_port_mono_ms() - t0 < 2 * LQ_KREQ_TOTAL_MS) {
        lq_fake_clock_advance(1000);
        feed(fd, " ");
        for (int k = 0; k < 3; k++)
            assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
    }
    assert_int_equal(r->state, LQ_KREQ_BACKOFF);
    int64_t cut = lq_port_mono_ms() - t0;
    assert_true(cut >= LQ_KREQ_TOTAL_MS && cut <= LQ_KREQ_TOTAL_MS + 1000);
    assert_non_null(strstr(r->message, "(total deadline)"));
    spin(1);
    assert_true(lq_fake_sock_closed(fd));
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    for (int k = 0; k < 100 && sent_count(fd2, "GET /api/v1/namespaces/default") == 0; k++)
        assert_int_equal(lq_loop_run_once(&loop, 100), LQ_OK);
    respond(fd2, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
    assert_int_equal(r->attempts, 2);
}

static void test_ssa_wire_form(void **state)
{
    (void)state;
    static const char obj[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                              "{\"name\":\"cfg\",\"namespace\":\"shop\"}}";
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    char path[256];
    assert_int_equal(lq_kapi_path(path, sizeof path, "v1", "shop", "configmaps", "cfg", NULL),
                     LQ_OK);
    assert_int_equal(lq_kreq_apply(r, path, "liqolet/home a", obj, strlen(obj)), LQ_OK);
    assert_string_equal(r->path,
                        "/api/v1/namespaces/shop/configmaps/cfg?fieldManager=liqolet%2Fhome%20a"
                        "&force=true");
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    static const char line[] = "PATCH /api/v1/namespaces/shop/configmaps/cfg?fieldManager="
                               "liqolet%2Fhome%20a&force=true HTTP/1.1\r\n";
    assert_memory_equal(sent, line, sizeof line - 1);
    assert_int_equal(count(sent, len, "Content-Type: application/apply-patch+yaml\r\n"), 1);
    assert_memory_equal(sent + len - strlen(obj), obj, strlen(obj));
    respond(fd, "200 OK", NULL, obj);
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);

    /* The status subresource of a merge patch, and of an apply (before the query). */
    assert_int_equal(lq_kreq_merge_patch(r, "/api/v1/namespaces/shop/pods/web-1",
                                         "{\"status\":{}}", 13), LQ_OK);
    assert_int_equal(lq_kreq_status(r), LQ_OK);
    assert_string_equal(r->path, "/api/v1/namespaces/shop/pods/web-1/status");
    assert_string_equal(r->content_type, "application/merge-patch+json");
    assert_int_equal(lq_kreq_status(r), LQ_EINVAL); /* already /status */
    assert_int_equal(lq_kreq_apply(r, "/api/v1/namespaces/shop/pods/web-1", "fm", "{}", 2),
                     LQ_OK);
    assert_int_equal(lq_kreq_status(r), LQ_OK);
    assert_string_equal(r->path, "/api/v1/namespaces/shop/pods/web-1/status?fieldManager=fm"
                                 "&force=true");
    memset(&recs[0], 0, sizeof recs[0]);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    assert_int_equal(sent_count(fd, "PATCH /api/v1/namespaces/shop/pods/web-1/status?"
                                    "fieldManager=fm&force=true HTTP/1.1\r\n"), 1);
    respond(fd, "200 OK", NULL, "{}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);

    /* Bad input */
    assert_int_equal(lq_kreq_apply(r, path, "", "{}", 2), LQ_EINVAL);
    assert_int_equal(lq_kreq_apply(r, path, NULL, "{}", 2), LQ_EINVAL);
    assert_int_equal(lq_kreq_apply_noforce(r, path, "", "{}", 2), LQ_EINVAL);
    /* Without force: no force=true, so others' fields are never taken over. */
    assert_int_equal(lq_kreq_apply_noforce(r, path, "liqolet", "{}", 2), LQ_OK);
    assert_string_equal(r->path, "/api/v1/namespaces/shop/configmaps/cfg?fieldManager=liqolet");
    assert_string_equal(r->content_type, "application/apply-patch+yaml");
    assert_string_equal(r->method, "PATCH");
    assert_int_equal(lq_kreq_get(r, "api/v1/pods"), LQ_EINVAL);
    assert_int_equal(lq_kreq_create(r, "/api/v1/pods", NULL, 3), LQ_EINVAL);
    static char longp[LQ_KREQ_PATH_MAX + 8];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    assert_int_equal(lq_kreq_get(r, longp), LQ_ETOOBIG);
    longp[LQ_KREQ_PATH_MAX - 40] = '\0'; /* fits, but not with the query */
    assert_int_equal(lq_kreq_apply(r, longp, "liqolet-long-field-manager", "{}", 2), LQ_ETOOBIG);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_EINVAL); /* half-built: refused */
    memset(longp + 1, 'a', LQ_KREQ_PATH_MAX - 5);
    longp[LQ_KREQ_PATH_MAX - 4] = '\0';
    assert_int_equal(lq_kreq_get(r, longp), LQ_OK);
    assert_int_equal(lq_kreq_status(r), LQ_ETOOBIG);
    assert_int_equal(strlen(r->path), LQ_KREQ_PATH_MAX - 4);
}

static void test_delete_with_preconditions(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_delete(r, "/api/v1/namespaces/shop/pods/web-1",
                                    "6f1c3a2e-1b7d-4d7e-9a43-2f6e1d9b8c01", "Background"),
                     LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    static const char body[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":{\"uid\":"
        "\"6f1c3a2e-1b7d-4d7e-9a43-2f6e1d9b8c01\"},\"propagationPolicy\":\"Background\"}";
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    assert_memory_equal(sent, "DELETE /api/v1/namespaces/shop/pods/web-1 HTTP/1.1\r\n", 52);
    assert_int_equal(count(sent, len, "Content-Type: application/json\r\n"), 1);
    assert_true(len > strlen(body));
    assert_memory_equal(sent + len - strlen(body), body, strlen(body));
    char hdr[48];
    (void)snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\n", strlen(body));
    assert_int_equal(count(sent, len, hdr), 1);
    /* uid mismatch: 409 Conflict -> REREAD */
    respond(fd, "409 Conflict", NULL,
            "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"Precondition failed: "
            "UID in precondition: 6f1c, UID in object meta: 77aa\",\"code\":409}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_ECONFLICT);
    assert_int_equal(r->action, LQ_KAPI_REREAD);
    assert_non_null(strstr(r->message, "Precondition failed"));

    /* uid only; no options at all gives no body. */
    assert_int_equal(lq_kreq_delete(r, "/api/v1/namespaces/shop/pods/web-1", "u-1", NULL), LQ_OK);
    assert_string_equal(r->body, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\","
                                 "\"preconditions\":{\"uid\":\"u-1\"}}");
    assert_int_equal(lq_kreq_delete(r, "/api/v1/namespaces/shop/pods/web-1", NULL, ""), LQ_OK);
    assert_null(r->body);
    assert_null(r->content_type);
    assert_int_equal(lq_kreq_delete(r, "/api/v1/x", "bad\"uid", NULL), LQ_EINVAL);
    /* grace period in the body (the API server ignores the query when a body is sent) */
    assert_int_equal(lq_kreq_delete_grace(r, "/api/v1/namespaces/shop/pods/web-1", "u-2",
                                          NULL, 0), LQ_OK);
    assert_string_equal(r->body, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\","
                                 "\"preconditions\":{\"uid\":\"u-2\"},\"gracePeriodSeconds\":0}");
    assert_int_equal(lq_kreq_delete_grace(r, "/api/v1/x", NULL, NULL, 30), LQ_OK);
    assert_string_equal(r->body, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\","
                                 "\"gracePeriodSeconds\":30}");
    assert_int_equal(lq_kreq_delete_grace(r, "/api/v1/x", NULL, NULL, -1), LQ_OK);
    assert_null(r->body);
    static char huge[LQ_KREQ_OPTS_MAX];
    memset(huge, 'u', sizeof huge - 1);
    assert_int_equal(lq_kreq_delete(r, "/api/v1/x", huge, NULL), LQ_ETOOBIG);
}

static void test_cancel(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *a = &reqs[0], *b = &reqs[1];
    assert_int_equal(lq_kreq_get(a, "/a"), LQ_OK);
    assert_int_equal(lq_kreq_get(b, "/b"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, a), LQ_OK);
    spin(2);
    assert_int_equal(lq_kreq_cancel(a), LQ_OK); /* in flight: connection closed */
    assert_int_equal(lq_kreq_cancel(a), LQ_ENOTFOUND);
    spin(2);
    assert_true(lq_fake_sock_closed(fd));
    assert_int_equal(recs[0].dones, 0);
    /* In backoff: nothing sent later. */
    assert_int_equal(lq_kreq_submit(&cl, b), LQ_OK); /* refused -> backoff */
    assert_int_equal(b->state, LQ_KREQ_BACKOFF);
    assert_int_equal(lq_kreq_cancel(b), LQ_OK);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    spin_until(&recs[1], 50, 1000);
    assert_int_equal(recs[1].dones, 0);
    assert_int_equal(sent_count(fd2, "GET /b"), 0);
}

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_create(r, "/api/v1/namespaces/shop/pods", "{}", 2), LQ_OK);

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t se = lq_kreq_submit(&cl, r);
    for (int i = 0; i < 3; i++)
        (void)lq_loop_run_once(&loop, 10);
    /* 503 with backoff, then 409 with a Status body decoded through cJSON */
    respond(fd, "503 Service Unavailable", "Retry-After: 1\r\n", "{\"kind\":\"Status\"}");
    for (int i = 0; i < 200 && sent_count(fd, "POST ") < 2; i++)
        (void)lq_loop_run_once(&loop, 100);
    respond(fd, "409 Conflict", NULL, status_409);
    for (int i = 0; i < 10 && recs[0].dones == 0; i++)
        (void)lq_loop_run_once(&loop, 10);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before asserting (cmocka allocates on failure) */

    assert_int_equal(se, LQ_OK);
    assert_int_equal(v1, v0);
    assert_int_equal(recs[0].dones, 1);
    assert_int_equal(recs[0].err, LQ_ECONFLICT);
    assert_int_equal(r->action, LQ_KAPI_ADOPT);
    assert_int_equal(r->attempts, 2);
}

static void test_path_prefix_and_no_token(void **state)
{
    (void)state;
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.path_prefix, sizeof kcfg.path_prefix, "/k8s/clusters/c-1/");
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_kreq_t *r = &reqs[0];
    assert_int_equal(lq_kreq_get(r, "/version"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, r), LQ_OK);
    spin(2);
    assert_int_equal(sent_count(fd, "GET /k8s/clusters/c-1/version HTTP/1.1\r\n"), 1);
    assert_int_equal(sent_count(fd, "Authorization"), 0);
    assert_int_equal(lq_kreq_submit(&cl, NULL), LQ_EINVAL);
    lq_kreq_t blank;
    lq_kreq_init(&blank, NULL, 0, on_done, &recs[1]);
    assert_int_equal(lq_kreq_submit(&cl, &blank), LQ_EINVAL); /* no verb filled */
    respond(fd, "200 OK", NULL, "{\"x\":1}");
    spin_until(&recs[0], 10, 10);
    assert_int_equal(recs[0].err, LQ_OK);
}

static void test_head_prefix_token_user_agent(void **state)
{
    (void)state;
    lq_http_req_t q;
    char t[LQ_KREQ_TARGET_MAX];
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.path_prefix, sizeof kcfg.path_prefix, "/k8s/clusters/c-1//");
    (void)snprintf(kcfg.token, sizeof kcfg.token, "head-token");
    kcfg.token_len = 10;
    assert_int_equal(lq_kreq_head(&q, t, sizeof t, &kcfg, "GET", "/api/v1/pods?watch=1"), LQ_OK);
    assert_string_equal(q.target, "/k8s/clusters/c-1/api/v1/pods?watch=1");
    assert_ptr_equal(q.target, t);
    assert_string_equal(q.method, "GET");
    assert_string_equal(q.bearer, "head-token");
    assert_string_equal(q.ua_version, LQ_VERSION);
    assert_string_equal(q.accept, "application/json");
    assert_null(q.body);
    assert_false(q.has_body);
    /* no kcfg: no prefix, no token */
    assert_int_equal(lq_kreq_head(&q, t, sizeof t, NULL, "GET", "/version"), LQ_OK);
    assert_string_equal(q.target, "/version");
    assert_null(q.bearer);
    /* "/k8s/clusters/c-1" + "/version" + NUL exactly fits; one byte less does not */
    assert_int_equal(lq_kreq_head(&q, t, 17 + 8 + 1, &kcfg, "GET", "/version"), LQ_OK);
    assert_int_equal(lq_kreq_head(&q, t, 17 + 8, &kcfg, "GET", "/version"), LQ_ETOOBIG);
    assert_int_equal(lq_kreq_head(&q, t, sizeof t, &kcfg, "GET", "version"), LQ_EINVAL);
    assert_int_equal(lq_kreq_head(&q, t, sizeof t, &kcfg, NULL, "/version"), LQ_EINVAL);
    assert_int_equal(lq_kreq_head(NULL, t, sizeof t, &kcfg, "GET", "/version"), LQ_EINVAL);
}

/* ---- streamed requests ---- */

static struct {
    int heads, dones, status;
    lq_err_t err;
    char body[512];
    size_t len;
} srec;

static lq_err_t s_head(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx)
{
    (void)c;
    assert_ptr_equal(ctx, &srec);
    srec.heads++;
    srec.status = resp->status;
    return LQ_OK;
}

static lq_err_t s_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    (void)c;
    (void)ctx;
    assert_true(srec.len + n < sizeof srec.body);
    memcpy(srec.body + srec.len, d, n);
    srec.len += n;
    return LQ_OK;
}

static void s_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    (void)c;
    (void)ctx;
    srec.dones++;
    srec.err = err;
}

/* The line "Name: value" of header name in the first request sent on fd. */
static void header_line(lq_port_fd_t fd, const char *name, char *out, size_t cap)
{
    size_t len = 0;
    const char *s = lq_fake_sock_sent(fd, &len);
    const char *p = s ? strstr(s, name) : NULL;
    assert_non_null(p);
    const char *e = strstr(p, "\r\n");
    assert_non_null(e);
    assert_true((size_t)(e - p) < cap);
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
}

static void test_stream_post_same_head_as_buffered(void **state)
{
    (void)state;
    memset(&srec, 0, sizeof srec);
    (void)snprintf(kcfg.path_prefix, sizeof kcfg.path_prefix, "/k8s/clusters/c-1");
    static lq_conn_t sc;
    static lq_kreq_stream_t st;
    lq_conn_init(&sc, &loop, &target);
    lq_kreq_stream_init(&st, &sc, &kcfg);
    lq_port_fd_t sfd = lq_fake_expect_connect(LQ_OK);
    static const char body[] = "{\"kind\":\"SelfSubjectAccessReview\"}";
    const lq_conn_handler_t h = { .on_head = s_head, .on_body = s_body,
                                  .on_done = s_done, .ctx = &srec };
    assert_int_equal(lq_kreq_stream_send(&st, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                         body, sizeof body - 1, &h, 10000), LQ_OK);
    assert_int_equal(lq_kreq_stream_send(&st, "GET", "/version", NULL, 0, &h, 10000), LQ_ESTATE);
    spin(2);
    assert_int_equal(sent_count(sfd, "POST /k8s/clusters/c-1/apis/authorization.k8s.io/v1/selfsubjectaccessreviews HTTP/1.1\r\n"), 1);
    assert_int_equal(sent_count(sfd, "\r\nContent-Type: application/json\r\n"), 1);
    assert_int_equal(sent_count(sfd, "\r\nAuthorization: Bearer static-token-1234\r\n"), 1);
    assert_int_equal(sent_count(sfd, body), 1);
    respond(sfd, "201 Created", NULL, "{\"status\":{\"allowed\":true}}");
    spin(3);
    assert_int_equal(srec.dones, 1);
    assert_int_equal(srec.err, LQ_OK);
    assert_int_equal(srec.status, 201);
    assert_string_equal(srec.body, "{\"status\":{\"allowed\":true}}");
    assert_int_equal(st.sent, 1);

    /* A buffered request carries the same User-Agent, Accept and token lines. */
    lq_port_fd_t bfd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_kreq_get(&reqs[0], "/version"), LQ_OK);
    assert_int_equal(lq_kreq_submit(&cl, &reqs[0]), LQ_OK);
    spin(2);
    assert_int_equal(sent_count(bfd, "GET /k8s/clusters/c-1/version HTTP/1.1\r\n"), 1);
    static const char *const names[] = { "User-Agent:", "Accept:", "Authorization:" };
    for (size_t i = 0; i < 3; i++) {
        char a[256], b[256];
        header_line(sfd, names[i], a, sizeof a);
        header_line(bfd, names[i], b, sizeof b);
        assert_string_equal(a, b);
    }
    assert_int_equal(sent_count(bfd, "\r\nUser-Agent: liqolet/" LQ_VERSION "\r\n"), 1);
    lq_conn_close(&sc);
}

/* The credentials read old_tok from a token file (the rotation tests then change the
 * file). */
static void use_token_file(const char *old_tok)
{
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", old_tok, strlen(old_tok)), 0);
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.token_file, sizeof kcfg.token_file, "/var/run/sa/token");
    bool changed = false;
    assert_int_equal(lq_kcfg_token_refresh(&kcfg, true, &changed), LQ_OK);
}

/* 401 on a streamed request: re-read the token once; resent (the caller never sees
 * the 401) when it changed, handed to the caller when it did not. */
static void test_stream_401_token_reread(void **state)
{
    (void)state;
    memset(&srec, 0, sizeof srec);
    static const char old_tok[] = "stream-old-tok";
    static const char new_tok[] = "stream-new-tok";
    use_token_file(old_tok);
    static lq_conn_t sc;
    static lq_kreq_stream_t st;
    lq_conn_init(&sc, &loop, &target);
    lq_kreq_stream_init(&st, &sc, &kcfg);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    const lq_conn_handler_t h = { .on_head = s_head, .on_body = s_body,
                                  .on_done = s_done, .ctx = &srec };
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", new_tok, strlen(new_tok)), 0);
    lq_fake_clock_advance(5000);
    /* From the send to the 200 after the re-read, nothing touches the heap. */
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t se = lq_kreq_stream_send(&st, "GET", "/api/v1/nodes?limit=500", NULL, 0, &h, 10000);
    for (int i = 0; i < 2; i++)
        (void)lq_loop_run_once(&loop, 10);
    respond(fd, "401 Unauthorized", NULL, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    for (int i = 0; i < 3; i++)
        (void)lq_loop_run_once(&loop, 10);
    int heads_after_401 = srec.heads, dones_after_401 = srec.dones;
    size_t gets = sent_count(fd, "GET /api/v1/nodes?limit=500 HTTP/1.1\r\n");
    size_t old_auth = sent_count(fd, "\r\nAuthorization: Bearer stream-old-tok\r\n");
    size_t new_auth = sent_count(fd, "\r\nAuthorization: Bearer stream-new-tok\r\n");
    respond(fd, "200 OK", NULL, "{\"items\":[]}");
    for (int i = 0; i < 3; i++)
        (void)lq_loop_run_once(&loop, 10);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before asserting (cmocka allocates on failure) */
    assert_int_equal(se, LQ_OK);
    assert_int_equal(v1, v0);
    assert_int_equal(heads_after_401, 0); /* the caller never saw the 401 */
    assert_int_equal(dones_after_401, 0);
    assert_int_equal(gets, 2);
    assert_int_equal(old_auth, 1);
    assert_int_equal(new_auth, 1);
    assert_int_equal(srec.heads, 1);
    assert_int_equal(srec.dones, 1);
    assert_int_equal(srec.status, 200);
    assert_string_equal(srec.body, "{\"items\":[]}"); /* nothing of the 401's body */
    assert_int_equal(st.reauths, 1);
    assert_int_equal(st.sent, 2);

    /* Same token in the file: the caller gets the 401 (one re-read, no loop). */
    memset(&srec, 0, sizeof srec);
    assert_int_equal(lq_kreq_stream_send(&st, "GET", "/api/v1/nodes?limit=500", NULL, 0, &h, 10000), LQ_OK);
    spin(2);
    respond(fd, "401 Unauthorized", NULL, "{\"kind\":\"Status\",\"code\":401}");
    spin(3);
    assert_int_equal(srec.heads, 1);
    assert_int_equal(srec.status, 401);
    assert_int_equal(srec.dones, 1);
    assert_int_equal(srec.err, LQ_OK);
    assert_int_equal(st.reauths, 1);
    assert_int_equal(st.sent, 3);
    assert_null(strstr(lq_fake_log_text(), "stream-"));
    lq_conn_close(&sc);
}

/* A streamed body's producer for the stream tests: pieces[] in turn, LQ_AGAIN once
 * after the first, then the end. */
static struct {
    const char *const *pieces;
    size_t n, next;
    int calls, waiting, again_done;
} sprod;

static lq_err_t s_send(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof, void *ctx)
{
    (void)c;
    assert_ptr_equal(ctx, &srec); /* the caller's ctx, not the helper's */
    sprod.calls++;
    if (sprod.next == 1 && !sprod.again_done) {
        sprod.again_done = 1;
        sprod.waiting = 1;
        return LQ_AGAIN;
    }
    if (sprod.next == sprod.n) {
        *eof = true;
        return LQ_OK;
    }
    size_t l = strlen(sprod.pieces[sprod.next]);
    assert_true(l <= cap);
    memcpy(buf, sprod.pieces[sprod.next++], l);
    *len = l;
    return LQ_OK;
}

/* A streamed PATCH: the caller's content type, chunked framing, no Content-Length, the
 * producer's pieces as chunks (with a wait in between), the response as usual. */
static void test_stream_chunked_patch(void **state)
{
    (void)state;
    static const char *const pieces[] = { "{\"data\":{", "\"big\":\"0123456789abcdef\"", "}}" };
    memset(&srec, 0, sizeof srec);
    memset(&sprod, 0, sizeof sprod);
    sprod.pieces = pieces;
    sprod.n = 3;
    static lq_conn_t sc;
    static lq_kreq_stream_t st;
    lq_conn_init(&sc, &loop, &target);
    lq_kreq_stream_init(&st, &sc, &kcfg);
    st.content_type = "application/merge-patch+json";
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    const lq_conn_handler_t h = { .on_head = s_head, .on_body = s_body, .on_done = s_done,
                                  .ctx = &srec, .on_send = s_send };
    assert_int_equal(lq_kreq_stream_send(&st, "PATCH", "/api/v1/namespaces/a/configmaps/big",
                                         NULL, 0, &h, 10000), LQ_OK);
    spin(3);
    assert_true(sprod.waiting);
    assert_int_equal(sent_count(fd, "0\r\n\r\n"), 0);
    sprod.waiting = 0;
    lq_conn_send_resume(&sc);
    spin(3);
    assert_int_equal(sent_count(fd, "PATCH /api/v1/namespaces/a/configmaps/big HTTP/1.1\r\n"), 1);
    assert_int_equal(sent_count(fd, "\r\nContent-Type: application/merge-patch+json\r\n"), 1);
    assert_int_equal(sent_count(fd, "\r\nTransfer-Encoding: chunked\r\n"), 1);
    assert_int_equal(sent_count(fd, "Content-Length"), 0);
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer static-token-1234\r\n"), 1);
    assert_int_equal(sent_count(fd, "\r\n\r\n9\r\n{\"data\":{\r\n"
                                    "18\r\n\"big\":\"0123456789abcdef\"\r\n"
                                    "2\r\n}}\r\n0\r\n\r\n"), 1);
    respond(fd, "200 OK", NULL, "{\"kind\":\"ConfigMap\"}");
    spin(3);
    assert_int_equal(srec.dones, 1);
    assert_int_equal(srec.err, LQ_OK);
    assert_int_equal(srec.status, 200);
    assert_int_equal(st.sent, 1);
    lq_conn_close(&sc);
}

/* A 401 to a streamed body: it cannot be sent again (the producer's bytes are gone),
 * so the caller gets the 401; the token is re-read for the caller's next attempt. */
static void test_stream_chunked_401_not_resent(void **state)
{
    (void)state;
    static const char *const pieces[] = { "{}" };
    memset(&srec, 0, sizeof srec);
    memset(&sprod, 0, sizeof sprod);
    sprod.pieces = pieces;
    sprod.n = 1;
    sprod.again_done = 1;
    static const char old_tok[] = "chunk-old-tok";
    static const char new_tok[] = "chunk-new-tok";
    use_token_file(old_tok);
    static lq_conn_t sc;
    static lq_kreq_stream_t st;
    lq_conn_init(&sc, &loop, &target);
    lq_kreq_stream_init(&st, &sc, &kcfg);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    const lq_conn_handler_t h = { .on_head = s_head, .on_body = s_body, .on_done = s_done,
                                  .ctx = &srec, .on_send = s_send };
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", new_tok, strlen(new_tok)), 0);
    lq_fake_clock_advance(5000);
    assert_int_equal(lq_kreq_stream_send(&st, "PATCH", "/api/v1/namespaces/a/configmaps/c",
                                         NULL, 0, &h, 10000), LQ_OK);
    spin(3);
    respond(fd, "401 Unauthorized", NULL, "{\"kind\":\"Status\",\"code\":401}");
    spin(5);
    assert_int_equal(srec.heads, 1);
    assert_int_equal(srec.status, 401);
    assert_int_equal(srec.dones, 1);
    assert_int_equal(srec.err, LQ_OK);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.reauths, 0);
    assert_int_equal(sent_count(fd, "PATCH /api/v1/namespaces/a/configmaps/c HTTP/1.1\r\n"), 1);
    assert_int_equal(sprod.calls, 2); /* one piece and the end, once */
    assert_string_equal(kcfg.token, new_tok); /* re-read for the next attempt */
    lq_conn_close(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_get_200_into_buffer, setup),
        cmocka_unit_test_setup(test_body_too_big, setup),
        cmocka_unit_test_setup(test_create_201_and_409_already_exists, setup),
        cmocka_unit_test_setup(test_404_not_found, setup),
        cmocka_unit_test_setup(test_503_then_200_honours_retry_after, setup),
        cmocka_unit_test_setup(test_503_without_retry_after_uses_backoff, setup),
        cmocka_unit_test_setup(test_429_five_times_gives_up, setup),
        cmocka_unit_test_setup(test_401_rotated_token_resent, setup),
        cmocka_unit_test_setup(test_more_requests_than_connections_fifo, setup),
        cmocka_unit_test_setup(test_priority_uses_the_kept_connection, setup),
        cmocka_unit_test_setup(test_connection_refused_then_ok, setup),
        cmocka_unit_test_setup(test_timeout_retried, setup),
        cmocka_unit_test_setup(test_total_deadline_retried, setup),
        cmocka_unit_test_setup(test_ssa_wire_form, setup),
        cmocka_unit_test_setup(test_delete_with_preconditions, setup),
        cmocka_unit_test_setup(test_cancel, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
        cmocka_unit_test_setup(test_path_prefix_and_no_token, setup),
        cmocka_unit_test_setup(test_head_prefix_token_user_agent, setup),
        cmocka_unit_test_setup(test_stream_post_same_head_as_buffered, setup),
        cmocka_unit_test_setup(test_stream_401_token_reread, setup),
        cmocka_unit_test_setup(test_stream_chunked_patch, setup),
        cmocka_unit_test_setup(test_stream_chunked_401_not_resent, setup),
    };
    return cmocka_run_group_tests_name("kreq", tests, NULL, NULL);
}
