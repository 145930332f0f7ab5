/* Pure parser of the kubelet API's request heads; see include/liqolet/kubelet_req.h for
 * the contract and the Kubernetes sources each rule follows. */
#include <string.h>

#include "liqolet/ascii.h"
#include "liqolet/kubelet_req.h"
#include "liqolet/names.h"

/* ------------------------------------------------------------------------------------ */
/* Percent-decoding (Go net/url: PathUnescape for the path, QueryUnescape for the query)  */
/* ------------------------------------------------------------------------------------ */

typedef struct dec {
    const char *p, *end;
    bool plus; /* '+' decodes to a space (query) */
} dec_t;

#define DEC_END (-1)
#define DEC_BAD (-2)

static dec_t dec_of(const char *p, size_t n, bool plus)
{
    dec_t d = {p, n > 0 ? p + n : p, plus}; /* no arithmetic on a NULL view */
    return d;
}

/* The next decoded byte (0..255), DEC_END, or DEC_BAD for '%' without two hex digits. */
static int dec_next(dec_t *d)
{
    if (d->p >= d->end)
        return DEC_END;
    unsigned char c = (unsigned char)*d->p++;
    if (c == '+' && d->plus)
        return ' ';
    if (c != '%')
        return c;
    if (d->end - d->p < 2)
        return DEC_BAD;
    int hi = lq_ascii_hex((unsigned char)d->p[0]), lo = lq_ascii_hex((unsigned char)d->p[1]);
    if (hi < 0 || lo < 0)
        return DEC_BAD;
    d->p += 2;
    return hi * 16 + lo;
}

static bool dec_valid(const char *p, size_t n)
{
    dec_t d = dec_of(p, n, false);
    int c;
    while ((c = dec_next(&d)) != DEC_END)
        if (c == DEC_BAD)
            return false;
    return true;
}

/* Does the decoding of p[0..n) equal s (exactly, or ASCII case-insensitively)? */
static bool dec_eq(const char *p, size_t n, bool plus, const char *s, bool ci)
{
    dec_t d = dec_of(p, n, plus);
    for (;; s++) {
        int c = dec_next(&d);
        if (c < 0)
            return c == DEC_END && *s == '\0';
        if (*s == '\0')
            return false;
        unsigned char a = (unsigned char)c, b = (unsigned char)*s;
        if (ci ? lq_ascii_lower(a) != lq_ascii_lower(b) : a != b)
            return false;
    }
}

/* Decodes p[0..n) into out[0..cap) plus a NUL. false when it does not fit or is bad. */
static bool dec_copy(const char *p, size_t n, bool plus, char *out, size_t cap, size_t *len)
{
    dec_t d = dec_of(p, n, plus);
    size_t k = 0;
    int c;
    while ((c = dec_next(&d)) != DEC_END) {
        if (c == DEC_BAD || k + 1 >= cap)
            return false;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    *len = k;
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Head syntax                                                                          */
/* ------------------------------------------------------------------------------------ */

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* field-vchar / obs-text, SP or HTAB */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static lq_err_t fail(lq_kl_req_t *r, const char *why)
{
    r->why = why;
    return LQ_EPROTO;
}

/* Finds the end of the head; rejects NUL, bare CR and bare LF as soon as they are seen. */
static lq_err_t find_head(lq_kl_req_t *r, const char *buf, size_t len, size_t *head_len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\0')
            return fail(r, "NUL byte in the request head");
        if (c == '\r' && i + 1 < len && buf[i + 1] != '\n')
            return fail(r, "bare CR in the request head");
        if (c != '\n')
            continue;
        if (i == 0 || buf[i - 1] != '\r')
            return fail(r, "bare LF in the request head");
        if (i == 1)
            return fail(r, "empty request line");
        if (i >= 3 && buf[i - 2] == '\n') {
            *head_len = i + 1;
            return LQ_OK;
        }
    }
    return LQ_AGAIN;
}

typedef struct fields {
    bool conn_upgrade, conn_close, conn_keep_alive;
    unsigned n_host, n_upgrade, n_key, n_version;
    lq_http_view_t upgrade, version;
} fields_t;

static lq_http_view_t view(const char *p, size_t n)
{
    lq_http_view_t v = {p, n};
    return v;
}

/* Walks a comma-separated field value, calling fn for each non-empty trimmed element. */
typedef lq_err_t elem_fn_t(lq_kl_req_t *r, fields_t *f, const char *p, size_t n);

static lq_err_t each_element(lq_kl_req_t *r, fields_t *f, const char *p, size_t n,
                             elem_fn_t *fn)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows((unsigned char)p[i]) || p[i] == ','))
            i++;
        size_t s = i;
        while (i < n && p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows((unsigned char)p[e - 1]))
            e--;
        if (e == s)
            continue;
        for (size_t k = s; k < e; k++)
            if (!lq_ascii_tchar((unsigned char)p[k]))
                return fail(r, "list element is not a token");
        lq_err_t err = fn(r, f, p + s, e - s);
        if (err != LQ_OK)
            return err;
    }
    return LQ_OK;
}

