/* liqolet: namespace offloading (Liqo v0.8 §3, DESIGN.md Decisions 1, 2, 4, 7).
 *
 * Inputs (DESIGN.md Decision 3: one cluster-wide watch per kind):
 *   home:    NamespaceOffloading objects of every namespace (only those named
 *            "offloading" count); a 404 means the CRD is not installed, and only the
 *            --offload namespaces are offloaded (the watch keeps trying, so installing
 *            the CRD later works);
 *   foreign: namespaces labelled virtualkubelet.liqo.io/origin=<home id> and
 *            .../destination=<foreign id>: the remote namespaces this agent owns, keyed
 *            back to the home namespace by the liqo.io/original-name annotation.
 * Each home namespace concerned has a record (a fixed table of LQ_MAX_NAMESPACES). An
 * event marks its record dirty; passes run one at a time, and only once both watches
 * have listed, so a remote namespace is never taken for an orphan before the home side
 * is known.
 *
 * A pass is level-based (Decision 4): it GETs the NamespaceOffloading (and this agent's
 * Node when there is a clusterSelector), then performs the first action still needed,
 * one request at a time, re-evaluating after each:
 *   1. our finalizer on the NamespaceOffloading (while it is not being deleted);
 *   2. the remote namespace: created when wanted (adopted on 409 only when it is ours,
 *      otherwise CreationLoopBackOff), deleted with a uid precondition when not wanted;
 *      a name over 63 characters is CreationLoopBackOff, never truncated;
 *   3. the home namespace label liqo.io/scheduling-enabled (Decision 7);
 *   4. this agent's key of the status, by merge patch with a resourceVersion
 *      precondition (Decision 1), only when it differs from what is there;
 *   5. our finalizer removed once the NamespaceOffloading is being deleted, the remote
 *      namespace is gone and our status key is dropped.
 * Failures retry the record with backoff; waiting states (a namespace terminating)
 * re-check every few seconds besides the watch events. */
#include <stdio.h>
#include <string.h>

#include "liqolet/forge_node.h"
#include "liqolet/kapi.h"
#include "liqolet/log.h"
#include "liqolet/offload.h"
#include "liqolet/tls.h"

#define GV LQ_LIQO_OFFLOADING_GV
#define RESOURCE "namespaceoffloadings"
#define WAIT_RECHECK_MS 5000
#define RETRY_BASE_MS 1000
#define RETRY_MAX_MS 60000
#define MAX_NODE_LABELS 64

enum {
    ST_IDLE = 0,
    ST_GET_NSOF,
    ST_GET_NODE,
    ST_FIN_ADD,
    ST_NS_CREATE,
    ST_NS_GET,
    ST_NS_DELETE,
    ST_LABEL,
    ST_STATUS,
    ST_FIN_DEL,
};

static void actions(lq_offload_t *o);
static void kick(lq_offload_t *o);

const char *lq_offload_state_str(lq_forge_offload_ns_state_t s)
{
    switch (s) {
    case LQ_FORGE_OFFLOAD_NS_NONE: return "None";
    case LQ_FORGE_OFFLOAD_NS_CREATING: return "Creating";
    case LQ_FORGE_OFFLOAD_NS_CREATED: return "Ready";
    case LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF: return "CreationLoopBackOff";
    case LQ_FORGE_OFFLOAD_NS_TERMINATING: return "Terminating";
    }
    return "?";
}

static bool view_is(const lq_json_t *it, const char *s)
{
    lq_json_str_t v;
    return lq_json_str(it, &v) == LQ_OK && v.len == strlen(s) && memcmp(v.p, s, v.len) == 0;
}

/* --- records ------------------------------------------------------------------------ */

static lq_offload_rec_t *rec_find(lq_offload_t *o, const char *ns, size_t len)
{
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        lq_offload_rec_t *r = &o->recs[i];
        if (r->used && strlen(r->ns) == len && memcmp(r->ns, ns, len) == 0)
            return r;
    }
    return NULL;
}

/* The record of home namespace ns, created when absent. NULL: the table is full (an
 * event is lost for now: overflow_ makes the watches relist once a record frees). */
static lq_offload_rec_t *rec_get(lq_offload_t *o, const char *ns, size_t len)
{
    lq_offload_rec_t *r = rec_find(o, ns, len);
    if (r)
        return r;
    if (len == 0 || len > LQ_FORGE_OFFLOAD_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        r = &o->recs[i];
        if (r->used)
            continue;
        memset(r, 0, sizeof *r);
        r->used = true;
        memcpy(r->ns, ns, len);
        r->ns[len] = '\0';
        lq_backoff_init(&r->backoff, RETRY_BASE_MS, RETRY_MAX_MS, (uint64_t)i * 7919u + len);
        o->stats.records++;
        if (o->stats.records > o->stats.records_hwm)
            o->stats.records_hwm = o->stats.records;
        return r;
    }
    o->stats.table_full++;
    o->overflow_ = true;
    LQ_WARN("offload", "namespace table full (%u records): namespace %.*s waits until one "
            "frees", (unsigned)LQ_MAX_NAMESPACES, (int)len, ns);
    return NULL;
}

static void rec_dirty(lq_offload_t *o, lq_offload_rec_t *r)
{
    r->dirty = true;
    kick(o);
}

/* A record with nothing left to do is freed; a lost event (table full) is recovered by
 * relisting both watches, from the timer (relist_missed): this may run inside a watch's
 * own event callback, where stopping that watch would pull its connection from under
 * the stream being parsed. */
