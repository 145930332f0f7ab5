/* libFuzzer target: the namespace offloading forge (src/forge/offload.c,
 * include/liqolet/forge_offload.h) over JSON documents (src/kube/json.c).
 *
 * Input: byte 0 flags (bits 0-1 the Pod Security level wanted, bits 2-4 this agent's
 * remote namespace state, bit 5 selected, bit 6 precondition, bit 7 forget); then fields
 * separated by NUL bytes:
 *   0 a NamespaceOffloading object (JSON: spec, metadata, status; also read as a pod for
 *     the fallback), 1 the virtual node's labels ("key=value" lines), 2 the node name
 *     (empty: none), 3 the local namespace, 4 the home cluster name, 5 a remote
 *     Namespace object (JSON), 6 the home id, 7 the foreign id, 8 six bytes: the digest
 *     of the DefaultName suffix.
 *
 * Checked, else trap:
 *   - spec_parse: LQ_OK or LQ_EPROTO; enums in range, remoteNamespaceName and
 *     clusterSelector the very items of the object;
 *   - remote_name, for each mapping strategy: LQ_OK exactly when the joined name is at
 *     most 63 bytes and a DNS-1123 label (checked here independently), out is that name,
 *     *len its full length (also when too long), out "" on every error; ETOOBIG / ECONFIG
 *     / ENOTFOUND as documented; a suffix that is not 6 lowercase hex digits is EINVAL;
 *     the suffix is the hex of the digest's first three bytes;
 *   - selector_match agrees with a second, independent evaluation written here
 *     (Kubernetes MatchNodeSelectorTerms, labels.NewRequirement's syntax rules, Liqo's
 *     "empty selects all"): same code, same result, same count of invalid terms;
 *   - remote_ns_build -> print -> parse: owned by (home id, foreign id, local ns) and by
 *     no other foreign id or local ns; the Pod Security label reads back as the level
 *     asked; ownership of the fuzzed remote Namespace is true only when its labels and
 *     annotation really say so;
 *   - psa: parse(str(l)) == l, parse of the fuzzed label value is a level only when it is
 *     exactly its name, weaker() is "want is a level and seen < want", the patch carries
 *     the uid and the level;
 *   - status_build: the phase is in range (Terminating when deleting); the patch holds our
 *     conditions (or null), the phase's name and metadata.generation; once the patch is
 *     merged into the object, status_current() says no patch is needed, and a second
 *     build at a later time gives the same conditions byte for byte (transition times are
 *     kept) and the same phase;
 *   - home_ns_patch and fallback: codes as documented, the patch says what the action
 *     says;
 *   - nothing is read or written out of bounds (ASan), no undefined behaviour (UBSan).
 *
 * Build: `make build/fuzz/fuzz_offload` (cJSON as for fuzz_json). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/forge_offload.h"
#include "liqolet/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define ARENA    (512u * 1024u)
#define OUT_MAX  (128u * 1024u)
#define FIELDS   9
#define LABELS   16
#define STR_MAX  512

static _Alignas(16) unsigned char arena_a[ARENA], arena_b[ARENA];
static char out_a[OUT_MAX], out_b[OUT_MAX];

/* ---- an independent reading of the Kubernetes label syntax -------------------------- */

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* 1..63 of [A-Za-z0-9._-], alphanumeric at both ends. */
static bool ref_name(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both ends. */
static bool ref_dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* DNS-1123 subdomain: at most 253, dot-separated labels of [a-z0-9-] (alnum ends). */
static bool ref_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t l = i - start;
            if (l == 0 || !lower_alnum(s[start]) || !lower_alnum(s[i - 1]))
                return false;
            for (size_t j = start; j < i; j++)
                if (!lower_alnum(s[j]) && s[j] != '-')
                    return false;
            start = i + 1;
        }
    }
    return true;
}

static bool ref_key(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return ref_name(s, n);
    size_t pl = (size_t)(slash - s);
    if (memchr(slash + 1, '/', n - pl - 1))
        return false;
    return ref_subdomain(s, pl) && ref_name(slash + 1, n - pl - 1);
}

static bool ref_value(const char *s, size_t n)
{
    return n == 0 || ref_name(s, n);
}

/* strconv.ParseInt(s, 10, 64) */
static bool ref_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    __int128 v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > (__int128)INT64_MAX + 1)
            return false;
    }
    if (neg)
        v = -v;
    if (v > INT64_MAX || v < INT64_MIN)
        return false;
    *out = (int64_t)v;
    return true;
}

