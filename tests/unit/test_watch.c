/* Unit tests of the list + watch state machine on the fake port: pagination, watch from
 * the list's version, bookmarks, re-watch after a server timeout, 410 -> relist, backoff
 * after a broken connection (resume, not relist), watch-list and its fallback; the
 * request head from the kubeconfig (server path prefix, bearer token, User-Agent) and a
 * 401 that re-reads the token file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "liqolet/watch.h"
#include "lq_fake.h"

static lq_loop_t loop;
static lq_conn_t conn;
static lq_watch_t watch;
static char evbuf[1024];
static const lq_conn_target_t target = { "127.0.0.1", 6443, NULL, -1, "home" };

static struct {
    int relists, synced;
    char log[4096]; /* "L:name " "A:name " "M:name " "D:name " per event */
    size_t log_len;
} rec;

static lq_err_t on_event(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    (void)ctx;
    static const char tag[] = "LAMD";
    char name[64] = "?";
    (void)lq_scan_copy(&ev->meta.name, name, sizeof name);
    rec.log_len += (size_t)snprintf(rec.log + rec.log_len, sizeof rec.log - rec.log_len, "%c%s:%s ",
                                    tag[ev->type], ev->oversized ? "!" : "", name);
    return LQ_OK;
}

static void on_relist(lq_watch_t *w, void *ctx)
{
    (void)w;
    (void)ctx;
    rec.relists++;
}

static void on_synced(lq_watch_t *w, void *ctx)
{
    (void)w;
    (void)ctx;
    rec.synced++;
}

static const lq_watch_handler_t handler = { on_event, on_relist, on_synced, NULL, NULL };

static lq_kcfg_t kcfg;

static void setup_watch_with(bool watch_list, lq_kcfg_t *k)
{
    lq_fake_reset();
    memset(&rec, 0, sizeof rec);
    lq_loop_init(&loop);
    lq_conn_init(&conn, &loop, &target);
    lq_watch_cfg_t cfg = { .path = "/api/v1/configmaps", .label_selector = "app=x",
                           .watch_list = watch_list, .timeout_s = 300, .kcfg = k };
    lq_watch_init(&watch, &loop, &conn, evbuf, sizeof evbuf, &cfg, &handler);
}

static void setup_watch(bool watch_list)
{
    setup_watch_with(watch_list, NULL);
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        (void)lq_loop_run_once(&loop, 10);
}

/* Sends a complete 200 chunked response carrying body. */
static void respond(lq_port_fd_t fd, int status, const char *body)
{
    char head[128];
    int h = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nTransfer-Encoding: chunked\r\n\r\n", status);
    assert_int_equal(lq_fake_sock_feed(fd, head, (size_t)h), 0);
    size_t n = strlen(body);
    if (n) {
        char sz[16];
        int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
        lq_fake_sock_feed(fd, sz, (size_t)k);
        lq_fake_sock_feed(fd, body, n);
        lq_fake_sock_feed(fd, "\r\n", 2);
    }
    lq_fake_sock_feed(fd, "0\r\n\r\n", 5);
}

/* The request line of the last request sent on fd. */
static const char *last_request(lq_port_fd_t fd)
{
    static char line[1024];
    size_t len;
    const char *sent = lq_fake_sock_sent(fd, &len);
    const char *last = NULL;
    for (const char *p = sent; p && p < sent + len; p++) {
        if (strncmp(p, "GET ", 4) == 0 && (p == sent || p[-1] == '\n'))
            last = p;
    }
    if (last == NULL)
        return "";
    const char *e = strstr(last, "\r\n");
    size_t n = (size_t)(e - last);
    memcpy(line, last, n);
    line[n] = '\0';
    return line;
}

