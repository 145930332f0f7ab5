/* liqolet: `liqolet peer`, the set-up of a peering from admin credentials (the
 * counterpart of Liqo's `liqoctl peer`; `liqolet unpeer` is the reverse).
 *
 * One shot, blocking, on the agent's own request client (src/kube/kreq.c). With admin
 * kubeconfigs of both clusters (or of one: --foreign-only / --home-only, then it prints
 * the command for the other side), idempotently (server-side apply, field manager
 * "liqolet-peer", forced):
 *   foreign: namespace, ServiceAccount liqolet, the foreign RBAC of the permission table
 *            (lq_perms_render: whatever the table renders is what is applied) bound to
 *            that account, and a bound token from the TokenRequest API;
 *   home:    namespace, ServiceAccount liqolet, the home RBAC bound to it, the
 *            NamespaceOffloading CRD when the cluster has none (an existing one, e.g.
 *            Liqo's, is left alone); with --in-cluster the foreign kubeconfig goes into
 *            the Secret liqolet-foreign-kubeconfig (deploy/deployment.yaml mounts it),
 *            otherwise a token of the home account goes into a home kubeconfig file and
 *            both files (mode 0600) into the output directory;
 * then the checks of `liqolet check` run with exactly those credentials.
 * --dry-run prints the objects and writes nothing (it still reads both clusters' ids,
 * which name the lock Lease and the virtual node). Tokens never reach the log (they are
 * registered with its redaction list) nor the dry-run output. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "liqolet/check.h"
#include "liqolet/cluster.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/kreq.h"
#include "liqolet/log.h"
#include "liqolet/loop.h"
#include "liqolet/manifest.h"
#include "liqolet/peer.h"
#include "liqolet/perms.h"
#include "liqolet/run.h"
#include "liqolet/tls.h"

#if !LQ_PEER
int lq_peer_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "liqolet peer: not in this build (LQ_PEER 0 in the board's lq_board.h); "
            "run it from a build that has it, e.g. the host's\n");
    return 2;
}

int lq_peer_remove_identity(const char *kc[2], const char *ctx[2], const char *ns, const char *node,
                            const char *home_id, const char *foreign_id, bool allow_insecure)
{
    (void)home_id;
    (void)kc;
    (void)ctx;
    (void)ns;
    (void)node;
    (void)foreign_id;
    (void)allow_insecure;
    fprintf(stderr, "liqolet unpeer --remove-identity: not in this build (LQ_PEER 0)\n");
    return 2;
}
#else

#define PEER_TTL_DEFAULT_S (365LL * 24 * 3600)
#define PEER_TTL_MIN_S 600LL
#define PEER_CHECK_TTL_S 600LL
#define CRD_NAME "namespaceoffloadings.offloading.liqo.io"
#define CRD_PATH "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" CRD_NAME

/* The CRD as committed in deploy/crds, embedded at build time (the Makefile makes
 * src/cmd/peer.o depend on the file). */
__asm__(".pushsection .rodata.lq_peer_crd,\"a\"\n"
        ".global lq_peer_crd_yaml\n"
        "lq_peer_crd_yaml:\n"
        ".incbin \"deploy/crds/offloading.liqo.io_namespaceoffloadings.yaml\"\n"
        ".byte 0\n"
        ".popsection\n");
extern const char lq_peer_crd_yaml[];

enum { HOME = 0, FOREIGN = 1 };
static const char *const side_name[2] = { "home", "foreign" };

static struct {
    /* flags */
    const char *kc[2], *ctx[2], *ns, *node_arg, *foreign_id_arg, *foreign_name_arg;
    const char *out_dir_arg, *agent_foreign_kc, *foreign_server;
    const char *home_id_arg;
    bool in_cluster, dry_run, home_only, foreign_only, no_check, allow_insecure;
    unsigned pod_security;
    int64_t ttl_s;
    /* state */
    bool open[2];
    lq_loop_t loop;
    lq_cluster_t cl[2];
    lq_kreq_client_t req[2];
    lq_kreq_t q;
    bool q_done;
    lq_err_t q_err;
    int sig;
    char id[2][128];
    char foreign_name[64], node[LQ_PERMS_NAME_MAX + 1], out_dir[512];
    char file[2][600];          /* the agent's kubeconfig files written (or to check) */
    bool file_tmp[2];           /* ... temporary: removed after the check */
    unsigned created, applied, failures;
    char path[LQ_KREQ_PATH_MAX];
    char body[8192];
    char rbac[96 * 1024];
    char resp[64 * 1024];
    unsigned char arena[96 * 1024];
    lq_json_doc_t doc;
    char token[LQ_KCFG_TOKEN_MAX];
    char token_exp[64];
    char b64[LQ_KCFG_PEM_MAX * 2];
    char kcfg[2][LQ_KCFG_PEM_MAX * 2 + LQ_KCFG_TOKEN_MAX + 2048];
    size_t kcfg_len[2];
    char secret[(LQ_KCFG_PEM_MAX * 2 + LQ_KCFG_TOKEN_MAX + 2048) / 3 * 4 + 4096];
} pe;

/* --- requests (as in unpeer.c) --------------------------------------------------------- */

static void q_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    (void)r;
    (void)ctx;
    pe.q_done = true;
    pe.q_err = err;
}

static lq_err_t call(int side, lq_err_t filled)
{
    if (filled != LQ_OK)
        return filled;
    pe.q_done = false;
    lq_err_t e = lq_kreq_submit(&pe.req[side], &pe.q);
    if (e != LQ_OK)
        return e;
    while (!pe.q_done) {
        (void)lq_loop_run_once(&pe.loop, 200);
        int sig = lq_port_signal_take();
        if (sig != 0) {
            pe.sig = sig;
            (void)lq_kreq_cancel(&pe.q);
            return LQ_ESTATE;
        }
    }
    return pe.q_err;
}

static void q_prepare(const char *accept)
{
    lq_kreq_init(&pe.q, pe.resp, sizeof pe.resp, q_done, NULL);
    pe.q.accept = accept;
    pe.q.max_attempts = 2;
}

static lq_json_t *parsed(void)
{
    lq_json_t *root = NULL;
    lq_json_reset(&pe.doc);
    if (lq_json_parse(&pe.doc, pe.resp, pe.q.resp_len, &root) != LQ_OK)
        return NULL;
    return root;
}

/* One line on what failed, with the API server's own words (a 403 names the user, the
 * verb and the resource: the permission the admin credentials lack). */
static void failed(int side, const char *what, lq_err_t e)
{
    pe.failures++;
    fprintf(stderr, "liqolet peer: %s cluster: %s: %s%s%s%s\n", side_name[side], what,
            lq_err_str(e), pe.q.message[0] ? " - " : "", pe.q.message,
            e == LQ_EFORBIDDEN ? " (these credentials are not a cluster admin's: peer needs to "
                                 "create namespaces, ServiceAccounts, tokens, RBAC and CRDs)"
                               : "");
}

