/* liqolet: one agent per (home, foreign) pair, through a Lease in the home cluster
 * (src/node/lock.c). */
#ifndef LIQOLET_LOCK_H
#define LIQOLET_LOCK_H

#include <stdbool.h>

#include "liqolet/kreq.h"
#include "liqolet/perms.h"

typedef enum lq_lock_state {
    LQ_LOCK_IDLE = 0,
    LQ_LOCK_CREATING,
    LQ_LOCK_READING,
    LQ_LOCK_WAITING,
    LQ_LOCK_TAKING,
    LQ_LOCK_HELD,
    LQ_LOCK_LOST,
    LQ_LOCK_RELEASING
} lq_lock_state_t;

typedef struct lq_lock lq_lock_t;
typedef void lq_lock_fn(lq_lock_t *l, void *ctx);

struct lq_lock {
    lq_lock_state_t state;
    char ns[64];
    char name[LQ_PERMS_NAME_MAX + 1];
    char identity[32];   /* this process: liqolet-<12 random hex> */
    lq_loop_t *loop;
    lq_kreq_client_t *client;
    lq_lock_fn *on_acquired, *on_lost;
    void *ctx;
    /* private */
    bool said_waiting_;
    char rv_[64];
    char acquired_[40];
    lq_loop_timer_t timer_;
    lq_kreq_t req_;
    char body_[1024];
    size_t body_len_;
    char resp_[8192];
};

/* Starts acquiring Lease "liqolet-<node_name>" in namespace ns through client. Calls
 * on_acquired once held (then renews every 10 s) and on_lost if another agent takes it.
 * Returns LQ_OK, LQ_EINVAL/LQ_ETOOBIG (bad names) or LQ_EIO (no entropy). */
lq_err_t lq_lock_start(lq_lock_t *l, lq_loop_t *loop, lq_kreq_client_t *client, const char *ns,
                       const char *node_name, lq_lock_fn *on_acquired, lq_lock_fn *on_lost, void *ctx);

/* On a clean stop: gives the Lease up (no holder, renewTime in the past) so that a
 * restarted agent takes over at once. Returns true while the release request is in
 * flight: run the loop until l->state is LQ_LOCK_IDLE (bounded by the caller). */
bool lq_lock_release(lq_lock_t *l);

#endif
