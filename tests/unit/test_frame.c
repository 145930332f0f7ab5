/* Unit tests for src/kube/frame.c: watch stream and LIST splitting.
 *
 * Every input is fed all at once, one byte at a time, split at every offset and in
 * pseudo-random pieces; the delivered objects must be identical in all cases and must
 * equal the bytes of the input at the reported offset. Recorded-style vectors are read
 * from tests/vectors/{watch,list} (LQ_TEST_VECTORS overrides the directory; the tests
 * run from the repository root), each with a hand-written .expect file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h> /* getenv, atoi, strtoull */
#include <string.h>

#include <cmocka.h>

#include "liqolet/frame.h"
#include "liqolet/scan.h"

#ifndef LQ_TEST_VECTORS
#define LQ_TEST_VECTORS "tests/vectors"
#endif

#define MAX_RECS 64
#define CANARY 0xA5
#define GUARD 64u

/* ---- recording ------------------------------------------------------------------- */

typedef struct rec {
    int kind;
    int toplevel;
    size_t len;
    uint64_t total;
    uint64_t offset;
    uint32_t index;
    uint64_t hash;
    int scan_rc;
    int truncated;
    int has_labels;
    char type[32];
    char kind_s[32];
    char ns[64];
    char name[96];
    char uid[64];
    char rv[32];
} rec_t;

typedef struct run {
    size_t n;
    const char *input;
    size_t input_len;
    const char *buf;
    size_t cap;
    int is_list;
    int fail_at;        /* callback index that returns fail_rc (-1: never) */
    lq_err_t fail_rc;
    lq_err_t err;       /* first error returned by a feed, LQ_OK if none */
    lq_err_t last;      /* last feed result */
    lq_err_t end;
    uint64_t pos;
    uint32_t count;
    int again_after_done; /* list: LQ_AGAIN returned after LQ_OK (must never happen) */
    lq_frame_list_meta_t meta;
    rec_t recs[MAX_RECS]; /* last: run_reset clears only what precedes it */
} run_t;

static char g_buf[LQ_MAX_OBJECT + GUARD];
static run_t g_a, g_b;

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void copy_field(char *dst, size_t cap, const lq_scan_str_t *s)
{
    if (!s->found) {
        strcpy(dst, "-");
        return;
    }
    lq_err_t rc = lq_scan_copy(s, dst, cap);
    if (rc != LQ_OK)
        snprintf(dst, cap, "!%s", lq_err_name(rc));
}

static lq_err_t on_obj(void *ctx, const lq_frame_obj_t *o)
{
    run_t *r = ctx;

    assert_true(r->n < MAX_RECS);
    assert_non_null(o->data);
    /* The view lies in the caller's buffer and never beyond its capacity. */
    if (o->len > 0) {
        assert_ptr_equal(o->data, r->buf);
        assert_true(o->len <= r->cap);
    }
    assert_int_equal(o->index, r->n);
    assert_true(o->offset < r->input_len);
    assert_true(o->offset + o->total <= r->input_len);
    /* It starts with '{' and ends with '}' in the input. */
    assert_int_equal(r->input[o->offset], '{');
    assert_int_equal(r->input[o->offset + o->total - 1u], '}');
    if (o->kind == LQ_FRAME_OBJECT) {
        assert_true(o->total == o->len);
    } else {
        assert_int_equal(o->kind, LQ_FRAME_OVERSIZED);
        assert_true(o->total > r->cap);
        size_t want = r->cap < LQ_OVERSIZE_PREFIX ? r->cap : LQ_OVERSIZE_PREFIX;
        assert_int_equal(o->len, want);
    }
    /* The bytes delivered are the input's bytes at that offset. */
    if (o->len > 0)
        assert_true(memcmp(o->data, r->input + o->offset, o->len) == 0);
    if (!r->is_list)
        assert_false(o->toplevel);

    rec_t *x = &r->recs[r->n++];
    memset(x, 0, sizeof *x);
    x->kind = (int)o->kind;
    x->toplevel = o->toplevel;
    x->len = o->len;
    x->total = o->total;
    x->offset = o->offset;
    x->index = o->index;
    x->hash = fnv(o->data, o->len);

    lq_scan_meta_t m;
    lq_err_t rc = (r->is_list && !o->toplevel) ? lq_scan_object(o->data, o->len, &m)
                                                : lq_scan_event(o->data, o->len, &m);
    if (r->is_list && o->toplevel && rc == LQ_OK)
        rc = lq_scan_object(o->data, o->len, &m);
    x->scan_rc = (int)rc;
    if (rc == LQ_OK) {
        x->truncated = m.truncated;
        x->has_labels = m.has_labels;
        copy_field(x->type, sizeof x->type, &m.type);
        copy_field(x->kind_s, sizeof x->kind_s, &m.kind);
        copy_field(x->ns, sizeof x->ns, &m.ns);
        copy_field(x->name, sizeof x->name, &m.name);
        copy_field(x->uid, sizeof x->uid, &m.uid);
        copy_field(x->rv, sizeof x->rv, &m.rv);
    }
    if (r->fail_at >= 0 && (size_t)r->fail_at == r->n - 1u)
        return r->fail_rc;
    return LQ_OK;
}

/* ---- feeding --------------------------------------------------------------------- */

enum { ALL, BYTE, SPLIT, RANDOM };

typedef struct split {
    int mode;
    size_t k;       /* SPLIT: the cut */
    uint32_t seed;  /* RANDOM */
} split_t;

