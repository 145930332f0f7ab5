/* liqolet: Kubernetes Events on home pods (see include/liqolet/events.h).
 *
 * Own events are created (POST) with a unique name <pod>.<sequence>. Remote events pass
 * the trust gate lq_events_forge_remote (DESIGN.md Decision 17) and are server-side
 * applied WITHOUT force under <pod>.<remote event uid>: a remote event whose count grows
 * updates the same home Event, and a home Event of that name that someone else wrote is
 * not overwritten (the API server answers 409 for any field another manager owns with a
 * different value; the event is then dropped and counted as failed). The name comes from
 * the remote uid, which nobody at home can choose, so a foreign Event can never name an
 * existing home Event (the old code applied with force under the foreign Event's name). */
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
static lq_event_entry_t *tail_slot(lq_events_t *e)
{
    return e->n_ == LQ_EVENTS_QUEUE ? NULL : &e->q_[(e->head_ + e->n_) % LQ_EVENTS_QUEUE];
}

/* Commits the tail slot (filled by the caller) to the queue. */
static void commit(lq_events_t *e)
{
    e->q_[(e->head_ + e->n_) % LQ_EVENTS_QUEUE].used = true;
    e->n_++;
    e->stats.queued = (uint32_t)e->n_;
    if (e->stats.queued > e->stats.queued_hwm)
        e->stats.queued_hwm = e->stats.queued;
}

static lq_event_entry_t *push(lq_events_t *e)
{
    lq_event_entry_t *en = tail_slot(e);
    if (!en) {
        e->stats.dropped++;
        return NULL;
    }
    memset(en, 0, sizeof *en);
    en->used = true;
    e->n_++;
    e->stats.queued = (uint32_t)e->n_;
    if (e->stats.queued > e->stats.queued_hwm)
        e->stats.queued_hwm = e->stats.queued;
    return en;
}

static void emit_v(lq_events_t *e, const char *kind, const char *component, const char *ns,
                   const char *obj, const char *uid, bool warning, const char *reason,
                   const char *fmt, va_list ap)
{
    lq_event_entry_t *en = push(e);
    if (!en)
        return;
    en->kind = kind;
    copy(en->ns, sizeof en->ns, ns);
    copy(en->pod, sizeof en->pod, obj);
    copy(en->uid, sizeof en->uid, uid);
    copy(en->reason, sizeof en->reason, reason);
    copy(en->component, sizeof en->component, component);
    en->warning = warning;
    en->count = 1;
    (void)vsnprintf(en->message, sizeof en->message, fmt, ap);
    (void)lq_forge_time_format(lq_port_wall_ms(), false, en->first, sizeof en->first);
    memcpy(en->last, en->first, sizeof en->last);
    e->stats.emitted++;
    pump(e);
}

void lq_events_emit(lq_events_t *e, const char *ns, const char *pod, const char *uid, bool warning,
                    const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(e, "Pod", LQ_EVENTS_COMPONENT, ns, pod, uid, warning, reason, fmt, ap);
    va_end(ap);
}

void lq_events_emit_on(lq_events_t *e, const char *kind, const char *component, const char *ns,
                       const char *name, const char *uid, bool warning, const char *reason,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(e, kind, component, ns, name, uid, warning, reason, fmt, ap);
    va_end(ap);
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
    (void)add(d, io, "kind", en->kind ? en->kind : "Pod");
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
            err = en->reflected ? lq_kreq_apply_noforce(&e->req_, path, FIELD_MANAGER, e->body_, len)
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

/* The length of s[0..len) cut to at most max bytes, never inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0u) == 0x80u)
        n--; /* s[n] continues the sequence that starts before it: drop that one */
    return n;
}

