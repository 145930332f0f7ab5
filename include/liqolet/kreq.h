/* liqolet: Kubernetes REST requests over a small fixed pool of connections (one client
 * per API server), and streamed requests on a connection the caller owns (watches, the
 * capacity scan's paginated LISTs, `liqolet check`): see "streamed requests" below.
 * Both kinds get their request head from one place, lq_kreq_head.
 *
 * Model. A client (lq_kreq_client_t, caller-owned, static: it embeds LQ_MAX_REQ_CONNS
 * connections and their buffers) carries requests (lq_kreq_t, caller-owned, e.g. inside
 * a reconciler record). A verb helper fills a request; lq_kreq_submit hands it to the
 * client, which sends it on an idle connection or links it into a FIFO queue (no
 * allocation, no limit besides the caller's own records). The done callback runs exactly
 * once per submitted request, from the loop, unless the request is cancelled.
 *
 * What the client does by itself, following DESIGN.md Decision 5:
 *   - Authorization: Bearer <token> from the lq_kcfg_t on every attempt (when it has a
 *     token); kcfg->path_prefix is put in front of every path.
 *   - 401: lq_kcfg_token_refresh(force) once per request; re-sent at once if the token
 *     changed, else the request fails with LQ_EAUTH.
 *   - 408, 429, 5xx and transport failures (LQ_ECONNREFUSED, LQ_ECLOSED, LQ_ETIMEDOUT,
 *     LQ_EIO): retried after a jittered exponential backoff (per request, lq_backoff),
 *     or after Retry-After seconds when the server sends it (capped at
 *     retry_after_cap_ms), up to max_attempts attempts in all; then the last error.
 *     Every verb is retried, POST included: a create that reached the server answers
 *     the retry with 409 AlreadyExists (ADOPT), and the caller's adopt path checks
 *     ownership anyway; a DELETE that reached the server answers 404 (treat as done)
 *     or 409 (uid precondition) on the retry.
 *   - Other non-2xx: never retried here. The metav1.Status body is decoded (reason,
 *     message) and mapped with lq_kapi_classify: 409 gives LQ_ECONFLICT with action
 *     REREAD (or ADOPT for AlreadyExists), 404 LQ_ENOTFOUND, 403 LQ_EFORBIDDEN, ...
 *
 * Response bodies. A 2xx body goes into the request's response buffer. A body larger
 * than the buffer is LQ_ETOOBIG (never truncated): resp_len then tells the size needed
 * when known, and the connection is drained (up to LQ_KREQ_DRAIN_MAX extra bytes) or
 * closed. A non-2xx body goes into a per-connection scratch buffer, to decode Status.
 *
 * Logs carry method, path, status and the server's message; never the token. */
#ifndef LIQOLET_KREQ_H
#define LIQOLET_KREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/backoff.h"
#include "liqolet/config_defaults.h"
#include "liqolet/conn.h"
#include "liqolet/err.h"
#include "liqolet/kapi.h"
#include "liqolet/kubeconfig.h"
#include "liqolet/loop.h"

/* Path plus query of one request ("/api/v1/namespaces/a/pods/b?fieldManager=x"). */
#ifndef LQ_KREQ_PATH_MAX
#define LQ_KREQ_PATH_MAX 1024u
#endif
/* metav1.Status reason ("AlreadyExists"); a longer reason is dropped (left ""). */
#define LQ_KREQ_REASON_MAX 64u
/* Status message or connection error sentence; a longer message is cut and ends in
 * "..." (visibly shortened, for humans only; the code never parses it). */
#define LQ_KREQ_MSG_MAX LQ_CONN_ERR_MAX
/* Error bodies (metav1.Status) kept per connection for decoding. */
#ifndef LQ_KREQ_STATUS_BUF
#define LQ_KREQ_STATUS_BUF 2048u
#endif
/* Bytes read and discarded past the response buffer before the connection is closed
 * instead (a big chunked body is not worth reading to keep the connection). */