static size_t next_piece(split_t *s, size_t off, size_t remaining)
{
    switch (s->mode) {
    case BYTE:
        return 1;
    case SPLIT:
        if (off < s->k)
            return s->k - off < remaining ? s->k - off : remaining;
        return remaining;
    case RANDOM: {
        s->seed = s->seed * 1103515245u + 12345u;
        size_t n = 1u + (s->seed >> 16) % 97u;
        return n < remaining ? n : remaining;
    }
    default:
        return remaining;
    }
}

static void run_reset(run_t *r, const char *in, size_t n, size_t cap, int is_list)
{
    memset(r, 0, offsetof(run_t, recs));
    r->input = in;
    r->input_len = n;
    r->buf = g_buf;
    r->cap = cap;
    r->is_list = is_list;
    r->fail_at = -1;
    assert_true(cap <= LQ_MAX_OBJECT);
    /* A guard zone right after the capacity must never be written. */
    memset(g_buf + cap, CANARY, GUARD);
}

static void check_canary(const run_t *r)
{
    for (size_t i = r->cap; i < r->cap + GUARD; i++)
        assert_int_equal((uint8_t)g_buf[i], CANARY);
}

static void run_watch(run_t *r, const char *in, size_t n, size_t cap, split_t s, int fail_at, lq_err_t fail_rc)
{
    lq_frame_watch_t w;
    size_t off = 0;

    run_reset(r, in, n, cap, 0);
    r->fail_at = fail_at;
    r->fail_rc = fail_rc;
    lq_frame_watch_init(&w, g_buf, cap, on_obj, r);
    if (n == 0)
        r->last = lq_frame_watch_feed(&w, in, 0);
    while (off < n) {
        size_t k = next_piece(&s, off, n - off);
        r->last = lq_frame_watch_feed(&w, in + off, k);
        off += k;
        if (r->last != LQ_OK) {
            r->err = r->last;
            /* Sticky: the next call fails the same way without touching anything. */
            assert_int_equal(lq_frame_watch_feed(&w, "{}", 2), r->err);
            break;
        }
    }
    r->end = lq_frame_watch_end(&w);
    r->pos = w.pos;
    r->count = w.count;
    assert_int_equal(r->count, r->n);
    check_canary(r);
}

static void run_list(run_t *r, const char *in, size_t n, size_t cap, split_t s, int fail_at, lq_err_t fail_rc)
{
    lq_frame_list_t l;
    size_t off = 0;
    int done = 0;

    run_reset(r, in, n, cap, 1);
    r->fail_at = fail_at;
    r->fail_rc = fail_rc;
    lq_frame_list_init(&l, g_buf, cap, on_obj, r);
    r->last = LQ_AGAIN;
    while (off < n) {
        size_t k = next_piece(&s, off, n - off);
        r->last = lq_frame_list_feed(&l, in + off, k);
        off += k;
        if (r->last == LQ_OK)
            done = 1;
        else if (r->last == LQ_AGAIN && done)
            r->again_after_done = 1;
        else if (r->last != LQ_AGAIN) {
            r->err = r->last;
            assert_int_equal(lq_frame_list_feed(&l, " ", 1), r->err);
            break;
        }
    }
    r->end = lq_frame_list_end(&l);
    r->pos = l.pos;
    r->count = l.count;
    memcpy(&r->meta, &l.meta, sizeof r->meta);
    assert_int_equal(r->count, r->n);
    assert_false(r->again_after_done);
    check_canary(r);
}

static void assert_same(const run_t *a, const run_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_memory_equal(&a->recs[i], &b->recs[i], sizeof(rec_t));
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->end, b->end);
    if (a->err != LQ_OK)
        assert_true(a->pos == b->pos);
    if (a->is_list) {
        assert_int_equal(a->last, b->last);
        assert_memory_equal(&a->meta, &b->meta, sizeof a->meta);
    }
}

/* Runs `in` in every way and checks all runs equal the all-at-once run (left in g_a). */
static void all_ways(const char *in, size_t n, size_t cap, int is_list, int every_split)
{
    split_t s = { ALL, 0, 0 };

    if (is_list)
        run_list(&g_a, in, n, cap, s, -1, LQ_OK);
    else
        run_watch(&g_a, in, n, cap, s, -1, LQ_OK);

    s.mode = BYTE;
    if (is_list)
        run_list(&g_b, in, n, cap, s, -1, LQ_OK);
    else
        run_watch(&g_b, in, n, cap, s, -1, LQ_OK);
    assert_same(&g_a, &g_b);

    for (uint32_t seed = 1; seed <= 8; seed++) {
        s.mode = RANDOM;
        s.seed = seed;
        if (is_list)
            run_list(&g_b, in, n, cap, s, -1, LQ_OK);
        else
            run_watch(&g_b, in, n, cap, s, -1, LQ_OK);
        assert_same(&g_a, &g_b);
    }
    if (!every_split)
        return;
    for (size_t k = 1; k < n; k++) {
        s.mode = SPLIT;
        s.k = k;
        if (is_list)
            run_list(&g_b, in, n, cap, s, -1, LQ_OK);
        else
            run_watch(&g_b, in, n, cap, s, -1, LQ_OK);
        assert_same(&g_a, &g_b);
    }
}

/* ---- vector files ---------------------------------------------------------------- */

/* Reads a vector file into one of two static buffers (no allocation in the tests). */
static char g_vec[2][32768];

