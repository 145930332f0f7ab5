/* liqolet: the EndpointSlice forge (pure; see include/liqolet/forge_eps.h).
 * C standard headers and liqolet headers only.
 *
 * One pass: parse the home slice into the caller's document, check the shape of what is
 * read while building the remote body in the same document, print it. The body is printed
 * once without the uid precondition (that print is hashed) and, when there is a
 * precondition, once more with it at the end of metadata. */
#include "liqolet/forge_eps.h"

#include <string.h>

#include "liqolet/liqo.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

/* A build in progress. */
typedef struct eps {
    lq_json_doc_t *doc;
    const lq_forge_eps_params_t *p;
    lq_forge_eps_facts_t *facts;
    bool gate; /* lq_forge_eps_gate: the input is our remote copy */
} eps_t;

static bool nonempty(const char *s)
{
    return s && s[0];
}

static bool is_obj(const lq_json_t *v)
{
    return lq_json_type(v) == LQ_JSON_OBJECT;
}

static bool is_arr(const lq_json_t *v)
{
    return lq_json_type(v) == LQ_JSON_ARRAY;
}

/* Absent or JSON null. */
static bool unset(const lq_json_t *v)
{
    return !lq_json_is_set(v);
}

/* LQ_OK when v is absent, null or of type t. */
static lq_err_t optional(const lq_json_t *v, lq_json_type_t t)
{
    return unset(v) || lq_json_type(v) == t ? LQ_OK : LQ_EPROTO;
}

/* Copies a string member into a fact buffer; absent/null gives "". */
static lq_err_t fact_str(const lq_json_t *v, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (unset(v))
        return LQ_OK;
    lq_err_t e = lq_json_str_copy(v, dst, cap);
    return e == LQ_OK ? LQ_OK : LQ_EPROTO; /* wrong type, or longer than any real one */
}

/* ---- metadata ---------------------------------------------------------------------- */

static bool label_ours(const char *k)
{
    return lq_liqo_is_own_label(k, strlen(k)) || strcmp(k, LQ_FORGE_EPS_LABEL_MANAGED_BY) == 0;
}

static bool ann_ours(const char *k)
{
    return strcmp(k, LQ_FORGE_CONF_ANN_HOME_UID) == 0;
}

/* Home labels or annotations (an object of strings, or unset) into a new object *out,
 * without our own keys (label_ours, ann_ours); a repeated key keeps its first place and
 * its last value. `is_labels` also fills the facts read from labels, else those from
 * annotations. */
static lq_err_t copy_map(eps_t *x, const lq_json_t *src, bool is_labels, lq_json_t **out)
{
    lq_forge_conf_facts_t *b = &x->facts->base;
    lq_json_t *dst = lq_json_new_object(x->doc);
    if (!dst)
        return x->doc->last_err;
    *out = dst;
    if (unset(src))
        return LQ_OK;
    if (!is_obj(src))
        return LQ_EPROTO;
    for (const lq_json_t *m = lq_json_first(src); m; m = lq_json_next(m)) {
        const char *k = lq_json_key(m);
        lq_json_str_t v;
        if (lq_json_str(m, &v) != LQ_OK)
            return LQ_EPROTO; /* null included: a map of strings */
        if (is_labels) {
            if (strcmp(k, LQ_FORGE_EPS_LABEL_SERVICE) == 0 &&
                lq_json_str_copy(m, x->facts->service, sizeof x->facts->service) != LQ_OK)
                return LQ_EPROTO;
            if (strcmp(k, LQ_FORGE_EPS_LABEL_MANAGED_BY) == 0)
                x->facts->managed_by_us = strcmp(v.p, LQ_FORGE_EPS_MANAGED_BY) == 0;
        } else if (strcmp(k, LQ_FORGE_CONF_ANN_SKIP) == 0) {
            b->skip = true;
            b->skip_false = strcmp(v.p, "false") == 0;
        } else if (strcmp(k, LQ_FORGE_CONF_ANN_ALLOW) == 0) {
            b->allow = true;
            b->allow_false = strcmp(v.p, "false") == 0;
        }
        if (is_labels ? label_ours(k) : ann_ours(k))
            continue;
        lq_err_t e = lq_json_obj_set(x->doc, dst, k, lq_json_new_str(x->doc, v.p, v.len));
        if (e != LQ_OK)
            return e;
    }
    return LQ_OK;
}

static lq_err_t add_str(eps_t *x, lq_json_t *obj, const char *k, const char *v)
{
    return lq_json_obj_add(x->doc, obj, k, lq_json_new_cstr(x->doc, v));
}

