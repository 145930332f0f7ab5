/* Unit tests for src/core/config.c: every option type, the config file format, precedence,
 * --set for every key, exact error messages, list overflow, the effective-config line,
 * and that --help and the Markdown reference cover the whole table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define LQ_TEST_STR_(x) #x
#define LQ_TEST_STR(x) LQ_TEST_STR_(x)

#include "liqolet/config.h"
#include "liqolet/liqo.h"
#include "liqolet/log.h"
#include "lq_fake.h"

static lq_config_t cfg;
static char msg[LQ_CONFIG_MSG_MAX];
static char out[32 * 1024];

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_config_init(&cfg);
    msg[0] = '\0';
    return 0;
}

/* Parses a NULL-terminated list of arguments into cfg. */
static lq_err_t args_v(const char *first, va_list ap)
{
    char *argv[64];
    int argc = 0;
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        assert_true(argc < 64);
        argv[argc++] = (char *)(uintptr_t)a;
    }
    return lq_config_parse_args(&cfg, argc, argv, msg, sizeof msg);
}

static lq_err_t args(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    lq_err_t err = args_v(first, ap);
    va_end(ap);
    return err;
}

/* Expects a failure with exactly this message, from a fresh configuration. */
static void bad(const char *want, const char *first, ...)
{
    va_list ap;
    lq_config_init(&cfg);
    va_start(ap, first);
    lq_err_t err = args_v(first, ap);
    va_end(ap);
    if (err != LQ_ECONFIG || strcmp(msg, want) != 0)
        fail_msg("got %s \"%s\"\nwant \"%s\"", lq_err_name(err), msg, want);
}

static void file(const char *path, const char *text)
{
    assert_int_equal(lq_fake_file_set(path, text, strlen(text)), 0);
}

static const char *effective(void)
{
    size_t len;
    assert_int_equal(lq_config_render_effective(&cfg, out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, strlen(out));
    return out;
}

/* The effective line contains " key=value" (or starts with it). */
static void has_pair(const char *key, const char *value)
{
    char want[1200];
    const char *line = effective();
    snprintf(want, sizeof want, "%s=%s", key, value);
    const char *p = strstr(line, want);
    while (p != NULL && !((p == line || p[-1] == ' ') &&
                          (p[strlen(want)] == ' ' || p[strlen(want)] == '\0')))
        p = strstr(p + 1, want);
    if (p == NULL)
        fail_msg("'%s' not in: %s", want, line);
}

/* --- defaults and the effective line --------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(cfg.sharing_percentage, 90);
    assert_string_equal(cfg.namespace, "liqo");
    assert_false(cfg.networking_internal);
    assert_true(cfg.networking_reflect_ips);
    assert_int_equal(cfg.log_level, LQ_LOG_INFO);
    assert_int_equal(cfg.log_format, LQ_LOG_PLAIN);
    assert_int_equal(cfg.n_mgmt_listen, 2);
    assert_string_equal(cfg.mgmt_listen[0].host, "::1");
    assert_int_equal(cfg.mgmt_listen[0].port, 5683);
    assert_string_equal(cfg.mgmt_listen[1].host, "127.0.0.1");
    assert_int_equal(cfg.n_http_listen, 0);
    assert_int_equal(cfg.n_node_labels + cfg.n_node_annotations + cfg.n_offload, 0);
    assert_string_equal(cfg.node_name, "");
    assert_string_equal(cfg.home.id, "");
    /* no arguments at all is fine: everything defaults or is derived */
    assert_int_equal(args(NULL), LQ_OK);
    assert_false(cfg.help);

    assert_string_equal(effective(),
        "cluster.home.kubeconfig=auto cluster.home.context=auto cluster.home.id=auto "
        "cluster.home.name=auto cluster.foreign.kubeconfig=auto cluster.foreign.context=auto "
        "cluster.foreign.id=auto cluster.foreign.name=auto node.name=auto node.ip=auto "
        "node.labels=\"\" node.annotations=\"\" node.sharingPercentage=90 "
        "node.maxPods=" LQ_TEST_STR(LQ_MAX_PODS) " kubelet.port=10350 kubelet.certDir=auto kubelet.certificate=SelfSigned "
        "offloading.namespaces=\"\" offloading.namespaceMappingStrategy=DefaultName "
        "offloading.podSecurity=baseline "
        "agent.namespace=liqo log.level=info log.format=plain compat=v0.8 networking.internal=false networking.enabled=false tls.allowInsecure=false networking.reflectIPs=true "
        "reflection.configmap.workers=3 reflection.configmap.type=DenyList "
        "reflection.secret.workers=3 reflection.secret.type=DenyList "
        "reflection.service.workers=3 reflection.service.type=DenyList "
        "reflection.endpointslice.workers=10 reflection.endpointslice.type=DenyList "
        "reflection.ingress.workers=3 reflection.ingress.type=DenyList "
        "mgmt.listen=[::1]:5683,127.0.0.1:5683 mgmt.pskFile=none mgmt.pskIdentity=none "
        "http.listen=off");
}

