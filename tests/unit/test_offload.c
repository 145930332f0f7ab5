/* Unit tests of namespace offloading (src/reflect/offload.c) on the fake port, plain TCP.
 *
 * A small scripted API server stands in for both clusters. Every fake socket the agent
 * opens is classified by its first request: the home side is port 6443, the foreign side
 * 7443 (Host header); a request with watch=1 is a watch, anything else goes through a
 * request client. Watches are answered from a configured initial state (a watch-list
 * stream that stays open, or a 404), and events are pushed into the open stream. Other
 * requests are logged in order; a test takes them one by one with expect() and answers
 * them with reply(), so each test reads as the conversation between the agent and the
 * two API servers. A test can install an autoreply function for bulk traffic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/log.h"
#include "liqolet/offload.h"
#include "liqolet/pool.h"
#include "liqolet/tls.h"
#include "lq_fake.h"

#define HOME_ID    "home-cluster-id"
#define FOREIGN_ID "foreign-cluster-id"
#define FINALIZER  "liqolet.liqo.io/foreign"
#define NSOF_PATH(ns) "/apis/offloading.liqo.io/v1alpha1/namespaces/" ns "/namespaceoffloadings/offloading"
#define TS "2024-01-01T00:00:00Z"
#define FIN_META   ",\"finalizers\":[\"" FINALIZER "\"]"
#define SAME_NAME  "\"namespaceMappingStrategy\":\"EnforceSameName\""
#define MARK_KEY "liqolet.liqo.io/remote.foreign"
#define MARKS_PATH "/api/v1/namespaces?labelSelector=" MARK_KEY "&limit=50"
/* status of another agent (another foreign cluster) that ours must never touch */
#define OTHER_KEY \
    "\"other-cluster\":[{\"type\":\"OffloadingRequired\",\"status\":\"True\",\"reason\":" \
    "\"ClusterSelected\",\"message\":\"m\",\"lastTransitionTime\":\"" TS "\"},{\"type\":" \
    "\"Ready\",\"status\":\"True\",\"reason\":\"NamespaceCreated\",\"message\":\"m\"," \
    "\"lastTransitionTime\":\"" TS "\"}]"

enum { HOME = 0, FOREIGN = 1 };
static const char *const side_name[] = { "home", "foreign" };

static lq_loop_t loop;
static lq_cluster_t home, foreign;
static lq_kreq_client_t home_req, foreign_req;
static lq_refl_t refl;
static lq_offload_t off;
static lq_offload_cfg_t cfg;
static char sfx[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1]; /* DefaultName suffix of HOME_ID */

/* ---- the scripted API server --------------------------------------------------------- */

#define MAX_REQS 400
#define LIST_BUF (48u * 1024u)

typedef struct {
    int side;
    lq_port_fd_t fd;
    char method[8];
    char path[256];
    char head[1024];
    char body[2048];
    bool answered;
} req_t;

typedef struct {
    lq_port_fd_t fd;
    int side;
    bool classified, watch;
    size_t off;      /* bytes of lq_fake_sock_sent already parsed */
    bool waiting;    /* watch: a request not answered yet */
    bool streaming;  /* watch: a 200 stream is open */
} peer_t;

/* Returns true when it answered q. */
typedef bool autoreply_fn(req_t *q);

static struct {
    peer_t peers[LQ_FAKE_MAX_SOCKS];
    size_t npeers;
    lq_port_fd_t armed;            /* scripted connect not taken yet, -1 none */
    req_t reqs[MAX_REQS];
    size_t nreqs, cursor;          /* cursor: next request expect() hands out */
    int list_status[2];            /* per watch side: 0 hold, 200 or an error status */
    char list[2][LIST_BUF];        /* initial events of each watch */
    unsigned watch_requests[2];
    char watch_path[2][256];   /* the last LIST/WATCH path of each side */
    autoreply_fn *autoreply;
} srv;

static bool has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static const char *find(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, lit, l) == 0)
            return p + i;
    return NULL;
}

/* Rotating static buffers for the JSON texts the tests build. */
static char *tbuf(void)
{
    static char b[8][8192];
    static unsigned i;
    return b[i++ % 8];
}

static void feed(lq_port_fd_t fd, const char *data, size_t len)
{
    assert_int_equal(lq_fake_sock_feed(fd, data, len), 0);
}

static void feed_chunk(lq_port_fd_t fd, const char *data, size_t len)
{
    char sz[24];
    int k = snprintf(sz, sizeof sz, "%zx\r\n", len);
    feed(fd, sz, (size_t)k);
    feed(fd, data, len);
    feed(fd, "\r\n", 2);
}

static void respond(lq_port_fd_t fd, int status, const char *body)
{
    char head[256];
    size_t n = strlen(body);
    int k = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     status, n);
    feed(fd, head, (size_t)k);
    feed(fd, body, n);
}

static void answer_watch(peer_t *p)
{
    int st = srv.list_status[p->side];
    if (!p->waiting || st == 0)
        return;
    p->waiting = false;
    if (st != 200) {
        char *b = tbuf();
        (void)snprintf(b, 8192, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                "\"reason\":\"NotFound\",\"code\":%d}", st);
        respond(p->fd, st, b);
        return;
    }
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    feed(p->fd, head, sizeof head - 1);
    feed_chunk(p->fd, srv.list[p->side], strlen(srv.list[p->side]));
    p->streaming = true;
}

static void on_request(peer_t *p, const char *head, size_t head_len, const char *body, size_t body_len)
{
    char method[8] = "", path[256] = "";
    const char *sp1 = memchr(head, ' ', head_len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - head)) : NULL;
    assert_non_null(sp2);
    assert_true((size_t)(sp1 - head) < sizeof method && (size_t)(sp2 - sp1 - 1) < sizeof path);
    memcpy(method, head, (size_t)(sp1 - head));
    memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    if (!p->classified) {
        p->classified = true;
        p->side = find(head, head_len, "Host: 127.0.0.1:7443\r\n") ? FOREIGN : HOME;
        p->watch = has(path, "watch=1") || (has(path, "limit=") && !has(path, MARK_KEY)); /* the marks LIST is a request */
    }
    if (p->watch) {
        srv.watch_requests[p->side]++;
        memcpy(srv.watch_path[p->side], path, sizeof path);
        p->waiting = true;
        p->streaming = false;
        answer_watch(p);
        return;
    }
    assert_true(srv.nreqs < MAX_REQS);
    assert_true(head_len < sizeof srv.reqs[0].head && body_len < sizeof srv.reqs[0].body);
    req_t *q = &srv.reqs[srv.nreqs++];
    memset(q, 0, sizeof *q);
    q->side = p->side;
    q->fd = p->fd;
    memcpy(q->method, method, sizeof method);
    memcpy(q->path, path, sizeof path);
    memcpy(q->head, head, head_len);
    memcpy(q->body, body, body_len);
    if (srv.autoreply && srv.autoreply(q))
        q->answered = true;
}

static void parse_peer(peer_t *p)
{
    size_t len = 0;
    const char *s = lq_fake_sock_sent(p->fd, &len);
    for (;;) {
        const char *start = s + p->off;
        size_t avail = len - p->off;
        const char *end = find(start, avail, "\r\n\r\n");
        if (end == NULL)
            return;
        size_t head_len = (size_t)(end + 4 - start), body_len = 0;
        const char *cl = find(start, head_len, "Content-Length: ");
        if (cl)
            body_len = (size_t)strtoul(cl + 16, NULL, 10);
        if (avail < head_len + body_len)
            return;
        on_request(p, start, head_len, start + head_len, body_len);
        p->off += head_len + body_len;
    }
}

static bool fd_taken(lq_port_fd_t fd)
{
    size_t len = 0;
    (void)lq_fake_sock_sent(fd, &len);
    if (len > 0 || lq_fake_sock_closed(fd))
        return true;
    for (size_t i = 0; i < loop.nios; i++)
        if (loop.ios[i]->fd == fd)
            return true;
    return false;
}

static void arm(void)
{
    if (srv.armed < 0)
        srv.armed = lq_fake_expect_connect(LQ_OK);
    assert_true(srv.armed >= 0);
}

/* One loop iteration (up to 10 ms of virtual time when idle), then the server's turn:
 * a scripted connect for whoever connects next, new requests parsed, watches answered. */
static void pump(void)
{
    arm();
    assert_int_equal(lq_loop_run_once(&loop, 10), LQ_OK);
    if (fd_taken(srv.armed)) {
        assert_true(srv.npeers < LQ_FAKE_MAX_SOCKS);
        srv.peers[srv.npeers++] = (peer_t){ .fd = srv.armed };
        srv.armed = -1;
    }
    for (size_t i = 0; i < srv.npeers; i++) {
        peer_t *p = &srv.peers[i];
        if (lq_fake_sock_closed(p->fd)) {
            p->streaming = p->waiting = false;
            continue;
        }
        parse_peer(p);
        if (p->watch)
            answer_watch(p);
    }
}

