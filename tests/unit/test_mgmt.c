/* Unit tests of the management endpoint's resource handlers (src/mgmt/render.c: the
 * representations, Block2 windows, query and HTTP request parsing, readiness, the
 * address rule) and of lq_mgmt_configure (src/mgmt/mgmt.c: the PSK file), on the fake port.
 * The libcoap side is tested in test_mgmt_coap.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/json.h"
#include "liqolet/log.h"
#include "liqolet/mgmt.h"
#include "liqolet/pool.h"
#include "lq_fake.h"

static lq_mgmt_snapshot_t snap;
static lq_mgmt_view_t view;
static size_t n_objects;
static char big[256 * 1024];

static bool objects(void *ctx, lq_mgmt_kind_t kind, size_t i, lq_mgmt_object_t *out)
{
    (void)ctx;
    static char names[512][32];
    if (kind != LQ_MGMT_KIND_SECRET || i >= n_objects || i >= 512)
        return false;
    (void)snprintf(names[i], sizeof names[i], "token-%u", (unsigned)i);
    out->ns = i % 3 == 0 ? "shop" : "blog";
    out->name = names[i];
    out->remote_ns = i % 3 == 0 ? "shop-home-1" : NULL;
    out->state = i == 4 ? "Error: \"quoted\"\n" : "Reflected";
    return true;
}

static int setup(void **st)
{
    (void)st;
    lq_fake_reset();
    memset(&snap, 0, sizeof snap);
    snap.home = (lq_mgmt_cluster_t){ "home-uid", "home", "10.0.0.1:6443", true, false };
    snap.foreign = (lq_mgmt_cluster_t){ "foreign-uid", "fore", "10.0.0.2:6443", true, false };
    snap.vnode.name = "liqo-edge";
    snap.vnode.registered = true;
    snap.vnode.lock_held = true;
    snap.vnode.lease_renewals = 12;
    snap.n_ns = 2;
    snap.ns[0] = (lq_mgmt_ns_t){ .local = "shop", .remote = "shop-home-1", .state = "Ready" };
    snap.ns[1] = (lq_mgmt_ns_t){ .local = "blog", .remote = "", .state = "CreationLoopBackOff" };
    snap.ns[0].items[LQ_MGMT_KIND_POD] = 5;
    snap.ns[0].items[LQ_MGMT_KIND_CONFIGMAP] = 2;
    snap.ns[1].errors[LQ_MGMT_KIND_SECRET] = 1;
    snap.objects[LQ_MGMT_KIND_SECRET] = 9;
    lq_mgmt_snap_table(&snap, "loop descriptors", 6, 32, 11);
    memset(&view, 0, sizeof view);
    view.snap = &snap;
    view.objects = objects;
    view.uptime_ms = 65000;
    view.heap = (lq_mgmt_heap_stats_t){ 9000, 12000, 32768, 40, 0 };
    view.version = "1.2.3";
    view.board = "host";
    n_objects = 0;
    return 0;
}

static lq_mgmt_req_t req_of(lq_mgmt_res_t res, int kind, const char *query, int block2)
{
    lq_mgmt_req_t r;
    memset(&r, 0, sizeof r);
    r.res = res;
    r.kind = kind;
    r.query = query;
    r.query_len = query != NULL ? strlen(query) : 0;
    r.has_block2 = block2 >= 0;
    r.block2 = block2 >= 0 ? (uint32_t)block2 : 0;
    r.accept = -1;
    r.max_block = 1024;
    return r;
}

/* The whole representation, with a window as large as it gets. */
static size_t whole(lq_mgmt_res_t res, int kind, const char *query, lq_mgmt_resp_t *resp)
{
    lq_mgmt_req_t r = req_of(res, kind, query, -1);
    r.max_block = 1024;
    /* a window that holds everything: render block 0 of the largest size repeatedly */
    size_t off = 0;
    lq_mgmt_resp_t x;
    for (uint32_t num = 0;; num++) {
        r.has_block2 = true;
        r.block2 = num << 4 | 6u;
        assert_int_equal(lq_mgmt_render_response(&view, &r, NULL, big + off, sizeof big - off, &x), LQ_OK);
        assert_int_equal(x.code, 205);
        off += x.len;
        if (num == 0 && resp != NULL)
            *resp = x;
        if (!(x.block2_value & 8u))
            break;
    }
    big[off] = '\0';
    return off;
}

