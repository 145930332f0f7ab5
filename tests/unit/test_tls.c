/* Tests of the TLS client (src/kube/tls.c) against an mbedTLS server run in this process.
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
#include <unistd.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

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
    lq_tls_profile_cfg_t cfg = { ca, l1 + 1, crt, l2 + 1, key, l3 + 1, false };
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

int main(void)
{
    lq_log_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_san_by_ip),
        cmocka_unit_test(test_dns_san_by_dns),
        cmocka_unit_test(test_both_sans),
        cmocka_unit_test(test_name_mismatch),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_expired_and_future),
        cmocka_unit_test(test_insecure_skip_verify),
        cmocka_unit_test(test_client_cert_auth),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_roundtrip_tls13),
        cmocka_unit_test(test_roundtrip_tls12),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_arena_peak),
        cmocka_unit_test(test_profile_errors),
        cmocka_unit_test(test_session_limits),
        cmocka_unit_test(test_live_apiserver),
        cmocka_unit_test(test_no_heap_after_seal),
        cmocka_unit_test(test_sha256_vector),
    };
    return cmocka_run_group_tests_name("tls", tests, setup, NULL);
}
