/* liqolet: compile-time capacities.
 *
 * Every buffer, table and pool in the agent is sized here, at compile time. A board
 * overrides any of these in boards/<board>/lq_board.h, which is included first (the
 * Makefile passes -include for it); everything below is #ifndef-guarded. Relations
 * between sizes are checked with _Static_assert at the bottom. */
#ifndef LIQOLET_CONFIG_DEFAULTS_H
#define LIQOLET_CONFIG_DEFAULTS_H

#ifndef LQ_BOARD_NAME
#define LQ_BOARD_NAME "unknown"
#endif

/* --- event loop ------------------------------------------------------------- */
/* File descriptors the loop can watch at once (API connections + CoAP + HTTP + signals). */
#ifndef LQ_MAX_FDS
#define LQ_MAX_FDS 52
#endif
/* Prepare hooks (TLS pending-plaintext drain, libcoap timeouts, ...). */
#ifndef LQ_MAX_LOOP_HOOKS
#define LQ_MAX_LOOP_HOOKS 8
#endif

/* --- HTTP ------------------------------------------------------------------- */
/* Response headers kept per response; more is LQ_ETOOBIG. */
#ifndef LQ_HTTP_MAX_HEADERS
#define LQ_HTTP_MAX_HEADERS 32
#endif
/* The whole response head (status line + headers) must fit in this many bytes. */
#ifndef LQ_HTTP_MAX_HEAD
#define LQ_HTTP_MAX_HEAD 8192
#endif
/* Longest chunk-size line accepted (hex digits + extensions). */
#ifndef LQ_HTTP_MAX_CHUNK_LINE
#define LQ_HTTP_MAX_CHUNK_LINE 128
#endif

/* --- objects and streams ---------------------------------------------------- */
/* Largest single Kubernetes object (one watch event or one LIST item) the agent
 * handles. Larger ones are skipped to their end and reported, never truncated. */
#ifndef LQ_MAX_OBJECT
#define LQ_MAX_OBJECT (256u * 1024u)
#endif
/* Bytes of an oversized event kept to report its type/name/uid. */
#ifndef LQ_OVERSIZE_PREFIX
#define LQ_OVERSIZE_PREFIX 1024u
#endif
/* Receive buffer per API connection (decrypted bytes waiting to be parsed). */
#ifndef LQ_CONN_RX_BUF
#define LQ_CONN_RX_BUF (16u * 1024u)
#endif
/* Transmit buffer per API connection: one request head (path, bearer token up to
 * LQ_KCFG_TOKEN_MAX, headers); bodies are sent from their owner's buffer. */
#ifndef LQ_CONN_TX_BUF
#define LQ_CONN_TX_BUF (8u * 1024u)
#endif
/* API connections: a small request pool plus one per watch. */
#ifndef LQ_MAX_REQ_CONNS
#define LQ_MAX_REQ_CONNS 4
#endif
/* Total deadline of one request of the request pool (everything but watches and other
 * streams), from its start (connect or reuse) to the last byte of its body: a server that
 * trickles a byte every few seconds, never long enough to trip the idle deadline, fails
 * the request after this long ("not complete within"), the connection is closed, and the
 * request is retried like any broken connection. Watches are not cut by it (bookmarks
 * are their heartbeat, see LQ_WATCH_IDLE_MS). 0: none. */
#ifndef LQ_KREQ_TOTAL_MS
#define LQ_KREQ_TOTAL_MS 60000
#endif
/* Long-lived streamed connections: the virtual node's 3, the events watch, a home and a
 * foreign watch per reflected kind (namespaces, pods, ConfigMaps, Secrets, Services,
 * Ingresses, EndpointSlices: 14), and the streaming pipe's 2. */
#ifndef LQ_MAX_WATCHES
#define LQ_MAX_WATCHES 20
#endif

/* --- reflection state ------------------------------------------------------- */
#ifndef LQ_MAX_PODS
#define LQ_MAX_PODS 1024
#endif
#ifndef LQ_MAX_OBJECTS
#define LQ_MAX_OBJECTS 2048
#endif
/* Reflector workers shared by all kinds (include/liqolet/refl.h). */
#ifndef LQ_REFL_WORKERS
#define LQ_REFL_WORKERS 4
#endif
/* The streaming pipe for ConfigMaps and Secrets over a worker's buffers (up to the API
 * server's own limit, with constant memory; include/liqolet/pipe.h). 0: such objects are
 * reported (FailedReflection, a counter) and skipped. */
#ifndef LQ_PIPE_ENABLED
#define LQ_PIPE_ENABLED 1
#endif
/* The kubelet API (kubectl logs/exec/attach of offloaded pods, include/liqolet/kubelet.h):
 * 0 leaves it out of the build. Sessions at once: each holds two TLS sessions (home
 * API server in, foreign API server out) and two LQ_KUBELET_BUF buffers. */
