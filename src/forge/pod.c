/* liqolet: the pod forge (pure; see include/liqolet/forge_pod.h).
 * C standard headers and liqolet headers only. */
#include "liqolet/forge_pod.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TRY(expr)                                                                      \
    do {                                                                               \
        lq_err_t e_ = (expr);                                                          \
        if (e_ != LQ_OK)                                                               \
            return e_;                                                                 \
    } while (0)

/* ---- reading ---------------------------------------------------------------------- */

static bool absent(const lq_json_t *it)
{
    lq_json_type_t t = lq_json_type(it);
    return t == LQ_JSON_ABSENT || t == LQ_JSON_NULL;
}

/* obj[key] when it has type `want`; NULL when absent or null; LQ_EPROTO otherwise. */
static lq_err_t typed(const lq_json_t *obj, const char *key, lq_json_type_t want,
                      const lq_json_t **out)
{
    const lq_json_t *it = lq_json_get(obj, key);
    *out = NULL;
    if (absent(it))
        return LQ_OK;
    if (lq_json_type(it) != want)
        return LQ_EPROTO;
    *out = it;
    return LQ_OK;
}

/* A required non-empty string member. */
static lq_err_t need_str(const lq_json_t *obj, const char *key, lq_json_str_t *out)
{
    if (lq_json_str(lq_json_get(obj, key), out) != LQ_OK || out->len == 0)
        return LQ_EPROTO;
    return LQ_OK;
}

/* An optional string-to-string map (labels, annotations). */
static lq_err_t str_map(const lq_json_t *meta, const char *key, const lq_json_t **out)
{
    TRY(typed(meta, key, LQ_JSON_OBJECT, out));
    for (const lq_json_t *m = lq_json_first(*out); m; m = lq_json_next(m))
        if (lq_json_type(m) != LQ_JSON_STRING)
            return LQ_EPROTO;
    return LQ_OK;
}

/* Every element of an (optional) array is an object. */
static lq_err_t all_objects(const lq_json_t *arr)
{
    for (const lq_json_t *e = lq_json_first(arr); e; e = lq_json_next(e))
        if (lq_json_type(e) != LQ_JSON_OBJECT)
            return LQ_EPROTO;
    return LQ_OK;
}

static bool nonempty(const char *s)
{
    return s && s[0];
}

/* ---- building ----------------------------------------------------------------------- */

/* The error that made a constructor return NULL. */
static lq_err_t made(const lq_json_doc_t *doc, const lq_json_t *item)
{
    if (item)
        return LQ_OK;
    return doc->last_err != LQ_OK ? doc->last_err : LQ_ETOOBIG;
}

static lq_err_t put_cstr(lq_json_doc_t *doc, lq_json_t *obj, const char *key, const char *v)
{
    return lq_json_obj_add(doc, obj, key, lq_json_new_cstr(doc, v));
}

static lq_err_t put_view(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_str_t v)
{
    return lq_json_obj_add(doc, obj, key, lq_json_new_str(doc, v.p, v.len));
}

/* A new object added to parent under key. */
static lq_err_t put_obj(lq_json_doc_t *doc, lq_json_t *parent, const char *key, lq_json_t **out)
{
    lq_json_t *o = lq_json_new_object(doc);
    TRY(made(doc, o));
    TRY(lq_json_obj_add(doc, parent, key, o));
    *out = o;
    return LQ_OK;
}

/* [{"ip":ip}] under key. */
static lq_err_t put_ip_list(lq_json_doc_t *doc, lq_json_t *obj, const char *key, lq_json_str_t ip)
{
    lq_json_t *arr = lq_json_new_array(doc);
    lq_json_t *one = lq_json_new_object(doc);
    TRY(made(doc, arr));
    TRY(made(doc, one));
    TRY(put_view(doc, one, "ip", ip));
    TRY(lq_json_arr_add(doc, arr, one));
    return lq_json_obj_add(doc, obj, key, arr);
}

/* ---- home metadata ------------------------------------------------------------------ */

typedef struct home_meta {
    lq_json_str_t name, uid;
    const lq_json_t *labels, *annotations; /* NULL when absent */
} home_meta_t;

