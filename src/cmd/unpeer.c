/* liqolet: `liqolet unpeer`, the end of a peering (Liqo's `liqoctl unpeer` and its
 * `--force` for a foreign cluster that is gone; DESIGN.md Decision 9: stopping the agent
 * leaves everything in place, tearing down is this separate command).
 *
 * One shot, blocking, on the same request clients as the agent (src/kube/kreq.c), with
 * the agent's own flags and configuration file for the clusters, ids, names and node.
 * In order, each step level-based so that a second run finds nothing and says so:
 *   1. the pair's lock Lease (and an earlier version's per-node one): a live holder (an
 *      agent renewed it within its duration) makes unpeer refuse, unless --take-over:
 *      then unpeer writes itself in as the holder, the agent's next renewal fails and it
 *      stops (src/node/lock.c), and unpeer waits one renewal period for that. unpeer
 *      holds the lock while it works, so no agent starts meanwhile;
 *   2. the virtual node is cordoned (only a node that is this pair's virtual node);
 *   3. each home pod on the node: its remote pod (ours: our labels and this home pod's
 *      UID, in the remote namespace the home namespace's mark names) is deleted with
 *      its UID as precondition and its own grace period; once it is gone the home pod
 *      is deleted with grace 0 and its UID (no kubelet finishes it); bounded by
 *      --timeout;
 *   4. each remote namespace the agent created: the home namespace's mark (label and
 *      annotation liqolet.liqo.io/remote.<foreign name>: name and UID, written at home
 *      where the foreign side cannot forge it) names it; it is deleted only when the
 *      foreign namespace with that name has that UID and our labels and original-name
 *      (DESIGN.md Decision 17); its deletion removes its content (every remote object the
 *      agent writes lives in such a namespace). Foreign namespaces that carry our labels
 *      without such proof are reported and left alone;
 *   5. home: the agent's finalizer and status key on every NamespaceOffloading (Decision
 *      1), its mark on home namespaces and liqo.io/scheduling-enabled where nothing else
 *      asks for it (no NamespaceOffloading, no other agent's mark), the virtual node, its
 *      node Lease, and the lock Lease.
 * --force (the foreign cluster is gone for good): no foreign request at all; home pods on
 * the node are deleted with grace 0, the rest of step 5 runs, and the remote namespaces
 * that stay behind are named in the report.
 * Lists are paginated (a few objects per page, metadata only where that is enough), so
 * memory stays within two static buffers whatever the cluster holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/cluster.h"
#include "liqolet/config.h"
#include "liqolet/forge_node.h"
#include "liqolet/forge_offload.h"
#include "liqolet/forge_pod.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/kreq.h"
#include "liqolet/liqo.h"
#include "liqolet/lock.h"
#include "liqolet/log.h"
#include "liqolet/loop.h"
#include "liqolet/offload.h"
#include "liqolet/peer.h"
#include "liqolet/perms.h"
#include "liqolet/refl.h"
#include "liqolet/run.h"
#include "liqolet/tls.h"

#define UP_PAGE 8                /* objects per LIST page */
#define UP_DEFAULT_TIMEOUT_S 120
#define UP_NS_WAIT_MAX 64        /* deleted remote namespaces waited for */
#define LEASE_GV "coordination.k8s.io/v1"
/* LISTs of metadata only (names, uids, labels, annotations). */
#define ACCEPT_META_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," \
                         "application/json"

/* One object of a LIST page, copied out so the page can be dropped. */
typedef struct item {
    char ns[LQ_FORGE_OFFLOAD_NAME_BUF];
    char name[LQ_PERMS_NAME_MAX + 1];
    char uid[64];
    char mark[LQ_FORGE_OFFLOAD_NAME_BUF];     /* namespaces: our mark's remote name */
    char mark_uid[64];                        /* ... and its UID */
    bool other_mark;                          /* another agent's mark is there too */
    bool scheduling;                          /* liqo.io/scheduling-enabled is set */
} item_t;

typedef struct counts {
    unsigned remote_pods, home_pods, remote_ns, remote_ns_left, foreign_unproven, nsof_fin,
        nsof_status, marks, sched_labels, cordoned, nodes, node_leases, locks;
} counts_t;

static struct {
    lq_config_t cfg;
    bool force, take_over, remove_identity;
    int64_t timeout_ms, deadline;
    lq_loop_t loop;
    lq_cluster_t home, foreign;
    lq_kreq_client_t hreq, freq;
    lq_kreq_t q;
    bool q_done;
    lq_err_t q_err;
    int sig;
    char home_id[128], foreign_id[128], home_name[64], foreign_name[64];
    char node[LQ_PERMS_NAME_MAX + 1], node_uid[64];
    char lock[LQ_PERMS_NAME_MAX + 1], legacy[LQ_PERMS_NAME_MAX + 1];
    char identity[LQ_LOCK_HOLDER_MAX];
    char lock_rv[64], lock_uid[64];
    bool lock_held;       /* we wrote ourselves into the pair's Lease */
    bool lock_existed;    /* ...which existed before (an agent's, or a failed unpeer's) */
    int64_t lock_renewed; /* monotonic ms of our last write */
    char finalizer[sizeof LQ_OFFLOAD_FINALIZER_PREFIX + LQ_FORGE_OFFLOAD_NAME_MAX];
    char mark_key[sizeof LQ_FORGE_OFFLOAD_MARK_PREFIX + LQ_FORGE_OFFLOAD_NAME_MAX];
    char owner_sel[512];
    const char *nsof_gv;  /* the NamespaceOffloading version home serves (lq_offload_pick_gv) */
    char nsof_list[sizeof "/apis/" LQ_LIQO_OFFLOADING_GV_V1ALPHA1 "/namespaceoffloadings"];
    item_t page[UP_PAGE];
    size_t n_page;
    char cont[LQ_LIST_CONTINUE_MAX + 1];
    char waited_ns[UP_NS_WAIT_MAX][LQ_FORGE_OFFLOAD_NAME_BUF];
    size_t n_waited_ns;
    counts_t c;
    unsigned failures;
    char path[LQ_KREQ_PATH_MAX];
    char body[8192];
    char resp[LQ_MAX_OBJECT];
    unsigned char arena[2u * LQ_MAX_OBJECT];
    lq_json_doc_t doc;
} up;

/* --- requests -------------------------------------------------------------------------- */

static void q_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)r;
    (void)ctx;
    up.q_done = true;
    up.q_err = err;
}

/* Runs the request already filled in up.q to completion. A signal cancels it. */
static lq_err_t call(lq_kreq_client_t *cl, lq_err_t filled)
{
    if (filled != LQ_OK)
        return filled;
    up.q_done = false;
    lq_err_t e = lq_kreq_submit(cl, &up.q);
    if (e != LQ_OK)
        return e;
    while (!up.q_done) {
        (void)lq_loop_run_once(&up.loop, 200);
        int sig = lq_port_signal_take();
        if (sig != 0) {
            up.sig = sig;
            (void)lq_kreq_cancel(&up.q);
            return LQ_ESTATE;
        }
    }
    return up.q_err;
}

