/* liqolet: the Service and Ingress forges (pure; see include/liqolet/forge_svc.h).
 * C standard headers and liqolet headers only.
 *
 * The home object is parsed into the caller's document; the body is built there, member
 * by member, from tables that say which fields are copied and what type each must have
 * (one generic walker serves the Service spec and the nested Ingress structures), then
 * printed once. The uid precondition is printed in place and skipped by the hash. */
#include "liqolet/forge_svc.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/liqo.h"

#define TRY(expr)                                                                      \
    do {                                                                               \
        lq_err_t e_ = (expr);                                                          \
        if (e_ != LQ_OK)                                                               \
            return e_;                                                                 \
    } while (0)

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

/* ---- field tables ------------------------------------------------------------------ */

typedef enum {
    F_STR,       /* a string */
    F_BOOL,      /* a boolean */
    F_PORT,      /* an integer in 0..65535 */
    F_INTORSTR,  /* F_PORT or a string (targetPort) */
    F_STRMAP,    /* an object of strings */
    F_STRARR,    /* an array of strings */
    F_OBJ,       /* an object, copied by its sub-table */
    F_OBJARR,    /* an array of objects, each copied by the sub-table */
    F_CLUSTERIP, /* a string, copied only when it is "None" */
    F_NODEPORT,  /* a port's nodePort (§1.4): absent -> 0; copied only when forced */
} ftype_t;

typedef struct field {
    const char *name;
    ftype_t type;
    const struct field *sub; /* F_OBJ, F_OBJARR */
} field_t;

#define END {NULL, F_STR, NULL}

/* networking.k8s.io/v1 (§1.5) */
static const field_t BACKEND_PORT[] = {{"name", F_STR, NULL}, {"number", F_PORT, NULL}, END};
static const field_t BACKEND_SVC[] = {{"name", F_STR, NULL}, {"port", F_OBJ, BACKEND_PORT}, END};
static const field_t BACKEND_RES[] = {
    {"apiGroup", F_STR, NULL}, {"kind", F_STR, NULL}, {"name", F_STR, NULL}, END};
static const field_t BACKEND[] = {
    {"service", F_OBJ, BACKEND_SVC}, {"resource", F_OBJ, BACKEND_RES}, END};
static const field_t PATH[] = {
    {"path", F_STR, NULL}, {"pathType", F_STR, NULL}, {"backend", F_OBJ, BACKEND}, END};
static const field_t HTTP[] = {{"paths", F_OBJARR, PATH}, END};
static const field_t RULE[] = {{"host", F_STR, NULL}, {"http", F_OBJ, HTTP}, END};
static const field_t TLS[] = {{"hosts", F_STRARR, NULL}, {"secretName", F_STR, NULL}, END};
static const field_t INGRESS_SPEC[] = {
    {"defaultBackend", F_OBJ, BACKEND}, {"rules", F_OBJARR, RULE}, {"tls", F_OBJARR, TLS}, END};

/* v1 Service (§1.4) */
static const field_t SVC_PORT[] = {
    {"name", F_STR, NULL}, {"protocol", F_STR, NULL}, {"appProtocol", F_STR, NULL},
    {"port", F_PORT, NULL}, {"targetPort", F_INTORSTR, NULL}, {"nodePort", F_NODEPORT, NULL},
    END};
static const field_t SVC_SPEC[] = {
    {"type", F_STR, NULL},
    {"clusterIP", F_CLUSTERIP, NULL},
    {"selector", F_STRMAP, NULL},
    {"ports", F_OBJARR, SVC_PORT},
    {"externalName", F_STR, NULL},
    {"sessionAffinity", F_STR, NULL},
    {"externalTrafficPolicy", F_STR, NULL},
    {"internalTrafficPolicy", F_STR, NULL},
    {"ipFamilyPolicy", F_STR, NULL},
    {"allocateLoadBalancerNodePorts", F_BOOL, NULL},
    {"loadBalancerClass", F_STR, NULL},
    {"loadBalancerSourceRanges", F_STRARR, NULL},
    {"publishNotReadyAddresses", F_BOOL, NULL},
    END};

/* What one kind is. */
typedef struct kind {
    const char *api_version, *kind;
    const field_t *spec;
    const char *drop_ann; /* an annotation not copied (beside ours), or NULL */
} kind_t;

static const kind_t SERVICE = {"v1", "Service", SVC_SPEC, NULL};
static const kind_t INGRESS = {"networking.k8s.io/v1", "Ingress", INGRESS_SPEC,
                               LQ_FORGE_SVC_ANN_INGRESS_CLASS};

/* The state of one build. */
typedef struct build {
    lq_json_doc_t *doc;
    bool force_node_port; /* annotation liqo.io/force-remote-node-port is exactly "true" */
} build_t;

/* ---- small helpers --------------------------------------------------------------- */