static lq_err_t read_meta(const lq_json_t *pod, home_meta_t *m)
{
    const lq_json_t *meta;
    if (lq_json_type(pod) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    TRY(typed(pod, "metadata", LQ_JSON_OBJECT, &meta));
    TRY(need_str(meta, "name", &m->name));
    TRY(need_str(meta, "uid", &m->uid));
    TRY(str_map(meta, "labels", &m->labels));
    return str_map(meta, "annotations", &m->annotations);
}

static bool key_is(const lq_json_t *member, const char *key)
{
    const char *k = lq_json_key(member);
    return k && strcmp(k, key) == 0;
}

static bool own_label(const lq_json_t *member)
{
    const char *k = lq_json_key(member);
    return k && lq_liqo_is_own_label(k, strlen(k));
}

/* The remote labels: home labels without ours (of either family), then the ownership
 * labels of the family in use (and the node name where the family has one). */
static lq_err_t remote_labels(lq_json_doc_t *doc, const home_meta_t *m,
                              const lq_forge_pod_remote_params_t *p, lq_json_t **out)
{
    const lq_liqo_names_t *nm = lq_liqo_names();
    lq_json_t *labels = lq_json_new_object(doc);
    TRY(made(doc, labels));
    for (const lq_json_t *l = lq_json_first(m->labels); l; l = lq_json_next(l)) {
        if (key_is(l, LQ_LIQO_LABEL_SHADOW_POD) || own_label(l) ||
            key_is(l, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE))
            continue;
        TRY(lq_json_obj_add(doc, labels, lq_json_key(l), lq_json_copy(doc, l)));
    }
    TRY(put_cstr(doc, labels, nm->origin, p->home_id));
    TRY(put_cstr(doc, labels, nm->destination, p->foreign_id));
    if (nm->nodename)
        TRY(put_cstr(doc, labels, nm->nodename, p->node_name));
    *out = labels;
    return LQ_OK;
}

/* The remote annotations: the home ones, then the home uid. */
static lq_err_t remote_annotations(lq_json_doc_t *doc, const home_meta_t *m, lq_json_t **out)
{
    lq_json_t *ann = lq_json_new_object(doc);
    TRY(made(doc, ann));
    for (const lq_json_t *a = lq_json_first(m->annotations); a; a = lq_json_next(a)) {
        if (key_is(a, LQ_FORGE_POD_ANN_HOME_UID))
            continue;
        TRY(lq_json_obj_add(doc, ann, lq_json_key(a), lq_json_copy(doc, a)));
    }
    TRY(put_view(doc, ann, LQ_FORGE_POD_ANN_HOME_UID, m->uid));
    *out = ann;
    return LQ_OK;
}

static bool remote_params_ok(const lq_forge_pod_remote_params_t *p)
{
    return p && nonempty(p->remote_ns) && nonempty(p->home_id) && nonempty(p->foreign_id) &&
           (!p->root_ca_name || p->root_ca_name[0]) &&
           (!lq_liqo_names()->nodename || nonempty(p->node_name));
}

/* ---- spec ------------------------------------------------------------------------------ */

/* The copied spec members, in output order; FORCED marks where the forced values go. */
typedef enum { COPY, VOLUMES, TOLERATIONS, AFFINITY, FORCED } how_t;

typedef struct spec_field {
    const char *name;
    lq_json_type_t type;
    how_t how;
} spec_field_t;

static const spec_field_t SPEC_FIELDS[] = {
    {"volumes", LQ_JSON_ARRAY, VOLUMES},
    {"initContainers", LQ_JSON_ARRAY, COPY},
    {"containers", LQ_JSON_ARRAY, COPY},
    {"restartPolicy", LQ_JSON_STRING, COPY},
    {"terminationGracePeriodSeconds", LQ_JSON_NUMBER, COPY},
    {"activeDeadlineSeconds", LQ_JSON_NUMBER, COPY},
    {"dnsPolicy", LQ_JSON_STRING, COPY},
    {NULL, LQ_JSON_ABSENT, FORCED},
    {"shareProcessNamespace", LQ_JSON_BOOL, COPY},
    {"securityContext", LQ_JSON_OBJECT, COPY},
    {"imagePullSecrets", LQ_JSON_ARRAY, COPY},
    {"hostname", LQ_JSON_STRING, COPY},
    {"subdomain", LQ_JSON_STRING, COPY},
    {"affinity", LQ_JSON_ABSENT, AFFINITY},
    {"tolerations", LQ_JSON_ARRAY, TOLERATIONS},
    {"hostAliases", LQ_JSON_ARRAY, COPY},
    {"dnsConfig", LQ_JSON_OBJECT, COPY},
    {"readinessGates", LQ_JSON_ARRAY, COPY},
    {"enableServiceLinks", LQ_JSON_BOOL, COPY},
    {"topologySpreadConstraints", LQ_JSON_ARRAY, COPY},
    {"setHostnameAsFQDN", LQ_JSON_BOOL, COPY},
};

static const char *const FORCED_FALSE[] = {
    "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC",
};

/* Checks the type of every copied member (and the shape the mutations rely on). */
static lq_err_t check_spec(const lq_json_t *spec)
{
    const lq_json_t *it;
    for (size_t i = 0; i < sizeof SPEC_FIELDS / sizeof SPEC_FIELDS[0]; i++) {
        const spec_field_t *f = &SPEC_FIELDS[i];
        if (f->type == LQ_JSON_ABSENT)
            continue;
        TRY(typed(spec, f->name, f->type, &it));
        int64_t n;
        if (it && f->type == LQ_JSON_NUMBER && lq_json_int(it, &n) != LQ_OK)
            return LQ_EPROTO;
    }
    TRY(typed(spec, "containers", LQ_JSON_ARRAY, &it));
    if (lq_json_size(it) == 0)
        return LQ_EPROTO;
    TRY(all_objects(it));
    TRY(typed(spec, "initContainers", LQ_JSON_ARRAY, &it));
    TRY(all_objects(it));
    TRY(typed(spec, "tolerations", LQ_JSON_ARRAY, &it));
    TRY(all_objects(it));
    TRY(typed(spec, "volumes", LQ_JSON_ARRAY, &it));
    TRY(all_objects(it));
    for (const lq_json_t *v = lq_json_first(it); v; v = lq_json_next(v)) {
        const lq_json_t *proj, *sources;
        TRY(typed(v, "projected", LQ_JSON_OBJECT, &proj));
        TRY(typed(proj, "sources", LQ_JSON_ARRAY, &sources));
        TRY(all_objects(sources));
    }
    return LQ_OK;
}

/* §2.3 in the Disabled mode: token sources out, kube-root-ca.crt renamed (optional) in
 * projected sources and plain configMap volumes.
 * vols is already a copy in doc. */
static lq_err_t mutate_volumes(lq_json_doc_t *doc, lq_json_t *vols, const char *root_ca)
{
    for (lq_json_t *v = lq_json_first(vols); v; v = lq_json_next(v)) {
        lq_json_t *vcm = lq_json_get(v, "configMap");
        if (root_ca && lq_json_str_is(lq_json_get(vcm, "name"), LQ_FORGE_POD_ROOT_CA))
            TRY(lq_json_obj_set(doc, vcm, "name", lq_json_new_cstr(doc, root_ca)));
        lq_json_t *sources = lq_json_get(lq_json_get(v, "projected"), "sources");
        size_t i = 0;
        lq_json_t *s = lq_json_first(sources);
        while (s) {
            lq_json_t *next = lq_json_next(s);
            if (!absent(lq_json_get(s, "serviceAccountToken"))) {
                TRY(lq_json_arr_del(doc, sources, i));
                s = next;
                continue;
            }
            lq_json_t *cm = lq_json_get(s, "configMap");
            if (root_ca && lq_json_str_is(lq_json_get(cm, "name"), LQ_FORGE_POD_ROOT_CA))
                TRY(lq_json_obj_set(doc, cm, "name", lq_json_new_cstr(doc, root_ca)));
            s = next;
            i++;
        }
    }
    return LQ_OK;
}

/* Tolerations without the virtual node's; NULL when none remains. */
static lq_err_t remote_tolerations(lq_json_doc_t *doc, const lq_json_t *list, lq_json_t **out)
{
    *out = NULL;
    lq_json_t *arr = NULL;
    for (const lq_json_t *t = lq_json_first(list); t; t = lq_json_next(t)) {
        if (lq_json_str_is(lq_json_get(t, "key"), LQ_FORGE_POD_VNODE_TOLERATION))
            continue;
        if (!arr) {
            arr = lq_json_new_array(doc);
            TRY(made(doc, arr));
        }
        TRY(lq_json_arr_add(doc, arr, lq_json_copy(doc, t)));
    }
    *out = arr;
    return LQ_OK;
}

/* Labels Liqo leaves out of a preset's matchLabels when no list is given. */
static bool aa_default_skip(const lq_json_t *label)
{
    static const char *const skip[] = {
        LQ_LIQO_LABEL_SHADOW_POD, "controller-revision-hash", "pod-template-hash",
        "statefulset.kubernetes.io/pod-name",
    };
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (key_is(label, skip[i]))
            return true;
    return false;
}

/* True when key is one of the comma-separated items of list (spaces/tabs around an item
 * are ignored). */
static bool in_list(const char *key, lq_json_str_t list)
{
    size_t klen = strlen(key), i = 0;
    while (i <= list.len) {
        size_t end = i;
        while (end < list.len && list.p[end] != ',')
            end++;
        size_t a = i, b = end;
        while (a < b && (list.p[a] == ' ' || list.p[a] == '\t'))
            a++;
        while (b > a && (list.p[b - 1] == ' ' || list.p[b - 1] == '\t'))
            b--;
        if (b - a == klen && klen > 0 && memcmp(list.p + a, key, klen) == 0)
            return true;
        i = end + 1;
    }
    return false;
}

/* The preset's pod affinity term: {"labelSelector":{"matchLabels":...},"topologyKey":...}. */
static lq_err_t aa_term(lq_json_doc_t *doc, const home_meta_t *m, lq_json_t **out)
{
    lq_json_str_t list = {NULL, 0};
    bool listed = lq_json_str(lq_json_get(m->annotations, LQ_LIQO_ANN_AA_LABELS), &list) == LQ_OK &&
                  list.len > 0;
    lq_json_t *term = lq_json_new_object(doc), *sel, *match;
    TRY(made(doc, term));
    TRY(put_obj(doc, term, "labelSelector", &sel));
    TRY(put_obj(doc, sel, "matchLabels", &match));
    for (const lq_json_t *l = lq_json_first(m->labels); l; l = lq_json_next(l)) {
        const char *k = lq_json_key(l);
        bool keep = listed ? in_list(k, list) && !key_is(l, LQ_LIQO_LABEL_SHADOW_POD)
                           : !aa_default_skip(l);
        if (keep)
            TRY(lq_json_obj_add(doc, match, k, lq_json_copy(doc, l)));
    }
    TRY(put_cstr(doc, term, "topologyKey", "kubernetes.io/hostname"));
    *out = term;
    return LQ_OK;
}

/* The remote affinity from the anti-affinity preset; NULL for none. */
static lq_err_t remote_affinity(lq_json_doc_t *doc, const home_meta_t *m, const lq_json_t *spec,
                                lq_json_t **out)
{
    *out = NULL;
    const lq_json_t *preset = lq_json_get(m->annotations, LQ_LIQO_ANN_AA_PRESET);
    bool soft = lq_json_str_is(preset, "soft"), hard = lq_json_str_is(preset, "hard");
    if (lq_json_str_is(preset, "propagate")) {
        const lq_json_t *anti = lq_json_get(lq_json_get(spec, "affinity"), "podAntiAffinity");
        if (lq_json_type(anti) != LQ_JSON_OBJECT) /* shape checked by the caller */
            return LQ_OK;
        lq_json_t *a = lq_json_new_object(doc);
        TRY(made(doc, a));
        TRY(lq_json_obj_add(doc, a, "podAntiAffinity", lq_json_copy(doc, anti)));
        *out = a;
        return LQ_OK;
    }
    if (!soft && !hard)
        return LQ_OK;
    lq_json_t *a = lq_json_new_object(doc), *anti, *list = lq_json_new_array(doc), *term;
    TRY(made(doc, a));
    TRY(made(doc, list));
    TRY(put_obj(doc, a, "podAntiAffinity", &anti));
    TRY(aa_term(doc, m, &term));
    if (soft) {
        lq_json_t *w = lq_json_new_object(doc);
        TRY(made(doc, w));
        TRY(lq_json_obj_add(doc, w, "weight", lq_json_new_int(doc, 1)));
        TRY(lq_json_obj_add(doc, w, "podAffinityTerm", term));
        TRY(lq_json_arr_add(doc, list, w));
        TRY(lq_json_obj_add(doc, anti, "preferredDuringSchedulingIgnoredDuringExecution", list));
    } else {
        TRY(lq_json_arr_add(doc, list, term));
        TRY(lq_json_obj_add(doc, anti, "requiredDuringSchedulingIgnoredDuringExecution", list));
    }
    *out = a;
    return LQ_OK;
}

static lq_err_t remote_spec(lq_json_doc_t *doc, const home_meta_t *m, const lq_json_t *spec,
                            const lq_forge_pod_remote_params_t *p, lq_json_t **out)
{
    lq_json_t *rs = lq_json_new_object(doc);
    TRY(made(doc, rs));
    for (size_t i = 0; i < sizeof SPEC_FIELDS / sizeof SPEC_FIELDS[0]; i++) {
        const spec_field_t *f = &SPEC_FIELDS[i];
        const lq_json_t *src = f->name ? lq_json_get(spec, f->name) : NULL;
        lq_json_t *v = NULL;
        switch (f->how) {
        case FORCED:
            for (size_t k = 0; k < sizeof FORCED_FALSE / sizeof FORCED_FALSE[0]; k++)
                TRY(lq_json_obj_add(doc, rs, FORCED_FALSE[k], lq_json_new_bool(doc, false)));
            continue;
        case AFFINITY:
            TRY(remote_affinity(doc, m, spec, &v));
            break;
        case TOLERATIONS:
            TRY(remote_tolerations(doc, src, &v));
            break;
        case VOLUMES:
        case COPY:
            if (absent(src))
                continue;
            v = lq_json_copy(doc, src);
            TRY(made(doc, v));
            if (f->how == VOLUMES)
                TRY(mutate_volumes(doc, v, p->root_ca_name));
            break;
        }
        if (v)
            TRY(lq_json_obj_add(doc, rs, f->name, v));
    }
    *out = rs;
    return LQ_OK;
}

lq_err_t lq_forge_pod_remote(lq_json_doc_t *doc, const lq_json_t *home,
                             const lq_forge_pod_remote_params_t *params, lq_json_t **out)
{
    if (out)
        *out = NULL;
    if (!doc || !home || !out || !remote_params_ok(params))
        return LQ_EINVAL;
    home_meta_t m;
    const lq_json_t *spec;
    TRY(read_meta(home, &m));
    TRY(typed(home, "spec", LQ_JSON_OBJECT, &spec));
    if (!spec)
        return LQ_EPROTO;
    TRY(check_spec(spec));
    if (lq_json_str_is(lq_json_get(m.annotations, LQ_LIQO_ANN_AA_PRESET), "propagate")) {
        const lq_json_t *aff, *anti;
        TRY(typed(spec, "affinity", LQ_JSON_OBJECT, &aff));
        TRY(typed(aff, "podAntiAffinity", LQ_JSON_OBJECT, &anti));
    }

    /* Everything is checked: from here on only LQ_ETOOBIG can happen. */
    lq_json_t *pod = lq_json_new_object(doc), *meta = NULL, *labels = NULL,
              *ann = NULL, *rs = NULL;
    TRY(made(doc, pod));
    TRY(put_cstr(doc, pod, "apiVersion", "v1"));
    TRY(put_cstr(doc, pod, "kind", "Pod"));
    TRY(put_obj(doc, pod, "metadata", &meta));
    TRY(put_view(doc, meta, "name", m.name));
    TRY(put_cstr(doc, meta, "namespace", params->remote_ns));
    TRY(remote_labels(doc, &m, params, &labels));
    TRY(lq_json_obj_add(doc, meta, "labels", labels));
    TRY(remote_annotations(doc, &m, &ann));
    TRY(lq_json_obj_add(doc, meta, "annotations", ann));
    TRY(remote_spec(doc, &m, spec, params, &rs));
    TRY(lq_json_obj_add(doc, pod, "spec", rs));
    *out = pod;
    return LQ_OK;
}

/* ---- metadata patches ---------------------------------------------------------------- */

/* {"metadata":{"uid":uid}} with *meta pointing at the inner object. */
static lq_err_t patch_root(lq_json_doc_t *doc, lq_json_str_t uid, lq_json_t **root,
                           lq_json_t **meta)
{
    *root = lq_json_new_object(doc);
    TRY(made(doc, *root));
    TRY(put_obj(doc, *root, "metadata", meta));
    return put_view(doc, *meta, "uid", uid);
}

/* The members of `want` whose value `have` lacks or differs in; NULL when none. */
static lq_err_t map_diff(lq_json_doc_t *doc, const lq_json_t *want, const lq_json_t *have,
                         lq_json_t **out)
{
    *out = NULL;
    for (const lq_json_t *w = lq_json_first(want); w; w = lq_json_next(w)) {
        lq_json_str_t v;
        (void)lq_json_str(w, &v);
        if (lq_json_str_is(lq_json_get(have, lq_json_key(w)), v.p))
            continue;
        if (!*out) {
            *out = lq_json_new_object(doc);
            TRY(made(doc, *out));
        }
        TRY(lq_json_obj_add(doc, *out, lq_json_key(w), lq_json_copy(doc, w)));
    }
    return LQ_OK;
}

/* Adds to *out (created when needed) a null for every key that the remote Pod has, `want`
 * lacks, and one of the remote Pod's managedFields entries of our field manager owns under
 * f:metadata.<fkey>: labels and annotations we put there that the home Pod dropped. Keys
 * written by anyone else (the foreign cluster's admission, controllers) are not ours to
 * remove. managedFields of a shape not understood give no key (nothing is removed). */
static lq_err_t map_removals(lq_json_doc_t *doc, const lq_json_t *want, const lq_json_t *have,
                             const lq_json_t *remote, const char *fkey, lq_json_t **out)
{
    const lq_json_t *mf = LQ_JSON_AT(remote, "metadata", "managedFields");
    for (const lq_json_t *e = lq_json_first(mf); e; e = lq_json_next(e)) {
        if (!lq_json_str_is(lq_json_get(e, "manager"), LQ_FORGE_POD_FIELD_MANAGER) ||
            !lq_json_str_is(lq_json_get(e, "fieldsType"), "FieldsV1"))
            continue;
        const lq_json_t *owned = LQ_JSON_AT(e, "fieldsV1", "f:metadata", fkey);
        if (lq_json_type(owned) != LQ_JSON_OBJECT)
            continue;
        for (const lq_json_t *k = lq_json_first(owned); k; k = lq_json_next(k)) {
            const char *name = lq_json_key(k);
            if (!name || strncmp(name, "f:", 2) != 0 || !name[2])
                continue;
            name += 2;
            if (lq_json_type(lq_json_get(want, name)) != LQ_JSON_ABSENT ||
                lq_json_type(lq_json_get(have, name)) == LQ_JSON_ABSENT ||
                (*out && lq_json_type(lq_json_get(*out, name)) != LQ_JSON_ABSENT))
                continue;
            if (!*out) {
                *out = lq_json_new_object(doc);
                TRY(made(doc, *out));
            }
            lq_json_t *null = lq_json_new_null(doc);
            TRY(made(doc, null));
            TRY(lq_json_obj_add(doc, *out, name, null));
        }
    }
    return LQ_OK;
}

lq_err_t lq_forge_pod_remote_meta_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                        const lq_json_t *remote,
                                        const lq_forge_pod_remote_params_t *params,
                                        lq_json_t **patch)
{
    if (patch)
        *patch = NULL;
    if (!doc || !home || !remote || !patch || !remote_params_ok(params))
        return LQ_EINVAL;
    home_meta_t hm, rm;
    TRY(read_meta(home, &hm));
    TRY(read_meta(remote, &rm));

    lq_json_t *labels, *ann, *dl, *da;
    TRY(remote_labels(doc, &hm, params, &labels));
    TRY(remote_annotations(doc, &hm, &ann));
    TRY(map_diff(doc, labels, rm.labels, &dl));
    TRY(map_diff(doc, ann, rm.annotations, &da));
    TRY(map_removals(doc, labels, rm.labels, remote, "f:labels", &dl));
    TRY(map_removals(doc, ann, rm.annotations, remote, "f:annotations", &da));
    if (!dl && !da)
        return LQ_OK;
    lq_json_t *root, *meta;
    TRY(patch_root(doc, rm.uid, &root, &meta));
    if (dl)
        TRY(lq_json_obj_add(doc, meta, "labels", dl));
    if (da)
        TRY(lq_json_obj_add(doc, meta, "annotations", da));
    *patch = root;
    return LQ_OK;
}