static void q_prepare(const char *accept)
{
    lq_kreq_init(&up.q, up.resp, sizeof up.resp, q_done, NULL);
    up.q.accept = accept;
}

static lq_err_t get(lq_kreq_client_t *cl, const char *path, const char *accept)
{
    q_prepare(accept);
    return call(cl, lq_kreq_get(&up.q, path));
}

/* Parses the last response into up.doc. */
static lq_json_t *parsed(void)
{
    lq_json_t *root = NULL;
    lq_json_reset(&up.doc);
    if (lq_json_parse(&up.doc, up.resp, up.q.resp_len, &root) != LQ_OK)
        return NULL;
    return root;
}

static lq_err_t render(const lq_json_t *obj, size_t *len)
{
    if (up.doc.last_err != LQ_OK)
        return up.doc.last_err;
    return lq_json_print(obj, up.body, sizeof up.body, len);
}

static void failed(const char *what, lq_err_t e)
{
    up.failures++;
    LQ_ERROR("unpeer", "%s: %s%s%s", what, lq_err_str(e), up.q.message[0] ? " - " : "",
             up.q.message);
}

static bool time_left(void)
{
    return lq_port_mono_ms() < up.deadline && up.sig == 0;
}

static void pause_ms(int64_t ms)
{
    int64_t until = lq_port_mono_ms() + ms;
    while (lq_port_mono_ms() < until && up.sig == 0) {
        (void)lq_loop_run_once(&up.loop, 100);
        int sig = lq_port_signal_take();
        if (sig != 0)
            up.sig = sig;
    }
}

/* --- the lock --------------------------------------------------------------------------- */

/* Writes ourselves into the pair's Lease (create, or update with the resourceVersion
 * read), renewed now. */
static lq_err_t lock_write(bool create)
{
    char now[40];
    if (lq_forge_time_format(lq_port_wall_ms(), true, now, sizeof now) != LQ_OK)
        return LQ_EINVAL;
    int n = snprintf(up.body, sizeof up.body,
                     "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":"
                     "{\"name\":\"%s\",\"namespace\":\"%s\"%s%s%s},\"spec\":{\"holderIdentity\":"
                     "\"%s\",\"leaseDurationSeconds\":%d,\"acquireTime\":\"%s\",\"renewTime\":\"%s\"}}",
                     up.lock, up.cfg.namespace, create ? "" : ",\"resourceVersion\":\"",
                     create ? "" : up.lock_rv, create ? "" : "\"", up.identity, LQ_LOCK_DURATION_S,
                     now, now);
    if (n < 0 || (size_t)n >= sizeof up.body)
        return LQ_ETOOBIG;
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, LEASE_GV, up.cfg.namespace, "leases",
                              create ? NULL : up.lock, NULL);
    if (e != LQ_OK)
        return e;
    q_prepare(NULL);
    e = call(&up.hreq, create ? lq_kreq_create(&up.q, up.path, up.body, (size_t)n)
                              : lq_kreq_update(&up.q, up.path, up.body, (size_t)n));
    if (e != LQ_OK)
        return e;
    lq_json_t *root = parsed();
    (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "resourceVersion"), up.lock_rv, sizeof up.lock_rv);
    (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "uid"), up.lock_uid, sizeof up.lock_uid);
    up.lock_held = true;
    up.lock_renewed = lq_port_mono_ms();
    return LQ_OK;
}

/* While unpeer works, an agent that starts must keep waiting: renew like an agent. */
static void lock_keep(void)
{
    if (up.lock_held && lq_port_mono_ms() - up.lock_renewed >= LQ_LOCK_RENEW_MS) {
        lq_err_t e = lock_write(false);
        if (e != LQ_OK)
            LQ_WARN("unpeer", "cannot renew the lock Lease %s/%s: %s", up.cfg.namespace, up.lock,
                    lq_err_str(e));
    }
}

/* Reads Lease `name`: 0 absent, 1 present and not live, 2 live (holder described). */
static int lease_state(const char *name, lq_lock_info_t *info, lq_err_t *err)
{
    *err = lq_kapi_path(up.path, sizeof up.path, LEASE_GV, up.cfg.namespace, "leases", name, NULL);
    if (*err == LQ_OK)
        *err = get(&up.hreq, up.path, NULL);
    if (*err == LQ_ENOTFOUND) {
        *err = LQ_OK;
        return 0;
    }
    if (*err != LQ_OK)
        return -1;
    if (lq_lock_parse(up.resp, up.q.resp_len, lq_port_wall_ms(), info) != LQ_OK) {
        *err = LQ_EPROTO;
        return -1;
    }
    if (strcmp(name, up.lock) == 0) {
        memcpy(up.lock_rv, info->rv, sizeof up.lock_rv);
        lq_json_t *root = parsed();
        (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "uid"), up.lock_uid, sizeof up.lock_uid);
    }
    return info->live ? 2 : 1;
}

/* Step 1. Returns 0 to go on, else the exit status. */
static int lock_claim(void)
{
    static lq_lock_info_t info;
    char who[LQ_LOCK_HOLDER_MAX + 64];
    lq_err_t e;
    bool took_live = false;
    /* an earlier version's per-node lock: it cannot be taken over by name (that agent
     * knows only its own Lease), but writing ourselves in stops it the same way */
    if (strcmp(up.legacy, up.lock) != 0) {
        int st = lease_state(up.legacy, &info, &e);
        if (st < 0 && e != LQ_EFORBIDDEN) {
            failed("read the per-node lock Lease of earlier versions", e);
            return 1;
        }
        if (st == 2) {
            fprintf(stderr, "liqolet unpeer: node %s is held by %s through the per-node Lease %s/%s "
                    "of an earlier liqolet version; stop that agent first%s\n", up.node,
                    lq_lock_holder_describe(info.holder, who, sizeof who), up.cfg.namespace,
                    up.legacy, up.take_over ? " (--take-over works only on the pair's Lease)" : "");
            return 1;
        }
    }
    int st = lease_state(up.lock, &info, &e);
    if (st < 0) {
        failed("read the pair's lock Lease", e);
        return 1;
    }
    if (st == 2) {
        lq_lock_holder_describe(info.holder, who, sizeof who);
        if (!up.take_over) {
            fprintf(stderr, "liqolet unpeer: pair %s->%s is held by %s (Lease %s/%s, renewed "
                    "within its %lld s); stop that agent first, or rerun with --take-over to "
                    "make it stop\n", up.home_id, up.foreign_id, who, up.cfg.namespace, up.lock,
                    (long long)info.duration_s);
            return 1;
        }
        LQ_INFO("unpeer", "taking the lock of pair %s->%s over from %s", up.home_id,
                up.foreign_id, who);
        took_live = true;
    }
    up.lock_existed = st != 0;
    e = lock_write(st == 0);
    if (e == LQ_ECONFLICT) {
        fprintf(stderr, "liqolet unpeer: the lock Lease %s/%s changed while unpeer took it "
                "(an agent renewed or started); run unpeer again\n", up.cfg.namespace, up.lock);
        return 1;
    }
    if (e != LQ_OK) {
        failed("take the pair's lock Lease", e);
        return 1;
    }
    if (took_live) {
        /* the agent renews every LQ_LOCK_RENEW_MS; its next renewal fails and it stops */
        printf("took the lock over from %s; waiting %d s for it to stop\n", who,
               (LQ_LOCK_RENEW_MS + 5000) / 1000);
        fflush(stdout);
        pause_ms(LQ_LOCK_RENEW_MS + 5000);
        lock_keep();
    }
    return up.sig != 0 ? 1 : 0;
}

