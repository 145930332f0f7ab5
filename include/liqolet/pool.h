/* liqolet: the start-up pool, the agent's only allocator.
 *
 * Tables whose size depends on configuration (not only on the board) are carved from one
 * static region (LQ_STARTUP_POOL bytes) during start-up; then lq_pool_seal() closes it.
 * After the seal every lq_pool_alloc fails, and the guarded test build
 * (src/core/allocguard.c) counts any malloc/calloc/realloc/free made by the agent's own code. */
#ifndef LIQOLET_POOL_H
#define LIQOLET_POOL_H

#include <stddef.h>

#include "liqolet/err.h"

void lq_pool_init(void);
/* Returns zeroed memory aligned to `align` (a power of two, at most 64), or NULL when the
 * pool is exhausted or sealed. `what` names the table in the log line on failure. */
void *lq_pool_alloc(size_t size, size_t align, const char *what);
void lq_pool_seal(void);
int lq_pool_sealed(void);
size_t lq_pool_used(void);
size_t lq_pool_capacity(void);

/* Allocation guard (tests/guarded builds only; see src/core/allocguard.c). */
/* Number of heap calls made by the agent's own code after lq_pool_seal(). */
unsigned long lq_allocguard_violations(void);
/* Third-party code that is allowed to use the heap (libcoap, the documented exception)
 * is called between _allow_enter and _allow_leave. No-ops in normal builds. */
void lq_allocguard_allow_enter(void);
void lq_allocguard_allow_leave(void);

#endif
