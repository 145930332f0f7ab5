/* liqolet: namespace offloading (Liqo v0.8 §3, DESIGN.md Decisions 1, 2, 4, 7).
 *
 * Inputs (DESIGN.md Decision 3: one cluster-wide watch per kind):
 *   home:    NamespaceOffloading objects of every namespace (only those named
 *            "offloading" count), in the version the home cluster serves (v1beta1 for
 *            Liqo v1, else v1alpha1; chosen once at start-up by lq_offload_pick_gv from
 *            GET /apis/offloading.liqo.io); a 404 means the CRD is not installed, and only the
 *            --offload namespaces are offloaded (the watch keeps trying, so installing
 *            the CRD later works);
 *   foreign: namespaces labelled virtualkubelet.liqo.io/origin=<home id> and
 *            .../destination=<foreign id>. Labels are only the filter (DESIGN.md
 *            Decision 17): an event counts only when its name is one a record already
 *            wants or owns (a foreign annotation never maps it), and it only says
 *            whether that namespace exists; it never creates a record.
 * Each home namespace with a NamespaceOffloading or an --offload flag has a record (a
 * fixed table of LQ_MAX_NAMESPACES) run by the reflector engine (src/reflect/refl.c):
 * an event marks the record dirty; passes run one at a time, and only once both
 * watches have listed. A remote namespace is ours when we created it, or when a pass
 * read it under the name the home side asks for and found our labels and the home
 * namespace's name on it (adoption); its UID is kept and every delete carries it.
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
#include "liqolet/names.h"
#include "liqolet/offload.h"
#include "liqolet/tls.h"

#define RESOURCE "namespaceoffloadings"
#define WAIT_RECHECK_MS 5000
#define RETRY_BASE_MS 1000
#define RETRY_MAX_MS 60000
#define MAX_NODE_LABELS 64
#define HOME LQ_RTAB_HOME
#define FOREIGN LQ_RTAB_FOREIGN

enum {
    ST_START = 0,
    ST_GET_NSOF,
    ST_GET_NODE,
    ST_FIN_ADD,
    ST_NS_CREATE,
    ST_NS_GET,
    ST_NS_DELETE,
    ST_NS_PSA,
    ST_LABEL,
    ST_STATUS,
    ST_FIN_DEL,
};

/* Scratch bits of a pass (w->flags). */
#define F_CONFLICT 1u  /* the wanted remote name is taken by a namespace not ours */
#define F_REFRESHED 2u /* the remote namespace was read in this pass */

static void actions(lq_refl_work_t *w);

/* The pass's record and module. */
#define REC(w) ((lq_offload_rec_t *)(void *)(w)->rec)
#define MOD(w) ((lq_offload_t *)(w)->k->ctx)

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

static lq_offload_rec_t *rec_at(const lq_offload_t *o, size_t i)
{
    return (lq_offload_rec_t *)(void *)lq_rtab_at(&o->kind.tab, i);
}

static lq_offload_rec_t *rec_find(const lq_offload_t *o, const char *ns, size_t len)
{
    return (lq_offload_rec_t *)(void *)lq_rtab_find(&o->kind.tab, ns, len, "", 0);
}

static bool crd_of(const lq_offload_rec_t *r)
{
    return lq_rtab_present(&r->h, HOME);
}

static bool remote_of(const lq_offload_rec_t *r)
{
    return lq_rtab_present(&r->h, FOREIGN);
}

/* The remote namespace is ours (created or adopted, UID known), exists and is ready. */
static bool rec_usable(const lq_offload_rec_t *r)
{
    return r->h.used && r->state == LQ_FORGE_OFFLOAD_NS_CREATED && remote_of(r) &&
           !r->remote_terminating && r->seen_uid[0] && r->seen[0] && strcmp(r->seen, r->remote) == 0;
}

/* What the home side asks for (never the foreign side). */
static bool rec_wanted(const lq_offload_rec_t *r)
{
    return crd_of(r) ? (!r->deleting && r->selected && !r->spec_bad) : r->flag;
}

lq_offload_use_t lq_offload_ns(const lq_offload_t *o, const char *ns, size_t len,
                               const char **remote)
{
    const lq_offload_rec_t *r = rec_find(o, ns, len);
    if (remote)
        *remote = NULL;
    if (!r)
        return LQ_OFFLOAD_NOT_OFFLOADED;
    if (rec_usable(r)) {
        if (remote)
            *remote = r->seen;
        return LQ_OFFLOAD_USABLE;
    }
    /* spec_bad: the offloading exists but cannot be read: keep what runs (wait). */
    if (crd_of(r) && r->spec_bad)
        return LQ_OFFLOAD_WAITING;
    return rec_wanted(r) ? LQ_OFFLOAD_WAITING : LQ_OFFLOAD_NOT_OFFLOADED;
}

const char *lq_offload_remote_ns(const lq_offload_t *o, const char *ns, size_t len)
{
    const char *remote = NULL;
    (void)lq_offload_ns(o, ns, len, &remote);
    return remote;
}

const char *lq_offload_home_ns(const lq_offload_t *o, const char *remote_ns, size_t len)
{
    for (size_t i = 0; i < lq_rtab_span(&o->kind.tab); i++) {
        const lq_offload_rec_t *r = rec_at(o, i);
        if (r->h.used && r->seen_uid[0] && strlen(r->seen) == len &&
            memcmp(r->seen, remote_ns, len) == 0)
            return r->h.ns;
    }
    return NULL;
}

void lq_offload_count(lq_offload_t *o, const char *ns, lq_mgmt_kind_t kind, bool ok)
{
    lq_offload_rec_t *r = rec_find(o, ns, strlen(ns));
    if (!r || (unsigned)kind >= LQ_MGMT_KIND_COUNT)
        return;
    if (ok)
        r->items_[kind]++;
    else
        r->errors_[kind]++;
}

bool lq_offload_settled(const lq_offload_t *o)
{
    return o->marks_listed && lq_refl_kind_idle(&o->kind);
}


/* A record with nothing left to do is freed. */
static bool rec_done(const lq_offload_rec_t *r)
{
    return !r->flag && !crd_of(r) && !remote_of(r) && !r->h.dirty &&
           r->label != LQ_OFFLOAD_LABEL_SET && !(r->mark_known && r->mark_name[0]);
}

/* --- the pass ---------------------------------------------------------------------- */

