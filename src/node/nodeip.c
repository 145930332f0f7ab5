/* liqolet: the virtual node's address (DESIGN.md Decision 10); see include/liqolet/nodeip.h. */
#include <string.h>

#include "liqolet/ascii.h"
#include "liqolet/names.h"
#include "liqolet/nodeip.h"
#include "liqolet/port.h"

static bool starts_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lq_ascii_lower((unsigned char)*s) != (unsigned char)*prefix)
            return false;
    return true;
}

bool lq_nodeip_is_loopback(const char *ip)
{
    if (!ip)
        return false;
    size_t n = strlen(ip);
    if (lq_names_is_loopback(ip, n))
        return true;
    static const uint8_t zero[16];
    uint8_t a[16];
    bool v6 = memchr(ip, ':', n) != NULL;
    return (v6 ? lq_names_ipv6_parse(ip, n, a) : lq_names_ipv4_parse(ip, n, a)) &&
           memcmp(a, zero, v6 ? 16u : 4u) == 0; /* unspecified: no peer can dial it */
}

static lq_err_t copy(const char *ip, char *out, size_t cap)
{
    size_t n = strlen(ip);
    if (n + 1 > cap)
        return LQ_ETOOBIG;
    memcpy(out, ip, n + 1);
    return LQ_OK;
}

lq_err_t lq_nodeip_pick(const char *configured, const char *conn_local, char *out, size_t cap,
                        lq_nodeip_src_t *src)
{
    if (!out || !src || cap == 0)
        return LQ_EINVAL;
    out[0] = '\0';
    if (configured && configured[0]) {
        *src = LQ_NODEIP_CONFIGURED;
        return copy(configured, out, cap);
    }
    if (conn_local && conn_local[0] && !lq_nodeip_is_loopback(conn_local)) {
        *src = LQ_NODEIP_CONNECTION;
        return copy(conn_local, out, cap);
    }
    /* The family of the home connection first (an IPv6-only site stays IPv6). */
    bool v6 = conn_local && strchr(conn_local, ':') && !starts_ci(conn_local, "::ffff:");
    for (int i = 0; i < 2; i++, v6 = !v6) {
        lq_err_t e = lq_port_route_addr(v6, out, cap);
        if (e == LQ_OK && !lq_nodeip_is_loopback(out)) {
            *src = LQ_NODEIP_ROUTE;
            return LQ_OK;
        }
        out[0] = '\0';
        if (e == LQ_ETOOBIG)
            return e;
    }
    return LQ_ENOTFOUND;
}

const char *lq_nodeip_src_str(lq_nodeip_src_t src)
{
    switch (src) {
    case LQ_NODEIP_CONFIGURED:
        return "configured (node.ip)";
    case LQ_NODEIP_CONNECTION:
        return "the local address of the home API connection";
    case LQ_NODEIP_ROUTE:
        return "the default route's interface (the home API server is reached over loopback)";
    }
    return "?";
}
