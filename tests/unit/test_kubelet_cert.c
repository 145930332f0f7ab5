/* Unit tests for src/kubelet/cert.c on the fake port: the kubelet API's self-signed serving
 * certificate generated in memory or kept as kubelet.crt/kubelet.key under cfg.cert_dir,
 * reused while good (same bytes, files untouched), regenerated when it names another
 * address, is unreadable, lacks its key or expires within 30 days (at the boundary to the
 * millisecond), renewed on demand, write failures with their codes and log lines, and the
 * private key never in the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "liqolet/kubelet.h"
#include "liqolet/log.h"
#include "liqolet/port.h"
#include "liqolet/tls.h"
#include "lq_fake.h"

#define DIR "/var/lib/liqolet"
#define CRT DIR "/kubelet.crt"
#define KEY DIR "/kubelet.key"
#define IP1 "10.0.0.1"
#define IP2 "10.0.0.2"
#define DAY_MS (86400LL * 1000)
#define RENEW_MS (30 * DAY_MS)

static lq_kubelet_t K; /* large: static, as the agent keeps it */
static char saved_cert[sizeof K.cert_], saved_key[sizeof K.key_];
static size_t saved_cert_len, saved_key_len;
static char fbuf[LQ_FAKE_FILE_BUF + 1];
static char keylines[4][128]; /* base64 lines of the keys made: must never be logged */
static size_t n_keylines;

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL)
        fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* A fresh lq_kubelet_t as lq_kubelet_start leaves it before loading the certificate. */
static void init_k(const char *ip, const char *dir)
{
    memset(&K, 0, sizeof K);
    K.cfg.listen_host = ip;
    K.cfg.node_name = "liqo-foreign";
    K.cfg.cert_dir = dir;
    K.profile_ = -1;
}

static void remember_key_line(const char *pem)
{
    /* the first base64 line after the BEGIN line */
    const char *nl = strchr(pem, '\n');
    assert_non_null(nl);
    const char *end = strchr(nl + 1, '\n');
    assert_non_null(end);
    size_t n = (size_t)(end - (nl + 1));
    assert_true(n > 16 && n < sizeof keylines[0]);
    if (n_keylines < sizeof keylines / sizeof keylines[0]) {
        memcpy(keylines[n_keylines], nl + 1, n);
        keylines[n_keylines][n] = '\0';
        n_keylines++;
    }
}

/* k's pair is well-formed PEM (NUL counted in the lengths), names ip, and is valid from
 * about now for 365 days. */
static void assert_pair(const char *ip)
{
    assert_true(K.cert_len_ > 1);
    assert_true(K.key_len_ > 1);
    assert_int_equal(K.cert_len_, strlen(K.cert_) + 1);
    assert_int_equal(K.key_len_, strlen(K.key_) + 1);
    assert_true(strncmp(K.cert_, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    assert_contains(K.cert_, "-----END CERTIFICATE-----");
    assert_contains(K.key_, "PRIVATE KEY-----");
    int64_t not_after = 0;
    bool has_ip = false;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)K.cert_, K.cert_len_, ip, &not_after,
                                      &has_ip), LQ_OK);
    assert_true(has_ip);
    int64_t left = not_after - lq_port_wall_ms();
    assert_true(left > 364 * DAY_MS && left <= 365 * DAY_MS);
    remember_key_line(K.key_);
}

static void save(void)
{
    memcpy(saved_cert, K.cert_, sizeof saved_cert);
    memcpy(saved_key, K.key_, sizeof saved_key);
    saved_cert_len = K.cert_len_;
    saved_key_len = K.key_len_;
}

static bool same_as_saved(void)
{
    return K.cert_len_ == saved_cert_len && K.key_len_ == saved_key_len &&
           memcmp(K.cert_, saved_cert, saved_cert_len) == 0 &&
           memcmp(K.key_, saved_key, saved_key_len) == 0;
}

/* The file holds exactly the PEM text (without its NUL). */
static void assert_file(const char *path, const char *pem, size_t len_with_nul)
{
    size_t n = 0;
    assert_int_equal(lq_port_file_read(path, fbuf, sizeof fbuf, &n), LQ_OK);
    assert_int_equal(n, len_with_nul - 1);
    assert_memory_equal(fbuf, pem, n);
}

static void assert_kept(void)
{
    assert_file(KEY, K.key_, K.key_len_);
    assert_file(CRT, K.cert_, K.cert_len_);
}

static void assert_no_file(const char *path)
{
    assert_int_equal(lq_port_file_stat(path, NULL, NULL), LQ_ENOTFOUND);
}