/* Server-side apply of one object (YAML or JSON text) at its REST path. */
static lq_err_t apply(int side, const char *path, const char *what, const char *text, size_t len)
{
    q_prepare(NULL);
    lq_err_t e = call(side, lq_kreq_apply(&pe.q, path, LQ_PEER_FIELD_MANAGER, text, len));
    if (e != LQ_OK) {
        failed(side, what, e);
        return e;
    }
    pe.applied++;
    if (pe.q.status == 201)
        pe.created++;
    printf("  %-7s %-8s %s\n", side_name[side], pe.q.status == 201 ? "created" : "applied", what);
    return LQ_OK;
}

static void dry_print(int side, const char *what, const char *text, size_t len)
{
    printf("# %s cluster: %s\n---\n%.*s%s", side_name[side], what, (int)len, text,
           len > 0 && text[len - 1] == '\n' ? "" : "\n");
}

/* Namespace and ServiceAccount. */
static lq_err_t apply_identity(int side)
{
    int n = snprintf(pe.body, sizeof pe.body,
                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
                     pe.ns);
    char what[128];
    (void)snprintf(what, sizeof what, "Namespace %s", pe.ns);
    lq_err_t e;
    if (pe.dry_run)
        dry_print(side, what, pe.body, (size_t)n);
    else if ((e = lq_kapi_path(pe.path, sizeof pe.path, "v1", NULL, "namespaces", pe.ns, NULL)) != LQ_OK ||
             (e = apply(side, pe.path, what, pe.body, (size_t)n)) != LQ_OK)
        return e;
    n = snprintf(pe.body, sizeof pe.body,
                 "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"%s\","
                 "\"namespace\":\"%s\",\"labels\":{\"app.kubernetes.io/name\":\"liqolet\","
                 "\"app.kubernetes.io/managed-by\":\"" LQ_PEER_FIELD_MANAGER "\"}}}",
                 LQ_PEER_SA, pe.ns);
    (void)snprintf(what, sizeof what, "ServiceAccount %s/%s", pe.ns, LQ_PEER_SA);
    if (pe.dry_run) {
        dry_print(side, what, pe.body, (size_t)n);
        return LQ_OK;
    }
    if ((e = lq_kapi_path(pe.path, sizeof pe.path, "v1", pe.ns, "serviceaccounts", LQ_PEER_SA, NULL)) != LQ_OK)
        return e;
    return apply(side, pe.path, what, pe.body, (size_t)n);
}

/* The RBAC of one side and its ValidatingAdmissionPolicies, from the permission table,
 * bound to (matching) the ServiceAccount only. */
lq_err_t lq_peer_render_rbac(int side, const char *ns, const char *node, const char *foreign_id,
                             const char *home_id, unsigned pod_security, char *buf, size_t cap,
                             size_t *len)
{
    lq_perms_subject_t sa = { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, LQ_PEER_SA, ns };
    lq_perms_params_t p;
    lq_perms_params_init(&p);
    p.node_name = node;
    p.namespace = ns;
    p.foreign_id = foreign_id && foreign_id[0] ? foreign_id : NULL;
    p.home_id = home_id && home_id[0] ? home_id : NULL;
    p.pod_security = pod_security;
    p.subjects = &sa;
    p.n_subjects = 1;
    lq_perms_cluster_t c = side == HOME ? LQ_PERMS_HOME : LQ_PERMS_FOREIGN;
    size_t n = 0, m = 0;
    lq_err_t e = lq_perms_render(c, &p, buf, cap, &n);
    if (e != LQ_OK)
        return e;
    if (n + 2 >= cap)
        return LQ_ETOOBIG;
    buf[n++] = '\n';
    e = lq_perms_render_policy(c, &p, buf + n, cap - n, &m);
    if (e != LQ_OK) {
        buf[0] = '\0';
        return e;
    }
    *len = n + m;
    return LQ_OK;
}

static lq_err_t apply_rbac(int side)
{
    size_t len = 0, pos = 0;
    lq_err_t e = lq_peer_render_rbac(side, pe.ns, pe.node, pe.id[FOREIGN], pe.id[HOME],
                                     pe.pod_security, pe.rbac, sizeof pe.rbac, &len);
    if (e != LQ_OK) {
        fprintf(stderr, "liqolet peer: cannot render the %s RBAC for node %s, namespace %s: %s\n",
                side_name[side], pe.node, pe.ns, lq_err_str(e));
        pe.failures++;
        return e;
    }
    lq_manifest_doc_t d;
    while ((e = lq_manifest_next(pe.rbac, len, &pos, &d)) == LQ_OK) {
        char what[sizeof d.kind + sizeof d.name + sizeof d.namespace + 4];
        (void)snprintf(what, sizeof what, "%s %s%s%s", d.kind, d.namespace,
                       d.namespace[0] ? "/" : "", d.name);
        if (pe.dry_run) {
            dry_print(side, what, d.text, d.len);
            continue;
        }
        if ((e = lq_manifest_path(&d, true, pe.path, sizeof pe.path)) != LQ_OK) {
            fprintf(stderr, "liqolet peer: no REST path for %s: %s\n", what, lq_err_str(e));
            pe.failures++;
            return e;
        }
        if ((e = apply(side, pe.path, what, d.text, d.len)) != LQ_OK)
            return e;
    }
    if (e != LQ_ENOTFOUND) {
        fprintf(stderr, "liqolet peer: the rendered %s RBAC does not split into objects: %s\n",
                side_name[side], lq_err_str(e));
        pe.failures++;
        return e;
    }
    return LQ_OK;
}

/* The NamespaceOffloading CRD where the home cluster has none. */
static lq_err_t crd(void)
{
    q_prepare(LQ_KREQ_ACCEPT_META);
    lq_err_t e = call(HOME, lq_kreq_get(&pe.q, CRD_PATH));
    if (e == LQ_OK) {
        printf("  home    present  CustomResourceDefinition %s (left as it is)\n", CRD_NAME);
        return LQ_OK;
    }
    if (e != LQ_ENOTFOUND) {
        failed(HOME, "read CustomResourceDefinition " CRD_NAME, e);
        return e;
    }
    if (pe.dry_run) {
        dry_print(HOME, "CustomResourceDefinition " CRD_NAME " (missing: would be created)",
                  lq_peer_crd_yaml, strlen(lq_peer_crd_yaml));
        return LQ_OK;
    }
    /* created, not applied: the API server parses the YAML of a POST too */
    q_prepare(NULL);
    e = lq_kreq_create(&pe.q, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       lq_peer_crd_yaml, strlen(lq_peer_crd_yaml));
    pe.q.content_type = "application/yaml";
    e = call(HOME, e);
    if (e == LQ_ECONFLICT && pe.q.status == 409) {
        printf("  home    present  CustomResourceDefinition %s (created meanwhile)\n", CRD_NAME);
        return LQ_OK;
    }
    if (e != LQ_OK) {
        failed(HOME, "create CustomResourceDefinition " CRD_NAME, e);
        return e;
    }
    pe.created++;
    printf("  home    created  CustomResourceDefinition %s\n", CRD_NAME);
    return LQ_OK;
}

