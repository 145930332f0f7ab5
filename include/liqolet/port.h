/* liqolet: the platform port.
 *
 * Everything OS-specific sits behind these functions. port/posix/ implements them for
 * Linux (also BSD/macOS); port/fake/ implements them with scripted sockets and a virtual
 * clock for unit tests. Nothing outside port/ includes an OS header for these concerns.
 *
 * Transport convention (c-models T2): send/recv return the number of bytes moved (> 0)
 * or one of the negative LQ_IO_* sentinels. Zero is never returned for a non-empty
 * request, so it can never be mistaken for "closed" or "retry". */
#ifndef LIQOLET_PORT_H
#define LIQOLET_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"

/* --- clocks ------------------------------------------------------------------ */

/* Milliseconds on a monotonic clock (never jumps; origin unspecified). */
int64_t lq_port_mono_ms(void);
/* Milliseconds since the Unix epoch (wall clock; for timestamps written to the API). */
int64_t lq_port_wall_ms(void);

/* --- entropy ----------------------------------------------------------------- */

/* Fills buf with len bytes from the OS's cryptographic RNG.
 * Returns LQ_OK, or LQ_EIO when the source fails. */
lq_err_t lq_port_entropy(void *buf, size_t len);

/* --- sockets ----------------------------------------------------------------- */

#define LQ_IO_WAIT   (-1L) /* nothing now; wait for readiness and retry */
#define LQ_IO_CLOSED (-2L) /* orderly close by the peer */
#define LQ_IO_ERR    (-3L) /* connection failed; see lq_port_sock_error */

/* Readiness bits for lq_port_wait. */
#define LQ_PORT_IN  0x1u
#define LQ_PORT_OUT 0x2u
#define LQ_PORT_ERR 0x4u /* error or hang-up; reported even when not asked for */

typedef int lq_port_fd_t; /* a pollable descriptor; -1 = none */

/* Starts a non-blocking TCP connection to host:port. host is a DNS name or an IPv4 or
 * IPv6 literal (without brackets). Name resolution (getaddrinfo) is the one bounded
 * blocking call (DESIGN.md Decision 11). Every resolved address is tried in order until
 * one connects; the caller sees one descriptor.
 * On LQ_OK *fd is connected; on LQ_AGAIN *fd is connecting: wait for LQ_PORT_OUT and call
 * lq_port_tcp_finish. Errors: LQ_ERESOLVE, LQ_ECONNREFUSED, LQ_EIO, LQ_EINVAL. */
lq_err_t lq_port_tcp_connect(const char *host, uint16_t port, lq_port_fd_t *fd);
/* Completes a connection started with LQ_AGAIN once the descriptor is writable.
 * Returns LQ_OK, LQ_AGAIN (still connecting), LQ_ECONNREFUSED, LQ_ETIMEDOUT or LQ_EIO. */
lq_err_t lq_port_tcp_finish(lq_port_fd_t fd);
/* Moves bytes; see the transport convention above. len must be > 0. */
long lq_port_send(lq_port_fd_t fd, const void *buf, size_t len);
long lq_port_recv(lq_port_fd_t fd, void *buf, size_t len);
/* The OS error number behind the last LQ_IO_ERR / failed connect or accept on this
 * descriptor (errno style), for log messages; fd -1: that of the last failed
 * lq_port_tcp_listen. */
int lq_port_sock_error(lq_port_fd_t fd);
/* Closes the descriptor. Idempotent for fd == -1. */
void lq_port_close(lq_port_fd_t fd);
/* Writes the local address of a connected socket as text (for the node IP,
 * DESIGN.md Decision 10). Returns LQ_OK, LQ_ETOOBIG (buffer) or LQ_EIO. */
lq_err_t lq_port_local_addr(lq_port_fd_t fd, char *buf, size_t cap);
/* Writes, as text, the local address the system would use to reach a destination off
 * every local network, that is the address of the default route's interface (IPv6 when
 * ipv6). Learnt from an unconnected UDP socket's connect(): a route lookup, nothing is
 * sent. Returns LQ_OK, LQ_ENOTFOUND (no such route or address), LQ_ETOOBIG (buffer). */
lq_err_t lq_port_route_addr(bool ipv6, char *buf, size_t cap);
/* The local port of a bound socket (a listener made with port 0 learns its port here).
 * Returns LQ_OK, LQ_EINVAL or LQ_EIO. */
lq_err_t lq_port_local_port(lq_port_fd_t fd, uint16_t *port);

/* --- listening --------------------------------------------------------------- */

/* Longest peer text lq_port_tcp_accept writes ("[v6]:port" with its NUL). */
#define LQ_PORT_PEER_MAX 56u

/* Opens a non-blocking TCP listener on addr:port. addr is an IPv4 or IPv6 literal
 * (without brackets; no names, so nothing blocks); port 0 picks a free port (see
 * lq_port_local_port). SO_REUSEADDR is set, so a restarted agent binds at once; an IPv6
 * listener is IPv6-only. backlog <= 0 means a small default. On LQ_OK *fd is ready to
 * wait on for LQ_PORT_IN (a connection to accept). Errors: LQ_EINVAL (not a literal),
 * LQ_ECONFLICT (the address is in use), LQ_ENOTSUP (not an address of this host, or its
 * family is turned off), LQ_EFORBIDDEN (a privileged port), LQ_EIO; the OS error number
 * is then lq_port_sock_error(-1), for the log line. */
