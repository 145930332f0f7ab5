/* liqolet: Kubernetes REST conventions (pure; see kapi.h). */
#include <string.h>

#include "liqolet/http.h"
#include "liqolet/kapi.h"

static bool reason_is(const char *r, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return r != NULL && n == l && memcmp(r, lit, l) == 0;
}

lq_err_t lq_kapi_classify(int http_status, const char *reason, size_t reason_len,
                          lq_kapi_action_t *action)
{
    lq_kapi_action_t a = LQ_KAPI_DONE;
    lq_err_t e;
    if (http_status >= 200 && http_status < 300) {
        e = LQ_OK;
    } else if (http_status == 401) {
        e = LQ_EAUTH;
        a = LQ_KAPI_REAUTH;
    } else if (http_status == 403) {
        e = LQ_EFORBIDDEN;
    } else if (http_status == 404) {
        e = LQ_ENOTFOUND;
    } else if (http_status == 409) {
        e = LQ_ECONFLICT;
        a = reason_is(reason, reason_len, "AlreadyExists") ? LQ_KAPI_ADOPT : LQ_KAPI_REREAD;
    } else if (http_status == 410 || reason_is(reason, reason_len, "Expired") ||
               reason_is(reason, reason_len, "Gone")) {
        e = LQ_EGONE;
        a = LQ_KAPI_RELIST;
    } else if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600)) {
        e = LQ_EHTTP;
        a = LQ_KAPI_RETRY;
    } else {
        e = LQ_EHTTP;
    }
    if (action)
        *action = a;
    return e;
}

static bool segment_ok(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == '?' || *p == '%' || *p == '#')
            return false;
    }
    return true;
}

static bool gv_ok(const char *gv)
{
    if (gv == NULL || gv[0] == '\0')
        return false;
    int slashes = 0;
    for (const unsigned char *p = (const unsigned char *)gv; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '%' || *p == '#')
            return false;
    }
    return slashes <= 1 && gv[0] != '/' && gv[strlen(gv) - 1] != '/';
}

static bool put(char *buf, size_t cap, size_t *w, const char *s)
{
    size_t n = strlen(s);
    if (*w + n + 1 > cap)
        return false;
    memcpy(buf + *w, s, n);
    *w += n;
    buf[*w] = '\0';
    return true;
}

lq_err_t lq_kapi_path(char *buf, size_t cap, const char *group_version, const char *ns,
                      const char *resource, const char *name, const char *sub)
{
    if (buf == NULL || cap == 0 || !gv_ok(group_version) || !segment_ok(resource))
        return LQ_EINVAL;
    bool has_ns = ns != NULL && ns[0] != '\0';
    bool has_name = name != NULL && name[0] != '\0';
    bool has_sub = sub != NULL && sub[0] != '\0';
    if ((has_ns && !segment_ok(ns)) || (has_name && !segment_ok(name)) ||
        (has_sub && (!segment_ok(sub) || !has_name)))
        return LQ_EINVAL;
    size_t w = 0;
    buf[0] = '\0';
    bool core = strchr(group_version, '/') == NULL;
    bool ok = put(buf, cap, &w, core ? "/api/" : "/apis/") && put(buf, cap, &w, group_version);
    if (ok && has_ns)
        ok = put(buf, cap, &w, "/namespaces/") && put(buf, cap, &w, ns);
    ok = ok && put(buf, cap, &w, "/") && put(buf, cap, &w, resource);
    if (ok && has_name)
        ok = put(buf, cap, &w, "/") && put(buf, cap, &w, name);
    if (ok && has_sub)
        ok = put(buf, cap, &w, "/") && put(buf, cap, &w, sub);
    if (!ok) {
        buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    return LQ_OK;
}

lq_err_t lq_kapi_query(char *buf, size_t cap, const char *key, const char *value)
{
    if (buf == NULL || key == NULL || value == NULL || !segment_ok(key))
        return LQ_EINVAL;
    size_t w = strlen(buf);
    if (w >= cap)
        return LQ_EINVAL;
    size_t start = w;
    char sep[2] = { strchr(buf, '?') ? '&' : '?', '\0' };
    if (!put(buf, cap, &w, sep) || !put(buf, cap, &w, key) || !put(buf, cap, &w, "=")) {
        buf[start] = '\0';
        return LQ_ETOOBIG;
    }
    size_t out = 0;
    lq_err_t e = lq_http_escape_query(buf + w, cap - w, value, strlen(value), &out);
    if (e != LQ_OK) {
        buf[start] = '\0';
        return e;
    }
    return LQ_OK;
}
