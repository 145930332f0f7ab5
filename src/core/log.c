/* liqolet: levelled logging with redaction (see log.h). No allocation: one static line
 * buffer, formatted with vsnprintf, scrubbed in place, written through the port. */
#include <stdio.h>
#include <string.h>

#include "liqolet/config_defaults.h"
#include "liqolet/log.h"
#include "liqolet/port.h"

static struct {
    lq_log_level_t level;
    lq_log_format_t format;
    struct {
        const char *p;
        size_t len;
    } secrets[LQ_LOG_MAX_SECRETS];
    size_t nsecrets;
} lg = { LQ_LOG_INFO, LQ_LOG_PLAIN, { { NULL, 0 } }, 0 };

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
static const char redacted[] = "[redacted]";
static const char truncated[] = "...[truncated]";

void lq_log_init(void)
{
    memset(&lg, 0, sizeof lg);
    lg.level = LQ_LOG_INFO;
    lg.format = LQ_LOG_PLAIN;
}

void lq_log_set_level(lq_log_level_t level)
{
    lg.level = level;
}

void lq_log_set_format(lq_log_format_t format)
{
    lg.format = format;
}

lq_log_level_t lq_log_level(void)
{
    return lg.level;
}

const char *lq_log_level_name(lq_log_level_t level)
{
    if ((unsigned)level > LQ_LOG_TRACE)
        return "?";
    return level_names[level];
}

lq_err_t lq_log_level_parse(const char *s, lq_log_level_t *out)
{
    for (unsigned i = 0; i <= LQ_LOG_TRACE; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (lq_log_level_t)i;
            return LQ_OK;
        }
    }
    return LQ_EINVAL;
}

lq_err_t lq_log_format_parse(const char *s, lq_log_format_t *out)
{
    if (strcmp(s, "plain") == 0 || strcmp(s, "text") == 0)
        *out = LQ_LOG_PLAIN;
    else if (strcmp(s, "json") == 0)
        *out = LQ_LOG_JSON;
    else
        return LQ_EINVAL;
    return LQ_OK;
}

lq_err_t lq_log_secret_add(const char *secret, size_t len)
{
    if (secret == NULL)
        return LQ_EINVAL;
    if (len < 4)
        return LQ_OK;
    for (size_t i = 0; i < lg.nsecrets; i++) {
        if (lg.secrets[i].p == secret) {
            lg.secrets[i].len = len;
            return LQ_OK;
        }
    }
    if (lg.nsecrets >= LQ_LOG_MAX_SECRETS)
        return LQ_ENOSPC;
    lg.secrets[lg.nsecrets].p = secret;
    lg.secrets[lg.nsecrets].len = len;
    lg.nsecrets++;
    return LQ_OK;
}

void lq_log_secret_clear(void)
{
    lg.nsecrets = 0;
}

/* Replaces buf[at, at+n) with "[redacted]" inside a buffer of capacity cap holding *len
 * bytes (at + n <= *len <= cap). Returns the index just past the replacement. Without
 * room to grow, the tail is cut first and then the marker itself: the secret's bytes are
 * never kept, and nothing is written at or past cap. */
static size_t splice_redacted(char *buf, size_t *len, size_t cap, size_t at, size_t n)
{
    size_t r = sizeof redacted - 1;
    if (r > cap - at)
        r = cap - at;
    size_t tail = *len - (at + n);
    if (tail > cap - at - r)
        tail = cap - at - r;
    memmove(buf + at + r, buf + at + n, tail);
    memcpy(buf + at, redacted, r);
    *len = at + r + tail;
    return at + r;
}

static int is_token_char(char c)
{
    return c != ' ' && c != '"' && c != '\'' && c != ',' && c != '\r' && c != '\n' &&
           c != '\t' && c != '\0' && c != '}' && c != '\\';
}

