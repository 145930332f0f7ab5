/* liqolet: credentials from kubeconfig files (libyaml document API) and from in-cluster
 * service-account files. The only file that includes yaml.h.
 *
 * Parsing happens at start-up only: libyaml builds a document tree with malloc, which is
 * the documented exception (before lq_pool_seal). The token refresh, which runs later,
 * never touches libyaml: it stats and reads one file into static scratch space.
 *
 * Merging follows kubectl: files are taken in $KUBECONFIG order, the first file that
 * sets current-context decides it, and for every name (context, cluster, user) the first
 * file that defines it wins. Relative paths are relative to the file that names them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "liqolet/port.h"

/* Largest kubeconfig file read (one at a time; the text is parsed into libyaml's tree
 * and the buffer reused for the next file). kubeadm's admin.conf is about 5.6 KiB. */
#ifndef LQ_KCFG_FILE_MAX
#define LQ_KCFG_FILE_MAX (64u * 1024u)
#endif
/* Files in a $KUBECONFIG list. */
#ifndef LQ_KCFG_FILES_MAX
#define LQ_KCFG_FILES_MAX 8u
#endif

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define WHERE_MAX (LQ_KCFG_PATH_MAX + LQ_KCFG_NAME_MAX + 48u)

static char file_buf[LQ_KCFG_FILE_MAX];
static char token_scratch[LQ_KCFG_TOKEN_MAX];

typedef struct kc_doc {
    char name[LQ_KCFG_PATH_MAX]; /* file path, or "kubeconfig text" */
    char dir[LQ_KCFG_PATH_MAX];  /* where relative paths resolve; "" = current directory */
    yaml_document_t doc;
    bool loaded;
    bool is_text; /* lq_kcfg_parse: no file */
} kc_doc_t;

/* Error text. Never given token or key bytes: callers pass names, paths and offsets. */
__attribute__((format(printf, 4, 5))) static lq_err_t fail(char *err, size_t cap, lq_err_t code,
                                                          const char *fmt, ...)
{
    if (err != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* --- small helpers -------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool contains(const unsigned char *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(p + i, needle, m) == 0)
            return true;
    return false;
}

static bool is_pem(const unsigned char *p, size_t n)
{
    return contains(p, n, "-----BEGIN ");
}

static bool lower_eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool prefix_ci(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && lower_eq(s, m, lit);
}

/* Copies n bytes plus a NUL; LQ_ETOOBIG when they do not fit. */
static lq_err_t copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        return LQ_ETOOBIG;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return LQ_OK;
}

/* Strips surrounding white space from a token in place and checks it can go into an HTTP
 * header: printable ASCII without spaces. Returns the new length, 0 when invalid. */
static size_t token_clean(char *t, size_t n)
{
    size_t a = 0;
    while (a < n && is_space(t[a]))
        a++;
    while (n > a && is_space(t[n - 1]))
        n--;
    n -= a;
    memmove(t, t + a, n);
    t[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return 0;
    return n;
}

/* --- base64 (standard alphabet, padded; white space between characters skipped) ------- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes into dst (cap bytes). Returns LQ_OK, LQ_EPROTO (invalid input: *bad is the
 * offset of the offending character, or n for a truncated end) or LQ_ETOOBIG. */
static lq_err_t b64_decode(const char *in, size_t n, unsigned char *dst, size_t cap,
                           size_t *out_len, size_t *bad)
{
    uint32_t acc = 0;
    unsigned q = 0, pad = 0;
    size_t o = 0;
    *out_len = 0;
    *bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_space((char)c))
            continue;
        if (c == '=') {
            if (q < 2 || q + pad >= 4) {
                *bad = i;
                return LQ_EPROTO;
            }
            pad++;
            continue;
        }
        int v = b64_val(c);
        if (v < 0 || pad > 0) {
            *bad = i;
            return LQ_EPROTO;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (++q == 4) {
            if (cap - o < 3)
                return LQ_ETOOBIG;
            dst[o++] = (unsigned char)(acc >> 16);
            dst[o++] = (unsigned char)(acc >> 8);
            dst[o++] = (unsigned char)acc;
            acc = 0;
            q = 0;
        }
    }
    if (q != 0) {
        if (q + pad != 4) {
            *bad = n;
            return LQ_EPROTO;
        }
        size_t extra = q - 1u; /* 2 chars -> 1 byte, 3 chars -> 2 bytes */
        if (cap - o < extra)
            return LQ_ETOOBIG;
        acc <<= 6u * pad;
        dst[o++] = (unsigned char)(acc >> 16);
        if (extra == 2)
            dst[o++] = (unsigned char)(acc >> 8);
    }
    *out_len = o;
    return LQ_OK;
}

/* --- YAML node access ------------------------------------------------------------------ */

static yaml_node_t *node_at(yaml_document_t *d, int id)
{
    return yaml_document_get_node(d, id);
}

/* Absent, null ("~", "null", empty) or an empty string all mean "not set". */
static bool is_unset(const yaml_node_t *n)
{
    if (n == NULL)
        return true;
    if (n->type != YAML_SCALAR_NODE)
        return false;
    size_t len = n->data.scalar.length;
    if (len == 0)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return (len == 1 && v[0] == '~') || lower_eq(v, len, "null");
}

static bool scalar_eq(const yaml_node_t *n, const char *s, size_t len)
{
    return n != NULL && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* Value of key in a mapping node (first occurrence), or NULL. */
static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    size_t klen = strlen(key);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
        if (scalar_eq(node_at(d, p->key), key, klen))
            return node_at(d, p->value);
    return NULL;
}

