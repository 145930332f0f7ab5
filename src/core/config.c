/* liqolet: the configuration of `liqolet run`; see include/liqolet/config.h.
 * Pure apart from lq_config_parse_args reading the --config file through the port. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/config.h"
#include "liqolet/names.h"
#include "liqolet/port.h"

#define F(field) offsetof(lq_config_t, field), sizeof(((lq_config_t *)0)->field)
#define L(field, count)                                                                  \
    offsetof(lq_config_t, field), sizeof(((lq_config_t *)0)->field[0]),                  \
        offsetof(lq_config_t, count),                                                    \
        sizeof(((lq_config_t *)0)->field) / sizeof(((lq_config_t *)0)->field[0])

#define LOG_LEVELS "error|warn|info|debug|trace"
#define LOG_FORMATS "plain|json"
#define OFFLOAD_MAPPINGS "DefaultName|EnforceSameName"
#define POD_SECURITY_LEVELS "none|privileged|baseline|restricted"
#define REFLECTION_TYPES "DenyList|AllowList"
#define LQ_STR_(x) #x
#define LQ_STR(x) LQ_STR_(x)
#define MGMT_DEFAULT "[::1]:5683,127.0.0.1:5683"
#define KUBELET_CERTS "SelfSigned|CSR"
#define COMPATS "v0.8|v1"

/* The one table. Order = order of --help, of the docs and of the effective line. */
static const lq_config_opt_t opts[] = {
    { "--home-kubeconfig", "cluster.home.kubeconfig", "FILE", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_NONE, NULL, 0, 0, true, "in-cluster credentials",
      "Kubeconfig of the home (consumer) cluster, where the virtual node appears.",
      F(home.kubeconfig), 0, 0 },
    { "--home-context", "cluster.home.context", "NAME", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_NONE, NULL, 0, 0, true, "the file's current context",
      "Context to use in the home kubeconfig.", F(home.context), 0, 0 },
    { "--home-cluster-id", "cluster.home.id", "ID", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_LABEL_VALUE, NULL, 0, 0, true, "UID of home's kube-system namespace",
      "Cluster id of the home cluster (a label value).", F(home.id), 0, 0 },
    { "--home-cluster-name", "cluster.home.name", "NAME", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_DNS_LABEL, NULL, 0, 0, true, "derived from the home cluster id",
      "Cluster name of the home cluster (a DNS-1123 label); used in remote namespace "
      "names.", F(home.name), 0, 0 },
    { "--foreign-kubeconfig", "cluster.foreign.kubeconfig", "FILE", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_NONE, NULL, 0, 0, true, "$KUBECONFIG, else ~/.kube/config",
      "Kubeconfig of the foreign (provider) cluster, where offloaded pods run.",
      F(foreign.kubeconfig), 0, 0 },
    { "--foreign-context", "cluster.foreign.context", "NAME", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_NONE, NULL, 0, 0, true, "the file's current context",
      "Context to use in the foreign kubeconfig.", F(foreign.context), 0, 0 },
    { "--foreign-cluster-id", "cluster.foreign.id", "ID", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_LABEL_VALUE, NULL, 0, 0, true, "UID of foreign's kube-system namespace",
      "Cluster id of the foreign cluster (a label value).", F(foreign.id), 0, 0 },
    { "--foreign-cluster-name", "cluster.foreign.name", "NAME", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_DNS_LABEL, NULL, 0, 0, true, "derived from the foreign cluster id",
      "Cluster name of the foreign cluster (a DNS-1123 label).", F(foreign.name), 0, 0 },
    { "--node-name", "node.name", "NAME", LQ_CONFIG_T_STRING, LQ_CONFIG_C_DNS_SUBDOMAIN,
      NULL, 0, 0, true, "liqo-<foreign cluster name>",
      "Name of the virtual node in the home cluster (a DNS-1123 subdomain).",
      F(node_name), 0, 0 },
    { "--node-ip", "node.ip", "IP", LQ_CONFIG_T_STRING, LQ_CONFIG_C_IP, NULL, 0, 0, true,
      "local address of the home API connection; if loopback, the default route's",
      "InternalIP address reported by the virtual node (IPv4 or IPv6): every offloaded "
      "pod's hostIP and where the kubelet API listens. Without it: the local address of "
      "the connection to the home API server, or, when that is loopback (k3s and microk8s "
      "kubeconfigs say https://127.0.0.1:6443), the address of the default route's "
      "interface; loopback only when set here.", F(node_ip), 0,
      0 },
    { "--node-label", "node.labels", "KEY=VALUE", LQ_CONFIG_T_KV_LIST,
      LQ_CONFIG_C_LABEL_KV, NULL, 0, 0, false, "none",
      "Extra label of the virtual node (repeatable); NamespaceOffloading "
      "clusterSelectors match these.", L(node_labels, n_node_labels) },
    { "--node-annotation", "node.annotations", "KEY=VALUE", LQ_CONFIG_T_KV_LIST,
      LQ_CONFIG_C_ANNOTATION_KV, NULL, 0, 0, false, "none",
      "Extra annotation of the virtual node (repeatable).",
      L(node_annotations, n_node_annotations) },
    { "--sharing-percentage", "node.sharingPercentage", "PERCENT", LQ_CONFIG_T_INT,
      LQ_CONFIG_C_NONE, NULL, 1, 100, false, "90",
      "Share of the foreign cluster's free resources offered as the node's capacity.",
      F(sharing_percentage), 0, 0 },
    { "--max-pods", "node.maxPods", "N", LQ_CONFIG_T_INT, LQ_CONFIG_C_NONE, NULL, 1,
      LQ_MAX_PODS, false, LQ_STR(LQ_MAX_PODS),
      "Most pods the agent reflects at once (its pod table; the default is this build's "
      "table size). The node's pods capacity is capped at it; pods beyond it (e.g. bound "
      "with spec.nodeName) wait, with a log line, until others end.", F(max_pods), 0, 0 },
    { "--kubelet-port", "kubelet.port", "PORT", LQ_CONFIG_T_INT, LQ_CONFIG_C_NONE, NULL, 0,
      65535, false, "10350",
      "Port of the kubelet API (kubectl logs/exec/attach of offloaded pods) on the node's "
      "address; the node reports it in daemonEndpoints. Not 10250, so it never meets a real "
      "kubelet on the same host. 0 = no kubelet API.", F(kubelet_port), 0, 0 },
    { "--kubelet-cert-dir", "kubelet.certDir", "DIR", LQ_CONFIG_T_STRING, LQ_CONFIG_C_NONE,
      NULL, 0, 0, true, "none: a new certificate at each start",
      "Directory (existing, writable) where the kubelet API keeps its self-signed serving "
      "certificate and key (kubelet.crt, kubelet.key, mode 0600).", F(kubelet_cert_dir), 0,
      0 },
    { "--kubelet-certificate", "kubelet.certificate", "SOURCE", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, KUBELET_CERTS, 0, 0, false, "SelfSigned",
      "Serving certificate of the kubelet API: SelfSigned (generated by the agent; API "
      "servers without --kubelet-certificate-authority accept it) or CSR (signed by the home "
      "cluster through a kubernetes.io/kubelet-serving CertificateSigningRequest, which an "
      "administrator approves; the log says how).", F(kubelet_certificate), 0, 0 },
    { "--offload", "offloading.namespaces", "NS[=REMOTE]", LQ_CONFIG_T_LIST,
      LQ_CONFIG_C_OFFLOAD_NS, NULL, 0, 0, false, "none",
      "Offload this home namespace without a NamespaceOffloading resource (repeatable; "
      "for home clusters without the CRD). NS=REMOTE names the remote namespace "
      "(SelectedName); a plain NS follows offloading.namespaceMappingStrategy. Pods: "
      "LocalAndRemote, every cluster selected. A NamespaceOffloading in NS takes precedence.",
      L(offload, n_offload) },
    { "--offload-mapping", "offloading.namespaceMappingStrategy", "STRATEGY", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, OFFLOAD_MAPPINGS, 0, 0, false, "DefaultName",
      "Remote name of the --offload namespaces: DefaultName (<ns>-<home name>-<6 hex of "
      "sha256(home id)>) or EnforceSameName (the home name).", F(offload_mapping), 0, 0 },
    { "--pod-security", "offloading.podSecurity", "LEVEL", LQ_CONFIG_T_ENUM, LQ_CONFIG_C_NONE,
      POD_SECURITY_LEVELS, 0, 0, false, "baseline",
      "Pod Security level enforced in remote namespaces (label "
      "pod-security.kubernetes.io/enforce): the provider's admission refuses a home "
      "tenant's privileged or hostPath pods. A missing or weaker remote label is set again, "
      "a stricter one kept. none: no label (the provider's default applies).",
      F(pod_security), 0, 0 },
    { "--namespace", "agent.namespace", "NS", LQ_CONFIG_T_STRING, LQ_CONFIG_C_DNS_LABEL,
      NULL, 0, 0, false, "liqo",
      "The agent's own namespace in the home cluster (its single-instance Lease).",
      F(namespace), 0, 0 },
    { "--log-level", "log.level", "LEVEL", LQ_CONFIG_T_ENUM, LQ_CONFIG_C_NONE, LOG_LEVELS,
      0, 0, false, "info", "Least severe level logged.", F(log_level), 0, 0 },
    { "--log-format", "log.format", "FORMAT", LQ_CONFIG_T_ENUM, LQ_CONFIG_C_NONE,
      LOG_FORMATS, 0, 0, false, "plain", "Log line format.", F(log_format), 0, 0 },
    { "--compat", "compat", "VERSION", LQ_CONFIG_T_ENUM, LQ_CONFIG_C_NONE, COMPATS, 0, 0,
      false, "v0.8",
      "Liqo's label family on every object written in the foreign cluster and in the "
      "foreign watch selectors: v0.8 (virtualkubelet.liqo.io/origin|destination) or v1 "
      "(offloading.liqo.io/origin|destination, and offloading.liqo.io/nodename on pods). "
      "Objects written under the other family are not recognised: unpeer before switching "
      "(docs/configuration.md).", F(compat), 0, 0 },
    { NULL, "networking.internal", "BOOL", LQ_CONFIG_T_BOOL, LQ_CONFIG_C_NONE, NULL, 0, 0,
      false, "false",
      "false: External Network mode, no IP remapping. true (Liqo's internal network with "
      "IP remapping) is not supported yet and is rejected. Liqo v0.8's name of "
      "networking.enabled; if both are given they must agree.",
      F(networking_internal), 0, 0 },
    { NULL, "networking.enabled", "BOOL", LQ_CONFIG_T_BOOL, LQ_CONFIG_C_NONE, NULL, 0, 0,
      false, "false",
      "Liqo v1's name of networking.internal, the same switch: false = External Network "
      "mode; true is rejected like networking.internal=true.",
      F(networking_internal), 0, 0 },
    { "--allow-insecure-tls", "tls.allowInsecure", "BOOL", LQ_CONFIG_T_BOOL, LQ_CONFIG_C_NONE,
      NULL, 0, 0, false, "false",
      "true: accept a kubeconfig that sets insecure-skip-tls-verify: true. The API server's "
      "certificate is then not checked, so anyone on the path can read and change all the "
      "agent sends, its credentials included; /status and /metrics say so. false: such a "
      "kubeconfig is refused at start-up.", F(allow_insecure_tls), 0, 0 },
    { NULL, "networking.reflectIPs", "BOOL", LQ_CONFIG_T_BOOL, LQ_CONFIG_C_NONE, NULL, 0, 0,
      false, "true",
      "false: pod IPs are not reflected (podIP and podIPs left empty) and EndpointSlices "
      "are not reflected.", F(networking_reflect_ips), 0, 0 },
    { "--configmap-reflection-workers", "reflection.configmap.workers", "N", LQ_CONFIG_T_INT,
      LQ_CONFIG_C_NONE, NULL, 0, 64, false, "3",
      "ConfigMap reflection workers (v1: offloading.reflection.configmap.workers); 0 = off.",
      F(reflection_configmap_workers), 0, 0 },
    { "--configmap-reflection-type", "reflection.configmap.type", "POLICY", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, REFLECTION_TYPES, 0, 0, false, "DenyList",
      "DenyList: all but liqo.io/skip-reflection; AllowList: only liqo.io/allow-reflection.",
      F(reflection_configmap_type), 0, 0 },
    { "--secret-reflection-workers", "reflection.secret.workers", "N", LQ_CONFIG_T_INT,
      LQ_CONFIG_C_NONE, NULL, 0, 64, false, "3", "Secret reflection workers; 0 = off.",
      F(reflection_secret_workers), 0, 0 },
    { "--secret-reflection-type", "reflection.secret.type", "POLICY", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, REFLECTION_TYPES, 0, 0, false, "DenyList",
      "DenyList or AllowList, as for ConfigMaps.", F(reflection_secret_type), 0, 0 },
    { "--service-reflection-workers", "reflection.service.workers", "N", LQ_CONFIG_T_INT,
      LQ_CONFIG_C_NONE, NULL, 0, 64, false, "3", "Service reflection workers; 0 = off.",
      F(reflection_service_workers), 0, 0 },
    { "--service-reflection-type", "reflection.service.type", "POLICY", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, REFLECTION_TYPES, 0, 0, false, "DenyList",
      "DenyList or AllowList for Services (their EndpointSlices follow).",
      F(reflection_service_type), 0, 0 },
    { "--endpointslice-reflection-workers", "reflection.endpointslice.workers", "N",
      LQ_CONFIG_T_INT, LQ_CONFIG_C_NONE, NULL, 0, 64, false, "10",
      "EndpointSlice reflection workers; 0 = off (also off with networking.reflectIPs=false).",
      F(reflection_endpointslice_workers), 0, 0 },
    { "--endpointslice-reflection-type", "reflection.endpointslice.type", "POLICY",
      LQ_CONFIG_T_ENUM, LQ_CONFIG_C_NONE, REFLECTION_TYPES, 0, 0, false, "DenyList",
      "DenyList or AllowList for EndpointSlices.", F(reflection_endpointslice_type), 0, 0 },
    { "--ingress-reflection-workers", "reflection.ingress.workers", "N", LQ_CONFIG_T_INT,
      LQ_CONFIG_C_NONE, NULL, 0, 64, false, "3", "Ingress reflection workers; 0 = off.",
      F(reflection_ingress_workers), 0, 0 },
    { "--ingress-reflection-type", "reflection.ingress.type", "POLICY", LQ_CONFIG_T_ENUM,
      LQ_CONFIG_C_NONE, REFLECTION_TYPES, 0, 0, false, "DenyList",
      "DenyList or AllowList for Ingresses.", F(reflection_ingress_type), 0, 0 },
    { "--mgmt-listen", "mgmt.listen", "ADDRS", LQ_CONFIG_T_ADDRS, LQ_CONFIG_C_NONE, NULL, 0,
      0, false, MGMT_DEFAULT,
      "CoAP management endpoint: comma-separated IP:PORT list (IPv6 in brackets; port 0 "
      "picks a free one). An address other than loopback needs --mgmt-psk-file; see "
      "docs/management.md.", L(mgmt_listen, n_mgmt_listen) },
    { "--mgmt-psk-file", "mgmt.pskFile", "FILE", LQ_CONFIG_T_STRING, LQ_CONFIG_C_NONE, NULL,
      0, 0, true, "none",
      "File holding the management endpoint's DTLS pre-shared key (16 to 64 bytes; one "
      "trailing newline is ignored; mode 600, this user's or root's). With it every mgmt.listen address speaks DTLS (coaps) "
      "only; without it only loopback addresses are accepted.", F(mgmt_psk_file), 0, 0 },
    { "--mgmt-psk-identity", "mgmt.pskIdentity", "ID", LQ_CONFIG_T_STRING,
      LQ_CONFIG_C_LABEL_VALUE, NULL, 0, 0, true, "none",
      "PSK identity DTLS clients must present; none = any identity with the right key.",
      F(mgmt_psk_identity), 0, 0 },
    { "--http-listen", "http.listen", "ADDRS", LQ_CONFIG_T_ADDRS, LQ_CONFIG_C_NONE, NULL, 0,
      0, true, "off",
      "HTTP endpoint for /healthz, /readyz and /metrics only: comma-separated IP:PORT "
      "list; empty = off.", L(http_listen, n_http_listen) },
    { "--config", NULL, "FILE", LQ_CONFIG_T_FILE, LQ_CONFIG_C_NONE, NULL, 0, 0, false,
      "none",
      "Config file with the keys of this table, one 'key: value' per line; read before "
      "every other option, which override it.", F(config_file), 0, 0 },
    { "--set", NULL, "KEY=VALUE", LQ_CONFIG_T_SET, LQ_CONFIG_C_NONE, NULL, 0, 0, false, "",
      "Set any key of this table, Helm style (repeatable): --set "
      "networking.reflectIPs=false.", 0, 0, 0, 0 },
};