/* --- representations ------------------------------------------------------------------ */

static void test_health_and_ready_payloads(void **st)
{
    (void)st;
    char buf[1024];
    lq_mgmt_resp_t r;
    lq_mgmt_req_t q = req_of(LQ_MGMT_RES_HEALTH, 0, NULL, -1);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 205);
    assert_int_equal(r.content_format, LQ_MGMT_CF_TEXT);
    assert_int_equal(r.len, 3);
    assert_memory_equal(buf, "ok\n", 3);
    assert_false(r.block2);

    q = req_of(LQ_MGMT_RES_READY, 0, NULL, -1);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.len, 6);
    assert_memory_equal(buf, "ready\n", 6);
    snap.foreign.reachable = false;
    snap.vnode.registered = false;
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 205); /* observers must keep their registration */
    buf[r.len] = '\0';
    assert_string_equal(buf, "not ready: foreign API server unreachable; virtual node not registered\n");
}

static void test_ready_reasons(void **st)
{
    (void)st;
    char why[LQ_MGMT_REASON_MAX];
    assert_true(lq_mgmt_render_ready(&snap, why, sizeof why));
    assert_string_equal(why, "");
    memset(&snap.home, 0, sizeof snap.home);
    snap.vnode.lock_held = false;
    assert_false(lq_mgmt_render_ready(&snap, why, sizeof why));
    assert_string_equal(why, "home API server unreachable; waiting for the single-instance Lease");
    char tiny[12];
    assert_false(lq_mgmt_render_ready(&snap, tiny, sizeof tiny));
    assert_string_equal(tiny, "home API...");
}

static void test_status_is_json_with_every_section(void **st)
{
    (void)st;
    snap.ns[1].state = "a \"quoted\"\\ state\twith\x01control";
    lq_mgmt_resp_t r;
    size_t n = whole(LQ_MGMT_RES_STATUS, 0, NULL, &r);
    assert_int_equal(r.content_format, LQ_MGMT_CF_JSON);
    assert_true(r.size2);
    assert_int_equal(r.size2_value, n);
    static unsigned char arena[256 * 1024];
    lq_json_doc_t doc;
    lq_json_t *root = NULL;
    lq_json_doc_init(&doc, arena, sizeof arena);
    assert_int_equal(lq_json_parse(&doc, big, n, &root), LQ_OK);
    char s[128];
    assert_int_equal(lq_json_str_copy(lq_json_get(root, "version"), s, sizeof s), LQ_OK);
    assert_string_equal(s, "1.2.3");
    assert_int_equal(lq_json_str_copy(LQ_JSON_AT(root, "clusters", "foreign", "id"), s, sizeof s), LQ_OK);
    assert_string_equal(s, "foreign-uid");
    assert_int_equal(lq_json_str_copy(LQ_JSON_AT(root, "virtualNode", "name"), s, sizeof s), LQ_OK);
    assert_string_equal(s, "liqo-edge");
    lq_json_t *ns1 = lq_json_next(lq_json_first(lq_json_get(root, "namespaces")));
    assert_int_equal(lq_json_str_copy(lq_json_get(ns1, "state"), s, sizeof s), LQ_OK);
    assert_string_equal(s, "a \"quoted\"\\ state\twith\x01control");
    assert_non_null(strstr(big, "\"uptimeSeconds\":65,"));
    assert_non_null(strstr(big, "\"ready\":true,\"notReadyReason\":\"\""));
    assert_non_null(strstr(big, "\"secrets\":9"));
    assert_non_null(strstr(big, "{\"name\":\"loop descriptors\",\"used\":6,\"capacity\":32,\"highWater\":11}"));
    assert_non_null(strstr(big, "\"coapHeap\":{\"inUse\":9000,\"highWater\":12000,\"cap\":32768,"));
    /* nothing secret is ever part of the snapshot, so none can appear; and no token field */
    assert_null(strstr(big, "token"));
}

/* Every block size gives the same bytes, with M set on all blocks but the last, the same
 * ETag on every block and Size2 = the total. */
