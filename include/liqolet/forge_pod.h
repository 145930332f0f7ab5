/* liqolet: the pod forge (pure module; liqo-v0.8-behaviour.md §1.1, §1.3, §2.1 to §2.6, and
 * DESIGN.md Decisions 4 and 5). No OS header, no I/O, no clock, no heap, no logging.
 *
 * JSON comes in as lq_json_t items (borrowed, from any document) and goes out as items
 * built in the caller's document (valid until its reset). A builder that fails leaves what
 * it had built in the arena; lq_json_reset() reclaims it. Nothing is ever truncated: a
 * document that does not fit in the arena is LQ_ETOOBIG.
 *
 *   lq_forge_pod_remote             home Pod -> the Pod to create in the foreign cluster
 *   lq_forge_pod_remote_meta_patch  labels/annotations drift of an existing remote Pod
 *   lq_forge_pod_home_label_patch   liqo.io/shadowPod=true on the home Pod (remote-unavailable off)
 *   lq_forge_pod_unavailable_patch  remote-unavailable label and Ready=False during an outage
 *   lq_forge_pod_aborted            was the home Pod's offloading aborted?
 *   lq_forge_pod_status_patch       remote Pod status -> merge patch of the home pods/status
 *   lq_forge_pod_restarts_infer     restart offset estimated after an agent restart
 *   lq_forge_pod_restarts_track     restart offset bookkeeping across remote re-creations
 *   lq_forge_pod_owner              is a remote Pod ours, and for which home Pod?
 *   lq_forge_pod_recreate_allowed   may a vanished remote Pod be created again?
 *   lq_forge_pod_root_ca_name       the remote name of the home kube-root-ca.crt ConfigMap
 *   lq_forge_pod_hash               64-bit hash of any JSON item (last applied intent)
 *   lq_forge_pod_patch_noop         would a merge patch change nothing on this object?
 *
 * The remote object is a plain Pod (no ShadowPod; any vanilla cluster can be the provider).
 * It carries, beside the home Pod's labels and annotations:
 *   labels      virtualkubelet.liqo.io/origin=<home cluster id>
 *               virtualkubelet.liqo.io/destination=<foreign cluster id>
 *               (compat v1: offloading.liqo.io/origin, offloading.liqo.io/destination and
 *               offloading.liqo.io/nodename=<virtual node>; include/liqolet/liqo.h)
 *   annotation  liqolet.io/home-pod-uid=<home Pod metadata.uid>
 * Its name is the home Pod's name, in the caller's remote namespace. After a restart the
 * agent lists the remote Pods by the origin label; lq_forge_pod_owner() then tells, for each,
 * whether it belongs to the current home Pod of that name (adopt), to an earlier home Pod of
 * the same name (stale: delete it with its UID precondition, then create), or to someone else
 * (leave it alone, FailedReflection). So no duplicate and no orphan survives a restart.
 *
 * Service-account tokens and the home API server (§2.2 to §2.4). liqolet has no token
 * reflection yet, so the forge behaves as Liqo's "Disabled" API-server-support mode:
 *   - projected serviceAccountToken sources are removed from every projected volume (the
 *     rest of the kube-api-access-* volume, i.e. the CA ConfigMap and the namespace
 *     downwardAPI item, stays);
 *   - a projected configMap source named kube-root-ca.crt is renamed to
 *     params->root_ca_name when the caller gives one (what Liqo does, so it reads the home
 *     CA that the ConfigMap reflector writes under that name), otherwise it is kept and the
 *     pod reads the foreign cluster's own CA; a plain configMap volume
 *     (volumes[].configMap.name) named kube-root-ca.crt is renamed the same way (Liqo v0.8
 *     leaves those alone, so such a pod would mount the foreign cluster's CA, not the home
 *     one its projected sources get);
 *   - no KUBERNETES_* environment variables and no kubernetes.default hostAlias are added,
 *     and env vars that read spec.serviceAccountName are left alone (§2.4 applies only when
 *     the mode is not Disabled).
 * Together with automountServiceAccountToken=false and no serviceAccountName, the remote pod
 * runs under the foreign namespace's default ServiceAccount with no token mounted.
 */
#ifndef LIQOLET_FORGE_POD_H
#define LIQOLET_FORGE_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/forge_conf.h"
#include "liqolet/json.h"
#include "liqolet/liqo.h"

