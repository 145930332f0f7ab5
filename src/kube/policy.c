/* ValidatingAdmissionPolicies that confine the agent's identities further than RBAC can
 * (docs/rbac.md): written by hand in CEL, not derived from the permission table, and
 * rendered with the output helpers of perms.c. Pure module. */
#include "perms_int.h"

#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* ValidatingAdmissionPolicies                                                          */
/* ------------------------------------------------------------------------------------ */

/* RBAC cannot look inside objects; these policies do, for the agent's identity only.
 * Every value written into CEL was validated above (node: DNS-1123 subdomain; ids: label
 * values; users: no quotes or backslashes), so single quotes delimit them safely. */

/* Namespaces that are never the agent's on a foreign cluster, whatever their labels. */
#define POL_SYSTEM_NS "['kube-system', 'kube-public', 'kube-node-lease', 'default']"
/* Kinds of the home objects the agent writes Events about (reflect/mirror.c, pods.c). */
#define POL_EVENT_KINDS "['Pod', 'ConfigMap', 'Secret', 'Service', 'EndpointSlice', 'Ingress']"

static void pol_meta(out_t *o, const char *kind, const char *base, const char *suffix)
{
    put(o, "apiVersion: admissionregistration.k8s.io/v1\n");
    put3(o, "kind: ", kind, "\nmetadata:\n");
    put3(o, "  name: \"", base, suffix);
    put(o, "\"\n  labels:\n    app.kubernetes.io/name: liqolet\n"
           "    app.kubernetes.io/component: admission-policy\n");
}

/* One resource rule of matchConstraints (resources: a YAML flow list body). */
static void pol_rule(out_t *o, const char *group, const char *resources, const char *operations)
{
    put3(o, "    - apiGroups: [\"", group, "\"]\n      apiVersions: [\"*\"]\n");
    put3(o, "      resources: [", resources, "]\n");
    put3(o, "      operations: [", operations, "]\n");
}

/* The policy head: name, failure policy, the first resource rule; pol_match follows
 * (after any further pol_rule). */
static void pol_begin(out_t *o, const char *base, const char *suffix, const char *group,
                      const char *resources, const char *operations)
{
    pol_meta(o, "ValidatingAdmissionPolicy", base, suffix);
    put(o, "spec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n");
    pol_rule(o, group, resources, operations);
}

/* The match on the agent's user names. */
static void pol_match(out_t *o, const lq_perms_params_t *p)
{
    size_t i;

    put(o, "  matchConditions:\n  - name: liqolet-identity\n"
           "    expression: \"request.userInfo.username in [");
    for (i = 0; i < p->n_subjects; i++) {
        const lq_perms_subject_t *s = &p->subjects[i];
        put(o, i > 0 ? ", '" : "'");
        if (s->kind == LQ_PERMS_SUBJECT_SERVICE_ACCOUNT)
            put3(o, "system:serviceaccount:", s->namespace, ":");
        put3(o, s->name, "'", "");
    }
    put(o, "]\"\n");
}

static void pol_var(out_t *o, const char *name, const char *expr)
{
    put3(o, "  - name: ", name, "\n");
    put3(o, "    expression: \"", expr, "\"\n");
}

/* One validation: the expression is written as given followed by `tail` (may be ""). */
static void pol_check(out_t *o, const char *expr, const char *tail, const char *message)
{
    put3(o, "  - expression: \"", expr, tail);
    put3(o, "\"\n    reason: Forbidden\n    message: \"", message, "\"\n");
}

static void pol_binding(out_t *o, const char *base, const char *suffix)
{
    put(o, "---\n");
    pol_meta(o, "ValidatingAdmissionPolicyBinding", base, suffix);
    put3(o, "spec:\n  policyName: \"", base, suffix);
    put(o, "\"\n  validationActions: [Deny]\n");
}

