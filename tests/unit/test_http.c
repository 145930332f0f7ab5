/* Unit tests for src/kube/http.c: request writer, response head parser, body decoder.
 *
 * Every incremental parser is fed all at once, one byte at a time and split at every
 * point; every feed copies the bytes into an exactly sized heap block, so ASan catches
 * any read past the length we passed and the parser cannot rely on the buffer staying
 * in place between calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/http.h"

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                              */
/* ------------------------------------------------------------------------------------ */

static char *dup_bytes(const char *p, size_t n)
{
    char *q = malloc(n > 0 ? n : 1);
    assert_non_null(q);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

static int view_is(lq_http_view_t v, const char *s)
{
    return v.ptr != NULL && v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

/* A head parse outcome, with views as offsets so results from different buffers can
 * be compared. */
typedef struct head_result {
    lq_err_t err;
    size_t at;        /* input length of the call that returned err */
    int status;
    uint8_t minor;
    size_t reason_off, reason_len;
    size_t n_headers;
    size_t name_off[LQ_HTTP_MAX_HEADERS], name_len[LQ_HTTP_MAX_HEADERS];
    size_t val_off[LQ_HTTP_MAX_HEADERS], val_len[LQ_HTTP_MAX_HEADERS];
    size_t head_len;
    bool keep_alive, chunked, has_cl;
    uint64_t cl;
    bool has_ct;
    size_t ct_off, ct_len;
} head_result_t;

static void capture(head_result_t *hr, const lq_http_resp_t *r, const char *base, size_t len)
{
    size_t i;
    if (hr->err != LQ_OK)
        return;
    hr->status = r->status;
    hr->minor = r->minor;
    assert_true(r->reason.ptr >= base && r->reason.ptr + r->reason.len <= base + len);
    hr->reason_off = (size_t)(r->reason.ptr - base);
    hr->reason_len = r->reason.len;
    hr->n_headers = r->n_headers;
    assert_true(r->n_headers <= LQ_HTTP_MAX_HEADERS);
    assert_true(r->head_len <= len && r->head_len <= LQ_HTTP_MAX_HEAD);
    for (i = 0; i < r->n_headers; i++) {
        const lq_http_header_t *h = &r->headers[i];
        assert_true(h->name.ptr >= base && h->name.ptr + h->name.len <= base + r->head_len);
        assert_true(h->value.ptr >= base &&
                    h->value.ptr + h->value.len <= base + r->head_len);
        hr->name_off[i] = (size_t)(h->name.ptr - base);
        hr->name_len[i] = h->name.len;
        hr->val_off[i] = (size_t)(h->value.ptr - base);
        hr->val_len[i] = h->value.len;
    }
    hr->head_len = r->head_len;
    hr->keep_alive = r->keep_alive;
    hr->chunked = r->chunked;
    hr->has_cl = r->has_content_length;
    hr->cl = r->content_length;
    hr->has_ct = r->content_type.ptr != NULL;
    if (hr->has_ct) {
        hr->ct_off = (size_t)(r->content_type.ptr - base);
        hr->ct_len = r->content_type.len;
    }
}

/* Feed s[0..n) in pieces ending at the given cut points (strictly increasing, last one
 * is n); each call gets a fresh exact-size copy of the prefix. Stops at the first
 * result other than LQ_AGAIN. */
static void head_feed(const char *s, size_t n, const size_t *cuts, size_t ncuts,
                      head_result_t *hr, lq_http_resp_t *r)
{
    size_t c;
    assert_true(ncuts > 0 && cuts[ncuts - 1] == n);
    memset(hr, 0, sizeof *hr);
    lq_http_resp_init(r);
    hr->err = LQ_AGAIN;
    for (c = 0; c < ncuts; c++) {
        char *copy = dup_bytes(s, cuts[c]);
        hr->err = lq_http_resp_parse(r, copy, cuts[c]);
        hr->at = cuts[c];
        capture(hr, r, copy, cuts[c]);
        free(copy);
        if (hr->err != LQ_AGAIN)
            return;
    }
}

static void head_at_once(const char *s, size_t n, head_result_t *hr, lq_http_resp_t *r)
{
    head_feed(s, n, &n, 1, hr, r);
}

static void head_bytewise(const char *s, size_t n, head_result_t *hr, lq_http_resp_t *r)
{
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    size_t i;
    assert_non_null(cuts);
    for (i = 0; i < n; i++)
        cuts[i] = i + 1;
    head_feed(s, n, cuts, n, hr, r);
    free(cuts);
}

static void head_equal(const head_result_t *a, const head_result_t *b)
{
    size_t i;
    assert_int_equal(a->err, b->err);
    if (a->err != LQ_OK)
        return;
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->minor, b->minor);
    assert_int_equal(a->reason_off, b->reason_off);
    assert_int_equal(a->reason_len, b->reason_len);
    assert_int_equal(a->n_headers, b->n_headers);
    for (i = 0; i < a->n_headers; i++) {
        assert_int_equal(a->name_off[i], b->name_off[i]);
        assert_int_equal(a->name_len[i], b->name_len[i]);
        assert_int_equal(a->val_off[i], b->val_off[i]);
        assert_int_equal(a->val_len[i], b->val_len[i]);
    }
    assert_int_equal(a->head_len, b->head_len);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->has_cl, b->has_cl);
    assert_true(a->cl == b->cl);
    assert_int_equal(a->has_ct, b->has_ct);
    assert_int_equal(a->ct_off, b->ct_off);
    assert_int_equal(a->ct_len, b->ct_len);
}

/* All at once, one byte at a time, and every two-piece split agree. Returns the
 * at-once result. With want_again_until_end, the byte-wise feed must say LQ_AGAIN on
 * every prefix shorter than the at-once stopping point. */
static void head_all_modes(const char *s, size_t n, head_result_t *once)
{
    lq_http_resp_t r;
    head_result_t other;
    size_t k;

    head_at_once(s, n, once, &r);
    head_bytewise(s, n, &other, &r);
    head_equal(once, &other);
    for (k = 1; k < n; k++) {
        size_t cuts[2] = { k, n };
        head_feed(s, n, cuts, 2, &other, &r);
        head_equal(once, &other);
    }
}

/* ------------------------------------------------------------------------------------ */
/* request writer                                                                       */
/* ------------------------------------------------------------------------------------ */

static void expect_request(const lq_http_req_t *req, const char *want, size_t want_len)
{
    char buf[1024];
    size_t n = 12345;
    assert_int_equal(lq_http_write_request(buf, sizeof buf, req, &n), LQ_OK);
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, want_len);
}

static void test_req_get_watch(void **state)
{
    static const char want[] =
        "GET /api/v1/pods?watch=1&resourceVersion=123&allowWatchBookmarks=true HTTP/1.1\r\n"
        "Host: kube.example.org:6443\r\n"
        "User-Agent: liqolet/0.1.0\r\n"
        "Accept: application/json\r\n"
        "Authorization: Bearer eyJhbGciOi.payload.sig\r\n"
        "\r\n";
    lq_http_req_t req = { 0 };
    (void)state;
    req.method = "GET";
    req.target = "/api/v1/pods?watch=1&resourceVersion=123&allowWatchBookmarks=true";
    req.host = "kube.example.org";
    req.port = 6443;
    req.bearer = "eyJhbGciOi.payload.sig";
    req.accept = "application/json";
    req.ua_version = "0.1.0";
    expect_request(&req, want, sizeof want - 1);
}

