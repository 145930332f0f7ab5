/* Unit tests of ConfigMap and EndpointSlice reflection (src/reflect/mirror.c) on the fake
 * port, plain TCP: the decisions of a pass against scripted home and foreign API servers.
 * EndpointSlices also while the home cluster is unreachable (lq_mirror_home_available):
 * the copy we own is read back on the foreign side only and applied with every endpoint
 * not ready and its uid; no write when it is as we wrote it; a foreign edit gated again;
 * a replaced or deleted copy disowned, never written nor created; a copy whose first
 * write was in flight when home went down gated right after; the home slice's real
 * readiness applied when home is back; other kinds unaffected.
 *
 * Namespace offloading is stubbed here (the five lq_offload_* functions mirror.c calls):
 * home namespace "team" is offloaded into the usable remote namespace "team-remote" (and
 * "default" into "default-remote", for the API server's own objects), every other
 * namespace is not offloaded. The engine's watches (one per side, cluster-wide) are
 * answered with a watch-list stream of the configured initial objects that stays open;
 * events are pushed into it. Every other request is taken in order with expect() and
 * answered with reply(). */
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
#include "liqolet/forge_eps.h"
#include "liqolet/mirror.h"
#include "lq_fake.h"

#define HOME_ID    "home-cluster-id"
#define FOREIGN_ID "foreign-cluster-id"
#define HNS        "/api/v1/namespaces/team/configmaps/"
#define RNS        "/api/v1/namespaces/team-remote/configmaps/"
#define APPLY_Q    "?fieldManager=reflection.liqo.io&force=true"

enum { HOME = 0, FOREIGN = 1 };

/* ---- namespace offloading, stubbed ------------------------------------------------------- */

static unsigned counted_ok, counted_err;

lq_offload_use_t lq_offload_ns(const lq_offload_t *o, const char *ns, size_t len,
                               const char **remote)
{
    (void)o;
    bool team = len == 4 && memcmp(ns, "team", 4) == 0;
    /* `default` is offloaded too, so the rule about its `kubernetes` objects is tested */
    bool dflt = len == 7 && memcmp(ns, "default", 7) == 0;
    if (remote)
        *remote = team ? "team-remote" : dflt ? "default-remote" : NULL;
    return team || dflt ? LQ_OFFLOAD_USABLE : LQ_OFFLOAD_NOT_OFFLOADED;
}

const char *lq_offload_remote_ns(const lq_offload_t *o, const char *ns, size_t len)
{
    const char *r = NULL;
    (void)lq_offload_ns(o, ns, len, &r);
    return r;
}

const char *lq_offload_home_ns(const lq_offload_t *o, const char *remote_ns, size_t len)
{
    (void)o;
    return len == 11 && memcmp(remote_ns, "team-remote", 11) == 0 ? "team" : NULL;
}

bool lq_offload_settled(const lq_offload_t *o)
{
    (void)o;
    return true;
}

void lq_offload_count(lq_offload_t *o, const char *ns, lq_mgmt_kind_t kind, bool ok)
{
    (void)o, (void)ns;
    assert_true(kind == LQ_MGMT_KIND_CONFIGMAP || kind == LQ_MGMT_KIND_ENDPOINTSLICE);
    if (ok)
        counted_ok++;
    else
        counted_err++;
}

/* ---- the scripted API servers -------------------------------------------------------------- */

typedef struct {
    int side;
    lq_port_fd_t fd;
    char method[8];
    char path[512];
    char head[1024];
    char body[16384];
} req_t;

typedef struct {
    lq_port_fd_t fd;
    int side;
    bool classified, watch, streaming;
    size_t off;
} peer_t;

static struct {
    peer_t peers[LQ_FAKE_MAX_SOCKS];
    size_t npeers;
    lq_port_fd_t armed[2];
    size_t narmed;
    req_t reqs[64];
    size_t nreqs, cursor;
    char list[2][16384]; /* initial objects of each side's watch, one per line */
} srv;

static lq_loop_t loop;
static lq_cluster_t home, foreign;
static lq_kreq_client_t home_req, foreign_req;
static lq_refl_t refl;
static lq_mirror_t mir;
static lq_mirror_rec_t recs[8];

static const char *find(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, lit, l) == 0)
            return p + i;
    return NULL;
}

static void feed(lq_port_fd_t fd, const char *p, size_t n)
{
    assert_int_equal(lq_fake_sock_feed(fd, p, n), 0);
}

static void feed_chunk(lq_port_fd_t fd, const char *p, size_t n)
{
    char sz[24];
    int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
    feed(fd, sz, (size_t)k);
    feed(fd, p, n);
    feed(fd, "\r\n", 2);
}

static void start_stream(peer_t *p)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    static char ev[20000];
    feed(p->fd, head, sizeof head - 1);
    for (const char *s = srv.list[p->side]; *s;) {
        const char *nl = strchr(s, '\n');
        int k = snprintf(ev, sizeof ev, "{\"type\":\"ADDED\",\"object\":%.*s}\n", (int)(nl - s), s);
        feed_chunk(p->fd, ev, (size_t)k);
        s = nl + 1;
    }
    int k = snprintf(ev, sizeof ev, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\","
                                    "\"metadata\":{\"resourceVersion\":\"100\",\"annotations\":"
                                    "{\"k8s.io/initial-events-end\":\"true\"}}}}\n");
    feed_chunk(p->fd, ev, (size_t)k);
    p->streaming = true;
}

