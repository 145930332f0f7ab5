/* Unit tests of the record table and its work queue (src/reflect/rtab.c, pure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/rtab.h"

typedef struct {
    lq_rtab_hdr_t h;
    int payload;
} rec_t;

#define CAP 8
static rec_t recs[CAP];
static lq_rtab_t t;

static lq_rtab_hdr_t *get(const char *ns, const char *name)
{
    return lq_rtab_get(&t, ns, strlen(ns), name, strlen(name));
}

static void setup(void)
{
    lq_rtab_init(&t, recs, sizeof recs[0], CAP, 100, 1000);
}

static void test_get_find_free_and_limits(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a");
    assert_non_null(a);
    ((rec_t *)(void *)a)->payload = 7;
    assert_ptr_equal(get("ns", "a"), a); /* the same key is the same record */
    assert_ptr_equal(lq_rtab_find(&t, "ns", 2, "a", 1), a);
    assert_null(lq_rtab_find(&t, "ns", 2, "b", 1));
    assert_null(lq_rtab_find(&t, "n", 1, "sa", 2)); /* the key is (ns, name), not a concatenation */
    assert_int_equal(t.stats.records, 1);
    /* keys that do not fit are refused, never cut */
    char longns[LQ_RTAB_NS_BUF + 1];
    memset(longns, 'x', sizeof longns - 1);
    longns[sizeof longns - 1] = '\0';
    assert_null(get(longns, "a"));
    assert_null(get("", "a"));
    assert_int_equal(t.stats.table_full, 0);
    /* limit: three records at most */
    lq_rtab_set_limit(&t, 3);
    assert_non_null(get("ns", "b"));
    assert_non_null(get("ns", "c"));
    assert_null(get("ns", "d"));
    assert_true(t.overflow);
    assert_int_equal(t.stats.table_full, 1);
    assert_int_equal(t.stats.records_hwm, 3);
    lq_rtab_free(&t, a);
    assert_int_equal(t.stats.records, 2);
    lq_rtab_hdr_t *d = get("ns", "d");
    assert_non_null(d);
    assert_int_equal(((rec_t *)(void *)d)->payload, 0); /* a new record starts zeroed */
}

static void test_dirty_is_deduplicated_and_fifo(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a"), *b = get("ns", "b"), *c = get("ns", "c");
    lq_rtab_dirty(&t, b);
    lq_rtab_dirty(&t, a);
    lq_rtab_dirty(&t, b); /* already queued: once */
    lq_rtab_dirty(&t, c);
    lq_rtab_dirty(&t, a);
    assert_int_equal(t.stats.queued, 3);
    assert_ptr_equal(lq_rtab_next(&t), b);
    assert_ptr_equal(lq_rtab_next(&t), a);
    assert_ptr_equal(lq_rtab_next(&t), c);
    assert_null(lq_rtab_next(&t));
    assert_int_equal(t.stats.queued_hwm, 3);
}

static void test_busy_record_requeued_when_done(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a"), *b = get("ns", "b");
    lq_rtab_dirty(&t, a);
    assert_ptr_equal(lq_rtab_next(&t), a);
    assert_true(a->busy);
    lq_rtab_dirty(&t, a); /* an event while a worker holds it: not queued twice */
    assert_int_equal(t.stats.queued, 0);
    lq_rtab_dirty(&t, b);
    assert_ptr_equal(lq_rtab_next(&t), b);
    assert_null(lq_rtab_next(&t)); /* a is busy, b is busy */
    lq_rtab_done(&t, a, LQ_RTAB_DONE, 0, 1000);
    assert_ptr_equal(lq_rtab_next(&t), a); /* queued again after its pass */
    lq_rtab_done(&t, a, LQ_RTAB_DONE, 0, 1000);
    lq_rtab_done(&t, b, LQ_RTAB_DONE, 0, 1000);
    assert_null(lq_rtab_next(&t));
}

static void test_retry_backoff_and_promote(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a"), *b = get("ns", "b");
    lq_rtab_dirty(&t, a);
    assert_ptr_equal(lq_rtab_next(&t), a);
    lq_rtab_done(&t, a, LQ_RTAB_RETRY, 0, 1000);
    assert_in_range(a->retry_at, 1050, 1100); /* base 100 ms, jitter [50, 100] */
    assert_int_equal(t.stats.retries, 1);
    assert_int_equal(lq_rtab_depth(&t), 1);
    assert_int_equal(lq_rtab_promote(&t, 1049), a->retry_at);
    assert_null(lq_rtab_next(&t));
    assert_int_equal(lq_rtab_promote(&t, 1100), 0);
    assert_ptr_equal(lq_rtab_next(&t), a);
    lq_rtab_done(&t, a, LQ_RTAB_RETRY, 0, 2000); /* the ceiling doubles */
    assert_in_range(a->retry_at, 2100, 2200);
    /* an event supersedes the wait */
    lq_rtab_dirty(&t, a);
    assert_int_equal(a->retry_at, 0);
    assert_ptr_equal(lq_rtab_next(&t), a);
    lq_rtab_done(&t, a, LQ_RTAB_DONE, 0, 2000); /* success resets the backoff */
    lq_rtab_dirty(&t, a);
    assert_ptr_equal(lq_rtab_next(&t), a);
    lq_rtab_done(&t, a, LQ_RTAB_RETRY, 0, 3000);
    assert_in_range(a->retry_at, 3050, 3100);
    /* RECHECK: a fixed delay */
    lq_rtab_dirty(&t, b);
    assert_ptr_equal(lq_rtab_next(&t), b);
    lq_rtab_done(&t, b, LQ_RTAB_RECHECK, 5000, 3000);
    assert_int_equal(b->retry_at, 8000);
    assert_int_equal(lq_rtab_promote(&t, 3000), 3000 + (a->retry_at - 3000));
    /* FREE */
    assert_int_equal(lq_rtab_promote(&t, 9000), 0);
    assert_ptr_equal(lq_rtab_next(&t), a);
    lq_rtab_done(&t, a, LQ_RTAB_FREE, 0, 9000);
    assert_false(a->used);
    assert_int_equal(t.stats.records, 1);
}

