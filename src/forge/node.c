/* liqolet: the virtual node's pure forge (see include/liqolet/forge_node.h).
 * Pure module: C standard headers and liqolet headers only. */
#include "liqolet/forge_node.h"
#include "liqolet/liqo.h"

#include <float.h>
#include <string.h>

/* Liqo scales in float32; that is reproduced only when float expressions are evaluated
 * in float (true on x86-64 SSE, aarch64 and armv7 VFP). */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "forge/node.c needs FLT_EVAL_METHOD == 0 to reproduce Liqo's float32 scaling"
#endif

#define TRY(expr)                                                                      \
    do {                                                                               \
        lq_err_t e_ = (expr);                                                          \
        if (e_ != LQ_OK)                                                               \
            return e_;                                                                 \
    } while (0)

/* ---- quantities: a tiny unsigned 128-bit integer ------------------------------------- */

typedef struct u128 {
    uint64_t hi, lo;
} u128_t;

static bool u128_mul_small(u128_t *v, uint32_t m)
{
    uint64_t a0 = (v->lo & 0xffffffffu) * m;
    uint64_t a1 = (v->lo >> 32) * m + (a0 >> 32);
    uint64_t a2 = (v->hi & 0xffffffffu) * m + (a1 >> 32);
    uint64_t a3 = (v->hi >> 32) * m + (a2 >> 32);
    if (a3 >> 32)
        return false;
    v->lo = (a0 & 0xffffffffu) | (a1 << 32);
    v->hi = (a2 & 0xffffffffu) | (a3 << 32);
    return true;
}

/* Divides by d (non-zero); returns the remainder. */
static uint32_t u128_div_small(u128_t *v, uint32_t d)
{
    uint32_t limb[4] = {(uint32_t)(v->hi >> 32), (uint32_t)v->hi, (uint32_t)(v->lo >> 32),
                        (uint32_t)v->lo};
    uint64_t r = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t cur = (r << 32) | limb[i];
        limb[i] = (uint32_t)(cur / d);
        r = cur % d;
    }
    v->hi = ((uint64_t)limb[0] << 32) | limb[1];
    v->lo = ((uint64_t)limb[2] << 32) | limb[3];
    return (uint32_t)r;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#define MAX_SIG_DIGITS 20 /* < 2^67 (not 2^64: kept in 128 bits), so D * 2^60 fits in 128 */

lq_err_t lq_quantity_parse(const char *s, size_t len, int scale, int64_t *out)
{
    if (!s || !out || scale < -9 || scale > 18)
        return LQ_EINVAL;
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';

    /* Mantissa: keep up to MAX_SIG_DIGITS significant digits in d; p is the power of ten
     * of the last kept digit; sticky records a dropped non-zero digit. Twenty digits
     * overflow 64 bits (fuzz_quantity: "20000000000000000000m" was read as 1553255926290448),
     * so d has 128. */
    u128_t d = {0, 0};
    int nsig = 0;
    int64_t p = 0;
    bool sticky = false, any = false, dot = false;
    int64_t int_dropped = 0; /* integer digits dropped: raise p */
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (dot)
                return LQ_EPROTO;
            dot = true;
            continue;
        }
        if (!is_digit(c))
            break;
        any = true;
        if (nsig == 0 && c == '0') {
            if (dot)
                p--;
            continue;
        }
        if (nsig < MAX_SIG_DIGITS) {
            (void)u128_mul_small(&d, 10u); /* d < 10^19 here: cannot overflow */
            uint64_t lo = d.lo + (uint64_t)(c - '0');
            d.hi += lo < d.lo;
            d.lo = lo;
            nsig++;
            if (dot)
                p--;
        } else {
            if (c != '0')
                sticky = true;
            if (!dot)
                int_dropped++;
        }
        if (int_dropped > 100000)
            return LQ_ETOOBIG;
    }
    if (!any)
        return LQ_EPROTO;
    p += int_dropped;

    /* Suffix. */
    int64_t exp10 = 0;
    unsigned bin = 0;
    size_t rest = len - i;
    const char *sf = s + i;
    if (rest == 0) {
        /* no suffix: plain units */
    } else if (rest == 2 && sf[1] == 'i') {
        static const char bins[] = "KMGTPE";
        const char *at = memchr(bins, sf[0], 6);
        if (!at)
            return LQ_EPROTO;
        bin = 10u * (unsigned)(at - bins + 1);
    } else if ((sf[0] == 'e' || sf[0] == 'E') && rest > 1) {
        size_t j = 1;
        bool eneg = false;
        if (sf[j] == '+' || sf[j] == '-')
            eneg = sf[j++] == '-';
        if (j >= rest)
            return LQ_EPROTO;
        for (; j < rest; j++) {
            if (!is_digit(sf[j]))
                return LQ_EPROTO;
            if (exp10 < 1000000)
                exp10 = exp10 * 10 + (sf[j] - '0');
        }
        if (eneg)
            exp10 = -exp10;
    } else if (rest == 1) {
        switch (sf[0]) {
        case 'n': exp10 = -9; break;
        case 'u': exp10 = -6; break;
        case 'm': exp10 = -3; break;
        case 'k': exp10 = 3; break;
        case 'M': exp10 = 6; break;
        case 'G': exp10 = 9; break;
        case 'T': exp10 = 12; break;
        case 'P': exp10 = 15; break;
        case 'E': exp10 = 18; break;
        default: return LQ_EPROTO;
        }
    } else {
        return LQ_EPROTO;
    }

    /* -2^63 fits (lq_quantity_format writes it); +2^63 does not */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t mag;
    if (d.hi == 0 && d.lo == 0) {
        mag = 0;
    } else {
        int64_t k = p + exp10 - scale; /* value = d * 10^k * 2^bin (+ sticky) */
        u128_t v = d;
        for (unsigned b = 0; b < bin; b += 10)
            (void)u128_mul_small(&v, 1024u); /* d < 2^67: cannot overflow */
        bool rem = sticky;
        if (k >= 0) {
            for (int64_t t = 0; t < k; t++) {
                if (v.hi != 0 || !u128_mul_small(&v, 10u))
                    return LQ_ETOOBIG;
            }
        } else {
            for (int64_t t = 0; t < -k; t++) {
                if (v.hi == 0 && v.lo == 0)
                    break;
                if (u128_div_small(&v, 10u) != 0)
                    rem = true;
            }
        }
        if (v.hi != 0 || v.lo > limit)
            return LQ_ETOOBIG;
        mag = v.lo + (rem ? 1u : 0u);
        if (mag > limit)
            return LQ_ETOOBIG;
    }
    *out = !neg ? (int64_t)mag : mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
    return LQ_OK;
}