/* Labels and annotations. */
#define LQ_FORGE_POD_ANN_HOME_UID       "liqolet.io/home-pod-uid"
/* The toleration key removed from the remote pod (the virtual node's taint). */
#define LQ_FORGE_POD_VNODE_TOLERATION   "virtual-node.liqo.io/not-allowed"
/* The root CA ConfigMap and its remote name (§1.6), as the ConfigMap forge has them. */
#define LQ_FORGE_POD_ROOT_CA            LQ_FORGE_CONF_ROOT_CA
#define LQ_FORGE_POD_ROOT_CA_ID_CHARS   LQ_FORGE_CONF_ROOT_CA_ID_CHARS
#define LQ_FORGE_POD_ROOT_CA_BUF        LQ_FORGE_CONF_ROOT_CA_BUF
/* The field manager of the agent's pod writes: the API server takes it from the
 * User-Agent ("liqolet/<version>") when a request names none. The remote Pod's
 * managedFields entries of this manager tell which labels and annotations are ours. */
#define LQ_FORGE_POD_FIELD_MANAGER      "liqolet"
/* Ready condition reason while the foreign cluster is unreachable. */
#define LQ_FORGE_POD_REASON_UNAVAILABLE "RemoteUnavailable"
/* status.reason of a pod whose offloading was aborted (Liqo §3.6). */
#define LQ_FORGE_POD_REASON_ABORTED     "OffloadingAborted"
/* A buffer for a metadata.uid (a UUID is 36 characters). */
#define LQ_FORGE_POD_UID_BUF            40u

/* ---- home Pod -> remote Pod (§1.1, §1.3, §2.1, §2.3) -------------------------------- */

typedef struct lq_forge_pod_remote_params {
    const char *remote_ns;     /* namespace in the foreign cluster (required, non-empty) */
    const char *home_id;       /* home cluster id: the origin label (required, non-empty) */
    const char *foreign_id;    /* foreign cluster id: the destination label (required) */
    const char *root_ca_name;  /* remote name of kube-root-ca.crt (lq_forge_pod_root_ca_name)
                                  or NULL to keep projected sources of it unchanged */
    const char *node_name;     /* the virtual node: the nodename label of the v1 family
                                  (required, non-empty, when lq_liqo_names()->nodename) */
} lq_forge_pod_remote_params_t;

/* Builds in doc the Pod to create in the foreign cluster from the home Pod `home`:
 *
 *   {"apiVersion":"v1","kind":"Pod",
 *    "metadata":{"name":<home name>,"namespace":<remote_ns>,"labels":{...},"annotations":{...}},
 *    "spec":{...}}
 *
 * metadata: labels = the home labels without liqo.io/shadowPod and without any ownership
 *   label of either family (lq_liqo_is_own_label), then the family in use (lq_liqo_names):
 *   origin=<home_id>, destination=<foreign_id>, and in v1 nodename=<node_name>;
 *   annotations = the home annotations (any liqolet.io/home-pod-uid of its own replaced),
 *   then liqolet.io/home-pod-uid=<home metadata.uid>. Nothing else of the home metadata
 *   (uid, resourceVersion, generateName, ownerReferences, finalizers, ...) is copied.
 * spec, in this order, only when present in the home spec (JSON null = absent):
 *   volumes (projected sources and configMap volumes mutated as the file comment says),
 *   initContainers, containers, restartPolicy, terminationGracePeriodSeconds,
 *   activeDeadlineSeconds, dnsPolicy; then always automountServiceAccountToken=false,
 *   hostNetwork=false, hostPID=false, hostIPC=false; then shareProcessNamespace, securityContext,
 *   imagePullSecrets, hostname, subdomain, affinity (anti-affinity presets only, below),
 *   tolerations (every toleration whose key is virtual-node.liqo.io/not-allowed removed;
 *   the member is left out when none remains), hostAliases, dnsConfig, readinessGates,
 *   enableServiceLinks, topologySpreadConstraints, setHostnameAsFQDN.
 *   Everything else is dropped: nodeName, nodeSelector, affinity, schedulerName, priority,
 *   priorityClassName, preemptionPolicy, serviceAccountName, serviceAccount,
 *   runtimeClassName, overhead, ephemeralContainers, os, hostUsers, schedulingGates,
 *   resourceClaims, and any field this list does not name.
 * Anti-affinity presets (annotation liqo.io/anti-affinity-preset):
 *   "propagate"  affinity = {"podAntiAffinity": <the home one>} (nothing if it has none);
 *   "soft"       one preferredDuringSchedulingIgnoredDuringExecution term, weight 1;
 *   "hard"       one requiredDuringSchedulingIgnoredDuringExecution term;
 *   soft and hard use topologyKey kubernetes.io/hostname and labelSelector.matchLabels built
 *   from the home labels without liqo.io/shadowPod: when liqo.io/anti-affinity-labels is a
 *   non-empty string, only the comma-separated keys it lists (spaces around a key are
 *   ignored; unknown keys are skipped), otherwise every label except
 *   controller-revision-hash, pod-template-hash and statefulset.kubernetes.io/pod-name.
 *   (An empty matchLabels selects every pod of the namespace, as in Liqo.) Any other value
 *   sets no affinity.
 * The spec is meant for creation only: Liqo never changes it afterwards (§1.3).
 * Returns:
 *   LQ_OK       *out set.
 *   LQ_EPROTO   the home Pod has the wrong shape: not an object; metadata.name or
 *               metadata.uid missing, empty or not a string; labels/annotations not an
 *               object of strings; spec missing or not an object; containers missing, empty
 *               or not an array of objects; a copied member of the wrong JSON type (arrays:
 *               volumes, initContainers, imagePullSecrets, tolerations, hostAliases,
 *               readinessGates, topologySpreadConstraints; objects: securityContext,
 *               dnsConfig; strings: restartPolicy, dnsPolicy, hostname, subdomain;
 *               integers: terminationGracePeriodSeconds, activeDeadlineSeconds; booleans:
 *               shareProcessNamespace, enableServiceLinks, setHostnameAsFQDN); elements of
 *               volumes, initContainers or tolerations that are not objects; a projected
 *               volume whose sources is not an array of objects; with "propagate", an
 *               affinity or podAntiAffinity that is not an object.
 *   LQ_ETOOBIG  doc's arena is full.
 *   LQ_EINVAL   doc, home, params, out NULL, a required parameter NULL or empty, or
 *               root_ca_name "". */