static bool nonempty(const char *s)
{
    return s && s[0];
}

static bool key_is(const lq_json_t *member, const char *key)
{
    const char *k = lq_json_key(member);
    return k && strcmp(k, key) == 0;
}

/* A new empty container added to parent (under key, or appended when key is NULL): a
 * constructor's NULL makes the add return its reason, so one check covers both. */
static lq_err_t attach(lq_json_doc_t *doc, lq_json_t *parent, const char *key, lq_json_t *item,
                       lq_json_t **out)
{
    *out = item;
    return key ? lq_json_obj_add(doc, parent, key, item) : lq_json_arr_add(doc, parent, item);
}

static lq_err_t put_cstr(lq_json_doc_t *doc, lq_json_t *obj, const char *key, const char *v)
{
    return lq_json_obj_add(doc, obj, key, lq_json_new_cstr(doc, v));
}

static bool is_port(const lq_json_t *it, int64_t *v)
{
    return lq_json_int(it, v) == LQ_OK && *v >= 0 && *v <= 65535;
}

/* Every child of a container has type t. */
static bool all_of(const lq_json_t *c, lq_json_type_t t)
{
    for (const lq_json_t *e = lq_json_first(c); e; e = lq_json_next(e))
        if (lq_json_type(e) != t)
            return false;
    return true;
}

/* ---- the spec walker --------------------------------------------------------------- */

static lq_err_t copy_fields(const build_t *b, lq_json_t *dst, const lq_json_t *src,
                            const field_t *fields);

/* src (an object) copied by the table into a new object added to dst (an object under key,
 * or an array when key is NULL). */
