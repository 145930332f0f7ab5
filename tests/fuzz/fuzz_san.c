/* libFuzzer target: the server-name check of TLS sessions (src/kube/tls.c through
 * lq_tls_name_check: tls.c's own iPAddress SAN match and SAN list text, mbedTLS's DNS /
 * wildcard / URI / CN matching as the handshake asks it), on certificates built here.
 *
 * Input: byte 0 flags (bit 0: no subjectAltName extension, bit 1: a subject CN); then the
 * server name and the CN, each ended by a NUL byte; then SAN entries of [type][len][bytes]:
 * type % 4 is dNSName, iPAddress, uniformResourceIdentifier or rfc822Name; an iPAddress
 * has 4 or 16 bytes (len bit 0) unless len bit 7 is set (then len % 32, a malformed
 * address). At most 24 entries.
 * The harness writes a DER certificate (v3, fixed P-256 key, an issuer that is not the
 * subject, a dummy signature: nothing here is about the chain) and calls
 * lq_tls_name_check with the server name.
 *
 * Checked, else trap:
 *   - a certificate of plain entries (DNS names of [A-Za-z0-9.*-], 4/16-byte addresses)
 *     parses (LQ_OK); anything else is LQ_OK or LQ_ECONFIG;
 *   - an IP literal (glibc inet_pton, which mbedTLS uses on this host) matches exactly
 *     when one iPAddress SAN holds its bytes;
 *   - a DNS name equal (ASCII case-insensitive) to a dNSName SAN matches; a name that
 *     matches is justified: by such a SAN, a "*.<rest>" SAN whose rest equals the name
 *     after its first non-empty label, a URI SAN equal byte for byte (mbedTLS 3.6 accepts
 *     that), or, with no SAN extension only, the CN by the same rules;
 *   - the SAN text is the list written here (DNS names up to their first NUL and 63 bytes,
 *     ", " after anything written,
 *     IPv4 dotted, IPv6 as inet_ntop writes it, re-read by inet_pton to the same bytes),
 *     or, when longer than the buffer, its first cap - 6 bytes and ", ...";
 *   - mbedTLS's arena use is the same before and after (nothing leaks per check);
 *   - no out-of-bounds access in tls.c (ASan; mbedTLS itself is not instrumented).
 *
 * Build: `make build/fuzz/fuzz_san` (tls.c, log.c, the fake port, the host sysroot's
 * mbedTLS libraries, built without sanitizers). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_SANS 24
#define SANS_CAP 160 /* the session's buffer */

static const unsigned char SPKI[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xfc, 0x11, 0x1a,
    0xa6, 0x3e, 0xef, 0x2b, 0x5c, 0xbc, 0xe8, 0xc2, 0xda, 0x4d, 0xb0, 0x1e, 0x8e, 0x19, 0x9f,
    0xbd, 0xcb, 0x54, 0x2b, 0x08, 0x9b, 0x10, 0xb9, 0x5c, 0x61, 0xb1, 0x21, 0x4b, 0x81, 0x98,
    0xf5, 0xc7, 0x2b, 0xdb, 0x19, 0xf7, 0x62, 0x65, 0x27, 0xaf, 0x1f, 0x38, 0x45, 0x24, 0x1f,
    0x46, 0x10, 0x7c, 0x16, 0x6f, 0x70, 0x4a, 0x28, 0xaf, 0xc6, 0x41, 0xef, 0x14, 0xb4, 0xa8,
    0xbc};
static const unsigned char SIG_ALG[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x04, 0x03, 0x02};

/* ---- a tiny DER writer -------------------------------------------------------------- */

typedef struct buf {
    unsigned char b[16384];
    size_t n;
} buf_t;

