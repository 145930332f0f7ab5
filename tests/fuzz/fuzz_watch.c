/* libFuzzer target: watch stream splitting (src/kube/frame.c) and the prefix scan (src/kube/scan.c).
 *
 * Input: 4 header bytes (buffer capacity, split seed), then the body. The body is fed
 * all at once, one byte at a time and in pieces chosen from the seed; the three runs
 * must deliver the same events (kind, sizes, offsets, bytes) and end the same way.
 * Every event is checked against the input and scanned; every view must lie inside the
 * bytes it came from. Any violation traps. */
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
    uint32_t events;
    lq_err_t err;
    lq_err_t end;
    uint64_t pos;
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
    char tmp[256];
    size_t out = 0;
    lq_err_t rc = lq_scan_unescape(s->p, s->len, tmp, sizeof tmp, &out);
    CHECK(rc == LQ_OK || rc == LQ_EPROTO || rc == LQ_ETOOBIG);
    if (rc == LQ_OK) {
        CHECK(out <= s->len);
        CHECK(lq_scan_str_eq(s, tmp, out));
    }
    if (!s->escaped) {
        CHECK(memchr(s->p, '\\', s->len) == NULL);
        CHECK(rc == LQ_ETOOBIG || (out == s->len && memcmp(tmp, s->p, out) == 0));
    }
}

/* Scan checks shared with fuzz_list: views inside the object, the fast namespace scan
 * agreeing with the full one. */
static void check_scan(const char *p, size_t n, bool is_event)
{
    lq_scan_meta_t m;
    lq_err_t rc = is_event ? lq_scan_event(p, n, &m) : lq_scan_object(p, n, &m);
    CHECK(rc == LQ_OK || rc == LQ_EPROTO);
    if (rc != LQ_OK)
        return;
    check_view(&m.type, p, n);
    check_view(&m.kind, p, n);
    check_view(&m.api_version, p, n);
    check_view(&m.ns, p, n);
    check_view(&m.name, p, n);
    check_view(&m.uid, p, n);
    check_view(&m.rv, p, n);
    CHECK(is_event || !m.type.found);
    if (m.labels_json) {
        CHECK(m.has_labels);
        CHECK(m.labels_json >= p && m.labels_json + m.labels_len <= p + n);
        CHECK(m.labels_json[0] == '{' && m.labels_json[m.labels_len - 1u] == '}');
    }
    lq_scan_str_t ns;
    lq_err_t frc = lq_scan_namespace_fast(p, n, is_event, &ns);
    if (m.ns.found) {
        CHECK(frc == LQ_OK && ns.p == m.ns.p && ns.len == m.ns.len);
    } else {
        CHECK(frc == LQ_ENOTFOUND || frc == LQ_AGAIN);
        CHECK(!ns.found);
    }
}

static lq_err_t on_event(void *ctx, const lq_frame_obj_t *o)
{
    run_t *r = ctx;

    CHECK(o->data != NULL);
    CHECK(!o->toplevel);
    CHECK(o->index == r->events);
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
    check_scan(o->data, o->len, true);

    uint64_t h = mix(r->digest, (uint64_t)o->kind);
    h = mix(h, o->len);
    h = mix(h, o->total);
    h = mix(h, o->offset);
    for (size_t i = 0; i < o->len; i++)
        h = mix(h, (uint8_t)o->data[i]);
    r->digest = h;
    r->events++;
    return LQ_OK;
}

static void run(run_t *r, const char *in, size_t n, size_t cap, int mode, uint32_t seed)
{
    lq_frame_watch_t w;
    size_t off = 0;

    memset(r, 0, sizeof *r);
    r->in = in;
    r->n = n;
    r->cap = cap;
    memset(g_buf + cap, 0x5a, GUARD);
    lq_frame_watch_init(&w, g_buf, cap, on_event, r);
    while (off < n) {
        size_t k = n - off;
        if (mode == 1) {
            k = 1;
        } else if (mode == 2) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1u + (seed >> 16) % 300u;
            k = piece < k ? piece : k;
        }
        lq_err_t rc = lq_frame_watch_feed(&w, in + off, k);
        off += k;
        CHECK(w.pos <= off);
        if (rc != LQ_OK) {
            CHECK(rc == LQ_EPROTO);
            r->err = rc;
            CHECK(lq_frame_watch_feed(&w, in, n) == rc);
            break;
        }
        CHECK(w.pos == off);
    }
    r->end = lq_frame_watch_end(&w);
    r->pos = w.pos;
    CHECK(w.count == r->events);
    for (size_t i = 0; i < GUARD; i++)
        CHECK((uint8_t)g_buf[cap + i] == 0x5a);
}

static void same(const run_t *a, const run_t *b)
{
    CHECK(a->events == b->events);
    CHECK(a->digest == b->digest);
    CHECK(a->err == b->err);
    CHECK(a->end == b->end);
    CHECK(a->pos == b->pos);
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
    if (a.err == LQ_OK)
        CHECK(a.pos == n);
    else
        CHECK(a.pos < n);
    run(&b, in, n, cap, 1, seed);
    same(&a, &b);
    run(&b, in, n, cap, 2, seed);
    same(&a, &b);
    /* A larger buffer never turns a whole event into an oversized one. */
    if (cap < MAX_CAP) {
        run(&b, in, n, MAX_CAP, 0, seed);
        CHECK(b.events == a.events && b.err == a.err && b.pos == a.pos);
    }
    return 0;
}
