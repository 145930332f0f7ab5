/* liqolet: the CoAP management endpoint; the only file that includes libcoap
 * (see include/liqolet/mgmt.h for the resources and the pull interface).
 *
 * Loop integration (c-models T3): libcoap 4.3.1 is built with epoll, so one descriptor
 * (its epoll instance, duplicated so that the loop may close its copy) stands for every
 * socket and for libcoap's timer descriptor. The loop watches it for input and then calls
 * coap_io_process(ctx, COAP_IO_NO_WAIT), which never waits; a prepare hook calls
 * coap_io_prepare_epoll before every wait, which sends retransmissions and pending
 * notifications and returns the time to libcoap's next action, folded into the loop's
 * timeout. No second thread, no blocking call.
 *
 * Heap fence: libcoap (and its mbedTLS glue) calls malloc & co. on POSIX. The Makefile
 * links a copy of libcoap's archive in which those calls are renamed to the
 * lq_mgmt_heap_* functions below (objcopy --redefine-sym), which count every byte, refuse
 * what would pass LQ_COAP_HEAP_CAP, and are the allocation guard's one allowed exception.
 * DTLS record buffers are mbedTLS's and come out of the mbedTLS arena (src/kube/tls.c). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "liqolet/log.h"
#include "liqolet/mgmt.h"
#include "liqolet/pool.h"
#include "liqolet/port.h"

#ifndef LQ_VERSION
#define LQ_VERSION "0.0.0-unknown"
#endif

/* --- the heap fence ------------------------------------------------------------------- */

typedef union heap_hdr {
    max_align_t align;
    size_t size; /* payload bytes */
} heap_hdr_t;

static lq_mgmt_heap_stats_t heap = { .cap = LQ_COAP_HEAP_CAP };

static bool heap_fits(size_t add, size_t release)
{
    uint64_t after = heap.in_use - release;
    return add <= LQ_COAP_HEAP_CAP && after + add + sizeof(heap_hdr_t) <= LQ_COAP_HEAP_CAP;
}

static void heap_account(uint64_t add, uint64_t release)
{
    heap.in_use = heap.in_use - release + add;
    if (heap.in_use > heap.high_water)
        heap.high_water = heap.in_use;
}

void *lq_mgmt_heap_malloc(size_t n)
{
    if (!heap_fits(n, 0)) {
        heap.refused++;
        return NULL;
    }
    lq_allocguard_allow_enter();
    heap_hdr_t *h = malloc(sizeof *h + n);
    lq_allocguard_allow_leave();
    if (h == NULL) {
        heap.refused++;
        return NULL;
    }
    h->size = n;
    heap_account(sizeof *h + n, 0);
    heap.allocations++;
    return h + 1;
}

void *lq_mgmt_heap_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        heap.refused++;
        return NULL;
    }
    void *p = lq_mgmt_heap_malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void lq_mgmt_heap_free(void *p)
{
    if (p == NULL)
        return;
    heap_hdr_t *h = (heap_hdr_t *)p - 1;
    heap_account(0, sizeof *h + h->size);
    lq_allocguard_allow_enter();
    free(h);
    lq_allocguard_allow_leave();
}

void *lq_mgmt_heap_realloc(void *p, size_t n)
{
    if (p == NULL)
        return lq_mgmt_heap_malloc(n);
    if (n == 0) {
        lq_mgmt_heap_free(p);
        return NULL;
    }
    heap_hdr_t *h = (heap_hdr_t *)p - 1;
    size_t old = h->size;
    if (!heap_fits(n, sizeof *h + old)) {
        heap.refused++;
        return NULL;
    }
    lq_allocguard_allow_enter();
    heap_hdr_t *nh = realloc(h, sizeof *nh + n);
    lq_allocguard_allow_leave();
    if (nh == NULL) {
        heap.refused++;
        return NULL;
    }
    nh->size = n;
    heap_account(sizeof *nh + n, sizeof *nh + old);
    heap.allocations++;
    return nh + 1;
}

char *lq_mgmt_heap_strndup(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len] != '\0')
        len++;
    char *d = lq_mgmt_heap_malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *lq_mgmt_heap_strdup(const char *s)
{
    return lq_mgmt_heap_strndup(s, SIZE_MAX);
}

void lq_mgmt_heap_stats(lq_mgmt_heap_stats_t *out)
{
    *out = heap;
}

/* --- libcoap's log ---------------------------------------------------------------------- */