#ifndef LQ_KUBELET_API
#define LQ_KUBELET_API 1
#endif
/* `liqolet peer` and `unpeer --remove-identity` (src/cmd/peer.c): 0 leaves them out of
 * the build (36 to 52 KiB of the stripped binary, 0.85 MB of bss: only a process running
 * `peer` touches it; docs/peering.md). */
#ifndef LQ_PEER
#define LQ_PEER 1
#endif
#ifndef LQ_KUBELET_SESSIONS
#define LQ_KUBELET_SESSIONS 4
#endif
#ifndef LQ_MAX_NAMESPACES
#define LQ_MAX_NAMESPACES 64
#endif

/* --- third-party heaps ------------------------------------------------------ */
/* TLS: profiles (one per API server, plus spares) and sessions (every request
 * connection of both clusters, the one kept for priority requests included, and every
 * watch). */
#ifndef LQ_TLS_MAX_PROFILES
#define LQ_TLS_MAX_PROFILES 4
#endif
#ifndef LQ_TLS_MAX_SESSIONS
#if LQ_KUBELET_API
/* the kubelet API's share: two per session, and one for the connection told "too many" */
#define LQ_TLS_MAX_SESSIONS ((LQ_MAX_REQ_CONNS + 1) * 2 + LQ_MAX_WATCHES + 2 * LQ_KUBELET_SESSIONS + 1)
#else
#define LQ_TLS_MAX_SESSIONS ((LQ_MAX_REQ_CONNS + 1) * 2 + LQ_MAX_WATCHES)
#endif
#endif
/* Arena bytes per TLS session: measured 34 KiB steady and 40 KiB peak for TLS 1.3
 * against kube-apiserver (16 KiB in + 4 KiB out record buffers, handshake state), see
 * docs/benchmarks.md. */
#ifndef LQ_TLS_SESSION_BYTES
#define LQ_TLS_SESSION_BYTES (38u * 1024u)
#endif
/* DTLS sessions of the management endpoint (libcoap: LQ_MGMT_MAX_SESSIONS idle ones and
 * LQ_MGMT_MAX_HANDSHAKES in handshake; src/mgmt/coap.c checks the sum). They draw from
 * the same arena, so it holds their share beside the API sessions': unauthenticated
 * handshakes can never take the room an API reconnect needs. */
#ifndef LQ_MGMT_MAX_SESSIONS
#define LQ_MGMT_MAX_SESSIONS 4
#endif
#ifndef LQ_MGMT_MAX_HANDSHAKES
#define LQ_MGMT_MAX_HANDSHAKES 1
#endif
#ifndef LQ_MGMT_DTLS_SESSIONS
#define LQ_MGMT_DTLS_SESSIONS (LQ_MGMT_MAX_SESSIONS + LQ_MGMT_MAX_HANDSHAKES)
#endif
/* Static arena for every mbedTLS allocation: all API and DTLS sessions at their steady
 * size, plus headroom for profiles (CA, client certificate and key: ~4 KiB each) and one
 * handshake peak. Only the pages used become resident. */
#ifndef LQ_MBEDTLS_ARENA
#define LQ_MBEDTLS_ARENA ((LQ_TLS_MAX_SESSIONS + LQ_MGMT_DTLS_SESSIONS) * LQ_TLS_SESSION_BYTES + \
                          64u * 1024u)
#endif
/* Cap on libcoap's heap (it mallocs on POSIX; bounded sessions and PDUs). */
#ifndef LQ_COAP_HEAP_CAP
#define LQ_COAP_HEAP_CAP (32u * 1024u)
#endif
/* Per-event cJSON arena. Measured: a Pod needs about 4.1x its size on 64-bit boards
 * and 3.0x on 32-bit ones (cJSON item headers); larger objects are reported as oversized. */
#ifndef LQ_JSON_ARENA
#if defined(__SIZEOF_POINTER__) && __SIZEOF_POINTER__ >= 8
#define LQ_JSON_ARENA (LQ_MAX_OBJECT * 5u)
#else
#define LQ_JSON_ARENA (LQ_MAX_OBJECT * 4u)
#endif
#endif
/* Start-up pool from which the agent's own tables are carved before sealing. */
#ifndef LQ_STARTUP_POOL
#define LQ_STARTUP_POOL (64u * 1024u)
#endif

/* --- logging ---------------------------------------------------------------- */
#ifndef LQ_LOG_LINE_MAX
#define LQ_LOG_LINE_MAX 512
#endif

_Static_assert(LQ_OVERSIZE_PREFIX < LQ_MAX_OBJECT, "oversize prefix must be smaller than an object");
_Static_assert(LQ_HTTP_MAX_HEAD <= LQ_CONN_RX_BUF, "a response head must fit in the receive buffer");
_Static_assert(LQ_HTTP_MAX_HEADERS >= 8, "too few HTTP headers for the API server");

#endif
