/* liqolet: jittered exponential backoff (pure). Each delay is drawn uniformly from
 * [d/2, d] where d doubles from base_ms up to max_ms ("equal jitter"), so many agents or
 * reflectors that failed together do not retry together. */
#ifndef LIQOLET_BACKOFF_H
#define LIQOLET_BACKOFF_H

#include <stdint.h>

typedef struct lq_backoff {
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t cur_ms;   /* the next ceiling */
    uint32_t attempts; /* delays handed out since the last reset */
    uint64_t rng;
} lq_backoff_t;

/* base_ms >= 1, max_ms >= base_ms (clamped otherwise). seed varies the jitter (e.g. a
 * hash of the object's name); 0 is fine. Cannot fail. */
void lq_backoff_init(lq_backoff_t *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed);
/* Next delay in ms, then the ceiling doubles (up to max_ms). */
uint32_t lq_backoff_next(lq_backoff_t *b);
/* After a success: back to base_ms. */
void lq_backoff_reset(lq_backoff_t *b);

#endif