static void coap_log_cb(coap_log_t level, const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    lq_log_level_t l = level <= LOG_ERR       ? LQ_LOG_WARN
                       : level == LOG_WARNING ? LQ_LOG_INFO
                       : level <= LOG_INFO    ? LQ_LOG_DEBUG
                                              : LQ_LOG_TRACE;
    if (l <= lq_log_level())
        lq_log(l, "coap", "%.*s", (int)(n < 400 ? n : 400), message);
}

static void coap_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    coap_startup();
    coap_set_log_handler(coap_log_cb);
    lq_log_level_t l = lq_log_level();
    int cl = l >= LQ_LOG_TRACE ? LOG_DEBUG : l >= LQ_LOG_DEBUG ? LOG_INFO : LOG_WARNING;
    coap_set_log_level(cl);
    coap_dtls_set_log_level(cl);
}

/* --- set-up ----------------------------------------------------------------------------- */

void lq_mgmt_init(lq_mgmt_t *m)
{
    memset(m, 0, offsetof(lq_mgmt_t, snap_));
    lq_loop_timer_init(&m->poll_timer_, NULL, NULL);
}

static lq_err_t read_psk(lq_mgmt_t *m, const char *path, char *msg, size_t cap)
{
    char buf[LQ_MGMT_PSK_MAX + 3];
    size_t len = 0;
    lq_err_t e = lq_port_file_read(path, buf, sizeof buf, &len);
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
    if (len < 8 || len > LQ_MGMT_PSK_MAX) {
        (void)snprintf(msg, cap, "mgmt.pskFile: the key in %s is %zu bytes; use 8 to %u (e.g. "
                       "`head -c 24 /dev/urandom | base64 > %s`)", path, len,
                       (unsigned)LQ_MGMT_PSK_MAX, path);
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
    lq_err_t e = lq_mgmt_check_listen(cfg->listen, cfg->n_listen, psk, msg, msg_cap);
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

/* --- requests ----------------------------------------------------------------------------- */

/* The view over the current snapshot; refresh false reuses the last one (the later blocks
 * of one Block2 transfer must render the same document as its first block). */
static void view_fill(lq_mgmt_t *m, lq_mgmt_view_t *v, bool refresh)
{
    memset(v, 0, sizeof *v);
    if (refresh || m->snap_at_ == 0) {
        memset(&m->snap_, 0, sizeof m->snap_);
        if (m->snap_fn_ != NULL)
            m->snap_fn_(m->snap_ctx_, &m->snap_);
        m->snap_at_ = lq_port_mono_ms();
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

/* The largest power-of-two block that fits the session's PDU with our options (token 8,
 * ETag 9, Observe 4, Content-Format 3, Block2 4, Size2 5, marker 1, header 4). */
static size_t block_for(const coap_session_t *session)
{
    size_t pdu = coap_session_max_pdu_size(session);
    size_t room = pdu > 48 ? pdu - 48 : 16;
    size_t b = LQ_MGMT_BLOCK_MAX;
    while (b > 16 && b > room)
        b >>= 1;
    return b;
}

static void add_uint_option(coap_pdu_t *pdu, coap_option_num_t num, uint32_t v)
{
    uint8_t buf[4];
    (void)coap_add_option(pdu, num, coap_encode_var_safe(buf, sizeof buf, v), buf);
}

static void on_get(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *request,
                   const coap_string_t *query, coap_pdu_t *response)
{
    struct lq_mgmt_route_ *rt = coap_resource_get_userdata(r);
    lq_mgmt_t *m = rt->m;
    lq_mgmt_req_t req;
    memset(&req, 0, sizeof req);
    req.res = (lq_mgmt_res_t)rt->res;
    req.kind = rt->kind;
    req.accept = -1;
    req.max_block = block_for(session);
    if (query != NULL) {
        req.query = (const char *)query->s;
        req.query_len = query->length;
    }
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(request, COAP_OPTION_BLOCK2, &it);
    if (opt != NULL) {
        req.has_block2 = true;
        unsigned n = coap_opt_length(opt);
        req.block2 = n > 3 ? 0xFFFFFFFFu : coap_decode_var_bytes(coap_opt_value(opt), n);
    }
    opt = coap_check_option(request, COAP_OPTION_ACCEPT, &it);
    if (opt != NULL) {
        unsigned n = coap_opt_length(opt);
        req.accept = n > 2 ? 0xFFFF : (int)coap_decode_var_bytes(coap_opt_value(opt), n);
    }

    lq_mgmt_view_t v;
    lq_mgmt_resp_t resp;
    /* A block after the first renders the snapshot its first block saw (when recent), so
     * a multi-block document stays one consistent document while the agent changes. */
    bool later_block = req.has_block2 && (req.block2 >> 4) > 0 &&
                       lq_port_mono_ms() - m->snap_at_ < 5000;
    view_fill(m, &v, !later_block);
    if (lq_mgmt_render(&v, &req, &m->cursor_, m->block_, sizeof m->block_, &resp) != LQ_OK) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
        return;
    }
    m->stats.requests++;
    if (resp.code >= 400)
        m->stats.bad_requests++;
    coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(resp.code));
    if (resp.etag)
        (void)coap_add_option(response, COAP_OPTION_ETAG, resp.etag_len, resp.etag_value);
    add_uint_option(response, COAP_OPTION_CONTENT_FORMAT, resp.content_format);
    if (resp.block2)
        add_uint_option(response, COAP_OPTION_BLOCK2, resp.block2_value);
    if (resp.size2)
        add_uint_option(response, COAP_OPTION_SIZE2, resp.size2_value);
    (void)coap_add_data(response, resp.len, (const uint8_t *)m->block_);
}

/* --- observers ---------------------------------------------------------------------------- */

static void check_observers(lq_mgmt_t *m)
{
    lq_mgmt_view_t v;
    lq_mgmt_view(m, &v);
    uint64_t d = lq_mgmt_digest(&v, LQ_MGMT_RES_READY);
    if (d != m->digest_ready_) {
        m->digest_ready_ = d;
        (void)coap_resource_notify_observers(m->res_ready_, NULL);
        m->stats.notifications++;
    }
    d = lq_mgmt_digest(&v, LQ_MGMT_RES_STATUS);
    if (d != m->digest_status_) {
        m->digest_status_ = d;
        (void)coap_resource_notify_observers(m->res_status_, NULL);
        m->stats.notifications++;
    }
}

static void on_poll(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    lq_mgmt_t *m = ctx;
    sample(m);
    check_observers(m);
    lq_loop_timer_start(loop, t, LQ_MGMT_POLL_MS);
}

void lq_mgmt_changed(lq_mgmt_t *m)
{
    if (m->started)
        lq_loop_timer_start(m->loop_, &m->poll_timer_, 0);
}

/* --- the loop ----------------------------------------------------------------------------- */

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    (void)events;
    lq_mgmt_t *m = ctx;
    (void)coap_io_process(m->ctx_, COAP_IO_NO_WAIT);
}

static int on_prepare(lq_loop_t *loop, void *ctx, int64_t now_ms)
{
    (void)loop;
    (void)now_ms;
    lq_mgmt_t *m = ctx;
    if (m->ctx_ == NULL)
        return -1;
    coap_tick_t now;
    coap_ticks(&now);
    unsigned ms = coap_io_prepare_epoll(m->ctx_, now);
    return ms == 0 ? -1 : ms > 0x7fffffffu ? 0x7fffffff : (int)ms;
}

/* --- resources ---------------------------------------------------------------------------- */

static const coap_bin_const_t *check_identity(coap_bin_const_t *identity, coap_session_t *session,
                                              void *arg)
{
    (void)session;
    static coap_bin_const_t key;
    lq_mgmt_t *m = arg;
    size_t want = strlen(m->psk_id_);
    if (want > 0 && (identity == NULL || identity->length != want ||
                     memcmp(identity->s, m->psk_id_, want) != 0)) {
        LQ_WARN("mgmt", "DTLS client with an unknown PSK identity refused");
        return NULL;
    }
    key.s = m->psk_;
    key.length = m->psk_len_;
    return &key;
}

static coap_resource_t *add_resource(lq_mgmt_t *m, size_t slot, const char *path, int res,
                                     int kind, const char *rt, unsigned cf, bool observable,
                                     const char *title)
{
    coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);
    if (r == NULL)
        return NULL;
    m->routes_[slot].m = m;
    m->routes_[slot].res = res;
    m->routes_[slot].kind = kind;
    coap_resource_set_userdata(r, &m->routes_[slot]);
    coap_register_handler(r, COAP_REQUEST_GET, on_get);
    char ct[4];
    (void)snprintf(ct, sizeof ct, "%u", cf);
    (void)coap_add_attr(r, coap_make_str_const("ct"), coap_make_str_const(ct), 0);
    (void)coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const(rt), 0);
    (void)coap_add_attr(r, coap_make_str_const("title"), coap_make_str_const(title), 0);
    if (observable) {
        coap_resource_set_get_observable(r, 1);
        (void)coap_add_attr(r, coap_make_str_const("obs"), NULL, 0);
    }
    coap_add_resource(m->ctx_, r);
    return r;
}

