/* The agent's Kubernetes permissions as data, and what is generated from them: RBAC
 * manifests, the docs table and the SelfSubjectAccessReview list. The admission policies
 * are in policy.c. Pure module. */
#include "liqolet/perms.h"
#include "perms_int.h"

#include <stdbool.h>
#include <string.h>

#define G LQ_PERMS_GET
#define L LQ_PERMS_LIST
#define W LQ_PERMS_WATCH
#define C LQ_PERMS_CREATE
#define U LQ_PERMS_UPDATE
#define P LQ_PERMS_PATCH
#define D LQ_PERMS_DELETE
#define READ  (G | L | W)

#define HOME    LQ_PERMS_HOME
#define FOREIGN LQ_PERMS_FOREIGN
#define CLUSTER LQ_PERMS_SCOPE_CLUSTER
#define ANY     LQ_PERMS_NAMES_ANY

/* A non-resource URL rule (group NULL): always in the ClusterRole, verb get. */
#define URL(cl, path, why) { cl, NULL, path, "", G, CLUSTER, ANY, why }

/* Order matters only for readability of the manifests and of `liqolet check`. */
static const lq_perms_rule_t perms_table[] = {
    /* --- home: the virtual node and its heartbeat ----------------------------------- */
    { HOME, "", "nodes", "", C, CLUSTER, ANY,
      "create the virtual node (a new object's name cannot be restricted)" },
    { HOME, "", "nodes", "", READ | P | D, CLUSTER, LQ_PERMS_NAMES_NODE,
      "own virtual node only: read, watch by metadata.name (re-create when deleted), "
      "server-side apply of labels and taints, cordon (liqolet unpeer), delete at teardown" },
    { HOME, "", "nodes", "status", P, CLUSTER, LQ_PERMS_NAMES_NODE,
      "own virtual node only: conditions, capacity and allocatable (server-side apply)" },
    { HOME, "coordination.k8s.io", "leases", "", C, LQ_PERMS_SCOPE_NODE_LEASE, ANY,
      "create the node Lease (heartbeat)" },
    { HOME, "coordination.k8s.io", "leases", "", G | P | D, LQ_PERMS_SCOPE_NODE_LEASE,
      LQ_PERMS_NAMES_NODE_LEASE,
      "renew the own node Lease every 10 s (server-side apply); liqolet unpeer deletes it" },
    { HOME, "coordination.k8s.io", "leases", "", C, LQ_PERMS_SCOPE_AGENT_NS, ANY,
      "create the single-instance lock Lease" },
    { HOME, "coordination.k8s.io", "leases", "", G | U | D, LQ_PERMS_SCOPE_AGENT_NS,
      LQ_PERMS_NAMES_LOCK,
      "hold the lock of the (home, foreign) pair, so a second agent for the pair waits "
      "whatever its node name; liqolet unpeer takes it over and deletes it (one name with "
      "rbacgen --foreign-id, else any Lease of this namespace: the id is known only at run "
      "time)" },
    { HOME, "coordination.k8s.io", "leases", "", G, LQ_PERMS_SCOPE_AGENT_NS,
      LQ_PERMS_NAMES_LEGACY_LOCK,
      "upgrade: wait while an agent of an earlier version holds its per-node lock" },
    /* --- home: pods bound to the virtual node ---------------------------------------- */
    { HOME, "", "pods", "", READ | P | D, CLUSTER, ANY,
      "pods bound to the virtual node, any namespace (watched by spec.nodeName): "
      "shadowPod label, delete with grace 0 and UID precondition" },
    { HOME, "", "pods", "status", P, CLUSTER, ANY,
      "copy the remote pod status home (merge patch on /status); the admission policy "
      "limits it to pods on the virtual node" },
    { HOME, "", "events", "", C | P, CLUSTER, ANY,
      "Events on home pods, ConfigMaps and Secrets: reflection results and the remote "
      "pods' own events" },
    /* --- home: namespace offloading --------------------------------------------------- */
    { HOME, "", "namespaces", "", READ | P, CLUSTER, ANY,
      "offloaded namespaces: watch them, set liqo.io/scheduling-enabled" },
    { HOME, "", "namespaces", "", G, CLUSTER, LQ_PERMS_NAMES_KUBE_SYSTEM,
      "cluster identity (the kube-system namespace UID)" },
    { HOME, "offloading.liqo.io", "namespaceoffloadings", "", READ | P, CLUSTER, ANY,
      "offloading requests in every namespace; the agent's own finalizer (merge patch)" },
    { HOME, "offloading.liqo.io", "namespaceoffloadings", "status", P, CLUSTER, ANY,
      "the agent's own key in status.remoteNamespacesConditions, and the phase" },
    /* --- home: reflection sources ----------------------------------------------------- */
    { HOME, "", "services", "", READ, CLUSTER, ANY, "reflection source: Services" },
    { HOME, "discovery.k8s.io", "endpointslices", "", READ, CLUSTER, ANY,
      "reflection source: EndpointSlices" },
    { HOME, "", "configmaps", "", READ, CLUSTER, ANY,
      "reflection source: ConfigMaps (events outside offloaded namespaces are dropped)" },
    { HOME, "", "secrets", "", READ, CLUSTER, ANY,
      "reflection source: Secrets (data is copied, never logged)" },
    { HOME, "networking.k8s.io", "ingresses", "", READ, CLUSTER, ANY,
      "reflection source: Ingresses" },
    /* --- home: the kubelet API ---------------------------------------------------------- */
    { HOME, "authorization.k8s.io", "subjectaccessreviews", "", C, CLUSTER, ANY,
      "kubelet API: authorize each caller for nodes/proxy (as a kubelet in webhook mode); "
      "the client CA comes from kube-system/extension-apiserver-authentication (ConfigMaps "
      "read above)" },
    { HOME, "certificates.k8s.io", "certificatesigningrequests", "", C | G, CLUSTER, ANY,
      "kubelet API with kubelet.certificate=CSR: request the serving certificate "
      "(signer kubernetes.io/kubelet-serving) and read it back once approved" },
    /* --- home: self checks ------------------------------------------------------------ */
    { HOME, "authorization.k8s.io", "selfsubjectaccessreviews", "", C, CLUSTER, ANY,
      "liqolet check: verify each permission of this table" },
    URL(HOME, "/version", "server version (liqolet check; the node's kubeletVersion)"),
    URL(HOME, "/apis/offloading.liqo.io",
        "which NamespaceOffloading version the home cluster serves (v1beta1, else v1alpha1); "
        "the rules above name the group, not a version, so they cover both"),
    URL(HOME, "/readyz", "home health check every 10 s (reflected endpoints are gated on it)"),

    /* --- foreign: remote namespaces ---------------------------------------------------- */
    { FOREIGN, "", "namespaces", "", READ | C | P | D, CLUSTER, ANY,
      "remote namespaces: create (labelled at creation), set the Pod Security label again "
      "when it was removed or weakened, delete when offloading ends (names are derived at "
      "run time; the admission policy limits all three to namespaces carrying the agent's "
      "labels, and a patch to raising pod-security.kubernetes.io/enforce)" },
    { FOREIGN, "", "namespaces", "", G, CLUSTER, LQ_PERMS_NAMES_KUBE_SYSTEM,
      "cluster identity (the kube-system namespace UID)" },
    /* --- foreign: reflected objects ---------------------------------------------------- */
    { FOREIGN, "", "pods", "", READ | C | P | D, CLUSTER, ANY,
      "remote pods (create + patch, delete with UID precondition); all pods' requests "
      "for the offered capacity" },
    { FOREIGN, "", "pods", "log", G, CLUSTER, ANY,
      "kubelet API: kubectl logs of offloaded pods, streamed from their remote pods" },
    { FOREIGN, "", "pods", "exec", G | C, CLUSTER, ANY,
      "kubelet API: kubectl exec (a WebSocket GET needs create too since Kubernetes 1.35)" },
    { FOREIGN, "", "pods", "attach", G | C, CLUSTER, ANY,
      "kubelet API: kubectl attach (as exec)" },
    { FOREIGN, "", "services", "", READ | C | P | D, CLUSTER, ANY,
      "reflected Services: server-side apply, watch by ownership labels, delete with UID "
      "precondition" },
    { FOREIGN, "discovery.k8s.io", "endpointslices", "", READ | C | P | D, CLUSTER, ANY,
      "reflected EndpointSlices (plain slices, our managed-by): server-side apply, watch, "
      "delete with UID precondition" },
    { FOREIGN, "", "configmaps", "", READ | C | P | D, CLUSTER, ANY,
      "reflected ConfigMaps: server-side apply (a first apply is authorised as create), "
      "watch by ownership labels, delete with UID precondition" },
    { FOREIGN, "", "secrets", "", READ | C | P | D, CLUSTER, ANY,
      "reflected Secrets: server-side apply (a first apply is authorised as create), "
      "watch by ownership labels, delete with UID precondition" },
    { FOREIGN, "networking.k8s.io", "ingresses", "", READ | C | P | D, CLUSTER, ANY,
      "reflected Ingresses: server-side apply, watch, delete with UID precondition" },
    { FOREIGN, "", "events", "", READ, CLUSTER, ANY,
      "remote pods' events, reflected onto the home pods" },
    { FOREIGN, "", "nodes", "", READ, CLUSTER, ANY,
      "capacity (allocatable of the physical nodes) and architecture" },
    /* --- foreign: self checks and health ----------------------------------------------- */
    { FOREIGN, "authorization.k8s.io", "selfsubjectaccessreviews", "", C, CLUSTER, ANY,
      "liqolet check: verify each permission of this table" },
    URL(FOREIGN, "/version", "server version (liqolet check)"),
    URL(FOREIGN, "/livez", "foreign health check every 10 s"),
    URL(FOREIGN, "/readyz", "foreign health check every 10 s"),
};

