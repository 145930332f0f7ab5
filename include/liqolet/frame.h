/* liqolet: watch and LIST framing (pure module).
 *
 * The HTTP layer hands over the decoded body of a response (chunk framing already
 * removed) in pieces of any size, as they arrive. Two splitters turn those pieces into
 * whole Kubernetes objects while holding at most one object in memory:
 *
 *  - lq_frame_watch_*: a watch stream, i.e. a sequence of top-level JSON objects
 *    {"type":"ADDED","object":{...}}, normally one per line. The end of an event is the
 *    '}' that closes its top-level object (strings and escapes are tracked), so the
 *    newline is not required; whitespace between events is skipped.
 *  - lq_frame_list_*: a LIST response {"kind":"PodList","metadata":{...},"items":[...]}.
 *    Each element of the top-level "items" array is delivered on its own; the list's
 *    metadata (resourceVersion, continue, remainingItemCount) and kind are copied into
 *    fixed fields. Key order does not matter; "items": null and "items": [] are fine.
 *
 * Both deliver objects through a callback (lq_frame_fn). The bytes of an object are
 * copied into a buffer the caller owns (normally LQ_MAX_OBJECT bytes), one object at a
 * time. An object larger than the buffer is never truncated: its bytes are skipped to
 * its end (still tracking nesting and strings) and it is delivered as
 * LQ_FRAME_OVERSIZED with its first bytes (at most LQ_OVERSIZE_PREFIX) and its exact
 * total size, so that lq_scan_* can find its type, name and uid (DESIGN.md Decision 6).
 *
 * Usage (watch):
 *     static char evbuf[LQ_MAX_OBJECT];
 *     lq_frame_watch_t fw;
 *     lq_frame_watch_init(&fw, evbuf, sizeof evbuf, on_event, ctx);
 *     ... for each decoded body piece:  err = lq_frame_watch_feed(&fw, p, n);
 *     ... at end of body:               err = lq_frame_watch_end(&fw);
 */
#ifndef LIQOLET_FRAME_H
#define LIQOLET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"

/* Longest LIST resourceVersion kept (bytes, without the NUL). */
#ifndef LQ_LIST_RV_MAX
#define LQ_LIST_RV_MAX 64u
#endif
/* Longest LIST continue token kept (bytes, without the NUL). */
#ifndef LQ_LIST_CONTINUE_MAX
#define LQ_LIST_CONTINUE_MAX 1024u
#endif
/* Longest top-level "kind" of a LIST response kept (bytes, without the NUL). */
#ifndef LQ_LIST_KIND_MAX
#define LQ_LIST_KIND_MAX 63u
#endif
/* Deepest nesting accepted inside one object. The API server (Go's JSON codec) refuses
 * more than 10000 levels; deeper input is LQ_EPROTO. */
#ifndef LQ_FRAME_MAX_DEPTH
#define LQ_FRAME_MAX_DEPTH 10000u
#endif
/* Levels for which '{' / '[' pairing is checked ("{]" is LQ_EPROTO); deeper levels are
 * only counted. Costs LQ_FRAME_CHECK_DEPTH / 8 bytes per splitter. */
#ifndef LQ_FRAME_CHECK_DEPTH
#define LQ_FRAME_CHECK_DEPTH 256u
#endif

_Static_assert(LQ_FRAME_CHECK_DEPTH % 8u == 0u, "LQ_FRAME_CHECK_DEPTH must be a multiple of 8");
_Static_assert(LQ_FRAME_MAX_DEPTH < 0x7fffffffu, "LQ_FRAME_MAX_DEPTH must fit a uint32_t");

typedef enum lq_frame_kind {
    /* A whole object: data/len is all of it and len == total. */
    LQ_FRAME_OBJECT = 0,
    /* Larger than the buffer: data/len holds its first min(cap, LQ_OVERSIZE_PREFIX)
     * bytes only; total is its exact size. Never parse it as a whole object. */
    LQ_FRAME_OVERSIZED = 1,
} lq_frame_kind_t;

