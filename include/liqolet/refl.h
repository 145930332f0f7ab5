/* liqolet: the reflector engine (DESIGN.md Decisions 16 and 17).
 *
 * Every reflected kind (namespace offloading, pods, and the kinds that follow) is a
 * descriptor plus a step function over its own record table (include/liqolet/rtab.h);
 * the engine owns the rest:
 *
 *   home watch ----\                                      /--> request (home or foreign)
 *                   key -> record -> seen -> dirty -> queue -> worker -> step -> ...
 *   foreign watch -/     (foreign: find only, never create)   \--> finish: DONE/RETRY/...
 *
 *   - per kind: the home/foreign watch pair (each on its own connection), the table,
 *     relist marks and sweeps, the table-full relist once a record frees;
 *   - one pool of LQ_REFL_WORKERS workers shared by all kinds (each with its request,
 *     body and object buffers and a JSON arena), so memory does not grow per kind;
 *   - watch callbacks only mark records dirty and arm a zero-delay timer; passes start
 *     from that timer, one worker at a time in a loop (never recursively, never inside a
 *     watch's body callback); a step runs at pass start and after each request;
 *   - a kind may wait (`ready`), e.g. pods until namespace offloading has settled.
 *
 * Trust (Decision 17): a foreign event can only mark an existing record dirty; `key`
 * maps it to a home key and the engine looks the record up without creating it. What a
 * record owns remotely is the kind's business in `seen`/`step` (a UID it created or
 * adopted), never re-pointed by a foreign event.
 *
 * A kind module embeds an lq_refl_kind_t, fills a static lq_refl_desc_t, and calls
 * lq_refl_kind_add. Its step function is a small state machine on w->step:
 *
 *   static void step(lq_refl_work_t *w, lq_err_t err) {
 *       switch (w->step) {
 *       case 0: lq_refl_send(w, LQ_RTAB_HOME, ST_GET, lq_kreq_get(lq_refl_req(w, 0), p)); return;
 *       case ST_GET: ... lq_refl_finish(w, LQ_RTAB_DONE, 0); return;
 *       }
 *   }
 */
#ifndef LIQOLET_REFL_H
#define LIQOLET_REFL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/cluster.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/loop.h"
#include "liqolet/mgmt_render.h"
#include "liqolet/rtab.h"
#include "liqolet/watch.h"

/* Bytes of one object a worker reads (each side) and of one request body. An object
 * larger than this is reported and retried, never truncated. */
#ifndef LQ_REFL_OBJ_BUF
#define LQ_REFL_OBJ_BUF (64u * 1024u)
#endif
#ifndef LQ_REFL_ARENA
#define LQ_REFL_ARENA (LQ_REFL_OBJ_BUF * 4u)
#endif
#define LQ_REFL_MAX_KINDS 8u

typedef struct lq_refl lq_refl_t;
typedef struct lq_refl_kind lq_refl_kind_t;
typedef struct lq_refl_work lq_refl_work_t;

/* One watch of a kind. path NULL: no watch on that side. */
typedef struct lq_refl_watch_desc {
    const char *path;            /* collection, e.g. "/api/v1/pods" */
    bool quiet_not_found;        /* an optional CRD: 404 at debug level */
    uint32_t backoff_max_ms;     /* 0 = the watch's default */
} lq_refl_watch_desc_t;

