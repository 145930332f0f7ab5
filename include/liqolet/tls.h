/* liqolet: TLS client (the only module that includes mbedTLS: src/kube/tls.c).
 *
 * Contexts live in fixed tables inside tls.c; callers hold small integer handles, so
 * no mbedTLS type leaks out. All mbedTLS allocation comes from one static arena of
 * LQ_MBEDTLS_ARENA bytes (MBEDTLS_MEMORY_BUFFER_ALLOC_C).
 *
 * A "profile" is what one API server needs: the CA bundle to trust, an optional client
 * certificate and key, and whether verification is skipped. A "session" is one TLS
 * connection on a non-blocking socket from the port layer, driven by the event loop:
 * every call returns at once, with LQ_AGAIN / LQ_IO_WAIT and lq_tls_wants() telling
 * which readiness to wait for. */
#ifndef LIQOLET_TLS_H
#define LIQOLET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/port.h"

/* LQ_TLS_MAX_PROFILES, LQ_TLS_MAX_SESSIONS and the arena size: config_defaults.h */
/* Human-readable error detail kept per session and per profile. */
#define LQ_TLS_ERR_MAX 256

typedef struct lq_tls_profile_cfg {
    /* PEM (NUL included in the length, as mbedTLS wants) or DER. Borrowed for the call. */
    const unsigned char *ca;
    size_t ca_len;
    const unsigned char *cert; /* optional client certificate chain */
    size_t cert_len;
    const unsigned char *key;  /* its private key (RSA or EC), required with cert */
    size_t key_len;
    bool insecure_skip_verify; /* honoured, with a loud warning in the log */
    /* Server side (the kubelet API): cert/key are the serving certificate (required), ca
     * the client CA every peer must present a certificate of (required: no anonymous
     * client is accepted); insecure_skip_verify must be false. Sessions of a server
     * profile are started with lq_tls_accept. */
    bool server;
} lq_tls_profile_cfg_t;

typedef struct lq_tls_stats {
    size_t arena_size;
    size_t arena_used;      /* bytes currently allocated by mbedTLS */
    size_t arena_peak;      /* high-water mark */
    unsigned sessions_open;
    unsigned sessions_peak;
} lq_tls_stats_t;

/* Seeds the DRBG from lq_port_entropy and sets up the arena. Call once at start-up.
 * Returns LQ_OK or LQ_ETLS. */
lq_err_t lq_tls_init(void);

/* Parses the CA bundle and client credentials into a profile.
 * On failure err (cap bytes) gets a sentence naming what is wrong ("client key does not
 * match the certificate", "CA bundle holds no certificate", ...).
 * Returns LQ_OK, LQ_ENOSPC (profile table full), LQ_ECONFIG (unparsable input) or
 * LQ_EINVAL. */
lq_err_t lq_tls_profile_open(int *profile, const lq_tls_profile_cfg_t *cfg, char *err, size_t cap);
void lq_tls_profile_close(int profile);

/* Starts a client session on a connected descriptor (a client profile; a server profile
 * gives LQ_EINVAL).
 * server_name: the name to verify and send as SNI: a DNS name, or an IPv4/IPv6 literal
 * (then checked against the certificate's IP-address SANs and no SNI is sent).
 * Returns LQ_OK, LQ_ENOSPC (session table full), LQ_ETLS, LQ_EINVAL. */
lq_err_t lq_tls_open(int *session, int profile, lq_port_fd_t fd, const char *server_name);
/* Starts a server session on an accepted descriptor (a server profile).
 * Returns LQ_OK, LQ_ENOSPC (session table full), LQ_ETLS, LQ_EINVAL. */
lq_err_t lq_tls_accept(int *session, int profile, lq_port_fd_t fd);
/* Replaces the client CA of a server profile (the home cluster's client-ca-file changed).
 * Takes effect for handshakes that start afterwards; sessions already verified are kept.
 * On failure err says why and the old CA stays. Returns LQ_OK, LQ_ECONFIG, LQ_ENOSPC,
 * LQ_EINVAL. */
lq_err_t lq_tls_profile_set_ca(int profile, const unsigned char *ca, size_t ca_len, char *err,
                               size_t cap);
/* The verified client certificate of a server session, as Kubernetes reads it: the
 * subject's CN is the user name, each O a group. user gets the CN (cap bytes, NUL-
 * terminated); groups gets the O values one after the other, each NUL-terminated (gcap
 * bytes in all), *n_groups their count (values that do not fit are left out and counted
 * in *n_dropped). Returns LQ_OK, LQ_ENOTFOUND (no peer certificate or no CN), LQ_ETOOBIG
 * (the CN does not fit), LQ_EINVAL. */
lq_err_t lq_tls_peer_identity(int session, char *user, size_t cap, char *groups, size_t gcap,
                              size_t *n_groups, size_t *n_dropped);

