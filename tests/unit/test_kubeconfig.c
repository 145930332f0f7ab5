/* Unit tests for src/kube/kubeconfig.c on the fake port: kubeconfig fields, file references,
 * $KUBECONFIG merging, ~/.kube/config, in-cluster credentials, token rotation, every
 * error with its message, and that no token ever reaches the log.
 * Sample kubeconfigs and PEM/DER files are read from tests/vectors/kubeconfig
 * (LQ_TEST_VECTORS overrides the directory) and placed into the fake file system. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "lq_fake.h"

#ifndef LQ_TEST_VECTORS
#define LQ_TEST_VECTORS "tests/vectors"
#endif

/* The caller keeps lq_kcfg_t static: the log's redaction list points into it. */
static lq_kcfg_t K;
static char err[LQ_KCFG_ERR_MAX];
static char vbuf[LQ_FAKE_FILE_BUF + 1];
static char ybuf[64 * 1024];

/* Every token the tests use; teardown checks that none reached the log. */
static const char *const tokens[] = {
    "VGhpc0lzQU1pY3JvSzhzVGVzdFRva2Vu",
    "prod-token-0123456789",
    "staging-token-abcdef",
    "sa-token-first-0001",
    "sa-token-second-0002",
    "tokA-from-first-file",
    "tokB-from-second-file",
    "secretbytes-after-ctl",
    "in-cluster-token-xyz1",
    "inline-token-is-overridden",
};

static const char *vec(const char *name, size_t *len)
{
    char path[512];
    const char *dir = getenv("LQ_TEST_VECTORS");
    snprintf(path, sizeof path, "%s/kubeconfig/%s", dir ? dir : LQ_TEST_VECTORS, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open vector %s (run the tests from the repository root)", path);
    size_t n = fread(vbuf, 1, sizeof vbuf - 1, f);
    fclose(f);
    assert_true(n < sizeof vbuf - 1);
    vbuf[n] = '\0';
    *len = n;
    return vbuf;
}

/* Copies a vector into the fake file system at `at`. */
static void put_vec(const char *name, const char *at)
{
    size_t n;
    const char *p = vec(name, &n);
    assert_int_equal(lq_fake_file_set(at, p, n), 0);
}

static void put(const char *at, const char *text)
{
    assert_int_equal(lq_fake_file_set(at, text, strlen(text)), 0);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* The field equals the vector file's bytes, plus a counted NUL when it is PEM. */
static void assert_blob(const unsigned char *field, size_t len, const char *vname, int pem)
{
    size_t n;
    const char *p = vec(vname, &n);
    assert_int_equal(len, n + (pem ? 1u : 0u));
    assert_memory_equal(field, p, n);
    if (pem)
        assert_int_equal(field[n], 0);
}

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    lq_log_set_level(LQ_LOG_DEBUG);
    memset(err, 0, sizeof err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Log every error text produced, then prove no token is in the log. */
    LQ_ERROR("test", "last error: %s", err);
    const char *log = lq_fake_log_text();
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strstr(log, tokens[i]) != NULL)
            fail_msg("token %zu leaked into the log: %s", i, log);
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strstr(err, tokens[i]) != NULL)
            fail_msg("token %zu in an error message: %s", i, err);
    lq_log_secret_clear();
    return 0;
}

static lq_err_t parse(const char *yaml, const char *ctx)
{
    return lq_kcfg_parse(&K, yaml, strlen(yaml), NULL, ctx, err, sizeof err);
}

/* --- kubeconfig shapes ------------------------------------------------------------------ */