/* CEL: the labels map `m` carries the agent's ownership labels of one family. */
static void pol_owned_family(out_t *o, const char *m, const char *origin, const char *dest,
                             const lq_perms_params_t *p)
{
    put3(o, "('", origin, "' in ");
    put3(o, m, " && ", m);
    put3(o, "['", origin, "'] ");
    if (p->home_id != NULL)
        put3(o, "== '", p->home_id, "'");
    else
        put(o, "!= ''");
    put3(o, " && '", dest, "' in ");
    put3(o, m, " && ", m);
    put3(o, "['", dest, "'] ");
    if (p->foreign_id != NULL)
        put3(o, "== '", p->foreign_id, "'");
    else
        put(o, "!= ''");
    put(o, ")");
}

/* CEL: the labels map `m` carries the ownership labels of Liqo v0.8 or of Liqo v1. */
static void pol_owned(out_t *o, const char *m, const lq_perms_params_t *p)
{
    pol_owned_family(o, m, "virtualkubelet.liqo.io/origin", "virtualkubelet.liqo.io/destination", p);
    put(o, " || ");
    pol_owned_family(o, m, "offloading.liqo.io/origin", "offloading.liqo.io/destination", p);
}

/* A variable holding "the labels carry the ownership labels". */
static void pol_owned_var(out_t *o, const char *name, const char *labels,
                          const lq_perms_params_t *p)
{
    put3(o, "  - name: ", name, "\n    expression: \"");
    pol_owned(o, labels, p);
    put(o, "\"\n");
}

static void pol_owner_note(out_t *o, const lq_perms_params_t *p)
{
    put(o, "# Ownership labels: origin ");
    put(o, p->home_id != NULL ? "= " : "non-empty");
    if (p->home_id != NULL)
        put(o, p->home_id);
    put(o, ", destination ");
    put(o, p->foreign_id != NULL ? "= " : "non-empty");
    if (p->foreign_id != NULL)
        put(o, p->foreign_id);
    put(o, " (virtualkubelet.liqo.io/* or offloading.liqo.io/*).\n");
}

