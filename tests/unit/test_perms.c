/* Unit tests for src/kube/perms.c: the permission table is consistent, and what is generated
 * from it (RBAC YAML, Markdown, SelfSubjectAccessReview attributes) says the same.
 * The committed deploy/rbac/{home,foreign}.yaml are compared with the generator by `make rbac-check`;
 * here the rendered YAML is parsed back with libyaml and checked against the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <yaml.h>

#include "liqolet/perms.h"

static char out[64 * 1024];
static char out2[64 * 1024];

static unsigned popcount(unsigned v)
{
    unsigned n = 0;
    for (; v != 0; v &= v - 1u)
        n++;
    return n;
}

static size_t rows_of(lq_perms_cluster_t cl, size_t *n_scopes)
{
    size_t n, i, rows = 0;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    bool scope_seen[LQ_PERMS_SCOPE_COUNT_] = { false };

    for (i = 0; i < n; i++) {
        if (t[i].cluster != cl)
            continue;
        rows++;
        scope_seen[t[i].scope] = true;
    }
    if (n_scopes != NULL) {
        *n_scopes = 0;
        for (i = 0; i < LQ_PERMS_SCOPE_COUNT_; i++)
            *n_scopes += scope_seen[i];
    }
    return rows;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    const char *p = hay;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += l;
    }
    return n;
}

/* --- the table ------------------------------------------------------------------------ */

static bool plural_ok(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '.'))
            return false;
    return true;
}

/* API group: DNS subdomain characters (e.g. coordination.k8s.io). */
static bool group_ok(const char *s)
{
    if (s[0] == '\0')
        return true; /* core */
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
            return false;
    return true;
}

static void test_table_rows_valid(void **state)
{
    size_t n, i;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    (void)state;

    assert_non_null(t);
    assert_true(n > 20);
    assert_ptr_equal(lq_perms_table(NULL), t);
    for (i = 0; i < n; i++) {
        const lq_perms_rule_t *r = &t[i];
        const char *w;
        assert_non_null(lq_perms_cluster_str(r->cluster));
        assert_true(r->verbs != 0);
        assert_int_equal(r->verbs & ~(unsigned)LQ_PERMS_VERBS_ALL_, 0);
        assert_true((unsigned)r->scope < LQ_PERMS_SCOPE_COUNT_);
        assert_true((unsigned)r->names < LQ_PERMS_NAMES_COUNT_);
        assert_non_null(r->subresource);
        /* the reason goes into a Markdown table cell and a YAML comment */
        assert_non_null(r->why);
        assert_true(strlen(r->why) > 10);
        for (w = r->why; *w != '\0'; w++)
            if (strchr("|<>`\n\r#\"\\", *w) != NULL)
                fail_msg("row %zu: character '%c' in its reason", i, *w);
        if (r->group == NULL) {
            /* non-resource URL: only "get", ClusterRole, no names */
            assert_true(r->resource[0] == '/');
            assert_int_equal(r->verbs, LQ_PERMS_GET);
            assert_int_equal(r->scope, LQ_PERMS_SCOPE_CLUSTER);
            assert_int_equal(r->names, LQ_PERMS_NAMES_ANY);
            assert_string_equal(r->subresource, "");
        } else {
            assert_true(group_ok(r->group));
            assert_true(plural_ok(r->resource));
            assert_true(r->subresource[0] == '\0' || plural_ok(r->subresource));
        }
    }
}

static void test_table_no_duplicates(void **state)
{
    size_t n, i, j;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    (void)state;

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            const lq_perms_rule_t *a = &t[i], *b = &t[j];
            bool same_group = (a->group == NULL && b->group == NULL) ||
                              (a->group != NULL && b->group != NULL &&
                               strcmp(a->group, b->group) == 0);
            if (a->cluster == b->cluster && same_group &&
                strcmp(a->resource, b->resource) == 0 &&
                strcmp(a->subresource, b->subresource) == 0 && a->scope == b->scope &&
                a->names == b->names)
                fail_msg("rows %zu and %zu grant the same thing (%s%s%s); merge them", i, j,
                         a->resource, a->subresource[0] ? "/" : "", a->subresource);
        }
    }
}

static void test_table_resource_names_rules(void **state)
{
    size_t n, i;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    (void)state;

    for (i = 0; i < n; i++) {
        const lq_perms_rule_t *r = &t[i];
        /* The agent never deletes collections. */
        assert_int_equal(r->verbs & LQ_PERMS_DELETECOLLECTION, 0);
        if (r->names == LQ_PERMS_NAMES_ANY)
            continue;
        /* Kubernetes cannot restrict create (nor deletecollection) by name. */
        if (r->verbs & (LQ_PERMS_CREATE | LQ_PERMS_DELETECOLLECTION))
            fail_msg("row %zu: resourceNames with create/deletecollection", i);
        /* list/watch by name only work through metadata.name field selectors: allowed
         * only where the agent does that (its own Node). */
        if ((r->verbs & (LQ_PERMS_LIST | LQ_PERMS_WATCH)) && r->names != LQ_PERMS_NAMES_NODE)
            fail_msg("row %zu: list/watch restricted by name", i);
        /* Node names belong to nodes, lease names to leases in the right namespace. */
        switch (r->names) {
        case LQ_PERMS_NAMES_NODE:
            assert_string_equal(r->resource, "nodes");
            assert_int_equal(r->cluster, LQ_PERMS_HOME);
            break;
        case LQ_PERMS_NAMES_NODE_LEASE:
            assert_string_equal(r->resource, "leases");
            assert_int_equal(r->scope, LQ_PERMS_SCOPE_NODE_LEASE);
            break;
        case LQ_PERMS_NAMES_LOCK:
        case LQ_PERMS_NAMES_LEGACY_LOCK:
            assert_string_equal(r->resource, "leases");
            assert_int_equal(r->scope, LQ_PERMS_SCOPE_AGENT_NS);
            break;
        case LQ_PERMS_NAMES_KUBE_SYSTEM:
            assert_string_equal(r->resource, "namespaces");
            assert_int_equal(r->verbs, LQ_PERMS_GET);
            break;
        default:
            fail();
        }
    }
}

