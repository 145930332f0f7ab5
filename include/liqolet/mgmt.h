/* liqolet: the local management endpoint (issue 7; DESIGN.md Decision 12), as its owner
 * (src/cmd/run.c) sees it.
 *
 * One service object runs two listeners that do not know each other:
 *   - CoAP on --mgmt-listen (include/liqolet/mgmt_coap.h, src/mgmt/coap.c: the only file
 *     that includes libcoap): /health, /ready, /status, /metrics, /objects/<kind>;
 *   - optional HTTP on --http-listen (include/liqolet/mgmt_http.h, src/mgmt/http.c):
 *     /healthz, /readyz, /metrics for kubelet probes and Prometheus.
 * Both answer from the pure core (include/liqolet/mgmt_render.h, src/mgmt/render.c),
 * which also defines the snapshot types below; libcoap's heap fence is
 * include/liqolet/mgmt_heap.h (src/mgmt/heap.c). Nothing shown is secret: no token, no
 * key, no Secret data; /objects/secrets lists names only.
 *
 * Addresses: plain CoAP only on loopback addresses. With a pre-shared key
 * (mgmt.pskFile), every address speaks DTLS 1.2 with PSK (coaps) and any address is
 * allowed; a non-loopback address without a key is refused at start-up, before any
 * socket is bound (lq_mgmt_configure).
 *
 * Pull interface. The module knows nothing of the agent's internals: when it needs the
 * agent's state (a request, a notification check every LQ_MGMT_POLL_MS), it zeroes an
 * lq_mgmt_snapshot_t and calls the owner's snapshot callback, which fills in what it
 * knows. Strings in the snapshot are borrowed: they must stay valid until the callback's
 * caller returns to the loop (pointers into the owner's static state are fine).
 *
 *   static lq_mgmt_t mgmt;
 *   lq_mgmt_init(&mgmt);
 *   if (lq_mgmt_configure(&mgmt, &mcfg, msg, sizeof msg) != LQ_OK) -> refuse to start
 *   ... later, once the agent runs:
 *   lq_mgmt_start(&mgmt, &loop, fill_snapshot, NULL, NULL, NULL);
 *   lq_mgmt_changed(&mgmt);          // optional hint: notify observers now
 *
 * Include order (no cycle): mgmt_heap.h <- mgmt_render.h <- mgmt_coap.h, mgmt_http.h
 * <- mgmt.h. */
#ifndef LIQOLET_MGMT_H
#define LIQOLET_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config.h"
#include "liqolet/config_defaults.h"
#include "liqolet/conn.h"
#include "liqolet/err.h"
#include "liqolet/loop.h"
#include "liqolet/mgmt_coap.h"
#include "liqolet/mgmt_heap.h"
#include "liqolet/mgmt_http.h"
#include "liqolet/mgmt_render.h"

/* How often observed resources are checked for changes and the volatile figures
 * (uptime, RSS, libcoap's heap) sampled (ms). */
#ifndef LQ_MGMT_POLL_MS
#define LQ_MGMT_POLL_MS 1000
#endif
/* Longest DTLS pre-shared key and identity (bytes). */
#define LQ_MGMT_PSK_MAX 64u
/* Shortest pre-shared key taken: 16 bytes (128 bits when random; what DTLS-PSK guidance
 * asks of a key that guards an endpoint reachable from the network). */
#define LQ_MGMT_PSK_MIN 16u
#define LQ_MGMT_PSK_ID_MAX 64u

/* --- snapshot helpers for the owner's callback ------------------------------------------ */

/* Each ignores the item when its table is full (the list then ends early; /status says
 * nothing more). */
void lq_mgmt_snap_conn(lq_mgmt_snapshot_t *s, const char *cluster, const char *name,
                       const lq_conn_t *c);
void lq_mgmt_snap_table(lq_mgmt_snapshot_t *s, const char *name, uint64_t used,
                        uint64_t capacity, uint64_t high_water);
/* "idle", "connecting", ... for an lq_conn_state_t. */
const char *lq_mgmt_conn_state_name(int state);

/* --- the service ------------------------------------------------------------------------ */