static char *slurp(const char *dir, const char *name, const char *ext, size_t *len)
{
    char path[512];
    const char *root = getenv("LQ_TEST_VECTORS");
    char *p = g_vec[strcmp(ext, ".expect") == 0];
    snprintf(path, sizeof path, "%s/%s/%s%s", root ? root : LQ_TEST_VECTORS, dir, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open vector %s (run the tests from the repository root)", path);
    size_t n = fread(p, 1, sizeof g_vec[0], f);
    fclose(f);
    assert_true(n < sizeof g_vec[0]);
    p[n] = '\0';
    *len = n;
    return p;
}

/* Next non-comment line of an .expect file split on spaces. */
static int expect_line(char **cursor, char *fields[], int max)
{
    for (;;) {
        char *line = *cursor;
        if (!line || !*line)
            return -1;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            *cursor = nl + 1;
        } else {
            *cursor = line + strlen(line);
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        int n = 0;
        for (char *t = strtok(line, " "); t && n < max; t = strtok(NULL, " "))
            fields[n++] = t;
        return n;
    }
}

static const char *watch_vectors[] = { "pods-shop", "unicode-and-order" };
static const char *list_vectors[] = {
    "podlist-page1",          "configmaplist-meta-after", "podlist-empty",
    "servicelist-null-items", "namespacelist-pretty",     "status-410-expired",
};

static void check_watch_vector(const char *name, size_t cap, int every_split)
{
    size_t n = 0, en = 0;
    char *in = slurp("watch", name, ".jsonl", &n);
    char *exp = slurp("watch", name, ".expect", &en);

    all_ways(in, n, cap, 0, every_split);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.end, LQ_OK);
    assert_true(g_a.pos == n);

    /* Independent boundaries: the vectors hold one event per line. */
    char *cur = exp;
    char *f[10];
    size_t line_start = 0;
    size_t i = 0;
    for (; i < g_a.n; i++) {
        const rec_t *x = &g_a.recs[i];
        const char *nl = memchr(in + line_start, '\n', n - line_start);
        assert_non_null(nl);
        size_t line_len = (size_t)(nl - (in + line_start));
        assert_true(x->offset == line_start);
        assert_true(x->total == line_len);
        line_start += line_len + 1u;

        assert_int_equal(expect_line(&cur, f, 10), 8);
        assert_int_equal(x->scan_rc, LQ_OK);
        if (x->kind == LQ_FRAME_OBJECT) {
            assert_false(x->truncated);
            assert_string_equal(x->type, f[0]);
            assert_string_equal(x->kind_s, f[1]);
            assert_string_equal(x->ns, f[3]);
            assert_string_equal(x->name, f[4]);
            assert_string_equal(x->uid, f[5]);
            assert_string_equal(x->rv, f[6]);
            assert_int_equal(x->has_labels, atoi(f[7]));
        } else {
            /* Oversized: the prefix is enough for type and identity (the scan stops
             * early once it has them, so it may not reach the cut). */
            assert_string_equal(x->type, f[0]);
            assert_string_equal(x->ns, f[3]);
            assert_string_equal(x->name, f[4]);
            assert_string_equal(x->uid, f[5]);
        }
    }
    assert_int_equal(expect_line(&cur, f, 10), -1);
    assert_true(line_start == n);
    (void)en;
}

static void test_watch_vectors(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof watch_vectors / sizeof watch_vectors[0]; v++)
        check_watch_vector(watch_vectors[v], LQ_MAX_OBJECT, 1);
}

static void test_watch_vectors_small_buffer(void **state)
{
    (void)state;
    /* Pods (about 4 KiB) do not fit 2 KiB: oversized; BOOKMARK and ERROR still fit. */
    /* Every split point is covered at full capacity and by the constructed oversized
     * cases; here per byte and random pieces keep the run short under qemu. */
    check_watch_vector("pods-shop", 2048, 0);
    int oversized = 0, whole = 0;
    for (size_t i = 0; i < g_a.n; i++) {
        if (g_a.recs[i].kind == LQ_FRAME_OVERSIZED)
            oversized++;
        else
            whole++;
    }
    assert_int_equal(oversized, 4);
    assert_int_equal(whole, 2);
    check_watch_vector("unicode-and-order", 300, 1);
}

