/* Unit tests for src/kube/scan.c: prefix scan of events and objects, unescaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/scan.h"

#define S(lit) lit, sizeof(lit) - 1u

/* Decoys everywhere: names in containers and env, "type" in conditions and annotations,
 * a whole metadata block in spec.template, JSON inside an annotation string. */
static const char pod_event[] =
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\","
    "\"metadata\":{\"name\":\"web\",\"generateName\":\"w-\",\"namespace\":\"shop\",\"uid\":\"u-1\","
    "\"resourceVersion\":\"77\",\"labels\":{\"app\":\"web\",\"name\":\"decoy\"},"
    "\"annotations\":{\"x\":\"{\\\"metadata\\\":{\\\"name\\\":\\\"evil\\\"}}\",\"type\":\"ERROR\"}},"
    "\"spec\":{\"template\":{\"metadata\":{\"name\":\"tmpl\",\"namespace\":\"other\",\"labels\":{\"app\":\"web\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"env\":[{\"name\":\"name\",\"value\":\"x\"}]}]}}},"
    "\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}}\n";

/* Same identity, keys in the worst order: spec and status before metadata, type last. */
static const char reordered_event[] =
    "{\"object\":{\"spec\":{\"template\":{\"metadata\":{\"name\":\"tmpl\",\"namespace\":\"other\","
    "\"uid\":\"no\"}}},\"status\":{\"conditions\":[{\"type\":\"Progressing\"}]},\"metadata\":{"
    "\"labels\":null,\"uid\":\"u-2\",\"resourceVersion\":\"78\",\"name\":\"web2\",\"namespace\":\"shop\"},"
    "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"},\"type\":\"ADDED\"}";

static void assert_view(const lq_scan_str_t *s, const char *want, const char *in, size_t n)
{
    assert_true(s->found);
    assert_true(s->p >= in && s->p + s->len <= in + n);
    if (!lq_scan_str_eq(s, want, strlen(want)))
        fail_msg("view '%.*s' != '%s'", (int)s->len, s->p, want);
}

static void test_event_decoys(void **state)
{
    lq_scan_meta_t m;
    (void)state;

    assert_int_equal(lq_scan_event(S(pod_event), &m), LQ_OK);
    assert_view(&m.type, "MODIFIED", pod_event, sizeof pod_event);
    assert_view(&m.kind, "Deployment", pod_event, sizeof pod_event);
    assert_view(&m.api_version, "apps/v1", pod_event, sizeof pod_event);
    assert_view(&m.ns, "shop", pod_event, sizeof pod_event);
    assert_view(&m.name, "web", pod_event, sizeof pod_event);
    assert_view(&m.uid, "u-1", pod_event, sizeof pod_event);
    assert_view(&m.rv, "77", pod_event, sizeof pod_event);
    assert_true(m.has_labels);
    assert_int_equal(m.labels_len, strlen("{\"app\":\"web\",\"name\":\"decoy\"}"));
    assert_memory_equal(m.labels_json, "{\"app\":\"web\",\"name\":\"decoy\"}", m.labels_len);
    assert_true(m.has_object);
    assert_false(m.truncated);
    assert_false(m.name.escaped);

    assert_int_equal(lq_scan_event(S(reordered_event), &m), LQ_OK);
    assert_view(&m.type, "ADDED", reordered_event, sizeof reordered_event);
    assert_view(&m.kind, "Deployment", reordered_event, sizeof reordered_event);
    assert_view(&m.ns, "shop", reordered_event, sizeof reordered_event);
    assert_view(&m.name, "web2", reordered_event, sizeof reordered_event);
    assert_view(&m.uid, "u-2", reordered_event, sizeof reordered_event);
    assert_view(&m.rv, "78", reordered_event, sizeof reordered_event);
    assert_false(m.has_labels); /* "labels": null */
    assert_false(m.truncated);

    /* The same object scanned bare finds no type. */
    const char *obj = strstr(pod_event, "{\"kind\"");
    size_t objlen = strlen(obj) - 2u; /* without the envelope's '}' and newline */
    assert_int_equal(lq_scan_object(obj, objlen, &m), LQ_OK);
    assert_false(m.type.found);
    assert_view(&m.name, "web", obj, objlen);
    assert_false(m.has_object);
}