/* Appends the decimal digits of v at p; returns the count. */
static size_t put_u64(char *p, uint64_t v)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = rev[n - 1 - i];
    return n;
}

/* Zero-padded to width digits. */
static size_t put_pad(char *p, uint64_t v, size_t width)
{
    for (size_t i = width; i-- > 0;) {
        p[i] = (char)('0' + v % 10u);
        v /= 10u;
    }
    return width;
}

static lq_err_t emit(char *buf, size_t cap, const char *tmp, size_t n, size_t *len)
{
    if (n >= cap) {
        buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    if (len)
        *len = n;
    return LQ_OK;
}

lq_err_t lq_quantity_format(int64_t v, int scale, char *buf, size_t cap, size_t *len)
{
    if (!buf || cap == 0 || scale < -9 || scale > 18 || scale % 3 != 0)
        return LQ_EINVAL;
    char tmp[48];
    size_t n = 0;
    if (v < 0)
        tmp[n++] = '-';
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int e = scale;
    if (m == 0) {
        e = 0;
    } else {
        while (m % 10u == 0) {
            m /= 10u;
            e++;
        }
        while (((e % 3) + 3) % 3 != 0) { /* back down to a multiple of 3: cannot
                                            overflow, m only regains removed zeros */
            m *= 10u;
            e--;
        }
    }
    n += put_u64(tmp + n, m);
    static const char sfx[] = "num kMGTPE"; /* exponents -9 .. 18 by 3; ' ' is none */
    int idx = e / 3 + 3;
    if (idx >= 0 && idx < 10) {
        if (sfx[idx] != ' ')
            tmp[n++] = sfx[idx];
    } else {
        tmp[n++] = 'e';
        n += put_u64(tmp + n, (uint64_t)e); /* e > 18 only: positive */
    }
    return emit(buf, cap, tmp, n, len);
}

/* ---- capacity ---------------------------------------------------------------------- */

static int res_scale(const char *name)
{
    return strcmp(name, "cpu") == 0 ? -3 : 0;
}

/* Index of name in cap (adding it, with zero sums, when absent). */
static lq_err_t res_slot(lq_forge_capacity_t *cap, const char *name, size_t *idx)
{
    for (size_t i = 0; i < cap->n; i++) {
        if (strcmp(cap->res[i].name, name) == 0) {
            *idx = i;
            return LQ_OK;
        }
    }
    size_t nl = strlen(name);
    if (nl == 0)
        return LQ_EPROTO;
    if (nl >= LQ_FORGE_RES_NAME_MAX || cap->n >= LQ_FORGE_MAX_RESOURCES)
        return LQ_ETOOBIG;
    lq_forge_res_t *r = &cap->res[cap->n];
    memset(r, 0, sizeof *r);
    memcpy(r->name, name, nl + 1);
    *idx = cap->n++;
    return LQ_OK;
}

static lq_err_t add_i64(int64_t *acc, int64_t v)
{
    if ((v > 0 && *acc > INT64_MAX - v) || (v < 0 && *acc < INT64_MIN - v))
        return LQ_ETOOBIG;
    *acc += v;
    return LQ_OK;
}

/* A non-negative quantity string item, at the scale of resource `name`. */
static lq_err_t res_value(const lq_json_t *item, const char *name, int64_t *v)
{
    lq_json_str_t s;
    lq_err_t err = lq_json_str(item, &s);
    if (err == LQ_ENOTFOUND)
        return LQ_EPROTO;
    TRY(err);
    TRY(lq_quantity_parse(s.p, s.len, res_scale(name), v));
    return *v < 0 ? LQ_EPROTO : LQ_OK;
}

void lq_forge_capacity_init(lq_forge_capacity_t *cap)
{
    memset(cap, 0, sizeof *cap);
}

static bool node_ready(const lq_json_t *node)
{
    for (lq_json_t *c = lq_json_first(LQ_JSON_AT(node, "status", "conditions")); c;
         c = lq_json_next(c)) {
        if (lq_json_str_is(lq_json_get(c, "type"), "Ready"))
            return lq_json_str_is(lq_json_get(c, "status"), "True");
    }
    return false;
}

static void arch_vote(lq_forge_capacity_t *cap, const lq_json_t *node)
{
    lq_json_str_t a;
    if (lq_json_str(LQ_JSON_AT(node, "metadata", "labels", "kubernetes.io/arch"), &a) != LQ_OK &&
        lq_json_str(LQ_JSON_AT(node, "status", "nodeInfo", "architecture"), &a) != LQ_OK)
        return; /* a node that says nothing does not vote */
    if (a.len == 0)
        return;
    if (cap->arch_state == 0) {
        if (a.len >= sizeof cap->arch) {
            cap->arch_state = 2; /* cannot be reported: treat as disagreement */
            return;
        }
        memcpy(cap->arch, a.p, a.len + 1);
        cap->arch_state = 1;
    } else if (cap->arch_state == 1 && strcmp(cap->arch, a.p) != 0) {
        cap->arch_state = 2;
    }
}

lq_err_t lq_forge_capacity_add_node(lq_forge_capacity_t *cap, const lq_json_t *node,
                                    bool *counted)
{
    if (counted)
        *counted = false;
    if (!cap || !node)
        return LQ_EINVAL;
    if (lq_json_str_is(LQ_JSON_AT(node, "metadata", "labels", LQ_LIQO_LABEL_TYPE), LQ_LIQO_TYPE_VIRTUAL_NODE))
        return LQ_OK;
    if (!node_ready(node)) {
        arch_vote(cap, node);
        return LQ_OK;
    }
    lq_forge_capacity_t next = *cap; /* all or nothing */
    const lq_json_t *alloc = LQ_JSON_AT(node, "status", "allocatable");
    if (alloc && lq_json_type(alloc) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    for (lq_json_t *r = lq_json_first(alloc); r; r = lq_json_next(r)) {
        const char *name = lq_json_key(r);
        int64_t v;
        size_t idx;
        TRY(res_value(r, name, &v));
        TRY(res_slot(&next, name, &idx));
        TRY(add_i64(&next.res[idx].alloc, v));
        next.res[idx].on_node = true;
    }
    arch_vote(&next, node);
    next.nodes++;
    *cap = next;
    if (counted)
        *counted = true;
    return LQ_OK;
}

/* Adds (sum = true) or maxes a container's requests into req[] (indexed like cap->res). */
static lq_err_t merge_requests(lq_forge_capacity_t *cap, const lq_json_t *requests,
                               int64_t *req, bool sum)
{
    if (requests && lq_json_type(requests) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    for (lq_json_t *r = lq_json_first(requests); r; r = lq_json_next(r)) {
        const char *name = lq_json_key(r);
        int64_t v;
        size_t idx;
        TRY(res_value(r, name, &v));
        size_t before = cap->n;
        TRY(res_slot(cap, name, &idx));
        if (idx >= before)
            req[idx] = 0;
        if (sum)
            TRY(add_i64(&req[idx], v));
        else if (v > req[idx])
            req[idx] = v;
    }
    return LQ_OK;
}

static lq_err_t containers(lq_forge_capacity_t *cap, const lq_json_t *list, int64_t *req,
                           bool sum)
{
    if (list && lq_json_type(list) != LQ_JSON_ARRAY)
        return LQ_EPROTO;
    for (lq_json_t *c = lq_json_first(list); c; c = lq_json_next(c)) {
        if (lq_json_type(c) != LQ_JSON_OBJECT)
            return LQ_EPROTO;
        TRY(merge_requests(cap, LQ_JSON_AT(c, "resources", "requests"), req, sum));
    }
    return LQ_OK;
}

lq_err_t lq_forge_capacity_add_pod(lq_forge_capacity_t *cap, const lq_json_t *pod,
                                   const char *home_cluster_id, bool *counted)
{
    if (counted)
        *counted = false;
    if (!cap || !pod)
        return LQ_EINVAL;
    if (!lq_json_str_is(LQ_JSON_AT(pod, "status", "phase"), "Running"))
        return LQ_OK;
    if (lq_json_str_is(LQ_JSON_AT(pod, "metadata", "labels", LQ_LIQO_LABEL_SHADOW_POD), "true"))
        return LQ_OK;
    lq_forge_capacity_t next = *cap;
    int64_t req[LQ_FORGE_MAX_RESOURCES] = {0};
    const lq_json_t *spec = lq_json_get(pod, "spec");
    TRY(containers(&next, lq_json_get(spec, "containers"), req, true));
    TRY(containers(&next, lq_json_get(spec, "initContainers"), req, false));
    TRY(merge_requests(&next, lq_json_get(spec, "overhead"), req, true));
    bool origin = home_cluster_id && home_cluster_id[0] &&
                  lq_json_str_is(LQ_JSON_AT(pod, "metadata", "labels", lq_liqo_names()->origin),
                         home_cluster_id);
    for (size_t i = 0; i < next.n; i++) {
        TRY(add_i64(&next.res[i].used, req[i]));
        if (origin)
            TRY(add_i64(&next.res[i].origin, req[i]));
    }
    next.pods++;
    if (origin)
        next.origin_pods++;
    *cap = next;
    if (counted)
        *counted = true;
    return LQ_OK;
}

/* Liqo's ScaleResources: int64(float32(v) * factor), factor = float32(pct) / 100. */
static int64_t scale_f32(int64_t v, float factor)
{
    float f = (float)v * factor;
    if (f >= 9.2233720368547758e18f)
        return INT64_MAX; /* only when pct is 100 and v is near INT64_MAX */
    return (int64_t)f;
}

static int cmp_name(const char *a, const char *b)
{
    return strcmp(a, b);
}

lq_err_t lq_forge_capacity_offer(const lq_forge_capacity_t *cap, unsigned pct,
                                 lq_forge_offer_t *out)
{
    if (!cap || !out || pct > 100)
        return LQ_EINVAL;
    memset(out, 0, sizeof *out);
    const char *arch = cap->arch_state == 1 ? cap->arch : LQ_FORGE_DEFAULT_ARCH;
    memcpy(out->arch, arch, strlen(arch) + 1);

    /* cluster = allocatable - requests of Running pods, on resources the nodes report;
     * any negative -> all zero (Liqo's checkSign/setZero). */
    int64_t cluster[LQ_FORGE_MAX_RESOURCES];
    bool negative = false;
    for (size_t i = 0; i < cap->n; i++) {
        const lq_forge_res_t *r = &cap->res[i];
        cluster[i] = r->on_node ? r->alloc - r->used : 0; /* both >= 0: cannot overflow */
        if (cluster[i] < 0)
            negative = true;
    }
    float factor = (float)pct / 100.0f;
    for (size_t i = 0; i < cap->n; i++) {
        const lq_forge_res_t *r = &cap->res[i];
        if (!r->on_node && r->origin == 0)
            continue; /* Liqo lists a name only when a node or an origin pod has it */
        int64_t v = negative ? 0 : cluster[i];
        if (v > INT64_MAX - r->origin)
            v = INT64_MAX;
        else
            v += r->origin;
        lq_forge_offer_res_t *o = &out->res[out->n++];
        memcpy(o->name, r->name, sizeof o->name);
        if (strcmp(r->name, "cpu") == 0) {
            o->value = scale_f32(v, factor);
            o->scale = -3;
        } else if (strcmp(r->name, "memory") == 0) {
            int64_t mega = v / 1000000 + (v % 1000000 != 0); /* ScaledValue(Mega) rounds up */
            o->value = scale_f32(mega, factor);
            o->value = o->value > INT64_MAX / 1000000 ? INT64_MAX / 1000000 * 1000000
                                                      : o->value * 1000000;
            o->scale = 0;
        } else {
            o->value = scale_f32(v, factor);
            o->scale = 0;
        }
    }
    /* Sort by name (insertion sort: at most LQ_FORGE_MAX_RESOURCES entries). */
    for (size_t i = 1; i < out->n; i++) {
        lq_forge_offer_res_t t = out->res[i];
        size_t j = i;
        while (j > 0 && cmp_name(out->res[j - 1].name, t.name) > 0) {
            out->res[j] = out->res[j - 1];
            j--;
        }
        out->res[j] = t;
    }
    return LQ_OK;
}

static const lq_forge_offer_res_t *offer_find(const lq_forge_offer_t *offer, const char *name)
{
    for (size_t i = 0; i < offer->n; i++)
        if (strcmp(offer->res[i].name, name) == 0)
            return &offer->res[i];
    return NULL;
}

bool lq_forge_offer_ready(const lq_forge_offer_t *offer)
{
    if (!offer)
        return false;
    const lq_forge_offer_res_t *cpu = offer_find(offer, "cpu");
    const lq_forge_offer_res_t *mem = offer_find(offer, "memory");
    return cpu && mem && cpu->value > 0 && mem->value > 0;
}

/* ---- time -------------------------------------------------------------------------- */

lq_err_t lq_forge_time_format(int64_t ms, bool micro, char *buf, size_t cap)
{
    if (!buf || ms < 0)
        return LQ_EINVAL;
    int64_t secs = ms / 1000;
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    /* days since 1970-01-01 to civil date (Hinnant's algorithm, days >= 0 here). */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y > 9999)
        return LQ_EINVAL;
    char tmp[40];
    size_t n = 0;
    n += put_pad(tmp + n, (uint64_t)y, 4);
    tmp[n++] = '-';
    n += put_pad(tmp + n, (uint64_t)m, 2);
    tmp[n++] = '-';
    n += put_pad(tmp + n, (uint64_t)d, 2);
    tmp[n++] = 'T';
    n += put_pad(tmp + n, (uint64_t)(sod / 3600), 2);
    tmp[n++] = ':';
    n += put_pad(tmp + n, (uint64_t)(sod / 60 % 60), 2);
    tmp[n++] = ':';
    n += put_pad(tmp + n, (uint64_t)(sod % 60), 2);
    if (micro) {
        tmp[n++] = '.';
        n += put_pad(tmp + n, (uint64_t)(ms % 1000) * 1000u, 6);
    }
    tmp[n++] = 'Z';
    if (cap == 0)
        return LQ_ETOOBIG;
    return emit(buf, cap, tmp, n, NULL);
}

/* ---- JSON building helpers ----------------------------------------------------------- */

static lq_err_t add_str(lq_json_doc_t *doc, lq_json_t *obj, const char *key, const char *v)
{
    return lq_json_obj_add(doc, obj, key, lq_json_new_cstr(doc, v));
}

static lq_err_t set_str(lq_json_doc_t *doc, lq_json_t *obj, const char *key, const char *v)
{
    return lq_json_obj_set(doc, obj, key, lq_json_new_cstr(doc, v));
}

static lq_json_t *add_obj(lq_json_doc_t *doc, lq_json_t *parent, const char *key, lq_err_t *err)
{
    lq_json_t *o = lq_json_new_object(doc);
    *err = lq_json_obj_add(doc, parent, key, o);
    return *err == LQ_OK ? o : NULL;
}

static bool empty(const char *s)
{
    return !s || !s[0];
}

/* ---- node status -------------------------------------------------------------------- */

typedef struct cond_def {
    const char *type;
    const char *reason_true, *msg_true;
    const char *reason_false, *msg_false;
    bool true_when_ready; /* Ready: True when ready; pressures: True when not ready */
} cond_def_t;

#define MSG_SUFFICIENT "The remote cluster is advertising sufficient resources"
#define MSG_INSUFFICIENT "The remote cluster is advertising no/insufficient resources"

static const cond_def_t CONDS[] = {
    {"Ready", "KubeletReady", "The Liqo Virtual Kubelet is posting ready status",
     "KubeletNotReady", "The Liqo Virtual Kubelet is currently not ready", true},
    {"MemoryPressure", "RemoteClusterHasMemoryPressure", MSG_INSUFFICIENT,
     "RemoteClusterHasSufficientMemory", MSG_SUFFICIENT, false},
    {"DiskPressure", "RemoteClusterHasDiskPressure", MSG_INSUFFICIENT,
     "RemoteClusterHasNoDiskPressure", MSG_SUFFICIENT, false},
    {"PIDPressure", "RemoteClusterHasPIDPressure", MSG_INSUFFICIENT,
     "RemoteClusterHasNoPIDPressure", MSG_SUFFICIENT, false},
};
#define NCONDS (sizeof CONDS / sizeof CONDS[0])

static const lq_json_t *prev_condition(const lq_json_t *prev_node, const char *type)
{
    for (lq_json_t *c = lq_json_first(LQ_JSON_AT(prev_node, "status", "conditions")); c;
         c = lq_json_next(c))
        if (lq_json_str_is(lq_json_get(c, "type"), type))
            return c;
    return NULL;
}

static lq_err_t resource_list(lq_json_doc_t *doc, lq_json_t *parent, const char *key,
                              const lq_forge_offer_t *offer)
{
    lq_err_t err;
    lq_json_t *list = add_obj(doc, parent, key, &err);
    TRY(err);
    for (size_t i = 0; i < offer->n; i++) {
        char q[32];
        TRY(lq_quantity_format(offer->res[i].value, offer->res[i].scale, q, sizeof q, NULL));
        TRY(add_str(doc, list, offer->res[i].name, q));
    }
    return LQ_OK;
}

static lq_err_t build_status(lq_json_doc_t *doc, const lq_forge_node_params_t *params,
                             const lq_forge_offer_t *offer, const lq_json_t *prev_node,
                             int64_t now_ms, lq_json_t *st)
{
    lq_err_t err;
    char now[32];
    TRY(lq_forge_time_format(now_ms, false, now, sizeof now));
    TRY(resource_list(doc, st, "capacity", offer));
    TRY(resource_list(doc, st, "allocatable", offer));

    bool ready = lq_forge_offer_ready(offer);
    lq_json_t *conds = lq_json_new_array(doc);
    TRY(lq_json_obj_add(doc, st, "conditions", conds));
    for (size_t i = 0; i < NCONDS; i++) {
        const cond_def_t *d = &CONDS[i];
        bool t = d->true_when_ready ? ready : !ready;
        const char *status = t ? "True" : "False";
        lq_json_t *c = lq_json_new_object(doc);
        TRY(lq_json_arr_add(doc, conds, c));
        TRY(add_str(doc, c, "type", d->type));
        TRY(add_str(doc, c, "status", status));
        TRY(add_str(doc, c, "lastHeartbeatTime", now));
        /* The transition time survives while the status stays the same. */
        const lq_json_t *pc = prev_condition(prev_node, d->type);
        const lq_json_t *pt = lq_json_get(pc, "lastTransitionTime");
        lq_json_str_t pts;
        if (pc && lq_json_str_is(lq_json_get(pc, "status"), status) && lq_json_str(pt, &pts) == LQ_OK &&
            pts.len > 0)
            TRY(lq_json_obj_add(doc, c, "lastTransitionTime", lq_json_new_str(doc, pts.p, pts.len)));
        else
            TRY(add_str(doc, c, "lastTransitionTime", now));
        TRY(add_str(doc, c, "reason", t ? d->reason_true : d->reason_false));
        TRY(add_str(doc, c, "message", t ? d->msg_true : d->msg_false));
    }

    if (!empty(params->node_ip)) {
        lq_json_t *addrs = lq_json_new_array(doc);
        TRY(lq_json_obj_add(doc, st, "addresses", addrs));
        lq_json_t *a = lq_json_new_object(doc);
        TRY(lq_json_arr_add(doc, addrs, a));
        TRY(add_str(doc, a, "type", "InternalIP"));
        TRY(add_str(doc, a, "address", params->node_ip));
    }
    lq_json_t *de = add_obj(doc, st, "daemonEndpoints", &err);
    TRY(err);
    lq_json_t *ke = add_obj(doc, de, "kubeletEndpoint", &err);
    TRY(err);
    /* DaemonEndpoint's JSON field really is "Port" (capital P) in core/v1. */
    TRY(lq_json_obj_add(doc, ke, "Port",
                        lq_json_new_int(doc, params->kubelet_port ? params->kubelet_port
                                                                  : LQ_FORGE_KUBELET_PORT)));
    if (params->declare_websockets) {
        lq_json_t *df = lq_json_new_array(doc);
        TRY(lq_json_obj_add(doc, st, "declaredFeatures", df));
        TRY(lq_json_arr_add(doc, df, lq_json_new_cstr(doc, "ExtendWebSocketsToKubelet")));
    }
    lq_json_t *ni = add_obj(doc, st, "nodeInfo", &err);
    TRY(err);
    TRY(add_str(doc, ni, "architecture", offer->arch[0] ? offer->arch : LQ_FORGE_DEFAULT_ARCH));
    TRY(add_str(doc, ni, "kubeletVersion", empty(params->kubelet_version)
                                               ? LQ_FORGE_DEFAULT_KUBELET_VERSION
                                               : params->kubelet_version));
    TRY(add_str(doc, ni, "operatingSystem", "Linux"));
    return LQ_OK;
}

static bool params_ok(const lq_forge_node_params_t *p)
{
    if (!p || empty(p->node_name) || empty(p->foreign_cluster_id))
        return false;
    if ((p->n_extra_labels && !p->extra_labels) ||
        (p->n_extra_annotations && !p->extra_annotations))
        return false;
    for (size_t i = 0; i < p->n_extra_labels; i++)
        if (empty(p->extra_labels[i].key) || !p->extra_labels[i].value)
            return false;
    for (size_t i = 0; i < p->n_extra_annotations; i++)
        if (empty(p->extra_annotations[i].key) || !p->extra_annotations[i].value)
            return false;
    return true;
}

lq_err_t lq_forge_node_status(lq_json_doc_t *doc, const lq_forge_node_params_t *params,
                              const lq_forge_offer_t *offer, const lq_json_t *prev_node,
                              int64_t now_ms, lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !out || !offer || !params_ok(params) || now_ms < 0)
        return LQ_EINVAL;
    lq_json_t *st = lq_json_new_object(doc);
    if (!st)
        return doc->last_err;
    TRY(build_status(doc, params, offer, prev_node, now_ms, st));
    *out = st;
    return LQ_OK;
}

lq_err_t lq_forge_node(lq_json_doc_t *doc, const lq_forge_node_params_t *params,
                       const lq_forge_offer_t *offer, int64_t now_ms, lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !out || !offer || !params_ok(params) || now_ms < 0)
        return LQ_EINVAL;
    lq_err_t err;
    lq_json_t *node = lq_json_new_object(doc);
    if (!node)
        return doc->last_err;
    TRY(add_str(doc, node, "apiVersion", "v1"));
    TRY(add_str(doc, node, "kind", "Node"));
    lq_json_t *meta = add_obj(doc, node, "metadata", &err);
    TRY(err);
    TRY(add_str(doc, meta, "name", params->node_name));
    lq_json_t *labels = add_obj(doc, meta, "labels", &err);
    TRY(err);
    TRY(add_str(doc, labels, "kubernetes.io/hostname", params->node_name));
    TRY(add_str(doc, labels, "kubernetes.io/role", "agent"));
    TRY(add_str(doc, labels, "kubernetes.io/os", "linux"));
    TRY(add_str(doc, labels, "kubernetes.io/arch",
                offer->arch[0] ? offer->arch : LQ_FORGE_DEFAULT_ARCH));
    TRY(add_str(doc, labels, LQ_LIQO_LABEL_TYPE, LQ_LIQO_TYPE_VIRTUAL_NODE));
    TRY(add_str(doc, labels, LQ_LIQO_LABEL_REMOTE_CLUSTER_ID, params->foreign_cluster_id));
    TRY(add_str(doc, labels, "node.kubernetes.io/exclude-from-external-load-balancers", "true"));
    TRY(add_str(doc, labels, "alpha.service-controller.kubernetes.io/exclude-balancer", "true"));
    for (size_t i = 0; i < params->n_extra_labels; i++)
        TRY(set_str(doc, labels, params->extra_labels[i].key, params->extra_labels[i].value));
    if (params->n_extra_annotations) {
        lq_json_t *ann = add_obj(doc, meta, "annotations", &err);
        TRY(err);
        for (size_t i = 0; i < params->n_extra_annotations; i++)
            TRY(set_str(doc, ann, params->extra_annotations[i].key,
                        params->extra_annotations[i].value));
    }
    lq_json_t *spec = add_obj(doc, node, "spec", &err);
    TRY(err);
    lq_json_t *taints = lq_json_new_array(doc);
    TRY(lq_json_obj_add(doc, spec, "taints", taints));
    lq_json_t *t = lq_json_new_object(doc);
    TRY(lq_json_arr_add(doc, taints, t));
    TRY(add_str(doc, t, "key", "virtual-node.liqo.io/not-allowed"));
    TRY(add_str(doc, t, "value", "true"));
    TRY(add_str(doc, t, "effect", "NoExecute"));
    lq_json_t *st = add_obj(doc, node, "status", &err);
    TRY(err);
    TRY(build_status(doc, params, offer, NULL, now_ms, st));
    *out = node;
    return LQ_OK;
}

