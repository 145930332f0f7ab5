/* libFuzzer target: the pod forge (src/forge/pod.c) over JSON documents (src/kube/json.c).
 *
 * Input: 2 header bytes, then JSON text. Byte 0: bit 0 reflectIPs, bit 1 a root CA name,
 * bits 2..7 the restart offset. Byte 1: the output arena size (small ones make the
 * builders run out of room). If the text holds a NUL byte, the part before it is the home
 * Pod and the part after it the remote Pod; otherwise the same text is both.
 *
 * Every function runs on the inputs; a result must be a documented code, and:
 *   - the code never depends on the arena size, except that a smaller arena may turn
 *     LQ_OK into LQ_ETOOBIG (never a truncated object: an LQ_OK output prints exactly
 *     as with the large arena);
 *   - a forged remote Pod is ours (lq_forge_pod_owner says OURS for the home uid), has
 *     the forced fields false and no nodeName;
 *   - a status patch has hostIP = the node IP, and podIP null unless reflectIPs;
 *   - hashing survives print and re-parse (printing is a fixed point);
 *   - no output arena is ever overrun (ASan).
 * Any violation traps.
 *
 * Build: `make build/fuzz/fuzz_forge_pod` (cJSON as for fuzz_json). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/forge_pod.h"
#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define IN_ARENA  (256u * 1024u)
#define BIG_ARENA (256u * 1024u)
#define OUT_MAX   (128u * 1024u)

static _Alignas(16) unsigned char in_arena[IN_ARENA];
static _Alignas(16) unsigned char big_arena[BIG_ARENA];
static _Alignas(16) unsigned char small_arena[BIG_ARENA];
static _Alignas(16) unsigned char re_arena[BIG_ARENA];
static char out_big[OUT_MAX], out_small[OUT_MAX];

static const lq_forge_pod_remote_params_t RP_CA = {"rns", "home-id", "foreign-id", "kube-root-ca.crt.home-"};
static const lq_forge_pod_remote_params_t RP_NOCA = {"rns", "home-id", "foreign-id", NULL};

static bool code_ok(lq_err_t e)
{
    return e == LQ_OK || e == LQ_EPROTO || e == LQ_ETOOBIG;
}

/* Runs one builder on a big and on a small arena and checks the invariants shared by all;
 * returns the big arena's result (NULL unless LQ_OK). */
typedef lq_err_t (*build_fn)(lq_json_doc_t *doc, const void *ctx, lq_json_t **out);

static lq_json_t *both(build_fn fn, const void *ctx, size_t small_cap, lq_json_doc_t *big)
{
    lq_json_doc_t small;
    lq_json_t *a = (lq_json_t *)1, *b = (lq_json_t *)1;
    lq_json_doc_init(big, big_arena, sizeof big_arena);
    lq_json_doc_init(&small, small_arena, small_cap);
    lq_err_t ea = fn(big, ctx, &a), eb = fn(&small, ctx, &b);
    CHECK(code_ok(ea) && code_ok(eb));
    CHECK(eb == ea || eb == LQ_ETOOBIG);
    CHECK(ea == LQ_OK ? a != NULL : a == NULL);
    CHECK(eb == LQ_OK ? b != NULL : b == NULL);
    if (ea != LQ_OK || eb != LQ_OK)
        return a;
    size_t la, lb;
    CHECK(lq_json_print(a, out_big, sizeof out_big, &la) == LQ_OK);
    CHECK(lq_json_print(b, out_small, sizeof out_small, &lb) == LQ_OK);
    CHECK(la == lb && memcmp(out_big, out_small, la) == 0);
    return a;
}

typedef struct ctx {
    const lq_json_t *home, *remote;
    const lq_forge_pod_remote_params_t *rp;
    lq_forge_pod_status_params_t sp;
} ctx_t;

static lq_err_t f_remote(lq_json_doc_t *d, const void *c, lq_json_t **o)
{
    const ctx_t *x = c;
    return lq_forge_pod_remote(d, x->home, x->rp, o);
}

static lq_err_t f_status(lq_json_doc_t *d, const void *c, lq_json_t **o)
{
    const ctx_t *x = c;
    return lq_forge_pod_status_patch(d, x->home, x->remote, &x->sp, o);
}

static lq_err_t f_meta(lq_json_doc_t *d, const void *c, lq_json_t **o)
{
    const ctx_t *x = c;
    lq_err_t e = lq_forge_pod_remote_meta_patch(d, x->home, x->remote, x->rp, o);
    if (e == LQ_OK && *o == NULL)
        *o = lq_json_new_null(d); /* "in sync" as an item, so both() can compare */
    return e == LQ_OK && *o == NULL ? LQ_ETOOBIG : e;
}