lq_err_t lq_port_tcp_listen(const char *addr, uint16_t port, int backlog, lq_port_fd_t *fd);
/* Takes one pending connection from a listener: LQ_OK with *cfd, non-blocking and used
 * like a connected descriptor (lq_port_send, lq_port_recv, lq_port_close); LQ_AGAIN when
 * none is pending (wait for LQ_PORT_IN again); LQ_ENOSPC when the process is out of
 * descriptors (the connection stays queued); LQ_EIO. peer (may be NULL) receives the
 * peer's address as text, "127.0.0.1:41234" or "[::1]:41234"; peer_cap must then be at
 * least LQ_PORT_PEER_MAX (LQ_EINVAL otherwise, before anything is taken). */
lq_err_t lq_port_tcp_accept(lq_port_fd_t fd, lq_port_fd_t *cfd, char *peer, size_t peer_cap);

/* --- waiting ----------------------------------------------------------------- */

typedef struct lq_port_pollfd {
    lq_port_fd_t fd;   /* -1 entries are ignored */
    unsigned want;     /* LQ_PORT_IN | LQ_PORT_OUT */
    unsigned got;      /* filled by lq_port_wait */
} lq_port_pollfd_t;

/* The one place the agent waits. Blocks until a descriptor is ready, the timeout
 * (milliseconds; -1 = forever, 0 = poll) expires, or a signal arrives.
 * Sets *nready to the number of entries with got != 0 (0 on timeout or signal).
 * Returns LQ_OK or LQ_EIO. */
lq_err_t lq_port_wait(lq_port_pollfd_t *fds, size_t n, int timeout_ms, size_t *nready);

/* --- signals ----------------------------------------------------------------- */

/* Installs handlers for SIGTERM and SIGINT (stop requests) and ignores SIGPIPE.
 * Returns LQ_OK or LQ_EIO. */
lq_err_t lq_port_signals_install(void);
/* Returns and clears the pending stop request: 0 none, else the signal number. */
int lq_port_signal_take(void);

/* --- files ------------------------------------------------------------------- */

/* Reads a whole file into buf (not NUL-terminated unless room remains; *len excludes any
 * NUL added). Returns LQ_OK, LQ_ENOTFOUND, LQ_EFORBIDDEN, LQ_ETOOBIG (file larger than
 * cap - 1; nothing is truncated silently) or LQ_EIO. */
lq_err_t lq_port_file_read(const char *path, char *buf, size_t cap, size_t *len);
/* lq_port_file_read for a file that holds a secret (a private key, a token, a pre-shared
 * key), telling who else can reach what was read: *mode = its permission bits (0777 mask;
 * 0600 on systems without them), *other_owner = it belongs to neither this process's user
 * nor root. Symbolic links are followed (Kubernetes Secret volumes are links into ..data)
 * and both facts are of the file opened (fstat), so a link cannot dress up another file.
 * Only a regular file is read (a FIFO could block the loop): anything else LQ_EFORBIDDEN.
 * Returns as lq_port_file_read. */
lq_err_t lq_port_file_read_secret(const char *path, char *buf, size_t cap, size_t *len,
                                  unsigned *mode, bool *other_owner);
/* Modification time (ms since epoch) and size, so rotating credentials can be re-read
 * only when they change. Returns LQ_OK, LQ_ENOTFOUND or LQ_EIO. */
lq_err_t lq_port_file_stat(const char *path, int64_t *mtime_ms, uint64_t *size);
/* Replaces a file with len bytes, readable and writable by the owner only (0600): written
 * to "<path>.tmp" (created fresh, never through a symbolic link), synced, then renamed over
 * path, so a reader sees the old or the new content, never a part. The directory must
 * exist. Returns LQ_OK, LQ_ENOTFOUND (no such directory), LQ_EFORBIDDEN, LQ_ETOOBIG (path
 * too long) or LQ_EIO. */
lq_err_t lq_port_file_write(const char *path, const void *data, size_t len);
/* Value of an environment variable, or NULL. */
const char *lq_port_getenv(const char *name);

/* --- memory ------------------------------------------------------------------ */

/* Peak and current resident set size of this process in bytes (Linux: VmHWM and VmRSS
 * of /proc/self/status). Returns LQ_OK or LQ_ENOTSUP where the OS does not tell. */
lq_err_t lq_port_mem_usage(uint64_t *peak, uint64_t *current);

/* --- service manager ------------------------------------------------------------ */

/* This process's id (compared with WATCHDOG_PID). */
long lq_port_pid(void);
/* Longest state message lq_port_notify sends (its bytes; longer ones are refused). */
#define LQ_PORT_NOTIFY_MAX 256u
/* Sends one state message of the service manager's notification protocol ("READY=1",
 * "STOPPING=1", "WATCHDOG=1", "STATUS=...", newline-separated assignments) as one
 * datagram to the AF_UNIX socket named by NOTIFY_SOCKET: a file system path, or '@' and
 * an abstract name. No libsystemd: a non-blocking socket is opened, used once and closed,
 * so nothing is kept and nothing is allocated. Returns LQ_OK, LQ_ENOTFOUND (NOTIFY_SOCKET
 * unset: no service manager listens; callers ignore it), LQ_EINVAL (a name that is empty,
 * too long or neither a path nor '@', or a message too long) or LQ_EIO (the socket or the
 * send failed, also when the manager's queue is full: it never blocks). */
lq_err_t lq_port_notify(const char *state);

/* --- logging sink ------------------------------------------------------------ */

/* Writes one finished log line (with its newline) to the log destination. Never fails
 * loudly: a log sink must not take the agent down. */
void lq_port_log_write(const char *line, size_t len);

#endif
