/* liqolet: Kubernetes REST conventions (pure parts): resource paths, query strings, and
 * the mapping of HTTP status + metav1.Status reason to lq_err_t and a retry decision
 * (DESIGN.md Decision 5). The I/O side (connections, credentials) is src/kube/conn.c and the
 * callers of lq_conn_request. */
#ifndef LIQOLET_KAPI_H
#define LIQOLET_KAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"

/* What a reconciler should do after a response. */
typedef enum lq_kapi_action {
    LQ_KAPI_DONE = 0,     /* success, or a final failure */
    LQ_KAPI_RETRY,        /* 429 / 5xx / 408: back off with jitter and retry */
    LQ_KAPI_REREAD,       /* 409 Conflict: re-read the object and forge again */
    LQ_KAPI_ADOPT,        /* 409 AlreadyExists on create: adopt if owned, else report */
    LQ_KAPI_RELIST,       /* 410 Gone / Expired: relist */
    LQ_KAPI_REAUTH        /* 401: re-read credentials once, then retry */
} lq_kapi_action_t;

/* Maps an HTTP status and the Status "reason" (may be NULL/empty) to an error code and
 * an action. 2xx -> LQ_OK/DONE. 401 -> LQ_EAUTH/REAUTH, 403 -> LQ_EFORBIDDEN/DONE,
 * 404 -> LQ_ENOTFOUND/DONE, 409 AlreadyExists -> LQ_ECONFLICT/ADOPT, other 409 ->
 * LQ_ECONFLICT/REREAD, 410 (or reason Expired/Gone) -> LQ_EGONE/RELIST, 408/429/5xx ->
 * LQ_EHTTP/RETRY, anything else -> LQ_EHTTP/DONE. */
lq_err_t lq_kapi_classify(int http_status, const char *reason, size_t reason_len,
                          lq_kapi_action_t *action);

/* Builds "/api/v1/namespaces/NS/pods/NAME/status" style paths.
 *   group_version  "v1" (core) or "apps/v1", "offloading.liqo.io/v1alpha1", ...
 *   ns             namespace, or NULL/"" for cluster-scoped resources and all-namespace lists
 *   resource       plural ("pods")
 *   name, sub      optional object name and subresource ("status")
 * Names are checked to be DNS-1123-ish path segments (no '/', '?', '%', '#', space or
 * control bytes): LQ_EINVAL otherwise. LQ_ETOOBIG if it does not fit; LQ_OK. */
lq_err_t lq_kapi_path(char *buf, size_t cap, const char *group_version, const char *ns,
                      const char *resource, const char *name, const char *sub);

/* Appends "?k=v" or "&k=v" with v percent-encoded. buf holds a NUL-terminated path.
 * LQ_OK or LQ_ETOOBIG (buf unchanged then). */
lq_err_t lq_kapi_query(char *buf, size_t cap, const char *key, const char *value);

#endif
