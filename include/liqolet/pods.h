/* liqolet: pod offloading in `liqolet run` (src/reflect/pods.c): home pods bound to the virtual
 * node run as plain Pods in the foreign cluster, their status comes back home. The rules
 * are the pure forge (include/liqolet/forge_pod.h, forge_offload.h for the fallback);
 * this module does the I/O. See the comment at the top of src/reflect/pods.c. */
#ifndef LIQOLET_PODS_H
#define LIQOLET_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/backoff.h"
#include "liqolet/cluster.h"
#include "liqolet/events.h"
#include "liqolet/forge_pod.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/offload.h"
#include "liqolet/refl.h"
#include "liqolet/watch.h"

#define LQ_POD_NAME_BUF 254u /* a DNS-1123 subdomain: 253 + NUL */
/* Bytes of one pod watch event (each side); a larger event is skipped and reported. */
#ifndef LQ_POD_WATCH_BUF
#define LQ_POD_WATCH_BUF (64u * 1024u)
#endif

typedef struct lq_pods_cfg {
    const char *home_id, *foreign_id, *node_name, *node_ip;
    const char *foreign_name;         /* in Event messages */
    lq_events_t *events;              /* optional: Events on home pods */
    bool reflect_ips;                 /* networking.reflectIPs */
    size_t max_pods;                  /* records in use at most (1..LQ_MAX_PODS; 0 = all) */
    bool root_ca;                     /* ConfigMaps are reflected: remote pods mount
                                         kube-root-ca.crt.<home id> (the home CA) */
} lq_pods_cfg_t;

/* One home pod on the virtual node. Key: home namespace/name. Presence: HOME = the home
 * pod exists; FOREIGN = a remote pod under its name exists in its remote namespace. */
typedef struct lq_pod_rec {
    lq_rtab_hdr_t h;
    bool remote_seen;         /* a remote pod of ours existed once for this home pod */
    bool failed_logged;
    char home_uid[LQ_FORGE_POD_UID_BUF];
    /* The remote pod this record owns: created by us, or read and found to carry our
     * labels and this home pod's UID (adopted). Foreign events never change it. */
    char remote_uid[LQ_FORGE_POD_UID_BUF];
    lq_forge_pod_restarts_t restarts;
} lq_pod_rec_t;

typedef struct lq_pods_stats {
    uint64_t creates, adopts, remote_deletes, home_deletes, status_patches,
        label_patches, fallbacks, not_ours, meta_patches, unavailable_marks, aborted;
} lq_pods_stats_t;

typedef struct lq_pods {
    /* readable */
    lq_pods_cfg_t cfg;
    lq_pods_stats_t stats;
    bool started;             /* passes began (offloading had settled) */
    bool foreign_down;        /* the foreign cluster is unreachable (lq_pods_foreign_available) */
    lq_refl_kind_t kind;
    /* private */
    lq_offload_t *offload_;
    char home_sel_[LQ_POD_NAME_BUF + 16];
    char foreign_sel_[320];
    char now_[32];
    char root_ca_[LQ_FORGE_POD_ROOT_CA_BUF];
    /* readable (zeroed by the record table, not by lq_pods_init) */
    lq_pod_rec_t recs[LQ_MAX_PODS];
    char hbuf_[LQ_POD_WATCH_BUF];
    char fbuf_[LQ_POD_WATCH_BUF];
} lq_pods_t;

/* Adds pod reflection to the engine (the offloading module is the caller's and outlives
 * it). Returns LQ_OK; LQ_EINVAL a required cfg string NULL/empty; LQ_ETOOBIG selectors
 * that do not fit; an engine error. Passes begin once both watches and the offloading
 * module have settled. */
lq_err_t lq_pods_init(lq_pods_t *p, lq_refl_t *refl, lq_offload_t *offload, const lq_pods_cfg_t *cfg);
/* lq_events_lookup_fn over the pod table: remote namespace + name + the remote pod's UID
 * -> home ns + home pod uid; true only for the remote pod this agent owns. */
bool lq_pods_lookup(void *ctx, const char *remote_ns, size_t rl, const char *name, size_t nl,
                    const char *remote_uid, size_t ul, char *ns, size_t ns_cap, char *uid,
                    size_t uid_cap);
/* lq_kubelet_resolve_fn over the pod table: home pod ns/pod -> its remote namespace
 * (borrowed) and name, true only for a pod on the node whose remote pod this agent owns. */
bool lq_pods_remote(const char *ns, const char *pod, const char **rns, char *rpod, size_t cap,
                    void *ctx);
/* The offloading of home namespace ns changed: re-queue its pods (wire it to
 * lq_offload_cfg_t.on_change). */
void lq_pods_namespace_changed(const char *ns, void *ctx);
/* The foreign cluster became unreachable (false) or answers again (true); wire it to
 * lq_vnode_cfg_t.on_foreign. While it is unreachable, passes only mark the home pods that
 * run remotely (liqo.io/remote-unavailable=true, Ready False) and never touch or wait on
 * the foreign side; once it answers, every pod is passed again, which undoes the marks. */
void lq_pods_foreign_available(bool available, void *ctx);

#endif
