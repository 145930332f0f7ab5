/* liqolet: prefix scan of a Kubernetes object or watch event (pure module).
 *
 * Finds, without a full JSON parse and without allocating, the few fields the agent
 * needs before deciding whether an event is worth parsing (DESIGN.md Decision 3) or to
 * report an oversized one (Decision 6): the watch event "type", and the object's kind,
 * apiVersion, metadata.namespace, metadata.name, metadata.uid,
 * metadata.resourceVersion and whether it has metadata.labels.
 *
 * Only keys at the right place count: "name" inside spec.containers is not
 * metadata.name, "type" inside object.status.conditions is not the event type. Values
 * are returned as views into the input (the raw bytes between the quotes, still
 * JSON-escaped); a view's `escaped` flag says whether lq_scan_unescape is needed. The
 * input may be only a prefix of the object (an oversized event): the scan then returns
 * what it found and sets `truncated`; a string cut by the end of the input is not
 * reported. When a key appears twice at the same place the first one counts (as with
 * cJSON); the API server never sends duplicates.
 *
 * Usage:
 *     lq_scan_meta_t m;
 *     if (lq_scan_event(obj->data, obj->len, &m) == LQ_OK && m.name.found) ...
 */
#ifndef LIQOLET_SCAN_H
#define LIQOLET_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "liqolet/err.h"

/* A JSON string value found by the scan: p/len is the raw text between the quotes,
 * a view into the scanned input (valid as long as the input is). */
typedef struct lq_scan_str {
    const char *p;
    size_t len;
    bool found;
    bool escaped;    /* contains a backslash: decode with lq_scan_unescape */
} lq_scan_str_t;

typedef struct lq_scan_meta {
    lq_scan_str_t type;          /* event "type" (lq_scan_event only) */
    lq_scan_str_t kind;
    lq_scan_str_t api_version;
    lq_scan_str_t ns;            /* metadata.namespace */
    lq_scan_str_t name;          /* metadata.name */
    lq_scan_str_t uid;           /* metadata.uid */
    lq_scan_str_t rv;            /* metadata.resourceVersion */
    /* metadata.labels: `has_labels` once the key is seen; labels_json is the raw
     * object text ({...}) when it is complete within the input. */
    bool has_labels;
    const char *labels_json;
    size_t labels_len;
    bool has_object;             /* lq_scan_event: an "object" member was found */
    /* The scan ran into the end of the input before it was finished. An early stop
     * (see lq_scan_event) does not read that far, so an oversized event's prefix may
     * well give truncated == false: use lq_frame_obj_t.kind to know it was cut. */
    bool truncated;
} lq_scan_meta_t;

/* Scans a watch event {"type":...,"object":{...}} (whole, or a prefix of it).
 * data/len: the event bytes, borrowed; the views in *out point into them.
 * Returns LQ_OK (fields found are marked `found`; out->truncated when the input ended
 *           early, including an empty input);
 *         LQ_EPROTO when the bytes are not JSON of that shape as far as they go (e.g. the
 *           input does not start with '{' after whitespace);
 *         LQ_EINVAL for out == NULL, or data == NULL with len > 0.
 * The scan stops early once the type and the object's kind, apiVersion and whole
 * metadata have been seen, so most of a large object is never read and bytes after
 * that point are not checked. */
lq_err_t lq_scan_event(const char *data, size_t len, lq_scan_meta_t *out);

/* Same for a bare object (a LIST item): kind, apiVersion and metadata; out->type is
 * never found. Same returns. */
lq_err_t lq_scan_object(const char *data, size_t len, lq_scan_meta_t *out);

/* Cheap namespace filter: finds only metadata.namespace and stops as soon as it has it.
 * is_event: data is a watch event (the object is under "object") rather than a bare
 * object. ns: receives the view.
 * Returns LQ_OK when found;
 *         LQ_ENOTFOUND when the object's metadata (or the whole input) ended without a
 *           namespace: a cluster-scoped object, a BOOKMARK or an ERROR Status;
 *         LQ_AGAIN when the input (a prefix) ended before the namespace was found;
 *         LQ_EPROTO / LQ_EINVAL as lq_scan_event. */
lq_err_t lq_scan_namespace_fast(const char *data, size_t len, bool is_event, lq_scan_str_t *ns);

/* Decodes a JSON string's raw contents (no quotes) into out: \" \\ \/ \b \f \n \r \t
 * and \uXXXX (surrogate pairs become one 4-byte UTF-8 sequence, a lone surrogate is
 * refused). out may be the same pointer as raw (decoding in place never overtakes the
 * input); otherwise the two must not overlap. out_len receives the decoded length.
 * Nothing is NUL-terminated.
 * Returns LQ_OK; LQ_ETOOBIG when the decoded text is longer than cap (out is then
 * unspecified); LQ_EPROTO on a malformed escape; LQ_EINVAL on NULL pointers. */
lq_err_t lq_scan_unescape(const char *raw, size_t len, char *out, size_t cap, size_t *out_len);

/* Decodes s (as lq_scan_unescape) into out, which must hold cap bytes including a NUL
 * terminator that is always written on success.
 * Returns LQ_OK; LQ_ENOTFOUND when !s->found; LQ_ETOOBIG when the text and its NUL do
 * not fit (never truncated); LQ_EPROTO on a bad escape; LQ_EINVAL on NULL pointers. */
lq_err_t lq_scan_copy(const lq_scan_str_t *s, char *out, size_t cap);

/* True when s was found and its decoded text equals lit[0..lit_len) byte for byte.
 * Handles escapes without a buffer. */
bool lq_scan_str_eq(const lq_scan_str_t *s, const char *lit, size_t lit_len);

/* Reads a bare object's metadata.uid into uid[0..uid_cap) and metadata.resourceVersion
 * into rv[0..rv_cap) (either may be NULL), by lq_scan_object: for a caller that needs
 * only those from a response, no JSON tree. A field that is absent or does not fit is
 * left "". Returns LQ_OK or the scan's error (both outputs "" then). */
lq_err_t lq_scan_uid_rv(const char *data, size_t len, char *uid, size_t uid_cap, char *rv,
                        size_t rv_cap);

#endif
