/* liqolet: namespace offloading in `liqolet run` (src/reflect/offload.c): NamespaceOffloading
 * resources and --offload namespaces -> remote namespaces, the home namespace label,
 * this agent's part of the status, its finalizer. The rules themselves are the pure
 * forge (include/liqolet/forge_offload.h); this module does the I/O. See the comment at
 * the top of src/reflect/offload.c for the reconcile pass. */
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
#include "liqolet/mgmt_render.h"
#include "liqolet/refl.h"
#include "liqolet/watch.h"

/* Buffers of the module (bytes). NamespaceOffloading objects and namespaces are small;
 * a bigger one is reported (LQ_ETOOBIG) and retried, never truncated. */
#ifndef LQ_OFFLOAD_OBJ_BUF
#define LQ_OFFLOAD_OBJ_BUF (64u * 1024u)
#endif
/* One foreign namespace event (a namespace is small; a larger one is skipped). */
#ifndef LQ_OFFLOAD_NS_EVENT_BUF
#define LQ_OFFLOAD_NS_EVENT_BUF 16384u
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
    lq_forge_offload_mapping_t flag_mapping; /* of a plain "NS": DefaultName/EnforceSameName */
    /* optional: called when a home namespace's remote namespace becomes usable or stops
     * being usable (lq_offload_ns changes), e.g. to re-queue its pods */
    void (*on_change)(const char *ns, void *ctx);
    void *ctx;
    /* the NamespaceOffloading API version the home cluster serves (lq_offload_pick_gv):
     * LQ_LIQO_OFFLOADING_GV_V1BETA1 or _V1ALPHA1; NULL = v1alpha1 */
    const char *nsof_gv;
    /* Pod Security level enforced in remote namespaces (offloading.podSecurity): set at
     * creation, and set again on a namespace of ours whose label is missing or weaker;
     * LQ_FORGE_OFFLOAD_PSA_NONE = no label (0, so a zeroed cfg writes none) */
    lq_forge_offload_psa_t psa;
} lq_offload_cfg_t;

typedef enum lq_offload_label_state {
    LQ_OFFLOAD_LABEL_UNKNOWN = 0,
    LQ_OFFLOAD_LABEL_SET,      /* liqo.io/scheduling-enabled=true written by us */
    LQ_OFFLOAD_LABEL_CLEARED,  /* removed by us, or never ours to remove */
} lq_offload_label_state_t;

/* What the home cluster says of a namespace, and whether its remote namespace can be
 * used now (DESIGN.md Decision 17: "temporarily unusable" is not "not offloaded"). */
typedef enum lq_offload_use {
    LQ_OFFLOAD_NOT_OFFLOADED = 0, /* home asks for no offloading (pods fall back, §3.6) */
    LQ_OFFLOAD_WAITING,           /* offloaded, but the remote namespace is not usable yet
                                     (being created or re-created, or unknown): wait */
    LQ_OFFLOAD_USABLE             /* the remote namespace is ours and ready */
} lq_offload_use_t;

/* One home namespace this agent offloads, offloaded, or has a remote namespace for.
 * Key: the home namespace (h.ns), h.name "". Presence: HOME = its NamespaceOffloading
 * exists; FOREIGN = the remote namespace it owns (or may adopt) exists. */
typedef struct lq_offload_rec {
    lq_rtab_hdr_t h;
    bool flag;                /* listed with --offload */
    bool deleting;            /* its NamespaceOffloading is being deleted */
    bool spec_bad;            /* ... with a spec we cannot read */
    bool selected;            /* clusterSelector matches this agent's node */
    bool remote_terminating;
    bool probed;              /* the wanted remote name was looked up since start-up */
    lq_forge_offload_pods_t pods;
    lq_forge_offload_ns_state_t state;
    lq_offload_label_state_t label;
    char remote[LQ_FORGE_OFFLOAD_NAME_BUF];   /* wanted remote name; "" when none or invalid */
    /* The remote namespace this record owns: a name the agent created or adopted, and
     * its UID once proven (created by us, or read and checked on adoption). A foreign
     * event never changes these; it only says whether that object still exists. */
    char seen[LQ_FORGE_OFFLOAD_NAME_BUF];
    char seen_uid[48];
    char flag_remote[LQ_FORGE_OFFLOAD_NAME_BUF]; /* --offload NS=REMOTE: SelectedName */
    /* The agent's mark on the home namespace (label and annotation
     * liqolet.liqo.io/remote.<foreign name>): the remote namespace it owns, as home holds
     * it. Read at start-up, so a restart knows what it created; mark_known false until
     * read or written. */
    bool mark_known;
    char mark_name[LQ_FORGE_OFFLOAD_NAME_BUF];
    char mark_uid[48];
    char message[LQ_OFFLOAD_MSG_MAX];   /* why the state is what it is (status message) */
    /* The remote namespace (by UID) whose Pod Security label the foreign cluster did not
     * keep after our patch (a mutating webhook, say): not patched again, or each of our
     * patches would cause the next at the watch's pace. */
    char psa_kept_off_uid[48];
    /* private */
    lq_forge_offload_ns_state_t logged_;
    bool usable_;             /* last value reported through cfg.on_change */
    uint64_t items_[LQ_MGMT_KIND_COUNT], errors_[LQ_MGMT_KIND_COUNT]; /* Liqo's counters */
} lq_offload_rec_t;

