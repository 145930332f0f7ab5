/* Watch and LIST framing: split a decoded body into whole objects, one at a time.
 * Pure module: C standard headers and liqolet headers only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/frame.h"
#include "liqolet/scan.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- nesting tracker ------------------------------------------------------------ */

static void tok_reset(lq_frame_tok_t *t)
{
    memset(t, 0, sizeof *t);
}

/* Runs the tracker over p[0..n). The first byte ever fed after tok_reset must be '{',
 * '[' or '"'. Stops right after the byte that completes the value (*done = true).
 * *used receives the bytes consumed; on LQ_EPROTO it is the index of the bad byte. */
static lq_err_t tok_run(lq_frame_tok_t *t, const char *p, size_t n, size_t *used, bool *done)
{
    size_t i = 0;

    *done = false;
    while (i < n) {
        if (t->in_str) {
            if (t->esc) {
                t->esc = false;
                i++;
                continue;
            }
            while (i < n && p[i] != '"' && p[i] != '\\')
                i++;
            if (i == n)
                break;
            if (p[i] == '\\') {
                t->esc = true;
                i++;
                continue;
            }
            i++;
            t->in_str = false;
            if (t->depth == 0) {
                *done = true;
                break;
            }
            continue;
        }
        char c = p[i];
        if (c == '"') {
            t->in_str = true;
        } else if (c == '{' || c == '[') {
            if (t->depth >= LQ_FRAME_MAX_DEPTH) {
                *used = i;
                return LQ_EPROTO;
            }
            if (t->depth < LQ_FRAME_CHECK_DEPTH) {
                uint8_t bit = (uint8_t)(1u << (t->depth & 7u));
                if (c == '[')
                    t->is_array[t->depth >> 3] |= bit;
                else
                    t->is_array[t->depth >> 3] &= (uint8_t)~bit;
            }
            t->depth++;
        } else if (c == '}' || c == ']') {
            if (t->depth == 0) {
                *used = i;
                return LQ_EPROTO;
            }
            uint32_t d = t->depth - 1u;
            if (d < LQ_FRAME_CHECK_DEPTH) {
                bool opened_array = (t->is_array[d >> 3] >> (d & 7u)) & 1u;
                if (opened_array != (c == ']')) {
                    *used = i;
                    return LQ_EPROTO;
                }
            }
            t->depth = d;
            if (d == 0) {
                *used = i + 1u;
                *done = true;
                return LQ_OK;
            }
        } else if (t->depth == 0) {
            /* A bare scalar: callers only start the tracker on '{', '[' or '"'. */
            *used = i;
            return LQ_EPROTO;
        }
        i++;
    }
    *used = i;
    return LQ_OK;
}

/* ---- the object being copied ---------------------------------------------------- */

static void cap_setup(lq_frame_cap_t *c, char *buf, size_t cap)
{
    c->buf = buf;
    c->cap = buf ? cap : 0u;
    c->len = 0;
    c->total = 0;
    c->start = 0;
}

static void cap_begin(lq_frame_cap_t *c, uint64_t start)
{
    c->len = 0;
    c->total = 0;
    c->start = start;
}

/* Counts n more bytes of the object and copies what still fits. */
static void cap_append(lq_frame_cap_t *c, const char *p, size_t n)
{
    c->total += n;
    if (c->len < c->cap && n > 0) {
        size_t room = c->cap - c->len;
        size_t k = n < room ? n : room;
        memcpy(c->buf + c->len, p, k);
        c->len += k;
    }
}

static lq_err_t cap_emit(const lq_frame_cap_t *c, lq_frame_fn *fn, void *ctx, bool toplevel,
                         uint32_t index)
{
    lq_frame_obj_t o;

    o.toplevel = toplevel;
    o.data = c->buf;
    o.total = c->total;
    o.offset = c->start;
    o.index = index;
    if (c->total <= (uint64_t)c->cap) {
        o.kind = LQ_FRAME_OBJECT;
        o.len = (size_t)c->total;
    } else {
        o.kind = LQ_FRAME_OVERSIZED;
        o.len = c->len < (size_t)LQ_OVERSIZE_PREFIX ? c->len : (size_t)LQ_OVERSIZE_PREFIX;
    }
    if (o.len == 0)
        o.data = c->buf ? c->buf : "";
    return fn ? fn(ctx, &o) : LQ_OK;
}

