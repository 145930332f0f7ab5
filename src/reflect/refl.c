/* liqolet: the reflector engine (include/liqolet/refl.h). */
#include <stdio.h>
#include <string.h>

#include "liqolet/liqo.h"
#include "liqolet/log.h"
#include "liqolet/mgmt.h"
#include "liqolet/refl.h"

static lq_refl_kind_t *kind_of_watch(lq_watch_t *w, void *ctx, unsigned *side)
{
    lq_refl_kind_t *k = ctx;
    *side = w == &k->side_[LQ_RTAB_HOME].watch ? LQ_RTAB_HOME : LQ_RTAB_FOREIGN;
    return k;
}

/* ---- watches: mark and kick, nothing else -------------------------------------------- */

static lq_err_t on_event(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    unsigned side;
    lq_refl_kind_t *k = kind_of_watch(w, ctx, &side);
    const char *ns = NULL, *name = NULL;
    size_t nl = 0, len = 0;
    k->stats.events++;
    if (!k->d->key(k, side, ev, &ns, &nl, &name, &len))
        return LQ_OK;
    lq_rtab_hdr_t *h;
    if (side == LQ_RTAB_FOREIGN || ev->type == LQ_WATCH_DELETED) {
        h = lq_rtab_find(&k->tab, ns, nl, name, len); /* never created by these */
    } else {
        h = lq_rtab_get(&k->tab, ns, nl, name, len);
        if (!h && k->tab.overflow && k->d->full)
            k->d->full(k, ev);
    }
    if (!h) {
        k->stats.dropped += side == LQ_RTAB_FOREIGN;
        return LQ_OK;
    }
    if (!k->d->seen(k, h, side, ev))
        return LQ_OK;
    /* Work caused by the remote copy (status back, drift repair) goes first: it must
     * not wait behind a burst of creates. */
    if (side == LQ_RTAB_FOREIGN)
        lq_rtab_dirty_urgent(&k->tab, h);
    else
        lq_rtab_dirty(&k->tab, h);
    lq_refl_kick(k->r);
    return LQ_OK;
}

static void on_relist(lq_watch_t *w, void *ctx)
{
    unsigned side;
    lq_refl_kind_t *k = kind_of_watch(w, ctx, &side);
    lq_rtab_relist_begin(&k->tab, side);
    if (k->d->relist)
        k->d->relist(k, side);
}

static void on_synced(lq_watch_t *w, void *ctx)
{
    unsigned side;
    lq_refl_kind_t *k = kind_of_watch(w, ctx, &side);
    size_t lost = lq_rtab_relist_end(&k->tab, side);
    k->synced[side] = true;
    if (k->d->synced)
        k->d->synced(k, side, lost);
    lq_refl_kick(k->r);
}

static void on_http_error(lq_watch_t *w, int status, void *ctx)
{
    unsigned side;
    lq_refl_kind_t *k = kind_of_watch(w, ctx, &side);
    if (k->d->http_error)
        k->d->http_error(k, side, status);
    lq_refl_kick(k->r);
}

/* ---- the pass loop --------------------------------------------------------------------- */

static lq_refl_work_t *free_worker(lq_refl_t *r)
{
    for (size_t i = 0; i < LQ_REFL_WORKERS; i++)
        if (!r->work_[i].k)
            return &r->work_[i];
    return NULL;
}

static bool may_run(lq_refl_kind_t *k)
{
    if (!k->synced[LQ_RTAB_HOME] && k->d->watch[LQ_RTAB_HOME].path)
        return false;
    if (!k->synced[LQ_RTAB_FOREIGN] && k->d->watch[LQ_RTAB_FOREIGN].path)
        return false;
    if (k->d->max_workers && k->busy >= k->d->max_workers)
        return false;
    return !k->d->ready || k->d->ready(k);
}

/* Starts passes while a worker is free and some kind has a queued record: kinds take
 * turns, one record each round. A pass that ends at once frees its worker for the next
 * round of this loop; nothing here recurses. */
