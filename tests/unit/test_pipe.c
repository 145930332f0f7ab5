/* Unit tests of the streaming pipe (src/reflect/pipe.c) on the fake port, plain TCP.
 *
 * Two scripted peers: the home API server answers the streamed GET with a chunked body
 * fed in pieces as its socket takes them; the foreign API server reads the chunked
 * server-side apply slowly (a small receive window per loop iteration) and answers once
 * it has the last chunk. The upload is decoded by a strict chunked decoder written apart
 * from src/kube/http.c and compared byte for byte with lq_forge_conf_build's output for
 * the same home object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/log.h"
#include "liqolet/pipe.h"
#include "lq_fake.h"

#define HOME_ID    "home-cluster-id"
#define FOREIGN_ID "foreign-cluster-id"
#define HOME_UID   "6f1c2d3e-0000-4000-8000-00000000home"
#define REMOTE_UID "6f1c2d3e-0000-4000-8000-000000remote"
#define HPATH      "/api/v1/namespaces/ns/configmaps/big"
#define RPATH      "/api/v1/namespaces/ns-remote/configmaps/big?fieldManager=reflection.liqo.io&force=true"
#define BIG        (1200u * 1024u)

static lq_loop_t loop;
static lq_cluster_t home, foreign;
static lq_pipe_t pp;

/* ---- the home object and what the forge makes of it --------------------------------- */

static char obj[BIG + 64u * 1024u];
static size_t obj_len;
static char want[BIG + 128u * 1024u];
static size_t want_len;
static lq_forge_conf_facts_t want_facts;
static uint64_t want_hash;

static const lq_forge_conf_params_t prm_write = {
    .kind = LQ_FORGE_CONF_CONFIGMAP, .remote_name = "big", .remote_ns = "ns-remote",
    .home_id = HOME_ID, .foreign_id = FOREIGN_ID, .home_uid = HOME_UID,
    .remote_uid = REMOTE_UID,
};

/* A ConfigMap as kube-apiserver writes it, with about data_bytes of data whose values
 * hold JSON escapes (\n, \", \\, \u00e9, a surrogate pair), and our own ownership label
 * and annotation already there (the forge drops and replaces them). */
static void make_object(size_t data_bytes, const char *rv)
{
    int k = snprintf(obj, sizeof obj,
                     "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"big\","
                     "\"namespace\":\"ns\",\"uid\":\"" HOME_UID "\",\"resourceVersion\":\"%s\","
                     "\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"app\":\"web\","
                     "\"virtualkubelet.liqo.io/origin\":\"forged\"},\"annotations\":{\"note\":"
                     "\"caf\\u00e9\",\"" LQ_FORGE_CONF_ANN_HOME_UID "\":\"forged\"},"
                     "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\"}]},"
                     "\"data\":{",
                     rv);
    assert_true(k > 0 && (size_t)k < sizeof obj);
    size_t n = (size_t)k;
    static const char *const esc[] = { "\\n", "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\\t" };
    uint32_t x = 12345u;
    for (unsigned key = 0; n < data_bytes; key++) {
        k = snprintf(obj + n, sizeof obj - n, "%s\"key-%04u\":\"", key ? "," : "", key);
        n += (size_t)k;
        size_t vlen = 1000u + key * 37u % 6000u;
        for (size_t i = 0; i < vlen; i++) {
            x = x * 1103515245u + 12345u;
            if ((x >> 16) % 97u == 0) {
                const char *e = esc[(x >> 8) % 6u];
                memcpy(obj + n, e, strlen(e));
                n += strlen(e);
            } else {
                obj[n++] = (char)('a' + (x >> 16) % 26u);
            }
        }
        obj[n++] = '"';
        assert_true(n + 16u * 1024u < sizeof obj);
    }
    static const char tail[] = "},\"binaryData\":{\"b\":\"AAEC\"},\"immutable\":false}";
    memcpy(obj + n, tail, sizeof tail - 1);
    obj_len = n + sizeof tail - 1;
}

