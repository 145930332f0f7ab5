/* libFuzzer target for src/kube/http.c.
 *
 * Input: byte 0 = flags (bit 0: the response answers a HEAD request), bytes 1..2 =
 * seeds for split points, the rest = bytes received from the server. The same bytes
 * are parsed (head) and decoded (body) three ways: all at once, in pieces whose sizes
 * come from the seeds, and one byte at a time; the results must be identical. Every
 * call gets an exact-size heap copy, so ASan flags any read past the given length.
 * Invariants (views inside the input, decoded <= consumed <= length, ...) abort.
 * The request writer and the query escaper are exercised with slices of the input.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined ... tests/fuzz/fuzz_http.c src/kube/http.c
 * Without libFuzzer (e.g. a 32-bit ARM build run under qemu) define LQ_FUZZ_MAIN to get
 * a main() that runs each file named on the command line once. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/http.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond))                                                                      \
            __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *copy_of(const char *p, size_t n)
{
    char *q = malloc(n > 0 ? n : 1);
    CHECK(q != NULL);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

/* what a run produced, views turned into offsets */
typedef struct outcome {
    lq_err_t head_err;
    int status;
    size_t head_len, n_headers, reason_off, reason_len;
    size_t hoff[LQ_HTTP_MAX_HEADERS][4];
    bool keep_alive, chunked, has_cl;
    uint64_t cl;
    lq_err_t body_err;  /* LQ_AGAIN when the input ran out */
    lq_err_t eof_err;   /* lq_http_body_eof after the input ran out */
    char *out;          /* decoded payload */
    size_t out_len;
    size_t consumed;    /* raw body bytes consumed */
    bool body_done, body_keep_alive;
} outcome_t;

static void check_view(lq_http_view_t v, const char *base, size_t len)
{
    CHECK(v.ptr != NULL);
    CHECK(v.ptr >= base && v.len <= len && (size_t)(v.ptr - base) <= len - v.len);
}

static void capture_head(outcome_t *o, const lq_http_resp_t *r, const char *base, size_t len)
{
    size_t i;
    CHECK(r->head_len >= 4 && r->head_len <= len && r->head_len <= LQ_HTTP_MAX_HEAD);
    CHECK(memcmp(base + r->head_len - 4, "\r\n\r\n", 4) == 0);
    CHECK(memcmp(base, "HTTP/1.", 7) == 0);
    CHECK(r->status >= 100 && r->status <= 999);
    CHECK(r->n_headers <= LQ_HTTP_MAX_HEADERS);
    CHECK(!(r->chunked && r->has_content_length));
    CHECK(!r->has_content_length || r->content_length <= LQ_HTTP_MAX_BODY_LEN);
    check_view(r->reason, base, r->head_len);
    o->status = r->status;
    o->head_len = r->head_len;
    o->n_headers = r->n_headers;
    o->reason_off = (size_t)(r->reason.ptr - base);
    o->reason_len = r->reason.len;
    for (i = 0; i < r->n_headers; i++) {
        const lq_http_header_t *h = &r->headers[i];
        size_t k;
        check_view(h->name, base, r->head_len);
        check_view(h->value, base, r->head_len);
        CHECK(h->name.len > 0);
        for (k = 0; k < h->name.len; k++)
            CHECK(is_tchar((unsigned char)h->name.ptr[k]));
        CHECK(h->name.ptr[h->name.len] == ':');
        for (k = 0; k < h->value.len; k++)
            CHECK(h->value.ptr[k] != '\r' && h->value.ptr[k] != '\n' &&
                  h->value.ptr[k] != 0);
        if (h->value.len > 0)
            CHECK(h->value.ptr[0] != ' ' && h->value.ptr[h->value.len - 1] != ' ');
        o->hoff[i][0] = (size_t)(h->name.ptr - base);
        o->hoff[i][1] = h->name.len;
        o->hoff[i][2] = (size_t)(h->value.ptr - base);
        o->hoff[i][3] = h->value.len;
    }
    if (r->content_type.ptr != NULL)
        check_view(r->content_type, base, r->head_len);
    o->keep_alive = r->keep_alive;
    o->chunked = r->chunked;
    o->has_cl = r->has_content_length;
    o->cl = r->content_length;
}

