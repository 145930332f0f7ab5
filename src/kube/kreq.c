/* liqolet: Kubernetes REST requests over a fixed connection pool (see kreq.h). */
#include <stdio.h>
#include <string.h>

#include "liqolet/http.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/log.h"

#ifndef LQ_VERSION
#define LQ_VERSION "0.0.0-unknown"
#endif

#define FIELD_MANAGER_MAX 128u

_Static_assert(LQ_MAX_REQ_CONNS >= 1, "at least one request connection");
_Static_assert(LQ_KREQ_REASON_MAX >= 32 && LQ_KREQ_MSG_MAX >= 64, "result fields too small");

/* Arena for decoding metav1.Status bodies; one decode at a time (single thread), reset
 * before each use. A Status with many causes that does not fit just is not decoded. */
static unsigned char status_arena[LQ_KREQ_STATUS_BUF * 4u];
static lq_json_doc_t status_doc;

static void pump(lq_kreq_client_t *cl);

/* ---- shared by buffered and streamed requests ------------------------------------- */

lq_err_t lq_kreq_head(lq_http_req_t *q, char *target, size_t cap, const lq_kcfg_t *kcfg,
                      const char *method, const char *path)
{
    if (q == NULL || target == NULL || method == NULL || path == NULL || path[0] != '/')
        return LQ_EINVAL;
    memset(q, 0, sizeof *q);
    const char *prefix = kcfg ? kcfg->path_prefix : "";
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    size_t n = strlen(path);
    if (plen + n + 1 > cap)
        return LQ_ETOOBIG;
    memcpy(target, prefix, plen);
    memcpy(target + plen, path, n + 1);
    q->method = method;
    q->target = target;
    q->accept = "application/json";
    q->ua_version = LQ_VERSION;
    if (kcfg != NULL && kcfg->token_len > 0)
        q->bearer = kcfg->token;
    return LQ_OK;
}

/* A 401: re-read the token file, at most once per request (*reauthed). True when the
 * token changed, so the request should be sent again (then says what happens next). */
static bool reauth(lq_kcfg_t *kcfg, bool *reauthed, const char *method, const char *path,
                   const char *then)
{
    if (kcfg == NULL || *reauthed)
        return false;
    *reauthed = true;
    bool changed = false;
    if (lq_kcfg_token_refresh(kcfg, true, &changed) != LQ_OK || !changed)
        return false;
    LQ_INFO("kreq", "%s %s: 401, token re-read; %s", method, path, then);
    return true;
}

/* ---- queue ------------------------------------------------------------------------ */

static void enqueue(lq_kreq_client_t *cl, lq_kreq_t *r, bool front)
{
    r->state = LQ_KREQ_QUEUED;
    r->next_ = NULL;
    if (!front && r->priority && cl->head_ != NULL && !cl->tail_->priority) {
        /* after the priority requests already waiting, before every other one */
        lq_kreq_t *prev = NULL;
        for (lq_kreq_t *p = cl->head_; p != NULL && p->priority; p = p->next_)
            prev = p;
        if (prev == NULL) {
            r->next_ = cl->head_;
            cl->head_ = r;
        } else {
            r->next_ = prev->next_;
            prev->next_ = r;
        }
    } else if (front) {
        r->next_ = cl->head_;
        cl->head_ = r;
        if (cl->tail_ == NULL)
            cl->tail_ = r;
    } else {
        if (cl->tail_)
            cl->tail_->next_ = r;
        else
            cl->head_ = r;
        cl->tail_ = r;
    }
    cl->stats.queued++;
    if (cl->stats.queued > cl->stats.queue_hwm)
        cl->stats.queue_hwm = cl->stats.queued;
}

static lq_kreq_t *dequeue(lq_kreq_client_t *cl)
{
    lq_kreq_t *r = cl->head_;
    if (r == NULL)
        return NULL;
    cl->head_ = r->next_;
    if (cl->head_ == NULL)
        cl->tail_ = NULL;
    r->next_ = NULL;
    cl->stats.queued--;
    return r;
}

static bool unlink_queued(lq_kreq_client_t *cl, lq_kreq_t *r)
{
    lq_kreq_t *prev = NULL;
    for (lq_kreq_t *p = cl->head_; p; prev = p, p = p->next_) {
        if (p != r)
            continue;
        if (prev)
            prev->next_ = p->next_;
        else
            cl->head_ = p->next_;
        if (cl->tail_ == p)
            cl->tail_ = prev;
        p->next_ = NULL;
        cl->stats.queued--;
        return true;
    }
    return false;
}