static void forge_expected(const lq_forge_conf_params_t *prm)
{
    assert_int_equal(lq_forge_conf_build(prm, obj, obj_len, want, sizeof want, &want_len,
                                         &want_facts, &want_hash),
                     LQ_OK);
}

/* ---- the scripted peers ---------------------------------------------------------------- */

static lq_port_fd_t hfd, ffd;

static struct {
    size_t off;          /* body bytes of obj fed so far */
    bool head, last;     /* head fed; last chunk fed */
    bool stop;           /* stop feeding (an error was answered instead) */
    size_t per_iter;     /* bytes fed at most per iteration */
    int piece;           /* varies the chunk sizes */
} hs;

static char up[BIG + 256u * 1024u]; /* what the foreign peer read: head + chunked body */
static size_t up_len;
static size_t fwindow;              /* bytes the foreign peer reads per iteration */

static void feed(lq_port_fd_t fd, const char *p, size_t n)
{
    assert_int_equal(lq_fake_sock_feed(fd, p, n), 0);
}

static void home_head(void)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    feed(hfd, head, sizeof head - 1);
    hs.head = true;
}

/* Feeds the next pieces of obj as chunks, as far as the socket takes them. */
static void home_serve(void)
{
    if (!hs.head || hs.stop || hs.last)
        return;
    static char buf[16u * 1024u];
    size_t sent = 0;
    while (hs.off < obj_len && sent < hs.per_iter) {
        size_t n = 300u + (size_t)(hs.piece * 1877) % 9000u;
        if (n > obj_len - hs.off)
            n = obj_len - hs.off;
        int k = snprintf(buf, sizeof buf, "%zx\r\n", n);
        memcpy(buf + k, obj + hs.off, n);
        memcpy(buf + (size_t)k + n, "\r\n", 2);
        if (lq_fake_sock_feed(hfd, buf, (size_t)k + n + 2) != 0)
            return; /* the socket is full: the agent is not reading */
        hs.piece++;
        hs.off += n;
        sent += n;
    }
    if (hs.off == obj_len && lq_fake_sock_feed(hfd, "0\r\n\r\n", 5) == 0)
        hs.last = true;
}

static void respond(lq_port_fd_t fd, int status, const char *body)
{
    char head[256];
    int k = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                        "Content-Length: %zu\r\n\r\n", status, strlen(body));
    feed(fd, head, (size_t)k);
    feed(fd, body, strlen(body));
}

static void respond_status(lq_port_fd_t fd, int code, const char *reason, const char *msg)
{
    char b[512];
    (void)snprintf(b, sizeof b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\","
                                "\"code\":%d}", msg, reason, code);
    respond(fd, code, b);
}

/* The foreign peer reads what the agent sent and opens its window again. */
static void foreign_read(void)
{
    size_t n;
    const char *p = lq_fake_sock_sent(ffd, &n);
    assert_true(up_len + n <= sizeof up);
    memcpy(up + up_len, p, n);
    up_len += n;
    lq_fake_sock_sent_consume(ffd, n);
    lq_fake_sock_send_budget(ffd, fwindow);
}

static bool upload_complete(void)
{
    return up_len >= 5 && memcmp(up + up_len - 5, "0\r\n\r\n", 5) == 0;
}

/* ---- decoding the upload ----------------------------------------------------------------- */

static char got[BIG + 128u * 1024u];
static size_t got_len, head_len;
static int got_chunks;
static bool got_last;

/* Strict chunked decoding of up[] after the request head: lowercase hex sizes without
 * leading zeros, CRLFs where they belong, nothing after the last chunk. A chunk cut by
 * the end of what was sent is left out (an aborted upload). */
