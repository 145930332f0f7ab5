/* liqolet: JSON documents over cJSON (see json.h). The only file that includes cJSON.h.
 *
 * cJSON allocates through one global set of hooks. They are set to a bump allocator
 * over "the current document", a static pointer that every function here sets around
 * its cJSON calls and clears afterwards (the agent is single-threaded), so an allocation
 * made outside such a bracket fails instead of landing in the wrong arena. Custom hooks
 * also make cJSON drop its realloc path; printing goes through cJSON_PrintPreallocated
 * into the caller's buffer and allocates nothing.
 *
 * Free is a no-op, except that freeing the most recent allocation rewinds the arena:
 * cJSON's number parser allocates a temporary copy of each number and frees it at once,
 * which then costs nothing. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "liqolet/json.h"

/* lq_json_t is never defined as a type of its own: it is a cJSON item seen through an
 * opaque pointer. The struct wrapper makes the conversion a first-member conversion. */
struct lq_json {
    cJSON c;
};

static lq_json_doc_t *cur;     /* the document cJSON allocates from, or NULL */
static bool hooks_set;

static cJSON *C(const lq_json_t *j)
{
    return (cJSON *)(uintptr_t)j;
}

static lq_json_t *J(const cJSON *c)
{
    return (lq_json_t *)(uintptr_t)c;
}

/* Items (sizeof(cJSON)) are aligned for a cJSON; every other request is a character
 * buffer (strings, number text) and is packed without padding. */
static void *arena_alloc(size_t size)
{
    lq_json_doc_t *d = cur;
    if (d == NULL)
        return NULL;
    size_t align = size == sizeof(cJSON) ? _Alignof(cJSON) : 1u;
    uintptr_t base = (uintptr_t)d->mem;
    size_t start = (size_t)(((base + d->used + align - 1u) & ~(uintptr_t)(align - 1u)) - base);
    if (size == 0)
        size = 1;
    if (d->mem == NULL || start > d->cap || size > d->cap - start) {
        d->exhausted = true;
        return NULL;
    }
    d->undo = d->used;
    d->top = start;
    d->used = start + size;
    if (d->used > d->peak)
        d->peak = d->used;
    return d->mem + start;
}

/* Only the most recent allocation can be given back (one level); anything else stays
 * until the reset. */
static void arena_free(void *p)
{
    lq_json_doc_t *d = cur;
    if (d == NULL || p == NULL || d->mem == NULL || d->top == SIZE_MAX)
        return;
    if ((unsigned char *)p == d->mem + d->top) {
        d->used = d->undo;
        d->top = SIZE_MAX;
    }
}

static void enter(lq_json_doc_t *doc)
{
    if (!hooks_set) {
        cJSON_Hooks h = { arena_alloc, arena_free };
        cJSON_InitHooks(&h);
        hooks_set = true;
    }
    cur = doc;
    if (doc != NULL)
        doc->exhausted = false;
}

static void leave(void)
{
    cur = NULL;
}

/* ---- documents ------------------------------------------------------------------ */

void lq_json_doc_init(lq_json_doc_t *doc, void *mem, size_t cap)
{
    memset(doc, 0, sizeof *doc);
    doc->mem = mem;
    doc->cap = mem != NULL ? cap : 0;
    doc->top = SIZE_MAX;
    doc->last_err = LQ_OK;
}

void lq_json_reset(lq_json_doc_t *doc)
{
    doc->used = 0;
    doc->top = SIZE_MAX;
    doc->exhausted = false;
    doc->last_err = LQ_OK;
}

size_t lq_json_used(const lq_json_doc_t *doc)
{
    return doc->used;
}

size_t lq_json_peak(const lq_json_doc_t *doc)
{
    return doc->peak;
}

size_t lq_json_capacity(const lq_json_doc_t *doc)
{
    return doc->cap;
}

size_t lq_json_error_offset(const lq_json_doc_t *doc)
{
    return doc->err_off;
}

/* ---- parsing -------------------------------------------------------------------- */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* What cJSON does not check: raw control characters inside strings (RFC 8259 forbids
 * them) and \u0000, which would end cJSON's NUL-terminated copy early. Also notes
 * whether a number may not survive cJSON's double (*wide): a run of 16 or more digits
 * outside strings, or an exponent (a digit or '.' followed by e/E; outside strings e/E
 * is otherwise only in true and false). See check_numbers(). */
