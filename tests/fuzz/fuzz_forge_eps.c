/* libFuzzer target: the EndpointSlice forge (src/forge/eps.c).
 *
 * Input: 1 header byte, then the home slice's JSON text. Header bit 0: the home cluster is
 * ready; bit 1: a uid precondition is given; bits 2-3: the Service's annotation for
 * lq_forge_eps_wanted (none, skip, allow, no Service).
 *
 * Checked, else trap:
 *   - the code is LQ_OK, LQ_EPROTO or LQ_ETOOBIG; facts strings are terminated and
 *     endpoints_out <= endpoints_in;
 *   - a second run gives the same code, output, hash and facts (determinism), and a run
 *     without the precondition gives the same hash and the output without `,"uid":...`;
 *   - the hash is FNV-1a of the output without the precondition;
 *   - an output buffer one byte shorter than the body gives LQ_ETOOBIG;
 *   - an LQ_OK output parses with lq_json as an EndpointSlice with our name, namespace,
 *     ownership labels, managed-by, home-uid annotation; only the members the forge
 *     writes; endpoints_out endpoints, each with nodeName = home_name, conditions holding
 *     only ready (false when the home cluster is not ready), a targetRef kind starting
 *     with "Remote" when it has a string kind; they are the input's endpoints not on the
 *     virtual node, in order, with the same addresses;
 *   - lq_forge_eps_wanted is false for the API server's slice and for our own;
 *   - nothing is read or written out of bounds (ASan).
 *
 * Build: `make build/fuzz/fuzz_forge_eps` (cJSON as for fuzz_json). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/forge_eps.h"
#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define OUT_MAX (256u * 1024u)
#define UID     "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
#define HOME    "home\"name"

static char out_a[OUT_MAX], out_b[OUT_MAX], out_c[OUT_MAX];
static _Alignas(16) unsigned char arena[1u << 20], arena2[1u << 20];

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool one_of(const char *k, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, set[i]) == 0)
            return true;
    return false;
}

/* The kept endpoints are the input's endpoints not on the virtual node, in order, with
 * their addresses unchanged. */
static void check_kept(lq_json_doc_t *doc, const char *in, size_t n, const lq_json_t *eps,
                       const lq_forge_eps_facts_t *f)
{
    static char a[OUT_MAX / 2], b[OUT_MAX / 2];
    lq_json_t *home = NULL;
    CHECK(lq_json_parse(doc, in, n, &home) == LQ_OK);
    const lq_json_t *hep = lq_json_get(home, "endpoints");
    CHECK(lq_json_size(hep) == f->endpoints_in);
    const lq_json_t *o = lq_json_first(eps);
    for (const lq_json_t *h = lq_json_first(hep); h; h = lq_json_next(h)) {
        if (lq_json_str_is(lq_json_get(h, "nodeName"), "vnode"))
            continue;
        CHECK(o != NULL);
        size_t la = 0, lb = 0;
        CHECK(lq_json_print(lq_json_get(h, "addresses"), a, sizeof a, &la) == LQ_OK);
        CHECK(lq_json_print(lq_json_get(o, "addresses"), b, sizeof b, &lb) == LQ_OK);
        CHECK(la == lb && memcmp(a, b, la) == 0);
        o = lq_json_next(o);
    }
    CHECK(o == NULL);
}