/* --- paginated lists --------------------------------------------------------------------- */

typedef void item_fn(const lq_json_t *obj, item_t *it);

/* One page of `base` (a collection path with its query) into up.page; cont keeps the
 * position. Returns LQ_OK (with up.n_page items), or the request's error. */
static lq_err_t list_page(lq_kreq_client_t *cl, const char *base, const char *accept, item_fn *fn)
{
    unsigned limit = UP_PAGE;
    lq_json_t *root = NULL;
    for (;;) {
        int n = snprintf(up.path, sizeof up.path, "%s%slimit=%u%s%s", base,
                         strchr(base, '?') ? "&" : "?", limit, up.cont[0] ? "&continue=" : "",
                         up.cont);
        if (n < 0 || (size_t)n >= sizeof up.path)
            return LQ_ETOOBIG;
        lq_err_t e = get(cl, up.path, accept);
        if (e == LQ_OK) {
            lq_json_reset(&up.doc);
            e = lq_json_parse(&up.doc, up.resp, up.q.resp_len, &root);
        }
        /* big objects (the response or its parse does not fit): fewer per page */
        if ((e == LQ_ETOOBIG || e == LQ_ENOSPC) && limit > 1) {
            limit /= 2;
            continue;
        }
        if (e != LQ_OK)
            return e;
        break;
    }
    up.n_page = 0;
    for (const lq_json_t *it = lq_json_first(lq_json_get(root, "items")); it && up.n_page < UP_PAGE;
         it = lq_json_next(it)) {
        item_t *p = &up.page[up.n_page];
        memset(p, 0, sizeof *p);
        (void)lq_json_str_copy(LQ_JSON_AT(it, "metadata", "namespace"), p->ns, sizeof p->ns);
        if (lq_json_str_copy(LQ_JSON_AT(it, "metadata", "name"), p->name, sizeof p->name) != LQ_OK ||
            lq_json_str_copy(LQ_JSON_AT(it, "metadata", "uid"), p->uid, sizeof p->uid) != LQ_OK)
            continue;
        if (fn)
            fn(it, p);
        up.n_page++;
    }
    if (lq_json_str_copy(LQ_JSON_AT(root, "metadata", "continue"), up.cont, sizeof up.cont) != LQ_OK)
        up.cont[0] = '\0';
    return LQ_OK;
}

/* --- step 2: the virtual node ------------------------------------------------------------- */

/* Reads the node: 0 gone, 1 ours (uid kept), -1 error or not this pair's virtual node. */
static int node_read(void)
{
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "nodes", up.node, NULL);
    if (e == LQ_OK)
        e = get(&up.hreq, up.path, LQ_KREQ_ACCEPT_META);
    if (e == LQ_ENOTFOUND)
        return 0;
    if (e != LQ_OK) {
        failed("read the virtual node", e);
        return -1;
    }
    lq_json_t *n = parsed();
    const lq_json_t *labels = LQ_JSON_AT(n, "metadata", "labels");
    if (!lq_json_str_is(lq_json_get(labels, LQ_LIQO_LABEL_TYPE), LQ_LIQO_TYPE_VIRTUAL_NODE) ||
        !lq_json_str_is(lq_json_get(labels, LQ_LIQO_LABEL_REMOTE_CLUSTER_ID), up.foreign_id)) {
        up.failures++;
        LQ_ERROR("unpeer", "node %s is not the virtual node of foreign cluster %s (labels %s=%s "
                 "and %s=<foreign id> missing); it is left alone", up.node, up.foreign_id,
                 LQ_LIQO_LABEL_TYPE, LQ_LIQO_TYPE_VIRTUAL_NODE, LQ_LIQO_LABEL_REMOTE_CLUSTER_ID);
        return -1;
    }
    (void)lq_json_str_copy(LQ_JSON_AT(n, "metadata", "uid"), up.node_uid, sizeof up.node_uid);
    return 1;
}

static void node_cordon(void)
{
    static const char patch[] = "{\"spec\":{\"unschedulable\":true}}";
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "nodes", up.node, NULL);
    q_prepare(NULL);
    e = call(&up.hreq, e == LQ_OK ? lq_kreq_merge_patch(&up.q, up.path, patch, sizeof patch - 1) : e);
    if (e == LQ_OK) {
        up.c.cordoned++;
        LQ_INFO("unpeer", "node %s cordoned", up.node);
    } else if (e != LQ_ENOTFOUND) {
        failed("cordon the virtual node", e);
    }
}

/* --- step 3: pods ------------------------------------------------------------------------- */

/* Namespaces: our mark, another agent's mark, the scheduling label. */
static void ns_item(const lq_json_t *obj, item_t *it)
{
    const lq_json_t *labels = LQ_JSON_AT(obj, "metadata", "labels");
    (void)lq_json_str_copy(lq_json_get(labels, up.mark_key), it->mark, sizeof it->mark);
    (void)lq_json_str_copy(LQ_JSON_AT(obj, "metadata", "annotations", up.mark_key), it->mark_uid,
                           sizeof it->mark_uid);
    it->scheduling = lq_json_get(labels, LQ_LIQO_LABEL_SCHEDULING) != NULL;
    size_t pl = strlen(LQ_FORGE_OFFLOAD_MARK_PREFIX);
    for (const lq_json_t *l = lq_json_first(labels); l; l = lq_json_next(l)) {
        const char *k = lq_json_key(l);
        if (k && strncmp(k, LQ_FORGE_OFFLOAD_MARK_PREFIX, pl) == 0 && strcmp(k, up.mark_key) != 0)
            it->other_mark = true;
    }
}

/* The remote namespace of home namespace ns, from its mark (home truth), cached for the
 * pods of one namespace in a row. "" when there is none. */
