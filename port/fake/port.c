/* liqolet: fake platform port for unit tests (see lq_fake.h). Deterministic, static. */
#include <stdint.h>
#include <string.h>

#include "lq_fake.h"

#define FD_BASE 100 /* fake descriptors start here, far from stdin/stdout/stderr */

typedef struct fake_sock {
    int used;
    int agent_closed;
    int peer_closed;
    int fail_errno;
    lq_err_t connect_result;
    int connecting;
    size_t recv_chunk;
    size_t send_limit;
    size_t send_budget;
    char in[LQ_FAKE_SOCK_BUF];
    size_t in_len, in_off;
    char out[LQ_FAKE_SOCK_BUF];
    size_t out_len;
    /* listeners and accepted connections */
    int listening;
    char addr[64];            /* a listener's address */
    uint16_t port;            /* a listener's bound port */
    lq_err_t accept_result;   /* scripted one-shot accept result (LQ_OK: none) */
    lq_port_fd_t pending_on;  /* queued on this listener, not accepted yet (0: no) */
    uint32_t pending_seq;     /* queue order */
    char peer[LQ_PORT_PEER_MAX];
} fake_sock_t;

typedef struct fake_file {
    int used;
    char path[256];
    char data[LQ_FAKE_FILE_BUF];
    size_t len;
    int64_t mtime_ms;
    unsigned mode;     /* 0600 unless lq_fake_file_mode said otherwise */
    int other_owner;
} fake_file_t;

static struct {
    int64_t mono_ms;
    int64_t slept_ms;
    fake_sock_t socks[LQ_FAKE_MAX_SOCKS];
    int next_connect; /* index of the scripted socket the next connect returns; -1 none */
    int queued[LQ_FAKE_MAX_SOCKS]; /* scripted connects after next_connect, in order */
    int nqueued;
    char last_host[256];
    uint16_t last_port;
    lq_err_t listen_result;
    int listen_errno;
    lq_port_fd_t last_listen_fd;
    char last_listen_addr[64];
    uint16_t last_listen_port;
    int last_listen_backlog;
    uint32_t accept_seq;
    fake_file_t files[LQ_FAKE_MAX_FILES];
    char env_names[8][64];
    char env_values[8][256];
    char route4[64], route6[64]; /* lq_port_route_addr's answers ("" = no route) */
    int pending_signal;
    char log[LQ_FAKE_LOG_BUF];
    size_t log_len;
    char notify[LQ_FAKE_NOTIFY_BUF]; /* messages sent by lq_port_notify, each + '\n' */
    size_t notify_len;
    size_t notify_count;
    uint64_t rng;
} fk;

#define WALL_EPOCH_MS INT64_C(1700000000000)

void lq_fake_reset(void)
{
    memset(&fk, 0, sizeof fk);
    fk.next_connect = -1;
    fk.last_listen_fd = -1;
    fk.rng = UINT64_C(0x9e3779b97f4a7c15);
}

static fake_sock_t *sock_of(lq_port_fd_t fd)
{
    int i = fd - FD_BASE;
    if (i < 0 || i >= LQ_FAKE_MAX_SOCKS || !fk.socks[i].used)
        return NULL;
    return &fk.socks[i];
}

/* --- clock --- */

void lq_fake_clock_advance(int64_t ms)
{
    fk.mono_ms += ms;
}

int64_t lq_fake_slept_ms(void)
{
    return fk.slept_ms;
}

int64_t lq_port_mono_ms(void)
{
    return fk.mono_ms;
}

int64_t lq_port_wall_ms(void)
{
    return WALL_EPOCH_MS + fk.mono_ms;
}

lq_err_t lq_port_entropy(void *buf, size_t len)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        fk.rng ^= fk.rng << 13;
        fk.rng ^= fk.rng >> 7;
        fk.rng ^= fk.rng << 17;
        p[i] = (unsigned char)(fk.rng >> 24);
    }
    return LQ_OK;
}

/* --- sockets --- */