static lq_err_t add_resources(lq_mgmt_t *m)
{
    size_t slot = 0;
    if (add_resource(m, slot++, "health", LQ_MGMT_RES_HEALTH, 0, "\"liqolet.health\"",
                     LQ_MGMT_CF_TEXT, false, "\"liveness\"") == NULL)
        return LQ_ENOMEM;
    m->res_ready_ = add_resource(m, slot++, "ready", LQ_MGMT_RES_READY, 0, "\"liqolet.ready\"",
                                 LQ_MGMT_CF_TEXT, true, "\"readiness\"");
    m->res_status_ = add_resource(m, slot++, "status", LQ_MGMT_RES_STATUS, 0,
                                  "\"liqolet.status\"", LQ_MGMT_CF_JSON, true, "\"agent status\"");
    if (m->res_ready_ == NULL || m->res_status_ == NULL)
        return LQ_ENOMEM;
    if (add_resource(m, slot++, "metrics", LQ_MGMT_RES_METRICS, 0, "\"liqolet.metrics\"",
                     LQ_MGMT_CF_TEXT, false, "\"Prometheus metrics\"") == NULL)
        return LQ_ENOMEM;
    for (int k = 0; k <= (int)LQ_MGMT_KIND_NAMESPACES; k++) {
        char path[40];
        (void)snprintf(path, sizeof path, "objects/%s", lq_mgmt_kind_path(k));
        if (add_resource(m, slot++, path, LQ_MGMT_RES_OBJECTS, k, "\"liqolet.objects\"",
                         LQ_MGMT_CF_JSON, false, "\"reflected objects\"") == NULL)
            return LQ_ENOMEM;
    }
    return LQ_OK;
}