/* Small deterministic generator for piece sizes. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fffu;
}

/* mode 0: at once; 1: seeded pieces; 2: one byte at a time */
static void run(const char *in, size_t n, bool head_req, int mode, uint32_t seed,
                outcome_t *o)
{
    lq_http_resp_t r;
    lq_http_body_t b;
    size_t have = 0, raw_start, pos;
    char *buf = NULL;
    uint32_t s = seed;

    memset(o, 0, sizeof *o);
    o->head_err = LQ_AGAIN;
    o->body_err = LQ_AGAIN;
    o->eof_err = LQ_AGAIN;
    lq_http_resp_init(&r);

    /* head */
    while (o->head_err == LQ_AGAIN && have < n) {
        size_t step = mode == 0 ? n : mode == 2 ? 1 : 1 + next_rand(&s) % 97u;
        have = step > n - have ? n : have + step;
        free(buf);
        buf = copy_of(in, have);
        o->head_err = lq_http_resp_parse(&r, buf, have);
        CHECK(o->head_err == LQ_OK || o->head_err == LQ_AGAIN || o->head_err == LQ_EPROTO ||
              o->head_err == LQ_ETOOBIG);
    }
    if (o->head_err == LQ_AGAIN)
        CHECK(have == n && n < LQ_HTTP_MAX_HEAD + 1);
    if (o->head_err != LQ_OK) {
        free(buf);
        return;
    }
    capture_head(o, &r, buf, have);
    CHECK(lq_http_resp_parse(&r, buf, have) == LQ_OK); /* final */
    free(buf);

    /* body: the bytes after the head, in pieces */
    lq_http_body_init(&b, &r, head_req);
    o->out = malloc(n + 1);
    CHECK(o->out != NULL);
    raw_start = r.head_len;
    pos = raw_start;
    for (;;) {
        size_t step = mode == 0 ? n : mode == 2 ? 1 : next_rand(&s) % 200u;
        size_t len = step > n - pos ? n - pos : step;
        size_t used = 12345, got = 54321;
        uint64_t before = b.payload_total;
        char *piece = copy_of(in + pos, len);
        lq_err_t err = lq_http_body_decode(&b, piece, len, &used, &got);
        CHECK(got <= used && used <= len);
        CHECK(b.payload_total == before + got);
        CHECK(err == LQ_OK || err == LQ_AGAIN || err == LQ_EPROTO || err == LQ_ETOOBIG);
        if (err == LQ_AGAIN)
            CHECK(used == len && !b.done);
        if (err == LQ_OK) {
            CHECK(b.done);
            /* bytes after the body are untouched */
            CHECK(memcmp(piece + used, in + pos + used, len - used) == 0);
        }
        if (b.framing == LQ_HTTP_FRAMING_LENGTH || b.framing == LQ_HTTP_FRAMING_CLOSE)
            CHECK(got == used && memcmp(piece, in + pos, got) == 0);
        memcpy(o->out + o->out_len, piece, got);
        o->out_len += got;
        free(piece);
        pos += used;
        if (err != LQ_AGAIN) {
            o->body_err = err;
            break;
        }
        if (pos == n)
            break;
    }
    o->consumed = pos - raw_start;
    CHECK(o->out_len <= o->consumed);
    if (o->body_err == LQ_OK && b.framing == LQ_HTTP_FRAMING_CHUNKED)
        CHECK(o->consumed >= 5 && memcmp(in + pos - 4, "\r\n\r\n", 4) == 0);
    if (o->body_err == LQ_OK && b.framing == LQ_HTTP_FRAMING_LENGTH)
        CHECK(o->consumed == r.content_length);
    if (o->body_err == LQ_AGAIN) {
        CHECK(pos == n);
        o->eof_err = lq_http_body_eof(&b);
        CHECK(o->eof_err == LQ_OK || o->eof_err == LQ_ECLOSED);
        CHECK((o->eof_err == LQ_OK) == (b.framing == LQ_HTTP_FRAMING_CLOSE));
    }
    o->body_done = b.done;
    o->body_keep_alive = b.keep_alive;
}

