/* liqolet: the kubelet API server (see include/liqolet/kubelet.h).
 *
 * A session, one accepted connection from the home kube-apiserver:
 *
 *   HANDSHAKE   TLS server handshake; the client certificate must chain to the client CA
 *   HEAD        the request head (one buffer; 431 when it does not fit)
 *   AUTHZ       a SubjectAccessReview at home for the node subresource of the path
 *   CONNECT     TCP to the foreign API server, then its TLS handshake (FHANDSHAKE)
 *   FHEAD       the request is out; the foreign answer's head is read and a filtered
 *               copy written home
 *   RELAY       bytes both ways (a WebSocket) or foreign -> home (logs) until a side ends
 *   ANSWER      a local answer (error, /healthz) goes out, then the session closes
 *
 * Everything runs from the loop; each link (home, foreign) is a descriptor, a TLS session
 * and one buffer of what was read from it and not yet written to the other side. A link
 * stops reading while its buffer holds bytes (back-pressure): memory stays constant
 * however long a follow or an exec lasts. */
#include <stdio.h>
#include <string.h>

#include "liqolet/json.h"
#include "liqolet/kapi.h"
#include "liqolet/kubelet.h"
#include "liqolet/log.h"
#include "liqolet/tls.h"

#define MOD "kubelet"
#define BACKLOG 16
#define CA_RETRY_MS 10000

enum {
    S_FREE = 0,
    S_HANDSHAKE,
    S_HEAD,
    S_AUTHZ,
    S_CONNECT,
    S_FHANDSHAKE,
    S_FHEAD,
    S_RELAY,
    S_ANSWER,
    S_DRAIN,
};

/* One JSON arena for the SAR and CA answers (decoded in their callbacks, one at a time). */
static _Alignas(16) unsigned char json_arena[32u * 1024u];
static lq_json_doc_t json_doc;

static void step(lq_kubelet_sess_t *s);
static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx);

/* --- links -------------------------------------------------------------------------- */

static void link_reset(lq_kubelet_link_t *l)
{
    l->fd = -1;
    l->tls = -1;
    l->want_r = l->want_w = 0;
    l->eof = false;
    l->len = l->off = 0;
}

static void link_close(lq_kubelet_t *k, lq_kubelet_link_t *l)
{
    if (l->tls >= 0)
        lq_tls_close(l->tls);
    if (l->io.state == LQ_LOOP_IO_ACTIVE)
        lq_loop_io_close(k->loop_, &l->io, NULL);
    else if (l->fd >= 0)
        lq_port_close(l->fd);
    link_reset(l);
}

static int link_pending(lq_loop_io_t *io, void *ctx)
{
    lq_kubelet_sess_t *s = ctx;
    lq_kubelet_link_t *l = io == &s->home.io ? &s->home : &s->foreign;
    /* decrypted bytes poll() cannot see, when this link is being read */
    return l->tls >= 0 && l->len == 0 && !l->eof && lq_tls_pending(l->tls);
}

static lq_err_t link_watch(lq_kubelet_sess_t *s, lq_kubelet_link_t *l, unsigned want)
{
    lq_err_t e = lq_loop_io_add(s->k->loop_, &l->io, l->fd, want, on_io, s);
    if (e == LQ_OK)
        l->io.pending = link_pending;
    return e;
}

/* Reads into l->buf (only when it is empty). > 0 bytes, 0 nothing now, < 0 ended. */
static long link_read(lq_kubelet_link_t *l)
{
    if (l->eof || l->len > l->off)
        return 0;
    l->len = l->off = 0;
    long n = l->tls >= 0 ? lq_tls_recv(l->tls, l->buf, sizeof l->buf)
                         : lq_port_recv(l->fd, l->buf, sizeof l->buf);
    if (n == LQ_IO_WAIT) {
        l->want_r = l->tls >= 0 ? lq_tls_wants(l->tls) : LQ_PORT_IN;
        return 0;
    }
    l->want_r = 0;
    if (n < 0) {
        l->eof = true;
        return -1;
    }
    l->len = (size_t)n;
    return n;
}

/* Writes p[0..n) to l: bytes taken (>= 0; 0 = wait), or < 0 when l is broken. A TLS send
 * that had to wait is retried with the same bytes first (lq_tls_send's rule): callers
 * keep them at the start of what they pass. */
static long link_write(lq_kubelet_link_t *l, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    long w = l->tls >= 0 ? lq_tls_send(l->tls, p, n) : lq_port_send(l->fd, p, n);
    if (w == LQ_IO_WAIT) {
        l->want_w = l->tls >= 0 ? lq_tls_wants(l->tls) : LQ_PORT_OUT;
        return 0;
    }
    l->want_w = 0;
    return w < 0 ? -1 : w;
}

/* --- sessions ----------------------------------------------------------------------- */

static void sess_end(lq_kubelet_sess_t *s)
{
    lq_kubelet_t *k = s->k;
    if (s->state == S_FREE)
        return;
    if (s->state == S_AUTHZ)
        (void)lq_kreq_cancel(&s->sar);
    lq_loop_timer_stop(k->loop_, &s->timer);
    link_close(k, &s->home);
    link_close(k, &s->foreign);
    if (!s->refusing && k->stats.open > 0)
        k->stats.open--;
    s->state = S_FREE;
}

/* Queues a local answer (status, reason, a one-line text body) and ends the session
 * once it is out. */