#define N_OPTS (sizeof opts / sizeof opts[0])
_Static_assert(N_OPTS <= sizeof(((lq_config_t *)0)->layer_), "layer_ too small");

enum { LAYER_DEFAULT = 0, LAYER_FILE = 1, LAYER_ARGS = 2 };

const lq_config_opt_t *lq_config_table(size_t *n)
{
    if (n != NULL)
        *n = N_OPTS;
    return opts;
}

/* --- messages -------------------------------------------------------------------------- */

typedef struct msgbuf {
    char *buf;
    size_t cap;
    const char *origin; /* "FILE" or NULL */
    unsigned line;
} msgbuf_t;

static lq_err_t fail(const msgbuf_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static lq_err_t fail(const msgbuf_t *m, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (m->buf == NULL || m->cap == 0)
        return LQ_ECONFIG;
    if (m->origin != NULL) {
        size_t ol = strlen(m->origin); /* a long path: its last 100 bytes */
        n = snprintf(m->buf, m->cap, "%s%s:%u: ", ol > 100 ? "..." : "",
                     m->origin + (ol > 100 ? ol - 100 : 0), m->line);
    }
    if (n < 0 || (size_t)n >= m->cap)
        return LQ_ECONFIG;
    va_start(ap, fmt);
    (void)vsnprintf(m->buf + n, m->cap - (size_t)n, fmt, ap);
    va_end(ap);
    return LQ_ECONFIG;
}

/* At most 40 bytes of a user's value in a message (more is cut with "..."). */
typedef struct shown {
    char s[48];
} shown_t;

static shown_t show(const char *v)
{
    shown_t r;
    size_t n = strlen(v);
    if (n <= 40) {
        memcpy(r.s, v, n + 1);
    } else {
        memcpy(r.s, v, 37);
        memcpy(r.s + 37, "...", 4);
    }
    return r;
}

/* --- setting values ---------------------------------------------------------------------- */

/* How the option was named by the user: its flag, or its key. */
typedef struct setter {
    lq_config_t *cfg;
    const msgbuf_t *m;
    unsigned layer;
} setter_t;

static lq_err_t copy_str(const setter_t *st, const char *name, char *dst, size_t size,
                         const char *v, size_t n)
{
    if (n >= size)
        return fail(st->m, "%s: '%s' is longer than %zu bytes", name, show(v).s, size - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return LQ_OK;
}

static lq_err_t check_str(const setter_t *st, const lq_config_opt_t *o, const char *name,
                          const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return o->allow_empty ? LQ_OK : fail(st->m, "%s: an empty value is not allowed", name);
    switch (o->check) {
    case LQ_CONFIG_C_DNS_LABEL:
        if (!lq_names_dns_label(v, n))
            return fail(st->m, "%s: '%s' is not a DNS-1123 label (a-z, 0-9 and '-', "
                        "alphanumeric at both ends, at most 63)", name, show(v).s);
        break;
    case LQ_CONFIG_C_OFFLOAD_NS: {
        const char *eq = strchr(v, '=');
        size_t ln = eq ? (size_t)(eq - v) : n;
        if (!lq_names_dns_label(v, ln) || (eq && !lq_names_dns_label(eq + 1, n - ln - 1)))
            return fail(st->m, "%s: '%s' is not NS or NS=REMOTE with both DNS-1123 labels "
                        "(a-z, 0-9 and '-', alphanumeric at both ends, at most 63)", name,
                        show(v).s);
        break;
    }
    case LQ_CONFIG_C_DNS_SUBDOMAIN:
        if (!lq_names_dns_subdomain(v, n))
            return fail(st->m, "%s: '%s' is not a DNS-1123 subdomain (dot-separated "
                        "labels of a-z, 0-9 and '-', at most 253)", name, show(v).s);
        break;
    case LQ_CONFIG_C_LABEL_VALUE:
        if (!lq_names_label_name(v, n))
            return fail(st->m, "%s: '%s' is not a label value (A-Z, a-z, 0-9, '-', '_', "
                        "'.', alphanumeric at both ends, at most 63)", name, show(v).s);
        break;
    case LQ_CONFIG_C_IP:
        if (!lq_names_ip_literal(v, n))
            return fail(st->m, "%s: '%s' is not an IPv4 or IPv6 address", name, show(v).s);
        break;
    default:
        break;
    }
    return LQ_OK;
}

static lq_err_t set_kv(const setter_t *st, const lq_config_opt_t *o, const char *name,
                       lq_config_kv_t *kv, const char *v)
{
    const char *eq = strchr(v, '=');
    if (eq == NULL)
        return fail(st->m, "%s: '%s' is not KEY=VALUE", name, show(v).s);
    size_t kl = (size_t)(eq - v), vl = strlen(eq + 1);
    if (!lq_names_qualified_name(v, kl))
        return fail(st->m, "%s: '%s' has an invalid key (a qualified name: [prefix/]name, "
                    "the name of A-Z, a-z, 0-9, '-', '_', '.', at most 63)", name, show(v).s);
    if (o->check == LQ_CONFIG_C_LABEL_KV && vl > 0 && !lq_names_label_name(eq + 1, vl))
        return fail(st->m, "%s: '%s' has an invalid value (a label value: A-Z, a-z, 0-9, "
                    "'-', '_', '.', alphanumeric at both ends, at most 63)", name, show(v).s);
    if (vl > LQ_CONFIG_VALUE_MAX)
        return fail(st->m, "%s: the value of '%s' is longer than %u bytes", name, show(v).s,
                    (unsigned)LQ_CONFIG_VALUE_MAX);
    memcpy(kv->key, v, kl);
    kv->key[kl] = '\0';
    memcpy(kv->value, eq + 1, vl + 1);
    return LQ_OK;
}

/* One "host:port" (IPv6 host in brackets). */
static bool parse_addr(const char *s, size_t n, lq_config_addr_t *a)
{
    const char *host, *port;
    size_t hl, pl;
    unsigned long p = 0;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close + 1 >= s + n || close[1] != ':')
            return false;
        host = s + 1;
        hl = (size_t)(close - host);
        if (!lq_names_ipv6(host, hl))
            return false;
        port = close + 2;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        if (colon == NULL)
            return false;
        host = s;
        hl = (size_t)(colon - s);
        if (!lq_names_ipv4(host, hl))
            return false;
        port = colon + 1;
    }
    pl = (size_t)(s + n - port);
    if (pl == 0 || pl > 5)
        return false;
    for (size_t i = 0; i < pl; i++) {
        if (port[i] < '0' || port[i] > '9')
            return false;
        p = p * 10u + (unsigned long)(port[i] - '0');
    }
    if (p > 65535u || hl > LQ_CONFIG_IP_MAX)
        return false;
    memcpy(a->host, host, hl);
    a->host[hl] = '\0';
    a->port = (uint16_t)p;
    return true;
}

