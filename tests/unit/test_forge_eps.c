/* Unit tests of src/forge/eps.c: the EndpointSlice forge. Goldens for mixed endpoints (on
 * the virtual node, on home nodes, nodeless; serving / terminating dropped; ready unset,
 * true and false), IPv4 and IPv6 slices, ports with and without names and appProtocol,
 * managed-by overwritten, ownership labels and home-uid replaced, the home cluster not
 * ready, targetRef kinds, a slice whose endpoints all drop; the uid precondition outside
 * the hash; facts; the wanted() truth table with the Service's decision inherited;
 * malformed input; LQ_ETOOBIG for every too small output buffer and arena; determinism;
 * invalid arguments; no heap use after the pool seal.
 *
 * Vectors and goldens live in tests/vectors/forge/eps/ (<name>.json is the home slice as
 * kube-apiserver returns it, compact; <name>.out.json the expected body, byte for byte,
 * written by hand). LQ_UPDATE_GOLDEN=1 rewrites the goldens from the code: review every
 * rewritten file against liqo-v0.8-behaviour.md §1.9 before keeping it.
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

#include "liqolet/forge_eps.h"
#include "liqolet/liqo.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "lq_vectors.h"

#define HOME_ID    "5a1c2e3f-0b1d-4c2e-9f3a-7b6c5d4e3f21"
#define FOREIGN_ID "c0ffee00-1234-4abc-8def-0123456789ab"
#define HOME_UID   "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
#define REMOTE_NS  "shop-home-5a1c2e"
#define VNODE      "liqo-foreign"
#define HOME_NAME  "home-cluster"
#define REMOTE_UID "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"

#define OUT_CAP (64u * 1024u)

static _Alignas(16) unsigned char g_arena[1u << 20];
static lq_json_doc_t g_doc;
static char g_in[64 * 1024];
static char g_out[OUT_CAP];
static char g_out2[OUT_CAP];
static char g_want[OUT_CAP];
static char g_q[16 * 1024];

static const lq_forge_eps_params_t P = {
    {LQ_FORGE_CONF_CONFIGMAP, "web-x7k2p", REMOTE_NS, HOME_ID, FOREIGN_ID, HOME_UID, NULL},
    VNODE, HOME_NAME, true};

static int setup(void **state)
{
    (void)state;
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    return 0;
}

static const char *Q(const char *s)
{
    size_t n = strlen(s);
    assert_true(n < sizeof g_q);
    for (size_t i = 0; i <= n; i++)
        g_q[i] = s[i] == '\'' ? '"' : s[i];
    return g_q;
}

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

typedef struct run {
    lq_err_t err;
    size_t len;
    uint64_t hash;
    lq_forge_eps_facts_t facts;
} run_t;

static run_t build(const lq_forge_eps_params_t *p, const char *in, size_t n, char *out)
{
    run_t r;
    memset(&r, 0, sizeof r);
    r.err = lq_forge_eps_build(&g_doc, p, in, n, out, OUT_CAP, &r.len, &r.facts, &r.hash);
    if (r.err == LQ_OK) {
        assert_int_equal(strlen(out), r.len);
        if (!p->base.remote_uid || !p->base.remote_uid[0])
            assert_true(r.hash == fnv(out, r.len));
    }
    return r;
}

/* The output parses as a JSON object; returns it (in a document of its own). */
static lq_json_t *parses(const char *p, size_t n)
{
    static _Alignas(16) unsigned char arena[256 * 1024];
    static lq_json_doc_t d;
    lq_json_doc_init(&d, arena, sizeof arena);
    lq_json_t *root = NULL;
    if (lq_json_parse(&d, p, n, &root) != LQ_OK)
        fail_msg("output is not JSON: %.*s", (int)n, p);
    assert_int_equal(lq_json_type(root), LQ_JSON_OBJECT);
    return root;
}

static size_t read_vec(const char *name, char *buf, size_t cap)
{
    size_t n = lq_vec_read("eps", name, buf, cap);
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return n;
}

/* A golden pair: <name>.json -> <out>.out.json. */
static run_t golden(const lq_forge_eps_params_t *p, const char *name, const char *out)
{
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    size_t n = read_vec(file, g_in, sizeof g_in);
    run_t r = build(p, g_in, n, g_out);
    if (r.err != LQ_OK)
        fail_msg("%s: %s", file, lq_err_name(r.err));
    parses(g_out, r.len);
    /* the v1 label family has goldens of its own: <out>.v1.out.json */
    snprintf(file, sizeof file, "%s%s.out.json", out,
             strcmp(lq_liqo_names()->compat, "v1") == 0 ? ".v1" : "");
    if (lq_vec_updating()) {
        lq_vec_write("eps", file, g_out, r.len);
        return r;
    }
    size_t m = read_vec(file, g_want, sizeof g_want);
    if (m != r.len || memcmp(g_want, g_out, m) != 0)
        fail_msg("%s differs\n got: %.*s\nwant: %.*s", file, (int)r.len, g_out, (int)m, g_want);
    return r;
}