static const char *remote_ns_of(const char *ns)
{
    static char cached_ns[LQ_FORGE_OFFLOAD_NAME_BUF], cached[LQ_FORGE_OFFLOAD_NAME_BUF];
    static bool valid;
    if (valid && strcmp(cached_ns, ns) == 0)
        return cached;
    cached[0] = '\0';
    valid = false;
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "namespaces", ns, NULL);
    if (e == LQ_OK)
        e = get(&up.hreq, up.path, LQ_KREQ_ACCEPT_META);
    if (e != LQ_OK && e != LQ_ENOTFOUND)
        return NULL; /* unknown: try again next round */
    if (e == LQ_OK) {
        item_t it;
        memset(&it, 0, sizeof it);
        ns_item(parsed(), &it);
        if (it.mark_uid[0])
            memcpy(cached, it.mark, sizeof cached);
    }
    (void)snprintf(cached_ns, sizeof cached_ns, "%s", ns);
    valid = true;
    return cached;
}

static lq_err_t delete_pod(lq_kreq_client_t *cl, const char *ns, const char *name,
                           const char *uid, int64_t grace)
{
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", ns, "pods", name, NULL);
    q_prepare(NULL);
    return call(cl, e == LQ_OK ? lq_kreq_delete_grace(&up.q, up.path, uid, NULL, grace) : e);
}

/* One home pod: remote first, then home. Returns true when the home pod is gone. */
static bool pod_step(const item_t *p, bool *waiting)
{
    if (!up.force) {
        const char *rns = remote_ns_of(p->ns);
        if (rns == NULL) {
            *waiting = true;
            return false;
        }
        if (rns[0]) {
            lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", rns, "pods", p->name, NULL);
            if (e == LQ_OK)
                e = get(&up.freq, up.path, LQ_KREQ_ACCEPT_META);
            if (e != LQ_OK && e != LQ_ENOTFOUND) {
                failed("read a remote pod", e);
                *waiting = true;
                return false;
            }
            if (e == LQ_OK) {
                lq_json_t *r = parsed();
                char ruid[64] = "";
                (void)lq_json_str_copy(LQ_JSON_AT(r, "metadata", "uid"), ruid, sizeof ruid);
                if (lq_forge_pod_owner(r, up.home_id, up.foreign_id, p->uid) == LQ_FORGE_POD_OURS) {
                    if (!lq_json_deleting(r)) {
                        e = delete_pod(&up.freq, rns, p->name, ruid, -1);
                        if (e == LQ_OK) {
                            up.c.remote_pods++;
                            LQ_INFO("unpeer", "remote pod %s/%s (of home pod %s/%s) deleted",
                                    rns, p->name, p->ns, p->name);
                        } else if (e != LQ_ENOTFOUND && e != LQ_ECONFLICT) {
                            failed("delete a remote pod", e);
                        }
                    }
                    *waiting = true; /* home goes once the remote one is gone */
                    return false;
                }
                LQ_INFO("unpeer", "pod %s/%s in the foreign cluster is not this home pod's; left "
                        "alone", rns, p->name);
            }
        }
    }
    lq_err_t e = delete_pod(&up.hreq, p->ns, p->name, p->uid, 0);
    if (e == LQ_OK) {
        up.c.home_pods++;
        LQ_INFO("unpeer", "home pod %s/%s deleted", p->ns, p->name);
        return true;
    }
    if (e == LQ_ENOTFOUND || e == LQ_ECONFLICT)
        return true; /* gone, or another pod of that name now */
    failed("delete a home pod", e);
    return false;
}

static void pods(void)
{
    char base[LQ_KREQ_PATH_MAX];
    (void)snprintf(base, sizeof base, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", up.node);
    for (;;) {
        bool waiting = false, any = false;
        up.cont[0] = '\0';
        do {
            lq_err_t e = list_page(&up.hreq, base, ACCEPT_META_LIST, NULL);
            if (e != LQ_OK) {
                failed("list the home pods on the virtual node", e);
                return;
            }
            for (size_t i = 0; i < up.n_page && up.sig == 0; i++) {
                any = true;
                (void)pod_step(&up.page[i], &waiting);
                lock_keep();
            }
        } while (up.cont[0] && up.sig == 0);
        if (!any || !waiting)
            return;
        if (!time_left()) {
            up.failures++;
            LQ_ERROR("unpeer", "home pods still wait for their remote pods to terminate after "
                     "--timeout; rerun unpeer (or with --force if the foreign cluster is gone)");
            return;
        }
        pause_ms(1000);
    }
}

/* --- step 4 and 5: namespaces --------------------------------------------------------------- */

/* Deletes the remote namespace the mark names when it is provably ours. Returns true
 * when the mark may go (deleted, gone, or someone else's under that name now). */
static bool remote_ns_delete(const item_t *h)
{
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "namespaces", h->mark, NULL);
    if (e == LQ_OK)
        e = get(&up.freq, up.path, LQ_KREQ_ACCEPT_META);
    if (e == LQ_ENOTFOUND)
        return true;
    if (e != LQ_OK) {
        failed("read a remote namespace", e);
        return false;
    }
    lq_json_t *r = parsed();
    char ruid[64] = "";
    (void)lq_json_str_copy(LQ_JSON_AT(r, "metadata", "uid"), ruid, sizeof ruid);
    if (strcmp(ruid, h->mark_uid) != 0 ||
        !lq_forge_offload_remote_ns_owned(r, up.home_id, up.foreign_id, h->name)) {
        LQ_WARN("unpeer", "foreign namespace %s is not the one created for home namespace %s "
                "(UID %s, recorded %s, or labels differ); left alone", h->mark, h->name,
                ruid, h->mark_uid);
        return true;
    }
    if (!lq_json_deleting(r)) {
        e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "namespaces", h->mark, NULL);
        q_prepare(NULL);
        e = call(&up.freq, e == LQ_OK ? lq_kreq_delete(&up.q, up.path, h->mark_uid, "Background") : e);
        if (e != LQ_OK && e != LQ_ENOTFOUND && e != LQ_ECONFLICT) {
            failed("delete a remote namespace", e);
            return false;
        }
        if (e == LQ_OK) {
            up.c.remote_ns++;
            LQ_INFO("unpeer", "remote namespace %s (of home namespace %s) deleted with its content",
                    h->mark, h->name);
        }
    }
    if (up.n_waited_ns < UP_NS_WAIT_MAX)
        memcpy(up.waited_ns[up.n_waited_ns++], h->mark, sizeof up.waited_ns[0]);
    return true;
}

/* Does home namespace ns have a NamespaceOffloading? (It then asks for the scheduling
 * label itself.) Unknown counts as yes: the label stays. */
static bool nsof_exists(const char *ns)
{
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, up.nsof_gv, ns,
                              "namespaceoffloadings", LQ_FORGE_OFFLOAD_OBJECT_NAME, NULL);
    if (e == LQ_OK)
        e = get(&up.hreq, up.path, LQ_KREQ_ACCEPT_META);
    return e != LQ_ENOTFOUND;
}

/* Removes our mark from a home namespace, and the scheduling label when nothing else asks
 * for it. */
