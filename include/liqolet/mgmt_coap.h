/* liqolet: the CoAP service of the management endpoint (src/mgmt/coap.c), the only file
 * of the agent that includes libcoap (DESIGN.md Decision 12; docs/management.md).
 *
 * CoAP (RFC 7252) served by libcoap inside the agent's one event loop: libcoap's epoll
 * descriptor is watched by lq_loop and its next timeout is folded in by a prepare hook,
 * so nothing blocks and there is no second thread. Resources:
 *
 *   /.well-known/core   RFC 6690 link format (libcoap builds it from the resources below)
 *   /health             liveness: "ok" while the loop runs
 *   /ready              "ready", or "not ready: <reasons>"; observable (RFC 7641)
 *   /status             JSON picture of the agent; observable (notified on state changes,
 *                       not on counters)
 *   /metrics            Prometheus text exposition, with Liqo's reflection counters
 *   /objects/<kind>     reflected objects of one kind (?ns=NAMESPACE filters), JSON
 *
 * Every representation larger than one block is served with Block2 (RFC 7959) and an
 * ETag, rendered again from the start into a block-sized window for each block
 * (lq_mgmt_render_response). With a pre-shared key every address speaks DTLS 1.2 with
 * PSK (coaps); the address rule (loopback unless a key is given) is the owner's check,
 * made before anything is bound (lq_mgmt_configure).
 *
 * The service knows neither the agent nor the HTTP listener: it renders from the view
 * its owner's lq_mgmt_source_t gives and bumps the counters there. The owner calls
 * lq_mgmt_coap_notify when observers should be checked (every LQ_MGMT_POLL_MS, and on a
 * state-change hint). */
#ifndef LIQOLET_MGMT_COAP_H
#define LIQOLET_MGMT_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config.h"
#include "liqolet/err.h"
#include "liqolet/loop.h"
#include "liqolet/mgmt_render.h"

/* Warnings a minute that peers of the management endpoint can cause (failed DTLS
 * handshakes, unknown identities); the rest are counted, not logged. */
#define LQ_MGMT_WARN_BURST 5u

/* CoAP sessions libcoap keeps for idle clients (older ones are dropped). */
#ifndef LQ_MGMT_MAX_SESSIONS
#define LQ_MGMT_MAX_SESSIONS 4
#endif
/* DTLS handshakes in progress at once (each takes ~25 KiB of the mbedTLS arena). */
#ifndef LQ_MGMT_MAX_HANDSHAKES
#define LQ_MGMT_MAX_HANDSHAKES 1
#endif

typedef struct lq_mgmt_coap_cfg {
    const lq_config_addr_t *listen;  /* addresses (at least one); borrowed until close */
    size_t n_listen;
    const uint8_t *psk;              /* pre-shared key, borrowed until close; NULL = no DTLS */
    size_t psk_len;
    const char *psk_identity;        /* borrowed; NULL/"" = accept any identity */
} lq_mgmt_coap_cfg_t;

typedef struct lq_mgmt_coap {
    /* readable */
    uint16_t ports[LQ_CONFIG_MAX_LISTEN];  /* bound ports, by address (0: not bound) */
    bool started;
    /* private */
    lq_mgmt_coap_cfg_t cfg_;
    lq_mgmt_source_t src_;
    lq_loop_t *loop_;
    void *ctx_;                  /* coap_context_t */
    void *res_ready_, *res_status_;
    struct lq_mgmt_coap_route_ {
        struct lq_mgmt_coap *c;
        int res, kind;
    } routes_[4 + LQ_MGMT_KIND_COUNT + 1];
    lq_loop_io_t io_;
    lq_loop_t *hooked_;          /* the loop holding our prepare hook (it has no removal,
                                    so a restart on that loop does not add another) */
    uint64_t digest_ready_, digest_status_;
    lq_mgmt_cursor_t cursor_;
    char block_[LQ_MGMT_BLOCK_MAX];
} lq_mgmt_coap_t;

/* Clean state. Cannot fail. */
void lq_mgmt_coap_init(lq_mgmt_coap_t *c);

/* Creates the libcoap context, binds every address (one log line each: "mgmt: CoAP
 * listening on coap://127.0.0.1:41234"; an IPv6 loopback on a host without IPv6 is
 * skipped with a warning), registers the resources and joins the loop. Returns LQ_OK,
 * LQ_EINVAL, LQ_EIO (an address could not be bound), LQ_ENOTSUP (a key but no DTLS in
 * libcoap) or LQ_ENOMEM (libcoap's heap cap). */
lq_err_t lq_mgmt_coap_start(lq_mgmt_coap_t *c, lq_loop_t *loop, const lq_mgmt_coap_cfg_t *cfg,
                            const lq_mgmt_source_t *src);

/* Checks the digests of /ready and /status against the last ones and notifies their
 * observers when they changed. No-op before start. */
void lq_mgmt_coap_notify(lq_mgmt_coap_t *c);

/* Leaves the loop and frees libcoap's context. Idempotent. */
void lq_mgmt_coap_close(lq_mgmt_coap_t *c);

#endif