static void parse_peer(peer_t *p)
{
    size_t len = 0;
    const char *s = lq_fake_sock_sent(p->fd, &len);
    while (p->off < len) {
        const char *start = s + p->off;
        size_t avail = len - p->off;
        const char *end = find(start, avail, "\r\n\r\n");
        if (!end)
            return;
        size_t hl = (size_t)(end + 4 - start), bl = 0;
        const char *cl = find(start, hl, "Content-Length: ");
        if (cl)
            bl = (size_t)strtoul(cl + 16, NULL, 10);
        if (avail < hl + bl)
            return;
        const char *sp1 = memchr(start, ' ', hl);
        const char *sp2 = memchr(sp1 + 1, ' ', hl - (size_t)(sp1 + 1 - start));
        if (!p->classified) {
            p->classified = true;
            p->side = find(start, hl, "Host: 127.0.0.1:7443\r\n") ? FOREIGN : HOME;
            p->watch = find(sp1, (size_t)(sp2 - sp1), "watch=1") != NULL;
        }
        if (p->watch) {
            start_stream(p);
        } else {
            assert_true(srv.nreqs < sizeof srv.reqs / sizeof srv.reqs[0]);
            req_t *q = &srv.reqs[srv.nreqs++];
            memset(q, 0, sizeof *q);
            q->side = p->side;
            q->fd = p->fd;
            assert_true((size_t)(sp1 - start) < sizeof q->method);
            assert_true((size_t)(sp2 - sp1 - 1) < sizeof q->path);
            assert_true(hl < sizeof q->head && bl < sizeof q->body);
            memcpy(q->method, start, (size_t)(sp1 - start));
            memcpy(q->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
            memcpy(q->head, start, hl);
            memcpy(q->body, start + hl, bl);
        }
        p->off += hl + bl;
    }
}

static bool fd_taken(lq_port_fd_t fd)
{
    size_t n = 0;
    (void)lq_fake_sock_sent(fd, &n);
    if (n > 0 || lq_fake_sock_closed(fd))
        return true;
    for (size_t i = 0; i < loop.nios; i++)
        if (loop.ios[i]->fd == fd)
            return true;
    return false;
}

/* Two scripted connects wait at all times (a relist reopens both watches at once);
 * they are taken in order. */
static void arm(void)
{
    while (srv.narmed < 2) {
        srv.armed[srv.narmed] = lq_fake_expect_connect_after(LQ_OK);
        assert_true(srv.armed[srv.narmed] >= 0);
        srv.narmed++;
    }
}

/* One loop iteration (10 ms of virtual time when idle), then the servers' turn. */
static void pump(void)
{
    arm();
    assert_int_equal(lq_loop_run_once(&loop, 10), LQ_OK);
    while (srv.narmed > 0 && fd_taken(srv.armed[0])) {
        assert_true(srv.npeers < LQ_FAKE_MAX_SOCKS);
        srv.peers[srv.npeers++] = (peer_t){ .fd = srv.armed[0] };
        srv.armed[0] = srv.armed[1];
        srv.narmed--;
    }
    for (size_t i = 0; i < srv.npeers; i++)
        if (!lq_fake_sock_closed(srv.peers[i].fd))
            parse_peer(&srv.peers[i]);
}

static req_t *expect(int side, const char *method, const char *path)
{
    for (int i = 0; i < 300 && srv.cursor == srv.nreqs; i++)
        pump();
    if (srv.cursor == srv.nreqs)
    {
        fprintf(stderr, "%s\n", lq_fake_log_text());
        for (size_t i = 0; i < srv.npeers; i++) {
            size_t n;
            const char *t = lq_fake_sock_sent(srv.peers[i].fd, &n);
            fprintf(stderr, "peer %zu side %d watch %d: %.*s\n", i, srv.peers[i].side, srv.peers[i].watch, (int)(n < 300 ? n : 300), t);
        }
        fail_msg("expected %s %s %s, got no request", side ? "foreign" : "home", method, path);
    }
    req_t *q = &srv.reqs[srv.cursor++];
    if (q->side != side || strcmp(q->method, method) != 0 || strcmp(q->path, path) != 0)
        fail_msg("expected %s %s %s, got %s %s %s", side ? "foreign" : "home", method, path,
                 q->side ? "foreign" : "home", q->method, q->path);
    return q;
}

static void reply(const req_t *q, int status, const char *body)
{
    char head[256];
    int k = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                        "Content-Length: %zu\r\n\r\n", status, strlen(body));
    feed(q->fd, head, (size_t)k);
    feed(q->fd, body, strlen(body));
}

static void reply_404(const req_t *q)
{
    reply(q, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                  "\"reason\":\"NotFound\",\"code\":404}");
}

