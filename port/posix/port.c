/* liqolet: POSIX implementation of the platform port (Linux; also BSD and macOS). */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "liqolet/config_defaults.h"
#include "liqolet/port.h"

/* --- clocks ------------------------------------------------------------------ */

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

int64_t lq_port_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t lq_port_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

/* --- entropy ----------------------------------------------------------------- */

lq_err_t lq_port_entropy(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
#if defined(__linux__)
        ssize_t n = getrandom(p, len, 0);
#else
        ssize_t n = (getentropy(p, len > 256 ? 256 : len) == 0) ? (ssize_t)(len > 256 ? 256 : len) : -1;
#endif
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LQ_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return LQ_OK;
}

/* --- sockets ----------------------------------------------------------------- */

/* Per-descriptor last error, for lq_port_sock_error. Indexed by fd; descriptors beyond
 * the table report errno at the time of the call. */
#define SOCK_ERR_SLOTS 1024
static int sock_err[SOCK_ERR_SLOTS];
/* errno of the last failed listen, for lq_port_sock_error(-1). */
static int listen_err;

static void remember_error(int fd, int err)
{
    if (fd >= 0 && fd < SOCK_ERR_SLOTS)
        sock_err[fd] = err;
}

static lq_err_t map_connect_errno(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return LQ_ECONNREFUSED;
    case ETIMEDOUT:
        return LQ_ETIMEDOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
        return LQ_ECONNREFUSED;
    default:
        return LQ_EIO;
    }
}

static int open_nonblocking(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    /* A peer that vanished without a FIN or RST (a NAT or link that dropped the flow) is
     * noticed in about a minute instead of the kernel's two hours: first probe after
     * 30 s idle, then every 10 s, three unanswered probes end it; data left unacknowledged
     * for 60 s ends it too (Linux). Where an option does not exist the defaults stay. */
#ifdef TCP_KEEPIDLE
    int idle = 30, intvl = 10, cnt = 3;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#endif
#ifdef TCP_USER_TIMEOUT
    unsigned int uto = 60000;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
#endif
    return fd;
}

lq_err_t lq_port_tcp_connect(const char *host, uint16_t port, lq_port_fd_t *fd)
{
    if (host == NULL || fd == NULL || host[0] == '\0' || port == 0)
        return LQ_EINVAL;
    *fd = -1;

    char service[8];
    (void)snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;

    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0 || res == NULL)
        return LQ_ERESOLVE;

    /* getaddrinfo allocates inside libc; the result is freed before returning, so the
     * agent's own state never holds heap memory. */
    lq_err_t result = LQ_ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int s = open_nonblocking(ai->ai_family);
        if (s < 0) {
            result = LQ_EIO;
            continue;
        }
        if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
            *fd = s;
            result = LQ_OK;
            break;
        }
        if (errno == EINPROGRESS) {
            *fd = s;
            result = LQ_AGAIN;
            break;
        }
        result = map_connect_errno(errno);
        (void)close(s);
    }
    freeaddrinfo(res);
    return result;
}

lq_err_t lq_port_tcp_finish(lq_port_fd_t fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        /* Writable with no error can still mean "not yet" on some systems. */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
            return LQ_OK;
        if (errno == ENOTCONN)
            return LQ_AGAIN;
        err = errno;
    }
    if (err == EINPROGRESS || err == EALREADY)
        return LQ_AGAIN;
    remember_error(fd, err);
    return map_connect_errno(err);
}

long lq_port_send(lq_port_fd_t fd, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0)
            return (long)n;
        if (n == 0)
            return LQ_IO_WAIT;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return LQ_IO_WAIT;
        remember_error(fd, errno);
        return (errno == EPIPE || errno == ECONNRESET) ? LQ_IO_CLOSED : LQ_IO_ERR;
    }
}

