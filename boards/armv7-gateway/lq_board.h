/* Capacities for a small ARMv7 gateway (256-512 MiB RAM): smaller tables and objects. */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "armv7-gateway"
#define LQ_MAX_OBJECT (128u * 1024u)
#define LQ_MAX_PODS 256
#define LQ_MAX_OBJECTS 512
#define LQ_MAX_WATCHES 18 /* no pipe */
/* ConfigMaps and Secrets: records per kind; no streaming pipe, so the largest reflected
 * object is what a reflector worker holds (a 32 KiB remote body). */
#define LQ_MAX_CONFIGMAPS 128
#define LQ_MAX_SECRETS 128
#define LQ_PIPE_ENABLED 0
/* Management endpoint (include/liqolet/mgmt.h, docs/management.md): libcoap's heap cap
 * (10 KiB after start-up on 64-bit boards, 6 KiB on 32-bit; about 7 KiB per DTLS client),
 * idle CoAP sessions kept, DTLS handshakes at once, HTTP connections. */
#define LQ_COAP_HEAP_CAP (32u * 1024u)
#define LQ_MGMT_MAX_SESSIONS 2
#define LQ_MGMT_MAX_HANDSHAKES 1
#define LQ_MGMT_HTTP_CONNS 2
#define LQ_KUBELET_SESSIONS 2
#endif