/* ---- completion ------------------------------------------------------------------- */

bool lq_kreq_transport_err(lq_err_t e)
{
    return e == LQ_ECONNREFUSED || e == LQ_ECLOSED || e == LQ_ETIMEDOUT || e == LQ_EIO ||
           e == LQ_ETLS || e == LQ_ERESOLVE;
}

/* A refused or failed handshake and an unknown name do not heal within a retry. */
static bool transport_retryable(lq_err_t e)
{
    return lq_kreq_transport_err(e) && e != LQ_ETLS && e != LQ_ERESOLVE;
}

static unsigned max_attempts(const lq_kreq_t *r)
{
    unsigned m = r->max_attempts ? r->max_attempts : r->cl_->max_attempts;
    return m ? m : 1u;
}

static void complete(lq_kreq_t *r, lq_err_t err)
{
    lq_kreq_client_t *cl = r->cl_;
    r->err = err;
    r->state = LQ_KREQ_IDLE;
    if (err == LQ_OK) {
        cl->stats.completed++;
        LQ_DEBUG("kreq", "%s %s -> %d (%zu bytes)", r->method, r->path, r->status, r->resp_len);
    } else {
        cl->stats.failures++;
        if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT)
            LQ_DEBUG("kreq", "%s %s -> %d %s: %s", r->method, r->path, r->status,
                     r->reason[0] ? r->reason : lq_err_name(err), r->message);
        else
            LQ_WARN("kreq", "%s %s failed after %u attempt(s): %s%s%s", r->method, r->path,
                    r->attempts, lq_err_str(err), r->message[0] ? ": " : "", r->message);
    }
    r->done(r, err, r->ctx);
}

static void on_retry_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_kreq_t *r = ctx;
    lq_kreq_client_t *cl = r->cl_;
    cl->stats.retries++;
    enqueue(cl, r, false);
    pump(cl);
}

/* Retries r after a backoff (or Retry-After), or fails it when out of attempts. */
static void retry_or_fail(lq_kreq_t *r, lq_err_t err, bool has_ra, uint32_t ra_s)
{
    lq_kreq_client_t *cl = r->cl_;
    if (r->attempts >= max_attempts(r)) {
        complete(r, err);
        return;
    }
    uint32_t delay = lq_backoff_next(&r->backoff_);
    if (has_ra) {
        uint64_t ms = (uint64_t)ra_s * 1000u;
        delay = ms > cl->retry_after_cap_ms ? cl->retry_after_cap_ms : (uint32_t)ms;
    }
    LQ_DEBUG("kreq", "%s %s: %s%s%s; retry %u/%u in %u ms", r->method, r->path,
             lq_err_str(err), r->message[0] ? ": " : "", r->message, r->attempts,
             max_attempts(r) - 1u, (unsigned)delay);
    r->err = err;
    r->state = LQ_KREQ_BACKOFF;
    lq_loop_timer_start(cl->loop_, &r->timer_, delay);
}

/* Copies a counted string into a fixed field; too long -> cut with a visible "...". */
static void copy_msg(char *dst, size_t cap, const char *s, size_t n)
{
    if (n < cap) {
        memcpy(dst, s, n);
        dst[n] = '\0';
        return;
    }
    memcpy(dst, s, cap - 4u);
    memcpy(dst + cap - 4u, "...", 4u);
}

bool lq_kreq_status_decode(const char *body, size_t len, char *reason, size_t reason_cap,
                           char *msg, size_t msg_cap)
{
    bool ok = false;
    if (body == NULL || len == 0)
        return false;
    lq_json_doc_init(&status_doc, status_arena, sizeof status_arena);
    lq_json_t *root = NULL;
    if (lq_json_parse(&status_doc, body, len, &root) != LQ_OK)
        return false;
    lq_json_str_t kind, s;
    if (lq_json_str(lq_json_get(root, "kind"), &kind) != LQ_OK || kind.len != 6 ||
        memcmp(kind.p, "Status", 6) != 0)
        goto out;
    ok = true;
    if (lq_json_str_copy(lq_json_get(root, "reason"), reason, reason_cap) != LQ_OK)
        reason[0] = '\0';
    if (lq_json_str(lq_json_get(root, "message"), &s) == LQ_OK && s.len > 0)
        copy_msg(msg, msg_cap, s.p, s.len);
out:
    lq_json_reset(&status_doc);
    return ok;
}

