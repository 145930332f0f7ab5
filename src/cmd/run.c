/* liqolet: `liqolet run`, start-up order (DESIGN.md "How data flows" step 1):
 * configuration -> credentials -> TLS -> cluster identities -> virtual node -> loop.
 * What runs: the virtual node (Node, status, Lease, capacity, foreign health) and the
 * reflector engine (src/reflect/refl.c) with namespace offloading and pods. */
#include <stdio.h>
#include <string.h>

#include "liqolet/cluster.h"
#include "liqolet/config.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/kreq.h"
#include "liqolet/lock.h"
#include "liqolet/log.h"
#include "liqolet/nodeip.h"
#include "liqolet/notify.h"
#include "liqolet/mgmt.h"
#include "liqolet/mirror.h"
#include "liqolet/offload.h"
#include "liqolet/pods.h"
#include "liqolet/events.h"
#include "liqolet/pool.h"
#include "liqolet/refl.h"
#include "liqolet/run.h"
#include "liqolet/tls.h"
#include "liqolet/vnode.h"
#if LQ_KUBELET_API
#include "liqolet/kubelet.h"
#endif

static struct {
    lq_loop_t loop;
    lq_cluster_t home, foreign;
    lq_kreq_client_t home_req, foreign_req;
    lq_kreq_t q_home_id, q_foreign_id, q_version, q_nsof, q_other;
    char r_home_id[16384], r_foreign_id[16384], r_version[4096], r_nsof[4096],
        r_other[16384];
    bool nsof_served;
    int pending;
    lq_err_t failed;
    char home_id[128], foreign_id[128], home_name[64], foreign_name[64], node_name[256],
        node_ip[64];
    char kubelet_version[64];
    lq_vnode_t vnode;
    lq_lock_t lock;
    lq_mgmt_t mgmt;
    lq_notify_t notify;
    lq_refl_t refl;
    lq_offload_t offload;
    lq_pods_t pods;
    lq_mirror_t mirrors[LQ_MIRROR_KINDS];
#if LQ_PIPE_ENABLED
    lq_pipe_t pipe;
#endif
    lq_events_t events;
#if LQ_KUBELET_API
    lq_kubelet_t kubelet;
    lq_kubelet_cfg_t kubelet_cfg;
#endif
    const char *offload_ns[LQ_CONFIG_MAX_OFFLOAD];
    int lost;
    unsigned char arena[64u * 1024u];
    lq_json_doc_t doc;
} rn;

/* Records of the reflected ConfigMaps, Secrets, Services, Ingresses and EndpointSlices
 * (zeroed by their tables). */
static lq_mirror_rec_t configmap_recs[LQ_MAX_CONFIGMAPS];
static lq_mirror_rec_t secret_recs[LQ_MAX_SECRETS];
static lq_mirror_rec_t service_recs[LQ_MAX_SERVICES];
static lq_mirror_rec_t ingress_recs[LQ_MAX_INGRESSES];
static lq_mirror_rec_t slice_recs[LQ_MAX_ENDPOINTSLICES];

static void ident_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)ctx;
    rn.pending--;
    if (err != LQ_OK) {
        LQ_ERROR("run", "%s: %s (%s)", r->path, lq_err_str(err), r->message);
        rn.failed = err;
    }
}

/* GET /apis/offloading.liqo.io: which NamespaceOffloading version home serves. A 404 (or
 * any failure) is no error: the group is optional (only --offload namespaces then). */
static void nsof_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)ctx;
    rn.pending--;
    rn.nsof_served = err == LQ_OK && r->status / 100 == 2;
    if (err != LQ_OK && r->status != 404)
        LQ_WARN("run", "%s: %s (%s); using NamespaceOffloading %s", r->path, lq_err_str(err),
                r->message, LQ_LIQO_OFFLOADING_GV_V1ALPHA1);
}