static void answer(lq_kubelet_sess_t *s, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer(lq_kubelet_sess_t *s, int status, const char *reason, const char *fmt, ...)
{
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)(sizeof body - 2);
    body[n++] = '\n';
    int h = snprintf(s->out, sizeof s->out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%.*s",
                     status, reason, n, n, body);
    s->out_len = h > 0 && (size_t)h < sizeof s->out ? (size_t)h : 0;
    s->out_off = 0;
    s->out_to = &s->home;
    s->close_after_out = true;
    if (status >= 400 && !s->refusing)
        LQ_INFO(MOD, "%s %s: %d %.*s", s->peer, s->user[0] ? s->user : "-", status, n - 1, body);
    lq_loop_timer_start(s->k->loop_, &s->timer, 5000); /* the answer gets 5 s to go out */
    s->state = S_ANSWER;
}

static void on_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_kubelet_sess_t *s = ctx;
    LQ_DEBUG(MOD, "%s: session timed out in state %u", s->peer, (unsigned)s->state);
    if (s->state == S_FHEAD || s->state == S_CONNECT || s->state == S_FHANDSHAKE) {
        s->k->stats.errors++;
        link_close(s->k, &s->foreign);
        answer(s, 502, "Bad Gateway", "the foreign API server did not answer within %d s",
               LQ_KUBELET_SETUP_MS / 1000);
        step(s);
        return;
    }
    sess_end(s);
}

/* JSON string body (quotes included) of s into dst; false when it does not fit. */
static bool json_quote(char *dst, size_t cap, size_t *off, const char *src)
{
    size_t o = *off;
    if (o + 1 >= cap)
        return false;
    dst[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        char esc[8];
        size_t n;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            n = 2;
        } else if (*p < 0x20) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            n = 1;
        }
        if (o + n + 1 >= cap)
            return false;
        memcpy(dst + o, esc, n);
        o += n;
    }
    dst[o++] = '"';
    *off = o;
    return true;
}

static bool append(char *dst, size_t cap, size_t *off, const char *txt)
{
    size_t n = strlen(txt);
    if (*off + n >= cap)
        return false;
    memcpy(dst + *off, txt, n);
    *off += n;
    dst[*off] = '\0';
    return true;
}

static void sar_done(lq_kreq_t *r, lq_err_t err, void *ctx);

/* The SubjectAccessReview a kubelet in webhook mode sends for this request, for its
 * subresource number s->sub_i (allowed when any of them is). */
static void authorize(lq_kubelet_sess_t *s)
{
    size_t o = 0;
    char *b = s->sar_body;
    size_t cap = sizeof s->sar_body;
    bool ok = append(b, cap, &o, "{\"apiVersion\":\"authorization.k8s.io/v1\","
                                 "\"kind\":\"SubjectAccessReview\",\"spec\":{\"user\":") &&
              json_quote(b, cap, &o, s->user) && append(b, cap, &o, ",\"groups\":[");
    const char *g = s->groups;
    for (size_t i = 0; ok && i < s->n_groups; i++) {
        ok = (i == 0 || append(b, cap, &o, ",")) && json_quote(b, cap, &o, g);
        g += strlen(g) + 1;
    }
    ok = ok && append(b, cap, &o, "],\"resourceAttributes\":{\"verb\":") &&
         json_quote(b, cap, &o, s->req.verb) &&
         append(b, cap, &o, ",\"version\":\"v1\",\"resource\":\"nodes\",\"subresource\":") &&
         json_quote(b, cap, &o, s->req.sub[s->sub_i]) && append(b, cap, &o, ",\"name\":") &&
         json_quote(b, cap, &o, s->k->cfg.node_name) && append(b, cap, &o, "}}}");
    if (!ok) {
        answer(s, 431, "Request Header Fields Too Large",
               "the client certificate names too many groups to authorize");
        return;
    }
    lq_kreq_init(&s->sar, s->sar_resp, sizeof s->sar_resp, sar_done, s);
    lq_err_t e = lq_kreq_create(&s->sar, "/apis/authorization.k8s.io/v1/subjectaccessreviews", b, o);
    if (e == LQ_OK) {
        s->sar.max_attempts = 2;
        e = lq_kreq_submit(s->k->cfg.home_req, &s->sar);
    }
    if (e != LQ_OK) {
        s->k->stats.errors++;
        answer(s, 500, "Internal Server Error", "cannot ask the home API server for "
               "authorization (%s)", lq_err_str(e));
        return;
    }
    s->state = S_AUTHZ;
}

static void dispatch(lq_kubelet_sess_t *s);

static void sar_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_kubelet_sess_t *s = ctx;
    if (s->state != S_AUTHZ)
        return;
    lq_kubelet_t *k = s->k;
    bool allowed = false;
    char why[160] = "";
    if (err == LQ_OK) {
        lq_json_t *root = NULL;
        lq_json_reset(&json_doc);
        if (lq_json_parse(&json_doc, r->resp, r->resp_len, &root) == LQ_OK) {
            (void)lq_json_bool(LQ_JSON_AT(root, "status", "allowed"), &allowed);
            (void)lq_json_str_copy(LQ_JSON_AT(root, "status", "reason"), why, sizeof why);
        } else {
            err = LQ_EPROTO;
        }
    }
    if (err != LQ_OK) {
        k->stats.errors++;
        answer(s, 500, "Internal Server Error", "authorization failed: the home API server "
               "did not answer the SubjectAccessReview (%s%s%s)", lq_err_str(err),
               r->message[0] ? ": " : "", r->message);
    } else if (!allowed && s->sub_i + 1 < s->req.n_sub) {
        s->sub_i++;
        authorize(s); /* kubelet tries each subresource of the path in turn */
    } else if (!allowed) {
        k->stats.forbidden++;
        answer(s, 403, "Forbidden", "Forbidden (user=%s, verb=%s, resource=nodes, "
               "subresource=%s)%s%s", s->user, s->req.verb, s->req.sub[s->sub_i],
               why[0] ? ": " : "", why);
    } else {
        dispatch(s);
    }
    step(s);
}

