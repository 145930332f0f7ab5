/* liqolet: pure HTTP/1.1 client codec.
 *
 * Three independent pieces, none of which does I/O or allocates:
 *
 *   1. lq_http_write_request   renders a request head (and optionally its body) into a
 *                              caller buffer; CR/LF/CTL injection is refused.
 *   2. lq_http_resp_parse      parses a response head incrementally from a buffer that
 *                              grows as bytes arrive; results are views into that buffer.
 *   3. lq_http_body_decode     decodes the body (Content-Length, chunked, or until close)
 *                              in place and streaming: payload is handed back as soon as
 *                              it arrives, chunk framing is squeezed out, and bytes after
 *                              the end of the body are left alone (keep-alive).
 *
 * Protocol choices (RFC 9112), all strict because the peer is a kube-apiserver:
 *   - Every line ends in CRLF. A bare LF or a bare CR anywhere in a head, a chunk-size
 *     line or a trailer is LQ_EPROTO (no lenient "LF only" mode).
 *   - obs-fold (a header line starting with SP/HTAB) is LQ_EPROTO; so is whitespace
 *     between a field name and its colon, a field name that is not a token, and control
 *     characters (other than HTAB) in a reason phrase or field value.
 *   - Content-Length is digits only, at most LQ_HTTP_MAX_BODY_LEN; several fields with the
 *     same value are accepted, differing values or a comma list are LQ_EPROTO.
 *   - Transfer-Encoding: only "chunked" (case-insensitive, once, possibly split over
 *     several fields) is accepted; any other coding is LQ_EPROTO (we never send TE).
 *     Transfer-Encoding together with Content-Length is LQ_EPROTO (a smuggling sign,
 *     RFC 9112 section 6.3 item 3), and so is Transfer-Encoding in an HTTP/1.0 response.
 *   - A response without either is read until the connection closes (not reusable).
 *   - Chunk extensions and trailer fields are validated for stray control bytes, then
 *     ignored.
 *
 * Usage (one connection, rx holding what was received):
 *     lq_http_resp_init(&resp);
 *     while ((err = lq_http_resp_parse(&resp, rx, rx_len)) == LQ_AGAIN) receive more;
 *     lq_http_body_init(&body, &resp, false);
 *     err = lq_http_body_decode(&body, rx + resp.head_len, rx_len - resp.head_len,
 *                               &used, &got);   ... and again for every later read
 * tests/unit/test_http.c (test_chunked_watch_stream_rx) shows a whole receive loop. */
#ifndef LIQOLET_HTTP_H
#define LIQOLET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"

/* Largest Content-Length or chunk size accepted (2^62 - 1); bigger numbers are
 * LQ_EPROTO. Kept in uint64_t everywhere, so 32-bit targets behave the same. */
#define LQ_HTTP_MAX_BODY_LEN ((uint64_t)0x3fffffffffffffffu)

/* DoS guard for chunked bodies: every time this many framing bytes (chunk-size lines,
 * CRLFs, extensions, trailers) have been seen, they are compared with the payload bytes
 * decoded over the same stretch; framing exceeding payload is LQ_EPROTO. Real servers
 * frame kilobyte chunks with ~7 bytes; a stream of tiny chunks trips this. */
#ifndef LQ_HTTP_OVERHEAD_WINDOW
#define LQ_HTTP_OVERHEAD_WINDOW (64u * 1024u)
#endif

/* A borrowed byte range (not NUL-terminated). ptr == NULL means "absent"; an empty
 * but present value has a non-NULL ptr and len 0. */
typedef struct lq_http_view {
    const char *ptr;
    size_t len;
} lq_http_view_t;

/* One parsed response header: views into the buffer given to lq_http_resp_parse. The
 * value has surrounding whitespace removed. */
typedef struct lq_http_header {
    lq_http_view_t name;
    lq_http_view_t value;
} lq_http_header_t;

/* ------------------------------------------------------------------------------------ */
/* Request writer                                                                       */
/* ------------------------------------------------------------------------------------ */

/* An extra request header; both NUL-terminated. name must be a token, value may hold
 * SP/HTAB/visible bytes only. The writer does not look for duplicates of the headers it
 * writes itself (Host, User-Agent, ...): do not pass those here. */
typedef struct lq_http_field {
    const char *name;
    const char *value;
} lq_http_field_t;

/* What lq_http_write_request renders. All strings are NUL-terminated and borrowed for
 * the duration of the call only. Optional strings are omitted when NULL. */
