/* Unit tests for the event loop, on the fake port (virtual clock, scripted sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/loop.h"
#include "lq_fake.h"

static lq_loop_t loop;

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_loop_init(&loop);
    return 0;
}

/* --- timers --- */

typedef struct {
    int fired;
    int64_t at[8];
    int rearm_ms; /* >0: re-arm from the callback */
    int limit;
} tick_t;

static void on_tick(lq_loop_t *l, lq_loop_timer_t *t, void *ctx)
{
    tick_t *k = ctx;
    if (k->fired < 8)
        k->at[k->fired] = lq_port_mono_ms();
    k->fired++;
    if (k->rearm_ms > 0 && k->fired < k->limit)
        lq_loop_timer_start(l, t, k->rearm_ms);
}

static void test_timer_fires_once_at_due_time(void **state)
{
    (void)state;
    lq_loop_timer_t t;
    tick_t k = { 0 };
    lq_loop_timer_init(&t, on_tick, &k);
    lq_loop_timer_start(&loop, &t, 250);
    assert_int_equal(lq_loop_run_once(&loop, -1), LQ_OK);
    assert_int_equal(k.fired, 1);
    assert_int_equal(k.at[0], 250);        /* slept exactly until due */
    assert_int_equal(lq_fake_slept_ms(), 250);
    assert_false(t.armed);
    /* Nothing armed, bounded wait: it sleeps the bound and fires nothing. */
    assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_int_equal(k.fired, 1);
    assert_int_equal(lq_fake_slept_ms(), 1250);
}

static void test_timers_fire_in_due_order_and_stop_works(void **state)
{
    (void)state;
    lq_loop_timer_t a, b, c;
    tick_t ka = { 0 }, kb = { 0 }, kc = { 0 };
    lq_loop_timer_init(&a, on_tick, &ka);
    lq_loop_timer_init(&b, on_tick, &kb);
    lq_loop_timer_init(&c, on_tick, &kc);
    lq_loop_timer_start(&loop, &a, 300);
    lq_loop_timer_start(&loop, &b, 100);
    lq_loop_timer_start(&loop, &c, 200);
    lq_loop_timer_stop(&loop, &c);
    lq_loop_timer_stop(&loop, &c); /* idempotent */
    for (int i = 0; i < 4; i++)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_int_equal(kb.fired, 1);
    assert_int_equal(kb.at[0], 100);
    assert_int_equal(ka.fired, 1);
    assert_int_equal(ka.at[0], 300);
    assert_int_equal(kc.fired, 0);
}

static void test_timer_restart_moves_deadline(void **state)
{
    (void)state;
    lq_loop_timer_t t;
    tick_t k = { 0 };
    lq_loop_timer_init(&t, on_tick, &k);
    lq_loop_timer_start(&loop, &t, 100);
    lq_loop_timer_start(&loop, &t, 400); /* re-arm: only the later deadline counts */
    assert_int_equal(lq_loop_run_once(&loop, -1), LQ_OK);
    assert_int_equal(k.fired, 1);
    assert_int_equal(k.at[0], 400);
    assert_null(loop.timers);
}

static void test_periodic_timer_rearmed_from_callback(void **state)
{
    (void)state;
    lq_loop_timer_t t;
    tick_t k = { .rearm_ms = 10000, .limit = 3 };
    lq_loop_timer_init(&t, on_tick, &k);
    lq_loop_timer_start(&loop, &t, 10000);
    for (int i = 0; i < 5; i++)
        (void)lq_loop_run_once(&loop, 60000);
    assert_int_equal(k.fired, 3);
    assert_int_equal(k.at[0], 10000);
    assert_int_equal(k.at[1], 20000);
    assert_int_equal(k.at[2], 30000);
}

static int spin_count;
static void on_spin(lq_loop_t *l, lq_loop_timer_t *t, void *ctx)
{
    (void)ctx;
    spin_count++;
    lq_loop_timer_start(l, t, 0); /* always due again at once */
}