static req_t *pending(void)
{
    while (srv.cursor < srv.nreqs && srv.reqs[srv.cursor].answered)
        srv.cursor++;
    return srv.cursor < srv.nreqs ? &srv.reqs[srv.cursor] : NULL;
}

/* The next request, waiting at most `iterations` loop iterations for it. */
static req_t *next_req(int iterations)
{
    for (int i = 0; i <= iterations; i++) {
        req_t *q = pending();
        if (q) {
            srv.cursor++;
            return q;
        }
        if (i < iterations)
            pump();
    }
    return NULL;
}

static req_t *expect(int side, const char *method, const char *path)
{
    req_t *q = next_req(300);
    if (q == NULL)
        fail_msg("expected %s %s %s, got no request", side_name[side], method, path);
    if (q->side != side || strcmp(q->method, method) != 0 || strcmp(q->path, path) != 0)
        fail_msg("expected %s %s %s, got %s %s %s (%s)", side_name[side], method, path,
                 side_name[q->side], q->method, q->path, q->body);
    return q;
}

static void reply(req_t *q, int status, const char *body)
{
    respond(q->fd, status, body);
    q->answered = true;
}

static void reply_status(req_t *q, int code, const char *reason, const char *message)
{
    char *b = tbuf();
    (void)snprintf(b, 8192, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                            "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                   message, reason, code);
    reply(q, code, b);
}

/* Runs the loop for about ms of virtual time and checks the agent sent nothing. */
static void quiet(int ms)
{
    for (int i = 0; i < ms / 10; i++)
        pump();
    req_t *q = pending();
    if (q)
        fail_msg("unexpected request: %s %s %s (%s)", side_name[q->side], q->method, q->path,
                 q->body);
}

static void pump_until(bool (*cond)(void), int iterations)
{
    for (int i = 0; i < iterations && !cond(); i++)
        pump();
    assert_true(cond());
}

static size_t count_reqs(int side, const char *method, const char *path_prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < srv.nreqs; i++) {
        const req_t *q = &srv.reqs[i];
        if (q->side == side && (!method || strcmp(q->method, method) == 0) &&
            (!path_prefix || strncmp(q->path, path_prefix, strlen(path_prefix)) == 0))
            n++;
    }
    return n;
}

/* The initial state of the watch on one side: status 0 holds the request unanswered,
 * 200 streams items (ADDED, then the initial-events-end bookmark), else an error. */
static void set_list(int side, int status, const char *const *items, size_t n)
{
    char *b = srv.list[side];
    size_t len = 0;
    b[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(b + len, LIST_BUF - len, "{\"type\":\"ADDED\",\"object\":%s}\n", items[i]);
        assert_true(k > 0 && (size_t)k < LIST_BUF - len);
        len += (size_t)k;
    }
    int k = snprintf(b + len, LIST_BUF - len,
                     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"metadata\":{"
                     "\"resourceVersion\":\"100\",\"annotations\":{\"k8s.io/initial-events-end\":"
                     "\"true\"}}}}\n", side == HOME ? "NamespaceOffloading" : "Namespace");
    assert_true(k > 0 && (size_t)k < LIST_BUF - len);
    srv.list_status[side] = status;
}

/* Pushes one event into the open watch stream of a side. */
static void watch_event(int side, const char *type, const char *obj)
{
    peer_t *p = NULL;
    for (size_t i = 0; i < srv.npeers; i++)
        if (srv.peers[i].watch && srv.peers[i].side == side && srv.peers[i].streaming)
            p = &srv.peers[i];
    assert_non_null(p);
    char *ev = tbuf();
    int k = snprintf(ev, 8192, "{\"type\":\"%s\",\"object\":%s}\n", type, obj);
    assert_true(k > 0 && k < 8192);
    feed_chunk(p->fd, ev, (size_t)k);
}

/* ---- objects ------------------------------------------------------------------------- */

/* A NamespaceOffloading of namespace ns; meta: more metadata members (",..."), spec:
 * spec members, status: the status object or NULL. */
static const char *nsof(const char *ns, const char *rv, const char *meta, const char *spec,
                        const char *status)
{
    char *b = tbuf();
    int k = snprintf(b, 8192,
                     "{\"apiVersion\":\"offloading.liqo.io/v1alpha1\",\"kind\":\"NamespaceOffloading\","
                     "\"metadata\":{\"name\":\"offloading\",\"namespace\":\"%s\",\"uid\":\"nsof-%s\","
                     "\"resourceVersion\":\"%s\",\"generation\":1%s},\"spec\":{%s}%s%s}",
                     ns, ns, rv, meta, spec, status ? ",\"status\":" : "", status ? status : "");
    assert_true(k > 0 && k < 8192);
    return b;
}

/* A foreign namespace: ours (the ownership labels and annotations for home namespace
 * original) or someone else's. */
static const char *remote_ns(const char *name, const char *uid, const char *original, bool ours,
                             bool terminating)
{
    char *b = tbuf();
    char meta[1024] = "\"labels\":{\"team\":\"other\"}";
    if (ours)
        (void)snprintf(meta, sizeof meta,
                       "\"labels\":{\"liqo.io/remote-cluster-id\":\"" HOME_ID "\","
                       "\"%s\":\"" HOME_ID "\",\"%s\":\"" FOREIGN_ID "\"},"
                       "\"annotations\":{\"liqo.io/managed-by-namespace-map\":\"liqolet/" HOME_ID
                       "\",\"liqo.io/original-name\":\"%s\"}", lq_liqo_names()->origin,
                       lq_liqo_names()->destination, original);
    int k = snprintf(b, 8192,
                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
                     "\"uid\":\"%s\",\"resourceVersion\":\"7\",%s%s},\"spec\":{},\"status\":"
                     "{\"phase\":\"%s\"}}",
                     name, uid, meta, terminating ? ",\"deletionTimestamp\":\"" TS "\"" : "",
                     terminating ? "Terminating" : "Active");
    assert_true(k > 0 && k < 8192);
    return b;
}

/* The status object of a status merge patch body {"metadata":{..},"status":{...}}. With
 * extra, that text is merged in as more keys of remoteNamespacesConditions. */
static const char *patched_status(const req_t *q, const char *extra)
{
    const char *s = strstr(q->body, "\"status\":{");
    assert_non_null(s);
    s += strlen("\"status\":");
    size_t n = strlen(s);
    assert_true(n >= 2 && s[n - 1] == '}');
    n--; /* the patch's own closing brace */
    char *b = tbuf();
    const char *rnc = extra ? strstr(s, "\"remoteNamespacesConditions\":{") : NULL;
    if (rnc) {
        size_t at = (size_t)(rnc - s) + strlen("\"remoteNamespacesConditions\":{");
        (void)snprintf(b, 8192, "%.*s%s,%.*s", (int)at, s, extra, (int)(n - at), s + at);
    } else {
        (void)snprintf(b, 8192, "%.*s", (int)n, s);
    }
    return b;
}

/* The DefaultName remote name of ns, into out (not a rotating buffer: it must last). */
static const char *default_name(char out[LQ_FORGE_OFFLOAD_NAME_BUF], const char *ns)
{
    (void)snprintf(out, LQ_FORGE_OFFLOAD_NAME_BUF, "%s-home-%s", ns, sfx);
    return out;
}

static lq_offload_rec_t *rec_of(const char *ns)
{
    for (size_t i = 0; i < LQ_MAX_NAMESPACES; i++)
        if (off.recs[i].h.used && strcmp(off.recs[i].h.ns, ns) == 0)
            return &off.recs[i];
    return NULL;
}

static void assert_owned_ns_body(const req_t *q, const char *name, const char *original)
{
    char want[256];
    (void)snprintf(want, sizeof want, "\"name\":\"%s\"", name);
    assert_true(has(q->body, want));
    (void)snprintf(want, sizeof want, "\"liqo.io/original-name\":\"%s\"", original);
    assert_true(has(q->body, want));
    assert_true(has(q->body, "\"kind\":\"Namespace\""));
    assert_true(has(q->body, "\"liqo.io/remote-cluster-id\":\"" HOME_ID "\""));
    assert_true(has(q->body, "\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\""));
    assert_true(has(q->body, "\"virtualkubelet.liqo.io/destination\":\"" FOREIGN_ID "\""));
    assert_true(has(q->body, "\"liqo.io/managed-by-namespace-map\":\"liqolet/" HOME_ID "\""));
}

/* ---- set-up -------------------------------------------------------------------------- */

static const char *g_gv; /* cfg.nsof_gv of the next boot (NULL: v1alpha1) */
static lq_forge_offload_psa_t g_psa; /* cfg.psa of the next boot (0: no label) */

