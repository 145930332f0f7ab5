/* liqolet: jittered exponential backoff (see backoff.h). */
#include "liqolet/backoff.h"

void lq_backoff_init(lq_backoff_t *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed)
{
    if (base_ms == 0)
        base_ms = 1;
    if (max_ms < base_ms)
        max_ms = base_ms;
    b->base_ms = base_ms;
    b->max_ms = max_ms;
    b->cur_ms = base_ms;
    b->attempts = 0;
    b->rng = seed ^ UINT64_C(0x9e3779b97f4a7c15);
    if (b->rng == 0)
        b->rng = 1;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint32_t lq_backoff_next(lq_backoff_t *b)
{
    uint32_t ceil = b->cur_ms;
    uint32_t half = ceil / 2;
    uint32_t span = ceil - half; /* delays in [half, ceil] */
    uint32_t d = half + (uint32_t)(xorshift(&b->rng) % ((uint64_t)span + 1));
    if (b->cur_ms <= b->max_ms / 2)
        b->cur_ms *= 2;
    else
        b->cur_ms = b->max_ms;
    b->attempts++;
    return d;
}

void lq_backoff_reset(lq_backoff_t *b)
{
    b->cur_ms = b->base_ms;
    b->attempts = 0;
}