static void home_ns_unmark(const item_t *h)
{
    bool sched = h->scheduling && !h->other_mark && !nsof_exists(h->name);
    lq_json_reset(&up.doc);
    lq_json_doc_t *d = &up.doc;
    lq_json_t *labels = lq_json_new_object(d), *ann = lq_json_new_object(d);
    lq_json_t *meta = lq_json_new_object(d), *patch = lq_json_new_object(d);
    (void)lq_json_obj_add(d, labels, up.mark_key, lq_json_new_null(d));
    if (sched)
        (void)lq_json_obj_add(d, labels, LQ_LIQO_LABEL_SCHEDULING, lq_json_new_null(d));
    (void)lq_json_obj_add(d, ann, up.mark_key, lq_json_new_null(d));
    (void)lq_json_obj_add(d, meta, "uid", lq_json_new_cstr(d, h->uid)); /* the same namespace */
    (void)lq_json_obj_add(d, meta, "labels", labels);
    (void)lq_json_obj_add(d, meta, "annotations", ann);
    (void)lq_json_obj_add(d, patch, "metadata", meta);
    size_t len = 0;
    lq_err_t e = render(patch, &len);
    if (e == LQ_OK)
        e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "namespaces", h->name, NULL);
    q_prepare(NULL);
    e = call(&up.hreq, e == LQ_OK ? lq_kreq_merge_patch(&up.q, up.path, up.body, len) : e);
    if (e == LQ_ENOTFOUND || e == LQ_ECONFLICT)
        return;
    if (e != LQ_OK) {
        failed("remove the mark from a home namespace", e);
        return;
    }
    up.c.marks++;
    LQ_INFO("unpeer", "home namespace %s: mark %s removed%s", h->name, up.mark_key,
            sched ? ", and " LQ_LIQO_LABEL_SCHEDULING : "");
    if (sched)
        up.c.sched_labels++;
}

static void namespaces(void)
{
    char base[LQ_KREQ_PATH_MAX];
    (void)snprintf(base, sizeof base, "/api/v1/namespaces?labelSelector=%s", up.mark_key);
    up.cont[0] = '\0';
    do {
        lq_err_t e = list_page(&up.hreq, base, ACCEPT_META_LIST, ns_item);
        if (e != LQ_OK) {
            failed("list the home namespaces this agent marked", e);
            return;
        }
        for (size_t i = 0; i < up.n_page && up.sig == 0; i++) {
            item_t *h = &up.page[i];
            if (!h->mark[0] || !h->mark_uid[0])
                continue;
            if (up.force) {
                up.c.remote_ns_left++;
                printf("  left in the foreign cluster: namespace %s (UID %s, of home namespace %s)\n",
                       h->mark, h->mark_uid, h->name);
            } else if (!remote_ns_delete(h)) {
                continue; /* keep the proof for a rerun */
            }
            home_ns_unmark(h);
            lock_keep();
        }
    } while (up.cont[0] && up.sig == 0);
}

/* The remote namespaces deleted go away (their content first); bounded. */
static void namespaces_wait(void)
{
    size_t left = up.n_waited_ns;
    while (left > 0 && time_left()) {
        left = 0;
        for (size_t i = 0; i < up.n_waited_ns; i++) {
            if (!up.waited_ns[i][0])
                continue;
            lq_err_t e = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "namespaces",
                                      up.waited_ns[i], NULL);
            if (e == LQ_OK)
                e = get(&up.freq, up.path, LQ_KREQ_ACCEPT_META);
            if (e == LQ_ENOTFOUND)
                up.waited_ns[i][0] = '\0';
            else
                left++;
        }
        lock_keep();
        if (left > 0)
            pause_ms(1000);
    }
    if (left > 0)
        printf("  %zu remote namespace(s) still terminating after --timeout (their deletion is "
               "under way in the foreign cluster)\n", left);
}

/* Foreign namespaces that carry this pair's labels but were not proven ours: named. */
static void foreign_unproven(void)
{
    char base[LQ_KREQ_PATH_MAX];
    (void)snprintf(base, sizeof base, "/api/v1/namespaces?labelSelector=%s", up.owner_sel);
    up.cont[0] = '\0';
    do {
        if (list_page(&up.freq, base, ACCEPT_META_LIST, NULL) != LQ_OK)
            return;
        for (size_t i = 0; i < up.n_page; i++) {
            bool ours = false;
            for (size_t k = 0; k < up.n_waited_ns; k++)
                ours = ours || strcmp(up.waited_ns[k], up.page[i].name) == 0;
            if (ours)
                continue;
            up.c.foreign_unproven++;
            LQ_WARN("unpeer", "foreign namespace %s carries this pair's labels, but no home "
                    "namespace records it as created by this agent; left alone", up.page[i].name);
        }
    } while (up.cont[0]);
}

/* --- step 5: NamespaceOffloadings ----------------------------------------------------------- */

static void nsof_item(const lq_json_t *obj, item_t *it)
{
    for (const lq_json_t *f = lq_json_first(LQ_JSON_AT(obj, "metadata", "finalizers")); f;
         f = lq_json_next(f))
        if (lq_json_str_is(f, up.finalizer))
            it->scheduling = true; /* reused: our finalizer is there */
    it->other_mark = lq_json_get(LQ_JSON_AT(obj, "status", "remoteNamespacesConditions"),
                                 up.foreign_name) != NULL; /* reused: our status key */
}

/* Drops our status key (phase recomputed from the others) and then our finalizer, each
 * with the resourceVersion read as precondition; a conflict re-reads. */
