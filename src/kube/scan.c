/* Prefix scan: type, kind, apiVersion and metadata fields of an event or object,
 * found by walking only the levels that matter and skipping everything else.
 * Pure module: C standard headers and liqolet headers only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/ascii.h"
#include "liqolet/scan.h"

enum role { R_NONE, R_EVENT, R_OBJECT, R_META };

typedef struct cursor {
    const char *p;
    size_t n;
    size_t i;
    bool trunc;     /* the input ended */
    bool bad;       /* malformed */
    bool stop;      /* everything wanted was found: unwind */
    bool ns_only;   /* lq_scan_namespace_fast */
    bool event;     /* the root is a watch event */
    bool meta_seen; /* a "metadata" object was entered (only the first counts) */
    bool meta_done; /* the object's metadata closed */
    lq_scan_meta_t *m;
} cursor_t;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skips whitespace; false (and trunc) at the end of the input. */
static bool skip_ws(cursor_t *c)
{
    while (c->i < c->n && is_ws(c->p[c->i]))
        c->i++;
    if (c->i == c->n) {
        c->trunc = true;
        return false;
    }
    return true;
}

/* At '"': reads a whole string. out (optional) gets the raw view between the quotes. */
static bool read_string(cursor_t *c, lq_scan_str_t *out)
{
    size_t start = ++c->i;
    bool esc = false;

    while (c->i < c->n) {
        char ch = c->p[c->i];
        if (ch == '"') {
            if (out) {
                out->p = c->p + start;
                out->len = c->i - start;
                out->escaped = esc;
                out->found = true;
            }
            c->i++;
            return true;
        }
        if (ch == '\\') {
            esc = true;
            c->i += 2u;
            continue;
        }
        c->i++;
    }
    c->i = c->n;
    c->trunc = true;
    return false;
}

static bool is_lit_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '+' || c == '.';
}

/* Skips any value; the cursor is on its first byte. Containers are skipped by counting
 * brackets (strings and escapes respected), without recursion. */
static bool skip_value(cursor_t *c)
{
    char ch = c->p[c->i];

    if (ch == '"')
        return read_string(c, NULL);
    if (ch == '{' || ch == '[') {
        size_t depth = 0;
        while (c->i < c->n) {
            ch = c->p[c->i];
            if (ch == '"') {
                if (!read_string(c, NULL))
                    return false;
                continue;
            }
            if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                depth--;
                if (depth == 0) {
                    c->i++;
                    return true;
                }
            }
            c->i++;
        }
        c->trunc = true;
        return false;
    }
    if (is_lit_char(ch)) {
        while (c->i < c->n && is_lit_char(c->p[c->i]))
            c->i++;
        if (c->i == c->n) {
            c->trunc = true;
            return false;
        }
        return true;
    }
    c->bad = true;
    return false;
}

static bool key_eq(const lq_scan_str_t *key, const char *lit)
{
    return lq_scan_str_eq(key, lit, strlen(lit));
}

/* Has the scan found everything it was asked for? */
static bool satisfied(const cursor_t *c)
{
    const lq_scan_meta_t *m = c->m;

    if (c->ns_only)
        return m->ns.found || c->meta_done;
    if (c->event && !m->type.found)
        return false;
    return c->meta_done && m->kind.found && m->api_version.found;
}

static void take(cursor_t *c, lq_scan_str_t *dst, const lq_scan_str_t *v)
{
    if (!dst->found)
        *dst = *v;
    if (satisfied(c))
        c->stop = true;
}

/* At '{': walks the members of an object playing `role`. Returns true when the object
 * closed; false on truncation, malformation or early stop (see the cursor flags). */
