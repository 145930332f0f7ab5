/* liqolet: list + watch of one resource on one connection (a reflector's input).
 *
 *   LIST (paginated, limit/continue) --synced--> WATCH from the list's resourceVersion
 *        ^                                          |  bookmarks advance the version
 *        |                                          |  server timeout: watch again
 *        +------- 410 Gone / Expired <--------------+  failure: backoff, watch again
 *
 * Or, when the server supports it (cfg.watch_list), one streaming watch-list request
 * (sendInitialEvents=true) replaces the LIST: its initial events are delivered as
 * LQ_WATCH_LISTED and the bookmark marked k8s.io/initial-events-end ends the sync.
 * A server that refuses watch-list is remembered and LIST is used from then on.
 *
 * Every object (list item or event) arrives through on_event with its bytes; objects over
 * the event buffer are delivered with oversized=true, their prefix and exact size, never
 * truncated (DESIGN.md Decision 6). A relist calls on_relist first, so the owner can mark
 * its records, and on_synced at the end, so it can sweep the ones not seen again.
 * Nothing blocks: the connection and timers run in the event loop.
 * Requests go through lq_kreq_stream_send (kreq.h): the kubeconfig's server path prefix,
 * the bearer token and its re-read after a 401 come from cfg.kcfg. */
#ifndef LIQOLET_WATCH_H
#define LIQOLET_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/backoff.h"
#include "liqolet/conn.h"
#include "liqolet/frame.h"
#include "liqolet/kreq.h"
#include "liqolet/kubeconfig.h"
#include "liqolet/scan.h"

#ifndef LQ_WATCH_PATH_MAX
#define LQ_WATCH_PATH_MAX 1024u
#endif
#ifndef LQ_WATCH_PAGE
#define LQ_WATCH_PAGE 500u /* LIST page size (limit) */
#endif
/* A watch stream (or LIST body) that brings no byte for this long is taken as dead and
 * resumed from its last version: kube-apiserver sends a bookmark about every minute to a
 * watch that asked for them, so three minutes of silence means a flow a NAT or a broken
 * link dropped without telling either end (TCP keepalive would take hours). */
#ifndef LQ_WATCH_IDLE_MS
#define LQ_WATCH_IDLE_MS 180000
#endif

typedef enum lq_watch_type {
    LQ_WATCH_LISTED = 0, /* from a LIST page or the initial events of a watch-list */
    LQ_WATCH_ADDED,
    LQ_WATCH_MODIFIED,
    LQ_WATCH_DELETED
} lq_watch_type_t;

typedef struct lq_watch_event {
    lq_watch_type_t type;
    /* The bytes: a bare object for LISTED from a LIST page; the whole watch event
     * {"type":..,"object":{..}} otherwise (wrapped = true). */
    const char *data;
    size_t len;
    bool wrapped;
    bool oversized;  /* data is only a prefix; total is the real size */
    uint64_t total;
    lq_scan_meta_t meta; /* namespace, name, uid, resourceVersion views into data */
} lq_watch_event_t;

typedef struct lq_watch lq_watch_t;

typedef struct lq_watch_handler {
    /* Return LQ_OK; an error aborts the current request and the watch backs off. */
    lq_err_t (*on_event)(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx);
    void (*on_relist)(lq_watch_t *w, void *ctx);  /* a full (re)list starts */
    void (*on_synced)(lq_watch_t *w, void *ctx);  /* the (re)list is complete */
    void *ctx;
    /* optional: the server answered a LIST/WATCH with a non-2xx status (before the
     * backoff), e.g. 404 when a CRD is not installed */
    void (*on_http_error)(lq_watch_t *w, int status, void *ctx);
} lq_watch_handler_t;

typedef struct lq_watch_cfg {
    const char *path;            /* collection, e.g. "/api/v1/pods" (borrowed) */
    const char *label_selector;  /* optional (borrowed) */
    const char *field_selector;  /* optional (borrowed) */
    /* Credentials (borrowed for the watch's life): the server's path prefix, the bearer
     * token, and its re-read on a 401 (then the request is sent again at once). Requests
     * are built by lq_kreq_stream_send, like every streamed request. */
    lq_kcfg_t *kcfg;             /* NULL: no prefix, no token */
    bool watch_list;             /* try sendInitialEvents=true first */
    bool quiet_not_found;        /* log 404 answers at debug level (an optional CRD) */
    uint32_t timeout_s;          /* server-side watch timeout (default 300) */
    uint32_t backoff_base_ms;    /* default 500 */
    uint32_t backoff_max_ms;     /* default 30000 */
} lq_watch_cfg_t;

typedef enum lq_watch_state {
    LQ_WATCH_IDLE = 0,
    LQ_WATCH_LISTING,
    LQ_WATCH_WATCHING,
    LQ_WATCH_BACKOFF
} lq_watch_state_t;

typedef struct lq_watch_stats {
    uint64_t events;
    uint64_t listed;
    uint64_t bookmarks;
    uint64_t oversized;
    uint64_t relists;
    uint64_t rewatches;   /* watch requests after the first */
    uint64_t gone;        /* 410 / Expired seen */
    uint64_t failures;
} lq_watch_stats_t;

struct lq_watch {
    /* readable by the owner */
    lq_watch_state_t state;
    bool synced;
    char rv[64];                 /* last resourceVersion seen ("" before the first list) */
    lq_watch_stats_t stats;
    char last_error[LQ_CONN_ERR_MAX];
    /* private */
    lq_conn_t *conn_;
    lq_kreq_stream_t st_;        /* requests on conn_: prefix, token, 401 re-read */
    lq_loop_t *loop_;
    lq_watch_cfg_t cfg_;
    lq_watch_handler_t h_;
    lq_loop_timer_t timer_;
    lq_backoff_t backoff_;
    uint64_t jit_;               /* spreads server-side watch timeouts */
    bool wl_supported_;          /* false once the server refused watch-list */
    bool wl_active_;             /* the current request is a watch-list */
    bool relist_;                /* the next request must be a full relist */
    bool stopping_;
    int status_;
    char cont_[LQ_LIST_CONTINUE_MAX + 1u];
    char path_[LQ_WATCH_PATH_MAX];
    char errbody_[512];
    size_t errbody_len_;
    char *buf_;
    size_t cap_;
    union {
        lq_frame_list_t list;
        lq_frame_watch_t watch;
    } fr_;
};

/* Binds a watch to a connection (owned by the caller, used only by this watch) and an
 * event buffer (normally LQ_MAX_OBJECT bytes). Cannot fail. */
void lq_watch_init(lq_watch_t *w, lq_loop_t *loop, lq_conn_t *conn, char *buf, size_t cap,
                   const lq_watch_cfg_t *cfg, const lq_watch_handler_t *h);
/* Starts with a full list. Returns LQ_OK, or LQ_ETOOBIG when the path and selectors do
 * not fit LQ_WATCH_PATH_MAX. */
lq_err_t lq_watch_start(lq_watch_t *w);
/* Stops: aborts the request, cancels timers. Idempotent. */
void lq_watch_stop(lq_watch_t *w);

#endif