#undef G
#undef L
#undef W
#undef C
#undef U
#undef P
#undef D
#undef READ
#undef HOME
#undef FOREIGN
#undef CLUSTER
#undef ANY
#undef URL

#define TABLE_LEN (sizeof perms_table / sizeof perms_table[0])

static const char *const verb_names[LQ_PERMS_VERB_COUNT] = {
#define LQ_PERMS_VNAME_(name, text) text,
    LQ_PERMS_VERB_LIST(LQ_PERMS_VNAME_)
#undef LQ_PERMS_VNAME_
};

static const lq_perms_subject_t default_subjects[] = {
    { LQ_PERMS_SUBJECT_USER, "liqolet", NULL },
    { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, "liqolet", LQ_PERMS_DEFAULT_NAMESPACE },
};

const lq_perms_rule_t *lq_perms_table(size_t *count)
{
    if (count != NULL)
        *count = TABLE_LEN;
    return perms_table;
}

const char *lq_perms_verb_str(unsigned verb)
{
    unsigned i;

    for (i = 0; i < LQ_PERMS_VERB_COUNT; i++)
        if (verb == 1u << i)
            return verb_names[i];
    return NULL;
}

const char *lq_perms_cluster_str(lq_perms_cluster_t cluster)
{
    switch (cluster) {
    case LQ_PERMS_HOME:
        return "home";
    case LQ_PERMS_FOREIGN:
        return "foreign";
    default:
        return NULL;
    }
}