/* ---- change detection ---------------------------------------------------------------- */

static bool list_equal(const lq_json_t *list, const lq_forge_offer_t *offer)
{
    if (lq_json_type(list) != LQ_JSON_OBJECT || lq_json_size(list) != offer->n)
        return false;
    for (size_t i = 0; i < offer->n; i++) {
        lq_json_str_t s;
        int64_t v;
        if (lq_json_str(lq_json_get(list, offer->res[i].name), &s) != LQ_OK ||
            lq_quantity_parse(s.p, s.len, offer->res[i].scale, &v) != LQ_OK ||
            v != offer->res[i].value)
            return false;
    }
    return true;
}

lq_err_t lq_forge_node_status_changed(const lq_json_t *prev_node, const lq_forge_offer_t *offer,
                                      bool *changed)
{
    if (!offer || !changed)
        return LQ_EINVAL;
    *changed = true;
    const lq_json_t *st = lq_json_get(prev_node, "status");
    if (!st)
        return LQ_OK;
    if (!list_equal(lq_json_get(st, "capacity"), offer) ||
        !list_equal(lq_json_get(st, "allocatable"), offer))
        return LQ_OK;
    const lq_json_t *conds = lq_json_get(st, "conditions");
    if (lq_json_size(conds) != NCONDS)
        return LQ_OK; /* a missing condition, or one we no longer report */
    bool ready = lq_forge_offer_ready(offer);
    for (size_t i = 0; i < NCONDS; i++) {
        bool t = CONDS[i].true_when_ready ? ready : !ready;
        if (!lq_json_str_is(lq_json_get(prev_condition(prev_node, CONDS[i].type), "status"),
                    t ? "True" : "False"))
            return LQ_OK;
    }
    const lq_json_t *arch = LQ_JSON_AT(st, "nodeInfo", "architecture");
    if (!lq_json_str_is(arch, offer->arch[0] ? offer->arch : LQ_FORGE_DEFAULT_ARCH))
        return LQ_OK;
    *changed = false;
    return LQ_OK;
}

