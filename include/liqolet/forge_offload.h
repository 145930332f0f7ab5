/* liqolet: namespace offloading rules (pure module; liqo-v0.8-behaviour.md §3, DESIGN.md
 * Decisions 1, 2 and 7, and SelectedName from Liqo 0.10).
 *
 * Everything here is a function of its inputs: no I/O, no clock, no allocation. JSON comes
 * in as lq_json_t items (borrowed) and goes out as items built in a caller's document
 * (valid until that document's reset). Times are RFC 3339 strings given by the caller.
 *
 *   lq_forge_offload_spec_parse        NamespaceOffloading spec -> strategies + selector
 *   lq_forge_offload_hash_suffix       sha256(home id) digest -> the 6-hex DefaultName suffix
 *   lq_forge_offload_remote_name       the remote namespace name of each mapping strategy
 *   lq_forge_offload_selector_match    spec.clusterSelector against this agent's node labels
 *   lq_forge_offload_remote_ns_build   the remote Namespace object (labels, annotations)
 *   lq_forge_offload_remote_ns_owned   is an existing remote namespace ours?
 *   lq_forge_offload_psa_*             the Pod Security level of remote namespaces: parse,
 *                                      name, whether a label is weaker, the label patch
 *   lq_forge_offload_home_ns_patch     merge patch of the home namespace's scheduling label
 *   lq_forge_offload_status_build      this agent's conditions, the phase, the status patch
 *   lq_forge_offload_status_current    does the status already say so (no patch needed)?
 *   lq_forge_offload_fallback          what to do with a home pod whose namespace is not offloaded
 *
 * The digest comes from the caller (mbedTLS lives only in src/kube/tls.c):
 *     unsigned char d[32]; char sfx[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1];
 *     err = lq_tls_sha256(home_id, strlen(home_id), d);      // include/liqolet/tls.h
 *     lq_forge_offload_hash_suffix(d, sfx);
 *     err = lq_forge_offload_remote_name(&spec, "foo", home_name, sfx, name, sizeof name, &n);
 */
#ifndef LIQOLET_FORGE_OFFLOAD_H
#define LIQOLET_FORGE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/json.h"
#include "liqolet/liqo.h"

/* The only name a NamespaceOffloading may have (one per namespace). */
#define LQ_FORGE_OFFLOAD_OBJECT_NAME "offloading"
/* Longest namespace name (DNS-1123 label), and a buffer that holds one with its NUL. */
#define LQ_FORGE_OFFLOAD_NAME_MAX 63u
#define LQ_FORGE_OFFLOAD_NAME_BUF (LQ_FORGE_OFFLOAD_NAME_MAX + 1u)
/* Hex digits of sha256(home id) in a DefaultName name. */
#define LQ_FORGE_OFFLOAD_SUFFIX_LEN 6u

/* Labels and annotations: include/liqolet/liqo.h. */
/* Value of the managed-by annotation: "liqolet/<home id>". Liqo writes
 * "<NamespaceMap namespace>/<NamespaceMap name>"; "liqolet" is never a tenant namespace,
 * so Liqo's own namespacemap controller never deletes a namespace created by us. */
#define LQ_FORGE_OFFLOAD_MANAGED_BY_PREFIX       "liqolet/"
/* Longest managed-by value (an annotation value has no limit of its own; this bounds the
 * stack buffer): the home id may be up to 247 characters. */
#define LQ_FORGE_OFFLOAD_MANAGED_BY_MAX          255u

typedef enum lq_forge_offload_mapping {
    LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME = 0, /* <ns>-<home name>-<6 hex of sha256(home id)> */
    LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME,/* <ns> */
    LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME,    /* spec.remoteNamespaceName (Liqo 0.10) */
} lq_forge_offload_mapping_t;

typedef enum lq_forge_offload_pods {
    LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE = 0, /* the default */
    LQ_FORGE_OFFLOAD_PODS_REMOTE,
    LQ_FORGE_OFFLOAD_PODS_LOCAL,
} lq_forge_offload_pods_t;

/* A parsed spec. Views borrow from the NamespaceOffloading's document. */
typedef struct lq_forge_offload_spec {
    lq_forge_offload_mapping_t mapping;
    lq_forge_offload_pods_t pods;
    lq_json_str_t remote_name;        /* spec.remoteNamespaceName; p NULL when absent */
    const lq_json_t *cluster_selector;/* spec.clusterSelector; NULL when absent */
} lq_forge_offload_spec_t;

