/* Unit tests of the reflector engine (src/reflect/refl.c) on the fake port: the pass loop
 * (bounded stack, fairness between kinds, the shared worker pool), kinds that wait for
 * another, backoff through the engine, no heap after the seal. Kinds here have no
 * watches: the tests put records in their tables and mark them dirty, as watch
 * callbacks do; test_offload.c runs a real kind with watches and requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "liqolet/refl.h"
#include "lq_fake.h"

typedef struct {
    lq_rtab_hdr_t h;
    int runs;
} rec_t;

#define NREC 1000
static lq_loop_t loop;
static lq_cluster_t home, foreign;
static lq_kreq_client_t home_req, foreign_req;
static lq_refl_t refl;
static lq_refl_kind_t ka, kb;
static rec_t recs_a[NREC], recs_b[16];

/* What the steps do and saw. */
static struct {
    char order[64];          /* 'a' / 'b' per pass, in order */
    size_t norder;
    uintptr_t sp_min, sp_max; /* stack addresses seen in steps */
    bool hold_a;             /* a's passes do not end by themselves */
    lq_refl_work_t *held[LQ_REFL_WORKERS * 2];
    size_t nheld;
    int fail_first;          /* passes that end with RETRY first */
    bool recheck_r0;         /* record r0000 ends with RECHECK 60 s */
} st;

static void note_stack(void)
{
    volatile char probe = 0;
    uintptr_t sp = (uintptr_t)&probe;
    if (st.sp_min == 0 || sp < st.sp_min)
        st.sp_min = sp;
    if (sp > st.sp_max)
        st.sp_max = sp;
}

static void step_common(lq_refl_work_t *w, char tag, bool hold)
{
    rec_t *r = (rec_t *)(void *)w->rec;
    note_stack();
    r->runs++;
    if (st.norder < sizeof st.order)
        st.order[st.norder++] = tag;
    if (hold) {
        st.held[st.nheld++] = w;
        return;
    }
    if (st.recheck_r0 && strcmp(w->rec->name, "r0000") == 0) {
        lq_refl_finish(w, LQ_RTAB_RECHECK, 60000);
        return;
    }
    if (st.fail_first > 0) {
        st.fail_first--;
        lq_refl_finish(w, LQ_RTAB_RETRY, 0);
        return;
    }
    lq_refl_finish(w, LQ_RTAB_DONE, 0);
}

static void step_a(lq_refl_work_t *w, lq_err_t err)
{
    (void)err;
    step_common(w, 'a', st.hold_a);
}

static void step_b(lq_refl_work_t *w, lq_err_t err)
{
    (void)err;
    step_common(w, 'b', false);
}

static bool no_key(lq_refl_kind_t *k, unsigned side, const lq_watch_event_t *ev, const char **ns,
                   size_t *nl, const char **name, size_t *len)
{
    (void)k, (void)side, (void)ev, (void)ns, (void)nl, (void)name, (void)len;
    return false;
}

static bool no_seen(lq_refl_kind_t *k, lq_rtab_hdr_t *h, unsigned side, const lq_watch_event_t *ev)
{
    (void)k, (void)h, (void)side, (void)ev;
    return false;
}

/* b waits until a has settled. */
static bool b_ready(lq_refl_kind_t *k)
{
    (void)k;
    return lq_refl_kind_idle(&ka);
}

static lq_refl_desc_t da = { .name = "A", .table = "a records", .log = "test", .rec_size = sizeof(rec_t),
                             .retry_base_ms = 1000, .retry_max_ms = 8000, .key = no_key,
                             .seen = no_seen, .step = step_a, .mgmt_kind = -1 };
static lq_refl_desc_t db = { .name = "B", .table = "b records", .log = "test", .rec_size = sizeof(rec_t),
                             .retry_base_ms = 1000, .retry_max_ms = 8000, .key = no_key,
                             .seen = no_seen, .step = step_b, .mgmt_kind = -1 };