static void test_bookmark_and_error(void **state)
{
    static const char bm[] = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
                             "{\"resourceVersion\":\"12746\",\"creationTimestamp\":null,\"annotations\":"
                             "{\"k8s.io/initial-events-end\":\"true\"}},\"spec\":{\"containers\":null},\"status\":{}}}";
    static const char er[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                             "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (2)\","
                             "\"reason\":\"Expired\",\"code\":410}}";
    lq_scan_meta_t m;
    lq_scan_str_t ns;
    (void)state;

    assert_int_equal(lq_scan_event(S(bm), &m), LQ_OK);
    assert_view(&m.type, "BOOKMARK", bm, sizeof bm);
    assert_view(&m.rv, "12746", bm, sizeof bm);
    assert_false(m.name.found);
    assert_false(m.ns.found);
    assert_false(m.uid.found);
    assert_int_equal(lq_scan_namespace_fast(S(bm), true, &ns), LQ_ENOTFOUND);
    assert_false(ns.found);

    assert_int_equal(lq_scan_event(S(er), &m), LQ_OK);
    assert_view(&m.type, "ERROR", er, sizeof er);
    assert_view(&m.kind, "Status", er, sizeof er);
    assert_false(m.name.found);
    assert_false(m.rv.found);
    assert_false(m.truncated);
    assert_int_equal(lq_scan_namespace_fast(S(er), true, &ns), LQ_ENOTFOUND);
}

/* Every prefix of an event: what is found is what the full scan found, and a value is
 * found exactly when its closing quote is inside the prefix. */
static void check_prefixes(const char *ev, size_t n)
{
    lq_scan_meta_t full, m;

    assert_int_equal(lq_scan_event(ev, n, &full), LQ_OK);
    const lq_scan_str_t *ff[] = { &full.type, &full.kind, &full.api_version, &full.ns, &full.name, &full.uid, &full.rv };
    const lq_scan_str_t *pf[] = { &m.type, &m.kind, &m.api_version, &m.ns, &m.name, &m.uid, &m.rv };
    size_t meta_end = 0; /* a conservative bound: the last closing quote of a metadata value */
    for (size_t f = 3; f < 7; f++)
        if (ff[f]->found && (size_t)(ff[f]->p - ev) + ff[f]->len > meta_end)
            meta_end = (size_t)(ff[f]->p - ev) + ff[f]->len;

    for (size_t len = 0; len <= n; len++) {
        assert_int_equal(lq_scan_event(ev, len, &m), LQ_OK);
        for (size_t f = 0; f < 7; f++) {
            if (!ff[f]->found) {
                assert_false(pf[f]->found);
                continue;
            }
            size_t close = (size_t)(ff[f]->p - ev) + ff[f]->len; /* index of the closing quote */
            if (len > close) {
                assert_true(pf[f]->found);
                assert_ptr_equal(pf[f]->p, ff[f]->p);
                assert_int_equal(pf[f]->len, ff[f]->len);
            } else {
                assert_false(pf[f]->found);
            }
        }
        if (len <= meta_end)
            assert_true(m.truncated);
        if (m.has_labels && m.labels_json)
            assert_true(m.labels_json + m.labels_len <= ev + len);
    }
    assert_false(m.truncated);
}

static void test_every_prefix(void **state)
{
    (void)state;
    check_prefixes(S(pod_event));
    check_prefixes(S(reordered_event));
}

static void test_escapes(void **state)
{
    static const char ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude80\","
                             "\"namespace\":\"n\\u0073\",\"uid\":\"\\u0022}\\u007b\"}}}";
    lq_scan_meta_t m;
    char out[64];
    (void)state;

    assert_int_equal(lq_scan_event(S(ev), &m), LQ_OK);
    assert_true(m.name.escaped);
    assert_int_equal(lq_scan_copy(&m.name, out, sizeof out), LQ_OK);
    assert_string_equal(out, "a\"b\\c\xc3\xa9\xf0\x9f\x9a\x80");
    assert_true(lq_scan_str_eq(&m.name, S("a\"b\\c\xc3\xa9\xf0\x9f\x9a\x80")));
    assert_false(lq_scan_str_eq(&m.name, S("a\"b\\c\xc3\xa9\xf0\x9f\x9a")));
    assert_false(lq_scan_str_eq(&m.name, S("a\"b\\c\xc3\xa9\xf0\x9f\x9a\x80!")));
    assert_true(lq_scan_str_eq(&m.ns, S("ns")));
    assert_true(lq_scan_str_eq(&m.uid, S("\"}{")));
    assert_false(m.type.escaped);

    /* Exact fit with the NUL, one byte short is refused, never truncated. */
    size_t need = strlen("a\"b\\c\xc3\xa9\xf0\x9f\x9a\x80") + 1u;
    memset(out, 'Z', sizeof out);
    assert_int_equal(lq_scan_copy(&m.name, out, need), LQ_OK);
    assert_int_equal(strlen(out), need - 1u);
    assert_int_equal(lq_scan_copy(&m.name, out, need - 1u), LQ_ETOOBIG);
    assert_int_equal(lq_scan_copy(&m.rv, out, sizeof out), LQ_ENOTFOUND);
    assert_int_equal(lq_scan_copy(&m.name, out, 0), LQ_EINVAL);
    assert_false(lq_scan_str_eq(&m.rv, S("")));
}

static void test_unescape(void **state)
{
    static const struct {
        const char *raw;
        lq_err_t rc;
        const char *out;
        size_t out_len;
    } v[] = {
        { "plain", LQ_OK, "plain", 5 },
        { "", LQ_OK, "", 0 },
        { "\\n\\t\\r\\b\\f\\/\\\\\\\"", LQ_OK, "\n\t\r\b\f/\\\"", 8 },
        { "\\u0041\\u00e9\\u20AC", LQ_OK, "A\xc3\xa9\xe2\x82\xac", 6 },
        { "\\ud83d\\ude80", LQ_OK, "\xf0\x9f\x9a\x80", 4 },
        { "\\uDBFF\\uDFFF", LQ_OK, "\xf4\x8f\xbf\xbf", 4 },
        { "a\\u0000b", LQ_OK, "a\0b", 3 },
        { "\\u003c\\u003e\\u0026", LQ_OK, "<>&", 3 },
        { "\\x", LQ_EPROTO, NULL, 0 },
        { "abc\\", LQ_EPROTO, NULL, 0 },
        { "\\u12", LQ_EPROTO, NULL, 0 },
        { "\\u12g4", LQ_EPROTO, NULL, 0 },
        { "\\ud83d", LQ_EPROTO, NULL, 0 },
        { "\\ud83dx", LQ_EPROTO, NULL, 0 },
        { "\\ud83d\\u0041", LQ_EPROTO, NULL, 0 },
        { "\\ud83d\\n", LQ_EPROTO, NULL, 0 },
        { "\\ude80", LQ_EPROTO, NULL, 0 },
    };
    char out[32];
    char inplace[32];
    size_t n = 0;
    (void)state;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = strlen(v[i].raw);
        assert_int_equal(lq_scan_unescape(v[i].raw, len, out, sizeof out, &n), v[i].rc);
        if (v[i].rc != LQ_OK)
            continue;
        assert_int_equal(n, v[i].out_len);
        assert_memory_equal(out, v[i].out, n);
        /* In place gives the same. */
        memcpy(inplace, v[i].raw, len);
        assert_int_equal(lq_scan_unescape(inplace, len, inplace, len, &n), LQ_OK);
        assert_int_equal(n, v[i].out_len);
        assert_memory_equal(inplace, v[i].out, n);
        /* One byte too small is LQ_ETOOBIG. */
        if (n > 0)
            assert_int_equal(lq_scan_unescape(v[i].raw, len, out, n - 1u, &n), LQ_ETOOBIG);
    }
    assert_int_equal(lq_scan_unescape(NULL, 1, out, sizeof out, &n), LQ_EINVAL);
    assert_int_equal(lq_scan_unescape("a", 1, NULL, 4, &n), LQ_EINVAL);
    assert_int_equal(lq_scan_unescape("a", 1, out, sizeof out, NULL), LQ_EINVAL);
}

