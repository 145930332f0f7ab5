/* liqolet: `liqolet peer` (src/cmd/peer.c), the set-up of a peering from admin
 * credentials, and the names it gives what it creates (unpeer --remove-identity removes
 * the same). */
#ifndef LIQOLET_PEER_H
#define LIQOLET_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include "liqolet/err.h"

#define LQ_PEER_FIELD_MANAGER "liqolet-peer"
#define LQ_PEER_SA "liqolet"
#define LQ_PEER_SECRET "liqolet-foreign-kubeconfig"
#define LQ_PEER_SECRET_KEY "kubeconfig"

int lq_peer_main(int argc, char **argv);

/* What peer applies on one side (0 home, 1 foreign): the permission table's RBAC
 * (lq_perms_render) then its ValidatingAdmissionPolicies (lq_perms_render_policy), both for
 * the ServiceAccount <ns>/liqolet only. foreign_id / home_id may be NULL or "" (any lock
 * Lease of ns; any origin); pod_security as lq_perms_params_t's. Returns what those return. */
lq_err_t lq_peer_render_rbac(int side, const char *ns, const char *node, const char *foreign_id,
                             const char *home_id, unsigned pod_security, char *buf, size_t cap,
                             size_t *len);

/* unpeer --remove-identity: deletes, in each cluster whose kubeconfig is given (kc[1]
 * NULL: home only), the RBAC objects, ServiceAccount and (home) Secret peer creates for
 * (ns, node, foreign_id), each only when its managedFields name the field manager
 * liqolet-peer, with its UID as precondition (the admission policies included). Namespaces and the CRD stay. Needs admin
 * credentials. Returns 0, or 1 when something could not be removed (said on stderr). */
int lq_peer_remove_identity(const char *kc[2], const char *ctx[2], const char *ns, const char *node,
                            const char *home_id, const char *foreign_id, bool allow_insecure);

#endif
