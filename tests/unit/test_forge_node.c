/* Unit tests of src/forge/node.c: the Kubernetes quantity parser and formatter, the
 * provider capacity of Liqo §4 (hand-computed numbers below), the virtual Node, its
 * status and conditions, change detection and the Lease, against golden files in
 * tests/vectors/forge/node/ (LQ_TEST_VECTORS overrides tests/vectors; the tests run from
 * the repository root). LQ_UPDATE_GOLDEN=1 rewrites the goldens from the code: review
 * every rewritten file against the spec before keeping it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/forge_node.h"
#include "liqolet/liqo.h"
#include "liqolet/json.h"
#include "liqolet/pool.h"
#include "lq_vectors.h"


/* 2026-11-23T14:30:05.123Z */
#define NOW_MS 1795444205123LL

static unsigned char g_arena[1u << 20];
static lq_json_doc_t g_doc;
static char g_file[64 * 1024];
static char g_out[64 * 1024];

static int setup(void **state)
{
    (void)state;
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    return 0;
}

static lq_json_t *parse_vec(const char *name)
{
    size_t n = lq_vec_read("node", name, g_file, sizeof g_file);
    lq_json_t *root = NULL;
    assert_int_equal(lq_json_parse(&g_doc, g_file, n, &root), LQ_OK);
    return root;
}

/* Prints item and compares it with the golden file (one line of compact JSON, an
 * optional trailing newline). */
static void check_golden(const lq_json_t *item, const char *name)
{
    size_t len = 0;
    assert_int_equal(lq_json_print(item, g_out, sizeof g_out, &len), LQ_OK);
    if (lq_vec_updating()) {
        lq_vec_write("node", name, g_out, len);
        return;
    }
    static char want[64 * 1024];
    size_t n = lq_vec_read("node", name, want, sizeof want);
    while (n > 0 && (want[n - 1] == '\n' || want[n - 1] == '\r'))
        want[--n] = '\0';
    if (n != len || memcmp(want, g_out, n) != 0)
        fail_msg("%s differs\n got: %s\nwant: %s", name, g_out, want);
}

/* ---- quantities ------------------------------------------------------------------- */

typedef struct qcase {
    const char *in;
    int scale;
    lq_err_t err;
    int64_t want;
} qcase_t;

