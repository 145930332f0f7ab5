/* liqolet: TLS client over mbedTLS 3.6 (see tls.h). The only file of the agent that
 * includes mbedTLS headers.
 *
 * Memory: every mbedTLS allocation (record buffers, handshake state, parsed
 * certificates, PSA key slots) comes from one static arena handed to
 * mbedtls_memory_buffer_alloc_init; the profile and session tables are static too.
 * Randomness: a CTR_DRBG seeded (and reseeded) from lq_port_entropy for the TLS layer;
 * PSA (TLS 1.3 key schedule) keeps its own DRBG seeded from mbedTLS's platform entropy.
 *
 * Server identity: a DNS name goes to mbedtls_ssl_set_hostname (SNI + SAN/CN check).
 * An IP literal must not be sent as SNI (RFC 6066 section 3), so for it the hostname is
 * set to NULL (no SNI, no name check by mbedTLS) and the session's verify callback
 * compares the leaf certificate's iPAddress SANs (4 or 16 bytes) with the address.
 *
 * Sending: like mbedtls_ssl_write, a send that returned LQ_IO_WAIT has already taken
 * (encrypted) up to one record of the data; the caller retries with the same bytes at
 * the start of buf (it may append more). tls.c remembers how much the pending record
 * holds and reports exactly that once it is flushed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/error.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"
#include "mbedtls/version.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/x509_csr.h"
#include "mbedtls/base64.h"
#include "mbedtls/ecp.h"
#include "psa/crypto.h"

#include "liqolet/log.h"
#include "liqolet/tls.h"

#if !defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C) || !defined(MBEDTLS_MEMORY_DEBUG)
#error "boards/mbedtls_config.h must enable MBEDTLS_MEMORY_BUFFER_ALLOC_C and MBEDTLS_MEMORY_DEBUG"
#endif
#if MBEDTLS_MEMORY_ALIGN_MULTIPLE < 8
#error "MBEDTLS_MEMORY_ALIGN_MULTIPLE must be at least 8 (mbedTLS structures hold 64-bit members)"
#endif

#define MOD "tls"
#define SAN_TEXT_MAX 160
#define NAME_MAX_ 256

typedef struct profile {
    bool used;
    bool server;
    bool skip_verify;
    bool has_cert;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
} profile_t;

typedef struct session {
    bool used;
    bool server;         /* accepted (lq_tls_accept): the peer is a client */
    bool done;           /* handshake finished */
    bool io_closed;      /* transport reported EOF */
    bool io_error;       /* transport reported an error */
    bool is_ip;
    unsigned char ip[16];
    size_t ip_len;
    unsigned wants;
    size_t tx_pending;   /* bytes of the caller's data in a record not yet flushed */
    lq_err_t failed;     /* LQ_OK, or how the handshake failed (sticky) */
    int profile;
    lq_port_fd_t fd;
    char name[NAME_MAX_];
    char sans[SAN_TEXT_MAX];  /* leaf certificate's SANs, for mismatch texts */
    char not_after[32];       /* of the certificate found expired */
    char not_before[32];      /* of the certificate found not yet valid */
    char err[LQ_TLS_ERR_MAX];
    char version[96];
    mbedtls_ssl_context ssl;
} session_t;

static unsigned char arena[LQ_MBEDTLS_ARENA] __attribute__((aligned(16)));
static bool inited;
static mbedtls_ctr_drbg_context drbg;
static profile_t profiles[LQ_TLS_MAX_PROFILES];
static session_t sessions[LQ_TLS_MAX_SESSIONS];
static unsigned sessions_open, sessions_peak;

/* --- helpers ------------------------------------------------------------------------ */

/* snprintf into buf; an over-long text ends with "..." (an error text, not data). */
static void textf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void textf(char *buf, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}

