/* liqolet: the local management endpoint (issue 7; DESIGN.md Decision 12).
 *
 * CoAP (RFC 7252) on --mgmt-listen, served by libcoap inside the agent's one event loop:
 * libcoap's epoll descriptor is watched by lq_loop and its next timeout is folded in by
 * a prepare hook, so nothing blocks and there is no second thread. Resources:
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
 * ETag, without holding it in memory: each block is rendered again from the start into
 * a block-sized window (see lq_mgmt_render). Nothing shown is secret: no token, no key,
 * no Secret data; /objects/secrets lists names only.
 *
 * Addresses: plain CoAP only on loopback addresses. With a pre-shared key
 * (mgmt.pskFile), every address speaks DTLS 1.2 with PSK (coaps) and any address is
 * allowed; a non-loopback address without a key is refused at start-up, before any
 * socket is bound (lq_mgmt_configure).
 *
 * Optional HTTP listener (http.listen): GET /healthz, /readyz (200 or 503) and /metrics,
 * nothing else (src/mgmt/mgmt_http.c).
 *
 * Pull interface. The module knows nothing of the agent's internals: when it needs the
 * agent's state (a request, a notification check every LQ_MGMT_POLL_MS), it zeroes an
 * lq_mgmt_snapshot_t and calls the owner's snapshot callback, which fills in what it
 * knows. Strings in the snapshot are borrowed: they must stay valid until the callback's
 * caller returns to the loop (pointers into the owner's static state are fine).
 *
 * Modules: src/mgmt/mgmt_render.c (pure: rendering, Block2 windows, query and HTTP request
 * parsing, the address rule), src/mgmt/mgmt.c (the only file that includes libcoap; its heap
 * fence), src/mgmt/mgmt_http.c (the HTTP listener).
 *
 *   static lq_mgmt_t mgmt;
 *   lq_mgmt_init(&mgmt);
 *   if (lq_mgmt_configure(&mgmt, &mcfg, msg, sizeof msg) != LQ_OK) -> refuse to start
 *   ... later, once the agent runs:
 *   lq_mgmt_start(&mgmt, &loop, fill_snapshot, NULL, NULL, NULL);
 *   lq_mgmt_changed(&mgmt);          // optional hint: notify observers now
 */
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

/* --- capacities (boards/<board>/lq_board.h may override) ------------------------------ */
/* Connections listed in /status. */
#ifndef LQ_MGMT_MAX_CONNS
#define LQ_MGMT_MAX_CONNS 24
#endif
/* Tables (name, used, capacity, high-water mark) listed in /status and /metrics. */
#ifndef LQ_MGMT_MAX_TABLES
#define LQ_MGMT_MAX_TABLES 16
#endif
/* CoAP sessions libcoap keeps for idle clients (older ones are dropped). */
#ifndef LQ_MGMT_MAX_SESSIONS
#define LQ_MGMT_MAX_SESSIONS 4
#endif
/* DTLS handshakes in progress at once (each takes ~25 KiB of the mbedTLS arena). */
#ifndef LQ_MGMT_MAX_HANDSHAKES
#define LQ_MGMT_MAX_HANDSHAKES 1
#endif
/* Largest Block2 size served (16..1024, a power of two). */
#ifndef LQ_MGMT_BLOCK_MAX
#define LQ_MGMT_BLOCK_MAX 1024u
#endif
/* How often observed resources are checked for changes (ms). */
#ifndef LQ_MGMT_POLL_MS
#define LQ_MGMT_POLL_MS 1000
#endif
/* Simultaneous HTTP connections of the optional listener. */
#ifndef LQ_MGMT_HTTP_CONNS
#define LQ_MGMT_HTTP_CONNS 4
#endif
/* Largest HTTP request head accepted (bytes). */
#ifndef LQ_MGMT_HTTP_REQ_MAX
#define LQ_MGMT_HTTP_REQ_MAX 1024u
#endif
/* Longest DTLS pre-shared key and identity (bytes). */
#define LQ_MGMT_PSK_MAX 64u
#define LQ_MGMT_PSK_ID_MAX 64u
/* Text of the not-ready reasons. */
#define LQ_MGMT_REASON_MAX 256u

_Static_assert(LQ_MGMT_BLOCK_MAX >= 16u && LQ_MGMT_BLOCK_MAX <= 1024u &&
                   (LQ_MGMT_BLOCK_MAX & (LQ_MGMT_BLOCK_MAX - 1u)) == 0u,
               "LQ_MGMT_BLOCK_MAX must be a power of two in 16..1024");