/* A bound token of the ServiceAccount (TokenRequest API) into pe.token. */
static lq_err_t token(int side, int64_t ttl_s)
{
    int n = snprintf(pe.body, sizeof pe.body,
                     "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
                     "\"spec\":{\"expirationSeconds\":%lld}}", (long long)ttl_s);
    lq_err_t e = lq_kapi_path(pe.path, sizeof pe.path, "v1", pe.ns, "serviceaccounts", LQ_PEER_SA, "token");
    q_prepare(NULL);
    if (e == LQ_OK)
        e = call(side, lq_kreq_create(&pe.q, pe.path, pe.body, (size_t)n));
    if (e == LQ_OK) {
        lq_json_t *root = parsed();
        e = lq_json_str_copy(LQ_JSON_AT(root, "status", "token"), pe.token, sizeof pe.token);
        if (e == LQ_OK)
            (void)lq_json_str_copy(LQ_JSON_AT(root, "status", "expirationTimestamp"), pe.token_exp,
                                   sizeof pe.token_exp);
        /* the response holds the token too: do not keep it around */
        memset(pe.resp, 0, pe.q.resp_len < sizeof pe.resp ? pe.q.resp_len : sizeof pe.resp);
        lq_json_reset(&pe.doc);
    }
    if (e != LQ_OK) {
        failed(side, "request a token for ServiceAccount liqolet (TokenRequest API)", e);
        return e;
    }
    (void)lq_log_secret_add(pe.token, strlen(pe.token));
    return LQ_OK;
}

/* The agent's kubeconfig for one cluster: the admin kubeconfig's server and CA, the
 * account's token. */
static lq_err_t kubeconfig(int side, const char *server)
{
    const lq_kcfg_t *k = &pe.cl[side].kcfg;
    size_t ca_len = k->ca_len, b64_len = 0;
    if (ca_len > 0 && k->ca[ca_len - 1] == '\0')
        ca_len--; /* PEM: mbedTLS counts the NUL */
    pe.b64[0] = '\0';
    if (ca_len > 0 && lq_tls_base64(true, k->ca, ca_len, pe.b64, sizeof pe.b64, &b64_len) != LQ_OK)
        return LQ_ETOOBIG;
    char tsn[LQ_KCFG_NAME_MAX + 32] = "";
    if (k->tls_server_name[0])
        (void)snprintf(tsn, sizeof tsn, "    tls-server-name: %s\n", k->tls_server_name);
    int n = snprintf(pe.kcfg[side], sizeof pe.kcfg[side],
                     "# liqolet's credentials for the %s cluster, written by `liqolet peer`.\n"
                     "# ServiceAccount %s/%s; bound token valid until %s: run `liqolet peer`\n"
                     "# again before then to renew it.\n"
                     "apiVersion: v1\n"
                     "kind: Config\n"
                     "clusters:\n"
                     "- name: %s\n"
                     "  cluster:\n"
                     "    server: %s\n"
                     "%s%s%s%s"
                     "users:\n"
                     "- name: liqolet\n"
                     "  user:\n"
                     "    token: %s\n"
                     "contexts:\n"
                     "- name: liqolet@%s\n"
                     "  context:\n"
                     "    cluster: %s\n"
                     "    user: liqolet\n"
                     "    namespace: %s\n"
                     "current-context: liqolet@%s\n",
                     side_name[side], pe.ns, LQ_PEER_SA, pe.token_exp[0] ? pe.token_exp : "unknown",
                     side_name[side], server, b64_len ? "    certificate-authority-data: " : "",
                     b64_len ? pe.b64 : "", b64_len ? "\n" : "",
                     k->insecure_skip_tls_verify ? "    insecure-skip-tls-verify: true\n" : tsn,
                     pe.token, side_name[side], side_name[side], pe.ns, side_name[side]);
    if (n < 0 || (size_t)n >= sizeof pe.kcfg[side])
        return LQ_ETOOBIG;
    pe.kcfg_len[side] = (size_t)n;
    return LQ_OK;
}

/* The foreign kubeconfig into the home Secret the Deployment mounts. */
static lq_err_t secret(void)
{
    size_t b64_len = 0;
    char what[128];
    (void)snprintf(what, sizeof what, "Secret %s/%s", pe.ns, LQ_PEER_SECRET);
    if (pe.dry_run) {
        int n = snprintf(pe.body, sizeof pe.body,
                         "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\","
                         "\"namespace\":\"%s\"},\"type\":\"Opaque\",\"data\":{\"%s\":\"<the "
                         "foreign kubeconfig with the token, base64>\"}}",
                         LQ_PEER_SECRET, pe.ns, LQ_PEER_SECRET_KEY);
        dry_print(HOME, what, pe.body, (size_t)n);
        return LQ_OK;
    }
    int n = snprintf(pe.secret, sizeof pe.secret,
                     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\","
                     "\"namespace\":\"%s\",\"labels\":{\"app.kubernetes.io/name\":\"liqolet\","
                     "\"app.kubernetes.io/managed-by\":\"" LQ_PEER_FIELD_MANAGER "\"}},"
                     "\"type\":\"Opaque\",\"data\":{\"%s\":\"",
                     LQ_PEER_SECRET, pe.ns, LQ_PEER_SECRET_KEY);
    if (n < 0 || (size_t)n >= sizeof pe.secret ||
        lq_tls_base64(true, pe.kcfg[FOREIGN], pe.kcfg_len[FOREIGN], pe.secret + n,
                      sizeof pe.secret - (size_t)n, &b64_len) != LQ_OK ||
        (size_t)n + b64_len + 4 > sizeof pe.secret) {
        pe.failures++;
        fprintf(stderr, "liqolet peer: the foreign kubeconfig is too large for the Secret buffer\n");
        return LQ_ETOOBIG;
    }
    size_t len = (size_t)n + b64_len;
    memcpy(pe.secret + len, "\"}}", 4);
    len += 3;
    lq_err_t e = lq_kapi_path(pe.path, sizeof pe.path, "v1", pe.ns, "secrets", LQ_PEER_SECRET, NULL);
    if (e == LQ_OK)
        e = apply(HOME, pe.path, what, pe.secret, len);
    memset(pe.secret, 0, len);
    return e;
}

/* --- files ----------------------------------------------------------------------------- */

static lq_err_t make_dir(const char *dir)
{
    char p[sizeof pe.out_dir];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return LQ_EINVAL;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "liqolet peer: cannot create directory %s: %s\n", p, strerror(errno));
            return LQ_EIO;
        }
        p[i] = c;
    }
    return LQ_OK;
}

static lq_err_t write_file(const char *path, const char *text, size_t len)
{
    lq_err_t e = lq_port_file_write(path, text, len);
    if (e != LQ_OK) {
        pe.failures++;
        fprintf(stderr, "liqolet peer: cannot write %s: %s\n", path, lq_err_str(e));
    }
    return e;
}

/* --- the two sides ------------------------------------------------------------------------ */

