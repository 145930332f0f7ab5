/* Unit tests of the CoAP management endpoint through libcoap (src/mgmt/coap.c): the agent's
 * side runs in an lq_loop on the real POSIX port, bound to 127.0.0.1 port 0; the test's
 * side is a libcoap client context in the same process. Both are pumped in turn until an
 * answer arrives (bounded by an iteration count, not by time). Covers every resource,
 * Block2 reassembly by a stock libcoap client, Observe, DTLS with a pre-shared key (and
 * refusal of a wrong key), the heap fence's accounting and the allocation guard. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <coap3/coap.h>

#include "liqolet/loop.h"
#include "liqolet/mgmt.h"
#include "liqolet/pool.h"
#include "liqolet/tls.h"

/* --- the agent side ---------------------------------------------------------------------- */

static lq_loop_t loop;
static lq_mgmt_t mgmt;
static struct {
    bool home_ok, foreign_ok, locked, registered;
    size_t n_objects;
} state;

static void snapshot(void *ctx, lq_mgmt_snapshot_t *s)
{
    (void)ctx;
    s->home = (lq_mgmt_cluster_t){ "home-uid", "home", "127.0.0.1:6443", state.home_ok, false };
    s->foreign = (lq_mgmt_cluster_t){ "foreign-uid", "foreign", "127.0.0.1:7443", state.foreign_ok, false };
    s->vnode.name = "liqo-test";
    s->vnode.lock_held = state.locked;
    s->vnode.registered = state.registered;
    s->n_ns = 1;
    s->ns[0].local = "shop";
    s->ns[0].remote = "shop-home-abc123";
    s->ns[0].state = "Ready";
    s->ns[0].items[LQ_MGMT_KIND_POD] = 7;
    s->ns[0].errors[LQ_MGMT_KIND_SERVICE] = 2;
    s->objects[LQ_MGMT_KIND_POD] = state.n_objects;
    static const char *conn_names[] = { "request-0", "request-1", "request-2", "request-3" };
    for (size_t i = 0; i < 8; i++) {
        lq_mgmt_conn_t *c = &s->conns[s->n_conns++];
        c->cluster = i < 4 ? "home" : "foreign";
        c->name = conn_names[i % 4];
        c->state = "idle";
        c->last_error = i == 5 ? "foreign API server 127.0.0.1:7443: connection refused" : "";
    }
    lq_mgmt_snap_table(s, "loop descriptors", 5, 32, 9);
}

static bool objects(void *ctx, lq_mgmt_kind_t kind, size_t i, lq_mgmt_object_t *out)
{
    (void)ctx;
    static char names[256][24];
    if (kind != LQ_MGMT_KIND_POD || i >= state.n_objects || i >= 256)
        return false;
    (void)snprintf(names[i], sizeof names[i], "web-%03u", (unsigned)i);
    out->ns = i % 2 == 0 ? "shop" : "blog";
    out->name = names[i];
    out->remote_ns = "shop-home-abc123";
    out->state = "Running";
    return true;
}

static lq_err_t start(const char *psk_file)
{
    lq_config_addr_t addr = { "127.0.0.1", 0 };
    lq_mgmt_cfg_t cfg = { &addr, 1, psk_file, NULL, NULL, 0 };
    char msg[256];
    lq_loop_init(&loop);
    lq_mgmt_init(&mgmt);
    lq_err_t e = lq_mgmt_configure(&mgmt, &cfg, msg, sizeof msg);
    if (e != LQ_OK)
        return e;
    return lq_mgmt_start(&mgmt, &loop, snapshot, NULL, objects, NULL);
}

/* --- the client side --------------------------------------------------------------------- */

typedef struct answer {
    int count;
    unsigned code;
    char body[16384];
    size_t len;
    bool nack;
} answer_t;