static void rec_gc(lq_offload_t *o, lq_offload_rec_t *r)
{
    if (r->flag || r->crd || r->remote_exists || r->dirty || r->retry_at != 0 ||
        r->label != LQ_OFFLOAD_LABEL_CLEARED)
        return;
    LQ_DEBUG("offload", "namespace %s: nothing left to do; record freed", r->ns);
    r->used = false;
    o->stats.records--;
    if (o->overflow_)
        lq_loop_timer_start(o->loop_, &o->timer_, 0);
}

static void relist_missed(lq_offload_t *o)
{
    if (!o->overflow_ || o->stats.records >= LQ_MAX_NAMESPACES)
        return;
    o->overflow_ = false;
    LQ_INFO("offload", "a namespace record freed; relisting to pick up what the full "
            "table missed");
    lq_watch_stop(&o->crd_watch_);
    lq_watch_stop(&o->ns_watch_);
    (void)lq_watch_start(&o->crd_watch_);
    (void)lq_watch_start(&o->ns_watch_);
}

static void retry_later(lq_offload_t *o, lq_offload_rec_t *r, uint32_t ms)
{
    r->retry_at = lq_port_mono_ms() + ms;
    if (!o->timer_.armed || o->timer_.due_ms > r->retry_at)
        lq_loop_timer_start(o->loop_, &o->timer_, ms);
}

/* --- the pass ---------------------------------------------------------------------- */

static bool rec_usable(const lq_offload_rec_t *r)
{
    return r->used && r->state == LQ_FORGE_OFFLOAD_NS_CREATED && r->remote_exists &&
           !r->remote_terminating && r->seen[0] && strcmp(r->seen, r->remote) == 0;
}

const char *lq_offload_remote_ns(const lq_offload_t *o, const char *ns, size_t len)
{
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        const lq_offload_rec_t *r = &o->recs[i];
        if (rec_usable(r) && strlen(r->ns) == len && memcmp(r->ns, ns, len) == 0)
            return r->seen;
    }
    return NULL;
}

const char *lq_offload_home_ns(const lq_offload_t *o, const char *remote_ns, size_t len)
{
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        const lq_offload_rec_t *r = &o->recs[i];
        if (rec_usable(r) && strlen(r->seen) == len && memcmp(r->seen, remote_ns, len) == 0)
            return r->ns;
    }
    return NULL;
}

void lq_offload_count(lq_offload_t *o, const char *ns, bool ok)
{
    lq_offload_rec_t *r = rec_find(o, ns, strlen(ns));
    if (!r)
        return;
    if (ok)
        r->pod_items++;
    else
        r->pod_errors++;
}

bool lq_offload_settled(const lq_offload_t *o)
{
    if (!o->home_synced || !o->foreign_synced || o->cur_)
        return false;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
        if (o->recs[i].used && o->recs[i].dirty)
            return false;
    return true;
}

static void finish(lq_offload_t *o, bool failed)
{
    lq_offload_rec_t *r = o->cur_;
    o->cur_ = NULL;
    o->step_ = ST_IDLE;
    r->retry_at = 0;
    if (failed) {
        o->stats.failures++;
        retry_later(o, r, lq_backoff_next(&r->backoff));
    } else if (r->state == LQ_FORGE_OFFLOAD_NS_TERMINATING || r->state == LQ_FORGE_OFFLOAD_NS_CREATING) {
        retry_later(o, r, WAIT_RECHECK_MS); /* the watch normally says first */
    } else if (r->state == LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF && o->conflict_) {
        retry_later(o, r, lq_backoff_next(&r->backoff)); /* the other namespace may go */
    } else {
        lq_backoff_reset(&r->backoff);
    }
    if (r->state != r->logged_) {
        if (r->state == LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF)
            LQ_WARN("offload", "namespace %s: %s", r->ns, r->message);
        else if (r->state == LQ_FORGE_OFFLOAD_NS_CREATED)
            LQ_INFO("offload", "namespace %s offloaded as %s", r->ns, r->seen);
        else if (r->state == LQ_FORGE_OFFLOAD_NS_NONE && r->logged_ != LQ_FORGE_OFFLOAD_NS_NONE)
            LQ_INFO("offload", "namespace %s: offloading ended", r->ns);
        r->logged_ = r->state;
    }
    bool usable = rec_usable(r);
    if (usable != r->usable_) {
        r->usable_ = usable;
        if (o->cfg.on_change)
            o->cfg.on_change(r->ns, o->cfg.ctx);
    }
    rec_gc(o, r);
    kick(o);
}

/* Logs a failed request of the pass and schedules the record again. */
static void failed(lq_offload_t *o, const char *what, lq_err_t err)
{
    LQ_WARN("offload", "namespace %s: %s: %s (%s); retrying", o->cur_->ns, what,
            lq_err_str(err), o->req_.message);
    finish(o, true);
}

static bool send(lq_offload_t *o, lq_kreq_client_t *cl, int step)
{
    o->step_ = step;
    if (lq_kreq_submit(cl, &o->req_) != LQ_OK) {
        failed(o, "request", LQ_ESTATE);
        return false;
    }
    return true;
}

static bool render(lq_offload_t *o, const lq_json_t *obj, size_t *len)
{
    if (obj && lq_json_print(obj, o->body_, sizeof o->body_, len) == LQ_OK)
        return true;
    LQ_WARN("offload", "namespace %s: a request body does not fit %zu bytes", o->cur_->ns,
            sizeof o->body_);
    return false;
}

