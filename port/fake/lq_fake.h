/* liqolet: the fake platform port, for unit tests.
 *
 * Implements include/liqolet/port.h with a virtual clock, scripted sockets, an in-memory
 * file table, a fake environment and a captured log. Everything is static and bounded;
 * lq_fake_reset() returns it all to the initial state between tests. */
#ifndef LIQOLET_FAKE_H
#define LIQOLET_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "liqolet/port.h"

#define LQ_FAKE_MAX_SOCKS 16
#define LQ_FAKE_SOCK_BUF  (256u * 1024u) /* bulk unit tests keep-alive hundreds of requests */
#define LQ_FAKE_MAX_FILES 16
#define LQ_FAKE_FILE_BUF  (16u * 1024u)
#define LQ_FAKE_LOG_BUF   (64u * 1024u)
#define LQ_FAKE_NOTIFY_BUF (8u * 1024u)
#define LQ_FAKE_PID        4242L /* what lq_port_pid answers */

/* Back to time 0 (mono) / 1.7e12 (wall), no sockets, no files, empty log and env. */
void lq_fake_reset(void);

/* --- virtual clock --- */
void lq_fake_clock_advance(int64_t ms);
/* Total virtual time lq_port_wait has slept (for asserting that the loop waited). */
int64_t lq_fake_slept_ms(void);

/* --- sockets --- */
/* Scripts the next lq_port_tcp_connect: it returns `result` (LQ_OK, LQ_AGAIN for an
 * in-progress connect that completes on the first writable wait, or an error). Returns
 * the descriptor number the agent will get, or -1 when the table is full. */
lq_port_fd_t lq_fake_expect_connect(lq_err_t result);
/* Scripts one more connect after those already scripted (first in, first out), for code
 * that opens several connections in one call; lq_fake_expect_connect drops the queue.
 * Returns the descriptor that connect will get, or -1 when the table is full. */
lq_port_fd_t lq_fake_expect_connect_after(lq_err_t result);
/* Host and port the agent asked for in its last connect. */
const char *lq_fake_last_connect_host(void);
uint16_t lq_fake_last_connect_port(void);
/* Makes bytes available to lq_port_recv on fd. Returns 0, or -1 if they do not fit. */
int lq_fake_sock_feed(lq_port_fd_t fd, const void *data, size_t len);
/* The peer closes: after the fed bytes are read, recv returns LQ_IO_CLOSED. */
void lq_fake_sock_close_peer(lq_port_fd_t fd);
/* The connection breaks: recv and send return LQ_IO_ERR with the given errno. */
void lq_fake_sock_fail(lq_port_fd_t fd, int err);
/* At most n bytes per recv call (1 = byte-at-a-time). 0 = unlimited (default). */
void lq_fake_sock_recv_chunk(lq_port_fd_t fd, size_t n);
/* At most n bytes per send call; 0 = the socket is "full" (send returns LQ_IO_WAIT and
 * the descriptor is not writable). SIZE_MAX = unlimited (default). */
void lq_fake_sock_send_limit(lq_port_fd_t fd, size_t n);
/* The peer's receive window: the socket takes n more bytes in total, then is "full"
 * (send returns LQ_IO_WAIT, not writable) until the budget is raised. SIZE_MAX =
 * unlimited (default). */
void lq_fake_sock_send_budget(lq_port_fd_t fd, size_t n);
/* Everything the agent has sent on fd so far; *len receives its length. */
const char *lq_fake_sock_sent(lq_port_fd_t fd, size_t *len);
/* The peer has read the first n bytes of what the agent sent on fd: they are dropped
 * from the capture (lq_fake_sock_sent then starts after them) and their room is free
 * again, so a test can carry uploads larger than LQ_FAKE_SOCK_BUF. n is clamped to what
 * was sent. */
void lq_fake_sock_sent_consume(lq_port_fd_t fd, size_t n);
/* Whether the agent closed fd. */
int lq_fake_sock_closed(lq_port_fd_t fd);

/* --- listeners --- */
/* Scripts the next lq_port_tcp_listen to fail with `result` (and lq_port_sock_error(-1)
 * to say `err`). LQ_OK (the default) lets it succeed. One-shot. */
void lq_fake_listen_result(lq_err_t result, int err);
/* The descriptor, address, requested port and backlog of the last successful listen
 * (-1 / "" / 0 / 0 before any). A listener bound to port 0 gets 40000 + its slot. */
lq_port_fd_t lq_fake_last_listen_fd(void);
const char *lq_fake_last_listen_addr(void);
uint16_t lq_fake_last_listen_port(void);
int lq_fake_last_listen_backlog(void);
/* A client connects to listener: the connection is queued (the listener becomes
 * readable) until lq_port_tcp_accept takes it, with peer as its peer text. Returns the
 * descriptor the agent will get, usable at once with lq_fake_sock_feed & co., or -1 when
 * listener is not an open listener or the table is full. */
lq_port_fd_t lq_fake_accept_push(lq_port_fd_t listener, const char *peer);
/* Connections queued on listener and not yet accepted. */
size_t lq_fake_accept_pending(lq_port_fd_t listener);
/* The next lq_port_tcp_accept on listener returns `result` (e.g. LQ_ENOSPC, LQ_EIO)
 * without taking anything. One-shot. */
void lq_fake_accept_result(lq_port_fd_t listener, lq_err_t result);

/* --- files and environment --- */
/* Creates or replaces an in-memory file; bumps its mtime to the current virtual time.
 * Returns 0, or -1 when it does not fit. */
int lq_fake_file_set(const char *path, const void *data, size_t len);
void lq_fake_file_remove(const char *path);
/* Permission bits and ownership lq_port_file_read_secret reports for an existing file
 * (new files are 0600 and ours). Returns 0, or -1 when there is no such file. */
int lq_fake_file_mode(const char *path, unsigned mode, bool other_owner);
int lq_fake_env_set(const char *name, const char *value);

/* --- routes --- */
/* What lq_port_route_addr answers for IPv4 and IPv6 (NULL or "": no default route, the
 * state after lq_fake_reset). Values longer than 63 characters are ignored. */
void lq_fake_route_set(const char *v4, const char *v6);

/* --- signals --- */
void lq_fake_signal_raise(int sig);

/* --- service manager --- */
/* Every message lq_port_notify accepted since the last reset (it accepts them only while
 * the fake environment has NOTIFY_SOCKET), each followed by '\n', NUL-terminated; and
 * their number. */
const char *lq_fake_notify_text(void);
size_t lq_fake_notify_count(void);

/* --- log capture --- */
/* Everything written through lq_port_log_write since the last reset, NUL-terminated. */
const char *lq_fake_log_text(void);

#endif
