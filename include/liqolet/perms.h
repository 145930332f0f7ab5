/* liqolet: every Kubernetes permission the agent needs, as data (pure module).
 *
 * One table lists each permission per cluster (home, foreign): API group, resource and
 * subresource (or a non-resource URL), verbs, where it is granted (a ClusterRole, or a
 * Role in kube-node-lease or in the agent's namespace), which object names it is
 * limited to (resourceNames) and why the agent needs it. From that table come:
 *   - the RBAC manifests (lq_perms_render; tools/rbacgen writes deploy/rbac/{home,foreign}.yaml),
 *   - the admission policies that confine the same identity where RBAC cannot
 *     (lq_perms_render_policy; deploy/rbac/{home,foreign}-policy.yaml),
 *   - the permission table of docs/rbac.md (lq_perms_render_markdown),
 *   - the SelfSubjectAccessReviews of `liqolet check` (lq_perms_for_each),
 * so the code, the manifests and the checks cannot drift apart.
 *
 * resourceNames follow the Kubernetes RBAC rules: never on create or deletecollection
 * (the name is not known, or there is none, at authorization time); on list and watch
 * they authorise only requests with the field selector metadata.name=<that name>, so
 * the agent lists and watches its own Node that way.
 *
 * Usage:
 *     lq_perms_params_t p;
 *     lq_perms_params_init(&p);
 *     p.node_name = "liqo-edge1";
 *     err = lq_perms_render(LQ_PERMS_HOME, &p, buf, sizeof buf, &len);
 *     err = lq_perms_for_each(LQ_PERMS_FOREIGN, &p, one_ssar, ctx);
 */
#ifndef LIQOLET_PERMS_H
#define LIQOLET_PERMS_H

#include <stddef.h>

#include "liqolet/err.h"

/* Longest object name the generator accepts (a DNS-1123 subdomain). */
#define LQ_PERMS_NAME_MAX 253u
/* Defaults of the committed manifests (deploy/rbac/). */
#define LQ_PERMS_DEFAULT_NODE      "liqo-foreign"
#define LQ_PERMS_DEFAULT_NAMESPACE "liqo"
#define LQ_PERMS_NODE_LEASE_NS     "kube-node-lease"
/* The single-instance lock Lease is "liqolet-<foreign cluster id>" in the agent's
 * namespace (one agent per (home, foreign) pair: the Lease lives in the home cluster);
 * earlier versions named it "liqolet-<node name>". */
#define LQ_PERMS_LOCK_PREFIX       "liqolet-"

typedef enum lq_perms_cluster {
    LQ_PERMS_HOME,
    LQ_PERMS_FOREIGN,
    LQ_PERMS_CLUSTER_COUNT_
} lq_perms_cluster_t;

/* Verbs as bits; names and bits come from one list. */
#define LQ_PERMS_VERB_LIST(X)                     \
    X(LQ_PERMS_GET,              "get")           \
    X(LQ_PERMS_LIST,             "list")          \
    X(LQ_PERMS_WATCH,            "watch")         \
    X(LQ_PERMS_CREATE,           "create")        \
    X(LQ_PERMS_UPDATE,           "update")        \
    X(LQ_PERMS_PATCH,            "patch")         \
    X(LQ_PERMS_DELETE,           "delete")        \
    X(LQ_PERMS_DELETECOLLECTION, "deletecollection")

enum lq_perms_verb_index {
#define LQ_PERMS_VIDX_(name, text) name##_IDX_,
    LQ_PERMS_VERB_LIST(LQ_PERMS_VIDX_)
#undef LQ_PERMS_VIDX_
    LQ_PERMS_VERB_COUNT
};

enum lq_perms_verb {
#define LQ_PERMS_VBIT_(name, text) name = 1u << name##_IDX_,
    LQ_PERMS_VERB_LIST(LQ_PERMS_VBIT_)
#undef LQ_PERMS_VBIT_
    LQ_PERMS_VERBS_ALL_ = (1u << LQ_PERMS_VERB_COUNT) - 1u
};

/* Where a permission is granted. */
typedef enum lq_perms_scope {
    LQ_PERMS_SCOPE_CLUSTER,     /* ClusterRole + ClusterRoleBinding: all namespaces */
    LQ_PERMS_SCOPE_NODE_LEASE,  /* Role + RoleBinding in kube-node-lease */
    LQ_PERMS_SCOPE_AGENT_NS,    /* Role + RoleBinding in the agent's namespace */
    LQ_PERMS_SCOPE_COUNT_
} lq_perms_scope_t;

