/* Unit tests of src/forge/offload.c: remote namespace names (with the 63-character
 * boundary), the cluster selector's operator table, the remote and home namespace
 * objects, the status conditions / phase / merge patch of a NamespaceOffloading with one,
 * two and three keys, and the fallback classifier of home pods.
 *
 * Produced objects are compared byte for byte with hand-written golden files in
 * tests/vectors/forge/offload/ (LQ_TEST_VECTORS overrides tests/vectors; the tests run
 * from the repository root). LQ_UPDATE_GOLDEN=1 rewrites the goldens from the output:
 * review every rewritten file against liqo-v0.8-behaviour.md §3 before keeping it.
 *
 * Inputs are written with single quotes (J() turns them into double quotes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/forge_offload.h"
#include "lq_vectors.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "liqolet/tls.h"


static unsigned char g_arena[64 * 1024];
static lq_json_doc_t g_doc;
static char g_text[8192];
static char g_out[8192];
static char g_gold[8192];

static int setup(void **state)
{
    (void)state;
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    return 0;
}

/* Parses a single-quoted JSON text into g_doc. */
static lq_json_t *J(const char *s)
{
    size_t n = strlen(s);
    assert_true(n < sizeof g_text);
    for (size_t i = 0; i <= n; i++)
        g_text[i] = s[i] == '\'' ? '"' : s[i];
    lq_json_t *root = NULL;
    assert_int_equal(lq_json_parse(&g_doc, g_text, n, &root), LQ_OK);
    return root;
}

static const char *print(const lq_json_t *item)
{
    size_t len;
    assert_int_equal(lq_json_print(item, g_out, sizeof g_out, &len), LQ_OK);
    return g_out;
}

/* Compares the printed item with tests/vectors/forge/offload/<name>.json (one line of
 * JSON and a newline). */
static void golden(const char *name, const lq_json_t *item)
{
    const char *got = print(item);
    char file[256];
    snprintf(file, sizeof file, "%s.json", name);
    if (lq_vec_updating()) {
        lq_vec_write("offload", file, got, strlen(got));
        return;
    }
    size_t n = lq_vec_read("offload", file, g_gold, sizeof g_gold);
    while (n > 0 && (g_gold[n - 1] == '\n' || g_gold[n - 1] == '\r'))
        g_gold[--n] = '\0';
    if (strcmp(g_gold, got) != 0)
        fail_msg("golden %s differs:\n  want %s\n  got  %s", name, g_gold, got);
}

/* ---- spec and names ------------------------------------------------------------------ */

static void test_spec_parse(void **state)
{
    (void)state;
    lq_forge_offload_spec_t s;
    assert_int_equal(lq_forge_offload_spec_parse(J("{'metadata':{'name':'offloading'}}"), &s), LQ_OK);
    assert_int_equal(s.mapping, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    assert_int_equal(s.pods, LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE);
    assert_null(s.cluster_selector);
    assert_null(s.remote_name.p);

    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'namespaceMappingStrategy':'SelectedName',"
                                             "'remoteNamespaceName':'bar','podOffloadingStrategy':"
                                             "'Remote','clusterSelector':{'nodeSelectorTerms':[]}}}"),
                                           &s), LQ_OK);
    assert_int_equal(s.mapping, LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME);
    assert_int_equal(s.pods, LQ_FORGE_OFFLOAD_PODS_REMOTE);
    assert_non_null(s.cluster_selector);
    assert_string_equal(s.remote_name.p, "bar");

    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'namespaceMappingStrategy':'EnforceSameName',"
                                             "'podOffloadingStrategy':'Local'}}"), &s), LQ_OK);
    assert_int_equal(s.mapping, LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME);
    assert_int_equal(s.pods, LQ_FORGE_OFFLOAD_PODS_LOCAL);
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'podOffloadingStrategy':'LocalAndRemote',"
                                             "'namespaceMappingStrategy':'DefaultName'}}"), &s), LQ_OK);
    assert_int_equal(s.pods, LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE);

    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'namespaceMappingStrategy':'Other'}}"), &s), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'podOffloadingStrategy':'remote'}}"), &s), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'remoteNamespaceName':5}}"), &s), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'clusterSelector':[]}}"), &s), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':7}"), &s), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_spec_parse(NULL, &s), LQ_EINVAL);
}

static void test_hash_suffix(void **state)
{
    (void)state;
    unsigned char d[32];
    char sfx[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1];
    /* FIPS 180-2 vector: sha256("abc") = ba7816bf... */
    assert_int_equal(lq_tls_sha256("abc", 3, d), LQ_OK);
    lq_forge_offload_hash_suffix(d, sfx);
    assert_string_equal(sfx, "ba7816");
    memset(d, 0, sizeof d);
    d[0] = 0x0f, d[1] = 0xa0, d[2] = 0xff, d[3] = 0x12;
    lq_forge_offload_hash_suffix(d, sfx);
    assert_string_equal(sfx, "0fa0ff");
}

static void rep(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

static void test_default_name(void **state)
{
    (void)state;
    lq_forge_offload_spec_t s = {.mapping = LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME};
    char out[LQ_FORGE_OFFLOAD_NAME_BUF];
    size_t len;
    /* the example of §3.2 */
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "lively-voice", "dd8531", out, sizeof out, &len), LQ_OK);
    assert_string_equal(out, "foo-lively-voice-dd8531");
    assert_int_equal(len, 23);

    /* boundary: ns + 1 + 4 ("home") + 1 + 6 = ns + 12 */
    char ns[80];
    rep(ns, 'a', 51);
    assert_int_equal(lq_forge_offload_remote_name(&s, ns, "home", "0123ab", out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, 63);
    assert_int_equal(strlen(out), 63);
    assert_memory_equal(out + 51, "-home-0123ab", 13);
    rep(ns, 'a', 52);
    assert_int_equal(lq_forge_offload_remote_name(&s, ns, "home", "0123ab", out, sizeof out, &len), LQ_ETOOBIG);
    assert_int_equal(len, 64);
    assert_string_equal(out, ""); /* never truncated */

    /* invalid inputs */
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "Home", "0123ab", out, sizeof out, &len), LQ_ECONFIG);
    assert_string_equal(out, "");
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "home", "0123AB", out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "home", "0123a", out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "home", "0123abc", out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", NULL, "0123ab", out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "home", "0123ab", out, LQ_FORGE_OFFLOAD_NAME_MAX, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, NULL, "home", "0123ab", out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", "home", "0123ab", out, sizeof out, NULL), LQ_OK);
}

