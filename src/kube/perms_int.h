/* Internal to the permission renderers (perms.c: RBAC and Markdown; policy.c: admission
 * policies): the bounded output buffer and the role names. Not part of the public API. */
#ifndef LQ_KUBE_PERMS_INT_H
#define LQ_KUBE_PERMS_INT_H

#include "liqolet/perms.h"

#include <stdbool.h>
#include <string.h>

typedef struct out {
    char *buf;
    size_t cap;      /* > 0: one byte is kept for the NUL */
    size_t len;
    bool overflow;
} out_t;

static inline void put_n(out_t *o, const char *s, size_t n)
{
    if (o->overflow)
        return;
    if (n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void put(out_t *o, const char *s)
{
    put_n(o, s, strlen(s));
}

/* Three strings in a row (saves lines, not a format engine). */
static inline void put3(out_t *o, const char *a, const char *b, const char *c)
{
    put(o, a);
    put(o, b);
    put(o, c);
}

static inline lq_err_t out_finish(out_t *o, size_t *out_len)
{
    if (o->overflow) {
        o->buf[0] = '\0';
        return LQ_ETOOBIG;
    }
    o->buf[o->len] = '\0';
    *out_len = o->len;
    return LQ_OK;
}

/* Role/binding names: "<base>-<suffix>". */
typedef struct names {
    char base[LQ_PERMS_NAME_MAX + 1];
    char lock[LQ_PERMS_NAME_MAX + 1];   /* "" = foreign id unknown: any name */
    char legacy[LQ_PERMS_NAME_MAX + 1];
} names_t;

/* The checks every renderer starts with (perms.c): output cleared, parameters and names
 * valid; fills *nm. */
lq_err_t lq_perms_render_begin_(lq_perms_cluster_t cluster, const lq_perms_params_t *p, char *buf,
                                 size_t cap, size_t *out_len, names_t *nm);

#endif