/* Which object names a permission is limited to (resourceNames). */
typedef enum lq_perms_names {
    LQ_PERMS_NAMES_ANY,         /* no resourceNames */
    LQ_PERMS_NAMES_NODE,        /* the agent's virtual Node */
    LQ_PERMS_NAMES_NODE_LEASE,  /* its Lease in kube-node-lease (named after the node) */
    LQ_PERMS_NAMES_LOCK,        /* the pair's lock Lease, lq_perms_lock_name(); no
                                 * resourceNames when the foreign id is not given */
    LQ_PERMS_NAMES_LEGACY_LOCK, /* the per-node lock of earlier versions */
    LQ_PERMS_NAMES_KUBE_SYSTEM, /* the kube-system Namespace (cluster identity = its UID) */
    LQ_PERMS_NAMES_COUNT_
} lq_perms_names_t;

/* One row of the table. Static data, never modified. */
typedef struct lq_perms_rule {
    lq_perms_cluster_t cluster;
    const char *group;          /* API group, "" = core; NULL = non-resource URL rule */
    const char *resource;       /* plural ("pods"), or the URL ("/version") when group is NULL */
    const char *subresource;    /* "status", or "" */
    unsigned verbs;             /* LQ_PERMS_GET | ... */
    lq_perms_scope_t scope;
    lq_perms_names_t names;
    const char *why;            /* one line, for docs/rbac.md and check's explanations */
} lq_perms_rule_t;

typedef enum lq_perms_subject_kind {
    LQ_PERMS_SUBJECT_USER,            /* e.g. the CN of a client certificate */
    LQ_PERMS_SUBJECT_SERVICE_ACCOUNT
} lq_perms_subject_kind_t;

typedef struct lq_perms_subject {
    lq_perms_subject_kind_t kind;
    const char *name;
    const char *namespace;      /* service accounts only */
} lq_perms_subject_t;

/* Inputs of the renderer and of the check iterator. All strings are borrowed for the
 * duration of the call. */
typedef struct lq_perms_params {
    const char *node_name;      /* the virtual node (and its lease); DNS-1123 subdomain */
    const char *foreign_id;     /* the foreign cluster id (a label value), naming the lock
                                 * Lease; NULL = not known when generating: the lock rule
                                 * then covers any Lease of the agent's namespace */
    const char *home_id;        /* the home cluster id (a label value): the admission
                                 * policies then require origin=<home_id> on foreign
                                 * objects; NULL = any non-empty origin */
    const char *namespace;      /* the agent's namespace (lock lease); DNS-1123 label */
    unsigned pod_security;      /* the agent's offloading.podSecurity (0 none, 1 privileged,
                                 * 2 baseline, 3 restricted): the foreign namespace policy
                                 * requires at least this level on the namespaces the agent
                                 * creates; default 2 (the agent's default) */
    const char *role_name;      /* base name of the roles and bindings; NULL =
                                 * "liqolet-<node_name>" */
    const lq_perms_subject_t *subjects;  /* bound to every role; n_subjects >= 1 */
    size_t n_subjects;
} lq_perms_params_t;

/* One SelfSubjectAccessReview's resourceAttributes (or nonResourceAttributes when
 * path != NULL). Views valid only during the callback. */
typedef struct lq_perms_check {
    const lq_perms_rule_t *rule; /* the row this check comes from (its `why`) */
    const char *verb;
    const char *group;          /* "" core; NULL for a non-resource URL */
    const char *resource;       /* NULL for a non-resource URL */
    const char *subresource;    /* "" when none */
    const char *namespace;      /* "" = cluster-scoped or all namespaces */
    const char *name;           /* "" = any name */
    const char *path;           /* non-resource URL, else NULL */
} lq_perms_check_t;

/* Called once per (row, verb). Returning anything but LQ_OK stops the iteration and
 * lq_perms_for_each returns that value. */
typedef lq_err_t lq_perms_check_fn(const lq_perms_check_t *chk, void *ctx);

/* The table: *count receives the number of rows (may be NULL). Never NULL. */
const lq_perms_rule_t *lq_perms_table(size_t *count);

/* Name of a single verb bit ("get"); NULL when `verb` is not exactly one known bit. */
const char *lq_perms_verb_str(unsigned verb);

/* "home" / "foreign"; NULL for an unknown value. */
const char *lq_perms_cluster_str(lq_perms_cluster_t cluster);

/* Fills *p with the defaults of the committed manifests: node "liqo-foreign", namespace
 * "liqo", role_name NULL, subjects User "liqolet" and ServiceAccount liqo/liqolet.
 * Cannot fail (p must not be NULL). */
void lq_perms_params_init(lq_perms_params_t *p);

