/* Fuzz target for src/kube/kubeconfig.c: lq_kcfg_parse on arbitrary bytes must never crash,
 * never write past a field, and leave every string NUL-terminated within its field with
 * lengths inside their limits. Linked with the fake port, whose in-memory files give the
 * file references (certificate-authority: ca.crt, tokenFile: token, ...) something to
 * read. Needs libyaml and more than PURE_SRCS; built (from the repository root) with
 *   clang -std=c11 -g -O1 -Iinclude -Iport/fake -include boards/host/lq_board.h \
 *     -isystem build/host/sysroot/include -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -o build/fuzz/fuzz_kubeconfig tests/fuzz/fuzz_kubeconfig.c \
 *     src/kube/kubeconfig.c src/core/log.c src/core/err.c port/fake/port.c build/host/sysroot/lib/libyaml.a */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/kubeconfig.h"
#include "liqolet/log.h"
#include "lq_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lq_kcfg_t K; /* static: the log's secret list points into it */
static int ready;

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        lq_fake_reset();
        lq_log_init();
        lq_log_set_level(LQ_LOG_ERROR);
        static const char pem[] = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
        (void)lq_fake_file_set("/fz/ca.crt", pem, sizeof pem - 1);
        (void)lq_fake_file_set("/fz/key", pem, sizeof pem - 1);
        (void)lq_fake_file_set("/fz/der", "\x30\x03\x02\x01\x01", 5);
        (void)lq_fake_file_set("/fz/token", "fuzz-token-0001\n", 16);
        (void)lq_fake_file_set("/fz/empty", "", 0);
        ready = 1;
    }
    /* The first byte picks a context name or the current context. */
    static const char *const ctxs[] = { NULL, "c", "a", "default", "" };
    const char *ctx = NULL;
    if (size > 0) {
        ctx = ctxs[data[0] % (sizeof ctxs / sizeof ctxs[0])];
        data++;
        size--;
    }
    char err[LQ_KCFG_ERR_MAX];
    memset(err, 'x', sizeof err);
    lq_err_t r = lq_kcfg_parse(&K, (const char *)data, size, "/fz", ctx, err, sizeof err);
    if (r == LQ_OK) {
        if (err[0] != '\0')
            abort();
        check_str(K.origin, sizeof K.origin);
        check_str(K.context, sizeof K.context);
        check_str(K.server, sizeof K.server);
        check_str(K.host, sizeof K.host);
        check_str(K.path_prefix, sizeof K.path_prefix);
        check_str(K.tls_server_name, sizeof K.tls_server_name);
        check_str(K.token, sizeof K.token);
        check_str(K.token_file, sizeof K.token_file);
        /* The scheme is case-insensitive: "HTTPS://" is accepted too. */
        static const char https[] = "https://";
        for (size_t i = 0; i < 8; i++)
            if ((K.server[i] | 0x20) != (https[i] | 0x20))
                abort();
        if (K.host[0] == '\0' || K.port == 0)
            abort();
        if (K.ca_len > LQ_KCFG_PEM_MAX || K.cert_len > LQ_KCFG_PEM_MAX ||
            K.key_len > LQ_KCFG_PEM_MAX || K.token_len >= LQ_KCFG_TOKEN_MAX ||
            strlen(K.token) != K.token_len || (K.cert_len == 0) != (K.key_len == 0))
            abort();
        bool changed;
        (void)lq_kcfg_token_refresh(&K, true, &changed);
        (void)lq_kcfg_verify_name(&K);
    } else {
        /* A message was written, NUL-terminated inside the buffer; the output is wiped. */
        if (err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL)
            abort();
        if (K.ca_len != 0 || K.key_len != 0 || K.token_len != 0)
            abort();
    }
    return 0;
}