#ifndef LQ_KREQ_DRAIN_MAX
#define LQ_KREQ_DRAIN_MAX (64u * 1024u)
#endif
/* Request target on the wire: the kubeconfig's server path prefix plus path and query. */
#define LQ_KREQ_TARGET_MAX (LQ_KREQ_PATH_MAX + sizeof(((lq_kcfg_t *)0)->path_prefix))
/* Accept header asking for the object's metadata only (PartialObjectMetadata), on any
 * verb: the answer to a GET or a server-side apply of a 1 MiB ConfigMap stays small. */
#define LQ_KREQ_ACCEPT_META "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," \
                            "application/json"
/* Built-in DeleteOptions body (preconditions uid + propagationPolicy). */
#define LQ_KREQ_OPTS_MAX 192u

#define LQ_KREQ_DEFAULT_TIMEOUT_MS 30000
/* Connections of a client: LQ_MAX_REQ_CONNS for every request, plus one kept for
 * priority requests (lq_kreq_t.priority). */
#define LQ_KREQ_CONNS (LQ_MAX_REQ_CONNS + 1)
/* A response body that stops arriving for this long fails its request (and is retried as
 * a broken connection): a trickling or silently dropped server cannot hold a slot. */
#define LQ_KREQ_BODY_IDLE_MS 30000
#define LQ_KREQ_DEFAULT_ATTEMPTS 5u
#define LQ_KREQ_DEFAULT_BACKOFF_BASE_MS 500u
#define LQ_KREQ_DEFAULT_BACKOFF_MAX_MS 30000u
#define LQ_KREQ_DEFAULT_RETRY_AFTER_CAP_MS 60000u

typedef struct lq_kreq lq_kreq_t;
typedef struct lq_kreq_client lq_kreq_client_t;

/* Completion. err is r->err (LQ_OK for a 2xx whose body fit). Runs from the loop; the
 * callback may re-fill and re-submit r, or submit others. */
typedef void lq_kreq_done_fn(lq_kreq_t *r, lq_err_t err, void *ctx);

typedef enum lq_kreq_state {
    LQ_KREQ_IDLE = 0,  /* not submitted, or done */
    LQ_KREQ_QUEUED,    /* waiting for a connection */
    LQ_KREQ_SENT,      /* on a connection */
    LQ_KREQ_BACKOFF    /* waiting to be retried */
} lq_kreq_state_t;

struct lq_kreq {
    /* ---- set by lq_kreq_init and the verb helpers; may be adjusted before submit ---- */
    const char *method;        /* static string */
    char path[LQ_KREQ_PATH_MAX];
    const char *content_type;  /* NULL when there is no body */
    const char *accept;        /* Accept header (static string); NULL = application/json.
                                  Kept by the verb helpers; cleared by lq_kreq_init */
    const char *body;          /* borrowed until done; NULL = no body */
    size_t body_len;
    char *resp;                /* borrowed response buffer, NULL = discard the body */
    size_t resp_cap;
    int64_t timeout_ms;        /* per attempt, until the response head; default 30 s */
    bool priority;             /* goes before every queued request, and may use the
                                  connection kept for such requests (LQ_KREQ_CONNS):
                                  Lease renewals and health pings, so bulk traffic never
                                  makes the node NotReady. Cleared by lq_kreq_init */
    unsigned max_attempts;     /* 0 = the client's */
    lq_kreq_done_fn *done;
    void *ctx;
    /* ---- results, valid in the done callback (reset at submit) ---- */
    lq_err_t err;
    lq_kapi_action_t action;   /* what the caller should do (REREAD, ADOPT, ...) */
    int status;                /* HTTP status of the last attempt; 0 = no response */
    size_t resp_len;           /* body bytes in resp; with LQ_ETOOBIG the size needed
                                  (Content-Length) or a lower bound */
    char reason[LQ_KREQ_REASON_MAX];  /* Status reason, "" if none */
    char message[LQ_KREQ_MSG_MAX];    /* Status message or the transport error, "" if none */
    unsigned attempts;         /* attempts made (1 = no retry) */
    lq_kreq_state_t state;
    /* ---- private ---- */
    lq_kreq_t *next_;
    lq_kreq_client_t *cl_;
    lq_loop_timer_t timer_;
    lq_backoff_t backoff_;
    bool reauthed_;
    char opts_[LQ_KREQ_OPTS_MAX];
};