static void test_blocks_of_every_size_reassemble(void **st)
{
    (void)st;
    lq_mgmt_resp_t first;
    size_t total = whole(LQ_MGMT_RES_STATUS, 0, NULL, &first);
    static char ref[64 * 1024], got[64 * 1024];
    assert_true(total < sizeof ref);
    memcpy(ref, big, total);
    for (unsigned szx = 0; szx <= 6; szx++) {
        size_t bs = 16u << szx, off = 0;
        char buf[1024];
        for (uint32_t num = 0;; num++) {
            lq_mgmt_req_t q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, (int)(num << 4 | szx));
            lq_mgmt_resp_t r;
            assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
            assert_int_equal(r.code, 205);
            assert_true(r.block2);
            assert_int_equal(r.block2_value >> 4, num);
            assert_int_equal(r.block2_value & 7u, szx);
            assert_memory_equal(r.etag_value, first.etag_value, 8);
            assert_int_equal(r.size2_value, total);
            memcpy(got + off, buf, r.len);
            off += r.len;
            if (!(r.block2_value & 8u)) {
                assert_true(r.len <= bs);
                break;
            }
            assert_int_equal(r.len, bs);
        }
        assert_int_equal(off, total);
        assert_memory_equal(got, ref, total);
    }
}

static void test_block_size_follows_session_and_client(void **st)
{
    (void)st;
    char buf[1024];
    lq_mgmt_resp_t r;
    /* no Block2 asked, the session carries 256: block 0 of 256 with M */
    lq_mgmt_req_t q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, -1);
    q.max_block = 300;
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_true(r.block2);
    assert_int_equal(r.block2_value, 8u | 4u); /* num 0, M, SZX 4 = 256 */
    assert_int_equal(r.len, 256);
    /* the client asks for block 2 of 1024 while we serve 256: offset 2048 = block 8 */
    q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, 2 << 4 | 6);
    q.max_block = 256;
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    size_t total = whole(LQ_MGMT_RES_STATUS, 0, NULL, NULL);
    if (total > 2048) {
        assert_int_equal(r.block2_value >> 4, 8);
        assert_memory_equal(buf, big + 2048, r.len);
    } else {
        assert_int_equal(r.code, 402);
    }
    /* a small representation without Block2 is sent whole, without options */
    q = req_of(LQ_MGMT_RES_HEALTH, 0, NULL, -1);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_false(r.block2);
    assert_false(r.size2);
}

static void test_bad_requests(void **st)
{
    (void)st;
    char buf[1024];
    lq_mgmt_resp_t r;
    lq_mgmt_req_t q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, 7); /* SZX 7 is reserved */
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 400);
    q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, 0);
    q.block2 = 0xFFFFFFF6u; /* an option longer than 3 bytes */
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 400);
    q = req_of(LQ_MGMT_RES_HEALTH, 0, NULL, 500 << 4 | 0); /* far past the end */
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 402);
    q = req_of(LQ_MGMT_RES_METRICS, 0, "ns=a", -1);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 400);
    q = req_of(LQ_MGMT_RES_STATUS, 0, NULL, -1);
    q.accept = 0; /* text/plain for a JSON resource */
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 406);
    q.accept = 50;
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 205);
    q = req_of(LQ_MGMT_RES_OBJECTS, 99, NULL, -1);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, sizeof buf, &r), LQ_OK);
    assert_int_equal(r.code, 404);
    assert_int_equal(lq_mgmt_render_response(&view, &q, NULL, buf, 8, &r), LQ_EINVAL);
    assert_int_equal(lq_mgmt_render_response(NULL, &q, NULL, buf, sizeof buf, &r), LQ_EINVAL);
}