static lq_err_t nsof_path(const lq_offload_t *o, char *path, size_t cap, const char *sub)
{
    return lq_kapi_path(path, cap, GV, o->cur_->ns, RESOURCE, LQ_FORGE_OFFLOAD_OBJECT_NAME, sub);
}

/* Remembers the resourceVersion of the NamespaceOffloading now in obj_ (after our own
 * write, the watch event it causes is ours and needs no pass). */
static void note_own_rv(lq_offload_t *o)
{
    (void)lq_scan_uid_rv(o->obj_, o->obj_len_, NULL, 0, o->cur_->own_rv, sizeof o->cur_->own_rv);
}

/* Reads the NamespaceOffloading in obj_ into the record: deletion, spec, remote name. */
static lq_json_t *eval_nsof(lq_offload_t *o, lq_forge_offload_spec_t *spec)
{
    lq_offload_rec_t *r = o->cur_;
    lq_json_t *nsof = NULL;
    memset(spec, 0, sizeof *spec);
    if (!r->crd || o->obj_len_ == 0)
        return NULL;
    if (lq_json_parse(&o->doc_, o->obj_, o->obj_len_, &nsof) != LQ_OK)
        return NULL;
    lq_json_type_t dt = lq_json_type(LQ_JSON_AT(nsof, "metadata", "deletionTimestamp"));
    r->deleting = dt != LQ_JSON_ABSENT && dt != LQ_JSON_NULL;
    r->spec_bad = lq_forge_offload_spec_parse(nsof, spec) != LQ_OK;
    return nsof;
}

/* The remote name the record wants, or a LOOPBACKOFF message. */
static void eval_name(lq_offload_t *o, const lq_forge_offload_spec_t *spec)
{
    lq_offload_rec_t *r = o->cur_;
    size_t len = 0;
    r->remote[0] = '\0';
    lq_err_t e = lq_forge_offload_remote_name(spec, r->ns, o->cfg.home_name, o->suffix_, r->remote,
                                        sizeof r->remote, &len);
    if (e == LQ_OK)
        return;
    r->remote[0] = '\0';
    if (e == LQ_ETOOBIG && spec->mapping == LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME)
        (void)snprintf(r->message, sizeof r->message,
                       "the remote namespace name %s-%s-%s is %zu characters, over the 63 a "
                       "namespace name may have; use EnforceSameName or SelectedName",
                       r->ns, o->cfg.home_name, o->suffix_, len);
    else if (e == LQ_ETOOBIG)
        (void)snprintf(r->message, sizeof r->message,
                       "the remote namespace name is %zu characters, over the 63 a namespace "
                       "name may have", len);
    else if (e == LQ_ENOTFOUND)
        (void)snprintf(r->message, sizeof r->message,
                       "SelectedName needs spec.remoteNamespaceName");
    else
        (void)snprintf(r->message, sizeof r->message,
                       "the remote namespace name is not a valid namespace name (%s)",
                       lq_err_str(e));
}

static bool has_finalizer(const lq_json_t *nsof, const char *fin)
{
    const lq_json_t *list = LQ_JSON_AT(nsof, "metadata", "finalizers");
    for (const lq_json_t *it = lq_json_first(list); it; it = lq_json_next(it))
        if (view_is(it, fin))
            return true;
    return false;
}

/* Merge patch of metadata.finalizers with ours added or removed, guarded by the object's
 * resourceVersion (a concurrent change of the list gives 409 and a new pass). */
static void patch_finalizer(lq_offload_t *o, const lq_json_t *nsof, bool add)
{
    lq_json_doc_t *d = &o->doc_;
    lq_json_t *list = lq_json_new_array(d);
    const lq_json_t *cur = LQ_JSON_AT(nsof, "metadata", "finalizers");
    for (const lq_json_t *it = lq_json_first(cur); it; it = lq_json_next(it))
        if (!view_is(it, o->finalizer_))
            (void)lq_json_arr_add(d, list, lq_json_copy(d, it));
    if (add)
        (void)lq_json_arr_add(d, list, lq_json_new_cstr(d, o->finalizer_));
    lq_json_t *meta = lq_json_new_object(d), *patch = lq_json_new_object(d);
    (void)lq_json_obj_add(d, meta, "resourceVersion",
                          lq_json_copy(d, LQ_JSON_AT(nsof, "metadata", "resourceVersion")));
    (void)lq_json_obj_add(d, meta, "finalizers", list);
    (void)lq_json_obj_add(d, patch, "metadata", meta);
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    if (d->last_err != LQ_OK || !render(o, patch, &len) ||
        nsof_path(o, path, sizeof path, NULL) != LQ_OK) {
        finish(o, true);
        return;
    }
    lq_kreq_init(&o->req_, o->obj_, sizeof o->obj_, o->req_.done, o);
    if (lq_kreq_merge_patch(&o->req_, path, o->body_, len) == LQ_OK)
        (void)send(o, o->home_req_, add ? ST_FIN_ADD : ST_FIN_DEL);
    else
        finish(o, true);
}

static void ns_request(lq_offload_t *o, int step, const char *name)
{
    char path[LQ_KREQ_PATH_MAX];
    lq_offload_rec_t *r = o->cur_;
    if (lq_kapi_path(path, sizeof path, "v1", NULL, "namespaces", step == ST_NS_CREATE ? NULL : name,
                     NULL) != LQ_OK) {
        finish(o, true);
        return;
    }
    lq_kreq_init(&o->req_, o->resp_, sizeof o->resp_, o->req_.done, o);
    lq_err_t e;
    if (step == ST_NS_CREATE) {
        lq_json_t *ns = NULL;
        size_t len = 0;
        if (lq_forge_offload_remote_ns_build(&o->doc_, name, r->ns, o->cfg.home_id,
                                       o->cfg.foreign_id, &ns) != LQ_OK ||
            !render(o, ns, &len)) {
            finish(o, true);
            return;
        }
        e = lq_kreq_create(&o->req_, path, o->body_, len);
    } else if (step == ST_NS_DELETE) {
        e = lq_kreq_delete(&o->req_, path, r->seen_uid[0] ? r->seen_uid : NULL, "Background");
    } else {
        e = lq_kreq_get(&o->req_, path);
    }
    if (e == LQ_OK)
        (void)send(o, o->foreign_req_, step);
    else
        finish(o, true);
}

