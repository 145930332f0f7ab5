/* Unit tests of src/kubelet/req.c: the kubelet API's request parser. Every route and its
 * names (percent-decoded, validated at and over each length limit), every row of
 * kubelet's authorisation mapping (verbs, subresources, the fine-grained pairs), every
 * logs parameter valid and invalid with the foreign pods/log target it gives, the exec
 * and attach flags in both spellings, command re-encoding (hostile values cannot add
 * parameters), WebSocket / SPDY upgrade detection, heads fed whole and one byte at a time
 * (LQ_AGAIN until complete, same result), a table of malformed heads, LQ_ETOOBIG for
 * every too small output, invalid arguments, no heap use after the pool seal.
 *
 * Every parse runs on an exactly sized heap copy of the input, so ASan catches a read
 * past the length given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/kubelet_req.h"
#include "liqolet/pool.h"

#define HOST "Host: 10.0.0.5:10250\r\n"

static char *g_copy;   /* the bytes the last parse saw (views point here) */
static char g_head[8192];
static char g_out[8192];

static int teardown(void **state)
{
    (void)state;
    free(g_copy);
    g_copy = NULL;
    return 0;
}

static lq_err_t parse_n(lq_kl_req_t *r, const char *s, size_t n)
{
    free(g_copy);
    g_copy = malloc(n > 0 ? n : 1);
    assert_non_null(g_copy);
    memcpy(g_copy, s, n);
    return lq_kl_parse(r, g_copy, n);
}

static lq_err_t parse(lq_kl_req_t *r, const char *s)
{
    return parse_n(r, s, strlen(s));
}

/* "METHOD target HTTP/1.1" + Host + extra fields + the empty line */
static const char *head(const char *method, const char *target, const char *extra)
{
    snprintf(g_head, sizeof g_head, "%s %s HTTP/1.1\r\n" HOST "%s\r\n", method, target,
             extra ? extra : "");
    return g_head;
}

static lq_err_t get(lq_kl_req_t *r, const char *target)
{
    return parse(r, head("GET", target, NULL));
}