/* Starts the foreign side: TCP connect (the TLS handshake follows in step). */
static void connect_foreign(lq_kubelet_sess_t *s)
{
    const lq_conn_target_t *t = &s->k->cfg.foreign->target;
    lq_port_fd_t fd = -1;
    lq_err_t e = lq_port_tcp_connect(t->host, t->port, &fd);
    if (e != LQ_OK && e != LQ_AGAIN) {
        s->k->stats.errors++;
        answer(s, 502, "Bad Gateway", "cannot connect to the foreign API server %s:%u: %s",
               t->host, (unsigned)t->port, lq_err_str(e));
        return;
    }
    s->foreign.fd = fd;
    if (link_watch(s, &s->foreign, LQ_PORT_OUT) != LQ_OK) {
        lq_port_close(fd);
        s->foreign.fd = -1;
        s->k->stats.errors++;
        answer(s, 503, "Service Unavailable", "no descriptor slot for the foreign connection");
        return;
    }
    s->state = S_CONNECT;
}

/* The request head for the foreign API server, into out. */
static bool foreign_head(lq_kubelet_sess_t *s, const char *rns, const char *rpod)
{
    char path[LQ_KREQ_PATH_MAX], target[LQ_KREQ_PATH_MAX + 128];
    size_t plen = 0;
    if (lq_kl_foreign_target(&s->req, rns, rpod, path, sizeof path, &plen) != LQ_OK)
        return false;
    lq_http_req_t q;
    lq_cluster_t *f = s->k->cfg.foreign;
    if (lq_kreq_head(&q, target, sizeof target, &f->kcfg, "GET", path) != LQ_OK)
        return false;
    q.host = f->target.host;
    q.port = f->target.port;
    q.accept = "*/*";
    char key[64], proto[256];
    lq_http_field_t extra[5];
    size_t n = 0;
    if (s->upgrade) {
        const lq_kl_req_t *r = &s->req;
        if (r->ws_key.len >= sizeof key)
            return false;
        memcpy(key, r->ws_key.ptr, r->ws_key.len);
        key[r->ws_key.len] = '\0';
        size_t o = 0;
        proto[0] = '\0';
        for (size_t i = 0; i < r->n_ws_protocols; i++) {
            const lq_http_view_t *v = &r->ws_protocols[i];
            if (o + v->len + 3 >= sizeof proto)
                return false;
            if (i) {
                memcpy(proto + o, ", ", 2);
                o += 2;
            }
            memcpy(proto + o, v->ptr, v->len);
            o += v->len;
            proto[o] = '\0';
        }
        extra[n++] = (lq_http_field_t){ "Connection", "Upgrade" };
        extra[n++] = (lq_http_field_t){ "Upgrade", "websocket" };
        extra[n++] = (lq_http_field_t){ "Sec-WebSocket-Version", "13" };
        extra[n++] = (lq_http_field_t){ "Sec-WebSocket-Key", key };
        if (proto[0])
            extra[n++] = (lq_http_field_t){ "Sec-WebSocket-Protocol", proto };
    } else {
        q.close = true; /* the answer ends with the connection: the relay's end */
    }
    q.extra = extra;
    q.n_extra = n;
    return lq_http_write_request(s->out, sizeof s->out, &q, &s->out_len) == LQ_OK;
}

/* Authorized: what the route asks for. */
static void dispatch(lq_kubelet_sess_t *s)
{
    lq_kl_req_t *r = &s->req;
    switch (r->route) {
    case LQ_KL_HEALTHZ:
        s->k->stats.served++;
        answer(s, 200, "OK", "ok");
        return;
    case LQ_KL_LOGS:
    case LQ_KL_EXEC:
    case LQ_KL_ATTACH:
        break;
    case LQ_KL_BAD_NAME:
        s->k->stats.errors++;
        answer(s, 404, "Not Found", "%s", r->why ? r->why : "no such pod");
        return;
    case LQ_KL_PORTFORWARD:
        s->k->stats.errors++;
        answer(s, 501, "Not Implemented", "port-forward is not supported by this virtual node "
               "(liqolet serves logs, exec and attach)");
        return;
    default:
        s->k->stats.errors++;
        answer(s, 404, "Not Found", "not served by this virtual node (liqolet serves "
               "/containerLogs, /exec, /attach)");
        return;
    }
    if (r->route != LQ_KL_LOGS) {
        if (r->upgrade != LQ_KL_UPGRADE_WEBSOCKET) {
            s->k->stats.errors++;
            answer(s, 400, "Bad Request", "this virtual node serves exec and attach over "
                   "WebSocket (v5.channel.k8s.io) only; with an older kubectl, or with "
                   "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false, the API server sends SPDY, which "
                   "it does not speak");
            return;
        }
        s->upgrade = true;
    }
    const char *rns = NULL;
    char rpod[LQ_KL_POD_MAX + 1];
    if (!s->k->cfg.resolve(r->ns, r->pod, &rns, rpod, sizeof rpod, s->k->cfg.resolve_ctx)) {
        s->k->stats.errors++;
        answer(s, 404, "Not Found", "pod %s/%s is not offloaded by this virtual node (yet)",
               r->ns, r->pod);
        return;
    }
    if (!foreign_head(s, rns, rpod)) {
        s->k->stats.errors++;
        answer(s, 414, "URI Too Long", "the request does not fit this agent's buffers");
        return;
    }
    s->out_off = 0;
    s->out_to = &s->foreign;
    s->close_after_out = false;
    LQ_DEBUG(MOD, "%s %s: %s %s/%s/%s -> %s/%s", s->peer, s->user, s->req.verb, r->ns, r->pod,
             r->container, rns, rpod);
    connect_foreign(s);
}

