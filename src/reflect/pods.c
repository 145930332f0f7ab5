/* liqolet: pod offloading (Liqo v0.8 §1.3, §2, §3.6; DESIGN.md Decisions 3, 4, 5).
 *
 * Inputs (one cluster-wide watch per side, Decision 3):
 *   home:    pods with spec.nodeName=<virtual node>;
 *   foreign: pods labelled virtualkubelet.liqo.io/origin=<home id>,destination=<foreign id>,
 *            mapped back to home through the offloaded namespaces (same pod name).
 * Each pod has a record in a fixed table of LQ_MAX_PODS (node.maxPods in use). Up to
 * LQ_POD_PASSES passes run at once, one per record, and only once both watches have listed and namespace offloading has settled at start-up
 * (so a restart adopts what exists instead of falling back or duplicating).
 *
 * A pass is level-based (Decision 4): GET the home pod, GET the remote pod (when one is
 * known), then the first action still needed:
 *   home pod gone              -> delete the remote pod (uid precondition), free the record
 *   home pod terminating       -> delete the remote pod; once it is gone, delete the home
 *                                 pod with grace 0 (uid precondition)  (§1.3)
 *   namespace not offloaded    -> §3.6 fallback: Pending/OffloadingBackOff,
 *                                 Failed/OffloadingAborted, or delete when terminating
 *   no remote pod              -> create it (409: adopt if ours, delete if stale, report
 *                                 if someone else's); a remote pod that vanished is
 *                                 re-created unless the pod had finished (§1.3)
 *   remote pod of ours         -> home status by merge patch on /status when it differs
 *                                 (hostIP = node IP, pod IPs as they are or blank,
 *                                 restart counts + re-creations), then liqo.io/shadowPod
 * Failures retry the record with backoff. The echo of our own status write (same
 * resourceVersion) starts no pass. */
#include <stdio.h>
#include <string.h>

#include "liqolet/forge_node.h"
#include "liqolet/forge_offload.h"
#include "liqolet/kapi.h"
#include "liqolet/log.h"
#include "liqolet/pods.h"

#define RETRY_BASE_MS 500
#define RETRY_MAX_MS 30000
#define SETTLE_POLL_MS 200

enum {
    ST_IDLE = 0,
    ST_GET_HOME,
    ST_GET_REMOTE,
    ST_CREATE,
    ST_DEL_REMOTE,
    ST_DEL_HOME,
    ST_STATUS,
    ST_LABEL,
    ST_FALLBACK,
};

static void actions(lq_pod_pass_t *ps);
static void kick(lq_pods_t *p);

/* An Event on the record's home pod (Liqo's reasons), when events are wired. */
#define EMIT(p, r, warn, reason, ...)                                                    \
    do {                                                                                 \
        if ((p)->cfg.events)                                                             \
            lq_events_emit((p)->cfg.events, (r)->ns, (r)->name, (r)->home_uid, (warn),   \
                           (reason), __VA_ARGS__);                                       \
    } while (0)

static bool str_eq(const char *s, const char *v, size_t len)
{
    return strlen(s) == len && memcmp(s, v, len) == 0;
}

static bool is_set(const lq_json_t *it)
{
    lq_json_type_t t = lq_json_type(it);
    return t != LQ_JSON_ABSENT && t != LQ_JSON_NULL;
}

/* --- records ------------------------------------------------------------------------ */

static lq_pod_rec_t *rec_find(lq_pods_t *p, const char *ns, size_t nl, const char *name, size_t len)
{
    for (size_t i = 0; i < LQ_MAX_PODS; i++) {
        lq_pod_rec_t *r = &p->recs[i];
        if (r->used && str_eq(r->name, name, len) && str_eq(r->ns, ns, nl))
            return r;
    }
    return NULL;
}

