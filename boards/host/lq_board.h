/* Capacities for the host board: a k3s/microk8s node or a developer machine. */
#ifndef LQ_BOARD_H
#define LQ_BOARD_H
#define LQ_BOARD_NAME "host"
#define LQ_MAX_OBJECT (512u * 1024u)
#define LQ_MAX_PODS 2048
#define LQ_MAX_OBJECTS 4096
#endif
