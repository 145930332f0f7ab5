/* Unit tests of src/forge/conf.c: the streaming ConfigMap / Secret forge. Golden outputs
 * for ConfigMaps and Secrets (labels and annotations present or absent, ownership labels
 * and the home-uid annotation of the input replaced, binaryData, immutable, type), facts
 * (uid, resourceVersion, type, SA tokens, skip / allow annotations and their "false"
 * values, deletionTimestamp), every input fed at once, one byte at a time and at random
 * split points with the same output and hash, member order other than kube-apiserver's,
 * escaped member names, a 1.2 MB object streamed in small pieces (checked by re-parsing
 * with lq_json), malformed input, errors of the out callback, the one-shot builder, the
 * remote / home names of kube-root-ca.crt, the reflection policies, and no heap use.
 *
 * Vectors and goldens live in tests/vectors/forge/conf/ (<name>.json is the home object as
 * kube-apiserver returns it, compact; <name>.out.json the expected body, byte for byte,
 * written by hand). LQ_UPDATE_GOLDEN=1 rewrites the goldens from the code: review every
 * rewritten file against liqo-v0.8-behaviour.md §1.1, §1.6, §1.7 before keeping it.
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

#include "liqolet/forge_conf.h"
#include "liqolet/liqo.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "lq_vectors.h"

#define HOME_ID    "5a1c2e3f-0b1d-4c2e-9f3a-7b6c5d4e3f21"
#define FOREIGN_ID "c0ffee00-1234-4abc-8def-0123456789ab"
#define HOME_UID   "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define REMOTE_NS  "shop-home-5a1c2e"
#define ORIGIN     "\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\""
#define DEST       "\"virtualkubelet.liqo.io/destination\":\"" FOREIGN_ID "\""
#define OWN_LABELS ORIGIN "," DEST
#define HOME_ANN   "\"liqolet.io/home-uid\":\"" HOME_UID "\""
#define CM_HEAD    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\",\"namespace\":\"" REMOTE_NS "\""
#define SEC_HEAD   "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"web\",\"namespace\":\"" REMOTE_NS "\""

static const lq_forge_conf_params_t CM = {LQ_FORGE_CONF_CONFIGMAP, "web", REMOTE_NS, HOME_ID, FOREIGN_ID, HOME_UID, NULL};
static const lq_forge_conf_params_t SEC = {LQ_FORGE_CONF_SECRET, "web", REMOTE_NS, HOME_ID, FOREIGN_ID, HOME_UID, NULL};

/* ---- helpers ------------------------------------------------------------------------- */

#define OUT_CAP (2u * 1024u * 1024u)
static char g_in[64 * 1024];
static char g_want[64 * 1024];
static char g_text[16 * 1024];
static char g_out[OUT_CAP];
static char g_out2[OUT_CAP];

/* The sink of the tests: appends to a buffer; fails with `fail_with` once `fail_at` bytes
 * have been written (fail_at 0: never). */
typedef struct sink {
    char *buf;
    size_t cap, len, calls;
    size_t fail_at;
    lq_err_t fail_with;
} sink_t;

static lq_err_t sink_write(void *ctx, const char *p, size_t n)
{
    sink_t *s = ctx;
    assert_true(n > 0);
    s->calls++;
    if (s->fail_at && s->len + n >= s->fail_at)
        return s->fail_with;
    assert_true(n <= s->cap - s->len);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return LQ_OK;
}

/* memmem without _GNU_SOURCE. */
static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
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

/* The hash the forge promises: FNV-1a of the output without the metadata.uid member that
 * a remote_uid parameter adds (a precondition, not content). */
static uint64_t body_hash(const lq_forge_conf_params_t *p, const char *out, size_t n)
{
    if (!p->remote_uid || !p->remote_uid[0])
        return fnv(out, n);
    char seg[128];
    int sl = snprintf(seg, sizeof seg, ",\"uid\":\"%s\"", p->remote_uid);
    assert_true(sl > 0 && (size_t)sl < sizeof seg);
    const char *at = NULL;
    for (size_t i = 0; i + (size_t)sl <= n && !at; i++)
        if (memcmp(out + i, seg, (size_t)sl) == 0)
            at = out + i;
    assert_non_null(at);
    uint64_t h = fnv(out, (size_t)(at - out));
    for (const char *q = at + sl; q < out + n; q++) {
        h ^= (unsigned char)*q;
        h *= 1099511628211ull;
    }
    return h;
}

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
    bool meta_done;
} run_t;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Feeds in[0..n) in pieces: piece 0 = all at once, 1 = one byte at a time, otherwise random
 * lengths up to `piece`. Output into out (OUT_CAP). Checks the counters and the hash
 * against the output. */
static run_t stream(const lq_forge_conf_params_t *p, const char *in, size_t n, size_t piece, char *out)
{
    sink_t s = {out, OUT_CAP, 0, 0, 0, LQ_OK};
    lq_forge_conf_t f;
    run_t r;
    lq_forge_conf_begin(&f, p, sink_write, &s);
    size_t off = 0;
    r.err = LQ_OK;
    while (off < n && r.err == LQ_OK) {
        size_t k = piece == 0 ? n - off : piece == 1 ? 1 : 1 + (size_t)(rnd() % piece);
        if (k > n - off)
            k = n - off;
        r.err = lq_forge_conf_feed(&f, in + off, k);
        off += k;
    }
    if (r.err == LQ_OK)
        r.err = lq_forge_conf_end(&f);
    r.len = s.len;
    r.hash = f.hash;
    r.facts = f.facts;
    r.meta_done = f.meta_done;
    if (r.err == LQ_OK) {
        assert_int_equal(f.in, n);
        assert_int_equal(f.out, s.len);
        assert_true(f.hash == body_hash(p, out, s.len));
    }
    return r;
}

/* Runs in[0..n) at once, byte by byte and at random splits: all give the same result.
 * Returns the result of the run at once (output in g_out). */
static run_t all_ways(const lq_forge_conf_params_t *p, const char *in, size_t n)
{
    run_t a = stream(p, in, n, 0, g_out);
    size_t pieces[] = {1, 2, 3, 7, 64, 1000};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        for (int round = 0; round < (pieces[k] == 1 ? 1 : 4); round++) {
            run_t b = stream(p, in, n, pieces[k], g_out2);
            assert_int_equal(b.err, a.err);
            if (a.err != LQ_OK)
                continue;
            assert_int_equal(b.len, a.len);
            assert_memory_equal(g_out2, g_out, a.len);
            assert_true(b.hash == a.hash);
            assert_memory_equal(&b.facts, &a.facts, sizeof a.facts);
        }
    }
    /* count and hash only */
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, p, NULL, NULL);
    lq_err_t e = lq_forge_conf_feed(&f, in, n);
    if (e == LQ_OK)
        e = lq_forge_conf_end(&f);
    assert_int_equal(e, a.err);
    if (e == LQ_OK) {
        assert_true(f.hash == a.hash);
        assert_int_equal(f.out, a.len);
    }
    return a;
}

