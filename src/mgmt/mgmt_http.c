/* liqolet: the optional HTTP listener of the management endpoint (--http-listen,
 * DESIGN.md Decision 12): GET or HEAD /healthz, /readyz (200, or 503 when not ready) and
 * /metrics, for kubelet probes and Prometheus, which reach a pod over HTTP. Nothing else,
 * nothing secret, no authentication; one request per connection (Connection: close).
 *
 * Memory: LQ_MGMT_HTTP_CONNS connections, each with one LQ_MGMT_HTTP_REQ_MAX buffer that
 * holds the request head and then, while answering, one window of the body. The body is
 * rendered window by window from the start (lq_mgmt_render with Block2), so /metrics of
 * any size is sent without a body buffer; its digest is checked at every window, and a
 * body that changed while it was being sent is cut short (the client sees fewer bytes
 * than Content-Length and retries) rather than sent inconsistent.
 *
 * The listening sockets are made here with POSIX calls: the port layer has no listen or
 * accept yet (only this module needs them). Accepted connections then use lq_port_recv,
 * lq_port_send and the loop like any other descriptor. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "liqolet/log.h"
#include "liqolet/mgmt.h"

#define HTTP_TIMEOUT_MS 10000
#define HTTP_BACKLOG 8

typedef struct lq_mgmt_http_conn_ hconn_t;

static void conn_close(hconn_t *c)
{
    lq_mgmt_t *m = c->m;
    lq_loop_timer_stop(m->loop_, &c->timer);
    lq_loop_io_close(m->loop_, &c->io, NULL);
    c->busy = false;
}

/* Window of the body at c->sent: renders the block that holds it. Returns false when the
 * body changed since the head was sent (its digest differs). */
static bool fill_window(hconn_t *c)
{
    size_t bsize = LQ_MGMT_BLOCK_MAX < sizeof c->buf ? LQ_MGMT_BLOCK_MAX : sizeof c->buf;
    uint32_t szx = 0;
    while ((16u << szx) < bsize)
        szx++;
    uint64_t num = c->sent / bsize;
    lq_mgmt_req_t req;
    memset(&req, 0, sizeof req);
    req.res = (lq_mgmt_res_t)c->res;
    req.accept = -1;
    req.max_block = bsize;
    req.has_block2 = true;
    req.block2 = (uint32_t)(num << 4) | szx;
    lq_mgmt_view_t v;
    lq_mgmt_resp_t resp;
    lq_mgmt_view(c->m, &v);
    if (lq_mgmt_render(&v, &req, NULL, c->buf, sizeof c->buf, &resp) != LQ_OK || resp.code != 205)
        return false;
    if (c->sent > 0 && memcmp(resp.etag_value, c->etag, sizeof c->etag) != 0)
        return false;
    memcpy(c->etag, resp.etag_value, sizeof c->etag);
    c->win_off = num * bsize;
    c->len = resp.len;
    if (c->sent == 0)
        c->total = resp.size2 ? resp.size2_value : resp.len;
    return true;
}

/* Sends what the socket takes; closes when done or broken. */
static void pump(hconn_t *c)
{
    while (c->sent < c->total) {
        if (c->sent < c->win_off || c->sent >= c->win_off + c->len) {
            if (!fill_window(c) || c->len == 0) {
                LQ_DEBUG("mgmt", "HTTP: the body changed while it was sent; cut short");
                conn_close(c);
                return;
            }
        }
        size_t at = (size_t)(c->sent - c->win_off);
        long n = lq_port_send(c->io.fd, c->buf + at, c->len - at);
        if (n == LQ_IO_WAIT) {
            lq_loop_io_want(&c->io, LQ_PORT_OUT);
            return;
        }
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->sent += (uint64_t)n;
    }
    conn_close(c);
}

static void send_head(hconn_t *c, int status, const char *reason, const char *ctype,
                      uint64_t length, const char *extra)
{
    char head[320];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n%s"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, reason, ctype, (unsigned long long)length, extra);
    /* A fresh socket takes a few hundred bytes at once; if not, give up on this one. */
    if (n <= 0 || (size_t)n >= sizeof head || lq_port_send(c->io.fd, head, (size_t)n) != n) {
        conn_close(c);
        return;
    }
}

static void answer_text(hconn_t *c, int status, const char *reason, const char *body,
                        bool head_only, const char *extra)
{
    size_t n = strlen(body);
    send_head(c, status, reason, "text/plain; charset=utf-8", n, extra);
    if (c->busy && !head_only)
        (void)lq_port_send(c->io.fd, body, n);
    if (c->busy)
        conn_close(c);
}