static void put(buf_t *o, const void *p, size_t n)
{
    CHECK(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void tlv(buf_t *o, unsigned tag, const void *p, size_t n)
{
    unsigned char h[6];
    size_t hn = 0;
    h[hn++] = (unsigned char)tag;
    if (n < 128) {
        h[hn++] = (unsigned char)n;
    } else if (n < 256) {
        h[hn++] = 0x81;
        h[hn++] = (unsigned char)n;
    } else {
        h[hn++] = 0x82;
        h[hn++] = (unsigned char)(n >> 8);
        h[hn++] = (unsigned char)n;
    }
    put(o, h, hn);
    put(o, p, n);
}

static void name_cn(buf_t *o, const char *cn, size_t n)
{
    buf_t a = {.n = 0}, s = {.n = 0}, q = {.n = 0};
    static const unsigned char oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    put(&a, oid_cn, sizeof oid_cn);
    tlv(&a, 0x0c, cn, n);          /* UTF8String */
    tlv(&s, 0x30, a.b, a.n);       /* AttributeTypeAndValue */
    tlv(&q, 0x31, s.b, s.n);       /* RDN */
    tlv(o, 0x30, q.b, q.n);        /* Name */
}

typedef struct san {
    unsigned kind; /* 0 dns, 1 ip, 2 uri, 3 rfc822 */
    const unsigned char *p;
    size_t n;
} san_t;

static const unsigned SAN_TAG[4] = {0x82, 0x87, 0x86, 0x81};

static void cert_der(buf_t *out, bool ext, const char *cn, size_t cnl, const san_t *s, size_t ns)
{
    static buf_t tbs, gn, tmp, tmp2;
    tbs.n = gn.n = tmp.n = tmp2.n = 0;
    static const unsigned char ver[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
    static const unsigned char serial[] = {0x02, 0x01, 0x01};
    put(&tbs, ver, sizeof ver);
    put(&tbs, serial, sizeof serial);
    put(&tbs, SIG_ALG, sizeof SIG_ALG);
    name_cn(&tbs, "fuzz-ca", 7);
    static const unsigned char validity[] = {
        0x30, 0x1e, 0x17, 0x0d, '2', '5', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z',
        0x17, 0x0d, '3', '5', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'};
    put(&tbs, validity, sizeof validity);
    if (cn)
        name_cn(&tbs, cn, cnl);
    else
        tlv(&tbs, 0x30, "", 0);
    put(&tbs, SPKI, sizeof SPKI);
    if (ext) {
        for (size_t i = 0; i < ns; i++)
            tlv(&gn, SAN_TAG[s[i].kind], s[i].p, s[i].n);
        /* Extension { extnID subjectAltName, extnValue OCTET STRING { GeneralNames } } */
        static const unsigned char oid_san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
        buf_t *names = &tmp;
        tlv(names, 0x30, gn.b, gn.n);
        buf_t *e = &tmp2;
        put(e, oid_san, sizeof oid_san);
        tlv(e, 0x04, names->b, names->n);
        gn.n = 0;
        tlv(&gn, 0x30, e->b, e->n);     /* Extension */
        tmp.n = 0;
        tlv(&tmp, 0x30, gn.b, gn.n);    /* Extensions */
        tlv(&tbs, 0xa3, tmp.b, tmp.n);  /* [3] */
    }
    buf_t *all = &tmp2;
    all->n = 0;
    tlv(all, 0x30, tbs.b, tbs.n);
    put(all, SIG_ALG, sizeof SIG_ALG);
    static const unsigned char sig[] = {0x00, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    tlv(all, 0x03, sig, sizeof sig);
    out->n = 0;
    tlv(out, 0x30, all->b, all->n);
}

/* ---- reference rules ---------------------------------------------------------------- */

static bool ci_eq(const unsigned char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* exact, or "*.<rest>" against "<label>.<rest>" */
static bool dns_ok(const unsigned char *p, size_t n, const char *name, size_t nl)
{
    if (n == nl && ci_eq(p, name, n))
        return true;
    if (n < 3 || p[0] != '*' || p[1] != '.')
        return false;
    const char *dot = memchr(name, '.', nl);
    if (!dot || dot == name)
        return false;
    size_t rest = nl - (size_t)(dot - name);
    return rest == n - 1 && ci_eq(p + 1, dot, rest);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(lq_tls_init() == LQ_OK);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool ext = !(data[0] & 1), has_cn = data[0] & 2;
    size_t i = 1;
    char name[256], cn[256];
    size_t nl = 0, cnl = 0;
    while (i < size && data[i] != 0 && nl < sizeof name - 1)
        name[nl++] = (char)data[i++];
    name[nl] = '\0';
    i++;
    while (i < size && data[i] != 0 && cnl < sizeof cn - 1)
        cn[cnl++] = (char)data[i++];
    cn[cnl] = '\0';
    i++;
    san_t sans[MAX_SANS];
    size_t ns = 0;
    bool plain = true;
    while (i + 2 <= size && ns < MAX_SANS) {
        unsigned kind = data[i] % 4u, lb = data[i + 1];
        size_t n = kind == 1 ? ((lb & 0x80) ? lb % 32u : (lb & 1) ? 16u : 4u) : lb;
        i += 2;
        if (i + n > size)
            n = size - i;
        sans[ns] = (san_t){kind, data + i, n};
        if (kind == 1 && n != 4 && n != 16)
            plain = false;
        if (kind == 0) {
            plain &= n > 0;
            for (size_t k = 0; k < n; k++) {
                unsigned char c = data[i + k];
                plain &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '*' || c == '-';
            }
        }
        if (kind >= 2)
            plain = false;
        ns++;
        i += n;
    }
    if (!ext)
        ns = 0;
    for (size_t k = 0; k < cnl; k++)
        plain &= cn[k] >= 'a' && cn[k] <= 'z';

    static buf_t der;
    cert_der(&der, ext, has_cn ? cn : NULL, cnl, sans, ns);

    lq_tls_stats_t before, after;
    lq_tls_stats(&before);
    bool match = true;
    char text[SANS_CAP];
    lq_err_t err = lq_tls_name_check(der.b, der.n, name, &match, text, sizeof text);
    lq_tls_stats(&after);
    CHECK(before.arena_used == after.arena_used);
    CHECK(err == LQ_OK || err == LQ_ECONFIG);
    if (plain)
        CHECK(err == LQ_OK);
    if (err != LQ_OK) {
        CHECK(!match);
        return 0;
    }

    /* the match */
    unsigned char ipb[16];
    size_t iplen = 0;
    if (strchr(name, ':') == NULL) {
        if (inet_pton(AF_INET, name, ipb) == 1)
            iplen = 4;
    } else if (inet_pton(AF_INET6, name, ipb) == 1) {
        iplen = 16;
    }
    if (iplen) {
        bool want = false;
        for (size_t k = 0; k < ns; k++)
            want |= sans[k].kind == 1 && sans[k].n == iplen && memcmp(sans[k].p, ipb, iplen) == 0;
        CHECK(match == want);
    } else {
        bool exact = false, justified = false;
        for (size_t k = 0; k < ns; k++) {
            if (sans[k].kind == 0) {
                exact |= sans[k].n == nl && ci_eq(sans[k].p, name, nl);
                justified |= dns_ok(sans[k].p, sans[k].n, name, nl);
            } else if (sans[k].kind == 2) {
                justified |= sans[k].n == nl && memcmp(sans[k].p, name, nl) == 0;
            }
        }
        if (!ext && has_cn)
            justified |= dns_ok((const unsigned char *)cn, cnl, name, nl);
        if (exact && nl > 0)
            CHECK(match);
        if (match)
            CHECK(justified);
    }

    if (getenv("SAN_DEBUG"))
        fprintf(stderr, "match=%d text=[%s]\n", match, text);
    /* the SAN text, walked item by item: verbatim items, IPv6 re-read */
    size_t tl = strlen(text);
    CHECK(tl < sizeof text);
    bool cut = tl == sizeof text - 1 && memcmp(text + tl - 5, ", ...", 5) == 0;
    size_t lim = cut ? sizeof text - 6 : tl, at = 0;
    for (size_t k = 0; k < ns && at < lim; k++) {
        char item[64];
        if (sans[k].n == 0 || sans[k].kind >= 2)
            continue;
        if (at > 0) { /* tls.c separates from what it wrote (an item may be "") */
            for (size_t c = 0; c < 2 && at < lim; c++, at++)
                CHECK(text[at] == ", "[c]);
        }
        if (sans[k].kind == 1 && sans[k].n == 16) {
            char tok[64];
            size_t tn = 0;
            while (at < lim && text[at] != ',' && tn < sizeof tok - 1)
                tok[tn++] = text[at++];
            tok[tn] = '\0';
            if (at == lim && cut)
                break; /* cut inside the address */
            unsigned char back[16];
            CHECK(inet_pton(AF_INET6, tok, back) == 1 && memcmp(back, sans[k].p, 16) == 0);
            CHECK(strchr(tok, '.') == NULL); /* hex groups only */
            CHECK(inet_ntop(AF_INET6, sans[k].p, item, sizeof item));
            if (strchr(item, '.') == NULL)
                CHECK(strcmp(tok, item) == 0); /* RFC 5952, as glibc writes it */
            continue;
        }
        if (sans[k].kind == 0) {
            size_t n = strnlen((const char *)sans[k].p, sans[k].n);
            if (n > 63)
                n = 63;
            memcpy(item, sans[k].p, n);
            item[n] = '\0';
        } else if (sans[k].n == 4) {
            CHECK(inet_ntop(AF_INET, sans[k].p, item, sizeof item));
        } else {
            snprintf(item, sizeof item, "<%zu-byte address>", sans[k].n);
        }
        for (size_t c = 0; item[c] && at < lim; c++, at++)
            CHECK(text[at] == item[c]);
    }
    CHECK(at == lim);
    return 0;
}