/* Runs about ms of virtual time and checks that nothing more was asked. */
static void quiet(int ms)
{
    for (int i = 0; i < ms / 10; i++)
        pump();
    if (srv.cursor < srv.nreqs)
        fail_msg("unexpected request: %s %s", srv.reqs[srv.cursor].method,
                 srv.reqs[srv.cursor].path);
}

static void watch_event(int side, const char *type, const char *obj)
{
    for (size_t i = 0; i < srv.npeers; i++) {
        peer_t *p = &srv.peers[i];
        if (p->watch && p->streaming && p->side == side && !lq_fake_sock_closed(p->fd)) {
            static char ev[20000];
            int k = snprintf(ev, sizeof ev, "{\"type\":\"%s\",\"object\":%s}\n", type, obj);
            feed_chunk(p->fd, ev, (size_t)k);
            return;
        }
    }
    fail_msg("no open watch on that side");
}

/* ---- objects -------------------------------------------------------------------------------- */

static char *tbuf(void)
{
    static char b[8][4096];
    static unsigned i;
    return b[i++ % 8];
}

/* A home ConfigMap of namespace team; ann: annotation members ("" none). */
static const char *home_cm(const char *name, const char *uid, const char *rv, const char *ann,
                           const char *value)
{
    char *b = tbuf();
    (void)snprintf(b, 4096,
                   "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
                   "\"namespace\":\"team\",\"uid\":\"%s\",\"resourceVersion\":\"%s\","
                   "\"labels\":{\"app\":\"web\"},\"annotations\":{%s}},\"data\":{\"k\":\"%s\"}}",
                   name, uid, rv, ann, value);
    return b;
}

/* Remote metadata (PartialObjectMetadata): labels and annotations as given. */
static const char *remote_meta(const char *name, const char *uid, const char *rv,
                               const char *labels, const char *ann)
{
    char *b = tbuf();
    (void)snprintf(b, 4096,
                   "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\","
                   "\"metadata\":{\"name\":\"%s\",\"namespace\":\"team-remote\",\"uid\":\"%s\","
                   "\"resourceVersion\":\"%s\",\"labels\":{%s},\"annotations\":{%s}}}",
                   name, uid, rv, labels, ann);
    return b;
}

#define OUR_LABELS "\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\"," \
                   "\"virtualkubelet.liqo.io/destination\":\"" FOREIGN_ID "\""

/* The body an apply must carry: lq_forge_conf_build of the home object. */
static void assert_apply_body(const req_t *q, const char *obj, const char *rname,
                              const char *home_uid, const char *remote_uid)
{
    lq_forge_conf_params_t p = { .kind = LQ_FORGE_CONF_CONFIGMAP, .remote_name = rname,
                                 .remote_ns = "team-remote", .home_id = HOME_ID,
                                 .foreign_id = FOREIGN_ID, .home_uid = home_uid,
                                 .remote_uid = remote_uid };
    static char want[8192];
    size_t len = 0;
    assert_int_equal(lq_forge_conf_build(&p, obj, strlen(obj), want, sizeof want - 1, &len,
                                         NULL, NULL), LQ_OK);
    want[len] = '\0';
    assert_string_equal(q->body, want);
    assert_non_null(strstr(q->head, "\r\nContent-Type: application/apply-patch+yaml\r\n"));
    assert_true((strstr(q->body, "\"uid\":") != NULL) == (remote_uid != NULL));
}

/* ---- set-up ----------------------------------------------------------------------------------- */

static lq_mirror_kind_t boot_kind = LQ_MIRROR_CONFIGMAP;

static void boot(const char *home_objs)
{
    lq_fake_reset();
    lq_log_init();
    lq_log_set_level(LQ_LOG_DEBUG);
    lq_loop_init(&loop);
    memset(&srv, 0, sizeof srv);
    counted_ok = counted_err = 0;
    (void)snprintf(srv.list[HOME], sizeof srv.list[HOME], "%s", home_objs);
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
    lq_refl_init(&refl, &loop, &home, &foreign, &home_req, &foreign_req);
    lq_mirror_cfg_t cfg = { .kind = boot_kind, .home_id = HOME_ID,
                            .foreign_id = FOREIGN_ID, .foreign_name = "foreign",
                            .policy = LQ_FORGE_CONF_DENYLIST, .workers = 2,
                            .vnode_name = "liqo-foreign", .home_name = "home-name" };
    boot_kind = LQ_MIRROR_CONFIGMAP; /* the next test's default */
    assert_int_equal(lq_mirror_init(&mir, &refl, NULL, &cfg, recs, 8), LQ_OK);
    arm();
    assert_int_equal(lq_refl_start(&refl), LQ_OK);
}

/* Boots with one home object in the initial list. */
static void boot_with(const char *obj)
{
    char line[4096];
    (void)snprintf(line, sizeof line, "%s\n", obj);
    boot(line);
}

static lq_mirror_rec_t *rec_of(const char *name)
{
    for (size_t i = 0; i < 8; i++)
        if (recs[i].h.used && strcmp(recs[i].h.name, name) == 0)
            return &recs[i];
    return NULL;
}