/* Step 2: the remote namespace. Returns true when a request was sent. */
static bool remote_action(lq_offload_t *o, bool want)
{
    lq_offload_rec_t *r = o->cur_;
    if (r->spec_bad) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF; /* keep what exists; say why */
        return false;
    }
    if (r->remote_exists && r->remote_terminating && !o->refreshed_) {
        o->refreshed_ = true; /* level-based: is it still there? */
        ns_request(o, ST_NS_GET, r->seen);
        return true;
    }
    bool stale = r->remote_exists && (!want || !r->remote[0] || strcmp(r->seen, r->remote) != 0);
    if (stale && !r->remote_terminating) {
        LQ_INFO("offload", "namespace %s: deleting remote namespace %s", r->ns, r->seen);
        ns_request(o, ST_NS_DELETE, r->seen);
        return true;
    }
    if (!want) {
        r->state = r->remote_exists ? LQ_FORGE_OFFLOAD_NS_TERMINATING : LQ_FORGE_OFFLOAD_NS_NONE;
        return false;
    }
    if (!r->remote[0]) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF; /* eval_name wrote the message */
        return false;
    }
    if (r->remote_exists) {
        r->state = r->remote_terminating ? LQ_FORGE_OFFLOAD_NS_CREATING : LQ_FORGE_OFFLOAD_NS_CREATED;
        return false;
    }
    if (o->conflict_) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF;
        return false;
    }
    r->state = LQ_FORGE_OFFLOAD_NS_CREATING;
    ns_request(o, ST_NS_CREATE, r->remote);
    return true;
}

/* Step 3: the home namespace label. */
static bool label_action(lq_offload_t *o)
{
    lq_offload_rec_t *r = o->cur_;
    bool set = r->crd ? (!r->deleting && !r->spec_bad && r->pods != LQ_FORGE_OFFLOAD_PODS_LOCAL) : r->flag;
    if (r->crd && r->spec_bad)
        return false; /* leave it as it is */
    lq_offload_label_state_t want = set ? LQ_OFFLOAD_LABEL_SET : LQ_OFFLOAD_LABEL_CLEARED;
    if (r->label == want)
        return false;
    lq_json_t *patch = NULL;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    if (lq_forge_offload_home_ns_patch(&o->doc_, r->pods, set, &patch) != LQ_OK || !render(o, patch, &len) ||
        lq_kapi_path(path, sizeof path, "v1", NULL, "namespaces", r->ns, NULL) != LQ_OK) {
        finish(o, true);
        return true;
    }
    lq_kreq_init(&o->req_, NULL, 0, o->req_.done, o);
    if (lq_kreq_merge_patch(&o->req_, path, o->body_, len) == LQ_OK)
        (void)send(o, o->home_req_, ST_LABEL);
    else
        finish(o, true);
    return true;
}

/* Same conditions, field by field (the API server re-orders an object's keys). */
static bool conditions_equal(const lq_json_t *a, const lq_json_t *b)
{
    static const char *const keys[] = { "type", "status", "reason", "message",
                                         "lastTransitionTime" };
    if (lq_json_size(a) != lq_json_size(b))
        return false;
    for (const lq_json_t *x = lq_json_first(a), *y = lq_json_first(b); x && y;
         x = lq_json_next(x), y = lq_json_next(y))
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            lq_json_str_t vx, vy;
            bool hx = lq_json_str(lq_json_get(x, keys[k]), &vx) == LQ_OK;
            bool hy = lq_json_str(lq_json_get(y, keys[k]), &vy) == LQ_OK;
            if (hx != hy || (hx && (vx.len != vy.len || memcmp(vx.p, vy.p, vx.len) != 0)))
                return false;
        }
    return true;
}

/* Does the current status already say what we would write? */
static bool status_current(lq_offload_t *o, const lq_json_t *nsof, const lq_json_t *conds,
                           lq_forge_offload_phase_t phase, bool with_name)
{
    const lq_json_t *st = lq_json_get(nsof, "status");
    const lq_json_t *mine = LQ_JSON_AT(st, "remoteNamespacesConditions", o->cfg.foreign_name);
    lq_json_type_t mt = lq_json_type(mine);
    if (!conds != (mt == LQ_JSON_ABSENT || mt == LQ_JSON_NULL))
        return false;
    if (conds && !conditions_equal(conds, mine))
        return false;
    if (!view_is(lq_json_get(st, "offloadingPhase"), lq_forge_offload_phase_str(phase)))
        return false;
    if (with_name && !view_is(lq_json_get(st, "remoteNamespaceName"), o->cur_->remote))
        return false;
    int64_t gen = 0, obs = 0;
    if (lq_json_int(LQ_JSON_AT(nsof, "metadata", "generation"), &gen) == LQ_OK &&
        (lq_json_int(lq_json_get(st, "observedGeneration"), &obs) != LQ_OK || obs != gen))
        return false;
    return true;
}