static lq_err_t build_meta(eps_t *x, const lq_json_t *home, lq_json_t *body)
{
    const lq_forge_conf_params_t *bp = &x->p->base;
    const lq_json_t *meta = lq_json_get(home, "metadata");
    if (lq_json_is_set(meta) && !is_obj(meta))
        return LQ_EPROTO;
    lq_forge_conf_facts_t *b = &x->facts->base;
    lq_err_t e = fact_str(lq_json_get(meta, "uid"), b->uid, sizeof b->uid);
    if (e == LQ_OK)
        e = fact_str(lq_json_get(meta, "resourceVersion"), b->rv, sizeof b->rv);
    if (e != LQ_OK)
        return e;
    b->deleting = lq_json_deleting(home);

    lq_json_t *labels = NULL, *ann = NULL;
    e = copy_map(x, lq_json_get(meta, "labels"), true, &labels);
    if (e == LQ_OK)
        e = copy_map(x, lq_json_get(meta, "annotations"), false, &ann);
    if (e != LQ_OK)
        return e;
    x->facts->kubernetes_default =
        lq_json_str_is(lq_json_get(meta, "namespace"), "default") &&
        (lq_json_str_is(lq_json_get(meta, "name"), "kubernetes") ||
         strcmp(x->facts->service, "kubernetes") == 0);

    lq_json_t *m = lq_json_new_object(x->doc);
    if (!m)
        return x->doc->last_err;
    if ((e = add_str(x, m, "name", bp->remote_name)) != LQ_OK ||
        (e = add_str(x, m, "namespace", bp->remote_ns)) != LQ_OK ||
        (e = add_str(x, labels, LQ_FORGE_EPS_LABEL_MANAGED_BY, LQ_FORGE_EPS_MANAGED_BY)) != LQ_OK ||
        (e = add_str(x, labels, lq_liqo_names()->origin, bp->home_id)) != LQ_OK ||
        (e = add_str(x, labels, lq_liqo_names()->destination, bp->foreign_id)) != LQ_OK ||
        (e = lq_json_obj_add(x->doc, m, "labels", labels)) != LQ_OK ||
        (e = add_str(x, ann, LQ_FORGE_CONF_ANN_HOME_UID, bp->home_uid)) != LQ_OK ||
        (e = lq_json_obj_add(x->doc, m, "annotations", ann)) != LQ_OK)
        return e;
    return lq_json_obj_add(x->doc, body, "metadata", m);
}

/* ---- endpoints --------------------------------------------------------------------- */

/* Copies member k of src into dst when it is set (already checked). */
static lq_err_t copy_member(eps_t *x, lq_json_t *dst, const char *k, const lq_json_t *v)
{
    if (unset(v))
        return LQ_OK;
    return lq_json_obj_add(x->doc, dst, k, lq_json_copy(x->doc, v));
}

static lq_err_t check_endpoint(const lq_json_t *ep)
{
    if (!is_obj(ep))
        return LQ_EPROTO;
    const lq_json_t *addrs = lq_json_get(ep, "addresses");
    if (!is_arr(addrs))
        return LQ_EPROTO;
    for (const lq_json_t *a = lq_json_first(addrs); a; a = lq_json_next(a))
        if (lq_json_type(a) != LQ_JSON_STRING)
            return LQ_EPROTO;
    const lq_json_t *cond = lq_json_get(ep, "conditions");
    const lq_json_t *ref = lq_json_get(ep, "targetRef");
    if (optional(cond, LQ_JSON_OBJECT) != LQ_OK ||
        optional(lq_json_get(cond, "ready"), LQ_JSON_BOOL) != LQ_OK ||
        optional(lq_json_get(ep, "hostname"), LQ_JSON_STRING) != LQ_OK ||
        optional(lq_json_get(ep, "zone"), LQ_JSON_STRING) != LQ_OK ||
        optional(lq_json_get(ep, "nodeName"), LQ_JSON_STRING) != LQ_OK ||
        optional(lq_json_get(ep, "hints"), LQ_JSON_OBJECT) != LQ_OK ||
        optional(ref, LQ_JSON_OBJECT) != LQ_OK ||
        optional(lq_json_get(ref, "kind"), LQ_JSON_STRING) != LQ_OK)
        return LQ_EPROTO;
    return LQ_OK;
}