static bool scan_members(cursor_t *c, enum role role)
{
    c->i++;
    if (!skip_ws(c))
        return false;
    if (c->p[c->i] == '}') {
        c->i++;
        return true;
    }
    for (;;) {
        lq_scan_str_t key = { 0 };
        lq_scan_str_t val = { 0 };
        lq_scan_str_t *dst = NULL;
        enum role child = R_NONE;
        bool labels = false;

        if (!skip_ws(c))
            return false;
        if (c->p[c->i] != '"') {
            c->bad = true;
            return false;
        }
        if (!read_string(c, &key) || !skip_ws(c))
            return false;
        if (c->p[c->i] != ':') {
            c->bad = true;
            return false;
        }
        c->i++;
        if (!skip_ws(c))
            return false;

        if (role == R_EVENT) {
            if (key_eq(&key, "type"))
                dst = &c->m->type;
            else if (key_eq(&key, "object"))
                child = R_OBJECT;
        } else if (role == R_OBJECT) {
            if (key_eq(&key, "kind"))
                dst = &c->m->kind;
            else if (key_eq(&key, "apiVersion"))
                dst = &c->m->api_version;
            else if (key_eq(&key, "metadata") && !c->meta_seen)
                child = R_META;
        } else if (role == R_META) {
            if (key_eq(&key, "namespace"))
                dst = &c->m->ns;
            else if (key_eq(&key, "name"))
                dst = &c->m->name;
            else if (key_eq(&key, "uid"))
                dst = &c->m->uid;
            else if (key_eq(&key, "resourceVersion"))
                dst = &c->m->rv;
            else if (key_eq(&key, "labels"))
                labels = true;
        }

        char ch = c->p[c->i];
        if (dst && ch == '"') {
            if (!read_string(c, &val))
                return false;
            take(c, dst, &val);
            if (c->stop)
                return false;
        } else if (child != R_NONE && ch == '{') {
            bool first_object = child == R_OBJECT && !c->m->has_object;
            if (child == R_OBJECT)
                c->m->has_object = true;
            if (child == R_OBJECT && !first_object) {
                if (!skip_value(c))
                    return false;
            } else {
                if (child == R_META)
                    c->meta_seen = true;
                if (!scan_members(c, child))
                    return false;
                if (child == R_META) {
                    c->meta_done = true;
                    if (satisfied(c)) {
                        c->stop = true;
                        return false;
                    }
                }
            }
        } else if (labels && ch == '{') {
            size_t start = c->i;
            bool first = !c->m->has_labels;
            c->m->has_labels = true;
            if (!skip_value(c))
                return false;
            if (first) {
                c->m->labels_json = c->p + start;
                c->m->labels_len = c->i - start;
            }
        } else if (!skip_value(c)) {
            return false;
        }

        if (!skip_ws(c))
            return false;
        ch = c->p[c->i];
        if (ch == ',') {
            c->i++;
            continue;
        }
        if (ch == '}') {
            c->i++;
            return true;
        }
        c->bad = true;
        return false;
    }
}

static lq_err_t scan_root(const char *data, size_t len, lq_scan_meta_t *out, bool event, bool ns_only)
{
    cursor_t c;

    if (out == NULL || (data == NULL && len > 0))
        return LQ_EINVAL;
    memset(out, 0, sizeof *out);
    memset(&c, 0, sizeof c);
    c.p = data;
    c.n = len;
    c.m = out;
    c.event = event;
    c.ns_only = ns_only;
    if (skip_ws(&c)) {
        if (c.p[c.i] != '{')
            return LQ_EPROTO;
        (void)scan_members(&c, event ? R_EVENT : R_OBJECT);
    }
    if (c.bad)
        return LQ_EPROTO;
    out->truncated = c.trunc;
    return LQ_OK;
}

lq_err_t lq_scan_event(const char *data, size_t len, lq_scan_meta_t *out)
{
    return scan_root(data, len, out, true, false);
}

lq_err_t lq_scan_object(const char *data, size_t len, lq_scan_meta_t *out)
{
    return scan_root(data, len, out, false, false);
}

lq_err_t lq_scan_namespace_fast(const char *data, size_t len, bool is_event, lq_scan_str_t *ns)
{
    lq_scan_meta_t m;
    lq_err_t rc;

    if (ns == NULL)
        return LQ_EINVAL;
    memset(ns, 0, sizeof *ns);
    rc = scan_root(data, len, &m, is_event, true);
    if (rc != LQ_OK)
        return rc;
    if (m.ns.found) {
        *ns = m.ns;
        return LQ_OK;
    }
    return m.truncated ? LQ_AGAIN : LQ_ENOTFOUND;
}

/* ---- unescaping ----------------------------------------------------------------- */