static lq_err_t set_addrs(const setter_t *st, const lq_config_opt_t *o, const char *name,
                          const char *v)
{
    lq_config_addr_t tmp[LQ_CONFIG_MAX_LISTEN];
    size_t n = 0;
    const char *p = v;

    memset(tmp, 0, sizeof tmp);

    if (*v == '\0') {
        if (!o->allow_empty)
            return fail(st->m, "%s: an empty value is not allowed (give at least one IP:PORT)",
                        name);
    } else {
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            char item[64];
            size_t il = len < sizeof item - 1 ? len : sizeof item - 1;
            memcpy(item, p, il);
            item[il] = '\0';
            if (n == o->max_n)
                return fail(st->m, "%s: more than %zu addresses", name, o->max_n);
            if (!parse_addr(p, len, &tmp[n]))
                return fail(st->m, "%s: '%s' is not IPV4:PORT or [IPV6]:PORT", name,
                            show(item).s);
            n++;
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    memcpy((char *)st->cfg + o->off, tmp, n * sizeof tmp[0]);
    *(size_t *)(void *)((char *)st->cfg + o->off_n) = n;
    return LQ_OK;
}

static lq_err_t set_value(const setter_t *st, const lq_config_opt_t *o, const char *name,
                          const char *v)
{
    char *base = (char *)st->cfg;
    size_t idx = (size_t)(o - opts);
    lq_err_t err;

    switch (o->type) {
    case LQ_CONFIG_T_STRING:
        err = check_str(st, o, name, v);
        if (err != LQ_OK)
            return err;
        return copy_str(st, name, base + o->off, o->size, v, strlen(v));
    case LQ_CONFIG_T_BOOL: {
        bool b;
        if (strcmp(v, "true") == 0)
            b = true;
        else if (strcmp(v, "false") == 0)
            b = false;
        else
            return fail(st->m, "%s: '%s' is not one of true|false", name, show(v).s);
        if (o->off == offsetof(lq_config_t, networking_internal)) {
            /* networking.internal (v0.8) and networking.enabled (v1) are one switch: given
             * both in one place (the file, or the command line), they must agree */
            for (size_t i = 0; i < N_OPTS; i++)
                if (&opts[i] != o && opts[i].off == o->off && st->cfg->layer_[i] == st->layer &&
                    *(const bool *)(const void *)(base + o->off) != b)
                    return fail(st->m, "%s=%s disagrees with %s=%s given before: they are one "
                                "switch (Liqo v1's and v0.8's names); give one of them", name,
                                b ? "true" : "false", opts[i].key, b ? "false" : "true");
            if (b)
                return fail(st->m, "%s: true is not supported yet: IP remapping (Liqo's internal "
                            "network) has not landed in liqolet; use false (External Network "
                            "mode)", name);
        }
        *(bool *)(void *)(base + o->off) = b;
        return LQ_OK;
    }
    case LQ_CONFIG_T_INT: {
        long x = 0;
        size_t i = 0, n = strlen(v);
        bool neg = n > 0 && v[0] == '-';
        i = neg ? 1 : 0;
        if (i == n || n - i > 9)
            goto not_int;
        for (; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                goto not_int;
            x = x * 10 + (v[i] - '0');
        }
        if (neg)
            x = -x;
        if (x < o->min || x > o->max)
            return fail(st->m, "%s: %s is not in %ld..%ld", name, show(v).s, o->min, o->max);
        *(long *)(void *)(base + o->off) = x;
        return LQ_OK;
    not_int:
        return fail(st->m, "%s: '%s' is not an integer in %ld..%ld", name, show(v).s, o->min,
                    o->max);
    }
    case LQ_CONFIG_T_ENUM: {
        const char *p = o->values;
        unsigned k = 0;
        size_t vl = strlen(v);
        for (;;) {
            const char *bar = strchr(p, '|');
            size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
            if (len == vl && memcmp(p, v, vl) == 0) {
                *(unsigned *)(void *)(base + o->off) = k;
                return LQ_OK;
            }
            if (bar == NULL)
                break;
            p = bar + 1;
            k++;
        }
        return fail(st->m, "%s: '%s' is not one of %s", name, show(v).s, o->values);
    }
    case LQ_CONFIG_T_LIST:
    case LQ_CONFIG_T_KV_LIST: {
        size_t *count = (size_t *)(void *)(base + o->off_n);
        if (st->cfg->layer_[idx] < st->layer)
            *count = 0; /* first occurrence in a stronger layer replaces */
        if (*count == o->max_n)
            return fail(st->m, "%s: more than %zu values (the limit of this build)", name,
                        o->max_n);
        char *slot = base + o->off + *count * o->size;
        if (o->type == LQ_CONFIG_T_KV_LIST)
            err = set_kv(st, o, name, (lq_config_kv_t *)(void *)slot, v);
        else
            err = check_str(st, o, name, v);
        if (err == LQ_OK && o->type == LQ_CONFIG_T_LIST)
            err = copy_str(st, name, slot, o->size, v, strlen(v));
        if (err != LQ_OK)
            return err;
        (*count)++;
        return LQ_OK;
    }
    case LQ_CONFIG_T_ADDRS:
        return set_addrs(st, o, name, v);
    case LQ_CONFIG_T_FILE:
    case LQ_CONFIG_T_SET:
        break;
    }
    return fail(st->m, "%s: cannot be set here", name);
}

static lq_err_t apply(const setter_t *st, const lq_config_opt_t *o, const char *name,
                      const char *v)
{
    lq_err_t err = set_value(st, o, name, v);
    if (err == LQ_OK)
        st->cfg->layer_[o - opts] = (unsigned char)st->layer;
    return err;
}

/* --- lookup and did-you-mean ------------------------------------------------------------- */

unsigned lq_config_edit_distance(const char *a, const char *b)
{
    unsigned row[65];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 64 || lb > 64)
        return 1000u;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] == b[j - 1] ? 0u : 1u);
            if (up + 1u < best)
                best = up + 1u;
            if (row[j - 1] + 1u < best)
                best = row[j - 1] + 1u;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* by_flag: match flags, else keys. Returns NULL when unknown. */
