/* libFuzzer target: the config-file parser (lq_config_apply_text) on any input.
 * Invariants: no crash or overrun; the message is always NUL-terminated within its
 * buffer; on success the effective line renders; applying the same text twice to a
 * fresh config gives identical structs (parsing is deterministic). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/config.h"

static lq_config_t a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    static char line[16384];
    memset(msg, 'x', sizeof msg);
    lq_config_init(&a);
    lq_err_t e = lq_config_apply_text(&a, (const char *)data, size, "fuzz", msg, sizeof msg);
    if (memchr(msg, '\0', sizeof msg) == NULL)
        __builtin_trap();
    if (e == LQ_OK) {
        size_t len = 0;
        lq_err_t r = lq_config_render_effective(&a, line, sizeof line, &len);
        if (r != LQ_OK && r != LQ_ETOOBIG)
            __builtin_trap();
        if (r == LQ_OK && (len >= sizeof line || line[len] != '\0'))
            __builtin_trap();
    }
    lq_config_init(&b);
    lq_err_t e2 = lq_config_apply_text(&b, (const char *)data, size, "fuzz", msg, sizeof msg);
    if (e2 != e || memcmp(&a, &b, sizeof a) != 0)
        __builtin_trap();
    return 0;
}
