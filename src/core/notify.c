/* liqolet: service manager notifications (see notify.h). */
#include <stdio.h>
#include <string.h>

#include "liqolet/log.h"
#include "liqolet/notify.h"

/* A plain decimal (digits only, no sign or space) that fits in 53 bits. */
static bool parse_dec(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10u + (uint64_t)(*s - '0');
        if (v > (UINT64_C(1) << 53))
            return false;
    }
    *out = v;
    return true;
}

int64_t lq_notify_watchdog_ms(const char *usec, const char *pid, long self)
{
    uint64_t us = 0, p = 0;
    if (!parse_dec(usec, &us) || us == 0)
        return 0;
    if (pid != NULL && (!parse_dec(pid, &p) || self < 0 || p != (uint64_t)self))
        return 0;
    uint64_t ms = us / 2000u;
    return ms == 0 ? 1 : (int64_t)ms;
}

static void ping(lq_loop_t *loop, lq_loop_timer_t *timer, void *ctx)
{
    lq_notify_t *n = ctx;
    lq_err_t e = lq_port_notify("WATCHDOG=1");
    if (e == LQ_OK) {
        n->pings++;
        n->failing = false;
    } else if (!n->failing) {
        n->failing = true;
        LQ_WARN("notify", "cannot send WATCHDOG=1 to the service manager: %s", lq_err_str(e));
    }
    lq_loop_timer_start(loop, timer, n->every_ms);
}

/* "KEY=value" with the value's line breaks turned into spaces (one assignment). */
static void send_kv(const char *head, const char *key, const char *value)
{
    char msg[LQ_PORT_NOTIFY_MAX + 1];
    if (head[0] == '\0' && value == NULL)
        return;
    int n = snprintf(msg, sizeof msg, "%s%s", head, value ? key : "");
    if (n < 0 || (size_t)n >= sizeof msg)
        return;
    size_t len = (size_t)n;
    for (const char *v = value; v && *v && len < LQ_PORT_NOTIFY_MAX; v++)
        msg[len++] = (*v == '\n' || *v == '\r') ? ' ' : *v;
    msg[len] = '\0';
    lq_err_t e = lq_port_notify(msg);
    if (e != LQ_OK && e != LQ_ENOTFOUND)
        LQ_WARN("notify", "cannot notify the service manager: %s", lq_err_str(e));
}

void lq_notify_ready(lq_notify_t *n, lq_loop_t *loop, const char *status)
{
    memset(n, 0, sizeof *n);
    lq_loop_timer_init(&n->timer, ping, n);
    send_kv("READY=1", "\nSTATUS=", status);
    if (lq_port_getenv("NOTIFY_SOCKET") == NULL)
        return;
    n->every_ms = lq_notify_watchdog_ms(lq_port_getenv("WATCHDOG_USEC"),
                                        lq_port_getenv("WATCHDOG_PID"), lq_port_pid());
    if (n->every_ms > 0) {
        LQ_INFO("notify", "watchdog: WATCHDOG=1 every %lld ms", (long long)n->every_ms);
        lq_loop_timer_start(loop, &n->timer, n->every_ms);
    }
}

void lq_notify_status(const char *status)
{
    send_kv("", "STATUS=", status);
}

void lq_notify_stopping(lq_notify_t *n, lq_loop_t *loop)
{
    lq_loop_timer_stop(loop, &n->timer);
    n->every_ms = 0;
    send_kv("STOPPING=1", "", NULL);
}
