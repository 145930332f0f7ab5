/* liqolet: namespace offloading rules (pure; see include/liqolet/forge_offload.h). */
#include "liqolet/forge_offload.h"
#include "liqolet/names.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------ */

static bool view_eq(const lq_json_str_t *v, const char *s)
{
    size_t n = strlen(s);
    return v->p && v->len == n && memcmp(v->p, s, n) == 0;
}

/* A string member: LQ_OK, LQ_ENOTFOUND (absent/null) or LQ_EPROTO (other type). */
static lq_err_t member_str(const lq_json_t *obj, const char *key, lq_json_str_t *out)
{
    out->p = NULL;
    out->len = 0;
    return lq_json_str(lq_json_get(obj, key), out);
}

/* Optional container member: absent/null is fine (NULL), another type is EPROTO. */
static lq_err_t member_of(const lq_json_t *obj, const char *key, lq_json_type_t want,
                          const lq_json_t **out)
{
    const lq_json_t *it = lq_json_get(obj, key);
    lq_json_type_t t = lq_json_type(it);
    *out = NULL;
    if (t == LQ_JSON_ABSENT || t == LQ_JSON_NULL)
        return LQ_OK;
    if (t != want)
        return LQ_EPROTO;
    *out = it;
    return LQ_OK;
}

/* The error that made a constructor return NULL. */
static lq_err_t built(const lq_json_doc_t *doc, const lq_json_t *item)
{
    if (item)
        return LQ_OK;
    return doc->last_err != LQ_OK ? doc->last_err : LQ_ETOOBIG;
}

static lq_err_t add_cstr(lq_json_doc_t *doc, lq_json_t *obj, const char *key, const char *v)
{
    return lq_json_obj_add(doc, obj, key, lq_json_new_cstr(doc, v));
}

/* ---- spec ---------------------------------------------------------------------------- */

lq_err_t lq_forge_offload_spec_parse(const lq_json_t *nsof, lq_forge_offload_spec_t *out)
{
    if (!nsof || !out)
        return LQ_EINVAL;
    memset(out, 0, sizeof *out);
    out->mapping = LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME;
    out->pods = LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE;

    const lq_json_t *spec;
    lq_err_t err = member_of(nsof, "spec", LQ_JSON_OBJECT, &spec);
    if (err != LQ_OK)
        return err;
    if (!spec)
        return LQ_OK;

    lq_json_str_t v;
    err = member_str(spec, "namespaceMappingStrategy", &v);
    if (err == LQ_OK) {
        if (view_eq(&v, "DefaultName"))
            out->mapping = LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME;
        else if (view_eq(&v, "EnforceSameName"))
            out->mapping = LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME;
        else if (view_eq(&v, "SelectedName"))
            out->mapping = LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME;
        else
            return LQ_EPROTO;
    } else if (err != LQ_ENOTFOUND) {
        return err;
    }

    err = member_str(spec, "podOffloadingStrategy", &v);
    if (err == LQ_OK) {
        if (view_eq(&v, "LocalAndRemote"))
            out->pods = LQ_FORGE_OFFLOAD_PODS_LOCAL_AND_REMOTE;
        else if (view_eq(&v, "Remote"))
            out->pods = LQ_FORGE_OFFLOAD_PODS_REMOTE;
        else if (view_eq(&v, "Local"))
            out->pods = LQ_FORGE_OFFLOAD_PODS_LOCAL;
        else
            return LQ_EPROTO;
    } else if (err != LQ_ENOTFOUND) {
        return err;
    }

    err = member_str(spec, "remoteNamespaceName", &out->remote_name);
    if (err != LQ_OK && err != LQ_ENOTFOUND)
        return err;

    return member_of(spec, "clusterSelector", LQ_JSON_OBJECT, &out->cluster_selector);
}

/* ---- names ----------------------------------------------------------------------------- */

