/* Unit tests of the manifest splitter (src/kube/manifest.c): documents, the fields a REST
 * path needs, plurals, the rendered RBAC of both clusters (every object found, each
 * with a path), and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/manifest.h"
#include "liqolet/perms.h"

static void test_documents(void **state)
{
    (void)state;
    static const char t[] =
        "# header comment\n"
        "---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: Role\n"
        "metadata:\n"
        "  name: \"liqolet-x-lock\"\n"
        "  namespace: liqo   # trailing comment\n"
        "  labels:\n"
        "    name: decoy\n"
        "rules:\n"
        "- apiGroups: [\"\"]\n"
        "  name: decoy-too\n"
        "---   \n"
        "\n"
        "# only a comment\n"
        "---\n"
        "kind: ClusterRole\n"
        "apiVersion: 'rbac.authorization.k8s.io/v1'\n"
        "metadata:\n"
        "  namespace: \"\"\n"
        "  name: cr\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "data:\n"
        "  name: not-metadata\n";
    size_t pos = 0;
    lq_manifest_doc_t d;
    char path[256];
    assert_int_equal(lq_manifest_next(t, strlen(t), &pos, &d), LQ_OK);
    assert_string_equal(d.api_version, "rbac.authorization.k8s.io/v1");
    assert_string_equal(d.kind, "Role");
    assert_string_equal(d.name, "liqolet-x-lock");
    assert_string_equal(d.namespace, "liqo");
    assert_true(d.len > 0 && memcmp(d.text, "apiVersion:", 11) == 0); /* the comment-only prelude is no document */
    assert_non_null(strstr(d.text, "decoy-too"));
    assert_true((size_t)(d.text + d.len - t) == (size_t)(strstr(t, "---   \n") - t));
    assert_int_equal(lq_manifest_path(&d, true, path, sizeof path), LQ_OK);
    assert_string_equal(path, "/apis/rbac.authorization.k8s.io/v1/namespaces/liqo/roles/liqolet-x-lock");
    assert_int_equal(lq_manifest_next(t, strlen(t), &pos, &d), LQ_OK);
    assert_string_equal(d.kind, "ClusterRole");
    assert_string_equal(d.api_version, "rbac.authorization.k8s.io/v1");
    assert_string_equal(d.name, "cr");
    assert_string_equal(d.namespace, "");
    assert_int_equal(lq_manifest_path(&d, true, path, sizeof path), LQ_OK);
    assert_string_equal(path, "/apis/rbac.authorization.k8s.io/v1/clusterroles/cr");
    assert_int_equal(lq_manifest_path(&d, false, path, sizeof path), LQ_OK);
    assert_string_equal(path, "/apis/rbac.authorization.k8s.io/v1/clusterroles");
    /* a document without metadata.name (the decoy under data: does not count) */
    assert_int_equal(lq_manifest_next(t, strlen(t), &pos, &d), LQ_EPROTO);
    assert_int_equal(lq_manifest_next(t, strlen(t), &pos, &d), LQ_ENOTFOUND);
    assert_int_equal(pos, strlen(t));
    /* nothing, only separators and comments */
    pos = 0;
    assert_int_equal(lq_manifest_next("", 0, &pos, &d), LQ_ENOTFOUND);
    pos = 0;
    assert_int_equal(lq_manifest_next("---\n# x\n---\n\n", 13, &pos, &d), LQ_ENOTFOUND);
    /* a value too long for its field */
    char big[400];
    int n = snprintf(big, sizeof big, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %0300d\n", 0);
    pos = 0;
    assert_int_equal(lq_manifest_next(big, (size_t)n, &pos, &d), LQ_ETOOBIG);
    /* a name that is not a path segment */
    static const char inj[] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a/b\n";
    pos = 0;
    assert_int_equal(lq_manifest_next(inj, strlen(inj), &pos, &d), LQ_OK);
    assert_int_equal(lq_manifest_path(&d, true, path, sizeof path), LQ_EINVAL);
    assert_int_equal(lq_manifest_next(NULL, 0, &pos, &d), LQ_EINVAL);
}

static void test_plurals(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "Role", "roles" }, { "ClusterRoleBinding", "clusterrolebindings" },
        { "ValidatingAdmissionPolicy", "validatingadmissionpolicies" },
        { "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings" },
        { "Ingress", "ingresses" }, { "CustomResourceDefinition", "customresourcedefinitions" },
        { "Namespace", "namespaces" }, { "Gateway", "gateways" }, { "EndpointSlice", "endpointslices" },
    };
    char b[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(lq_manifest_plural(cases[i][0], b, sizeof b), LQ_OK);
        assert_string_equal(b, cases[i][1]);
    }
    assert_int_equal(lq_manifest_plural("", b, sizeof b), LQ_EINVAL);
    assert_int_equal(lq_manifest_plural("Bad-Kind", b, sizeof b), LQ_EINVAL);
    assert_int_equal(lq_manifest_plural("Role", b, 6), LQ_ETOOBIG);
    assert_int_equal(lq_manifest_plural("Role", b, 7), LQ_OK);
}

/* Every object of the rendered RBAC and admission policies of both clusters has a kind,
 * name and path; the count equals the documents of the rendering. */
static void test_rendered_rbac(void **state)
{
    (void)state;
    static char buf[128 * 1024];
    lq_perms_params_t p;
    lq_perms_params_init(&p);
    for (int c = 0; c < 4; c++) {
        size_t len = 0, pos = 0, docs = 0, seps = 0;
        lq_perms_cluster_t k = c % 2 == 0 ? LQ_PERMS_HOME : LQ_PERMS_FOREIGN;
        if (c < 2)
            assert_int_equal(lq_perms_render(k, &p, buf, sizeof buf, &len), LQ_OK);
        else
            assert_int_equal(lq_perms_render_policy(k, &p, buf, sizeof buf, &len), LQ_OK);
        for (const char *s = buf; (s = strstr(s, "\n---\n")) != NULL; s++)
            seps++;
        lq_manifest_doc_t d;
        char path[512];
        lq_err_t e;
        while ((e = lq_manifest_next(buf, len, &pos, &d)) == LQ_OK) {
            docs++;
            assert_int_equal(lq_manifest_path(&d, true, path, sizeof path), LQ_OK);
            assert_non_null(strstr(path, d.name));
        }
        assert_int_equal(e, LQ_ENOTFOUND);
        assert_true(docs >= 2);
        assert_int_equal(docs, seps);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_plurals),
        cmocka_unit_test(test_rendered_rbac),
    };
    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
