/* liqolet: list + watch state machine (see watch.h). */
#include <stdio.h>
#include <string.h>

#include "liqolet/kapi.h"
#include "liqolet/log.h"
#include "liqolet/watch.h"

static void start_request(lq_watch_t *w);
static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx);

void lq_watch_init(lq_watch_t *w, lq_loop_t *loop, lq_conn_t *conn, char *buf, size_t cap,
                   const lq_watch_cfg_t *cfg, const lq_watch_handler_t *h)
{
    memset(w, 0, sizeof *w);
    w->loop_ = loop;
    w->conn_ = conn;
    w->buf_ = buf;
    w->cap_ = cap;
    w->cfg_ = *cfg;
    if (w->cfg_.timeout_s == 0)
        w->cfg_.timeout_s = 300;
    if (w->cfg_.backoff_base_ms == 0)
        w->cfg_.backoff_base_ms = 500;
    if (w->cfg_.backoff_max_ms == 0)
        w->cfg_.backoff_max_ms = 30000;
    w->h_ = *h;
    lq_kreq_stream_init(&w->st_, conn, cfg->kcfg);
    lq_conn_set_body_idle(conn, LQ_WATCH_IDLE_MS);
    w->wl_supported_ = cfg->watch_list;
    lq_loop_timer_init(&w->timer_, on_timer, w);
    uint64_t seed = 0;
    for (const char *p = cfg->path; p && *p; p++)
        seed = seed * 131u + (unsigned char)*p;
    lq_backoff_init(&w->backoff_, w->cfg_.backoff_base_ms, w->cfg_.backoff_max_ms, seed);
    w->jit_ = seed | 1u;
}

/* --- request paths -------------------------------------------------------------- */

static lq_err_t add_selectors(lq_watch_t *w)
{
    lq_err_t e = LQ_OK;
    if (w->cfg_.label_selector && w->cfg_.label_selector[0])
        e = lq_kapi_query(w->path_, sizeof w->path_, "labelSelector", w->cfg_.label_selector);
    if (e == LQ_OK && w->cfg_.field_selector && w->cfg_.field_selector[0])
        e = lq_kapi_query(w->path_, sizeof w->path_, "fieldSelector", w->cfg_.field_selector);
    return e;
}

static lq_err_t build_path(lq_watch_t *w)
{
    size_t n = strlen(w->cfg_.path);
    if (n + 1 > sizeof w->path_)
        return LQ_ETOOBIG;
    memcpy(w->path_, w->cfg_.path, n + 1);
    lq_err_t e = add_selectors(w);
    char num[16];
    if (e == LQ_OK && w->state == LQ_WATCH_LISTING) {
        (void)snprintf(num, sizeof num, "%u", (unsigned)LQ_WATCH_PAGE);
        e = lq_kapi_query(w->path_, sizeof w->path_, "limit", num);
        if (e == LQ_OK && w->cont_[0])
            e = lq_kapi_query(w->path_, sizeof w->path_, "continue", w->cont_);
        return e;
    }
    if (e == LQ_OK)
        e = lq_kapi_query(w->path_, sizeof w->path_, "watch", "1");
    if (e == LQ_OK)
        e = lq_kapi_query(w->path_, sizeof w->path_, "allowWatchBookmarks", "true");
    if (e == LQ_OK && w->wl_active_) {
        e = lq_kapi_query(w->path_, sizeof w->path_, "sendInitialEvents", "true");
        if (e == LQ_OK)
            e = lq_kapi_query(w->path_, sizeof w->path_, "resourceVersionMatch", "NotOlderThan");
    } else if (e == LQ_OK && w->rv[0]) {
        e = lq_kapi_query(w->path_, sizeof w->path_, "resourceVersion", w->rv);
    }
    /* Spread reconnects: the server ends each watch after timeout_s..2*timeout_s. */
    w->jit_ ^= w->jit_ << 13;
    w->jit_ ^= w->jit_ >> 7;
    w->jit_ ^= w->jit_ << 17;
    uint32_t t = w->cfg_.timeout_s + (uint32_t)(w->jit_ % w->cfg_.timeout_s);
    (void)snprintf(num, sizeof num, "%u", (unsigned)t);
    if (e == LQ_OK)
        e = lq_kapi_query(w->path_, sizeof w->path_, "timeoutSeconds", num);
    return e;
}

