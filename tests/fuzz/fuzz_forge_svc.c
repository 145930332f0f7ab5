/* libFuzzer target: the Service and Ingress forges (src/forge/svc.c) over JSON documents
 * (src/kube/json.c).
 *
 * Input: 2 header bytes, then the home object's JSON text. Byte 0: bit 0 Ingress (else
 * Service), bit 1 a remote uid (the precondition). Byte 1: the arena size in KiB for a second
 * run (small ones make parsing or building run out of room).
 *
 * Checked, else trap:
 *   - the code is one of LQ_OK / LQ_EPROTO / LQ_ETOOBIG; a smaller arena may turn LQ_OK into
 *     LQ_ETOOBIG and nothing else (an LQ_OK output is byte for byte the same);
 *   - an LQ_OK output is NUL-terminated at *len, the same on a second run, parses as an
 *     object with our apiVersion / kind, remote name and namespace, ownership labels, home-uid
 *     annotation, no dropped annotation, a spec holding only copied members, and (Service)
 *     nodePort 0 wherever a port has no nodePort and none unless the force annotation is
 *     exactly "true" or the value 0;
 *   - the hash is FNV-1a of the body without the uid member: the same as the run without a
 *     remote uid, whose output it is of;
 *   - capacities: len + 1 is LQ_ETOOBIG, len + 2 is LQ_OK;
 *   - nothing is read or written out of bounds (ASan).
 *
 * Build: `make build/fuzz/fuzz_forge_svc` (cJSON as for fuzz_json). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/forge_svc.h"
#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define ARENA   (256u * 1024u)
#define OUT_MAX (64u * 1024u)

static _Alignas(16) unsigned char arena_a[ARENA], arena_b[ARENA], arena_c[ARENA];
static char out_a[OUT_MAX], out_b[OUT_MAX], out_c[OUT_MAX];

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool one_of(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(k, *set) == 0)
            return true;
    return false;
}

static const char *const SVC_SPEC[] = {
    "type", "clusterIP", "selector", "ports", "externalName", "sessionAffinity",
    "externalTrafficPolicy", "internalTrafficPolicy", "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts", "loadBalancerClass", "loadBalancerSourceRanges",
    "publishNotReadyAddresses", NULL};
static const char *const ING_SPEC[] = {"defaultBackend", "rules", "tls", NULL};
static const char *const PORT[] = {"name", "protocol", "appProtocol", "port", "targetPort", "nodePort", NULL};

static void check_output(const lq_forge_conf_params_t *p, bool ingress, const char *home_text,
                         size_t home_len, const char *out, size_t len)
{
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena_c, sizeof arena_c);
    lq_json_t *root = NULL, *home = NULL;
    CHECK(lq_json_parse(&doc, out, len, &root) == LQ_OK);
    CHECK(lq_json_parse(&doc, home_text, home_len, &home) == LQ_OK);
    CHECK(lq_json_type(root) == LQ_JSON_OBJECT);
    CHECK(lq_json_size(root) == 4);
    CHECK(lq_json_str_is(lq_json_get(root, "apiVersion"), ingress ? "networking.k8s.io/v1" : "v1"));
    CHECK(lq_json_str_is(lq_json_get(root, "kind"), ingress ? "Ingress" : "Service"));
    const lq_json_t *meta = lq_json_get(root, "metadata");
    CHECK(lq_json_str_is(lq_json_get(meta, "name"), p->remote_name));
    CHECK(lq_json_str_is(lq_json_get(meta, "namespace"), p->remote_ns));
    CHECK(lq_json_size(meta) == (p->remote_uid ? 5u : 4u));
    if (p->remote_uid)
        CHECK(lq_json_str_is(lq_json_get(meta, "uid"), p->remote_uid));
    const lq_json_t *labels = lq_json_get(meta, "labels"), *ann = lq_json_get(meta, "annotations");
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/origin"), p->home_id));
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/destination"), p->foreign_id));
    CHECK(lq_json_str_is(lq_json_get(ann, LQ_FORGE_CONF_ANN_HOME_UID), p->home_uid));
    if (ingress)
        CHECK(lq_json_get(ann, LQ_FORGE_SVC_ANN_INGRESS_CLASS) == NULL);
    const lq_json_t *spec = lq_json_get(root, "spec");
    CHECK(lq_json_type(spec) == LQ_JSON_OBJECT);
    for (const lq_json_t *m = lq_json_first(spec); m; m = lq_json_next(m))
        CHECK(one_of(lq_json_key(m), ingress ? ING_SPEC : SVC_SPEC));
    if (ingress)
        return;
    const lq_json_t *cip = lq_json_get(spec, "clusterIP");
    CHECK(cip == NULL || lq_json_str_is(cip, "None"));
    /* the last force annotation of the home object counts */
    bool force = false;
    for (const lq_json_t *a = lq_json_first(LQ_JSON_AT(home, "metadata", "annotations")); a; a = lq_json_next(a))
        if (strcmp(lq_json_key(a), LQ_FORGE_SVC_ANN_FORCE_NODE_PORT) == 0)
            force = lq_json_str_is(a, "true");
    const lq_json_t *hports = LQ_JSON_AT(home, "spec", "ports");
    size_t i = 0;
    for (const lq_json_t *port = lq_json_first(lq_json_get(spec, "ports")); port; port = lq_json_next(port), i++) {
        for (const lq_json_t *m = lq_json_first(port); m; m = lq_json_next(m))
            CHECK(one_of(lq_json_key(m), PORT));
        int64_t want = 0, got = -1;
        (void)lq_json_int(lq_json_get(lq_json_index(hports, i), "nodePort"), &want);
        lq_err_t e = lq_json_int(lq_json_get(port, "nodePort"), &got);
        if (want == 0 || force)
            CHECK(e == LQ_OK && got == want);
        else
            CHECK(e == LQ_ENOTFOUND);
    }
    CHECK(i == lq_json_size(hports));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *text = (const char *)data + 2;
    size_t n = size - 2;
    bool ingress = (data[0] & 1) != 0;
    lq_forge_conf_params_t p = {LQ_FORGE_CONF_CONFIGMAP, "name", "ns\"\\", "home-id", "foreign-id",
                                "home-uid\n", (data[0] & 2) ? "u\"id" : NULL};
    lq_forge_conf_params_t q = p;
    q.remote_uid = NULL;
    lq_err_t (*fn)(lq_json_doc_t *, const lq_forge_conf_params_t *, const char *, size_t, char *, size_t,
                   size_t *, lq_forge_conf_facts_t *, uint64_t *) =
        ingress ? lq_forge_ingress_build : lq_forge_svc_build;

    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena_a, sizeof arena_a);
    size_t la = 0, lb = 0;
    uint64_t ha = 0, hb = 0;
    lq_forge_conf_facts_t fa, fb;
    lq_err_t ea = fn(&doc, &p, text, n, out_a, sizeof out_a, &la, &fa, &ha);
    CHECK(ea == LQ_OK || ea == LQ_EPROTO || ea == LQ_ETOOBIG);

    /* without the uid: same code, same hash, the body without the uid member */
    lq_err_t eb = fn(&doc, &q, text, n, out_b, sizeof out_b, &lb, &fb, &hb);
    CHECK(eb == ea || (ea == LQ_ETOOBIG && eb == LQ_OK));

    /* a smaller arena: the same or LQ_ETOOBIG */
    lq_json_doc_t small;
    lq_json_doc_init(&small, arena_b, (size_t)data[1] * 1024u);
    size_t lc = 0;
    uint64_t hc = 0;
    lq_err_t ec = fn(&small, &p, text, n, out_c, sizeof out_c, &lc, NULL, &hc);
    CHECK(ec == ea || ec == LQ_ETOOBIG);
    if (ea != LQ_OK)
        return 0;
    if (ec == LQ_OK)
        CHECK(lc == la && hc == ha && memcmp(out_a, out_c, la + 1) == 0);
    CHECK(out_a[la] == '\0' && strlen(out_a) == la);
    CHECK(memcmp(&fa, &fb, sizeof fa) == 0);
    CHECK(fa.type[0] == '\0' && !fa.type_long);
    CHECK(memchr(fa.uid, '\0', sizeof fa.uid) && memchr(fa.rv, '\0', sizeof fa.rv));
    CHECK(hb == fnv(out_b, lb) && ha == hb);
    CHECK(p.remote_uid ? la > lb : (la == lb && memcmp(out_a, out_b, la) == 0));

    /* capacities around the documented need */
    lq_json_doc_init(&doc, arena_a, sizeof arena_a);
    CHECK(fn(&doc, &p, text, n, out_c, la + 1, &lc, NULL, NULL) == LQ_ETOOBIG);
    CHECK(fn(&doc, &p, text, n, out_c, la + 2, &lc, NULL, &hc) == LQ_OK);
    CHECK(lc == la && hc == ha && memcmp(out_a, out_c, la + 1) == 0);

    check_output(&p, ingress, text, n, out_a, la);
    return 0;
}
