/* liqolet: the management endpoint's service object (see include/liqolet/mgmt.h): the
 * configuration and its address rule, the PSK file, the snapshot pull and the sampled
 * figures every view is built from, the observer poll, and the start and close of the
 * CoAP service (src/mgmt/coap.c) and the HTTP listener (src/mgmt/http.c), which get the
 * view through an lq_mgmt_source_t and never see this struct. No libcoap, no socket. */
#include <stdio.h>
#include <string.h>

#include "liqolet/log.h"
#include "liqolet/mgmt.h"
#include "liqolet/port.h"

#ifndef LQ_VERSION
#define LQ_VERSION "0.0.0-unknown"
#endif

/* A later block of one transfer reuses the snapshot its first block saw while it is
 * younger than this (ms). */
#define SNAP_REUSE_MS 5000

/* --- snapshot helpers -------------------------------------------------------------------- */

const char *lq_mgmt_conn_state_name(int state)
{
    switch (state) {
    case LQ_CONN_IDLE:
        return "idle";
    case LQ_CONN_CONNECTING:
        return "connecting";
    case LQ_CONN_HANDSHAKE:
        return "handshake";
    case LQ_CONN_SENDING:
        return "sending";
    case LQ_CONN_HEAD:
        return "head";
    case LQ_CONN_BODY:
        return "body";
    default:
        return "unknown";
    }
}

void lq_mgmt_snap_conn(lq_mgmt_snapshot_t *s, const char *cluster, const char *name,
                       const lq_conn_t *c)
{
    if (s->n_conns >= LQ_MGMT_MAX_CONNS)
        return;
    lq_mgmt_conn_t *e = &s->conns[s->n_conns++];
    e->cluster = cluster;
    e->name = name;
    e->state = lq_mgmt_conn_state_name((int)c->state);
    e->last_error = c->error;
    e->requests = c->stats.requests;
    e->connects = c->stats.connects;
    e->failures = c->stats.failures;
    e->deadlines = c->stats.deadlines;
    e->stalls = c->stats.body_stalls;
    e->trailing = c->stats.trailing_garbage;
}

void lq_mgmt_snap_table(lq_mgmt_snapshot_t *s, const char *name, uint64_t used,
                        uint64_t capacity, uint64_t high_water)
{
    if (s->n_tables >= LQ_MGMT_MAX_TABLES)
        return;
    lq_mgmt_table_t *t = &s->tables[s->n_tables++];
    t->name = name;
    t->used = used;
    t->capacity = capacity;
    t->high_water = high_water;
}

/* --- set-up ----------------------------------------------------------------------------- */

void lq_mgmt_init(lq_mgmt_t *m)
{
    memset(m, 0, offsetof(lq_mgmt_t, coap_));
    lq_mgmt_coap_init(&m->coap_);
    lq_mgmt_http_init(&m->httpd_);
    lq_loop_timer_init(&m->poll_timer_, NULL, NULL);
}

static lq_err_t read_psk(lq_mgmt_t *m, const char *path, char *msg, size_t cap)
{
    char buf[LQ_MGMT_PSK_MAX + 3];
    size_t len = 0;
    unsigned mode = 0600;
    bool other_owner = false;
    lq_err_t e = lq_port_file_read_secret(path, buf, sizeof buf, &len, &mode, &other_owner);
    if (e == LQ_OK && (mode & 077u || other_owner)) {
        memset(buf, 0, sizeof buf);
        if (other_owner)
            (void)snprintf(msg, cap, "mgmt.pskFile: %s belongs to another user; it must be "
                           "this user's or root's", path);
        else
            (void)snprintf(msg, cap, "mgmt.pskFile: %s is open to group or others (mode %04o): "
                           "anyone on this host could talk to the endpoint; chmod 600 %s", path,
                           mode, path);
        return LQ_ECONFIG;
    }
    if (e == LQ_ETOOBIG) {
        (void)snprintf(msg, cap, "mgmt.pskFile: %s holds more than %u bytes; a pre-shared "
                       "key is at most %u", path, (unsigned)LQ_MGMT_PSK_MAX,
                       (unsigned)LQ_MGMT_PSK_MAX);
        return LQ_ECONFIG;
    }
    if (e != LQ_OK) {
        (void)snprintf(msg, cap, "mgmt.pskFile: cannot read %s: %s", path, lq_err_str(e));
        return LQ_ECONFIG;
    }
    /* One trailing newline (as `echo` writes) is not part of the key. */
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len < LQ_MGMT_PSK_MIN || len > LQ_MGMT_PSK_MAX) {
        (void)snprintf(msg, cap, "mgmt.pskFile: the key in %s is %zu bytes; use %u to %u (e.g. "
                       "`head -c 24 /dev/urandom | base64 > %s`)", path, len,
                       (unsigned)LQ_MGMT_PSK_MIN, (unsigned)LQ_MGMT_PSK_MAX, path);
        memset(buf, 0, sizeof buf);
        return LQ_ECONFIG;
    }
    memcpy(m->psk_, buf, len);
    m->psk_len_ = len;
    memset(buf, 0, sizeof buf);
    (void)lq_log_secret_add((const char *)m->psk_, m->psk_len_);
    return LQ_OK;
}

