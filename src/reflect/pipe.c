/* liqolet: the streaming pipe (include/liqolet/pipe.h): home GET -> forge -> ring ->
 * foreign chunked apply, with read back-pressure; constant memory whatever the size. */
#include <stdio.h>
#include <string.h>

#include "liqolet/kapi.h"
#include "liqolet/log.h"
#include "liqolet/pipe.h"
#include "liqolet/scan.h"

#define PIPE_TIMEOUT_MS 30000
#define APPLY_TYPE "application/apply-patch+yaml"

static bool ok2xx(int status)
{
    return status >= 200 && status < 300;
}

/* The job ends once both requests have: the callback runs from a zero-delay timer, never
 * inside a connection's callback (the caller may start the next job at once). */
static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_pipe_t *p = ctx;
    if (!p->busy_ || p->open_ > 0)
        return;
    p->busy_ = false;
    if (p->failed_) {
        p->stats.failures++;
    } else {
        p->err_ = LQ_OK;
        p->stats.writes += p->write_;
    }
    if (p->done_)
        p->done_(p, p->err_, p->ctx_);
}

static void maybe_finish(lq_pipe_t *p)
{
    if (p->busy_ && p->open_ == 0)
        lq_loop_timer_start(p->loop_, &p->timer_, 0);
}

/* The first failure wins; the other side is stopped (the foreign one before its last
 * chunk, so the API server discards the partial body). */
static void fail(lq_pipe_t *p, lq_err_t e, int status, const char *msg, lq_conn_t *self)
{
    if (p->failed_)
        return;
    p->failed_ = true;
    p->err_ = e;
    p->status = status;
    if (msg && msg[0])
        (void)snprintf(p->message, sizeof p->message, "%s", msg);
    if (p->write_ && self != &p->fconn_ && p->fconn_.state != LQ_CONN_IDLE) {
        p->stats.aborted++;
        lq_conn_close(&p->fconn_);
    }
    if (self != &p->hconn_ && p->hconn_.state != LQ_CONN_IDLE)
        lq_conn_close(&p->hconn_);
}

/* The error of a non-2xx answer: its class and the Status message. */
static void fail_status(lq_pipe_t *p, int status, const char *body, size_t len, lq_conn_t *self)
{
    char reason[LQ_KREQ_REASON_MAX] = "", msg[LQ_KREQ_MSG_MAX] = "";
    (void)lq_kreq_status_decode(body, len, reason, sizeof reason, msg, sizeof msg);
    lq_kapi_action_t action;
    lq_err_t e = lq_kapi_classify(status, reason, strlen(reason), &action);
    if (!msg[0])
        (void)snprintf(msg, sizeof msg, "HTTP %d", status);
    fail(p, e == LQ_OK ? LQ_EHTTP : e, status, msg, self);
}

/* ---- the ring ------------------------------------------------------------------------ */

static lq_err_t ring_put(void *ctx, const char *d, size_t n)
{
    lq_pipe_t *p = ctx;
    if (n > LQ_PIPE_RING - p->rlen_)
        return LQ_ENOSPC; /* cannot happen while reading pauses in time */
    size_t tail = (p->rhead_ + p->rlen_) % LQ_PIPE_RING;
    size_t first = LQ_PIPE_RING - tail < n ? LQ_PIPE_RING - tail : n;
    memcpy(p->ring_ + tail, d, first);
    memcpy(p->ring_, d + first, n - first);
    p->rlen_ += n;
    p->stats.bytes_out += n;
    if (p->rlen_ > p->stats.ring_hwm)
        p->stats.ring_hwm = (uint32_t)p->rlen_;
    if (p->fwait_) {
        p->fwait_ = false;
        lq_conn_send_resume(&p->fconn_);
    }
    return LQ_OK;
}

/* Once the home metadata is known: is it still the object the caller decided on? */
static bool still_expected(lq_pipe_t *p)
{
    const lq_forge_conf_facts_t *f = &p->forge_.facts;
    if (p->expect_rv_[0] && strcmp(f->rv, p->expect_rv_) != 0)
        return false;
    return !p->home_uid_[0] || strcmp(f->uid, p->home_uid_) == 0;
}

/* ---- home: the streamed GET ------------------------------------------------------------ */

static lq_err_t h_head(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx)
{
    (void)c;
    lq_pipe_t *p = ctx;
    p->hstatus_ = resp->status;
    p->hlen_ = 0;
    return LQ_OK;
}

