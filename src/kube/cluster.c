/* liqolet: credentials + TLS profile + connection target for one API server. */
#include <stdio.h>
#include <string.h>

#include "liqolet/cluster.h"
#include "liqolet/tls.h"

lq_err_t lq_cluster_open(lq_cluster_t *c, const char *label, const char *kubeconfig,
                         const char *context, bool in_cluster, char *err, size_t cap)
{
    c->label = label;
    c->profile = -1;
    lq_err_t e;
    if (kubeconfig == NULL && in_cluster)
        e = lq_kcfg_in_cluster(&c->kcfg, err, cap);
    else
        e = lq_kcfg_load(&c->kcfg, kubeconfig, context, err, cap);
    if (e != LQ_OK)
        return e;
    lq_tls_profile_cfg_t tc;
    memset(&tc, 0, sizeof tc);
    /* No CA in the kubeconfig: NULL, so TLS says "no CA bundle" (or skips verification
     * when insecure-skip-tls-verify allows it) instead of failing to parse 0 bytes. */
    tc.ca = c->kcfg.ca_len ? c->kcfg.ca : NULL;
    tc.ca_len = c->kcfg.ca_len;
    tc.cert = c->kcfg.cert_len ? c->kcfg.cert : NULL;
    tc.cert_len = c->kcfg.cert_len;
    tc.key = c->kcfg.key_len ? c->kcfg.key : NULL;
    tc.key_len = c->kcfg.key_len;
    tc.insecure_skip_verify = c->kcfg.insecure_skip_tls_verify;
    char why[LQ_TLS_ERR_MAX];
    e = lq_tls_profile_open(&c->profile, &tc, why, sizeof why);
    if (e != LQ_OK) {
        (void)snprintf(err, cap, "%s: %s", c->kcfg.origin, why);
        return e;
    }
    c->target.host = c->kcfg.host;
    c->target.port = c->kcfg.port;
    c->target.verify_name = lq_kcfg_verify_name(&c->kcfg);
    c->target.tls_profile = c->profile;
    c->target.label = label;
    return LQ_OK;
}

lq_err_t lq_cluster_tls_policy(const lq_cluster_t *c, bool allow_insecure, char *err, size_t cap)
{
    if (!c->kcfg.insecure_skip_tls_verify || allow_insecure)
        return LQ_OK;
    (void)snprintf(err, cap, "%s sets insecure-skip-tls-verify: true: the %s API server's "
                   "certificate would not be checked; give its certificate authority "
                   "(certificate-authority-data) instead, or --allow-insecure-tls true to "
                   "accept the risk", c->kcfg.origin, c->label ? c->label : "");
    return LQ_ECONFIG;
}