/* Where a field lives, for messages: `cluster "home" in /etc/kube/config`. */
typedef struct kc_where {
    const kc_doc_t *doc;
    char text[WHERE_MAX];
} kc_where_t;

static void where_set(kc_where_t *w, const kc_doc_t *doc, const char *kind, const char *name)
{
    w->doc = doc;
    (void)snprintf(w->text, sizeof w->text, "%s \"%s\" in %s", kind, name, doc->name);
}

/* A string field: *s and *n point into the document (not NUL-terminated; never contains a
 * NUL). *s is NULL when the field is unset. */
static lq_err_t get_str(yaml_document_t *d, yaml_node_t *map, const char *key, const char **s,
                        size_t *n, const kc_where_t *w, char *err, size_t cap)
{
    yaml_node_t *v = map_get(d, map, key);
    *s = NULL;
    *n = 0;
    if (is_unset(v))
        return LQ_OK;
    if (v->type != YAML_SCALAR_NODE)
        return fail(err, cap, LQ_ECONFIG, "%s of %s must be a string, not a %s", key, w->text,
                    v->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (memchr(v->data.scalar.value, '\0', v->data.scalar.length) != NULL)
        return fail(err, cap, LQ_ECONFIG, "%s of %s contains a NUL character", key, w->text);
    *s = (const char *)v->data.scalar.value;
    *n = v->data.scalar.length;
    return LQ_OK;
}

/* A string field copied into a fixed field; unset leaves dst empty. */
static lq_err_t get_str_into(yaml_document_t *d, yaml_node_t *map, const char *key, char *dst,
                             size_t dcap, const kc_where_t *w, char *err, size_t cap)
{
    const char *s;
    size_t n;
    lq_err_t r = get_str(d, map, key, &s, &n, w, err, cap);
    if (r != LQ_OK || s == NULL)
        return r;
    if (copy_str(dst, dcap, s, n) != LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "%s of %s is longer than %zu bytes", key, w->text,
                    dcap - 1);
    return LQ_OK;
}

static lq_err_t get_bool(yaml_document_t *d, yaml_node_t *map, const char *key, bool *out,
                         const kc_where_t *w, char *err, size_t cap)
{
    yaml_node_t *v = map_get(d, map, key);
    *out = false;
    if (is_unset(v))
        return LQ_OK;
    if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = (const char *)v->data.scalar.value;
        size_t n = v->data.scalar.length;
        if (lower_eq(s, n, "true") || lower_eq(s, n, "yes") || lower_eq(s, n, "on")) {
            *out = true;
            return LQ_OK;
        }
        if (lower_eq(s, n, "false") || lower_eq(s, n, "no") || lower_eq(s, n, "off"))
            return LQ_OK;
    }
    return fail(err, cap, LQ_ECONFIG, "%s of %s must be true or false (unquoted)", key, w->text);
}

/* --- entries --------------------------------------------------------------------------- */

static lq_err_t check_root(kc_doc_t *doc, char *err, size_t cap)
{
    yaml_node_t *root = yaml_document_get_root_node(&doc->doc);
    if (root != NULL && root->type != YAML_MAPPING_NODE && !is_unset(root))
        return fail(err, cap, LQ_ECONFIG,
                    "%s is not a kubeconfig: its top level must be a mapping (apiVersion, "
                    "clusters, contexts, users, current-context)",
                    doc->name);
    static const char *const lists[] = { "clusters", "contexts", "users" };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        yaml_node_t *l = map_get(&doc->doc, root, lists[i]);
        if (is_unset(l))
            continue;
        if (l->type != YAML_SEQUENCE_NODE)
            return fail(err, cap, LQ_ECONFIG, "%s of %s must be a list of entries with a name",
                        lists[i], doc->name);
        for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top;
             it++) {
            yaml_node_t *e = node_at(&doc->doc, *it);
            yaml_node_t *nm = map_get(&doc->doc, e, "name");
            if (e == NULL || e->type != YAML_MAPPING_NODE || nm == NULL ||
                nm->type != YAML_SCALAR_NODE)
                return fail(err, cap, LQ_ECONFIG,
                            "entry %d of %s in %s must be a mapping with a name",
                            (int)(it - l->data.sequence.items.start) + 1, lists[i], doc->name);
        }
    }
    return LQ_OK;
}

/* Looks for the entry `name` in list `list` ("clusters"): returns its inner mapping
 * (`cluster:`; may be NULL when empty) and the document defining it, first file first. */
static bool find_entry(kc_doc_t *docs, size_t ndocs, const char *list, const char *inner,
                       const char *name, kc_doc_t **doc_out, yaml_node_t **node_out)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < ndocs; i++) {
        yaml_document_t *d = &docs[i].doc;
        yaml_node_t *l = map_get(d, yaml_document_get_root_node(d), list);
        if (l == NULL || l->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top;
             it++) {
            yaml_node_t *e = node_at(d, *it);
            if (scalar_eq(map_get(d, e, "name"), name, nlen)) {
                *doc_out = &docs[i];
                *node_out = map_get(d, e, inner);
                return true;
            }
        }
    }
    return false;
}