static const char *applied_meta(const char *name, const char *uid, const char *rv)
{
    return remote_meta(name, uid, rv, OUR_LABELS,
                       "\"" LQ_FORGE_CONF_ANN_HOME_UID "\":\"h-1\"");
}

/* The create flow for app-config: home GET, remote meta 404, apply without uid. */
static void reflect_new(const char *obj)
{
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", RNS "app-config");
    assert_non_null(strstr(q->head, "\r\nAccept: " LQ_KREQ_ACCEPT_META "\r\n"));
    reply_404(q);
    q = expect(FOREIGN, "PATCH", RNS "app-config" APPLY_Q);
    assert_apply_body(q, obj, "app-config", "h-1", NULL);
    reply(q, 200, applied_meta("app-config", "r-1", "500"));
}

/* ---- tests -------------------------------------------------------------------------------------- */

/* Absent remote: apply without metadata.uid; then neither our own echo nor a home change
 * that leaves the body as it was writes again. */
static void test_create_then_no_second_apply(void **state)
{
    (void)state;
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    reflect_new(obj);
    quiet(500);
    lq_mirror_rec_t *r = rec_of("app-config");
    assert_non_null(r);
    assert_int_equal(r->state, LQ_MIRROR_REFLECTED);
    assert_string_equal(r->remote_uid, "r-1");
    assert_int_equal(mir.stats.applies, 1);
    assert_int_equal(counted_ok, 1);

    /* the foreign watch shows our write: no pass */
    watch_event(FOREIGN, "ADDED", applied_meta("app-config", "r-1", "500"));
    quiet(500);
    /* a home change that does not change the body (a new version only): read, no write */
    watch_event(HOME, "MODIFIED", home_cm("app-config", "h-1", "11", "", "v1"));
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, home_cm("app-config", "h-1", "11", "", "v1"));
    quiet(1000);
    assert_int_equal(mir.stats.noops, 1);
    assert_int_equal(mir.stats.applies, 1);

    /* the data changes: applied again, with the owned uid as a precondition */
    const char *v2 = home_cm("app-config", "h-1", "12", "", "v2");
    watch_event(HOME, "MODIFIED", v2);
    q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, v2);
    q = expect(FOREIGN, "PATCH", RNS "app-config" APPLY_Q);
    assert_apply_body(q, v2, "app-config", "h-1", "r-1");
    reply(q, 200, applied_meta("app-config", "r-1", "501"));
    quiet(500);
    assert_int_equal(mir.stats.applies, 2);
}

/* A remote object with both ownership labels and our home uid is adopted: the apply
 * carries its uid. */
static void test_adopt_with_labels_and_home_uid(void **state)
{
    (void)state;
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", RNS "app-config");
    reply(q, 200, applied_meta("app-config", "r-old", "300"));
    q = expect(FOREIGN, "PATCH", RNS "app-config" APPLY_Q);
    assert_apply_body(q, obj, "app-config", "h-1", "r-old");
    reply(q, 200, applied_meta("app-config", "r-old", "301"));
    quiet(500);
    assert_int_equal(mir.stats.adopts, 1);
    assert_int_equal(mir.stats.applies, 1);
    assert_int_equal(mir.stats.conflicts, 0);
    assert_string_equal(rec_of("app-config")->remote_uid, "r-old");
}

/* Our copy deleted in the foreign cluster and replaced by someone else's object that
 * copies the labels and the liqolet.io/home-uid our copy showed: not adopted, not
 * written (a conflict), and nothing deleted when the home object goes. */
static void test_replaced_copy_not_adopted(void **state)
{
    (void)state;
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    reflect_new(obj);
    quiet(300);
    assert_string_equal(rec_of("app-config")->remote_uid, "r-1");
    watch_event(FOREIGN, "DELETED", applied_meta("app-config", "r-1", "501"));
    watch_event(FOREIGN, "ADDED", applied_meta("app-config", "r-forged", "502"));
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", RNS "app-config");
    reply(q, 200, applied_meta("app-config", "r-forged", "502"));
    quiet(300);
    assert_int_equal(mir.stats.applies, 1);
    assert_int_equal(mir.stats.adopts, 0);
    assert_int_equal(mir.stats.conflicts, 1);
    assert_string_equal(rec_of("app-config")->remote_uid, "");
    /* the home object goes: the forged object is not deleted */
    watch_event(HOME, "DELETED", obj);
    q = expect(HOME, "GET", HNS "app-config");
    reply_404(q);
    quiet(500); /* the forged object was never taken as present: no read, no delete */
    assert_int_equal(srv.cursor, srv.nreqs);
    assert_int_equal(mir.stats.remote_deletes, 0);
    assert_null(rec_of("app-config"));
}

/* A pass reads the home object, then the remote metadata. */
static void read_both(const char *obj, const char *meta)
{
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", RNS "app-config");
    reply(q, 200, meta);
}

/* Labels without our home uid, or another home uid, or one label only: not ours. No
 * write, the conflict counted once, the record in CONFLICT. */