/* A Kubernetes uid as the API server writes it: 1..36 of [a-z0-9-] (a UUID). */
static bool uid_ok(const lq_json_str_t *u)
{
    if (u->len == 0 || u->len > 36)
        return false;
    for (size_t i = 0; i < u->len; i++) {
        char c = u->p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool str_is(const lq_json_str_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(s->p, lit, n) == 0;
}

/* A foreign timestamp copied only when it looks like RFC 3339 (digits, T, Z, :, ., +, -). */
static bool copy_time(const lq_json_t *item, char *dst, size_t cap)
{
    lq_json_str_t t;
    if (lq_json_str(item, &t) != LQ_OK || t.len < 20 || t.len >= cap)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        char c = t.p[i];
        if (!((c >= '0' && c <= '9') || c == 'T' || c == 'Z' || c == ':' || c == '.' ||
              c == '+' || c == '-'))
            return false;
    }
    memcpy(dst, t.p, t.len);
    dst[t.len] = '\0';
    return true;
}

/* Foreign free text: at most max bytes (UTF-8 boundary), control bytes replaced by spaces. */
static void copy_text(char *dst, size_t cap, const lq_json_str_t *src)
{
    size_t n = utf8_cut(src->p, src->len, cap - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src->p[i];
        dst[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    dst[n] = '\0';
}

bool lq_events_forge_remote(const lq_json_t *o, lq_events_lookup_fn *lookup, void *ctx,
                            const char *foreign_name, lq_event_entry_t *en)
{
    if (!o || !lookup || !en)
        return false;
    const lq_json_t *io = lq_json_get(o, "involvedObject");
    lq_json_str_t ens, rns, pod, kind, ruid, euid;
    /* The Event's own namespace is the one that must be mapped: an Event elsewhere that
     * names a pod of ours is someone else's text. */
    if (lq_json_str(LQ_JSON_AT(o, "metadata", "namespace"), &ens) != LQ_OK ||
        lq_json_str(LQ_JSON_AT(o, "metadata", "uid"), &euid) != LQ_OK ||
        lq_json_str(lq_json_get(io, "namespace"), &rns) != LQ_OK ||
        lq_json_str(lq_json_get(io, "name"), &pod) != LQ_OK ||
        lq_json_str(lq_json_get(io, "kind"), &kind) != LQ_OK ||
        lq_json_str(lq_json_get(io, "uid"), &ruid) != LQ_OK)
        return false;
    if (!str_is(&kind, "Pod") || ens.len != rns.len || memcmp(ens.p, rns.p, ens.len) != 0 ||
        !uid_ok(&euid) || !uid_ok(&ruid) || pod.len == 0 || pod.len > 253)
        return false;
    memset(en, 0, sizeof *en);
    if (!lookup(ctx, ens.p, ens.len, pod.p, pod.len, ruid.p, ruid.len, en->ns, sizeof en->ns,
                en->uid, sizeof en->uid))
        return false;
    en->used = true;
    en->reflected = true;
    memcpy(en->pod, pod.p, pod.len);
    en->pod[pod.len] = '\0';
    /* <pod>.<event uid>, the pod part cut so the whole stays a 253-character subdomain. */
    size_t keep = pod.len;
    if (keep > 253u - 1u - euid.len)
        keep = 253u - 1u - euid.len;
    while (keep > 0 && (pod.p[keep - 1] == '-' || pod.p[keep - 1] == '.'))
        keep--;
    (void)snprintf(en->name, sizeof en->name, "%.*s.%.*s", (int)keep, pod.p, (int)euid.len,
                   euid.p);

    lq_json_str_t t;
    if (lq_json_str(lq_json_get(o, "reason"), &t) == LQ_OK && t.len > 0)
        copy_text(en->reason, sizeof en->reason, &t);
    else
        copy(en->reason, sizeof en->reason, "Unknown");
    const char *cl = foreign_name && foreign_name[0] ? foreign_name : "foreign";
    int pre = snprintf(en->message, sizeof en->message, "[%.64s] ", cl);
    if (pre > 0 && (size_t)pre < sizeof en->message &&
        lq_json_str(lq_json_get(o, "message"), &t) == LQ_OK)
        copy_text(en->message + pre, sizeof en->message - (size_t)pre, &t);
    en->warning = lq_json_str(lq_json_get(o, "type"), &t) == LQ_OK && str_is(&t, "Warning");
    int64_t count = 1;
    if (lq_json_int(lq_json_get(o, "count"), &count) != LQ_OK || count < 1 || count > INT32_MAX)
        count = 1;
    en->count = (int32_t)count;
    char comp[32] = "";
    if (lq_json_str(LQ_JSON_AT(o, "source", "component"), &t) == LQ_OK ||
        lq_json_str(lq_json_get(o, "reportingComponent"), &t) == LQ_OK)
        copy_text(comp, sizeof comp, &t);
    (void)snprintf(en->component, sizeof en->component, "%s (%.28s)", comp[0] ? comp : "remote",
                   cl);
    if (!copy_time(lq_json_get(o, "lastTimestamp"), en->last, sizeof en->last) &&
        !copy_time(lq_json_get(o, "eventTime"), en->last, sizeof en->last))
        (void)lq_forge_time_format(lq_port_wall_ms(), false, en->last, sizeof en->last);
    if (!copy_time(lq_json_get(o, "firstTimestamp"), en->first, sizeof en->first))
        memcpy(en->first, en->last, sizeof en->first);
    return true;
}

/* A foreign Event about a pod: reflected when the trust gate above lets it through. */
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
    lq_event_entry_t *en = tail_slot(e);
    if (!en) {
        e->stats.dropped++; /* counted even when the gate would have refused it */
        return LQ_OK;
    }
    if (!lq_events_forge_remote(o, e->lookup_, e->lookup_ctx_, e->cluster_, en)) {
        memset(en, 0, sizeof *en);
        return LQ_OK;
    }
    commit(e);
    e->stats.reflected++;
    pump(e);
    return LQ_OK;
}

void lq_events_init(lq_events_t *e, lq_loop_t *loop, lq_cluster_t *foreign,
                    lq_kreq_client_t *home_req, lq_events_lookup_fn *lookup, void *lookup_ctx,
                    const char *foreign_name)
{
    memset(e, 0, offsetof(lq_events_t, body_));
    e->home_req_ = home_req;
    e->lookup_ = lookup;
    e->lookup_ctx_ = lookup_ctx;
    e->cluster_ = foreign_name;
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
