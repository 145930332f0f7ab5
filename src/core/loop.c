/* liqolet: the event loop (see loop.h). Single thread, caller-owned state, no allocation. */
#include <string.h>

#include "liqolet/loop.h"

void lq_loop_init(lq_loop_t *loop)
{
    memset(loop, 0, sizeof *loop);
}

lq_err_t lq_loop_io_add(lq_loop_t *loop, lq_loop_io_t *io, lq_port_fd_t fd, unsigned want,
                        lq_loop_io_fn *fn, void *ctx)
{
    if (io == NULL || fn == NULL || fd < 0 || io->state != LQ_LOOP_IO_FREE)
        return LQ_EINVAL;
    if (loop->nios >= LQ_MAX_FDS)
        return LQ_ENOSPC;
    io->fd = fd;
    io->want = want;
    io->fn = fn;
    io->reap = NULL;
    io->ctx = ctx;
    io->state = LQ_LOOP_IO_ACTIVE;
    loop->ios[loop->nios++] = io;
    loop->stats.ios_in_use = loop->nios;
    if (loop->nios > loop->stats.ios_high_water)
        loop->stats.ios_high_water = loop->nios;
    return LQ_OK;
}

void lq_loop_io_want(lq_loop_io_t *io, unsigned want)
{
    io->want = want;
}

void lq_loop_io_close(lq_loop_t *loop, lq_loop_io_t *io, lq_loop_reap_fn *reap)
{
    if (io->state != LQ_LOOP_IO_ACTIVE)
        return;
    io->state = LQ_LOOP_IO_CLOSING;
    io->reap = reap;
    loop->need_reap = 1;
}

void lq_loop_timer_init(lq_loop_timer_t *timer, lq_loop_timer_fn *fn, void *ctx)
{
    memset(timer, 0, sizeof *timer);
    timer->fn = fn;
    timer->ctx = ctx;
}

void lq_loop_timer_stop(lq_loop_t *loop, lq_loop_timer_t *timer)
{
    if (!timer->armed)
        return;
    for (lq_loop_timer_t **pp = &loop->timers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == timer) {
            *pp = timer->next;
            break;
        }
    }
    timer->next = NULL;
    timer->armed = 0;
}

void lq_loop_timer_start(lq_loop_t *loop, lq_loop_timer_t *timer, int64_t delay_ms)
{
    lq_loop_timer_stop(loop, timer);
    if (delay_ms < 0)
        delay_ms = 0;
    timer->due_ms = lq_port_mono_ms() + delay_ms;
    /* Insert after every timer due at or before this one: equal due times fire in the
     * order they were armed. */
    lq_loop_timer_t **pp = &loop->timers;
    while (*pp != NULL && (*pp)->due_ms <= timer->due_ms)
        pp = &(*pp)->next;
    timer->next = *pp;
    *pp = timer;
    timer->armed = 1;
}