static void test_same_and_selected_name(void **state)
{
    (void)state;
    lq_forge_offload_spec_t s = {.mapping = LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME};
    char out[LQ_FORGE_OFFLOAD_NAME_BUF], ns[80];
    size_t len;
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", NULL, NULL, out, sizeof out, &len), LQ_OK);
    assert_string_equal(out, "foo");
    rep(ns, 'b', 63);
    assert_int_equal(lq_forge_offload_remote_name(&s, ns, NULL, NULL, out, sizeof out, &len), LQ_OK);
    assert_string_equal(out, ns);
    rep(ns, 'b', 64);
    assert_int_equal(lq_forge_offload_remote_name(&s, ns, NULL, NULL, out, sizeof out, &len), LQ_ETOOBIG);
    assert_int_equal(len, 64);

    s.mapping = LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME;
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", NULL, NULL, out, sizeof out, &len), LQ_ENOTFOUND);
    static const struct { const char *name; lq_err_t want; } t[] = {
        {"bar", LQ_OK}, {"b", LQ_OK}, {"0", LQ_OK}, {"a-1", LQ_OK}, {"", LQ_ENOTFOUND},
        {"Bar", LQ_ECONFIG}, {"-bar", LQ_ECONFIG}, {"bar-", LQ_ECONFIG}, {"ba_r", LQ_ECONFIG},
        {"ba.r", LQ_ECONFIG}, {"ba r", LQ_ECONFIG},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        s.remote_name.p = t[i].name;
        s.remote_name.len = strlen(t[i].name);
        lq_err_t err = lq_forge_offload_remote_name(&s, "foo", NULL, NULL, out, sizeof out, &len);
        if (err != t[i].want)
            fail_msg("SelectedName '%s': %s, want %s", t[i].name, lq_err_name(err), lq_err_name(t[i].want));
        if (err == LQ_OK)
            assert_string_equal(out, t[i].name);
        else
            assert_string_equal(out, "");
    }
    rep(ns, 'c', 63);
    s.remote_name.p = ns, s.remote_name.len = 63;
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", NULL, NULL, out, sizeof out, &len), LQ_OK);
    rep(ns, 'c', 64);
    s.remote_name.len = 64;
    assert_int_equal(lq_forge_offload_remote_name(&s, "foo", NULL, NULL, out, sizeof out, &len), LQ_ETOOBIG);
    assert_int_equal(len, 64);

    /* through the parser */
    lq_forge_offload_spec_t p;
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'namespaceMappingStrategy':'SelectedName',"
                                             "'remoteNamespaceName':'team-a'}}"), &p), LQ_OK);
    assert_int_equal(lq_forge_offload_remote_name(&p, "foo", NULL, NULL, out, sizeof out, NULL), LQ_OK);
    assert_string_equal(out, "team-a");
    assert_int_equal(lq_forge_offload_spec_parse(J("{'spec':{'namespaceMappingStrategy':'SelectedName'}}"), &p), LQ_OK);
    assert_int_equal(lq_forge_offload_remote_name(&p, "foo", NULL, NULL, out, sizeof out, NULL), LQ_ENOTFOUND);

    assert_true(lq_forge_offload_dns_label_valid("a", 1));
    assert_false(lq_forge_offload_dns_label_valid("", 0));
    assert_false(lq_forge_offload_dns_label_valid(NULL, 3));
}

/* ---- cluster selector ----------------------------------------------------------------- */

static const lq_forge_offload_label_t LABELS[] = {
    {"liqo.io/type", "virtual-node"},
    {"topology.liqo.io/region", "eu-west"},
    {"tier", "gold"},
    {"cores", "8"},
    {"big", "9223372036854775807"},
    {"huge", "9223372036854775808"},
    {"text", "eight"},
    {"empty", ""},
    {"tier", "silver"}, /* a duplicate: the first occurrence wins */
};
#define NLABELS (sizeof LABELS / sizeof LABELS[0])

/* Wraps one requirement into a one-term selector. */
#define EXPR(r) "{'nodeSelectorTerms':[{'matchExpressions':[" r "]}]}"
#define FIELD(r) "{'nodeSelectorTerms':[{'matchFields':[" r "]}]}"

