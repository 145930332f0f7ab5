/* Tests of the TLS client (src/kube/tls.c) against an mbedTLS server run in this process.
 *
 * The server side (lq_tls_accept, a server profile) is tested against our own client
 * (lq_tls_open) and, for TLS 1.2, a bare mbedTLS client capped at 1.2.
 *
 * Client and server sit on the two ends of a non-blocking AF_UNIX socketpair; one thread
 * steps the client handshake (lq_tls_handshake) and the server handshake
 * (mbedtls_ssl_handshake) alternately. Certificates: tests/vectors/tls (see gen.sh there).
 * The test is run from the repository root (make unit); LQ_TLS_VECTORS overrides the
 * directory.
 *
 * Optional live check: with HOME_API_SERVER, HOME_CA_FILE and LIQOLET_TESTBED_DIR set
 * (eval "$(tools/testbed env)"), connects to the test cluster's API server with the admin
 * client certificate, GETs /version and prints the negotiated version and the arena
 * high-water mark of that one session. Skipped otherwise. */
#define _GNU_SOURCE 1
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/x509_csr.h"

#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "liqolet/port.h"
#include "liqolet/tls.h"

/* --- files ----------------------------------------------------------------------------- */

typedef struct blob {
    unsigned char *p;
    size_t len; /* includes the NUL, as mbedTLS wants for PEM */
} blob_t;

static blob_t load(const char *name)
{
    const char *dir = getenv("LQ_TLS_VECTORS");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/vectors/tls", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)", path);
    static unsigned char store[32][8192];
    static int next;
    assert_true(next < 32);
    unsigned char *buf = store[next++];
    size_t n = fread(buf, 1, sizeof store[0] - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof store[0] - 1);
    buf[n] = '\0';
    blob_t b = { buf, n + 1 };
    return b;
}

static blob_t load_cached(const char *name)
{
    static struct {
        const char *name;
        blob_t b;
    } cache[32];
    for (int i = 0; i < 32; i++) {
        if (cache[i].name != NULL && strcmp(cache[i].name, name) == 0)
            return cache[i].b;
        if (cache[i].name == NULL) {
            cache[i].name = name;
            cache[i].b = load(name);
            return cache[i].b;
        }
    }
    fail_msg("too many files");
    blob_t none = { NULL, 0 };
    return none;
}

/* --- the in-process server ------------------------------------------------------------- */

typedef struct server {
    int fd;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt cert, ca;
    mbedtls_pk_context key;
    int hs_ret; /* last mbedtls_ssl_handshake result */
    int done;
    int sni_seen;  /* the client sent a server_name extension */
    char sni[64];
} server_t;

static int srv_sni(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    (void)ssl;
    server_t *s = ctx;
    s->sni_seen = 1;
    size_t n = len < sizeof s->sni - 1 ? len : sizeof s->sni - 1;
    memcpy(s->sni, name, n);
    s->sni[n] = '\0';
    return 0;
}

static mbedtls_ctr_drbg_context srv_drbg;
static int srv_drbg_ready;

static int entropy(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return lq_port_entropy(buf, len) == LQ_OK ? 0 : -1;
}

static int srv_send(void *ctx, const unsigned char *buf, size_t len)
{
    server_t *s = ctx;
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_WANT_WRITE : -0x4E; /* NET_SEND_FAILED */
}

static int srv_recv(void *ctx, unsigned char *buf, size_t len)
{
    server_t *s = ctx;
    ssize_t n = recv(s->fd, buf, len, 0);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_WANT_READ : -0x4C; /* NET_RECV_FAILED */
}

typedef struct srv_opts {
    const char *cert, *key;  /* server credentials (files) */
    int require_client;      /* VERIFY_REQUIRED against ca.crt */
    int max_tls12;           /* cap the server at TLS 1.2 */
} srv_opts_t;

/* The test's own random generator (seeded once), for mbedTLS calls made by the tests. */
static mbedtls_ctr_drbg_context *test_drbg(void)
{
    if (!srv_drbg_ready) {
        mbedtls_ctr_drbg_init(&srv_drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&srv_drbg, entropy, NULL, NULL, 0), 0);
        srv_drbg_ready = 1;
    }
    return &srv_drbg;
}

static void server_start(server_t *s, int fd, const srv_opts_t *o)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    if (!srv_drbg_ready) {
        mbedtls_ctr_drbg_init(&srv_drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&srv_drbg, entropy, NULL, NULL, 0), 0);
        srv_drbg_ready = 1;
    }
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_ssl_init(&s->ssl);
    mbedtls_x509_crt_init(&s->cert);
    mbedtls_x509_crt_init(&s->ca);
    mbedtls_pk_init(&s->key);
    blob_t c = load_cached(o->cert), k = load_cached(o->key);
    assert_int_equal(mbedtls_x509_crt_parse(&s->cert, c.p, c.len), 0);
    assert_int_equal(mbedtls_pk_parse_key(&s->key, k.p, k.len, NULL, 0, mbedtls_ctr_drbg_random, &srv_drbg), 0);
    assert_int_equal(mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT), 0);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &srv_drbg);
    assert_int_equal(mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key), 0);
    if (o->require_client) {
        blob_t ca = load_cached("ca.crt");
        assert_int_equal(mbedtls_x509_crt_parse(&s->ca, ca.p, ca.len), 0);
        mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (o->max_tls12)
        mbedtls_ssl_conf_max_tls_version(&s->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_sni(&s->conf, srv_sni, s);
    assert_int_equal(mbedtls_ssl_setup(&s->ssl, &s->conf), 0);
    mbedtls_ssl_set_bio(&s->ssl, s, srv_send, srv_recv, NULL);
    s->hs_ret = MBEDTLS_ERR_SSL_WANT_READ;
}

static void server_stop(server_t *s)
{
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_config_free(&s->conf);
    mbedtls_x509_crt_free(&s->cert);
    mbedtls_x509_crt_free(&s->ca);
    mbedtls_pk_free(&s->key);
}

static int server_step(server_t *s)
{
    if (s->done || (s->hs_ret != MBEDTLS_ERR_SSL_WANT_READ && s->hs_ret != MBEDTLS_ERR_SSL_WANT_WRITE))
        return s->hs_ret;
    s->hs_ret = mbedtls_ssl_handshake(&s->ssl);
    if (s->hs_ret == 0)
        s->done = 1;
    return s->hs_ret;
}

static int server_failed(const server_t *s)
{
    return !s->done && s->hs_ret != MBEDTLS_ERR_SSL_WANT_READ && s->hs_ret != MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* --- the pair -------------------------------------------------------------------------- */

typedef struct pair {
    int cfd, sfd;
    int profile;
    int session;
    server_t srv;
    int srv_shut;
    lq_err_t client_result;
} pair_t;

static void nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void wait_some(int a, int b)
{
    struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
    (void)poll(p, 2, 5);
}

/* Opens a profile from files (NULL = absent). Returns lq_tls_profile_open's result. */
static lq_err_t profile_from(int *prof, const char *ca, const char *cert, const char *key,
                             int skip, char *err, size_t cap)
{
    lq_tls_profile_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    if (ca) {
        blob_t b = load_cached(ca);
        cfg.ca = b.p;
        cfg.ca_len = b.len;
    }
    if (cert) {
        blob_t b = load_cached(cert);
        cfg.cert = b.p;
        cfg.cert_len = b.len;
    }
    if (key) {
        blob_t b = load_cached(key);
        cfg.key = b.p;
        cfg.key_len = b.len;
    }
    cfg.insecure_skip_verify = skip != 0;
    return lq_tls_profile_open(prof, &cfg, err, cap);
}

/* Runs both handshakes to completion or failure. */
static void pair_run(pair_t *p, const char *name, const srv_opts_t *o, const char *client_cert,
                     const char *client_key, const char *ca, int skip)
{
    memset(p, 0, sizeof *p);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->cfd = sv[0];
    p->sfd = sv[1];
    nonblock(p->cfd);
    nonblock(p->sfd);
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(profile_from(&p->profile, ca, client_cert, client_key, skip, err, sizeof err), LQ_OK);
    server_start(&p->srv, p->sfd, o);
    assert_int_equal(lq_tls_open(&p->session, p->profile, p->cfd, name), LQ_OK);
    lq_err_t c = LQ_AGAIN;
    for (int i = 0; i < 2000; i++) {
        if (c == LQ_AGAIN) {
            c = lq_tls_handshake(p->session);
            if (c == LQ_AGAIN)
                assert_true(lq_tls_wants(p->session) & (LQ_PORT_IN | LQ_PORT_OUT));
        }
        server_step(&p->srv);
        if (c != LQ_AGAIN && (p->srv.done || server_failed(&p->srv)))
            break;
        if (c != LQ_AGAIN && c != LQ_OK)
            break; /* client gave up; the server may wait forever */
        if (server_failed(&p->srv) && !p->srv_shut) {
            /* a real server drops the connection after a failed handshake (mbedTLS does
             * not always send an alert first) */
            shutdown(p->sfd, SHUT_RDWR);
            p->srv_shut = 1;
        }
        wait_some(p->cfd, p->sfd);
    }
    p->client_result = c;
}

static void pair_close(pair_t *p)
{
    lq_tls_close(p->session);
    lq_tls_profile_close(p->profile);
    server_stop(&p->srv);
    close(p->cfd);
    close(p->sfd);
}

static void expect_ok(const char *name, const char *srv_cert, const char *srv_key)
{
    srv_opts_t o = { srv_cert, srv_key, 0, 0 };
    pair_t p;
    pair_run(&p, name, &o, NULL, NULL, "ca.crt", 0);
    if (p.client_result != LQ_OK)
        fail_msg("%s with %s: %s: %s", name, srv_cert, lq_err_name(p.client_result),
                 lq_tls_error(p.session));
    assert_true(p.srv.done);
    assert_string_equal(lq_tls_error(p.session), "");
    /* SNI carries DNS names only, never an IP literal (RFC 6066, section 3) */
    if (strchr(name, ':') != NULL || (name[0] >= '0' && name[0] <= '9')) {
        assert_false(p.srv.sni_seen);
    } else {
        assert_true(p.srv.sni_seen);
        assert_string_equal(p.srv.sni, name);
    }
    pair_close(&p);
}

static void expect_fail(const char *name, const char *srv_cert, const char *srv_key,
                        const char *ca, const char *text)
{
    for (int tls12 = 0; tls12 <= 1; tls12++) { /* the same text with either version */
        srv_opts_t o = { srv_cert, srv_key, 0, tls12 };
        pair_t p;
        pair_run(&p, name, &o, NULL, NULL, ca, 0);
        assert_int_equal(p.client_result, LQ_ETLS);
        if (strstr(lq_tls_error(p.session), text) == NULL)
            fail_msg("TLS 1.%d: error text \"%s\" lacks \"%s\"", tls12 ? 2 : 3,
                     lq_tls_error(p.session), text);
        assert_false(p.srv.done);
        /* the failure is sticky */
        assert_int_equal(lq_tls_handshake(p.session), LQ_ETLS);
        pair_close(&p);
    }
}

static int setup(void **state)
{
    (void)state;
    return lq_tls_init() == LQ_OK ? 0 : -1;
}

/* After each test: a test that failed half-way leaves no profile or session behind for
 * the next one (closing a profile closes its sessions). */
static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        lq_tls_profile_close(i);
    return 0;
}

/* --- names ------------------------------------------------------------------------------ */

static void test_ip_san_by_ip(void **state)
{
    (void)state;
    expect_ok("127.0.0.1", "server-ip.crt", "server-ip.key");
    expect_ok("::1", "server-ip.crt", "server-ip.key");
}

static void test_dns_san_by_dns(void **state)
{
    (void)state;
    expect_ok("localhost", "server-dns.crt", "server-dns.key");
    expect_ok("LOCALHOST", "server-dns.crt", "server-dns.key"); /* DNS names compare case-blind */
}

static void test_both_sans(void **state)
{
    (void)state;
    expect_ok("localhost", "server-both.crt", "server-both.key");
    expect_ok("127.0.0.1", "server-both.crt", "server-both.key");
}

static void test_name_mismatch(void **state)
{
    (void)state;
    expect_fail("localhost", "server-ip.crt", "server-ip.key", "ca.crt",
                "certificate is valid for 127.0.0.1, ::1, not localhost");
    expect_fail("127.0.0.1", "server-dns.crt", "server-dns.key", "ca.crt",
                "certificate is valid for localhost, not 127.0.0.1");
    expect_fail("10.0.0.1", "server-both.crt", "server-both.key", "ca.crt",
                "certificate is valid for localhost, 127.0.0.1, not 10.0.0.1");
    expect_fail("example.com", "server-both.crt", "server-both.key", "ca.crt",
                "not example.com");
    /* an IP literal never matches a DNS SAN spelled like it, nor ::1 an IPv4 SAN */
    expect_fail("::1", "server-both.crt", "server-both.key", "ca.crt", "not ::1");
}

static void test_unknown_ca(void **state)
{
    (void)state;
    expect_fail("localhost", "server-unknown.crt", "server-unknown.key", "ca.crt",
                "certificate signed by an unknown authority");
    /* the other way round: a CA bundle that does not hold the issuer */
    expect_fail("localhost", "server-both.crt", "server-both.key", "other-ca.crt",
                "certificate signed by an unknown authority");
}

static void test_expired_and_future(void **state)
{
    (void)state;
    expect_fail("localhost", "server-expired.crt", "server-expired.key", "ca.crt",
                "certificate expired on 2021-01-01 00:00:00 UTC");
    expect_fail("localhost", "server-future.crt", "server-future.key", "ca.crt",
                "certificate is not valid before 2099-01-01 00:00:00 UTC");
}

static void test_insecure_skip_verify(void **state)
{
    (void)state;
    srv_opts_t o = { "server-unknown.crt", "server-unknown.key", 0, 0 };
    pair_t p;
    /* unknown CA, wrong name, and no CA bundle at all: all accepted, with a warning */
    pair_run(&p, "wrong.example", &o, NULL, NULL, NULL, 1);
    assert_int_equal(p.client_result, LQ_OK);
    assert_string_equal(lq_tls_error(p.session), "");
    pair_close(&p);
    pair_run(&p, "127.0.0.1", &o, NULL, NULL, "ca.crt", 1);
    assert_int_equal(p.client_result, LQ_OK);
    assert_string_equal(lq_tls_error(p.session), "");
    pair_close(&p);
}

/* --- client certificates, versions ------------------------------------------------------ */

static void client_auth(const char *cert, const char *key, int tls12, int expect_ok_)
{
    srv_opts_t o = { "server-both.crt", "server-both.key", 1, tls12 };
    pair_t p;
    pair_run(&p, "localhost", &o, cert, key, "ca.crt", 0);
    if (expect_ok_) {
        if (p.client_result != LQ_OK || !p.srv.done)
            fail_msg("client auth with %s: client %s (%s), server -0x%04x", cert ? cert : "none",
                     lq_err_name(p.client_result), lq_tls_error(p.session), (unsigned)-p.srv.hs_ret);
        const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&p.srv.ssl);
        assert_non_null(peer);
        char cn[64];
        assert_true(mbedtls_x509_dn_gets(cn, sizeof cn, &peer->subject) > 0);
        assert_non_null(strstr(cn, "liqolet-test-"));
    } else {
        assert_false(p.srv.done);
        assert_true(server_failed(&p.srv));
        /* TLS 1.2: the client sees the alert in the handshake. TLS 1.3: its handshake may
         * finish first; the server's alert then ends the first read. */
        if (p.client_result == LQ_OK) {
            unsigned char b[16];
            long n = LQ_IO_WAIT;
            for (int i = 0; i < 100 && n == LQ_IO_WAIT; i++) {
                n = lq_tls_recv(p.session, b, sizeof b);
                wait_some(p.cfd, p.cfd);
            }
            assert_true(n == LQ_IO_ERR || n == LQ_IO_CLOSED);
        } else {
            if (p.client_result != LQ_ETLS && p.client_result != LQ_ECLOSED)
                fail_msg("no client cert: client %s (%s)", lq_err_name(p.client_result), lq_tls_error(p.session));
        }
    }
    pair_close(&p);
}