lq_err_t lq_loop_hook_add(lq_loop_t *loop, lq_loop_prepare_fn *fn, void *ctx)
{
    if (fn == NULL)
        return LQ_EINVAL;
    if (loop->nhooks >= LQ_MAX_LOOP_HOOKS)
        return LQ_ENOSPC;
    loop->hooks[loop->nhooks].fn = fn;
    loop->hooks[loop->nhooks].ctx = ctx;
    loop->nhooks++;
    return LQ_OK;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Prepare: the longest we may sleep, and which descriptors already have data. */
static int prepare(lq_loop_t *loop, int max_wait_ms, unsigned pending[LQ_MAX_FDS])
{
    int64_t now = lq_port_mono_ms();
    int timeout = max_wait_ms;
    for (size_t i = 0; i < loop->nhooks; i++)
        timeout = min_timeout(timeout, loop->hooks[i].fn(loop, loop->hooks[i].ctx, now));
    if (loop->timers != NULL) {
        int64_t wait = loop->timers->due_ms - now;
        if (wait < 0)
            wait = 0;
        if (wait > INT32_MAX)
            wait = INT32_MAX;
        timeout = min_timeout(timeout, (int)wait);
    }
    for (size_t i = 0; i < loop->nios; i++) {
        lq_loop_io_t *io = loop->ios[i];
        pending[i] = 0;
        if (io->state == LQ_LOOP_IO_ACTIVE && io->pending != NULL && io->pending(io, io->ctx)) {
            pending[i] = LQ_PORT_IN;
            timeout = 0;
        }
    }
    if (loop->stop || loop->need_reap)
        timeout = 0;
    return timeout;
}

static void run_timers(lq_loop_t *loop)
{
    int64_t now = lq_port_mono_ms();
    /* Fire only timers that were due when this pass started; a timer re-armed with delay
     * 0 from its own callback runs in the next iteration, so timers cannot starve I/O. */
    lq_loop_timer_t *due_end = loop->timers;
    size_t budget = 0;
    while (due_end != NULL && due_end->due_ms <= now) {
        budget++;
        due_end = due_end->next;
    }
    while (budget-- > 0 && loop->timers != NULL && loop->timers->due_ms <= now) {
        lq_loop_timer_t *t = loop->timers;
        loop->timers = t->next;
        t->next = NULL;
        t->armed = 0;
        loop->stats.timers_fired++;
        t->fn(loop, t, t->ctx);
    }
}

static void reap(lq_loop_t *loop)
{
    if (!loop->need_reap)
        return;
    loop->need_reap = 0;
    size_t w = 0;
    for (size_t r = 0; r < loop->nios; r++) {
        lq_loop_io_t *io = loop->ios[r];
        if (io->state == LQ_LOOP_IO_CLOSING) {
            lq_port_fd_t fd = io->fd;
            io->state = LQ_LOOP_IO_FREE;
            if (io->reap != NULL)
                io->reap(loop, io, io->ctx);
            lq_port_close(fd);
            continue;
        }
        loop->ios[w++] = io;
    }
    loop->nios = w;
    loop->stats.ios_in_use = w;
}

lq_err_t lq_loop_run_once(lq_loop_t *loop, int max_wait_ms)
{
    lq_port_pollfd_t pfd[LQ_MAX_FDS];
    unsigned pending[LQ_MAX_FDS];
    int timeout = prepare(loop, max_wait_ms, pending);

    size_t n = loop->nios;
    for (size_t i = 0; i < n; i++) {
        lq_loop_io_t *io = loop->ios[i];
        pfd[i].fd = io->state == LQ_LOOP_IO_ACTIVE ? io->fd : -1;
        pfd[i].want = io->want;
        pfd[i].got = 0;
    }
    size_t nready = 0;
    lq_err_t err = lq_port_wait(pfd, n, timeout, &nready);
    loop->stats.iterations++;
    if (err != LQ_OK)
        return err;

    /* Dispatch: only descriptors that existed before the wait (handlers may add more,
     * which are polled next iteration). */
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        lq_loop_io_t *io = loop->ios[i];
        unsigned ev = pfd[i].got | pending[i];
        if (ev == 0 || io->state != LQ_LOOP_IO_ACTIVE)
            continue;
        any = 1;
        io->fn(loop, io, ev, io->ctx);
    }
    if (any)
        loop->stats.wakeups_io++;
    run_timers(loop);
    reap(loop);
    return LQ_OK;
}

int lq_loop_run(lq_loop_t *loop)
{
    loop->stop = 0;
    for (;;) {
        if (lq_loop_run_once(loop, -1) != LQ_OK) {
            /* A failed wait is not fatal by itself (e.g. a transient EINTR storm); pace
             * the retries through the timers instead of spinning. */
            lq_port_pollfd_t none;
            size_t nr;
            none.fd = -1;
            none.want = 0;
            (void)lq_port_wait(&none, 0, 100, &nr);
        }
        int sig = lq_port_signal_take();
        if (sig != 0)
            return sig;
        if (loop->stop)
            return 0;
    }
}

void lq_loop_stop(lq_loop_t *loop)
{
    loop->stop = 1;
}

const lq_loop_stats_t *lq_loop_stats(const lq_loop_t *loop)
{
    return &loop->stats;
}
