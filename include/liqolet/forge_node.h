/* liqolet: the virtual node's pure forge (Kubernetes quantities, the provider's offered
 * capacity, the v1 Node, its status and its Lease). Behaviour: liqo-v0.8-behaviour.md §4
 * and DESIGN.md Decision 8. Pure module: no OS header, no I/O, no heap, no logging.
 *
 * Flow (the caller owns every struct and document):
 *     lq_forge_capacity_t cap;  lq_forge_offer_t offer;
 *     lq_forge_capacity_init(&cap);
 *     for each foreign Node:  lq_forge_capacity_add_node(&cap, node);   (all nodes first)
 *     for each foreign Pod:   lq_forge_capacity_add_pod(&cap, pod, home_cluster_id);
 *     lq_forge_capacity_offer(&cap, 90, &offer);
 *     lq_forge_node(&doc, &params, &offer, now_ms, &node_json);         (create)
 *     lq_forge_node_status_changed(current_node, &params, &offer, &changed);
 *     lq_forge_node_status(&doc, &params, &offer, current_node, now_ms, &status_json);
 *     lq_forge_lease(&doc, name, uid, name, 40, now_ms, &lease_json);
 *
 * Capacity, as Liqo v0.8's provider computes its ResourceOffer (local-resource-monitor.go,
 * resource-scaler.go):
 *   - sum status.allocatable of the physical nodes: nodes labelled liqo.io/type=virtual-node
 *     are skipped, and (as Liqo's monitor does, a detail §4 leaves out) so are nodes whose
 *     Ready condition is not "True";
 *   - subtract the effective requests of every pod in phase Running that is not labelled
 *     liqo.io/shadowPod=true. Effective request per resource (kubectl's
 *     PodRequestsAndLimits, which Liqo calls): max(sum over containers, each init
 *     container's request) + spec.overhead. Sidecar init containers
 *     (restartPolicy: Always, Kubernetes ≥ 1.28) get no special treatment, as in v0.8;
 *     only resource names that some node reports are subtracted (Liqo's subResources);
 *   - if any resource went negative, every resource is set to zero (Liqo's checkSign);
 *   - add back the requests of those pods labelled virtualkubelet.liqo.io/origin=<home id>;
 *   - scale by the sharing percentage exactly as Liqo does, in float32 arithmetic
 *     (factor = (float)pct / 100, result truncated toward zero): cpu in millicores,
 *     memory in units of 10^6 bytes (memory is first rounded up to whole M, like
 *     ScaledValue(Mega)), every other resource in whole units. Below 2^24 units this
 *     equals floor(v * pct / 100) for pct = 90; above it float32 loses precision exactly
 *     as Liqo's does.
 *   Deviation: each quantity is rounded up to the unit (millicore for cpu, byte or whole
 *   unit otherwise) when it is read, where Liqo sums exact decimals; sub-millicore
 *   requests ("0.5m") are the only realistic difference. Liqo updates its sums event by
 *   event (so its zeroing depends on event order); these functions compute the same
 *   rules over one complete list of nodes and pods.
 *
 * Not built here (the caller's or later work): the storage.liqo.io/available label (no
 * storage fabric), status.images, Liqo's VK annotations for three-way patching, the
 * finalizer, and the teardown sequence (whose status is what an empty offer gives).
 *
 * Builders (lq_forge_node, _status, _lease) leave whatever they had built in the arena
 * when they fail; lq_json_reset() reclaims it.
 */
#ifndef LIQOLET_FORGE_NODE_H
#define LIQOLET_FORGE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/json.h"