static void test_client_cert_auth(void **state)
{
    (void)state;
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        client_auth("client-rsa.crt", "client-rsa.key", tls12, 1);
        client_auth("client-ec.crt", "client-ec.key", tls12, 1);
        client_auth(NULL, NULL, tls12, 0);
    }
}

static void test_versions(void **state)
{
    (void)state;
    pair_t p;
    srv_opts_t o13 = { "server-both.crt", "server-both.key", 0, 0 };
    pair_run(&p, "localhost", &o13, NULL, NULL, "ca.crt", 0);
    assert_int_equal(p.client_result, LQ_OK);
    assert_true(strncmp(lq_tls_version(p.session), "TLSv1.3 ", 8) == 0);
    print_message("negotiated: %s\n", lq_tls_version(p.session));
    pair_close(&p);

    srv_opts_t o12 = { "server-dns.crt", "server-dns.key", 0, 1 };
    pair_run(&p, "localhost", &o12, NULL, NULL, "ca.crt", 0);
    assert_int_equal(p.client_result, LQ_OK);
    assert_true(strncmp(lq_tls_version(p.session), "TLSv1.2 ", 8) == 0);
    assert_non_null(strstr(lq_tls_version(p.session), "ECDHE-RSA"));
    print_message("negotiated: %s\n", lq_tls_version(p.session));
    pair_close(&p);
}

/* --- application data ------------------------------------------------------------------ */

static unsigned char big_out[64 * 1024], big_in[64 * 1024];

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 31u + seed + (i >> 8));
}

/* Client sends big_out while the server reads; then the server sends and the client reads.
 * Both sides are stepped alternately; partial writes are retried from their offset. */