/* Reads spec of a NamespaceOffloading object (the whole object, borrowed). Absent fields
 * take Liqo's defaults (DefaultName, LocalAndRemote, no selector).
 * Returns LQ_OK; LQ_EPROTO a field has the wrong JSON type or an unknown enum value;
 * LQ_EINVAL nsof or out NULL. */
lq_err_t lq_forge_offload_spec_parse(const lq_json_t *nsof, lq_forge_offload_spec_t *out);

/* ---- remote namespace name (§3.2, Decision 2) -------------------------------------- */

/* Writes the first LQ_FORGE_OFFLOAD_SUFFIX_LEN lowercase hex digits of digest (the first three
 * bytes) and a NUL into out. Cannot fail. */
void lq_forge_offload_hash_suffix(const unsigned char digest[32], char out[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1]);

/* True when s[0..len) is a DNS-1123 label: 1..63 characters of [a-z0-9-], starting and
 * ending with [a-z0-9]. */
bool lq_forge_offload_dns_label_valid(const char *s, size_t len);

/* The remote namespace name of local namespace local_ns under spec->mapping:
 *   DefaultName      local_ns "-" home_name "-" suffix   (suffix: lq_forge_offload_hash_suffix)
 *   EnforceSameName  local_ns
 *   SelectedName     spec->remote_name
 * home_name and suffix are read only for DefaultName (may be NULL otherwise).
 * out[0..cap) receives the name and a NUL; cap must be at least LQ_FORGE_OFFLOAD_NAME_BUF.
 * *len (optional) receives the full length of the name, also when it is too long, so
 * the caller can report it. The name is never truncated.
 * Returns:
 *   LQ_OK         out holds a valid DNS-1123 label.
 *   LQ_ETOOBIG    the name is over 63 characters (out ""): report CreationLoopBackOff.
 *   LQ_ENOTFOUND  SelectedName without spec.remoteNamespaceName, or it is "" (out "").
 *   LQ_ECONFIG    the name is not a DNS-1123 label (out ""), e.g. an invalid
 *                 remoteNamespaceName or a home name with capitals.
 *   LQ_EINVAL     spec/local_ns/out NULL, cap too small, or DefaultName with a NULL
 *                 home_name/suffix or a suffix not of 6 lowercase hex digits. */
lq_err_t lq_forge_offload_remote_name(const lq_forge_offload_spec_t *spec, const char *local_ns,
                                const char *home_name, const char *suffix,
                                char *out, size_t cap, size_t *len);

/* ---- cluster selector (§3.5) -------------------------------------------------------- */

/* One label of this agent's virtual node (both NUL-terminated, borrowed). */
typedef struct lq_forge_offload_label {
    const char *key;
    const char *value;
} lq_forge_offload_label_t;

/* Matches a core/v1 NodeSelector (spec.clusterSelector, borrowed; NULL = absent) against
 * the virtual node's labels[0..n) (first occurrence of a key wins) and its name.
 * Rules (Kubernetes MatchNodeSelectorTerms, with Liqo's "empty selects all"):
 *   - absent selector or no nodeSelectorTerms: selected;
 *   - terms are ORed; inside a term, every matchExpressions and matchFields entry is
 *     ANDed; a term with neither matches nothing;
 *   - In: the label exists and its value is one of values; NotIn: absent, or not one of
 *     values; Exists / DoesNotExist: presence; Gt / Lt: the label's value and the single
 *     element of values both parse as base-10 int64 and compare strictly;
 *   - matchFields: Kubernetes supports only key "metadata.name" with In or NotIn and
 *     exactly one value, compared with node_name (NULL never matches In);
 *   - an invalid requirement (In/NotIn without values, Exists/DoesNotExist with values,
 *     Gt/Lt without exactly one integer value, unknown operator or field key, a label key
 *     or value that breaks the Kubernetes label syntax, so Gt/Lt values like "-4" too)
 *     makes its whole term not match, as Kubernetes does (labels.NewRequirement);
 *     *invalid (optional) counts such terms.
 * Returns LQ_OK (*selected set); LQ_EPROTO the selector's JSON shape is wrong (not an
 * object, terms not an array, key/operator not strings, values not strings);
 * LQ_EINVAL selected NULL, or labels NULL with n > 0. */