/* Step 4: this agent's key of the status. */
static bool status_action(lq_offload_t *o, const lq_json_t *nsof)
{
    lq_offload_rec_t *r = o->cur_;
    if (lq_forge_time_format(lq_port_wall_ms(), false, o->now_, sizeof o->now_) != LQ_OK)
        return false;
    lq_forge_offload_status_in_t in;
    memset(&in, 0, sizeof in);
    in.key = o->cfg.foreign_name;
    in.selected = r->selected;
    in.state = r->state;
    in.message = r->state == LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF ? r->message : NULL;
    in.remote_name = r->remote[0] ? r->remote : NULL;
    in.precondition = true;
    in.now = o->now_;
    lq_json_t *conds = NULL, *patch = NULL;
    lq_forge_offload_phase_t phase;
    lq_err_t e = lq_forge_offload_status_build(&o->doc_, nsof, &in, &conds, &phase, &patch);
    if (e != LQ_OK) {
        LQ_WARN("offload", "namespace %s: cannot build the status (%s)", r->ns, lq_err_str(e));
        return false;
    }
    if (status_current(o, nsof, conds, phase, in.remote_name != NULL))
        return false;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    if (!render(o, patch, &len) || nsof_path(o, path, sizeof path, "status") != LQ_OK) {
        finish(o, true);
        return true;
    }
    lq_kreq_init(&o->req_, o->obj_, sizeof o->obj_, o->req_.done, o);
    if (lq_kreq_merge_patch(&o->req_, path, o->body_, len) == LQ_OK)
        (void)send(o, o->home_req_, ST_STATUS);
    else
        finish(o, true);
    return true;
}

/* Runs the first action still needed, or ends the pass. */
static void actions(lq_offload_t *o)
{
    lq_offload_rec_t *r = o->cur_;
    lq_json_reset(&o->doc_);
    lq_forge_offload_spec_t spec;
    lq_json_t *nsof = eval_nsof(o, &spec);
    if (r->crd && !nsof) {
        LQ_WARN("offload", "namespace %s: the NamespaceOffloading cannot be read", r->ns);
        finish(o, true);
        return;
    }
    if (!r->crd) {
        r->deleting = false;
        r->spec_bad = false;
        r->selected = r->flag;
        memset(&spec, 0, sizeof spec); /* --offload: Liqo's defaults but the mapping */
        spec.mapping = o->cfg.flag_mapping;
        if (r->flag_remote[0]) {
            spec.mapping = LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME;
            spec.remote_name.p = r->flag_remote;
            spec.remote_name.len = strlen(r->flag_remote);
        }
    }
    r->pods = spec.pods;
    if (!r->spec_bad)
        eval_name(o, &spec);
    else
        (void)snprintf(r->message, sizeof r->message,
                       "spec cannot be read (unknown strategy or wrong field type)");
    bool want = r->crd ? (!r->deleting && r->selected) : r->flag;

    if (nsof && !r->deleting && !has_finalizer(nsof, o->finalizer_)) {
        patch_finalizer(o, nsof, true);
        return;
    }
    if (remote_action(o, want) || label_action(o))
        return;
    if (nsof && status_action(o, nsof))
        return;
    if (nsof && r->deleting && r->state == LQ_FORGE_OFFLOAD_NS_NONE && has_finalizer(nsof, o->finalizer_)) {
        patch_finalizer(o, nsof, false);
        return;
    }
    finish(o, false);
}

static void node_labels(const lq_json_t *node, lq_forge_offload_label_t *labels, size_t *n)
{
    *n = 0;
    for (const lq_json_t *it = lq_json_first(LQ_JSON_AT(node, "metadata", "labels"));
         it && *n < MAX_NODE_LABELS; it = lq_json_next(it)) {
        lq_json_str_t v;
        if (lq_json_str(it, &v) != LQ_OK)
            continue;
        labels[*n].key = lq_json_key(it);
        labels[*n].value = v.p;
        (*n)++;
    }
}

/* After GET nsof (and GET node): the selector result, then the actions. */
static void selected_then_actions(lq_offload_t *o, bool node_in_resp)
{
    lq_offload_rec_t *r = o->cur_;
    lq_json_reset(&o->doc_);
    lq_forge_offload_spec_t spec;
    lq_json_t *nsof = eval_nsof(o, &spec);
    r->selected = true;
    if (nsof && !r->spec_bad && !r->deleting && spec.cluster_selector &&
        lq_json_size(lq_json_get(spec.cluster_selector, "nodeSelectorTerms")) > 0) {
        if (!node_in_resp) {
            char path[LQ_KREQ_PATH_MAX];
            if (lq_kapi_path(path, sizeof path, "v1", NULL, "nodes", o->cfg.node_name, NULL) != LQ_OK) {
                finish(o, true);
                return;
            }
            lq_kreq_init(&o->req_, o->resp_, sizeof o->resp_, o->req_.done, o);
            if (lq_kreq_get(&o->req_, path) == LQ_OK)
                (void)send(o, o->home_req_, ST_GET_NODE);
            else
                finish(o, true);
            return;
        }
        lq_json_t *node = NULL;
        lq_forge_offload_label_t labels[MAX_NODE_LABELS];
        size_t n = 0, invalid = 0;
        if (lq_json_parse(&o->doc_, o->resp_, o->req_.resp_len, &node) != LQ_OK) {
            failed(o, "the virtual node cannot be parsed", LQ_EPROTO);
            return;
        }
        node_labels(node, labels, &n);
        if (lq_forge_offload_selector_match(spec.cluster_selector, labels, n, o->cfg.node_name,
                                      &r->selected, &invalid) != LQ_OK)
            r->selected = false;
        if (invalid > 0)
            LQ_WARN("offload", "namespace %s: %zu clusterSelector term(s) are invalid and match "
                    "nothing", r->ns, invalid);
    }
    actions(o);
}

