/* Unit tests of src/forge/pod.c: the remote Pod forged from a home Pod (every copied,
 * forced and dropped PodSpec field, tolerations, volumes, anti-affinity presets, labels and
 * annotations), the metadata patches, the home status patch (IPs reflected or not, restart
 * offset, init containers, missing fields), restart bookkeeping, ownership, re-creation,
 * change detection, malformed and oversized input, and no heap use after the pool seal.
 *
 * Vectors and goldens live in tests/vectors/forge/pod/ (LQ_TEST_VECTORS overrides
 * tests/vectors; the tests run from the repository root). Inputs are Kubernetes objects as
 * an API server would send them. A golden is the expected output, written by hand (pretty-
 * printed for review); the test parses it, prints it compactly and compares that byte for
 * byte with the compact print of the forged item, so member order counts and nothing else
 * is normalised. LQ_UPDATE_GOLDEN=1 rewrites the goldens from the code (compact, one line):
 * review every rewritten file against liqo-v0.8-behaviour.md §2 before keeping it, e.g.
 * after `python3 -m json.tool --indent 1 --no-ensure-ascii`.
 *
 * Inline inputs are written with single quotes (J() turns them into double quotes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/forge_pod.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "lq_vectors.h"


#define HOME_ID    "5a1c2e3f-0b1d-4c2e-9f3a-7b6c5d4e3f21"
#define FOREIGN_ID "c0ffee00-1234-4abc-8def-0123456789ab"
#define HOME_UID   "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define REMOTE_NS  "shop-home-5a1c2e"
#define NODE_IP    "10.42.0.7"

static unsigned char g_arena[1u << 20];
static lq_json_doc_t g_doc;
static char g_file[64 * 1024];
static char g_text[16 * 1024];
static char g_out[64 * 1024];
static char g_want[64 * 1024];
static unsigned char g_gold_arena[256 * 1024];

static int setup(void **state)
{
    (void)state;
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    return 0;
}

/* Parses a vector file into g_doc (the text stays in a static buffer of its own, so several
 * vectors can be parsed at once). */
static lq_json_t *vec(const char *name)
{
    static char bufs[4][64 * 1024];
    static unsigned next;
    char *buf = bufs[next++ % 4];
    size_t n = lq_vec_read("pod", name, buf, sizeof bufs[0]);
    lq_json_t *root = NULL;
    assert_int_equal(lq_json_parse(&g_doc, buf, n, &root), LQ_OK);
    return root;
}

/* Parses a single-quoted JSON text into g_doc. */
static lq_json_t *J(const char *s)
{
    size_t n = strlen(s);
    assert_true(n < sizeof g_text);
    for (size_t i = 0; i <= n; i++)
        g_text[i] = s[i] == '\'' ? '"' : s[i];
    lq_json_t *root = NULL;
    lq_err_t err = lq_json_parse(&g_doc, g_text, n, &root);
    if (err != LQ_OK)
        fail_msg("bad test JSON (%s at %zu): %s", lq_err_name(err), lq_json_error_offset(&g_doc), s);
    return root;
}

static const char *print(const lq_json_t *item)
{
    size_t len;
    assert_int_equal(lq_json_print(item, g_out, sizeof g_out, &len), LQ_OK);
    return g_out;
}

/* Compares the compact print of item with the golden file, itself parsed and printed
 * compactly (see the file comment). */
static void golden(const lq_json_t *item, const char *name)
{
    const char *got = print(item);
    if (lq_vec_updating()) {
        lq_vec_write("pod", name, got, strlen(got));
        return;
    }
    size_t n = lq_vec_read("pod", name, g_file, sizeof g_file);
    lq_json_doc_t gd;
    lq_json_doc_init(&gd, g_gold_arena, sizeof g_gold_arena);
    lq_json_t *want = NULL;
    if (lq_json_parse(&gd, g_file, n, &want) != LQ_OK)
        fail_msg("golden %s is not JSON", name);
    assert_int_equal(lq_json_print(want, g_want, sizeof g_want, NULL), LQ_OK);
    if (strcmp(g_want, got) != 0)
        fail_msg("%s differs\n got: %s\nwant: %s", name, got, g_want);
}

static const lq_forge_pod_remote_params_t RP = {
    .remote_ns = REMOTE_NS, .home_id = HOME_ID, .foreign_id = FOREIGN_ID,
    .root_ca_name = "kube-root-ca.crt.5a1c2",
};

/* Both items print the same (and exist). */
static bool same_print(const lq_json_t *a, const lq_json_t *b)
{
    static char pa[16 * 1024], pb[16 * 1024];
    return a && b && lq_json_print(a, pa, sizeof pa, NULL) == LQ_OK &&
           lq_json_print(b, pb, sizeof pb, NULL) == LQ_OK && strcmp(pa, pb) == 0;
}

static bool has(const lq_json_t *obj, const char *key)
{
    return lq_json_get(obj, key) != NULL;
}

static void assert_str(const lq_json_t *item, const char *want)
{
    lq_json_str_t v;
    assert_int_equal(lq_json_str(item, &v), LQ_OK);
    assert_string_equal(v.p, want);
}

static void assert_bool(const lq_json_t *item, bool want)
{
    bool b = !want;
    assert_int_equal(lq_json_bool(item, &b), LQ_OK);
    assert_int_equal(b, want);
}

static int64_t int_of(const lq_json_t *item)
{
    int64_t v = -1;
    assert_int_equal(lq_json_int(item, &v), LQ_OK);
    return v;
}

/* A minimal valid home pod with extra metadata / spec members spliced in (single quotes). */
static lq_json_t *pod_with(const char *meta_extra, const char *spec_extra)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{'metadata':{'name':'p','uid':'" HOME_UID "'%s%s},"
             "'spec':{'containers':[{'name':'c','image':'i'}]%s%s}}",
             meta_extra[0] ? "," : "", meta_extra, spec_extra[0] ? "," : "", spec_extra);
    return J(buf);
}

/* ---- remote pod -------------------------------------------------------------------------- */

static void test_remote_golden(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &RP, &pod), LQ_OK);
    golden(pod, "remote-full.json");

    /* What the golden encodes, field by field. */
    const lq_json_t *meta = lq_json_get(pod, "metadata"), *spec = lq_json_get(pod, "spec");
    assert_str(lq_json_get(meta, "name"), "web-7d4b9c6f5-x2x9k");
    assert_str(lq_json_get(meta, "namespace"), REMOTE_NS);
    static const char *const meta_dropped[] = {
        "uid", "resourceVersion", "generation", "generateName", "creationTimestamp",
        "ownerReferences", "finalizers", "managedFields",
    };
    for (size_t i = 0; i < sizeof meta_dropped / sizeof meta_dropped[0]; i++)
        if (has(meta, meta_dropped[i]))
            fail_msg("metadata.%s was copied", meta_dropped[i]);
    assert_false(has(pod, "status"));

    const lq_json_t *labels = lq_json_get(meta, "labels");
    assert_str(lq_json_get(labels, "app"), "web");
    assert_str(lq_json_get(labels, LQ_LIQO_V08_LABEL_ORIGIN), HOME_ID); /* the home's own is replaced */
    assert_str(lq_json_get(labels, LQ_LIQO_V08_LABEL_DESTINATION), FOREIGN_ID);
    assert_false(has(labels, LQ_LIQO_LABEL_SHADOW_POD));
    assert_int_equal(lq_json_size(labels), 5);
    const lq_json_t *ann = lq_json_get(meta, "annotations");
    assert_str(lq_json_get(ann, LQ_FORGE_POD_ANN_HOME_UID), HOME_UID);
    assert_str(lq_json_get(ann, "example.com/note"), "kept");
    assert_int_equal(lq_json_size(ann), 3);

    static const char *const dropped[] = {
        "nodeName", "nodeSelector", "affinity", "schedulerName", "priority", "priorityClassName",
        "preemptionPolicy", "serviceAccountName", "serviceAccount", "runtimeClassName",
        "overhead", "ephemeralContainers", "os", "hostUsers", "schedulingGates", "resourceClaims",
    };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (has(spec, dropped[i]))
            fail_msg("spec.%s was not dropped", dropped[i]);
    static const char *const kept[] = {
        "volumes", "initContainers", "containers", "restartPolicy",
        "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
        "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain",
        "tolerations", "hostAliases", "dnsConfig", "readinessGates", "enableServiceLinks",
        "topologySpreadConstraints", "setHostnameAsFQDN",
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        const lq_json_t *got = lq_json_get(spec, kept[i]);
        bool mutated = strcmp(kept[i], "volumes") == 0 || strcmp(kept[i], "tolerations") == 0;
        if (!got || (!mutated && !same_print(got, LQ_JSON_AT(home, "spec", kept[i]))))
            fail_msg("spec.%s is missing or differs from the home pod's", kept[i]);
    }
    /* forced values, although the home pod says true */
    assert_bool(lq_json_get(spec, "automountServiceAccountToken"), false);
    assert_bool(lq_json_get(spec, "hostNetwork"), false);
    assert_bool(lq_json_get(spec, "hostPID"), false);
    assert_bool(lq_json_get(spec, "hostIPC"), false);
    assert_int_equal(lq_json_size(spec), 23);

    /* the virtual-node toleration is gone, the others are kept in order */
    const lq_json_t *tol = lq_json_get(spec, "tolerations");
    assert_int_equal(lq_json_size(tol), 2);
    assert_str(LQ_JSON_AT(tol, "0", "key"), "node.kubernetes.io/not-ready");
    assert_str(LQ_JSON_AT(tol, "1", "key"), "node.kubernetes.io/unreachable");

    /* volumes: tokens out, the CA renamed, the rest untouched */
    const lq_json_t *kaa = LQ_JSON_AT(spec, "volumes", "2", "projected", "sources");
    assert_int_equal(lq_json_size(kaa), 2);
    assert_str(LQ_JSON_AT(kaa, "0", "configMap", "name"), "kube-root-ca.crt.5a1c2");
    assert_true(has(lq_json_index(kaa, 1), "downwardAPI"));
    assert_int_equal(lq_json_size(LQ_JSON_AT(spec, "volumes", "3", "projected", "sources")), 0);
    assert_str(LQ_JSON_AT(spec, "volumes", "1", "configMap", "name"), "web-config");
    /* env is not touched in the Disabled API-server mode */
    assert_str(LQ_JSON_AT(spec, "containers", "0", "env", "0", "valueFrom", "fieldRef", "fieldPath"),
               "spec.serviceAccountName");
    assert_int_equal(lq_json_size(LQ_JSON_AT(spec, "containers", "0", "env")), 2);
    /* the input is not modified */
    assert_int_equal(lq_json_size(LQ_JSON_AT(home, "spec", "volumes", "2", "projected", "sources")), 3);
}

