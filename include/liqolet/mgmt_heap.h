/* liqolet: libcoap's heap fence (src/mgmt/heap.c; docs/management.md "Memory").
 *
 * libcoap (and its mbedTLS glue) calls malloc & co. on POSIX. The Makefile links a copy
 * of libcoap's archive in which malloc, calloc, realloc, free, strdup and strndup are
 * renamed to the lq_mgmt_heap_* functions below (objcopy --redefine-sym), so every byte
 * libcoap takes from the heap is counted, capped at LQ_COAP_HEAP_CAP, and allowed by the
 * allocation guard: the one documented exception to "no malloc after start-up" besides
 * mbedTLS's arena. Nothing else calls them. The fence includes no libcoap header: it is
 * only the allocator libcoap's archive is linked against. */
#ifndef LIQOLET_MGMT_HEAP_H
#define LIQOLET_MGMT_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lq_mgmt_heap_stats {
    uint64_t in_use;       /* bytes now (payload + bookkeeping) */
    uint64_t high_water;
    uint64_t cap;          /* LQ_COAP_HEAP_CAP */
    uint64_t allocations;  /* successful malloc/calloc/realloc/strdup calls */
    uint64_t refused;      /* calls refused because the cap would be passed */
} lq_mgmt_heap_stats_t;

/* The figures now. */
void lq_mgmt_heap_stats(lq_mgmt_heap_stats_t *out);

void *lq_mgmt_heap_malloc(size_t n);
void *lq_mgmt_heap_calloc(size_t n, size_t size);
void *lq_mgmt_heap_realloc(void *p, size_t n);
void lq_mgmt_heap_free(void *p);
char *lq_mgmt_heap_strdup(const char *s);
char *lq_mgmt_heap_strndup(const char *s, size_t n);

#endif
