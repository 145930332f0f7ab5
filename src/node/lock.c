/* liqolet: single instance per (home, foreign) pair: a coordination.k8s.io/v1 Lease
 * "liqolet-<node>" in the agent's namespace of the home cluster (name from
 * lq_perms_lock_name, so it matches the RBAC manifests).
 *
 * Acquire: create the Lease; if it exists, take it over only when its holder has not
 * renewed it for longer than its duration (update with the resourceVersion read, so two
 * contenders cannot both win); otherwise say who holds it and retry every 5 s. Once held,
 * it is renewed every 10 s; losing it (someone else's holder identity appears) stops the
 * agent rather than letting two agents fight. */
#include <stdio.h>
#include <string.h>

#include "liqolet/forge_node.h"
#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/lock.h"
#include "liqolet/log.h"
#include "liqolet/perms.h"

#define LOCK_DURATION_S 30
#define LOCK_RENEW_MS 10000
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

/* Reads holder, renewTime, duration and resourceVersion from the response. */
static void read_lease(lq_lock_t *l, char *holder, size_t hcap, bool *valid)
{
    static unsigned char arena[32768];
    lq_json_doc_t doc;
    lq_json_doc_init(&doc, arena, sizeof arena);
    lq_json_t *root = NULL;
    holder[0] = '\0';
    *valid = false;
    if (lq_json_parse(&doc, l->resp_, l->req_.resp_len, &root) != LQ_OK)
        return;
    (void)lq_json_str_copy(LQ_JSON_AT(root, "metadata", "resourceVersion"), l->rv_, sizeof l->rv_);
    (void)lq_json_str_copy(LQ_JSON_AT(root, "spec", "holderIdentity"), holder, hcap);
    int64_t dur = LOCK_DURATION_S;
    (void)lq_json_int(LQ_JSON_AT(root, "spec", "leaseDurationSeconds"), &dur);
    lq_json_str_t rt;
    if (lq_json_str(LQ_JSON_AT(root, "spec", "renewTime"), &rt) != LQ_OK)
        return;
    /* "2026-11-23T14:46:53.588000Z": compare with our own formatting of "now" instead of
     * parsing dates: expired when renewTime + duration < now, i.e. when renewTime is
     * before the timestamp of (now - duration). */
    char cutoff[40];
    if (lq_forge_time_format(lq_port_wall_ms() - dur * 1000, true, cutoff, sizeof cutoff) != LQ_OK)
        return;
    size_t n = rt.len < strlen(cutoff) ? rt.len : strlen(cutoff);
    *valid = memcmp(rt.p, cutoff, n) >= 0; /* renewed after the cutoff: still held */
}

static void done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_lock_t *l = ctx;
    char holder[128];
    bool valid = false;
    switch (l->state) {
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
        if (!l->said_waiting_) {
            LQ_WARN("lock", "another liqolet (%s) is running for this pair: it holds Lease %s/%s on "
                    "the home cluster; waiting until it stops (its lease lasts %d s)",
                    holder, l->ns, l->name, LOCK_DURATION_S);
            l->said_waiting_ = true;
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
            LQ_ERROR("lock", "lost Lease %s/%s to another liqolet; stopping so that two agents "
                     "do not fight", l->ns, l->name);
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
    LQ_INFO("lock", "holding Lease %s/%s as %s", l->ns, l->name, l->identity);
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
                       const char *node_name, lq_lock_fn *on_acquired, lq_lock_fn *on_lost, void *ctx)
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
    lq_err_t e = lq_perms_lock_name(node_name, l->name, sizeof l->name, NULL);
    if (e != LQ_OK)
        return e;
    unsigned char rnd[6];
    if (lq_port_entropy(rnd, sizeof rnd) != LQ_OK)
        return LQ_EIO;
    (void)snprintf(l->identity, sizeof l->identity, "liqolet-%02x%02x%02x%02x%02x%02x", rnd[0],
                   rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    lq_loop_timer_init(&l->timer_, on_timer, l);
    l->state = LQ_LOCK_CREATING;
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
