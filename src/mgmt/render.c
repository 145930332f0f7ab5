/* liqolet: the management endpoint's pure core (see include/liqolet/mgmt_render.h).
 *
 * Every representation is produced by one function per resource writing into an out_t,
 * a window over the byte stream: only the bytes of the requested block are stored, the
 * rest is counted (and hashed, for the ETag and Size2). So a /status or /metrics of any
 * size costs one block of memory, and Block2 never needs a copy kept between requests.
 * /objects lists can be long; they are not hashed (their ETag is the owner's generation
 * number) and a cursor lets sequential blocks resume where the previous one ended.
 *
 * No allocation, no OS header, no libcoap: the fuzzer and the unit tests drive it as is. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "liqolet/ascii.h"
#include "liqolet/mgmt_render.h"
#include "liqolet/names.h"

/* --- kinds ------------------------------------------------------------------------------ */

static const char *const kind_paths[] = {
#define KIND_PATH_(e, path, refl) path,
    LQ_MGMT_KIND_LIST(KIND_PATH_)
#undef KIND_PATH_
    "namespaces"
};
static const char *const kind_refl[] = {
#define KIND_REFL_(e, path, refl) refl,
    LQ_MGMT_KIND_LIST(KIND_REFL_)
#undef KIND_REFL_
};

const char *lq_mgmt_render_kind_path(int kind)
{
    return kind >= 0 && kind <= (int)LQ_MGMT_KIND_NAMESPACES ? kind_paths[kind] : NULL;
}

const char *lq_mgmt_render_kind_reflector(int kind)
{
    return kind >= 0 && kind < (int)LQ_MGMT_KIND_COUNT ? kind_refl[kind] : NULL;
}

/* --- the windowed writer ---------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

typedef struct out {
    char *buf;       /* the window (cap bytes) */
    size_t cap;
    uint64_t skip;   /* stream offset of the window's first byte */
    uint64_t pos;    /* bytes produced so far */
    size_t len;      /* bytes stored in buf */
    uint64_t hash;   /* FNV-1a of the whole stream (when hashing) */
    bool hashing;    /* produce everything (hash, length) */
    bool stop;       /* not hashing and a byte past the window was seen: stop early */
} out_t;

static void out_init(out_t *o, char *buf, size_t cap, uint64_t skip, bool hashing)
{
    memset(o, 0, sizeof *o);
    o->buf = buf;
    o->cap = cap;
    o->skip = skip;
    o->hash = FNV_OFFSET;
    o->hashing = hashing;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return h;
}

static void putn(out_t *o, const char *s, size_t n)
{
    if (o->stop || n == 0)
        return;
    if (o->hashing)
        o->hash = fnv(o->hash, s, n);
    uint64_t end = o->skip + o->cap;
    uint64_t a = o->pos > o->skip ? o->pos : o->skip;
    uint64_t b = o->pos + n < end ? o->pos + n : end;
    if (a < b) {
        memcpy(o->buf + (a - o->skip), s + (a - o->pos), (size_t)(b - a));
        o->len = (size_t)(b - o->skip);
    }
    o->pos += n;
    if (!o->hashing && o->pos > end)
        o->stop = true;
}

__attribute__((noinline)) static void put(out_t *o, const char *s)
{
    putn(o, s, strlen(s));
}

static void put_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    if (n > 0)
        putn(o, tmp, (size_t)n);
}

/* A JSON string literal; NULL renders as "". Bytes >= 0x80 pass (UTF-8 from the API). */
static void put_jstr(out_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"");
    if (s != NULL) {
        const char *run = s;
        for (; *s != '\0'; s++) {
            unsigned char c = (unsigned char)*s;
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            putn(o, run, (size_t)(s - run));
            run = s + 1;
            char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
            if (c == '"')
                put(o, "\\\"");
            else if (c == '\\')
                put(o, "\\\\");
            else if (c == '\n')
                put(o, "\\n");
            else
                put(o, esc);
        }
        putn(o, run, (size_t)(s - run));
    }
    put(o, "\"");
}

/* A JSON writer over an out_t: it puts the commas and keys itself. Nesting is tracked
 * in a bit mask (one bit per level: "something was written at this level"). */
typedef struct jw {
    out_t *o;
    uint32_t any; /* bit d: level d already has a member */
    unsigned depth;
} jw_t;

static void jw_member(jw_t *w, const char *key)
{
    uint32_t bit = 1u << w->depth;
    if (w->any & bit)
        put(w->o, ",");
    w->any |= bit;
    if (key != NULL) {
        put_jstr(w->o, key);
        put(w->o, ":");
    }
}

static void jw_open(jw_t *w, const char *key, const char *bracket)
{
    jw_member(w, key);
    put(w->o, bracket);
    w->depth++;
    w->any &= ~(1u << w->depth);
}

static void jw_close(jw_t *w, const char *bracket)
{
    w->depth--;
    put(w->o, bracket);
}

static void jw_str(jw_t *w, const char *key, const char *v)
{
    jw_member(w, key);
    put_jstr(w->o, v);
}