static void policy_home(out_t *o, const lq_perms_params_t *p, const names_t *nm)
{
    const char *base = nm->base;

    /* create: RBAC cannot name a new object; admission can */
    put(o, "---\n# Nodes and Leases: created only under the agent's own names.\n");
    pol_begin(o, base, "-home-create", "", "\"nodes\"", "\"CREATE\"");
    pol_rule(o, "coordination.k8s.io", "\"leases\"", "\"CREATE\"");
    pol_match(o, p);
    put(o, "  validations:\n");
    put3(o, "  - expression: \"request.resource.resource != 'nodes' || object.metadata.name == '",
         p->node_name, "'\"\n");
    put3(o, "    reason: Forbidden\n    message: \"liqolet creates only its virtual node ",
         p->node_name, "\"\n");
    put3(o, "  - expression: \"request.resource.resource != 'leases' || (request.namespace == '"
            LQ_PERMS_NODE_LEASE_NS "' ? object.metadata.name == '", p->node_name, "' : ");
    if (nm->lock[0] != '\0')
        put3(o, "object.metadata.name == '", nm->lock, "')\"\n");
    else
        put(o, "object.metadata.name.startsWith('" LQ_PERMS_LOCK_PREFIX "'))\"\n");
    put(o, "    reason: Forbidden\n    message: \"liqolet creates only its node Lease and "
           "its lock Lease\"\n");
    pol_binding(o, base, "-home-create");

    /* pods: the virtual node's only (RBAC cannot select by spec.nodeName) */
    put(o, "---\n# Pods: label patches, status patches and deletes only on pods bound to the virtual node.\n");
    pol_begin(o, base, "-home-pods", "", "\"pods\", \"pods/status\"", "\"UPDATE\", \"DELETE\"");
    pol_match(o, p);
    put(o, "  validations:\n");
    put3(o, "  - expression: \"oldObject.spec.?nodeName.orValue('') == '", p->node_name, "'\"\n");
    put3(o, "    reason: Forbidden\n    message: \"liqolet may write only pods bound to its "
            "virtual node ", p->node_name, "\"\n");
    pol_binding(o, base, "-home-pods");

    /* namespaces: the agent's own labels only */
    put(o, "---\n# Namespaces: only liqo.io/scheduling-enabled=true and the agent's mark "
           "liqolet.liqo.io/remote.* change.\n");
    pol_begin(o, base, "-home-namespaces", "", "\"namespaces\"", "\"UPDATE\"");
    pol_match(o, p);
    put(o, "  variables:\n");
    pol_var(o, "oldL", "oldObject.metadata.?labels.orValue({})");
    pol_var(o, "newL", "object.metadata.?labels.orValue({})");
    pol_var(o, "oldA", "oldObject.metadata.?annotations.orValue({})");
    pol_var(o, "newA", "object.metadata.?annotations.orValue({})");
    put(o, "  validations:\n");
    pol_check(o, "variables.oldL.all(k, k == 'liqo.io/scheduling-enabled' || "
                 "k.startsWith('liqolet.liqo.io/remote.') || (k in variables.newL && "
                 "variables.newL[k] == variables.oldL[k])) && variables.newL.all(k, "
                 "k == 'liqo.io/scheduling-enabled' || k.startsWith('liqolet.liqo.io/remote.') "
                 "|| k in variables.oldL)", "",
              "liqolet may change only the labels liqo.io/scheduling-enabled and "
              "liqolet.liqo.io/remote.* of a namespace");
    pol_check(o, "variables.oldA.all(k, k.startsWith('liqolet.liqo.io/remote.') || "
                 "(k in variables.newA && variables.newA[k] == variables.oldA[k])) && "
                 "variables.newA.all(k, k.startsWith('liqolet.liqo.io/remote.') || "
                 "k in variables.oldA)", "",
              "liqolet may change only the annotations liqolet.liqo.io/remote.* of a namespace");
    pol_check(o, "!('liqo.io/scheduling-enabled' in variables.newL) || "
                 "variables.newL['liqo.io/scheduling-enabled'] == 'true'", "",
              "liqo.io/scheduling-enabled is set to true or removed");
    pol_check(o, "object.metadata.?finalizers.orValue([]) == "
                 "oldObject.metadata.?finalizers.orValue([]) && "
                 "object.metadata.?ownerReferences.orValue([]) == "
                 "oldObject.metadata.?ownerReferences.orValue([]) && "
                 "object.?spec.?finalizers.orValue([]) == oldObject.?spec.?finalizers.orValue([])",
              "", "liqolet may not change a namespace's finalizers or owners");
    pol_binding(o, base, "-home-namespaces");

    /* events: about the reflected kinds, in their own namespace, reported by liqolet */
    put(o, "---\n# Events: only about the kinds the agent reflects, in their own namespace, "
           "as reporting instance liqolet.\n");
    pol_begin(o, base, "-home-events", "", "\"events\"", "\"CREATE\", \"UPDATE\"");
    pol_match(o, p);
    put(o, "  validations:\n");
    pol_check(o, "object.involvedObject.?kind.orValue('') in " POL_EVENT_KINDS, "",
              "liqolet reports events only about pods and the objects it reflects");
    pol_check(o, "object.involvedObject.?namespace.orValue('') == request.namespace", "",
              "an event of liqolet lives in the namespace of its object");
    pol_check(o, "object.?reportingInstance.orValue('') == 'liqolet'", "",
              "liqolet's events name reportingInstance liqolet");
    pol_binding(o, base, "-home-events");

    /* NamespaceOffloadings: finalizer only (status is a subresource of its own) */
    put(o, "---\n# NamespaceOffloadings: the main resource only gains or loses a finalizer.\n");
    pol_begin(o, base, "-home-offloadings", "offloading.liqo.io", "\"namespaceoffloadings\"",
              "\"UPDATE\"");
    pol_match(o, p);
    put(o, "  validations:\n");
    pol_check(o, "has(object.spec) == has(oldObject.spec) && (!has(object.spec) || "
                 "object.spec == oldObject.spec) && object.metadata.?labels.orValue({}) == "
                 "oldObject.metadata.?labels.orValue({}) && "
                 "object.metadata.?annotations.orValue({}) == "
                 "oldObject.metadata.?annotations.orValue({})", "",
              "liqolet changes only the finalizers of a NamespaceOffloading");
    pol_binding(o, base, "-home-offloadings");

    /* CSRs: the kubelet serving certificate only */
    put(o, "---\n# CertificateSigningRequests: the kubelet serving certificate only.\n");
    pol_begin(o, base, "-home-csr", "certificates.k8s.io", "\"certificatesigningrequests\"",
              "\"CREATE\"");
    pol_match(o, p);
    put(o, "  validations:\n");
    pol_check(o, "object.spec.signerName == 'kubernetes.io/kubelet-serving'", "",
              "liqolet requests only kubelet serving certificates");
    pol_binding(o, base, "-home-csr");
}