static int new_sock(lq_err_t result)
{
    for (int i = 0; i < LQ_FAKE_MAX_SOCKS; i++) {
        if (!fk.socks[i].used) {
            fake_sock_t *s = &fk.socks[i];
            memset(s, 0, sizeof *s);
            s->used = 1;
            s->connect_result = result;
            s->send_limit = SIZE_MAX;
            s->send_budget = SIZE_MAX;
            return i;
        }
    }
    return -1;
}

lq_port_fd_t lq_fake_expect_connect(lq_err_t result)
{
    int i = new_sock(result);
    if (i < 0)
        return -1;
    fk.next_connect = i;
    fk.nqueued = 0;
    return FD_BASE + i;
}

lq_port_fd_t lq_fake_expect_connect_after(lq_err_t result)
{
    if (fk.next_connect < 0)
        return lq_fake_expect_connect(result);
    int i = new_sock(result);
    if (i < 0)
        return -1;
    fk.queued[fk.nqueued++] = i;
    return FD_BASE + i;
}

const char *lq_fake_last_connect_host(void)
{
    return fk.last_host;
}

uint16_t lq_fake_last_connect_port(void)
{
    return fk.last_port;
}

int lq_fake_sock_feed(lq_port_fd_t fd, const void *data, size_t len)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL)
        return -1;
    /* Compact consumed bytes first. */
    if (s->in_off > 0) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    if (len > sizeof s->in - s->in_len)
        return -1;
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    return 0;
}

void lq_fake_sock_close_peer(lq_port_fd_t fd)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->peer_closed = 1;
}

void lq_fake_sock_fail(lq_port_fd_t fd, int err)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->fail_errno = err ? err : 1;
}

void lq_fake_sock_recv_chunk(lq_port_fd_t fd, size_t n)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->recv_chunk = n;
}

void lq_fake_sock_send_limit(lq_port_fd_t fd, size_t n)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->send_limit = n;
}

void lq_fake_sock_send_budget(lq_port_fd_t fd, size_t n)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->send_budget = n;
}

const char *lq_fake_sock_sent(lq_port_fd_t fd, size_t *len)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL) {
        *len = 0;
        return "";
    }
    *len = s->out_len;
    return s->out;
}

void lq_fake_sock_sent_consume(lq_port_fd_t fd, size_t n)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL)
        return;
    if (n > s->out_len)
        n = s->out_len;
    memmove(s->out, s->out + n, s->out_len - n);
    s->out_len -= n;
}

int lq_fake_sock_closed(lq_port_fd_t fd)
{
    fake_sock_t *s = sock_of(fd);
    return s == NULL || s->agent_closed;
}

lq_err_t lq_port_tcp_connect(const char *host, uint16_t port, lq_port_fd_t *fd)
{
    if (host == NULL || fd == NULL || host[0] == '\0' || port == 0)
        return LQ_EINVAL;
    size_t n = strlen(host);
    if (n >= sizeof fk.last_host)
        n = sizeof fk.last_host - 1;
    memcpy(fk.last_host, host, n);
    fk.last_host[n] = '\0';
    fk.last_port = port;
    *fd = -1;
    if (fk.next_connect < 0)
        return LQ_ECONNREFUSED; /* nothing scripted: nobody listens */
    fake_sock_t *s = &fk.socks[fk.next_connect];
    int idx = fk.next_connect;
    fk.next_connect = -1;
    if (fk.nqueued > 0) {
        fk.next_connect = fk.queued[0];
        fk.nqueued--;
        memmove(fk.queued, fk.queued + 1, (size_t)fk.nqueued * sizeof fk.queued[0]);
    }
    if (s->connect_result != LQ_OK && s->connect_result != LQ_AGAIN) {
        lq_err_t r = s->connect_result;
        s->used = 0;
        return r;
    }
    s->connecting = (s->connect_result == LQ_AGAIN);
    *fd = FD_BASE + idx;
    return s->connect_result;
}

lq_err_t lq_port_tcp_finish(lq_port_fd_t fd)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL)
        return LQ_EINVAL;
    if (s->fail_errno)
        return LQ_ECONNREFUSED;
    s->connecting = 0;
    return LQ_OK;
}