static lq_err_t f_label(lq_json_doc_t *d, const void *c, lq_json_t **o)
{
    const ctx_t *x = c;
    lq_err_t e = lq_forge_pod_home_label_patch(d, x->home, o);
    if (e == LQ_OK && *o == NULL)
        *o = lq_json_new_null(d);
    return e == LQ_OK && *o == NULL ? LQ_ETOOBIG : e;
}

/* The hash survives print + re-parse. */
static void check_hash(const lq_json_t *item)
{
    size_t n;
    CHECK(lq_json_print(item, out_big, sizeof out_big, &n) == LQ_OK);
    lq_json_doc_t re;
    lq_json_doc_init(&re, re_arena, sizeof re_arena);
    lq_json_t *again = NULL;
    if (lq_json_parse(&re, out_big, n, &again) != LQ_OK)
        return; /* too big for the re-parse arena */
    CHECK(lq_forge_pod_hash(again) == lq_forge_pod_hash(item));
    (void)lq_forge_pod_patch_noop(again, item);
}

static bool is_false(const lq_json_t *it)
{
    bool b = true;
    return lq_json_bool(it, &b) == LQ_OK && !b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t flags = data[0];
    size_t small_cap = (size_t)data[1] * 97u;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    const char *nul = memchr(text, '\0', len);
    size_t hlen = nul ? (size_t)(nul - text) : len;

    lq_json_doc_t in;
    lq_json_doc_init(&in, in_arena, sizeof in_arena);
    lq_json_t *home = NULL, *remote = NULL;
    if (lq_json_parse(&in, text, hlen, &home) != LQ_OK)
        return 0;
    if (!nul)
        remote = home;
    else if (lq_json_parse(&in, nul + 1, len - hlen - 1, &remote) != LQ_OK)
        return 0;

    ctx_t x = {home, remote, (flags & 2) ? &RP_CA : &RP_NOCA,
               {"192.0.2.1", (flags & 1) != 0, (int32_t)(flags >> 2)}};
    lq_json_doc_t big;

    lq_json_t *pod = both(f_remote, &x, small_cap, &big);
    if (pod) {
        lq_json_str_t uid;
        CHECK(lq_json_str(LQ_JSON_AT(home, "metadata", "uid"), &uid) == LQ_OK);
        CHECK(lq_forge_pod_owner(pod, "home-id", "foreign-id", uid.p) == LQ_FORGE_POD_OURS);
        const lq_json_t *spec = lq_json_get(pod, "spec");
        CHECK(is_false(lq_json_get(spec, "automountServiceAccountToken")));
        CHECK(is_false(lq_json_get(spec, "hostNetwork")) && is_false(lq_json_get(spec, "hostPID")) &&
              is_false(lq_json_get(spec, "hostIPC")));
        CHECK(lq_json_get(spec, "nodeName") == NULL && lq_json_get(spec, "nodeSelector") == NULL);
        for (const lq_json_t *t = lq_json_first(lq_json_get(spec, "tolerations")); t; t = lq_json_next(t)) {
            lq_json_str_t k;
            CHECK(lq_json_str(lq_json_get(t, "key"), &k) != LQ_OK ||
                  strcmp(k.p, LQ_FORGE_POD_VNODE_TOLERATION) != 0);
        }
        check_hash(pod);
    }

    lq_json_t *st = both(f_status, &x, small_cap, &big);
    if (st) {
        lq_json_str_t ip;
        CHECK(lq_json_str(LQ_JSON_AT(st, "status", "hostIP"), &ip) == LQ_OK && strcmp(ip.p, "192.0.2.1") == 0);
        if (!x.sp.reflect_ips)
            CHECK(lq_json_type(LQ_JSON_AT(st, "status", "podIP")) == LQ_JSON_NULL);
        check_hash(st);
        (void)lq_forge_pod_patch_noop(home, st);
    }
    (void)both(f_meta, &x, small_cap, &big);
    (void)both(f_label, &x, small_cap, &big);

    int32_t off = -1;
    lq_err_t e = lq_forge_pod_restarts_infer(home, remote, &off);
    CHECK(e == LQ_OK || e == LQ_EPROTO);
    CHECK(e != LQ_OK || off >= 0);
    lq_forge_pod_restarts_t rs;
    memset(&rs, 0, sizeof rs);
    e = lq_forge_pod_restarts_track(&rs, home, remote, NULL);
    CHECK(e == LQ_OK || e == LQ_EPROTO || e == LQ_ETOOBIG);
    CHECK(memchr(rs.remote_uid, '\0', sizeof rs.remote_uid) != NULL);
    bool allowed;
    e = lq_forge_pod_recreate_allowed(home, &allowed);
    CHECK(e == LQ_OK || e == LQ_EPROTO);
    lq_forge_pod_owner_t own = lq_forge_pod_owner(remote, "home-id", "foreign-id", "u");
    CHECK(own <= LQ_FORGE_POD_UNTAGGED);
    return 0;
}