static void test_quantity_parse_table(void **state)
{
    (void)state;
    static const qcase_t cases[] = {
        /* plain and decimal SI */
        {"0", 0, LQ_OK, 0},
        {"2", 0, LQ_OK, 2},
        {"2", -3, LQ_OK, 2000},
        {"100m", -3, LQ_OK, 100},
        {"100m", 0, LQ_OK, 1},          /* Value() rounds up */
        {"1.5", -3, LQ_OK, 1500},
        {"1.5", 0, LQ_OK, 2},
        {".5", -3, LQ_OK, 500},
        {"5.", 0, LQ_OK, 5},
        {"+3", 0, LQ_OK, 3},
        {"-3", 0, LQ_OK, -3},
        {"-1.5", 0, LQ_OK, -2},         /* away from zero */
        {"500k", 0, LQ_OK, 500000},
        {"1G", 0, LQ_OK, 1000000000},
        {"6912M", 0, LQ_OK, 6912000000},
        {"2T", 0, LQ_OK, 2000000000000},
        {"1P", 0, LQ_OK, 1000000000000000},
        {"8E", 0, LQ_OK, 8000000000000000000},
        {"250u", -3, LQ_OK, 1},         /* 0.25m -> 1m */
        {"1500000n", -3, LQ_OK, 2},     /* 1.5m -> 2m */
        {"0.5m", -3, LQ_OK, 1},
        {"0.000m", -3, LQ_OK, 0},
        {"00012", 0, LQ_OK, 12},
        /* binary SI */
        {"128Mi", 0, LQ_OK, 134217728},
        {"8Gi", 0, LQ_OK, 8589934592},
        {"1Ki", 0, LQ_OK, 1024},
        {"1.5Ki", 0, LQ_OK, 1536},
        {"0.1Ki", 0, LQ_OK, 103},       /* 102.4 -> 103 */
        {"1Ti", 0, LQ_OK, 1099511627776},
        {"1Pi", 0, LQ_OK, 1125899906842624},
        {"7Ei", 0, LQ_OK, 8070450532247928832},
        {"1Mi", -3, LQ_OK, 1048576000},
        /* exponents */
        {"1e3", 0, LQ_OK, 1000},
        {"1E3", 0, LQ_OK, 1000},
        {"1e-3", -3, LQ_OK, 1},
        {"1e+2", 0, LQ_OK, 100},
        {"2.5e2", 0, LQ_OK, 250},
        {"1e-400", 0, LQ_OK, 1},        /* tiny but positive: rounds up to 1 */
        {"0e99999", 0, LQ_OK, 0},
        {"123456789012345678901234567890e-20", 0, LQ_OK, 1234567891}, /* ...8901.2 -> up */
        /* limits */
        {"9223372036854775807", 0, LQ_OK, INT64_MAX},
        {"9223372036854775808", 0, LQ_ETOOBIG, 0},
        {"-9223372036854775807", 0, LQ_OK, -INT64_MAX},
        {"-9223372036854775808", 0, LQ_OK, INT64_MIN}, /* what format writes (fuzz_quantity) */
        {"-9223372036854775809", 0, LQ_ETOOBIG, 0},
        /* twenty significant digits: beyond 2^64 before scaling (fuzz_quantity) */
        {"20000000000000000000m", 0, LQ_OK, 20000000000000000},
        {"99999999999999999999n", 0, LQ_OK, 100000000000},
        {"18446744073709551617u", -3, LQ_OK, 18446744073709552},
        {"-9223372036854775807001m", 0, LQ_OK, INT64_MIN}, /* rounded away from zero */
        {"9E", 0, LQ_OK, 9000000000000000000},
        {"10E", 0, LQ_ETOOBIG, 0},
        {"8Ei", 0, LQ_ETOOBIG, 0},
        {"9223372036854775.807k", 0, LQ_OK, INT64_MAX},
        {"9223372036854775807", -3, LQ_ETOOBIG, 0},
        {"9223372036854775807m", -3, LQ_OK, INT64_MAX},
        {"1e19", 0, LQ_ETOOBIG, 0},
        {"1e999999999", 0, LQ_ETOOBIG, 0},
        {"100000000000000000000000000000", 0, LQ_ETOOBIG, 0},
        /* garbage */
        {"", 0, LQ_EPROTO, 0},
        {"+", 0, LQ_EPROTO, 0},
        {"-", 0, LQ_EPROTO, 0},
        {".", 0, LQ_EPROTO, 0},
        {"m", 0, LQ_EPROTO, 0},
        {"Ki", 0, LQ_EPROTO, 0},
        {"1.2.3", 0, LQ_EPROTO, 0},
        {"1K", 0, LQ_EPROTO, 0},
        {"1ki", 0, LQ_EPROTO, 0},
        {"1Kb", 0, LQ_EPROTO, 0},
        {"1KiB", 0, LQ_EPROTO, 0},
        {"1mi", 0, LQ_EPROTO, 0},
        {" 1", 0, LQ_EPROTO, 0},
        {"1 ", 0, LQ_EPROTO, 0},
        {"1e", 0, LQ_EPROTO, 0},
        {"1e+", 0, LQ_EPROTO, 0},
        {"1e3k", 0, LQ_EPROTO, 0},
        {"1e1.5", 0, LQ_EPROTO, 0},
        {"e3", 0, LQ_EPROTO, 0},
        {"1x", 0, LQ_EPROTO, 0},
        {"--1", 0, LQ_EPROTO, 0},
        {"0x10", 0, LQ_EPROTO, 0},
        {"1,5", 0, LQ_EPROTO, 0},
        {"NaN", 0, LQ_EPROTO, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const qcase_t *c = &cases[i];
        int64_t v = 777;
        lq_err_t err = lq_quantity_parse(c->in, strlen(c->in), c->scale, &v);
        if (err != c->err)
            fail_msg("\"%s\" scale %d: got %s, want %s", c->in, c->scale, lq_err_name(err),
                     lq_err_name(c->err));
        if (err == LQ_OK && v != c->want)
            fail_msg("\"%s\" scale %d: got %lld, want %lld", c->in, c->scale, (long long)v,
                     (long long)c->want);
        if (err != LQ_OK)
            assert_int_equal(v, 777); /* untouched on error */
    }
    /* Counted input: the NUL is not required, and bytes past len are not read. */
    int64_t v;
    assert_int_equal(lq_quantity_parse("128Mi garbage", 5, 0, &v), LQ_OK);
    assert_int_equal(v, 134217728);
    assert_int_equal(lq_quantity_parse(NULL, 0, 0, &v), LQ_EINVAL);
    assert_int_equal(lq_quantity_parse("1", 1, 0, NULL), LQ_EINVAL);
    assert_int_equal(lq_quantity_parse("1", 1, -10, &v), LQ_EINVAL);
    assert_int_equal(lq_quantity_parse("1", 1, 19, &v), LQ_EINVAL);
}

static void test_quantity_format(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        int scale;
        const char *want;
    } cases[] = {
        {0, -3, "0"},          {0, 0, "0"},
        {3510, -3, "3510m"},   {4000, -3, "4"},
        {4500, -3, "4500m"},   {100, -3, "100m"},
        {120000, -3, "120"},   {6912000000, 0, "6912M"},
        {7000000000, 0, "7G"}, {110, 0, "110"},
        {198, 0, "198"},       {1000, 0, "1k"},
        {38654705664, 0, "38654705664"},
        {INT64_MAX, 0, "9223372036854775807"},
        {-1500, -3, "-1500m"}, {INT64_MIN, 0, "-9223372036854775808"},
        {1, -9, "1n"},         {10, -9, "10n"},
        {1000, -9, "1u"},      {5, 18, "5E"},
        {5, 12, "5T"},         {50, 18, "50E"},
        {5000, 18, "5e21"},
    };
    char buf[32];
    size_t len;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(lq_quantity_format(cases[i].v, cases[i].scale, buf, sizeof buf, &len),
                         LQ_OK);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(len, strlen(cases[i].want));
        /* Round trip through the parser. */
        if (cases[i].scale <= 0) {
            int64_t back;
            assert_int_equal(lq_quantity_parse(buf, len, cases[i].scale, &back), LQ_OK);
            assert_int_equal(back, cases[i].v);
        }
    }
    assert_int_equal(lq_quantity_format(3510, -3, buf, 6, &len), LQ_OK); /* "3510m" + NUL */
    assert_int_equal(lq_quantity_format(3510, -3, buf, 5, &len), LQ_ETOOBIG);
    assert_string_equal(buf, "");
    assert_int_equal(lq_quantity_format(1, -2, buf, sizeof buf, &len), LQ_EINVAL);
    assert_int_equal(lq_quantity_format(1, 0, NULL, 4, &len), LQ_EINVAL);
    assert_int_equal(lq_quantity_format(1, 0, buf, 0, &len), LQ_EINVAL);
}