typedef struct lq_mgmt_cfg {
    const lq_config_addr_t *listen;  /* CoAP addresses (at least one) */
    size_t n_listen;
    const char *psk_file;            /* NULL/"" = no DTLS */
    const char *psk_identity;        /* NULL/"" = accept any identity */
    const lq_config_addr_t *http;    /* optional HTTP listener addresses */
    size_t n_http;
} lq_mgmt_cfg_t;

typedef struct lq_mgmt {
    /* readable */
    lq_mgmt_stats_t stats;
    uint16_t ports[LQ_CONFIG_MAX_LISTEN];      /* bound CoAP ports (after start) */
    uint16_t http_ports[LQ_CONFIG_MAX_LISTEN]; /* bound HTTP ports */
    bool started;
    /* private */
    lq_config_addr_t listen_[LQ_CONFIG_MAX_LISTEN];
    size_t n_listen_;
    lq_config_addr_t http_[LQ_CONFIG_MAX_LISTEN];
    size_t n_http_;
    bool dtls_;
    uint8_t psk_[LQ_MGMT_PSK_MAX];
    size_t psk_len_;
    char psk_id_[LQ_MGMT_PSK_ID_MAX + 1];
    lq_loop_t *loop_;
    lq_mgmt_snapshot_fn *snap_fn_;
    void *snap_ctx_;
    lq_mgmt_object_fn *obj_fn_;
    void *obj_ctx_;
    int64_t started_ms_;
    lq_loop_timer_t poll_timer_;
    struct {                     /* volatile figures, sampled every LQ_MGMT_POLL_MS so
                                    that a representation is stable between blocks */
        uint64_t uptime_ms, rss, rss_peak;
        lq_mgmt_heap_stats_t heap;
    } sample_, snap_sample_;  /* the latest sample; the one taken with snap_ */
    int64_t snap_at_;         /* when snap_ was pulled (monotonic ms; 0 never) */
    lq_mgmt_coap_t coap_;
    lq_mgmt_http_t httpd_;
    lq_mgmt_snapshot_t snap_;
} lq_mgmt_t;

/* Clean state. Cannot fail. */
void lq_mgmt_init(lq_mgmt_t *m);

/* Checks the addresses (the loopback-or-PSK rule, before anything is bound) and reads
 * the PSK file (registered with the log redaction). msg gets one sentence on failure.
 * Returns LQ_OK, LQ_ECONFIG (a non-loopback address without a PSK; an empty, oversized
 * or unreadable key file; an identity too long) or LQ_EINVAL. */
lq_err_t lq_mgmt_configure(lq_mgmt_t *m, const lq_mgmt_cfg_t *cfg, char *msg, size_t msg_cap);

/* Starts the CoAP service (lq_mgmt_coap_start: binds every address, logging one line
 * each), then the optional HTTP listener (lq_mgmt_http_start), and the observer poll.
 * objects may be NULL. On failure nothing stays open. Returns LQ_OK, LQ_EINVAL, LQ_EIO
 * (a CoAP address could not be bound: in use, not local), LQ_ENOMEM (libcoap's heap cap)
 * or an error of lq_mgmt_http_start. */
lq_err_t lq_mgmt_start(lq_mgmt_t *m, lq_loop_t *loop, lq_mgmt_snapshot_fn *snapshot,
                       void *snapshot_ctx, lq_mgmt_object_fn *objects, void *objects_ctx);

/* Hint that the state changed: observers of /ready and /status are checked now instead
 * of at the next poll. Cheap; safe before start. */
void lq_mgmt_changed(lq_mgmt_t *m);

/* Builds the view a response is rendered from: the snapshot is taken now; uptime, RSS
 * and libcoap's heap figures are those of the last sample (every LQ_MGMT_POLL_MS), so
 * they do not change between the blocks of one transfer. */
void lq_mgmt_view(lq_mgmt_t *m, lq_mgmt_view_t *v);

/* Closes the HTTP listener and the CoAP service and stops the poll. Idempotent. */
void lq_mgmt_close(lq_mgmt_t *m);

#endif
