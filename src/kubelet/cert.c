/* liqolet: the kubelet API's serving certificate (include/liqolet/kubelet.h).
 *
 * As a kubelet without --tls-cert-file does: a self-signed certificate for the node's
 * address, generated once and kept (kubelet.crt and kubelet.key, mode 0600, under
 * kubelet.certDir), reused at the next start while it is valid for 30 more days and
 * names the node's current address; otherwise a new one replaces it. kube-apiserver
 * verifies kubelet certificates only with --kubelet-certificate-authority (docs/usage.md
 * says what that means for this one). */
#include <stdio.h>
#include <string.h>

#include "liqolet/kubelet.h"
#include "liqolet/log.h"
#include "liqolet/port.h"
#include "liqolet/tls.h"

#define MOD "kubelet"
#define VALID_DAYS 365u
#define RENEW_BEFORE_MS (30LL * 86400 * 1000)

/* The pair being read or made. k->cert_/key_ change only once it is complete (and kept):
 * a renewal that fails leaves the pair in use, which the server keeps serving and, since
 * it is still due, renews at a later tick. */
static char new_cert[sizeof ((lq_kubelet_t *)0)->cert_];
static char new_key[sizeof ((lq_kubelet_t *)0)->key_];

/* new_cert/new_key (cl, kl bytes without the NUL) become the pair in use. */
static void adopt(lq_kubelet_t *k, size_t cl, size_t kl)
{
    memcpy(k->cert_, new_cert, cl);
    k->cert_[cl] = '\0';
    memcpy(k->key_, new_key, kl);
    k->key_[kl] = '\0';
    k->cert_len_ = cl + 1;
    k->key_len_ = kl + 1;
}

static void wipe(void)
{
    memset(new_key, 0, sizeof new_key);
}

static bool paths(const lq_kubelet_t *k, char *crt, char *key, size_t cap)
{
    int a = snprintf(crt, cap, "%s/kubelet.crt", k->cfg.cert_dir);
    int b = snprintf(key, cap, "%s/kubelet.key", k->cfg.cert_dir);
    return a > 0 && (size_t)a < cap && b > 0 && (size_t)b < cap;
}

/* The kept pair, if it is still good for this node. */
static bool reuse(lq_kubelet_t *k, const char *crt, const char *key)
{
    size_t cl = 0, kl = 0;
    if (lq_port_file_read(crt, new_cert, sizeof new_cert, &cl) != LQ_OK ||
        lq_port_file_read(key, new_key, sizeof new_key, &kl) != LQ_OK)
        return false;
    int64_t not_after = 0;
    bool has_ip = false;
    if (lq_tls_cert_info((const unsigned char *)new_cert, cl + 1, k->cfg.listen_host, &not_after,
                         &has_ip) != LQ_OK) {
        LQ_WARN(MOD, "%s is not a certificate; generating a new one", crt);
        return false;
    }
    if (!has_ip) {
        LQ_INFO(MOD, "%s does not name %s; generating a new one", crt, k->cfg.listen_host);
        return false;
    }
    if (not_after - lq_port_wall_ms() < RENEW_BEFORE_MS) {
        LQ_INFO(MOD, "%s expires within 30 days; generating a new one", crt);
        return false;
    }
    adopt(k, cl, kl);
    LQ_INFO(MOD, "serving certificate %s reused", crt);
    return true;
}

/* The certificate in use expires within 30 days. */
bool lq_kubelet_cert_due(const lq_kubelet_t *k)
{
    int64_t not_after = 0;
    bool has_ip = false;
    return lq_tls_cert_info((const unsigned char *)k->cert_, k->cert_len_, k->cfg.listen_host,
                            &not_after, &has_ip) == LQ_OK &&
           not_after - lq_port_wall_ms() < RENEW_BEFORE_MS;
}