static void jw_u64(jw_t *w, const char *key, uint64_t v)
{
    jw_member(w, key);
    put_u64(w->o, v);
}

static void jw_bool(jw_t *w, const char *key, bool v)
{
    jw_member(w, key);
    put(w->o, v ? "true" : "false");
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void put_plabel(out_t *o, const char *s)
{
    put(o, "\"");
    if (s != NULL) {
        const char *run = s;
        for (; *s != '\0'; s++) {
            if (*s != '\\' && *s != '"' && *s != '\n')
                continue;
            putn(o, run, (size_t)(s - run));
            run = s + 1;
            put(o, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n");
        }
        putn(o, run, (size_t)(s - run));
    }
    put(o, "\"");
}

/* --- readiness -------------------------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t cap, len;
} text_t;

static void text_add(text_t *t, const char *s)
{
    if (t->cap == 0)
        return;
    const char *sep = t->len > 0 ? "; " : "";
    int n = snprintf(t->buf + t->len, t->cap - t->len, "%s%s", sep, s);
    if (n < 0)
        return;
    if ((size_t)n >= t->cap - t->len) {
        t->len = t->cap - 1;
        if (t->cap >= 4)
            memcpy(t->buf + t->cap - 4, "...", 4);
        return;
    }
    t->len += (size_t)n;
}

bool lq_mgmt_render_ready(const lq_mgmt_snapshot_t *s, char *reason, size_t cap)
{
    text_t t = { reason, cap, 0 };
    if (cap > 0)
        reason[0] = '\0';
    bool ok = true;
    if (!s->home.reachable) {
        text_add(&t, "home API server unreachable");
        ok = false;
    }
    if (!s->foreign.reachable) {
        text_add(&t, "foreign API server unreachable");
        ok = false;
    }
    if (!s->vnode.lock_held) {
        text_add(&t, "waiting for the single-instance Lease");
        ok = false;
    }
    if (!s->vnode.registered) {
        text_add(&t, "virtual node not registered");
        ok = false;
    }
    return ok;
}

/* --- /status ---------------------------------------------------------------------------- */

static void put_cluster(jw_t *w, const char *k, const lq_mgmt_cluster_t *c)
{
    jw_open(w, k, "{");
    jw_str(w, "id", c->id);
    jw_str(w, "name", c->name);
    jw_str(w, "server", c->server);
    jw_bool(w, "reachable", c->reachable);
    jw_bool(w, "tlsVerified", !c->tls_unverified);
    jw_close(w, "}");
}

static void put_requests(jw_t *w, const char *k, const lq_mgmt_requests_t *r)
{
    jw_open(w, k, "{");
    jw_u64(w, "submitted", r->submitted);
    jw_u64(w, "retries", r->retries);
    jw_u64(w, "completed", r->completed);
    jw_u64(w, "failures", r->failures);
    jw_u64(w, "queued", r->queued);
    jw_u64(w, "queueHighWater", r->queue_high_water);
    jw_close(w, "}");
}

/* stable: only what observers of /status are notified about (no counters, usage or
 * uptime), for lq_mgmt_digest. */
static void render_status(out_t *o, const lq_mgmt_view_t *v, bool stable)
{
    const lq_mgmt_snapshot_t *s = v->snap;
    char reason[LQ_MGMT_REASON_MAX];
    bool ready = lq_mgmt_render_ready(s, reason, sizeof reason);
    jw_t w = { o, 0, 0 };

    jw_open(&w, NULL, "{");
    jw_str(&w, "version", v->version);
    jw_str(&w, "board", v->board);
    if (!stable)
        jw_u64(&w, "uptimeSeconds", v->uptime_ms / 1000u);
    jw_bool(&w, "ready", ready);
    jw_str(&w, "notReadyReason", reason);
    jw_open(&w, "clusters", "{");
    put_cluster(&w, "home", &s->home);
    put_cluster(&w, "foreign", &s->foreign);
    jw_close(&w, "}");
    jw_open(&w, "virtualNode", "{");
    jw_str(&w, "name", s->vnode.name);
    jw_bool(&w, "registered", s->vnode.registered);
    jw_bool(&w, "lockHeld", s->vnode.lock_held);
    if (!stable) {
        jw_u64(&w, "nodeApplies", s->vnode.node_applies);
        jw_u64(&w, "statusUpdates", s->vnode.status_updates);
        jw_u64(&w, "leaseRenewals", s->vnode.lease_renewals);
    }
    jw_close(&w, "}");
    jw_open(&w, "connections", "[");
    for (size_t i = 0; i < s->n_conns && i < LQ_MGMT_MAX_CONNS; i++) {
        const lq_mgmt_conn_t *c = &s->conns[i];
        jw_open(&w, NULL, "{");
        jw_str(&w, "cluster", c->cluster);
        jw_str(&w, "name", c->name);
        if (!stable)
            jw_str(&w, "state", c->state);
        jw_str(&w, "lastError", c->last_error);
        if (!stable) {
            jw_u64(&w, "requests", c->requests);
            jw_u64(&w, "connects", c->connects);
            jw_u64(&w, "failures", c->failures);
            jw_u64(&w, "deadlines", c->deadlines);
            jw_u64(&w, "bodyStalls", c->stalls);
            jw_u64(&w, "trailingGarbage", c->trailing);
        }
        jw_close(&w, "}");
    }
    jw_close(&w, "]");
    if (!stable) {
        jw_open(&w, "requests", "{");
        put_requests(&w, "home", &s->requests_home);
        put_requests(&w, "foreign", &s->requests_foreign);
        jw_close(&w, "}");
    }
    jw_open(&w, "namespaces", "[");
    for (size_t i = 0; i < s->n_ns && i < LQ_MAX_NAMESPACES; i++) {
        jw_open(&w, NULL, "{");
        jw_str(&w, "local", s->ns[i].local);
        jw_str(&w, "remote", s->ns[i].remote);
        jw_str(&w, "state", s->ns[i].state);
        jw_close(&w, "}");
    }
    jw_close(&w, "]");
    jw_open(&w, "objects", "{");
    for (int k = 0; k < (int)LQ_MGMT_KIND_COUNT; k++)
        jw_u64(&w, kind_paths[k], s->objects[k]);
    jw_close(&w, "}");
    jw_open(&w, "kubeletAPI", "{");
    jw_bool(&w, "listening", s->kubelet.listening);
    jw_u64(&w, "port", s->kubelet.port);
    jw_close(&w, "}");
    if (!stable) {
        jw_open(&w, "kubeletSessions", "{");
        jw_u64(&w, "open", s->kubelet.open);
        jw_u64(&w, "served", s->kubelet.served);
        jw_u64(&w, "refused", s->kubelet.refused);
        jw_u64(&w, "unauthenticated", s->kubelet.unauthenticated);
        jw_u64(&w, "forbidden", s->kubelet.forbidden);
        jw_u64(&w, "errors", s->kubelet.errors);
        jw_close(&w, "}");
        jw_open(&w, "workqueue", "{");
        jw_u64(&w, "depth", s->workqueue.depth);
        jw_u64(&w, "highWater", s->workqueue.high_water);
        jw_u64(&w, "retries", s->workqueue.retries);
        jw_close(&w, "}");
        jw_open(&w, "tables", "[");
        for (size_t i = 0; i < s->n_tables && i < LQ_MGMT_MAX_TABLES; i++) {
            const lq_mgmt_table_t *t = &s->tables[i];
            jw_open(&w, NULL, "{");
            jw_str(&w, "name", t->name);
            jw_u64(&w, "used", t->used);
            jw_u64(&w, "capacity", t->capacity);
            jw_u64(&w, "highWater", t->high_water);
            jw_close(&w, "}");
        }
        jw_close(&w, "]");
        jw_open(&w, "memory", "{");
        jw_open(&w, "coapHeap", "{");
        jw_u64(&w, "inUse", v->heap.in_use);
        jw_u64(&w, "highWater", v->heap.high_water);
        jw_u64(&w, "cap", v->heap.cap);
        jw_u64(&w, "allocations", v->heap.allocations);
        jw_u64(&w, "refused", v->heap.refused);
        jw_close(&w, "}");
        jw_u64(&w, "rssBytes", v->rss_bytes);
        jw_u64(&w, "rssPeakBytes", v->rss_peak_bytes);
        jw_close(&w, "}");
    }
    jw_close(&w, "}");
    put(o, "\n");
}

/* --- /metrics --------------------------------------------------------------------------- */

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP ");
    put(o, name);
    put(o, " ");
    put(o, help);
    put(o, "\n# TYPE ");
    put(o, name);
    put(o, " ");
    put(o, type);
    put(o, "\n");
}

static void sample(out_t *o, const char *name, const char *label, const char *value, uint64_t v)
{
    put(o, name);
    if (label != NULL) {
        put(o, "{");
        put(o, label);
        put(o, "=");
        put_plabel(o, value);
        put(o, "}");
    }
    put(o, " ");
    put_u64(o, v);
    put(o, "\n");
}

/* Liqo's two reflection counters: one sample per (namespace, kind) that is not zero
 * (as client_golang, which exports only label sets that were incremented), with Liqo
 * v0.8.2's labels: namespace (home), reflector_resource, cluster_id and cluster_name (the
 * foreign cluster's), node_name (the virtual node). Liqo v1.2 has the same minus
 * cluster_name. */
static void liqo_counter(out_t *o, const lq_mgmt_snapshot_t *s, bool errors, const char *name,
                         const char *help)
{
    bool any = false;
    for (size_t i = 0; i < s->n_ns && i < LQ_MAX_NAMESPACES; i++) {
        for (int k = 0; k < (int)LQ_MGMT_KIND_COUNT; k++) {
            uint64_t v = errors ? s->ns[i].errors[k] : s->ns[i].items[k];
            if (v == 0)
                continue;
            if (!any)
                family(o, name, "counter", help);
            any = true;
            put(o, name);
            put(o, "{namespace=");
            put_plabel(o, s->ns[i].local);
            put(o, ",reflector_resource=");
            put_plabel(o, kind_refl[k]);
            put(o, ",cluster_id=");
            put_plabel(o, s->foreign.id);
            put(o, ",cluster_name=");
            put_plabel(o, s->foreign.name);
            put(o, ",node_name=");
            put_plabel(o, s->vnode.name);
            put(o, "} ");
            put_u64(o, v);
            put(o, "\n");
        }
    }
}

static void render_metrics(out_t *o, const lq_mgmt_view_t *v)
{
    const lq_mgmt_snapshot_t *s = v->snap;
    char reason[8];
    liqo_counter(o, s, false, "liqo_virtual_kubelet_reflection_item_counter",
                 "Reflections of resources completed, by namespace and reflector.");
    liqo_counter(o, s, true, "liqo_virtual_kubelet_reflection_error_counter",
                 "Reflection attempts that failed with a transient error (retried).");

    family(o, "liqolet_build_info", "gauge", "Version and board of this agent.");
    put(o, "liqolet_build_info{version=");
    put_plabel(o, v->version);
    put(o, ",board=");
    put_plabel(o, v->board);
    put(o, "} 1\n");
    family(o, "liqolet_uptime_seconds", "gauge", "Seconds since the management endpoint started.");
    sample(o, "liqolet_uptime_seconds", NULL, NULL, v->uptime_ms / 1000u);
    family(o, "liqolet_ready", "gauge", "1 when both API servers are reachable and the virtual "
           "node is registered.");
    sample(o, "liqolet_ready", NULL, NULL, lq_mgmt_render_ready(s, reason, sizeof reason) ? 1u : 0u);
    family(o, "liqolet_cluster_reachable", "gauge", "1 when the cluster's API server answers.");
    sample(o, "liqolet_cluster_reachable", "cluster", "home", s->home.reachable ? 1u : 0u);
    sample(o, "liqolet_cluster_reachable", "cluster", "foreign", s->foreign.reachable ? 1u : 0u);
    family(o, "liqolet_tls_verify_disabled", "gauge", "1 when the cluster's API server "
           "certificate is not verified (insecure-skip-tls-verify with --allow-insecure-tls).");
    sample(o, "liqolet_tls_verify_disabled", "cluster", "home", s->home.tls_unverified ? 1u : 0u);
    sample(o, "liqolet_tls_verify_disabled", "cluster", "foreign",
           s->foreign.tls_unverified ? 1u : 0u);
    family(o, "liqolet_virtual_node_registered", "gauge", "1 when the virtual Node exists in "
           "the home cluster.");
    sample(o, "liqolet_virtual_node_registered", NULL, NULL, s->vnode.registered ? 1u : 0u);
    family(o, "liqolet_offloaded_namespaces", "gauge", "Namespaces offloaded to the foreign "
           "cluster.");
    sample(o, "liqolet_offloaded_namespaces", NULL, NULL, s->n_ns);
    family(o, "liqolet_reflected_objects", "gauge", "Objects reflected now, by kind.");
    for (int k = 0; k < (int)LQ_MGMT_KIND_COUNT; k++)
        sample(o, "liqolet_reflected_objects", "kind", kind_refl[k], s->objects[k]);
    family(o, "liqolet_reflection_conflicts_total", "counter", "Reflections refused because "
           "a remote object of that name is not the agent's, by kind.");
    for (int k = 0; k < (int)LQ_MGMT_KIND_COUNT; k++)
        sample(o, "liqolet_reflection_conflicts_total", "kind", kind_refl[k], s->conflicts[k]);
    family(o, "liqolet_reflection_too_large_total", "counter", "Objects not reflected because "
           "they exceed what this build reflects, by kind.");
    for (int k = 0; k < (int)LQ_MGMT_KIND_COUNT; k++)
        sample(o, "liqolet_reflection_too_large_total", "kind", kind_refl[k], s->too_large[k]);

    static const struct {
        const char *name, *help;
        size_t off;
    } req[] = {
        { "liqolet_api_requests_total", "API requests submitted.",
          offsetof(lq_mgmt_requests_t, submitted) },
        { "liqolet_api_retries_total", "API request attempts after a backoff.",
          offsetof(lq_mgmt_requests_t, retries) },
        { "liqolet_api_failures_total", "API requests that failed after every attempt.",
          offsetof(lq_mgmt_requests_t, failures) },
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        uint64_t h, f;
        memcpy(&h, (const char *)&s->requests_home + req[i].off, sizeof h);
        memcpy(&f, (const char *)&s->requests_foreign + req[i].off, sizeof f);
        family(o, req[i].name, "counter", req[i].help);
        sample(o, req[i].name, "cluster", "home", h);
        sample(o, req[i].name, "cluster", "foreign", f);
    }
    family(o, "liqolet_api_queued_requests", "gauge", "API requests waiting for a connection.");
    sample(o, "liqolet_api_queued_requests", "cluster", "home", s->requests_home.queued);
    sample(o, "liqolet_api_queued_requests", "cluster", "foreign", s->requests_foreign.queued);
    family(o, "liqolet_kubelet_sessions", "gauge", "Kubelet API sessions open (kubectl logs, "
           "exec, attach of offloaded pods).");
    sample(o, "liqolet_kubelet_sessions", NULL, NULL, s->kubelet.open);
    family(o, "liqolet_kubelet_requests_total", "counter", "Kubelet API connections by "
           "outcome: served (relayed to the foreign cluster or answered), refused (over the "
           "session cap), unauthenticated (TLS refused), forbidden (SubjectAccessReview), "
           "error.");
    sample(o, "liqolet_kubelet_requests_total", "result", "served", s->kubelet.served);
    sample(o, "liqolet_kubelet_requests_total", "result", "refused", s->kubelet.refused);
    sample(o, "liqolet_kubelet_requests_total", "result", "unauthenticated",
           s->kubelet.unauthenticated);
    sample(o, "liqolet_kubelet_requests_total", "result", "forbidden", s->kubelet.forbidden);
    sample(o, "liqolet_kubelet_requests_total", "result", "error", s->kubelet.errors);
    family(o, "liqolet_workqueue_depth", "gauge", "Keys waiting in the reflection work queue.");
    sample(o, "liqolet_workqueue_depth", NULL, NULL, s->workqueue.depth);
    family(o, "liqolet_workqueue_retries_total", "counter", "Work queue keys retried after "
           "a backoff.");
    sample(o, "liqolet_workqueue_retries_total", NULL, NULL, s->workqueue.retries);

    static const struct {
        const char *name, *help;
        size_t off;
    } tab[] = {
        { "liqolet_table_used", "Entries in use in a fixed-capacity table.",
          offsetof(lq_mgmt_table_t, used) },
        { "liqolet_table_capacity", "Capacity of a fixed-capacity table (compile time).",
          offsetof(lq_mgmt_table_t, capacity) },
        { "liqolet_table_high_water", "Most entries ever in use in a fixed-capacity table.",
          offsetof(lq_mgmt_table_t, high_water) },
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0] && s->n_tables > 0; i++) {
        family(o, tab[i].name, "gauge", tab[i].help);
        for (size_t t = 0; t < s->n_tables && t < LQ_MGMT_MAX_TABLES; t++) {
            uint64_t x;
            memcpy(&x, (const char *)&s->tables[t] + tab[i].off, sizeof x);
            sample(o, tab[i].name, "table", s->tables[t].name, x);
        }
    }
    family(o, "liqolet_coap_heap_bytes", "gauge", "Bytes libcoap holds on the heap.");
    sample(o, "liqolet_coap_heap_bytes", NULL, NULL, v->heap.in_use);
    family(o, "liqolet_coap_heap_high_water_bytes", "gauge", "Most bytes libcoap ever held.");
    sample(o, "liqolet_coap_heap_high_water_bytes", NULL, NULL, v->heap.high_water);
    family(o, "liqolet_coap_heap_cap_bytes", "gauge", "Cap on libcoap's heap.");
    sample(o, "liqolet_coap_heap_cap_bytes", NULL, NULL, v->heap.cap);
    family(o, "liqolet_coap_heap_refused_total", "counter", "libcoap allocations refused by "
           "the cap.");
    sample(o, "liqolet_coap_heap_refused_total", NULL, NULL, v->heap.refused);
    if (v->rss_bytes > 0) {
        family(o, "liqolet_resident_memory_bytes", "gauge", "Resident set size.");
        sample(o, "liqolet_resident_memory_bytes", NULL, NULL, v->rss_bytes);
        family(o, "liqolet_resident_memory_peak_bytes", "gauge", "Peak resident set size.");
        sample(o, "liqolet_resident_memory_peak_bytes", NULL, NULL, v->rss_peak_bytes);
    }
}

