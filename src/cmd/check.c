/* liqolet: `liqolet check`, the preflight a user runs before peering.
 *
 * For each cluster (home, foreign), in parallel on the one event loop: load credentials,
 * open TLS, GET /version, read the kube-system namespace (cluster identity = its UID),
 * ask one SelfSubjectAccessReview per permission of the table in src/kube/perms.c, and probe
 * whether the server supports the streaming watch-list (sendInitialEvents=true).
 * Prints a report and exits 0 when everything is in order, 1 otherwise, each failure
 * with an explanation of what to do. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/check.h"
#include "liqolet/cluster.h"
#include "liqolet/conn.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/kreq.h"
#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "liqolet/loop.h"
#include "liqolet/perms.h"
#include "liqolet/tls.h"

#define CHECK_MAX_SSAR 128
#define CHECK_MAX_PROBLEMS 24
#define CHECK_BODY_MAX (64u * 1024u)
#define CHECK_TIMEOUT_MS 10000

enum step { ST_VERSION, ST_IDENTITY, ST_PERMS, ST_WATCHLIST, ST_DONE };

typedef struct ssar {
    char body[512];
    char what[192];
    const char *why;
} ssar_t;

typedef struct cluster {
    const char *label;
    lq_perms_cluster_t which;
    lq_cluster_t cl;
    bool loaded;
    lq_conn_t conn;
    lq_kreq_stream_t st; /* requests on conn: server path prefix, token, 401 re-read */
    enum step step;
    int status;
    char body[CHECK_BODY_MAX];
    size_t body_len;
    bool body_overflow;
    /* results */
    char version[64];
    char uid[64];
    char suite[96];  /* TLS version and cipher suite negotiated */
    ssar_t ssar[CHECK_MAX_SSAR];
    size_t n_ssar, next_ssar;
    unsigned allowed, denied;
    int watchlist; /* -1 unknown, 0 no, 1 yes */
    bool answered;  /* the server sent at least one HTTP response (TLS worked) */
    char problems[CHECK_MAX_PROBLEMS][LQ_CONN_ERR_MAX + 160];
    size_t n_problems;
    bool fatal; /* the rest of the checks could not run */
} cluster_t;

static struct {
    lq_loop_t loop;
    cluster_t c[2];
    lq_perms_params_t params;
    unsigned char json_arena[256u * 1024u];
    lq_json_doc_t doc;
    int pending;
    bool allow_insecure; /* --allow-insecure-tls true */
} ck;