static void test_selector_table(void **state)
{
    (void)state;
    static const struct {
        const char *sel;
        bool want;
        size_t invalid;
    } t[] = {
        /* empty selects all */
        {"{}", true, 0},
        {"{'nodeSelectorTerms':[]}", true, 0},
        {"{'nodeSelectorTerms':null}", true, 0},
        /* In */
        {EXPR("{'key':'tier','operator':'In','values':['gold']}"), true, 0},
        {EXPR("{'key':'tier','operator':'In','values':['bronze','gold']}"), true, 0},
        {EXPR("{'key':'tier','operator':'In','values':['silver']}"), false, 0},
        {EXPR("{'key':'missing','operator':'In','values':['x']}"), false, 0},
        {EXPR("{'key':'empty','operator':'In','values':['']}"), true, 0},
        {EXPR("{'key':'tier','operator':'In','values':[]}"), false, 1},
        {EXPR("{'key':'tier','operator':'In'}"), false, 1},
        /* NotIn */
        {EXPR("{'key':'tier','operator':'NotIn','values':['silver']}"), true, 0},
        {EXPR("{'key':'tier','operator':'NotIn','values':['gold']}"), false, 0},
        {EXPR("{'key':'missing','operator':'NotIn','values':['x']}"), true, 0},
        {EXPR("{'key':'tier','operator':'NotIn','values':[]}"), false, 1},
        /* Exists / DoesNotExist */
        {EXPR("{'key':'tier','operator':'Exists'}"), true, 0},
        {EXPR("{'key':'empty','operator':'Exists'}"), true, 0},
        {EXPR("{'key':'missing','operator':'Exists'}"), false, 0},
        {EXPR("{'key':'missing','operator':'DoesNotExist'}"), true, 0},
        {EXPR("{'key':'tier','operator':'DoesNotExist'}"), false, 0},
        {EXPR("{'key':'tier','operator':'Exists','values':['gold']}"), false, 1},
        {EXPR("{'key':'missing','operator':'DoesNotExist','values':['x']}"), false, 1},
        /* Gt / Lt: integer comparison, strict */
        {EXPR("{'key':'cores','operator':'Gt','values':['4']}"), true, 0},
        {EXPR("{'key':'cores','operator':'Gt','values':['8']}"), false, 0},
        {EXPR("{'key':'cores','operator':'Gt','values':['10']}"), false, 0}, /* not a string compare */
        {EXPR("{'key':'cores','operator':'Lt','values':['10']}"), true, 0},
        {EXPR("{'key':'cores','operator':'Lt','values':['8']}"), false, 0},
        {EXPR("{'key':'big','operator':'Gt','values':['9223372036854775806']}"), true, 0},
        {EXPR("{'key':'big','operator':'Lt','values':['9223372036854775807']}"), false, 0},
        {EXPR("{'key':'huge','operator':'Gt','values':['1']}"), false, 0}, /* label over int64 */
        /* Gt/Lt values must also be label values: no sign (Kubernetes rejects "-4") */
        {EXPR("{'key':'cores','operator':'Gt','values':['-4']}"), false, 1},
        {EXPR("{'key':'cores','operator':'Gt','values':['+7']}"), false, 1},
        {EXPR("{'key':'text','operator':'Gt','values':['1']}"), false, 0},  /* label not int */
        {EXPR("{'key':'missing','operator':'Lt','values':['1']}"), false, 0},
        {EXPR("{'key':'cores','operator':'Gt','values':['x']}"), false, 1},
        {EXPR("{'key':'cores','operator':'Gt','values':['1','2']}"), false, 1},
        {EXPR("{'key':'cores','operator':'Gt'}"), false, 1},
        {EXPR("{'key':'cores','operator':'Gt','values':['9223372036854775808']}"), false, 1},
        {EXPR("{'key':'cores','operator':'Gt','values':['-9223372036854775808']}"), false, 1},
        /* label syntax of keys and values */
        {EXPR("{'key':'tier','operator':'In','values':['gold','not valid']}"), false, 1},
        {EXPR("{'key':'tier','operator':'NotIn','values':['-x']}"), false, 1},
        {EXPR("{'key':'tier','operator':'In','values':['Gold_1.x','gold']}"), true, 0},
        {EXPR("{'key':'Tier Key','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'/tier','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'Topology.liqo.io/region','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'a/b/c','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'topology..io/region','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'topology.liqo.io/','operator':'Exists'}"), false, 1},
        {EXPR("{'key':'topology.liqo.io/region','operator':'Exists'}"), true, 0},
        {EXPR("{'key':'topology.liqo.io/Region','operator':'DoesNotExist'}"), true, 0},
        {EXPR("{'key':'cores','operator':'Gt','values':['1.5']}"), false, 1},
        /* unknown operator */
        {EXPR("{'key':'tier','operator':'in','values':['gold']}"), false, 1},
        /* AND inside a term */
        {EXPR("{'key':'tier','operator':'In','values':['gold']},"
              "{'key':'topology.liqo.io/region','operator':'In','values':['eu-west']}"), true, 0},
        {EXPR("{'key':'tier','operator':'In','values':['gold']},"
              "{'key':'topology.liqo.io/region','operator':'In','values':['us-east']}"), false, 0},
        /* an invalid requirement spoils the whole term even when the others match */
        {EXPR("{'key':'tier','operator':'In','values':['gold']},"
              "{'key':'cores','operator':'Gt','values':['x']}"), false, 1},
        /* OR between terms */
        {"{'nodeSelectorTerms':[{'matchExpressions':[{'key':'tier','operator':'In','values':['x']}]},"
         "{'matchExpressions':[{'key':'cores','operator':'Gt','values':['2']}]}]}", true, 0},
        {"{'nodeSelectorTerms':[{'matchExpressions':[{'key':'tier','operator':'In','values':['x']}]},"
         "{'matchExpressions':[{'key':'cores','operator':'Gt','values':['20']}]}]}", false, 0},
        {"{'nodeSelectorTerms':[{'matchExpressions':[{'key':'cores','operator':'Gt','values':['x']}]},"
         "{'matchExpressions':[{'key':'tier','operator':'Exists'}]}]}", true, 1},
        /* an empty term matches nothing (and does not select all) */
        {"{'nodeSelectorTerms':[{}]}", false, 0},
        {"{'nodeSelectorTerms':[{'matchExpressions':[],'matchFields':[]}]}", false, 0},
        {"{'nodeSelectorTerms':[{},{'matchExpressions':[{'key':'tier','operator':'Exists'}]}]}", true, 0},
        /* matchFields: metadata.name only, In/NotIn with one value */
        {FIELD("{'key':'metadata.name','operator':'In','values':['liqo-foreign']}"), true, 0},
        {FIELD("{'key':'metadata.name','operator':'In','values':['liqo-other']}"), false, 0},
        {FIELD("{'key':'metadata.name','operator':'NotIn','values':['liqo-other']}"), true, 0},
        {FIELD("{'key':'metadata.name','operator':'NotIn','values':['liqo-foreign']}"), false, 0},
        {FIELD("{'key':'metadata.name','operator':'In','values':['a','liqo-foreign']}"), false, 1},
        {FIELD("{'key':'metadata.name','operator':'Exists'}"), false, 1},
        {FIELD("{'key':'metadata.uid','operator':'In','values':['x']}"), false, 1},
        /* matchExpressions AND matchFields in one term */
        {"{'nodeSelectorTerms':[{'matchExpressions':[{'key':'tier','operator':'Exists'}],"
         "'matchFields':[{'key':'metadata.name','operator':'In','values':['liqo-foreign']}]}]}", true, 0},
        {"{'nodeSelectorTerms':[{'matchExpressions':[{'key':'tier','operator':'Exists'}],"
         "'matchFields':[{'key':'metadata.name','operator':'In','values':['x']}]}]}", false, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool sel = !t[i].want;
        size_t inv = 99;
        lq_err_t err = lq_forge_offload_selector_match(J(t[i].sel), LABELS, NLABELS, "liqo-foreign", &sel, &inv);
        if (err != LQ_OK || sel != t[i].want || inv != t[i].invalid)
            fail_msg("row %zu %s: %s selected=%d invalid=%zu, want selected=%d invalid=%zu", i,
                     t[i].sel, lq_err_name(err), sel, inv, t[i].want, t[i].invalid);
    }
}

static void test_selector_errors(void **state)
{
    (void)state;
    bool sel;
    assert_int_equal(lq_forge_offload_selector_match(NULL, LABELS, NLABELS, "n", &sel, NULL), LQ_OK);
    assert_true(sel);
    assert_int_equal(lq_forge_offload_selector_match(J("null"), NULL, 0, NULL, &sel, NULL), LQ_OK);
    assert_true(sel);
    static const char *bad[] = {
        "[]",
        "{'nodeSelectorTerms':{}}",
        "{'nodeSelectorTerms':[5]}",
        "{'nodeSelectorTerms':[{'matchExpressions':{}}]}",
        EXPR("{'operator':'Exists'}"),
        EXPR("{'key':'tier'}"),
        EXPR("{'key':5,'operator':'Exists'}"),
        EXPR("{'key':'tier','operator':'In','values':'gold'}"),
        EXPR("{'key':'tier','operator':'In','values':[1]}"),
        EXPR("7"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lq_err_t err = lq_forge_offload_selector_match(J(bad[i]), LABELS, NLABELS, "n", &sel, NULL);
        if (err != LQ_EPROTO)
            fail_msg("%s: %s, want LQ_EPROTO", bad[i], lq_err_name(err));
    }
    assert_int_equal(lq_forge_offload_selector_match(J("{}"), NULL, 1, "n", &sel, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_selector_match(J("{}"), LABELS, NLABELS, "n", NULL, NULL), LQ_EINVAL);
    /* matchFields In with no node name never matches */
    assert_int_equal(lq_forge_offload_selector_match(J(FIELD("{'key':'metadata.name','operator':'In','values':['x']}")),
                                               LABELS, NLABELS, NULL, &sel, NULL), LQ_OK);
    assert_false(sel);
}

/* ---- remote and home namespaces --------------------------------------------------------- */

static void test_remote_ns(void **state)
{
    (void)state;
    lq_json_t *ns;
    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "foo-home-0123ab", "foo", "home-uid",
                                                "foreign-uid", LQ_FORGE_OFFLOAD_PSA_BASELINE, &ns), LQ_OK);
    golden("remote-namespace", ns);

    /* ownership */
    assert_true(lq_forge_offload_remote_ns_owned(ns, "home-uid", "foreign-uid", "foo"));
    assert_true(lq_forge_offload_remote_ns_owned(ns, "home-uid", "foreign-uid", NULL));
    assert_false(lq_forge_offload_remote_ns_owned(ns, "home-uid", "foreign-uid", "bar"));
    assert_false(lq_forge_offload_remote_ns_owned(ns, "other", "foreign-uid", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(ns, "home-uid", "other", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(ns, NULL, "foreign-uid", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(NULL, "home-uid", "foreign-uid", "foo"));
    /* a namespace created by someone else, and one created by Liqo itself */
    assert_false(lq_forge_offload_remote_ns_owned(J("{'metadata':{'name':'foo'}}"), "home-uid", "foreign-uid", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(J("{'metadata':{'name':'foo','labels':{'liqo.io/remote-cluster-id':"
                                              "'home-uid'},'annotations':{'liqo.io/original-name':'foo'}}}"),
                                            "home-uid", "foreign-uid", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(J("{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':5,"
                                              "'virtualkubelet.liqo.io/destination':'foreign-uid'}}}"),
                                            "home-uid", "foreign-uid", NULL));

    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "x", "x", NULL, "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns), LQ_EINVAL);
    char longid[300];
    rep(longid, 'h', 248);
    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "x", "x", longid, "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns), LQ_ETOOBIG);
    rep(longid, 'h', 247);
    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "x", "x", longid, "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns), LQ_OK);

    /* arena exhaustion is reported, never a partial object */
    static unsigned char small[64];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_offload_remote_ns_build(&d, "x", "x", "h", "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns), LQ_ETOOBIG);
    assert_null(ns);
}

/* ---- Pod Security of remote namespaces (issue 17 finding 8) ----------------------------- */

static void test_psa(void **state)
{
    (void)state;
    lq_json_t *ns, *patch;
    /* every level is written as the API server spells it; none writes no label */
    static const struct { lq_forge_offload_psa_t level; const char *text; } lv[] = {
        { LQ_FORGE_OFFLOAD_PSA_PRIVILEGED, "privileged" },
        { LQ_FORGE_OFFLOAD_PSA_BASELINE, "baseline" },
        { LQ_FORGE_OFFLOAD_PSA_RESTRICTED, "restricted" },
    };
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
        assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "r", "l", "h", "f", lv[i].level, &ns), LQ_OK);
        assert_true(lq_json_str_is(LQ_JSON_AT(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce"),
                                   lv[i].text));
        assert_int_equal(lq_forge_offload_psa_of(ns), lv[i].level);
        assert_string_equal(lq_forge_offload_psa_str(lv[i].level), lv[i].text);
        assert_int_equal(lq_forge_offload_psa_parse(lv[i].text, strlen(lv[i].text)), lv[i].level);
    }
    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "r", "l", "h", "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns), LQ_OK);
    assert_null(LQ_JSON_AT(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce"));
    assert_int_equal(lq_forge_offload_psa_of(ns), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_null(lq_forge_offload_psa_str(LQ_FORGE_OFFLOAD_PSA_NONE));
    assert_null(lq_forge_offload_psa_str((lq_forge_offload_psa_t)7));

    /* what a foreign label may say: unknown, wrong case, prefix, non-string = no level */
    assert_int_equal(lq_forge_offload_psa_parse("Baseline", 8), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_parse("base", 4), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_parse("baselinex", 9), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_parse("", 0), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_parse(NULL, 8), LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_of(J("{'metadata':{'labels':{'pod-security.kubernetes.io/enforce':3}}}")),
                     LQ_FORGE_OFFLOAD_PSA_NONE);
    assert_int_equal(lq_forge_offload_psa_of(J("{'metadata':{'labels':{'pod-security.kubernetes.io/enforce':'privileged'}}}")),
                     LQ_FORGE_OFFLOAD_PSA_PRIVILEGED);
    assert_int_equal(lq_forge_offload_psa_of(NULL), LQ_FORGE_OFFLOAD_PSA_NONE);

    /* raised only: missing or weaker labels are set again, a stricter one is the provider's */
    assert_true(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_NONE, LQ_FORGE_OFFLOAD_PSA_BASELINE));
    assert_true(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_PRIVILEGED, LQ_FORGE_OFFLOAD_PSA_BASELINE));
    assert_false(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_BASELINE, LQ_FORGE_OFFLOAD_PSA_BASELINE));
    assert_false(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_RESTRICTED, LQ_FORGE_OFFLOAD_PSA_BASELINE));
    assert_true(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_BASELINE, LQ_FORGE_OFFLOAD_PSA_RESTRICTED));
    assert_true(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_NONE, LQ_FORGE_OFFLOAD_PSA_PRIVILEGED));
    /* configured none: nothing is ever written */
    assert_false(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_NONE, LQ_FORGE_OFFLOAD_PSA_NONE));
    assert_false(lq_forge_offload_psa_weaker(LQ_FORGE_OFFLOAD_PSA_NONE, (lq_forge_offload_psa_t)9));

    /* the repair patch carries the UID as a precondition and nothing else */
    assert_int_equal(lq_forge_offload_psa_patch(&g_doc, "u-1", LQ_FORGE_OFFLOAD_PSA_RESTRICTED, &patch), LQ_OK);
    assert_string_equal(print(patch),
                        "{\"metadata\":{\"uid\":\"u-1\",\"labels\":"
                        "{\"pod-security.kubernetes.io/enforce\":\"restricted\"}}}");
    assert_int_equal(lq_forge_offload_psa_patch(&g_doc, "u-1", LQ_FORGE_OFFLOAD_PSA_NONE, &patch), LQ_EINVAL);
    assert_null(patch);
    assert_int_equal(lq_forge_offload_psa_patch(&g_doc, "", LQ_FORGE_OFFLOAD_PSA_BASELINE, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_psa_patch(&g_doc, NULL, LQ_FORGE_OFFLOAD_PSA_BASELINE, &patch), LQ_EINVAL);
    static unsigned char small[48];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_offload_psa_patch(&d, "u-1", LQ_FORGE_OFFLOAD_PSA_BASELINE, &patch), LQ_ETOOBIG);
}

/* The status already says it: compared field by field, key order ignored. */
/* compat v1: the other label family (include/liqolet/liqo.h) */
static int back_to_v08(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    return 0;
}

static void test_remote_ns_v1(void **state)
{
    (void)state;
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    lq_json_t *v1;
    assert_int_equal(lq_forge_offload_remote_ns_build(&g_doc, "foo-home-0123ab", "foo", "home-uid",
                                                      "foreign-uid", LQ_FORGE_OFFLOAD_PSA_BASELINE, &v1), LQ_OK);
    golden("remote-namespace.v1", v1);
    assert_true(lq_json_str_is(LQ_JSON_AT(v1, "metadata", "labels", "offloading.liqo.io/origin"), "home-uid"));
    assert_true(lq_json_str_is(LQ_JSON_AT(v1, "metadata", "labels", "offloading.liqo.io/destination"),
                               "foreign-uid"));
    assert_null(LQ_JSON_AT(v1, "metadata", "labels", "virtualkubelet.liqo.io/origin"));
    /* no nodename on namespaces: Liqo v1 puts it on pods (and token Secrets) only; the
     * fourth label is the Pod Security level */
    assert_int_equal(lq_json_size(LQ_JSON_AT(v1, "metadata", "labels")), 4);
    assert_true(lq_json_str_is(LQ_JSON_AT(v1, "metadata", "labels", "pod-security.kubernetes.io/enforce"),
                               "baseline"));
    assert_true(lq_forge_offload_remote_ns_owned(v1, "home-uid", "foreign-uid", "foo"));
    /* a namespace of the other family is not ours, each way */
    lq_json_t *v08 = J("{'metadata':{'labels':{'virtualkubelet.liqo.io/origin':'home-uid',"
                       "'virtualkubelet.liqo.io/destination':'foreign-uid'},"
                       "'annotations':{'liqo.io/original-name':'foo'}}}");
    assert_false(lq_forge_offload_remote_ns_owned(v08, "home-uid", "foreign-uid", "foo"));
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    assert_true(lq_forge_offload_remote_ns_owned(v08, "home-uid", "foreign-uid", "foo"));
    assert_false(lq_forge_offload_remote_ns_owned(v1, "home-uid", "foreign-uid", "foo"));
}

static void test_status_current(void **state)
{
    (void)state;
    const char *nsof_text =
        "{'metadata':{'generation':2},'status':{'remoteNamespacesConditions':{'other':[],'foreign':["
        "{'type':'Ready','status':'True','reason':'NamespaceCreated','message':'m','lastTransitionTime':'T'}]},"
        "'offloadingPhase':'Ready','remoteNamespaceName':'r','observedGeneration':2}}";
    lq_json_t *nsof = J(nsof_text);
    lq_json_t *same = J("[{'message':'m','lastTransitionTime':'T','status':'True','type':'Ready','reason':'NamespaceCreated'}]");
    lq_json_t *other = J("[{'type':'Ready','status':'True','reason':'NamespaceCreated','message':'n','lastTransitionTime':'T'}]");
    assert_true(lq_forge_offload_status_current(nsof, "foreign", same, LQ_FORGE_OFFLOAD_PHASE_READY, "r"));
    assert_true(lq_forge_offload_status_current(nsof, "foreign", same, LQ_FORGE_OFFLOAD_PHASE_READY, NULL));
    assert_false(lq_forge_offload_status_current(nsof, "foreign", other, LQ_FORGE_OFFLOAD_PHASE_READY, "r"));
    assert_false(lq_forge_offload_status_current(nsof, "foreign", same, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS, "r"));
    assert_false(lq_forge_offload_status_current(nsof, "foreign", same, LQ_FORGE_OFFLOAD_PHASE_READY, "s"));
    assert_false(lq_forge_offload_status_current(nsof, "foreign", NULL, LQ_FORGE_OFFLOAD_PHASE_READY, "r"));
    assert_false(lq_forge_offload_status_current(nsof, "missing", same, LQ_FORGE_OFFLOAD_PHASE_READY, "r"));
    lq_json_t *newer = J("{'metadata':{'generation':3},'status':{'remoteNamespacesConditions':{'foreign':["
                         "{'type':'Ready','status':'True','reason':'NamespaceCreated','message':'m','lastTransitionTime':'T'}]},"
                         "'offloadingPhase':'Ready','remoteNamespaceName':'r','observedGeneration':2}}");
    assert_false(lq_forge_offload_status_current(newer, "foreign", same, LQ_FORGE_OFFLOAD_PHASE_READY, "r"));
}

static void test_home_ns_patch(void **state)
{
    (void)state;
    lq_json_t *p;
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE, true, NULL, &p), LQ_OK);
    golden("home-ns-label-set", p);
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, true, NULL, &p), LQ_OK);
    golden("home-ns-label-set", p);
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_LOCAL, true, NULL, &p), LQ_OK);
    golden("home-ns-label-remove", p);
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, false, NULL, &p), LQ_OK);
    golden("home-ns-label-remove", p);
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, (lq_forge_offload_pods_t)7, true, NULL, &p), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_home_ns_patch(NULL, LQ_FORGE_OFFLOAD_PODS_REMOTE, true, NULL, &p), LQ_EINVAL);
    /* the agent's mark: set with the scheduling label, removed with it */
    lq_forge_offload_mark_t mark = { LQ_FORGE_OFFLOAD_MARK_PREFIX "foreign", "team-a-home-1a2b3c", "uid-1" };
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, true, &mark, &p), LQ_OK);
    golden("home-ns-label-set-mark", p);
    mark.name = NULL;
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, false, &mark, &p), LQ_OK);
    golden("home-ns-label-remove-mark", p);
    mark.name = "x";
    mark.uid = NULL;
    assert_int_equal(lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, true, &mark, &p), LQ_EINVAL);
}

