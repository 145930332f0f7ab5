/* liqolet: the CoAP service of the management endpoint; the only file of the agent that
 * includes libcoap (see include/liqolet/mgmt_coap.h for the resources).
 *
 * Loop integration (c-models T3): libcoap 4.3.1 is built with epoll, so one descriptor
 * (its epoll instance, duplicated so that the loop may close its copy) stands for every
 * socket and for libcoap's timer descriptor. The loop watches it for input and then calls
 * coap_io_process(ctx, COAP_IO_NO_WAIT), which never waits; a prepare hook calls
 * coap_io_prepare_epoll before every wait, which sends retransmissions and pending
 * notifications and returns the time to libcoap's next action, folded into the loop's
 * timeout. No second thread, no blocking call.
 *
 * libcoap's heap: its archive is linked with malloc & co. renamed to the fence of
 * src/mgmt/heap.c (include/liqolet/mgmt_heap.h). DTLS record buffers are mbedTLS's and
 * come out of the mbedTLS arena (src/kube/tls.c). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "liqolet/log.h"
#include "liqolet/mgmt_coap.h"
#include "liqolet/mgmt_heap.h"
#include "liqolet/port.h"

_Static_assert(LQ_MGMT_DTLS_SESSIONS >= LQ_MGMT_MAX_SESSIONS + LQ_MGMT_MAX_HANDSHAKES,
               "the mbedTLS arena must hold every DTLS session libcoap may keep");

/* --- libcoap's log ---------------------------------------------------------------------- */

/* Warnings that any peer can cause (failed DTLS handshakes, unknown identities) are
 * limited to LQ_MGMT_WARN_BURST a minute, so an unauthenticated flood cannot fill the log;
 * what was held back is counted in the next one let through. */
#define WARN_WINDOW_MS 60000
static struct {
    int64_t start;
    unsigned shown, held;
} warn_rl;

static bool warn_allowed(void)
{
    int64_t now = lq_port_mono_ms();
    if (warn_rl.shown == 0 || now - warn_rl.start >= WARN_WINDOW_MS) {
        if (warn_rl.held > 0)
            LQ_WARN("mgmt", "%u warnings of the management endpoint were held back in the "
                    "last minute", warn_rl.held);
        warn_rl.start = now;
        warn_rl.shown = warn_rl.held = 0;
    }
    if (warn_rl.shown >= LQ_MGMT_WARN_BURST) {
        warn_rl.held++;
        return false;
    }
    warn_rl.shown++;
    return true;
}

static void coap_log_cb(coap_log_t level, const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    lq_log_level_t l = level <= LOG_ERR       ? LQ_LOG_WARN
                       : level == LOG_WARNING ? LQ_LOG_INFO
                       : level <= LOG_INFO    ? LQ_LOG_DEBUG
                                              : LQ_LOG_TRACE;
    if (l <= lq_log_level() && (level > LOG_WARNING || warn_allowed()))
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

void lq_mgmt_coap_init(lq_mgmt_coap_t *c)
{
    memset(c, 0, offsetof(lq_mgmt_coap_t, block_));
}

/* --- requests ----------------------------------------------------------------------------- */

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
    struct lq_mgmt_coap_route_ *rt = coap_resource_get_userdata(r);
    lq_mgmt_coap_t *c = rt->c;
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
    /* A block after the first may render the snapshot its first block saw (the owner
     * reuses it while recent), so a multi-block document stays one consistent document
     * while the agent changes. */
    bool later_block = req.has_block2 && (req.block2 >> 4) > 0;
    c->src_.view(c->src_.ctx, &v, !later_block);
    if (lq_mgmt_render_response(&v, &req, &c->cursor_, c->block_, sizeof c->block_, &resp) !=
        LQ_OK) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
        return;
    }
    c->src_.stats->requests++;
    if (resp.code >= 400)
        c->src_.stats->bad_requests++;
    coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(resp.code));
    if (resp.etag)
        (void)coap_add_option(response, COAP_OPTION_ETAG, resp.etag_len, resp.etag_value);
    add_uint_option(response, COAP_OPTION_CONTENT_FORMAT, resp.content_format);
    if (resp.block2)
        add_uint_option(response, COAP_OPTION_BLOCK2, resp.block2_value);
    if (resp.size2)
        add_uint_option(response, COAP_OPTION_SIZE2, resp.size2_value);
    (void)coap_add_data(response, resp.len, (const uint8_t *)c->block_);
}

/* --- observers ---------------------------------------------------------------------------- */