/* --- kinds of reflected objects --------------------------------------------------------
 * X(enum, /objects/<path>, Liqo's reflector name: the reflector_resource label) */
#define LQ_MGMT_KIND_LIST(X)                                                                 \
    X(LQ_MGMT_KIND_POD, "pods", "Pod")                                                       \
    X(LQ_MGMT_KIND_SERVICE, "services", "Service")                                           \
    X(LQ_MGMT_KIND_ENDPOINTSLICE, "endpointslices", "EndpointSlice")                         \
    X(LQ_MGMT_KIND_CONFIGMAP, "configmaps", "ConfigMap")                                     \
    X(LQ_MGMT_KIND_SECRET, "secrets", "Secret")                                              \
    X(LQ_MGMT_KIND_INGRESS, "ingresses", "Ingress")

typedef enum lq_mgmt_kind {
#define LQ_MGMT_KIND_ENUM_(e, path, refl) e,
    LQ_MGMT_KIND_LIST(LQ_MGMT_KIND_ENUM_)
#undef LQ_MGMT_KIND_ENUM_
    LQ_MGMT_KIND_COUNT,
    /* /objects/namespaces: the offloaded namespaces of the snapshot, not a reflected kind */
    LQ_MGMT_KIND_NAMESPACES = LQ_MGMT_KIND_COUNT
} lq_mgmt_kind_t;

/* "pods", ..., "namespaces"; NULL for anything else. */
const char *lq_mgmt_kind_path(int kind);
/* Liqo's reflector name ("Pod", ...); NULL for anything else. */
const char *lq_mgmt_kind_reflector(int kind);

/* --- the snapshot (filled by the owner's callback) -------------------------------------- */

typedef struct lq_mgmt_cluster {
    const char *id;        /* cluster id; NULL = not known yet */
    const char *name;      /* cluster name */
    const char *server;    /* "host:port" of the API server (never a credential) */
    bool reachable;        /* the owner's latest verdict */
} lq_mgmt_cluster_t;

typedef struct lq_mgmt_conn {
    const char *cluster;    /* "home", "foreign" */
    const char *name;       /* "request-0", "watch-nodes", ... */
    const char *state;      /* "idle", "connecting", "handshake", "sending", "head", "body" */
    const char *last_error; /* "" or NULL: none */
    uint64_t requests, connects, failures;
} lq_mgmt_conn_t;

typedef struct lq_mgmt_requests {
    uint64_t submitted, retries, completed, failures;
    uint32_t queued, queue_high_water;
} lq_mgmt_requests_t;

/* One offloaded namespace and its reflection counters (Liqo's metric labels: namespace =
 * the local namespace, reflector_resource = the kind's reflector name). */
typedef struct lq_mgmt_ns {
    const char *local;     /* home namespace */
    const char *remote;    /* foreign namespace ("" while not created) */
    const char *state;     /* e.g. "Ready", "CreationLoopBackOff" */
    uint64_t items[LQ_MGMT_KIND_COUNT];  /* liqo_virtual_kubelet_reflection_item_counter */
    uint64_t errors[LQ_MGMT_KIND_COUNT]; /* liqo_virtual_kubelet_reflection_error_counter */
} lq_mgmt_ns_t;

typedef struct lq_mgmt_table {
    const char *name;
    uint64_t used, capacity, high_water;
} lq_mgmt_table_t;

typedef struct lq_mgmt_snapshot {
    lq_mgmt_cluster_t home, foreign;
    struct {
        const char *name;
        bool registered;   /* the Node exists in home as far as the agent knows */
        bool lock_held;    /* the single-instance Lease is held */
        uint64_t node_applies, status_updates, lease_renewals;
    } vnode;
    lq_mgmt_conn_t conns[LQ_MGMT_MAX_CONNS];
    size_t n_conns;
    lq_mgmt_requests_t requests_home, requests_foreign;
    lq_mgmt_ns_t ns[LQ_MAX_NAMESPACES];
    size_t n_ns;
    uint64_t objects[LQ_MGMT_KIND_COUNT];     /* reflected objects per kind, now */
    uint64_t objects_gen[LQ_MGMT_KIND_COUNT]; /* bumped whenever that kind's list changes:
                                                 the ETag of /objects/<kind> */
    struct {
        uint64_t depth, high_water, retries;
    } workqueue;                              /* the reflection work queue */
    lq_mgmt_table_t tables[LQ_MGMT_MAX_TABLES];
    size_t n_tables;
} lq_mgmt_snapshot_t;

