/* liqolet: pod offloading (Liqo v0.8 §1.3, §2, §3.6; DESIGN.md Decisions 3, 4, 5).
 *
 * Inputs (one cluster-wide watch per side, Decision 3):
 *   home:    pods with spec.nodeName=<virtual node>;
 *   foreign: pods with the ownership labels origin=<home id>, destination=<foreign id> of the
 *            configured family (virtualkubelet.liqo.io/ for compat v0.8, offloading.liqo.io/
 *            for v1; include/liqolet/liqo.h),
 *            mapped back to home through the offloaded namespaces (same pod name).
 * Each home pod has a record in a fixed table of LQ_MAX_PODS (node.maxPods in use), run
 * by the reflector engine (src/reflect/refl.c) on its shared workers, once both watches
 * have listed and namespace offloading has settled at start-up (so a restart adopts
 * what exists instead of falling back or duplicating). A foreign event only marks the
 * record of an existing home pod; the remote pod a record owns is the one it created,
 * or one it read and found to carry our labels and this home pod's UID (adoption), and
 * every delete carries that UID (DESIGN.md Decision 17).
 *
 * A pass is level-based (Decision 4): GET the home pod, GET the remote pod (when one is
 * known), then the first action still needed:
 *   home pod gone              -> delete the remote pod (uid precondition), free the record
 *   home pod terminating       -> delete the remote pod; once it is gone, delete the home
 *                                 pod with grace 0 (uid precondition)  (§1.3)
 *   namespace not offloaded    -> §3.6 fallback: Pending/OffloadingBackOff,
 *   (as the home side says)       Failed/OffloadingAborted, or delete when terminating
 *   remote namespace not usable -> wait (being created or re-created): never a fallback
 *   no remote pod              -> create it (409: adopt if ours, replace if it is one we
 *                                 created for an earlier pod of that name, report if
 *                                 someone else's); a remote pod that vanished is
 *                                 re-created unless the pod had finished (§1.3)
 *   aborted (Failed/OffloadingAborted) -> never offloaded again; a remote pod of ours
 *                                 that is left is deleted (§1.3)
 *   remote pod of ours         -> home status by merge patch on /status when it differs
 *                                 (hostIP = node IP, pod IPs as they are or blank,
 *                                 restart counts + re-creations), then liqo.io/shadowPod
 *                                 (and liqo.io/remote-unavailable removed), then the
 *                                 remote pod's labels and annotations brought in line with
 *                                 the home pod's (removals of keys we wrote included)
 * While the foreign cluster is unreachable (lq_pods_foreign_available) a pass reads only
 * the home pod: a pod that runs remotely gets liqo.io/remote-unavailable=true and Ready
 * False (Liqo 0.9.4+); deletions and everything else wait for the cluster to answer.
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
#define HOME LQ_RTAB_HOME
#define FOREIGN LQ_RTAB_FOREIGN

enum {
    ST_START = 0,
    ST_GET_HOME,
    ST_GET_REMOTE,
    ST_CREATE,
    ST_DEL_REMOTE,
    ST_DEL_HOME,
    ST_STATUS,
    ST_LABEL,
    ST_FALLBACK,
    ST_META,
};

#define F_HAVE_REMOTE 1u /* obj[FOREIGN] holds the remote pod */

#define REC(w) ((lq_pod_rec_t *)(void *)(w)->rec)
#define MOD(w) ((lq_pods_t *)(w)->k->ctx)

static void actions(lq_refl_work_t *w);

/* An Event on the record's home pod (Liqo's reasons), when events are wired. */
#define EMIT(p, r, warn, reason, ...)                                                    \
    do {                                                                                 \
        if ((p)->cfg.events)                                                             \
            lq_events_emit((p)->cfg.events, (r)->h.ns, (r)->h.name, (r)->home_uid, (warn), \
                           (reason), __VA_ARGS__);                                       \
    } while (0)

static lq_pod_rec_t *rec_at(const lq_pods_t *p, size_t i)
{
    return (lq_pod_rec_t *)(void *)lq_rtab_at(&p->kind.tab, i);
}

static bool remote_of(const lq_pod_rec_t *r)
{
    return lq_rtab_present(&r->h, FOREIGN);
}

/* --- the pass ---------------------------------------------------------------------- */

static void count(lq_refl_work_t *w, bool ok)
{
    lq_offload_count(MOD(w)->offload_, w->rec->ns, LQ_MGMT_KIND_POD, ok);
}

