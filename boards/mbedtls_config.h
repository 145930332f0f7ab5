/*
 * liqolet: mbedTLS 3.6 configuration shared by all boards.
 *
 * Selected with -DMBEDTLS_CONFIG_FILE (see mk/deps.mk, DEPS_CFLAGS). The
 * sysroot build copies this file to build/<board>/sysroot/include/
 * liqolet_mbedtls_config.h, so mbedTLS, libcoap and the agent are compiled
 * against one and the same configuration. A board that needs something else
 * provides boards/<board>/mbedtls_config.h, which is then used instead; it may
 * start with
 *     #include "liqolet_mbedtls_config_base.h"   (this file)
 * and #define / #undef what it changes.
 *
 * This is a complete configuration written for what the agent talks, not
 * mbedTLS's default with changes: everything not listed here is off. What it
 * must speak (docs/building.md, "mbedTLS configuration", says why each piece
 * is here and what was measured):
 *   - TLS 1.3 and 1.2 client to kube-apiservers (Go's crypto/tls): ECDHE with
 *     X25519, P-256 or P-384; AES-128/256-GCM and ChaCha20-Poly1305; server
 *     certificates signed with RSA (PKCS#1 v1.5 or PSS) or ECDSA; client
 *     certificates with RSA or EC keys (kubeadm-style RSA PKIs, k3s-style
 *     ECDSA P-256 PKIs);
 *   - TLS 1.2 server for the kubelet API (ECDSA P-256 serving key, client
 *     certificates verified against the home cluster's client CA);
 *   - DTLS 1.2 with a pre-shared key for the CoAP management endpoint
 *     (libcoap's mbedTLS backend; AES-CCM-8 is CoAP's mandatory suite);
 *   - X.509: parse certificates and keys (PEM, DER), write a self-signed
 *     certificate and a certificate request, write an EC key.
 * Not here (cut after measuring, see the docs): TLS 1.2 CBC and static-RSA
 * suites, DHE, renegotiation, session tickets and caches, ALPN, DTLS
 * connection IDs, CRLs, encrypted private keys (PKCS#5/#8/#12,
 * MD5, DES), Camellia, ARIA, CMAC, SHA-3, RIPEMD-160, curves other than
 * X25519/P-256/P-384, RSA key generation, the net and debug modules, self
 * tests and PSA key storage.
 */
#ifndef LIQOLET_MBEDTLS_CONFIG_H
#define LIQOLET_MBEDTLS_CONFIG_H

/* --- platform ------------------------------------------------------------------ */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE /* certificate validity */
#define MBEDTLS_FS_IO /* libcoap links mbedtls_x509_crt_parse_file (PKI mode; unused) */
#define MBEDTLS_PLATFORM_C
/*
 * The agent confines mbedTLS's allocations to a static arena:
 * mbedtls_memory_buffer_alloc_init(arena, sizeof arena) at start-up.
 * tools/deps/patches/mbedtls-*-arena-lazy.patch keeps it from clearing the
 * whole arena there (the arena is static, so already zero): only the pages
 * mbedTLS really uses become resident.
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
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_TIMING_C /* libcoap's DTLS retransmission timers */
#define MBEDTLS_VERSION_C /* libcoap's configure looks for mbedtls_version_get_string */
/* Error texts ("X509 - Certificate verification failed ...") in the agent's
 * messages. About 10 KiB of strings; a board short of flash may #undef it and
 * get "mbedTLS error -0x2700" instead. */
#define MBEDTLS_ERROR_C

/* --- symmetric crypto and hashes ----------------------------------------------- */
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C /* x86_64 only; compiles to nothing elsewhere */
/* Fixed AES tables in read-only memory (file-backed, shared) instead of
 * tables computed into RAM at first use; the smaller set of them. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CCM_C /* DTLS-PSK AES-128-CCM-8 (CoAP) */
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_HKDF_C /* PSA HKDF for the TLS 1.3 key schedule */
#define MBEDTLS_SHA1_C /* certificate signatures of older CAs, key identifiers */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C

/* --- public keys --------------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21 /* RSA-PSS: TLS 1.3 signatures with RSA keys */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C
#define MBEDTLS_X509_CSR_WRITE_C
/* The unit tests read back the certificate requests the agent writes; the agent never
 * calls the parser, so --gc-sections leaves it out of the binary. */
#define MBEDTLS_X509_CSR_PARSE_C
/* TLS 1.3's key schedule runs on PSA; keys live in RAM only. */
#define MBEDTLS_PSA_CRYPTO_C

/* --- TLS and DTLS -------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED /* DTLS management endpoint */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* kubelet API: the caller's identity */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_DTLS_HELLO_VERIFY
#define MBEDTLS_SSL_DTLS_ANTI_REPLAY
#define MBEDTLS_SSL_COOKIE_C

/* Record buffers: a kube-apiserver sends full 16 KiB records, so the input
 * side keeps mbedTLS's maximum; requests are small, and mbedTLS splits a
 * larger write into several records, so the output side is 4 KiB (saves
 * 12 KiB per session). */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif /* LIQOLET_MBEDTLS_CONFIG_H */