/* The foreign answer's head is in foreign.buf[0..head_len): a filtered copy goes home. */
static bool relay_head(lq_kubelet_sess_t *s, const lq_http_resp_t *resp)
{
    static const char *const keep[] = { "Content-Type", "Content-Length", "Transfer-Encoding",
                                        "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
                                        "Upgrade", "Cache-Control" };
    bool switching = resp->status == 101;
    size_t o = 0;
    int n = snprintf(s->out, sizeof s->out, "HTTP/1.1 %d %.*s\r\n", resp->status,
                     (int)resp->reason.len, resp->reason.ptr ? resp->reason.ptr : "");
    if (n < 0 || (size_t)n >= sizeof s->out)
        return false;
    o = (size_t)n;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        if (!switching && (i >= 3 && i <= 5))
            continue;
        lq_http_view_t v = lq_http_header(resp, keep[i]);
        if (!v.ptr)
            continue;
        n = snprintf(s->out + o, sizeof s->out - o, "%s: %.*s\r\n", keep[i], (int)v.len, v.ptr);
        if (n < 0 || (size_t)n >= sizeof s->out - o)
            return false;
        o += (size_t)n;
    }
    n = snprintf(s->out + o, sizeof s->out - o, "%s\r\n",
                 switching ? "Connection: Upgrade\r\n" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof s->out - o)
        return false;
    s->out_len = o + (size_t)n;
    s->out_off = 0;
    s->out_to = &s->home;
    s->close_after_out = false;
    if (!switching)
        s->upgrade = false; /* an answer: relay foreign -> home until the foreign side ends */
    return true;
}

/* A foreign error answer that is a small JSON Status (what an API server sends for any
 * failure: no previous logs, a container still starting, ...) goes home as its message in
 * plain text with the same status, as a kubelet answers: kube-apiserver shows a kubelet's
 * error body as the message (400, 500; "unable to upgrade connection: ..." for exec), so
 * a relayed Status would reach the user as raw JSON. 1: answered; 0: not such an answer
 * (relay it); -1: its body is still arriving. */