long lq_port_send(lq_port_fd_t fd, const void *buf, size_t len)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL || s->agent_closed || s->listening)
        return LQ_IO_ERR;
    if (s->fail_errno)
        return LQ_IO_ERR;
    if (s->peer_closed)
        return LQ_IO_CLOSED;
    size_t n = len;
    if (n > s->send_limit)
        n = s->send_limit;
    if (n > s->send_budget)
        n = s->send_budget;
    if (n > sizeof s->out - s->out_len)
        n = sizeof s->out - s->out_len;
    if (n == 0)
        return LQ_IO_WAIT;
    memcpy(s->out + s->out_len, buf, n);
    s->out_len += n;
    if (s->send_budget != SIZE_MAX)
        s->send_budget -= n;
    return (long)n;
}

long lq_port_recv(lq_port_fd_t fd, void *buf, size_t len)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL || s->agent_closed || s->listening)
        return LQ_IO_ERR;
    if (s->fail_errno)
        return LQ_IO_ERR;
    size_t avail = s->in_len - s->in_off;
    if (avail == 0)
        return s->peer_closed ? LQ_IO_CLOSED : LQ_IO_WAIT;
    size_t n = len < avail ? len : avail;
    if (s->recv_chunk && n > s->recv_chunk)
        n = s->recv_chunk;
    memcpy(buf, s->in + s->in_off, n);
    s->in_off += n;
    return (long)n;
}

int lq_port_sock_error(lq_port_fd_t fd)
{
    if (fd == -1)
        return fk.listen_errno;
    fake_sock_t *s = sock_of(fd);
    return s ? s->fail_errno : 0;
}

void lq_port_close(lq_port_fd_t fd)
{
    fake_sock_t *s = sock_of(fd);
    if (s)
        s->agent_closed = 1;
}

lq_err_t lq_port_local_addr(lq_port_fd_t fd, char *buf, size_t cap)
{
    static const char addr[] = "192.0.2.10";
    if (sock_of(fd) == NULL)
        return LQ_EIO;
    if (cap < sizeof addr)
        return LQ_ETOOBIG;
    memcpy(buf, addr, sizeof addr);
    return LQ_OK;
}

lq_err_t lq_port_route_addr(bool ipv6, char *buf, size_t cap)
{
    const char *a = ipv6 ? fk.route6 : fk.route4;
    if (!a[0])
        return LQ_ENOTFOUND;
    size_t n = strlen(a);
    if (n + 1 > cap)
        return LQ_ETOOBIG;
    memcpy(buf, a, n + 1);
    return LQ_OK;
}

void lq_fake_route_set(const char *v4, const char *v6)
{
    size_t n4 = v4 ? strlen(v4) : 0, n6 = v6 ? strlen(v6) : 0;
    if (n4 >= sizeof fk.route4 || n6 >= sizeof fk.route6)
        return;
    memcpy(fk.route4, v4 ? v4 : "", n4 + 1);
    memcpy(fk.route6, v6 ? v6 : "", n6 + 1);
}

lq_err_t lq_port_local_port(lq_port_fd_t fd, uint16_t *port)
{
    fake_sock_t *s = sock_of(fd);
    if (port == NULL)
        return LQ_EINVAL;
    if (s == NULL)
        return LQ_EIO;
    *port = s->listening ? s->port : (uint16_t)(50000 + (fd - FD_BASE));
    return LQ_OK;
}

/* --- listeners --- */

static fake_sock_t *sock_alloc(int *index)
{
    for (int i = 0; i < LQ_FAKE_MAX_SOCKS; i++) {
        if (!fk.socks[i].used) {
            fake_sock_t *s = &fk.socks[i];
            memset(s, 0, sizeof *s);
            s->used = 1;
            s->send_limit = SIZE_MAX;
            s->send_budget = SIZE_MAX;
            *index = i;
            return s;
        }
    }
    return NULL;
}

static int is_literal(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n >= 64)
        return 0;
    int colon = strchr(a, ':') != NULL;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        int ok = (c >= '0' && c <= '9') || c == '.' ||
                 (colon && (c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!ok)
            return 0;
    }
    return 1;
}