static void mbed_err_text(int ret, char *buf, size_t cap)
{
#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(ret, buf, cap);
#else
    textf(buf, cap, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

static int entropy_cb(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return lq_port_entropy(buf, len) == LQ_OK ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

static session_t *session_get(int s)
{
    if (s < 0 || s >= (int)LQ_TLS_MAX_SESSIONS || !sessions[s].used)
        return NULL;
    return &sessions[s];
}

static profile_t *profile_get(int p)
{
    if (p < 0 || p >= (int)LQ_TLS_MAX_PROFILES || !profiles[p].used)
        return NULL;
    return &profiles[p];
}

/* Text form of an iPAddress SAN: dotted quad, or IPv6 with the longest zero run as "::". */
static void fmt_ip(char *buf, size_t cap, const unsigned char *p, size_t len)
{
    if (len == 4) {
        textf(buf, cap, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
        return;
    }
    if (len != 16) {
        textf(buf, cap, "<%zu-byte address>", len);
        return;
    }
    unsigned g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)p[2 * i] << 8 | p[2 * i + 1];
    int best = -1, bestlen = 1; /* only runs of two or more groups collapse */
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8 && off < cap; i++) {
        int n;
        if (i == best) {
            /* the group before wrote no ':' of its own */
            n = snprintf(buf + off, cap - off, "::");
            i += bestlen - 1;
        } else {
            n = snprintf(buf + off, cap - off, "%x%s", g[i], (i < 7 && i + 1 != best) ? ":" : "");
        }
        if (n < 0)
            return;
        off += (size_t)n;
    }
}

static void fmt_time(char *buf, size_t cap, const mbedtls_x509_time *t)
{
    textf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day, t->hour,
          t->min, t->sec);
}

/* Lists the DNS and IP SANs of crt into out ("localhost, 127.0.0.1"; cap >= 6). */
static void collect_sans(char *out, size_t cap, const mbedtls_x509_crt *crt)
{
    size_t off = 0;
    out[0] = '\0';
    for (const mbedtls_x509_sequence *cur = &crt->subject_alt_names; cur != NULL; cur = cur->next) {
        if (cur->buf.p == NULL || cur->buf.len == 0)
            continue;
        unsigned tag = (unsigned)cur->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
        char item[64];
        if (tag == MBEDTLS_X509_SAN_DNS_NAME) {
            size_t n = cur->buf.len < sizeof item - 1 ? cur->buf.len : sizeof item - 1;
            memcpy(item, cur->buf.p, n);
            item[n] = '\0';
        } else if (tag == MBEDTLS_X509_SAN_IP_ADDRESS) {
            fmt_ip(item, sizeof item, cur->buf.p, cur->buf.len);
        } else {
            continue;
        }
        int n = snprintf(out + off, cap - off, "%s%s", off ? ", " : "", item);
        if (n < 0 || (size_t)n >= cap - off) {
            memcpy(out + cap - 6, ", ...", 6); /* the list was cut */
            return;
        }
        off += (size_t)n;
    }
}

/* Does crt name the address ip[0..len) (4 or 16 bytes) among its iPAddress SANs? */
static bool ip_san_match(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
    for (const mbedtls_x509_sequence *cur = &crt->subject_alt_names; len && cur; cur = cur->next) {
        unsigned tag = (unsigned)cur->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
        if (tag == MBEDTLS_X509_SAN_IP_ADDRESS && cur->buf.len == len &&
            memcmp(cur->buf.p, ip, len) == 0)
            return true;
    }
    return false;
}

/* Called by mbedTLS for each certificate of the chain, the leaf last (depth 0). */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    session_t *s = ctx;
    if ((*flags & MBEDTLS_X509_BADCERT_EXPIRED) && s->not_after[0] == '\0')
        fmt_time(s->not_after, sizeof s->not_after, &crt->valid_to);
    if ((*flags & MBEDTLS_X509_BADCERT_FUTURE) && s->not_before[0] == '\0')
        fmt_time(s->not_before, sizeof s->not_before, &crt->valid_from);
    if (depth != 0)
        return 0;
    collect_sans(s->sans, sizeof s->sans, crt);
    if (s->is_ip && !ip_san_match(crt, s->ip, s->ip_len))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

/* The sentence for a failed certificate verification. */
static void describe_verify(session_t *s, uint32_t flags)
{
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        textf(s->err, sizeof s->err, "certificate expired on %s",
              s->not_after[0] ? s->not_after : "(unknown date)");
    } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
        textf(s->err, sizeof s->err, "certificate is not valid before %s",
              s->not_before[0] ? s->not_before : "(unknown date)");
    } else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        textf(s->err, sizeof s->err, "certificate signed by an unknown authority");
    } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        if (s->sans[0] != '\0')
            textf(s->err, sizeof s->err, "certificate is valid for %s, not %s", s->sans, s->name);
        else
            textf(s->err, sizeof s->err,
                  "certificate does not match %s (it has no DNS or IP subject alternative name)",
                  s->name);
    } else {
        char info[200];
        int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        /* one line: the info comes as newline-separated sentences */
        for (int i = 0; i < n && info[i] != '\0'; i++)
            if (info[i] == '\n')
                info[i] = (info[i + 1] == '\0') ? '\0' : ';';
        textf(s->err, sizeof s->err, "certificate rejected: %s", n > 0 ? info : "unknown reason");
    }
}

/* --- transport ---------------------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    session_t *s = ctx;
    if (len == 0)
        return 0;
    long n = lq_port_send(s->fd, buf, len);
    if (n > 0)
        return (int)n;
    if (n == LQ_IO_WAIT)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (n == LQ_IO_CLOSED)
        s->io_closed = true;
    else
        s->io_error = true;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    session_t *s = ctx;
    if (len == 0)
        return 0;
    long n = lq_port_recv(s->fd, buf, len);
    if (n > 0)
        return (int)n;
    if (n == LQ_IO_WAIT)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n == LQ_IO_CLOSED) {
        s->io_closed = true;
        return 0; /* mbedTLS: EOF */
    }
    s->io_error = true;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Maps WANT_READ/WANT_WRITE to wants bits; true when ret was one of them. */
static bool set_wants(session_t *s, int ret)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        s->wants = LQ_PORT_IN;
        return true;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        s->wants = LQ_PORT_OUT;
        return true;
    }
    return false;
}

/* --- init, profiles ----------------------------------------------------------------- */

lq_err_t lq_tls_init(void)
{
    if (inited)
        return LQ_OK;
    mbedtls_memory_buffer_alloc_init(arena, sizeof arena);
    psa_status_t ps = psa_crypto_init();
    if (ps != PSA_SUCCESS) {
        LQ_ERROR(MOD, "PSA crypto initialisation failed (status %d)", (int)ps);
        return LQ_ETLS;
    }
    mbedtls_ctr_drbg_init(&drbg);
    static const unsigned char pers[] = "liqolet-tls";
    int ret = mbedtls_ctr_drbg_seed(&drbg, entropy_cb, NULL, pers, sizeof pers - 1);
    if (ret != 0) {
        char t[96];
        mbed_err_text(ret, t, sizeof t);
        LQ_ERROR(MOD, "seeding the random generator failed: %s", t);
        mbedtls_ctr_drbg_free(&drbg);
        return LQ_ETLS;
    }
    memset(profiles, 0, sizeof profiles);
    memset(sessions, 0, sizeof sessions);
    sessions_open = sessions_peak = 0;
    inited = true;
    return LQ_OK;
}

