/* liqolet: namespace offloading in `liqolet run` (src/offload.c): NamespaceOffloading
 * resources and --offload namespaces -> remote namespaces, the home namespace label,
 * this agent's part of the status, its finalizer. The rules themselves are the pure
 * forge (include/liqolet/forge_offload.h); this module does the I/O. See the comment at
 * the top of src/offload.c for the reconcile pass. */
#ifndef LIQOLET_OFFLOAD_H
#define LIQOLET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/backoff.h"
#include "liqolet/cluster.h"
#include "liqolet/forge_offload.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/watch.h"

/* Buffers of the module (bytes). NamespaceOffloading objects and namespaces are small;
 * a bigger one is reported (LQ_ETOOBIG) and retried, never truncated. */
#ifndef LQ_OFFLOAD_OBJ_BUF
#define LQ_OFFLOAD_OBJ_BUF (64u * 1024u)
#endif
#ifndef LQ_OFFLOAD_ARENA
#define LQ_OFFLOAD_ARENA (LQ_OFFLOAD_OBJ_BUF * 5u)
#endif
/* Finalizer of this agent: "liqolet.liqo.io/<foreign cluster name>" (Decision 1). */
#define LQ_OFFLOAD_FINALIZER_PREFIX "liqolet.liqo.io/"
#define LQ_OFFLOAD_MSG_MAX 256u

typedef struct lq_offload_cfg {
    const char *home_id, *home_name;       /* DefaultName: <ns>-<home name>-<sha256(id)> */
    const char *foreign_id, *foreign_name; /* status key and finalizer: the foreign name */
    const char *node_name;                 /* clusterSelector is matched on this Node */
    const char *const *flag_ns;            /* --offload "NS" or "NS=REMOTE" (borrowed) */
    size_t n_flag_ns;
    lq_forge_offload_mapping_t flag_mapping;     /* of a plain "NS": DefaultName/EnforceSameName */
    /* optional: called when a home namespace's remote namespace becomes usable or stops
     * being usable (lq_offload_remote_ns changes), e.g. to re-queue its pods */
    void (*on_change)(const char *ns, void *ctx);
    void *ctx;
} lq_offload_cfg_t;

typedef enum lq_offload_label_state {
    LQ_OFFLOAD_LABEL_UNKNOWN = 0,
    LQ_OFFLOAD_LABEL_SET,      /* liqo.io/scheduling-enabled=true written */
    LQ_OFFLOAD_LABEL_CLEARED,  /* removed */
} lq_offload_label_state_t;

/* One home namespace this agent offloads, offloaded, or has a remote namespace for. */
typedef struct lq_offload_rec {
    bool used;
    bool flag;                /* listed with --offload */
    bool crd;                 /* its NamespaceOffloading exists (as the watch says) */
    bool deleting;            /* ... and is being deleted */
    bool spec_bad;            /* ... with a spec we cannot read */
    bool selected;            /* clusterSelector matches this agent's node */
    bool dirty;               /* a reconcile pass is due */
    lq_forge_offload_pods_t pods;
    lq_forge_offload_ns_state_t state;
    lq_offload_label_state_t label;
    bool remote_exists;       /* a remote namespace of ours exists for it (foreign watch) */
    bool remote_terminating;
    char ns[LQ_FORGE_OFFLOAD_NAME_BUF];       /* home namespace */
    char remote[LQ_FORGE_OFFLOAD_NAME_BUF];   /* wanted remote name; "" when none or invalid */
    char seen[LQ_FORGE_OFFLOAD_NAME_BUF];     /* remote namespace that exists */
    char flag_remote[LQ_FORGE_OFFLOAD_NAME_BUF]; /* --offload NS=REMOTE: SelectedName REMOTE */
    char seen_uid[48];
    char message[LQ_OFFLOAD_MSG_MAX];   /* why the state is what it is (status message) */
    char own_rv[32];          /* resourceVersion produced by our last write */
    int64_t retry_at;         /* monotonic ms of the next pass without an event; 0 none */
    lq_backoff_t backoff;
    /* private */
    bool crd_mark_, remote_mark_;
    lq_forge_offload_ns_state_t logged_;
    bool usable_;             /* last value reported through cfg.on_change */
    uint64_t pod_items, pod_errors; /* pod reflection results in this namespace (metrics) */
} lq_offload_rec_t;