static lq_err_t connection_elem(lq_kl_req_t *r, fields_t *f, const char *p, size_t n)
{
    (void)r;
    if (lq_ascii_eq_ci(p, n, "upgrade"))
        f->conn_upgrade = true;
    else if (lq_ascii_eq_ci(p, n, "close"))
        f->conn_close = true;
    else if (lq_ascii_eq_ci(p, n, "keep-alive"))
        f->conn_keep_alive = true;
    return LQ_OK;
}

static lq_err_t protocol_elem(lq_kl_req_t *r, fields_t *f, const char *p, size_t n)
{
    (void)f;
    if (r->n_ws_protocols == LQ_KL_MAX_WS_PROTOCOLS)
        return fail(r, "too many WebSocket subprotocols");
    r->ws_protocols[r->n_ws_protocols++] = view(p, n);
    if (n == sizeof LQ_KL_WS_V5 - 1 && memcmp(p, LQ_KL_WS_V5, n) == 0)
        r->ws_v5 = true;
    return LQ_OK;
}

static lq_err_t field_line(lq_kl_req_t *r, fields_t *f, const char *p, size_t n)
{
    size_t i = 0;
    if (is_ows((unsigned char)p[0]))
        return fail(r, "obs-fold (a field line starting with whitespace)");
    while (i < n && lq_ascii_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ':')
        return fail(r, "bad field name");
    size_t name_len = i++;
    while (i < n && is_ows((unsigned char)p[i]))
        i++;
    size_t e = n;
    while (e > i && is_ows((unsigned char)p[e - 1]))
        e--;
    for (size_t k = i; k < e; k++)
        if (!is_value_char((unsigned char)p[k]))
            return fail(r, "control byte in a field value");
    const char *v = p + i;
    size_t vn = e - i;

    if (lq_ascii_eq_ci(p, name_len, "host")) {
        for (size_t k = 0; k < vn; k++)
            if (is_ows((unsigned char)v[k]))
                return fail(r, "bad Host");
        f->n_host++;
        r->host = view(v, vn);
    } else if (lq_ascii_eq_ci(p, name_len, "connection")) {
        return each_element(r, f, v, vn, connection_elem);
    } else if (lq_ascii_eq_ci(p, name_len, "upgrade")) {
        f->n_upgrade++;
        f->upgrade = view(v, vn);
    } else if (lq_ascii_eq_ci(p, name_len, "sec-websocket-key")) {
        f->n_key++;
        r->ws_key = view(v, vn);
    } else if (lq_ascii_eq_ci(p, name_len, "sec-websocket-version")) {
        f->n_version++;
        f->version = view(v, vn);
    } else if (lq_ascii_eq_ci(p, name_len, "sec-websocket-protocol")) {
        return each_element(r, f, v, vn, protocol_elem);
    } else if (lq_ascii_eq_ci(p, name_len, "content-length")) {
        if (vn == 0)
            return fail(r, "bad Content-Length");
        for (size_t k = 0; k < vn; k++) {
            if (v[k] < '0' || v[k] > '9')
                return fail(r, "bad Content-Length");
            if (v[k] != '0')
                return fail(r, "a request body is not accepted here");
        }
    } else if (lq_ascii_eq_ci(p, name_len, "transfer-encoding")) {
        return fail(r, "a request body is not accepted here (Transfer-Encoding)");
    }
    return LQ_OK;
}