static void test_remote_minimal(void **state)
{
    (void)state;
    lq_json_t *pod = NULL;
    lq_json_t *home = J("{'metadata':{'name':'solo','namespace':'default','uid':'u-1'},"
                        "'spec':{'containers':[{'name':'c','image':'busybox'}],'nodeName':'n',"
                        "'tolerations':[{'key':'virtual-node.liqo.io/not-allowed','operator':'Exists'}],"
                        "'restartPolicy':null}}");
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &RP, &pod), LQ_OK);
    golden(pod, "remote-minimal.json");
    /* no labels at home: only ours; no tolerations left: the member is left out */
    assert_int_equal(lq_json_size(LQ_JSON_AT(pod, "metadata", "labels")), 2);
    assert_false(has(lq_json_get(pod, "spec"), "tolerations"));
    assert_false(has(lq_json_get(pod, "spec"), "restartPolicy")); /* null = absent */
}

static void test_root_ca_kept_without_name(void **state)
{
    (void)state;
    lq_forge_pod_remote_params_t p = RP;
    p.root_ca_name = NULL;
    lq_json_t *home = vec("home-full.json"), *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_OK);
    const lq_json_t *src = LQ_JSON_AT(pod, "spec", "volumes", "2", "projected", "sources");
    assert_int_equal(lq_json_size(src), 2); /* the token is removed all the same */
    assert_str(LQ_JSON_AT(src, "0", "configMap", "name"), "kube-root-ca.crt");

    char name[LQ_FORGE_POD_ROOT_CA_BUF];
    assert_int_equal(lq_forge_pod_root_ca_name(HOME_ID, name, sizeof name), LQ_OK);
    assert_string_equal(name, "kube-root-ca.crt.5a1c2");
    assert_int_equal(lq_forge_pod_root_ca_name("abc", name, sizeof name), LQ_OK);
    assert_string_equal(name, "kube-root-ca.crt.abc");
    assert_int_equal(lq_forge_pod_root_ca_name(HOME_ID, name, sizeof name - 1), LQ_ETOOBIG);
    assert_string_equal(name, "");
    assert_int_equal(lq_forge_pod_root_ca_name("", name, sizeof name), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_root_ca_name(NULL, name, sizeof name), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_root_ca_name(HOME_ID, name, 0), LQ_EINVAL);
}

/* A plain configMap volume of kube-root-ca.crt is renamed like a projected source; other
 * configMap volumes, and the root CA without a root_ca_name, are left alone. */
static void test_root_ca_plain_volume(void **state)
{
    (void)state;
    lq_json_t *home = pod_with("", "'volumes':["
                               "{'name':'ca','configMap':{'name':'kube-root-ca.crt','defaultMode':420}},"
                               "{'name':'cfg','configMap':{'name':'kube-root-ca.crt.x'}},"
                               "{'name':'sec','secret':{'secretName':'kube-root-ca.crt'}},"
                               "{'name':'odd','configMap':{'name':7}}]");
    lq_json_t *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &RP, &pod), LQ_OK);
    const lq_json_t *vols = LQ_JSON_AT(pod, "spec", "volumes");
    assert_int_equal(lq_json_size(vols), 4);
    assert_str(LQ_JSON_AT(vols, "0", "configMap", "name"), "kube-root-ca.crt.5a1c2");
    assert_true(same_print(LQ_JSON_AT(vols, "0", "configMap", "defaultMode"),
                           LQ_JSON_AT(home, "spec", "volumes", "0", "configMap", "defaultMode")));
    assert_str(LQ_JSON_AT(vols, "1", "configMap", "name"), "kube-root-ca.crt.x");
    assert_str(LQ_JSON_AT(vols, "2", "secret", "secretName"), "kube-root-ca.crt");
    assert_true(same_print(lq_json_index(vols, 3), LQ_JSON_AT(home, "spec", "volumes", "3")));
    /* the input is not modified */
    assert_str(LQ_JSON_AT(home, "spec", "volumes", "0", "configMap", "name"), "kube-root-ca.crt");

    lq_forge_pod_remote_params_t p = RP;
    p.root_ca_name = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_OK);
    assert_str(LQ_JSON_AT(pod, "spec", "volumes", "0", "configMap", "name"), "kube-root-ca.crt");
}

static void test_tolerations(void **state)
{
    (void)state;
    static const struct {
        const char *tol;
        size_t kept;
    } t[] = {
        {"[]", 0},
        {"[{'key':'virtual-node.liqo.io/not-allowed','operator':'Equal','value':'true','effect':'NoExecute'}]", 0},
        {"[{'key':'virtual-node.liqo.io/not-allowed','operator':'Exists','effect':'NoSchedule'},"
         "{'key':'virtual-node.liqo.io/not-allowed','operator':'Exists'}]", 0},
        {"[{'operator':'Exists'}]", 1}, /* tolerates everything: kept, as Liqo */
        {"[{'key':'virtual-node.liqo.io/not-allowed-x','operator':'Exists'}]", 1},
        {"[{'key':'Virtual-Node.liqo.io/not-allowed','operator':'Exists'}]", 1},
        {"[{'key':'a'},{'key':'virtual-node.liqo.io/not-allowed'},{'key':'b'}]", 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_json_reset(&g_doc);
        char spec[512];
        snprintf(spec, sizeof spec, "'tolerations':%s", t[i].tol);
        lq_json_t *pod = NULL;
        assert_int_equal(lq_forge_pod_remote(&g_doc, pod_with("", spec), &RP, &pod), LQ_OK);
        const lq_json_t *out = LQ_JSON_AT(pod, "spec", "tolerations");
        if (lq_json_size(out) != t[i].kept || (t[i].kept == 0 && out != NULL))
            fail_msg("row %zu: %zu tolerations kept, want %zu", i, lq_json_size(out), t[i].kept);
    }
}

static void test_anti_affinity(void **state)
{
    (void)state;
#define AA_LABELS                                                                              \
    "'labels':{'app':'web','tier':'fe','pod-template-hash':'abc','controller-revision-hash':'1',"  \
    "'statefulset.kubernetes.io/pod-name':'web-0','liqo.io/shadowPod':'true'}"
#define AA_SPEC                                                                                \
    "'affinity':{'nodeAffinity':{'x':1},'podAffinity':{'y':2},'podAntiAffinity':{"           \
    "'requiredDuringSchedulingIgnoredDuringExecution':[{'topologyKey':'zone'}]}}"
    static const struct {
        const char *ann;
        const char *golden; /* NULL: no affinity */
    } t[] = {
        {"'liqo.io/anti-affinity-preset':'soft'", "aa-soft.json"},
        {"'liqo.io/anti-affinity-preset':'hard'", "aa-hard.json"},
        {"'liqo.io/anti-affinity-preset':'propagate'", "aa-propagate.json"},
        {"'liqo.io/anti-affinity-preset':'hard','liqo.io/anti-affinity-labels':' tier, liqo.io/shadowPod,,nope ,pod-template-hash'",
         "aa-hard-listed.json"},
        {"'liqo.io/anti-affinity-preset':'soft','liqo.io/anti-affinity-labels':''", "aa-soft.json"},
        {"'liqo.io/anti-affinity-preset':'Hard'", NULL},
        {"'liqo.io/anti-affinity-preset':''", NULL},
        {"'liqo.io/anti-affinity-labels':'app'", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_json_reset(&g_doc);
        char meta[512];
        snprintf(meta, sizeof meta, AA_LABELS ",'annotations':{%s}", t[i].ann);
        lq_json_t *pod = NULL;
        assert_int_equal(lq_forge_pod_remote(&g_doc, pod_with(meta, AA_SPEC), &RP, &pod), LQ_OK);
        const lq_json_t *aff = LQ_JSON_AT(pod, "spec", "affinity");
        if (!t[i].golden) {
            if (aff)
                fail_msg("row %zu: affinity %s", i, print(aff));
            continue;
        }
        golden(aff, t[i].golden);
    }

    /* propagate without a podAntiAffinity: nothing */
    lq_json_reset(&g_doc);
    lq_json_t *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc,
                                         pod_with("'annotations':{'liqo.io/anti-affinity-preset':'propagate'}",
                                                  "'affinity':{'nodeAffinity':{}}"),
                                         &RP, &pod), LQ_OK);
    assert_null(LQ_JSON_AT(pod, "spec", "affinity"));
    /* soft with no label at all: an empty matchLabels (selects every pod, as Liqo) */
    assert_int_equal(lq_forge_pod_remote(&g_doc,
                                         pod_with("'annotations':{'liqo.io/anti-affinity-preset':'soft'}", ""),
                                         &RP, &pod), LQ_OK);
    const lq_json_t *ml = LQ_JSON_AT(pod, "spec", "affinity", "podAntiAffinity",
                                     "preferredDuringSchedulingIgnoredDuringExecution", "0",
                                     "podAffinityTerm", "labelSelector", "matchLabels");
    assert_int_equal(lq_json_type(ml), LQ_JSON_OBJECT);
    assert_int_equal(lq_json_size(ml), 0);
    /* propagate with a malformed affinity */
    assert_int_equal(lq_forge_pod_remote(&g_doc,
                                         pod_with("'annotations':{'liqo.io/anti-affinity-preset':'propagate'}",
                                                  "'affinity':[]"),
                                         &RP, &pod), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_remote(&g_doc,
                                         pod_with("'annotations':{'liqo.io/anti-affinity-preset':'propagate'}",
                                                  "'affinity':{'podAntiAffinity':true}"),
                                         &RP, &pod), LQ_EPROTO);
    /* affinity is not type-checked when it is only dropped */
    assert_int_equal(lq_forge_pod_remote(&g_doc, pod_with("", "'affinity':[]"), &RP, &pod), LQ_OK);
}

