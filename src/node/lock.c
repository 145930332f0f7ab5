/* liqolet: single instance per (home, foreign) pair: a coordination.k8s.io/v1 Lease
 * "liqolet-<foreign cluster id>" in the agent's namespace of the home cluster (name from
 * lq_perms_lock_name, so it matches the RBAC manifests). The node name is not part of
 * the key: two agents for one pair with different node names would delete each other's
 * remote namespaces. The holder identity is "liqolet-<12 hex>@<node name>".
 *
 * Acquire: first, while an agent of an earlier version holds the per-node Lease
 * "liqolet-<node>" (renewed within its duration), wait (upgrade with both running).
 * Then create the pair's Lease; if it exists, take it over only when its holder has not
 * renewed it for longer than its duration (update with the resourceVersion read, so two
 * contenders cannot both win); otherwise say who holds it and retry every 5 s. Once held,
 * it is renewed every 10 s; losing it (someone else's holder identity appears, e.g.
 * `liqolet unpeer --take-over`) stops the agent rather than letting two agents fight. */
#include <stdio.h>
#include <string.h>

#include "liqolet/forge_node.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/lock.h"
#include "liqolet/log.h"
#include "liqolet/perms.h"

#define LOCK_DURATION_S LQ_LOCK_DURATION_S
#define LOCK_RENEW_MS LQ_LOCK_RENEW_MS
#define LOCK_RETRY_MS 5000

static void step(lq_lock_t *l);

static lq_err_t body(lq_lock_t *l, bool with_rv)
{
    char now[40];
    /* A released lock keeps no holder and a renewTime far in the past: the next agent
     * takes it over at once. */
    bool release = l->state == LQ_LOCK_RELEASING;
    if (lq_forge_time_format(release ? 0 : lq_port_wall_ms(), true, now, sizeof now) != LQ_OK)
        return LQ_EINVAL;
    int n = snprintf(l->body_, sizeof l->body_,
                     "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":"
                     "{\"name\":\"%s\",\"namespace\":\"%s\"%s%s%s},\"spec\":{\"holderIdentity\":\"%s\","
                     "\"leaseDurationSeconds\":%d,\"acquireTime\":\"%s\",\"renewTime\":\"%s\"}}",
                     l->name, l->ns, with_rv ? ",\"resourceVersion\":\"" : "",
                     with_rv ? l->rv_ : "", with_rv ? "\"" : "", release ? "" : l->identity,
                     LOCK_DURATION_S,
                     l->acquired_[0] ? l->acquired_ : now, now);
    if (n < 0 || (size_t)n >= sizeof l->body_)
        return LQ_ETOOBIG;
    l->body_len_ = (size_t)n;
    return LQ_OK;
}

lq_err_t lq_lock_parse(const char *body, size_t len, int64_t now_ms, lq_lock_info_t *out)
{
    static unsigned char arena[32768];
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena, sizeof arena);
    lq_json_t *root = NULL;
    memset(out, 0, sizeof *out);
    lq_err_t e = lq_json_parse(&doc, body, len, &root);
    if (e != LQ_OK)
        return e;
    (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "resourceVersion"), out->rv, sizeof out->rv);
    (void)lq_json_str_copy(LQ_JSON_AT(root, "spec", "holderIdentity"), out->holder, sizeof out->holder);
    int64_t dur = LOCK_DURATION_S;
    (void)lq_json_int(LQ_JSON_AT(root, "spec", "leaseDurationSeconds"), &dur);
    out->duration_s = dur;
    lq_json_str_t rt;
    if (lq_json_str(LQ_JSON_AT(root, "spec", "renewTime"), &rt) != LQ_OK)
        return LQ_OK;
    /* "2026-11-23T14:46:53.588000Z": compare with our own formatting of "now" instead of
     * parsing dates: expired when renewTime + duration < now, i.e. when renewTime is
     * before the timestamp of (now - duration). */
    char cutoff[40];
    if (lq_forge_time_format(now_ms - dur * 1000, true, cutoff, sizeof cutoff) != LQ_OK)
        return LQ_OK;
    size_t n = rt.len < strlen(cutoff) ? rt.len : strlen(cutoff);
    /* renewed after the cutoff, by someone: still held */
    out->live = out->holder[0] != '\0' && memcmp(rt.p, cutoff, n) >= 0;
    return LQ_OK;
}

const char *lq_lock_holder_describe(const char *holder, char *out, size_t cap)
{
    const char *at = strrchr(holder, '@');
    if (at != NULL && at[1] != '\0')
        (void)snprintf(out, cap, "agent %.*s for node %s", (int)(at - holder), holder, at + 1);
    else
        (void)snprintf(out, cap, "agent %s (an earlier version: its node name is not recorded)",
                       holder[0] ? holder : "?");
    return out;
}

