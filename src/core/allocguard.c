/* liqolet: heap guard for the guarded build (DESIGN.md: no malloc after start-up).
 *
 * The guarded test binaries and `make guard` link with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
 * so every heap call made by code linked statically (the agent, and the third-party
 * archives) lands here. Calls made inside the C library itself (getaddrinfo, for
 * instance) are not redirected. After lq_pool_seal(), a call outside an
 * allow_enter/allow_leave bracket is a violation: counted, logged to stderr, and fatal
 * when LQ_ALLOC_GUARD=abort. In normal builds only the weak no-op counters below exist. */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "liqolet/pool.h"

static unsigned long violations;
static int allow_depth;

unsigned long lq_allocguard_violations(void)
{
    return violations;
}

void lq_allocguard_allow_enter(void)
{
    allow_depth++;
}

void lq_allocguard_allow_leave(void)
{
    if (allow_depth > 0)
        allow_depth--;
}

#ifdef LQ_ALLOC_GUARD
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

static void check(const char *what)
{
    if (!lq_pool_sealed() || allow_depth > 0)
        return;
    violations++;
    static const char msg1[] = "liqolet: allocguard: ";
    static const char msg2[] = " after start-up by the agent's own code\n";
    (void)!write(2, msg1, sizeof msg1 - 1);
    size_t n = 0;
    while (what[n] != '\0')
        n++;
    (void)!write(2, what, n);
    (void)!write(2, msg2, sizeof msg2 - 1);
    const char *mode = getenv("LQ_ALLOC_GUARD");
    if (mode != NULL && mode[0] == 'a')
        abort();
}

void *__wrap_malloc(size_t size)
{
    check("malloc");
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    check("calloc");
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    check("realloc");
    return __real_realloc(p, size);
}

void __wrap_free(void *p)
{
    if (p != NULL)
        check("free");
    __real_free(p);
}
#endif