void lq_mgmt_coap_notify(lq_mgmt_coap_t *c)
{
    if (c == NULL || !c->started)
        return;
    lq_mgmt_view_t v;
    c->src_.view(c->src_.ctx, &v, true);
    uint64_t d = lq_mgmt_render_digest(&v, LQ_MGMT_RES_READY);
    if (d != c->digest_ready_) {
        c->digest_ready_ = d;
        (void)coap_resource_notify_observers(c->res_ready_, NULL);
        c->src_.stats->notifications++;
    }
    d = lq_mgmt_render_digest(&v, LQ_MGMT_RES_STATUS);
    if (d != c->digest_status_) {
        c->digest_status_ = d;
        (void)coap_resource_notify_observers(c->res_status_, NULL);
        c->src_.stats->notifications++;
    }
}

/* --- the loop ----------------------------------------------------------------------------- */

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    (void)events;
    lq_mgmt_coap_t *c = ctx;
    (void)coap_io_process(c->ctx_, COAP_IO_NO_WAIT);
}

static int on_prepare(lq_loop_t *loop, void *ctx, int64_t now_ms)
{
    (void)loop;
    (void)now_ms;
    lq_mgmt_coap_t *c = ctx;
    if (c->ctx_ == NULL)
        return -1;
    coap_tick_t now;
    coap_ticks(&now);
    unsigned ms = coap_io_prepare_epoll(c->ctx_, now);
    return ms == 0 ? -1 : ms > 0x7fffffffu ? 0x7fffffff : (int)ms;
}

/* --- resources ---------------------------------------------------------------------------- */

static const coap_bin_const_t *check_identity(coap_bin_const_t *identity, coap_session_t *session,
                                              void *arg)
{
    (void)session;
    static coap_bin_const_t key;
    lq_mgmt_coap_t *c = arg;
    const char *id = c->cfg_.psk_identity != NULL ? c->cfg_.psk_identity : "";
    size_t want = strlen(id);
    if (want > 0 && (identity == NULL || identity->length != want ||
                     memcmp(identity->s, id, want) != 0)) {
        if (warn_allowed())
            LQ_WARN("mgmt", "DTLS client with an unknown PSK identity refused");
        return NULL;
    }
    key.s = c->cfg_.psk;
    key.length = c->cfg_.psk_len;
    return &key;
}

static coap_resource_t *add_resource(lq_mgmt_coap_t *c, size_t slot, const char *path, int res,
                                     int kind, const char *rt, unsigned cf, bool observable,
                                     const char *title)
{
    coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);
    if (r == NULL)
        return NULL;
    c->routes_[slot].c = c;
    c->routes_[slot].res = res;
    c->routes_[slot].kind = kind;
    coap_resource_set_userdata(r, &c->routes_[slot]);
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
    coap_add_resource(c->ctx_, r);
    return r;
}

