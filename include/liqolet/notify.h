/* liqolet: telling the service manager how the agent is, without libsystemd.
 *
 * The notification protocol of systemd (Type=notify, WatchdogSec=): one datagram per
 * message to the socket named by NOTIFY_SOCKET, sent by lq_port_notify. The agent says
 * READY=1 once its start-up is done (configuration, credentials, both clusters' identities
 * read; the loop is about to run: docs/packaging.md), STATUS= lines as it goes, STOPPING=1
 * when a stop signal arrives, and WATCHDOG=1 from a timer of the event loop every half of
 * WATCHDOG_USEC, so a loop that stops turning stops the pings and the manager restarts the
 * agent. Without NOTIFY_SOCKET every call is a no-op. Nothing allocates.
 *
 *   static lq_notify_t nt;
 *   lq_notify_ready(&nt, &loop, "waiting for the lock Lease");
 *   ... lq_loop_run(&loop) ...
 *   lq_notify_stopping(&nt, &loop);
 */
#ifndef LIQOLET_NOTIFY_H
#define LIQOLET_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "liqolet/loop.h"

typedef struct lq_notify {
    lq_loop_timer_t timer; /* the watchdog ping */
    int64_t every_ms;      /* 0: no watchdog */
    uint64_t pings;        /* WATCHDOG=1 messages sent */
    bool failing;          /* the last ping failed (logged once per streak) */
} lq_notify_t;

/* Pure: how often to send WATCHDOG=1, in milliseconds: half of usec (WATCHDOG_USEC, a
 * decimal count of microseconds), at least 1. 0 (no pings) when usec is NULL, empty, not
 * a plain positive decimal or too large, or when pid (WATCHDOG_PID) is given and is not
 * self: the watchdog is then another process's. */
int64_t lq_notify_watchdog_ms(const char *usec, const char *pid, long self);

/* Sends READY=1 (with STATUS=status when status is not NULL) and, when the environment
 * asks for a watchdog, arms the loop timer that sends WATCHDOG=1. */
void lq_notify_ready(lq_notify_t *n, lq_loop_t *loop, const char *status);
/* Sends STATUS=status (a line; longer text is cut). */
void lq_notify_status(const char *status);
/* Sends STOPPING=1 and stops the watchdog pings. */
void lq_notify_stopping(lq_notify_t *n, lq_loop_t *loop);

#endif