static lq_err_t prescan(const unsigned char *s, size_t len, size_t *off, bool *wide)
{
    bool in_str = false;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (!in_str) {
            if (c >= '0' && c <= '9') {
                if (++digits >= 16)
                    *wide = true;
                continue;
            }
            if ((c == 'e' || c == 'E') && i > 0 && ((s[i - 1] >= '0' && s[i - 1] <= '9') ||
                                                   s[i - 1] == '.'))
                *wide = true;
            digits = 0;
            if (c == '"')
                in_str = true;
            else if (c == 0) {
                *off = i;
                return LQ_EPROTO;
            }
            continue;
        }
        if (c == '"') {
            in_str = false;
        } else if (c < 0x20) {
            *off = i;
            return LQ_EPROTO;
        } else if (c == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && s[i + 2] == '0' && s[i + 3] == '0' &&
                s[i + 4] == '0' && s[i + 5] == '0') {
                *off = i;
                return LQ_ENOTSUP;
            }
            if (s[i + 1] == 'u') {
                for (size_t k = 2; k < 6; k++) {
                    if (i + k >= len || !is_hex(s[i + k])) {
                        *off = i;
                        return LQ_EPROTO;
                    }
                }
            }
            i++; /* the escaped character */
        }
    }
    return LQ_OK;
}

/* The input text, walked in step with the parsed tree. */
typedef struct cursor {
    const unsigned char *s;
    size_t len;
    size_t pos;
} cursor_t;

static bool num_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Next number token outside strings: the exact characters cJSON's parser took for the
 * next number item, since both go through the input in order. */
static bool next_number(cursor_t *k, size_t *start, size_t *n)
{
    bool in_str = false;
    for (; k->pos < k->len; k->pos++) {
        unsigned char c = k->s[k->pos];
        if (in_str) {
            if (c == '\\')
                k->pos++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            *start = k->pos;
            while (k->pos < k->len && num_char(k->s[k->pos]))
                k->pos++;
            *n = k->pos - *start;
            return true;
        }
    }
    return false;
}