static int status_answer(lq_kubelet_sess_t *s, const lq_http_resp_t *resp)
{
    lq_kubelet_link_t *f = &s->foreign;
    static const char json[] = "application/json";
    if (resp->status < 300 || resp->chunked || !resp->has_content_length ||
        resp->content_length == 0 || resp->content_length > sizeof f->buf - resp->head_len ||
        resp->content_type.len < sizeof json - 1 ||
        strncmp(resp->content_type.ptr, json, sizeof json - 1) != 0)
        return 0;
    if (f->len - resp->head_len < resp->content_length)
        return -1;
    char kind[16], msg[480], reason[64];
    lq_json_t *root = NULL;
    lq_json_reset(&json_doc);
    if (lq_json_parse(&json_doc, f->buf + resp->head_len, (size_t)resp->content_length,
                      &root) != LQ_OK ||
        lq_json_str_copy(LQ_JSON_AT(root, "kind"), kind, sizeof kind) != LQ_OK ||
        strcmp(kind, "Status") != 0 ||
        lq_json_str_copy(LQ_JSON_AT(root, "message"), msg, sizeof msg) != LQ_OK || !msg[0])
        return 0;
    (void)snprintf(reason, sizeof reason, "%.*s", (int)resp->reason.len,
                   resp->reason.ptr ? resp->reason.ptr : "");
    for (char *c = reason; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    s->k->stats.served++;
    link_close(s->k, f);
    answer(s, resp->status, reason[0] ? reason : "Error", "%s", msg);
    return 1;
}

/* S_FHEAD: reads the foreign answer until its head (and, for a Status, its body) is in,
 * or the link has to wait; then passes the head on and starts the relay. */
static void read_foreign_answer(lq_kubelet_sess_t *s)
{
    lq_kubelet_t *k = s->k;
    lq_kubelet_link_t *f = &s->foreign;
    while (s->state == S_FHEAD) {
        if (f->len == sizeof f->buf) {
            k->stats.errors++;
            link_close(k, f);
            answer(s, 502, "Bad Gateway", "the foreign API server sent a response head larger "
                   "than this agent reads");
            return;
        }
        long n = f->tls >= 0 ? lq_tls_recv(f->tls, f->buf + f->len, sizeof f->buf - f->len)
                             : lq_port_recv(f->fd, f->buf + f->len, sizeof f->buf - f->len);
        if (n == LQ_IO_WAIT) {
            f->want_r = f->tls >= 0 ? lq_tls_wants(f->tls) : LQ_PORT_IN;
            return;
        }
        f->want_r = 0;
        if (n < 0) {
            k->stats.errors++;
            link_close(k, f);
            answer(s, 502, "Bad Gateway", "the foreign API server closed the connection "
                   "without a complete answer");
            return;
        }
        f->len += (size_t)n;
        lq_http_resp_t resp;
        lq_http_resp_init(&resp);
        lq_err_t e = lq_http_resp_parse(&resp, f->buf, f->len);
        if (e == LQ_AGAIN)
            continue; /* read on: the head may come in pieces */
        int st = e == LQ_OK && resp.status != 101 ? status_answer(s, &resp) : 0;
        if (st > 0)
            return;
        if (st < 0)
            continue;
        if (e != LQ_OK || (resp.status == 101 && !s->upgrade) || !relay_head(s, &resp)) {
            k->stats.errors++;
            link_close(k, f);
            answer(s, 502, "Bad Gateway", "the foreign API server sent an answer this agent "
                   "cannot pass on");
            return;
        }
        if (resp.status != 101 && s->upgrade)
            s->upgrade = false; /* refused upgrade: its error answer is relayed */
        f->off = resp.head_len;
        if (f->off == f->len)
            f->len = f->off = 0;
        k->stats.served++;
        lq_loop_timer_stop(k->loop_, &s->timer);
        s->state = S_RELAY;
    }
}

/* --- the state machine -------------------------------------------------------------- */

static void identify(lq_kubelet_sess_t *s)
{
    size_t dropped = 0;
    lq_err_t e = lq_tls_peer_identity(s->home.tls, s->user, sizeof s->user, s->groups,
                                      sizeof s->groups, &s->n_groups, &dropped);
    if (e != LQ_OK) {
        s->k->stats.unauthenticated++;
        answer(s, 401, "Unauthorized", "the client certificate names no user (CN)");
        return;
    }
    if (dropped)
        LQ_WARN(MOD, "%s %s: %zu group(s) of the client certificate ignored (too long)",
                s->peer, s->user, dropped);
    s->state = S_HEAD;
}

/* The request head, as it arrives in home.buf. */
static void read_head(lq_kubelet_sess_t *s)
{
    lq_kubelet_link_t *h = &s->home;
    while (s->state == S_HEAD) {
        if (h->len == sizeof h->buf) {
            s->k->stats.errors++;
            answer(s, 431, "Request Header Fields Too Large", "request head over %u bytes",
                   (unsigned)sizeof h->buf);
            return;
        }
        long n = h->tls >= 0 ? lq_tls_recv(h->tls, h->buf + h->len, sizeof h->buf - h->len)
                             : lq_port_recv(h->fd, h->buf + h->len, sizeof h->buf - h->len);
        if (n == LQ_IO_WAIT) {
            h->want_r = h->tls >= 0 ? lq_tls_wants(h->tls) : LQ_PORT_IN;
            return;
        }
        if (n < 0) {
            sess_end(s);
            return;
        }
        h->len += (size_t)n;
        lq_err_t e = lq_kl_parse(&s->req, h->buf, h->len);
        if (e == LQ_AGAIN)
            continue;
        if (e == LQ_ENOTSUP) {
            s->k->stats.errors++;
            answer(s, 405, "Method Not Allowed", "method not allowed");
            return;
        }
        if (e != LQ_OK) {
            s->k->stats.errors++;
            answer(s, 400, "Bad Request", "%s", s->req.why ? s->req.why : "malformed request");
            return;
        }
        h->off = s->req.head_len; /* bytes after the head (a client's first frames) stay */
        if (s->refusing) {
            /* 500, not 429: kube-apiserver passes the text of a 500 on to kubectl
             * ("Internal error occurred: <text>"), while for 429 or 503 its user only
             * sees a generic sentence (apiserver's response checker) */
            s->k->stats.refused++;
            answer(s, 500, "Internal Server Error", "this virtual node serves at most %u "
                   "kubelet API sessions at once (liqolet's kubelet API); retry when one ends",
                   (unsigned)LQ_KUBELET_SESSIONS);
            return;
        }
        s->sub_i = 0;
        authorize(s);
    }
}

/* Moves bytes from one link's buffer to the other link. true on progress. */
static bool pass(lq_kubelet_sess_t *s, lq_kubelet_link_t *from, lq_kubelet_link_t *to,
                 bool *broken)
{
    if (from->len <= from->off)
        return false;
    long w = link_write(to, from->buf + from->off, from->len - from->off);
    if (w < 0) {
        *broken = true;
        return false;
    }
    from->off += (size_t)w;
    if (from->off == from->len)
        from->len = from->off = 0;
    (void)s;
    return w > 0;
}

static void relay(lq_kubelet_sess_t *s)
{
    lq_kubelet_link_t *h = &s->home, *f = &s->foreign;
    for (int rounds = 0; rounds < 16; rounds++) {
        bool broken = false, progress = false;
        progress |= pass(s, f, h, &broken);
        if (broken) { /* home went away */
            sess_end(s);
            return;
        }
        if (s->upgrade)
            progress |= pass(s, h, f, &broken);
        if (broken) {
            sess_end(s);
            return;
        }
        long a = link_read(f);
        long b = link_read(h);
        progress |= a > 0 || b > 0;
        if (!s->upgrade && h->len > h->off)
            h->len = h->off = 0; /* nothing more is expected from home on a response */
        /* ends: the foreign side done and everything it sent passed on; or home gone */
        if (f->eof && f->len == f->off) {
            sess_end(s);
            return;
        }
        if (h->eof && (!s->upgrade || h->len == h->off)) {
            sess_end(s);
            return;
        }
        if (!progress)
            return;
    }
    /* still going: yield to the other descriptors; set_wants asks for the readiness that
     * brings the loop back at once (a writable destination for the bytes left) */
}

/* Flushes out[] to its link. true when nothing is left. */
static bool flush_out(lq_kubelet_sess_t *s)
{
    while (s->out_off < s->out_len) {
        long w = link_write(s->out_to, s->out + s->out_off, s->out_len - s->out_off);
        if (w < 0) {
            sess_end(s);
            return false;
        }
        if (w == 0)
            return false;
        s->out_off += (size_t)w;
    }
    return true;
}

static void set_wants(lq_kubelet_sess_t *s)
{
    lq_kubelet_link_t *links[2] = { &s->home, &s->foreign };
    for (int i = 0; i < 2; i++) {
        lq_kubelet_link_t *l = links[i];
        if (l->io.state != LQ_LOOP_IO_ACTIVE)
            continue;
        unsigned w = 0;
        switch (s->state) {
        case S_HANDSHAKE:
        case S_FHANDSHAKE:
            if (l->tls >= 0 && ((s->state == S_HANDSHAKE) == (l == &s->home)))
                w = lq_tls_wants(l->tls);
            break;
        case S_CONNECT:
            w = l == &s->foreign ? LQ_PORT_OUT : 0;
            break;
        case S_RELAY: {
            /* From what is buffered, not only from what last had to wait: relay() stops
             * after a bounded number of rounds with bytes still in a buffer, or after a read
             * that did not wait, and nothing else would bring it back (a follow whose
             * foreign side keeps sending stalled with up to a buffer full). */
            lq_kubelet_link_t *o = l == &s->home ? &s->foreign : &s->home;
            if (!l->eof && l->len == l->off)
                w |= l->want_r ? l->want_r : LQ_PORT_IN;   /* room: read more */
            if (o->len > o->off || (s->out_off < s->out_len && s->out_to == l))
                w |= l->want_w ? l->want_w : LQ_PORT_OUT;  /* bytes for l: write them */
            break;
        }
        default:
            w = l->want_r | l->want_w;
            if (s->out_off < s->out_len && s->out_to == l && !w)
                w = LQ_PORT_OUT;
            break;
        }
        lq_loop_io_want(&l->io, w);
    }
}

static void step(lq_kubelet_sess_t *s)
{
    lq_kubelet_t *k = s->k;
    for (;;) {
        uint8_t before = s->state;
        switch (s->state) {
        case S_FREE:
            return;
        case S_HANDSHAKE: {
            lq_err_t e = lq_tls_handshake(s->home.tls);
            if (e == LQ_AGAIN)
                break;
            if (e != LQ_OK) {
                k->stats.unauthenticated++;
                LQ_INFO(MOD, "%s: TLS handshake refused: %s", s->peer, lq_tls_error(s->home.tls));
                /* the alert went out; the rest of the client's flight is still coming:
                 * closing on unread bytes would reset the connection, and the client
                 * would never read why. Read it (and drop it) for a moment first. */
                lq_tls_close(s->home.tls);
                s->home.tls = -1;
                s->state = S_DRAIN;
                lq_loop_timer_start(k->loop_, &s->timer, 1000);
                break;
            }
            if (s->refusing)
                s->state = S_HEAD; /* read the request first: closing with it unread would
                                      reset the connection before the answer is seen */
            else
                identify(s);
            break;
        }
        case S_HEAD:
            read_head(s);
            break;
        case S_AUTHZ:
            break; /* sar_done moves on */
        case S_CONNECT: {
            lq_err_t e = lq_port_tcp_finish(s->foreign.fd);
            if (e == LQ_AGAIN)
                break;
            const lq_conn_target_t *t = &k->cfg.foreign->target;
            if (e == LQ_OK)
                e = lq_tls_open(&s->foreign.tls, t->tls_profile, s->foreign.fd,
                                t->verify_name ? t->verify_name : t->host);
            if (e != LQ_OK) {
                k->stats.errors++;
                link_close(k, &s->foreign);
                answer(s, 502, "Bad Gateway", "cannot reach the foreign API server %s:%u: %s",
                       t->host, (unsigned)t->port, lq_err_str(e));
                break;
            }
            s->state = S_FHANDSHAKE;
            break;
        }
        case S_FHANDSHAKE: {
            lq_err_t e = lq_tls_handshake(s->foreign.tls);
            if (e == LQ_AGAIN)
                break;
            if (e != LQ_OK) {
                k->stats.errors++;
                char why[LQ_TLS_ERR_MAX];
                (void)snprintf(why, sizeof why, "%s", lq_tls_error(s->foreign.tls));
                link_close(k, &s->foreign);
                answer(s, 502, "Bad Gateway", "TLS with the foreign API server failed: %s", why);
                break;
            }
            s->state = S_FHEAD;
            break;
        }
        case S_FHEAD:
            if (s->out_to == &s->foreign && !flush_out(s)) {
                if (s->state == S_FREE)
                    return;
                break;
            }
            read_foreign_answer(s);
            break;
        case S_RELAY:
            if (s->out_off < s->out_len && !flush_out(s)) {
                if (s->state == S_FREE)
                    return;
                break;
            }
            relay(s);
            break;
        case S_DRAIN: {
            char sink[512];
            long n;
            while ((n = lq_port_recv(s->home.fd, sink, sizeof sink)) > 0)
                ;
            if (n != LQ_IO_WAIT) { /* the client closed: done */
                sess_end(s);
                return;
            }
            s->home.want_r = LQ_PORT_IN;
            break;
        }
        case S_ANSWER:
            if (flush_out(s) && s->close_after_out)
                sess_end(s);
            if (s->state == S_FREE)
                return;
            break;
        }
        if (s->state == before || s->state == S_FREE)
            break;
    }
    if (s->state != S_FREE)
        set_wants(s);
}

static void on_io(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)loop;
    (void)io;
    (void)events;
    step(ctx);
}