static void policy_foreign(out_t *o, const lq_perms_params_t *p, const char *base)
{
    pol_owner_note(o, p);
    /* reflected objects: in the agent's namespaces, carrying its labels */
    put(o, "---\n# Reflected objects: only in the agent's remote namespaces, only objects carrying "
           "its labels\n# before and after the write.\n");
    pol_begin(o, base, "-foreign-objects", "",
              "\"pods\", \"services\", \"configmaps\", \"secrets\"",
              "\"CREATE\", \"UPDATE\", \"DELETE\"");
    pol_rule(o, "discovery.k8s.io", "\"endpointslices\"", "\"CREATE\", \"UPDATE\", \"DELETE\"");
    pol_rule(o, "networking.k8s.io", "\"ingresses\"", "\"CREATE\", \"UPDATE\", \"DELETE\"");
    pol_match(o, p);
    put(o, "  variables:\n");
    pol_var(o, "nsL", "namespaceObject.metadata.?labels.orValue({})");
    pol_var(o, "newL", "(request.operation == 'DELETE' ? oldObject : object).metadata.?labels.orValue({})");
    pol_var(o, "oldL", "(request.operation == 'CREATE' ? object : oldObject).metadata.?labels.orValue({})");
    pol_owned_var(o, "nsOwned", "variables.nsL", p);
    pol_owned_var(o, "newOwned", "variables.newL", p);
    pol_owned_var(o, "oldOwned", "variables.oldL", p);
    put(o, "  validations:\n");
    pol_check(o, "!(request.namespace in " POL_SYSTEM_NS ")", "",
              "liqolet never writes in the foreign cluster's system namespaces");
    pol_check(o, "variables.nsOwned", "",
              "liqolet writes only in the remote namespaces it labelled");
    pol_check(o, "variables.newOwned && variables.oldOwned", "",
              "liqolet writes only objects that carry its ownership labels");
    pol_binding(o, base, "-foreign-objects");

    /* remote namespaces */
    put(o, "---\n# Namespaces: created with the agent's labels; updated and deleted only when they "
           "carry them.\n");
    pol_begin(o, base, "-foreign-namespaces", "", "\"namespaces\"",
              "\"CREATE\", \"UPDATE\", \"DELETE\"");
    pol_match(o, p);
    put(o, "  variables:\n");
    pol_var(o, "newL", "(request.operation == 'DELETE' ? oldObject : object).metadata.?labels.orValue({})");
    pol_var(o, "oldL", "(request.operation == 'CREATE' ? object : oldObject).metadata.?labels.orValue({})");
    pol_owned_var(o, "newOwned", "variables.newL", p);
    pol_owned_var(o, "oldOwned", "variables.oldL", p);
    /* Pod Security (docs/security.md): the level as a rank, 0 = no or unknown label */
#define POL_PSA "'pod-security.kubernetes.io/enforce'"
#define POL_RANK(m) "(" m "[?" POL_PSA "].orValue('') == 'restricted' ? 3 : " m "[?" POL_PSA \
    "].orValue('') == 'baseline' ? 2 : " m "[?" POL_PSA "].orValue('') == 'privileged' ? 1 : 0)"
    pol_var(o, "newPsa", POL_RANK("variables.newL"));
    pol_var(o, "oldPsa", POL_RANK("variables.oldL"));
    put(o, "  validations:\n");
    pol_check(o, "!(request.name in " POL_SYSTEM_NS ")", "",
              "liqolet never touches the foreign cluster's system namespaces");
    pol_check(o, "variables.newOwned && variables.oldOwned", "",
              "liqolet creates, changes and deletes only namespaces carrying its labels");
    {
        char min[2] = { (char)('0' + (p->pod_security <= 3u ? p->pod_security : 3u)), '\0' };
        pol_check(o, "request.operation != 'CREATE' || variables.newPsa >= ", min,
                  "liqolet creates remote namespaces with at least its Pod Security level");
    }
    pol_check(o, "request.operation != 'UPDATE' || (variables.newPsa >= variables.oldPsa && "
                 "variables.newL.all(k, k == " POL_PSA " || (k in variables.oldL && "
                 "variables.oldL[k] == variables.newL[k])) && variables.oldL.all(k, k == " POL_PSA
                 " || k in variables.newL) && object.metadata.?annotations.orValue({}) == "
                 "oldObject.metadata.?annotations.orValue({}))", "",
              "liqolet changes a remote namespace only to raise its Pod Security level");
#undef POL_RANK
#undef POL_PSA
    pol_binding(o, base, "-foreign-namespaces");

    /* the kubelet API: exec and attach into the agent's pods only */
    put(o, "---\n# kubectl exec/attach: only into pods of the agent's remote namespaces.\n");
    pol_begin(o, base, "-foreign-connect", "", "\"pods/exec\", \"pods/attach\"", "\"CONNECT\"");
    pol_match(o, p);
    put(o, "  variables:\n");
    pol_var(o, "nsL", "namespaceObject.metadata.?labels.orValue({})");
    pol_owned_var(o, "nsOwned", "variables.nsL", p);
    put(o, "  validations:\n");
    pol_check(o, "!(request.namespace in " POL_SYSTEM_NS ") && variables.nsOwned", "",
              "liqolet execs and attaches only into its remote namespaces");
    pol_binding(o, base, "-foreign-connect");
}

lq_err_t lq_perms_render_policy(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                                char *buf, size_t cap, size_t *out_len)
{
    names_t nm;
    out_t o;
    lq_err_t err;

    err = lq_perms_render_begin_(cluster, p, buf, cap, out_len, &nm);
    if (err != LQ_OK)
        return err;
    /* the longest suffix is "-foreign-namespaces" */
    if (strlen(nm.base) + sizeof "-foreign-namespaces" - 1u > LQ_PERMS_NAME_MAX)
        return LQ_ETOOBIG;

    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    o.overflow = false;
    put(&o, "# Generated by tools/rbacgen (`make rbac`) from src/kube/policy.c. Do not edit.\n");
    put3(&o, "# ValidatingAdmissionPolicies confining liqolet on the ", lq_perms_cluster_str(cluster),
         " cluster");
    put3(&o, " (node \"", p->node_name, "\").\n# They match only liqolet's identities "
         "and narrow what its RBAC grants (Kubernetes >= 1.30; docs/rbac.md).\n");
    if (cluster == LQ_PERMS_HOME)
        policy_home(&o, p, &nm);
    else
        policy_foreign(&o, p, nm.base);
    return out_finish(&o, out_len);
}