/* Fills s (already zeroed). Must not block; called from the loop. */
typedef void lq_mgmt_snapshot_fn(void *ctx, lq_mgmt_snapshot_t *s);

/* One reflected object for /objects/<kind>. */
typedef struct lq_mgmt_object {
    const char *ns, *name;       /* home namespace and name */
    const char *remote_ns;       /* foreign namespace, or NULL */
    const char *state;           /* short text ("Running", "Reflected", "Error: ..."), or NULL */
} lq_mgmt_object_t;

/* Fills *out with the object at index (0, 1, ... in a stable order) of that kind and
 * returns true, or returns false past the last one. Strings are borrowed like the
 * snapshot's. Must not block. */
typedef bool lq_mgmt_object_fn(void *ctx, lq_mgmt_kind_t kind, size_t index, lq_mgmt_object_t *out);

/* Snapshot helpers for the owner's callback. Each ignores the item when its table is
 * full (the list then ends early; /status says nothing more). */
void lq_mgmt_snap_conn(lq_mgmt_snapshot_t *s, const char *cluster, const char *name,
                       const lq_conn_t *c);
void lq_mgmt_snap_table(lq_mgmt_snapshot_t *s, const char *name, uint64_t used,
                        uint64_t capacity, uint64_t high_water);
/* "idle", "connecting", ... for an lq_conn_state_t. */
const char *lq_mgmt_conn_state_name(int state);

/* --- libcoap's heap (src/mgmt/mgmt.c) ------------------------------------------------------- */

typedef struct lq_mgmt_heap_stats {
    uint64_t in_use;       /* bytes now (payload + bookkeeping) */
    uint64_t high_water;
    uint64_t cap;          /* LQ_COAP_HEAP_CAP */
    uint64_t allocations;  /* successful malloc/calloc/realloc/strdup calls */
    uint64_t refused;      /* calls refused because the cap would be passed */
} lq_mgmt_heap_stats_t;

void lq_mgmt_heap_stats(lq_mgmt_heap_stats_t *out);

/* libcoap's archive is linked with malloc, calloc, realloc, free, strdup and strndup
 * renamed to these (objcopy --redefine-sym, see the Makefile), so every byte libcoap
 * takes from the heap is counted, capped at LQ_COAP_HEAP_CAP, and allowed by the
 * allocation guard. Nothing else calls them. */
void *lq_mgmt_heap_malloc(size_t n);
void *lq_mgmt_heap_calloc(size_t n, size_t size);
void *lq_mgmt_heap_realloc(void *p, size_t n);
void lq_mgmt_heap_free(void *p);
char *lq_mgmt_heap_strdup(const char *s);
char *lq_mgmt_heap_strndup(const char *s, size_t n);

/* --- the pure core (src/mgmt/mgmt_render.c) ------------------------------------------------- */

typedef enum lq_mgmt_res {
    LQ_MGMT_RES_HEALTH = 0,
    LQ_MGMT_RES_READY,
    LQ_MGMT_RES_STATUS,
    LQ_MGMT_RES_METRICS,
    LQ_MGMT_RES_OBJECTS
} lq_mgmt_res_t;

/* CoAP content formats used. */
#define LQ_MGMT_CF_TEXT 0u
#define LQ_MGMT_CF_JSON 50u

/* Everything a response depends on besides the request. */
typedef struct lq_mgmt_view {
    const lq_mgmt_snapshot_t *snap;
    lq_mgmt_object_fn *objects;   /* NULL: every kind is empty */
    void *objects_ctx;
    uint64_t uptime_ms;
    uint64_t rss_bytes, rss_peak_bytes;  /* 0 = unknown */
    lq_mgmt_heap_stats_t heap;
    const char *version, *board;
} lq_mgmt_view_t;

/* A request, as the transport decoded it. */
typedef struct lq_mgmt_req {
    lq_mgmt_res_t res;
    int kind;                /* LQ_MGMT_RES_OBJECTS: an lq_mgmt_kind_t */
    const char *query;       /* Uri-Query options joined with '&' ("ns=a"); may be NULL */
    size_t query_len;
    bool has_block2;
    uint32_t block2;         /* the raw Block2 option value (NUM << 4 | M << 3 | SZX) */
    int accept;              /* Accept option, or -1 */
    size_t max_block;        /* largest block the session can carry (16..1024) */
} lq_mgmt_req_t;

