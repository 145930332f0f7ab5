/* libFuzzer target: the streaming ConfigMap / Secret forge (src/forge/conf.c).
 *
 * Input: 3 header bytes, then the home object's JSON text. Byte 0: bit 0 Secret (else
 * ConfigMap), bit 1 count-and-hash only (out NULL) for the split run. Bytes 1 and 2: the
 * split point (little endian, modulo the text length + 1).
 *
 * The text is transformed twice: at once through lq_forge_conf_build, and fed in two
 * pieces split where the header says. Checked, else trap:
 *   - both runs give the same code, one of LQ_OK / LQ_EPROTO / LQ_ETOOBIG (the build's
 *     buffer), and on LQ_OK the same output length, hash and facts;
 *   - the hash is FNV-1a of the output, the counters match, facts strings are terminated;
 *   - an LQ_OK output parses with lq_json (src/kube/json.c, cJSON) as an object with our
 *     kind, remote name, ownership labels and home-uid annotation (LQ_ENOTSUP is allowed
 *     when the input carried a \u0000 escape into a copied value);
 *   - nothing is read or written out of bounds (ASan).
 *
 * Build: `make build/fuzz/fuzz_forge_conf` (cJSON as for fuzz_json). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/forge_conf.h"
#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define OUT_MAX   (160u * 1024u)
#define PARSE_MAX (64u * 1024u)

static char out_a[OUT_MAX], out_b[OUT_MAX];
static _Alignas(16) unsigned char arena[1u << 20];

typedef struct sink {
    char *buf;
    size_t len;
} sink_t;

static lq_err_t sink_write(void *ctx, const char *p, size_t n)
{
    sink_t *s = ctx;
    CHECK(n > 0 && p != NULL);
    if (n > OUT_MAX - s->len)
        return LQ_ETOOBIG;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return LQ_OK;
}

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

static bool has_nul_escape(const char *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++)
        if (memcmp(p + i, "\\u0000", 6) == 0)
            return true;
    return false;
}

static void check_output(const lq_forge_conf_params_t *p, const char *out, size_t len)
{
    if (len > PARSE_MAX)
        return;
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena, sizeof arena);
    lq_json_t *root = NULL;
    lq_err_t e = lq_json_parse(&doc, out, len, &root);
    if (e == LQ_ENOTSUP && has_nul_escape(out, len))
        return;
    CHECK(e == LQ_OK);
    CHECK(lq_json_type(root) == LQ_JSON_OBJECT);
    CHECK(lq_json_str_is(lq_json_get(root, "kind"), p->kind == LQ_FORGE_CONF_SECRET ? "Secret" : "ConfigMap"));
    CHECK(lq_json_str_is(LQ_JSON_AT(root, "metadata", "name"), p->remote_name));
    CHECK(lq_json_str_is(LQ_JSON_AT(root, "metadata", "namespace"), p->remote_ns));
    const lq_json_t *labels = LQ_JSON_AT(root, "metadata", "labels");
    const lq_json_t *ann = LQ_JSON_AT(root, "metadata", "annotations");
    /* ours are the only ones of their name, so the first lookup finds them */
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/origin"), p->home_id));
    CHECK(lq_json_str_is(lq_json_get(labels, "virtualkubelet.liqo.io/destination"), p->foreign_id));
    CHECK(lq_json_str_is(lq_json_get(ann, LQ_FORGE_CONF_ANN_HOME_UID), p->home_uid));
    for (const lq_json_t *m = lq_json_first(root); m; m = lq_json_next(m)) {
        const char *k = lq_json_key(m);
        CHECK(strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || strcmp(k, "metadata") == 0 ||
              strcmp(k, "data") == 0 || strcmp(k, "immutable") == 0 ||
              strcmp(k, p->kind == LQ_FORGE_CONF_SECRET ? "type" : "binaryData") == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const char *text = (const char *)data + 3;
    size_t len = size - 3;
    size_t split = ((size_t)data[1] | (size_t)data[2] << 8) % (len + 1);
    lq_forge_conf_params_t p = {(data[0] & 1) ? LQ_FORGE_CONF_SECRET : LQ_FORGE_CONF_CONFIGMAP,
                                "name", "ns\"\\", "home-id", "foreign-id", "home-uid\n"};
    bool count_only = (data[0] & 2) != 0;

    /* at once */
    size_t la = 0;
    uint64_t ha = 0;
    lq_forge_conf_facts_t fa;
    lq_err_t ea = lq_forge_conf_build(&p, text, len, out_a, sizeof out_a, &la, &fa, &ha);
    CHECK(ea == LQ_OK || ea == LQ_EPROTO || ea == LQ_ETOOBIG);

    /* in two pieces */
    sink_t s = {out_b, 0};
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, &p, count_only ? NULL : sink_write, &s);
    lq_err_t eb = lq_forge_conf_feed(&f, text, split);
    if (eb == LQ_OK)
        eb = lq_forge_conf_feed(&f, text + split, len - split);
    if (eb == LQ_OK)
        eb = lq_forge_conf_end(&f);
    CHECK(eb == ea);
    CHECK(terminated(f.facts.uid, sizeof f.facts.uid) && terminated(f.facts.rv, sizeof f.facts.rv) &&
          terminated(f.facts.type, sizeof f.facts.type));
    CHECK(!f.facts.type_long || f.facts.type[0] == '\0');
    if (ea != LQ_OK)
        return 0;
    CHECK(f.in == len && f.out == la && f.hash == ha && f.meta_done);
    CHECK(memcmp(&f.facts, &fa, sizeof fa) == 0);
    CHECK(ha == fnv(out_a, la));
    if (!count_only)
        CHECK(s.len == la && memcmp(out_a, out_b, la) == 0);
    CHECK(lq_forge_conf_wanted(&fa, LQ_FORGE_CONF_DENYLIST) == !(fa.skip && !fa.skip_false));
    check_output(&p, out_a, la);
    return 0;
}