/* Decodes a metav1.Status body into r->reason / r->message (when it is one). */
static void decode_status(lq_kreq_t *r, const char *body, size_t len)
{
    (void)lq_kreq_status_decode(body, len, r->reason, sizeof r->reason, r->message,
                                sizeof r->message);
}

/* ---- connection callbacks --------------------------------------------------------- */

static lq_err_t on_head(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx)
{
    (void)c;
    lq_kreq_slot_t *s = ctx;
    lq_kreq_t *r = s->req;
    if (r == NULL)
        return LQ_ECLOSED;
    r->status = resp->status;
    s->ok_status = resp->status >= 200 && resp->status < 300;
    s->has_ra = lq_http_retry_after(resp, &s->retry_after_s) == LQ_OK;
    s->has_len = resp->has_content_length;
    s->expect_len = resp->has_content_length ? resp->content_length : 0;
    (void)snprintf(r->message, sizeof r->message, "HTTP %d %.*s", resp->status,
                   (int)(resp->reason.len > 64 ? 64 : resp->reason.len),
                   resp->reason.ptr ? resp->reason.ptr : "");
    if (s->ok_status && r->resp != NULL && s->has_len && s->expect_len > r->resp_cap) {
        s->too_big = true;
        if (s->expect_len - r->resp_cap > LQ_KREQ_DRAIN_MAX)
            return LQ_ETOOBIG; /* not worth reading: close */
    }
    return LQ_OK;
}

static lq_err_t on_body(lq_conn_t *c, const char *data, size_t len, void *ctx)
{
    (void)c;
    lq_kreq_slot_t *s = ctx;
    lq_kreq_t *r = s->req;
    if (r == NULL)
        return LQ_ECLOSED;
    uint64_t at = s->got;
    s->got += len;
    if (!s->ok_status) {
        if (!s->status_overflow && at + len <= sizeof s->status_body) {
            memcpy(s->status_body + at, data, len);
            s->status_len = (size_t)(at + len);
        } else {
            s->status_overflow = true;
        }
        return LQ_OK;
    }
    if (r->resp == NULL)
        return LQ_OK;
    if (!s->too_big && at + len <= r->resp_cap) {
        memcpy(r->resp + at, data, len);
        return LQ_OK;
    }
    s->too_big = true;
    if (s->got > (uint64_t)r->resp_cap + LQ_KREQ_DRAIN_MAX)
        return LQ_ETOOBIG; /* drained enough: close instead */
    return LQ_OK;
}

static void on_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_kreq_slot_t *s = ctx;
    lq_kreq_client_t *cl = s->cl;
    lq_kreq_t *r = s->req;
    s->req = NULL;
    if (r == NULL) { /* cancelled */
        pump(cl);
        return;
    }
    if (s->too_big) {
        uint64_t need = s->expect_len > s->got ? s->expect_len : s->got;
        r->resp_len = need > SIZE_MAX ? SIZE_MAX : (size_t)need;
        (void)snprintf(r->message, sizeof r->message,
                       "response body of %s%llu bytes exceeds the buffer of %zu bytes",
                       s->has_len ? "" : "at least ", (unsigned long long)r->resp_len,
                       r->resp_cap);
        lq_backoff_reset(&r->backoff_);
        complete(r, LQ_ETOOBIG);
    } else if (err != LQ_OK) {
        copy_msg(r->message, sizeof r->message, c->error, strlen(c->error));
        r->action = LQ_KAPI_DONE;
        if (transport_retryable(err)) {
            r->action = LQ_KAPI_RETRY;
            retry_or_fail(r, err, false, 0);
        } else {
            complete(r, err);
        }
    } else if (s->ok_status) {
        r->resp_len = (size_t)s->got;
        r->action = LQ_KAPI_DONE;
        complete(r, LQ_OK);
    } else {
        if (!s->status_overflow)
            decode_status(r, s->status_body, s->status_len);
        lq_kapi_action_t a;
        lq_err_t e = lq_kapi_classify(r->status, r->reason, strlen(r->reason), &a);
        r->action = a;
        if (a == LQ_KAPI_REAUTH) {
            r->action = LQ_KAPI_DONE;
            if (reauth(cl->kcfg_, &r->reauthed_, r->method, r->path, "sending again")) {
                cl->stats.reauths++;
                enqueue(cl, r, true);
                pump(cl);
                return;
            }
            complete(r, e);
        } else if (a == LQ_KAPI_RETRY) {
            retry_or_fail(r, e, s->has_ra, s->retry_after_s);
        } else {
            complete(r, e);
        }
    }
    pump(cl);
}