/* "127.0.0.1:5683 UDP" / "[::1]:5683 DTLS" -> 5683 */
static uint16_t endpoint_port(const coap_endpoint_t *ep)
{
    const char *s = coap_endpoint_str(ep);
    const char *sp = strchr(s, ' ');
    const char *end = sp != NULL ? sp : s + strlen(s);
    const char *colon = NULL;
    for (const char *p = s; p < end; p++)
        if (*p == ':')
            colon = p;
    if (colon == NULL)
        return 0;
    unsigned long v = strtoul(colon + 1, NULL, 10);
    return v <= 65535u ? (uint16_t)v : 0;
}

static lq_err_t bind_all(lq_mgmt_t *m)
{
    size_t bound = 0;
    for (size_t i = 0; i < m->n_listen_; i++) {
        const lq_config_addr_t *a = &m->listen_[i];
        bool v6 = strchr(a->host, ':') != NULL;
        coap_address_t addr;
        coap_address_init(&addr);
        if (v6) {
            addr.addr.sin6.sin6_family = AF_INET6;
            addr.addr.sin6.sin6_port = htons(a->port);
            addr.size = sizeof addr.addr.sin6;
            if (inet_pton(AF_INET6, a->host, &addr.addr.sin6.sin6_addr) != 1)
                return LQ_EINVAL;
        } else {
            addr.addr.sin.sin_family = AF_INET;
            addr.addr.sin.sin_port = htons(a->port);
            addr.size = sizeof addr.addr.sin;
            if (inet_pton(AF_INET, a->host, &addr.addr.sin.sin_addr) != 1)
                return LQ_EINVAL;
        }
        errno = 0;
        coap_endpoint_t *ep = coap_new_endpoint(m->ctx_, &addr, m->dtls_ ? COAP_PROTO_DTLS
                                                                         : COAP_PROTO_UDP);
        int why = errno;
        if (ep == NULL && v6 && lq_mgmt_is_loopback(a->host) &&
            (why == EAFNOSUPPORT || why == EADDRNOTAVAIL)) {
            /* A host with IPv6 turned off (common on gateways): the default [::1] goes. */
            LQ_WARN("mgmt", "IPv6 is not available on this host; not listening on [%s]:%u",
                    a->host, (unsigned)a->port);
            continue;
        }
        if (ep == NULL) {
            LQ_ERROR("mgmt", "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", a->host,
                     v6 ? "]" : "", (unsigned)a->port,
                     why != 0 ? strerror(why) : "in use, or not an address of this host?");
            return LQ_EIO;
        }
        bound++;
        m->ports[i] = endpoint_port(ep);
        LQ_INFO("mgmt", "CoAP listening on %s://%s%s%s:%u", m->dtls_ ? "coaps" : "coap",
                v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)m->ports[i]);
    }
    if (bound == 0) {
        LQ_ERROR("mgmt", "no management address could be bound");
        return LQ_EIO;
    }
    return LQ_OK;
}

