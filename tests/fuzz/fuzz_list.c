/* libFuzzer target: LIST splitting (src/kube/frame.c) and the prefix scan of items.
 *
 * Input: 4 header bytes (buffer capacity, split seed), then the body. The body is fed
 * all at once, one byte at a time and in pieces chosen from the seed; the three runs
 * must deliver the same items (kind, sizes, offsets, bytes), the same list metadata
 * and end the same way. Views and fixed fields are checked for bounds. Any violation
 * traps. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/frame.h"
#include "liqolet/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_CAP 8192u
#define GUARD 32u

typedef struct run {
    const char *in;
    size_t n;
    size_t cap;
    uint64_t digest;
    uint32_t items;
    uint32_t toplevel;
    lq_err_t err;
    lq_err_t last;
    lq_err_t end;
    uint64_t pos;
    uint64_t done_at; /* stream offset at which LQ_OK was first returned */
    lq_frame_list_meta_t meta;
} run_t;

static char g_buf[MAX_CAP + GUARD];

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

static void check_view(const lq_scan_str_t *s, const char *p, size_t n)
{
    if (!s->found)
        return;
    CHECK(s->p >= p && s->len <= n && s->p + s->len <= p + n);
    char tmp[128];
    char copy[128];
    size_t out = 0;
    lq_err_t rc = lq_scan_unescape(s->p, s->len, tmp, sizeof tmp, &out);
    CHECK(rc == LQ_OK || rc == LQ_EPROTO || rc == LQ_ETOOBIG);
    if (rc == LQ_OK) {
        CHECK(out <= s->len);
        lq_err_t crc = lq_scan_copy(s, copy, sizeof copy);
        if (out < sizeof copy) {
            CHECK(crc == LQ_OK && memcmp(copy, tmp, out) == 0 && copy[out] == '\0');
        } else {
            CHECK(crc == LQ_ETOOBIG);
        }
    }
}

static lq_err_t on_item(void *ctx, const lq_frame_obj_t *o)
{
    run_t *r = ctx;
    lq_scan_meta_t m;

    CHECK(o->data != NULL);
    CHECK(o->index == r->items + r->toplevel);
    CHECK(o->total >= 2u && o->offset < r->n && o->offset + o->total <= r->n);
    CHECK(r->in[o->offset] == '{' && r->in[o->offset + o->total - 1u] == '}');
    if (o->kind == LQ_FRAME_OBJECT) {
        CHECK(o->len == o->total && o->len <= r->cap);
    } else {
        CHECK(o->kind == LQ_FRAME_OVERSIZED);
        CHECK(o->total > r->cap);
        CHECK(o->len == (r->cap < LQ_OVERSIZE_PREFIX ? r->cap : LQ_OVERSIZE_PREFIX));
    }
    if (o->len > 0) {
        CHECK(o->data == g_buf);
        CHECK(memcmp(o->data, r->in + o->offset, o->len) == 0);
    }
    if (o->toplevel) {
        /* At most one, and it is the whole body's object: nothing but whitespace before. */
        CHECK(r->toplevel == 0 && r->items == 0);
        for (uint64_t i = 0; i < o->offset; i++)
            CHECK(r->in[i] == ' ' || r->in[i] == '\t' || r->in[i] == '\r' || r->in[i] == '\n');
        r->toplevel++;
    } else {
        CHECK(r->toplevel == 0);
        r->items++;
    }
    lq_err_t rc = lq_scan_object(o->data, o->len, &m);
    CHECK(rc == LQ_OK || rc == LQ_EPROTO);
    if (rc == LQ_OK) {
        CHECK(!m.type.found);
        check_view(&m.kind, o->data, o->len);
        check_view(&m.ns, o->data, o->len);
        check_view(&m.name, o->data, o->len);
        check_view(&m.uid, o->data, o->len);
        check_view(&m.rv, o->data, o->len);
        lq_scan_str_t ns;
        lq_err_t frc = lq_scan_namespace_fast(o->data, o->len, false, &ns);
        if (m.ns.found)
            CHECK(frc == LQ_OK && ns.p == m.ns.p && ns.len == m.ns.len);
        else
            CHECK(frc == LQ_ENOTFOUND || frc == LQ_AGAIN);
    }

    uint64_t h = mix(r->digest, (uint64_t)o->kind | ((uint64_t)o->toplevel << 8));
    h = mix(h, o->len);
    h = mix(h, o->total);
    h = mix(h, o->offset);
    for (size_t i = 0; i < o->len; i++)
        h = mix(h, (uint8_t)o->data[i]);
    r->digest = h;
    return LQ_OK;
}