static void run_passes(lq_refl_t *r)
{
    r->depth_++;
    if (r->depth_ > r->stats.depth_max)
        r->stats.depth_max = r->depth_;
    for (;;) {
        lq_refl_work_t *w = free_worker(r);
        if (!w || r->n_kinds == 0)
            break;
        lq_rtab_hdr_t *h = NULL;
        lq_refl_kind_t *k = NULL;
        for (size_t n = 0; n < r->n_kinds && !h; n++) {
            k = r->kinds[(r->next_kind_ + n) % r->n_kinds];
            if (may_run(k))
                h = lq_rtab_next(&k->tab);
            if (h)
                r->next_kind_ = (r->next_kind_ + n + 1) % r->n_kinds;
        }
        if (!h)
            break;
        w->k = k;
        w->rec = h;
        w->step = 0;
        w->flags = 0;
        w->len[0] = w->len[1] = 0;
        k->busy++;
        k->stats.passes++;
        r->stats.passes++;
        uint32_t busy = 0;
        for (size_t i = 0; i < LQ_REFL_WORKERS; i++)
            busy += r->work_[i].k != NULL;
        if (busy > r->stats.busy_hwm)
            r->stats.busy_hwm = busy;
        lq_json_reset(&w->doc);
        k->d->step(w, LQ_OK);
    }
    r->depth_--;
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)t;
    lq_refl_t *r = ctx;
    int64_t now = lq_port_mono_ms(), next = 0;
    for (size_t i = 0; i < r->n_kinds; i++) {
        lq_refl_kind_t *k = r->kinds[i];
        int64_t due = lq_rtab_promote(&k->tab, now);
        if (due != 0 && (next == 0 || due < next))
            next = due;
        if (k->tab.overflow && k->tab.stats.records < k->tab.limit) {
            /* A record freed after the table refused one: the refused object's event is
             * gone, so list again (from here, never from inside a watch callback). */
            k->tab.overflow = false;
            LQ_INFO(k->d->log, "a %s record freed; relisting to pick up what the full table "
                    "missed", k->d->name);
            for (unsigned s = 0; s < LQ_RTAB_SIDES; s++)
                if (k->d->watch[s].path)
                    lq_refl_relist(k, s);
        }
    }
    run_passes(r);
    /* the next retry, unless a pass that ended meanwhile armed the timer sooner */
    if (next != 0 && (!r->timer_.armed || r->timer_.due_ms > next))
        lq_loop_timer_start(loop, &r->timer_, next > now ? next - now : 0);
}

void lq_refl_kick(lq_refl_t *r)
{
    r->stats.kicks++;
    if (!r->timer_.armed || r->timer_.due_ms > lq_port_mono_ms())
        lq_loop_timer_start(r->loop_, &r->timer_, 0);
}

void lq_refl_dirty(lq_refl_kind_t *k, lq_rtab_hdr_t *h)
{
    lq_rtab_dirty(&k->tab, h);
    lq_refl_kick(k->r);
}

/* ---- inside a step -------------------------------------------------------------------- */

static void on_req(lq_kreq_t *q, lq_err_t err, void *ctx)
{
    (void)q;
    lq_refl_work_t *w = ctx;
    if (w->k)
        w->k->d->step(w, err);
}

lq_kreq_t *lq_refl_req(lq_refl_work_t *w, int resp_side)
{
    if (resp_side >= 0)
        lq_kreq_init(&w->req, w->obj[resp_side], LQ_REFL_OBJ_BUF, on_req, w);
    else
        lq_kreq_init(&w->req, NULL, 0, on_req, w);
    return &w->req;
}

void lq_refl_send(lq_refl_work_t *w, unsigned side, int next, lq_err_t verb_err)
{
    w->step = next;
    lq_err_t e = verb_err == LQ_OK ? lq_kreq_submit(w->r->req_[side], &w->req) : verb_err;
    if (e == LQ_OK)
        return;
    LQ_WARN(w->k->d->log, "%s %s%s%s: cannot send a request (%s); retrying", w->k->d->name,
            w->rec->ns, w->rec->name[0] ? "/" : "", w->rec->name, lq_err_str(e));
    lq_refl_finish(w, LQ_RTAB_RETRY, 0);
}