lq_err_t lq_forge_pod_remote(lq_json_doc_t *doc, const lq_json_t *home,
                             const lq_forge_pod_remote_params_t *params, lq_json_t **out);

/* Merge patch that brings the labels and annotations of an existing remote Pod `remote` in
 * line with what lq_forge_pod_remote would give for `home` now (§1.3: the spec is frozen,
 * metadata follows the home Pod):
 *   {"metadata":{"uid":<remote uid>,"labels":{k:v,...},"annotations":{k:v,...}}}
 * listing the keys whose value is missing or different on the remote Pod, and as null the
 * keys to remove (labels or annotations left out when nothing differs). The uid makes the
 * API server refuse the patch if the Pod was replaced meanwhile. A key the remote Pod has
 * and the home Pod does not is removed only when the remote Pod's managedFields give it
 * to LQ_FORGE_POD_FIELD_MANAGER (f:metadata.f:labels / f:annotations of an entry of that
 * manager with fieldsType FieldsV1): the agent put it there. The foreign cluster's own
 * admission plugins, CNI and controllers write labels and annotations on pods too, under
 * their own managers, and those stay (Liqo gets the same from server-side apply on the
 * ShadowPod). managedFields of another shape remove nothing. liqo.io/remote-unavailable
 * is never copied (a home-side mark).
 * *patch is NULL when nothing differs. Returns LQ_OK; LQ_EPROTO as lq_forge_pod_remote for
 * home's metadata, or the remote Pod's metadata, labels or annotations have the wrong
 * shape, or it has no uid; LQ_ETOOBIG arena full; LQ_EINVAL an argument NULL. */
lq_err_t lq_forge_pod_remote_meta_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                        const lq_json_t *remote,
                                        const lq_forge_pod_remote_params_t *params,
                                        lq_json_t **patch);

/* Merge patch for the home Pod of a remote Pod that is ours and reachable (§1.3, Local
 * marking):
 *   {"metadata":{"uid":<home uid>,"labels":{"liqo.io/shadowPod":"true",
 *                                           "liqo.io/remote-unavailable":null}}}
 * with only the members needed: shadowPod when it is not "true", the null when the
 * remote-unavailable label is there (whatever its value). *patch is NULL when nothing is
 * needed. Returns LQ_OK; LQ_EPROTO metadata, uid or labels of the wrong shape (uid missing
 * included); LQ_ETOOBIG; LQ_EINVAL NULL args. */
lq_err_t lq_forge_pod_home_label_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                       lq_json_t **patch);