lq_err_t lq_mgmt_start(lq_mgmt_t *m, lq_loop_t *loop, lq_mgmt_snapshot_fn *snapshot,
                       void *snapshot_ctx, lq_mgmt_object_fn *objects, void *objects_ctx)
{
    if (m == NULL || loop == NULL || snapshot == NULL || m->n_listen_ == 0 || m->started)
        return LQ_EINVAL;
    coap_once();
    if (m->dtls_ && !coap_dtls_is_supported()) {
        LQ_ERROR("mgmt", "this libcoap has no DTLS support; cannot serve coaps");
        return LQ_ENOTSUP;
    }
    m->loop_ = loop;
    m->snap_fn_ = snapshot;
    m->snap_ctx_ = snapshot_ctx;
    m->obj_fn_ = objects;
    m->obj_ctx_ = objects_ctx;
    m->started_ms_ = lq_port_mono_ms();
    m->ctx_ = coap_new_context(NULL);
    if (m->ctx_ == NULL)
        return LQ_ENOMEM;
    coap_context_set_max_idle_sessions(m->ctx_, LQ_MGMT_MAX_SESSIONS);
    coap_context_set_max_handshake_sessions(m->ctx_, LQ_MGMT_MAX_HANDSHAKES);
    coap_context_set_session_timeout(m->ctx_, 60);
    lq_err_t e = LQ_OK;
    if (m->dtls_) {
        coap_dtls_spsk_t spsk;
        memset(&spsk, 0, sizeof spsk);
        spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
        spsk.validate_id_call_back = check_identity;
        spsk.id_call_back_arg = m;
        spsk.psk_info.key.s = m->psk_;
        spsk.psk_info.key.length = m->psk_len_;
        if (!coap_context_set_psk2(m->ctx_, &spsk))
            e = LQ_ENOMEM;
    }
    if (e == LQ_OK)
        e = add_resources(m);
    if (e == LQ_OK)
        e = bind_all(m);
    int fd = e == LQ_OK ? coap_context_get_coap_fd(m->ctx_) : -1;
    int dfd = fd >= 0 ? dup(fd) : -1;
    if (e == LQ_OK && dfd < 0) {
        LQ_ERROR("mgmt", "libcoap offers no descriptor to wait on (built without epoll?)");
        e = LQ_ENOTSUP;
    }
    if (e == LQ_OK && (e = lq_loop_io_add(loop, &m->io_, dfd, LQ_PORT_IN, on_io, m)) != LQ_OK)
        close(dfd);
    if (e == LQ_OK)
        e = lq_loop_hook_add(loop, on_prepare, m);
    if (e != LQ_OK) {
        if (m->io_.state == LQ_LOOP_IO_ACTIVE)
            lq_loop_io_close(loop, &m->io_, NULL);
        coap_free_context(m->ctx_);
        m->ctx_ = NULL;
        return e;
    }
    sample(m);
    lq_loop_timer_init(&m->poll_timer_, on_poll, m);
    lq_loop_timer_start(loop, &m->poll_timer_, LQ_MGMT_POLL_MS);
    m->started = true;
    if (m->n_http_ > 0 && (e = lq_mgmt_http_start(m)) != LQ_OK) {
        lq_mgmt_close(m);
        return e;
    }
    LQ_INFO("mgmt", "libcoap heap after start-up: %llu of %llu bytes%s",
            (unsigned long long)heap.in_use, (unsigned long long)heap.cap,
            m->dtls_ ? "; DTLS with a pre-shared key on every address" : "");
    return LQ_OK;
}

void lq_mgmt_close(lq_mgmt_t *m)
{
    if (m == NULL || !m->started)
        return;
    lq_mgmt_http_close(m);
    lq_loop_timer_stop(m->loop_, &m->poll_timer_);
    lq_loop_io_close(m->loop_, &m->io_, NULL);
    /* The prepare hook stays registered (the loop has no removal) and sees ctx_ NULL. */
    coap_free_context(m->ctx_);
    m->ctx_ = NULL;
    m->started = false;
}