/* --- listening ---------------------------------------------------------------------- */

static lq_kubelet_sess_t *free_session(lq_kubelet_t *k, bool *refusing)
{
    for (size_t i = 0; i < LQ_KUBELET_SESSIONS; i++)
        if (k->sess_[i].state == S_FREE && k->sess_[i].home.io.state == LQ_LOOP_IO_FREE &&
            k->sess_[i].foreign.io.state == LQ_LOOP_IO_FREE) {
            *refusing = false;
            return &k->sess_[i];
        }
    lq_kubelet_sess_t *r = &k->sess_[LQ_KUBELET_SESSIONS];
    if (r->state == S_FREE && r->home.io.state == LQ_LOOP_IO_FREE) {
        *refusing = true;
        return r;
    }
    return NULL;
}

static void on_accept(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx)
{
    (void)events;
    lq_kubelet_t *k = ctx;
    for (int i = 0; i < 16; i++) {
        lq_port_fd_t fd = -1;
        char peer[LQ_PORT_PEER_MAX];
        lq_err_t e = lq_port_tcp_accept(io->fd, &fd, peer, sizeof peer);
        if (e != LQ_OK)
            return; /* LQ_AGAIN; or out of descriptors: the next readiness retries */
        k->stats.accepted++;
        bool refusing = false;
        lq_kubelet_sess_t *s = free_session(k, &refusing);
        if (s == NULL) {
            k->stats.refused++;
            lq_port_close(fd);
            continue;
        }
        link_reset(&s->home);
        link_reset(&s->foreign);
        s->k = k;
        s->refusing = refusing;
        s->upgrade = false;
        s->user[0] = '\0';
        s->n_groups = 0;
        s->out_len = s->out_off = 0;
        s->out_to = NULL;
        (void)snprintf(s->peer, sizeof s->peer, "%s", peer);
        s->home.fd = fd;
        e = lq_tls_accept(&s->home.tls, k->profile_, fd);
        if (e != LQ_OK || link_watch(s, &s->home, LQ_PORT_IN) != LQ_OK) {
            if (s->home.tls >= 0)
                lq_tls_close(s->home.tls);
            lq_port_close(fd);
            link_reset(&s->home);
            k->stats.refused++;
            continue;
        }
        s->state = S_HANDSHAKE;
        if (!refusing && ++k->stats.open > k->stats.peak)
            k->stats.peak = k->stats.open;
        lq_loop_timer_init(&s->timer, on_timer, s);
        lq_loop_timer_start(loop, &s->timer, LQ_KUBELET_SETUP_MS);
        step(s);
    }
}