static void test_table_scopes(void **state)
{
    static const char *const cluster_scoped[] = { "nodes", "namespaces",
                                                  "selfsubjectaccessreviews" };
    size_t n, i, k;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    (void)state;

    for (i = 0; i < n; i++) {
        const lq_perms_rule_t *r = &t[i];
        for (k = 0; k < sizeof cluster_scoped / sizeof cluster_scoped[0]; k++)
            if (r->group != NULL && strcmp(r->resource, cluster_scoped[k]) == 0)
                assert_int_equal(r->scope, LQ_PERMS_SCOPE_CLUSTER);
        /* Leases are only ever granted inside their namespace. */
        if (r->group != NULL && strcmp(r->resource, "leases") == 0)
            assert_int_not_equal(r->scope, LQ_PERMS_SCOPE_CLUSTER);
        /* Namespaced Roles exist only at home. */
        if (r->cluster == LQ_PERMS_FOREIGN)
            assert_int_equal(r->scope, LQ_PERMS_SCOPE_CLUSTER);
    }
}

/* What `liqolet check` relies on: both clusters grant SSAR create and the identity. */
static void test_table_has_check_essentials(void **state)
{
    size_t n, i;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    int ssar[LQ_PERMS_CLUSTER_COUNT_] = { 0 }, ident[LQ_PERMS_CLUSTER_COUNT_] = { 0 };
    (void)state;

    for (i = 0; i < n; i++) {
        if (t[i].group != NULL && strcmp(t[i].resource, "selfsubjectaccessreviews") == 0 &&
            t[i].verbs == LQ_PERMS_CREATE)
            ssar[t[i].cluster]++;
        if (t[i].names == LQ_PERMS_NAMES_KUBE_SYSTEM)
            ident[t[i].cluster]++;
    }
    for (i = 0; i < LQ_PERMS_CLUSTER_COUNT_; i++) {
        assert_int_equal(ssar[i], 1);
        assert_int_equal(ident[i], 1);
    }
}

static void test_verb_and_cluster_strings(void **state)
{
    (void)state;
    assert_string_equal(lq_perms_verb_str(LQ_PERMS_GET), "get");
    assert_string_equal(lq_perms_verb_str(LQ_PERMS_WATCH), "watch");
    assert_string_equal(lq_perms_verb_str(LQ_PERMS_DELETECOLLECTION), "deletecollection");
    assert_null(lq_perms_verb_str(0));
    assert_null(lq_perms_verb_str(LQ_PERMS_GET | LQ_PERMS_LIST));
    assert_null(lq_perms_verb_str(1u << LQ_PERMS_VERB_COUNT));
    assert_string_equal(lq_perms_cluster_str(LQ_PERMS_HOME), "home");
    assert_string_equal(lq_perms_cluster_str(LQ_PERMS_FOREIGN), "foreign");
    assert_null(lq_perms_cluster_str(LQ_PERMS_CLUSTER_COUNT_));
}

/* --- the rendered YAML, parsed back ----------------------------------------------------- */

typedef struct yaml_facts {
    size_t docs;
    size_t roles, cluster_roles, bindings, cluster_bindings;
    size_t rules;              /* rule mappings in all roles */
    size_t rules_with_names;
    size_t subjects;           /* in all bindings */
    bool bad;                  /* a rule breaks the resourceNames rules */
} yaml_facts_t;

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    yaml_node_pair_t *p;
    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool seq_has(yaml_document_t *d, yaml_node_t *seq, const char *v)
{
    yaml_node_item_t *it;
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
        return false;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        const char *s = scalar(yaml_document_get_node(d, *it));
        if (s != NULL && strcmp(s, v) == 0)
            return true;
    }
    return false;
}