/* ---- an independent selector evaluation --------------------------------------------- */

static bool is_absent(const lq_json_t *it)
{
    lq_json_type_t t = lq_json_type(it);
    return t == LQ_JSON_ABSENT || t == LQ_JSON_NULL;
}

static bool str_eq(const lq_json_t *it, const char *s, size_t n)
{
    lq_json_str_t v;
    return lq_json_str(it, &v) == LQ_OK && v.len == n && memcmp(v.p, s, n) == 0;
}

/* Shape: LQ_OK or LQ_EPROTO for the whole selector. */
static lq_err_t ref_shape(const lq_json_t *sel)
{
    if (is_absent(sel))
        return LQ_OK;
    if (lq_json_type(sel) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    const lq_json_t *terms = lq_json_get(sel, "nodeSelectorTerms");
    if (is_absent(terms))
        return LQ_OK;
    if (lq_json_type(terms) != LQ_JSON_ARRAY)
        return LQ_EPROTO;
    for (const lq_json_t *t = lq_json_first(terms); t; t = lq_json_next(t)) {
        if (lq_json_type(t) != LQ_JSON_OBJECT)
            return LQ_EPROTO;
        static const char *const lists[2] = {"matchExpressions", "matchFields"};
        for (int f = 0; f < 2; f++) {
            const lq_json_t *l = lq_json_get(t, lists[f]);
            if (is_absent(l))
                continue;
            if (lq_json_type(l) != LQ_JSON_ARRAY)
                return LQ_EPROTO;
            for (const lq_json_t *r = lq_json_first(l); r; r = lq_json_next(r)) {
                if (lq_json_type(r) != LQ_JSON_OBJECT ||
                    lq_json_type(lq_json_get(r, "key")) != LQ_JSON_STRING ||
                    lq_json_type(lq_json_get(r, "operator")) != LQ_JSON_STRING)
                    return LQ_EPROTO;
                const lq_json_t *vals = lq_json_get(r, "values");
                if (is_absent(vals))
                    continue;
                if (lq_json_type(vals) != LQ_JSON_ARRAY)
                    return LQ_EPROTO;
                for (const lq_json_t *v = lq_json_first(vals); v; v = lq_json_next(v))
                    if (lq_json_type(v) != LQ_JSON_STRING)
                        return LQ_EPROTO;
            }
        }
    }
    return LQ_OK;
}

enum { R_NO, R_YES, R_BAD };

static int ref_req(const lq_json_t *r, bool field, const lq_forge_offload_label_t *labels,
                   size_t n, const char *node)
{
    lq_json_str_t key, op;
    (void)lq_json_str(lq_json_get(r, "key"), &key);
    (void)lq_json_str(lq_json_get(r, "operator"), &op);
    const lq_json_t *vals = lq_json_get(r, "values");
    size_t nv = lq_json_size(vals);
#define OPIS(s) (op.len == strlen(s) && memcmp(op.p, s, op.len) == 0)
    const char *have = NULL;
    if (field) {
        if (!(key.len == 13 && memcmp(key.p, "metadata.name", 13) == 0) ||
            !(OPIS("In") || OPIS("NotIn")) || nv != 1)
            return R_BAD;
        have = node;
    } else {
        if (!ref_key(key.p, key.len))
            return R_BAD;
        for (const lq_json_t *v = lq_json_first(vals); v; v = lq_json_next(v)) {
            lq_json_str_t s;
            (void)lq_json_str(v, &s);
            if (!ref_value(s.p, s.len))
                return R_BAD;
        }
        for (size_t i = 0; i < n && !have; i++)
            if (strlen(labels[i].key) == key.len && memcmp(labels[i].key, key.p, key.len) == 0)
                have = labels[i].value;
    }
    if (OPIS("In") || OPIS("NotIn")) {
        if (nv == 0)
            return R_BAD;
        bool found = false;
        for (const lq_json_t *v = lq_json_first(vals); v && have; v = lq_json_next(v))
            if (str_eq(v, have, strlen(have)))
                found = true;
        return OPIS("In") == found ? R_YES : R_NO;
    }
    if (OPIS("Exists") || OPIS("DoesNotExist")) {
        if (nv != 0)
            return R_BAD;
        return OPIS("Exists") == (have != NULL) ? R_YES : R_NO;
    }
    if (OPIS("Gt") || OPIS("Lt")) {
        lq_json_str_t s;
        int64_t want, got;
        if (nv != 1 || lq_json_str(lq_json_first(vals), &s) != LQ_OK || !ref_int(s.p, s.len, &want))
            return R_BAD;
        if (!have || !ref_int(have, strlen(have), &got))
            return R_NO;
        return (OPIS("Gt") ? got > want : got < want) ? R_YES : R_NO;
    }
#undef OPIS
    return R_BAD;
}

static lq_err_t ref_select(const lq_json_t *sel, const lq_forge_offload_label_t *labels, size_t n,
                           const char *node, bool *selected, size_t *invalid)
{
    *invalid = 0;
    *selected = false;
    if (ref_shape(sel) != LQ_OK)
        return LQ_EPROTO;
    const lq_json_t *terms = lq_json_get(sel, "nodeSelectorTerms");
    if (lq_json_size(terms) == 0) {
        *selected = true;
        return LQ_OK;
    }
    for (const lq_json_t *t = lq_json_first(terms); t; t = lq_json_next(t)) {
        const lq_json_t *l[2] = {lq_json_get(t, "matchExpressions"), lq_json_get(t, "matchFields")};
        if (lq_json_size(l[0]) + lq_json_size(l[1]) == 0)
            continue;
        bool all = true, bad = false;
        for (int f = 0; f < 2; f++)
            for (const lq_json_t *r = lq_json_first(l[f]); r; r = lq_json_next(r)) {
                int res = ref_req(r, f == 1, labels, n, node);
                bad |= res == R_BAD;
                all &= res == R_YES;
            }
        if (bad)
            (*invalid)++;
        else if (all)
            *selected = true;
    }
    return LQ_OK;
}

/* ---- helpers ------------------------------------------------------------------------ */

static size_t field_at(const uint8_t *data, size_t size, const char **f, size_t *fl)
{
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= size && nf < FIELDS; i++) {
        if (i == size || data[i] == 0) {
            f[nf] = (const char *)data + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    for (size_t k = nf; k < FIELDS; k++) {
        f[k] = "";
        fl[k] = 0;
    }
    return nf;
}

/* A NUL-terminated copy of at most STR_MAX - 1 bytes. */
static const char *cstr(char *dst, const char *s, size_t n)
{
    if (n > STR_MAX - 1)
        n = STR_MAX - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return dst;
}

/* Prints item and parses it back into doc. */
static lq_json_t *reparse(lq_json_doc_t *doc, const lq_json_t *item, char *buf)
{
    size_t len = 0;
    CHECK(lq_json_print(item, buf, OUT_MAX, &len) == LQ_OK);
    lq_json_t *back = NULL;
    lq_err_t err = lq_json_parse(doc, buf, len, &back);
    CHECK(err == LQ_OK || err == LQ_ETOOBIG);
    return err == LQ_OK ? back : NULL;
}

static bool label_is(const lq_json_t *obj, const char *map, const char *key, const char *want)
{
    return lq_json_str_is(LQ_JSON_AT(obj, "metadata", map, key), want);
}

/* JSON merge patch of status (RFC 7386, the part status_build writes) into a copy. */
static lq_json_t *merge_status(lq_json_doc_t *doc, const lq_json_t *nsof, const lq_json_t *patch)
{
    lq_json_t *obj = lq_json_copy(doc, nsof);
    if (!obj)
        return NULL;
    lq_json_t *st = lq_json_get(obj, "status");
    if (lq_json_type(st) != LQ_JSON_OBJECT) {
        st = lq_json_new_object(doc);
        if (lq_json_obj_set(doc, obj, "status", st) != LQ_OK)
            return NULL;
    }
    const lq_json_t *pst = lq_json_get(patch, "status");
    for (const lq_json_t *m = lq_json_first(pst); m; m = lq_json_next(m)) {
        const char *k = lq_json_key(m);
        if (strcmp(k, "remoteNamespacesConditions") == 0) {
            lq_json_t *rnc = lq_json_get(st, k);
            if (lq_json_type(rnc) != LQ_JSON_OBJECT) {
                rnc = lq_json_new_object(doc);
                if (lq_json_obj_set(doc, st, k, rnc) != LQ_OK)
                    return NULL;
            }
            for (const lq_json_t *c = lq_json_first(m); c; c = lq_json_next(c)) {
                const char *ck = lq_json_key(c);
                if (lq_json_type(c) == LQ_JSON_NULL) {
                    while (lq_json_obj_del(doc, rnc, ck) == LQ_OK)
                        ;
                } else {
                    while (lq_json_obj_del(doc, rnc, ck) == LQ_OK)
                        ;
                    if (lq_json_obj_add(doc, rnc, ck, lq_json_copy(doc, c)) != LQ_OK)
                        return NULL;
                }
            }
        } else {
            while (lq_json_obj_del(doc, st, k) == LQ_OK)
                ;
            if (lq_json_obj_add(doc, st, k, lq_json_copy(doc, m)) != LQ_OK)
                return NULL;
        }
    }
    return obj;
}

/* ---- the target --------------------------------------------------------------------- */

static void check_names(const lq_forge_offload_spec_t *parsed, const char *local_ns,
                        const char *home_name, const uint8_t *dig6, size_t dl)
{
    unsigned char digest[32] = {0};
    memcpy(digest, dig6, dl < 6 ? dl : 6);
    char sfx[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1];
    lq_forge_offload_hash_suffix(digest, sfx);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 3; i++)
        CHECK(sfx[2 * i] == hex[digest[i] >> 4] && sfx[2 * i + 1] == hex[digest[i] & 15]);
    CHECK(sfx[6] == '\0');

    for (int m = 0; m < 3; m++) {
        lq_forge_offload_spec_t spec = *parsed;
        spec.mapping = (lq_forge_offload_mapping_t)m;
        char want[3 * STR_MAX + 8];
        size_t wl = 0;
        bool notfound = false;
        if (m == LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME) {
            size_t a = strlen(local_ns), b = strlen(home_name);
            memcpy(want, local_ns, a);
            want[a] = '-';
            memcpy(want + a + 1, home_name, b);
            want[a + 1 + b] = '-';
            memcpy(want + a + 2 + b, sfx, 6);
            wl = a + b + 8;
        } else if (m == LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME) {
            wl = strlen(local_ns);
            memcpy(want, local_ns, wl);
        } else if (!spec.remote_name.p || spec.remote_name.len == 0) {
            notfound = true;
        } else {
            wl = spec.remote_name.len < sizeof want ? spec.remote_name.len : sizeof want - 1;
            memcpy(want, spec.remote_name.p, wl);
        }
        want[wl] = '\0';
        char out[LQ_FORGE_OFFLOAD_NAME_BUF + 8];
        memset(out, 'x', sizeof out);
        size_t len = 12345;
        lq_err_t err = lq_forge_offload_remote_name(&spec, local_ns, home_name, sfx, out,
                                                    LQ_FORGE_OFFLOAD_NAME_BUF, &len);
        if (notfound) {
            CHECK(err == LQ_ENOTFOUND && out[0] == '\0' && len == 0);
            continue;
        }
        size_t full = m == LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME ? spec.remote_name.len : wl;
        CHECK(len == full);
        if (full > LQ_FORGE_OFFLOAD_NAME_MAX) {
            CHECK(err == LQ_ETOOBIG && out[0] == '\0');
        } else if (!ref_dns_label(want, wl) || memchr(want, 0, wl)) {
            CHECK(err == LQ_ECONFIG && out[0] == '\0');
        } else {
            CHECK(err == LQ_OK && strlen(out) == wl && memcmp(out, want, wl) == 0);
            CHECK(lq_forge_offload_dns_label_valid(out, wl));
        }
        /* a buffer below the bound, and a bad suffix */
        CHECK(lq_forge_offload_remote_name(&spec, local_ns, home_name, sfx, out,
                                           LQ_FORGE_OFFLOAD_NAME_BUF - 1, NULL) == LQ_EINVAL);
        if (m == LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME) {
            char bad[7];
            memcpy(bad, sfx, 7);
            bad[dig6 && dl ? dig6[0] % 6 : 0] = 'g';
            CHECK(lq_forge_offload_remote_name(&spec, local_ns, home_name, bad, out,
                                               sizeof out, NULL) == LQ_EINVAL);
        }
    }
}

static void check_remote_ns(lq_json_doc_t *doc, const char *remote_name, const char *local_ns,
                            const char *home_id, const char *foreign_id, lq_forge_offload_psa_t psa,
                            const char *fuzzed_ns, size_t fuzzed_len)
{
    lq_json_t *ns = NULL;
    lq_err_t err = lq_forge_offload_remote_ns_build(doc, remote_name, local_ns, home_id, foreign_id,
                                                    psa, &ns);
    if (strlen(home_id) > 247) {
        CHECK(err == LQ_ETOOBIG && ns == NULL);
    } else {
        CHECK(err == LQ_OK && ns);
        lq_json_t *back = reparse(doc, ns, out_a);
        if (back) {
            CHECK(lq_json_str_is(lq_json_get(back, "kind"), "Namespace"));
            CHECK(lq_json_str_is(LQ_JSON_AT(back, "metadata", "name"), remote_name));
            CHECK(lq_forge_offload_remote_ns_owned(back, home_id, foreign_id, local_ns));
            CHECK(lq_forge_offload_remote_ns_owned(back, home_id, foreign_id, NULL));
            char other[STR_MAX + 2];
            size_t fl = strlen(foreign_id);
            memcpy(other, foreign_id, fl);
            memcpy(other + fl, "x", 2);
            CHECK(!lq_forge_offload_remote_ns_owned(back, home_id, other, local_ns));
            CHECK(!lq_forge_offload_remote_ns_owned(back, other, foreign_id, local_ns) ||
                  strcmp(home_id, other) == 0);
            size_t ll = strlen(local_ns);
            memcpy(other, local_ns, ll);
            memcpy(other + ll, "x", 2);
            CHECK(!lq_forge_offload_remote_ns_owned(back, home_id, foreign_id, other));
            CHECK(lq_forge_offload_psa_of(back) == psa);
            CHECK(label_is(back, "labels", "liqo.io/remote-cluster-id", home_id));
        }
    }
    CHECK(lq_forge_offload_remote_ns_build(doc, NULL, local_ns, home_id, foreign_id, psa, &ns) ==
          LQ_EINVAL && ns == NULL);

    /* the fuzzed remote Namespace */
    lq_json_t *fns = NULL;
    if (lq_json_parse(doc, fuzzed_ns, fuzzed_len, &fns) != LQ_OK)
        return;
    bool owned = lq_forge_offload_remote_ns_owned(fns, home_id, foreign_id, local_ns);
    bool really = lq_json_str_is(LQ_JSON_AT(fns, "metadata", "labels", lq_liqo_names()->origin), home_id) &&
                  lq_json_str_is(LQ_JSON_AT(fns, "metadata", "labels", lq_liqo_names()->destination), foreign_id) &&
                  lq_json_str_is(LQ_JSON_AT(fns, "metadata", "annotations", "liqo.io/original-name"), local_ns);
    CHECK(owned == really);
    CHECK(!lq_forge_offload_remote_ns_owned(fns, NULL, foreign_id, local_ns));
    CHECK(!lq_forge_offload_remote_ns_owned(fns, home_id, NULL, local_ns));

    /* Pod Security of the fuzzed namespace */
    lq_json_str_t lv;
    lq_forge_offload_psa_t seen = lq_forge_offload_psa_of(fns);
    if (lq_json_str(LQ_JSON_AT(fns, "metadata", "labels", LQ_FORGE_OFFLOAD_PSA_LABEL), &lv) == LQ_OK) {
        CHECK(seen == lq_forge_offload_psa_parse(lv.p, lv.len));
        const char *name = lq_forge_offload_psa_str(seen);
        if (seen == LQ_FORGE_OFFLOAD_PSA_NONE)
            CHECK(name == NULL && strcmp(lv.p, "privileged") && strcmp(lv.p, "baseline") &&
                  strcmp(lv.p, "restricted"));
        else
            CHECK(name && strlen(name) == lv.len && memcmp(name, lv.p, lv.len) == 0);
    } else {
        CHECK(seen == LQ_FORGE_OFFLOAD_PSA_NONE);
    }
    for (int w = 0; w < 4; w++)
        CHECK(lq_forge_offload_psa_weaker(seen, (lq_forge_offload_psa_t)w) ==
              (w != 0 && (int)seen < w));
    lq_json_str_t uid;
    if (lq_json_str(LQ_JSON_AT(fns, "metadata", "uid"), &uid) == LQ_OK) {
        lq_json_t *p = NULL;
        err = lq_forge_offload_psa_patch(doc, uid.p, psa, &p);
        if (psa == LQ_FORGE_OFFLOAD_PSA_NONE || uid.len == 0) {
            CHECK(err == LQ_EINVAL && p == NULL);
        } else {
            CHECK(err == LQ_OK);
            lq_json_t *back = reparse(doc, p, out_b);
            if (back) {
                CHECK(lq_json_str_is(LQ_JSON_AT(back, "metadata", "uid"), uid.p));
                CHECK(lq_forge_offload_psa_of(back) == psa);
                CHECK(lq_json_size(lq_json_get(back, "metadata")) == 2);
            }
        }
    }
}

static void check_status(lq_json_doc_t *doc, const lq_json_t *nsof, uint8_t flags,
                         const char *key, const char *remote_name)
{
    lq_forge_offload_status_in_t in = {
        .key = key,
        .selected = (flags >> 5) & 1,
        .state = (lq_forge_offload_ns_state_t)(((flags >> 2) & 7u) % 5u),
        .message = (flags & 1) ? "name too long" : NULL,
        .remote_name = remote_name,
        .forget = (flags >> 7) & 1,
        .precondition = (flags >> 6) & 1,
        .now = "2026-01-01T00:00:00Z",
    };
    lq_json_t *conds = NULL, *patch = NULL;
    lq_forge_offload_phase_t phase = (lq_forge_offload_phase_t)99;
    lq_err_t err = lq_forge_offload_status_build(doc, nsof, &in, &conds, &phase, &patch);
    CHECK(err == LQ_OK || err == LQ_EPROTO || err == LQ_ETOOBIG);
    if (err != LQ_OK) {
        CHECK(conds == NULL && patch == NULL);
        return;
    }
    CHECK((unsigned)phase <= (unsigned)LQ_FORGE_OFFLOAD_PHASE_TERMINATING);
    CHECK(strcmp(lq_forge_offload_phase_str(phase), "?") != 0);
    CHECK(lq_json_deleting(nsof) == (phase == LQ_FORGE_OFFLOAD_PHASE_TERMINATING));
    if (in.forget)
        CHECK(conds == NULL);
    CHECK(patch != NULL);
    const lq_json_t *pc = LQ_JSON_AT(patch, "status", "remoteNamespacesConditions", key);
    CHECK(conds ? lq_json_type(pc) == LQ_JSON_ARRAY : lq_json_type(pc) == LQ_JSON_NULL);
    if (conds) {
        CHECK(lq_json_size(conds) == 1 || lq_json_size(conds) == 2);
        CHECK(lq_json_str_is(LQ_JSON_AT(conds, "0", "type"), "OffloadingRequired"));
        size_t a = 0, b = 0;
        CHECK(lq_json_print(conds, out_a, OUT_MAX, &a) == LQ_OK);
        CHECK(lq_json_print(pc, out_b, OUT_MAX, &b) == LQ_OK);
        CHECK(a == b && memcmp(out_a, out_b, a) == 0);
    }
    CHECK(lq_json_str_is(LQ_JSON_AT(patch, "status", "offloadingPhase"),
                         lq_forge_offload_phase_str(phase)));
    int64_t gen, obs;
    if (lq_json_int(LQ_JSON_AT(nsof, "metadata", "generation"), &gen) == LQ_OK)
        CHECK(lq_json_int(LQ_JSON_AT(patch, "status", "observedGeneration"), &obs) == LQ_OK &&
              obs == gen);
    if (in.precondition) {
        lq_json_str_t rv;
        CHECK(lq_json_str(LQ_JSON_AT(nsof, "metadata", "resourceVersion"), &rv) == LQ_OK);
        CHECK(lq_json_str_is(LQ_JSON_AT(patch, "metadata", "resourceVersion"), rv.p));
    }

    /* merged, nothing more to say; a later build keeps the times */
    lq_json_t *merged = merge_status(doc, nsof, patch);
    if (!merged)
        return;
    CHECK(lq_forge_offload_status_current(merged, key, conds, phase, remote_name));
    lq_forge_offload_status_in_t later = in;
    later.now = "2027-02-02T00:00:00Z";
    later.precondition = false;
    lq_json_t *conds2 = NULL;
    lq_forge_offload_phase_t phase2;
    err = lq_forge_offload_status_build(doc, merged, &later, &conds2, &phase2, NULL);
    if (err == LQ_ETOOBIG)
        return;
    CHECK(err == LQ_OK && phase2 == phase && !conds2 == !conds);
    if (conds) {
        size_t a = 0, b = 0;
        CHECK(lq_json_print(conds, out_a, OUT_MAX, &a) == LQ_OK);
        CHECK(lq_json_print(conds2, out_b, OUT_MAX, &b) == LQ_OK);
        CHECK(a == b && memcmp(out_a, out_b, a) == 0);
    }
}

static void check_fallback(lq_json_doc_t *doc, const lq_json_t *pod)
{
    lq_forge_offload_fallback_t act = (lq_forge_offload_fallback_t)99;
    lq_json_t *patch = NULL;
    lq_err_t err = lq_forge_offload_fallback(doc, pod, "2026-01-01T00:00:00Z", &act, &patch);
    CHECK(err == LQ_OK || err == LQ_EPROTO || err == LQ_ETOOBIG);
    if (err != LQ_OK) {
        CHECK(patch == NULL);
        return;
    }
    CHECK((unsigned)act <= (unsigned)LQ_FORGE_OFFLOAD_FALLBACK_ABORT);
    if (lq_json_deleting(pod))
        CHECK(act == LQ_FORGE_OFFLOAD_FALLBACK_DELETE);
    bool has = act == LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF || act == LQ_FORGE_OFFLOAD_FALLBACK_ABORT;
    CHECK(!patch == !has);
    if (has) {
        bool b = act == LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF;
        CHECK(lq_json_str_is(LQ_JSON_AT(patch, "status", "phase"), b ? "Pending" : "Failed"));
        CHECK(lq_json_str_is(LQ_JSON_AT(patch, "status", "reason"),
                             b ? LQ_FORGE_OFFLOAD_REASON_BACKOFF : LQ_FORGE_OFFLOAD_REASON_ABORTED));
        for (const lq_json_t *c = lq_json_first(LQ_JSON_AT(patch, "status", "conditions")); c;
             c = lq_json_next(c))
            CHECK(!lq_json_str_is(lq_json_get(c, "status"), "True"));
        for (const lq_json_t *c = lq_json_first(LQ_JSON_AT(patch, "status", "containerStatuses"));
             c; c = lq_json_next(c)) {
            bool ready = true;
            CHECK(lq_json_type(c) != LQ_JSON_OBJECT ||
                  (lq_json_bool(lq_json_get(c, "ready"), &ready) == LQ_OK && !ready));
        }
        /* applied, the pod needs nothing more */
        if (lq_json_type(lq_json_get(pod, "status")) == LQ_JSON_OBJECT) {
            lq_json_t *p2 = lq_json_copy(doc, pod);
            lq_json_t *st = lq_json_get(p2, "status");
            if (p2 && lq_json_obj_set(doc, st, "phase", lq_json_copy(doc, LQ_JSON_AT(patch, "status", "phase"))) == LQ_OK &&
                lq_json_obj_set(doc, st, "reason", lq_json_copy(doc, LQ_JSON_AT(patch, "status", "reason"))) == LQ_OK) {
                lq_forge_offload_fallback_t a2;
                lq_json_t *pp = NULL;
                err = lq_forge_offload_fallback(doc, p2, "2026-01-01T00:00:00Z", &a2, &pp);
                CHECK(err != LQ_OK || (a2 == LQ_FORGE_OFFLOAD_FALLBACK_LEAVE && pp == NULL));
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const char *f[FIELDS];
    size_t fl[FIELDS];
    field_at(data + 1, size - 1, f, fl);

    static char local_ns[STR_MAX], home_name[STR_MAX], home_id[STR_MAX], foreign_id[STR_MAX],
        node[STR_MAX];
    cstr(local_ns, f[3], fl[3]);
    cstr(home_name, f[4], fl[4]);
    cstr(home_id, f[6], fl[6]);
    cstr(foreign_id, f[7], fl[7]);
    cstr(node, f[2], fl[2]);

    /* labels: "key=value" lines */
    static char lbuf[LABELS][2][STR_MAX];
    lq_forge_offload_label_t labels[LABELS];
    size_t nl = 0;
    const char *p = f[1], *end = f[1] + fl[1];
    while (p < end && nl < LABELS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        if (eq) {
            labels[nl].key = cstr(lbuf[nl][0], p, (size_t)(eq - p));
            labels[nl].value = cstr(lbuf[nl][1], eq + 1, (size_t)(eol - eq - 1));
            nl++;
        }
        p = eol + 1;
    }

    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena_a, sizeof arena_a);
    lq_json_doc_t doc2;
    lq_json_doc_init(&doc2, arena_b, sizeof arena_b);

    /* Pod Security levels */
    for (int l = 1; l <= 3; l++)
        CHECK(lq_forge_offload_psa_parse(lq_forge_offload_psa_str((lq_forge_offload_psa_t)l),
                                         strlen(lq_forge_offload_psa_str((lq_forge_offload_psa_t)l))) ==
              (lq_forge_offload_psa_t)l);
    CHECK(lq_forge_offload_psa_str(LQ_FORGE_OFFLOAD_PSA_NONE) == NULL);
    CHECK(lq_forge_offload_psa_parse(NULL, 0) == LQ_FORGE_OFFLOAD_PSA_NONE);
    lq_forge_offload_psa_t psa = (lq_forge_offload_psa_t)(flags & 3u);

    lq_json_t *nsof = NULL;
    lq_err_t err = lq_json_parse(&doc, f[0], fl[0], &nsof);
    lq_forge_offload_spec_t spec;
    memset(&spec, 0, sizeof spec);
    bool have_spec = false;
    if (err == LQ_OK) {
        err = lq_forge_offload_spec_parse(nsof, &spec);
        CHECK(err == LQ_OK || err == LQ_EPROTO);
        if (err == LQ_OK) {
            have_spec = true;
            CHECK((unsigned)spec.mapping <= LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME);
            CHECK((unsigned)spec.pods <= LQ_FORGE_OFFLOAD_PODS_LOCAL);
            const lq_json_t *rn = LQ_JSON_AT(nsof, "spec", "remoteNamespaceName");
            lq_json_str_t v;
            if (lq_json_str(rn, &v) == LQ_OK)
                CHECK(spec.remote_name.p == v.p && spec.remote_name.len == v.len);
            else
                CHECK(spec.remote_name.p == NULL);
            const lq_json_t *cs = LQ_JSON_AT(nsof, "spec", "clusterSelector");
            CHECK(spec.cluster_selector == (is_absent(cs) ? NULL : cs));
        }
        /* selector: the real one against the reference */
        const lq_json_t *sel = have_spec ? spec.cluster_selector : LQ_JSON_AT(nsof, "spec", "clusterSelector");
        bool s1 = false, s2 = false;
        size_t i1 = 99, i2 = 0;
        lq_err_t e1 = lq_forge_offload_selector_match(sel, labels, nl, node[0] ? node : NULL, &s1, &i1);
        lq_err_t e2 = ref_select(sel, labels, nl, node[0] ? node : NULL, &s2, &i2);
        CHECK(e1 == e2);
        if (e1 == LQ_OK)
            CHECK(s1 == s2 && i1 == i2);
        CHECK(lq_forge_offload_selector_match(sel, NULL, 1, NULL, &s1, NULL) == LQ_EINVAL);

        check_fallback(&doc2, nsof);
        lq_json_reset(&doc2);
    }

    if (!have_spec) {
        memset(&spec, 0, sizeof spec);
        spec.remote_name.p = local_ns;
        spec.remote_name.len = strlen(local_ns);
    }
    check_names(&spec, local_ns, home_name, (const uint8_t *)f[8], fl[8]);

    /* the remote Namespace */
    char rname[LQ_FORGE_OFFLOAD_NAME_BUF];
    const char *remote = local_ns;
    if (lq_forge_offload_remote_name(&spec, local_ns, home_name, "abc123", rname, sizeof rname,
                                     NULL) == LQ_OK)
        remote = rname;
    check_remote_ns(&doc2, remote, local_ns, home_id, foreign_id, psa, f[5], fl[5]);
    lq_json_reset(&doc2);

    /* home namespace patch */
    for (int pods = 0; pods < 3; pods++) {
        lq_forge_offload_mark_t mark = {foreign_id[0] ? "liqolet.liqo.io/remote.x" : NULL,
                                        (flags & 16) ? remote : NULL, home_id};
        lq_json_t *out = NULL;
        CHECK(lq_forge_offload_home_ns_patch(&doc2, (lq_forge_offload_pods_t)pods, flags & 32,
                                             &mark, &out) == LQ_OK);
        bool set = (flags & 32) && pods != LQ_FORGE_OFFLOAD_PODS_LOCAL;
        const lq_json_t *l = LQ_JSON_AT(out, "metadata", "labels", "liqo.io/scheduling-enabled");
        CHECK(set ? lq_json_str_is(l, "true") : lq_json_type(l) == LQ_JSON_NULL);
        if (mark.key && mark.name)
            CHECK(lq_json_str_is(LQ_JSON_AT(out, "metadata", "annotations", mark.key), home_id));
    }
    lq_json_reset(&doc2);

    /* status */
    if (nsof)
        check_status(&doc2, nsof, flags, foreign_id[0] ? foreign_id : "foreign",
                     (flags & 2) ? remote : NULL);
    return 0;
}
