/* liqolet: the virtual node in the home cluster (src/node/vnode.c): Node, status, Lease,
 * capacity from the foreign cluster, foreign health. See the comment at the top of
 * src/node/vnode.c for the timers and watches. */
#ifndef LIQOLET_VNODE_H
#define LIQOLET_VNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/cluster.h"
#include "liqolet/forge_node.h"
#include "liqolet/frame.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/watch.h"

#define LQ_VNODE_MAX_KV 16

/* The home cluster counts as unreachable after this many /readyz pings in a row failed
 * (one every 10 s, 5 s timeout each): about 30 s, so one slow answer on a busy link does
 * not flip the readiness of reflected endpoints. */
#define LQ_VNODE_HOME_DOWN_AFTER 3u

/* The foreign cluster counts as unavailable to the pods (liqo.io/remote-unavailable) after
 * this many /readyz pings in a row failed (one every 10 s, 1 s timeout each): 10 to 20 s,
 * inside the node monitor grace period, so the marks come before or with NotReady while a
 * single lost answer marks nothing. */
#define LQ_VNODE_FOREIGN_DOWN_AFTER 2u

typedef struct lq_vnode_cfg {
    const char *node_name;
    const char *node_ip;          /* InternalIP */
    const char *home_id;          /* pods with origin=<home id> are added back */
    const char *foreign_id;       /* label liqo.io/remote-cluster-id */
    const char *kubelet_version;  /* home gitVersion */
    unsigned sharing_pct;
    int64_t max_pods;             /* the pods capacity is capped at this (0: no cap) */
    uint16_t kubelet_port;        /* daemonEndpoints (0: 10250, nothing listens) */
    bool kubelet_websockets;      /* declare ExtendWebSocketsToKubelet */
    lq_forge_kv_t labels[LQ_VNODE_MAX_KV];
    size_t n_labels;
    lq_forge_kv_t annotations[LQ_VNODE_MAX_KV];
    size_t n_annotations;
    /* optional: called when the home cluster turns unreachable (LQ_VNODE_HOME_DOWN_AFTER
     * pings in a row failed) and when it answers again */
    void (*on_home)(bool available, void *ctx);
    void *on_home_ctx;
    /* optional: called when the foreign cluster turns unavailable (LQ_VNODE_FOREIGN_DOWN_AFTER
     * pings in a row failed) and when it answers again */
    void (*on_foreign)(bool available, void *ctx);
    void *on_foreign_ctx;
    /* optional: called when a cluster answers again (side: 0 home, after one or more failed
     * pings; 1 foreign, when it turns available again), as LQ_RTAB_HOME/FOREIGN: long-lived
     * connections of that cluster (watches) may have died silently meanwhile */
    void (*on_back)(unsigned side, void *ctx);
    void *on_back_ctx;
} lq_vnode_cfg_t;

typedef struct lq_vnode_stats {
    uint64_t scans, node_applies, status_updates, lease_renewals;
} lq_vnode_stats_t;

typedef struct lq_vnode {
    /* readable */
    lq_vnode_cfg_t cfg;
    bool healthy;        /* last foreign ping succeeded */
    bool home_healthy;   /* home answered one of its last LQ_VNODE_HOME_DOWN_AFTER pings */
    bool foreign_available; /* foreign answered one of its last LQ_VNODE_FOREIGN_DOWN_AFTER pings */
    bool node_applied;   /* the Node exists as far as we know */
    bool have_offer;
    lq_forge_offer_t offer;
    char node_uid[64];
    lq_vnode_stats_t stats;
    lq_loop_t *loop;
    lq_cluster_t *home, *foreign;
    lq_kreq_client_t *home_req, *foreign_req;
    /* private */
    bool scanning_, scan_pods_, status_due_;
    int scan_status_;
    unsigned home_fails_;       /* home pings failed in a row */
    bool home_shaky_;           /* a ping or Lease renewal to home failed in transport
                                 * since home last answered one */
    unsigned foreign_fails_;    /* foreign pings failed in a row */
    char cont_[LQ_LIST_CONTINUE_MAX + 1u];
    char scan_path_[LQ_KREQ_PATH_MAX];
    char home_sel_[LQ_FORGE_RES_NAME_MAX + 32];
    lq_forge_capacity_t cap_;
    lq_frame_list_t list_;
    lq_conn_t scan_conn_, fwatch_conn_, hwatch_conn_;
    lq_kreq_stream_t scan_st_;  /* the scan's LISTs on scan_conn_ */
    lq_watch_t fwatch_, hwatch_;
    lq_loop_timer_t ping_timer_, lease_timer_, status_timer_, rescan_timer_;
    lq_kreq_t req_node_, req_status_, req_lease_, req_ping_, req_hping_;
    lq_json_doc_t item_doc_, out_doc_;
    size_t last_status_len_;
    char resp_[16384];
    char body_node_[8192], body_status_[8192], body_lease_[2048];
    char last_status_[8192];
    unsigned char out_arena_[128u * 1024u];
    char hwatch_buf_[64u * 1024u];
    char fwatch_buf_[64u * 1024u];
    /* large buffers last: lq_vnode_init does not clear them */
    char objbuf_[LQ_MAX_OBJECT];
    unsigned char item_arena_[LQ_JSON_ARENA];
} lq_vnode_t;

/* Binds the virtual node to the loop, both clusters and their request clients (all
 * owned by the caller and alive as long as v). cfg's strings are borrowed. Cannot fail. */
void lq_vnode_init(lq_vnode_t *v, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                   lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req,
                   const lq_vnode_cfg_t *cfg);
/* Starts pinging, scanning, registering and renewing. Returns LQ_OK or a watch error. */
lq_err_t lq_vnode_start(lq_vnode_t *v);

#endif