static size_t seq_len(yaml_node_t *seq)
{
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static void parse_yaml(const char *text, size_t len, yaml_facts_t *f)
{
    yaml_parser_t parser;

    memset(f, 0, sizeof *f);
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t doc;
        yaml_node_t *root, *rules;
        const char *kind;
        yaml_node_item_t *it;

        if (!yaml_parser_load(&parser, &doc))
            fail_msg("YAML error: %s at line %zu", parser.problem ? parser.problem : "?",
                     parser.problem_mark.line + 1);
        root = yaml_document_get_root_node(&doc);
        if (root == NULL) {
            yaml_document_delete(&doc);
            break;
        }
        f->docs++;
        assert_string_equal(scalar(map_get(&doc, root, "apiVersion")),
                            "rbac.authorization.k8s.io/v1");
        kind = scalar(map_get(&doc, root, "kind"));
        assert_non_null(kind);
        assert_non_null(scalar(map_get(&doc, map_get(&doc, root, "metadata"), "name")));
        if (strcmp(kind, "ClusterRole") == 0 || strcmp(kind, "Role") == 0) {
            if (kind[0] == 'C')
                f->cluster_roles++;
            else
                f->roles++;
            rules = map_get(&doc, root, "rules");
            assert_non_null(rules);
            assert_int_equal(rules->type, YAML_SEQUENCE_NODE);
            for (it = rules->data.sequence.items.start; it < rules->data.sequence.items.top;
                 it++) {
                yaml_node_t *r = yaml_document_get_node(&doc, *it);
                yaml_node_t *verbs = map_get(&doc, r, "verbs");
                yaml_node_t *names = map_get(&doc, r, "resourceNames");
                f->rules++;
                assert_true(seq_len(verbs) > 0);
                assert_true(map_get(&doc, r, "apiGroups") != NULL ||
                            map_get(&doc, r, "nonResourceURLs") != NULL);
                if (names != NULL) {
                    f->rules_with_names++;
                    assert_int_equal(seq_len(names), 1);
                    if (seq_has(&doc, verbs, "create") ||
                        seq_has(&doc, verbs, "deletecollection"))
                        f->bad = true;
                }
            }
        } else if (strcmp(kind, "ClusterRoleBinding") == 0 ||
                   strcmp(kind, "RoleBinding") == 0) {
            yaml_node_t *ref = map_get(&doc, root, "roleRef");
            if (kind[0] == 'C')
                f->cluster_bindings++;
            else
                f->bindings++;
            /* the binding refers to the role of the same name and kind */
            assert_string_equal(scalar(map_get(&doc, ref, "name")),
                                scalar(map_get(&doc, map_get(&doc, root, "metadata"), "name")));
            assert_string_equal(scalar(map_get(&doc, ref, "kind")),
                                kind[0] == 'C' ? "ClusterRole" : "Role");
            f->subjects += seq_len(map_get(&doc, root, "subjects"));
        } else {
            fail_msg("unexpected kind %s", kind);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
}

static void check_render(lq_perms_cluster_t cl, const lq_perms_params_t *p)
{
    size_t len = 0, scopes, rows = rows_of(cl, &scopes), n, i, named = 0;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    yaml_facts_t f;

    assert_int_equal(lq_perms_render(cl, p, out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, strlen(out));
    parse_yaml(out, len, &f);
    assert_false(f.bad);
    assert_int_equal(f.docs, 2 * scopes);
    assert_int_equal(f.cluster_roles, 1);
    assert_int_equal(f.cluster_bindings, 1);
    assert_int_equal(f.roles, scopes - 1);
    assert_int_equal(f.bindings, scopes - 1);
    assert_int_equal(f.rules, rows);
    for (i = 0; i < n; i++)
        if (t[i].cluster == cl && t[i].names != LQ_PERMS_NAMES_ANY &&
            (t[i].names != LQ_PERMS_NAMES_LOCK || p->foreign_id != NULL))
            named++; /* the pair's lock is named only when the foreign id is known */
    assert_int_equal(f.rules_with_names, named);
    assert_int_equal(f.subjects, scopes * p->n_subjects); /* one binding per role */
    /* one YAML comment with the reason per rule */
    for (i = 0; i < n; i++)
        if (t[i].cluster == cl)
            assert_non_null(strstr(out, t[i].why));
}

static void test_render_defaults(void **state)
{
    lq_perms_params_t p;
    size_t len;
    (void)state;

    lq_perms_params_init(&p);
    assert_string_equal(p.node_name, "liqo-foreign");
    assert_string_equal(p.namespace, "liqo");
    assert_int_equal(p.n_subjects, 2);

    check_render(LQ_PERMS_HOME, &p);
    assert_non_null(strstr(out, "kind: ClusterRole\n"));
    assert_non_null(strstr(out, "  name: \"liqolet-liqo-foreign-home\"\n"));
    assert_non_null(strstr(out, "  namespace: \"kube-node-lease\"\n"));
    assert_non_null(strstr(out, "  name: \"liqolet-liqo-foreign-lock\"\n  namespace: \"liqo\"\n"));
    /* the pair's lock: the foreign id is not known, so any Lease of the namespace; the
     * per-node lock of earlier versions is only read */
    assert_non_null(strstr(out, "resources: [\"leases\"]\n"
                                "  verbs: [\"get\", \"update\", \"delete\"]\n"));
    assert_non_null(strstr(out, "resourceNames: [\"liqolet-liqo-foreign\"]\n"
                                "  verbs: [\"get\"]\n"));
    assert_non_null(strstr(out, "resources: [\"nodes/status\"]\n"
                                "  resourceNames: [\"liqo-foreign\"]\n"));
    assert_non_null(strstr(out, "resourceNames: [\"kube-system\"]"));
    assert_non_null(strstr(out, "  kind: User\n  name: \"liqolet\"\n"));
    assert_non_null(strstr(out, "- kind: ServiceAccount\n  name: \"liqolet\"\n"
                                "  namespace: \"liqo\"\n"));
    assert_null(strstr(out, "deletecollection"));
    assert_null(strstr(out, "\"*\""));

    check_render(LQ_PERMS_FOREIGN, &p);
    assert_non_null(strstr(out, "  name: \"liqolet-liqo-foreign-foreign\"\n"));
    assert_null(strstr(out, "kind: Role\n"));
    assert_null(strstr(out, "leases"));
    assert_null(strstr(out, "resourceNames: [\"liqo-foreign\"]"));
    assert_non_null(strstr(out, "nonResourceURLs: [\"/livez\"]"));

    /* deterministic */
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_OK);
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out2, sizeof out2, &len), LQ_OK);
    assert_string_equal(out, out2);
}