static void test_relist_sweep_per_side(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a"), *b = get("ns", "b"), *c = get("ns", "c");
    lq_rtab_mark(a, LQ_RTAB_HOME);
    lq_rtab_mark(b, LQ_RTAB_HOME);
    lq_rtab_mark(b, LQ_RTAB_FOREIGN);
    lq_rtab_mark(c, LQ_RTAB_FOREIGN);
    /* the home side relists and shows only a */
    lq_rtab_relist_begin(&t, LQ_RTAB_HOME);
    lq_rtab_mark(a, LQ_RTAB_HOME);
    assert_int_equal(lq_rtab_relist_end(&t, LQ_RTAB_HOME), 1);
    assert_true(lq_rtab_present(a, LQ_RTAB_HOME));
    assert_false(lq_rtab_present(b, LQ_RTAB_HOME));
    assert_true(lq_rtab_present(b, LQ_RTAB_FOREIGN)); /* the other side is untouched */
    assert_true(b->dirty);
    assert_false(a->dirty);
    assert_false(c->dirty);
    /* the foreign side relists and shows nothing */
    lq_rtab_relist_begin(&t, LQ_RTAB_FOREIGN);
    assert_int_equal(lq_rtab_relist_end(&t, LQ_RTAB_FOREIGN), 2);
    assert_false(lq_rtab_present(c, LQ_RTAB_FOREIGN));
    assert_true(c->dirty);
    assert_int_equal(t.stats.queued, 2);
}

static void test_freeing_a_queued_record_unlinks_it(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *a = get("ns", "a"), *b = get("ns", "b"), *c = get("ns", "c");
    lq_rtab_dirty(&t, a);
    lq_rtab_dirty(&t, b);
    lq_rtab_dirty(&t, c);
    lq_rtab_free(&t, b);
    assert_int_equal(t.stats.queued, 2);
    assert_ptr_equal(lq_rtab_next(&t), a);
    assert_ptr_equal(lq_rtab_next(&t), c);
    assert_null(lq_rtab_next(&t));
    lq_rtab_dirty(&t, c); /* busy: no enqueue */
    lq_rtab_free(&t, a);  /* busy records are freed by done(FREE); free also works */
    lq_rtab_done(&t, c, LQ_RTAB_FREE, 0, 0);
    assert_int_equal(t.stats.records, 0);
    assert_int_equal(t.stats.queued, 0);
    assert_null(lq_rtab_next(&t));
}

/* The urgent lane: served first, moves a waiting record over, keeps its place when the
 * record is busy, and still lets one normal record through every LQ_RTAB_URGENT_RUN + 1
 * picks so creates are never starved (the run length is checked as configured, and
 * LQ_RTAB_URGENT_RUN >= 1 makes the urgent one come first). */