void lq_forge_offload_hash_suffix(const unsigned char digest[32], char out[LQ_FORGE_OFFLOAD_SUFFIX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < LQ_FORGE_OFFLOAD_SUFFIX_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[LQ_FORGE_OFFLOAD_SUFFIX_LEN] = '\0';
}


bool lq_forge_offload_dns_label_valid(const char *s, size_t len)
{
    return s && lq_names_dns_label(s, len);
}

static bool suffix_valid(const char *s)
{
    for (size_t i = 0; i < LQ_FORGE_OFFLOAD_SUFFIX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[LQ_FORGE_OFFLOAD_SUFFIX_LEN] == '\0';
}

lq_err_t lq_forge_offload_remote_name(const lq_forge_offload_spec_t *spec, const char *local_ns,
                                const char *home_name, const char *suffix,
                                char *out, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!spec || !local_ns || !out || cap < LQ_FORGE_OFFLOAD_NAME_BUF)
        return LQ_EINVAL;
    out[0] = '\0';

    /* Up to three parts joined by '-'. */
    const char *part[3] = {NULL, NULL, NULL};
    size_t plen[3] = {0, 0, 0};
    switch (spec->mapping) {
    case LQ_FORGE_OFFLOAD_MAP_DEFAULT_NAME:
        if (!home_name || !suffix || !suffix_valid(suffix))
            return LQ_EINVAL;
        part[0] = local_ns, plen[0] = strlen(local_ns);
        part[1] = home_name, plen[1] = strlen(home_name);
        part[2] = suffix, plen[2] = LQ_FORGE_OFFLOAD_SUFFIX_LEN;
        break;
    case LQ_FORGE_OFFLOAD_MAP_ENFORCE_SAME_NAME:
        part[0] = local_ns, plen[0] = strlen(local_ns);
        break;
    case LQ_FORGE_OFFLOAD_MAP_SELECTED_NAME:
        if (!spec->remote_name.p || spec->remote_name.len == 0)
            return LQ_ENOTFOUND;
        part[0] = spec->remote_name.p, plen[0] = spec->remote_name.len;
        break;
    default:
        return LQ_EINVAL;
    }

    size_t total = 0;
    for (size_t i = 0; i < 3 && part[i]; i++)
        total += plen[i] + (i > 0);
    if (len)
        *len = total;
    if (total > LQ_FORGE_OFFLOAD_NAME_MAX)
        return LQ_ETOOBIG;

    size_t at = 0;
    for (size_t i = 0; i < 3 && part[i]; i++) {
        if (i > 0)
            out[at++] = '-';
        memcpy(out + at, part[i], plen[i]);
        at += plen[i];
    }
    out[at] = '\0';
    if (!lq_forge_offload_dns_label_valid(out, at)) {
        out[0] = '\0';
        return LQ_ECONFIG;
    }
    return LQ_OK;
}

/* ---- cluster selector -------------------------------------------------------------- */

static const char *label_get(const lq_forge_offload_label_t *labels, size_t n, const lq_json_str_t *key)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i].key && view_eq(key, labels[i].key))
            return labels[i].value ? labels[i].value : "";
    return NULL;
}

/* Go's strconv.ParseInt(s, 10, 64): optional sign, at least one digit, nothing else. */
static bool parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len)
        return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

/* Kubernetes label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue):
 * a name is 1..63 of [A-Za-z0-9._-], beginning and ending alphanumeric; a key is an
 * optional DNS-1123 subdomain prefix (<= 253) and '/', then a name; a value is empty or
 * a name. labels.NewRequirement rejects requirements that break these rules. */



static bool label_key_valid(const lq_json_str_t *k)
{
    return lq_names_qualified_name(k->p, k->len);
}

static bool label_value_valid(const lq_json_str_t *v)
{
    return v->len == 0 || lq_names_label_name(v->p, v->len);
}

enum { REQ_NO = 0, REQ_YES = 1, REQ_INVALID = 2 };

typedef enum { OP_IN, OP_NOT_IN, OP_EXISTS, OP_NOT_EXISTS, OP_GT, OP_LT, OP_UNKNOWN } sel_op_t;

static sel_op_t op_of(const lq_json_str_t *v)
{
    if (view_eq(v, "In"))
        return OP_IN;
    if (view_eq(v, "NotIn"))
        return OP_NOT_IN;
    if (view_eq(v, "Exists"))
        return OP_EXISTS;
    if (view_eq(v, "DoesNotExist"))
        return OP_NOT_EXISTS;
    if (view_eq(v, "Gt"))
        return OP_GT;
    if (view_eq(v, "Lt"))
        return OP_LT;
    return OP_UNKNOWN;
}

