/* Unit tests of src/forge/svc.c: the Service and Ingress forges. Golden outputs (ClusterIP
 * with dual-stack fields, headless, NodePort with and without liqo.io/force-remote-node-port,
 * LoadBalancer fields, ExternalName, an Ingress with TLS, a class annotation and
 * ingressClassName, defaultBackend and a resource backend), focused inline cases (nodePort
 * rule, named targetPort, clusterIP, ownership labels and home-uid replaced, the uid
 * precondition outside the hash, Ingress annotations), facts, malformed input, LQ_ETOOBIG at
 * every output capacity and arena size that is too small, hash determinism, parameters, the
 * `kubernetes` Service rule, and no heap use.
 *
 * Vectors and goldens live in tests/vectors/forge/svc/ (<name>.json is the home object as
 * kube-apiserver returns it, compact; <name>.out.json the expected body, byte for byte,
 * written by hand). LQ_UPDATE_GOLDEN=1 rewrites the goldens from the code: review every
 * rewritten file against liqo-v0.8-behaviour.md §1.1, §1.4, §1.5 before keeping it.
 *
 * Inline inputs are written with single quotes (Q() turns them into double quotes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/forge_svc.h"
#include "liqolet/liqo.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "lq_vectors.h"

#define HOME_ID    "5a1c2e3f-0b1d-4c2e-9f3a-7b6c5d4e3f21"
#define FOREIGN_ID "c0ffee00-1234-4abc-8def-0123456789ab"
#define HOME_UID   "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define REMOTE_NS  "shop-home-5a1c2e"
#define OWN_LABELS "\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\",\"virtualkubelet.liqo.io/destination\":\"" FOREIGN_ID "\""
#define HOME_ANN   "\"liqolet.io/home-uid\":\"" HOME_UID "\""
#define SVC_HEAD   "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"" REMOTE_NS "\""
#define ING_HEAD   "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"namespace\":\"" REMOTE_NS "\""
#define BARE_META  ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}"

/* p->kind is ignored by these forges: a Secret kind proves it. */
static const lq_forge_conf_params_t P = {LQ_FORGE_CONF_SECRET, "web", REMOTE_NS, HOME_ID, FOREIGN_ID, HOME_UID, NULL};

typedef lq_err_t build_fn(lq_json_doc_t *, const lq_forge_conf_params_t *, const char *, size_t, char *,
                          size_t, size_t *, lq_forge_conf_facts_t *, uint64_t *);

/* ---- helpers ------------------------------------------------------------------------- */

#define ARENA_CAP (256u * 1024u)
#define OUT_CAP   (64u * 1024u)
static _Alignas(16) unsigned char g_arena[ARENA_CAP];
static lq_json_doc_t g_doc;
static char g_in[16 * 1024];
static char g_want[16 * 1024];
static char g_text[8 * 1024];
static char g_out[OUT_CAP];

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}
#define FNV0 14695981039346656037ull

/* Single quotes to double quotes (into a static buffer). */
static const char *Q(const char *s)
{
    size_t n = strlen(s);
    assert_true(n < sizeof g_text);
    for (size_t i = 0; i <= n; i++)
        g_text[i] = s[i] == '\'' ? '"' : s[i];
    return g_text;
}

typedef struct run {
    lq_err_t err;
    size_t len;
    uint64_t hash;
    lq_forge_conf_facts_t facts;
} run_t;

/* One build into g_out (OUT_CAP) with a fresh arena of ARENA_CAP. Checks, on LQ_OK, that the
 * output is NUL-terminated, parses, and that without a remote uid the hash is FNV-1a of it. */
static run_t run(build_fn *fn, const lq_forge_conf_params_t *p, const char *in, size_t n)
{
    run_t r;
    memset(&r, 0, sizeof r);
    memset(&r.facts, 0x5a, sizeof r.facts);
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    r.err = fn(&g_doc, p, in, n, g_out, sizeof g_out, &r.len, &r.facts, &r.hash);
    if (r.err != LQ_OK)
        return r;
    assert_int_equal(g_out[r.len], '\0');
    assert_int_equal(strlen(g_out), r.len);
    if (!p->remote_uid || !p->remote_uid[0])
        assert_true(r.hash == fnv(FNV0, g_out, r.len));
    static _Alignas(16) unsigned char arena[ARENA_CAP];
    lq_json_doc_t d;
    lq_json_doc_init(&d, arena, sizeof arena);
    lq_json_t *root = NULL;
    if (lq_json_parse(&d, g_out, r.len, &root) != LQ_OK)
        fail_msg("output is not JSON: %s", g_out);
    assert_int_equal(lq_json_type(root), LQ_JSON_OBJECT);
    assert_true(lq_json_str_is(LQ_JSON_AT(root, "metadata", "name"), p->remote_name));
    assert_true(lq_json_str_is(LQ_JSON_AT(root, "metadata", "namespace"), p->remote_ns));
    return r;
}