static void answer(hconn_t *c, lq_err_t parsed, int res, bool head_only)
{
    lq_mgmt_t *m = c->m;
    m->stats.http_requests++;
    if (parsed == LQ_ENOTSUP) {
        answer_text(c, 405, "Method Not Allowed", "only GET and HEAD\n", false,
                    "Allow: GET, HEAD\r\n");
        return;
    }
    if (parsed != LQ_OK) {
        answer_text(c, 400, "Bad Request", "malformed request\n", false, "");
        return;
    }
    if (res < 0) {
        answer_text(c, 404, "Not Found", "only /healthz, /readyz and /metrics\n", head_only, "");
        return;
    }
    c->res = res;
    c->sent = 0;
    c->len = 0;
    c->win_off = 0;
    if (!fill_window(c)) {
        answer_text(c, 500, "Internal Server Error", "cannot render\n", head_only, "");
        return;
    }
    int status = 200;
    const char *reason = "OK";
    if (res == LQ_MGMT_RES_READY) {
        char why[8];
        lq_mgmt_view_t v;
        lq_mgmt_view(m, &v);
        if (!lq_mgmt_ready(v.snap, why, sizeof why)) {
            status = 503;
            reason = "Service Unavailable";
        }
    }
    send_head(c, status, reason,
              res == LQ_MGMT_RES_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
                                         : "text/plain; charset=utf-8",
              c->total, "");
    if (!c->busy)
        return;
    if (head_only) {
        conn_close(c);
        return;
    }
    c->sending = true;
    pump(c);
}

static void on_conn(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    hconn_t *c = ctx;
    if (c->sending) {
        if (events & (LQ_PORT_OUT | LQ_PORT_ERR))
            pump(c);
        return;
    }
    long n = lq_port_recv(c->io.fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n == LQ_IO_WAIT)
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    int res;
    bool head_only;
    lq_err_t e = lq_mgmt_http_parse(c->buf, c->len, &res, &head_only);
    if (e == LQ_AGAIN)
        return;
    answer(c, e, res, head_only);
}

static void on_timeout(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    conn_close(ctx);
}

static void on_accept(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)events;
    lq_mgmt_t *m = ctx;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: all taken; anything else: try again next time */
        hconn_t *c = NULL;
        for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS && c == NULL; i++)
            if (!m->http_conns_[i].busy && m->http_conns_[i].io.state == LQ_LOOP_IO_FREE)
                c = &m->http_conns_[i];
        if (c == NULL) {
            LQ_DEBUG("mgmt", "HTTP: %u connections already open; one refused",
                     (unsigned)LQ_MGMT_HTTP_CONNS);
            close(fd);
            continue;
        }
        c->m = m;
        c->busy = true;
        c->sending = false;
        c->len = 0;
        if (lq_loop_io_add(loop, &c->io, fd, LQ_PORT_IN, on_conn, c) != LQ_OK) {
            c->busy = false;
            close(fd);
            continue;
        }
        lq_loop_timer_init(&c->timer, on_timeout, c);
        lq_loop_timer_start(loop, &c->timer, HTTP_TIMEOUT_MS);
    }
}

static lq_err_t listen_one(lq_mgmt_t *m, size_t i)
{
    const lq_config_addr_t *a = &m->http_[i];
    bool v6 = strchr(a->host, ':') != NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        if (inet_pton(AF_INET6, a->host, &s6->sin6_addr) != 1)
            return LQ_EINVAL;
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        if (inet_pton(AF_INET, a->host, &s4->sin_addr) != 1)
            return LQ_EINVAL;
        sl = sizeof *s4;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return LQ_EIO;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)(void *)&ss, sl) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
        LQ_ERROR("mgmt", "cannot listen on http://%s%s%s:%u: %s", v6 ? "[" : "", a->host,
                 v6 ? "]" : "", (unsigned)a->port, strerror(errno));
        close(fd);
        return LQ_EIO;
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)(void *)&ss, &sl) == 0)
        m->http_ports[i] = ntohs(v6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    if (lq_loop_io_add(m->loop_, &m->http_listen_io_[i], fd, LQ_PORT_IN, on_accept, m) != LQ_OK) {
        close(fd);
        return LQ_ENOSPC;
    }
    m->n_http_listening_ = i + 1;
    LQ_INFO("mgmt", "HTTP listening on http://%s%s%s:%u (/healthz, /readyz, /metrics)%s",
            v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)m->http_ports[i],
            lq_mgmt_is_loopback(a->host) ? "" : "; not a loopback address: reachable from the "
                                                "network, without authentication");
    return LQ_OK;
}

lq_err_t lq_mgmt_http_start(lq_mgmt_t *m)
{
    for (size_t i = 0; i < m->n_http_; i++) {
        lq_err_t e = listen_one(m, i);
        if (e != LQ_OK)
            return e;
    }
    return LQ_OK;
}

void lq_mgmt_http_close(lq_mgmt_t *m)
{
    for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS; i++)
        if (m->http_conns_[i].busy)
            conn_close(&m->http_conns_[i]);
    for (size_t i = 0; i < m->n_http_listening_; i++)
        lq_loop_io_close(m->loop_, &m->http_listen_io_[i], NULL);
    m->n_http_listening_ = 0;
}