/* How often needle occurs in everything sent on fd. */
static size_t sent_count(lq_port_fd_t fd, const char *needle)
{
    size_t len = 0, c = 0, n = strlen(needle);
    const char *s = lq_fake_sock_sent(fd, &len);
    for (size_t i = 0; s && i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            c++;
    return c;
}

#define CM(name, rv) "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"n\",\"resourceVersion\":\"" rv "\"}}"
#define EV(type, name, rv) "{\"type\":\"" type "\",\"object\":" CM(name, rv) "}\n"

static void test_paginated_list_then_watch_and_rewatch(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_string_equal(last_request(fd), "GET /api/v1/configmaps?labelSelector=app%3Dx&limit=500 HTTP/1.1");
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"tok1\"},"
                     "\"items\":[" CM("a", "5") "," CM("b", "6") "]}");
    spin(3);
    assert_string_equal(last_request(fd), "GET /api/v1/configmaps?labelSelector=app%3Dx&limit=500&continue=tok1 HTTP/1.1");
    assert_int_equal(rec.synced, 0);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"items\":[" CM("c", "7") "],\"metadata\":{\"resourceVersion\":\"11\"}}");
    spin(3);
    assert_int_equal(rec.synced, 1);
    assert_true(watch.synced);
    const char *rq = last_request(fd);
    assert_non_null(strstr(rq, "watch=1&allowWatchBookmarks=true&resourceVersion=11&timeoutSeconds="));
    /* events, a bookmark, then the server ends the watch (timeoutSeconds) */
    respond(fd, 200, EV("ADDED", "d", "12") EV("MODIFIED", "a", "13")
                     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"20\"}}}\n"
                     EV("DELETED", "b", "21"));
    spin(3);
    assert_string_equal(rec.log, "L:a L:b L:c A:d M:a D:b ");
    assert_string_equal(watch.rv, "21");
    assert_non_null(strstr(last_request(fd), "resourceVersion=21&"));
    assert_int_equal(watch.stats.rewatches, 1);
    assert_int_equal(watch.stats.bookmarks, 1);
    assert_int_equal(rec.relists, 1);
    assert_int_equal(conn.stats.connects, 1); /* everything on one kept-alive connection */
}

static void test_410_error_event_relists(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CM("a", "5") "]}");
    spin(3);
    /* The watch stream reports that version 10 was compacted away. */
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char err[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                              "\"status\":\"Failure\",\"message\":\"too old resource version: 10 (50)\","
                              "\"reason\":\"Expired\",\"code\":410}}\n";
    char chunk[512];
    int k = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", sizeof err - 1, err);
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    lq_fake_sock_feed(fd, chunk, (size_t)k);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK); /* the stream is dropped: new connection */
    spin(4);
    assert_int_equal(watch.stats.gone, 1);
    assert_int_equal(rec.relists, 2);
    assert_string_equal(last_request(fd2), "GET /api/v1/configmaps?labelSelector=app%3Dx&limit=500 HTTP/1.1");
    respond(fd2, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"60\"},\"items\":[" CM("a", "55") "," CM("z", "58") "]}");
    spin(3);
    assert_int_equal(rec.synced, 2);
    assert_string_equal(rec.log, "L:a L:a L:z ");
    assert_non_null(strstr(last_request(fd2), "resourceVersion=60&"));
}

static void test_http_410_on_watch_start_relists(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    spin(3);
    respond(fd, 410, "{\"kind\":\"Status\",\"reason\":\"Gone\",\"code\":410}");
    spin(3);
    assert_int_equal(watch.stats.gone, 1);
    assert_int_equal(rec.relists, 2);
    assert_non_null(strstr(last_request(fd), "limit=500"));
}

static void test_broken_connection_resumes_from_version(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    spin(3);
    /* The watch starts, delivers one event, then the server dies. */
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char ev[] = EV("ADDED", "x", "15");
    char chunk[512];
    int k = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", sizeof ev - 1, ev);
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    lq_fake_sock_feed(fd, chunk, (size_t)k);
    spin(2);
    lq_fake_sock_close_peer(fd);
    spin(2);
    assert_int_equal(watch.state, LQ_WATCH_BACKOFF);
    assert_int_equal(watch.stats.failures, 1);
    /* While the server is down, connects are refused: more backoff, no relist. */
    spin(200); /* 2 s of virtual time */
    assert_true(watch.stats.failures >= 2);
    assert_int_equal(rec.relists, 1);
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    spin(3000); /* up to 30 s: the next retry reaches the restored server */
    assert_int_equal(rec.relists, 1);
    assert_non_null(strstr(last_request(fd2), "watch=1&allowWatchBookmarks=true&resourceVersion=15&"));
}

/* A watch whose stream goes silent (a NAT dropped the flow; no FIN, no RST) is resumed
 * from its last version after LQ_WATCH_IDLE_MS without a byte; every byte, a bookmark
 * included, starts the wait again (issue 17, finding 3). */
static void test_silent_watch_resumes(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    spin(3);
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char ev[] = EV("ADDED", "x", "15");
    static const char bm[] = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
                             "{\"resourceVersion\":\"21\"}}}\n";
    char chunk[512];
    int k = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", sizeof ev - 1, ev);
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    lq_fake_sock_feed(fd, chunk, (size_t)k);
    spin(2);
    assert_int_equal(watch.state, LQ_WATCH_WATCHING);
    lq_fake_clock_advance(LQ_WATCH_IDLE_MS - 1000);
    spin(2);
    assert_int_equal(watch.state, LQ_WATCH_WATCHING); /* not yet */
    k = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", sizeof bm - 1, bm);
    lq_fake_sock_feed(fd, chunk, (size_t)k); /* a heartbeat */
    spin(2);
    lq_fake_clock_advance(LQ_WATCH_IDLE_MS - 1000);
    spin(2);
    assert_int_equal(watch.state, LQ_WATCH_WATCHING); /* the bookmark started the wait anew */
    assert_int_equal(watch.stats.failures, 0);
    lq_fake_clock_advance(2000);
    spin(2);
    assert_int_equal(watch.stats.failures, 1);
    assert_int_equal(conn.stats.body_stalls, 1);
    assert_non_null(strstr(watch.last_error, "response stalled"));
    lq_port_fd_t fd2 = lq_fake_expect_connect(LQ_OK);
    spin(3000);
    assert_int_equal(rec.relists, 1); /* the first list only: resumed, not relisted */
    assert_non_null(strstr(last_request(fd2), "watch=1&allowWatchBookmarks=true&resourceVersion=21&"));
}

