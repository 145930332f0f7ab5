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
 * TLS tuning (ciphersuites, record sizes, removing unused modules) is a
 * later issue; keep this file minimal until then.
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

#endif /* LIQOLET_MBEDTLS_CONFIG_H */
