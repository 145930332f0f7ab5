/* Pure HTTP/1.1 client codec: request writer, response head parser, body decoder.
 * See include/liqolet/http.h for the contract and the protocol choices. */
#include "liqolet/ascii.h"
#include "liqolet/http.h"

#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Character classes                                                                    */
/* ------------------------------------------------------------------------------------ */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* field-vchar, SP or HTAB: what may appear inside a field value or reason phrase */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Strict decimal: one or more digits, value <= LQ_HTTP_MAX_BODY_LEN. */
static lq_err_t parse_decimal(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0)
        return LQ_EPROTO;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!is_digit(c))
            return LQ_EPROTO;
        if (v > (LQ_HTTP_MAX_BODY_LEN - (uint64_t)(c - '0')) / 10u)
            return LQ_EPROTO;
        v = v * 10u + (uint64_t)(c - '0');
    }
    *out = v;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Request writer                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef struct out_buf {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
} out_buf_t;

static void out_put(out_buf_t *o, const char *p, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void out_str(out_buf_t *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_u64(out_buf_t *o, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    out_put(o, tmp + i, sizeof tmp - i);
}

static void out_field(out_buf_t *o, const char *name, const char *v1, const char *v2)
{
    out_str(o, name);
    out_put(o, ": ", 2);
    out_str(o, v1);
    if (v2 != NULL)
        out_str(o, v2);
    out_put(o, "\r\n", 2);
}

static bool valid_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!lq_ascii_tchar((unsigned char)*s))
            return false;
    }
    return true;
}

/* NULL is fine (omitted); otherwise only SP/HTAB/visible bytes. */
static bool valid_value(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s != '\0'; s++) {
        if (!is_value_char((unsigned char)*s))
            return false;
    }
    return true;
}

static bool valid_target(const char *s)
{
    if (s == NULL || s[0] != '/')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f) /* the caller percent-encodes anything else */
            return false;
    }
    return true;
}

/* Host validation. Sets *v6 when the host is an IPv6 literal and *n to the number of
 * bytes to write (brackets and zone removed). */
static bool valid_host(const char *s, const char **start, size_t *n, bool *v6)
{
    size_t len = strlen(s);
    size_t i;
    bool bracketed = false;

    if (len == 0)
        return false;
    if (s[0] == '[') {
        if (len < 3 || s[len - 1] != ']')
            return false;
        s++;
        len -= 2;
        bracketed = true;
    }
    *v6 = bracketed || memchr(s, ':', len) != NULL;
    if (*v6) {
        const char *zone = memchr(s, '%', len);
        if (zone != NULL) {
            /* the zone itself must still be harmless, though it is not written */
            for (i = (size_t)(zone - s) + 1; i < len; i++) {
                if (!lq_ascii_tchar((unsigned char)s[i]))
                    return false;
            }
            len = (size_t)(zone - s);
        }
        if (len == 0)
            return false;
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!(lq_ascii_hex(c) >= 0 || c == ':' || c == '.'))
                return false;
        }
    } else {
        static const char allowed[] = "-._~!$&'()*+,;=";
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!(is_digit(c) || is_alpha(c) || memchr(allowed, c, sizeof allowed - 1)))
                return false;
        }
    }
    *start = s;
    *n = len;
    return true;
}

