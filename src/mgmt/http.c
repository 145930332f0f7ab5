/* liqolet: the optional HTTP listener of the management endpoint (see
 * include/liqolet/mgmt_http.h).
 *
 * The body is rendered window by window from the start (lq_mgmt_render_response with
 * Block2); its digest is checked at every window, and a body that changed while it was
 * being sent is cut short (the client sees fewer bytes than Content-Length and retries)
 * rather than sent inconsistent.
 *
 * Sockets: lq_port_tcp_listen / lq_port_tcp_accept, then lq_port_recv, lq_port_send and
 * the loop like any other descriptor. No OS header here. */
#include <stdio.h>
#include <string.h>

#include "liqolet/log.h"
#include "liqolet/mgmt_http.h"
#include "liqolet/port.h"

#define HTTP_BACKLOG 8
/* How long accepting pauses when the process is out of descriptors (ms). */
#define HTTP_ACCEPT_PAUSE_MS 1000

typedef struct lq_mgmt_http_conn_ hconn_t;

static void conn_close(hconn_t *c)
{
    lq_mgmt_http_t *h = c->h;
    lq_loop_timer_stop(h->loop_, &c->timer);
    lq_loop_io_close(h->loop_, &c->io, NULL);
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
    c->h->src_.view(c->h->src_.ctx, &v, true);
    if (lq_mgmt_render_response(&v, &req, NULL, c->buf, sizeof c->buf, &resp) != LQ_OK ||
        resp.code != 205)
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
    lq_mgmt_http_t *h = c->h;
    h->src_.stats->http_requests++;
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
        h->src_.view(h->src_.ctx, &v, true);
        if (!lq_mgmt_render_ready(v.snap, why, sizeof why)) {
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
    lq_loop_timer_start(h->loop_, &c->timer, LQ_MGMT_HTTP_TIMEOUT_MS); /* a slow reader */
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
    lq_err_t e = lq_mgmt_render_http_parse(c->buf, c->len, &res, &head_only);
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

static void set_accepting(lq_mgmt_http_t *h, bool on)
{
    for (size_t i = 0; i < h->n_listening_; i++)
        lq_loop_io_want(&h->listen_io_[i], on ? LQ_PORT_IN : 0u);
}

static void on_pause_end(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    set_accepting(ctx, true);
}

/* "1.2.3.4:80" -> "1.2.3.4", "[fd00::1]:80" -> "fd00::1" (the peer, whatever its port). */
static void peer_addr(const char *peer, char *out, size_t cap)
{
    const char *start = peer, *end = strrchr(peer, ':');
    if (peer[0] == '[') {
        start = peer + 1;
        end = strchr(start, ']');
    }
    size_t n = end ? (size_t)(end - start) : strlen(start);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

static void on_accept(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)events;
    lq_mgmt_http_t *h = ctx;
    for (;;) {
        lq_port_fd_t fd = -1;
        char peer[LQ_PORT_PEER_MAX];
        lq_err_t e = lq_port_tcp_accept(io->fd, &fd, peer, sizeof peer);
        if (e == LQ_AGAIN)
            return;
        if (e != LQ_OK) {
            /* Out of descriptors (or a broken listener): the listener would stay readable,
             * so stop watching it for a while instead of spinning. */
            LQ_WARN("mgmt", "HTTP: cannot accept: %s; pausing for %d ms", lq_err_str(e),
                    HTTP_ACCEPT_PAUSE_MS);
            set_accepting(h, false);
            lq_loop_timer_start(loop, &h->pause_timer_, HTTP_ACCEPT_PAUSE_MS);
            return;
        }
        char addr[LQ_PORT_PEER_MAX];
        peer_addr(peer, addr, sizeof addr);
        unsigned same = 0, busy = 0;
        hconn_t *c = NULL, *oldest_waiting = NULL;
        for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS + 1u; i++) {
            hconn_t *k = &h->conns_[i];
            if (!k->busy) {
                if (c == NULL && k->io.state == LQ_LOOP_IO_FREE)
                    c = k;
                continue;
            }
            busy++;
            same += strcmp(k->peer, addr) == 0;
            if (!k->sending && (oldest_waiting == NULL || k->since < oldest_waiting->since))
                oldest_waiting = k;
        }
        if (same >= LQ_MGMT_HTTP_PER_PEER) {
            LQ_DEBUG("mgmt", "HTTP: %s already holds %u connections; refused", addr, same);
            h->src_.stats->http_refused++;
            lq_port_close(fd);
            continue;
        }
        if (busy >= LQ_MGMT_HTTP_CONNS && oldest_waiting != NULL && c != NULL) {
            /* Full: a connection that has not even sent its head yields to the newcomer
             * (a probe must not fail because of idle connections); the spare structure
             * takes the newcomer while the evicted one's descriptor waits for the reap. */
            LQ_DEBUG("mgmt", "HTTP: table full; the oldest connection waiting for its head "
                     "(%s) makes room for %s", oldest_waiting->peer, addr);
            h->src_.stats->http_evicted++;
            conn_close(oldest_waiting);
            busy--;
        }
        if (busy >= LQ_MGMT_HTTP_CONNS || c == NULL) {
            LQ_DEBUG("mgmt", "HTTP: %u connections already open; %s refused",
                     (unsigned)LQ_MGMT_HTTP_CONNS, peer);
            h->src_.stats->http_refused++;
            lq_port_close(fd);
            continue;
        }
        c->h = h;
        (void)snprintf(c->peer, sizeof c->peer, "%s", addr);
        c->since = lq_port_mono_ms();
        c->busy = true;
        c->sending = false;
        c->len = 0;
        if (lq_loop_io_add(loop, &c->io, fd, LQ_PORT_IN, on_conn, c) != LQ_OK) {
            c->busy = false;
            lq_port_close(fd);
            continue;
        }
        LQ_TRACE("mgmt", "HTTP: connection from %s", peer);
        lq_loop_timer_init(&c->timer, on_timeout, c);
        lq_loop_timer_start(loop, &c->timer, LQ_MGMT_HTTP_HEAD_TIMEOUT_MS);
    }
}

static lq_err_t listen_one(lq_mgmt_http_t *h, const lq_config_addr_t *a, size_t i)
{
    bool v6 = strchr(a->host, ':') != NULL;
    lq_port_fd_t fd = -1;
    lq_err_t e = lq_port_tcp_listen(a->host, a->port, HTTP_BACKLOG, &fd);
    if (e != LQ_OK) {
        int os = lq_port_sock_error(-1);
        LQ_ERROR("mgmt", "cannot listen on http://%s%s%s:%u: %s%s%s", v6 ? "[" : "", a->host,
                 v6 ? "]" : "", (unsigned)a->port, lq_err_str(e), os != 0 ? ": " : "",
                 os != 0 ? strerror(os) : "");
        return e;
    }
    if (lq_port_local_port(fd, &h->ports[i]) != LQ_OK)
        h->ports[i] = a->port;
    e = lq_loop_io_add(h->loop_, &h->listen_io_[i], fd, LQ_PORT_IN, on_accept, h);
    if (e != LQ_OK) {
        lq_port_close(fd);
        return e;
    }
    h->n_listening_ = i + 1;
    LQ_INFO("mgmt", "HTTP listening on http://%s%s%s:%u (/healthz, /readyz, /metrics)%s",
            v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)h->ports[i],
            lq_mgmt_render_is_loopback(a->host) ? "" : "; not a loopback address: reachable "
                                                       "from the network, without "
                                                       "authentication");
    return LQ_OK;
}