static void test_req_post_body_copied(void **state)
{
    static const char want[] =
        "POST /api/v1/namespaces/default/pods HTTP/1.1\r\n"
        "Host: 10.0.0.1:443\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 15\r\n"
        "Connection: close\r\n"
        "X-Request-Id: 42\r\n"
        "Accept-Encoding: identity\r\n"
        "\r\n"
        "{\"kind\":\"Pod\"}\n";
    lq_http_field_t extra[2] = { { "X-Request-Id", "42" },
                                 { "Accept-Encoding", "identity" } };
    lq_http_req_t req = { 0 };
    (void)state;
    req.method = "POST";
    req.target = "/api/v1/namespaces/default/pods";
    req.host = "10.0.0.1";
    req.port = 443;
    req.content_type = "application/json";
    req.has_body = true;
    req.body = "{\"kind\":\"Pod\"}\n";
    req.body_len = 15;
    req.close = true;
    req.extra = extra;
    req.n_extra = 2;
    expect_request(&req, want, sizeof want - 1);
}

static void test_req_head_only_and_empty_body(void **state)
{
    static const char want1[] =
        "PATCH /apis/apps/v1/namespaces/a/deployments/b"
        "?fieldManager=reflection.liqo.io&force=true HTTP/1.1\r\n"
        "Host: api\r\n"
        "Content-Type: application/apply-patch+yaml\r\n"
        "Content-Length: 123456\r\n"
        "\r\n";
    static const char want2[] = "POST /x HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n";
    lq_http_req_t req = { 0 };
    (void)state;
    req.method = "PATCH";
    req.target = "/apis/apps/v1/namespaces/a/deployments/b"
                 "?fieldManager=reflection.liqo.io&force=true";
    req.host = "api";
    req.content_type = "application/apply-patch+yaml";
    req.has_body = true;
    req.body_len = 123456; /* the caller sends it */
    expect_request(&req, want1, sizeof want1 - 1);

    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.target = "/x";
    req.host = "api";
    req.has_body = true;
    req.body = "";
    expect_request(&req, want2, sizeof want2 - 1);
}

/* A streamed body: Transfer-Encoding: chunked where Content-Length would be, and never
 * both framings at once. */
static void test_req_chunked_head(void **state)
{
    static const char want[] =
        "PATCH /api/v1/namespaces/a/configmaps/b HTTP/1.1\r\n"
        "Host: api:6443\r\n"
        "Content-Type: application/merge-patch+json\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n"
        "\r\n";
    char buf[256];
    size_t n = 7;
    lq_http_req_t req = { 0 };
    (void)state;
    req.method = "PATCH";
    req.target = "/api/v1/namespaces/a/configmaps/b";
    req.host = "api";
    req.port = 6443;
    req.content_type = "application/merge-patch+json";
    req.chunked = true;
    req.close = true;
    expect_request(&req, want, sizeof want - 1);
    req.has_body = true; /* both framings: a smuggling shape, refused */
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
    assert_int_equal(n, 0);
    req.body = "{}";
    req.body_len = 2;
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
    req.has_body = false;
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
}

static void test_req_hosts(void **state)
{
    static const struct {
        const char *host;
        uint16_t port;
        const char *want_host_line;
    } cases[] = {
        { "::1", 6443, "Host: [::1]:6443\r\n" },
        { "[::1]", 0, "Host: [::1]\r\n" },
        { "[2001:db8::7]", 443, "Host: [2001:db8::7]:443\r\n" },
        { "fe80::1%eth0", 6443, "Host: [fe80::1]:6443\r\n" },
        { "[fe80::1%25eth0]", 1, "Host: [fe80::1]:1\r\n" },
        { "127.0.0.1", 65535, "Host: 127.0.0.1:65535\r\n" },
        { "kubernetes.default.svc", 0, "Host: kubernetes.default.svc\r\n" },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        int w = snprintf(want, sizeof want, "GET / HTTP/1.1\r\n%s\r\n", cases[i].want_host_line);
        lq_http_req_t req = { 0 };
        req.method = "GET";
        req.target = "/";
        req.host = cases[i].host;
        req.port = cases[i].port;
        expect_request(&req, want, (size_t)w);
    }
}

static void test_req_overflow(void **state)
{
    lq_http_field_t extra[1] = { { "X-A", "b" } };
    lq_http_req_t req = { 0 };
    char full[512];
    size_t full_len = 0, cap;
    (void)state;
    req.method = "PUT";
    req.target = "/api/v1/namespaces/x/configmaps/y";
    req.host = "::1";
    req.port = 6443;
    req.bearer = "t";
    req.accept = "application/json";
    req.content_type = "application/json";
    req.ua_version = "1";
    req.has_body = true;
    req.body = "{\"a\":1}";
    req.body_len = 7;
    req.close = true;
    req.extra = extra;
    req.n_extra = 1;
    assert_int_equal(lq_http_write_request(full, sizeof full, &req, &full_len), LQ_OK);
    assert_true(full_len > 100);
    for (cap = 0; cap <= full_len; cap++) {
        char *buf = malloc(cap > 0 ? cap : 1); /* exact size: ASan sees any overrun */
        size_t n = 999;
        lq_err_t err;
        assert_non_null(buf);
        err = lq_http_write_request(buf, cap, &req, &n);
        if (cap < full_len) {
            assert_int_equal(err, LQ_ETOOBIG);
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(err, LQ_OK);
            assert_int_equal(n, full_len);
            assert_memory_equal(buf, full, full_len);
        }
        free(buf);
    }
}

enum req_field {
    F_METHOD, F_TARGET, F_HOST, F_BEARER, F_ACCEPT, F_CTYPE, F_UA, F_XNAME, F_XVALUE
};

static void test_req_injection(void **state)
{
    static const struct {
        enum req_field f;
        const char *v;
    } cases[] = {
        { F_METHOD, "GET /evil" }, { F_METHOD, "GE\rT" },   { F_METHOD, "" },
        { F_METHOD, "G(T" },       { F_TARGET, "/a\r\nX-Evil: 1" },
        { F_TARGET, "/a b" },      { F_TARGET, "/a\nb" },    { F_TARGET, "" },
        { F_TARGET, "api/v1" },    { F_TARGET, "/a\tb" },    { F_TARGET, "/\x7f" },
        { F_TARGET, "/caf\xc3\xa9" },
        { F_HOST, "" },            { F_HOST, "a\r\nb" },     { F_HOST, "a b" },
        { F_HOST, "user@host" },   { F_HOST, "host/x" },     { F_HOST, "[::1" },
        { F_HOST, "[]" },          { F_HOST, "::g" },        { F_HOST, "fe80::1%e\r\nX" },
        { F_HOST, "%eth0" },       { F_HOST, "a:b:zz" },
        { F_BEARER, "tok\r\nX-Evil: 1" }, { F_BEARER, "tok\n" }, { F_BEARER, "" },
        { F_BEARER, "a\x01" },     { F_ACCEPT, "a\rb" },    { F_CTYPE, "application/json\n" },
        { F_UA, "" },              { F_UA, "1\r\n" },        { F_XNAME, "" },
        { F_XNAME, "X Y" },        { F_XNAME, "X:" },        { F_XNAME, "X\r\n" },
        { F_XVALUE, "v\r\nInjected: 1" }, { F_XVALUE, "v\n" }, { F_XVALUE, "\x7f" },
        { F_XVALUE, NULL },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        size_t n = 77;
        lq_http_field_t extra[1] = { { "X-Ok", "fine\tvalue" } };
        lq_http_req_t req = { 0 };
        req.method = "GET";
        req.target = "/ok";
        req.host = "ok";
        req.extra = extra;
        req.n_extra = 1;
        /* the untouched request is fine */
        assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_OK);
        switch (cases[i].f) {
        case F_METHOD: req.method = cases[i].v; break;
        case F_TARGET: req.target = cases[i].v; break;
        case F_HOST: req.host = cases[i].v; break;
        case F_BEARER: req.bearer = cases[i].v; break;
        case F_ACCEPT: req.accept = cases[i].v; break;
        case F_CTYPE: req.content_type = cases[i].v; break;
        case F_UA: req.ua_version = cases[i].v; break;
        case F_XNAME: extra[0].name = cases[i].v; break;
        case F_XVALUE: extra[0].value = cases[i].v; break;
        }
        if (lq_http_write_request(buf, sizeof buf, &req, &n) != LQ_EINVAL || n != 0)
            fail_msg("case %zu was not refused", i);
    }
}

