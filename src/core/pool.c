/* liqolet: start-up pool (see pool.h). */
#include <stdint.h>
#include <string.h>

#include "liqolet/config_defaults.h"
#include "liqolet/log.h"
#include "liqolet/pool.h"

static _Alignas(64) unsigned char pool_mem[LQ_STARTUP_POOL];
static size_t pool_used;
static int pool_is_sealed;

void lq_pool_init(void)
{
    pool_used = 0;
    pool_is_sealed = 0;
}

void *lq_pool_alloc(size_t size, size_t align, const char *what)
{
    if (pool_is_sealed) {
        LQ_ERROR("pool", "allocation of %zu bytes for %s after start-up refused", size, what);
        return NULL;
    }
    if (align == 0 || align > 64 || (align & (align - 1)) != 0)
        return NULL;
    size_t start = (pool_used + align - 1) & ~(align - 1);
    if (start > sizeof pool_mem || size > sizeof pool_mem - start) {
        LQ_ERROR("pool", "start-up pool exhausted: %s needs %zu bytes, %zu of %zu used "
                 "(raise LQ_STARTUP_POOL in the board header)",
                 what, size, pool_used, sizeof pool_mem);
        return NULL;
    }
    pool_used = start + size;
    memset(pool_mem + start, 0, size);
    return pool_mem + start;
}

void lq_pool_seal(void)
{
    pool_is_sealed = 1;
}

int lq_pool_sealed(void)
{
    return pool_is_sealed;
}

size_t lq_pool_used(void)
{
    return pool_used;
}

size_t lq_pool_capacity(void)
{
    return sizeof pool_mem;
}
