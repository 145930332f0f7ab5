/* liqolet: the virtual node in the home cluster (Liqo v0.8 §4, DESIGN.md Decisions 8, 10).
 *
 *   start: ids (kube-system UIDs), home version, local address -> ping foreign
 *          -> capacity scan -> apply Node -> apply status -> lease every 10 s
 *   timers: ping every 10 s (1 s timeout); status every 60 s (with a fresh scan);
 *           home ping every 10 s (5 s timeout; unreachable after 3 failures in a row,
 *           reported through cfg.on_home: reflected endpoints are gated on it);
 *           lease every 10 s; both skipped while the foreign cluster is unhealthy, so the
 *           node lifecycle controller turns the node NotReady; foreign unavailable after
 *           LQ_VNODE_FOREIGN_DOWN_AFTER failed pings in a row, reported through
 *           cfg.on_foreign (the pods get liqo.io/remote-unavailable)
 *   watches: foreign Nodes (a change triggers a rescan + status), the own home Node
 *            (DELETED -> re-created at once)
 *
 * The capacity scan streams LISTs of foreign Nodes and Running Pods one object at a
 * time (lq_frame_list), so the foreign cluster's size never has to fit in memory; its
 * requests, like the watches', go through lq_kreq_stream_send (server path prefix, token,
 * 401 re-read). */
#include <stdio.h>
#include <string.h>

#include "liqolet/forge_node.h"
#include "liqolet/frame.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/log.h"
#include "liqolet/vnode.h"

#define FIELD_MANAGER "liqolet"
#define PING_MS 10000
#define PING_TIMEOUT_MS 1000
#define HOME_PING_TIMEOUT_MS 5000
#define LEASE_MS 10000
#define STATUS_MS 60000
#define RESCAN_DEBOUNCE_MS 2000

static void scan_start(lq_vnode_t *v);
static void apply_node(lq_vnode_t *v);
static void apply_status(lq_vnode_t *v);
static void renew_lease(lq_vnode_t *v);

/* A request struct may be reused only once its previous use is over. */
static bool busy(const lq_kreq_t *r)
{
    return r->state != LQ_KREQ_IDLE;
}

static void params_of(const lq_vnode_t *v, lq_forge_node_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->node_name = v->cfg.node_name;
    p->foreign_cluster_id = v->cfg.foreign_id;
    p->node_ip = v->cfg.node_ip;
    p->kubelet_version = v->cfg.kubelet_version;
    p->extra_labels = v->cfg.labels;
    p->n_extra_labels = v->cfg.n_labels;
    p->extra_annotations = v->cfg.annotations;
    p->n_extra_annotations = v->cfg.n_annotations;
    p->kubelet_port = v->cfg.kubelet_port;
    p->declare_websockets = v->cfg.kubelet_websockets;
}

/* --- the capacity scan ------------------------------------------------------------ */

static lq_err_t on_scan_item(void *ctx, const lq_frame_obj_t *obj)
{
    lq_vnode_t *v = ctx;
    if (obj->toplevel)
        return LQ_OK;
    if (obj->kind == LQ_FRAME_OVERSIZED) {
        LQ_WARN("vnode", "a foreign %s of %llu bytes is over the object limit; not counted",
                v->scan_pods_ ? "pod" : "node", (unsigned long long)obj->total);
        return LQ_OK;
    }
    lq_json_t *root = NULL;
    lq_json_reset(&v->item_doc_);
    lq_err_t e = lq_json_parse(&v->item_doc_, obj->data, obj->len, &root);
    if (e != LQ_OK)
        return e == LQ_ETOOBIG ? LQ_OK : e;
    bool counted = false;
    if (v->scan_pods_)
        e = lq_forge_capacity_add_pod(&v->cap_, root, v->cfg.home_id, &counted);
    else
        e = lq_forge_capacity_add_node(&v->cap_, root, &counted);
    if (e != LQ_OK)
        LQ_WARN("vnode", "capacity: a foreign %s was not counted (%s)",
                v->scan_pods_ ? "pod" : "node", lq_err_str(e));
    return LQ_OK;
}