static void test_req_bad_args(void **state)
{
    char buf[64];
    size_t n = 5;
    lq_http_req_t req = { 0 };
    (void)state;
    req.method = "GET";
    req.target = "/";
    req.host = "h";
    assert_int_equal(lq_http_write_request(NULL, 64, &req, &n), LQ_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(lq_http_write_request(buf, sizeof buf, NULL, &n), LQ_EINVAL);
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, NULL), LQ_EINVAL);
    req.body = "x"; /* body without has_body */
    req.body_len = 1;
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
    req.body = NULL;
    req.n_extra = 1; /* count without array */
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
    req.host = NULL;
    req.n_extra = 0;
    assert_int_equal(lq_http_write_request(buf, sizeof buf, &req, &n), LQ_EINVAL);
}

static void test_escape_query(void **state)
{
    static const struct {
        const char *in;
        size_t in_len;
        const char *want;
    } cases[] = {
        { "virtualkubelet.liqo.io/origin=abc-123", 37,
          "virtualkubelet.liqo.io%2Forigin%3Dabc-123" },
        { "spec.nodeName=liqo-foreign,status.phase!=Failed", 47,
          "spec.nodeName%3Dliqo-foreign%2Cstatus.phase%21%3DFailed" },
        { "a b+c&d?e#f%g", 13, "a%20b%2Bc%26d%3Fe%23f%25g" },
        { "AZaz09-._~", 10, "AZaz09-._~" },
        { "\x00\xff\r\n", 4, "%00%FF%0D%0A" },
        { "", 0, "" },
    };
    size_t i, cap;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t want_len = strlen(cases[i].want);
        for (cap = 0; cap <= want_len + 1; cap++) {
            char *buf = malloc(cap > 0 ? cap : 1);
            size_t n = 99;
            lq_err_t err;
            assert_non_null(buf);
            err = lq_http_escape_query(buf, cap, cases[i].in, cases[i].in_len, &n);
            if (cap <= want_len) {
                assert_int_equal(err, LQ_ETOOBIG);
                assert_int_equal(n, 0);
            } else {
                assert_int_equal(err, LQ_OK);
                assert_int_equal(n, want_len);
                assert_string_equal(buf, cases[i].want);
            }
            free(buf);
        }
    }
    {
        char buf[8];
        size_t n;
        assert_int_equal(lq_http_escape_query(buf, sizeof buf, NULL, 0, &n), LQ_OK);
        assert_int_equal(n, 0);
        assert_int_equal(lq_http_escape_query(buf, sizeof buf, NULL, 1, &n), LQ_EINVAL);
        assert_int_equal(lq_http_escape_query(NULL, 8, "a", 1, &n), LQ_EINVAL);
        assert_int_equal(lq_http_escape_query(buf, sizeof buf, "a", 1, NULL), LQ_EINVAL);
    }
}

/* ------------------------------------------------------------------------------------ */
/* response heads                                                                       */
/* ------------------------------------------------------------------------------------ */

#define K8S_COMMON                                                                        \
    "Audit-Id: 5b0d3c1e-8a8e-4c44-9a3e-1f0e2d3c4b5a\r\n"                                  \
    "Cache-Control: no-cache, private\r\n"                                                \
    "Content-Type: application/json\r\n"                                                  \
    "X-Kubernetes-Pf-Flowschema-Uid: 8d7c6b5a-4e3f-2a1b-0c9d-8e7f6a5b4c3d\r\n"            \
    "X-Kubernetes-Pf-Prioritylevel-Uid: 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d\r\n"         \
    "Date: Mon, 23 Nov 2026 13:00:00 GMT\r\n"

typedef struct head_case {
    const char *name;
    const char *head;   /* printf format with one %zu for the body length, or none */
    const char *body;   /* appended after the head; its length fills the %zu */
    int status;
    const char *reason;
    size_t n_headers;
    bool chunked, has_cl, keep_alive;
    const char *content_type; /* NULL: none */
    const char *hname, *hvalue; /* one extra lookup */
} head_case_t;

static const head_case_t k8s_heads[] = {
    { "200 watch", "HTTP/1.1 200 OK\r\n" K8S_COMMON "Transfer-Encoding: chunked\r\n\r\n",
      "1a\r\n{\"type\":\"ADDED\",\"object\":{}}\r\n", 200, "OK", 7, true, false, true,
      "application/json", "x-kubernetes-pf-flowschema-uid",
      "8d7c6b5a-4e3f-2a1b-0c9d-8e7f6a5b4c3d" },
    { "201 created",
      "HTTP/1.1 201 Created\r\n" K8S_COMMON "Content-Length: %zu\r\n\r\n",
      "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"nginx\","
      "\"namespace\":\"default\",\"uid\":\"0f6a\",\"resourceVersion\":\"4242\"}}",
      201, "Created", 7, false, true, true, "application/json", "AUDIT-ID",
      "5b0d3c1e-8a8e-4c44-9a3e-1f0e2d3c4b5a" },
    { "404 status",
      "HTTP/1.1 404 Not Found\r\n" K8S_COMMON "Content-Length: %zu\r\n\r\n",
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"pods \\\"nginx\\\" not found\",\"reason\":\"NotFound\","
      "\"details\":{\"name\":\"nginx\",\"kind\":\"pods\"},\"code\":404}\n",
      404, "Not Found", 7, false, true, true, "application/json", "cache-control",
      "no-cache, private" },
    { "410 gone",
      "HTTP/1.1 410 Gone\r\n" K8S_COMMON "Content-Length: %zu\r\n\r\n",
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"The provided continue parameter is too old to display a consistent "
      "list result.\",\"reason\":\"Expired\",\"code\":410}\n",
      410, "Gone", 7, false, true, true, "application/json", "Date",
      "Mon, 23 Nov 2026 13:00:00 GMT" },
    { "429 retry",
      "HTTP/1.1 429 Too Many Requests\r\n" K8S_COMMON "Retry-After: 1\r\n"
      "Content-Length: %zu\r\n\r\n",
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"Too many requests, please try again later.\","
      "\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":1},\"code\":429}\n",
      429, "Too Many Requests", 8, false, true, true, "application/json", "retry-after",
      "1" },
    { "401 unauthorized",
      "HTTP/1.1 401 Unauthorized\r\n"
      "Audit-Id: 0c1d\r\nCache-Control: no-cache, private\r\n"
      "Content-Type: application/json\r\nDate: Mon, 23 Nov 2026 13:00:00 GMT\r\n"
      "Content-Length: %zu\r\n\r\n",
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n",
      401, "Unauthorized", 5, false, true, true, "application/json", "content-length",
      NULL },
    { "204 no reason", "HTTP/1.1 204\r\nAudit-Id: x\r\n\r\n", "", 204, "", 1, false, false,
      true, NULL, "audit-id", "x" },
    { "1.0 close", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", "hello until close", 200, "OK",
      1, false, false, false, NULL, "server", "old" },
    { "1.0 keep-alive",
      "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: %zu\r\n\r\n", "hi",
      200, "OK", 2, false, true, true, NULL, "connection", "Keep-Alive" },
    { "1.1 close list",
      "HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, Close\r\n"
      "Content-Length: %zu\r\n\r\n", "x", 503, "Service Unavailable", 2, false, true,
      false, NULL, "connection", "keep-alive, Close" },
    { "1.2 as 1.1 + ows + empty value",
      "HTTP/1.2 200 OK\r\nX-Empty:\r\nX-Ws: \t v a l \t \r\n"
      "Transfer-Encoding: ,Chunked ,\r\n\r\n",
      "0\r\n\r\n", 200, "OK", 3, true, false, true, NULL, "x-ws", "v a l" },
    { "duplicate equal CL + obs-text",
      "HTTP/1.1 200 \xc3\x96K\r\nContent-Length: %zu\r\nX-U: caf\xc3\xa9\r\n"
      "content-length: 3\r\n\r\n", "abc", 200, "\xc3\x96K", 3, false, true, true, NULL,
      "X-u", "caf\xc3\xa9" },
};