/* Builds an inline slice (single quotes); returns the result, output in g_out. */
static run_t inline_build(const lq_forge_eps_params_t *p, const char *sq)
{
    const char *in = Q(sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    return build(p, g_in, n, g_out);
}

/* ---- goldens ------------------------------------------------------------------------- */

static void test_golden_mixed(void **state)
{
    (void)state;
    run_t r = golden(&P, "eps-mixed", "eps-mixed");
    assert_string_equal(r.facts.base.uid, HOME_UID);
    assert_string_equal(r.facts.base.rv, "48213");
    assert_string_equal(r.facts.service, "web");
    assert_false(r.facts.managed_by_us || r.facts.kubernetes_default);
    assert_false(r.facts.base.skip || r.facts.base.allow || r.facts.base.deleting);
    assert_int_equal(r.facts.endpoints_in, 5);
    assert_int_equal(r.facts.endpoints_out, 4);
    uint64_t ready_hash = r.hash;

    /* the home cluster is not reachable: every endpoint written not ready */
    lq_forge_eps_params_t p = P;
    p.home_ready = false;
    r = golden(&p, "eps-mixed", "eps-mixed-notready");
    assert_int_equal(r.facts.endpoints_out, 4);
    assert_true(r.hash != ready_hash);
}

static void test_golden_ipv6(void **state)
{
    (void)state;
    lq_forge_eps_params_t p = P;
    p.base.remote_name = "dns-v6-q9w8e";
    p.base.remote_ns = "infra-remote";
    p.base.home_uid = "11111111-2222-4333-8444-555555555555";
    run_t r = golden(&p, "eps-ipv6", "eps-ipv6");
    assert_string_equal(r.facts.service, "dns");
    assert_int_equal(r.facts.endpoints_in, 3);
    assert_int_equal(r.facts.endpoints_out, 2);
}

static void test_golden_all_remote(void **state)
{
    (void)state;
    lq_forge_eps_params_t p = P;
    p.base.remote_name = "batch-2kq";
    p.base.home_uid = "22222222-3333-4444-8555-666666666666";
    run_t r = golden(&p, "eps-all-remote", "eps-all-remote");
    assert_int_equal(r.facts.endpoints_in, 2);
    assert_int_equal(r.facts.endpoints_out, 0);
    /* no endpoints member at all: still an empty list */
    r = inline_build(&p, "{'metadata':{},'addressType':'FQDN','ports':[]}");
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, "\"addressType\":\"FQDN\",\"endpoints\":[],\"ports\":[]}"));
    assert_int_equal(r.facts.endpoints_in, 0);
}

/* ---- metadata ------------------------------------------------------------------------ */

static void test_remote_uid_precondition(void **state)
{
    (void)state;
    size_t n = read_vec("eps-mixed.json", g_in, sizeof g_in);
    run_t a = build(&P, g_in, n, g_out);
    assert_int_equal(a.err, LQ_OK);
    lq_forge_eps_params_t p = P;
    p.base.remote_uid = REMOTE_UID;
    run_t b = build(&p, g_in, n, g_out2);
    assert_int_equal(b.err, LQ_OK);
    /* same intent, same hash: the precondition is not content */
    assert_true(a.hash == b.hash);
    assert_true(b.hash == fnv(g_out, a.len));
    /* the body is the one without, plus "uid" at the end of metadata */
    const char *ins = ",\"uid\":\"" REMOTE_UID "\"";
    const char *cut = strstr(g_out, "},\"addressType\"");
    assert_non_null(cut);
    size_t head = (size_t)(cut - g_out);
    assert_int_equal(b.len, a.len + strlen(ins));
    assert_memory_equal(g_out2, g_out, head);
    assert_memory_equal(g_out2 + head, ins, strlen(ins));
    assert_string_equal(g_out2 + head + strlen(ins), g_out + head);
    lq_json_t *o = parses(g_out2, b.len);
    assert_true(lq_json_str_is(LQ_JSON_AT(o, "metadata", "uid"), REMOTE_UID));
    /* "" is no precondition */
    p.base.remote_uid = "";
    run_t c = build(&p, g_in, n, g_out2);
    assert_int_equal(c.len, a.len);
    assert_memory_equal(g_out2, g_out, a.len);
}