static answer_t ans;

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    (void)s;
    (void)sent;
    (void)mid;
    coap_pdu_code_t c = coap_pdu_get_code(rcvd);
    ans.code = (unsigned)COAP_RESPONSE_CLASS(c) * 100u + ((unsigned)c & 0x1fu);
    const uint8_t *data = NULL;
    size_t len = 0, off = 0, total = 0;
    ans.len = 0;
    if (coap_get_data_large(rcvd, &len, &data, &off, &total) && len < sizeof ans.body) {
        memcpy(ans.body, data, len);
        ans.len = len;
    }
    ans.body[ans.len] = '\0';
    ans.count++;
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
                    const coap_mid_t mid)
{
    (void)s;
    (void)sent;
    (void)r;
    (void)mid;
    ans.nack = true;
}

static coap_context_t *cctx;
static coap_session_t *sess;

static void client_open(const char *key, const char *identity)
{
    coap_address_t dst;
    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(mgmt.ports[0]);
    dst.addr.sin.sin_addr.s_addr = htonl(0x7f000001u);
    dst.size = sizeof dst.addr.sin;
    cctx = coap_new_context(NULL);
    assert_non_null(cctx);
    coap_context_set_block_mode(cctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(cctx, on_response);
    coap_register_nack_handler(cctx, on_nack);
    if (key != NULL) {
        coap_dtls_cpsk_t c;
        memset(&c, 0, sizeof c);
        c.version = COAP_DTLS_CPSK_SETUP_VERSION;
        c.psk_info.identity.s = (const uint8_t *)identity;
        c.psk_info.identity.length = strlen(identity);
        c.psk_info.key.s = (const uint8_t *)key;
        c.psk_info.key.length = strlen(key);
        sess = coap_new_client_session_psk2(cctx, NULL, &dst, COAP_PROTO_DTLS, &c);
    } else {
        sess = coap_new_client_session(cctx, NULL, &dst, COAP_PROTO_UDP);
    }
    assert_non_null(sess);
}

static void client_close(void)
{
    coap_session_release(sess);
    coap_free_context(cctx);
    sess = NULL;
    cctx = NULL;
}

/* Builds a GET with Uri-Path segments and optional Uri-Query / Observe / Block2. */
static void send_get(const char *path, const char *query, bool observe, int block2)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                    coap_new_message_id(sess), coap_session_max_pdu_size(sess));
    assert_non_null(pdu);
    uint8_t tok[8], v[4];
    size_t tl = 0;
    coap_session_new_token(sess, &tl, tok);
    coap_add_token(pdu, tl, tok);
    if (observe)
        coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(v, sizeof v, 0), v);
    for (const char *p = path; p != NULL && *p;) {
        const char *e = strchr(p, '/');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)p);
        p = e != NULL ? e + 1 : NULL;
    }
    if (query != NULL)
        coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(query), (const uint8_t *)query);
    if (block2 >= 0)
        coap_add_option(pdu, COAP_OPTION_BLOCK2, coap_encode_var_safe(v, sizeof v, (unsigned)block2), v);
    assert_int_not_equal(coap_send(sess, pdu), COAP_INVALID_MID);
}

/* Runs both sides until `want` answers in all have arrived or a NACK; at most 2000
 * rounds of at most 5 ms each. Returns whether they arrived. */
static bool pump(int want)
{
    for (int i = 0; i < 2000 && ans.count < want && !ans.nack; i++) {
        (void)lq_loop_run_once(&loop, 5);
        (void)coap_io_process(cctx, COAP_IO_NO_WAIT);
    }
    return ans.count >= want;
}

static bool get(const char *path, const char *query)
{
    memset(&ans, 0, sizeof ans);
    send_get(path, query, false, -1);
    return pump(1);
}

static int setup(void **st)
{
    (void)st;
    memset(&state, 0, sizeof state);
    state.home_ok = state.foreign_ok = state.locked = state.registered = true;
    assert_int_equal(start(NULL), LQ_OK);
    assert_true(mgmt.ports[0] > 0);
    client_open(NULL, NULL);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    client_close();
    lq_mgmt_close(&mgmt);
    (void)lq_loop_run_once(&loop, 0); /* reap */
    return 0;
}

