/* liqolet: one HTTP/1.1 connection to an API server (see conn.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/conn.h"
#include "liqolet/log.h"
#include "liqolet/tls.h"

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx);
static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx);
static void on_total(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx);
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
    lq_loop_timer_init(&c->total_timer_, on_total, c);
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
    c->kick_ = false;
    c->backlog_ = false;
}

/* Per-request flow-control state, cleared when a request starts and when it ends. */
static void reset_flow(lq_conn_t *c)
{
    c->stream_ = c->head_sent_ = c->send_wait_ = c->send_done_ = false;
    c->in_send_ = c->resumed_ = c->cut_ = false;
    c->paused_ = c->backlog_ = false;
}

/* Ends the current request. The handler may start a new request from on_done. */
static void finish(lq_conn_t *c, lq_err_t err)
{
    lq_loop_timer_stop(c->loop_, &c->timer_);
    lq_loop_timer_stop(c->loop_, &c->total_timer_);
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
    c->gen_++;
    reset_flow(c);
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

/* Work the descriptor's readiness cannot show: a resume or un-pause asked for a
 * dispatch (kick_), or TLS holds decrypted bytes; the latter not while reading is
 * paused, or the loop would spin on them. */
static int io_pending(lq_loop_io_t *io, void *ctx)
{
    (void)io;
    lq_conn_t *c = ctx;
    if (c->kick_)
        return 1;
    return !c->paused_ && c->tls_ >= 0 && lq_tls_pending(c->tls_);
}

static lq_err_t watch_fd(lq_conn_t *c, unsigned want)
{
    lq_err_t e = lq_loop_io_add(c->loop_, &c->io_, c->fd_, want, on_io, c);
    if (e != LQ_OK)
        return e;
    c->io_.pending = io_pending;
    return LQ_OK;
}

static void want_for_state(lq_conn_t *c)
{
    unsigned w;
    if (c->state == LQ_CONN_SENDING && c->stream_ && c->head_sent_) {
        /* A streamed body: read (an early answer) while writing what the producer
         * gives; only read while it has nothing. */
        w = c->paused_ ? 0u : LQ_PORT_IN;
        if (!c->send_wait_)
            w |= LQ_PORT_OUT;
        lq_loop_io_want(&c->io_, w);
        return;
    }
    if (c->paused_ && (c->state == LQ_CONN_HEAD || c->state == LQ_CONN_BODY)) {
        lq_loop_io_want(&c->io_, 0); /* errors are still reported */
        return;
    }
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
     * must stay valid until on_done, or produced by on_send into tx_ once the head is
     * out (chunked: its length is not known in advance). */
    c->body_ptr_ = NULL;
    c->body_len_ = 0;
    bool stream = false;
    if (r.body != NULL) {
        if (!r.has_body)
            return LQ_EINVAL;
        c->body_ptr_ = r.body;
        c->body_len_ = r.body_len;
        r.body = NULL;
    } else if (!r.has_body && h != NULL && h->on_send != NULL) {
        stream = true;
        r.chunked = true;
    } else if (r.chunked) {
        return LQ_EINVAL; /* a chunked body with nobody to produce it */
    }
    lq_err_t e = lq_http_write_request(c->tx_, sizeof c->tx_, &r, &c->tx_len_);
    if (e != LQ_OK)
        return e;
    if (h)
        c->h_ = *h;
    else
        memset(&c->h_, 0, sizeof c->h_);
    reset_flow(c);
    c->stream_ = stream;
    c->stats.requests++;
    c->error[0] = '\0';
    c->timeout_ms_ = timeout_ms;
    if (timeout_ms > 0)
        lq_loop_timer_start(c->loop_, &c->timer_, timeout_ms);
    c->total_run_ms_ = c->total_ms_;
    if (c->total_run_ms_ > 0)
        lq_loop_timer_start(c->loop_, &c->total_timer_, c->total_run_ms_);
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
    if (c->state == LQ_CONN_BODY) {
        c->stats.body_stalls++;
        set_error(c, "response stalled: nothing received for %lld ms",
                  (long long)c->body_idle_ms_);
    } else if (c->state == LQ_CONN_SENDING && c->stream_ && c->head_sent_)
        set_error(c, "request body stalled: nothing sent for %lld ms", (long long)c->timeout_ms_);
    else
        set_error(c, "no response within %lld ms", (long long)c->timeout_ms_);
    fail(c, LQ_ETIMEDOUT);
}

/* The total deadline (lq_conn_set_total): whatever state the request is in, it ends
 * here, and so does the connection (its bytes are no longer ours to read). */
static void on_total(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_conn_t *c = ctx;
    if (c->state == LQ_CONN_IDLE)
        return;
    c->stats.deadlines++;
    set_error(c, "request not complete within %lld ms (total deadline)",
              (long long)c->total_run_ms_);
    fail(c, LQ_ETIMEDOUT);
}

static void do_recv(lq_conn_t *c);

/* Reading a body: bytes must keep coming (lq_conn_set_body_idle); a pause by the owner
 * stops the clock. */
static void arm_body_idle(lq_conn_t *c)
{
    if (c->state != LQ_CONN_BODY || c->body_idle_ms_ <= 0)
        return;
    if (c->paused_)
        lq_loop_timer_stop(c->loop_, &c->timer_);
    else
        lq_loop_timer_start(c->loop_, &c->timer_, c->body_idle_ms_);
}

/* The socket failed under a streamed body. The API server may have answered and
 * closed (an early rejection): stop sending and read what it sent; do_recv turns a
 * connection without an answer into the failure. */
static void send_broke(lq_conn_t *c)
{
    c->cut_ = true;
    c->state = LQ_CONN_HEAD;
    want_for_state(c);
}

/* Sends what tx_ holds from tx_off_ (the head, then a fixed body from the caller's
 * buffer; or the current chunk). LQ_OK when all of it is out; LQ_AGAIN when the socket
 * is full (readiness set); another value when the request failed or changed course
 * (reconnect, send_broke): the caller returns. */
static lq_err_t flush(lq_conn_t *c)
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
            return LQ_AGAIN;
        }
        if (n < 0) {
            if (c->reused_ && !c->head_sent_ && c->tx_off_ == 0) {
                /* the server closed the idle connection under us: reconnect once */
                reconnect(c);
                return LQ_ECLOSED;
            }
            if (c->stream_ && c->head_sent_ && !c->paused_) {
                send_broke(c);
                return LQ_ECLOSED;
            }
            set_error(c, "connection lost while sending the request");
            fail(c, n == LQ_IO_CLOSED ? LQ_ECLOSED : LQ_EIO);
            return LQ_EIO;
        }
        c->tx_off_ += (size_t)n;
    }
    return LQ_OK;
}