static void test_labels_annotations(void **state)
{
    (void)state;
    /* managed-by absent: ours added; repeated keys: first place, last value */
    run_t r = inline_build(&P, "{'metadata':{'labels':{'a':'1','b':'2','a':'3'},"
                               "'annotations':{'x':'1','liqolet.io/home-uid':'z','x':'2'}},"
                               "'addressType':'IPv4','endpoints':[]}");
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, Q("'labels':{'a':'3','b':'2',"
                                    "'endpointslice.kubernetes.io/managed-by':'endpointslice.reflection.liqolet.io',"
                                    "'virtualkubelet.liqo.io/origin':'" HOME_ID "',"
                                    "'virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},"
                                    "'annotations':{'x':'2','liqolet.io/home-uid':'" HOME_UID "'}}")));
    assert_string_equal(r.facts.service, "");
    assert_false(r.facts.managed_by_us);

    /* a slice we wrote, read back */
    r = inline_build(&P, "{'metadata':{'labels':{'endpointslice.kubernetes.io/managed-by':"
                         "'endpointslice.reflection.liqolet.io','kubernetes.io/service-name':'web'}},"
                         "'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    assert_true(r.facts.managed_by_us);
    assert_string_equal(r.facts.service, "web");
    /* Liqo's value is another one */
    r = inline_build(&P, "{'metadata':{'labels':{'endpointslice.kubernetes.io/managed-by':"
                         "'endpointslice.reflection.liqo.io'}},'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    assert_false(r.facts.managed_by_us);
    assert_null(strstr(g_out, "reflection.liqo.io"));

    /* no metadata, or null maps: only ours */
    r = inline_build(&P, "{'addressType':'IPv4','metadata':{'labels':null,'annotations':null}}");
    assert_int_equal(r.err, LQ_OK);
    r = inline_build(&P, "{'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    lq_json_t *o = parses(g_out, r.len);
    assert_int_equal(lq_json_size(LQ_JSON_AT(o, "metadata", "labels")), 3);
    assert_int_equal(lq_json_size(LQ_JSON_AT(o, "metadata", "annotations")), 1);
    assert_int_equal(lq_json_size(lq_json_get(o, "metadata")), 4);

    /* parameters are escaped */
    lq_forge_eps_params_t p = P;
    p.home_name = "home\"\\\n";
    r = inline_build(&p, "{'addressType':'IPv4','endpoints':[{'addresses':['1.2.3.4']}]}");
    assert_int_equal(r.err, LQ_OK);
    o = parses(g_out, r.len);
    assert_true(lq_json_str_is(LQ_JSON_AT(o, "endpoints", "0", "nodeName"), "home\"\\\n"));
}

/* compat v1: the other label family (include/liqolet/liqo.h) */
static lq_err_t gate(const lq_forge_eps_params_t *p, const char *in, size_t n, size_t *len,
                     uint64_t *hash);

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
    run_t r = golden(&P, "eps-mixed", "eps-mixed");
    assert_null(strstr(g_out, "virtualkubelet.liqo.io"));
    /* ownership labels of both families (and a nodename) in the home slice: dropped */
    static const char in[] =
        "{'metadata':{'labels':{'a':'1','virtualkubelet.liqo.io/origin':'o',"
        "'virtualkubelet.liqo.io/destination':'d','offloading.liqo.io/origin':'o',"
        "'offloading.liqo.io/destination':'d','offloading.liqo.io/nodename':'n'}},"
        "'addressType':'IPv4','endpoints':[]}";
    r = inline_build(&P, in);
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, Q("'labels':{'a':'1',"
                                    "'endpointslice.kubernetes.io/managed-by':'endpointslice.reflection.liqolet.io',"
                                    "'offloading.liqo.io/origin':'" HOME_ID "',"
                                    "'offloading.liqo.io/destination':'" FOREIGN_ID "'},")));
    /* the gate writes the family in use, whatever the stored copy has */
    size_t len = 0;
    uint64_t h = 0;
    const char *cp = Q("{'metadata':{'name':'x','labels':{'virtualkubelet.liqo.io/origin':'forged'}},"
                       "'addressType':'IPv4','endpoints':[]}");
    assert_int_equal(gate(&P, cp, strlen(cp), &len, &h), LQ_OK);
    assert_null(strstr(g_out2, "forged"));
    assert_null(strstr(g_out2, "virtualkubelet.liqo.io"));
    assert_non_null(strstr(g_out2, "\"offloading.liqo.io/origin\":\"" HOME_ID "\""));
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    r = inline_build(&P, in);
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, Q("'labels':{'a':'1',"
                                    "'endpointslice.kubernetes.io/managed-by':'endpointslice.reflection.liqolet.io',"
                                    "'virtualkubelet.liqo.io/origin':'" HOME_ID "',"
                                    "'virtualkubelet.liqo.io/destination':'" FOREIGN_ID "'},")));
}