/* The output parses as JSON. */
static void parses(const char *p, size_t n)
{
    static unsigned char arena[256 * 1024];
    lq_json_doc_t d;
    lq_json_doc_init(&d, arena, sizeof arena);
    lq_json_t *root = NULL;
    if (lq_json_parse(&d, p, n, &root) != LQ_OK)
        fail_msg("output is not JSON: %.*s", (int)n, p);
    assert_int_equal(lq_json_type(root), LQ_JSON_OBJECT);
}

/* Runs an inline input all ways and compares with the expected output (double quotes). */
static run_t expect(const lq_forge_conf_params_t *p, const char *in_sq, const char *want)
{
    const char *in = Q(in_sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    run_t r = all_ways(p, g_in, n);
    if (r.err != LQ_OK)
        fail_msg("%s on %s", lq_err_name(r.err), g_in);
    if (r.len != strlen(want) || memcmp(g_out, want, r.len) != 0)
        fail_msg("differs\n got: %.*s\nwant: %s", (int)r.len, g_out, want);
    parses(g_out, r.len);
    return r;
}

/* Runs an inline input (single quotes) all ways; returns the error. */
static lq_err_t run_err(const lq_forge_conf_params_t *p, const char *in, size_t n)
{
    memcpy(g_in, in, n);
    return all_ways(p, g_in, n).err;
}

/* A golden pair: <name>.json -> <name>.out.json, all ways. */
static run_t golden(const lq_forge_conf_params_t *p, const char *name)
{
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    size_t n = lq_vec_read("conf", file, g_in, sizeof g_in);
    while (n > 0 && (g_in[n - 1] == '\n')) /* the file's newline is whitespace after the object */
        n--;
    run_t r = all_ways(p, g_in, n);
    assert_int_equal(r.err, LQ_OK);
    parses(g_out, r.len);
    /* the v1 label family has goldens of its own: <name>.v1.out.json */
    snprintf(file, sizeof file, "%s%s.out.json", name,
             strcmp(lq_liqo_names()->compat, "v1") == 0 ? ".v1" : "");
    if (lq_vec_updating()) {
        lq_vec_write("conf", file, g_out, r.len);
        return r;
    }
    size_t m = lq_vec_read("conf", file, g_want, sizeof g_want);
    while (m > 0 && g_want[m - 1] == '\n')
        m--;
    if (m != r.len || memcmp(g_want, g_out, m) != 0)
        fail_msg("%s differs\n got: %.*s\nwant: %.*s", file, (int)r.len, g_out, (int)m, g_want);
    return r;
}

/* ---- goldens ------------------------------------------------------------------------- */

static void test_golden_configmap(void **state)
{
    (void)state;
    lq_forge_conf_params_t p = CM;
    p.remote_name = "web-config";
    run_t r = golden(&p, "cm-full");
    assert_string_equal(r.facts.uid, "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_string_equal(r.facts.rv, "48213");
    assert_string_equal(r.facts.type, "");
    assert_false(r.facts.type_long || r.facts.skip || r.facts.allow || r.facts.deleting);
    assert_true(r.meta_done);

    p.remote_name = "plain";
    r = golden(&p, "cm-bare");
    assert_string_equal(r.facts.uid, "11111111-2222-4333-8444-555555555555");
    assert_string_equal(r.facts.rv, "5");

    /* the root CA, under its remote name, with annotations and no labels */
    char rname[LQ_FORGE_CONF_ROOT_CA_BUF];
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16,
                                               HOME_ID, rname, sizeof rname), LQ_OK);
    p.remote_name = rname;
    r = golden(&p, "cm-root-ca");
    assert_string_equal(r.facts.rv, "311");
}

static void test_golden_secret(void **state)
{
    (void)state;
    lq_forge_conf_params_t p = SEC;
    p.remote_name = "db-creds";
    run_t r = golden(&p, "secret-full");
    assert_string_equal(r.facts.type, "Opaque");
    assert_true(r.facts.allow);
    assert_false(r.facts.allow_false || r.facts.skip);
    assert_string_equal(r.facts.rv, "777");

    p.remote_name = "default-token-x7k2p";
    r = golden(&p, "secret-sa-token");
    assert_string_equal(r.facts.type, LQ_FORGE_CONF_SA_TOKEN);
    assert_false(r.facts.type_long);
    assert_string_equal(r.facts.uid, "3c2b1a09-8f7e-4d6c-9b5a-493827161504");

    /* the same Secret as a ConfigMap keeps binaryData and drops type */
    p = CM;
    p.remote_name = "db-creds";
    size_t n = lq_vec_read("conf", "secret-full.json", g_in, sizeof g_in);
    r = all_ways(&p, g_in, n);
    assert_int_equal(r.err, LQ_OK);
    assert_non_null(find(g_out, r.len, ",\"binaryData\":{\"x\":\"eA==\"}}", 27));
    assert_null(find(g_out, r.len, "\"type\"", 6));
    assert_null(find(g_out, r.len, "stringData", 10));
    assert_string_equal(r.facts.type, ""); /* a ConfigMap has no type */
}

