/* liqolet: the EndpointSlice forge (pure module; liqo-v0.8-behaviour.md §1.1, §1.9, §2.6 in
 * External Network mode, the allow/deny policies of Liqo >= 0.9.4, §5/§9, and DESIGN.md
 * Decisions 4, 5, 17). No OS header, no I/O, no heap: JSON goes through lq_json in the
 * caller's document.
 *
 * It turns a home EndpointSlice (the bare JSON object as kube-apiserver's GET or a watch
 * event's "object" gives it) into the body of a server-side apply of a plain EndpointSlice
 * in the foreign cluster (no ShadowEndpointSlice: a vanilla provider has no controller for
 * it), compact JSON, always in this order:
 *
 *   {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 *    "metadata":{"name":<remote_name>,"namespace":<remote_ns>,
 *                "labels":{<home labels>,
 *                          "endpointslice.kubernetes.io/managed-by":LQ_FORGE_EPS_MANAGED_BY,
 *                          "virtualkubelet.liqo.io/origin":<home_id>,
 *                          "virtualkubelet.liqo.io/destination":<foreign_id>},
 *                "annotations":{<home annotations>,"liqolet.io/home-uid":<home_uid>},
 *                "uid":<remote_uid>},                  (only when remote_uid is non-empty)
 *    "addressType":<as is>,
 *    "endpoints":[<kept endpoints>],                  (always written, maybe [])
 *    "ports":<as is>}                                 (only when the home slice has ports)
 *
 * Labels: the home labels in input order (kubernetes.io/service-name among them, so the
 * slice attaches to the reflected remote Service), without the home's own managed-by,
 * origin and destination (ours replace them, at the end). Annotations: the home ones in
 * input order without liqolet.io/home-uid, then ours. A key the input repeats is written
 * once, where it first stands, with its last value (what a Go decoder keeps).
 * labels and annotations are always written (maybe with only ours).
 *
 * Endpoints (§1.9 on plain EndpointSlices, External Network): an endpoint whose nodeName is
 * vnode_name is dropped (its pod runs remotely; the foreign cluster's own controller lists
 * the remote copy for the remote Service). Every other endpoint, nodeless ones included,
 * is written as
 *   {"addresses":<as is>,                            (no translation: External Network)
 *    "conditions":{"ready":<home_ready && ready is not false>},
 *    "hostname":<as is>,"zone":<as is>,"hints":<as is>,     (each only when present)
 *    "nodeName":<home_name>,
 *    "targetRef":<as is, kind prefixed "Remote">}    (only when present)
 * serving, terminating and every other endpoint member (deprecatedTopology, ...) are
 * dropped. ready is always written: an unset ready counts as ready (the Kubernetes rule,
 * and what Liqo's ShadowEndpointSlice controller writes on a healthy peering), and every
 * endpoint is not ready while the home cluster is not (Liqo gates readiness on peering
 * health). A targetRef without a kind keeps none (nothing to prefix). A slice whose
 * endpoints all drop is still written with "endpoints":[] so the remote Service has a
 * slice. The input's top-level apiVersion, kind, and everything but metadata,
 * addressType, endpoints and ports are ignored; of metadata only labels, annotations,
 * name, namespace (for `kubernetes_default`), uid, resourceVersion and deletionTimestamp
 * are read.
 *
 * JSON null counts as absent everywhere. Member lookups find the first member of a name.
 *
 * Seen on kube-apiserver 1.36 (server-side apply, force, as liqolet's foreign identity):
 * these bodies are accepted (the goldens of tests/vectors/forge/eps included); a uid
 * precondition that does not match is refused with 422 Invalid ("metadata.uid: field is
 * immutable"), not 409; the stored slice has "endpoints":null for our [], "ports":null
 * for none, and "name":"" for a port without one (compare intents, not read-backs); and
 * kube-controller-manager's EndpointSlice controller leaves a slice with our managed-by
 * alone (one with its own value is deleted within seconds).
 *
 * Hash: FNV-1a 64 over the output bytes without the uid member (a precondition, not
 * content: the same intent hashes the same before and after the remote object exists), as
 * lq_forge_conf_build does. It depends only on params and the input.
 */
#ifndef LIQOLET_FORGE_EPS_H
#define LIQOLET_FORGE_EPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/forge_conf.h"
#include "liqolet/json.h"

/* Our managed-by value: the foreign EndpointSlice controller (and the mirroring controller)
 * leave slices with another value alone. */
#define LQ_FORGE_EPS_MANAGED_BY       "endpointslice.reflection.liqolet.io"
#define LQ_FORGE_EPS_LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define LQ_FORGE_EPS_LABEL_SERVICE    "kubernetes.io/service-name"
#define LQ_FORGE_EPS_REMOTE_PREFIX    "Remote" /* prefixed to targetRef.kind */
#define LQ_FORGE_EPS_SERVICE_BUF      254u /* label kubernetes.io/service-name, incl. NUL */
#define LQ_FORGE_EPS_KIND_MAX         250u /* longest targetRef.kind accepted (bytes) */