/* compat switched on a live peering (DESIGN.md Decision 18): remote namespaces of this
 * pair under the other label family are not the agent's now, and it leaves them alone;
 * one LIST (limit 1) at start-up says whether there are any, so the log can say why. */
static void other_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)r;
    (void)err;
    (void)ctx;
    rn.pending--;
}

static void other_family_check(lq_liqo_compat_t compat)
{
    lq_liqo_compat_t oc = compat == LQ_LIQO_COMPAT_V1 ? LQ_LIQO_COMPAT_V08 : LQ_LIQO_COMPAT_V1;
    const lq_liqo_names_t *o = lq_liqo_names_of(oc);
    char sel[512], path[LQ_KREQ_PATH_MAX] = "/api/v1/namespaces";
    int n = snprintf(sel, sizeof sel, "%s=%s,%s=%s", o->origin, rn.home_id, o->destination,
                     rn.foreign_id);
    if (n < 0 || (size_t)n >= sizeof sel ||
        lq_kapi_query(path, sizeof path, "labelSelector", sel) != LQ_OK ||
        lq_kapi_query(path, sizeof path, "limit", "1") != LQ_OK)
        return;
    lq_kreq_init(&rn.q_other, rn.r_other, sizeof rn.r_other, other_done, NULL);
    rn.pending = 1;
    (void)lq_kreq_get(&rn.q_other, path);
    (void)lq_kreq_submit(&rn.foreign_req, &rn.q_other);
    while (rn.pending > 0)
        (void)lq_loop_run_once(&rn.loop, 1000);
    lq_json_t *root = NULL;
    lq_json_reset(&rn.doc);
    if (rn.q_other.status != 200 ||
        lq_json_parse(&rn.doc, rn.r_other, rn.q_other.resp_len, &root) != LQ_OK ||
        !lq_json_first(lq_json_get(root, "items")))
        return;
    LQ_WARN("run", "the foreign cluster has namespaces of this peering labelled with the "
            "compat %s names (%s): they are not this agent's with compat %s and stay as they "
            "are; to switch, stop the agent and unpeer with compat %s first "
            "(docs/configuration.md)", o->compat, o->origin, lq_liqo_names()->compat,
            o->compat);
}

static lq_err_t get_string(const char *body, size_t len, const char *k1, const char *k2,
                           char *out, size_t cap)
{
    lq_json_t *root = NULL;
    lq_json_reset(&rn.doc);
    lq_err_t e = lq_json_parse(&rn.doc, body, len, &root);
    if (e != LQ_OK)
        return e;
    return lq_json_str_copy(k2 ? LQ_JSON_AT(root, k1, k2) : lq_json_get(root, k1), out, cap);
}

/* Cluster name derived from an id (DESIGN.md Decision 2): the first 8 characters, which
 * for a UID are lowercase hex, so the name is a DNS-1123 label. */
void lq_run_derive_name(const char *id, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = id; *p && n + 1 < cap && n < 8; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = c;
    }
    out[n] = '\0';
}

/* /objects/<kind>: through the reflector engine. */
static bool mgmt_object(void *ctx, lq_mgmt_kind_t kind, size_t index, lq_mgmt_object_t *out)
{
    (void)ctx;
    return lq_refl_object(&rn.refl, kind, index, out);
}

/* The management endpoint pulls the agent's state through this (src/mgmt/mgmt.c; the
 * strings stay in rn). */