static const lq_config_opt_t *find(const char *name, size_t n, bool by_flag)
{
    /* Liqo v1 moved reflection.* under offloading.* (DESIGN.md Decision 18) */
    static const char v1[] = "offloading.reflection.";
    if (!by_flag && n > sizeof v1 - 1 && memcmp(name, v1, sizeof v1 - 1) == 0) {
        name += sizeof "offloading." - 1;
        n -= sizeof "offloading." - 1;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *s = by_flag ? opts[i].flag : opts[i].key;
        if (s != NULL && strlen(s) == n && memcmp(s, name, n) == 0)
            return &opts[i];
    }
    return NULL;
}

static lq_err_t unknown(const msgbuf_t *m, const char *what, const char *name, size_t n,
                        bool by_flag)
{
    char given[72];
    const char *best = NULL;
    unsigned best_d = 3;
    size_t gl = n < sizeof given - 1 ? n : sizeof given - 1;

    memcpy(given, name, gl);
    given[gl] = '\0';
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *s = by_flag ? opts[i].flag : opts[i].key;
        if (s == NULL)
            continue;
        unsigned d = lq_config_edit_distance(given, s);
        /* a key written as its flag ("--node-name" or "node-name") */
        if (!by_flag && opts[i].flag != NULL) {
            unsigned df = lq_config_edit_distance(given, opts[i].flag);
            unsigned db = lq_config_edit_distance(given, opts[i].flag + 2);
            d = df < d ? df : d;
            d = db < d ? db : d;
        }
        if (d < best_d) {
            best_d = d;
            best = s;
        }
    }
    if (best != NULL)
        return fail(m, "unknown %s '%s' (did you mean %s?)", what, show(given).s, best);
    return fail(m, "unknown %s '%s' (see liqolet run --help)", what, show(given).s);
}

