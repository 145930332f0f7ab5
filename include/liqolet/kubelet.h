/* liqolet: the kubelet API of the virtual node (DESIGN.md Decision 20; src/kubelet/server.c).
 *
 * The home kube-apiserver reaches a node's kubelet at status.addresses (InternalIP) and
 * status.daemonEndpoints.kubeletEndpoint.Port for `kubectl logs`, `exec` and `attach`.
 * This module serves that port in the agent's one event loop:
 *
 *   TLS (server side, mbedTLS): the serving certificate is the agent's (generated and
 *     kept under a directory, src/kubelet/cert.c); every client must present a
 *     certificate that chains to the home cluster's client CA (the client-ca-file of
 *     kube-system/extension-apiserver-authentication, re-read every 5 minutes).
 *   Authentication: the certificate's CN is the user, its O values the groups (as
 *     kube-apiserver and kubelet read them).
 *   Authorization: one SubjectAccessReview per request at the home API server, with the
 *     attributes a kubelet in webhook mode uses (resource nodes, name = the node,
 *     subresource from the path: proxy for logs/exec/attach, verb from the method).
 *   Logs (/containerLogs/NS/POD/CTR): the foreign API server's pods/log of the remote pod,
 *     its answer relayed byte for byte (head filtered), with one fixed buffer per
 *     direction, however long a follow runs.
 *   Exec and attach: WebSocket only. The virtual node declares ExtendWebSocketsToKubelet,
 *     so kube-apiserver passes kubectl's v5.channel.k8s.io upgrade through; the agent
 *     opens the same upgrade on the foreign API server's pods/exec (pods/attach) and,
 *     once both sides switched protocols, relays the frames unchanged both ways (client
 *     frames stay masked, server frames unmasked: each side sees a conforming peer).
 *     SPDY upgrades (old clients, KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) and
 *     portForward are refused with a sentence that says so.
 *
 * Limits: at most LQ_KUBELET_SESSIONS sessions at once (each holds two TLS sessions, the
 * config's share of the TLS table, so API connections are never starved); one more
 * connection at a time is answered 500 with the reason (the status whose text
 * kube-apiserver shows to kubectl's user); beyond that, connections are
 * closed at accept. A session must get through handshake, head, authorization and the
 * foreign answer's head within LQ_KUBELET_SETUP_MS; a relay then runs until either side
 * closes. */
#ifndef LIQOLET_KUBELET_H
#define LIQOLET_KUBELET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/cluster.h"
#include "liqolet/config_defaults.h"
#include "liqolet/kreq.h"
#include "liqolet/kubelet_req.h"
#include "liqolet/loop.h"

/* LQ_KUBELET_API and LQ_KUBELET_SESSIONS: config_defaults.h and the boards. */
/* Bytes buffered per direction of a session (the request head must fit the home one). */
#ifndef LQ_KUBELET_BUF
#define LQ_KUBELET_BUF (8u * 1024u)
#endif
#define LQ_KUBELET_OUT 4096u    /* a local answer, or the head sent to the other side */
#define LQ_KUBELET_SETUP_MS 30000
#define LQ_KUBELET_CA_MAX (16u * 1024u)
#define LQ_KUBELET_CA_RELOAD_MS (5 * 60 * 1000)
#define LQ_KUBELET_USER_MAX 256u
#define LQ_KUBELET_GROUPS_MAX 512u

/* Maps a home pod on the virtual node to its remote pod: true with *rns (the remote
 * namespace, borrowed) and rpod (cap bytes) when this agent offloaded it. */
typedef bool lq_kubelet_resolve_fn(const char *ns, const char *pod, const char **rns,
                                   char *rpod, size_t cap, void *ctx);

typedef struct lq_kubelet_cfg {
    const char *listen_host;      /* the node's address (IP literal) */
    uint16_t port;                /* 0: an ephemeral port (tests); see lq_kubelet_t.port */
    const char *node_name;
    const char *cert_dir;         /* serving certificate and key kept here; NULL or "":
                                     generated at each start, in memory only */
    bool csr;                     /* the serving certificate is signed by the home cluster
                                     (CSR API, signer kubernetes.io/kubelet-serving) rather
                                     than self-signed */
    lq_kreq_client_t *home_req;   /* SubjectAccessReviews, the client CA */
    lq_cluster_t *foreign;        /* target, TLS profile and credentials of pods/log, exec */
    lq_kubelet_resolve_fn *resolve;
    void *resolve_ctx;
} lq_kubelet_cfg_t;

typedef struct lq_kubelet_stats {
    uint64_t accepted;        /* TCP connections taken */
    uint64_t served;          /* requests relayed to the foreign cluster (any answer) */
    uint64_t refused;         /* over the session cap (500 with the reason, or closed at accept) */
    uint64_t unauthenticated; /* TLS handshake failed (no or a foreign certificate) */
    uint64_t forbidden;       /* the SubjectAccessReview said no */
    uint64_t errors;          /* bad requests, unknown pods, foreign failures */
    unsigned open, peak;      /* sessions now and at most */
} lq_kubelet_stats_t;