/* ---- status ------------------------------------------------------------------------------ */

#define T0 "2026-11-23T10:00:00Z"
#define T1 "2026-11-23T11:00:00Z"

/* The conditions another agent (or this one, earlier) wrote for a key, by a letter:
 * R ready, F failed (CreationLoopBackOff), C creating, T terminating (selected),
 * N not selected (no namespace), D not selected and the namespace being deleted. */
static const char *key_conds(char c)
{
    switch (c) {
    case 'R':
        return "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "','reason':'ClusterSelected','message':'m'},"
               "{'type':'Ready','status':'True','lastTransitionTime':'" T0 "','reason':'NamespaceCreated','message':'m'}]";
    case 'F':
        return "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "','reason':'ClusterSelected','message':'m'},"
               "{'type':'Ready','status':'False','lastTransitionTime':'" T0 "','reason':'CreationLoopBackOff','message':'m'}]";
    case 'C':
        return "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "','reason':'ClusterSelected','message':'m'},"
               "{'type':'Ready','status':'False','lastTransitionTime':'" T0 "','reason':'Creating','message':'m'}]";
    case 'T':
        return "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "','reason':'ClusterSelected','message':'m'},"
               "{'type':'Ready','status':'False','lastTransitionTime':'" T0 "','reason':'Terminating','message':'m'}]";
    case 'D':
        return "[{'type':'OffloadingRequired','status':'False','lastTransitionTime':'" T0 "','reason':'ClusterNotSelected','message':'m'},"
               "{'type':'Ready','status':'False','lastTransitionTime':'" T0 "','reason':'Terminating','message':'m'}]";
    default:
        return "[{'type':'OffloadingRequired','status':'False','lastTransitionTime':'" T0 "','reason':'ClusterNotSelected','message':'m'}]";
    }
}