void lq_fake_listen_result(lq_err_t result, int err)
{
    fk.listen_result = result;
    fk.listen_errno = err;
}

lq_port_fd_t lq_fake_last_listen_fd(void)
{
    return fk.last_listen_fd;
}

const char *lq_fake_last_listen_addr(void)
{
    return fk.last_listen_addr;
}

uint16_t lq_fake_last_listen_port(void)
{
    return fk.last_listen_port;
}

int lq_fake_last_listen_backlog(void)
{
    return fk.last_listen_backlog;
}

lq_err_t lq_port_tcp_listen(const char *addr, uint16_t port, int backlog, lq_port_fd_t *fd)
{
    if (addr == NULL || fd == NULL)
        return LQ_EINVAL;
    *fd = -1;
    if (!is_literal(addr))
        return LQ_EINVAL;
    if (fk.listen_result != LQ_OK) {
        lq_err_t r = fk.listen_result;
        fk.listen_result = LQ_OK;
        return r;
    }
    for (int i = 0; i < LQ_FAKE_MAX_SOCKS; i++) {
        const fake_sock_t *o = &fk.socks[i];
        if (port != 0 && o->used && o->listening && !o->agent_closed && o->port == port &&
            strcmp(o->addr, addr) == 0) {
            fk.listen_errno = 98; /* EADDRINUSE on Linux */
            return LQ_ECONFLICT;
        }
    }
    int idx;
    fake_sock_t *s = sock_alloc(&idx);
    if (s == NULL) {
        fk.listen_errno = 24; /* EMFILE */
        return LQ_EIO;
    }
    s->listening = 1;
    memcpy(s->addr, addr, strlen(addr) + 1);
    s->port = port != 0 ? port : (uint16_t)(40000 + idx);
    *fd = FD_BASE + idx;
    fk.last_listen_fd = *fd;
    memcpy(fk.last_listen_addr, addr, strlen(addr) + 1);
    fk.last_listen_port = port;
    fk.last_listen_backlog = backlog;
    return LQ_OK;
}

lq_port_fd_t lq_fake_accept_push(lq_port_fd_t listener, const char *peer)
{
    fake_sock_t *l = sock_of(listener);
    if (l == NULL || !l->listening || l->agent_closed)
        return -1;
    int idx;
    fake_sock_t *s = sock_alloc(&idx);
    if (s == NULL)
        return -1;
    s->pending_on = listener;
    s->pending_seq = ++fk.accept_seq;
    if (peer != NULL) {
        size_t n = strlen(peer);
        if (n >= sizeof s->peer)
            n = sizeof s->peer - 1;
        memcpy(s->peer, peer, n);
        s->peer[n] = '\0';
    }
    return FD_BASE + idx;
}

/* The oldest connection queued on listener, or NULL. */
static fake_sock_t *pending_first(lq_port_fd_t listener)
{
    fake_sock_t *best = NULL;
    for (int i = 0; i < LQ_FAKE_MAX_SOCKS; i++) {
        fake_sock_t *s = &fk.socks[i];
        if (s->used && s->pending_on == listener &&
            (best == NULL || s->pending_seq < best->pending_seq))
            best = s;
    }
    return best;
}

size_t lq_fake_accept_pending(lq_port_fd_t listener)
{
    size_t n = 0;
    for (int i = 0; i < LQ_FAKE_MAX_SOCKS; i++)
        if (fk.socks[i].used && fk.socks[i].pending_on == listener)
            n++;
    return n;
}

void lq_fake_accept_result(lq_port_fd_t listener, lq_err_t result)
{
    fake_sock_t *l = sock_of(listener);
    if (l != NULL && l->listening)
        l->accept_result = result;
}