lq_err_t lq_forge_offload_selector_match(const lq_json_t *selector, const lq_forge_offload_label_t *labels,
                                   size_t n, const char *node_name, bool *selected,
                                   size_t *invalid);

/* ---- Pod Security of remote namespaces (issue 17 finding 8) ---------------------------
 * A home tenant's pod spec is copied to the provider as it is (privileged, hostPath,
 * host namespaces included): the provider's PodSecurity admission is what stops it, so
 * every remote namespace carries pod-security.kubernetes.io/enforce=<level> (default
 * baseline). The levels are ordered; a remote label that is missing, unknown or weaker
 * than ours is set again, a stricter one (the provider's choice) is left alone. NONE
 * (configured "none") writes and repairs nothing: the provider's cluster-wide default
 * applies. The enum's order is the config option's (offloading.podSecurity). */
#define LQ_FORGE_OFFLOAD_PSA_LABEL "pod-security.kubernetes.io/enforce"
enum lq_forge_offload_psa {
    LQ_FORGE_OFFLOAD_PSA_NONE = 0, /* configured: no label; seen: no or unknown label */
    LQ_FORGE_OFFLOAD_PSA_PRIVILEGED,
    LQ_FORGE_OFFLOAD_PSA_BASELINE,
    LQ_FORGE_OFFLOAD_PSA_RESTRICTED,
};
typedef enum lq_forge_offload_psa lq_forge_offload_psa_t;

/* ---- remote namespace object (§3.3 item 3, DESIGN.md ownership labels) -------------- */

/* Builds in doc the Namespace to create in the foreign cluster:
 *   {"apiVersion":"v1","kind":"Namespace","metadata":{"name":<remote_name>,
 *    "labels":{"liqo.io/remote-cluster-id":<home_id>,
 *              "virtualkubelet.liqo.io/origin":<home_id>,
 *              "virtualkubelet.liqo.io/destination":<foreign_id>},
 *    "annotations":{"liqo.io/managed-by-namespace-map":"liqolet/<home_id>",
 *                   "liqo.io/original-name":<local_ns>}}}
 * All strings borrowed for the call. Returns LQ_OK (*out set); LQ_ETOOBIG doc's arena
 * is full, or home_id is over 247 characters; LQ_EINVAL an argument is NULL.
 * psa: the Pod Security Admission level enforced in the namespace (label
 * pod-security.kubernetes.io/enforce); LQ_FORGE_OFFLOAD_PSA_NONE writes no label. */
lq_err_t lq_forge_offload_remote_ns_build(lq_json_doc_t *doc, const char *remote_name,
                                    const char *local_ns, const char *home_id,
                                    const char *foreign_id, lq_forge_offload_psa_t psa,
                                    lq_json_t **out);

/* True when the remote Namespace ns (borrowed) belongs to this agent: labels
 * virtualkubelet.liqo.io/origin == home_id and virtualkubelet.liqo.io/destination ==
 * foreign_id, and, when local_ns is not NULL, annotation liqo.io/original-name ==
 * local_ns (so two local namespaces selecting the same remote name conflict instead of
 * sharing it). Anything else (NULL arguments included) is false: a namespace we do not
 * own is reported (CreationLoopBackOff), never adopted or deleted. */
bool lq_forge_offload_remote_ns_owned(const lq_json_t *ns, const char *home_id, const char *foreign_id,
                                const char *local_ns);

/* ---- Pod Security functions (the levels are above) ---------------------------------- */

/* The level a label value names (exact, case-sensitive, as the API server reads it);
 * NULL, empty or anything else is NONE (no level: weaker than every level). */
lq_forge_offload_psa_t lq_forge_offload_psa_parse(const char *value, size_t len);
/* "privileged", "baseline", "restricted"; NULL for NONE or out of range. */
const char *lq_forge_offload_psa_str(lq_forge_offload_psa_t level);
/* The level the remote Namespace ns (borrowed) enforces by its label (NONE if none). */
lq_forge_offload_psa_t lq_forge_offload_psa_of(const lq_json_t *ns);
/* True when a namespace whose label says `seen` must be labelled `want`: want is a level
 * and seen is weaker (NONE included). */
bool lq_forge_offload_psa_weaker(lq_forge_offload_psa_t seen, lq_forge_offload_psa_t want);
/* Merge patch {"metadata":{"uid":uid,"labels":{LABEL: want}}}: the uid makes the API server
 * refuse it (409) if the name now belongs to another namespace. LQ_EINVAL: NULL argument or
 * want is NONE; LQ_ETOOBIG: doc full. */