/* ---- compat v1: the other label family (include/liqolet/liqo.h) ------------------------------ */

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
    /* the names themselves (src/core/liqo.c) */
    assert_string_equal(lq_liqo_names()->compat, "v0.8");
    assert_null(lq_liqo_names()->nodename);
    assert_string_equal(lq_liqo_names_of(LQ_LIQO_COMPAT_V1)->origin, "offloading.liqo.io/origin");
    assert_string_equal(lq_liqo_names_of((lq_liqo_compat_t)7)->origin, "virtualkubelet.liqo.io/origin");
    static const char *const own[] = { "virtualkubelet.liqo.io/origin", "virtualkubelet.liqo.io/destination",
                                       "offloading.liqo.io/origin", "offloading.liqo.io/destination",
                                       "offloading.liqo.io/nodename" };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        assert_true(lq_liqo_is_own_label(own[i], strlen(own[i])));
        assert_false(lq_liqo_is_own_label(own[i], strlen(own[i]) - 1)); /* a prefix */
    }
    assert_false(lq_liqo_is_own_label("offloading.liqo.io/origins", 26));
    assert_false(lq_liqo_is_own_label("liqo.io/origin", 14));
    assert_false(lq_liqo_is_own_label(NULL, 0));
    lq_liqo_use((lq_liqo_compat_t)7); /* unknown: v0.8 */
    assert_string_equal(lq_liqo_names()->compat, "v0.8");
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    assert_string_equal(lq_liqo_names()->nodename, "offloading.liqo.io/nodename");
    lq_forge_conf_params_t p = CM;
    p.remote_name = "web-config";
    run_t r = golden(&p, "cm-full");
    assert_null(find(g_out, r.len, "virtualkubelet.liqo.io", 22));
    assert_non_null(find(g_out, r.len, V1_OWN_LABELS "}", sizeof V1_OWN_LABELS));
    p = SEC;
    p.remote_name = "db-creds";
    r = golden(&p, "secret-full");
    assert_null(find(g_out, r.len, "virtualkubelet.liqo.io", 22));
    /* no labels, no metadata */
    expect(&CM, "{}", CM_HEAD ",\"labels\":{" V1_OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* the ownership labels of both families (and a nodename) in the home object: all dropped,
     * escaped or not, then ours; other labels kept in their order */
    expect(&CM, "{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'x','a':'1',"
                "'offloading.liqo.io\\/origin':'x','virtualkubelet.liqo.io/destination':'y',"
                "'offloading.liqo.io/destination':'y','offloading.liqo.io/nodename':'n','b':'2'}}}",
           CM_HEAD ",\"labels\":{\"a\":\"1\",\"b\":\"2\"," V1_OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* the same input in v0.8: the v1 labels are dropped there too */
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    expect(&CM, "{'metadata':{'labels':{'offloading.liqo.io/origin':'x','a':'1',"
                "'offloading.liqo.io/destination':'y','offloading.liqo.io/nodename':'n'}}}",
           CM_HEAD ",\"labels\":{\"a\":\"1\"," OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* the two families hash apart */
    p = CM;
    r = expect(&CM, "{}", CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    uint64_t h08 = r.hash;
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    r = expect(&CM, "{}", CM_HEAD ",\"labels\":{" V1_OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    assert_true(r.hash != h08);
}

/* ---- shapes and order ---------------------------------------------------------------------- */

static void test_labels_annotations(void **state)
{
    (void)state;
    /* none at all, no metadata at all */
    expect(&CM, "{'data':{'a':'b'}}",
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"},\"metadata\":{\"name\":\"web\","
           "\"namespace\":\"" REMOTE_NS "\",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    expect(&CM, "{}", CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* empty ones */
    expect(&CM, "{'metadata':{'labels':{},'annotations':{}}}",
           CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* only ours in the input: all replaced */
    expect(&CM, "{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'x','virtualkubelet.liqo.io/destination':'y'},"
                "'annotations':{'liqolet.io/home-uid':'z'}}}",
           CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* annotations before labels, labels null, metadata after data */
    expect(&CM, "{'data':{'a':'b'},'metadata':{'annotations':{'n':'1'},'labels':{'l':'2'}},'immutable':true}",
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"},\"metadata\":{\"name\":\"web\","
           "\"namespace\":\"" REMOTE_NS "\",\"annotations\":{\"n\":\"1\"," HOME_ANN "},\"labels\":{\"l\":\"2\","
           OWN_LABELS "}},\"immutable\":true}");
    expect(&CM, "{'metadata':{'labels':null,'annotations':{'n':'1'}}}",
           CM_HEAD ",\"annotations\":{\"n\":\"1\"," HOME_ANN "},\"labels\":{" OWN_LABELS "}}}");
    /* null members count as absent; other metadata members dropped */
    expect(&CM, "{'metadata':null,'data':null,'binaryData':null,'immutable':null,"
                "'status':{'x':[1,2,{'y':null}]},'kind':'ConfigMap'}",
           CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    /* keys compared after decoding their escapes */
    expect(&CM, "{'\\u006detadata':{'l\\u0061bels':{'virtualkubelet.liqo.io\\/origin':'x','a\\/b':'c'}},"
                "'d\\u0061ta':{'k':'v'}}",
           CM_HEAD ",\"labels\":{\"a\\/b\":\"c\"," OWN_LABELS "},\"annotations\":{" HOME_ANN "}},"
           "\"data\":{\"k\":\"v\"}}");
    /* whitespace between members is not copied, inside a copied value it is */
    expect(&CM, " { 'metadata' : { 'labels' : { 'a' : 'b' } } , 'data' : { 'k' : 'v' } } \n",
           CM_HEAD ",\"labels\":{\"a\":\"b\"," OWN_LABELS "},\"annotations\":{" HOME_ANN "}},"
           "\"data\":{ \"k\" : \"v\" }}");
    /* duplicates: the first one counts */
    expect(&CM, "{'metadata':{'labels':{'a':'1'},'labels':{'b':'2'},'uid':'u1'},'metadata':{'labels':{'c':'3'}},"
                "'data':{'k':'1'},'data':{'k':'2'}}",
           CM_HEAD ",\"labels\":{\"a\":\"1\"," OWN_LABELS "},\"annotations\":{" HOME_ANN "}},"
           "\"data\":{\"k\":\"1\"}}");
    /* Secret: immutable, data, type; stringData, binaryData and unknown members dropped */
    expect(&SEC, "{'type':'Opaque','stringData':{'a':'b'},'binaryData':{'a':'Yg=='},'data':{'a':'Yg=='},'immutable':false,'x':1}",
           "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"a\":\"Yg==\"},\"immutable\":false,"
           "\"metadata\":{\"name\":\"web\",\"namespace\":\"" REMOTE_NS "\",\"labels\":{" OWN_LABELS "},"
           "\"annotations\":{" HOME_ANN "}}}");
    /* numbers and nesting in dropped members */
    expect(&CM, "{'metadata':{'x':[-0,1.5e+10,0.1E-2,12,-3e7,true,false,null,[],{},[[{}]],'\\ud83d\\ude00']},"
                "'y':-12.5E-3,'data':{}}",
           CM_HEAD ",\"labels\":{" OWN_LABELS "},\"annotations\":{" HOME_ANN "}},\"data\":{}}");
}

/* Label and annotation keys too long to be ours are copied as they come. */
static void test_long_keys(void **state)
{
    (void)state;
    static char in[4096], want[8192];
    char key[1200];
    for (size_t len = LQ_FORGE_CONF_KEY_RAW - 2; len <= LQ_FORGE_CONF_KEY_RAW + 2; len++) {
        for (size_t i = 0; i < len; i++)
            key[i] = (char)('a' + i % 26);
        key[len] = '\0';
        /* an escape across the buffer's end */
        if (len > 12)
            memcpy(key + len - 12, "\\u00e9\\ud83d", 12), strcat(key, "\\ude00");
        snprintf(in, sizeof in, "{\"metadata\":{\"annotations\":{\"a\":\"1\",\"%s\":\"v\"},\"labels\":{\"%s\":\"w\"}}}",
                 key, key);
        snprintf(want, sizeof want,
                 CM_HEAD ",\"annotations\":{\"a\":\"1\",\"%s\":\"v\"," HOME_ANN "},\"labels\":{\"%s\":\"w\","
                 OWN_LABELS "}}}", key, key);
        size_t n = strlen(in);
        run_t r = all_ways(&CM, in, n);
        assert_int_equal(r.err, LQ_OK);
        if (r.len != strlen(want) || memcmp(g_out, want, r.len) != 0)
            fail_msg("key of %zu: got %.*s", len, (int)r.len, g_out);
        parses(g_out, r.len);
    }
    /* an ownership label written with every character escaped is still ours */
    char esc[6 * 40 + 1] = "";
    for (const char *c = "virtualkubelet.liqo.io/destination"; *c; c++)
        snprintf(esc + strlen(esc), 7, "\\u%04x", (unsigned)(unsigned char)*c & 0xffu);
    snprintf(in, sizeof in, "{\"metadata\":{\"labels\":{\"%s\":\"x\",\"k\":\"v\"}}}", esc);
    snprintf(want, sizeof want, CM_HEAD ",\"labels\":{\"k\":\"v\"," OWN_LABELS "},\"annotations\":{" HOME_ANN "}}}");
    run_t r = all_ways(&CM, in, strlen(in));
    assert_int_equal(r.err, LQ_OK);
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(g_out, want, r.len);
}

/* Parameter strings are escaped. */
/* The owned remote object's UID rides along as metadata.uid (a precondition), outside the
 * hash: the same intent hashes the same before and after the remote object exists. */
static void test_remote_uid_precondition(void **state)
{
    (void)state;
    lq_forge_conf_params_t p = CM;
    run_t without = expect(&p, "{'metadata':{'name':'web'},'data':{'k':'v'}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"" REMOTE_NS "\",\"labels\":{" OWN_LABELS "},\"annotations\":{"
        "\"liqolet.io/home-uid\":\"" HOME_UID "\"}},\"data\":{\"k\":\"v\"}}");
    p.remote_uid = "r-1";
    run_t with = expect(&p, "{'metadata':{'name':'web'},'data':{'k':'v'}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"" REMOTE_NS "\",\"uid\":\"r-1\",\"labels\":{" OWN_LABELS "},"
        "\"annotations\":{\"liqolet.io/home-uid\":\"" HOME_UID "\"}},\"data\":{\"k\":\"v\"}}");
    assert_true(with.hash == without.hash);
    p.remote_uid = ""; /* empty: no precondition */
    run_t empty = expect(&p, "{'metadata':{'name':'web'},'data':{'k':'v'}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"" REMOTE_NS "\",\"labels\":{" OWN_LABELS "},\"annotations\":{"
        "\"liqolet.io/home-uid\":\"" HOME_UID "\"}},\"data\":{\"k\":\"v\"}}");
    assert_true(empty.hash == without.hash);
    /* content still counts */
    p.remote_uid = "r-1";
    const char *in = Q("{'metadata':{'name':'web'},'data':{'k':'w'}}");
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    run_t other = all_ways(&p, g_in, n);
    assert_int_equal(other.err, LQ_OK);
    assert_true(other.hash != with.hash);
}

static void test_param_escaping(void **state)
{
    (void)state;
    lq_forge_conf_params_t p = CM;
    p.remote_ns = "a\"b\\c\n\x01";
    p.home_uid = "\xc3\xa9\t";
    expect(&p, "{}",
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\",\"namespace\":"
           "\"a\\\"b\\\\c\\n\\u0001\",\"labels\":{" OWN_LABELS "},\"annotations\":{\"liqolet.io/home-uid\":"
           "\"\xc3\xa9\\t\"}}}");

    /* invalid parameters: every call says so */
    lq_forge_conf_params_t bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = CM;
    bad[0].remote_name = NULL;
    bad[1].remote_ns = "";
    bad[2].home_id = NULL;
    bad[3].foreign_id = "";
    bad[4].home_uid = NULL;
    bad[5].kind = (lq_forge_conf_kind_t)7;
    for (int i = 0; i < 6; i++) {
        lq_forge_conf_t f;
        lq_forge_conf_begin(&f, &bad[i], NULL, NULL);
        assert_int_equal(lq_forge_conf_feed(&f, "{}", 2), LQ_EINVAL);
        assert_int_equal(lq_forge_conf_end(&f), LQ_EINVAL);
    }
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, NULL, NULL, NULL);
    assert_int_equal(lq_forge_conf_feed(&f, "{}", 2), LQ_EINVAL);
    lq_forge_conf_begin(NULL, &CM, NULL, NULL); /* nothing happens */
    assert_int_equal(lq_forge_conf_feed(NULL, "{}", 2), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_end(NULL), LQ_EINVAL);
    lq_forge_conf_begin(&f, &CM, NULL, NULL);
    assert_int_equal(lq_forge_conf_feed(&f, NULL, 0), LQ_OK);
    assert_int_equal(lq_forge_conf_feed(&f, NULL, 1), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_feed(&f, "{}", 2), LQ_EINVAL); /* sticky */
}

/* ---- facts ----------------------------------------------------------------------------------- */

static size_t g_last_len; /* output length of the last facts_of() */

static lq_forge_conf_facts_t facts_of(const lq_forge_conf_params_t *p, const char *in_sq)
{
    const char *in = Q(in_sq);
    size_t n = strlen(in);
    memcpy(g_in, in, n + 1);
    run_t r = all_ways(p, g_in, n);
    if (r.err != LQ_OK)
        fail_msg("%s on %s", lq_err_name(r.err), g_in);
    g_last_len = r.len;
    return r.facts;
}

static void test_facts_skip_allow(void **state)
{
    (void)state;
    static const struct {
        const char *value; /* JSON text of the value */
        bool is_false;
    } v[] = {
        {"'false'", true}, {"'f\\u0061lse'", true}, {"'\\u0066alse'", true}, {"'true'", false},
        {"''", false}, {"'False'", false}, {"'falsey'", false}, {"'fals'", false},
        {"'fals\\u00e9'", false}, {"' false'", false},
    };
    char in[256];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        snprintf(in, sizeof in, "{'metadata':{'annotations':{'liqo.io/skip-reflection':%s}}}", v[i].value);
        lq_forge_conf_facts_t f = facts_of(&CM, in);
        assert_true(f.skip);
        assert_int_equal(f.skip_false, v[i].is_false);
        assert_false(f.allow || f.allow_false);
        snprintf(in, sizeof in, "{'metadata':{'annotations':{'liqo.io/allow-reflection':%s}}}", v[i].value);
        f = facts_of(&SEC, in);
        assert_true(f.allow);
        assert_int_equal(f.allow_false, v[i].is_false);
        assert_false(f.skip || f.skip_false);
    }
    /* not annotations: no facts */
    lq_forge_conf_facts_t f = facts_of(&CM, "{'metadata':{'labels':{'liqo.io/skip-reflection':'x'}},"
                                            "'data':{'liqo.io/allow-reflection':'y'}}");
    assert_false(f.skip || f.allow);
    /* the last duplicate counts (as in Go's decoding into a map) */
    f = facts_of(&CM, "{'metadata':{'annotations':{'liqo.io/skip-reflection':'true','liqo.io/skip-reflection':'false'}}}");
    assert_true(f.skip && f.skip_false);
    /* the annotations are copied */
    expect(&CM, "{'metadata':{'annotations':{'liqo.io/skip-reflection':'false'}}}",
           CM_HEAD ",\"annotations\":{\"liqo.io/skip-reflection\":\"false\"," HOME_ANN "},\"labels\":{" OWN_LABELS "}}}");
}

static void test_facts_meta(void **state)
{
    (void)state;
    lq_forge_conf_facts_t f = facts_of(&CM, "{'metadata':{'deletionTimestamp':null,'uid':'u-1','resourceVersion':'9'}}");
    assert_false(f.deleting);
    assert_string_equal(f.uid, "u-1");
    assert_string_equal(f.rv, "9");
    f = facts_of(&CM, "{'metadata':{'deletionTimestamp':'2026-05-01T10:00:00Z','deletionGracePeriodSeconds':0}}");
    assert_true(f.deleting);
    assert_string_equal(f.uid, "");
    assert_string_equal(f.rv, "");
    /* escapes are decoded; null is absent */
    f = facts_of(&CM, "{'metadata':{'uid':'a\\u002db','resourceVersion':null}}");
    assert_string_equal(f.uid, "a-b");
    assert_string_equal(f.rv, "");
    /* only metadata's: not those of other members */
    f = facts_of(&CM, "{'metadata':{'x':{'uid':'no','deletionTimestamp':'t'}},'status':{'uid':'no'}}");
    assert_string_equal(f.uid, "");
    assert_false(f.deleting);
    /* the largest that fit */
    char in[512];
    snprintf(in, sizeof in, "{'metadata':{'uid':'%063d','resourceVersion':'%031d'}}", 7, 8);
    f = facts_of(&CM, in);
    assert_int_equal(strlen(f.uid), 63);
    assert_int_equal(strlen(f.rv), 31);

    /* Secret type: kept, too long, only for Secrets */
    char type[300];
    memset(type, 't', sizeof type);
    snprintf(in, sizeof in, "{'type':'%.*s'}", (int)(LQ_FORGE_CONF_TYPE_MAX - 1), type);
    f = facts_of(&SEC, in);
    assert_int_equal(strlen(f.type), LQ_FORGE_CONF_TYPE_MAX - 1);
    assert_false(f.type_long);
    snprintf(in, sizeof in, "{'type':'%.*s'}", (int)LQ_FORGE_CONF_TYPE_MAX, type);
    f = facts_of(&SEC, in);
    assert_string_equal(f.type, "");
    assert_true(f.type_long);
    assert_non_null(find(g_out, g_last_len, type, LQ_FORGE_CONF_TYPE_MAX)); /* still copied */
    f = facts_of(&SEC, "{'type':'kubernetes.io\\/service-account-token'}");
    assert_string_equal(f.type, LQ_FORGE_CONF_SA_TOKEN);
    f = facts_of(&CM, "{'type':'Opaque'}");
    assert_string_equal(f.type, "");
}

/* meta_done: the facts of metadata are final before the (large) rest is read. */
static void test_meta_done_early(void **state)
{
    (void)state;
    const char *in = Q("{'kind':'ConfigMap','metadata':{'uid':'u','annotations':{'liqo.io/skip-reflection':''}},"
                       "'data':{'k':'v'}}");
    const char *cut = strstr(in, ",\"data\"");
    assert_non_null(cut);
    lq_forge_conf_t f;
    sink_t s = {g_out, OUT_CAP, 0, 0, 0, LQ_OK};
    lq_forge_conf_begin(&f, &CM, sink_write, &s);
    assert_int_equal(lq_forge_conf_feed(&f, in, (size_t)(cut - in) - 1), LQ_OK);
    assert_false(f.meta_done);
    assert_int_equal(lq_forge_conf_feed(&f, cut - 1, 1), LQ_OK);
    assert_true(f.meta_done);
    assert_true(f.facts.skip);
    assert_false(lq_forge_conf_wanted(&f.facts, LQ_FORGE_CONF_DENYLIST));
    assert_string_equal(f.facts.uid, "u");
    /* the metadata object is already written */
    assert_int_equal(f.out, s.len);
    assert_true(s.len > 0 && g_out[s.len - 1] == '}');
    assert_int_equal(lq_forge_conf_feed(&f, cut, strlen(cut)), LQ_OK);
    assert_int_equal(lq_forge_conf_end(&f), LQ_OK);
    assert_int_equal(lq_forge_conf_end(&f), LQ_OK); /* idempotent */
    assert_int_equal(lq_forge_conf_feed(&f, " ", 1), LQ_ESTATE);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "   ", "[]", "'x'", "1", "null", "true", "{", "{'a':1", "{'a'", "{'a':", "{}x", "{} {}", "{}}",
        "{'metadata':[]}", "{'metadata':'x'}", "{'metadata':1}", "{'metadata':{'labels':[]}}",
        "{'metadata':{'labels':'a'}}", "{'metadata':{'annotations':true}}",
        "{'metadata':{'labels':{'a':1}}}", "{'metadata':{'labels':{'a':null}}}",
        "{'metadata':{'annotations':{'a':{}}}}", "{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':1}}}",
        "{'data':[]}", "{'data':'x'}", "{'data':{'a':1}}", "{'data':{'a':{}}}", "{'data':{'a':null}}",
        "{'binaryData':1}", "{'binaryData':{'a':['x']}}", "{'immutable':'true'}", "{'immutable':1}",
        "{'metadata':{'uid':5}}", "{'metadata':{'resourceVersion':{}}}", "{'metadata':{'uid':'a\\u0000'}}",
        "{'a':tru}", "{'a':nul}", "{'a':True}", "{'a':01}", "{'a':1.}", "{'a':-}", "{'a':1e}", "{'a':1e+}",
        "{'a':.5}", "{'a':+1}", "{'a':0x1}", "{'a':'\\x'}", "{'a':'\\u12G4'}", "{'a':'\\ud800'}",
        "{'a':'\\udc00'}", "{'a':'\\ud800\\u0041'}", "{'a':'\\ud800x'}", "{'a':'\\ud800\\n'}",
        "{'a' 1}", "{'a':1,}", "{,}", "{'a':[1,]}", "{'a':1]", "{'a':[}", "{'a':[1 2]}", "{'a':{'b'}}",
        "{a:1}", "{'a':'b'  'c':1}", "{'a':[1}]", "{'a':'unterminated}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *in = Q(bad[i]);
        lq_err_t e = run_err(&CM, in, strlen(in));
        if (e != LQ_EPROTO)
            fail_msg("%s: %s", lq_err_name(e), in);
    }
    /* a Secret's type must be a string */
    const char *in = Q("{'type':1}");
    assert_int_equal(run_err(&SEC, in, strlen(in)), LQ_EPROTO);
    assert_int_equal(run_err(&CM, in, strlen(in)), LQ_OK); /* dropped by a ConfigMap */
    in = Q("{'type':'a\\u0000'}");
    assert_int_equal(run_err(&SEC, in, strlen(in)), LQ_EPROTO);

    /* raw control characters in strings; a raw NUL anywhere */
    const char ctl[] = "{\"a\":\"x\x01y\"}", tab[] = "{\"a\":\"x\ty\"}", nul[] = "{\"a\":1\0}";
    assert_int_equal(run_err(&CM, ctl, sizeof ctl - 1), LQ_EPROTO);
    assert_int_equal(run_err(&CM, tab, sizeof tab - 1), LQ_EPROTO);
    assert_int_equal(run_err(&CM, nul, sizeof nul - 1), LQ_EPROTO);

    /* uid / resourceVersion over their buffers */
    char buf[256];
    snprintf(buf, sizeof buf, "{\"metadata\":{\"uid\":\"%064d\"}}", 1);
    assert_int_equal(run_err(&CM, buf, strlen(buf)), LQ_EPROTO);
    snprintf(buf, sizeof buf, "{\"metadata\":{\"resourceVersion\":\"%032d\"}}", 1);
    assert_int_equal(run_err(&CM, buf, strlen(buf)), LQ_EPROTO);

    /* nesting: 64 containers are fine, 65 are not (arrays, then objects) */
    static char deep[512];
    for (size_t d = LQ_FORGE_CONF_DEPTH_MAX - 1; d <= LQ_FORGE_CONF_DEPTH_MAX + 1; d++) {
        size_t n = (size_t)snprintf(deep, sizeof deep, "{\"x\":");
        for (size_t k = 1; k < d; k++)
            deep[n++] = '[';
        for (size_t k = 1; k < d; k++)
            deep[n++] = ']';
        deep[n++] = '}';
        assert_int_equal(run_err(&CM, deep, n), d <= LQ_FORGE_CONF_DEPTH_MAX ? LQ_OK : LQ_EPROTO);
    }
    size_t n = 0;
    deep[n++] = '{';
    for (size_t k = 1; k < LQ_FORGE_CONF_DEPTH_MAX; k++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "\"a\":{");
    for (size_t k = 0; k < LQ_FORGE_CONF_DEPTH_MAX; k++)
        deep[n++] = '}';
    assert_int_equal(run_err(&CM, deep, n), LQ_OK);               /* 64 objects */
    memmove(deep + 5, deep, n);
    memcpy(deep, "{\"b\":", 5);
    deep[n + 5] = '}';
    assert_int_equal(run_err(&CM, deep, n + 6), LQ_EPROTO);       /* 65 */

    /* sticky: after an error every call returns it */
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, &CM, NULL, NULL);
    assert_int_equal(lq_forge_conf_feed(&f, "[", 1), LQ_EPROTO);
    assert_int_equal(lq_forge_conf_feed(&f, "{}", 2), LQ_EPROTO);
    assert_int_equal(lq_forge_conf_end(&f), LQ_EPROTO);
    /* a truncated object at _end, after any prefix of a valid one */
    size_t len = lq_vec_read("conf", "cm-full.json", g_in, sizeof g_in);
    while (g_in[len - 1] == '\n')
        len--;
    for (size_t cut = 0; cut < len; cut++) {
        lq_forge_conf_begin(&f, &CM, NULL, NULL);
        assert_int_equal(lq_forge_conf_feed(&f, g_in, cut), LQ_OK);
        assert_int_equal(lq_forge_conf_end(&f), LQ_EPROTO);
    }
}

/* The out callback's error stops the transform and is returned as it is, sticky. */
static void test_out_error(void **state)
{
    (void)state;
    size_t n = lq_vec_read("conf", "cm-full.json", g_in, sizeof g_in);
    run_t ok = stream(&CM, g_in, n, 0, g_out);
    assert_int_equal(ok.err, LQ_OK);
    for (size_t at = 1; at <= ok.len; at += 37) {
        for (size_t piece = 0; piece <= 5; piece += 5) {
            sink_t s = {g_out2, OUT_CAP, 0, 0, at, LQ_EIO};
            lq_forge_conf_t f;
            lq_forge_conf_begin(&f, &CM, sink_write, &s);
            lq_err_t e = LQ_OK;
            size_t off = 0;
            while (e == LQ_OK && off < n) {
                size_t k = piece == 0 ? n : piece;
                if (k > n - off)
                    k = n - off;
                e = lq_forge_conf_feed(&f, g_in + off, k);
                off += k;
            }
            if (e == LQ_OK)
                e = lq_forge_conf_end(&f);
            assert_int_equal(e, LQ_EIO);
            size_t calls = s.calls;
            assert_int_equal(lq_forge_conf_feed(&f, "}", 1), LQ_EIO);
            assert_int_equal(lq_forge_conf_end(&f), LQ_EIO);
            assert_int_equal(s.calls, calls); /* never called again */
            assert_true(s.len < at);
            assert_memory_equal(g_out2, g_out, s.len); /* what went out was right */
        }
    }
}

static void test_build(void **state)
{
    (void)state;
    size_t n = lq_vec_read("conf", "secret-full.json", g_in, sizeof g_in);
    lq_forge_conf_params_t p = SEC;
    p.remote_name = "db-creds";
    run_t r = stream(&p, g_in, n, 0, g_out);
    assert_int_equal(r.err, LQ_OK);

    static char buf[8192];
    size_t len = 0;
    uint64_t h = 0;
    lq_forge_conf_facts_t facts;
    memset(&facts, 0x55, sizeof facts);
    assert_int_equal(lq_forge_conf_build(&p, g_in, n, buf, r.len, &len, &facts, &h), LQ_OK);
    assert_int_equal(len, r.len);
    assert_memory_equal(buf, g_out, len);
    assert_true(h == r.hash);
    assert_memory_equal(&facts, &r.facts, sizeof facts);
    assert_int_equal(lq_forge_conf_build(&p, g_in, n, buf, sizeof buf, &len, NULL, NULL), LQ_OK);
    assert_int_equal(len, r.len);
    /* one byte short: LQ_ETOOBIG, and nothing written past cap */
    memset(buf, '#', sizeof buf);
    len = 12345;
    assert_int_equal(lq_forge_conf_build(&p, g_in, n, buf, r.len - 1, &len, &facts, &h), LQ_ETOOBIG);
    assert_int_equal(len, 12345);
    assert_int_equal(buf[r.len - 1], '#');
    assert_int_equal(lq_forge_conf_build(&p, g_in, n, NULL, 0, &len, NULL, NULL), LQ_ETOOBIG);
    /* errors of the input and of the arguments */
    assert_int_equal(lq_forge_conf_build(&p, "[]", 2, buf, sizeof buf, &len, NULL, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_conf_build(&p, "{", 1, buf, sizeof buf, &len, NULL, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_conf_build(NULL, "{}", 2, buf, sizeof buf, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_build(&p, "{}", 2, buf, sizeof buf, NULL, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_build(&p, "{}", 2, NULL, 10, &len, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_build(&p, NULL, 2, buf, sizeof buf, &len, NULL, NULL), LQ_EINVAL);
}

/* ---- a large object ----------------------------------------------------------------------- */

#define BIG_IN  (1300u * 1024u)
static char g_big[BIG_IN];
static unsigned char g_arena_a[8u * 1024u * 1024u];
static unsigned char g_arena_b[8u * 1024u * 1024u];

static void test_large_streamed(void **state)
{
    (void)state;
    static const char *const parts[] = {
        "line of text\\n", "\\\"quoted\\\"", "back\\\\slash", "caf\\u00e9", "\\ud83d\\ude00",
        "\\u2028", "\\/", "tab\\t", "\\u003chtml\\u003e", "plain ascii 0123456789 ",
    };
    size_t n = 0;
    n += (size_t)snprintf(g_big, BIG_IN, "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"big\","
                                         "\"uid\":\"u-big\",\"resourceVersion\":\"42\",\"labels\":{\"app\":\"big\"}},"
                                         "\"data\":{");
    size_t data_start = n - 1, keys = 0;
    while (n < 1200u * 1024u) {
        n += (size_t)snprintf(g_big + n, BIG_IN - n, "%s\"key-%zu.txt\":\"", keys ? "," : "", keys);
        for (size_t i = 0; i < 30000u / 16u; i++) {
            const char *p = parts[(i * 7u + keys) % (sizeof parts / sizeof parts[0])];
            size_t l = strlen(p);
            memcpy(g_big + n, p, l);
            n += l;
        }
        g_big[n++] = '"';
        keys++;
    }
    g_big[n++] = '}';
    size_t data_end = n;
    n += (size_t)snprintf(g_big + n, BIG_IN - n, ",\"binaryData\":{\"b\":\"%s\"}}", "AAECAwQFBgcICQ==");
    assert_true(n > 1200u * 1024u && n < BIG_IN);

    /* streamed in small pieces through the sink: the state stays small */
    assert_true(sizeof(lq_forge_conf_t) <= 1024u);
    sink_t s = {g_out, OUT_CAP, 0, 0, 0, LQ_OK};
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, &CM, sink_write, &s);
    for (size_t off = 0; off < n; off += 4093u) {
        size_t k = n - off < 4093u ? n - off : 4093u;
        assert_int_equal(lq_forge_conf_feed(&f, g_big + off, k), LQ_OK);
    }
    assert_int_equal(lq_forge_conf_end(&f), LQ_OK);
    assert_true(f.hash == fnv(g_out, s.len));
    assert_string_equal(f.facts.uid, "u-big");
    assert_true(s.calls < 3u * (n / 4093u) + 64u); /* copied in runs, not byte by byte */

    /* the data object is in the output byte for byte */
    const char *d = find(g_out, s.len, ",\"data\":{", 9);
    assert_non_null(d);
    assert_true((size_t)(g_out + s.len - (d + 8)) >= data_end - data_start);
    assert_memory_equal(d + 8, g_big + data_start, data_end - data_start);

    /* and re-parsed, its values equal the input's */
    lq_json_doc_t da, db;
    lq_json_doc_init(&da, g_arena_a, sizeof g_arena_a);
    lq_json_doc_init(&db, g_arena_b, sizeof g_arena_b);
    lq_json_t *in = NULL, *out = NULL;
    assert_int_equal(lq_json_parse(&da, g_big, n, &in), LQ_OK);
    assert_int_equal(lq_json_parse(&db, g_out, s.len, &out), LQ_OK);
    const lq_json_t *din = lq_json_get(in, "data"), *dout = lq_json_get(out, "data");
    assert_int_equal(lq_json_size(dout), keys);
    assert_int_equal(lq_json_size(din), keys);
    for (const lq_json_t *a = lq_json_first(din), *b = lq_json_first(dout); a || b;
         a = lq_json_next(a), b = lq_json_next(b)) {
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(lq_json_key(a), lq_json_key(b));
        lq_json_str_t va, vb;
        assert_int_equal(lq_json_str(a, &va), LQ_OK);
        assert_int_equal(lq_json_str(b, &vb), LQ_OK);
        assert_int_equal(va.len, vb.len);
        assert_memory_equal(va.p, vb.p, va.len);
    }
    lq_json_str_t v;
    assert_int_equal(lq_json_str(LQ_JSON_AT(out, "binaryData", "b"), &v), LQ_OK);
    assert_string_equal(v.p, "AAECAwQFBgcICQ==");
    assert_int_equal(lq_json_str(LQ_JSON_AT(out, "metadata", "labels", "app"), &v), LQ_OK);
    assert_string_equal(v.p, "big");
    assert_int_equal(lq_json_str(LQ_JSON_AT(out, "metadata", "annotations", LQ_FORGE_CONF_ANN_HOME_UID), &v), LQ_OK);
    assert_string_equal(v.p, HOME_UID);

    /* count and hash only: the same */
    lq_forge_conf_t g;
    lq_forge_conf_begin(&g, &CM, NULL, NULL);
    assert_int_equal(lq_forge_conf_feed(&g, g_big, n), LQ_OK);
    assert_int_equal(lq_forge_conf_end(&g), LQ_OK);
    assert_true(g.hash == f.hash);
    assert_int_equal(g.out, s.len);
    assert_int_equal(g.in, n);
}

/* ---- names and policy ------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, HOME_ID, out, sizeof out), LQ_OK);
    assert_string_equal(out, "kube-root-ca.crt.5a1c2");
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, "ab", out, sizeof out), LQ_OK);
    assert_string_equal(out, "kube-root-ca.crt.ab");
    /* only a ConfigMap named exactly so */
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "kube-root-ca.crt", 16, HOME_ID, out, sizeof out), LQ_OK);
    assert_string_equal(out, "kube-root-ca.crt");
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crtx", 16, HOME_ID, out, sizeof out), LQ_OK);
    assert_string_equal(out, "kube-root-ca.crt.5a1c2"); /* the name is name[0..len) */
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt2", 17, HOME_ID, out, sizeof out), LQ_OK);
    assert_string_equal(out, "kube-root-ca.crt2");
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "web-config!", 10, HOME_ID, out, sizeof out), LQ_OK);
    assert_string_equal(out, "web-config");
    /* sizes */
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, HOME_ID, out, LQ_FORGE_CONF_ROOT_CA_BUF), LQ_OK);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, HOME_ID, out, LQ_FORGE_CONF_ROOT_CA_BUF - 1), LQ_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, HOME_ID, out, 4), LQ_OK);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, HOME_ID, out, 3), LQ_ETOOBIG);
    assert_string_equal(out, "");
    /* invalid */
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, HOME_ID, NULL, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, HOME_ID, out, 0), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, NULL, 3, HOME_ID, out, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 0, HOME_ID, out, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "a\0c", 3, HOME_ID, out, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, "", out, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_SECRET, "abc", 3, NULL, out, 4), LQ_EINVAL);
    assert_int_equal(lq_forge_conf_remote_name((lq_forge_conf_kind_t)2, "abc", 3, HOME_ID, out, 4), LQ_EINVAL);

    /* home names */
    const char *name = NULL;
    size_t len = 0;
    const char rca[] = "kube-root-ca.crt.5a1c2";
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, rca, sizeof rca - 1, HOME_ID, &name, &len));
    assert_int_equal(len, 16);
    assert_memory_equal(name, "kube-root-ca.crt", 16);
    /* the foreign cluster's own root CA is not ours */
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, HOME_ID, &name, &len));
    /* another home id's renamed CA, and other names, map to themselves */
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt.ffff0", 22, HOME_ID, &name, &len));
    assert_int_equal(len, 22);
    assert_memory_equal(name, "kube-root-ca.crt.ffff0", 22);
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, rca, sizeof rca - 2, HOME_ID, &name, &len));
    assert_ptr_equal(name, rca);
    assert_int_equal(len, sizeof rca - 2);
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt.ab", 19, "ab", &name, &len));
    assert_int_equal(len, 16);
    const char web[] = "web-config";
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, web, 10, HOME_ID, &name, &len));
    assert_ptr_equal(name, web);
    assert_int_equal(len, 10);
    /* Secrets are never renamed, not even one named like the root CA */
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_SECRET, "kube-root-ca.crt", 16, HOME_ID, &name, &len));
    assert_int_equal(len, 16);
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_SECRET, rca, sizeof rca - 1, HOME_ID, &name, &len));
    assert_int_equal(len, sizeof rca - 1);
    /* round trip */
    assert_int_equal(lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, "xy", out, sizeof out), LQ_OK);
    assert_true(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, out, strlen(out), "xy", &name, &len));
    assert_int_equal(len, 16);
    /* invalid */
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, NULL, 3, HOME_ID, &name, &len));
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, web, 0, HOME_ID, &name, &len));
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, web, 10, "", &name, &len));
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, web, 10, HOME_ID, NULL, &len));
    assert_false(lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, web, 10, HOME_ID, &name, NULL));
    assert_false(lq_forge_conf_home_name((lq_forge_conf_kind_t)5, web, 10, HOME_ID, &name, &len));
}