/* The head with its "%zu" (if any) replaced by the body length, then the body. */
static size_t build_response(const head_case_t *c, char *out, size_t cap)
{
    const char *mark = strstr(c->head, "%zu");
    size_t hlen = strlen(c->head), blen = strlen(c->body), n;
    assert_true(hlen + blen + 20 < cap);
    if (mark == NULL) {
        memcpy(out, c->head, hlen);
        n = hlen;
    } else {
        size_t pre = (size_t)(mark - c->head);
        memcpy(out, c->head, pre);
        n = pre + (size_t)snprintf(out + pre, cap - pre, "%zu", blen);
        memcpy(out + n, mark + 3, hlen - pre - 3);
        n += hlen - pre - 3;
    }
    memcpy(out + n, c->body, blen);
    return n + blen;
}

static void check_head_case(const head_case_t *c, const char *buf, size_t len)
{
    lq_http_resp_t r;
    head_result_t hr;
    size_t head_len = len - strlen(c->body), i;
    lq_http_view_t v;

    /* the head alone, every feed mode */
    head_all_modes(buf, head_len, &hr);
    assert_int_equal(hr.err, LQ_OK);
    assert_int_equal(hr.head_len, head_len);
    assert_int_equal(hr.at, head_len);
    /* with the body behind it: same result, body untouched */
    head_all_modes(buf, len, &hr);
    assert_int_equal(hr.err, LQ_OK);
    assert_int_equal(hr.head_len, head_len);

    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, buf, len), LQ_OK);
    assert_int_equal(r.status, c->status);
    assert_true(view_is(r.reason, c->reason));
    assert_int_equal(r.n_headers, c->n_headers);
    assert_int_equal(r.chunked, c->chunked);
    assert_int_equal(r.has_content_length, c->has_cl);
    if (c->has_cl) {
        assert_true(r.content_length == (uint64_t)strlen(c->body));
    }
    assert_int_equal(r.keep_alive, c->keep_alive);
    if (c->content_type == NULL) {
        assert_null(r.content_type.ptr);
    } else {
        assert_true(view_is(r.content_type, c->content_type));
        assert_true(view_is(lq_http_header(&r, "content-type"), c->content_type));
        assert_true(view_is(lq_http_header(&r, "CONTENT-TYPE"), c->content_type));
    }
    v = lq_http_header(&r, c->hname);
    if (c->hvalue != NULL) {
        assert_true(view_is(v, c->hvalue));
    } else {
        assert_non_null(v.ptr);
    }
    assert_null(lq_http_header(&r, "x-not-there").ptr);
    assert_null(lq_http_header(&r, "content-typ").ptr);
    assert_null(lq_http_header(&r, "content-type-x").ptr);
    /* every name is a token, every value trimmed */
    for (i = 0; i < r.n_headers; i++) {
        assert_true(r.headers[i].name.len > 0);
        if (r.headers[i].value.len > 0) {
            assert_true(r.headers[i].value.ptr[0] != ' ');
            assert_true(r.headers[i].value.ptr[r.headers[i].value.len - 1] != ' ');
        }
    }
    /* a completed parse is final */
    assert_int_equal(lq_http_resp_parse(&r, buf, len), LQ_OK);
}

static void test_head_k8s(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof k8s_heads / sizeof k8s_heads[0]; i++) {
        char buf[2048];
        size_t len = build_response(&k8s_heads[i], buf, sizeof buf);
        check_head_case(&k8s_heads[i], buf, len);
    }
}

static void test_head_retry_after(void **state)
{
    static const struct {
        const char *head;
        lq_err_t err;
        uint32_t secs;
    } cases[] = {
        { "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n\r\n", LQ_OK, 7 },
        { "HTTP/1.1 429 x\r\nretry-after:  120 \r\n\r\n", LQ_OK, 120 },
        { "HTTP/1.1 429 x\r\nRetry-After: 99999999999\r\n\r\n", LQ_OK, UINT32_MAX },
        { "HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n",
          LQ_EPROTO, 0 },
        { "HTTP/1.1 503 x\r\nRetry-After:\r\n\r\n", LQ_EPROTO, 0 },
        { "HTTP/1.1 503 x\r\nRetry-After: -1\r\n\r\n", LQ_EPROTO, 0 },
        { "HTTP/1.1 429 x\r\n\r\n", LQ_ENOTFOUND, 0 },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_http_resp_t r;
        uint32_t secs = 12345;
        lq_http_resp_init(&r);
        assert_int_equal(lq_http_resp_parse(&r, cases[i].head, strlen(cases[i].head)), LQ_OK);
        assert_int_equal(lq_http_retry_after(&r, &secs), cases[i].err);
        if (cases[i].err == LQ_OK)
            assert_int_equal(secs, cases[i].secs);
    }
    assert_int_equal(lq_http_retry_after(NULL, NULL), LQ_EINVAL);
}

typedef struct bad_head {
    const char *s;
    size_t len; /* 0: strlen */
    lq_err_t err;
} bad_head_t;

static const bad_head_t bad_heads[] = {
    { "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 0, LQ_EPROTO },         /* bare LF */
    { "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\n\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\n\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\rX: y\r\n\r\n", 0, LQ_EPROTO },                    /* bare CR */
    { "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", 0, LQ_EPROTO },        /* obs-fold */
    { "HTTP/1.1 200 OK\r\nX: a\r\n\tfolded\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 0, LQ_EPROTO },                  /* SP before : */
    { "HTTP/1.1 200 OK\r\n: a\r\n\r\n", 0, LQ_EPROTO },                    /* empty name */
    { "HTTP/1.1 200 OK\r\nX-(bad): a\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", 0, LQ_EPROTO },              /* CTL */
    { "HTTP/1.1 200 OK\r\nX: a\x7fz\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nX: a\0z\r\n\r\n", 27, LQ_EPROTO },               /* NUL */
    { "HTTP/1.1 200 O\x01K\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/2.0 200 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.x 200 OK\r\n\r\n", 0, LQ_EPROTO },
    { "http/1.1 200 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 20 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 2000 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 099 Low\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1  200 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200\tOK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 2x0 OK\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1\r\n\r\n", 0, LQ_EPROTO },
    { "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, LQ_EPROTO },
    { "SSH-2.0-OpenSSH_9.2\r\n", 0, LQ_EPROTO },
    { "\x15\x03\x03\x00\x02\x02\x28", 7, LQ_EPROTO },                     /* TLS alert */
    { "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0,
      LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
      LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", 0, LQ_EPROTO },
    { "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, LQ_EPROTO },
};

static void test_head_failures(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        const bad_head_t *c = &bad_heads[i];
        size_t len = c->len != 0 ? c->len : strlen(c->s);
        head_result_t hr;
        lq_http_resp_t r;
        head_all_modes(c->s, len, &hr);
        if (hr.err != c->err)
            fail_msg("bad head %zu: got %s want %s", i, lq_err_name(hr.err),
                     lq_err_name(c->err));
        /* errors are sticky */
        head_at_once(c->s, len, &hr, &r);
        assert_int_equal(lq_http_resp_parse(&r, c->s, len), c->err);
    }
}

/* A peer that is not speaking HTTP is refused without waiting for a whole head. */
static void test_head_early_reject(void **state)
{
    lq_http_resp_t r;
    (void)state;
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP/1.", 7), LQ_AGAIN);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP/1.1 200 OK", 15), LQ_AGAIN);
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP/2", 6), LQ_EPROTO);
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "<", 1), LQ_EPROTO);
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP/1.1 200 OK\r\nX: 1\n", 22), LQ_EPROTO);
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "", 0), LQ_AGAIN);
    assert_int_equal(lq_http_resp_parse(&r, NULL, 0), LQ_AGAIN);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP", 4), LQ_AGAIN);
    assert_int_equal(lq_http_resp_parse(&r, "HTT", 3), LQ_EINVAL); /* shrank */
    assert_int_equal(lq_http_resp_parse(&r, NULL, 3), LQ_EINVAL);
    assert_int_equal(lq_http_resp_parse(NULL, "H", 1), LQ_EINVAL);
}