void lq_mgmt_http_init(lq_mgmt_http_t *h)
{
    memset(h, 0, sizeof *h);
    lq_loop_timer_init(&h->pause_timer_, on_pause_end, h);
}

lq_err_t lq_mgmt_http_start(lq_mgmt_http_t *h, lq_loop_t *loop, const lq_config_addr_t *addrs,
                            size_t n, const lq_mgmt_source_t *src)
{
    if (h == NULL || loop == NULL || src == NULL || src->view == NULL || src->stats == NULL ||
        (addrs == NULL && n > 0) || n > LQ_CONFIG_MAX_LISTEN || h->started)
        return LQ_EINVAL;
    h->loop_ = loop;
    h->src_ = *src;
    h->n_listening_ = 0;
    memset(h->ports, 0, sizeof h->ports);
    lq_loop_timer_init(&h->pause_timer_, on_pause_end, h);
    h->started = true;
    for (size_t i = 0; i < n; i++) {
        lq_err_t e = listen_one(h, &addrs[i], i);
        if (e != LQ_OK) {
            lq_mgmt_http_close(h);
            return e;
        }
    }
    return LQ_OK;
}

void lq_mgmt_http_close(lq_mgmt_http_t *h)
{
    if (h == NULL || !h->started)
        return;
    for (size_t i = 0; i < LQ_MGMT_HTTP_CONNS + 1u; i++)
        if (h->conns_[i].busy)
            conn_close(&h->conns_[i]);
    for (size_t i = 0; i < h->n_listening_; i++)
        lq_loop_io_close(h->loop_, &h->listen_io_[i], NULL);
    h->n_listening_ = 0;
    lq_loop_timer_stop(h->loop_, &h->pause_timer_);
    h->started = false;
}
