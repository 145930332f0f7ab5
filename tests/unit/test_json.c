/* Unit tests of src/kube/json.c: documents over caller arenas, parsing, typed getters, paths
 * with Kubernetes label keys, builders, deep copy between documents, printing into
 * fixed buffers, and the proof (sealed pool + allocation guard) that none of it touches
 * the heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/json.h"
#include "liqolet/pool.h"

/* A Pod as the API server returns it (kubectl get pod -o json, trimmed to ~3 KB). */
static const char POD[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{"
    "\"kubectl.kubernetes.io/restartedAt\":\"2026-11-20T10:12:44Z\","
    "\"prometheus.io/scrape\":\"true\"},"
    "\"creationTimestamp\":\"2026-11-23T09:41:07Z\",\"generateName\":\"web-6d4cf56db6-\","
    "\"labels\":{\"app.kubernetes.io/name\":\"web\",\"liqo.io/remote-cluster-id\":"
    "\"b07938e3-d241-460c-a77b-e286c0f733c7\",\"pod-template-hash\":\"6d4cf56db6\","
    "\"virtualkubelet.liqo.io/origin\":\"home-1\"},\"name\":\"web-6d4cf56db6-x7k2p\","
    "\"namespace\":\"shop\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
    "\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":"
    "\"web-6d4cf56db6\",\"uid\":\"5b1c0f9e-6f0e-4c7a-9a55-0d8c2f1b3a11\"}],"
    "\"resourceVersion\":\"184467\",\"uid\":\"9f1f4d2a-3c1b-4e55-8d7e-2b6a9c0e5f42\"},"
    "\"spec\":{\"containers\":[{\"args\":[\"--port=8080\",\"--log-level=info\"],"
    "\"env\":[{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\","
    "\"fieldPath\":\"status.podIP\"}}},{\"name\":\"GREETING\",\"value\":"
    "\"gr\\u00fc\\u00dfe \\\"world\\\"\\n\"}],"
    "\"image\":\"registry.example.com/shop/web:1.4.2\",\"imagePullPolicy\":\"IfNotPresent\","
    "\"livenessProbe\":{\"failureThreshold\":3,\"httpGet\":{\"path\":\"/healthz\",\"port\":8080,"
    "\"scheme\":\"HTTP\"},\"initialDelaySeconds\":5,\"periodSeconds\":10,\"successThreshold\":1,"
    "\"timeoutSeconds\":1},\"name\":\"web\",\"ports\":[{\"containerPort\":8080,\"name\":\"http\","
    "\"protocol\":\"TCP\"}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"},"
    "\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},\"terminationMessagePath\":"
    "\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"volumeMounts\":[{"
    "\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\",\"name\":"
    "\"kube-api-access-8x2lq\",\"readOnly\":true}]}],\"dnsPolicy\":\"ClusterFirst\","
    "\"enableServiceLinks\":true,\"hostNetwork\":false,\"nodeName\":\"liqo-foreign-1\","
    "\"preemptionPolicy\":\"PreemptLowerPriority\",\"priority\":0,\"restartPolicy\":\"Always\","
    "\"schedulerName\":\"default-scheduler\",\"securityContext\":{},\"serviceAccount\":\"default\","
    "\"serviceAccountName\":\"default\",\"terminationGracePeriodSeconds\":30,\"tolerations\":[{"
    "\"effect\":\"NoExecute\",\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
    "\"tolerationSeconds\":300},{\"effect\":\"NoSchedule\",\"key\":\"virtual-node.liqo.io/not-allowed\","
    "\"operator\":\"Exists\"}],\"volumes\":[{\"name\":\"kube-api-access-8x2lq\",\"projected\":{"
    "\"defaultMode\":420,\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,"
    "\"path\":\"token\"}},{\"configMap\":{\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}],"
    "\"name\":\"kube-root-ca.crt\"}}]}}]},\"status\":{\"conditions\":[{\"lastProbeTime\":null,"
    "\"lastTransitionTime\":\"2026-11-23T09:41:07Z\",\"status\":\"True\",\"type\":\"Initialized\"},"
    "{\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-23T09:41:12Z\",\"status\":\"True\","
    "\"type\":\"Ready\"}],\"containerStatuses\":[{\"containerID\":\"containerd://4f2a9c\","
    "\"image\":\"registry.example.com/shop/web:1.4.2\",\"imageID\":\"registry.example.com/shop/web@"
    "sha256:0c6f\",\"lastState\":{},\"name\":\"web\",\"ready\":true,\"restartCount\":2,"
    "\"started\":true,\"state\":{\"running\":{\"startedAt\":\"2026-11-23T09:41:11Z\"}}}],"
    "\"hostIP\":\"10.0.3.17\",\"phase\":\"Running\",\"podIP\":\"10.244.1.23\",\"podIPs\":[{\"ip\":"
    "\"10.244.1.23\"},{\"ip\":\"fd00:10:244:1::17\"}],\"qosClass\":\"Burstable\","
    "\"startTime\":\"2026-11-23T09:41:07Z\"}}";

static const char NODE[] =
    "{\n  \"kind\": \"Node\", \"apiVersion\": \"v1\",\n"
    "  \"metadata\": {\"name\": \"liqo-foreign-1\", \"labels\": {\"kubernetes.io/arch\": \"arm64\","
    " \"node.kubernetes.io/instance-type\": \"gateway\", \"liqo.io/type\": \"virtual-node\"}},\n"
    "  \"spec\": {\"taints\": [{\"effect\": \"NoExecute\", \"key\": \"virtual-node.liqo.io/not-allowed\","
    " \"value\": \"true\"}]},\n"
    "  \"status\": {\"capacity\": {\"cpu\": \"3600m\", \"memory\": \"7264Mi\", \"pods\": \"110\"},\n"
    "    \"conditions\": [\n"
    "      {\"type\": \"MemoryPressure\", \"status\": \"False\", \"reason\": \"KubeletHasSufficientMemory\"},\n"
    "      {\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"KubeletReady\","
    " \"message\": \"liqolet is ready\"}\n    ],\n"
    "    \"daemonEndpoints\": {\"kubeletEndpoint\": {\"Port\": 10250}}\n  }\n}\n";

static const char STATUS[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"pods \\\"web-0\\\" already exists\",\"reason\":\"AlreadyExists\","
    "\"details\":{\"name\":\"web-0\",\"kind\":\"pods\"},\"code\":409}";

#define ARENA 65536u
static _Alignas(16) unsigned char arena_a[ARENA];
static _Alignas(16) unsigned char arena_b[ARENA];
static lq_json_doc_t A, B;
static char out[16384];

static int setup(void **state)
{
    (void)state;
    lq_json_doc_init(&A, arena_a, sizeof arena_a);
    lq_json_doc_init(&B, arena_b, sizeof arena_b);
    return 0;
}

static lq_json_t *parse_ok(lq_json_doc_t *d, const char *s)
{
    lq_json_t *r = NULL;
    lq_err_t e = lq_json_parse(d, s, strlen(s), &r);
    if (e != LQ_OK)
        fprintf(stderr, "parse: %s at %zu\n", lq_err_name(e), lq_json_error_offset(d));
    assert_int_equal(e, LQ_OK);
    assert_non_null(r);
    return r;
}

static void assert_str(const lq_json_t *item, const char *want)
{
    lq_json_str_t s;
    assert_int_equal(lq_json_str(item, &s), LQ_OK);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.p, want, s.len);
    assert_int_equal(s.p[s.len], '\0');
}

static int64_t get_int(const lq_json_t *item)
{
    int64_t v = -12345;
    assert_int_equal(lq_json_int(item, &v), LQ_OK);
    return v;
}

static const char *print(const lq_json_t *item)
{
    size_t n = 0;
    assert_int_equal(lq_json_print(item, out, sizeof out, &n), LQ_OK);
    assert_int_equal(n, strlen(out));
    return out;
}

/* ---- reading ------------------------------------------------------------------ */

static void test_pod_getters(void **state)
{
    (void)state;
    lq_json_t *pod = parse_ok(&A, POD);
    assert_true(sizeof POD > 2800);
    assert_int_equal(lq_json_type(pod), LQ_JSON_OBJECT);
    assert_str(LQ_JSON_AT(pod, "kind"), "Pod");
    assert_str(LQ_JSON_AT(pod, "metadata", "name"), "web-6d4cf56db6-x7k2p");
    assert_str(LQ_JSON_AT(pod, "metadata", "namespace"), "shop");
    /* label keys with dots and slashes are one path element each */
    assert_str(LQ_JSON_AT(pod, "metadata", "labels", "liqo.io/remote-cluster-id"),
               "b07938e3-d241-460c-a77b-e286c0f733c7");
    assert_str(LQ_JSON_AT(pod, "metadata", "labels", "virtualkubelet.liqo.io/origin"), "home-1");
    assert_null(LQ_JSON_AT(pod, "metadata", "labels", "liqo.io"));
    assert_null(LQ_JSON_AT(pod, "metadata", "labels.liqo.io/remote-cluster-id"));
    /* array levels take decimal indexes */
    assert_str(LQ_JSON_AT(pod, "spec", "containers", "0", "image"),
               "registry.example.com/shop/web:1.4.2");
    assert_int_equal(get_int(LQ_JSON_AT(pod, "spec", "containers", "0", "ports", "0",
                                        "containerPort")), 8080);
    assert_null(LQ_JSON_AT(pod, "spec", "containers", "1"));
    assert_null(LQ_JSON_AT(pod, "spec", "containers", "00"));
    assert_null(LQ_JSON_AT(pod, "spec", "containers", "-1"));
    assert_null(LQ_JSON_AT(pod, "spec", "containers", "name"));
    assert_null(LQ_JSON_AT(pod, "spec", "containers", "99999999999999999999999999"));
    /* escapes are decoded */
    assert_str(LQ_JSON_AT(pod, "spec", "containers", "0", "env", "1", "value"),
               "gr\xc3\xbc\xc3\x9f" "e \"world\"\n");
    /* bools */
    bool b = true;
    assert_int_equal(lq_json_bool(LQ_JSON_AT(pod, "spec", "hostNetwork"), &b), LQ_OK);
    assert_false(b);
    assert_int_equal(lq_json_bool(LQ_JSON_AT(pod, "status", "containerStatuses", "0", "ready"), &b),
                     LQ_OK);
    assert_true(b);
    assert_int_equal(get_int(LQ_JSON_AT(pod, "status", "containerStatuses", "0", "restartCount")), 2);
    assert_int_equal(get_int(LQ_JSON_AT(pod, "spec", "terminationGracePeriodSeconds")), 30);
    /* absent, null and wrong types */
    lq_json_str_t s = { "untouched", 9 };
    int64_t v = 77;
    assert_int_equal(lq_json_str(LQ_JSON_AT(pod, "spec", "nope"), &s), LQ_ENOTFOUND);
    assert_int_equal(lq_json_str(LQ_JSON_AT(pod, "status", "conditions", "0", "lastProbeTime"), &s),
                     LQ_ENOTFOUND);
    assert_int_equal(lq_json_type(LQ_JSON_AT(pod, "status", "conditions", "0", "lastProbeTime")),
                     LQ_JSON_NULL);
    assert_int_equal(lq_json_str(LQ_JSON_AT(pod, "spec", "priority"), &s), LQ_EPROTO);
    assert_int_equal(lq_json_int(LQ_JSON_AT(pod, "kind"), &v), LQ_EPROTO);
    assert_int_equal(lq_json_bool(LQ_JSON_AT(pod, "kind"), &b), LQ_EPROTO);
    assert_int_equal(lq_json_int(LQ_JSON_AT(pod, "spec"), &v), LQ_EPROTO);
    assert_int_equal(v, 77);
    assert_string_equal(s.p, "untouched");
    assert_int_equal(lq_json_str(pod, NULL), LQ_EINVAL);
    /* a path through a string or a NULL root is absent, not a crash */
    assert_null(LQ_JSON_AT(pod, "kind", "x"));
    assert_null(LQ_JSON_AT(NULL, "kind"));
    assert_ptr_equal(lq_json_path(pod, NULL, 0), pod);
    /* lookups are case-sensitive (cJSON_GetObjectItem is not) */
    assert_null(lq_json_get(pod, "KIND"));
    assert_non_null(lq_json_getn(pod, "kindXYZ", 4));
    assert_null(lq_json_getn(pod, "kin", 3));
}

static void test_iteration(void **state)
{
    (void)state;
    lq_json_t *pod = parse_ok(&A, POD);
    lq_json_t *labels = LQ_JSON_AT(pod, "metadata", "labels");
    assert_int_equal(lq_json_size(labels), 4);
    const char *want[] = { "app.kubernetes.io/name", "liqo.io/remote-cluster-id",
                           "pod-template-hash", "virtualkubelet.liqo.io/origin" };
    size_t i = 0;
    for (lq_json_t *l = lq_json_first(labels); l != NULL; l = lq_json_next(l), i++) {
        assert_true(i < 4);
        assert_string_equal(lq_json_key(l), want[i]);
        assert_int_equal(lq_json_type(l), LQ_JSON_STRING);
    }
    assert_int_equal(i, 4);
    lq_json_t *tol = LQ_JSON_AT(pod, "spec", "tolerations");
    assert_int_equal(lq_json_type(tol), LQ_JSON_ARRAY);
    assert_int_equal(lq_json_size(tol), 2);
    assert_null(lq_json_key(lq_json_first(tol)));
    assert_str(lq_json_get(lq_json_index(tol, 1), "key"), "virtual-node.liqo.io/not-allowed");
    assert_null(lq_json_index(tol, 2));
    assert_null(lq_json_index(labels, 0)); /* not an array */
    assert_int_equal(lq_json_size(LQ_JSON_AT(pod, "kind")), 0);
    assert_int_equal(lq_json_size(LQ_JSON_AT(pod, "spec", "securityContext")), 0);
    assert_null(lq_json_first(LQ_JSON_AT(pod, "spec", "securityContext")));
    assert_null(lq_json_first(NULL));
    assert_null(lq_json_next(NULL));
}

static void test_node_and_status(void **state)
{
    (void)state;
    lq_json_t *node = parse_ok(&A, NODE);
    assert_str(LQ_JSON_AT(node, "metadata", "labels", "kubernetes.io/arch"), "arm64");
    assert_str(LQ_JSON_AT(node, "status", "capacity", "memory"), "7264Mi");
    lq_json_t *ready = NULL;
    for (lq_json_t *c = lq_json_first(LQ_JSON_AT(node, "status", "conditions")); c != NULL;
         c = lq_json_next(c)) {
        lq_json_str_t t;
        if (lq_json_str(lq_json_get(c, "type"), &t) == LQ_OK && t.len == 5 &&
            memcmp(t.p, "Ready", 5) == 0)
            ready = c;
    }
    assert_non_null(ready);
    assert_str(lq_json_get(ready, "message"), "liqolet is ready");
    assert_int_equal(get_int(LQ_JSON_AT(node, "status", "daemonEndpoints", "kubeletEndpoint",
                                        "Port")), 10250);

    /* a second document alive at the same time */
    lq_json_t *st = parse_ok(&B, STATUS);
    assert_int_equal(get_int(lq_json_get(st, "code")), 409);
    assert_str(lq_json_get(st, "reason"), "AlreadyExists");
    char msg[64];
    assert_int_equal(lq_json_str_copy(lq_json_get(st, "message"), msg, sizeof msg), LQ_OK);
    assert_string_equal(msg, "pods \"web-0\" already exists");
    /* copying into a fixed field never truncates */
    char small[8] = "xxxxxxx";
    assert_int_equal(lq_json_str_copy(lq_json_get(st, "message"), small, sizeof small), LQ_ETOOBIG);
    assert_string_equal(small, "");
    assert_int_equal(lq_json_str_copy(lq_json_get(st, "reason"), msg, 14), LQ_OK);
    assert_string_equal(msg, "AlreadyExists");
    assert_int_equal(lq_json_str_copy(lq_json_get(st, "reason"), msg, 13), LQ_ETOOBIG);
    assert_int_equal(lq_json_str_copy(lq_json_get(st, "absent"), msg, sizeof msg), LQ_ENOTFOUND);
    /* the first document is intact */
    assert_str(LQ_JSON_AT(node, "metadata", "name"), "liqo-foreign-1");
}

static void test_unicode(void **state)
{
    (void)state;
    lq_json_t *r = parse_ok(&A, "{\"k\\u00e9y\":\"\\u00e9\\u4e2d\\ud83d\\ude00 raw:\xc3\xa9\","
                                "\"esc\":\"\\/\\b\\f\\t\\r\\\\\"}");
    assert_str(lq_json_get(r, "k\xc3\xa9y"), "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 raw:\xc3\xa9");
    assert_str(lq_json_get(r, "esc"), "/\b\f\t\r\\");
    /* printing keeps UTF-8 as is and escapes control characters */
    assert_string_equal(print(r), "{\"k\xc3\xa9y\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 raw:"
                                  "\xc3\xa9\",\"esc\":\"/\\b\\f\\t\\r\\\\\"}");

    /* U+0000 would cut the NUL-terminated copy: refused, offset at the escape */
    lq_json_t *x = (lq_json_t *)&x;
    const char nul[] = "{\"a\":\"ab\\u0000cd\"}";
    assert_int_equal(lq_json_parse(&A, nul, strlen(nul), &x), LQ_ENOTSUP);
    assert_null(x);
    assert_int_equal(lq_json_error_offset(&A), 8);
    /* an escaped backslash followed by u0000 is just text */
    r = parse_ok(&A, "[\"\\\\u0000\"]");
    assert_str(lq_json_index(r, 0), "\\u0000");
    /* raw control characters and a raw NUL byte are not JSON */
    const char ctl[] = "[\"a\tb\"]";
    assert_int_equal(lq_json_parse(&A, ctl, strlen(ctl), &x), LQ_EPROTO);
    assert_int_equal(lq_json_error_offset(&A), 3);
    const char rawnul[] = "[\"ab\"]\0";
    assert_int_equal(lq_json_parse(&A, rawnul, sizeof rawnul - 1, &x), LQ_EPROTO);
    assert_int_equal(lq_json_error_offset(&A), 6);
    /* broken escapes */
    const char bad1[] = "[\"\\u12G4\"]";
    assert_int_equal(lq_json_parse(&A, bad1, strlen(bad1), &x), LQ_EPROTO);
    const char bad2[] = "[\"\\ud83d\"]"; /* lone high surrogate */
    assert_int_equal(lq_json_parse(&A, bad2, strlen(bad2), &x), LQ_EPROTO);
    const char bad3[] = "[\"\\q\"]";
    assert_int_equal(lq_json_parse(&A, bad3, strlen(bad3), &x), LQ_EPROTO);
}

static void test_numbers(void **state)
{
    (void)state;
    lq_json_t *r = parse_ok(&A, "[9007199254740991,-9007199254740991,9007199254740993,"
                                "-9223372036854775808,1.5,1e300,1e308,-0,0,1e3,2.0,-7,"
                                "9223372036854775807,-1e-400,9223372036854775808,"
                                "123456789012345678901234567890,9.1e15,1e16,0.1,"
                                "0000000000000000012]");
    assert_int_equal(get_int(lq_json_index(r, 0)), INT64_C(9007199254740991));
    assert_int_equal(get_int(lq_json_index(r, 1)), -INT64_C(9007199254740991));
    /* long integers keep their exact text: 2^53 + 1 and the int64 bounds are exact */
    assert_int_equal(get_int(lq_json_index(r, 2)), INT64_C(9007199254740993));
    assert_true(get_int(lq_json_index(r, 3)) == INT64_MIN);
    assert_true(get_int(lq_json_index(r, 12)) == INT64_MAX);
    int64_t v = 5;
    assert_int_equal(lq_json_int(lq_json_index(r, 4), &v), LQ_EPROTO);  /* float */
    assert_int_equal(lq_json_int(lq_json_index(r, 5), &v), LQ_ETOOBIG);
    assert_int_equal(lq_json_int(lq_json_index(r, 6), &v), LQ_ETOOBIG);
    assert_int_equal(lq_json_int(lq_json_index(r, 14), &v), LQ_ETOOBIG); /* INT64_MAX + 1 */
    assert_int_equal(lq_json_int(lq_json_index(r, 15), &v), LQ_ETOOBIG);
    assert_int_equal(lq_json_int(lq_json_index(r, 16), &v), LQ_ETOOBIG); /* >= 2^53 as float */
    assert_int_equal(lq_json_int(lq_json_index(r, 17), &v), LQ_ETOOBIG);
    assert_int_equal(lq_json_int(lq_json_index(r, 18), &v), LQ_EPROTO);
    assert_int_equal(v, 5);
    assert_int_equal(get_int(lq_json_index(r, 7)), 0);
    assert_int_equal(get_int(lq_json_index(r, 8)), 0);
    assert_int_equal(get_int(lq_json_index(r, 9)), 1000); /* 1e3 is integral */
    assert_int_equal(get_int(lq_json_index(r, 10)), 2);
    assert_int_equal(get_int(lq_json_index(r, 11)), -7);
    assert_int_equal(lq_json_type(lq_json_index(r, 13)), LQ_JSON_NUMBER);
    assert_int_equal(get_int(lq_json_index(r, 13)), 0); /* underflows to -0 */
    assert_int_equal(get_int(lq_json_index(r, 19)), 12); /* cJSON accepts leading zeros */
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(lq_json_type(lq_json_index(r, i)), LQ_JSON_NUMBER);
    assert_string_equal(print(r), "[9007199254740991,-9007199254740991,9007199254740993,"
                                  "-9223372036854775808,1.5,1e+300,1e+308,-0,0,1000,2,-7,"
                                  "9223372036854775807,-0,9223372036854775808,"
                                  "123456789012345678901234567890,9.1e+15,1e+16,0.1,12]");
    /* the exact text survives a copy into another document */
    lq_json_t *cp = lq_json_copy(&B, r);
    assert_true(get_int(lq_json_index(cp, 12)) == INT64_MAX);
    lq_json_reset(&A);
    assert_string_equal(print(lq_json_index(cp, 15)), "123456789012345678901234567890");
    /* long digit runs inside strings and keys are not numbers */
    r = parse_ok(&A, "{\"12345678901234567\":\"12345678901234567\",\"n\":12345678901234567,"
                     "\"m\":[\"x\\\"1234567890123456789\",-1234567890123456789]}");
    assert_true(get_int(lq_json_get(r, "n")) == INT64_C(12345678901234567));
    assert_true(get_int(LQ_JSON_AT(r, "m", "1")) == -INT64_C(1234567890123456789));
    assert_str(lq_json_get(r, "12345678901234567"), "12345678901234567");

    /* built integers are exact over the whole int64 range, also in print */
    const int64_t vals[] = { 0, 1, -1, 999999999999999, -999999999999999, 1000000000000000,
                             INT64_C(9007199254740993), INT64_MAX, INT64_MIN, -INT64_MAX };
    const char *texts[] = { "0", "1", "-1", "999999999999999", "-999999999999999",
                            "1000000000000000", "9007199254740993", "9223372036854775807",
                            "-9223372036854775808", "-9223372036854775807" };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        lq_json_reset(&B);
        lq_json_t *n = lq_json_new_int(&B, vals[i]);
        assert_non_null(n);
        assert_int_equal(lq_json_type(n), LQ_JSON_NUMBER);
        assert_int_equal(get_int(n), vals[i]);
        assert_string_equal(print(n), texts[i]);
        lq_json_t *c = lq_json_copy(&B, n);
        assert_int_equal(get_int(c), vals[i]);
        /* and they parse back to the same text */
        char txt[32];
        assert_true(strlen(out) < sizeof txt);
        memcpy(txt, out, strlen(out) + 1);
        lq_json_t *p = parse_ok(&B, txt);
        assert_string_equal(print(p), texts[i]);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        lq_err_t err;
        size_t off;
    } cases[] = {
        { "", LQ_EPROTO, 0 },
        { "   ", LQ_EPROTO, 2 },
        { "{", LQ_EPROTO, 0 },
        { "{\"a\":}", LQ_EPROTO, 5 },
        { "[1,]", LQ_EPROTO, 3 },
        { "{} x", LQ_EPROTO, 3 },
        { "{}}", LQ_EPROTO, 2 },
        { "[1 2]", LQ_EPROTO, 3 },
        { "nul", LQ_EPROTO, 0 },
        { "{\"a\" 1}", LQ_EPROTO, 5 },
        { "[\"abc", LQ_EPROTO, 2 },
        { "{\"kind\":\"Pod\",\"spec\":{\"x\":tru}}", LQ_EPROTO, 26 },
        /* beyond a double: cJSON would keep an infinity and print null */
        { "[1e999]", LQ_EPROTO, 1 },
        { "{\"a\":true,\"b\":[false,-1E400]}", LQ_EPROTO, 21 },
        { "[1,2.5e+309,3]", LQ_EPROTO, 3 },
        { "[\"1e999\",1.0e999]", LQ_EPROTO, 9 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_json_t *r = (lq_json_t *)&r;
        size_t used = lq_json_used(&A);
        lq_err_t e = lq_json_parse(&A, cases[i].in, strlen(cases[i].in), &r);
        if (e != cases[i].err || lq_json_error_offset(&A) != cases[i].off)
            fprintf(stderr, "case %zu '%s': %s at %zu\n", i, cases[i].in, lq_err_name(e),
                    lq_json_error_offset(&A));
        assert_int_equal(e, cases[i].err);
        assert_int_equal(lq_json_error_offset(&A), cases[i].off);
        assert_null(r);
        assert_int_equal(lq_json_used(&A), used); /* rolled back */
    }
    /* whitespace around the value is fine; the length bounds the input (no NUL needed) */
    lq_json_t *r;
    const char padded[] = " \r\n\t{\"a\":[true,false,null]} \n";
    assert_int_equal(lq_json_parse(&A, padded, strlen(padded), &r), LQ_OK);
    assert_string_equal(print(r), "{\"a\":[true,false,null]}");
    const char cut[] = "[12345]garbage";
    assert_int_equal(lq_json_parse(&A, cut, 7, &r), LQ_OK);
    assert_int_equal(get_int(lq_json_index(r, 0)), 12345);
    assert_int_equal(lq_json_parse(&A, cut, 6, &r), LQ_EPROTO);
    /* scalars are values too */
    assert_int_equal(lq_json_parse(&A, "42", 2, &r), LQ_OK);
    assert_int_equal(get_int(r), 42);
    assert_int_equal(lq_json_parse(NULL, "1", 1, &r), LQ_EINVAL);
    assert_int_equal(lq_json_parse(&A, NULL, 1, &r), LQ_EINVAL);
    assert_int_equal(lq_json_parse(&A, "1", 1, NULL), LQ_EINVAL);
    /* nesting beyond cJSON's limit is an error, not a stack overflow */
    static char deep[2 * 1100 + 1];
    memset(deep, '[', 1100);
    memset(deep + 1100, ']', 1100);
    assert_int_equal(lq_json_parse(&A, deep, 2200, &r), LQ_EPROTO);
    assert_int_equal(lq_json_parse(&A, deep + 150, 1900, &r), LQ_OK); /* 950 levels */
    /* 400 digits: an integer keeps its text, with a fraction it is out of range */
    static char big[512];
    big[0] = '[';
    memset(big + 1, '9', 400);
    memcpy(big + 401, "]", 2);
    assert_int_equal(lq_json_parse(&A, big, strlen(big), &r), LQ_OK);
    assert_string_equal(print(r), big);
    memcpy(big + 401, ".5]", 4);
    assert_int_equal(lq_json_parse(&A, big, strlen(big), &r), LQ_EPROTO);
    assert_int_equal(lq_json_error_offset(&A), 1);
    /* exponents in range, and true/false next to numbers, are fine */
    assert_int_equal(lq_json_parse(&A, "[1e308,-1e-400,true,2E3,false]", 30, &r), LQ_OK);
    assert_string_equal(print(r), "[1e+308,-0,true,2000,false]");
}

/* ---- arenas ------------------------------------------------------------------- */

static void test_arena_exhaustion(void **state)
{
    (void)state;
    /* ~100 KB of input into a 64 KB arena */
    static char big[110000];
    size_t n = 0;
    big[n++] = '{';
    for (int i = 0; n < sizeof big - 64; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"key-%d\":\"value-%d\"",
                              i ? "," : "", i, i);
    big[n++] = '}';
    lq_json_t *r = (lq_json_t *)&r;
    assert_int_equal(lq_json_parse(&A, big, n, &r), LQ_ETOOBIG);
    assert_null(r);
    assert_int_equal(lq_json_used(&A), 0);
    assert_true(lq_json_peak(&A) > ARENA - 64);
    assert_true(lq_json_peak(&A) <= ARENA);
    /* the next parse after a reset works */
    lq_json_reset(&A);
    r = parse_ok(&A, POD);
    assert_str(LQ_JSON_AT(r, "metadata", "name"), "web-6d4cf56db6-x7k2p");
    size_t pod_used = lq_json_used(&A);
    assert_true(pod_used > sizeof POD);

    /* exactly enough arena works; one byte less does not */
    static _Alignas(16) unsigned char tight[ARENA];
    lq_json_doc_t t;
    lq_json_doc_init(&t, tight, pod_used);
    assert_int_equal(lq_json_parse(&t, POD, strlen(POD), &r), LQ_OK);
    assert_int_equal(lq_json_used(&t), pod_used);
    lq_json_doc_init(&t, tight, pod_used - 1);
    assert_int_equal(lq_json_parse(&t, POD, strlen(POD), &r), LQ_ETOOBIG);
    /* an unaligned arena start works too (items are aligned inside it) */
    lq_json_doc_init(&t, tight + 1, pod_used + 1024);
    assert_int_equal(lq_json_parse(&t, POD, strlen(POD), &r), LQ_OK);

    /* builders report exhaustion through the add call, and a NULL doc arena fails */
    lq_json_doc_init(&t, NULL, 0);
    assert_int_equal(lq_json_parse(&t, "{}", 2, &r), LQ_ETOOBIG);
    assert_null(lq_json_new_object(&t));
    assert_int_equal(t.last_err, LQ_ETOOBIG);
    lq_json_doc_init(&t, tight, 200);
    lq_json_t *o = lq_json_new_object(&t);
    assert_non_null(o);
    char longv[200];
    memset(longv, 'v', sizeof longv);
    assert_int_equal(lq_json_obj_add(&t, o, "k", lq_json_new_str(&t, longv, sizeof longv)),
                     LQ_ETOOBIG);
    assert_int_equal(lq_json_obj_add(&t, o, "k", lq_json_new_str(&t, longv, 10)), LQ_OK);
    char longk[121];
    memset(longk, 'k', 120);
    longk[120] = '\0';
    assert_int_equal(lq_json_obj_add(&t, o, longk, lq_json_new_null(&t)), LQ_ETOOBIG);
    assert_string_equal(print(o), "{\"k\":\"vvvvvvvvvv\"}");
}

static void test_copy_between_docs(void **state)
{
    (void)state;
    lq_json_t *pod = parse_ok(&A, POD);
    static char want[sizeof out];
    memcpy(want, print(LQ_JSON_AT(pod, "spec")), sizeof out);

    /* forge: a remote pod with the home spec copied and new metadata */
    lq_json_t *rp = lq_json_new_object(&B);
    lq_json_t *meta = lq_json_new_object(&B);
    assert_int_equal(lq_json_obj_add(&B, rp, "apiVersion", lq_json_new_cstr(&B, "v1")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&B, rp, "kind", lq_json_new_cstr(&B, "Pod")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&B, rp, "metadata", meta), LQ_OK);
    lq_json_t *labels = lq_json_copy(&B, LQ_JSON_AT(pod, "metadata", "labels"));
    assert_non_null(labels);
    assert_null(lq_json_key(labels)); /* detached: the member name is not carried */
    assert_int_equal(lq_json_obj_add(&B, meta, "labels", labels), LQ_OK);
    lq_json_t *spec = lq_json_copy(&B, LQ_JSON_AT(pod, "spec"));
    assert_int_equal(lq_json_obj_add(&B, rp, "spec", spec), LQ_OK);

    /* an item of another document is refused, so is an attached one */
    assert_int_equal(lq_json_obj_add(&B, rp, "status", LQ_JSON_AT(pod, "status")), LQ_EINVAL);
    lq_json_t *st = lq_json_copy(&A, LQ_JSON_AT(pod, "status"));
    assert_int_equal(lq_json_obj_add(&B, rp, "status", st), LQ_EINVAL);
    assert_int_equal(lq_json_obj_add(&B, meta, "again", labels), LQ_EINVAL);
    assert_int_equal(lq_json_obj_add(&B, rp, "self", rp), LQ_EINVAL);

    /* wipe the source document completely: the copy must not care */
    lq_json_reset(&A);
    memset(arena_a, 0xA5, sizeof arena_a);
    parse_ok(&A, NODE);
    assert_string_equal(print(spec), want);
    assert_str(LQ_JSON_AT(rp, "metadata", "labels", "liqo.io/remote-cluster-id"),
               "b07938e3-d241-460c-a77b-e286c0f733c7");
    assert_str(LQ_JSON_AT(rp, "spec", "containers", "0", "env", "1", "value"),
               "gr\xc3\xbc\xc3\x9f" "e \"world\"\n");
    assert_int_equal(lq_json_size(LQ_JSON_AT(rp, "metadata", "labels")), 4);
}

/* ---- building and printing ----------------------------------------------------- */

static void test_build_edit_print(void **state)
{
    (void)state;
    lq_json_t *o = lq_json_new_object(&A);
    lq_json_t *meta = lq_json_new_object(&A);
    lq_json_t *labels = lq_json_new_object(&A);
    assert_int_equal(lq_json_obj_add(&A, labels, "virtualkubelet.liqo.io/origin",
                                     lq_json_new_cstr(&A, "home-1")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, labels, "virtualkubelet.liqo.io/destination",
                                     lq_json_new_str(&A, "foreign-1xyz", 9)), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, meta, "name", lq_json_new_cstr(&A, "web")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, meta, "labels", labels), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, o, "metadata", meta), LQ_OK);
    lq_json_t *arr = lq_json_new_array(&A);
    assert_int_equal(lq_json_arr_add(&A, arr, lq_json_new_int(&A, 1)), LQ_OK);
    assert_int_equal(lq_json_arr_add(&A, arr, lq_json_new_bool(&A, true)), LQ_OK);
    assert_int_equal(lq_json_arr_add(&A, arr, lq_json_new_null(&A)), LQ_OK);
    assert_int_equal(lq_json_arr_add(&A, arr, lq_json_new_str(&A, "", 0)), LQ_OK);
    assert_int_equal(lq_json_arr_add(&A, arr, lq_json_new_cstr(&A, "tab\there \"q\" \x01")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, o, "list", arr), LQ_OK);
    assert_int_equal(lq_json_obj_add(&A, o, "gen", lq_json_new_int(&A, -42)), LQ_OK);
    assert_string_equal(print(o),
                        "{\"metadata\":{\"name\":\"web\",\"labels\":{\"virtualkubelet.liqo.io/origin\":"
                        "\"home-1\",\"virtualkubelet.liqo.io/destination\":\"foreign-1\"}},"
                        "\"list\":[1,true,null,\"\",\"tab\\there \\\"q\\\" \\u0001\"],\"gen\":-42}");

    /* set replaces in place, adds when absent */
    assert_int_equal(lq_json_obj_set(&A, meta, "name", lq_json_new_cstr(&A, "web-2")), LQ_OK);
    assert_int_equal(lq_json_obj_set(&A, meta, "namespace", lq_json_new_cstr(&A, "shop")), LQ_OK);
    assert_int_equal(lq_json_obj_set(&A, o, "gen", lq_json_new_bool(&A, false)), LQ_OK);
    assert_str(LQ_JSON_AT(o, "metadata", "name"), "web-2");
    /* delete */
    assert_int_equal(lq_json_obj_del(&A, labels, "virtualkubelet.liqo.io/origin"), LQ_OK);
    assert_int_equal(lq_json_obj_del(&A, labels, "virtualkubelet.liqo.io/origin"), LQ_ENOTFOUND);
    assert_int_equal(lq_json_arr_del(&A, arr, 0), LQ_OK);
    assert_int_equal(lq_json_arr_del(&A, arr, 3), LQ_OK);
    assert_int_equal(lq_json_arr_del(&A, arr, 3), LQ_ENOTFOUND);
    assert_int_equal(lq_json_arr_del(&A, o, 0), LQ_EINVAL);
    assert_int_equal(lq_json_obj_del(&A, arr, "x"), LQ_EINVAL);
    assert_string_equal(print(o),
                        "{\"metadata\":{\"name\":\"web-2\",\"labels\":{"
                        "\"virtualkubelet.liqo.io/destination\":\"foreign-1\"},\"namespace\":\"shop\"},"
                        "\"list\":[true,null,\"\"],\"gen\":false}");
    /* a deleted member can not be found any more; the set value round-trips */
    lq_json_t *back = parse_ok(&B, out);
    assert_str(LQ_JSON_AT(back, "metadata", "namespace"), "shop");
    assert_null(LQ_JSON_AT(back, "metadata", "labels", "virtualkubelet.liqo.io/origin"));

    /* invalid arguments */
    assert_null(lq_json_new_str(&A, "a\0b", 3));
    assert_int_equal(A.last_err, LQ_EINVAL);
    assert_int_equal(lq_json_obj_add(&A, o, "k", lq_json_new_str(&A, NULL, 2)), LQ_EINVAL);
    assert_int_equal(lq_json_obj_add(&A, arr, "k", lq_json_new_null(&A)), LQ_EINVAL);
    assert_int_equal(lq_json_arr_add(&A, o, lq_json_new_null(&A)), LQ_EINVAL);
    assert_int_equal(lq_json_obj_add(&A, o, NULL, lq_json_new_null(&A)), LQ_EINVAL);
    assert_null(lq_json_copy(&A, NULL));
    assert_int_equal(lq_json_print(NULL, out, sizeof out, NULL), LQ_EINVAL);
    assert_int_equal(lq_json_print(o, out, 0, NULL), LQ_EINVAL);
}