static lq_err_t h_body(lq_conn_t *c, const char *data, size_t len, void *ctx)
{
    lq_pipe_t *p = ctx;
    if (!ok2xx(p->hstatus_)) { /* an error answer: keep its start for the message */
        size_t n = sizeof p->hresp_ - p->hlen_ < len ? sizeof p->hresp_ - p->hlen_ : len;
        memcpy(p->hresp_ + p->hlen_, data, n);
        p->hlen_ += n;
        return LQ_OK;
    }
    p->stats.bytes_in += len;
    lq_err_t e = lq_forge_conf_feed(&p->forge_, data, len);
    if (e != LQ_OK) {
        fail(p, e, 0, e == LQ_EPROTO ? "the home object has an unexpected shape"
                                     : "the forge refused the home object", c);
        return e;
    }
    if (p->write_ && p->forge_.meta_done && !p->home_ok_) {
        if (!still_expected(p)) {
            fail(p, LQ_ESTATE, 0, "the home object changed while it was read", c);
            return LQ_ESTATE;
        }
        p->home_ok_ = true;
    }
    if (p->write_ && !p->paused_ && LQ_PIPE_RING - p->rlen_ < LQ_PIPE_PAUSE_ROOM) {
        p->paused_ = true;
        p->stats.pauses++;
        lq_conn_read_pause(c, true);
    }
    return LQ_OK;
}

static void h_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_pipe_t *p = ctx;
    p->open_--;
    if (p->failed_) {
        /* already failing: nothing to add */
    } else if (err != LQ_OK) {
        fail(p, err, 0, c->error, c);
    } else if (!ok2xx(p->hstatus_)) {
        fail_status(p, p->hstatus_, p->hresp_, p->hlen_, c);
    } else {
        lq_err_t e = lq_forge_conf_end(&p->forge_);
        if (e != LQ_OK) {
            fail(p, e, 0, "the home object ended early or has an unexpected shape", c);
        } else if (p->write_ && !still_expected(p)) {
            fail(p, LQ_ESTATE, 0, "the home object changed while it was read", c);
        } else {
            p->facts = p->forge_.facts;
            p->hash = p->forge_.hash;
            p->home_end_ = true;
            if (p->fwait_) { /* the writer waits for its last chunk */
                p->fwait_ = false;
                lq_conn_send_resume(&p->fconn_);
            }
        }
    }
    maybe_finish(p);
}

/* ---- foreign: the chunked apply ---------------------------------------------------------- */

static lq_err_t f_send(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof, void *ctx)
{
    (void)c;
    lq_pipe_t *p = ctx;
    *len = 0;
    *eof = false;
    if (p->failed_)
        return LQ_ECLOSED;
    if (p->rlen_ == 0) {
        if (p->home_end_) {
            *eof = true;
            return LQ_OK;
        }
        p->fwait_ = true;
        return LQ_AGAIN;
    }
    size_t n = p->rlen_ < cap ? p->rlen_ : cap;
    if (n > LQ_PIPE_RING - p->rhead_)
        n = LQ_PIPE_RING - p->rhead_; /* up to the ring's end; the rest next time */
    memcpy(buf, p->ring_ + p->rhead_, n);
    p->rhead_ = (p->rhead_ + n) % LQ_PIPE_RING;
    p->rlen_ -= n;
    *len = n;
    if (p->paused_ && LQ_PIPE_RING - p->rlen_ >= 2u * LQ_PIPE_PAUSE_ROOM) {
        p->paused_ = false;
        lq_conn_read_pause(&p->hconn_, false);
    }
    return LQ_OK;
}

static lq_err_t f_head(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx)
{
    (void)c;
    lq_pipe_t *p = ctx;
    p->fstatus_ = resp->status;
    p->flen_ = 0;
    return LQ_OK;
}

static lq_err_t f_body(lq_conn_t *c, const char *data, size_t len, void *ctx)
{
    (void)c;
    lq_pipe_t *p = ctx;
    size_t n = sizeof p->fresp_ - p->flen_ < len ? sizeof p->fresp_ - p->flen_ : len;
    memcpy(p->fresp_ + p->flen_, data, n);
    p->flen_ += n;
    return LQ_OK;
}

static void f_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_pipe_t *p = ctx;
    p->open_--;
    if (p->failed_) {
        /* the home side failed first and closed us */
    } else if (err != LQ_OK) {
        fail(p, err, 0, c->error, c);
    } else if (!ok2xx(p->fstatus_)) {
        fail_status(p, p->fstatus_, p->fresp_, p->flen_, c);
    } else if (!p->home_end_) {
        fail(p, LQ_EPROTO, p->fstatus_, "the foreign API server answered before the body "
             "ended", c);
    } else {
        (void)lq_scan_uid_rv(p->fresp_, p->flen_, p->remote_uid, sizeof p->remote_uid,
                             p->remote_rv, sizeof p->remote_rv);
    }
    maybe_finish(p);
}

