/* libFuzzer target: JSON documents (src/kube/json.c over cJSON).
 *
 * Input: 2 header bytes (arena size selector), then the JSON text. The text is parsed
 * into a small arena; a failure must be one of the documented codes with an offset
 * inside the input, and must leave the arena as it was. On success the document is
 * walked with the getters, printed, copied into a second document, the source arena
 * is wiped, and the copy is printed and re-parsed: all prints must be identical
 * (printing is a fixed point), and a buffer of the printed length + 2 must be enough.
 * Any violation traps.
 *
 * Build (cJSON compiled from the same Debian source as the sysroots, instrumented):
 *   sh tools/deps/fetch-src.sh CJSON build/fuzz/src
 *   mkdir -p build/fuzz/include/cjson && cp build/fuzz/src/cjson/cJSON.h build/fuzz/include/cjson/
 *   clang -std=c89 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
 *         -fno-sanitize-recover=all -c build/fuzz/src/cjson/cJSON.c -o build/fuzz/cJSON.o
 *   clang -std=c11 -g -O1 -Iinclude -include boards/host/lq_board.h \
 *         -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -isystem build/fuzz/include -o build/fuzz/fuzz_json tests/fuzz/fuzz_json.c \
 *         src/kube/json.c src/core/err.c build/fuzz/cJSON.o */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define ARENA_MAX 65536u
#define OUT_MAX 65536u

static _Alignas(16) unsigned char arena1[ARENA_MAX];
static _Alignas(16) unsigned char arena2[ARENA_MAX];
static _Alignas(16) unsigned char arena3[ARENA_MAX];
static char out1[OUT_MAX], out2[OUT_MAX], out3[OUT_MAX];

/* Touches every item with every getter; returns the number of items. */
static size_t walk(const lq_json_t *j, unsigned depth)
{
    size_t n = 1;
    lq_json_str_t s;
    int64_t v;
    bool b;
    lq_json_type_t t = lq_json_type(j);
    lq_err_t es = lq_json_str(j, &s), ei = lq_json_int(j, &v), eb = lq_json_bool(j, &b);
    CHECK((es == LQ_OK) == (t == LQ_JSON_STRING));
    CHECK((eb == LQ_OK) == (t == LQ_JSON_BOOL));
    CHECK(ei == LQ_OK || ei == LQ_EPROTO || ei == LQ_ETOOBIG || ei == LQ_ENOTFOUND);
    CHECK(ei != LQ_OK || t == LQ_JSON_NUMBER);
    if (es == LQ_OK)
        CHECK(s.p[s.len] == '\0' && strlen(s.p) == s.len);
    size_t i = 0;
    for (const lq_json_t *c = lq_json_first(j); c != NULL; c = lq_json_next(c), i++) {
        if (t == LQ_JSON_OBJECT) {
            const char *k = lq_json_key(c);
            CHECK(k != NULL);
            /* the first member of that name is found by lookup */
            const lq_json_t *f = lq_json_get(j, k);
            CHECK(f != NULL && strcmp(lq_json_key(f), k) == 0);
        } else {
            CHECK(lq_json_index(j, i) == c);
        }
        if (depth < 64)
            n += walk(c, depth + 1);
    }
    CHECK(i == lq_json_size(j));
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = 256u + ((size_t)data[0] << 8 | data[1]) % (ARENA_MAX - 256u);
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    lq_json_doc_t d1, d2, d3;
    lq_json_doc_init(&d1, arena1, cap);
    lq_json_doc_init(&d2, arena2, ARENA_MAX);
    lq_json_doc_init(&d3, arena3, ARENA_MAX);

    lq_json_t *r1 = NULL;
    lq_err_t e = lq_json_parse(&d1, in, len, &r1);
    if (e != LQ_OK) {
        CHECK(e == LQ_EPROTO || e == LQ_ETOOBIG || e == LQ_ENOTSUP);
        CHECK(r1 == NULL);
        CHECK(lq_json_used(&d1) == 0);
        CHECK(len == 0 || lq_json_error_offset(&d1) <= len);
        CHECK(lq_json_peak(&d1) <= cap);
        return 0;
    }
    CHECK(r1 != NULL && lq_json_used(&d1) <= cap);
    walk(r1, 0);

    size_t n1 = 0, n2 = 0, n3 = 0;
    e = lq_json_print(r1, out1, sizeof out1, &n1);
    if (e != LQ_OK) {
        CHECK(e == LQ_ETOOBIG && out1[0] == '\0');
        return 0;
    }
    CHECK(n1 == strlen(out1));
    /* json.h's promise: printed length + 2 always suffices, length + 0 never */
    if (n1 + 2 <= sizeof out3) {
        CHECK(lq_json_print(r1, out3, n1 + 2, NULL) == LQ_OK);
        CHECK(lq_json_print(r1, out3, n1, NULL) == LQ_ETOOBIG && out3[0] == '\0');
    }

    /* deep copy into another document, then destroy the source */
    lq_json_t *c = lq_json_copy(&d2, r1);
    if (c == NULL) {
        CHECK(d2.last_err == LQ_ETOOBIG);
        return 0;
    }
    size_t used1 = lq_json_used(&d1);
    lq_json_reset(&d1);
    memset(arena1, 0x5a, used1);
    CHECK(lq_json_print(c, out2, sizeof out2, &n2) == LQ_OK);
    CHECK(n2 == n1 && memcmp(out1, out2, n1 + 1) == 0);

    /* the printed text parses to a document that prints the same */
    lq_json_t *r3 = NULL;
    e = lq_json_parse(&d3, out1, n1, &r3);
    if (e == LQ_ETOOBIG)
        return 0;
    CHECK(e == LQ_OK);
    CHECK(lq_json_print(r3, out3, sizeof out3, &n3) == LQ_OK);
    CHECK(n3 == n1 && memcmp(out1, out3, n1 + 1) == 0);
    return 0;
}