static void check_list_vector(const char *name, size_t cap, int every_split)
{
    size_t n = 0, en = 0;
    char *in = slurp("list", name, ".json", &n);
    char *exp = slurp("list", name, ".expect", &en);
    char *cur = exp;
    char *f[10];

    all_ways(in, n, cap, 1, every_split);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.last, LQ_OK);
    assert_int_equal(g_a.end, LQ_OK);
    assert_true(g_a.pos == n);

    assert_int_equal(expect_line(&cur, f, 10), 5);
    assert_string_equal(g_a.meta.kind, f[0]);
    assert_int_equal(g_a.meta.kind_len, strlen(f[0]));
    assert_string_equal(g_a.meta.rv, strcmp(f[1], "-") ? f[1] : "");
    assert_string_equal(g_a.meta.cont, strcmp(f[2], "-") ? f[2] : "");
    assert_int_equal(g_a.meta.cont_len, strcmp(f[2], "-") ? strlen(f[2]) : 0);
    if (strcmp(f[3], "-") == 0) {
        assert_false(g_a.meta.has_remaining);
    } else {
        assert_true(g_a.meta.has_remaining);
        assert_true(g_a.meta.remaining == strtoull(f[3], NULL, 10));
    }
    assert_int_equal(g_a.meta.has_items, atoi(f[4]));

    if (!g_a.meta.has_items) {
        /* Not a list: the whole top-level object is delivered once. */
        assert_int_equal(g_a.n, 1);
        assert_true(g_a.recs[0].toplevel);
        const char *open = strchr(in, '{');
        const char *close = strrchr(in, '}');
        assert_true(g_a.recs[0].offset == (uint64_t)(open - in));
        assert_true(g_a.recs[0].total == (uint64_t)(close - open + 1));
        assert_string_equal(g_a.recs[0].kind_s, f[0]);
    } else {
        size_t i = 0;
        int k;
        while ((k = expect_line(&cur, f, 10)) > 0) {
            assert_int_equal(k, 5);
            assert_true(i < g_a.n);
            const rec_t *x = &g_a.recs[i++];
            assert_false(x->toplevel);
            if (strcmp(f[0], "-") != 0)
                assert_true(x->total == strtoull(f[0], NULL, 10));
            assert_int_equal(x->scan_rc, LQ_OK);
            assert_string_equal(x->ns, f[1]);
            assert_string_equal(x->name, f[2]);
            assert_string_equal(x->uid, f[3]);
            if (x->kind == LQ_FRAME_OBJECT)
                assert_string_equal(x->rv, f[4]);
            assert_string_equal(x->type, "-");
        }
        assert_int_equal(i, g_a.n);
    }
    (void)en;
}

static void test_list_vectors(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof list_vectors / sizeof list_vectors[0]; v++)
        check_list_vector(list_vectors[v], LQ_MAX_OBJECT, 1);
}

static void test_list_vectors_small_buffer(void **state)
{
    (void)state;
    check_list_vector("podlist-page1", 4000, 0); /* first pod (4059) oversized, second (3976) fits */
    assert_int_equal(g_a.n, 2);
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OVERSIZED);
    assert_int_equal(g_a.recs[1].kind, LQ_FRAME_OBJECT);
    check_list_vector("status-410-expired", 100, 1); /* the Status itself is oversized */
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OVERSIZED);
}

/* ---- watch: constructed cases ------------------------------------------------------ */

/* Builds ADDED small / MODIFIED big (annotation of `pad` bytes) / DELETED small. */
static size_t build_big_stream(char *out, size_t cap, size_t pad, size_t *big_off, size_t *big_len)
{
    const char *a = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
                    "{\"name\":\"small-a\",\"namespace\":\"edge\",\"uid\":\"aaaa-1\",\"resourceVersion\":\"10\"},"
                    "\"data\":{\"k\":\"v}\"}}}\n";
    const char *b1 = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
                     "{\"name\":\"huge\",\"namespace\":\"edge\",\"uid\":\"bbbb-2\",\"resourceVersion\":\"11\"},"
                     "\"data\":{\"blob\":\"";
    const char *b2 = "\"}}}\n";
    const char *c = "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
                    "{\"name\":\"small-c\",\"namespace\":\"edge\",\"uid\":\"cccc-3\",\"resourceVersion\":\"12\"}}}\n";
    size_t n = 0;
    assert_true(strlen(a) + strlen(b1) + pad + strlen(b2) + strlen(c) < cap);
    memcpy(out + n, a, strlen(a));
    n += strlen(a);
    *big_off = n;
    memcpy(out + n, b1, strlen(b1));
    n += strlen(b1);
    for (size_t i = 0; i < pad; i++) {
        /* Escapes, quotes and braces that must not confuse the skipper. */
        static const char pat[] = "x\\\"}{][\\\\ \\u007d";
        out[n++] = pat[i % (sizeof pat - 1u)];
    }
    /* Do not end the padding inside an escape. */
    while (out[n - 1] == '\\' || (n >= 2 && out[n - 2] == '\\' && out[n - 1] == 'u'))
        out[n++] = '0';
    memcpy(out + n, b2, strlen(b2));
    n += strlen(b2);
    *big_len = n - *big_off - 1u; /* without the newline */
    memcpy(out + n, c, strlen(c));
    n += strlen(c);
    return n;
}

static void test_watch_oversized_between_normal(void **state)
{
    static char in[16384];
    size_t big_off = 0, big_len = 0;
    (void)state;
    size_t n = build_big_stream(in, sizeof in, 6000, &big_off, &big_len);

    all_ways(in, n, 2048, 0, 1);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.end, LQ_OK);
    assert_int_equal(g_a.n, 3);
    /* Neighbours intact. */
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OBJECT);
    assert_string_equal(g_a.recs[0].name, "small-a");
    assert_string_equal(g_a.recs[0].type, "ADDED");
    assert_false(g_a.recs[0].truncated);
    assert_int_equal(g_a.recs[2].kind, LQ_FRAME_OBJECT);
    assert_string_equal(g_a.recs[2].name, "small-c");
    assert_string_equal(g_a.recs[2].type, "DELETED");
    /* The big one: reported with its identity and exact size. */
    const rec_t *b = &g_a.recs[1];
    assert_int_equal(b->kind, LQ_FRAME_OVERSIZED);
    assert_true(b->offset == big_off);
    assert_true(b->total == big_len);
    assert_int_equal(b->len, LQ_OVERSIZE_PREFIX);
    assert_string_equal(b->type, "MODIFIED");
    assert_string_equal(b->name, "huge");
    assert_string_equal(b->ns, "edge");
    assert_string_equal(b->uid, "bbbb-2");
    assert_string_equal(b->rv, "11");
}