static int foreign_side(void)
{
    if (apply_identity(FOREIGN) != LQ_OK || apply_rbac(FOREIGN) != LQ_OK)
        return 1;
    if (pe.dry_run) {
        printf("# foreign cluster: a bound token of ServiceAccount %s/%s (TokenRequest, %lld s)\n",
               pe.ns, LQ_PEER_SA, (long long)pe.ttl_s);
        return 0;
    }
    if (token(FOREIGN, pe.ttl_s) != LQ_OK)
        return 1;
    printf("  foreign token    ServiceAccount %s/%s, valid until %s\n", pe.ns, LQ_PEER_SA,
           pe.token_exp[0] ? pe.token_exp : "(not said)");
    lq_err_t e = kubeconfig(FOREIGN, pe.foreign_server ? pe.foreign_server : pe.cl[FOREIGN].kcfg.server);
    memset(pe.token, 0, sizeof pe.token);
    if (e != LQ_OK) {
        pe.failures++;
        fprintf(stderr, "liqolet peer: the foreign kubeconfig does not fit its buffer\n");
        return 1;
    }
    return 0;
}

static int home_side(void)
{
    if (apply_identity(HOME) != LQ_OK || apply_rbac(HOME) != LQ_OK || crd() != LQ_OK)
        return 1;
    if (pe.in_cluster) {
        if (pe.kcfg_len[FOREIGN] == 0 && !pe.dry_run) {
            printf("  home    skipped  Secret %s/%s: no foreign kubeconfig (give "
                   "--agent-foreign-kubeconfig FILE, written by peer --foreign-only)\n", pe.ns,
                   LQ_PEER_SECRET);
            return 0;
        }
        return secret() == LQ_OK ? 0 : 1;
    }
    if (pe.dry_run) {
        printf("# home cluster: a bound token of ServiceAccount %s/%s (TokenRequest, %lld s) "
               "into %s/home.kubeconfig\n", pe.ns, LQ_PEER_SA, (long long)pe.ttl_s, pe.out_dir);
        return 0;
    }
    if (token(HOME, pe.ttl_s) != LQ_OK)
        return 1;
    printf("  home    token    ServiceAccount %s/%s, valid until %s\n", pe.ns, LQ_PEER_SA,
           pe.token_exp[0] ? pe.token_exp : "(not said)");
    lq_err_t e = kubeconfig(HOME, pe.cl[HOME].kcfg.server);
    memset(pe.token, 0, sizeof pe.token);
    if (e != LQ_OK) {
        pe.failures++;
        return 1;
    }
    return 0;
}

/* Files of the agent: home.kubeconfig without --in-cluster; foreign.kubeconfig without
 * --in-cluster, or with --foreign-only (the home side's admin takes it from there). */
static int write_files(void)
{
    if (pe.dry_run)
        return 0;
    bool want[2] = { !pe.in_cluster && pe.kcfg_len[HOME] > 0,
                     pe.kcfg_len[FOREIGN] > 0 && (!pe.in_cluster || pe.foreign_only) };
    if (!want[HOME] && !want[FOREIGN])
        return 0;
    if (make_dir(pe.out_dir) != LQ_OK) {
        pe.failures++;
        return 1;
    }
    for (int s = 0; s < 2; s++) {
        if (!want[s])
            continue;
        (void)snprintf(pe.file[s], sizeof pe.file[s], "%s/%s.kubeconfig", pe.out_dir, side_name[s]);
        if (write_file(pe.file[s], pe.kcfg[s], pe.kcfg_len[s]) != LQ_OK)
            return 1;
        printf("  wrote   %s (mode 0600)\n", pe.file[s]);
    }
    return 0;
}

/* `liqolet check` with the agent's credentials exactly as written. For --in-cluster the
 * home account's credentials are the pod's: a 10-minute token of that account stands in
 * for them, and the foreign kubeconfig of the Secret goes to a temporary file. */
static int run_check(void)
{
    const char *tmp = lq_port_getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (pe.in_cluster) {
        if (token(HOME, PEER_CHECK_TTL_S) != LQ_OK)
            return 1;
        lq_err_t e = kubeconfig(HOME, pe.cl[HOME].kcfg.server);
        memset(pe.token, 0, sizeof pe.token);
        if (e != LQ_OK)
            return 1;
        for (int s = 0; s < 2; s++) {
            (void)snprintf(pe.file[s], sizeof pe.file[s], "%s/liqolet-peer-%ld-%s.kubeconfig", tmp,
                           (long)getpid(), side_name[s]);
            if (write_file(pe.file[s], pe.kcfg[s], pe.kcfg_len[s]) != LQ_OK)
                return 1;
            pe.file_tmp[s] = true;
        }
    }
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)"--home-kubeconfig";
    argv[n++] = pe.file[HOME];
    argv[n++] = (char *)"--foreign-kubeconfig";
    argv[n++] = pe.file[FOREIGN];
    argv[n++] = (char *)"--node-name";
    argv[n++] = pe.node;
    argv[n++] = (char *)"--namespace";
    argv[n++] = (char *)pe.ns;
    argv[n++] = (char *)"--foreign-cluster-id";
    argv[n++] = pe.id[FOREIGN];
    if (pe.allow_insecure) {
        argv[n++] = (char *)"--allow-insecure-tls";
        argv[n++] = (char *)"true";
    }
    printf("\nchecking with the agent's credentials (liqolet check):\n");
    fflush(stdout);
    int rc = lq_check_main(n, argv);
    for (int s = 0; s < 2; s++)
        if (pe.file_tmp[s])
            (void)unlink(pe.file[s]);
    return rc;
}

/* --- removal (liqolet unpeer --remove-identity) -------------------------------------------- */

/* Deletes the object at pe.path when peer wrote it: its managedFields name our field
 * manager (DESIGN.md Decision 17: an object someone else made under the same name stays),
 * with its UID as precondition. Returns 1 deleted, 0 absent or not ours, -1 failed. */
static int remove_one(int side, const char *what)
{
    q_prepare(LQ_KREQ_ACCEPT_META);
    lq_err_t e = call(side, lq_kreq_get(&pe.q, pe.path));
    if (e == LQ_ENOTFOUND)
        return 0;
    if (e != LQ_OK) {
        failed(side, what, e);
        return -1;
    }
    lq_json_t *root = parsed();
    char uid[64] = "";
    bool ours = false;
    (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "uid"), uid, sizeof uid);
    for (const lq_json_t *m = lq_json_first(LQ_JSON_AT(root, "metadata", "managedFields")); m;
         m = lq_json_next(m)) {
        char mgr[64] = "";
        if (lq_json_str_copy(lq_json_get(m, "manager"), mgr, sizeof mgr) == LQ_OK &&
            strcmp(mgr, LQ_PEER_FIELD_MANAGER) == 0)
            ours = true;
    }
    if (!ours || uid[0] == '\0') {
        printf("  %-7s kept     %s (not written by liqolet peer)\n", side_name[side], what);
        return 0;
    }
    q_prepare(NULL);
    e = call(side, lq_kreq_delete(&pe.q, pe.path, uid, NULL));
    if (e == LQ_ENOTFOUND)
        return 0;
    if (e != LQ_OK) {
        failed(side, what, e);
        return -1;
    }
    printf("  %-7s deleted  %s\n", side_name[side], what);
    return 1;
}