/* A response: payload is the caller's buffer (cap >= max_block). */
typedef struct lq_mgmt_resp {
    unsigned code;           /* 205, 400, 402, 404, 406, 500 (class * 100 + detail) */
    unsigned content_format;
    size_t len;              /* payload bytes */
    bool block2;             /* add a Block2 option with block2_value */
    uint32_t block2_value;
    bool etag;               /* add an ETag option of etag_len bytes */
    uint8_t etag_value[8];
    size_t etag_len;
    bool size2;              /* add Size2 (the whole representation's length) */
    uint32_t size2_value;
} lq_mgmt_resp_t;

/* Resume point for /objects (sequential blocks cost one block each). Zero it once. */
typedef struct lq_mgmt_cursor {
    bool valid;
    int kind;
    uint64_t gen;
    uint64_t filter_hash;
    uint64_t next_off;       /* stream offset the next block starts at */
    size_t index;            /* object index whose rendering contains next_off */
    uint64_t index_off;      /* stream offset where that object's rendering starts */
    bool any_before;         /* an item was shown before that object */
} lq_mgmt_cursor_t;

/* Renders the response to req: the whole representation is produced, and the bytes of
 * the requested block copied into buf (cap bytes). Without a Block2 option a
 * representation that fits max_block is sent whole; a larger one is sent as block 0
 * (the client asks for the rest). Errors (unknown query key, bad Block2, unsupported
 * Accept) are 4.xx responses with a one-line diagnostic payload, never an lq_err_t.
 * Returns LQ_OK, or LQ_EINVAL for NULL arguments or cap < 16. */
lq_err_t lq_mgmt_render(const lq_mgmt_view_t *v, const lq_mgmt_req_t *req,
                        lq_mgmt_cursor_t *cur, char *buf, size_t cap, lq_mgmt_resp_t *resp);

/* Readiness: both API servers reachable, the single-instance Lease held and the virtual
 * node registered. Writes the reasons it is not ready ("" when ready) into reason
 * (NUL-terminated; cut with "..." if longer than cap). */
bool lq_mgmt_ready(const lq_mgmt_snapshot_t *s, char *reason, size_t cap);

/* Digest of what an observer of res cares about: for /ready the verdict and reasons,
 * for /status every state field but not counters, usage figures or uptime. */
uint64_t lq_mgmt_digest(const lq_mgmt_view_t *v, lq_mgmt_res_t res);

/* Splits the query into ns=NAME (the only key). Returns LQ_OK (*ns/ns_len = NULL/0 when
 * absent), or LQ_EINVAL with a message for an unknown key, a repeated key or an empty
 * value. */
lq_err_t lq_mgmt_parse_query(const char *q, size_t len, const char **ns, size_t *ns_len,
                             char *msg, size_t msg_cap);

/* Decodes a Block2 value: *num (up to 2^20 - 1) and *size (16..1024). Returns LQ_OK or
 * LQ_EINVAL (SZX 7 is reserved). */
lq_err_t lq_mgmt_block2_decode(uint32_t value, uint32_t *num, size_t *size);

/* The address rule: every address of --mgmt-listen must be loopback (127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z) unless a PSK is configured. Returns LQ_OK or LQ_ECONFIG with a
 * sentence naming the address and the fix. */
lq_err_t lq_mgmt_check_listen(const lq_config_addr_t *addrs, size_t n, bool have_psk,
                              char *msg, size_t msg_cap);
bool lq_mgmt_is_loopback(const char *ip);

/* The HTTP listener's request head parser. buf holds what has arrived. Returns LQ_AGAIN
 * (head incomplete), LQ_OK with *res set for GET (or HEAD) /healthz, /readyz, /metrics
 * (*head_only for HEAD; *res = -1 for any other path: 404), LQ_ENOTSUP for another
 * method (405), LQ_EPROTO for a malformed head or LQ_ETOOBIG when the head is over
 * LQ_MGMT_HTTP_REQ_MAX (400). */
lq_err_t lq_mgmt_http_parse(const char *buf, size_t len, int *res, bool *head_only);

/* --- the service (src/mgmt/mgmt.c) ---------------------------------------------------------- */

typedef struct lq_mgmt_cfg {
    const lq_config_addr_t *listen;  /* CoAP addresses (at least one) */
    size_t n_listen;
    const char *psk_file;            /* NULL/"" = no DTLS */
    const char *psk_identity;        /* NULL/"" = accept any identity */
    const lq_config_addr_t *http;    /* optional HTTP listener addresses */
    size_t n_http;
} lq_mgmt_cfg_t;