/* --- /objects/<kind> -------------------------------------------------------------------- */

static bool object_at(const lq_mgmt_view_t *v, int kind, size_t i, lq_mgmt_object_t *ob)
{
    memset(ob, 0, sizeof *ob);
    if (kind == (int)LQ_MGMT_KIND_NAMESPACES) {
        const lq_mgmt_snapshot_t *s = v->snap;
        if (i >= s->n_ns || i >= LQ_MAX_NAMESPACES)
            return false;
        ob->name = s->ns[i].local;
        ob->remote_ns = s->ns[i].remote;
        ob->state = s->ns[i].state;
        return true;
    }
    return v->objects != NULL && v->objects(v->objects_ctx, (lq_mgmt_kind_t)kind, i, ob);
}

static bool str_is(const char *s, const char *p, size_t n)
{
    return s != NULL && strlen(s) == n && memcmp(s, p, n) == 0;
}

/* Renders the list from object `from` on; o->pos is the stream offset of that object's
 * rendering (resumed: the list prefix was produced by an earlier block; any_before: an
 * item was already shown, so the next one needs a comma). Records in *cand the last
 * object whose rendering starts at or before the window's end: where the next block
 * can resume. */
static void render_objects(out_t *o, const lq_mgmt_view_t *v, int kind, const char *ns,
                           size_t ns_len, size_t from, bool resumed, bool any_before,
                           lq_mgmt_cursor_t *cand)
{
    if (!resumed) {
        put(o, "{\"kind\":");
        put_jstr(o, kind_paths[kind]);
        put(o, ",\"items\":[");
    }
    uint64_t wend = o->skip + o->cap;
    bool any = any_before;
    lq_mgmt_object_t ob;
    for (size_t i = from;; i++) {
        if (o->pos <= wend) {
            cand->valid = true;
            cand->index = i;
            cand->index_off = o->pos;
            cand->any_before = any;
        }
        if (o->stop || !object_at(v, kind, i, &ob))
            break;
        const char *owner = kind == (int)LQ_MGMT_KIND_NAMESPACES ? ob.name : ob.ns;
        if (ns != NULL && !str_is(owner, ns, ns_len))
            continue;
        jw_t w = { o, any ? 1u : 0u, 0 }; /* one item of the array */
        any = true;
        jw_open(&w, NULL, "{");
        if (kind != (int)LQ_MGMT_KIND_NAMESPACES)
            jw_str(&w, "namespace", ob.ns);
        jw_str(&w, "name", ob.name);
        if (ob.remote_ns != NULL)
            jw_str(&w, "remoteNamespace", ob.remote_ns);
        if (ob.state != NULL)
            jw_str(&w, "state", ob.state);
        jw_close(&w, "}");
    }
    put(o, "]}\n");
}