/* Asks the producer for the next chunk and frames it in place in tx_: the size line is
 * written right before the data (room reserved by LQ_CONN_CHUNK_HEAD), CRLF and a
 * possible last chunk after it. LQ_OK: a chunk is queued (tx_off_..tx_len_); LQ_AGAIN:
 * nothing now; another value: the request failed (or was ended by the producer). */
static lq_err_t produce(lq_conn_t *c)
{
    char *data = c->tx_ + LQ_CONN_CHUNK_HEAD;
    const size_t cap = LQ_CONN_SEND_CAP;
    size_t len = 0;
    bool eof = false;
    uint32_t gen = c->gen_;
    c->resumed_ = false;
    c->in_send_ = true;
    lq_err_t e = c->h_.on_send(c, data, cap, &len, &eof, c->h_.ctx);
    if (c->gen_ != gen)
        return LQ_ECLOSED; /* the producer closed the connection */
    c->in_send_ = false;
    if (e == LQ_AGAIN || (e == LQ_OK && len == 0 && !eof)) {
        if (c->resumed_)
            c->kick_ = true; /* resumed from inside on_send: ask again from the loop */
        else
            c->send_wait_ = true;
        want_for_state(c);
        return LQ_AGAIN;
    }
    if (e != LQ_OK) {
        set_error(c, "request body aborted by its producer (%s)", lq_err_str(e));
        fail(c, e);
        return e;
    }
    if (len > cap) {
        set_error(c, "request body producer claims %zu bytes of a %zu-byte buffer", len, cap);
        fail(c, LQ_EINVAL);
        return LQ_EINVAL;
    }
    size_t start = LQ_CONN_CHUNK_HEAD, end = LQ_CONN_CHUNK_HEAD;
    if (len > 0) {
        char line[LQ_CONN_CHUNK_HEAD + 1];
        int n = snprintf(line, sizeof line, "%zx\r\n", len);
        start -= (size_t)n;
        memcpy(c->tx_ + start, line, (size_t)n);
        end += len;
        memcpy(c->tx_ + end, "\r\n", 2);
        end += 2;
        c->stats.chunks_out++;
    }
    if (eof) {
        memcpy(c->tx_ + end, "0\r\n\r\n", 5);
        end += 5;
        c->send_done_ = true;
        c->stats.chunks_out++;
    }
    c->tx_off_ = start;
    c->tx_len_ = end;
    return LQ_OK;
}