/* ---- watch streams -------------------------------------------------------------- */

void lq_frame_watch_init(lq_frame_watch_t *w, char *buf, size_t cap, lq_frame_fn *fn, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->fn = fn;
    w->ctx = ctx;
    w->err = LQ_OK;
    cap_setup(&w->cap, buf, cap);
    tok_reset(&w->tok);
}

lq_err_t lq_frame_watch_feed(lq_frame_watch_t *w, const char *data, size_t len)
{
    size_t i = 0;

    if (w->err != LQ_OK)
        return w->err;
    if (data == NULL && len > 0)
        return LQ_EINVAL;
    while (i < len) {
        if (!w->in_event) {
            char c = data[i];
            if (is_ws(c)) {
                i++;
                w->pos++;
                continue;
            }
            if (c != '{') {
                w->err = LQ_EPROTO;
                return w->err;
            }
            cap_begin(&w->cap, w->pos);
            tok_reset(&w->tok);
            w->in_event = true;
        }
        size_t used = 0;
        bool done = false;
        lq_err_t rc = tok_run(&w->tok, data + i, len - i, &used, &done);
        cap_append(&w->cap, data + i, used);
        i += used;
        w->pos += used;
        if (rc != LQ_OK) {
            w->err = rc;
            return rc;
        }
        if (done) {
            w->in_event = false;
            rc = cap_emit(&w->cap, w->fn, w->ctx, false, w->count);
            w->count++;
            if (rc != LQ_OK) {
                w->err = rc;
                return rc;
            }
        }
    }
    return LQ_OK;
}

lq_err_t lq_frame_watch_end(const lq_frame_watch_t *w)
{
    if (w->err != LQ_OK)
        return w->err;
    return w->in_event ? LQ_EPROTO : LQ_OK;
}

/* ---- LIST responses ------------------------------------------------------------- */

enum list_state {
    L_START,      /* before the top-level '{' */
    L_OBJ_FIRST,  /* after '{' of an outer object: key or '}' */
    L_OBJ_NEXT,   /* after ',' in an outer object: key */
    L_KEY,        /* inside a key */
    L_KEY_ESC,    /* after a backslash in a key */
    L_COLON,      /* after a key */
    L_VALUE,      /* after ':' */
    L_STR,        /* inside a string value of an outer object */
    L_STR_ESC,    /* after a backslash in it */
    L_LIT,        /* inside a number / true / false / null */
    L_SKIP,       /* inside an object or array value nobody asked for */
    L_AFTER,      /* after a value: ',' or the container's close */
    L_ITEM_FIRST, /* after '[' of "items": '{' or ']' */
    L_ITEM_NEXT,  /* after ',' in "items": '{' */
    L_ITEM,       /* inside an item */
    L_DONE,       /* the top-level object has closed */
};

enum list_inner { IN_META = 1, IN_ITEMS = 2 };

enum list_key { K_OTHER, K_ITEMS, K_METADATA, K_KIND, K_RV, K_CONT, K_REMAIN };

enum list_target { T_NONE, T_KIND, T_RV, T_CONT, T_REMAIN, T_ITEMS, T_NULLSTR };

void lq_frame_list_init(lq_frame_list_t *l, char *buf, size_t cap, lq_frame_fn *fn, void *ctx)
{
    memset(l, 0, sizeof *l);
    l->fn = fn;
    l->ctx = ctx;
    l->err = LQ_OK;
    l->state = L_START;
    cap_setup(&l->cap, buf, cap);
    tok_reset(&l->tok);
}

static bool key_is(const lq_frame_list_t *l, const char *s)
{
    size_t n = strlen(s);
    return !l->key_other && l->key_len == n && memcmp(l->key_buf, s, n) == 0;
}