static unsigned remove_side(int side, const char *foreign_id)
{
    unsigned n = 0;
    size_t len = 0, pos = 0;
    lq_manifest_doc_t d;
    if (lq_peer_render_rbac(side, pe.ns, pe.node, foreign_id, pe.id[HOME], 2, pe.rbac, sizeof pe.rbac,
                            &len) != LQ_OK) {
        pe.failures++;
        return 0;
    }
    while (lq_manifest_next(pe.rbac, len, &pos, &d) == LQ_OK) {
        char what[sizeof d.kind + sizeof d.name + sizeof d.namespace + 4];
        (void)snprintf(what, sizeof what, "%s %s%s%s", d.kind, d.namespace, d.namespace[0] ? "/" : "", d.name);
        if (lq_manifest_path(&d, true, pe.path, sizeof pe.path) == LQ_OK && remove_one(side, what) > 0)
            n++;
    }
    char what[128];
    if (side == HOME) {
        (void)snprintf(what, sizeof what, "Secret %s/%s", pe.ns, LQ_PEER_SECRET);
        if (lq_kapi_path(pe.path, sizeof pe.path, "v1", pe.ns, "secrets", LQ_PEER_SECRET, NULL) == LQ_OK &&
            remove_one(side, what) > 0)
            n++;
    }
    (void)snprintf(what, sizeof what, "ServiceAccount %s/%s (its tokens stop working)", pe.ns, LQ_PEER_SA);
    if (lq_kapi_path(pe.path, sizeof pe.path, "v1", pe.ns, "serviceaccounts", LQ_PEER_SA, NULL) == LQ_OK &&
        remove_one(side, what) > 0)
        n++;
    return n;
}

int lq_peer_remove_identity(const char *kc[2], const char *ctx[2], const char *ns, const char *node,
                            const char *home_id, const char *foreign_id, bool allow_insecure)
{
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    pe.ns = ns;
    (void)snprintf(pe.node, sizeof pe.node, "%s", node);
    (void)snprintf(pe.id[HOME], sizeof pe.id[HOME], "%s", home_id ? home_id : "");
    lq_json_doc_init(&pe.doc, pe.arena, sizeof pe.arena);
    lq_loop_init(&pe.loop);
    unsigned n = 0;
    printf("removing the identities liqolet peer created (namespace %s, node %s):\n", ns, node);
    for (int s = 0; s < 2; s++) {
        if (s == FOREIGN && kc[FOREIGN] == NULL)
            continue; /* unpeer --force: the foreign cluster is gone */
        if (lq_cluster_open(&pe.cl[s], side_name[s], kc[s], ctx[s], false, err, sizeof err) != LQ_OK ||
            lq_cluster_tls_policy(&pe.cl[s], allow_insecure, err, sizeof err) != LQ_OK) {
            fprintf(stderr, "liqolet unpeer --remove-identity: %s\n", err);
            return 1;
        }
        lq_kreq_client_init(&pe.req[s], &pe.loop, &pe.cl[s].target, &pe.cl[s].kcfg);
        n += remove_side(s, foreign_id);
    }
    printf("  identity objects deleted              %u (namespaces and the CRD are kept)\n", n);
    if (pe.failures > 0) {
        fprintf(stderr, "liqolet unpeer --remove-identity: %u object(s) could not be removed "
                "(logged above; these credentials must be a cluster admin's)\n", pe.failures);
        return 1;
    }
    return 0;
}

/* --- command line -------------------------------------------------------------------------- */

static const char usage_text[] =
    "Usage: liqolet peer --home-kubeconfig ADMIN --foreign-kubeconfig ADMIN [options]\n"
    "\n"
    "Sets up a peering from cluster-admin kubeconfigs, as Liqo's `liqoctl peer`: in the\n"
    "foreign cluster the namespace, the ServiceAccount liqolet, the foreign RBAC and\n"
    "admission policies of the permission table (docs/rbac.md) for it and a bound token\n"
    "(TokenRequest API); in the home cluster the namespace, the ServiceAccount liqolet, the\n"
    "home RBAC and admission policies and, when the\n"
    "cluster has none, the NamespaceOffloading CRD. Then writes the agent's credentials:\n"
    "with --in-cluster the foreign kubeconfig into the Secret liqolet-foreign-kubeconfig\n"
    "(the Deployment of deploy/ mounts it; the pod's own account is the home identity);\n"
    "otherwise home.kubeconfig and foreign.kubeconfig (mode 0600) into the output directory.\n"
    "Finally runs `liqolet check` with those credentials. Every object is applied with\n"
    "server-side apply (field manager liqolet-peer), so running it again changes nothing\n"
    "but the tokens, which it renews.\n"
    "\n"
    "  --home-kubeconfig FILE      admin kubeconfig of the home (consumer) cluster\n"
    "  --home-context NAME         context in it (default: its current context)\n"
    "  --foreign-kubeconfig FILE   admin kubeconfig of the foreign (provider) cluster\n"
    "  --foreign-context NAME\n"
    "  --namespace NS              the agent's namespace in both clusters (default liqo)\n"
    "  --node-name NAME            the virtual node (default: liqo-<foreign cluster name>, as\n"
    "                              `liqolet run` derives it; with --in-cluster liqo-foreign,\n"
    "                              as deploy/deployment.yaml passes it)\n"
    "  --foreign-cluster-name NAME as liqolet run's (default: from the foreign cluster id)\n"
    "  --foreign-cluster-id ID     needed with --home-only (peer --foreign-only prints it)\n"
    "  --home-cluster-id ID        with --foreign-only: the foreign admission policies then\n"
    "                              accept only objects of that home cluster (default: any)\n"
    "  --pod-security LEVEL        as liqolet run's (none|privileged|baseline|restricted,\n"
    "                              default baseline): the level the foreign namespace policy\n"
    "                              requires on the namespaces the agent creates\n"
    "  --foreign-server URL        API server URL written into the foreign kubeconfig\n"
    "                              (default: the admin kubeconfig's; give one the agent can\n"
    "                              reach when it runs elsewhere, e.g. in a pod)\n"
    "  --in-cluster                the agent runs in the home cluster (deploy/): no home\n"
    "                              token; the foreign kubeconfig goes into the home Secret\n"
    "  --output-dir DIR            where the kubeconfig files go (default /etc/liqolet as\n"
    "                              root, else $XDG_CONFIG_HOME/liqolet or ~/.config/liqolet)\n"
    "  --token-ttl DUR             lifetime asked for the bound tokens (e.g. 720h, 90d;\n"
    "                              default 365d; the API server may shorten it). Run peer\n"
    "                              again before they expire: it renews them\n"
    "  --foreign-only              admin of the foreign cluster only: do that side, write\n"
    "                              foreign.kubeconfig, print the command for the home side\n"
    "  --home-only                 admin of the home cluster only (needs\n"
    "                              --foreign-cluster-id; --agent-foreign-kubeconfig FILE is\n"
    "                              the foreign.kubeconfig --foreign-only wrote)\n"
    "  --agent-foreign-kubeconfig FILE\n"
    "  --dry-run                   print the objects (YAML; tokens never), write nothing\n"
    "  --no-check                  do not run liqolet check at the end\n"
    "  --allow-insecure-tls BOOL   accept admin kubeconfigs with insecure-skip-tls-verify\n"
    "  --log-level LEVEL, --log-format FORMAT\n"
    "  -h, --help                  this help\n"
    "\n"
    "`liqolet unpeer --remove-identity` (with admin kubeconfigs) removes what peer created\n"
    "except the namespaces and the CRD. Exit status: 0 done and the check passed; 1 a step\n"
    "or the check failed (each is said); 2 usage error.\n";