typedef struct lq_refl_desc {
    const char *name;            /* Liqo's reflector name ("Pod") */
    const char *table;           /* its record table in /status ("pod records") */
    const char *log;             /* log module ("pods") */
    size_t rec_size;             /* bytes of one record (header first) */
    unsigned max_workers;        /* workers this kind may hold at once (0 = all) */
    uint32_t retry_base_ms, retry_max_ms;
    lq_refl_watch_desc_t watch[LQ_RTAB_SIDES];
    /* The home key (namespace, name) of a watch event; false drops the event. For the
     * foreign side this maps the remote object back to a home key (the engine only
     * looks the record up). Views may point into the event or into kind state. */
    bool (*key)(lq_refl_kind_t *k, unsigned side, const lq_watch_event_t *ev,
                const char **ns, size_t *nl, const char **name, size_t *len);
    /* The event concerns record h: update what the kind keeps of that side, mark it
     * (lq_rtab_mark) when the event shows the object the record is about, and return
     * true when a pass is needed (false: the echo of our own write, or an object that
     * is not the one the record owns, which is then neither marked nor trusted). */
    bool (*seen)(lq_refl_kind_t *k, lq_rtab_hdr_t *h, unsigned side, const lq_watch_event_t *ev);
    /* A home event found the table full (optional: report it). */
    void (*full)(lq_refl_kind_t *k, const lq_watch_event_t *ev);
    /* The pass: called with w->step == 0 at start, then after each request with its
     * result (w->req holds status and message). Ends with lq_refl_finish. */
    void (*step)(lq_refl_work_t *w, lq_err_t err);
    /* Optional: may passes start now? (checked before each pass) */
    bool (*ready)(lq_refl_kind_t *k);
    /* Optional: a side starts a full (re)list. */
    void (*relist)(lq_refl_kind_t *k, unsigned side);
    /* Optional: a side finished its (re)list; lost = records whose object it no longer
     * shows (already marked absent and dirty). */
    void (*synced)(lq_refl_kind_t *k, unsigned side, size_t lost);
    /* Optional: the server answered a side's LIST/WATCH with a non-2xx status. */
    void (*http_error)(lq_refl_kind_t *k, unsigned side, int status);
    /* Optional: management snapshot and /objects/<kind> (mgmt_kind < 0: none). */
    int mgmt_kind;
    void (*snapshot)(lq_refl_kind_t *k, lq_mgmt_snapshot_t *s);
    bool (*object)(lq_refl_kind_t *k, size_t index, lq_mgmt_object_t *out);
} lq_refl_desc_t;

typedef struct lq_refl_kind_stats {
    uint64_t passes, failures, events, dropped; /* dropped: foreign events with no record */
} lq_refl_kind_stats_t;

struct lq_refl_kind {
    /* readable */
    const lq_refl_desc_t *d;
    lq_refl_t *r;
    void *ctx;                   /* the kind module's state */
    lq_rtab_t tab;
    lq_refl_kind_stats_t stats;
    bool synced[LQ_RTAB_SIDES];  /* that side has listed at least once */
    unsigned busy;               /* workers held */
    /* private */
    struct {
        lq_conn_t conn;
        lq_watch_t watch;
    } side_[LQ_RTAB_SIDES];
};

struct lq_refl_work {
    lq_refl_t *r;
    lq_refl_kind_t *k;           /* NULL: free */
    lq_rtab_hdr_t *rec;
    int step;
    uint32_t flags;              /* the kind's scratch bits for this pass */
    size_t len[LQ_RTAB_SIDES];   /* bytes in obj[side] (0 = none) */
    lq_kreq_t req;
    lq_json_doc_t doc;
    char body[LQ_REFL_OBJ_BUF];
    char obj[LQ_RTAB_SIDES][LQ_REFL_OBJ_BUF];
    unsigned char arena[LQ_REFL_ARENA];
};

typedef struct lq_refl_stats {
    uint64_t passes, kicks;
    uint32_t busy_hwm;           /* most workers busy at once */
    uint32_t depth_max;          /* deepest nesting of the pass loop seen (always 1) */
} lq_refl_stats_t;

struct lq_refl {
    lq_refl_stats_t stats;
    lq_refl_kind_t *kinds[LQ_REFL_MAX_KINDS];
    size_t n_kinds;
    /* private */
    lq_loop_t *loop_;
    lq_cluster_t *cl_[LQ_RTAB_SIDES];
    lq_kreq_client_t *req_[LQ_RTAB_SIDES];
    lq_loop_timer_t timer_;
    size_t next_kind_;
    unsigned depth_;
    lq_refl_work_t work_[LQ_REFL_WORKERS];
};