/* --- tests ------------------------------------------------------------------------------- */

static void test_health_and_ready(void **st)
{
    (void)st;
    assert_true(get("health", NULL));
    assert_int_equal(ans.code, 205);
    assert_string_equal(ans.body, "ok\n");
    assert_true(get("ready", NULL));
    assert_string_equal(ans.body, "ready\n");
    state.foreign_ok = false;
    assert_true(get("ready", NULL));
    assert_int_equal(ans.code, 205);
    assert_string_equal(ans.body, "not ready: foreign API server unreachable\n");
}

static void test_well_known_core_lists_every_resource(void **st)
{
    (void)st;
    assert_true(get(".well-known/core", NULL));
    assert_int_equal(ans.code, 205);
    const char *want[] = { "</health>", "</ready>", "</status>", "</metrics>", "</objects/pods>",
                           "</objects/secrets>", "</objects/namespaces>" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(strstr(ans.body, want[i]));
    /* /status is observable and JSON */
    const char *s = strstr(ans.body, "</status>");
    const char *end = strchr(s, ',');
    char entry[256];
    size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
    assert_true(n < sizeof entry);
    memcpy(entry, s, n);
    entry[n] = '\0';
    assert_non_null(strstr(entry, "obs"));
    assert_non_null(strstr(entry, "ct=50"));
}

static void test_status_is_whole_json_across_blocks(void **st)
{
    (void)st;
    assert_true(get("status", NULL));
    assert_int_equal(ans.code, 205);
    assert_true(ans.len > LQ_MGMT_BLOCK_MAX); /* it took more than one block */
    assert_int_equal(ans.body[0], '{');
    assert_non_null(strstr(ans.body, "\"ready\":true"));
    assert_non_null(strstr(ans.body, "\"id\":\"foreign-uid\""));
    assert_non_null(strstr(ans.body, "\"remote\":\"shop-home-abc123\""));
    assert_string_equal(ans.body + ans.len - 2, "}\n");
}

static void test_metrics_have_liqo_counters(void **st)
{
    (void)st;
    assert_true(get("metrics", NULL));
    assert_int_equal(ans.code, 205);
    assert_non_null(strstr(ans.body,
        "liqo_virtual_kubelet_reflection_item_counter{namespace=\"shop\",reflector_resource=\"Pod\","
        "cluster_id=\"foreign-uid\",cluster_name=\"foreign\",node_name=\"liqo-test\"} 7\n"));
    assert_non_null(strstr(ans.body,
        "liqo_virtual_kubelet_reflection_error_counter{namespace=\"shop\",reflector_resource=\"Service\","
        "cluster_id=\"foreign-uid\",cluster_name=\"foreign\",node_name=\"liqo-test\"} 2\n"));
}

static void test_objects_paged_and_filtered(void **st)
{
    (void)st;
    state.n_objects = 120; /* about 11 KiB of JSON: eleven blocks */
    assert_true(get("objects/pods", NULL));
    assert_int_equal(ans.code, 205);
    size_t items = 0;
    for (const char *p = ans.body; (p = strstr(p, "\"name\":\"web-")) != NULL; p++)
        items++;
    assert_int_equal(items, 120);
    assert_non_null(strstr(ans.body, "\"name\":\"web-119\""));
    assert_string_equal(ans.body + ans.len - 3, "]}\n");

    assert_true(get("objects/pods", "ns=blog"));
    items = 0;
    for (const char *p = ans.body; (p = strstr(p, "\"namespace\":\"")) != NULL; p++) {
        assert_int_equal(strncmp(p, "\"namespace\":\"blog\"", 18), 0);
        items++;
    }
    assert_int_equal(items, 60);

    assert_true(get("objects/pods", "limit=3"));
    assert_int_equal(ans.code, 400);
    assert_true(get("objects/configmaps", NULL));
    assert_string_equal(ans.body, "{\"kind\":\"configmaps\",\"items\":[]}\n");
}

static void test_block_request_from_client(void **st)
{
    (void)st;
    /* A client asking for block 1 of 64 bytes gets exactly that slice. */
    memset(&ans, 0, sizeof ans);
    coap_context_set_block_mode(cctx, 0); /* raw blocks, no reassembly */
    send_get("status", NULL, false, (1 << 4) | 2);
    assert_true(pump(1));
    assert_int_equal(ans.code, 205);
    assert_int_equal(ans.len, 64);
    char whole[16384];
    lq_mgmt_view_t v;
    lq_mgmt_view(&mgmt, &v);
    lq_mgmt_req_t req = { .res = LQ_MGMT_RES_STATUS, .accept = -1, .max_block = 1024,
                          .has_block2 = true, .block2 = (1 << 4) | 2 };
    lq_mgmt_resp_t r;
    assert_int_equal(lq_mgmt_render_response(&v, &req, NULL, whole, sizeof whole, &r), LQ_OK);
    /* the uptime may have moved; the first bytes of block 1 are version and board */
    assert_int_equal(r.len, 64);
    assert_memory_equal(ans.body, whole, 16);
}

static void test_observe_ready_notifies_on_change(void **st)
{
    (void)st;
    memset(&ans, 0, sizeof ans);
    send_get("ready", NULL, true, -1);
    assert_true(pump(1));
    assert_string_equal(ans.body, "ready\n");
    state.foreign_ok = false;
    lq_mgmt_changed(&mgmt);
    assert_true(pump(2));
    assert_string_equal(ans.body, "not ready: foreign API server unreachable\n");
    /* no change, no notification: a few more rounds bring nothing */
    lq_mgmt_changed(&mgmt);
    for (int i = 0; i < 50; i++) {
        (void)lq_loop_run_once(&loop, 1);
        (void)coap_io_process(cctx, COAP_IO_NO_WAIT);
    }
    assert_int_equal(ans.count, 2);
    state.foreign_ok = true;
    lq_mgmt_changed(&mgmt);
    assert_true(pump(3));
    assert_string_equal(ans.body, "ready\n");
    assert_true(mgmt.stats.notifications >= 2);
}

static void test_observe_status_notifies_on_state_not_counters(void **st)
{
    (void)st;
    memset(&ans, 0, sizeof ans);
    send_get("status", NULL, true, -1);
    assert_true(pump(1));
    assert_non_null(strstr(ans.body, "\"registered\":true"));
    state.registered = false;
    lq_mgmt_changed(&mgmt);
    assert_true(pump(2));
    assert_non_null(strstr(ans.body, "\"registered\":false"));
}

static void test_wrong_accept_is_406(void **st)
{
    (void)st;
    memset(&ans, 0, sizeof ans);
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                    coap_new_message_id(sess), coap_session_max_pdu_size(sess));
    uint8_t v[4];
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 6, (const uint8_t *)"status");
    coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(v, sizeof v, 0), v);
    assert_int_not_equal(coap_send(sess, pdu), COAP_INVALID_MID);
    assert_true(pump(1));
    assert_int_equal(ans.code, 406);
}