static lq_err_t copy_obj(const build_t *b, lq_json_t *dst, const char *key, const lq_json_t *src,
                         const field_t *fields)
{
    if (lq_json_type(src) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    lq_json_t *o;
    TRY(attach(b->doc, dst, key, lq_json_new_object(b->doc), &o));
    return copy_fields(b, o, src, fields);
}

static lq_err_t copy_objarr(const build_t *b, lq_json_t *dst, const char *key,
                            const lq_json_t *src, const field_t *fields)
{
    if (lq_json_type(src) != LQ_JSON_ARRAY)
        return LQ_EPROTO;
    lq_json_t *arr;
    TRY(attach(b->doc, dst, key, lq_json_new_array(b->doc), &arr));
    for (const lq_json_t *e = lq_json_first(src); e; e = lq_json_next(e))
        TRY(copy_obj(b, arr, NULL, e, fields));
    return LQ_OK;
}

/* §1.4: no home nodePort -> 0 (explicitly); a home nodePort only when forced. */
static lq_err_t node_port(const build_t *b, lq_json_t *dst, const lq_json_t *it)
{
    int64_t v = 0;
    if (lq_json_is_set(it) && !is_port(it, &v))
        return LQ_EPROTO;
    if (v != 0 && !b->force_node_port)
        return LQ_OK;
    return lq_json_obj_add(b->doc, dst, "nodePort", lq_json_new_int(b->doc, v));
}

/* One field f of src into dst. */
static lq_err_t copy_field(const build_t *b, lq_json_t *dst, const lq_json_t *src, const field_t *f)
{
    lq_json_t *it = lq_json_get(src, f->name);
    if (f->type == F_NODEPORT)
        return node_port(b, dst, it);
    if (!lq_json_is_set(it))
        return LQ_OK;
    lq_json_type_t t = lq_json_type(it);
    int64_t v;
    switch (f->type) {
    case F_STR:
        if (t != LQ_JSON_STRING)
            return LQ_EPROTO;
        break;
    case F_BOOL:
        if (t != LQ_JSON_BOOL)
            return LQ_EPROTO;
        break;
    case F_PORT:
    case F_INTORSTR:
        if (f->type == F_INTORSTR && t == LQ_JSON_STRING)
            break;
        if (!is_port(it, &v))
            return LQ_EPROTO;
        return lq_json_obj_add(b->doc, dst, f->name, lq_json_new_int(b->doc, v));
    case F_STRMAP:
    case F_STRARR:
        if (t != (f->type == F_STRMAP ? LQ_JSON_OBJECT : LQ_JSON_ARRAY) || !all_of(it, LQ_JSON_STRING))
            return LQ_EPROTO;
        break;
    case F_OBJ:
        return copy_obj(b, dst, f->name, it, f->sub);
    case F_OBJARR:
        return copy_objarr(b, dst, f->name, it, f->sub);
    case F_CLUSTERIP:
        if (t != LQ_JSON_STRING)
            return LQ_EPROTO;
        if (!lq_json_str_is(it, "None"))
            return LQ_OK;
        break;
    default:
        return LQ_EINVAL;
    }
    return lq_json_obj_add(b->doc, dst, f->name, lq_json_copy(b->doc, it));
}

static lq_err_t copy_fields(const build_t *b, lq_json_t *dst, const lq_json_t *src,
                            const field_t *fields)
{
    for (const field_t *f = fields; f->name; f++)
        TRY(copy_field(b, dst, src, f));
    return LQ_OK;
}

/* ---- metadata ------------------------------------------------------------------------ */

/* An optional member of type t (NULL when absent or null). */
static lq_err_t member(const lq_json_t *obj, const char *key, lq_json_type_t t, const lq_json_t **out)
{
    const lq_json_t *it = lq_json_get(obj, key);
    *out = lq_json_is_set(it) ? it : NULL;
    return *out && lq_json_type(it) != t ? LQ_EPROTO : LQ_OK;
}

/* An optional string fact into dst[0..cap): "" when absent; LQ_EPROTO not a string or too
 * long. */
static lq_err_t fact(const lq_json_t *meta, const char *key, char *dst, size_t cap)
{
    lq_err_t e = lq_json_str_copy(lq_json_get(meta, key), dst, cap);
    if (e == LQ_ENOTFOUND) {
        dst[0] = '\0';
        return LQ_OK;
    }
    return e == LQ_OK ? LQ_OK : LQ_EPROTO;
}

/* The remote labels: the home ones without the ownership labels (of either family), then
 * those of the family in use. */
static lq_err_t labels(const build_t *b, const lq_forge_conf_params_t *p, const lq_json_t *home,
                       lq_json_t *meta)
{
    lq_json_t *out;
    TRY(attach(b->doc, meta, "labels", lq_json_new_object(b->doc), &out));
    for (const lq_json_t *l = lq_json_first(home); l; l = lq_json_next(l)) {
        if (lq_json_type(l) != LQ_JSON_STRING)
            return LQ_EPROTO;
        const char *k = lq_json_key(l);
        if (k && lq_liqo_is_own_label(k, strlen(k)))
            continue;
        TRY(lq_json_obj_add(b->doc, out, lq_json_key(l), lq_json_copy(b->doc, l)));
    }
    TRY(put_cstr(b->doc, out, lq_liqo_names()->origin, p->home_id));
    return put_cstr(b->doc, out, lq_liqo_names()->destination, p->foreign_id);
}

/* The remote annotations: the home ones without ours (and the kind's dropped one), then the
 * home uid. Reads the facts of the annotations and the force-node-port switch. */
static lq_err_t annotations(build_t *b, const kind_t *k, const lq_forge_conf_params_t *p,
                            const lq_json_t *home, lq_json_t *meta, lq_forge_conf_facts_t *f)
{
    lq_json_t *out;
    TRY(attach(b->doc, meta, "annotations", lq_json_new_object(b->doc), &out));
    for (const lq_json_t *a = lq_json_first(home); a; a = lq_json_next(a)) {
        if (lq_json_type(a) != LQ_JSON_STRING)
            return LQ_EPROTO;
        bool is_false = lq_json_str_is(a, "false");
        if (key_is(a, LQ_FORGE_CONF_ANN_SKIP)) {
            f->skip = true;
            f->skip_false = is_false;
        } else if (key_is(a, LQ_FORGE_CONF_ANN_ALLOW)) {
            f->allow = true;
            f->allow_false = is_false;
        } else if (key_is(a, LQ_FORGE_SVC_ANN_FORCE_NODE_PORT)) {
            b->force_node_port = lq_json_str_is(a, "true");
        }
        if (key_is(a, LQ_FORGE_CONF_ANN_HOME_UID) || (k->drop_ann && key_is(a, k->drop_ann)))
            continue;
        TRY(lq_json_obj_add(b->doc, out, lq_json_key(a), lq_json_copy(b->doc, a)));
    }
    return put_cstr(b->doc, out, LQ_FORGE_CONF_ANN_HOME_UID, p->home_uid);
}

static lq_err_t metadata(build_t *b, const kind_t *k, const lq_forge_conf_params_t *p,
                         const lq_json_t *home, lq_json_t *root, lq_forge_conf_facts_t *f)
{
    const lq_json_t *hm, *hl, *ha;
    TRY(member(home, "metadata", LQ_JSON_OBJECT, &hm));
    TRY(member(hm, "labels", LQ_JSON_OBJECT, &hl));
    TRY(member(hm, "annotations", LQ_JSON_OBJECT, &ha));
    TRY(fact(hm, "uid", f->uid, sizeof f->uid));
    TRY(fact(hm, "resourceVersion", f->rv, sizeof f->rv));
    f->deleting = lq_json_is_set(lq_json_get(hm, "deletionTimestamp"));

    lq_json_t *meta;
    TRY(attach(b->doc, root, "metadata", lq_json_new_object(b->doc), &meta));
    TRY(put_cstr(b->doc, meta, "name", p->remote_name));
    TRY(put_cstr(b->doc, meta, "namespace", p->remote_ns));
    if (nonempty(p->remote_uid))
        TRY(put_cstr(b->doc, meta, "uid", p->remote_uid));
    TRY(labels(b, p, hl, meta));
    return annotations(b, k, p, ha, meta, f);
}

/* ---- the body ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* FNV-1a of body[0..n) without the member ,"uid":"..." when there is one. Its first
 * occurrence is ours: it follows metadata's name and namespace, and inside a printed JSON
 * string every quote is escaped, so the bytes ,"uid":" cannot occur there. */
static uint64_t body_hash(const char *body, size_t n, bool has_uid)
{
    static const char seg[] = ",\"uid\":\"";
    const size_t sl = sizeof seg - 1u;
    if (has_uid) {
        for (size_t i = 0; i + sl <= n; i++) {
            if (memcmp(body + i, seg, sl) != 0)
                continue;
            size_t j = i + sl;
            while (j < n && body[j] != '"')
                j += body[j] == '\\' ? 2u : 1u;
            if (j >= n)
                break;
            return fnv(fnv(FNV_OFFSET, body, i), body + j + 1u, n - j - 1u);
        }
    }
    return fnv(FNV_OFFSET, body, n);
}

static bool params_ok(const lq_forge_conf_params_t *p)
{
    return nonempty(p->remote_name) && nonempty(p->remote_ns) && nonempty(p->home_id) &&
           nonempty(p->foreign_id) && nonempty(p->home_uid) &&
           (!p->remote_uid || strlen(p->remote_uid) < LQ_FORGE_CONF_UID_BUF);
}

static lq_err_t build(const kind_t *k, lq_json_doc_t *doc, const lq_forge_conf_params_t *p,
                      const char *in, size_t n, char *out, size_t cap, size_t *len,
                      lq_forge_conf_facts_t *facts, uint64_t *hash)
{
    if (!doc || !p || !len || (!out && cap > 0) || (!in && n > 0) || !params_ok(p))
        return LQ_EINVAL;
    if (out && cap > 0)
        out[0] = '\0';
    lq_json_reset(doc);
    if (n == 0)
        return LQ_EPROTO;
    lq_json_t *home = NULL;
    lq_err_t e = lq_json_parse(doc, in, n, &home);
    if (e == LQ_ENOTSUP)
        return LQ_EPROTO;
    TRY(e);
    if (lq_json_type(home) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    const lq_json_t *kind = lq_json_get(home, "kind");
    if (lq_json_is_set(kind) && !lq_json_str_is(kind, k->kind))
        return LQ_EPROTO;

    build_t b = {doc, false};
    lq_forge_conf_facts_t f;
    memset(&f, 0, sizeof f);
    lq_json_t *root = lq_json_new_object(doc), *spec;
    if (!root)
        return doc->last_err != LQ_OK ? doc->last_err : LQ_ETOOBIG;
    TRY(put_cstr(doc, root, "apiVersion", k->api_version));
    TRY(put_cstr(doc, root, "kind", k->kind));
    TRY(metadata(&b, k, p, home, root, &f));
    const lq_json_t *hs;
    TRY(member(home, "spec", LQ_JSON_OBJECT, &hs));
    TRY(attach(doc, root, "spec", lq_json_new_object(doc), &spec));
    TRY(copy_fields(&b, spec, hs, k->spec));

    if (cap == 0)
        return LQ_ETOOBIG;
    size_t l = 0;
    TRY(lq_json_print(root, out, cap, &l));
    if (l + 2u > cap) { /* the documented need, whatever cJSON's slack does */
        out[0] = '\0';
        return LQ_ETOOBIG;
    }
    *len = l;
    if (facts)
        *facts = f;
    if (hash)
        *hash = body_hash(out, l, nonempty(p->remote_uid));
    return LQ_OK;
}

lq_err_t lq_forge_svc_build(lq_json_doc_t *doc, const lq_forge_conf_params_t *p, const char *in,
                            size_t n, char *out, size_t cap, size_t *len,
                            lq_forge_conf_facts_t *facts, uint64_t *hash)
{
    return build(&SERVICE, doc, p, in, n, out, cap, len, facts, hash);
}

lq_err_t lq_forge_ingress_build(lq_json_doc_t *doc, const lq_forge_conf_params_t *p,
                                const char *in, size_t n, char *out, size_t cap, size_t *len,
                                lq_forge_conf_facts_t *facts, uint64_t *hash)
{
    return build(&INGRESS, doc, p, in, n, out, cap, len, facts, hash);
}

bool lq_forge_svc_reflected(const char *ns, const char *name)
{
    if (!ns || !name)
        return false;
    return !(strcmp(ns, "default") == 0 && strcmp(name, LQ_FORGE_SVC_KUBERNETES) == 0);
}