static void roundtrip(int tls12)
{
    srv_opts_t o = { "server-both.crt", "server-both.key", 0, tls12 };
    pair_t p;
    pair_run(&p, "127.0.0.1", &o, NULL, NULL, "ca.crt", 0);
    assert_int_equal(p.client_result, LQ_OK);
    assert_true(p.srv.done);

    /* small socket buffers, so that sends stop half-way and are retried */
    int small = 4096;
    assert_int_equal(setsockopt(p.cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);

    fill(big_out, sizeof big_out, 7);
    size_t sent = 0, got = 0;
    unsigned waits = 0;
    for (int i = 0; i < 100000 && got < sizeof big_out; i++) {
        /* the client writes until the socket is full */
        while (sent < sizeof big_out) {
            long n = lq_tls_send(p.session, big_out + sent, sizeof big_out - sent);
            if (n > 0) {
                assert_true((size_t)n <= sizeof big_out - sent);
                sent += (size_t)n;
                continue;
            }
            assert_int_equal(n, LQ_IO_WAIT);
            assert_true(lq_tls_wants(p.session) & LQ_PORT_OUT);
            waits++;
            break;
        }
        /* the server drains what arrived */
        for (;;) {
            int r = mbedtls_ssl_read(&p.srv.ssl, big_in + got, sizeof big_in - got);
            if (r <= 0) {
                assert_int_equal(r, MBEDTLS_ERR_SSL_WANT_READ);
                break;
            }
            got += (size_t)r;
        }
    }
    assert_int_equal(sent, sizeof big_out);
    assert_int_equal(got, sizeof big_out);
    assert_memory_equal(big_in, big_out, sizeof big_out);
    assert_true(waits > 0); /* the partial-write path was taken */
    print_message("client -> server 64 KiB: %u sends stopped by a full socket\n", waits);

    /* server -> client */
    fill(big_out, sizeof big_out, 99);
    memset(big_in, 0, sizeof big_in);
    sent = got = 0;
    unsigned rwaits = 0;
    for (int i = 0; i < 100000 && got < sizeof big_out; i++) {
        while (sent < sizeof big_out) {
            int w = mbedtls_ssl_write(&p.srv.ssl, big_out + sent, sizeof big_out - sent);
            if (w <= 0) {
                assert_int_equal(w, MBEDTLS_ERR_SSL_WANT_WRITE);
                break;
            }
            sent += (size_t)w;
        }
        /* read in odd-sized pieces so records are consumed in parts */
        for (;;) {
            size_t want = sizeof big_in - got < 1000 ? sizeof big_in - got : 1000;
            if (want == 0)
                break;
            long n = lq_tls_recv(p.session, big_in + got, want);
            if (n <= 0) {
                assert_int_equal(n, LQ_IO_WAIT);
                assert_true(lq_tls_wants(p.session) & LQ_PORT_IN);
                rwaits++;
                break;
            }
            got += (size_t)n;
        }
    }
    assert_int_equal(got, sizeof big_out);
    assert_memory_equal(big_in, big_out, sizeof big_out);
    assert_true(rwaits > 0);

    /* orderly close: close_notify from the server reads as LQ_IO_CLOSED */
    int c;
    for (int i = 0; i < 100 && (c = mbedtls_ssl_close_notify(&p.srv.ssl)) == MBEDTLS_ERR_SSL_WANT_WRITE; i++)
        wait_some(p.sfd, p.sfd);
    long n = LQ_IO_WAIT;
    unsigned char b[8];
    for (int i = 0; i < 100 && n == LQ_IO_WAIT; i++) {
        n = lq_tls_recv(p.session, b, sizeof b);
        if (n == LQ_IO_WAIT)
            wait_some(p.cfd, p.cfd);
    }
    assert_int_equal(n, LQ_IO_CLOSED);
    pair_close(&p);
}

static void test_roundtrip_tls13(void **state)
{
    (void)state;
    roundtrip(0);
}

static void test_roundtrip_tls12(void **state)
{
    (void)state;
    roundtrip(1);
}

static void test_pending(void **state)
{
    (void)state;
    srv_opts_t o = { "server-both.crt", "server-both.key", 0, 0 };
    pair_t p;
    pair_run(&p, "localhost", &o, NULL, NULL, "ca.crt", 0);
    assert_int_equal(p.client_result, LQ_OK);
    assert_int_equal(lq_tls_pending(p.session), 0);
    static const char msg[] = "one record of one hundred bytes, more or less: .................................................";
    assert_int_equal(mbedtls_ssl_write(&p.srv.ssl, (const unsigned char *)msg, sizeof msg), (int)sizeof msg);
    char b[10];
    long n = LQ_IO_WAIT;
    for (int i = 0; i < 100 && n == LQ_IO_WAIT; i++) {
        n = lq_tls_recv(p.session, b, sizeof b);
        if (n == LQ_IO_WAIT)
            wait_some(p.cfd, p.cfd);
    }
    assert_int_equal(n, (long)sizeof b);
    assert_memory_equal(b, msg, sizeof b);
    /* the rest of the record is decrypted and waiting: poll would not show it */
    assert_true(lq_tls_pending(p.session));
    size_t got = sizeof b;
    char rest[sizeof msg];
    while (got < sizeof msg) {
        n = lq_tls_recv(p.session, rest, sizeof rest);
        assert_true(n > 0);
        assert_memory_equal(rest, msg + got, (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(lq_tls_pending(p.session), 0);
    pair_close(&p);
}

/* --- arena, profiles -------------------------------------------------------------------- */

static void test_arena_peak(void **state)
{
    (void)state;
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    assert_int_equal(st.arena_size, LQ_MBEDTLS_ARENA);
    size_t before = st.arena_used;
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        mbedtls_memory_buffer_alloc_max_reset();
        srv_opts_t o = { "server-both.crt", "server-both.key", 0, tls12 };
        pair_t p;
        pair_run(&p, "localhost", &o, NULL, NULL, "ca.crt", 0);
        assert_int_equal(p.client_result, LQ_OK);
        lq_tls_stats(&st);
        assert_true(st.sessions_open >= 1);
        assert_true(st.arena_peak >= st.arena_used);
        assert_true(st.arena_used > before);
        /* both ends: the client's record buffers alone are 16 KiB in + 4 KiB out */
        assert_true(st.arena_peak > 16384 + 4096);
        assert_true(st.arena_peak <= st.arena_size);
        print_message("arena peak, one %s session, client AND in-process server: %zu bytes "
                      "(in use after the handshake: %zu of %zu)\n",
                      tls12 ? "TLS 1.2" : "TLS 1.3", st.arena_peak, st.arena_used, st.arena_size);
        pair_close(&p);
    }
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before); /* everything given back */
    assert_int_equal(st.sessions_open, 0);
}

static void test_profile_errors(void **state)
{
    (void)state;
    int prof = -1;
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(profile_from(&prof, "ca.crt", "client-rsa.crt", "client-ec.key", 0, err, sizeof err),
                     LQ_ECONFIG);
    assert_string_equal(err, "client key does not match the certificate");
    assert_int_equal(prof, -1);
    assert_int_equal(profile_from(&prof, "ca.crt", "client-ec.crt", "client-rsa.key", 0, err, sizeof err),
                     LQ_ECONFIG);
    assert_int_equal(profile_from(&prof, "ca.crt", "client-ec.crt", NULL, 0, err, sizeof err), LQ_ECONFIG);
    assert_non_null(strstr(err, "without its private key"));
    assert_int_equal(profile_from(&prof, NULL, NULL, NULL, 0, err, sizeof err), LQ_ECONFIG);
    assert_non_null(strstr(err, "no CA bundle"));

    lq_tls_profile_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    static const unsigned char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n";
    cfg.ca = junk;
    cfg.ca_len = sizeof junk;
    assert_int_equal(lq_tls_profile_open(&prof, &cfg, err, sizeof err), LQ_ECONFIG);
    assert_non_null(strstr(err, "CA bundle could not be parsed"));
    cfg.ca_len = sizeof junk - 1; /* PEM without its NUL */
    assert_int_equal(lq_tls_profile_open(&prof, &cfg, err, sizeof err), LQ_EINVAL);
    assert_non_null(strstr(err, "NUL"));
    static const unsigned char empty_pem[] = "just text, no certificate\n";
    cfg.ca = empty_pem;
    cfg.ca_len = sizeof empty_pem;
    assert_int_equal(lq_tls_profile_open(&prof, &cfg, err, sizeof err), LQ_ECONFIG);

    /* the table is bounded */
    int ps[LQ_TLS_MAX_PROFILES];
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        assert_int_equal(profile_from(&ps[i], "ca.crt", NULL, NULL, 0, err, sizeof err), LQ_OK);
    assert_int_equal(profile_from(&prof, "ca.crt", NULL, NULL, 0, err, sizeof err), LQ_ENOSPC);
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        lq_tls_profile_close(ps[i]);

    /* sessions reject bad arguments */
    int s = 5;
    assert_int_equal(lq_tls_open(&s, 0, 3, "localhost"), LQ_EINVAL); /* profile closed */
    assert_int_equal(s, -1);
    assert_string_equal(lq_tls_error(-1), "");
    assert_string_equal(lq_tls_version(12345), "");
    lq_tls_close(-1);
    assert_true(strncmp(lq_tls_library_version(), "3.6.", 4) == 0);
}

/* Sessions are bounded by the table and by the arena; either way LQ_ENOSPC, and closing
 * gives every byte back. */
static void test_session_limits(void **state)
{
    (void)state;
    int prof = -1;
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(profile_from(&prof, "ca.crt", NULL, NULL, 0, err, sizeof err), LQ_OK);
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t base = st.arena_used;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int ss[LQ_TLS_MAX_SESSIONS + 1];
    int n = 0;
    lq_err_t e = LQ_OK;
    while (n <= (int)LQ_TLS_MAX_SESSIONS && (e = lq_tls_open(&ss[n], prof, sv[0], "localhost")) == LQ_OK)
        n++;
    assert_int_equal(e, LQ_ENOSPC);
    assert_true(n >= 1 && n <= (int)LQ_TLS_MAX_SESSIONS);
    lq_tls_stats(&st);
    assert_int_equal(st.sessions_open, (unsigned)n);
    print_message("%d sessions opened before LQ_ENOSPC (table %d, arena %zu bytes: %s)\n", n,
                  (int)LQ_TLS_MAX_SESSIONS, st.arena_size,
                  n < (int)LQ_TLS_MAX_SESSIONS ? "the arena ran out first" : "the table filled");
    for (int i = 0; i < n; i++)
        lq_tls_close(ss[i]);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, base);
    assert_int_equal(st.sessions_open, 0);
    /* a freed slot is usable again */
    assert_int_equal(lq_tls_open(&ss[0], prof, sv[0], "localhost"), LQ_OK);
    lq_tls_close(ss[0]);
    lq_tls_profile_close(prof);
    close(sv[0]);
    close(sv[1]);
}

/* --- server side: lq_tls_accept, peer identity, client CA ------------------------------- */

/* A server profile (cfg.server) from files; NULL = absent. Returns lq_tls_profile_open's. */
static lq_err_t server_profile(int *prof, const char *cert, const char *key, const char *ca,
                               int skip, char *err, size_t cap)
{
    lq_tls_profile_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server = true;
    if (cert) {
        blob_t b = load_cached(cert);
        cfg.cert = b.p;
        cfg.cert_len = b.len;
    }
    if (key) {
        blob_t b = load_cached(key);
        cfg.key = b.p;
        cfg.key_len = b.len;
    }
    if (ca) {
        blob_t b = load_cached(ca);
        cfg.ca = b.p;
        cfg.ca_len = b.len;
    }
    cfg.insecure_skip_verify = skip != 0;
    return lq_tls_profile_open(prof, &cfg, err, cap);
}

/* A bare mbedTLS client capped at TLS 1.2 (our own client profile has no version knob). */
typedef struct mcli {
    int fd;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt cert, ca;
    mbedtls_pk_context key;
} mcli_t;

/* The client end of a server-side pair: lq_tls_open on a client profile, or (raw12) the
 * bare mbedTLS client. ca/cert/key: blobs (p NULL = absent). */
typedef struct cside {
    blob_t ca, cert, key;
    const char *name; /* what our client verifies the server as */
    int raw12;
} cside_t;

typedef struct spair {
    int cfd, sfd;
    int cprof;        /* our client's profile (-1 with raw12) */
    int cs, ss;       /* client and server sessions (cs -1 with raw12) */
    int raw12;
    mcli_t mc;
    lq_err_t c, s;    /* handshake results so far */
    int cshut, sshut;
} spair_t;

static blob_t no_blob(void)
{
    blob_t b = { NULL, 0 };
    return b;
}

static cside_t client_of(const char *cert, const char *key, int raw12)
{
    cside_t c;
    c.ca = load_cached("ca.crt"); /* issued server-both */
    c.cert = cert ? load_cached(cert) : no_blob();
    c.key = key ? load_cached(key) : no_blob();
    c.name = "localhost";
    c.raw12 = raw12;
    return c;
}

static int mcli_send(void *ctx, const unsigned char *buf, size_t len)
{
    mcli_t *m = ctx;
    ssize_t n = send(m->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_WANT_WRITE : -0x4E;
}

static int mcli_recv(void *ctx, unsigned char *buf, size_t len)
{
    mcli_t *m = ctx;
    ssize_t n = recv(m->fd, buf, len, 0);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_WANT_READ : -0x4C;
}

static void mcli_start(mcli_t *m, int fd, const cside_t *c)
{
    memset(m, 0, sizeof *m);
    m->fd = fd;
    mbedtls_ssl_config_init(&m->conf);
    mbedtls_ssl_init(&m->ssl);
    mbedtls_x509_crt_init(&m->cert);
    mbedtls_x509_crt_init(&m->ca);
    mbedtls_pk_init(&m->key);
    if (!srv_drbg_ready) {
        mbedtls_ctr_drbg_init(&srv_drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&srv_drbg, entropy, NULL, NULL, 0), 0);
        srv_drbg_ready = 1;
    }
    assert_int_equal(mbedtls_ssl_config_defaults(&m->conf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT), 0);
    mbedtls_ssl_conf_rng(&m->conf, mbedtls_ctr_drbg_random, &srv_drbg);
    mbedtls_ssl_conf_max_tls_version(&m->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    assert_int_equal(mbedtls_x509_crt_parse(&m->ca, c->ca.p, c->ca.len), 0);
    mbedtls_ssl_conf_ca_chain(&m->conf, &m->ca, NULL);
    mbedtls_ssl_conf_authmode(&m->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    if (c->cert.p != NULL) {
        assert_int_equal(mbedtls_x509_crt_parse(&m->cert, c->cert.p, c->cert.len), 0);
        assert_int_equal(mbedtls_pk_parse_key(&m->key, c->key.p, c->key.len, NULL, 0,
                                              mbedtls_ctr_drbg_random, &srv_drbg), 0);
        assert_int_equal(mbedtls_ssl_conf_own_cert(&m->conf, &m->cert, &m->key), 0);
    }
    assert_int_equal(mbedtls_ssl_setup(&m->ssl, &m->conf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&m->ssl, c->name), 0);
    mbedtls_ssl_set_bio(&m->ssl, m, mcli_send, mcli_recv, NULL);
}

static void mcli_stop(mcli_t *m)
{
    mbedtls_ssl_free(&m->ssl);
    mbedtls_ssl_config_free(&m->conf);
    mbedtls_x509_crt_free(&m->cert);
    mbedtls_x509_crt_free(&m->ca);
    mbedtls_pk_free(&m->key);
}

/* Accepts on a server profile and starts the client; nothing is exchanged yet. */
static void sp_start(spair_t *p, int sprof, const cside_t *c)
{
    memset(p, 0, sizeof *p);
    p->cprof = p->cs = p->ss = -1;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->cfd = sv[0];
    p->sfd = sv[1];
    nonblock(p->cfd);
    nonblock(p->sfd);
    assert_int_equal(lq_tls_accept(&p->ss, sprof, p->sfd), LQ_OK);
    assert_true(lq_tls_wants(p->ss) & LQ_PORT_IN); /* the ClientHello comes first */
    p->raw12 = c->raw12;
    if (c->raw12) {
        mcli_start(&p->mc, p->cfd, c);
    } else {
        lq_tls_profile_cfg_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.ca = c->ca.p;
        cfg.ca_len = c->ca.len;
        cfg.cert = c->cert.p;
        cfg.cert_len = c->cert.len;
        cfg.key = c->key.p;
        cfg.key_len = c->key.len;
        char err[LQ_TLS_ERR_MAX];
        lq_err_t e = lq_tls_profile_open(&p->cprof, &cfg, err, sizeof err);
        if (e != LQ_OK)
            fail_msg("client profile: %s: %s", lq_err_name(e), err);
        assert_int_equal(lq_tls_open(&p->cs, p->cprof, p->cfd, c->name), LQ_OK);
    }
    p->c = p->s = LQ_AGAIN;
}

static lq_err_t sp_client_step(spair_t *p)
{
    if (!p->raw12)
        return lq_tls_handshake(p->cs);
    int r = mbedtls_ssl_handshake(&p->mc.ssl);
    if (r == 0)
        return LQ_OK;
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
        return LQ_AGAIN;
    return LQ_ETLS;
}

/* Steps both handshakes, at most rounds times or until neither waits any more. A side
 * that failed drops the connection, as a real peer would. */
static void sp_steps(spair_t *p, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        if (p->c == LQ_AGAIN)
            p->c = sp_client_step(p);
        if (p->s == LQ_AGAIN) {
            p->s = lq_tls_handshake(p->ss);
            if (p->s == LQ_AGAIN)
                assert_true(lq_tls_wants(p->ss) & (LQ_PORT_IN | LQ_PORT_OUT));
        }
        if (p->c != LQ_AGAIN && p->s != LQ_AGAIN)
            return;
        if (p->c != LQ_AGAIN && p->c != LQ_OK && !p->cshut) {
            shutdown(p->cfd, SHUT_RDWR);
            p->cshut = 1;
        }
        if (p->s != LQ_AGAIN && p->s != LQ_OK && !p->sshut) {
            shutdown(p->sfd, SHUT_RDWR);
            p->sshut = 1;
        }
        wait_some(p->cfd, p->sfd);
    }
}

static void sp_close(spair_t *p)
{
    lq_tls_close(p->ss);
    if (p->raw12)
        mcli_stop(&p->mc);
    else {
        lq_tls_close(p->cs);
        lq_tls_profile_close(p->cprof);
    }
    close(p->cfd);
    close(p->sfd);
}

/* One message each way: client -> server, then server -> client. */
static void sp_exchange(spair_t *p, const char *up, const char *down)
{
    size_t ulen = strlen(up), dlen = strlen(down);
    long n = p->raw12 ? mbedtls_ssl_write(&p->mc.ssl, (const unsigned char *)up, ulen)
                      : lq_tls_send(p->cs, up, ulen);
    assert_int_equal(n, (long)ulen);
    char b[256];
    size_t got = 0;
    for (int i = 0; i < 200 && got < ulen; i++) {
        n = lq_tls_recv(p->ss, b + got, sizeof b - got);
        if (n > 0)
            got += (size_t)n;
        else {
            assert_int_equal(n, LQ_IO_WAIT);
            wait_some(p->sfd, p->sfd);
        }
    }
    assert_int_equal(got, ulen);
    assert_memory_equal(b, up, ulen);
    assert_int_equal(lq_tls_send(p->ss, down, dlen), (long)dlen);
    got = 0;
    for (int i = 0; i < 200 && got < dlen; i++) {
        n = p->raw12 ? mbedtls_ssl_read(&p->mc.ssl, (unsigned char *)b + got, sizeof b - got)
                     : lq_tls_recv(p->cs, b + got, sizeof b - got);
        if (n > 0)
            got += (size_t)n;
        else {
            if (p->raw12)
                assert_int_equal(n, MBEDTLS_ERR_SSL_WANT_READ);
            else
                assert_int_equal(n, LQ_IO_WAIT);
            wait_some(p->cfd, p->cfd);
        }
    }
    assert_int_equal(got, dlen);
    assert_memory_equal(b, down, dlen);
}

/* A full handshake of client c against the server profile; fails the test unless both
 * sides complete. The pair is left open for the caller. */
static void sp_expect_ok(spair_t *p, int sprof, const cside_t *c)
{
    sp_start(p, sprof, c);
    sp_steps(p, 4000);
    if (p->c != LQ_OK || p->s != LQ_OK)
        fail_msg("server-side handshake (%s client, cert %s): client %s (%s), server %s (%s)",
                 c->raw12 ? "TLS 1.2" : "our", c->cert.p ? "yes" : "no", lq_err_name(p->c),
                 p->raw12 ? "" : lq_tls_error(p->cs), lq_err_name(p->s), lq_tls_error(p->ss));
}

/* The server must refuse client c; its error text must contain text. */
static void sp_expect_refused(int sprof, const cside_t *c, const char *text)
{
    spair_t p;
    sp_start(&p, sprof, c);
    sp_steps(&p, 4000);
    if (p.s != LQ_ETLS)
        fail_msg("server accepted or ended otherwise: %s (%s), wanted LQ_ETLS with \"%s\"",
                 lq_err_name(p.s), lq_tls_error(p.ss), text);
    if (strstr(lq_tls_error(p.ss), text) == NULL)
        fail_msg("%s client: server error text \"%s\" lacks \"%s\"", c->raw12 ? "TLS 1.2" : "our",
                 lq_tls_error(p.ss), text);
    print_message("refused (%s client): %s\n", c->raw12 ? "TLS 1.2" : "our", lq_tls_error(p.ss));
    /* sticky, and no application data either way */
    assert_int_equal(lq_tls_handshake(p.ss), LQ_ETLS);
    char b[4];
    assert_int_equal(lq_tls_recv(p.ss, b, sizeof b), LQ_IO_ERR);
    assert_int_equal(lq_tls_send(p.ss, "x", 1), LQ_IO_ERR);
    char user[64];
    size_t ng = 0;
    assert_int_equal(lq_tls_peer_identity(p.ss, user, sizeof user, NULL, 0, &ng, NULL), LQ_EINVAL);
    sp_close(&p);
}

static int open_kubelet_profile(const char *client_ca)
{
    int prof = -1;
    char err[LQ_TLS_ERR_MAX];
    lq_err_t e = server_profile(&prof, "server-both.crt", "server-both.key", client_ca, 0, err,
                                sizeof err);
    if (e != LQ_OK)
        fail_msg("server profile: %s: %s", lq_err_name(e), err);
    return prof;
}

static void test_server_handshake_and_data(void **state)
{
    (void)state;
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t before = st.arena_used;
    int sprof = open_kubelet_profile("ca.crt");
    spair_t p;

    /* our client (1.2 and 1.3) and our server (1.2 only: see tls.c, mbedTLS sends a TLS 1.3
     * refusal alert under the wrong keys) meet at TLS 1.2 */
    cside_t c = client_of("client-ec.crt", "client-ec.key", 0);
    sp_expect_ok(&p, sprof, &c);
    assert_true(strncmp(lq_tls_version(p.ss), "TLSv1.2 ", 8) == 0);
    assert_true(strncmp(lq_tls_version(p.cs), "TLSv1.2 ", 8) == 0);
    assert_string_equal(lq_tls_error(p.ss), "");
    print_message("server side: %s\n", lq_tls_version(p.ss));
    sp_exchange(&p, "GET /pods HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n");
    sp_exchange(&p, "second request", "second answer");
    lq_tls_stats(&st);
    assert_int_equal(st.sessions_open, 2);
    sp_close(&p);

    /* an RSA client certificate too */
    c = client_of("client-rsa.crt", "client-rsa.key", 0);
    sp_expect_ok(&p, sprof, &c);
    sp_exchange(&p, "ping", "pong");
    sp_close(&p);

    /* a TLS 1.2 client (capped by itself) */
    c = client_of("client-ec.crt", "client-ec.key", 1);
    sp_expect_ok(&p, sprof, &c);
    assert_true(strncmp(lq_tls_version(p.ss), "TLSv1.2 ", 8) == 0);
    print_message("server side: %s\n", lq_tls_version(p.ss));
    sp_exchange(&p, "GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\nok");
    sp_close(&p);

    /* accept refuses what is not a server profile */
    int cprof = -1, s = 7;
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(profile_from(&cprof, "ca.crt", NULL, NULL, 0, err, sizeof err), LQ_OK);
    assert_int_equal(lq_tls_accept(&s, cprof, 3), LQ_EINVAL);
    assert_int_equal(s, -1);
    assert_int_equal(lq_tls_accept(&s, -1, 3), LQ_EINVAL);
    assert_int_equal(lq_tls_accept(&s, sprof, -1), LQ_EINVAL);
    assert_int_equal(lq_tls_accept(NULL, sprof, 3), LQ_EINVAL);
    /* ... and lq_tls_open a server profile: it would start a TLS server where a client was
     * meant, without the name check */
    s = 7;
    assert_int_equal(lq_tls_open(&s, sprof, 3, "localhost"), LQ_EINVAL);
    assert_int_equal(s, -1);
    lq_tls_stats(&st);
    assert_int_equal(st.sessions_open, 0);
    lq_tls_profile_close(cprof);
    lq_tls_profile_close(sprof);
    lq_tls_stats(&st);
    assert_int_equal(st.sessions_open, 0);
    assert_int_equal(st.arena_used, before);
}

/* The test vector client-kube.crt: O=system:masters, O=<64 characters>, CN=..., O=liqo:short */
#define LONG_GROUP "liqolet-test-group-of-the-largest-size-an-O-may-have-64-chars-xx"
#define KUBE_CN "kube-apiserver-kubelet-client"

static void check_kube_identity(int ss)
{
    char user[64], groups[160];
    size_t ng = 99, nd = 99;
    memset(groups, 'X', sizeof groups);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, sizeof groups, &ng, &nd),
                     LQ_OK);
    assert_string_equal(user, KUBE_CN);
    assert_int_equal(ng, 3);
    assert_int_equal(nd, 0);
    static const char all[] = "system:masters\0" LONG_GROUP "\0liqo:short"; /* + final NUL */
    assert_memory_equal(groups, all, sizeof all);

    /* 48 bytes: the 64-character group does not fit, the ones around it do, in order */
    memset(groups, 'X', sizeof groups);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, 48, &ng, &nd), LQ_OK);
    assert_int_equal(ng, 2);
    assert_int_equal(nd, 1);
    static const char two[] = "system:masters\0liqo:short";
    assert_memory_equal(groups, two, sizeof two);
    for (size_t i = 48; i < sizeof groups; i++)
        assert_int_equal(groups[i], 'X'); /* nothing written past gcap */

    /* exactly enough for the first: "system:masters" + NUL; the others dropped */
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, 15, &ng, &nd), LQ_OK);
    assert_int_equal(ng, 1);
    assert_int_equal(nd, 2);
    assert_string_equal(groups, "system:masters");
    /* one byte short of it: "liqo:short" (11 bytes) fits, the other two do not */
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, 14, &ng, &nd), LQ_OK);
    assert_int_equal(ng, 1);
    assert_int_equal(nd, 2);
    assert_string_equal(groups, "liqo:short");
    /* no group buffer at all; n_dropped optional */
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, NULL, 0, &ng, &nd), LQ_OK);
    assert_int_equal(ng, 0);
    assert_int_equal(nd, 3);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, sizeof groups, &ng, NULL),
                     LQ_OK);
    assert_int_equal(ng, 3);

    /* the user name: exactly fits, or LQ_ETOOBIG */
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof KUBE_CN, NULL, 0, &ng, &nd), LQ_OK);
    assert_string_equal(user, KUBE_CN);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof KUBE_CN - 1, NULL, 0, &ng, &nd),
                     LQ_ETOOBIG);
    /* bad arguments */
    assert_int_equal(lq_tls_peer_identity(ss, NULL, 10, NULL, 0, &ng, &nd), LQ_EINVAL);
    assert_int_equal(lq_tls_peer_identity(ss, user, 0, NULL, 0, &ng, &nd), LQ_EINVAL);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, NULL, 5, &ng, &nd), LQ_EINVAL);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, groups, 5, NULL, &nd), LQ_EINVAL);
}