/* While the foreign cluster cannot be reached (Liqo 0.9.4+): for a home Pod labelled
 * liqo.io/shadowPod=true (one that runs remotely; others get nothing),
 *   *meta_patch   {"metadata":{"uid":<home uid>,"labels":{"liqo.io/remote-unavailable":"true"}}}
 *                 NULL when the label is already "true";
 *   *status_patch {"metadata":{"uid":<home uid>},"status":{"conditions":[...]}}: the home
 *                 conditions (a merge patch replaces the whole list) with Ready set to
 *                 status False, reason RemoteUnavailable, `message`, lastTransitionTime
 *                 `now` (a Ready condition appended when there is none); NULL when Ready is
 *                 already False (whoever said so: the node lifecycle controller marks the
 *                 pods of a NotReady node too).
 * The home Pod's Services stop routing to it; lq_forge_pod_home_label_patch and the next
 * status patch from the remote Pod undo both once the cluster answers.
 * Returns LQ_OK; LQ_EPROTO metadata as lq_forge_pod_home_label_patch, status or conditions
 * not an object / array of objects; LQ_ETOOBIG; LQ_EINVAL NULL args or now empty. */
lq_err_t lq_forge_pod_unavailable_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                        const char *now, const char *message,
                                        lq_json_t **meta_patch, lq_json_t **status_patch);

/* True when the home Pod's offloading was aborted: status.phase Failed and status.reason
 * OffloadingAborted (§1.3: such a pod is never offloaded again). */
bool lq_forge_pod_aborted(const lq_json_t *home);

/* ---- remote Pod status -> home status (§2.5, §2.6) ---------------------------------- */

typedef struct lq_forge_pod_status_params {
    const char *node_ip;   /* the virtual node's IP: hostIP and hostIPs (required) */
    bool reflect_ips;      /* networking.reflectIPs; false: podIP/podIPs blanked */
    int32_t restarts;      /* remote re-creations to add to each containerStatuses[i]
                              .restartCount (>= 0; see lq_forge_pod_restarts_track) */
} lq_forge_pod_status_params_t;

/* Merge patch for the home Pod's status subresource, from the remote Pod `remote`:
 *
 *   {"metadata":{"uid":<home uid>},"status":{phase, conditions, message, reason,
 *    nominatedNodeName, hostIP, hostIPs, podIP, podIPs, startTime, initContainerStatuses,
 *    containerStatuses, qosClass, ephemeralContainerStatuses}}
 *
 * Each member is the remote status's, copied as it is, or null (remove it) when the remote
 * status has none, so the home status becomes the remote one field by field (Liqo replaces
 * the whole status). Exceptions:
 *   - phase and qosClass are never nulled (left out instead): the API server always sets
 *     both, and qosClass must not change;
 *   - hostIP = node_ip and hostIPs = [{"ip":node_ip}] (the API server requires
 *     hostIPs[0] == hostIP);
 *   - podIP: with reflect_ips and a non-empty remote podIP (networking.internal=false: no
 *     remapping), podIP = it and podIPs = [{"ip":it}] (one item, dual-stack is lost, as in
 *     Liqo); otherwise both null, i.e. podIP "" and podIPs [];
 *   - containerStatuses[i].restartCount += restarts (saturating at INT32_MAX; an absent
 *     count counts as 0); init and ephemeral container counts are not changed;
 *   - a remote reason "OffloadingAborted" is not copied (null): that reason is the home
 *     side's verdict (lq_forge_pod_aborted), and a foreign cluster must not be able to
 *     make a pod "never offloaded again".
 * Fields not named above (resize, resourceClaimStatuses, observedGeneration, ...) are left
 * as they are on the home Pod. The metadata.uid makes the API server refuse the patch if the
 * home Pod was replaced by another of the same name.
 * Returns LQ_OK (*patch set); LQ_EPROTO the home Pod has no uid, or the remote Pod or its
 * status has the wrong shape (status not an object, a named member of the wrong type,
 * a containerStatuses element not an object or with a non-integer restartCount);
 * LQ_ETOOBIG arena full; LQ_EINVAL NULL args, node_ip NULL/empty or restarts < 0. */
lq_err_t lq_forge_pod_status_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                   const lq_json_t *remote,
                                   const lq_forge_pod_status_params_t *params, lq_json_t **patch);

/* ---- restart counts (§2.5) ------------------------------------------------------------ */

/* The restart offset to assume when the agent does not know the remote Pod yet (after a
 * restart of the agent), as Liqo estimates it: the home Pod's first containerStatuses
 * entry's restartCount minus the restartCount of the remote entry with the same name, when
 * that is positive; otherwise (no home statuses, no such remote entry, or a difference
 * <= 0) 0. Returns LQ_OK (*offset set); LQ_EPROTO statuses of the wrong shape; LQ_EINVAL
 * NULL args. */
lq_err_t lq_forge_pod_restarts_infer(const lq_json_t *home, const lq_json_t *remote,
                                     int32_t *offset);