/* Requests carrying a Hop-Limit option (RFC 8768) go through the libcoap paths patched for
 * CVE-2023-30362 and CVE-2024-31031 (tools/deps/patches, docs/security.md): 1 is answered
 * 5.08 with the server's address, a larger value is decremented in place and served. */
static void test_hop_limit_paths(void **st)
{
    (void)st;
    static const uint8_t limits[] = { 1, 2, 255 };
    for (size_t i = 0; i < sizeof limits; i++) {
        memset(&ans, 0, sizeof ans);
        coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                        coap_new_message_id(sess), coap_session_max_pdu_size(sess));
        assert_non_null(pdu);
        uint8_t tok[8];
        size_t tl = 0;
        coap_session_new_token(sess, &tl, tok);
        coap_add_token(pdu, tl, tok);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, 6, (const uint8_t *)"health");
        coap_add_option(pdu, COAP_OPTION_HOP_LIMIT, 1, &limits[i]);
        assert_int_not_equal(coap_send(sess, pdu), COAP_INVALID_MID);
        assert_true(pump(1));
        if (limits[i] == 1) {
            assert_int_equal(ans.code, 508);
            assert_non_null(strstr(ans.body, "127.0.0.1"));
        } else {
            assert_int_equal(ans.code, 205);
            assert_string_equal(ans.body, "ok\n");
        }
    }
    /* the server is still there */
    assert_true(get("health", NULL));
    assert_int_equal(ans.code, 205);
}