static void profile_free(profile_t *p)
{
    mbedtls_ssl_config_free(&p->conf);
    mbedtls_x509_crt_free(&p->ca);
    mbedtls_x509_crt_free(&p->cert);
    mbedtls_pk_free(&p->key);
    memset(p, 0, sizeof *p);
}

/* A PEM input must carry its NUL in the length (mbedTLS's rule); say so plainly. */
static bool pem_without_nul(const unsigned char *b, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    if (len < sizeof tag - 1 || b[len - 1] == '\0')
        return false;
    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if (memcmp(b + i, tag, sizeof tag - 1) == 0)
            return true;
    return false;
}

static lq_err_t parse_fail(char *err, size_t cap, const char *what, int ret)
{
    char t[128];
    mbed_err_text(ret, t, sizeof t);
    textf(err, cap, "%s could not be parsed: %s", what, t);
    return ret == MBEDTLS_ERR_X509_ALLOC_FAILED || ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? LQ_ENOSPC
                                                                                      : LQ_ECONFIG;
}

lq_err_t lq_tls_profile_open(int *profile, const lq_tls_profile_cfg_t *cfg, char *err, size_t cap)
{
    char dummy[1];
    if (err == NULL || cap == 0) {
        err = dummy;
        cap = sizeof dummy;
    }
    err[0] = '\0';
    if (profile == NULL || cfg == NULL) {
        textf(err, cap, "no profile or configuration given");
        return LQ_EINVAL;
    }
    *profile = -1;
    if (!inited) {
        textf(err, cap, "TLS layer not initialised (lq_tls_init)");
        return LQ_EINVAL;
    }
    if (cfg->server && (cfg->cert == NULL || cfg->ca == NULL || cfg->insecure_skip_verify)) {
        textf(err, cap, cfg->cert == NULL ? "server profile without a serving certificate"
                        : cfg->ca == NULL ? "server profile without a client CA"
                                          : "a server profile always verifies its clients");
        return LQ_ECONFIG;
    }
    /* what the credentials are called in texts: a server profile's serve, a client's log in */
    const char *role = cfg->server ? "serving" : "client";
    if ((cfg->cert != NULL) != (cfg->key != NULL)) {
        textf(err, cap, cfg->cert ? "%s certificate given without its private key"
                                  : "%s key given without its certificate", role);
        return LQ_ECONFIG;
    }
    if (cfg->ca == NULL && !cfg->insecure_skip_verify) {
        textf(err, cap, "no CA bundle to verify the server with");
        return LQ_ECONFIG;
    }
    int slot = -1;
    for (int i = 0; i < (int)LQ_TLS_MAX_PROFILES; i++)
        if (!profiles[i].used) {
            slot = i;
            break;
        }
    if (slot < 0) {
        textf(err, cap, "TLS profile table full (%d profiles)", (int)LQ_TLS_MAX_PROFILES);
        return LQ_ENOSPC;
    }
    profile_t *p = &profiles[slot];
    memset(p, 0, sizeof *p);
    mbedtls_x509_crt_init(&p->ca);
    mbedtls_x509_crt_init(&p->cert);
    mbedtls_pk_init(&p->key);
    mbedtls_ssl_config_init(&p->conf);
    p->skip_verify = cfg->insecure_skip_verify;
    p->server = cfg->server;
    lq_err_t e = LQ_OK;
    int ret;

    if (cfg->ca != NULL) {
        if (pem_without_nul(cfg->ca, cfg->ca_len)) {
            textf(err, cap, "CA bundle: PEM text must include its terminating NUL in the length");
            e = LQ_EINVAL;
            goto fail;
        }
        ret = mbedtls_x509_crt_parse(&p->ca, cfg->ca, cfg->ca_len);
        if (ret < 0) {
            e = parse_fail(err, cap, "CA bundle", ret);
            goto fail;
        }
        if (p->ca.version == 0) {
            textf(err, cap, "CA bundle holds no certificate");
            e = LQ_ECONFIG;
            goto fail;
        }
        if (ret > 0)
            LQ_WARN(MOD, "CA bundle: %d certificate(s) could not be parsed and are ignored", ret);
    }
    if (cfg->cert != NULL) {
        if (pem_without_nul(cfg->cert, cfg->cert_len) || pem_without_nul(cfg->key, cfg->key_len)) {
            textf(err, cap, "%s credentials: PEM text must include its terminating NUL "
                            "in the length", role);
            e = LQ_EINVAL;
            goto fail;
        }
        ret = mbedtls_x509_crt_parse(&p->cert, cfg->cert, cfg->cert_len);
        if (ret != 0) {
            if (ret > 0)
                textf(err, cap, "%s certificate could not be parsed (%d bad certificate(s))",
                      role, ret);
            e = ret > 0 ? LQ_ECONFIG
                        : parse_fail(err, cap, cfg->server ? "serving certificate" : "client certificate",
                                     ret);
            goto fail;
        }
        ret = mbedtls_pk_parse_key(&p->key, cfg->key, cfg->key_len, NULL, 0,
                                   mbedtls_ctr_drbg_random, &drbg);
        if (ret != 0) {
            e = parse_fail(err, cap, cfg->server ? "serving key" : "client key", ret);
            goto fail;
        }
        ret = mbedtls_pk_check_pair(&p->cert.pk, &p->key, mbedtls_ctr_drbg_random, &drbg);
        if (ret != 0) {
            textf(err, cap, "%s key does not match the certificate", role);
            e = LQ_ECONFIG;
            goto fail;
        }
        p->has_cert = true;
    }

    ret = mbedtls_ssl_config_defaults(&p->conf, p->server ? MBEDTLS_SSL_IS_SERVER
                                                          : MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        char t[96];
        mbed_err_text(ret, t, sizeof t);
        textf(err, cap, "TLS configuration failed: %s", t);
        e = LQ_ETLS;
        goto fail;
    }
    mbedtls_ssl_conf_min_tls_version(&p->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    /* A server stays at TLS 1.2 (ECDHE, AEAD): with 1.3, mbedTLS 3.6 sends the alert that
     * refuses a client certificate under the wrong keys, so the client only sees "bad
     * record MAC" (Mbed-TLS/mbedtls#10877) instead of "unknown certificate authority"
     * or "certificate required". An operator whose API server is refused must see why. */
    mbedtls_ssl_conf_max_tls_version(&p->conf, p->server ? MBEDTLS_SSL_VERSION_TLS1_2
                                                         : MBEDTLS_SSL_VERSION_TLS1_3);
    mbedtls_ssl_conf_rng(&p->conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&p->conf, p->skip_verify ? MBEDTLS_SSL_VERIFY_NONE
                                                       : MBEDTLS_SSL_VERIFY_REQUIRED);
    if (cfg->ca != NULL)
        mbedtls_ssl_conf_ca_chain(&p->conf, &p->ca, NULL);
    if (p->has_cert) {
        ret = mbedtls_ssl_conf_own_cert(&p->conf, &p->cert, &p->key);
        if (ret != 0) {
            char t[96];
            mbed_err_text(ret, t, sizeof t);
            textf(err, cap, "%s certificate not usable: %s", p->server ? "serving" : "client", t);
            e = ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? LQ_ENOSPC : LQ_ECONFIG;
            goto fail;
        }
    }
    p->used = true;
    *profile = slot;
    return LQ_OK;
fail:
    profile_free(p);
    return e;
}

void lq_tls_profile_close(int profile)
{
    profile_t *p = profile_get(profile);
    if (p == NULL)
        return;
    for (int i = 0; i < (int)LQ_TLS_MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].profile == profile)
            lq_tls_close(i); /* a session must not outlive its configuration */
    profile_free(p);
}

