/* Integration test of the pure pipeline on the fake port:
 *   scripted socket -> loop -> HTTP head + chunked body (in place) -> watch framing -> scan
 * with the start-up pool sealed, so the allocation guard proves that reading a watch
 * stream (including an oversized event and byte-at-a-time delivery) never touches the heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/config_defaults.h"
#include "liqolet/frame.h"
#include "liqolet/http.h"
#include "liqolet/loop.h"
#include "liqolet/pool.h"
#include "liqolet/scan.h"
#include "lq_fake.h"

#define EVBUF 2048u /* small object limit so one event is oversized */

typedef struct {
    char type[16];
    char name[64];
    char uid[64];
    char rv[32];
    uint64_t total;
    int oversized;
} seen_t;

static struct {
    lq_loop_io_t io;
    char rx[LQ_CONN_RX_BUF];
    size_t rx_len;   /* bytes in rx: [payload handed on | raw not yet decoded] */
    int head_done;
    lq_http_resp_t resp;
    lq_http_body_t body;
    lq_frame_watch_t fw;
    char evbuf[EVBUF];
    seen_t seen[16];
    int nseen;
    lq_err_t err;
    int closed;
} c;

static void copy_view(char *dst, size_t cap, const lq_scan_str_t *s)
{
    if (lq_scan_copy(s, dst, cap) != LQ_OK)
        dst[0] = '\0';
}

static lq_err_t on_event(void *ctx, const lq_frame_obj_t *obj)
{
    (void)ctx;
    if (c.nseen >= 16)
        return LQ_ENOSPC;
    seen_t *s = &c.seen[c.nseen++];
    memset(s, 0, sizeof *s);
    lq_scan_meta_t m;
    lq_err_t e = lq_scan_event(obj->data, obj->len, &m);
    if (e != LQ_OK && e != LQ_AGAIN)
        return e;
    copy_view(s->type, sizeof s->type, &m.type);
    copy_view(s->name, sizeof s->name, &m.name);
    copy_view(s->uid, sizeof s->uid, &m.uid);
    copy_view(s->rv, sizeof s->rv, &m.rv);
    s->total = obj->total;
    s->oversized = obj->kind == LQ_FRAME_OVERSIZED;
    return LQ_OK;
}

/* What a connection handler will do: read, parse the head once, decode the body in
 * place, hand the payload to the framer, keep undecoded bytes. */
static void on_readable(lq_loop_t *loop, lq_loop_io_t *io, unsigned ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    for (;;) {
        long n = lq_port_recv(io->fd, c.rx + c.rx_len, sizeof c.rx - c.rx_len);
        if (n == LQ_IO_WAIT)
            return;
        if (n < 0) {
            c.err = c.head_done ? lq_http_body_eof(&c.body) : LQ_ECLOSED;
            if (c.err == LQ_OK)
                c.err = lq_frame_watch_end(&c.fw);
            c.closed = 1;
            lq_loop_io_close(loop, io, NULL);
            return;
        }
        c.rx_len += (size_t)n;
        size_t start = 0;
        if (!c.head_done) {
            lq_err_t e = lq_http_resp_parse(&c.resp, c.rx, c.rx_len);
            if (e == LQ_AGAIN)
                continue;
            if (e != LQ_OK) {
                c.err = e;
                lq_loop_io_close(loop, io, NULL);
                return;
            }
            c.head_done = 1;
            lq_http_body_init(&c.body, &c.resp, false);
            start = c.resp.head_len;
        }
        size_t used = 0, got = 0;
        lq_err_t e = lq_http_body_decode(&c.body, c.rx + start, c.rx_len - start, &used, &got);
        if (e != LQ_OK && e != LQ_AGAIN) {
            c.err = e;
            lq_loop_io_close(loop, io, NULL);
            return;
        }
        lq_err_t fe = lq_frame_watch_feed(&c.fw, c.rx + start, got);
        if (fe != LQ_OK) {
            c.err = fe;
            lq_loop_io_close(loop, io, NULL);
            return;
        }
        /* Keep only raw bytes not yet decoded (a partial chunk-size line, say). */
        size_t left = c.rx_len - start - used;
        memmove(c.rx, c.rx + start + used, left);
        c.rx_len = left;
        if (e == LQ_OK) { /* body complete */
            c.err = lq_frame_watch_end(&c.fw);
            c.closed = 1;
            lq_loop_io_close(loop, io, NULL);
            return;
        }
    }
}