bool lq_refl_render(lq_refl_work_t *w, const lq_json_t *obj, size_t *len)
{
    if (obj && lq_json_print(obj, w->body, sizeof w->body, len) == LQ_OK)
        return true;
    LQ_WARN(w->k->d->log, "%s %s%s%s: a request body does not fit %zu bytes", w->k->d->name,
            w->rec->ns, w->rec->name[0] ? "/" : "", w->rec->name, sizeof w->body);
    return false;
}

void lq_refl_finish(lq_refl_work_t *w, lq_rtab_outcome_t o, uint32_t delay_ms)
{
    lq_refl_kind_t *k = w->k;
    if (!k)
        return;
    if (o == LQ_RTAB_RETRY)
        k->stats.failures++;
    lq_rtab_done(&k->tab, w->rec, o, delay_ms, lq_port_mono_ms());
    k->busy--;
    w->k = NULL;
    w->rec = NULL;
    lq_refl_kick(w->r); /* the next pass starts from the loop */
}

/* ---- set-up ------------------------------------------------------------------------------ */

void lq_refl_init(lq_refl_t *r, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign,
                  lq_kreq_client_t *home_req, lq_kreq_client_t *foreign_req)
{
    memset(r, 0, offsetof(lq_refl_t, work_));
    r->loop_ = loop;
    r->cl_[LQ_RTAB_HOME] = home;
    r->cl_[LQ_RTAB_FOREIGN] = foreign;
    r->req_[LQ_RTAB_HOME] = home_req;
    r->req_[LQ_RTAB_FOREIGN] = foreign_req;
    lq_loop_timer_init(&r->timer_, on_timer, r);
    for (size_t i = 0; i < LQ_REFL_WORKERS; i++) {
        lq_refl_work_t *w = &r->work_[i];
        memset(w, 0, offsetof(lq_refl_work_t, body));
        w->r = r;
        lq_json_doc_init(&w->doc, w->arena, sizeof w->arena);
    }
}

lq_err_t lq_refl_kind_add(lq_refl_t *r, lq_refl_kind_t *k, const lq_refl_desc_t *d, void *ctx,
                          void *recs, size_t cap, char *const buf[LQ_RTAB_SIDES],
                          const size_t cap_buf[LQ_RTAB_SIDES],
                          const char *const label_sel[LQ_RTAB_SIDES],
                          const char *const field_sel[LQ_RTAB_SIDES])
{
    if (!d || !d->key || !d->seen || !d->step || d->rec_size < sizeof(lq_rtab_hdr_t))
        return LQ_EINVAL;
    if (r->n_kinds >= LQ_REFL_MAX_KINDS)
        return LQ_ENOSPC;
    memset(k, 0, sizeof *k);
    k->d = d;
    k->r = r;
    k->ctx = ctx;
    lq_rtab_init(&k->tab, recs, d->rec_size, cap, d->retry_base_ms, d->retry_max_ms);
    for (unsigned s = 0; s < LQ_RTAB_SIDES; s++) {
        const lq_refl_watch_desc_t *wd = &d->watch[s];
        if (!wd->path)
            continue;
        lq_cluster_t *cl = r->cl_[s];
        lq_conn_init(&k->side_[s].conn, r->loop_, &cl->target);
        lq_watch_cfg_t wc = { .path = wd->path, .label_selector = label_sel ? label_sel[s] : NULL,
                              .field_selector = field_sel ? field_sel[s] : NULL,
                              .watch_list = true, .quiet_not_found = wd->quiet_not_found,
                              .backoff_max_ms = wd->backoff_max_ms,
                              .kcfg = &cl->kcfg };
        lq_watch_handler_t wh = { on_event, on_relist, on_synced, k, on_http_error };
        lq_watch_init(&k->side_[s].watch, r->loop_, &k->side_[s].conn, buf[s], cap_buf[s], &wc, &wh);
    }
    r->kinds[r->n_kinds++] = k;
    return LQ_OK;
}

