/* liqolet: the optional HTTP listener of the management endpoint (src/mgmt/http.c;
 * --http-listen, DESIGN.md Decision 12).
 *
 * GET or HEAD /healthz, /readyz (200, or 503 with the reasons when not ready) and
 * /metrics, for kubelet probes and Prometheus, which reach a pod over HTTP. Nothing else,
 * nothing secret, no authentication; one request per connection (Connection: close).
 * Any other path is 404, another method 405, a malformed or oversized head 400.
 *
 * Memory: LQ_MGMT_HTTP_CONNS connections, each with one LQ_MGMT_HTTP_REQ_MAX buffer that
 * holds the request head and then, while answering, one window of the body. The body is
 * rendered window by window from the start (lq_mgmt_render_response with Block2), so
 * /metrics of any size is sent without a body buffer.
 *
 * Sockets come from the port layer only (lq_port_tcp_listen / lq_port_tcp_accept), so
 * the listener runs unchanged over port/fake in unit tests. Like the CoAP service it
 * knows neither that service nor the agent: it answers from the view its owner's
 * lq_mgmt_source_t gives and counts requests in its stats. */
#ifndef LIQOLET_MGMT_HTTP_H
#define LIQOLET_MGMT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config.h"
#include "liqolet/err.h"
#include "liqolet/loop.h"
#include "liqolet/mgmt_render.h"

/* Simultaneous connections (more are accepted and closed at once). */
#ifndef LQ_MGMT_HTTP_CONNS
#define LQ_MGMT_HTTP_CONNS 4
#endif
/* A connection whose client stopped reading the answer is closed after this long (ms). */
#ifndef LQ_MGMT_HTTP_TIMEOUT_MS
#define LQ_MGMT_HTTP_TIMEOUT_MS 10000
#endif
/* The whole request head must arrive within this long (ms): probes and scrapers send it
 * at once; a connection that trickles it is closed. */
#ifndef LQ_MGMT_HTTP_HEAD_TIMEOUT_MS
#define LQ_MGMT_HTTP_HEAD_TIMEOUT_MS 2000
#endif
/* Connections one peer address may hold at once: any pod can reach the listener, and
 * must not be able to take every slot the kubelet's probes need. When the table is full,
 * the oldest connection still waiting for its head gives its slot to the newcomer. */
#ifndef LQ_MGMT_HTTP_PER_PEER
#define LQ_MGMT_HTTP_PER_PEER 2
#endif

typedef struct lq_mgmt_http {
    /* readable */
    uint16_t ports[LQ_CONFIG_MAX_LISTEN];  /* bound ports, by address (after start) */
    bool started;
    /* private */
    lq_loop_t *loop_;
    lq_mgmt_source_t src_;
    struct lq_mgmt_http_conn_ {
        lq_loop_io_t io;
        lq_loop_timer_t timer;
        struct lq_mgmt_http *h;
        bool busy, sending;
        char peer[LQ_PORT_PEER_MAX];  /* the peer's address without its port */
        int64_t since;           /* accepted at (monotonic ms) */
        int res;
        size_t len;              /* request bytes in buf, then the window's bytes */
        uint64_t total, sent;    /* body length (Content-Length) and bytes sent */
        uint64_t win_off;        /* body offset of buf[0] while sending */
        uint8_t etag[8];         /* digest of the body when the head was sent */
        char buf[LQ_MGMT_HTTP_REQ_MAX];
    } conns_[LQ_MGMT_HTTP_CONNS + 1]; /* one spare: see LQ_MGMT_HTTP_PER_PEER */
    lq_loop_io_t listen_io_[LQ_CONFIG_MAX_LISTEN];
    size_t n_listening_;
    lq_loop_timer_t pause_timer_; /* accepting paused (out of descriptors) until it fires */
} lq_mgmt_http_t;

/* Clean state. Cannot fail. */
void lq_mgmt_http_init(lq_mgmt_http_t *h);

/* Listens on every address (IP literals; port 0 picks a free one, see ports[]), logging
 * one line each ("mgmt: HTTP listening on http://127.0.0.1:9090 ..."), and joins the
 * loop. On failure nothing stays open. Returns LQ_OK, LQ_EINVAL, LQ_ENOSPC (the loop's
 * descriptor table is full) or the error of lq_port_tcp_listen (LQ_ECONFLICT: the
 * address is in use, LQ_ENOTSUP: not an address of this host, LQ_EFORBIDDEN, LQ_EIO). */
lq_err_t lq_mgmt_http_start(lq_mgmt_http_t *h, lq_loop_t *loop, const lq_config_addr_t *addrs,
                            size_t n, const lq_mgmt_source_t *src);

/* Closes every connection and listener. Idempotent. */
void lq_mgmt_http_close(lq_mgmt_http_t *h);

#endif