static void failed(lq_refl_work_t *w, const char *what, lq_err_t err)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    count(w, false);
    LQ_WARN("pods", "pod %s/%s: %s: %s (%s); retrying", r->h.ns, r->h.name, what, lq_err_str(err),
            w->req.message);
    if (!r->failed_logged)
        EMIT(p, r, true, w->step == ST_DEL_REMOTE ? "FailedDeletion" : "FailedReflection",
             "Error reflecting object to cluster %s: %s: %s", p->cfg.foreign_name, what,
             w->req.message[0] ? w->req.message : lq_err_str(err));
    r->failed_logged = true;
    lq_refl_finish(w, LQ_RTAB_RETRY, 0);
}

static bool pod_path(char *path, size_t cap, const char *ns, const char *name, const char *sub)
{
    return lq_kapi_path(path, cap, "v1", ns, "pods", name, sub) == LQ_OK;
}

/* GET of the home (into obj[HOME]) or remote (into obj[FOREIGN]) pod. */
static void get_pod(lq_refl_work_t *w, unsigned side, const char *ns)
{
    char path[LQ_KREQ_PATH_MAX];
    if (!pod_path(path, sizeof path, ns, w->rec->name, NULL)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, side, side == HOME ? ST_GET_HOME : ST_GET_REMOTE,
                 lq_kreq_get(lq_refl_req(w, (int)side), path));
}

/* Deletes a pod with its UID as the precondition (only the object the record owns). */
static void delete_pod(lq_refl_work_t *w, unsigned side, const char *ns, const char *uid)
{
    char path[LQ_KREQ_PATH_MAX];
    if (!uid[0] || !pod_path(path, sizeof path, ns, w->rec->name, NULL)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, side, side == HOME ? ST_DEL_HOME : ST_DEL_REMOTE,
                 lq_kreq_delete_grace(lq_refl_req(w, -1), path, uid, NULL, side == HOME ? 0 : -1));
}

/* Merge patch of a pod (sub: "status" or NULL), answer into obj[side]: the home pod
 * (status or metadata) or the remote pod's metadata (its uid inside the patch). */
static void patch_pod(lq_refl_work_t *w, unsigned side, const char *ns, const char *sub,
                      const lq_json_t *patch, int step)
{
    char path[LQ_KREQ_PATH_MAX];
    size_t len = 0;
    if (!lq_refl_render(w, patch, &len) || !pod_path(path, sizeof path, ns, w->rec->name, sub)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, side, step, lq_kreq_merge_patch(lq_refl_req(w, (int)side), path, w->body, len));
}

static void patch_home(lq_refl_work_t *w, const lq_json_t *patch, bool status, int step)
{
    patch_pod(w, HOME, w->rec->ns, status ? "status" : NULL, patch, step);
}

/* The foreign cluster is unreachable: mark a pod that runs remotely (label, Ready False);
 * everything else waits until it answers (lq_pods_foreign_available re-queues them all). */
static void unavailable(lq_refl_work_t *w, const lq_json_t *home)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    if (!home || lq_json_deleting(home)) {
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    char msg[160];
    (void)snprintf(msg, sizeof msg, "cluster %s, where this pod runs, cannot be reached",
                   p->cfg.foreign_name);
    lq_json_t *meta = NULL, *status = NULL;
    lq_err_t e = LQ_EINVAL;
    if (lq_forge_time_format(lq_port_wall_ms(), false, p->now_, sizeof p->now_) == LQ_OK)
        e = lq_forge_pod_unavailable_patch(&w->doc, home, p->now_, msg, &meta, &status);
    if (e != LQ_OK) {
        failed(w, "mark the pod unavailable", e);
        return;
    }
    if (meta) {
        LQ_INFO("pods", "pod %s/%s: cluster %s is unreachable: labelled %s, not ready", r->h.ns,
                r->h.name, p->cfg.foreign_name, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE);
        p->stats.unavailable_marks++;
        patch_home(w, meta, false, ST_LABEL);
        return;
    }
    if (status) {
        patch_home(w, status, true, ST_STATUS);
        return;
    }
    lq_refl_finish(w, LQ_RTAB_DONE, 0);
}