static void nsof_clean(const item_t *it)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        lq_err_t e = lq_kapi_path(up.path, sizeof up.path, up.nsof_gv, it->ns,
                                  "namespaceoffloadings", it->name, NULL);
        if (e == LQ_OK)
            e = get(&up.hreq, up.path, NULL);
        if (e == LQ_ENOTFOUND)
            return;
        if (e != LQ_OK) {
            failed("read a NamespaceOffloading", e);
            return;
        }
        lq_json_t *nsof = parsed();
        bool key = lq_json_get(LQ_JSON_AT(nsof, "status", "remoteNamespacesConditions"),
                               up.foreign_name) != NULL;
        bool fin = false;
        const lq_json_t *fins = LQ_JSON_AT(nsof, "metadata", "finalizers");
        for (const lq_json_t *f = lq_json_first(fins); f; f = lq_json_next(f))
            fin = fin || lq_json_str_is(f, up.finalizer);
        if (!key && !fin)
            return;
        lq_json_t *patch = NULL;
        bool status = key;
        if (key) {
            char now[40];
            lq_forge_offload_status_in_t in;
            memset(&in, 0, sizeof in);
            in.key = up.foreign_name;
            in.state = LQ_FORGE_OFFLOAD_NS_NONE;
            in.forget = true;
            in.precondition = true;
            in.now = now;
            if (lq_forge_time_format(lq_port_wall_ms(), false, now, sizeof now) != LQ_OK ||
                (e = lq_forge_offload_status_build(&up.doc, nsof, &in, NULL, NULL, &patch)) != LQ_OK) {
                failed("build the NamespaceOffloading status patch", e);
                return;
            }
        } else {
            lq_json_doc_t *d = &up.doc;
            lq_json_t *list = lq_json_new_array(d), *meta = lq_json_new_object(d);
            for (const lq_json_t *f = lq_json_first(fins); f; f = lq_json_next(f))
                if (!lq_json_str_is(f, up.finalizer))
                    (void)lq_json_arr_add(d, list, lq_json_copy(d, f));
            patch = lq_json_new_object(d);
            (void)lq_json_obj_add(d, meta, "resourceVersion",
                                  lq_json_copy(d, LQ_JSON_AT(nsof, "metadata", "resourceVersion")));
            (void)lq_json_obj_add(d, meta, "finalizers", list);
            (void)lq_json_obj_add(d, patch, "metadata", meta);
        }
        size_t len = 0;
        e = render(patch, &len);
        if (e == LQ_OK)
            e = lq_kapi_path(up.path, sizeof up.path, up.nsof_gv, it->ns,
                             "namespaceoffloadings", it->name, status ? "status" : NULL);
        q_prepare(NULL);
        e = call(&up.hreq, e == LQ_OK ? lq_kreq_merge_patch(&up.q, up.path, up.body, len) : e);
        if (e == LQ_ECONFLICT)
            continue;
        if (e == LQ_ENOTFOUND)
            return;
        if (e != LQ_OK) {
            failed(status ? "remove this agent's key from a NamespaceOffloading status"
                          : "remove this agent's finalizer from a NamespaceOffloading", e);
            return;
        }
        if (status) {
            up.c.nsof_status++;
            LQ_INFO("unpeer", "NamespaceOffloading %s/%s: status key %s removed", it->ns, it->name,
                    up.foreign_name);
        } else {
            up.c.nsof_fin++;
            LQ_INFO("unpeer", "NamespaceOffloading %s/%s: finalizer %s removed", it->ns, it->name,
                    up.finalizer);
        }
        attempt = -1; /* the next thing, on fresh data */
    }
    up.failures++;
    LQ_ERROR("unpeer", "NamespaceOffloading %s/%s keeps changing; rerun unpeer", it->ns, it->name);
}

static void offloadings(void)
{
    up.cont[0] = '\0';
    do {
        lq_err_t e = list_page(&up.hreq, up.nsof_list, NULL, nsof_item);
        if (e == LQ_ENOTFOUND)
            return; /* no CRD: nothing of ours */
        if (e != LQ_OK) {
            failed("list the NamespaceOffloadings", e);
            return;
        }
        for (size_t i = 0; i < up.n_page && up.sig == 0; i++) {
            if (up.page[i].scheduling || up.page[i].other_mark)
                nsof_clean(&up.page[i]);
            lock_keep();
        }
    } while (up.cont[0] && up.sig == 0);
}

/* --- the node, its Lease, the lock ------------------------------------------------------------ */

static void delete_named(const char *gv, const char *ns, const char *resource, const char *name,
                         const char *uid, const char *what, unsigned *count)
{
    lq_err_t e = lq_kapi_path(up.path, sizeof up.path, gv, ns, resource, name, NULL);
    q_prepare(NULL);
    e = call(&up.hreq, e == LQ_OK ? lq_kreq_delete(&up.q, up.path, uid, NULL) : e);
    if (e == LQ_OK) {
        (*count)++;
        LQ_INFO("unpeer", "%s %s%s%s deleted", what, ns ? ns : "", ns ? "/" : "", name);
    } else if (e != LQ_ENOTFOUND) {
        failed(what, e);
    }
}

/* --- command line ------------------------------------------------------------------------------ */

static const char usage_text[] =
    "Usage: liqolet unpeer [run's cluster options] [--take-over] [--force] [--timeout DUR]\n"
    "                      [--remove-identity]\n"
    "\n"
    "Ends the peering of this (home, foreign) pair, as Liqo's `liqoctl unpeer`: cordons the\n"
    "virtual node; deletes each offloaded pod (the remote pod first, within its grace period,\n"
    "then the home pod); deletes the remote namespaces the agent created (their content goes\n"
    "with them) - only those the home side records as created by this agent, with the same\n"
    "UID and ownership labels; removes the agent's finalizer and status key from every\n"
    "NamespaceOffloading, its marks (and liqo.io/scheduling-enabled where nothing else asks\n"
    "for it) from home namespaces; deletes the virtual node, its node Lease and the pair's\n"
    "lock Lease. Running it again finds nothing and says so. `liqolet run` afterwards peers\n"
    "afresh.\n"
    "\n"
    "It takes the same cluster options and configuration file as `liqolet run`\n"
    "(--home-kubeconfig, --foreign-kubeconfig, --home-cluster-id, --foreign-cluster-id,\n"
    "--foreign-cluster-name, --node-name, --namespace, --config, --set ...; see\n"
    "`liqolet run --help`), and the agent's credentials (deploy/rbac) suffice.\n"
    "\n"
    "  --take-over     an agent for the pair holds the lock Lease (renewed within 30 s):\n"
    "                  take the Lease from it (the agent stops at its next renewal, within\n"
    "                  10 s) instead of refusing. Stop whatever restarts the agent first\n"
    "                  (e.g. scale its Deployment to 0), or it peers again afterwards.\n"
    "  --force         the foreign cluster is gone for good: clean up the home side only,\n"
    "                  without a single foreign request (home pods on the node deleted with\n"
    "                  grace 0); the remote namespaces left behind are listed. Needs the\n"
    "                  foreign cluster id (--foreign-cluster-id) or the node (--node-name,\n"
    "                  whose liqo.io/remote-cluster-id label gives it).\n"
    "  --remove-identity  also delete what `liqolet peer` created: the RBAC objects, the\n"
    "                  ServiceAccount liqolet (its tokens stop working) and the Secret\n"
    "                  liqolet-foreign-kubeconfig, each only if peer wrote it (field\n"
    "                  manager liqolet-peer); namespaces and the CRD stay. Needs admin\n"
    "                  kubeconfigs (--home-kubeconfig, --foreign-kubeconfig)\n"
    "  --timeout DUR   how long to wait for remote pods and namespaces to go (e.g. 90s, 5m;\n"
    "                  default 2m)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 done or nothing to do; 1 the pair is held by a running agent, or\n"
    "something could not be removed (each is logged; rerun, or with --force if the foreign\n"
    "cluster is gone); 2 usage error.\n";

static bool parse_duration(const char *s, int64_t *ms)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || v > 86400)
        return false;
    if (*end == '\0' || strcmp(end, "s") == 0)
        *ms = (int64_t)v * 1000;
    else if (strcmp(end, "m") == 0)
        *ms = (int64_t)v * 60000;
    else
        return false;
    return true;
}