static void log_state(lq_offload_t *o, lq_offload_rec_t *r)
{
    if (r->state != r->logged_) {
        if (r->state == LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF)
            LQ_WARN("offload", "namespace %s: %s", r->h.ns, r->message);
        else if (r->state == LQ_FORGE_OFFLOAD_NS_CREATED)
            LQ_INFO("offload", "namespace %s offloaded as %s", r->h.ns, r->seen);
        else if (r->state == LQ_FORGE_OFFLOAD_NS_NONE && r->logged_ != LQ_FORGE_OFFLOAD_NS_NONE)
            LQ_INFO("offload", "namespace %s: offloading ended", r->h.ns);
        r->logged_ = r->state;
    }
    bool usable = rec_usable(r);
    if (usable != r->usable_) {
        r->usable_ = usable;
        if (o->cfg.on_change)
            o->cfg.on_change(r->h.ns, o->cfg.ctx);
    }
}

static void finish(lq_refl_work_t *w, bool failed)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    lq_rtab_outcome_t out = LQ_RTAB_DONE;
    uint32_t delay = 0;
    if (failed) {
        out = LQ_RTAB_RETRY;
    } else if (r->state == LQ_FORGE_OFFLOAD_NS_TERMINATING || r->state == LQ_FORGE_OFFLOAD_NS_CREATING) {
        out = LQ_RTAB_RECHECK; /* the watch normally says first */
        delay = WAIT_RECHECK_MS;
    } else if (r->state == LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF && (w->flags & F_CONFLICT)) {
        out = LQ_RTAB_RETRY; /* the other namespace may go */
    }
    log_state(o, r);
    if (out == LQ_RTAB_DONE && rec_done(r)) {
        LQ_DEBUG("offload", "namespace %s: nothing left to do; record freed", r->h.ns);
        out = LQ_RTAB_FREE;
    }
    lq_refl_finish(w, out, delay);
}

/* Logs a failed request of the pass and schedules the record again. */
static void failed(lq_refl_work_t *w, const char *what, lq_err_t err)
{
    LQ_WARN("offload", "namespace %s: %s: %s (%s); retrying", w->rec->ns, what, lq_err_str(err),
            w->req.message);
    finish(w, true);
}

static lq_err_t nsof_path(const lq_refl_work_t *w, char *path, size_t cap, const char *sub)
{
    return lq_kapi_path(path, cap, MOD(w)->gv_, w->rec->ns, RESOURCE, LQ_FORGE_OFFLOAD_OBJECT_NAME,
                        sub);
}

/* Remembers the resourceVersion of the NamespaceOffloading now in obj[HOME] (after our
 * own write, the watch event it causes is ours and needs no pass). */
static void note_own_rv(lq_refl_work_t *w)
{
    (void)lq_scan_uid_rv(w->obj[HOME], w->len[HOME], NULL, 0, w->rec->own_rv, sizeof w->rec->own_rv);
}

/* Reads the NamespaceOffloading in obj[HOME] into the record: deletion, spec. */
static lq_json_t *eval_nsof(lq_refl_work_t *w, lq_forge_offload_spec_t *spec)
{
    lq_offload_rec_t *r = REC(w);
    lq_json_t *nsof = NULL;
    memset(spec, 0, sizeof *spec);
    if (!crd_of(r) || w->len[HOME] == 0)
        return NULL;
    if (lq_json_parse(&w->doc, w->obj[HOME], w->len[HOME], &nsof) != LQ_OK)
        return NULL;
    r->deleting = lq_json_deleting(nsof);
    r->spec_bad = lq_forge_offload_spec_parse(nsof, spec) != LQ_OK;
    return nsof;
}

/* The remote name the record wants, or a LOOPBACKOFF message. */
static void eval_name(lq_refl_work_t *w, const lq_forge_offload_spec_t *spec)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    size_t len = 0;
    r->remote[0] = '\0';
    lq_err_t e = lq_forge_offload_remote_name(spec, r->h.ns, o->cfg.home_name, o->suffix_,
                                              r->remote, sizeof r->remote, &len);
    if (e == LQ_OK)
        return;
    r->remote[0] = '\0';
    if (e == LQ_ETOOBIG && spec->mapping == LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME)
        (void)snprintf(r->message, sizeof r->message,
                       "the remote namespace name %s-%s-%s is %zu characters, over the 63 a "
                       "namespace name may have; use EnforceSameName or SelectedName",
                       r->h.ns, o->cfg.home_name, o->suffix_, len);
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
        if (lq_json_str_is(it, fin))
            return true;
    return false;
}

/* Merge patch of metadata.finalizers with ours added or removed, guarded by the object's
 * resourceVersion (a concurrent change of the list gives 409 and a new pass). Only our
 * own finalizer is ever added or removed. */
static void patch_finalizer(lq_refl_work_t *w, const lq_json_t *nsof, bool add)
{
    lq_offload_t *o = MOD(w);
    lq_json_doc_t *d = &w->doc;
    lq_json_t *list = lq_json_new_array(d);
    const lq_json_t *cur = LQ_JSON_AT(nsof, "metadata", "finalizers");
    for (const lq_json_t *it = lq_json_first(cur); it; it = lq_json_next(it))
        if (!lq_json_str_is(it, o->finalizer_))
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
    if (d->last_err != LQ_OK || !lq_refl_render(w, patch, &len) ||
        nsof_path(w, path, sizeof path, NULL) != LQ_OK) {
        finish(w, true);
        return;
    }
    lq_refl_send(w, HOME, add ? ST_FIN_ADD : ST_FIN_DEL,
                 lq_kreq_merge_patch(lq_refl_req(w, HOME), path, w->body, len));
}

static void ns_request(lq_refl_work_t *w, int step, const char *name)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    char path[LQ_KREQ_PATH_MAX];
    if (lq_kapi_path(path, sizeof path, "v1", NULL, "namespaces", step == ST_NS_CREATE ? NULL : name,
                     NULL) != LQ_OK) {
        finish(w, true);
        return;
    }
    lq_kreq_t *q = lq_refl_req(w, FOREIGN);
    lq_err_t e;
    if (step == ST_NS_CREATE) {
        lq_json_t *ns = NULL;
        size_t len = 0;
        if (lq_forge_offload_remote_ns_build(&w->doc, name, r->h.ns, o->cfg.home_id,
                                             o->cfg.foreign_id, o->cfg.psa, &ns) != LQ_OK ||
            !lq_refl_render(w, ns, &len)) {
            finish(w, true);
            return;
        }
        e = lq_kreq_create(q, path, w->body, len);
    } else if (step == ST_NS_PSA) {
        /* Only the namespace we created or adopted: its UID is in the patch. */
        lq_json_t *patch = NULL;
        size_t len = 0;
        if (lq_forge_offload_psa_patch(&w->doc, r->seen_uid, o->cfg.psa, &patch) != LQ_OK ||
            !lq_refl_render(w, patch, &len)) {
            finish(w, true);
            return;
        }
        e = lq_kreq_merge_patch(q, path, w->body, len);
    } else if (step == ST_NS_DELETE) {
        /* Only the namespace we created or adopted: its UID is the precondition. */
        e = lq_kreq_delete(q, path, r->seen_uid, "Background");
    } else {
        e = lq_kreq_get(q, path);
    }
    lq_refl_send(w, FOREIGN, step, e);
}