static void test_remote_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *meta, *spec;
    } bad_spec[] = {
        {"", "'volumes':{}"},
        {"", "'volumes':[7]"},
        {"", "'volumes':[{'name':'v','projected':[]}]"},
        {"", "'volumes':[{'name':'v','projected':{'sources':{}}}]"},
        {"", "'volumes':[{'name':'v','projected':{'sources':['x']}}]"},
        {"", "'initContainers':{}"},
        {"", "'initContainers':['c']"},
        {"", "'tolerations':{}"},
        {"", "'tolerations':['x']"},
        {"", "'imagePullSecrets':'x'"},
        {"", "'hostAliases':{}"},
        {"", "'readinessGates':1"},
        {"", "'topologySpreadConstraints':{}"},
        {"", "'securityContext':[]"},
        {"", "'dnsConfig':'x'"},
        {"", "'restartPolicy':1"},
        {"", "'dnsPolicy':true"},
        {"", "'hostname':[]"},
        {"", "'subdomain':{}"},
        {"", "'terminationGracePeriodSeconds':'30'"},
        {"", "'terminationGracePeriodSeconds':1.5"},
        {"", "'activeDeadlineSeconds':true"},
        {"", "'shareProcessNamespace':'true'"},
        {"", "'enableServiceLinks':1"},
        {"", "'setHostnameAsFQDN':'no'"},
        {"'labels':[]", ""},
        {"'labels':{'a':1}", ""},
        {"'annotations':'x'", ""},
        {"'annotations':{'a':null}", ""},
    };
    for (size_t i = 0; i < sizeof bad_spec / sizeof bad_spec[0]; i++) {
        lq_json_reset(&g_doc);
        lq_json_t *pod = (lq_json_t *)1;
        lq_err_t err = lq_forge_pod_remote(&g_doc, pod_with(bad_spec[i].meta, bad_spec[i].spec), &RP, &pod);
        if (err != LQ_EPROTO || pod != NULL)
            fail_msg("row %zu (%s %s): %s", i, bad_spec[i].meta, bad_spec[i].spec, lq_err_name(err));
    }
    static const char *const bad_pod[] = {
        "[]",
        "'pod'",
        "{'spec':{'containers':[{}]}}",
        "{'metadata':[],'spec':{'containers':[{}]}}",
        "{'metadata':{'name':'p'},'spec':{'containers':[{}]}}",
        "{'metadata':{'uid':'u'},'spec':{'containers':[{}]}}",
        "{'metadata':{'name':'','uid':'u'},'spec':{'containers':[{}]}}",
        "{'metadata':{'name':'p','uid':7},'spec':{'containers':[{}]}}",
        "{'metadata':{'name':'p','uid':'u'}}",
        "{'metadata':{'name':'p','uid':'u'},'spec':null}",
        "{'metadata':{'name':'p','uid':'u'},'spec':[]}",
        "{'metadata':{'name':'p','uid':'u'},'spec':{}}",
        "{'metadata':{'name':'p','uid':'u'},'spec':{'containers':[]}}",
        "{'metadata':{'name':'p','uid':'u'},'spec':{'containers':[1]}}",
        "{'metadata':{'name':'p','uid':'u'},'spec':{'containers':5}}",
        "{'metadata':{'name':'p','uid':'u'},'spec':{'containers':{}}}",
    };
    for (size_t i = 0; i < sizeof bad_pod / sizeof bad_pod[0]; i++) {
        lq_json_reset(&g_doc);
        lq_json_t *pod = NULL;
        lq_err_t err = lq_forge_pod_remote(&g_doc, J(bad_pod[i]), &RP, &pod);
        if (err != LQ_EPROTO)
            fail_msg("pod %zu (%s): %s", i, bad_pod[i], lq_err_name(err));
    }

    /* arguments */
    lq_json_t *home = pod_with("", ""), *pod;
    lq_forge_pod_remote_params_t p = RP;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_OK);
    assert_int_equal(lq_forge_pod_remote(NULL, home, &p, &pod), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_remote(&g_doc, NULL, &p, &pod), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, NULL, &pod), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, NULL), LQ_EINVAL);
    p.remote_ns = "";
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_EINVAL);
    p = RP, p.home_id = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_EINVAL);
    p = RP, p.foreign_id = "";
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_EINVAL);
    p = RP, p.root_ca_name = "";
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_EINVAL);
}

/* Every arena smaller than what the full pod needs is LQ_ETOOBIG with no result; from the
 * needed size on, the output is complete and identical. Never truncated. */
static void test_remote_oversized(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *pod = NULL;
    static unsigned char small[64 * 1024];
    static char full[64 * 1024];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_pod_remote(&d, home, &RP, &pod), LQ_OK);
    assert_int_equal(lq_json_print(pod, full, sizeof full, NULL), LQ_OK);
    size_t need = lq_json_used(&d);
    size_t ok_from = 0;
    for (size_t cap = 0; cap <= need; cap += (cap < 512 ? 1 : 61)) {
        lq_json_doc_init(&d, small, cap);
        pod = (lq_json_t *)1;
        lq_err_t err = lq_forge_pod_remote(&d, home, &RP, &pod);
        if (err == LQ_OK) {
            assert_string_equal(print(pod), full);
            if (!ok_from)
                ok_from = cap;
        } else if (err != LQ_ETOOBIG || pod != NULL) {
            fail_msg("arena %zu: %s", cap, lq_err_name(err));
        } else if (ok_from) {
            fail_msg("arena %zu fails after %zu worked", cap, ok_from);
        }
    }
    lq_json_doc_init(&d, small, need);
    assert_int_equal(lq_forge_pod_remote(&d, home, &RP, &pod), LQ_OK);
    lq_json_doc_init(&d, small, need - 1);
    assert_int_equal(lq_forge_pod_remote(&d, home, &RP, &pod), LQ_ETOOBIG);
}

/* ---- metadata patches ------------------------------------------------------------------- */

static void test_home_label_patch(void **state)
{
    (void)state;
    lq_json_t *patch = NULL;
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("'labels':{'app':'x'}", ""), &patch), LQ_OK);
    golden(patch, "home-label-patch.json");
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("", ""), &patch), LQ_OK);
    golden(patch, "home-label-patch.json");
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("'labels':{'liqo.io/shadowPod':'false'}", ""),
                                                   &patch), LQ_OK);
    golden(patch, "home-label-patch.json");
    patch = (lq_json_t *)1;
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("'labels':{'liqo.io/shadowPod':'true'}", ""),
                                                   &patch), LQ_OK);
    assert_null(patch);
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, J("{'metadata':{'name':'p'}}"), &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, J("{'metadata':{'name':'p','uid':'u','labels':7}}"),
                                                   &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_home_label_patch(NULL, pod_with("", ""), &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("", ""), NULL), LQ_EINVAL);
}