static void conflict_case(const char *labels, const char *ann)
{
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    read_both(obj, remote_meta("app-config", "r-x", "300", labels, ann));
    quiet(300); /* the retry backs off (500 ms) */
    assert_int_equal(mir.stats.conflicts, 1);
    assert_int_equal(mir.stats.applies, 0);
    assert_int_equal(mir.stats.adopts, 0);
    assert_int_equal(rec_of("app-config")->state, LQ_MIRROR_CONFLICT);
    assert_string_equal(rec_of("app-config")->remote_uid, "");
    assert_int_equal(counted_err, 1);
    /* the retry finds it still not ours: still no write, counted once */
    read_both(obj, remote_meta("app-config", "r-x", "300", labels, ann));
    for (int i = 0; i < 20; i++)
        pump();
    assert_int_equal(mir.stats.conflicts, 1);
    for (size_t i = 0; i < srv.nreqs; i++)
        assert_string_not_equal(srv.reqs[i].method, "PATCH");
}

static void test_conflict_labels_without_home_uid(void **state)
{
    (void)state;
    conflict_case(OUR_LABELS, "");
}

static void test_conflict_other_home_uid(void **state)
{
    (void)state;
    conflict_case(OUR_LABELS, "\"" LQ_FORGE_CONF_ANN_HOME_UID "\":\"h-other\"");
}

static void test_conflict_one_label_only(void **state)
{
    (void)state;
    conflict_case("\"virtualkubelet.liqo.io/origin\":\"" HOME_ID "\"",
                  "\"" LQ_FORGE_CONF_ANN_HOME_UID "\":\"h-1\"");
}

/* liqo.io/skip-reflection on a reflected object: the copy we own is deleted with its
 * uid as a precondition, nothing applied. */
static void test_skip_deletes_with_uid_precondition(void **state)
{
    (void)state;
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    reflect_new(obj);
    quiet(300);
    const char *skip = home_cm("app-config", "h-1", "11",
                               "\"" LQ_FORGE_CONF_ANN_SKIP "\":\"true\"", "v1");
    watch_event(HOME, "MODIFIED", skip);
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, skip);
    q = expect(FOREIGN, "DELETE", RNS "app-config");
    assert_non_null(strstr(q->body, "\"preconditions\":{\"uid\":\"r-1\"}"));
    reply(q, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}");
    quiet(500);
    assert_int_equal(mir.stats.remote_deletes, 1);
    assert_int_equal(mir.stats.skipped, 1);
    assert_int_equal(mir.stats.applies, 1);
    assert_int_equal(rec_of("app-config")->state, LQ_MIRROR_SKIPPED);
    assert_string_equal(rec_of("app-config")->remote_uid, "");
}

/* kube-root-ca.crt becomes kube-root-ca.crt.<5 characters of the home id> remotely, and
 * is reflected even with the skip annotation; the foreign watch maps it back. */
static void test_root_ca_name_mapping(void **state)
{
    (void)state;
    const char *obj = home_cm("kube-root-ca.crt", "h-ca", "10",
                              "\"" LQ_FORGE_CONF_ANN_SKIP "\":\"true\"", "PEM");
    boot_with(obj);
    req_t *q = expect(HOME, "GET", HNS "kube-root-ca.crt");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", RNS "kube-root-ca.crt.home-");
    reply_404(q);
    q = expect(FOREIGN, "PATCH", RNS "kube-root-ca.crt.home-" APPLY_Q);
    assert_apply_body(q, obj, "kube-root-ca.crt.home-", "h-ca", NULL);
    assert_non_null(strstr(q->body, "\"name\":\"kube-root-ca.crt.home-\""));
    reply(q, 200, remote_meta("kube-root-ca.crt.home-", "r-ca", "600", OUR_LABELS, ""));
    quiet(300);
    assert_int_equal(mir.stats.applies, 1);
    assert_int_equal(mir.stats.skipped, 0);
    /* the remote copy deleted behind our back: its foreign event finds the record */
    watch_event(FOREIGN, "DELETED", remote_meta("kube-root-ca.crt.home-", "r-ca", "601",
                                                OUR_LABELS, ""));
    q = expect(HOME, "GET", HNS "kube-root-ca.crt");
    reply(q, 200, obj);
    /* the record forgot the deleted copy: it looks again and creates a new one, with no
     * uid precondition naming the object that is gone */
    q = expect(FOREIGN, "GET", RNS "kube-root-ca.crt.home-");
    reply_404(q);
    q = expect(FOREIGN, "PATCH", RNS "kube-root-ca.crt.home-" APPLY_Q);
    assert_apply_body(q, obj, "kube-root-ca.crt.home-", "h-ca", NULL);
    reply(q, 200, remote_meta("kube-root-ca.crt.home-", "r-ca2", "602", OUR_LABELS, ""));
    quiet(300);
    /* the foreign cluster's own kube-root-ca.crt maps to nothing */
    watch_event(FOREIGN, "MODIFIED", remote_meta("kube-root-ca.crt", "r-own", "700", OUR_LABELS, ""));
    quiet(500);
    assert_int_equal(mir.stats.applies, 2);
}