static lq_err_t join_path(const kc_doc_t *doc, const char *p, size_t n, char *dst, size_t dcap)
{
    if (p[0] == '/' || doc->dir[0] == '\0')
        return copy_str(dst, dcap, p, n);
    size_t dl = strlen(doc->dir);
    bool slash = doc->dir[dl - 1] == '/';
    size_t total = dl + (slash ? 0u : 1u) + n;
    if (total >= dcap)
        return LQ_ETOOBIG;
    memcpy(dst, doc->dir, dl);
    if (!slash)
        dst[dl++] = '/';
    memcpy(dst + dl, p, n);
    dst[total] = '\0';
    return LQ_OK;
}

/* Reads a certificate or key file into a fixed field: PEM gets its NUL counted. */
static lq_err_t read_blob_file(const char *path, const char *key, const kc_where_t *w,
                               unsigned char *dst, size_t *len, char *err, size_t cap)
{
    size_t n = 0;
    unsigned mode = 0600;
    bool other_owner = false, secret = strcmp(key, "client-key") == 0;
    lq_err_t r = secret ? lq_port_file_read_secret(path, (char *)dst, LQ_KCFG_PEM_MAX, &n, &mode,
                                                   &other_owner)
                        : lq_port_file_read(path, (char *)dst, LQ_KCFG_PEM_MAX, &n);
    if (r == LQ_OK && (mode & 077u || other_owner)) {
        /* As ssh does with private keys: a key others can read, or one that someone
         * else controls, is not an identity this agent can vouch for. */
        memset(dst, 0, n);
        if (other_owner)
            return fail(err, cap, LQ_ECONFIG, "%s %s of %s belongs to another user; it must be "
                        "this user's or root's", key, path, w->text);
        return fail(err, cap, LQ_ECONFIG, "%s %s of %s is open to group or others (mode %04o): "
                    "anyone on this host could use the identity; chmod 600 %s (a Kubernetes "
                    "Secret volume: defaultMode 0400)", key, path, w->text, mode, path);
    }
    switch (r) {
    case LQ_OK:
        break;
    case LQ_ENOTFOUND:
        return fail(err, cap, LQ_ENOTFOUND, "%s %s of %s does not exist", key, path, w->text);
    case LQ_ETOOBIG:
        return fail(err, cap, LQ_ETOOBIG, "%s %s of %s is larger than %u bytes", key, path,
                    w->text, LQ_KCFG_PEM_MAX - 1u);
    case LQ_EFORBIDDEN:
        return fail(err, cap, LQ_ECONFIG, "%s %s of %s cannot be read: permission denied", key,
                    path, w->text);
    default:
        return fail(err, cap, LQ_ECONFIG, "%s %s of %s cannot be read: %s", key, path, w->text,
                    lq_err_str(r));
    }
    if (n == 0)
        return fail(err, cap, LQ_ECONFIG, "%s %s of %s is empty", key, path, w->text);
    /* lq_port_file_read left a NUL at dst[n] (n <= cap - 1). */
    *len = is_pem(dst, n) ? n + 1u : n;
    return LQ_OK;
}

/* A certificate or key given as `<key>-data` (base64, preferred as kubectl does) or as
 * `<key>` (a file). */
static lq_err_t get_blob(yaml_document_t *d, yaml_node_t *map, const char *key,
                         const kc_where_t *w, unsigned char *dst, size_t *len, char *err,
                         size_t cap)
{
    char data_key[48];
    (void)snprintf(data_key, sizeof data_key, "%s-data", key);
    const char *s;
    size_t n;
    lq_err_t r = get_str(d, map, data_key, &s, &n, w, err, cap);
    if (r != LQ_OK)
        return r;
    if (s != NULL) {
        size_t out = 0, bad = 0;
        r = b64_decode(s, n, dst, LQ_KCFG_PEM_MAX, &out, &bad);
        if (r == LQ_ETOOBIG)
            return fail(err, cap, LQ_ETOOBIG, "%s of %s decodes to more than %u bytes", data_key,
                        w->text, LQ_KCFG_PEM_MAX - 1u);
        if (r != LQ_OK) {
            if (bad >= n)
                return fail(err, cap, LQ_ECONFIG,
                            "%s of %s is not valid base64: it ends in the middle of a group "
                            "(truncated or missing '=' padding)",
                            data_key, w->text);
            return fail(err, cap, LQ_ECONFIG,
                        "%s of %s is not valid base64 (bad character at offset %zu); encode "
                        "the file with `base64 -w0`",
                        data_key, w->text, bad);
        }
        if (out == 0)
            return fail(err, cap, LQ_ECONFIG, "%s of %s decodes to nothing", data_key, w->text);
        if (is_pem(dst, out)) {
            if (out >= LQ_KCFG_PEM_MAX)
                return fail(err, cap, LQ_ETOOBIG, "%s of %s decodes to more than %u bytes",
                            data_key, w->text, LQ_KCFG_PEM_MAX - 1u);
            dst[out++] = '\0';
        }
        *len = out;
        return LQ_OK;
    }
    r = get_str(d, map, key, &s, &n, w, err, cap);
    if (r != LQ_OK || s == NULL)
        return r;
    char path[LQ_KCFG_PATH_MAX];
    if (join_path(w->doc, s, n, path, sizeof path) != LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "%s of %s: the path is longer than %u bytes", key,
                    w->text, LQ_KCFG_PATH_MAX - 1u);
    return read_blob_file(path, key, w, dst, len, err, cap);
}