static void test_watch_exact_fit(void **state)
{
    static const char ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n\"}}}";
    size_t len = sizeof ev - 1u;
    char in[256];
    (void)state;
    snprintf(in, sizeof in, "%s\n%s\n", ev, ev);

    all_ways(in, strlen(in), len, 0, 1);
    assert_int_equal(g_a.n, 2);
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OBJECT);
    assert_int_equal(g_a.recs[1].kind, LQ_FRAME_OBJECT);
    assert_int_equal(g_a.recs[1].len, len);

    all_ways(in, strlen(in), len - 1u, 0, 1);
    assert_int_equal(g_a.n, 2);
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OVERSIZED);
    assert_true(g_a.recs[0].total == len);
    assert_int_equal(g_a.recs[0].len, len - 1u);
    assert_string_equal(g_a.recs[0].name, "n");

    /* No buffer at all: everything is oversized with an empty prefix. */
    all_ways(in, strlen(in), 0, 0, 0);
    assert_int_equal(g_a.n, 2);
    assert_int_equal(g_a.recs[1].kind, LQ_FRAME_OVERSIZED);
    assert_int_equal(g_a.recs[1].len, 0);
    assert_true(g_a.recs[1].total == len);
}

static void test_watch_whitespace_and_no_newlines(void **state)
{
    static const char in[] = " \r\n\t{\"type\":\"ADDED\",\"object\":{\"a\":\"}\\\"{\"}}"
                             "{\"type\":\"MODIFIED\",\"object\":{\"b\":[{},[]]}}\r\n\r\n"
                             "  {}  \n{\"type\":\"DELETED\",\"object\":{\"c\":\"\\\\\"}}";
    (void)state;
    all_ways(in, sizeof in - 1u, 256, 0, 1);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.end, LQ_OK);
    assert_int_equal(g_a.n, 4);
    assert_string_equal(g_a.recs[0].type, "ADDED");
    assert_true(g_a.recs[0].offset == 4);
    assert_string_equal(g_a.recs[1].type, "MODIFIED");
    assert_true(g_a.recs[2].total == 2);
    assert_string_equal(g_a.recs[3].type, "DELETED");
}

static void test_watch_garbage(void **state)
{
    static const struct {
        const char *in;
        lq_err_t err;
        uint64_t pos;  /* offset of the offending byte */
        size_t events; /* delivered before it */
    } v[] = {
        { "x", LQ_EPROTO, 0, 0 },
        { "}", LQ_EPROTO, 0, 0 },
        { "]", LQ_EPROTO, 0, 0 },
        { "[{}]", LQ_EPROTO, 0, 0 },
        { "\"{}\"", LQ_EPROTO, 0, 0 },
        { "{}\n}", LQ_EPROTO, 3, 1 },
        { "{\"a\":1}}\n", LQ_EPROTO, 7, 1 },
        { "{]", LQ_EPROTO, 1, 0 },
        { "{\"a\":[}]}", LQ_EPROTO, 6, 0 },
        { "{\"a\":{]}", LQ_EPROTO, 6, 0 },
        { "{},{}", LQ_EPROTO, 2, 1 },
        { "{}\nnull\n", LQ_EPROTO, 3, 1 },
        { "{\"type\":\"ADDED\"}\n\x00{}", LQ_EPROTO, 17, 1 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].in);
        if (i == sizeof v / sizeof v[0] - 1u)
            n = 20;
        split_t s = { ALL, 0, 0 };
        run_watch(&g_a, v[i].in, n, 64, s, -1, LQ_OK);
        assert_int_equal(g_a.err, v[i].err);
        assert_int_equal(g_a.end, v[i].err);
        assert_true(g_a.pos == v[i].pos);
        assert_int_equal(g_a.n, v[i].events);
        s.mode = BYTE;
        run_watch(&g_b, v[i].in, n, 64, s, -1, LQ_OK);
        assert_same(&g_a, &g_b);
    }
}

static void test_watch_depth(void **state)
{
    static char in[2u * (LQ_FRAME_MAX_DEPTH + 2u) + 8u];
    size_t n = 0;
    (void)state;

    /* Deeper than the checked levels, alternating kinds: fine. */
    size_t d = LQ_FRAME_CHECK_DEPTH + 40u;
    for (size_t i = 0; i < d; i++)
        in[n++] = i % 2u ? '[' : '{';
    for (size_t i = d; i-- > 0;)
        in[n++] = i % 2u ? ']' : '}';
    /* (Not valid JSON, objects without keys: framing only tracks nesting.) */
    all_ways(in, n, sizeof in, 0, 0);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.n, 1);
    assert_true(g_a.recs[0].total == n);

    /* A mismatch within the checked levels is caught... */
    in[n - 2u] = '}';
    in[n - 3u] = in[n - 3u] == ']' ? '}' : ']';
    all_ways(in, n, sizeof in, 0, 0);
    assert_int_equal(g_a.err, LQ_EPROTO);

    /* ...and nesting beyond LQ_FRAME_MAX_DEPTH is refused. */
    n = 0;
    for (size_t i = 0; i < LQ_FRAME_MAX_DEPTH + 1u; i++)
        in[n++] = '[';
    in[0] = '{';
    split_t s = { ALL, 0, 0 };
    run_watch(&g_a, in, n, sizeof in, s, -1, LQ_OK);
    assert_int_equal(g_a.err, LQ_EPROTO);
    assert_true(g_a.pos == LQ_FRAME_MAX_DEPTH);
    /* Exactly LQ_FRAME_MAX_DEPTH levels are accepted. */
    n = LQ_FRAME_MAX_DEPTH;
    for (size_t i = 0; i < LQ_FRAME_MAX_DEPTH - 1u; i++)
        in[n++] = ']';
    in[n++] = '}';
    run_watch(&g_a, in, n, 16, s, -1, LQ_OK);
    assert_int_equal(g_a.err, LQ_OK);
    assert_int_equal(g_a.n, 1);
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OVERSIZED);
}