/* One requirement; *res is REQ_NO, REQ_YES or REQ_INVALID. */
static lq_err_t req_eval(const lq_json_t *req, bool field, const lq_forge_offload_label_t *labels,
                         size_t n, const char *node_name, int *res)
{
    if (lq_json_type(req) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    lq_json_str_t key, opv;
    lq_err_t err = member_str(req, "key", &key);
    if (err != LQ_OK)
        return LQ_EPROTO;
    err = member_str(req, "operator", &opv);
    if (err != LQ_OK)
        return LQ_EPROTO;
    const lq_json_t *values;
    err = member_of(req, "values", LQ_JSON_ARRAY, &values);
    if (err != LQ_OK)
        return err;
    size_t nv = lq_json_size(values);
    for (const lq_json_t *it = lq_json_first(values); it; it = lq_json_next(it))
        if (lq_json_type(it) != LQ_JSON_STRING)
            return LQ_EPROTO;

    sel_op_t op = op_of(&opv);
    const char *have;
    if (field) {
        /* Kubernetes: only metadata.name, In/NotIn, exactly one value. */
        if (!view_eq(&key, "metadata.name") || (op != OP_IN && op != OP_NOT_IN) || nv != 1) {
            *res = REQ_INVALID;
            return LQ_OK;
        }
        have = node_name;
    } else {
        bool ok = label_key_valid(&key);
        lq_json_str_t v;
        for (const lq_json_t *it = lq_json_first(values); it && ok; it = lq_json_next(it))
            ok = lq_json_str(it, &v) == LQ_OK && label_value_valid(&v);
        if (!ok) {
            *res = REQ_INVALID;
            return LQ_OK;
        }
        have = label_get(labels, n, &key);
    }

    lq_json_str_t v;
    switch (op) {
    case OP_IN:
    case OP_NOT_IN: {
        if (nv == 0) {
            *res = REQ_INVALID;
            return LQ_OK;
        }
        bool found = false;
        for (const lq_json_t *it = lq_json_first(values); it && have; it = lq_json_next(it)) {
            (void)lq_json_str(it, &v);
            if (view_eq(&v, have))
                found = true;
        }
        *res = (op == OP_IN) == found ? REQ_YES : REQ_NO;
        return LQ_OK;
    }
    case OP_EXISTS:
    case OP_NOT_EXISTS:
        if (nv != 0)
            *res = REQ_INVALID;
        else
            *res = (op == OP_EXISTS) == (have != NULL) ? REQ_YES : REQ_NO;
        return LQ_OK;
    case OP_GT:
    case OP_LT: {
        int64_t want, got;
        if (nv != 1 || lq_json_str(lq_json_first(values), &v) != LQ_OK ||
            !parse_i64(v.p, v.len, &want)) {
            *res = REQ_INVALID;
            return LQ_OK;
        }
        if (!have || !parse_i64(have, strlen(have), &got))
            *res = REQ_NO;
        else
            *res = (op == OP_GT ? got > want : got < want) ? REQ_YES : REQ_NO;
        return LQ_OK;
    }
    default:
        *res = REQ_INVALID;
        return LQ_OK;
    }
}

lq_err_t lq_forge_offload_selector_match(const lq_json_t *selector, const lq_forge_offload_label_t *labels,
                                   size_t n, const char *node_name, bool *selected,
                                   size_t *invalid)
{
    if (invalid)
        *invalid = 0;
    if (!selected || (!labels && n > 0))
        return LQ_EINVAL;
    *selected = false;
    lq_json_type_t st = lq_json_type(selector);
    if (st == LQ_JSON_ABSENT || st == LQ_JSON_NULL) {
        *selected = true;
        return LQ_OK;
    }
    if (st != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    const lq_json_t *terms;
    lq_err_t err = member_of(selector, "nodeSelectorTerms", LQ_JSON_ARRAY, &terms);
    if (err != LQ_OK)
        return err;
    if (lq_json_size(terms) == 0) {
        *selected = true; /* Liqo: an empty selector selects every cluster */
        return LQ_OK;
    }

    bool any = false;
    for (const lq_json_t *term = lq_json_first(terms); term; term = lq_json_next(term)) {
        if (lq_json_type(term) != LQ_JSON_OBJECT)
            return LQ_EPROTO;
        const lq_json_t *lists[2];
        if ((err = member_of(term, "matchExpressions", LQ_JSON_ARRAY, &lists[0])) != LQ_OK ||
            (err = member_of(term, "matchFields", LQ_JSON_ARRAY, &lists[1])) != LQ_OK)
            return err;
        if (lq_json_size(lists[0]) == 0 && lq_json_size(lists[1]) == 0)
            continue; /* an empty term matches nothing */
        bool match = true, bad = false;
        for (int f = 0; f < 2; f++) {
            for (const lq_json_t *r = lq_json_first(lists[f]); r; r = lq_json_next(r)) {
                int res;
                if ((err = req_eval(r, f == 1, labels, n, node_name, &res)) != LQ_OK)
                    return err;
                if (res == REQ_INVALID)
                    bad = true;
                else if (res == REQ_NO)
                    match = false;
            }
        }
        if (bad) {
            if (invalid)
                (*invalid)++;
        } else if (match) {
            any = true; /* keep going: shape errors and invalid terms are still counted */
        }
    }
    *selected = any;
    return LQ_OK;
}

/* ---- remote namespace ---------------------------------------------------------------- */

lq_err_t lq_forge_offload_remote_ns_build(lq_json_doc_t *doc, const char *remote_name,
                                    const char *local_ns, const char *home_id,
                                    const char *foreign_id, lq_forge_offload_psa_t psa,
                                    lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !remote_name || !local_ns || !home_id || !foreign_id || !out)
        return LQ_EINVAL;
    lq_json_t *ns = lq_json_new_object(doc);
    lq_json_t *meta = lq_json_new_object(doc);
    lq_json_t *labels = lq_json_new_object(doc);
    lq_json_t *ann = lq_json_new_object(doc);
    lq_err_t err;
    if ((err = built(doc, ns)) != LQ_OK || (err = built(doc, meta)) != LQ_OK ||
        (err = built(doc, labels)) != LQ_OK || (err = built(doc, ann)) != LQ_OK)
        return err;

    /* "liqolet/" + home id */
    char mbv[LQ_FORGE_OFFLOAD_MANAGED_BY_MAX + 1];
    size_t pl = strlen(LQ_FORGE_OFFLOAD_MANAGED_BY_PREFIX), hl = strlen(home_id);
    if (pl + hl > LQ_FORGE_OFFLOAD_MANAGED_BY_MAX)
        return LQ_ETOOBIG;
    memcpy(mbv, LQ_FORGE_OFFLOAD_MANAGED_BY_PREFIX, pl);
    memcpy(mbv + pl, home_id, hl);
    lq_json_t *mb = lq_json_new_str(doc, mbv, pl + hl);

    if ((err = add_cstr(doc, ns, "apiVersion", "v1")) != LQ_OK ||
        (err = add_cstr(doc, ns, "kind", "Namespace")) != LQ_OK ||
        (err = add_cstr(doc, meta, "name", remote_name)) != LQ_OK ||
        (err = add_cstr(doc, labels, LQ_LIQO_LABEL_REMOTE_CLUSTER_ID, home_id)) != LQ_OK ||
        (err = add_cstr(doc, labels, lq_liqo_names()->origin, home_id)) != LQ_OK ||
        (err = add_cstr(doc, labels, lq_liqo_names()->destination, foreign_id)) != LQ_OK ||
        (psa != LQ_FORGE_OFFLOAD_PSA_NONE &&
         (err = add_cstr(doc, labels, LQ_FORGE_OFFLOAD_PSA_LABEL,
                         lq_forge_offload_psa_str(psa) ? lq_forge_offload_psa_str(psa)
                                                       : "restricted")) != LQ_OK) ||
        (err = lq_json_obj_add(doc, ann, LQ_LIQO_ANN_MANAGED_BY, mb)) != LQ_OK ||
        (err = add_cstr(doc, ann, LQ_LIQO_ANN_ORIGINAL_NAME, local_ns)) != LQ_OK ||
        (err = lq_json_obj_add(doc, meta, "labels", labels)) != LQ_OK ||
        (err = lq_json_obj_add(doc, meta, "annotations", ann)) != LQ_OK ||
        (err = lq_json_obj_add(doc, ns, "metadata", meta)) != LQ_OK)
        return err;
    *out = ns;
    return LQ_OK;
}

static bool meta_is(const lq_json_t *ns, const char *map, const char *key, const char *want)
{
    lq_json_str_t v;
    return lq_json_str(LQ_JSON_AT(ns, "metadata", map, key), &v) == LQ_OK && view_eq(&v, want);
}

bool lq_forge_offload_remote_ns_owned(const lq_json_t *ns, const char *home_id, const char *foreign_id,
                                const char *local_ns)
{
    if (!ns || !home_id || !foreign_id)
        return false;
    if (!meta_is(ns, "labels", lq_liqo_names()->origin, home_id) ||
        !meta_is(ns, "labels", lq_liqo_names()->destination, foreign_id))
        return false;
    return !local_ns || meta_is(ns, "annotations", LQ_LIQO_ANN_ORIGINAL_NAME, local_ns);
}

/* ---- Pod Security of remote namespaces ---------------------------------------------- */

static const char *const psa_names[] = { NULL, "privileged", "baseline", "restricted" };

lq_forge_offload_psa_t lq_forge_offload_psa_parse(const char *value, size_t len)
{
    for (unsigned i = LQ_FORGE_OFFLOAD_PSA_PRIVILEGED; value && i <= LQ_FORGE_OFFLOAD_PSA_RESTRICTED; i++)
        if (strlen(psa_names[i]) == len && memcmp(psa_names[i], value, len) == 0)
            return (lq_forge_offload_psa_t)i;
    return LQ_FORGE_OFFLOAD_PSA_NONE;
}

const char *lq_forge_offload_psa_str(lq_forge_offload_psa_t level)
{
    return (unsigned)level <= LQ_FORGE_OFFLOAD_PSA_RESTRICTED ? psa_names[level] : NULL;
}

lq_forge_offload_psa_t lq_forge_offload_psa_of(const lq_json_t *ns)
{
    lq_json_str_t v;
    if (lq_json_str(LQ_JSON_AT(ns, "metadata", "labels", LQ_FORGE_OFFLOAD_PSA_LABEL), &v) != LQ_OK)
        return LQ_FORGE_OFFLOAD_PSA_NONE;
    return lq_forge_offload_psa_parse(v.p, v.len);
}

bool lq_forge_offload_psa_weaker(lq_forge_offload_psa_t seen, lq_forge_offload_psa_t want)
{
    return want > LQ_FORGE_OFFLOAD_PSA_NONE && want <= LQ_FORGE_OFFLOAD_PSA_RESTRICTED &&
           (unsigned)seen < (unsigned)want;
}

lq_err_t lq_forge_offload_psa_patch(lq_json_doc_t *doc, const char *uid, lq_forge_offload_psa_t want,
                                    lq_json_t **out)
{
    if (out)
        *out = NULL;
    const char *level = lq_forge_offload_psa_str(want);
    if (!doc || !uid || !*uid || !level || !out)
        return LQ_EINVAL;
    lq_json_t *patch = lq_json_new_object(doc);
    lq_json_t *meta = lq_json_new_object(doc);
    lq_json_t *labels = lq_json_new_object(doc);
    lq_err_t err;
    if ((err = built(doc, patch)) != LQ_OK || (err = built(doc, meta)) != LQ_OK ||
        (err = built(doc, labels)) != LQ_OK ||
        (err = add_cstr(doc, meta, "uid", uid)) != LQ_OK ||
        (err = add_cstr(doc, labels, LQ_FORGE_OFFLOAD_PSA_LABEL, level)) != LQ_OK ||
        (err = lq_json_obj_add(doc, meta, "labels", labels)) != LQ_OK ||
        (err = lq_json_obj_add(doc, patch, "metadata", meta)) != LQ_OK)
        return err;
    *out = patch;
    return LQ_OK;
}

/* ---- home namespace ----------------------------------------------------------------- */

lq_err_t lq_forge_offload_home_ns_patch(lq_json_doc_t *doc, lq_forge_offload_pods_t pods, bool active,
                                        const lq_forge_offload_mark_t *mark, lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !out || (unsigned)pods > (unsigned)LQ_FORGE_OFFLOAD_PODS_LOCAL ||
        (mark && mark->key && mark->name && !mark->uid))
        return LQ_EINVAL;
    bool set = active && pods != LQ_FORGE_OFFLOAD_PODS_LOCAL;
    lq_json_t *root = lq_json_new_object(doc);
    lq_json_t *meta = lq_json_new_object(doc);
    lq_json_t *labels = lq_json_new_object(doc);
    lq_err_t err;
    if ((err = built(doc, root)) != LQ_OK || (err = built(doc, meta)) != LQ_OK ||
        (err = built(doc, labels)) != LQ_OK)
        return err;
    if ((err = lq_json_obj_add(doc, labels, LQ_LIQO_LABEL_SCHEDULING,
                               set ? lq_json_new_cstr(doc, "true") : lq_json_new_null(doc))) != LQ_OK)
        return err;
    if (mark && mark->key) {
        lq_json_t *ann = lq_json_new_object(doc);
        if ((err = built(doc, ann)) != LQ_OK ||
            (err = lq_json_obj_add(doc, labels, mark->key,
                                   mark->name ? lq_json_new_cstr(doc, mark->name)
                                              : lq_json_new_null(doc))) != LQ_OK ||
            (err = lq_json_obj_add(doc, ann, mark->key,
                                   mark->name ? lq_json_new_cstr(doc, mark->uid)
                                              : lq_json_new_null(doc))) != LQ_OK ||
            (err = lq_json_obj_add(doc, meta, "annotations", ann)) != LQ_OK)
            return err;
    }
    if ((err = lq_json_obj_add(doc, meta, "labels", labels)) != LQ_OK ||
        (err = lq_json_obj_add(doc, root, "metadata", meta)) != LQ_OK)
        return err;
    *out = root;
    return LQ_OK;
}