/* Splits https://host[:port][/prefix] into the fixed fields. */
static lq_err_t parse_server(lq_kcfg_t *o, const char *s, size_t n, const kc_where_t *w,
                             char *err, size_t cap)
{
    if (copy_str(o->server, sizeof o->server, s, n) != LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "server of %s is longer than %zu bytes", w->text,
                    sizeof o->server - 1);
    if (prefix_ci(s, n, "http://"))
        return fail(err, cap, LQ_ECONFIG,
                    "server %s of %s uses plain http; liqolet only talks to API servers over "
                    "https: use the https:// address",
                    o->server, w->text);
    if (!prefix_ci(s, n, "https://"))
        return fail(err, cap, LQ_ECONFIG,
                    "server %s of %s is not an https:// URL (expected https://host[:port])",
                    o->server, w->text);
    const char *p = s + 8, *end = s + n;
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
        return fail(err, cap, LQ_ECONFIG,
                    "server %s of %s has user information before the host; remove it and use "
                    "a token or client certificate",
                    o->server, w->text);
    const char *host, *host_end, *port_start = NULL;
    if (p < auth_end && *p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (host_end == NULL)
            return fail(err, cap, LQ_ECONFIG, "server %s of %s has an unclosed '[' in the host",
                        o->server, w->text);
        for (const char *c = host; c < host_end; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
                  (*c >= 'A' && *c <= 'F') || *c == ':' || *c == '.'))
                return fail(err, cap, LQ_ECONFIG,
                            "server %s of %s: the bracketed host is not an IPv6 address",
                            o->server, w->text);
        if (host_end + 1 < auth_end) {
            if (host_end[1] != ':')
                return fail(err, cap, LQ_ECONFIG,
                            "server %s of %s: unexpected text after the IPv6 address", o->server,
                            w->text);
            port_start = host_end + 2;
        }
    } else {
        host = p;
        host_end = memchr(p, ':', (size_t)(auth_end - p));
        if (host_end == NULL) {
            host_end = auth_end;
        } else {
            port_start = host_end + 1;
            if (memchr(port_start, ':', (size_t)(auth_end - port_start)) != NULL)
                return fail(err, cap, LQ_ECONFIG,
                            "server %s of %s: an IPv6 address must be written in brackets, "
                            "as https://[::1]:6443",
                            o->server, w->text);
        }
        for (const char *c = host; c < host_end; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= 'A' && *c <= 'Z') || *c == '.' || *c == '-' || *c == '_'))
                return fail(err, cap, LQ_ECONFIG,
                            "server %s of %s: the host contains a character not allowed in a "
                            "host name",
                            o->server, w->text);
    }
    if (host_end == host)
        return fail(err, cap, LQ_ECONFIG, "server %s of %s has no host", o->server, w->text);
    if (copy_str(o->host, sizeof o->host, host, (size_t)(host_end - host)) != LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "the host in server of %s is longer than %zu bytes",
                    w->text, sizeof o->host - 1);
    o->port = 443;
    if (port_start != NULL) {
        uint32_t v = 0;
        size_t digits = (size_t)(auth_end - port_start);
        for (const char *c = port_start; c < auth_end; c++) {
            if (*c < '0' || *c > '9' || v > 65535u) {
                digits = 0;
                break;
            }
            v = v * 10u + (uint32_t)(*c - '0');
        }
        if (digits == 0 || v == 0 || v > 65535u)
            return fail(err, cap, LQ_ECONFIG, "server %s of %s has an invalid port (1-65535)",
                        o->server, w->text);
        o->port = (uint16_t)v;
    }
    const char *path_end = auth_end;
    while (path_end < end && *path_end != '?' && *path_end != '#')
        path_end++;
    if (path_end != end)
        return fail(err, cap, LQ_ECONFIG,
                    "server %s of %s has a query or fragment; give only https://host[:port][/path]",
                    o->server, w->text);
    while (path_end > auth_end && path_end[-1] == '/')
        path_end--;
    if (copy_str(o->path_prefix, sizeof o->path_prefix, auth_end, (size_t)(path_end - auth_end)) !=
        LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "the path of server of %s is longer than %zu bytes",
                    w->text, sizeof o->path_prefix - 1);
    return LQ_OK;
}

static lq_err_t parse_cluster(lq_kcfg_t *o, kc_doc_t *doc, yaml_node_t *c, const char *name,
                              char *err, size_t cap)
{
    yaml_document_t *d = &doc->doc;
    kc_where_t w;
    where_set(&w, doc, "cluster", name);
    if (c != NULL && c->type != YAML_MAPPING_NODE && !is_unset(c))
        return fail(err, cap, LQ_ECONFIG, "the cluster field of %s must be a mapping", w.text);
    const char *s;
    size_t n;
    lq_err_t r = get_str(d, c, "proxy-url", &s, &n, &w, err, cap);
    if (r != LQ_OK)
        return r;
    if (s != NULL)
        return fail(err, cap, LQ_ENOTSUP,
                    "%s sets proxy-url: proxy-url is not supported yet; remove it and let "
                    "liqolet reach the API server directly",
                    w.text);
    r = get_str(d, c, "server", &s, &n, &w, err, cap);
    if (r != LQ_OK)
        return r;
    if (s == NULL)
        return fail(err, cap, LQ_ECONFIG, "%s has no server; add server: https://host:port",
                    w.text);
    if ((r = parse_server(o, s, n, &w, err, cap)) != LQ_OK)
        return r;
    if ((r = get_str_into(d, c, "tls-server-name", o->tls_server_name, sizeof o->tls_server_name,
                          &w, err, cap)) != LQ_OK)
        return r;
    if ((r = get_bool(d, c, "insecure-skip-tls-verify", &o->insecure_skip_tls_verify, &w, err,
                      cap)) != LQ_OK)
        return r;
    if ((r = get_blob(d, c, "certificate-authority", &w, o->ca, &o->ca_len, err, cap)) != LQ_OK)
        return r;
    if (o->insecure_skip_tls_verify && o->ca_len > 0)
        return fail(err, cap, LQ_ECONFIG,
                    "%s sets both a certificate authority and insecure-skip-tls-verify; "
                    "remove one of them (kubectl refuses this too)",
                    w.text);
    return LQ_OK;
}

