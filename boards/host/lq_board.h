/* Capacities for the host board: a k3s/microk8s node or a developer machine. */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "host"
#define LQ_MAX_OBJECT (512u * 1024u)
#define LQ_MAX_PODS 2048
/* ConfigMaps and Secrets reflected at once (records per kind). */
#define LQ_MAX_CONFIGMAPS 1024
#define LQ_MAX_SECRETS 1024
#define LQ_MAX_OBJECTS 4096
/* Management endpoint (include/liqolet/mgmt.h, docs/management.md): libcoap's heap cap
 * (10 KiB after start-up on 64-bit boards, 6 KiB on 32-bit; about 7 KiB per DTLS client),
 * idle CoAP sessions kept, DTLS handshakes at once, HTTP connections. */
#define LQ_COAP_HEAP_CAP (64u * 1024u)
#define LQ_MGMT_MAX_SESSIONS 8
#define LQ_MGMT_MAX_HANDSHAKES 2
#define LQ_MGMT_HTTP_CONNS 4
#define LQ_KUBELET_SESSIONS 8
#endif