/* --- objects from the framers ---------------------------------------------------- */

static void remember_rv(lq_watch_t *w, const lq_scan_str_t *rv)
{
    if (rv->len > 0 && lq_scan_copy(rv, w->rv, sizeof w->rv) != LQ_OK)
        w->rv[0] = '\0'; /* an absurd version: forget it, the next failure relists */
}

static bool contains(const char *d, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; l <= n && i + l <= n; i++)
        if (memcmp(d + i, lit, l) == 0)
            return true;
    return false;
}

static lq_err_t on_list_item(void *ctx, const lq_frame_obj_t *obj)
{
    lq_watch_t *w = ctx;
    if (obj->toplevel)
        return LQ_OK; /* a Status instead of a list: handled from the HTTP status */
    lq_watch_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LQ_WATCH_LISTED;
    ev.data = obj->data;
    ev.len = obj->len;
    ev.oversized = obj->kind == LQ_FRAME_OVERSIZED;
    ev.total = obj->total;
    (void)lq_scan_object(obj->data, obj->len, &ev.meta);
    w->stats.listed++;
    if (ev.oversized)
        w->stats.oversized++;
    return w->h_.on_event ? w->h_.on_event(w, &ev, w->h_.ctx) : LQ_OK;
}

static lq_err_t on_watch_event(void *ctx, const lq_frame_obj_t *obj)
{
    lq_watch_t *w = ctx;
    lq_watch_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.data = obj->data;
    ev.len = obj->len;
    ev.wrapped = true;
    ev.oversized = obj->kind == LQ_FRAME_OVERSIZED;
    ev.total = obj->total;
    lq_err_t se = lq_scan_event(obj->data, obj->len, &ev.meta);
    if (se != LQ_OK)
        return LQ_EPROTO;
    const lq_scan_str_t *t = &ev.meta.type;
    if (lq_scan_str_eq(t, "BOOKMARK", 8)) {
        w->stats.bookmarks++;
        remember_rv(w, &ev.meta.rv);
        if (w->wl_active_ && !w->synced &&
            contains(obj->data, obj->len, "\"k8s.io/initial-events-end\":\"true\"")) {
            w->synced = true;
            if (w->h_.on_synced)
                w->h_.on_synced(w, w->h_.ctx);
        }
        return LQ_OK;
    }
    if (lq_scan_str_eq(t, "ERROR", 5)) {
        /* The object is a metav1.Status; kube-apiserver writes compact JSON. */
        if (contains(obj->data, obj->len, "\"code\":410") ||
            contains(obj->data, obj->len, "\"reason\":\"Expired\"") ||
            contains(obj->data, obj->len, "\"reason\":\"Gone\"")) {
            w->stats.gone++;
            w->relist_ = true;
            return LQ_EGONE;
        }
        (void)snprintf(w->last_error, sizeof w->last_error, "watch ERROR event: %.*s",
                       (int)(obj->len < 200 ? obj->len : 200), obj->data);
        return LQ_EHTTP;
    }
    if (lq_scan_str_eq(t, "ADDED", 5))
        ev.type = (w->wl_active_ && !w->synced) ? LQ_WATCH_LISTED : LQ_WATCH_ADDED;
    else if (lq_scan_str_eq(t, "MODIFIED", 8))
        ev.type = LQ_WATCH_MODIFIED;
    else if (lq_scan_str_eq(t, "DELETED", 7))
        ev.type = LQ_WATCH_DELETED;
    else
        return LQ_EPROTO;
    if (ev.type == LQ_WATCH_LISTED)
        w->stats.listed++;
    else
        w->stats.events++;
    if (ev.oversized)
        w->stats.oversized++;
    remember_rv(w, &ev.meta.rv); /* also for oversized events (Decision 6) */
    return w->h_.on_event ? w->h_.on_event(w, &ev, w->h_.ctx) : LQ_OK;
}

