/* liqolet: record table with a work queue (pure: no OS header; time comes in as `now`).
 *
 * The static counterpart of client-go's informer store + rate-limited work queue. A
 * table is an array of records of one kind, `stride` bytes apart, each starting with an
 * lq_rtab_hdr_t (key, queue links, retry time, backoff, own last-written resourceVersion,
 * the per-side presence and relist marks); the kind's own fields follow the header.
 *
 *   dirty  -> the record is queued once (de-duplicated); a record dirtied while a
 *             worker holds it is queued again when the worker lets it go
 *   next   -> FIFO order over queued records: every dirty record is served before any
 *             record dirtied after it (fairness without a scan)
 *   urgent -> a second FIFO lane served first: work caused by the remote copy (status
 *             back, drift) does not wait behind a burst of creates. Creates still get
 *             one pick in every LQ_RTAB_URGENT_RUN + 1 (every other one) while both
 *             lanes hold records.
 *   done   -> DONE (backoff reset), RETRY (backoff delay), RECHECK (fixed delay), FREE
 *   promote-> records whose retry time has come are queued; returns the next due time
 *   relist -> begin clears one side's marks; records the (re)list shows are marked;
 *             end drops that side's presence from every record not marked and dirties it
 *
 * Capacity: `cap` records in memory, `limit` (<= cap) in use at most (node.maxPods).
 * A full table refuses a new record (NULL), counts it and sets `overflow`, so the owner
 * can relist once a record frees. Nothing allocates. */
#ifndef LIQOLET_RTAB_H
#define LIQOLET_RTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/backoff.h"

#define LQ_RTAB_NS_BUF 64u     /* a DNS-1123 label: 63 + NUL */
#define LQ_RTAB_NAME_BUF 254u  /* a DNS-1123 subdomain: 253 + NUL */
#define LQ_RTAB_RV_BUF 32u
/* Urgent picks in a row while the normal lane waits. 1: the lanes alternate, so status
 * never waits behind more than one create and creates keep half of the workers (at 3 a
 * paced 1,000-pod run starved its creates: every pod brings three or four foreign
 * events, so the urgent lane never ran dry under load). */
#define LQ_RTAB_URGENT_RUN 1u

/* Watch sides: bit numbers of `present` and `marks`. */
enum { LQ_RTAB_HOME = 0, LQ_RTAB_FOREIGN = 1, LQ_RTAB_SIDES = 2 };

typedef enum lq_rtab_outcome {
    LQ_RTAB_DONE = 0, /* nothing left to do: backoff reset */
    LQ_RTAB_RETRY,    /* failed: again after the record's next backoff delay */
    LQ_RTAB_RECHECK,  /* waiting for something: again after a fixed delay */
    LQ_RTAB_FREE      /* the record is no longer needed */
} lq_rtab_outcome_t;

typedef struct lq_rtab_hdr {
    uint32_t hash;           /* of the key, compared before the strings */
    uint32_t qnext;          /* queue link: index + 1 of the next record, 0 = end */
    bool used;
    bool queued;             /* in the queue now */
    bool dirty;              /* needs a pass (queued, or held by a worker) */
    bool busy;               /* held by a worker */
    bool urgent;             /* queued (or to be queued again) in the urgent lane */
    uint8_t present;         /* bit per side: that side's object exists, as far as known */
    uint8_t marks;           /* bit per side: shown by the current (re)list */
    int64_t retry_at;        /* monotonic ms of the next pass without an event; 0 none */
    lq_backoff_t bo;
    char own_rv[LQ_RTAB_RV_BUF]; /* resourceVersion after our own last write (echo) */
    char ns[LQ_RTAB_NS_BUF];
    char name[LQ_RTAB_NAME_BUF];
} lq_rtab_hdr_t;

typedef struct lq_rtab_stats {
    uint32_t records, records_hwm;  /* in use now, most ever */
    uint32_t queued, queued_hwm;    /* waiting for a worker now, most ever */
    uint64_t table_full;            /* records refused */
    uint64_t retries;               /* RETRY outcomes */
} lq_rtab_stats_t;

