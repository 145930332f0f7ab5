/* liqolet: splitting generated manifests into objects (see include/liqolet/manifest.h). */
#include <string.h>

#include "liqolet/kapi.h"
#include "liqolet/manifest.h"

/* The end of the line starting at p (the '\n' or end). */
static size_t line_end(const char *t, size_t len, size_t p)
{
    while (p < len && t[p] != '\n')
        p++;
    return p;
}

static bool is_separator(const char *t, size_t b, size_t e)
{
    if (e - b < 3 || memcmp(t + b, "---", 3) != 0)
        return false;
    for (size_t i = b + 3; i < e; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r')
            return false;
    return true;
}

static bool is_blank_or_comment(const char *t, size_t b, size_t e)
{
    while (b < e && (t[b] == ' ' || t[b] == '\t' || t[b] == '\r'))
        b++;
    return b == e || t[b] == '#';
}

/* If line [b,e) is "<indent spaces>key: value", copies the value (quotes stripped,
 * trailing blanks and an unquoted comment dropped) into out. 1 found, 0 not this key,
 * -1 too long. */
static int key_value(const char *t, size_t b, size_t e, size_t indent, const char *key,
                     char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < indent; i++)
        if (b + i >= e || t[b + i] != ' ')
            return 0;
    b += indent;
    if (e - b < kl + 1 || memcmp(t + b, key, kl) != 0 || t[b + kl] != ':')
        return 0;
    b += kl + 1;
    while (b < e && (t[b] == ' ' || t[b] == '\t'))
        b++;
    while (e > b && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r'))
        e--;
    if (b < e && (t[b] == '"' || t[b] == '\'')) {
        char q = t[b++];
        size_t c = b;
        while (c < e && t[c] != q)
            c++;
        e = c;
    } else {
        for (size_t c = b; c + 1 < e; c++)
            if ((t[c] == ' ' || t[c] == '\t') && t[c + 1] == '#') {
                e = c;
                while (e > b && (t[e - 1] == ' ' || t[e - 1] == '\t'))
                    e--;
                break;
            }
    }
    if (e - b >= cap)
        return -1;
    memcpy(out, t + b, e - b);
    out[e - b] = '\0';
    return 1;
}

lq_err_t lq_manifest_next(const char *text, size_t len, size_t *pos, lq_manifest_doc_t *d)
{
    if (text == NULL || pos == NULL || d == NULL)
        return LQ_EINVAL;
    for (;;) {
        size_t p = *pos;
        if (p >= len)
            return LQ_ENOTFOUND;
        /* skip separator lines at the start */
        size_t e = line_end(text, len, p);
        if (is_separator(text, p, e)) {
            *pos = e < len ? e + 1 : e;
            continue;
        }
        memset(d, 0, sizeof *d);
        d->text = text + p;
        bool content = false, in_meta = false;
        lq_err_t err = LQ_OK;
        size_t b = p;
        while (b < len) {
            e = line_end(text, len, b);
            if (is_separator(text, b, e))
                break;
            if (!is_blank_or_comment(text, b, e)) {
                content = true;
                int r = 0;
                if (text[b] != ' ' && text[b] != '\t') {
                    in_meta = key_value(text, b, e, 0, "metadata", d->name, sizeof d->name) == 1;
                    if (in_meta)
                        d->name[0] = '\0'; /* "metadata:" has no value of its own */
                    else if ((r = key_value(text, b, e, 0, "apiVersion", d->api_version,
                                            sizeof d->api_version)) == 0)
                        r = key_value(text, b, e, 0, "kind", d->kind, sizeof d->kind);
                } else if (in_meta) {
                    if ((r = key_value(text, b, e, 2, "name", d->name, sizeof d->name)) == 0)
                        r = key_value(text, b, e, 2, "namespace", d->namespace, sizeof d->namespace);
                }
                if (r < 0)
                    err = LQ_ETOOBIG;
            }
            b = e < len ? e + 1 : e;
        }
        d->len = (size_t)(text + b - d->text);
        *pos = b;
        if (!content)
            continue;
        if (err != LQ_OK)
            return err;
        if (!d->api_version[0] || !d->kind[0] || !d->name[0])
            return LQ_EPROTO;
        return LQ_OK;
    }
}

lq_err_t lq_manifest_plural(const char *kind, char *buf, size_t cap)
{
    if (kind == NULL || buf == NULL || kind[0] == '\0')
        return LQ_EINVAL;
    size_t n = strlen(kind);
    if (n + 3 > cap)
        return LQ_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        char c = kind[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return LQ_EINVAL;
        buf[i] = c;
    }
    buf[n] = '\0';
    char last = buf[n - 1];
    bool vowel_before = n >= 2 && strchr("aeiou", buf[n - 2]) != NULL;
    if (last == 'y' && !vowel_before)
        memcpy(buf + n - 1, "ies", 4);
    else if (last == 's' || last == 'x' || (n >= 2 && buf[n - 2] == 'c' && last == 'h') ||
             (n >= 2 && buf[n - 2] == 's' && last == 'h'))
        memcpy(buf + n, "es", 3);
    else
        memcpy(buf + n, "s", 2);
    return LQ_OK;
}

lq_err_t lq_manifest_path(const lq_manifest_doc_t *d, bool with_name, char *buf, size_t cap)
{
    if (d == NULL || buf == NULL)
        return LQ_EINVAL;
    char plural[sizeof d->kind + 3];
    lq_err_t e = lq_manifest_plural(d->kind, plural, sizeof plural);
    if (e != LQ_OK)
        return e;
    return lq_kapi_path(buf, cap, d->api_version, d->namespace[0] ? d->namespace : NULL, plural,
                        with_name ? d->name : NULL, NULL);
}