static int ci_prefix(const char *p, size_t avail, const char *word)
{
    size_t n = strlen(word);
    if (avail < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = p[i], b = word[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* Scrubs registered secrets and bearer credentials from buf[0, *len). */
static void scrub(char *buf, size_t *len, size_t cap)
{
    /* A secret is found by its first bytes (an anchor of up to 16), then the run that
     * keeps matching it is redacted: this also catches a secret longer than the line
     * buffer (a 900-byte service-account JWT) and a prefix printed with "%.40s". */
    for (size_t s = 0; s < lg.nsecrets; s++) {
        const char *sec = lg.secrets[s].p;
        size_t n = lg.secrets[s].len;
        size_t anchor = n < 16 ? n : 16;
        size_t i = 0;
        while (anchor > 0 && i + anchor <= *len) {
            if (memcmp(buf + i, sec, anchor) == 0) {
                size_t run = anchor;
                while (run < n && i + run < *len && buf[i + run] == sec[run])
                    run++;
                i = splice_redacted(buf, len, cap, i, run);
            } else {
                i++;
            }
        }
    }
    static const char *const markers[] = { "bearer ", "authorization: " };
    for (size_t m = 0; m < sizeof markers / sizeof markers[0]; m++) {
        size_t ml = strlen(markers[m]);
        for (size_t i = 0; i + ml <= *len; i++) {
            if (!ci_prefix(buf + i, *len - i, markers[m]))
                continue;
            size_t start = i + ml;
            /* Keep the scheme word visible ("Bearer ", "Basic "); redact the credential. */
            if (ci_prefix(buf + start, *len - start, "bearer "))
                start += 7;
            else if (ci_prefix(buf + start, *len - start, "basic "))
                start += 6;
            size_t end = start;
            while (end < *len && is_token_char(buf[end]))
                end++;
            if (end > start && !(end - start == sizeof redacted - 1 &&
                                 memcmp(buf + start, redacted, end - start) == 0))
                i = splice_redacted(buf, len, cap, start, end - start) - 1;
        }
    }
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian). */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static size_t format_time(char *out, size_t cap)
{
    int64_t ms = lq_port_wall_ms();
    int64_t secs = ms / 1000;
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    int y;
    unsigned mo, d;
    civil(days, &y, &mo, &d);
    int n = snprintf(out, cap, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, mo, d,
                     (unsigned)(rem / 3600), (unsigned)(rem % 3600 / 60), (unsigned)(rem % 60),
                     (unsigned)(ms % 1000));
    return n > 0 ? (size_t)n : 0;
}

/* JSON-escapes src into dst (capacity cap); returns bytes written, stops short on room. */
static size_t json_escape(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        char esc = 0;
        switch (c) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        default: break;
        }
        if (esc) {
            if (w + 2 > cap)
                break;
            dst[w++] = '\\';
            dst[w++] = esc;
        } else if (c < 0x20) {
            if (w + 6 > cap)
                break;
            dst[w++] = '\\';
            dst[w++] = 'u';
            dst[w++] = '0';
            dst[w++] = '0';
            dst[w++] = hex[c >> 4];
            dst[w++] = hex[c & 15];
        } else {
            if (w + 1 > cap)
                break;
            dst[w++] = (char)c;
        }
    }
    return w;
}

void lq_logv(lq_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    if (level > lg.level)
        return;
    static char msg[LQ_LOG_LINE_MAX];
    static char line[LQ_LOG_LINE_MAX * 2 + 128];

    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t mlen;
    if (n < 0) {
        mlen = 0;
    } else if ((size_t)n >= sizeof msg) {
        mlen = sizeof msg - sizeof truncated;
        memcpy(msg + mlen, truncated, sizeof truncated - 1);
        mlen += sizeof truncated - 1;
    } else {
        mlen = (size_t)n;
    }
    /* Scrub before formatting so a secret split by JSON escaping is still caught. */
    scrub(msg, &mlen, sizeof msg);

    char ts[40];
    size_t tl = format_time(ts, sizeof ts);
    size_t len = 0;
    if (lg.format == LQ_LOG_JSON) {
        int h = snprintf(line, sizeof line, "{\"ts\":\"%.*s\",\"level\":\"%s\",\"module\":\"",
                         (int)tl, ts, lq_log_level_name(level));
        len = h > 0 ? (size_t)h : 0;
        len += json_escape(line + len, sizeof line - len - 16, module, strlen(module));
        memcpy(line + len, "\",\"msg\":\"", 9);
        len += 9;
        len += json_escape(line + len, sizeof line - len - 4, msg, mlen);
        memcpy(line + len, "\"}\n", 3);
        len += 3;
    } else {
        int h = snprintf(line, sizeof line, "%.*s %-5s %s: ", (int)tl, ts,
                         lq_log_level_name(level), module);
        len = h > 0 ? (size_t)h : 0;
        for (size_t i = 0; i < mlen && len < sizeof line - 2; i++) {
            char c = msg[i];
            line[len++] = (c == '\n' || c == '\r') ? ' ' : c; /* one event, one line */
        }
        line[len++] = '\n';
    }
    lq_port_log_write(line, len);
}

void lq_log(lq_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lq_logv(level, module, fmt, ap);
    va_end(ap);
}