/* --- query, Block2 ---------------------------------------------------------------------- */

static void msgf(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void msgf(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
}

lq_err_t lq_mgmt_render_parse_query(const char *q, size_t len, const char **ns,
                                    size_t *ns_len, char *msg, size_t msg_cap)
{
    if (ns == NULL || ns_len == NULL || (q == NULL && len > 0))
        return LQ_EINVAL;
    *ns = NULL;
    *ns_len = 0;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && q[e] != '&')
            e++;
        const char *item = q + i;
        size_t il = e - i;
        i = e + 1;
        if (il == 0)
            continue;
        const char *eq = memchr(item, '=', il);
        size_t kl = eq != NULL ? (size_t)(eq - item) : il;
        if (kl != 2 || memcmp(item, "ns", 2) != 0) {
            msgf(msg, msg_cap, "unknown query parameter '%.*s' (only ns=NAMESPACE)",
                 (int)(kl < 32 ? kl : 32), item);
            return LQ_EINVAL;
        }
        if (*ns != NULL) {
            msgf(msg, msg_cap, "ns= given twice");
            return LQ_EINVAL;
        }
        const char *val = eq != NULL ? eq + 1 : item + il;
        size_t vl = (size_t)(item + il - val);
        if (!lq_names_dns_label(val, vl)) {
            msgf(msg, msg_cap, "ns= needs a namespace name (a DNS-1123 label)");
            return LQ_EINVAL;
        }
        *ns = val;
        *ns_len = vl;
    }
    return LQ_OK;
}