/* Chunks sent per dispatch before yielding to the loop (the socket stays wanted for
 * writing, so the next iteration goes on): a producer that always has bytes and a
 * socket that always takes them must not starve the other connections. */
#define SEND_BURST 8u

static void do_send(lq_conn_t *c)
{
    uint32_t gen = c->gen_;
    for (unsigned burst = 0;; burst++) {
        bool queued = c->tx_off_ < c->tx_len_ + c->body_len_;
        if (flush(c) != LQ_OK)
            return;
        c->head_sent_ = true;
        if (!c->stream_ || c->send_done_)
            break;
        /* A piece went out: the request timeout counts from here (idle timeout). */
        if (queued && c->timeout_ms_ > 0)
            lq_loop_timer_start(c->loop_, &c->timer_, c->timeout_ms_);
        if (c->send_wait_ || burst >= SEND_BURST) {
            want_for_state(c);
            return;
        }
        lq_err_t e = produce(c);
        if (c->gen_ != gen || e != LQ_OK)
            return;
    }
    if (c->stream_ && c->timeout_ms_ > 0) /* the last chunk: now wait for the head */
        lq_loop_timer_start(c->loop_, &c->timer_, c->timeout_ms_);
    c->state = LQ_CONN_HEAD;
    want_for_state(c);
}

/* Whether the response is being read: the usual states, and a streamed body being
 * sent (the answer may come early). */
static bool reading(const lq_conn_t *c)
{
    return c->state == LQ_CONN_HEAD || c->state == LQ_CONN_BODY ||
           (c->state == LQ_CONN_SENDING && c->stream_ && c->head_sent_);
}