static uint8_t key_match(const lq_frame_list_t *l)
{
    if (l->nest == 1) {
        if (key_is(l, "items"))
            return K_ITEMS;
        if (key_is(l, "metadata"))
            return K_METADATA;
        if (key_is(l, "kind"))
            return K_KIND;
    } else if (l->inner == IN_META) {
        if (key_is(l, "resourceVersion"))
            return K_RV;
        if (key_is(l, "continue"))
            return K_CONT;
        if (key_is(l, "remainingItemCount"))
            return K_REMAIN;
    }
    return K_OTHER;
}

/* The fixed field a string target writes to. */
static char *target_field(lq_frame_list_t *l, size_t **lenp, size_t *max)
{
    switch (l->target) {
    case T_KIND:
        *lenp = &l->meta.kind_len;
        *max = LQ_LIST_KIND_MAX;
        return l->meta.kind;
    case T_RV:
        *lenp = &l->meta.rv_len;
        *max = LQ_LIST_RV_MAX;
        return l->meta.rv;
    case T_CONT:
        *lenp = &l->meta.cont_len;
        *max = LQ_LIST_CONTINUE_MAX;
        return l->meta.cont;
    default:
        return NULL;
    }
}

static void target_clear(lq_frame_list_t *l)
{
    size_t *lenp = NULL;
    size_t max = 0;
    char *f = target_field(l, &lenp, &max);
    if (f) {
        *lenp = 0;
        f[0] = '\0';
    }
}

static lq_err_t target_put(lq_frame_list_t *l, char c)
{
    size_t *lenp = NULL;
    size_t max = 0;
    char *f = target_field(l, &lenp, &max);
    if (!f)
        return LQ_OK;
    if (*lenp >= max)
        return LQ_ETOOBIG;
    f[(*lenp)++] = c;
    f[*lenp] = '\0';
    return LQ_OK;
}

static lq_err_t target_finish_str(lq_frame_list_t *l)
{
    size_t *lenp = NULL;
    size_t max = 0;
    char *f = target_field(l, &lenp, &max);
    if (!f || !l->target_esc)
        return LQ_OK;
    size_t n = 0;
    lq_err_t rc = lq_scan_unescape(f, *lenp, f, max, &n);
    if (rc != LQ_OK)
        return rc;
    *lenp = n;
    f[n] = '\0';
    return LQ_OK;
}

static bool is_lit_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '+' || c == '.';
}

static bool lit_is(const lq_frame_list_t *l, const char *s)
{
    size_t n = strlen(s);
    return l->lit_len == n && memcmp(l->lit, s, n) == 0;
}

static lq_err_t lit_finish(lq_frame_list_t *l)
{
    switch (l->target) {
    case T_ITEMS:
    case T_NULLSTR:
        return lit_is(l, "null") ? LQ_OK : LQ_EPROTO;
    case T_REMAIN: {
        if (lit_is(l, "null")) {
            l->meta.has_remaining = false;
            l->meta.remaining = 0;
            return LQ_OK;
        }
        if (l->lit_len == 0 || l->lit_len > 19u)
            return LQ_EPROTO;
        uint64_t v = 0;
        for (size_t k = 0; k < l->lit_len; k++) {
            char d = l->lit[k];
            if (d < '0' || d > '9')
                return LQ_EPROTO;
            v = v * 10u + (uint64_t)(d - '0');
        }
        l->meta.remaining = v;
        l->meta.has_remaining = true;
        return LQ_OK;
    }
    default:
        return LQ_OK;
    }
}

/* Processes one byte in the outer states. *advance is cleared when the byte must be
 * looked at again in the new state. */