lq_err_t lq_forge_offload_psa_patch(lq_json_doc_t *doc, const char *uid, lq_forge_offload_psa_t want,
                                    lq_json_t **out);

/* ---- home namespace label (§3.3 item 1, Decision 7) --------------------------------- */

/* The agent's own mark on a home namespace whose remote namespace it owns (DESIGN.md
 * Decision 17: ownership is recorded at home, where the foreign side cannot forge it):
 * label <key> = the remote namespace's name, annotation <key> = its UID. The key is
 * LQ_FORGE_OFFLOAD_MARK_PREFIX + the foreign cluster's name. */
#define LQ_FORGE_OFFLOAD_MARK_PREFIX "liqolet.liqo.io/remote."
typedef struct lq_forge_offload_mark {
    const char *key;         /* NULL: the patch carries no mark */
    const char *name, *uid;  /* NULL name: remove the mark */
} lq_forge_offload_mark_t;

/* Merge patch for the home namespace: {"metadata":{"labels":{"liqo.io/scheduling-enabled":
 * "true"}}} when active and pods is Remote or LocalAndRemote; the same with null (remove
 * the label) for Local, or when offloading ends (active false). With mark->key set, the
 * mark label and annotation are set to mark->name / mark->uid, or removed (null) when
 * mark->name is NULL. Returns LQ_OK (*out set); LQ_ETOOBIG arena full; LQ_EINVAL doc/out
 * NULL, pods out of range, or a mark name without a uid. */
lq_err_t lq_forge_offload_home_ns_patch(lq_json_doc_t *doc, lq_forge_offload_pods_t pods, bool active,
                                        const lq_forge_offload_mark_t *mark, lq_json_t **out);

/* ---- status (§3.1, Decision 1) ------------------------------------------------------ */

/* State of this agent's remote namespace. */
typedef enum lq_forge_offload_ns_state {
    LQ_FORGE_OFFLOAD_NS_NONE = 0,          /* none exists and none is wanted (Liqo: no mapping) */
    LQ_FORGE_OFFLOAD_NS_CREATING,          /* wanted, not created yet */
    LQ_FORGE_OFFLOAD_NS_CREATED,           /* exists and is ours */
    LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF,       /* cannot be created: conflict, name too long, ... */
    LQ_FORGE_OFFLOAD_NS_TERMINATING,       /* being deleted by us */
} lq_forge_offload_ns_state_t;

typedef enum lq_forge_offload_phase {
    LQ_FORGE_OFFLOAD_PHASE_READY = 0,
    LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED,
    LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS,
    LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED,
    LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED,
    LQ_FORGE_OFFLOAD_PHASE_TERMINATING,
} lq_forge_offload_phase_t;

/* "Ready", "NoClusterSelected", ...; "?" when out of range. */
const char *lq_forge_offload_phase_str(lq_forge_offload_phase_t phase);

typedef struct lq_forge_offload_status_in {
    const char *key;          /* this agent's key: the foreign cluster name (required) */
    bool selected;            /* clusterSelector result (forced false while deleting) */
    lq_forge_offload_ns_state_t state;
    const char *message;      /* Ready condition message for LOOPBACKOFF (e.g. the
                                 conflict or the over-long name); NULL: a generic one */
    const char *remote_name;  /* status.remoteNamespaceName; NULL: not written */
    bool forget;              /* drop this key whatever the state (peering removed) */
    bool precondition;        /* copy nsof's metadata.resourceVersion into the patch, so
                                 the API server refuses it (409) if another agent wrote
                                 in between and the phase is recomputed on fresh data */
    const char *now;          /* RFC 3339 time for new transitions (required) */
} lq_forge_offload_status_in_t;