static void test_policy(void **state)
{
    (void)state;
    /* present, value "false": wanted under deny / allow */
    static const struct {
        bool present, is_false, deny, allow;
    } t[] = {
        {false, false, true, false},
        {true, false, false, true},
        {true, true, true, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_forge_conf_facts_t f;
        memset(&f, 0, sizeof f);
        f.skip = t[i].present, f.skip_false = t[i].is_false;
        assert_int_equal(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_DENYLIST), t[i].deny);
        assert_false(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_ALLOWLIST)); /* allow absent */
        memset(&f, 0, sizeof f);
        f.allow = t[i].present, f.allow_false = t[i].is_false;
        assert_int_equal(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_ALLOWLIST), t[i].allow);
        assert_true(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_DENYLIST)); /* skip absent */
    }
    /* both: each policy reads its own annotation */
    lq_forge_conf_facts_t f;
    memset(&f, 0, sizeof f);
    f.skip = f.allow = true;
    assert_false(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_DENYLIST));
    assert_true(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_ALLOWLIST));
    assert_false(lq_forge_conf_wanted(NULL, LQ_FORGE_CONF_DENYLIST));
    assert_false(lq_forge_conf_wanted(&f, (lq_forge_conf_policy_t)9));
    /* end to end, from an object */
    f = facts_of(&CM, "{'metadata':{'annotations':{'liqo.io/allow-reflection':'false'}}}");
    assert_false(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_ALLOWLIST));
    assert_true(lq_forge_conf_wanted(&f, LQ_FORGE_CONF_DENYLIST));
}