static bool parse_ttl(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0)
        return false;
    int64_t mul = 1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60;
    else if (strcmp(end, "h") == 0)
        mul = 3600;
    else if (strcmp(end, "d") == 0)
        mul = 86400;
    else
        return false;
    if (v > (long long)(10LL * 365 * 86400) / mul)
        return false;
    *out = (int64_t)v * mul;
    return *out >= PEER_TTL_MIN_S;
}

static int parse(int argc, char **argv)
{
    pe.ns = LQ_PERMS_DEFAULT_NAMESPACE;
    pe.ttl_s = PEER_TTL_DEFAULT_S;
    pe.pod_security = 2; /* run's default: baseline */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return -1;
        } else if (strcmp(a, "--in-cluster") == 0) {
            pe.in_cluster = true;
            continue;
        } else if (strcmp(a, "--dry-run") == 0) {
            pe.dry_run = true;
            continue;
        } else if (strcmp(a, "--home-only") == 0) {
            pe.home_only = true;
            continue;
        } else if (strcmp(a, "--foreign-only") == 0) {
            pe.foreign_only = true;
            continue;
        } else if (strcmp(a, "--no-check") == 0) {
            pe.no_check = true;
            continue;
        }
        const char *ttl = NULL, *insecure = NULL, *lvl = NULL, *fmt = NULL, *psa = NULL;
        if (strcmp(a, "--home-kubeconfig") == 0) slot = &pe.kc[HOME];
        else if (strcmp(a, "--foreign-kubeconfig") == 0) slot = &pe.kc[FOREIGN];
        else if (strcmp(a, "--home-context") == 0) slot = &pe.ctx[HOME];
        else if (strcmp(a, "--foreign-context") == 0) slot = &pe.ctx[FOREIGN];
        else if (strcmp(a, "--namespace") == 0) slot = &pe.ns;
        else if (strcmp(a, "--node-name") == 0) slot = &pe.node_arg;
        else if (strcmp(a, "--foreign-cluster-id") == 0) slot = &pe.foreign_id_arg;
        else if (strcmp(a, "--foreign-cluster-name") == 0) slot = &pe.foreign_name_arg;
        else if (strcmp(a, "--foreign-server") == 0) slot = &pe.foreign_server;
        else if (strcmp(a, "--output-dir") == 0) slot = &pe.out_dir_arg;
        else if (strcmp(a, "--agent-foreign-kubeconfig") == 0) slot = &pe.agent_foreign_kc;
        else if (strcmp(a, "--token-ttl") == 0) slot = &ttl;
        else if (strcmp(a, "--home-cluster-id") == 0) slot = &pe.home_id_arg;
        else if (strcmp(a, "--pod-security") == 0) slot = &psa;
        else if (strcmp(a, "--allow-insecure-tls") == 0) slot = &insecure;
        else if (strcmp(a, "--log-level") == 0) slot = &lvl;
        else if (strcmp(a, "--log-format") == 0) slot = &fmt;
        if (slot == NULL) {
            fprintf(stderr, "liqolet peer: unknown option '%s' (see liqolet peer --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "liqolet peer: %s needs a value\n", a);
            return 2;
        }
        *slot = argv[++i];
        if (ttl && !parse_ttl(ttl, &pe.ttl_s)) {
            fprintf(stderr, "liqolet peer: --token-ttl wants a duration between 10m and 3650d "
                    "(e.g. 720h, 90d)\n");
            return 2;
        }
        if (psa) {
            static const char *const levels[] = { "none", "privileged", "baseline", "restricted" };
            unsigned k = 0;
            while (k < 4 && strcmp(psa, levels[k]) != 0)
                k++;
            if (k == 4) {
                fprintf(stderr, "liqolet peer: --pod-security takes none|privileged|baseline|restricted\n");
                return 2;
            }
            pe.pod_security = k;
        }
        if (insecure) {
            if (strcmp(insecure, "true") != 0 && strcmp(insecure, "false") != 0) {
                fprintf(stderr, "liqolet peer: --allow-insecure-tls takes true or false\n");
                return 2;
            }
            pe.allow_insecure = strcmp(insecure, "true") == 0;
        }
        lq_log_level_t l;
        lq_log_format_t f;
        if (lvl) {
            if (lq_log_level_parse(lvl, &l) != LQ_OK) {
                fprintf(stderr, "liqolet peer: --log-level: '%s' is not one of "
                        "error|warn|info|debug|trace\n", lvl);
                return 2;
            }
            lq_log_set_level(l);
        }
        if (fmt) {
            if (lq_log_format_parse(fmt, &f) != LQ_OK) {
                fprintf(stderr, "liqolet peer: --log-format: '%s' is not one of plain|json\n", fmt);
                return 2;
            }
            lq_log_set_format(f);
        }
    }
    if (pe.foreign_server != NULL) {
        bool ok = strncmp(pe.foreign_server, "https://", 8) == 0 && pe.foreign_server[8] != '\0' &&
                  strlen(pe.foreign_server) < 400;
        for (const char *c = pe.foreign_server; ok && *c; c++)
            ok = *c > ' ' && *c != 0x7f && *c != '"' && *c != '\'' && *c != '#';
        if (!ok) {
            fprintf(stderr, "liqolet peer: --foreign-server wants an https:// URL without spaces "
                    "or quotes\n");
            return 2;
        }
    }
    if (pe.home_only && pe.foreign_only) {
        fprintf(stderr, "liqolet peer: --home-only and --foreign-only exclude each other\n");
        return 2;
    }
    if (!pe.home_only && pe.kc[FOREIGN] == NULL) {
        fprintf(stderr, "liqolet peer: --foreign-kubeconfig ADMIN is needed (or --home-only)\n");
        return 2;
    }
    if (!pe.foreign_only && pe.kc[HOME] == NULL) {
        fprintf(stderr, "liqolet peer: --home-kubeconfig ADMIN is needed (or --foreign-only)\n");
        return 2;
    }
    if (pe.home_only && (pe.foreign_id_arg == NULL || pe.foreign_id_arg[0] == '\0')) {
        fprintf(stderr, "liqolet peer --home-only: --foreign-cluster-id ID is needed (the foreign "
                "kube-system namespace's UID; peer --foreign-only prints it)\n");
        return 2;
    }
    /* the output directory */
    int n;
    if (pe.out_dir_arg)
        n = snprintf(pe.out_dir, sizeof pe.out_dir, "%s", pe.out_dir_arg);
    else if (geteuid() == 0)
        n = snprintf(pe.out_dir, sizeof pe.out_dir, "/etc/liqolet");
    else if (lq_port_getenv("XDG_CONFIG_HOME") && lq_port_getenv("XDG_CONFIG_HOME")[0] == '/')
        n = snprintf(pe.out_dir, sizeof pe.out_dir, "%s/liqolet", lq_port_getenv("XDG_CONFIG_HOME"));
    else if (lq_port_getenv("HOME"))
        n = snprintf(pe.out_dir, sizeof pe.out_dir, "%s/.config/liqolet", lq_port_getenv("HOME"));
    else
        n = snprintf(pe.out_dir, sizeof pe.out_dir, "liqolet");
    if (n < 0 || (size_t)n >= sizeof pe.out_dir - 32) {
        fprintf(stderr, "liqolet peer: the output directory path is too long\n");
        return 2;
    }
    return 0;
}