static void test_print_buffer_too_small(void **state)
{
    (void)state;
    lq_json_t *pod = parse_ok(&A, POD);
    size_t n;
    assert_int_equal(lq_json_print(pod, out, sizeof out, &n), LQ_OK);
    /* compact output of a compact input is the input, byte for byte, except that
     * \u escapes of printable characters come out as UTF-8 */
    static char want[sizeof POD];
    const char *esc = strstr(POD, "\\u00fc\\u00df");
    assert_non_null(esc);
    size_t pre = (size_t)(esc - POD);
    memcpy(want, POD, pre);
    memcpy(want + pre, "\xc3\xbc\xc3\x9f", 4);
    memcpy(want + pre + 4, esc + 12, strlen(esc + 12) + 1);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    /* find the smallest buffer that works: every smaller one is LQ_ETOOBIG with an
     * empty string, never a truncated document */
    static char b[4096];
    size_t min = 0;
    for (size_t cap = n - 8; cap <= n + 8; cap++) {
        memset(b, 'Z', sizeof b);
        size_t got = 99;
        lq_err_t e = lq_json_print(pod, b, cap, &got);
        if (e == LQ_OK) {
            if (min == 0)
                min = cap;
            assert_int_equal(got, n);
            assert_string_equal(b, want);
        } else {
            assert_int_equal(e, LQ_ETOOBIG);
            assert_int_equal(min, 0); /* no failure above the minimum */
            assert_string_equal(b, "");
            assert_int_equal(got, 0);
        }
    }
    assert_true(min >= n + 1);
    assert_true(min <= n + 2);
    assert_int_equal(lq_json_print(pod, b, 10, NULL), LQ_ETOOBIG);
    assert_int_equal(lq_json_print(pod, b, 1, NULL), LQ_ETOOBIG);
    /* printing never uses the arena */
    size_t used = lq_json_used(&A);
    assert_int_equal(lq_json_print(pod, b, sizeof b, NULL), LQ_OK);
    assert_int_equal(lq_json_used(&A), used);
}

