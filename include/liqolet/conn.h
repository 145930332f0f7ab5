/* liqolet: one HTTP/1.1 connection to an API server, driven by the event loop.
 *
 * State machine: IDLE -> CONNECTING -> HANDSHAKE (TLS) -> SENDING -> HEAD -> BODY ->
 * IDLE (keep-alive) | CLOSED. One request at a time. The response head is handed to the
 * owner once parsed, then the decoded body in pieces as it arrives (a watch is one
 * endless body), then completion with an lq_err_t. Failures of any stage end the request
 * with an error and a sentence in lq_conn_t.error naming the server; the connection is
 * closed and the next request reconnects. Nothing waits: everything resumes from the loop.
 *
 * Flow control, both ways, for piping an object larger than any buffer from one API
 * server to another (a streamed GET on one connection feeding a chunked PATCH on the
 * other, through the owner's small ring):
 *   - Streamed request bodies: a handler with on_send (and no fixed body) sends its body
 *     with "Transfer-Encoding: chunked", pulled chunk by chunk as the socket takes it;
 *     the producer says "nothing now" with LQ_AGAIN and wakes the connection with
 *     lq_conn_send_resume. The response is read while the body is still going out, so an
 *     early answer (an API server rejecting the request) stops the upload.
 *   - Read back-pressure: lq_conn_read_pause stops reading and decoding (no on_body, no
 *     socket or TLS reads) until un-paused; nothing is lost or re-ordered.
 * lq_conn_send_resume and lq_conn_read_pause never call the owner's callbacks: the work
 * they allow runs from the loop, so owners may call them from any callback, of this
 * connection or another one.
 *
 * Transport: TLS through src/kube/tls.c when target->tls_profile >= 0; plain TCP otherwise
 * (unit tests on the fake port, and nothing else: a target without TLS is refused by
 * the configuration layer).
 *
 * Memory: a connection owns a fixed receive buffer (LQ_CONN_RX_BUF) and a transmit
 * buffer for request heads (LQ_CONN_TX_BUF); a fixed request body is sent from the
 * caller's own buffer, which must stay valid until on_done; a streamed body is produced
 * into the transmit buffer one chunk at a time. The struct is caller-owned (static). */
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

/* Bytes an on_send producer may write per call: the transmit buffer minus room for the
 * chunk framing (size line before, CRLF and a possible last-chunk after). */
#define LQ_CONN_CHUNK_HEAD 18u /* up to 16 hex digits + CRLF */
#define LQ_CONN_CHUNK_TAIL 7u  /* CRLF + "0\r\n\r\n" */
#define LQ_CONN_SEND_CAP (LQ_CONN_TX_BUF - LQ_CONN_CHUNK_HEAD - LQ_CONN_CHUNK_TAIL)
_Static_assert(LQ_CONN_TX_BUF > 2u * (LQ_CONN_CHUNK_HEAD + LQ_CONN_CHUNK_TAIL),
               "the transmit buffer must hold a useful chunk");

/* The owner's callbacks for one request. Any may be NULL. They run from the loop.
 * Initialise with designated fields (.on_head = ...): members may be added. */
typedef struct lq_conn_handler {
    /* Response head parsed. Return LQ_OK to go on reading the body; anything else
     * aborts the request (the connection is closed). */
    lq_err_t (*on_head)(lq_conn_t *c, const lq_http_resp_t *resp, void *ctx);
    /* Decoded body bytes, in order. data is valid during the call only; a piece is at
     * most LQ_CONN_RX_BUF bytes. Return LQ_OK to go on; anything else aborts. The
     * bytes of the call count as consumed either way; lq_conn_read_pause(c, true) from
     * here stops delivery right after this piece (the response end included). */
    lq_err_t (*on_body)(lq_conn_t *c, const char *data, size_t len, void *ctx);
    /* The request ended: LQ_OK (whole response received) or the error. Called exactly
     * once per accepted request. c->error holds the reason when err != LQ_OK. */
    void (*on_done)(lq_conn_t *c, lq_err_t err, void *ctx);
    void *ctx;
    /* Streamed request body (optional; ignored when the request has a fixed body). The
     * head then carries "Transfer-Encoding: chunked" and no Content-Length, and once it
     * is sent the connection calls on_send whenever the socket can take more. The
     * producer writes at most cap (LQ_CONN_SEND_CAP) bytes into buf, which is the
     * connection's own transmit buffer, and returns:
     *   LQ_OK, *len > 0         the bytes go out as one chunk;
     *   LQ_OK, *eof = true      (with or without bytes) the last chunk "0\r\n\r\n"
     *                           follows and the response is awaited as usual;
     *   LQ_AGAIN                nothing now (LQ_OK with *len == 0 and no eof is the
     *                           same): on_send is not called again until the owner
     *                           calls lq_conn_send_resume;
     *   any other error         aborts the request: the connection is closed without
     *                           the last chunk, so the server discards the request, and
     *                           on_done gets the error.
     * *len and *eof come in as 0 / false. A final response that arrives before the
     * body is complete (an early error) ends the upload: on_send is not called again,
     * the response is delivered as usual and the connection is closed after it. While
     * a streamed body is being produced and sent, the request timeout counts from the
     * last piece sent (an idle timeout), then from the last chunk to the response
     * head. */
    lq_err_t (*on_send)(lq_conn_t *c, char *buf, size_t cap, size_t *len, bool *eof,
                        void *ctx);
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
    uint64_t chunks_out;  /* chunks of streamed request bodies sent (last chunks too) */
    uint64_t early_responses; /* final responses that cut a streamed body short */
    uint64_t trailing_garbage; /* responses followed by bytes nobody asked for (closed) */
    uint64_t body_stalls; /* responses that stopped arriving (lq_conn_set_body_idle) */
    uint64_t deadlines;   /* requests cut by their total deadline (lq_conn_set_total) */
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
    lq_loop_timer_t total_timer_; /* lq_conn_set_total: runs from request to on_done */
    lq_port_fd_t fd_;
    int tls_;            /* session handle or -1 */
    bool open_;          /* a connection (TCP and TLS done) exists */
    bool reused_;
    int64_t timeout_ms_;
    int64_t body_idle_ms_;    /* lq_conn_set_body_idle; 0: none */
    int64_t total_ms_;        /* lq_conn_set_total; 0: none */
    int64_t total_run_ms_;    /* the total deadline of the request in progress */
    lq_conn_handler_t h_;
    lq_http_resp_t resp_;
    lq_http_body_t body_;
    size_t tx_len_, tx_off_;  /* head bytes in tx_; bytes sent of head + body */
    const char *body_ptr_;    /* request body, borrowed from the caller until on_done */
    size_t body_len_;
    size_t rx_len_;
    uint32_t gen_;            /* bumped when a request ends: callbacks may end it */
    bool stream_;             /* the body comes from h_.on_send, chunked */
    bool head_sent_;          /* the request head is out */
    bool send_wait_;          /* on_send said LQ_AGAIN: wait for lq_conn_send_resume */
    bool send_done_;          /* the last chunk is queued or out */
    bool in_send_, resumed_;  /* inside on_send; resumed from inside it */
    bool cut_;                /* the upload stopped early: close after the response */
    bool paused_;             /* lq_conn_read_pause */
    bool backlog_;            /* rx_ holds bytes not processed because of a pause */
    bool kick_;               /* dispatch on_io from the loop's next iteration */
    char tx_[LQ_CONN_TX_BUF];
    char rx_[LQ_CONN_RX_BUF];
};