static void test_render_parameters(void **state)
{
    static const lq_perms_subject_t subj[] = {
        { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, "agent", "edge-system" },
    };
    lq_perms_params_t p;
    size_t len;
    (void)state;

    lq_perms_params_init(&p);
    p.node_name = "liqo-site-7.example";
    p.namespace = "edge-system";
    p.role_name = "edge-peer";
    p.subjects = subj;
    p.n_subjects = 1;
    check_render(LQ_PERMS_HOME, &p);
    assert_non_null(strstr(out, "  name: \"edge-peer-home\"\n"));
    assert_non_null(strstr(out, "  name: \"edge-peer-node-lease\"\n"));
    assert_non_null(strstr(out, "  name: \"edge-peer-lock\"\n  namespace: \"edge-system\"\n"));
    assert_non_null(strstr(out, "resourceNames: [\"liqo-site-7.example\"]"));
    assert_non_null(strstr(out, "resourceNames: [\"liqolet-liqo-site-7.example\"]\n"
                                "  verbs: [\"get\"]\n"));
    /* with the foreign id, the pair's lock is pinned to its name */
    p.foreign_id = "0b7d6f0e-5c1a-4f7e-9d3b-2a1c0e9f8d7c";
    check_render(LQ_PERMS_HOME, &p);
    assert_non_null(strstr(out, "resourceNames: [\"liqolet-0b7d6f0e-5c1a-4f7e-9d3b-2a1c0e9f8d7c\"]\n"
                                "  verbs: [\"get\", \"update\", \"delete\"]\n"));
    assert_non_null(strstr(out, "foreign cluster id \"0b7d6f0e-5c1a-4f7e-9d3b-2a1c0e9f8d7c\""));
    p.foreign_id = "bad\"id";
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.foreign_id = NULL;
    check_render(LQ_PERMS_HOME, &p);
    assert_int_equal(count_str(out, "- kind: ServiceAccount\n  name: \"agent\"\n"
                                    "  namespace: \"edge-system\"\n"), 3);
    assert_null(strstr(out, "liqo-foreign"));
    assert_null(strstr(out, "kind: User"));

    check_render(LQ_PERMS_FOREIGN, &p);
    assert_non_null(strstr(out, "  name: \"edge-peer-foreign\"\n"));
}

static void test_render_rejects_bad_input(void **state)
{
    static const lq_perms_subject_t bad_user[] = { { LQ_PERMS_SUBJECT_USER, "a\"b", NULL } };
    static const lq_perms_subject_t nl_user[] = { { LQ_PERMS_SUBJECT_USER, "a\nkind: x", NULL } };
    static const lq_perms_subject_t empty_user[] = { { LQ_PERMS_SUBJECT_USER, "", NULL } };
    static const lq_perms_subject_t quote_user[] = { { LQ_PERMS_SUBJECT_USER, "a'] || true || ['", NULL } };
    static const lq_perms_subject_t bad_sa[] = {
        { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, "agent", "Bad_NS" } };
    static const lq_perms_subject_t sa_no_ns[] = {
        { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, "agent", NULL } };
    static const lq_perms_subject_t bad_kind[] = {
        { (lq_perms_subject_kind_t)7, "agent", "ns" } };
    static const lq_perms_subject_t ok_user[] = {
        { LQ_PERMS_SUBJECT_USER, "system:serviceaccount:x:y", NULL } };
    static const char *const bad_nodes[] = { "", "Upper", "-lead", "trail-", "a..b", ".a",
                                             "a_b", "a b", "x\ny" };
    char long_label[65];
    lq_perms_params_t p;
    size_t len = 99, i;
    (void)state;

    lq_perms_params_init(&p);
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, NULL, out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(len, 0);
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, NULL, 10, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, 0, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, NULL), LQ_EINVAL);
    assert_int_equal(lq_perms_render(LQ_PERMS_CLUSTER_COUNT_, &p, out, sizeof out, &len),
                     LQ_EINVAL);
    for (i = 0; i < sizeof bad_nodes / sizeof bad_nodes[0]; i++) {
        lq_perms_params_init(&p);
        p.node_name = bad_nodes[i];
        out[0] = 'x';
        assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len),
                         LQ_EINVAL);
        assert_int_equal(out[0], '\0');
        p.node_name = "ok";
        p.role_name = bad_nodes[i];
        assert_int_equal(lq_perms_render(LQ_PERMS_FOREIGN, &p, out, sizeof out, &len),
                         LQ_EINVAL);
    }
    lq_perms_params_init(&p);
    p.node_name = NULL;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);

    /* namespaces are DNS labels: no dots, at most 63 */
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    lq_perms_params_init(&p);
    p.namespace = long_label;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    long_label[63] = '\0';
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_OK);
    p.namespace = "a.b";
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);

    lq_perms_params_init(&p);
    p.n_subjects = 0;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = NULL;
    p.n_subjects = 1;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.n_subjects = 1;
    p.subjects = bad_user;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = nl_user;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = empty_user;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = bad_sa;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = sa_no_ns;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = bad_kind;
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = quote_user; /* a CEL string literal of the admission policies */
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);
    p.subjects = ok_user; /* free-form user names with ':' are fine */
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_OK);
    assert_non_null(strstr(out, "name: \"system:serviceaccount:x:y\""));
}

