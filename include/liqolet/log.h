/* liqolet: levelled logs in plain or JSON format, with secret redaction.
 *
 * Lines go to lq_port_log_write. Tokens and Secret data must never reach a log: code
 * never formats them on purpose, and as a second line of defence every finished line is
 * scrubbed of (1) every secret registered with lq_log_secret_add (bearer tokens, key
 * material) and (2) the value after "Bearer " / "authorization:". Redaction replaces the
 * bytes with "[redacted]"; the line is never truncated silently (an over-long line ends
 * with "...[truncated]"). */
#ifndef LIQOLET_LOG_H
#define LIQOLET_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "liqolet/err.h"

typedef enum lq_log_level {
    LQ_LOG_ERROR = 0,
    LQ_LOG_WARN,
    LQ_LOG_INFO,
    LQ_LOG_DEBUG,
    LQ_LOG_TRACE
} lq_log_level_t;

typedef enum lq_log_format { LQ_LOG_PLAIN = 0, LQ_LOG_JSON } lq_log_format_t;

#define LQ_LOG_MAX_SECRETS 8

/* Level info, plain format, no secrets. Cannot fail. */
void lq_log_init(void);
void lq_log_set_level(lq_log_level_t level);
void lq_log_set_format(lq_log_format_t format);
lq_log_level_t lq_log_level(void);
/* Parse "error|warn|info|debug|trace" and "plain|json". LQ_OK or LQ_EINVAL. */
lq_err_t lq_log_level_parse(const char *s, lq_log_level_t *out);
lq_err_t lq_log_format_parse(const char *s, lq_log_format_t *out);
const char *lq_log_level_name(lq_log_level_t level);

/* Registers a secret to scrub from every line. The bytes are borrowed: they must stay
 * valid (and are re-read at each line, so a token rotated in place stays covered as long
 * as its length is re-registered). Secrets shorter than 4 bytes are ignored (they would
 * redact ordinary words). Returns LQ_OK, LQ_ENOSPC or LQ_EINVAL. */
lq_err_t lq_log_secret_add(const char *secret, size_t len);
void lq_log_secret_clear(void);

/* Emits one line if `level` is enabled. module is a short tag ("loop", "kapi"). */
void lq_log(lq_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lq_logv(lq_log_level_t level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Lines below the compile-time floor cost nothing (LQ_LOG_FLOOR, default trace). */
#ifndef LQ_LOG_FLOOR
#define LQ_LOG_FLOOR LQ_LOG_TRACE
#endif
#define LQ_LOG_AT_(lvl, mod, ...)                                                          \
    do {                                                                                   \
        if ((lvl) <= LQ_LOG_FLOOR && (lvl) <= lq_log_level())                              \
            lq_log((lvl), (mod), __VA_ARGS__);                                             \
    } while (0)
#define LQ_ERROR(mod, ...) LQ_LOG_AT_(LQ_LOG_ERROR, mod, __VA_ARGS__)
#define LQ_WARN(mod, ...)  LQ_LOG_AT_(LQ_LOG_WARN, mod, __VA_ARGS__)
#define LQ_INFO(mod, ...)  LQ_LOG_AT_(LQ_LOG_INFO, mod, __VA_ARGS__)
#define LQ_DEBUG(mod, ...) LQ_LOG_AT_(LQ_LOG_DEBUG, mod, __VA_ARGS__)
#define LQ_TRACE(mod, ...) LQ_LOG_AT_(LQ_LOG_TRACE, mod, __VA_ARGS__)

#endif
