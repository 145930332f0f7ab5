/* liqolet: the kubelet API's serving certificate through the CSR API (kubelet.certificate
 * = CSR; include/liqolet/kubelet.h).
 *
 * As a kubelet with serverTLSBootstrap: a new ECDSA key and a CertificateSigningRequest
 * for signer kubernetes.io/kubelet-serving (subject CN=system:node:<node>, O=system:nodes,
 * SANs the node's name and address, usages digital signature + server auth). Such
 * requests are not approved automatically: the log says what to run (`kubectl
 * certificate approve <name>`); the agent polls every 5 s until the certificate is issued
 * (then adopted and kept), denied or failed (a new request 5 minutes later), or the
 * object is gone (a new request at once). kube-controller-manager signs it with the
 * cluster's CA, so API servers started with --kubelet-certificate-authority trust it. */
#include <stdio.h>
#include <string.h>

#include "liqolet/json.h"
#include "liqolet/kubelet.h"
#include "liqolet/log.h"
#include "liqolet/tls.h"

#define MOD "kubelet"
#define CSR_PATH "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#define POLL_MS 5000
#define RETRY_MS (5 * 60 * 1000)

static _Alignas(16) unsigned char arena[24u * 1024u];
static lq_json_doc_t doc;
static char pem[4096]; /* the request, then the issued certificate */

static void csr_done(lq_kreq_t *r, lq_err_t err, void *ctx);

static void later(lq_kubelet_t *k, int64_t ms)
{
    lq_loop_timer_start(k->loop_, &k->csr_timer_, ms);
}

static void create(lq_kubelet_t *k)
{
    char cn[300];
    size_t pl = 0, bl = 0;
    (void)snprintf(cn, sizeof cn, "system:node:%s", k->cfg.node_name);
    lq_err_t e = lq_tls_make_csr(cn, "system:nodes", k->cfg.node_name, k->cfg.listen_host, pem,
                                 sizeof pem, &pl, k->csr_key_, sizeof k->csr_key_,
                                 &k->csr_key_len_);
    char b64[2048];
    if (e == LQ_OK)
        e = lq_tls_base64(true, pem, pl, b64, sizeof b64, &bl);
    int n = e == LQ_OK ? snprintf(k->csr_body_, sizeof k->csr_body_,
                                  "{\"apiVersion\":\"certificates.k8s.io/v1\",\"kind\":"
                                  "\"CertificateSigningRequest\",\"metadata\":{\"generateName\":"
                                  "\"liqolet-serving-%s-\"},\"spec\":{\"request\":\"%s\","
                                  "\"signerName\":\"kubernetes.io/kubelet-serving\",\"usages\":"
                                  "[\"digital signature\",\"server auth\"]}}",
                                  k->cfg.node_name, b64)
                       : -1;
    if (n < 0 || (size_t)n >= sizeof k->csr_body_) {
        LQ_ERROR(MOD, "cannot make a certificate signing request (%s); retrying in 5 minutes",
                 lq_err_str(e == LQ_OK ? LQ_ETOOBIG : e));
        later(k, RETRY_MS);
        return;
    }
    lq_kreq_init(&k->csr_req_, k->csr_resp_, sizeof k->csr_resp_, csr_done, k);
    if (lq_kreq_create(&k->csr_req_, CSR_PATH, k->csr_body_, (size_t)n) != LQ_OK ||
        lq_kreq_submit(k->cfg.home_req, &k->csr_req_) != LQ_OK) {
        later(k, POLL_MS);
        return;
    }
    k->csr_state_ = 1;
}

static void poll_now(lq_kubelet_t *k)
{
    char path[LQ_KREQ_PATH_MAX];
    (void)snprintf(path, sizeof path, CSR_PATH "/%s", k->csr_name_);
    lq_kreq_init(&k->csr_req_, k->csr_resp_, sizeof k->csr_resp_, csr_done, k);
    if (lq_kreq_get(&k->csr_req_, path) != LQ_OK ||
        lq_kreq_submit(k->cfg.home_req, &k->csr_req_) != LQ_OK)
        later(k, POLL_MS);
}