typedef struct lq_http_req {
    const char *method;       /* required token: "GET", "POST", "PATCH", ... */
    const char *target;       /* required origin-form "/api/v1/pods?watch=1"; the caller
                                 has percent-encoded it (see lq_http_escape_query) */
    const char *host;         /* required: DNS name, IPv4, or IPv6 literal with or without
                                 brackets; an IPv6 zone ("%eth0") is dropped, as Go does */
    uint16_t port;            /* written as "Host: h:port"; 0 = no port */
    const char *bearer;       /* "Authorization: Bearer <bearer>"; must not be "" */
    const char *accept;       /* "Accept: ..." */
    const char *content_type; /* "Content-Type: ..." */
    const char *ua_version;   /* "User-Agent: liqolet/<ua_version>"; must not be "" */
    const lq_http_field_t *extra; /* n_extra extra headers, written last, in order */
    size_t n_extra;
    bool has_body;            /* write "Content-Length: <body_len>" (also for 0) */
    bool chunked;             /* write "Transfer-Encoding: chunked" instead: the caller
                                 streams the body itself, chunk-framed (excludes
                                 has_body and body) */
    const char *body;         /* if non-NULL (needs has_body) the body_len bytes are copied
                                 after the head; if NULL the caller sends the body itself */
    size_t body_len;
    bool close;               /* "Connection: close"; otherwise nothing is written, since
                                 HTTP/1.1 connections are persistent by default */
} lq_http_req_t;

/* Render a request into buf.
 * Writes "METHOD target HTTP/1.1", then Host, User-Agent, Accept, Authorization,
 * Content-Type, Content-Length (or Transfer-Encoding: chunked), Connection, the extra
 * headers, the empty line, and the body when req->body is set. Nothing is
 * NUL-terminated (the body may be binary).
 *   buf, cap  caller-owned output; on error its contents are unspecified.
 *   req       borrowed.
 *   out_len   set to the bytes written (0 on any error).
 * Returns LQ_OK; LQ_EINVAL for NULL arguments, a missing/empty method, target or host,
 * a method or field name that is not a token, a target that is not "/..." or holds
 * SP, CTL or non-ASCII bytes, a bad host, CR/LF/CTL in any value (header injection),
 * an empty bearer or ua_version, body set without has_body, or chunked together with
 * has_body or body; LQ_ETOOBIG when the
 * result does not fit in cap (never a truncated request). */
lq_err_t lq_http_write_request(char *buf, size_t cap, const lq_http_req_t *req,
                               size_t *out_len);

/* Percent-encode src for use as a query value (or path segment): every byte except
 * ALPHA, DIGIT, '-', '.', '_', '~' becomes %XX (upper-case hex; space is "%20").
 * Writes the encoding plus a NUL terminator into buf.
 *   src, src_len  borrowed bytes (may contain NUL); src may be NULL when src_len is 0.
 *   out_len       set to the encoded length without the NUL (0 on error).
 * Returns LQ_OK; LQ_EINVAL for NULL buf/out_len or NULL src with src_len > 0;
 * LQ_ETOOBIG when the encoding plus NUL does not fit in cap. */
lq_err_t lq_http_escape_query(char *buf, size_t cap, const char *src, size_t src_len,
                              size_t *out_len);

/* ------------------------------------------------------------------------------------ */
/* Response head parser                                                                 */
/* ------------------------------------------------------------------------------------ */

/* A parsed response head. Caller-owned (statically placeable, ~1 KiB on 64-bit).
 * Public fields are valid once lq_http_resp_parse returned LQ_OK; the views point into
 * the buffer of that last call and live as long as those bytes do. Fields ending in
 * '_' are private. */
typedef struct lq_http_resp {
    int status;                  /* 100..999 */
    uint8_t minor;               /* HTTP/1.<minor>: 0 or 1 (higher minors read as 1) */
    lq_http_view_t reason;       /* may be empty */
    lq_http_header_t headers[LQ_HTTP_MAX_HEADERS];
    size_t n_headers;
    size_t head_len;             /* bytes up to and including the empty line; the body
                                    (or the next response) starts at buf + head_len */
    bool keep_alive;             /* per version and Connection tokens only; see
                                    lq_http_body_t.keep_alive for the final word */
    bool chunked;                /* Transfer-Encoding: chunked */
    bool has_content_length;
    uint64_t content_length;     /* valid when has_content_length */
    lq_http_view_t content_type; /* first Content-Type field; ptr NULL if none */

    size_t scan_;                /* private: bytes already checked by earlier calls */
    lq_err_t err_;               /* private: sticky error */
    bool done_;                  /* private */
} lq_http_resp_t;

/* Reset r to parse a new response. Cannot fail. */
void lq_http_resp_init(lq_http_resp_t *r);

/* Parse the response head at the start of buf[0..len).
 * Call again with the same bytes plus whatever arrived since (the buffer may move
 * between calls; its prefix must not change). Each call only scans the new bytes, so
 * feeding a head one byte at a time costs O(head) in total; the head is parsed in one
 * pass once its terminating empty line is seen. Bytes past the head are not touched.
 * Errors are sticky until lq_http_resp_init; after LQ_OK further calls return LQ_OK
 * without re-parsing.
 * A 1xx response parses like any other: the caller skips head_len bytes and parses the
 * real response with a fresh lq_http_resp_init.
 * Returns LQ_OK (head complete, fields set); LQ_AGAIN (need more bytes); LQ_EPROTO (not
 * HTTP/1.x, bad status line, bare LF/CR, NUL, obs-fold, bad token, control bytes in a
 * value, bad or conflicting Content-Length/Transfer-Encoding, see the top of this
 * file); LQ_ETOOBIG (head longer than LQ_HTTP_MAX_HEAD or more than
 * LQ_HTTP_MAX_HEADERS fields); LQ_EINVAL (NULL r, NULL buf with len > 0, or len
 * smaller than in an earlier call). */