/* A NamespaceOffloading whose status holds keys "a", "b", ... for the letters of others. */
static lq_json_t *nsof_with(const char *others, bool deleting)
{
    static char buf[6144];
    size_t at = 0;
    at += (size_t)snprintf(buf + at, sizeof buf - at,
                           "{'metadata':{'name':'offloading','namespace':'foo','generation':3%s},"
                           "'status':{'remoteNamespacesConditions':{",
                           deleting ? ",'deletionTimestamp':'" T0 "'" : "");
    for (size_t i = 0; others[i]; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s'%c':%s", i ? "," : "",
                               (char)('a' + i), key_conds(others[i]));
    at += (size_t)snprintf(buf + at, sizeof buf - at, "}}}");
    assert_true(at < sizeof buf);
    return J(buf);
}

static void test_phase_table(void **state)
{
    (void)state;
    static const struct {
        const char *others;
        bool deleting, selected;
        lq_forge_offload_ns_state_t st;
        lq_forge_offload_phase_t want;
    } t[] = {
        /* one key (this agent only) */
        {"", true, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_TERMINATING},
        {"", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"", false, false, LQ_FORGE_OFFLOAD_NS_TERMINATING, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED},
        {"", false, true, LQ_FORGE_OFFLOAD_NS_CREATING, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"", false, true, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"", false, true, LQ_FORGE_OFFLOAD_NS_TERMINATING, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        /* two keys */
        {"R", true, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_TERMINATING},
        {"N", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"D", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"R", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"N", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"R", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"F", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED},
        {"F", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED},
        {"R", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED},
        {"F", false, true, LQ_FORGE_OFFLOAD_NS_CREATING, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED},
        {"C", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"R", false, true, LQ_FORGE_OFFLOAD_NS_CREATING, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"T", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        /* three keys */
        {"FF", true, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_TERMINATING},
        {"NN", false, false, LQ_FORGE_OFFLOAD_NS_NONE, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"ND", false, false, LQ_FORGE_OFFLOAD_NS_TERMINATING, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED},
        {"RR", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"RN", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_READY},
        {"FF", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED},
        {"FN", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED},
        {"RR", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED},
        {"RF", false, true, LQ_FORGE_OFFLOAD_NS_CREATING, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED},
        {"FC", false, true, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED},
        {"RC", false, true, LQ_FORGE_OFFLOAD_NS_CREATED, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"CC", false, true, LQ_FORGE_OFFLOAD_NS_CREATING, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS},
        {"RR", false, false, LQ_FORGE_OFFLOAD_NS_TERMINATING, LQ_FORGE_OFFLOAD_PHASE_READY},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_json_reset(&g_doc);
        lq_json_t *nsof = nsof_with(t[i].others, t[i].deleting);
        lq_forge_offload_status_in_t in = {.key = "me", .selected = t[i].selected, .state = t[i].st, .now = T1};
        lq_forge_offload_phase_t ph = (lq_forge_offload_phase_t)99;
        lq_err_t err = lq_forge_offload_status_build(&g_doc, nsof, &in, NULL, &ph, NULL);
        if (err != LQ_OK || ph != t[i].want)
            fail_msg("row %zu (others '%s', deleting %d, selected %d, state %d): %s %s, want %s", i,
                     t[i].others, t[i].deleting, t[i].selected, t[i].st, lq_err_name(err),
                     lq_forge_offload_phase_str(ph), lq_forge_offload_phase_str(t[i].want));
    }
}

static void test_status_own_key_replaced(void **state)
{
    (void)state;
    /* The current status holds this agent's key ("me") as failed, and another agent
     * ready: the old value of "me" must not count. */
    lq_json_t *nsof = J("{'metadata':{'generation':2},'status':{'remoteNamespacesConditions':{"
                        "'me':[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "',"
                        "'reason':'ClusterSelected','message':'m'},{'type':'Ready','status':'False',"
                        "'lastTransitionTime':'" T0 "','reason':'CreationLoopBackOff','message':'m'}],"
                        "'other':[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "',"
                        "'reason':'ClusterSelected','message':'m'},{'type':'Ready','status':'True',"
                        "'lastTransitionTime':'" T0 "','reason':'NamespaceCreated','message':'m'}]}}}");
    lq_forge_offload_status_in_t in = {.key = "me", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_CREATED,
                                 .remote_name = "foo-home-0123ab", .now = T1};
    lq_json_t *conds, *patch;
    lq_forge_offload_phase_t ph;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, nsof, &in, &conds, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_READY);
    golden("status-ready-two-keys", patch);

    /* the conditions returned separately are the same list as in the patch */
    char c1[2048];
    assert_int_equal(lq_json_print(conds, c1, sizeof c1, NULL), LQ_OK);
    assert_string_equal(c1, print(LQ_JSON_AT(patch, "status", "remoteNamespacesConditions", "me")));

    /* with the optimistic-concurrency precondition */
    lq_json_reset(&g_doc);
    nsof = J("{'metadata':{'generation':2,'resourceVersion':'4711'},'status':{}}");
    in.precondition = true;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, nsof, &in, NULL, &ph, &patch), LQ_OK);
    golden("status-precondition", patch);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':{'generation':2}}"), &in, NULL, &ph, &patch), LQ_EPROTO);
}