static lq_err_t listen_now(lq_kubelet_t *k)
{
    lq_port_fd_t fd = -1;
    lq_err_t e = lq_port_tcp_listen(k->cfg.listen_host, k->cfg.port, BACKLOG, &fd);
    if (e != LQ_OK) {
        LQ_ERROR(MOD, "cannot listen on %s:%u for the kubelet API: %s (set kubelet.port, or "
                 "kubelet.enabled=false)", k->cfg.listen_host, (unsigned)k->cfg.port,
                 lq_err_str(e));
        return e;
    }
    if (lq_port_local_port(fd, &k->port) != LQ_OK)
        k->port = k->cfg.port;
    e = lq_loop_io_add(k->loop_, &k->listen_io_, fd, LQ_PORT_IN, on_accept, k);
    if (e != LQ_OK) {
        lq_port_close(fd);
        return e;
    }
    k->listening = true;
    LQ_INFO(MOD, "kubelet API listening on https://%s:%u (logs, exec, attach; at most %u "
            "sessions)", k->cfg.listen_host, (unsigned)k->port, (unsigned)LQ_KUBELET_SESSIONS);
    return LQ_OK;
}

/* --- the client CA ------------------------------------------------------------------ */

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void ca_done(lq_kreq_t *r, lq_err_t err, void *ctx)
{
    lq_kubelet_t *k = ctx;
    int64_t next = LQ_KUBELET_CA_RELOAD_MS;
    size_t n = 0;
    if (err == LQ_OK) {
        lq_json_t *root = NULL;
        lq_json_reset(&json_doc);
        if (lq_json_parse(&json_doc, r->resp, r->resp_len, &root) != LQ_OK ||
            lq_json_str_copy(LQ_JSON_AT(root, "data", "client-ca-file"), k->ca_pem_,
                             sizeof k->ca_pem_) != LQ_OK)
            err = LQ_EPROTO;
        else
            n = strlen(k->ca_pem_) + 1; /* mbedTLS wants the NUL of PEM text */
    }
    if (err != LQ_OK) {
        LQ_WARN(MOD, "cannot read the home cluster's client CA (ConfigMap "
                "kube-system/extension-apiserver-authentication, key client-ca-file): %s%s%s; "
                "%s", lq_err_str(err), r->message[0] ? ": " : "", r->message,
                k->profile_ < 0 ? "the kubelet API waits for it" : "keeping the one read before");
        if (k->profile_ < 0)
            next = CA_RETRY_MS;
        lq_loop_timer_start(k->loop_, &k->ca_timer_, next);
        return;
    }
    uint64_t h = fnv(k->ca_pem_, n);
    char why[LQ_TLS_ERR_MAX];
    if (k->profile_ < 0 && k->cert_len_ == 0) {
        k->ca_hash_ = h; /* the certificate is still being signed: lq_kubelet_adopted serves */
    } else if (k->profile_ < 0) {
        lq_tls_profile_cfg_t pc = { (const unsigned char *)k->ca_pem_, n,
                                    (const unsigned char *)k->cert_, k->cert_len_,
                                    (const unsigned char *)k->key_, k->key_len_, false, true };
        lq_err_t e = lq_tls_profile_open(&k->profile_, &pc, why, sizeof why);
        if (e != LQ_OK) {
            /* a kept key that does not match its certificate (or is not a key) would fail
             * forever: the next try starts from a new pair */
            bool fresh = !k->cfg.csr && lq_kubelet_load_cert(k, true) == LQ_OK;
            LQ_ERROR(MOD, "cannot set up the kubelet API's TLS: %s; retrying%s", why,
                     fresh ? " with a new serving certificate" : "");
            k->profile_ = -1;
            lq_loop_timer_start(k->loop_, &k->ca_timer_, CA_RETRY_MS);
            return;
        }
        k->ca_hash_ = h;
        if (listen_now(k) != LQ_OK) {
            lq_tls_profile_close(k->profile_);
            k->profile_ = -1;
            lq_loop_timer_start(k->loop_, &k->ca_timer_, CA_RETRY_MS);
            return;
        }
    } else if (h != k->ca_hash_) {
        if (lq_tls_profile_set_ca(k->profile_, (const unsigned char *)k->ca_pem_, n, why,
                                  sizeof why) == LQ_OK) {
            k->ca_hash_ = h;
            LQ_INFO(MOD, "the home cluster's client CA changed; new handshakes use it");
        } else {
            LQ_WARN(MOD, "the home cluster's new client CA is not usable (%s); keeping the "
                    "one read before", why);
        }
    }
    lq_loop_timer_start(k->loop_, &k->ca_timer_, next);
}