static lq_pod_rec_t *rec_get(lq_pods_t *p, const char *ns, size_t nl, const char *name, size_t len)
{
    lq_pod_rec_t *r = rec_find(p, ns, nl, name, len);
    if (r)
        return r;
    if (nl == 0 || nl >= LQ_FORGE_OFFLOAD_NAME_BUF || len == 0 || len >= LQ_POD_NAME_BUF)
        return NULL;
    for (size_t i = 0; i < LQ_MAX_PODS && p->stats.records < p->cfg.max_pods; i++) {
        r = &p->recs[i];
        if (r->used)
            continue;
        memset(r, 0, sizeof *r);
        r->used = true;
        memcpy(r->ns, ns, nl);
        memcpy(r->name, name, len);
        lq_backoff_init(&r->backoff, RETRY_BASE_MS, RETRY_MAX_MS, (uint64_t)i * 7919u + len);
        p->stats.records++;
        if (p->stats.records > p->stats.records_hwm)
            p->stats.records_hwm = p->stats.records;
        return r;
    }
    if (!p->overflow_)
        LQ_WARN("pods", "pod table full (%zu records, node.maxPods): pod %.*s/%.*s waits "
                "until one frees", p->cfg.max_pods, (int)nl, ns, (int)len, name);
    p->stats.table_full++;
    p->overflow_ = true;
    return NULL;
}

static void rec_free(lq_pods_t *p, lq_pod_rec_t *r)
{
    r->used = false;
    p->stats.records--;
    if (p->overflow_)
        lq_loop_timer_start(p->loop_, &p->timer_, 0); /* relist from the timer */
}

static void rec_dirty(lq_pods_t *p, lq_pod_rec_t *r)
{
    r->dirty = true;
    kick(p);
}

static void retry_later(lq_pods_t *p, lq_pod_rec_t *r, uint32_t ms)
{
    r->retry_at = lq_port_mono_ms() + ms;
    if (!p->timer_.armed || p->timer_.due_ms > r->retry_at)
        lq_loop_timer_start(p->loop_, &p->timer_, ms);
}

/* --- the pass ---------------------------------------------------------------------- */

static void finish(lq_pod_pass_t *ps, bool failed)
{
    lq_pods_t *p = ps->p;
    lq_pod_rec_t *r = ps->rec;
    ps->rec = NULL;
    ps->step = ST_IDLE;
    r->busy = false;
    r->retry_at = 0;
    if (failed) {
        p->stats.failures++;
        retry_later(p, r, lq_backoff_next(&r->backoff));
    } else {
        lq_backoff_reset(&r->backoff);
    }
    kick(p);
}

static void failed(lq_pod_pass_t *ps, const char *what, lq_err_t err)
{
    lq_pods_t *p = ps->p;
    lq_pod_rec_t *r = ps->rec;
    lq_offload_count(p->offload_, r->ns, false);
    LQ_WARN("pods", "pod %s/%s: %s: %s (%s); retrying", r->ns, r->name, what, lq_err_str(err),
            ps->req.message);
    if (!r->failed_logged)
        EMIT(p, r, true, ps->step == ST_DEL_REMOTE ? "FailedDeletion" : "FailedReflection",
             "Error reflecting object to cluster %s: %s: %s", p->cfg.foreign_name, what,
             ps->req.message[0] ? ps->req.message : lq_err_str(err));
    r->failed_logged = true;
    finish(ps, true);
}

static void send(lq_pod_pass_t *ps, lq_kreq_client_t *cl, int step)
{
    ps->step = step;
    if (lq_kreq_submit(cl, &ps->req) != LQ_OK)
        failed(ps, "request", LQ_ESTATE);
}

static bool render(lq_pod_pass_t *ps, const lq_json_t *obj, size_t *len)
{
    if (obj && lq_json_print(obj, ps->body, sizeof ps->body, len) == LQ_OK)
        return true;
    LQ_WARN("pods", "pod %s/%s: a request body does not fit %zu bytes", ps->rec->ns,
            ps->rec->name, sizeof ps->body);
    return false;
}

static bool pod_path(char *path, size_t cap, const char *ns, const char *name, const char *sub)
{
    return lq_kapi_path(path, cap, "v1", ns, "pods", name, sub) == LQ_OK;
}

/* GET of the home (into home_) or remote (into remote_) pod. */
static void get_pod(lq_pod_pass_t *ps, bool home, const char *ns)
{
    lq_pods_t *p = ps->p;
    char path[LQ_KREQ_PATH_MAX];
    lq_pod_rec_t *r = ps->rec;
    if (!pod_path(path, sizeof path, ns, r->name, NULL)) {
        finish(ps, true);
        return;
    }
    lq_kreq_init(&ps->req, home ? ps->home : ps->remote, LQ_POD_BUF, ps->req.done, ps);
    if (lq_kreq_get(&ps->req, path) != LQ_OK) {
        finish(ps, true);
        return;
    }
    send(ps, home ? p->home_req_ : p->foreign_req_, home ? ST_GET_HOME : ST_GET_REMOTE);
}