/* --- sessions ----------------------------------------------------------------------- */

lq_err_t lq_tls_open(int *session, int profile, lq_port_fd_t fd, const char *server_name)
{
    if (session == NULL)
        return LQ_EINVAL;
    *session = -1;
    profile_t *p = profile_get(profile);
    if (p == NULL || p->server || fd < 0 || server_name == NULL || server_name[0] == '\0')
        return LQ_EINVAL; /* a server profile's sessions start with lq_tls_accept */
    size_t nlen = strlen(server_name);
    if (nlen >= NAME_MAX_) {
        LQ_WARN(MOD, "server name longer than %d bytes", NAME_MAX_ - 1);
        return LQ_EINVAL;
    }
    int slot = -1;
    for (int i = 0; i < (int)LQ_TLS_MAX_SESSIONS; i++)
        if (!sessions[i].used) {
            slot = i;
            break;
        }
    if (slot < 0) {
        LQ_WARN(MOD, "TLS session table full (%d sessions); cannot connect to %s",
                (int)LQ_TLS_MAX_SESSIONS, server_name);
        return LQ_ENOSPC;
    }
    session_t *s = &sessions[slot];
    memset(s, 0, sizeof *s);
    s->profile = profile;
    s->fd = fd;
    memcpy(s->name, server_name, nlen + 1);
    unsigned char ipbuf[16];
    s->ip_len = mbedtls_x509_crt_parse_cn_inet_pton(server_name, ipbuf);
    s->is_ip = s->ip_len == 4 || s->ip_len == 16;
    if (s->is_ip)
        memcpy(s->ip, ipbuf, s->ip_len);

    mbedtls_ssl_init(&s->ssl);
    int ret = mbedtls_ssl_setup(&s->ssl, &p->conf);
    if (ret == 0)
        ret = mbedtls_ssl_set_hostname(&s->ssl, s->is_ip ? NULL : s->name);
    if (ret != 0) {
        char t[96];
        mbed_err_text(ret, t, sizeof t);
        LQ_WARN(MOD, "cannot start a TLS session with %s: %s", server_name, t);
        mbedtls_ssl_free(&s->ssl);
        memset(s, 0, sizeof *s);
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? LQ_ENOSPC
               : ret == MBEDTLS_ERR_SSL_BAD_INPUT_DATA ? LQ_EINVAL
                                                       : LQ_ETLS;
    }
    mbedtls_ssl_set_verify(&s->ssl, verify_cb, s);
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    s->used = true;
    s->wants = LQ_PORT_OUT; /* the ClientHello goes first */
    if (++sessions_open > sessions_peak)
        sessions_peak = sessions_open;
    if (p->skip_verify)
        LQ_WARN(MOD,
                "INSECURE: TLS certificate verification is DISABLED for %s "
                "(insecure-skip-tls-verify); anyone on the network path can impersonate this "
                "server and read the credentials sent to it",
                server_name);
    *session = slot;
    return LQ_OK;
}

lq_err_t lq_tls_accept(int *session, int profile, lq_port_fd_t fd)
{
    if (session == NULL)
        return LQ_EINVAL;
    *session = -1;
    profile_t *p = profile_get(profile);
    if (p == NULL || !p->server || fd < 0)
        return LQ_EINVAL;
    int slot = -1;
    for (int i = 0; i < (int)LQ_TLS_MAX_SESSIONS; i++)
        if (!sessions[i].used) {
            slot = i;
            break;
        }
    if (slot < 0)
        return LQ_ENOSPC; /* the caller says who was refused */
    session_t *s = &sessions[slot];
    memset(s, 0, sizeof *s);
    s->profile = profile;
    s->fd = fd;
    s->server = true;
    textf(s->name, sizeof s->name, "client");
    mbedtls_ssl_init(&s->ssl);
    int ret = mbedtls_ssl_setup(&s->ssl, &p->conf);
    if (ret != 0) {
        mbedtls_ssl_free(&s->ssl);
        memset(s, 0, sizeof *s);
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? LQ_ENOSPC : LQ_ETLS;
    }
    mbedtls_ssl_set_verify(&s->ssl, verify_cb, s);
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    s->used = true;
    s->wants = LQ_PORT_IN; /* the ClientHello comes first */
    if (++sessions_open > sessions_peak)
        sessions_peak = sessions_open;
    *session = slot;
    return LQ_OK;
}