static lq_err_t kube_system_uid(int side, char *out, size_t cap)
{
    q_prepare(LQ_KREQ_ACCEPT_META);
    lq_err_t e = call(side, lq_kreq_get(&pe.q, "/api/v1/namespaces/kube-system"));
    if (e != LQ_OK)
        return e;
    return lq_json_str_copy(LQ_JSON_AT(parsed(), "metadata", "uid"), out, cap);
}

/* Both clusters reachable, admin enough to read kube-system, and distinct; the names. */
static int identities(void)
{
    for (int s = 0; s < 2; s++) {
        if (!pe.open[s])
            continue;
        lq_err_t e = kube_system_uid(s, pe.id[s], sizeof pe.id[s]);
        if (e != LQ_OK) {
            fprintf(stderr, "liqolet peer: cannot read the %s cluster's identity (namespace "
                    "kube-system) at %s: %s%s%s; nothing was changed\n", side_name[s],
                    pe.cl[s].kcfg.server, lq_err_str(e), pe.q.message[0] ? " - " : "",
                    pe.q.message);
            return 1;
        }
    }
    if (pe.home_id_arg && !pe.open[HOME])
        (void)snprintf(pe.id[HOME], sizeof pe.id[HOME], "%s", pe.home_id_arg);
    if (pe.foreign_id_arg) {
        if (pe.open[FOREIGN] && strcmp(pe.foreign_id_arg, pe.id[FOREIGN]) != 0) {
            fprintf(stderr, "liqolet peer: --foreign-cluster-id %s is not the foreign cluster's "
                    "(%s)\n", pe.foreign_id_arg, pe.id[FOREIGN]);
            return 2;
        }
        (void)snprintf(pe.id[FOREIGN], sizeof pe.id[FOREIGN], "%s", pe.foreign_id_arg);
    }
    if (pe.open[HOME] && strcmp(pe.id[HOME], pe.id[FOREIGN]) == 0) {
        fprintf(stderr, "liqolet peer: home and foreign are the same cluster (kube-system UID %s)\n",
                pe.id[HOME]);
        return 2;
    }
    if (pe.foreign_name_arg)
        (void)snprintf(pe.foreign_name, sizeof pe.foreign_name, "%s", pe.foreign_name_arg);
    else
        lq_run_derive_name(pe.id[FOREIGN], pe.foreign_name, sizeof pe.foreign_name);
    if (pe.node_arg)
        (void)snprintf(pe.node, sizeof pe.node, "%s", pe.node_arg);
    else if (pe.in_cluster)
        (void)snprintf(pe.node, sizeof pe.node, "%s", LQ_PERMS_DEFAULT_NODE);
    else
        (void)snprintf(pe.node, sizeof pe.node, "liqo-%s", pe.foreign_name);
    /* the names must make valid RBAC before anything is written */
    size_t len = 0;
    if (lq_peer_render_rbac(HOME, pe.ns, pe.node, pe.id[FOREIGN], pe.id[HOME], pe.pod_security, pe.rbac,
                            sizeof pe.rbac, &len) != LQ_OK ||
        lq_peer_render_rbac(FOREIGN, pe.ns, pe.node, pe.id[FOREIGN], pe.id[HOME], pe.pod_security, pe.rbac,
                            sizeof pe.rbac, &len) != LQ_OK) {
        fprintf(stderr, "liqolet peer: --namespace %s, node %s or foreign id %s cannot name "
                "Kubernetes objects\n", pe.ns, pe.node, pe.id[FOREIGN]);
        return 2;
    }
    return 0;
}

/* Every permission the writes need, asked before the first write (one
 * SelfSubjectAccessReview each), so credentials that are not admin enough change nothing
 * and the missing permissions are named. */
typedef struct need {
    int side;          /* -1 both */
    const char *verb, *group, *resource, *sub;
    int ns;            /* 0 cluster-scoped, 1 the agent's namespace, 2 kube-node-lease */
    bool in_cluster;   /* only with --in-cluster */
} need_t;

static const need_t needs[] = {
    { -1, "create", "", "namespaces", "", 0, false },
    { -1, "patch", "", "namespaces", "", 0, false },
    { -1, "create", "", "serviceaccounts", "", 1, false },
    { -1, "patch", "", "serviceaccounts", "", 1, false },
    { -1, "create", "", "serviceaccounts", "token", 1, false },
    { -1, "create", "rbac.authorization.k8s.io", "clusterroles", "", 0, false },
    { -1, "patch", "rbac.authorization.k8s.io", "clusterroles", "", 0, false },
    { -1, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", 0, false },
    { -1, "patch", "rbac.authorization.k8s.io", "clusterrolebindings", "", 0, false },
    { HOME, "create", "rbac.authorization.k8s.io", "roles", "", 1, false },
    { HOME, "patch", "rbac.authorization.k8s.io", "roles", "", 1, false },
    { HOME, "create", "rbac.authorization.k8s.io", "rolebindings", "", 1, false },
    { HOME, "patch", "rbac.authorization.k8s.io", "rolebindings", "", 1, false },
    { HOME, "create", "rbac.authorization.k8s.io", "roles", "", 2, false },
    { HOME, "patch", "rbac.authorization.k8s.io", "roles", "", 2, false },
    { HOME, "create", "rbac.authorization.k8s.io", "rolebindings", "", 2, false },
    { HOME, "patch", "rbac.authorization.k8s.io", "rolebindings", "", 2, false },
    { -1, "create", "admissionregistration.k8s.io", "validatingadmissionpolicies", "", 0, false },
    { -1, "patch", "admissionregistration.k8s.io", "validatingadmissionpolicies", "", 0, false },
    { -1, "create", "admissionregistration.k8s.io", "validatingadmissionpolicybindings", "", 0, false },
    { -1, "patch", "admissionregistration.k8s.io", "validatingadmissionpolicybindings", "", 0, false },
    { HOME, "get", "apiextensions.k8s.io", "customresourcedefinitions", "", 0, false },
    { HOME, "create", "apiextensions.k8s.io", "customresourcedefinitions", "", 0, false },
    { HOME, "create", "", "secrets", "", 1, true },
    { HOME, "patch", "", "secrets", "", 1, true },
};

static int preflight(int side)
{
    unsigned missing = 0;
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        const need_t *nd = &needs[i];
        if ((nd->side >= 0 && nd->side != side) || (nd->in_cluster && !pe.in_cluster))
            continue;
        const char *ns = nd->ns == 1 ? pe.ns : nd->ns == 2 ? LQ_PERMS_NODE_LEASE_NS : "";
        int n = snprintf(pe.body, sizeof pe.body,
                         "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                         "\"SelfSubjectAccessReview\",\"spec\":{\"resourceAttributes\":{\"verb\":"
                         "\"%s\",\"group\":\"%s\",\"resource\":\"%s\",\"subresource\":\"%s\","
                         "\"namespace\":\"%s\"}}}", nd->verb, nd->group, nd->resource, nd->sub, ns);
        q_prepare(NULL);
        lq_err_t e = call(side, lq_kreq_create(&pe.q, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                               pe.body, (size_t)n));
        bool allowed = false;
        if (e == LQ_OK) {
            if (lq_json_bool(LQ_JSON_AT(parsed(), "status", "allowed"), &allowed) != LQ_OK)
                allowed = false;
        } else {
            failed(side, "ask a SelfSubjectAccessReview", e);
            return 1;
        }
        if (!allowed) {
            missing++;
            fprintf(stderr, "liqolet peer: %s cluster: these credentials may not %s %s%s%s%s%s%s%s\n",
                    side_name[side], nd->verb, nd->resource, nd->sub[0] ? "/" : "", nd->sub,
                    nd->group[0] ? "." : "", nd->group, ns[0] ? " in namespace " : "", ns);
        }
    }
    if (missing > 0) {
        fprintf(stderr, "liqolet peer: the %s kubeconfig (%s) lacks %u permission(s) peer needs "
                "(a cluster admin's kubeconfig has them); nothing was changed\n", side_name[side],
                pe.cl[side].kcfg.origin, missing);
        return 1;
    }
    return 0;
}