static void test_watch_list_and_fallback(void **state)
{
    (void)state;
    setup_watch(true);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_non_null(strstr(last_request(fd), "watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"));
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char evs[] = EV("ADDED", "a", "5") EV("ADDED", "b", "6")
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"9\","
        "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n" EV("ADDED", "c", "10");
    char chunk[1024];
    int k = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", sizeof evs - 1, evs);
    lq_fake_sock_feed(fd, head, sizeof head - 1);
    lq_fake_sock_feed(fd, chunk, (size_t)k);
    spin(3);
    assert_string_equal(rec.log, "L:a L:b A:c ");
    assert_int_equal(rec.synced, 1);
    assert_string_equal(watch.rv, "10");

    /* A server without watch-list: 422, then LIST. */
    setup_watch(true);
    fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    respond(fd, 422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422}");
    spin(3);
    assert_non_null(strstr(last_request(fd), "limit=500"));
    assert_int_equal(rec.relists, 2);
}

static void test_oversized_list_item_reported_with_name(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    static char body[4096];
    static char big[2000];
    memset(big, 'v', sizeof big - 1);
    snprintf(body, sizeof body,
             "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CM("a", "5")
             ",{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"huge\",\"resourceVersion\":\"6\"},\"data\":{\"k\":\"%s\"}},"
             CM("b", "7") "]}", big);
    respond(fd, 200, body);
    spin(3);
    assert_string_equal(rec.log, "L:a L!:huge L:b ");
    assert_int_equal(watch.stats.oversized, 1);
    assert_int_equal(rec.synced, 1);
}

/* A kubeconfig server URL with a path (Rancher: https://host/k8s/clusters/c-1): every
 * LIST and WATCH goes to prefix + path, with the kubeconfig's token and liqolet's
 * User-Agent, the same head buffered requests carry. */
static void test_prefix_token_and_user_agent_from_kcfg(void **state)
{
    (void)state;
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.path_prefix, sizeof kcfg.path_prefix, "/k8s/clusters/c-1");
    (void)snprintf(kcfg.token, sizeof kcfg.token, "tok-prefix-1");
    kcfg.token_len = strlen(kcfg.token);
    setup_watch_with(false, &kcfg);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_string_equal(last_request(fd),
                        "GET /k8s/clusters/c-1/api/v1/configmaps?labelSelector=app%3Dx&limit=500 HTTP/1.1");
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"t1\"},"
                     "\"items\":[" CM("a", "5") "]}");
    spin(3);
    assert_string_equal(last_request(fd),
                        "GET /k8s/clusters/c-1/api/v1/configmaps?labelSelector=app%3Dx&limit=500&continue=t1 HTTP/1.1");
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"11\"},\"items\":[]}");
    spin(3);
    assert_int_equal(rec.synced, 1);
    const char *rq = last_request(fd);
    assert_true(strncmp(rq, "GET /k8s/clusters/c-1/api/v1/configmaps?labelSelector=app%3Dx&watch=1&"
                            "allowWatchBookmarks=true&resourceVersion=11&timeoutSeconds=", 107) == 0);
    /* three requests, each with the token and the User-Agent, none without the prefix */
    assert_int_equal(sent_count(fd, "GET /k8s/clusters/c-1/api/v1/configmaps?"), 3);
    assert_int_equal(sent_count(fd, "GET /api/"), 0);
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer tok-prefix-1\r\n"), 3);
    assert_int_equal(sent_count(fd, "ignored-when-kcfg-is-set"), 0);
    assert_int_equal(sent_count(fd, "\r\nUser-Agent: liqolet/" LQ_VERSION "\r\n"), 3);

    /* Watch-list requests too. */
    setup_watch_with(true, &kcfg);
    fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_non_null(strstr(last_request(fd), "GET /k8s/clusters/c-1/api/v1/configmaps?labelSelector=app%3Dx&watch=1&"
                                             "allowWatchBookmarks=true&sendInitialEvents=true"));
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer tok-prefix-1\r\n"), 1);
}