static size_t build_padded_head(char *buf, size_t total)
{
    static const char pre[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
    static const char post[] = "\r\n\r\n";
    size_t pad = total - (sizeof pre - 1) - (sizeof post - 1);
    memcpy(buf, pre, sizeof pre - 1);
    memset(buf + sizeof pre - 1, 'p', pad);
    memcpy(buf + sizeof pre - 1 + pad, post, sizeof post - 1);
    return total;
}

static void test_head_limits(void **state)
{
    static char buf[LQ_HTTP_MAX_HEAD + 64];
    char many[LQ_HTTP_MAX_HEADERS * 16 + 64];
    head_result_t hr;
    lq_http_resp_t r;
    size_t n, i;
    (void)state;

    n = build_padded_head(buf, LQ_HTTP_MAX_HEAD);
    head_at_once(buf, n, &hr, &r);
    assert_int_equal(hr.err, LQ_OK);
    assert_int_equal(hr.head_len, LQ_HTTP_MAX_HEAD);
    head_bytewise(buf, n, &hr, &r);
    assert_int_equal(hr.err, LQ_OK);

    n = build_padded_head(buf, LQ_HTTP_MAX_HEAD + 1);
    head_at_once(buf, n, &hr, &r);
    assert_int_equal(hr.err, LQ_ETOOBIG);
    head_bytewise(buf, n, &hr, &r);
    assert_int_equal(hr.err, LQ_ETOOBIG);
    assert_int_equal(hr.at, LQ_HTTP_MAX_HEAD + 1); /* refused as soon as it is too big */

    /* exactly LQ_HTTP_MAX_HEADERS fields, then one more */
    for (i = 0; i < 2; i++) {
        size_t k, fields = LQ_HTTP_MAX_HEADERS + i;
        n = (size_t)snprintf(many, sizeof many, "HTTP/1.1 200 OK\r\n");
        for (k = 0; k < fields; k++)
            n += (size_t)snprintf(many + n, sizeof many - n, "X-%zu: v\r\n", k);
        n += (size_t)snprintf(many + n, sizeof many - n, "\r\n");
        head_all_modes(many, n, &hr);
        assert_int_equal(hr.err, i == 0 ? LQ_OK : LQ_ETOOBIG);
        if (i == 0)
            assert_int_equal(hr.n_headers, LQ_HTTP_MAX_HEADERS);
    }
}

/* Scanning is incremental: a caller that appends one byte at a time only pays for the
 * new byte. We cannot time it, but we can see that the parser stops looking at bytes
 * it already checked: a byte changed behind the scan position is not noticed. */
static void test_head_incremental_scan(void **state)
{
    char buf[64] = "HTTP/1.1 200 OK\r\nA: b";
    lq_http_resp_t r;
    (void)state;
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, buf, strlen(buf)), LQ_AGAIN);
    assert_int_equal(r.scan_, strlen(buf));
    buf[3] = 'X'; /* already checked, so not re-read by the scanner */
    strcat(buf, "\r\n");
    assert_int_equal(lq_http_resp_parse(&r, buf, strlen(buf)), LQ_AGAIN);
    buf[3] = 'P';
    strcat(buf, "\r\n");
    assert_int_equal(lq_http_resp_parse(&r, buf, strlen(buf)), LQ_OK);
    assert_int_equal(r.head_len, strlen(buf));
    assert_true(view_is(lq_http_header(&r, "a"), "b"));
}

/* ------------------------------------------------------------------------------------ */
/* bodies                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct body_result {
    lq_err_t err;
    char *out;
    size_t out_len;
    size_t consumed; /* raw bytes consumed in total */
} body_result_t;

static void body_result_free(body_result_t *br)
{
    free(br->out);
    br->out = NULL;
}

/* Decode raw[0..n) fed in pieces ending at cuts[]; each piece is a fresh exact-size
 * copy. Stops at the first result other than LQ_AGAIN. */
static void body_feed(lq_http_body_t *b, const char *raw, size_t n, const size_t *cuts,
                      size_t ncuts, body_result_t *br)
{
    size_t c, start = 0;
    br->err = LQ_AGAIN;
    br->out = malloc(n > 0 ? n : 1);
    br->out_len = 0;
    br->consumed = 0;
    assert_non_null(br->out);
    for (c = 0; c < ncuts; c++) {
        size_t len = cuts[c] - start, used = 777, got = 777;
        char *piece = dup_bytes(raw + start, len);
        uint64_t before = b->payload_total;
        br->err = lq_http_body_decode(b, piece, len, &used, &got);
        assert_true(got <= used && used <= len);
        assert_true(b->payload_total == before + got);
        if (br->err == LQ_AGAIN)
            assert_int_equal(used, len);
        memcpy(br->out + br->out_len, piece, got);
        br->out_len += got;
        br->consumed += used;
        if (br->err != LQ_AGAIN) {
            /* bytes after the body are left exactly as they were */
            if (br->err == LQ_OK)
                assert_memory_equal(piece + used, raw + start + used, len - used);
            free(piece);
            return;
        }
        free(piece);
        start = cuts[c];
    }
}

static void body_equal(const body_result_t *a, const body_result_t *b)
{
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->out_len, b->out_len);
    assert_memory_equal(a->out, b->out, a->out_len);
    assert_int_equal(a->consumed, b->consumed);
}

static void chunked_body(lq_http_body_t *b)
{
    lq_http_resp_t r;
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, head, sizeof head - 1), LQ_OK);
    lq_http_body_init(b, &r, false);
    assert_int_equal(b->framing, LQ_HTTP_FRAMING_CHUNKED);
    assert_true(b->keep_alive);
    assert_false(b->done);
}

/* At once, byte-wise, every split point and (for short inputs) every pair of split
 * points give the same result; returns the at-once result (caller frees). */