static void test_remote_meta_patch(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *remote = NULL, *patch = (lq_json_t *)1;
    /* a remote pod as created, plus what the foreign cluster adds itself */
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &RP, &remote), LQ_OK);
    lq_json_t *meta = lq_json_get(remote, "metadata");
    assert_int_equal(lq_json_obj_add(&g_doc, meta, "uid", lq_json_new_cstr(&g_doc, "r-uid-1")), LQ_OK);
    assert_int_equal(lq_json_obj_add(&g_doc, lq_json_get(meta, "annotations"), "cni.projectcalico.org/podIP",
                                     lq_json_new_cstr(&g_doc, "10.1.2.3/32")), LQ_OK);
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home, remote, &RP, &patch), LQ_OK);
    assert_null(patch); /* in sync; the CNI's annotation is not removed */

    /* the home pod changed: a label value, a new annotation, a label removed */
    lq_json_t *h2 = J("{'metadata':{'name':'web-7d4b9c6f5-x2x9k','uid':'" HOME_UID "',"
                      "'labels':{'app':'web','tier':'backend','liqo.io/shadowPod':'true'},"
                      "'annotations':{'kubectl.kubernetes.io/restartedAt':'2026-11-23T14:00:00Z',"
                      "'example.com/note':'kept','example.com/new':'x'}},"
                      "'spec':{'containers':[{'name':'c'}]}}");
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, h2, remote, &RP, &patch), LQ_OK);
    golden(patch, "remote-meta-patch.json");

    /* the remote pod lost its ownership labels (someone relabelled it) */
    lq_json_t *r2 = J("{'metadata':{'name':'p','uid':'r-2','labels':{'app':'x'},"
                      "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}");
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, pod_with("'labels':{'app':'x'}", ""), r2, &RP, &patch),
                     LQ_OK);
    assert_str(LQ_JSON_AT(patch, "metadata", "uid"), "r-2");
    assert_int_equal(lq_json_size(LQ_JSON_AT(patch, "metadata", "labels")), 2);
    assert_null(LQ_JSON_AT(patch, "metadata", "annotations"));

    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home, J("{'metadata':{'name':'p'}}"), &RP, &patch),
                     LQ_EPROTO);
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home,
                                                    J("{'metadata':{'name':'p','uid':'u','labels':{'a':[]}}}"),
                                                    &RP, &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home, NULL, &RP, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home, remote, NULL, &patch), LQ_EINVAL);
}

/* Removals: only keys the remote pod's managedFields give to our field manager go. */
static void test_remote_meta_removals(void **state)
{
    (void)state;
    lq_json_t *patch = NULL;
    /* the home pod now has app=web only; the remote pod still has tier (ours, written
     * at creation), zone (the foreign cluster's admission wrote it) and note/old
     * annotations (ours / a CNI's) */
    lq_json_t *home = pod_with("'labels':{'app':'web','liqo.io/shadowPod':'true',"
                               "'liqo.io/remote-unavailable':'true'}", "");
    lq_json_t *remote = J("{'metadata':{'name':'p','uid':'r-1','labels':{'app':'web','tier':'be',"
        "'zone':'z1','virtualkubelet.liqo.io/origin':'" HOME_ID "',"
        "'virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},"
        "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "','example.com/note':'n',"
        "'cni.example/ip':'10.1.2.3'},"
        "'managedFields':[{'manager':'liqolet','operation':'Update','apiVersion':'v1',"
        "'fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':{'.':{},'f:app':{},"
        "'f:tier':{},'f:virtualkubelet.liqo.io/origin':{},'f:virtualkubelet.liqo.io/destination':{}},"
        "'f:annotations':{'.':{},'f:liqolet.io/home-pod-uid':{},'f:example.com/note':{}}},"
        "'f:spec':{'f:containers':{}}}},"
        "{'manager':'admission','operation':'Update','fieldsType':'FieldsV1',"
        "'fieldsV1':{'f:metadata':{'f:labels':{'f:zone':{}},'f:annotations':{'f:cni.example/ip':{}}}}},"
        "{'manager':'liqolet','operation':'Update','fieldsType':'FieldsV1',"
        "'fieldsV1':{'f:metadata':{'f:labels':{'f:gone':{}}}}}]}}");
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, home, remote, &RP, &patch), LQ_OK);
    assert_string_equal(print(patch), "{\"metadata\":{\"uid\":\"r-1\",\"labels\":{\"tier\":null},"
                                      "\"annotations\":{\"example.com/note\":null}}}");
    /* remote-unavailable (a home-side mark) is not copied: nothing else differs */
    assert_null(LQ_JSON_AT(patch, "metadata", "labels", "liqo.io/remote-unavailable"));

    /* the same key owned twice is nulled once; an added key and a removal together */
    lq_json_t *h2 = pod_with("'labels':{'app':'web','new':'1'}", "");
    lq_json_t *r2 = J("{'metadata':{'name':'p','uid':'r-2','labels':{'app':'web','old':'1',"
        "'virtualkubelet.liqo.io/origin':'" HOME_ID "','virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},"
        "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'},"
        "'managedFields':[{'manager':'liqolet','fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':{'f:old':{}}}}},"
        "{'manager':'liqolet','fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':{'f:old':{}}}}}]}}");
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, h2, r2, &RP, &patch), LQ_OK);
    assert_string_equal(print(patch), "{\"metadata\":{\"uid\":\"r-2\",\"labels\":{\"new\":\"1\",\"old\":null}}}");

    /* managedFields of shapes not understood remove nothing (and are no error) */
    static const char *const odd[] = {
        "'managedFields':7",
        "'managedFields':[7,'x',{'manager':'liqolet'}]",
        "'managedFields':[{'manager':'liqolet','fieldsType':'FieldsV2','fieldsV1':{'f:metadata':{'f:labels':{'f:old':{}}}}}]",
        "'managedFields':[{'manager':'liqolet','fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':[]}}}]",
        "'managedFields':[{'manager':'liqolet','fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':{'old':{},'f:':{}}}}}]",
        "'managedFields':[{'manager':'liqolet-other','fieldsType':'FieldsV1','fieldsV1':{'f:metadata':{'f:labels':{'f:old':{}}}}}]",
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "{'metadata':{'name':'p','uid':'r-3','labels':{'app':'web','old':'1',"
                 "'virtualkubelet.liqo.io/origin':'" HOME_ID "','virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},"
                 "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'},%s}}", odd[i]);
        lq_json_t *r3 = J(buf);
        patch = (lq_json_t *)1;
        assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, pod_with("'labels':{'app':'web'}", ""), r3, &RP, &patch),
                         LQ_OK);
        if (patch)
            fail_msg("case %zu removed something: %s", i, print(patch));
    }
}

static void test_home_label_patch_unavailable(void **state)
{
    (void)state;
    lq_json_t *patch = NULL;
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("'labels':{'liqo.io/shadowPod':'true',"
                                                   "'liqo.io/remote-unavailable':'true'}", ""), &patch), LQ_OK);
    assert_string_equal(print(patch), "{\"metadata\":{\"uid\":\"" HOME_UID "\",\"labels\":"
                                      "{\"liqo.io/remote-unavailable\":null}}}");
    assert_int_equal(lq_forge_pod_home_label_patch(&g_doc, pod_with("'labels':{'liqo.io/remote-unavailable':'x'}", ""),
                                                   &patch), LQ_OK);
    assert_string_equal(print(patch), "{\"metadata\":{\"uid\":\"" HOME_UID "\",\"labels\":"
                                      "{\"liqo.io/shadowPod\":\"true\",\"liqo.io/remote-unavailable\":null}}}");
}

#define NOW "2026-12-05T02:00:00Z"

static void test_unavailable_patch(void **state)
{
    (void)state;
    lq_json_t *meta = (lq_json_t *)1, *st = (lq_json_t *)1;
    /* not offloaded: nothing */
    lq_json_t *plain = J("{'metadata':{'name':'p','uid':'" HOME_UID "','labels':{'app':'x'}},"
                         "'status':{'conditions':[{'type':'Ready','status':'True'}]}}");
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, plain, NOW, "m", &meta, &st), LQ_OK);
    assert_null(meta);
    assert_null(st);

    lq_json_t *run = J("{'metadata':{'name':'p','uid':'" HOME_UID "','labels':{'liqo.io/shadowPod':'true'}},"
                       "'status':{'phase':'Running','conditions':[{'type':'Initialized','status':'True'},"
                       "{'type':'Ready','status':'True','lastTransitionTime':'2026-12-01T00:00:00Z'},"
                       "{'type':'ContainersReady','status':'True'}]}}");
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, run, NOW, "cluster f cannot be reached", &meta, &st),
                     LQ_OK);
    assert_string_equal(print(meta), "{\"metadata\":{\"uid\":\"" HOME_UID "\",\"labels\":"
                                     "{\"liqo.io/remote-unavailable\":\"true\"}}}");
    assert_string_equal(print(st), "{\"metadata\":{\"uid\":\"" HOME_UID "\"},\"status\":{\"conditions\":["
        "{\"type\":\"Initialized\",\"status\":\"True\"},"
        "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"" NOW "\","
        "\"reason\":\"RemoteUnavailable\",\"message\":\"cluster f cannot be reached\"},"
        "{\"type\":\"ContainersReady\",\"status\":\"True\"}]}}");

    /* labelled already, Ready already False: nothing more */
    lq_json_t *done = J("{'metadata':{'name':'p','uid':'" HOME_UID "','labels':{'liqo.io/shadowPod':'true',"
                        "'liqo.io/remote-unavailable':'true'}},"
                        "'status':{'conditions':[{'type':'Ready','status':'False','reason':'NodeNotReady'}]}}");
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, done, NOW, "m", &meta, &st), LQ_OK);
    assert_null(meta);
    assert_null(st);

    /* no conditions at all: a Ready condition is appended */
    lq_json_t *bare = J("{'metadata':{'name':'p','uid':'" HOME_UID "','labels':{'liqo.io/shadowPod':'true',"
                        "'liqo.io/remote-unavailable':'true'}}}");
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, bare, NOW, "m", &meta, &st), LQ_OK);
    assert_null(meta);
    assert_string_equal(print(LQ_JSON_AT(st, "status")), "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
        "\"reason\":\"RemoteUnavailable\",\"message\":\"m\",\"lastTransitionTime\":\"" NOW "\"}]}");

    /* bad shapes and arguments */
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, J("{'metadata':{'name':'p','uid':'u',"
                     "'labels':{'liqo.io/shadowPod':'true'}},'status':{'conditions':{}}}"), NOW, "m", &meta, &st),
                     LQ_EPROTO);
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, J("{'metadata':{'name':'p','uid':'u',"
                     "'labels':{'liqo.io/shadowPod':'true'}},'status':{'conditions':[7]}}"), NOW, "m", &meta, &st),
                     LQ_EPROTO);
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, J("{'metadata':{'name':'p'}}"), NOW, "m", &meta, &st),
                     LQ_EPROTO);
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, run, "", "m", &meta, &st), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, run, NOW, NULL, &meta, &st), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_unavailable_patch(&g_doc, run, NOW, "m", NULL, &st), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_unavailable_patch(NULL, run, NOW, "m", &meta, &st), LQ_EINVAL);
}