static void mgmt_snapshot(void *ctx, lq_mgmt_snapshot_t *s)
{
    static char servers[2][300];
    static char names[LQ_KREQ_CONNS][16];
    lq_kreq_client_t *req[2] = { &rn.home_req, &rn.foreign_req };
    lq_cluster_t *cl[2] = { &rn.home, &rn.foreign };
    lq_mgmt_cluster_t *sc[2] = { &s->home, &s->foreign };
    lq_mgmt_requests_t *sr[2] = { &s->requests_home, &s->requests_foreign };
    bool conn_errors[2] = { false, false };
    (void)ctx;
    for (int c = 0; c < 2; c++) {
        (void)snprintf(servers[c], sizeof servers[c], "%s:%u",
                       cl[c]->target.host != NULL ? cl[c]->target.host : "?",
                       (unsigned)cl[c]->target.port);
        sc[c]->server = servers[c];
        for (size_t i = 0; i < LQ_KREQ_CONNS; i++) {
            (void)snprintf(names[i], sizeof names[i], i + 1 < LQ_KREQ_CONNS ? "request-%u"
                           : "priority", (unsigned)i);
            lq_mgmt_snap_conn(s, cl[c]->label, names[i], &req[c]->conns[i]);
            conn_errors[c] = conn_errors[c] || req[c]->conns[i].error[0] != '\0';
        }
        const lq_kreq_stats_t *st = &req[c]->stats;
        *sr[c] = (lq_mgmt_requests_t){ st->submitted, st->retries, st->completed, st->failures,
                                       st->queued, st->queue_hwm };
    }
    s->home.id = rn.home_id;
    s->home.name = rn.home_name;
    s->foreign.id = rn.foreign_id;
    s->foreign.name = rn.foreign_name;
    s->vnode.name = rn.node_name;
    s->vnode.lock_held = rn.lock.state == LQ_LOCK_HELD;
    s->vnode.registered = rn.vnode.node_applied;
    s->vnode.node_applies = rn.vnode.stats.node_applies;
    s->vnode.status_updates = rn.vnode.stats.status_updates;
    s->vnode.lease_renewals = rn.vnode.stats.lease_renewals;
    /* foreign: the /readyz ping every 10 s; home: the Lease is held, its /readyz ping
     * answers (3 failures in a row say not) and no request connection reports a failure
     * (an error is cleared by the next success). */
    s->foreign.reachable = rn.vnode.healthy;
    s->home.reachable = s->vnode.lock_held && rn.vnode.home_healthy && !conn_errors[0];
    s->home.tls_unverified = rn.home.kcfg.insecure_skip_tls_verify;
    s->foreign.tls_unverified = rn.foreign.kcfg.insecure_skip_tls_verify;
    const lq_loop_stats_t *ls = lq_loop_stats(&rn.loop);
    lq_mgmt_snap_table(s, "loop descriptors", ls->ios_in_use, LQ_MAX_FDS, ls->ios_high_water);
    lq_tls_stats_t ts;
    lq_tls_stats(&ts);
    lq_mgmt_snap_table(s, "TLS sessions", ts.sessions_open, LQ_TLS_MAX_SESSIONS, ts.sessions_peak);
    lq_mgmt_snap_table(s, "mbedTLS arena bytes", ts.arena_used, ts.arena_size, ts.arena_peak);
    lq_mgmt_snap_table(s, "start-up pool bytes", lq_pool_used(), lq_pool_capacity(), lq_pool_used());
    lq_refl_snap_conns(&rn.refl, s);
    lq_refl_snapshot(&rn.refl, s);
    lq_mgmt_snap_table(s, "event queue", rn.events.stats.queued, LQ_EVENTS_QUEUE,
                       rn.events.stats.queued_hwm);
#if LQ_KUBELET_API
    const lq_kubelet_stats_t *ks = &rn.kubelet.stats;
    lq_mgmt_snap_table(s, "kubelet API sessions", ks->open, LQ_KUBELET_SESSIONS, ks->peak);
    s->kubelet.listening = rn.kubelet.listening;
    s->kubelet.port = rn.kubelet.port;
    s->kubelet.open = ks->open;
    s->kubelet.served = ks->served;
    s->kubelet.refused = ks->refused;
    s->kubelet.unauthenticated = ks->unauthenticated;
    s->kubelet.forbidden = ks->forbidden;
    s->kubelet.errors = ks->errors;
#endif
}