static void test_namespace_fast(void **state)
{
    static const char cluster[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Namespace\",\"apiVersion\":\"v1\","
                                  "\"metadata\":{\"name\":\"shop\",\"uid\":\"x\"},\"spec\":{\"template\":"
                                  "{\"metadata\":{\"namespace\":\"decoy\"}}}}}";
    static const char item[] = " {\"metadata\":{\"name\":\"a\",\"namespace\":\"edge\"},\"spec\":{}}";
    lq_scan_str_t ns;
    (void)state;

    assert_int_equal(lq_scan_namespace_fast(S(pod_event), true, &ns), LQ_OK);
    assert_view(&ns, "shop", pod_event, sizeof pod_event);
    assert_int_equal(lq_scan_namespace_fast(S(reordered_event), true, &ns), LQ_OK);
    assert_view(&ns, "shop", reordered_event, sizeof reordered_event);
    /* Cluster-scoped: metadata closes without a namespace; the decoy after it is never
     * looked at. */
    assert_int_equal(lq_scan_namespace_fast(S(cluster), true, &ns), LQ_ENOTFOUND);
    assert_int_equal(lq_scan_namespace_fast(S(item), false, &ns), LQ_OK);
    assert_view(&ns, "edge", item, sizeof item);
    /* An event scanned as a bare object has no metadata at its top. */
    assert_int_equal(lq_scan_namespace_fast(S(pod_event), false, &ns), LQ_ENOTFOUND);

    /* Prefixes: LQ_AGAIN until the namespace's closing quote has arrived. */
    const char *q = strstr(pod_event, "\"namespace\":\"shop\"");
    size_t close = (size_t)(q - pod_event) + strlen("\"namespace\":\"shop");
    for (size_t len = 0; len < sizeof pod_event; len++) {
        lq_err_t rc = lq_scan_namespace_fast(pod_event, len, true, &ns);
        assert_int_equal(rc, len > close ? LQ_OK : LQ_AGAIN);
        assert_int_equal(ns.found, len > close);
    }
    assert_int_equal(lq_scan_namespace_fast(S("[1]"), true, &ns), LQ_EPROTO);
    assert_int_equal(lq_scan_namespace_fast(S("{\"object\" 1}"), true, &ns), LQ_EPROTO);
    assert_int_equal(lq_scan_namespace_fast(NULL, 3, true, &ns), LQ_EINVAL);
    assert_int_equal(lq_scan_namespace_fast(S("{}"), true, NULL), LQ_EINVAL);
}

static void test_labels(void **state)
{
    static const char cut[] = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"k\":\"v\",";
    static const char empty[] = "{\"metadata\":{\"labels\":{}}}";
    lq_scan_meta_t m;
    (void)state;

    assert_int_equal(lq_scan_object(S(cut), &m), LQ_OK);
    assert_true(m.truncated);
    assert_true(m.has_labels);
    assert_null(m.labels_json);
    assert_view(&m.name, "a", cut, sizeof cut);

    assert_int_equal(lq_scan_object(S(empty), &m), LQ_OK);
    assert_true(m.has_labels);
    assert_int_equal(m.labels_len, 2);
    assert_memory_equal(m.labels_json, "{}", 2);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "[", "x", "\"a\"", "{\"type\" 1}", "{\"type\":}", "{\"a\":1,}", "{,", "{\"a\":1 \"b\":2}",
        "{\"type\":\"ADDED\" \"x\"}", "{\"object\":{\"metadata\":{\"name\":]}}}", "{1:2}", "}",
    };
    lq_scan_meta_t m;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lq_scan_event(bad[i], strlen(bad[i]), &m) != LQ_EPROTO)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* Nothing or whitespace only: nothing found, truncated. */
    assert_int_equal(lq_scan_event("", 0, &m), LQ_OK);
    assert_true(m.truncated);
    assert_int_equal(lq_scan_event(NULL, 0, &m), LQ_OK);
    assert_int_equal(lq_scan_event(S(" \n"), &m), LQ_OK);
    assert_true(m.truncated);
    assert_int_equal(lq_scan_event(NULL, 1, &m), LQ_EINVAL);
    assert_int_equal(lq_scan_event(S("{}"), NULL), LQ_EINVAL);
}