/* The per-Pod bookkeeping of the restart offset. The reconciler keeps one per home Pod
 * (zero-initialised: remote_uid "" and offset 0), and forgets it with the Pod. */
typedef struct lq_forge_pod_restarts {
    char remote_uid[LQ_FORGE_POD_UID_BUF]; /* the remote Pod last seen; "" none yet */
    int32_t offset;                        /* pass as lq_forge_pod_status_params_t.restarts */
} lq_forge_pod_restarts_t;

/* Updates *st with the remote Pod `remote` before its status is reflected:
 *   - first remote Pod seen (remote_uid ""): offset = lq_forge_pod_restarts_infer();
 *   - another remote uid than the last one (the remote Pod was re-created): offset + 1
 *     (saturating);
 *   - the same uid: nothing changes.
 * *changed (optional) tells whether offset changed. On error *st is unchanged.
 * Returns LQ_OK; LQ_EPROTO remote has no metadata.uid string (or statuses of the wrong
 * shape); LQ_ETOOBIG the uid does not fit in remote_uid; LQ_EINVAL NULL args. */
lq_err_t lq_forge_pod_restarts_track(lq_forge_pod_restarts_t *st, const lq_json_t *home,
                                     const lq_json_t *remote, bool *changed);

/* ---- ownership and lifecycle (§1.1, §1.3) ---------------------------------------------- */

typedef enum lq_forge_pod_owner {
    LQ_FORGE_POD_NOT_OURS = 0, /* labels do not match this pair: never touch it */
    LQ_FORGE_POD_OURS,         /* ours, for this home Pod (home_uid NULL: labels only) */
    LQ_FORGE_POD_STALE,        /* ours, but made for another home Pod of the same name */
    LQ_FORGE_POD_UNTAGGED,     /* ours by the labels, without liqolet.io/home-pod-uid
                                  (not made by liqolet; Liqo would adopt it) */
} lq_forge_pod_owner_t;

/* Classifies the remote Pod `remote` (borrowed) for the pair (home_id, foreign_id): both
 * ownership labels must be equal to them, else NOT_OURS (also for NULL arguments or a
 * malformed object). With home_uid non-NULL, the annotation liqolet.io/home-pod-uid decides
 * between OURS (equal), STALE (different) and UNTAGGED (absent). */
lq_forge_pod_owner_t lq_forge_pod_owner(const lq_json_t *remote, const char *home_id,
                                        const char *foreign_id, const char *home_uid);

/* Whether a remote Pod that vanished while the home Pod `home` still exists may be created
 * again (§1.3, the provider's shadowpod controller): not when spec.restartPolicy is Never
 * and status.phase (reflected from the remote Pod) is Succeeded or Failed, nor when it is
 * OnFailure and the phase is Succeeded; otherwise yes (restartPolicy defaults to Always).
 * Returns LQ_OK (*allowed set); LQ_EPROTO restartPolicy or phase not strings; LQ_EINVAL
 * NULL args. */
lq_err_t lq_forge_pod_recreate_allowed(const lq_json_t *home, bool *allowed);

/* "kube-root-ca.crt." followed by the first 5 characters of home_id (all of it when
 * shorter), into out[0..cap) with a NUL (lq_forge_conf_remote_name of the root CA).
 * Returns LQ_OK; LQ_ETOOBIG cap too small (out ""); LQ_EINVAL NULL args, cap 0 or home_id
 * empty. LQ_FORGE_POD_ROOT_CA_BUF always suffices. */
lq_err_t lq_forge_pod_root_ca_name(const char *home_id, char *out, size_t cap);

/* ---- change detection (Decision 4) ------------------------------------------------------ */

/* 64-bit FNV-1a hash of a JSON item: types, member names and order, string bytes,
 * booleans and numbers (by their printed text) all count; NULL (absent) has a hash of its
 * own. Two items that print the same hash the same. The reconciler stores the hash of the
 * last patch it applied and skips an identical one. Cannot fail. */
uint64_t lq_forge_pod_hash(const lq_json_t *item);

/* True when applying the JSON merge patch `patch` (RFC 7386) to `target` would leave it
 * unchanged: every non-null member of patch equals target's (objects recursively, arrays
 * and scalars as wholes, object member order ignored), and every null member is absent or
 * null in target. Numbers compare by value when both are integers, else by printed text.
 * NULL patch: true. Lets a level-based reconciler skip a write after a restart, when no
 * hash is remembered. */
bool lq_forge_pod_patch_noop(const lq_json_t *target, const lq_json_t *patch);

#endif