static void boot(bool b_waits, unsigned a_max_workers)
{
    lq_fake_reset();
    lq_log_init();
    lq_loop_init(&loop);
    memset(&st, 0, sizeof st);
    /* the table does not clear its storage (only slots it hands out): the test's sums
     * over every slot need fresh storage for each case */
    memset(recs_a, 0, sizeof recs_a);
    memset(recs_b, 0, sizeof recs_b);
    memset(&home, 0, sizeof home);
    memset(&foreign, 0, sizeof foreign);
    home.label = "home";
    foreign.label = "foreign";
    home.target = (lq_conn_target_t){ "127.0.0.1", 6443, NULL, -1, "home" };
    foreign.target = (lq_conn_target_t){ "127.0.0.1", 7443, NULL, -1, "foreign" };
    lq_kreq_client_init(&home_req, &loop, &home.target, &home.kcfg);
    lq_kreq_client_init(&foreign_req, &loop, &foreign.target, &foreign.kcfg);
    lq_refl_init(&refl, &loop, &home, &foreign, &home_req, &foreign_req);
    da.max_workers = a_max_workers;
    db.ready = b_waits ? b_ready : NULL;
    char *const bufs[LQ_RTAB_SIDES] = { NULL, NULL };
    const size_t caps[LQ_RTAB_SIDES] = { 0, 0 };
    assert_int_equal(lq_refl_kind_add(&refl, &ka, &da, NULL, recs_a, NREC, bufs, caps, NULL, NULL),
                     LQ_OK);
    assert_int_equal(lq_refl_kind_add(&refl, &kb, &db, NULL, recs_b, 16, bufs, caps, NULL, NULL),
                     LQ_OK);
    assert_int_equal(lq_refl_start(&refl), LQ_OK);
}

static void dirty(lq_refl_kind_t *k, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "r%04u", i);
        lq_rtab_hdr_t *h = lq_rtab_get(&k->tab, "ns", 2, name, (size_t)len);
        assert_non_null(h);
        lq_refl_dirty(k, h);
    }
}

static void run(int iterations)
{
    for (int i = 0; i < iterations; i++)
        assert_int_equal(lq_loop_run_once(&loop, 0), LQ_OK);
}

static int runs_of(rec_t *recs, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += recs[i].runs;
    return total;
}

/* A thousand dirty records whose passes end at once finish in one loop iteration with a
 * flat stack: the pass loop never recurses. */
static void test_thousand_passes_bounded_stack(void **state)
{
    (void)state;
    boot(false, 0);
    dirty(&ka, NREC);
    assert_int_equal(ka.tab.stats.queued, NREC);
    run(1);
    assert_int_equal(runs_of(recs_a, NREC), NREC);
    assert_int_equal(ka.tab.stats.queued, 0);
    assert_int_equal(refl.stats.depth_max, 1);
    /* every step ran at the same depth (one frame of slack for the compiler) */
    assert_true(st.sp_max - st.sp_min < 512);
    assert_int_equal(ka.stats.passes, NREC);
    /* dirtying again is de-duplicated: one more pass each, not two */
    dirty(&ka, NREC);
    dirty(&ka, NREC);
    run(1);
    assert_int_equal(runs_of(recs_a, NREC), 2 * NREC);
}

/* Two kinds with work take turns, one record each. */
static void test_kinds_take_turns(void **state)
{
    (void)state;
    boot(false, 0);
    dirty(&ka, 3);
    dirty(&kb, 3);
    run(1);
    st.order[st.norder] = '\0';
    assert_string_equal(st.order, "ababab");
}

/* The worker pool is shared and bounded; a kind's max_workers is respected; a held
 * pass ends later from the loop and the queue drains. */
static void test_shared_pool_is_bounded(void **state)
{
    (void)state;
    boot(false, 2);
    st.hold_a = true;
    dirty(&ka, 5);
    dirty(&kb, 5);
    run(1);
    assert_int_equal(ka.busy, 2);                 /* a may hold two workers */
    assert_int_equal(runs_of(recs_b, 16), 5);     /* b's passes used the others */
    assert_true(refl.stats.busy_hwm <= LQ_REFL_WORKERS);
    assert_int_equal(ka.tab.stats.queued, 3);
    st.hold_a = false;
    while (st.nheld > 0) {
        lq_refl_finish(st.held[--st.nheld], LQ_RTAB_DONE, 0);
        run(1);
    }
    assert_int_equal(runs_of(recs_a, NREC), 5);
    assert_int_equal(ka.tab.stats.queued, 0);
    assert_int_equal(ka.busy, 0);
}