static void test_server_peer_identity(void **state)
{
    (void)state;
    int sprof = open_kubelet_profile("ca.crt");
    spair_t p;
    for (int raw12 = 0; raw12 <= 1; raw12++) {
        cside_t c = client_of("client-kube.crt", "client-kube.key", raw12);
        sp_expect_ok(&p, sprof, &c);
        check_kube_identity(p.ss);
        sp_exchange(&p, "after identity", "still fine");
        sp_close(&p);
    }

    /* a certificate without CN: no user */
    for (int raw12 = 0; raw12 <= 1; raw12++) {
        cside_t c = client_of("client-nocn.crt", "client-nocn.key", raw12);
        sp_expect_ok(&p, sprof, &c);
        char user[64] = "stale", groups[64];
        size_t ng = 0, nd = 0;
        assert_int_equal(lq_tls_peer_identity(p.ss, user, sizeof user, groups, sizeof groups, &ng, &nd),
                         LQ_ENOTFOUND);
        assert_string_equal(user, "");
        sp_close(&p);
    }

    /* before the handshake is done, and on a closed session: LQ_EINVAL */
    cside_t c = client_of("client-kube.crt", "client-kube.key", 0);
    sp_start(&p, sprof, &c);
    char user[64];
    size_t ng = 0;
    assert_int_equal(lq_tls_peer_identity(p.ss, user, sizeof user, NULL, 0, &ng, NULL), LQ_EINVAL);
    int ss = p.ss;
    sp_close(&p);
    assert_int_equal(lq_tls_peer_identity(ss, user, sizeof user, NULL, 0, &ng, NULL), LQ_EINVAL);
    lq_tls_profile_close(sprof);
}

static void test_server_refusals(void **state)
{
    (void)state;
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t before = st.arena_used;
    int sprof = open_kubelet_profile("ca.crt");
    for (int raw12 = 0; raw12 <= 1; raw12++) {
        /* no client certificate at all: the kubelet API has no anonymous access */
        cside_t c = client_of(NULL, NULL, raw12);
        sp_expect_refused(sprof, &c, "certificate");
        spair_t p;
        sp_start(&p, sprof, &c);
        sp_steps(&p, 4000);
        assert_int_equal(p.s, LQ_ETLS);
        const char *t = lq_tls_error(p.ss);
        if (strstr(t, "missing") == NULL && strstr(t, "No client certif") == NULL &&
            strstr(t, "no client certificate") == NULL)
            fail_msg("no-certificate refusal does not say so: \"%s\"", t);
        sp_close(&p);
        /* issued by a CA that is not the client CA */
        c = client_of("client-other.crt", "client-other.key", raw12);
        sp_expect_refused(sprof, &c, "certificate signed by an unknown authority");
        /* expired */
        c = client_of("client-expired.crt", "client-expired.key", raw12);
        sp_expect_refused(sprof, &c, "certificate expired on 2021-01-01 00:00:00 UTC");
        /* a serving certificate (extended key usage serverAuth only) is no client's */
        c = client_of("server-both.crt", "server-both.key", raw12);
        sp_expect_refused(sprof, &c, "certificate");
    }
    lq_tls_profile_close(sprof);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before);
    assert_int_equal(st.sessions_open, 0);
}