#ifndef LQ_FORGE_MAX_RESOURCES
#define LQ_FORGE_MAX_RESOURCES 16 /* distinct resource names (cpu, memory, pods, ...) */
#endif
#ifndef LQ_FORGE_RES_NAME_MAX
#define LQ_FORGE_RES_NAME_MAX 96  /* longest resource name + NUL */
#endif
#define LQ_FORGE_ARCH_MAX 32
#define LQ_FORGE_DEFAULT_ARCH "amd64"
#define LQ_FORGE_DEFAULT_KUBELET_VERSION "v1.25.0"
#define LQ_FORGE_KUBELET_PORT 10250
#define LQ_FORGE_LEASE_NAMESPACE "kube-node-lease"
#define LQ_FORGE_LEASE_DURATION 40

/* ---- quantities --------------------------------------------------------------------- */

/* Parses a Kubernetes quantity s[0..len) ("100m", "2", "1.5", "128Mi", "1G", "1e3",
 * "500k", "+.5", "-1Ki") into *out, expressed in units of 10^scale (scale -3: milli, as
 * Quantity.MilliValue(); 0: whole units, as Value(); any scale from -9 to 18). The value
 * is rounded up away from zero to the unit, as Kubernetes does. Suffixes: n u m "" k M G
 * T P E, Ki Mi Gi Ti Pi Ei, and e<int>/E<int> exponents. No whitespace is accepted.
 * Returns LQ_OK; LQ_EINVAL s or out NULL, or scale out of range; LQ_EPROTO not a quantity
 * (empty, "1.2.3", "1K", "1Kb", " 1", "1e", "e3", ...); LQ_ETOOBIG the value does not fit
 * in int64 at that scale. *out is untouched on error.
 * Deviations from k8s.io/apimachinery (checked against its ParseQuantity): a number with
 * no digit ("+", ".", "m", "Ki", "e3"), which Kubernetes reads as 0, is refused; a value
 * beyond int64, which Value()/MilliValue() silently wrap, is LQ_ETOOBIG; digits beyond
 * the 20th significant one only round up, so with a binary suffix (Ki..Ei) such a text can
 * come out one unit low (fuzz_quantity). The API server never sends any of these (it
 * stores canonical text). */
lq_err_t lq_quantity_parse(const char *s, size_t len, int scale, int64_t *out);

/* Formats v (in units of 10^scale; scale a multiple of 3 from -9 to 18) as Kubernetes'
 * canonical DecimalSI text: 3510 at -3 -> "3510m", 4000 at -3 -> "4", 6912000000 at 0 ->
 * "6912M", 7000000000 -> "7G", 0 -> "0". buf gets a NUL; *len (optional) the length.
 * Returns LQ_OK; LQ_EINVAL buf NULL, cap 0 or bad scale; LQ_ETOOBIG buf too small (buf
 * is then ""). 32 bytes always suffice. */
lq_err_t lq_quantity_format(int64_t v, int scale, char *buf, size_t cap, size_t *len);

/* ---- capacity ----------------------------------------------------------------------- */

typedef struct lq_forge_res {
    char name[LQ_FORGE_RES_NAME_MAX];
    int64_t alloc;   /* sum of counted nodes' allocatable */
    int64_t used;    /* sum of counted pods' effective requests */
    int64_t origin;  /* the part of `used` from the home cluster's own pods */
    bool on_node;    /* some counted node reports this resource */
} lq_forge_res_t;

/* The running sums. Units: millicores for "cpu", whole units (bytes, pods, devices) for
 * everything else. Fill it through the functions below; read it freely. */
typedef struct lq_forge_capacity {
    lq_forge_res_t res[LQ_FORGE_MAX_RESOURCES];
    size_t n;
    uint32_t nodes;      /* physical Ready nodes counted */
    uint32_t pods;       /* Running non-shadow pods counted */
    uint32_t origin_pods;
    char arch[LQ_FORGE_ARCH_MAX]; /* architecture of the physical nodes seen so far */
    int arch_state;      /* 0 none seen, 1 all agree on arch, 2 they disagree */
} lq_forge_capacity_t;

/* One offered resource: value in millicores for "cpu", in bytes for "memory" (a multiple
 * of 10^6), whole units otherwise; `scale` is the exponent of that unit (-3 or 0). */
