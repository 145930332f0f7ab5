/* liqolet: multi-document YAML manifests as the generators of this repository write
 * them (deploy/rbac, deploy/crds), split into objects for server-side apply (pure module).
 *
 * Not a YAML parser: it finds the documents ("---" lines) and, in each, the top-level
 * apiVersion and kind and the name and namespace directly under metadata (two-space
 * indentation), which is all a REST path needs. The document's text itself is sent as
 * is (application/apply-patch+yaml accepts YAML), so the API server parses the rest.
 *
 * Usage:
 *     size_t pos = 0;
 *     lq_manifest_doc_t d;
 *     while ((err = lq_manifest_next(text, len, &pos, &d)) == LQ_OK) {
 *         lq_manifest_path(&d, true, path, sizeof path);   // .../clusterroles/NAME
 *         ... apply d.text[0..d.len) at path ...
 *     }
 *     // err == LQ_ENOTFOUND: no more documents */
#ifndef LIQOLET_MANIFEST_H
#define LIQOLET_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "liqolet/err.h"

typedef struct lq_manifest_doc {
    const char *text;       /* the document, inside the caller's text (no "---" line) */
    size_t len;
    char api_version[128];  /* "rbac.authorization.k8s.io/v1", "v1" */
    char kind[64];          /* "ClusterRole" */
    char name[254];
    char namespace[64];     /* "" when the document names none (cluster-scoped) */
} lq_manifest_doc_t;

/* The next document of text[*pos..len) that holds more than comments and blank lines;
 * *pos moves past it. Returns LQ_OK; LQ_ENOTFOUND when no document is left; LQ_EPROTO
 * when a document lacks apiVersion, kind or metadata.name (*pos still moves past it);
 * LQ_ETOOBIG when one of those values exceeds its field; LQ_EINVAL for NULL arguments. */
lq_err_t lq_manifest_next(const char *text, size_t len, size_t *pos, lq_manifest_doc_t *d);

/* The plural resource name Kubernetes uses for kind ("Policy" -> "policies",
 * "Ingress" -> "ingresses", "Role" -> "roles"): lower case, then "ies"/"es"/"s".
 * Returns LQ_OK, LQ_ETOOBIG, LQ_EINVAL (empty kind or a character outside [A-Za-z0-9]). */
lq_err_t lq_manifest_plural(const char *kind, char *buf, size_t cap);

/* The REST path of the document's object (with_name: ending in its name, else the
 * collection). Returns LQ_OK, LQ_EINVAL (a name that is not a path segment, a bad kind),
 * LQ_ETOOBIG. */
lq_err_t lq_manifest_path(const lq_manifest_doc_t *d, bool with_name, char *buf, size_t cap);

#endif