static void boot(const char *const *flag_ns, size_t n_flags, lq_forge_offload_mapping_t mapping)
{
    lq_fake_reset();
    lq_log_init();
    lq_log_set_level(LQ_LOG_INFO);
    lq_loop_init(&loop);
    memset(&srv, 0, sizeof srv);
    srv.armed = -1;
    memset(&home, 0, sizeof home);
    memset(&foreign, 0, sizeof foreign);
    home.label = "home";
    home.profile = -1;
    home.target = (lq_conn_target_t){ "127.0.0.1", 6443, NULL, -1, "home" };
    foreign.label = "foreign";
    foreign.profile = -1;
    foreign.target = (lq_conn_target_t){ "127.0.0.1", 7443, NULL, -1, "foreign" };
    lq_kreq_client_init(&home_req, &loop, &home.target, &home.kcfg);
    lq_kreq_client_init(&foreign_req, &loop, &foreign.target, &foreign.kcfg);
    cfg = (lq_offload_cfg_t){ .home_id = HOME_ID, .home_name = "home", .foreign_id = FOREIGN_ID,
                              .foreign_name = "foreign", .node_name = "liqo-foreign",
                              .flag_ns = flag_ns, .n_flag_ns = n_flags, .flag_mapping = mapping,
                              .nsof_gv = g_gv, .psa = g_psa };
    lq_refl_init(&refl, &loop, &home, &foreign, &home_req, &foreign_req);
    assert_int_equal(lq_offload_init(&off, &refl, &cfg), LQ_OK);
    unsigned char d[32];
    assert_int_equal(lq_tls_sha256(HOME_ID, strlen(HOME_ID), d), LQ_OK);
    lq_forge_offload_hash_suffix(d, sfx);
}

/* The agent's patch of a home namespace: the scheduling label (set or removed) and its
 * mark (the remote namespace it owns: name + uid, or removed when name is NULL). */
static void assert_home_patch(const req_t *q, bool set, const char *name, const char *uid)
{
    char want[512];
    char n[128], u[128];
    (void)snprintf(n, sizeof n, name ? "\"%s\"" : "null", name);
    (void)snprintf(u, sizeof u, name ? "\"%s\"" : "null", uid);
    (void)snprintf(want, sizeof want,
                   "{\"metadata\":{\"annotations\":{\"" MARK_KEY "\":%s},\"labels\":{"
                   "\"liqo.io/scheduling-enabled\":%s,\"" MARK_KEY "\":%s}}}",
                   u, set ? "\"true\"" : "null", n);
    assert_string_equal(q->body, want);
}

/* Starts the engine, then the offloading module, whose first request lists the home
 * namespaces a previous run marked (items: the JSON list items, "" for none). */
static void start_with_marks(const char *items)
{
    arm();
    assert_int_equal(lq_refl_start(&refl), LQ_OK);
    assert_int_equal(lq_offload_start(&off), LQ_OK);
    req_t *q = expect(HOME, "GET", MARKS_PATH);
    char *b = tbuf();
    (void)snprintf(b, 8192, "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\","
                            "\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[%s]}", items);
    reply(q, 200, b);
}

static void start(void)
{
    start_with_marks("");
}

/* ---- tests --------------------------------------------------------------------------- */