static void test_render_too_small_never_truncates(void **state)
{
    lq_perms_params_t p;
    size_t len = 0, full, cap;
    lq_perms_cluster_t cl;
    (void)state;

    lq_perms_params_init(&p);
    for (cl = LQ_PERMS_HOME; cl < LQ_PERMS_CLUSTER_COUNT_; cl++) {
        assert_int_equal(lq_perms_render(cl, &p, out2, sizeof out2, &full), LQ_OK);
        for (cap = 1; cap <= full; cap++) {
            memset(out, 'x', cap);
            assert_int_equal(lq_perms_render(cl, &p, out, cap, &len), LQ_ETOOBIG);
            assert_int_equal(len, 0);
            assert_int_equal(out[0], '\0');
        }
        assert_int_equal(lq_perms_render(cl, &p, out, full + 1, &len), LQ_OK);
        assert_int_equal(len, full);
        assert_string_equal(out, out2);
    }
}

static void test_long_names(void **state)
{
    char node[LQ_PERMS_NAME_MAX + 2], lock[LQ_PERMS_NAME_MAX + 1];
    lq_perms_params_t p;
    size_t len = 0, pre = sizeof LQ_PERMS_LOCK_PREFIX - 1u;
    (void)state;

    /* a valid subdomain of exactly 253 characters: 63-char labels joined by dots */
    memset(node, 'a', sizeof node);
    node[63] = node[127] = node[191] = '.';
    node[LQ_PERMS_NAME_MAX] = '\0';
    lq_perms_params_init(&p);
    p.node_name = node;
    /* valid node name, but "liqolet-<node>" would be longer than 253 */
    assert_int_equal(lq_perms_legacy_lock_name(node, lock, sizeof lock, &len), LQ_ETOOBIG);
    assert_int_equal(lock[0], '\0');
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_ETOOBIG);
    node[LQ_PERMS_NAME_MAX + 1] = '\0';
    node[LQ_PERMS_NAME_MAX] = 'a'; /* 254: not a subdomain at all */
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_EINVAL);

    /* the longest node whose lock name fits */
    node[LQ_PERMS_NAME_MAX - pre] = '\0';
    assert_int_equal(lq_perms_legacy_lock_name(node, lock, sizeof lock, &len), LQ_OK);
    assert_int_equal(len, LQ_PERMS_NAME_MAX);
    assert_int_equal(strncmp(lock, "liqolet-", pre), 0);
    assert_string_equal(lock + pre, node);
    assert_int_equal(lq_perms_legacy_lock_name(node, lock, LQ_PERMS_NAME_MAX, &len), LQ_ETOOBIG);
    /* ...but the default role names "liqolet-<node>-node-lease" do not: ETOOBIG */
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_ETOOBIG);
    /* with a short role name it renders */
    p.role_name = "edge";
    assert_int_equal(lq_perms_render(LQ_PERMS_HOME, &p, out, sizeof out, &len), LQ_OK);
    assert_non_null(strstr(out, lock));

    assert_int_equal(lq_perms_legacy_lock_name(NULL, lock, sizeof lock, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_legacy_lock_name("x", NULL, 10, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_legacy_lock_name("x", lock, 0, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_legacy_lock_name("X", lock, sizeof lock, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_legacy_lock_name("liqo-foreign", lock, sizeof lock, NULL), LQ_OK);
    assert_string_equal(lock, "liqolet-liqo-foreign");
}

/* The pair's lock name: a UID as it is; other ids lowered, with a hash that keeps
 * distinct ids apart; never over 253. */
static void test_pair_lock_name(void **state)
{
    char lock[LQ_PERMS_NAME_MAX + 1], lock2[LQ_PERMS_NAME_MAX + 1], id[300];
    size_t len = 0;
    (void)state;

    assert_int_equal(lq_perms_lock_name("0b7d6f0e-5c1a-4f7e-9d3b-2a1c0e9f8d7c", lock, sizeof lock,
                                        &len), LQ_OK);
    assert_string_equal(lock, "liqolet-0b7d6f0e-5c1a-4f7e-9d3b-2a1c0e9f8d7c");
    assert_int_equal(len, strlen(lock));
    /* capitals, dots and underscores: lowered, plus 8 hex digits */
    assert_int_equal(lq_perms_lock_name("Edge_Site.1", lock, sizeof lock, &len), LQ_OK);
    assert_int_equal(len, strlen("liqolet-edge-site-1-") + 8);
    assert_int_equal(strncmp(lock, "liqolet-edge-site-1-", 20), 0);
    assert_int_equal(lq_perms_lock_name("edge-site-1", lock2, sizeof lock2, NULL), LQ_OK);
    assert_string_equal(lock2, "liqolet-edge-site-1");
    assert_string_not_equal(lock, lock2);
    assert_int_equal(lq_perms_lock_name("edge_site.1", lock2, sizeof lock2, NULL), LQ_OK);
    assert_string_not_equal(lock, lock2); /* same characters after lowering: the hash differs */
    assert_int_equal(lq_perms_lock_name("Edge_Site.1", lock2, sizeof lock2, NULL), LQ_OK);
    assert_string_equal(lock, lock2); /* deterministic */
    /* a trailing dash cannot end a name: hashed too */
    assert_int_equal(lq_perms_lock_name("a-", lock, sizeof lock, NULL), LQ_OK);
    assert_int_equal(strlen(lock), strlen("liqolet-a--") + 8);
    /* bounds */
    memset(id, 'a', sizeof id);
    id[LQ_PERMS_NAME_MAX - 8] = '\0';
    assert_int_equal(lq_perms_lock_name(id, lock, sizeof lock, &len), LQ_OK);
    assert_int_equal(len, LQ_PERMS_NAME_MAX);
    id[LQ_PERMS_NAME_MAX - 8] = 'a';
    id[LQ_PERMS_NAME_MAX - 7] = '\0';
    assert_int_equal(lq_perms_lock_name(id, lock, sizeof lock, &len), LQ_ETOOBIG);
    assert_string_equal(lock, "");
    assert_int_equal(lq_perms_lock_name("abc", lock, 5, &len), LQ_ETOOBIG);
    assert_int_equal(lq_perms_lock_name("", lock, sizeof lock, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_lock_name(NULL, lock, sizeof lock, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_lock_name("x", NULL, 10, &len), LQ_EINVAL);
}

/* --- Markdown --------------------------------------------------------------------------- */

static void test_markdown(void **state)
{
    size_t len = 0, n, i, rows = 0;
    const lq_perms_rule_t *t = lq_perms_table(&n);
    const char *line;
    (void)state;

    assert_int_equal(lq_perms_render_markdown(out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, strlen(out));
    assert_int_equal(count_str(out, "\n"), n + 2);
    for (line = strchr(out, '\n') + 1; (line = strchr(line, '\n')) != NULL && line[1];) {
        line++;
        assert_true(strncmp(line, "| home |", 8) == 0 || strncmp(line, "| foreign |", 11) == 0);
        rows++;
    }
    assert_int_equal(rows, n);
    for (i = 0; i < n; i++)
        assert_non_null(strstr(out, t[i].why));
    assert_non_null(strstr(out, "| `<node>` |"));
    assert_non_null(strstr(out, "Role in `kube-node-lease`"));
    assert_int_equal(lq_perms_render_markdown(out, len, &len), LQ_ETOOBIG);
    assert_int_equal(out[0], '\0');
    assert_int_equal(lq_perms_render_markdown(NULL, 10, &len), LQ_EINVAL);
}

/* --- SelfSubjectAccessReview attributes ------------------------------------------------- */

typedef struct collect {
    size_t calls;
    size_t stop_at;            /* return LQ_ECONFLICT on this call (1-based); 0 = never */
    size_t named_node, named_lock, nonresource, in_lease_ns, in_agent_ns;
    const char *node, *ns, *lock_key;
} collect_t;

static lq_err_t collect_fn(const lq_perms_check_t *c, void *ctx)
{
    collect_t *col = ctx;
    col->calls++;
    assert_non_null(c->rule);
    assert_non_null(c->verb);
    assert_non_null(c->namespace);
    assert_non_null(c->name);
    assert_non_null(c->subresource);
    /* the verb is one of the row's */
    {
        unsigned v;
        bool found = false;
        for (v = 0; v < LQ_PERMS_VERB_COUNT; v++)
            if ((c->rule->verbs & (1u << v)) && strcmp(lq_perms_verb_str(1u << v), c->verb) == 0)
                found = true;
        assert_true(found);
    }
    if (c->path != NULL) {
        col->nonresource++;
        assert_null(c->group);
        assert_null(c->resource);
        assert_true(c->path[0] == '/');
    } else {
        assert_non_null(c->group);
        assert_non_null(c->resource);
        if (strcmp(c->verb, "create") == 0)
            assert_string_equal(c->name, "");
    }
    if (strcmp(c->name, col->node) == 0)
        col->named_node++;
    if (strncmp(c->name, "liqolet-", 8) == 0) {
        col->named_lock++;
        /* the pair's lock, or the per-node lock of earlier versions (get only) */
        if (strcmp(c->name + 8, col->node) == 0)
            assert_string_equal(c->verb, "get");
        else
            assert_string_equal(c->name + 8, col->lock_key);
        assert_string_equal(c->namespace, col->ns);
    }
    if (strcmp(c->namespace, "kube-node-lease") == 0)
        col->in_lease_ns++;
    if (strcmp(c->namespace, col->ns) == 0)
        col->in_agent_ns++;
    if (col->stop_at != 0 && col->calls == col->stop_at)
        return LQ_ECONFLICT;
    return LQ_OK;
}

static void test_for_each(void **state)
{
    lq_perms_params_t p;
    collect_t col;
    size_t n, i, want[LQ_PERMS_CLUSTER_COUNT_] = { 0 };
    const lq_perms_rule_t *t = lq_perms_table(&n);
    (void)state;

    for (i = 0; i < n; i++)
        want[t[i].cluster] += popcount(t[i].verbs);

    lq_perms_params_init(&p);
    p.node_name = "vn-1";
    p.namespace = "agents";
    p.subjects = NULL; /* not needed for checks */
    p.n_subjects = 0;

    memset(&col, 0, sizeof col);
    col.node = "vn-1";
    col.lock_key = "vn-1";
    col.ns = "agents";
    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, &p, collect_fn, &col), LQ_OK);
    assert_int_equal(col.calls, want[LQ_PERMS_HOME]);
    /* own node: get list watch patch delete + status patch; node lease: get patch delete */
    assert_int_equal(col.named_node, 5 + 1 + 3);
    /* no foreign id: the pair's lock is checked for any name; the earlier per-node one
     * by its name */
    assert_int_equal(col.named_lock, 1);
    assert_int_equal(col.in_lease_ns, 1 + 3);
    assert_int_equal(col.in_agent_ns, 1 + 3 + 1);
    assert_int_equal(col.nonresource, 3); /* /version, /apis/offloading.liqo.io, /readyz */

    /* with the foreign id: get update delete on liqolet-<id> */
    memset(&col, 0, sizeof col);
    col.node = "vn-1";
    col.lock_key = "fid-1";
    col.ns = "agents";
    p.foreign_id = "fid-1";
    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, &p, collect_fn, &col), LQ_OK);
    assert_int_equal(col.named_lock, 3 + 1);
    p.foreign_id = NULL;

    memset(&col, 0, sizeof col);
    col.node = "vn-1";
    col.lock_key = "vn-1";
    col.ns = "agents";
    assert_int_equal(lq_perms_for_each(LQ_PERMS_FOREIGN, &p, collect_fn, &col), LQ_OK);
    assert_int_equal(col.calls, want[LQ_PERMS_FOREIGN]);
    assert_int_equal(col.named_node + col.named_lock + col.in_lease_ns + col.in_agent_ns, 0);
    assert_int_equal(col.nonresource, 3);

    /* the callback's error stops the walk and is returned */
    memset(&col, 0, sizeof col);
    col.node = "vn-1";
    col.lock_key = "vn-1";
    col.ns = "agents";
    col.stop_at = 5;
    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, &p, collect_fn, &col), LQ_ECONFLICT);
    assert_int_equal(col.calls, 5);

    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, &p, NULL, &col), LQ_EINVAL);
    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, NULL, collect_fn, &col), LQ_EINVAL);
    assert_int_equal(lq_perms_for_each(LQ_PERMS_CLUSTER_COUNT_, &p, collect_fn, &col),
                     LQ_EINVAL);
    p.namespace = "Nope";
    assert_int_equal(lq_perms_for_each(LQ_PERMS_HOME, &p, collect_fn, &col), LQ_EINVAL);
}