/* What the foreign watch shows: a namespace carrying our labels. Evidence only: a record
 * adopts it in a pass when its name is the one the home side asks for and its
 * liqo.io/original-name is that record's namespace (the same test as after a 409). */
typedef struct lq_offload_seen {
    bool used, mark, terminating;
    lq_forge_offload_psa_t psa; /* its pod-security.kubernetes.io/enforce level */
    char name[LQ_FORGE_OFFLOAD_NAME_BUF];
    char uid[48];
    char original[LQ_FORGE_OFFLOAD_NAME_BUF];
} lq_offload_seen_t;
#define LQ_OFFLOAD_SEEN_MAX (2u * LQ_MAX_NAMESPACES)

typedef struct lq_offload_stats {
    uint64_t passes, creates, deletes, label_patches, status_patches, finalizer_patches;
    uint64_t conflicts, ignored_foreign, psa_patches;
} lq_offload_stats_t;

typedef struct lq_offload {
    /* readable */
    lq_offload_cfg_t cfg;
    lq_offload_stats_t stats;
    bool crd_missing;         /* the API server has no NamespaceOffloading resource */
    lq_refl_kind_t kind;      /* the engine's view: table, watches, synced */
    lq_offload_rec_t recs[LQ_MAX_NAMESPACES];
    lq_offload_seen_t seen[LQ_OFFLOAD_SEEN_MAX];
    bool seen_overflow;       /* the foreign list did not fit: look names up by GET */
    /* private */
    char suffix_[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1];
    char finalizer_[sizeof LQ_OFFLOAD_FINALIZER_PREFIX + LQ_FORGE_OFFLOAD_NAME_MAX];
    char ns_sel_[LQ_FORGE_OFFLOAD_MANAGED_BY_MAX + 40];
    char mark_key_[sizeof LQ_FORGE_OFFLOAD_MARK_PREFIX + 64];
    const char *gv_;          /* the NamespaceOffloading group/version in use */
    char watch_path_[sizeof "/apis/" LQ_LIQO_OFFLOADING_GV_V1ALPHA1 "/namespaceoffloadings"];
    lq_refl_desc_t desc_;     /* the kind's descriptor, with watch_path_ */
    bool marks_listed;        /* the home namespaces marked by this agent are known */
    char cont_[1024];         /* continue token of the marks LIST */
    lq_kreq_t mreq_;
    lq_loop_timer_t mtimer_;
    lq_backoff_t mbo_;
    char now_[32];
    lq_json_doc_t evdoc_;     /* foreign namespace events */
    unsigned char evarena_[4u * LQ_OFFLOAD_NS_EVENT_BUF];
    char ns_buf_[LQ_OFFLOAD_NS_EVENT_BUF];
    char crd_buf_[LQ_OFFLOAD_OBJ_BUF];
    char mbuf_[LQ_OFFLOAD_OBJ_BUF];  /* the marks LIST (pages of 50 namespaces) */
} lq_offload_t;

/* Adds namespace offloading to the engine (which outlives o). cfg's strings are
 * borrowed. --offload namespaces get a record at once. Returns LQ_OK; LQ_EINVAL a
 * required cfg string is NULL or empty; LQ_ETOOBIG more --offload namespaces than
 * records, or names that do not fit; an engine error. */
lq_err_t lq_offload_init(lq_offload_t *o, lq_refl_t *refl, const lq_offload_cfg_t *cfg);

/* The NamespaceOffloading version to use, from the body of GET /apis/offloading.liqo.io
 * (an APIGroup; body NULL or len 0 when the group is not served): v1beta1 (Liqo v1) when
 * the group lists it, else v1alpha1 (Liqo v0.8, and liqolet's own CRD). Pure. */
const char *lq_offload_pick_gv(const char *body, size_t len);
/* Lists the home namespaces that carry this agent's mark (the remote namespaces a previous
 * run created), then lets offloading passes start; call after lq_refl_start. */
lq_err_t lq_offload_start(lq_offload_t *o);
/* What the home cluster asks for namespace ns and whether its remote namespace is usable;
 * *remote (optional) gets the remote name when USABLE, else NULL. */
lq_offload_use_t lq_offload_ns(const lq_offload_t *o, const char *ns, size_t len,
                               const char **remote);
/* The remote namespace of home namespace ns when USABLE; NULL otherwise. */
const char *lq_offload_remote_ns(const lq_offload_t *o, const char *ns, size_t len);
/* The home namespace whose proven remote namespace (created or adopted by this agent,
 * terminating or not) is remote_ns; NULL if none. */
const char *lq_offload_home_ns(const lq_offload_t *o, const char *remote_ns, size_t len);
/* Counts one reflection result of a kind in home namespace ns (Liqo's item / error
 * counters, per namespace and reflector). */
void lq_offload_count(lq_offload_t *o, const char *ns, lq_mgmt_kind_t kind, bool ok);
/* Both watches have listed and no pass is due or running: the remote namespaces are
 * what the current objects ask for (used to hold pod reflection at start-up). */
bool lq_offload_settled(const lq_offload_t *o);
/* "None", "Creating", "Ready", "CreationLoopBackOff", "Terminating". */
const char *lq_offload_state_str(lq_forge_offload_ns_state_t s);

#endif