/* ---- EndpointSlices --------------------------------------------------------------------- */

#define HEPS "/apis/discovery.k8s.io/v1/namespaces/team/endpointslices/"
#define REPS "/apis/discovery.k8s.io/v1/namespaces/team-remote/endpointslices/"

/* Home slice web-abc of Service web: two ready endpoints on home nodes, one on the
 * virtual node (dropped by the forge). */
static const char *home_eps(const char *rv)
{
    char *b = tbuf();
    (void)snprintf(b, 4096,
                   "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
                   "\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"team\",\"uid\":\"h-1\","
                   "\"resourceVersion\":\"%s\",\"labels\":{\"kubernetes.io/service-name\":"
                   "\"web\"}},\"addressType\":\"IPv4\",\"endpoints\":["
                   "{\"addresses\":[\"10.10.1.7\"],\"conditions\":{\"ready\":true},"
                   "\"nodeName\":\"home-node-1\"},"
                   "{\"addresses\":[\"10.10.1.8\"],\"conditions\":{\"ready\":true},"
                   "\"nodeName\":\"home-node-2\"},"
                   "{\"addresses\":[\"10.20.1.9\"],\"conditions\":{\"ready\":true},"
                   "\"nodeName\":\"liqo-foreign\"}],"
                   "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}", rv);
    return b;
}

/* Our remote copy of web-abc as the foreign API server returns it (a full GET or a watch
 * event), with the readiness of its two endpoints. */
static const char *remote_eps(const char *uid, const char *rv, const char *ready1,
                              const char *ready2)
{
    char *b = tbuf();
    (void)snprintf(b, 4096,
                   "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
                   "\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"team-remote\","
                   "\"uid\":\"%s\",\"resourceVersion\":\"%s\",\"labels\":{"
                   "\"kubernetes.io/service-name\":\"web\","
                   "\"" LQ_FORGE_EPS_LABEL_MANAGED_BY "\":\"" LQ_FORGE_EPS_MANAGED_BY "\","
                   OUR_LABELS "},\"annotations\":{\"" LQ_FORGE_CONF_ANN_HOME_UID "\":\"h-1\"}},"
                   "\"addressType\":\"IPv4\",\"endpoints\":["
                   "{\"addresses\":[\"10.10.1.7\"],\"conditions\":{\"ready\":%s},"
                   "\"nodeName\":\"home-name\"},"
                   "{\"addresses\":[\"10.10.1.8\"],\"conditions\":{\"ready\":%s},"
                   "\"nodeName\":\"home-name\"}],"
                   "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}",
                   uid, rv, ready1, ready2);
    return b;
}

/* The body an EndpointSlice apply must carry: lq_forge_eps_build of the home slice, or
 * (gate) lq_forge_eps_gate of our remote copy. */
static const char *eps_body(bool gate, const char *in, const char *remote_uid)
{
    lq_forge_eps_params_t ep = { { .remote_name = "web-abc", .remote_ns = "team-remote",
                                   .home_id = HOME_ID, .foreign_id = FOREIGN_ID,
                                   .home_uid = "h-1", .remote_uid = remote_uid },
                                 "liqo-foreign", "home-name", true };
    static char want[8192];
    static _Alignas(16) unsigned char arena[64 * 1024];
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena, sizeof arena);
    size_t len = 0;
    uint64_t h = 0;
    assert_int_equal(gate ? lq_forge_eps_gate(&doc, &ep, in, strlen(in), want, sizeof want - 1,
                                              &len, &h)
                          : lq_forge_eps_build(&doc, &ep, in, strlen(in), want, sizeof want - 1,
                                               &len, NULL, &h), LQ_OK);
    want[len] = '\0';
    return want;
}

static size_t count_of(const char *s, const char *lit)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, lit)) != NULL; p++)
        n++;
    return n;
}

/* The create flow for web-abc: home GET, remote meta 404, apply without uid (remote r-1,
 * version 500). */
static void reflect_eps(const char *obj)
{
    req_t *q = expect(HOME, "GET", HEPS "web-abc");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", REPS "web-abc");
    reply_404(q);
    q = expect(FOREIGN, "PATCH", REPS "web-abc" APPLY_Q);
    assert_string_equal(q->body, eps_body(false, obj, NULL));
    reply(q, 200, remote_meta("web-abc", "r-1", "500", OUR_LABELS, ""));
    quiet(300);
}

/* EndpointSlices through the same passes: their own API group in every path, the
 * forge's body (endpoint on the virtual node dropped, nodeName = the home cluster name),
 * and the API server's own slice in `default` never taken up. */