/* One object delivered to the callback. Borrowed: every pointer is valid only during
 * the callback (data points into the caller's buffer, which the next object reuses). */
typedef struct lq_frame_obj {
    lq_frame_kind_t kind;
    /* LIST only: this is the response's own top-level object because it had no "items"
     * key, e.g. a metav1.Status sent with an error. Always false for watch events. */
    bool toplevel;
    const char *data;
    size_t len;
    /* Exact size of the object in the stream, from '{' to its closing '}' inclusive. */
    uint64_t total;
    /* Offset of the object's '{' from the start of the body. */
    uint64_t offset;
    /* 0-based ordinal of the object (watch event or LIST item) within this body. */
    uint32_t index;
} lq_frame_obj_t;

/* Callback for each object. Return LQ_OK to continue; any other code stops the feed,
 * which returns that code, and the splitter stays failed until re-initialised. */
typedef lq_err_t lq_frame_fn(void *ctx, const lq_frame_obj_t *obj);

/* ---- private building blocks (declared here so owners can allocate statically) --- */

/* Nesting tracker over one JSON value (object, array or string). */
typedef struct lq_frame_tok {
    uint32_t depth;
    bool in_str;
    bool esc;
    uint8_t is_array[LQ_FRAME_CHECK_DEPTH / 8u]; /* bit stack: 1 = '[' at that level */
} lq_frame_tok_t;

/* The object being copied into the caller's buffer. */
typedef struct lq_frame_cap {
    char *buf;
    size_t cap;
    size_t len;      /* bytes held in buf (<= cap) */
    uint64_t total;  /* bytes of the object seen so far */
    uint64_t start;  /* stream offset of the object's first byte */
} lq_frame_cap_t;

/* ---- watch streams ------------------------------------------------------------- */

typedef struct lq_frame_watch {
    /* Readable by the owner: */
    uint64_t pos;    /* body bytes consumed; on LQ_EPROTO, the offset of the bad byte */
    uint32_t count;  /* events delivered (whole and oversized) */
    /* Private: */
    lq_frame_fn *fn;
    void *ctx;
    lq_err_t err;    /* sticky failure, LQ_OK while healthy */
    bool in_event;
    lq_frame_cap_t cap;
    lq_frame_tok_t tok;
} lq_frame_watch_t;

/* Prepares a watch splitter for a new body.
 * w: the splitter (owned by the caller). buf/cap: the event buffer, owned by the caller,
 * borrowed until the splitter is re-initialised; cap is normally LQ_MAX_OBJECT (0 is
 * allowed: every event is then oversized with an empty prefix). fn/ctx: the callback,
 * called from inside lq_frame_watch_feed (fn may be NULL: events are framed and
 * dropped). Cannot fail. */
void lq_frame_watch_init(lq_frame_watch_t *w, char *buf, size_t cap, lq_frame_fn *fn, void *ctx);

/* Consumes one piece of the decoded body and calls fn for every event completed in it.
 * Pieces may split an event anywhere (inside strings and escapes too).
 * data/len: borrowed for the call only (len 0 is allowed).
 * Returns LQ_OK when all of data was consumed;
 *         LQ_EPROTO when the stream is not a sequence of JSON objects (a byte other than
 *           whitespace or '{' between events, a stray '}' or ']', "{]" mismatch, or
 *           nesting deeper than LQ_FRAME_MAX_DEPTH); w->pos is the offending byte;
 *         LQ_EINVAL for data == NULL with len > 0;
 *         whatever non-LQ_OK code fn returned (feed stops right after that event).
 * After any error the splitter is failed: later calls return the same code until
 * lq_frame_watch_init (the caller drops the connection and relists). */
lq_err_t lq_frame_watch_feed(lq_frame_watch_t *w, const char *data, size_t len);