static void test_aborted(void **state)
{
    (void)state;
    /* a remote pod claiming the home side's verdict: the reason is not taken home */
    const lq_forge_pod_status_params_t sp = {.node_ip = NODE_IP, .reflect_ips = true, .restarts = 0};
    lq_json_t *patch = NULL;
    lq_json_t *remote = J("{'metadata':{'name':'p','uid':'r'},'status':{'phase':'Failed',"
                          "'reason':'OffloadingAborted','message':'m'}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, pod_with("", ""), remote, &sp, &patch), LQ_OK);
    assert_int_equal(lq_json_type(LQ_JSON_AT(patch, "status", "reason")), LQ_JSON_NULL);
    assert_str(LQ_JSON_AT(patch, "status", "phase"), "Failed");
    remote = J("{'metadata':{'name':'p','uid':'r'},'status':{'phase':'Failed','reason':'Evicted'}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, pod_with("", ""), remote, &sp, &patch), LQ_OK);
    assert_str(LQ_JSON_AT(patch, "status", "reason"), "Evicted");

    assert_true(lq_forge_pod_aborted(J("{'status':{'phase':'Failed','reason':'OffloadingAborted'}}")));
    assert_false(lq_forge_pod_aborted(J("{'status':{'phase':'Failed','reason':'Error'}}")));
    assert_false(lq_forge_pod_aborted(J("{'status':{'phase':'Pending','reason':'OffloadingAborted'}}")));
    assert_false(lq_forge_pod_aborted(J("{'status':{'phase':'Failed'}}")));
    assert_false(lq_forge_pod_aborted(J("{'status':7}")));
    assert_false(lq_forge_pod_aborted(NULL));
}

/* ---- status ------------------------------------------------------------------------------ */

static const lq_forge_pod_status_params_t SP = {.node_ip = NODE_IP, .reflect_ips = true, .restarts = 0};

static void test_status_running(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *remote = vec("remote-running.json"), *patch = NULL;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &patch), LQ_OK);
    golden(patch, "status-running.json");

    const lq_json_t *st = lq_json_get(patch, "status");
    assert_str(LQ_JSON_AT(patch, "metadata", "uid"), HOME_UID);
    assert_str(lq_json_get(st, "hostIP"), NODE_IP);               /* not the remote node's */
    assert_str(LQ_JSON_AT(st, "hostIPs", "0", "ip"), NODE_IP);
    assert_int_equal(lq_json_size(lq_json_get(st, "hostIPs")), 1);
    assert_str(lq_json_get(st, "podIP"), "10.244.3.17");          /* unchanged: internal=false */
    assert_int_equal(lq_json_size(lq_json_get(st, "podIPs")), 1); /* dual-stack collapses */
    assert_str(LQ_JSON_AT(st, "podIPs", "0", "ip"), "10.244.3.17");
    assert_int_equal(int_of(LQ_JSON_AT(st, "containerStatuses", "0", "restartCount")), 1);
    assert_int_equal(lq_json_type(lq_json_get(st, "nominatedNodeName")), LQ_JSON_NULL);
    assert_str(lq_json_get(st, "phase"), "Running");

    /* conditions, init and container statuses are the remote's, whole */
    assert_true(same_print(lq_json_get(st, "conditions"), LQ_JSON_AT(remote, "status", "conditions")));
    assert_true(same_print(lq_json_get(st, "initContainerStatuses"),
                           LQ_JSON_AT(remote, "status", "initContainerStatuses")));
    assert_true(same_print(lq_json_get(st, "containerStatuses"), LQ_JSON_AT(remote, "status", "containerStatuses")));
}

static void test_status_no_ips_and_restarts(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *remote = vec("remote-running.json"), *patch = NULL;
    lq_forge_pod_status_params_t p = SP;
    p.reflect_ips = false;
    p.restarts = 3;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &p, &patch), LQ_OK);
    golden(patch, "status-running-noips-restarts.json");
    const lq_json_t *st = lq_json_get(patch, "status");
    assert_int_equal(lq_json_type(lq_json_get(st, "podIP")), LQ_JSON_NULL);
    assert_int_equal(lq_json_type(lq_json_get(st, "podIPs")), LQ_JSON_NULL);
    assert_int_equal(int_of(LQ_JSON_AT(st, "containerStatuses", "0", "restartCount")), 4);
    assert_int_equal(int_of(LQ_JSON_AT(st, "containerStatuses", "1", "restartCount")), 3);
    assert_int_equal(int_of(LQ_JSON_AT(st, "initContainerStatuses", "0", "restartCount")), 2); /* not offset */
    /* the remote pod is not modified */
    assert_int_equal(int_of(LQ_JSON_AT(remote, "status", "containerStatuses", "0", "restartCount")), 1);

    /* saturation, and a status without restartCount */
    lq_json_reset(&g_doc);
    p.restarts = INT32_MAX;
    lq_json_t *r = J("{'status':{'phase':'Running','containerStatuses':[{'name':'a','restartCount':5},{'name':'b'}]}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, pod_with("", ""), r, &p, &patch), LQ_OK);
    assert_int_equal(int_of(LQ_JSON_AT(patch, "status", "containerStatuses", "0", "restartCount")), INT32_MAX);
    assert_int_equal(int_of(LQ_JSON_AT(patch, "status", "containerStatuses", "1", "restartCount")), INT32_MAX);
    p.restarts = 0;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, pod_with("", ""), r, &p, &patch), LQ_OK);
    assert_int_equal(int_of(LQ_JSON_AT(patch, "status", "containerStatuses", "1", "restartCount")), 0);

    /* reflectIPs true but no IP yet: blank as well; an empty string counts as none */
    p.reflect_ips = true;
    r = J("{'status':{'phase':'Pending','podIP':'','podIPs':[]}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, pod_with("", ""), r, &p, &patch), LQ_OK);
    assert_int_equal(lq_json_type(LQ_JSON_AT(patch, "status", "podIP")), LQ_JSON_NULL);
    assert_int_equal(lq_json_type(LQ_JSON_AT(patch, "status", "podIPs")), LQ_JSON_NULL);
}

static void test_status_pending(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *remote = vec("remote-pending.json"), *patch = NULL;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &patch), LQ_OK);
    golden(patch, "status-pending.json");

    /* no status at all: phase and qosClass are left out, never nulled */
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, J("{'metadata':{'name':'x'}}"), &SP, &patch), LQ_OK);
    const lq_json_t *st = lq_json_get(patch, "status");
    assert_false(has(st, "phase"));
    assert_false(has(st, "qosClass"));
    assert_int_equal(lq_json_type(lq_json_get(st, "conditions")), LQ_JSON_NULL);
    assert_int_equal(lq_json_size(st), 12);
}

static void test_status_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "{'status':[]}",
        "{'status':{'phase':3}}",
        "{'status':{'conditions':{}}}",
        "{'status':{'message':[]}}",
        "{'status':{'reason':1}}",
        "{'status':{'nominatedNodeName':true}}",
        "{'status':{'hostIP':1}}",
        "{'status':{'podIP':{}}}",
        "{'status':{'startTime':5}}",
        "{'status':{'initContainerStatuses':'x'}}",
        "{'status':{'containerStatuses':{}}}",
        "{'status':{'containerStatuses':[1]}}",
        "{'status':{'containerStatuses':[{'restartCount':'1'}]}}",
        "{'status':{'containerStatuses':[{'restartCount':1.5}]}}",
        "{'status':{'qosClass':[]}}",
        "{'status':{'ephemeralContainerStatuses':{}}}",
    };
    lq_json_t *home = pod_with("", ""), *patch;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        patch = (lq_json_t *)1;
        lq_err_t err = lq_forge_pod_status_patch(&g_doc, home, J(bad[i]), &SP, &patch);
        if (err != LQ_EPROTO || patch != NULL)
            fail_msg("row %zu (%s): %s", i, bad[i], lq_err_name(err));
    }
    lq_json_t *ok = J("{'status':{'phase':'Running'}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, J("{'metadata':{'name':'p'}}"), ok, &SP, &patch), LQ_EPROTO);
    lq_forge_pod_status_params_t p = SP;
    p.node_ip = NULL;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, ok, &p, &patch), LQ_EINVAL);
    p.node_ip = "";
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, ok, &p, &patch), LQ_EINVAL);
    p = SP, p.restarts = -1;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, ok, &p, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, ok, NULL, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, NULL, &SP, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, ok, &SP, NULL), LQ_EINVAL);

    /* oversized: every short arena fails cleanly */
    lq_json_t *remote = vec("remote-running.json");
    static unsigned char small[16 * 1024];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_pod_status_patch(&d, home, remote, &SP, &patch), LQ_OK);
    size_t need = lq_json_used(&d);
    for (size_t cap = 0; cap < need; cap += 7) {
        lq_json_doc_init(&d, small, cap);
        patch = (lq_json_t *)1;
        lq_err_t err = lq_forge_pod_status_patch(&d, home, remote, &SP, &patch);
        if (err != LQ_ETOOBIG || patch != NULL)
            fail_msg("arena %zu of %zu: %s", cap, need, lq_err_name(err));
    }
}