lq_err_t lq_port_tcp_accept(lq_port_fd_t fd, lq_port_fd_t *cfd, char *peer, size_t peer_cap)
{
    if (cfd == NULL || (peer != NULL && peer_cap < LQ_PORT_PEER_MAX))
        return LQ_EINVAL;
    *cfd = -1;
    fake_sock_t *l = sock_of(fd);
    if (l == NULL || !l->listening || l->agent_closed)
        return LQ_EIO;
    if (l->accept_result != LQ_OK) {
        lq_err_t r = l->accept_result;
        l->accept_result = LQ_OK;
        return r;
    }
    fake_sock_t *s = pending_first(fd);
    if (s == NULL)
        return LQ_AGAIN;
    s->pending_on = 0;
    *cfd = FD_BASE + (int)(s - fk.socks);
    if (peer != NULL)
        memcpy(peer, s->peer, sizeof s->peer);
    return LQ_OK;
}

/* --- waiting --- */

static unsigned readiness(lq_port_fd_t fd, unsigned want)
{
    fake_sock_t *s = sock_of(fd);
    if (s == NULL)
        return 0;
    unsigned got = 0;
    if (s->listening)
        return (want & LQ_PORT_IN) && !s->agent_closed && pending_first(fd) != NULL ? LQ_PORT_IN : 0;
    if (s->fail_errno)
        return LQ_PORT_ERR | (want & (LQ_PORT_IN | LQ_PORT_OUT));
    if ((want & LQ_PORT_IN) && (s->in_len > s->in_off || s->peer_closed))
        got |= LQ_PORT_IN;
    if ((want & LQ_PORT_OUT) && s->send_limit > 0 && s->send_budget > 0 && !s->agent_closed &&
        s->out_len < sizeof s->out) /* a full capture is a full socket */
        got |= LQ_PORT_OUT;
    return got;
}

lq_err_t lq_port_wait(lq_port_pollfd_t *fds, size_t n, int timeout_ms, size_t *nready)
{
    *nready = 0;
    if (fk.pending_signal)
        return LQ_OK;
    for (size_t i = 0; i < n; i++) {
        fds[i].got = fds[i].fd >= 0 ? readiness(fds[i].fd, fds[i].want) : 0;
        if (fds[i].got)
            (*nready)++;
    }
    if (*nready == 0) {
        if (timeout_ms < 0)
            return LQ_EIO; /* would sleep forever in a test: a bug in the test or the code */
        fk.mono_ms += timeout_ms;
        fk.slept_ms += timeout_ms;
    }
    return LQ_OK;
}

/* --- signals --- */

lq_err_t lq_port_signals_install(void)
{
    return LQ_OK;
}

void lq_fake_signal_raise(int sig)
{
    fk.pending_signal = sig;
}

int lq_port_signal_take(void)
{
    int s = fk.pending_signal;
    fk.pending_signal = 0;
    return s;
}

/* --- files and environment --- */

static fake_file_t *file_of(const char *path)
{
    for (int i = 0; i < LQ_FAKE_MAX_FILES; i++)
        if (fk.files[i].used && strcmp(fk.files[i].path, path) == 0)
            return &fk.files[i];
    return NULL;
}

int lq_fake_file_set(const char *path, const void *data, size_t len)
{
    fake_file_t *f = file_of(path);
    for (int i = 0; f == NULL && i < LQ_FAKE_MAX_FILES; i++)
        if (!fk.files[i].used)
            f = &fk.files[i];
    if (f == NULL || strlen(path) >= sizeof f->path || len > sizeof f->data)
        return -1;
    if (!f->used) { /* a new file: the owner's alone, as lq_port_file_write makes it */
        f->mode = 0600u;
        f->other_owner = 0;
    }
    f->used = 1;
    memcpy(f->path, path, strlen(path) + 1);
    memcpy(f->data, data, len);
    f->len = len;
    f->mtime_ms = lq_port_wall_ms();
    return 0;
}

void lq_fake_file_remove(const char *path)
{
    fake_file_t *f = file_of(path);
    if (f)
        f->used = 0;
}

lq_err_t lq_port_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
    if (path == NULL || buf == NULL || cap == 0 || len == NULL)
        return LQ_EINVAL;
    *len = 0;
    fake_file_t *f = file_of(path);
    if (f == NULL)
        return LQ_ENOTFOUND;
    if (f->len > cap - 1)
        return LQ_ETOOBIG;
    memcpy(buf, f->data, f->len);
    buf[f->len] = '\0';
    *len = f->len;
    return LQ_OK;
}

