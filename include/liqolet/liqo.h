/* liqolet: Liqo's names (labels, annotations, API groups) in one place. Every module that
 * writes or recognises a Liqo name takes it from here (reference/liqo-v0.8-behaviour.md). */
#ifndef LIQOLET_LIQO_H
#define LIQOLET_LIQO_H

#include <stdbool.h>
#include <stddef.h>

/* Ownership of every object the agent writes in the foreign cluster (and the filter of
 * the foreign watches; labels are the first filter, never proof: DESIGN.md Decision 17).
 * Two families (Decision 18), one chosen at start-up by `compat` (lq_liqo_names below):
 * Liqo v0.8 writes virtualkubelet.liqo.io/origin|destination, Liqo v1 writes
 * offloading.liqo.io/origin|destination and, on reflected pods, offloading.liqo.io/nodename
 * (the virtual node's name; Liqo v1.2 pkg/virtualKubelet/forge/meta.go and pods.go). */
#define LQ_LIQO_V08_LABEL_ORIGIN        "virtualkubelet.liqo.io/origin"
#define LQ_LIQO_V08_LABEL_DESTINATION   "virtualkubelet.liqo.io/destination"
#define LQ_LIQO_V1_LABEL_ORIGIN         "offloading.liqo.io/origin"
#define LQ_LIQO_V1_LABEL_DESTINATION    "offloading.liqo.io/destination"
#define LQ_LIQO_V1_LABEL_NODENAME       "offloading.liqo.io/nodename"
#define LQ_LIQO_LABEL_REMOTE_CLUSTER_ID "liqo.io/remote-cluster-id"
#define LQ_LIQO_LABEL_TYPE              "liqo.io/type"
#define LQ_LIQO_TYPE_VIRTUAL_NODE       "virtual-node"
/* On home namespaces whose pods may run on virtual nodes (Decision 7). */
#define LQ_LIQO_LABEL_SCHEDULING        "liqo.io/scheduling-enabled"
/* On home pods that run remotely. */
#define LQ_LIQO_LABEL_SHADOW_POD        "liqo.io/shadowPod"
/* On home pods that run remotely while the foreign cluster cannot be reached (Liqo 0.9.4+;
 * their Ready condition is False meanwhile). */
#define LQ_LIQO_LABEL_REMOTE_UNAVAILABLE "liqo.io/remote-unavailable"
/* On remote namespaces: the home namespace's name and the NamespaceMap that manages it. */
#define LQ_LIQO_ANN_ORIGINAL_NAME       "liqo.io/original-name"
#define LQ_LIQO_ANN_MANAGED_BY          "liqo.io/managed-by-namespace-map"
#define LQ_LIQO_ANN_AA_PRESET           "liqo.io/anti-affinity-preset"
#define LQ_LIQO_ANN_AA_LABELS           "liqo.io/anti-affinity-labels"
/* The NamespaceOffloading resource: its group, and the two versions served (Liqo v0.8 has
 * v1alpha1, Liqo v1 v1beta1; the agent uses whichever the home cluster serves, v1beta1
 * first; the fields it reads and writes are the same in both). */
#define LQ_LIQO_OFFLOADING_GROUP        "offloading.liqo.io"
#define LQ_LIQO_OFFLOADING_GV_V1ALPHA1  LQ_LIQO_OFFLOADING_GROUP "/v1alpha1"
#define LQ_LIQO_OFFLOADING_GV_V1BETA1   LQ_LIQO_OFFLOADING_GROUP "/v1beta1"

/* The label family of the objects the agent writes in the foreign cluster (config `compat`,
 * same order as its values "v0.8|v1"). */
typedef enum lq_liqo_compat {
    LQ_LIQO_COMPAT_V08 = 0,
    LQ_LIQO_COMPAT_V1 = 1,
} lq_liqo_compat_t;

typedef struct lq_liqo_names {
    const char *compat;      /* "v0.8" or "v1" */
    const char *origin;      /* label: the home cluster id */
    const char *destination; /* label: the foreign cluster id */
    const char *nodename;    /* label on remote pods: the virtual node's name; NULL = none */
} lq_liqo_names_t;

/* The names of the family in use. Selected once at start-up, before the loop runs
 * (lq_liqo_use); the forges read them as constants, so they stay pure for a given
 * selection. Until lq_liqo_use is called: v0.8. Never NULL. */
const lq_liqo_names_t *lq_liqo_names(void);
/* Selects the family (an unknown value selects v0.8). Unit tests switch it between cases. */
void lq_liqo_use(lq_liqo_compat_t compat);
/* The names of a family, whether in use or not (an unknown value: v0.8). Never NULL. */
const lq_liqo_names_t *lq_liqo_names_of(lq_liqo_compat_t compat);
/* True when key (n bytes, no NUL needed) is an ownership label of either family (origin,
 * destination, nodename): such a home label is never copied to a remote object, whatever
 * the family in use, so a home object cannot claim a remote copy for another agent. */
bool lq_liqo_is_own_label(const char *key, size_t n);

#endif
