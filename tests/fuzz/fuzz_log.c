/* libFuzzer target: the log scrubber (src/core/log.c) with secrets registered, through
 * the whole path: formatting, truncation of over-long lines, redaction of registered
 * secrets and of bearer/authorization values, plain and JSON output.
 *
 * Input: byte 0: bit 0 JSON format, bits 1-2 the number of secrets (0-3); then for each
 * secret a length byte (4 + b % 37) and that many bytes, mapped to [A-Z] (characters
 * that neither "[redacted]", the level names, timestamps nor JSON escapes such as \u0001
 * produce or change); the rest is the message.
 * Invariants: no crash, overrun (ASan) or undefined behaviour (UBSan); no registered
 * secret appears whole in what reaches the log sink; every output ends with a newline. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/log.h"
#include "lq_fake.h"

static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char secrets[3][41];
    static char msg[8192];
    if (size < 1)
        return 0;
    lq_fake_reset();
    lq_log_init();
    lq_log_secret_clear();
    lq_log_set_format((data[0] & 1) ? LQ_LOG_JSON : LQ_LOG_PLAIN);
    size_t ns = (data[0] >> 1) & 3u;
    if (ns > 3)
        ns = 3;
    size_t p = 1, have = 0;
    for (size_t s = 0; s < ns && p < size; s++) {
        size_t n = 4u + data[p++] % 37u;
        if (p + n > size)
            break;
        for (size_t i = 0; i < n; i++)
            secrets[have][i] = set[data[p + i] % (sizeof set - 1)];
        secrets[have][n] = '\0';
        p += n;
        if (lq_log_secret_add(secrets[have], n) == LQ_OK)
            have++;
    }
    size_t ml = size - p < sizeof msg - 1 ? size - p : sizeof msg - 1;
    memcpy(msg, data + p, ml);
    msg[ml] = '\0';
    LQ_ERROR("fuzz", "%s", msg);
    LQ_WARN("fuzz", "status: %s: %s", msg, have ? secrets[0] : "none");
    const char *out = lq_fake_log_text();
    size_t ol = strlen(out);
    if (ol == 0 || out[ol - 1] != '\n')
        __builtin_trap();
    for (size_t s = 0; s < have; s++)
        if (strstr(out, secrets[s]))
            __builtin_trap(); /* a secret reached the sink */
    return 0;
}