/* ---- no heap ---------------------------------------------------------------------------------- */

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    size_t n = lq_vec_read("conf", "cm-full.json", g_in, sizeof g_in);
    size_t len = 0;
    char name[LQ_FORGE_CONF_ROOT_CA_BUF];
    const char *hn = NULL;
    size_t hl = 0;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t e0 = lq_forge_conf_build(&CM, g_in, n, g_out, OUT_CAP, &len, NULL, NULL);
    lq_err_t e1 = lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, "kube-root-ca.crt", 16, HOME_ID, name, sizeof name);
    bool b = lq_forge_conf_home_name(LQ_FORGE_CONF_CONFIGMAP, name, strlen(name), HOME_ID, &hn, &hl);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(e0, LQ_OK);
    assert_int_equal(e1, LQ_OK);
    assert_true(b);
    assert_true(len > 0);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_configmap),
        cmocka_unit_test(test_golden_secret),
        cmocka_unit_test(test_labels_annotations),
        cmocka_unit_test_teardown(test_v1_names, back_to_v08),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_remote_uid_precondition),
        cmocka_unit_test(test_param_escaping),
        cmocka_unit_test(test_facts_skip_allow),
        cmocka_unit_test(test_facts_meta),
        cmocka_unit_test(test_meta_done_early),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_out_error),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_large_streamed),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_no_heap_after_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