/* b waits for a to settle: nothing of b runs while a has work queued or held. */
static void test_kind_waits_for_another(void **state)
{
    (void)state;
    boot(true, 0);
    st.hold_a = true;
    dirty(&kb, 4);
    dirty(&ka, 2);
    run(3);
    assert_int_equal(runs_of(recs_b, 16), 0);
    assert_int_equal(ka.busy, 2);
    st.hold_a = false;
    lq_refl_finish(st.held[--st.nheld], LQ_RTAB_DONE, 0);
    run(2);
    assert_int_equal(runs_of(recs_b, 16), 0); /* one of a's is still held */
    lq_refl_finish(st.held[--st.nheld], LQ_RTAB_DONE, 0);
    run(2);
    assert_int_equal(runs_of(recs_b, 16), 4);
}

/* RETRY through the engine: the record comes back after its backoff, not before. */
static void test_retry_after_backoff(void **state)
{
    (void)state;
    boot(false, 0);
    st.fail_first = 2;
    dirty(&ka, 1);
    run(1);
    assert_int_equal(recs_a[0].runs, 1);
    assert_int_equal(ka.stats.failures, 1);
    int64_t due = recs_a[0].h.retry_at;
    assert_in_range(due - lq_port_mono_ms(), 500, 1000);
    lq_fake_clock_advance(due - lq_port_mono_ms() - 1);
    run(2);
    assert_int_equal(recs_a[0].runs, 1);
    lq_fake_clock_advance(1);
    run(2);
    assert_int_equal(recs_a[0].runs, 2); /* fails again: the ceiling doubled */
    assert_in_range(recs_a[0].h.retry_at - lq_port_mono_ms(), 1000, 2000);
    lq_fake_clock_advance(2000);
    run(2);
    assert_int_equal(recs_a[0].runs, 3);
    assert_int_equal(recs_a[0].h.retry_at, 0);
}

/* A retry that comes due before an earlier-armed recheck is not held back by it. */
static void test_retry_not_delayed_by_a_later_recheck(void **state)
{
    (void)state;
    boot(false, 0);
    st.recheck_r0 = true;
    dirty(&ka, 1); /* r0000: RECHECK in 60 s */
    run(1);
    assert_int_equal(recs_a[0].runs, 1);
    st.fail_first = 1;
    char name[] = "r0001";
    lq_rtab_hdr_t *h = lq_rtab_get(&ka.tab, "ns", 2, name, 5);
    lq_refl_dirty(&ka, h);
    run(2); /* r0001 fails at once: retry in 0.5..1 s */
    assert_int_equal(recs_a[1].runs, 1);
    lq_fake_clock_advance(1000);
    run(2);
    assert_int_equal(recs_a[1].runs, 2); /* not at the 60 s recheck */
    assert_int_equal(recs_a[0].runs, 1);
}

/* After the seal, a burst of passes touches no heap. */
static void test_no_heap_after_seal(void **state)
{
    (void)state;
    boot(true, 0);
    unsigned long v0 = lq_allocguard_violations();
    lq_pool_seal();
    dirty(&ka, NREC);
    dirty(&kb, 16);
    st.fail_first = 10;
    run(3);
    lq_fake_clock_advance(60000);
    run(3);
    lq_mgmt_snapshot_t snap;
    memset(&snap, 0, sizeof snap);
    lq_refl_snapshot(&refl, &snap);
    unsigned long v1 = lq_allocguard_violations();
    lq_pool_init(); /* unseal before asserting (cmocka allocates on failure) */
    assert_int_equal(v1, v0);
    assert_int_equal(runs_of(recs_b, 16), 16);
    assert_true(runs_of(recs_a, NREC) >= NREC + 10);
    assert_int_equal(snap.n_tables, 2);
    assert_string_equal(snap.tables[0].name, "a records");
    assert_int_equal(snap.tables[0].used, NREC);
    assert_int_equal(snap.workqueue.retries, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_passes_bounded_stack),
        cmocka_unit_test(test_kinds_take_turns),
        cmocka_unit_test(test_shared_pool_is_bounded),
        cmocka_unit_test(test_kind_waits_for_another),
        cmocka_unit_test(test_retry_after_backoff),
        cmocka_unit_test(test_retry_not_delayed_by_a_later_recheck),
        cmocka_unit_test(test_no_heap_after_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
