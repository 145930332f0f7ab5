/* Unit tests for logging: levels, formats, and that secrets never reach the sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "liqolet/config_defaults.h"
#include "liqolet/log.h"
#include "lq_fake.h"

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    return 0;
}

static void test_levels_filter(void **state)
{
    (void)state;
    LQ_DEBUG("t", "hidden %d", 1);
    assert_string_equal(lq_fake_log_text(), "");
    LQ_INFO("t", "shown %d", 2);
    assert_non_null(strstr(lq_fake_log_text(), "info  t: shown 2\n"));
    lq_log_set_level(LQ_LOG_TRACE);
    LQ_TRACE("t", "deep");
    assert_non_null(strstr(lq_fake_log_text(), "trace t: deep\n"));
    lq_log_level_t l;
    assert_int_equal(lq_log_level_parse("warn", &l), LQ_OK);
    assert_int_equal(l, LQ_LOG_WARN);
    assert_int_equal(lq_log_level_parse("verbose", &l), LQ_EINVAL);
    lq_log_format_t f;
    assert_int_equal(lq_log_format_parse("json", &f), LQ_OK);
    assert_int_equal(f, LQ_LOG_JSON);
    assert_int_equal(lq_log_format_parse("xml", &f), LQ_EINVAL);
}

static void test_plain_line_has_utc_timestamp_and_one_line(void **state)
{
    (void)state;
    LQ_WARN("kapi", "multi\nline");
    /* The fake wall clock starts at 1700000000000 ms = 2023-11-14T22:13:20.000Z. */
    assert_string_equal(lq_fake_log_text(), "2023-11-14T22:13:20.000Z warn  kapi: multi line\n");
}

static void test_json_format_escapes(void **state)
{
    (void)state;
    lq_log_set_format(LQ_LOG_JSON);
    lq_fake_clock_advance(1234);
    LQ_ERROR("watch", "bad \"quote\" \\ and\ttab %s", "x");
    assert_string_equal(lq_fake_log_text(),
                        "{\"ts\":\"2023-11-14T22:13:21.234Z\",\"level\":\"error\",\"module\":\"watch\","
                        "\"msg\":\"bad \\\"quote\\\" \\\\ and\\ttab x\"}\n");
}

static void test_registered_secret_is_redacted(void **state)
{
    (void)state;
    static char token[] = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.sig";
    assert_int_equal(lq_log_secret_add(token, strlen(token)), LQ_OK);
    LQ_INFO("kapi", "oops: %s and again %s", token, token);
    const char *t = lq_fake_log_text();
    assert_null(strstr(t, "c2VjcmV0LXBheWxvYWQ"));
    assert_non_null(strstr(t, "oops: [redacted] and again [redacted]"));
    /* JSON format too. */
    lq_log_set_format(LQ_LOG_JSON);
    LQ_INFO("kapi", "%s", token);
    assert_null(strstr(lq_fake_log_text(), "c2VjcmV0LXBheWxvYWQ"));
}

static void test_long_and_partially_printed_secrets_are_redacted(void **state)
{
    (void)state;
    /* A service-account JWT is ~900 bytes, longer than the message buffer. */
    static char jwt[901];
    for (size_t i = 0; i < sizeof jwt - 1; i++)
        jwt[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(i * 7 + i / 64) % 64];
    jwt[sizeof jwt - 1] = '\0';
    assert_int_equal(lq_log_secret_add(jwt, strlen(jwt)), LQ_OK);
    LQ_INFO("kcfg", "token=%s", jwt);
    LQ_INFO("kcfg", "prefix=%.40s end", jwt);
    const char *t = lq_fake_log_text();
    char probe[17];
    memcpy(probe, jwt, 16);
    probe[16] = '\0';
    assert_null(strstr(t, probe));
    memcpy(probe, jwt + 100, 16);
    assert_null(strstr(t, probe));
    assert_non_null(strstr(t, "prefix=[redacted] end"));
}

