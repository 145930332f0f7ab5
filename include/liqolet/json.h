/* liqolet: JSON documents (pure module; the only user of cJSON is src/kube/json.c).
 *
 * A document (lq_json_doc_t) is an arena the caller owns: every item parsed into it or
 * built in it is carved from that memory by a bump allocator, and lq_json_reset()
 * discards them all at once. Nothing is ever taken from the heap, and nothing is freed
 * item by item. Several documents can be alive at once (a home object and the foreign
 * object forged from it); an item belongs to the document it was parsed or built in, and
 * lq_json_copy() is the way to move a subtree into another document.
 *
 * Items are opaque (lq_json_t). A NULL item means "absent": every getter accepts NULL,
 * so lookups chain without checks, and JSON null is treated as absent by the typed
 * getters (Kubernetes makes no difference between the two).
 *
 * Paths. Kubernetes keys contain dots and slashes (metadata.labels
 * ["liqo.io/remote-cluster-id"]), so there is no path string syntax: a path is an array
 * of keys, one per level, each used verbatim. When the level reached is an array, the
 * key must be a decimal index ("0", "12"); when it is an object, the key is a member
 * name. The type of the level decides, so there is no ambiguity. LQ_JSON_AT builds the
 * array in place:
 *     lq_json_str_t id;
 *     err = lq_json_str(LQ_JSON_AT(root, "metadata", "labels", "liqo.io/remote-cluster-id"), &id);
 *     err = lq_json_str(LQ_JSON_AT(root, "spec", "containers", "0", "image"), &img);
 *
 * Numbers are IEEE doubles inside cJSON, except integers written with 16 or more digits,
 * which are kept as their exact text (cJSON would round them to 53 bits and print them
 * as 1e+15). So integers print back exactly, and lq_json_int is exact over the whole
 * int64 range; it refuses fractions (1.5) and values beyond int64 or beyond 2^53 written
 * in other forms (1e300). Other numbers print as cJSON does ("%1.15g", or "%1.17g" when
 * needed to round-trip), so 1.10 prints as 1.1 and 1E3 as 1000.
 *
 * Strings are kept unescaped and NUL-terminated; a string containing U+0000 (the escape
 * \u0000) is refused at parse time (LQ_ENOTSUP), so a view's length is always exact.
 * Bytes are not checked for valid UTF-8 (they are passed through as received). Duplicate
 * keys are kept; lookups find the first one.
 *
 * Usage:
 *     static unsigned char arena[LQ_JSON_ARENA];
 *     lq_json_doc_t doc;
 *     lq_json_doc_init(&doc, arena, sizeof arena);
 *     lq_json_t *pod;
 *     if (lq_json_parse(&doc, obj->data, obj->len, &pod) == LQ_OK) { ... }
 *     lq_json_reset(&doc);   // after the event is handled
 */
#ifndef LIQOLET_JSON_H
#define LIQOLET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"

/* An item (object, array, string, number, bool or null) inside some document.
 * Borrowed: valid until the reset of the document that holds it. */
typedef struct lq_json lq_json_t;

/* A string view: p/len is the unescaped value, NUL-terminated at p[len], inside the
 * document's arena (valid until its reset). */
typedef struct lq_json_str {
    const char *p;
    size_t len;
} lq_json_str_t;

typedef enum lq_json_type {
    LQ_JSON_ABSENT = 0, /* NULL item */
    LQ_JSON_NULL,
    LQ_JSON_BOOL,
    LQ_JSON_NUMBER,
    LQ_JSON_STRING,
    LQ_JSON_ARRAY,
    LQ_JSON_OBJECT,
} lq_json_type_t;

/* A document: the arena and its bookkeeping. Declared here so owners can place it
 * statically; read it through the accessors below (last_err may be read directly),
 * never write its fields. */
typedef struct lq_json_doc {
    unsigned char *mem; /* the caller's arena (borrowed for the document's lifetime) */
    size_t cap;
    size_t used;
    size_t top;         /* offset of the most recent allocation, SIZE_MAX if none */
    size_t undo;        /* `used` before that allocation (cJSON frees temporaries) */
    size_t peak;        /* high-water mark of `used` since init */
    size_t err_off;     /* byte offset of the last parse error */
    lq_err_t last_err;  /* why the last constructor/copy returned NULL (LQ_OK after
                           a reset): LQ_ETOOBIG or LQ_EINVAL */
    bool exhausted;     /* an allocation failed in the current call */
} lq_json_doc_t;

