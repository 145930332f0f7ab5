/* liqolet: pod offloading in `liqolet run` (src/pods.c): home pods bound to the virtual
 * node run as plain Pods in the foreign cluster, their status comes back home. The rules
 * are the pure forge (include/liqolet/forge_pod.h, forge_offload.h for the fallback);
 * this module does the I/O. See the comment at the top of src/pods.c. */
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
#include "liqolet/watch.h"

/* Bytes of one pod object the module reads (home or remote). A larger pod is reported
 * and retried, never truncated. */
#ifndef LQ_POD_BUF
#define LQ_POD_BUF (64u * 1024u)
#endif
#define LQ_POD_NAME_BUF 254u /* a DNS-1123 subdomain: 253 + NUL */
/* Passes that run at once (each with its own buffers; one record is in one pass at most). */
#ifndef LQ_POD_PASSES
#define LQ_POD_PASSES 4u
#endif

typedef struct lq_pods_cfg {
    const char *home_id, *foreign_id, *node_name, *node_ip;
    const char *foreign_name;         /* in Event messages */
    lq_events_t *events;              /* optional: Events on home pods */
    bool reflect_ips;                 /* networking.reflectIPs */
    size_t max_pods;                  /* records in use at most (1..LQ_MAX_PODS; 0 = all) */
} lq_pods_cfg_t;

/* One home pod on the virtual node (or a remote pod of ours whose home pod is gone). */
typedef struct lq_pod_rec {
    bool used;
    bool dirty;
    bool home_exists;         /* the home watch says so */
    bool remote_exists;       /* the foreign watch (or our create) says so */
    bool remote_seen;         /* a remote pod existed once for this home pod */
    bool failed_logged;
    bool busy;                /* in a pass now */
    bool home_mark_, remote_mark_; /* seen in the current (re)list */
    char ns[LQ_FORGE_OFFLOAD_NAME_BUF];
    char name[LQ_POD_NAME_BUF];
    char home_uid[LQ_FORGE_POD_UID_BUF];
    char remote_uid[LQ_FORGE_POD_UID_BUF];
    char own_rv[32];          /* resourceVersion of the home pod after our last write */
    lq_forge_pod_restarts_t restarts;
    int64_t retry_at;
    lq_backoff_t backoff;
} lq_pod_rec_t;

typedef struct lq_pods_stats {
    uint64_t passes, creates, adopts, remote_deletes, home_deletes, status_patches,
        label_patches, fallbacks, failures, table_full;
    uint32_t records, records_hwm;
} lq_pods_stats_t;

typedef struct lq_pods lq_pods_t;

/* One pass in flight: its record, request and buffers. */
typedef struct lq_pod_pass {
    lq_pods_t *p;
    lq_pod_rec_t *rec;        /* NULL: free */
    int step;
    bool have_remote;
    size_t home_len, remote_len;
    char now[32];
    lq_kreq_t req;
    lq_json_doc_t doc;
    char body[LQ_POD_BUF];
    char home[LQ_POD_BUF];
    char remote[LQ_POD_BUF];
    unsigned char arena[LQ_POD_BUF * 4u];
} lq_pod_pass_t;

struct lq_pods {
    /* readable */
    lq_pods_cfg_t cfg;
    lq_pods_stats_t stats;
    bool home_synced, foreign_synced, started;
    lq_pod_rec_t recs[LQ_MAX_PODS];
    /* private */
    lq_loop_t *loop_;
    lq_offload_t *offload_;
    lq_kreq_client_t *home_req_, *foreign_req_;
    size_t next_;
    bool overflow_;
    char home_sel_[LQ_POD_NAME_BUF + 16];
    char foreign_sel_[320];
    lq_loop_timer_t timer_;
    lq_conn_t hconn_, fconn_;
    lq_watch_t hwatch_, fwatch_;
    char hbuf_[LQ_POD_BUF];
    char fbuf_[LQ_POD_BUF];
    lq_pod_pass_t passes_[LQ_POD_PASSES];
};

/* Binds the module (clusters, clients and the offloading module are the caller's and
 * outlive it). Returns LQ_OK; LQ_EINVAL a required cfg string NULL/empty; LQ_ETOOBIG
 * selectors that do not fit. */
lq_err_t lq_pods_init(lq_pods_t *p, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                      lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req,
                      lq_offload_t *offload, const lq_pods_cfg_t *cfg);
/* Starts both watches. Passes begin once they and the offloading module have settled. */
lq_err_t lq_pods_start(lq_pods_t *p);
/* lq_events_lookup_fn over the pod table: remote namespace + name + remote pod uid ->
 * home ns + uid; false unless remote_uid is the record's remote uid. */
bool lq_pods_lookup(void *ctx, const char *remote_ns, size_t rl, const char *name, size_t nl,
                    const char *remote_uid, size_t ul, char *ns, size_t ns_cap, char *uid,
                    size_t uid_cap);
/* The offloading of home namespace ns changed: re-queue its pods (wire it to
 * lq_offload_cfg_t.on_change). */
void lq_pods_namespace_changed(const char *ns, void *ctx);

#endif