typedef struct lq_offload_stats {
    uint64_t passes, creates, deletes, label_patches, status_patches, finalizer_patches;
    uint64_t failures, conflicts, table_full;
    uint32_t records, records_hwm;
} lq_offload_stats_t;

typedef struct lq_offload {
    /* readable */
    lq_offload_cfg_t cfg;
    lq_offload_stats_t stats;
    bool crd_missing;         /* the API server has no NamespaceOffloading resource */
    bool home_synced, foreign_synced;
    lq_offload_rec_t recs[LQ_MAX_NAMESPACES];
    /* private */
    lq_loop_t *loop_;
    lq_kreq_client_t *home_req_, *foreign_req_;
    lq_offload_rec_t *cur_;   /* record of the pass in flight */
    size_t next_;             /* round-robin start of the next pass */
    int step_;
    bool conflict_, refreshed_, overflow_;
    size_t obj_len_;          /* NamespaceOffloading text in obj_ (0 = none) */
    char suffix_[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1];
    char finalizer_[sizeof LQ_OFFLOAD_FINALIZER_PREFIX + LQ_FORGE_OFFLOAD_NAME_MAX];
    char ns_sel_[LQ_FORGE_OFFLOAD_MANAGED_BY_MAX + 40];
    char now_[32];
    lq_loop_timer_t timer_;
    lq_kreq_t req_;
    lq_conn_t crd_conn_, ns_conn_;
    lq_watch_t crd_watch_, ns_watch_;
    lq_json_doc_t doc_;
    char body_[16384];
    char resp_[32768];
    char ns_buf_[16384];
    char crd_buf_[LQ_OFFLOAD_OBJ_BUF];
    char obj_[LQ_OFFLOAD_OBJ_BUF];
    unsigned char arena_[LQ_OFFLOAD_ARENA];
} lq_offload_t;

/* Binds the module to the loop, both clusters and their request clients (owned by the
 * caller, alive as long as o). cfg's strings are borrowed. --offload namespaces get a
 * record at once. Returns LQ_OK; LQ_EINVAL a required cfg string is NULL or empty;
 * LQ_ETOOBIG more --offload namespaces than records, or names that do not fit. */
lq_err_t lq_offload_init(lq_offload_t *o, lq_loop_t *loop, lq_cluster_t *home,
                         lq_cluster_t *foreign, lq_kreq_client_t *home_req,
                         lq_kreq_client_t *foreign_req, const lq_offload_cfg_t *cfg);
/* Starts both watches; passes begin once both have listed. LQ_OK or a watch error. */
lq_err_t lq_offload_start(lq_offload_t *o);
/* The remote namespace of home namespace ns when it exists, is ours and is not
 * terminating (pods and objects may be reflected into it); NULL otherwise. */
const char *lq_offload_remote_ns(const lq_offload_t *o, const char *ns, size_t len);
/* The home namespace whose remote namespace is remote_ns (usable as above); NULL if none. */
const char *lq_offload_home_ns(const lq_offload_t *o, const char *remote_ns, size_t len);
/* Counts one pod reflection result of home namespace ns (Liqo's item / error counters). */
void lq_offload_count(lq_offload_t *o, const char *ns, bool ok);
/* Both watches have listed and no pass is due or running: the remote namespaces are
 * what the current objects ask for (used to hold pod reflection at start-up). */
bool lq_offload_settled(const lq_offload_t *o);
/* "None", "Creating", "Ready", "CreationLoopBackOff", "Terminating". */
const char *lq_offload_state_str(lq_forge_offload_ns_state_t s);

#endif