/* A namespace's offloading changed: every kind of it re-queues its records. */
static void namespace_changed(const char *ns, void *ctx)
{
    (void)ctx;
    lq_pods_namespace_changed(ns, &rn.pods);
    for (size_t i = 0; i < LQ_MIRROR_KINDS; i++)
        if (rn.mirrors[i].kind.d)
            lq_mirror_namespace_changed(ns, &rn.mirrors[i]);
}

/* The home cluster turned unreachable or came back: reflected endpoints follow it. */
static void home_available(bool available, void *ctx)
{
    (void)ctx;
    lq_mirror_t *eps = &rn.mirrors[LQ_MIRROR_ENDPOINTSLICE];
    if (eps->kind.d)
        lq_mirror_home_available(eps, available);
}

static void on_locked(lq_lock_t *l, void *ctx)
{
    (void)l;
    (void)ctx;
    if (lq_vnode_start(&rn.vnode) != LQ_OK) {
        LQ_ERROR("run", "cannot start the virtual node");
        lq_loop_stop(&rn.loop);
    }
    if (lq_refl_start(&rn.refl) != LQ_OK || lq_offload_start(&rn.offload) != LQ_OK ||
        lq_events_start(&rn.events) != LQ_OK) {
        LQ_ERROR("run", "cannot start namespace offloading or pod reflection");
        lq_loop_stop(&rn.loop);
    }
#if LQ_KUBELET_API
    if (rn.kubelet_cfg.port &&
        lq_kubelet_start(&rn.kubelet, &rn.loop, &rn.kubelet_cfg) != LQ_OK) {
        LQ_ERROR("run", "cannot start the kubelet API (kubelet.port=0 turns it off)");
        lq_loop_stop(&rn.loop);
    }
#endif
    if (lq_mgmt_start(&rn.mgmt, &rn.loop, mgmt_snapshot, NULL, mgmt_object, NULL) != LQ_OK) {
        LQ_ERROR("run", "cannot start the management endpoint (docs/management.md)");
        lq_loop_stop(&rn.loop);
    }
    lq_notify_status("lock Lease held; virtual node started");
}

static void on_lock_lost(lq_lock_t *l, void *ctx)
{
    (void)l;
    (void)ctx;
    rn.lost = 1;
    lq_loop_stop(&rn.loop);
}