/* Reads holder, liveness and resourceVersion from the response. */
static void read_lease(lq_lock_t *l, char *holder, size_t hcap, bool *valid)
{
    static lq_lock_info_t info;
    *valid = false;
    holder[0] = '\0';
    if (lq_lock_parse(l->resp_, l->req_.resp_len, lq_port_wall_ms(), &info) != LQ_OK)
        return;
    (void)snprintf(l->rv_, sizeof l->rv_, "%s", info.rv);
    (void)snprintf(holder, hcap, "%s", info.holder);
    *valid = info.live;
}

static void done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_lock_t *l = ctx;
    char holder[LQ_LOCK_HOLDER_MAX], who[LQ_LOCK_HOLDER_MAX + 64];
    bool valid = false;
    switch (l->state) {
    case LQ_LOCK_LEGACY:
        /* 404 (no earlier agent), 403 (not granted: nothing to wait for) or any error:
         * go on with the pair's Lease; only a live holder is waited for. */
        if (err == LQ_OK) {
            read_lease(l, holder, sizeof holder, &valid);
            if (valid && strcmp(holder, l->identity) != 0) {
                if (!l->said_legacy_) {
                    LQ_WARN("lock", "%s holds the per-node Lease %s/%s of an earlier liqolet "
                            "version for this node; waiting until it stops (stop it to upgrade)",
                            lq_lock_holder_describe(holder, who, sizeof who), l->ns, l->legacy_);
                    l->said_legacy_ = true;
                }
                lq_loop_timer_start(l->loop, &l->timer_, LOCK_RETRY_MS);
                return;
            }
        }
        l->state = LQ_LOCK_CREATING;
        step(l);
        return;
    case LQ_LOCK_RELEASING:
        if (err == LQ_OK)
            LQ_INFO("lock", "released Lease %s/%s", l->ns, l->name);
        l->state = LQ_LOCK_IDLE;
        return;
    case LQ_LOCK_CREATING:
        if (err == LQ_OK) {
            read_lease(l, holder, sizeof holder, &valid);
            goto acquired;
        }
        if (err == LQ_ECONFLICT) { /* exists: who holds it? */
            l->state = LQ_LOCK_READING;
            step(l);
            return;
        }
        break;
    case LQ_LOCK_READING:
        if (err != LQ_OK)
            break;
        read_lease(l, holder, sizeof holder, &valid);
        if (strcmp(holder, l->identity) == 0 || holder[0] == '\0' || !valid) {
            l->state = LQ_LOCK_TAKING;
            step(l);
            return;
        }
        if (!l->said_waiting_ || strcmp(holder, l->said_holder_) != 0) {
            LQ_WARN("lock", "pair %s is held by %s (Lease %s/%s on the home cluster); waiting "
                    "until it stops (its lease lasts %d s after its last renewal)", l->pair,
                    lq_lock_holder_describe(holder, who, sizeof who), l->ns, l->name,
                    LOCK_DURATION_S);
            l->said_waiting_ = true;
            (void)snprintf(l->said_holder_, sizeof l->said_holder_, "%s", holder);
        }
        l->state = LQ_LOCK_WAITING;
        lq_loop_timer_start(l->loop, &l->timer_, LOCK_RETRY_MS);
        return;
    case LQ_LOCK_TAKING:
        if (err == LQ_OK) {
            read_lease(l, holder, sizeof holder, &valid);
            goto acquired;
        }
        if (err == LQ_ECONFLICT) { /* someone else renewed or took it meanwhile */
            l->state = LQ_LOCK_READING;
            step(l);
            return;
        }
        break;
    case LQ_LOCK_HELD:
        if (err == LQ_OK) {
            read_lease(l, holder, sizeof holder, &valid);
            lq_loop_timer_start(l->loop, &l->timer_, LOCK_RENEW_MS);
            return;
        }
        if (err == LQ_ECONFLICT || err == LQ_ENOTFOUND) {
            LQ_ERROR("lock", "lost Lease %s/%s (pair %s) to another liqolet or to liqolet "
                     "unpeer; stopping so that two agents do not fight", l->ns, l->name, l->pair);
            l->state = LQ_LOCK_LOST;
            if (l->on_lost)
                l->on_lost(l, l->ctx);
            return;
        }
        LQ_WARN("lock", "cannot renew Lease %s/%s: %s (%s)", l->ns, l->name, lq_err_str(err), r->message);
        lq_loop_timer_start(l->loop, &l->timer_, LOCK_RETRY_MS);
        return;
    default:
        return;
    }
    LQ_WARN("lock", "Lease %s/%s: %s (%s); retrying", l->ns, l->name, lq_err_str(err), r->message);
    l->state = LQ_LOCK_WAITING;
    lq_loop_timer_start(l->loop, &l->timer_, LOCK_RETRY_MS);
    return;