lq_err_t lq_mgmt_configure(lq_mgmt_t *m, const lq_mgmt_cfg_t *cfg, char *msg, size_t msg_cap)
{
    char none[1];
    if (msg == NULL || msg_cap == 0) {
        msg = none;
        msg_cap = sizeof none;
    }
    msg[0] = '\0';
    if (m == NULL || cfg == NULL || cfg->n_listen > LQ_CONFIG_MAX_LISTEN ||
        cfg->n_http > LQ_CONFIG_MAX_LISTEN)
        return LQ_EINVAL;
    bool psk = cfg->psk_file != NULL && cfg->psk_file[0] != '\0';
    lq_err_t e = lq_mgmt_render_check_listen(cfg->listen, cfg->n_listen, psk, msg, msg_cap);
    if (e != LQ_OK)
        return e;
    if (cfg->psk_identity != NULL && cfg->psk_identity[0] != '\0') {
        if (!psk) {
            (void)snprintf(msg, msg_cap, "mgmt.pskIdentity is set but mgmt.pskFile is not");
            return LQ_ECONFIG;
        }
        if (strlen(cfg->psk_identity) > LQ_MGMT_PSK_ID_MAX) {
            (void)snprintf(msg, msg_cap, "mgmt.pskIdentity: longer than %u bytes",
                           (unsigned)LQ_MGMT_PSK_ID_MAX);
            return LQ_ECONFIG;
        }
        (void)snprintf(m->psk_id_, sizeof m->psk_id_, "%s", cfg->psk_identity);
    }
    if (psk && (e = read_psk(m, cfg->psk_file, msg, msg_cap)) != LQ_OK)
        return e;
    m->dtls_ = psk;
    memcpy(m->listen_, cfg->listen, cfg->n_listen * sizeof cfg->listen[0]);
    m->n_listen_ = cfg->n_listen;
    if (cfg->n_http > 0)
        memcpy(m->http_, cfg->http, cfg->n_http * sizeof cfg->http[0]);
    m->n_http_ = cfg->n_http;
    return LQ_OK;
}

/* --- views ------------------------------------------------------------------------------- */

/* The view over the current snapshot; fresh false reuses the last one while recent (the
 * later blocks of one Block2 transfer must render the same document as its first block). */
static void view_fill(lq_mgmt_t *m, lq_mgmt_view_t *v, bool fresh)
{
    memset(v, 0, sizeof *v);
    int64_t now = lq_port_mono_ms();
    if (fresh || m->snap_at_ == 0 || now - m->snap_at_ >= SNAP_REUSE_MS) {
        memset(&m->snap_, 0, sizeof m->snap_);
        if (m->snap_fn_ != NULL)
            m->snap_fn_(m->snap_ctx_, &m->snap_);
        m->snap_at_ = now;
        m->snap_sample_ = m->sample_;
    }
    v->snap = &m->snap_;
    v->objects = m->obj_fn_;
    v->objects_ctx = m->obj_ctx_;
    v->uptime_ms = m->snap_sample_.uptime_ms;
    v->rss_bytes = m->snap_sample_.rss;
    v->rss_peak_bytes = m->snap_sample_.rss_peak;
    v->heap = m->snap_sample_.heap;
    v->version = LQ_VERSION;
    v->board = LQ_BOARD_NAME;
}