lq_err_t lq_tls_profile_set_ca(int profile, const unsigned char *ca, size_t ca_len, char *err,
                               size_t cap)
{
    char dummy[1];
    if (err == NULL || cap == 0) {
        err = dummy;
        cap = sizeof dummy;
    }
    err[0] = '\0';
    profile_t *p = profile_get(profile);
    if (p == NULL || ca == NULL || ca_len == 0) {
        textf(err, cap, "no profile or no CA given");
        return LQ_EINVAL;
    }
    if (pem_without_nul(ca, ca_len)) {
        textf(err, cap, "CA bundle: PEM text must include its terminating NUL in the length");
        return LQ_EINVAL;
    }
    mbedtls_x509_crt fresh;
    mbedtls_x509_crt_init(&fresh);
    int ret = mbedtls_x509_crt_parse(&fresh, ca, ca_len);
    if (ret < 0 || fresh.version == 0) {
        lq_err_t e = ret < 0 ? parse_fail(err, cap, "CA bundle", ret) : LQ_ECONFIG;
        if (ret >= 0)
            textf(err, cap, "CA bundle holds no certificate");
        mbedtls_x509_crt_free(&fresh);
        return e;
    }
    /* A handshake in progress reads the chain when it verifies: those are ended (their
     * clients reconnect); sessions already verified do not use it any more. */
    for (int i = 0; i < (int)LQ_TLS_MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].profile == profile && !sessions[i].done) {
            sessions[i].failed = LQ_ETLS;
            textf(sessions[i].err, sizeof sessions[i].err, "client CA replaced during the handshake");
        }
    mbedtls_x509_crt_free(&p->ca);
    p->ca = fresh; /* the chain's first element is the struct itself: moved, not copied */
    mbedtls_ssl_conf_ca_chain(&p->conf, &p->ca, NULL);
    return LQ_OK;
}

/* Copies an X.509 name value (not NUL-terminated) into dst; false when it does not fit. */
static bool name_copy(const mbedtls_x509_buf *v, char *dst, size_t cap)
{
    if (v->len >= cap || memchr(v->p, '\0', v->len) != NULL)
        return false;
    memcpy(dst, v->p, v->len);
    dst[v->len] = '\0';
    return true;
}

lq_err_t lq_tls_peer_identity(int session, char *user, size_t cap, char *groups, size_t gcap,
                              size_t *n_groups, size_t *n_dropped)
{
    session_t *s = session_get(session);
    if (s == NULL || !s->done || user == NULL || cap == 0 || n_groups == NULL ||
        (groups == NULL && gcap > 0))
        return LQ_EINVAL;
    user[0] = '\0';
    *n_groups = 0;
    if (n_dropped)
        *n_dropped = 0;
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&s->ssl);
    if (crt == NULL)
        return LQ_ENOTFOUND;
    bool have_cn = false;
    size_t off = 0;
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p == NULL)
            continue;
        if (!have_cn && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            if (!name_copy(&n->val, user, cap))
                return LQ_ETOOBIG;
            have_cn = true;
        } else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0) {
            if (off < gcap && name_copy(&n->val, groups + off, gcap - off)) {
                off += n->val.len + 1;
                (*n_groups)++;
            } else if (n_dropped) {
                (*n_dropped)++;
            }
        }
    }
    return have_cn && user[0] ? LQ_OK : LQ_ENOTFOUND;
}

/* A fresh ECDSA P-256 key pair into an initialised pk (the kubelet API's serving key and
 * its certificate request): 0 or an mbedTLS error. */
static int new_p256_key(mbedtls_pk_context *pk)
{
    int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, &drbg);
    return ret;
}