/* The NamespaceOffloading version from GET /apis/offloading.liqo.io (an APIGroup). */
static void test_pick_gv(void)
{
    static const struct {
        const char *body;
        const char *want;
    } t[] = {
        { NULL, LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
        { "", LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
        { "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"offloading.liqo.io\","
          "\"versions\":[{\"groupVersion\":\"offloading.liqo.io/v1beta1\",\"version\":\"v1beta1\"}],"
          "\"preferredVersion\":{\"groupVersion\":\"offloading.liqo.io/v1beta1\",\"version\":\"v1beta1\"}}",
          LQ_LIQO_OFFLOADING_GV_V1BETA1 },
        { "{\"name\":\"offloading.liqo.io\",\"versions\":[{\"groupVersion\":\"offloading.liqo.io/v1alpha1\"},"
          "{\"groupVersion\":\"offloading.liqo.io/v1beta1\"}]}", LQ_LIQO_OFFLOADING_GV_V1BETA1 },
        { "{\"name\":\"offloading.liqo.io\",\"versions\":[{\"groupVersion\":\"offloading.liqo.io/v1alpha1\","
          "\"version\":\"v1alpha1\"}]}", LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
        /* another group's document, or not JSON: v1alpha1 */
        { "{\"name\":\"other.io\",\"versions\":[{\"groupVersion\":\"offloading.liqo.io/v1beta1\"}]}",
          LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
        { "{\"name\":\"offloading.liqo.io\",\"versions\":{}}", LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
        { "<html>", LQ_LIQO_OFFLOADING_GV_V1ALPHA1 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = lq_offload_pick_gv(t[i].body, t[i].body ? strlen(t[i].body) : 0);
        if (strcmp(got, t[i].want) != 0)
            fail_msg("row %zu: %s, want %s", i, got, t[i].want);
    }
}

static int back_to_v08(void **state)
{
    (void)state;
    g_gv = NULL;
    lq_liqo_use(LQ_LIQO_COMPAT_V08);
    return 0;
}

/* Liqo v1 names end to end on the fake servers: the v1beta1 resource watched, read and
 * patched, and the remote namespace (and the foreign watch) with the v1 labels. */
#define NSOF_PATH_V1B1(ns) "/apis/offloading.liqo.io/v1beta1/namespaces/" ns "/namespaceoffloadings/offloading"
static void test_v1beta1_and_v1_labels(void **state)
{
    (void)state;
    test_pick_gv();
    g_gv = LQ_LIQO_OFFLOADING_GV_V1BETA1;
    lq_liqo_use(LQ_LIQO_COMPAT_V1);
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    const char *const home_items[] = {
        nsof("team-a", "10", "", "\"namespaceMappingStrategy\":\"DefaultName\"", "{}"),
    };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    start();
    assert_true(strncmp(srv.watch_path[HOME], "/apis/offloading.liqo.io/v1beta1/namespaceoffloadings?",
                        sizeof "/apis/offloading.liqo.io/v1beta1/namespaceoffloadings?" - 1) == 0);
    char rn[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rn, "team-a");
    req_t *q = expect(HOME, "GET", NSOF_PATH_V1B1("team-a"));
    reply(q, 200, home_items[0]);
    q = expect(HOME, "PATCH", NSOF_PATH_V1B1("team-a"));
    reply(q, 200, nsof("team-a", "11", FIN_META, "\"namespaceMappingStrategy\":\"DefaultName\"", "{}"));
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    assert_true(has(q->body, "\"offloading.liqo.io/origin\":\"" HOME_ID "\""));
    assert_true(has(q->body, "\"offloading.liqo.io/destination\":\"" FOREIGN_ID "\""));
    assert_false(has(q->body, "virtualkubelet.liqo.io"));
    reply(q, 201, remote_ns(rn, "uid-a", "team-a", true, false));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-a");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH_V1B1("team-a") "/status");
    assert_true(has(q->body, "\"reason\":\"NamespaceCreated\""));
    assert_true(has(srv.watch_path[FOREIGN], "labelSelector=offloading.liqo.io%2Forigin%3D" HOME_ID
                                             "%2Coffloading.liqo.io%2Fdestination%3D" FOREIGN_ID));
}

/* 1. No CRD in the home cluster: only the --offload namespaces, no status anywhere. */
static void test_crd_absent_offloads_flag_namespaces_only(void **state)
{
    (void)state;
    static const char *const flags[] = { "team-b", "team-c=custom-c" };
    boot(flags, 2, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    set_list(HOME, 404, NULL, 0);
    set_list(FOREIGN, 200, NULL, 0);
    start();
    char rb[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rb, "team-b");

    req_t *q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    assert_owned_ns_body(q, rb, "team-b");
    assert_true(has(q->head, "Content-Type: application/json\r\n"));
    reply(q, 201, remote_ns(rb, "uid-b", "team-b", true, false));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-b");
    assert_home_patch(q, true, rb, "uid-b");
    assert_true(has(q->head, "Content-Type: application/merge-patch+json\r\n"));
    reply(q, 200, "{}");

    q = expect(FOREIGN, "POST", "/api/v1/namespaces"); /* --offload NS=REMOTE: SelectedName */
    assert_owned_ns_body(q, "custom-c", "team-c");
    reply(q, 201, remote_ns("custom-c", "uid-c", "team-c", true, false));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-c");
    assert_home_patch(q, true, "custom-c", "uid-c");
    reply(q, 200, "{}");

    quiet(3000);
    assert_true(off.crd_missing);
    assert_true(has(lq_fake_log_text(), "no NamespaceOffloading resource"));
    assert_int_equal(count_reqs(HOME, NULL, "/apis/"), 0); /* no GET, no status, no finalizer */
    assert_int_equal(off.stats.status_patches, 0);
    assert_int_equal(off.stats.finalizer_patches, 0);
    assert_int_equal(off.stats.creates, 2);
    assert_int_equal(rec_of("team-b")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
    assert_string_equal(rec_of("team-b")->seen_uid, "uid-b");
    assert_int_equal(rec_of("team-c")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
    assert_int_equal(rec_of("team-b")->h.retry_at, 0);

    /* The foreign watch reports what we created: nothing more to do. */
    watch_event(FOREIGN, "ADDED", remote_ns(rb, "uid-b", "team-b", true, false));
    watch_event(FOREIGN, "ADDED", remote_ns("custom-c", "uid-c", "team-c", true, false));
    quiet(1000);
    assert_int_equal(srv.nreqs, 5); /* the marks LIST, two creates, two home patches */
    assert_true(srv.watch_requests[HOME] >= 1); /* the CRD watch keeps trying */
}

/* 2. DefaultName through the resource: finalizer, create, label, status; own echo ignored. */
static void test_default_name_write_order_and_own_echo(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    const char *const home_items[] = {
        nsof("team-a", "10", "", "\"namespaceMappingStrategy\":\"DefaultName\"",
             "{\"remoteNamespacesConditions\":{" OTHER_KEY "},\"offloadingPhase\":\"Ready\"}"),
    };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    start();
    char rn[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rn, "team-a");

    req_t *q = expect(HOME, "GET", NSOF_PATH("team-a"));
    reply(q, 200, home_items[0]);

    q = expect(HOME, "PATCH", NSOF_PATH("team-a"));
    assert_string_equal(q->body, "{\"metadata\":{\"resourceVersion\":\"10\",\"finalizers\":[\"" FINALIZER "\"]}}");
    assert_true(has(q->head, "Content-Type: application/merge-patch+json\r\n"));
    const char *fin = FIN_META;
    const char *status0 = "{\"remoteNamespacesConditions\":{" OTHER_KEY "},\"offloadingPhase\":\"Ready\"}";
    reply(q, 200, nsof("team-a", "11", fin, "\"namespaceMappingStrategy\":\"DefaultName\"", status0));

    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    assert_owned_ns_body(q, rn, "team-a");
    /* The echo of the finalizer write arrives while the pass goes on: no new pass. */
    uint64_t passes = off.stats.passes;
    watch_event(HOME, "MODIFIED", nsof("team-a", "11", fin, "", status0));
    for (int i = 0; i < 3; i++)
        pump();
    assert_false(rec_of("team-a")->h.dirty);
    reply(q, 201, remote_ns(rn, "uid-a", "team-a", true, false));

    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-a");
    assert_home_patch(q, true, rn, "uid-a");
    reply(q, 200, "{}");

    q = expect(HOME, "PATCH", NSOF_PATH("team-a") "/status");
    assert_true(has(q->body, "{\"metadata\":{\"resourceVersion\":\"11\"},\"status\":{"));
    assert_true(has(q->body, "\"remoteNamespacesConditions\":{\"foreign\":[{"));
    assert_false(has(q->body, "other-cluster")); /* only this agent's key */
    assert_true(has(q->body, "\"reason\":\"ClusterSelected\""));
    assert_true(has(q->body, "\"reason\":\"NamespaceCreated\""));
    assert_true(has(q->body, "\"offloadingPhase\":\"Ready\""));
    assert_true(has(q->body, "\"observedGeneration\":1"));
    char want[128];
    (void)snprintf(want, sizeof want, "\"remoteNamespaceName\":\"%s\"", rn);
    assert_true(has(q->body, want));
    const char *st = patched_status(q, OTHER_KEY);
    const char *final = nsof("team-a", "12", fin, "\"namespaceMappingStrategy\":\"DefaultName\"", st);
    reply(q, 200, final);

    quiet(1000);
    assert_int_equal(off.stats.passes, passes);
    assert_int_equal(rec_of("team-a")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
    assert_string_equal(rec_of("team-a")->h.own_rv, "12");
    assert_string_equal(rec_of("team-a")->seen, rn);
    assert_int_equal(off.stats.status_patches, 1);
    assert_int_equal(off.stats.finalizer_patches, 1);
    assert_true(has(lq_fake_log_text(), "namespace team-a offloaded as"));

    /* The echo of the status write (same resourceVersion) starts no pass. */
    watch_event(HOME, "MODIFIED", final);
    quiet(10000);
    assert_int_equal(off.stats.passes, passes);
    assert_int_equal(srv.nreqs, 6);
    assert_int_equal(rec_of("team-a")->h.retry_at, 0);

    /* A change by someone else (new resourceVersion) does. */
    watch_event(HOME, "MODIFIED", nsof("team-a", "13", fin, "\"namespaceMappingStrategy\":\"DefaultName\"", st));
    q = expect(HOME, "GET", NSOF_PATH("team-a"));
    reply(q, 200, nsof("team-a", "13", fin, "\"namespaceMappingStrategy\":\"DefaultName\"", st));
    quiet(1000); /* everything already as wanted: no write */
    assert_int_equal(off.stats.passes, passes + 1);
}

/* 3. The remote name is taken by a namespace that is not ours: reported, left alone,
 * retried with backoff. */
/* Tests 3 and 4: the NamespaceOffloading of ns (EnforceSameName, our finalizer already
 * on it) is listed; the create of the remote namespace ns answers 409 AlreadyExists.
 * Returns the GET of the existing namespace that follows, for the test to answer. */
static req_t *create_hits_existing(const char *ns)
{
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    static char item[1024];
    (void)snprintf(item, sizeof item, "%s", nsof(ns, "20", FIN_META, SAME_NAME, NULL));
    const char *const home_items[] = { item };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    start();
    char path[256];
    (void)snprintf(path, sizeof path, "/apis/offloading.liqo.io/v1alpha1/namespaces/%s/"
                                      "namespaceoffloadings/offloading", ns);
    req_t *q = expect(HOME, "GET", path);
    reply(q, 200, item);
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    assert_owned_ns_body(q, ns, ns);
    reply_status(q, 409, "AlreadyExists", "the namespace already exists");
    (void)snprintf(path, sizeof path, "/api/v1/namespaces/%s", ns);
    return expect(FOREIGN, "GET", path);
}

static void test_conflict_not_ours_loopbackoff_and_retry(void **state)
{
    (void)state;
    const char *fin = FIN_META, *spec = SAME_NAME;
    req_t *q = create_hits_existing("team-x");
    const char *theirs = remote_ns("team-x", "uid-theirs", "team-x", false, false);
    reply(q, 200, theirs);
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-x");
    assert_home_patch(q, true, NULL, NULL);
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-x") "/status");
    assert_true(has(q->body, "\"reason\":\"CreationLoopBackOff\""));
    assert_true(has(q->body, "already exists in the foreign cluster"));
    assert_true(has(q->body, "\"offloadingPhase\":\"AllFailed\""));
    assert_false(has(q->body, "NamespaceCreated"));
    const char *st = patched_status(q, NULL);
    reply(q, 200, nsof("team-x", "21", fin, spec, st));

    lq_offload_rec_t *r = rec_of("team-x");
    for (int i = 0; i < 3; i++)
        pump();
    assert_int_equal(r->state, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF);
    assert_true(has(r->message, "already exists"));
    assert_true(has(lq_fake_log_text(), "namespace team-x: a namespace named team-x already exists"));
    /* First retry: 500..1000 ms (base 1 s, jittered into [half, full]). */
    int64_t wait = r->h.retry_at - lq_port_mono_ms();
    assert_in_range(wait, 490, 1000);
    quiet(400);
    q = next_req(100);
    assert_non_null(q);
    assert_int_equal(q->side, HOME);
    assert_string_equal(q->path, NSOF_PATH("team-x"));
    reply(q, 200, nsof("team-x", "21", fin, spec, st));
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    reply_status(q, 409, "AlreadyExists", "the namespace already exists");
    q = expect(FOREIGN, "GET", "/api/v1/namespaces/team-x");
    reply(q, 200, theirs);
    /* Label and status already say so: nothing written; the next retry waits longer. */
    for (int i = 0; i < 3; i++)
        pump();
    assert_null(pending());
    wait = r->h.retry_at - lq_port_mono_ms();
    assert_in_range(wait, 990, 2000);
    quiet(900);
    q = next_req(150);
    assert_non_null(q);
    assert_string_equal(q->path, NSOF_PATH("team-x"));

    /* Never deleted, never patched, never adopted. */
    assert_int_equal(count_reqs(FOREIGN, "DELETE", NULL), 0);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 0);
    assert_int_equal(count_reqs(FOREIGN, "PUT", NULL), 0);
    assert_int_equal(count_reqs(FOREIGN, "POST", NULL), 2);
    assert_false(lq_rtab_present(&r->h, LQ_RTAB_FOREIGN));
    assert_int_equal(off.stats.status_patches, 1);
    /* logged once, not on every retry */
    const char *log = lq_fake_log_text();
    const char *first = strstr(log, "already exists in the foreign cluster");
    assert_non_null(first);
    assert_null(strstr(first + 1, "already exists in the foreign cluster"));
}

/* 4. The remote name exists and is ours (an earlier run created it): adopted. */
static void test_conflict_ours_is_adopted(void **state)
{
    (void)state;
    const char *fin = FIN_META, *spec = SAME_NAME;
    req_t *q = create_hits_existing("team-y");
    reply(q, 200, remote_ns("team-y", "uid-ours", "team-y", true, false));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-y");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-y") "/status");
    assert_true(has(q->body, "\"reason\":\"NamespaceCreated\""));
    assert_true(has(q->body, "\"remoteNamespaceName\":\"team-y\""));
    assert_false(has(q->body, "CreationLoopBackOff"));
    reply(q, 200, nsof("team-y", "21", fin, spec, patched_status(q, NULL)));
    quiet(2000);

    lq_offload_rec_t *r = rec_of("team-y");
    assert_int_equal(r->state, LQ_FORGE_OFFLOAD_NS_CREATED);
    assert_true(lq_rtab_present(&r->h, LQ_RTAB_FOREIGN));
    assert_string_equal(r->seen, "team-y");
    assert_string_equal(r->seen_uid, "uid-ours"); /* a later delete is for this one only */
    assert_int_equal(count_reqs(FOREIGN, "POST", NULL), 1);
    assert_int_equal(off.stats.creates, 0);
    assert_int_equal(r->h.retry_at, 0);
}

/* 4b. Pod Security (issue 17 finding 8): the label is written at creation and raised again
 * on our namespace when the foreign side shows it missing or weaker; a stricter level is the
 * provider's and stays; another namespace under the name (another UID) is never patched. */
static const char *with_psa(const char *ns_json, const char *level)
{
    char *b = tbuf();
    const char *at = strstr(ns_json, "\"labels\":{");
    assert_non_null(at);
    size_t head = (size_t)(at - ns_json) + strlen("\"labels\":{");
    int k = snprintf(b, 8192, "%.*s\"pod-security.kubernetes.io/enforce\":\"%s\",%s", (int)head,
                     ns_json, level, ns_json + head);
    assert_true(k > 0 && k < 8192);
    return b;
}

static char g_cur_nsof[8192]; /* the NamespaceOffloading as the last status patch left it */

static void psa_pass(const char *event)
{
    /* each foreign change has a new resourceVersion (an equal one is our own echo) */
    static int rv = 100;
    char *ev = tbuf();
    const char *at = strstr(event, "\"resourceVersion\":\"7\"");
    assert_non_null(at);
    int k = snprintf(ev, 8192, "%.*s\"resourceVersion\":\"%d\"%s", (int)(at - event), event, ++rv,
                     at + strlen("\"resourceVersion\":\"7\""));
    assert_true(k > 0 && k < 8192);
    watch_event(FOREIGN, "MODIFIED", ev);
    req_t *q = expect(HOME, "GET", NSOF_PATH("team-p"));
    reply(q, 200, g_cur_nsof);
}

static void psa_status(req_t *q, const char *fin, const char *spec)
{
    (void)snprintf(g_cur_nsof, sizeof g_cur_nsof, "%s", nsof("team-p", "21", fin, spec, patched_status(q, NULL)));
    reply(q, 200, g_cur_nsof);
}

static int psa_off(void **state)
{
    (void)state;
    g_psa = LQ_FORGE_OFFLOAD_PSA_NONE;
    return 0;
}

static void test_pod_security_label_kept_at_level(void **state)
{
    (void)state;
    const char *fin = FIN_META, *spec = SAME_NAME;
    g_psa = LQ_FORGE_OFFLOAD_PSA_BASELINE;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    const char *item = nsof("team-p", "20", fin, spec, NULL);
    const char *const home_items[] = { item };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    start();
    req_t *q = expect(HOME, "GET", NSOF_PATH("team-p"));
    reply(q, 200, nsof("team-p", "20", fin, spec, NULL));
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    assert_owned_ns_body(q, "team-p", "team-p");
    assert_true(has(q->body, "\"pod-security.kubernetes.io/enforce\":\"baseline\""));
    static char ours[2048];
    (void)snprintf(ours, sizeof ours, "%s", remote_ns("team-p", "uid-p", "team-p", true, false));
    reply(q, 201, with_psa(ours, "baseline"));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-p");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-p") "/status");
    psa_status(q, fin, spec);
    quiet(500);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 0);

    /* the watch shows it with our level: nothing to do */
    psa_pass(with_psa(ours, "baseline"));
    quiet(500);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 0);

    /* someone in the foreign cluster removed the label: set again, on our UID only */
    psa_pass(ours);
    q = expect(FOREIGN, "PATCH", "/api/v1/namespaces/team-p");
    assert_true(has(q->head, "Content-Type: application/merge-patch+json\r\n"));
    assert_string_equal(q->body, "{\"metadata\":{\"uid\":\"uid-p\",\"labels\":"
                                 "{\"pod-security.kubernetes.io/enforce\":\"baseline\"}}}");
    reply(q, 200, with_psa(ours, "baseline"));
    quiet(500);
    assert_int_equal(off.stats.psa_patches, 1);
    assert_true(has(lq_fake_log_text(), "enforces Pod Security level (none)"));

    /* weakened to privileged: raised again */
    psa_pass(with_psa(ours, "privileged"));
    q = expect(FOREIGN, "PATCH", "/api/v1/namespaces/team-p");
    assert_true(has(q->body, "\"baseline\""));
    reply(q, 200, with_psa(ours, "baseline"));
    quiet(500);
    assert_int_equal(off.stats.psa_patches, 2);

    /* an unknown value counts as no level */
    psa_pass(with_psa(ours, "Privileged"));
    q = expect(FOREIGN, "PATCH", "/api/v1/namespaces/team-p");
    reply(q, 200, with_psa(ours, "baseline"));
    quiet(500);
    assert_int_equal(off.stats.psa_patches, 3);

    /* the provider made it stricter: its choice stays */
    psa_pass(with_psa(ours, "restricted"));
    quiet(500);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 3);

    /* hostile: another object under the name (another UID), carrying our labels and no
     * Pod Security label: not ours, never patched */
    watch_event(FOREIGN, "MODIFIED", remote_ns("team-p", "uid-evil", "team-p", true, false));
    for (int i = 0; i < 300; i++) {
        pump();
        req_t *p = pending();
        if (p && p->side == HOME && strcmp(p->method, "GET") == 0)
            reply(p, 200, g_cur_nsof);
    }
    assert_null(pending());
    assert_string_equal(rec_of("team-p")->seen_uid, "uid-p");
    for (size_t i = 0; i < srv.nreqs; i++)
        if (srv.reqs[i].side == FOREIGN && strcmp(srv.reqs[i].method, "PATCH") == 0)
            assert_false(has(srv.reqs[i].body, "uid-evil"));
    assert_int_equal(off.stats.psa_patches, 3);
}

/* 4b'. The foreign cluster does not keep the label (a webhook strips it): patched once,
 * said so, and not again for that namespace (else each patch would cause the next). */
static void test_pod_security_label_not_kept_is_not_chased(void **state)
{
    (void)state;
    const char *fin = FIN_META, *spec = SAME_NAME;
    g_psa = LQ_FORGE_OFFLOAD_PSA_BASELINE;
    req_t *q = create_hits_existing("team-p");
    static char ours[2048];
    (void)snprintf(ours, sizeof ours, "%s", remote_ns("team-p", "uid-w", "team-p", true, false));
    reply(q, 200, ours);
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-p");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-p") "/status");
    psa_status(q, fin, spec);
    quiet(500);
    psa_pass(ours);
    q = expect(FOREIGN, "PATCH", "/api/v1/namespaces/team-p");
    reply(q, 200, ours); /* stored without the label */
    quiet(500);
    assert_true(has(lq_fake_log_text(), "does not keep pod-security.kubernetes.io/enforce=baseline"));
    psa_pass(ours);
    psa_pass(with_psa(ours, "privileged"));
    quiet(1000);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 1);
    assert_int_equal(rec_of("team-p")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
}