static lq_err_t parse_user(lq_kcfg_t *o, kc_doc_t *doc, yaml_node_t *u, const char *name,
                           char *err, size_t cap)
{
    yaml_document_t *d = &doc->doc;
    kc_where_t w;
    where_set(&w, doc, "user", name);
    if (u != NULL && u->type != YAML_MAPPING_NODE && !is_unset(u))
        return fail(err, cap, LQ_ECONFIG, "the user field of %s must be a mapping", w.text);
    if (!is_unset(map_get(d, u, "exec")))
        return fail(err, cap, LQ_ENOTSUP,
                    "%s uses an exec plugin; liqolet does not support them; use a token or a "
                    "client certificate",
                    w.text);
    if (!is_unset(map_get(d, u, "auth-provider")))
        return fail(err, cap, LQ_ENOTSUP,
                    "%s uses an auth-provider; liqolet does not support them; use a token or a "
                    "client certificate",
                    w.text);
    if (!is_unset(map_get(d, u, "username")) || !is_unset(map_get(d, u, "password")))
        return fail(err, cap, LQ_ENOTSUP,
                    "%s uses a username and password (basic auth), which Kubernetes no longer "
                    "accepts; use a token or a client certificate",
                    w.text);
    lq_err_t r = get_blob(d, u, "client-certificate", &w, o->cert, &o->cert_len, err, cap);
    if (r != LQ_OK)
        return r;
    if ((r = get_blob(d, u, "client-key", &w, o->key, &o->key_len, err, cap)) != LQ_OK)
        return r;
    if (o->cert_len > 0 && o->key_len == 0)
        return fail(err, cap, LQ_ECONFIG,
                    "%s has a client certificate but no client-key or client-key-data", w.text);
    if (o->key_len > 0 && o->cert_len == 0)
        return fail(err, cap, LQ_ECONFIG,
                    "%s has a client key but no client-certificate or client-certificate-data",
                    w.text);
    const char *s;
    size_t n;
    if ((r = get_str(d, u, "tokenFile", &s, &n, &w, err, cap)) != LQ_OK)
        return r;
    if (s != NULL) {
        /* As client-go: the file, re-read when it changes, wins over an inline token. */
        if (join_path(doc, s, n, o->token_file, sizeof o->token_file) != LQ_OK)
            return fail(err, cap, LQ_ETOOBIG, "tokenFile of %s: the path is longer than %u bytes",
                        w.text, LQ_KCFG_PATH_MAX - 1u);
        bool changed;
        r = lq_kcfg_token_refresh(o, true, &changed);
        if (r == LQ_ENOTFOUND)
            return fail(err, cap, LQ_ENOTFOUND, "tokenFile %s of %s does not exist",
                        o->token_file, w.text);
        if (r == LQ_ETOOBIG)
            return fail(err, cap, LQ_ETOOBIG, "tokenFile %s of %s is larger than %u bytes",
                        o->token_file, w.text, LQ_KCFG_TOKEN_MAX - 1u);
        if (r != LQ_OK || o->token_len == 0)
            return fail(err, cap, LQ_ECONFIG,
                        "tokenFile %s of %s cannot be used: it is unreadable, empty, or the "
                        "token has spaces or control characters",
                        o->token_file, w.text);
        return LQ_OK;
    }
    if ((r = get_str(d, u, "token", &s, &n, &w, err, cap)) != LQ_OK)
        return r;
    if (s != NULL) {
        if (copy_str(o->token, sizeof o->token, s, n) != LQ_OK)
            return fail(err, cap, LQ_ETOOBIG, "token of %s is longer than %u bytes", w.text,
                        LQ_KCFG_TOKEN_MAX - 1u);
        o->token_len = token_clean(o->token, n);
        if (o->token_len == 0)
            return fail(err, cap, LQ_ECONFIG,
                        "token of %s is empty or contains spaces or control characters", w.text);
    }
    return LQ_OK;
}

static void register_secrets(const lq_kcfg_t *o)
{
    if (o->token_len > 0)
        (void)lq_log_secret_add(o->token, o->token_len);
    if (o->key_len > 0) {
        /* The NUL that PEM carries for mbedTLS would keep the text from ever matching. */
        size_t n = o->key_len;
        if (o->key[n - 1] == '\0')
            n--;
        (void)lq_log_secret_add((const char *)o->key, n);
    }
}

