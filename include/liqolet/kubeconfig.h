/* liqolet: credentials for one API server, from a kubeconfig file (libyaml; the only
 * module that includes yaml.h: src/kube/kubeconfig.c) or from in-cluster service-account files.
 *
 * Everything lands in fixed fields of lq_kcfg_t; nothing is allocated for the caller
 * (libyaml's own allocations happen during parsing, which is start-up only). A field that
 * does not fit is LQ_ETOOBIG with a message naming it, never truncated. Secrets (token,
 * key) are registered with the log's redaction list. */
#ifndef LIQOLET_KUBECONFIG_H
#define LIQOLET_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"

#ifndef LQ_KCFG_PEM_MAX
#define LQ_KCFG_PEM_MAX (16u * 1024u) /* CA bundle, client cert chain, client key each */
#endif
#ifndef LQ_KCFG_TOKEN_MAX
#define LQ_KCFG_TOKEN_MAX 4096u
#endif
#ifndef LQ_KCFG_PATH_MAX
#define LQ_KCFG_PATH_MAX 512u
#endif
#ifndef LQ_KCFG_NAME_MAX
#define LQ_KCFG_NAME_MAX 253u
#endif
#define LQ_KCFG_ERR_MAX 320u

typedef struct lq_kcfg {
    /* Where the credentials came from, for messages: "kubeconfig /path (context x)" or
     * "in-cluster service account". */
    char origin[LQ_KCFG_PATH_MAX + LQ_KCFG_NAME_MAX + 32u];
    char context[LQ_KCFG_NAME_MAX + 1u];
    /* Server: https only. host is a DNS name or an IP literal without brackets. */
    char server[LQ_KCFG_PATH_MAX];  /* as written, e.g. "https://127.0.0.1:6443" */
    char host[LQ_KCFG_NAME_MAX + 1u];
    uint16_t port;                   /* 443 when the URL has none */
    char path_prefix[128];           /* URL path after the authority ("" usually) */
    char tls_server_name[LQ_KCFG_NAME_MAX + 1u]; /* overrides host for SNI/verification */
    bool insecure_skip_tls_verify;
    /* PEM with a terminating NUL counted in the *_len (mbedTLS's convention) or DER. */
    unsigned char ca[LQ_KCFG_PEM_MAX];
    size_t ca_len;                   /* 0: none given (then verification will fail
                                        unless insecure_skip_tls_verify) */
    unsigned char cert[LQ_KCFG_PEM_MAX];
    size_t cert_len;
    unsigned char key[LQ_KCFG_PEM_MAX];
    size_t key_len;
    /* Bearer token, inline or from token_file (re-read by lq_kcfg_token_refresh). */
    char token[LQ_KCFG_TOKEN_MAX];
    size_t token_len;
    char token_file[LQ_KCFG_PATH_MAX];
    int64_t token_mtime_ms;
    uint64_t token_size;
    bool token_exposed_said;         /* warned once: the token file is open to others */
    bool in_cluster;                 /* from lq_kcfg_in_cluster (its token is 0644 by design) */
} lq_kcfg_t;

/* Loads a kubeconfig. path NULL: $KUBECONFIG (colon-separated list, merged as kubectl
 * does: the first file to define a name wins, current-context from the first file that
 * sets it), else ~/.kube/config. context NULL: the current context.
 * Relative file paths inside are relative to the file that names them.
 * Returns LQ_OK; LQ_ENOTFOUND (no file / no such context, cluster or user); LQ_ECONFIG
 * (malformed YAML, a missing server, http:// server, a field of the wrong type);
 * LQ_ENOTSUP ("exec" or "auth-provider" users: not supported, use a token or a client
 * certificate; proxy-url: not supported yet); LQ_ETOOBIG (a field over its limit).
 * err gets one sentence a user can act on, naming the file and the field. */
lq_err_t lq_kcfg_load(lq_kcfg_t *out, const char *path, const char *context, char *err, size_t cap);

/* Parses kubeconfig text already in memory (the fuzz target's entry point). base_dir is
 * where relative paths are resolved (NULL: the current directory). Same returns. */
lq_err_t lq_kcfg_parse(lq_kcfg_t *out, const char *yaml, size_t len, const char *base_dir,
                       const char *context, char *err, size_t cap);

/* In-cluster credentials: KUBERNETES_SERVICE_HOST/PORT, the service-account token file
 * and ca.crt under /var/run/secrets/kubernetes.io/serviceaccount (dir overridable for
 * tests through $LIQOLET_SA_DIR). Returns LQ_OK, LQ_ENOTFOUND (not in a pod), LQ_ECONFIG. */
lq_err_t lq_kcfg_in_cluster(lq_kcfg_t *out, char *err, size_t cap);

/* Re-reads token_file when its mtime or size changed (force: always). Bound
 * service-account tokens rotate; a 401 calls this with force once.
 * Returns LQ_OK (unchanged or refreshed; *changed says which), LQ_ENOTFOUND,
 * LQ_ETOOBIG, LQ_EIO. A no-op returning LQ_OK when there is no token file. */
lq_err_t lq_kcfg_token_refresh(lq_kcfg_t *k, bool force, bool *changed);

/* The name to verify in the server certificate: tls_server_name if set, else host. */
const char *lq_kcfg_verify_name(const lq_kcfg_t *k);

#endif