typedef struct lq_kreq_stats {
    uint64_t submitted;   /* lq_kreq_submit calls accepted */
    uint64_t sent;        /* attempts handed to a connection */
    uint64_t retries;     /* attempts after backoff */
    uint64_t reauths;     /* re-sends after a 401 with a rotated token */
    uint64_t completed;   /* done callbacks with LQ_OK */
    uint64_t failures;    /* done callbacks with an error */
    uint32_t queued;      /* waiting now */
    uint32_t queue_hwm;   /* high-water mark of `queued` */
    uint64_t priority_reserved; /* priority requests sent on the kept connection */
    /* per-connection reuse: conns[i].stats.reuses / .connects */
} lq_kreq_stats_t;

/* Per-connection bookkeeping (private). */
typedef struct lq_kreq_slot_ {
    lq_kreq_client_t *cl;
    lq_kreq_t *req;
    bool ok_status;       /* 2xx head */
    bool has_ra;
    uint32_t retry_after_s;
    uint64_t expect_len;  /* Content-Length, or 0 */
    bool has_len;
    bool too_big;         /* 2xx body larger than the response buffer */
    size_t status_len;
    bool status_overflow;
    uint64_t got;         /* body bytes seen */
    char target[LQ_KREQ_TARGET_MAX];
    char status_body[LQ_KREQ_STATUS_BUF];
} lq_kreq_slot_t;

struct lq_kreq_client {
    /* ---- configuration: defaults from lq_kreq_client_init, adjustable before use ---- */
    unsigned max_attempts;          /* 5 */
    uint32_t backoff_base_ms;       /* 500 */
    uint32_t backoff_max_ms;        /* 30000 */
    uint32_t retry_after_cap_ms;    /* 60000 */
    /* ---- readable ---- */
    lq_kreq_stats_t stats;
    lq_conn_t conns[LQ_KREQ_CONNS]; /* the last one serves priority requests only */
    /* ---- private ---- */
    lq_loop_t *loop_;
    const lq_conn_target_t *target_;
    lq_kcfg_t *kcfg_;
    lq_kreq_t *head_, *tail_;
    uint64_t seq_;
    bool pumping_, again_;
    lq_kreq_slot_t slots_[LQ_KREQ_CONNS];
};

/* ---- client ---------------------------------------------------------------------- */

/* Binds a client to a loop, a target and credentials (all borrowed for the client's
 * life; kcfg may be NULL for no bearer token, and is written by the 401 refresh).
 * Sets the configuration defaults above. Cannot fail. */
void lq_kreq_client_init(lq_kreq_client_t *cl, lq_loop_t *loop, const lq_conn_target_t *target,
                         lq_kcfg_t *kcfg);

/* Hands r (filled by a verb helper, its response buffer set) to the client. r and what
 * it borrows (body, resp) must stay valid until the done callback (or lq_kreq_cancel).
 * The request may be sent, and even completed (done called), before this returns, e.g.
 * when the connection is refused at once and no retry is left.
 * Returns LQ_OK (done will be called); LQ_EINVAL (NULL, no method/path or no done
 * callback); LQ_ESTATE (r is already pending). Nothing is called on an error. */
lq_err_t lq_kreq_submit(lq_kreq_client_t *cl, lq_kreq_t *r);

/* Withdraws a pending request: unlinked from the queue, its backoff timer stopped, or
 * its connection closed when it is in flight. Its done callback is not called.
 * Returns LQ_OK, or LQ_ENOTFOUND when r is not pending (already done, never sent). */
lq_err_t lq_kreq_cancel(lq_kreq_t *r);

/* True when err is a failure of the connection (refused, closed, timed out, I/O, TLS,
 * name resolution) rather than an answer of the API server. */
bool lq_kreq_transport_err(lq_err_t err);

/* ---- requests --------------------------------------------------------------------- */