/* ---- documents -------------------------------------------------------------------- */

/* Puts *doc in a known, empty state over mem[0..cap) (borrowed; the caller keeps it
 * alive and untouched while the document is used). Any alignment and any size: with
 * cap 0 every allocation fails with LQ_ETOOBIG. Cannot fail. */
void lq_json_doc_init(lq_json_doc_t *doc, void *mem, size_t cap);

/* Discards every item of the document (all lq_json_t and lq_json_str_t views from it
 * become invalid). The peak is kept. */
void lq_json_reset(lq_json_doc_t *doc);

/* Arena bytes in use now, the high-water mark since init, and the capacity. */
size_t lq_json_used(const lq_json_doc_t *doc);
size_t lq_json_peak(const lq_json_doc_t *doc);
size_t lq_json_capacity(const lq_json_doc_t *doc);

/* ---- parsing ---------------------------------------------------------------------- */

/* Parses exactly one JSON value from buf[0..len) (borrowed, need not be NUL-terminated;
 * whitespace may surround the value, anything else after it is an error) into doc, in
 * addition to what doc already holds. *root receives the value.
 * Returns:
 *   LQ_OK        *root set.
 *   LQ_EPROTO    not valid JSON (also: empty input, trailing bytes, a raw control
 *                character inside a string, nesting deeper than 1000 levels, a
 *                number beyond a double's range such as 1e999, which Kubernetes
 *                refuses too; integers of any length are kept exactly);
 *                lq_json_error_offset() tells where.
 *   LQ_ENOTSUP   a string contains \u0000; the offset points at the escape.
 *   LQ_ETOOBIG   the arena ran out; the offset is where the parser was.
 *   LQ_EINVAL    doc, buf or root is NULL.
 * On any error *root is NULL and the arena is rolled back to where it was before the
 * call (items parsed or built earlier stay valid). */
lq_err_t lq_json_parse(lq_json_doc_t *doc, const char *buf, size_t len, lq_json_t **root);

/* Byte offset in the input of the last lq_json_parse failure on this document. */
size_t lq_json_error_offset(const lq_json_doc_t *doc);

/* ---- reading ---------------------------------------------------------------------- */

lq_json_type_t lq_json_type(const lq_json_t *item);

/* Member `key` (NUL-terminated, compared byte for byte, case-sensitive) of an object.
 * NULL when obj is NULL, not an object, or has no such member. */
lq_json_t *lq_json_get(const lq_json_t *obj, const char *key);
/* Same with a counted key (key[0..len), need not be NUL-terminated). */
lq_json_t *lq_json_getn(const lq_json_t *obj, const char *key, size_t len);
/* Element i of an array; NULL when arr is NULL, not an array or too short. */
lq_json_t *lq_json_index(const lq_json_t *arr, size_t i);
/* Follows keys[0..n) from root (see "Paths" above). NULL as soon as a level is absent,
 * or an array level's key is not a plain decimal index. n == 0 gives root. */