acquired:
    if (lq_forge_time_format(lq_port_wall_ms(), true, l->acquired_, sizeof l->acquired_) != LQ_OK)
        l->acquired_[0] = '\0';
    LQ_INFO("lock", "holding Lease %s/%s as %s (pair %s)", l->ns, l->name, l->identity, l->pair);
    l->state = LQ_LOCK_HELD;
    lq_loop_timer_start(l->loop, &l->timer_, LOCK_RENEW_MS);
    if (l->on_acquired)
        l->on_acquired(l, l->ctx);
}

static void step(lq_lock_t *l)
{
    char path[LQ_KREQ_PATH_MAX];
    lq_kreq_init(&l->req_, l->resp_, sizeof l->resp_, done, l);
    l->req_.priority = true; /* losing the lock stops the agent */
    lq_err_t e = LQ_OK;
    switch (l->state) {
    case LQ_LOCK_LEGACY:
        e = lq_kapi_path(path, sizeof path, "coordination.k8s.io/v1", l->ns, "leases", l->legacy_, NULL);
        if (e == LQ_OK)
            e = lq_kreq_get(&l->req_, path);
        break;
    case LQ_LOCK_CREATING:
        e = lq_kapi_path(path, sizeof path, "coordination.k8s.io/v1", l->ns, "leases", NULL, NULL);
        if (e == LQ_OK)
            e = body(l, false);
        if (e == LQ_OK)
            e = lq_kreq_create(&l->req_, path, l->body_, l->body_len_);
        break;
    case LQ_LOCK_READING:
        e = lq_kapi_path(path, sizeof path, "coordination.k8s.io/v1", l->ns, "leases", l->name, NULL);
        if (e == LQ_OK)
            e = lq_kreq_get(&l->req_, path);
        break;
    case LQ_LOCK_TAKING:
    case LQ_LOCK_HELD:
    case LQ_LOCK_RELEASING:
        e = lq_kapi_path(path, sizeof path, "coordination.k8s.io/v1", l->ns, "leases", l->name, NULL);
        if (e == LQ_OK)
            e = body(l, true);
        if (e == LQ_OK)
            e = lq_kreq_update(&l->req_, path, l->body_, l->body_len_);
        break;
    default:
        return;
    }
    if (e == LQ_OK)
        e = lq_kreq_submit(l->client, &l->req_);
    if (e != LQ_OK)
        LQ_ERROR("lock", "cannot issue the lock request: %s", lq_err_str(e));
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_lock_t *l = ctx;
    if (l->state == LQ_LOCK_WAITING)
        l->state = LQ_LOCK_READING;
    step(l);
}

lq_err_t lq_lock_start(lq_lock_t *l, lq_loop_t *loop, lq_kreq_client_t *client, const char *ns,
                       const char *home_id, const char *foreign_id, const char *node_name,
                       lq_lock_fn *on_acquired, lq_lock_fn *on_lost, void *ctx)
{
    memset(l, 0, sizeof *l);
    l->loop = loop;
    l->client = client;
    l->on_acquired = on_acquired;
    l->on_lost = on_lost;
    l->ctx = ctx;
    if (strlen(ns) >= sizeof l->ns)
        return LQ_ETOOBIG;
    memcpy(l->ns, ns, strlen(ns) + 1);
    lq_err_t e = lq_perms_lock_name(foreign_id, l->name, sizeof l->name, NULL);
    if (e == LQ_OK)
        e = lq_perms_legacy_lock_name(node_name, l->legacy_, sizeof l->legacy_, NULL);
    if (e != LQ_OK)
        return e;
    int n = snprintf(l->pair, sizeof l->pair, "%s->%s", home_id, foreign_id);
    if (n < 0 || (size_t)n >= sizeof l->pair)
        return LQ_ETOOBIG;
    unsigned char rnd[6];
    if (lq_port_entropy(rnd, sizeof rnd) != LQ_OK)
        return LQ_EIO;
    n = snprintf(l->identity, sizeof l->identity, "liqolet-%02x%02x%02x%02x%02x%02x@%s", rnd[0],
                 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], node_name);
    if (n < 0 || (size_t)n >= sizeof l->identity)
        return LQ_ETOOBIG;
    lq_loop_timer_init(&l->timer_, on_timer, l);
    /* an earlier version's per-node Lease first, unless it is the pair's own name */
    l->state = strcmp(l->legacy_, l->name) != 0 ? LQ_LOCK_LEGACY : LQ_LOCK_CREATING;
    step(l);
    return LQ_OK;
}

bool lq_lock_release(lq_lock_t *l)
{
    if (l->state != LQ_LOCK_HELD)
        return false;
    lq_loop_timer_stop(l->loop, &l->timer_);
    if (l->req_.state != LQ_KREQ_IDLE)
        (void)lq_kreq_cancel(&l->req_);
    l->state = LQ_LOCK_RELEASING;
    step(l);
    return l->state == LQ_LOCK_RELEASING;
}