static void do_recv(lq_conn_t *c)
{
    uint32_t gen = c->gen_;
    for (;;) {
        if (c->gen_ != gen || !reading(c))
            return;
        if (c->paused_) {
            want_for_state(c);
            return;
        }
        if (c->backlog_) { /* what a pause left in rx_ comes before new bytes */
            c->backlog_ = false;
            process(c);
            continue;
        }
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
            if (n == LQ_IO_CLOSED && c->state == LQ_CONN_HEAD && c->rx_len_ == 0 &&
                c->reused_ && !c->stream_) {
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
            if (c->state != LQ_CONN_BODY && c->stream_ && !c->send_done_)
                set_error(c, "connection lost while sending the request body");
            else
                set_error(c, "connection closed before the response ended");
            fail(c, n == LQ_IO_CLOSED ? LQ_ECLOSED : LQ_EIO);
            return;
        }
        c->rx_len_ += (size_t)n;
        arm_body_idle(c); /* bytes came (a head completed in process arms it too) */
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
    uint32_t gen = c->gen_;
    if (c->paused_) {
        c->backlog_ = true;
        return;
    }
    if (c->state == LQ_CONN_HEAD || c->state == LQ_CONN_SENDING) {
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
        if (c->state == LQ_CONN_SENDING || c->cut_) {
            /* Answered before the streamed body ended (an API server rejecting the
             * request early): send nothing more. The request on the wire is incomplete,
             * so the connection cannot carry another one. */
            c->cut_ = true;
            c->stats.early_responses++;
            LQ_DEBUG("conn", "%s API server answered %d before the request body ended",
                     label(c), c->resp_.status);
        }
        lq_http_body_init(&c->body_, &c->resp_, false);
        if (c->cut_)
            c->body_.keep_alive = false;
        c->state = LQ_CONN_BODY;
        arm_body_idle(c);
        want_for_state(c);
        if (c->h_.on_head) {
            lq_err_t he = c->h_.on_head(c, &c->resp_, c->h_.ctx);
            if (c->gen_ != gen)
                return;
            if (he != LQ_OK) {
                if (c->error[0] == '\0')
                    set_error(c, "request aborted by its owner (%s)", lq_err_str(he));
                fail(c, he);
                return;
            }
        }
        consume(c, c->resp_.head_len);
        if (c->paused_) { /* paused from on_head: the body waits in rx_ */
            c->backlog_ = true;
            return;
        }
    }
    if (c->state != LQ_CONN_BODY)
        return;
    size_t used = 0, got = 0;
    lq_err_t e = lq_http_body_decode(&c->body_, c->rx_, c->rx_len_, &used, &got);
    if (got > 0) {
        c->stats.bytes_in += got;
        if (c->h_.on_body) {
            lq_err_t be = c->h_.on_body(c, c->rx_, got, c->h_.ctx);
            if (c->gen_ != gen)
                return; /* the owner ended the request (rx_ is gone) */
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
    if (e != LQ_OK)
        return;
    if (c->rx_len_ > 0 && c->body_.keep_alive) {
        /* Bytes after a complete response that nobody asked for: a desynchronised or
         * smuggled answer. They must never answer the next request: close instead. */
        LQ_WARN("conn", "%s API server sent %zu bytes after a complete response; closing the "
                "connection", label(c), c->rx_len_);
        c->stats.trailing_garbage++;
        c->body_.keep_alive = false;
    }
    if (c->paused_) { /* the end is delivered after the pause, like the bytes before it */
        c->backlog_ = true;
        return;
    }
    finish(c, LQ_OK);
}

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    lq_conn_t *c = ctx;
    c->kick_ = false;
    uint32_t gen = c->gen_;
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
        /* A streamed body: the answer first (it may stop the upload), then more body. */
        if (reading(c) && !c->paused_ && ((events & (LQ_PORT_IN | LQ_PORT_ERR)) || c->backlog_))
            do_recv(c);
        if (c->gen_ != gen || c->state != LQ_CONN_SENDING)
            return;
        do_send(c);
        if (c->gen_ == gen && c->state == LQ_CONN_HEAD)
            do_recv(c);
        return;
    case LQ_CONN_HEAD:
    case LQ_CONN_BODY:
        if (c->paused_) {
            if (events & LQ_PORT_ERR) {
                /* Errors are reported whatever is wanted; leaving this one would spin. */
                set_error(c, "connection broke while reading was paused");
                fail(c, LQ_EIO);
            }
            return;
        }
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

void lq_conn_send_resume(lq_conn_t *c)
{
    if (c == NULL || c->state != LQ_CONN_SENDING || !c->stream_)
        return;
    if (c->in_send_) {
        c->resumed_ = true; /* produce() asks again from the loop */
        return;
    }
    if (!c->send_wait_)
        return;
    c->send_wait_ = false;
    c->kick_ = true;
    want_for_state(c);
}

void lq_conn_set_body_idle(lq_conn_t *c, int64_t ms)
{
    if (c != NULL)
        c->body_idle_ms_ = ms > 0 ? ms : 0;
}

void lq_conn_set_total(lq_conn_t *c, int64_t ms)
{
    if (c != NULL)
        c->total_ms_ = ms > 0 ? ms : 0;
}

void lq_conn_read_pause(lq_conn_t *c, bool paused)
{
    if (c == NULL || c->state == LQ_CONN_IDLE || c->paused_ == paused)
        return;
    c->paused_ = paused;
    arm_body_idle(c);
    if (!paused && reading(c)) {
        /* Buffered bytes (rx_, TLS) are invisible to poll(): the loop's next iteration
         * dispatches on_io, which processes them, then reads. */
        c->backlog_ = true;
        c->kick_ = true;
    }
    if (c->io_.state == LQ_LOOP_IO_ACTIVE &&
        (c->state == LQ_CONN_SENDING || c->state == LQ_CONN_HEAD || c->state == LQ_CONN_BODY))
        want_for_state(c);
}

lq_err_t lq_conn_local_addr(const lq_conn_t *c, char *buf, size_t cap)
{
    if (c->fd_ < 0)
        return LQ_ESTATE;
    return lq_port_local_addr(c->fd_, buf, cap);
}

const char *lq_conn_tls_info(const lq_conn_t *c)
{
    return c->tls_ >= 0 ? lq_tls_version(c->tls_) : "";
}