static lq_err_t set_key(const setter_t *st, const char *key, size_t kl, const char *v)
{
    const lq_config_opt_t *o = find(key, kl, false);
    if (o == NULL)
        return unknown(st->m, "key", key, kl, false);
    return apply(st, o, o->key, v);
}

/* --- public -------------------------------------------------------------------------------- */

void lq_config_init(lq_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sharing_percentage = 90;
    cfg->pod_security = 2; /* baseline */
    cfg->max_pods = LQ_MAX_PODS;
    cfg->kubelet_port = 10350;
    memcpy(cfg->namespace, "liqo", 5);
    cfg->log_level = 2;  /* info */
    cfg->log_format = 0; /* plain */
    cfg->networking_internal = false;
    cfg->networking_reflect_ips = true;
    cfg->reflection_configmap_workers = 3; /* Liqo's defaults */
    cfg->reflection_secret_workers = 3;
    cfg->reflection_service_workers = 3;
    cfg->reflection_endpointslice_workers = 10;
    cfg->reflection_ingress_workers = 3;
    memcpy(cfg->mgmt_listen[0].host, "::1", 4);
    cfg->mgmt_listen[0].port = 5683;
    memcpy(cfg->mgmt_listen[1].host, "127.0.0.1", 10);
    cfg->mgmt_listen[1].port = 5683;
    cfg->n_mgmt_listen = 2;
}

