/* Unit tests of the trust gate of foreign Events (src/reflect/events.c,
 * lq_events_forge_remote; DESIGN.md Decision 17, issue 11 item 5): a foreign Event reaches
 * home only when it sits in a mapped remote namespace and names, by uid, the remote pod the
 * agent created; the home copy is named from the Event's uid, and its text is bounded and
 * attributed to the foreign cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/events.h"
#include "liqolet/json.h"
#include "lq_fake.h"

#define RNS   "web-home1234-abcdef"
#define POD   "web-0"
#define RUID  "7f0c2f5e-1111-4c3e-9d4b-000000000001"
#define EUID  "0b9d7e2a-2222-4a8e-8f3e-000000000002"
#define HUID  "c1a2b3c4-3333-4d5e-8f6a-000000000003"
#define HNS   "web"

static unsigned char g_arena[256 * 1024];
static lq_json_doc_t g_doc;
static int g_lookups;
static char g_long_pod[254];

/* The pod table of the test: one remote pod RNS/POD whose uid is RUID, plus one with a
 * 253-character name, same uid. */
static bool fake_lookup(void *ctx, const char *rns, size_t rl, const char *name, size_t nl,
                        const char *ruid, size_t ul, char *ns, size_t ns_cap, char *uid,
                        size_t uid_cap)
{
    (void)ctx;
    g_lookups++;
    bool pod_ok = (nl == strlen(POD) && memcmp(name, POD, nl) == 0) ||
                  (nl == strlen(g_long_pod) && memcmp(name, g_long_pod, nl) == 0);
    if (rl != strlen(RNS) || memcmp(rns, RNS, rl) != 0 || !pod_ok || ul != strlen(RUID) ||
        memcmp(ruid, RUID, ul) != 0)
        return false;
    (void)snprintf(ns, ns_cap, "%s", HNS);
    (void)snprintf(uid, uid_cap, "%s", HUID);
    return true;
}

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_json_doc_init(&g_doc, g_arena, sizeof g_arena);
    g_lookups = 0;
    memset(g_long_pod, 'p', 253);
    g_long_pod[215] = '-'; /* where the cut falls: never "-." in the name */
    g_long_pod[253] = '\0';
    return 0;
}

/* An Event with the given event namespace, involvedObject namespace/name/uid/kind, event
 * uid and message (pieces are inserted raw; NULL leaves the field out). */
static const lq_json_t *event(const char *ens, const char *ions, const char *ioname,
                              const char *iouid, const char *kind, const char *euid,
                              const char *msg)
{
    static char buf[16384];
    char meta[512] = "", io[1024] = "";
    size_t n = 0;
    if (ens)
        n += (size_t)snprintf(meta + n, sizeof meta - n, "\"namespace\":\"%s\",", ens);
    if (euid)
        n += (size_t)snprintf(meta + n, sizeof meta - n, "\"uid\":\"%s\",", euid);
    (void)snprintf(meta + n, sizeof meta - n, "\"name\":\"%s.17e3\"", ioname ? ioname : "x");
    n = 0;
    if (ions)
        n += (size_t)snprintf(io + n, sizeof io - n, "\"namespace\":\"%s\",", ions);
    if (iouid)
        n += (size_t)snprintf(io + n, sizeof io - n, "\"uid\":\"%s\",", iouid);
    if (kind)
        n += (size_t)snprintf(io + n, sizeof io - n, "\"kind\":\"%s\",", kind);
    (void)snprintf(io + n, sizeof io - n, "\"name\":\"%s\"", ioname ? ioname : "x");
    int len = snprintf(buf, sizeof buf,
                       "{\"kind\":\"Event\",\"metadata\":{%s},\"involvedObject\":{%s},"
                       "\"reason\":\"FailedScheduling\",\"message\":\"%s\",\"type\":\"Warning\","
                       "\"count\":3,\"source\":{\"component\":\"default-scheduler\"},"
                       "\"firstTimestamp\":\"2026-01-02T03:04:05Z\","
                       "\"lastTimestamp\":\"2026-01-02T03:04:09Z\"}",
                       meta, io, msg ? msg : "0/2 nodes are available");
    assert_true(len > 0 && (size_t)len < sizeof buf);
    lq_json_t *root = NULL;
    lq_json_reset(&g_doc);
    assert_int_equal(lq_json_parse(&g_doc, buf, (size_t)len, &root), LQ_OK);
    return root;
}

static bool gate(const lq_json_t *o, lq_event_entry_t *en)
{
    return lq_events_forge_remote(o, fake_lookup, NULL, "fc1", en);
}

static void test_ours_is_reflected_named_from_event_uid(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_true(gate(event(RNS, RNS, POD, RUID, "Pod", EUID, NULL), &en));
    assert_true(en.reflected && en.used && en.warning);
    assert_string_equal(en.ns, HNS);
    assert_string_equal(en.uid, HUID);
    assert_string_equal(en.pod, POD);
    assert_string_equal(en.name, POD "." EUID);
    assert_string_equal(en.reason, "FailedScheduling");
    assert_string_equal(en.message, "[fc1] 0/2 nodes are available");
    assert_string_equal(en.component, "default-scheduler (fc1)");
    assert_int_equal(en.count, 3);
    assert_string_equal(en.first, "2026-01-02T03:04:05Z");
    assert_string_equal(en.last, "2026-01-02T03:04:09Z");
}

/* (a) of issue 11: an Event in another foreign namespace that names our remote pod. */
static void test_event_in_other_namespace_is_refused(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_false(gate(event("elsewhere", RNS, POD, RUID, "Pod", EUID, NULL), &en));
    assert_int_equal(g_lookups, 0);
    /* ... and one whose own namespace is ours but names a pod elsewhere. */
    assert_false(gate(event(RNS, "elsewhere", POD, RUID, "Pod", EUID, NULL), &en));
    assert_false(gate(event(NULL, RNS, POD, RUID, "Pod", EUID, NULL), &en));
    assert_int_equal(g_lookups, 0);
}