/* 4c. A 409 on the label patch (the UID in it is no longer the name's): the namespace is
 * not treated as ours any more. */
static void test_pod_security_patch_conflict_drops_ownership(void **state)
{
    (void)state;
    const char *fin = FIN_META, *spec = SAME_NAME;
    g_psa = LQ_FORGE_OFFLOAD_PSA_RESTRICTED;
    req_t *q = create_hits_existing("team-p");
    static char ours[2048];
    (void)snprintf(ours, sizeof ours, "%s", remote_ns("team-p", "uid-old", "team-p", true, false));
    reply(q, 200, ours); /* adopted: created by an earlier version, without the label */
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-p");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-p") "/status");
    psa_status(q, fin, spec);
    quiet(500);
    psa_pass(with_psa(ours, "baseline"));
    q = expect(FOREIGN, "PATCH", "/api/v1/namespaces/team-p");
    assert_true(has(q->body, "\"uid\":\"uid-old\""));
    assert_true(has(q->body, "\"restricted\""));
    reply_status(q, 409, "Conflict", "Precondition failed: UID in precondition: uid-old, UID in object meta: uid-new");
    /* not adopted again from the stale watch entry: created, found taken, read */
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    reply_status(q, 409, "AlreadyExists", "the namespace already exists");
    q = expect(FOREIGN, "GET", "/api/v1/namespaces/team-p");
    reply(q, 200, remote_ns("team-p", "uid-new", "team-p", false, false));
    for (int i = 0; i < 10; i++)
        pump();
    lq_offload_rec_t *r = rec_of("team-p");
    assert_string_equal(r->seen_uid, "");
    assert_int_equal(r->state, LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF);
    assert_int_equal(count_reqs(FOREIGN, "PATCH", NULL), 1);
    assert_int_equal(off.stats.psa_patches, 0);
    assert_int_equal(count_reqs(FOREIGN, "DELETE", NULL), 0);
}