/* Clears r and sets the response buffer (resp/cap, borrowed; NULL/0 = discard), the done
 * callback and its ctx, the default timeout and attempts. Cannot fail. Call it once;
 * the verb helpers keep these fields, so r can be re-filled and re-submitted. */
void lq_kreq_init(lq_kreq_t *r, char *resp, size_t resp_cap, lq_kreq_done_fn *done, void *ctx);

/* Verb helpers. path is an origin-form path (build it with lq_kapi_path), copied into
 * r->path; body is borrowed until done. Each returns LQ_OK; LQ_EINVAL for NULL r/path,
 * a path not starting with '/', or NULL body with body_len > 0; LQ_ESTATE when r is
 * pending; LQ_ETOOBIG when the path (plus query) does not fit LQ_KREQ_PATH_MAX. */
lq_err_t lq_kreq_get(lq_kreq_t *r, const char *path);
/* POST, application/json. */
lq_err_t lq_kreq_create(lq_kreq_t *r, const char *path, const char *body, size_t body_len);
/* PUT, application/json (the body carries metadata.resourceVersion for optimism). */
lq_err_t lq_kreq_update(lq_kreq_t *r, const char *path, const char *body, size_t body_len);
/* PATCH, application/merge-patch+json. */
lq_err_t lq_kreq_merge_patch(lq_kreq_t *r, const char *path, const char *body, size_t body_len);
/* Server-side apply: PATCH application/apply-patch+yaml with
 * ?fieldManager=<field_manager>&force=true (JSON is valid YAML, so body is the JSON
 * object). field_manager must be non-empty (LQ_EINVAL), at most 128 bytes. */
lq_err_t lq_kreq_apply(lq_kreq_t *r, const char *path, const char *field_manager,
                       const char *body, size_t body_len);
/* The same without force: fields another manager owns with other values make the API
 * server answer 409 Conflict instead of taking them over (for objects the agent must not
 * overwrite when it did not write them, e.g. reflected Events). */
lq_err_t lq_kreq_apply_noforce(lq_kreq_t *r, const char *path, const char *field_manager,
                               const char *body, size_t body_len);
/* DELETE with a DeleteOptions body: preconditions.uid when uid is non-NULL/non-empty,
 * propagationPolicy ("Foreground", "Background", "Orphan") when propagation is
 * non-NULL/non-empty; without both, no body. The body lives in r itself.
 * LQ_EINVAL also when uid or propagation hold '"', '\\' or control bytes. */
lq_err_t lq_kreq_delete(lq_kreq_t *r, const char *path, const char *uid,
                        const char *propagation);
/* The same with DeleteOptions.gracePeriodSeconds = grace_s when grace_s >= 0 (0: delete
 * at once, e.g. a pod no kubelet will finish). The API server ignores query parameters
 * when a DeleteOptions body is sent, so the grace period goes in the body. */
lq_err_t lq_kreq_delete_grace(lq_kreq_t *r, const char *path, const char *uid,
                              const char *propagation, int64_t grace_s);
/* Turns the filled request's path into its status subresource: ".../NAME" becomes
 * ".../NAME/status" (before any query). Call after a verb helper (update, merge patch,
 * apply, get). LQ_ETOOBIG when it no longer fits (r->path unchanged); LQ_EINVAL when
 * the path already ends in /status or is empty; LQ_ESTATE when r is pending. */
lq_err_t lq_kreq_status(lq_kreq_t *r);

/* Decodes a metav1.Status body (the answer to a failed request): reason into
 * reason[reason_cap] ("" if none) and message into msg[msg_cap] (cut with "..." when
 * longer; left alone if none). false when body is not a Status. Single-threaded: uses
 * one static arena. */
bool lq_kreq_status_decode(const char *body, size_t len, char *reason, size_t reason_cap,
                           char *msg, size_t msg_cap);

/* ---- the request head ------------------------------------------------------------ */