static void test_time_format(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(lq_forge_time_format(0, false, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    assert_int_equal(lq_forge_time_format(86399999, true, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "1970-01-01T23:59:59.999000Z");
    assert_int_equal(lq_forge_time_format(951868799999, false, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "2000-02-29T23:59:59Z"); /* leap day of a /400 year */
    assert_int_equal(lq_forge_time_format(951868800000, false, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "2000-03-01T00:00:00Z");
    assert_int_equal(lq_forge_time_format(1735689599999, false, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "2024-12-31T23:59:59Z");
    assert_int_equal(lq_forge_time_format(NOW_MS, true, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "2026-11-23T14:30:05.123000Z");
    assert_int_equal(lq_forge_time_format(253402300799999, false, buf, sizeof buf), LQ_OK);
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    assert_int_equal(lq_forge_time_format(253402300800000, false, buf, sizeof buf), LQ_EINVAL);
    assert_int_equal(lq_forge_time_format(-1, false, buf, sizeof buf), LQ_EINVAL);
    assert_int_equal(lq_forge_time_format(0, false, buf, 20), LQ_ETOOBIG); /* needs 21 */
    assert_int_equal(lq_forge_time_format(0, false, buf, 21), LQ_OK);
    assert_int_equal(lq_forge_time_format(0, true, buf, 27), LQ_ETOOBIG); /* needs 28 */
    assert_int_equal(lq_forge_time_format(0, true, buf, 28), LQ_OK);
}

/* ---- capacity --------------------------------------------------------------------- */

static void add_items(lq_forge_capacity_t *cap, const char *nodes, const char *pods)
{
    lq_json_t *list = parse_vec(nodes);
    for (lq_json_t *n = lq_json_first(lq_json_get(list, "items")); n; n = lq_json_next(n))
        assert_int_equal(lq_forge_capacity_add_node(cap, n, NULL), LQ_OK);
    if (!pods)
        return;
    list = parse_vec(pods);
    for (lq_json_t *p = lq_json_first(lq_json_get(list, "items")); p; p = lq_json_next(p))
        assert_int_equal(lq_forge_capacity_add_pod(cap, p, "home-0001", NULL), LQ_OK);
}

static const lq_forge_offer_res_t *find(const lq_forge_offer_t *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->res[i].name, name) == 0)
            return &o->res[i];
    fail_msg("no resource %s in the offer", name);
    return NULL;
}

/* The main example, computed by hand (vectors nodes.json and pods.json):
 *   nodes: node-a and node-b, each cpu 4, memory 8Gi = 8589934592, pods 110,
 *          ephemeral-storage 20Gi = 21474836480, both Ready; liqo-elsewhere is a virtual
 *          node and is skipped.
 *     allocatable: cpu 8000m, memory 17179869184, pods 220, ephemeral 42949672960.
 *   Running, non-shadow pods (effective requests):
 *     two-containers      cpu 500m+250m = 750m, memory 1Gi+256Mi = 1342177280
 *     with-init           cpu max(100m, 1000m) = 1000m, memory max(128Mi, 64Mi) = 134217728
 *     offloaded-by-home   cpu 1000m, memory 1Gi = 1073741824 (origin = home-0001)
 *     offloaded-by-other  cpu 200m, memory 100M = 100000000
 *     best-effort         nothing
 *   skipped: shadow (liqo.io/shadowPod=true), pending (phase Pending).
 *     used: cpu 750+1000+1000+200 = 2950m;
 *           memory 1342177280+134217728+1073741824+100000000 = 2650136832
 *   cluster = allocatable - used: cpu 5050m, memory 14529732352 (nothing negative)
 *   + origin pods back:          cpu 6050m, memory 15603474176
 *   x 90 %:
 *     cpu     6050 * 0.9 = 5445                      -> "5445m"
 *     memory  ceil(15603474176 / 10^6) = 15604 M; 15604 * 0.9 = 14043.6 -> 14043 -> "14043M"
 *     pods    220 * 0.9 = 198                        -> "198"
 *     ephemeral-storage 42949672960 * 0.9 = 38654705664 (36Gi) -> "38654705664"
 *   (float32 gives the same integers: each product is within half an ulp of the
 *   exact value.) */
static void test_capacity_example(void **state)
{
    (void)state;
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    add_items(&cap, "nodes.json", "pods.json");
    assert_int_equal(cap.nodes, 2);
    assert_int_equal(cap.pods, 5);
    assert_int_equal(cap.origin_pods, 1);

    lq_forge_offer_t offer;
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, &offer), LQ_OK);
    assert_int_equal(offer.n, 4);
    /* sorted by name */
    assert_string_equal(offer.res[0].name, "cpu");
    assert_string_equal(offer.res[1].name, "ephemeral-storage");
    assert_string_equal(offer.res[2].name, "memory");
    assert_string_equal(offer.res[3].name, "pods");
    assert_int_equal(find(&offer, "cpu")->value, 5445);
    assert_int_equal(find(&offer, "cpu")->scale, -3);
    assert_int_equal(find(&offer, "memory")->value, 14043000000);
    assert_int_equal(find(&offer, "pods")->value, 198);
    assert_int_equal(find(&offer, "ephemeral-storage")->value, 38654705664);
    assert_string_equal(offer.arch, "amd64");
    assert_true(lq_forge_offer_ready(&offer));

    /* 100 %: no scaling beyond the memory rounding (15604 M). */
    assert_int_equal(lq_forge_capacity_offer(&cap, 100, &offer), LQ_OK);
    assert_int_equal(find(&offer, "cpu")->value, 6050);
    assert_int_equal(find(&offer, "memory")->value, 15604000000);
    /* Helm's raw default 30 %: cpu 6050 * 0.3 = 1815, memory 15604 * 0.3 = 4681.2 -> 4681. */
    assert_int_equal(lq_forge_capacity_offer(&cap, 30, &offer), LQ_OK);
    assert_int_equal(find(&offer, "cpu")->value, 1815);
    assert_int_equal(find(&offer, "memory")->value, 4681000000);
    assert_int_equal(find(&offer, "pods")->value, 66);
    /* 0 %: everything zero, the node is not ready. */
    assert_int_equal(lq_forge_capacity_offer(&cap, 0, &offer), LQ_OK);
    assert_int_equal(find(&offer, "cpu")->value, 0);
    assert_false(lq_forge_offer_ready(&offer));
    assert_int_equal(lq_forge_capacity_offer(&cap, 101, &offer), LQ_EINVAL);

    /* A pod of another home cluster is never added back; with no home id none is. */
    lq_forge_capacity_t c2;
    lq_forge_capacity_init(&c2);
    lq_json_t *list = parse_vec("nodes.json");
    for (lq_json_t *n = lq_json_first(lq_json_get(list, "items")); n; n = lq_json_next(n))
        assert_int_equal(lq_forge_capacity_add_node(&c2, n, NULL), LQ_OK);
    list = parse_vec("pods.json");
    for (lq_json_t *p = lq_json_first(lq_json_get(list, "items")); p; p = lq_json_next(p))
        assert_int_equal(lq_forge_capacity_add_pod(&c2, p, NULL, NULL), LQ_OK);
    assert_int_equal(c2.origin_pods, 0);
    assert_int_equal(lq_forge_capacity_offer(&c2, 100, &offer), LQ_OK);
    assert_int_equal(find(&offer, "cpu")->value, 5050);
}

/* Liqo scales in float32 (resource-scaler.go): above 2^24 units the result is not the
 * exact floor. 123456789 * 0.9 = 111111110.1 exactly; in float32, 123456789 becomes
 * 123456792 and 0.9 becomes 0.89999997615814208984375; their product 111111109.8566...
 * rounds to the float32 111111112 (floats near 1.1e8 are 8 apart), so Liqo offers
 * 111111112 pods where exact arithmetic would say 111111110. */
static void test_capacity_float32(void **state)
{
    (void)state;
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    lq_json_t *node;
    static const char N[] = "{\"status\":{\"allocatable\":{\"cpu\":\"1\",\"memory\":\"1G\","
                            "\"pods\":\"123456789\",\"nvidia.com/gpu\":\"1\"},"
                            "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, N, sizeof N - 1, &node), LQ_OK);
    bool counted = false;
    assert_int_equal(lq_forge_capacity_add_node(&cap, node, &counted), LQ_OK);
    assert_true(counted);
    lq_forge_offer_t offer;
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, &offer), LQ_OK);
    assert_int_equal(find(&offer, "pods")->value, 111111112);
    /* 1 GPU x 0.9 = 0 (§4: "so 1 GPU x 0.9 gives 0"); 1000m x 0.9 = 900m; 1000 M -> 900 M. */
    assert_int_equal(find(&offer, "nvidia.com/gpu")->value, 0);
    assert_int_equal(find(&offer, "cpu")->value, 900);
    assert_int_equal(find(&offer, "memory")->value, 900000000);
    /* No arch information at all: amd64. */
    assert_string_equal(offer.arch, "amd64");
}

static void test_capacity_rules(void **state)
{
    (void)state;
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    lq_json_t *x;
    bool counted = true;
    /* NotReady and condition-less nodes are not counted (Liqo's IsNodeReady). */
    static const char NR[] = "{\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"1Gi\"},"
                             "\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, NR, sizeof NR - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, &counted), LQ_OK);
    assert_false(counted);
    static const char NC[] = "{\"status\":{\"allocatable\":{\"cpu\":\"4\"}}}";
    assert_int_equal(lq_json_parse(&g_doc, NC, sizeof NC - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, &counted), LQ_OK);
    assert_false(counted);
    assert_int_equal(cap.nodes, 0);
    assert_int_equal(cap.n, 0);

    static const char N1[] = "{\"status\":{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"2G\"},"
                             "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, N1, sizeof N1 - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, &counted), LQ_OK);
    assert_true(counted);

    /* Bad quantities leave the sums untouched. */
    lq_forge_capacity_t before = cap;
    static const char BAD[] = "{\"status\":{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"lots\"},"
                              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, BAD, sizeof BAD - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_EPROTO);
    assert_memory_equal(&cap, &before, sizeof cap);
    static const char NEG[] = "{\"status\":{\"allocatable\":{\"cpu\":\"-2\"},"
                              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, NEG, sizeof NEG - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_EPROTO);
    static const char NUM[] = "{\"status\":{\"allocatable\":{\"cpu\":2},"
                              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, NUM, sizeof NUM - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_EPROTO);
    static const char BADPOD[] = "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
                                 "{\"cpu\":\"1x\"}}}]},\"status\":{\"phase\":\"Running\"}}";
    assert_int_equal(lq_json_parse(&g_doc, BADPOD, sizeof BADPOD - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "h", NULL), LQ_EPROTO);
    static const char BADLIST[] = "{\"spec\":{\"containers\":{}},\"status\":{\"phase\":\"Running\"}}";
    assert_int_equal(lq_json_parse(&g_doc, BADLIST, sizeof BADLIST - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "h", NULL), LQ_EPROTO);
    assert_memory_equal(&cap, &before, sizeof cap);

    /* Overflow of a sum is LQ_ETOOBIG, never a wrap. */
    static const char HUGE[] = "{\"status\":{\"allocatable\":{\"memory\":\"8E\"},"
                               "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    assert_int_equal(lq_json_parse(&g_doc, HUGE, sizeof HUGE - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_ETOOBIG);

    /* A pod asking more than there is: every resource goes to zero (Liqo's checkSign),
     * then the home cluster's own pods are added back. Pod overhead counts. */
    lq_forge_capacity_init(&cap);
    assert_int_equal(lq_json_parse(&g_doc, N1, sizeof N1 - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_OK);
    static const char BIG[] = "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
                              "{\"cpu\":\"3\",\"example.com/dongle\":\"1\"}}}]},"
                              "\"status\":{\"phase\":\"Running\"}}";
    assert_int_equal(lq_json_parse(&g_doc, BIG, sizeof BIG - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "home-1", &counted), LQ_OK);
    assert_true(counted);
    static const char MINE[] = "{\"metadata\":{\"labels\":{\"virtualkubelet.liqo.io/origin\":"
                               "\"home-1\"}},\"spec\":{\"containers\":[{\"resources\":"
                               "{\"requests\":{\"memory\":\"500M\"}}}],\"overhead\":"
                               "{\"memory\":\"100M\",\"cpu\":\"100m\"}},"
                               "\"status\":{\"phase\":\"Running\"}}";
    assert_int_equal(lq_json_parse(&g_doc, MINE, sizeof MINE - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "home-1", &counted), LQ_OK);
    assert_true(counted);
    lq_forge_offer_t offer;
    assert_int_equal(lq_forge_capacity_offer(&cap, 100, &offer), LQ_OK);
    /* cpu 2000 - 3000 - 100 < 0 -> all zero; + origin: cpu 100m, memory 600M. The dongle
     * is on no node and in no origin pod, so it is not offered. */
    assert_int_equal(offer.n, 2);
    assert_int_equal(find(&offer, "cpu")->value, 100);
    assert_int_equal(find(&offer, "memory")->value, 600000000);

    /* compat v1: the origin pod is recognised by offloading.liqo.io/origin, and a pod with
     * the v0.8 label is then just another pod */
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    lq_forge_capacity_init(&cap);
    assert_int_equal(lq_json_parse(&g_doc, N1, sizeof N1 - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_OK);
    assert_int_equal(lq_json_parse(&g_doc, MINE, sizeof MINE - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "home-1", &counted), LQ_OK);
    assert_int_equal(cap.origin_pods, 0);
    static const char MINE1[] = "{\"metadata\":{\"labels\":{\"offloading.liqo.io/origin\":"
                                "\"home-1\"}},\"spec\":{\"containers\":[{\"resources\":"
                                "{\"requests\":{\"memory\":\"500M\"}}}]},"
                                "\"status\":{\"phase\":\"Running\"}}";
    assert_int_equal(lq_json_parse(&g_doc, MINE1, sizeof MINE1 - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "home-1", &counted), LQ_OK);
    assert_int_equal(cap.origin_pods, 1);
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    lq_forge_capacity_init(&cap);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, x, "home-1", &counted), LQ_OK);
    assert_int_equal(cap.origin_pods, 0);

    /* Too many distinct resource names. */
    lq_forge_capacity_init(&cap);
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"status\":{\"conditions\":[{\"type\":"
                                "\"Ready\",\"status\":\"True\"}],\"allocatable\":{");
    for (int i = 0; i <= LQ_FORGE_MAX_RESOURCES; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"r%d\":\"1\"", i ? "," : "", i);
    n += (size_t)snprintf(big + n, sizeof big - n, "}}}");
    assert_int_equal(lq_json_parse(&g_doc, big, n, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_ETOOBIG);
    assert_int_equal(cap.n, 0);

    assert_int_equal(lq_forge_capacity_add_node(NULL, x, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_capacity_add_node(&cap, NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, NULL, "h", NULL), LQ_EINVAL);
    assert_int_equal(lq_forge_capacity_offer(NULL, 90, &offer), LQ_EINVAL);
}

/* ---- node, status, lease ------------------------------------------------------------- */

static const lq_forge_kv_t EXTRA_LABELS[] = {
    {"topology.kubernetes.io/zone", "edge-1"},
    {"kubernetes.io/role", "edge"}, /* on top of a fixed label: replaces it */
};
static const lq_forge_kv_t EXTRA_ANN[] = {{"example.com/owner", "ops"}};

static lq_forge_node_params_t params(void)
{
    lq_forge_node_params_t p = {
        .node_name = "liqo-foreign",
        .foreign_cluster_id = "foreign-0001",
        .node_ip = "10.0.0.7",
        .kubelet_version = "v1.29.4+k3s1",
    };
    return p;
}

static void offer_from(const char *nodes, const char *pods, lq_forge_offer_t *offer)
{
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    add_items(&cap, nodes, pods);
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, offer), LQ_OK);
}