static void decode_upload(void)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 4 <= up_len && !sep; i++)
        if (memcmp(up + i, "\r\n\r\n", 4) == 0)
            sep = up + i;
    assert_non_null(sep);
    head_len = (size_t)(sep - up) + 4;
    const char *p = up + head_len;
    size_t n = up_len - head_len, i = 0;
    got_len = 0;
    got_chunks = 0;
    got_last = false;
    while (i < n) {
        size_t sz = 0, start = i;
        while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            sz = sz * 16u + (size_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
            i++;
        }
        if (i + 2 > n)
            return;
        assert_true(i > start);
        assert_true(i - start == 1 || p[start] != '0');
        assert_memory_equal(p + i, "\r\n", 2);
        i += 2;
        if (sz == 0) {
            assert_true(i + 2 <= n);
            assert_memory_equal(p + i, "\r\n", 2);
            assert_int_equal(i + 2, n);
            got_last = true;
            return;
        }
        if (i + sz + 2 > n)
            return;
        assert_true(got_len + sz <= sizeof got);
        memcpy(got + got_len, p + i, sz);
        got_len += sz;
        i += sz;
        assert_memory_equal(p + i, "\r\n", 2);
        i += 2;
        got_chunks++;
    }
}

static bool head_has(const char *line)
{
    size_t n = strlen(line);
    for (size_t i = 0; i + n <= head_len; i++)
        if (memcmp(up + i, line, n) == 0)
            return true;
    return false;
}

/* ---- the done callback ------------------------------------------------------------------- */

static struct {
    int calls;
    lq_err_t err;
    bool in_start;          /* the test is inside lq_pipe_start */
    uint64_t timers_before; /* loop.stats.timers_fired before the current iteration */
    bool chain;             /* start a read-only job from the callback */
    lq_err_t chain_err;
    char uid[LQ_FORGE_CONF_UID_BUF], rv[LQ_FORGE_CONF_RV_BUF];
} dn;

static const lq_pipe_job_t job_read = {
    .home_path = HPATH, .remote_path = NULL, .expect_rv = NULL,
    .prm = { .kind = LQ_FORGE_CONF_CONFIGMAP, .remote_name = "big", .remote_ns = "ns-remote",
             .home_id = HOME_ID, .foreign_id = FOREIGN_ID, .home_uid = HOME_UID },
};

static void on_done(lq_pipe_t *p, lq_err_t err, void *ctx)
{
    assert_ptr_equal(p, &pp);
    assert_ptr_equal(ctx, &dn);
    /* from the loop: not from lq_pipe_start, and from the timer phase of an iteration
     * (descriptors are dispatched before timers, so a call from a connection callback
     * would see no timer fired yet in this iteration) */
    assert_false(dn.in_start);
    assert_true(loop.stats.timers_fired > dn.timers_before);
    assert_false(lq_pipe_busy(p));
    dn.calls++;
    dn.err = err;
    (void)snprintf(dn.uid, sizeof dn.uid, "%s", p->remote_uid);
    (void)snprintf(dn.rv, sizeof dn.rv, "%s", p->remote_rv);
    if (dn.chain) {
        dn.chain = false;
        dn.chain_err = lq_pipe_start(p, &job_read, on_done, &dn);
    }
}

static lq_err_t start(const lq_pipe_job_t *job)
{
    dn.in_start = true;
    lq_err_t e = lq_pipe_start(&pp, job, on_done, &dn);
    dn.in_start = false;
    return e;
}

/* One iteration: the home peer feeds, the loop runs, the foreign peer reads. */
static void iterate(void)
{
    home_serve();
    dn.timers_before = loop.stats.timers_fired;
    assert_int_equal(lq_loop_run_once(&loop, 10), LQ_OK);
    assert_true(pp.stats.ring_hwm <= LQ_PIPE_RING);
    if (ffd >= 0)
        foreign_read();
}