/* Checks the end of the body.
 * Returns LQ_OK when the body ended between events; LQ_EPROTO when it ended inside an
 * event (truncated); the sticky error if the splitter had failed. */
lq_err_t lq_frame_watch_end(const lq_frame_watch_t *w);

/* ---- LIST responses ------------------------------------------------------------ */

/* Fields copied from the LIST response. Strings are JSON-unescaped and NUL-terminated;
 * the *_len fields are authoritative. Read them once lq_frame_list_feed returned LQ_OK
 * (metadata may follow the items). */
typedef struct lq_frame_list_meta {
    char kind[LQ_LIST_KIND_MAX + 1u];            /* top-level "kind", e.g. "PodList" */
    size_t kind_len;
    char rv[LQ_LIST_RV_MAX + 1u];                /* metadata.resourceVersion */
    size_t rv_len;
    char cont[LQ_LIST_CONTINUE_MAX + 1u];        /* metadata.continue ("" = last page) */
    size_t cont_len;
    uint64_t remaining;                          /* metadata.remainingItemCount */
    bool has_remaining;
    bool has_items;                              /* the top-level object had "items" */
} lq_frame_list_meta_t;

typedef struct lq_frame_list {
    /* Readable by the owner: */
    lq_frame_list_meta_t meta;
    uint64_t pos;    /* body bytes consumed; on LQ_EPROTO, the offset of the bad byte */
    uint32_t count;  /* items delivered (whole and oversized) */
    /* Private: */
    lq_frame_fn *fn;
    void *ctx;
    lq_err_t err;
    uint8_t state;
    uint8_t nest;        /* outer containers open: 0, 1 (top object), 2 (metadata/items) */
    uint8_t inner;       /* what the level-2 container is */
    uint8_t key;         /* key being read / last key read */
    uint8_t key_len;
    char key_buf[24];
    bool key_other;      /* key was too long or escaped: matches nothing */
    uint8_t target;      /* field a string/literal value is copied to */
    bool target_esc;     /* that value contained a backslash */
    bool topcap;         /* copying the top-level object (no "items" key seen yet) */
    char lit[24];        /* current literal (number, true, false, null) */
    uint8_t lit_len;
    lq_frame_cap_t cap;
    lq_frame_tok_t tok;
} lq_frame_list_t;

/* Prepares a LIST splitter for a new response body. Same parameters and ownership as
 * lq_frame_watch_init. fn is called for each element of "items" and, when the body's
 * top-level object has no "items" key (a metav1.Status returned with an error, for
 * instance), once for that whole object with obj->toplevel set (oversized if it does not
 * fit the buffer). Cannot fail. */
void lq_frame_list_init(lq_frame_list_t *l, char *buf, size_t cap, lq_frame_fn *fn, void *ctx);

/* Consumes one piece of the decoded body, calling fn for each item completed in it.
 * Returns LQ_AGAIN when all of data was consumed and the top-level object is still open;
 *         LQ_OK once the top-level object has closed (l->meta is then final; further
 *           pieces may hold whitespace only);
 *         LQ_EPROTO when the body is not one JSON object, an "items" element is not an
 *           object, "items" is neither an array nor null, remainingItemCount is not a
 *           non-negative integer or null, resourceVersion/continue/kind is not a string
 *           or null, or on bad nesting as for watch; l->pos is the offending byte;
 *         LQ_ETOOBIG when kind, resourceVersion or continue (escaped form) is longer than
 *           its fixed field (LQ_LIST_*_MAX): never truncated;
 *         LQ_EINVAL for data == NULL with len > 0;
 *         whatever non-LQ_OK code fn returned.
 * After an error the splitter is failed until lq_frame_list_init. */
lq_err_t lq_frame_list_feed(lq_frame_list_t *l, const char *data, size_t len);

/* Checks the end of the body: LQ_OK if the top-level object closed, LQ_EPROTO if the
 * body ended early (truncated page), or the sticky error. */
lq_err_t lq_frame_list_end(const lq_frame_list_t *l);

#endif