lq_err_t lq_http_write_request(char *buf, size_t cap, const lq_http_req_t *req,
                               size_t *out_len)
{
    out_buf_t o;
    const char *host = NULL;
    size_t host_len = 0, i;
    bool v6 = false;

    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || req == NULL || out_len == NULL)
        return LQ_EINVAL;
    if (!valid_token(req->method) || !valid_target(req->target) || req->host == NULL ||
        !valid_host(req->host, &host, &host_len, &v6))
        return LQ_EINVAL;
    if (!valid_value(req->bearer) || !valid_value(req->accept) ||
        !valid_value(req->content_type) || !valid_value(req->ua_version))
        return LQ_EINVAL;
    if ((req->bearer != NULL && req->bearer[0] == '\0') ||
        (req->ua_version != NULL && req->ua_version[0] == '\0'))
        return LQ_EINVAL;
    if (req->body != NULL && !req->has_body)
        return LQ_EINVAL;
    if (req->chunked && (req->has_body || req->body != NULL))
        return LQ_EINVAL; /* one framing only (RFC 9112 section 6.3) */
    if (req->n_extra > 0 && req->extra == NULL)
        return LQ_EINVAL;
    for (i = 0; i < req->n_extra; i++) {
        if (!valid_token(req->extra[i].name) || req->extra[i].value == NULL ||
            !valid_value(req->extra[i].value))
            return LQ_EINVAL;
    }

    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    o.overflow = false;

    out_str(&o, req->method);
    out_put(&o, " ", 1);
    out_str(&o, req->target);
    out_put(&o, " HTTP/1.1\r\nHost: ", 17);
    if (v6)
        out_put(&o, "[", 1);
    out_put(&o, host, host_len);
    if (v6)
        out_put(&o, "]", 1);
    if (req->port != 0) {
        out_put(&o, ":", 1);
        out_u64(&o, req->port);
    }
    out_put(&o, "\r\n", 2);
    if (req->ua_version != NULL)
        out_field(&o, "User-Agent", "liqolet/", req->ua_version);
    if (req->accept != NULL)
        out_field(&o, "Accept", req->accept, NULL);
    if (req->bearer != NULL)
        out_field(&o, "Authorization", "Bearer ", req->bearer);
    if (req->content_type != NULL)
        out_field(&o, "Content-Type", req->content_type, NULL);
    if (req->has_body) {
        out_str(&o, "Content-Length: ");
        out_u64(&o, (uint64_t)req->body_len);
        out_put(&o, "\r\n", 2);
    } else if (req->chunked) {
        out_field(&o, "Transfer-Encoding", "chunked", NULL);
    }
    if (req->close)
        out_field(&o, "Connection", "close", NULL);
    for (i = 0; i < req->n_extra; i++)
        out_field(&o, req->extra[i].name, req->extra[i].value, NULL);
    out_put(&o, "\r\n", 2);
    if (req->body != NULL)
        out_put(&o, req->body, req->body_len);

    if (o.overflow)
        return LQ_ETOOBIG;
    *out_len = o.len;
    return LQ_OK;
}

lq_err_t lq_http_escape_query(char *buf, size_t cap, const char *src, size_t src_len,
                              size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;

    if (out_len != NULL)
        *out_len = 0;
    if (buf == NULL || out_len == NULL || (src == NULL && src_len > 0))
        return LQ_EINVAL;
    for (i = 0; i < src_len; i++) {
        unsigned char c = (unsigned char)src[i];
        bool plain = is_digit(c) || is_alpha(c) || c == '-' || c == '.' || c == '_' ||
                     c == '~';
        size_t need = plain ? 1u : 3u;
        if (n >= cap || need >= cap - n) /* keep room for the NUL */
            return LQ_ETOOBIG;
        if (plain) {
            buf[n++] = (char)c;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15u];
        }
    }
    if (n >= cap)
        return LQ_ETOOBIG;
    buf[n] = '\0';
    *out_len = n;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Response head parser                                                                 */
/* ------------------------------------------------------------------------------------ */

void lq_http_resp_init(lq_http_resp_t *r)
{
    memset(r, 0, sizeof *r);
    r->err_ = LQ_OK;
}

/* Check the new byte buf[i] of a head whose earlier bytes were already checked.
 * Sets *end when it completes the head (the LF of CRLF CRLF). */
static lq_err_t scan_byte(const char *buf, size_t i, bool *end)
{
    static const char magic[] = "HTTP/1.";
    unsigned char c = (unsigned char)buf[i];

    if (i >= LQ_HTTP_MAX_HEAD)
        return LQ_ETOOBIG;
    /* refuse a peer that is not speaking HTTP/1.x without waiting for a whole head */
    if (i < sizeof magic - 1 && c != (unsigned char)magic[i])
        return LQ_EPROTO;
    if (c == '\0')
        return LQ_EPROTO;
    if (i > 0 && buf[i - 1] == '\r' && c != '\n')
        return LQ_EPROTO; /* bare CR */
    if (c == '\n') {
        if (i == 0 || buf[i - 1] != '\r')
            return LQ_EPROTO; /* bare LF */
        if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            *end = true;
    }
    return LQ_OK;
}