void lq_perms_params_init(lq_perms_params_t *p)
{
    p->node_name = LQ_PERMS_DEFAULT_NODE;
    p->foreign_id = NULL;
    p->home_id = NULL;
    p->namespace = LQ_PERMS_DEFAULT_NAMESPACE;
    p->pod_security = 2; /* baseline, as offloading.podSecurity */
    p->role_name = NULL;
    p->subjects = default_subjects;
    p->n_subjects = sizeof default_subjects / sizeof default_subjects[0];
}

/* ------------------------------------------------------------------------------------ */
/* Name validation                                                                      */
/* ------------------------------------------------------------------------------------ */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both ends. */
static bool label_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* DNS-1123 subdomain: 1..253, dot-separated labels. */
static bool subdomain_ok(const char *s)
{
    size_t n, start = 0, i;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n == 0 || n > LQ_PERMS_NAME_MAX)
        return false;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!label_ok(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* A label value (what a configured cluster id is): 1..63 of [A-Za-z0-9-_.]. */
static bool label_value_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 63)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

static bool namespace_ok(const char *s)
{
    return s != NULL && label_ok(s, strlen(s));
}

/* Kubernetes user names are free-form; the manifest double-quotes them and the admission
 * policies single-quote them in CEL, so anything that would need escaping is refused. */