static lq_err_t add_resources(lq_mgmt_coap_t *c)
{
    size_t slot = 0;
    if (add_resource(c, slot++, "health", LQ_MGMT_RES_HEALTH, 0, "\"liqolet.health\"",
                     LQ_MGMT_CF_TEXT, false, "\"liveness\"") == NULL)
        return LQ_ENOMEM;
    c->res_ready_ = add_resource(c, slot++, "ready", LQ_MGMT_RES_READY, 0, "\"liqolet.ready\"",
                                 LQ_MGMT_CF_TEXT, true, "\"readiness\"");
    c->res_status_ = add_resource(c, slot++, "status", LQ_MGMT_RES_STATUS, 0,
                                  "\"liqolet.status\"", LQ_MGMT_CF_JSON, true, "\"agent status\"");
    if (c->res_ready_ == NULL || c->res_status_ == NULL)
        return LQ_ENOMEM;
    if (add_resource(c, slot++, "metrics", LQ_MGMT_RES_METRICS, 0, "\"liqolet.metrics\"",
                     LQ_MGMT_CF_TEXT, false, "\"Prometheus metrics\"") == NULL)
        return LQ_ENOMEM;
    for (int k = 0; k <= (int)LQ_MGMT_KIND_NAMESPACES; k++) {
        char path[40];
        (void)snprintf(path, sizeof path, "objects/%s", lq_mgmt_render_kind_path(k));
        if (add_resource(c, slot++, path, LQ_MGMT_RES_OBJECTS, k, "\"liqolet.objects\"",
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

static lq_err_t bind_all(lq_mgmt_coap_t *c)
{
    bool dtls = c->cfg_.psk != NULL;
    size_t bound = 0;
    for (size_t i = 0; i < c->cfg_.n_listen; i++) {
        const lq_config_addr_t *a = &c->cfg_.listen[i];
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
        coap_endpoint_t *ep = coap_new_endpoint(c->ctx_, &addr, dtls ? COAP_PROTO_DTLS
                                                                    : COAP_PROTO_UDP);
        int why = errno;
        if (ep == NULL && v6 && lq_mgmt_render_is_loopback(a->host) &&
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
        c->ports[i] = endpoint_port(ep);
        LQ_INFO("mgmt", "CoAP listening on %s://%s%s%s:%u", dtls ? "coaps" : "coap",
                v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)c->ports[i]);
    }
    if (bound == 0) {
        LQ_ERROR("mgmt", "no management address could be bound");
        return LQ_EIO;
    }
    return LQ_OK;
}

lq_err_t lq_mgmt_coap_start(lq_mgmt_coap_t *c, lq_loop_t *loop, const lq_mgmt_coap_cfg_t *cfg,
                            const lq_mgmt_source_t *src)
{
    if (c == NULL || loop == NULL || cfg == NULL || src == NULL || src->view == NULL ||
        src->stats == NULL || cfg->n_listen == 0 || cfg->n_listen > LQ_CONFIG_MAX_LISTEN ||
        (cfg->psk != NULL && cfg->psk_len == 0) || c->started)
        return LQ_EINVAL;
    coap_once();
    if (cfg->psk != NULL && !coap_dtls_is_supported()) {
        LQ_ERROR("mgmt", "this libcoap has no DTLS support; cannot serve coaps");
        return LQ_ENOTSUP;
    }
    c->cfg_ = *cfg;
    c->src_ = *src;
    c->loop_ = loop;
    memset(c->ports, 0, sizeof c->ports);
    c->digest_ready_ = c->digest_status_ = 0;
    memset(&c->cursor_, 0, sizeof c->cursor_);
    c->ctx_ = coap_new_context(NULL);
    if (c->ctx_ == NULL)
        return LQ_ENOMEM;
    coap_context_set_max_idle_sessions(c->ctx_, LQ_MGMT_MAX_SESSIONS);
    coap_context_set_max_handshake_sessions(c->ctx_, LQ_MGMT_MAX_HANDSHAKES);
    coap_context_set_session_timeout(c->ctx_, 60);
    lq_err_t e = LQ_OK;
    if (cfg->psk != NULL) {
        coap_dtls_spsk_t spsk;
        memset(&spsk, 0, sizeof spsk);
        spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
        spsk.validate_id_call_back = check_identity;
        spsk.id_call_back_arg = c;
        spsk.psk_info.key.s = cfg->psk;
        spsk.psk_info.key.length = cfg->psk_len;
        if (!coap_context_set_psk2(c->ctx_, &spsk))
            e = LQ_ENOMEM;
    }
    if (e == LQ_OK)
        e = add_resources(c);
    if (e == LQ_OK)
        e = bind_all(c);
    int fd = e == LQ_OK ? coap_context_get_coap_fd(c->ctx_) : -1;
    int dfd = fd >= 0 ? dup(fd) : -1;
    if (e == LQ_OK && dfd < 0) {
        LQ_ERROR("mgmt", "libcoap offers no descriptor to wait on (built without epoll?)");
        e = LQ_ENOTSUP;
    }
    if (e == LQ_OK && (e = lq_loop_io_add(loop, &c->io_, dfd, LQ_PORT_IN, on_io, c)) != LQ_OK)
        close(dfd);
    if (e == LQ_OK && c->hooked_ != loop) { /* a restart on the same loop keeps its hook */
        e = lq_loop_hook_add(loop, on_prepare, c);
        if (e == LQ_OK)
            c->hooked_ = loop;
    }
    if (e != LQ_OK) {
        if (c->io_.state == LQ_LOOP_IO_ACTIVE)
            lq_loop_io_close(loop, &c->io_, NULL);
        coap_free_context(c->ctx_);
        c->ctx_ = NULL;
        return e;
    }
    c->started = true;
    return LQ_OK;
}

void lq_mgmt_coap_close(lq_mgmt_coap_t *c)
{
    if (c == NULL || !c->started)
        return;
    lq_loop_io_close(c->loop_, &c->io_, NULL);
    /* The prepare hook stays registered (the loop has no removal) and sees ctx_ NULL. */
    coap_free_context(c->ctx_);
    c->ctx_ = NULL;
    c->started = false;
}