/* "METHOD SP /target SP HTTP/1.x" */
static lq_err_t request_line(lq_kl_req_t *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && lq_ascii_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ')
        return fail(r, "bad request line (method)");
    r->method = view(p, i);
    size_t t = ++i;
    while (i < n && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return fail(r, "bad request target");
        i++;
    }
    if (i == t || p[t] != '/')
        return fail(r, "request target is not origin-form (\"/path?query\")");
    if (i == n)
        return fail(r, "bad request line (no version)");
    const char *q = memchr(p + t, '?', i - t);
    r->path = view(p + t, (size_t)((q != NULL ? q : p + i) - (p + t)));
    if (q != NULL)
        r->query = view(q + 1, (size_t)(p + i - q - 1));
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || (p[i + 7] != '0' && p[i + 7] != '1'))
        return fail(r, "HTTP version is not 1.0 or 1.1");
    r->minor = (uint8_t)(p[i + 7] - '0');
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Routes and authorisation attributes                                                   */
/* ------------------------------------------------------------------------------------ */

/* kubelet's isSubpath(subpath, base) on the decoded path (K pkg/kubelet/server/auth.go):
 * base loses one trailing '/'; then the path equals it or continues with '/'. */
static bool is_subpath(const lq_http_view_t *path, const char *base)
{
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == '/')
        bl--;
    dec_t d = dec_of(path->ptr, path->len, false);
    for (size_t i = 0; i < bl; i++)
        if (dec_next(&d) != (unsigned char)base[i])
            return false;
    int c = dec_next(&d);
    return c == DEC_END || c == '/';
}

static void authz_attributes(lq_kl_req_t *r)
{
    static const struct {
        const char *method, *verb;
    } verbs[] = {{"POST", "create"}, {"GET", "get"},       {"PUT", "update"},
                 {"PATCH", "patch"}, {"DELETE", "delete"}};
    /* KubeletFineGrainedAuthz: the first match adds one subresource */
    static const struct {
        const char *base, *sub;
    } fine[] = {{"/pods", "pods"},
                {"/healthz", "healthz"},
                {"/configz", "configz"},
                {"/runningpods/", "pods"}},
      coarse[] = {{"/stats/", "stats"},         {"/metrics", "metrics"},
                  {"/logs/", "log"},            {"/checkpoint/", "checkpoint"},
                  {"/statusz", "statusz"},      {"/flagz", "configz"}};

    r->verb = "";
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (r->method.len == strlen(verbs[i].method) &&
            memcmp(r->method.ptr, verbs[i].method, r->method.len) == 0)
            r->verb = verbs[i].verb;
    r->n_sub = 0;
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        if (is_subpath(&r->path, fine[i].base)) {
            r->sub[r->n_sub++] = fine[i].sub;
            break;
        }
    r->sub[r->n_sub] = "proxy";
    for (size_t i = 0; i < sizeof coarse / sizeof coarse[0]; i++)
        if (is_subpath(&r->path, coarse[i].base)) {
            r->sub[r->n_sub] = coarse[i].sub;
            break;
        }
    r->n_sub++;
}