static void test_status_goldens(void **state)
{
    (void)state;
    lq_json_t *patch;
    lq_forge_offload_phase_t ph;

    /* first write: no status yet, selected, namespace being created */
    lq_forge_offload_status_in_t in = {.key = "foreign-1", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_CREATING,
                                 .remote_name = "foo-home-0123ab", .now = T0};
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':{'name':'offloading','generation':1}}"),
                                             &in, NULL, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS);
    golden("status-creating-first", patch);

    /* creating -> created: OffloadingRequired unchanged keeps T0, Ready moves to T1 */
    lq_json_reset(&g_doc);
    in.state = LQ_FORGE_OFFLOAD_NS_CREATED;
    in.now = T1;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, nsof_with("", false), &in, NULL, &ph, &patch), LQ_OK);
    /* nsof_with("") has no "foreign-1" key: both times are new */
    golden("status-created-fresh", patch);
    lq_json_reset(&g_doc);
    lq_json_t *cur = J("{'metadata':{'generation':4},'status':{'remoteNamespacesConditions':{'foreign-1':"
                       "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "',"
                       "'reason':'ClusterSelected','message':'old'},{'type':'Ready','status':'False',"
                       "'lastTransitionTime':'" T0 "','reason':'Creating','message':'old'}]}}}");
    assert_int_equal(lq_forge_offload_status_build(&g_doc, cur, &in, NULL, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_READY);
    golden("status-created-keeps-time", patch);

    /* over-long name: CreationLoopBackOff with the caller's message, no remoteNamespaceName */
    lq_json_reset(&g_doc);
    in.state = LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF;
    in.remote_name = NULL;
    in.message = "remote namespace name is 64 characters, over the limit of 63";
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':{'generation':1}}"), &in, NULL, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED);
    golden("status-loopbackoff-too-long", patch);

    /* not selected, no namespace: only OffloadingRequired False */
    lq_json_reset(&g_doc);
    in = (lq_forge_offload_status_in_t){.key = "foreign-1", .selected = false, .state = LQ_FORGE_OFFLOAD_NS_NONE,
                                  .remote_name = "foo", .now = T0};
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':{'generation':2}}"), &in, NULL, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED);
    golden("status-not-selected", patch);

    /* deleting, namespace still being deleted: not selected + Terminating, phase Terminating */
    lq_json_reset(&g_doc);
    cur = J("{'metadata':{'generation':2,'deletionTimestamp':'" T1 "'},'status':{'remoteNamespacesConditions':"
            "{'foreign-1':" "[{'type':'OffloadingRequired','status':'True','lastTransitionTime':'" T0 "',"
            "'reason':'ClusterSelected','message':'old'},{'type':'Ready','status':'True',"
            "'lastTransitionTime':'" T0 "','reason':'NamespaceCreated','message':'old'}]}}}");
    in = (lq_forge_offload_status_in_t){.key = "foreign-1", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_TERMINATING,
                                  .remote_name = "foo", .now = T1};
    assert_int_equal(lq_forge_offload_status_build(&g_doc, cur, &in, NULL, &ph, &patch), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_TERMINATING);
    golden("status-deleting-terminating", patch);

    /* deleting, namespace gone: the key is removed */
    in.state = LQ_FORGE_OFFLOAD_NS_NONE;
    lq_json_t *conds = (lq_json_t *)1;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, cur, &in, &conds, &ph, &patch), LQ_OK);
    assert_null(conds);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_TERMINATING);
    golden("status-deleting-done", patch);

    /* forget (peering removed) drops the key even when not deleting */
    lq_json_reset(&g_doc);
    in = (lq_forge_offload_status_in_t){.key = "foreign-1", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_CREATED,
                                  .forget = true, .now = T1};
    assert_int_equal(lq_forge_offload_status_build(&g_doc, nsof_with("R", false), &in, &conds, &ph, &patch), LQ_OK);
    assert_null(conds);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_READY);
    assert_int_equal(lq_json_type(LQ_JSON_AT(patch, "status", "remoteNamespacesConditions", "foreign-1")), LQ_JSON_NULL);
}