static lq_err_t list_step(lq_frame_list_t *l, char c, bool *advance)
{
    *advance = true;
    switch ((enum list_state)l->state) {
    case L_START:
        if (is_ws(c))
            return LQ_OK;
        if (c != '{')
            return LQ_EPROTO;
        l->nest = 1;
        l->topcap = true;
        l->state = L_OBJ_FIRST;
        return LQ_OK;
    case L_OBJ_FIRST:
    case L_OBJ_NEXT:
        if (is_ws(c))
            return LQ_OK;
        if (c == '"') {
            l->key_len = 0;
            l->key_other = false;
            l->state = L_KEY;
            return LQ_OK;
        }
        if (c == '}' && l->state == L_OBJ_FIRST) {
            *advance = false; /* closed by L_AFTER */
            l->state = L_AFTER;
            return LQ_OK;
        }
        return LQ_EPROTO;
    case L_KEY:
        if (c == '\\') {
            l->key_other = true;
            l->state = L_KEY_ESC;
        } else if (c == '"') {
            l->key = key_match(l);
            if (l->nest == 1 && l->key == K_ITEMS) {
                l->meta.has_items = true;
                l->topcap = false;
            }
            l->state = L_COLON;
        } else if (l->key_len < sizeof l->key_buf) {
            l->key_buf[l->key_len++] = c;
        } else {
            l->key_other = true;
        }
        return LQ_OK;
    case L_KEY_ESC:
        l->state = L_KEY;
        return LQ_OK;
    case L_COLON:
        if (is_ws(c))
            return LQ_OK;
        if (c != ':')
            return LQ_EPROTO;
        l->state = L_VALUE;
        return LQ_OK;
    case L_VALUE: {
        if (is_ws(c))
            return LQ_OK;
        bool typed_str = l->key == K_KIND || l->key == K_RV || l->key == K_CONT;
        if (c == '"') {
            if (l->key == K_ITEMS || l->key == K_REMAIN)
                return LQ_EPROTO;
            l->target = l->key == K_KIND   ? T_KIND
                        : l->key == K_RV   ? T_RV
                        : l->key == K_CONT ? T_CONT
                                           : T_NONE;
            l->target_esc = false;
            target_clear(l);
            l->state = L_STR;
            return LQ_OK;
        }
        if (c == '{' || c == '[') {
            if (l->key == K_METADATA && c == '{') {
                l->nest = 2;
                l->inner = IN_META;
                l->state = L_OBJ_FIRST;
                return LQ_OK;
            }
            if (l->key == K_ITEMS && c == '[') {
                l->nest = 2;
                l->inner = IN_ITEMS;
                l->state = L_ITEM_FIRST;
                return LQ_OK;
            }
            if (l->key == K_ITEMS || l->key == K_REMAIN || typed_str)
                return LQ_EPROTO;
            tok_reset(&l->tok);
            l->state = L_SKIP;
            *advance = false;
            return LQ_OK;
        }
        if (is_lit_char(c)) {
            l->target = l->key == K_ITEMS    ? T_ITEMS
                        : l->key == K_REMAIN ? T_REMAIN
                        : typed_str          ? T_NULLSTR
                                             : T_NONE;
            if (typed_str) {
                /* null (or junk, refused at its end): the field is absent. */
                uint8_t keep = l->target;
                l->target = l->key == K_KIND ? T_KIND : l->key == K_RV ? T_RV : T_CONT;
                target_clear(l);
                l->target = keep;
            }
            l->lit_len = 0;
            l->state = L_LIT;
            *advance = false;
            return LQ_OK;
        }
        return LQ_EPROTO;
    }
    case L_STR:
        if (c == '"') {
            lq_err_t rc = target_finish_str(l);
            if (rc != LQ_OK)
                return rc;
            l->target = T_NONE;
            l->state = L_AFTER;
            return LQ_OK;
        }
        if (c == '\\') {
            l->target_esc = true;
            l->state = L_STR_ESC;
        }
        return target_put(l, c);
    case L_STR_ESC:
        l->state = L_STR;
        return target_put(l, c);
    case L_LIT:
        if (is_lit_char(c)) {
            if (l->target != T_NONE) {
                if (l->lit_len >= sizeof l->lit)
                    return LQ_EPROTO;
                l->lit[l->lit_len++] = c;
            }
            return LQ_OK;
        }
        {
            lq_err_t rc = lit_finish(l);
            if (rc != LQ_OK)
                return rc;
        }
        l->target = T_NONE;
        l->state = L_AFTER;
        *advance = false;
        return LQ_OK;
    case L_AFTER: {
        if (is_ws(c))
            return LQ_OK;
        bool in_array = l->nest == 2 && l->inner == IN_ITEMS;
        if (c == ',') {
            l->state = in_array ? L_ITEM_NEXT : L_OBJ_NEXT;
            return LQ_OK;
        }
        if ((c == '}' && !in_array) || (c == ']' && in_array)) {
            l->nest--;
            l->inner = 0;
            l->key = K_OTHER;
            l->state = l->nest == 0 ? L_DONE : L_AFTER;
            return LQ_OK;
        }
        return LQ_EPROTO;
    }
    case L_ITEM_FIRST:
    case L_ITEM_NEXT:
        if (is_ws(c))
            return LQ_OK;
        if (c == '{') {
            tok_reset(&l->tok);
            l->state = L_ITEM;
            *advance = false;
            return LQ_OK;
        }
        if (c == ']' && l->state == L_ITEM_FIRST) {
            l->state = L_AFTER;
            *advance = false;
            return LQ_OK;
        }
        return LQ_EPROTO;
    case L_DONE:
        return is_ws(c) ? LQ_OK : LQ_EPROTO;
    case L_SKIP:
    case L_ITEM:
    default:
        return LQ_EPROTO; /* handled by the caller */
    }
}

