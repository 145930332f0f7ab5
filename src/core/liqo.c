/* liqolet: the Liqo label family in use (pure; see include/liqolet/liqo.h). */
#include "liqolet/liqo.h"

#include <string.h>

static const lq_liqo_names_t g_v08 = {
    "v0.8", LQ_LIQO_V08_LABEL_ORIGIN, LQ_LIQO_V08_LABEL_DESTINATION, NULL,
};
static const lq_liqo_names_t g_v1 = {
    "v1", LQ_LIQO_V1_LABEL_ORIGIN, LQ_LIQO_V1_LABEL_DESTINATION, LQ_LIQO_V1_LABEL_NODENAME,
};

static const lq_liqo_names_t *g_names = &g_v08;

const lq_liqo_names_t *lq_liqo_names(void)
{
    return g_names;
}

const lq_liqo_names_t *lq_liqo_names_of(lq_liqo_compat_t compat)
{
    return compat == LQ_LIQO_COMPAT_V1 ? &g_v1 : &g_v08;
}

void lq_liqo_use(lq_liqo_compat_t compat)
{
    g_names = lq_liqo_names_of(compat);
}

bool lq_liqo_is_own_label(const char *key, size_t n)
{
    static const char *const own[] = {
        LQ_LIQO_V08_LABEL_ORIGIN, LQ_LIQO_V08_LABEL_DESTINATION, LQ_LIQO_V1_LABEL_ORIGIN,
        LQ_LIQO_V1_LABEL_DESTINATION, LQ_LIQO_V1_LABEL_NODENAME,
    };
    if (key == NULL)
        return false;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strlen(own[i]) == n && memcmp(own[i], key, n) == 0)
            return true;
    return false;
}