/* ---- lease -------------------------------------------------------------------------- */

lq_err_t lq_forge_lease(lq_json_doc_t *doc, const char *node_name, const char *node_uid,
                        const char *holder, int32_t duration_s, int64_t renew_ms,
                        lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !out || empty(node_name) || empty(holder) || duration_s <= 0 || renew_ms < 0)
        return LQ_EINVAL;
    char renew[32];
    TRY(lq_forge_time_format(renew_ms, true, renew, sizeof renew));
    lq_err_t err;
    lq_json_t *lease = lq_json_new_object(doc);
    if (!lease)
        return doc->last_err;
    TRY(add_str(doc, lease, "apiVersion", "coordination.k8s.io/v1"));
    TRY(add_str(doc, lease, "kind", "Lease"));
    lq_json_t *meta = add_obj(doc, lease, "metadata", &err);
    TRY(err);
    TRY(add_str(doc, meta, "name", node_name));
    TRY(add_str(doc, meta, "namespace", LQ_FORGE_LEASE_NAMESPACE));
    if (!empty(node_uid)) {
        lq_json_t *refs = lq_json_new_array(doc);
        TRY(lq_json_obj_add(doc, meta, "ownerReferences", refs));
        lq_json_t *r = lq_json_new_object(doc);
        TRY(lq_json_arr_add(doc, refs, r));
        TRY(add_str(doc, r, "apiVersion", "v1"));
        TRY(add_str(doc, r, "kind", "Node"));
        TRY(add_str(doc, r, "name", node_name));
        TRY(add_str(doc, r, "uid", node_uid));
    }
    lq_json_t *spec = add_obj(doc, lease, "spec", &err);
    TRY(err);
    TRY(add_str(doc, spec, "holderIdentity", holder));
    TRY(lq_json_obj_add(doc, spec, "leaseDurationSeconds", lq_json_new_int(doc, duration_s)));
    TRY(add_str(doc, spec, "renewTime", renew));
    *out = lease;
    return LQ_OK;
}