lq_err_t lq_config_set(lq_config_t *cfg, const char *key, const char *value, char *msg,
                       size_t msg_cap)
{
    msgbuf_t m = { msg, msg_cap, NULL, 0 };
    setter_t st = { cfg, &m, LAYER_ARGS };
    if (msg != NULL && msg_cap > 0)
        msg[0] = '\0';
    if (cfg == NULL || key == NULL || value == NULL)
        return LQ_EINVAL;
    return set_key(&st, key, strlen(key), value);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

lq_err_t lq_config_apply_text(lq_config_t *cfg, const char *text, size_t len,
                              const char *origin, char *msg, size_t msg_cap)
{
    msgbuf_t m = { msg, msg_cap, origin != NULL ? origin : "config", 0 };
    setter_t st = { cfg, &m, LAYER_FILE };
    size_t pos = 0;
    char value[LQ_CONFIG_PATH_MAX + LQ_CONFIG_QNAME_MAX + 2];

    if (msg != NULL && msg_cap > 0)
        msg[0] = '\0';
    if (cfg == NULL || (text == NULL && len > 0))
        return LQ_EINVAL;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;
        size_t a = 0, b = ll, sep, ks, ke, vs, ve;
        pos += ll + (nl != NULL ? 1 : 0);
        m.line++;

        while (a < b && blank(line[a]))
            a++;
        while (b > a && blank(line[b - 1]))
            b--;
        if (a == b || line[a] == '#')
            continue;
        if (memchr(line + a, '\0', b - a) != NULL)
            return fail(&m, "a NUL byte in the line");
        for (sep = a; sep < b && line[sep] != ':' && line[sep] != '='; sep++)
            ;
        if (sep == b)
            return fail(&m, "expected 'key: value' or 'key=value'");
        ks = a;
        ke = sep;
        while (ke > ks && blank(line[ke - 1]))
            ke--;
        if (ke == ks)
            return fail(&m, "a value without a key");
        vs = sep + 1;
        ve = b;
        while (vs < ve && blank(line[vs]))
            vs++;
        if (ve - vs >= 2 && (line[vs] == '"' || line[vs] == '\'') && line[ve - 1] == line[vs]) {
            vs++;
            ve--;
        }
        if (ve - vs >= sizeof value)
            return fail(&m, "%.*s: value longer than %zu bytes", (int)(ke - ks), line + ks,
                        sizeof value - 1);
        memcpy(value, line + vs, ve - vs);
        value[ve - vs] = '\0';
        lq_err_t err = set_key(&st, line + ks, ke - ks, value);
        if (err != LQ_OK)
            return err;
    }
    return LQ_OK;
}

/* Splits "--flag=value" / "--flag value". Returns the option or NULL (unknown). */
static lq_err_t next_opt(const msgbuf_t *m, int argc, char *const argv[], int *i,
                         const lq_config_opt_t **o, const char **v)
{
    const char *a = argv[*i];
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);

    *o = find(a, n, true);
    if (*o == NULL) {
        if (a[0] != '-')
            return fail(m, "unexpected argument '%s' (options start with --)", show(a).s);
        return unknown(m, "option", a, n, true);
    }
    if (eq != NULL) {
        *v = eq + 1;
    } else {
        if (*i + 1 >= argc)
            return fail(m, "%s needs a value (%s)", (*o)->flag, (*o)->metavar);
        *v = argv[++*i];
    }
    return LQ_OK;
}

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

lq_err_t lq_config_parse_args(lq_config_t *cfg, int argc, char *const argv[], char *msg,
                              size_t msg_cap)
{
    msgbuf_t m = { msg, msg_cap, NULL, 0 };
    setter_t st = { cfg, &m, LAYER_ARGS };
    const lq_config_opt_t *o;
    const char *v, *file = NULL;
    lq_err_t err;
    int i;

    if (msg != NULL && msg_cap > 0)
        msg[0] = '\0';
    if (cfg == NULL || (argv == NULL && argc > 0))
        return LQ_EINVAL;

    /* --help anywhere wins over everything else, errors included. */
    for (i = 0; i < argc; i++) {
        if (argv[i] != NULL && is_help(argv[i])) {
            cfg->help = true;
            return LQ_OK;
        }
    }
    /* Pass 1: syntax and the config file. */
    for (i = 0; i < argc; i++) {
        err = next_opt(&m, argc, argv, &i, &o, &v);
        if (err != LQ_OK)
            return err;
        if (o->type == LQ_CONFIG_T_FILE) {
            if (file != NULL)
                return fail(&m, "--config given twice ('%s' and '%s')", show(file).s,
                            show(v).s);
            if (*v == '\0')
                return fail(&m, "--config: an empty value is not allowed");
            file = v;
        }
    }
    if (file != NULL) {
        char text[LQ_CONFIG_FILE_MAX];
        size_t len = 0;
        err = copy_str(&st, "--config", cfg->config_file, sizeof cfg->config_file, file,
                       strlen(file));
        if (err != LQ_OK)
            return err;
        err = lq_port_file_read(file, text, sizeof text, &len);
        if (err == LQ_ETOOBIG)
            return fail(&m, "--config: '%s' is larger than %u bytes", show(file).s,
                        (unsigned)LQ_CONFIG_FILE_MAX - 1u);
        if (err != LQ_OK)
            return fail(&m, "--config: cannot read '%s': %s", show(file).s, lq_err_str(err));
        err = lq_config_apply_text(cfg, text, len, file, msg, msg_cap);
        if (err != LQ_OK)
            return err;
    }

    /* Pass 2: every flag and --set, in order. */
    for (i = 0; i < argc; i++) {
        (void)next_opt(&m, argc, argv, &i, &o, &v); /* checked in pass 1 */
        if (o->type == LQ_CONFIG_T_FILE)
            continue;
        if (o->type == LQ_CONFIG_T_SET) {
            const char *eq = strchr(v, '=');
            if (eq == NULL)
                return fail(&m, "--set: '%s' is not KEY=VALUE", show(v).s);
            err = set_key(&st, v, (size_t)(eq - v), eq + 1);
        } else {
            err = apply(&st, o, o->flag, v);
        }
        if (err != LQ_OK)
            return err;
    }
    return LQ_OK;
}