/* ---- status -------------------------------------------------------------------------- */

#define COND_REQUIRED "OffloadingRequired"
#define COND_READY    "Ready"

/* Same conditions, field by field (the API server re-orders an object's keys). */
static bool conditions_equal(const lq_json_t *a, const lq_json_t *b)
{
    static const char *const keys[] = { "type", "status", "reason", "message",
                                         "lastTransitionTime" };
    if (lq_json_size(a) != lq_json_size(b))
        return false;
    for (const lq_json_t *x = lq_json_first(a), *y = lq_json_first(b); x && y;
         x = lq_json_next(x), y = lq_json_next(y))
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            lq_json_str_t vx, vy;
            bool hx = lq_json_str(lq_json_get(x, keys[k]), &vx) == LQ_OK;
            bool hy = lq_json_str(lq_json_get(y, keys[k]), &vy) == LQ_OK;
            if (hx != hy || (hx && (vx.len != vy.len || memcmp(vx.p, vy.p, vx.len) != 0)))
                return false;
        }
    return true;
}

bool lq_forge_offload_status_current(const lq_json_t *nsof, const char *key,
                                     const lq_json_t *conds, lq_forge_offload_phase_t phase,
                                     const char *remote_name)
{
    const lq_json_t *st = lq_json_get(nsof, "status");
    const lq_json_t *mine = LQ_JSON_AT(st, "remoteNamespacesConditions", key);
    if (!conds != !lq_json_is_set(mine))
        return false;
    if (conds && !conditions_equal(conds, mine))
        return false;
    if (!lq_json_str_is(lq_json_get(st, "offloadingPhase"), lq_forge_offload_phase_str(phase)))
        return false;
    if (remote_name && !lq_json_str_is(lq_json_get(st, "remoteNamespaceName"), remote_name))
        return false;
    int64_t gen = 0, obs = 0;
    if (lq_json_int(LQ_JSON_AT(nsof, "metadata", "generation"), &gen) == LQ_OK &&
        (lq_json_int(lq_json_get(st, "observedGeneration"), &obs) != LQ_OK || obs != gen))
        return false;
    return true;
}