/* ---- jobs ------------------------------------------------------------------------------- */

static bool put(char *dst, size_t cap, const char *s)
{
    int n = snprintf(dst, cap, "%s", s ? s : "");
    return n >= 0 && (size_t)n < cap;
}

lq_err_t lq_pipe_start(lq_pipe_t *p, const lq_pipe_job_t *job, lq_pipe_done_fn *done, void *ctx)
{
    if (p->busy_)
        return LQ_ESTATE;
    if (!job || !job->home_path || !job->prm.remote_name || !job->prm.remote_ns)
        return LQ_EINVAL;
    if (!put(p->hpath_, sizeof p->hpath_, job->home_path) ||
        !put(p->rpath_, sizeof p->rpath_, job->remote_path) ||
        !put(p->expect_rv_, sizeof p->expect_rv_, job->expect_rv) ||
        !put(p->rname_, sizeof p->rname_, job->prm.remote_name) ||
        !put(p->rns_, sizeof p->rns_, job->prm.remote_ns) ||
        !put(p->home_uid_, sizeof p->home_uid_, job->prm.home_uid) ||
        !put(p->ruid_, sizeof p->ruid_, job->prm.remote_uid))
        return LQ_ETOOBIG;
    p->prm_ = job->prm;
    p->prm_.remote_name = p->rname_;
    p->prm_.remote_ns = p->rns_;
    p->prm_.home_uid = p->home_uid_;
    p->prm_.remote_uid = p->ruid_[0] ? p->ruid_ : NULL;
    p->write_ = job->remote_path != NULL;
    p->done_ = done;
    p->ctx_ = ctx;
    p->paused_ = p->home_ok_ = p->home_end_ = p->fwait_ = p->failed_ = false;
    p->err_ = LQ_OK;
    p->hstatus_ = p->fstatus_ = 0;
    p->status = 0;
    p->message[0] = '\0';
    p->remote_uid[0] = p->remote_rv[0] = '\0';
    memset(&p->facts, 0, sizeof p->facts);
    p->hash = 0;
    p->rhead_ = p->rlen_ = p->flen_ = p->hlen_ = 0;
    lq_forge_conf_begin(&p->forge_, &p->prm_, p->write_ ? ring_put : NULL, p);

    lq_conn_handler_t hh = { .on_head = h_head, .on_body = h_body, .on_done = h_done, .ctx = p };
    lq_err_t e = lq_kreq_stream_send(&p->hst_, "GET", p->hpath_, NULL, 0, &hh, PIPE_TIMEOUT_MS);
    if (e != LQ_OK)
        return e;
    p->busy_ = true;
    p->open_ = 1;
    p->stats.jobs++;
    if (p->write_) {
        lq_conn_handler_t fh = { .on_head = f_head, .on_body = f_body, .on_done = f_done,
                                 .ctx = p, .on_send = f_send };
        p->fst_.content_type = APPLY_TYPE;
        p->fst_.accept = LQ_KREQ_ACCEPT_META;
        e = lq_kreq_stream_send(&p->fst_, "PATCH", p->rpath_, NULL, 0, &fh, PIPE_TIMEOUT_MS);
        if (e != LQ_OK) {
            fail(p, e, 0, "cannot start the streamed apply", &p->fconn_);
            return LQ_OK; /* done reports it once the home request has stopped */
        }
        p->open_++;
    }
    return LQ_OK;
}

void lq_pipe_cancel(lq_pipe_t *p)
{
    if (!p->busy_)
        return;
    p->done_ = NULL;
    fail(p, LQ_ECLOSED, 0, "cancelled", NULL);
    p->busy_ = false;
    lq_loop_timer_stop(p->loop_, &p->timer_);
}

bool lq_pipe_busy(const lq_pipe_t *p)
{
    return p->busy_;
}

void lq_pipe_init(lq_pipe_t *p, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign)
{
    memset(p, 0, offsetof(lq_pipe_t, fresp_));
    p->loop_ = loop;
    p->home_ = home;
    p->foreign_ = foreign;
    lq_loop_timer_init(&p->timer_, on_timer, p);
    lq_conn_init(&p->hconn_, loop, &home->target);
    lq_conn_init(&p->fconn_, loop, &foreign->target);
    lq_kreq_stream_init(&p->hst_, &p->hconn_, &home->kcfg);
    lq_kreq_stream_init(&p->fst_, &p->fconn_, &foreign->kcfg);
}