static void test_roundtrip_formatted(void **state)
{
    (void)state;
    lq_json_t *n1 = parse_ok(&A, NODE);
    static char p1[sizeof out];
    memcpy(p1, print(n1), sizeof out);
    assert_null(strchr(p1, '\n'));
    lq_json_t *n2 = parse_ok(&B, p1);
    assert_string_equal(print(n2), p1);
}

/* ---- no heap ------------------------------------------------------------------- */

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    static char pbuf[8192];
    lq_json_t *pod, *rp, *meta;
    lq_err_t e1, e2, e3, e4, e5, e6;
    int64_t port = 0;
    lq_json_str_t id = { 0 };
    size_t n = 0;

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    e1 = lq_json_parse(&A, POD, strlen(POD), &pod);
    e2 = lq_json_str(LQ_JSON_AT(pod, "metadata", "labels", "liqo.io/remote-cluster-id"), &id);
    e3 = lq_json_int(LQ_JSON_AT(pod, "spec", "containers", "0", "ports", "0", "containerPort"),
                     &port);
    rp = lq_json_new_object(&B);
    meta = lq_json_new_object(&B);
    e4 = lq_json_obj_add(&B, meta, "name", lq_json_new_cstr(&B, "web-x"));
    e4 = e4 ? e4 : lq_json_obj_add(&B, rp, "metadata", meta);
    e5 = lq_json_obj_add(&B, rp, "spec", lq_json_copy(&B, LQ_JSON_AT(pod, "spec")));
    e5 = e5 ? e5 : lq_json_obj_set(&B, rp, "metadata", lq_json_copy(&B, meta));
    e5 = e5 ? e5 : lq_json_obj_del(&B, rp, "spec");
    e6 = lq_json_print(rp, pbuf, sizeof pbuf, &n);
    lq_json_t *bad = NULL;
    (void)lq_json_parse(&A, "{\"a\":", 5, &bad);
    lq_json_reset(&A);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka asserts (cmocka allocates on failure) */

    assert_int_equal(e1, LQ_OK);
    assert_int_equal(e2, LQ_OK);
    assert_int_equal(e3, LQ_OK);
    assert_int_equal(e4, LQ_OK);
    assert_int_equal(e5, LQ_OK);
    assert_int_equal(e6, LQ_OK);
    assert_int_equal(port, 8080);
    assert_int_equal(id.len, 36);
    assert_string_equal(pbuf, "{\"metadata\":{\"name\":\"web-x\"}}");
    assert_int_equal(n, strlen(pbuf));
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pod_getters, setup),
        cmocka_unit_test_setup(test_iteration, setup),
        cmocka_unit_test_setup(test_node_and_status, setup),
        cmocka_unit_test_setup(test_unicode, setup),
        cmocka_unit_test_setup(test_numbers, setup),
        cmocka_unit_test_setup(test_parse_errors, setup),
        cmocka_unit_test_setup(test_arena_exhaustion, setup),
        cmocka_unit_test_setup(test_copy_between_docs, setup),
        cmocka_unit_test_setup(test_build_edit_print, setup),
        cmocka_unit_test_setup(test_print_buffer_too_small, setup),
        cmocka_unit_test_setup(test_roundtrip_formatted, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