static void test_server_profile_errors(void **state)
{
    (void)state;
    int prof = 5;
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(server_profile(&prof, NULL, NULL, "ca.crt", 0, err, sizeof err), LQ_ECONFIG);
    assert_string_equal(err, "server profile without a serving certificate");
    assert_int_equal(prof, -1);
    assert_int_equal(server_profile(&prof, "server-both.crt", "server-both.key", NULL, 0, err, sizeof err),
                     LQ_ECONFIG);
    assert_string_equal(err, "server profile without a client CA");
    assert_int_equal(server_profile(&prof, "server-both.crt", "server-both.key", "ca.crt", 1, err, sizeof err),
                     LQ_ECONFIG);
    assert_string_equal(err, "a server profile always verifies its clients");
    /* skip-verify without a CA: still refused, whichever reason is named */
    assert_int_equal(server_profile(&prof, "server-both.crt", "server-both.key", NULL, 1, err, sizeof err),
                     LQ_ECONFIG);
    assert_true(err[0] != '\0');
    /* the serving credentials are called so, not "client" ones */
    assert_int_equal(server_profile(&prof, "server-both.crt", NULL, "ca.crt", 0, err, sizeof err),
                     LQ_ECONFIG);
    assert_string_equal(err, "serving certificate given without its private key");
    assert_int_equal(server_profile(&prof, "server-both.crt", "server-dns.key", "ca.crt", 0, err, sizeof err),
                     LQ_ECONFIG);
    assert_string_equal(err, "serving key does not match the certificate");
    assert_int_equal(prof, -1);
    lq_tls_profile_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server = true;
    blob_t ca = load_cached("ca.crt"), key = load_cached("server-both.key");
    static const unsigned char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n";
    cfg.ca = ca.p;
    cfg.ca_len = ca.len;
    cfg.cert = junk;
    cfg.cert_len = sizeof junk;
    cfg.key = key.p;
    cfg.key_len = key.len;
    assert_int_equal(lq_tls_profile_open(&prof, &cfg, err, sizeof err), LQ_ECONFIG);
    assert_non_null(strstr(err, "serving certificate could not be parsed"));
    cfg.cert_len = sizeof junk - 1;
    assert_int_equal(lq_tls_profile_open(&prof, &cfg, err, sizeof err), LQ_EINVAL);
    assert_non_null(strstr(err, "serving credentials: PEM text must include"));
    /* and a client profile's still say "client" */
    assert_int_equal(profile_from(&prof, "ca.crt", "client-ec.crt", NULL, 0, err, sizeof err), LQ_ECONFIG);
    assert_string_equal(err, "client certificate given without its private key");
    /* nothing half-open was left behind: the whole table is still free */
    int ps[LQ_TLS_MAX_PROFILES];
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        assert_int_equal(server_profile(&ps[i], "server-both.crt", "server-both.key", "ca.crt", 0,
                                        err, sizeof err), LQ_OK);
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        lq_tls_profile_close(ps[i]);
}

/* A client that goes away during the handshake: the server's text names the client. */
static void test_server_client_leaves(void **state)
{
    (void)state;
    int sprof = open_kubelet_profile("ca.crt");
    for (int stage = 0; stage <= 1; stage++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        nonblock(sv[0]);
        nonblock(sv[1]);
        int s = -1;
        assert_int_equal(lq_tls_accept(&s, sprof, sv[1]), LQ_OK);
        if (stage == 1) /* the first bytes of a record header, then nothing */
            assert_int_equal(write(sv[0], "\x16\x03\x01\x00\x05", 5), 5);
        close(sv[0]);
        lq_err_t e = LQ_AGAIN;
        for (int i = 0; i < 10 && e == LQ_AGAIN; i++)
            e = lq_tls_handshake(s);
        assert_int_equal(e, LQ_ECLOSED);
        if (strstr(lq_tls_error(s), "closed by the client") == NULL)
            fail_msg("server session, client gone: \"%s\"", lq_tls_error(s));
        lq_tls_close(s);
        close(sv[1]);
    }
    /* our client, when the server goes away, still says "server" */
    int cprof = -1;
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(profile_from(&cprof, "ca.crt", NULL, NULL, 0, err, sizeof err), LQ_OK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nonblock(sv[0]);
    int c = -1;
    assert_int_equal(lq_tls_open(&c, cprof, sv[0], "localhost"), LQ_OK);
    assert_int_equal(lq_tls_handshake(c), LQ_AGAIN); /* ClientHello sent */
    close(sv[1]);
    lq_err_t e = LQ_AGAIN;
    for (int i = 0; i < 10 && e == LQ_AGAIN; i++)
        e = lq_tls_handshake(c);
    assert_int_equal(e, LQ_ECLOSED);
    assert_non_null(strstr(lq_tls_error(c), "closed by the server"));
    lq_tls_close(c);
    close(sv[0]);
    lq_tls_profile_close(cprof);
    lq_tls_profile_close(sprof);
}

static void set_ca_file(int prof, const char *name, lq_err_t want)
{
    blob_t b = load_cached(name);
    char err[LQ_TLS_ERR_MAX];
    lq_err_t e = lq_tls_profile_set_ca(prof, b.p, b.len, err, sizeof err);
    if (e != want)
        fail_msg("set_ca(%s): %s (%s), wanted %s", name, lq_err_name(e), err, lq_err_name(want));
}

static void expect_client_accepted(int sprof, const char *cert, const char *key, int raw12)
{
    cside_t c = client_of(cert, key, raw12);
    spair_t p;
    sp_expect_ok(&p, sprof, &c);
    sp_exchange(&p, "hello", "world");
    sp_close(&p);
}

static void test_server_set_ca(void **state)
{
    (void)state;
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t before = st.arena_used;
    int sprof = open_kubelet_profile("ca.crt");
    for (int raw12 = 0; raw12 <= 1; raw12++) {
        cside_t old_client = client_of("client-ec.crt", "client-ec.key", raw12);
        cside_t new_client = client_of("client-other.crt", "client-other.key", raw12);
        expect_client_accepted(sprof, "client-ec.crt", "client-ec.key", raw12);
        sp_expect_refused(sprof, &new_client, "unknown authority");

        /* the home cluster's client CA changed */
        set_ca_file(sprof, "other-ca.crt", LQ_OK);
        sp_expect_refused(sprof, &old_client, "certificate signed by an unknown authority");
        expect_client_accepted(sprof, "client-other.crt", "client-other.key", raw12);

        /* bad replacements leave other-ca in place */
        char err[LQ_TLS_ERR_MAX];
        static const unsigned char junk[] =
            "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n";
        assert_int_equal(lq_tls_profile_set_ca(sprof, junk, sizeof junk, err, sizeof err), LQ_ECONFIG);
        assert_non_null(strstr(err, "CA bundle could not be parsed"));
        static const unsigned char text[] = "no certificate in here\n";
        assert_int_equal(lq_tls_profile_set_ca(sprof, text, sizeof text, err, sizeof err), LQ_ECONFIG);
        assert_true(err[0] != '\0');
        blob_t ca = load_cached("ca.crt");
        assert_int_equal(lq_tls_profile_set_ca(sprof, ca.p, ca.len - 1, err, sizeof err), LQ_EINVAL);
        assert_non_null(strstr(err, "NUL"));
        assert_int_equal(lq_tls_profile_set_ca(sprof, NULL, 10, err, sizeof err), LQ_EINVAL);
        assert_int_equal(lq_tls_profile_set_ca(sprof, ca.p, 0, NULL, 0), LQ_EINVAL);
        assert_int_equal(lq_tls_profile_set_ca(-1, ca.p, ca.len, err, sizeof err), LQ_EINVAL);
        assert_int_equal(lq_tls_profile_set_ca(LQ_TLS_MAX_PROFILES, ca.p, ca.len, err, sizeof err),
                         LQ_EINVAL);
        expect_client_accepted(sprof, "client-other.crt", "client-other.key", raw12);
        sp_expect_refused(sprof, &old_client, "unknown authority");

        /* and back */
        set_ca_file(sprof, "ca.crt", LQ_OK);
        expect_client_accepted(sprof, "client-ec.crt", "client-ec.key", raw12);
        sp_expect_refused(sprof, &new_client, "unknown authority");
    }
    /* a bundle of both CAs accepts both clients */
    static unsigned char both[16384];
    blob_t a = load_cached("ca.crt"), b = load_cached("other-ca.crt");
    assert_true(a.len + b.len < sizeof both);
    memcpy(both, a.p, a.len - 1);
    memcpy(both + a.len - 1, b.p, b.len);
    char err[LQ_TLS_ERR_MAX];
    assert_int_equal(lq_tls_profile_set_ca(sprof, both, a.len - 1 + b.len, err, sizeof err), LQ_OK);
    expect_client_accepted(sprof, "client-ec.crt", "client-ec.key", 0);
    expect_client_accepted(sprof, "client-other.crt", "client-other.key", 0);
    lq_tls_profile_close(sprof);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before); /* every replaced CA was freed */
}

/* A session verified before the CA changes keeps working; one whose handshake is under
 * way when it changes is ended (its client reconnects), never verified against a CA
 * that is gone. */
static void test_server_set_ca_during_handshake(void **state)
{
    (void)state;
    int sprof = open_kubelet_profile("ca.crt");
    for (int raw12 = 0; raw12 <= 1; raw12++) {
        cside_t c = client_of("client-ec.crt", "client-ec.key", raw12);

        /* established before the change: untouched */
        spair_t done;
        sp_expect_ok(&done, sprof, &c);

        /* under way: the client's hello was answered; the server waits for its certificate */
        for (int stage = 0; stage <= 1; stage++) {
            spair_t p;
            sp_start(&p, sprof, &c);
            if (stage == 1)
                sp_steps(&p, 1); /* ClientHello out, server's flight back */
            assert_int_equal(p.s, LQ_AGAIN);
            /* the same CA, parsed anew: the old chain is freed either way */
            set_ca_file(sprof, "ca.crt", LQ_OK);
            sp_steps(&p, 4000);
            if (p.s != LQ_ETLS)
                fail_msg("TLS 1.%d, stage %d: handshake under way at the CA change ended %s (%s)",
                         raw12 ? 2 : 3, stage, lq_err_name(p.s), lq_tls_error(p.ss));
            assert_string_equal(lq_tls_error(p.ss), "client CA replaced during the handshake");
            assert_int_equal(lq_tls_handshake(p.ss), LQ_ETLS);
            sp_close(&p);
        }

        sp_exchange(&done, "verified before", "still served");
        char user[64];
        size_t ng = 0;
        assert_int_equal(lq_tls_peer_identity(done.ss, user, sizeof user, NULL, 0, &ng, NULL), LQ_OK);
        assert_string_equal(user, "liqolet-test-ec");
        sp_close(&done);

        /* a new handshake after the change is fine */
        expect_client_accepted(sprof, "client-ec.crt", "client-ec.key", raw12);
    }
    lq_tls_profile_close(sprof);
}

/* --- self-signed serving certificates, certificate facts -------------------------------- */

/* The UTC date of secs since the epoch, in 64-bit arithmetic (gmtime's time_t is 32 bits
 * on armv7-gateway: a 100-year validity would wrap). A day-by-day walk: slow, but exact
 * and independent of the code under test. */
