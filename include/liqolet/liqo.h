/* liqolet: Liqo's names (labels, annotations, API groups) in one place. Every module that
 * writes or recognises a Liqo name takes it from here (reference/liqo-v0.8-behaviour.md). */
#ifndef LIQOLET_LIQO_H
#define LIQOLET_LIQO_H

/* Ownership of every object the agent writes in the foreign cluster (and the filter of
 * the foreign watches; labels are the first filter, never proof: DESIGN.md Decision 17). */
#define LQ_LIQO_LABEL_ORIGIN            "virtualkubelet.liqo.io/origin"
#define LQ_LIQO_LABEL_DESTINATION       "virtualkubelet.liqo.io/destination"
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
/* The NamespaceOffloading resource. */
#define LQ_LIQO_OFFLOADING_GV           "offloading.liqo.io/v1alpha1"

#endif
