/* liqolet: Kubernetes Events on home pods (see include/liqolet/events.h).
 *
 * Own events are created (POST) with a unique name <pod>.<sequence>; remote events are
 * server-side applied under the remote event's name, so a remote event whose count grows
 * updates the same home Event instead of adding new ones. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/events.h"
#include "liqolet/forge_node.h"
#include "liqolet/kapi.h"
#include "liqolet/log.h"

#define FIELD_MANAGER "liqolet"

static void pump(lq_events_t *e);

static void copy(char *dst, size_t cap, const char *src)
{
    (void)snprintf(dst, cap, "%s", src ? src : "");
}

/* A free queue slot, or NULL when the queue is full (the new event is dropped and
 * counted: events are best effort, the objects themselves are never affected). */
static lq_event_entry_t *push(lq_events_t *e)
{
    if (e->n_ == LQ_EVENTS_QUEUE) {
        e->stats.dropped++;
        return NULL;
    }
    lq_event_entry_t *en = &e->q_[(e->head_ + e->n_) % LQ_EVENTS_QUEUE];
    memset(en, 0, sizeof *en);
    en->used = true;
    e->n_++;
    e->stats.queued = (uint32_t)e->n_;
    if (e->stats.queued > e->stats.queued_hwm)
        e->stats.queued_hwm = e->stats.queued;
    return en;
}

void lq_events_emit(lq_events_t *e, const char *ns, const char *pod, const char *uid, bool warning,
                    const char *reason, const char *fmt, ...)
{
    lq_event_entry_t *en = push(e);
    if (!en)
        return;
    copy(en->ns, sizeof en->ns, ns);
    copy(en->pod, sizeof en->pod, pod);
    copy(en->uid, sizeof en->uid, uid);
    copy(en->reason, sizeof en->reason, reason);
    copy(en->component, sizeof en->component, LQ_EVENTS_COMPONENT);
    en->warning = warning;
    en->count = 1;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(en->message, sizeof en->message, fmt, ap);
    va_end(ap);
    (void)lq_forge_time_format(lq_port_wall_ms(), false, en->first, sizeof en->first);
    memcpy(en->last, en->first, sizeof en->last);
    e->stats.emitted++;
    pump(e);
}

static lq_err_t add(lq_json_doc_t *d, lq_json_t *o, const char *k, const char *v)
{
    return lq_json_obj_add(d, o, k, lq_json_new_cstr(d, v));
}

/* The Event object of entry en. */
static lq_json_t *build(lq_events_t *e, const lq_event_entry_t *en, const char *name)
{
    lq_json_doc_t *d = &e->doc_;
    lq_json_reset(d);
    lq_json_t *ev = lq_json_new_object(d), *meta = lq_json_new_object(d);
    lq_json_t *io = lq_json_new_object(d), *src = lq_json_new_object(d);
    (void)add(d, ev, "apiVersion", "v1");
    (void)add(d, ev, "kind", "Event");
    (void)add(d, meta, "name", name);
    (void)add(d, meta, "namespace", en->ns);
    (void)lq_json_obj_add(d, ev, "metadata", meta);
    (void)add(d, io, "apiVersion", "v1");
    (void)add(d, io, "kind", "Pod");
    (void)add(d, io, "namespace", en->ns);
    (void)add(d, io, "name", en->pod);
    if (en->uid[0])
        (void)add(d, io, "uid", en->uid);
    (void)lq_json_obj_add(d, ev, "involvedObject", io);
    (void)add(d, ev, "reason", en->reason);
    (void)add(d, ev, "message", en->message);
    (void)add(d, ev, "type", en->warning ? "Warning" : "Normal");
    (void)lq_json_obj_add(d, ev, "count", lq_json_new_int(d, en->count > 0 ? en->count : 1));
    (void)add(d, ev, "firstTimestamp", en->first);
    (void)add(d, ev, "lastTimestamp", en->last);
    (void)add(d, src, "component", en->component);
    (void)lq_json_obj_add(d, ev, "source", src);
    (void)add(d, ev, "reportingComponent", en->component);
    (void)add(d, ev, "reportingInstance", "liqolet");
    return d->last_err == LQ_OK ? ev : NULL;
}

static void done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_events_t *e = ctx;
    lq_event_entry_t *en = &e->q_[e->head_];
    if (err == LQ_OK) {
        e->stats.written++;
    } else {
        e->stats.failed++;
        LQ_DEBUG("events", "event %s on pod %s/%s not written: %s (%s)", en->reason, en->ns,
                 en->pod, lq_err_str(err), r->message);
    }
    en->used = false;
    e->head_ = (e->head_ + 1u) % LQ_EVENTS_QUEUE;
    e->n_--;
    e->stats.queued = (uint32_t)e->n_;
    pump(e);
}

static void pump(lq_events_t *e)
{
    while (e->n_ > 0 && e->req_.state == LQ_KREQ_IDLE) {
        lq_event_entry_t *en = &e->q_[e->head_];
        char name[254], path[LQ_KREQ_PATH_MAX];
        if (en->reflected)
            copy(name, sizeof name, en->name);
        else
            (void)snprintf(name, sizeof name, "%.200s.%016llx", en->pod,
                           (unsigned long long)(lq_port_wall_ms() * 1000 + (int64_t)(e->seq_++ % 1000)));
        lq_json_t *ev = build(e, en, name);
        size_t len = 0;
        lq_err_t err = ev ? lq_json_print(ev, e->body_, sizeof e->body_, &len) : LQ_ETOOBIG;
        if (err == LQ_OK)
            err = lq_kapi_path(path, sizeof path, "v1", en->ns, "events", en->reflected ? name : NULL, NULL);
        lq_kreq_init(&e->req_, NULL, 0, done, e);
        if (err == LQ_OK)
            err = en->reflected ? lq_kreq_apply(&e->req_, path, FIELD_MANAGER, e->body_, len)
                                : lq_kreq_create(&e->req_, path, e->body_, len);
        if (err == LQ_OK)
            err = lq_kreq_submit(e->home_req_, &e->req_);
        if (err != LQ_OK) {
            e->stats.failed++;
            en->used = false;
            e->head_ = (e->head_ + 1u) % LQ_EVENTS_QUEUE;
            e->n_--;
            e->stats.queued = (uint32_t)e->n_;
        }
    }
}