long lq_port_recv(lq_port_fd_t fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n > 0)
            return (long)n;
        if (n == 0)
            return LQ_IO_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return LQ_IO_WAIT;
        remember_error(fd, errno);
        return errno == ECONNRESET ? LQ_IO_CLOSED : LQ_IO_ERR;
    }
}

int lq_port_sock_error(lq_port_fd_t fd)
{
    if (fd == -1)
        return listen_err;
    if (fd >= 0 && fd < SOCK_ERR_SLOTS)
        return sock_err[fd];
    return errno;
}

void lq_port_close(lq_port_fd_t fd)
{
    if (fd < 0)
        return;
    remember_error(fd, 0);
    (void)close(fd);
}

lq_err_t lq_port_local_addr(lq_port_fd_t fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return LQ_EIO;
    const void *addr;
    if (ss.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (ss.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    else
        return LQ_EIO;
    char tmp[INET6_ADDRSTRLEN];
    if (inet_ntop(ss.ss_family, addr, tmp, sizeof tmp) == NULL)
        return LQ_EIO;
    size_t n = strlen(tmp);
    if (n + 1 > cap)
        return LQ_ETOOBIG;
    memcpy(buf, tmp, n + 1);
    return LQ_OK;
}

/* Documentation prefixes (RFC 5737, RFC 3849): never on a local network, so the lookup
 * takes the default route; connect() on UDP only looks the route up. */
lq_err_t lq_port_route_addr(bool ipv6, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(9);
        (void)inet_pton(AF_INET6, "2001:db8::1", &a->sin6_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(9);
        (void)inet_pton(AF_INET, "198.51.100.1", &a->sin_addr);
        len = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return LQ_ENOTFOUND;
    lq_err_t e = LQ_ENOTFOUND;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0)
        e = lq_port_local_addr(fd, buf, cap);
    (void)close(fd);
    return e == LQ_EIO ? LQ_ENOTFOUND : e;
}

lq_err_t lq_port_local_port(lq_port_fd_t fd, uint16_t *port)
{
    if (port == NULL)
        return LQ_EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return LQ_EIO;
    if (ss.ss_family == AF_INET)
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        return LQ_EIO;
    return LQ_OK;
}

/* --- listening --------------------------------------------------------------- */

#define LISTEN_BACKLOG_DEFAULT 8

static lq_err_t map_listen_errno(int err)
{
    switch (err) {
    case EADDRINUSE:
        return LQ_ECONFLICT;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
        return LQ_ENOTSUP;
    case EACCES:
    case EPERM:
        return LQ_EFORBIDDEN;
    default:
        return LQ_EIO;
    }
}

lq_err_t lq_port_tcp_listen(const char *addr, uint16_t port, int backlog, lq_port_fd_t *fd)
{
    if (addr == NULL || fd == NULL)
        return LQ_EINVAL;
    *fd = -1;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    bool v6 = strchr(addr, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
            return LQ_EINVAL;
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
            return LQ_EINVAL;
        sl = sizeof *s4;
    }
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        listen_err = errno;
        return map_listen_errno(listen_err);
    }
    int one = 1;
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6)
        (void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, sl) != 0 ||
        listen(s, backlog > 0 ? backlog : LISTEN_BACKLOG_DEFAULT) != 0) {
        listen_err = errno;
        (void)close(s);
        return map_listen_errno(listen_err);
    }
    remember_error(s, 0);
    *fd = s;
    return LQ_OK;
}