static lq_err_t scan_head(lq_conn_t *c, const lq_http_resp_t *r, void *ctx)
{
    (void)c;
    lq_vnode_t *v = ctx;
    v->scan_status_ = r->status;
    lq_frame_list_init(&v->list_, v->objbuf_, sizeof v->objbuf_, on_scan_item, v);
    return LQ_OK;
}

static lq_err_t scan_body(lq_conn_t *c, const char *d, size_t n, void *ctx)
{
    (void)c;
    lq_vnode_t *v = ctx;
    if (v->scan_status_ != 200)
        return LQ_OK;
    lq_err_t e = lq_frame_list_feed(&v->list_, d, n);
    return e == LQ_AGAIN ? LQ_OK : e;
}

static void scan_request(lq_vnode_t *v);

static void scan_done(lq_conn_t *c, lq_err_t err, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (err != LQ_OK || v->scan_status_ != 200 || lq_frame_list_end(&v->list_) != LQ_OK) {
        if (err != LQ_OK)
            LQ_WARN("vnode", "capacity scan of the foreign cluster failed: %s", c->error);
        else
            LQ_WARN("vnode", "capacity scan of the foreign cluster failed: HTTP %d for %s%s",
                    v->scan_status_, v->foreign->kcfg.path_prefix, v->scan_path_);
        v->scanning_ = false;
        return; /* the next status tick tries again */
    }
    const lq_frame_list_meta_t *m = &v->list_.meta;
    if (m->cont_len > 0 && m->cont_len < sizeof v->cont_) {
        memcpy(v->cont_, m->cont, m->cont_len + 1);
        scan_request(v);
        return;
    }
    v->cont_[0] = '\0';
    if (!v->scan_pods_) {
        v->scan_pods_ = true;
        scan_request(v);
        return;
    }
    lq_forge_offer_t offer;
    lq_err_t e = lq_forge_capacity_offer(&v->cap_, v->cfg.sharing_pct, &offer);
    v->scanning_ = false;
    if (e != LQ_OK) {
        LQ_WARN("vnode", "capacity offer: %s", lq_err_str(e));
        return;
    }
    /* No more pods than the agent's pod table holds (node.maxPods). */
    for (size_t i = 0; i < offer.n && v->cfg.max_pods > 0; i++)
        if (strcmp(offer.res[i].name, "pods") == 0 && offer.res[i].scale == 0 &&
            offer.res[i].value > v->cfg.max_pods)
            offer.res[i].value = v->cfg.max_pods;
    bool changed = !v->have_offer || memcmp(&offer, &v->offer, sizeof offer) != 0;
    v->offer = offer;
    v->have_offer = true;
    v->stats.scans++;
    if (!v->node_applied)
        apply_node(v);
    else if (changed || v->status_due_)
        apply_status(v);
}

static void scan_request(lq_vnode_t *v)
{
    char path[LQ_KREQ_PATH_MAX];
    (void)snprintf(path, sizeof path, "%s", v->scan_pods_ ? "/api/v1/pods" : "/api/v1/nodes");
    lq_err_t e = lq_kapi_query(path, sizeof path, "limit", "500");
    if (e == LQ_OK && v->scan_pods_)
        e = lq_kapi_query(path, sizeof path, "fieldSelector", "status.phase=Running");
    if (e == LQ_OK && v->cont_[0])
        e = lq_kapi_query(path, sizeof path, "continue", v->cont_);
    if (e != LQ_OK) {
        v->scanning_ = false;
        return;
    }
    memcpy(v->scan_path_, path, sizeof path);
    lq_conn_handler_t h = { .on_head = scan_head, .on_body = scan_body,
                            .on_done = scan_done, .ctx = v };
    if (lq_kreq_stream_send(&v->scan_st_, "GET", v->scan_path_, NULL, 0, &h, 30000) != LQ_OK)
        v->scanning_ = false;
}

static void scan_start(lq_vnode_t *v)
{
    if (v->scanning_)
        return;
    v->scanning_ = true;
    v->scan_pods_ = false;
    v->cont_[0] = '\0';
    lq_forge_capacity_init(&v->cap_);
    scan_request(v);
}