static int view_is(lq_http_view_t v, const char *s)
{
    return v.ptr != NULL && v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static const char *target_of(const lq_kl_req_t *r)
{
    size_t len = 99;
    lq_err_t e = lq_kl_foreign_target(r, "rns", "rpod", g_out, sizeof g_out, &len);
    assert_int_equal(e, LQ_OK);
    assert_int_equal(len, strlen(g_out));
    return g_out;
}

/* ---- routes and names -------------------------------------------------------------- */

static void test_routes(void **state)
{
    (void)state;
    static const struct {
        const char *target;
        lq_kl_route_t route;
        const char *ns, *pod, *ctr;
    } cases[] = {
        {"/containerLogs/shop/web-0/nginx", LQ_KL_LOGS, "shop", "web-0", "nginx"},
        {"/containerLogs/shop/web-0/nginx?follow=true", LQ_KL_LOGS, "shop", "web-0", "nginx"},
        {"/exec/shop/web-0/nginx?command=ls&output=1", LQ_KL_EXEC, "shop", "web-0", "nginx"},
        {"/attach/shop/web-0/nginx?output=1", LQ_KL_ATTACH, "shop", "web-0", "nginx"},
        {"/portForward/shop/web-0?port=80", LQ_KL_PORTFORWARD, "shop", "web-0", ""},
        {"/portForward/shop/web-0", LQ_KL_PORTFORWARD, "shop", "web-0", ""},
        {"/healthz", LQ_KL_HEALTHZ, "", "", ""},
        {"/healthz?verbose", LQ_KL_HEALTHZ, "", "", ""},
        {"/healthz/", LQ_KL_OTHER, "", "", ""},
        {"/healthz/ping", LQ_KL_OTHER, "", "", ""},
        {"/", LQ_KL_OTHER, "", "", ""},
        {"/pods", LQ_KL_OTHER, "", "", ""},
        {"/stats/summary", LQ_KL_OTHER, "", "", ""},
        {"/containerLogs/shop/web-0", LQ_KL_OTHER, "", "", ""},
        {"/containerLogs/shop/web-0/nginx/", LQ_KL_OTHER, "", "", ""},
        {"/containerLogs/shop/web-0/nginx/x", LQ_KL_OTHER, "", "", ""},
        {"/exec/shop/web-0/0b1d-uid/nginx", LQ_KL_OTHER, "", "", ""}, /* uid form */
        {"/portForward/shop/web-0/x", LQ_KL_OTHER, "", "", ""},
        {"/containerlogs/shop/web-0/nginx", LQ_KL_OTHER, "", "", ""}, /* case matters */
        {"/a/b/c/d/e/f/g/h", LQ_KL_OTHER, "", "", ""},
        {"//containerLogs/shop/web-0/nginx", LQ_KL_OTHER, "", "", ""},
        {"/%63ontainerLogs/shop/web-0/nginx", LQ_KL_LOGS, "shop", "web-0", "nginx"},
        {"/containerLogs/%73hop/web%2D0/ngin%78", LQ_KL_LOGS, "shop", "web-0", "nginx"},
        {"/exec/shop/a.b.c/nginx?command=x&input=1", LQ_KL_EXEC, "shop", "a.b.c", "nginx"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        lq_err_t e = get(&r, cases[i].target);
        if (e != LQ_OK || r.route != cases[i].route || strcmp(r.ns, cases[i].ns) != 0 ||
            strcmp(r.pod, cases[i].pod) != 0 || strcmp(r.container, cases[i].ctr) != 0)
            fail_msg("%s: err %s route %d ns '%s' pod '%s' ctr '%s'", cases[i].target,
                     lq_err_name(e), (int)r.route, r.ns, r.pod, r.container);
        assert_null(r.why);
    }
}

static void test_names(void **state)
{
    (void)state;
    char t[1200], label63[64], label64[65], pod253[254], pod254[255];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    /* 253 = 4 labels: 63 + 1 + 63 + 1 + 63 + 1 + 61 */
    memset(pod253, 'b', 253);
    pod253[63] = pod253[127] = pod253[191] = '.';
    pod253[253] = '\0';
    memcpy(pod254, pod253, 253);
    pod254[253] = 'b';
    pod254[254] = '\0';
    static const struct {
        const char *ns, *pod, *ctr;
        bool ok;
    } fixed[] = {
        {"shop", "web-0", "nginx", true},
        {"Shop", "web-0", "nginx", false},       /* upper case */
        {"shop", "Web-0", "nginx", false},
        {"shop", "web-0", "Nginx", false},
        {"-shop", "web-0", "nginx", false},      /* starts with '-' */
        {"shop-", "web-0", "nginx", false},
        {"sh.op", "web-0", "nginx", false},      /* a namespace is a label */
        {"shop", "web.0", "nginx", true},        /* a pod is a subdomain */
        {"shop", "web..0", "nginx", false},
        {"shop", ".web", "nginx", false},
        {"shop", "web-0", "ng.inx", false},      /* a container is a label */
        {"shop", "web_0", "nginx", false},
        {"", "web-0", "nginx", false},           /* empty segment */
        {"shop", "", "nginx", false},
        {"shop", "web-0", "", false},
        {"shop", "web%2F0", "nginx", false},      /* decodes to '/' */
        {"shop", "web%000", "nginx", false},      /* decodes to NUL */
        {"shop", "w%C3%A9b", "nginx", false},     /* non-ASCII */
        {"shop", "web+0", "nginx", false},        /* '+' stays '+' in a path */
        {"shop", "web%2d0", "nginx", true},       /* lower-case hex */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        lq_kl_req_t r;
        snprintf(t, sizeof t, "/containerLogs/%s/%s/%s", fixed[i].ns, fixed[i].pod,
                 fixed[i].ctr);
        assert_int_equal(get(&r, t), LQ_OK);
        if ((r.route == LQ_KL_LOGS) != fixed[i].ok)
            fail_msg("%s: route %d", t, (int)r.route);
        if (!fixed[i].ok) {
            assert_int_equal(r.route, LQ_KL_BAD_NAME);
            assert_non_null(r.why);
            assert_string_equal(r.ns, "");
            assert_string_equal(r.pod, "");
            assert_string_equal(r.container, "");
            assert_string_equal(r.sub[0], "proxy"); /* still authorised */
        }
    }
    const struct {
        const char *ns, *pod, *ctr;
        bool ok;
        const char *why;
    } lim[] = {
        {label63, "p", "c", true, NULL},
        {label64, "p", "c", false, "namespace"},
        {"n", pod253, "c", true, NULL},
        {"n", pod254, "c", false, "pod"},
        {"n", "p", label63, true, NULL},
        {"n", "p", label64, false, "container"},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        lq_kl_req_t r;
        snprintf(t, sizeof t, "/exec/%s/%s/%s?command=x&output=1", lim[i].ns, lim[i].pod,
                 lim[i].ctr);
        assert_int_equal(get(&r, t), LQ_OK);
        assert_int_equal(r.route, lim[i].ok ? LQ_KL_EXEC : LQ_KL_BAD_NAME);
        if (lim[i].ok) {
            assert_string_equal(r.ns, lim[i].ns);
            assert_string_equal(r.pod, lim[i].pod);
            assert_string_equal(r.container, lim[i].ctr);
        } else {
            assert_non_null(strstr(r.why, lim[i].why));
        }
    }
    /* the same over-long pod name percent-encoded in full */
    char enc[1024];
    size_t k = 0;
    for (size_t i = 0; i < 254; i++)
        k += (size_t)snprintf(enc + k, sizeof enc - k, "%%%02X", (unsigned char)pod254[i]);
    snprintf(t, sizeof t, "/portForward/n/%s", enc);
    lq_kl_req_t r;
    assert_int_equal(get(&r, t), LQ_OK);
    assert_int_equal(r.route, LQ_KL_BAD_NAME);
    enc[253 * 3] = '\0';
    snprintf(t, sizeof t, "/portForward/n/%s", enc);
    assert_int_equal(get(&r, t), LQ_OK);
    assert_int_equal(r.route, LQ_KL_PORTFORWARD);
    assert_string_equal(r.pod, pod253);
}

/* ---- authorisation attributes ------------------------------------------------------- */

static void test_authz(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *verb, *sub0, *sub1;
    } cases[] = {
        /* verbs (auth.go's switch; HEAD has no case) */
        {"GET", "/containerLogs/a/b/c", "get", "proxy", NULL},
        {"POST", "/exec/a/b/c?command=x&output=1", "create", "proxy", NULL},
        {"HEAD", "/healthz", "", "healthz", "proxy"},
        {"PUT", "/pods", "update", "pods", "proxy"},
        {"PATCH", "/stats", "patch", "stats", NULL},
        {"DELETE", "/logs/x", "delete", "log", NULL},
        {"OPTIONS", "/", "", "proxy", NULL},
        {"get", "/", "", "proxy", NULL},
        /* coarse subresources; isSubpath trims one trailing '/' of the base */
        {"GET", "/stats", "get", "stats", NULL},
        {"GET", "/stats/", "get", "stats", NULL},
        {"GET", "/stats/summary", "get", "stats", NULL},
        {"GET", "/statsx", "get", "proxy", NULL},
        {"GET", "/metrics", "get", "metrics", NULL},
        {"GET", "/metrics/cadvisor", "get", "metrics", NULL},
        {"GET", "/metrics/probes", "get", "metrics", NULL},
        {"GET", "/metricsx", "get", "proxy", NULL},
        {"GET", "/logs", "get", "log", NULL},
        {"GET", "/logs/", "get", "log", NULL},
        {"GET", "/logs/syslog", "get", "log", NULL},
        {"GET", "/logsx", "get", "proxy", NULL},
        {"POST", "/checkpoint/a/b/c", "create", "checkpoint", NULL},
        {"POST", "/checkpoint", "create", "checkpoint", NULL},
        {"GET", "/checkpointx", "get", "proxy", NULL},
        {"GET", "/statusz", "get", "statusz", NULL},
        {"GET", "/flagz", "get", "configz", NULL},
        {"GET", "/containerLogs/a/b/c", "get", "proxy", NULL},
        {"GET", "/attach/a/b/c?output=1", "get", "proxy", NULL},
        {"POST", "/portForward/a/b", "create", "proxy", NULL},
        {"GET", "/run/a/b/c", "get", "proxy", NULL},
        {"GET", "/", "get", "proxy", NULL},
        {"GET", "/debug/pprof/", "get", "proxy", NULL},
        /* fine-grained (KubeletFineGrainedAuthz, GA in 1.36): one more, checked first */
        {"GET", "/pods", "get", "pods", "proxy"},
        {"GET", "/pods/", "get", "pods", "proxy"},
        {"GET", "/podsx", "get", "proxy", NULL},
        {"GET", "/healthz", "get", "healthz", "proxy"},
        {"GET", "/healthz/ping", "get", "healthz", "proxy"},
        {"GET", "/configz", "get", "configz", "proxy"},
        {"GET", "/runningpods/", "get", "pods", "proxy"},
        {"GET", "/runningpods", "get", "pods", "proxy"},
        /* on the percent-decoded path, as Go's URL.Path */
        {"GET", "/%73tats/summary", "get", "stats", NULL},
        {"GET", "/stats%2Fsummary", "get", "stats", NULL},
        {"GET", "/%70ods", "get", "pods", "proxy"},
        {"GET", "/stat%73", "get", "stats", NULL},
        {"GET", "/stats%3F", "get", "proxy", NULL},
        /* the query is not part of the path */
        {"GET", "/containerLogs/a/b/c?x=/stats", "get", "proxy", NULL},
        {"GET", "/metrics?x", "get", "metrics", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        lq_err_t e = parse(&r, head(cases[i].method, cases[i].path, NULL));
        if (e != LQ_OK && e != LQ_ENOTSUP)
            fail_msg("%s %s: %s", cases[i].method, cases[i].path, lq_err_name(e));
        size_t want_n = cases[i].sub1 ? 2 : 1;
        if (strcmp(r.verb, cases[i].verb) != 0 || r.n_sub != want_n ||
            strcmp(r.sub[0], cases[i].sub0) != 0 ||
            (cases[i].sub1 && strcmp(r.sub[1], cases[i].sub1) != 0))
            fail_msg("%s %s: verb '%s' n_sub %zu sub0 %s sub1 %s", cases[i].method,
                     cases[i].path, r.verb, r.n_sub, r.sub[0], r.n_sub > 1 ? r.sub[1] : "-");
    }
}

static void test_methods(void **state)
{
    (void)state;
    const char *refused[] = {"PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
                             "get", "X-CUSTOM"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        lq_kl_req_t r;
        assert_int_equal(parse(&r, head(refused[i], "/containerLogs/a/b/c?tailLines=-1", NULL)),
                         LQ_ENOTSUP);
        assert_true(r.head_len > 0);
        assert_int_equal(r.route, LQ_KL_LOGS);
        assert_string_equal(r.container, "c");
        assert_non_null(r.why);
        assert_false(r.logs.has_tail_lines); /* query not parsed */
    }
    const char *served[] = {"GET", "POST", "HEAD"};
    for (size_t i = 0; i < 3; i++) {
        lq_kl_req_t r;
        assert_int_equal(parse(&r, head(served[i], "/healthz", NULL)), LQ_OK);
        assert_true(view_is(r.method, served[i]));
        assert_int_equal(r.route, LQ_KL_HEALTHZ);
    }
}

/* ---- logs --------------------------------------------------------------------------- */

#define LOGS "/containerLogs/shop/web-0/nginx"
#define LOG_T "/api/v1/namespaces/rns/pods/rpod/log?container=nginx"

static void test_logs_valid(void **state)
{
    (void)state;
    static const struct {
        const char *query, *target;
    } cases[] = {
        {"", LOG_T},
        {"?", LOG_T},
        {"?follow=true", LOG_T "&follow=true"},
        {"?follow=1", LOG_T "&follow=true"},
        {"?follow=", LOG_T "&follow=true"},          /* empty value: true (Go) */
        {"?follow", LOG_T "&follow=true"},
        {"?follow=yes", LOG_T "&follow=true"},
        {"?follow=false", LOG_T},
        {"?follow=FALSE", LOG_T},
        {"?follow=False", LOG_T},
        {"?follow=0", LOG_T},
        {"?follow=0&follow=true", LOG_T},           /* the first value counts */
        {"?follow=true&follow=0", LOG_T "&follow=true"},
        {"?fo%6Clow=%74rue", LOG_T "&follow=true"}, /* keys and values decoded */
        {"?previous=true", LOG_T "&previous=true"},
        {"?previous=false", LOG_T},
        {"?timestamps=true", LOG_T "&timestamps=true"},
        {"?timestamps=0", LOG_T},
        {"?tailLines=10", LOG_T "&tailLines=10"},
        {"?tailLines=0", LOG_T "&tailLines=0"},
        {"?tailLines=%2B007", LOG_T "&tailLines=7"},
        {"?tailLines=-0", LOG_T "&tailLines=0"},
        {"?tailLines=9223372036854775807", LOG_T "&tailLines=9223372036854775807"},
        {"?tailLines=5&tailLines=x", LOG_T "&tailLines=5"},
        {"?tail=20", LOG_T "&tailLines=20"},        /* kubelet's old name */
        {"?tailLines=5&tail=20", LOG_T "&tailLines=20"},
        {"?tailLines=x&tail=20", LOG_T "&tailLines=20"},
        {"?tailLines=5&tail=all", LOG_T},
        {"?tailLines=5&tail=", LOG_T "&tailLines=5"},
        {"?sinceSeconds=1", LOG_T "&sinceSeconds=1"},
        {"?sinceSeconds=3600", LOG_T "&sinceSeconds=3600"},
        {"?sinceTime=2026-01-02T15:04:05Z", LOG_T "&sinceTime=2026-01-02T15%3A04%3A05Z"},
        {"?sinceTime=2026-01-02T15%3A04%3A05Z", LOG_T "&sinceTime=2026-01-02T15%3A04%3A05Z"},
        {"?sinceTime=2026-01-02T15:04:05.123456789Z",
         LOG_T "&sinceTime=2026-01-02T15%3A04%3A05.123456789Z"},
        {"?sinceTime=2026-01-02T15:04:05%2B02:00",
         LOG_T "&sinceTime=2026-01-02T15%3A04%3A05%2B02%3A00"},
        {"?sinceTime=2026-01-02T15:04:05-23:59",
         LOG_T "&sinceTime=2026-01-02T15%3A04%3A05-23%3A59"},
        {"?sinceTime=2024-02-29T00:00:00Z", LOG_T "&sinceTime=2024-02-29T00%3A00%3A00Z"},
        {"?sinceTime=2000-02-29T23:59:59Z", LOG_T "&sinceTime=2000-02-29T23%3A59%3A59Z"},
        {"?sinceTime=0000-01-01T00:00:00Z", LOG_T "&sinceTime=0000-01-01T00%3A00%3A00Z"},
        {"?sinceTime=", LOG_T},                     /* empty: the zero time */
        {"?sinceTime=null", LOG_T},
        {"?limitBytes=1", LOG_T "&limitBytes=1"},
        {"?limitBytes=1048576", LOG_T "&limitBytes=1048576"},
        {"?stream=All", LOG_T},
        {"?stream=Stdout", LOG_T "&stream=Stdout"},
        {"?stream=Stderr&sinceSeconds=5", LOG_T "&sinceSeconds=5&stream=Stderr"},
        {"?container=other&insecureSkipTLSVerifyBackend=true&x=%zz", NULL}, /* bad escape */
        {"?container=other&insecureSkipTLSVerifyBackend=true&x=y", LOG_T},  /* ignored */
        {"?follow=true&previous=true&timestamps=true&sinceSeconds=30&tailLines=100&"
         "limitBytes=500",
         LOG_T "&follow=true&previous=true&timestamps=true&sinceSeconds=30&tailLines=100&"
               "limitBytes=500"},
        {"?&&follow=true&&", LOG_T "&follow=true"},
        {"?=x&follow=true", LOG_T "&follow=true"},
    };
    char t[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        snprintf(t, sizeof t, LOGS "%s", cases[i].query);
        lq_err_t e = get(&r, t);
        if (cases[i].target == NULL) {
            assert_int_equal(e, LQ_EPROTO);
            continue;
        }
        if (e != LQ_OK)
            fail_msg("%s: %s (%s)", cases[i].query, lq_err_name(e), r.why ? r.why : "");
        if (strcmp(target_of(&r), cases[i].target) != 0)
            fail_msg("%s:\n got  %s\n want %s", cases[i].query, g_out, cases[i].target);
    }
    /* the fields themselves */
    lq_kl_req_t r;
    assert_int_equal(get(&r, LOGS "?sinceTime=2026-01-02T15:04:05Z&tailLines=3"), LQ_OK);
    assert_true(r.logs.has_since_time && r.logs.has_tail_lines);
    assert_string_equal(r.logs.since_time, "2026-01-02T15:04:05Z");
    assert_int_equal(r.logs.tail_lines, 3);
    assert_false(r.logs.has_since_seconds || r.logs.has_limit_bytes || r.logs.follow);
    assert_int_equal(r.logs.stream, LQ_KL_STREAM_ALL);
    assert_int_equal(get(&r, LOGS "?sinceTime="), LQ_OK);
    assert_true(r.logs.has_since_time);
    assert_string_equal(r.logs.since_time, "");
    assert_int_equal(get(&r, LOGS "?tailLines=-9223372036854775808&tail=1"), LQ_OK);
    assert_int_equal(r.logs.tail_lines, 1);
}

static void test_logs_invalid(void **state)
{
    (void)state;
    char t64[128];
    snprintf(t64, sizeof t64, "?sinceTime=2026-01-02T15:04:05.%044dZ", 0); /* 65 bytes */
    const struct {
        const char *query, *why;
    } cases[] = {
        {"?tailLines=-1", "tailLines must not be negative"},
        {"?tailLines=x", "tailLines is not an integer"},
        {"?tailLines=", "tailLines is not an integer"},
        {"?tailLines=1.5", "tailLines is not an integer"},
        {"?tailLines=1e3", "tailLines is not an integer"},
        {"?tailLines=%201", "tailLines is not an integer"},
        {"?tailLines=+", "tailLines is not an integer"},
        {"?tailLines=9223372036854775808", "tailLines is not an integer"},
        {"?tailLines=-9223372036854775809", "tailLines is not an integer"},
        {"?tailLines=0x10", "tailLines is not an integer"},
        {"?tail=-3", "tailLines must not be negative"},
        {"?tail=x&tailLines=1", "tailLines is not an integer"},
        {"?sinceSeconds=0", "sinceSeconds must be greater than 0"},
        {"?sinceSeconds=-5", "sinceSeconds must be greater than 0"},
        {"?sinceSeconds=abc", "sinceSeconds is not an integer"},
        {"?limitBytes=0", "limitBytes must be greater than 0"},
        {"?limitBytes=-1", "limitBytes must be greater than 0"},
        {"?limitBytes=1k", "limitBytes is not an integer"},
        {"?sinceSeconds=5&sinceTime=2026-01-02T15:04:05Z", "at most one"},
        {"?sinceSeconds=5&sinceTime=", "at most one"}, /* the zero time still counts */
        {"?sinceTime=2026-01-02", "RFC 3339"},
        {"?sinceTime=2026-01-02%2015:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-02+15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-02t15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05", "RFC 3339"},
        {"?sinceTime=2026-13-02T15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-00-02T15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-00T15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-04-31T15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-02-29T15:04:05Z", "RFC 3339"},
        {"?sinceTime=1900-02-29T15:04:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T24:00:00Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:60:05Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:60Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05.Z", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05+0200", "RFC 3339"}, /* '+' is a space */
        {"?sinceTime=2026-01-02T15:04:05%2B24:00", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05%2B02:60", "RFC 3339"},
        {"?sinceTime=2026-01-02T15:04:05ZZ", "RFC 3339"},
        {"?sinceTime=2026-1-02T15:04:05Z", "RFC 3339"},
        {"?sinceTime=NULL", "RFC 3339"},
        {t64, "sinceTime is too long"},
        {"?stream=all", "stream must be"},
        {"?stream=", "stream must be"},
        {"?stream=Stdout&tailLines=1", "mutually exclusive"},
    };
    char t[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        snprintf(t, sizeof t, LOGS "%s", cases[i].query);
        lq_err_t e = get(&r, t);
        if (e != LQ_EPROTO || r.why == NULL || strstr(r.why, cases[i].why) == NULL)
            fail_msg("%s: %s (%s)", cases[i].query, lq_err_name(e), r.why ? r.why : "-");
        /* a parameter error: the head itself was fine, the caller may authorise first */
        assert_true(r.head_len > 0);
        assert_int_equal(r.route, LQ_KL_LOGS);
        assert_string_equal(r.verb, "get");
        assert_string_equal(r.sub[0], "proxy");
    }
    /* 64 decoded bytes are accepted */
    snprintf(t, sizeof t, LOGS "?sinceTime=2026-01-02T15:04:05.%043dZ", 0); /* 64 bytes */
    lq_kl_req_t r;
    assert_int_equal(get(&r, t), LQ_OK);
    assert_int_equal(strlen(r.logs.since_time), LQ_KL_TIME_MAX);
}

/* ---- exec / attach ------------------------------------------------------------------- */

#define EXEC "/exec/shop/web-0/nginx"
#define EXEC_T "/api/v1/namespaces/rns/pods/rpod/exec?container=nginx"
#define ATTACH_T "/api/v1/namespaces/rns/pods/rpod/attach?container=nginx"

static void test_exec_flags(void **state)
{
    (void)state;
    static const struct {
        const char *target, *want;
        bool in, out, err, tty;
    } cases[] = {
        {EXEC "?command=ls&output=1", EXEC_T "&command=ls&stdout=true", 0, 1, 0, 0},
        {EXEC "?command=ls&input=1&output=1&error=1",
         EXEC_T "&command=ls&stdin=true&stdout=true&stderr=true", 1, 1, 1, 0},
        {EXEC "?command=sh&input=1&output=1&error=1&tty=1",
         EXEC_T "&command=sh&stdin=true&stdout=true&tty=true", 1, 1, 0, 1}, /* tty: no err */
        {EXEC "?command=ls&stdin=true&stdout=true&stderr=true",
         EXEC_T "&command=ls&stdin=true&stdout=true&stderr=true", 1, 1, 1, 0},
        {EXEC "?command=ls&stdout=1&error=true", EXEC_T "&command=ls&stdout=true&stderr=true",
         0, 1, 1, 0},
        {EXEC "?command=ls&output=yes&error=1", EXEC_T "&command=ls&stderr=true", 0, 0, 1, 0},
        {EXEC "?command=ls&output=TRUE&error=1", EXEC_T "&command=ls&stderr=true", 0, 0, 1, 0},
        {EXEC "?command=ls&output=0&output=1&error=1", EXEC_T "&command=ls&stderr=true", 0, 0,
         1, 0},
        {EXEC "?command=ls&output=1&output=0", EXEC_T "&command=ls&stdout=true", 0, 1, 0, 0},
        {EXEC "?command=ls&output=0&stdout=1", EXEC_T "&command=ls&stdout=true", 0, 1, 0, 0},
        {EXEC "?command=ls&output=1&tty=true", EXEC_T "&command=ls&stdout=true&tty=true", 0, 1,
         0, 1},
        {EXEC "?command=ls&output=1&tty=0", EXEC_T "&command=ls&stdout=true", 0, 1, 0, 0},
        {EXEC "?%6Futput=%31&%63ommand=ls", EXEC_T "&command=ls&stdout=true", 0, 1, 0, 0},
        {"/attach/shop/web-0/nginx?output=1&error=1",
         ATTACH_T "&stdout=true&stderr=true", 0, 1, 1, 0},
        {"/attach/shop/web-0/nginx?input=1&output=1&tty=1&command=ignored",
         ATTACH_T "&stdin=true&stdout=true&tty=true", 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        lq_err_t e = get(&r, cases[i].target);
        if (e != LQ_OK)
            fail_msg("%s: %s", cases[i].target, lq_err_name(e));
        assert_int_equal(r.stream.input, cases[i].in);
        assert_int_equal(r.stream.output, cases[i].out);
        assert_int_equal(r.stream.error, cases[i].err);
        assert_int_equal(r.stream.tty, cases[i].tty);
        if (strcmp(target_of(&r), cases[i].want) != 0)
            fail_msg("%s:\n got  %s\n want %s", cases[i].target, g_out, cases[i].want);
    }
    lq_kl_req_t r;
    assert_int_equal(get(&r, "/attach/shop/web-0/nginx?output=1&command=x"), LQ_OK);
    assert_int_equal(r.stream.n_command, 0);
    assert_int_equal(get(&r, EXEC "?command=a&output=1&command=b&command=c"), LQ_OK);
    assert_int_equal(r.stream.n_command, 3);
    assert_int_equal(get(&r, "/portForward/shop/web-0?port=80"), LQ_OK);
    assert_int_equal(r.stream.n_command, 0);
    assert_false(r.stream.output);
}

static void test_exec_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *target, *why;
    } cases[] = {
        {EXEC "?command=ls", "at least 1 of stdin"},
        {EXEC "?command=ls&tty=1", "at least 1 of stdin"},
        {EXEC "?command=ls&error=1&tty=1", "at least 1 of stdin"}, /* tty drops stderr */
        {EXEC "?command=ls&output=yes", "at least 1 of stdin"},
        {EXEC "?output=1", "exec needs a command"},
        {EXEC "?output=1&commands=ls", "exec needs a command"},
        {EXEC, "at least 1 of stdin"},
        {"/attach/shop/web-0/nginx", "at least 1 of stdin"},
        {"/attach/shop/web-0/nginx?output=2", "at least 1 of stdin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        lq_err_t e = get(&r, cases[i].target);
        if (e != LQ_EPROTO || strstr(r.why, cases[i].why) == NULL)
            fail_msg("%s: %s (%s)", cases[i].target, lq_err_name(e), r.why ? r.why : "-");
        assert_true(r.head_len > 0);
    }
}

/* Counts the '&'-separated parameters of a target's query. */
static size_t n_params(const char *t)
{
    size_t n = 1;
    for (const char *p = strchr(t, '?'); p && *p; p++)
        n += *p == '&';
    return n;
}

static void test_command_reencoding(void **state)
{
    (void)state;
    static const struct {
        const char *query, *want;
    } cases[] = {
        {"command=echo&command=hello+world", "&command=echo&command=hello%20world"},
        {"command=echo&command=hello%20world", "&command=echo&command=hello%20world"},
        {"command=a%26b", "&command=a%26b"},
        {"command=a%3Db", "&command=a%3Db"},
        {"command=100%25", "&command=100%25"},
        {"command=%2B1", "&command=%2B1"},
        {"command=caf%C3%A9", "&command=caf%C3%A9"},
        {"command=%FF%00%0A", "&command=%FF%00%0A"},
        {"command=", "&command="},
        {"command", "&command="},
        {"command=sh&command=-c&command=echo%20%24HOME%20%3E%20%2Ftmp%2Fx",
         "&command=sh&command=-c&command=echo%20%24HOME%20%3E%20%2Ftmp%2Fx"},
        {"command=a%26stdin%3Dtrue", "&command=a%26stdin%3Dtrue"},
        {"command=x%26container%3Dother%26command%3Drm", "&command=x%26container%3Dother%26command%3Drm"},
        {"command=a.b-c_d~e", "&command=a.b-c_d~e"},
        {"command=/bin/ls", "&command=%2Fbin%2Fls"},
        {"com%6Dand=ls", "&command=ls"},
    };
    char t[1024], want[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_kl_req_t r;
        snprintf(t, sizeof t, EXEC "?output=1&%s", cases[i].query);
        lq_err_t e = get(&r, t);
        if (e != LQ_OK)
            fail_msg("%s: %s", t, lq_err_name(e));
        snprintf(want, sizeof want, EXEC_T "%s&stdout=true", cases[i].want);
        if (strcmp(target_of(&r), want) != 0)
            fail_msg("%s:\n got  %s\n want %s", t, g_out, want);
        /* a command is one parameter whatever it holds */
        assert_int_equal(n_params(g_out), 2 + r.stream.n_command);
    }
    /* 200 commands of 40 bytes each, every byte escaped: chunks of the re-encoder */
    static char big[16384];
    size_t k = (size_t)snprintf(big, sizeof big, EXEC "?output=1");
    for (int c = 0; c < 20; c++) {
        k += (size_t)snprintf(big + k, sizeof big - k, "&command=");
        for (int b = 0; b < 130; b++)
            k += (size_t)snprintf(big + k, sizeof big - k, "%%%02X", (c * 131 + b) & 0xff);
    }
    lq_kl_req_t r;
    assert_int_equal(get(&r, big), LQ_OK);
    assert_int_equal(r.stream.n_command, 20);
    static char big_out[32768];
    size_t len = 0;
    assert_int_equal(lq_kl_foreign_target(&r, "rns", "rpod", big_out, sizeof big_out, &len),
                     LQ_OK);
    assert_int_equal(n_params(big_out), 22);
    /* the decoded bytes come back, in order */
    const char *p = big_out;
    for (int c = 0; c < 20; c++) {
        p = strstr(p, "&command=");
        assert_non_null(p);
        p += 9;
        for (int b = 0; b < 130; b++) {
            unsigned v = (unsigned)((c * 131 + b) & 0xff);
            bool plain = (v >= '0' && v <= '9') || (v >= 'a' && v <= 'z') ||
                         (v >= 'A' && v <= 'Z') || v == '-' || v == '.' || v == '_' || v == '~';
            if (plain) {
                assert_int_equal((unsigned char)*p, v);
                p++;
            } else {
                char hx[4];
                snprintf(hx, sizeof hx, "%%%02X", v);
                assert_memory_equal(p, hx, 3);
                p += 3;
            }
        }
    }
}

/* ---- upgrades ------------------------------------------------------------------------ */

#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static void test_upgrade(void **state)
{
    (void)state;
    lq_kl_req_t r;
    const char *t = EXEC "?command=sh&input=1&output=1&tty=1";

    assert_int_equal(parse(&r, head("GET", t,
                                    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY
                                    "\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_WEBSOCKET);
    assert_true(view_is(r.ws_key, WS_KEY));
    assert_int_equal(r.n_ws_protocols, 1);
    assert_true(view_is(r.ws_protocols[0], "v5.channel.k8s.io"));
    assert_true(r.ws_v5);
    assert_string_equal(r.verb, "get");

    /* several fields, lists, case, other Connection tokens */
    assert_int_equal(
        parse(&r, head("GET", t,
                       "connection: keep-alive, UPGRADE\r\nUPGRADE: WebSocket\r\n"
                       "sec-websocket-version: 13\r\nsec-websocket-key:  " WS_KEY "  \r\n"
                       "Sec-WebSocket-Protocol: v4.channel.k8s.io , ,base64url.bearer.x\r\n"
                       "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n")),
        LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_WEBSOCKET);
    assert_true(view_is(r.ws_key, WS_KEY));
    assert_int_equal(r.n_ws_protocols, 3);
    assert_true(view_is(r.ws_protocols[0], "v4.channel.k8s.io"));
    assert_true(view_is(r.ws_protocols[1], "base64url.bearer.x"));
    assert_true(view_is(r.ws_protocols[2], "v5.channel.k8s.io"));
    assert_true(r.ws_v5);

    /* without v5 */
    assert_int_equal(parse(&r, head("GET", t,
                                    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY
                                    "\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_WEBSOCKET);
    assert_false(r.ws_v5);
    assert_int_equal(parse(&r, head("GET", t,
                                    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY
                                    "\r\nSec-WebSocket-Protocol: V5.channel.k8s.io\r\n")),
                     LQ_OK);
    assert_false(r.ws_v5); /* subprotocols are case-sensitive */

    /* Upgrade without the Connection token: no upgrade (Go's IsUpgradeRequest) */
    assert_int_equal(parse(&r, head("GET", t, "Upgrade: websocket\r\n")), LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_NONE);
    assert_int_equal(parse(&r, head("GET", t, "Connection: close\r\nUpgrade: websocket\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_NONE);
    assert_false(r.keep_alive);
    assert_int_equal(parse(&r, head("GET", t, "Connection: upgrader\r\nUpgrade: websocket\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_NONE);
    assert_int_equal(get(&r, t), LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_NONE);
    assert_true(r.keep_alive);

    /* SPDY (refused by the server) and others */
    assert_int_equal(parse(&r, head("POST", t,
                                    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_SPDY);
    assert_string_equal(r.verb, "create");
    assert_int_equal(parse(&r, head("POST", "/portForward/shop/web-0",
                                    "Connection: Upgrade\r\nUpgrade: spdy/3.1\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_SPDY);
    assert_int_equal(r.route, LQ_KL_PORTFORWARD);
    assert_int_equal(parse(&r, head("GET", t, "Connection: Upgrade\r\nUpgrade: h2c\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_OTHER);
    assert_int_equal(parse(&r, head("GET", t, "Connection: Upgrade\r\nUpgrade: SPDY/3\r\n")),
                     LQ_OK);
    assert_int_equal(r.upgrade, LQ_KL_UPGRADE_OTHER);

    /* broken WebSocket handshakes */
    static const struct {
        const char *method, *fields, *why;
    } bad[] = {
        {"POST", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY "\r\n", "GET"},
        {"GET", "Sec-WebSocket-Key: " WS_KEY "\r\n", "Version"},
        {"GET", "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " WS_KEY "\r\n", "Version"},
        {"GET", "Sec-WebSocket-Version: 13, 8\r\nSec-WebSocket-Key: " WS_KEY "\r\n", "Version"},
        {"GET", "Sec-WebSocket-Version: 13\r\n", "Key"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n",
         "Key"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n",
         "Key"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ===\r\n",
         "Key"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub2-jZQ==\r\n",
         "Key"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                "Sec-WebSocket-Key: " WS_KEY "\r\n", "repeated"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: " WS_KEY "\r\n", "repeated"},
        {"GET", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: " WS_KEY "\r\n", "repeated"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                "Sec-WebSocket-Protocol: a, b c\r\n", "token"},
        {"GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                "Sec-WebSocket-Protocol: 1,2,3,4,5\r\nSec-WebSocket-Protocol: 6,7,8,9\r\n",
         "too many"},
    };
    char fields[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(fields, sizeof fields, "Connection: Upgrade\r\nUpgrade: websocket\r\n%s",
                 bad[i].fields);
        lq_err_t e = parse(&r, head(bad[i].method, t, fields));
        if (e != LQ_EPROTO || strstr(r.why, bad[i].why) == NULL)
            fail_msg("case %zu: %s (%s)", i, lq_err_name(e), r.why ? r.why : "-");
        assert_int_equal(r.head_len, 0);
    }
    /* exactly LQ_KL_MAX_WS_PROTOCOLS is fine */
    assert_int_equal(parse(&r, head("GET", t,
                                    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " WS_KEY
                                    "\r\nSec-WebSocket-Protocol: 1,2,3,4,5,6,7,8\r\n")),
                     LQ_OK);
    assert_int_equal(r.n_ws_protocols, LQ_KL_MAX_WS_PROTOCOLS);
}

/* ---- whole and byte by byte ------------------------------------------------------------ */

static const char *const good_heads[] = {
    "GET /containerLogs/shop/web-0/nginx?follow=true&tailLines=10 HTTP/1.1\r\n"
    "Host: 10.0.0.5:10250\r\nUser-Agent: kube-apiserver\r\nAccept-Encoding: gzip\r\n\r\n",
    "GET /exec/shop/web-0/nginx?command=sh&command=-c&command=ls%20-l&input=1&output=1&tty=1 "
    "HTTP/1.1\r\nHost: 10.0.0.5:10250\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n",
    "POST /portForward/shop/web-0?port=80 HTTP/1.1\r\nHost: n\r\nConnection: Upgrade\r\n"
    "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
    "Content-Length: 0\r\n\r\n",
    "HEAD /healthz HTTP/1.0\r\n\r\n",
    "GET /stats/summary HTTP/1.0\r\nConnection: keep-alive\r\nX-Empty:\r\nX-Tab:\tv\t\r\n"
    "X-Obs: caf\xc3\xa9\r\n\r\n",
};

static void test_incremental(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_heads / sizeof good_heads[0]; i++) {
        const char *h = good_heads[i];
        size_t n = strlen(h);
        lq_kl_req_t whole, part;
        assert_int_equal(parse(&whole, h), LQ_OK);
        assert_int_equal(whole.head_len, n);
        size_t path_off = (size_t)(whole.path.ptr - g_copy);
        size_t key_off = whole.ws_key.ptr ? (size_t)(whole.ws_key.ptr - g_copy) : 0;
        for (size_t k = 0; k < n; k++)
            if (parse_n(&part, h, k) != LQ_AGAIN)
                fail_msg("head %zu: prefix %zu: %s", i, k, lq_err_name(parse_n(&part, h, k)));
        assert_int_equal(parse_n(&part, h, n), LQ_OK);
        /* same result; views at the same offsets */
        assert_int_equal(part.head_len, whole.head_len);
        assert_int_equal(part.route, whole.route);
        assert_int_equal(part.upgrade, whole.upgrade);
        assert_int_equal(part.minor, whole.minor);
        assert_int_equal(part.keep_alive, whole.keep_alive);
        assert_int_equal(part.n_sub, whole.n_sub);
        assert_string_equal(part.sub[0], whole.sub[0]);
        assert_string_equal(part.verb, whole.verb);
        assert_string_equal(part.pod, whole.pod);
        assert_int_equal((size_t)(part.path.ptr - g_copy), path_off);
        assert_int_equal(part.path.len, whole.path.len);
        assert_int_equal(part.query.len, whole.query.len);
        if (key_off)
            assert_int_equal((size_t)(part.ws_key.ptr - g_copy), key_off);
        assert_memory_equal(&part.logs, &whole.logs, sizeof part.logs);
        assert_memory_equal(&part.stream, &whole.stream, sizeof part.stream);
        /* bytes after the head (a WebSocket frame, the next request) are not read */
        char more[2048];
        snprintf(more, sizeof more, "%s\x81\x05hello GET / HTTP/1.1\r\n\r\n", h);
        assert_int_equal(parse(&part, more), LQ_OK);
        assert_int_equal(part.head_len, n);
    }
    lq_kl_req_t r;
    assert_int_equal(parse(&r, good_heads[0]), LQ_OK);
    assert_true(r.logs.follow);
    assert_int_equal(r.logs.tail_lines, 10);
    assert_true(view_is(r.host, "10.0.0.5:10250"));
    assert_int_equal(parse(&r, good_heads[1]), LQ_OK);
    assert_int_equal(r.stream.n_command, 3);
    assert_string_equal(target_of(&r), EXEC_T "&command=sh&command=-c&command=ls%20-l"
                                              "&stdin=true&stdout=true&tty=true");
    assert_int_equal(parse(&r, good_heads[3]), LQ_OK);
    assert_int_equal(r.minor, 0);
    assert_false(r.keep_alive);
    assert_null(r.host.ptr);
    assert_null(r.query.ptr);
    assert_int_equal(parse(&r, good_heads[4]), LQ_OK);
    assert_true(r.keep_alive);
    assert_int_equal(parse(&r, ""), LQ_AGAIN);
    assert_int_equal(lq_kl_parse(&r, NULL, 0), LQ_AGAIN);
}

/* ---- malformed heads ------------------------------------------------------------------ */

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\r\nGET / HTTP/1.1\r\n" HOST "\r\n",               /* empty request line */
        "GET / HTTP/1.1\n" HOST "\r\n",                     /* bare LF */
        "GET / HTTP/1.1\r\n" HOST "\n",
        "GET / HTTP/1.1\r\r\n" HOST "\r\n",                 /* bare CR */
        "GET / HTTP/1.1\r\nX: a\rb\r\n" HOST "\r\n",
        "GET / HTTP/1.1\r\nX: a\0b\r\n" HOST "\r\n",        /* NUL (cut by strlen: see below) */
        "GET  / HTTP/1.1\r\n" HOST "\r\n",                  /* two spaces */
        "GET / HTTP/1.1 \r\n" HOST "\r\n",
        " GET / HTTP/1.1\r\n" HOST "\r\n",
        "GET\r\n" HOST "\r\n",
        "GET /\r\n" HOST "\r\n",                            /* HTTP/0.9 */
        "GET / HTTP/1.2\r\n" HOST "\r\n",
        "GET / HTTP/2.0\r\n" HOST "\r\n",
        "GET / HTTP/1.10\r\n" HOST "\r\n",
        "GET / http/1.1\r\n" HOST "\r\n",
        "GET / HTTP/1.x\r\n" HOST "\r\n",
        "G(T / HTTP/1.1\r\n" HOST "\r\n",                   /* method not a token */
        "GET http://10.0.0.5/healthz HTTP/1.1\r\n" HOST "\r\n", /* absolute-form */
        "GET * HTTP/1.1\r\n" HOST "\r\n",
        "GET /a#b HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\x7f HTTP/1.1\r\n" HOST "\r\n",
        "GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\tb HTTP/1.1\r\n" HOST "\r\n",
        "GET / HTTP/1.1\r\n" HOST " folded\r\n\r\n",        /* obs-fold */
        "GET / HTTP/1.1\r\n" HOST "\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X : y\r\n\r\n",          /* space before colon */
        "GET / HTTP/1.1\r\n" HOST ": y\r\n\r\n",            /* empty name */
        "GET / HTTP/1.1\r\n" HOST "X(y): z\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "no colon\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X: a\x01" "b\r\n\r\n",   /* CTL in a value */
        "GET / HTTP/1.1\r\n" HOST "X: a\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",                           /* no Host in 1.1 */
        "GET / HTTP/1.1\r\n" HOST HOST "\r\n",               /* two Hosts */
        "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Content-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\n" HOST "Content-Length: 01\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Content-Length: \r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Content-Length: -0\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Content-Length: 0, 0\r\n\r\n",
        "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: identity\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Connection: up grade\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Upgrade: a\r\nUpgrade: b\r\n\r\n",
        "GET /containerLogs/a/b/%zz HTTP/1.1\r\n" HOST "\r\n", /* bad escapes */
        "GET /containerLogs/a/b/c% HTTP/1.1\r\n" HOST "\r\n",
        "GET /containerLogs/a/b/c%4 HTTP/1.1\r\n" HOST "\r\n",
        "GET /x?a=%g0 HTTP/1.1\r\n" HOST "\r\n",
        "GET /containerLogs/a/b/c?follow=true;tailLines=1 HTTP/1.1\r\n" HOST "\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lq_kl_req_t r;
        size_t n = strlen(bad[i]);
        if (i == 5)
            n = sizeof "GET / HTTP/1.1\r\nX: a\0b\r\n" HOST "\r\n" - 1;
        lq_err_t e = parse_n(&r, bad[i], n);
        if (e != LQ_EPROTO || r.why == NULL || r.head_len != 0)
            fail_msg("case %zu: %s head_len %zu", i, lq_err_name(e), r.head_len);
        /* byte by byte: never LQ_OK, ends in LQ_EPROTO */
        for (size_t k = 0; k < n; k++) {
            e = parse_n(&r, bad[i], k);
            if (e == LQ_EPROTO)
                break;
            if (e != LQ_AGAIN)
                fail_msg("case %zu prefix %zu: %s", i, k, lq_err_name(e));
        }
    }
    /* early rejection, before the end of the head */
    lq_kl_req_t r;
    assert_int_equal(parse(&r, "GET / HTTP/1.1\n"), LQ_EPROTO);
    assert_int_equal(parse(&r, "GET / HTTP/1.1\rX"), LQ_EPROTO);
    assert_int_equal(parse_n(&r, "GET /\0", 6), LQ_EPROTO);
    assert_int_equal(parse(&r, "\r\n"), LQ_EPROTO);
    assert_int_equal(parse(&r, "GET / HTTP/1.1\r"), LQ_AGAIN);
    /* accepted near-misses */
    assert_int_equal(parse(&r, head("GET", "/", "Content-Length: 0\r\nContent-Length: 00\r\n")),
                     LQ_OK);
    assert_int_equal(parse(&r, head("GET", "/%41?a=%42&b", "X-Hdr:no-space\r\n")), LQ_OK);
    assert_int_equal(parse(&r, head("GET", "/?a=b=c&&", NULL)), LQ_OK);
    assert_true(view_is(r.query, "a=b=c&&"));
    assert_true(view_is(r.path, "/"));
}

/* ---- foreign target: sizes and arguments --------------------------------------------- */

static void test_target_too_small(void **state)
{
    (void)state;
    const char *targets[] = {
        LOGS "?follow=true&previous=1&timestamps=1&sinceTime=2026-01-02T15:04:05.5%2B01:00"
             "&tailLines=12&limitBytes=100",
        LOGS "?sinceSeconds=-0&stream=Stderr",
        LOGS,
        EXEC "?command=a%26b&command=%C3%A9&input=1&output=1&error=1",
        EXEC "?command=sh&input=1&output=1&tty=1",
        "/attach/shop/web-0/nginx?output=1&error=1",
    };
    static char buf[1024];
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        lq_kl_req_t r;
        lq_err_t e = get(&r, targets[i]);
        if (i == 1) { /* sinceSeconds 0 is refused */
            assert_int_equal(e, LQ_EPROTO);
            assert_int_equal(get(&r, LOGS "?sinceSeconds=9223372036854775807&stream=Stderr"),
                             LQ_OK);
        } else {
            assert_int_equal(e, LQ_OK);
        }
        size_t want = 0, len;
        assert_int_equal(lq_kl_foreign_target(&r, "rns", "rpod", buf, sizeof buf, &want),
                         LQ_OK);
        char full[1024];
        memcpy(full, buf, want + 1);
        for (size_t cap = 0; cap <= want; cap++) {
            len = 77;
            memset(buf, 'Z', sizeof buf);
            if (lq_kl_foreign_target(&r, "rns", "rpod", buf, cap, &len) != LQ_ETOOBIG)
                fail_msg("%s: cap %zu of %zu not refused", targets[i], cap, want);
            assert_int_equal(len, 0);
            for (size_t k = cap; k < sizeof buf; k++) /* nothing written past cap */
                assert_int_equal(buf[k], 'Z');
        }
        assert_int_equal(lq_kl_foreign_target(&r, "rns", "rpod", buf, want + 1, &len), LQ_OK);
        assert_int_equal(len, want);
        assert_string_equal(buf, full);
    }
}

static void test_target_einval(void **state)
{
    (void)state;
    lq_kl_req_t r;
    size_t len = 5;
    assert_int_equal(get(&r, LOGS), LQ_OK);
    assert_int_equal(lq_kl_foreign_target(NULL, "a", "b", g_out, sizeof g_out, &len), LQ_EINVAL);
    assert_int_equal(len, 0);
    assert_int_equal(lq_kl_foreign_target(&r, NULL, "b", g_out, sizeof g_out, &len), LQ_EINVAL);
    assert_int_equal(lq_kl_foreign_target(&r, "a", NULL, g_out, sizeof g_out, &len), LQ_EINVAL);
    assert_int_equal(lq_kl_foreign_target(&r, "a", "b", NULL, sizeof g_out, &len), LQ_EINVAL);
    assert_int_equal(lq_kl_foreign_target(&r, "a", "b", g_out, sizeof g_out, NULL), LQ_EINVAL);
    const char *bad_ns[] = {"", "A", "a.b", "-a", "a/b", "a&b"};
    for (size_t i = 0; i < sizeof bad_ns / sizeof bad_ns[0]; i++)
        assert_int_equal(lq_kl_foreign_target(&r, bad_ns[i], "b", g_out, sizeof g_out, &len),
                         LQ_EINVAL);
    const char *bad_pod[] = {"", "B", "a..b", "a/b", "a?b", "a%20b"};
    for (size_t i = 0; i < sizeof bad_pod / sizeof bad_pod[0]; i++)
        assert_int_equal(lq_kl_foreign_target(&r, "a", bad_pod[i], g_out, sizeof g_out, &len),
                         LQ_EINVAL);
    assert_int_equal(lq_kl_foreign_target(&r, "a", "b.c", g_out, sizeof g_out, &len), LQ_OK);
    assert_string_equal(g_out, "/api/v1/namespaces/a/pods/b.c/log?container=nginx");
    const char *other[] = {"/healthz", "/portForward/a/b", "/pods", "/containerLogs/A/b/c"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        assert_int_equal(get(&r, other[i]), LQ_OK);
        assert_int_equal(lq_kl_foreign_target(&r, "a", "b", g_out, sizeof g_out, &len),
                         LQ_EINVAL);
    }
    /* the buffer changed under r: its query no longer decodes */
    assert_int_equal(get(&r, EXEC "?output=1&command=ab"), LQ_OK);
    memcpy((char *)r.query.ptr + r.query.len - 2, "%z", 2);
    assert_int_equal(lq_kl_foreign_target(&r, "a", "b", g_out, sizeof g_out, &len), LQ_EINVAL);
    assert_int_equal(lq_kl_parse(NULL, "x", 1), LQ_EINVAL);
    assert_int_equal(lq_kl_parse(&r, NULL, 1), LQ_EINVAL);
}

static void test_no_heap_after_seal(void **state)
{
    (void)state;
    static const char h[] = "GET /exec/shop/web-0/nginx?command=a%26b&output=1 HTTP/1.1\r\n"
                            HOST "\r\n";
    lq_kl_req_t r;
    size_t len = 0;
    lq_pool_init();
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    lq_err_t e1 = lq_kl_parse(&r, h, sizeof h - 1);
    lq_err_t e2 = lq_kl_foreign_target(&r, "rns", "rpod", g_out, sizeof g_out, &len);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init();
    assert_int_equal(e1, LQ_OK);
    assert_int_equal(e2, LQ_OK);
    assert_int_equal(v1, v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_routes, teardown),
        cmocka_unit_test_teardown(test_names, teardown),
        cmocka_unit_test_teardown(test_authz, teardown),
        cmocka_unit_test_teardown(test_methods, teardown),
        cmocka_unit_test_teardown(test_logs_valid, teardown),
        cmocka_unit_test_teardown(test_logs_invalid, teardown),
        cmocka_unit_test_teardown(test_exec_flags, teardown),
        cmocka_unit_test_teardown(test_exec_invalid, teardown),
        cmocka_unit_test_teardown(test_command_reencoding, teardown),
        cmocka_unit_test_teardown(test_upgrade, teardown),
        cmocka_unit_test_teardown(test_incremental, teardown),
        cmocka_unit_test_teardown(test_malformed, teardown),
        cmocka_unit_test_teardown(test_target_too_small, teardown),
        cmocka_unit_test_teardown(test_target_einval, teardown),
        cmocka_unit_test_teardown(test_no_heap_after_seal, teardown),
    };
    return cmocka_run_group_tests_name("kubelet_req", tests, NULL, NULL);
}
