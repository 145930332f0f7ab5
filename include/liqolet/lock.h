/* liqolet: one agent per (home, foreign) pair, through a Lease in the home cluster
 * (src/node/lock.c). */
#ifndef LIQOLET_LOCK_H
#define LIQOLET_LOCK_H

#include <stdbool.h>

#include "liqolet/kreq.h"
#include "liqolet/perms.h"

/* How long a holder's claim lasts after its last renewal, and how often it renews. */
#define LQ_LOCK_DURATION_S 30
#define LQ_LOCK_RENEW_MS 10000
/* Longest holder identity kept ("liqolet[-unpeer]-<12 hex>@<node name>"). */
#define LQ_LOCK_HOLDER_MAX (32 + LQ_PERMS_NAME_MAX)

typedef enum lq_lock_state {
    LQ_LOCK_IDLE = 0,
    LQ_LOCK_LEGACY,      /* waiting while an earlier version holds the per-node Lease */
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
    char name[LQ_PERMS_NAME_MAX + 1];      /* liqolet-<foreign id> */
    char identity[LQ_LOCK_HOLDER_MAX];     /* this process: liqolet-<12 random hex>@<node> */
    char pair[300];                        /* "<home id>-><foreign id>", for the logs */
    lq_loop_t *loop;
    lq_kreq_client_t *client;
    lq_lock_fn *on_acquired, *on_lost;
    void *ctx;
    /* private */
    bool said_waiting_, said_legacy_;
    char said_holder_[LQ_LOCK_HOLDER_MAX];
    char legacy_[LQ_PERMS_NAME_MAX + 1];   /* liqolet-<node>, of earlier versions */
    char rv_[64];
    char acquired_[40];
    lq_loop_timer_t timer_;
    lq_kreq_t req_;
    char body_[2048];
    size_t body_len_;
    char resp_[8192];
};

/* Starts acquiring the pair's Lease lq_perms_lock_name(foreign_id) in namespace ns
 * through client (after waiting for a live holder of an earlier version's per-node
 * Lease "liqolet-<node_name>"). Calls on_acquired once held (then renews every 10 s) and
 * on_lost if another agent (or liqolet unpeer) takes it.
 * Returns LQ_OK, LQ_EINVAL/LQ_ETOOBIG (bad names) or LQ_EIO (no entropy). */
lq_err_t lq_lock_start(lq_lock_t *l, lq_loop_t *loop, lq_kreq_client_t *client, const char *ns,
                       const char *home_id, const char *foreign_id, const char *node_name,
                       lq_lock_fn *on_acquired, lq_lock_fn *on_lost, void *ctx);

/* What a lock Lease says. */
typedef struct lq_lock_info {
    char holder[LQ_LOCK_HOLDER_MAX]; /* spec.holderIdentity, "" when released */
    char rv[64];                     /* metadata.resourceVersion */
    int64_t duration_s;
    bool live;                       /* a holder renewed it within its duration */
} lq_lock_info_t;

/* Reads a Lease (JSON body[0..len)) as of now_ms (wall clock). LQ_OK, or the JSON
 * parser's error. Single-threaded: one static arena. */
lq_err_t lq_lock_parse(const char *body, size_t len, int64_t now_ms, lq_lock_info_t *out);

/* "agent liqolet-ab12...  for node liqo-x" from a holder identity, into out (returned). */
const char *lq_lock_holder_describe(const char *holder, char *out, size_t cap);

/* On a clean stop: gives the Lease up (no holder, renewTime in the past) so that a
 * restarted agent takes over at once. Returns true while the release request is in
 * flight: run the loop until l->state is LQ_LOCK_IDLE (bounded by the caller). */
bool lq_lock_release(lq_lock_t *l);

#endif