/* Reads (renew false) or replaces the serving certificate and key into k->cert_/key_. */
lq_err_t lq_kubelet_load_cert(lq_kubelet_t *k, bool renew)
{
    char crt[512], key[512];
    bool keep = k->cfg.cert_dir && k->cfg.cert_dir[0];
    if (keep && !paths(k, crt, key, sizeof crt)) {
        LQ_ERROR(MOD, "kubelet.certDir is too long");
        return LQ_ECONFIG;
    }
    if (keep && !renew && reuse(k, crt, key)) {
        wipe();
        return LQ_OK;
    }
    char cn[128];
    int64_t now = lq_port_wall_ms();
    (void)snprintf(cn, sizeof cn, "%.*s@%lld", 48, k->cfg.node_name, (long long)(now / 1000));
    size_t cl = 0, kl = 0;
    lq_err_t e = lq_tls_make_self_signed(cn, k->cfg.node_name, k->cfg.listen_host, VALID_DAYS,
                                         now, new_cert, sizeof new_cert, &cl, new_key,
                                         sizeof new_key, &kl);
    if (e != LQ_OK) {
        wipe();
        LQ_ERROR(MOD, "cannot generate the kubelet API's serving certificate: %s", lq_err_str(e));
        return e;
    }
    if (!keep) {
        adopt(k, cl, kl);
        wipe();
        LQ_INFO(MOD, "serving certificate generated for %s (kept in memory only: set "
                "kubelet.certDir to keep it across restarts)", k->cfg.listen_host);
        return LQ_OK;
    }
    /* the key first: a certificate without its key is never left behind */
    e = lq_port_file_write(key, new_key, kl);
    if (e == LQ_OK)
        e = lq_port_file_write(crt, new_cert, cl);
    if (e == LQ_OK)
        adopt(k, cl, kl);
    wipe();
    if (e != LQ_OK) {
        LQ_ERROR(MOD, "cannot write the kubelet API's serving certificate under %s: %s (the "
                 "directory must exist and be writable by the agent)", k->cfg.cert_dir,
                 lq_err_str(e));
        return e;
    }
    LQ_INFO(MOD, "serving certificate generated for %s and kept in %s (valid %u days)",
            k->cfg.listen_host, crt, VALID_DAYS);
    return LQ_OK;
}

/* Only the kept pair (CSR mode: a new one comes from the API server, not from here). */
bool lq_kubelet_cert_reuse(lq_kubelet_t *k)
{
    char crt[512], key[512];
    bool ok = k->cfg.cert_dir && k->cfg.cert_dir[0] && paths(k, crt, key, sizeof crt) &&
              reuse(k, crt, key);
    wipe();
    return ok;
}

/* A pair signed through the CSR API: kept (key first) when there is a directory, then
 * adopted. The certificate must name the node's address. */
lq_err_t lq_kubelet_cert_issued(lq_kubelet_t *k, const char *cert, size_t cl, const char *key,
                                size_t kl)
{
    int64_t not_after = 0;
    bool has_ip = false;
    if (cl >= sizeof new_cert || kl >= sizeof new_key)
        return LQ_ETOOBIG;
    if (lq_tls_cert_info((const unsigned char *)cert, cl + 1, k->cfg.listen_host, &not_after,
                         &has_ip) != LQ_OK || !has_ip) {
        LQ_ERROR(MOD, "the issued serving certificate %s", has_ip ? "does not parse"
                 : "does not name the node's address");
        return LQ_EPROTO;
    }
    memcpy(new_cert, cert, cl);
    memcpy(new_key, key, kl);
    char crt[512], kp[512];
    lq_err_t e = LQ_OK;
    if (k->cfg.cert_dir && k->cfg.cert_dir[0]) {
        if (!paths(k, crt, kp, sizeof crt))
            e = LQ_ECONFIG;
        if (e == LQ_OK)
            e = lq_port_file_write(kp, new_key, kl);
        if (e == LQ_OK)
            e = lq_port_file_write(crt, new_cert, cl);
        if (e != LQ_OK)
            LQ_ERROR(MOD, "cannot keep the issued serving certificate under %s: %s",
                     k->cfg.cert_dir, lq_err_str(e));
    }
    if (e == LQ_OK)
        adopt(k, cl, kl);
    wipe();
    return e;
}