static void test_odd_values(void **state)
{
    /* Non-string values where strings are expected are skipped, not taken; the first of
     * duplicate keys wins; a second "object" is ignored. */
    static const char ev[] = "{\"type\":5,\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{\"kind\":null,"
                             "\"metadata\":{\"name\":{\"x\":\"y\"},\"name\":\"first\",\"name\":\"second\","
                             "\"uid\":[\"u\"],\"namespace\":true}},\"object\":{\"metadata\":{\"uid\":\"late\"}}}";
    lq_scan_meta_t m;
    (void)state;

    assert_int_equal(lq_scan_event(S(ev), &m), LQ_OK);
    assert_view(&m.type, "ADDED", ev, sizeof ev);
    assert_view(&m.name, "first", ev, sizeof ev);
    assert_false(m.kind.found);
    assert_false(m.uid.found);
    assert_false(m.ns.found);
    assert_false(m.truncated);
    /* Only the first "metadata" counts, for the full and the fast scan alike. */
    static const char two[] = "{\"object\":{\"metadata\":{\"name\":\"a\"},\"metadata\":{\"namespace\":\"x\"}}}";
    lq_scan_str_t ns;
    assert_int_equal(lq_scan_event(S(two), &m), LQ_OK);
    assert_view(&m.name, "a", two, sizeof two);
    assert_false(m.ns.found);
    assert_int_equal(lq_scan_namespace_fast(S(two), true, &ns), LQ_ENOTFOUND);
    /* "object" that is not an object. */
    assert_int_equal(lq_scan_event(S("{\"object\":\"x\",\"type\":\"ADDED\"}"), &m), LQ_OK);
    assert_false(m.has_object);
    assert_true(m.type.found);
}