typedef struct lq_forge_offer_res {
    char name[LQ_FORGE_RES_NAME_MAX];
    int64_t value;
    int scale;
} lq_forge_offer_res_t;

/* The result: what the virtual node advertises (capacity == allocatable), sorted by
 * name as the API server prints a ResourceList, and the architecture to report. */
typedef struct lq_forge_offer {
    lq_forge_offer_res_t res[LQ_FORGE_MAX_RESOURCES];
    size_t n;
    char arch[LQ_FORGE_ARCH_MAX]; /* agreed architecture of the foreign nodes, else amd64 */
} lq_forge_offer_t;

/* Empties *cap. Cannot fail. */
void lq_forge_capacity_init(lq_forge_capacity_t *cap);

/* Accounts one foreign v1 Node (borrowed for the call). Virtual nodes (label
 * liqo.io/type=virtual-node) are ignored entirely; every other node takes part in the
 * architecture vote (label kubernetes.io/arch, else status.nodeInfo.architecture), and
 * its status.allocatable is added when its Ready condition is "True".
 * *counted (optional) tells whether the allocatable was added.
 * Returns LQ_OK; LQ_EINVAL cap or node NULL; LQ_EPROTO an allocatable value is not a
 * quantity, is negative, or is not a string; LQ_ETOOBIG a sum overflows int64, a name is
 * too long, or more than LQ_FORGE_MAX_RESOURCES names. On error *cap is unchanged. */
lq_err_t lq_forge_capacity_add_node(lq_forge_capacity_t *cap, const lq_json_t *node,
                                    bool *counted);

/* Accounts one foreign v1 Pod (borrowed for the call): ignored unless status.phase is
 * "Running" and the label liqo.io/shadowPod is not "true". Its effective requests (see
 * the top of this file) are added to `used`, and also to `origin` when its label
 * virtualkubelet.liqo.io/origin equals home_cluster_id (NUL-terminated; NULL or "" never
 * matches). *counted (optional) tells whether the pod was counted.
 * Returns as lq_forge_capacity_add_node (LQ_EPROTO also for a malformed container list).
 * On error *cap is unchanged. */
lq_err_t lq_forge_capacity_add_pod(lq_forge_capacity_t *cap, const lq_json_t *pod,
                                   const char *home_cluster_id, bool *counted);

/* Computes the offer from the sums with sharing percentage pct (0..100; DESIGN.md
 * default 90). Returns LQ_OK; LQ_EINVAL a NULL argument or pct > 100. */
lq_err_t lq_forge_capacity_offer(const lq_forge_capacity_t *cap, unsigned pct,
                                 lq_forge_offer_t *out);

/* resourcesReady of §4: the offer has cpu > 0 and memory > 0. */
bool lq_forge_offer_ready(const lq_forge_offer_t *offer);

/* ---- node --------------------------------------------------------------------------- */

typedef struct lq_forge_kv {
    const char *key;
    const char *value;
} lq_forge_kv_t;

/* Everything the node needs besides the offer. Strings are NUL-terminated and borrowed
 * for the call. */
typedef struct lq_forge_node_params {
    const char *node_name;          /* required: liqo-<foreign name> by default */
    const char *foreign_cluster_id; /* required: label liqo.io/remote-cluster-id */
    const char *node_ip;            /* InternalIP; NULL or "" leaves addresses out */
    const char *kubelet_version;    /* home API server gitVersion; NULL/"" -> v1.25.0 */
    const lq_forge_kv_t *extra_labels;      /* applied on top of the fixed labels */
    size_t n_extra_labels;
    const lq_forge_kv_t *extra_annotations;
    size_t n_extra_annotations;
    uint16_t kubelet_port;          /* 0 -> 10250 */
    bool declare_websockets;        /* status.declaredFeatures: ["ExtendWebSocketsToKubelet"]
                                       (kube-apiserver >= 1.35 then passes exec/attach
                                       WebSockets through to the kubelet API) */
} lq_forge_node_params_t;

