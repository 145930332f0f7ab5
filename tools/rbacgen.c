/* rbacgen: writes liqolet's RBAC manifests (or the docs table) from the permission
 * table in src/kube/perms.c to stdout. A host build tool: `make rbac` / `make rbac-check`.
 *
 *   rbacgen home|foreign [--node-name N] [--foreign-id ID] [--home-id ID] [--namespace NS]
 *                        [--role-name R] [--user U]... [--service-account NS/NAME]...
 *                        [--policy | --checks]
 *
 * --foreign-id (the foreign cluster id: its kube-system UID, `liqolet check` prints it,
 * or the configured cluster.foreign.id) pins the lock Lease rule to its one name; without
 * it that rule covers any Lease of the agent's namespace.
 *   rbacgen --markdown
 *
 * --policy writes the ValidatingAdmissionPolicies and bindings that confine the same
 * subjects (deploy/rbac/<cluster>-policy.yaml); --home-id (the home cluster id) and
 * --foreign-id pin the ownership labels they require on foreign objects, else any
 * non-empty value is accepted. --pod-security LEVEL (none|privileged|baseline|restricted,
 * default baseline: the agent's offloading.podSecurity) is the least Pod Security level the
 * foreign namespace policy lets the agent create a remote namespace with.
 *
 * --checks (after home|foreign) prints instead one line per SelfSubjectAccessReview
 * that `liqolet check` issues, tab-separated: verb, group, resource, subresource,
 * namespace, name, non-resource path ("-" for empty fields).
 *
 * Without --user/--service-account the manifests bind both default test identities:
 * User "liqolet" and ServiceAccount liqo/liqolet. */
#include <stdio.h>
#include <string.h>

#include "liqolet/perms.h"

#define MAX_SUBJECTS 8

static char out[256 * 1024];
static char sa_ns[MAX_SUBJECTS][LQ_PERMS_NAME_MAX + 1];

static int usage(void)
{
    fputs("usage: rbacgen home|foreign [--node-name N] [--foreign-id ID] [--home-id ID]\n"
          "                            [--namespace NS] [--role-name R] [--pod-security LEVEL]\n"
          "                            [--user U]... [--service-account NS/NAME]...\n"
          "                            [--policy | --checks]\n"
          "       rbacgen --markdown\n", stderr);
    return 2;
}

static const char *dash(const char *s)
{
    return s == NULL || s[0] == '\0' ? "-" : s;
}

static lq_err_t print_check(const lq_perms_check_t *c, void *ctx)
{
    (void)ctx;
    printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c->verb, c->group == NULL ? "-" :
           c->group[0] == '\0' ? "\"\"" : c->group, dash(c->resource), dash(c->subresource),
           dash(c->namespace), dash(c->name), dash(c->path));
    return LQ_OK;
}

static int emit(lq_err_t err, size_t len, const char *what)
{
    if (err != LQ_OK) {
        fprintf(stderr, "rbacgen: %s: %s\n", what, lq_err_str(err));
        return 1;
    }
    if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
        perror("rbacgen: stdout");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    lq_perms_subject_t subjects[MAX_SUBJECTS];
    lq_perms_params_t p;
    lq_perms_cluster_t cluster;
    size_t n_subj = 0, len = 0;
    lq_err_t err;
    int i, checks = 0, policy = 0;

    if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
        err = lq_perms_render_markdown(out, sizeof out, &len);
        return emit(err, len, "markdown");
    }
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "home") == 0)
        cluster = LQ_PERMS_HOME;
    else if (strcmp(argv[1], "foreign") == 0)
        cluster = LQ_PERMS_FOREIGN;
    else
        return usage();

    lq_perms_params_init(&p);
    for (i = 2; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--checks") == 0) {
            checks = 1;
            i--; /* no value */
            continue;
        }
        if (strcmp(opt, "--policy") == 0) {
            policy = 1;
            i--;
            continue;
        }
        if (val == NULL) {
            fprintf(stderr, "rbacgen: %s needs a value\n", opt);
            return usage();
        }
        if (strcmp(opt, "--node-name") == 0) {
            p.node_name = val;
        } else if (strcmp(opt, "--foreign-id") == 0) {
            p.foreign_id = val;
        } else if (strcmp(opt, "--home-id") == 0) {
            p.home_id = val;
        } else if (strcmp(opt, "--namespace") == 0) {
            p.namespace = val;
        } else if (strcmp(opt, "--pod-security") == 0) {
            static const char *const levels[] = { "none", "privileged", "baseline", "restricted" };
            unsigned l;
            for (l = 0; l < 4 && strcmp(val, levels[l]) != 0; l++)
                ;
            if (l == 4) {
                fprintf(stderr, "rbacgen: --pod-security: none, privileged, baseline or restricted\n");
                return usage();
            }
            p.pod_security = l;
        } else if (strcmp(opt, "--role-name") == 0) {
            p.role_name = val;
        } else if (strcmp(opt, "--user") == 0 || strcmp(opt, "--service-account") == 0) {
            lq_perms_subject_t *s = &subjects[n_subj];
            if (n_subj == MAX_SUBJECTS) {
                fprintf(stderr, "rbacgen: at most %d subjects\n", MAX_SUBJECTS);
                return 2;
            }
            if (opt[2] == 'u') {
                s->kind = LQ_PERMS_SUBJECT_USER;
                s->name = val;
                s->namespace = NULL;
            } else {
                const char *slash = strchr(val, '/');
                size_t nl = slash != NULL ? (size_t)(slash - val) : 0;
                if (slash == NULL || nl == 0 || nl > LQ_PERMS_NAME_MAX) {
                    fprintf(stderr, "rbacgen: --service-account wants NAMESPACE/NAME, "
                                    "got '%s'\n", val);
                    return 2;
                }
                memcpy(sa_ns[n_subj], val, nl);
                sa_ns[n_subj][nl] = '\0';
                s->kind = LQ_PERMS_SUBJECT_SERVICE_ACCOUNT;
                s->namespace = sa_ns[n_subj];
                s->name = slash + 1;
            }
            n_subj++;
        } else {
            fprintf(stderr, "rbacgen: unknown option '%s'\n", opt);
            return usage();
        }
    }
    if (n_subj > 0) {
        p.subjects = subjects;
        p.n_subjects = n_subj;
    }
    if (checks && policy) {
        fputs("rbacgen: --policy and --checks exclude each other\n", stderr);
        return usage();
    }
    if (checks) {
        err = lq_perms_for_each(cluster, &p, print_check, NULL);
        if (err != LQ_OK) {
            fprintf(stderr, "rbacgen: checks: %s\n", lq_err_str(err));
            return 1;
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (policy)
        err = lq_perms_render_policy(cluster, &p, out, sizeof out, &len);
    else
        err = lq_perms_render(cluster, &p, out, sizeof out, &len);
    return emit(err, len, "invalid names (node and role: DNS-1123 subdomain; namespaces: "
                "DNS-1123 label; ids: label values; users: no quotes or backslashes) or "
                "output too big");
}