static lq_offload_seen_t *seen_find(lq_offload_t *o, const char *name, size_t len)
{
    for (size_t i = 0; i < LQ_OFFLOAD_SEEN_MAX; i++) {
        lq_offload_seen_t *e = &o->seen[i];
        if (e->used && strlen(e->name) == len && memcmp(e->name, name, len) == 0)
            return e;
    }
    return NULL;
}

/* The foreign watch shows a namespace under the name this record wants: it is adopted
 * when its liqo.io/original-name is this record's namespace (it carries our labels, or
 * the watch would not show it), as after a 409 on create; otherwise it is someone
 * else's and is left alone. Returns true when adopted. */
static bool adopt_from_watch(lq_refl_work_t *w)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    const lq_offload_seen_t *e = seen_find(o, r->remote, strlen(r->remote));
    if (!e)
        return false;
    if (strcmp(e->original, r->h.ns) != 0 || !e->uid[0]) {
        w->flags |= F_CONFLICT;
        (void)snprintf(r->message, sizeof r->message,
                       "a namespace named %s already exists in the foreign cluster and is "
                       "not managed by liqolet for this home namespace; it is left alone",
                       r->remote);
        return false;
    }
    memcpy(r->seen, e->name, sizeof r->seen);
    memcpy(r->seen_uid, e->uid, sizeof r->seen_uid);
    r->remote_terminating = e->terminating;
    lq_rtab_mark(&r->h, FOREIGN);
    LQ_INFO("offload", "namespace %s: remote namespace %s is ours (adopted)", r->h.ns, r->seen);
    return true;
}

/* Step 2b: the Pod Security label of our remote namespace, as the foreign watch last saw
 * it (evidence: only ever raised to the configured level, on the UID we own; a stricter
 * level set by the provider stays). Without a watch entry (table overflow) nothing is
 * repaired: the label was written at creation. Returns true when a request was sent. */
static bool psa_action(lq_refl_work_t *w)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    lq_offload_seen_t *e = seen_find(o, r->seen, strlen(r->seen));
    if (!e || strcmp(e->uid, r->seen_uid) != 0 || !lq_forge_offload_psa_weaker(e->psa, o->cfg.psa) ||
        (r->psa_kept_off_uid[0] && strcmp(r->psa_kept_off_uid, r->seen_uid) == 0))
        return false;
    LQ_INFO("offload", "namespace %s: remote namespace %s enforces Pod Security level %s; "
            "setting %s=%s", r->h.ns, r->seen,
            e->psa == LQ_FORGE_OFFLOAD_PSA_NONE ? "(none)" : lq_forge_offload_psa_str(e->psa),
            LQ_FORGE_OFFLOAD_PSA_LABEL, lq_forge_offload_psa_str(o->cfg.psa));
    ns_request(w, ST_NS_PSA, r->seen);
    return true;
}

/* Step 2: the remote namespace. Returns true when a request was sent. */
static bool remote_action(lq_refl_work_t *w, bool want)
{
    lq_offload_rec_t *r = REC(w);
    if (r->spec_bad) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF; /* keep what exists; say why */
        return false;
    }
    bool owned = r->seen_uid[0] != '\0';
    if (!owned && r->remote[0] && adopt_from_watch(w))
        owned = true;
    /* Level-based: a namespace of ours that is terminating is read again once per pass;
     * when the foreign list did not fit in memory, a wanted name is looked up once. */
    if (!(w->flags & F_REFRESHED) &&
        ((owned && remote_of(r) && r->remote_terminating) ||
         (!owned && r->remote[0] && MOD(w)->seen_overflow && !r->probed))) {
        w->flags |= F_REFRESHED;
        ns_request(w, ST_NS_GET, owned ? r->seen : r->remote);
        return true;
    }
    bool stale = owned && remote_of(r) && (!want || !r->remote[0] || strcmp(r->seen, r->remote) != 0);
    if (stale && !r->remote_terminating) {
        LQ_INFO("offload", "namespace %s: deleting remote namespace %s", r->h.ns, r->seen);
        ns_request(w, ST_NS_DELETE, r->seen);
        return true;
    }
    if (!want) {
        r->state = owned && remote_of(r) ? LQ_FORGE_OFFLOAD_NS_TERMINATING : LQ_FORGE_OFFLOAD_NS_NONE;
        return false;
    }
    if (!r->remote[0]) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF; /* eval_name wrote the message */
        return false;
    }
    if (owned && remote_of(r)) {
        r->state = r->remote_terminating ? LQ_FORGE_OFFLOAD_NS_CREATING : LQ_FORGE_OFFLOAD_NS_CREATED;
        return !r->remote_terminating && psa_action(w);
    }
    if (w->flags & F_CONFLICT) {
        r->state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF;
        return false;
    }
    r->state = LQ_FORGE_OFFLOAD_NS_CREATING;
    ns_request(w, ST_NS_CREATE, r->remote);
    return true;
}

/* Step 3: the home namespace: Liqo's scheduling label (set while the namespace is
 * offloaded, as Liqo's webhook would; removed only by a record that asked for it) and the
 * agent's mark, which records at home the remote namespace it owns (name and UID), so a
 * restart can prove what it created. One merge patch when either differs. */
static bool label_action(lq_refl_work_t *w)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    bool set = crd_of(r) ? (!r->deleting && !r->spec_bad && r->pods != LQ_FORGE_OFFLOAD_PODS_LOCAL)
                         : r->flag;
    if (crd_of(r) && r->spec_bad)
        return false; /* leave it as it is */
    lq_offload_label_state_t want = set ? LQ_OFFLOAD_LABEL_SET : LQ_OFFLOAD_LABEL_CLEARED;
    bool mark = r->seen_uid[0] && remote_of(r);
    bool mark_ok = r->mark_known && (mark ? strcmp(r->mark_name, r->seen) == 0 &&
                                                strcmp(r->mark_uid, r->seen_uid) == 0
                                          : !r->mark_name[0]);
    if (r->label == want && mark_ok)
        return false;
    lq_forge_offload_mark_t m = { o->mark_key_, mark ? r->seen : NULL, mark ? r->seen_uid : NULL };
    lq_json_t *patch = NULL;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    if (lq_forge_offload_home_ns_patch(&w->doc, r->pods, set, &m, &patch) != LQ_OK ||
        !lq_refl_render(w, patch, &len) ||
        lq_kapi_path(path, sizeof path, "v1", NULL, "namespaces", r->h.ns, NULL) != LQ_OK) {
        finish(w, true);
        return true;
    }
    lq_refl_send(w, HOME, ST_LABEL, lq_kreq_merge_patch(lq_refl_req(w, -1), path, w->body, len));
    return true;
}

