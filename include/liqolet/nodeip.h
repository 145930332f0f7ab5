/* liqolet: the virtual node's address (DESIGN.md Decision 10), src/node/nodeip.c.
 *
 * The address the virtual node reports as InternalIP (and every offloaded pod as hostIP,
 * and where the kubelet API listens), in this order:
 *   1. the configured one (--node-ip / node.ip), whatever it is (loopback only so);
 *   2. the local address of the connection to the home API server, unless it is loopback
 *      (in a pod: the pod's own address; on a host whose API server is across the network:
 *      the address on that network);
 *   3. the address of the default route's interface, same IP family as (2) first: k3s and
 *      microk8s kubeconfigs say https://127.0.0.1:6443, so (2) is loopback there.
 * Never loopback unless configured. */
#ifndef LIQOLET_NODEIP_H
#define LIQOLET_NODEIP_H

#include <stdbool.h>
#include <stddef.h>

#include "liqolet/err.h"

typedef enum lq_nodeip_src {
    LQ_NODEIP_CONFIGURED = 0,
    LQ_NODEIP_CONNECTION,
    LQ_NODEIP_ROUTE,
} lq_nodeip_src_t;

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 in any valid spelling
 * (lq_names_is_loopback), and the unspecified addresses 0.0.0.0 and ::, which no peer can
 * dial either. */
bool lq_nodeip_is_loopback(const char *ip);

/* Picks the address as the file comment says. configured and conn_local may be NULL or
 * "". On LQ_OK out holds the address and *src says where it came from. LQ_ENOTFOUND: not
 * configured, the connection's address is loopback or unknown and no default route has
 * an address (out is ""); LQ_ETOOBIG: cap; LQ_EINVAL: out or src NULL. */
lq_err_t lq_nodeip_pick(const char *configured, const char *conn_local, char *out, size_t cap,
                        lq_nodeip_src_t *src);

/* "configured (--node-ip)", "the local address of the home API connection", ... */
const char *lq_nodeip_src_str(lq_nodeip_src_t src);

#endif