/* Builds a chunked HTTP watch response with a big event between two normal ones. */
static size_t build_response(char *out, size_t cap, size_t chunk)
{
    static char body[16384];
    static char filler[4096];
    memset(filler, 'x', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    int n = snprintf(body, sizeof body,
                     "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                     "\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\","
                     "\"resourceVersion\":\"101\"},\"spec\":{\"containers\":[{\"name\":\"nginx\"}]},"
                     "\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}}\n"
                     "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                     "\"metadata\":{\"name\":\"huge\",\"namespace\":\"shop\",\"uid\":\"u-2\","
                     "\"resourceVersion\":\"102\"},\"data\":{\"k\":\"%s\"}}}\n"
                     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                     "\"metadata\":{\"resourceVersion\":\"103\"}}}\n",
                     filler);
    size_t blen = (size_t)n;
    size_t w = (size_t)snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                          "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < blen; off += chunk) {
        size_t k = blen - off < chunk ? blen - off : chunk;
        w += (size_t)snprintf(out + w, cap - w, "%zx\r\n", k);
        memcpy(out + w, body + off, k);
        w += k;
        memcpy(out + w, "\r\n", 2);
        w += 2;
    }
    w += (size_t)snprintf(out + w, cap - w, "0\r\n\r\n");
    return w;
}

static void run_stream(size_t chunk, size_t recv_piece)
{
    static char wire[32768];
    size_t wlen = build_response(wire, sizeof wire, chunk);

    lq_fake_reset();
    memset(&c, 0, sizeof c);
    lq_http_resp_init(&c.resp);
    lq_frame_watch_init(&c.fw, c.evbuf, sizeof c.evbuf, on_event, NULL);
    static lq_loop_t loop;
    lq_loop_init(&loop);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK), got;
    assert_int_equal(lq_port_tcp_connect("127.0.0.1", 6443, &got), LQ_OK);
    assert_int_equal(lq_fake_sock_feed(fd, wire, wlen), 0);
    lq_fake_sock_recv_chunk(fd, recv_piece);
    assert_int_equal(lq_loop_io_add(&loop, &c.io, fd, LQ_PORT_IN, on_readable, NULL), LQ_OK);

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    for (int i = 0; i < 100000 && !c.closed; i++)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka asserts (cmocka allocates on failure) */

    assert_int_equal(v1, v0);
    assert_true(c.closed);
    assert_int_equal(c.err, LQ_OK);
    assert_int_equal(c.nseen, 3);
    assert_string_equal(c.seen[0].type, "ADDED");
    assert_string_equal(c.seen[0].name, "web-1");
    assert_string_equal(c.seen[0].uid, "u-1");
    assert_string_equal(c.seen[0].rv, "101");
    assert_false(c.seen[0].oversized);
    /* The big event is reported, not truncated: name, uid and type from its prefix. */
    assert_true(c.seen[1].oversized);
    assert_string_equal(c.seen[1].type, "MODIFIED");
    assert_string_equal(c.seen[1].name, "huge");
    assert_string_equal(c.seen[1].uid, "u-2");
    assert_true(c.seen[1].total > EVBUF);
    assert_string_equal(c.seen[2].type, "BOOKMARK");
    assert_string_equal(c.seen[2].rv, "103");
    assert_true(c.body.done);
    assert_true(c.body.keep_alive);
}

static void test_stream_whole_reads(void **state)
{
    (void)state;
    run_stream(8192, 0);
}

static void test_stream_small_chunks_odd_reads(void **state)
{
    (void)state;
    run_stream(100, 7);
}

static void test_stream_byte_at_a_time(void **state)
{
    (void)state;
    run_stream(333, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_whole_reads),
        cmocka_unit_test(test_stream_small_chunks_odd_reads),
        cmocka_unit_test(test_stream_byte_at_a_time),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