static void test_watch_truncated(void **state)
{
    static const char in[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\\\"}\"}}}\n";
    (void)state;
    for (size_t k = 0; k <= sizeof in - 1u; k++) {
        split_t s = { ALL, 0, 0 };
        run_watch(&g_a, in, k, 128, s, -1, LQ_OK);
        assert_int_equal(g_a.err, LQ_OK);
        /* Complete only once the closing '}' (index len-2) has arrived. */
        if (k >= sizeof in - 2u) {
            assert_int_equal(g_a.end, LQ_OK);
            assert_int_equal(g_a.n, 1);
            assert_string_equal(g_a.recs[0].name, "a\"}");
        } else {
            assert_int_equal(g_a.end, k == 0 ? LQ_OK : LQ_EPROTO);
            assert_int_equal(g_a.n, 0);
        }
    }
}

static void test_watch_callback_error(void **state)
{
    static const char in[] = "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n";
    (void)state;
    split_t s = { ALL, 0, 0 };
    run_watch(&g_a, in, sizeof in - 1u, 64, s, 1, LQ_ENOSPC);
    assert_int_equal(g_a.err, LQ_ENOSPC);
    assert_int_equal(g_a.end, LQ_ENOSPC);
    assert_int_equal(g_a.n, 2);
    assert_true(g_a.pos == 15); /* right after the second event */
    s.mode = BYTE;
    run_watch(&g_b, in, sizeof in - 1u, 64, s, 1, LQ_ENOSPC);
    assert_same(&g_a, &g_b);
}

static void test_watch_args(void **state)
{
    lq_frame_watch_t w;
    lq_frame_list_t l;
    (void)state;
    lq_frame_watch_init(&w, g_buf, 16, NULL, NULL);
    assert_int_equal(lq_frame_watch_feed(&w, NULL, 1), LQ_EINVAL);
    assert_int_equal(lq_frame_watch_feed(&w, NULL, 0), LQ_OK);
    /* No callback: events are framed and dropped. */
    assert_int_equal(lq_frame_watch_feed(&w, "{\"a\":1}\n{}", 10), LQ_OK);
    assert_int_equal(w.count, 2);
    assert_int_equal(lq_frame_watch_end(&w), LQ_OK);
    lq_frame_list_init(&l, g_buf, 16, NULL, NULL);
    assert_int_equal(lq_frame_list_feed(&l, NULL, 1), LQ_EINVAL);
    assert_int_equal(lq_frame_list_feed(&l, NULL, 0), LQ_AGAIN);
    assert_int_equal(lq_frame_list_end(&l), LQ_EPROTO);
}

/* ---- LIST: constructed cases ------------------------------------------------------- */

static void test_list_oversized_middle(void **state)
{
    static char in[16384];
    size_t n = 0;
    (void)state;
    n += (size_t)snprintf(in + n, sizeof in - n,
                          "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"5\"},"
                          "\"items\":[{\"metadata\":{\"name\":\"one\",\"namespace\":\"a\",\"uid\":\"u1\"}},\n");
    size_t big = n;
    n += (size_t)snprintf(in + n, sizeof in - n,
                          "{\"metadata\":{\"name\":\"big\",\"namespace\":\"a\",\"uid\":\"u2\",\"resourceVersion\":\"4\"},"
                          "\"data\":{\"x\":\"");
    for (int i = 0; i < 3000; i++)
        in[n++] = "]}\\\"ab"[i % 6];
    n += (size_t)snprintf(in + n, sizeof in - n, "\"}}");
    size_t big_len = n - big;
    n += (size_t)snprintf(in + n, sizeof in - n,
                          " ,{\"metadata\":{\"name\":\"three\",\"namespace\":\"a\",\"uid\":\"u3\"}}]}");

    all_ways(in, n, 1500, 1, 1);
    assert_int_equal(g_a.last, LQ_OK);
    assert_int_equal(g_a.n, 3);
    assert_int_equal(g_a.recs[0].kind, LQ_FRAME_OBJECT);
    assert_string_equal(g_a.recs[0].name, "one");
    assert_int_equal(g_a.recs[1].kind, LQ_FRAME_OVERSIZED);
    assert_true(g_a.recs[1].offset == big);
    assert_true(g_a.recs[1].total == big_len);
    assert_int_equal(g_a.recs[1].len, 1024);
    assert_string_equal(g_a.recs[1].name, "big");
    assert_string_equal(g_a.recs[1].uid, "u2");
    assert_int_equal(g_a.recs[2].kind, LQ_FRAME_OBJECT);
    assert_string_equal(g_a.recs[2].name, "three");
    assert_string_equal(g_a.meta.rv, "5");
    assert_string_equal(g_a.meta.kind, "ConfigMapList");
}

static void test_list_shapes(void **state)
{
    static const struct {
        const char *in;
        size_t items;
        const char *rv;
        const char *cont;
        int has_items;
    } v[] = {
        { "{\"items\":[],\"metadata\":{\"resourceVersion\":\"1\"}}", 0, "1", "", 1 },
        { "{\"items\":null,\"metadata\":{\"resourceVersion\":\"2\",\"continue\":null}}", 0, "2", "", 1 },
        { " \n{ \"metadata\" : { } , \"items\" : [ { } , {\"a\":[1,{\"b\":\"]\"}]} ] } \n", 2, "", "", 1 },
        /* Nested "items"/"metadata"/"continue" at other depths do not count. */
        { "{\"details\":{\"items\":[{\"x\":1}],\"metadata\":{\"continue\":\"no\"}},\"metadata\":{\"annotations\":"
          "{\"continue\":\"no\"},\"continue\":\"yes\",\"resourceVersion\":\"3\"},\"items\":[{\"metadata\":{"
          "\"continue\":\"no\",\"resourceVersion\":\"9\"},\"items\":[{}]}],\"extra\":[[\"items\"],{\"metadata\":1}]}",
          1, "3", "yes", 1 },
        /* Escaped values are decoded; escaped keys match nothing. */
        { "{\"metadata\":{\"continue\":\"a\\u003db\\/c\\\"d\",\"resource\\u0056ersion\":\"7\"},\"items\":[]}", 0, "",
          "a=b/c\"d", 1 },
        { "{\"kind\":\"PodList\",\"metadata\":{\"remainingItemCount\":null,\"selfLink\":\"\"},\"items\":[{}]}", 1, "",
          "", 1 },
        { "{}", 1, "", "", 0 },
        { "{\"kind\":\"Status\",\"code\":410,\"ok\":true,\"x\":-1.5e+3,\"y\":false,\"z\":null}", 1, "", "", 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        all_ways(v[i].in, strlen(v[i].in), 256, 1, 1);
        assert_int_equal(g_a.err, LQ_OK);
        assert_int_equal(g_a.last, LQ_OK);
        assert_int_equal(g_a.end, LQ_OK);
        assert_int_equal(g_a.n, v[i].items);
        assert_string_equal(g_a.meta.rv, v[i].rv);
        assert_string_equal(g_a.meta.cont, v[i].cont);
        assert_int_equal(g_a.meta.cont_len, strlen(v[i].cont));
        assert_int_equal(g_a.meta.has_items, v[i].has_items);
        if (!v[i].has_items)
            assert_true(g_a.recs[0].toplevel);
    }
    /* The nested item kept its own metadata intact. */
    all_ways(v[3].in, strlen(v[3].in), 256, 1, 0);
    assert_string_equal(g_a.recs[0].rv, "9");
}

static void test_list_field_limits(void **state)
{
    static char in[4096];
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)snprintf(in, sizeof in, "{\"kind\":\"PodList\",\"metadata\":{\"continue\":\"");
        size_t want = LQ_LIST_CONTINUE_MAX + (size_t)extra;
        for (size_t i = 0; i < want; i++)
            in[n++] = (char)('A' + (int)(i % 26u));
        n += (size_t)snprintf(in + n, sizeof in - n, "\"},\"items\":[{}]}");
        all_ways(in, n, 64, 1, 0);
        if (extra) {
            assert_int_equal(g_a.err, LQ_ETOOBIG);
            assert_int_equal(g_a.end, LQ_ETOOBIG);
            assert_int_equal(g_a.n, 0);
            /* Reported at the first byte that does not fit. */
            assert_true(g_a.pos == 42u + LQ_LIST_CONTINUE_MAX);
        } else {
            assert_int_equal(g_a.last, LQ_OK);
            assert_int_equal(g_a.meta.cont_len, LQ_LIST_CONTINUE_MAX);
            assert_int_equal(strlen(g_a.meta.cont), LQ_LIST_CONTINUE_MAX);
            assert_int_equal(g_a.n, 1);
        }
    }
    /* resourceVersion and kind limits too. */
    size_t n = (size_t)snprintf(in, sizeof in, "{\"items\":[],\"metadata\":{\"resourceVersion\":\"");
    for (size_t i = 0; i < LQ_LIST_RV_MAX + 1u; i++)
        in[n++] = '9';
    n += (size_t)snprintf(in + n, sizeof in - n, "\"}}");
    all_ways(in, n, 64, 1, 0);
    assert_int_equal(g_a.err, LQ_ETOOBIG);
    n = (size_t)snprintf(in, sizeof in, "{\"kind\":\"");
    for (size_t i = 0; i < LQ_LIST_KIND_MAX + 1u; i++)
        in[n++] = 'K';
    n += (size_t)snprintf(in + n, sizeof in - n, "\",\"items\":[]}");
    all_ways(in, n, 64, 1, 0);
    assert_int_equal(g_a.err, LQ_ETOOBIG);
    /* remainingItemCount: largest 19-digit value is fine, 20 digits is refused. */
    const char *ok = "{\"items\":[],\"metadata\":{\"remainingItemCount\":9999999999999999999}}";
    all_ways(ok, strlen(ok), 64, 1, 0);
    assert_int_equal(g_a.last, LQ_OK);
    assert_true(g_a.meta.remaining == 9999999999999999999ull);
}