/* "YYYYMMDDhhmmss" (UTC) for mbedtls_x509write_crt_set_validity. */
static void x509_time(char out[16], int64_t ms)
{
    /* floor division: an instant before 1970 (now - 1 h on a board whose clock starts at the
     * epoch) is a day before, not a negative time of day */
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil from days (Howard Hinnant's algorithm), days since 1970-01-01 */
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    unsigned v[6] = { (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u,
                      (unsigned)(rem / 3600) % 100u, (unsigned)(rem % 3600 / 60) % 100u,
                      (unsigned)(rem % 60) % 100u };
    (void)snprintf(out, 16, "%04u%02u%02u%02u%02u%02u", v[0], v[1], v[2], v[3], v[4], v[5]);
}

/* SANs of a new certificate or request: dns (optional), ip (optional, a literal). san[0]
 * links to san[1] when both are there; *n their count. false for a bad ip. */
static bool san_list(const char *dns, const char *ip, mbedtls_x509_san_list san[2],
                     unsigned char ipb[16], size_t *n)
{
    size_t iplen = 0;
    *n = 0;
    memset(san, 0, 2 * sizeof *san);
    if (ip != NULL && ip[0] != '\0') {
        iplen = mbedtls_x509_crt_parse_cn_inet_pton(ip, ipb);
        if (iplen != 4 && iplen != 16)
            return false;
    }
    if (dns != NULL && dns[0] != '\0') {
        san[*n].node.type = MBEDTLS_X509_SAN_DNS_NAME;
        san[*n].node.san.unstructured_name.p = (unsigned char *)(uintptr_t)dns;
        san[*n].node.san.unstructured_name.len = strlen(dns);
        (*n)++;
    }
    if (iplen) {
        san[*n].node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
        san[*n].node.san.unstructured_name.p = ipb;
        san[*n].node.san.unstructured_name.len = iplen;
        (*n)++;
    }
    if (*n == 2)
        san[0].next = &san[1];
    return true;
}

/* Appends "<type>=<value>" to a subject in mbedTLS's syntax (RFC 4514), every character
 * with a meaning there escaped: "node,O=system:masters" stays one value. false when it
 * does not fit cap. */
static bool dn_append(char *dn, size_t cap, const char *type, const char *value)
{
    size_t o = strlen(dn);
    int n = snprintf(dn + o, cap - o, "%s%s=", o ? "," : "", type);
    if (n < 0 || (size_t)n >= cap - o)
        return false;
    o += (size_t)n;
    for (const char *c = value; *c != '\0'; c++) {
        if (o + 3 >= cap)
            return false;
        if (strchr(",=+<>#;\"\\", *c) != NULL)
            dn[o++] = '\\';
        dn[o++] = *c;
    }
    dn[o] = '\0';
    return true;
}

/* After writing a certificate or request PEM (ret): the key's PEM too, and the outcome
 * as an lq_err_t with both lengths set on success. */
static lq_err_t pem_pair(int ret, mbedtls_pk_context *pk, const char *pem, size_t *pem_len,
                         char *key, size_t key_cap, size_t *key_len)
{
    if (ret == 0)
        ret = mbedtls_pk_write_key_pem(pk, (unsigned char *)key, key_cap);
    if (ret == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL || ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL)
        return LQ_ETOOBIG;
    if (ret != 0)
        return LQ_ETLS;
    *pem_len = strlen(pem);
    *key_len = strlen(key);
    return LQ_OK;
}

lq_err_t lq_tls_make_csr(const char *cn, const char *org, const char *dns, const char *ip,
                         char *csr, size_t csr_cap, size_t *csr_len, char *key, size_t key_cap,
                         size_t *key_len)
{
    if (!inited || cn == NULL || cn[0] == '\0' || strlen(cn) > 64 ||
        (org != NULL && strlen(org) > 64) || csr == NULL || key == NULL || csr_len == NULL ||
        key_len == NULL)
        return LQ_EINVAL;
    mbedtls_x509_san_list san[2];
    unsigned char ipb[16];
    size_t nsan = 0;
    char subject[2 * (2 * 64 + 4) + 2] = "";
    if (!san_list(dns, ip, san, ipb, &nsan) || !dn_append(subject, sizeof subject, "CN", cn) ||
        (org != NULL && org[0] != '\0' && !dn_append(subject, sizeof subject, "O", org)))
        return LQ_EINVAL;
    lq_err_t e = LQ_ETLS;
    mbedtls_pk_context pk;
    mbedtls_x509write_csr w;
    mbedtls_pk_init(&pk);
    mbedtls_x509write_csr_init(&w);
    if (new_p256_key(&pk) != 0)
        goto out;
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&w, &pk);
    if (mbedtls_x509write_csr_set_subject_name(&w, subject) != 0 ||
        mbedtls_x509write_csr_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
        (nsan && mbedtls_x509write_csr_set_subject_alternative_name(&w, san) != 0))
        goto out;
    e = pem_pair(mbedtls_x509write_csr_pem(&w, (unsigned char *)csr, csr_cap,
                                           mbedtls_ctr_drbg_random, &drbg),
                 &pk, csr, csr_len, key, key_cap, key_len);
out:
    mbedtls_x509write_csr_free(&w);
    mbedtls_pk_free(&pk);
    return e;
}

lq_err_t lq_tls_base64(bool encode, const void *in, size_t n, char *out, size_t cap,
                       size_t *len)
{
    if ((in == NULL && n > 0) || out == NULL || len == NULL || cap == 0)
        return LQ_EINVAL;
    size_t olen = 0;
    int ret = encode ? mbedtls_base64_encode((unsigned char *)out, cap - 1, &olen, in, n)
                     : mbedtls_base64_decode((unsigned char *)out, cap - 1, &olen, in, n);
    if (ret == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return LQ_ETOOBIG;
    if (ret != 0)
        return LQ_EPROTO;
    out[olen] = '\0';
    *len = olen;
    return LQ_OK;
}

lq_err_t lq_tls_make_self_signed(const char *cn, const char *dns, const char *ip, unsigned days,
                                 int64_t now_ms, char *cert, size_t cert_cap, size_t *cert_len,
                                 char *key, size_t key_cap, size_t *key_len)
{
    if (!inited || cn == NULL || cn[0] == '\0' || days == 0 || cert == NULL || key == NULL ||
        cert_len == NULL || key_len == NULL || strlen(cn) > 64)
        return LQ_EINVAL;
    /* X.509 times have four-digit years: the end must come before 10000-01-01 (a later
     * year would be written cut to four digits, e.g. 10240 as 0240). */
    const int64_t year_10000_ms = INT64_C(253402300800000);
    if (now_ms < 0 || now_ms >= year_10000_ms ||
        (int64_t)days * 86400 * 1000 >= year_10000_ms - now_ms)
        return LQ_EINVAL;
    mbedtls_x509_san_list san[2];
    unsigned char ipb[16];
    size_t nsan = 0;
    /* "CN=" and the name with every character that mbedTLS's subject syntax (RFC 4514)
     * gives a meaning to escaped: "node,O=system:masters" is one CN, not a CN and an O. */
    char subject[3 + 2 * 64 + 4] = "";
    if (!san_list(dns, ip, san, ipb, &nsan) || !dn_append(subject, sizeof subject, "CN", cn))
        return LQ_EINVAL;
    lq_err_t e = LQ_ETLS;
    mbedtls_pk_context pk;
    mbedtls_x509write_cert w;
    mbedtls_pk_init(&pk);
    mbedtls_x509write_crt_init(&w);
    char from[16], to[16];
    unsigned char serial[16];
    x509_time(from, now_ms - 3600 * 1000);
    x509_time(to, now_ms + (int64_t)days * 86400 * 1000);
    if (mbedtls_ctr_drbg_random(&drbg, serial, sizeof serial) != 0)
        goto out;
    serial[0] &= 0x7f; /* a positive INTEGER */
    serial[0] |= 0x01; /* no leading zero byte */
    if (new_p256_key(&pk) != 0)
        goto out;
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &pk);
    mbedtls_x509write_crt_set_issuer_key(&w, &pk);
    static const unsigned char server_auth[] = MBEDTLS_OID_SERVER_AUTH;
    mbedtls_asn1_sequence eku = { { MBEDTLS_ASN1_OID, sizeof server_auth - 1,
                                    (unsigned char *)(uintptr_t)server_auth }, NULL };
    if (mbedtls_x509write_crt_set_subject_name(&w, subject) != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&w, subject) != 0 ||
        mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof serial) != 0 ||
        mbedtls_x509write_crt_set_validity(&w, from, to) != 0 ||
        mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1) != 0 ||
        mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
        mbedtls_x509write_crt_set_ext_key_usage(&w, &eku) != 0 ||
        (nsan && mbedtls_x509write_crt_set_subject_alternative_name(&w, san) != 0))
        goto out;
    e = pem_pair(mbedtls_x509write_crt_pem(&w, (unsigned char *)cert, cert_cap,
                                           mbedtls_ctr_drbg_random, &drbg),
                 &pk, cert, cert_len, key, key_cap, key_len);