/* targetRef as it is, its kind prefixed with "Remote". */
static lq_err_t build_ref(eps_t *x, const lq_json_t *ref, lq_json_t *dst)
{
    if (unset(ref))
        return LQ_OK;
    lq_json_t *r = lq_json_copy(x->doc, ref);
    if (!r)
        return x->doc->last_err;
    lq_json_str_t kind;
    if (lq_json_str(lq_json_get(ref, "kind"), &kind) == LQ_OK) {
        static const char pre[] = LQ_FORGE_EPS_REMOTE_PREFIX;
        char buf[LQ_FORGE_EPS_KIND_MAX + sizeof pre];
        if (kind.len > LQ_FORGE_EPS_KIND_MAX)
            return LQ_EPROTO; /* no Kubernetes kind is that long */
        memcpy(buf, pre, sizeof pre - 1u);
        memcpy(buf + sizeof pre - 1u, kind.p, kind.len);
        lq_err_t e = lq_json_obj_set(x->doc, r, "kind",
                                     lq_json_new_str(x->doc, buf, sizeof pre - 1u + kind.len));
        if (e != LQ_OK)
            return e;
    }
    return lq_json_obj_add(x->doc, dst, "targetRef", r);
}

static lq_err_t build_endpoint(eps_t *x, const lq_json_t *ep, lq_json_t *arr)
{
    lq_json_t *o = lq_json_new_object(x->doc);
    if (!o)
        return x->doc->last_err;
    bool ready = !x->gate; /* gated: every endpoint not ready */
    (void)lq_json_bool(LQ_JSON_AT(ep, "conditions", "ready"), &ready); /* unset: ready */
    lq_json_t *cond = lq_json_new_object(x->doc);
    lq_err_t e;
    if ((e = copy_member(x, o, "addresses", lq_json_get(ep, "addresses"))) != LQ_OK ||
        (e = lq_json_obj_add(x->doc, cond, "ready",
                             lq_json_new_bool(x->doc, ready && x->p->home_ready && !x->gate))) != LQ_OK ||
        (e = lq_json_obj_add(x->doc, o, "conditions", cond)) != LQ_OK ||
        (e = copy_member(x, o, "hostname", lq_json_get(ep, "hostname"))) != LQ_OK ||
        (e = copy_member(x, o, "zone", lq_json_get(ep, "zone"))) != LQ_OK ||
        (e = copy_member(x, o, "hints", lq_json_get(ep, "hints"))) != LQ_OK ||
        (e = x->gate ? copy_member(x, o, "nodeName", lq_json_get(ep, "nodeName"))
                     : add_str(x, o, "nodeName", x->p->home_name)) != LQ_OK ||
        (e = x->gate ? copy_member(x, o, "targetRef", lq_json_get(ep, "targetRef"))
                     : build_ref(x, lq_json_get(ep, "targetRef"), o)) != LQ_OK)
        return e;
    return lq_json_arr_add(x->doc, arr, o);
}

static lq_err_t build_endpoints(eps_t *x, const lq_json_t *home, lq_json_t *body)
{
    const lq_json_t *eps = lq_json_get(home, "endpoints");
    if (optional(eps, LQ_JSON_ARRAY) != LQ_OK)
        return LQ_EPROTO;
    lq_json_t *arr = lq_json_new_array(x->doc);
    if (!arr)
        return x->doc->last_err;
    for (const lq_json_t *ep = lq_json_first(eps); ep; ep = lq_json_next(ep)) {
        lq_err_t e = check_endpoint(ep);
        if (e != LQ_OK)
            return e;
        x->facts->endpoints_in++;
        if (!x->gate && lq_json_str_is(lq_json_get(ep, "nodeName"), x->p->vnode_name))
            continue; /* runs remotely: the foreign cluster publishes it natively */
        if ((e = build_endpoint(x, ep, arr)) != LQ_OK)
            return e;
        x->facts->endpoints_out++;
    }
    return lq_json_obj_add(x->doc, body, "endpoints", arr);
}