static void test_list_garbage(void **state)
{
    static const struct {
        const char *in;
        lq_err_t err;
        uint64_t pos;
    } v[] = {
        { "[]", LQ_EPROTO, 0 },
        { "x", LQ_EPROTO, 0 },
        { "{\"items\":{}}", LQ_EPROTO, 9 },
        { "{\"items\":\"x\"}", LQ_EPROTO, 9 },
        { "{\"items\":true}", LQ_EPROTO, 13 },
        { "{\"items\":[1]}", LQ_EPROTO, 10 },
        { "{\"items\":[null]}", LQ_EPROTO, 10 },
        { "{\"items\":[{}],}", LQ_EPROTO, 14 },
        { "{\"items\":[{},]}", LQ_EPROTO, 13 },
        { "{\"items\":[{}]]", LQ_EPROTO, 13 },
        { "{\"items\":[{]}", LQ_EPROTO, 11 },
        { "{\"items\":[]} x", LQ_EPROTO, 13 },
        { "{\"items\":[]}{}", LQ_EPROTO, 12 },
        { "{\"a\" \"b\"}", LQ_EPROTO, 5 },
        { "{\"a\":}", LQ_EPROTO, 5 },
        { "{\"a\":1 2}", LQ_EPROTO, 7 },
        { "{,}", LQ_EPROTO, 1 },
        { "{\"metadata\":{\"remainingItemCount\":\"5\"}}", LQ_EPROTO, 34 },
        { "{\"metadata\":{\"remainingItemCount\":-1}}", LQ_EPROTO, 36 },
        { "{\"metadata\":{\"remainingItemCount\":12345678901234567890}}", LQ_EPROTO, 54 },
        { "{\"metadata\":{\"continue\":5}}", LQ_EPROTO, 25 },
        { "{\"metadata\":{\"resourceVersion\":{}}}", LQ_EPROTO, 31 },
        { "{\"kind\":[\"Status\"]}", LQ_EPROTO, 8 },
        { "{\"metadata\":{\"continue\":\"bad\\x\"}}", LQ_EPROTO, 30 },
        { "{\"items\":[],\"metadata\":{\"continue\":\"\\ud800\"}}", LQ_EPROTO, 42 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        split_t s = { ALL, 0, 0 };
        run_list(&g_a, v[i].in, strlen(v[i].in), 64, s, -1, LQ_OK);
        if (g_a.err != v[i].err || g_a.pos != v[i].pos)
            fail_msg("vector %zu (%s): got %s at %llu", i, v[i].in, lq_err_name(g_a.err),
                     (unsigned long long)g_a.pos);
        assert_int_equal(g_a.end, v[i].err);
        s.mode = BYTE;
        run_list(&g_b, v[i].in, strlen(v[i].in), 64, s, -1, LQ_OK);
        assert_same(&g_a, &g_b);
    }
}

static void test_list_truncated(void **state)
{
    static const char in[] = "{\"metadata\":{\"resourceVersion\":\"8\"},\"items\":[{\"a\":\"}\"},{}]}";
    (void)state;
    for (size_t k = 0; k < sizeof in - 1u; k++) {
        split_t s = { ALL, 0, 0 };
        run_list(&g_a, in, k, 64, s, -1, LQ_OK);
        assert_int_equal(g_a.err, LQ_OK);
        assert_int_equal(g_a.last, LQ_AGAIN);
        assert_int_equal(g_a.end, LQ_EPROTO);
    }
    split_t s = { ALL, 0, 0 };
    run_list(&g_a, in, sizeof in - 1u, 64, s, -1, LQ_OK);
    assert_int_equal(g_a.last, LQ_OK);
    assert_int_equal(g_a.end, LQ_OK);
    assert_int_equal(g_a.n, 2);
}

static void test_list_callback_error(void **state)
{
    static const char in[] = "{\"items\":[{\"n\":1},{\"n\":2},{\"n\":3}]}";
    (void)state;
    split_t s = { ALL, 0, 0 };
    run_list(&g_a, in, sizeof in - 1u, 64, s, 0, LQ_ECONFLICT);
    assert_int_equal(g_a.err, LQ_ECONFLICT);
    assert_int_equal(g_a.end, LQ_ECONFLICT);
    assert_int_equal(g_a.n, 1);
    assert_true(g_a.pos == 17);
    s.mode = BYTE;
    run_list(&g_b, in, sizeof in - 1u, 64, s, 0, LQ_ECONFLICT);
    assert_same(&g_a, &g_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_vectors),
        cmocka_unit_test(test_watch_vectors_small_buffer),
        cmocka_unit_test(test_watch_oversized_between_normal),
        cmocka_unit_test(test_watch_exact_fit),
        cmocka_unit_test(test_watch_whitespace_and_no_newlines),
        cmocka_unit_test(test_watch_garbage),
        cmocka_unit_test(test_watch_depth),
        cmocka_unit_test(test_watch_truncated),
        cmocka_unit_test(test_watch_callback_error),
        cmocka_unit_test(test_watch_args),
        cmocka_unit_test(test_list_vectors),
        cmocka_unit_test(test_list_vectors_small_buffer),
        cmocka_unit_test(test_list_oversized_middle),
        cmocka_unit_test(test_list_shapes),
        cmocka_unit_test(test_list_field_limits),
        cmocka_unit_test(test_list_garbage),
        cmocka_unit_test(test_list_truncated),
        cmocka_unit_test(test_list_callback_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