lq_err_t lq_mgmt_render_block2_decode(uint32_t value, uint32_t *num, size_t *size)
{
    uint32_t szx = value & 7u;
    if (szx == 7u || value > 0xFFFFFFu)
        return LQ_EINVAL;
    *num = value >> 4;
    *size = (size_t)1u << (szx + 4u);
    return LQ_OK;
}

static unsigned szx_of(size_t size)
{
    unsigned s = 0;
    while (((size_t)16u << s) < size)
        s++;
    return s;
}

/* --- the request -> response core ------------------------------------------------------- */

static void diag(lq_mgmt_resp_t *r, char *buf, size_t cap, unsigned code, const char *text)
{
    size_t n = strlen(text);
    if (n > cap)
        n = cap;
    memcpy(buf, text, n);
    memset(r, 0, sizeof *r);
    r->code = code;
    r->content_format = LQ_MGMT_CF_TEXT;
    r->len = n;
}

static void etag_of(lq_mgmt_resp_t *r, uint64_t h)
{
    r->etag = true;
    r->etag_len = 8;
    for (int i = 0; i < 8; i++)
        r->etag_value[i] = (uint8_t)(h >> (56 - 8 * i));
}

static uint64_t ns_list_gen(const lq_mgmt_snapshot_t *s)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < s->n_ns && i < LQ_MAX_NAMESPACES; i++) {
        const char *f[3] = { s->ns[i].local, s->ns[i].remote, s->ns[i].state };
        for (int k = 0; k < 3; k++)
            h = fnv(h, f[k] != NULL ? f[k] : "", f[k] != NULL ? strlen(f[k]) + 1 : 1);
    }
    return h;
}