/* DTLS with a pre-shared key: the right key gets answers, a wrong one none. */
static void test_dtls_psk(void **st)
{
    (void)st;
    char path[] = "/tmp/lq-mgmt-psk-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "correct-horse-battery\n", 22), 22);
    close(fd);
    assert_int_equal(lq_tls_init(), LQ_OK); /* mbedTLS's arena, as in the agent */
    memset(&state, 0, sizeof state);
    state.home_ok = state.foreign_ok = state.locked = state.registered = true;
    assert_int_equal(start(path), LQ_OK);

    client_open("correct-horse-battery", "liqoletctl");
    assert_true(get("health", NULL));
    assert_int_equal(ans.code, 205);
    assert_true(get("status", NULL)); /* several blocks over DTLS */
    assert_non_null(strstr(ans.body, "\"ready\":true"));
    client_close();

    client_open("wrong-horse-battery", "liqoletctl");
    memset(&ans, 0, sizeof ans);
    send_get("health", NULL, false, -1);
    (void)pump(1);
    assert_int_equal(ans.count, 0);
    client_close();

    /* A flood of failed handshakes (each makes libcoap say two lines): at most
     * LQ_MGMT_WARN_BURST of them reach the log (stderr, caught in a file to count). */
    char logp[] = "/tmp/lq-mgmt-log-XXXXXX";
    int lfd = mkstemp(logp);
    assert_true(lfd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(lfd, 2) >= 0);
    for (int i = 0; i < 3 * (int)LQ_MGMT_WARN_BURST; i++) {
        client_open("wrong-horse-battery", "liqoletctl");
        memset(&ans, 0, sizeof ans);
        send_get("health", NULL, false, -1);
        for (int k = 0; k < 60 && ans.count == 0 && !ans.nack; k++) {
            (void)lq_loop_run_once(&loop, 5);
            (void)coap_io_process(cctx, COAP_IO_NO_WAIT);
        }
        assert_int_equal(ans.count, 0);
        client_close();
    }
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    static char logbuf[65536];
    ssize_t ln = pread(lfd, logbuf, sizeof logbuf - 1, 0);
    close(lfd);
    unlink(logp);
    assert_true(ln >= 0);
    logbuf[ln] = '\0';
    unsigned warned = 0;
    for (const char *q = logbuf; (q = strstr(q, " coap: ")) != NULL; q++)
        warned++;
    assert_true(warned >= 1);
    assert_true(warned <= LQ_MGMT_WARN_BURST);

    lq_mgmt_close(&mgmt);
    (void)lq_loop_run_once(&loop, 0);
    unlink(path);
}

/* Every byte libcoap took comes back, and nothing allocates outside the fence after the
 * pool is sealed (libcoap's heap is the documented exception, inside the fence). */