static void test_endpointslice_kind(void **state)
{
    (void)state;
    static const char apiserver[] =
        "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{"
        "\"name\":\"kubernetes\",\"namespace\":\"default\",\"uid\":\"k-1\","
        "\"resourceVersion\":\"11\",\"labels\":{\"kubernetes.io/service-name\":\"kubernetes\"}},"
        "\"addressType\":\"IPv4\",\"endpoints\":[],\"ports\":[]}";
    const char *obj = home_eps("10");
    boot_kind = LQ_MIRROR_ENDPOINTSLICE;
    char both[8192];
    (void)snprintf(both, sizeof both, "%s\n%s\n", apiserver, obj);
    boot(both);
    req_t *q = expect(HOME, "GET", HEPS "web-abc");
    reply(q, 200, obj);
    q = expect(FOREIGN, "GET", REPS "web-abc");
    reply_404(q);
    q = expect(FOREIGN, "PATCH", REPS "web-abc" APPLY_Q);
    assert_string_equal(q->body, eps_body(false, obj, NULL));
    assert_non_null(strstr(q->body, "\"nodeName\":\"home-name\""));
    assert_null(strstr(q->body, "10.20.1.9")); /* the offloaded pod's endpoint is left out */
    reply(q, 200, remote_meta("web-abc", "r-1", "500", OUR_LABELS, ""));
    quiet(500); /* nothing for default/kubernetes */
    assert_int_equal(mir.stats.applies, 1);
    assert_null(rec_of("kubernetes"));
    assert_string_equal(rec_of("web-abc")->parent, "web");
}

/* ---- readiness gating: home unreachable (lq_mirror_home_available) ---------------------- */

/* A gate pass: our copy read back (a full GET on the foreign side: the endpoints are the
 * input), then, unless apply_rv is NULL, its gated body applied with the uid we own: every
 * endpoint ready=false; the apply answered with version apply_rv. Without an apply,
 * nothing else is asked (no retry either). */
static void gate_pass(const char *copy, const char *apply_rv)
{
    req_t *q = expect(FOREIGN, "GET", REPS "web-abc");
    assert_null(strstr(q->head, LQ_KREQ_ACCEPT_META));
    reply(q, 200, copy);
    if (!apply_rv) {
        quiet(1000);
        return;
    }
    q = expect(FOREIGN, "PATCH", REPS "web-abc" APPLY_Q);
    assert_non_null(strstr(q->head, "\r\nContent-Type: application/apply-patch+yaml\r\n"));
    assert_string_equal(q->body, eps_body(true, copy, "r-1"));
    assert_int_equal(count_of(q->body, "\"ready\":false"), 2);
    assert_null(strstr(q->body, "\"ready\":true"));
    assert_non_null(strstr(q->body, "\"uid\":\"r-1\""));
    reply(q, 200, remote_meta("web-abc", "r-1", apply_rv, OUR_LABELS, ""));
    quiet(300);
}

/* No request went to the home cluster from srv.reqs[from] on. */
static void no_home_request_since(size_t from)
{
    for (size_t i = from; i < srv.nreqs; i++)
        if (srv.reqs[i].side == HOME)
            fail_msg("request to home while it is down: %s %s", srv.reqs[i].method,
                     srv.reqs[i].path);
}

/* web-abc reflected (remote r-1), then home unreachable: its copy gated (version 501). */
static size_t reflect_then_gate(void)
{
    boot_kind = LQ_MIRROR_ENDPOINTSLICE;
    boot_with(home_eps("10"));
    reflect_eps(home_eps("10"));
    size_t from = srv.nreqs;
    lq_mirror_home_available(&mir, false);
    gate_pass(remote_eps("r-1", "500", "true", "true"), "501");
    lq_mirror_rec_t *r = rec_of("web-abc");
    assert_int_equal(r->state, LQ_MIRROR_GATED);
    assert_string_equal(r->remote_uid, "r-1");
    assert_int_equal(mir.stats.applies, 2);
    assert_int_equal(mir.stats.gated, 1);
    return from;
}

/* Home down: the copy is read back on the foreign side only and applied with every
 * endpoint not ready; a pass that finds it as we wrote it writes nothing; a foreign edit
 * (an endpoint made ready again) is gated again, though the gated body is the same. */
static void test_eps_gated_while_home_down(void **state)
{
    (void)state;
    size_t from = reflect_then_gate();
    /* the foreign watch shows our write: no pass */
    watch_event(FOREIGN, "MODIFIED", remote_eps("r-1", "501", "false", "false"));
    quiet(500);
    /* a pass while still down (a home event): the copy is as we wrote it, no write */
    watch_event(HOME, "MODIFIED", home_eps("11"));
    gate_pass(remote_eps("r-1", "501", "false", "false"), NULL);
    assert_int_equal(mir.stats.applies, 2);
    assert_int_equal(mir.stats.noops, 1);
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_GATED);
    /* someone marks an endpoint ready in the foreign cluster: gated again */
    watch_event(FOREIGN, "MODIFIED", remote_eps("r-1", "502", "true", "false"));
    gate_pass(remote_eps("r-1", "502", "true", "false"), "503");
    assert_int_equal(mir.stats.gated, 2);
    assert_string_equal(rec_of("web-abc")->h.own_rv, "503");
    no_home_request_since(from);
}

/* Home down and our copy replaced by someone (another uid) or deleted: not written, the
 * record disowns it; nothing is created while home is down, not even by a later pass.
 * When home is back, a deleted copy is created again from the home slice. */