/* 5. Deletion: remote namespace deleted with a uid precondition, then our status key and
 * our finalizer go, and nothing else of the object. */
static void test_deletion_drops_key_then_finalizer(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    char rn[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rn, "team-d");
    const char *meta = ",\"deletionTimestamp\":\"" TS "\",\"finalizers\":[\"" FINALIZER "\",\"example.com/keep\"]";
    char st0[1024];
    (void)snprintf(st0, sizeof st0,
                   "{\"remoteNamespacesConditions\":{\"foreign\":[{\"type\":\"OffloadingRequired\","
                   "\"status\":\"True\",\"reason\":\"ClusterSelected\",\"message\":\"m\","
                   "\"lastTransitionTime\":\"" TS "\"},{\"type\":\"Ready\",\"status\":\"True\","
                   "\"reason\":\"NamespaceCreated\",\"message\":\"m\",\"lastTransitionTime\":\"" TS
                   "\"}]},\"remoteNamespaceName\":\"%s\",\"offloadingPhase\":\"Ready\","
                   "\"observedGeneration\":1}", rn);
    const char *const home_items[] = { nsof("team-d", "30", meta, "", st0) };
    const char *const foreign_items[] = { remote_ns(rn, "rns-d", "team-d", true, false) };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, foreign_items, 1);
    start();

    req_t *q = expect(HOME, "GET", NSOF_PATH("team-d"));
    reply(q, 200, home_items[0]);
    char path[128];
    (void)snprintf(path, sizeof path, "/api/v1/namespaces/%s", rn);
    q = expect(FOREIGN, "DELETE", path);
    assert_true(has(q->body, "\"preconditions\":{\"uid\":\"rns-d\"}"));
    reply(q, 200, remote_ns(rn, "rns-d", "team-d", true, true));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-d");
    assert_home_patch(q, false, rn, "rns-d");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-d") "/status");
    assert_true(has(q->body, "\"resourceVersion\":\"30\""));
    assert_true(has(q->body, "\"reason\":\"Terminating\""));
    assert_true(has(q->body, "\"offloadingPhase\":\"Terminating\""));
    const char *st1 = patched_status(q, NULL);
    reply(q, 200, nsof("team-d", "31", meta, "", st1));
    quiet(2000); /* waits for the namespace to go; the finalizer stays meanwhile */
    assert_int_equal(rec_of("team-d")->state, LQ_FORGE_OFFLOAD_NS_TERMINATING);
    assert_int_equal(off.stats.finalizer_patches, 0);

    watch_event(FOREIGN, "DELETED", remote_ns(rn, "rns-d", "team-d", true, true));
    q = expect(HOME, "GET", NSOF_PATH("team-d"));
    reply(q, 200, nsof("team-d", "31", meta, "", st1));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-d"); /* the mark goes with it */
    assert_home_patch(q, false, NULL, NULL);
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-d") "/status");
    char want[512];
    (void)snprintf(want, sizeof want,
                   "{\"metadata\":{\"resourceVersion\":\"31\"},\"status\":{\"remoteNamespacesConditions\":"
                   "{\"foreign\":null},\"remoteNamespaceName\":\"%s\",\"offloadingPhase\":\"Terminating\","
                   "\"observedGeneration\":1}}", rn);
    assert_string_equal(q->body, want);
    char st2[512];
    (void)snprintf(st2, sizeof st2,
                   "{\"remoteNamespacesConditions\":{},\"remoteNamespaceName\":\"%s\","
                   "\"offloadingPhase\":\"Terminating\",\"observedGeneration\":1}", rn);
    reply(q, 200, nsof("team-d", "32", meta, "", st2));
    q = expect(HOME, "PATCH", NSOF_PATH("team-d"));
    assert_string_equal(q->body, "{\"metadata\":{\"resourceVersion\":\"32\",\"finalizers\":[\"example.com/keep\"]}}");
    reply(q, 200, nsof("team-d", "33", ",\"deletionTimestamp\":\"" TS "\",\"finalizers\":[\"example.com/keep\"]", "", st2));
    quiet(10000);

    assert_int_equal(off.stats.deletes, 1);
    assert_int_equal(off.stats.finalizer_patches, 1);
    assert_int_equal(off.stats.status_patches, 2);
    assert_null(rec_of("team-d")); /* nothing left to do: record freed */
    assert_int_equal(off.kind.tab.stats.records, 0);
    assert_int_equal(count_reqs(FOREIGN, "DELETE", NULL), 1);
}

/* 6. Status write refused with 409 Conflict (another agent wrote): re-read, re-patch. */
static void test_status_conflict_rereads(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    char rn[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rn, "team-s");
    const char *fin = FIN_META;
    const char *const home_items[] = { nsof("team-s", "40", fin, "", NULL) };
    const char *const foreign_items[] = { remote_ns(rn, "rns-s", "team-s", true, false) };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, foreign_items, 1);
    start();

    req_t *q = expect(HOME, "GET", NSOF_PATH("team-s"));
    reply(q, 200, home_items[0]);
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-s");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-s") "/status");
    assert_true(has(q->body, "\"resourceVersion\":\"40\""));
    reply_status(q, 409, "Conflict", "the object has been modified; please apply your changes "
                                     "to the latest version and try again");
    /* a new pass on fresh data */
    q = expect(HOME, "GET", NSOF_PATH("team-s"));
    const char *other = "{\"remoteNamespacesConditions\":{" OTHER_KEY "},\"offloadingPhase\":\"Ready\"}";
    reply(q, 200, nsof("team-s", "41", fin, "", other));
    q = expect(HOME, "PATCH", NSOF_PATH("team-s") "/status");
    assert_true(has(q->body, "\"resourceVersion\":\"41\""));
    assert_false(has(q->body, "other-cluster"));
    assert_true(has(q->body, "\"offloadingPhase\":\"Ready\""));
    reply(q, 200, nsof("team-s", "42", fin, "", patched_status(q, OTHER_KEY)));
    quiet(2000);

    assert_int_equal(off.stats.conflicts, 1);
    assert_int_equal(off.stats.status_patches, 1);
    assert_int_equal(count_reqs(HOME, "PATCH", "/api/v1/namespaces/team-s"), 1); /* label once */
    assert_int_equal(count_reqs(FOREIGN, NULL, NULL), 0); /* the remote namespace exists */
    assert_int_equal(rec_of("team-s")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
}

/* 7. Trust model (DESIGN.md Decision 17): nothing happens before the home side has
 * listed, and a foreign namespace that carries our labels but that no home object asks
 * for ("gone", or "evil" with a forged liqo.io/original-name) never creates a record, is
 * never deleted and never touches a home namespace. The one the home side asks for
 * ("kept", under its wanted name, naming "kept" as its origin) is adopted. */