static void test_heap_fence_accounts_and_guard_stays_quiet(void **st)
{
    (void)st;
    lq_mgmt_heap_stats_t h0, h1, h2;
    lq_mgmt_heap_stats(&h0);
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t e = start(NULL);
    lq_mgmt_heap_stats(&h1);
    bool got = false;
    if (e == LQ_OK) {
        client_open(NULL, NULL);
        memset(&ans, 0, sizeof ans);
        send_get("status", NULL, false, -1);
        got = pump(1);
        client_close();
        lq_mgmt_close(&mgmt);
        (void)lq_loop_run_once(&loop, 0);
    }
    lq_mgmt_heap_stats(&h2);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before cmocka (it allocates) */
    assert_int_equal(e, LQ_OK);
    assert_true(got);
    assert_true(h1.in_use > h0.in_use);           /* the context and resources */
    assert_true(h1.in_use <= LQ_COAP_HEAP_CAP);
    assert_int_equal(h2.in_use, h0.in_use);       /* all given back */
    assert_true(h2.high_water <= LQ_COAP_HEAP_CAP);
    assert_int_equal(v1, v0);
}

static void test_heap_cap_refuses(void **st)
{
    (void)st;
    lq_mgmt_heap_stats_t a, b;
    lq_mgmt_heap_stats(&a);
    void *big = lq_mgmt_heap_malloc(LQ_COAP_HEAP_CAP);
    assert_null(big);
    void *p = lq_mgmt_heap_calloc(4, 16);
    assert_non_null(p);
    assert_int_equal(((unsigned char *)p)[63], 0);
    void *q = lq_mgmt_heap_realloc(p, LQ_COAP_HEAP_CAP);
    assert_null(q); /* refused; p untouched and still counted */
    char *d = lq_mgmt_heap_strndup("abcdef", 3);
    assert_string_equal(d, "abc");
    lq_mgmt_heap_stats(&b);
    assert_int_equal(b.refused, a.refused + 2);
    lq_mgmt_heap_free(d);
    lq_mgmt_heap_free(p);
    lq_mgmt_heap_stats(&b);
    assert_int_equal(b.in_use, a.in_use);
}

/* An address already taken fails the start (the agent then stops), and leaves no state. */
static void test_port_in_use_fails_start(void **st)
{
    (void)st;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x7f000001u);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    lq_config_addr_t addr = { "127.0.0.1", ntohs(sin.sin_port) };
    lq_mgmt_cfg_t cfg = { &addr, 1, NULL, NULL, NULL, 0 };
    char msg[256];
    lq_loop_init(&loop);
    lq_mgmt_init(&mgmt);
    assert_int_equal(lq_mgmt_configure(&mgmt, &cfg, msg, sizeof msg), LQ_OK);
    assert_int_equal(lq_mgmt_start(&mgmt, &loop, snapshot, NULL, NULL, NULL), LQ_EIO);
    assert_false(mgmt.started);
    close(fd);
}

static void test_non_loopback_needs_psk_before_binding(void **st)
{
    (void)st;
    lq_config_addr_t any = { "0.0.0.0", 0 };
    lq_mgmt_cfg_t cfg = { &any, 1, NULL, NULL, NULL, 0 };
    lq_mgmt_t m;
    char msg[256];
    lq_mgmt_init(&m);
    assert_int_equal(lq_mgmt_configure(&m, &cfg, msg, sizeof msg), LQ_ECONFIG);
    assert_non_null(strstr(msg, "0.0.0.0:0 is not a loopback address"));
    assert_non_null(strstr(msg, "--mgmt-psk-file"));
    /* and start refuses an unconfigured endpoint: nothing was bound */
    lq_loop_init(&loop);
    assert_int_equal(lq_mgmt_start(&m, &loop, snapshot, NULL, NULL, NULL), LQ_EINVAL);
    assert_false(m.started);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_and_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_well_known_core_lists_every_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_is_whole_json_across_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_have_liqo_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects_paged_and_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_request_from_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_ready_notifies_on_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_status_notifies_on_state_not_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_accept_is_406, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hop_limit_paths, setup, teardown),
        cmocka_unit_test(test_dtls_psk),
        cmocka_unit_test(test_heap_fence_accounts_and_guard_stays_quiet),
        cmocka_unit_test(test_heap_cap_refuses),
        cmocka_unit_test(test_port_in_use_fails_start),
        cmocka_unit_test(test_non_loopback_needs_psk_before_binding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