lq_err_t lq_forge_pod_home_label_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                       lq_json_t **patch)
{
    if (patch)
        *patch = NULL;
    if (!doc || !home || !patch)
        return LQ_EINVAL;
    home_meta_t m;
    TRY(read_meta(home, &m));
    bool shadow = lq_json_str_is(lq_json_get(m.labels, LQ_LIQO_LABEL_SHADOW_POD), "true");
    bool unavailable = lq_json_type(lq_json_get(m.labels, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE)) !=
                       LQ_JSON_ABSENT;
    if (shadow && !unavailable)
        return LQ_OK;
    lq_json_t *root, *meta, *labels;
    TRY(patch_root(doc, m.uid, &root, &meta));
    TRY(put_obj(doc, meta, "labels", &labels));
    if (!shadow)
        TRY(put_cstr(doc, labels, LQ_LIQO_LABEL_SHADOW_POD, "true"));
    if (unavailable) {
        lq_json_t *null = lq_json_new_null(doc);
        TRY(made(doc, null));
        TRY(lq_json_obj_add(doc, labels, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE, null));
    }
    *patch = root;
    return LQ_OK;
}

lq_err_t lq_forge_pod_unavailable_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                        const char *now, const char *message,
                                        lq_json_t **meta_patch, lq_json_t **status_patch)
{
    if (meta_patch)
        *meta_patch = NULL;
    if (status_patch)
        *status_patch = NULL;
    if (!doc || !home || !meta_patch || !status_patch || !nonempty(now) || !message)
        return LQ_EINVAL;
    home_meta_t m;
    const lq_json_t *st, *conds;
    TRY(read_meta(home, &m));
    TRY(typed(home, "status", LQ_JSON_OBJECT, &st));
    TRY(typed(st, "conditions", LQ_JSON_ARRAY, &conds));
    TRY(all_objects(conds));
    if (!lq_json_str_is(lq_json_get(m.labels, LQ_LIQO_LABEL_SHADOW_POD), "true"))
        return LQ_OK; /* not offloaded: nothing of it runs remotely */

    lq_json_t *root, *meta;
    if (!lq_json_str_is(lq_json_get(m.labels, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE), "true")) {
        lq_json_t *labels;
        TRY(patch_root(doc, m.uid, &root, &meta));
        TRY(put_obj(doc, meta, "labels", &labels));
        TRY(put_cstr(doc, labels, LQ_LIQO_LABEL_REMOTE_UNAVAILABLE, "true"));
        *meta_patch = root;
    }
    const lq_json_t *ready = NULL;
    for (const lq_json_t *c = lq_json_first(conds); c; c = lq_json_next(c))
        if (lq_json_str_is(lq_json_get(c, "type"), "Ready"))
            ready = c;
    if (ready && lq_json_str_is(lq_json_get(ready, "status"), "False"))
        return LQ_OK; /* already not ready (e.g. the node lifecycle controller said so) */

    lq_json_t *arr = conds ? lq_json_copy(doc, conds) : lq_json_new_array(doc), *cond = NULL;
    TRY(made(doc, arr));
    for (lq_json_t *c = lq_json_first(arr); c; c = lq_json_next(c))
        if (lq_json_str_is(lq_json_get(c, "type"), "Ready"))
            cond = c;
    if (!cond) {
        cond = lq_json_new_object(doc);
        TRY(made(doc, cond));
        TRY(put_cstr(doc, cond, "type", "Ready"));
        TRY(lq_json_arr_add(doc, arr, cond));
    }
    TRY(lq_json_obj_set(doc, cond, "status", lq_json_new_cstr(doc, "False")));
    TRY(lq_json_obj_set(doc, cond, "reason", lq_json_new_cstr(doc, LQ_FORGE_POD_REASON_UNAVAILABLE)));
    TRY(lq_json_obj_set(doc, cond, "message", lq_json_new_cstr(doc, message)));
    TRY(lq_json_obj_set(doc, cond, "lastTransitionTime", lq_json_new_cstr(doc, now)));
    lq_json_t *sroot, *smeta, *sst;
    TRY(patch_root(doc, m.uid, &sroot, &smeta));
    TRY(put_obj(doc, sroot, "status", &sst));
    TRY(lq_json_obj_add(doc, sst, "conditions", arr));
    *status_patch = sroot;
    return LQ_OK;
}