/* Binds the engine to the loop, both clusters and their request clients (the caller's,
 * alive as long as r). Cannot fail. */
void lq_refl_init(lq_refl_t *r, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                  lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req);
/* Adds a kind: its table over recs (cap records of d->rec_size bytes), its watches on
 * buf[side] (cap_buf[side] bytes; the selectors are borrowed). LQ_OK, LQ_ENOSPC (too
 * many kinds) or LQ_EINVAL. */
lq_err_t lq_refl_kind_add(lq_refl_t *r, lq_refl_kind_t *k, const lq_refl_desc_t *d, void *ctx,
                          void *recs, size_t cap, char *const buf[LQ_RTAB_SIDES],
                          const size_t cap_buf[LQ_RTAB_SIDES],
                          const char *const label_sel[LQ_RTAB_SIDES],
                          const char *const field_sel[LQ_RTAB_SIDES]);
/* The label selector of every foreign watch: this pair's ownership labels
 * ("origin=<home id>,destination=<foreign id>"). LQ_OK or LQ_ETOOBIG. */
lq_err_t lq_refl_owner_selector(char *buf, size_t cap, const char *home_id, const char *foreign_id);
/* Starts every kind's watches. */
lq_err_t lq_refl_start(lq_refl_t *r);
/* Arms the zero-delay timer: passes start from the loop. */
void lq_refl_kick(lq_refl_t *r);
/* Marks h dirty and kicks. */
void lq_refl_dirty(lq_refl_kind_t *k, lq_rtab_hdr_t *h);
/* Restarts one side's watch with a full relist (from the loop, never from inside that
 * watch's callbacks); the kind's passes wait until it has listed again. */
void lq_refl_relist(lq_refl_kind_t *k, unsigned side);
/* lq_refl_relist of one side of every kind: after that cluster was unreachable, its watches
 * may sit on connections that died silently (a watch's idle deadline is minutes long). */
void lq_refl_relist_side(lq_refl_t *r, unsigned side);
/* The loop and a side's request client, for a kind's own requests outside passes. */
lq_loop_t *lq_refl_loop(const lq_refl_t *r);
lq_kreq_client_t *lq_refl_client(const lq_refl_t *r, unsigned side);
/* Both sides listed, nothing queued, no worker on it: the kind has settled. */
bool lq_refl_kind_idle(const lq_refl_kind_t *k);

/* ---- inside a step ------------------------------------------------------------------ */
/* The pass's request, reset with its response going into obj[resp_side] (resp_side < 0:
 * the body is discarded); fill it with a verb helper (lq_kreq_get, ...). */
lq_kreq_t *lq_refl_req(lq_refl_work_t *w, int resp_side);
/* Submits the request to side's API server; the step runs again with `next` as w->step
 * when it completes. verb_err is the verb helper's result: on an error (or a refused
 * submit) the pass ends with RETRY. */
void lq_refl_send(lq_refl_work_t *w, unsigned side, int next, lq_err_t verb_err);
/* Renders obj into w->body; false (logged) when it does not fit. */
bool lq_refl_render(lq_refl_work_t *w, const lq_json_t *obj, size_t *len);
/* Ends the pass: the record's outcome (delay_ms for RECHECK), the worker is free. */
void lq_refl_finish(lq_refl_work_t *w, lq_rtab_outcome_t o, uint32_t delay_ms);

/* ---- management ---------------------------------------------------------------------- */
/* Every kind's tables, work queue and counters into s; /objects through the kinds. */
void lq_refl_snapshot(lq_refl_t *r, lq_mgmt_snapshot_t *s);
bool lq_refl_object(lq_refl_t *r, lq_mgmt_kind_t kind, size_t index, lq_mgmt_object_t *out);
/* The watches of every kind for /status (name "watch-<path>"). */
void lq_refl_snap_conns(lq_refl_t *r, lq_mgmt_snapshot_t *s);

#endif