lq_err_t lq_mgmt_render_response(const lq_mgmt_view_t *v, const lq_mgmt_req_t *req,
                                 lq_mgmt_cursor_t *cur, char *buf, size_t cap,
                                 lq_mgmt_resp_t *resp)
{
    if (v == NULL || v->snap == NULL || req == NULL || buf == NULL || resp == NULL || cap < 16)
        return LQ_EINVAL;
    memset(resp, 0, sizeof *resp);
    char msg[96];

    unsigned cf = req->res == LQ_MGMT_RES_STATUS || req->res == LQ_MGMT_RES_OBJECTS
                      ? LQ_MGMT_CF_JSON
                      : LQ_MGMT_CF_TEXT;
    if (req->accept >= 0 && (unsigned)req->accept != cf) {
        snprintf(msg, sizeof msg, "this resource is only served as content format %u", cf);
        diag(resp, buf, cap, 406, msg);
        return LQ_OK;
    }
    const char *ns = NULL;
    size_t ns_len = 0;
    if (req->res == LQ_MGMT_RES_OBJECTS) {
        if (lq_mgmt_render_kind_path(req->kind) == NULL) {
            diag(resp, buf, cap, 404, "no such kind");
            return LQ_OK;
        }
        if (lq_mgmt_render_parse_query(req->query, req->query_len, &ns, &ns_len, msg, sizeof msg) !=
            LQ_OK) {
            diag(resp, buf, cap, 400, msg);
            return LQ_OK;
        }
    } else if (req->query_len > 0) {
        diag(resp, buf, cap, 400, "this resource takes no query");
        return LQ_OK;
    }

    /* Block size: what the session carries, what our buffer holds, what the client asked. */
    size_t bsize = LQ_MGMT_BLOCK_MAX;
    while (bsize > 16 && (bsize > req->max_block || bsize > cap))
        bsize >>= 1;
    uint64_t offset = 0;
    if (req->has_block2) {
        uint32_t rnum;
        size_t rsize;
        if (lq_mgmt_render_block2_decode(req->block2, &rnum, &rsize) != LQ_OK) {
            diag(resp, buf, cap, 400, "bad Block2 option");
            return LQ_OK;
        }
        if (rsize < bsize)
            bsize = rsize;
        offset = (uint64_t)rnum * rsize;
    }
    uint64_t num = offset / bsize;
    if (num > 0xFFFFFu) {
        diag(resp, buf, cap, 402, "block number too large");
        return LQ_OK;
    }

    out_t o;
    bool more, known_len = true;
    if (req->res == LQ_MGMT_RES_OBJECTS) {
        const lq_mgmt_snapshot_t *s = v->snap;
        uint64_t gen = req->kind == (int)LQ_MGMT_KIND_NAMESPACES ? ns_list_gen(s)
                                                                 : s->objects_gen[req->kind];
        uint64_t fh = fnv(FNV_OFFSET, ns != NULL ? ns : "", ns_len);
        out_init(&o, buf, bsize, offset, false);
        size_t from = 0;
        bool resumed = false, any_before = false;
        if (cur != NULL && cur->valid && cur->kind == req->kind && cur->gen == gen &&
            cur->filter_hash == fh && cur->next_off == offset && cur->index_off <= offset) {
            from = cur->index;
            o.pos = cur->index_off;
            resumed = true;
            any_before = cur->any_before;
        }
        lq_mgmt_cursor_t cand;
        memset(&cand, 0, sizeof cand);
        render_objects(&o, v, req->kind, ns, ns_len, from, resumed, any_before, &cand);
        if (cur != NULL) {
            *cur = cand;
            cur->kind = req->kind;
            cur->gen = gen;
            cur->filter_hash = fh;
            cur->next_off = offset + bsize;
        }
        more = o.stop;
        known_len = false;
        uint64_t et = fnv(fnv(gen ^ FNV_OFFSET, &req->kind, sizeof req->kind), &fh, sizeof fh);
        etag_of(resp, et);
    } else {
        out_init(&o, buf, bsize, offset, true);
        char reason[LQ_MGMT_REASON_MAX];
        switch (req->res) {
        case LQ_MGMT_RES_HEALTH:
            put(&o, "ok\n");
            break;
        case LQ_MGMT_RES_READY:
            if (lq_mgmt_render_ready(v->snap, reason, sizeof reason))
                put(&o, "ready\n");
            else {
                put(&o, "not ready: ");
                put(&o, reason);
                put(&o, "\n");
            }
            break;
        case LQ_MGMT_RES_STATUS:
            render_status(&o, v, false);
            break;
        case LQ_MGMT_RES_METRICS:
            render_metrics(&o, v);
            break;
        default:
            diag(resp, buf, cap, 404, "no such resource");
            return LQ_OK;
        }
        more = o.pos > offset + bsize;
        etag_of(resp, o.hash);
        if (o.pos > bsize || req->has_block2) {
            resp->size2 = true;
            resp->size2_value = o.pos > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)o.pos;
        }
    }
    if (offset > 0 && o.len == 0 && (known_len ? offset >= o.pos : true)) {
        diag(resp, buf, cap, 402, "block beyond the end of the representation");
        return LQ_OK;
    }
    resp->code = 205;
    resp->content_format = cf;
    resp->len = o.len;
    if (req->has_block2 || more) {
        resp->block2 = true;
        resp->block2_value = (uint32_t)(num << 4) | (more ? 8u : 0u) | szx_of(bsize);
    }
    return LQ_OK;
}