/* Without a kubeconfig: no prefix and no Authorization header at all. */
static void test_no_kcfg_no_token(void **state)
{
    (void)state;
    setup_watch(false);
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_string_equal(last_request(fd), "GET /api/v1/configmaps?labelSelector=app%3Dx&limit=500 HTTP/1.1");
    assert_int_equal(sent_count(fd, "Authorization"), 0);
    assert_int_equal(sent_count(fd, "\r\nUser-Agent: liqolet/" LQ_VERSION "\r\n"), 1);
}

static void use_token_file(const char *tok)
{
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", tok, strlen(tok)), 0);
    memset(&kcfg, 0, sizeof kcfg);
    (void)snprintf(kcfg.path_prefix, sizeof kcfg.path_prefix, "/k8s/clusters/c-1/");
    (void)snprintf(kcfg.token_file, sizeof kcfg.token_file, "/var/run/sa/token");
    bool changed = false;
    assert_int_equal(lq_kcfg_token_refresh(&kcfg, true, &changed), LQ_OK);
    assert_true(changed);
}

/* A 401 (the token rotated under the agent) re-reads the token file and sends the same
 * request again at once: no failure, no backoff, no relist. A 401 with a token that did
 * not change fails and backs off; the next request may re-read it again. */
static void test_401_rereads_token_and_retries(void **state)
{
    (void)state;
    setup_watch_with(false, &kcfg); /* kcfg is borrowed: filled next */
    lq_log_init();
    use_token_file("old-token-aaaa");
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    assert_int_equal(lq_watch_start(&watch), LQ_OK);
    spin(2);
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer old-token-aaaa\r\n"), 1);
    lq_fake_clock_advance(5000);
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", "new-token-bbbb", 14), 0);
    respond(fd, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    spin(3);
    /* the LIST again, with the new token, on the same connection */
    assert_int_equal(sent_count(fd, "GET /k8s/clusters/c-1/api/v1/configmaps?labelSelector=app%3Dx&limit=500 HTTP/1.1\r\n"), 2);
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer new-token-bbbb\r\n"), 1);
    assert_int_equal(watch.state, LQ_WATCH_LISTING);
    assert_int_equal(watch.stats.failures, 0);
    assert_int_equal(watch.st_.reauths, 1);
    assert_memory_equal(kcfg.token, "new-token-bbbb", 15);
    respond(fd, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CM("a", "5") "]}");
    spin(3);
    assert_int_equal(rec.synced, 1);
    assert_int_equal(rec.relists, 1);
    assert_string_equal(rec.log, "L:a ");
    assert_non_null(strstr(last_request(fd), "watch=1&"));
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer new-token-bbbb\r\n"), 2);

    /* The WATCH gets a 401 and the file holds the same token: fail, back off. */
    respond(fd, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    spin(2);
    assert_int_equal(watch.state, LQ_WATCH_BACKOFF);
    assert_int_equal(watch.stats.failures, 1);
    assert_int_equal(watch.st_.reauths, 1);
    /* The token rotates during the backoff. The next WATCH still carries the old one,
     * gets a 401, re-reads (once for this new request) and goes on at once. */
    lq_fake_clock_advance(5000);
    assert_int_equal(lq_fake_file_set("/var/run/sa/token", "third-token-cc", 14), 0);
    for (int i = 0; i < 400 && sent_count(fd, "watch=1&") < 2; i++)
        (void)lq_loop_run_once(&loop, 10);
    assert_int_equal(sent_count(fd, "watch=1&"), 2);
    respond(fd, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    spin(3);
    assert_int_equal(sent_count(fd, "watch=1&"), 3);
    assert_int_equal(sent_count(fd, "\r\nAuthorization: Bearer third-token-cc\r\n"), 1);
    assert_int_equal(watch.st_.reauths, 2);
    assert_int_equal(watch.stats.failures, 1);
    assert_int_equal(rec.relists, 1); /* resumed from version 10, no relist */
    assert_non_null(strstr(last_request(fd), "resourceVersion=10&"));
    assert_non_null(strstr(lq_fake_log_text(), "401, token re-read"));
    assert_null(strstr(lq_fake_log_text(), "-token-")); /* never a token in the log */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paginated_list_then_watch_and_rewatch),
        cmocka_unit_test(test_410_error_event_relists),
        cmocka_unit_test(test_http_410_on_watch_start_relists),
        cmocka_unit_test(test_broken_connection_resumes_from_version),
        cmocka_unit_test(test_silent_watch_resumes),
        cmocka_unit_test(test_watch_list_and_fallback),
        cmocka_unit_test(test_oversized_list_item_reported_with_name),
        cmocka_unit_test(test_prefix_token_and_user_agent_from_kcfg),
        cmocka_unit_test(test_no_kcfg_no_token),
        cmocka_unit_test(test_401_rereads_token_and_retries),
    };
    return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