/* Fills q with what every request to an API server carries, buffered or streamed:
 * method; target = kcfg->path_prefix (trailing '/' dropped) + path (with its query),
 * written into target[cap] (q->target points there); "Accept: application/json";
 * "User-Agent: liqolet/<version>"; "Authorization: Bearer <token>" when kcfg has a token.
 * kcfg may be NULL (no prefix, no token). The token is borrowed, so q is for immediate
 * use (lq_conn_request renders it at once). Everything else in q is zeroed.
 * Returns LQ_OK; LQ_EINVAL (NULL q/target/method/path, path not starting with '/');
 * LQ_ETOOBIG (prefix + path do not fit cap). Pure: no I/O. */
lq_err_t lq_kreq_head(lq_http_req_t *q, char *target, size_t cap, const lq_kcfg_t *kcfg,
                      const char *method, const char *path);

/* ---- streamed requests ------------------------------------------------------------ */

/* A request whose response the caller reads itself, piece by piece, on its own
 * lq_conn_t (an endless watch, a LIST streamed through lq_frame_list). The head comes
 * from lq_kreq_head. The helper sits between the connection and the caller's handler
 * and does one thing on its own: a 401 answer makes it re-read the token
 * (lq_kcfg_token_refresh, force) once per request; when the token changed, the 401
 * response is consumed silently and the request is sent again with the new token, so
 * the caller only sees the second answer. Otherwise (no kcfg, token unchanged, second
 * 401) the caller gets the 401 like any other status.
 * Caller-owned (static), one per connection; no allocation. */
typedef struct lq_kreq_stream {
    /* ---- settable after lq_kreq_stream_init, read at each send ---- */
    const char *content_type;   /* media type of a request body (fixed or streamed);
                                   NULL = "application/json". A streamed PATCH wants
                                   e.g. "application/merge-patch+json" */
    const char *accept;         /* Accept header; NULL = "application/json" (e.g.
                                   LQ_KREQ_ACCEPT_META for a small answer) */
    /* ---- readable ---- */
    uint64_t sent;      /* requests handed to the connection, re-sends included */
    uint64_t reauths;   /* re-sends after a 401 with a re-read token */
    /* ---- private ---- */
    lq_conn_t *conn_;
    lq_kcfg_t *kcfg_;
    const char *method_, *path_, *body_;
    size_t body_len_;
    int64_t timeout_ms_;
    lq_conn_handler_t h_;        /* the caller's */
    bool reauthed_;              /* this request already re-read the token */
    bool resend_;                /* swallowing a 401 answer; send again at its end */
} lq_kreq_stream_t;

/* Binds s to a connection (borrowed, used by nothing else meanwhile) and credentials
 * (borrowed; NULL: no prefix and no token; written by the 401 re-read). Cannot fail. */
void lq_kreq_stream_init(lq_kreq_stream_t *s, lq_conn_t *conn, lq_kcfg_t *kcfg);

/* Sends method path (origin-form with its query; the prefix is added here) with an
 * optional body (s->content_type) on the connection, handing the response to h (copied;
 * its callbacks get the connection and h->ctx, as with lq_conn_request). path and body
 * are borrowed until h->on_done (a re-send after a 401 needs them again). timeout_ms
 * bounds the wait for the response head of each attempt (see lq_conn_request).
 * Streamed body: with body NULL and h->on_send set, the body is pulled from h->on_send
 * and sent chunked (see lq_conn_handler_t.on_send; lq_conn_send_resume and
 * lq_conn_read_pause work on s's connection as usual). Such a body is consumed as it
 * goes, so a 401 cannot be answered by sending again: the token is still re-read (once
 * per request, so the caller's next attempt carries a rotated token), and the 401 goes
 * to the caller like any other status. A fixed body wins over on_send.
 * Returns LQ_OK (h->on_done will be called exactly once), LQ_ESTATE (the connection is
 * busy), LQ_EINVAL / LQ_ETOOBIG (the request does not build or render; nothing is
 * called). Close the connection (lq_conn_close) to abort. */
lq_err_t lq_kreq_stream_send(lq_kreq_stream_t *s, const char *method, const char *path,
                             const char *body, size_t body_len, const lq_conn_handler_t *h,
                             int64_t timeout_ms);

#endif
