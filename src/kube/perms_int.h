/* Internal to the permission renderers (perms.c: RBAC and Markdown; policy.c: admission
 * policies): the bounded output buffer and the role names. Not part of the public API. */
#ifndef LQ_KUBE_PERMS_INT_H
#define LQ_KUBE_PERMS_INT_H

#include "liqolet/perms.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct out {
    char *buf;
    size_t cap;      /* > 0: one byte is kept for the NUL */
    size_t len;
    bool overflow;
} out_t;

/* The output helpers, defined once in perms.c (called, not inlined into every caller:
 * the renderers make hundreds of calls), under short names inside the two renderers. */
void lq_perms_out_put_n(out_t *o, const char *s, size_t n);
void lq_perms_out_put(out_t *o, const char *s);
/* Three strings in a row (saves lines, not a format engine). */
void lq_perms_out_put3(out_t *o, const char *a, const char *b, const char *c);
/* NUL-terminates; LQ_ETOOBIG (and an empty buffer) if anything did not fit. */
lq_err_t lq_perms_out_finish(out_t *o, size_t *out_len);
#define put_n      lq_perms_out_put_n
#define put        lq_perms_out_put
#define put3       lq_perms_out_put3
#define out_finish lq_perms_out_finish

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