/* Length of the line starting at p (the head is known to use CRLF throughout). */
static size_t line_length(const char *p, const char *limit)
{
    const char *cr = memchr(p, '\r', (size_t)(limit - p));
    return (size_t)(cr - p); /* cr cannot be NULL: the head ends in CRLF CRLF */
}

static lq_err_t parse_status_line(lq_http_resp_t *r, const char *p, size_t n)
{
    size_t i;
    /* "HTTP/1.x SSS" then optionally " reason" */
    if (n < 12 || !is_digit((unsigned char)p[7]) || p[8] != ' ')
        return LQ_EPROTO;
    for (i = 9; i < 12; i++) {
        if (!is_digit((unsigned char)p[i]))
            return LQ_EPROTO;
    }
    r->minor = p[7] == '0' ? 0 : 1;
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->status < 100)
        return LQ_EPROTO;
    if (n == 12) {
        r->reason.ptr = p + 12;
        r->reason.len = 0;
        return LQ_OK;
    }
    if (p[12] != ' ')
        return LQ_EPROTO;
    for (i = 13; i < n; i++) {
        if (!is_value_char((unsigned char)p[i]))
            return LQ_EPROTO;
    }
    r->reason.ptr = p + 13;
    r->reason.len = n - 13;
    return LQ_OK;
}

/* Walk a comma-separated list; calls fn for each non-empty trimmed element. */
typedef lq_err_t list_fn_t(lq_http_resp_t *r, const char *p, size_t n, void *ctx);

static lq_err_t for_each_element(lq_http_resp_t *r, lq_http_view_t v, list_fn_t *fn,
                                 void *ctx)
{
    size_t i = 0;
    while (i < v.len) {
        size_t s, e;
        while (i < v.len && (is_ows((unsigned char)v.ptr[i]) || v.ptr[i] == ','))
            i++;
        s = i;
        while (i < v.len && v.ptr[i] != ',')
            i++;
        e = i;
        while (e > s && is_ows((unsigned char)v.ptr[e - 1]))
            e--;
        if (e > s) {
            lq_err_t err = fn(r, v.ptr + s, e - s, ctx);
            if (err != LQ_OK)
                return err;
        }
    }
    return LQ_OK;
}

typedef struct conn_tokens {
    bool close;
    bool keep_alive;
} conn_tokens_t;

static lq_err_t connection_element(lq_http_resp_t *r, const char *p, size_t n, void *ctx)
{
    conn_tokens_t *t = ctx;
    (void)r;
    if (lq_ascii_eq_ci(p, n, "close"))
        t->close = true;
    else if (lq_ascii_eq_ci(p, n, "keep-alive"))
        t->keep_alive = true;
    return LQ_OK;
}

static lq_err_t te_element(lq_http_resp_t *r, const char *p, size_t n, void *ctx)
{
    (void)ctx;
    /* chunked, exactly once, without parameters; we never advertise other codings */
    if (!lq_ascii_eq_ci(p, n, "chunked") || r->chunked)
        return LQ_EPROTO;
    r->chunked = true;
    return LQ_OK;
}