/* Splits unpeer's own flags from run's. Returns 0, or an exit status. */
static int parse(int argc, char **argv)
{
    static char *rest[128];
    int n = 0;
    char msg[LQ_CONFIG_MSG_MAX];
    up.timeout_ms = (int64_t)UP_DEFAULT_TIMEOUT_S * 1000;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (strcmp(a, "--force") == 0) {
            up.force = true;
        } else if (strcmp(a, "--take-over") == 0) {
            up.take_over = true;
        } else if (strcmp(a, "--remove-identity") == 0) {
            up.remove_identity = true;
        } else if (strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc || !parse_duration(argv[++i], &up.timeout_ms)) {
                fprintf(stderr, "liqolet unpeer: --timeout wants a duration such as 90s or 5m\n");
                return 2;
            }
        } else if (n < (int)(sizeof rest / sizeof rest[0])) {
            rest[n++] = argv[i];
        } else {
            fprintf(stderr, "liqolet unpeer: too many arguments\n");
            return 2;
        }
    }
    lq_config_init(&up.cfg);
    if (lq_config_parse_args(&up.cfg, n, rest, msg, sizeof msg) != LQ_OK) {
        fprintf(stderr, "liqolet unpeer: %s\n", msg);
        return 2;
    }
    lq_log_set_level((lq_log_level_t)up.cfg.log_level);
    lq_log_set_format((lq_log_format_t)up.cfg.log_format);
    /* the label family the agent wrote with (compat): only its objects are recognised */
    lq_liqo_use(up.cfg.compat == 1 ? LQ_LIQO_COMPAT_V1 : LQ_LIQO_COMPAT_V08);
    return 0;
}

/* Reads a kube-system UID. */
static lq_err_t kube_system_uid(lq_kreq_client_t *cl, char *out, size_t cap)
{
    lq_err_t e = get(cl, "/api/v1/namespaces/kube-system", LQ_KREQ_ACCEPT_META);
    if (e != LQ_OK)
        return e;
    return lq_json_str_copy(LQ_JSON_AT(parsed(), "metadata", "uid"), out, cap);
}

/* Identities and names, as `liqolet run` derives them. Returns 0 or an exit status. */
static int identities(void)
{
    lq_err_t e;
    if (up.cfg.home.id[0]) {
        (void)snprintf(up.home_id, sizeof up.home_id, "%s", up.cfg.home.id);
    } else if ((e = kube_system_uid(&up.hreq, up.home_id, sizeof up.home_id)) != LQ_OK) {
        fprintf(stderr, "liqolet unpeer: cannot read the home cluster's identity: %s (%s); "
                "`liqolet check` with the same kubeconfig tells why\n", lq_err_str(e), up.q.message);
        return 1;
    }
    if (up.cfg.foreign.id[0]) {
        (void)snprintf(up.foreign_id, sizeof up.foreign_id, "%s", up.cfg.foreign.id);
    } else if (!up.force) {
        if ((e = kube_system_uid(&up.freq, up.foreign_id, sizeof up.foreign_id)) != LQ_OK) {
            fprintf(stderr, "liqolet unpeer: cannot reach the foreign cluster: %s (%s); if it "
                    "is gone for good, rerun with --force (home side only)\n", lq_err_str(e),
                    up.q.message);
            return 1;
        }
    } else if (up.cfg.node_name[0]) {
        /* the node is ours at home: its label says which foreign cluster it stands for */
        lq_err_t pe = lq_kapi_path(up.path, sizeof up.path, "v1", NULL, "nodes", up.cfg.node_name, NULL);
        e = pe == LQ_OK ? get(&up.hreq, up.path, LQ_KREQ_ACCEPT_META) : pe;
        if (e == LQ_OK)
            e = lq_json_str_copy(LQ_JSON_AT(parsed(), "metadata", "labels",
                                            LQ_LIQO_LABEL_REMOTE_CLUSTER_ID),
                                 up.foreign_id, sizeof up.foreign_id);
        if (e == LQ_ENOTFOUND && up.q.status == 404) {
            printf("virtual node %s not found: nothing to remove for it (already unpeered?). "
                   "Give --foreign-cluster-id too and unpeer also looks for the pair's lock "
                   "Lease, finalizers and namespace marks\n", up.cfg.node_name);
            return -1;
        }
        if (e != LQ_OK) {
            fprintf(stderr, "liqolet unpeer --force: node %s does not say which foreign cluster "
                    "it stands for (%s); give --foreign-cluster-id (the lock Lease is named "
                    "liqolet-<that id>)\n", up.cfg.node_name, lq_err_str(e));
            return 1;
        }
    } else {
        fprintf(stderr, "liqolet unpeer --force: without the foreign cluster, its id must be "
                "given: --foreign-cluster-id ID, or --node-name NODE (the virtual node's "
                "liqo.io/remote-cluster-id label gives the id)\n");
        return 2;
    }
    if (strcmp(up.home_id, up.foreign_id) == 0) {
        fprintf(stderr, "liqolet unpeer: home and foreign are the same cluster (%s)\n", up.home_id);
        return 2;
    }
    /* NamespaceOffloading as the agent finds it: v1beta1 when home serves it (Liqo v1) */
    e = get(&up.hreq, "/apis/" LQ_LIQO_OFFLOADING_GROUP, NULL);
    up.nsof_gv = lq_offload_pick_gv(e == LQ_OK ? up.resp : NULL, e == LQ_OK ? up.q.resp_len : 0);
    (void)snprintf(up.nsof_list, sizeof up.nsof_list, "/apis/%s/namespaceoffloadings", up.nsof_gv);
    if (up.cfg.foreign.name[0])
        (void)snprintf(up.foreign_name, sizeof up.foreign_name, "%s", up.cfg.foreign.name);
    else
        lq_run_derive_name(up.foreign_id, up.foreign_name, sizeof up.foreign_name);
    if (up.cfg.home.name[0])
        (void)snprintf(up.home_name, sizeof up.home_name, "%s", up.cfg.home.name);
    else
        lq_run_derive_name(up.home_id, up.home_name, sizeof up.home_name);
    if (up.cfg.node_name[0])
        (void)snprintf(up.node, sizeof up.node, "%s", up.cfg.node_name);
    else
        (void)snprintf(up.node, sizeof up.node, "liqo-%s", up.foreign_name);
    unsigned char rnd[6];
    if (lq_perms_lock_name(up.foreign_id, up.lock, sizeof up.lock, NULL) != LQ_OK ||
        lq_perms_legacy_lock_name(up.node, up.legacy, sizeof up.legacy, NULL) != LQ_OK ||
        lq_port_entropy(rnd, sizeof rnd) != LQ_OK ||
        lq_refl_owner_selector(up.owner_sel, sizeof up.owner_sel, up.home_id, up.foreign_id) != LQ_OK) {
        fprintf(stderr, "liqolet unpeer: the foreign cluster id or node name is not usable in a "
                "name\n");
        return 2;
    }
    (void)snprintf(up.identity, sizeof up.identity, "liqolet-unpeer-%02x%02x%02x%02x%02x%02x@%s",
                   rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], up.node);
    (void)snprintf(up.finalizer, sizeof up.finalizer, "%s%s", LQ_OFFLOAD_FINALIZER_PREFIX, up.foreign_name);
    (void)snprintf(up.mark_key, sizeof up.mark_key, "%s%s", LQ_FORGE_OFFLOAD_MARK_PREFIX, up.foreign_name);
    return 0;
}

