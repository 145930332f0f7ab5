/* liqolet: ConfigMap and Secret reflection (include/liqolet/mirror.h; Liqo v0.8 §1.1, §1.6,
 * §1.7; DESIGN.md Decisions 3, 4, 5, 16, 17).
 *
 * Inputs (one cluster-wide watch per side and kind, Decision 3):
 *   home:    every object of the kind; events outside offloaded namespaces are dropped
 *            by their key (a new offloaded namespace lists the home side again);
 *   foreign: objects with our ownership labels, mapped back through the remote
 *            namespaces this agent owns (kube-root-ca.crt.<id> back to kube-root-ca.crt).
 * Watches only mark records; a pass (on the engine's shared workers) is level-based:
 *
 *   namespace not offloaded      -> forget the record (the remote namespace, and every
 *                                   copy in it, goes with the offloading)
 *   remote namespace not usable  -> wait (re-queued when it is)
 *   GET the home object          -> gone or terminating: delete the copy we own (uid
 *                                   precondition), forget the record
 *   forge the remote body (hash) -> not wanted (policy, SA token): delete the copy we own
 *   no remote object owned yet   -> GET its metadata: absent -> apply; ours (labels and
 *                                   liqolet.io/home-uid) -> adopt; else FailedReflection
 *   owned                        -> apply (with metadata.uid) unless the body's hash and
 *                                   the remote version are those of our last write
 * Objects whose body does not fit a worker take the pipe (a streamed GET piped through
 * the forge into a chunked apply): once to hash, once more to write when needed. */
#include <stdio.h>
#include <string.h>

#include "liqolet/kapi.h"
#include "liqolet/liqo.h"
#include "liqolet/log.h"
#include "liqolet/forge_eps.h"
#include "liqolet/forge_svc.h"
#include "liqolet/mirror.h"

#define HOME LQ_RTAB_HOME
#define FOREIGN LQ_RTAB_FOREIGN
#define FIELD_MANAGER "reflection.liqo.io"
#define RETRY_BASE_MS 500
#define RETRY_MAX_MS 30000
#define PIPE_WAIT_MS 500

enum {
    ST_START = 0,
    ST_GET_HOME,
    ST_GET_REMOTE,
    ST_APPLY,
    ST_DEL_REMOTE,
    ST_PIPE_HASH,
    ST_PIPE_WRITE,
    ST_GET_DRIFT,
    ST_GATE_GET,
};

#define F_GONE 1u      /* the home object is gone or terminating */
#define F_LARGE 2u     /* the body takes the pipe */
#define F_GATE 4u      /* the gated body of an EndpointSlice (home unreachable) */

#define REC(w) ((lq_mirror_rec_t *)(void *)(w)->rec)
#define MOD(w) ((lq_mirror_t *)(w)->k->ctx)

/* What differs between the kinds: names, API group, Liqo's event source. */
static const struct kind_info {
    const char *name, *resource, *gv, *component, *table, *log;
    lq_mgmt_kind_t mgmt;
} kinds[LQ_MIRROR_KINDS] = {
    [LQ_MIRROR_CONFIGMAP] = { "ConfigMap", "configmaps", "v1", "liqo-configmap-reflection",
                              "configmap records", "configmaps", LQ_MGMT_KIND_CONFIGMAP },
    [LQ_MIRROR_SECRET] = { "Secret", "secrets", "v1", "liqo-secret-reflection",
                           "secret records", "secrets", LQ_MGMT_KIND_SECRET },
    [LQ_MIRROR_SERVICE] = { "Service", "services", "v1", "liqo-service-reflection",
                            "service records", "services", LQ_MGMT_KIND_SERVICE },
    [LQ_MIRROR_INGRESS] = { "Ingress", "ingresses", "networking.k8s.io/v1",
                            "liqo-ingress-reflection", "ingress records", "ingresses",
                            LQ_MGMT_KIND_INGRESS },
    [LQ_MIRROR_ENDPOINTSLICE] = { "EndpointSlice", "endpointslices", "discovery.k8s.io/v1",
                                  "liqo-endpointslice-reflection", "endpointslice records",
                                  "endpointslices", LQ_MGMT_KIND_ENDPOINTSLICE },
};

static const char *kind_name(const lq_mirror_t *m)
{
    return kinds[m->cfg.kind].name;
}

static const char *resource(const lq_mirror_t *m)
{
    return kinds[m->cfg.kind].resource;
}

static const char *component(const lq_mirror_t *m)
{
    return kinds[m->cfg.kind].component;
}

static lq_mgmt_kind_t mgmt_kind(const lq_mirror_t *m)
{
    return kinds[m->cfg.kind].mgmt;
}

/* The conf forge's kind: ConfigMaps are the only ones renamed (kube-root-ca.crt); every
 * other kind keeps its name, as a Secret does. */
static lq_forge_conf_kind_t conf_kind(const lq_mirror_t *m)
{
    return m->cfg.kind == LQ_MIRROR_CONFIGMAP ? LQ_FORGE_CONF_CONFIGMAP : LQ_FORGE_CONF_SECRET;
}

/* The API server's own Service and EndpointSlice (`kubernetes` in `default`): never. */
static bool never(const lq_mirror_t *m, const char *ns, size_t nl, const char *name, size_t len)
{
    return (m->cfg.kind == LQ_MIRROR_SERVICE || m->cfg.kind == LQ_MIRROR_ENDPOINTSLICE) &&
           nl == 7 && memcmp(ns, "default", 7) == 0 && len == 10 &&
           memcmp(name, "kubernetes", 10) == 0;
}

static lq_mirror_rec_t *rec_at(const lq_mirror_t *m, size_t i)
{
    return (lq_mirror_rec_t *)(void *)lq_rtab_at(&m->kind.tab, i);
}

/* Events name the object, never its data (Secrets). */
#define EMIT(m, r, warn, reason, ...)                                                      \
    do {                                                                                   \
        if ((m)->cfg.events)                                                               \
            lq_events_emit_on((m)->cfg.events, kind_name(m), component(m), (r)->h.ns,        \
                              (r)->h.name, (r)->home_uid, (warn), (reason), __VA_ARGS__);  \
    } while (0)

static void count(lq_refl_work_t *w, bool ok)
{
    lq_mirror_t *m = MOD(w);
    lq_offload_count(m->offload_, w->rec->ns, mgmt_kind(m), ok);
}