/* ---- restarts ------------------------------------------------------------------------------- */

static lq_json_t *with_statuses(const char *uid, const char *statuses)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "{'metadata':{'name':'p','uid':'%s'},'status':{'containerStatuses':%s}}",
             uid, statuses);
    return J(buf);
}

static void test_restarts_infer(void **state)
{
    (void)state;
    static const struct {
        const char *home, *remote;
        int32_t want;
    } t[] = {
        {"[]", "[{'name':'a','restartCount':3}]", 0},                                     /* not initialised */
        {"[{'name':'a','restartCount':7}]", "[{'name':'a','restartCount':3}]", 4},
        {"[{'name':'a','restartCount':7}]", "[{'name':'b','restartCount':0},{'name':'a','restartCount':5}]", 2},
        {"[{'name':'a','restartCount':3}]", "[{'name':'a','restartCount':3}]", 0},
        {"[{'name':'a','restartCount':2}]", "[{'name':'a','restartCount':9}]", 0},        /* negative */
        {"[{'name':'a','restartCount':7}]", "[{'name':'b','restartCount':0}]", 0},        /* no match */
        {"[{'name':'a','restartCount':7}]", "[]", 0},
        {"[{'name':'a','restartCount':7},{'name':'b','restartCount':99}]", "[{'name':'b','restartCount':0}]", 0},
        {"[{'name':'a','restartCount':7}]", "[{'name':'a'}]", 7},                          /* absent = 0 */
        {"[{'restartCount':7}]", "[{'name':'a'}]", 0},                                    /* no name */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int32_t got = -1;
        lq_err_t err = lq_forge_pod_restarts_infer(with_statuses("h", t[i].home), with_statuses("r", t[i].remote),
                                                   &got);
        if (err != LQ_OK || got != t[i].want)
            fail_msg("row %zu: %s %d, want %d", i, lq_err_name(err), got, t[i].want);
    }
    int32_t n;
    assert_int_equal(lq_forge_pod_restarts_infer(J("{}"), J("{}"), &n), LQ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lq_forge_pod_restarts_infer(with_statuses("h", "{}"), J("{}"), &n), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_infer(with_statuses("h", "[{'name':'a','restartCount':'x'}]"),
                                                 J("{}"), &n), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_infer(J("{}"), J("{'status':[]}"), &n), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_infer(NULL, J("{}"), &n), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_restarts_infer(J("{}"), J("{}"), NULL), LQ_EINVAL);
}

static void test_restarts_track(void **state)
{
    (void)state;
    lq_forge_pod_restarts_t st;
    memset(&st, 0, sizeof st);
    bool changed = true;
    lq_json_t *home = with_statuses("h", "[{'name':'a','restartCount':6}]");

    /* first sight after an agent restart: inferred (6 - 4) */
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, with_statuses("r1", "[{'name':'a','restartCount':4}]"),
                                                 &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(st.offset, 2);
    assert_string_equal(st.remote_uid, "r1");
    /* same remote pod: nothing changes, even if the home count moves */
    lq_json_t *home2 = with_statuses("h", "[{'name':'a','restartCount':60}]");
    assert_int_equal(lq_forge_pod_restarts_track(&st, home2, with_statuses("r1", "[]"), &changed), LQ_OK);
    assert_false(changed);
    assert_int_equal(st.offset, 2);
    /* re-created twice */
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, with_statuses("r2", "[]"), &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(st.offset, 3);
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, with_statuses("r3", "[]"), NULL), LQ_OK);
    assert_int_equal(st.offset, 4);
    assert_string_equal(st.remote_uid, "r3");

    /* a fresh pod: first remote seen with no home statuses yet */
    lq_forge_pod_restarts_t f = {{0}, 0};
    assert_int_equal(lq_forge_pod_restarts_track(&f, J("{'status':{}}"), with_statuses("x", "[]"), &changed), LQ_OK);
    assert_int_equal(f.offset, 0);
    assert_false(changed);
    assert_string_equal(f.remote_uid, "x");

    /* saturation */
    f.offset = INT32_MAX;
    assert_int_equal(lq_forge_pod_restarts_track(&f, home, with_statuses("y", "[]"), &changed), LQ_OK);
    assert_int_equal(f.offset, INT32_MAX);
    assert_false(changed);

    /* errors leave the state alone */
    lq_forge_pod_restarts_t keep = st;
    char long_uid[64];
    memset(long_uid, 'u', LQ_FORGE_POD_UID_BUF);
    long_uid[LQ_FORGE_POD_UID_BUF] = '\0';
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, with_statuses(long_uid, "[]"), &changed), LQ_ETOOBIG);
    long_uid[LQ_FORGE_POD_UID_BUF - 1] = '\0'; /* 39 characters fit */
    lq_forge_pod_restarts_t g = {{0}, 0};
    assert_int_equal(lq_forge_pod_restarts_track(&g, home, with_statuses(long_uid, "[]"), &changed), LQ_OK);
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, J("{'metadata':{'name':'p'}}"), &changed), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, J("{'metadata':{'uid':''}}"), &changed), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_track(&st, home, J("[]"), &changed), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_restarts_track(&st, NULL, J("{}"), &changed), LQ_EINVAL);
    assert_memory_equal(&keep, &st, sizeof st);
    /* a malformed first sight leaves it alone too */
    lq_forge_pod_restarts_t z = {{0}, 0};
    assert_int_equal(lq_forge_pod_restarts_track(&z, with_statuses("h", "{}"), with_statuses("q", "[]"), &changed),
                     LQ_EPROTO);
    assert_string_equal(z.remote_uid, "");
}

/* ---- compat v1: the other label family (include/liqolet/liqo.h) ---------------------------- */

static int back_to_v08(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    return 0;
}

static void test_remote_v1_names(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    lq_forge_pod_remote_params_t p = RP;
    p.node_name = "liqo-foreign";
    lq_json_t *home = vec("home-full.json"), *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, home, &p, &pod), LQ_OK);
    golden(pod, "remote-full.v1.json");
    const lq_json_t *labels = LQ_JSON_AT(pod, "metadata", "labels");
    assert_str(lq_json_get(labels, LQ_LIQO_V1_LABEL_ORIGIN), HOME_ID);
    assert_str(lq_json_get(labels, LQ_LIQO_V1_LABEL_DESTINATION), FOREIGN_ID);
    assert_str(lq_json_get(labels, LQ_LIQO_V1_LABEL_NODENAME), "liqo-foreign");
    /* the home's v0.8 origin label ('someone-else') is not carried over in v1 either */
    assert_false(has(labels, LQ_LIQO_V08_LABEL_ORIGIN));
    assert_false(has(labels, LQ_LIQO_V08_LABEL_DESTINATION));
    assert_int_equal(lq_json_size(labels), 6);

    /* home labels of either family, and a nodename, never reach the remote pod */
    lq_json_t *forged = J("{'metadata':{'name':'p','uid':'" HOME_UID "','labels':{"
                          "'offloading.liqo.io/origin':'x','offloading.liqo.io/destination':'y',"
                          "'offloading.liqo.io/nodename':'z','virtualkubelet.liqo.io/origin':'x',"
                          "'virtualkubelet.liqo.io/destination':'y','a':'b'}},"
                          "'spec':{'containers':[{'name':'c','image':'i'}]}}");
    assert_int_equal(lq_forge_pod_remote(&g_doc, forged, &p, &pod), LQ_OK);
    assert_string_equal(print(LQ_JSON_AT(pod, "metadata", "labels")),
                        "{\"a\":\"b\",\"offloading.liqo.io/origin\":\"" HOME_ID "\","
                        "\"offloading.liqo.io/destination\":\"" FOREIGN_ID "\","
                        "\"offloading.liqo.io/nodename\":\"liqo-foreign\"}");
    /* labels following the home pod: a remote pod of the v1 family without the node name
     * gets it back, and the v0.8 labels a home pod cannot have are not asked for */
    lq_json_t *rem = J("{'metadata':{'name':'p','uid':'r-1','labels':{'a':'b',"
                       "'offloading.liqo.io/origin':'" HOME_ID "','offloading.liqo.io/destination':'" FOREIGN_ID "'},"
                       "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}");
    lq_json_t *mp = NULL;
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, forged, rem, &p, &mp), LQ_OK);
    assert_non_null(mp);
    assert_string_equal(print(mp), "{\"metadata\":{\"uid\":\"r-1\",\"labels\":"
                                   "{\"offloading.liqo.io/nodename\":\"liqo-foreign\"}}}");
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, forged, pod, &p, &mp), LQ_EPROTO); /* no uid */
    /* v1 needs the node name */
    p.node_name = NULL;
    assert_int_equal(lq_forge_pod_remote_meta_patch(&g_doc, forged, rem, &p, &mp), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_remote(&g_doc, forged, &p, &pod), LQ_EINVAL);
    p.node_name = "";
    assert_int_equal(lq_forge_pod_remote(&g_doc, forged, &p, &pod), LQ_EINVAL);

    /* ownership reads the v1 labels only */
    lq_json_t *v1 = J("{'metadata':{'labels':{'offloading.liqo.io/origin':'" HOME_ID "',"
                      "'offloading.liqo.io/destination':'" FOREIGN_ID "'},"
                      "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}");
    lq_json_t *v08 = J("{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'" HOME_ID "',"
                       "'virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},"
                       "'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}");
    assert_int_equal(lq_forge_pod_owner(v1, HOME_ID, FOREIGN_ID, HOME_UID), LQ_FORGE_POD_OURS);
    assert_int_equal(lq_forge_pod_owner(v08, HOME_ID, FOREIGN_ID, HOME_UID), LQ_FORGE_POD_NOT_OURS);
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    assert_int_equal(lq_forge_pod_owner(v1, HOME_ID, FOREIGN_ID, HOME_UID), LQ_FORGE_POD_NOT_OURS);
    assert_int_equal(lq_forge_pod_owner(v08, HOME_ID, FOREIGN_ID, HOME_UID), LQ_FORGE_POD_OURS);
    /* v0.8: no nodename label, none needed, and the home's v1 labels dropped too */
    p.node_name = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, forged, &p, &pod), LQ_OK);
    assert_string_equal(print(LQ_JSON_AT(pod, "metadata", "labels")),
                        "{\"a\":\"b\",\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\","
                        "\"virtualkubelet.liqo.io/destination\":\"" FOREIGN_ID "\"}");
}