const char *lq_forge_offload_phase_str(lq_forge_offload_phase_t phase)
{
    switch (phase) {
    case LQ_FORGE_OFFLOAD_PHASE_READY: return "Ready";
    case LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED: return "NoClusterSelected";
    case LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS: return "InProgress";
    case LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED: return "SomeFailed";
    case LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED: return "AllFailed";
    case LQ_FORGE_OFFLOAD_PHASE_TERMINATING: return "Terminating";
    }
    return "?";
}

/* Condition `type` of a conditions array (NULL if none). */
static const lq_json_t *cond_find(const lq_json_t *list, const char *type)
{
    for (const lq_json_t *c = lq_json_first(list); c; c = lq_json_next(c)) {
        lq_json_str_t t;
        if (lq_json_str(lq_json_get(c, "type"), &t) == LQ_OK && view_eq(&t, type))
            return c;
    }
    return NULL;
}

static bool cond_is(const lq_json_t *c, const char *member, const char *want)
{
    lq_json_str_t v;
    return lq_json_str(lq_json_get(c, member), &v) == LQ_OK && view_eq(&v, want);
}

/* Appends {type,status,lastTransitionTime,reason,message} to list; the time is the old
 * condition's when status and reason are unchanged. */
static lq_err_t cond_add(lq_json_doc_t *doc, lq_json_t *list, const lq_json_t *old_list,
                         const char *type, bool status, const char *reason,
                         const char *message, const char *now)
{
    const char *st = status ? "True" : "False";
    const lq_json_t *old = cond_find(old_list, type);
    lq_json_str_t t = {now, strlen(now)};
    lq_json_str_t ot;
    if (old && cond_is(old, "status", st) && cond_is(old, "reason", reason) &&
        lq_json_str(lq_json_get(old, "lastTransitionTime"), &ot) == LQ_OK)
        t = ot;
    lq_json_t *c = lq_json_new_object(doc);
    lq_err_t err;
    if ((err = built(doc, c)) != LQ_OK ||
        (err = add_cstr(doc, c, "type", type)) != LQ_OK ||
        (err = add_cstr(doc, c, "status", st)) != LQ_OK ||
        (err = lq_json_obj_add(doc, c, "lastTransitionTime", lq_json_new_str(doc, t.p, t.len))) != LQ_OK ||
        (err = add_cstr(doc, c, "reason", reason)) != LQ_OK ||
        (err = add_cstr(doc, c, "message", message)) != LQ_OK)
        return err;
    return lq_json_arr_add(doc, list, c);
}