typedef struct lq_mgmt_stats {
    uint64_t requests;       /* CoAP requests answered */
    uint64_t notifications;  /* observe rounds triggered */
    uint64_t http_requests;
    uint64_t bad_requests;   /* 4.xx answers */
} lq_mgmt_stats_t;

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
    void *ctx_;                  /* coap_context_t */
    void *res_ready_, *res_status_;
    struct lq_mgmt_route_ {
        struct lq_mgmt *m;
        int res, kind;
    } routes_[4 + LQ_MGMT_KIND_COUNT + 1];
    lq_loop_io_t io_;
    lq_loop_timer_t poll_timer_;
    uint64_t digest_ready_, digest_status_;
    lq_mgmt_cursor_t cursor_;
    struct {                     /* volatile figures, sampled every LQ_MGMT_POLL_MS so
                                    that a representation is stable between blocks */
        uint64_t uptime_ms, rss, rss_peak;
        lq_mgmt_heap_stats_t heap;
    } sample_, snap_sample_;  /* the latest sample; the one taken with snap_ */
    lq_mgmt_snapshot_t snap_;
    int64_t snap_at_;         /* when snap_ was pulled (monotonic ms; 0 never) */
    char block_[LQ_MGMT_BLOCK_MAX];
    /* HTTP listener (src/mgmt/mgmt_http.c) */
    struct lq_mgmt_http_conn_ {
        lq_loop_io_t io;
        lq_loop_timer_t timer;
        struct lq_mgmt *m;
        bool busy, sending;
        int res;
        size_t len;              /* request bytes in buf, then the window's bytes */
        uint64_t total, sent;    /* body length (Content-Length) and bytes sent */
        uint64_t win_off;        /* body offset of buf[0] while sending */
        uint8_t etag[8];         /* digest of the body when the head was sent */
        char buf[LQ_MGMT_HTTP_REQ_MAX];
    } http_conns_[LQ_MGMT_HTTP_CONNS];
    lq_loop_io_t http_listen_io_[LQ_CONFIG_MAX_LISTEN];
    size_t n_http_listening_;
} lq_mgmt_t;

/* Clean state. Cannot fail. */
void lq_mgmt_init(lq_mgmt_t *m);

/* Checks the addresses (the loopback-or-PSK rule, before anything is bound) and reads
 * the PSK file (registered with the log redaction). msg gets one sentence on failure.
 * Returns LQ_OK, LQ_ECONFIG (a non-loopback address without a PSK; an empty, oversized
 * or unreadable key file; an identity too long) or LQ_EINVAL. */
lq_err_t lq_mgmt_configure(lq_mgmt_t *m, const lq_mgmt_cfg_t *cfg, char *msg, size_t msg_cap);

/* Creates the libcoap context, binds every address (logging one line per address:
 * "mgmt: CoAP listening on coap://127.0.0.1:41234"), registers the resources, joins the
 * loop, and starts the optional HTTP listener. objects may be NULL. Returns LQ_OK, LQ_EIO
 * (an address could not be bound: in use, not local) or LQ_ENOMEM (libcoap's heap cap). */
lq_err_t lq_mgmt_start(lq_mgmt_t *m, lq_loop_t *loop, lq_mgmt_snapshot_fn *snapshot,
                       void *snapshot_ctx, lq_mgmt_object_fn *objects, void *objects_ctx);

/* Hint that the state changed: observers of /ready and /status are checked now instead
 * of at the next poll. Cheap; safe before start. */
void lq_mgmt_changed(lq_mgmt_t *m);

/* Builds the view a response is rendered from: the snapshot is taken now; uptime, RSS
 * and libcoap's heap figures are those of the last sample (every LQ_MGMT_POLL_MS), so
 * they do not change between the blocks of one transfer. */
void lq_mgmt_view(lq_mgmt_t *m, lq_mgmt_view_t *v);

/* Leaves the loop and frees libcoap's context. Idempotent. */
void lq_mgmt_close(lq_mgmt_t *m);

/* HTTP listener (src/mgmt/mgmt_http.c), called by lq_mgmt_start/_close. */
lq_err_t lq_mgmt_http_start(lq_mgmt_t *m);
void lq_mgmt_http_close(lq_mgmt_t *m);

#endif