/* Picks context, cluster and user across the loaded documents. `set` names them all. */
static lq_err_t resolve(lq_kcfg_t *o, kc_doc_t *docs, size_t ndocs, const char *set,
                        const char *context, char *err, size_t cap)
{
    lq_err_t r;
    for (size_t i = 0; i < ndocs; i++)
        if ((r = check_root(&docs[i], err, cap)) != LQ_OK)
            return r;
    if (context == NULL || context[0] == '\0') {
        const kc_doc_t *from = NULL;
        for (size_t i = 0; i < ndocs && from == NULL; i++) {
            yaml_document_t *d = &docs[i].doc;
            kc_where_t w = { &docs[i], "" };
            memcpy(w.text, docs[i].name, strlen(docs[i].name) + 1u);
            const char *s;
            size_t n;
            if ((r = get_str(d, yaml_document_get_root_node(d), "current-context", &s, &n, &w, err,
                             cap)) != LQ_OK)
                return r;
            if (s == NULL)
                continue;
            if (copy_str(o->context, sizeof o->context, s, n) != LQ_OK)
                return fail(err, cap, LQ_ETOOBIG, "current-context of %s is longer than %zu bytes",
                            docs[i].name, sizeof o->context - 1);
            from = &docs[i];
        }
        if (from == NULL)
            return fail(err, cap, LQ_ENOTFOUND,
                        "%s sets no current-context; name a context or run `kubectl config "
                        "use-context NAME`",
                        set);
    } else if (copy_str(o->context, sizeof o->context, context, strlen(context)) != LQ_OK) {
        return fail(err, cap, LQ_ETOOBIG, "the context name is longer than %zu bytes",
                    sizeof o->context - 1);
    }

    kc_doc_t *cdoc;
    yaml_node_t *cnode;
    if (!find_entry(docs, ndocs, "contexts", "context", o->context, &cdoc, &cnode))
        return fail(err, cap, LQ_ENOTFOUND, "context \"%s\" is not defined in %s", o->context, set);
    kc_where_t w;
    where_set(&w, cdoc, "context", o->context);
    if (cnode != NULL && cnode->type != YAML_MAPPING_NODE && !is_unset(cnode))
        return fail(err, cap, LQ_ECONFIG, "the context field of %s must be a mapping", w.text);
    char cluster[LQ_KCFG_NAME_MAX + 1u] = "", user[LQ_KCFG_NAME_MAX + 1u] = "";
    if ((r = get_str_into(&cdoc->doc, cnode, "cluster", cluster, sizeof cluster, &w, err, cap)) !=
            LQ_OK ||
        (r = get_str_into(&cdoc->doc, cnode, "user", user, sizeof user, &w, err, cap)) != LQ_OK)
        return r;
    if (cluster[0] == '\0')
        return fail(err, cap, LQ_ECONFIG, "%s names no cluster; add cluster: NAME", w.text);
    (void)snprintf(o->origin, sizeof o->origin, "%s%s (context %s)",
                   cdoc->is_text ? "" : "kubeconfig ", cdoc->name, o->context);

    kc_doc_t *kdoc;
    yaml_node_t *knode;
    if (!find_entry(docs, ndocs, "clusters", "cluster", cluster, &kdoc, &knode))
        return fail(err, cap, LQ_ENOTFOUND, "%s names cluster \"%s\", which is not defined in %s",
                    w.text, cluster, set);
    if ((r = parse_cluster(o, kdoc, knode, cluster, err, cap)) != LQ_OK)
        return r;
    if (user[0] != '\0') {
        if (!find_entry(docs, ndocs, "users", "user", user, &kdoc, &knode))
            return fail(err, cap, LQ_ENOTFOUND, "%s names user \"%s\", which is not defined in %s",
                        w.text, user, set);
        if ((r = parse_user(o, kdoc, knode, user, err, cap)) != LQ_OK)
            return r;
    }
    return LQ_OK;
}

/* Parses text into doc->doc. doc->name must be set. */
static lq_err_t load_doc(kc_doc_t *doc, const char *text, size_t len, char *err, size_t cap)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return fail(err, cap, LQ_ENOMEM, "out of memory parsing %s", doc->name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    lq_err_t r = LQ_OK;
    if (!yaml_parser_load(&p, &doc->doc)) {
        if (p.error == YAML_MEMORY_ERROR)
            r = fail(err, cap, LQ_ENOMEM, "out of memory parsing %s", doc->name);
        else
            r = fail(err, cap, LQ_ECONFIG, "%s is not valid YAML: %s at line %lu column %lu",
                     doc->name, p.problem != NULL ? p.problem : "syntax error",
                     (unsigned long)p.problem_mark.line + 1ul,
                     (unsigned long)p.problem_mark.column + 1ul);
    } else {
        doc->loaded = true;
    }
    yaml_parser_delete(&p);
    return r;
}

static void set_dir(kc_doc_t *doc, const char *path)
{
    const char *slash = strrchr(path, '/');
    doc->dir[0] = '\0';
    if (slash == NULL)
        return;
    size_t n = slash == path ? 1u : (size_t)(slash - path);
    memcpy(doc->dir, path, n); /* path fits in LQ_KCFG_PATH_MAX, so does its prefix */
    doc->dir[n] = '\0';
}

static lq_err_t finish(lq_kcfg_t *out, lq_err_t r)
{
    if (r == LQ_OK)
        register_secrets(out);
    else
        memset(out, 0, sizeof *out); /* no half-filled credentials, no stray key bytes */
    return r;
}

lq_err_t lq_kcfg_parse(lq_kcfg_t *out, const char *yaml, size_t len, const char *base_dir,
                       const char *context, char *err, size_t cap)
{
    static kc_doc_t doc;
    if (err != NULL && cap > 0)
        err[0] = '\0';
    if (out == NULL || (yaml == NULL && len > 0))
        return fail(err, cap, LQ_EINVAL, "no kubeconfig given");
    memset(out, 0, sizeof *out);
    memset(&doc, 0, sizeof doc);
    (void)snprintf(doc.name, sizeof doc.name, "kubeconfig text");
    doc.is_text = true;
    if (base_dir != NULL && copy_str(doc.dir, sizeof doc.dir, base_dir, strlen(base_dir)) != LQ_OK)
        return fail(err, cap, LQ_ETOOBIG, "base directory is longer than %u bytes",
                    LQ_KCFG_PATH_MAX - 1u);
    lq_err_t r = load_doc(&doc, yaml != NULL ? yaml : "", len, err, cap);
    if (r == LQ_OK)
        r = resolve(out, &doc, 1, doc.name, context, err, cap);
    if (doc.loaded)
        yaml_document_delete(&doc.doc);
    return finish(out, r);
}