/* A foreign Event about a pod: reflected when the pod is one of ours. */
static lq_err_t on_event(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    lq_events_t *e = ctx;
    if (ev->oversized || ev->type == LQ_WATCH_DELETED || !e->lookup_)
        return LQ_OK;
    lq_json_t *root = NULL;
    lq_json_reset(&e->doc_);
    if (lq_json_parse(&e->doc_, ev->data, ev->len, &root) != LQ_OK)
        return LQ_OK;
    lq_json_t *o = ev->wrapped ? lq_json_get(root, "object") : root;
    lq_json_str_t rns, pod, puid, name;
    const lq_json_t *io = lq_json_get(o, "involvedObject");
    if (lq_json_str(lq_json_get(io, "namespace"), &rns) != LQ_OK ||
        lq_json_str(lq_json_get(io, "name"), &pod) != LQ_OK ||
        lq_json_str(lq_json_get(io, "uid"), &puid) != LQ_OK ||
        lq_json_str(LQ_JSON_AT(o, "metadata", "name"), &name) != LQ_OK)
        return LQ_OK;
    char ns[64], uid[LQ_FORGE_POD_UID_BUF];
    if (!e->lookup_(e->lookup_ctx_, rns.p, rns.len, pod.p, pod.len, puid.p, puid.len, ns,
                    sizeof ns, uid, sizeof uid))
        return LQ_OK;
    lq_event_entry_t *en = push(e);
    if (!en)
        return LQ_OK;
    en->reflected = true;
    copy(en->ns, sizeof en->ns, ns);
    copy(en->uid, sizeof en->uid, uid);
    (void)lq_json_str_copy(lq_json_get(io, "name"), en->pod, sizeof en->pod);
    (void)lq_json_str_copy(LQ_JSON_AT(o, "metadata", "name"), en->name, sizeof en->name);
    if (lq_json_str_copy(lq_json_get(o, "reason"), en->reason, sizeof en->reason) != LQ_OK)
        copy(en->reason, sizeof en->reason, "Unknown");
    lq_json_str_t msg;
    if (lq_json_str(lq_json_get(o, "message"), &msg) == LQ_OK)
        (void)snprintf(en->message, sizeof en->message, "%.*s", (int)msg.len, msg.p);
    lq_json_str_t type;
    en->warning = lq_json_str(lq_json_get(o, "type"), &type) == LQ_OK && type.len == 7 &&
                  memcmp(type.p, "Warning", 7) == 0;
    int64_t count = 1;
    if (lq_json_int(lq_json_get(o, "count"), &count) != LQ_OK || count < 1 || count > INT32_MAX)
        count = 1;
    en->count = (int32_t)count;
    char comp[48] = "";
    (void)lq_json_str_copy(LQ_JSON_AT(o, "source", "component"), comp, sizeof comp);
    if (!comp[0])
        (void)lq_json_str_copy(lq_json_get(o, "reportingComponent"), comp, sizeof comp);
    (void)snprintf(en->component, sizeof en->component, "%s (remote)", comp[0] ? comp : "foreign");
    (void)lq_forge_time_format(lq_port_wall_ms(), false, en->last, sizeof en->last);
    if (lq_json_str_copy(lq_json_get(o, "lastTimestamp"), en->last, sizeof en->last) != LQ_OK)
        (void)lq_json_str_copy(lq_json_get(o, "eventTime"), en->last, sizeof en->last);
    if (lq_json_str_copy(lq_json_get(o, "firstTimestamp"), en->first, sizeof en->first) != LQ_OK)
        memcpy(en->first, en->last, sizeof en->first);
    e->stats.reflected++;
    pump(e);
    return LQ_OK;
}

void lq_events_init(lq_events_t *e, lq_loop_t *loop, lq_cluster_t *foreign,
                    lq_kreq_client_t *home_req, lq_events_lookup_fn *lookup, void *lookup_ctx)
{
    memset(e, 0, offsetof(lq_events_t, body_));
    e->home_req_ = home_req;
    e->lookup_ = lookup;
    e->lookup_ctx_ = lookup_ctx;
    lq_json_doc_init(&e->doc_, e->arena_, sizeof e->arena_);
    lq_kreq_init(&e->req_, NULL, 0, done, e);
    lq_conn_init(&e->conn_, loop, &foreign->target);
    lq_watch_cfg_t wc = { .path = "/api/v1/events", .field_selector = "involvedObject.kind=Pod",
                          .watch_list = true,
                          .kcfg = &foreign->kcfg };
    lq_watch_handler_t wh = { on_event, NULL, NULL, e, NULL };
    lq_watch_init(&e->watch_, loop, &e->conn_, e->wbuf_, sizeof e->wbuf_, &wc, &wh);
}

lq_err_t lq_events_start(lq_events_t *e)
{
    return lq_watch_start(&e->watch_);
}
