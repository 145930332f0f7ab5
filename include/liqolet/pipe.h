/* liqolet: the streaming pipe for objects larger than a reflector worker's buffers
 * (issue: a 1 MiB ConfigMap or Secret reflected with constant memory).
 *
 *   home  GET (streamed, its own connection) --on_body--> forge (lq_forge_conf, a byte-level
 *   transform) --> ring buffer --on_send--> foreign PATCH (server-side apply, chunked body,
 *   its own connection)
 *
 * Back-pressure: when the ring is nearly full the home connection stops reading (and
 * resumes once the foreign connection has taken bytes out), so memory is the ring plus
 * the two connections' buffers, whatever the object's size. A job without a remote path
 * only reads and forges (facts and the body's hash: the caller decides whether a write is
 * needed). A write job is checked as it streams: the home object must still have the
 * version and UID the caller decided on, and any failure closes the foreign connection
 * before the last chunk, so the API server never applies a partial body.
 *
 * One job at a time (lq_pipe_start refuses while busy); the done callback runs exactly
 * once per accepted job, from the loop. Caller-owned and static; nothing allocates. */
#ifndef LIQOLET_PIPE_H
#define LIQOLET_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/cluster.h"
#include "liqolet/conn.h"
#include "liqolet/forge_conf.h"
#include "liqolet/kreq.h"
#include "liqolet/loop.h"

/* Bytes between the forge and the foreign connection. At least one receive buffer of
 * forged output plus what the forge adds (labels, annotations) must fit when reading
 * pauses. */
#ifndef LQ_PIPE_RING
#define LQ_PIPE_RING (48u * 1024u)
#endif
#define LQ_PIPE_PAUSE_ROOM (LQ_CONN_RX_BUF + 4096u) /* pause reading below this free room */
_Static_assert(LQ_PIPE_RING >= 2u * LQ_PIPE_PAUSE_ROOM, "pipe ring too small");

typedef struct lq_pipe lq_pipe_t;
typedef void lq_pipe_done_fn(lq_pipe_t *p, lq_err_t err, void *ctx);

typedef struct lq_pipe_job {
    const char *home_path;    /* the home object (GET) */
    const char *remote_path;  /* server-side apply target with its query; NULL = read only */
    const char *expect_rv;    /* write only while the home object has this version (or NULL) */
    lq_forge_conf_params_t prm; /* the forge's parameters (strings copied at start) */
} lq_pipe_job_t;

typedef struct lq_pipe_stats {
    uint64_t jobs, writes, failures, aborted;   /* aborted: write stopped before its end */
    uint64_t bytes_in, bytes_out;
    uint32_t ring_hwm;                          /* most bytes ever waiting in the ring */
    uint64_t pauses;                            /* times reading paused for the writer */
} lq_pipe_stats_t;

struct lq_pipe {
    /* ---- results of the last job, valid in the done callback ---- */
    lq_forge_conf_facts_t facts;
    uint64_t hash;                      /* of the forged body */
    int status;                         /* HTTP status of the failing side (0 none) */
    char message[LQ_KREQ_MSG_MAX];      /* its Status message or the transport error */
    char remote_uid[LQ_FORGE_CONF_UID_BUF], remote_rv[LQ_FORGE_CONF_RV_BUF]; /* written object */
    lq_pipe_stats_t stats;
    /* ---- private ---- */
    lq_loop_t *loop_;
    lq_loop_timer_t timer_;             /* the done callback runs from the loop */
    lq_cluster_t *home_, *foreign_;
    lq_conn_t hconn_, fconn_;
    lq_kreq_stream_t hst_, fst_;
    lq_forge_conf_t forge_;
    lq_forge_conf_params_t prm_;
    lq_pipe_done_fn *done_;
    void *ctx_;
    bool busy_, write_, paused_, home_ok_, home_end_, fwait_, failed_;
    int open_;                          /* requests still running (0..2) */
    lq_err_t err_;
    int hstatus_, fstatus_;
    char hpath_[LQ_KREQ_PATH_MAX], rpath_[LQ_KREQ_PATH_MAX];
    char expect_rv_[LQ_FORGE_CONF_RV_BUF];
    char rname_[254], rns_[64], home_uid_[LQ_FORGE_CONF_UID_BUF], ruid_[LQ_FORGE_CONF_UID_BUF];
    size_t rhead_, rlen_;               /* ring: first byte, bytes waiting */
    size_t flen_;                       /* bytes of the foreign answer kept */
    size_t hlen_;                       /* bytes of a home error answer kept */
    char fresp_[2048];                  /* the foreign answer's start (metadata or Status) */
    char hresp_[1024];                  /* a home error answer (Status) */
    char ring_[LQ_PIPE_RING];
};

/* Binds the pipe to the loop and both clusters (their targets and credentials). */
void lq_pipe_init(lq_pipe_t *p, lq_loop_t *loop, lq_cluster_t *home, lq_cluster_t *foreign);
bool lq_pipe_busy(const lq_pipe_t *p);
/* Starts a job (job and its strings are copied). LQ_OK: done will be called; LQ_ESTATE
 * busy; LQ_ETOOBIG / LQ_EINVAL: a string does not fit or is missing. Results:
 *   LQ_OK; LQ_ENOTFOUND (home object gone); LQ_ETOOBIG / LQ_EPROTO (forge); LQ_ESTATE (the
 *   home object's version or UID was not the expected one: decide again); a request
 *   error (status, message set). */
lq_err_t lq_pipe_start(lq_pipe_t *p, const lq_pipe_job_t *job, lq_pipe_done_fn *done, void *ctx);
/* Aborts the running job (no callback). Idempotent. */
void lq_pipe_cancel(lq_pipe_t *p);

#endif