static void failed(lq_refl_work_t *w, const char *what, lq_err_t err)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    count(w, false);
    r->state = LQ_MIRROR_FAILING;
    LQ_WARN(m->kind.d->log, "%s %s/%s: %s: %s (%s); retrying", kind_name(m), r->h.ns, r->h.name,
            what, lq_err_str(err), w->req.message);
    if (!r->failed_logged)
        EMIT(m, r, true, w->step == ST_DEL_REMOTE ? "FailedDeletion" : "FailedReflection",
             "Error reflecting object to cluster %s: %s: %s", m->cfg.foreign_name, what,
             w->req.message[0] ? w->req.message : lq_err_str(err));
    r->failed_logged = true;
    lq_refl_finish(w, LQ_RTAB_RETRY, 0);
}

static bool obj_path(const lq_mirror_t *m, char *path, size_t cap, const char *ns, const char *name)
{
    return lq_kapi_path(path, cap, kinds[m->cfg.kind].gv, ns, resource(m), name, NULL) == LQ_OK;
}

/* The remote name of the record's object (kube-root-ca.crt renamed). */
static bool remote_name(const lq_mirror_t *m, const lq_mirror_rec_t *r, char *out, size_t cap)
{
    return lq_forge_conf_remote_name(conf_kind(m), r->h.name, strlen(r->h.name), m->cfg.home_id,
                                     out, cap) == LQ_OK;
}

static bool params(lq_refl_work_t *w, const char *rns, char *rname, size_t cap,
                   lq_forge_conf_params_t *p)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    if (!remote_name(m, r, rname, cap))
        return false;
    memset(p, 0, sizeof *p);
    p->kind = conf_kind(m);
    p->remote_name = rname;
    p->remote_ns = rns;
    p->home_id = m->cfg.home_id;
    p->foreign_id = m->cfg.foreign_id;
    p->home_uid = r->home_uid;
    p->remote_uid = r->remote_uid[0] ? r->remote_uid : NULL;
    return true;
}

/* Forgets the remote object the record owned (deleted, or no longer ours). */
static void disown(lq_mirror_rec_t *r)
{
    r->remote_uid[0] = '\0';
    r->remote_rv[0] = '\0';
    r->h.own_rv[0] = '\0';
    r->intent = 0;
    lq_rtab_set_present(&r->h, FOREIGN, false);
}

