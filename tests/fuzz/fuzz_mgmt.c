/* libFuzzer target: the management endpoint's own request parsing and rendering
 * (src/mgmt/render.c): the HTTP listener's request head parser, the Uri-Query parser,
 * Block2 values, Accept, the loopback test, and the rendering of every resource with
 * strings taken from the input (escaping in JSON and Prometheus labels).
 *
 * Input: byte 0 selects the part; the rest drives it.
 * Invariants: no crash or overrun; a response never exceeds the block size or the
 * buffer; a 2.05 with Block2 says the block size it used; rendering is deterministic
 * (the same request twice gives the same bytes and ETag); blocks of one representation
 * share one ETag and concatenate to the whole. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/mgmt_render.h"

static lq_mgmt_snapshot_t snap;
static char strs[4][64];
static size_t n_obj;

static bool objects(void *ctx, lq_mgmt_kind_t kind, size_t i, lq_mgmt_object_t *out)
{
    (void)ctx;
    (void)kind;
    if (i >= n_obj)
        return false;
    out->ns = strs[i % 4];
    out->name = strs[(i + 1) % 4];
    out->remote_ns = i % 2 ? NULL : strs[2];
    out->state = strs[3];
    return true;
}

/* Copies up to 63 bytes of input into a NUL-terminated string. */
static void take(const uint8_t **p, size_t *n, char *out)
{
    size_t k = *n > 0 ? (*p)[0] % 64 : 0;
    if (*n > 0) {
        (*p)++;
        (*n)--;
    }
    if (k > *n)
        k = *n;
    memcpy(out, *p, k);
    out[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if (out[i] == '\0')
            out[i] = 'z';
    *p += k;
    *n -= k;
}

static void check_render(const lq_mgmt_view_t *v, const lq_mgmt_req_t *q)
{
    static char a[1024], b[1024];
    lq_mgmt_resp_t ra, rb;
    if (lq_mgmt_render_response(v, q, NULL, a, sizeof a, &ra) != LQ_OK)
        __builtin_trap();
    if (lq_mgmt_render_response(v, q, NULL, b, sizeof b, &rb) != LQ_OK)
        __builtin_trap();
    if (ra.len != rb.len || memcmp(a, b, ra.len) != 0 || ra.code != rb.code ||
        memcmp(ra.etag_value, rb.etag_value, sizeof ra.etag_value) != 0)
        __builtin_trap();
    if (ra.len > sizeof a)
        __builtin_trap();
    if (ra.code == 205 && ra.block2 && ra.len > (16u << (ra.block2_value & 7u)))
        __builtin_trap();
    if (ra.code != 205 && ra.code != 400 && ra.code != 402 && ra.code != 404 && ra.code != 406)
        __builtin_trap();
}

/* All blocks of 128 bytes: one ETag, and the last one ends the representation. */
static void check_blocks(const lq_mgmt_view_t *v, lq_mgmt_res_t res, int kind)
{
    static char whole[256 * 1024], part[128];
    size_t off = 0;
    uint8_t etag[8];
    lq_mgmt_cursor_t cur;
    memset(&cur, 0, sizeof cur);
    for (uint32_t num = 0; num < 4096; num++) {
        lq_mgmt_req_t q;
        memset(&q, 0, sizeof q);
        q.res = res;
        q.kind = kind;
        q.accept = -1;
        q.max_block = 1024;
        q.has_block2 = true;
        q.block2 = num << 4 | 3u;
        lq_mgmt_resp_t r;
        if (lq_mgmt_render_response(v, &q, res == LQ_MGMT_RES_OBJECTS ? &cur : NULL, part, sizeof part, &r) != LQ_OK)
            __builtin_trap();
        if (r.code != 205 || r.len > 128 || off + r.len > sizeof whole)
            __builtin_trap();
        if (num == 0)
            memcpy(etag, r.etag_value, 8);
        else if (memcmp(etag, r.etag_value, 8) != 0)
            __builtin_trap();
        memcpy(whole + off, part, r.len);
        off += r.len;
        if (!(r.block2_value & 8u))
            break;
    }
    if (off == 0 || whole[off - 1] != '\n')
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    if (mode % 4 == 0) { /* HTTP request head */
        int res = 7;
        bool head = false;
        lq_err_t e = lq_mgmt_render_http_parse((const char *)p, n, &res, &head);
        if (e == LQ_OK && res != -1 && res != LQ_MGMT_RES_HEALTH && res != LQ_MGMT_RES_READY &&
            res != LQ_MGMT_RES_METRICS)
            __builtin_trap();
        if (e != LQ_OK && e != LQ_AGAIN && e != LQ_ENOTSUP && e != LQ_EPROTO && e != LQ_ETOOBIG)
            __builtin_trap();
        return 0;
    }
    if (mode % 4 == 1) { /* query + address text */
        const char *ns = NULL;
        size_t nl = 0;
        char msg[96];
        memset(msg, 'x', sizeof msg);
        lq_err_t e = lq_mgmt_render_parse_query((const char *)p, n, &ns, &nl, msg, sizeof msg);
        if (e == LQ_OK && ns != NULL && (ns < (const char *)p || ns + nl > (const char *)p + n || nl == 0))
            __builtin_trap();
        if (e != LQ_OK && memchr(msg, '\0', sizeof msg) == NULL)
            __builtin_trap();
        char ip[64];
        take(&p, &n, ip);
        (void)lq_mgmt_render_is_loopback(ip);
        return 0;
    }

    /* A request to render, with a snapshot built from the input. */
    memset(&snap, 0, sizeof snap);
    for (int i = 0; i < 4; i++)
        take(&p, &n, strs[i]);
    snap.home = (lq_mgmt_cluster_t){ strs[0], strs[1], strs[2], (mode & 0x10) != 0, (mode & 0x40) != 0 };
    snap.foreign = (lq_mgmt_cluster_t){ strs[3], strs[0], NULL, (mode & 0x20) != 0, (mode & 0x80) != 0 };
    snap.vnode.name = strs[1];
    snap.vnode.registered = (mode & 0x40) != 0;
    snap.vnode.lock_held = (mode & 0x80) != 0;
    snap.n_ns = n > 0 ? p[0] % 8 : 0;
    for (size_t i = 0; i < snap.n_ns; i++) {
        snap.ns[i].local = strs[i % 4];
        snap.ns[i].remote = strs[(i + 2) % 4];
        snap.ns[i].state = strs[3];
        snap.ns[i].items[i % LQ_MGMT_KIND_COUNT] = i + 1;
        snap.ns[i].errors[(i + 1) % LQ_MGMT_KIND_COUNT] = i;
    }
    snap.tables[0] = (lq_mgmt_table_t){ strs[0], 1, 2, 3 };
    snap.n_tables = 1;
    snap.conns[0] = (lq_mgmt_conn_t){ strs[0], strs[1], strs[2], strs[3], 1, 2, 3 };
    snap.n_conns = 1;
    n_obj = n > 1 ? p[1] % 40 : 0;
    lq_mgmt_view_t v;
    memset(&v, 0, sizeof v);
    v.snap = &snap;
    v.objects = objects;
    v.version = strs[2];
    v.board = strs[3];
    v.uptime_ms = n > 2 ? p[2] * 1000u : 0;

    lq_mgmt_req_t q;
    memset(&q, 0, sizeof q);
    q.res = (lq_mgmt_res_t)(n > 3 ? p[3] % 5 : 0);
    q.kind = n > 4 ? p[4] % 9 - 1 : 0;
    q.has_block2 = n > 5 && (p[5] & 1);
    q.block2 = n > 8 ? (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8] : 0;
    q.accept = n > 9 ? (int)(p[9] % 4 == 0 ? -1 : p[9] % 4 == 1 ? 0 : p[9] % 4 == 2 ? 50 : p[9]) : -1;
    q.max_block = n > 10 ? (size_t)16u << (p[10] % 7) : 1024;
    size_t skip = n > 11 ? 11 : n;
    q.query = (const char *)p + skip;
    q.query_len = n - skip;
    check_render(&v, &q);
    (void)lq_mgmt_render_digest(&v, LQ_MGMT_RES_STATUS);
    (void)lq_mgmt_render_digest(&v, LQ_MGMT_RES_READY);
    if (mode & 0x08) {
        int kind = q.kind >= 0 && q.kind <= (int)LQ_MGMT_KIND_NAMESPACES ? q.kind : 0;
        lq_mgmt_res_t res = mode & 0x04 ? LQ_MGMT_RES_OBJECTS
                            : mode & 1  ? LQ_MGMT_RES_METRICS
                                        : LQ_MGMT_RES_STATUS;
        check_blocks(&v, res, kind);
    }
    return 0;
}