static void chunked_all_modes(const char *raw, size_t n, body_result_t *once)
{
    lq_http_body_t b;
    body_result_t other;
    size_t i, j, *cuts;

    chunked_body(&b);
    body_feed(&b, raw, n, &n, 1, once);

    cuts = malloc((n + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (i = 0; i < n; i++)
        cuts[i] = i + 1;
    chunked_body(&b);
    body_feed(&b, raw, n, cuts, n, &other);
    body_equal(once, &other);
    body_result_free(&other);
    free(cuts);

    for (i = 0; i <= n; i++) {
        size_t two[2] = { i, n };
        chunked_body(&b);
        body_feed(&b, raw, n, two, 2, &other);
        body_equal(once, &other);
        body_result_free(&other);
        if (n > 80)
            continue;
        for (j = i; j <= n; j++) {
            size_t three[3] = { i, j, n };
            chunked_body(&b);
            body_feed(&b, raw, n, three, 3, &other);
            body_equal(once, &other);
            body_result_free(&other);
        }
    }
}

typedef struct chunk_case {
    const char *raw;
    size_t raw_len;   /* 0: strlen */
    lq_err_t err;
    const char *payload; /* decoded (before the error, for failures) */
    size_t consumed;  /* for LQ_OK: where the body ends; else ignored */
} chunk_case_t;

static const chunk_case_t good_chunks[] = {
    { "5\r\nhello\r\n0\r\n\r\n", 0, LQ_OK, "hello", 15 },
    { "0\r\n\r\n", 0, LQ_OK, "", 5 },
    { "3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n", 0, LQ_OK, "abcdefgh", 28 },
    { "00A\r\n0123456789\r\n0000\r\n\r\n", 0, LQ_OK, "0123456789", 25 },
    { "a\r\nABCDEFGHIJ\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", 0, LQ_OK,
      "ABCDEFGHIJabcdefghijk", 36 },
    { "5;name=value\r\nhello\r\n0;last=\"q\"\r\n\r\n", 0, LQ_OK, "hello", 35 },
    { "5 ;x\r\nhello\r\n0\t\r\n\r\n", 0, LQ_OK, "hello", 19 },
    { "5\r\nhello\r\n0\r\nX-Trailer: yes\r\nChecksum: abc\r\n\r\n", 0, LQ_OK, "hello",
      46 },
    { "5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", 0, LQ_OK, "hello", 15 },
    { "2\r\n\r\n\r\n0\r\n\r\n0\r\n\r\n", 0, LQ_OK, "\r\n", 12 },
    /* unfinished bodies: everything consumed, payload streamed */
    { "1d\r\n{\"type\":\"ADDED\",\"object\":{}}\n\r\n1f\r\n{\"type\":\"BOOKMARK\",", 0,
      LQ_AGAIN, "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"BOOKMARK\",", 0 },
    { "5\r\nhel", 0, LQ_AGAIN, "hel", 0 },
    { "5\r\nhello\r", 0, LQ_AGAIN, "hello", 0 },
    { "5\r\nhello\r\n0\r\nX: y\r\n", 0, LQ_AGAIN, "hello", 0 },
    { "100000001\r\nabcdef", 0, LQ_AGAIN, "abcdef", 0 }, /* 2^32+1: not cut on 32-bit */
    { "3fffffffffffffff\r\nxyz", 0, LQ_AGAIN, "xyz", 0 }, /* the largest size */
};

static const chunk_case_t bad_chunks[] = {
    { "g\r\n", 0, LQ_EPROTO, "", 0 },
    { "\r\n", 0, LQ_EPROTO, "", 0 },
    { "-1\r\n", 0, LQ_EPROTO, "", 0 },
    { "+1\r\n", 0, LQ_EPROTO, "", 0 },
    { "0x5\r\nhello\r\n", 0, LQ_EPROTO, "", 0 },
    { " 5\r\nhello\r\n", 0, LQ_EPROTO, "", 0 },
    { ";5\r\n", 0, LQ_EPROTO, "", 0 },
    { "5\nhello\r\n", 0, LQ_EPROTO, "", 0 },             /* bare LF after size */
    { "5\r\rhello\r\n", 0, LQ_EPROTO, "", 0 },           /* bare CR */
    { "5;a\nb\r\n", 0, LQ_EPROTO, "", 0 },
    { "5;a\0b\r\nhello", 12, LQ_EPROTO, "", 0 },         /* NUL in an extension */
    { "5;a\x7f\r\n", 0, LQ_EPROTO, "", 0 },
    { "5\r\nhelloX\r\n0\r\n\r\n", 0, LQ_EPROTO, "hello", 0 }, /* missing CRLF */
    { "5\r\nhello\n0\r\n\r\n", 0, LQ_EPROTO, "hello", 0 },    /* bare LF after data */
    { "5\r\nhello\r\r\n", 0, LQ_EPROTO, "hello", 0 },
    { "5\r\nhello\r\n\r\n", 0, LQ_EPROTO, "hello", 0 },       /* empty size line */
    { "3\r\nabc\r\n5\r\nhello world\r\n", 0, LQ_EPROTO, "abchello", 0 },
    { "4000000000000000\r\n", 0, LQ_EPROTO, "", 0 },          /* 2^62 */
    { "10000000000000000\r\n", 0, LQ_EPROTO, "", 0 },         /* 2^64 */
    { "ffffffffffffffffffff\r\n", 0, LQ_EPROTO, "", 0 },
    { "0\r\n\r\r", 0, LQ_EPROTO, "", 0 },
    { "0\r\n\n", 0, LQ_EPROTO, "", 0 },
    { "0\r\nX: y\n\r\n", 0, LQ_EPROTO, "", 0 },               /* bare LF in trailer */
    { "0\r\nX: y\r\n folded\r\n\r\n", 0, LQ_EPROTO, "", 0 },  /* obs-fold */
    { "0\r\n X: y\r\n\r\n", 0, LQ_EPROTO, "", 0 },
    { "0\r\nX: \x01\r\n\r\n", 0, LQ_EPROTO, "", 0 },
    { "0\r\nX: y\r\r\n", 0, LQ_EPROTO, "", 0 },
};

static void check_chunk_cases(const chunk_case_t *cases, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        const chunk_case_t *c = &cases[i];
        size_t n = c->raw_len != 0 ? c->raw_len : strlen(c->raw);
        body_result_t br;
        chunked_all_modes(c->raw, n, &br);
        if (br.err != c->err)
            fail_msg("chunk case %zu: got %s want %s", i, lq_err_name(br.err),
                     lq_err_name(c->err));
        assert_int_equal(br.out_len, strlen(c->payload));
        assert_memory_equal(br.out, c->payload, br.out_len);
        if (c->err == LQ_OK)
            assert_int_equal(br.consumed, c->consumed);
        if (c->err == LQ_AGAIN)
            assert_int_equal(br.consumed, n);
        body_result_free(&br);
    }
}

static void test_chunked_good(void **state)
{
    (void)state;
    check_chunk_cases(good_chunks, sizeof good_chunks / sizeof good_chunks[0]);
}

static void test_chunked_bad(void **state)
{
    (void)state;
    check_chunk_cases(bad_chunks, sizeof bad_chunks / sizeof bad_chunks[0]);
}

/* chunk-size line and trailer limits, at the boundary */
static void test_chunked_limits(void **state)
{
    static char raw[LQ_HTTP_MAX_HEAD + 256];
    lq_http_body_t b;
    body_result_t br;
    size_t n, i;
    (void)state;

    for (i = 0; i < 2; i++) {
        /* "5;aaaa..." with the line exactly at the limit, then one over */
        size_t line = LQ_HTTP_MAX_CHUNK_LINE + i;
        raw[0] = '5';
        raw[1] = ';';
        memset(raw + 2, 'a', line - 2);
        memcpy(raw + line, "\r\nhello\r\n0\r\n\r\n", 14);
        n = line + 14;
        chunked_all_modes(raw, n, &br);
        assert_int_equal(br.err, i == 0 ? LQ_OK : LQ_ETOOBIG);
        body_result_free(&br);
    }
    for (i = 0; i < 2; i++) {
        /* leading zeros count toward the line too */
        size_t line = LQ_HTTP_MAX_CHUNK_LINE + i;
        memset(raw, '0', line - 1);
        raw[line - 1] = '3';
        memcpy(raw + line, "\r\nabc\r\n0\r\n\r\n", 12);
        n = line + 12;
        chunked_body(&b);
        body_feed(&b, raw, n, &n, 1, &br);
        assert_int_equal(br.err, i == 0 ? LQ_OK : LQ_ETOOBIG);
        body_result_free(&br);
    }
    for (i = 0; i < 2; i++) {
        /* trailer section of exactly LQ_HTTP_MAX_HEAD bytes (CRLFs not counted) */
        size_t t = LQ_HTTP_MAX_HEAD + i;
        memcpy(raw, "0\r\nX: ", 6);
        memset(raw + 6, 'v', t - 3);
        memcpy(raw + 3 + t, "\r\n\r\n", 4);
        n = t + 7;
        chunked_body(&b);
        body_feed(&b, raw, n, &n, 1, &br);
        assert_int_equal(br.err, i == 0 ? LQ_OK : LQ_ETOOBIG);
        body_result_free(&br);
    }
}

/* A day of watch traffic in miniature: the body decoder and a single receive buffer
 * used the way the connection layer will use it (payload kept at the front while the
 * event framer has not taken it, raw bytes appended behind, leftover moved down). */
static void test_chunked_watch_stream_rx(void **state)
{
    static const char *events[] = {
        "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}}\n",
        "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
        "\"resourceVersion\":\"10\"}}}\n",
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
        "{\"resourceVersion\":\"11\"}}}\n",
        "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}}\n",
    };
    char wire[4096], expect[4096], rx[256], got[4096];
    size_t wire_len = 0, expect_len = 0, got_len = 0, off = 0, pay = 0, raw = 0, i;
    size_t step;
    lq_http_body_t b;
    lq_err_t err = LQ_AGAIN;
    (void)state;

    /* one event per chunk, except the second which is split over two chunks, and a
     * second response pipelined behind the terminating chunk */
    for (i = 0; i < 4; i++) {
        size_t len = strlen(events[i]);
        if (i == 1) {
            wire_len += (size_t)snprintf(wire + wire_len, sizeof wire - wire_len,
                                         "%zx\r\n%.*s\r\n%zX\r\n%s\r\n", (size_t)7, 7,
                                         events[i], len - 7, events[i] + 7);
        } else {
            wire_len += (size_t)snprintf(wire + wire_len, sizeof wire - wire_len,
                                         "%zx\r\n%s\r\n", len, events[i]);
        }
        memcpy(expect + expect_len, events[i], len);
        expect_len += len;
    }
    wire_len += (size_t)snprintf(wire + wire_len, sizeof wire - wire_len,
                                 "0\r\n\r\nHTTP/1.1 200 OK\r\n");

    for (step = 1; step <= 23; step += 2) {
        chunked_body(&b);
        off = pay = raw = got_len = 0;
        err = LQ_AGAIN;
        while (err == LQ_AGAIN) {
            size_t used, dec, take = wire_len - off;
            if (take > step)
                take = step;
            if (take > sizeof rx - pay - raw)
                take = sizeof rx - pay - raw;
            assert_true(take > 0);
            memcpy(rx + pay + raw, wire + off, take); /* "recv" */
            off += take;
            raw += take;
            err = lq_http_body_decode(&b, rx + pay, raw, &used, &dec);
            assert_true(err == LQ_AGAIN || err == LQ_OK);
            /* leftover raw bytes go behind the new payload */
            memmove(rx + pay + dec, rx + pay + used, raw - used);
            raw -= used;
            pay += dec;
            /* the "event framer" takes whole lines only, like watch.c will */
            for (;;) {
                char *nl = memchr(rx, '\n', pay);
                size_t line;
                if (nl == NULL)
                    break;
                line = (size_t)(nl - rx) + 1;
                memcpy(got + got_len, rx, line);
                got_len += line;
                memmove(rx, rx + line, pay - line + raw);
                pay -= line;
            }
        }
        assert_int_equal(err, LQ_OK);
        assert_true(b.done);
        assert_true(b.keep_alive);
        assert_int_equal(pay, 0);
        assert_int_equal(got_len, expect_len);
        assert_memory_equal(got, expect, expect_len);
        /* what is left is the start of the next response */
        assert_true(raw + (wire_len - off) == 17);
        assert_memory_equal(rx, "HTTP/1.1 200 OK\r\n", raw);
    }
}

/* Payload is handed out as soon as it arrives, mid-chunk. */
static void test_chunked_streams_mid_chunk(void **state)
{
    char buf[32];
    size_t used, dec;
    lq_http_body_t b;
    (void)state;
    chunked_body(&b);
    memcpy(buf, "400\r\n{\"typ", 10); /* a 1 KiB chunk, 5 bytes of it so far */
    assert_int_equal(lq_http_body_decode(&b, buf, 10, &used, &dec), LQ_AGAIN);
    assert_int_equal(used, 10);
    assert_int_equal(dec, 5);
    assert_memory_equal(buf, "{\"typ", 5);
    memcpy(buf, "pe\":", 4);
    assert_int_equal(lq_http_body_decode(&b, buf, 4, &used, &dec), LQ_AGAIN);
    assert_int_equal(dec, 4);
    assert_true(b.payload_total == 9);
}

static void test_chunked_overhead_guard(void **state)
{
    size_t chunks = 20000, i, n = 0, used, dec;
    char *raw = malloc(chunks * 110 + 8);
    lq_http_body_t b;
    lq_err_t err;
    (void)state;
    assert_non_null(raw);

    /* millions of 1-byte chunks in miniature: refused */
    for (i = 0; i < chunks; i++) {
        memcpy(raw + n, "1\r\nx\r\n", 6);
        n += 6;
    }
    chunked_body(&b);
    err = lq_http_body_decode(&b, raw, n, &used, &dec);
    assert_int_equal(err, LQ_EPROTO);
    assert_true(used < n);
    assert_true(dec > 1000);
    /* sticky */
    assert_int_equal(lq_http_body_decode(&b, raw, 6, &used, &dec), LQ_EPROTO);
    assert_int_equal(dec, 0);
    assert_int_equal(lq_http_body_eof(&b), LQ_EPROTO);

    /* the same number of 100-byte chunks is fine, fed one chunk at a time */
    chunked_body(&b);
    for (i = 0; i < chunks; i++) {
        char c[110];
        memcpy(c, "64\r\n", 4);
        memset(c + 4, 'y', 100);
        memcpy(c + 104, "\r\n", 2);
        assert_int_equal(lq_http_body_decode(&b, c, 106, &used, &dec), LQ_AGAIN);
        assert_int_equal(dec, 100);
    }
    assert_true(b.payload_total == (uint64_t)chunks * 100u);
    free(raw);
}

static void test_body_length(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
                               "hello worldHTTP/1.1 204 No Content\r\n\r\n";
    lq_http_resp_t r;
    lq_http_body_t b;
    body_result_t once, other;
    size_t head, rest, i, *cuts;
    (void)state;

    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, resp, sizeof resp - 1), LQ_OK);
    head = r.head_len;
    rest = sizeof resp - 1 - head;
    lq_http_body_init(&b, &r, false);
    assert_int_equal(b.framing, LQ_HTTP_FRAMING_LENGTH);
    body_feed(&b, resp + head, rest, &rest, 1, &once);
    assert_int_equal(once.err, LQ_OK);
    assert_int_equal(once.consumed, 11);
    assert_int_equal(once.out_len, 11);
    assert_memory_equal(once.out, "hello world", 11);
    assert_true(b.done && b.keep_alive);

    cuts = malloc(rest * sizeof *cuts);
    assert_non_null(cuts);
    for (i = 0; i < rest; i++)
        cuts[i] = i + 1;
    lq_http_body_init(&b, &r, false);
    body_feed(&b, resp + head, rest, cuts, rest, &other);
    body_equal(&once, &other);
    body_result_free(&other);
    for (i = 0; i <= rest; i++) {
        size_t two[2] = { i, rest };
        lq_http_body_init(&b, &r, false);
        body_feed(&b, resp + head, rest, two, 2, &other);
        body_equal(&once, &other);
        body_result_free(&other);
    }
    free(cuts);
    body_result_free(&once);

    /* the pipelined response parses from the leftover */
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, resp + head + 11, rest - 11), LQ_OK);
    assert_int_equal(r.status, 204);

    /* truncated */
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, resp, head), LQ_OK);
    lq_http_body_init(&b, &r, false);
    {
        char part[5];
        size_t used, dec;
        memcpy(part, "hello", 5);
        assert_int_equal(lq_http_body_decode(&b, part, 5, &used, &dec), LQ_AGAIN);
        assert_int_equal(lq_http_body_eof(&b), LQ_ECLOSED);
        assert_int_equal(lq_http_body_decode(&b, part, 5, &used, &dec), LQ_ECLOSED);
        assert_int_equal(used, 0);
    }
}