static void on_req(lq_kreq_t *q, lq_err_t err, void *ctx)
{
    lq_offload_t *o = ctx;
    lq_offload_rec_t *r = o->cur_;
    lq_json_t *obj = NULL;
    switch (o->step_) {
    case ST_GET_NSOF:
        if (err == LQ_ENOTFOUND) {
            r->crd = false;
            o->obj_len_ = 0;
            actions(o);
        } else if (err != LQ_OK) {
            failed(o, "GET NamespaceOffloading", err);
        } else {
            o->obj_len_ = q->resp_len;
            note_own_rv(o);
            selected_then_actions(o, false);
        }
        return;
    case ST_GET_NODE:
        if (err != LQ_OK)
            failed(o, "GET the virtual node for the clusterSelector", err);
        else
            selected_then_actions(o, true);
        return;
    case ST_FIN_ADD:
    case ST_FIN_DEL:
    case ST_STATUS:
        if (err == LQ_ECONFLICT) {
            /* Someone else wrote in between: start over on fresh data. */
            o->stats.conflicts++;
            r->dirty = true;
            finish(o, false);
            return;
        }
        if (err == LQ_ENOTFOUND) {
            r->crd = false;
            o->obj_len_ = 0;
            actions(o);
            return;
        }
        if (err != LQ_OK) {
            failed(o, o->step_ == ST_STATUS ? "status patch" : "finalizer patch", err);
            return;
        }
        if (o->step_ == ST_STATUS)
            o->stats.status_patches++;
        else
            o->stats.finalizer_patches++;
        o->obj_len_ = q->resp_len;
        note_own_rv(o);
        if (o->step_ == ST_FIN_DEL) {
            r->crd = r->crd && !r->deleting; /* the object is gone or going */
            o->obj_len_ = 0;
        }
        actions(o);
        return;
    case ST_NS_CREATE:
        if (err == LQ_OK) {
            o->stats.creates++;
            r->remote_exists = true;
            r->remote_terminating = false;
            memcpy(r->seen, r->remote, sizeof r->seen);
            (void)lq_scan_uid_rv(o->resp_, q->resp_len, r->seen_uid, sizeof r->seen_uid, NULL, 0);
            LQ_INFO("offload", "namespace %s: remote namespace %s created", r->ns, r->remote);
            actions(o);
        } else if (err == LQ_ECONFLICT) {
            ns_request(o, ST_NS_GET, r->remote); /* AlreadyExists: is it ours? */
        } else {
            failed(o, "create the remote namespace", err);
        }
        return;
    case ST_NS_GET:
        if (err == LQ_ENOTFOUND) {
            r->remote_exists = false;
            r->remote_terminating = false;
            actions(o);
            return;
        }
        if (err != LQ_OK) {
            failed(o, "GET the remote namespace", err);
            return;
        }
        lq_json_reset(&o->doc_);
        if (lq_json_parse(&o->doc_, o->resp_, q->resp_len, &obj) != LQ_OK) {
            failed(o, "parse the remote namespace", LQ_EPROTO);
            return;
        }
        if (lq_forge_offload_remote_ns_owned(obj, o->cfg.home_id, o->cfg.foreign_id, r->ns)) {
            char name[LQ_FORGE_OFFLOAD_NAME_BUF];
            if (lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "name"), name, sizeof name) == LQ_OK) {
                memcpy(r->seen, name, sizeof r->seen);
                r->remote_exists = true;
                lq_json_type_t dt = lq_json_type(LQ_JSON_AT(obj, "metadata", "deletionTimestamp"));
                r->remote_terminating = dt != LQ_JSON_ABSENT && dt != LQ_JSON_NULL;
                (void)lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "uid"), r->seen_uid,
                                       sizeof r->seen_uid);
            }
        } else {
            o->conflict_ = true;
            (void)snprintf(r->message, sizeof r->message,
                           "a namespace named %s already exists in the foreign cluster and is "
                           "not managed by liqolet for this home cluster; it is left alone",
                           r->remote);
        }
        actions(o);
        return;
    case ST_NS_DELETE:
        if (err == LQ_OK) {
            o->stats.deletes++;
            r->remote_terminating = true;
            o->refreshed_ = true;
        } else if (err == LQ_ENOTFOUND) {
            r->remote_exists = false;
            r->remote_terminating = false;
        } else {
            failed(o, "delete the remote namespace", err);
            return;
        }
        actions(o);
        return;
    case ST_LABEL:
        if (err != LQ_OK && err != LQ_ENOTFOUND) {
            failed(o, "label the home namespace", err);
            return;
        }
        o->stats.label_patches++;
        r->label = r->crd ? (!r->deleting && r->pods != LQ_FORGE_OFFLOAD_PODS_LOCAL ? LQ_OFFLOAD_LABEL_SET
                                                                             : LQ_OFFLOAD_LABEL_CLEARED)
                          : (r->flag ? LQ_OFFLOAD_LABEL_SET : LQ_OFFLOAD_LABEL_CLEARED);
        actions(o);
        return;
    default:
        return;
    }
}