/* --- writes to the home cluster ----------------------------------------------------- */

static void node_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (err != LQ_OK) {
        LQ_WARN("vnode", "cannot apply node %s: %s (%s); retrying at the next tick",
                v->cfg.node_name, lq_err_str(err), r->message);
        return;
    }
    /* Remember the uid for the lease's owner reference. */
    lq_json_t *root = NULL;
    lq_json_reset(&v->item_doc_);
    if (lq_json_parse(&v->item_doc_, v->resp_, r->resp_len, &root) == LQ_OK)
        (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "uid"), v->node_uid, sizeof v->node_uid);
    if (!v->node_applied)
        LQ_INFO("vnode", "virtual node %s registered (uid %s)", v->cfg.node_name, v->node_uid);
    v->node_applied = true;
    v->stats.node_applies++;
    apply_status(v);
    renew_lease(v);
}

static bool render(lq_json_t *obj, char *buf, size_t cap, size_t *len)
{
    if (lq_json_print(obj, buf, cap, len) != LQ_OK) {
        LQ_ERROR("vnode", "rendered object does not fit %zu bytes", cap);
        return false;
    }
    return true;
}

static void apply_node(lq_vnode_t *v)
{
    if (!v->have_offer || busy(&v->req_node_))
        return;
    lq_forge_node_params_t p;
    params_of(v, &p);
    lq_json_reset(&v->out_doc_);
    lq_json_t *node = NULL;
    if (lq_forge_node(&v->out_doc_, &p, &v->offer, lq_port_wall_ms(), &node) != LQ_OK)
        return;
    (void)lq_json_obj_del(&v->out_doc_, node, "status");
    size_t len = 0;
    if (!render(node, v->body_node_, sizeof v->body_node_, &len))
        return;
    char path[LQ_KREQ_PATH_MAX];
    if (lq_kapi_path(path, sizeof path, "v1", NULL, "nodes", v->cfg.node_name, NULL) != LQ_OK)
        return;
    lq_kreq_init(&v->req_node_, v->resp_, sizeof v->resp_, node_done, v);
    if (lq_kreq_apply(&v->req_node_, path, FIELD_MANAGER, v->body_node_, len) == LQ_OK)
        (void)lq_kreq_submit(v->home_req, &v->req_node_);
}

static void status_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (err == LQ_ENOTFOUND) {
        LQ_WARN("vnode", "node %s is gone; re-creating it", v->cfg.node_name);
        v->node_applied = false;
        apply_node(v);
        return;
    }
    if (err != LQ_OK) {
        LQ_WARN("vnode", "cannot update the status of node %s: %s (%s)", v->cfg.node_name,
                lq_err_str(err), r->message);
        return;
    }
    v->status_due_ = false;
    v->stats.status_updates++;
    /* Keep what was applied: the next status keeps unchanged transition times. */
    size_t n = v->req_status_.body_len < sizeof v->last_status_ - 1 ? v->req_status_.body_len
                                                                    : sizeof v->last_status_ - 1;
    memcpy(v->last_status_, v->body_status_, n);
    v->last_status_[n] = '\0';
    v->last_status_len_ = n;
}

