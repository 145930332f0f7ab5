/* libFuzzer target: the CoAP request path of the management endpoint (src/mgmt/coap.c,
 * mgmt.c, render.c) through the real libcoap 4.3.1 server, in an lq_loop on the POSIX port,
 * bound to 127.0.0.1 port 0 (no DTLS).
 *
 * Input: one UDP datagram, sent as it is from a client socket to the endpoint.
 *
 * Checked, else trap:
 *   - everything the endpoint sends back to the fuzzing socket is a well-formed CoAP
 *     message (RFC 7252 section 3: version 1, token length at most 8, the token present,
 *     options whose deltas and lengths fit the datagram with no reserved nibble, a payload
 *     marker only before a non-empty payload); a piggybacked answer (ACK with a code) of
 *     a well-formed confirmable request carries the request's token;
 *   - afterwards a plain confirmable GET /health from a second socket is answered within
 *     a bounded number of loop turns with an ACK of that message id and token, code 2.05
 *     and the payload "ok\n": no input leaves the endpoint wedged;
 *   - liqolet's code is under ASan/UBSan; libcoap and mbedTLS come from the host sysroot
 *     and are NOT instrumented (no sanitizer checks, no coverage feedback inside them), so
 *     memory errors inside libcoap are only caught when they crash or corrupt what
 *     liqolet reads.
 *
 * Build: `make build/fuzz/fuzz_coap` (the fenced libcoap archive of the host build). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "liqolet/loop.h"
#include "liqolet/mgmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static lq_loop_t loop;
static lq_mgmt_t mgmt;
static int fz = -1, hc = -1;
static uint16_t health_mid = 1;

static void snapshot(void *ctx, lq_mgmt_snapshot_t *s)
{
    (void)ctx;
    s->home = (lq_mgmt_cluster_t){"home-uid", "home", "127.0.0.1:6443", true, false};
    s->foreign = (lq_mgmt_cluster_t){"foreign-uid", "foreign", "127.0.0.1:7443", false, false};
    s->vnode.name = "liqo-fuzz";
    s->n_ns = 1;
    s->ns[0].local = "shop";
    s->ns[0].remote = "shop-home-abc123";
    s->ns[0].state = "Ready";
    s->objects[LQ_MGMT_KIND_POD] = 3;
}

static bool objects(void *ctx, lq_mgmt_kind_t kind, size_t i, lq_mgmt_object_t *out)
{
    (void)ctx;
    static const char *const names[] = {"web-0", "web-1", "web-2"};
    if (kind != LQ_MGMT_KIND_POD || i >= 3)
        return false;
    out->ns = "shop";
    out->name = names[i];
    out->remote_ns = "shop-home-abc123";
    out->state = "Running";
    return true;
}

static int client(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(mgmt.coap_.ports[0]);
    a.sin_addr.s_addr = htonl(0x7f000001u);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static lq_config_addr_t addr = {"127.0.0.1", 0};
    lq_mgmt_cfg_t cfg = {&addr, 1, NULL, NULL, NULL, 0};
    char msg[256];
    lq_loop_init(&loop);
    lq_mgmt_init(&mgmt);
    CHECK(lq_mgmt_configure(&mgmt, &cfg, msg, sizeof msg) == LQ_OK);
    CHECK(lq_mgmt_start(&mgmt, &loop, snapshot, NULL, objects, NULL) == LQ_OK);
    CHECK(mgmt.coap_.ports[0] != 0);
    fz = client();
    hc = client();
    return 0;
}

/* A parsed message. */
typedef struct msg {
    unsigned type, tkl, code, mid;
    const uint8_t *token, *payload;
    size_t plen;
} msg_t;