/* Decodes one name segment into out; false (and why) when it is not a valid name. */
static bool name_segment(lq_kl_req_t *r, const lq_http_view_t *seg, char *out, size_t max,
                         bool subdomain, const char *why)
{
    size_t n = 0;
    if (!dec_copy(seg->ptr, seg->len, false, out, max + 1, &n) ||
        !(subdomain ? lq_names_dns_subdomain(out, n) : lq_names_dns_label(out, n))) {
        out[0] = '\0';
        r->why = why;
        return false;
    }
    return true;
}

static void route(lq_kl_req_t *r)
{
    static const struct {
        const char *first;
        lq_kl_route_t route;
        size_t n_names; /* segments after the first */
    } shapes[] = {{"containerLogs", LQ_KL_LOGS, 3},
                  {"exec", LQ_KL_EXEC, 3},
                  {"attach", LQ_KL_ATTACH, 3},
                  {"portForward", LQ_KL_PORTFORWARD, 2},
                  {"healthz", LQ_KL_HEALTHZ, 0}};
    lq_http_view_t seg[5];
    size_t n_seg = 0, s = 1;

    r->route = LQ_KL_OTHER;
    for (size_t i = 1; i <= r->path.len; i++) {
        if (i < r->path.len && r->path.ptr[i] != '/')
            continue;
        if (n_seg == sizeof seg / sizeof seg[0])
            return; /* longer than any route */
        seg[n_seg++] = view(r->path.ptr + s, i - s);
        s = i + 1;
    }
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        if (n_seg != shapes[k].n_names + 1 ||
            !dec_eq(seg[0].ptr, seg[0].len, false, shapes[k].first, false))
            continue;
        r->route = shapes[k].route;
        if (shapes[k].n_names == 0)
            return;
        if (!name_segment(r, &seg[1], r->ns, LQ_KL_NS_MAX, false,
                          "namespace is not a valid name (DNS-1123 label)") ||
            !name_segment(r, &seg[2], r->pod, LQ_KL_POD_MAX, true,
                          "pod is not a valid name (DNS-1123 subdomain)") ||
            (shapes[k].n_names == 3 &&
             !name_segment(r, &seg[3], r->container, LQ_KL_CONTAINER_MAX, false,
                           "container is not a valid name (DNS-1123 label)"))) {
            r->ns[0] = r->pod[0] = r->container[0] = '\0';
            r->route = LQ_KL_BAD_NAME;
        }
        return;
    }
}

/* ------------------------------------------------------------------------------------ */
/* WebSocket upgrade (RFC 6455 section 4.2.1)                                            */
/* ------------------------------------------------------------------------------------ */

static bool is_base64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* base64 of 16 bytes: 22 alphabet characters and "==" */
static bool valid_ws_key(lq_http_view_t k)
{
    if (k.ptr == NULL || k.len != 24 || k.ptr[22] != '=' || k.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!is_base64((unsigned char)k.ptr[i]))
            return false;
    return true;
}