out:
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&pk);
    return e;
}

lq_err_t lq_tls_cert_info(const unsigned char *pem, size_t len, const char *ip,
                          int64_t *not_after_ms, bool *has_ip)
{
    if (pem == NULL || len == 0 || not_after_ms == NULL || has_ip == NULL)
        return LQ_EINVAL;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    lq_err_t e = LQ_ECONFIG;
    if (mbedtls_x509_crt_parse(&crt, pem, len) < 0 || crt.version == 0)
        goto out;
    const mbedtls_x509_time *t = &crt.valid_to;
    /* days from civil (inverse of x509_time) */
    int64_t y = t->year - (t->mon <= 2), era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400, mp = t->mon > 2 ? t->mon - 3 : t->mon + 9;
    int64_t doy = (153 * mp + 2) / 5 + t->day - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    *not_after_ms = ((days * 86400) + t->hour * 3600 + t->min * 60 + t->sec) * 1000;
    unsigned char ipb[16];
    size_t iplen = ip ? mbedtls_x509_crt_parse_cn_inet_pton(ip, ipb) : 0;
    *has_ip = ip_san_match(&crt, ipb, iplen);
    e = LQ_OK;
out:
    mbedtls_x509_crt_free(&crt);
    return e;
}

lq_err_t lq_tls_name_check(const unsigned char *cert, size_t len, const char *server_name,
                           bool *match, char *sans, size_t cap)
{
    if (cert == NULL || len == 0 || server_name == NULL || match == NULL || sans == NULL ||
        cap < 6)
        return LQ_EINVAL;
    *match = false;
    sans[0] = '\0';
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    lq_err_t e = LQ_ECONFIG;
    if (mbedtls_x509_crt_parse(&crt, cert, len) < 0 || crt.version == 0)
        goto out;
    collect_sans(sans, cap, &crt);
    unsigned char ipb[16];
    size_t iplen = mbedtls_x509_crt_parse_cn_inet_pton(server_name, ipb);
    if (iplen == 4 || iplen == 16) {
        *match = ip_san_match(&crt, ipb, iplen); /* verify_cb's check */
    } else {
        /* what mbedtls_ssl_set_hostname asks of the handshake: only the name flag is read
         * (the chain is not, and a certificate alone never verifies) */
        uint32_t flags = 0;
        (void)mbedtls_x509_crt_verify(&crt, &crt, NULL, server_name, &flags, NULL, NULL);
        *match = !(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
    }
    e = LQ_OK;
out:
    mbedtls_x509_crt_free(&crt);
    return e;
}

lq_err_t lq_tls_handshake(int session)
{
    session_t *s = session_get(session);
    if (s == NULL)
        return LQ_EINVAL;
    if (s->done)
        return LQ_OK;
    if (s->failed != LQ_OK)
        return s->failed; /* failed before; the session is dead */
    int ret = mbedtls_ssl_handshake(&s->ssl);
    if (ret == 0) {
        s->done = true;
        s->wants = 0;
        textf(s->version, sizeof s->version, "%s %s", mbedtls_ssl_get_version(&s->ssl),
              mbedtls_ssl_get_ciphersuite(&s->ssl));
        LQ_DEBUG(MOD, "TLS session with %s: %s", s->name, s->version);
        return LQ_OK;
    }
    if (set_wants(s, ret))
        return LQ_AGAIN;
    if (s->io_closed || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        textf(s->err, sizeof s->err, "connection closed by the %s during the TLS handshake",
              s->server ? "client" : "server");
        s->failed = LQ_ECLOSED;
        return LQ_ECLOSED;
    }
    uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
    if (flags != 0 && flags != (uint32_t)-1) {
        profile_t *p = profile_get(s->profile);
        if (p != NULL && p->server && (flags & MBEDTLS_X509_BADCERT_MISSING))
            /* mbedTLS refuses a missing client certificate without an alert: the client
             * would see the connection end and nothing else (Go's client also sends none
             * when its certificate's issuer is not among the CAs the server names) */
            (void)mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                                 MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        describe_verify(s, flags);
        s->failed = LQ_ETLS;
        return LQ_ETLS;
    }
    char t[128];
    mbed_err_text(ret, t, sizeof t);
    if (s->io_error)
        textf(s->err, sizeof s->err, "TLS handshake failed: transport error (%s)", t);
    else
        textf(s->err, sizeof s->err, "TLS handshake failed: %s", t);
    s->failed = LQ_ETLS;
    return LQ_ETLS;
}

long lq_tls_send(int session, const void *buf, size_t len)
{
    session_t *s = session_get(session);
    if (s == NULL || buf == NULL || len == 0 || !s->done)
        return LQ_IO_ERR;
    size_t n = len;
    if (s->tx_pending != 0) {
        if (len < s->tx_pending) {
            textf(s->err, sizeof s->err,
                  "send retried with %zu bytes after a partial record of %zu bytes", len,
                  s->tx_pending);
            return LQ_IO_ERR;
        }
        n = s->tx_pending;
    } else {
        int max = mbedtls_ssl_get_max_out_record_payload(&s->ssl);
        if (max > 0 && n > (size_t)max)
            n = (size_t)max;
    }
    if (n > (size_t)INT32_MAX)
        n = (size_t)INT32_MAX;
    int ret = mbedtls_ssl_write(&s->ssl, buf, n);
    if (ret > 0) {
        s->tx_pending = 0;
        s->wants = 0;
        return (long)ret;
    }
    if (set_wants(s, ret)) {
        s->tx_pending = n;
        return LQ_IO_WAIT;
    }
    if (s->io_closed)
        return LQ_IO_CLOSED;
    char t[128];
    mbed_err_text(ret, t, sizeof t);
    textf(s->err, sizeof s->err, "TLS send failed: %s", t);
    return LQ_IO_ERR;
}

long lq_tls_recv(int session, void *buf, size_t len)
{
    session_t *s = session_get(session);
    if (s == NULL || buf == NULL || len == 0 || !s->done)
        return LQ_IO_ERR;
    for (int tries = 0; tries < 8; tries++) {
        int ret = mbedtls_ssl_read(&s->ssl, buf, len);
        if (ret > 0) {
            s->wants = 0; /* wants describes only a call that has to wait */
            return (long)ret;
        }
        if (set_wants(s, ret))
            return LQ_IO_WAIT;
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF)
            return LQ_IO_CLOSED;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_PROTO_TLS1_3)
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue; /* TLS 1.3 ticket: not used; read on */
#endif
        if (s->io_closed)
            return LQ_IO_CLOSED;
        char t[128];
        mbed_err_text(ret, t, sizeof t);
        textf(s->err, sizeof s->err, "TLS receive failed: %s", t);
        return LQ_IO_ERR;
    }
    s->wants = LQ_PORT_IN;
    return LQ_IO_WAIT;
}