int lq_run_main(lq_config_t *cfg)
{
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    /* The management endpoint's address rule (a non-loopback address needs a PSK) is
     * checked before anything connects or binds. */
    lq_mgmt_cfg_t mc = { cfg->mgmt_listen, cfg->n_mgmt_listen, cfg->mgmt_psk_file,
                         cfg->mgmt_psk_identity, cfg->http_listen, cfg->n_http_listen };
    lq_mgmt_init(&rn.mgmt);
    if (lq_mgmt_configure(&rn.mgmt, &mc, err, sizeof err) != LQ_OK) {
        LQ_ERROR("run", "%s", err);
        return 1;
    }
    if (lq_tls_init() != LQ_OK) {
        LQ_ERROR("run", "cannot initialise TLS (entropy source?)");
        return 1;
    }
    lq_json_doc_init(&rn.doc, rn.arena, sizeof rn.arena);
    lq_liqo_use(cfg->compat == 1 ? LQ_LIQO_COMPAT_V1 : LQ_LIQO_COMPAT_V08);
    if (lq_cluster_open(&rn.home, "home", cfg->home.kubeconfig[0] ? cfg->home.kubeconfig : NULL,
                        cfg->home.context[0] ? cfg->home.context : NULL, true, err, sizeof err) != LQ_OK ||
        lq_cluster_open(&rn.foreign, "foreign",
                        cfg->foreign.kubeconfig[0] ? cfg->foreign.kubeconfig : NULL,
                        cfg->foreign.context[0] ? cfg->foreign.context : NULL, false, err,
                        sizeof err) != LQ_OK ||
        lq_cluster_tls_policy(&rn.home, cfg->allow_insecure_tls, err, sizeof err) != LQ_OK ||
        lq_cluster_tls_policy(&rn.foreign, cfg->allow_insecure_tls, err, sizeof err) != LQ_OK) {
        LQ_ERROR("run", "%s", err);
        return 1;
    }
    lq_loop_init(&rn.loop);
    if (lq_port_signals_install() != LQ_OK)
        return 1;
    lq_kreq_client_init(&rn.home_req, &rn.loop, &rn.home.target, &rn.home.kcfg);
    lq_kreq_client_init(&rn.foreign_req, &rn.loop, &rn.foreign.target, &rn.foreign.kcfg);

    /* Identities: kube-system UIDs (unless given) and the home version. The request
     * client retries with backoff, so a server that is still starting is waited for. */
    lq_kreq_init(&rn.q_home_id, rn.r_home_id, sizeof rn.r_home_id, ident_done, NULL);
    lq_kreq_init(&rn.q_foreign_id, rn.r_foreign_id, sizeof rn.r_foreign_id, ident_done, NULL);
    lq_kreq_init(&rn.q_version, rn.r_version, sizeof rn.r_version, ident_done, NULL);
    lq_kreq_init(&rn.q_nsof, rn.r_nsof, sizeof rn.r_nsof, nsof_done, NULL);
    rn.pending = 4;
    rn.home_req.max_attempts = 20;
    rn.foreign_req.max_attempts = 20;
    (void)lq_kreq_get(&rn.q_home_id, "/api/v1/namespaces/kube-system");
    (void)lq_kreq_get(&rn.q_foreign_id, "/api/v1/namespaces/kube-system");
    (void)lq_kreq_get(&rn.q_version, "/version");
    (void)lq_kreq_get(&rn.q_nsof, "/apis/" LQ_LIQO_OFFLOADING_GROUP);
    (void)lq_kreq_submit(&rn.home_req, &rn.q_home_id);
    (void)lq_kreq_submit(&rn.foreign_req, &rn.q_foreign_id);
    (void)lq_kreq_submit(&rn.home_req, &rn.q_version);
    (void)lq_kreq_submit(&rn.home_req, &rn.q_nsof);
    while (rn.pending > 0) {
        (void)lq_loop_run_once(&rn.loop, 1000);
        int sig = lq_port_signal_take();
        if (sig != 0)
            return 0;
    }
    if (rn.failed != LQ_OK) {
        LQ_ERROR("run", "cannot read the cluster identities; run `liqolet check` with the same "
                 "kubeconfigs for a diagnosis");
        return 1;
    }
    rn.home_req.max_attempts = 5;
    rn.foreign_req.max_attempts = 5;
    if (cfg->home.id[0])
        (void)snprintf(rn.home_id, sizeof rn.home_id, "%s", cfg->home.id);
    else if (get_string(rn.r_home_id, rn.q_home_id.resp_len, "metadata", "uid", rn.home_id,
                        sizeof rn.home_id) != LQ_OK)
        return 1;
    if (cfg->foreign.id[0])
        (void)snprintf(rn.foreign_id, sizeof rn.foreign_id, "%s", cfg->foreign.id);
    else if (get_string(rn.r_foreign_id, rn.q_foreign_id.resp_len, "metadata", "uid",
                        rn.foreign_id, sizeof rn.foreign_id) != LQ_OK)
        return 1;
    if (get_string(rn.r_version, rn.q_version.resp_len, "gitVersion", NULL, rn.kubelet_version,
                   sizeof rn.kubelet_version) != LQ_OK)
        rn.kubelet_version[0] = '\0';
    if (strcmp(rn.home_id, rn.foreign_id) == 0) {
        LQ_ERROR("run", "home and foreign are the same cluster (kube-system UID %s)", rn.home_id);
        return 1;
    }
    if (cfg->foreign.name[0])
        (void)snprintf(rn.foreign_name, sizeof rn.foreign_name, "%s", cfg->foreign.name);
    else
        lq_run_derive_name(rn.foreign_id, rn.foreign_name, sizeof rn.foreign_name);
    if (cfg->home.name[0])
        (void)snprintf(rn.home_name, sizeof rn.home_name, "%s", cfg->home.name);
    else
        lq_run_derive_name(rn.home_id, rn.home_name, sizeof rn.home_name);
    other_family_check(cfg->compat == 1 ? LQ_LIQO_COMPAT_V1 : LQ_LIQO_COMPAT_V08);
    if (cfg->node_name[0])
        (void)snprintf(rn.node_name, sizeof rn.node_name, "%s", cfg->node_name);
    else
        (void)snprintf(rn.node_name, sizeof rn.node_name, "liqo-%s", rn.foreign_name);
    char conn_ip[sizeof rn.node_ip] = "";
    for (size_t i = 0; i < LQ_MAX_REQ_CONNS && !conn_ip[0]; i++)
        if (lq_conn_local_addr(&rn.home_req.conns[i], conn_ip, sizeof conn_ip) != LQ_OK)
            conn_ip[0] = '\0';
    lq_nodeip_src_t ip_src = LQ_NODEIP_CONFIGURED;
    if (lq_nodeip_pick(cfg->node_ip, conn_ip, rn.node_ip, sizeof rn.node_ip, &ip_src) != LQ_OK) {
        LQ_ERROR("run", "no address for the virtual node: the home API server is reached over "
                 "loopback (%s) and no default route has an address; set --node-ip (node.ip) to "
                 "the address the home API server can reach this host at",
                 conn_ip[0] ? conn_ip : "address unknown");
        return 1;
    }

    lq_vnode_cfg_t vc;
    memset(&vc, 0, sizeof vc);
    vc.node_name = rn.node_name;
    vc.node_ip = rn.node_ip;
    vc.home_id = rn.home_id;
    vc.foreign_id = rn.foreign_id;
    vc.kubelet_version = rn.kubelet_version;
    vc.sharing_pct = (unsigned)cfg->sharing_percentage;
    vc.max_pods = cfg->max_pods;
    vc.on_home = home_available;
    vc.on_foreign = lq_pods_foreign_available;
    vc.on_foreign_ctx = &rn.pods;
#if LQ_KUBELET_API
    vc.kubelet_port = (uint16_t)cfg->kubelet_port;
    vc.kubelet_websockets = cfg->kubelet_port != 0;
    rn.kubelet_cfg = (lq_kubelet_cfg_t){ .listen_host = rn.node_ip,
                                         .port = (uint16_t)cfg->kubelet_port,
                                         .node_name = rn.node_name,
                                         .cert_dir = cfg->kubelet_cert_dir,
                                         .csr = cfg->kubelet_certificate == 1,
                                         .home_req = &rn.home_req,
                                         .foreign = &rn.foreign,
                                         .resolve = lq_pods_remote,
                                         .resolve_ctx = &rn.pods };
#else
    if (cfg->kubelet_port != 0)
        LQ_WARN("run", "this build has no kubelet API (board %s): kubectl logs/exec of "
                "offloaded pods are not served", LQ_BOARD_NAME);
#endif
    for (size_t i = 0; i < cfg->n_node_labels && vc.n_labels < LQ_VNODE_MAX_KV; i++) {
        vc.labels[vc.n_labels].key = cfg->node_labels[i].key;
        vc.labels[vc.n_labels++].value = cfg->node_labels[i].value;
    }
    for (size_t i = 0; i < cfg->n_node_annotations && vc.n_annotations < LQ_VNODE_MAX_KV; i++) {
        vc.annotations[vc.n_annotations].key = cfg->node_annotations[i].key;
        vc.annotations[vc.n_annotations++].value = cfg->node_annotations[i].value;
    }
    LQ_INFO("run", "home cluster %s (%s), foreign cluster %s (%s); virtual node %s, node IP %s "
            "(%s)", rn.home_id, rn.home_name, rn.foreign_id, rn.foreign_name, rn.node_name,
            rn.node_ip, lq_nodeip_src_str(ip_src));
    lq_vnode_init(&rn.vnode, &rn.loop, &rn.home, &rn.foreign, &rn.home_req, &rn.foreign_req, &vc);
    lq_offload_cfg_t oc;
    memset(&oc, 0, sizeof oc);
    oc.home_id = rn.home_id;
    oc.home_name = rn.home_name;
    oc.foreign_id = rn.foreign_id;
    oc.foreign_name = rn.foreign_name;
    oc.node_name = rn.node_name;
    for (size_t i = 0; i < cfg->n_offload; i++)
        rn.offload_ns[i] = cfg->offload[i];
    oc.flag_ns = rn.offload_ns;
    oc.n_flag_ns = cfg->n_offload;
    oc.on_change = namespace_changed;
    oc.nsof_gv = lq_offload_pick_gv(rn.nsof_served ? rn.r_nsof : NULL,
                                    rn.nsof_served ? rn.q_nsof.resp_len : 0);
    LQ_INFO("run", "Liqo names: compat %s (labels %s, %s%s%s); NamespaceOffloading %s",
            lq_liqo_names()->compat, lq_liqo_names()->origin, lq_liqo_names()->destination,
            lq_liqo_names()->nodename ? ", " : "",
            lq_liqo_names()->nodename ? lq_liqo_names()->nodename : "", oc.nsof_gv);
    oc.ctx = NULL;
    oc.flag_mapping = cfg->offload_mapping == 1 ? LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME
                                                : LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME;
    oc.psa = (lq_forge_offload_psa_t)cfg->pod_security; /* same order (config.c) */
    lq_refl_init(&rn.refl, &rn.loop, &rn.home, &rn.foreign, &rn.home_req, &rn.foreign_req);
    if (lq_offload_init(&rn.offload, &rn.refl, &oc) != LQ_OK) {
        LQ_ERROR("run", "cannot set up namespace offloading (cluster names or ids too long?)");
        return 1;
    }
    lq_events_init(&rn.events, &rn.loop, &rn.foreign, &rn.home_req, lq_pods_lookup, &rn.pods,
                   rn.foreign_name);
    lq_pods_cfg_t pc = { rn.home_id, rn.foreign_id, rn.node_name, rn.node_ip, rn.foreign_name,
                         &rn.events, cfg->networking_reflect_ips, (size_t)cfg->max_pods, false };
    pc.root_ca = cfg->reflection_configmap_workers > 0; /* kube-root-ca.crt.<id> exists */
    if (lq_pods_init(&rn.pods, &rn.refl, &rn.offload, &pc) != LQ_OK) {
        LQ_ERROR("run", "cannot set up pod reflection (node name or cluster ids too long?)");
        return 1;
    }
#if LQ_PIPE_ENABLED
    lq_pipe_init(&rn.pipe, &rn.loop, &rn.home, &rn.foreign);
    lq_pipe_t *pipe = &rn.pipe;
#else
    lq_pipe_t *pipe = NULL;
#endif
    /* ConfigMaps, Secrets, Services, Ingresses, EndpointSlices: one kind each. */
    const struct {
        long workers;
        unsigned type;
        lq_mirror_rec_t *recs;
        size_t cap;
    } mk[LQ_MIRROR_KINDS] = {
        [LQ_MIRROR_CONFIGMAP] = { cfg->reflection_configmap_workers,
                                  cfg->reflection_configmap_type, configmap_recs,
                                  LQ_MAX_CONFIGMAPS },
        [LQ_MIRROR_SECRET] = { cfg->reflection_secret_workers, cfg->reflection_secret_type,
                               secret_recs, LQ_MAX_SECRETS },
        [LQ_MIRROR_SERVICE] = { cfg->reflection_service_workers, cfg->reflection_service_type,
                                service_recs, LQ_MAX_SERVICES },
        [LQ_MIRROR_INGRESS] = { cfg->reflection_ingress_workers, cfg->reflection_ingress_type,
                                ingress_recs, LQ_MAX_INGRESSES },
        /* not registered at all with networking.reflectIPs=false (Liqo) */
        [LQ_MIRROR_ENDPOINTSLICE] = { cfg->networking_reflect_ips
                                          ? cfg->reflection_endpointslice_workers : 0,
                                      cfg->reflection_endpointslice_type, slice_recs,
                                      LQ_MAX_ENDPOINTSLICES },
    };
    static const char *const what[LQ_MIRROR_KINDS] = { "ConfigMap", "Secret", "Service",
                                                       "Ingress", "EndpointSlice" };
    for (int i = 0; i < (int)LQ_MIRROR_KINDS; i++) {
        if (mk[i].workers <= 0) {
            LQ_INFO("run", "%s reflection is off (%s)", what[i],
                    i == LQ_MIRROR_ENDPOINTSLICE && !cfg->networking_reflect_ips
                        ? "networking.reflectIPs=false" : "workers=0");
            continue;
        }
        lq_mirror_cfg_t mcf;
        memset(&mcf, 0, sizeof mcf);
        mcf.kind = (lq_mirror_kind_t)i;
        mcf.home_id = rn.home_id;
        mcf.foreign_id = rn.foreign_id;
        mcf.foreign_name = rn.foreign_name;
        mcf.events = &rn.events;
        mcf.pipe = pipe;
        mcf.policy = mk[i].type == 1 ? LQ_FORGE_CONF_ALLOWLIST : LQ_FORGE_CONF_DENYLIST;
        mcf.workers = mk[i].workers > LQ_REFL_WORKERS ? LQ_REFL_WORKERS : (unsigned)mk[i].workers;
        mcf.vnode_name = rn.node_name;
        mcf.home_name = rn.home_name;
        mcf.services = rn.mirrors[LQ_MIRROR_SERVICE].kind.d ? &rn.mirrors[LQ_MIRROR_SERVICE] : NULL;
        if (lq_mirror_init(&rn.mirrors[i], &rn.refl, &rn.offload, &mcf, mk[i].recs, mk[i].cap) !=
            LQ_OK) {
            LQ_ERROR("run", "cannot set up %s reflection", what[i]);
            return 1;
        }
    }
    if (rn.mirrors[LQ_MIRROR_SERVICE].kind.d && rn.mirrors[LQ_MIRROR_ENDPOINTSLICE].kind.d)
        rn.mirrors[LQ_MIRROR_SERVICE].cfg.slices = &rn.mirrors[LQ_MIRROR_ENDPOINTSLICE];
    /* Single instance per (home, foreign) pair: the virtual node starts only once the
     * pair's lock Lease is held (its name comes from the foreign id read above). */
    if (lq_lock_start(&rn.lock, &rn.loop, &rn.home_req, cfg->namespace, rn.home_id,
                      rn.foreign_id, rn.node_name, on_locked, on_lock_lost, NULL) != LQ_OK) {
        LQ_ERROR("run", "invalid foreign cluster id, node name or namespace for the lock Lease");
        return 1;
    }
    lq_pool_seal(); /* from here on the agent's own code allocates nothing */
    /* READY=1 for Type=notify units: start-up is done; the node follows the lock. */
    lq_notify_ready(&rn.notify, &rn.loop, "waiting for the lock Lease of this peering");
    int sig = lq_loop_run(&rn.loop);
    lq_notify_stopping(&rn.notify, &rn.loop);
    if (rn.lost)
        return 1;
    if (lq_lock_release(&rn.lock))
        for (int i = 0; i < 30 && rn.lock.state == LQ_LOCK_RELEASING; i++)
            (void)lq_loop_run_once(&rn.loop, 100);
#if LQ_KUBELET_API
    lq_kubelet_stop(&rn.kubelet);
#endif
    lq_mgmt_close(&rn.mgmt);
    LQ_INFO("run", "stopping on signal %d; the virtual node and remote objects stay in place", sig);
    return 0;
}