/* Binds a connection to a loop and a target. Cannot fail. */
void lq_conn_init(lq_conn_t *c, lq_loop_t *loop, const lq_conn_target_t *target);

/* Starts a request. req->host/port are taken from the target when NULL/0. The request
 * head must fit LQ_CONN_TX_BUF; req->body (with has_body) is borrowed until on_done.
 * Without a body (has_body false, body NULL) and with h->on_send, the body is streamed
 * (chunked, see on_send); req->chunked is set by the connection then and must not be
 * set by the caller otherwise. timeout_ms bounds the time until the response head
 * arrives (connect + handshake + send + wait; with a streamed body, the time since the
 * last piece sent); 0 = none (watches: the owner manages liveness). Connects first when
 * no connection is open.
 * Returns LQ_OK (on_done will be called), LQ_ESTATE (a request is in progress),
 * LQ_ETOOBIG / LQ_EINVAL (request does not render, or req->chunked without on_send;
 * on_done is not called). */
lq_err_t lq_conn_request(lq_conn_t *c, const lq_http_req_t *req, const lq_conn_handler_t *h,
                         int64_t timeout_ms);

/* Once a response head has arrived, the request fails with LQ_ETIMEDOUT ("response
 * stalled") when no byte arrives for ms (0: never, the default): a server that trickles,
 * a watch whose stream went silent behind a NAT that dropped the flow. Time paused by the
 * owner (lq_conn_read_pause) does not count. Watches use a heartbeat-sized value
 * (bookmarks); other requests their own timeout. Kept for every later request. */
void lq_conn_set_body_idle(lq_conn_t *c, int64_t ms);

/* Total deadline: a request not complete (last body byte decoded) ms after
 * lq_conn_request fails with LQ_ETIMEDOUT ("not complete within"), whatever its bytes
 * look like: a server trickling a byte a second keeps the idle deadline quiet but not
 * this one. The connection is closed. 0: none (the default; watches and other streams,
 * whose length is theirs). Time paused by the owner counts. Kept for every later request;
 * a change applies from the next request. */
void lq_conn_set_total(lq_conn_t *c, int64_t ms);

/* Aborts the current request (on_done gets LQ_ECLOSED) and closes the connection; a
 * streamed body is left without its last chunk. Idempotent. */
void lq_conn_close(lq_conn_t *c);

/* The producer of a streamed body has bytes again after returning LQ_AGAIN: on_send
 * will be called from the loop (never from here). Does nothing when the connection is
 * not waiting for its producer (a resume before the LQ_AGAIN, made from inside
 * on_send, is remembered). */
void lq_conn_send_resume(lq_conn_t *c);

/* Read back-pressure. paused = true: from now on the connection reads and decodes
 * nothing more (no on_body, on_head or on_done for the response, no socket or TLS
 * reads); what is already buffered stays where it is. Called from on_body of c itself,
 * it takes effect right after the current piece. paused = false: processing of what is
 * buffered resumes from the loop's next iteration (never from inside this call), then
 * reading. A pause does not count against the request timeout once the response head
 * has arrived (the timeout only bounds the wait for the head). The pause ends with the
 * request; a socket error reported while paused (the connection broke) fails the
 * request with LQ_EIO. Either call when nothing changes is a no-op. */
void lq_conn_read_pause(lq_conn_t *c, bool paused);

/* Local address of the open connection (node IP default, DESIGN.md Decision 10). */
lq_err_t lq_conn_local_addr(const lq_conn_t *c, char *buf, size_t cap);
/* The TLS version and cipher suite negotiated ("TLSv1.3 TLS1-3-AES-128-GCM-SHA256"), or
 * "" when no TLS session is established (plain HTTP, or before the handshake). */
const char *lq_conn_tls_info(const lq_conn_t *c);

#endif