static void delete_pod(lq_pod_pass_t *ps, bool home, const char *ns, const char *uid)
{
    lq_pods_t *p = ps->p;
    char path[LQ_KREQ_PATH_MAX];
    lq_pod_rec_t *r = ps->rec;
    if (!pod_path(path, sizeof path, ns, r->name, NULL)) {
        finish(ps, true);
        return;
    }
    lq_kreq_init(&ps->req, NULL, 0, ps->req.done, ps);
    if (lq_kreq_delete_grace(&ps->req, path, uid && uid[0] ? uid : NULL, NULL, home ? 0 : -1) != LQ_OK) {
        finish(ps, true);
        return;
    }
    send(ps, home ? p->home_req_ : p->foreign_req_, home ? ST_DEL_HOME : ST_DEL_REMOTE);
}

/* Merge patch of the home pod (status subresource or metadata), answer into home_. */
static void patch_home(lq_pod_pass_t *ps, const lq_json_t *patch, bool status, int step)
{
    lq_pods_t *p = ps->p;
    char path[LQ_KREQ_PATH_MAX];
    size_t len = 0;
    lq_pod_rec_t *r = ps->rec;
    if (!render(ps, patch, &len) || !pod_path(path, sizeof path, r->ns, r->name, status ? "status" : NULL)) {
        finish(ps, true);
        return;
    }
    lq_kreq_init(&ps->req, ps->home, LQ_POD_BUF, ps->req.done, ps);
    if (lq_kreq_merge_patch(&ps->req, path, ps->body, len) != LQ_OK) {
        finish(ps, true);
        return;
    }
    send(ps, p->home_req_, step);
}

static void create_remote(lq_pod_pass_t *ps, const lq_json_t *home, const char *rns)
{
    lq_pods_t *p = ps->p;
    lq_forge_pod_remote_params_t prm = { rns, p->cfg.home_id, p->cfg.foreign_id, NULL };
    lq_json_t *pod = NULL;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    lq_err_t e = lq_forge_pod_remote(&ps->doc, home, &prm, &pod);
    if (e != LQ_OK) {
        LQ_WARN("pods", "pod %s/%s cannot be reflected: %s", ps->rec->ns, ps->rec->name,
                e == LQ_EPROTO ? "the home pod has an unexpected shape" : lq_err_str(e));
        finish(ps, true);
        return;
    }
    if (!render(ps, pod, &len) || !pod_path(path, sizeof path, rns, NULL, NULL)) {
        finish(ps, true);
        return;
    }
    lq_kreq_init(&ps->req, ps->remote, LQ_POD_BUF, ps->req.done, ps);
    if (lq_kreq_create(&ps->req, path, ps->body, len) != LQ_OK) {
        finish(ps, true);
        return;
    }
    send(ps, p->foreign_req_, ST_CREATE);
}

/* The remote pod is ours: status, then the shadowPod label. */
static void sync_status(lq_pod_pass_t *ps, const lq_json_t *home, const lq_json_t *remote)
{
    lq_pods_t *p = ps->p;
    lq_pod_rec_t *r = ps->rec;
    bool changed = false;
    if (lq_forge_pod_restarts_track(&r->restarts, home, remote, &changed) == LQ_OK && changed &&
        r->restarts.offset > 0)
        LQ_INFO("pods", "pod %s/%s: the remote pod was re-created (restarts +%d)", r->ns,
                r->name, (int)r->restarts.offset);
    lq_forge_pod_status_params_t sp = { p->cfg.node_ip, p->cfg.reflect_ips, r->restarts.offset };
    lq_json_t *patch = NULL;
    lq_err_t e = lq_forge_pod_status_patch(&ps->doc, home, remote, &sp, &patch);
    if (e != LQ_OK) {
        LQ_WARN("pods", "pod %s/%s: cannot build the status (%s)", r->ns, r->name, lq_err_str(e));
        finish(ps, true);
        return;
    }
    if (patch && !lq_forge_pod_patch_noop(home, patch)) {
        patch_home(ps, patch, true, ST_STATUS);
        return;
    }
    if (lq_forge_pod_home_label_patch(&ps->doc, home, &patch) == LQ_OK && patch) {
        patch_home(ps, patch, false, ST_LABEL);
        return;
    }
    finish(ps, false);
}