/* ---- dispatch --------------------------------------------------------------------- */

static void send_on(lq_kreq_client_t *cl, size_t i, lq_kreq_t *r)
{
    lq_kreq_slot_t *s = &cl->slots_[i];
    r->status = 0;
    r->resp_len = 0;
    r->reason[0] = '\0';
    r->message[0] = '\0';
    r->action = LQ_KAPI_DONE;
    lq_http_req_t q;
    if (lq_kreq_head(&q, s->target, sizeof s->target, cl->kcfg_, r->method, r->path) != LQ_OK) {
        (void)snprintf(r->message, sizeof r->message, "path with the server's prefix is too long");
        complete(r, LQ_ETOOBIG);
        return;
    }
    if (r->accept != NULL)
        q.accept = r->accept;
    if (r->body != NULL) {
        q.has_body = true;
        q.body = r->body;
        q.body_len = r->body_len;
        q.content_type = r->content_type ? r->content_type : "application/json";
    }
    s->req = r;
    s->ok_status = s->has_ra = s->has_len = s->too_big = s->status_overflow = false;
    s->retry_after_s = 0;
    s->expect_len = s->got = 0;
    s->status_len = 0;
    r->state = LQ_KREQ_SENT;
    r->attempts++;
    cl->stats.sent++;
    lq_conn_handler_t h = { .on_head = on_head, .on_body = on_body, .on_done = on_done, .ctx = s };
    lq_err_t e = lq_conn_request(&cl->conns[i], &q, &h, r->timeout_ms);
    if (e != LQ_OK) { /* did not render: no on_done */
        s->req = NULL;
        (void)snprintf(r->message, sizeof r->message,
                       "request does not fit the %u-byte transmit buffer or is malformed",
                       (unsigned)LQ_CONN_TX_BUF);
        complete(r, e);
    }
}

static void pump(lq_kreq_client_t *cl)
{
    if (cl->pumping_) {
        cl->again_ = true;
        return;
    }
    cl->pumping_ = true;
    do {
        cl->again_ = false;
        for (size_t i = 0; i < LQ_MAX_REQ_CONNS && cl->head_ != NULL; i++) {
            if (cl->slots_[i].req != NULL || cl->conns[i].state != LQ_CONN_IDLE)
                continue;
            send_on(cl, i, dequeue(cl));
        }
        /* The kept connection: the first priority request still waiting (they queue in
         * front, so the busy ordinary connections cannot delay it). */
        size_t k = LQ_KREQ_CONNS - 1;
        if (cl->head_ != NULL && cl->head_->priority && cl->slots_[k].req == NULL &&
            cl->conns[k].state == LQ_CONN_IDLE) {
            cl->stats.priority_reserved++;
            send_on(cl, k, dequeue(cl));
        }
    } while (cl->again_);
    cl->pumping_ = false;
}

/* ---- public: client --------------------------------------------------------------- */

void lq_kreq_client_init(lq_kreq_client_t *cl, lq_loop_t *loop, const lq_conn_target_t *target,
                         lq_kcfg_t *kcfg)
{
    memset(&cl->stats, 0, sizeof cl->stats);
    cl->max_attempts = LQ_KREQ_DEFAULT_ATTEMPTS;
    cl->backoff_base_ms = LQ_KREQ_DEFAULT_BACKOFF_BASE_MS;
    cl->backoff_max_ms = LQ_KREQ_DEFAULT_BACKOFF_MAX_MS;
    cl->retry_after_cap_ms = LQ_KREQ_DEFAULT_RETRY_AFTER_CAP_MS;
    cl->loop_ = loop;
    cl->target_ = target;
    cl->kcfg_ = kcfg;
    cl->head_ = cl->tail_ = NULL;
    cl->seq_ = 0;
    cl->pumping_ = cl->again_ = false;
    for (size_t i = 0; i < LQ_KREQ_CONNS; i++) {
        lq_conn_init(&cl->conns[i], loop, target);
        lq_conn_set_body_idle(&cl->conns[i], LQ_KREQ_BODY_IDLE_MS);
        lq_conn_set_total(&cl->conns[i], LQ_KREQ_TOTAL_MS);
        memset(&cl->slots_[i], 0, offsetof(lq_kreq_slot_t, target));
        cl->slots_[i].cl = cl;
    }
}