static lq_err_t parse_field_line(lq_http_resp_t *r, const char *p, size_t n,
                                 bool *has_te, conn_tokens_t *conn)
{
    size_t i = 0, name_len, vs, ve;
    lq_http_header_t *h;
    lq_err_t err = LQ_OK;

    while (i < n && lq_ascii_tchar((unsigned char)p[i]))
        i++;
    /* empty name, obs-fold (leading whitespace), space before ':' or a non-token byte */
    if (i == 0 || i == n || p[i] != ':')
        return LQ_EPROTO;
    if (r->n_headers == LQ_HTTP_MAX_HEADERS)
        return LQ_ETOOBIG;
    name_len = i;
    vs = i + 1;
    while (vs < n && is_ows((unsigned char)p[vs]))
        vs++;
    ve = n;
    while (ve > vs && is_ows((unsigned char)p[ve - 1]))
        ve--;
    for (i = vs; i < ve; i++) {
        if (!is_value_char((unsigned char)p[i]))
            return LQ_EPROTO;
    }

    h = &r->headers[r->n_headers++];
    h->name.ptr = p;
    h->name.len = name_len;
    h->value.ptr = p + vs;
    h->value.len = ve - vs;

    if (lq_ascii_eq_ci(h->name.ptr, h->name.len, "content-length")) {
        uint64_t v;
        err = parse_decimal(h->value.ptr, h->value.len, &v);
        if (err != LQ_OK)
            return err;
        if (r->has_content_length && r->content_length != v)
            return LQ_EPROTO;
        r->has_content_length = true;
        r->content_length = v;
    } else if (lq_ascii_eq_ci(h->name.ptr, h->name.len, "transfer-encoding")) {
        *has_te = true;
        err = for_each_element(r, h->value, te_element, NULL);
    } else if (lq_ascii_eq_ci(h->name.ptr, h->name.len, "connection")) {
        err = for_each_element(r, h->value, connection_element, conn);
    } else if (r->content_type.ptr == NULL &&
               lq_ascii_eq_ci(h->name.ptr, h->name.len, "content-type")) {
        r->content_type = h->value;
    }
    return err;
}

/* Parse the complete head buf[0..head_len). */
static lq_err_t parse_head(lq_http_resp_t *r, const char *buf, size_t head_len)
{
    const char *p = buf, *limit = buf + head_len;
    bool has_te = false;
    conn_tokens_t conn = { false, false };
    size_t n = line_length(p, limit);
    lq_err_t err = parse_status_line(r, p, n);

    if (err != LQ_OK)
        return err;
    p += n + 2;
    for (;;) {
        n = line_length(p, limit);
        if (n == 0)
            break; /* the empty line */
        err = parse_field_line(r, p, n, &has_te, &conn);
        if (err != LQ_OK)
            return err;
        p += n + 2;
    }
    if (has_te && !r->chunked)
        return LQ_EPROTO; /* Transfer-Encoding present but empty */
    if (has_te && (r->has_content_length || r->minor == 0))
        return LQ_EPROTO;
    if (conn.close)
        r->keep_alive = false;
    else
        r->keep_alive = r->minor >= 1 || conn.keep_alive;
    r->head_len = head_len;
    return LQ_OK;
}

lq_err_t lq_http_resp_parse(lq_http_resp_t *r, const char *buf, size_t len)
{
    size_t i;
    lq_err_t err;

    if (r == NULL || (buf == NULL && len > 0))
        return LQ_EINVAL;
    if (r->err_ != LQ_OK)
        return r->err_;
    if (r->done_)
        return LQ_OK;
    if (len < r->scan_)
        return LQ_EINVAL;
    for (i = r->scan_; i < len; i++) {
        bool end = false;
        err = scan_byte(buf, i, &end);
        if (err != LQ_OK) {
            r->err_ = err;
            return err;
        }
        if (end) {
            r->scan_ = i + 1;
            err = parse_head(r, buf, i + 1);
            if (err != LQ_OK) {
                r->err_ = err;
                return err;
            }
            r->done_ = true;
            return LQ_OK;
        }
    }
    r->scan_ = len;
    return LQ_AGAIN;
}

lq_http_view_t lq_http_header(const lq_http_resp_t *r, const char *name)
{
    lq_http_view_t none = { NULL, 0 };
    size_t i;
    if (r == NULL || name == NULL)
        return none;
    for (i = 0; i < r->n_headers; i++) {
        const lq_http_header_t *h = &r->headers[i];
        if (lq_ascii_eq_ci(h->name.ptr, h->name.len, name))
            return h->value;
    }
    return none;
}

lq_err_t lq_http_retry_after(const lq_http_resp_t *r, uint32_t *secs)
{
    lq_http_view_t v;
    uint32_t acc = 0;
    size_t i;

    if (r == NULL || secs == NULL)
        return LQ_EINVAL;
    v = lq_http_header(r, "retry-after");
    if (v.ptr == NULL)
        return LQ_ENOTFOUND;
    if (v.len == 0)
        return LQ_EPROTO;
    for (i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!is_digit(c))
            return LQ_EPROTO;
        if (acc > (UINT32_MAX - (uint32_t)(c - '0')) / 10u)
            acc = UINT32_MAX;
        else
            acc = acc * 10u + (uint32_t)(c - '0');
    }
    *secs = acc;
    return LQ_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Body decoder                                                                         */