uint64_t lq_mgmt_render_digest(const lq_mgmt_view_t *v, lq_mgmt_res_t res)
{
    char none[1];
    out_t o;
    out_init(&o, none, 0, 0, true);
    if (res == LQ_MGMT_RES_READY) {
        char reason[LQ_MGMT_REASON_MAX];
        put(&o, lq_mgmt_render_ready(v->snap, reason, sizeof reason) ? "1" : "0");
        put(&o, reason);
    } else {
        render_status(&o, v, true);
    }
    return o.hash;
}

/* --- addresses --------------------------------------------------------------------------- */

bool lq_mgmt_render_is_loopback(const char *ip)
{
    return ip != NULL && lq_names_is_loopback(ip, strlen(ip));
}

lq_err_t lq_mgmt_render_check_listen(const lq_config_addr_t *addrs, size_t n, bool have_psk,
                                     char *msg, size_t msg_cap)
{
    if (msg != NULL && msg_cap > 0)
        msg[0] = '\0';
    if (addrs == NULL && n > 0)
        return LQ_EINVAL;
    if (n == 0) {
        msgf(msg, msg_cap, "mgmt.listen: no address given");
        return LQ_ECONFIG;
    }
    for (size_t i = 0; i < n; i++) {
        if (have_psk || lq_mgmt_render_is_loopback(addrs[i].host))
            continue;
        bool v6 = strchr(addrs[i].host, ':') != NULL;
        msgf(msg, msg_cap,
             "mgmt.listen: %s%s%s:%u is not a loopback address; the management endpoint "
             "is served beyond this host only over DTLS: give a pre-shared key with "
             "--mgmt-psk-file FILE (see docs/management.md), or listen on 127.0.0.1/[::1]",
             v6 ? "[" : "", addrs[i].host, v6 ? "]" : "", (unsigned)addrs[i].port);
        return LQ_ECONFIG;
    }
    return LQ_OK;
}