static void test_metrics_liqo_counters_and_gauges(void **st)
{
    (void)st;
    snap.vnode.name = "node \"x\"\\y";
    snap.foreign.name = "fo\"re";
    lq_mgmt_resp_t r;
    whole(LQ_MGMT_RES_METRICS, 0, NULL, &r);
    assert_int_equal(r.content_format, LQ_MGMT_CF_TEXT);
    const char *items =
        "# HELP liqo_virtual_kubelet_reflection_item_counter Reflections of resources completed, by namespace and reflector.\n"
        "# TYPE liqo_virtual_kubelet_reflection_item_counter counter\n"
        "liqo_virtual_kubelet_reflection_item_counter{namespace=\"shop\",reflector_resource=\"Pod\",cluster_id=\"foreign-uid\",cluster_name=\"fo\\\"re\",node_name=\"node \\\"x\\\"\\\\y\"} 5\n"
        "liqo_virtual_kubelet_reflection_item_counter{namespace=\"shop\",reflector_resource=\"ConfigMap\",cluster_id=\"foreign-uid\",cluster_name=\"fo\\\"re\",node_name=\"node \\\"x\\\"\\\\y\"} 2\n"
        "# HELP liqo_virtual_kubelet_reflection_error_counter";
    assert_memory_equal(big, items, strlen(items));
    assert_non_null(strstr(big, "liqo_virtual_kubelet_reflection_error_counter{namespace=\"blog\","
                                "reflector_resource=\"Secret\",cluster_id=\"foreign-uid\","
                                "cluster_name=\"fo\\\"re\",node_name=\"node \\\"x\\\"\\\\y\"} "));
    assert_non_null(strstr(big, "\nliqolet_ready 1\n"));
    assert_non_null(strstr(big, "\nliqolet_cluster_reachable{cluster=\"foreign\"} 1\n"));
    assert_non_null(strstr(big, "\nliqolet_tls_verify_disabled{cluster=\"home\"} 0\n"));
    assert_non_null(strstr(big, "\nliqolet_tls_verify_disabled{cluster=\"foreign\"} 0\n"));
    /* an accepted insecure-skip-tls-verify shows (issue 17, finding 7) */
    snap.foreign.tls_unverified = true;
    whole(LQ_MGMT_RES_METRICS, 0, NULL, &r);
    assert_non_null(strstr(big, "\nliqolet_tls_verify_disabled{cluster=\"foreign\"} 1\n"));
    assert_non_null(strstr(big, "\nliqolet_tls_verify_disabled{cluster=\"home\"} 0\n"));
    whole(LQ_MGMT_RES_STATUS, 0, NULL, &r);
    assert_non_null(strstr(big, "\"server\":\"10.0.0.2:6443\",\"reachable\":true,\"tlsVerified\":false"));
    assert_non_null(strstr(big, "\"server\":\"10.0.0.1:6443\",\"reachable\":true,\"tlsVerified\":true"));
    snap.foreign.tls_unverified = false;
    whole(LQ_MGMT_RES_METRICS, 0, NULL, &r);
    assert_non_null(strstr(big, "\nliqolet_reflected_objects{kind=\"Secret\"} 9\n"));
    assert_non_null(strstr(big, "\nliqolet_table_high_water{table=\"loop descriptors\"} 11\n"));
    assert_non_null(strstr(big, "\nliqolet_coap_heap_bytes 9000\n"));
    assert_non_null(strstr(big, "\nliqolet_uptime_seconds 65\n"));
    assert_null(strstr(big, "liqolet_resident_memory_bytes")); /* unknown: not exported */

    /* zero counters: the families are not exported at all (as client_golang) */
    memset(snap.ns, 0, sizeof snap.ns);
    whole(LQ_MGMT_RES_METRICS, 0, NULL, NULL);
    assert_null(strstr(big, "liqo_virtual_kubelet"));
    /* every sample line is "name[{labels}] value" */
    for (char *line = big; *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (line[0] != '#') {
            char *sp = NULL; /* the value follows the last blank of the line */
            for (char *p = line; p < nl; p++)
                if (*p == ' ')
                    sp = p;
            assert_non_null(sp);
            for (char *p = sp + 1; p < nl; p++)
                assert_true(*p >= '0' && *p <= '9');
        }
        line = nl + 1;
    }
}

