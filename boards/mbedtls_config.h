/*
 * liqolet: mbedTLS 3.6 configuration shared by all boards.
 *
 * Selected with -DMBEDTLS_CONFIG_FILE (see mk/deps.mk, DEPS_CFLAGS). The
 * sysroot build copies this file to build/<board>/sysroot/include/
 * liqolet_mbedtls_config.h, so mbedTLS, libcoap and the agent are compiled
 * against one and the same configuration.
 *
 * It is mbedTLS's own default configuration plus the changes below. A board
 * that needs something else provides boards/<board>/mbedtls_config.h, which
 * is then used instead of this file; it may start with
 *     #include "liqolet_mbedtls_config_base.h"   (this file)
 * and #define / #undef what it changes.
 *
 * TLS 1.2 and 1.3, ECDHE-ECDSA and ECDHE-RSA, DTLS and PSK all stay as in
 * mbedTLS's default; only the record sizes are tuned
 * (end of this file).
 */
#ifndef LIQOLET_MBEDTLS_CONFIG_H
#define LIQOLET_MBEDTLS_CONFIG_H

/* mbedTLS's default configuration (include/mbedtls/mbedtls_config.h). */
#include "mbedtls/mbedtls_config.h"

/*
 * The agent confines mbedTLS's allocations to a static arena:
 * mbedtls_memory_buffer_alloc_init(arena, sizeof arena) at start-up.
 * MBEDTLS_MEMORY_BUFFER_ALLOC_C requires MBEDTLS_PLATFORM_C (default on)
 * and MBEDTLS_PLATFORM_MEMORY.
 */
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* Arena bookkeeping (bytes and blocks in use, high-water marks) for
 * lq_tls_stats: mbedtls_memory_buffer_alloc_cur_get/max_get exist only with
 * this. Costs a few counters per allocation; heap verification stays off. */
#define MBEDTLS_MEMORY_DEBUG
/* The allocator's default alignment is 4 bytes: too little for the 8-byte
 * members (pointers, size_t, uint64_t) of mbedTLS's own structures on 64-bit
 * boards (UBSan reports misaligned access) and for 64-bit loads on ARMv7. */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 8

/*
 * libcoap's DTLS backend (src/coap_mbedtls.c) needs, all on by default:
 * MBEDTLS_SSL_PROTO_DTLS, MBEDTLS_SSL_SRV_C, MBEDTLS_SSL_CLI_C,
 * MBEDTLS_SSL_COOKIE_C, MBEDTLS_SSL_DTLS_HELLO_VERIFY, MBEDTLS_TIMING_C,
 * MBEDTLS_ENTROPY_C, MBEDTLS_CTR_DRBG_C and a PSK key exchange
 * (MBEDTLS_KEY_EXCHANGE_PSK_ENABLED). Make sure nobody turns them off here.
 */
#define MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_DTLS_HELLO_VERIFY
#define MBEDTLS_SSL_COOKIE_C
#define MBEDTLS_TIMING_C
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED

/*
 * TLS client (src/kube/tls.c) tuning.
 *
 * Incoming records stay at the full 16 KiB: Go's API server does not negotiate
 * max_fragment_length, so any record it sends may be that large. Outgoing
 * records are capped at 4 KiB: the agent's requests and handshake messages
 * (ClientHello, one client certificate) fit, larger writes are split into
 * several records. libcoap's DTLS (PSK) handshake messages are far smaller.
 * (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE must stay: TLS 1.3 requires it.)
 */
#undef MBEDTLS_SSL_IN_CONTENT_LEN
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#undef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif /* LIQOLET_MBEDTLS_CONFIG_H */