/* --- HTTP callbacks --------------------------------------------------------------- */

static lq_err_t on_head(lq_conn_t *c, const lq_http_resp_t *r, void *ctx)
{
    (void)c;
    lq_watch_t *w = ctx;
    w->status_ = r->status;
    w->errbody_len_ = 0;
    if (r->status == 200) {
        if (w->state == LQ_WATCH_LISTING)
            lq_frame_list_init(&w->fr_.list, w->buf_, w->cap_, on_list_item, w);
        else
            lq_frame_watch_init(&w->fr_.watch, w->buf_, w->cap_, on_watch_event, w);
    }
    return LQ_OK;
}

static lq_err_t on_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    (void)c;
    lq_watch_t *w = ctx;
    if (w->status_ != 200) {
        size_t room = sizeof w->errbody_ - 1 - w->errbody_len_;
        size_t k = n < room ? n : room;
        memcpy(w->errbody_ + w->errbody_len_, d, k);
        w->errbody_len_ += k;
        w->errbody_[w->errbody_len_] = '\0';
        return LQ_OK;
    }
    lq_err_t e;
    if (w->state == LQ_WATCH_LISTING) {
        e = lq_frame_list_feed(&w->fr_.list, d, n);
        if (e == LQ_AGAIN)
            e = LQ_OK;
    } else {
        e = lq_frame_watch_feed(&w->fr_.watch, d, n);
    }
    return e;
}

static void schedule(lq_watch_t *w, uint32_t delay_ms)
{
    w->state = LQ_WATCH_BACKOFF;
    lq_loop_timer_start(w->loop_, &w->timer_, delay_ms);
}

static void begin_relist(lq_watch_t *w)
{
    w->relist_ = false;
    w->synced = false;
    w->cont_[0] = '\0';
    w->rv[0] = '\0';
    w->stats.relists++;
    if (w->h_.on_relist)
        w->h_.on_relist(w, w->h_.ctx);
    w->wl_active_ = w->wl_supported_;
    w->state = w->wl_active_ ? LQ_WATCH_WATCHING : LQ_WATCH_LISTING;
    start_request(w);
}

static void fail(lq_watch_t *w, lq_err_t err, bool relist)
{
    w->stats.failures++;
    if (relist)
        w->relist_ = true;
    uint32_t d = lq_backoff_next(&w->backoff_);
    if (w->cfg_.quiet_not_found && w->status_ == 404)
        LQ_DEBUG("watch", "%s: not found; retrying in %u ms", w->cfg_.path, (unsigned)d);
    else
        LQ_WARN("watch", "%s: %s; retrying in %u ms%s", w->cfg_.path,
                w->last_error[0] ? w->last_error : lq_err_str(err), (unsigned)d,
                w->relist_ ? " with a full relist" : "");
    schedule(w, d);
}