/* The lock Lease name of the pair whose foreign cluster id is foreign_id (the Lease lives
 * in the home cluster, so the home half of the pair is the cluster that holds it):
 * "liqolet-<foreign_id>" when the id is lowercase alphanumerics and dashes (a UID);
 * otherwise the id lowered to [a-z0-9-] followed by "-" and 8 hex digits of a hash of the
 * original, so distinct ids keep distinct names. NUL-terminated into buf.
 * Returns LQ_OK; LQ_EINVAL for NULL/empty arguments or cap 0; LQ_ETOOBIG when the result
 * exceeds LQ_PERMS_NAME_MAX or does not fit cap (buf is then ""). out_len may be NULL. */
lq_err_t lq_perms_lock_name(const char *foreign_id, char *buf, size_t cap, size_t *out_len);

/* The per-node lock name of earlier versions, "liqolet-<node_name>" (also the base of the
 * default role names). Returns LQ_OK; LQ_EINVAL for NULL arguments or a node name that
 * is not a DNS-1123 subdomain; LQ_ETOOBIG when the result exceeds LQ_PERMS_NAME_MAX or
 * does not fit cap (buf is then the empty string). out_len may be NULL. */
lq_err_t lq_perms_legacy_lock_name(const char *node_name, char *buf, size_t cap, size_t *out_len);

/* Writes the RBAC manifest (multi-document YAML: ClusterRole/Role and their bindings)
 * of one cluster into buf, NUL-terminated; *out_len = bytes written without the NUL.
 * Returns LQ_OK;
 *         LQ_EINVAL for NULL arguments, an unknown cluster, no subjects, or a name that
 *           is not valid for Kubernetes (node/role: DNS-1123 subdomain; namespaces: DNS-1123
 *           label; user: 1..253 printable ASCII characters without '"' or '\\'; service
 *           account: subdomain);
 *         LQ_ETOOBIG when a derived name exceeds LQ_PERMS_NAME_MAX, or the output does
 *           not fit cap (buf then holds the empty string, never a truncated manifest). */
lq_err_t lq_perms_render(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                         char *buf, size_t cap, size_t *out_len);

/* Writes the ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) of one cluster
 * and their bindings (validationActions Deny), NUL-terminated into buf. They match only
 * requests of the subjects of p (request.userInfo.username: the user names, and
 * system:serviceaccount:<ns>:<name>) and confine them:
 *   home:    Node and Lease creates only under the agent's names (the node; its
 *            node Lease; in its namespace liqolet-<foreign id>, or any liqolet-* name
 *            without p->foreign_id); pod and pods/status writes and pod deletes only on pods bound to
 *            p->node_name; namespace updates change only liqo.io/scheduling-enabled
 *            (value "true") and the liqolet.liqo.io/remote.* mark label and annotation;
 *            Events only about the reflected kinds, in their own namespace, reported by
 *            instance "liqolet"; NamespaceOffloading updates change only finalizers;
 *            CertificateSigningRequests only for signer kubernetes.io/kubelet-serving.
 *   foreign: Pod, Service, EndpointSlice, ConfigMap, Secret and Ingress writes only in
 *            namespaces carrying the ownership labels (origin and destination, of either
 *            label family), never in kube-system, kube-public, kube-node-lease, default, and
 *            only on objects that carry those labels before and after the write; Namespace
 *            create/update/delete only with those labels; exec/attach only in such
 *            namespaces.
 * The origin must equal p->home_id and the destination p->foreign_id when given, else
 * any non-empty value. Names: "<role base>-<policy>" (see lq_perms_params_t.role_name).
 * Same returns as lq_perms_render (user names must not contain '\'' either: they
 * become CEL string literals). */
lq_err_t lq_perms_render_policy(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                                char *buf, size_t cap, size_t *out_len);

/* Writes the Markdown permission table of both clusters (names shown symbolically:
 * `<node>`, `<namespace>`, ...) into buf, NUL-terminated. Same returns as
 * lq_perms_render (LQ_EINVAL only for NULL arguments). */
lq_err_t lq_perms_render_markdown(char *buf, size_t cap, size_t *out_len);

/* Calls fn once per (row, verb) of `cluster`, in table order, with the attributes of
 * the SelfSubjectAccessReview that proves that permission for params p.
 * Returns LQ_OK after the last call; LQ_EINVAL for NULL fn/p, an unknown cluster or
 * invalid names (as lq_perms_render; subjects are not used and may be absent);
 * LQ_ETOOBIG for a too-long lock name; or the first non-LQ_OK value fn returned. */
lq_err_t lq_perms_for_each(lq_perms_cluster_t cluster, const lq_perms_params_t *p,
                           lq_perms_check_fn *fn, void *ctx);

#endif