unsigned lq_tls_wants(int session)
{
    session_t *s = session_get(session);
    return s != NULL ? s->wants : 0u;
}

int lq_tls_pending(int session)
{
    session_t *s = session_get(session);
    if (s == NULL || !s->done)
        return 0;
    return mbedtls_ssl_get_bytes_avail(&s->ssl) > 0 || mbedtls_ssl_check_pending(&s->ssl) != 0;
}

/* The descriptor stays open: it belongs to the caller, who closes it with the port. */
void lq_tls_close(int session)
{
    session_t *s = session_get(session);
    if (s == NULL)
        return;
    if (s->done && !s->io_closed && !s->io_error)
        (void)mbedtls_ssl_close_notify(&s->ssl); /* best effort, never waits */
    mbedtls_ssl_free(&s->ssl);
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (sessions_open > 0)
        sessions_open--;
}

const char *lq_tls_error(int session)
{
    session_t *s = session_get(session);
    return s != NULL ? s->err : "";
}

const char *lq_tls_version(int session)
{
    session_t *s = session_get(session);
    return s != NULL ? s->version : "";
}

void lq_tls_stats(lq_tls_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    out->arena_size = sizeof arena;
    if (inited) {
        /* Payload bytes plus one block header (8 words) per block: what the arena holds. */
        size_t used = 0, blocks = 0, peak = 0, peak_blocks = 0;
        mbedtls_memory_buffer_alloc_cur_get(&used, &blocks);
        mbedtls_memory_buffer_alloc_max_get(&peak, &peak_blocks);
        out->arena_used = used + blocks * 8 * sizeof(void *);
        out->arena_peak = peak + peak_blocks * 8 * sizeof(void *);
        if (out->arena_peak < out->arena_used)
            out->arena_peak = out->arena_used;
    }
    out->sessions_open = sessions_open;
    out->sessions_peak = sessions_peak;
}

const char *lq_tls_library_version(void)
{
    return MBEDTLS_VERSION_STRING;
}

lq_err_t lq_tls_sha256(const void *data, size_t len, unsigned char out[32])
{
    if ((data == NULL && len > 0) || out == NULL)
        return LQ_EINVAL;
    /* The one-shot SHA-256 works before lq_tls_init: it allocates nothing. */
    return mbedtls_sha256((const unsigned char *)data, len, out, 0) == 0 ? LQ_OK : LQ_ETLS;
}