static void utc_of(int64_t secs, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int year = 1970, month = 0;
    for (;;) {
        int64_t len = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365;
        if (days < 0) {
            year--;
            days += (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365;
            continue;
        }
        if (days < len)
            break;
        days -= len;
        year++;
    }
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    for (;;) {
        int64_t len = mdays[month] + (month == 1 && leap);
        if (days < len)
            break;
        days -= len;
        month++;
    }
    *y = year;
    *mo = month + 1;
    *d = (int)days + 1;
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
}

static void expect_time(const mbedtls_x509_time *t, int64_t secs)
{
    int y, mo, d, h, mi, s;
    utc_of(secs, &y, &mo, &d, &h, &mi, &s);
    if (t->year != y || t->mon != mo || t->day != d || t->hour != h || t->min != mi ||
        t->sec != s)
        fail_msg("certificate time %04d-%02d-%02d %02d:%02d:%02d, expected %04d-%02d-%02d "
                 "%02d:%02d:%02d",
                 t->year, t->mon, t->day, t->hour, t->min, t->sec, y, mo, d, h, mi, s);
}

/* Checks a generated certificate and key with mbedTLS's own parser. ip_bytes: the
 * address the IP SAN must hold (ip_len 0: none); dns: the DNS SAN (NULL: none). */
static void check_self_signed(const char *cert, size_t cert_len, const char *key, size_t key_len,
                              const char *cn, const char *dns, const unsigned char *ip_bytes,
                              size_t ip_len, int64_t now_ms, unsigned days)
{
    assert_int_equal(strlen(cert), cert_len);
    assert_int_equal(strlen(key), key_len);
    assert_true(strncmp(cert, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    assert_non_null(strstr(key, "PRIVATE KEY-----"));
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert, cert_len + 1), 0);
    assert_null(crt.next); /* one certificate */
    assert_int_equal(crt.version, 3);

    /* self-signed: it verifies against itself as the only trust anchor */
    uint32_t flags = 0xffff;
    int ret = mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL);
    if (ret != 0)
        fail_msg("self-signed certificate does not verify against itself: flags 0x%x", (unsigned)flags);
    assert_int_equal(flags, 0);
    /* ... and against nothing else */
    mbedtls_x509_crt other;
    mbedtls_x509_crt_init(&other);
    blob_t ca = load_cached("ca.crt");
    assert_int_equal(mbedtls_x509_crt_parse(&other, ca.p, ca.len), 0);
    assert_int_not_equal(mbedtls_x509_crt_verify(&crt, &other, NULL, NULL, &flags, NULL, NULL), 0);
    assert_true(flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    mbedtls_x509_crt_free(&other);

    char dn[128], want[128];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &crt.subject) > 0);
    snprintf(want, sizeof want, "CN=%s", cn);
    assert_string_equal(dn, want);
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &crt.issuer) > 0);
    assert_string_equal(dn, want);
    assert_int_equal(mbedtls_x509_crt_get_ca_istrue(&crt), 0); /* a leaf, not a CA */

    /* SANs: exactly the DNS name and the address asked for */
    int seen_dns = 0, seen_ip = 0;
    for (const mbedtls_x509_sequence *cur = &crt.subject_alt_names; cur != NULL && cur->buf.p != NULL;
         cur = cur->next) {
        mbedtls_x509_subject_alternative_name san;
        assert_int_equal(mbedtls_x509_parse_subject_alt_name(&cur->buf, &san), 0);
        if (san.type == MBEDTLS_X509_SAN_DNS_NAME) {
            assert_non_null(dns);
            assert_int_equal(san.san.unstructured_name.len, strlen(dns));
            assert_memory_equal(san.san.unstructured_name.p, dns, strlen(dns));
            seen_dns++;
        } else if (san.type == MBEDTLS_X509_SAN_IP_ADDRESS) {
            assert_int_not_equal(ip_len, 0);
            assert_int_equal(san.san.unstructured_name.len, ip_len);
            assert_memory_equal(san.san.unstructured_name.p, ip_bytes, ip_len);
            seen_ip++;
        } else {
            fail_msg("unexpected SAN type %d", san.type);
        }
        mbedtls_x509_free_subject_alt_name(&san);
    }
    assert_int_equal(seen_dns, dns != NULL ? 1 : 0);
    assert_int_equal(seen_ip, ip_len != 0 ? 1 : 0);

    /* key usage digitalSignature (only), extended key usage serverAuth (only) */
    assert_true(mbedtls_x509_crt_has_ext_type(&crt, MBEDTLS_X509_EXT_KEY_USAGE));
    assert_int_equal(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE), 0);
    assert_int_not_equal(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
    assert_int_not_equal(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_ENCIPHERMENT), 0);
    assert_true(mbedtls_x509_crt_has_ext_type(&crt, MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE));
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
                                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
                     0);
    assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(
                             &crt, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
                         0);

    /* validity: from now - 1 h to now + days (whole seconds) */
    int64_t now = now_ms / 1000;
    expect_time(&crt.valid_from, now - 3600);
    expect_time(&crt.valid_to, now + (int64_t)days * 86400);
    assert_int_equal(mbedtls_x509_time_is_past(&crt.valid_from), 1);
    assert_int_equal(mbedtls_x509_time_is_future(&crt.valid_to), 1);

    /* the serial is positive and random-sized as promised (16 bytes) */
    assert_int_equal(crt.serial.len, 16);
    assert_int_equal(crt.serial.p[0] & 0x80, 0);

    /* ECDSA P-256, and the key belongs to the certificate */
    assert_true(mbedtls_pk_can_do(&crt.pk, MBEDTLS_PK_ECKEY));
    assert_int_equal(mbedtls_pk_get_bitlen(&crt.pk), 256);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_key(&pk, (const unsigned char *)key, key_len + 1, NULL, 0,
                                          mbedtls_ctr_drbg_random, &srv_drbg), 0);
    assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &pk, mbedtls_ctr_drbg_random, &srv_drbg), 0);
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
}

static void ensure_srv_drbg(void)
{
    if (!srv_drbg_ready) {
        mbedtls_ctr_drbg_init(&srv_drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&srv_drbg, entropy, NULL, NULL, 0), 0);
        srv_drbg_ready = 1;
    }
}

static char ss_cert[4096], ss_key[2048], ss_cert2[4096], ss_key2[2048];

/* A server profile from a generated certificate, and one of our clients trusting that
 * certificate itself as its CA, verifying it as name. */
static void self_signed_handshake(const char *cert, size_t cert_len, const char *key, size_t key_len,
                                  const char *name, lq_err_t want_client, const char *want_text)
{
    lq_tls_profile_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server = true;
    cfg.cert = (const unsigned char *)cert;
    cfg.cert_len = cert_len + 1;
    cfg.key = (const unsigned char *)key;
    cfg.key_len = key_len + 1;
    blob_t ca = load_cached("ca.crt");
    cfg.ca = ca.p;
    cfg.ca_len = ca.len;
    int sprof = -1;
    char err[LQ_TLS_ERR_MAX];
    lq_err_t e = lq_tls_profile_open(&sprof, &cfg, err, sizeof err);
    if (e != LQ_OK)
        fail_msg("server profile from the generated certificate: %s", err);
    cside_t c = client_of("client-ec.crt", "client-ec.key", 0);
    c.ca.p = (unsigned char *)cert;
    c.ca.len = cert_len + 1;
    c.name = name;
    spair_t p;
    sp_start(&p, sprof, &c);
    sp_steps(&p, 4000);
    if (p.c != want_client)
        fail_msg("client verifying the generated certificate as %s: %s (%s), wanted %s", name,
                 lq_err_name(p.c), lq_tls_error(p.cs), lq_err_name(want_client));
    if (want_client == LQ_OK) {
        assert_int_equal(p.s, LQ_OK);
        sp_exchange(&p, "GET /pods", "200");
    } else {
        if (strstr(lq_tls_error(p.cs), want_text) == NULL)
            fail_msg("client error \"%s\" lacks \"%s\"", lq_tls_error(p.cs), want_text);
    }
    sp_close(&p);
    lq_tls_profile_close(sprof);
}

static void test_self_signed(void **state)
{
    (void)state;
    ensure_srv_drbg();
    lq_tls_stats_t st;
    /* once first: any one-time state (e.g. PSA) is set up before the arena is measured */
    size_t cl = 0, kl = 0;
    int64_t now = lq_port_wall_ms();
    assert_int_equal(lq_tls_make_self_signed("warm-up", NULL, NULL, 1, now, ss_cert, sizeof ss_cert,
                                             &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    lq_tls_stats(&st);
    size_t before = st.arena_used;

    /* IPv4 and a DNS name */
    static const unsigned char v4[4] = { 192, 0, 2, 10 };
    now = lq_port_wall_ms();
    assert_int_equal(lq_tls_make_self_signed("liqolet-node", "node.example", "192.0.2.10", 365, now,
                                             ss_cert, sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl),
                     LQ_OK);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before); /* everything mbedTLS took was given back */
    check_self_signed(ss_cert, cl, ss_key, kl, "liqolet-node", "node.example", v4, 4, now, 365);
    self_signed_handshake(ss_cert, cl, ss_key, kl, "192.0.2.10", LQ_OK, NULL);
    self_signed_handshake(ss_cert, cl, ss_key, kl, "node.example", LQ_OK, NULL);
    self_signed_handshake(ss_cert, cl, ss_key, kl, "192.0.2.11", LQ_ETLS,
                          "not 192.0.2.11");

    /* IPv6 only */
    static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };
    size_t cl2 = 0, kl2 = 0;
    now = lq_port_wall_ms();
    assert_int_equal(lq_tls_make_self_signed("node-6", NULL, "2001:db8::5", 1, now, ss_cert2,
                                             sizeof ss_cert2, &cl2, ss_key2, sizeof ss_key2, &kl2),
                     LQ_OK);
    check_self_signed(ss_cert2, cl2, ss_key2, kl2, "node-6", NULL, v6, 16, now, 1);
    self_signed_handshake(ss_cert2, cl2, ss_key2, kl2, "2001:db8::5", LQ_OK, NULL);
    self_signed_handshake(ss_cert2, cl2, ss_key2, kl2, "2001:db8::6", LQ_ETLS, "not 2001:db8::6");
    /* a fresh key each time */
    assert_true(strcmp(ss_key, ss_key2) != 0);

    /* DNS only, long validity (GeneralizedTime after 2049) */
    now = lq_port_wall_ms();
    assert_int_equal(lq_tls_make_self_signed("node-dns", "kubelet.local", "", 36500, now, ss_cert2,
                                             sizeof ss_cert2, &cl2, ss_key2, sizeof ss_key2, &kl2),
                     LQ_OK);
    check_self_signed(ss_cert2, cl2, ss_key2, kl2, "node-dns", "kubelet.local", NULL, 0, now, 36500);
    self_signed_handshake(ss_cert2, cl2, ss_key2, kl2, "kubelet.local", LQ_OK, NULL);

    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before);
}