static void actions(lq_pod_pass_t *ps)
{
    lq_pods_t *p = ps->p;
    lq_pod_rec_t *r = ps->rec;
    lq_json_reset(&ps->doc);
    lq_json_t *home = NULL, *remote = NULL;
    if (ps->home_len && lq_json_parse(&ps->doc, ps->home, ps->home_len, &home) != LQ_OK) {
        failed(ps, "parse the home pod", LQ_EPROTO);
        return;
    }
    if (ps->have_remote && lq_json_parse(&ps->doc, ps->remote, ps->remote_len, &remote) != LQ_OK) {
        failed(ps, "parse the remote pod", LQ_EPROTO);
        return;
    }
    const char *rns = lq_offload_remote_ns(p->offload_, r->ns, strlen(r->ns));
    if (!rns)
        remote = NULL; /* an un-offloaded namespace: its remote namespace goes with its pods */
    lq_forge_pod_owner_t own = remote ? lq_forge_pod_owner(remote, p->cfg.home_id, p->cfg.foreign_id,
                                                           home ? r->home_uid : NULL)
                                      : LQ_FORGE_POD_NOT_OURS;
    bool ours = own == LQ_FORGE_POD_OURS || (!home && own == LQ_FORGE_POD_STALE);
    bool remote_deleting = remote && is_set(LQ_JSON_AT(remote, "metadata", "deletionTimestamp"));

    if (!home) { /* gone at home: the remote pod goes too */
        if (remote && ours && !remote_deleting) {
            delete_pod(ps, false, rns, r->remote_uid);
            return;
        }
        if (!remote || !ours) {
            LQ_DEBUG("pods", "pod %s/%s: gone; record freed", r->ns, r->name);
            ps->rec = NULL;
            ps->step = ST_IDLE;
            r->busy = false;
            rec_free(p, r);
            kick(p);
            return;
        }
        finish(ps, false); /* wait for the remote deletion */
        return;
    }
    if (is_set(LQ_JSON_AT(home, "metadata", "deletionTimestamp"))) {
        if (remote && ours && !remote_deleting) {
            delete_pod(ps, false, rns, r->remote_uid);
            return;
        }
        if (remote && ours) {
            finish(ps, false); /* the remote pod is terminating; its DELETED event returns */
            return;
        }
        delete_pod(ps, true, r->ns, r->home_uid);
        return;
    }
    if (!rns) {
        lq_forge_offload_fallback_t act = LQ_FORGE_OFFLOAD_FALLBACK_LEAVE;
        lq_json_t *patch = NULL;
        if (lq_forge_time_format(lq_port_wall_ms(), false, ps->now, sizeof ps->now) != LQ_OK ||
            lq_forge_offload_fallback(&ps->doc, home, ps->now, &act, &patch) != LQ_OK) {
            failed(ps, "fallback", LQ_EPROTO);
            return;
        }
        if (act == LQ_FORGE_OFFLOAD_FALLBACK_DELETE) {
            delete_pod(ps, true, r->ns, r->home_uid);
        } else if (patch) {
            LQ_INFO("pods", "pod %s/%s: namespace %s is not offloaded: %s", r->ns, r->name, r->ns,
                    act == LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF ? LQ_FORGE_OFFLOAD_REASON_BACKOFF
                                                       : LQ_FORGE_OFFLOAD_REASON_ABORTED);
            EMIT(p, r, true, LQ_FORGE_OFFLOAD_EVENT_REASON, "Reflection to cluster %s disabled for "
                 "namespace %s", p->cfg.foreign_name, r->ns);
            patch_home(ps, patch, true, ST_FALLBACK);
        } else {
            finish(ps, false);
        }
        return;
    }
    if (remote && own == LQ_FORGE_POD_STALE) {
        LQ_INFO("pods", "pod %s/%s: the remote pod belongs to an earlier pod of this name; "
                "replacing it", r->ns, r->name);
        delete_pod(ps, false, rns, r->remote_uid);
        return;
    }
    if (remote && !ours) {
        if (!r->failed_logged) {
            LQ_WARN("pods", "pod %s/%s: a pod of that name exists in %s and is not ours; "
                    "left alone", r->ns, r->name, rns);
            EMIT(p, r, true, "FailedReflection", "Error reflecting object to cluster %s: "
                 "remote object already exists", p->cfg.foreign_name);
        }
        r->failed_logged = true;
        finish(ps, true);
        return;
    }
    if (!remote) {
        bool again = true;
        if (r->remote_seen && lq_forge_pod_recreate_allowed(home, &again) == LQ_OK && !again) {
            finish(ps, false); /* finished: never re-created */
            return;
        }
        if (r->remote_seen)
            LQ_INFO("pods", "pod %s/%s: the remote pod is gone; re-creating it", r->ns, r->name);
        create_remote(ps, home, rns);
        return;
    }
    if (remote_deleting) {
        finish(ps, false);
        return;
    }
    r->remote_seen = true;
    r->failed_logged = false;
    sync_status(ps, home, remote);
}