static int64_t mtime(const char *path)
{
    int64_t t = -1;
    assert_int_equal(lq_port_file_stat(path, &t, NULL), LQ_OK);
    return t;
}

static int64_t not_after_of(const char *pem, size_t len)
{
    int64_t na = 0;
    bool has_ip = false;
    assert_int_equal(lq_tls_cert_info((const unsigned char *)pem, len, IP1, &na, &has_ip), LQ_OK);
    return na;
}

/* Takes every free slot of the fake file table but `leave`. */
static void fill_files(int leave)
{
    int made = 0;
    for (int i = 0; i < 64 && made >= 0; i++) {
        char p[32];
        snprintf(p, sizeof p, "/filler/%d", i);
        if (lq_fake_file_set(p, "x", 1) != 0)
            break;
        made++;
    }
    /* free `leave` slots again */
    for (int i = 0; i < leave; i++) {
        char p[32];
        snprintf(p, sizeof p, "/filler/%d", made - 1 - i);
        lq_fake_file_remove(p);
    }
}

static int setup(void **state)
{
    (void)state;
    lq_fake_reset();
    lq_log_init();
    lq_log_set_level(LQ_LOG_DEBUG);
    assert_int_equal(lq_tls_init(), LQ_OK);
    n_keylines = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *log = lq_fake_log_text();
    if (strstr(log, "PRIVATE KEY") != NULL)
        fail_msg("a private key reached the log: %s", log);
    for (size_t i = 0; i < n_keylines; i++)
        if (strstr(log, keylines[i]) != NULL)
            fail_msg("key bytes reached the log: %s", log);
    return 0;
}

/* --- in memory only ---------------------------------------------------------------------- */

static void test_no_cert_dir_generates_in_memory(void **state)
{
    (void)state;
    const char *dirs[] = { NULL, "" };
    for (size_t i = 0; i < 2; i++) {
        init_k(IP1, dirs[i]);
        assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
        assert_pair(IP1);
        assert_false(lq_kubelet_cert_due(&K));
        int64_t na = 0;
        bool has = true;
        assert_int_equal(lq_tls_cert_info((const unsigned char *)K.cert_, K.cert_len_, IP2, &na,
                                          &has), LQ_OK);
        assert_false(has); /* it names this node's address only */
        assert_no_file("/kubelet.crt");
        assert_no_file("/kubelet.key");
        assert_no_file("kubelet.crt");
        assert_no_file("kubelet.key");
        assert_no_file("(null)/kubelet.crt");
        assert_no_file("(null)/kubelet.key");
    }
    assert_contains(lq_fake_log_text(), "kept in memory only");
    /* a second start generates another pair */
    save();
    init_k(IP1, NULL);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
}

static void test_ipv6_address(void **state)
{
    (void)state;
    init_k("fd00:10::7", DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_pair("fd00:10::7");
    save();
    init_k("fd00:10::7", DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_true(same_as_saved());
}

/* --- kept under cert_dir ------------------------------------------------------------------ */

static void test_generated_and_kept(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_pair(IP1);
    assert_kept();
    const char *log = lq_fake_log_text();
    assert_contains(log, "serving certificate generated for " IP1 " and kept in " CRT);
    assert_lacks(log, "reused");
}

/* The key is written before the certificate: with room for one file only, the key is
 * there and the certificate is not. */
static void test_key_written_first(void **state)
{
    (void)state;
    fill_files(1);
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_EIO);
    assert_int_equal(lq_port_file_stat(KEY, NULL, NULL), LQ_OK);
    assert_no_file(CRT);
    assert_contains(lq_fake_log_text(),
                    "cannot write the kubelet API's serving certificate under " DIR ": ");
    /* the next start, with room, regenerates (the lone key is not enough) and keeps both */
    lq_fake_file_remove("/filler/0");
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_pair(IP1);
    assert_kept();
}

static void test_reused_without_rewrite(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    int64_t t_crt = mtime(CRT), t_key = mtime(KEY);
    lq_fake_clock_advance(DAY_MS); /* any write now has another mtime */
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_true(same_as_saved());
    assert_int_equal(mtime(CRT), t_crt);
    assert_int_equal(mtime(KEY), t_key);
    assert_false(lq_kubelet_cert_due(&K));
    assert_contains(lq_fake_log_text(), "serving certificate " CRT " reused");
    /* and a third time, the same */
    lq_fake_clock_advance(100 * DAY_MS);
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_true(same_as_saved());
    assert_int_equal(mtime(CRT), t_crt);
}

/* Replaced files that are good are taken as they are (an operator's own pair). */
static void test_reuses_what_the_files_hold(void **state)
{
    (void)state;
    char c[4096], k[2048];
    size_t cl = 0, kl = 0;
    assert_int_equal(lq_tls_make_self_signed("own", "own", IP1, 90, lq_port_wall_ms(), c, sizeof c,
                                             &cl, k, sizeof k, &kl), LQ_OK);
    remember_key_line(k);
    assert_int_equal(lq_fake_file_set(CRT, c, cl), 0);
    assert_int_equal(lq_fake_file_set(KEY, k, kl), 0);
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_int_equal(K.cert_len_, cl + 1);
    assert_int_equal(K.key_len_, kl + 1);
    assert_memory_equal(K.cert_, c, cl + 1);
    assert_memory_equal(K.key_, k, kl + 1);
}

static void test_other_address_regenerated(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    lq_fake_clock_advance(1000);
    init_k(IP2, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP2);
    assert_kept();
    assert_contains(lq_fake_log_text(), CRT " does not name " IP2 "; generating a new one");
    /* back to the first address: regenerated again (the kept pair names IP2 now) */
    save();
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP1);
    assert_kept();
}