static void test_foreign_namespaces_never_create_records(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    char gone[LQ_FORGE_OFFLOAD_NAME_BUF], kept[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(gone, "gone");
    default_name(kept, "kept");
    const char *const foreign_items[] = { remote_ns(gone, "rns-g", "gone", true, false),
                                          remote_ns(kept, "rns-k", "kept", true, false),
                                          remote_ns("evil", "rns-e", "kept", true, false) };
    set_list(FOREIGN, 200, foreign_items, 3);
    set_list(HOME, 0, NULL, 0); /* hold the home watch */
    start();
    for (int i = 0; i < 300 && !off.kind.synced[LQ_RTAB_FOREIGN]; i++)
        pump();
    assert_true(off.kind.synced[LQ_RTAB_FOREIGN]);
    quiet(3000);
    assert_false(off.kind.synced[LQ_RTAB_HOME]);
    assert_int_equal(srv.nreqs, 1); /* the marks LIST only */
    assert_int_equal(off.stats.passes, 0);
    assert_true(srv.watch_requests[HOME] >= 1);
    assert_null(rec_of("gone"));
    assert_int_equal(off.kind.tab.stats.records, 0);

    const char *fin = FIN_META;
    const char *const home_items[] = { nsof("kept", "50", fin, "", NULL) };
    set_list(HOME, 200, home_items, 1);
    /* kept has its NamespaceOffloading: its namespace is adopted, nothing created */
    req_t *q = expect(HOME, "GET", NSOF_PATH("kept"));
    reply(q, 200, home_items[0]);
    q = expect(HOME, "PATCH", "/api/v1/namespaces/kept");
    assert_home_patch(q, true, kept, "rns-k");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("kept") "/status");
    assert_true(has(q->body, "\"reason\":\"NamespaceCreated\""));
    reply(q, 200, nsof("kept", "51", fin, "", patched_status(q, NULL)));
    quiet(1000);
    assert_string_equal(rec_of("kept")->seen, kept);
    assert_string_equal(rec_of("kept")->seen_uid, "rns-k");
    assert_int_equal(rec_of("kept")->state, LQ_FORGE_OFFLOAD_NS_CREATED);
    /* gone and evil: no record, no request of any kind about them */
    assert_null(rec_of("gone"));
    assert_int_equal(off.kind.tab.stats.records, 1);
    assert_int_equal(count_reqs(FOREIGN, NULL, NULL), 0);
    assert_int_equal(count_reqs(HOME, "PATCH", "/api/v1/namespaces/gone"), 0);
    assert_true(off.stats.ignored_foreign >= 2);

    /* Later events about them change nothing either; a forged copy under kept's name
     * with another UID does not re-point kept's record. */
    watch_event(FOREIGN, "MODIFIED", remote_ns("evil", "rns-e", "kept", true, true));
    watch_event(FOREIGN, "DELETED", remote_ns(gone, "rns-g", "gone", true, true));
    watch_event(FOREIGN, "MODIFIED", remote_ns(kept, "rns-forged", "kept", true, true));
    quiet(1000);
    assert_int_equal(srv.nreqs, 4);
    assert_string_equal(rec_of("kept")->seen_uid, "rns-k");
    assert_false(rec_of("kept")->remote_terminating);
    assert_int_equal(lq_offload_home_ns(&off, "evil", 4) == NULL, 1);
    assert_string_equal(lq_offload_remote_ns(&off, "kept", 4), kept);
}

/* 7b. A restart finds the home namespaces this agent marked: a remote namespace whose
 * UID the mark records is ours and, no longer wanted, is deleted with that UID as the
 * precondition; one under a marked name but with another UID (re-created by someone
 * else) is left alone. Either way the label and the mark go. */
static const char *marked_ns(const char *ns, const char *remote, const char *uid)
{
    char *b = tbuf();
    (void)snprintf(b, 8192, "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"" MARK_KEY "\":\"%s\"},"
                            "\"annotations\":{\"" MARK_KEY "\":\"%s\"}}}", ns, remote, uid);
    return b;
}