static void test_facts(void **state)
{
    (void)state;
    run_t r = inline_build(&P, "{'metadata':{'name':'x','uid':'u-1','resourceVersion':'12',"
                               "'deletionTimestamp':'2026-12-04T10:00:00Z',"
                               "'annotations':{'liqo.io/skip-reflection':'','liqo.io/allow-reflection':'false'}},"
                               "'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    assert_string_equal(r.facts.base.uid, "u-1");
    assert_string_equal(r.facts.base.rv, "12");
    assert_true(r.facts.base.deleting);
    assert_true(r.facts.base.skip && !r.facts.base.skip_false);
    assert_true(r.facts.base.allow && r.facts.base.allow_false);
    assert_string_equal(r.facts.base.type, "");
    /* the last of a repeated annotation counts */
    r = inline_build(&P, "{'metadata':{'annotations':{'liqo.io/skip-reflection':'true',"
                         "'liqo.io/skip-reflection':'false'}},'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    assert_true(r.facts.base.skip && r.facts.base.skip_false);

    /* the API server's own slice, by name or by its Service */
    r = inline_build(&P, "{'metadata':{'name':'kubernetes','namespace':'default'},'addressType':'IPv4'}");
    assert_true(r.facts.kubernetes_default);
    r = inline_build(&P, "{'metadata':{'name':'kubernetes-x1','namespace':'default','labels':"
                         "{'kubernetes.io/service-name':'kubernetes'}},'addressType':'IPv4'}");
    assert_true(r.facts.kubernetes_default);
    r = inline_build(&P, "{'metadata':{'name':'kubernetes','namespace':'shop','labels':"
                         "{'kubernetes.io/service-name':'kubernetes'}},'addressType':'IPv4'}");
    assert_false(r.facts.kubernetes_default);
    r = inline_build(&P, "{'metadata':{'name':'web','namespace':'default'},'addressType':'IPv4'}");
    assert_false(r.facts.kubernetes_default);

    /* facts are zeroed on failure */
    r = inline_build(&P, "{'metadata':{'uid':'u-2','labels':{'kubernetes.io/service-name':'web'}},"
                         "'addressType':7}");
    assert_int_equal(r.err, LQ_EPROTO);
    lq_forge_eps_facts_t zero;
    memset(&zero, 0, sizeof zero);
    r = inline_build(&P, "{'metadata':{'uid':'u-2'},'addressType':'IPv4'}");
    (void)lq_forge_eps_build(&g_doc, NULL, g_in, strlen(g_in), g_out, OUT_CAP, &r.len, &r.facts, NULL);
    assert_memory_equal(&r.facts, &zero, sizeof zero);
}

/* ---- endpoints ----------------------------------------------------------------------- */

static void test_conditions(void **state)
{
    (void)state;
    /* serving and terminating never written; ready = home_ready && ready != false */
    static const struct {
        const char *cond;
        bool home_ready, want;
    } cases[] = {
        {"{}", true, true},
        {"{'ready':null}", true, true},
        {"{'ready':true,'serving':true,'terminating':false}", true, true},
        {"{'ready':false,'serving':true,'terminating':true}", true, false},
        {"{'serving':false}", true, true},
        {"{}", false, false},
        {"{'ready':true}", false, false},
        {"{'ready':false}", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_forge_eps_params_t p = P;
        p.home_ready = cases[i].home_ready;
        char in[256];
        snprintf(in, sizeof in, "{'addressType':'IPv4','endpoints':[{'addresses':['1.1.1.1'],'conditions':%s}]}",
                 cases[i].cond);
        run_t r = inline_build(&p, in);
        assert_int_equal(r.err, LQ_OK);
        char want[64];
        snprintf(want, sizeof want, "\"conditions\":{\"ready\":%s}", cases[i].want ? "true" : "false");
        if (!strstr(g_out, want))
            fail_msg("case %zu: want %s in %s", i, want, g_out);
        assert_null(strstr(g_out, "serving"));
        assert_null(strstr(g_out, "terminating"));
    }
    /* no conditions at all */
    run_t r = inline_build(&P, "{'addressType':'IPv4','endpoints':[{'addresses':['1.1.1.1']}]}");
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, "{\"addresses\":[\"1.1.1.1\"],\"conditions\":{\"ready\":true},"
                                  "\"nodeName\":\"" HOME_NAME "\"}"));
}

static void test_target_ref(void **state)
{
    (void)state;
    static const struct {
        const char *ref, *want;
    } cases[] = {
        {"{'kind':'Pod','name':'a'}", "{'kind':'RemotePod','name':'a'}"},
        {"{'name':'a','kind':'Node'}", "{'name':'a','kind':'RemoteNode'}"},
        {"{'kind':'','name':'a'}", "{'kind':'Remote','name':'a'}"},
        {"{'name':'a'}", "{'name':'a'}"},
        {"{'kind':null,'name':'a'}", "{'kind':null,'name':'a'}"},
        {"{'kind':'RemotePod'}", "{'kind':'RemoteRemotePod'}"},
        {"{}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[256], want[128];
        snprintf(in, sizeof in, "{'addressType':'IPv4','endpoints':[{'addresses':['1.1.1.1'],'targetRef':%s}]}",
                 cases[i].ref);
        run_t r = inline_build(&P, in);
        assert_int_equal(r.err, LQ_OK);
        snprintf(want, sizeof want, "'targetRef':%s}]", cases[i].want);
        const char *w = Q(want);
        if (!strstr(g_out, w))
            fail_msg("case %zu: want %s in %s", i, w, g_out);
    }
    run_t r = inline_build(&P, "{'addressType':'IPv4','endpoints':[{'addresses':['1.1.1.1'],'targetRef':null}]}");
    assert_int_equal(r.err, LQ_OK);
    assert_null(strstr(g_out, "targetRef"));
    /* a kind at the limit, and one past it */
    char in[1024], kind[LQ_FORGE_EPS_KIND_MAX + 2];
    memset(kind, 'K', sizeof kind - 1);
    kind[LQ_FORGE_EPS_KIND_MAX] = '\0';
    snprintf(in, sizeof in, "{'addressType':'IPv4','endpoints':[{'addresses':[],'targetRef':{'kind':'%s'}}]}", kind);
    assert_int_equal(inline_build(&P, in).err, LQ_OK);
    kind[LQ_FORGE_EPS_KIND_MAX] = 'K';
    kind[LQ_FORGE_EPS_KIND_MAX + 1] = '\0';
    snprintf(in, sizeof in, "{'addressType':'IPv4','endpoints':[{'addresses':[],'targetRef':{'kind':'%s'}}]}", kind);
    assert_int_equal(inline_build(&P, in).err, LQ_EPROTO);
}

static void test_node_filter(void **state)
{
    (void)state;
    /* only an exact match drops */
    run_t r = inline_build(&P, "{'addressType':'IPv4','endpoints':["
                               "{'addresses':['1.0.0.1'],'nodeName':'liqo-foreign'},"
                               "{'addresses':['1.0.0.2'],'nodeName':'liqo-foreign-2'},"
                               "{'addresses':['1.0.0.3'],'nodeName':'liqo-foreig'},"
                               "{'addresses':['1.0.0.4'],'nodeName':null},"
                               "{'addresses':['1.0.0.5'],'nodeName':'LIQO-FOREIGN'}]}");
    assert_int_equal(r.err, LQ_OK);
    assert_int_equal(r.facts.endpoints_in, 5);
    assert_int_equal(r.facts.endpoints_out, 4);
    assert_null(strstr(g_out, "1.0.0.1"));
    assert_non_null(strstr(g_out, "1.0.0.2"));
    assert_non_null(strstr(g_out, "1.0.0.4"));
    assert_null(strstr(g_out, "liqo-foreign"));
    assert_null(strstr(g_out, "LIQO"));
    /* addresses as they are, even odd ones (no translation) */
    r = inline_build(&P, "{'addressType':'FQDN','endpoints':[{'addresses':['db.example.com','::ffff:10.0.0.1','']}]}");
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(strstr(g_out, "\"addresses\":[\"db.example.com\",\"::ffff:10.0.0.1\",\"\"]"));
}

/* ---- wanted ------------------------------------------------------------------------- */

static lq_forge_eps_facts_t slice_facts(int ann)
{
    lq_forge_eps_facts_t f;
    memset(&f, 0, sizeof f);
    /* ann: 0 none, 1 skip, 2 skip=false, 3 allow, 4 allow=false */
    f.base.skip = ann == 1 || ann == 2;
    f.base.skip_false = ann == 2;
    f.base.allow = ann == 3 || ann == 4;
    f.base.allow_false = ann == 4;
    return f;
}

static lq_forge_conf_facts_t svc_facts(int ann)
{
    return slice_facts(ann).base;
}

static void test_wanted(void **state)
{
    (void)state;
    enum { D = LQ_FORGE_CONF_DENYLIST, A = LQ_FORGE_CONF_ALLOWLIST };
    /* svc -1: no Service known. */
    static const struct {
        int slice, svc, pol;
        bool want;
    } t[] = {
        /* DenyList: the slice's skip annotation wins */
        {0, -1, D, true}, {0, 0, D, true}, {0, 1, D, false}, {0, 2, D, true},
        {0, 3, D, true}, {0, 4, D, true},
        {1, -1, D, false}, {1, 0, D, false}, {1, 2, D, false}, {1, 3, D, false},
        {2, -1, D, true}, {2, 0, D, true}, {2, 1, D, true},
        /* an allow annotation means nothing under DenyList: the Service decides */
        {3, 1, D, false}, {4, 0, D, true}, {4, -1, D, true},
        /* AllowList: the slice's allow annotation wins */
        {0, -1, A, false}, {0, 0, A, false}, {0, 3, A, true}, {0, 4, A, false},
        {0, 1, A, false}, {0, 2, A, false},
        {3, -1, A, true}, {3, 0, A, true}, {3, 4, A, true}, {3, 1, A, true},
        {4, -1, A, false}, {4, 3, A, false},
        /* a skip annotation means nothing under AllowList */
        {1, 3, A, true}, {2, 0, A, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_forge_eps_facts_t s = slice_facts(t[i].slice);
        lq_forge_conf_facts_t v = svc_facts(t[i].svc < 0 ? 0 : t[i].svc);
        bool got = lq_forge_eps_wanted(&s, t[i].svc < 0 ? NULL : &v, (lq_forge_conf_policy_t)t[i].pol);
        if (got != t[i].want)
            fail_msg("case %zu: slice %d svc %d pol %d: got %d", i, t[i].slice, t[i].svc, t[i].pol, got);
        /* never for the API server's slice, nor for a slice a liqolet wrote */
        s.kubernetes_default = true;
        assert_false(lq_forge_eps_wanted(&s, t[i].svc < 0 ? NULL : &v, (lq_forge_conf_policy_t)t[i].pol));
        s.kubernetes_default = false;
        s.managed_by_us = true;
        assert_false(lq_forge_eps_wanted(&s, t[i].svc < 0 ? NULL : &v, (lq_forge_conf_policy_t)t[i].pol));
    }
    lq_forge_eps_facts_t s = slice_facts(0);
    lq_forge_conf_facts_t v = svc_facts(0);
    assert_false(lq_forge_eps_wanted(NULL, &v, LQ_FORGE_CONF_DENYLIST));
    assert_false(lq_forge_eps_wanted(&s, &v, (lq_forge_conf_policy_t)7));

    /* end to end from objects: a skipped Service's slice is not reflected */
    run_t r = inline_build(&P, "{'metadata':{'name':'web-1','namespace':'shop','labels':"
                               "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4'}");
    assert_int_equal(r.err, LQ_OK);
    v = svc_facts(1);
    assert_false(lq_forge_eps_wanted(&r.facts, &v, LQ_FORGE_CONF_DENYLIST));
    r = inline_build(&P, "{'metadata':{'name':'kubernetes','namespace':'default'},'addressType':'IPv4'}");
    assert_false(lq_forge_eps_wanted(&r.facts, NULL, LQ_FORGE_CONF_DENYLIST));
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "[]",
        "'x'",
        "null",
        "{",
        "{'addressType':'IPv4'} x",
        "{'addressType':'IPv4',}",
        "{'addressType':'a\\u0000b'}",
        /* metadata */
        "{'metadata':[],'addressType':'IPv4'}",
        "{'metadata':{'labels':[]},'addressType':'IPv4'}",
        "{'metadata':{'labels':{'a':1}},'addressType':'IPv4'}",
        "{'metadata':{'labels':{'a':null}},'addressType':'IPv4'}",
        "{'metadata':{'annotations':'x'},'addressType':'IPv4'}",
        "{'metadata':{'annotations':{'a':true}},'addressType':'IPv4'}",
        "{'metadata':{'uid':5},'addressType':'IPv4'}",
        "{'metadata':{'resourceVersion':{}},'addressType':'IPv4'}",
        "{'metadata':{'resourceVersion':'123456789012345678901234567890123'},'addressType':'IPv4'}",
        /* addressType, endpoints, ports */
        "{}",
        "{'addressType':null}",
        "{'addressType':4}",
        "{'addressType':'IPv4','endpoints':{}}",
        "{'addressType':'IPv4','endpoints':[1]}",
        "{'addressType':'IPv4','endpoints':[{}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':null}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':'1.1.1.1'}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[1]}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'conditions':[]}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'conditions':{'ready':'true'}}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'hostname':1}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'zone':[]}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'nodeName':true}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'hints':[]}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'targetRef':'Pod/a'}]}",
        "{'addressType':'IPv4','endpoints':[{'addresses':[],'targetRef':{'kind':1}}]}",
        /* a dropped endpoint is checked too */
        "{'addressType':'IPv4','endpoints':[{'addresses':[1],'nodeName':'liqo-foreign'}]}",
        "{'addressType':'IPv4','ports':{}}",
        "{'addressType':'IPv4','ports':[80]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_t r = inline_build(&P, bad[i]);
        if (r.err != LQ_EPROTO)
            fail_msg("case %zu (%s): %s", i, bad[i], lq_err_name(r.err));
    }
    /* a service-name label one byte too long; and one that fits */
    char in[1024], svc[LQ_FORGE_EPS_SERVICE_BUF + 1];
    memset(svc, 's', sizeof svc - 1);
    svc[LQ_FORGE_EPS_SERVICE_BUF] = '\0';
    snprintf(in, sizeof in, "{'metadata':{'labels':{'kubernetes.io/service-name':'%s'}},'addressType':'IPv4'}", svc);
    assert_int_equal(inline_build(&P, in).err, LQ_EPROTO);
    svc[LQ_FORGE_EPS_SERVICE_BUF - 1] = '\0';
    snprintf(in, sizeof in, "{'metadata':{'labels':{'kubernetes.io/service-name':'%s'}},'addressType':'IPv4'}", svc);
    run_t r = inline_build(&P, in);
    assert_int_equal(r.err, LQ_OK);
    assert_string_equal(r.facts.service, svc);
}

static void test_einval(void **state)
{
    (void)state;
    size_t n = read_vec("eps-mixed.json", g_in, sizeof g_in), len = 0;
    assert_int_equal(lq_forge_eps_build(NULL, &P, g_in, n, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_build(&g_doc, NULL, g_in, n, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, NULL, n, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, g_in, n, NULL, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, g_in, n, g_out, OUT_CAP, NULL, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, NULL, 0, g_out, OUT_CAP, &len, NULL, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, g_in, n, NULL, 0, &len, NULL, NULL), LQ_ETOOBIG);
    for (int k = 0; k < 14; k++) {
        lq_forge_eps_params_t p = P;
        const char **s[] = {&p.base.remote_name, &p.base.remote_ns, &p.base.home_id,
                            &p.base.foreign_id, &p.base.home_uid, &p.vnode_name, &p.home_name};
        *s[k / 2] = (k & 1) ? "" : NULL;
        assert_int_equal(lq_forge_eps_build(&g_doc, &p, g_in, n, g_out, OUT_CAP, &len, NULL, NULL), LQ_EINVAL);
    }
    /* facts and hash are optional */
    assert_int_equal(lq_forge_eps_build(&g_doc, &P, g_in, n, g_out, OUT_CAP, &len, NULL, NULL), LQ_OK);
    assert_true(len > 0);
}

static void test_too_big(void **state)
{
    (void)state;
    size_t n = read_vec("eps-mixed.json", g_in, sizeof g_in);
    lq_forge_eps_params_t p = P;
    for (int uid = 0; uid < 2; uid++) {
        p.base.remote_uid = uid ? REMOTE_UID : NULL;
        run_t full = build(&p, g_in, n, g_out);
        assert_int_equal(full.err, LQ_OK);
        /* every output buffer smaller than the body and its NUL; length + 2 always fits */
        for (size_t cap = 0; cap <= full.len + 2; cap++) {
            size_t len = 0;
            lq_err_t e = lq_forge_eps_build(&g_doc, &p, g_in, n, g_out2, cap, &len, NULL, NULL);
            if (cap <= full.len)
                assert_int_equal(e, LQ_ETOOBIG);
            else if (cap == full.len + 2)
                assert_int_equal(e, LQ_OK);
            else
                assert_true(e == LQ_OK || e == LQ_ETOOBIG);
            if (e == LQ_OK) {
                assert_int_equal(len, full.len);
                assert_memory_equal(g_out2, g_out, len);
            }
        }
    }
    /* every arena too small for the input and the body; then one that fits */
    static _Alignas(16) unsigned char small[48 * 1024];
    lq_json_doc_t d;
    size_t ok_at = 0;
    for (size_t cap = 0; cap <= sizeof small; cap += 97) {
        lq_json_doc_init(&d, small, cap);
        size_t len = 0;
        lq_err_t e = lq_forge_eps_build(&d, &P, g_in, n, g_out2, OUT_CAP, &len, NULL, NULL);
        if (e == LQ_OK) {
            ok_at = cap;
            break;
        }
        assert_int_equal(e, LQ_ETOOBIG);
    }
    assert_true(ok_at > 0);
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
}

/* ---- determinism ------------------------------------------------------------------- */

static void test_determinism(void **state)
{
    (void)state;
    size_t n = read_vec("eps-mixed.json", g_in, sizeof g_in);
    run_t a = build(&P, g_in, n, g_out);
    assert_int_equal(a.err, LQ_OK);
    /* the doc is reset at entry: what it held before does not matter */
    for (int i = 0; i < 3; i++) {
        lq_json_t *junk = NULL;
        assert_int_equal(lq_json_parse(&g_doc, "{\"x\":[1,2,3]}", 13, &junk), LQ_OK);
        run_t b = build(&P, g_in, n, g_out2);
        assert_int_equal(b.err, LQ_OK);
        assert_int_equal(b.len, a.len);
        assert_memory_equal(g_out2, g_out, a.len);
        assert_true(b.hash == a.hash);
        assert_memory_equal(&b.facts, &a.facts, sizeof a.facts);
    }
    /* whitespace in the input changes nothing */
    static char spaced[80 * 1024];
    size_t m = 0;
    bool str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = g_in[i];
        spaced[m++] = c;
        if (str) {
            str = esc || c != '"';
            esc = !esc && c == '\\';
            continue;
        }
        str = c == '"';
        if (c == ',' || c == ':')
            spaced[m++] = ' ';
        if (c == '{' || c == '[')
            spaced[m++] = '\n';
    }
    assert_true(m > n + 100);
    run_t b = build(&P, spaced, m, g_out2);
    assert_int_equal(b.err, LQ_OK);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(g_out2, g_out, a.len);
    assert_true(b.hash == a.hash);
    /* every parameter is content */
    const lq_forge_eps_params_t base = P;
    for (int k = 0; k < 7; k++) {
        lq_forge_eps_params_t p = base;
        const char **s[] = {&p.base.remote_name, &p.base.remote_ns, &p.base.home_id,
                            &p.base.foreign_id, &p.base.home_uid, &p.vnode_name, &p.home_name};
        *s[k] = "other";
        run_t c = build(&p, g_in, n, g_out2);
        assert_int_equal(c.err, LQ_OK);
        if (c.hash == a.hash)
            fail_msg("parameter %d does not change the hash", k);
    }
}

/* ---- no heap ----------------------------------------------------------------------------------- */

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    size_t n = read_vec("eps-mixed.json", g_in, sizeof g_in), len = 0;
    lq_forge_eps_params_t p = P;
    p.base.remote_uid = REMOTE_UID;
    lq_forge_eps_facts_t f;
    uint64_t h = 0;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t e = lq_forge_eps_build(&g_doc, &p, g_in, n, g_out, OUT_CAP, &len, &f, &h);
    bool w = lq_forge_eps_wanted(&f, NULL, LQ_FORGE_CONF_DENYLIST);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(e, LQ_OK);
    assert_true(w);
    assert_int_equal(v1, v0);
}

/* ---- the gate (home cluster unreachable) ------------------------------------------- */

/* Gates in[0..n) into g_out2; returns the error, *len and *hash. */
static lq_err_t gate(const lq_forge_eps_params_t *p, const char *in, size_t n, size_t *len,
                     uint64_t *hash)
{
    lq_err_t e = lq_forge_eps_gate(&g_doc, p, in, n, g_out2, OUT_CAP, len, hash);
    if (e == LQ_OK)
        assert_int_equal(strlen(g_out2), *len);
    return e;
}

/* Same JSON value: objects member by member (order aside), arrays in order, scalars by
 * their printed text. */
static bool json_eq(const lq_json_t *x, const lq_json_t *y)
{
    if (lq_json_type(x) != lq_json_type(y))
        return false;
    if (lq_json_type(x) == LQ_JSON_OBJECT) {
        if (lq_json_size(x) != lq_json_size(y))
            return false;
        for (const lq_json_t *m = lq_json_first(x); m; m = lq_json_next(m))
            if (!json_eq(m, lq_json_get(y, lq_json_key(m))))
                return false;
        return true;
    }
    if (lq_json_type(x) == LQ_JSON_ARRAY) {
        const lq_json_t *a = lq_json_first(x), *b = lq_json_first(y);
        for (; a && b; a = lq_json_next(a), b = lq_json_next(b))
            if (!json_eq(a, b))
                return false;
        return !a && !b;
    }
    char u[256], v[256];
    size_t nu = 0, nv = 0;
    assert_int_equal(lq_json_print(x, u, sizeof u, &nu), LQ_OK);
    assert_int_equal(lq_json_print(y, v, sizeof v, &nv), LQ_OK);
    return nu == nv && memcmp(u, v, nu) == 0;
}

/* Two JSON texts with the same members and values (member order aside). */
static bool same_json(const char *a, size_t na, const char *b, size_t nb)
{
    static _Alignas(16) unsigned char arena[512 * 1024];
    static lq_json_doc_t d;
    lq_json_doc_init(&d, arena, sizeof arena);
    lq_json_t *x = NULL, *y = NULL;
    assert_int_equal(lq_json_parse(&d, a, na, &x), LQ_OK);
    assert_int_equal(lq_json_parse(&d, b, nb, &y), LQ_OK);
    return json_eq(x, y);
}

static void test_gate_golden(void **state)
{
    (void)state;
    /* the stored remote copy of eps-mixed (server fields, Go member order) gates into the
     * body the forge writes for eps-mixed with the home cluster not ready: same members and
     * values, byte for byte in the gated golden (labels in the copy's order) */
    size_t n = read_vec("eps-mixed-remote.json", g_in, sizeof g_in), len = 0;
    uint64_t h = 0;
    assert_int_equal(gate(&P, g_in, n, &len, &h), LQ_OK);
    assert_true(h == fnv(g_out2, len));
    if (lq_vec_updating()) {
        lq_vec_write("eps", "eps-mixed-gated.out.json", g_out2, len);
    } else {
        size_t m = read_vec("eps-mixed-gated.out.json", g_want, sizeof g_want);
        if (m != len || memcmp(g_want, g_out2, m) != 0)
            fail_msg("eps-mixed-gated.out.json differs\n got: %.*s\nwant: %.*s", (int)len, g_out2,
                     (int)m, g_want);
    }
    size_t m = read_vec("eps-mixed-notready.out.json", g_want, sizeof g_want);
    assert_true(same_json(g_out2, len, g_want, m));
    /* gating is idempotent, and its hash differs from the ungated body's */
    lq_forge_eps_params_t p = P;
    run_t r = golden(&p, "eps-mixed", "eps-mixed");
    assert_true(r.hash != h);
    memcpy(g_in, g_out2, len + 1);
    size_t len2 = 0;
    uint64_t h2 = 0;
    assert_int_equal(gate(&P, g_in, len, &len2, &h2), LQ_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(g_out2, g_in, len);
    assert_true(h2 == h);
    /* with the uid precondition: same hash, the uid at the end of metadata */
    p.base.remote_uid = REMOTE_UID;
    assert_int_equal(gate(&p, g_in, len, &len2, &h2), LQ_OK);
    assert_true(h2 == h);
    assert_non_null(strstr(g_out2, "\"liqolet.io/home-uid\":\"" HOME_UID "\"},\"uid\":\"" REMOTE_UID "\"}"));
}

static void test_gate_rules(void **state)
{
    (void)state;
    size_t len = 0;
    uint64_t h = 0;
    /* stored "endpoints":null and "ports":null: an empty list, no ports */
    const char *in = Q("{'metadata':{'name':'x','labels':{'virtualkubelet.liqo.io/origin':'forged'}},"
                       "'addressType':'IPv4','endpoints':null,'ports':null}");
    assert_int_equal(gate(&P, in, strlen(in), &len, &h), LQ_OK);
    assert_non_null(strstr(g_out2, "\"addressType\":\"IPv4\",\"endpoints\":[]}"));
    /* our labels come from the parameters, never from the copy */
    assert_null(strstr(g_out2, "forged"));
    assert_non_null(strstr(g_out2, "\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\""));
    /* every endpoint kept and not ready, whatever it says (a foreign user's edit included);
     * serving/terminating dropped; nodeName and targetRef as they are (no second prefix) */
    in = Q("{'addressType':'IPv4','endpoints':["
           "{'addresses':['1.1.1.1'],'conditions':{'ready':true,'serving':true},'nodeName':'" VNODE "'},"
           "{'addresses':['1.1.1.2'],'nodeName':'" HOME_NAME "','targetRef':{'kind':'RemotePod','name':'a'}},"
           "{'addresses':['1.1.1.3'],'conditions':{}}]}");
    assert_int_equal(gate(&P, in, strlen(in), &len, &h), LQ_OK);
    assert_non_null(strstr(g_out2, "\"endpoints\":["
        "{\"addresses\":[\"1.1.1.1\"],\"conditions\":{\"ready\":false},\"nodeName\":\"" VNODE "\"},"
        "{\"addresses\":[\"1.1.1.2\"],\"conditions\":{\"ready\":false},\"nodeName\":\"" HOME_NAME "\","
        "\"targetRef\":{\"kind\":\"RemotePod\",\"name\":\"a\"}},"
        "{\"addresses\":[\"1.1.1.3\"],\"conditions\":{\"ready\":false}}]"));
    assert_null(strstr(g_out2, "serving"));
    assert_null(strstr(g_out2, "RemoteRemote"));
    /* malformed copies and bad arguments */
    in = Q("{'addressType':'IPv4','endpoints':[{'addresses':'1.1.1.1'}]}");
    assert_int_equal(gate(&P, in, strlen(in), &len, &h), LQ_EPROTO);
    in = "[1,2]";
    assert_int_equal(gate(&P, in, strlen(in), &len, &h), LQ_EPROTO);
    in = "{\"addressType\":";
    assert_int_equal(gate(&P, in, strlen(in), &len, &h), LQ_EPROTO);
    lq_forge_eps_params_t p = P;
    p.home_name = "";
    assert_int_equal(gate(&p, "{}", 2, &len, &h), LQ_EINVAL);
    assert_int_equal(lq_forge_eps_gate(&g_doc, &P, "{}", 2, g_out2, OUT_CAP, NULL, &h), LQ_EINVAL);
    size_t n = read_vec("eps-mixed-remote.json", g_in, sizeof g_in);
    for (size_t cap = 0; cap < 64; cap++)
        assert_int_equal(lq_forge_eps_gate(&g_doc, &P, g_in, n, g_out2, cap, &len, &h), LQ_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_golden_mixed, setup),
        cmocka_unit_test_setup(test_golden_ipv6, setup),
        cmocka_unit_test_setup(test_golden_all_remote, setup),
        cmocka_unit_test_setup(test_remote_uid_precondition, setup),
        cmocka_unit_test_setup(test_labels_annotations, setup),
        cmocka_unit_test_setup_teardown(test_v1_names, setup, back_to_v08),
        cmocka_unit_test_setup(test_facts, setup),
        cmocka_unit_test_setup(test_conditions, setup),
        cmocka_unit_test_setup(test_target_ref, setup),
        cmocka_unit_test_setup(test_node_filter, setup),
        cmocka_unit_test_setup(test_wanted, setup),
        cmocka_unit_test_setup(test_malformed, setup),
        cmocka_unit_test_setup(test_einval, setup),
        cmocka_unit_test_setup(test_too_big, setup),
        cmocka_unit_test_setup(test_determinism, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
        cmocka_unit_test_setup(test_gate_golden, setup),
        cmocka_unit_test_setup(test_gate_rules, setup),
    };
    return cmocka_run_group_tests_name("forge_eps", tests, NULL, NULL);
}