static void test_zero_delay_rearm_fires_once_per_iteration(void **state)
{
    (void)state;
    spin_count = 0;
    lq_loop_timer_t t;
    lq_loop_timer_init(&t, on_spin, NULL);
    lq_loop_timer_start(&loop, &t, 0);
    /* A timer that re-arms itself with delay 0 must not trap the loop in its timer
     * phase: one firing per iteration, and the loop never sleeps meanwhile. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(lq_loop_run_once(&loop, 1000), LQ_OK);
    assert_int_equal(spin_count, 5);
    assert_int_equal(lq_fake_slept_ms(), 0);
}

/* --- descriptors --- */

typedef struct {
    int calls;
    unsigned last_events;
    char got[256];
    size_t got_len;
    int close_on_eof;
    int reaped;
    lq_loop_io_t *other; /* closed from this handler, to test deferred close */
} sink_t;

static void on_reap(lq_loop_t *l, lq_loop_io_t *io, void *ctx)
{
    (void)l;
    (void)io;
    sink_t *s = ctx;
    s->reaped++;
}

static void on_io(lq_loop_t *l, lq_loop_io_t *io, unsigned ev, void *ctx)
{
    sink_t *s = ctx;
    s->calls++;
    s->last_events = ev;
    if (s->other != NULL)
        lq_loop_io_close(l, s->other, on_reap);
    if (ev & LQ_PORT_IN) {
        for (;;) {
            long n = lq_port_recv(io->fd, s->got + s->got_len, sizeof s->got - s->got_len);
            if (n > 0) {
                s->got_len += (size_t)n;
                continue;
            }
            if (n == LQ_IO_CLOSED && s->close_on_eof)
                lq_loop_io_close(l, io, on_reap);
            break;
        }
    }
}

static void test_readable_descriptor_dispatched_and_reaped_on_close(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK);
    lq_port_fd_t got = -1;
    assert_int_equal(lq_port_tcp_connect("127.0.0.1", 6443, &got), LQ_OK);
    assert_int_equal(got, fd);
    assert_string_equal(lq_fake_last_connect_host(), "127.0.0.1");

    lq_loop_io_t io = { 0 };
    sink_t s = { .close_on_eof = 1 };
    assert_int_equal(lq_loop_io_add(&loop, &io, fd, LQ_PORT_IN, on_io, &s), LQ_OK);
    /* Not readable yet: the loop sleeps the bound and does not call the handler. */
    assert_int_equal(lq_loop_run_once(&loop, 50), LQ_OK);
    assert_int_equal(s.calls, 0);
    assert_int_equal(lq_fake_slept_ms(), 50);

    assert_int_equal(lq_fake_sock_feed(fd, "hello", 5), 0);
    assert_int_equal(lq_loop_run_once(&loop, 50), LQ_OK);
    assert_int_equal(s.calls, 1);
    assert_memory_equal(s.got, "hello", 5);
    assert_int_equal(lq_fake_slept_ms(), 50); /* no sleep when something is ready */

    lq_fake_sock_close_peer(fd);
    assert_int_equal(lq_loop_run_once(&loop, 50), LQ_OK);
    assert_int_equal(s.reaped, 1);
    assert_true(lq_fake_sock_closed(fd));
    assert_int_equal(loop.nios, 0);
    assert_int_equal(io.state, LQ_LOOP_IO_FREE);
    assert_int_equal(lq_loop_stats(&loop)->ios_high_water, 1);
}