bool lq_forge_pod_aborted(const lq_json_t *home)
{
    const lq_json_t *st = lq_json_get(home, "status");
    return lq_json_str_is(lq_json_get(st, "phase"), "Failed") &&
           lq_json_str_is(lq_json_get(st, "reason"), LQ_FORGE_POD_REASON_ABORTED);
}

/* ---- status -------------------------------------------------------------------------- */

typedef enum { S_COPY, S_KEEP, S_HOST, S_POD_IP, S_CONTAINERS } status_how_t;

typedef struct status_field {
    const char *name;
    lq_json_type_t type;
    status_how_t how; /* S_KEEP: copied, but never nulled */
} status_field_t;

static const status_field_t STATUS_FIELDS[] = {
    {"phase", LQ_JSON_STRING, S_KEEP},
    {"conditions", LQ_JSON_ARRAY, S_COPY},
    {"message", LQ_JSON_STRING, S_COPY},
    {"reason", LQ_JSON_STRING, S_COPY},
    {"nominatedNodeName", LQ_JSON_STRING, S_COPY},
    {"hostIP", LQ_JSON_STRING, S_HOST},
    {"podIP", LQ_JSON_STRING, S_POD_IP},
    {"startTime", LQ_JSON_STRING, S_COPY},
    {"initContainerStatuses", LQ_JSON_ARRAY, S_COPY},
    {"containerStatuses", LQ_JSON_ARRAY, S_CONTAINERS},
    {"qosClass", LQ_JSON_STRING, S_KEEP},
    {"ephemeralContainerStatuses", LQ_JSON_ARRAY, S_COPY},
};