/* ------------------------------------------------------------------------------------ */

enum chunk_state {
    CS_SIZE_FIRST, /* first hex digit of a chunk-size line */
    CS_SIZE,       /* further hex digits, then ';', BWS or CR */
    CS_EXT,        /* extension bytes up to CR */
    CS_SIZE_LF,    /* LF ending the chunk-size line */
    CS_DATA,       /* chunk payload */
    CS_DATA_CR,    /* CR after the payload */
    CS_DATA_LF,    /* LF after the payload */
    CS_TRAILER_START, /* start of a trailer line, or the final CR */
    CS_TRAILER,    /* inside a trailer line */
    CS_TRAILER_LF, /* LF ending a trailer line */
    CS_FINAL_LF,   /* LF ending the body */
    CS_DONE
};

void lq_http_body_init(lq_http_body_t *b, const lq_http_resp_t *r, bool head_request)
{
    memset(b, 0, sizeof *b);
    b->err_ = LQ_OK;
    b->state_ = CS_SIZE_FIRST;
    b->keep_alive = r->keep_alive;
    if (head_request || r->status < 200 || r->status == 204 || r->status == 304) {
        b->framing = LQ_HTTP_FRAMING_NONE;
        b->done = true;
    } else if (r->chunked) {
        b->framing = LQ_HTTP_FRAMING_CHUNKED;
    } else if (r->has_content_length) {
        b->framing = LQ_HTTP_FRAMING_LENGTH;
        b->remaining_ = r->content_length;
        b->done = r->content_length == 0;
    } else {
        b->framing = LQ_HTTP_FRAMING_CLOSE;
        b->keep_alive = false;
    }
}

/* One framing byte of a chunked body. Returns LQ_OK or an error. */
static lq_err_t chunk_byte(lq_http_body_t *b, unsigned char c)
{
    int h;

    b->win_overhead_++;
    if (b->win_overhead_ >= LQ_HTTP_OVERHEAD_WINDOW) {
        if (b->win_overhead_ > b->win_payload_)
            return LQ_EPROTO;
        b->win_overhead_ = 0;
        b->win_payload_ = 0;
    }

    switch (b->state_) {
    case CS_SIZE_FIRST:
    case CS_SIZE:
        h = lq_ascii_hex(c);
        if (h >= 0) {
            if (b->remaining_ > (LQ_HTTP_MAX_BODY_LEN >> 4))
                return LQ_EPROTO;
            b->remaining_ = (b->remaining_ << 4) | (uint64_t)h;
            b->state_ = CS_SIZE;
        } else if (b->state_ == CS_SIZE_FIRST) {
            return LQ_EPROTO; /* no digits: empty size, "-1", "x", bare CR/LF ... */
        } else if (c == '\r') {
            b->state_ = CS_SIZE_LF;
            return LQ_OK;
        } else if (c == ';' || is_ows(c)) {
            b->state_ = CS_EXT;
        } else {
            return LQ_EPROTO;
        }
        if (++b->line_len_ > LQ_HTTP_MAX_CHUNK_LINE)
            return LQ_ETOOBIG;
        return LQ_OK;
    case CS_EXT:
        if (c == '\r') {
            b->state_ = CS_SIZE_LF;
            return LQ_OK;
        }
        if (!is_value_char(c))
            return LQ_EPROTO;
        if (++b->line_len_ > LQ_HTTP_MAX_CHUNK_LINE)
            return LQ_ETOOBIG;
        return LQ_OK;
    case CS_SIZE_LF:
        if (c != '\n')
            return LQ_EPROTO;
        b->line_len_ = 0;
        b->state_ = b->remaining_ == 0 ? CS_TRAILER_START : CS_DATA;
        return LQ_OK;
    case CS_DATA_CR:
        if (c != '\r')
            return LQ_EPROTO;
        b->state_ = CS_DATA_LF;
        return LQ_OK;
    case CS_DATA_LF:
        if (c != '\n')
            return LQ_EPROTO;
        b->state_ = CS_SIZE_FIRST;
        return LQ_OK;
    case CS_TRAILER_START:
        if (c == '\r') {
            b->state_ = CS_FINAL_LF;
            return LQ_OK;
        }
        if (!lq_ascii_tchar(c))
            return LQ_EPROTO; /* obs-fold, bare LF, garbage */
        b->state_ = CS_TRAILER;
        break;
    case CS_TRAILER:
        if (c == '\r') {
            b->state_ = CS_TRAILER_LF;
            return LQ_OK;
        }
        if (!is_value_char(c))
            return LQ_EPROTO;
        break;
    case CS_TRAILER_LF:
        if (c != '\n')
            return LQ_EPROTO;
        b->state_ = CS_TRAILER_START;
        return LQ_OK;
    case CS_FINAL_LF:
        if (c != '\n')
            return LQ_EPROTO;
        b->state_ = CS_DONE;
        return LQ_OK;
    default:
        return LQ_EPROTO; /* CS_DATA and CS_DONE never reach here */
    }
    /* a trailer byte */
    if (++b->line_len_ > LQ_HTTP_MAX_HEAD)
        return LQ_ETOOBIG;
    return LQ_OK;
}