/* Step 4: this agent's key of the status. */
static bool status_action(lq_refl_work_t *w, const lq_json_t *nsof)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
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
    lq_err_t e = lq_forge_offload_status_build(&w->doc, nsof, &in, &conds, &phase, &patch);
    if (e != LQ_OK) {
        LQ_WARN("offload", "namespace %s: cannot build the status (%s)", r->h.ns, lq_err_str(e));
        return false;
    }
    if (lq_forge_offload_status_current(nsof, o->cfg.foreign_name, conds, phase, in.remote_name))
        return false;
    size_t len = 0;
    char path[LQ_KREQ_PATH_MAX];
    if (!lq_refl_render(w, patch, &len) || nsof_path(w, path, sizeof path, "status") != LQ_OK) {
        finish(w, true);
        return true;
    }
    lq_refl_send(w, HOME, ST_STATUS, lq_kreq_merge_patch(lq_refl_req(w, HOME), path, w->body, len));
    return true;
}

/* Runs the first action still needed, or ends the pass. */
static void actions(lq_refl_work_t *w)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    lq_json_reset(&w->doc);
    lq_forge_offload_spec_t spec;
    lq_json_t *nsof = eval_nsof(w, &spec);
    if (crd_of(r) && !nsof) {
        LQ_WARN("offload", "namespace %s: the NamespaceOffloading cannot be read", r->h.ns);
        finish(w, true);
        return;
    }
    if (!crd_of(r)) {
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
        eval_name(w, &spec);
    else
        (void)snprintf(r->message, sizeof r->message,
                       "spec cannot be read (unknown strategy or wrong field type)");
    bool want = crd_of(r) ? (!r->deleting && r->selected) : r->flag;

    if (nsof && !r->deleting && !has_finalizer(nsof, o->finalizer_)) {
        patch_finalizer(w, nsof, true);
        return;
    }
    if (remote_action(w, want) || label_action(w))
        return;
    if (nsof && status_action(w, nsof))
        return;
    if (nsof && r->deleting && r->state == LQ_FORGE_OFFLOAD_NS_NONE && has_finalizer(nsof, o->finalizer_)) {
        patch_finalizer(w, nsof, false);
        return;
    }
    finish(w, false);
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
static void selected_then_actions(lq_refl_work_t *w, bool node_in_resp)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    lq_json_reset(&w->doc);
    lq_forge_offload_spec_t spec;
    lq_json_t *nsof = eval_nsof(w, &spec);
    r->selected = true;
    if (nsof && !r->spec_bad && !r->deleting && spec.cluster_selector &&
        lq_json_size(lq_json_get(spec.cluster_selector, "nodeSelectorTerms")) > 0) {
        if (!node_in_resp) {
            char path[LQ_KREQ_PATH_MAX];
            if (lq_kapi_path(path, sizeof path, "v1", NULL, "nodes", o->cfg.node_name, NULL) != LQ_OK) {
                finish(w, true);
                return;
            }
            lq_refl_send(w, HOME, ST_GET_NODE, lq_kreq_get(lq_refl_req(w, FOREIGN), path));
            return;
        }
        lq_json_t *node = NULL;
        lq_forge_offload_label_t labels[MAX_NODE_LABELS];
        size_t n = 0, invalid = 0;
        if (lq_json_parse(&w->doc, w->obj[FOREIGN], w->req.resp_len, &node) != LQ_OK) {
            failed(w, "the virtual node cannot be parsed", LQ_EPROTO);
            return;
        }
        node_labels(node, labels, &n);
        if (lq_forge_offload_selector_match(spec.cluster_selector, labels, n, o->cfg.node_name,
                                            &r->selected, &invalid) != LQ_OK)
            r->selected = false;
        if (invalid > 0)
            LQ_WARN("offload", "namespace %s: %zu clusterSelector term(s) are invalid and match "
                    "nothing", r->h.ns, invalid);
    }
    actions(w);
}

/* ST_NS_GET: the namespace under the name we read is ours (adopted) or someone else's. */
static void remote_read(lq_refl_work_t *w)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    lq_json_t *obj = NULL;
    lq_json_reset(&w->doc);
    if (lq_json_parse(&w->doc, w->obj[FOREIGN], w->req.resp_len, &obj) != LQ_OK) {
        failed(w, "parse the remote namespace", LQ_EPROTO);
        return;
    }
    char name[LQ_FORGE_OFFLOAD_NAME_BUF], uid[sizeof r->seen_uid];
    bool ours = lq_forge_offload_remote_ns_owned(obj, o->cfg.home_id, o->cfg.foreign_id, r->h.ns) &&
                lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "name"), name, sizeof name) == LQ_OK &&
                lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "uid"), uid, sizeof uid) == LQ_OK;
    /* The one we own keeps its UID; another object under our old name is not ours. */
    if (ours && r->seen_uid[0] && strcmp(uid, r->seen_uid) != 0 && strcmp(name, r->seen) == 0)
        ours = false;
    if (ours) {
        if (!r->seen_uid[0])
            LQ_INFO("offload", "namespace %s: remote namespace %s is ours (adopted)", r->h.ns, name);
        memcpy(r->seen, name, sizeof r->seen);
        memcpy(r->seen_uid, uid, sizeof r->seen_uid);
        lq_rtab_mark(&r->h, FOREIGN);
        r->remote_terminating = lq_json_deleting(obj);
        lq_offload_seen_t *e = seen_find(o, name, strlen(name));
        if (e && strcmp(e->uid, uid) == 0)
            e->psa = lq_forge_offload_psa_of(obj); /* fresher than the last watch event */
    } else {
        w->flags |= F_CONFLICT;
        (void)snprintf(r->message, sizeof r->message,
                       "a namespace named %s already exists in the foreign cluster and is "
                       "not managed by liqolet for this home cluster; it is left alone",
                       r->remote);
    }
    actions(w);
}