/* --- rendering ------------------------------------------------------------------------------ */

typedef struct out {
    char *buf;
    size_t cap, len;
    bool overflow;
} out_t;

static void putn(out_t *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put(out_t *o, const char *s)
{
    putn(o, s, strlen(s));
}

static void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(out_t *o, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        o->overflow = true;
    else
        putn(o, tmp, (size_t)n);
}

static lq_err_t out_start(out_t *o, char *buf, size_t cap, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (buf == NULL || cap == 0 || len == NULL)
        return LQ_EINVAL;
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->overflow = false;
    buf[0] = '\0';
    return LQ_OK;
}

static lq_err_t out_finish(out_t *o, size_t *len)
{
    if (o->overflow) {
        o->buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    *len = o->len;
    return LQ_OK;
}

/* A value in the effective line: bare, or double-quoted with \" and \\ escaped. */
static void put_value(out_t *o, const char *s)
{
    bool quote = *s == '\0' || strpbrk(s, " \t\"=\\,") != NULL;
    if (!quote) {
        put(o, s);
        return;
    }
    put(o, "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            put(o, "\\");
        putn(o, s, 1);
    }
    put(o, "\"");
}

static void put_addr(out_t *o, const lq_config_addr_t *a)
{
    if (strchr(a->host, ':') != NULL)
        putf(o, "[%s]:%u", a->host, (unsigned)a->port);
    else
        putf(o, "%s:%u", a->host, (unsigned)a->port);
}

static const char *enum_name(const char *values, unsigned k, size_t *n)
{
    const char *p = values;
    while (k-- > 0) {
        p = strchr(p, '|');
        if (p == NULL) {
            *n = 1;
            return "?";
        }
        p++;
    }
    const char *bar = strchr(p, '|');
    *n = bar != NULL ? (size_t)(bar - p) : strlen(p);
    return p;
}

lq_err_t lq_config_render_effective(const lq_config_t *cfg, char *buf, size_t cap,
                                    size_t *len)
{
    out_t o;
    lq_err_t err = out_start(&o, buf, cap, len);
    if (err != LQ_OK)
        return err;
    if (cfg == NULL)
        return LQ_EINVAL;
    const char *base = (const char *)cfg;
    bool first = true;
    for (size_t i = 0; i < N_OPTS; i++) {
        const lq_config_opt_t *op = &opts[i];
        const char *key = op->key;
        if (op->type == LQ_CONFIG_T_SET)
            continue;
        if (op->type == LQ_CONFIG_T_FILE) {
            if (cfg->config_file[0] == '\0')
                continue;
            key = "config";
        }
        if (!first)
            put(&o, " ");
        first = false;
        put(&o, key);
        put(&o, "=");
        const char *field = base + op->off;
        switch (op->type) {
        case LQ_CONFIG_T_STRING:
        case LQ_CONFIG_T_FILE:
            if (*field == '\0')
                put(&o, op->def != NULL && strcmp(op->def, "none") == 0 ? "none" : "auto");
            else
                put_value(&o, field);
            break;
        case LQ_CONFIG_T_BOOL:
            put(&o, *(const bool *)(const void *)field ? "true" : "false");
            break;
        case LQ_CONFIG_T_INT:
            putf(&o, "%ld", *(const long *)(const void *)field);
            break;
        case LQ_CONFIG_T_ENUM: {
            size_t n;
            const char *s = enum_name(op->values, *(const unsigned *)(const void *)field, &n);
            putn(&o, s, n);
            break;
        }
        case LQ_CONFIG_T_LIST:
        case LQ_CONFIG_T_KV_LIST:
        case LQ_CONFIG_T_ADDRS: {
            size_t n = *(const size_t *)(const void *)(base + op->off_n);
            if (n == 0)
                put(&o, op->type == LQ_CONFIG_T_ADDRS ? "off" : "\"\"");
            for (size_t k = 0; k < n; k++) {
                const char *el = field + k * op->size;
                if (k > 0)
                    put(&o, ",");
                if (op->type == LQ_CONFIG_T_ADDRS) {
                    put_addr(&o, (const lq_config_addr_t *)(const void *)el);
                } else if (op->type == LQ_CONFIG_T_LIST) {
                    put_value(&o, el);
                } else {
                    const lq_config_kv_t *kv = (const lq_config_kv_t *)(const void *)el;
                    put(&o, kv->key);
                    put(&o, ":");
                    put_value(&o, kv->value);
                }
            }
            break;
        }
        case LQ_CONFIG_T_SET:
            break;
        }
    }
    return out_finish(&o, len);
}

/* Help: "  --flag METAVAR" padded to column 30, then the words wrapped at 79 columns. */
#define HELP_COL 30
#define HELP_WIDTH 79

static void put_wrapped(out_t *o, size_t col, const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        const char *w = p;
        while (*w == ' ')
            w++;
        const char *e = w;
        while (*e != '\0' && *e != ' ')
            e++;
        size_t wl = (size_t)(e - w);
        if (wl == 0)
            break;
        if (col > HELP_COL && col + 1 + wl > HELP_WIDTH) {
            put(o, "\n");
            for (col = 0; col < HELP_COL; col++)
                put(o, " ");
        } else if (col > HELP_COL) {
            put(o, " ");
            col++;
        }
        putn(o, w, wl);
        col += wl;
        p = e;
    }
}

static void type_words(const lq_config_opt_t *op, char *buf, size_t cap)
{
    switch (op->type) {
    case LQ_CONFIG_T_BOOL:
        snprintf(buf, cap, "true|false");
        break;
    case LQ_CONFIG_T_INT:
        snprintf(buf, cap, "%ld..%ld", op->min, op->max);
        break;
    case LQ_CONFIG_T_ENUM:
        snprintf(buf, cap, "%s", op->values);
        break;
    default:
        buf[0] = '\0';
        break;
    }
}

lq_err_t lq_config_usage(char *buf, size_t cap, size_t *len)
{
    out_t o;
    lq_err_t err = out_start(&o, buf, cap, len);
    if (err != LQ_OK)
        return err;
    put(&o, "Usage: liqolet run [options]\n"
            "\n"
            "Runs the agent: the foreign cluster appears as a virtual node of the home\n"
            "cluster, and offloaded namespaces are reflected to it. Every option is also a\n"
            "key for the config file and for --set (shown in brackets). Precedence:\n"
            "defaults, then the --config file, then flags and --set in command-line order.\n"
            "\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const lq_config_opt_t *op = &opts[i];
        char line[160], tw[64], help[512];
        int n;
        if (op->flag != NULL)
            n = snprintf(line, sizeof line, "  %s %s", op->flag, op->metavar);
        else
            n = snprintf(line, sizeof line, "  --set %s=%s", op->key, op->metavar);
        if (n < 0 || (size_t)n >= sizeof line) {
            o.overflow = true;
            break;
        }
        put(&o, line);
        size_t col = (size_t)n;
        if (col + 2 > HELP_COL) {
            put(&o, "\n");
            col = 0;
        }
        for (; col < HELP_COL; col++)
            put(&o, " ");
        type_words(op, tw, sizeof tw);
        n = snprintf(help, sizeof help, "%s%s%s%s%s%s%s%s", op->help,
                     tw[0] != '\0' ? " Values: " : "", tw, tw[0] != '\0' ? "." : "",
                     op->key != NULL && op->flag != NULL ? " [" : "",
                     op->key != NULL && op->flag != NULL ? op->key : "",
                     op->key != NULL && op->flag != NULL ? "]" : "", "");
        if (n < 0 || (size_t)n >= sizeof help) {
            o.overflow = true;
            break;
        }
        if (op->def != NULL && op->def[0] != '\0') {
            size_t hl = (size_t)n;
            n = snprintf(help + hl, sizeof help - hl, " (default: %s)", op->def);
            if (n < 0 || (size_t)n >= sizeof help - hl) {
                o.overflow = true;
                break;
            }
        }
        put_wrapped(&o, HELP_COL, help);
        put(&o, "\n");
    }
    put(&o, "  -h, --help                  this help\n"
            "\n"
            "Lists (--node-label, --node-annotation, --offload) repeat the flag; on the\n"
            "command line they replace the config file's list. Full reference:\n"
            "docs/configuration.md.\n");
    return out_finish(&o, len);
}

static void md_text(out_t *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            put(o, "\\|");
        else if (*s == '<')
            put(o, "&lt;");
        else if (*s == '>')
            put(o, "&gt;");
        else
            putn(o, s, 1);
    }
}