typedef struct counts {
    unsigned required, ready, failed;
} counts_t;

static void count_key(const lq_json_t *list, counts_t *k)
{
    if (!cond_is(cond_find(list, COND_REQUIRED), "status", "True"))
        return; /* §3.1 counts ready and failed among the selected clusters */
    k->required++;
    const lq_json_t *ready = cond_find(list, COND_READY);
    if (cond_is(ready, "status", "True"))
        k->ready++;
    else if (cond_is(ready, "reason", "CreationLoopBackOff"))
        k->failed++;
}

lq_err_t lq_forge_offload_status_build(lq_json_doc_t *doc, const lq_json_t *nsof,
                                 const lq_forge_offload_status_in_t *in, lq_json_t **conditions,
                                 lq_forge_offload_phase_t *phase, lq_json_t **patch)
{
    if (conditions)
        *conditions = NULL;
    if (patch)
        *patch = NULL;
    if (!doc || !nsof || !in || !in->key || !in->now ||
        (unsigned)in->state > (unsigned)LQ_FORGE_OFFLOAD_NS_TERMINATING)
        return LQ_EINVAL;

    const lq_json_t *meta, *status, *all;
    lq_err_t err;
    if ((err = member_of(nsof, "metadata", LQ_JSON_OBJECT, &meta)) != LQ_OK ||
        (err = member_of(nsof, "status", LQ_JSON_OBJECT, &status)) != LQ_OK ||
        (err = member_of(status, "remoteNamespacesConditions", LQ_JSON_OBJECT, &all)) != LQ_OK)
        return err;
    bool deleting = lq_json_is_set(lq_json_get(meta, "deletionTimestamp"));
    int64_t generation = 0;
    err = lq_json_int(lq_json_get(meta, "generation"), &generation);
    bool have_gen = err == LQ_OK;
    if (err != LQ_OK && err != LQ_ENOTFOUND)
        return LQ_EPROTO;

    const lq_json_t *old = NULL;
    if ((err = member_of(all, in->key, LQ_JSON_ARRAY, &old)) != LQ_OK)
        return err;

    /* (a) this agent's conditions. Deleting: Liqo drops the desired mapping first. */
    bool selected = in->selected && !deleting;
    bool drop = in->forget || (deleting && !selected && in->state == LQ_FORGE_OFFLOAD_NS_NONE);
    lq_json_t *mine = NULL;
    if (!drop) {
        mine = lq_json_new_array(doc);
        if ((err = built(doc, mine)) != LQ_OK)
            return err;
        err = selected ? cond_add(doc, mine, old, COND_REQUIRED, true, "ClusterSelected",
                                  "This cluster matches the clusterSelector", in->now)
                       : cond_add(doc, mine, old, COND_REQUIRED, false, "ClusterNotSelected",
                                  "This cluster does not match the clusterSelector", in->now);
        if (err != LQ_OK)
            return err;
        if (selected || in->state != LQ_FORGE_OFFLOAD_NS_NONE) {
            switch (in->state) {
            case LQ_FORGE_OFFLOAD_NS_CREATED:
                err = cond_add(doc, mine, old, COND_READY, true, "NamespaceCreated",
                               "The remote namespace exists", in->now);
                break;
            case LQ_FORGE_OFFLOAD_NS_LOOPBACKOFF:
                err = cond_add(doc, mine, old, COND_READY, false, "CreationLoopBackOff",
                               in->message ? in->message : "The remote namespace cannot be created",
                               in->now);
                break;
            case LQ_FORGE_OFFLOAD_NS_TERMINATING:
                err = cond_add(doc, mine, old, COND_READY, false, "Terminating",
                               "The remote namespace is being deleted", in->now);
                break;
            default: /* CREATING, or NONE while selected (not started yet) */
                err = cond_add(doc, mine, old, COND_READY, false, "Creating",
                               "The remote namespace is being created", in->now);
                break;
            }
            if (err != LQ_OK)
                return err;
        }
    }

    /* (b) the phase from every key, ours replaced. */
    counts_t k = {0, 0, 0};
    for (const lq_json_t *it = lq_json_first(all); it; it = lq_json_next(it)) {
        const char *key = lq_json_key(it);
        if (key && strcmp(key, in->key) == 0)
            continue;
        lq_json_type_t t = lq_json_type(it);
        if (t == LQ_JSON_NULL)
            continue;
        if (t != LQ_JSON_ARRAY)
            return LQ_EPROTO;
        count_key(it, &k);
    }
    if (mine)
        count_key(mine, &k);
    lq_forge_offload_phase_t ph;
    if (deleting)
        ph = LQ_FORGE_OFFLOAD_PHASE_TERMINATING;
    else if (k.required == 0)
        ph = LQ_FORGE_OFFLOAD_PHASE_NO_CLUSTER_SELECTED;
    else if (k.ready == k.required)
        ph = LQ_FORGE_OFFLOAD_PHASE_READY;
    else if (k.failed == k.required)
        ph = LQ_FORGE_OFFLOAD_PHASE_ALL_FAILED;
    else if (k.failed > 0)
        ph = LQ_FORGE_OFFLOAD_PHASE_SOME_FAILED;
    else
        ph = LQ_FORGE_OFFLOAD_PHASE_IN_PROGRESS;
    if (phase)
        *phase = ph;

    /* (c) the merge patch. */
    if (patch) {
        lq_json_t *root = lq_json_new_object(doc);
        lq_json_t *st = lq_json_new_object(doc);
        lq_json_t *rnc = lq_json_new_object(doc);
        if ((err = built(doc, root)) != LQ_OK || (err = built(doc, st)) != LQ_OK ||
            (err = built(doc, rnc)) != LQ_OK)
            return err;
        if (in->precondition) {
            lq_json_str_t rv;
            if (member_str(meta, "resourceVersion", &rv) != LQ_OK)
                return LQ_EPROTO;
            lq_json_t *pm = lq_json_new_object(doc);
            if ((err = built(doc, pm)) != LQ_OK ||
                (err = lq_json_obj_add(doc, pm, "resourceVersion", lq_json_new_str(doc, rv.p, rv.len))) != LQ_OK ||
                (err = lq_json_obj_add(doc, root, "metadata", pm)) != LQ_OK)
                return err;
        }
        /* mine is attached to the patch; a caller that wants both gets a copy */
        lq_json_t *val = mine ? (conditions ? lq_json_copy(doc, mine) : mine)
                              : lq_json_new_null(doc);
        if ((err = lq_json_obj_add(doc, rnc, in->key, val)) != LQ_OK ||
            (err = lq_json_obj_add(doc, st, "remoteNamespacesConditions", rnc)) != LQ_OK)
            return err;
        if (in->remote_name &&
            (err = add_cstr(doc, st, "remoteNamespaceName", in->remote_name)) != LQ_OK)
            return err;
        if ((err = add_cstr(doc, st, "offloadingPhase", lq_forge_offload_phase_str(ph))) != LQ_OK)
            return err;
        if (have_gen &&
            (err = lq_json_obj_add(doc, st, "observedGeneration", lq_json_new_int(doc, generation))) != LQ_OK)
            return err;
        if ((err = lq_json_obj_add(doc, root, "status", st)) != LQ_OK)
            return err;
        *patch = root;
    }
    if (conditions)
        *conditions = mine;
    return LQ_OK;
}