static void store_remote_uid(lq_pod_pass_t *ps)
{
    (void)lq_scan_uid_rv(ps->remote, ps->remote_len, ps->rec->remote_uid,
                         sizeof ps->rec->remote_uid, NULL, 0);
}

static void on_req(lq_kreq_t *q, lq_err_t err, void *ctx)
{
    lq_pod_pass_t *ps = ctx;
    lq_pods_t *p = ps->p;
    lq_pod_rec_t *r = ps->rec;
    const char *rns = lq_offload_remote_ns(p->offload_, r->ns, strlen(r->ns));
    switch (ps->step) {
    case ST_GET_HOME:
        if (err == LQ_ENOTFOUND) {
            r->home_exists = false;
            ps->home_len = 0;
        } else if (err != LQ_OK) {
            failed(ps, err == LQ_ETOOBIG ? "the home pod is larger than the pod buffer"
                                        : "GET the home pod", err);
            return;
        } else {
            char uid[LQ_FORGE_POD_UID_BUF];
            ps->home_len = q->resp_len;
            (void)lq_scan_uid_rv(ps->home, ps->home_len, uid, sizeof uid, NULL, 0);
            if (strcmp(uid, r->home_uid) != 0) {
                memcpy(r->home_uid, uid, sizeof r->home_uid); /* a new incarnation */
                memset(&r->restarts, 0, sizeof r->restarts);
                r->remote_seen = false;
            }
        }
        /* The foreign watch says whether a remote pod exists; without one there is
         * nothing to read (a create that races with one gets 409 and reads it then). */
        if (rns && (r->remote_exists || r->remote_seen || !ps->home_len)) {
            get_pod(ps, false, rns);
            return;
        }
        actions(ps);
        return;
    case ST_GET_REMOTE:
        if (err == LQ_ENOTFOUND) {
            r->remote_exists = false;
        } else if (err != LQ_OK) {
            failed(ps, "GET the remote pod", err);
            return;
        } else {
            ps->have_remote = true;
            ps->remote_len = q->resp_len;
            r->remote_exists = true;
            store_remote_uid(ps);
        }
        actions(ps);
        return;
    case ST_CREATE:
        if (err == LQ_OK) {
            p->stats.creates++;
            lq_offload_count(p->offload_, r->ns, true);
            ps->have_remote = true;
            ps->remote_len = q->resp_len;
            r->remote_exists = true;
            store_remote_uid(ps);
            LQ_DEBUG("pods", "pod %s/%s: remote pod created in %s", r->ns, r->name, rns ? rns : "?");
            r->failed_logged = false;
            EMIT(p, r, false, "SuccessfulReflection", "Successfully reflected object to cluster %s",
                 p->cfg.foreign_name);
            actions(ps);
        } else if (err == LQ_ECONFLICT && rns) {
            get_pod(ps, false, rns); /* AlreadyExists: whose is it? */
        } else {
            failed(ps, "create the remote pod", err);
        }
        return;
    case ST_DEL_REMOTE:
        if (err != LQ_OK && err != LQ_ENOTFOUND) {
            failed(ps, "delete the remote pod", err);
            return;
        }
        p->stats.remote_deletes++;
        if (err == LQ_ENOTFOUND) {
            r->remote_exists = false;
            ps->have_remote = false;
            actions(ps);
            return;
        }
        finish(ps, false); /* its DELETED event brings the record back */
        return;
    case ST_DEL_HOME:
        if (err != LQ_OK && err != LQ_ENOTFOUND && err != LQ_ECONFLICT) {
            failed(ps, "delete the home pod", err);
            return;
        }
        p->stats.home_deletes++;
        finish(ps, false);
        return;
    case ST_STATUS:
    case ST_LABEL:
    case ST_FALLBACK:
        if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT) {
            r->dirty = true; /* gone or changed in between: a new pass reads it again */
            finish(ps, false);
            return;
        }
        if (err != LQ_OK) {
            failed(ps, ps->step == ST_LABEL ? "label the home pod" : "patch the home pod status", err);
            return;
        }
        lq_offload_count(p->offload_, r->ns, true);
        if (ps->step == ST_STATUS)
            p->stats.status_patches++;
        else if (ps->step == ST_LABEL)
            p->stats.label_patches++;
        else
            p->stats.fallbacks++;
        ps->home_len = q->resp_len; /* the patched pod: its version is our echo */
        (void)lq_scan_uid_rv(ps->home, ps->home_len, NULL, 0, r->own_rv, sizeof r->own_rv);
        if (ps->step == ST_FALLBACK) {
            finish(ps, false);
            return;
        }
        actions(ps);
        return;
    default:
        return;
    }
}