/* --- admission policies --------------------------------------------------------------- */

static void check_policy(lq_perms_cluster_t cl, const lq_perms_params_t *p)
{
    size_t len = 0;
    assert_int_equal(lq_perms_render_policy(cl, p, out, sizeof out, &len), LQ_OK);
    assert_int_equal(len, strlen(out));
}

/* Each policy has its binding of the same name, with Deny; the subjects are matched; no
 * double quote or backslash appears inside an expression (they are YAML double-quoted). */
static void policy_shape(const char *base, const char *const *suffixes, size_t n)
{
    char want[512];
    size_t i;
    const char *l;

    assert_int_equal(count_str(out, "kind: ValidatingAdmissionPolicy\n"), n);
    assert_int_equal(count_str(out, "kind: ValidatingAdmissionPolicyBinding\n"), n);
    assert_int_equal(count_str(out, "  validationActions: [Deny]\n"), n);
    assert_int_equal(count_str(out, "  failurePolicy: Fail\n"), n);
    assert_int_equal(count_str(out, "  - name: liqolet-identity\n"), n);
    for (i = 0; i < n; i++) {
        (void)snprintf(want, sizeof want, "  policyName: \"%s%s\"\n", base, suffixes[i]);
        assert_non_null(strstr(out, want));
        (void)snprintf(want, sizeof want, "  name: \"%s%s\"\n", base, suffixes[i]);
        assert_int_equal(count_str(out, want), 2);
    }
    for (l = strstr(out, "expression: \""); l != NULL; l = strstr(l + 1, "expression: \"")) {
        const char *b = l + sizeof "expression: \"" - 1, *e = strchr(b, '\n');
        assert_non_null(e);
        assert_int_equal(e[-1], '"');
        for (; b < e - 1; b++)
            assert_true(*b != '"' && *b != '\\');
    }
}