typedef struct lq_forge_eps_params {
    lq_forge_conf_params_t base;   /* remote_name, remote_ns, home_id, foreign_id, home_uid
                                      (required, non-empty); remote_uid optional (a
                                      precondition, outside the hash); kind is ignored */
    const char *vnode_name;        /* endpoints on this node are dropped (their pods run
                                      remotely); required, non-empty */
    const char *home_name;         /* the home cluster name: written as each kept endpoint's
                                      nodeName; required, non-empty */
    bool home_ready;               /* false: every kept endpoint is written ready=false */
} lq_forge_eps_params_t;

typedef struct lq_forge_eps_facts {
    lq_forge_conf_facts_t base;    /* uid, rv, skip/allow (the last of a repeated annotation
                                      counts), deleting; type "" and type_long false */
    char service[LQ_FORGE_EPS_SERVICE_BUF]; /* label kubernetes.io/service-name ("" none) */
    bool managed_by_us;            /* the input already carries our managed-by (a remote
                                      slice read back, or another agent's reflected copy) */
    bool kubernetes_default;       /* metadata.namespace is "default" and the name or the
                                      service-name label is "kubernetes": the API server's
                                      own slice, never reflected (§1.1) */
    uint32_t endpoints_in, endpoints_out; /* endpoints in the input / written */
} lq_forge_eps_facts_t;

/* Forges the remote body of the home slice in[0..n) into out[0..cap) (compact, NUL-
 * terminated; *len its length without the NUL). doc is reset at entry and holds the parsed
 * input and the built body afterwards (the caller resets it whenever it likes; its arena
 * must hold both). out needs the body's length + 2 bytes (lq_json_print's slack).
 * *facts (optional) is zeroed at entry and is complete only on LQ_OK; *hash (optional) is
 * set only on LQ_OK.
 * Returns:
 *   LQ_OK       the body is in out.
 *   LQ_EPROTO   the input is not a JSON object (or holds a \u0000 escape, which lq_json
 *               cannot hold); metadata, labels, annotations not objects; a label or
 *               annotation value not a string (null included); metadata.uid or
 *               resourceVersion not a string, or longer than the facts' buffers; the
 *               service-name label longer than LQ_FORGE_EPS_SERVICE_BUF - 1; addressType
 *               missing or not a string; endpoints not an array of objects; an
 *               endpoint's addresses missing or not an array of strings; conditions not
 *               an object or ready not a boolean; hostname, zone or nodeName not a
 *               string; hints or targetRef not an object; targetRef.kind not a string or
 *               longer than LQ_FORGE_EPS_KIND_MAX; ports not an array of objects. Every
 *               endpoint is checked, dropped ones too.
 *   LQ_ETOOBIG  doc's arena or out is too small (nothing useful in out then).
 *   LQ_EINVAL   doc, p, len NULL; in NULL with n > 0; out NULL with cap > 0; a required
 *               parameter NULL or empty. */
lq_err_t lq_forge_eps_build(lq_json_doc_t *doc, const lq_forge_eps_params_t *p, const char *in,
                            size_t n, char *out, size_t cap, size_t *len,
                            lq_forge_eps_facts_t *facts, uint64_t *hash);

/* The gated body of one of our remote copies, for while the home cluster cannot be reached
 * (Liqo gates the readiness of reflected endpoints on peering health; the home slice cannot
 * be read then, so the copy itself is the input). in[0..n) is the remote slice as the
 * foreign API server returns it (uid, managedFields and the other server fields are
 * ignored); the body has the layout of lq_forge_eps_build's with:
 *   labels/annotations: the copy's own, ours replaced from p (as for a home slice);
 *   endpoints: every one kept (no node filter), each written as lq_forge_eps_build writes
 *              it but with "ready":false, nodeName and targetRef copied as they are (they
 *              are already translated), "endpoints":null read as [];
 *   addressType, ports: as they are.
 * Applying it changes only the conditions of a copy we wrote; applying the normal forge
 * when the home cluster is back restores them. p->home_ready is ignored. The hash is
 * computed as lq_forge_eps_build's (without the uid), so it differs from the hash of the
 * ungated body whenever some endpoint was ready. Errors as lq_forge_eps_build. */
lq_err_t lq_forge_eps_gate(lq_json_doc_t *doc, const lq_forge_eps_params_t *p, const char *in,
                           size_t n, char *out, size_t cap, size_t *len, uint64_t *hash);

/* Should a home slice be reflected? False for NULL slice, an unknown policy, the API
 * server's own slice (kubernetes_default) and a slice that already carries our
 * managed-by (written by a liqolet: reflecting it again would echo endpoints back). Else
 * the slice's own annotation wins (DENYLIST: liqo.io/skip-reflection present; ALLOWLIST:
 * liqo.io/allow-reflection present; its value "false" flips it, as lq_forge_conf_wanted);
 * without it, the Service's decision under the same policy applies (lq_forge_conf_wanted on
 * `service`); with no Service known (NULL: no service-name label, or the Service is not in
 * the store) the policy's default: reflect under DENYLIST, not under ALLOWLIST. */
bool lq_forge_eps_wanted(const lq_forge_eps_facts_t *slice, const lq_forge_conf_facts_t *service,
                         lq_forge_conf_policy_t pol);

#endif