static void apply_status(lq_vnode_t *v)
{
    if (!v->node_applied || !v->have_offer || !v->healthy)
        return;
    if (busy(&v->req_status_))
        return;
    lq_forge_node_params_t p;
    params_of(v, &p);
    lq_json_reset(&v->out_doc_);
    lq_json_t *prev = NULL;
    if (v->last_status_len_ > 0)
        (void)lq_json_parse(&v->out_doc_, v->last_status_, v->last_status_len_, &prev);
    lq_json_t *status = NULL;
    if (lq_forge_node_status(&v->out_doc_, &p, &v->offer, prev, lq_port_wall_ms(), &status) != LQ_OK)
        return;
    lq_json_t *obj = lq_json_new_object(&v->out_doc_);
    lq_json_t *meta = lq_json_new_object(&v->out_doc_);
    if (lq_json_obj_add(&v->out_doc_, obj, "apiVersion", lq_json_new_cstr(&v->out_doc_, "v1")) != LQ_OK ||
        lq_json_obj_add(&v->out_doc_, obj, "kind", lq_json_new_cstr(&v->out_doc_, "Node")) != LQ_OK ||
        lq_json_obj_add(&v->out_doc_, meta, "name", lq_json_new_cstr(&v->out_doc_, v->cfg.node_name)) != LQ_OK ||
        lq_json_obj_add(&v->out_doc_, obj, "metadata", meta) != LQ_OK ||
        lq_json_obj_add(&v->out_doc_, obj, "status", status) != LQ_OK)
        return;
    size_t len = 0;
    if (!render(obj, v->body_status_, sizeof v->body_status_, &len))
        return;
    char path[LQ_KREQ_PATH_MAX];
    if (lq_kapi_path(path, sizeof path, "v1", NULL, "nodes", v->cfg.node_name, "status") != LQ_OK)
        return;
    lq_kreq_init(&v->req_status_, NULL, 0, status_done, v);
    v->req_status_.priority = true; /* with the Lease, what keeps the node Ready */
    if (lq_kreq_apply(&v->req_status_, path, FIELD_MANAGER, v->body_status_, len) == LQ_OK)
        (void)lq_kreq_submit(v->home_req, &v->req_status_);
}

static void home_answered(lq_vnode_t *v, bool from_lease);

static void lease_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (err != LQ_OK) {
        LQ_WARN("vnode", "cannot renew the lease of node %s: %s (%s)", v->cfg.node_name,
                lq_err_str(err), r->message);
        if (lq_kreq_transport_err(err))
            v->home_shaky_ = true;
        return;
    }
    v->stats.lease_renewals++;
    home_answered(v, true);
}

static void renew_lease(lq_vnode_t *v)
{
    if (!v->node_applied || !v->healthy)
        return;
    if (busy(&v->req_lease_))
        return;
    lq_json_reset(&v->out_doc_);
    lq_json_t *lease = NULL;
    if (lq_forge_lease(&v->out_doc_, v->cfg.node_name, v->node_uid[0] ? v->node_uid : NULL,
                       v->cfg.node_name, LQ_FORGE_LEASE_DURATION, lq_port_wall_ms(), &lease) != LQ_OK)
        return;
    size_t len = 0;
    if (!render(lease, v->body_lease_, sizeof v->body_lease_, &len))
        return;
    char path[LQ_KREQ_PATH_MAX];
    if (lq_kapi_path(path, sizeof path, "coordination.k8s.io/v1", LQ_FORGE_LEASE_NAMESPACE,
                     "leases", v->cfg.node_name, NULL) != LQ_OK)
        return;
    lq_kreq_init(&v->req_lease_, NULL, 0, lease_done, v);
    v->req_lease_.priority = true; /* never behind bulk traffic: it keeps the node Ready */
    if (lq_kreq_apply(&v->req_lease_, path, FIELD_MANAGER, v->body_lease_, len) == LQ_OK) {
        /* One attempt that ends before the next tick: a renewal stuck on a dead connection
         * must not hold back the ones after it (the next tick opens a new connection). */
        v->req_lease_.timeout_ms = LEASE_MS - 1000;
        v->req_lease_.max_attempts = 1;
        (void)lq_kreq_submit(v->home_req, &v->req_lease_);
    }
}

/* --- foreign health ------------------------------------------------------------------ */

/* Posts the node status (after a capacity scan) and renews the Lease at once, so the node
 * is Ready again without waiting for the next 60 s status tick. */
static void post_now(lq_vnode_t *v)
{
    v->status_due_ = true;
    scan_start(v);
    renew_lease(v);
}