lq_json_t *lq_json_path(const lq_json_t *root, const char *const *keys, size_t n);
#define LQ_JSON_AT(root, ...)                                                        \
    lq_json_path((root), (const char *const[]){__VA_ARGS__},                        \
                 sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Children of an object or array, in document order: first child (NULL if none or not a
 * container), then next sibling (NULL after the last). */
lq_json_t *lq_json_first(const lq_json_t *container);
lq_json_t *lq_json_next(const lq_json_t *item);
/* Member name of an object member (NUL-terminated); NULL for array elements and roots. */
const char *lq_json_key(const lq_json_t *item);
/* Number of children of an object or array; 0 for anything else. */
size_t lq_json_size(const lq_json_t *container);

/* Typed getters. Each returns
 *   LQ_OK        *out set,
 *   LQ_ENOTFOUND item is NULL or JSON null (absent),
 *   LQ_EPROTO    item has another type (*out untouched),
 *   LQ_EINVAL    out is NULL.
 * lq_json_int also returns LQ_EPROTO for a non-integral number (1.5) and LQ_ETOOBIG for
 * an integer outside int64, or of magnitude 2^53 or more written in exponent or
 * fraction form (9.1e15, 1e300). */
lq_err_t lq_json_str(const lq_json_t *item, lq_json_str_t *out);
/* True when item is a string equal to s (false for NULL s, absent or other types). */
bool lq_json_str_is(const lq_json_t *item, const char *s);
/* True when item is present and not JSON null. */
bool lq_json_is_set(const lq_json_t *item);
/* True when the object's metadata.deletionTimestamp is set (it is being deleted). */
bool lq_json_deleting(const lq_json_t *obj);
lq_err_t lq_json_int(const lq_json_t *item, int64_t *out);
lq_err_t lq_json_bool(const lq_json_t *item, bool *out);
/* Copies a string item into dst[0..cap) with a terminating NUL. LQ_ETOOBIG when it does
 * not fit (dst is then set to ""; never truncated); other codes as lq_json_str. */
lq_err_t lq_json_str_copy(const lq_json_t *item, char *dst, size_t cap);

/* ---- building --------------------------------------------------------------------- */

/* Constructors: a new detached item in doc, or NULL when the arena is exhausted
 * (lq_json_doc_t.last_err = LQ_ETOOBIG) or an argument is invalid (LQ_EINVAL: NULL doc,
 * s NULL with len > 0, or s containing a NUL byte). A NULL from a constructor passed
 * on to lq_json_obj_add / _set / _arr_add makes them return that reason, so
 *     err = lq_json_obj_add(doc, meta, "name", lq_json_new_str(doc, n, len));
 * needs one check. Strings are copied into the arena (s is borrowed for the call). */
lq_json_t *lq_json_new_object(lq_json_doc_t *doc);
lq_json_t *lq_json_new_array(lq_json_doc_t *doc);
lq_json_t *lq_json_new_str(lq_json_doc_t *doc, const char *s, size_t len);
lq_json_t *lq_json_new_cstr(lq_json_doc_t *doc, const char *s);
lq_json_t *lq_json_new_int(lq_json_doc_t *doc, int64_t v);
lq_json_t *lq_json_new_bool(lq_json_doc_t *doc, bool v);
lq_json_t *lq_json_new_null(lq_json_doc_t *doc);
/* Deep copy of src (from any document, dst included) into dst; src's member name is not
 * copied (the copy is a detached item). NULL as the constructors (src NULL: LQ_EINVAL).
 * The copy lives only in dst's arena: resetting src's document does not affect it. */
lq_json_t *lq_json_copy(lq_json_doc_t *dst, const lq_json_t *src);

/* Adds item as the last member `key` of obj (the key is copied into doc). Does not look
 * for an existing member of that name (see lq_json_obj_set).
 * item must be a detached item of the same document (from a constructor, lq_json_copy,
 * or lq_json_parse's root), and not obj or one of its ancestors.
 * Returns LQ_OK; LQ_ETOOBIG arena exhausted (also when item is NULL because a
 * constructor ran out); LQ_EINVAL doc/obj/key NULL, obj not an object, item NULL for
 * another reason, item already attached, or obj or item not of this document. */
lq_err_t lq_json_obj_add(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_t *item);
/* Like lq_json_obj_add, but replaces the first member named key if there is one (in
 * place, keeping member order). Same returns. */
lq_err_t lq_json_obj_set(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_t *item);
/* Appends item to arr. Same rules and returns (LQ_EINVAL if arr is not an array). */
lq_err_t lq_json_arr_add(lq_json_doc_t *doc, lq_json_t *arr, lq_json_t *item);
/* Removes the first member named key of obj / element i of arr (its memory stays in
 * the arena until reset). LQ_OK, LQ_ENOTFOUND if absent, LQ_EINVAL if obj/arr is not an
 * object/array. */
lq_err_t lq_json_obj_del(lq_json_doc_t *doc, lq_json_t *obj, const char *key);
lq_err_t lq_json_arr_del(lq_json_doc_t *doc, lq_json_t *arr, size_t i);

/* ---- printing --------------------------------------------------------------------- */

/* Prints item as compact JSON into buf[0..cap) with a terminating NUL; *len (optional)
 * receives the length without the NUL. Never uses the arena.
 * cJSON keeps one byte of slack beyond the NUL, so a buffer of the printed length + 2
 * always suffices (length + 1 does for some values).
 * Returns LQ_OK; LQ_ETOOBIG when it does not fit (buf is then "", never a truncated
 * document); LQ_EINVAL item or buf NULL, or cap 0. */
lq_err_t lq_json_print(const lq_json_t *item, char *buf, size_t cap, size_t *len);

#endif