static void test_status_errors(void **state)
{
    (void)state;
    lq_forge_offload_status_in_t in = {.key = "k", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_CREATED, .now = T0};
    lq_forge_offload_phase_t ph;
    lq_json_t *ok = J("{}");
    assert_int_equal(lq_forge_offload_status_build(&g_doc, ok, &in, NULL, &ph, NULL), LQ_OK);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_READY);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'status':{'remoteNamespacesConditions':[]}}"), &in, NULL, &ph, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'status':{'remoteNamespacesConditions':{'x':5}}}"), &in, NULL, &ph, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'status':{'remoteNamespacesConditions':{'k':{}}}}"), &in, NULL, &ph, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':{'generation':'1'}}"), &in, NULL, &ph, NULL), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_status_build(&g_doc, J("{'metadata':[]}"), &in, NULL, &ph, NULL), LQ_EPROTO);
    in.now = NULL;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, ok, &in, NULL, &ph, NULL), LQ_EINVAL);
    in.now = T0;
    in.key = NULL;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, ok, &in, NULL, &ph, NULL), LQ_EINVAL);
    in.key = "k";
    in.state = (lq_forge_offload_ns_state_t)9;
    assert_int_equal(lq_forge_offload_status_build(&g_doc, ok, &in, NULL, &ph, NULL), LQ_EINVAL);
    assert_string_equal(lq_forge_offload_phase_str((lq_forge_offload_phase_t)42), "?");
    assert_string_equal(lq_forge_offload_phase_str(LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED), "SomeFailed");

    /* a full arena is reported */
    static unsigned char small[200];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    in.state = LQ_FORGE_OFFLOAD_NS_CREATED;
    lq_json_t *patch;
    assert_int_equal(lq_forge_offload_status_build(&d, ok, &in, NULL, &ph, &patch), LQ_ETOOBIG);
}

/* ---- fallback ------------------------------------------------------------------------------ */

#define CONDS_RUNNING                                                                             \
    "'conditions':[{'type':'Initialized','status':'True','lastProbeTime':null,'lastTransitionTime':'" T0 "'},"  \
    "{'type':'Ready','status':'True','lastProbeTime':null,'lastTransitionTime':'" T0 "'},"                     \
    "{'type':'ContainersReady','status':'False','reason':'x','lastTransitionTime':'" T0 "'},"                  \
    "{'type':'PodScheduled','status':'True','lastProbeTime':null,'lastTransitionTime':'" T0 "'}]"

