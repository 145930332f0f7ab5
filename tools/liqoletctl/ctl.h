/* liqoletctl: the CLI of liqolet's CoAP management endpoint (docs/management.md).
 *
 * main.c parses the command line and prints what comes back (cJSON for the human view);
 * client.c is the only file that includes libcoap: one request, or one observation,
 * over CoAP or DTLS with a pre-shared key. */
#ifndef LIQOLETCTL_CTL_H
#define LIQOLETCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, usable by a Kubernetes exec probe (anything but 0 fails the probe). */
enum {
    CTL_EXIT_OK = 0,          /* answered; healthy / ready */
    CTL_EXIT_FAILED = 1,      /* answered, but not healthy / not ready / an error code */
    CTL_EXIT_USAGE = 2,       /* bad command line or key file */
    CTL_EXIT_UNREACHABLE = 3  /* no answer: timeout, refused, DTLS failure */
};

#define CTL_HOST_MAX 64
#define CTL_PSK_MAX 64

typedef struct ctl_target {
    char host[CTL_HOST_MAX];  /* IP literal (IPv6 without brackets) or a host name */
    uint16_t port;
    bool dtls;                /* coaps: DTLS with a pre-shared key */
    uint8_t psk[CTL_PSK_MAX];
    size_t psk_len;
    const char *identity;
    int verbose;              /* libcoap's own log on stderr */
} ctl_target_t;

typedef struct ctl_resp {
    unsigned code;            /* class * 100 + detail: 205, 404, ... */
    const char *body;         /* the whole body (Block2 reassembled), not NUL-terminated */
    size_t len;
} ctl_resp_t;

/* Called with the response, or with every notification while observing. Return false
 * to stop. */
typedef bool ctl_resp_fn(const ctl_resp_t *r, void *ctx);

/* GET path (segments separated by '/', no leading '/') with an optional query
 * ("ns=a"), calling fn with the answer; with observe, with every notification until fn
 * returns false or SIGINT/SIGTERM. timeout_ms bounds the wait for the first answer.
 * Returns a CTL_EXIT_* code: OK once fn has been called at least once, UNREACHABLE
 * otherwise (err says why). */
int ctl_get(const ctl_target_t *t, const char *path, const char *query, bool observe,
            int timeout_ms, ctl_resp_fn *fn, void *ctx, char *err, size_t err_cap);

#endif