static void problem(cluster_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(cluster_t *c, const char *fmt, ...)
{
    if (c->n_problems >= CHECK_MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->problems[c->n_problems], sizeof c->problems[0], fmt, ap);
    va_end(ap);
    c->n_problems++;
}

static void next(cluster_t *c);
static void on_done(lq_conn_t *conn, lq_err_t err, void *ctx);

/* --- building the SSAR list ------------------------------------------------------ */

static lq_err_t add_ssar(const lq_perms_check_t *k, void *ctx)
{
    cluster_t *c = ctx;
    if (c->n_ssar >= CHECK_MAX_SSAR)
        return LQ_ENOSPC;
    ssar_t *s = &c->ssar[c->n_ssar];
    int n;
    /* Every string comes from the static table or from names validated as DNS-1123 by
     * lq_perms_for_each, so none needs JSON escaping. */
    if (k->path != NULL) {
        n = snprintf(s->body, sizeof s->body,
                     "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
                     "\"spec\":{\"nonResourceAttributes\":{\"path\":\"%s\",\"verb\":\"%s\"}}}",
                     k->path, k->verb);
        (void)snprintf(s->what, sizeof s->what, "%s %s", k->verb, k->path);
    } else {
        n = snprintf(s->body, sizeof s->body,
                     "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
                     "\"spec\":{\"resourceAttributes\":{\"verb\":\"%s\",\"group\":\"%s\","
                     "\"resource\":\"%s\",\"subresource\":\"%s\",\"namespace\":\"%s\",\"name\":\"%s\"}}}",
                     k->verb, k->group, k->resource, k->subresource, k->namespace, k->name);
        (void)snprintf(s->what, sizeof s->what, "%s %s%s%s%s%s%s%s%s", k->verb,
                       k->group[0] ? k->group : "", k->group[0] ? "/" : "", k->resource,
                       k->subresource[0] ? "/" : "", k->subresource,
                       k->name[0] ? " named " : "", k->name,
                       k->namespace[0] ? " in namespace " : " (all namespaces)");
        if (k->namespace[0]) {
            size_t l = strlen(s->what);
            (void)snprintf(s->what + l, sizeof s->what - l, "%s", k->namespace);
        }
    }
    if (n < 0 || (size_t)n >= sizeof s->body)
        return LQ_ETOOBIG;
    s->why = k->rule->why;
    c->n_ssar++;
    return LQ_OK;
}

/* --- responses ------------------------------------------------------------------- */

static lq_err_t on_head(lq_conn_t *conn, const lq_http_resp_t *r, void *ctx)
{
    cluster_t *c = ctx;
    c->status = r->status;
    c->answered = true;
    if (!c->suite[0])
        (void)snprintf(c->suite, sizeof c->suite, "%s", lq_conn_tls_info(conn));
    c->body_len = 0;
    c->body_overflow = false;
    if (c->step == ST_WATCHLIST) {
        /* 200 is all we need to know; the stream itself is not read. */
        c->watchlist = r->status == 200;
        if (r->status == 200)
            return LQ_ECLOSED;
    }
    return LQ_OK;
}

static lq_err_t on_body(lq_conn_t *conn, const char *d, size_t n, void *ctx)
{
    (void)conn;
    cluster_t *c = ctx;
    if (c->body_len + n > sizeof c->body) {
        c->body_overflow = true;
        return LQ_OK;
    }
    memcpy(c->body + c->body_len, d, n);
    c->body_len += n;
    return LQ_OK;
}

static lq_json_t *parse_body(cluster_t *c)
{
    lq_json_t *root = NULL;
    lq_json_reset(&ck.doc);
    if (c->body_overflow || lq_json_parse(&ck.doc, c->body, c->body_len, &root) != LQ_OK)
        return NULL;
    return root;
}

/* Status message of an error response, for the report. */
static void status_message(cluster_t *c, char *out, size_t cap)
{
    out[0] = '\0';
    lq_json_t *root = parse_body(c);
    if (root == NULL || lq_json_str_copy(lq_json_get(root, "message"), out, cap) != LQ_OK)
        (void)snprintf(out, cap, "HTTP %d", c->status);
}

static const char *hint_for(lq_err_t e, const char *detail)
{
    switch (e) {
    case LQ_ECONNREFUSED:
        return "is the API server running, and is the server address in the kubeconfig right?";
    case LQ_ERESOLVE:
        return "the host name in the kubeconfig does not resolve on this machine";
    case LQ_ETIMEDOUT:
        return "the server did not answer in time: check the address, firewalls and the server's health";
    case LQ_ETLS:
        if (strstr(detail, "unknown authority"))
            return "the kubeconfig's certificate-authority does not sign this server's certificate; "
                   "export a fresh kubeconfig from this cluster";
        if (strstr(detail, "is valid for") || strstr(detail, "not valid for") ||
            strstr(detail, "does not match"))
            return "the server's certificate does not name the address in the kubeconfig; use the "
                   "name the certificate was issued for, or set tls-server-name";
        if (strstr(detail, "expired"))
            return "the server's certificate has expired; renew it on the server";
        return "see the TLS detail above";
    default:
        return "";
    }
}

/* path and body stay valid until on_done (literals, or c->ssar[]). */
static void request(cluster_t *c, const char *method, const char *target, const char *body)
{
    lq_conn_handler_t h = { .on_head = on_head, .on_body = on_body, .on_done = on_done, .ctx = c };
    lq_err_t e = lq_kreq_stream_send(&c->st, method, target, body, body ? strlen(body) : 0, &h,
                                     CHECK_TIMEOUT_MS);
    if (e != LQ_OK) {
        problem(c, "cannot send %s %s: %s", method, target, lq_err_str(e));
        c->fatal = true;
        c->step = ST_DONE;
        next(c);
    }
}

static void finish_cluster(cluster_t *c)
{
    c->step = ST_DONE;
    ck.pending--;
    if (ck.pending == 0)
        lq_loop_stop(&ck.loop);
}

static void next(cluster_t *c)
{
    switch (c->step) {
    case ST_VERSION:
        request(c, "GET", "/version", NULL);
        return;
    case ST_IDENTITY:
        request(c, "GET", "/api/v1/namespaces/kube-system", NULL);
        return;
    case ST_PERMS:
        if (c->next_ssar < c->n_ssar) {
            request(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                    c->ssar[c->next_ssar].body);
            return;
        }
        c->step = ST_WATCHLIST;
        /* fall through */
    case ST_WATCHLIST:
        request(c, "GET", "/api/v1/namespaces?watch=1&sendInitialEvents=true"
                          "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                          "&timeoutSeconds=1",
                NULL);
        return;
    case ST_DONE:
    default:
        finish_cluster(c);
        return;
    }
}

static void on_done(lq_conn_t *conn, lq_err_t err, void *ctx)
{
    cluster_t *c = ctx;
    if (c->step == ST_WATCHLIST) {
        if (c->watchlist != 1) {
            c->watchlist = 0;
        }
        c->step = ST_DONE;
        next(c);
        return;
    }
    if (err != LQ_OK) {
        problem(c, "%s", conn->error);
        const char *hint = hint_for(err, conn->error);
        if (hint[0])
            problem(c, "  -> %s", hint);
        c->fatal = true;
        c->step = ST_DONE;
        next(c);
        return;
    }
    lq_kapi_action_t action;
    /* A 401 here already had its token re-read and the request sent again by
     * lq_kreq_stream_send when the token file had changed. */
    lq_err_t st = lq_kapi_classify(c->status, NULL, 0, &action);
    char msg[LQ_CONN_ERR_MAX];
    switch (c->step) {
    case ST_VERSION: {
        if (st != LQ_OK) {
            status_message(c, msg, sizeof msg);
            if (st == LQ_EAUTH)
                problem(c, "the server rejected the credentials of %s (401: %s) -> the token "
                           "or client certificate is expired, revoked, or from another cluster",
                        c->cl.kcfg.origin, msg);
            else
                problem(c, "GET /version failed: %s", msg);
            c->fatal = true;
            c->step = ST_DONE;
            break;
        }
        lq_json_t *root = parse_body(c);
        if (root == NULL || lq_json_str_copy(lq_json_get(root, "gitVersion"), c->version,
                                             sizeof c->version) != LQ_OK)
            (void)snprintf(c->version, sizeof c->version, "unknown");
        c->step = ST_IDENTITY;
        break;
    }
    case ST_IDENTITY: {
        if (st != LQ_OK) {
            status_message(c, msg, sizeof msg);
            problem(c, "cannot read namespace kube-system (the cluster identity): %s", msg);
        } else {
            lq_json_t *root = parse_body(c);
            if (root == NULL || lq_json_str_copy(LQ_JSON_AT(root, "metadata", "uid"), c->uid,
                                                 sizeof c->uid) != LQ_OK)
                problem(c, "namespace kube-system has no metadata.uid");
        }
        c->step = ST_PERMS;
        break;
    }
    case ST_PERMS: {
        ssar_t *s = &c->ssar[c->next_ssar++];
        bool allowed = false;
        if (st == LQ_OK) {
            lq_json_t *root = parse_body(c);
            if (root == NULL ||
                lq_json_bool(LQ_JSON_AT(root, "status", "allowed"), &allowed) != LQ_OK)
                allowed = false;
        } else {
            status_message(c, msg, sizeof msg);
            problem(c, "SelfSubjectAccessReview failed: %s", msg);
        }
        if (allowed) {
            c->allowed++;
        } else {
            c->denied++;
            problem(c, "missing permission: %s (needed to %s)", s->what, s->why);
        }
        break;
    }
    default:
        break;
    }
    next(c);
}

/* --- set-up ------------------------------------------------------------------------ */

static bool load(cluster_t *c, const char *path, const char *context)
{
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    if (lq_cluster_open(&c->cl, c->label, path, context, c->which == LQ_PERMS_HOME, err,
                        sizeof err) != LQ_OK) {
        problem(c, "%s", err);
        return false;
    }
    if (lq_cluster_tls_policy(&c->cl, ck.allow_insecure, err, sizeof err) != LQ_OK)
        problem(c, "%s (liqolet run and unpeer refuse it)", err); /* the rest is still checked */
    lq_conn_init(&c->conn, &ck.loop, &c->cl.target);
    lq_kreq_stream_init(&c->st, &c->conn, &c->cl.kcfg);
    c->loaded = true;
    return true;
}

static void report(const cluster_t *c)
{
    printf("%s cluster\n", c->label);
    if (c->loaded) {
        printf("  server       %s  (%s)\n", c->cl.kcfg.server, c->cl.kcfg.origin);
        printf("  credentials  %s%s\n",
               c->cl.kcfg.cert_len ? "client certificate" : (c->cl.kcfg.token_len ? "bearer token" : "none"),
               c->cl.kcfg.token_file[0] ? " (token file, re-read when it rotates)" : "");
        if (!c->answered)
            printf("  TLS          no session established\n");
        else
            printf("  TLS          %s%s%s\n", c->suite, c->suite[0] ? ", " : "",
                   c->cl.kcfg.insecure_skip_tls_verify
                       ? "server certificate NOT verified (insecure-skip-tls-verify)"
                       : "server certificate verified against the kubeconfig's CA");
    }
    if (c->version[0])
        printf("  version      %s\n", c->version);
    if (c->uid[0])
        printf("  cluster id   %s (kube-system UID)\n", c->uid);
    if (c->n_ssar > 0 && !c->fatal)
        printf("  permissions  %u of %zu allowed\n", c->allowed, c->n_ssar);
    if (c->watchlist >= 0)
        printf("  watch-list   %s\n", c->watchlist ? "supported (streaming initial events)"
                                                 : "not supported (paginated LIST is used)");
    for (size_t i = 0; i < c->n_problems; i++)
        printf("  %s %s\n", c->problems[i][0] == ' ' ? " " : "!", c->problems[i]);
}

static void usage(FILE *f)
{
    fputs("Usage: liqolet check [--home-kubeconfig FILE] --foreign-kubeconfig FILE [options]\n"
          "\n"
          "Preflight before peering: connects to both API servers, prints their versions and\n"
          "cluster identities, checks every permission liqolet needs (one\n"
          "SelfSubjectAccessReview each, from the same table as deploy/rbac/*.yaml), and\n"
          "reports whether each server supports the streaming watch-list. Exits 0 when all is\n"
          "well, 1 with an explanation of each problem otherwise.\n"
          "\n"
          "  --home-kubeconfig FILE     home (consumer) cluster; default: in-cluster credentials\n"
          "  --home-context NAME        context in that file (default: its current context)\n"
          "  --foreign-kubeconfig FILE  foreign (provider) cluster; default: $KUBECONFIG or\n"
          "                             ~/.kube/config\n"
          "  --foreign-context NAME\n"
          "  --node-name NAME           the virtual node's name, for the permissions limited to\n"
          "                             it (default " LQ_PERMS_DEFAULT_NODE ")\n"
          "  --namespace NS             liqolet's own namespace (default " LQ_PERMS_DEFAULT_NAMESPACE ")\n"
          "  --foreign-cluster-id ID    check the lock Lease permission for that one name, as\n"
          "                             granted by manifests generated with rbacgen --foreign-id\n"
          "                             (default: any Lease of the namespace)\n"
          "  --allow-insecure-tls BOOL  true: accept a kubeconfig with insecure-skip-tls-verify,\n"
          "                             as liqolet run --allow-insecure-tls true does (default\n"
          "                             false: reported as a problem)\n"
          "  --log-level LEVEL, --log-format FORMAT  as for every command\n",
          f);
}

int lq_check_main(int argc, char **argv)
{
    const char *kc[2] = { NULL, NULL }, *ctx[2] = { NULL, NULL }, *insecure = "false";
    lq_perms_params_init(&ck.params);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        const char **slot = NULL;
        if (strcmp(a, "--home-kubeconfig") == 0)
            slot = &kc[0];
        else if (strcmp(a, "--foreign-kubeconfig") == 0)
            slot = &kc[1];
        else if (strcmp(a, "--home-context") == 0)
            slot = &ctx[0];
        else if (strcmp(a, "--foreign-context") == 0)
            slot = &ctx[1];
        else if (strcmp(a, "--node-name") == 0)
            slot = &ck.params.node_name;
        else if (strcmp(a, "--namespace") == 0)
            slot = &ck.params.namespace;
        else if (strcmp(a, "--foreign-cluster-id") == 0)
            slot = &ck.params.foreign_id;
        else if (strcmp(a, "--allow-insecure-tls") == 0)
            slot = &insecure;
        if (slot == NULL) {
            fprintf(stderr, "liqolet check: unknown option '%s' (see liqolet check --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "liqolet check: %s needs a value\n", a);
            return 2;
        }
        *slot = argv[++i];
    }
    if (strcmp(insecure, "true") != 0 && strcmp(insecure, "false") != 0) {
        fprintf(stderr, "liqolet check: --allow-insecure-tls takes true or false, not '%s'\n",
                insecure);
        return 2;
    }
    ck.allow_insecure = strcmp(insecure, "true") == 0;

    lq_loop_init(&ck.loop);
    lq_json_doc_init(&ck.doc, ck.json_arena, sizeof ck.json_arena);
    if (lq_tls_init() != LQ_OK) {
        fprintf(stderr, "liqolet check: cannot initialise TLS (entropy source?)\n");
        return 1;
    }
    static const char *const labels[2] = { "home", "foreign" };
    for (int k = 0; k < 2; k++) {
        cluster_t *c = &ck.c[k];
        c->label = labels[k];
        c->which = k == 0 ? LQ_PERMS_HOME : LQ_PERMS_FOREIGN;
        c->watchlist = -1;
        lq_err_t e = lq_perms_for_each(c->which, &ck.params, add_ssar, c);
        if (e != LQ_OK) {
            fprintf(stderr, "liqolet check: invalid --node-name, --namespace or --foreign-cluster-id (%s)\n", lq_err_str(e));
            return 2;
        }
        if (load(c, kc[k], ctx[k])) {
            ck.pending++;
            c->step = ST_VERSION;
        } else {
            c->fatal = true;
        }
    }
    for (int k = 0; k < 2; k++)
        if (ck.c[k].loaded)
            next(&ck.c[k]);
    int sig = ck.pending > 0 ? lq_loop_run(&ck.loop) : 0;
    if (sig != 0) {
        fprintf(stderr, "liqolet check: interrupted\n");
        return 1;
    }
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        report(&ck.c[k]);
        bad += (int)ck.c[k].n_problems;
    }
    if (ck.c[0].uid[0] && strcmp(ck.c[0].uid, ck.c[1].uid) == 0) {
        printf("! home and foreign are the same cluster (same kube-system UID)\n");
        bad++;
    }
    lq_tls_stats_t ts;
    lq_tls_stats(&ts);
    uint64_t hwm = 0, rss = 0;
    (void)lq_port_mem_usage(&hwm, &rss);
    LQ_DEBUG("check", "mbedTLS arena peak %zu of %zu bytes; peak RSS (VmHWM) %llu KiB",
             ts.arena_peak, ts.arena_size, (unsigned long long)(hwm / 1024u));
    printf(bad ? "check FAILED\n" : "check passed: ready to peer\n");
    return bad ? 1 : 0;
}