/* ---- ownership, lifecycle -------------------------------------------------------------------- */

static void test_owner(void **state)
{
    (void)state;
#define OWN_LABELS "'labels':{'virtualkubelet.liqo.io/origin':'" HOME_ID "','virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'}"
    static const struct {
        const char *pod;
        const char *uid;
        lq_forge_pod_owner_t want;
    } t[] = {
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}", HOME_UID, LQ_FORGE_POD_OURS},
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}", NULL, LQ_FORGE_POD_OURS},
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':'older'}}}", HOME_UID, LQ_FORGE_POD_STALE},
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':''}}}", HOME_UID, LQ_FORGE_POD_STALE},
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':5}}}", HOME_UID, LQ_FORGE_POD_STALE},
        {"{'metadata':{" OWN_LABELS "}}", HOME_UID, LQ_FORGE_POD_UNTAGGED},
        {"{'metadata':{" OWN_LABELS ",'annotations':{'liqolet.io/home-pod-uid':null}}}", HOME_UID, LQ_FORGE_POD_UNTAGGED},
        {"{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'" HOME_ID "'}}}", HOME_UID, LQ_FORGE_POD_NOT_OURS},
        {"{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'" HOME_ID "','virtualkubelet.liqo.io/destination':'other'}}}",
         NULL, LQ_FORGE_POD_NOT_OURS},
        {"{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'other','virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'}}}",
         NULL, LQ_FORGE_POD_NOT_OURS},
        {"{'metadata':{'labels':{'app':'x'},'annotations':{'liqolet.io/home-pod-uid':'" HOME_UID "'}}}", HOME_UID,
         LQ_FORGE_POD_NOT_OURS},
        {"{'metadata':{'labels':[]}}", NULL, LQ_FORGE_POD_NOT_OURS},
        {"{'metadata':7}", NULL, LQ_FORGE_POD_NOT_OURS},
        {"[]", NULL, LQ_FORGE_POD_NOT_OURS},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_forge_pod_owner_t got = lq_forge_pod_owner(J(t[i].pod), HOME_ID, FOREIGN_ID, t[i].uid);
        if (got != t[i].want)
            fail_msg("row %zu: %d, want %d", i, got, t[i].want);
    }
    lq_json_t *ours = J("{'metadata':{" OWN_LABELS "}}");
    assert_int_equal(lq_forge_pod_owner(ours, NULL, FOREIGN_ID, NULL), LQ_FORGE_POD_NOT_OURS);
    assert_int_equal(lq_forge_pod_owner(ours, HOME_ID, "", NULL), LQ_FORGE_POD_NOT_OURS);
    assert_int_equal(lq_forge_pod_owner(NULL, HOME_ID, FOREIGN_ID, NULL), LQ_FORGE_POD_NOT_OURS);

    /* what lq_forge_pod_remote builds is ours, for that home pod only */
    lq_json_t *pod = NULL;
    assert_int_equal(lq_forge_pod_remote(&g_doc, vec("home-full.json"), &RP, &pod), LQ_OK);
    assert_int_equal(lq_forge_pod_owner(pod, HOME_ID, FOREIGN_ID, HOME_UID), LQ_FORGE_POD_OURS);
    assert_int_equal(lq_forge_pod_owner(pod, HOME_ID, FOREIGN_ID, "another-uid"), LQ_FORGE_POD_STALE);
    assert_int_equal(lq_forge_pod_owner(pod, FOREIGN_ID, HOME_ID, HOME_UID), LQ_FORGE_POD_NOT_OURS);
}

static void test_recreate_allowed(void **state)
{
    (void)state;
    static const struct {
        const char *policy, *phase;
        bool want;
    } t[] = {
        {NULL, "Running", true},      {NULL, "Succeeded", true},      {NULL, "Failed", true},
        {"Always", "Succeeded", true}, {"Always", "Failed", true},
        {"OnFailure", "Succeeded", false}, {"OnFailure", "Failed", true}, {"OnFailure", "Running", true},
        {"Never", "Succeeded", false}, {"Never", "Failed", false}, {"Never", "Running", true},
        {"Never", "Pending", true},    {"Never", NULL, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char buf[256], sp[64] = "", ph[64] = "";
        if (t[i].policy)
            snprintf(sp, sizeof sp, "'restartPolicy':'%s'", t[i].policy);
        if (t[i].phase)
            snprintf(ph, sizeof ph, "'phase':'%s'", t[i].phase);
        snprintf(buf, sizeof buf, "{'spec':{%s},'status':{%s}}", sp, ph);
        bool got = !t[i].want;
        assert_int_equal(lq_forge_pod_recreate_allowed(J(buf), &got), LQ_OK);
        if (got != t[i].want)
            fail_msg("row %zu (%s): %d", i, buf, got);
    }
    bool a;
    assert_int_equal(lq_forge_pod_recreate_allowed(J("{'spec':{'restartPolicy':1}}"), &a), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_recreate_allowed(J("{'status':{'phase':[]}}"), &a), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_recreate_allowed(J("{'spec':[]}"), &a), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_recreate_allowed(J("3"), &a), LQ_EPROTO);
    assert_int_equal(lq_forge_pod_recreate_allowed(NULL, &a), LQ_EINVAL);
    assert_int_equal(lq_forge_pod_recreate_allowed(J("{}"), NULL), LQ_EINVAL);
}

/* ---- change detection ---------------------------------------------------------------------- */

static void test_hash(void **state)
{
    (void)state;
    /* same text, separate parses: same hash; every kind of change: another hash */
    static const char *const docs[] = {
        "{'a':1,'b':[true,null,'x'],'c':{'d':1.5}}",
        "{'a':2,'b':[true,null,'x'],'c':{'d':1.5}}",
        "{'a':'1','b':[true,null,'x'],'c':{'d':1.5}}",
        "{'a':1,'b':[false,null,'x'],'c':{'d':1.5}}",
        "{'a':1,'b':[true,null,'y'],'c':{'d':1.5}}",
        "{'a':1,'b':[true,'x'],'c':{'d':1.5}}",
        "{'a':1,'b':[true,null,'x'],'c':{'e':1.5}}",
        "{'a':1,'b':[true,null,'x'],'c':{'d':1.25}}",
        "{'b':[true,null,'x'],'a':1,'c':{'d':1.5}}", /* order counts */
        "{'a':1,'b':[true,null,'x'],'c':{'d':1.5},'e':null}",
        "{'a':1,'b':[true,null,'x'],'c':{}}",
        "{'ab':1,'b':[true,null,'x'],'c':{'d':1.5}}",
        "[]",
        "{}",
        "null",
        "''",
    };
    uint64_t h[sizeof docs / sizeof docs[0]];
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        h[i] = lq_forge_pod_hash(J(docs[i]));
        assert_int_equal(lq_forge_pod_hash(J(docs[i])), h[i]);
        for (size_t j = 0; j < i; j++)
            if (h[i] == h[j])
                fail_msg("docs %zu and %zu hash the same", j, i);
    }
    assert_int_not_equal(lq_forge_pod_hash(NULL), lq_forge_pod_hash(J("null")));
    assert_int_equal(lq_forge_pod_hash(J("{'n':1.0}")), lq_forge_pod_hash(J("{'n':1}")));
    assert_int_equal(lq_forge_pod_hash(J("{'n':12345678901234567890}")),
                     lq_forge_pod_hash(J("{ 'n' : 12345678901234567890 }")));
    assert_int_not_equal(lq_forge_pod_hash(J("{'n':12345678901234567890}")),
                         lq_forge_pod_hash(J("{'n':12345678901234567891}")));
    /* two forged status patches of the same input hash the same */
    lq_json_t *home = vec("home-full.json"), *remote = vec("remote-running.json"), *p1, *p2;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &p1), LQ_OK);
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &p2), LQ_OK);
    assert_int_equal(lq_forge_pod_hash(p1), lq_forge_pod_hash(p2));
    lq_forge_pod_status_params_t p = SP;
    p.restarts = 1;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &p, &p2), LQ_OK);
    assert_int_not_equal(lq_forge_pod_hash(p1), lq_forge_pod_hash(p2));
}