lq_err_t lq_kreq_submit(lq_kreq_client_t *cl, lq_kreq_t *r)
{
    if (cl == NULL || r == NULL || r->method == NULL || r->path[0] != '/' || r->done == NULL)
        return LQ_EINVAL;
    if (r->state != LQ_KREQ_IDLE)
        return LQ_ESTATE;
    r->cl_ = cl;
    r->err = LQ_OK;
    r->action = LQ_KAPI_DONE;
    r->status = 0;
    r->resp_len = 0;
    r->reason[0] = '\0';
    r->message[0] = '\0';
    r->attempts = 0;
    r->reauthed_ = false;
    /* Seed the jitter per request (path hash + sequence) so requests that failed
     * together spread out. */
    uint64_t h = UINT64_C(1469598103934665603) ^ ++cl->seq_;
    for (const unsigned char *p = (const unsigned char *)r->path; *p; p++)
        h = (h ^ *p) * UINT64_C(1099511628211);
    lq_backoff_init(&r->backoff_, cl->backoff_base_ms, cl->backoff_max_ms, h);
    lq_loop_timer_init(&r->timer_, on_retry_timer, r);
    cl->stats.submitted++;
    enqueue(cl, r, false);
    pump(cl);
    return LQ_OK;
}

lq_err_t lq_kreq_cancel(lq_kreq_t *r)
{
    if (r == NULL || r->cl_ == NULL)
        return LQ_ENOTFOUND;
    lq_kreq_client_t *cl = r->cl_;
    switch (r->state) {
    case LQ_KREQ_QUEUED:
        (void)unlink_queued(cl, r);
        break;
    case LQ_KREQ_BACKOFF:
        lq_loop_timer_stop(cl->loop_, &r->timer_);
        break;
    case LQ_KREQ_SENT:
        for (size_t i = 0; i < LQ_KREQ_CONNS; i++) {
            if (cl->slots_[i].req == r) {
                cl->slots_[i].req = NULL;
                r->state = LQ_KREQ_IDLE;
                lq_conn_close(&cl->conns[i]); /* on_done sees no request, pumps */
                return LQ_OK;
            }
        }
        break;
    case LQ_KREQ_IDLE:
    default:
        return LQ_ENOTFOUND;
    }
    r->state = LQ_KREQ_IDLE;
    return LQ_OK;
}

/* ---- public: requests ------------------------------------------------------------- */

void lq_kreq_init(lq_kreq_t *r, char *resp, size_t resp_cap, lq_kreq_done_fn *done, void *ctx)
{
    memset(r, 0, sizeof *r);
    r->resp = resp;
    r->resp_cap = resp ? resp_cap : 0;
    r->done = done;
    r->ctx = ctx;
    r->timeout_ms = LQ_KREQ_DEFAULT_TIMEOUT_MS;
    r->state = LQ_KREQ_IDLE;
}

static lq_err_t fill(lq_kreq_t *r, const char *method, const char *path, const char *ctype,
                     const char *body, size_t body_len)
{
    if (r == NULL || path == NULL || path[0] != '/' || (body == NULL && body_len > 0))
        return LQ_EINVAL;
    if (r->state != LQ_KREQ_IDLE)
        return LQ_ESTATE;
    size_t n = strlen(path);
    if (n >= sizeof r->path)
        return LQ_ETOOBIG;
    memcpy(r->path, path, n + 1);
    r->method = method;
    r->content_type = body ? ctype : NULL;
    r->body = body;
    r->body_len = body_len;
    return LQ_OK;
}

lq_err_t lq_kreq_get(lq_kreq_t *r, const char *path)
{
    return fill(r, "GET", path, NULL, NULL, 0);
}

lq_err_t lq_kreq_create(lq_kreq_t *r, const char *path, const char *body, size_t body_len)
{
    return fill(r, "POST", path, "application/json", body, body_len);
}