/* (b): the right namespace and name, a wrong or missing pod uid. */
static void test_wrong_or_missing_pod_uid_is_refused(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_false(gate(event(RNS, RNS, POD, "7f0c2f5e-1111-4c3e-9d4b-000000000009", "Pod", EUID, NULL), &en));
    assert_int_equal(g_lookups, 1);
    assert_false(gate(event(RNS, RNS, POD, NULL, "Pod", EUID, NULL), &en));
    assert_false(gate(event(RNS, RNS, POD, "", "Pod", EUID, NULL), &en));
    assert_int_equal(g_lookups, 1);
}

static void test_not_a_pod_or_bad_event_uid_is_refused(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_false(gate(event(RNS, RNS, POD, RUID, "Service", EUID, NULL), &en));
    assert_false(gate(event(RNS, RNS, POD, RUID, NULL, EUID, NULL), &en));
    assert_false(gate(event(RNS, RNS, POD, RUID, "Pod", NULL, NULL), &en));
    /* uids chosen to name something else at home: a path, upper case, too long */
    assert_false(gate(event(RNS, RNS, POD, RUID, "Pod", "x/../y", NULL), &en));
    assert_false(gate(event(RNS, RNS, POD, RUID, "Pod", "ABC", NULL), &en));
    assert_false(gate(event(RNS, RNS, POD, RUID, "Pod", EUID "-0", NULL), &en));
    assert_int_equal(g_lookups, 0);
}

/* A huge message arrives bounded, cut on a UTF-8 boundary, with the attribution kept. */
static void test_huge_message_is_bounded_and_attributed(void **state)
{
    (void)state;
    static char msg[12000];
    size_t n = 0;
    while (n + 2 < 10000) { /* "é" (2 bytes) repeated: an odd cut would split one */
        msg[n++] = (char)0xc3;
        msg[n++] = (char)0xa9;
    }
    msg[n] = '\0';
    lq_event_entry_t en;
    assert_true(gate(event(RNS, RNS, POD, RUID, "Pod", EUID, msg), &en));
    size_t len = strlen(en.message);
    assert_true(len <= LQ_EVENTS_MSG_MAX - 1u);
    assert_true(len >= LQ_EVENTS_MSG_MAX - 3u);
    assert_memory_equal(en.message, "[fc1] ", 6);
    /* complete sequences only (249 bytes were free: the cut drops half a character) */
    assert_true((len - 6u) % 2u == 0);
    for (size_t i = 6; i < len; i += 2)
        assert_true((unsigned char)en.message[i] == 0xc3 && i + 1 < len &&
                    (unsigned char)en.message[i + 1] == 0xa9);
}

static void test_control_bytes_and_bad_times_sanitised(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_true(gate(event(RNS, RNS, POD, RUID, "Pod", EUID, "line1\\nline2\\u001b[31m"), &en));
    assert_string_equal(en.message, "[fc1] line1 line2 [31m");
    static const char bad_time[] =
        "{\"metadata\":{\"namespace\":\"" RNS "\",\"uid\":\"" EUID "\",\"name\":\"e\"},"
        "\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"" RNS "\",\"name\":\"" POD "\","
        "\"uid\":\"" RUID "\"},\"reason\":\"" "R\\u0007" "\",\"count\":-5,"
        "\"firstTimestamp\":\"<script>\",\"lastTimestamp\":\"not a time at all, really\"}";
    lq_json_t *root = NULL;
    lq_json_reset(&g_doc);
    assert_int_equal(lq_json_parse(&g_doc, bad_time, sizeof bad_time - 1u, &root), LQ_OK);
    assert_true(gate(root, &en));
    assert_string_equal(en.reason, "R ");
    assert_int_equal(en.count, 1);
    assert_false(en.warning);
    assert_string_equal(en.message, "[fc1] ");
    assert_string_equal(en.component, "remote (fc1)");
    assert_true(strchr(en.last, '<') == NULL && strlen(en.last) >= 20);
    assert_string_equal(en.first, en.last);
}

/* A 253-character pod name: the home name stays within 253 and a valid subdomain. */
static void test_long_pod_name_fits(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_true(gate(event(RNS, RNS, g_long_pod, RUID, "Pod", EUID, NULL), &en));
    size_t len = strlen(en.name);
    assert_true(len <= 253);
    assert_string_equal(en.name + len - strlen("." EUID), "." EUID);
    assert_null(strstr(en.name, "-."));
    assert_string_equal(en.pod, g_long_pod);
}

static void test_no_lookup_no_reflection(void **state)
{
    (void)state;
    lq_event_entry_t en;
    assert_false(lq_events_forge_remote(event(RNS, RNS, POD, RUID, "Pod", EUID, NULL), NULL,
                                        NULL, "fc1", &en));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ours_is_reflected_named_from_event_uid, setup),
        cmocka_unit_test_setup(test_event_in_other_namespace_is_refused, setup),
        cmocka_unit_test_setup(test_wrong_or_missing_pod_uid_is_refused, setup),
        cmocka_unit_test_setup(test_not_a_pod_or_bad_event_uid_is_refused, setup),
        cmocka_unit_test_setup(test_huge_message_is_bounded_and_attributed, setup),
        cmocka_unit_test_setup(test_control_bytes_and_bad_times_sanitised, setup),
        cmocka_unit_test_setup(test_long_pod_name_fits, setup),
        cmocka_unit_test_setup(test_no_lookup_no_reflection, setup),
    };
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