/* Computes this agent's part of a NamespaceOffloading status from the current object
 * nsof (borrowed: metadata.generation, metadata.deletionTimestamp and
 * status.remoteNamespacesConditions are read).
 *
 * (a) *conditions (optional): this agent's list, built in doc:
 *     OffloadingRequired True/ClusterSelected or False/ClusterNotSelected, then, when
 *     selected or state != NONE, Ready: True/NamespaceCreated (CREATED), or False with
 *     Creating, CreationLoopBackOff or Terminating. A condition whose status and reason
 *     equal the current one keeps its lastTransitionTime (Liqo keeps the condition);
 *     the message is always the new one. NULL when the key is dropped: while deleting
 *     with state NONE and not selected (offloading ended, as Liqo), or with forget.
 * (b) *phase (optional): from every key of the current status with this agent's key
 *     replaced by (a) (or removed), by the §3.1 rules in order: deleting -> Terminating;
 *     no key with OffloadingRequired True -> NoClusterSelected; every selected key
 *     Ready True -> Ready; every selected key CreationLoopBackOff -> AllFailed; any ->
 *     SomeFailed; else InProgress.
 * (c) *patch (optional): merge patch for the status subresource, built in doc:
 *     {"status":{"remoteNamespacesConditions":{<key>:(a) or null},
 *      "remoteNamespaceName":..., "offloadingPhase":..., "observedGeneration":N}}
 *     (remoteNamespaceName only when in->remote_name is set, observedGeneration only
 *     when metadata.generation is present), preceded by
 *     "metadata":{"resourceVersion":...} when in->precondition (LQ_EPROTO if nsof has
 *     no resourceVersion string).
 * Returns LQ_OK; LQ_EPROTO the current status or metadata has the wrong JSON shape;
 * LQ_ETOOBIG arena full; LQ_EINVAL doc/nsof/in/key/now NULL or state out of range. */
lq_err_t lq_forge_offload_status_build(lq_json_doc_t *doc, const lq_json_t *nsof,
                                 const lq_forge_offload_status_in_t *in, lq_json_t **conditions,
                                 lq_forge_offload_phase_t *phase, lq_json_t **patch);

/* Does the NamespaceOffloading's status already say what this agent would write: its key's
 * conditions (compared field by field: the API server re-orders keys), the phase, the
 * remote name (when remote_name is non-NULL) and observedGeneration? Then no patch is
 * needed. */
bool lq_forge_offload_status_current(const lq_json_t *nsof, const char *key,
                                     const lq_json_t *conds, lq_forge_offload_phase_t phase,
                                     const char *remote_name);

/* ---- fallback (§3.6) ---------------------------------------------------------------- */

typedef enum lq_forge_offload_fallback {
    LQ_FORGE_OFFLOAD_FALLBACK_LEAVE = 0,   /* nothing to do */
    LQ_FORGE_OFFLOAD_FALLBACK_DELETE,      /* terminating: DELETE with gracePeriodSeconds=0 */
    LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF,     /* Pending/OffloadingBackOff (recoverable) */
    LQ_FORGE_OFFLOAD_FALLBACK_ABORT,       /* Failed/OffloadingAborted (never offloaded again) */
} lq_forge_offload_fallback_t;

#define LQ_FORGE_OFFLOAD_REASON_BACKOFF "OffloadingBackOff"
#define LQ_FORGE_OFFLOAD_REASON_ABORTED "OffloadingAborted"
#define LQ_FORGE_OFFLOAD_EVENT_REASON   "ReflectionDisabled" /* Warning event of each case */

/* Classifies a home pod (borrowed) that is on the virtual node while its namespace is not
 * reflected:
 *   metadata.deletionTimestamp set             -> DELETE
 *   status.phase Succeeded                     -> LEAVE
 *   Pending with no containerStatuses          -> BACKOFF (Pending, OffloadingBackOff)
 *   anything else                              -> ABORT   (Failed, OffloadingAborted)
 * BACKOFF and ABORT become LEAVE when the pod already has that phase and reason.
 * For BACKOFF/ABORT, *patch (optional) receives the merge patch for pods/status:
 *   {"status":{"phase":P,"reason":R,"conditions":[...],"containerStatuses":[...]}}
 * where conditions (if the pod has any) are copied with every True one turned False
 * with reason R and lastTransitionTime now, and containerStatuses (if any) are copied
 * with ready false. Otherwise *patch is NULL.
 * Returns LQ_OK (*action set); LQ_EPROTO status/metadata of the wrong JSON shape;
 * LQ_ETOOBIG arena full; LQ_EINVAL doc/pod/action NULL, or now NULL when needed. */
lq_err_t lq_forge_offload_fallback(lq_json_doc_t *doc, const lq_json_t *pod, const char *now,
                             lq_forge_offload_fallback_t *action, lq_json_t **patch);

#endif