static void check_meta(const lq_frame_list_meta_t *m)
{
    CHECK(m->kind_len <= LQ_LIST_KIND_MAX && m->kind[m->kind_len] == '\0');
    CHECK(m->rv_len <= LQ_LIST_RV_MAX && m->rv[m->rv_len] == '\0');
    CHECK(m->cont_len <= LQ_LIST_CONTINUE_MAX && m->cont[m->cont_len] == '\0');
}

static void run(run_t *r, const char *in, size_t n, size_t cap, int mode, uint32_t seed)
{
    lq_frame_list_t l;
    size_t off = 0;

    memset(r, 0, sizeof *r);
    r->in = in;
    r->n = n;
    r->cap = cap;
    r->last = LQ_AGAIN;
    r->done_at = UINT64_MAX;
    memset(g_buf + cap, 0x5a, GUARD);
    lq_frame_list_init(&l, g_buf, cap, on_item, r);
    while (off < n) {
        size_t k = n - off;
        if (mode == 1) {
            k = 1;
        } else if (mode == 2) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1u + (seed >> 16) % 300u;
            k = piece < k ? piece : k;
        }
        lq_err_t rc = lq_frame_list_feed(&l, in + off, k);
        off += k;
        r->last = rc;
        if (rc == LQ_OK) {
            CHECK(l.pos == off);
            if (r->done_at == UINT64_MAX) {
                /* Done means the top-level '}' has been seen: scan back for it. */
                size_t j = off;
                while (j > 0 && (in[j - 1] == ' ' || in[j - 1] == '\t' || in[j - 1] == '\r' || in[j - 1] == '\n'))
                    j--;
                CHECK(j > 0 && in[j - 1] == '}');
                r->done_at = off;
            }
            continue;
        }
        if (r->done_at != UINT64_MAX)
            CHECK(rc == LQ_EPROTO); /* after done: whitespace (LQ_OK) or garbage only */
        if (rc == LQ_AGAIN) {
            CHECK(l.pos == off);
            continue;
        }
        CHECK(rc == LQ_EPROTO || rc == LQ_ETOOBIG);
        CHECK(l.pos < off);
        r->err = rc;
        CHECK(lq_frame_list_feed(&l, in, n) == rc);
        break;
    }
    r->end = lq_frame_list_end(&l);
    r->pos = l.pos;
    CHECK(l.count == r->items + r->toplevel);
    CHECK(r->toplevel == 0 || !l.meta.has_items);
    if (r->end == LQ_OK && !l.meta.has_items)
        CHECK(r->toplevel == 1);
    check_meta(&l.meta);
    memcpy(&r->meta, &l.meta, sizeof r->meta);
    for (size_t i = 0; i < GUARD; i++)
        CHECK((uint8_t)g_buf[cap + i] == 0x5a);
}

static void same(const run_t *a, const run_t *b)
{
    CHECK(a->items == b->items && a->toplevel == b->toplevel);
    CHECK(a->digest == b->digest);
    CHECK(a->err == b->err);
    CHECK(a->end == b->end);
    CHECK(a->pos == b->pos);
    CHECK(memcmp(&a->meta, &b->meta, sizeof a->meta) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t a, b;

    if (size < 4u)
        return 0;
    size_t cap = ((size_t)data[0] | ((size_t)data[1] << 8)) % (MAX_CAP + 1u);
    uint32_t seed = (uint32_t)data[2] | ((uint32_t)data[3] << 8);
    const char *in = (const char *)data + 4;
    size_t n = size - 4u;

    run(&a, in, n, cap, 0, seed);
    run(&b, in, n, cap, 1, seed);
    same(&a, &b);
    CHECK(a.last == b.last || n == 0);
    run(&b, in, n, cap, 2, seed);
    same(&a, &b);
    return 0;
}