static void test_k3s_client_certificate(void **state)
{
    (void)state;
    put_vec("k3s.yaml", "/etc/rancher/k3s/k3s.yaml");
    assert_int_equal(lq_kcfg_load(&K, "/etc/rancher/k3s/k3s.yaml", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.server, "https://127.0.0.1:6443");
    assert_string_equal(K.host, "127.0.0.1");
    assert_int_equal(K.port, 6443);
    assert_string_equal(K.path_prefix, "");
    assert_string_equal(K.context, "default");
    assert_string_equal(K.origin, "kubeconfig /etc/rancher/k3s/k3s.yaml (context default)");
    assert_string_equal(lq_kcfg_verify_name(&K), "127.0.0.1");
    assert_false(K.insecure_skip_tls_verify);
    assert_blob(K.ca, K.ca_len, "pki/ca.crt", 1);
    assert_blob(K.cert, K.cert_len, "pki/client.crt", 1);
    assert_blob(K.key, K.key_len, "pki/client.key", 1);
    assert_int_equal(K.token_len, 0);
    assert_string_equal(K.token_file, "");
    assert_string_equal(err, "");

    /* The key is registered for redaction (without the NUL that mbedTLS wants). */
    size_t n;
    const char *key = vec("pki/client.key", &n);
    LQ_INFO("test", "key dump: %.*s", (int)n, key);
    assert_null(strstr(lq_fake_log_text(), "BEGIN EC PRIVATE KEY"));
    assert_contains(lq_fake_log_text(), "key dump: [redacted]");
}

static void test_microk8s_token(void **state)
{
    (void)state;
    put_vec("microk8s.yaml", "/var/snap/microk8s/current/credentials/client.config");
    assert_int_equal(lq_kcfg_load(&K, "/var/snap/microk8s/current/credentials/client.config",
                                  NULL, err, sizeof err),
                     LQ_OK);
    assert_string_equal(K.host, "192.168.1.10");
    assert_int_equal(K.port, 16443);
    /* The YAML "\n" at the end is stripped. */
    assert_string_equal(K.token, "VGhpc0lzQU1pY3JvSzhzVGVzdFRva2Vu");
    assert_int_equal(K.token_len, strlen("VGhpc0lzQU1pY3JvSzhzVGVzdFRva2Vu"));
    assert_int_equal(K.cert_len, 0);
    assert_int_equal(K.key_len, 0);
    assert_blob(K.ca, K.ca_len, "pki/ca.crt", 1);
    LQ_WARN("test", "sending token=%s", K.token);
    assert_contains(lq_fake_log_text(), "token=[redacted]");
}

static void test_kubeadm_extensions_and_folded_base64(void **state)
{
    (void)state;
    put_vec("kubeadm.yaml", "/etc/kubernetes/admin.conf");
    assert_int_equal(lq_kcfg_load(&K, "/etc/kubernetes/admin.conf", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.context, "kubernetes-admin@kubernetes");
    assert_string_equal(K.host, "cp.example.internal");
    assert_string_equal(K.tls_server_name, "kubernetes");
    assert_string_equal(lq_kcfg_verify_name(&K), "kubernetes");
    /* client-certificate-data spans several lines in this file. */
    assert_blob(K.cert, K.cert_len, "pki/client.crt", 1);
    assert_blob(K.key, K.key_len, "pki/client.key", 1);
}

static void test_file_references_relative_to_the_kubeconfig(void **state)
{
    (void)state;
    put_vec("files.yaml", "/home/u/.kube/lab.yaml");
    put_vec("pki/ca.crt", "/home/u/.kube/pki/ca.crt");
    put_vec("pki/client.crt", "/etc/liqolet/client.crt");
    put_vec("pki/client.key", "/home/u/.kube/pki/client.key");
    assert_int_equal(lq_kcfg_load(&K, "/home/u/.kube/lab.yaml", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.host, "fd00::10");
    assert_int_equal(K.port, 8443);
    assert_string_equal(K.path_prefix, "/k8s/clusters/c-1");
    assert_string_equal(K.tls_server_name, "api.lab.internal");
    assert_blob(K.ca, K.ca_len, "pki/ca.crt", 1);
    assert_blob(K.cert, K.cert_len, "pki/client.crt", 1);
    assert_blob(K.key, K.key_len, "pki/client.key", 1);

    /* A missing referenced file: named with its resolved path and the field. */
    lq_fake_file_remove("/home/u/.kube/pki/client.key");
    assert_int_equal(lq_kcfg_load(&K, "/home/u/.kube/lab.yaml", NULL, err, sizeof err),
                     LQ_ENOTFOUND);
    assert_contains(err, "client-key /home/u/.kube/pki/client.key");
    assert_contains(err, "user \"lab-user\" in /home/u/.kube/lab.yaml");
    assert_int_equal(K.ca_len, 0); /* nothing half-filled on failure */

    /* lq_kcfg_parse: base_dir decides; NULL keeps the path relative (current directory). */
    size_t n;
    const char *y = vec("files.yaml", &n);
    memcpy(ybuf, y, n + 1);
    put_vec("pki/client.key", "/home/u/.kube/pki/client.key");
    assert_int_equal(lq_kcfg_parse(&K, ybuf, n, "/home/u/.kube/", NULL, err, sizeof err), LQ_OK);
    assert_blob(K.key, K.key_len, "pki/client.key", 1);
    assert_string_equal(K.origin, "kubeconfig text (context lab)");
    put_vec("pki/ca.crt", "pki/ca.crt");
    assert_int_equal(lq_kcfg_parse(&K, ybuf, n, NULL, NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_contains(err, "client-key pki/client.key");
}

static void test_token_file_der_ca_and_precedence(void **state)
{
    (void)state;
    put_vec("tokenfile.yaml", "/kc/config");
    put_vec("pki/ca.der", "/kc/pki/ca.der");
    put("/kc/token", "  sa-token-first-0001\r\n\n");
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_OK);
    assert_blob(K.ca, K.ca_len, "pki/ca.der", 0); /* DER: as is, no NUL */
    assert_string_equal(K.token_file, "/kc/token");
    assert_string_equal(K.token, "sa-token-first-0001"); /* the file wins over token: */
    assert_int_equal(K.token_len, 19);
    assert_int_equal(K.port, 443);
    assert_true(K.token_size == 24);

    lq_fake_file_remove("/kc/token");
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_contains(err, "tokenFile /kc/token of user \"sa\" in /kc/config does not exist");
    put("/kc/token", "\n");
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "tokenFile /kc/token");
}

static void test_token_rotation(void **state)
{
    (void)state;
    bool changed = true;
    put_vec("tokenfile.yaml", "/kc/config");
    put_vec("pki/ca.der", "/kc/pki/ca.der");
    put("/kc/token", "sa-token-first-0001\n");
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_OK);

    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_false(changed);

    /* kubelet rotates the token: new mtime, new bytes. */
    lq_fake_clock_advance(60000);
    put("/kc/token", "sa-token-second-0002\n");
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_true(changed);
    assert_string_equal(K.token, "sa-token-second-0002");
    assert_int_equal(K.token_len, 20);
    assert_int_equal(K.token_mtime_ms, lq_port_wall_ms());
    assert_contains(lq_fake_log_text(), "token file /kc/token changed; token re-read");
    LQ_INFO("test", "now using %s", K.token); /* re-registered at the new length */
    assert_contains(lq_fake_log_text(), "now using [redacted]");

    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_false(changed);
    /* Same bytes rewritten (mtime moves): re-read, but not "changed". */
    lq_fake_clock_advance(1000);
    put("/kc/token", "sa-token-second-0002\n");
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_false(changed);
    assert_int_equal(lq_kcfg_token_refresh(&K, true, &changed), LQ_OK); /* a 401 */
    assert_false(changed);

    /* Mid-rotation states keep the old token. */
    lq_fake_clock_advance(1000);
    put("/kc/token", "");
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_EIO);
    assert_string_equal(K.token, "sa-token-second-0002");
    lq_fake_file_remove("/kc/token");
    assert_int_equal(lq_kcfg_token_refresh(&K, true, &changed), LQ_ENOTFOUND);
    assert_string_equal(K.token, "sa-token-second-0002");
    static char big[LQ_KCFG_TOKEN_MAX + 10];
    memset(big, 'a', sizeof big);
    assert_int_equal(lq_fake_file_set("/kc/token", big, sizeof big), 0);
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_ETOOBIG);
    assert_false(changed);
    assert_string_equal(K.token, "sa-token-second-0002");

    /* Without a token file: a no-op. */
    lq_kcfg_t *none = &K;
    none->token_file[0] = '\0';
    assert_int_equal(lq_kcfg_token_refresh(none, true, &changed), LQ_OK);
    assert_false(changed);
}