static bool read_u4(const char *p, size_t len, size_t at, uint32_t *out)
{
    uint32_t v = 0;

    if (at > len || len - at < 4u)
        return false;
    for (size_t k = 0; k < 4u; k++) {
        int h = lq_ascii_hex((unsigned char)p[at + k]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return true;
}

/* Decodes the unit at raw[*i] (a plain byte or one escape) into out[0..*n), n <= 4,
 * advancing *i past it. Every unit is at least as long as its decoding. */
static lq_err_t decode_unit(const char *raw, size_t len, size_t *i, char out[4], size_t *n)
{
    size_t at = *i;
    char c = raw[at];

    if (c != '\\') {
        out[0] = c;
        *n = 1;
        *i = at + 1u;
        return LQ_OK;
    }
    if (at + 1u >= len)
        return LQ_EPROTO;
    c = raw[at + 1u];
    *n = 1;
    *i = at + 2u;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out[0] = c;
        return LQ_OK;
    case 'b':
        out[0] = '\b';
        return LQ_OK;
    case 'f':
        out[0] = '\f';
        return LQ_OK;
    case 'n':
        out[0] = '\n';
        return LQ_OK;
    case 'r':
        out[0] = '\r';
        return LQ_OK;
    case 't':
        out[0] = '\t';
        return LQ_OK;
    case 'u':
        break;
    default:
        return LQ_EPROTO;
    }

    uint32_t cp = 0;
    if (!read_u4(raw, len, at + 2u, &cp))
        return LQ_EPROTO;
    *i = at + 6u;
    if (cp >= 0xDC00u && cp <= 0xDFFFu)
        return LQ_EPROTO; /* lone low surrogate */
    if (cp >= 0xD800u && cp <= 0xDBFFu) {
        uint32_t lo = 0;
        if (at + 7u >= len || raw[at + 6u] != '\\' || raw[at + 7u] != 'u' ||
            !read_u4(raw, len, at + 8u, &lo) || lo < 0xDC00u || lo > 0xDFFFu)
            return LQ_EPROTO;
        cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
        *i = at + 12u;
    }
    if (cp < 0x80u) {
        out[0] = (char)cp;
        *n = 1;
    } else if (cp < 0x800u) {
        out[0] = (char)(0xC0u | (cp >> 6));
        out[1] = (char)(0x80u | (cp & 0x3Fu));
        *n = 2;
    } else if (cp < 0x10000u) {
        out[0] = (char)(0xE0u | (cp >> 12));
        out[1] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        out[2] = (char)(0x80u | (cp & 0x3Fu));
        *n = 3;
    } else {
        out[0] = (char)(0xF0u | (cp >> 18));
        out[1] = (char)(0x80u | ((cp >> 12) & 0x3Fu));
        out[2] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        out[3] = (char)(0x80u | (cp & 0x3Fu));
        *n = 4;
    }
    return LQ_OK;
}

lq_err_t lq_scan_unescape(const char *raw, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t i = 0;
    size_t o = 0;

    if ((raw == NULL && len > 0) || (out == NULL && cap > 0) || out_len == NULL)
        return LQ_EINVAL;
    while (i < len) {
        char unit[4];
        size_t n = 0;
        lq_err_t rc = decode_unit(raw, len, &i, unit, &n);
        if (rc != LQ_OK)
            return rc;
        if (n > cap - o)
            return LQ_ETOOBIG;
        for (size_t k = 0; k < n; k++)
            out[o + k] = unit[k];
        o += n;
    }
    *out_len = o;
    return LQ_OK;
}

lq_err_t lq_scan_copy(const lq_scan_str_t *s, char *out, size_t cap)
{
    size_t n = 0;
    lq_err_t rc;

    if (s == NULL || out == NULL || cap == 0)
        return LQ_EINVAL;
    if (!s->found)
        return LQ_ENOTFOUND;
    rc = lq_scan_unescape(s->p, s->len, out, cap - 1u, &n);
    if (rc != LQ_OK)
        return rc;
    out[n] = '\0';
    return LQ_OK;
}

lq_err_t lq_scan_uid_rv(const char *data, size_t len, char *uid, size_t uid_cap, char *rv,
                        size_t rv_cap)
{
    lq_scan_meta_t m;
    if (uid != NULL && uid_cap > 0)
        uid[0] = '\0';
    if (rv != NULL && rv_cap > 0)
        rv[0] = '\0';
    lq_err_t rc = lq_scan_object(data, len, &m);
    if (rc != LQ_OK)
        return rc;
    if (uid != NULL && uid_cap > 0 && lq_scan_copy(&m.uid, uid, uid_cap) != LQ_OK)
        uid[0] = '\0';
    if (rv != NULL && rv_cap > 0 && lq_scan_copy(&m.rv, rv, rv_cap) != LQ_OK)
        rv[0] = '\0';
    return LQ_OK;
}

bool lq_scan_str_eq(const lq_scan_str_t *s, const char *lit, size_t lit_len)
{
    if (s == NULL || !s->found || (lit == NULL && lit_len > 0))
        return false;
    if (!s->escaped)
        return s->len == lit_len && (lit_len == 0 || memcmp(s->p, lit, lit_len) == 0);
    size_t i = 0;
    size_t o = 0;
    while (i < s->len) {
        char unit[4];
        size_t n = 0;
        if (decode_unit(s->p, s->len, &i, unit, &n) != LQ_OK)
            return false;
        if (n > lit_len - o || memcmp(unit, lit + o, n) != 0)
            return false;
        o += n;
    }
    return o == lit_len;
}
