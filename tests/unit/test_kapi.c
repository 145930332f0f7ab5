/* Unit tests of the Kubernetes REST conventions: paths, queries, status classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/kapi.h"

static void test_paths(void **state)
{
    (void)state;
    char b[128];
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", "shop", "pods", "web-1", "status"), LQ_OK);
    assert_string_equal(b, "/api/v1/namespaces/shop/pods/web-1/status");
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", NULL, "nodes", "liqo-foreign", NULL), LQ_OK);
    assert_string_equal(b, "/api/v1/nodes/liqo-foreign");
    assert_int_equal(lq_kapi_path(b, sizeof b, "discovery.k8s.io/v1", "", "endpointslices", NULL, NULL), LQ_OK);
    assert_string_equal(b, "/apis/discovery.k8s.io/v1/endpointslices");
    assert_int_equal(lq_kapi_path(b, sizeof b, "coordination.k8s.io/v1", "kube-node-lease", "leases", "n", NULL), LQ_OK);
    assert_string_equal(b, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n");
    /* injection and nonsense */
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", "a/b", "pods", NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", NULL, "pods", "x?watch=1", NULL), LQ_EINVAL);
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", NULL, "pods", "..", NULL), LQ_EINVAL);
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", NULL, "pods", NULL, "status"), LQ_EINVAL);
    assert_int_equal(lq_kapi_path(b, sizeof b, "a/b/c", NULL, "pods", NULL, NULL), LQ_EINVAL);
    assert_int_equal(lq_kapi_path(b, sizeof b, "v1", "shop", "pods", "web\n1", NULL), LQ_EINVAL);
    /* exact fit and one byte short */
    const char *want = "/api/v1/pods";
    assert_int_equal(lq_kapi_path(b, strlen(want) + 1, "v1", NULL, "pods", NULL, NULL), LQ_OK);
    assert_int_equal(lq_kapi_path(b, strlen(want), "v1", NULL, "pods", NULL, NULL), LQ_ETOOBIG);
    assert_string_equal(b, "");
}

static void test_queries(void **state)
{
    (void)state;
    char b[160] = "/api/v1/pods";
    assert_int_equal(lq_kapi_query(b, sizeof b, "fieldSelector", "spec.nodeName=liqo-foreign"), LQ_OK);
    assert_int_equal(lq_kapi_query(b, sizeof b, "labelSelector", "virtualkubelet.liqo.io/origin=abc"), LQ_OK);
    assert_string_equal(b, "/api/v1/pods?fieldSelector=spec.nodeName%3Dliqo-foreign"
                           "&labelSelector=virtualkubelet.liqo.io%2Forigin%3Dabc");
    char s[20] = "/api/v1/pods";
    assert_int_equal(lq_kapi_query(s, sizeof s, "watch", "true"), LQ_ETOOBIG);
    assert_string_equal(s, "/api/v1/pods"); /* unchanged */
}

static void test_classify(void **state)
{
    (void)state;
    lq_kapi_action_t a;
    assert_int_equal(lq_kapi_classify(200, NULL, 0, &a), LQ_OK);
    assert_int_equal(a, LQ_KAPI_DONE);
    assert_int_equal(lq_kapi_classify(201, NULL, 0, &a), LQ_OK);
    assert_int_equal(lq_kapi_classify(401, "Unauthorized", 12, &a), LQ_EAUTH);
    assert_int_equal(a, LQ_KAPI_REAUTH);
    assert_int_equal(lq_kapi_classify(403, "Forbidden", 9, &a), LQ_EFORBIDDEN);
    assert_int_equal(a, LQ_KAPI_DONE);
    assert_int_equal(lq_kapi_classify(404, "NotFound", 8, &a), LQ_ENOTFOUND);
    assert_int_equal(lq_kapi_classify(409, "AlreadyExists", 13, &a), LQ_ECONFLICT);
    assert_int_equal(a, LQ_KAPI_ADOPT);
    assert_int_equal(lq_kapi_classify(409, "Conflict", 8, &a), LQ_ECONFLICT);
    assert_int_equal(a, LQ_KAPI_REREAD);
    assert_int_equal(lq_kapi_classify(410, "Expired", 7, &a), LQ_EGONE);
    assert_int_equal(a, LQ_KAPI_RELIST);
    /* a watch ERROR event carries code 410 in a Status with reason Expired */
    assert_int_equal(lq_kapi_classify(0, "Expired", 7, &a), LQ_EGONE);
    assert_int_equal(lq_kapi_classify(429, "TooManyRequests", 15, &a), LQ_EHTTP);
    assert_int_equal(a, LQ_KAPI_RETRY);
    assert_int_equal(lq_kapi_classify(503, NULL, 0, &a), LQ_EHTTP);
    assert_int_equal(a, LQ_KAPI_RETRY);
    assert_int_equal(lq_kapi_classify(422, "Invalid", 7, &a), LQ_EHTTP);
    assert_int_equal(a, LQ_KAPI_DONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests_name("kapi", tests, NULL, NULL);
}