lq_err_t lq_port_tcp_accept(lq_port_fd_t fd, lq_port_fd_t *cfd, char *peer, size_t peer_cap)
{
    if (cfd == NULL || (peer != NULL && peer_cap < LQ_PORT_PEER_MAX))
        return LQ_EINVAL;
    *cfd = -1;
    struct sockaddr_storage ss;
    for (;;) {
        socklen_t sl = sizeof ss;
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            remember_error(c, 0);
            *cfd = c;
            break;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED: /* the peer gave up while queued: take the next one */
        case EPROTO:
            continue;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return LQ_AGAIN;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            remember_error(fd, errno);
            return LQ_ENOSPC;
        default:
            remember_error(fd, errno);
            return LQ_EIO;
        }
    }
    if (peer == NULL)
        return LQ_OK;
    char ip[INET6_ADDRSTRLEN];
    peer[0] = '\0';
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip) != NULL)
            (void)snprintf(peer, peer_cap, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip) != NULL)
            (void)snprintf(peer, peer_cap, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
    }
    return LQ_OK;
}

/* --- waiting ----------------------------------------------------------------- */

lq_err_t lq_port_wait(lq_port_pollfd_t *fds, size_t n, int timeout_ms, size_t *nready)
{
    struct pollfd pfd[LQ_MAX_FDS];
    if (n > LQ_MAX_FDS)
        return LQ_EINVAL;
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = fds[i].fd;
        pfd[i].events = (short)(((fds[i].want & LQ_PORT_IN) ? POLLIN : 0) |
                                ((fds[i].want & LQ_PORT_OUT) ? POLLOUT : 0));
        pfd[i].revents = 0;
        fds[i].got = 0;
    }
    *nready = 0;
    int rc = poll(pfd, (nfds_t)n, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? LQ_OK : LQ_EIO;
    for (size_t i = 0; i < n; i++) {
        unsigned got = 0;
        if (pfd[i].revents & POLLIN)
            got |= LQ_PORT_IN;
        if (pfd[i].revents & POLLOUT)
            got |= LQ_PORT_OUT;
        if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
            got |= LQ_PORT_ERR;
        fds[i].got = got;
        if (got)
            (*nready)++;
    }
    return LQ_OK;
}

/* --- signals ----------------------------------------------------------------- */

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
    pending_signal = sig;
}

lq_err_t lq_port_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: poll() must return so the loop sees the request at once. */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return LQ_EIO;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &ign, NULL) != 0)
        return LQ_EIO;
    return LQ_OK;
}

int lq_port_signal_take(void)
{
    int sig = pending_signal;
    pending_signal = 0;
    return sig;
}

/* --- files ------------------------------------------------------------------- */

lq_err_t lq_port_file_write(const char *path, const void *data, size_t len)
{
    if (path == NULL || path[0] == '\0' || (data == NULL && len > 0))
        return LQ_EINVAL;
    char tmp[1024];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return LQ_ETOOBIG;
    (void)unlink(tmp); /* a leftover of a crash; O_EXCL below refuses anything else */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? LQ_ENOTFOUND
               : errno == EACCES || errno == EPERM ? LQ_EFORBIDDEN
                                                   : LQ_EIO;
    const char *p = data;
    size_t off = 0;
    lq_err_t e = LQ_OK;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = LQ_EIO;
            break;
        }
        off += (size_t)w;
    }
    if (e == LQ_OK && fsync(fd) != 0)
        e = LQ_EIO;
    if (close(fd) != 0 && e == LQ_OK)
        e = LQ_EIO;
    if (e == LQ_OK && rename(tmp, path) != 0)
        e = errno == EACCES || errno == EPERM ? LQ_EFORBIDDEN : LQ_EIO;
    if (e != LQ_OK)
        (void)unlink(tmp);
    return e;
}

static lq_err_t open_err(void)
{
    if (errno == ENOENT || errno == ENOTDIR)
        return LQ_ENOTFOUND;
    if (errno == EACCES || errno == EPERM)
        return LQ_EFORBIDDEN;
    return LQ_EIO;
}

static lq_err_t read_all(int fd, char *buf, size_t cap, size_t *len);

lq_err_t lq_port_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
    if (path == NULL || buf == NULL || cap == 0 || len == NULL)
        return LQ_EINVAL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return open_err();
    return read_all(fd, buf, cap, len);
}