/* An inline input (single quotes) and its expected body (double quotes). */
static run_t expect(build_fn *fn, const lq_forge_conf_params_t *p, const char *in_sq, const char *want)
{
    const char *in = Q(in_sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    run_t r = run(fn, p, g_in, n);
    if (r.err != LQ_OK)
        fail_msg("%s on %s", lq_err_name(r.err), g_in);
    if (r.len != strlen(want) || memcmp(g_out, want, r.len) != 0)
        fail_msg("differs\n got: %s\nwant: %s", g_out, want);
    return r;
}

/* An inline input (single quotes), run. */
static run_t run_q(build_fn *fn, const lq_forge_conf_params_t *p, const char *in_sq)
{
    const char *in = Q(in_sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    return run(fn, p, g_in, n);
}

static lq_err_t err_of(build_fn *fn, const char *in_sq)
{
    const char *in = Q(in_sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    return run(fn, &P, g_in, n).err;
}

static size_t read_vec(const char *file, char *buf, size_t cap)
{
    size_t n = lq_vec_read("svc", file, buf, cap);
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return n;
}

/* A golden pair: <name>.json -> <name>.out.json. */
static run_t golden(build_fn *fn, const char *remote_name, const char *name)
{
    char file[128];
    lq_forge_conf_params_t p = P;
    p.remote_name = remote_name;
    snprintf(file, sizeof file, "%s.json", name);
    size_t n = read_vec(file, g_in, sizeof g_in);
    run_t r = run(fn, &p, g_in, n);
    if (r.err != LQ_OK)
        fail_msg("%s: %s", file, lq_err_name(r.err));
    /* the v1 label family has goldens of its own: <name>.v1.out.json */
    snprintf(file, sizeof file, "%s%s.out.json", name,
             strcmp(lq_liqo_names()->compat, "v1") == 0 ? ".v1" : "");
    if (lq_vec_updating()) {
        lq_vec_write("svc", file, g_out, r.len);
        return r;
    }
    size_t m = read_vec(file, g_want, sizeof g_want);
    if (m != r.len || memcmp(g_want, g_out, m) != 0)
        fail_msg("%s differs\n got: %s\nwant: %s", file, g_out, g_want);
    return r;
}

/* ---- goldens ------------------------------------------------------------------------- */

static void test_golden_services(void **state)
{
    (void)state;
    /* dual-stack and other non-copied fields dropped, ownership labels and home-uid
     * replaced, nodePort 0 on every port, named targetPort */
    run_t r = golden(lq_forge_svc_build, "web", "svc-clusterip");
    assert_string_equal(r.facts.uid, "0b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4");
    assert_string_equal(r.facts.rv, "9120");
    assert_string_equal(r.facts.type, "");
    assert_false(r.facts.type_long || r.facts.skip || r.facts.allow || r.facts.deleting);
    r = golden(lq_forge_svc_build, "db", "svc-headless");
    assert_string_equal(r.facts.rv, "9188");
    r = golden(lq_forge_svc_build, "front", "svc-nodeport");
    uint64_t h = r.hash;
    r = golden(lq_forge_svc_build, "front", "svc-nodeport-force");
    assert_true(r.hash != h);
    /* "True" is not "true": nodePort left out */
    golden(lq_forge_svc_build, "edge", "svc-loadbalancer");
    golden(lq_forge_svc_build, "payments", "svc-externalname");
}

static void test_golden_ingress(void **state)
{
    (void)state;
    run_t r = golden(lq_forge_ingress_build, "shop", "ingress-tls");
    assert_string_equal(r.facts.uid, "5acd6172-8e9f-4a01-b2c3-c4d5e6f70819");
    assert_string_equal(r.facts.rv, "9610");
    /* the Service forge refuses an Ingress and the other way round */
    size_t n = read_vec("ingress-tls.json", g_in, sizeof g_in);
    assert_int_equal(run(lq_forge_svc_build, &P, g_in, n).err, LQ_EPROTO);
    n = read_vec("svc-clusterip.json", g_in, sizeof g_in);
    assert_int_equal(run(lq_forge_ingress_build, &P, g_in, n).err, LQ_EPROTO);
}

/* ---- focused cases ------------------------------------------------------------------- */

static void test_node_port_rule(void **state)
{
    (void)state;
    /* absent, null and 0 -> 0; a value is left out unless forced */
    expect(lq_forge_svc_build, &P,
           "{'spec':{'type':'NodePort','ports':[{'port':1},{'port':2,'nodePort':null},"
           "{'port':3,'nodePort':0},{'port':4,'nodePort':30004}]}}",
           SVC_HEAD BARE_META ",\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1,\"nodePort\":0},"
           "{\"port\":2,\"nodePort\":0},{\"port\":3,\"nodePort\":0},{\"port\":4}]}}");
    expect(lq_forge_svc_build, &P,
           "{'metadata':{'annotations':{'liqo.io/force-remote-node-port':'true'}},"
           "'spec':{'type':'NodePort','ports':[{'port':1},{'port':4,'nodePort':30004}]}}",
           SVC_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{\"liqo.io/force-remote-node-port\":"
           "\"true\"," HOME_ANN "}},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1,\"nodePort\":0},"
           "{\"port\":4,\"nodePort\":30004}]}}");
    /* only exactly "true"; the last duplicate counts */
    static const char *const no[] = {"false", "TRUE", "true ", "", "1", "yes"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{'metadata':{'annotations':{'liqo.io/force-remote-node-port':'%s'}},"
                 "'spec':{'ports':[{'port':4,'nodePort':30004}]}}", no[i]);
        run_t r = run_q(lq_forge_svc_build, &P, in);
        assert_int_equal(r.err, LQ_OK);
        assert_null(strstr(g_out, "nodePort"));
    }
    const char *in = Q("{'metadata':{'annotations':{'liqo.io/force-remote-node-port':'false',"
                       "'liqo.io/force-remote-node-port':'true'}},'spec':{'ports':[{'port':4,'nodePort':30004}]}}");
    assert_int_equal(run(lq_forge_svc_build, &P, in, strlen(in)).err, LQ_OK);
    assert_non_null(strstr(g_out, "\"nodePort\":30004"));
}

static void test_spec_fields(void **state)
{
    (void)state;
    /* member order of the input does not matter: the spec is written in a fixed order;
     * numbers are normalised; targetPort by name or number; clusterIP only when None */
    const char *want = SVC_HEAD BARE_META ",\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"None\","
                       "\"selector\":{\"a\":\"b\"},\"ports\":[{\"name\":\"x\",\"protocol\":\"SCTP\","
                       "\"appProtocol\":\"kubernetes.io/h2c\",\"port\":1000,\"targetPort\":\"web\","
                       "\"nodePort\":0},{\"port\":65535,\"targetPort\":0,\"nodePort\":0}]}}";
    run_t a = expect(lq_forge_svc_build, &P,
                     "{'spec':{'type':'ClusterIP','clusterIP':'None','selector':{'a':'b'},'ports':[{'name':'x',"
                     "'protocol':'SCTP','appProtocol':'kubernetes.io/h2c','port':1000,'targetPort':'web'},"
                     "{'port':65535,'targetPort':0}]}}", want);
    run_t b = expect(lq_forge_svc_build, &P,
                     "{'spec':{'ports':[{'targetPort':'web','port':1e3,'appProtocol':'kubernetes.io/h2c',"
                     "'protocol':'SCTP','name':'x','bogus':1},{'targetPort':0,'port':65535.0}],"
                     "'selector':{'a':'b'},'clusterIPs':['None'],'clusterIP':'None','type':'ClusterIP',"
                     "'unknown':{'x':[1]}},'status':{'x':1}}", want);
    assert_true(a.hash == b.hash);
    /* clusterIP other than None is dropped; null members are absent; spec absent or null */
    expect(lq_forge_svc_build, &P,
           "{'spec':{'clusterIP':'10.0.0.1','type':null,'selector':null,'ports':null,'externalName':null}}",
           SVC_HEAD BARE_META ",\"spec\":{}}");
    expect(lq_forge_svc_build, &P, "{}", SVC_HEAD BARE_META ",\"spec\":{}}");
    expect(lq_forge_svc_build, &P, "{'spec':null,'metadata':null,'kind':null}", SVC_HEAD BARE_META ",\"spec\":{}}");
    expect(lq_forge_svc_build, &P, "{'spec':{'ports':[]}}", SVC_HEAD BARE_META ",\"spec\":{\"ports\":[]}}");
    /* every copied member, in the documented order */
    expect(lq_forge_svc_build, &P,
           "{'spec':{'publishNotReadyAddresses':true,'loadBalancerSourceRanges':['10.0.0.0/8'],"
           "'loadBalancerClass':'c','allocateLoadBalancerNodePorts':false,'ipFamilyPolicy':'RequireDualStack',"
           "'internalTrafficPolicy':'Local','externalTrafficPolicy':'Local','sessionAffinity':'ClientIP',"
           "'externalName':'e.example','type':'LoadBalancer','loadBalancerIP':'1.2.3.4','externalIPs':['1.1.1.1'],"
           "'healthCheckNodePort':30000,'sessionAffinityConfig':{},'ipFamilies':['IPv6'],'trafficDistribution':'x'}}",
           SVC_HEAD BARE_META ",\"spec\":{\"type\":\"LoadBalancer\",\"externalName\":\"e.example\","
           "\"sessionAffinity\":\"ClientIP\",\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":\"Local\","
           "\"ipFamilyPolicy\":\"RequireDualStack\",\"allocateLoadBalancerNodePorts\":false,"
           "\"loadBalancerClass\":\"c\",\"loadBalancerSourceRanges\":[\"10.0.0.0/8\"],"
           "\"publishNotReadyAddresses\":true}}");
}

static void test_metadata(void **state)
{
    (void)state;
    /* ownership labels and the home-uid annotation of the input replaced by ours, order
     * kept, every other metadata member dropped */
    expect(lq_forge_svc_build, &P,
           "{'metadata':{'name':'other','namespace':'home','generateName':'x','finalizers':['f'],"
           "'ownerReferences':[{}],'labels':{'z':'1','virtualkubelet.liqo.io/destination':'d','a':'2',"
           "'virtualkubelet.liqo.io/origin':'o'},'annotations':{'liqolet.io/home-uid':'forged','b':'',"
           "'kubernetes.io/ingress.class':'nginx'}}}",
           SVC_HEAD ",\"labels\":{\"z\":\"1\",\"a\":\"2\"," OWN_LABELS "},\"annotations\":{\"b\":\"\","
           "\"kubernetes.io/ingress.class\":\"nginx\"," HOME_ANN "}},\"spec\":{}}");
    /* the Ingress forge drops the class annotation and ingressClassName, keeps the rest */
    expect(lq_forge_ingress_build, &P,
           "{'metadata':{'annotations':{'kubernetes.io/ingress.class':'nginx','b':'x'}},"
           "'spec':{'ingressClassName':'nginx'},'status':{}}",
           ING_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{\"b\":\"x\"," HOME_ANN "}},\"spec\":{}}");
    /* parameters are escaped */
    lq_forge_conf_params_t p = P;
    p.remote_name = "we\"b";
    p.home_id = "h\\i\n";
    run_t r = run(lq_forge_svc_build, &p, "{}", 2);
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, "\"name\":\"we\\\"b\""));
    assert_non_null(strstr(g_out, "\"virtualkubelet.liqo.io/origin\":\"h\\\\i\\n\""));
}

/* compat v1: the other label family (include/liqolet/liqo.h) */
#define V1_OWN_LABELS "\"offloading.liqo.io/origin\":\"" HOME_ID "\",\"offloading.liqo.io/destination\":\"" FOREIGN_ID "\""

static int back_to_v08(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    return 0;
}

static void test_v1_names(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    run_t r = golden(lq_forge_svc_build, "web", "svc-clusterip");
    assert_null(strstr(g_out, "virtualkubelet.liqo.io"));
    assert_non_null(strstr(g_out, V1_OWN_LABELS "}"));
    r = golden(lq_forge_ingress_build, "shop", "ingress-tls");
    assert_null(strstr(g_out, "virtualkubelet.liqo.io"));
    /* ownership labels of both families (and a nodename) in the home object: dropped */
    static const char in[] =
        "{'metadata':{'labels':{'z':'1','virtualkubelet.liqo.io/destination':'d','a':'2',"
        "'virtualkubelet.liqo.io/origin':'o','offloading.liqo.io/origin':'o',"
        "'offloading.liqo.io/destination':'d','offloading.liqo.io/nodename':'n'}}}";
    expect(lq_forge_svc_build, &P, in,
           SVC_HEAD ",\"labels\":{\"z\":\"1\",\"a\":\"2\"," V1_OWN_LABELS "},\"annotations\":{"
           HOME_ANN "}},\"spec\":{}}");
    uint64_t h1 = r.hash;
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    expect(lq_forge_svc_build, &P, in,
           SVC_HEAD ",\"labels\":{\"z\":\"1\",\"a\":\"2\"," OWN_LABELS "},\"annotations\":{"
           HOME_ANN "}},\"spec\":{}}");
    r = golden(lq_forge_ingress_build, "shop", "ingress-tls");
    assert_true(r.hash != h1); /* the family is part of the intent */
}

static void test_ingress_backends(void **state)
{
    (void)state;
    /* unknown members dropped at every level; empty objects kept */
    expect(lq_forge_ingress_build, &P,
           "{'kind':'Ingress','spec':{'tls':[{'secretName':'s','x':1},{}],'rules':[{'http':{'paths':[{'backend':"
           "{'resource':{'kind':'K','name':'n','x':1}},'pathType':'Exact','path':'/a','x':2}],'x':3},'host':'h',"
           "'x':4},{}],'defaultBackend':{'service':{'port':{'number':8080,'name':null},'name':'svc','x':5},'x':6},"
           "'x':7}}",
           ING_HEAD BARE_META ",\"spec\":{\"defaultBackend\":{\"service\":{\"name\":\"svc\",\"port\":{\"number\":8080}}},"
           "\"rules\":[{\"host\":\"h\",\"http\":{\"paths\":[{\"path\":\"/a\",\"pathType\":\"Exact\",\"backend\":"
           "{\"resource\":{\"kind\":\"K\",\"name\":\"n\"}}}]}},{}],\"tls\":[{\"secretName\":\"s\"},{}]}}");
}

static void test_remote_uid_precondition(void **state)
{
    (void)state;
    static char without[OUT_CAP];
    size_t n = read_vec("svc-clusterip.json", g_in, sizeof g_in);
    run_t a = run(lq_forge_svc_build, &P, g_in, n);
    assert_int_equal(a.err, LQ_OK);
    memcpy(without, g_out, a.len + 1);
    lq_forge_conf_params_t p = P;
    p.remote_uid = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
    run_t b = run(lq_forge_svc_build, &p, g_in, n);
    assert_int_equal(b.err, LQ_OK);
    /* the same body with the uid member after the namespace, and the same hash */
    const char *ins = ",\"uid\":\"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a\"";
    size_t at = strlen(SVC_HEAD);
    assert_int_equal(b.len, a.len + strlen(ins));
    assert_memory_equal(g_out, without, at);
    assert_memory_equal(g_out + at, ins, strlen(ins));
    assert_string_equal(g_out + at + strlen(ins), without + at);
    assert_true(b.hash == a.hash);
    assert_true(b.hash != fnv(FNV0, g_out, b.len));
    /* a uid that needs escaping, and a label named uid later on */
    p.remote_uid = "u\"i\\d";
    const char *in = Q("{'metadata':{'labels':{'a':'1','uid':'x'}},'spec':{'type':'ClusterIP'}}");
    size_t m = strlen(in);
    memcpy(g_in, in, m + 1);
    a = run(lq_forge_ingress_build, &P, g_in, m);
    assert_int_equal(a.err, LQ_OK);
    b = run(lq_forge_ingress_build, &p, g_in, m);
    assert_int_equal(b.err, LQ_OK);
    assert_non_null(strstr(g_out, ING_HEAD ",\"uid\":\"u\\\"i\\\\d\",\"labels\":{\"a\":\"1\",\"uid\":\"x\""));
    assert_true(a.hash == b.hash);
    /* an empty remote_uid is none */
    p.remote_uid = "";
    b = run(lq_forge_ingress_build, &p, g_in, m);
    assert_true(b.hash == a.hash);
    assert_null(strstr(g_out, "u\\\"i"));
    assert_non_null(strstr(g_out, ING_HEAD ",\"labels\":{\"a\":\"1\",\"uid\":\"x\""));
}

static void test_facts(void **state)
{
    (void)state;
    run_t r = run_q(lq_forge_svc_build, &P, "{'metadata':{'uid':'u1','resourceVersion':'7','deletionTimestamp':"
                                          "'2026-05-01T10:00:00Z','annotations':{'liqo.io/skip-reflection':'false',"
                                          "'liqo.io/allow-reflection':''}}}");
    assert_int_equal(r.err, LQ_OK);
    assert_string_equal(r.facts.uid, "u1");
    assert_string_equal(r.facts.rv, "7");
    assert_string_equal(r.facts.type, "");
    assert_false(r.facts.type_long);
    assert_true(r.facts.deleting && r.facts.skip && r.facts.skip_false && r.facts.allow && !r.facts.allow_false);
    assert_true(lq_forge_conf_wanted(&r.facts, LQ_FORGE_CONF_DENYLIST));
    assert_true(lq_forge_conf_wanted(&r.facts, LQ_FORGE_CONF_ALLOWLIST));
    /* the skip/allow annotations are copied (they are not ours); the last duplicate counts */
    assert_non_null(strstr(g_out, "\"liqo.io/skip-reflection\":\"false\""));
    r = run_q(lq_forge_ingress_build, &P, "{'metadata':{'deletionTimestamp':null,'uid':null,'annotations':{"
                                        "'liqo.io/skip-reflection':'false','liqo.io/skip-reflection':'x',"
                                        "'liqo.io/allow-reflection':'false'}}}");
    assert_int_equal(r.err, LQ_OK);
    assert_string_equal(r.facts.uid, "");
    assert_string_equal(r.facts.rv, "");
    assert_true(!r.facts.deleting && r.facts.skip && !r.facts.skip_false && r.facts.allow && r.facts.allow_false);
    assert_false(lq_forge_conf_wanted(&r.facts, LQ_FORGE_CONF_DENYLIST));
    assert_false(lq_forge_conf_wanted(&r.facts, LQ_FORGE_CONF_ALLOWLIST));
    /* facts and hash may be NULL */
    size_t len = 0;
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    assert_int_equal(lq_forge_svc_build(&g_doc, &P, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_OK);
    assert_int_equal(len, strlen(SVC_HEAD BARE_META ",\"spec\":{}}"));
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad_svc[] = {
        "", " ", "[]", "'x'", "1", "null", "{", "{}x", "{'a':1,}", "{'a':'\\u0000'}",
        "{'kind':'Ingress'}", "{'kind':1}", "{'kind':'service'}",
        "{'metadata':[]}", "{'metadata':'x'}", "{'metadata':{'labels':[]}}", "{'metadata':{'annotations':1}}",
        "{'metadata':{'labels':{'a':1}}}", "{'metadata':{'labels':{'a':null}}}",
        "{'metadata':{'annotations':{'a':{}}}}", "{'metadata':{'annotations':{'liqo.io/force-remote-node-port':true}}}",
        "{'metadata':{'uid':5}}", "{'metadata':{'resourceVersion':{}}}",
        "{'spec':[]}", "{'spec':'x'}", "{'spec':{'type':1}}", "{'spec':{'clusterIP':false}}",
        "{'spec':{'selector':[]}}", "{'spec':{'selector':{'a':1}}}", "{'spec':{'ports':{}}}",
        "{'spec':{'ports':[1]}}", "{'spec':{'ports':[null]}}", "{'spec':{'ports':[{'port':'80'}]}}",
        "{'spec':{'ports':[{'port':-1}]}}", "{'spec':{'ports':[{'port':65536}]}}", "{'spec':{'ports':[{'port':1.5}]}}",
        "{'spec':{'ports':[{'targetPort':true}]}}", "{'spec':{'ports':[{'targetPort':70000}]}}",
        "{'spec':{'ports':[{'nodePort':'30000'}]}}", "{'spec':{'ports':[{'nodePort':-5}]}}",
        "{'spec':{'ports':[{'name':1}]}}", "{'spec':{'ports':[{'protocol':[]}]}}", "{'spec':{'ports':[{'appProtocol':0}]}}",
        "{'spec':{'externalName':1}}", "{'spec':{'sessionAffinity':{}}}", "{'spec':{'externalTrafficPolicy':1}}",
        "{'spec':{'internalTrafficPolicy':1}}", "{'spec':{'ipFamilyPolicy':1}}",
        "{'spec':{'allocateLoadBalancerNodePorts':'true'}}", "{'spec':{'loadBalancerClass':1}}",
        "{'spec':{'loadBalancerSourceRanges':'x'}}", "{'spec':{'loadBalancerSourceRanges':[1]}}",
        "{'spec':{'publishNotReadyAddresses':1}}",
    };
    for (size_t i = 0; i < sizeof bad_svc / sizeof bad_svc[0]; i++) {
        lq_err_t e = err_of(lq_forge_svc_build, bad_svc[i]);
        if (e != LQ_EPROTO)
            fail_msg("service: %s: %s", lq_err_name(e), g_in);
    }
    static const char *const bad_ing[] = {
        "[]", "{'kind':'Service'}", "{'spec':1}", "{'metadata':{'labels':{'a':[]}}}",
        "{'spec':{'defaultBackend':[]}}", "{'spec':{'defaultBackend':{'service':'x'}}}",
        "{'spec':{'defaultBackend':{'service':{'name':1}}}}", "{'spec':{'defaultBackend':{'service':{'port':1}}}}",
        "{'spec':{'defaultBackend':{'service':{'port':{'number':'80'}}}}}",
        "{'spec':{'defaultBackend':{'service':{'port':{'number':70000}}}}}",
        "{'spec':{'defaultBackend':{'service':{'port':{'name':2}}}}}",
        "{'spec':{'defaultBackend':{'resource':[]}}}", "{'spec':{'defaultBackend':{'resource':{'apiGroup':1}}}}",
        "{'spec':{'rules':{}}}", "{'spec':{'rules':['x']}}", "{'spec':{'rules':[{'host':1}]}}",
        "{'spec':{'rules':[{'http':[]}]}}", "{'spec':{'rules':[{'http':{'paths':{}}}]}}",
        "{'spec':{'rules':[{'http':{'paths':[1]}}]}}", "{'spec':{'rules':[{'http':{'paths':[{'path':1}]}}]}}",
        "{'spec':{'rules':[{'http':{'paths':[{'pathType':1}]}}]}}",
        "{'spec':{'rules':[{'http':{'paths':[{'backend':{'service':{'port':{'number':1.5}}}}]}}]}}",
        "{'spec':{'tls':{}}}", "{'spec':{'tls':[[]]}}", "{'spec':{'tls':[{'hosts':'h'}]}}",
        "{'spec':{'tls':[{'hosts':[1]}]}}", "{'spec':{'tls':[{'secretName':{}}]}}",
    };
    for (size_t i = 0; i < sizeof bad_ing / sizeof bad_ing[0]; i++) {
        lq_err_t e = err_of(lq_forge_ingress_build, bad_ing[i]);
        if (e != LQ_EPROTO)
            fail_msg("ingress: %s: %s", lq_err_name(e), g_in);
    }
    /* members that are not copied are not checked */
    assert_int_equal(err_of(lq_forge_svc_build, "{'spec':{'clusterIPs':1,'externalIPs':{},'ipFamilies':2},'status':[]}"), LQ_OK);
    assert_int_equal(err_of(lq_forge_ingress_build, "{'spec':{'ingressClassName':5},'status':1}"), LQ_OK);
    /* uid / resourceVersion over their buffers */
    char buf[256];
    snprintf(buf, sizeof buf, "{\"metadata\":{\"uid\":\"%063d\"}}", 1);
    assert_int_equal(run(lq_forge_svc_build, &P, buf, strlen(buf)).err, LQ_OK);
    snprintf(buf, sizeof buf, "{\"metadata\":{\"uid\":\"%064d\"}}", 1);
    assert_int_equal(run(lq_forge_svc_build, &P, buf, strlen(buf)).err, LQ_EPROTO);
    snprintf(buf, sizeof buf, "{\"metadata\":{\"resourceVersion\":\"%032d\"}}", 1);
    assert_int_equal(run(lq_forge_ingress_build, &P, buf, strlen(buf)).err, LQ_EPROTO);
    /* every truncation of a valid object */
    size_t n = read_vec("ingress-tls.json", g_in, sizeof g_in);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(run(lq_forge_ingress_build, &P, g_in, cut).err, LQ_EPROTO);
}

static void test_params(void **state)
{
    (void)state;
    build_fn *fns[] = {lq_forge_svc_build, lq_forge_ingress_build};
    for (size_t k = 0; k < 2; k++) {
        build_fn *fn = fns[k];
        size_t len = 0;
        lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
        assert_int_equal(fn(NULL, &P, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
        assert_int_equal(fn(&g_doc, NULL, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
        assert_int_equal(fn(&g_doc, &P, "{}", 2, g_out, OUT_CAP, NULL, NULL, NULL), LQ_EINVAL);
        assert_int_equal(fn(&g_doc, &P, NULL, 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
        assert_int_equal(fn(&g_doc, &P, "{}", 2, NULL, 5, &len, NULL, NULL), LQ_EINVAL);
        assert_int_equal(fn(&g_doc, &P, NULL, 0, g_out, OUT_CAP, &len, NULL, NULL), LQ_EPROTO);
        assert_int_equal(fn(&g_doc, &P, "{}", 2, NULL, 0, &len, NULL, NULL), LQ_ETOOBIG);
        for (int f = 0; f < 5; f++) {
            for (int v = 0; v < 2; v++) {
                lq_forge_conf_params_t p = P;
                const char **s = f == 0 ? &p.remote_name : f == 1 ? &p.remote_ns : f == 2 ? &p.home_id
                               : f == 3 ? &p.foreign_id : &p.home_uid;
                *s = v ? "" : NULL;
                assert_int_equal(fn(&g_doc, &p, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
            }
        }
        lq_forge_conf_params_t p = P;
        char uid[LQ_FORGE_CONF_UID_BUF + 1];
        memset(uid, 'u', sizeof uid);
        uid[LQ_FORGE_CONF_UID_BUF] = '\0';
        p.remote_uid = uid;
        assert_int_equal(fn(&g_doc, &p, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
        uid[LQ_FORGE_CONF_UID_BUF - 1] = '\0';
        assert_int_equal(fn(&g_doc, &p, "{}", 2, g_out, OUT_CAP, &len, NULL, NULL), LQ_OK);
    }
}

/* Every output capacity below the body's length + 2 is LQ_ETOOBIG (out ""), and every
 * arena smaller than what the build needs; nothing is written past cap. */
static void test_too_big(void **state)
{
    (void)state;
    static const struct {
        build_fn *fn;
        const char *file;
    } cases[] = {{lq_forge_svc_build, "svc-loadbalancer.json"}, {lq_forge_ingress_build, "ingress-tls.json"}};
    static char out[OUT_CAP + 16];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = read_vec(cases[c].file, g_in, sizeof g_in);
        run_t ok = run(cases[c].fn, &P, g_in, n);
        assert_int_equal(ok.err, LQ_OK);
        size_t need = ok.len + 2u;
        size_t peak = lq_json_peak(&g_doc);
        for (size_t cap = 0; cap <= need + 4; cap++) {
            size_t len = 12345;
            uint64_t h = 7;
            memset(out, '#', sizeof out);
            lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
            lq_err_t e = cases[c].fn(&g_doc, &P, g_in, n, out, cap, &len, NULL, &h);
            for (size_t i = cap; i < sizeof out; i++)
                if (out[i] != '#')
                    fail_msg("cap %zu: byte %zu written", cap, i);
            if (cap < need) {
                assert_int_equal(e, LQ_ETOOBIG);
                assert_int_equal(len, 12345);
                assert_true(h == 7);
                if (cap > 0)
                    assert_int_equal(out[0], '\0');
            } else {
                assert_int_equal(e, LQ_OK);
                assert_int_equal(len, ok.len);
                assert_true(h == ok.hash);
                assert_memory_equal(out, g_out, ok.len + 1);
            }
        }
        /* the arena: every size below the peak fails with LQ_ETOOBIG, the peak suffices */
        static _Alignas(16) unsigned char arena[ARENA_CAP];
        for (size_t a = 0; a <= peak; a++) {
            size_t len = 0;
            lq_json_doc_init(&g_doc, arena, a);
            lq_err_t e = cases[c].fn(&g_doc, &P, g_in, n, out, OUT_CAP, &len, NULL, NULL);
            if (a < peak && e != LQ_ETOOBIG)
                fail_msg("%s arena %zu of %zu: %s", cases[c].file, a, peak, lq_err_name(e));
            if (a == peak) {
                assert_int_equal(e, LQ_OK);
                assert_memory_equal(out, g_out, ok.len + 1);
            }
        }
    }
}

static void test_hash(void **state)
{
    (void)state;
    size_t n = read_vec("svc-nodeport.json", g_in, sizeof g_in);
    run_t a = run(lq_forge_svc_build, &P, g_in, n);
    /* the doc is reset at entry: a second build in the used doc gives the same */
    size_t len = 0;
    uint64_t h = 0;
    assert_int_equal(lq_forge_svc_build(&g_doc, &P, g_in, n, g_out, OUT_CAP, &len, NULL, &h), LQ_OK);
    assert_true(h == a.hash && len == a.len);
    /* whitespace and input member order around copied fields change nothing */
    run_t b = run_q(lq_forge_svc_build, &P, " { 'spec' : { 'type':'NodePort' , 'ports':[ { 'port' : 8 } ] } ,"
                                          " 'metadata':{'uid':'x'} } ");
    run_t c = run_q(lq_forge_svc_build, &P, "{'metadata':{'uid':'y','resourceVersion':'9'},"
                                            "'spec':{'ports':[{'port':8}],'type':'NodePort','clusterIP':'1.2.3.4'}}");
    assert_true(b.hash == c.hash && b.len == c.len);
    /* a changed label, annotation, port, name, home uid or kind changes it */
    uint64_t seen[8];
    size_t k = 0;
    seen[k++] = b.hash;
    seen[k++] = run_q(lq_forge_svc_build, &P, "{'metadata':{'labels':{'a':'b'}},'spec':{'type':'NodePort','ports':[{'port':8}]}}").hash;
    seen[k++] = run_q(lq_forge_svc_build, &P, "{'metadata':{'annotations':{'a':'b'}},'spec':{'type':'NodePort','ports':[{'port':8}]}}").hash;
    seen[k++] = run_q(lq_forge_svc_build, &P, "{'spec':{'type':'NodePort','ports':[{'port':9}]}}").hash;
    lq_forge_conf_params_t p = P;
    p.remote_name = "web2";
    seen[k++] = run_q(lq_forge_svc_build, &p, "{'spec':{'type':'NodePort','ports':[{'port':8}]}}").hash;
    p = P;
    p.home_uid = "other";
    seen[k++] = run_q(lq_forge_svc_build, &p, "{'spec':{'type':'NodePort','ports':[{'port':8}]}}").hash;
    seen[k++] = run_q(lq_forge_ingress_build, &P, "{'spec':{'type':'NodePort','ports':[{'port':8}]}}").hash;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            if (seen[i] == seen[j])
                fail_msg("hashes %zu and %zu collide", i, j);
}

static void test_reflected(void **state)
{
    (void)state;
    assert_false(lq_forge_svc_reflected("default", "kubernetes"));
    assert_true(lq_forge_svc_reflected("default", "kubernetes2"));
    assert_true(lq_forge_svc_reflected("default", "kube"));
    assert_true(lq_forge_svc_reflected("shop", "kubernetes"));
    assert_true(lq_forge_svc_reflected("defaults", "kubernetes"));
    assert_true(lq_forge_svc_reflected("default", "web"));
    assert_false(lq_forge_svc_reflected(NULL, "kubernetes"));
    assert_false(lq_forge_svc_reflected("default", NULL));
}

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    size_t n = read_vec("svc-clusterip.json", g_in, sizeof g_in);
    static char in2[16 * 1024];
    size_t n2 = read_vec("ingress-tls.json", in2, sizeof in2);
    size_t l0 = 0, l1 = 0;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    lq_err_t e0 = lq_forge_svc_build(&g_doc, &P, g_in, n, g_out, OUT_CAP, &l0, NULL, NULL);
    lq_err_t e1 = lq_forge_ingress_build(&g_doc, &P, in2, n2, g_out, OUT_CAP, &l1, NULL, NULL);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(e0, LQ_OK);
    assert_int_equal(e1, LQ_OK);
    assert_true(l0 > 0 && l1 > 0);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_services),
        cmocka_unit_test(test_golden_ingress),
        cmocka_unit_test_teardown(test_v1_names, back_to_v08),
        cmocka_unit_test(test_node_port_rule),
        cmocka_unit_test(test_spec_fields),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_ingress_backends),
        cmocka_unit_test(test_remote_uid_precondition),
        cmocka_unit_test(test_facts),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_reflected),
        cmocka_unit_test(test_no_heap_after_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
