/* liqolet: the management endpoint's pure core (src/mgmt/render.c).
 *
 * Everything the CoAP service (src/mgmt/coap.c) and the HTTP listener (src/mgmt/http.c)
 * answer is produced here, with no I/O, no OS header and no libcoap: the data the owner
 * hands over (the snapshot), every representation rendered into a block-sized window
 * (Block2 without holding the document), readiness, observer digests, query and HTTP
 * request parsing, and the address rule. The fuzzer (tests/fuzz/fuzz_mgmt.c) and the unit
 * tests (tests/unit/test_mgmt.c) drive it as it is.
 *
 * Names: functions are lq_mgmt_render_*. The data types keep the family prefix lq_mgmt_
 * (lq_mgmt_snapshot_t, lq_mgmt_kind_t, LQ_MGMT_KIND_*, ...): they are the vocabulary the
 * owner (src/cmd/run.c) and all three mgmt modules share.
 *
 * Include order: mgmt_heap.h <- mgmt_render.h <- mgmt_coap.h, mgmt_http.h <- mgmt.h.
 * The listeners see each other only through the small interface at the end of this file
 * (lq_mgmt_source_t), never through each other's header. */
#ifndef LIQOLET_MGMT_RENDER_H
#define LIQOLET_MGMT_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config.h"
#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/mgmt_heap.h"

/* --- capacities (boards/<board>/lq_board.h may override) ------------------------------ */
/* Connections listed in /status. */
#ifndef LQ_MGMT_MAX_CONNS
#define LQ_MGMT_MAX_CONNS 24
#endif
/* Tables (name, used, capacity, high-water mark) listed in /status and /metrics. */
#ifndef LQ_MGMT_MAX_TABLES
#define LQ_MGMT_MAX_TABLES 16
#endif
/* Largest Block2 size served (16..1024, a power of two). */
#ifndef LQ_MGMT_BLOCK_MAX
#define LQ_MGMT_BLOCK_MAX 1024u
#endif
/* Largest HTTP request head accepted (bytes). */
#ifndef LQ_MGMT_HTTP_REQ_MAX
#define LQ_MGMT_HTTP_REQ_MAX 1024u
#endif
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
const char *lq_mgmt_render_kind_path(int kind);
/* Liqo's reflector name ("Pod", ...); NULL for anything else. */
const char *lq_mgmt_render_kind_reflector(int kind);

/* --- the snapshot (filled by the owner's callback) -------------------------------------- */

typedef struct lq_mgmt_cluster {
    const char *id;        /* cluster id; NULL = not known yet */
    const char *name;      /* cluster name */
    const char *server;    /* "host:port" of the API server (never a credential) */
    bool reachable;        /* the owner's latest verdict */
    bool tls_unverified;   /* insecure-skip-tls-verify accepted (--allow-insecure-tls) */
} lq_mgmt_cluster_t;