/* restartCount of a container status (absent: 0); LQ_EPROTO when not an integer. */
static lq_err_t restart_count(const lq_json_t *cs, int64_t *n)
{
    *n = 0;
    lq_err_t err = lq_json_int(lq_json_get(cs, "restartCount"), n);
    if (err == LQ_ENOTFOUND)
        return LQ_OK;
    return err == LQ_OK ? LQ_OK : LQ_EPROTO;
}

static int32_t add_sat(int64_t a, int64_t b)
{
    int64_t s = a + b;
    if (s > INT32_MAX)
        return INT32_MAX;
    if (s < INT32_MIN)
        return INT32_MIN;
    return (int32_t)s;
}

/* containerStatuses copied with restartCount + restarts. */
static lq_err_t container_statuses(lq_json_doc_t *doc, const lq_json_t *src, int32_t restarts,
                                   lq_json_t **out)
{
    lq_json_t *arr = lq_json_copy(doc, src);
    TRY(made(doc, arr));
    for (lq_json_t *c = lq_json_first(arr); c; c = lq_json_next(c)) {
        int64_t n = 0;
        lq_err_t err = lq_json_int(lq_json_get(c, "restartCount"), &n); /* checked before */
        if (restarts > 0 || err != LQ_OK)
            TRY(lq_json_obj_set(doc, c, "restartCount", lq_json_new_int(doc, add_sat(n, restarts))));
    }
    *out = arr;
    return LQ_OK;
}

