/* liqolet: one API server as the agent sees it: credentials, TLS profile, and the
 * connection target built from them. Shared by `run`, `check` and `debug`. */
#ifndef LIQOLET_CLUSTER_H
#define LIQOLET_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "liqolet/conn.h"
#include "liqolet/err.h"
#include "liqolet/kubeconfig.h"

typedef struct lq_cluster {
    const char *label;       /* "home", "foreign" */
    lq_kcfg_t kcfg;
    int profile;             /* TLS profile handle, -1 when not open */
    lq_conn_target_t target; /* points into kcfg */
} lq_cluster_t;

/* Loads credentials (kubeconfig file, or in-cluster ones when kubeconfig is NULL and
 * in_cluster is true; else $KUBECONFIG / ~/.kube/config) and opens the TLS profile.
 * lq_tls_init must have run. err gets one actionable sentence on failure.
 * Returns LQ_OK or the error of the failing step (see lq_kcfg_load, lq_tls_profile_open). */
lq_err_t lq_cluster_open(lq_cluster_t *c, const char *label, const char *kubeconfig,
                         const char *context, bool in_cluster, char *err, size_t cap);

/* The policy on insecure-skip-tls-verify (issue 17, finding 7): LQ_OK when the kubeconfig
 * does not set it or allow_insecure (--allow-insecure-tls) is true; else LQ_ECONFIG and
 * err says what to give instead. */
lq_err_t lq_cluster_tls_policy(const lq_cluster_t *c, bool allow_insecure, char *err, size_t cap);

#endif