lq_err_t lq_http_resp_parse(lq_http_resp_t *r, const char *buf, size_t len);

/* First header whose name equals name (ASCII case-insensitive, NUL-terminated).
 * Returns its value view, or {NULL, 0} when absent or when r or name is NULL. */
lq_http_view_t lq_http_header(const lq_http_resp_t *r, const char *name);

/* Retry-After in delay-seconds form ("Retry-After: 3").
 * Returns LQ_OK with *secs set (values over UINT32_MAX clamp to UINT32_MAX);
 * LQ_ENOTFOUND when the header is absent; LQ_EPROTO when it is not plain digits (an
 * HTTP-date, which the API server does not send); LQ_EINVAL for NULL arguments. */
lq_err_t lq_http_retry_after(const lq_http_resp_t *r, uint32_t *secs);

/* ------------------------------------------------------------------------------------ */
/* Body decoder                                                                         */
/* ------------------------------------------------------------------------------------ */

typedef enum lq_http_framing {
    LQ_HTTP_FRAMING_NONE,    /* no body: HEAD, 1xx, 204, 304 */
    LQ_HTTP_FRAMING_LENGTH,  /* Content-Length */
    LQ_HTTP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
    LQ_HTTP_FRAMING_CLOSE    /* neither: the body ends when the peer closes */
} lq_http_framing_t;

/* Body decoding state. Caller-owned; fields ending in '_' are private. */
typedef struct lq_http_body {
    lq_http_framing_t framing;
    bool done;                /* the whole body has been consumed */
    bool keep_alive;          /* the connection may carry another request once done */
    uint64_t payload_total;   /* decoded payload bytes so far */

    uint64_t remaining_;      /* LENGTH: bytes left; CHUNKED: size being read, or bytes
                                 left in the current chunk */
    uint64_t win_overhead_;   /* DoS guard window */
    uint64_t win_payload_;
    size_t line_len_;         /* bytes of the current chunk-size or trailer line(s) */
    lq_err_t err_;            /* sticky error */
    uint8_t state_;
} lq_http_body_t;

/* Prepare b for the body of the response r (parsed to LQ_OK).
 *   head_request  true when r answers a HEAD request (such responses have no body).
 * Cannot fail. The framing follows RFC 9112 section 6.3: HEAD, 1xx, 204 and 304 have no
 * body (done at once); then chunked; then Content-Length (0 is done at once); else
 * until close, in which case keep_alive is false. */
void lq_http_body_init(lq_http_body_t *b, const lq_http_resp_t *r, bool head_request);

/* Decode raw body bytes buf[0..len) in place.
 * Payload bytes are moved to the front: on return buf[0..*decoded) is payload, and
 * buf[*consumed..len) are raw bytes that were not used. Framing is consumed byte by
 * byte (a chunk-size line or CRLF split across reads is fine), and payload is handed
 * back as soon as it arrives, never waiting for a whole chunk. *decoded <= *consumed.
 * Usage with one receive buffer holding [payload not yet used | raw bytes]:
 *     err = lq_http_body_decode(&b, rx + pay, raw_len, &used, &got);
 *     leftover bytes at rx + pay + used .. rx + pay + raw_len (only when err == LQ_OK)
 *     pay += got;  then move the leftover down to rx + pay, or keep it for the next
 *     response once the payload has been handed on.
 * Returns LQ_AGAIN (all of buf consumed, body not finished; *consumed == len);
 * LQ_OK (body complete; bytes from *consumed on belong to the next response; every
 * later call returns LQ_OK with nothing consumed); LQ_EPROTO (bad hex, chunk size over
 * LQ_HTTP_MAX_BODY_LEN, missing CRLF after chunk data, bare LF or CR, control bytes in
 * an extension or trailer, obs-fold in a trailer, framing overhead out of proportion,
 * see LQ_HTTP_OVERHEAD_WINDOW); LQ_ETOOBIG (chunk-size line longer than
 * LQ_HTTP_MAX_CHUNK_LINE, trailers longer than LQ_HTTP_MAX_HEAD); LQ_ECLOSED (sticky,
 * after lq_http_body_eof reported a truncated body); LQ_EINVAL (NULL b, consumed or
 * decoded, or NULL buf with len > 0).
 * On an error, *decoded and *consumed still describe the payload decoded before the bad
 * byte; errors are sticky. */
lq_err_t lq_http_body_decode(lq_http_body_t *b, char *buf, size_t len, size_t *consumed,
                             size_t *decoded);

/* Tell the decoder that the peer closed the connection.
 * Returns LQ_OK when the body ended properly (already done, or framing until close,
 * which is now done); LQ_ECLOSED when the body was cut short (sticky); an earlier
 * sticky error as is; LQ_EINVAL for NULL b. */
lq_err_t lq_http_body_eof(lq_http_body_t *b);

#endif