static void test_objects_list_filter_and_cursor(void **st)
{
    (void)st;
    n_objects = 200;
    lq_mgmt_resp_t r;
    size_t total = whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, NULL, &r);
    assert_false(r.size2); /* lists are not measured in advance */
    static unsigned char arena[512 * 1024];
    lq_json_doc_t doc;
    lq_json_t *root = NULL;
    lq_json_doc_init(&doc, arena, sizeof arena);
    assert_int_equal(lq_json_parse(&doc, big, total, &root), LQ_OK);
    size_t count = 0;
    for (lq_json_t *it = lq_json_first(lq_json_get(root, "items")); it != NULL; it = lq_json_next(it))
        count++;
    assert_int_equal(count, 200);
    assert_non_null(strstr(big, "{\"namespace\":\"shop\",\"name\":\"token-0\",\"remoteNamespace\":\"shop-home-1\",\"state\":\"Reflected\"}"));
    assert_non_null(strstr(big, "{\"namespace\":\"blog\",\"name\":\"token-1\",\"state\":\"Reflected\"}"));
    assert_non_null(strstr(big, "\"state\":\"Error: \\\"quoted\\\"\\n\""));

    /* sequential blocks with the cursor give the same bytes as without */
    static char ref[128 * 1024];
    memcpy(ref, big, total);
    lq_mgmt_cursor_t cur;
    memset(&cur, 0, sizeof cur);
    char buf[1024];
    for (unsigned szx = 0; szx <= 6; szx += 3) {
        size_t off = 0;
        for (uint32_t num = 0;; num++) {
            lq_mgmt_req_t q = req_of(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, NULL, (int)(num << 4 | szx));
            assert_int_equal(lq_mgmt_render_response(&view, &q, &cur, buf, sizeof buf, &r), LQ_OK);
            assert_int_equal(r.code, 205);
            assert_memory_equal(buf, ref + off, r.len);
            off += r.len;
            if (num > 0)
                assert_true(cur.valid);
            if (!(r.block2_value & 8u))
                break;
        }
        assert_int_equal(off, total);
    }

    /* filter: only blog's */
    size_t n = whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, "ns=blog", NULL);
    assert_true(n > 0);
    assert_null(strstr(big, "\"shop\""));
    assert_memory_equal(big, "{\"kind\":\"secrets\",\"items\":[{\"namespace\":\"blog\",\"name\":\"token-1\"", 63);
    /* the cursor with a filter: same bytes as without the cursor */
    memcpy(ref, big, n);
    memset(&cur, 0, sizeof cur);
    size_t off = 0;
    for (uint32_t num = 0;; num++) {
        lq_mgmt_req_t q = req_of(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, "ns=blog", (int)(num << 4 | 1));
        assert_int_equal(lq_mgmt_render_response(&view, &q, &cur, buf, sizeof buf, &r), LQ_OK);
        assert_memory_equal(buf, ref + off, r.len);
        off += r.len;
        if (!(r.block2_value & 8u))
            break;
    }
    assert_int_equal(off, n);

    /* the ETag follows the owner's generation */
    lq_mgmt_resp_t a, b;
    whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, NULL, &a);
    snap.objects_gen[LQ_MGMT_KIND_SECRET]++;
    whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_SECRET, NULL, &b);
    assert_memory_not_equal(a.etag_value, b.etag_value, 8);

    /* empty kinds and the namespaces list */
    whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_INGRESS, NULL, NULL);
    assert_string_equal(big, "{\"kind\":\"ingresses\",\"items\":[]}\n");
    whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_NAMESPACES, "ns=blog", NULL);
    assert_string_equal(big, "{\"kind\":\"namespaces\",\"items\":[{\"name\":\"blog\",\"remoteNamespace\":\"\","
                             "\"state\":\"CreationLoopBackOff\"}]}\n");
    view.objects = NULL;
    whole(LQ_MGMT_RES_OBJECTS, LQ_MGMT_KIND_POD, NULL, NULL);
    assert_string_equal(big, "{\"kind\":\"pods\",\"items\":[]}\n");
}

static void test_query_parsing(void **st)
{
    (void)st;
    const char *ns;
    size_t nl;
    char msg[96];
    assert_int_equal(lq_mgmt_render_parse_query("ns=shop", 7, &ns, &nl, msg, sizeof msg), LQ_OK);
    assert_int_equal(nl, 4);
    assert_memory_equal(ns, "shop", 4);
    assert_int_equal(lq_mgmt_render_parse_query("", 0, &ns, &nl, msg, sizeof msg), LQ_OK);
    assert_null(ns);
    assert_int_equal(lq_mgmt_render_parse_query("&&ns=a-1&", 9, &ns, &nl, msg, sizeof msg), LQ_OK);
    assert_int_equal(nl, 3);
    assert_int_equal(lq_mgmt_render_parse_query("limit=3", 7, &ns, &nl, msg, sizeof msg), LQ_EINVAL);
    assert_string_equal(msg, "unknown query parameter 'limit' (only ns=NAMESPACE)");
    assert_int_equal(lq_mgmt_render_parse_query("ns=a&ns=b", 9, &ns, &nl, msg, sizeof msg), LQ_EINVAL);
    assert_string_equal(msg, "ns= given twice");
    const char *bad[] = { "ns=", "ns", "ns=Shop", "ns=-a", "ns=a-", "ns=a_b",
                          "ns=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lq_mgmt_render_parse_query(bad[i], strlen(bad[i]), &ns, &nl, msg, sizeof msg), LQ_EINVAL);
        assert_non_null(strstr(msg, "DNS-1123"));
    }
    /* not NUL-terminated: only len bytes count */
    assert_int_equal(lq_mgmt_render_parse_query("ns=abcXYZ", 6, &ns, &nl, msg, sizeof msg), LQ_OK);
    assert_int_equal(nl, 3);

    uint32_t num;
    size_t size;
    assert_int_equal(lq_mgmt_render_block2_decode(0x36, &num, &size), LQ_OK);
    assert_int_equal(num, 3);
    assert_int_equal(size, 1024);
    assert_int_equal(lq_mgmt_render_block2_decode(0x0F, &num, &size), LQ_EINVAL);
}