/* A new pair is in cert_/key_ (renewed, or signed through the CSR API): served at once
 * the first time, else swapped in once no session uses the old profile (the CA timer
 * tries again while some do). */
void lq_kubelet_adopted(lq_kubelet_t *k)
{
    char why[LQ_TLS_ERR_MAX];
    if (k->ca_pem_[0] == '\0') {
        k->swap_pending_ = false; /* served once the CA is read (ca_done) */
        return;
    }
    for (size_t i = 0; k->profile_ >= 0 && i <= LQ_KUBELET_SESSIONS; i++)
        if (k->sess_[i].state != S_FREE) {
            k->swap_pending_ = true;
            return;
        }
    k->swap_pending_ = false;
    int fresh = -1;
    lq_tls_profile_cfg_t pc = { (const unsigned char *)k->ca_pem_, strlen(k->ca_pem_) + 1,
                                (const unsigned char *)k->cert_, k->cert_len_,
                                (const unsigned char *)k->key_, k->key_len_, false, true };
    if (lq_tls_profile_open(&fresh, &pc, why, sizeof why) != LQ_OK) {
        LQ_ERROR(MOD, "the new serving certificate is not usable: %s", why);
        return;
    }
    if (k->profile_ >= 0) {
        lq_tls_profile_close(k->profile_);
        k->profile_ = fresh;
        LQ_INFO(MOD, "serving certificate renewed");
        return;
    }
    k->profile_ = fresh;
    if (listen_now(k) != LQ_OK) {
        lq_tls_profile_close(k->profile_);
        k->profile_ = -1;
    }
}

/* The serving certificate expires within 30 days (an agent that runs for a year): a new
 * one (self-signed, or a new signing request), then lq_kubelet_adopted. */
static void renew_cert(lq_kubelet_t *k)
{
    if (k->swap_pending_) {
        lq_kubelet_adopted(k);
        return;
    }
    if (k->profile_ < 0 || !lq_kubelet_cert_due(k))
        return;
    if (k->cfg.csr) {
        lq_kubelet_csr_start(k); /* no-op while one is in flight */
        return;
    }
    for (size_t i = 0; i <= LQ_KUBELET_SESSIONS; i++)
        if (k->sess_[i].state != S_FREE)
            return; /* the next tick tries again */
    if (lq_kubelet_load_cert(k, true) == LQ_OK)
        lq_kubelet_adopted(k);
}

static void on_ca_timer(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)loop;
    (void)t;
    lq_kubelet_t *k = ctx;
    renew_cert(k);
    if (k->ca_req_.state != LQ_KREQ_IDLE)
        return;
    lq_kreq_init(&k->ca_req_, k->ca_resp_, sizeof k->ca_resp_, ca_done, k);
    if (lq_kreq_get(&k->ca_req_, "/api/v1/namespaces/kube-system/configmaps/"
                                 "extension-apiserver-authentication") == LQ_OK &&
        lq_kreq_submit(k->cfg.home_req, &k->ca_req_) == LQ_OK)
        return;
    lq_loop_timer_start(k->loop_, &k->ca_timer_, CA_RETRY_MS);
}

/* --- start, stop -------------------------------------------------------------------- */



lq_err_t lq_kubelet_start(lq_kubelet_t *k, lq_loop_t *loop, const lq_kubelet_cfg_t *cfg)
{
    if (k == NULL || loop == NULL || cfg == NULL || cfg->listen_host == NULL ||
        cfg->node_name == NULL || cfg->home_req == NULL || cfg->foreign == NULL ||
        cfg->resolve == NULL)
        return LQ_EINVAL;
    memset(k, 0, offsetof(lq_kubelet_t, ca_resp_));
    k->cfg = *cfg;
    k->loop_ = loop;
    k->profile_ = -1;
    lq_json_doc_init(&json_doc, json_arena, sizeof json_arena);
    for (size_t i = 0; i <= LQ_KUBELET_SESSIONS; i++) {
        k->sess_[i].state = S_FREE;
        k->sess_[i].k = k;
        link_reset(&k->sess_[i].home);
        link_reset(&k->sess_[i].foreign);
        lq_loop_timer_init(&k->sess_[i].timer, on_timer, &k->sess_[i]);
    }
    if (cfg->csr) {
        if (!lq_kubelet_cert_reuse(k))
            lq_kubelet_csr_start(k); /* served once signed (lq_kubelet_adopted) */
    } else {
        lq_err_t e = lq_kubelet_load_cert(k, false);
        if (e != LQ_OK)
            return e;
    }
    lq_loop_timer_init(&k->ca_timer_, on_ca_timer, k);
    lq_loop_timer_start(loop, &k->ca_timer_, 0);
    return LQ_OK;
}

void lq_kubelet_stop(lq_kubelet_t *k)
{
    if (k == NULL || k->loop_ == NULL)
        return;
    for (size_t i = 0; i <= LQ_KUBELET_SESSIONS; i++)
        sess_end(&k->sess_[i]);
    if (k->ca_req_.state != LQ_KREQ_IDLE)
        (void)lq_kreq_cancel(&k->ca_req_);
    if (k->csr_req_.state != LQ_KREQ_IDLE)
        (void)lq_kreq_cancel(&k->csr_req_);
    if (k->cfg.csr && k->csr_timer_.armed)
        lq_loop_timer_stop(k->loop_, &k->csr_timer_);
    lq_loop_timer_stop(k->loop_, &k->ca_timer_);
    if (k->listening)
        lq_loop_io_close(k->loop_, &k->listen_io_, NULL);
    k->listening = false;
}