static void pass_start(lq_pod_pass_t *ps, lq_pod_rec_t *r)
{
    lq_pods_t *p = ps->p;
    ps->rec = r;
    r->busy = true;
    p->stats.passes++;
    r->dirty = false;
    r->retry_at = 0;
    ps->home_len = 0;
    ps->remote_len = 0;
    ps->have_remote = false;
    lq_kreq_init(&ps->req, ps->home, LQ_POD_BUF, on_req, ps);
    get_pod(ps, true, r->ns);
}

/* Starts passes while a pass slot is free and a record is due (round robin). */
static void kick(lq_pods_t *p)
{
    if (!p->started)
        return;
    for (size_t s = 0; s < LQ_POD_PASSES; s++) {
        lq_pod_pass_t *ps = &p->passes_[s];
        if (ps->rec)
            continue;
        lq_pod_rec_t *found = NULL;
        for (size_t k = 0; k < LQ_MAX_PODS && !found; k++) {
            size_t i = (p->next_ + k) % LQ_MAX_PODS;
            lq_pod_rec_t *r = &p->recs[i];
            if (r->used && r->dirty && !r->busy) {
                p->next_ = (i + 1) % LQ_MAX_PODS;
                found = r;
            }
        }
        if (!found)
            return;
        pass_start(ps, found);
    }
}

static void relist(lq_pods_t *p)
{
    lq_watch_stop(&p->hwatch_);
    lq_watch_stop(&p->fwatch_);
    (void)lq_watch_start(&p->hwatch_);
    (void)lq_watch_start(&p->fwatch_);
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)t;
    lq_pods_t *p = ctx;
    if (!p->started) {
        if (p->home_synced && p->foreign_synced && lq_offload_settled(p->offload_)) {
            /* The namespace mapping is known now: list the foreign pods again so each
             * maps to its home pod, then start passes. */
            p->started = true;
            LQ_INFO("pods", "pod reflection starts (%u pods on the node)", (unsigned)p->stats.records);
            lq_watch_stop(&p->fwatch_);
            (void)lq_watch_start(&p->fwatch_);
        } else {
            lq_loop_timer_start(loop, &p->timer_, SETTLE_POLL_MS);
            return;
        }
    }
    if (p->overflow_ && p->stats.records < p->cfg.max_pods) {
        p->overflow_ = false;
        LQ_INFO("pods", "a pod record freed; relisting to pick up what the full table missed");
        relist(p);
    }
    int64_t now = lq_port_mono_ms(), next = 0;
    for (size_t i = 0; i < LQ_MAX_PODS; i++) {
        lq_pod_rec_t *r = &p->recs[i];
        if (!r->used || r->retry_at == 0)
            continue;
        if (r->retry_at <= now) {
            r->retry_at = 0;
            r->dirty = true;
        } else if (next == 0 || r->retry_at < next) {
            next = r->retry_at;
        }
    }
    if (next != 0)
        lq_loop_timer_start(loop, &p->timer_, next - now);
    kick(p);
}

/* --- watches ----------------------------------------------------------------------- */

static bool meta_ok(const lq_scan_meta_t *m)
{
    return m->ns.found && m->name.found && !m->ns.escaped && !m->name.escaped;
}