static void test_patch_noop(void **state)
{
    (void)state;
    static const struct {
        const char *target, *patch;
        bool want;
    } t[] = {
        {"{'a':1}", "{}", true},
        {"{'a':1}", "{'a':1}", true},
        {"{'a':1}", "{'a':1.0}", true},
        {"{'a':1}", "{'a':2}", false},
        {"{'a':1}", "{'a':'1'}", false},
        {"{'a':1}", "{'b':null}", true},
        {"{'a':1,'b':null}", "{'b':null}", true},
        {"{'a':1}", "{'a':null}", false},
        {"{'m':{'x':1,'y':2}}", "{'m':{'y':2}}", true},  /* objects merge */
        {"{'m':{'x':1,'y':2}}", "{'m':{'y':3}}", false},
        {"{'m':{'x':1}}", "{'m':{'x':null}}", false},
        {"{'m':5}", "{'m':{}}", false},
        {"{}", "{'m':{}}", false},
        {"{'l':[1,{'a':2,'b':3}]}", "{'l':[1,{'b':3,'a':2}]}", true}, /* member order ignored */
        {"{'l':[1,2]}", "{'l':[2,1]}", false},                        /* element order counts */
        {"{'l':[1,2]}", "{'l':[1]}", false},
        {"{'l':[{'a':1,'b':2}]}", "{'l':[{'a':1}]}", false},          /* arrays replace */
        {"{'s':'x','t':true,'f':1.5}", "{'s':'x','t':true,'f':1.5}", true},
        {"{'t':true}", "{'t':false}", false},
        {"{'f':1.5}", "{'f':1.25}", false},
        {"{'o':{'a':1}}", "{'o':[]}", false},
        {"[1]", "[1]", true},
        {"5", "{}", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool got = lq_forge_pod_patch_noop(J(t[i].target), J(t[i].patch));
        if (got != t[i].want)
            fail_msg("row %zu (%s <- %s): %d", i, t[i].target, t[i].patch, got);
    }
    assert_true(lq_forge_pod_patch_noop(J("{}"), NULL));
    assert_false(lq_forge_pod_patch_noop(NULL, J("{}")));

    /* the status patch against a home pod: changed until applied, then a no-op */
    lq_json_t *remote = vec("remote-running.json"), *patch;
    lq_json_t *home = J("{'metadata':{'name':'web-7d4b9c6f5-x2x9k','uid':'" HOME_UID "'},"
                        "'status':{'phase':'Pending','qosClass':'Burstable','nominatedNodeName':'n1'}}");
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &patch), LQ_OK);
    assert_false(lq_forge_pod_patch_noop(home, patch));
    /* apply it by hand: every status member set or removed */
    lq_json_t *hst = lq_json_get(home, "status");
    for (const lq_json_t *m = lq_json_first(lq_json_get(patch, "status")); m; m = lq_json_next(m)) {
        if (lq_json_type(m) == LQ_JSON_NULL)
            (void)lq_json_obj_del(&g_doc, hst, lq_json_key(m));
        else
            assert_int_equal(lq_json_obj_set(&g_doc, hst, lq_json_key(m), lq_json_copy(&g_doc, m)), LQ_OK);
    }
    assert_true(lq_forge_pod_patch_noop(home, patch));
    /* the same check, fed a freshly forged patch (what a restarted agent does) */
    lq_json_t *again;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &SP, &again), LQ_OK);
    assert_true(lq_forge_pod_patch_noop(home, again));
    /* a remote change (one more restart) shows */
    lq_forge_pod_status_params_t p = SP;
    p.restarts = 1;
    assert_int_equal(lq_forge_pod_status_patch(&g_doc, home, remote, &p, &again), LQ_OK);
    assert_false(lq_forge_pod_patch_noop(home, again));
    /* a replaced home pod (another uid) is not a no-op either */
    assert_int_equal(lq_json_obj_set(&g_doc, lq_json_get(home, "metadata"), "uid",
                                     lq_json_new_cstr(&g_doc, "other")), LQ_OK);
    assert_false(lq_forge_pod_patch_noop(home, patch));
}

/* ---- no heap ----------------------------------------------------------------------------------- */

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    lq_json_t *home = vec("home-full.json"), *remote = vec("remote-running.json");
    lq_json_t *aa = pod_with("'labels':{'app':'w'},'annotations':{'liqo.io/anti-affinity-preset':'hard',"
                             "'liqo.io/anti-affinity-labels':'app'}", "");
    lq_json_t *pod = NULL, *aapod = NULL, *meta = NULL, *label = NULL, *status = NULL;
    lq_forge_pod_restarts_t rs;
    memset(&rs, 0, sizeof rs);
    lq_forge_pod_status_params_t sp = SP;
    char ca[LQ_FORGE_POD_ROOT_CA_BUF];
    bool allowed = false, noop = true;
    lq_forge_pod_owner_t own = LQ_FORGE_POD_NOT_OURS;
    uint64_t h = 0;
    lq_err_t e[9];

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    e[0] = lq_forge_pod_root_ca_name(HOME_ID, ca, sizeof ca);
    e[1] = lq_forge_pod_remote(&g_doc, home, &RP, &pod);
    e[2] = lq_forge_pod_remote(&g_doc, aa, &RP, &aapod);
    e[3] = lq_forge_pod_home_label_patch(&g_doc, home, &label);
    e[4] = lq_forge_pod_restarts_track(&rs, home, remote, NULL);
    sp.restarts = rs.offset;
    e[5] = lq_forge_pod_status_patch(&g_doc, home, remote, &sp, &status);
    e[6] = lq_forge_pod_remote_meta_patch(&g_doc, home, remote, &RP, &meta);
    e[7] = lq_forge_pod_recreate_allowed(home, &allowed);
    own = lq_forge_pod_owner(remote, HOME_ID, FOREIGN_ID, HOME_UID);
    h = lq_forge_pod_hash(status);
    noop = lq_forge_pod_patch_noop(home, status);
    e[8] = lq_json_print(pod, g_out, sizeof g_out, NULL);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka asserts (cmocka allocates on failure) */

    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        if (e[i] != LQ_OK)
            fail_msg("call %zu: %s", i, lq_err_name(e[i]));
    assert_non_null(pod);
    assert_non_null(aapod);
    assert_null(label);        /* home-full already has liqo.io/shadowPod=true */
    assert_non_null(status);
    assert_non_null(meta);     /* remote-running lacks most home labels */
    assert_true(allowed);
    assert_int_equal(own, LQ_FORGE_POD_OURS);
    assert_int_not_equal(h, 0);
    assert_false(noop);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_remote_golden, setup),
        cmocka_unit_test_setup(test_remote_minimal, setup),
        cmocka_unit_test_setup(test_root_ca_kept_without_name, setup),
        cmocka_unit_test_setup(test_root_ca_plain_volume, setup),
        cmocka_unit_test_setup(test_tolerations, setup),
        cmocka_unit_test_setup(test_anti_affinity, setup),
        cmocka_unit_test_setup(test_remote_malformed, setup),
        cmocka_unit_test_setup(test_remote_oversized, setup),
        cmocka_unit_test_setup(test_home_label_patch, setup),
        cmocka_unit_test_setup(test_remote_meta_removals, setup),
        cmocka_unit_test_setup(test_home_label_patch_unavailable, setup),
        cmocka_unit_test_setup(test_unavailable_patch, setup),
        cmocka_unit_test_setup(test_aborted, setup),
        cmocka_unit_test_setup(test_remote_meta_patch, setup),
        cmocka_unit_test_setup(test_status_running, setup),
        cmocka_unit_test_setup(test_status_no_ips_and_restarts, setup),
        cmocka_unit_test_setup(test_status_pending, setup),
        cmocka_unit_test_setup(test_status_errors, setup),
        cmocka_unit_test_setup(test_restarts_infer, setup),
        cmocka_unit_test_setup(test_restarts_track, setup),
        cmocka_unit_test_setup_teardown(test_remote_v1_names, setup, back_to_v08),
        cmocka_unit_test_setup(test_owner, setup),
        cmocka_unit_test_setup(test_recreate_allowed, setup),
        cmocka_unit_test_setup(test_hash, setup),
        cmocka_unit_test_setup(test_patch_noop, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
