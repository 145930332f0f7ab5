/* Capacities for a small ARMv7 gateway (256-512 MiB RAM): smaller tables and objects. */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "armv7-gateway"
#define LQ_MAX_OBJECT (128u * 1024u)
#define LQ_MAX_PODS 256
#define LQ_MAX_OBJECTS 512
#define LQ_MAX_WATCHES 12
#endif