/* Denied or Failed among status.conditions: its type, else NULL. */
static const char *refused(const lq_json_t *root, char *why, size_t cap)
{
    for (const lq_json_t *c = lq_json_first(LQ_JSON_AT(root, "status", "conditions")); c;
         c = lq_json_next(c)) {
        const lq_json_t *t = lq_json_get(c, "type");
        if (lq_json_str_is(t, "Denied") || lq_json_str_is(t, "Failed")) {
            (void)lq_json_str_copy(lq_json_get(c, "message"), why, cap);
            return lq_json_str_is(t, "Denied") ? "denied" : "failed";
        }
    }
    return NULL;
}

static void csr_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_kubelet_t *k = ctx;
    bool creating = k->csr_state_ == 1;
    lq_json_t *root = NULL;
    lq_json_reset(&doc);
    if (err == LQ_OK && lq_json_parse(&doc, r->resp, r->resp_len, &root) != LQ_OK)
        err = LQ_EPROTO;
    if (err == LQ_ENOTFOUND && !creating) {
        LQ_WARN(MOD, "certificate signing request %s is gone; asking again", k->csr_name_);
        k->csr_state_ = 0;
        create(k);
        return;
    }
    if (err != LQ_OK) {
        LQ_WARN(MOD, "certificate signing request: %s%s%s; retrying", lq_err_str(err),
                r->message[0] ? ": " : "", r->message);
        k->csr_state_ = creating ? 0 : 2; /* created again, or polled again */
        later(k, POLL_MS);
        return;
    }
    if (creating) {
        if (lq_json_str_copy(LQ_JSON_AT(root, "metadata", "name"), k->csr_name_,
                             sizeof k->csr_name_) != LQ_OK) {
            k->csr_state_ = 0;
            later(k, POLL_MS);
            return;
        }
        k->csr_state_ = 2;
        LQ_WARN(MOD, "certificate signing request %s (signer kubernetes.io/kubelet-serving) "
                "waits for approval; approve it with: kubectl certificate approve %s",
                k->csr_name_, k->csr_name_);
        later(k, POLL_MS);
        return;
    }
    char why[256] = "";
    const char *no = refused(root, why, sizeof why);
    if (no) {
        LQ_ERROR(MOD, "certificate signing request %s was %s%s%s; a new one in 5 minutes",
                 k->csr_name_, no, why[0] ? ": " : "", why);
        k->csr_state_ = 0;
        later(k, RETRY_MS);
        return;
    }
    char b64[4096];
    size_t pl = 0;
    if (lq_json_str_copy(LQ_JSON_AT(root, "status", "certificate"), b64, sizeof b64) != LQ_OK ||
        b64[0] == '\0') {
        later(k, POLL_MS); /* not signed yet */
        return;
    }
    if (lq_tls_base64(false, b64, strlen(b64), pem, sizeof pem, &pl) != LQ_OK ||
        lq_kubelet_cert_issued(k, pem, pl, k->csr_key_, k->csr_key_len_) != LQ_OK) {
        LQ_ERROR(MOD, "the certificate issued for %s is not usable; a new request in 5 "
                 "minutes", k->csr_name_);
        k->csr_state_ = 0;
        later(k, RETRY_MS);
        return;
    }
    memset(k->csr_key_, 0, sizeof k->csr_key_);
    k->csr_state_ = 0;
    LQ_INFO(MOD, "serving certificate signed by the home cluster (%s)", k->csr_name_);
    lq_kubelet_adopted(k);
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_kubelet_t *k = ctx;
    if (k->csr_req_.state != LQ_KREQ_IDLE)
        return;
    if (k->csr_state_ == 2)
        poll_now(k);
    else
        create(k);
}

void lq_kubelet_csr_start(lq_kubelet_t *k)
{
    if (k->csr_state_ != 0)
        return;
    lq_json_doc_init(&doc, arena, sizeof arena);
    lq_loop_timer_init(&k->csr_timer_, on_timer, k);
    create(k);
}