lq_err_t lq_kcfg_load(lq_kcfg_t *out, const char *path, const char *context, char *err, size_t cap)
{
    static kc_doc_t docs[LQ_KCFG_FILES_MAX];
    char list[LQ_KCFG_FILES_MAX * LQ_KCFG_PATH_MAX];
    char set[64];
    size_t ndocs = 0, nseen = 0, used = 0;
    lq_err_t r = LQ_OK;

    if (err != NULL && cap > 0)
        err[0] = '\0';
    if (out == NULL)
        return fail(err, cap, LQ_EINVAL, "no output given");
    memset(out, 0, sizeof *out);
    memset(docs, 0, sizeof docs);

    /* The candidate files, '\n'-separated in list. */
    const char *env = lq_port_getenv("KUBECONFIG");
    bool from_env = false;
    if (path != NULL && path[0] != '\0') {
        if (copy_str(list, sizeof list, path, strlen(path)) != LQ_OK)
            return fail(err, cap, LQ_ETOOBIG, "kubeconfig path is too long");
        set[0] = '\0'; /* one file: messages name it */
    } else if (env != NULL && env[0] != '\0') {
        if (copy_str(list, sizeof list, env, strlen(env)) != LQ_OK)
            return fail(err, cap, LQ_ETOOBIG, "$KUBECONFIG is longer than %zu bytes",
                        sizeof list - 1);
        for (char *c = list; *c != '\0'; c++)
            if (*c == ':')
                *c = '\n';
        from_env = true;
        (void)snprintf(set, sizeof set, "the files of $KUBECONFIG");
    } else {
        const char *home = lq_port_getenv("HOME");
        if (home == NULL || home[0] == '\0')
            return fail(err, cap, LQ_ENOTFOUND,
                        "no kubeconfig: pass its path or set $KUBECONFIG ($HOME is not set, so "
                        "~/.kube/config cannot be used)");
        int m = snprintf(list, sizeof list, "%s/.kube/config", home);
        if (m < 0 || (size_t)m >= LQ_KCFG_PATH_MAX)
            return fail(err, cap, LQ_ETOOBIG, "$HOME is too long");
        set[0] = '\0';
    }

    for (char *p = list; *p != '\0' && r == LQ_OK;) {
        char *e = strchr(p, '\n');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        char *next = e != NULL ? e + 1 : p + n;
        if (n == 0) {
            p = next;
            continue;
        }
        nseen++;
        if (ndocs == LQ_KCFG_FILES_MAX) {
            r = fail(err, cap, LQ_ETOOBIG, "$KUBECONFIG names more than %u files",
                     LQ_KCFG_FILES_MAX);
            break;
        }
        kc_doc_t *doc = &docs[ndocs];
        if (copy_str(doc->name, sizeof doc->name, p, n) != LQ_OK) {
            r = fail(err, cap, LQ_ETOOBIG, "a kubeconfig path is longer than %u bytes",
                     LQ_KCFG_PATH_MAX - 1u);
            break;
        }
        p = next;
        set_dir(doc, doc->name);
        size_t flen = 0;
        lq_err_t fr = lq_port_file_read(doc->name, file_buf, sizeof file_buf, &flen);
        if (fr == LQ_ENOTFOUND && from_env)
            continue; /* kubectl skips missing files in the list */
        if (fr == LQ_ENOTFOUND)
            r = fail(err, cap, LQ_ENOTFOUND, "kubeconfig %s does not exist", doc->name);
        else if (fr == LQ_ETOOBIG)
            r = fail(err, cap, LQ_ETOOBIG, "kubeconfig %s is larger than %u bytes", doc->name,
                     LQ_KCFG_FILE_MAX - 1u);
        else if (fr == LQ_EFORBIDDEN)
            r = fail(err, cap, LQ_ECONFIG,
                     "kubeconfig %s cannot be read: permission denied; check its owner and mode",
                     doc->name);
        else if (fr != LQ_OK)
            r = fail(err, cap, LQ_ECONFIG, "kubeconfig %s cannot be read: %s", doc->name,
                     lq_err_str(fr));
        else
            r = load_doc(doc, file_buf, flen, err, cap);
        if (flen + 1u > used)
            used = flen + 1u;
        ndocs++;
    }
    /* It held keys and tokens. Only the bytes used: untouched pages stay out of RSS. */
    memset(file_buf, 0, used < sizeof file_buf ? used : sizeof file_buf);
    if (r == LQ_OK && ndocs == 0)
        r = fail(err, cap, LQ_ENOTFOUND, "none of the %zu files in $KUBECONFIG exists", nseen);
    if (r == LQ_OK)
        r = resolve(out, docs, ndocs, ndocs == 1 ? docs[0].name : set, context, err, cap);
    for (size_t i = 0; i < ndocs; i++)
        if (docs[i].loaded)
            yaml_document_delete(&docs[i].doc);
    return finish(out, r);
}