lq_err_t lq_port_file_read_secret(const char *path, char *buf, size_t cap, size_t *len,
                                  unsigned *mode, bool *other_owner)
{
    if (path == NULL || buf == NULL || cap == 0 || len == NULL || mode == NULL ||
        other_owner == NULL)
        return LQ_EINVAL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_err();
    struct stat st;
    if (fstat(fd, &st) != 0) {
        (void)close(fd);
        return LQ_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        (void)close(fd);
        return LQ_EFORBIDDEN;
    }
    *mode = (unsigned)(st.st_mode & 0777);
    *other_owner = st.st_uid != geteuid() && st.st_uid != 0;
    return read_all(fd, buf, cap, len);
}

/* Reads fd to its end into buf and closes it (see lq_port_file_read). */
static lq_err_t read_all(int fd, char *buf, size_t cap, size_t *len)
{
    size_t used = 0;
    lq_err_t result = LQ_OK;
    for (;;) {
        if (used == cap - 1) {
            /* Full: is there more? Probe one byte into a scratch byte. */
            char probe;
            ssize_t m = read(fd, &probe, 1);
            if (m > 0)
                result = LQ_ETOOBIG;
            else if (m < 0 && errno != EINTR)
                result = LQ_EIO;
            break;
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            result = LQ_EIO;
            break;
        }
        used += (size_t)n;
    }
    (void)close(fd);
    if (result != LQ_OK)
        return result;
    buf[used] = '\0';
    *len = used;
    return LQ_OK;
}

lq_err_t lq_port_file_stat(const char *path, int64_t *mtime_ms, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return (errno == ENOENT || errno == ENOTDIR) ? LQ_ENOTFOUND : LQ_EIO;
#if defined(__APPLE__)
    int64_t ms = (int64_t)st.st_mtimespec.tv_sec * 1000 + st.st_mtimespec.tv_nsec / 1000000;
#else
    int64_t ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
#endif
    if (mtime_ms)
        *mtime_ms = ms;
    if (size)
        *size = (uint64_t)st.st_size;
    return LQ_OK;
}

const char *lq_port_getenv(const char *name)
{
    return getenv(name);
}

/* --- memory ------------------------------------------------------------------ */

static uint64_t status_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (p == NULL)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v * 1024u;
}

lq_err_t lq_port_mem_usage(uint64_t *peak, uint64_t *current)
{
    char buf[2048];
    size_t len = 0;
    if (lq_port_file_read("/proc/self/status", buf, sizeof buf, &len) != LQ_OK)
        return LQ_ENOTSUP;
    uint64_t hwm = status_kb(buf, "VmHWM:"), rss = status_kb(buf, "VmRSS:");
    if (hwm == 0)
        return LQ_ENOTSUP;
    if (peak)
        *peak = hwm;
    if (current)
        *current = rss;
    return LQ_OK;
}

/* --- service manager ------------------------------------------------------------ */

long lq_port_pid(void)
{
    return (long)getpid();
}

lq_err_t lq_port_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL)
        return LQ_ENOTFOUND;
    size_t slen = strlen(state);
    if (slen == 0 || slen > LQ_PORT_NOTIFY_MAX)
        return LQ_EINVAL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t nlen = strlen(name);
    if (nlen < 2 || (name[0] != '/' && name[0] != '@') || nlen >= sizeof sa.sun_path)
        return LQ_EINVAL;
    memcpy(sa.sun_path, name, nlen);
    if (name[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the length below counts its bytes, no NUL */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen +
                                  (name[0] == '/' ? 1u : 0u));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return LQ_EIO;
    ssize_t n;
    do {
        n = sendto(fd, state, slen, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    } while (n < 0 && errno == EINTR);
    (void)close(fd);
    return n == (ssize_t)slen ? LQ_OK : LQ_EIO;
}

/* --- logging sink ------------------------------------------------------------ */

void lq_port_log_write(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        line += n;
        len -= (size_t)n;
    }
}