static void test_fallback(void **state)
{
    (void)state;
    static const struct {
        const char *pod;
        lq_forge_offload_fallback_t want;
        const char *golden; /* NULL: no patch */
    } t[] = {
        {"{'metadata':{'name':'p','deletionTimestamp':'" T0 "'},'status':{'phase':'Running'}}",
         LQ_FORGE_OFFLOAD_FALLBACK_DELETE, NULL},
        {"{'metadata':{'name':'p','deletionTimestamp':'" T0 "'},'status':{'phase':'Succeeded'}}",
         LQ_FORGE_OFFLOAD_FALLBACK_DELETE, NULL},
        {"{'metadata':{'name':'p'},'status':{'phase':'Succeeded'}}", LQ_FORGE_OFFLOAD_FALLBACK_LEAVE, NULL},
        {"{'metadata':{'name':'p'},'status':{'phase':'Pending','conditions':[{'type':'PodScheduled',"
         "'status':'True','lastProbeTime':null,'lastTransitionTime':'" T0 "'}]}}",
         LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF, "fallback-backoff"},
        {"{'metadata':{'name':'p'},'status':{'phase':'Pending','containerStatuses':[]}}",
         LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF, "fallback-backoff-bare"},
        {"{'metadata':{'name':'p'},'status':{'phase':'Pending','reason':'OffloadingBackOff'}}",
         LQ_FORGE_OFFLOAD_FALLBACK_LEAVE, NULL},
        {"{'metadata':{'name':'p'},'status':{'phase':'Running'," CONDS_RUNNING ",'containerStatuses':"
         "[{'name':'web','ready':true,'restartCount':0,'state':{'running':{'startedAt':'" T0 "'}}},"
         "{'name':'side','ready':false,'restartCount':1}]}}",
         LQ_FORGE_OFFLOAD_FALLBACK_ABORT, "fallback-aborted"},
        {"{'metadata':{'name':'p'},'status':{'phase':'Pending','containerStatuses':[{'name':'web',"
         "'ready':false,'state':{'waiting':{'reason':'ContainerCreating'}}}]}}",
         LQ_FORGE_OFFLOAD_FALLBACK_ABORT, "fallback-aborted-pending"},
        {"{'metadata':{'name':'p'},'status':{'phase':'Failed','reason':'OffloadingAborted'}}",
         LQ_FORGE_OFFLOAD_FALLBACK_LEAVE, NULL},
        {"{'metadata':{'name':'p'},'status':{'phase':'Failed','reason':'Evicted'}}",
         LQ_FORGE_OFFLOAD_FALLBACK_ABORT, "fallback-aborted-bare"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        lq_json_reset(&g_doc);
        lq_forge_offload_fallback_t act = (lq_forge_offload_fallback_t)99;
        lq_json_t *patch = (lq_json_t *)1;
        lq_err_t err = lq_forge_offload_fallback(&g_doc, J(t[i].pod), T1, &act, &patch);
        if (err != LQ_OK || act != t[i].want)
            fail_msg("row %zu: %s action %d, want %d", i, lq_err_name(err), act, t[i].want);
        if (t[i].golden)
            golden(t[i].golden, patch);
        else
            assert_null(patch);
    }

    lq_forge_offload_fallback_t act;
    lq_json_t *patch;
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':{'phase':'Running'}}"), NULL, &act, &patch), LQ_EINVAL);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':{'phase':'Succeeded'}}"), NULL, &act, &patch), LQ_OK);
    assert_int_equal(act, LQ_FORGE_OFFLOAD_FALLBACK_LEAVE);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':{'phase':'Running'}}"), T1, &act, NULL), LQ_OK);
    assert_int_equal(act, LQ_FORGE_OFFLOAD_FALLBACK_ABORT);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':{'phase':5}}"), T1, &act, &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':{'conditions':{}}}"), T1, &act, &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, J("{'status':[]}"), T1, &act, &patch), LQ_EPROTO);
    assert_int_equal(lq_forge_offload_fallback(&g_doc, NULL, T1, &act, &patch), LQ_EINVAL);
}

/* ---- no heap ------------------------------------------------------------------------------ */

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    lq_json_t *spec_in = J("{'spec':{'namespaceMappingStrategy':'DefaultName','clusterSelector':"
                           "{'nodeSelectorTerms':[{'matchExpressions':[{'key':'cores','operator':'Gt',"
                           "'values':['4']},{'key':'tier','operator':'In','values':['gold']}]}]}}}");
    lq_json_t *nsof = nsof_with("RF", false);
    lq_json_t *pod = J("{'metadata':{'name':'p'},'status':{'phase':'Running'," CONDS_RUNNING ","
                       "'containerStatuses':[{'name':'web','ready':true}]}}");
    lq_forge_offload_spec_t spec;
    char name[LQ_FORGE_OFFLOAD_NAME_BUF];
    bool sel = false;
    lq_json_t *ns, *hp, *conds, *sp, *fp;
    lq_forge_offload_phase_t ph;
    lq_forge_offload_fallback_t act;
    lq_forge_offload_status_in_t in = {.key = "me", .selected = true, .state = LQ_FORGE_OFFLOAD_NS_CREATED, .now = T1};
    lq_err_t e[8];

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    e[0] = lq_forge_offload_spec_parse(spec_in, &spec);
    e[1] = lq_forge_offload_remote_name(&spec, "foo", "home", "0123ab", name, sizeof name, NULL);
    e[2] = lq_forge_offload_selector_match(spec.cluster_selector, LABELS, NLABELS, "liqo-foreign", &sel, NULL);
    e[3] = lq_forge_offload_remote_ns_build(&g_doc, name, "foo", "h", "f", LQ_FORGE_OFFLOAD_PSA_NONE, &ns);
    e[4] = lq_forge_offload_home_ns_patch(&g_doc, LQ_FORGE_OFFLOAD_PODS_REMOTE, true, NULL, &hp);
    e[5] = lq_forge_offload_status_build(&g_doc, nsof, &in, &conds, &ph, &sp);
    e[6] = lq_forge_offload_fallback(&g_doc, pod, T1, &act, &fp);
    e[7] = lq_json_print(sp, g_out, sizeof g_out, NULL);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka asserts (cmocka allocates on failure) */

    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        assert_int_equal(e[i], LQ_OK);
    assert_true(sel);
    assert_int_equal(ph, LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED);
    assert_int_equal(act, LQ_FORGE_OFFLOAD_FALLBACK_ABORT);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_spec_parse, setup),
        cmocka_unit_test_setup(test_hash_suffix, setup),
        cmocka_unit_test_setup(test_default_name, setup),
        cmocka_unit_test_setup(test_same_and_selected_name, setup),
        cmocka_unit_test_setup(test_selector_table, setup),
        cmocka_unit_test_setup(test_selector_errors, setup),
        cmocka_unit_test_setup(test_remote_ns, setup),
        cmocka_unit_test_setup(test_psa, setup),
        cmocka_unit_test_setup_teardown(test_remote_ns_v1, setup, back_to_v08),
        cmocka_unit_test_setup(test_status_current, setup),
        cmocka_unit_test_setup(test_home_ns_patch, setup),
        cmocka_unit_test_setup(test_phase_table, setup),
        cmocka_unit_test_setup(test_status_own_key_replaced, setup),
        cmocka_unit_test_setup(test_status_goldens, setup),
        cmocka_unit_test_setup(test_status_errors, setup),
        cmocka_unit_test_setup(test_fallback, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