static lq_err_t on_home(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_pods_t *p = ctx;
    const lq_scan_meta_t *m = &ev->meta;
    if (!meta_ok(m))
        return LQ_OK;
    lq_pod_rec_t *r = ev->type == LQ_WATCH_DELETED
                          ? rec_find(p, m->ns.p, m->ns.len, m->name.p, m->name.len)
                          : rec_get(p, m->ns.p, m->ns.len, m->name.p, m->name.len);
    if (!r && p->cfg.events && ev->type != LQ_WATCH_DELETED && ev->type != LQ_WATCH_MODIFIED &&
        m->ns.len < LQ_FORGE_OFFLOAD_NAME_BUF && m->name.len < LQ_POD_NAME_BUF) {
        char ns[LQ_FORGE_OFFLOAD_NAME_BUF], name[LQ_POD_NAME_BUF], uid[LQ_FORGE_POD_UID_BUF] = "";
        (void)lq_scan_copy(&m->ns, ns, sizeof ns);
        (void)lq_scan_copy(&m->name, name, sizeof name);
        (void)lq_scan_copy(&m->uid, uid, sizeof uid);
        lq_events_emit(p->cfg.events, ns, name, uid, true, "FailedReflection",
                       "The agent's pod table is full (%zu pods, node.maxPods); this pod is "
                       "reflected when another one ends", p->cfg.max_pods);
    }
    if (!r)
        return LQ_OK;
    bool was = r->home_exists;
    r->home_exists = ev->type != LQ_WATCH_DELETED;
    r->home_mark_ = true;
    if (was && r->home_exists && lq_scan_str_eq(&m->rv, r->own_rv, strlen(r->own_rv)))
        return LQ_OK; /* the echo of our own write */
    rec_dirty(p, r);
    return LQ_OK;
}

static lq_err_t on_foreign(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_pods_t *p = ctx;
    const lq_scan_meta_t *m = &ev->meta;
    if (!meta_ok(m))
        return LQ_OK;
    const char *hns = lq_offload_home_ns(p->offload_, m->ns.p, m->ns.len);
    if (!hns)
        return LQ_OK; /* not (or no longer) an offloaded namespace of ours */
    size_t hl = strlen(hns);
    lq_pod_rec_t *r = ev->type == LQ_WATCH_DELETED ? rec_find(p, hns, hl, m->name.p, m->name.len)
                                                  : rec_get(p, hns, hl, m->name.p, m->name.len);
    if (!r)
        return LQ_OK;
    if (ev->type == LQ_WATCH_DELETED) {
        if (m->uid.found && !str_eq(r->remote_uid, m->uid.p, m->uid.len) && r->remote_uid[0])
            return LQ_OK; /* an older remote pod */
        r->remote_exists = false;
    } else {
        r->remote_exists = true;
        r->remote_mark_ = true;
        if (m->uid.found && m->uid.len < sizeof r->remote_uid && !m->uid.escaped) {
            memcpy(r->remote_uid, m->uid.p, m->uid.len);
            r->remote_uid[m->uid.len] = '\0';
        }
    }
    rec_dirty(p, r);
    return LQ_OK;
}

/* Relist marks, for either watch (told apart by w): a record that a full (re)list did not
 * show again lost that side's pod while the watch was down, and a pass finds out. */
static void on_relist(lq_watch_t *w, void *ctx)
{
    lq_pods_t *p = ctx;
    bool home = w == &p->hwatch_;
    for (size_t i = 0; i < LQ_MAX_PODS; i++)
        *(home ? &p->recs[i].home_mark_ : &p->recs[i].remote_mark_) = false;
}

static void on_synced(lq_watch_t *w, void *ctx)
{
    lq_pods_t *p = ctx;
    bool home = w == &p->hwatch_;
    for (size_t i = 0; i < LQ_MAX_PODS; i++) {
        lq_pod_rec_t *r = &p->recs[i];
        bool *exists = home ? &r->home_exists : &r->remote_exists;
        if (r->used && *exists && !(home ? r->home_mark_ : r->remote_mark_)) {
            *exists = false;
            r->dirty = true;
        }
    }
    *(home ? &p->home_synced : &p->foreign_synced) = true;
    kick(p);
}