static void test_policy_defaults(void **state)
{
    static const char *const home[] = { "-home-create", "-home-pods", "-home-namespaces",
                                        "-home-events", "-home-offloadings", "-home-csr" };
    static const char *const foreign[] = { "-foreign-objects", "-foreign-namespaces",
                                           "-foreign-connect" };
    lq_perms_params_t p;
    size_t len;
    (void)state;

    lq_perms_params_init(&p);
    check_policy(LQ_PERMS_HOME, &p);
    policy_shape("liqolet-liqo-foreign", home, 6);
    assert_non_null(strstr(out, "object.metadata.name.startsWith('liqolet-')"));
    assert_non_null(strstr(out, "request.userInfo.username in ['liqolet', "
                                "'system:serviceaccount:liqo:liqolet']"));
    assert_non_null(strstr(out, "oldObject.spec.?nodeName.orValue('') == 'liqo-foreign'"));
    assert_non_null(strstr(out, "resources: [\"pods\", \"pods/status\"]\n"
                                "      operations: [\"UPDATE\", \"DELETE\"]\n"));
    assert_non_null(strstr(out, "'kubernetes.io/kubelet-serving'"));
    assert_non_null(strstr(out, "k.startsWith('liqolet.liqo.io/remote.')"));
    assert_null(strstr(out, "virtualkubelet.liqo.io/origin"));

    check_policy(LQ_PERMS_FOREIGN, &p);
    policy_shape("liqolet-liqo-foreign", foreign, 3);
    /* without ids: any non-empty origin and destination, of either family */
    assert_non_null(strstr(out, "variables.nsL['virtualkubelet.liqo.io/origin'] != ''"));
    assert_non_null(strstr(out, "variables.newL['offloading.liqo.io/destination'] != ''"));
    assert_non_null(strstr(out, "'kube-system', 'kube-public', 'kube-node-lease', 'default'"));
    assert_non_null(strstr(out, "operations: [\"CONNECT\"]"));
    assert_non_null(strstr(out, "resources: [\"endpointslices\"]"));
    assert_non_null(strstr(out, "resources: [\"ingresses\"]"));
    assert_null(strstr(out, "== 'liqo-foreign'"));

    /* deterministic */
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_FOREIGN, &p, out2, sizeof out2, &len), LQ_OK);
    assert_string_equal(out, out2);
}