/* uid and resourceVersion of a response, without a JSON tree. */
static void test_uid_rv(void **state)
{
    (void)state;
    static const char pod[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
                              "\"uid\":\"6f1c-77\",\"resourceVersion\":\"4711\"},"
                              "\"spec\":{\"containers\":[]}}";
    char uid[40], rv[32];
    assert_int_equal(lq_scan_uid_rv(pod, strlen(pod), uid, sizeof uid, rv, sizeof rv), LQ_OK);
    assert_string_equal(uid, "6f1c-77");
    assert_string_equal(rv, "4711");
    /* one of them only; a value that does not fit is left empty, never cut */
    assert_int_equal(lq_scan_uid_rv(pod, strlen(pod), NULL, 0, rv, 4), LQ_OK);
    assert_string_equal(rv, "");
    static const char none[] = "{\"metadata\":{\"name\":\"b\"}}";
    strcpy(uid, "x");
    assert_int_equal(lq_scan_uid_rv(none, strlen(none), uid, sizeof uid, NULL, 0), LQ_OK);
    assert_string_equal(uid, "");
    strcpy(uid, "x");
    assert_int_equal(lq_scan_uid_rv("[1]", 3, uid, sizeof uid, NULL, 0), LQ_EPROTO);
    assert_string_equal(uid, "");
}

static void test_early_stop(void **state)
{
    /* Once type, kind, apiVersion and metadata are in, the rest is not read: the junk
     * after metadata is not seen. With type last, the scan goes on and sees it. */
    static const char early[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                                "\"metadata\":{\"name\":\"p\"},\"spec\":{]]]";
    static const char late[] = "{\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"}"
                               " \"spec\":{}},\"type\":\"ADDED\"}";
    static const char early2[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                                 "\"metadata\":{\"name\":\"p\"} \"spec\":{}}}";
    lq_scan_meta_t m;
    (void)state;

    assert_int_equal(lq_scan_event(S(early), &m), LQ_OK);
    assert_false(m.truncated);
    assert_view(&m.name, "p", early, sizeof early);
    assert_int_equal(lq_scan_event(S(early2), &m), LQ_OK);
    assert_int_equal(lq_scan_event(S(late), &m), LQ_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_decoys),   cmocka_unit_test(test_bookmark_and_error),
        cmocka_unit_test(test_every_prefix),   cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_unescape),       cmocka_unit_test(test_namespace_fast),
        cmocka_unit_test(test_labels),         cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_odd_values),     cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_uid_rv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
