/* liqolet: the Service and Ingress forges (pure module; liqo-v0.8-behaviour.md §1.1, §1.4,
 * §1.5, and the allow/deny policies of Liqo >= 0.9.4, §9). No OS header, no I/O, no heap;
 * JSON only through lq_json (include/liqolet/json.h), in the caller's document.
 *
 * They plug into the slot of lq_forge_conf_build (same params and facts types; p->kind is
 * ignored): a home Service or Ingress (the bare JSON object as kube-apiserver's GET or a
 * watch event's "object" gives it) becomes the body of a server-side apply for the foreign
 * cluster, compact JSON, deterministic:
 *
 *   {"apiVersion":"v1","kind":"Service"          (Ingress: "networking.k8s.io/v1","Ingress")
 *    "metadata":{"name":<remote_name>,"namespace":<remote_ns>[,"uid":<remote_uid>],
 *                "labels":{<home labels>,"virtualkubelet.liqo.io/origin":<home_id>,
 *                          "virtualkubelet.liqo.io/destination":<foreign_id>},
 *                "annotations":{<home annotations>,"liqolet.io/home-uid":<home_uid>}},
 *    "spec":{...}}
 *
 * Labels and annotations keep the home order; the home origin / destination labels and the
 * liqolet.io/home-uid annotation are dropped (ours replace them), and for an Ingress the
 * annotation kubernetes.io/ingress.class too (§1.5). metadata.uid, written when
 * p->remote_uid is non-empty, is a precondition (the API server refuses the apply when the
 * remote object has another UID); it is left out of `hash`, so a body hashes the same with
 * and without it.
 *
 * Service spec (§1.4), members in this order, each only when the home one is present and
 * not null: type, clusterIP (only the value "None": a headless Service; otherwise the
 * foreign cluster assigns one), selector, ports, externalName, sessionAffinity,
 * externalTrafficPolicy, internalTrafficPolicy, ipFamilyPolicy, allocateLoadBalancerNodePorts,
 * loadBalancerClass, loadBalancerSourceRanges, publishNotReadyAddresses. Each port: name,
 * protocol, appProtocol, port, targetPort (number or name), nodePort:
 *   - home port without nodePort (absent, null or 0): "nodePort":0, explicitly, so a
 *     remote NodePort Service can become a ClusterIP one (Liqo does the same). Checked
 *     against kube-apiserver v1.36.3 with server-side apply (force, reflection.liqo.io):
 *     0 is the "unset" value for validation, so a ClusterIP, headless or LoadBalancer
 *     (allocateLoadBalancerNodePorts false) Service is created with it and stored without
 *     a nodePort; re-applying the same body changes nothing (same resourceVersion);
 *     NodePort -> ClusterIP with it clears the allocated ports (v1.36 also clears them when
 *     nodePort is left out; the explicit 0 is for servers that keep the old ports, as
 *     Liqo intends it: not checked here);
 *   - home port with a nodePort: copied only when the home annotation
 *     liqo.io/force-remote-node-port is exactly "true", else left out (the foreign cluster
 *     allocates its own).
 * Never copied: clusterIPs, externalIPs, loadBalancerIP, ipFamilies, sessionAffinityConfig,
 * healthCheckNodePort, status, unknown members.
 * As in Liqo, ipFamilyPolicy is copied without ipFamilies: a home RequireDualStack Service
 * is refused (422) by a foreign cluster that is not dual-stack (checked on v1.36.3).
 *
 * Ingress spec (§1.5): defaultBackend, rules, tls, in this order, member by member:
 *   backend  {service:{name, port:{name, number}}, resource:{apiGroup, kind, name}}
 *   rule     {host, http:{paths:[{path, pathType, backend}]}}
 *   tls      {hosts:[...], secretName}
 * ingressClassName is never set (the foreign default class applies); status is dropped.
 *
 * Shape checks (LQ_EPROTO): the input is one JSON object (lq_json_parse); a present "kind"
 * is "Service" / "Ingress"; metadata, spec and every object named above are objects;
 * labels, annotations and selector map to strings; metadata.uid / resourceVersion are
 * strings shorter than LQ_FORGE_CONF_UID_BUF / LQ_FORGE_CONF_RV_BUF; every copied string
 * field is a string, port / nodePort / number are integers in 0..65535, targetPort an
 * integer in that range or a string, allocateLoadBalancerNodePorts / publishNotReadyAddresses
 * booleans, ports / rules / paths / tls / hosts / loadBalancerSourceRanges arrays (of objects
 * or of strings). Members that are not copied are not checked. A string holding U+0000 (the
 * escape \u0000) is LQ_EPROTO too (lq_json refuses it). JSON null counts as absent; of a
 * duplicated member the first one counts, except annotations read for facts and for the
 * force annotation, where the last one counts (as in lq_forge_conf).
 */
#ifndef LIQOLET_FORGE_SVC_H
#define LIQOLET_FORGE_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/forge_conf.h"
#include "liqolet/json.h"

#define LQ_FORGE_SVC_ANN_FORCE_NODE_PORT "liqo.io/force-remote-node-port"
#define LQ_FORGE_SVC_ANN_INGRESS_CLASS   "kubernetes.io/ingress.class"
/* The Service never reflected (§1.1), in namespace "default". */
#define LQ_FORGE_SVC_KUBERNETES          "kubernetes"

/* Home Service in[0..n) -> apply body in out[0..cap), NUL-terminated, *len its length
 * without the NUL. doc is reset at entry and holds the parsed input and the built body
 * afterwards (valid until its next reset). out needs the body's length + 2 bytes (the NUL
 * and one byte of lq_json_print's slack); with less, LQ_ETOOBIG (out is then "" when cap >
 * 0). facts (as lq_forge_conf: uid, rv, skip/allow and their "false" values, deleting; type
 * "" and type_long false) and hash (FNV-1a 64 of the body without the metadata.uid member)
 * may be NULL; they and *len are set only on LQ_OK.
 * Returns LQ_OK; LQ_EPROTO (see the file comment; also an empty input); LQ_ETOOBIG out or
 * the arena too small; LQ_EINVAL doc, p or len NULL, in NULL with n > 0, out NULL with
 * cap > 0, a required param string NULL or empty (remote_name, remote_ns, home_id,
 * foreign_id, home_uid), remote_uid longer than LQ_FORGE_CONF_UID_BUF - 1 bytes. */
lq_err_t lq_forge_svc_build(lq_json_doc_t *doc, const lq_forge_conf_params_t *p, const char *in,
                            size_t n, char *out, size_t cap, size_t *len,
                            lq_forge_conf_facts_t *facts, uint64_t *hash);

/* The same for a home Ingress (networking.k8s.io/v1). */
lq_err_t lq_forge_ingress_build(lq_json_doc_t *doc, const lq_forge_conf_params_t *p,
                                const char *in, size_t n, char *out, size_t cap, size_t *len,
                                lq_forge_conf_facts_t *facts, uint64_t *hash);

/* False for the Service "kubernetes" in namespace "default" (never reflected, §1.1) and for
 * NULL arguments; true otherwise. (The same rule holds for its EndpointSlices, by their
 * kubernetes.io/service-name label.) */
bool lq_forge_svc_reflected(const char *ns, const char *name);

#endif