static void test_effective_line_values(void **state)
{
    (void)state;
    file("/etc/l.conf", "node.name: edge\n");
    assert_int_equal(args("--config", "/etc/l.conf", "--home-kubeconfig", "/k/home config",
                          "--node-label", "a=1", "--node-label", "b.io/c=x_y",
                          "--node-annotation", "note=hello \"world\"", "--offload", "ns1",
                          "--offload", "ns2", "--http-listen", "0.0.0.0:9090",
                          "--log-format", "json", NULL), LQ_OK);
    const char *line = effective();
    assert_non_null(strstr(line, "cluster.home.kubeconfig=\"/k/home config\" "));
    assert_non_null(strstr(line, " node.name=edge "));
    assert_non_null(strstr(line, " node.labels=a:1,b.io/c:x_y "));
    assert_non_null(strstr(line, " node.annotations=note:\"hello \\\"world\\\"\" "));
    assert_non_null(strstr(line, " offloading.namespaces=ns1,ns2 "));
    assert_non_null(strstr(line, " log.format=json "));
    assert_non_null(strstr(line, " http.listen=0.0.0.0:9090 "));
    assert_non_null(strstr(line, " config=/etc/l.conf"));
    assert_null(strchr(line, '\n'));

    /* too small: LQ_ETOOBIG and an empty buffer, never a cut line */
    char small[64];
    size_t len = 7;
    assert_int_equal(lq_config_render_effective(&cfg, small, sizeof small, &len), LQ_ETOOBIG);
    assert_string_equal(small, "");
    assert_int_equal(len, 0);
    assert_int_equal(lq_config_render_effective(NULL, out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_config_render_effective(&cfg, NULL, 10, &len), LQ_EINVAL);
    assert_int_equal(lq_config_render_effective(&cfg, out, sizeof out, NULL), LQ_EINVAL);
}

/* --- every type ------------------------------------------------------------------------ */

static void test_strings(void **state)
{
    (void)state;
    assert_int_equal(args("--home-kubeconfig", "/h.kc", "--home-context", "ctx-h",
                          "--foreign-kubeconfig=/f.kc", "--foreign-context=Ctx F",
                          "--home-cluster-id", "5e1c4a5e-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
                          "--home-cluster-name", "home-1", "--foreign-cluster-id", "F_1.x",
                          "--foreign-cluster-name", "edge", "--node-name", "liqo-edge.site",
                          "--node-ip", "fd00::10", "--namespace", "liqo-system", NULL),
                     LQ_OK);
    assert_string_equal(cfg.home.kubeconfig, "/h.kc");
    assert_string_equal(cfg.home.context, "ctx-h");
    assert_string_equal(cfg.foreign.kubeconfig, "/f.kc");
    assert_string_equal(cfg.foreign.context, "Ctx F");
    assert_string_equal(cfg.home.id, "5e1c4a5e-1d2b-4c3d-9e8f-0a1b2c3d4e5f");
    assert_string_equal(cfg.home.name, "home-1");
    assert_string_equal(cfg.foreign.id, "F_1.x");
    assert_string_equal(cfg.foreign.name, "edge");
    assert_string_equal(cfg.node_name, "liqo-edge.site");
    assert_string_equal(cfg.node_ip, "fd00::10");
    assert_string_equal(cfg.namespace, "liqo-system");
    /* a derived value can be set back to "derive" */
    assert_int_equal(args("--node-name=", NULL), LQ_OK);
    assert_string_equal(cfg.node_name, "");

    bad("--namespace: an empty value is not allowed", "--namespace", "", NULL);
    bad("--node-name: 'Liqo_Edge' is not a DNS-1123 subdomain (dot-separated labels of a-z, "
        "0-9 and '-', at most 253)", "--node-name", "Liqo_Edge", NULL);
    bad("--home-cluster-name: 'a.b' is not a DNS-1123 label (a-z, 0-9 and '-', alphanumeric "
        "at both ends, at most 63)", "--home-cluster-name", "a.b", NULL);
    bad("--offload: '-x' is not NS or NS=REMOTE with both DNS-1123 labels (a-z, 0-9 and '-', "
        "alphanumeric at both ends, at most 63)", "--offload", "-x", NULL);
    bad("--offload: 'a=B' is not NS or NS=REMOTE with both DNS-1123 labels (a-z, 0-9 and '-', "
        "alphanumeric at both ends, at most 63)", "--offload", "a=B", NULL);
    bad("--offload: 'a=' is not NS or NS=REMOTE with both DNS-1123 labels (a-z, 0-9 and '-', "
        "alphanumeric at both ends, at most 63)", "--offload", "a=", NULL);
    bad("--foreign-cluster-id: 'a b' is not a label value (A-Z, a-z, 0-9, '-', '_', '.', "
        "alphanumeric at both ends, at most 63)", "--foreign-cluster-id", "a b", NULL);

    /* 64-byte label: too long; the value is shortened in the message */
    char l64[65];
    memset(l64, 'a', 64);
    l64[64] = '\0';
    bad("--namespace: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not a DNS-1123 label (a-z, "
        "0-9 and '-', alphanumeric at both ends, at most 63)", "--namespace", l64, NULL);
    /* over-long path */
    static char path[LQ_CONFIG_PATH_MAX + 2];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    char want[160];
    snprintf(want, sizeof want, "--home-kubeconfig: '%.37s...' is longer than %u bytes", path,
             (unsigned)LQ_CONFIG_PATH_MAX);
    bad(want, "--home-kubeconfig", path, NULL);
    path[LQ_CONFIG_PATH_MAX] = '\0'; /* exactly the maximum fits */
    lq_config_init(&cfg);
    assert_int_equal(args("--home-kubeconfig", path, NULL), LQ_OK);
    assert_int_equal(strlen(cfg.home.kubeconfig), LQ_CONFIG_PATH_MAX);
}

static void test_ip_addresses(void **state)
{
    (void)state;
    static const char *const good[] = { "10.0.0.1", "0.0.0.0", "255.255.255.255", "::",
                                        "::1", "fd00::1", "2001:db8:0:0:0:0:0:1",
                                        "::ffff:10.1.2.3", "fe80::", "1:2:3:4:5:6:7::" };
    static const char *const badips[] = { "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4",
                                          "fd00:::1", "1:2:3:4:5:6:7:8:9", "[::1]",
                                          "localhost", "1::2::3", ":1", "1:", "12345::1",
                                          "1.2.3.4:80", "::ffff:1.2.3", "g::1" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        lq_config_init(&cfg);
        if (args("--node-ip", good[i], NULL) != LQ_OK)
            fail_msg("%s rejected: %s", good[i], msg);
        assert_string_equal(cfg.node_ip, good[i]);
    }
    for (size_t i = 0; i < sizeof badips / sizeof badips[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "--node-ip: '%s' is not an IPv4 or IPv6 address",
                 badips[i]);
        bad(want, "--node-ip", badips[i], NULL);
    }
}

static void test_bool(void **state)
{
    (void)state;
    assert_int_equal(args("--set", "networking.reflectIPs=false", NULL), LQ_OK);
    assert_false(cfg.networking_reflect_ips);
    assert_int_equal(args("--set", "networking.reflectIPs=true", NULL), LQ_OK);
    assert_true(cfg.networking_reflect_ips);
    assert_int_equal(args("--set", "networking.internal=false", NULL), LQ_OK);
    assert_false(cfg.networking_internal);
    bad("networking.internal: 'maybe' is not one of true|false", "--set",
        "networking.internal=maybe", NULL);
    bad("networking.reflectIPs: 'False' is not one of true|false", "--set",
        "networking.reflectIPs=False", NULL);
    bad("networking.reflectIPs: '' is not one of true|false", "--set",
        "networking.reflectIPs=", NULL);
}

static void test_internal_true_rejected(void **state)
{
    (void)state;
    static const char want[] =
        "networking.internal: true is not supported yet: IP remapping (Liqo's internal "
        "network) has not landed in liqolet; use false (External Network mode)";
    bad(want, "--set", "networking.internal=true", NULL);
    assert_false(cfg.networking_internal);
    /* the same from a file, with its position */
    file("/c", "# site\nnetworking.internal: true\n");
    char w2[320];
    snprintf(w2, sizeof w2, "/c:2: %s", want);
    bad(w2, "--config", "/c", NULL);
    lq_config_init(&cfg);
    assert_int_equal(lq_config_set(&cfg, "networking.internal", "true", msg, sizeof msg),
                     LQ_ECONFIG);
    assert_string_equal(msg, want);
}

/* networking.enabled (Liqo v1) is networking.internal (v0.8): one switch, true refused by
 * either name; both given in one place must agree (DESIGN.md Decision 18). */
static void test_networking_enabled(void **state)
{
    (void)state;
    assert_int_equal(args("--set", "networking.enabled=false", NULL), LQ_OK);
    assert_false(cfg.networking_internal);
    static const char want[] =
        "networking.enabled: true is not supported yet: IP remapping (Liqo's internal "
        "network) has not landed in liqolet; use false (External Network mode)";
    bad(want, "--set", "networking.enabled=true", NULL);
    assert_false(cfg.networking_internal);
    /* v1 key under its v1 parent is not a thing: networking.* did not move */
    assert_int_equal(args("--set", "networking.internal=false", "--set",
                          "networking.enabled=false", NULL), LQ_OK);
    assert_false(cfg.networking_internal);
    bad("networking.enabled=true disagrees with networking.internal=false given before: "
        "they are one switch (Liqo v1's and v0.8's names); give one of them",
        "--set", "networking.internal=false", "--set", "networking.enabled=true", NULL);
    bad("networking.internal=true disagrees with networking.enabled=false given before: "
        "they are one switch (Liqo v1's and v0.8's names); give one of them",
        "--set", "networking.enabled=false", "--set", "networking.internal=true", NULL);
    /* in one file, with its position */
    file("/c", "networking.internal: false\nnetworking.enabled: true\n");
    bad("/c:2: networking.enabled=true disagrees with networking.internal=false given before: "
        "they are one switch (Liqo v1's and v0.8's names); give one of them",
        "--config", "/c", NULL);
    /* across places the stronger one wins as for any key: here true, still refused */
    file("/c", "networking.internal: false\n");
    bad(want, "--config", "/c", "--set", "networking.enabled=true", NULL);
    file("/c", "networking.enabled: false\n");
    assert_int_equal(args("--config", "/c", "--set", "networking.internal=false", NULL), LQ_OK);
    assert_false(cfg.networking_internal);
    has_pair("networking.internal", "false");
    has_pair("networking.enabled", "false");
}

/* compat: the Liqo label family (include/liqolet/liqo.h). */
static void test_compat(void **state)
{
    (void)state;
    assert_int_equal(args(NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V08);
    assert_int_equal(args("--compat", "v1", NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V1);
    has_pair("compat", "v1");
    assert_int_equal(args("--compat=v0.8", NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V08);
    assert_int_equal(args("--set", "compat=v1", NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V1);
    file("/c", "compat: v1\n");
    assert_int_equal(args("--config", "/c", NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V1);
    assert_int_equal(args("--config", "/c", "--compat", "v0.8", NULL), LQ_OK);
    assert_int_equal(cfg.compat, LQ_LIQO_COMPAT_V08);
    bad("--compat: 'v1.2' is not one of v0.8|v1", "--compat", "v1.2", NULL);
    bad("compat: 'V1' is not one of v0.8|v1", "--set", "compat=V1", NULL);
}

static void test_int(void **state)
{
    (void)state;
    assert_int_equal(args("--sharing-percentage", "1", NULL), LQ_OK);
    assert_int_equal(cfg.sharing_percentage, 1);
    assert_int_equal(args("--sharing-percentage=100", NULL), LQ_OK);
    assert_int_equal(cfg.sharing_percentage, 100);
    bad("--sharing-percentage: 120 is not in 1..100", "--sharing-percentage", "120", NULL);
    bad("--sharing-percentage: 0 is not in 1..100", "--sharing-percentage", "0", NULL);
    bad("--sharing-percentage: -5 is not in 1..100", "--sharing-percentage", "-5", NULL);
    bad("--sharing-percentage: 'abc' is not an integer in 1..100", "--sharing-percentage",
        "abc", NULL);
    bad("--sharing-percentage: '50%' is not an integer in 1..100", "--sharing-percentage",
        "50%", NULL);
    bad("--sharing-percentage: '' is not an integer in 1..100", "--sharing-percentage", "",
        NULL);
    bad("--sharing-percentage: '99999999999999999999' is not an integer in 1..100",
        "--sharing-percentage", "99999999999999999999", NULL);
    bad("node.sharingPercentage: 101 is not in 1..100", "--set",
        "node.sharingPercentage=101", NULL);
}

static void test_enum(void **state)
{
    (void)state;
    static const char *const levels[] = { "error", "warn", "info", "debug", "trace" };
    for (unsigned i = 0; i < 5; i++) {
        lq_log_level_t want;
        assert_int_equal(args("--log-level", levels[i], NULL), LQ_OK);
        /* same order as lq_log_level_t */
        assert_int_equal(lq_log_level_parse(levels[i], &want), LQ_OK);
        assert_int_equal(cfg.log_level, (unsigned)want);
    }
    lq_log_format_t f;
    assert_int_equal(args("--log-format", "json", NULL), LQ_OK);
    assert_int_equal(lq_log_format_parse("json", &f), LQ_OK);
    assert_int_equal(cfg.log_format, (unsigned)f);
    bad("--log-level: 'verbose' is not one of error|warn|info|debug|trace", "--log-level",
        "verbose", NULL);
    bad("--log-format: 'text' is not one of plain|json", "--log-format", "text", NULL);
    assert_int_equal(cfg.offload_mapping, 0);
    assert_int_equal(args("--offload-mapping", "EnforceSameName", NULL), LQ_OK);
    assert_int_equal(cfg.offload_mapping, 1);
    bad("--offload-mapping: 'SelectedName' is not one of DefaultName|EnforceSameName",
        "--offload-mapping", "SelectedName", NULL);
    bad("log.level: 'INFO' is not one of error|warn|info|debug|trace", "--set",
        "log.level=INFO", NULL);
}

/* Liqo's reflection keys, under their v0.x Helm names, their v1 names and the VK flags. */
static void test_reflection_keys(void **state)
{
    (void)state;
    assert_int_equal(cfg.reflection_configmap_workers, 3);
    assert_int_equal(cfg.reflection_secret_workers, 3);
    assert_int_equal(cfg.reflection_configmap_type, 0);
    assert_int_equal(args("--set", "reflection.configmap.type=AllowList", "--set",
                          "reflection.secret.workers=0", NULL), LQ_OK);
    assert_int_equal(cfg.reflection_configmap_type, 1);
    assert_int_equal(cfg.reflection_secret_workers, 0);
    assert_int_equal(args("--set", "offloading.reflection.secret.type=AllowList", "--set",
                          "offloading.reflection.configmap.workers=7", NULL), LQ_OK);
    assert_int_equal(cfg.reflection_secret_type, 1);
    assert_int_equal(cfg.reflection_configmap_workers, 7);
    assert_int_equal(args("--configmap-reflection-type", "DenyList",
                          "--secret-reflection-workers", "2", NULL), LQ_OK);
    assert_int_equal(cfg.reflection_configmap_type, 0);
    assert_int_equal(cfg.reflection_secret_workers, 2);
    bad("reflection.configmap.type: 'Allowlist' is not one of DenyList|AllowList", "--set",
        "reflection.configmap.type=Allowlist", NULL);
    bad("reflection.secret.workers: -1 is not in 0..64", "--set",
        "offloading.reflection.secret.workers=-1", NULL);
    /* only the reflection subtree has a v1 alias */
    assert_int_equal(args("--set", "offloading.namespaceMappingStrategy=EnforceSameName", NULL),
                     LQ_OK);
    assert_int_not_equal(args("--set", "offloading.reflection=1", NULL), LQ_OK);
}

static void test_lists(void **state)
{
    (void)state;
    assert_int_equal(args("--node-label", "topology.kubernetes.io/zone=edge-1", "--node-label",
                          "empty=", "--node-annotation", "liqo.io/note=any text: here=ok",
                          "--offload", "team-a", "--set", "offloading.namespaces=team-b",
                          "--offload", "team-c=remote-c", NULL), LQ_OK);
    assert_int_equal(cfg.n_node_labels, 2);
    assert_string_equal(cfg.node_labels[0].key, "topology.kubernetes.io/zone");
    assert_string_equal(cfg.node_labels[0].value, "edge-1");
    assert_string_equal(cfg.node_labels[1].key, "empty");
    assert_string_equal(cfg.node_labels[1].value, "");
    assert_int_equal(cfg.n_node_annotations, 1);
    assert_string_equal(cfg.node_annotations[0].key, "liqo.io/note");
    assert_string_equal(cfg.node_annotations[0].value, "any text: here=ok");
    assert_int_equal(cfg.n_offload, 3);
    assert_string_equal(cfg.offload[0], "team-a");
    assert_string_equal(cfg.offload[1], "team-b");
    assert_string_equal(cfg.offload[2], "team-c=remote-c");

    bad("--node-label: 'zone' is not KEY=VALUE", "--node-label", "zone", NULL);
    bad("--node-label: 'a=b c' has an invalid value (a label value: A-Z, a-z, 0-9, '-', '_', "
        "'.', alphanumeric at both ends, at most 63)", "--node-label", "a=b c", NULL);
    bad("--node-annotation: 'Bad_Prefix/x=1' has an invalid key (a qualified name: "
        "[prefix/]name, the name of A-Z, a-z, 0-9, '-', '_', '.', at most 63)",
        "--node-annotation", "Bad_Prefix/x=1", NULL);
    bad("--node-label: '=v' has an invalid key (a qualified name: [prefix/]name, the name of "
        "A-Z, a-z, 0-9, '-', '_', '.', at most 63)", "--node-label", "=v", NULL);
    static char longval[LQ_CONFIG_VALUE_MAX + 8];
    memcpy(longval, "k=", 2);
    memset(longval + 2, 'v', LQ_CONFIG_VALUE_MAX + 1);
    char want[200];
    snprintf(want, sizeof want, "--node-annotation: the value of '%.37s...' is longer than %u "
             "bytes", longval, (unsigned)LQ_CONFIG_VALUE_MAX);
    bad(want, "--node-annotation", longval, NULL);
}

static void test_list_overflow(void **state)
{
    (void)state;
    static char items[LQ_CONFIG_MAX_NODE_LABELS + 1][16];
    static char ns[LQ_CONFIG_MAX_OFFLOAD + 1][16];
    char *argv[2 * (LQ_CONFIG_MAX_NODE_LABELS + LQ_CONFIG_MAX_OFFLOAD + 2)];
    int argc = 0;

    for (int i = 0; i < LQ_CONFIG_MAX_NODE_LABELS; i++) {
        snprintf(items[i], sizeof items[i], "k%d=v", i);
        argv[argc++] = (char *)"--node-label";
        argv[argc++] = items[i];
    }
    assert_int_equal(lq_config_parse_args(&cfg, argc, argv, msg, sizeof msg), LQ_OK);
    assert_int_equal(cfg.n_node_labels, LQ_CONFIG_MAX_NODE_LABELS);
    argv[argc++] = (char *)"--node-label";
    argv[argc++] = (char *)"one=more";
    lq_config_init(&cfg);
    assert_int_equal(lq_config_parse_args(&cfg, argc, argv, msg, sizeof msg), LQ_ECONFIG);
    char want[128];
    snprintf(want, sizeof want, "--node-label: more than %u values (the limit of this build)",
             (unsigned)LQ_CONFIG_MAX_NODE_LABELS);
    assert_string_equal(msg, want);

    argc = 0;
    for (int i = 0; i <= LQ_CONFIG_MAX_OFFLOAD; i++) {
        snprintf(ns[i], sizeof ns[i], "ns%d", i);
        argv[argc++] = (char *)"--set";
        argv[argc++] = ns[i]; /* rewritten below */
    }
    static char sets[LQ_CONFIG_MAX_OFFLOAD + 1][48];
    for (int i = 0; i <= LQ_CONFIG_MAX_OFFLOAD; i++) {
        snprintf(sets[i], sizeof sets[i], "offloading.namespaces=%s", ns[i]);
        argv[2 * i + 1] = sets[i];
    }
    lq_config_init(&cfg);
    assert_int_equal(lq_config_parse_args(&cfg, argc, argv, msg, sizeof msg), LQ_ECONFIG);
    snprintf(want, sizeof want,
             "offloading.namespaces: more than %u values (the limit of this build)",
             (unsigned)LQ_CONFIG_MAX_OFFLOAD);
    assert_string_equal(msg, want);

    /* annotations: through lq_config_set */
    lq_config_init(&cfg);
    for (int i = 0; i < LQ_CONFIG_MAX_NODE_ANNOTATIONS; i++)
        assert_int_equal(lq_config_set(&cfg, "node.annotations", "a=b", msg, sizeof msg),
                         LQ_OK);
    assert_int_equal(lq_config_set(&cfg, "node.annotations", "a=b", msg, sizeof msg),
                     LQ_ECONFIG);
    snprintf(want, sizeof want, "node.annotations: more than %u values (the limit of this "
             "build)", (unsigned)LQ_CONFIG_MAX_NODE_ANNOTATIONS);
    assert_string_equal(msg, want);
}

static void test_addresses(void **state)
{
    (void)state;
    assert_int_equal(args("--mgmt-listen", "127.0.0.1:0", NULL), LQ_OK);
    assert_int_equal(cfg.n_mgmt_listen, 1);
    assert_string_equal(cfg.mgmt_listen[0].host, "127.0.0.1");
    assert_int_equal(cfg.mgmt_listen[0].port, 0);
    assert_int_equal(args("--mgmt-listen", "[fd00::5]:65535,10.0.0.1:5684", "--http-listen",
                          "[::]:8080", NULL), LQ_OK);
    assert_int_equal(cfg.n_mgmt_listen, 2);
    assert_string_equal(cfg.mgmt_listen[0].host, "fd00::5");
    assert_int_equal(cfg.mgmt_listen[0].port, 65535);
    assert_string_equal(cfg.mgmt_listen[1].host, "10.0.0.1");
    assert_int_equal(cfg.n_http_listen, 1);
    assert_string_equal(cfg.http_listen[0].host, "::");
    has_pair("mgmt.listen", "[fd00::5]:65535,10.0.0.1:5684");
    has_pair("http.listen", "[::]:8080");
    /* empty turns HTTP off again; the management endpoint cannot be empty */
    assert_int_equal(args("--http-listen=", NULL), LQ_OK);
    assert_int_equal(cfg.n_http_listen, 0);
    bad("--mgmt-listen: an empty value is not allowed (give at least one IP:PORT)",
        "--mgmt-listen", "", NULL);

    static const char *const bads[] = { "localhost:5683", "127.0.0.1", "::1:5683",
                                        "[::1]5683", "[::1]:", "1.2.3.4:65536",
                                        "1.2.3.4:-1", "[1.2.3.4]:80", "", "1.2.3.4:123456" };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        char v[64], want[128];
        snprintf(v, sizeof v, "127.0.0.1:1,%s", bads[i]);
        snprintf(want, sizeof want, "--mgmt-listen: '%s' is not IPV4:PORT or [IPV6]:PORT",
                 bads[i]);
        bad(want, "--mgmt-listen", v, NULL);
        /* a failed set leaves the previous value */
        assert_int_equal(cfg.n_mgmt_listen, 2);
        assert_int_equal(cfg.mgmt_listen[1].port, 5683);
    }
    char many[256] = "";
    for (int i = 0; i <= LQ_CONFIG_MAX_LISTEN; i++)
        strcat(many, i == 0 ? "127.0.0.1:1" : ",127.0.0.1:1");
    char want[96];
    snprintf(want, sizeof want, "--http-listen: more than %u addresses",
             (unsigned)LQ_CONFIG_MAX_LISTEN);
    bad(want, "--http-listen", many, NULL);
}

/* --- --set reaches every key ----------------------------------------------------------- */

static const struct {
    const char *key, *value, *shown;
} samples[] = {
    { "cluster.home.kubeconfig", "/h", "/h" },
    { "cluster.home.context", "hc", "hc" },
    { "cluster.home.id", "hid", "hid" },
    { "cluster.home.name", "hname", "hname" },
    { "cluster.foreign.kubeconfig", "/f", "/f" },
    { "cluster.foreign.context", "fc", "fc" },
    { "cluster.foreign.id", "fid", "fid" },
    { "cluster.foreign.name", "fname", "fname" },
    { "node.name", "liqo-x", "liqo-x" },
    { "node.ip", "192.0.2.7", "192.0.2.7" },
    { "node.labels", "l=v", "l:v" },
    { "node.annotations", "a=w", "a:w" },
    { "node.sharingPercentage", "42", "42" },
    { "node.maxPods", "3", "3" },
    { "kubelet.port", "0", "0" },
    { "kubelet.certDir", "/var/lib/liqolet", "/var/lib/liqolet" },
    { "kubelet.certificate", "CSR", "CSR" },
    { "offloading.namespaces", "ns=rns", "\"ns=rns\"" },
    { "offloading.namespaceMappingStrategy", "EnforceSameName", "EnforceSameName" },
    { "offloading.podSecurity", "restricted", "restricted" },
    { "agent.namespace", "agent", "agent" },
    { "log.level", "debug", "debug" },
    { "log.format", "json", "json" },
    { "compat", "v1", "v1" },
    { "networking.internal", "false", "false" },
    { "networking.enabled", "false", "false" },
    { "networking.reflectIPs", "false", "false" },
    { "tls.allowInsecure", "true", "true" },
    { "reflection.configmap.workers", "0", "0" },
    { "reflection.configmap.type", "AllowList", "AllowList" },
    { "reflection.secret.workers", "1", "1" },
    { "reflection.secret.type", "AllowList", "AllowList" },
    { "reflection.service.workers", "2", "2" },
    { "reflection.service.type", "AllowList", "AllowList" },
    { "reflection.endpointslice.workers", "0", "0" },
    { "reflection.endpointslice.type", "AllowList", "AllowList" },
    { "reflection.ingress.workers", "0", "0" },
    { "reflection.ingress.type", "AllowList", "AllowList" },
    { "mgmt.listen", "127.0.0.1:0", "127.0.0.1:0" },
    { "mgmt.pskFile", "/etc/liqolet/mgmt.psk", "/etc/liqolet/mgmt.psk" },
    { "mgmt.pskIdentity", "ops", "ops" },
    { "http.listen", "127.0.0.1:8080", "127.0.0.1:8080" },
};

static void test_set_every_key(void **state)
{
    (void)state;
    size_t n, keys = 0;
    const lq_config_opt_t *t = lq_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].key == NULL)
            continue;
        keys++;
        size_t s = 0;
        while (s < sizeof samples / sizeof samples[0] && strcmp(samples[s].key, t[i].key) != 0)
            s++;
        if (s == sizeof samples / sizeof samples[0])
            fail_msg("no sample value for key %s", t[i].key);
        char set[128];
        snprintf(set, sizeof set, "%s=%s", samples[s].key, samples[s].value);
        lq_config_init(&cfg);
        if (args("--set", set, NULL) != LQ_OK)
            fail_msg("--set %s: %s", set, msg);
        has_pair(samples[s].key, samples[s].shown);
        /* the flag, where there is one, gives the same configuration */
        if (t[i].flag != NULL) {
            static lq_config_t via_set;
            via_set = cfg;
            lq_config_init(&cfg);
            assert_int_equal(args(t[i].flag, samples[s].value, NULL), LQ_OK);
            assert_memory_equal(&cfg, &via_set, offsetof(lq_config_t, layer_));
        }
    }
    assert_int_equal(keys, sizeof samples / sizeof samples[0]);
    /* lq_config_set is --set */
    lq_config_init(&cfg);
    assert_int_equal(lq_config_set(&cfg, "node.name", "n1", msg, sizeof msg), LQ_OK);
    assert_string_equal(cfg.node_name, "n1");
    assert_int_equal(lq_config_set(NULL, "node.name", "n1", msg, sizeof msg), LQ_EINVAL);
    assert_int_equal(lq_config_set(&cfg, "node.name", NULL, msg, sizeof msg), LQ_EINVAL);
}

/* --- unknown names, did-you-mean, syntax --------------------------------------------------- */

static void test_unknown_and_syntax(void **state)
{
    (void)state;
    bad("unknown option '--node-nmae' (did you mean --node-name?)", "--node-nmae", "x", NULL);
    bad("unknown option '--sharing-percent' (see liqolet run --help)", "--sharing-percent",
        "5", NULL);
    bad("unknown option '--ofload' (did you mean --offload?)", "--ofload=ns", NULL);
    bad("unknown option '-v' (see liqolet run --help)", "-v", NULL);
    bad("unknown key 'networking.reflectIps' (did you mean networking.reflectIPs?)", "--set",
        "networking.reflectIps=false", NULL);
    bad("unknown key 'nothing.like.it' (see liqolet run --help)", "--set",
        "nothing.like.it=1", NULL);
    bad("--set: 'networking.internal' is not KEY=VALUE", "--set", "networking.internal",
        NULL);
    bad("--node-name needs a value (NAME)", "--node-name", NULL);
    bad("unexpected argument 'extra' (options start with --)", "extra", NULL);
    bad("--config given twice ('/a' and '/b')", "--config", "/a", "--config", "/b", NULL);
    bad("--config: an empty value is not allowed", "--config=", NULL);
    /* errors of syntax are found before a config file is read */
    bad("unknown option '--bogus' (see liqolet run --help)", "--config", "/missing",
        "--bogus", NULL);

    assert_int_equal(lq_config_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(lq_config_edit_distance("", "abc"), 3);
    assert_int_equal(lq_config_edit_distance("same", "same"), 0);
    char l[80];
    memset(l, 'x', 79);
    l[79] = '\0';
    assert_true(lq_config_edit_distance(l, "x") > 64);
    assert_int_equal(lq_config_parse_args(NULL, 0, NULL, msg, sizeof msg), LQ_EINVAL);
    assert_int_equal(lq_config_parse_args(&cfg, 1, NULL, msg, sizeof msg), LQ_EINVAL);
    /* no message buffer: still the right code */
    char *argv[] = { (char *)"--nope" };
    assert_int_equal(lq_config_parse_args(&cfg, 1, argv, NULL, 0), LQ_ECONFIG);
    /* a tiny message buffer is cut, never overrun */
    char tiny[8];
    assert_int_equal(lq_config_parse_args(&cfg, 1, argv, tiny, sizeof tiny), LQ_ECONFIG);
    assert_string_equal(tiny, "unknown");
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(args("--node-name", "a", "--bogus", "--help", "--sharing-percentage",
                          "500", NULL), LQ_OK);
    assert_true(cfg.help);
    lq_config_init(&cfg);
    assert_int_equal(args("-h", NULL), LQ_OK);
    assert_true(cfg.help);
}

/* --- the config file ----------------------------------------------------------------------- */

static void test_file_format(void **state)
{
    (void)state;
    file("/etc/liqolet.conf",
         "# liqolet configuration\n"
         "\n"
         "   # indented comment\n"
         "cluster.foreign.kubeconfig: /etc/liqolet/foreign.kubeconfig\n"
         "networking.reflectIPs = false\r\n"
         "node.labels: topology.kubernetes.io/zone=edge-1\n"
         "node.labels:site=warehouse\n"
         "node.annotations: \"note=  kept # too  \"\n"
         "cluster.home.context: 'my ctx'\n"
         "mgmt.listen=[::1]:5683\n"
         "http.listen:\n"
         "\tnode.sharingPercentage\t:\t75   \n"
         "log.level: debug"); /* no final newline */
    assert_int_equal(args("--config", "/etc/liqolet.conf", NULL), LQ_OK);
    assert_string_equal(cfg.config_file, "/etc/liqolet.conf");
    assert_string_equal(cfg.foreign.kubeconfig, "/etc/liqolet/foreign.kubeconfig");
    assert_false(cfg.networking_reflect_ips);
    assert_int_equal(cfg.n_node_labels, 2);
    assert_string_equal(cfg.node_labels[1].key, "site");
    assert_string_equal(cfg.node_annotations[0].value, "  kept # too  ");
    assert_string_equal(cfg.home.context, "my ctx");
    assert_int_equal(cfg.n_mgmt_listen, 1);
    assert_int_equal(cfg.n_http_listen, 0);
    assert_int_equal(cfg.sharing_percentage, 75);
    assert_int_equal(cfg.log_level, LQ_LOG_DEBUG);

    /* apply_text directly: pure, no file */
    lq_config_init(&cfg);
    static const char t[] = "node.name: from-text\n";
    assert_int_equal(lq_config_apply_text(&cfg, t, sizeof t - 1, "inline", msg, sizeof msg),
                     LQ_OK);
    assert_string_equal(cfg.node_name, "from-text");
    assert_int_equal(lq_config_apply_text(&cfg, NULL, 0, NULL, msg, sizeof msg), LQ_OK);
    assert_int_equal(lq_config_apply_text(NULL, t, 1, NULL, msg, sizeof msg), LQ_EINVAL);
    assert_int_equal(lq_config_apply_text(&cfg, "x\0y: 1", 6, NULL, msg, sizeof msg),
                     LQ_ECONFIG);
    assert_string_equal(msg, "config:1: a NUL byte in the line");
    assert_int_equal(lq_config_apply_text(&cfg, "node.name: a\0b", 14, "t", msg, sizeof msg),
                     LQ_ECONFIG);
    assert_string_equal(msg, "t:1: a NUL byte in the line");
}

static void test_file_errors(void **state)
{
    (void)state;
    file("/a", "node.name: ok\njust words\n");
    bad("/a:2: expected 'key: value' or 'key=value'", "--config", "/a", NULL);
    file("/b", "\n\n: value\n");
    bad("/b:3: a value without a key", "--config", "/b", NULL);
    file("/c", "node.nmae: x\n");
    bad("/c:1: unknown key 'node.nmae' (did you mean node.name?)", "--config", "/c", NULL);
    file("/d", "# ok\nnode.sharingPercentage: 200\n");
    bad("/d:2: node.sharingPercentage: 200 is not in 1..100", "--config", "/d", NULL);
    file("/e", "--node-name: x\n");
    bad("/e:1: unknown key '--node-name' (did you mean node.name?)", "--config", "/e", NULL);
    bad("--config: cannot read '/nope': not found", "--config", "/nope", NULL);
    /* the file cannot include another one */
    file("/f", "config: /a\n");
    bad("/f:1: unknown key 'config' (see liqolet run --help)", "--config", "/f", NULL);

    /* a long file name is shown by its tail; the longest messages still fit */
    static char origin[600];
    memset(origin, 'd', sizeof origin - 1);
    origin[sizeof origin - 1] = '\0';
    static const char longline[] =
        "node.annotations: Bad_Prefix_That_Is_Long/and-a-name-that-goes-on=1\n";
    lq_config_init(&cfg);
    assert_int_equal(lq_config_apply_text(&cfg, longline, sizeof longline - 1, origin, msg,
                                          sizeof msg), LQ_ECONFIG);
    assert_int_equal(strncmp(msg, "...dddd", 7), 0);
    assert_non_null(strstr(msg, "dddd:1: node.annotations: 'Bad_Prefix_That_Is_Long/and-a-"
                                "name-th...' has an invalid key"));
    assert_non_null(strstr(msg, "at most 63)"));
    assert_true(strlen(msg) < sizeof msg - 1);
    lq_config_init(&cfg);
    assert_int_equal(lq_config_apply_text(&cfg, "networking.internal: true", 25, origin, msg,
                                          sizeof msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "(External Network mode)"));

    static char big[LQ_CONFIG_FILE_MAX + 1];
    memset(big, '#', sizeof big);
    assert_int_equal(lq_fake_file_set("/big", big, sizeof big), 0);
    char want[96];
    snprintf(want, sizeof want, "--config: '/big' is larger than %u bytes",
             (unsigned)LQ_CONFIG_FILE_MAX - 1u);
    bad(want, "--config", "/big", NULL);
    /* just under the limit is read */
    assert_int_equal(lq_fake_file_set("/big", big, sizeof big - 2), 0);
    lq_config_init(&cfg);
    assert_int_equal(args("--config", "/big", NULL), LQ_OK);
}

static void test_precedence(void **state)
{
    (void)state;
    file("/p",
         "node.name: from-file\n"
         "node.sharingPercentage: 50\n"
         "log.level: warn\n"
         "node.labels: f1=a\n"
         "node.labels: f2=b\n"
         "offloading.namespaces: from-file\n"
         "networking.reflectIPs: false\n");
    /* the file is applied first wherever --config appears; flags and --set win in order */
    assert_int_equal(args("--node-name", "from-flag", "--log-level", "error", "--set",
                          "log.level=trace", "--node-label", "c1=x", "--config", "/p",
                          "--set", "node.labels=c2=y", "--set", "networking.reflectIPs=true",
                          NULL), LQ_OK);
    assert_string_equal(cfg.node_name, "from-flag");
    assert_int_equal(cfg.sharing_percentage, 50);     /* file over default */
    assert_int_equal(cfg.log_level, LQ_LOG_TRACE);    /* later --set over earlier flag */
    assert_true(cfg.networking_reflect_ips);          /* --set over file */
    assert_int_equal(cfg.n_node_labels, 2);           /* command line replaced the file's */
    assert_string_equal(cfg.node_labels[0].key, "c1");
    assert_string_equal(cfg.node_labels[1].key, "c2");
    assert_int_equal(cfg.n_offload, 1);               /* not on the command line: kept */
    assert_string_equal(cfg.offload[0], "from-file");

    /* a flag before the file, then --set after: --set wins, in command-line order */
    lq_config_init(&cfg);
    assert_int_equal(args("--set", "node.name=first", "--config", "/p", "--node-name",
                          "second", NULL), LQ_OK);
    assert_string_equal(cfg.node_name, "second");
    /* without a command-line value, the file's */
    lq_config_init(&cfg);
    assert_int_equal(args("--config=/p", NULL), LQ_OK);
    assert_string_equal(cfg.node_name, "from-file");
    assert_int_equal(cfg.n_node_labels, 2);
    assert_string_equal(cfg.node_labels[0].key, "f1");
}

/* --- help text and reference cover the table --------------------------------------------- */

static void test_usage_covers_table(void **state)
{
    (void)state;
    size_t len, n;
    assert_int_equal(lq_config_usage(out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, strlen(out));
    assert_true(len < 16384); /* the documented bound */
    const lq_config_opt_t *t = lq_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].flag != NULL && strstr(out, t[i].flag) == NULL)
            fail_msg("--help lacks %s", t[i].flag);
        if (t[i].key != NULL && strstr(out, t[i].key) == NULL)
            fail_msg("--help lacks %s", t[i].key);
        if (t[i].values != NULL && strstr(out, t[i].values) == NULL)
            fail_msg("--help lacks the values of %s", t[i].key);
        assert_non_null(t[i].help);
        assert_non_null(t[i].def);
        assert_non_null(t[i].metavar);
    }
    assert_non_null(strstr(out, "(default: 90)"));
    assert_non_null(strstr(out, "[::1]:5683,127.0.0.1:5683)"));
    assert_non_null(strstr(out, "--set networking.internal=BOOL"));
    /* every line fits 79 columns */
    for (const char *p = out; *p != '\0';) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        if ((size_t)(e - p) > 79)
            fail_msg("line over 79 columns: %.*s", (int)(e - p), p);
        p = e + 1;
    }
    char small[100];
    assert_int_equal(lq_config_usage(small, sizeof small, &len), LQ_ETOOBIG);
    assert_string_equal(small, "");
    assert_int_equal(lq_config_usage(NULL, 0, &len), LQ_EINVAL);
}