static void test_policy_parameters(void **state)
{
    static const lq_perms_subject_t subj[] = {
        { LQ_PERMS_SUBJECT_SERVICE_ACCOUNT, "agent", "edge-system" },
        { LQ_PERMS_SUBJECT_USER, "edge-7", NULL },
    };
    lq_perms_params_t p;
    size_t len = 0, full = 0, cap;
    (void)state;

    lq_perms_params_init(&p);
    p.node_name = "liqo-site-7.example";
    p.role_name = "edge-peer";
    p.subjects = subj;
    p.n_subjects = 2;
    p.home_id = "home-uid-1";
    p.foreign_id = "Foreign_ID.2";
    check_policy(LQ_PERMS_HOME, &p);
    assert_non_null(strstr(out, "  name: \"edge-peer-home-pods\"\n"));
    /* with the foreign id the lock Lease has its one name */
    assert_non_null(strstr(out, "object.metadata.name == 'liqolet-foreign-id-2-"));
    assert_null(strstr(out, "startsWith('liqolet-')"));
    assert_non_null(strstr(out, "== 'liqo-site-7.example'"));
    assert_non_null(strstr(out, "['system:serviceaccount:edge-system:agent', 'edge-7']"));
    assert_null(strstr(out, "in ['liqolet'"));
    check_policy(LQ_PERMS_FOREIGN, &p);
    assert_non_null(strstr(out, "variables.nsL['virtualkubelet.liqo.io/origin'] == 'home-uid-1'"));
    assert_non_null(strstr(out, "variables.oldL['offloading.liqo.io/destination'] == 'Foreign_ID.2'"));
    assert_null(strstr(out, "!= ''"));

    /* ids are label values: anything else is refused before it reaches CEL */
    p.home_id = "x' || true || '";
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_FOREIGN, &p, out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(out[0], '\0');
    p.home_id = "home-uid-1";
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_CLUSTER_COUNT_, &p, out, sizeof out, &len),
                     LQ_EINVAL);
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, NULL, out, sizeof out, &len), LQ_EINVAL);
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out, sizeof out, NULL), LQ_EINVAL);

    /* too small: never a truncated manifest */
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out2, sizeof out2, &full), LQ_OK);
    for (cap = 1; cap <= full; cap += 97) {
        assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out, cap, &len), LQ_ETOOBIG);
        assert_int_equal(len, 0);
        assert_int_equal(out[0], '\0');
    }
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out, full, &len), LQ_ETOOBIG);
    assert_int_equal(lq_perms_render_policy(LQ_PERMS_HOME, &p, out, full + 1, &len), LQ_OK);
    assert_string_equal(out, out2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows_valid),
        cmocka_unit_test(test_table_no_duplicates),
        cmocka_unit_test(test_table_resource_names_rules),
        cmocka_unit_test(test_table_scopes),
        cmocka_unit_test(test_table_has_check_essentials),
        cmocka_unit_test(test_verb_and_cluster_strings),
        cmocka_unit_test(test_render_defaults),
        cmocka_unit_test(test_render_parameters),
        cmocka_unit_test(test_render_rejects_bad_input),
        cmocka_unit_test(test_render_too_small_never_truncates),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_pair_lock_name),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_for_each),
        cmocka_unit_test(test_policy_defaults),
        cmocka_unit_test(test_policy_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