/* Golden node.json: §4 labels, taint, nodeInfo (operatingSystem "Linux", as Liqo's
 * const), one InternalIP, kubelet port 10250 (JSON field "Port"), capacity of the main
 * example, all four conditions at NOW with Liqo's reasons and messages. */
static void test_node_golden(void **state)
{
    (void)state;
    lq_forge_offer_t offer;
    offer_from("nodes.json", "pods.json", &offer);
    lq_forge_node_params_t p = params();
    p.extra_labels = EXTRA_LABELS;
    p.n_extra_labels = 2;
    p.extra_annotations = EXTRA_ANN;
    p.n_extra_annotations = 1;
    lq_json_t *node;
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, NOW_MS, &node), LQ_OK);
    check_golden(node, "node.json");
    /* Direct checks of what the golden encodes. */
    lq_json_str_t s;
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "metadata", "labels", "kubernetes.io/role"), &s), LQ_OK);
    assert_string_equal(s.p, "edge");
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "status", "allocatable", "cpu"), &s), LQ_OK);
    assert_string_equal(s.p, "5445m");
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "status", "capacity", "memory"), &s), LQ_OK);
    assert_string_equal(s.p, "14043M");
    assert_null(LQ_JSON_AT(node, "status", "conditions", "4")); /* no NetworkUnavailable */
}