static void pass_start(lq_offload_t *o, lq_offload_rec_t *r)
{
    o->cur_ = r;
    o->stats.passes++;
    r->dirty = false;
    r->retry_at = 0;
    o->conflict_ = false;
    o->refreshed_ = false;
    o->obj_len_ = 0;
    lq_kreq_init(&o->req_, o->obj_, sizeof o->obj_, on_req, o);
    if (!r->crd) {
        actions(o);
        return;
    }
    char path[LQ_KREQ_PATH_MAX];
    if (nsof_path(o, path, sizeof path, NULL) != LQ_OK || lq_kreq_get(&o->req_, path) != LQ_OK) {
        finish(o, true);
        return;
    }
    (void)send(o, o->home_req_, ST_GET_NSOF);
}

/* Starts the next pass when none runs and both sides are known. */
static void kick(lq_offload_t *o)
{
    if (o->cur_ || !o->home_synced || !o->foreign_synced)
        return;
    for (size_t k = 0; k < LQ_MAX_NAMESPACES; k++) {
        size_t i = (o->next_ + k) % LQ_MAX_NAMESPACES;
        lq_offload_rec_t *r = &o->recs[i];
        if (r->used && r->dirty) {
            o->next_ = (i + 1) % LQ_MAX_NAMESPACES;
            pass_start(o, r);
            return;
        }
    }
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)t;
    lq_offload_t *o = ctx;
    relist_missed(o);
    int64_t now = lq_port_mono_ms(), next = 0;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        lq_offload_rec_t *r = &o->recs[i];
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
        lq_loop_timer_start(loop, &o->timer_, next - now);
    kick(o);
}

/* --- watches ----------------------------------------------------------------------- */

static lq_err_t on_crd(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    const lq_scan_meta_t *m = &ev->meta;
    if (!m->ns.found || !m->name.found || m->ns.escaped || m->name.escaped)
        return LQ_OK;
    if (m->name.len != strlen(LQ_FORGE_OFFLOAD_OBJECT_NAME) ||
        memcmp(m->name.p, LQ_FORGE_OFFLOAD_OBJECT_NAME, m->name.len) != 0) {
        LQ_DEBUG("offload", "NamespaceOffloading %.*s/%.*s ignored: it must be named %s",
                 (int)m->ns.len, m->ns.p, (int)m->name.len, m->name.p, LQ_FORGE_OFFLOAD_OBJECT_NAME);
        return LQ_OK;
    }
    lq_offload_rec_t *r = ev->type == LQ_WATCH_DELETED ? rec_find(o, m->ns.p, m->ns.len)
                                                      : rec_get(o, m->ns.p, m->ns.len);
    if (!r)
        return LQ_OK;
    r->crd_mark_ = true;
    bool was = r->crd;
    r->crd = ev->type != LQ_WATCH_DELETED;
    if (was == r->crd && r->crd && lq_scan_str_eq(&m->rv, r->own_rv, strlen(r->own_rv)))
        return LQ_OK; /* the echo of our own write */
    rec_dirty(o, r);
    return LQ_OK;
}

static void on_crd_relist(lq_watch_t *w, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
        o->recs[i].crd_mark_ = false;
}

static void on_crd_synced(lq_watch_t *w, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    if (o->crd_missing)
        LQ_INFO("offload", "the NamespaceOffloading resource is installed now");
    o->crd_missing = false;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        lq_offload_rec_t *r = &o->recs[i];
        if (r->used && r->crd && !r->crd_mark_) {
            r->crd = false; /* deleted while the watch was down */
            r->dirty = true;
        }
    }
    if (!o->home_synced) {
        o->home_synced = true;
        for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
            if (o->recs[i].used)
                o->recs[i].dirty = true;
    }
    kick(o);
}

static void on_crd_error(lq_watch_t *w, int status, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    if (status != 404 || o->crd_missing)
        return;
    o->crd_missing = true;
    LQ_INFO("offload", "the home cluster has no NamespaceOffloading resource (CRD "
            "offloading.liqo.io not installed): offloading only the --offload namespaces; "
            "checking again from time to time");
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        lq_offload_rec_t *r = &o->recs[i];
        if (r->used && (r->crd || !o->home_synced)) {
            r->crd = false;
            r->dirty = true;
        }
    }
    o->home_synced = true;
    kick(o);
}

static lq_err_t on_remote_ns(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    if (ev->oversized)
        return LQ_OK;
    const char *data = ev->data;
    size_t len = ev->len;
    lq_json_t *root = NULL, *obj;
    /* doc_ is free between requests: a pass re-parses what it needs after each one */
    lq_json_doc_t *d = &o->doc_;
    lq_json_reset(d);
    if (lq_json_parse(d, data, len, &root) != LQ_OK)
        return LQ_OK;
    obj = ev->wrapped ? lq_json_get(root, "object") : root;
    char local[LQ_FORGE_OFFLOAD_NAME_BUF], name[LQ_FORGE_OFFLOAD_NAME_BUF];
    if (!view_is(LQ_JSON_AT(obj, "metadata", "labels", LQ_LIQO_LABEL_DESTINATION),
                 o->cfg.foreign_id) ||
        lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "annotations", LQ_LIQO_ANN_ORIGINAL_NAME),
                         local, sizeof local) != LQ_OK ||
        lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "name"), name, sizeof name) != LQ_OK)
        return LQ_OK;
    lq_offload_rec_t *r = ev->type == LQ_WATCH_DELETED ? rec_find(o, local, strlen(local))
                                                      : rec_get(o, local, strlen(local));
    if (!r)
        return LQ_OK;
    if (ev->type == LQ_WATCH_DELETED) {
        if (strcmp(r->seen, name) == 0) {
            r->remote_exists = false;
            r->remote_terminating = false;
            r->seen_uid[0] = '\0';
        }
    } else {
        if (r->remote_exists && r->remote_mark_ && strcmp(r->seen, name) != 0)
            LQ_WARN("offload", "namespace %s has two remote namespaces (%s, %s); handling %s",
                    r->ns, r->seen, name, name);
        r->remote_mark_ = true;
        r->remote_exists = true;
        memcpy(r->seen, name, sizeof r->seen);
        lq_json_type_t dt = lq_json_type(LQ_JSON_AT(obj, "metadata", "deletionTimestamp"));
        r->remote_terminating = dt != LQ_JSON_ABSENT && dt != LQ_JSON_NULL;
        (void)lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "uid"), r->seen_uid, sizeof r->seen_uid);
    }
    rec_dirty(o, r);
    return LQ_OK;
}