/* A new ECDSA P-256 key and a self-signed serving certificate for it (what a kubelet
 * generates when it has no certificate): subject CN=cn, SANs dns (optional) and ip
 * (optional, IPv4 or IPv6 literal), valid from now - 1 h for days days, key usage
 * digitalSignature, extended key usage serverAuth. Both are written as PEM (NUL-
 * terminated; *cert_len / *key_len without the NUL). Call after lq_tls_init; mbedTLS's
 * allocations come from its arena and are freed before returning.
 * Returns LQ_OK, LQ_ETOOBIG (a buffer too small), LQ_EINVAL (bad ip or arguments; now_ms
 * before 1970, or an end after 9999-12-31), LQ_ETLS. */
lq_err_t lq_tls_make_self_signed(const char *cn, const char *dns, const char *ip, unsigned days,
                                 int64_t now_ms, char *cert, size_t cert_cap, size_t *cert_len,
                                 char *key, size_t key_cap, size_t *key_len);
/* A new ECDSA P-256 key and a certificate signing request for it (PKCS#10, PEM): subject
 * CN=cn and, when org is not NULL or "", O=org (both escaped: one value each); SANs dns and
 * ip (optional); key usage digitalSignature. For the CSR API (kubelet-serving: CN
 * system:node:<node>, O system:nodes). Returns LQ_OK, LQ_ETOOBIG, LQ_EINVAL, LQ_ETLS. */
lq_err_t lq_tls_make_csr(const char *cn, const char *org, const char *dns, const char *ip,
                         char *csr, size_t csr_cap, size_t *csr_len, char *key, size_t key_cap,
                         size_t *key_len);
/* Standard base64 of in[0..n) into out (encode), or back (decode); out is NUL-terminated,
 * *len without the NUL. Returns LQ_OK, LQ_ETOOBIG (cap too small), LQ_EPROTO (not
 * base64), LQ_EINVAL. */
lq_err_t lq_tls_base64(bool encode, const void *in, size_t n, char *out, size_t cap,
                       size_t *len);
/* When the first certificate of a PEM chain expires (ms since the epoch) and whether it
 * names ip (an IP literal) among its SANs. Returns LQ_OK, LQ_ECONFIG (unparsable),
 * LQ_EINVAL. */
lq_err_t lq_tls_cert_info(const unsigned char *pem, size_t len, const char *ip,
                          int64_t *not_after_ms, bool *has_ip);

/* The server-name check of a client session without a connection (unit tests and
 * tests/fuzz/fuzz_san.c): cert[0..len) is a leaf certificate (PEM with its NUL, or DER);
 * an IP literal server_name is matched against its iPAddress SANs (the session's verify
 * callback), any other name by mbedTLS's SAN / CN rules (what mbedtls_ssl_set_hostname
 * asks of the handshake). sans (cap >= 6 bytes) gets the SAN list a mismatch error shows.
 * Returns LQ_OK (*match set), LQ_ECONFIG (unparsable), LQ_EINVAL. */
lq_err_t lq_tls_name_check(const unsigned char *cert, size_t len, const char *server_name,
                           bool *match, char *sans, size_t cap);

/* Advances the handshake. Returns LQ_OK (done, peer verified), LQ_AGAIN (wait for
 * lq_tls_wants()), LQ_ETLS (failed; lq_tls_error() says why, e.g. "certificate signed
 * by an unknown authority", "certificate is not valid for 10.0.0.1", "certificate
 * expired on 2026-01-01"), LQ_ECLOSED. */
lq_err_t lq_tls_handshake(int session);
/* Application data, with the port layer's transport convention: > 0 bytes, or
 * LQ_IO_WAIT (see lq_tls_wants), LQ_IO_CLOSED (close_notify or EOF), LQ_IO_ERR. */
long lq_tls_send(int session, const void *buf, size_t len);
long lq_tls_recv(int session, void *buf, size_t len);
/* LQ_PORT_IN and/or LQ_PORT_OUT: what the last call that returned LQ_AGAIN/LQ_IO_WAIT
 * is waiting for. */
unsigned lq_tls_wants(int session);
/* Non-zero when decrypted bytes are buffered (invisible to poll); for the loop's
 * pending hook. */
int lq_tls_pending(int session);
/* Sends close_notify if possible (never waits) and frees the session. Idempotent for -1. */
void lq_tls_close(int session);
/* Last error text of a session (never NULL; "" when none). */
const char *lq_tls_error(int session);
/* Negotiated protocol ("TLSv1.3") and cipher suite, for logs. */
const char *lq_tls_version(int session);

void lq_tls_stats(lq_tls_stats_t *out);
/* SHA-256 of data (for names derived from cluster ids, e.g. DefaultName's suffix). No
 * allocation; usable before lq_tls_init. Returns LQ_OK, LQ_EINVAL or LQ_ETLS. */
lq_err_t lq_tls_sha256(const void *data, size_t len, unsigned char out[32]);

/* mbedTLS version string, e.g. "3.6.6". */
const char *lq_tls_library_version(void);

#endif