static void test_body_framing_choice(void **state)
{
    static const struct {
        const char *head;
        bool head_request;
        lq_http_framing_t framing;
        bool done, keep_alive;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, LQ_HTTP_FRAMING_LENGTH,
          true, true },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, LQ_HTTP_FRAMING_NONE, true,
          true },
        { "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false,
          LQ_HTTP_FRAMING_NONE, true, true },
        { "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false,
          LQ_HTTP_FRAMING_NONE, true, true },
        { "HTTP/1.1 100 Continue\r\n\r\n", false, LQ_HTTP_FRAMING_NONE, true, true },
        { "HTTP/1.1 200 OK\r\n\r\n", false, LQ_HTTP_FRAMING_CLOSE, false, false },
        { "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false, LQ_HTTP_FRAMING_CLOSE,
          false, false },
        { "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", false,
          LQ_HTTP_FRAMING_LENGTH, false, false },
        { "HTTP/1.1 500 x\r\nTransfer-Encoding: chunked\r\n\r\n", false,
          LQ_HTTP_FRAMING_CHUNKED, false, true },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_http_resp_t r;
        lq_http_body_t b;
        size_t used = 5, dec = 5;
        lq_http_resp_init(&r);
        assert_int_equal(lq_http_resp_parse(&r, cases[i].head, strlen(cases[i].head)), LQ_OK);
        lq_http_body_init(&b, &r, cases[i].head_request);
        assert_int_equal(b.framing, cases[i].framing);
        assert_int_equal(b.done, cases[i].done);
        assert_int_equal(b.keep_alive, cases[i].keep_alive);
        if (cases[i].done) {
            char x[4];
            memcpy(x, "next", 4);
            assert_int_equal(lq_http_body_decode(&b, x, 4, &used, &dec), LQ_OK);
            assert_int_equal(used, 0);
            assert_int_equal(dec, 0);
            assert_int_equal(lq_http_body_eof(&b), LQ_OK);
        }
    }
}