static void test_self_signed_errors(void **state)
{
    (void)state;
    lq_tls_stats_t st;
    size_t cl = 0, kl = 0;
    int64_t now = lq_port_wall_ms();
    /* sizes that fit, for the limits below */
    assert_int_equal(lq_tls_make_self_signed("node", "node.example", "10.0.0.1", 30, now, ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    lq_tls_stats(&st);
    size_t before = st.arena_used;
    /* the PEM's length varies by a few bytes with the signature's DER length */
    size_t small_certs[] = { 1, 2, 64, 200, cl / 2, cl - 16 };
    for (size_t i = 0; i < sizeof small_certs / sizeof small_certs[0]; i++) {
        size_t c2 = 0, k2 = 0;
        lq_err_t e = lq_tls_make_self_signed("node", "node.example", "10.0.0.1", 30, now, ss_cert2,
                                             small_certs[i], &c2, ss_key2, sizeof ss_key2, &k2);
        if (e != LQ_ETOOBIG)
            fail_msg("certificate buffer of %zu bytes (%zu needed): %s", small_certs[i], cl + 1,
                     lq_err_name(e));
    }
    size_t small_keys[] = { 1, 2, 64, kl / 2, kl - 1, kl };
    for (size_t i = 0; i < sizeof small_keys / sizeof small_keys[0]; i++) {
        size_t c2 = 0, k2 = 0;
        lq_err_t e = lq_tls_make_self_signed("node", "node.example", "10.0.0.1", 30, now, ss_cert2,
                                             sizeof ss_cert2, &c2, ss_key2, small_keys[i], &k2);
        if (e != LQ_ETOOBIG)
            fail_msg("key buffer of %zu bytes (%zu needed): %s", small_keys[i], kl + 1,
                     lq_err_name(e));
    }
    /* exactly enough for the key: fits */
    size_t c2 = 0, k2 = 0;
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 30, now, ss_cert2, sizeof ss_cert2,
                                             &c2, ss_key2, kl + 1, &k2), LQ_OK);
    assert_int_equal(k2, kl);

    /* bad addresses and arguments */
    static const char *const bad_ips[] = { "300.1.1.1", "1.2.3", "10.0.0.1.5", "not-an-ip",
                                           "::g", "1:2:3:4:5:6:7:8:9", "[::1]", " 10.0.0.1" };
    for (size_t i = 0; i < sizeof bad_ips / sizeof bad_ips[0]; i++) {
        lq_err_t e = lq_tls_make_self_signed("node", NULL, bad_ips[i], 30, now, ss_cert2,
                                             sizeof ss_cert2, &c2, ss_key2, sizeof ss_key2, &k2);
        if (e != LQ_EINVAL)
            fail_msg("ip \"%s\": %s", bad_ips[i], lq_err_name(e));
    }
    assert_int_equal(lq_tls_make_self_signed(NULL, NULL, NULL, 30, now, ss_cert2, sizeof ss_cert2,
                                             &c2, ss_key2, sizeof ss_key2, &k2), LQ_EINVAL);
    assert_int_equal(lq_tls_make_self_signed("", NULL, NULL, 30, now, ss_cert2, sizeof ss_cert2,
                                             &c2, ss_key2, sizeof ss_key2, &k2), LQ_EINVAL);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 0, now, ss_cert2, sizeof ss_cert2,
                                             &c2, ss_key2, sizeof ss_key2, &k2), LQ_EINVAL);
    /* an end beyond 9999-12-31 (X.509 has four-digit years) is refused, not written with
     * the year cut to four digits (e.g. 10240 as 0240: a certificate expired at birth) */
    lq_err_t e = lq_tls_make_self_signed("node", NULL, NULL, 3000000, now, ss_cert2, sizeof ss_cert2,
                                         &c2, ss_key2, sizeof ss_key2, &k2);
    if (e == LQ_OK) {
        int64_t na = 0;
        bool has = false;
        assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert2, c2 + 1, NULL, &na, &has), LQ_OK);
        fail_msg("3000000 days: LQ_OK, the certificate ends at %lld ms", (long long)na);
    }
    assert_int_equal(e, LQ_EINVAL);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 0xffffffffu, now, ss_cert2,
                                             sizeof ss_cert2, &c2, ss_key2, sizeof ss_key2, &k2),
                     LQ_EINVAL);
    /* the last day that can be written: 9999-12-31 */
    int64_t last = INT64_C(253402214400000); /* 9999-12-31 00:00:00 UTC */
    unsigned max_days = (unsigned)((last - now) / 86400000);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, max_days, now, ss_cert2,
                                             sizeof ss_cert2, &c2, ss_key2, sizeof ss_key2, &k2), LQ_OK);
    int64_t na = 0;
    bool has = false;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert2, c2 + 1, NULL, &na, &has), LQ_OK);
    assert_true(na > last - 86400000 && na <= last);

    /* a board without a real-time clock, before NTP: now is the epoch, so the certificate
     * starts one hour before it, 1969-12-31 23:00:01, not a garbled time */
    int64_t epoch_ish = 1000;
    assert_int_equal(lq_tls_make_self_signed("rtc-less", NULL, "10.0.0.1", 2, epoch_ish, ss_cert2,
                                             sizeof ss_cert2, &c2, ss_key2, sizeof ss_key2, &k2), LQ_OK);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse(&crt, (const unsigned char *)ss_cert2, c2 + 1), 0);
    expect_time(&crt.valid_from, 1 - 3600);
    expect_time(&crt.valid_to, 1 + 2 * 86400);
    mbedtls_x509_crt_free(&crt);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 1, -1, ss_cert2, sizeof ss_cert2,
                                             &c2, ss_key2, sizeof ss_key2, &k2), LQ_EINVAL);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 30, now, NULL, 10, &c2, ss_key2,
                                             sizeof ss_key2, &k2), LQ_EINVAL);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, NULL, 30, now, ss_cert2, sizeof ss_cert2,
                                             NULL, ss_key2, sizeof ss_key2, &k2), LQ_EINVAL);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before); /* failures free what they took too */
}

/* The CN is the name given, character for character: a name with the characters
 * mbedTLS's subject syntax gives a meaning to (",", "=", "+", "\", ...) must not add
 * attributes, e.g. an O (a Kubernetes group) by "node,O=system:masters". */
static void test_self_signed_cn_is_literal(void **state)
{
    (void)state;
    static const char *const names[] = { "node,O=system:masters", "a+OU=x", "back\\slash",
                                         "#4142", "quote\"d<>;", "x=y", "trailing\\" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t cl = 0, kl = 0;
        lq_err_t e = lq_tls_make_self_signed(names[i], NULL, NULL, 1, lq_port_wall_ms(), ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl);
        if (e != LQ_OK)
            fail_msg("cn \"%s\": %s", names[i], lq_err_name(e));
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        assert_int_equal(mbedtls_x509_crt_parse(&crt, (const unsigned char *)ss_cert, cl + 1), 0);
        int n = 0;
        for (const mbedtls_x509_name *a = &crt.subject; a != NULL; a = a->next) {
            n++;
            if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &a->oid) != 0)
                fail_msg("cn \"%s\": the subject has an attribute other than CN", names[i]);
            if (a->val.len != strlen(names[i]) || memcmp(a->val.p, names[i], a->val.len) != 0)
                fail_msg("cn \"%s\": CN is \"%.*s\"", names[i], (int)a->val.len, a->val.p);
        }
        assert_int_equal(n, 1);
        mbedtls_x509_crt_free(&crt);
    }
    /* 64 characters (the X.520 bound) fit even when every one needs escaping */
    char cn[65];
    memset(cn, ',', 64);
    cn[64] = '\0';
    size_t cl = 0, kl = 0;
    assert_int_equal(lq_tls_make_self_signed(cn, NULL, NULL, 1, lq_port_wall_ms(), ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    char too_long[66];
    memset(too_long, 'n', 65);
    too_long[65] = '\0';
    assert_int_equal(lq_tls_make_self_signed(too_long, NULL, NULL, 1, lq_port_wall_ms(), ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl), LQ_EINVAL);
}

static void test_cert_info(void **state)
{
    (void)state;
    size_t cl = 0, kl = 0;
    int64_t now = lq_port_wall_ms();
    assert_int_equal(lq_tls_make_self_signed("node", "node.example", "192.0.2.10", 30, now, ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    int64_t na = 0;
    bool has = false;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert, cl + 1, "192.0.2.10", &na, &has),
                     LQ_OK);
    int64_t want = now + 30LL * 86400 * 1000;
    if (na > want || want - na >= 1000)
        fail_msg("not_after_ms %lld, generated for %lld", (long long)na, (long long)want);
    assert_true(has);
    has = true;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert, cl + 1, "192.0.2.11", &na, &has),
                     LQ_OK);
    assert_false(has);
    has = true;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert, cl + 1, "::1", &na, &has), LQ_OK);
    assert_false(has);
    has = true; /* no address to look for, or a DNS name: never "has" */
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert, cl + 1, NULL, &na, &has), LQ_OK);
    assert_false(has);
    has = true;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert, cl + 1, "node.example", &na, &has),
                     LQ_OK);
    assert_false(has);

    /* IPv6 SAN; a long validity (GeneralizedTime) */
    assert_int_equal(lq_tls_make_self_signed("node", NULL, "fd00::a:1", 36500, now, ss_cert2,
                                             sizeof ss_cert2, &cl, ss_key2, sizeof ss_key2, &kl), LQ_OK);
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert2, cl + 1, "fd00::a:1", &na, &has),
                     LQ_OK);
    assert_true(has);
    want = now + 36500LL * 86400 * 1000;
    assert_true(na <= want && want - na < 1000);
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_cert2, cl + 1, "fd00::a:2", &na, &has),
                     LQ_OK);
    assert_false(has);

    /* committed vectors: exact dates, and a chain's first certificate counts */
    blob_t b = load_cached("server-expired.crt");
    assert_int_equal(lq_tls_cert_info(b.p, b.len, "127.0.0.1", &na, &has), LQ_OK);
    assert_int_equal(na, INT64_C(1609459200000)); /* 2021-01-01 00:00:00 UTC */
    assert_true(has);
    b = load_cached("server-future.crt");
    assert_int_equal(lq_tls_cert_info(b.p, b.len, "::1", &na, &has), LQ_OK);
    assert_int_equal(na, INT64_C(4102444800000)); /* 2100-01-01 00:00:00 UTC */
    assert_false(has);
    b = load_cached("server-ip.crt");
    assert_int_equal(lq_tls_cert_info(b.p, b.len, "::1", &na, &has), LQ_OK);
    assert_true(has);
    static unsigned char chain[16384];
    blob_t e = load_cached("server-expired.crt"), f = load_cached("server-future.crt");
    memcpy(chain, e.p, e.len - 1);
    memcpy(chain + e.len - 1, f.p, f.len);
    assert_int_equal(lq_tls_cert_info(chain, e.len - 1 + f.len, NULL, &na, &has), LQ_OK);
    assert_int_equal(na, INT64_C(1609459200000));

    /* garbage */
    static const unsigned char junk[] =
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n";
    assert_int_equal(lq_tls_cert_info(junk, sizeof junk, NULL, &na, &has), LQ_ECONFIG);
    static const unsigned char text[] = "no certificate here";
    assert_int_equal(lq_tls_cert_info(text, sizeof text, NULL, &na, &has), LQ_ECONFIG);
    /* a private key is not a certificate */
    assert_int_equal(lq_tls_cert_info((const unsigned char *)ss_key, strlen(ss_key) + 1, NULL, &na, &has),
                     LQ_ECONFIG);
    assert_int_equal(lq_tls_cert_info(NULL, 10, NULL, &na, &has), LQ_EINVAL);
    assert_int_equal(lq_tls_cert_info(junk, 0, NULL, &na, &has), LQ_EINVAL);
    assert_int_equal(lq_tls_cert_info(junk, sizeof junk, NULL, NULL, &has), LQ_EINVAL);
    assert_int_equal(lq_tls_cert_info(junk, sizeof junk, NULL, &na, NULL), LQ_EINVAL);
}

/* lq_tls_name_check: the session's name check without a connection (fuzz_san fuzzes it);
 * the IPv6 text of a zero run after the first group was "fd00:1" (one colon) until
 * fuzz_san found it. */