static void run_until_done(int calls, int max_iter)
{
    for (int i = 0; i < max_iter && dn.calls < calls; i++)
        iterate();
    assert_int_equal(dn.calls, calls);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    lq_loop_init(&loop);
    memset(&home, 0, sizeof home);
    memset(&foreign, 0, sizeof foreign);
    home.label = "home";
    home.profile = -1;
    home.target = (lq_conn_target_t){ "127.0.0.1", 6443, NULL, -1, "home" };
    foreign.label = "foreign";
    foreign.profile = -1;
    foreign.target = (lq_conn_target_t){ "127.0.0.1", 7443, NULL, -1, "foreign" };
    lq_pipe_init(&pp, &loop, &home, &foreign);
    memset(&hs, 0, sizeof hs);
    hs.per_iter = 48u * 1024u;
    memset(&dn, 0, sizeof dn);
    up_len = 0;
    fwindow = 6000;
    hfd = ffd = -1;
    return 0;
}

static const lq_pipe_job_t job_write = {
    .home_path = HPATH, .remote_path = RPATH, .expect_rv = "4242", .prm = prm_write,
};

/* Starts a write job with both connections scripted; the foreign peer reads slowly. */
static void start_write(const lq_pipe_job_t *job)
{
    hfd = lq_fake_expect_connect(LQ_OK);
    ffd = lq_fake_expect_connect_after(LQ_OK);
    assert_true(hfd >= 0 && ffd >= 0);
    assert_int_equal(start(job), LQ_OK);
    assert_true(lq_pipe_busy(&pp));
    assert_int_equal(dn.calls, 0);
    lq_fake_sock_send_budget(ffd, fwindow);
}

static void assert_home_get(void)
{
    size_t n;
    const char *s = lq_fake_sock_sent(hfd, &n);
    static const char line[] = "GET " HPATH " HTTP/1.1\r\n";
    assert_true(n > sizeof line);
    assert_memory_equal(s, line, sizeof line - 1);
}

/* The foreign peer has the request head before home answers. */
static void open_upload(void)
{
    for (int i = 0; i < 3; i++)
        iterate();
    assert_true(up_len > 0);
    assert_int_equal(pp.fconn_.state, LQ_CONN_SENDING);
}

/* The foreign peer saw the head and part of the body, never the last chunk, and the
 * agent closed the connection. */