static void check_output(const lq_forge_eps_params_t *p, const lq_forge_eps_facts_t *f,
                         const char *out, size_t len, const char *in, size_t n)
{
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena2, sizeof arena2);
    lq_json_t *root = NULL;
    CHECK(lq_json_parse(&doc, out, len, &root) == LQ_OK);
    CHECK(lq_json_str_is(lq_json_get(root, "apiVersion"), "discovery.k8s.io/v1"));
    CHECK(lq_json_str_is(lq_json_get(root, "kind"), "EndpointSlice"));
    CHECK(lq_json_type(lq_json_get(root, "addressType")) == LQ_JSON_STRING);
    static const char *const top[] = {"apiVersion", "kind", "metadata", "addressType", "endpoints", "ports"};
    for (const lq_json_t *m = lq_json_first(root); m; m = lq_json_next(m))
        CHECK(one_of(lq_json_key(m), top, sizeof top / sizeof top[0]));
    const lq_json_t *meta = lq_json_get(root, "metadata");
    CHECK(lq_json_str_is(lq_json_get(meta, "name"), p->base.remote_name));
    CHECK(lq_json_str_is(lq_json_get(meta, "namespace"), p->base.remote_ns));
    CHECK(p->base.remote_uid ? lq_json_str_is(lq_json_get(meta, "uid"), UID) : !lq_json_get(meta, "uid"));
    const lq_json_t *labels = lq_json_get(meta, "labels"), *ann = lq_json_get(meta, "annotations");
    CHECK(lq_json_str_is(lq_json_get(labels, LQ_FORGE_EPS_LABEL_MANAGED_BY), LQ_FORGE_EPS_MANAGED_BY));
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/origin"), p->base.home_id));
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/destination"), p->base.foreign_id));
    CHECK(lq_json_str_is(lq_json_get(ann, LQ_FORGE_CONF_ANN_HOME_UID), p->base.home_uid));
    if (f->service[0])
        CHECK(lq_json_str_is(lq_json_get(labels, LQ_FORGE_EPS_LABEL_SERVICE), f->service));
    const lq_json_t *eps = lq_json_get(root, "endpoints");
    CHECK(lq_json_type(eps) == LQ_JSON_ARRAY && lq_json_size(eps) == f->endpoints_out);
    static const char *const epm[] = {"addresses", "conditions", "hostname", "zone", "hints", "nodeName", "targetRef"};
    for (const lq_json_t *ep = lq_json_first(eps); ep; ep = lq_json_next(ep)) {
        for (const lq_json_t *m = lq_json_first(ep); m; m = lq_json_next(m))
            CHECK(one_of(lq_json_key(m), epm, sizeof epm / sizeof epm[0]));
        CHECK(lq_json_str_is(lq_json_get(ep, "nodeName"), HOME));
        const lq_json_t *cond = lq_json_get(ep, "conditions");
        bool ready = true;
        CHECK(lq_json_size(cond) == 1 && lq_json_bool(lq_json_get(cond, "ready"), &ready) == LQ_OK);
        CHECK(p->home_ready || !ready);
        lq_json_str_t kind;
        if (lq_json_str(LQ_JSON_AT(ep, "targetRef", "kind"), &kind) == LQ_OK)
            CHECK(kind.len >= 6 && memcmp(kind.p, "Remote", 6) == 0);
    }
    check_kept(&doc, in, n, eps, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    lq_forge_eps_params_t p = {
        {LQ_FORGE_CONF_CONFIGMAP, "name", "ns\"\\", "home-id", "foreign-id", "home-uid\n",
         (data[0] & 2) ? UID : NULL},
        "vnode", HOME, (data[0] & 1) != 0};
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena, sizeof arena);

    size_t la = 0, lb = 0, lc = 0;
    uint64_t ha = 0, hb = 0, hc = 0;
    lq_forge_eps_facts_t fa, fb, fc;
    lq_err_t ea = lq_forge_eps_build(&doc, &p, text, len, out_a, sizeof out_a, &la, &fa, &ha);
    CHECK(ea == LQ_OK || ea == LQ_EPROTO || ea == LQ_ETOOBIG);
    CHECK(terminated(fa.base.uid, sizeof fa.base.uid) && terminated(fa.base.rv, sizeof fa.base.rv) &&
          terminated(fa.service, sizeof fa.service));
    CHECK(fa.endpoints_out <= fa.endpoints_in);
    lq_err_t eb = lq_forge_eps_build(&doc, &p, text, len, out_b, sizeof out_b, &lb, &fb, &hb);
    CHECK(eb == ea);
    if (ea != LQ_OK)
        return 0;
    CHECK(lb == la && memcmp(out_a, out_b, la) == 0 && hb == ha);
    CHECK(memcmp(&fa, &fb, sizeof fa) == 0);
    CHECK(strlen(out_a) == la);

    /* without the precondition: same hash, the output without ,"uid":"..." */
    lq_forge_eps_params_t q = p;
    q.base.remote_uid = NULL;
    lq_err_t ec = lq_forge_eps_build(&doc, &q, text, len, out_c, sizeof out_c, &lc, &fc, &hc);
    CHECK(ec == LQ_OK && hc == ha && hc == fnv(out_c, lc));
    if (p.base.remote_uid) {
        static const char ins[] = ",\"uid\":\"" UID "\"";
        CHECK(la == lc + sizeof ins - 1);
        /* it ends metadata; an unescaped quote after a comma is never inside a string */
        const char *at = strstr(out_a, ",\"uid\":\"" UID "\"},\"addressType\":");
        CHECK(at != NULL);
        size_t head = (size_t)(at - out_a);
        CHECK(memcmp(out_a, out_c, head) == 0 &&
              memcmp(at + sizeof ins - 1, out_c + head, lc - head) == 0);
    } else {
        CHECK(lc == la && memcmp(out_a, out_c, la) == 0);
    }

    /* one byte short */
    size_t ls = 0;
    CHECK(lq_forge_eps_build(&doc, &p, text, len, out_b, la, &ls, NULL, NULL) == LQ_ETOOBIG);

    lq_forge_conf_facts_t svc;
    memset(&svc, 0, sizeof svc);
    int sv = (data[0] >> 2) & 3;
    svc.skip = sv == 1;
    svc.allow = sv == 2;
    for (int pol = 0; pol < 2; pol++) {
        bool w = lq_forge_eps_wanted(&fa, sv == 3 ? NULL : &svc, (lq_forge_conf_policy_t)pol);
        if (fa.kubernetes_default || fa.managed_by_us)
            CHECK(!w);
    }
    check_output(&p, &fa, out_a, la, text, len);
    return 0;
}