lq_err_t lq_frame_list_feed(lq_frame_list_t *l, const char *data, size_t len)
{
    size_t i = 0;
    size_t seg = 0; /* start of the bytes still to copy while topcap is on */
    uint64_t pos0 = l->pos;
    lq_err_t rc = LQ_OK;

    if (l->err != LQ_OK)
        return l->err;
    if (data == NULL && len > 0)
        return LQ_EINVAL;
    while (i < len) {
        if (l->state == L_SKIP || l->state == L_ITEM) {
            size_t used = 0;
            bool done = false;
            rc = tok_run(&l->tok, data + i, len - i, &used, &done);
            if (l->state == L_ITEM) {
                if (used > 0 && l->cap.total == 0)
                    cap_begin(&l->cap, pos0 + i);
                cap_append(&l->cap, data + i, used);
            }
            i += used;
            if (rc != LQ_OK)
                break;
            if (done) {
                if (l->state == L_ITEM) {
                    l->pos = pos0 + i;
                    rc = cap_emit(&l->cap, l->fn, l->ctx, false, l->count);
                    l->count++;
                    cap_begin(&l->cap, 0);
                    if (rc != LQ_OK)
                        break;
                }
                l->state = L_AFTER;
            }
            continue;
        }
        bool was_top = l->topcap;
        uint8_t before = l->state;
        bool advance = true;
        if (before == L_START && data[i] == '{') {
            cap_begin(&l->cap, pos0 + i);
            seg = i;
        }
        rc = list_step(l, data[i], &advance);
        if (rc != LQ_OK)
            break;
        if (advance)
            i++;
        if (l->state == L_DONE && before != L_DONE) {
            /* The top-level object just closed with data[i - 1]. */
            if (was_top) {
                cap_append(&l->cap, data + seg, i - seg);
                l->topcap = false;
            }
            if (!l->meta.has_items) {
                l->pos = pos0 + i;
                rc = cap_emit(&l->cap, l->fn, l->ctx, true, l->count);
                l->count++;
                if (rc != LQ_OK)
                    break;
            }
            cap_begin(&l->cap, 0);
        } else if (was_top && !l->topcap) {
            /* "items" key: the top-level copy is no longer needed. */
            cap_begin(&l->cap, 0);
        }
    }
    l->pos = pos0 + i;
    if (rc != LQ_OK) {
        l->err = rc;
        return rc;
    }
    if (l->topcap && i > seg)
        cap_append(&l->cap, data + seg, i - seg);
    return l->state == L_DONE ? LQ_OK : LQ_AGAIN;
}

lq_err_t lq_frame_list_end(const lq_frame_list_t *l)
{
    if (l->err != LQ_OK)
        return l->err;
    return l->state == L_DONE ? LQ_OK : LQ_EPROTO;
}
