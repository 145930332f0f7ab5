/* liqolet: record table with a work queue (include/liqolet/rtab.h). Pure. */
#include <string.h>

#include "liqolet/rtab.h"

static uint32_t key_hash(const char *ns, size_t nl, const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a over ns, a separator, name */
    for (size_t i = 0; i < nl; i++)
        h = (h ^ (unsigned char)ns[i]) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static uint32_t index_of(const lq_rtab_t *t, const lq_rtab_hdr_t *h)
{
    return (uint32_t)(((const unsigned char *)h - t->recs_) / t->stride_);
}

void lq_rtab_init(lq_rtab_t *t, void *recs, size_t stride, size_t cap, uint32_t bo_base_ms,
                  uint32_t bo_max_ms)
{
    memset(t, 0, sizeof *t);
    t->recs_ = recs;
    t->stride_ = stride;
    t->cap = cap;
    t->limit = cap;
    t->bo_base_ = bo_base_ms;
    t->bo_max_ = bo_max_ms;
    /* Nothing of recs is written here: slots are handed out in order (top_) and each is
     * cleared when first taken, so a large static table costs resident memory only for
     * the records it has held. */
}

size_t lq_rtab_span(const lq_rtab_t *t)
{
    return t->top_;
}

void lq_rtab_set_limit(lq_rtab_t *t, size_t limit)
{
    t->limit = (limit == 0 || limit > t->cap) ? t->cap : limit;
}

lq_rtab_hdr_t *lq_rtab_at(const lq_rtab_t *t, size_t i)
{
    return (lq_rtab_hdr_t *)(void *)(t->recs_ + i * t->stride_);
}

lq_rtab_hdr_t *lq_rtab_find(const lq_rtab_t *t, const char *ns, size_t nl, const char *name,
                            size_t len)
{
    if (nl >= LQ_RTAB_NS_BUF || len >= LQ_RTAB_NAME_BUF)
        return NULL;
    uint32_t hash = key_hash(ns, nl, name, len);
    for (size_t i = 0; i < t->top_; i++) {
        lq_rtab_hdr_t *h = lq_rtab_at(t, i);
        if (h->used && h->hash == hash && memcmp(h->ns, ns, nl) == 0 && h->ns[nl] == '\0' &&
            memcmp(h->name, name, len) == 0 && h->name[len] == '\0')
            return h;
    }
    return NULL;
}

lq_rtab_hdr_t *lq_rtab_get(lq_rtab_t *t, const char *ns, size_t nl, const char *name, size_t len)
{
    lq_rtab_hdr_t *h = lq_rtab_find(t, ns, nl, name, len);
    if (h)
        return h;
    if (nl == 0 || nl >= LQ_RTAB_NS_BUF || len >= LQ_RTAB_NAME_BUF)
        return NULL;
    if (t->stats.records >= t->limit) {
        t->stats.table_full++;
        t->overflow = true;
        return NULL;
    }
    for (size_t i = 0; i <= t->top_ && i < t->cap; i++) {
        h = lq_rtab_at(t, i);
        if (i < t->top_ && h->used)
            continue;
        if (i == t->top_)
            t->top_++;
        memset(h, 0, t->stride_);
        h->used = true;
        h->hash = key_hash(ns, nl, name, len);
        memcpy(h->ns, ns, nl);
        memcpy(h->name, name, len);
        lq_backoff_init(&h->bo, t->bo_base_, t->bo_max_, (uint64_t)h->hash * 7919u + i);
        t->stats.records++;
        if (t->stats.records > t->stats.records_hwm)
            t->stats.records_hwm = t->stats.records;
        return h;
    }
    t->stats.table_full++;
    t->overflow = true;
    return NULL;
}

/* The lane a record belongs in: its head and tail. */
static uint32_t *lane(lq_rtab_t *t, bool urgent, uint32_t **tail)
{
    *tail = urgent ? &t->utail_ : &t->qtail_;
    return urgent ? &t->uhead_ : &t->qhead_;
}

static void enqueue(lq_rtab_t *t, lq_rtab_hdr_t *h)
{
    uint32_t idx = index_of(t, h) + 1u, *tail, *head = lane(t, h->urgent, &tail);
    h->queued = true;
    h->qnext = 0;
    if (*tail)
        lq_rtab_at(t, *tail - 1u)->qnext = idx;
    else
        *head = idx;
    *tail = idx;
    t->stats.queued++;
    if (t->stats.queued > t->stats.queued_hwm)
        t->stats.queued_hwm = t->stats.queued;
}

/* Unlinks h from its lane (a walk: used when a queued record is freed or moves lane). */
static void dequeue(lq_rtab_t *t, lq_rtab_hdr_t *h)
{
    uint32_t idx = index_of(t, h) + 1u, prev = 0, *tail, *head = lane(t, h->urgent, &tail);
    for (uint32_t cur = *head; cur; prev = cur, cur = lq_rtab_at(t, cur - 1u)->qnext) {
        if (cur != idx)
            continue;
        if (prev)
            lq_rtab_at(t, prev - 1u)->qnext = h->qnext;
        else
            *head = h->qnext;
        if (*tail == idx)
            *tail = prev;
        break;
    }
    h->queued = false;
    h->qnext = 0;
    t->stats.queued--;
}

void lq_rtab_free(lq_rtab_t *t, lq_rtab_hdr_t *h)
{
    if (!h->used)
        return;
    if (h->queued)
        dequeue(t, h);
    h->used = false;
    h->dirty = false;
    h->busy = false;
    h->urgent = false;
    t->stats.records--;
}

void lq_rtab_dirty(lq_rtab_t *t, lq_rtab_hdr_t *h)
{
    if (!h->used)
        return;
    h->dirty = true;
    h->retry_at = 0; /* an event supersedes a pending retry */
    if (!h->busy && !h->queued)
        enqueue(t, h);
}

void lq_rtab_dirty_urgent(lq_rtab_t *t, lq_rtab_hdr_t *h)
{
    if (!h->used)
        return;
    if (h->queued && !h->urgent)
        dequeue(t, h);
    h->urgent = true;
    lq_rtab_dirty(t, h);
}

void lq_rtab_dirty_all(lq_rtab_t *t)
{
    for (size_t i = 0; i < t->top_; i++)
        lq_rtab_dirty(t, lq_rtab_at(t, i));
}

lq_rtab_hdr_t *lq_rtab_next(lq_rtab_t *t)
{
    bool urgent = t->uhead_ && (!t->qhead_ || t->urun_ < LQ_RTAB_URGENT_RUN);
    uint32_t *tail, *head = lane(t, urgent, &tail);
    if (!*head)
        return NULL;
    /* only urgent picks that made a waiting normal record wait count towards the run */
    t->urun_ = urgent && t->qhead_ ? t->urun_ + 1u : 0;
    lq_rtab_hdr_t *h = lq_rtab_at(t, *head - 1u);
    *head = h->qnext;
    if (!*head)
        *tail = 0;
    h->qnext = 0;
    h->queued = false;
    h->urgent = false;
    h->dirty = false;
    h->busy = true;
    h->retry_at = 0;
    t->stats.queued--;
    return h;
}

void lq_rtab_done(lq_rtab_t *t, lq_rtab_hdr_t *h, lq_rtab_outcome_t o, uint32_t delay_ms,
                  int64_t now)
{
    h->busy = false;
    switch (o) {
    case LQ_RTAB_FREE:
        lq_rtab_free(t, h);
        return;
    case LQ_RTAB_RETRY:
        t->stats.retries++;
        delay_ms = lq_backoff_next(&h->bo);
        break;
    case LQ_RTAB_RECHECK:
        break;
    case LQ_RTAB_DONE:
        lq_backoff_reset(&h->bo);
        delay_ms = 0;
        break;
    }
    if (h->dirty) { /* an event came while the worker held it: a fresh pass at once */
        enqueue(t, h);
        return;
    }
    if (delay_ms > 0) {
        h->retry_at = now + delay_ms;
        if (t->retry_min_ == 0 || h->retry_at < t->retry_min_)
            t->retry_min_ = h->retry_at;
    }
}

int64_t lq_rtab_promote(lq_rtab_t *t, int64_t now)
{
    if (t->retry_min_ == 0 || t->retry_min_ > now)
        return t->retry_min_;
    int64_t next = 0;
    for (size_t i = 0; i < t->top_; i++) {
        lq_rtab_hdr_t *h = lq_rtab_at(t, i);
        if (!h->used || h->retry_at == 0)
            continue;
        if (h->retry_at <= now) {
            h->retry_at = 0;
            lq_rtab_dirty(t, h);
        } else if (next == 0 || h->retry_at < next) {
            next = h->retry_at;
        }
    }
    t->retry_min_ = next;
    return next;
}

void lq_rtab_relist_begin(lq_rtab_t *t, unsigned side)
{
    for (size_t i = 0; i < t->top_; i++)
        lq_rtab_at(t, i)->marks &= (uint8_t)~(1u << side);
}

void lq_rtab_mark(lq_rtab_hdr_t *h, unsigned side)
{
    h->marks |= (uint8_t)(1u << side);
    h->present |= (uint8_t)(1u << side);
}

void lq_rtab_set_present(lq_rtab_hdr_t *h, unsigned side, bool on)
{
    if (on)
        h->present |= (uint8_t)(1u << side);
    else
        h->present &= (uint8_t)~(1u << side);
}

size_t lq_rtab_relist_end(lq_rtab_t *t, unsigned side)
{
    size_t lost = 0;
    for (size_t i = 0; i < t->top_; i++) {
        lq_rtab_hdr_t *h = lq_rtab_at(t, i);
        if (!h->used || !lq_rtab_present(h, side) || ((h->marks >> side) & 1u))
            continue;
        lq_rtab_set_present(h, side, false); /* gone while the watch was down */
        lq_rtab_dirty(t, h);
        lost++;
    }
    return lost;
}

size_t lq_rtab_depth(const lq_rtab_t *t)
{
    size_t n = t->stats.queued;
    for (size_t i = 0; i < t->top_ && t->retry_min_ != 0; i++) {
        const lq_rtab_hdr_t *h = lq_rtab_at(t, i);
        n += h->used && !h->queued && h->retry_at != 0;
    }
    return n;
}