static void step(lq_refl_work_t *w, lq_err_t err)
{
    lq_offload_t *o = MOD(w);
    lq_offload_rec_t *r = REC(w);
    switch (w->step) {
    case ST_START: {
        o->stats.passes++;
        if (!crd_of(r)) {
            actions(w);
            return;
        }
        char path[LQ_KREQ_PATH_MAX];
        if (nsof_path(w, path, sizeof path, NULL) != LQ_OK) {
            finish(w, true);
            return;
        }
        lq_refl_send(w, HOME, ST_GET_NSOF, lq_kreq_get(lq_refl_req(w, HOME), path));
        return;
    }
    case ST_GET_NSOF:
        if (err == LQ_ENOTFOUND) {
            lq_rtab_set_present(&r->h, HOME, false);
            w->len[HOME] = 0;
            actions(w);
        } else if (err != LQ_OK) {
            failed(w, "GET NamespaceOffloading", err);
        } else {
            w->len[HOME] = w->req.resp_len;
            note_own_rv(w);
            selected_then_actions(w, false);
        }
        return;
    case ST_GET_NODE:
        if (err != LQ_OK)
            failed(w, "GET the virtual node for the clusterSelector", err);
        else
            selected_then_actions(w, true);
        return;
    case ST_FIN_ADD:
    case ST_FIN_DEL:
    case ST_STATUS:
        if (err == LQ_ECONFLICT) {
            /* Someone else wrote in between: start over on fresh data. */
            o->stats.conflicts++;
            r->h.dirty = true;
            finish(w, false);
            return;
        }
        if (err == LQ_ENOTFOUND) {
            lq_rtab_set_present(&r->h, HOME, false);
            w->len[HOME] = 0;
            actions(w);
            return;
        }
        if (err != LQ_OK) {
            failed(w, w->step == ST_STATUS ? "status patch" : "finalizer patch", err);
            return;
        }
        if (w->step == ST_STATUS)
            o->stats.status_patches++;
        else
            o->stats.finalizer_patches++;
        w->len[HOME] = w->req.resp_len;
        note_own_rv(w);
        if (w->step == ST_FIN_DEL) {
            if (r->deleting) /* the object is gone or going */
                lq_rtab_set_present(&r->h, HOME, false);
            w->len[HOME] = 0;
        }
        actions(w);
        return;
    case ST_NS_CREATE:
        if (err == LQ_OK) {
            o->stats.creates++;
            lq_rtab_mark(&r->h, FOREIGN);
            r->remote_terminating = false;
            memcpy(r->seen, r->remote, sizeof r->seen);
            (void)lq_scan_uid_rv(w->obj[FOREIGN], w->req.resp_len, r->seen_uid,
                                 sizeof r->seen_uid, NULL, 0);
            LQ_INFO("offload", "namespace %s: remote namespace %s created", r->h.ns, r->remote);
            actions(w);
        } else if (err == LQ_ECONFLICT) {
            w->flags |= F_REFRESHED;
            ns_request(w, ST_NS_GET, r->remote); /* AlreadyExists: is it ours? */
        } else {
            failed(w, "create the remote namespace", err);
        }
        return;
    case ST_NS_GET:
        if (err == LQ_OK || err == LQ_ENOTFOUND)
            r->probed = true; /* looked for: no need to look again this life */
        if (err == LQ_ENOTFOUND) {
            if (r->seen_uid[0] && strcmp(w->req.path + strlen("/api/v1/namespaces/"), r->seen) == 0) {
                r->seen_uid[0] = '\0'; /* ours is gone */
                lq_rtab_set_present(&r->h, FOREIGN, false);
            } else if (!r->seen_uid[0]) {
                lq_rtab_set_present(&r->h, FOREIGN, false);
            }
            r->remote_terminating = false;
            actions(w);
            return;
        }
        if (err != LQ_OK) {
            failed(w, "GET the remote namespace", err);
            return;
        }
        remote_read(w);
        return;
    case ST_NS_PSA:
        if (err == LQ_OK) {
            o->stats.psa_patches++;
            /* The namespace as stored: did the foreign cluster keep the label? An answer
             * that does not parse is taken as kept, as before (the watch event tells). */
            lq_json_t *ns = NULL;
            lq_json_reset(&w->doc);
            bool read = lq_json_parse(&w->doc, w->obj[FOREIGN], w->req.resp_len, &ns) == LQ_OK;
            lq_forge_offload_psa_t now = read ? lq_forge_offload_psa_of(ns) : o->cfg.psa;
            lq_offload_seen_t *e = seen_find(o, r->seen, strlen(r->seen));
            if (e && strcmp(e->uid, r->seen_uid) == 0)
                e->psa = now;
            if (lq_forge_offload_psa_weaker(now, o->cfg.psa)) {
                LQ_WARN("offload", "namespace %s: the foreign cluster does not keep %s=%s on "
                        "remote namespace %s (an admission webhook?); not set again for it",
                        r->h.ns, LQ_FORGE_OFFLOAD_PSA_LABEL, lq_forge_offload_psa_str(o->cfg.psa),
                        r->seen);
                memcpy(r->psa_kept_off_uid, r->seen_uid, sizeof r->psa_kept_off_uid);
            }
        } else if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT) {
            /* gone, or the UID in the patch is not the name's: ours is gone either way, and
             * what the watch said of it is stale (no adoption from it) */
            lq_offload_seen_t *e = seen_find(o, r->seen, strlen(r->seen));
            if (e && strcmp(e->uid, r->seen_uid) == 0)
                e->used = false;
            lq_rtab_set_present(&r->h, FOREIGN, false);
            r->seen_uid[0] = '\0';
            r->remote_terminating = false;
        } else {
            failed(w, "label the remote namespace's Pod Security level", err);
            return;
        }
        actions(w);
        return;
    case ST_NS_DELETE:
        if (err == LQ_OK) {
            o->stats.deletes++;
            r->remote_terminating = true;
            w->flags |= F_REFRESHED;
        } else if (err == LQ_ENOTFOUND || err == LQ_ECONFLICT) {
            /* gone, or the UID precondition failed: ours is gone either way */
            lq_rtab_set_present(&r->h, FOREIGN, false);
            r->seen_uid[0] = '\0';
            r->remote_terminating = false;
        } else {
            failed(w, "delete the remote namespace", err);
            return;
        }
        actions(w);
        return;
    case ST_LABEL:
        if (err != LQ_OK && err != LQ_ENOTFOUND) {
            failed(w, "label the home namespace", err);
            return;
        }
        o->stats.label_patches++;
        r->mark_known = true;
        if (r->seen_uid[0] && remote_of(r)) {
            memcpy(r->mark_name, r->seen, sizeof r->mark_name);
            memcpy(r->mark_uid, r->seen_uid, sizeof r->mark_uid);
        } else {
            r->mark_name[0] = r->mark_uid[0] = '\0';
        }
        r->label = crd_of(r) ? (!r->deleting && r->pods != LQ_FORGE_OFFLOAD_PODS_LOCAL
                                    ? LQ_OFFLOAD_LABEL_SET
                                    : LQ_OFFLOAD_LABEL_CLEARED)
                             : (r->flag ? LQ_OFFLOAD_LABEL_SET : LQ_OFFLOAD_LABEL_CLEARED);
        actions(w);
        return;
    default:
        return;
    }
}