/* lq_mgmt_view_fn for the listeners. */
static void source_view(void *ctx, lq_mgmt_view_t *v, bool fresh)
{
    view_fill(ctx, v, fresh);
}

void lq_mgmt_view(lq_mgmt_t *m, lq_mgmt_view_t *v)
{
    view_fill(m, v, true);
}

static void sample(lq_mgmt_t *m)
{
    int64_t up = lq_port_mono_ms() - m->started_ms_;
    m->sample_.uptime_ms = up > 0 ? (uint64_t)up : 0u;
    if (lq_port_mem_usage(&m->sample_.rss_peak, &m->sample_.rss) != LQ_OK)
        m->sample_.rss = m->sample_.rss_peak = 0;
    lq_mgmt_heap_stats(&m->sample_.heap);
}

/* --- the observer poll -------------------------------------------------------------------- */

static void on_poll(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    lq_mgmt_t *m = ctx;
    sample(m);
    lq_mgmt_coap_notify(&m->coap_);
    lq_loop_timer_start(loop, t, LQ_MGMT_POLL_MS);
}

void lq_mgmt_changed(lq_mgmt_t *m)
{
    if (m->started)
        lq_loop_timer_start(m->loop_, &m->poll_timer_, 0);
}

/* --- start and close ---------------------------------------------------------------------- */

lq_err_t lq_mgmt_start(lq_mgmt_t *m, lq_loop_t *loop, lq_mgmt_snapshot_fn *snapshot,
                       void *snapshot_ctx, lq_mgmt_object_fn *objects, void *objects_ctx)
{
    if (m == NULL || loop == NULL || snapshot == NULL || m->n_listen_ == 0 || m->started)
        return LQ_EINVAL;
    m->loop_ = loop;
    m->snap_fn_ = snapshot;
    m->snap_ctx_ = snapshot_ctx;
    m->obj_fn_ = objects;
    m->obj_ctx_ = objects_ctx;
    m->started_ms_ = lq_port_mono_ms();
    m->snap_at_ = 0;
    const lq_mgmt_source_t src = { source_view, m, &m->stats };
    const lq_mgmt_coap_cfg_t ccfg = {
        m->listen_, m->n_listen_, m->dtls_ ? m->psk_ : NULL, m->dtls_ ? m->psk_len_ : 0,
        m->psk_id_,
    };
    lq_err_t e = lq_mgmt_coap_start(&m->coap_, loop, &ccfg, &src);
    if (e != LQ_OK)
        return e;
    memcpy(m->ports, m->coap_.ports, sizeof m->ports);
    sample(m);
    lq_loop_timer_init(&m->poll_timer_, on_poll, m);
    lq_loop_timer_start(loop, &m->poll_timer_, LQ_MGMT_POLL_MS);
    m->started = true;
    if (m->n_http_ > 0) {
        e = lq_mgmt_http_start(&m->httpd_, loop, m->http_, m->n_http_, &src);
        if (e != LQ_OK) {
            lq_mgmt_close(m);
            return e;
        }
        memcpy(m->http_ports, m->httpd_.ports, sizeof m->http_ports);
    }
    lq_mgmt_heap_stats_t heap;
    lq_mgmt_heap_stats(&heap);
    LQ_INFO("mgmt", "libcoap heap after start-up: %llu of %llu bytes%s",
            (unsigned long long)heap.in_use, (unsigned long long)heap.cap,
            m->dtls_ ? "; DTLS with a pre-shared key on every address" : "");
    return LQ_OK;
}

void lq_mgmt_close(lq_mgmt_t *m)
{
    if (m == NULL || !m->started)
        return;
    lq_mgmt_http_close(&m->httpd_);
    lq_loop_timer_stop(m->loop_, &m->poll_timer_);
    lq_mgmt_coap_close(&m->coap_);
    m->started = false;
}