lq_err_t lq_kcfg_in_cluster(lq_kcfg_t *out, char *err, size_t cap)
{
    if (err != NULL && cap > 0)
        err[0] = '\0';
    if (out == NULL)
        return fail(err, cap, LQ_EINVAL, "no output given");
    memset(out, 0, sizeof *out);
    const char *host = lq_port_getenv("KUBERNETES_SERVICE_HOST");
    const char *port = lq_port_getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
        return fail(err, cap, LQ_ENOTFOUND,
                    "not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                    "are not set; give a kubeconfig instead");
    const char *dir = lq_port_getenv("LIQOLET_SA_DIR");
    if (dir == NULL || dir[0] == '\0')
        dir = SA_DIR_DEFAULT;
    (void)snprintf(out->origin, sizeof out->origin, "in-cluster service account");
    out->in_cluster = true;
    char url[LQ_KCFG_PATH_MAX];
    bool v6 = strchr(host, ':') != NULL;
    int m = snprintf(url, sizeof url, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                     port);
    if (m < 0 || (size_t)m >= sizeof url)
        return finish(out, fail(err, cap, LQ_ECONFIG,
                                "KUBERNETES_SERVICE_HOST/PORT are too long for a server URL"));
    kc_doc_t pseudo;
    memset(&pseudo, 0, sizeof pseudo);
    (void)snprintf(pseudo.name, sizeof pseudo.name, "the pod environment");
    kc_where_t w;
    where_set(&w, &pseudo, "service", "kubernetes");
    lq_err_t r = parse_server(out, url, (size_t)m, &w, err, cap);
    if (r != LQ_OK)
        return finish(out, fail(err, cap, LQ_ECONFIG,
                                "KUBERNETES_SERVICE_HOST=%s / KUBERNETES_SERVICE_PORT=%s do not "
                                "form a valid https URL",
                                host, port));
    char ca[LQ_KCFG_PATH_MAX];
    m = snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    int m2 = snprintf(out->token_file, sizeof out->token_file, "%s/token", dir);
    if (m < 0 || (size_t)m >= sizeof ca || m2 < 0 || (size_t)m2 >= sizeof out->token_file)
        return finish(out, fail(err, cap, LQ_ECONFIG, "$LIQOLET_SA_DIR is too long"));
    (void)snprintf(w.text, sizeof w.text, "the service account in %s", dir);
    r = read_blob_file(ca, "ca.crt", &w, out->ca, &out->ca_len, err, cap);
    if (r != LQ_OK)
        return finish(out, LQ_ECONFIG); /* the message says which: missing, too large, ... */
    bool changed;
    r = lq_kcfg_token_refresh(out, true, &changed);
    if (r == LQ_ENOTFOUND)
        return finish(out, fail(err, cap, LQ_ECONFIG,
                                "service-account token %s does not exist; is "
                                "automountServiceAccountToken false for this pod?",
                                out->token_file));
    if (r != LQ_OK || out->token_len == 0)
        return finish(out, fail(err, cap, LQ_ECONFIG,
                                "service-account token %s cannot be used: it is unreadable, "
                                "too large, empty, or has control characters",
                                out->token_file));
    return finish(out, LQ_OK);
}

lq_err_t lq_kcfg_token_refresh(lq_kcfg_t *k, bool force, bool *changed)
{
    if (changed != NULL)
        *changed = false;
    if (k == NULL)
        return LQ_EINVAL;
    if (k->token_file[0] == '\0')
        return LQ_OK;
    int64_t mtime = 0;
    uint64_t size = 0;
    lq_err_t r = lq_port_file_stat(k->token_file, &mtime, &size);
    if (r != LQ_OK)
        return r == LQ_ENOTFOUND ? LQ_ENOTFOUND : LQ_EIO;
    if (!force && k->token_len > 0 && mtime == k->token_mtime_ms && size == k->token_size)
        return LQ_OK;
    size_t n = 0;
    unsigned mode = 0600;
    bool other_owner = false;
    r = lq_port_file_read_secret(k->token_file, token_scratch, sizeof token_scratch, &n, &mode,
                                 &other_owner);
    if (r == LQ_OK && (mode & 077u || other_owner) && !k->in_cluster && !k->token_exposed_said) {
        /* A warning, not a refusal: token files are often shared by design (projected
         * volumes are 0644); the operator decides. */
        LQ_WARN("kcfg", "token file %s is %s; anyone on this host who can read it can act "
                "as this agent (chmod 600 it)", k->token_file,
                other_owner ? "owned by another user" : "open to group or others");
        k->token_exposed_said = true;
    }
    if (r == LQ_OK) {
        n = token_clean(token_scratch, n);
        if (n == 0)
            r = LQ_EIO; /* empty (mid-rotation?) or unusable: keep the old token */
    } else if (r != LQ_ENOTFOUND && r != LQ_ETOOBIG) {
        r = LQ_EIO;
    }
    if (r == LQ_OK) {
        if (n != k->token_len || memcmp(k->token, token_scratch, n) != 0) {
            memcpy(k->token, token_scratch, n);
            memset(k->token + n, 0, sizeof k->token - n);
            k->token_len = n;
            (void)lq_log_secret_add(k->token, n);
            if (changed != NULL)
                *changed = true;
            if (k->token_mtime_ms != 0)
                LQ_INFO("kcfg", "token file %s changed; token re-read", k->token_file);
        }
        k->token_mtime_ms = mtime;
        k->token_size = size;
    }
    memset(token_scratch, 0, sizeof token_scratch);
    return r;
}

const char *lq_kcfg_verify_name(const lq_kcfg_t *k)
{
    return k->tls_server_name[0] != '\0' ? k->tls_server_name : k->host;
}
