/* liqolet: one HTTP/1.1 connection to an API server (see conn.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/conn.h"
#include "liqolet/log.h"
#include "liqolet/tls.h"

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx);
static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx);
static void process(lq_conn_t *c);

void lq_conn_init(lq_conn_t *c, lq_loop_t *loop, const lq_conn_target_t *target)
{
    memset(c, 0, offsetof(lq_conn_t, tx_)); /* the buffers need no clearing */
    c->loop_ = loop;
    c->target_ = target;
    c->fd_ = -1;
    c->tls_ = -1;
    c->state = LQ_CONN_IDLE;
    lq_loop_timer_init(&c->timer_, on_timer, c);
}

static const char *label(const lq_conn_t *c)
{
    return c->target_->label ? c->target_->label : "the";
}

static void set_error(lq_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(lq_conn_t *c, const char *fmt, ...)
{
    int n = snprintf(c->error, sizeof c->error, "%s API server %s:%u: ", label(c),
                     c->target_->host, (unsigned)c->target_->port);
    if (n < 0 || (size_t)n >= sizeof c->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->error + n, sizeof c->error - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Drops the transport (TLS now, descriptor at the loop's reap). */
static void drop(lq_conn_t *c)
{
    if (c->tls_ >= 0) {
        lq_tls_close(c->tls_);
        c->tls_ = -1;
    }
    if (c->io_.state == LQ_LOOP_IO_ACTIVE)
        lq_loop_io_close(c->loop_, &c->io_, NULL);
    else if (c->fd_ >= 0 && c->io_.state == LQ_LOOP_IO_FREE)
        lq_port_close(c->fd_);
    c->fd_ = -1;
    c->open_ = false;
    c->rx_len_ = 0;
}

/* Ends the current request. The handler may start a new request from on_done. */
static void finish(lq_conn_t *c, lq_err_t err)
{
    lq_loop_timer_stop(c->loop_, &c->timer_);
    bool keep = err == LQ_OK && c->body_.keep_alive && c->open_;
    if (!keep)
        drop(c);
    else
        lq_loop_io_want(&c->io_, LQ_PORT_IN); /* notice an idle close by the server */
    if (err != LQ_OK)
        c->stats.failures++;
    else
        c->error[0] = '\0';
    c->state = LQ_CONN_IDLE;
    lq_conn_handler_t h = c->h_;
    memset(&c->h_, 0, sizeof c->h_);
    if (h.on_done)
        h.on_done(c, err, h.ctx);
}

static void fail(lq_conn_t *c, lq_err_t err)
{
    if (c->state == LQ_CONN_IDLE) {
        drop(c);
        return;
    }
    LQ_DEBUG("conn", "%s", c->error);
    finish(c, err);
}

static int tls_pending(lq_loop_io_t *io, void *ctx)
{
    (void)io;
    lq_conn_t *c = ctx;
    return c->tls_ >= 0 && lq_tls_pending(c->tls_);
}

static lq_err_t watch_fd(lq_conn_t *c, unsigned want)
{
    lq_err_t e = lq_loop_io_add(c->loop_, &c->io_, c->fd_, want, on_io, c);
    if (e != LQ_OK)
        return e;
    c->io_.pending = c->target_->tls_profile >= 0 ? tls_pending : NULL;
    return LQ_OK;
}

static void want_for_state(lq_conn_t *c)
{
    unsigned w;
    if (c->tls_ >= 0 && (c->state == LQ_CONN_HANDSHAKE || c->state == LQ_CONN_SENDING ||
                         c->state == LQ_CONN_HEAD || c->state == LQ_CONN_BODY))
        w = lq_tls_wants(c->tls_);
    else
        w = c->state == LQ_CONN_SENDING || c->state == LQ_CONN_CONNECTING ? LQ_PORT_OUT
                                                                          : LQ_PORT_IN;
    if (w == 0)
        w = c->state == LQ_CONN_SENDING ? LQ_PORT_OUT : LQ_PORT_IN;
    lq_loop_io_want(&c->io_, w);
}

static long xsend(lq_conn_t *c, const void *p, size_t n)
{
    return c->tls_ >= 0 ? lq_tls_send(c->tls_, p, n) : lq_port_send(c->fd_, p, n);
}

static long xrecv(lq_conn_t *c, void *p, size_t n)
{
    return c->tls_ >= 0 ? lq_tls_recv(c->tls_, p, n) : lq_port_recv(c->fd_, p, n);
}

static void start_sending(lq_conn_t *c)
{
    c->state = LQ_CONN_SENDING;
    c->tx_off_ = 0;
    lq_http_resp_init(&c->resp_);
    want_for_state(c);
}

static void handshake(lq_conn_t *c)
{
    lq_err_t e = lq_tls_handshake(c->tls_);
    if (e == LQ_AGAIN) {
        want_for_state(c);
        return;
    }
    if (e != LQ_OK) {
        set_error(c, "TLS handshake failed: %s", lq_tls_error(c->tls_));
        fail(c, e == LQ_ECLOSED ? LQ_ECLOSED : LQ_ETLS);
        return;
    }
    LQ_DEBUG("conn", "%s API server %s:%u: %s", label(c), c->target_->host,
             (unsigned)c->target_->port, lq_tls_version(c->tls_));
    c->open_ = true;
    start_sending(c);
}

static void connected(lq_conn_t *c)
{
    c->stats.connects++;
    if (c->target_->tls_profile < 0) {
        c->open_ = true;
        start_sending(c);
        return;
    }
    const char *name = c->target_->verify_name ? c->target_->verify_name : c->target_->host;
    lq_err_t e = lq_tls_open(&c->tls_, c->target_->tls_profile, c->fd_, name);
    if (e != LQ_OK) {
        set_error(c, "cannot start TLS: %s", e == LQ_ENOSPC ? "all TLS sessions in use"
                                                              : lq_err_str(e));
        fail(c, e);
        return;
    }
    c->state = LQ_CONN_HANDSHAKE;
    handshake(c);
}

static void start_connect(lq_conn_t *c);

/* Reconnects for the current request once the old descriptor has been reaped: the
 * zero-delay timer runs after this iteration's reap (see on_timer). */
static void reconnect(lq_conn_t *c)
{
    drop(c);
    c->state = LQ_CONN_CONNECTING;
    lq_loop_timer_start(c->loop_, &c->timer_, 0);
}

static void start_connect(lq_conn_t *c)
{
    c->state = LQ_CONN_CONNECTING;
    c->reused_ = false;
    lq_port_fd_t fd = -1;
    lq_err_t e = lq_port_tcp_connect(c->target_->host, c->target_->port, &fd);
    if (e != LQ_OK && e != LQ_AGAIN) {
        set_error(c, "cannot connect: %s", lq_err_str(e));
        fail(c, e);
        return;
    }
    c->fd_ = fd;
    lq_err_t w = watch_fd(c, LQ_PORT_OUT);
    if (w != LQ_OK) {
        set_error(c, "cannot watch the connection: %s", lq_err_str(w));
        fail(c, w);
        return;
    }
    if (e == LQ_OK)
        connected(c);
}

lq_err_t lq_conn_request(lq_conn_t *c, const lq_http_req_t *req, const lq_conn_handler_t *h,
                         int64_t timeout_ms)
{
    if (c == NULL || req == NULL)
        return LQ_EINVAL;
    if (c->state != LQ_CONN_IDLE)
        return LQ_ESTATE;
    lq_http_req_t r = *req;
    if (r.host == NULL)
        r.host = c->target_->host;
    if (r.port == 0)
        r.port = c->target_->port;
    /* The head goes into tx_; a body is sent straight from the caller's buffer, which
     * must stay valid until on_done. */
    c->body_ptr_ = NULL;
    c->body_len_ = 0;
    if (r.body != NULL) {
        if (!r.has_body)
            return LQ_EINVAL;
        c->body_ptr_ = r.body;
        c->body_len_ = r.body_len;
        r.body = NULL;
    }
    lq_err_t e = lq_http_write_request(c->tx_, sizeof c->tx_, &r, &c->tx_len_);
    if (e != LQ_OK)
        return e;
    if (h)
        c->h_ = *h;
    else
        memset(&c->h_, 0, sizeof c->h_);
    c->stats.requests++;
    c->error[0] = '\0';
    c->timeout_ms_ = timeout_ms;
    if (timeout_ms > 0)
        lq_loop_timer_start(c->loop_, &c->timer_, timeout_ms);
    if (c->open_ && c->io_.state == LQ_LOOP_IO_ACTIVE) {
        c->reused_ = true;
        c->stats.reuses++;
        start_sending(c);
        return LQ_OK;
    }
    if (c->io_.state != LQ_LOOP_IO_FREE) {
        /* The previous descriptor is still waiting for the loop's reap: start from a
         * zero-delay timer, which runs after the reap of this iteration. */
        c->state = LQ_CONN_CONNECTING;
        lq_loop_timer_start(c->loop_, &c->timer_, 0);
        return LQ_OK;
    }
    start_connect(c);
    return LQ_OK;
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_conn_t *c = ctx;
    if (c->state == LQ_CONN_CONNECTING && c->fd_ < 0 && c->io_.state == LQ_LOOP_IO_FREE) {
        /* deferred start (see lq_conn_request); re-arm the real timeout */
        if (c->timeout_ms_ > 0)
            lq_loop_timer_start(c->loop_, &c->timer_, c->timeout_ms_);
        start_connect(c);
        return;
    }
    if (c->state == LQ_CONN_CONNECTING && c->fd_ < 0) {
        lq_loop_timer_start(c->loop_, &c->timer_, 0);
        return;
    }
    set_error(c, "no response within %lld ms", (long long)c->timeout_ms_);
    fail(c, LQ_ETIMEDOUT);
}

static void do_send(lq_conn_t *c)
{
    size_t total = c->tx_len_ + c->body_len_;
    while (c->tx_off_ < total) {
        const char *p;
        size_t left;
        if (c->tx_off_ < c->tx_len_) {
            p = c->tx_ + c->tx_off_;
            left = c->tx_len_ - c->tx_off_;
        } else {
            p = c->body_ptr_ + (c->tx_off_ - c->tx_len_);
            left = total - c->tx_off_;
        }
        long n = xsend(c, p, left);
        if (n == LQ_IO_WAIT) {
            want_for_state(c);
            return;
        }
        if (n < 0) {
            if (c->reused_ && c->tx_off_ == 0) {
                /* the server closed the idle connection under us: reconnect once */
                reconnect(c);
                return;
            }
            set_error(c, "connection lost while sending the request");
            fail(c, n == LQ_IO_CLOSED ? LQ_ECLOSED : LQ_EIO);
            return;
        }
        c->tx_off_ += (size_t)n;
    }
    c->state = LQ_CONN_HEAD;
    want_for_state(c);
}

static void do_recv(lq_conn_t *c)
{
    for (;;) {
        if (c->state != LQ_CONN_HEAD && c->state != LQ_CONN_BODY)
            return;
        if (c->rx_len_ == sizeof c->rx_) {
            set_error(c, "response head larger than %u bytes", (unsigned)sizeof c->rx_);
            fail(c, LQ_ETOOBIG);
            return;
        }
        long n = xrecv(c, c->rx_ + c->rx_len_, sizeof c->rx_ - c->rx_len_);
        if (n == LQ_IO_WAIT) {
            want_for_state(c);
            return;
        }
        if (n < 0) {
            if (n == LQ_IO_CLOSED && c->state == LQ_CONN_HEAD && c->rx_len_ == 0 && c->reused_) {
                /* an idle keep-alive connection was closed before our request was read */
                reconnect(c);
                return;
            }
            if (n == LQ_IO_CLOSED && c->state == LQ_CONN_BODY &&
                lq_http_body_eof(&c->body_) == LQ_OK) {
                c->open_ = false;
                finish(c, LQ_OK);
                return;
            }
            set_error(c, "connection closed before the response ended");
            fail(c, n == LQ_IO_CLOSED ? LQ_ECLOSED : LQ_EIO);
            return;
        }
        c->rx_len_ += (size_t)n;
        process(c);
    }
}

static void consume(lq_conn_t *c, size_t n)
{
    memmove(c->rx_, c->rx_ + n, c->rx_len_ - n);
    c->rx_len_ -= n;
}

static void process(lq_conn_t *c)
{
    if (c->state == LQ_CONN_HEAD) {
        lq_err_t e = lq_http_resp_parse(&c->resp_, c->rx_, c->rx_len_);
        if (e == LQ_AGAIN)
            return;
        if (e != LQ_OK) {
            set_error(c, "malformed HTTP response (%s)", lq_err_str(e));
            fail(c, e);
            return;
        }
        if (c->resp_.status < 200) { /* 1xx: skip it, the real response follows */
            consume(c, c->resp_.head_len);
            lq_http_resp_init(&c->resp_);
            process(c);
            return;
        }
        lq_loop_timer_stop(c->loop_, &c->timer_); /* the head arrived in time */
        lq_http_body_init(&c->body_, &c->resp_, false);
        c->state = LQ_CONN_BODY;
        if (c->h_.on_head) {
            lq_err_t he = c->h_.on_head(c, &c->resp_, c->h_.ctx);
            if (he != LQ_OK) {
                if (c->error[0] == '\0')
                    set_error(c, "request aborted by its owner (%s)", lq_err_str(he));
                fail(c, he);
                return;
            }
        }
        consume(c, c->resp_.head_len);
    }
    if (c->state != LQ_CONN_BODY)
        return;
    size_t used = 0, got = 0;
    lq_err_t e = lq_http_body_decode(&c->body_, c->rx_, c->rx_len_, &used, &got);
    if (got > 0) {
        c->stats.bytes_in += got;
        if (c->h_.on_body) {
            lq_err_t be = c->h_.on_body(c, c->rx_, got, c->h_.ctx);
            if (be != LQ_OK) {
                if (c->error[0] == '\0')
                    set_error(c, "response aborted by its owner (%s)", lq_err_str(be));
                fail(c, be);
                return;
            }
        }
    }
    if (e != LQ_OK && e != LQ_AGAIN) {
        set_error(c, "malformed response body (%s)", lq_err_str(e));
        fail(c, e);
        return;
    }
    consume(c, used);
    if (e == LQ_OK)
        finish(c, LQ_OK);
}

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    lq_conn_t *c = ctx;
    switch (c->state) {
    case LQ_CONN_CONNECTING: {
        lq_err_t e = lq_port_tcp_finish(c->fd_);
        if (e == LQ_AGAIN)
            return;
        if (e != LQ_OK) {
            set_error(c, "cannot connect: %s", lq_err_str(e));
            fail(c, e);
            return;
        }
        connected(c);
        return;
    }
    case LQ_CONN_HANDSHAKE:
        handshake(c);
        return;
    case LQ_CONN_SENDING:
        do_send(c);
        if (c->state == LQ_CONN_HEAD)
            do_recv(c);
        return;
    case LQ_CONN_HEAD:
    case LQ_CONN_BODY:
        do_recv(c);
        return;
    case LQ_CONN_IDLE:
    default:
        if (events & (LQ_PORT_IN | LQ_PORT_ERR)) {
            /* Idle keep-alive connection: the server closed it, or sent something
             * unsolicited; either way it cannot carry the next request. */
            char b[1];
            long n = xrecv(c, b, sizeof b);
            if (n != LQ_IO_WAIT)
                drop(c);
        }
        return;
    }
}

void lq_conn_close(lq_conn_t *c)
{
    if (c->state != LQ_CONN_IDLE) {
        set_error(c, "request aborted (connection closed by liqolet)");
        finish(c, LQ_ECLOSED);
    }
    drop(c);
}

lq_err_t lq_conn_local_addr(const lq_conn_t *c, char *buf, size_t cap)
{
    if (c->fd_ < 0)
        return LQ_ESTATE;
    return lq_port_local_addr(c->fd_, buf, cap);
}
