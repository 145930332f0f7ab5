/* libFuzzer target for src/kubelet/req.c: the kubelet API's request parser and the foreign
 * target writer.
 *
 * Input: byte 0 = seed for a split point; the rest = bytes received from the home
 * kube-apiserver. Each parse gets an exact-size heap copy, so ASan flags any read past the
 * given length.
 * Invariants (a violation traps):
 *   - only the documented codes; parsing twice gives the same result;
 *   - LQ_OK / LQ_ENOTSUP: head_len is the first CRLF CRLF, every prefix shorter than it is
 *     LQ_AGAIN (checked at the seeded split point), the head alone parses the same (bytes
 *     after it are not read), views lie inside the head, names are valid Kubernetes names
 *     and present exactly for their routes, verb and subresources come from kubelet's
 *     sets, n_sub is 1 or 2;
 *   - LQ_EPROTO: why is set; LQ_AGAIN: no CRLF CRLF in the input;
 *   - lq_kl_foreign_target on a logs/exec/attach request: only unreserved characters,
 *     '%XX' escapes and the separators; one parameter per command plus the container and
 *     the flags (a hostile value cannot add any); capacity length is LQ_ETOOBIG and
 *     length + 1 gives the same bytes.
 *
 * Without libFuzzer define LQ_FUZZ_MAIN to get a main() that runs each file named on the
 * command line once. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/kubelet_req.h"
#include "liqolet/names.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond))                                                                      \
            __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lq_err_t parse_copy(lq_kl_req_t *r, const char *p, size_t n, char **copy)
{
    *copy = malloc(n > 0 ? n : 1);
    CHECK(*copy != NULL);
    if (n > 0)
        memcpy(*copy, p, n);
    return lq_kl_parse(r, *copy, n);
}

static void check_view(lq_http_view_t v, const char *base, size_t len)
{
    if (v.ptr == NULL)
        return;
    CHECK(v.ptr >= base && v.ptr + v.len <= base + len);
}

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

static size_t head_end(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (memcmp(p + i - 3, "\r\n\r\n", 4) == 0)
            return i + 1;
    return 0;
}

static void check_req(const lq_kl_req_t *r, const char *base)
{
    static const char *const verbs[] = {"", "get", "create", "update", "patch", "delete"};
    static const char *const subs[] = {"proxy", "stats", "metrics", "log", "checkpoint",
                                       "statusz", "configz", "pods", "healthz"};
    size_t n = r->head_len;
    check_view(r->method, base, n);
    check_view(r->host, base, n);
    check_view(r->path, base, n);
    check_view(r->query, base, n);
    check_view(r->ws_key, base, n);
    CHECK(r->n_ws_protocols <= LQ_KL_MAX_WS_PROTOCOLS);
    for (size_t i = 0; i < r->n_ws_protocols; i++)
        check_view(r->ws_protocols[i], base, n);
    CHECK(r->minor <= 1);
    CHECK(r->verb != NULL && one_of(r->verb, verbs, 6));
    CHECK(r->n_sub == 1 || r->n_sub == 2);
    for (size_t i = 0; i < r->n_sub; i++)
        CHECK(one_of(r->sub[i], subs, 9));
    bool names3 = r->route == LQ_KL_LOGS || r->route == LQ_KL_EXEC || r->route == LQ_KL_ATTACH;
    bool names2 = names3 || r->route == LQ_KL_PORTFORWARD;
    CHECK(names2 ? lq_names_dns_label(r->ns, strlen(r->ns)) : r->ns[0] == '\0');
    CHECK(names2 ? lq_names_dns_subdomain(r->pod, strlen(r->pod)) : r->pod[0] == '\0');
    CHECK(names3 ? lq_names_dns_label(r->container, strlen(r->container))
                 : r->container[0] == '\0');
    if (r->route == LQ_KL_BAD_NAME)
        CHECK(r->why != NULL);
    if (r->upgrade == LQ_KL_UPGRADE_WEBSOCKET)
        CHECK(r->ws_key.len == 24);
}

static bool unreserved(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static void check_target(const lq_kl_req_t *r)
{
    static char out[16384], again[16384];
    size_t len = 0, len2 = 0;
    lq_err_t e = lq_kl_foreign_target(r, "rns", "rpod", out, sizeof out, &len);
    if (e == LQ_ETOOBIG)
        return;
    CHECK(e == LQ_OK && len == strlen(out));
    const char *q = strchr(out, '?');
    CHECK(q != NULL);
    size_t params = 1;
    for (const char *p = q + 1; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            CHECK(((p[1] >= '0' && p[1] <= '9') || (p[1] >= 'A' && p[1] <= 'F')) &&
                  ((p[2] >= '0' && p[2] <= '9') || (p[2] >= 'A' && p[2] <= 'F')));
            p += 2;
        } else if (c == '&') {
            params++;
        } else {
            CHECK(unreserved(c) || c == '=');
        }
    }
    if (r->route == LQ_KL_EXEC || r->route == LQ_KL_ATTACH) {
        size_t flags = (size_t)r->stream.input + r->stream.output + r->stream.error +
                       r->stream.tty;
        CHECK(!(r->stream.tty && r->stream.error));
        CHECK(params == 1 + r->stream.n_command + flags);
    }
    CHECK(lq_kl_foreign_target(r, "rns", "rpod", again, len, &len2) == LQ_ETOOBIG);
    CHECK(lq_kl_foreign_target(r, "rns", "rpod", again, len + 1, &len2) == LQ_OK);
    CHECK(len2 == len && memcmp(out, again, len + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split_seed = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    lq_kl_req_t r, r2;
    char *c1, *c2;
    lq_err_t e = parse_copy(&r, in, n, &c1);
    CHECK(e == LQ_OK || e == LQ_AGAIN || e == LQ_EPROTO || e == LQ_ENOTSUP);
    lq_err_t e2 = parse_copy(&r2, in, n, &c2);
    CHECK(e2 == e && r2.head_len == r.head_len && r2.route == r.route &&
          r2.upgrade == r.upgrade);
    free(c2);

    size_t end = head_end(in, n);
    if (e == LQ_AGAIN)
        CHECK(end == 0);
    if (e == LQ_EPROTO)
        CHECK(r.why != NULL);
    if (e == LQ_OK || e == LQ_ENOTSUP) {
        CHECK(r.head_len == end && end > 0);
        check_req(&r, c1);
        /* a shorter prefix is incomplete; the head alone parses the same */
        size_t k = end > 1 ? split_seed * end / 256 : 0;
        CHECK(parse_copy(&r2, in, k, &c2) == LQ_AGAIN);
        free(c2);
        CHECK(parse_copy(&r2, in, end, &c2) == e);
        CHECK(r2.head_len == r.head_len && r2.route == r.route && r2.n_sub == r.n_sub &&
              strcmp(r2.pod, r.pod) == 0 &&
              memcmp(&r2.logs, &r.logs, sizeof r.logs) == 0 &&
              memcmp(&r2.stream, &r.stream, sizeof r.stream) == 0);
        free(c2);
        if (e == LQ_OK && (r.route == LQ_KL_LOGS || r.route == LQ_KL_EXEC ||
                           r.route == LQ_KL_ATTACH))
            check_target(&r);
    }
    if (e == LQ_EPROTO && r.head_len > 0) /* a parameter error: the head was fine */
        check_req(&r, c1);
    free(c1);
    return 0;
}

#ifdef LQ_FUZZ_MAIN
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        static uint8_t buf[1 << 20];
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("ran %d inputs\n", argc - 1);
    return 0;
}
#endif