static void assert_upload_aborted(void)
{
    decode_upload();
    assert_false(got_last);
    assert_true(lq_fake_sock_closed(ffd));
    assert_int_equal(pp.stats.aborted, 1);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* A ~1.2 MB ConfigMap piped from home into a chunked apply to a slow foreign peer: the
 * decoded body is exactly lq_forge_conf_build's output, the request is the apply the
 * job names, the ring stayed within its size because home reading paused, and done
 * gets LQ_OK with the written object's uid and resourceVersion. */
static void test_write_streams_forged_body(void **state)
{
    (void)state;
    make_object(BIG, "4242");
    assert_true(obj_len >= BIG);
    forge_expected(&prm_write);
    start_write(&job_write);
    home_head();
    bool answered = false;
    for (int i = 0; i < 5000 && dn.calls == 0; i++) {
        iterate();
        if (!answered && upload_complete()) {
            respond(ffd, 200, "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":"
                              "\"meta.k8s.io/v1\",\"metadata\":{\"name\":\"big\",\"namespace\":"
                              "\"ns-remote\",\"uid\":\"" REMOTE_UID "\",\"resourceVersion\":"
                              "\"9001\"}}");
            answered = true;
        }
    }
    assert_true(answered);
    assert_int_equal(dn.calls, 1);
    assert_int_equal(dn.err, LQ_OK);
    assert_string_equal(dn.uid, REMOTE_UID);
    assert_string_equal(dn.rv, "9001");
    assert_int_equal(pp.status, 0);

    assert_home_get();
    decode_upload();
    assert_true(got_last);
    assert_true(got_chunks > 1);
    assert_true(head_has("PATCH " RPATH " HTTP/1.1\r\n"));
    assert_true(head_has("\r\nContent-Type: application/apply-patch+yaml\r\n"));
    assert_true(head_has("\r\nAccept: " LQ_KREQ_ACCEPT_META "\r\n"));
    assert_true(head_has("\r\nTransfer-Encoding: chunked\r\n"));
    assert_false(head_has("Content-Length"));
    assert_int_equal(got_len, want_len);
    if (memcmp(got, want, want_len) != 0) {
        size_t i = 0;
        while (got[i] == want[i])
            i++;
        fail_msg("upload differs from the forge's output at byte %zu", i);
    }
    /* facts and hash of the job are the forge's */
    assert_memory_equal(&pp.facts, &want_facts, sizeof want_facts);
    assert_string_equal(pp.facts.rv, "4242");
    assert_true(pp.hash == want_hash);

    /* back-pressure: the ring filled, stayed within its size, reading paused */
    assert_true(pp.stats.ring_hwm <= LQ_PIPE_RING);
    assert_true(pp.stats.ring_hwm > LQ_PIPE_RING / 2);
    assert_true(pp.stats.pauses > 0);
    assert_true(pp.stats.bytes_in == obj_len);
    assert_true(pp.stats.bytes_out == want_len);
    assert_true(pp.stats.jobs == 1 && pp.stats.writes == 1);
    assert_true(pp.stats.failures == 0 && pp.stats.aborted == 0);
    assert_false(lq_pipe_busy(&pp));
}

/* A job without a remote path only reads and forges: facts and hash are
 * lq_forge_conf_build's, nothing connects to or is sent to the foreign cluster. */
static void test_read_only_facts_and_hash(void **state)
{
    (void)state;
    make_object(BIG, "77");
    forge_expected(&job_read.prm);
    hfd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(start(&job_read), LQ_OK);
    home_head();
    run_until_done(1, 5000);
    assert_int_equal(dn.err, LQ_OK);
    assert_home_get();
    assert_int_equal(lq_fake_last_connect_port(), 6443); /* foreign never dialled */
    assert_memory_equal(&pp.facts, &want_facts, sizeof want_facts);
    assert_string_equal(pp.facts.uid, HOME_UID);
    assert_string_equal(pp.facts.rv, "77");
    assert_true(pp.hash == want_hash);
    assert_true(pp.stats.bytes_in == obj_len);
    assert_true(pp.stats.bytes_out == 0);
    assert_true(pp.stats.writes == 0 && pp.stats.pauses == 0);
    assert_int_equal(pp.fconn_.stats.requests, 0);
    assert_string_equal(pp.remote_uid, "");

    /* the hash does not depend on the remote uid (a precondition only) */
    lq_pipe_job_t j = job_read;
    j.prm.remote_uid = REMOTE_UID;
    memset(&hs, 0, sizeof hs);
    hs.per_iter = 48u * 1024u;
    assert_int_equal(start(&j), LQ_OK); /* the kept-alive home connection */
    home_head();
    run_until_done(2, 5000);
    assert_int_equal(dn.err, LQ_OK);
    assert_true(pp.hash == want_hash);
}

/* Home 404: LQ_ENOTFOUND. */
static void test_home_not_found(void **state)
{
    (void)state;
    hfd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(start(&job_read), LQ_OK);
    respond_status(hfd, 404, "NotFound", "configmaps \\\"big\\\" not found");
    run_until_done(1, 100);
    assert_int_equal(dn.err, LQ_ENOTFOUND);
    assert_int_equal(pp.status, 404);
    assert_string_equal(pp.message, "configmaps \"big\" not found");
    assert_true(pp.stats.failures == 1);
}

/* Home 500 with a Status during a write: an error carrying the Status message; the
 * foreign upload is closed without its last chunk. */
static void test_home_500_write(void **state)
{
    (void)state;
    make_object(64u * 1024u, "4242");
    start_write(&job_write);
    for (int i = 0; i < 5; i++)
        iterate();
    respond_status(hfd, 500, "InternalError", "etcdserver: request timed out");
    run_until_done(1, 100);
    assert_int_equal(dn.err, LQ_EHTTP);
    assert_int_equal(pp.status, 500);
    assert_string_equal(pp.message, "etcdserver: request timed out");
    assert_upload_aborted();
    assert_true(head_has("PATCH " RPATH " HTTP/1.1\r\n"));
    assert_int_equal(got_len, 0);
}

/* The home object has another version than the one the caller decided on: LQ_ESTATE,
 * the foreign upload never ends; likewise another UID. */
static void test_expect_rv_mismatch(void **state)
{
    (void)state;
    make_object(BIG, "4243");
    start_write(&job_write);
    open_upload();
    home_head();
    run_until_done(1, 500);
    assert_int_equal(dn.err, LQ_ESTATE);
    assert_upload_aborted();
    assert_true(lq_fake_sock_closed(hfd)); /* the home read stopped too */
    assert_true(hs.off < obj_len);
    assert_true(pp.stats.failures == 1 && pp.stats.writes == 0);
}

static void test_home_uid_mismatch(void **state)
{
    (void)state;
    make_object(BIG, "4242");
    lq_pipe_job_t j = job_write;
    j.prm.home_uid = "another-incarnation";
    start_write(&j);
    open_upload();
    home_head();
    run_until_done(1, 500);
    assert_int_equal(dn.err, LQ_ESTATE);
    assert_upload_aborted();
    assert_true(lq_fake_sock_closed(hfd));
}

/* The foreign API server refuses the apply (422 with a Status) while the body is still
 * streaming: the error and message reach done, the home request stops, no last chunk. */
static void test_foreign_early_422(void **state)
{
    (void)state;
    make_object(BIG, "4242");
    start_write(&job_write);
    home_head();
    for (int i = 0; i < 2000 && up_len < 200u * 1024u; i++)
        iterate();
    assert_true(up_len >= 200u * 1024u);
    assert_int_equal(dn.calls, 0);
    respond_status(ffd, 422, "Invalid", "Precondition failed: UID in precondition: x");
    run_until_done(1, 200);
    assert_int_equal(dn.err, LQ_EHTTP);
    assert_int_equal(pp.status, 422);
    assert_string_equal(pp.message, "Precondition failed: UID in precondition: x");
    assert_true(lq_fake_sock_closed(hfd));
    assert_true(hs.off < obj_len); /* home was not read to its end */
    decode_upload();
    assert_false(got_last);
    assert_true(lq_fake_sock_closed(ffd));
    assert_string_equal(pp.remote_uid, "");
    /* nothing more is sent after the answer */
    size_t before = up_len;
    for (int i = 0; i < 20; i++)
        iterate();
    assert_int_equal(up_len, before);
    assert_int_equal(dn.calls, 1);
}

/* The home JSON breaks halfway: LQ_EPROTO, the upload aborted without its last chunk. */
static void test_malformed_home_json(void **state)
{
    (void)state;
    make_object(BIG, "4242");
    obj[obj_len / 2] = '\x01'; /* a raw control character inside a data string */
    start_write(&job_write);
    home_head();
    run_until_done(1, 5000);
    assert_int_equal(dn.err, LQ_EPROTO);
    assert_true(pp.message[0] != '\0');
    assert_upload_aborted();
    assert_true(got_len > 0 && got_len < obj_len);
    assert_true(lq_fake_sock_closed(hfd));
}

/* done comes from the loop, and a second job can start from inside it: a write, then a
 * read-only job started by the first one's callback on the kept-alive home connection. */
static void test_next_job_from_done(void **state)
{
    (void)state;
    make_object(100u * 1024u, "4242");
    forge_expected(&prm_write);
    start_write(&job_write);
    home_head();
    dn.chain = true;
    bool answered = false;
    for (int i = 0; i < 1000 && dn.calls == 0; i++) {
        iterate();
        if (!answered && upload_complete()) {
            respond(ffd, 200, "{\"metadata\":{\"uid\":\"" REMOTE_UID "\",\"resourceVersion\":\"5\"}}");
            answered = true;
        }
    }
    assert_int_equal(dn.calls, 1);
    assert_int_equal(dn.err, LQ_OK);
    assert_string_equal(dn.rv, "5");
    assert_int_equal(dn.chain_err, LQ_OK);
    assert_true(lq_pipe_busy(&pp));
    /* the second GET on the same home connection */
    size_t sent_before = 0;
    (void)lq_fake_sock_sent(hfd, &sent_before);
    memset(&hs, 0, sizeof hs);
    hs.per_iter = 48u * 1024u;
    size_t fsent_before = up_len;
    for (int i = 0; i < 10; i++)
        iterate();
    home_head();
    run_until_done(2, 1000);
    assert_int_equal(dn.err, LQ_OK);
    assert_int_equal(pp.hconn_.stats.connects, 1);
    assert_int_equal(pp.hconn_.stats.requests, 2);
    assert_int_equal(up_len, fsent_before); /* the read-only job sent nothing foreign */
    assert_true(pp.stats.jobs == 2);
}

/* A connection that fails at once (connect refused inside lq_pipe_start): done still
 * comes once, from the loop, with the error, and the pipe takes the next job. */
static void test_foreign_connect_refused(void **state)
{
    (void)state;
    make_object(64u * 1024u, "4242");
    hfd = lq_fake_expect_connect(LQ_OK);
    (void)lq_fake_expect_connect_after(LQ_ECONNREFUSED);
    assert_int_equal(start(&job_write), LQ_OK);
    assert_int_equal(dn.calls, 0);
    run_until_done(1, 100);
    assert_int_equal(dn.err, LQ_ECONNREFUSED);
    assert_false(lq_pipe_busy(&pp));
    assert_true(lq_fake_sock_closed(hfd));
    for (int i = 0; i < 20; i++)
        iterate();
    assert_int_equal(dn.calls, 1);
    /* the pipe is usable again */
    hfd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(start(&job_read), LQ_OK);
    home_head();
    run_until_done(2, 1000);
    assert_int_equal(dn.err, LQ_OK);
}

static void test_home_connect_refused(void **state)
{
    (void)state;
    (void)lq_fake_expect_connect(LQ_ECONNREFUSED);
    lq_err_t e = start(&job_read);
    if (e == LQ_OK) {
        assert_int_equal(dn.calls, 0);
        run_until_done(1, 100);
        assert_int_equal(dn.err, LQ_ECONNREFUSED);
    }
    assert_false(lq_pipe_busy(&pp));
    for (int i = 0; i < 20; i++)
        iterate();
    assert_int_equal(dn.calls, e == LQ_OK ? 1 : 0);
}

/* Busy and argument checks. */
static void test_start_refusals(void **state)
{
    (void)state;
    hfd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(start(&job_read), LQ_OK);
    assert_int_equal(start(&job_read), LQ_ESTATE);
    lq_pipe_cancel(&pp);
    assert_false(lq_pipe_busy(&pp));
    lq_pipe_cancel(&pp);
    for (int i = 0; i < 20; i++)
        iterate();
    assert_int_equal(dn.calls, 0); /* cancel: no callback */
    lq_pipe_job_t j = job_read;
    j.home_path = NULL;
    assert_int_equal(start(&j), LQ_EINVAL);
    j = job_read;
    static char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    j.prm.remote_name = longname;
    assert_int_equal(start(&j), LQ_ETOOBIG);
    assert_false(lq_pipe_busy(&pp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_write_streams_forged_body, setup),
        cmocka_unit_test_setup(test_read_only_facts_and_hash, setup),
        cmocka_unit_test_setup(test_home_not_found, setup),
        cmocka_unit_test_setup(test_home_500_write, setup),
        cmocka_unit_test_setup(test_expect_rv_mismatch, setup),
        cmocka_unit_test_setup(test_home_uid_mismatch, setup),
        cmocka_unit_test_setup(test_foreign_early_422, setup),
        cmocka_unit_test_setup(test_malformed_home_json, setup),
        cmocka_unit_test_setup(test_next_job_from_done, setup),
        cmocka_unit_test_setup(test_foreign_connect_refused, setup),
        cmocka_unit_test_setup(test_home_connect_refused, setup),
        cmocka_unit_test_setup(test_start_refusals, setup),
    };
    return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