static lq_err_t upgrade(lq_kl_req_t *r, const fields_t *f)
{
    if (f->upgrade.ptr == NULL || !f->conn_upgrade)
        return LQ_OK;
    if (lq_ascii_eq_ci(f->upgrade.ptr, f->upgrade.len, "SPDY/3.1")) {
        r->upgrade = LQ_KL_UPGRADE_SPDY;
        return LQ_OK;
    }
    if (!lq_ascii_eq_ci(f->upgrade.ptr, f->upgrade.len, "websocket")) {
        r->upgrade = LQ_KL_UPGRADE_OTHER;
        return LQ_OK;
    }
    if (!(r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0))
        return fail(r, "a WebSocket upgrade must be a GET");
    if (f->version.len != 2 || memcmp(f->version.ptr, "13", 2) != 0)
        return fail(r, "Sec-WebSocket-Version must be 13");
    if (!valid_ws_key(r->ws_key))
        return fail(r, "Sec-WebSocket-Key must be the base64 of 16 bytes");
    r->upgrade = LQ_KL_UPGRADE_WEBSOCKET;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Query                                                                                */
/* ------------------------------------------------------------------------------------ */

typedef struct qpair {
    const char *k, *v;
    size_t kn, vn;
} qpair_t;

/* The next non-empty '&'-separated pair of q from *at on; false at the end. */
static bool next_pair(const lq_http_view_t *q, size_t *at, qpair_t *out)
{
    while (*at < q->len) {
        const char *s = q->ptr + *at;
        const char *amp = memchr(s, '&', q->len - *at);
        size_t n = amp != NULL ? (size_t)(amp - s) : q->len - *at;
        *at += n + (amp != NULL ? 1u : 0u);
        const char *eq = memchr(s, '=', n);
        out->k = s;
        out->kn = eq != NULL ? (size_t)(eq - s) : n;
        out->v = eq != NULL ? eq + 1 : s + n;
        out->vn = eq != NULL ? n - out->kn - 1 : 0;
        if (out->kn > 0) /* Go's ParseQuery skips pairs with an empty key */
            return true;
    }
    return false;
}

static bool key_is(const qpair_t *p, const char *name)
{
    return dec_eq(p->k, p->kn, true, name, false);
}

/* The first value of parameter name (ptr NULL when absent). */
static lq_http_view_t first_value(const lq_http_view_t *q, const char *name)
{
    size_t at = 0;
    qpair_t p;
    while (next_pair(q, &at, &p))
        if (key_is(&p, name))
            return view(p.v, p.vn);
    return view(NULL, 0);
}

/* Convert_Slice_string_To_bool: false for "0" and "false" in any case, else true. */
static bool go_bool(lq_http_view_t v)
{
    return !dec_eq(v.ptr, v.len, true, "0", false) && !dec_eq(v.ptr, v.len, true, "false", true);
}

/* strconv.ParseInt(s, 10, 64) */
static bool go_int64(lq_http_view_t v, int64_t *out)
{
    dec_t d = dec_of(v.ptr, v.len, true);
    int c = dec_next(&d);
    bool neg = false;
    if (c == '+' || c == '-') {
        neg = c == '-';
        c = dec_next(&d);
    }
    if (c < '0' || c > '9')
        return false;
    uint64_t x = 0, lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    for (; c != DEC_END; c = dec_next(&d)) {
        if (c < '0' || c > '9')
            return false;
        unsigned digit = (unsigned)(c - '0');
        if (x > (lim - digit) / 10)
            return false;
        x = x * 10 + digit;
    }
    *out = neg ? (x == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)x) : (int64_t)x;
    return true;
}