static void test_node_arm64(void **state)
{
    (void)state;
    /* pi-1 (Ready, arm64) is counted; pi-2 (NotReady, arm64 in nodeInfo only) votes but
     * is not counted: cpu 4 * 0.9 = 3600m; memory ceil(8589.934592) = 8590 M * 0.9 =
     * 7731 M; pods 110 * 0.9 = 99; ephemeral 20Gi * 0.9 = 18Gi = 19327352832. */
    lq_forge_offer_t offer;
    offer_from("nodes-arm64.json", NULL, &offer);
    assert_string_equal(offer.arch, "arm64");
    lq_forge_node_params_t p = params();
    p.kubelet_version = NULL; /* fallback v1.25.0 */
    p.node_ip = NULL;         /* no addresses */
    p.kubelet_port = 10443;
    lq_json_t *node;
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, NOW_MS, &node), LQ_OK);
    check_golden(node, "node-arm64.json");
}

static void test_node_mixed_arch(void **state)
{
    (void)state;
    lq_forge_offer_t offer;
    offer_from("nodes-mixed.json", NULL, &offer);
    assert_string_equal(offer.arch, "amd64");
    lq_forge_node_params_t p = params();
    lq_json_t *node;
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, NOW_MS, &node), LQ_OK);
    lq_json_str_t s;
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "metadata", "labels", "kubernetes.io/arch"), &s), LQ_OK);
    assert_string_equal(s.p, "amd64");
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "status", "nodeInfo", "architecture"), &s), LQ_OK);
    assert_string_equal(s.p, "amd64");
    /* 8 cpu * 0.9 = 7200m -> "7200m"; memory ceil(17179.869184) = 17180 M * 0.9 = 15462 M. */
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "status", "capacity", "cpu"), &s), LQ_OK);
    assert_string_equal(s.p, "7200m");
    assert_int_equal(lq_json_str(LQ_JSON_AT(node, "status", "capacity", "memory"), &s), LQ_OK);
    assert_string_equal(s.p, "15462M");

    /* Architecture of a single arm64 node through nodeInfo only. */
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    static const char A[] = "{\"status\":{\"nodeInfo\":{\"architecture\":\"arm\"}}}";
    lq_json_t *x;
    assert_int_equal(lq_json_parse(&g_doc, A, sizeof A - 1, &x), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_node(&cap, x, NULL), LQ_OK);
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, &offer), LQ_OK);
    assert_string_equal(offer.arch, "arm");
    assert_int_equal(offer.n, 0);
}