static void test_close_other_from_handler_is_deferred(void **state)
{
    (void)state;
    lq_port_fd_t a = lq_fake_expect_connect(LQ_OK), fa;
    assert_int_equal(lq_port_tcp_connect("a", 1, &fa), LQ_OK);
    lq_port_fd_t b = lq_fake_expect_connect(LQ_OK), fb;
    assert_int_equal(lq_port_tcp_connect("b", 2, &fb), LQ_OK);
    lq_loop_io_t ia = { 0 }, ib = { 0 };
    sink_t sa = { 0 }, sb = { 0 };
    sa.other = &ib;
    assert_int_equal(lq_loop_io_add(&loop, &ia, a, LQ_PORT_IN, on_io, &sa), LQ_OK);
    assert_int_equal(lq_loop_io_add(&loop, &ib, b, LQ_PORT_IN, on_io, &sb), LQ_OK);
    lq_fake_sock_feed(a, "x", 1);
    lq_fake_sock_feed(b, "y", 1);
    assert_int_equal(lq_loop_run_once(&loop, 10), LQ_OK);
    /* a's handler closed b before b's turn: b is not called, and is reaped once. */
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 0);
    assert_int_equal(sb.reaped, 1);
    assert_true(lq_fake_sock_closed(b));
    assert_false(lq_fake_sock_closed(a));
    assert_int_equal(loop.nios, 1);
    lq_loop_io_close(&loop, &ib, on_reap); /* closing a reaped io is a no-op */
    assert_int_equal(sb.reaped, 1);
}

static void test_writable_and_want_changes(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_AGAIN), got;
    assert_int_equal(lq_port_tcp_connect("::1", 443, &got), LQ_AGAIN);
    lq_loop_io_t io = { 0 };
    sink_t s = { 0 };
    lq_fake_sock_send_limit(fd, 0); /* not writable yet */
    assert_int_equal(lq_loop_io_add(&loop, &io, fd, LQ_PORT_OUT, on_io, &s), LQ_OK);
    assert_int_equal(lq_loop_run_once(&loop, 20), LQ_OK);
    assert_int_equal(s.calls, 0);
    lq_fake_sock_send_limit(fd, SIZE_MAX);
    assert_int_equal(lq_loop_run_once(&loop, 20), LQ_OK);
    assert_int_equal(s.calls, 1);
    assert_true(s.last_events & LQ_PORT_OUT);
    assert_int_equal(lq_port_tcp_finish(fd), LQ_OK);
    /* Stop asking for OUT: no more calls although the socket stays writable. */
    lq_loop_io_want(&io, LQ_PORT_IN);
    assert_int_equal(lq_loop_run_once(&loop, 20), LQ_OK);
    assert_int_equal(s.calls, 1);
}

static int pending_flag;
static int is_pending(lq_loop_io_t *io, void *ctx)
{
    (void)io;
    (void)ctx;
    return pending_flag;
}