static void test_bearer_and_authorization_values_are_redacted(void **state)
{
    (void)state;
    LQ_INFO("http", "sent Authorization: Bearer abc.def-ghi_123 to server");
    const char *t = lq_fake_log_text();
    assert_null(strstr(t, "abc.def-ghi_123"));
    assert_non_null(strstr(t, "Bearer [redacted] to server"));
    LQ_INFO("http", "header authorization: Basic dXNlcjpwYXNz");
    assert_null(strstr(lq_fake_log_text(), "dXNlcjpwYXNz"));
}

static void test_secret_table_bounded(void **state)
{
    (void)state;
    static const char s[LQ_LOG_MAX_SECRETS + 1][8] = { "secret0", "secret1", "secret2", "secret3",
                                                      "secret4", "secret5", "secret6", "secret7",
                                                      "secret8" };
    for (int i = 0; i < LQ_LOG_MAX_SECRETS; i++)
        assert_int_equal(lq_log_secret_add(s[i], 7), LQ_OK);
    assert_int_equal(lq_log_secret_add(s[LQ_LOG_MAX_SECRETS], 7), LQ_ENOSPC);
    assert_int_equal(lq_log_secret_add(s[0], 7), LQ_OK); /* re-registering is not a new slot */
}

static void test_overlong_message_is_marked_truncated(void **state)
{
    (void)state;
    char big[LQ_LOG_LINE_MAX * 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    LQ_INFO("t", "%s", big);
    const char *t = lq_fake_log_text();
    assert_non_null(strstr(t, "...[truncated]\n"));
}

/* A credential at the very end of a full line: the marker must not be written past the
 * line buffer (issue 17, finding 1; ASan catches the overrun). Every length of the
 * credential at every end position, bearer and registered secrets, both formats. */
static void test_redaction_at_the_end_of_a_full_line(void **state)
{
    (void)state;
    static char msg[LQ_LOG_LINE_MAX + 8];
    static const char *const creds[] = { "Bearer x", "Bearer abc", "Authorization: Basic dXNlcjpw",
                                         "tok4", "t0k3nv4lu3" };
    assert_int_equal(lq_log_secret_add("tok4", 4), LQ_OK);
    assert_int_equal(lq_log_secret_add("t0k3nv4lu3", 10), LQ_OK);
    for (int json = 0; json < 2; json++) {
        lq_log_set_format(json ? LQ_LOG_JSON : LQ_LOG_PLAIN);
        for (size_t c = 0; c < sizeof creds / sizeof creds[0]; c++) {
            size_t cl = strlen(creds[c]);
            /* message lengths LQ_LOG_LINE_MAX - 1 - k: the credential ends k bytes
             * before the end of the line buffer (k = 0: exactly full) */
            for (size_t k = 0; k < 12; k++) {
                size_t total = LQ_LOG_LINE_MAX - 1 - k;
                memset(msg, 'm', total - cl);
                memcpy(msg + total - cl, creds[c], cl);
                msg[total] = '\0';
                lq_fake_reset();
                LQ_INFO("kapi", "%s", msg);
                const char *t = lq_fake_log_text();
                assert_non_null(strstr(t, "mmmm"));
                assert_null(strstr(t, "dXNlcjpw"));
                assert_null(strstr(t, "tok4"));
                assert_null(strstr(t, "t0k3nv4lu3"));
                assert_null(strstr(t, "Bearer x\n"));
                assert_null(strstr(t, "Bearer abc"));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_levels_filter, setup),
        cmocka_unit_test_setup(test_plain_line_has_utc_timestamp_and_one_line, setup),
        cmocka_unit_test_setup(test_json_format_escapes, setup),
        cmocka_unit_test_setup(test_registered_secret_is_redacted, setup),
        cmocka_unit_test_setup(test_long_and_partially_printed_secrets_are_redacted, setup),
        cmocka_unit_test_setup(test_bearer_and_authorization_values_are_redacted, setup),
        cmocka_unit_test_setup(test_secret_table_bounded, setup),
        cmocka_unit_test_setup(test_overlong_message_is_marked_truncated, setup),
        cmocka_unit_test_setup(test_redaction_at_the_end_of_a_full_line, setup),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
