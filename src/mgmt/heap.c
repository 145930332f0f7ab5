/* liqolet: libcoap's heap fence (see include/liqolet/mgmt_heap.h).
 *
 * Each block gets a size header so that free and realloc know what they release; the
 * total (payload + headers) never passes LQ_COAP_HEAP_CAP: a call that would is refused
 * (NULL), counted, and libcoap handles it like any failed allocation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/config_defaults.h"
#include "liqolet/mgmt_heap.h"
#include "liqolet/pool.h"

/* --- the heap fence ------------------------------------------------------------------- */

typedef union heap_hdr {
    max_align_t align;
    size_t size; /* payload bytes */
} heap_hdr_t;

static lq_mgmt_heap_stats_t heap = { .cap = LQ_COAP_HEAP_CAP };

static bool heap_fits(size_t add, size_t release)
{
    uint64_t after = heap.in_use - release;
    return add <= LQ_COAP_HEAP_CAP && after + add + sizeof(heap_hdr_t) <= LQ_COAP_HEAP_CAP;
}

static void heap_account(uint64_t add, uint64_t release)
{
    heap.in_use = heap.in_use - release + add;
    if (heap.in_use > heap.high_water)
        heap.high_water = heap.in_use;
}

void *lq_mgmt_heap_malloc(size_t n)
{
    if (!heap_fits(n, 0)) {
        heap.refused++;
        return NULL;
    }
    lq_allocguard_allow_enter();
    heap_hdr_t *h = malloc(sizeof *h + n);
    lq_allocguard_allow_leave();
    if (h == NULL) {
        heap.refused++;
        return NULL;
    }
    h->size = n;
    heap_account(sizeof *h + n, 0);
    heap.allocations++;
    return h + 1;
}

void *lq_mgmt_heap_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        heap.refused++;
        return NULL;
    }
    void *p = lq_mgmt_heap_malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void lq_mgmt_heap_free(void *p)
{
    if (p == NULL)
        return;
    heap_hdr_t *h = (heap_hdr_t *)p - 1;
    heap_account(0, sizeof *h + h->size);
    lq_allocguard_allow_enter();
    free(h);
    lq_allocguard_allow_leave();
}

void *lq_mgmt_heap_realloc(void *p, size_t n)
{
    if (p == NULL)
        return lq_mgmt_heap_malloc(n);
    if (n == 0) {
        lq_mgmt_heap_free(p);
        return NULL;
    }
    heap_hdr_t *h = (heap_hdr_t *)p - 1;
    size_t old = h->size;
    if (!heap_fits(n, sizeof *h + old)) {
        heap.refused++;
        return NULL;
    }
    lq_allocguard_allow_enter();
    heap_hdr_t *nh = realloc(h, sizeof *nh + n);
    lq_allocguard_allow_leave();
    if (nh == NULL) {
        heap.refused++;
        return NULL;
    }
    nh->size = n;
    heap_account(sizeof *nh + n, sizeof *nh + old);
    heap.allocations++;
    return nh + 1;
}

char *lq_mgmt_heap_strndup(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len] != '\0')
        len++;
    char *d = lq_mgmt_heap_malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *lq_mgmt_heap_strdup(const char *s)
{
    return lq_mgmt_heap_strndup(s, SIZE_MAX);
}

void lq_mgmt_heap_stats(lq_mgmt_heap_stats_t *out)
{
    *out = heap;
}