typedef struct lq_rtab {
    /* readable */
    lq_rtab_stats_t stats;
    size_t cap, limit;
    bool overflow;           /* a record was refused since the owner last cleared it */
    /* private */
    unsigned char *recs_;
    size_t stride_;
    size_t top_;              /* slots ever handed out: [0, top_) hold valid headers */
    uint32_t qhead_, qtail_;  /* normal lane: index + 1, 0 = empty */
    uint32_t uhead_, utail_;  /* urgent lane */
    uint32_t urun_;           /* urgent picks since the last normal one */
    int64_t retry_min_;       /* earliest retry_at of any record (0 none), a lower bound */
    uint32_t bo_base_, bo_max_;
} lq_rtab_t;

/* Binds the table to caller-owned storage: cap records of `stride` bytes (stride >=
 * sizeof(lq_rtab_hdr_t), records start with the header), in any state: the storage is
 * not written here, and a slot is cleared when it is first handed out, so only the
 * records a table has held become resident. New records get a backoff from bo_base_ms
 * to bo_max_ms. Cannot fail. */
void lq_rtab_init(lq_rtab_t *t, void *recs, size_t stride, size_t cap, uint32_t bo_base_ms,
                  uint32_t bo_max_ms);
/* Records in use at most (1..cap; 0 or more than cap means cap). */
void lq_rtab_set_limit(lq_rtab_t *t, size_t limit);
/* Slots that may hold a record: loops over a table go over [0, span), never to cap. */
size_t lq_rtab_span(const lq_rtab_t *t);
/* Record i (0..span-1), used or not. */
lq_rtab_hdr_t *lq_rtab_at(const lq_rtab_t *t, size_t i);
/* The record with key (ns, name); name may be empty. NULL when absent. */
lq_rtab_hdr_t *lq_rtab_find(const lq_rtab_t *t, const char *ns, size_t nl, const char *name,
                            size_t len);
/* The record with that key, created (zeroed past the header, not dirty) when absent.
 * NULL: the key does not fit the header's fields or is empty (ns), or the table is at its
 * limit (counted in stats.table_full; overflow set). */
lq_rtab_hdr_t *lq_rtab_get(lq_rtab_t *t, const char *ns, size_t nl, const char *name, size_t len);
/* Frees a record that no worker holds (a busy one is freed by lq_rtab_done(FREE)). */
void lq_rtab_free(lq_rtab_t *t, lq_rtab_hdr_t *h);
/* Marks a record dirty: queued once; a busy record is queued again when done. */
void lq_rtab_dirty(lq_rtab_t *t, lq_rtab_hdr_t *h);
/* The same in the urgent lane; a record waiting in the normal lane moves over. */
void lq_rtab_dirty_urgent(lq_rtab_t *t, lq_rtab_hdr_t *h);
/* Takes a queued record for a worker (busy, no longer dirty), or NULL: the oldest
 * urgent one, except that every LQ_RTAB_URGENT_RUN + 1-th pick is the oldest normal one
 * while that lane is not empty. */
lq_rtab_hdr_t *lq_rtab_next(lq_rtab_t *t);
/* A worker lets a record go. RETRY/RECHECK set retry_at = now + delay (RETRY: the
 * record's backoff, delay_ms ignored); a record dirtied meanwhile is queued again. */
void lq_rtab_done(lq_rtab_t *t, lq_rtab_hdr_t *h, lq_rtab_outcome_t o, uint32_t delay_ms,
                  int64_t now);
/* Queues every record whose retry time has come. Returns the earliest retry time still
 * ahead (0 when none). */
int64_t lq_rtab_promote(lq_rtab_t *t, int64_t now);
/* Relist of one side: begin clears that side's marks; lq_rtab_mark records that the
 * (re)list or a watch event showed the object (present + marked); end clears `present`
 * of every record of that side that was not marked, dirties it, and returns how many. */
void lq_rtab_relist_begin(lq_rtab_t *t, unsigned side);
void lq_rtab_mark(lq_rtab_hdr_t *h, unsigned side);
size_t lq_rtab_relist_end(lq_rtab_t *t, unsigned side);
/* Marks every used record dirty (e.g. after a dependency changed). */
void lq_rtab_dirty_all(lq_rtab_t *t);
/* Queued records plus those waiting for a retry. */
size_t lq_rtab_depth(const lq_rtab_t *t);
static inline bool lq_rtab_present(const lq_rtab_hdr_t *h, unsigned side)
{
    return (h->present >> side) & 1u;
}
void lq_rtab_set_present(lq_rtab_hdr_t *h, unsigned side, bool on);

#endif