static void get_remote_meta(lq_refl_work_t *w, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    char path[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
    if (!remote_name(m, REC(w), rname, sizeof rname) ||
        !obj_path(m, path, sizeof path, rns, rname)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_kreq_t *q = lq_refl_req(w, FOREIGN);
    lq_err_t e = lq_kreq_get(q, path);
    q->accept = LQ_KREQ_ACCEPT_META;
    lq_refl_send(w, FOREIGN, ST_GET_REMOTE, e);
}

static void delete_remote(lq_refl_work_t *w, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    char path[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
    if (!r->remote_uid[0] || !remote_name(m, r, rname, sizeof rname) ||
        !obj_path(m, path, sizeof path, rns, rname)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, FOREIGN, ST_DEL_REMOTE,
                 lq_kreq_delete(lq_refl_req(w, -1), path, r->remote_uid, NULL));
}

/* The apply target: the remote object's path with fieldManager and force. */
static bool apply_path(lq_refl_work_t *w, const char *rns, const char *rname, char *path, size_t cap)
{
    return obj_path(MOD(w), path, cap, rns, rname) &&
           lq_kapi_query(path, cap, "fieldManager", FIELD_MANAGER) == LQ_OK &&
           lq_kapi_query(path, cap, "force", "true") == LQ_OK;
}

static void on_pipe(lq_pipe_t *p, lq_err_t err, void *ctx);
static void service_policy(lq_mirror_t *m, lq_mirror_rec_t *r, const lq_forge_conf_facts_t *f);

/* Writes the body forged in this pass: from w->body, or through the pipe again. */
static void apply(lq_refl_work_t *w, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    char path[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
    lq_forge_conf_params_t prm;
    if (w->flags & F_LARGE) {
        if (!params(w, rns, rname, sizeof rname, &prm)) {
            lq_refl_finish(w, LQ_RTAB_RETRY, 0);
            return;
        }
        char hpath[LQ_KREQ_PATH_MAX];
        if (!obj_path(m, hpath, sizeof hpath, r->h.ns, r->h.name) ||
            !apply_path(w, rns, rname, path, sizeof path)) {
            lq_refl_finish(w, LQ_RTAB_RETRY, 0);
            return;
        }
        lq_pipe_job_t job = { hpath, path, r->pend_rv, prm };
        /* the body is forged again while it streams: with the uid we own now */
        w->step = ST_PIPE_WRITE;
        if (lq_pipe_start(m->cfg.pipe, &job, on_pipe, w) != LQ_OK)
            lq_refl_finish(w, LQ_RTAB_RECHECK, PIPE_WAIT_MS);
        return;
    }
    if (!remote_name(m, r, rname, sizeof rname) || !obj_path(m, path, sizeof path, rns, rname)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    /* metadata.uid in the body was forged from remote_uid: a precondition. The answer is
     * the object's metadata only, so it fits whatever the object's size. */
    lq_kreq_t *q = lq_refl_req(w, FOREIGN);
    lq_err_t e = lq_kreq_apply(q, path, FIELD_MANAGER, w->body, r->pend_len);
    q->accept = LQ_KREQ_ACCEPT_META;
    lq_refl_send(w, FOREIGN, ST_APPLY, e);
}

/* The home object is gone or terminating: the copy we own goes too. */
static void gone(lq_refl_work_t *w, const char *rns)
{
    lq_mirror_rec_t *r = REC(w);
    w->flags |= F_GONE;
    if (rns && r->remote_uid[0]) {
        delete_remote(w, rns);
        return;
    }
    if (rns && lq_rtab_present(&r->h, FOREIGN) && r->home_uid[0]) {
        get_remote_meta(w, rns); /* labelled ours: proven by the home uid, then deleted */
        return;
    }
    LQ_DEBUG(MOD(w)->kind.d->log, "%s %s/%s: gone; record freed", kind_name(MOD(w)), r->h.ns,
             r->h.name);
    lq_refl_finish(w, LQ_RTAB_FREE, 0);
}

/* Facts and hash of the forged body are known: what is left to do. */
static void decide(lq_refl_work_t *w, const lq_forge_conf_facts_t *f, uint64_t hash, size_t len)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    const char *rns = lq_offload_remote_ns(m->offload_, r->h.ns, strlen(r->h.ns));
    if (!rns) {
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (f->deleting) {
        gone(w, rns);
        return;
    }
    bool sa = m->cfg.kind == LQ_MIRROR_SECRET && strcmp(f->type, LQ_FORGE_CONF_SA_TOKEN) == 0;
    /* kube-root-ca.crt is always reflected (Liqo 0.10): offloaded pods mount its copy */
    bool root_ca = m->cfg.kind == LQ_MIRROR_CONFIGMAP &&
                   strcmp(r->h.name, LQ_FORGE_CONF_ROOT_CA) == 0;
    service_policy(m, r, f);
    bool want = m->cfg.kind == LQ_MIRROR_ENDPOINTSLICE ? r->slice_ok
                                                       : lq_forge_conf_wanted(f, m->cfg.policy);
    if (sa || (!root_ca && !want)) {
        if (sa && !r->disabled_logged) {
            EMIT(m, r, false, "ReflectionDisabled", "Reflection of service-account token "
                 "secret to cluster %s disabled", m->cfg.foreign_name);
            r->disabled_logged = true;
        }
        if (r->state != LQ_MIRROR_SKIPPED) {
            LQ_INFO(m->kind.d->log, "%s %s/%s: not reflected (%s)", kind_name(m), r->h.ns,
                    r->h.name, sa ? "service-account token" :
                    m->cfg.kind == LQ_MIRROR_ENDPOINTSLICE ? "its own or its Service's "
                    "reflection policy, or a reflected slice" :
                    m->cfg.policy == LQ_FORGE_CONF_ALLOWLIST ? "AllowList without "
                    "liqo.io/allow-reflection" : "liqo.io/skip-reflection");
            m->stats.skipped++;
        }
        r->state = LQ_MIRROR_SKIPPED;
        (void)snprintf(r->home_rv, sizeof r->home_rv, "%s", f->rv);
        if (r->remote_uid[0]) {
            delete_remote(w, rns);
            return;
        }
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    (void)snprintf(r->pend_rv, sizeof r->pend_rv, "%s", f->rv);
    r->pend_hash = hash;
    r->pend_len = (uint32_t)len;
    if (!r->remote_uid[0]) {
        get_remote_meta(w, rns); /* absent, ours to adopt, or someone else's? */
        return;
    }
    bool drift = !(lq_rtab_present(&r->h, FOREIGN) && r->h.own_rv[0] &&
                   strcmp(r->remote_rv, r->h.own_rv) == 0);
    if (r->intent == hash && !drift) {
        m->stats.noops++;
        r->state = LQ_MIRROR_REFLECTED;
        memcpy(r->home_rv, r->pend_rv, sizeof r->home_rv);
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (drift && !(w->flags & F_LARGE) && lq_rtab_present(&r->h, FOREIGN)) {
        /* Someone else changed our copy. An apply puts back what we own, but keys another
         * manager added stay (server-side apply removes only fields we owned): read it. */
        char path[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
        if (remote_name(m, r, rname, sizeof rname) && obj_path(m, path, sizeof path, rns, rname)) {
            lq_refl_send(w, FOREIGN, ST_GET_DRIFT, lq_kreq_get(lq_refl_req(w, FOREIGN), path));
            return;
        }
    }
    apply(w, rns);
}

/* A key of the remote copy's data or binaryData that the home object does not have. */
static bool extra_keys(lq_refl_work_t *w)
{
    lq_json_t *home = NULL, *remote = NULL;
    lq_json_reset(&w->doc);
    if (lq_json_parse(&w->doc, w->obj[HOME], w->len[HOME], &home) != LQ_OK ||
        lq_json_parse(&w->doc, w->obj[FOREIGN], w->len[FOREIGN], &remote) != LQ_OK)
        return false;
    static const char *const maps[] = { "data", "binaryData" };
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        const lq_json_t *hm = lq_json_get(home, maps[i]);
        for (const lq_json_t *e = lq_json_first(lq_json_get(remote, maps[i])); e;
             e = lq_json_next(e))
            if (lq_json_key(e) && !lq_json_get(hm, lq_json_key(e)))
                return true;
    }
    return false;
}

/* Our remote copy drifted: keys someone added go with a re-creation, the rest with an
 * apply. */
static void got_drift(lq_refl_work_t *w, lq_err_t err, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    if (err == LQ_ENOTFOUND) {
        disown(r); /* gone meanwhile: a new pass creates it (without the old uid) */
        r->h.dirty = true;
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (err == LQ_OK) {
        char uid[LQ_FORGE_CONF_UID_BUF] = "";
        w->len[FOREIGN] = w->req.resp_len;
        (void)lq_scan_uid_rv(w->obj[FOREIGN], w->len[FOREIGN], uid, sizeof uid, NULL, 0);
        if (strcmp(uid, r->remote_uid) == 0 && extra_keys(w)) {
            LQ_INFO(m->kind.d->log, "%s %s/%s: the remote copy has keys the home object "
                    "lacks (added in the foreign cluster); re-creating it", kind_name(m),
                    r->h.ns, r->h.name);
            delete_remote(w, rns);
            return;
        }
    }
    apply(w, rns); /* too large to read, or an error: the apply still fixes our fields */
}

/* Policy bits of a facts record (kept per record: a Service's decision also rules its
 * EndpointSlices). */
static uint8_t policy_bits(const lq_forge_conf_facts_t *f)
{
    return (uint8_t)(1u | (f->skip ? 2u : 0u) | (f->skip_false ? 4u : 0u) | (f->allow ? 8u : 0u) |
                     (f->allow_false ? 16u : 0u));
}

static void facts_of_bits(uint8_t b, lq_forge_conf_facts_t *f)
{
    memset(f, 0, sizeof *f);
    f->skip = (b & 2u) != 0;
    f->skip_false = (b & 4u) != 0;
    f->allow = (b & 8u) != 0;
    f->allow_false = (b & 16u) != 0;
}

/* An EndpointSlice's decision (Liqo: a slice is reflected when its Service is, unless
 * annotated itself): its own skip/allow annotation under the EndpointSlice policy; else
 * its Service's decision as the Service kind made it (under the Service policy); a
 * Service not decided yet holds its slices back (its first decision re-queues them); a
 * slice naming no known Service follows the EndpointSlice policy.
 * Never the API server's own slice, nor one that already carries our managed-by. */
static bool slice_wanted(lq_mirror_t *m, const lq_forge_eps_facts_t *ef, const char *ns)
{
    if (!lq_forge_eps_wanted(ef, NULL, LQ_FORGE_CONF_DENYLIST) &&
        (ef->kubernetes_default || ef->managed_by_us))
        return false;
    const lq_forge_conf_facts_t *own = &ef->base;
    if (own->skip || own->allow)
        return lq_forge_conf_wanted(own, m->cfg.policy);
    lq_mirror_t *svc = m->cfg.services;
    if (svc && svc->kind.d && ef->service[0]) {
        const lq_mirror_rec_t *sr = (const lq_mirror_rec_t *)(const void *)lq_rtab_find(
            &svc->kind.tab, ns, strlen(ns), ef->service, strlen(ef->service));
        if (sr && !sr->policy)
            return false; /* not decided yet: its first decision re-queues this slice */
        if (!sr) /* no such Service (the Service kind lists first, see ready) */
            return lq_forge_conf_wanted(own, m->cfg.policy);
        lq_forge_conf_facts_t sf;
        facts_of_bits(sr->policy, &sf);
        return lq_forge_conf_wanted(&sf, svc->cfg.policy);
    }
    return lq_forge_conf_wanted(own, m->cfg.policy);
}

/* Forges the home object in obj[HOME] into w->body (cap bytes) with the kind's forge. */
static lq_err_t build(lq_refl_work_t *w, const lq_forge_conf_params_t *prm, size_t cap,
                      size_t *len, lq_forge_conf_facts_t *f, uint64_t *hash)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    lq_forge_conf_facts_t fs;
    uint64_t hs;
    f = f ? f : &fs;
    hash = hash ? hash : &hs;
    const char *in = w->obj[HOME];
    size_t n = w->len[HOME];
    switch (m->cfg.kind) {
    case LQ_MIRROR_SERVICE:
        return lq_forge_svc_build(&w->doc, prm, in, n, w->body, cap, len, f, hash);
    case LQ_MIRROR_INGRESS:
        return lq_forge_ingress_build(&w->doc, prm, in, n, w->body, cap, len, f, hash);
    case LQ_MIRROR_ENDPOINTSLICE: {
        lq_forge_eps_params_t ep = { *prm, m->cfg.vnode_name, m->cfg.home_name, true };
        lq_forge_eps_facts_t ef;
        lq_err_t e = lq_forge_eps_build(&w->doc, &ep, in, n, w->body, cap, len, &ef, hash);
        if (e == LQ_OK) {
            *f = ef.base;
            size_t sl = strlen(ef.service); /* a label value: at most 63 bytes */
            if (sl >= sizeof r->parent)
                sl = 0;
            memcpy(r->parent, ef.service, sl);
            r->parent[sl] = '\0';
            r->slice_ok = slice_wanted(m, &ef, r->h.ns);
        }
        return e;
    }
    default:
        return lq_forge_conf_build(prm, in, n, w->body, cap, len, f, hash);
    }
}

/* A Service's decision changed: its slices decide again. */
static void service_policy(lq_mirror_t *m, lq_mirror_rec_t *r, const lq_forge_conf_facts_t *f)
{
    uint8_t b = policy_bits(f);
    if (m->cfg.kind != LQ_MIRROR_SERVICE || b == r->policy)
        return;
    r->policy = b;
    lq_mirror_t *sl = m->cfg.slices;
    if (!sl || !sl->kind.d)
        return;
    for (size_t i = 0; i < lq_rtab_span(&sl->kind.tab); i++) {
        lq_mirror_rec_t *e = (lq_mirror_rec_t *)(void *)lq_rtab_at(&sl->kind.tab, i);
        if (e->h.used && strcmp(e->h.ns, r->h.ns) == 0 && strcmp(e->parent, r->h.name) == 0)
            lq_rtab_dirty(&sl->kind.tab, &e->h);
    }
    lq_refl_kick(sl->kind.r);
}

/* The object is over what a worker holds (limit bytes of object or of forged body):
 * ConfigMaps and Secrets take the pipe when the board has one (first to hash it); any
 * other is reported (a Warning once, a counter) and left until it changes. */
static void large(lq_refl_work_t *w, unsigned limit)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    w->flags |= F_LARGE;
    if (m->cfg.pipe && m->cfg.kind <= LQ_MIRROR_SECRET) {
        char hpath[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
        const char *rns = lq_offload_remote_ns(m->offload_, r->h.ns, strlen(r->h.ns));
        lq_forge_conf_params_t prm;
        if (!rns || !params(w, rns, rname, sizeof rname, &prm) ||
            !obj_path(m, hpath, sizeof hpath, r->h.ns, r->h.name)) {
            lq_refl_finish(w, LQ_RTAB_RETRY, 0);
            return;
        }
        lq_pipe_job_t job = { hpath, NULL, NULL, prm };
        w->step = ST_PIPE_HASH;
        if (lq_pipe_start(m->cfg.pipe, &job, on_pipe, w) != LQ_OK)
            lq_refl_finish(w, LQ_RTAB_RECHECK, PIPE_WAIT_MS);
        return;
    }
    m->stats.too_large++;
    if (r->state != LQ_MIRROR_TOO_LARGE) {
        LQ_WARN(m->kind.d->log, "%s %s/%s is larger than this board reflects (%u bytes); "
                "not reflected", kind_name(m), r->h.ns, r->h.name, limit);
        EMIT(m, r, true, "FailedReflection", "Error reflecting object to cluster %s: the "
             "object is larger than this agent reflects (%u bytes)", m->cfg.foreign_name,
             limit);
    }
    r->state = LQ_MIRROR_TOO_LARGE;
    lq_refl_finish(w, LQ_RTAB_DONE, 0);
}

/* The home object is in obj[HOME]: forge it into w->body (or take the pipe). */
static void forge_small(lq_refl_work_t *w)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    const char *rns = lq_offload_remote_ns(m->offload_, r->h.ns, strlen(r->h.ns));
    char uid[LQ_FORGE_CONF_UID_BUF] = "", rname[LQ_RTAB_NAME_BUF];
    (void)lq_scan_uid_rv(w->obj[HOME], w->len[HOME], uid, sizeof uid, NULL, 0);
    if (strcmp(uid, r->home_uid) != 0)
        memcpy(r->home_uid, uid, sizeof r->home_uid); /* a new incarnation */
    lq_forge_conf_params_t prm;
    lq_forge_conf_facts_t f;
    uint64_t hash = 0;
    size_t len = 0;
    if (!rns || !params(w, rns, rname, sizeof rname, &prm)) {
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    lq_err_t e = build(w, &prm, LQ_MIRROR_SMALL_BODY, &len, &f, &hash);
    if (e == LQ_ETOOBIG) {
        large(w, LQ_MIRROR_SMALL_BODY);
        return;
    }
    if (e != LQ_OK) {
        failed(w, "the home object has an unexpected shape", e);
        return;
    }
    decide(w, &f, hash, len);
}

/* Remote metadata (PartialObjectMetadata) in obj[FOREIGN]: ours? */
static bool remote_is_ours(lq_refl_work_t *w, char *uid, size_t cap, char *rv, size_t rvcap)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    lq_json_t *root = NULL;
    lq_json_reset(&w->doc);
    if (lq_json_parse(&w->doc, w->obj[FOREIGN], w->len[FOREIGN], &root) != LQ_OK)
        return false;
    lq_json_t *meta = lq_json_get(root, "metadata");
    (void)lq_json_str_copy(lq_json_get(meta, "uid"), uid, cap);
    (void)lq_json_str_copy(lq_json_get(meta, "resourceVersion"), rv, rvcap);
    lq_json_t *labels = lq_json_get(meta, "labels");
    return lq_json_str_is(lq_json_get(labels, lq_liqo_names()->origin), m->cfg.home_id) &&
           lq_json_str_is(lq_json_get(labels, lq_liqo_names()->destination), m->cfg.foreign_id) &&
           r->home_uid[0] &&
           lq_json_str_is(LQ_JSON_AT(meta, "annotations", LQ_FORGE_CONF_ANN_HOME_UID),
                          r->home_uid);
}

static void got_remote(lq_refl_work_t *w, lq_err_t err, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    if (err == LQ_ENOTFOUND) {
        lq_rtab_set_present(&r->h, FOREIGN, false);
        if (w->flags & F_GONE) {
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        apply(w, rns);
        return;
    }
    if (err != LQ_OK) {
        failed(w, "GET the remote object", err);
        return;
    }
    w->len[FOREIGN] = w->req.resp_len;
    char uid[LQ_FORGE_CONF_UID_BUF] = "", rv[LQ_FORGE_CONF_RV_BUF] = "";
    /* Adoption is for a restart (no record of what we wrote): in a run, the copy we own
     * is known by UID, and a new object under the name after ours went is not ours,
     * whatever labels and home-uid it shows (they were readable on our copy). */
    if (r->owned_once || !remote_is_ours(w, uid, sizeof uid, rv, sizeof rv) || !uid[0]) {
        if (w->flags & F_GONE) { /* not ours to delete */
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        count(w, false);
        m->stats.conflicts += r->state != LQ_MIRROR_CONFLICT; /* once per conflict found */
        if (r->state != LQ_MIRROR_CONFLICT)
            LQ_WARN(m->kind.d->log, "%s %s/%s: an object of that name exists in %s and is not "
                    "ours; left alone", kind_name(m), r->h.ns, r->h.name, rns);
        if (!r->failed_logged)
            EMIT(m, r, true, "FailedReflection", "Error reflecting object to cluster %s: "
                 "remote object already exists", m->cfg.foreign_name);
        r->failed_logged = true;
        r->state = LQ_MIRROR_CONFLICT;
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    LQ_DEBUG(m->kind.d->log, "%s %s/%s: remote object %s is ours (adopted)", kind_name(m),
             r->h.ns, r->h.name, uid);
    memcpy(r->remote_uid, uid, sizeof r->remote_uid);
    memcpy(r->remote_rv, rv, sizeof r->remote_rv);
    r->owned_once = true;
    lq_rtab_mark(&r->h, FOREIGN);
    m->stats.adopts++;
    if (w->flags & F_GONE) {
        delete_remote(w, rns);
        return;
    }
    if (!(w->flags & F_LARGE)) {
        /* the body was forged before the uid was known: forge it again with the uid, so
         * the API server refuses the apply if the object was replaced since the GET */
        char rname[LQ_RTAB_NAME_BUF];
        lq_forge_conf_params_t prm;
        size_t len = 0;
        if (!params(w, rns, rname, sizeof rname, &prm) ||
            build(w, &prm, sizeof w->body, &len, NULL, NULL) != LQ_OK) {
            lq_refl_finish(w, LQ_RTAB_RETRY, 0);
            return;
        }
        r->pend_len = (uint32_t)len;
    }
    apply(w, rns);
}

static void applied(lq_refl_work_t *w, lq_err_t err, const char *rns, const char *uid,
                    const char *rv)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    if (err == LQ_ECONFLICT || (err == LQ_EINVAL && r->remote_uid[0]) ||
        w->req.status == 422) {
        /* 409: the owned object is gone (uid precondition on a missing object); 422: it
         * was replaced, or an immutable object changed: delete what we own, then write */
        LQ_INFO(m->kind.d->log, "%s %s/%s: the remote object refused the write (%s); "
                "replacing it", kind_name(m), r->h.ns, r->h.name, w->req.message);
        if (r->remote_uid[0]) {
            delete_remote(w, rns);
            return;
        }
        disown(r);
        r->h.dirty = true;
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    if (err != LQ_OK) {
        failed(w, "apply the remote object", err);
        return;
    }
    if (!r->remote_uid[0] && r->state != LQ_MIRROR_REFLECTED)
        LQ_DEBUG(m->kind.d->log, "%s %s/%s: reflected to %s", kind_name(m), r->h.ns, r->h.name,
                 rns);
    (void)snprintf(r->remote_uid, sizeof r->remote_uid, "%s", uid);
    r->owned_once = true;
    (void)snprintf(r->h.own_rv, sizeof r->h.own_rv, "%s", rv);
    memcpy(r->remote_rv, r->h.own_rv, sizeof r->remote_rv);
    memcpy(r->home_rv, r->pend_rv, sizeof r->home_rv);
    r->intent = r->pend_hash;
    lq_rtab_mark(&r->h, FOREIGN);
    r->state = (w->flags & F_GATE) ? LQ_MIRROR_GATED : LQ_MIRROR_REFLECTED;
    r->failed_logged = false;
    m->stats.applies++;
    m->stats.gated += (w->flags & F_GATE) != 0;
    count(w, true);
    lq_refl_finish(w, LQ_RTAB_DONE, 0);
}

/* --- readiness gating (EndpointSlices while the home cluster is unreachable) ---------- */

/* Our copy is read back (the home slice cannot be): its gated body is applied unless it
 * is what we last wrote and nobody changed it since. */
static void gate_remote(lq_refl_work_t *w, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    char path[LQ_KREQ_PATH_MAX], rname[LQ_RTAB_NAME_BUF];
    if (!r->remote_uid[0]) {
        lq_refl_finish(w, LQ_RTAB_DONE, 0); /* nothing of ours to gate; re-queued on return */
        return;
    }
    if (!remote_name(m, r, rname, sizeof rname) || !obj_path(m, path, sizeof path, rns, rname)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_send(w, FOREIGN, ST_GATE_GET, lq_kreq_get(lq_refl_req(w, FOREIGN), path));
}

static void got_gate(lq_refl_work_t *w, lq_err_t err, const char *rns)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    if (err == LQ_ENOTFOUND) {
        disown(r); /* written again from the home slice when home is back */
        r->state = LQ_MIRROR_PENDING;
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    if (err != LQ_OK) {
        failed(w, "GET the remote slice to mark its endpoints not ready", err);
        return;
    }
    w->len[FOREIGN] = w->req.resp_len;
    char uid[LQ_FORGE_CONF_UID_BUF] = "", rv[LQ_FORGE_CONF_RV_BUF] = "", rname[LQ_RTAB_NAME_BUF];
    (void)lq_scan_uid_rv(w->obj[FOREIGN], w->len[FOREIGN], uid, sizeof uid, rv, sizeof rv);
    if (strcmp(uid, r->remote_uid) != 0) {
        disown(r); /* replaced by someone else: not ours to write */
        r->state = LQ_MIRROR_PENDING;
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    lq_forge_conf_params_t prm;
    if (!params(w, rns, rname, sizeof rname, &prm)) {
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_forge_eps_params_t ep = { prm, m->cfg.vnode_name, m->cfg.home_name, false };
    size_t len = 0;
    uint64_t hash = 0;
    lq_err_t e = lq_forge_eps_gate(&w->doc, &ep, w->obj[FOREIGN], w->len[FOREIGN], w->body,
                                   LQ_MIRROR_SMALL_BODY, &len, &hash);
    if (e != LQ_OK) {
        failed(w, "gate the remote slice", e);
        return;
    }
    if (hash == r->intent && r->h.own_rv[0] && strcmp(rv, r->h.own_rv) == 0) {
        m->stats.noops++;
        r->state = LQ_MIRROR_GATED;
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    }
    w->flags |= F_GATE;
    memcpy(r->pend_rv, r->home_rv, sizeof r->pend_rv); /* the home version stays the last seen */
    r->pend_hash = hash;
    r->pend_len = (uint32_t)len;
    apply(w, rns);
}

void lq_mirror_home_available(lq_mirror_t *m, bool available)
{
    if (m->cfg.kind != LQ_MIRROR_ENDPOINTSLICE || m->home_down_ == !available)
        return;
    m->home_down_ = !available;
    size_t n = 0;
    for (size_t i = 0; i < lq_rtab_span(&m->kind.tab); i++) {
        lq_mirror_rec_t *r = rec_at(m, i);
        /* busy: a pass started with home up may own a copy by its end (its first write
         * or an adoption in flight), forged from home; it is gated at once after */
        if (r->h.used && (r->remote_uid[0] || r->h.busy || available)) {
            lq_rtab_dirty(&m->kind.tab, &r->h);
            n += r->remote_uid[0] != '\0';
        }
    }
    if (available)
        LQ_INFO(m->kind.d->log, "home cluster reachable again: %zu reflected EndpointSlices "
                "get their endpoints' readiness back", n);
    else
        LQ_WARN(m->kind.d->log, "home cluster unreachable: the endpoints of %zu reflected "
                "EndpointSlices are marked not ready until it returns", n);
    lq_refl_kick(m->kind.r);
}

static void step(lq_refl_work_t *w, lq_err_t err)
{
    lq_mirror_t *m = MOD(w);
    lq_mirror_rec_t *r = REC(w);
    const char *rns = NULL;
    lq_offload_use_t use = lq_offload_ns(m->offload_, r->h.ns, strlen(r->h.ns), &rns);
    switch (w->step) {
    case ST_START: {
        if (use == LQ_OFFLOAD_NOT_OFFLOADED) {
            /* the remote namespace (and every copy in it) goes with the offloading */
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        if (!rns) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0); /* re-queued once it is usable */
            return;
        }
        if (r->remote_uid[0] && !lq_rtab_present(&r->h, FOREIGN))
            disown(r); /* the foreign watch saw our copy go: the next write creates one */
        if (m->home_down_) {
            gate_remote(w, rns);
            return;
        }
        char path[LQ_KREQ_PATH_MAX];
        if (!obj_path(m, path, sizeof path, r->h.ns, r->h.name)) {
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        if (r->size > LQ_REFL_OBJ_BUF && lq_rtab_present(&r->h, HOME)) {
            large(w, LQ_REFL_OBJ_BUF); /* the watch said so: no buffered GET to fail first */
            return;
        }
        lq_refl_send(w, HOME, ST_GET_HOME, lq_kreq_get(lq_refl_req(w, HOME), path));
        return;
    }
    case ST_GET_HOME:
        if (!rns) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        if (err == LQ_ENOTFOUND) {
            lq_rtab_set_present(&r->h, HOME, false);
            gone(w, rns);
        } else if (err == LQ_ETOOBIG) {
            large(w, LQ_REFL_OBJ_BUF);
        } else if (err != LQ_OK) {
            failed(w, "GET the home object", err);
        } else {
            w->len[HOME] = w->req.resp_len;
            forge_small(w);
        }
        return;
    case ST_GET_REMOTE:
        if (!rns) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        got_remote(w, err, rns);
        return;
    case ST_APPLY: {
        char uid[LQ_FORGE_CONF_UID_BUF] = "", rv[LQ_FORGE_CONF_RV_BUF] = "";
        if (err == LQ_OK)
            (void)lq_scan_uid_rv(w->obj[FOREIGN], w->req.resp_len, uid, sizeof uid, rv, sizeof rv);
        applied(w, err, rns ? rns : "", uid, rv);
        return;
    }
    case ST_GET_DRIFT:
        if (!rns) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        got_drift(w, err, rns);
        return;
    case ST_GATE_GET:
        if (!rns) {
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        got_gate(w, err, rns);
        return;
    case ST_DEL_REMOTE:
        if (err != LQ_OK && err != LQ_ENOTFOUND && err != LQ_ECONFLICT) {
            failed(w, "delete the remote object", err);
            return;
        }
        m->stats.remote_deletes++;
        disown(r);
        if (w->flags & F_GONE) {
            lq_refl_finish(w, LQ_RTAB_FREE, 0);
            return;
        }
        if (r->state != LQ_MIRROR_SKIPPED)
            r->h.dirty = true; /* replaced after a refused write: write it again */
        lq_refl_finish(w, LQ_RTAB_DONE, 0);
        return;
    case ST_PIPE_HASH:
    case ST_PIPE_WRITE: {
        lq_pipe_t *p = m->cfg.pipe;
        if (err == LQ_ENOTFOUND && w->step == ST_PIPE_HASH) {
            lq_rtab_set_present(&r->h, HOME, false);
            gone(w, rns);
            return;
        }
        if (err == LQ_ESTATE) {
            r->h.dirty = true; /* the home object changed between the two reads */
            lq_refl_finish(w, LQ_RTAB_DONE, 0);
            return;
        }
        if (w->step == ST_PIPE_HASH) {
            if (err != LQ_OK) {
                failed(w, "read the home object (streamed)", err);
                return;
            }
            if (strcmp(p->facts.uid, r->home_uid) != 0)
                memcpy(r->home_uid, p->facts.uid, sizeof r->home_uid);
            lq_forge_conf_facts_t f = p->facts;
            decide(w, &f, p->hash, 0);
            return;
        }
        if (err == LQ_OK)
            m->stats.streamed++;
        w->req.status = p->status;
        (void)snprintf(w->req.message, sizeof w->req.message, "%s", p->message);
        applied(w, err, rns ? rns : "", p->remote_uid, p->remote_rv);
        return;
    }
    default:
        return;
    }
}

static void on_pipe(lq_pipe_t *p, lq_err_t err, void *ctx)
{
    (void)p;
    lq_refl_work_t *w = ctx;
    if (w->k)
        w->k->d->step(w, err);
}

/* --- watches (through the engine) -------------------------------------------------- */

static bool key(lq_refl_kind_t *k, unsigned side, const lq_watch_event_t *ev, const char **ns,
                size_t *nl, const char **name, size_t *len)
{
    lq_mirror_t *m = k->ctx;
    const lq_scan_meta_t *mt = &ev->meta;
    if (!mt->ns.found || !mt->name.found || mt->ns.escaped || mt->name.escaped)
        return false;
    if (never(m, mt->ns.p, mt->ns.len, mt->name.p, mt->name.len))
        return false;
    if (side == HOME) {
        if (lq_offload_ns(m->offload_, mt->ns.p, mt->ns.len, NULL) == LQ_OFFLOAD_NOT_OFFLOADED)
            return false; /* Decision 3: namespaces that are not offloaded cost nothing */
        *ns = mt->ns.p;
        *nl = mt->ns.len;
        *name = mt->name.p;
        *len = mt->name.len;
        return true;
    }
    const char *hns = lq_offload_home_ns(m->offload_, mt->ns.p, mt->ns.len);
    if (!hns ||
        !lq_forge_conf_home_name(conf_kind(m), mt->name.p, mt->name.len, m->cfg.home_id, name, len))
        return false;
    *ns = hns;
    *nl = strlen(hns);
    return true;
}

static bool seen(lq_refl_kind_t *k, lq_rtab_hdr_t *h, unsigned side, const lq_watch_event_t *ev)
{
    (void)k;
    lq_mirror_rec_t *r = (lq_mirror_rec_t *)(void *)h;
    const lq_scan_meta_t *mt = &ev->meta;
    if (side == HOME) {
        bool was = lq_rtab_present(h, HOME);
        if (ev->type == LQ_WATCH_DELETED) {
            lq_rtab_set_present(h, HOME, false);
            return true;
        }
        lq_rtab_mark(h, HOME);
        r->size = ev->oversized ? (ev->total > UINT32_MAX ? UINT32_MAX : (uint32_t)ev->total)
                                : (uint32_t)ev->len;
        if (!lq_scan_str_eq(&mt->uid, r->home_uid, strlen(r->home_uid)))
            (void)lq_scan_copy(&mt->uid, r->home_uid, sizeof r->home_uid);
        else if (was && r->home_rv[0] && lq_scan_str_eq(&mt->rv, r->home_rv, strlen(r->home_rv)))
            return false; /* a relist showing the version already reflected */
        return true;
    }
    /* Foreign: only the object the record owns (before it owns one, any object under its
     * name, which a pass reads and checks); the event never re-points the record. */
    if (r->remote_uid[0] && !lq_scan_str_eq(&mt->uid, r->remote_uid, strlen(r->remote_uid)))
        return false;
    if (ev->type == LQ_WATCH_DELETED) {
        lq_rtab_set_present(h, FOREIGN, false);
        return true;
    }
    lq_rtab_mark(h, FOREIGN);
    (void)lq_scan_copy(&mt->rv, r->remote_rv, sizeof r->remote_rv);
    return !(r->h.own_rv[0] && strcmp(r->remote_rv, r->h.own_rv) == 0); /* our own echo */
}

static void full(lq_refl_kind_t *k, const lq_watch_event_t *ev)
{
    lq_mirror_t *m = k->ctx;
    const lq_scan_meta_t *mt = &ev->meta;
    if (k->tab.stats.table_full == 1 || (k->tab.stats.table_full % 1000u) == 0)
        LQ_WARN(k->d->log, "%s table full (%zu records): %.*s/%.*s waits until one frees "
                "(%llu refused so far)", kind_name(m), k->tab.limit, (int)mt->ns.len, mt->ns.p,
                (int)mt->name.len, mt->name.p, (unsigned long long)k->tab.stats.table_full);
}

/* Passes wait for namespace offloading to settle; then both sides are listed again so
 * every event maps through the namespaces now known. */
static bool ready(lq_refl_kind_t *k)
{
    lq_mirror_t *m = k->ctx;
    /* slices decide after their Services: the Service kind has listed its home side */
    if (m->cfg.services && m->cfg.services->kind.d && !m->cfg.services->kind.synced[HOME])
        return false;
    if (!m->started) {
        if (!lq_offload_settled(m->offload_))
            return false;
        m->started = true;
        m->relist_home_ = false;
        LQ_INFO(k->d->log, "%s reflection starts", kind_name(m));
        lq_refl_relist(k, HOME);
        lq_refl_relist(k, FOREIGN);
        return false;
    }
    if (m->relist_home_) {
        m->relist_home_ = false;
        lq_refl_relist(k, HOME);
        return false;
    }
    return true;
}

void lq_mirror_namespace_changed(const char *ns, void *ctx)
{
    lq_mirror_t *m = ctx;
    for (size_t i = 0; i < lq_rtab_span(&m->kind.tab); i++) {
        lq_mirror_rec_t *r = rec_at(m, i);
        if (r->h.used && strcmp(r->h.ns, ns) == 0)
            lq_rtab_dirty(&m->kind.tab, &r->h);
    }
    if (m->started && lq_offload_remote_ns(m->offload_, ns, strlen(ns)))
        m->relist_home_ = true; /* objects dropped while it was not offloaded */
    lq_refl_kick(m->kind.r);
}

/* --- management ------------------------------------------------------------------------ */

static const char *state_str(uint8_t s)
{
    switch (s) {
    case LQ_MIRROR_REFLECTED: return "Reflected";
    case LQ_MIRROR_SKIPPED: return "Skipped";
    case LQ_MIRROR_CONFLICT: return "Conflict: remote object not ours";
    case LQ_MIRROR_TOO_LARGE: return "TooLarge";
    case LQ_MIRROR_FAILING: return "Failing (retrying)";
    case LQ_MIRROR_GATED: return "Reflected, endpoints not ready (home unreachable)";
    default: return "Pending";
    }
}

static void snapshot(lq_refl_kind_t *k, lq_mgmt_snapshot_t *s)
{
    lq_mirror_t *m = k->ctx;
    lq_mgmt_kind_t mk = mgmt_kind(m);
    for (size_t i = 0; i < lq_rtab_span(&k->tab); i++) {
        const lq_mirror_rec_t *r = rec_at(m, i);
        s->objects[mk] += r->h.used && (r->state == LQ_MIRROR_REFLECTED ||
                                        r->state == LQ_MIRROR_GATED);
    }
    s->objects_gen[mk] = m->stats.applies + m->stats.remote_deletes + k->stats.passes;
    s->conflicts[mk] = m->stats.conflicts;
    s->too_large[mk] = m->stats.too_large;
}

/* /objects/<kind>: every record (names and states only, never data), in table order. */
static bool object(lq_refl_kind_t *k, size_t index, lq_mgmt_object_t *out)
{
    lq_mirror_t *m = k->ctx;
    for (size_t i = 0, n = 0; i < lq_rtab_span(&k->tab); i++) {
        const lq_mirror_rec_t *r = rec_at(m, i);
        if (!r->h.used || n++ != index)
            continue;
        out->ns = r->h.ns;
        out->name = r->h.name;
        out->remote_ns = lq_offload_remote_ns(m->offload_, r->h.ns, strlen(r->h.ns));
        out->state = state_str(r->state);
        return true;
    }
    return false;
}

/* --- set-up ------------------------------------------------------------------------- */

lq_err_t lq_mirror_init(lq_mirror_t *m, lq_refl_t *refl, lq_offload_t *offload,
                        const lq_mirror_cfg_t *cfg, lq_mirror_rec_t *recs, size_t cap)
{
    memset(m, 0, offsetof(lq_mirror_t, hbuf_));
    if (!cfg->home_id || !cfg->home_id[0] || !cfg->foreign_id || !cfg->foreign_id[0] ||
        cfg->workers == 0 || !recs || cap == 0)
        return LQ_EINVAL;
    m->cfg = *cfg;
    m->offload_ = offload;
    if (lq_refl_owner_selector(m->foreign_sel_, sizeof m->foreign_sel_, cfg->home_id,
                               cfg->foreign_id) != LQ_OK)
        return LQ_ETOOBIG;
    if (cfg->kind >= LQ_MIRROR_KINDS ||
        (cfg->kind == LQ_MIRROR_ENDPOINTSLICE && (!cfg->vnode_name || !cfg->vnode_name[0] ||
                                                  !cfg->home_name || !cfg->home_name[0])))
        return LQ_EINVAL;
    const struct kind_info *ki = &kinds[cfg->kind];
    int n = strcmp(ki->gv, "v1") == 0
                ? snprintf(m->path_[0], sizeof m->path_[0], "/api/v1/%s", ki->resource)
                : snprintf(m->path_[0], sizeof m->path_[0], "/apis/%s/%s", ki->gv, ki->resource);
    if (n < 0 || (size_t)n >= sizeof m->path_[0])
        return LQ_ETOOBIG;
    lq_refl_desc_t d = {
        .name = ki->name,
        .table = ki->table,
        .log = ki->log,
        .rec_size = sizeof(lq_mirror_rec_t),
        .max_workers = cfg->workers,
        .retry_base_ms = RETRY_BASE_MS, .retry_max_ms = RETRY_MAX_MS,
        .watch = { { m->path_[0], false, 0 }, { m->path_[0], false, 0 } },
        .key = key, .seen = seen, .full = full, .step = step, .ready = ready,
        .mgmt_kind = (int)ki->mgmt,
        .snapshot = snapshot, .object = object,
    };
    m->desc_ = d;
    char *const bufs[LQ_RTAB_SIDES] = { m->hbuf_, m->fbuf_ };
    const size_t caps[LQ_RTAB_SIDES] = { sizeof m->hbuf_, sizeof m->fbuf_ };
    const char *const labels[LQ_RTAB_SIDES] = { NULL, m->foreign_sel_ };
    return lq_refl_kind_add(refl, &m->kind, &m->desc_, m, recs, cap, bufs, caps, labels, NULL);
}