static void same(const outcome_t *a, const outcome_t *b)
{
    CHECK(a->head_err == b->head_err);
    if (a->head_err != LQ_OK)
        return;
    CHECK(a->status == b->status && a->head_len == b->head_len);
    CHECK(a->n_headers == b->n_headers);
    CHECK(a->reason_off == b->reason_off && a->reason_len == b->reason_len);
    CHECK(memcmp(a->hoff, b->hoff, a->n_headers * sizeof a->hoff[0]) == 0);
    CHECK(a->keep_alive == b->keep_alive && a->chunked == b->chunked);
    CHECK(a->has_cl == b->has_cl && a->cl == b->cl);
    CHECK(a->body_err == b->body_err && a->eof_err == b->eof_err);
    CHECK(a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0);
    CHECK(a->consumed == b->consumed);
    CHECK(a->body_done == b->body_done && a->body_keep_alive == b->body_keep_alive);
}

/* The request writer must refuse CR/LF anywhere, and what it writes must be one head
 * whose only empty line is the last one. */
static void fuzz_request(const char *in, size_t n)
{
    char target[128], value[128], out[512];
    size_t tn = n / 2 < sizeof target - 2 ? n / 2 : sizeof target - 2;
    size_t vn = n - tn < sizeof value - 1 ? n - tn : sizeof value - 1;
    size_t out_len = 1, i;
    lq_http_field_t extra[1];
    lq_http_req_t req;
    lq_err_t err;
    bool has_ctl = false;

    target[0] = '/';
    memcpy(target + 1, in, tn);
    target[tn + 1] = '\0';
    memcpy(value, in + tn, vn);
    value[vn] = '\0';
    for (i = 0; i < strlen(value); i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            has_ctl = true;
    }

    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.target = target;
    req.host = "::1";
    req.port = 6443;
    extra[0].name = "X-Fuzz";
    extra[0].value = value;
    req.extra = extra;
    req.n_extra = 1;
    req.bearer = value[0] != '\0' ? value : NULL;
    err = lq_http_write_request(out, sizeof out, &req, &out_len);
    CHECK(err == LQ_OK || err == LQ_EINVAL || err == LQ_ETOOBIG);
    if (err != LQ_OK) {
        CHECK(out_len == 0);
        return;
    }
    CHECK(!has_ctl);
    CHECK(out_len >= 4 && memcmp(out + out_len - 4, "\r\n\r\n", 4) == 0);
    for (i = 0; i < out_len; i++) {
        if (out[i] == '\n')
            CHECK(i > 0 && out[i - 1] == '\r');
        if (out[i] == '\r')
            CHECK(i + 1 < out_len && out[i + 1] == '\n');
        if (i + 4 < out_len)
            CHECK(!(out[i] == '\r' && out[i + 1] == '\n' && out[i + 2] == '\r'));
        CHECK(out[i] != '\0');
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void fuzz_escape(const char *in, size_t n)
{
    char out[256];
    size_t m = n < 80 ? n : 80, len = 0, i, j;
    lq_err_t err = lq_http_escape_query(out, sizeof out, in, m, &len);
    CHECK(err == LQ_OK); /* 80 bytes escape to at most 240 */
    CHECK(out[len] == '\0');
    for (i = 0, j = 0; i < len; j++) {
        unsigned char c = (unsigned char)out[i];
        CHECK(j < m);
        if (c == '%') {
            int hi, lo;
            CHECK(i + 2 < len);
            hi = hexval(out[i + 1]);
            lo = hexval(out[i + 2]);
            CHECK(hi >= 0 && lo >= 0);
            CHECK((unsigned char)in[j] == (unsigned char)(hi * 16 + lo));
            i += 3;
        } else {
            CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' || c == '~');
            CHECK(in[j] == (char)c);
            i++;
        }
    }
    CHECK(j == m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome_t a, b, c;
    const char *in;
    size_t n;
    bool head_req;
    uint32_t seed;

    if (size < 3)
        return 0;
    head_req = (data[0] & 1u) != 0;
    seed = (uint32_t)data[1] | (uint32_t)data[2] << 8;
    in = (const char *)data + 3;
    n = size - 3;

    run(in, n, head_req, 0, seed, &a);
    run(in, n, head_req, 1, seed, &b);
    same(&a, &b);
    if (n <= 4096) {
        run(in, n, head_req, 2, seed, &c);
        same(&a, &c);
        free(c.out);
    }
    free(a.out);
    free(b.out);

    fuzz_request(in, n);
    fuzz_escape(in, n);
    return 0;
}

#ifdef LQ_FUZZ_MAIN
#include <stdio.h>

int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        static uint8_t buf[1 << 20];
        FILE *f = fopen(argv[i], "rb");
        size_t n;
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("ran %d inputs\n", argc - 1);
    return 0;
}
#endif