static void test_restart_removes_what_the_marks_prove(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    char left[LQ_FORGE_OFFLOAD_NAME_BUF], fake[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(left, "left");
    default_name(fake, "fake");
    const char *const foreign_items[] = { remote_ns(left, "rns-l", "left", true, false),
                                          remote_ns(fake, "rns-other", "fake", true, false) };
    set_list(HOME, 404, NULL, 0);
    set_list(FOREIGN, 200, foreign_items, 2);
    char items[1024];
    (void)snprintf(items, sizeof items, "%s,%s", marked_ns("left", left, "rns-l"),
                   marked_ns("fake", fake, "rns-f"));
    start_with_marks(items);

    char path[128];
    (void)snprintf(path, sizeof path, "/api/v1/namespaces/%s", left);
    req_t *q = NULL;
    bool deleted = false, fake_patched = false;
    /* the two records run one after the other, in either order */
    for (int n = 0; n < 3; n++) {
        q = next_req(300);
        assert_non_null(q);
        if (q->side == FOREIGN) {
            assert_string_equal(q->method, "DELETE");
            assert_string_equal(q->path, path);
            assert_true(has(q->body, "\"preconditions\":{\"uid\":\"rns-l\"}"));
            reply(q, 200, remote_ns(left, "rns-l", "left", true, true));
            deleted = true;
        } else if (strcmp(q->path, "/api/v1/namespaces/fake") == 0) {
            assert_home_patch(q, false, NULL, NULL); /* not ours: only our own marks go */
            reply(q, 200, "{}");
            fake_patched = true;
        } else {
            assert_string_equal(q->path, "/api/v1/namespaces/left");
            assert_home_patch(q, false, left, "rns-l"); /* terminating: the mark stays */
            reply(q, 200, "{}");
        }
    }
    assert_true(deleted && fake_patched);
    quiet(1000);
    watch_event(FOREIGN, "DELETED", remote_ns(left, "rns-l", "left", true, true));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/left");
    assert_home_patch(q, false, NULL, NULL);
    reply(q, 200, "{}");
    quiet(1000);
    assert_int_equal(count_reqs(FOREIGN, "DELETE", NULL), 1);
    assert_null(rec_of("left"));
    assert_null(rec_of("fake"));
    assert_int_equal(off.kind.tab.stats.records, 0);
}

/* 8. More NamespaceOffloadings than records: logged, no crash; once a record frees, the
 * watches relist and the namespace that did not fit is offloaded. */
#define NFULL (LQ_MAX_NAMESPACES + 1)
static char full_items[NFULL][1024];

static const char *full_nsof(unsigned i)
{
    char ns[32];
    (void)snprintf(ns, sizeof ns, "ns-%02u", i);
    (void)snprintf(full_items[i], sizeof full_items[i], "%s", nsof(ns, "10", FIN_META, SAME_NAME, NULL));
    return full_items[i];
}

/* GET NamespaceOffloading: the object; status patch: accepted; foreign POST: created
 * under the name asked for; foreign DELETE: accepted; home label: ok. */
static bool bulk_reply(req_t *q)
{
    if (q->side == HOME && strcmp(q->method, "GET") == 0 && has(q->path, "/namespaceoffloadings/")) {
        unsigned i = (unsigned)strtoul(strstr(q->path, "/ns-") + 4, NULL, 10);
        respond(q->fd, 200, full_nsof(i));
        return true;
    }
    if (q->side == FOREIGN && strcmp(q->method, "POST") == 0) {
        const char *n = strstr(q->body, "\"name\":\"ns-");
        unsigned i = n ? (unsigned)strtoul(n + 11, NULL, 10) : 0;
        char name[32], uid[32];
        (void)snprintf(name, sizeof name, "ns-%02u", i);
        (void)snprintf(uid, sizeof uid, "uid-%02u", i);
        respond(q->fd, 201, remote_ns(name, uid, name, true, false));
        return true;
    }
    if (q->side == FOREIGN && strcmp(q->method, "DELETE") == 0) {
        respond(q->fd, 200, "{}");
        return true;
    }
    if (q->side == HOME && strcmp(q->method, "PATCH") == 0) {
        if (!has(q->path, "/status")) {
            respond(q->fd, 200, "{}");
            return true;
        }
        char ns[32];
        unsigned i = (unsigned)strtoul(strstr(q->path, "/ns-") + 4, NULL, 10);
        (void)snprintf(ns, sizeof ns, "ns-%02u", i);
        respond(q->fd, 200, nsof(ns, "11", FIN_META, SAME_NAME, patched_status(q, NULL)));
        return true;
    }
    return false;
}

static bool all_first_passes_done(void)
{
    return off.stats.creates == LQ_MAX_NAMESPACES && off.kind.busy == 0 &&
           off.kind.tab.stats.queued == 0;
}

static bool last_one_created(void)
{
    return off.stats.creates > LQ_MAX_NAMESPACES;
}

static void test_table_full_relists_when_a_record_frees(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    const char *items[NFULL];
    for (unsigned i = 0; i < NFULL; i++)
        items[i] = full_nsof(i);
    set_list(HOME, 200, items, NFULL);
    set_list(FOREIGN, 200, NULL, 0);
    srv.autoreply = bulk_reply;
    start();
    pump_until(all_first_passes_done, 40000);
    char line[160];
    (void)snprintf(line, sizeof line, "namespace table full (%u records): namespace ns-%02u waits "
                   "until one frees", (unsigned)LQ_MAX_NAMESPACES, (unsigned)LQ_MAX_NAMESPACES);
    assert_true(has(lq_fake_log_text(), line));
    assert_int_equal(off.kind.tab.stats.table_full, 1);
    assert_int_equal(off.kind.tab.stats.records, LQ_MAX_NAMESPACES);
    char last[32];
    (void)snprintf(last, sizeof last, "ns-%02u", (unsigned)LQ_MAX_NAMESPACES);
    assert_null(rec_of(last));
    assert_int_equal(count_reqs(FOREIGN, "POST", NULL), LQ_MAX_NAMESPACES);
    unsigned home_lists = srv.watch_requests[HOME];

    /* ns-00's NamespaceOffloading goes (our finalizer long removed in this script): its
     * remote namespace is deleted, then gone; the record frees and a relist picks up
     * the one that did not fit. */
    for (unsigned i = 1; i < NFULL; i++)
        items[i - 1] = full_nsof(i);
    set_list(HOME, 200, items, LQ_MAX_NAMESPACES);
    watch_event(HOME, "DELETED", nsof("ns-00", "99", "", SAME_NAME, NULL));
    for (int i = 0; i < 20 && count_reqs(FOREIGN, "DELETE", "/api/v1/namespaces/ns-00") == 0; i++)
        pump();
    const req_t *del = NULL;
    for (size_t i = 0; i < srv.nreqs; i++)
        if (strcmp(srv.reqs[i].method, "DELETE") == 0 &&
            strcmp(srv.reqs[i].path, "/api/v1/namespaces/ns-00") == 0)
            del = &srv.reqs[i];
    assert_non_null(del);
    assert_true(has(del->body, "\"preconditions\":{\"uid\":\"uid-00\"}"));
    watch_event(FOREIGN, "DELETED", remote_ns("ns-00", "uid-00", "ns-00", true, true));
    int64_t t0 = lq_port_mono_ms();
    for (int i = 0; i < 20 && !has(lq_fake_log_text(), "relisting to pick up what the full table missed"); i++)
        pump();
    /* at once, not with the next retry timer */
    assert_true(has(lq_fake_log_text(), "relisting to pick up what the full table missed"));
    assert_true(lq_port_mono_ms() - t0 < 1000);
    pump_until(last_one_created, 20000);

    assert_true(srv.watch_requests[HOME] > home_lists);
    assert_null(rec_of("ns-00"));
    assert_non_null(rec_of(last));
    assert_int_equal(off.kind.tab.stats.table_full, 1);
    assert_int_equal(off.kind.tab.stats.records, LQ_MAX_NAMESPACES);
    assert_int_equal(off.kind.tab.stats.records_hwm, LQ_MAX_NAMESPACES);
}

/* 9. A whole life cycle (offload, then end) without touching the heap after start-up. */
static void test_no_heap_after_start(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    char rn[LQ_FORGE_OFFLOAD_NAME_BUF];
    default_name(rn, "team-h");
    const char *const home_items[] = { nsof("team-h", "60", "", "", NULL) };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    const char *fin = FIN_META;
    const char *del = ",\"deletionTimestamp\":\"" TS "\",\"finalizers\":[\"" FINALIZER "\"]";
    char path[128];
    (void)snprintf(path, sizeof path, "/api/v1/namespaces/%s", rn);

    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    start();
    req_t *q = expect(HOME, "GET", NSOF_PATH("team-h"));
    reply(q, 200, home_items[0]);
    q = expect(HOME, "PATCH", NSOF_PATH("team-h"));
    reply(q, 200, nsof("team-h", "61", fin, "", NULL));
    q = expect(FOREIGN, "POST", "/api/v1/namespaces");
    reply(q, 201, remote_ns(rn, "rns-h", "team-h", true, false));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-h");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-h") "/status");
    const char *st = patched_status(q, NULL);
    reply(q, 200, nsof("team-h", "62", fin, "", st));
    quiet(500);
    watch_event(FOREIGN, "ADDED", remote_ns(rn, "rns-h", "team-h", true, false));
    q = expect(HOME, "GET", NSOF_PATH("team-h"));
    reply(q, 200, nsof("team-h", "62", fin, "", st));
    quiet(500);
    /* the resource is deleted */
    watch_event(HOME, "MODIFIED", nsof("team-h", "63", del, "", st));
    q = expect(HOME, "GET", NSOF_PATH("team-h"));
    reply(q, 200, nsof("team-h", "63", del, "", st));
    q = expect(FOREIGN, "DELETE", path);
    reply(q, 200, remote_ns(rn, "rns-h", "team-h", true, true));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-h");
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-h") "/status");
    const char *st2 = patched_status(q, NULL);
    reply(q, 200, nsof("team-h", "64", del, "", st2));
    quiet(500);
    watch_event(FOREIGN, "DELETED", remote_ns(rn, "rns-h", "team-h", true, true));
    q = expect(HOME, "GET", NSOF_PATH("team-h"));
    reply(q, 200, nsof("team-h", "64", del, "", st2));
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-h"); /* the mark goes with it */
    assert_home_patch(q, false, NULL, NULL);
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-h") "/status");
    char st3[512];
    (void)snprintf(st3, sizeof st3,
                   "{\"remoteNamespacesConditions\":{},\"remoteNamespaceName\":\"%s\","
                   "\"offloadingPhase\":\"Terminating\",\"observedGeneration\":1}", rn);
    reply(q, 200, nsof("team-h", "65", del, "", st3));
    q = expect(HOME, "PATCH", NSOF_PATH("team-h"));
    assert_string_equal(q->body, "{\"metadata\":{\"resourceVersion\":\"65\",\"finalizers\":[]}}");
    reply(q, 200, nsof("team-h", "66", ",\"deletionTimestamp\":\"" TS "\"", "", NULL));
    watch_event(HOME, "DELETED", nsof("team-h", "67", ",\"deletionTimestamp\":\"" TS "\"", "", NULL));
    quiet(1000);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before asserting (cmocka allocates on failure) */

    assert_int_equal(v1, v0);
    assert_int_equal(off.stats.creates, 1);
    assert_int_equal(off.stats.deletes, 1);
    assert_int_equal(off.stats.finalizer_patches, 2);
    assert_int_equal(off.kind.tab.stats.records, 0);
}

/* 10. A clusterSelector that does not match this agent's node: no remote namespace, the
 * status says ClusterNotSelected. */
static void test_cluster_selector_not_matching(void **state)
{
    (void)state;
    boot(NULL, 0, LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME);
    const char *fin = FIN_META;
    const char *spec = "\"clusterSelector\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":"
                       "\"region\",\"operator\":\"In\",\"values\":[\"eu\"]}]}]}";
    const char *const home_items[] = { nsof("team-n", "70", fin, spec, NULL) };
    set_list(HOME, 200, home_items, 1);
    set_list(FOREIGN, 200, NULL, 0);
    start();

    req_t *q = expect(HOME, "GET", NSOF_PATH("team-n"));
    reply(q, 200, home_items[0]);
    q = expect(HOME, "GET", "/api/v1/nodes/liqo-foreign");
    reply(q, 200, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"liqo-foreign\",\"labels\":{"
                  "\"liqo.io/type\":\"virtual-node\",\"region\":\"us\"}}}");
    q = expect(HOME, "PATCH", "/api/v1/namespaces/team-n");
    assert_home_patch(q, true, NULL, NULL);
    reply(q, 200, "{}");
    q = expect(HOME, "PATCH", NSOF_PATH("team-n") "/status");
    assert_true(has(q->body, "\"reason\":\"ClusterNotSelected\""));
    assert_true(has(q->body, "\"offloadingPhase\":\"NoClusterSelected\""));
    reply(q, 200, nsof("team-n", "71", fin, spec, patched_status(q, NULL)));
    quiet(2000);
    assert_int_equal(count_reqs(FOREIGN, NULL, NULL), 0);
    assert_false(rec_of("team-n")->selected);
    assert_int_equal(rec_of("team-n")->state, LQ_FORGE_OFFLOAD_NS_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crd_absent_offloads_flag_namespaces_only),
        cmocka_unit_test_teardown(test_v1beta1_and_v1_labels, back_to_v08),
        cmocka_unit_test(test_default_name_write_order_and_own_echo),
        cmocka_unit_test(test_conflict_not_ours_loopbackoff_and_retry),
        cmocka_unit_test(test_conflict_ours_is_adopted),
        cmocka_unit_test_teardown(test_pod_security_label_kept_at_level, psa_off),
        cmocka_unit_test_teardown(test_pod_security_patch_conflict_drops_ownership, psa_off),
        cmocka_unit_test_teardown(test_pod_security_label_not_kept_is_not_chased, psa_off),
        cmocka_unit_test(test_deletion_drops_key_then_finalizer),
        cmocka_unit_test(test_status_conflict_rereads),
        cmocka_unit_test(test_foreign_namespaces_never_create_records),
        cmocka_unit_test(test_restart_removes_what_the_marks_prove),
        cmocka_unit_test(test_table_full_relists_when_a_record_frees),
        cmocka_unit_test(test_no_heap_after_start),
        cmocka_unit_test(test_cluster_selector_not_matching),
    };
    return cmocka_run_group_tests_name("offload", tests, NULL, NULL);
}