bool lq_pods_lookup(void *ctx, const char *remote_ns, size_t rl, const char *name, size_t nl,
                    const char *remote_uid, size_t ul, char *ns, size_t ns_cap, char *uid,
                    size_t uid_cap)
{
    lq_pods_t *p = ctx;
    const char *hns = lq_offload_home_ns(p->offload_, remote_ns, rl);
    if (!hns)
        return false;
    const lq_pod_rec_t *r = rec_find(p, hns, strlen(hns), name, nl);
    /* Ours only by the remote uid the record holds (Decision 17), never by name alone. */
    if (!r || !r->home_exists || ul == 0 || !str_eq(r->remote_uid, remote_uid, ul))
        return false;
    (void)snprintf(ns, ns_cap, "%s", r->ns);
    (void)snprintf(uid, uid_cap, "%s", r->home_uid);
    return true;
}

void lq_pods_namespace_changed(const char *ns, void *ctx)
{
    lq_pods_t *p = ctx;
    for (size_t i = 0; i < LQ_MAX_PODS; i++)
        if (p->recs[i].used && strcmp(p->recs[i].ns, ns) == 0)
            p->recs[i].dirty = true;
    kick(p);
}

/* --- set-up ------------------------------------------------------------------------- */

lq_err_t lq_pods_init(lq_pods_t *p, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                      lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req,
                      lq_offload_t *offload, const lq_pods_cfg_t *cfg)
{
    memset(p, 0, offsetof(lq_pods_t, hbuf_));
    if (!cfg->home_id || !cfg->home_id[0] || !cfg->foreign_id || !cfg->foreign_id[0] ||
        !cfg->node_name || !cfg->node_name[0] || !cfg->node_ip)
        return LQ_EINVAL;
    p->cfg = *cfg;
    if (p->cfg.max_pods == 0 || p->cfg.max_pods > LQ_MAX_PODS)
        p->cfg.max_pods = LQ_MAX_PODS;
    p->loop_ = loop;
    p->offload_ = offload;
    p->home_req_ = home_req;
    p->foreign_req_ = foreign_req;
    int n = snprintf(p->home_sel_, sizeof p->home_sel_, "spec.nodeName=%s", cfg->node_name);
    int m = snprintf(p->foreign_sel_, sizeof p->foreign_sel_, "%s=%s,%s=%s",
                     LQ_LIQO_LABEL_ORIGIN, cfg->home_id, LQ_LIQO_LABEL_DESTINATION,
                     cfg->foreign_id);
    if (n < 0 || (size_t)n >= sizeof p->home_sel_ || m < 0 || (size_t)m >= sizeof p->foreign_sel_)
        return LQ_ETOOBIG;
    for (size_t s = 0; s < LQ_POD_PASSES; s++) {
        lq_pod_pass_t *ps = &p->passes_[s];
        memset(ps, 0, offsetof(lq_pod_pass_t, body));
        ps->p = p;
        lq_json_doc_init(&ps->doc, ps->arena, sizeof ps->arena);
    }
    lq_loop_timer_init(&p->timer_, on_timer, p);
    lq_conn_init(&p->hconn_, loop, &home->target);
    lq_conn_init(&p->fconn_, loop, &foreign->target);
    lq_watch_cfg_t hw = { .path = "/api/v1/pods", .field_selector = p->home_sel_, .watch_list = true,
                          .bearer = home->kcfg.token_len ? home->kcfg.token : NULL };
    lq_watch_handler_t hh = { on_home, on_relist, on_synced, p, NULL };
    lq_watch_init(&p->hwatch_, loop, &p->hconn_, p->hbuf_, sizeof p->hbuf_, &hw, &hh);
    lq_watch_cfg_t fw = { .path = "/api/v1/pods", .label_selector = p->foreign_sel_,
                          .watch_list = true,
                          .bearer = foreign->kcfg.token_len ? foreign->kcfg.token : NULL };
    lq_watch_handler_t fh = { on_foreign, on_relist, on_synced, p, NULL };
    lq_watch_init(&p->fwatch_, loop, &p->fconn_, p->fbuf_, sizeof p->fbuf_, &fw, &fh);
    return LQ_OK;
}

lq_err_t lq_pods_start(lq_pods_t *p)
{
    lq_loop_timer_start(p->loop_, &p->timer_, SETTLE_POLL_MS);
    lq_err_t e = lq_watch_start(&p->hwatch_);
    if (e == LQ_OK)
        e = lq_watch_start(&p->fwatch_);
    return e;
}