static void test_digest_follows_state_not_counters(void **st)
{
    (void)st;
    uint64_t s0 = lq_mgmt_render_digest(&view, LQ_MGMT_RES_STATUS);
    uint64_t r0 = lq_mgmt_render_digest(&view, LQ_MGMT_RES_READY);
    view.uptime_ms += 10000;
    view.heap.in_use += 100;
    snap.vnode.lease_renewals++;
    snap.requests_home.submitted += 3;
    snap.tables[0].used++;
    assert_int_equal(lq_mgmt_render_digest(&view, LQ_MGMT_RES_STATUS), s0);
    assert_int_equal(lq_mgmt_render_digest(&view, LQ_MGMT_RES_READY), r0);
    snap.ns[0].state = "Terminating";
    assert_int_not_equal(lq_mgmt_render_digest(&view, LQ_MGMT_RES_STATUS), s0);
    assert_int_equal(lq_mgmt_render_digest(&view, LQ_MGMT_RES_READY), r0);
    snap.foreign.reachable = false;
    assert_int_not_equal(lq_mgmt_render_digest(&view, LQ_MGMT_RES_READY), r0);
}

static void test_snapshot_helpers(void **st)
{
    (void)st;
    lq_mgmt_snapshot_t s;
    memset(&s, 0, sizeof s);
    lq_conn_t c;
    memset(&c, 0, sizeof c);
    c.state = LQ_CONN_HANDSHAKE;
    c.stats.requests = 4;
    (void)snprintf(c.error, sizeof c.error, "home API server x: refused");
    for (int i = 0; i < LQ_MGMT_MAX_CONNS + 3; i++)
        lq_mgmt_snap_conn(&s, "home", "request-0", &c);
    assert_int_equal(s.n_conns, LQ_MGMT_MAX_CONNS);
    assert_string_equal(s.conns[0].state, "handshake");
    assert_string_equal(s.conns[0].last_error, "home API server x: refused");
    assert_int_equal(s.conns[0].requests, 4);
    for (int i = 0; i < LQ_MGMT_MAX_TABLES + 1; i++)
        lq_mgmt_snap_table(&s, "t", 1, 2, 3);
    assert_int_equal(s.n_tables, LQ_MGMT_MAX_TABLES);
    assert_string_equal(lq_mgmt_conn_state_name(LQ_CONN_BODY), "body");
    assert_string_equal(lq_mgmt_conn_state_name(99), "unknown");
    assert_string_equal(lq_mgmt_render_kind_path(LQ_MGMT_KIND_NAMESPACES), "namespaces");
    assert_string_equal(lq_mgmt_render_kind_reflector(LQ_MGMT_KIND_ENDPOINTSLICE), "EndpointSlice");
    assert_null(lq_mgmt_render_kind_reflector(LQ_MGMT_KIND_NAMESPACES));
    assert_null(lq_mgmt_render_kind_path(-1));
}

/* --- the address rule and the PSK file ------------------------------------------------ */