static void print_next(void)
{
    static const char *const levels[] = { "none", "privileged", "baseline", "restricted" };
    char extra[512];
    (void)snprintf(extra, sizeof extra, "%s%s%s%s%s%s%s%s", pe.node_arg || pe.in_cluster ? " --node-name " : "",
                   pe.node_arg || pe.in_cluster ? pe.node : "",
                   strcmp(pe.ns, LQ_PERMS_DEFAULT_NAMESPACE) ? " --namespace " : "",
                   strcmp(pe.ns, LQ_PERMS_DEFAULT_NAMESPACE) ? pe.ns : "",
                   pe.foreign_name_arg ? " --foreign-cluster-name " : "",
                   pe.foreign_name_arg ? pe.foreign_name_arg : "",
                   pe.pod_security != 2 ? " --pod-security " : "",
                   pe.pod_security != 2 ? levels[pe.pod_security % 4] : "");
    if (pe.foreign_only) {
        printf("\nforeign side done. On the home side, with its admin kubeconfig, run:\n"
               "  liqolet peer --home-only --home-kubeconfig HOME-ADMIN.kubeconfig "
               "--foreign-cluster-id %s --agent-foreign-kubeconfig %s/foreign.kubeconfig%s%s\n",
               pe.id[FOREIGN], pe.out_dir, pe.in_cluster ? " --in-cluster" : "", extra);
        return;
    }
    if (pe.home_only && pe.kcfg_len[FOREIGN] == 0)
        printf("\nhome side done. The foreign side, with its admin kubeconfig:\n"
               "  liqolet peer --foreign-only --foreign-kubeconfig FOREIGN-ADMIN.kubeconfig%s%s\n",
               pe.in_cluster ? " --in-cluster" : "", extra);
    if (pe.in_cluster)
        printf("\nthe agent: kubectl apply --server-side -k deploy/ (namespace %s, Secret %s)\n",
               pe.ns, LQ_PEER_SECRET);
    else
        printf("\nthe agent: liqolet run --home-kubeconfig %s/home.kubeconfig --foreign-kubeconfig "
               "%s/foreign.kubeconfig%s\n", pe.out_dir, pe.out_dir, extra);
}

int lq_peer_main(int argc, char **argv)
{
    int rc = parse(argc, argv);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (lq_tls_init() != LQ_OK) {
        fprintf(stderr, "liqolet peer: cannot initialise TLS (entropy source?)\n");
        return 1;
    }
    lq_json_doc_init(&pe.doc, pe.arena, sizeof pe.arena);
    lq_loop_init(&pe.loop);
    if (lq_port_signals_install() != LQ_OK)
        return 1;
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    for (int s = 0; s < 2; s++) {
        if ((s == HOME && pe.foreign_only) || (s == FOREIGN && pe.home_only))
            continue;
        if (lq_cluster_open(&pe.cl[s], side_name[s], pe.kc[s], pe.ctx[s], false, err, sizeof err) != LQ_OK ||
            lq_cluster_tls_policy(&pe.cl[s], pe.allow_insecure, err, sizeof err) != LQ_OK) {
            fprintf(stderr, "liqolet peer: %s\n", err);
            return 1;
        }
        lq_kreq_client_init(&pe.req[s], &pe.loop, &pe.cl[s].target, &pe.cl[s].kcfg);
        pe.open[s] = true;
    }
    if (pe.home_only && pe.agent_foreign_kc) {
        size_t len = 0;
        unsigned mode = 0;
        bool other = false;
        lq_err_t e = lq_port_file_read_secret(pe.agent_foreign_kc, pe.kcfg[FOREIGN],
                                              sizeof pe.kcfg[FOREIGN] - 1, &len, &mode, &other);
        if (e != LQ_OK) {
            fprintf(stderr, "liqolet peer: cannot read --agent-foreign-kubeconfig %s: %s\n",
                    pe.agent_foreign_kc, lq_err_str(e));
            return 1;
        }
        pe.kcfg[FOREIGN][len] = '\0';
        pe.kcfg_len[FOREIGN] = len;
        (void)snprintf(pe.file[FOREIGN], sizeof pe.file[FOREIGN], "%s", pe.agent_foreign_kc);
    }
    rc = identities();
    if (rc != 0)
        return rc;
    printf("%s: home %s, foreign %s (%s), namespace %s, virtual node %s%s\n",
           pe.dry_run ? "dry run (nothing is written)" : "peering",
           pe.open[HOME] ? pe.id[HOME] : "(not given)", pe.id[FOREIGN], pe.foreign_name, pe.ns,
           pe.node, pe.in_cluster ? ", agent in-cluster" : "");
    fflush(stdout);
    for (int s = 0; s < 2; s++)
        if (pe.open[s] && preflight(s) != 0)
            return 1;
    if (pe.open[FOREIGN] && foreign_side() != 0)
        return 1;
    if (pe.open[HOME] && home_side() != 0)
        return 1;
    if (write_files() != 0)
        return 1;
    if (pe.dry_run)
        return 0;
    printf("%u object(s) applied, %u created\n", pe.applied, pe.created);
    print_next();
    if (pe.no_check || pe.foreign_only || (pe.home_only && pe.kcfg_len[FOREIGN] == 0))
        return 0;
    fflush(stdout);
    return run_check() == 0 ? 0 : 1;
}

#endif /* LQ_PEER */