lq_err_t lq_kreq_update(lq_kreq_t *r, const char *path, const char *body, size_t body_len)
{
    return fill(r, "PUT", path, "application/json", body, body_len);
}

lq_err_t lq_kreq_merge_patch(lq_kreq_t *r, const char *path, const char *body, size_t body_len)
{
    return fill(r, "PATCH", path, "application/merge-patch+json", body, body_len);
}

static lq_err_t apply(lq_kreq_t *r, const char *path, const char *field_manager, bool force,
                      const char *body, size_t body_len)
{
    if (field_manager == NULL || field_manager[0] == '\0' ||
        strlen(field_manager) > FIELD_MANAGER_MAX)
        return LQ_EINVAL;
    lq_err_t e = fill(r, "PATCH", path, "application/apply-patch+yaml", body, body_len);
    if (e != LQ_OK)
        return e;
    e = lq_kapi_query(r->path, sizeof r->path, "fieldManager", field_manager);
    if (e == LQ_OK && force)
        e = lq_kapi_query(r->path, sizeof r->path, "force", "true");
    if (e != LQ_OK)
        r->path[0] = '\0'; /* never submit a half-built request */
    return e;
}

lq_err_t lq_kreq_apply(lq_kreq_t *r, const char *path, const char *field_manager,
                       const char *body, size_t body_len)
{
    return apply(r, path, field_manager, true, body, body_len);
}

lq_err_t lq_kreq_apply_noforce(lq_kreq_t *r, const char *path, const char *field_manager,
                               const char *body, size_t body_len)
{
    return apply(r, path, field_manager, false, body, body_len);
}

static bool plain_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

lq_err_t lq_kreq_delete(lq_kreq_t *r, const char *path, const char *uid,
                        const char *propagation)
{
    return lq_kreq_delete_grace(r, path, uid, propagation, -1);
}

lq_err_t lq_kreq_delete_grace(lq_kreq_t *r, const char *path, const char *uid,
                              const char *propagation, int64_t grace_s)
{
    bool has_uid = uid != NULL && uid[0] != '\0';
    bool has_pp = propagation != NULL && propagation[0] != '\0';
    if ((has_uid && !plain_value(uid)) || (has_pp && !plain_value(propagation)))
        return LQ_EINVAL;
    lq_err_t e = fill(r, "DELETE", path, NULL, NULL, 0);
    if (e != LQ_OK || (!has_uid && !has_pp && grace_s < 0))
        return e;
    char grace[64] = "";
    if (grace_s >= 0)
        (void)snprintf(grace, sizeof grace, ",\"gracePeriodSeconds\":%lld", (long long)grace_s);
    int n = snprintf(r->opts_, sizeof r->opts_,
                     "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\"%s%s%s%s%s%s%s}",
                     has_uid ? ",\"preconditions\":{\"uid\":\"" : "", has_uid ? uid : "",
                     has_uid ? "\"}" : "", has_pp ? ",\"propagationPolicy\":\"" : "",
                     has_pp ? propagation : "", has_pp ? "\"" : "", grace);
    if (n < 0 || (size_t)n >= sizeof r->opts_) {
        r->path[0] = '\0';
        r->opts_[0] = '\0';
        return LQ_ETOOBIG;
    }
    r->body = r->opts_;
    r->body_len = (size_t)n;
    r->content_type = "application/json";
    return LQ_OK;
}

lq_err_t lq_kreq_status(lq_kreq_t *r)
{
    static const char sub[] = "/status";
    const size_t sl = sizeof sub - 1u;
    if (r == NULL)
        return LQ_EINVAL;
    if (r->state != LQ_KREQ_IDLE)
        return LQ_ESTATE;
    size_t n = strlen(r->path);
    const char *q = strchr(r->path, '?');
    size_t at = q ? (size_t)(q - r->path) : n;
    if (at <= 1 || r->path[at - 1] == '/' ||
        (at >= sl && memcmp(r->path + at - sl, sub, sl) == 0))
        return LQ_EINVAL;
    if (n + sl + 1 > sizeof r->path)
        return LQ_ETOOBIG;
    memmove(r->path + at + sl, r->path + at, n - at + 1);
    memcpy(r->path + at, sub, sl);
    return LQ_OK;
}

/* ---- public: streamed requests ----------------------------------------------------- */