static void ping_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)r;
    lq_vnode_t *v = ctx;
    bool ok = err == LQ_OK;
    if (ok != v->healthy)
        LQ_INFO("vnode", "foreign cluster is %s%s%s", ok ? "healthy again" : "unhealthy",
                ok ? "" : ": ", ok ? "" : r->message);
    bool recovered = ok && !v->healthy;
    v->healthy = ok;
    bool was = v->foreign_available;
    if (ok) {
        v->foreign_fails_ = 0;
        v->foreign_available = true;
    } else if (++v->foreign_fails_ >= LQ_VNODE_FOREIGN_DOWN_AFTER) {
        v->foreign_available = false;
    }
    if (was != v->foreign_available) {
        if (!v->foreign_available)
            LQ_WARN("vnode", "foreign cluster is unavailable (%u pings in a row failed): the "
                    "pods that run there are marked %s", v->foreign_fails_,
                    "liqo.io/remote-unavailable");
        if (v->cfg.on_foreign)
            v->cfg.on_foreign(v->foreign_available, v->cfg.on_foreign_ctx);
        if (v->foreign_available && v->cfg.on_back)
            v->cfg.on_back(1, v->cfg.on_back_ctx);
    }
    if (recovered || (ok && !v->have_offer))
        post_now(v);
}

/* --- home health ---------------------------------------------------------------------- */

/* Home answered a ping or a Lease renewal. After a failure in transport since its last
 * answer (whichever of the two saw it first: they share no connection's fate), the node's
 * Lease may have run out and the node lifecycle controller set Ready Unknown, and the home
 * watches may sit on dead connections: a status or Lease write still in flight is withdrawn
 * (its connection closed), both are written again now, and the home watches relisted. */
static void home_answered(lq_vnode_t *v, bool from_lease)
{
    if (!v->home_shaky_)
        return;
    v->home_shaky_ = false;
    (void)lq_kreq_cancel(&v->req_status_);
    if (!from_lease) /* from lease_done that request is over already */
        (void)lq_kreq_cancel(&v->req_lease_);
    if (v->healthy)
        post_now(v);
    if (v->cfg.on_back)
        v->cfg.on_back(0, v->cfg.on_back_ctx);
}

static void home_ping_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_vnode_t *v = ctx;
    bool was = v->home_healthy;
    if (err == LQ_OK) {
        home_answered(v, false);
        v->home_fails_ = 0;
        v->home_healthy = true;
    } else {
        v->home_shaky_ = true;
        if (++v->home_fails_ >= LQ_VNODE_HOME_DOWN_AFTER)
            v->home_healthy = false;
    }
    if (was == v->home_healthy)
        return;
    if (v->home_healthy)
        LQ_INFO("vnode", "home cluster is reachable again");
    else
        LQ_WARN("vnode", "home cluster is unreachable (%u pings in a row failed: %s)",
                v->home_fails_, r->message[0] ? r->message : lq_err_str(err));
    if (v->cfg.on_home)
        v->cfg.on_home(v->home_healthy, v->cfg.on_home_ctx);
}

static void home_ping(lq_vnode_t *v)
{
    if (busy(&v->req_hping_))
        return;
    lq_kreq_init(&v->req_hping_, NULL, 0, home_ping_done, v);
    v->req_hping_.priority = true;
    if (lq_kreq_get(&v->req_hping_, "/readyz") == LQ_OK) {
        v->req_hping_.timeout_ms = HOME_PING_TIMEOUT_MS;
        v->req_hping_.max_attempts = 1;
        (void)lq_kreq_submit(v->home_req, &v->req_hping_);
    }
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (t == &v->ping_timer_) {
        home_ping(v);
        if (!busy(&v->req_ping_)) {
            lq_kreq_init(&v->req_ping_, NULL, 0, ping_done, v);
            v->req_ping_.priority = true; /* a 1 s timeout must not measure a queue */
            if (lq_kreq_get(&v->req_ping_, "/readyz") == LQ_OK) {
                v->req_ping_.timeout_ms = PING_TIMEOUT_MS;
                v->req_ping_.max_attempts = 1;
                (void)lq_kreq_submit(v->foreign_req, &v->req_ping_);
            }
        }
        lq_loop_timer_start(loop, t, PING_MS);
    } else if (t == &v->lease_timer_) {
        renew_lease(v);
        lq_loop_timer_start(loop, t, LEASE_MS);
    } else if (t == &v->status_timer_) {
        v->status_due_ = true;
        if (v->healthy)
            scan_start(v);
        lq_loop_timer_start(loop, t, STATUS_MS);
    } else if (t == &v->rescan_timer_) {
        if (v->healthy)
            scan_start(v);
    }
}