/* After lq_pool_seal the refresh must not touch the heap (no libyaml, no malloc). */
static void test_token_refresh_after_seal_does_not_allocate(void **state)
{
    (void)state;
    bool changed;
    put_vec("tokenfile.yaml", "/kc/config");
    put_vec("pki/ca.der", "/kc/pki/ca.der");
    put("/kc/token", "sa-token-first-0001\n");
    lq_pool_init();
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_OK);
    unsigned long before = lq_allocguard_violations();
    lq_pool_seal();
    lq_fake_clock_advance(5000);
    put("/kc/token", "sa-token-second-0002");
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(lq_kcfg_token_refresh(&K, true, &changed), LQ_OK);
    assert_int_equal(lq_allocguard_violations(), before);
    lq_pool_init(); /* unsealed again for the next tests */
}

static void test_multiple_contexts(void **state)
{
    (void)state;
    put_vec("multi.yaml", "/kc/multi");
    assert_int_equal(lq_kcfg_load(&K, "/kc/multi", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.context, "prod");
    assert_string_equal(K.host, "prod.example.com");
    assert_int_equal(K.port, 443);
    assert_true(K.insecure_skip_tls_verify);
    assert_int_equal(K.ca_len, 0);
    assert_string_equal(K.token, "prod-token-0123456789");

    assert_int_equal(lq_kcfg_load(&K, "/kc/multi", "staging", err, sizeof err), LQ_OK);
    assert_string_equal(K.context, "staging");
    assert_string_equal(K.server, "https://[::1]:6443");
    assert_string_equal(K.host, "::1");
    assert_int_equal(K.port, 6443);
    assert_false(K.insecure_skip_tls_verify);
    assert_string_equal(K.token, "staging-token-abcdef");
    assert_string_equal(K.origin, "kubeconfig /kc/multi (context staging)");

    assert_int_equal(lq_kcfg_load(&K, "/kc/multi", "dangling", err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "context \"dangling\" in /kc/multi names cluster \"nowhere\", which "
                             "is not defined in /kc/multi");
    assert_int_equal(lq_kcfg_load(&K, "/kc/multi", "nope", err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "context \"nope\" is not defined in /kc/multi");
    assert_int_equal(K.token_len, 0);
}

/* --- unsupported users and clusters --------------------------------------------------- */

static void test_exec_auth_provider_proxy_basic(void **state)
{
    (void)state;
    put_vec("exec.yaml", "/kc/exec");
    assert_int_equal(lq_kcfg_load(&K, "/kc/exec", NULL, err, sizeof err), LQ_ENOTSUP);
    assert_string_equal(err, "user \"aws\" in /kc/exec uses an exec plugin; liqolet does not "
                             "support them; use a token or a client certificate");
    put_vec("auth-provider.yaml", "/kc/ap");
    assert_int_equal(lq_kcfg_load(&K, "/kc/ap", NULL, err, sizeof err), LQ_ENOTSUP);
    assert_string_equal(err, "user \"gcp\" in /kc/ap uses an auth-provider; liqolet does not "
                             "support them; use a token or a client certificate");
    put_vec("proxy.yaml", "/kc/proxy");
    assert_int_equal(lq_kcfg_load(&K, "/kc/proxy", NULL, err, sizeof err), LQ_ENOTSUP);
    assert_contains(err, "cluster \"behind-proxy\" in /kc/proxy");
    assert_contains(err, "proxy-url is not supported yet");
    assert_null(strstr(err, "socks5")); /* a proxy URL may carry credentials */
    assert_int_equal(parse("clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                           "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                           "users: [{name: u, user: {username: admin, password: hunter22}}]\n",
                           "c"),
                     LQ_ENOTSUP);
    assert_contains(err, "user \"u\" in kubeconfig text uses a username and password");
    assert_null(strstr(err, "hunter22"));
}

/* --- errors ------------------------------------------------------------------------------ */

static void test_malformed_files(void **state)
{
    (void)state;
    put_vec("malformed-yaml.yaml", "/kc/bad");
    assert_int_equal(lq_kcfg_load(&K, "/kc/bad", NULL, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "/kc/bad is not valid YAML: ");
    assert_contains(err, " at line ");

    put_vec("malformed-http.yaml", "/kc/http");
    assert_int_equal(lq_kcfg_load(&K, "/kc/http", NULL, err, sizeof err), LQ_ECONFIG);
    assert_string_equal(err, "server http://127.0.0.1:8080 of cluster \"plain\" in /kc/http uses "
                             "plain http; liqolet only talks to API servers over https: use the "
                             "https:// address");

    put_vec("malformed-b64.yaml", "/kc/b64");
    assert_int_equal(lq_kcfg_load(&K, "/kc/b64", NULL, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "certificate-authority-data of cluster \"c\" in /kc/b64 is not valid "
                         "base64 (bad character at offset 40)");

    put_vec("malformed-types.yaml", "/kc/types");
    assert_int_equal(lq_kcfg_load(&K, "/kc/types", NULL, err, sizeof err), LQ_ECONFIG);
    assert_string_equal(err, "clusters of /kc/types must be a list of entries with a name");

    assert_int_equal(lq_kcfg_load(&K, "/kc/none", NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "kubeconfig /kc/none does not exist");

    assert_int_equal(parse("- just\n- a list\n", NULL), LQ_ECONFIG);
    assert_contains(err, "kubeconfig text is not a kubeconfig");
    assert_int_equal(parse("", NULL), LQ_ENOTFOUND);
    assert_contains(err, "sets no current-context");
    assert_int_equal(parse("clusters: [x]\n", NULL), LQ_ECONFIG);
    assert_string_equal(err, "entry 1 of clusters in kubeconfig text must be a mapping with a name");
}

#define CTX "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"

static void test_field_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        lq_err_t code;
        const char *msg;
    } cases[] = {
        { "clusters: [{name: c, cluster: {certificate-authority-data: QQ==}}]\n" CTX
          "users: [{name: u, user: {}}]\n",
          LQ_ECONFIG, "cluster \"c\" in kubeconfig text has no server; add server: https://host:port" },
        { "clusters: [{name: c, cluster: {server: {a: b}}}]\n" CTX, LQ_ECONFIG,
          "server of cluster \"c\" in kubeconfig text must be a string, not a mapping" },
        { "clusters: [{name: c, cluster: {server: 'ftp://h'}}]\n" CTX, LQ_ECONFIG,
          "is not an https:// URL" },
        { "clusters: [{name: c, cluster: {server: 'h:6443'}}]\n" CTX, LQ_ECONFIG,
          "is not an https:// URL" },
        { "clusters: [{name: c, cluster: {server: 'https://::1:6443'}}]\n" CTX, LQ_ECONFIG,
          "an IPv6 address must be written in brackets" },
        { "clusters: [{name: c, cluster: {server: 'https://[::1'}}]\n" CTX, LQ_ECONFIG,
          "unclosed '['" },
        { "clusters: [{name: c, cluster: {server: 'https://h:0'}}]\n" CTX, LQ_ECONFIG,
          "invalid port" },
        { "clusters: [{name: c, cluster: {server: 'https://h:65536'}}]\n" CTX, LQ_ECONFIG,
          "invalid port" },
        { "clusters: [{name: c, cluster: {server: 'https://h:'}}]\n" CTX, LQ_ECONFIG,
          "invalid port" },
        { "clusters: [{name: c, cluster: {server: 'https://u:p@h'}}]\n" CTX, LQ_ECONFIG,
          "user information" },
        { "clusters: [{name: c, cluster: {server: 'https://h/?x=1'}}]\n" CTX, LQ_ECONFIG,
          "query or fragment" },
        { "clusters: [{name: c, cluster: {server: 'https://'}}]\n" CTX, LQ_ECONFIG, "has no host" },
        { "clusters: [{name: c, cluster: {server: 'https://h h'}}]\n" CTX, LQ_ECONFIG,
          "not allowed in a host name" },
        { "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}}]\n" CTX,
          LQ_ECONFIG,
          "insecure-skip-tls-verify of cluster \"c\" in kubeconfig text must be true or false" },
        { "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: 'true'}}]\n" CTX,
          LQ_ECONFIG, "must be true or false" },
        { "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
          "certificate-authority-data: QUJD}}]\n" CTX,
          LQ_ECONFIG, "sets both a certificate authority and insecure-skip-tls-verify" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
          "users: [{name: u, user: {client-certificate-data: QUJD}}]\n",
          LQ_ECONFIG, "user \"u\" in kubeconfig text has a client certificate but no client-key" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
          "users: [{name: u, user: {client-key-data: QUJD}}]\n",
          LQ_ECONFIG, "has a client key but no client-certificate" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
          "users: [{name: u, user: {token: [a, b]}}]\n",
          LQ_ECONFIG, "token of user \"u\" in kubeconfig text must be a string, not a list" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
          "users: [{name: u, user: {token: \"secretbytes-after-ctl\\x01x\"}}]\n",
          LQ_ECONFIG, "token of user \"u\" in kubeconfig text is empty or contains spaces" },
        { "clusters: [{name: c, cluster: {server: \"https://h\\0x\"}}]\n" CTX, LQ_ECONFIG,
          "contains a NUL character" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX, LQ_ENOTFOUND,
          "context \"c\" in kubeconfig text names user \"u\", which is not defined in kubeconfig text" },
        { "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
          "contexts: [{name: c, context: {user: u}}]\ncurrent-context: c\n",
          LQ_ECONFIG, "context \"c\" in kubeconfig text names no cluster" },
        { "clusters: [{name: c, cluster: [1]}]\n" CTX, LQ_ECONFIG,
          "the cluster field of cluster \"c\" in kubeconfig text must be a mapping" },
        { "clusters: {}\n", LQ_ECONFIG, "clusters of kubeconfig text must be a list" },
        { "current-context: [x]\n", LQ_ECONFIG, "current-context of kubeconfig text must be a string" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_err_t r = parse(cases[i].yaml, NULL);
        if (r != cases[i].code || strstr(err, cases[i].msg) == NULL)
            fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, lq_err_name(r), err,
                     lq_err_name(cases[i].code), cases[i].msg);
        assert_int_equal(K.token_len, 0);
        assert_int_equal(K.cert_len, 0);
    }
}

static void test_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: invalid */
        const char *msg;
    } cases[] = {
        { "QQ==", "A", NULL },
        { "QUI=", "AB", NULL },
        { "QUJD", "ABC", NULL },
        { "QUJDRA==", "ABCD", NULL },
        { "\"QU JD\\nRE\\tVG\\r\\n\"", "ABCDEF", NULL }, /* white space inside is skipped */
        { "|\n      QUJD\n      REVG\n", "ABCDEF", NULL },
        { "QUJ", NULL, "ends in the middle of a group" },
        { "Q", NULL, "ends in the middle of a group" },
        { "QQ=", NULL, "ends in the middle of a group" },
        { "QQ==QQ==", NULL, "bad character at offset 4" },
        { "Q===", NULL, "bad character at offset 1" },
        { "QUJD=", NULL, "bad character at offset 4" },
        { "QU_D", NULL, "bad character at offset 2" },
        { "QUJD-A==", NULL, "bad character at offset 4" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(ybuf, sizeof ybuf,
                 "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
                 "users:\n- name: u\n  user:\n    client-key-data: QUJD\n    client-certificate-data: %s\n",
                 cases[i].in);
        lq_err_t r = parse(ybuf, NULL);
        if (cases[i].out != NULL) {
            if (r != LQ_OK)
                fail_msg("case %zu: %s %s", i, lq_err_name(r), err);
            assert_int_equal(K.cert_len, strlen(cases[i].out)); /* not PEM: no NUL added */
            assert_memory_equal(K.cert, cases[i].out, K.cert_len);
        } else {
            if (r != LQ_ECONFIG || strstr(err, cases[i].msg) == NULL)
                fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, lq_err_name(r), err,
                         cases[i].msg);
            assert_contains(err, "client-certificate-data of user \"u\" in kubeconfig text");
        }
    }
}

/* Fields over their limits: LQ_ETOOBIG naming the field, never truncation. */
static void test_oversized_fields(void **state)
{
    (void)state;
    static char long_s[LQ_KCFG_PEM_MAX * 2];

    memset(long_s, 'a', LQ_KCFG_TOKEN_MAX);
    long_s[LQ_KCFG_TOKEN_MAX] = '\0';
    snprintf(ybuf, sizeof ybuf,
             "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
             "users: [{name: u, user: {token: %s}}]\n",
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_string_equal(err, "token of user \"u\" in kubeconfig text is longer than 4095 bytes");
    long_s[LQ_KCFG_TOKEN_MAX - 1] = '\0'; /* exactly at the limit fits */
    snprintf(ybuf, sizeof ybuf,
             "clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
             "users: [{name: u, user: {token: %s}}]\n",
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_OK);
    assert_int_equal(K.token_len, LQ_KCFG_TOKEN_MAX - 1);
    assert_int_equal(K.token[LQ_KCFG_TOKEN_MAX - 1], '\0');
    lq_log_secret_clear();

    /* base64 decoding to more than LQ_KCFG_PEM_MAX bytes: "AAAA" -> 3 bytes each. */
    size_t groups = LQ_KCFG_PEM_MAX / 3 + 1;
    for (size_t i = 0; i < groups * 4; i++)
        long_s[i] = 'A';
    long_s[groups * 4] = '\0';
    snprintf(ybuf, sizeof ybuf,
             "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: %s}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_string_equal(err, "certificate-authority-data of cluster \"c\" in kubeconfig text "
                             "decodes to more than 16383 bytes");
    /* A PEM that fills the field exactly has no room for its NUL. */
    static unsigned char pem[LQ_KCFG_PEM_MAX];
    memset(pem, 'x', sizeof pem);
    memcpy(pem, "-----BEGIN CERTIFICATE-----\n", 28);
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i + 2 < sizeof pem; i += 3) { /* 16384 = 3 * 5461 + 1 */
        uint32_t v = (uint32_t)pem[i] << 16 | (uint32_t)pem[i + 1] << 8 | pem[i + 2];
        long_s[o++] = al[v >> 18];
        long_s[o++] = al[(v >> 12) & 63];
        long_s[o++] = al[(v >> 6) & 63];
        long_s[o++] = al[v & 63];
    }
    long_s[o++] = al[pem[sizeof pem - 1] >> 2];
    long_s[o++] = al[(pem[sizeof pem - 1] & 3) << 4];
    long_s[o++] = '=';
    long_s[o++] = '=';
    long_s[o] = '\0';
    snprintf(ybuf, sizeof ybuf,
             "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: %s}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_contains(err, "decodes to more than 16383 bytes");

    /* Path prefix, host, server and names. */
    memset(long_s, 'p', 200);
    long_s[200] = '\0';
    snprintf(ybuf, sizeof ybuf, "clusters: [{name: c, cluster: {server: 'https://h/%s'}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_string_equal(err, "the path of server of cluster \"c\" in kubeconfig text is longer "
                             "than 127 bytes");
    memset(long_s, 'h', 300);
    long_s[300] = '\0';
    snprintf(ybuf, sizeof ybuf, "clusters: [{name: c, cluster: {server: 'https://%s'}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_contains(err, "the host in server of cluster \"c\"");
    memset(long_s, 'h', 600);
    long_s[600] = '\0';
    snprintf(ybuf, sizeof ybuf, "clusters: [{name: c, cluster: {server: 'https://%s'}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_contains(err, "server of cluster \"c\" in kubeconfig text is longer than 511 bytes");
    memset(long_s, 'n', 300);
    long_s[300] = '\0';
    snprintf(ybuf, sizeof ybuf, "current-context: %s\n", long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_contains(err, "current-context of kubeconfig text is longer than 253 bytes");
    assert_int_equal(parse("current-context: x\n", long_s), LQ_ETOOBIG);
    memset(long_s, 's', 300);
    long_s[300] = '\0';
    snprintf(ybuf, sizeof ybuf,
             "clusters: [{name: c, cluster: {server: 'https://h', tls-server-name: %s}}]\n" CTX,
             long_s);
    assert_int_equal(parse(ybuf, NULL), LQ_ETOOBIG);
    assert_contains(err, "tls-server-name of cluster \"c\" in kubeconfig text is longer than 253");

    /* A referenced file over the limit (the fake file system holds up to 16 KiB). */
    static char big[LQ_FAKE_FILE_BUF];
    memset(big, 'c', sizeof big);
    assert_int_equal(lq_fake_file_set("/kc/huge.crt", big, sizeof big), 0);
    assert_int_equal(parse("clusters: [{name: c, cluster: {server: 'https://h', "
                           "certificate-authority: /kc/huge.crt}}]\n" CTX,
                           NULL),
                     LQ_ETOOBIG);
    assert_string_equal(err, "certificate-authority /kc/huge.crt of cluster \"c\" in kubeconfig "
                             "text is larger than 16383 bytes");
}

/* --- $KUBECONFIG, ~/.kube/config ------------------------------------------------------- */

static const char merge_a[] =
    "apiVersion: v1\n"
    "current-context: a-ctx\n"
    "clusters:\n"
    "- {name: shared, cluster: {server: 'https://a.example:1111'}}\n"
    "contexts:\n"
    "- {name: a-ctx, context: {cluster: shared, user: u}}\n"
    "users:\n"
    "- {name: u, user: {token: tokA-from-first-file}}\n";

static const char merge_b[] =
    "apiVersion: v1\n"
    "current-context: b-ctx\n"
    "clusters:\n"
    "- {name: shared, cluster: {server: 'https://b.example:2222'}}\n"
    "- {name: bonly, cluster: {server: 'https://b-only.example:3333', certificate-authority: ca.crt}}\n"
    "contexts:\n"
    "- {name: a-ctx, context: {cluster: bonly, user: u}}\n"
    "- {name: b-ctx, context: {cluster: bonly, user: u}}\n"
    "users:\n"
    "- {name: u, user: {token: tokB-from-second-file}}\n";

static void test_kubeconfig_env_merge(void **state)
{
    (void)state;
    put("/m/a.yaml", merge_a);
    put("/m2/b.yaml", merge_b);
    put_vec("pki/ca.crt", "/m2/ca.crt");
    assert_int_equal(lq_fake_env_set("KUBECONFIG", "/m/missing.yaml::/m/a.yaml:/m2/b.yaml"), 0);
    assert_int_equal(lq_fake_env_set("HOME", "/home/nobody"), 0);

    /* current-context from the first file setting it; a-ctx and shared from file A. */
    assert_int_equal(lq_kcfg_load(&K, NULL, NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.context, "a-ctx");
    assert_string_equal(K.host, "a.example");
    assert_int_equal(K.port, 1111);
    assert_string_equal(K.token, "tokA-from-first-file");
    assert_string_equal(K.origin, "kubeconfig /m/a.yaml (context a-ctx)");

    /* b-ctx only in B: its cluster from B (relative CA next to B), user u from A. */
    assert_int_equal(lq_kcfg_load(&K, NULL, "b-ctx", err, sizeof err), LQ_OK);
    assert_string_equal(K.host, "b-only.example");
    assert_int_equal(K.port, 3333);
    assert_blob(K.ca, K.ca_len, "pki/ca.crt", 1);
    assert_string_equal(K.token, "tokA-from-first-file");
    assert_string_equal(K.origin, "kubeconfig /m2/b.yaml (context b-ctx)");

    assert_int_equal(lq_kcfg_load(&K, NULL, "zz", err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "context \"zz\" is not defined in the files of $KUBECONFIG");

    /* A broken file in the list is an error naming it. */
    put("/m2/b.yaml", "clusters: [\n");
    assert_int_equal(lq_kcfg_load(&K, NULL, NULL, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "/m2/b.yaml is not valid YAML");

    assert_int_equal(lq_fake_env_set("KUBECONFIG", "/x/1:/x/2"), 0);
    assert_int_equal(lq_kcfg_load(&K, NULL, NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "none of the 2 files in $KUBECONFIG exists");

    /* An explicit path beats $KUBECONFIG. */
    assert_int_equal(lq_kcfg_load(&K, "/m/a.yaml", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.host, "a.example");
}

static void test_home_kube_config(void **state)
{
    (void)state;
    assert_int_equal(lq_kcfg_load(&K, NULL, NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_contains(err, "$HOME is not set");
    assert_int_equal(lq_fake_env_set("HOME", "/home/u"), 0);
    assert_int_equal(lq_kcfg_load(&K, NULL, NULL, err, sizeof err), LQ_ENOTFOUND);
    assert_string_equal(err, "kubeconfig /home/u/.kube/config does not exist");
    put_vec("multi.yaml", "/home/u/.kube/config");
    assert_int_equal(lq_fake_env_set("KUBECONFIG", ""), 0); /* empty = unset, as kubectl */
    assert_int_equal(lq_kcfg_load(&K, NULL, "staging", err, sizeof err), LQ_OK);
    assert_string_equal(K.origin, "kubeconfig /home/u/.kube/config (context staging)");
    assert_string_equal(K.host, "::1");
}

/* --- in-cluster --------------------------------------------------------------------------- */

static void test_in_cluster(void **state)
{
    (void)state;
    bool changed;
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_ENOTFOUND);
    assert_contains(err, "not running in a pod");

    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_HOST", "fd00:10:96::1"), 0);
    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_PORT", "443"), 0);
    assert_int_equal(lq_fake_env_set("LIQOLET_SA_DIR", "/sa"), 0);
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_ECONFIG);
    assert_string_equal(err, "ca.crt /sa/ca.crt of the service account in /sa does not exist");
    put_vec("pki/ca.crt", "/sa/ca.crt");
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "service-account token /sa/token does not exist; is "
                         "automountServiceAccountToken false");

    put("/sa/token", "in-cluster-token-xyz1");
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_OK);
    assert_string_equal(K.server, "https://[fd00:10:96::1]:443");
    assert_string_equal(K.host, "fd00:10:96::1");
    assert_int_equal(K.port, 443);
    assert_string_equal(K.origin, "in-cluster service account");
    assert_string_equal(K.token, "in-cluster-token-xyz1");
    assert_string_equal(K.token_file, "/sa/token");
    assert_blob(K.ca, K.ca_len, "pki/ca.crt", 1);
    lq_fake_clock_advance(3600 * 1000);
    put("/sa/token", "sa-token-second-0002\n");
    assert_int_equal(lq_kcfg_token_refresh(&K, false, &changed), LQ_OK);
    assert_true(changed);
    assert_string_equal(K.token, "sa-token-second-0002");

    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_HOST", "10.96.0.1"), 0);
    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_PORT", "6443"), 0);
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_OK);
    assert_string_equal(K.server, "https://10.96.0.1:6443");
    assert_int_equal(K.port, 6443);
    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_PORT", "http"), 0);
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "KUBERNETES_SERVICE_PORT=http");
    assert_int_equal(K.token_len, 0);
}

/* Secret files (issue 17, finding 6): a client key open to group/others or owned by
 * another user is refused with the remedy; a token file open to others is taken with one
 * warning; the in-cluster token (0644 by design) without one. */
static void test_secret_file_permissions(void **state)
{
    (void)state;
    put_vec("files.yaml", "/home/u/.kube/lab.yaml");
    put_vec("pki/ca.crt", "/home/u/.kube/pki/ca.crt");
    put_vec("pki/client.crt", "/etc/liqolet/client.crt");
    put_vec("pki/client.key", "/home/u/.kube/pki/client.key");
    /* certificates may be world-readable; only the key matters */
    assert_int_equal(lq_fake_file_mode("/etc/liqolet/client.crt", 0644, true), 0);
    assert_int_equal(lq_fake_file_mode("/home/u/.kube/pki/client.key", 0400, false), 0);
    assert_int_equal(lq_kcfg_load(&K, "/home/u/.kube/lab.yaml", NULL, err, sizeof err), LQ_OK);
    static const unsigned bad[] = { 0640, 0604, 0644, 0660, 0602, 0700 | 0004 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lq_fake_file_mode("/home/u/.kube/pki/client.key", bad[i], false), 0);
        assert_int_equal(lq_kcfg_load(&K, "/home/u/.kube/lab.yaml", NULL, err, sizeof err),
                         LQ_ECONFIG);
        assert_contains(err, "client-key /home/u/.kube/pki/client.key");
        assert_contains(err, "open to group or others");
        assert_contains(err, "chmod 600 /home/u/.kube/pki/client.key");
        assert_int_equal(K.key_len, 0);
    }
    assert_int_equal(lq_fake_file_mode("/home/u/.kube/pki/client.key", 0600, true), 0);
    assert_int_equal(lq_kcfg_load(&K, "/home/u/.kube/lab.yaml", NULL, err, sizeof err), LQ_ECONFIG);
    assert_contains(err, "belongs to another user");

    /* a token file open to others: loaded, one warning over several re-reads */
    put_vec("tokenfile.yaml", "/kc/config");
    put_vec("pki/ca.der", "/kc/pki/ca.der");
    put("/kc/token", "sa-token-first-0001\n");
    assert_int_equal(lq_fake_file_mode("/kc/token", 0644, false), 0);
    assert_int_equal(lq_kcfg_load(&K, "/kc/config", NULL, err, sizeof err), LQ_OK);
    assert_string_equal(K.token, "sa-token-first-0001");
    bool changed;
    lq_fake_clock_advance(1000);
    put("/kc/token", "sa-token-second-002\n");
    assert_int_equal(lq_kcfg_token_refresh(&K, true, &changed), LQ_OK);
    const char *log = lq_fake_log_text();
    const char *w = strstr(log, "token file /kc/token is open to group or others");
    assert_non_null(w);
    assert_null(strstr(w + 1, "token file /kc/token is open"));
    assert_null(strstr(log, "sa-token-first-0001"));

    /* in-cluster: the projected token is 0644 by design: no warning */
    lq_fake_reset();
    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_HOST", "10.96.0.1"), 0);
    assert_int_equal(lq_fake_env_set("KUBERNETES_SERVICE_PORT", "443"), 0);
    assert_int_equal(lq_fake_env_set("LIQOLET_SA_DIR", "/sa"), 0);
    put_vec("pki/ca.crt", "/sa/ca.crt");
    put("/sa/token", "in-cluster-token-xyz1");
    assert_int_equal(lq_fake_file_mode("/sa/token", 0644, false), 0);
    assert_int_equal(lq_kcfg_in_cluster(&K, err, sizeof err), LQ_OK);
    assert_null(strstr(lq_fake_log_text(), "is open to group or others"));
}

/* An error after the token was read: neither the message nor the log shows it. */
static void test_errors_never_show_tokens(void **state)
{
    (void)state;
    assert_int_equal(parse("clusters: [{name: c, cluster: {server: 'https://h'}}]\n" CTX
                           "users: [{name: u, user: {token: staging-token-abcdef, "
                           "client-key-data: 'QUJD!'}}]\n",
                           NULL),
                     LQ_ECONFIG);
    assert_contains(err, "client-key-data of user \"u\"");
    LQ_ERROR("kcfg", "%s", err);
    /* teardown asserts the log and err hold no token */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_k3s_client_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_microk8s_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeadm_extensions_and_folded_base64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_references_relative_to_the_kubeconfig, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_token_file_der_ca_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refresh_after_seal_does_not_allocate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_multiple_contexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_auth_provider_proxy_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeconfig_env_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_kube_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_never_show_tokens, setup, teardown),
    };
    return cmocka_run_group_tests_name("kubeconfig", tests, NULL, NULL);
}