static void test_name_check(void **state)
{
    (void)state;
    size_t cl = 0, kl = 0;
    int64_t now = lq_port_wall_ms();
    char sans[160];
    bool match = false;
    assert_int_equal(lq_tls_make_self_signed("node", "Node.Example", "fd00::1", 30, now, ss_cert,
                                             sizeof ss_cert, &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    const unsigned char *c = (const unsigned char *)ss_cert;
    assert_int_equal(lq_tls_name_check(c, cl + 1, "fd00::1", &match, sans, sizeof sans), LQ_OK);
    assert_true(match);
    assert_string_equal(sans, "fd00::1, Node.Example"); /* mbedTLS writes them last first */
    assert_int_equal(lq_tls_name_check(c, cl + 1, "fd00::2", &match, sans, sizeof sans), LQ_OK);
    assert_false(match);
    assert_int_equal(lq_tls_name_check(c, cl + 1, "node.example", &match, sans, sizeof sans), LQ_OK);
    assert_true(match); /* DNS names compare without case */
    assert_int_equal(lq_tls_name_check(c, cl + 1, "other.example", &match, sans, sizeof sans), LQ_OK);
    assert_false(match);
    assert_int_equal(lq_tls_make_self_signed("node", NULL, "1::", 30, now, ss_cert, sizeof ss_cert,
                                             &cl, ss_key, sizeof ss_key, &kl), LQ_OK);
    assert_int_equal(lq_tls_name_check(c, cl + 1, "1::1", &match, sans, sizeof sans), LQ_OK);
    assert_false(match);
    assert_string_equal(sans, "1::");
    /* a cut list ends with ", ..." */
    assert_int_equal(lq_tls_name_check(c, cl + 1, "1::", &match, sans, 7), LQ_OK);
    assert_true(match);
    assert_string_equal(sans, "1::");
    assert_int_equal(lq_tls_name_check(c, cl + 1, "x", &match, sans, 5), LQ_EINVAL);
    static const unsigned char text[] = "no certificate here";
    assert_int_equal(lq_tls_name_check(text, sizeof text, "x", &match, sans, sizeof sans),
                     LQ_ECONFIG);
    assert_int_equal(lq_tls_name_check(c, cl + 1, NULL, &match, sans, sizeof sans), LQ_EINVAL);
}

/* --- live API server (optional) -------------------------------------------------------- */

static void test_live_apiserver(void **state)
{
    (void)state;
    const char *url = getenv("HOME_API_SERVER"), *caf = getenv("HOME_CA_FILE");
    const char *dir = getenv("LIQOLET_TESTBED_DIR");
    if (url == NULL || caf == NULL || dir == NULL || strncmp(url, "https://", 8) != 0) {
        print_message("live check skipped (eval \"$(tools/testbed env)\" to run it)\n");
        skip();
        return;
    }
    char host[128];
    const char *hp = url + 8, *colon = strrchr(hp, ':');
    assert_non_null(colon);
    assert_true((size_t)(colon - hp) < sizeof host);
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    uint16_t port = (uint16_t)atoi(colon + 1);

    static unsigned char ca[16384], crt[8192], key[8192];
    size_t l1, l2, l3;
    char path[512];
    assert_int_equal(lq_port_file_read(caf, (char *)ca, sizeof ca, &l1), LQ_OK);
    snprintf(path, sizeof path, "%s/home/pki/admin.crt", dir);
    assert_int_equal(lq_port_file_read(path, (char *)crt, sizeof crt, &l2), LQ_OK);
    snprintf(path, sizeof path, "%s/home/pki/admin.key", dir);
    assert_int_equal(lq_port_file_read(path, (char *)key, sizeof key, &l3), LQ_OK);
    lq_tls_profile_cfg_t cfg = { ca, l1 + 1, crt, l2 + 1, key, l3 + 1, false, false };
    int prof, s;
    char err[LQ_TLS_ERR_MAX];
    lq_err_t e = lq_tls_profile_open(&prof, &cfg, err, sizeof err);
    if (e != LQ_OK)
        fail_msg("profile: %s", err);

    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t base = st.arena_used;
    mbedtls_memory_buffer_alloc_max_reset();
    lq_port_fd_t fd = -1;
    e = lq_port_tcp_connect(host, port, &fd);
    for (int i = 0; i < 100 && e == LQ_AGAIN; i++) {
        lq_port_pollfd_t pf = { fd, LQ_PORT_OUT, 0 };
        size_t nr;
        lq_port_wait(&pf, 1, 50, &nr);
        e = lq_port_tcp_finish(fd);
    }
    assert_int_equal(e, LQ_OK);
    assert_int_equal(lq_tls_open(&s, prof, fd, host), LQ_OK);
    for (int i = 0; i < 400 && (e = lq_tls_handshake(s)) == LQ_AGAIN; i++) {
        lq_port_pollfd_t pf = { fd, lq_tls_wants(s), 0 };
        size_t nr;
        lq_port_wait(&pf, 1, 50, &nr);
    }
    if (e != LQ_OK)
        fail_msg("handshake with %s: %s", url, lq_tls_error(s));
    static const char req[] = "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t off = 0;
    for (int i = 0; i < 400 && off < sizeof req - 1; i++) {
        long n = lq_tls_send(s, req + off, sizeof req - 1 - off);
        if (n > 0)
            off += (size_t)n;
        else
            assert_int_equal(n, LQ_IO_WAIT);
    }
    static char resp[8192];
    size_t got = 0;
    for (int i = 0; i < 400; i++) {
        long n = lq_tls_recv(s, resp + got, sizeof resp - 1 - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == LQ_IO_CLOSED)
            break;
        assert_int_equal(n, LQ_IO_WAIT);
        lq_port_pollfd_t pf = { fd, lq_tls_wants(s), 0 };
        size_t nr;
        lq_port_wait(&pf, 1, 50, &nr);
    }
    resp[got] = '\0';
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, "\"gitVersion\""));
    lq_tls_stats(&st);
    print_message("live %s: %s; arena peak for this session %zu bytes (in use after the "
                  "request %zu)\n",
                  url, lq_tls_version(s), st.arena_peak - base, st.arena_used - base);
    lq_tls_close(s);
    lq_port_close(fd);
    lq_tls_profile_close(prof);
}

/* After start-up nothing may touch the heap: every mbedTLS allocation of a whole session
 * (handshake, records, close) must come from the arena. Runs last: sealing is final. */
static void test_no_heap_after_seal(void **state)
{
    (void)state;
    lq_pool_init();
    unsigned long before = lq_allocguard_violations();
    lq_pool_seal();
    srv_opts_t o = { "server-both.crt", "server-both.key", 1, 0 };
    pair_t p;
    pair_run(&p, "127.0.0.1", &o, "client-ec.crt", "client-ec.key", "ca.crt", 0);
    lq_err_t hs = p.client_result;
    static const char hello[] = "GET / HTTP/1.1\r\n\r\n";
    long sent = lq_tls_send(p.session, hello, sizeof hello - 1);
    unsigned char b[64];
    int r = MBEDTLS_ERR_SSL_WANT_READ;
    for (int i = 0; i < 100 && r == MBEDTLS_ERR_SSL_WANT_READ; i++) {
        r = mbedtls_ssl_read(&p.srv.ssl, b, sizeof b);
        if (r == MBEDTLS_ERR_SSL_WANT_READ)
            wait_some(p.sfd, p.sfd);
    }
    pair_close(&p);
    unsigned long after = lq_allocguard_violations();
    lq_pool_init(); /* unseal before asserting: cmocka allocates on failure and at exit */
    assert_int_equal(hs, LQ_OK);
    assert_int_equal(sent, (long)sizeof hello - 1);
    assert_int_equal(r, (int)sizeof hello - 1);
    assert_int_equal(after, before);
}

static void test_sha256_vector(void **state)
{
    (void)state;
    /* FIPS 180-2, example B.1: SHA-256("abc") */
    static const unsigned char want[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
    unsigned char got[32];
    assert_int_equal(lq_tls_sha256("abc", 3, got), LQ_OK);
    assert_memory_equal(got, want, 32);
    assert_int_equal(lq_tls_sha256(NULL, 1, got), LQ_EINVAL);
}


/* lq_tls_make_csr: a PKCS#10 request mbedTLS parses back, signed by the key returned,
 * with the subject (escaped values stay one each) and the SANs; base64 both ways. */
static void test_make_csr(void **state)
{
    (void)state;
    static char csr[4096], key[2048], b64[8192], back[4096];
    size_t cl = 0, kl = 0, bl = 0, rl = 0;
    lq_tls_stats_t st;
    lq_tls_stats(&st);
    size_t before = st.arena_used;
    assert_int_equal(lq_tls_make_csr("system:node:liqo-x", "system:nodes", "liqo-x", "127.0.0.1",
                                     csr, sizeof csr, &cl, key, sizeof key, &kl), LQ_OK);
    assert_int_equal(strlen(csr), cl);
    assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
    mbedtls_x509_csr req;
    mbedtls_x509_csr_init(&req);
    assert_int_equal(mbedtls_x509_csr_parse(&req, (const unsigned char *)csr, cl + 1), 0);
    char dn[256];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &req.subject) > 0);
    assert_string_equal(dn, "CN=system:node:liqo-x, O=system:nodes");
    /* the request's key is the key returned */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_key(&pk, (const unsigned char *)key, kl + 1, NULL, 0,
                                          mbedtls_ctr_drbg_random, test_drbg()), 0);
    assert_int_equal(mbedtls_pk_check_pair(&req.pk, &pk, mbedtls_ctr_drbg_random, test_drbg()), 0);
    /* SANs: the DNS name and the IP */
    bool dns = false, ip = false;
    for (const mbedtls_x509_sequence *c = &req.subject_alt_names; c != NULL && c->buf.p; c = c->next) {
        unsigned tag = (unsigned)c->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
        dns |= tag == MBEDTLS_X509_SAN_DNS_NAME && c->buf.len == 6 && memcmp(c->buf.p, "liqo-x", 6) == 0;
        ip |= tag == MBEDTLS_X509_SAN_IP_ADDRESS && c->buf.len == 4 &&
              memcmp(c->buf.p, "\x7f\x00\x00\x01", 4) == 0;
    }
    assert_true(dns && ip);
    mbedtls_pk_free(&pk);
    mbedtls_x509_csr_free(&req);
    /* an O that tries to add a field stays one value */
    assert_int_equal(lq_tls_make_csr("a,O=system:masters", NULL, NULL, NULL, csr, sizeof csr, &cl,
                                     key, sizeof key, &kl), LQ_OK);
    mbedtls_x509_csr_init(&req);
    assert_int_equal(mbedtls_x509_csr_parse(&req, (const unsigned char *)csr, cl + 1), 0);
    int orgs = 0;
    for (const mbedtls_x509_name *n = &req.subject; n != NULL; n = n->next)
        orgs += n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0;
    assert_int_equal(orgs, 0);
    mbedtls_x509_csr_free(&req);
    /* errors */
    assert_int_equal(lq_tls_make_csr("x", NULL, NULL, "not-an-ip", csr, sizeof csr, &cl, key,
                                     sizeof key, &kl), LQ_EINVAL);
    assert_int_equal(lq_tls_make_csr("", NULL, NULL, NULL, csr, sizeof csr, &cl, key, sizeof key,
                                     &kl), LQ_EINVAL);
    assert_int_equal(lq_tls_make_csr("x", NULL, NULL, NULL, csr, 64, &cl, key, sizeof key, &kl),
                     LQ_ETOOBIG);
    lq_tls_stats(&st);
    assert_int_equal(st.arena_used, before);
    /* base64 round trip, bad input, small buffer */
    assert_int_equal(lq_tls_base64(true, "hello", 5, b64, sizeof b64, &bl), LQ_OK);
    assert_string_equal(b64, "aGVsbG8=");
    assert_int_equal(lq_tls_base64(false, b64, bl, back, sizeof back, &rl), LQ_OK);
    assert_int_equal(rl, 5);
    assert_string_equal(back, "hello");
    assert_int_equal(lq_tls_base64(false, "@@@@", 4, back, sizeof back, &rl), LQ_EPROTO);
    assert_int_equal(lq_tls_base64(true, "hello", 5, b64, 4, &bl), LQ_ETOOBIG);
}

int main(void)
{
    lq_log_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ip_san_by_ip, teardown),
        cmocka_unit_test_teardown(test_dns_san_by_dns, teardown),
        cmocka_unit_test_teardown(test_both_sans, teardown),
        cmocka_unit_test_teardown(test_name_mismatch, teardown),
        cmocka_unit_test_teardown(test_unknown_ca, teardown),
        cmocka_unit_test_teardown(test_expired_and_future, teardown),
        cmocka_unit_test_teardown(test_insecure_skip_verify, teardown),
        cmocka_unit_test_teardown(test_client_cert_auth, teardown),
        cmocka_unit_test_teardown(test_versions, teardown),
        cmocka_unit_test_teardown(test_roundtrip_tls13, teardown),
        cmocka_unit_test_teardown(test_roundtrip_tls12, teardown),
        cmocka_unit_test_teardown(test_pending, teardown),
        cmocka_unit_test_teardown(test_arena_peak, teardown),
        cmocka_unit_test_teardown(test_profile_errors, teardown),
        cmocka_unit_test_teardown(test_session_limits, teardown),
        cmocka_unit_test_teardown(test_server_handshake_and_data, teardown),
        cmocka_unit_test_teardown(test_server_peer_identity, teardown),
        cmocka_unit_test_teardown(test_server_refusals, teardown),
        cmocka_unit_test_teardown(test_server_profile_errors, teardown),
        cmocka_unit_test_teardown(test_server_client_leaves, teardown),
        cmocka_unit_test_teardown(test_server_set_ca, teardown),
        cmocka_unit_test_teardown(test_server_set_ca_during_handshake, teardown),
        cmocka_unit_test_teardown(test_self_signed, teardown),
        cmocka_unit_test_teardown(test_self_signed_errors, teardown),
        cmocka_unit_test_teardown(test_self_signed_cn_is_literal, teardown),
        cmocka_unit_test_teardown(test_cert_info, teardown),
        cmocka_unit_test_teardown(test_name_check, teardown),
        cmocka_unit_test_teardown(test_live_apiserver, teardown),
        cmocka_unit_test_teardown(test_no_heap_after_seal, teardown),
        cmocka_unit_test_teardown(test_sha256_vector, teardown),
        cmocka_unit_test_teardown(test_make_csr, teardown),
    };
    return cmocka_run_group_tests_name("tls", tests, setup, NULL);
}