/* --- watches ----------------------------------------------------------------------- */

static lq_err_t on_foreign_node(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    lq_vnode_t *v = ctx;
    if (w->synced && ev->type != LQ_WATCH_LISTED && !v->rescan_timer_.armed)
        lq_loop_timer_start(v->loop, &v->rescan_timer_, RESCAN_DEBOUNCE_MS);
    return LQ_OK;
}

static lq_err_t on_home_node(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_vnode_t *v = ctx;
    if (ev->type == LQ_WATCH_DELETED && v->node_applied) {
        LQ_WARN("vnode", "node %s was deleted; re-creating it", v->cfg.node_name);
        v->node_applied = false;
        v->node_uid[0] = '\0';
        v->last_status_len_ = 0;
        apply_node(v);
    }
    return LQ_OK;
}

/* --- set-up ------------------------------------------------------------------------- */

void lq_vnode_init(lq_vnode_t *v, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                   lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req,
                   const lq_vnode_cfg_t *cfg)
{
    memset(v, 0, offsetof(lq_vnode_t, objbuf_));
    v->loop = loop;
    v->home = home;
    v->foreign = foreign;
    v->home_req = home_req;
    v->foreign_req = foreign_req;
    v->cfg = *cfg;
    lq_json_doc_init(&v->item_doc_, v->item_arena_, sizeof v->item_arena_);
    lq_json_doc_init(&v->out_doc_, v->out_arena_, sizeof v->out_arena_);
    lq_conn_init(&v->scan_conn_, loop, &foreign->target);
    lq_conn_init(&v->fwatch_conn_, loop, &foreign->target);
    lq_conn_init(&v->hwatch_conn_, loop, &home->target);
    lq_kreq_stream_init(&v->scan_st_, &v->scan_conn_, &foreign->kcfg);
    lq_loop_timer_init(&v->ping_timer_, on_timer, v);
    lq_loop_timer_init(&v->lease_timer_, on_timer, v);
    lq_loop_timer_init(&v->status_timer_, on_timer, v);
    lq_loop_timer_init(&v->rescan_timer_, on_timer, v);
    (void)snprintf(v->home_sel_, sizeof v->home_sel_, "metadata.name=%s", cfg->node_name);
    lq_watch_cfg_t fw = { .path = "/api/v1/nodes", .watch_list = true, .kcfg = &foreign->kcfg };
    lq_watch_handler_t fh = { on_foreign_node, NULL, NULL, v, NULL };
    lq_watch_init(&v->fwatch_, loop, &v->fwatch_conn_, v->fwatch_buf_, sizeof v->fwatch_buf_, &fw, &fh);
    lq_watch_cfg_t hw = { .path = "/api/v1/nodes", .field_selector = v->home_sel_, .watch_list = false,
                          .kcfg = &home->kcfg };
    lq_watch_handler_t hh = { on_home_node, NULL, NULL, v, NULL };
    lq_watch_init(&v->hwatch_, loop, &v->hwatch_conn_, v->hwatch_buf_, sizeof v->hwatch_buf_, &hw, &hh);
}

lq_err_t lq_vnode_start(lq_vnode_t *v)
{
    v->healthy = true; /* optimistic until the first ping says otherwise */
    v->home_healthy = true; /* it just answered: the lock Lease is held */
    v->home_fails_ = 0;
    v->foreign_available = true;
    v->foreign_fails_ = 0;
    lq_loop_timer_start(v->loop, &v->ping_timer_, 0);
    lq_loop_timer_start(v->loop, &v->lease_timer_, LEASE_MS);
    lq_loop_timer_start(v->loop, &v->status_timer_, STATUS_MS);
    scan_start(v);
    lq_err_t e = lq_watch_start(&v->fwatch_);
    if (e == LQ_OK)
        e = lq_watch_start(&v->hwatch_);
    return e;
}