static lq_err_t stream_head(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx)
{
    lq_kreq_stream_t *s = ctx;
    s->resend_ = false;
    if (resp->status == 401 && s->body_ == NULL && s->h_.on_send != NULL) {
        /* The streamed body is gone: the caller gets the 401, and its next request
         * carries the re-read token. */
        (void)reauth(s->kcfg_, &s->reauthed_, s->method_, s->path_,
                     "not sent again (streamed body)");
    } else if (resp->status == 401 &&
               reauth(s->kcfg_, &s->reauthed_, s->method_, s->path_, "sending again")) {
        s->resend_ = true; /* read the 401 to its end (keep-alive), then send again */
        return LQ_OK;
    }
    return s->h_.on_head ? s->h_.on_head(c, resp, s->h_.ctx) : LQ_OK;
}

static lq_err_t stream_body(lq_conn_t *c, const char *data, size_t len, void *ctx)
{
    lq_kreq_stream_t *s = ctx;
    if (s->resend_)
        return LQ_OK;
    return s->h_.on_body ? s->h_.on_body(c, data, len, s->h_.ctx) : LQ_OK;
}

/* Streamed body: the caller's producer, with the caller's ctx. */
static lq_err_t stream_produce(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof,
                               void *ctx)
{
    lq_kreq_stream_t *s = ctx;
    return s->h_.on_send(c, buf, cap, len, eof, s->h_.ctx);
}

static lq_err_t stream_start(lq_kreq_stream_t *s);

static void stream_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_kreq_stream_t *s = ctx;
    if (s->resend_) {
        s->resend_ = false;
        /* Only when the 401 answer ended normally: a close (lq_conn_close included)
         * goes to the caller, whose next request carries the new token anyway. */
        if (err == LQ_OK) {
            s->reauths++;
            lq_err_t e = stream_start(s);
            if (e == LQ_OK)
                return;
            (void)snprintf(c->error, sizeof c->error,
                           "%s %s: the request with the re-read token does not render (%s)",
                           s->method_, s->path_, lq_err_str(e));
            err = e;
        }
    }
    if (s->h_.on_done)
        s->h_.on_done(c, err, s->h_.ctx);
}

static lq_err_t stream_start(lq_kreq_stream_t *s)
{
    char target[LQ_KREQ_TARGET_MAX];
    lq_http_req_t q;
    lq_err_t e = lq_kreq_head(&q, target, sizeof target, s->kcfg_, s->method_, s->path_);
    if (e != LQ_OK)
        return e;
    bool streamed = s->body_ == NULL && s->h_.on_send != NULL;
    if (s->body_ != NULL) {
        q.has_body = true;
        q.body = s->body_;
        q.body_len = s->body_len_;
    }
    if (s->body_ != NULL || streamed)
        q.content_type = s->content_type ? s->content_type : "application/json";
    if (s->accept != NULL)
        q.accept = s->accept;
    lq_conn_handler_t h = { .on_head = stream_head, .on_body = stream_body,
                            .on_done = stream_done, .ctx = s,
                            .on_send = streamed ? stream_produce : NULL };
    e = lq_conn_request(s->conn_, &q, &h, s->timeout_ms_);
    if (e == LQ_OK)
        s->sent++;
    return e;
}

void lq_kreq_stream_init(lq_kreq_stream_t *s, lq_conn_t *conn, lq_kcfg_t *kcfg)
{
    memset(s, 0, sizeof *s);
    s->conn_ = conn;
    s->kcfg_ = kcfg;
    lq_conn_set_body_idle(conn, LQ_KREQ_BODY_IDLE_MS); /* a watch sets its own after */
}

lq_err_t lq_kreq_stream_send(lq_kreq_stream_t *s, const char *method, const char *path,
                             const char *body, size_t body_len, const lq_conn_handler_t *h,
                             int64_t timeout_ms)
{
    if (s == NULL || s->conn_ == NULL || h == NULL || (body == NULL && body_len > 0))
        return LQ_EINVAL;
    if (s->conn_->state != LQ_CONN_IDLE)
        return LQ_ESTATE;
    s->method_ = method;
    s->path_ = path;
    s->body_ = body;
    s->body_len_ = body_len;
    s->timeout_ms_ = timeout_ms;
    s->h_ = *h;
    s->reauthed_ = false; /* a new request may re-read the token once */
    s->resend_ = false;
    return stream_start(s);
}