typedef struct lq_mgmt_conn {
    const char *cluster;    /* "home", "foreign" */
    const char *name;       /* "request-0", "watch-nodes", ... */
    const char *state;      /* "idle", "connecting", "handshake", "sending", "head", "body" */
    const char *last_error; /* "" or NULL: none */
    uint64_t requests, connects, failures;
    uint64_t deadlines, stalls, trailing; /* cut by the total deadline, by the body idle
                                           * deadline, closed for bytes after a response */
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
    uint64_t conflicts[LQ_MGMT_KIND_COUNT];   /* remote objects of that name not ours */
    uint64_t too_large[LQ_MGMT_KIND_COUNT];   /* objects over what the board reflects */
    struct {
        uint64_t depth, high_water, retries;
    } workqueue;                              /* the reflection work queue */
    lq_mgmt_table_t tables[LQ_MGMT_MAX_TABLES];
    size_t n_tables;
    struct {
        bool listening;    /* the kubelet API is serving (it waits for the client CA) */
        uint16_t port;
        uint64_t open;     /* sessions now (also in tables: "kubelet API sessions") */
        uint64_t served, refused, unauthenticated, forbidden, errors;
    } kubelet;
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

/* --- requests and responses ------------------------------------------------------------- */

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
lq_err_t lq_mgmt_render_response(const lq_mgmt_view_t *v, const lq_mgmt_req_t *req,
                                 lq_mgmt_cursor_t *cur, char *buf, size_t cap,
                                 lq_mgmt_resp_t *resp);

/* Readiness: both API servers reachable, the single-instance Lease held and the virtual
 * node registered. Writes the reasons it is not ready ("" when ready) into reason
 * (NUL-terminated; cut with "..." if longer than cap). */
bool lq_mgmt_render_ready(const lq_mgmt_snapshot_t *s, char *reason, size_t cap);

/* Digest of what an observer of res cares about: for /ready the verdict and reasons,
 * for /status every state field but not counters, usage figures or uptime. */
uint64_t lq_mgmt_render_digest(const lq_mgmt_view_t *v, lq_mgmt_res_t res);

/* Splits the query into ns=NAME (the only key). Returns LQ_OK (*ns/ns_len = NULL/0 when
 * absent), or LQ_EINVAL with a message for an unknown key, a repeated key or an empty
 * value. */
lq_err_t lq_mgmt_render_parse_query(const char *q, size_t len, const char **ns,
                                    size_t *ns_len, char *msg, size_t msg_cap);

/* Decodes a Block2 value: *num (up to 2^20 - 1) and *size (16..1024). Returns LQ_OK or
 * LQ_EINVAL (SZX 7 is reserved). */
lq_err_t lq_mgmt_render_block2_decode(uint32_t value, uint32_t *num, size_t *size);

/* The address rule: every address of --mgmt-listen must be loopback (127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z) unless a PSK is configured. Returns LQ_OK or LQ_ECONFIG with a
 * sentence naming the address and the fix. */
lq_err_t lq_mgmt_render_check_listen(const lq_config_addr_t *addrs, size_t n, bool have_psk,
                                     char *msg, size_t msg_cap);
bool lq_mgmt_render_is_loopback(const char *ip);

/* The HTTP listener's request head parser. buf holds what has arrived. Returns LQ_AGAIN
 * (head incomplete), LQ_OK with *res set for GET (or HEAD) /healthz, /readyz, /metrics
 * (*head_only for HEAD; *res = -1 for any other path: 404), LQ_ENOTSUP for another
 * method (405), LQ_EPROTO for a malformed head or LQ_ETOOBIG when the head is over
 * LQ_MGMT_HTTP_REQ_MAX (400). */
lq_err_t lq_mgmt_render_http_parse(const char *buf, size_t len, int *res, bool *head_only);

/* --- the listeners' shared interface ----------------------------------------------------
 * The CoAP service and the HTTP listener answer from a view and count what they answer;
 * both get these from their owner (src/mgmt/mgmt.c) at start, so neither knows the other
 * or the owner's struct. */

typedef struct lq_mgmt_stats {
    uint64_t requests;       /* CoAP requests answered */
    uint64_t notifications;  /* observe rounds triggered */
    uint64_t http_requests;
    uint64_t http_refused, http_evicted; /* connections refused (per peer, full); evicted while waiting for their head */
    uint64_t bad_requests;   /* 4.xx answers */
} lq_mgmt_stats_t;

/* Fills v with the view to render from. fresh: take a new snapshot now; false: the
 * snapshot of the previous call may be reused when it is recent (the later blocks of one
 * Block2 transfer must render the document its first block saw). Must not block. */
typedef void lq_mgmt_view_fn(void *ctx, lq_mgmt_view_t *v, bool fresh);

typedef struct lq_mgmt_source {
    lq_mgmt_view_fn *view;
    void *ctx;
    lq_mgmt_stats_t *stats;  /* counters the listener bumps; never NULL */
} lq_mgmt_source_t;

#endif