lq_err_t lq_config_render_markdown(char *buf, size_t cap, size_t *len)
{
    out_t o;
    lq_err_t err = out_start(&o, buf, cap, len);
    if (err != LQ_OK)
        return err;
    put(&o, "| Flag | Key (config file, `--set`) | Type | Default | Description |\n"
            "|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const lq_config_opt_t *op = &opts[i];
        put(&o, "| ");
        if (op->flag != NULL) {
            put(&o, "`");
            put(&o, op->flag);
            put(&o, " ");
            put(&o, op->metavar);
            put(&o, "`");
        } else {
            put(&o, "(key only)");
        }
        put(&o, " | ");
        if (op->key != NULL) {
            put(&o, "`");
            put(&o, op->key);
            put(&o, "`");
        } else {
            put(&o, "-");
        }
        put(&o, " | ");
        switch (op->type) {
        case LQ_CONFIG_T_STRING:
            switch (op->check) {
            case LQ_CONFIG_C_DNS_LABEL:
                put(&o, "string: DNS-1123 label");
                break;
            case LQ_CONFIG_C_DNS_SUBDOMAIN:
                put(&o, "string: DNS-1123 subdomain");
                break;
            case LQ_CONFIG_C_LABEL_VALUE:
                put(&o, "string: label value");
                break;
            case LQ_CONFIG_C_IP:
                put(&o, "IPv4 or IPv6 address");
                break;
            default:
                put(&o, "string");
                break;
            }
            break;
        case LQ_CONFIG_T_BOOL:
            put(&o, "bool: `true` or `false`");
            break;
        case LQ_CONFIG_T_INT:
            putf(&o, "integer %ld..%ld", op->min, op->max);
            break;
        case LQ_CONFIG_T_ENUM: {
            put(&o, "one of ");
            for (const char *p = op->values; *p != '\0';) {
                const char *bar = strchr(p, '|');
                size_t n = bar != NULL ? (size_t)(bar - p) : strlen(p);
                if (p != op->values)
                    put(&o, ", ");
                put(&o, "`");
                putn(&o, p, n);
                put(&o, "`");
                p += n + (bar != NULL ? 1 : 0);
            }
            break;
        }
        case LQ_CONFIG_T_LIST:
            putf(&o, "list of %s (repeat; at most %zu)",
                 op->check == LQ_CONFIG_C_OFFLOAD_NS ? "`NS` or `NS=REMOTE` (DNS-1123 labels)"
                                                     : "DNS-1123 labels", op->max_n);
            break;
        case LQ_CONFIG_T_KV_LIST:
            putf(&o, "list of `key=value` (repeat; at most %zu; %s)", op->max_n,
                 op->check == LQ_CONFIG_C_LABEL_KV ? "label syntax" : "annotation syntax");
            break;
        case LQ_CONFIG_T_ADDRS:
            putf(&o, "`IP:PORT` list, comma-separated (at most %zu)", op->max_n);
            break;
        case LQ_CONFIG_T_FILE:
            put(&o, "file path");
            break;
        case LQ_CONFIG_T_SET:
            put(&o, "`key=value` (repeat)");
            break;
        }
        put(&o, " | ");
        if (op->def != NULL && op->def[0] != '\0') {
            bool literal = op->type != LQ_CONFIG_T_STRING || op->allow_empty == false;
            if (literal && strcmp(op->def, "none") != 0 && strcmp(op->def, "off") != 0) {
                put(&o, "`");
                put(&o, op->def);
                put(&o, "`");
            } else {
                md_text(&o, op->def);
            }
        } else {
            put(&o, "-");
        }
        put(&o, " | ");
        md_text(&o, op->help);
        put(&o, " |\n");
    }
    return out_finish(&o, len);
}