static void test_loopback_rule(void **st)
{
    (void)st;
    const char *lo[] = { "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1",
                         "::ffff:127.0.0.1", "0::1" };
    for (size_t i = 0; i < sizeof lo / sizeof lo[0]; i++)
        assert_true(lq_mgmt_render_is_loopback(lo[i]));
    const char *not_lo[] = { "0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "fd00::5", "::2",
                             "::ffff:10.0.0.1", "1::1", "", "127.0.0.256", "localhost" };
    for (size_t i = 0; i < sizeof not_lo / sizeof not_lo[0]; i++)
        assert_false(lq_mgmt_render_is_loopback(not_lo[i]));

    lq_config_addr_t a[3] = { { "127.0.0.1", 5683 }, { "::1", 5683 }, { "0.0.0.0", 5684 } };
    char msg[320];
    assert_int_equal(lq_mgmt_render_check_listen(a, 2, false, msg, sizeof msg), LQ_OK);
    assert_int_equal(lq_mgmt_render_check_listen(a, 3, false, msg, sizeof msg), LQ_ECONFIG);
    assert_string_equal(msg, "mgmt.listen: 0.0.0.0:5684 is not a loopback address; the management "
                             "endpoint is served beyond this host only over DTLS: give a pre-shared "
                             "key with --mgmt-psk-file FILE (see docs/management.md), or listen on "
                             "127.0.0.1/[::1]");
    assert_int_equal(lq_mgmt_render_check_listen(a, 3, true, msg, sizeof msg), LQ_OK);
    lq_config_addr_t v6 = { "fd00::5", 0 };
    assert_int_equal(lq_mgmt_render_check_listen(&v6, 1, false, msg, sizeof msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "[fd00::5]:0 is not a loopback address"));
    assert_int_equal(lq_mgmt_render_check_listen(a, 0, false, msg, sizeof msg), LQ_ECONFIG);
}

static lq_err_t configure(const char *listen_host, const char *psk, const char *id, char *msg)
{
    static lq_mgmt_t m;
    lq_config_addr_t a = { "", 0 };
    (void)snprintf(a.host, sizeof a.host, "%s", listen_host);
    lq_mgmt_cfg_t cfg = { &a, 1, psk, id, NULL, 0 };
    lq_mgmt_init(&m);
    return lq_mgmt_configure(&m, &cfg, msg, 320);
}

static void test_configure_psk_file(void **st)
{
    (void)st;
    char msg[320];
    assert_int_equal(configure("0.0.0.0", NULL, NULL, msg), LQ_ECONFIG);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "cannot read /etc/psk"));
    lq_fake_file_set("/etc/psk", "short\n", 6);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "is 5 bytes; use 16 to 64"));
    lq_fake_file_set("/etc/psk", "fifteen-bytes-k\n", 16);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "is 15 bytes; use 16 to 64"));
    char long_key[80];
    memset(long_key, 'k', sizeof long_key);
    lq_fake_file_set("/etc/psk", long_key, sizeof long_key);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "more than 64 bytes"));
    lq_fake_file_set("/etc/psk", "a-good-long-key-16\r\n", 20);
    /* open to others, or someone else's: refused, with the remedy */
    assert_int_equal(lq_fake_file_mode("/etc/psk", 0640, false), 0);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "open to group or others (mode 0640)"));
    assert_non_null(strstr(msg, "chmod 600 /etc/psk"));
    assert_null(strstr(msg, "a-good-long-key"));
    assert_int_equal(lq_fake_file_mode("/etc/psk", 0604, false), 0);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_int_equal(lq_fake_file_mode("/etc/psk", 0600, true), 0);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "belongs to another user"));
    assert_int_equal(lq_fake_file_mode("/etc/psk", 0400, false), 0);
    assert_int_equal(configure("0.0.0.0", "/etc/psk", NULL, msg), LQ_OK);
    assert_int_equal(configure("127.0.0.1", NULL, "someone", msg), LQ_ECONFIG);
    assert_string_equal(msg, "mgmt.pskIdentity is set but mgmt.pskFile is not");
    assert_int_equal(configure("127.0.0.1", "/etc/psk", "ops-laptop", msg), LQ_OK);
    /* the key is a registered secret: a log line that contains it is scrubbed */
    lq_log(LQ_LOG_ERROR, "test", "the key is a-good-long-key-16");
    assert_null(strstr(lq_fake_log_text(), "a-good-long-key-16"));
}

/* --- the HTTP listener's parser ---------------------------------------------------------- */