lq_err_t lq_port_file_read_secret(const char *path, char *buf, size_t cap, size_t *len,
                                  unsigned *mode, bool *other_owner)
{
    if (mode == NULL || other_owner == NULL)
        return LQ_EINVAL;
    lq_err_t e = lq_port_file_read(path, buf, cap, len);
    fake_file_t *f = file_of(path);
    if (f) {
        *mode = f->mode;
        *other_owner = f->other_owner != 0;
    }
    return e;
}

int lq_fake_file_mode(const char *path, unsigned mode, bool other_owner)
{
    fake_file_t *f = file_of(path);
    if (f == NULL)
        return -1;
    f->mode = mode & 0777u;
    f->other_owner = other_owner;
    return 0;
}

lq_err_t lq_port_file_write(const char *path, const void *data, size_t len)
{
    if (path == NULL || (data == NULL && len > 0))
        return LQ_EINVAL;
    return lq_fake_file_set(path, data, len) == 0 ? LQ_OK : LQ_EIO;
}

lq_err_t lq_port_file_stat(const char *path, int64_t *mtime_ms, uint64_t *size)
{
    fake_file_t *f = file_of(path);
    if (f == NULL)
        return LQ_ENOTFOUND;
    if (mtime_ms)
        *mtime_ms = f->mtime_ms;
    if (size)
        *size = f->len;
    return LQ_OK;
}

int lq_fake_env_set(const char *name, const char *value)
{
    for (int i = 0; i < 8; i++) {
        if (fk.env_names[i][0] == '\0' || strcmp(fk.env_names[i], name) == 0) {
            if (strlen(name) >= sizeof fk.env_names[i] || strlen(value) >= sizeof fk.env_values[i])
                return -1;
            memcpy(fk.env_names[i], name, strlen(name) + 1);
            memcpy(fk.env_values[i], value, strlen(value) + 1);
            return 0;
        }
    }
    return -1;
}

const char *lq_port_getenv(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (fk.env_names[i][0] != '\0' && strcmp(fk.env_names[i], name) == 0)
            return fk.env_values[i];
    return NULL;
}

/* --- memory --- */

lq_err_t lq_port_mem_usage(uint64_t *peak, uint64_t *current)
{
    (void)peak;
    (void)current;
    return LQ_ENOTSUP;
}

/* --- service manager --- */

long lq_port_pid(void)
{
    return LQ_FAKE_PID;
}

/* As the real port: nothing without NOTIFY_SOCKET (here the fake environment's). */
lq_err_t lq_port_notify(const char *state)
{
    const char *name = lq_port_getenv("NOTIFY_SOCKET");
    if (name == NULL)
        return LQ_ENOTFOUND;
    size_t len = strlen(state);
    if (len == 0 || len > LQ_PORT_NOTIFY_MAX || (name[0] != '/' && name[0] != '@') ||
        name[1] == '\0')
        return LQ_EINVAL;
    if (len + 1 > sizeof fk.notify - 1 - fk.notify_len)
        return LQ_EIO; /* the fake manager's queue is full */
    memcpy(fk.notify + fk.notify_len, state, len);
    fk.notify_len += len;
    fk.notify[fk.notify_len++] = '\n';
    fk.notify[fk.notify_len] = '\0';
    fk.notify_count++;
    return LQ_OK;
}

const char *lq_fake_notify_text(void)
{
    return fk.notify;
}

size_t lq_fake_notify_count(void)
{
    return fk.notify_count;
}

/* --- log --- */

void lq_port_log_write(const char *line, size_t len)
{
    size_t room = sizeof fk.log - 1 - fk.log_len;
    if (len > room)
        len = room; /* test capture only; the real sink never truncates */
    memcpy(fk.log + fk.log_len, line, len);
    fk.log_len += len;
    fk.log[fk.log_len] = '\0';
}

const char *lq_fake_log_text(void)
{
    return fk.log;
}