static unsigned two(const char *s)
{
    return (unsigned)(s[0] - '0') * 10u + (unsigned)(s[1] - '0');
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Go's parseRFC3339 (time/format_rfc3339.go), the path time.Parse(time.RFC3339) takes. */
static bool rfc3339(const char *s, size_t n)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    unsigned year = two(s) * 100u + two(s + 2), month = two(s + 5), day = two(s + 8);
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1] ||
        (month == 2 && day == 29 && !leap) || two(s + 11) > 23 || two(s + 14) > 59 ||
        two(s + 17) > 59)
        return false;
    size_t i = 19;
    if (n - i >= 2 && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')
        for (i += 2; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    if (n - i == 1)
        return s[i] == 'Z';
    return n - i == 6 && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
           s[i + 3] == ':' && digits(s + i + 4, 2) && two(s + i + 1) <= 23 &&
           two(s + i + 4) <= 59;
}

static lq_err_t int_param(lq_kl_req_t *r, lq_http_view_t v, bool *has, int64_t *out,
                          const char *why)
{
    if (v.ptr == NULL)
        return LQ_OK;
    if (!go_int64(v, out))
        return fail(r, why);
    *has = true;
    return LQ_OK;
}

static lq_err_t logs_query(lq_kl_req_t *r)
{
    lq_kl_logs_t *l = &r->logs;
    const lq_http_view_t *q = &r->query;
    lq_http_view_t v;
    lq_err_t err;

    if ((v = first_value(q, "follow")).ptr != NULL)
        l->follow = go_bool(v);
    if ((v = first_value(q, "previous")).ptr != NULL)
        l->previous = go_bool(v);
    if ((v = first_value(q, "timestamps")).ptr != NULL)
        l->timestamps = go_bool(v);

    /* kubelet: a non-empty "tail" replaces tailLines; "all" removes it */
    lq_http_view_t tail = first_value(q, "tail");
    v = first_value(q, "tailLines");
    if (tail.ptr != NULL && tail.len > 0)
        v = dec_eq(tail.ptr, tail.len, true, "all", false) ? view(NULL, 0) : tail;
    if ((err = int_param(r, v, &l->has_tail_lines, &l->tail_lines,
                         "tailLines is not an integer")) != LQ_OK ||
        (err = int_param(r, first_value(q, "sinceSeconds"), &l->has_since_seconds,
                         &l->since_seconds, "sinceSeconds is not an integer")) != LQ_OK ||
        (err = int_param(r, first_value(q, "limitBytes"), &l->has_limit_bytes,
                         &l->limit_bytes, "limitBytes is not an integer")) != LQ_OK)
        return err;

    if ((v = first_value(q, "sinceTime")).ptr != NULL) {
        size_t n = 0;
        if (!dec_copy(v.ptr, v.len, true, l->since_time, sizeof l->since_time, &n))
            return fail(r, "sinceTime is too long");
        if (n == 4 && memcmp(l->since_time, "null", 4) == 0)
            l->since_time[0] = '\0';
        else if (n > 0 && !rfc3339(l->since_time, n))
            return fail(r, "sinceTime is not an RFC 3339 time");
        l->has_since_time = true;
    }
    if ((v = first_value(q, "stream")).ptr != NULL) {
        if (dec_eq(v.ptr, v.len, true, "Stdout", false))
            l->stream = LQ_KL_STREAM_STDOUT;
        else if (dec_eq(v.ptr, v.len, true, "Stderr", false))
            l->stream = LQ_KL_STREAM_STDERR;
        else if (!dec_eq(v.ptr, v.len, true, "All", false))
            return fail(r, "stream must be All, Stdout or Stderr");
    }

    /* ValidatePodLogOptions (K pkg/apis/core/v1/validation/validation.go) */
    if (l->has_tail_lines && l->tail_lines < 0)
        return fail(r, "tailLines must not be negative");
    if (l->has_limit_bytes && l->limit_bytes < 1)
        return fail(r, "limitBytes must be greater than 0");
    if (l->has_since_seconds && l->has_since_time)
        return fail(r, "at most one of sinceTime or sinceSeconds may be specified");
    if (l->has_since_seconds && l->since_seconds < 1)
        return fail(r, "sinceSeconds must be greater than 0");
    if (l->stream != LQ_KL_STREAM_ALL && l->has_tail_lines)
        return fail(r, "tailLines and a specific stream are mutually exclusive");
    return LQ_OK;
}

/* "1" or "true" as the first value of either spelling */
static bool stream_flag(const lq_http_view_t *q, const char *kubelet_name, const char *api_name)
{
    const char *names[2] = {kubelet_name, api_name};
    for (size_t i = 0; i < 2; i++) {
        lq_http_view_t v = first_value(q, names[i]);
        if (v.ptr != NULL && (dec_eq(v.ptr, v.len, true, "1", false) ||
                              dec_eq(v.ptr, v.len, true, "true", false)))
            return true;
    }
    return false;
}

static lq_err_t stream_query(lq_kl_req_t *r)
{
    lq_kl_stream_opts_t *s = &r->stream;
    s->input = stream_flag(&r->query, "input", "stdin");
    s->output = stream_flag(&r->query, "output", "stdout");
    s->error = stream_flag(&r->query, "error", "stderr");
    s->tty = stream_flag(&r->query, "tty", "tty");
    if (s->tty)
        s->error = false; /* cri-streaming NewOptions: tty bypasses stderr */
    if (!s->input && !s->output && !s->error)
        return fail(r, "you must specify at least 1 of stdin, stdout, stderr");
    if (r->route == LQ_KL_EXEC) {
        size_t at = 0;
        qpair_t p;
        while (next_pair(&r->query, &at, &p))
            if (key_is(&p, "command"))
                s->n_command++;
        if (s->n_command == 0)
            return fail(r, "exec needs a command");
    }
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* lq_kl_parse                                                                          */
/* ------------------------------------------------------------------------------------ */

lq_err_t lq_kl_parse(lq_kl_req_t *r, const char *buf, size_t len)
{
    if (r == NULL || (buf == NULL && len > 0))
        return LQ_EINVAL;
    memset(r, 0, sizeof *r);
    r->verb = "";

    size_t head_len = 0;
    lq_err_t err = find_head(r, buf, len, &head_len);
    if (err != LQ_OK)
        return err;

    /* request line, then field lines up to the empty one */
    const char *p = buf, *end = buf + head_len - 2;
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if ((err = request_line(r, p, (size_t)(eol - p))) != LQ_OK)
        return err;
    fields_t f;
    memset(&f, 0, sizeof f);
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if ((err = field_line(r, &f, p, (size_t)(eol - p))) != LQ_OK)
            return err;
    }
    if (f.n_host > 1 || (r->minor == 1 && f.n_host == 0))
        return fail(r, "HTTP/1.1 needs exactly one Host");
    if (f.n_upgrade > 1 || f.n_key > 1 || f.n_version > 1)
        return fail(r, "repeated Upgrade or Sec-WebSocket field");
    if (!dec_valid(r->path.ptr, r->path.len) || !dec_valid(r->query.ptr, r->query.len))
        return fail(r, "bad percent-encoding in the request target");
    if (r->query.len > 0 && memchr(r->query.ptr, ';', r->query.len) != NULL)
        return fail(r, "';' in the query");
    r->keep_alive = !f.conn_close && (r->minor == 1 || f.conn_keep_alive);

    route(r);
    authz_attributes(r);
    bool get = r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0;
    bool post = r->method.len == 4 && memcmp(r->method.ptr, "POST", 4) == 0;
    bool head = r->method.len == 4 && memcmp(r->method.ptr, "HEAD", 4) == 0;
    if (!get && !post && !head) {
        r->head_len = head_len;
        r->why = "method not allowed (GET, POST and HEAD only)";
        return LQ_ENOTSUP;
    }
    if ((err = upgrade(r, &f)) != LQ_OK)
        return err;

    r->head_len = head_len;
    if (r->route == LQ_KL_LOGS)
        return logs_query(r);
    if (r->route == LQ_KL_EXEC || r->route == LQ_KL_ATTACH)
        return stream_query(r);
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* lq_kl_foreign_target                                                                 */
/* ------------------------------------------------------------------------------------ */

typedef struct out {
    char *p;
    size_t cap, n;
    bool over;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->over || n >= o->cap - o->n) { /* keep room for the NUL */
        o->over = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_if(out_t *o, bool cond, const char *s)
{
    if (cond)
        put_str(o, s);
}

static void put_i64(out_t *o, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t x = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + x % 10);
        x /= 10;
    } while (x > 0);
    if (v < 0)
        tmp[--i] = '-';
    put(o, tmp + i, sizeof tmp - i);
}

/* Percent-encodes s[0..n) (already decoded bytes) into o. */
static void put_escaped(out_t *o, const char *s, size_t n)
{
    size_t got = 0;
    if (o->over)
        return;
    if (lq_http_escape_query(o->p + o->n, o->cap - o->n, s, n, &got) != LQ_OK) {
        o->over = true;
        return;
    }
    o->n += got;
}

/* Decodes the raw query value v and writes it percent-encoded again; false on a bad
 * escape. */
static bool put_reencoded(out_t *o, const char *v, size_t vn)
{
    dec_t d = dec_of(v, vn, true);
    char chunk[64];
    size_t k = 0;
    for (;;) {
        int c = dec_next(&d);
        if (c == DEC_BAD)
            return false;
        if (c != DEC_END)
            chunk[k++] = (char)c;
        if (k == sizeof chunk || (c == DEC_END && k > 0)) {
            put_escaped(o, chunk, k);
            k = 0;
        }
        if (c == DEC_END)
            return true;
    }
}

lq_err_t lq_kl_foreign_target(const lq_kl_req_t *r, const char *remote_ns,
                              const char *remote_pod, char *out, size_t cap, size_t *len)
{
    static const char *const sub[] = {[LQ_KL_LOGS] = "log", [LQ_KL_EXEC] = "exec",
                                      [LQ_KL_ATTACH] = "attach"};
    static const char *const streams[] = {"All", "Stdout", "Stderr"};

    if (len != NULL)
        *len = 0;
    if (r == NULL || out == NULL || len == NULL || remote_ns == NULL || remote_pod == NULL ||
        (r->route != LQ_KL_LOGS && r->route != LQ_KL_EXEC && r->route != LQ_KL_ATTACH) ||
        !lq_names_dns_label(remote_ns, strlen(remote_ns)) ||
        !lq_names_dns_subdomain(remote_pod, strlen(remote_pod)))
        return LQ_EINVAL;

    out_t o = {out, cap, 0, cap == 0};
    if (cap > 0)
        out[0] = '\0';
    put_str(&o, "/api/v1/namespaces/");
    put_str(&o, remote_ns);
    put_str(&o, "/pods/");
    put_str(&o, remote_pod);
    put_str(&o, "/");
    put_str(&o, sub[r->route]);
    put_str(&o, "?container=");
    put_escaped(&o, r->container, strlen(r->container));

    if (r->route == LQ_KL_LOGS) {
        const lq_kl_logs_t *l = &r->logs;
        put_if(&o, l->follow, "&follow=true");
        put_if(&o, l->previous, "&previous=true");
        put_if(&o, l->timestamps, "&timestamps=true");
        if (l->has_since_seconds) {
            put_str(&o, "&sinceSeconds=");
            put_i64(&o, l->since_seconds);
        }
        if (l->has_since_time && l->since_time[0] != '\0') {
            put_str(&o, "&sinceTime=");
            put_escaped(&o, l->since_time, strlen(l->since_time));
        }
        if (l->has_tail_lines) {
            put_str(&o, "&tailLines=");
            put_i64(&o, l->tail_lines);
        }
        if (l->has_limit_bytes) {
            put_str(&o, "&limitBytes=");
            put_i64(&o, l->limit_bytes);
        }
        if (l->stream != LQ_KL_STREAM_ALL && (size_t)l->stream < 3) {
            put_str(&o, "&stream=");
            put_str(&o, streams[l->stream]);
        }
    } else {
        const lq_kl_stream_opts_t *s = &r->stream;
        if (r->route == LQ_KL_EXEC) {
            size_t at = 0;
            qpair_t p;
            while (next_pair(&r->query, &at, &p)) {
                if (!key_is(&p, "command"))
                    continue;
                put_str(&o, "&command=");
                if (!put_reencoded(&o, p.v, p.vn))
                    return LQ_EINVAL;
            }
        }
        put_if(&o, s->input, "&stdin=true");
        put_if(&o, s->output, "&stdout=true");
        put_if(&o, s->error, "&stderr=true");
        put_if(&o, s->tty, "&tty=true");
    }
    if (o.over)
        return LQ_ETOOBIG;
    *len = o.n;
    return LQ_OK;
}