static void test_http_parse(void **st)
{
    (void)st;
    int res;
    bool head;
    const char *ok = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    size_t n = strlen(ok);
    for (size_t i = 0; i < n; i++) /* one byte at a time: incomplete until the end */
        assert_int_equal(lq_mgmt_render_http_parse(ok, i, &res, &head), LQ_AGAIN);
    assert_int_equal(lq_mgmt_render_http_parse(ok, n, &res, &head), LQ_OK);
    assert_int_equal(res, LQ_MGMT_RES_METRICS);
    assert_false(head);
    assert_int_equal(lq_mgmt_render_http_parse("HEAD /readyz?x=1 HTTP/1.0\n\n", 27, &res, &head), LQ_OK);
    assert_int_equal(res, LQ_MGMT_RES_READY);
    assert_true(head);
    assert_int_equal(lq_mgmt_render_http_parse("GET /healthz HTTP/1.1\r\n\r\n", 25, &res, &head), LQ_OK);
    assert_int_equal(res, LQ_MGMT_RES_HEALTH);
    assert_int_equal(lq_mgmt_render_http_parse("GET /status HTTP/1.1\r\n\r\n", 24, &res, &head), LQ_OK);
    assert_int_equal(res, -1);
    assert_int_equal(lq_mgmt_render_http_parse("GET /healthzz HTTP/1.1\r\n\r\n", 26, &res, &head), LQ_OK);
    assert_int_equal(res, -1);
    assert_int_equal(lq_mgmt_render_http_parse("POST /metrics HTTP/1.1\r\n\r\n", 26, &res, &head), LQ_ENOTSUP);
    const char *bad[] = { "GET  /metrics HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/2.0\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
                          "GET /met\x01rics HTTP/1.1\r\n\r\n", "GET /metrics\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\nX: a\x01b\r\n\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lq_mgmt_render_http_parse(bad[i], strlen(bad[i]), &res, &head), LQ_EPROTO);
    static char huge[LQ_MGMT_HTTP_REQ_MAX + 10];
    memset(huge, 'a', sizeof huge);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
    assert_int_equal(lq_mgmt_render_http_parse(huge, sizeof huge, &res, &head), LQ_ETOOBIG);
    assert_int_equal(lq_mgmt_render_http_parse(huge, 100, &res, &head), LQ_AGAIN);
}

/* Rendering never touches the heap (the guard stays quiet after the seal). */
static void test_render_allocates_nothing(void **st)
{
    (void)st;
    n_objects = 50;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    char buf[1024];
    lq_mgmt_resp_t r;
    lq_mgmt_cursor_t cur = { 0 };
    lq_err_t e = LQ_OK;
    for (int res = LQ_MGMT_RES_HEALTH; res <= LQ_MGMT_RES_OBJECTS; res++) {
        for (uint32_t num = 0; num < 4; num++) {
            lq_mgmt_req_t q = req_of((lq_mgmt_res_t)res, LQ_MGMT_KIND_SECRET, NULL, (int)(num << 4 | 5));
            lq_err_t x = lq_mgmt_render_response(&view, &q, &cur, buf, sizeof buf, &r);
            e = e != LQ_OK ? e : x;
        }
    }
    (void)lq_mgmt_render_digest(&view, LQ_MGMT_RES_STATUS);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(e, LQ_OK);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_health_and_ready_payloads, setup),
        cmocka_unit_test_setup(test_ready_reasons, setup),
        cmocka_unit_test_setup(test_status_is_json_with_every_section, setup),
        cmocka_unit_test_setup(test_blocks_of_every_size_reassemble, setup),
        cmocka_unit_test_setup(test_block_size_follows_session_and_client, setup),
        cmocka_unit_test_setup(test_bad_requests, setup),
        cmocka_unit_test_setup(test_metrics_liqo_counters_and_gauges, setup),
        cmocka_unit_test_setup(test_objects_list_filter_and_cursor, setup),
        cmocka_unit_test_setup(test_query_parsing, setup),
        cmocka_unit_test_setup(test_digest_follows_state_not_counters, setup),
        cmocka_unit_test_setup(test_snapshot_helpers, setup),
        cmocka_unit_test_setup(test_loopback_rule, setup),
        cmocka_unit_test_setup(test_configure_psk_file, setup),
        cmocka_unit_test_setup(test_http_parse, setup),
        cmocka_unit_test_setup(test_render_allocates_nothing, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