static void on_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_watch_t *w = ctx;
    if (w->stopping_)
        return;
    bool listing = w->state == LQ_WATCH_LISTING;
    if (err != LQ_OK) {
        if (err == LQ_EGONE || w->relist_) {
            /* 410 in the stream: the version is compacted away; relist now. */
            LQ_INFO("watch", "%s: resourceVersion %s is too old (410); relisting",
                    w->cfg_.path, w->rv[0] ? w->rv : "?");
            begin_relist(w);
            return;
        }
        if (err != LQ_EHTTP)
            (void)snprintf(w->last_error, sizeof w->last_error, "%s",
                           c->error[0] ? c->error : lq_err_str(err));
        fail(w, err, listing || !w->synced);
        return;
    }
    if (w->status_ != 200) {
        lq_kapi_action_t action;
        lq_err_t se = lq_kapi_classify(w->status_, NULL, 0, &action);
        (void)snprintf(w->last_error, sizeof w->last_error, "HTTP %d from %s: %.300s",
                       w->status_, w->cfg_.path, w->errbody_);
        if (w->h_.on_http_error)
            w->h_.on_http_error(w, w->status_, w->h_.ctx);
        if (se == LQ_EGONE) {
            w->stats.gone++;
            begin_relist(w);
            return;
        }
        if (w->wl_active_ && (w->status_ == 400 || w->status_ == 422 || w->status_ == 501)) {
            LQ_INFO("watch", "%s: the server refused watch-list (HTTP %d); using LIST",
                    w->cfg_.path, w->status_);
            w->wl_supported_ = false;
            begin_relist(w);
            return;
        }
        fail(w, se, listing || !w->synced);
        return;
    }
    lq_backoff_reset(&w->backoff_);
    if (listing) {
        lq_err_t le = lq_frame_list_end(&w->fr_.list);
        if (le != LQ_OK) {
            (void)snprintf(w->last_error, sizeof w->last_error, "LIST body of %s ended early (%s)",
                           w->cfg_.path, lq_err_str(le));
            fail(w, le, true);
            return;
        }
        const lq_frame_list_meta_t *m = &w->fr_.list.meta;
        if (m->rv_len > 0 && m->rv_len < sizeof w->rv)
            memcpy(w->rv, m->rv, m->rv_len + 1);
        if (m->cont_len > 0) {
            memcpy(w->cont_, m->cont, m->cont_len + 1);
            start_request(w); /* next page */
            return;
        }
        w->cont_[0] = '\0';
        w->synced = true;
        if (w->h_.on_synced)
            w->h_.on_synced(w, w->h_.ctx);
        w->state = LQ_WATCH_WATCHING;
        w->wl_active_ = false;
        start_request(w);
        return;
    }
    /* A watch ended normally (timeoutSeconds): go on from the last version. */
    if (lq_frame_watch_end(&w->fr_.watch) != LQ_OK || (w->wl_active_ && !w->synced)) {
        (void)snprintf(w->last_error, sizeof w->last_error, "watch of %s ended mid-event",
                       w->cfg_.path);
        fail(w, LQ_EPROTO, !w->synced);
        return;
    }
    w->wl_active_ = false;
    w->stats.rewatches++;
    start_request(w);
}

static void start_request(lq_watch_t *w)
{
    w->status_ = 0;
    lq_err_t e = build_path(w);
    if (e != LQ_OK) {
        (void)snprintf(w->last_error, sizeof w->last_error,
                       "request path for %s does not fit %u bytes", w->cfg_.path,
                       (unsigned)sizeof w->path_);
        fail(w, e, false);
        return;
    }
    lq_conn_handler_t h = { .on_head = on_head, .on_body = on_body, .on_done = on_done, .ctx = w };
    /* Bounded wait for the response head; the stream itself may be quiet for long. */
    e = lq_kreq_stream_send(&w->st_, "GET", w->path_, NULL, 0, &h, 30000);
    if (e != LQ_OK) {
        (void)snprintf(w->last_error, sizeof w->last_error, "cannot start request: %s",
                       lq_err_str(e));
        fail(w, e, false);
    }
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_watch_t *w = ctx;
    if (w->relist_ || !w->synced) {
        begin_relist(w);
        return;
    }
    w->state = LQ_WATCH_WATCHING;
    w->wl_active_ = false;
    w->stats.rewatches++;
    start_request(w);
}

lq_err_t lq_watch_start(lq_watch_t *w)
{
    w->stopping_ = false;
    if (strlen(w->cfg_.path) + 1 > sizeof w->path_)
        return LQ_ETOOBIG;
    begin_relist(w);
    return LQ_OK;
}

void lq_watch_stop(lq_watch_t *w)
{
    w->stopping_ = true;
    lq_loop_timer_stop(w->loop_, &w->timer_);
    lq_conn_close(w->conn_);
    w->state = LQ_WATCH_IDLE;
}