typedef struct lq_kubelet lq_kubelet_t;

/* Starts the kubelet API: reads (or generates) the serving certificate, reads the client
 * CA from home, then listens. Listening starts once the CA is known (the first read is
 * retried every 10 s until it works; the log says why it does not). All of cfg is
 * borrowed for the module's life. Returns LQ_OK or an error of the certificate step
 * (the log names the file and the problem). */
lq_err_t lq_kubelet_start(lq_kubelet_t *k, lq_loop_t *loop, const lq_kubelet_cfg_t *cfg);
/* Stops listening and ends every session. */
void lq_kubelet_stop(lq_kubelet_t *k);

/* --- internals (sizes only; use the functions) ------------------------------------ */

typedef struct lq_kubelet_link {
    lq_port_fd_t fd;
    int tls;
    lq_loop_io_t io;
    unsigned want_r, want_w;  /* TLS readiness a pending read / write waits for */
    bool eof;                 /* the peer finished sending */
    size_t len, off;          /* bytes of buf read and not yet passed on: buf[off..len) */
    char buf[LQ_KUBELET_BUF];
} lq_kubelet_link_t;

typedef struct lq_kubelet_sess {
    lq_kubelet_t *k;
    uint8_t state;
    bool refusing;            /* the over-cap slot: answer "too many" after the handshake */
    bool upgrade;             /* a WebSocket relay (both ways) rather than a response */
    lq_loop_timer_t timer;
    lq_kubelet_link_t home, foreign;
    lq_kl_req_t req;
    size_t sub_i;             /* the subresource being authorized (req.sub[sub_i]) */
    char user[LQ_KUBELET_USER_MAX];
    char groups[LQ_KUBELET_GROUPS_MAX];
    size_t n_groups;
    char peer[64];
    lq_kreq_t sar;
    char sar_body[2048];
    char sar_resp[4096];
    size_t out_len, out_off;  /* out[out_off..out_len) goes to out_to */
    lq_kubelet_link_t *out_to;
    bool close_after_out;
    char out[LQ_KUBELET_OUT];
} lq_kubelet_sess_t;

struct lq_kubelet {
    /* readable */
    lq_kubelet_cfg_t cfg;
    lq_kubelet_stats_t stats;
    uint16_t port;            /* bound port */
    bool listening;
    /* private */
    lq_loop_t *loop_;
    lq_loop_io_t listen_io_;
    lq_loop_timer_t ca_timer_;
    lq_kreq_t ca_req_;
    int profile_;             /* TLS server profile, -1 before the CA is known */
    uint64_t ca_hash_;
    uint8_t csr_state_;       /* 0 idle, 1 creating, 2 waiting for the signature */
    bool swap_pending_;       /* a new pair waits for the sessions on the old one to end */
    char csr_name_[128];
    lq_kreq_t csr_req_;
    lq_loop_timer_t csr_timer_;
    char csr_body_[2560];
    char csr_key_[2048];      /* the key of the request in flight (PEM) */
    size_t csr_key_len_;
    char csr_resp_[12288];
    size_t cert_len_, key_len_; /* PEM, NUL included */
    char cert_[4096];
    char key_[2048];
    char ca_resp_[LQ_KUBELET_CA_MAX + 4096u];
    char ca_pem_[LQ_KUBELET_CA_MAX];
    lq_kubelet_sess_t sess_[LQ_KUBELET_SESSIONS + 1u]; /* the last one only refuses */
};

/* src/kubelet/cert.c, for server.c: read (renew false: reuse kept files while good) or
 * replace the serving certificate into k->cert_/key_ (on failure they are left as they
 * were: a renewal that cannot be kept leaves the pair in use, still due); whether it
 * expires within 30 days. */
lq_err_t lq_kubelet_load_cert(lq_kubelet_t *k, bool renew);
bool lq_kubelet_cert_due(const lq_kubelet_t *k);
/* CSR mode: only the kept pair (false: none, or not good); a pair the API server signed
 * (kept, then adopted; it must name the node's address). */
bool lq_kubelet_cert_reuse(lq_kubelet_t *k);
lq_err_t lq_kubelet_cert_issued(lq_kubelet_t *k, const char *cert, size_t cl, const char *key,
                                size_t kl);
/* src/kubelet/csr.c: asks the home API server for a kubelet-serving certificate (a new
 * key and CSR, then polls until it is signed, denied or gone); when signed, the pair is
 * adopted and lq_kubelet_adopted is called. */
void lq_kubelet_csr_start(lq_kubelet_t *k);
/* src/kubelet/server.c: a new pair is in cert_/key_: serve it (first time) or swap it in. */
void lq_kubelet_adopted(lq_kubelet_t *k);

#endif