/* Status transitions against prev-ready.json (Ready True, pressures False, all since
 * 2026-11-20T08:00:00Z, capacity of the main example):
 *   same offer        -> every lastTransitionTime kept, heartbeats at NOW;
 *   zero capacity     -> Ready False (KubeletNotReady), pressures True with the
 *                        RemoteClusterHas*Pressure reasons, every transition at NOW. */
static void test_status_transitions(void **state)
{
    (void)state;
    lq_forge_offer_t offer;
    offer_from("nodes.json", "pods.json", &offer);
    lq_forge_node_params_t p = params();
    lq_json_t *prev = parse_vec("prev-ready.json");

    bool changed = false;
    assert_int_equal(lq_forge_node_status_changed(prev, &offer, &changed), LQ_OK);
    assert_false(changed);

    lq_json_t *st;
    assert_int_equal(lq_forge_node_status(&g_doc, &p, &offer, prev, NOW_MS, &st), LQ_OK);
    check_golden(st, "status-kept.json");

    /* Zero capacity: the foreign cluster is full (a Running pod requests more cpu than
     * the nodes have, so Liqo zeroes every resource). */
    lq_forge_offer_t zero;
    lq_forge_capacity_t cap;
    lq_forge_capacity_init(&cap);
    add_items(&cap, "nodes.json", NULL);
    static const char HOG[] = "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
                              "{\"cpu\":\"100\"}}}]},\"status\":{\"phase\":\"Running\"}}";
    lq_json_t *hog;
    assert_int_equal(lq_json_parse(&g_doc, HOG, sizeof HOG - 1, &hog), LQ_OK);
    assert_int_equal(lq_forge_capacity_add_pod(&cap, hog, "home-0001", NULL), LQ_OK);
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, &zero), LQ_OK);
    assert_int_equal(zero.n, 4);
    assert_false(lq_forge_offer_ready(&zero));
    /* An empty offer (no node at all) is not ready either. */
    lq_forge_offer_t none;
    lq_forge_capacity_init(&cap);
    assert_int_equal(lq_forge_capacity_offer(&cap, 90, &none), LQ_OK);
    assert_int_equal(none.n, 0);
    assert_false(lq_forge_offer_ready(&none));
    assert_int_equal(lq_forge_node_status_changed(prev, &zero, &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(lq_forge_node_status(&g_doc, &p, &zero, prev, NOW_MS, &st), LQ_OK);
    check_golden(st, "status-zero.json");

    /* Feeding the zero status back: nothing changed any more, and a later status with
     * the same zero offer keeps the NOW transition times. */
    lq_json_t *node = lq_json_new_object(&g_doc);
    assert_int_equal(lq_json_obj_add(&g_doc, node, "status", st), LQ_OK);
    assert_int_equal(lq_forge_node_status_changed(node, &zero, &changed), LQ_OK);
    assert_false(changed);
    lq_json_t *st2;
    assert_int_equal(lq_forge_node_status(&g_doc, &p, &zero, node, NOW_MS + 60000, &st2), LQ_OK);
    lq_json_str_t s;
    assert_int_equal(lq_json_str(LQ_JSON_AT(st2, "conditions", "0", "lastTransitionTime"), &s), LQ_OK);
    assert_string_equal(s.p, "2026-11-23T14:30:05Z");
    assert_int_equal(lq_json_str(LQ_JSON_AT(st2, "conditions", "0", "lastHeartbeatTime"), &s), LQ_OK);
    assert_string_equal(s.p, "2026-11-23T14:31:05Z");

    /* Only cpu changes (still ready): changed, but the conditions keep their times. */
    lq_forge_offer_t more = offer;
    more.res[0].value += 1;
    assert_int_equal(lq_forge_node_status_changed(prev, &more, &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(lq_forge_node_status(&g_doc, &p, &more, prev, NOW_MS, &st), LQ_OK);
    assert_int_equal(lq_json_str(LQ_JSON_AT(st, "conditions", "0", "lastTransitionTime"), &s), LQ_OK);
    assert_string_equal(s.p, "2026-11-20T08:00:01Z"); /* Ready's own time in prev-ready.json */

    /* The same values written differently ("5.445" for "5445m") are not a change. */
    static const char SAME[] =
        "{\"status\":{\"capacity\":{\"cpu\":\"5.445\",\"ephemeral-storage\":\"38654705664\","
        "\"memory\":\"14043000k\",\"pods\":\"198\"},\"allocatable\":{\"cpu\":\"5445m\","
        "\"ephemeral-storage\":\"36Gi\",\"memory\":\"14043M\",\"pods\":\"198\"},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"MemoryPressure\","
        "\"status\":\"False\"},{\"type\":\"DiskPressure\",\"status\":\"False\"},{\"type\":"
        "\"PIDPressure\",\"status\":\"False\"}],\"nodeInfo\":{\"architecture\":\"amd64\"}}}";
    lq_json_t *same;
    assert_int_equal(lq_json_parse(&g_doc, SAME, sizeof SAME - 1, &same), LQ_OK);
    assert_int_equal(lq_forge_node_status_changed(same, &offer, &changed), LQ_OK);
    assert_false(changed);
    /* A NetworkUnavailable condition left by someone else is a change (we drop it). */
    static const char NET[] =
        "{\"status\":{\"capacity\":{\"cpu\":\"5445m\",\"ephemeral-storage\":\"38654705664\","
        "\"memory\":\"14043M\",\"pods\":\"198\"},\"allocatable\":{\"cpu\":\"5445m\","
        "\"ephemeral-storage\":\"36Gi\",\"memory\":\"14043M\",\"pods\":\"198\"},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"MemoryPressure\","
        "\"status\":\"False\"},{\"type\":\"DiskPressure\",\"status\":\"False\"},{\"type\":"
        "\"PIDPressure\",\"status\":\"False\"},{\"type\":\"NetworkUnavailable\",\"status\":"
        "\"False\"}],\"nodeInfo\":{\"architecture\":\"amd64\"}}}";
    assert_int_equal(lq_json_parse(&g_doc, NET, sizeof NET - 1, &same), LQ_OK);
    assert_int_equal(lq_forge_node_status_changed(same, &offer, &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(lq_forge_node_status_changed(NULL, &offer, &changed), LQ_OK);
    assert_true(changed);
    assert_int_equal(lq_forge_node_status_changed(prev, NULL, &changed), LQ_EINVAL);
}

static void test_lease_golden(void **state)
{
    (void)state;
    lq_json_t *lease;
    assert_int_equal(lq_forge_lease(&g_doc, "liqo-foreign", "5f0c2a1e-7d3b-4f6a-9c8e-1b2d3e4f5a6b",
                                    "liqo-foreign", LQ_FORGE_LEASE_DURATION, NOW_MS, &lease),
                     LQ_OK);
    check_golden(lease, "lease.json");
    /* Before the Node's uid is known: no owner reference. */
    assert_int_equal(lq_forge_lease(&g_doc, "liqo-foreign", NULL, "liqo-foreign", 40, NOW_MS,
                                    &lease),
                     LQ_OK);
    assert_null(LQ_JSON_AT(lease, "metadata", "ownerReferences"));
    assert_int_equal(lq_forge_lease(&g_doc, "", NULL, "x", 40, NOW_MS, &lease), LQ_EINVAL);
    assert_null(lease);
    assert_int_equal(lq_forge_lease(&g_doc, "n", NULL, "x", 0, NOW_MS, &lease), LQ_EINVAL);
    assert_int_equal(lq_forge_lease(&g_doc, "n", NULL, "x", 40, -1, &lease), LQ_EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    lq_forge_offer_t offer;
    offer_from("nodes.json", "pods.json", &offer);
    lq_forge_node_params_t p = params();
    lq_json_t *out = (lq_json_t *)&p;
    p.node_name = "";
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, NOW_MS, &out), LQ_EINVAL);
    assert_null(out);
    p = params();
    p.foreign_cluster_id = NULL;
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, NOW_MS, &out), LQ_EINVAL);
    p = params();
    p.n_extra_labels = 1; /* with a NULL array */
    assert_int_equal(lq_forge_node_status(&g_doc, &p, &offer, NULL, NOW_MS, &out), LQ_EINVAL);
    p = params();
    assert_int_equal(lq_forge_node(&g_doc, &p, &offer, -5, &out), LQ_EINVAL);
    assert_int_equal(lq_forge_node(&g_doc, &p, NULL, NOW_MS, &out), LQ_EINVAL);

    /* A small arena: LQ_ETOOBIG, never a partial success. */
    static unsigned char small[512];
    lq_json_doc_t d;
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_node(&d, &p, &offer, NOW_MS, &out), LQ_ETOOBIG);
    assert_null(out);
    lq_json_doc_init(&d, small, sizeof small);
    assert_int_equal(lq_forge_lease(&d, "liqo-foreign", "uid", "liqo-foreign", 40, NOW_MS, &out),
                     LQ_ETOOBIG);
    /* ... and enough room is enough, whatever the size in between. */
    static unsigned char room[16384];
    for (size_t cap = 1024; cap <= sizeof room; cap += 512) {
        lq_json_doc_init(&d, room, cap);
        lq_err_t err = lq_forge_node(&d, &p, &offer, NOW_MS, &out);
        assert_true(err == LQ_OK || err == LQ_ETOOBIG);
        assert_true((err == LQ_OK) == (out != NULL));
    }
    lq_json_doc_init(&d, room, sizeof room);
    assert_int_equal(lq_forge_node(&d, &p, &offer, NOW_MS, &out), LQ_OK);
}

/* The whole chain runs without the heap once the pool is sealed (inputs are read from
 * files before the seal, since stdio allocates). */
static void test_no_heap_after_seal(void **state)
{
    (void)state;
    lq_json_t *nodes = parse_vec("nodes.json");
    static char pods_buf[16 * 1024];
    size_t pn = lq_vec_read("node", "pods.json", pods_buf, sizeof pods_buf);
    lq_json_t *pods = NULL;
    assert_int_equal(lq_json_parse(&g_doc, pods_buf, pn, &pods), LQ_OK);
    lq_forge_node_params_t p = params();
    static lq_forge_capacity_t cap;
    static lq_forge_offer_t offer;
    lq_json_t *node = NULL, *st = NULL, *lease = NULL;
    lq_err_t e[8] = {LQ_OK};
    bool changed = false;
    size_t len = 0;

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_forge_capacity_init(&cap);
    for (lq_json_t *n = lq_json_first(lq_json_get(nodes, "items")); n; n = lq_json_next(n))
        e[0] = e[0] ? e[0] : lq_forge_capacity_add_node(&cap, n, NULL);
    for (lq_json_t *x = lq_json_first(lq_json_get(pods, "items")); x; x = lq_json_next(x))
        e[1] = e[1] ? e[1] : lq_forge_capacity_add_pod(&cap, x, "home-0001", NULL);
    e[2] = lq_forge_capacity_offer(&cap, 90, &offer);
    e[3] = lq_forge_node(&g_doc, &p, &offer, NOW_MS, &node);
    e[4] = lq_forge_node_status_changed(node, &offer, &changed);
    e[5] = lq_forge_node_status(&g_doc, &p, &offer, node, NOW_MS + 1000, &st);
    e[6] = lq_forge_lease(&g_doc, "liqo-foreign", "uid-1", "liqo-foreign", 40, NOW_MS, &lease);
    e[7] = lq_json_print(node, g_out, sizeof g_out, &len);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka asserts (cmocka allocates on failure) */

    for (size_t i = 0; i < 8; i++)
        assert_int_equal(e[i], LQ_OK);
    assert_false(changed);
    assert_true(len > 0);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_quantity_parse_table, setup),
        cmocka_unit_test_setup(test_quantity_format, setup),
        cmocka_unit_test_setup(test_time_format, setup),
        cmocka_unit_test_setup(test_capacity_example, setup),
        cmocka_unit_test_setup(test_capacity_float32, setup),
        cmocka_unit_test_setup(test_capacity_rules, setup),
        cmocka_unit_test_setup(test_node_golden, setup),
        cmocka_unit_test_setup(test_node_arm64, setup),
        cmocka_unit_test_setup(test_node_mixed_arch, setup),
        cmocka_unit_test_setup(test_status_transitions, setup),
        cmocka_unit_test_setup(test_lease_golden, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_no_heap_after_seal, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
