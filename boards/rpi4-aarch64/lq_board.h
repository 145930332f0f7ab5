/* Capacities for a Raspberry Pi 4 class gateway (1-8 GiB RAM). */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "rpi4-aarch64"
#define LQ_MAX_OBJECT (256u * 1024u)
#define LQ_MAX_PODS 1024
#define LQ_MAX_OBJECTS 2048
#endif