static void test_urgent_lane(void **state)
{
    (void)state;
    setup();
    lq_rtab_hdr_t *r[CAP];
    char name[16];
    for (int i = 0; i < CAP; i++) {
        snprintf(name, sizeof name, "p%d", i);
        r[i] = get("ns", name);
        assert_non_null(r[i]);
    }
    /* normal: 0 1 2 3; urgent: 4 5 6 7, then 1 moves over */
    for (int i = 0; i < 4; i++)
        lq_rtab_dirty(&t, r[i]);
    for (int i = 4; i < 8; i++)
        lq_rtab_dirty_urgent(&t, r[i]);
    lq_rtab_dirty_urgent(&t, r[1]); /* waiting in the normal lane: moves, not twice */
    lq_rtab_dirty_urgent(&t, r[4]); /* already urgent: stays where it is */
    assert_int_equal(t.stats.queued, 8);
    /* LQ_RTAB_URGENT_RUN urgent, one normal, ..., until a lane runs dry */
    lq_rtab_hdr_t *urgent[] = { r[4], r[5], r[6], r[7], r[1] }, *normal[] = { r[0], r[2], r[3] };
    size_t ui = 0, ni = 0;
    while (ui < 5 || ni < 3) {
        for (unsigned k = 0; k < LQ_RTAB_URGENT_RUN && ui < 5; k++)
            assert_ptr_equal(lq_rtab_next(&t), urgent[ui++]);
        if (ni < 3)
            assert_ptr_equal(lq_rtab_next(&t), normal[ni++]);
    }
    assert_null(lq_rtab_next(&t));
    assert_int_equal(t.stats.queued, 0);
    /* busy: an urgent event while a worker holds it requeues it urgent when done */
    lq_rtab_dirty_urgent(&t, r[0]);
    lq_rtab_dirty(&t, r[2]);
    lq_rtab_dirty(&t, r[3]);
    lq_rtab_done(&t, r[0], LQ_RTAB_DONE, 0, 1000); /* r[0] was busy since the picks above */
    lq_rtab_done(&t, r[2], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_done(&t, r[3], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_dirty(&t, r[5]);
    lq_rtab_done(&t, r[5], LQ_RTAB_DONE, 0, 1000);
    assert_ptr_equal(lq_rtab_next(&t), r[0]); /* urgent, ahead of the normal ones */
    assert_ptr_equal(lq_rtab_next(&t), r[2]);
    assert_ptr_equal(lq_rtab_next(&t), r[3]);
    assert_ptr_equal(lq_rtab_next(&t), r[5]);
    assert_null(lq_rtab_next(&t));
    /* a normal dirty after an urgent pass is normal again */
    lq_rtab_done(&t, r[0], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_dirty(&t, r[1]);
    lq_rtab_done(&t, r[1], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_dirty(&t, r[0]);
    lq_rtab_dirty_urgent(&t, r[6]);
    lq_rtab_done(&t, r[6], LQ_RTAB_DONE, 0, 1000);
    assert_ptr_equal(lq_rtab_next(&t), r[6]);
    assert_ptr_equal(lq_rtab_next(&t), r[1]);
    assert_ptr_equal(lq_rtab_next(&t), r[0]);
    /* freeing a queued urgent record unlinks it from its lane */
    lq_rtab_done(&t, r[0], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_dirty_urgent(&t, r[0]);
    lq_rtab_dirty_urgent(&t, r[7]); /* busy since the first picks: queued when done */
    lq_rtab_done(&t, r[7], LQ_RTAB_DONE, 0, 1000);
    lq_rtab_free(&t, r[0]);
    assert_ptr_equal(lq_rtab_next(&t), r[7]);
    assert_null(lq_rtab_next(&t));
    assert_int_equal(t.stats.queued, 0);
}

/* The table never writes storage it has not handed out (a large static table costs
 * resident memory only for the records it held): init leaves it alone, slots are taken
 * in order and cleared when taken, and every sweep stops at the span. */
static void test_untaken_storage_untouched(void **state)
{
    (void)state;
    memset(recs, 0xA5, sizeof recs); /* garbage, as in storage that was never zeroed */
    lq_rtab_init(&t, recs, sizeof recs[0], CAP, 100, 1000);
    assert_int_equal(lq_rtab_span(&t), 0);
    assert_null(lq_rtab_find(&t, "ns", 2, "a", 1)); /* garbage "used" flags are not read */
    lq_rtab_hdr_t *a = get("ns", "a");
    lq_rtab_hdr_t *b = get("ns", "b");
    assert_ptr_equal(a, &recs[0].h);
    assert_ptr_equal(b, &recs[1].h);
    assert_int_equal(((rec_t *)(void *)a)->payload, 0);
    assert_int_equal(lq_rtab_span(&t), 2);
    lq_rtab_free(&t, a);
    assert_ptr_equal(get("ns", "c"), &recs[0].h); /* a freed slot is reused first */
    assert_int_equal(lq_rtab_span(&t), 2);
    lq_rtab_dirty_all(&t);
    lq_rtab_relist_begin(&t, LQ_RTAB_HOME);
    assert_int_equal(lq_rtab_relist_end(&t, LQ_RTAB_HOME), 0);
    (void)lq_rtab_promote(&t, 1000);
    (void)lq_rtab_depth(&t);
    unsigned char pattern[sizeof recs[0]];
    memset(pattern, 0xA5, sizeof pattern);
    for (int i = 2; i < CAP; i++)
        assert_memory_equal(&recs[i], pattern, sizeof pattern);
    /* the table still fills to its capacity */
    for (int i = 2; i < CAP; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        assert_non_null(get("ns", name));
    }
    assert_int_equal(lq_rtab_span(&t), CAP);
    assert_null(get("ns", "one-too-many"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_find_free_and_limits),
        cmocka_unit_test(test_dirty_is_deduplicated_and_fifo),
        cmocka_unit_test(test_busy_record_requeued_when_done),
        cmocka_unit_test(test_retry_backoff_and_promote),
        cmocka_unit_test(test_relist_sweep_per_side),
        cmocka_unit_test(test_freeing_a_queued_record_unlinks_it),
        cmocka_unit_test(test_urgent_lane),
        cmocka_unit_test(test_untaken_storage_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