static lq_err_t check_status(const lq_json_t *st)
{
    const lq_json_t *it;
    for (size_t i = 0; i < sizeof STATUS_FIELDS / sizeof STATUS_FIELDS[0]; i++)
        TRY(typed(st, STATUS_FIELDS[i].name, STATUS_FIELDS[i].type, &it));
    TRY(typed(st, "containerStatuses", LQ_JSON_ARRAY, &it));
    TRY(all_objects(it));
    for (const lq_json_t *c = lq_json_first(it); c; c = lq_json_next(c)) {
        int64_t n;
        TRY(restart_count(c, &n));
    }
    return LQ_OK;
}

lq_err_t lq_forge_pod_status_patch(lq_json_doc_t *doc, const lq_json_t *home,
                                   const lq_json_t *remote,
                                   const lq_forge_pod_status_params_t *params, lq_json_t **patch)
{
    if (patch)
        *patch = NULL;
    if (!doc || !home || !remote || !patch || !params || !nonempty(params->node_ip) ||
        params->restarts < 0)
        return LQ_EINVAL;
    home_meta_t m;
    const lq_json_t *rst;
    TRY(read_meta(home, &m));
    if (lq_json_type(remote) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    TRY(typed(remote, "status", LQ_JSON_OBJECT, &rst));
    TRY(check_status(rst));

    lq_json_t *root, *meta, *st;
    TRY(patch_root(doc, m.uid, &root, &meta));
    TRY(put_obj(doc, root, "status", &st));
    lq_json_str_t node_ip = {params->node_ip, strlen(params->node_ip)};
    for (size_t i = 0; i < sizeof STATUS_FIELDS / sizeof STATUS_FIELDS[0]; i++) {
        const status_field_t *f = &STATUS_FIELDS[i];
        const lq_json_t *src = lq_json_get(rst, f->name);
        lq_json_t *v;
        switch (f->how) {
        case S_HOST:
            TRY(put_view(doc, st, "hostIP", node_ip));
            TRY(put_ip_list(doc, st, "hostIPs", node_ip));
            continue;
        case S_POD_IP: {
            lq_json_str_t ip = {NULL, 0};
            if (params->reflect_ips && lq_json_str(src, &ip) == LQ_OK && ip.len > 0) {
                TRY(put_view(doc, st, "podIP", ip));
                TRY(put_ip_list(doc, st, "podIPs", ip));
            } else {
                TRY(lq_json_obj_add(doc, st, "podIP", lq_json_new_null(doc)));
                TRY(lq_json_obj_add(doc, st, "podIPs", lq_json_new_null(doc)));
            }
            continue;
        }
        case S_KEEP:
            if (absent(src))
                continue;
            v = lq_json_copy(doc, src);
            break;
        case S_CONTAINERS:
            if (absent(src))
                v = lq_json_new_null(doc);
            else
                TRY(container_statuses(doc, src, params->restarts, &v));
            break;
        case S_COPY:
        default:
            /* OffloadingAborted is the home side's verdict (never offloaded again): a
             * remote status must not be able to claim it (DESIGN.md Decision 17). */
            if (absent(src) || (strcmp(f->name, "reason") == 0 &&
                                lq_json_str_is(src, LQ_FORGE_POD_REASON_ABORTED)))
                v = lq_json_new_null(doc);
            else
                v = lq_json_copy(doc, src);
            break;
        }
        TRY(lq_json_obj_add(doc, st, f->name, v));
    }
    *patch = root;
    return LQ_OK;
}

/* ---- restarts ------------------------------------------------------------------------- */

static lq_err_t statuses_of(const lq_json_t *pod, const lq_json_t **out)
{
    const lq_json_t *st;
    *out = NULL;
    if (lq_json_type(pod) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    TRY(typed(pod, "status", LQ_JSON_OBJECT, &st));
    TRY(typed(st, "containerStatuses", LQ_JSON_ARRAY, out));
    return all_objects(*out);
}

lq_err_t lq_forge_pod_restarts_infer(const lq_json_t *home, const lq_json_t *remote,
                                     int32_t *offset)
{
    if (!home || !remote || !offset)
        return LQ_EINVAL;
    *offset = 0;
    const lq_json_t *hs, *rs;
    TRY(statuses_of(home, &hs));
    TRY(statuses_of(remote, &rs));
    const lq_json_t *first = lq_json_first(hs);
    if (!first)
        return LQ_OK;
    int64_t have;
    TRY(restart_count(first, &have));
    lq_json_str_t name;
    if (lq_json_str(lq_json_get(first, "name"), &name) != LQ_OK)
        return LQ_OK;
    for (const lq_json_t *c = lq_json_first(rs); c; c = lq_json_next(c)) {
        if (!lq_json_str_is(lq_json_get(c, "name"), name.p))
            continue;
        int64_t r;
        TRY(restart_count(c, &r));
        if (have - r > 0)
            *offset = add_sat(have, -r);
        return LQ_OK;
    }
    return LQ_OK;
}

lq_err_t lq_forge_pod_restarts_track(lq_forge_pod_restarts_t *st, const lq_json_t *home,
                                     const lq_json_t *remote, bool *changed)
{
    if (changed)
        *changed = false;
    if (!st || !home || !remote)
        return LQ_EINVAL;
    lq_json_str_t uid;
    if (lq_json_type(remote) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    TRY(need_str(lq_json_get(remote, "metadata"), "uid", &uid));
    if (uid.len >= sizeof st->remote_uid)
        return LQ_ETOOBIG;
    if (strlen(st->remote_uid) == uid.len && memcmp(st->remote_uid, uid.p, uid.len) == 0)
        return LQ_OK;
    int32_t offset;
    if (st->remote_uid[0] == '\0')
        TRY(lq_forge_pod_restarts_infer(home, remote, &offset));
    else
        offset = add_sat(st->offset, 1);
    if (changed)
        *changed = offset != st->offset;
    st->offset = offset;
    memcpy(st->remote_uid, uid.p, uid.len);
    st->remote_uid[uid.len] = '\0';
    return LQ_OK;
}

/* ---- ownership and lifecycle ----------------------------------------------------------- */

lq_forge_pod_owner_t lq_forge_pod_owner(const lq_json_t *remote, const char *home_id,
                                        const char *foreign_id, const char *home_uid)
{
    if (!nonempty(home_id) || !nonempty(foreign_id))
        return LQ_FORGE_POD_NOT_OURS;
    const lq_json_t *meta = lq_json_get(remote, "metadata");
    const lq_json_t *labels = lq_json_get(meta, "labels");
    if (!lq_json_str_is(lq_json_get(labels, lq_liqo_names()->origin), home_id) ||
        !lq_json_str_is(lq_json_get(labels, lq_liqo_names()->destination), foreign_id))
        return LQ_FORGE_POD_NOT_OURS;
    if (!home_uid)
        return LQ_FORGE_POD_OURS;
    const lq_json_t *tag = lq_json_get(lq_json_get(meta, "annotations"), LQ_FORGE_POD_ANN_HOME_UID);
    if (absent(tag))
        return LQ_FORGE_POD_UNTAGGED;
    return lq_json_str_is(tag, home_uid) ? LQ_FORGE_POD_OURS : LQ_FORGE_POD_STALE;
}

lq_err_t lq_forge_pod_recreate_allowed(const lq_json_t *home, bool *allowed)
{
    if (!home || !allowed)
        return LQ_EINVAL;
    *allowed = true;
    const lq_json_t *spec, *st, *policy, *phase;
    if (lq_json_type(home) != LQ_JSON_OBJECT)
        return LQ_EPROTO;
    TRY(typed(home, "spec", LQ_JSON_OBJECT, &spec));
    TRY(typed(home, "status", LQ_JSON_OBJECT, &st));
    TRY(typed(spec, "restartPolicy", LQ_JSON_STRING, &policy));
    TRY(typed(st, "phase", LQ_JSON_STRING, &phase));
    bool succeeded = lq_json_str_is(phase, "Succeeded"), failed = lq_json_str_is(phase, "Failed");
    if (lq_json_str_is(policy, "Never"))
        *allowed = !(succeeded || failed);
    else if (lq_json_str_is(policy, "OnFailure"))
        *allowed = !succeeded;
    return LQ_OK;
}

lq_err_t lq_forge_pod_root_ca_name(const char *home_id, char *out, size_t cap)
{
    return lq_forge_conf_remote_name(LQ_FORGE_CONF_CONFIGMAP, LQ_FORGE_CONF_ROOT_CA,
                                     sizeof LQ_FORGE_CONF_ROOT_CA - 1u, home_id, out, cap);
}

/* ---- change detection --------------------------------------------------------------------- */

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull
#define NUM_TEXT   64u /* printed numbers longer than this compare/hash as "long" */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_len(uint64_t h, size_t n)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    return fnv(h, b, sizeof b);
}

/* The printed text of a number; false when it is over NUM_TEXT. */
static bool num_text(const lq_json_t *n, char buf[NUM_TEXT], size_t *len)
{
    return lq_json_print(n, buf, NUM_TEXT, len) == LQ_OK;
}

static uint64_t hash_item(uint64_t h, const lq_json_t *it)
{
    unsigned char t = (unsigned char)lq_json_type(it);
    h = fnv(h, &t, 1);
    switch (lq_json_type(it)) {
    case LQ_JSON_STRING: {
        lq_json_str_t s;
        (void)lq_json_str(it, &s);
        return fnv(fnv_len(h, s.len), s.p, s.len);
    }
    case LQ_JSON_BOOL: {
        bool b = false;
        (void)lq_json_bool(it, &b);
        unsigned char c = b ? 1 : 0;
        return fnv(h, &c, 1);
    }
    case LQ_JSON_NUMBER: {
        char buf[NUM_TEXT];
        size_t n = 0;
        if (!num_text(it, buf, &n))
            return fnv(h, "~", 1);
        return fnv(fnv_len(h, n), buf, n);
    }
    case LQ_JSON_OBJECT:
    case LQ_JSON_ARRAY:
        h = fnv_len(h, lq_json_size(it));
        for (const lq_json_t *c = lq_json_first(it); c; c = lq_json_next(c)) {
            const char *k = lq_json_key(c);
            if (k)
                h = fnv(fnv_len(h, strlen(k)), k, strlen(k));
            h = hash_item(h, c);
        }
        return h;
    default:
        return h;
    }
}

uint64_t lq_forge_pod_hash(const lq_json_t *item)
{
    return hash_item(FNV_OFFSET, item);
}

static bool json_equal(const lq_json_t *a, const lq_json_t *b)
{
    lq_json_type_t t = lq_json_type(a);
    if (t != lq_json_type(b))
        return false;
    switch (t) {
    case LQ_JSON_STRING: {
        lq_json_str_t x, y;
        (void)lq_json_str(a, &x);
        (void)lq_json_str(b, &y);
        return x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
    }
    case LQ_JSON_BOOL: {
        bool x = false, y = false;
        (void)lq_json_bool(a, &x);
        (void)lq_json_bool(b, &y);
        return x == y;
    }
    case LQ_JSON_NUMBER: {
        int64_t x, y;
        if (lq_json_int(a, &x) == LQ_OK && lq_json_int(b, &y) == LQ_OK)
            return x == y;
        char bx[NUM_TEXT], by[NUM_TEXT];
        size_t nx, ny;
        return num_text(a, bx, &nx) && num_text(b, by, &ny) && nx == ny && memcmp(bx, by, nx) == 0;
    }
    case LQ_JSON_ARRAY: {
        if (lq_json_size(a) != lq_json_size(b))
            return false;
        const lq_json_t *y = lq_json_first(b);
        for (const lq_json_t *x = lq_json_first(a); x; x = lq_json_next(x), y = lq_json_next(y))
            if (!json_equal(x, y))
                return false;
        return true;
    }
    case LQ_JSON_OBJECT: {
        if (lq_json_size(a) != lq_json_size(b))
            return false;
        for (const lq_json_t *x = lq_json_first(a); x; x = lq_json_next(x))
            if (!json_equal(x, lq_json_get(b, lq_json_key(x))))
                return false;
        return true;
    }
    default: /* absent, null */
        return true;
    }
}

bool lq_forge_pod_patch_noop(const lq_json_t *target, const lq_json_t *patch)
{
    if (!patch)
        return true;
    if (lq_json_type(patch) != LQ_JSON_OBJECT)
        return json_equal(target, patch);
    if (lq_json_type(target) != LQ_JSON_OBJECT)
        return false;
    for (const lq_json_t *p = lq_json_first(patch); p; p = lq_json_next(p)) {
        const lq_json_t *t = lq_json_get(target, lq_json_key(p));
        if (lq_json_type(p) == LQ_JSON_NULL) {
            if (!absent(t))
                return false;
        } else if (!lq_forge_pod_patch_noop(t, p)) {
            return false;
        }
    }
    return true;
}
