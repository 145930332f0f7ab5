/* liqolet: the event loop, the only place the agent waits.
 *
 * One thread. Each iteration: prepare (hooks and pending-data checks compute how long the
 * loop may sleep) -> wait (lq_port_wait) -> dispatch (ready descriptors, then expired
 * timers) -> reap (descriptors closed during the iteration are removed and closed last,
 * so a handler may close anything, itself included, without dangling pointers).
 *
 * Ownership: every lq_loop_io_t and lq_loop_timer_t is owned by its caller (usually a
 * static or a member of a static struct); the loop only links them. Nothing allocates.
 *
 *   static lq_loop_t loop;  static lq_loop_timer_t lease;
 *   lq_loop_init(&loop);
 *   lq_loop_timer_init(&lease, renew_lease, &node);
 *   lq_loop_timer_start(&loop, &lease, 10000);
 *   int sig = lq_loop_run(&loop);     // returns on lq_loop_stop or a stop signal
 */
#ifndef LIQOLET_LOOP_H
#define LIQOLET_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/port.h"

typedef struct lq_loop lq_loop_t;
typedef struct lq_loop_io lq_loop_io_t;
typedef struct lq_loop_timer lq_loop_timer_t;

/* Called with the readiness bits (LQ_PORT_IN/OUT/ERR) of a watched descriptor. */
typedef void lq_loop_io_fn(lq_loop_t *loop, lq_loop_io_t *io, unsigned events, void *ctx);
/* Called once, at the end of the iteration in which the descriptor was closed, just
 * before the loop closes the descriptor itself. Release per-connection state here. */
typedef void lq_loop_reap_fn(lq_loop_t *loop, lq_loop_io_t *io, void *ctx);
/* Returns non-zero when the owner holds data that is ready but invisible to poll()
 * (e.g. plaintext already decrypted by TLS). Such a descriptor is dispatched with
 * LQ_PORT_IN without waiting. */
typedef int lq_loop_pending_fn(lq_loop_io_t *io, void *ctx);
/* Expired timer. The timer is disarmed before the call; re-arm it from here to repeat. */
typedef void lq_loop_timer_fn(lq_loop_t *loop, lq_loop_timer_t *timer, void *ctx);
/* Prepare hook, before each wait: returns the longest the loop may wait in ms
 * (-1 = no limit, 0 = do not sleep). Used for libraries with their own timeouts. */
typedef int lq_loop_prepare_fn(lq_loop_t *loop, void *ctx, int64_t now_ms);

enum { LQ_LOOP_IO_FREE = 0, LQ_LOOP_IO_ACTIVE, LQ_LOOP_IO_CLOSING };

struct lq_loop_io {
    lq_port_fd_t fd;
    unsigned want;               /* LQ_PORT_IN | LQ_PORT_OUT */
    lq_loop_io_fn *fn;
    lq_loop_reap_fn *reap;       /* optional */
    lq_loop_pending_fn *pending; /* optional */
    void *ctx;
    int state;                   /* LQ_LOOP_IO_* */
};

struct lq_loop_timer {
    int64_t due_ms;
    lq_loop_timer_fn *fn;
    void *ctx;
    lq_loop_timer_t *next;
    int armed;
};

typedef struct lq_loop_stats {
    uint64_t iterations;
    uint64_t wakeups_io;      /* iterations in which at least one descriptor was ready */
    uint64_t timers_fired;
    size_t ios_in_use;
    size_t ios_high_water;
} lq_loop_stats_t;

struct lq_loop {
    lq_loop_io_t *ios[LQ_MAX_FDS];
    size_t nios;
    lq_loop_timer_t *timers; /* sorted by due time */
    struct {
        lq_loop_prepare_fn *fn;
        void *ctx;
    } hooks[LQ_MAX_LOOP_HOOKS];
    size_t nhooks;
    int stop;
    int need_reap;
    lq_loop_stats_t stats;
};

/* Puts the loop in its empty state. Cannot fail. */
void lq_loop_init(lq_loop_t *loop);

/* Starts watching fd for `want`. io is caller-owned and must stay valid until its reap.
 * Returns LQ_OK, LQ_ENOSPC (LQ_MAX_FDS descriptors already watched) or LQ_EINVAL (also
 * when io is still active or waiting for its reap: re-use it after the reap). */
lq_err_t lq_loop_io_add(lq_loop_t *loop, lq_loop_io_t *io, lq_port_fd_t fd, unsigned want,
                        lq_loop_io_fn *fn, void *ctx);
/* Changes the readiness the descriptor waits for (e.g. add LQ_PORT_OUT while a request
 * is queued). */
void lq_loop_io_want(lq_loop_io_t *io, unsigned want);
/* Deferred close: fn is never called again; at the end of the iteration reap (if set) is
 * called, then the descriptor is closed and io may be reused. Idempotent. */
void lq_loop_io_close(lq_loop_t *loop, lq_loop_io_t *io, lq_loop_reap_fn *reap);

/* Timers (caller-owned). _init cannot fail; _start (re)arms to fire after delay_ms;
 * _stop is idempotent. */
void lq_loop_timer_init(lq_loop_timer_t *timer, lq_loop_timer_fn *fn, void *ctx);
void lq_loop_timer_start(lq_loop_t *loop, lq_loop_timer_t *timer, int64_t delay_ms);
void lq_loop_timer_stop(lq_loop_t *loop, lq_loop_timer_t *timer);

/* Registers a prepare hook. Returns LQ_OK or LQ_ENOSPC. */
lq_err_t lq_loop_hook_add(lq_loop_t *loop, lq_loop_prepare_fn *fn, void *ctx);

/* One iteration, sleeping at most max_wait_ms (-1 = as long as nothing is due).
 * Returns LQ_OK or LQ_EIO (the wait itself failed). */
lq_err_t lq_loop_run_once(lq_loop_t *loop, int max_wait_ms);
/* Iterates until lq_loop_stop or a stop signal (SIGTERM/SIGINT). Returns the signal
 * number, or 0 when stopped by lq_loop_stop. */
int lq_loop_run(lq_loop_t *loop);
/* Asks lq_loop_run to return after the current iteration. */
void lq_loop_stop(lq_loop_t *loop);

const lq_loop_stats_t *lq_loop_stats(const lq_loop_t *loop);

#endif