static void test_eps_gate_copy_replaced_or_gone(void **state)
{
    (void)state;
    size_t from = reflect_then_gate();
    watch_event(HOME, "MODIFIED", home_eps("11"));
    gate_pass(remote_eps("r-evil", "900", "true", "true"), NULL);
    assert_string_equal(rec_of("web-abc")->remote_uid, "");
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_PENDING); /* no copy to report */
    assert_int_equal(mir.stats.applies, 2);
    watch_event(HOME, "MODIFIED", home_eps("12"));
    quiet(1000); /* nothing of ours left: no request */
    no_home_request_since(from);

    from = reflect_then_gate();
    watch_event(HOME, "MODIFIED", home_eps("11"));
    req_t *q = expect(FOREIGN, "GET", REPS "web-abc");
    reply_404(q);
    quiet(1000);
    assert_string_equal(rec_of("web-abc")->remote_uid, "");
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_PENDING);
    watch_event(HOME, "MODIFIED", home_eps("12"));
    quiet(1000);
    assert_int_equal(mir.stats.applies, 2);
    no_home_request_since(from);
    lq_mirror_home_available(&mir, true);
    reflect_eps(home_eps("12"));
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_REFLECTED);
}

/* Home back: the slice is forged from home again, with its endpoints' real readiness. */
static void test_eps_home_back(void **state)
{
    (void)state;
    (void)reflect_then_gate();
    lq_mirror_home_available(&mir, true);
    req_t *q = expect(HOME, "GET", HEPS "web-abc");
    reply(q, 200, home_eps("10"));
    q = expect(FOREIGN, "PATCH", REPS "web-abc" APPLY_Q);
    assert_string_equal(q->body, eps_body(false, home_eps("10"), "r-1"));
    assert_int_equal(count_of(q->body, "\"ready\":true"), 2);
    reply(q, 200, remote_meta("web-abc", "r-1", "502", OUR_LABELS, ""));
    quiet(500);
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_REFLECTED);
    assert_int_equal(mir.stats.applies, 3);
    assert_int_equal(mir.stats.gated, 1);
}

/* Home goes down while the slice's first write (no remote uid owned yet) is in flight: the
 * copy it creates carries the home readiness, so it is gated as soon as the write is done. */
static void test_eps_home_down_during_first_write(void **state)
{
    (void)state;
    boot_kind = LQ_MIRROR_ENDPOINTSLICE;
    boot_with(home_eps("10"));
    req_t *q = expect(HOME, "GET", HEPS "web-abc");
    reply(q, 200, home_eps("10"));
    q = expect(FOREIGN, "GET", REPS "web-abc");
    reply_404(q);
    q = expect(FOREIGN, "PATCH", REPS "web-abc" APPLY_Q);
    size_t from = srv.nreqs;
    lq_mirror_home_available(&mir, false);
    reply(q, 200, remote_meta("web-abc", "r-1", "500", OUR_LABELS, ""));
    gate_pass(remote_eps("r-1", "500", "true", "true"), "501");
    assert_int_equal(rec_of("web-abc")->state, LQ_MIRROR_GATED);
    assert_int_equal(mir.stats.gated, 1);
    no_home_request_since(from);
}

/* Other kinds ignore lq_mirror_home_available: a ConfigMap is still read from home. */
static void test_home_available_ignored_by_configmaps(void **state)
{
    (void)state;
    const char *obj = home_cm("app-config", "h-1", "10", "", "v1");
    boot_with(obj);
    reflect_new(obj);
    quiet(300);
    lq_mirror_home_available(&mir, false);
    quiet(500);
    const char *v2 = home_cm("app-config", "h-1", "11", "", "v2");
    watch_event(HOME, "MODIFIED", v2);
    req_t *q = expect(HOME, "GET", HNS "app-config");
    reply(q, 200, v2);
    q = expect(FOREIGN, "PATCH", RNS "app-config" APPLY_Q);
    assert_apply_body(q, v2, "app-config", "h-1", "r-1");
    reply(q, 200, applied_meta("app-config", "r-1", "501"));
    quiet(300);
    assert_int_equal(rec_of("app-config")->state, LQ_MIRROR_REFLECTED);
    assert_int_equal(mir.stats.gated, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_then_no_second_apply),
        cmocka_unit_test(test_adopt_with_labels_and_home_uid),
        cmocka_unit_test(test_conflict_labels_without_home_uid),
        cmocka_unit_test(test_conflict_other_home_uid),
        cmocka_unit_test(test_conflict_one_label_only),
        cmocka_unit_test(test_skip_deletes_with_uid_precondition),
        cmocka_unit_test(test_root_ca_name_mapping),
        cmocka_unit_test(test_endpointslice_kind),
        cmocka_unit_test(test_replaced_copy_not_adopted),
        cmocka_unit_test(test_eps_gated_while_home_down),
        cmocka_unit_test(test_eps_gate_copy_replaced_or_gone),
        cmocka_unit_test(test_eps_home_back),
        cmocka_unit_test(test_eps_home_down_during_first_write),
        cmocka_unit_test(test_home_available_ignored_by_configmaps),
    };
    return cmocka_run_group_tests_name("mirror", tests, NULL, NULL);
}
