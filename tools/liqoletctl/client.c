/* liqoletctl: the libcoap client (the only file of the tool that includes libcoap).
 *
 * One context, one session (CoAP over UDP, or DTLS with a pre-shared key), one GET. The
 * context runs with COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY, so libcoap asks
 * for every Block2 block itself and hands over the whole body once; with Observe, the
 * same holds for every notification. A CLI may wait, so this simply runs
 * coap_io_process until the answer, a failure, the timeout or a stop signal. */
#define _POSIX_C_SOURCE 200809L
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "ctl.h"

typedef struct call {
    ctl_resp_fn *fn;
    void *ctx;
    int answers;
    bool stop;
    const char *failure; /* set by the nack / event handlers */
} call_t;

static call_t *current;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    (void)session;
    (void)sent;
    (void)mid;
    call_t *c = current;
    if (c == NULL || c->stop)
        return COAP_RESPONSE_OK;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (code == COAP_EMPTY_CODE)
        return COAP_RESPONSE_OK;
    ctl_resp_t r;
    memset(&r, 0, sizeof r);
    r.code = (unsigned)COAP_RESPONSE_CLASS(code) * 100u + ((unsigned)code & 0x1fu);
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0, total = 0;
    if (coap_get_data_large(received, &len, &data, &offset, &total)) {
        r.body = (const char *)data;
        r.len = len;
    }
    c->answers++;
    if (!c->fn(&r, c->ctx))
        c->stop = true;
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid)
{
    (void)session;
    (void)sent;
    (void)mid;
    if (current == NULL)
        return;
    switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
        current->failure = "no answer (retransmissions exhausted)";
        break;
    case COAP_NACK_RST:
        current->failure = "the server reset the exchange";
        break;
    case COAP_NACK_TLS_FAILED:
        current->failure = "DTLS handshake failed (wrong key or identity?)";
        break;
    case COAP_NACK_ICMP_ISSUE:
        current->failure = "unreachable (nothing listens there?)";
        break;
    default:
        current->failure = "not deliverable";
        break;
    }
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    (void)session;
    if (current != NULL && event == COAP_EVENT_DTLS_ERROR)
        current->failure = "DTLS handshake failed (wrong key or identity?)";
    return 0;
}

static void errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static bool resolve(const ctl_target_t *t, coap_address_t *dst)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    char port[8];
    (void)snprintf(port, sizeof port, "%u", (unsigned)t->port);
    if (getaddrinfo(t->host, port, &hints, &res) != 0 || res == NULL)
        return false;
    coap_address_init(dst);
    bool ok = res->ai_addrlen <= sizeof dst->addr;
    if (ok) {
        memcpy(&dst->addr, res->ai_addr, res->ai_addrlen);
        dst->size = (socklen_t)res->ai_addrlen;
    }
    freeaddrinfo(res);
    return ok;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds Uri-Path options (one per segment) or Uri-Query options (split at '&'). */
static void add_parts(coap_pdu_t *pdu, coap_option_num_t num, const char *s, char sep)
{
    while (s != NULL && *s != '\0') {
        const char *e = strchr(s, sep);
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        if (n > 0)
            (void)coap_add_option(pdu, num, n, (const uint8_t *)s);
        s = e != NULL ? e + 1 : NULL;
    }
}

int ctl_get(const ctl_target_t *t, const char *path, const char *query, bool observe,
            int timeout_ms, ctl_resp_fn *fn, void *ctx, char *err, size_t err_cap)
{
    coap_startup();
    coap_set_log_level(t->verbose > 1 ? LOG_DEBUG : t->verbose ? LOG_INFO : LOG_EMERG);
    coap_dtls_set_log_level(t->verbose > 1 ? LOG_DEBUG : t->verbose ? LOG_INFO : LOG_EMERG);

    coap_address_t dst;
    if (!resolve(t, &dst)) {
        errf(err, err_cap, "cannot resolve %s", t->host);
        return CTL_EXIT_UNREACHABLE;
    }
    if (t->dtls && !coap_dtls_is_supported()) {
        errf(err, err_cap, "this build of libcoap has no DTLS");
        return CTL_EXIT_UNREACHABLE;
    }
    coap_context_t *cctx = coap_new_context(NULL);
    if (cctx == NULL) {
        errf(err, err_cap, "cannot create a CoAP context");
        return CTL_EXIT_UNREACHABLE;
    }
    coap_context_set_block_mode(cctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(cctx, on_response);
    coap_register_nack_handler(cctx, on_nack);
    coap_register_event_handler(cctx, on_event);

    coap_session_t *s;
    if (t->dtls) {
        coap_dtls_cpsk_t cpsk;
        memset(&cpsk, 0, sizeof cpsk);
        cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        cpsk.psk_info.identity.s = (const uint8_t *)t->identity;
        cpsk.psk_info.identity.length = strlen(t->identity);
        cpsk.psk_info.key.s = t->psk;
        cpsk.psk_info.key.length = t->psk_len;
        s = coap_new_client_session_psk2(cctx, NULL, &dst, COAP_PROTO_DTLS, &cpsk);
    } else {
        s = coap_new_client_session(cctx, NULL, &dst, COAP_PROTO_UDP);
    }
    if (s == NULL) {
        errf(err, err_cap, "cannot open a %s session to %s", t->dtls ? "DTLS" : "CoAP", t->host);
        coap_free_context(cctx);
        return CTL_EXIT_UNREACHABLE;
    }
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                    coap_new_message_id(s), coap_session_max_pdu_size(s));
    if (pdu == NULL) {
        errf(err, err_cap, "cannot build the request");
        coap_free_context(cctx);
        return CTL_EXIT_UNREACHABLE;
    }
    uint8_t token[8];
    size_t tlen = 0;
    coap_session_new_token(s, &tlen, token);
    (void)coap_add_token(pdu, tlen, token);
    if (observe) {
        uint8_t v[4];
        (void)coap_add_option(pdu, COAP_OPTION_OBSERVE,
                              coap_encode_var_safe(v, sizeof v, COAP_OBSERVE_ESTABLISH), v);
    }
    add_parts(pdu, COAP_OPTION_URI_PATH, path, '/');
    add_parts(pdu, COAP_OPTION_URI_QUERY, query, '&');

    call_t call;
    memset(&call, 0, sizeof call);
    call.fn = fn;
    call.ctx = ctx;
    current = &call;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);

    int rc = CTL_EXIT_OK;
    if (coap_send(s, pdu) == COAP_INVALID_MID) {
        errf(err, err_cap, "cannot send the request");
        rc = CTL_EXIT_UNREACHABLE;
    }
    int64_t deadline = now_ms() + timeout_ms;
    while (rc == CTL_EXIT_OK && !call.stop && !interrupted) {
        if (call.failure != NULL) {
            errf(err, err_cap, "%s:%u: %s", t->host, (unsigned)t->port, call.failure);
            rc = call.answers > 0 ? CTL_EXIT_OK : CTL_EXIT_UNREACHABLE;
            break;
        }
        if (call.answers > 0 && !observe)
            break;
        int64_t left = deadline - now_ms();
        if (call.answers == 0 && left <= 0) {
            errf(err, err_cap, "%s:%u: no answer within %d ms", t->host, (unsigned)t->port,
                 timeout_ms);
            rc = CTL_EXIT_UNREACHABLE;
            break;
        }
        uint32_t wait = call.answers > 0 || left > 250 ? 250u : (uint32_t)(left > 0 ? left : 1);
        (void)coap_io_process(cctx, wait);
    }
    current = NULL;
    coap_session_release(s);
    coap_free_context(cctx);
    return rc;
}