/* --- watches (through the engine) ------------------------------------------------------- */

/* Keeps the evidence table in step with the foreign watch (name, uid, original-name,
 * terminating). Returns the entry, or NULL (deleted, unreadable, or no room: then names
 * are looked up by GET). */
static lq_offload_seen_t *note_foreign(lq_offload_t *o, const lq_watch_event_t *ev)
{
    char name[LQ_FORGE_OFFLOAD_NAME_BUF], uid[48];
    if (lq_scan_copy(&ev->meta.name, name, sizeof name) != LQ_OK ||
        lq_scan_copy(&ev->meta.uid, uid, sizeof uid) != LQ_OK)
        return NULL;
    lq_offload_seen_t *e = seen_find(o, name, strlen(name));
    if (ev->type == LQ_WATCH_DELETED) {
        if (e && strcmp(e->uid, uid) == 0)
            e->used = false;
        return NULL;
    }
    lq_json_t *root = NULL;
    lq_json_reset(&o->evdoc_);
    if (ev->oversized || lq_json_parse(&o->evdoc_, ev->data, ev->len, &root) != LQ_OK)
        return NULL;
    const lq_json_t *obj = ev->wrapped ? lq_json_get(root, "object") : root;
    for (size_t i = 0; i < LQ_OFFLOAD_SEEN_MAX && !e; i++)
        if (!o->seen[i].used)
            e = &o->seen[i];
    if (!e) {
        if (!o->seen_overflow)
            LQ_WARN("offload", "more foreign namespaces carry our labels than %u; remote names "
                    "are looked up one by one", (unsigned)LQ_OFFLOAD_SEEN_MAX);
        o->seen_overflow = true;
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->used = true;
    e->mark = true;
    memcpy(e->name, name, sizeof e->name);
    memcpy(e->uid, uid, sizeof e->uid);
    (void)lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "annotations", LQ_LIQO_ANN_ORIGINAL_NAME),
                           e->original, sizeof e->original);
    e->terminating = lq_json_deleting(obj);
    e->psa = lq_forge_offload_psa_of(obj);
    return e;
}

/* Home: NamespaceOffloading <ns>/offloading -> record <ns>. Foreign: a namespace whose
 * name a record owns or wants -> that record (never the annotation's word). */
static bool key(lq_refl_kind_t *k, unsigned side, const lq_watch_event_t *ev, const char **ns,
                size_t *nl, const char **name, size_t *len)
{
    lq_offload_t *o = k->ctx;
    const lq_scan_meta_t *m = &ev->meta;
    *name = "";
    *len = 0;
    if (!m->name.found || m->name.escaped)
        return false;
    if (side == HOME) {
        if (!m->ns.found || m->ns.escaped)
            return false;
        if (!lq_scan_str_eq(&m->name, LQ_FORGE_OFFLOAD_OBJECT_NAME, strlen(LQ_FORGE_OFFLOAD_OBJECT_NAME))) {
            LQ_DEBUG("offload", "NamespaceOffloading %.*s/%.*s ignored: it must be named %s",
                     (int)m->ns.len, m->ns.p, (int)m->name.len, m->name.p,
                     LQ_FORGE_OFFLOAD_OBJECT_NAME);
            return false;
        }
        *ns = m->ns.p;
        *nl = m->ns.len;
        return true;
    }
    lq_offload_seen_t *e = note_foreign(o, ev);
    for (size_t i = 0; i < lq_rtab_span(&k->tab); i++) {
        const lq_offload_rec_t *r = rec_at(o, i);
        if (r->h.used && (lq_scan_str_eq(&m->name, r->seen, strlen(r->seen)) ||
                          lq_scan_str_eq(&m->name, r->remote, strlen(r->remote)))) {
            *ns = r->h.ns;
            *nl = strlen(r->h.ns);
            return true;
        }
    }
    if (e && ev->type != LQ_WATCH_DELETED) {
        o->stats.ignored_foreign++;
        LQ_DEBUG("offload", "foreign namespace %s carries our labels but no home namespace "
                 "asks for it; left alone", e->name);
    }
    return false;
}

static bool seen_foreign(lq_offload_t *o, lq_offload_rec_t *r, const lq_watch_event_t *ev)
{
    const lq_scan_meta_t *m = &ev->meta;
    bool owned = r->seen_uid[0] != '\0' && lq_scan_str_eq(&m->name, r->seen, strlen(r->seen));
    if (!owned)
        return true; /* under the wanted name: a pass decides whether it is ours */
    if (!lq_scan_str_eq(&m->uid, r->seen_uid, strlen(r->seen_uid)))
        return false; /* another object under a name we used: not ours, not trusted */
    if (ev->type == LQ_WATCH_DELETED) {
        lq_rtab_set_present(&r->h, FOREIGN, false);
        r->remote_terminating = false;
        r->seen_uid[0] = '\0';
        return true;
    }
    lq_rtab_mark(&r->h, FOREIGN);
    const lq_offload_seen_t *e = seen_find(o, r->seen, strlen(r->seen));
    if (e)
        r->remote_terminating = e->terminating;
    return true;
}

static bool seen(lq_refl_kind_t *k, lq_rtab_hdr_t *h, unsigned side, const lq_watch_event_t *ev)
{
    lq_offload_t *o = k->ctx;
    lq_offload_rec_t *r = (lq_offload_rec_t *)(void *)h;
    if (side == FOREIGN)
        return seen_foreign(o, r, ev);
    bool was = crd_of(r);
    if (ev->type == LQ_WATCH_DELETED) {
        lq_rtab_set_present(h, HOME, false);
        return true;
    }
    lq_rtab_mark(h, HOME);
    if (was && lq_scan_str_eq(&ev->meta.rv, h->own_rv, strlen(h->own_rv)))
        return false; /* the echo of our own write */
    return true;
}

static void full(lq_refl_kind_t *k, const lq_watch_event_t *ev)
{
    (void)k;
    LQ_WARN("offload", "namespace table full (%u records): namespace %.*s waits until one "
            "frees", (unsigned)LQ_MAX_NAMESPACES, (int)ev->meta.ns.len, ev->meta.ns.p);
}