/* ---- fallback --------------------------------------------------------------------------- */

lq_err_t lq_forge_offload_fallback(lq_json_doc_t *doc, const lq_json_t *pod, const char *now,
                             lq_forge_offload_fallback_t *action, lq_json_t **patch)
{
    if (patch)
        *patch = NULL;
    if (!doc || !pod || !action)
        return LQ_EINVAL;
    *action = LQ_FORGE_OFFLOAD_FALLBACK_LEAVE;

    const lq_json_t *meta, *status, *conds, *cstats;
    lq_err_t err;
    if ((err = member_of(pod, "metadata", LQ_JSON_OBJECT, &meta)) != LQ_OK ||
        (err = member_of(pod, "status", LQ_JSON_OBJECT, &status)) != LQ_OK ||
        (err = member_of(status, "conditions", LQ_JSON_ARRAY, &conds)) != LQ_OK ||
        (err = member_of(status, "containerStatuses", LQ_JSON_ARRAY, &cstats)) != LQ_OK)
        return err;
    if (lq_json_is_set(lq_json_get(meta, "deletionTimestamp"))) {
        *action = LQ_FORGE_OFFLOAD_FALLBACK_DELETE;
        return LQ_OK;
    }
    lq_json_str_t ph, reason;
    err = member_str(status, "phase", &ph);
    if (err != LQ_OK && err != LQ_ENOTFOUND)
        return err;
    err = member_str(status, "reason", &reason);
    if (err != LQ_OK && err != LQ_ENOTFOUND)
        return err;
    if (view_eq(&ph, "Succeeded"))
        return LQ_OK;

    bool backoff = view_eq(&ph, "Pending") && lq_json_size(cstats) == 0;
    const char *tphase = backoff ? "Pending" : "Failed";
    const char *treason = backoff ? LQ_FORGE_OFFLOAD_REASON_BACKOFF : LQ_FORGE_OFFLOAD_REASON_ABORTED;
    if (view_eq(&ph, tphase) && view_eq(&reason, treason))
        return LQ_OK; /* already done */
    if (!now)
        return LQ_EINVAL;
    lq_forge_offload_fallback_t act = backoff ? LQ_FORGE_OFFLOAD_FALLBACK_BACKOFF : LQ_FORGE_OFFLOAD_FALLBACK_ABORT;
    if (!patch) {
        *action = act;
        return LQ_OK;
    }

    lq_json_t *root = lq_json_new_object(doc);
    lq_json_t *st = lq_json_new_object(doc);
    if ((err = built(doc, root)) != LQ_OK || (err = built(doc, st)) != LQ_OK ||
        (err = add_cstr(doc, st, "phase", tphase)) != LQ_OK ||
        (err = add_cstr(doc, st, "reason", treason)) != LQ_OK)
        return err;
    if (lq_json_size(conds) > 0) {
        lq_json_t *arr = lq_json_copy(doc, conds);
        if ((err = built(doc, arr)) != LQ_OK)
            return err;
        for (lq_json_t *c = lq_json_first(arr); c; c = lq_json_next(c)) {
            if (!cond_is(c, "status", "True"))
                continue;
            if ((err = lq_json_obj_set(doc, c, "status", lq_json_new_cstr(doc, "False"))) != LQ_OK ||
                (err = lq_json_obj_set(doc, c, "reason", lq_json_new_cstr(doc, treason))) != LQ_OK ||
                (err = lq_json_obj_set(doc, c, "lastTransitionTime", lq_json_new_cstr(doc, now))) != LQ_OK)
                return err;
        }
        if ((err = lq_json_obj_add(doc, st, "conditions", arr)) != LQ_OK)
            return err;
    }
    if (lq_json_size(cstats) > 0) {
        lq_json_t *arr = lq_json_copy(doc, cstats);
        if ((err = built(doc, arr)) != LQ_OK)
            return err;
        for (lq_json_t *c = lq_json_first(arr); c; c = lq_json_next(c))
            if (lq_json_type(c) == LQ_JSON_OBJECT &&
                (err = lq_json_obj_set(doc, c, "ready", lq_json_new_bool(doc, false))) != LQ_OK)
                return err;
        if ((err = lq_json_obj_add(doc, st, "containerStatuses", arr)) != LQ_OK)
            return err;
    }
    if ((err = lq_json_obj_add(doc, root, "status", st)) != LQ_OK)
        return err;
    *action = act;
    *patch = root;
    return LQ_OK;
}