static void test_markdown_covers_table(void **state)
{
    (void)state;
    size_t len, n, rows = 0;
    assert_int_equal(lq_config_render_markdown(out, sizeof out, &len), LQ_OK);
    assert_true(len < 16384);
    const lq_config_opt_t *t = lq_config_table(&n);
    for (const char *p = out; (p = strstr(p, "\n| ")) != NULL; p++)
        rows++;
    assert_int_equal(rows, n); /* header line starts the buffer; one row per option */
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        if (t[i].flag != NULL) {
            snprintf(cell, sizeof cell, "| `%s %s` |", t[i].flag, t[i].metavar);
            if (strstr(out, cell) == NULL)
                fail_msg("reference lacks %s", cell);
        }
        if (t[i].key != NULL) {
            snprintf(cell, sizeof cell, " | `%s` | ", t[i].key);
            if (strstr(out, cell) == NULL)
                fail_msg("reference lacks %s", cell);
        }
    }
    assert_non_null(strstr(out, "one of `error`, `warn`, `info`, `debug`, `trace`"));
    assert_non_null(strstr(out, "integer 1..100 | `90` |"));
    assert_non_null(strstr(out, "liqo-&lt;foreign cluster name&gt;"));
    char small[200];
    assert_int_equal(lq_config_render_markdown(small, sizeof small, &len), LQ_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_reflection_keys, setup),
        cmocka_unit_test_setup(test_effective_line_values, setup),
        cmocka_unit_test_setup(test_strings, setup),
        cmocka_unit_test_setup(test_ip_addresses, setup),
        cmocka_unit_test_setup(test_bool, setup),
        cmocka_unit_test_setup(test_internal_true_rejected, setup),
        cmocka_unit_test_setup(test_networking_enabled, setup),
        cmocka_unit_test_setup(test_compat, setup),
        cmocka_unit_test_setup(test_int, setup),
        cmocka_unit_test_setup(test_enum, setup),
        cmocka_unit_test_setup(test_lists, setup),
        cmocka_unit_test_setup(test_list_overflow, setup),
        cmocka_unit_test_setup(test_addresses, setup),
        cmocka_unit_test_setup(test_set_every_key, setup),
        cmocka_unit_test_setup(test_unknown_and_syntax, setup),
        cmocka_unit_test_setup(test_help, setup),
        cmocka_unit_test_setup(test_file_format, setup),
        cmocka_unit_test_setup(test_file_errors, setup),
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_usage_covers_table, setup),
        cmocka_unit_test_setup(test_markdown_covers_table, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