static void relist(lq_refl_kind_t *k, unsigned side)
{
    lq_offload_t *o = k->ctx;
    if (side != FOREIGN)
        return;
    for (size_t i = 0; i < LQ_OFFLOAD_SEEN_MAX; i++)
        o->seen[i].mark = false;
    o->seen_overflow = false;
}

static void synced(lq_refl_kind_t *k, unsigned side, size_t lost)
{
    lq_offload_t *o = k->ctx;
    (void)lost;
    for (size_t i = 0; i < LQ_OFFLOAD_SEEN_MAX && side == FOREIGN; i++)
        if (!o->seen[i].mark)
            o->seen[i].used = false; /* gone while the watch was down */
    if (side == HOME) {
        if (o->crd_missing)
            LQ_INFO("offload", "the NamespaceOffloading resource is installed now");
        o->crd_missing = false;
    }
    for (size_t i = 0; i < lq_rtab_span(&k->tab); i++) {
        lq_offload_rec_t *r = rec_at(o, i);
        if (side == FOREIGN && r->h.used && !remote_of(r))
            r->remote_terminating = false;
    }
    /* The first list of a side: every record gets a pass once both are known. */
    lq_rtab_dirty_all(&k->tab);
}

static void http_error(lq_refl_kind_t *k, unsigned side, int status)
{
    lq_offload_t *o = k->ctx;
    if (side != HOME || status != 404 || o->crd_missing)
        return;
    o->crd_missing = true;
    LQ_INFO("offload", "the home cluster has no NamespaceOffloading resource (CRD "
            "offloading.liqo.io not installed): offloading only the --offload namespaces; "
            "checking again from time to time");
    for (size_t i = 0; i < lq_rtab_span(&k->tab); i++) {
        lq_offload_rec_t *r = rec_at(o, i);
        if (r->h.used && (crd_of(r) || !k->synced[HOME])) {
            lq_rtab_set_present(&r->h, HOME, false);
            lq_rtab_dirty(&k->tab, &r->h);
        }
    }
    k->synced[HOME] = true;
}

/* --- the marks of a previous run (home namespaces) --------------------------------------- */

#define MARKS_PAGE 50

static void marks_get(lq_offload_t *o);

/* One page of home namespaces with our mark: each gets a record that owns the remote
 * namespace the mark names (its UID is the proof), unless a record already knows better. */
static lq_err_t marks_page(lq_offload_t *o, size_t len, bool *more)
{
    lq_json_t *root = NULL;
    lq_json_reset(&o->evdoc_);
    lq_err_t e = lq_json_parse(&o->evdoc_, o->mbuf_, len, &root);
    if (e != LQ_OK)
        return e;
    for (const lq_json_t *it = lq_json_first(lq_json_get(root, "items")); it; it = lq_json_next(it)) {
        lq_json_str_t ns;
        char name[LQ_FORGE_OFFLOAD_NAME_BUF], uid[48];
        if (lq_json_str(LQ_JSON_AT(it, "metadata", "name"), &ns) != LQ_OK ||
            lq_json_str_copy(LQ_JSON_AT(it, "metadata", "labels", o->mark_key_), name, sizeof name) != LQ_OK ||
            lq_json_str_copy(LQ_JSON_AT(it, "metadata", "annotations", o->mark_key_), uid, sizeof uid) != LQ_OK ||
            !lq_names_dns_label(name, strlen(name)) || !uid[0])
            continue;
        lq_offload_rec_t *r = (lq_offload_rec_t *)(void *)lq_rtab_get(&o->kind.tab, ns.p, ns.len, "", 0);
        if (!r) {
            LQ_WARN("offload", "namespace table full: the mark of namespace %.*s waits",
                    (int)ns.len, ns.p);
            continue;
        }
        r->mark_known = true;
        memcpy(r->mark_name, name, sizeof r->mark_name);
        memcpy(r->mark_uid, uid, sizeof r->mark_uid);
        if (!r->seen_uid[0]) {
            memcpy(r->seen, name, sizeof r->seen);
            memcpy(r->seen_uid, uid, sizeof r->seen_uid);
        }
        lq_rtab_dirty(&o->kind.tab, &r->h);
    }
    *more = lq_json_str_copy(LQ_JSON_AT(root, "metadata", "continue"), o->cont_, sizeof o->cont_) == LQ_OK &&
            o->cont_[0];
    return LQ_OK;
}

static void marks_done(lq_kreq_t *q, lq_err_t err, void *ctx)
{
    lq_offload_t *o = ctx;
    bool more = false;
    if (err == LQ_OK)
        err = marks_page(o, q->resp_len, &more);
    if (err != LQ_OK) {
        LQ_WARN("offload", "cannot list the home namespaces this agent marked: %s (%s); retrying",
                lq_err_str(err), q->message);
        o->cont_[0] = '\0';
        lq_loop_timer_start(lq_refl_loop(o->kind.r), &o->mtimer_, lq_backoff_next(&o->mbo_));
        return;
    }
    if (more) {
        marks_get(o);
        return;
    }
    o->marks_listed = true;
    LQ_DEBUG("offload", "home namespaces marked by this agent: %u records",
             (unsigned)o->kind.tab.stats.records);
    /* the foreign namespaces listed so far may belong to records made just now */
    lq_refl_relist(&o->kind, FOREIGN);
    lq_refl_kick(o->kind.r);
}

static void marks_get(lq_offload_t *o)
{
    char path[LQ_KREQ_PATH_MAX];
    int n = snprintf(path, sizeof path, "/api/v1/namespaces?labelSelector=%s&limit=%u%s%s",
                     o->mark_key_, MARKS_PAGE, o->cont_[0] ? "&continue=" : "", o->cont_);
    lq_kreq_init(&o->mreq_, o->mbuf_, sizeof o->mbuf_, marks_done, o);
    if (n < 0 || (size_t)n >= sizeof path || lq_kreq_get(&o->mreq_, path) != LQ_OK ||
        lq_kreq_submit(lq_refl_client(o->kind.r, HOME), &o->mreq_) != LQ_OK) {
        o->cont_[0] = '\0';
        lq_loop_timer_start(lq_refl_loop(o->kind.r), &o->mtimer_, lq_backoff_next(&o->mbo_));
    }
}

static void marks_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    marks_get(ctx);
}

lq_err_t lq_offload_start(lq_offload_t *o)
{
    o->cont_[0] = '\0';
    marks_get(o);
    return LQ_OK;
}

/* Passes wait until the marks of a previous run are known. */
static bool ready(lq_refl_kind_t *k)
{
    return ((lq_offload_t *)k->ctx)->marks_listed;
}

/* --- management -------------------------------------------------------------------------- */

