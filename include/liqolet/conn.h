/* liqolet: one HTTP/1.1 connection to an API server, driven by the event loop.
 *
 * State machine: IDLE -> CONNECTING -> HANDSHAKE (TLS) -> SENDING -> HEAD -> BODY ->
 * IDLE (keep-alive) | CLOSED. One request at a time. The response head is handed to the
 * owner once parsed, then the decoded body in pieces as it arrives (a watch is one
 * endless body), then completion with an lq_err_t. Failures of any stage end the request
 * with an error and a sentence in lq_conn_t.error naming the server; the connection is
 * closed and the next request reconnects. Nothing waits: everything resumes from the loop.
 *
 * Transport: TLS through src/kube/tls.c when target->tls_profile >= 0; plain TCP otherwise
 * (unit tests on the fake port, and nothing else: a target without TLS is refused by
 * the configuration layer).
 *
 * Memory: a connection owns a fixed receive buffer (LQ_CONN_RX_BUF) and a transmit
 * buffer for request heads (LQ_CONN_TX_BUF); a request body is sent from the caller's
 * own buffer, which must stay valid until on_done. The struct is caller-owned (static). */
#ifndef LIQOLET_CONN_H
#define LIQOLET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/http.h"
#include "liqolet/loop.h"

#define LQ_CONN_ERR_MAX 320u

typedef struct lq_conn lq_conn_t;

/* Where to connect. Borrowed by the connection for its whole life. */
typedef struct lq_conn_target {
    const char *host;        /* DNS name or IP literal (no brackets) */
    uint16_t port;
    const char *verify_name; /* name checked in the server certificate (host if NULL) */
    int tls_profile;         /* lq_tls profile handle, or -1 for plain TCP (tests) */
    const char *label;       /* "home", "foreign": used in messages */
} lq_conn_target_t;

/* The owner's callbacks for one request. Any may be NULL. They run from the loop. */
typedef struct lq_conn_handler {
    /* Response head parsed. Return LQ_OK to go on reading the body; anything else
     * aborts the request (the connection is closed). */
    lq_err_t (*on_head)(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx);
    /* Decoded body bytes, in order. data is valid during the call only. Return LQ_OK to
     * go on; anything else aborts. */
    lq_err_t (*on_body)(lq_conn_t *c, const char *data, size_t len, void *ctx);
    /* The request ended: LQ_OK (whole response received) or the error. Called exactly
     * once per accepted request. c->error holds the reason when err != LQ_OK. */
    void (*on_done)(lq_conn_t *c, lq_err_t err, void *ctx);
    void *ctx;
} lq_conn_handler_t;

typedef enum lq_conn_state {
    LQ_CONN_IDLE = 0,   /* no request; may hold an open keep-alive connection */
    LQ_CONN_CONNECTING,
    LQ_CONN_HANDSHAKE,
    LQ_CONN_SENDING,
    LQ_CONN_HEAD,
    LQ_CONN_BODY
} lq_conn_state_t;

typedef struct lq_conn_stats {
    uint64_t requests;
    uint64_t connects;
    uint64_t reuses;      /* requests sent on a kept-alive connection */
    uint64_t failures;
    uint64_t bytes_in;    /* decoded body bytes */
} lq_conn_stats_t;

struct lq_conn {
    /* readable by the owner */
    lq_conn_state_t state;
    char error[LQ_CONN_ERR_MAX];
    lq_conn_stats_t stats;
    /* private */
    lq_loop_t *loop_;
    const lq_conn_target_t *target_;
    lq_loop_io_t io_;
    lq_loop_timer_t timer_;
    lq_port_fd_t fd_;
    int tls_;            /* session handle or -1 */
    bool open_;          /* a connection (TCP and TLS done) exists */
    bool reused_;
    int64_t timeout_ms_;
    lq_conn_handler_t h_;
    lq_http_resp_t resp_;
    lq_http_body_t body_;
    size_t tx_len_, tx_off_;  /* head bytes in tx_; bytes sent of head + body */
    const char *body_ptr_;    /* request body, borrowed from the caller until on_done */
    size_t body_len_;
    size_t rx_len_;
    char tx_[LQ_CONN_TX_BUF];
    char rx_[LQ_CONN_RX_BUF];
};

/* Binds a connection to a loop and a target. Cannot fail. */
void lq_conn_init(lq_conn_t *c, lq_loop_t *loop, const lq_conn_target_t *target);

/* Starts a request. req->host/port are taken from the target when NULL/0. The request
 * head must fit LQ_CONN_TX_BUF; req->body (with has_body) is borrowed until on_done. timeout_ms bounds the
 * time until the response head arrives (connect + handshake + send + wait); 0 = none
 * (watches: the owner manages liveness). Connects first when no connection is open.
 * Returns LQ_OK (on_done will be called), LQ_ESTATE (a request is in progress),
 * LQ_ETOOBIG / LQ_EINVAL (request does not render; on_done is not called). */
lq_err_t lq_conn_request(lq_conn_t *c, const lq_http_req_t *req, const lq_conn_handler_t *h,
                         int64_t timeout_ms);

/* Aborts the current request (on_done gets LQ_ECLOSED) and closes the connection.
 * Idempotent. */
void lq_conn_close(lq_conn_t *c);

/* Local address of the open connection (node IP default, DESIGN.md Decision 10). */
lq_err_t lq_conn_local_addr(const lq_conn_t *c, char *buf, size_t cap);

#endif