lq_err_t lq_refl_owner_selector(char *buf, size_t cap, const char *home_id, const char *foreign_id)
{
    const lq_liqo_names_t *nm = lq_liqo_names();
    int n = snprintf(buf, cap, "%s=%s,%s=%s", nm->origin, home_id, nm->destination, foreign_id);
    return n < 0 || (size_t)n >= cap ? LQ_ETOOBIG : LQ_OK;
}

lq_err_t lq_refl_start(lq_refl_t *r)
{
    for (size_t i = 0; i < r->n_kinds; i++)
        for (unsigned s = 0; s < LQ_RTAB_SIDES; s++) {
            lq_refl_kind_t *k = r->kinds[i];
            if (!k->d->watch[s].path)
                continue;
            lq_err_t e = lq_watch_start(&k->side_[s].watch);
            if (e != LQ_OK)
                return e;
        }
    lq_refl_kick(r);
    return LQ_OK;
}

void lq_refl_relist(lq_refl_kind_t *k, unsigned side)
{
    if (!k->d->watch[side].path)
        return;
    k->synced[side] = false;
    lq_watch_stop(&k->side_[side].watch);
    (void)lq_watch_start(&k->side_[side].watch);
}

void lq_refl_relist_side(lq_refl_t *r, unsigned side)
{
    for (size_t i = 0; i < r->n_kinds; i++)
        lq_refl_relist(r->kinds[i], side);
}

lq_loop_t *lq_refl_loop(const lq_refl_t *r)
{
    return r->loop_;
}

lq_kreq_client_t *lq_refl_client(const lq_refl_t *r, unsigned side)
{
    return r->req_[side];
}

bool lq_refl_kind_idle(const lq_refl_kind_t *k)
{
    for (unsigned s = 0; s < LQ_RTAB_SIDES; s++)
        if (k->d->watch[s].path && !k->synced[s])
            return false;
    return k->busy == 0 && k->tab.stats.queued == 0;
}

/* ---- management ------------------------------------------------------------------------- */

void lq_refl_snapshot(lq_refl_t *r, lq_mgmt_snapshot_t *s)
{
    for (size_t i = 0; i < r->n_kinds; i++) {
        lq_refl_kind_t *k = r->kinds[i];
        const lq_rtab_stats_t *ts = &k->tab.stats;
        lq_mgmt_snap_table(s, k->d->table, ts->records, k->tab.limit, ts->records_hwm);
        s->workqueue.depth += lq_rtab_depth(&k->tab);
        if (ts->queued_hwm > s->workqueue.high_water)
            s->workqueue.high_water = ts->queued_hwm;
        s->workqueue.retries += ts->retries;
        if (k->d->snapshot)
            k->d->snapshot(k, s);
    }
}

bool lq_refl_object(lq_refl_t *r, lq_mgmt_kind_t kind, size_t index, lq_mgmt_object_t *out)
{
    for (size_t i = 0; i < r->n_kinds; i++) {
        lq_refl_kind_t *k = r->kinds[i];
        if (k->d->mgmt_kind == (int)kind && k->d->object)
            return k->d->object(k, index, out);
    }
    return false;
}

void lq_refl_snap_conns(lq_refl_t *r, lq_mgmt_snapshot_t *s)
{
    static char names[LQ_REFL_MAX_KINDS][LQ_RTAB_SIDES][64];
    for (size_t i = 0; i < r->n_kinds; i++)
        for (unsigned side = 0; side < LQ_RTAB_SIDES; side++) {
            lq_refl_kind_t *k = r->kinds[i];
            if (!k->d->watch[side].path)
                continue;
            (void)snprintf(names[i][side], sizeof names[i][side], "watch-%s", k->d->watch[side].path);
            lq_mgmt_snap_conn(s, r->cl_[side]->label, names[i][side], &k->side_[side].conn);
        }
}