/* -?[1-9][0-9]{15,}: an integer that "%1.15g" would print in exponent form. */
static bool long_int(const unsigned char *t, size_t n)
{
    size_t i = t[0] == '-' ? 1u : 0u;
    if (n - i < 16 || t[i] == '0')
        return false;
    for (; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return false;
    return true;
}

/* Integers of 16 or more digits become raw items holding their exact text, so that
 * printing and lq_json_int are exact (a double keeps 53 bits and cJSON would print
 * 1e+15). Any other number beyond a double's range (1e999, or 400 digits with a
 * fraction) is refused, as Kubernetes' own decoder refuses it: cJSON would hold an
 * infinity and print it as null, so the value would change in a copy. Pre-order over
 * the tree = document order of the number tokens. Allocates in the current document;
 * false when it runs out (doc->exhausted) or at a number out of range (k->pos at it). */
static bool check_numbers(cJSON *c, cursor_t *k)
{
    for (; c != NULL; c = c->next) {
        if (cJSON_IsNumber(c)) {
            size_t b = 0, n = 0;
            if (!next_number(k, &b, &n))
                return true; /* cannot happen after a successful parse */
            bool exact = long_int(k->s + b, n);
            if (!exact && !isfinite(c->valuedouble)) {
                k->pos = b;
                return false;
            }
            if (exact) {
                char *t = arena_alloc(n + 1u);
                if (t == NULL)
                    return false;
                memcpy(t, k->s + b, n);
                t[n] = '\0';
                c->valuestring = t;
                c->type = (c->type & ~0xff) | cJSON_Raw;
            }
        } else if (c->child != NULL && !check_numbers(c->child, k)) {
            return false;
        }
    }
    return true;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

lq_err_t lq_json_parse(lq_json_doc_t *doc, const char *buf, size_t len, lq_json_t **root)
{
    if (root != NULL)
        *root = NULL;
    if (doc == NULL || buf == NULL || root == NULL)
        return LQ_EINVAL;
    doc->err_off = 0;
    size_t off = 0;
    bool wide = false;
    lq_err_t e = prescan((const unsigned char *)buf, len, &off, &wide);
    if (e != LQ_OK) {
        doc->err_off = off;
        return e;
    }
    if (len == 0)
        return LQ_EPROTO;

    size_t mark_used = doc->used;
    const char *end = NULL;
    enter(doc);
    cJSON *c = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (c != NULL && wide) {
        cursor_t k = { (const unsigned char *)buf, len, 0 };
        if (!check_numbers(c, &k)) {
            c = NULL;
            end = buf + k.pos;
        }
    }
    bool oom = doc->exhausted;
    leave();
    if (c == NULL) {
        doc->used = mark_used;
        doc->top = SIZE_MAX;
        doc->err_off = end != NULL && end >= buf ? (size_t)(end - buf) : 0;
        return oom ? LQ_ETOOBIG : LQ_EPROTO;
    }
    size_t pos = end != NULL && end >= buf ? (size_t)(end - buf) : len;
    while (pos < len && is_ws((unsigned char)buf[pos]))
        pos++;
    if (pos != len) {
        doc->used = mark_used;
        doc->top = SIZE_MAX;
        doc->err_off = pos;
        return LQ_EPROTO;
    }
    *root = J(c);
    return LQ_OK;
}

/* ---- reading -------------------------------------------------------------------- */

lq_json_type_t lq_json_type(const lq_json_t *item)
{
    const cJSON *c = C(item);
    if (c == NULL)
        return LQ_JSON_ABSENT;
    switch (c->type & 0xff) {
    case cJSON_NULL:
        return LQ_JSON_NULL;
    case cJSON_False:
    case cJSON_True:
        return LQ_JSON_BOOL;
    case cJSON_Number:
    case cJSON_Raw: /* only lq_json_new_int makes raw items: exact big integers */
        return LQ_JSON_NUMBER;
    case cJSON_String:
        return LQ_JSON_STRING;
    case cJSON_Array:
        return LQ_JSON_ARRAY;
    case cJSON_Object:
        return LQ_JSON_OBJECT;
    default:
        return LQ_JSON_ABSENT;
    }
}

lq_json_t *lq_json_getn(const lq_json_t *obj, const char *key, size_t len)
{
    const cJSON *o = C(obj);
    if (o == NULL || key == NULL || !cJSON_IsObject(o))
        return NULL;
    for (const cJSON *m = o->child; m != NULL; m = m->next) {
        const char *k = m->string;
        if (k == NULL)
            continue;
        size_t i = 0;
        while (i < len && k[i] != '\0' && k[i] == key[i])
            i++;
        if (i == len && k[len] == '\0')
            return J(m);
    }
    return NULL;
}

lq_json_t *lq_json_get(const lq_json_t *obj, const char *key)
{
    if (key == NULL)
        return NULL;
    return lq_json_getn(obj, key, strlen(key));
}

lq_json_t *lq_json_index(const lq_json_t *arr, size_t i)
{
    const cJSON *a = C(arr);
    if (a == NULL || !cJSON_IsArray(a))
        return NULL;
    const cJSON *e = a->child;
    while (e != NULL && i > 0) {
        e = e->next;
        i--;
    }
    return J(e);
}

/* A plain decimal index: digits only, no sign, no leading zero (except "0"). */
static bool parse_index(const char *k, size_t *out)
{
    size_t v = 0;
    if (k[0] == '\0' || (k[0] == '0' && k[1] != '\0'))
        return false;
    for (const char *p = k; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        size_t d = (size_t)(*p - '0');
        if (v > (SIZE_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

lq_json_t *lq_json_path(const lq_json_t *root, const char *const *keys, size_t n)
{
    const lq_json_t *j = root;
    for (size_t i = 0; i < n && j != NULL; i++) {
        if (keys == NULL || keys[i] == NULL)
            return NULL;
        if (cJSON_IsArray(C(j))) {
            size_t idx;
            if (!parse_index(keys[i], &idx))
                return NULL;
            j = lq_json_index(j, idx);
        } else {
            j = lq_json_get(j, keys[i]);
        }
    }
    return J(C(j));
}

lq_json_t *lq_json_first(const lq_json_t *container)
{
    const cJSON *c = C(container);
    if (c == NULL || !(cJSON_IsArray(c) || cJSON_IsObject(c)))
        return NULL;
    return J(c->child);
}

lq_json_t *lq_json_next(const lq_json_t *item)
{
    const cJSON *c = C(item);
    return c == NULL ? NULL : J(c->next);
}

const char *lq_json_key(const lq_json_t *item)
{
    const cJSON *c = C(item);
    return c == NULL ? NULL : c->string;
}

size_t lq_json_size(const lq_json_t *container)
{
    size_t n = 0;
    for (const lq_json_t *e = lq_json_first(container); e != NULL; e = lq_json_next(e))
        n++;
    return n;
}

lq_err_t lq_json_str(const lq_json_t *item, lq_json_str_t *out)
{
    const cJSON *c = C(item);
    if (out == NULL)
        return LQ_EINVAL;
    if (c == NULL || cJSON_IsNull(c))
        return LQ_ENOTFOUND;
    if (!cJSON_IsString(c) || c->valuestring == NULL)
        return LQ_EPROTO;
    out->p = c->valuestring;
    out->len = strlen(c->valuestring);
    return LQ_OK;
}

bool lq_json_str_is(const lq_json_t *item, const char *s)
{
    lq_json_str_t v;
    return s && lq_json_str(item, &v) == LQ_OK && strlen(s) == v.len && memcmp(v.p, s, v.len) == 0;
}

bool lq_json_is_set(const lq_json_t *item)
{
    lq_json_type_t t = lq_json_type(item);
    return t != LQ_JSON_ABSENT && t != LQ_JSON_NULL;
}

bool lq_json_deleting(const lq_json_t *obj)
{
    return lq_json_is_set(LQ_JSON_AT(obj, "metadata", "deletionTimestamp"));
}

lq_err_t lq_json_str_copy(const lq_json_t *item, char *dst, size_t cap)
{
    if (dst == NULL || cap == 0)
        return LQ_EINVAL;
    dst[0] = '\0';
    lq_json_str_t s;
    lq_err_t e = lq_json_str(item, &s);
    if (e != LQ_OK)
        return e;
    if (s.len >= cap)
        return LQ_ETOOBIG;
    memcpy(dst, s.p, s.len + 1u);
    return LQ_OK;
}

/* 2^53: every integer of smaller magnitude is exact in a double. */
#define EXACT_LIMIT 9007199254740992.0

/* Decimal text written by lq_json_new_int (raw items): -?[0-9]+ within int64. */
static lq_err_t raw_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg)
        s++;
    if (*s == '\0')
        return LQ_EPROTO;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return LQ_EPROTO;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (lim - d) / 10u)
            return LQ_ETOOBIG;
        v = v * 10u + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return LQ_OK;
}

lq_err_t lq_json_int(const lq_json_t *item, int64_t *out)
{
    const cJSON *c = C(item);
    if (out == NULL)
        return LQ_EINVAL;
    if (c == NULL || cJSON_IsNull(c))
        return LQ_ENOTFOUND;
    if (cJSON_IsRaw(c) && c->valuestring != NULL)
        return raw_int(c->valuestring, out);
    if (!cJSON_IsNumber(c))
        return LQ_EPROTO;
    double d = c->valuedouble;
    if (d != d)
        return LQ_EPROTO; /* NaN */
    if (d >= EXACT_LIMIT || d <= -EXACT_LIMIT)
        return LQ_ETOOBIG; /* also +-infinity */
    int64_t v = (int64_t)d;
    if ((double)v != d)
        return LQ_EPROTO; /* has a fraction */
    *out = v;
    return LQ_OK;
}

lq_err_t lq_json_bool(const lq_json_t *item, bool *out)
{
    const cJSON *c = C(item);
    if (out == NULL)
        return LQ_EINVAL;
    if (c == NULL || cJSON_IsNull(c))
        return LQ_ENOTFOUND;
    if (!cJSON_IsBool(c))
        return LQ_EPROTO;
    *out = cJSON_IsTrue(c);
    return LQ_OK;
}

/* ---- building ------------------------------------------------------------------- */

/* Ends a constructor: records why it failed. */
static lq_json_t *made(lq_json_doc_t *doc, cJSON *c)
{
    bool oom = doc->exhausted;
    leave();
    if (c == NULL)
        doc->last_err = oom ? LQ_ETOOBIG : LQ_EINVAL;
    return J(c);
}

lq_json_t *lq_json_new_object(lq_json_doc_t *doc)
{
    if (doc == NULL)
        return NULL;
    enter(doc);
    return made(doc, cJSON_CreateObject());
}

lq_json_t *lq_json_new_array(lq_json_doc_t *doc)
{
    if (doc == NULL)
        return NULL;
    enter(doc);
    return made(doc, cJSON_CreateArray());
}

lq_json_t *lq_json_new_null(lq_json_doc_t *doc)
{
    if (doc == NULL)
        return NULL;
    enter(doc);
    return made(doc, cJSON_CreateNull());
}

lq_json_t *lq_json_new_bool(lq_json_doc_t *doc, bool v)
{
    if (doc == NULL)
        return NULL;
    enter(doc);
    return made(doc, cJSON_CreateBool(v));
}

lq_json_t *lq_json_new_str(lq_json_doc_t *doc, const char *s, size_t len)
{
    if (doc == NULL)
        return NULL;
    if ((s == NULL && len > 0) || (len > 0 && memchr(s, '\0', len) != NULL)) {
        doc->last_err = LQ_EINVAL;
        return NULL;
    }
    enter(doc);
    char *copy = arena_alloc(len + 1u);
    cJSON *c = NULL;
    if (copy != NULL) {
        if (len > 0)
            memcpy(copy, s, len);
        copy[len] = '\0';
        /* A reference item does not copy its string; clearing the flag makes it an
         * ordinary string owned by the arena. */
        c = cJSON_CreateStringReference(copy);
        if (c != NULL)
            c->type &= ~cJSON_IsReference;
    }
    return made(doc, c);
}

lq_json_t *lq_json_new_cstr(lq_json_doc_t *doc, const char *s)
{
    if (s == NULL) {
        if (doc != NULL)
            doc->last_err = LQ_EINVAL;
        return NULL;
    }
    return lq_json_new_str(doc, s, strlen(s));
}

lq_json_t *lq_json_new_int(lq_json_doc_t *doc, int64_t v)
{
    if (doc == NULL)
        return NULL;
    enter(doc);
    cJSON *c;
    /* cJSON prints numbers with "%1.15g": exact and without exponent below 10^15.
     * Larger magnitudes are written as raw decimal text. */
    if (v > -1000000000000000 && v < 1000000000000000) {
        c = cJSON_CreateNumber((double)v);
    } else {
        char text[24];
        char *p = text + sizeof text;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        *--p = '\0';
        do {
            *--p = (char)('0' + (int)(u % 10u));
            u /= 10u;
        } while (u != 0);
        if (v < 0)
            *--p = '-';
        c = cJSON_CreateRaw(p);
    }
    return made(doc, c);
}

/* Is p inside the document's arena (so an item of this document)? */
static bool owns(const lq_json_doc_t *doc, const void *p)
{
    const unsigned char *u = p;
    return doc->mem != NULL && u >= doc->mem && u < doc->mem + doc->used;
}

lq_json_t *lq_json_copy(lq_json_doc_t *dst, const lq_json_t *src)
{
    if (dst == NULL)
        return NULL;
    if (src == NULL) {
        dst->last_err = LQ_EINVAL;
        return NULL;
    }
    size_t mark_used = dst->used;
    enter(dst);
    cJSON *c = cJSON_Duplicate(C(src), 1);
    if (c != NULL && c->string != NULL) {
        if (!(c->type & cJSON_StringIsConst))
            cJSON_free(c->string);
        c->string = NULL;
        c->type &= ~cJSON_StringIsConst;
    }
    lq_json_t *r = made(dst, c);
    if (r == NULL) {
        dst->used = mark_used;
        dst->top = SIZE_MAX;
    }
    return r;
}

/* Common checks of the add functions. */
static lq_err_t check_add(lq_json_doc_t *doc, const lq_json_t *parent, const lq_json_t *item)
{
    if (doc == NULL || parent == NULL)
        return LQ_EINVAL;
    if (item == NULL)
        return doc->last_err != LQ_OK ? doc->last_err : LQ_EINVAL;
    const cJSON *c = C(item);
    if (item == parent || c->prev != NULL || c->next != NULL || !owns(doc, item) ||
        !owns(doc, parent))
        return LQ_EINVAL;
    return LQ_OK;
}

lq_err_t lq_json_obj_add(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_t *item)
{
    lq_err_t e = check_add(doc, obj, item);
    if (e != LQ_OK)
        return e;
    if (key == NULL || !cJSON_IsObject(C(obj)))
        return LQ_EINVAL;
    enter(doc);
    cJSON_bool ok = cJSON_AddItemToObject(C(obj), key, C(item));
    bool oom = doc->exhausted;
    leave();
    if (!ok)
        return oom ? LQ_ETOOBIG : LQ_EINVAL;
    return LQ_OK;
}

lq_err_t lq_json_obj_set(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_t *item)
{
    lq_err_t e = check_add(doc, obj, item);
    if (e != LQ_OK)
        return e;
    if (key == NULL || !cJSON_IsObject(C(obj)))
        return LQ_EINVAL;
    cJSON *old = C(lq_json_get(obj, key));
    if (old == NULL)
        return lq_json_obj_add(doc, obj, key, item);
    enter(doc);
    /* The replacement takes the old member's name (same bytes, so no lookup
     * ambiguity); cJSON_ReplaceItemViaPointer keeps the position. */
    char *name = (char *)cJSON_malloc(strlen(key) + 1u);
    cJSON_bool ok = 0;
    if (name != NULL) {
        memcpy(name, key, strlen(key) + 1u);
        C(item)->string = name;
        C(item)->type &= ~cJSON_StringIsConst;
        ok = cJSON_ReplaceItemViaPointer(C(obj), old, C(item));
        if (!ok)
            C(item)->string = NULL;
    }
    bool oom = doc->exhausted;
    leave();
    if (!ok)
        return oom ? LQ_ETOOBIG : LQ_EINVAL;
    return LQ_OK;
}

lq_err_t lq_json_arr_add(lq_json_doc_t *doc, lq_json_t *arr, lq_json_t *item)
{
    lq_err_t e = check_add(doc, arr, item);
    if (e != LQ_OK)
        return e;
    if (!cJSON_IsArray(C(arr)))
        return LQ_EINVAL;
    enter(doc);
    cJSON_bool ok = cJSON_AddItemToArray(C(arr), C(item));
    leave();
    return ok ? LQ_OK : LQ_EINVAL;
}

static lq_err_t del_item(lq_json_doc_t *doc, lq_json_t *parent, lq_json_t *victim)
{
    if (victim == NULL)
        return LQ_ENOTFOUND;
    enter(doc);
    cJSON_Delete(cJSON_DetachItemViaPointer(C(parent), C(victim)));
    leave();
    return LQ_OK;
}

lq_err_t lq_json_obj_del(lq_json_doc_t *doc, lq_json_t *obj, const char *key)
{
    if (doc == NULL || key == NULL || !cJSON_IsObject(C(obj)))
        return LQ_EINVAL;
    return del_item(doc, obj, lq_json_get(obj, key));
}

lq_err_t lq_json_arr_del(lq_json_doc_t *doc, lq_json_t *arr, size_t i)
{
    if (doc == NULL || !cJSON_IsArray(C(arr)))
        return LQ_EINVAL;
    return del_item(doc, arr, lq_json_index(arr, i));
}

/* ---- printing ------------------------------------------------------------------- */

lq_err_t lq_json_print(const lq_json_t *item, char *buf, size_t cap, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (item == NULL || buf == NULL || cap == 0)
        return LQ_EINVAL;
    int icap = cap > (size_t)INT_MAX ? INT_MAX : (int)cap;
    enter(NULL); /* no document: an allocation here would fail, never land anywhere */
    cJSON_bool ok = cJSON_PrintPreallocated(C(item), buf, icap, 0);
    leave();
    if (!ok) {
        buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    if (len != NULL)
        *len = strlen(buf);
    return LQ_OK;
}