/* --- the HTTP listener's request head ---------------------------------------------------- */

lq_err_t lq_mgmt_render_http_parse(const char *buf, size_t len, int *res, bool *head_only)
{
    if (buf == NULL || res == NULL || head_only == NULL)
        return LQ_EINVAL;
    *res = -1;
    *head_only = false;
    /* The head ends at an empty line (CRLF CRLF, or bare LF LF). */
    size_t end = 0;
    bool found = false;
    for (size_t i = 0; i < len && i < LQ_MGMT_HTTP_REQ_MAX; i++) {
        if (buf[i] != '\n')
            continue;
        if (i >= 1 && buf[i - 1] == '\n') {
            end = i + 1;
            found = true;
            break;
        }
        if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n') {
            end = i + 1;
            found = true;
            break;
        }
    }
    if (!found)
        return len >= LQ_MGMT_HTTP_REQ_MAX ? LQ_ETOOBIG : LQ_AGAIN;

    /* Request line: METHOD SP /path[?query] SP HTTP/1.x */
    size_t i = 0;
    while (i < end && buf[i] >= 'A' && buf[i] <= 'Z')
        i++;
    size_t ml = i;
    if (ml == 0 || i >= end || buf[i] != ' ')
        return LQ_EPROTO;
    const char *target = buf + ++i;
    while (i < end && buf[i] != ' ' && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f)
        i++;
    size_t tl = (size_t)(buf + i - target);
    if (tl == 0 || target[0] != '/' || i >= end || buf[i] != ' ')
        return LQ_EPROTO;
    i++;
    if (end - i < 10 || memcmp(buf + i, "HTTP/1.", 7) != 0 ||
        (buf[i + 7] != '0' && buf[i + 7] != '1'))
        return LQ_EPROTO;
    i += 8;
    if (buf[i] == '\r')
        i++;
    if (buf[i] != '\n')
        return LQ_EPROTO;
    i++;
    /* Header lines: "name: value", no control bytes; only their syntax is checked. */
    while (i < end) {
        size_t ls = i;
        while (i < end && buf[i] != '\n')
            i++;
        size_t le = i > ls && buf[i - 1] == '\r' ? i - 1 : i;
        i++;
        if (le == ls)
            break; /* the empty line */
        const char *colon = memchr(buf + ls, ':', le - ls);
        if (colon == NULL || colon == buf + ls)
            return LQ_EPROTO;
        for (size_t k = ls; k < le; k++) {
            unsigned char c = (unsigned char)buf[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return LQ_EPROTO;
        }
    }
    bool get = ml == 3 && memcmp(buf, "GET", 3) == 0;
    bool head = ml == 4 && memcmp(buf, "HEAD", 4) == 0;
    if (!get && !head)
        return LQ_ENOTSUP;
    *head_only = head;
    const char *q = memchr(target, '?', tl);
    size_t pl = q != NULL ? (size_t)(q - target) : tl;
    if (pl == 8 && memcmp(target, "/healthz", 8) == 0)
        *res = LQ_MGMT_RES_HEALTH;
    else if (pl == 7 && memcmp(target, "/readyz", 7) == 0)
        *res = LQ_MGMT_RES_READY;
    else if (pl == 8 && memcmp(target, "/metrics", 8) == 0)
        *res = LQ_MGMT_RES_METRICS;
    return LQ_OK;
}