static void test_garbage_certificate_regenerated(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    const char *junk[] = {
        "not a certificate\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(lq_fake_file_set(CRT, junk[i], strlen(junk[i])), 0);
        init_k(IP1, DIR);
        assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
        assert_false(same_as_saved());
        assert_pair(IP1);
        assert_kept();
        save();
    }
    assert_contains(lq_fake_log_text(), CRT " is not a certificate; generating a new one");
}

/* A certificate file larger than the buffer is not read in part. */
static void test_oversized_certificate_regenerated(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    static char big[sizeof K.cert_ + 100];
    memcpy(big, K.cert_, K.cert_len_ - 1);
    memset(big + K.cert_len_ - 1, '\n', sizeof big - (K.cert_len_ - 1));
    assert_int_equal(lq_fake_file_set(CRT, big, sizeof big), 0);
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP1);
    assert_kept();
}

static void test_missing_file_regenerated(void **state)
{
    (void)state;
    const char *gone[] = { KEY, CRT };
    for (size_t i = 0; i < 2; i++) {
        init_k(IP1, DIR);
        assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
        save();
        lq_fake_file_remove(gone[i]);
        init_k(IP1, DIR);
        assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
        assert_false(same_as_saved());
        assert_true(memcmp(K.key_, saved_key, saved_key_len) != 0); /* a new key too */
        assert_pair(IP1);
        assert_kept();
    }
}

/* --- expiry ------------------------------------------------------------------------------- */

static void test_expiring_files_regenerated(void **state)
{
    (void)state;
    char c[4096], k[2048];
    size_t cl = 0, kl = 0;
    assert_int_equal(lq_tls_make_self_signed("old", "liqo-foreign", IP1, 10, lq_port_wall_ms(), c,
                                             sizeof c, &cl, k, sizeof k, &kl), LQ_OK);
    remember_key_line(k);
    assert_int_equal(lq_fake_file_set(CRT, c, cl), 0);
    assert_int_equal(lq_fake_file_set(KEY, k, kl), 0);
    /* due as it is */
    memcpy(K.cert_, c, cl + 1);
    K.cert_len_ = cl + 1;
    K.cfg.listen_host = IP1;
    assert_true(lq_kubelet_cert_due(&K));
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_true(memcmp(K.cert_, c, cl) != 0);
    assert_true(memcmp(K.key_, k, kl) != 0);
    assert_pair(IP1);
    assert_kept();
    assert_false(lq_kubelet_cert_due(&K));
    assert_contains(lq_fake_log_text(), CRT " expires within 30 days; generating a new one");
}

static void test_clock_moves_into_renewal(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    assert_false(lq_kubelet_cert_due(&K));
    lq_fake_clock_advance(340 * DAY_MS);
    assert_true(lq_kubelet_cert_due(&K));
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP1);
    assert_kept();
    assert_false(lq_kubelet_cert_due(&K));
    /* expired altogether: the same */
    save();
    lq_fake_clock_advance(400 * DAY_MS);
    assert_true(lq_kubelet_cert_due(&K));
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP1);
}