static void snapshot(lq_refl_kind_t *k, lq_mgmt_snapshot_t *s)
{
    lq_offload_t *o = k->ctx;
    for (size_t i = 0; i < lq_rtab_span(&k->tab) && s->n_ns < LQ_MAX_NAMESPACES; i++) {
        const lq_offload_rec_t *r = rec_at(o, i);
        if (!r->h.used)
            continue;
        lq_mgmt_ns_t *n = &s->ns[s->n_ns++];
        n->local = r->h.ns;
        n->remote = remote_of(r) && r->seen_uid[0] ? r->seen : "";
        n->state = lq_offload_state_str(r->state);
        memcpy(n->items, r->items_, sizeof n->items);
        memcpy(n->errors, r->errors_, sizeof n->errors);
    }
}

static const lq_refl_desc_t desc = {
    .name = "Namespace", .table = "namespace records", .log = "offload",
    .rec_size = sizeof(lq_offload_rec_t),
    .max_workers = 1, /* one namespace at a time: the order of writes stays simple */
    .retry_base_ms = RETRY_BASE_MS, .retry_max_ms = RETRY_MAX_MS,
    /* home: NamespaceOffloadings (an optional CRD; the path of the version in use is set by
     * lq_offload_init); foreign: namespaces with our labels */
    .watch = { { NULL, true, 60000 }, { "/api/v1/namespaces", false, 0 } },
    .key = key, .seen = seen, .full = full, .step = step, .ready = ready, .relist = relist,
    .synced = synced, .http_error = http_error, .mgmt_kind = -1, .snapshot = snapshot,
};

/* --- set-up ------------------------------------------------------------------------- */

lq_err_t lq_offload_init(lq_offload_t *o, lq_refl_t *refl, const lq_offload_cfg_t *cfg)
{
    memset(o, 0, offsetof(lq_offload_t, evarena_));
    if (!cfg->home_id || !cfg->home_id[0] || !cfg->home_name || !cfg->home_name[0] ||
        !cfg->foreign_id || !cfg->foreign_id[0] || !cfg->foreign_name || !cfg->foreign_name[0] ||
        !cfg->node_name || !cfg->node_name[0])
        return LQ_EINVAL;
    o->cfg = *cfg;
    o->gv_ = cfg->nsof_gv && strcmp(cfg->nsof_gv, LQ_LIQO_OFFLOADING_GV_V1BETA1) == 0
                 ? LQ_LIQO_OFFLOADING_GV_V1BETA1 : LQ_LIQO_OFFLOADING_GV_V1ALPHA1;
    (void)snprintf(o->watch_path_, sizeof o->watch_path_, "/apis/%s/" RESOURCE, o->gv_);
    o->desc_ = desc;
    o->desc_.watch[HOME].path = o->watch_path_;
    unsigned char digest[32];
    lq_err_t e = lq_tls_sha256(cfg->home_id, strlen(cfg->home_id), digest);
    if (e != LQ_OK)
        return e;
    lq_forge_offload_hash_suffix(digest, o->suffix_);
    int n = snprintf(o->finalizer_, sizeof o->finalizer_, "%s%s", LQ_OFFLOAD_FINALIZER_PREFIX,
                     cfg->foreign_name);
    if (n < 0 || (size_t)n >= sizeof o->finalizer_ ||
        lq_refl_owner_selector(o->ns_sel_, sizeof o->ns_sel_, cfg->home_id, cfg->foreign_id) != LQ_OK)
        return LQ_ETOOBIG;
    n = snprintf(o->mark_key_, sizeof o->mark_key_, "%s%s", LQ_FORGE_OFFLOAD_MARK_PREFIX,
                 cfg->foreign_name);
    if (n < 0 || (size_t)n >= sizeof o->mark_key_ || !lq_names_qualified_name(o->mark_key_, (size_t)n))
        return LQ_ETOOBIG; /* the foreign name is too long for a label key */
    lq_json_doc_init(&o->evdoc_, o->evarena_, sizeof o->evarena_);
    lq_loop_timer_init(&o->mtimer_, marks_timer, o);
    lq_backoff_init(&o->mbo_, 1000, 30000, 17);
    char *const bufs[LQ_RTAB_SIDES] = { o->crd_buf_, o->ns_buf_ };
    const size_t caps[LQ_RTAB_SIDES] = { sizeof o->crd_buf_, sizeof o->ns_buf_ };
    const char *const labels[LQ_RTAB_SIDES] = { NULL, o->ns_sel_ };
    e = lq_refl_kind_add(refl, &o->kind, &o->desc_, o, o->recs, LQ_MAX_NAMESPACES, bufs, caps, labels,
                         NULL);
    if (e != LQ_OK)
        return e;
    for (size_t i = 0; i < cfg->n_flag_ns; i++) {
        const char *eq = strchr(cfg->flag_ns[i], '=');
        size_t len = eq ? (size_t)(eq - cfg->flag_ns[i]) : strlen(cfg->flag_ns[i]);
        lq_offload_rec_t *r = (lq_offload_rec_t *)(void *)lq_rtab_get(&o->kind.tab, cfg->flag_ns[i],
                                                                      len, "", 0);
        if (!r || len > LQ_FORGE_OFFLOAD_NAME_MAX || (eq && strlen(eq + 1) >= sizeof r->flag_remote))
            return LQ_ETOOBIG;
        if (eq)
            (void)snprintf(r->flag_remote, sizeof r->flag_remote, "%s", eq + 1);
        r->flag = true;
        lq_rtab_dirty(&o->kind.tab, &r->h);
    }
    return LQ_OK;
}

const char *lq_offload_pick_gv(const char *body, size_t len)
{
    unsigned char arena[8192];
    lq_json_doc_t doc;
    lq_json_t *root = NULL;
    if (!body || len == 0)
        return LQ_LIQO_OFFLOADING_GV_V1ALPHA1;
    lq_json_doc_init(&doc, arena, sizeof arena);
    if (lq_json_parse(&doc, body, len, &root) != LQ_OK ||
        !lq_json_str_is(lq_json_get(root, "name"), LQ_LIQO_OFFLOADING_GROUP))
        return LQ_LIQO_OFFLOADING_GV_V1ALPHA1;
    for (const lq_json_t *v = lq_json_first(lq_json_get(root, "versions")); v; v = lq_json_next(v))
        if (lq_json_str_is(lq_json_get(v, "groupVersion"), LQ_LIQO_OFFLOADING_GV_V1BETA1))
            return LQ_LIQO_OFFLOADING_GV_V1BETA1;
    return LQ_LIQO_OFFLOADING_GV_V1ALPHA1;
}