static void create_remote(lq_refl_work_t *w, const lq_json_t *home, const char *rns)
{
    lq_pods_t *p = MOD(w);
    lq_forge_pod_remote_params_t prm = { rns, p->cfg.home_id, p->cfg.foreign_id,
                                         p->root_ca_[0] ? p->root_ca_ : NULL,
                                         p->cfg.node_name };
    lq_json_t *pod = NULL;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    lq_err_t e = lq_forge_pod_remote(&w->doc, home, &prm, &pod);
    if (e != LQ_OK) {
        LQ_WARN("pods", "pod %s/%s cannot be reflected: %s", w->rec->ns, w->rec->name,
                e == LQ_EPROTO ? "the home pod has an unexpected shape" : lq_err_str(e));
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    if (!lq_refl_render(w, pod, &len) || !pod_path(path, sizeof path, rns, NULL, NULL)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, FOREIGN, ST_CREATE, lq_kreq_create(lq_refl_req(w, FOREIGN), path, w->body, len));
}

/* The remote pod is ours: status, then the shadowPod label. */
static void sync_status(lq_refl_work_t *w, const lq_json_t *home, const lq_json_t *remote,
                        const char *rns)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    bool changed = false;
    if (lq_forge_pod_restarts_track(&r->restarts, home, remote, &changed) == LQ_OK && changed &&
        r->restarts.offset > 0)
        LQ_INFO("pods", "pod %s/%s: the remote pod was re-created (restarts +%d)", r->h.ns,
                r->h.name, (int)r->restarts.offset);
    lq_forge_pod_status_params_t sp = { p->cfg.node_ip, p->cfg.reflect_ips, r->restarts.offset };
    lq_json_t *patch = NULL;
    lq_err_t e = lq_forge_pod_status_patch(&w->doc, home, remote, &sp, &patch);
    if (e != LQ_OK) {
        LQ_WARN("pods", "pod %s/%s: cannot build the status (%s)", r->h.ns, r->h.name, lq_err_str(e));
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    if (patch && !lq_forge_pod_patch_noop(home, patch)) {
        patch_home(w, patch, true, ST_STATUS);
        return;
    }
    if (lq_forge_pod_home_label_patch(&w->doc, home, &patch) == LQ_OK && patch) {
        patch_home(w, patch, false, ST_LABEL);
        return;
    }
    lq_forge_pod_remote_params_t prm = { rns, p->cfg.home_id, p->cfg.foreign_id,
                                         p->root_ca_[0] ? p->root_ca_ : NULL,
                                         p->cfg.node_name };
    e = lq_forge_pod_remote_meta_patch(&w->doc, home, remote, &prm, &patch);
    if (e != LQ_OK) {
        LQ_WARN("pods", "pod %s/%s: cannot compare the remote pod's labels and annotations "
                "(%s)", r->h.ns, r->h.name, lq_err_str(e));
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (patch) {
        patch_pod(w, FOREIGN, rns, NULL, patch, ST_META);
        return;
    }
    lq_refl_finish(w, LQ_RTAB_DONE, 0);
}

static void fallback(lq_refl_work_t *w, const lq_json_t *home)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    lq_forge_offload_fallback_t act = LQ_FORGE_OFFLOAD_FALLBACK_LEAVE;
    lq_json_t *patch = NULL;
    if (lq_forge_time_format(lq_port_wall_ms(), false, p->now_, sizeof p->now_) != LQ_OK ||
        lq_forge_offload_fallback(&w->doc, home, p->now_, &act, &patch) != LQ_OK) {
        failed(w, "fallback", LQ_EPROTO);
        return;
    }
    if (act == LQ_FORGE_OFFLOAD_FALLBACK_DELETE) {
        delete_pod(w, HOME, r->h.ns, r->home_uid);
    } else if (patch) {
        LQ_INFO("pods", "pod %s/%s: namespace %s is not offloaded: %s", r->h.ns, r->h.name, r->h.ns,
                act == LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF ? LQ_FORGE_OFFLOAD_REASON_BACKOFF
                                                         : LQ_FORGE_OFFLOAD_REASON_ABORTED);
        EMIT(p, r, true, LQ_FORGE_OFFLOAD_EVENT_REASON, "Reflection to cluster %s disabled for "
             "namespace %s", p->cfg.foreign_name, r->h.ns);
        patch_home(w, patch, true, ST_FALLBACK);
    } else {
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
    }
}

static void actions(lq_refl_work_t *w)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    lq_json_reset(&w->doc);
    lq_json_t *home = NULL, *remote = NULL;
    if (w->len[HOME] && lq_json_parse(&w->doc, w->obj[HOME], w->len[HOME], &home) != LQ_OK) {
        failed(w, "parse the home pod", LQ_EPROTO);
        return;
    }
    if ((w->flags & F_HAVE_REMOTE) &&
        lq_json_parse(&w->doc, w->obj[FOREIGN], w->len[FOREIGN], &remote) != LQ_OK) {
        failed(w, "parse the remote pod", LQ_EPROTO);
        return;
    }
    if (p->foreign_down) {
        unavailable(w, home);
        return;
    }
    const char *rns = NULL;
    lq_offload_use_t use = lq_offload_ns(p->offload_, r->h.ns, strlen(r->h.ns), &rns);
    if (!rns)
        remote = NULL; /* the remote namespace is not usable: its pods are not reachable */
    /* Ownership: our labels and this home pod's UID (the home side is the truth); a pod
     * we created for an earlier home pod of this name (STALE) is ours to replace only
     * when its UID is the one we recorded. */
    lq_forge_pod_owner_t own = remote ? lq_forge_pod_owner(remote, p->cfg.home_id, p->cfg.foreign_id,
                                                           r->home_uid[0] ? r->home_uid : NULL)
                                      : LQ_FORGE_POD_NOT_OURS;
    char ruid[LQ_FORGE_POD_UID_BUF] = "";
    if (remote)
        (void)lq_json_str_copy(LQ_JSON_AT(remote, "metadata", "uid"), ruid, sizeof ruid);
    bool recorded = r->remote_uid[0] && strcmp(ruid, r->remote_uid) == 0;
    bool ours = own == LQ_FORGE_POD_OURS || (own == LQ_FORGE_POD_STALE && recorded);
    if (ours && !recorded && ruid[0]) {
        LQ_DEBUG("pods", "pod %s/%s: remote pod %s is ours (adopted)", r->h.ns, r->h.name, ruid);
        memcpy(r->remote_uid, ruid, sizeof r->remote_uid);
        p->stats.adopts++;
    }
    bool remote_deleting = remote && lq_json_deleting(remote);

    if (!home) { /* gone at home: the remote pod goes too */
        if (remote && ours && !remote_deleting) {
            delete_pod(w, FOREIGN, rns, r->remote_uid);
            return;
        }
        if (!remote || !ours) {
            LQ_DEBUG("pods", "pod %s/%s: gone; record freed", r->h.ns, r->h.name);
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        lq_refl_finish(w, LQ_RTAB_DONE, 0); /* wait for the remote deletion */
        return;
    }
    if (lq_json_deleting(home)) {
        if (remote && ours && !remote_deleting) {
            delete_pod(w, FOREIGN, rns, r->remote_uid);
            return;
        }
        if (remote && ours) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0); /* terminating; its DELETED event returns */
            return;
        }
        if (use == LQ_OFFLOAD_WAITING && remote_of(r)) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0); /* the remote side is out of reach for now */
            return;
        }
        delete_pod(w, HOME, r->h.ns, r->home_uid);
        return;
    }
    if (lq_forge_pod_aborted(home)) { /* never offloaded again (§1.3) */
        if (remote && ours && !remote_deleting) {
            LQ_INFO("pods", "pod %s/%s: its offloading was aborted; deleting the remote pod "
                    "that is left", r->h.ns, r->h.name);
            p->stats.aborted++;
            delete_pod(w, FOREIGN, rns, r->remote_uid);
            return;
        }
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (use == LQ_OFFLOAD_NOT_OFFLOADED) {
        fallback(w, home);
        return;
    }
    if (use == LQ_OFFLOAD_WAITING) {
        /* Being created or re-created: not a reason to fail the pod. The offloading
         * module re-queues the namespace's pods once it is usable. */
        LQ_DEBUG("pods", "pod %s/%s: the remote namespace is not usable yet; waiting", r->h.ns,
                 r->h.name);
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (remote && own == LQ_FORGE_POD_STALE && recorded) {
        LQ_INFO("pods", "pod %s/%s: the remote pod belongs to an earlier pod of this name; "
                "replacing it", r->h.ns, r->h.name);
        delete_pod(w, FOREIGN, rns, r->remote_uid);
        return;
    }
    if (remote && !ours) {
        p->stats.not_ours++;
        if (!r->failed_logged) {
            LQ_WARN("pods", "pod %s/%s: a pod of that name exists in %s and is not ours; "
                    "left alone", r->h.ns, r->h.name, rns);
            EMIT(p, r, true, "FailedReflection", "Error reflecting object to cluster %s: "
                 "remote object already exists", p->cfg.foreign_name);
        }
        r->failed_logged = true;
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    if (!remote) {
        bool again = true;
        if (r->remote_seen && lq_forge_pod_recreate_allowed(home, &again) == LQ_OK && !again) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0); /* finished: never re-created */
            return;
        }
        if (r->remote_seen)
            LQ_INFO("pods", "pod %s/%s: the remote pod is gone; re-creating it", r->h.ns, r->h.name);
        create_remote(w, home, rns);
        return;
    }
    if (remote_deleting) {
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    r->remote_seen = true;
    r->failed_logged = false;
    sync_status(w, home, remote, rns);
}

static void step(lq_refl_work_t *w, lq_err_t err)
{
    lq_pods_t *p = MOD(w);
    lq_pod_rec_t *r = REC(w);
    const char *rns = lq_offload_remote_ns(p->offload_, r->h.ns, strlen(r->h.ns));
    switch (w->step) {
    case ST_START:
        get_pod(w, HOME, r->h.ns);
        return;
    case ST_GET_HOME:
        if (err == LQ_ENOTFOUND) {
            lq_rtab_set_present(&r->h, HOME, false);
            w->len[HOME] = 0;
        } else if (err != LQ_OK) {
            failed(w, err == LQ_ETOOBIG ? "the home pod is larger than the pod buffer"
                                        : "GET the home pod", err);
            return;
        } else {
            char uid[LQ_FORGE_POD_UID_BUF];
            w->len[HOME] = w->req.resp_len;
            (void)lq_scan_uid_rv(w->obj[HOME], w->len[HOME], uid, sizeof uid, NULL, 0);
            if (strcmp(uid, r->home_uid) != 0) {
                memcpy(r->home_uid, uid, sizeof r->home_uid); /* a new incarnation */
                memset(&r->restarts, 0, sizeof r->restarts);
                r->remote_seen = false;
            }
        }
        /* The foreign watch says whether a remote pod exists; without one there is
         * nothing to read (a create that races with one gets 409 and reads it then). */
        if (rns && !p->foreign_down && (remote_of(r) || r->remote_seen || !w->len[HOME])) {
            get_pod(w, FOREIGN, rns);
            return;
        }
        actions(w);
        return;
    case ST_GET_REMOTE:
        if (err == LQ_ENOTFOUND) {
            lq_rtab_set_present(&r->h, FOREIGN, false);
        } else if (err != LQ_OK) {
            failed(w, "GET the remote pod", err);
            return;
        } else {
            w->flags |= F_HAVE_REMOTE;
            w->len[FOREIGN] = w->req.resp_len;
            lq_rtab_mark(&r->h, FOREIGN);
        }
        actions(w);
        return;
    case ST_CREATE:
        if (err == LQ_OK) {
            p->stats.creates++;
            count(w, true);
            w->flags |= F_HAVE_REMOTE;
            w->len[FOREIGN] = w->req.resp_len;
            lq_rtab_mark(&r->h, FOREIGN);
            (void)lq_scan_uid_rv(w->obj[FOREIGN], w->len[FOREIGN], r->remote_uid,
                                 sizeof r->remote_uid, NULL, 0);
            LQ_DEBUG("pods", "pod %s/%s: remote pod created in %s", r->h.ns, r->h.name,
                     rns ? rns : "?");
            r->failed_logged = false;
            EMIT(p, r, false, "SuccessfulReflection", "Successfully reflected object to cluster %s",
                 p->cfg.foreign_name);
            actions(w);
        } else if (err == LQ_ECONFLICT && rns) {
            get_pod(w, FOREIGN, rns); /* AlreadyExists: whose is it? */
        } else {
            failed(w, "create the remote pod", err);
        }
        return;
    case ST_DEL_REMOTE:
        if (err != LQ_OK && err != LQ_ENOTFOUND && err != LQ_ECONFLICT) {
            failed(w, "delete the remote pod", err);
            return;
        }
        p->stats.remote_deletes++;
        if (err != LQ_OK) { /* gone, or no longer the one we own */
            lq_rtab_set_present(&r->h, FOREIGN, false);
            w->flags &= ~F_HAVE_REMOTE;
            actions(w);
            return;
        }
        lq_refl_finish(w, LQ_RTAB_DONE, 0); /* its DELETED event brings the record back */
        return;
    case ST_DEL_HOME:
        if (err != LQ_OK && err != LQ_ENOTFOUND && err != LQ_ECONFLICT) {
            failed(w, "delete the home pod", err);
            return;
        }
        p->stats.home_deletes++;
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    case ST_STATUS:
    case ST_LABEL:
    case ST_FALLBACK:
        if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT) {
            r->h.dirty = true; /* gone or changed in between: a new pass reads it again */
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        if (err != LQ_OK) {
            failed(w, w->step == ST_LABEL ? "label the home pod" : "patch the home pod status", err);
            return;
        }
        count(w, true);
        if (w->step == ST_STATUS)
            p->stats.status_patches++;
        else if (w->step == ST_LABEL)
            p->stats.label_patches++;
        else
            p->stats.fallbacks++;
        w->len[HOME] = w->req.resp_len; /* the patched pod: its version is our echo */
        (void)lq_scan_uid_rv(w->obj[HOME], w->len[HOME], NULL, 0, r->h.own_rv, sizeof r->h.own_rv);
        if (w->step == ST_FALLBACK) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        actions(w);
        return;
    case ST_META:
        if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT) {
            r->h.dirty = true; /* replaced or changed in between: read it again */
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        if (err != LQ_OK) {
            failed(w, "update the remote pod's labels and annotations", err);
            return;
        }
        count(w, true);
        p->stats.meta_patches++;
        w->flags |= F_HAVE_REMOTE;
        w->len[FOREIGN] = w->req.resp_len; /* the patched remote pod */
        actions(w);
        return;
    default:
        return;
    }
}

/* --- watches (through the engine) -------------------------------------------------- */

static bool meta_ok(const lq_scan_meta_t *m)
{
    return m->ns.found && m->name.found && !m->ns.escaped && !m->name.escaped;
}

/* Home: the pod's own key. Foreign: the remote pod's namespace mapped back through the
 * remote namespaces this agent owns (same pod name). */
static bool key(lq_refl_kind_t *k, unsigned side, const lq_watch_event_t *ev, const char **ns,
                size_t *nl, const char **name, size_t *len)
{
    lq_pods_t *p = k->ctx;
    const lq_scan_meta_t *m = &ev->meta;
    if (!meta_ok(m))
        return false;
    *name = m->name.p;
    *len = m->name.len;
    if (side == HOME) {
        *ns = m->ns.p;
        *nl = m->ns.len;
        return true;
    }
    const char *hns = lq_offload_home_ns(p->offload_, m->ns.p, m->ns.len);
    if (!hns)
        return false; /* not (or no longer) an offloaded namespace of ours */
    *ns = hns;
    *nl = strlen(hns);
    return true;
}

static bool seen(lq_refl_kind_t *k, lq_rtab_hdr_t *h, unsigned side, const lq_watch_event_t *ev)
{
    (void)k;
    lq_pod_rec_t *r = (lq_pod_rec_t *)(void *)h;
    const lq_scan_meta_t *m = &ev->meta;
    if (side == HOME) {
        bool was = lq_rtab_present(h, HOME);
        if (ev->type == LQ_WATCH_DELETED) {
            lq_rtab_set_present(h, HOME, false);
            return true;
        }
        lq_rtab_mark(h, HOME);
        if (!r->home_uid[0])
            (void)lq_scan_copy(&m->uid, r->home_uid, sizeof r->home_uid);
        if (was && lq_scan_str_eq(&m->rv, h->own_rv, strlen(h->own_rv)))
            return false; /* the echo of our own write */
        return true;
    }
    /* Foreign: only the remote pod the record owns (or, before it owns one, any pod under
     * its name, which a pass reads and checks) counts; the event never re-points it. */
    if (r->remote_uid[0] && !lq_scan_str_eq(&m->uid, r->remote_uid, strlen(r->remote_uid)))
        return false;
    if (ev->type == LQ_WATCH_DELETED)
        lq_rtab_set_present(h, FOREIGN, false);
    else
        lq_rtab_mark(h, FOREIGN);
    return true;
}

static void full(lq_refl_kind_t *k, const lq_watch_event_t *ev)
{
    lq_pods_t *p = k->ctx;
    const lq_scan_meta_t *m = &ev->meta;
    if (k->tab.stats.table_full == 1 || !p->cfg.events)
        LQ_WARN("pods", "pod table full (%zu records, node.maxPods): pod %.*s/%.*s waits "
                "until one frees", p->cfg.max_pods, (int)m->ns.len, m->ns.p, (int)m->name.len,
                m->name.p);
    if (!p->cfg.events || ev->type == LQ_WATCH_MODIFIED || m->ns.len >= LQ_RTAB_NS_BUF ||
        m->name.len >= LQ_POD_NAME_BUF)
        return;
    char ns[LQ_RTAB_NS_BUF], name[LQ_POD_NAME_BUF], uid[LQ_FORGE_POD_UID_BUF] = "";
    (void)lq_scan_copy(&m->ns, ns, sizeof ns);
    (void)lq_scan_copy(&m->name, name, sizeof name);
    (void)lq_scan_copy(&m->uid, uid, sizeof uid);
    lq_events_emit(p->cfg.events, ns, name, uid, true, "FailedReflection",
                   "The agent's pod table is full (%zu pods, node.maxPods); this pod is "
                   "reflected when another one ends", p->cfg.max_pods);
}

/* Passes wait until namespace offloading has settled; then the foreign pods are listed
 * again, so each maps to its home pod through the remote namespaces now known. */
static bool ready(lq_refl_kind_t *k)
{
    lq_pods_t *p = k->ctx;
    if (p->started)
        return true;
    if (!lq_offload_settled(p->offload_))
        return false;
    p->started = true;
    LQ_INFO("pods", "pod reflection starts (%u pods on the node)", (unsigned)k->tab.stats.records);
    lq_refl_relist(k, FOREIGN);
    return false; /* the foreign relist comes first */
}

bool lq_pods_lookup(void *ctx, const char *remote_ns, size_t rl, const char *name, size_t nl,
                    const char *remote_uid, size_t ul, char *ns, size_t ns_cap, char *uid,
                    size_t uid_cap)
{
    lq_pods_t *p = ctx;
    const char *hns = lq_offload_home_ns(p->offload_, remote_ns, rl);
    if (!hns)
        return false;
    const lq_pod_rec_t *r =
        (const lq_pod_rec_t *)(const void *)lq_rtab_find(&p->kind.tab, hns, strlen(hns), name, nl);
    if (!r || !lq_rtab_present(&r->h, HOME) || !r->remote_uid[0] ||
        strlen(r->remote_uid) != ul || memcmp(r->remote_uid, remote_uid, ul) != 0)
        return false;
    (void)snprintf(ns, ns_cap, "%s", r->h.ns);
    (void)snprintf(uid, uid_cap, "%s", r->home_uid);
    return true;
}

bool lq_pods_remote(const char *ns, const char *pod, const char **rns, char *rpod, size_t cap,
                    void *ctx)
{
    lq_pods_t *p = ctx;
    const lq_pod_rec_t *r = (const lq_pod_rec_t *)(const void *)lq_rtab_find(
        &p->kind.tab, ns, strlen(ns), pod, strlen(pod));
    if (!r || !lq_rtab_present(&r->h, HOME) || !r->remote_uid[0])
        return false;
    const char *remote = lq_offload_remote_ns(p->offload_, ns, strlen(ns));
    int n = snprintf(rpod, cap, "%s", r->h.name); /* the remote pod keeps the home name */
    if (!remote || n < 0 || (size_t)n >= cap)
        return false;
    *rns = remote;
    return true;
}

void lq_pods_namespace_changed(const char *ns, void *ctx)
{
    lq_pods_t *p = ctx;
    for (size_t i = 0; i < lq_rtab_span(&p->kind.tab); i++) {
        lq_pod_rec_t *r = rec_at(p, i);
        if (r->h.used && strcmp(r->h.ns, ns) == 0)
            lq_rtab_dirty(&p->kind.tab, &r->h);
    }
    lq_refl_kick(p->kind.r);
}

void lq_pods_foreign_available(bool available, void *ctx)
{
    lq_pods_t *p = ctx;
    if (p->foreign_down == !available)
        return;
    p->foreign_down = !available;
    size_t n = 0;
    for (size_t i = 0; i < lq_rtab_span(&p->kind.tab); i++) {
        lq_pod_rec_t *r = rec_at(p, i);
        if (r->h.used) {
            lq_rtab_dirty(&p->kind.tab, &r->h);
            n++;
        }
    }
    LQ_INFO("pods", "cluster %s is %s: %zu pods passed again", p->cfg.foreign_name,
            available ? "reachable again" : "unreachable", n);
    lq_refl_kick(p->kind.r);
}

/* --- management ------------------------------------------------------------------------ */

static void snapshot(lq_refl_kind_t *k, lq_mgmt_snapshot_t *s)
{
    lq_pods_t *p = k->ctx;
    for (size_t i = 0; i < lq_rtab_span(&k->tab); i++) {
        const lq_pod_rec_t *r = rec_at(p, i);
        s->objects[LQ_MGMT_KIND_POD] += r->h.used && remote_of(r);
    }
    s->objects_gen[LQ_MGMT_KIND_POD] = p->stats.creates + p->stats.remote_deletes + k->stats.passes;
}

/* /objects/pods: the pods that run remotely now, in table order. */
static bool object(lq_refl_kind_t *k, size_t index, lq_mgmt_object_t *out)
{
    lq_pods_t *p = k->ctx;
    for (size_t i = 0, n = 0; i < lq_rtab_span(&k->tab); i++) {
        const lq_pod_rec_t *r = rec_at(p, i);
        if (!r->h.used || !remote_of(r) || n++ != index)
            continue;
        out->ns = r->h.ns;
        out->name = r->h.name;
        out->remote_ns = lq_offload_remote_ns(p->offload_, r->h.ns, strlen(r->h.ns));
        out->state = lq_rtab_present(&r->h, HOME) ? "Reflected" : "Deleting";
        return true;
    }
    return false;
}

static const lq_refl_desc_t desc = {
    .name = "Pod", .table = "pod records", .log = "pods", .rec_size = sizeof(lq_pod_rec_t),
    .retry_base_ms = RETRY_BASE_MS, .retry_max_ms = RETRY_MAX_MS,
    /* home: pods bound to the node (field selector); foreign: pods with our labels */
    .watch = { { "/api/v1/pods", false, 0 }, { "/api/v1/pods", false, 0 } },
    .key = key, .seen = seen, .full = full, .step = step, .ready = ready,
    .mgmt_kind = LQ_MGMT_KIND_POD, .snapshot = snapshot, .object = object,
};

/* --- set-up ------------------------------------------------------------------------- */

lq_err_t lq_pods_init(lq_pods_t *p, lq_refl_t *refl, lq_offload_t *offload, const lq_pods_cfg_t *cfg)
{
    memset(p, 0, offsetof(lq_pods_t, recs)); /* the table zeroes its records once */
    if (!cfg->home_id || !cfg->home_id[0] || !cfg->foreign_id || !cfg->foreign_id[0] ||
        !cfg->node_name || !cfg->node_name[0] || !cfg->node_ip)
        return LQ_EINVAL;
    p->cfg = *cfg;
    if (p->cfg.max_pods == 0 || p->cfg.max_pods > LQ_MAX_PODS)
        p->cfg.max_pods = LQ_MAX_PODS;
    p->offload_ = offload;
    if (cfg->root_ca &&
        lq_forge_pod_root_ca_name(cfg->home_id, p->root_ca_, sizeof p->root_ca_) != LQ_OK)
        return LQ_ETOOBIG;
    int n = snprintf(p->home_sel_, sizeof p->home_sel_, "spec.nodeName=%s", cfg->node_name);
    if (n < 0 || (size_t)n >= sizeof p->home_sel_ ||
        lq_refl_owner_selector(p->foreign_sel_, sizeof p->foreign_sel_, cfg->home_id,
                               cfg->foreign_id) != LQ_OK)
        return LQ_ETOOBIG;
    char *const bufs[LQ_RTAB_SIDES] = { p->hbuf_, p->fbuf_ };
    const size_t caps[LQ_RTAB_SIDES] = { sizeof p->hbuf_, sizeof p->fbuf_ };
    const char *const labels[LQ_RTAB_SIDES] = { NULL, p->foreign_sel_ };
    const char *const fields[LQ_RTAB_SIDES] = { p->home_sel_, NULL };
    lq_err_t e = lq_refl_kind_add(refl, &p->kind, &desc, p, p->recs, LQ_MAX_PODS, bufs, caps,
                                  labels, fields);
    if (e == LQ_OK)
        lq_rtab_set_limit(&p->kind.tab, p->cfg.max_pods);
    return e;
}