static void on_ns_relist(lq_watch_t *w, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
        o->recs[i].remote_mark_ = false;
}

static void on_ns_synced(lq_watch_t *w, void *ctx)
{
    (void)w;
    lq_offload_t *o = ctx;
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++) {
        lq_offload_rec_t *r = &o->recs[i];
        if (r->used && r->remote_exists && !r->remote_mark_) {
            r->remote_exists = false; /* deleted while the watch was down */
            r->remote_terminating = false;
            r->dirty = true;
        }
    }
    if (!o->foreign_synced) {
        o->foreign_synced = true;
        for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
            if (o->recs[i].used)
                o->recs[i].dirty = true;
    }
    kick(o);
}

/* --- set-up ------------------------------------------------------------------------- */

lq_err_t lq_offload_init(lq_offload_t *o, lq_loop_t *loop, lq_cluster_t *home,
                         lq_cluster_t *foreign, lq_kreq_client_t *home_req,
                         lq_kreq_client_t *foreign_req, const lq_offload_cfg_t *cfg)
{
    memset(o, 0, offsetof(lq_offload_t, ns_buf_));
    if (!cfg->home_id || !cfg->home_id[0] || !cfg->home_name || !cfg->home_name[0] ||
        !cfg->foreign_id || !cfg->foreign_id[0] || !cfg->foreign_name || !cfg->foreign_name[0] ||
        !cfg->node_name || !cfg->node_name[0])
        return LQ_EINVAL;
    o->cfg = *cfg;
    o->loop_ = loop;
    o->home_req_ = home_req;
    o->foreign_req_ = foreign_req;
    unsigned char digest[32];
    lq_err_t e = lq_tls_sha256(cfg->home_id, strlen(cfg->home_id), digest);
    if (e != LQ_OK)
        return e;
    lq_forge_offload_hash_suffix(digest, o->suffix_);
    int n = snprintf(o->finalizer_, sizeof o->finalizer_, "%s%s", LQ_OFFLOAD_FINALIZER_PREFIX,
                     cfg->foreign_name);
    int m = snprintf(o->ns_sel_, sizeof o->ns_sel_, "%s=%s,%s=%s", LQ_LIQO_LABEL_ORIGIN,
                     cfg->home_id, LQ_LIQO_LABEL_DESTINATION, cfg->foreign_id);
    if (n < 0 || (size_t)n >= sizeof o->finalizer_ || m < 0 || (size_t)m >= sizeof o->ns_sel_)
        return LQ_ETOOBIG;
    for (size_t i = 0; i < cfg->n_flag_ns; i++) {
        const char *eq = strchr(cfg->flag_ns[i], '=');
        size_t len = eq ? (size_t)(eq - cfg->flag_ns[i]) : strlen(cfg->flag_ns[i]);
        lq_offload_rec_t *r = rec_get(o, cfg->flag_ns[i], len);
        if (!r || (eq && strlen(eq + 1) >= sizeof r->flag_remote))
            return LQ_ETOOBIG;
        if (eq)
            (void)snprintf(r->flag_remote, sizeof r->flag_remote, "%s", eq + 1);
        r->flag = true;
        r->dirty = true;
    }
    lq_json_doc_init(&o->doc_, o->arena_, sizeof o->arena_);
    lq_loop_timer_init(&o->timer_, on_timer, o);
    lq_conn_init(&o->crd_conn_, loop, &home->target);
    lq_conn_init(&o->ns_conn_, loop, &foreign->target);
    lq_watch_cfg_t cw = { .path = "/apis/" GV "/" RESOURCE, .watch_list = true,
                          .quiet_not_found = true, .backoff_max_ms = 60000,
                          .bearer = home->kcfg.token_len ? home->kcfg.token : NULL };
    lq_watch_handler_t ch = { on_crd, on_crd_relist, on_crd_synced, o, on_crd_error };
    lq_watch_init(&o->crd_watch_, loop, &o->crd_conn_, o->crd_buf_, sizeof o->crd_buf_, &cw, &ch);
    lq_watch_cfg_t nw = { .path = "/api/v1/namespaces", .label_selector = o->ns_sel_,
                          .watch_list = true,
                          .bearer = foreign->kcfg.token_len ? foreign->kcfg.token : NULL };
    lq_watch_handler_t nh = { on_remote_ns, on_ns_relist, on_ns_synced, o, NULL };
    lq_watch_init(&o->ns_watch_, loop, &o->ns_conn_, o->ns_buf_, sizeof o->ns_buf_, &nw, &nh);
    return LQ_OK;
}

lq_err_t lq_offload_start(lq_offload_t *o)
{
    lq_err_t e = lq_watch_start(&o->crd_watch_);
    if (e == LQ_OK)
        e = lq_watch_start(&o->ns_watch_);
    return e;
}
