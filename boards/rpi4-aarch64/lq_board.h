/* Capacities for a Raspberry Pi 4 class gateway (1-8 GiB RAM). */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "rpi4-aarch64"
#define LQ_MAX_OBJECT (256u * 1024u)
#define LQ_MAX_PODS 1024
/* ConfigMaps and Secrets reflected at once (records per kind). */
#define LQ_MAX_CONFIGMAPS 512
#define LQ_MAX_SECRETS 512
#define LQ_MAX_OBJECTS 2048
/* Management endpoint (include/liqolet/mgmt.h, docs/management.md): libcoap's heap cap
 * (10 KiB after start-up on 64-bit boards, 6 KiB on 32-bit; about 7 KiB per DTLS client),
 * idle CoAP sessions kept, DTLS handshakes at once, HTTP connections. */
#define LQ_COAP_HEAP_CAP (48u * 1024u)
#define LQ_MGMT_MAX_SESSIONS 4
#define LQ_MGMT_MAX_HANDSHAKES 1
#define LQ_MGMT_HTTP_CONNS 4
#define LQ_KUBELET_SESSIONS 4
#endif