static void test_body_until_close(void **state)
{
    lq_http_resp_t r;
    lq_http_body_t b;
    char data[] = "any\r\nbytes\n";
    size_t used, dec;
    (void)state;
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, "HTTP/1.0 200 OK\r\n\r\n", 19), LQ_OK);
    lq_http_body_init(&b, &r, false);
    assert_int_equal(lq_http_body_decode(&b, data, sizeof data - 1, &used, &dec), LQ_AGAIN);
    assert_int_equal(used, sizeof data - 1);
    assert_int_equal(dec, sizeof data - 1);
    assert_int_equal(lq_http_body_eof(&b), LQ_OK);
    assert_true(b.done);
    assert_false(b.keep_alive);
    assert_int_equal(lq_http_body_decode(&b, data, 3, &used, &dec), LQ_OK);
    assert_int_equal(used, 0);

    /* a chunked body cut short */
    chunked_body(&b);
    assert_int_equal(lq_http_body_decode(&b, data, 0, &used, &dec), LQ_AGAIN);
    assert_int_equal(lq_http_body_eof(&b), LQ_ECLOSED);
    assert_int_equal(lq_http_body_eof(&b), LQ_ECLOSED);

    /* argument checks */
    assert_int_equal(lq_http_body_decode(NULL, data, 1, &used, &dec), LQ_EINVAL);
    assert_int_equal(lq_http_body_decode(&b, NULL, 1, &used, &dec), LQ_EINVAL);
    assert_int_equal(lq_http_body_decode(&b, data, 1, NULL, &dec), LQ_EINVAL);
    assert_int_equal(lq_http_body_decode(&b, data, 1, &used, NULL), LQ_EINVAL);
    assert_int_equal(lq_http_body_eof(NULL), LQ_EINVAL);
}

/* A whole keep-alive exchange: head, chunked body, next head from the leftover. */
static void test_keep_alive_pipeline(void **state)
{
    static const char wire[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "7\r\n{\"a\":1}\r\n0\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    char buf[sizeof wire];
    size_t len = sizeof wire - 1, used, dec;
    lq_http_resp_t r;
    lq_http_body_t b;
    (void)state;

    memcpy(buf, wire, len);
    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, buf, len), LQ_OK);
    lq_http_body_init(&b, &r, false);
    assert_int_equal(lq_http_body_decode(&b, buf + r.head_len, len - r.head_len, &used, &dec),
                     LQ_OK);
    assert_int_equal(dec, 7);
    assert_memory_equal(buf + r.head_len, "{\"a\":1}", 7);
    assert_true(b.done && b.keep_alive);
    memmove(buf, buf + r.head_len + used, len - r.head_len - used);
    len -= r.head_len + used;

    lq_http_resp_init(&r);
    assert_int_equal(lq_http_resp_parse(&r, buf, len), LQ_OK);
    assert_int_equal(r.status, 201);
    lq_http_body_init(&b, &r, false);
    assert_int_equal(lq_http_body_decode(&b, buf + r.head_len, len - r.head_len, &used, &dec),
                     LQ_OK);
    assert_int_equal(dec, 2);
    assert_int_equal(used, len - r.head_len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_get_watch),
        cmocka_unit_test(test_req_post_body_copied),
        cmocka_unit_test(test_req_head_only_and_empty_body),
        cmocka_unit_test(test_req_chunked_head),
        cmocka_unit_test(test_req_hosts),
        cmocka_unit_test(test_req_overflow),
        cmocka_unit_test(test_req_injection),
        cmocka_unit_test(test_req_bad_args),
        cmocka_unit_test(test_escape_query),
        cmocka_unit_test(test_head_k8s),
        cmocka_unit_test(test_head_retry_after),
        cmocka_unit_test(test_head_failures),
        cmocka_unit_test(test_head_early_reject),
        cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_head_incremental_scan),
        cmocka_unit_test(test_chunked_good),
        cmocka_unit_test(test_chunked_bad),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_chunked_watch_stream_rx),
        cmocka_unit_test(test_chunked_streams_mid_chunk),
        cmocka_unit_test(test_chunked_overhead_guard),
        cmocka_unit_test(test_body_length),
        cmocka_unit_test(test_body_framing_choice),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_keep_alive_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