static bool user_ok(const char *s)
{
    size_t i, n;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n == 0 || n > LQ_PERMS_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '\'')
            return false;
    }
    return true;
}

static bool subjects_ok(const lq_perms_params_t *p)
{
    size_t i;

    if (p->subjects == NULL || p->n_subjects == 0)
        return false;
    for (i = 0; i < p->n_subjects; i++) {
        const lq_perms_subject_t *s = &p->subjects[i];
        if (s->kind == LQ_PERMS_SUBJECT_USER) {
            if (!user_ok(s->name))
                return false;
        } else if (s->kind == LQ_PERMS_SUBJECT_SERVICE_ACCOUNT) {
            if (!subdomain_ok(s->name) || !namespace_ok(s->namespace))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

/* Checks the names every output needs. */
static lq_err_t params_check(lq_perms_cluster_t cluster, const lq_perms_params_t *p)
{
    if (p == NULL || lq_perms_cluster_str(cluster) == NULL)
        return LQ_EINVAL;
    if (!subdomain_ok(p->node_name) || !namespace_ok(p->namespace))
        return LQ_EINVAL;
    if (p->foreign_id != NULL && !label_value_ok(p->foreign_id))
        return LQ_EINVAL;
    if (p->home_id != NULL && !label_value_ok(p->home_id))
        return LQ_EINVAL;
    if (p->role_name != NULL && !subdomain_ok(p->role_name))
        return LQ_EINVAL;
    return LQ_OK;
}

lq_err_t lq_perms_legacy_lock_name(const char *node_name, char *buf, size_t cap, size_t *out_len)
{
    size_t pre = sizeof LQ_PERMS_LOCK_PREFIX - 1u, n;

    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || cap == 0)
        return LQ_EINVAL;
    buf[0] = '\0';
    if (!subdomain_ok(node_name))
        return LQ_EINVAL;
    n = strlen(node_name);
    if (pre + n > LQ_PERMS_NAME_MAX || pre + n >= cap)
        return LQ_ETOOBIG;
    memcpy(buf, LQ_PERMS_LOCK_PREFIX, pre);
    memcpy(buf + pre, node_name, n + 1u);
    if (out_len != NULL)
        *out_len = pre + n;
    return LQ_OK;
}

/* FNV-1a, 32 bits: tells apart ids that map to the same characters. */
static unsigned long fnv1a(const char *s)
{
    unsigned long h = 2166136261ul;
    for (; *s != '\0'; s++)
        h = ((h ^ (unsigned char)*s) * 16777619ul) & 0xfffffffful;
    return h;
}

lq_err_t lq_perms_lock_name(const char *foreign_id, char *buf, size_t cap, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t pre = sizeof LQ_PERMS_LOCK_PREFIX - 1u, n, i, len;
    bool same = true;

    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || cap == 0)
        return LQ_EINVAL;
    buf[0] = '\0';
    if (foreign_id == NULL || foreign_id[0] == '\0')
        return LQ_EINVAL;
    n = strlen(foreign_id);
    /* a UID (lowercase hex and dashes) is used as it is; anything else is lowered to
     * [a-z0-9-] and followed by a hash of the original, so that two ids never share a
     * name */
    for (i = 0; i < n; i++) {
        char c = foreign_id[i];
        if (!is_lower_alnum(c) && c != '-')
            same = false;
    }
    if (!is_lower_alnum(foreign_id[n - 1]))
        same = false;
    len = pre + n + (same ? 0u : 9u);
    if (len > LQ_PERMS_NAME_MAX || len >= cap)
        return LQ_ETOOBIG;
    memcpy(buf, LQ_PERMS_LOCK_PREFIX, pre);
    for (i = 0; i < n; i++) {
        char c = foreign_id[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        buf[pre + i] = is_lower_alnum(c) ? c : '-';
    }
    if (!same) {
        unsigned long h = fnv1a(foreign_id);
        buf[pre + n] = '-';
        for (i = 0; i < 8u; i++)
            buf[pre + n + 1u + i] = hex[(h >> (28u - 4u * i)) & 0xfu];
    }
    buf[len] = '\0';
    if (out_len != NULL)
        *out_len = len;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Output (perms_int.h)                                                                 */
/* ------------------------------------------------------------------------------------ */

void put_n(out_t *o, const char *s, size_t n)
{
    if (o->overflow)
        return;
    if (n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void put(out_t *o, const char *s)
{
    put_n(o, s, strlen(s));
}

void put3(out_t *o, const char *a, const char *b, const char *c)
{
    put(o, a);
    put(o, b);
    put(o, c);
}

lq_err_t out_finish(out_t *o, size_t *out_len)
{
    if (o->overflow) {
        o->buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    o->buf[o->len] = '\0';
    *out_len = o->len;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Names                                                                                */
/* ------------------------------------------------------------------------------------ */

/* The lock names: the pair's (when the foreign id is given) and the per-node one of
 * earlier versions. */
static lq_err_t lock_names(const lq_perms_params_t *p, names_t *nm)
{
    lq_err_t err;

    nm->lock[0] = '\0';
    if (p->foreign_id != NULL) {
        err = lq_perms_lock_name(p->foreign_id, nm->lock, sizeof nm->lock, NULL);
        if (err != LQ_OK)
            return err;
    }
    return lq_perms_legacy_lock_name(p->node_name, nm->legacy, sizeof nm->legacy, NULL);
}

static lq_err_t names_make(const lq_perms_params_t *p, names_t *nm)
{
    const char *b = p->role_name;
    size_t n;
    lq_err_t err;

    if (b != NULL) {
        n = strlen(b);
        memcpy(nm->base, b, n + 1u);
    } else {
        err = lq_perms_legacy_lock_name(p->node_name, nm->base, sizeof nm->base, &n);
        if (err != LQ_OK)
            return err;
    }
    /* the longest suffix is "-node-lease" */
    if (n + sizeof "-node-lease" - 1u > LQ_PERMS_NAME_MAX)
        return LQ_ETOOBIG;
    return lock_names(p, nm);
}

static const char *scope_suffix(lq_perms_cluster_t cluster, lq_perms_scope_t scope)
{
    switch (scope) {
    case LQ_PERMS_SCOPE_CLUSTER:
        return cluster == LQ_PERMS_HOME ? "-home" : "-foreign";
    case LQ_PERMS_SCOPE_NODE_LEASE:
        return "-node-lease";
    case LQ_PERMS_SCOPE_AGENT_NS:
        return "-lock";
    default:
        return "-?";
    }
}

static const char *scope_namespace(const lq_perms_params_t *p, lq_perms_scope_t scope)
{
    switch (scope) {
    case LQ_PERMS_SCOPE_NODE_LEASE:
        return LQ_PERMS_NODE_LEASE_NS;
    case LQ_PERMS_SCOPE_AGENT_NS:
        return p->namespace;
    default:
        return "";
    }
}

static const char *names_value(const lq_perms_params_t *p, const names_t *nm,
                               lq_perms_names_t names)
{
    switch (names) {
    case LQ_PERMS_NAMES_NODE:
    case LQ_PERMS_NAMES_NODE_LEASE:
        return p->node_name;
    case LQ_PERMS_NAMES_LOCK:
        return nm->lock;
    case LQ_PERMS_NAMES_LEGACY_LOCK:
        return nm->legacy;
    case LQ_PERMS_NAMES_KUBE_SYSTEM:
        return "kube-system";
    default:
        return "";
    }
}

static void put_verbs(out_t *o, unsigned verbs, const char *quote, const char *sep)
{
    unsigned i;
    bool first = true;

    for (i = 0; i < LQ_PERMS_VERB_COUNT; i++) {
        if ((verbs & (1u << i)) == 0)
            continue;
        if (!first)
            put(o, sep);
        put3(o, quote, verb_names[i], quote);
        first = false;
    }
}

static void put_rule_yaml(out_t *o, const lq_perms_params_t *p, const names_t *nm,
                          const lq_perms_rule_t *r)
{
    put3(o, "# ", r->why, "\n");
    if (r->group == NULL) {
        put3(o, "- nonResourceURLs: [\"", r->resource, "\"]\n");
    } else {
        put3(o, "- apiGroups: [\"", r->group, "\"]\n");
        put3(o, "  resources: [\"", r->resource, "");
        if (r->subresource[0] != '\0')
            put3(o, "/", r->subresource, "");
        put(o, "\"]\n");
        const char *nv = names_value(p, nm, r->names);
        if (r->names != LQ_PERMS_NAMES_ANY && nv[0] != '\0')
            put3(o, "  resourceNames: [\"", nv, "\"]\n");
    }
    put(o, "  verbs: [");
    put_verbs(o, r->verbs, "\"", ", ");
    put(o, "]\n");
}

static void put_meta(out_t *o, const char *kind, const char *name, const char *ns)
{
    put(o, "---\napiVersion: rbac.authorization.k8s.io/v1\n");
    put3(o, "kind: ", kind, "\nmetadata:\n");
    put3(o, "  name: \"", name, "\"\n");
    if (ns[0] != '\0')
        put3(o, "  namespace: \"", ns, "\"\n");
    put(o, "  labels:\n    app.kubernetes.io/name: liqolet\n"
           "    app.kubernetes.io/component: rbac\n");
}

static void put_role(out_t *o, lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                     const names_t *nm, lq_perms_scope_t scope)
{
    const char *ns = scope_namespace(p, scope);
    bool cluster_wide = scope == LQ_PERMS_SCOPE_CLUSTER;
    const char *suffix = scope_suffix(cluster, scope);
    char name[LQ_PERMS_NAME_MAX + 1];
    size_t i, bn = strlen(nm->base), sn = strlen(suffix);
    bool any = false;

    for (i = 0; i < TABLE_LEN; i++)
        if (perms_table[i].cluster == cluster && perms_table[i].scope == scope)
            any = true;
    if (!any)
        return;
    memcpy(name, nm->base, bn); /* names_make checked that base + suffix fit */
    memcpy(name + bn, suffix, sn + 1u);

    put_meta(o, cluster_wide ? "ClusterRole" : "Role", name, ns);
    put(o, "rules:\n");
    for (i = 0; i < TABLE_LEN; i++)
        if (perms_table[i].cluster == cluster && perms_table[i].scope == scope)
            put_rule_yaml(o, p, nm, &perms_table[i]);

    put_meta(o, cluster_wide ? "ClusterRoleBinding" : "RoleBinding", name, ns);
    put(o, "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n");
    put3(o, "  kind: ", cluster_wide ? "ClusterRole" : "Role", "\n");
    put3(o, "  name: \"", name, "\"\n");
    put(o, "subjects:\n");
    for (i = 0; i < p->n_subjects; i++) {
        const lq_perms_subject_t *s = &p->subjects[i];
        if (s->kind == LQ_PERMS_SUBJECT_USER) {
            put(o, "- apiGroup: rbac.authorization.k8s.io\n  kind: User\n");
            put3(o, "  name: \"", s->name, "\"\n");
        } else {
            put(o, "- kind: ServiceAccount\n");
            put3(o, "  name: \"", s->name, "\"\n");
            put3(o, "  namespace: \"", s->namespace, "\"\n");
        }
    }
}

/* The checks every renderer starts with: output cleared, parameters and names valid. */
lq_err_t lq_perms_render_begin_(lq_perms_cluster_t cluster, const lq_perms_params_t *p, char *buf,
                                 size_t cap, size_t *out_len, names_t *nm)
{
    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || cap == 0 || out_len == NULL)
        return LQ_EINVAL;
    buf[0] = '\0';
    lq_err_t err = params_check(cluster, p);
    if (err != LQ_OK)
        return err;
    if (!subjects_ok(p))
        return LQ_EINVAL;
    return names_make(p, nm);
}

lq_err_t lq_perms_render(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                         char *buf, size_t cap, size_t *out_len)
{
    names_t nm;
    out_t o;
    lq_err_t err;
    unsigned s;

    err = lq_perms_render_begin_(cluster, p, buf, cap, out_len, &nm);
    if (err != LQ_OK)
        return err;

    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    o.overflow = false;
    put(&o, "# Generated by tools/rbacgen from the permission table in src/kube/perms.c\n"
            "# (`make rbac`). Do not edit: change the table and regenerate.\n");
    put3(&o, "# liqolet's permissions on the ", lq_perms_cluster_str(cluster), " cluster");
    put3(&o, " for node \"", p->node_name, "\"");
    if (p->foreign_id != NULL)
        put3(&o, ", foreign cluster id \"", p->foreign_id, "\"");
    put3(&o, ", agent namespace \"", p->namespace, "\".\n");
    for (s = 0; s < LQ_PERMS_SCOPE_COUNT_; s++)
        put_role(&o, cluster, p, &nm, (lq_perms_scope_t)s);
    return out_finish(&o, out_len);
}

/* ------------------------------------------------------------------------------------ */
/* Markdown                                                                             */
/* ------------------------------------------------------------------------------------ */

static const char *md_names(lq_perms_names_t names)
{
    switch (names) {
    case LQ_PERMS_NAMES_NODE:
        return "`<node>`";
    case LQ_PERMS_NAMES_NODE_LEASE:
        return "`<node>`";
    case LQ_PERMS_NAMES_LOCK:
        return "`liqolet-<foreign id>` (any without `--foreign-id`)";
    case LQ_PERMS_NAMES_LEGACY_LOCK:
        return "`liqolet-<node>`";
    case LQ_PERMS_NAMES_KUBE_SYSTEM:
        return "`kube-system`";
    default:
        return "any";
    }
}

static const char *md_scope(lq_perms_scope_t scope)
{
    switch (scope) {
    case LQ_PERMS_SCOPE_NODE_LEASE:
        return "Role in `kube-node-lease`";
    case LQ_PERMS_SCOPE_AGENT_NS:
        return "Role in `<namespace>`";
    default:
        return "ClusterRole";
    }
}

lq_err_t lq_perms_render_markdown(char *buf, size_t cap, size_t *out_len)
{
    out_t o;
    size_t i;

    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || cap == 0 || out_len == NULL)
        return LQ_EINVAL;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    o.overflow = false;
    put(&o, "| Cluster | API group | Resource | Verbs | Granted by | Names | Why |\n"
            "|---|---|---|---|---|---|---|\n");
    for (i = 0; i < TABLE_LEN; i++) {
        const lq_perms_rule_t *r = &perms_table[i];
        put3(&o, "| ", lq_perms_cluster_str(r->cluster), " | ");
        if (r->group == NULL) {
            put3(&o, "(non-resource URL) | `", r->resource, "`");
        } else {
            put3(&o, r->group[0] != '\0' ? r->group : "core", " | `", r->resource);
            if (r->subresource[0] != '\0')
                put3(&o, "/", r->subresource, "");
            put(&o, "`");
        }
        put(&o, " | ");
        put_verbs(&o, r->verbs, "", ", ");
        put3(&o, " | ", md_scope(r->scope), " | ");
        put3(&o, md_names(r->names), " | ", r->why);
        put(&o, " |\n");
    }
    return out_finish(&o, out_len);
}

/* ------------------------------------------------------------------------------------ */
/* SelfSubjectAccessReview attributes                                                    */
/* ------------------------------------------------------------------------------------ */

lq_err_t lq_perms_for_each(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                           lq_perms_check_fn *fn, void *ctx)
{
    names_t nm;
    size_t i;
    unsigned v;
    lq_err_t err;

    if (fn == NULL)
        return LQ_EINVAL;
    err = params_check(cluster, p);
    if (err != LQ_OK)
        return err;
    err = lock_names(p, &nm);
    if (err != LQ_OK)
        return err;
    nm.base[0] = '\0';

    for (i = 0; i < TABLE_LEN; i++) {
        const lq_perms_rule_t *r = &perms_table[i];
        if (r->cluster != cluster)
            continue;
        for (v = 0; v < LQ_PERMS_VERB_COUNT; v++) {
            lq_perms_check_t chk;
            if ((r->verbs & (1u << v)) == 0)
                continue;
            chk.rule = r;
            chk.verb = verb_names[v];
            chk.group = r->group;
            chk.resource = r->group == NULL ? NULL : r->resource;
            chk.subresource = r->subresource;
            chk.namespace = scope_namespace(p, r->scope);
            chk.name = names_value(p, &nm, r->names);
            chk.path = r->group == NULL ? r->resource : NULL;
            err = fn(&chk, ctx);
            if (err != LQ_OK)
                return err;
        }
    }
    return LQ_OK;
}