/* Builds the whole v1 Node for create into doc (*out, detached root of doc):
 * metadata (name, the fixed labels of §4 with kubernetes.io/arch = offer->arch, extra
 * labels on top, extra annotations), spec.taints (virtual-node.liqo.io/not-allowed=
 * true:NoExecute) and status as lq_forge_node_status with no previous node.
 * now_ms is wall-clock milliseconds since the epoch (UTC), >= 0.
 * Returns LQ_OK; LQ_EINVAL a required argument NULL or empty, now_ms < 0;
 * LQ_ETOOBIG doc's arena ran out. On error *out is NULL. */
lq_err_t lq_forge_node(lq_json_doc_t *doc, const lq_forge_node_params_t *params,
                       const lq_forge_offer_t *offer, int64_t now_ms, lq_json_t **out);

/* Builds the Node's status object into doc: capacity and allocatable (equal, from the
 * offer), conditions Ready / MemoryPressure / DiskPressure / PIDPressure with Liqo's
 * reasons and messages (no NetworkUnavailable: External Network mode), every
 * lastHeartbeatTime = now, each lastTransitionTime kept from prev_node's condition of the
 * same type when its status is unchanged (prev_node: the current Node object, may be
 * NULL, borrowed), addresses (InternalIP), daemonEndpoints.kubeletEndpoint.Port and
 * nodeInfo (kubeletVersion, operatingSystem "Linux", architecture = offer->arch).
 * Returns as lq_forge_node. */
lq_err_t lq_forge_node_status(lq_json_doc_t *doc, const lq_forge_node_params_t *params,
                              const lq_forge_offer_t *offer, const lq_json_t *prev_node,
                              int64_t now_ms, lq_json_t **out);

/* Whether prev_node's status differs from what lq_forge_node_status would write, apart
 * from timestamps: a capacity or allocatable value or name (compared as quantities, so
 * "7000M" equals "7G"), a condition's status, a condition missing or extra. A NULL or
 * status-less prev_node is a change. The caller updates every 60 s and when this says so.
 * Returns LQ_OK and sets *changed; LQ_EINVAL offer or changed NULL. */
lq_err_t lq_forge_node_status_changed(const lq_json_t *prev_node, const lq_forge_offer_t *offer,
                                      bool *changed);

/* Builds the node's coordination.k8s.io/v1 Lease in kube-node-lease into doc: name =
 * node_name, spec.holderIdentity = holder, leaseDurationSeconds = duration_s,
 * renewTime = renew_ms as MicroTime ("2006-01-02T15:04:05.000000Z"), and an owner
 * reference to the Node (apiVersion v1, kind Node, name, uid; no blockOwnerDeletion)
 * when node_uid is non-empty (NULL or "" leaves it out: the Node is not known yet).
 * Returns LQ_OK; LQ_EINVAL node_name/holder NULL or empty, duration_s <= 0, renew_ms < 0;
 * LQ_ETOOBIG arena exhausted. On error *out is NULL. */
lq_err_t lq_forge_lease(lq_json_doc_t *doc, const char *node_name, const char *node_uid,
                        const char *holder, int32_t duration_s, int64_t renew_ms,
                        lq_json_t **out);

/* Formats wall-clock milliseconds since the epoch as RFC 3339 UTC: micro = false gives
 * metav1.Time ("2026-11-23T14:29:03Z", milliseconds dropped), micro = true gives
 * metav1.MicroTime ("2026-11-23T14:29:03.123000Z"). buf needs 21 / 28 bytes.
 * Returns LQ_OK; LQ_EINVAL buf NULL or ms < 0 or year > 9999; LQ_ETOOBIG buf too small. */
lq_err_t lq_forge_time_format(int64_t ms, bool micro, char *buf, size_t cap);

#endif