static void report(void)
{
    const counts_t *c = &up.c;
    unsigned total = c->remote_pods + c->home_pods + c->remote_ns + c->nsof_fin + c->nsof_status +
                     c->marks + c->sched_labels + c->nodes + c->node_leases +
                     (up.lock_existed ? c->locks : 0u);
    printf("pair %s->%s (foreign %s, node %s)%s\n", up.home_id, up.foreign_id, up.foreign_name,
           up.node, up.force ? ", forced: home side only" : "");
    if (total == 0 && c->remote_ns_left == 0) {
        printf("nothing to remove: this pair is not peered (no virtual node, offloaded pods, "
               "namespaces, finalizers or marks of it)\n");
        return;
    }
    printf("  node cordoned                         %u\n", c->cordoned);
    if (!up.force)
        printf("  remote pods deleted                   %u\n", c->remote_pods);
    printf("  home pods deleted                     %u\n", c->home_pods);
    if (!up.force)
        printf("  remote namespaces deleted             %u\n", c->remote_ns);
    else
        printf("  remote namespaces left behind         %u\n", c->remote_ns_left);
    printf("  NamespaceOffloading status keys       %u\n", c->nsof_status);
    printf("  NamespaceOffloading finalizers        %u\n", c->nsof_fin);
    printf("  home namespace marks                  %u\n", c->marks);
    printf("  home namespace scheduling labels      %u\n", c->sched_labels);
    printf("  virtual nodes deleted                 %u\n", c->nodes);
    printf("  node Leases deleted                   %u\n", c->node_leases);
    printf("  lock Leases deleted                   %u\n", c->locks);
    if (c->foreign_unproven)
        printf("  foreign namespaces with our labels but not ours, left alone: %u\n",
               c->foreign_unproven);
}

int lq_unpeer_main(int argc, char **argv)
{
    int rc = parse(argc, argv);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    if (lq_tls_init() != LQ_OK) {
        fprintf(stderr, "liqolet unpeer: cannot initialise TLS (entropy source?)\n");
        return 1;
    }
    lq_json_doc_init(&up.doc, up.arena, sizeof up.arena);
    if (lq_cluster_open(&up.home, "home", up.cfg.home.kubeconfig[0] ? up.cfg.home.kubeconfig : NULL,
                        up.cfg.home.context[0] ? up.cfg.home.context : NULL, true, err,
                        sizeof err) != LQ_OK ||
        (!up.force &&
         lq_cluster_open(&up.foreign, "foreign",
                         up.cfg.foreign.kubeconfig[0] ? up.cfg.foreign.kubeconfig : NULL,
                         up.cfg.foreign.context[0] ? up.cfg.foreign.context : NULL, false, err,
                         sizeof err) != LQ_OK) ||
        lq_cluster_tls_policy(&up.home, up.cfg.allow_insecure_tls, err, sizeof err) != LQ_OK ||
        (!up.force &&
         lq_cluster_tls_policy(&up.foreign, up.cfg.allow_insecure_tls, err, sizeof err) != LQ_OK)) {
        fprintf(stderr, "liqolet unpeer: %s\n", err);
        return 1;
    }
    lq_loop_init(&up.loop);
    if (lq_port_signals_install() != LQ_OK)
        return 1;
    lq_kreq_client_init(&up.hreq, &up.loop, &up.home.target, &up.home.kcfg);
    if (!up.force)
        lq_kreq_client_init(&up.freq, &up.loop, &up.foreign.target, &up.foreign.kcfg);
    rc = identities();
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    LQ_INFO("unpeer", "pair %s->%s: foreign cluster %s, virtual node %s, lock Lease %s/%s%s",
            up.home_id, up.foreign_id, up.foreign_name, up.node, up.cfg.namespace, up.lock,
            up.force ? " (--force: no foreign request)" : "");
    rc = lock_claim();
    if (rc != 0)
        return rc;
    up.deadline = lq_port_mono_ms() + up.timeout_ms;

    int node = node_read();
    if (node == 1)
        node_cordon();
    if (node >= 0)
        pods();
    if (up.sig == 0)
        namespaces();
    if (!up.force && up.sig == 0) {
        namespaces_wait();
        foreign_unproven();
    }
    /* the finalizers protect the remote namespaces: they go only once those did */
    if (up.sig == 0 && up.failures == 0)
        offloadings();
    if (node == 1 && up.sig == 0 && up.failures == 0) {
        delete_named("v1", NULL, "nodes", up.node, up.node_uid, "virtual node", &up.c.nodes);
        delete_named(LEASE_GV, LQ_PERMS_NODE_LEASE_NS, "leases", up.node, NULL, "node Lease",
                     &up.c.node_leases);
    } else if (node == 0 && up.sig == 0) {
        delete_named(LEASE_GV, LQ_PERMS_NODE_LEASE_NS, "leases", up.node, NULL, "node Lease",
                     &up.c.node_leases);
    }
    /* the lock goes last, and only when everything else is gone: a rerun finds it */
    if (up.lock_held && up.sig == 0 && up.failures == 0)
        delete_named(LEASE_GV, up.cfg.namespace, "leases", up.lock, up.lock_uid, "lock Lease",
                     &up.c.locks);
    report();
    if (up.sig != 0) {
        fprintf(stderr, "liqolet unpeer: interrupted by signal %d; run it again to finish\n", up.sig);
        return 1;
    }
    if (up.failures > 0) {
        fprintf(stderr, "liqolet unpeer: not everything could be removed (%u error(s), logged "
                "above); the virtual node and the lock stay so that a rerun finds them. Rerun "
                "unpeer%s\n",
                up.failures, up.force ? "" : ", or with --force if the foreign cluster is gone "
                "for good");
        return 1;
    }
    if (up.remove_identity) {
        const char *kc[2] = { up.cfg.home.kubeconfig[0] ? up.cfg.home.kubeconfig : NULL,
                              up.force ? NULL : up.cfg.foreign.kubeconfig };
        const char *ctx[2] = { up.cfg.home.context[0] ? up.cfg.home.context : NULL,
                               up.cfg.foreign.context[0] ? up.cfg.foreign.context : NULL };
        return lq_peer_remove_identity(kc, ctx, up.cfg.namespace, up.node, up.home_id, up.foreign_id,
                                       up.cfg.allow_insecure_tls);
    }
    return 0;
}