static void test_pending_data_dispatched_without_waiting(void **state)
{
    (void)state;
    lq_port_fd_t fd = lq_fake_expect_connect(LQ_OK), got;
    assert_int_equal(lq_port_tcp_connect("h", 1, &got), LQ_OK);
    lq_loop_io_t io = { 0 };
    sink_t s = { 0 };
    assert_int_equal(lq_loop_io_add(&loop, &io, fd, LQ_PORT_IN, on_io, &s), LQ_OK);
    io.pending = is_pending;
    pending_flag = 1; /* e.g. TLS holds decrypted bytes the socket no longer shows */
    assert_int_equal(lq_loop_run_once(&loop, 5000), LQ_OK);
    assert_int_equal(s.calls, 1);
    assert_true(s.last_events & LQ_PORT_IN);
    assert_int_equal(lq_fake_slept_ms(), 0);
    pending_flag = 0;
    assert_int_equal(lq_loop_run_once(&loop, 5000), LQ_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(lq_fake_slept_ms(), 5000);
}

static int hook_limit;
static int hook_calls;
static int hook(lq_loop_t *l, void *ctx, int64_t now)
{
    (void)l;
    (void)ctx;
    (void)now;
    hook_calls++;
    return hook_limit;
}

static void test_prepare_hook_bounds_the_wait(void **state)
{
    (void)state;
    hook_calls = 0;
    hook_limit = 30;
    assert_int_equal(lq_loop_hook_add(&loop, hook, NULL), LQ_OK);
    lq_loop_timer_t t;
    tick_t k = { 0 };
    lq_loop_timer_init(&t, on_tick, &k);
    lq_loop_timer_start(&loop, &t, 100);
    assert_int_equal(lq_loop_run_once(&loop, -1), LQ_OK);
    assert_int_equal(lq_fake_slept_ms(), 30);   /* the hook's limit, not the timer's */
    assert_int_equal(k.fired, 0);
    hook_limit = -1;
    assert_int_equal(lq_loop_run_once(&loop, -1), LQ_OK);
    assert_int_equal(lq_fake_slept_ms(), 100);  /* then the timer bounds it */
    assert_int_equal(k.fired, 1);
    assert_int_equal(hook_calls, 2);
    for (int i = 1; i < LQ_MAX_LOOP_HOOKS; i++)
        assert_int_equal(lq_loop_hook_add(&loop, hook, NULL), LQ_OK);
    assert_int_equal(lq_loop_hook_add(&loop, hook, NULL), LQ_ENOSPC);
}

static void test_descriptor_table_full_is_enospc(void **state)
{
    (void)state;
    static lq_loop_io_t ios[LQ_MAX_FDS + 1];
    sink_t s = { 0 };
    for (int i = 0; i < LQ_MAX_FDS; i++)
        assert_int_equal(lq_loop_io_add(&loop, &ios[i], 1000 + i, LQ_PORT_IN, on_io, &s), LQ_OK);
    assert_int_equal(lq_loop_io_add(&loop, &ios[LQ_MAX_FDS], 5000, LQ_PORT_IN, on_io, &s),
                     LQ_ENOSPC);
    assert_int_equal(lq_loop_io_add(&loop, &ios[0], 7, LQ_PORT_IN, on_io, &s), LQ_EINVAL);
    assert_int_equal(lq_loop_stats(&loop)->ios_high_water, LQ_MAX_FDS);
}

static void on_stop_timer(lq_loop_t *l, lq_loop_timer_t *t, void *ctx)
{
    (void)t;
    (void)ctx;
    lq_loop_stop(l);
}

static void test_run_returns_on_signal_and_on_stop(void **state)
{
    (void)state;
    lq_fake_signal_raise(15);
    assert_int_equal(lq_loop_run(&loop), 15);

    /* A handler (here a timer) asks the loop to stop: run returns 0 after that
     * iteration, at the timer's due time. */
    lq_loop_timer_t t;
    lq_loop_timer_init(&t, on_stop_timer, NULL);
    lq_loop_timer_start(&loop, &t, 700);
    int64_t before = lq_port_mono_ms();
    assert_int_equal(lq_loop_run(&loop), 0);
    assert_int_equal(lq_port_mono_ms() - before, 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_timer_fires_once_at_due_time, setup),
        cmocka_unit_test_setup(test_timers_fire_in_due_order_and_stop_works, setup),
        cmocka_unit_test_setup(test_timer_restart_moves_deadline, setup),
        cmocka_unit_test_setup(test_periodic_timer_rearmed_from_callback, setup),
        cmocka_unit_test_setup(test_zero_delay_rearm_fires_once_per_iteration, setup),
        cmocka_unit_test_setup(test_readable_descriptor_dispatched_and_reaped_on_close, setup),
        cmocka_unit_test_setup(test_close_other_from_handler_is_deferred, setup),
        cmocka_unit_test_setup(test_writable_and_want_changes, setup),
        cmocka_unit_test_setup(test_pending_data_dispatched_without_waiting, setup),
        cmocka_unit_test_setup(test_prepare_hook_bounds_the_wait, setup),
        cmocka_unit_test_setup(test_descriptor_table_full_is_enospc, setup),
        cmocka_unit_test_setup(test_run_returns_on_signal_and_on_stop, setup),
    };
    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