static lq_err_t build_body(eps_t *x, const lq_json_t *home, lq_json_t **out)
{
    if (!is_obj(home))
        return LQ_EPROTO;
    const lq_json_t *at = lq_json_get(home, "addressType");
    const lq_json_t *ports = lq_json_get(home, "ports");
    if (lq_json_type(at) != LQ_JSON_STRING || optional(ports, LQ_JSON_ARRAY) != LQ_OK)
        return LQ_EPROTO;
    for (const lq_json_t *pt = lq_json_first(ports); pt; pt = lq_json_next(pt))
        if (!is_obj(pt))
            return LQ_EPROTO;
    lq_json_t *body = lq_json_new_object(x->doc);
    if (!body)
        return x->doc->last_err;
    lq_err_t e;
    if ((e = add_str(x, body, "apiVersion", "discovery.k8s.io/v1")) != LQ_OK ||
        (e = add_str(x, body, "kind", "EndpointSlice")) != LQ_OK ||
        (e = build_meta(x, home, body)) != LQ_OK ||
        (e = copy_member(x, body, "addressType", at)) != LQ_OK ||
        (e = build_endpoints(x, home, body)) != LQ_OK ||
        (e = copy_member(x, body, "ports", ports)) != LQ_OK)
        return e;
    *out = body;
    return LQ_OK;
}

/* ---- public ------------------------------------------------------------------------ */

static bool params_ok(const lq_forge_eps_params_t *p)
{
    const lq_forge_conf_params_t *b = &p->base;
    return nonempty(b->remote_name) && nonempty(b->remote_ns) && nonempty(b->home_id) &&
           nonempty(b->foreign_id) && nonempty(b->home_uid) && nonempty(p->vnode_name) &&
           nonempty(p->home_name);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV_PRIME;
    }
    return h;
}

static lq_err_t print(const lq_json_t *body, char *out, size_t cap, size_t *len)
{
    if (cap == 0)
        return LQ_ETOOBIG;
    lq_err_t e = lq_json_print(body, out, cap, len);
    return e == LQ_OK ? LQ_OK : LQ_ETOOBIG; /* body and out are never NULL here */
}

static lq_err_t forge(lq_json_doc_t *doc, const lq_forge_eps_params_t *p, bool gate,
                      const char *in, size_t n, char *out, size_t cap, size_t *len,
                      lq_forge_eps_facts_t *facts, uint64_t *hash)
{
    lq_forge_eps_facts_t scratch;
    if (!facts)
        facts = &scratch;
    memset(facts, 0, sizeof *facts);
    if (!doc || !p || !len || (!in && n > 0) || (!out && cap > 0) || !params_ok(p))
        return LQ_EINVAL;
    lq_json_reset(doc);
    lq_json_t *home = NULL, *body = NULL;
    lq_err_t e = lq_json_parse(doc, in ? in : "", n, &home);
    if (e != LQ_OK)
        return e == LQ_ETOOBIG ? LQ_ETOOBIG : LQ_EPROTO;
    eps_t x = {doc, p, facts, gate};
    if ((e = build_body(&x, home, &body)) != LQ_OK)
        return e;
    size_t l = 0;
    if ((e = print(body, out, cap, &l)) != LQ_OK)
        return e;
    uint64_t h = fnv(out, l);
    const char *ruid = p->base.remote_uid;
    if (nonempty(ruid)) {
        lq_json_t *meta = lq_json_get(body, "metadata");
        if ((e = add_str(&x, meta, "uid", ruid)) != LQ_OK ||
            (e = print(body, out, cap, &l)) != LQ_OK)
            return e;
    }
    *len = l;
    if (hash)
        *hash = h;
    return LQ_OK;
}

lq_err_t lq_forge_eps_build(lq_json_doc_t *doc, const lq_forge_eps_params_t *p, const char *in,
                            size_t n, char *out, size_t cap, size_t *len,
                            lq_forge_eps_facts_t *facts, uint64_t *hash)
{
    return forge(doc, p, false, in, n, out, cap, len, facts, hash);
}

lq_err_t lq_forge_eps_gate(lq_json_doc_t *doc, const lq_forge_eps_params_t *p, const char *in,
                           size_t n, char *out, size_t cap, size_t *len, uint64_t *hash)
{
    return forge(doc, p, true, in, n, out, cap, len, NULL, hash);
}

bool lq_forge_eps_wanted(const lq_forge_eps_facts_t *slice, const lq_forge_conf_facts_t *service,
                         lq_forge_conf_policy_t pol)
{
    if (!slice || slice->kubernetes_default || slice->managed_by_us)
        return false;
    const lq_forge_conf_facts_t *own = &slice->base;
    switch (pol) {
    case LQ_FORGE_CONF_DENYLIST:
        if (own->skip || !service)
            return lq_forge_conf_wanted(own, pol);
        return lq_forge_conf_wanted(service, pol);
    case LQ_FORGE_CONF_ALLOWLIST:
        if (own->allow || !service)
            return lq_forge_conf_wanted(own, pol);
        return lq_forge_conf_wanted(service, pol);
    default:
        return false;
    }
}