/* RFC 7252 section 3: false when malformed. */
static bool coap_parse(const uint8_t *p, size_t n, msg_t *m)
{
    if (n < 4 || (p[0] >> 6) != 1)
        return false;
    m->type = (p[0] >> 4) & 3u;
    m->tkl = p[0] & 15u;
    m->code = p[1];
    m->mid = (unsigned)p[2] << 8 | p[3];
    if (m->tkl > 8 || 4 + m->tkl > n)
        return false;
    m->token = p + 4;
    m->payload = NULL;
    m->plen = 0;
    size_t i = 4 + m->tkl;
    if (m->code == 0) /* empty message: nothing after the header */
        return m->tkl == 0 && i == n;
    while (i < n) {
        if (p[i] == 0xff) {
            if (i + 1 >= n)
                return false;
            m->payload = p + i + 1;
            m->plen = n - i - 1;
            return true;
        }
        unsigned d = p[i] >> 4, l = p[i] & 15u;
        i++;
        if (d == 15 || l == 15)
            return false;
        if (d == 13) {
            if (i >= n)
                return false;
            i += 1;
        } else if (d == 14) {
            if (i + 1 >= n)
                return false;
            i += 2;
        }
        size_t len = l;
        if (l == 13) {
            if (i >= n)
                return false;
            len = 13u + p[i];
            i += 1;
        } else if (l == 14) {
            if (i + 1 >= n)
                return false;
            len = 269u + ((size_t)p[i] << 8 | p[i + 1]);
            i += 2;
        }
        if (len > n - i)
            return false;
        i += len;
    }
    return true;
}

static void turn(void)
{
    (void)lq_loop_run_once(&loop, 0);
}

/* Reads every datagram waiting on the fuzzing socket; each must be CoAP. */
static void drain(void)
{
    uint8_t buf[2048];
    ssize_t n;
    while ((n = recv(fz, buf, sizeof buf, 0)) >= 0) {
        msg_t m;
        CHECK(coap_parse(buf, (size_t)n, &m));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_t req;
    bool req_ok = coap_parse(data, size, &req) && req.type == 0 && req.code != 0;
    drain();
    (void)send(fz, data, size, 0);
    for (int k = 0; k < 8; k++) {
        turn();
        uint8_t buf[2048];
        ssize_t n = recv(fz, buf, sizeof buf, 0);
        if (n < 0)
            continue;
        msg_t m;
        CHECK(coap_parse(buf, (size_t)n, &m));
        /* a piggybacked answer to a well-formed confirmable request echoes its token */
        if (req_ok && m.type == 2 && m.mid == req.mid && m.code != 0)
            CHECK(m.tkl == req.tkl && memcmp(m.token, req.token, m.tkl) == 0);
        drain();
    }

    /* the endpoint still serves GET /health */
    uint16_t mid = health_mid++;
    uint8_t get[] = {0x42, 0x01, (uint8_t)(mid >> 8), (uint8_t)mid, 0xbe, 0xef,
                     0xb6, 'h', 'e', 'a', 'l', 't', 'h'};
    CHECK(send(hc, get, sizeof get, 0) == (ssize_t)sizeof get);
    for (int k = 0; k < 2000; k++) {
        (void)lq_loop_run_once(&loop, k < 20 ? 0 : 1);
        uint8_t buf[2048];
        ssize_t n = recv(hc, buf, sizeof buf, 0);
        if (n < 0)
            continue;
        msg_t m;
        CHECK(coap_parse(buf, (size_t)n, &m));
        if (getenv("COAP_DEBUG"))
            fprintf(stderr, "health reply type %u code %u mid %u/%u tkl %u plen %zu [%.*s]\n", m.type, m.code, m.mid, mid, m.tkl, m.plen, (int)m.plen, m.payload ? (const char *)m.payload : "");
        if (m.type == 2 && m.mid == mid) {
            CHECK(m.code == 0x45); /* 2.05 Content */
            CHECK(m.tkl == 2 && m.token[0] == 0xbe && m.token[1] == 0xef);
            CHECK(m.plen == 3 && memcmp(m.payload, "ok\n", 3) == 0);
            drain();
            return 0;
        }
    }
    CHECK(!"GET /health went unanswered");
    return 0;
}