static lq_err_t decode_chunked(lq_http_body_t *b, char *buf, size_t len, size_t *consumed,
                               size_t *decoded)
{
    size_t in = 0, out = 0;
    lq_err_t err = LQ_AGAIN;

    while (in < len) {
        if (b->state_ == CS_DATA) {
            size_t avail = len - in;
            size_t n = b->remaining_ < (uint64_t)avail ? (size_t)b->remaining_ : avail;
            if (out != in)
                memmove(buf + out, buf + in, n);
            out += n;
            in += n;
            b->remaining_ -= n;
            b->payload_total += n;
            b->win_payload_ += n;
            if (b->remaining_ == 0)
                b->state_ = CS_DATA_CR;
            continue;
        }
        err = chunk_byte(b, (unsigned char)buf[in]);
        if (err != LQ_OK) {
            b->err_ = err;
            break;
        }
        in++;
        err = LQ_AGAIN;
        if (b->state_ == CS_DONE) {
            b->done = true;
            err = LQ_OK;
            break;
        }
    }
    *consumed = in;
    *decoded = out;
    return err;
}

lq_err_t lq_http_body_decode(lq_http_body_t *b, char *buf, size_t len, size_t *consumed,
                             size_t *decoded)
{
    size_t n;

    if (consumed != NULL)
        *consumed = 0;
    if (decoded != NULL)
        *decoded = 0;
    if (b == NULL || consumed == NULL || decoded == NULL || (buf == NULL && len > 0))
        return LQ_EINVAL;
    if (b->err_ != LQ_OK)
        return b->err_;
    if (b->done)
        return LQ_OK;

    switch (b->framing) {
    case LQ_HTTP_FRAMING_LENGTH:
        n = b->remaining_ < (uint64_t)len ? (size_t)b->remaining_ : len;
        b->remaining_ -= n;
        b->payload_total += n;
        *consumed = n;
        *decoded = n;
        if (b->remaining_ == 0) {
            b->done = true;
            return LQ_OK;
        }
        return LQ_AGAIN;
    case LQ_HTTP_FRAMING_CLOSE:
        b->payload_total += len;
        *consumed = len;
        *decoded = len;
        return LQ_AGAIN;
    case LQ_HTTP_FRAMING_CHUNKED:
        return decode_chunked(b, buf, len, consumed, decoded);
    case LQ_HTTP_FRAMING_NONE:
    default:
        b->done = true;
        return LQ_OK;
    }
}

lq_err_t lq_http_body_eof(lq_http_body_t *b)
{
    if (b == NULL)
        return LQ_EINVAL;
    if (b->err_ != LQ_OK)
        return b->err_;
    if (b->done)
        return LQ_OK;
    if (b->framing == LQ_HTTP_FRAMING_CLOSE) {
        b->done = true;
        return LQ_OK;
    }
    b->err_ = LQ_ECLOSED;
    return LQ_ECLOSED;
}