/* Exactly 30 days left is not due (kept); one millisecond less is (regenerated). */
static void test_thirty_day_boundary(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    int64_t na = not_after_of(K.cert_, K.cert_len_);
    lq_fake_clock_advance(na - RENEW_MS - lq_port_wall_ms());
    assert_int_equal(lq_port_wall_ms(), na - RENEW_MS);
    assert_false(lq_kubelet_cert_due(&K));
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_true(same_as_saved());
    assert_false(lq_kubelet_cert_due(&K));
    lq_fake_clock_advance(1);
    assert_true(lq_kubelet_cert_due(&K));
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    assert_false(same_as_saved());
    assert_false(lq_kubelet_cert_due(&K));
}

static void test_due_without_certificate(void **state)
{
    (void)state;
    init_k(IP1, NULL);
    assert_false(lq_kubelet_cert_due(&K)); /* nothing loaded: nothing to renew */
    memcpy(K.cert_, "garbage", 8);
    K.cert_len_ = 8;
    assert_false(lq_kubelet_cert_due(&K));
}

static void test_renew_always_regenerates(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    for (int i = 0; i < 3; i++) {
        save();
        int64_t t = mtime(CRT);
        lq_fake_clock_advance(DAY_MS);
        assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_OK);
        assert_false(same_as_saved());
        assert_pair(IP1);
        assert_kept();
        assert_true(mtime(CRT) > t);
        assert_true(mtime(KEY) > t);
    }
    /* in memory only as well */
    init_k(IP1, NULL);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_OK);
    assert_false(same_as_saved());
    assert_pair(IP1);
}

/* --- failures ----------------------------------------------------------------------------- */

/* A directory the fake cannot hold a file under (its paths are at most 255 bytes). */
static void test_unwritable_directory(void **state)
{
    (void)state;
    static char dir[301];
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    init_k(IP1, dir);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_EIO);
    const char *log = lq_fake_log_text();
    assert_contains(log, "cannot write the kubelet API's serving certificate under ");
    assert_contains(log, dir);
    assert_contains(log, lq_err_str(LQ_EIO));
    assert_contains(log, "must exist and be writable");
}

static void test_directory_name_too_long(void **state)
{
    (void)state;
    static char dir[600];
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    init_k(IP1, dir);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_ECONFIG);
    assert_int_equal(K.cert_len_, 0);
    assert_contains(lq_fake_log_text(), "kubelet.certDir is too long");
    assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_ECONFIG);
    assert_int_equal(K.cert_len_, 0);
    /* the longest that fits the path buffers (512 with "/kubelet.crt") passes that check */
    dir[511 - strlen("/kubelet.crt")] = '\0';
    init_k(IP1, dir);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_EIO); /* the fake's limit, not ours */
    dir[511 - strlen("/kubelet.crt")] = 'd';
    dir[512 - strlen("/kubelet.crt")] = '\0';
    init_k(IP1, dir);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_ECONFIG);
}

/* A renewal while running that cannot be kept leaves the pair in use as it was: the server
 * keeps serving it and, since it is still due, tries again at the next tick. */
static void test_failed_renewal_keeps_the_pair_in_use(void **state)
{
    (void)state;
    init_k(IP1, DIR);
    assert_int_equal(lq_kubelet_load_cert(&K, false), LQ_OK);
    save();
    lq_fake_clock_advance(340 * DAY_MS);
    assert_true(lq_kubelet_cert_due(&K));
    /* the key can be replaced in place, the certificate finds no room */
    lq_fake_file_remove(CRT);
    fill_files(0);
    assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_EIO);
    assert_true(same_as_saved());
    assert_true(lq_kubelet_cert_due(&K));
    assert_contains(lq_fake_log_text(), "under " DIR ": ");
    /* no room for either */
    lq_fake_file_remove(KEY);
    lq_fake_file_set("/filler/last", "x", 1);
    assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_EIO);
    assert_true(same_as_saved());
    assert_true(lq_kubelet_cert_due(&K));
    /* room again: renewed */
    lq_fake_file_remove("/filler/0");
    lq_fake_file_remove("/filler/1");
    assert_int_equal(lq_kubelet_load_cert(&K, true), LQ_OK);
    assert_false(same_as_saved());
    assert_false(lq_kubelet_cert_due(&K));
    assert_pair(IP1);
    assert_kept();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_cert_dir_generates_in_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generated_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_written_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_without_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuses_what_the_files_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_address_regenerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_certificate_regenerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_certificate_regenerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_regenerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiring_files_regenerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_moves_into_renewal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thirty_day_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_without_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renew_always_regenerates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_name_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_renewal_keeps_the_pair_in_use, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
