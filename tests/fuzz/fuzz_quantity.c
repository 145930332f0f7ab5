/* libFuzzer target: Kubernetes quantities (lq_quantity_parse / lq_quantity_format in
 * src/forge/node.c, include/liqolet/forge_node.h).
 *
 * Input: byte 0 picks the scale (byte % 10: -9, -6, ..., 18, the multiples of 3 the
 * formatter takes), bytes 1-8 an int64 (little endian) for the format direction; the whole
 * input (byte 0 included) is also read as quantity text, so any text reaches the parser.
 *
 * Checked, else trap (UBSan catches any signed overflow in the 128-bit arithmetic):
 *   - parse returns LQ_OK, LQ_EPROTO or LQ_ETOOBIG at every scale -9..18, never touches
 *     *out on error, and scale -10 / 19 are LQ_EINVAL;
 *   - a second reading written here (exact 128-bit arithmetic, for texts of at most 30
 *     significant digits) gives the same code and value; it found that a binary suffix
 *     after more than 20 significant digits can round one unit low
 *     ("28806323288280632328806.651Gi" at scale 13), now a documented deviation;
 *   - coarser scales agree with finer ones: v at scale s+1 is v at scale s divided by 10,
 *     rounded away from zero (Kubernetes rounds up to the unit), and a value too big at
 *     s+1 is too big at s;
 *   - a leading '-' negates: "-" + t parses to -(t) when t has no sign (2^63, too big,
 *     is INT64_MIN negated);
 *   - parse -> format -> parse returns the same value, and the formatted text is
 *     canonical: formatting it again gives the same bytes;
 *   - format(int64 from the input) -> parse gives the int64 back at that scale, for every
 *     int64 including INT64_MIN (the parser refused "-9223372036854775808" until this
 *     target found it); the text is -?[0-9]+ then one suffix of "num kMGTPE" or
 *     e<digits>, with no leading zero, a mantissa not divisible by 1000, at most 31 bytes;
 *   - capacities: cap = len + 1 is LQ_OK, cap = len is LQ_ETOOBIG with buf "".
 *
 * Build: `make build/fuzz/fuzz_quantity` (pure: forge/node.c, json.c and cJSON). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/forge_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define SENTINEL 0x5a5a5a5a5a5a5a5all

/* Rounds v / 10 away from zero. */
static int64_t div10_away(int64_t v)
{
    int64_t q = v / 10, r = v % 10;
    return r > 0 ? q + 1 : r < 0 ? q - 1 : q;
}

/* A second reading, exact in 128 bits, for texts of at most 30 significant digits and
 * exponents up to 60: 1 when it applies (*err / *out set), 0 when it does not. */
static int ref_parse(const char *s, size_t n, int scale, lq_err_t *err, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    __int128 m = 0;
    int digits = 0, frac = 0, sig = 0;
    bool dot = false;
    for (; i < n; i++) {
        if (s[i] == '.') {
            if (dot)
                return 0;
            dot = true;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            break;
        digits++;
        if (m != 0 || s[i] != '0')
            sig++;
        if (sig > 30)
            return 0;
        m = m * 10 + (s[i] - '0');
        if (dot)
            frac++;
    }
    if (digits == 0)
        return 0;
    int e = 0, bin = 0;
    size_t r = n - i;
    const char *sf = s + i;
    if (r == 0) {
    } else if (r == 2 && sf[1] == 'i' && strchr("KMGTPE", sf[0]) && sf[0]) {
        bin = 10 * (int)(strchr("KMGTPE", sf[0]) - "KMGTPE" + 1);
    } else if (r == 1 && strchr("numkMGTPE", sf[0]) && sf[0]) {
        static const int ex[] = {-9, -6, -3, 3, 6, 9, 12, 15, 18};
        e = ex[strchr("numkMGTPE", sf[0]) - "numkMGTPE"];
    } else if (r >= 2 && (sf[0] == 'e' || sf[0] == 'E')) {
        size_t j = 1;
        bool en = false;
        if (sf[j] == '+' || sf[j] == '-')
            en = sf[j++] == '-';
        if (j >= r || r - j > 2)
            return 0;
        for (; j < r; j++) {
            if (sf[j] < '0' || sf[j] > '9')
                return 0;
            e = e * 10 + (sf[j] - '0');
        }
        if (en)
            e = -e;
    } else {
        return 0;
    }
    if (bin && m > ((__int128)1 << 126) >> bin)
        return 0;
    if (bin && sig > 20)
        return 0; /* the documented deviation (forge_node.h): may be one unit low */
    m <<= bin;
    int t = e - frac - scale;
    __int128 lim = neg ? (__int128)INT64_MAX + 1 : INT64_MAX;
    if (t >= 0) {
        for (int k = 0; k < t; k++) {
            if (m > lim) {
                *err = LQ_ETOOBIG;
                return 1;
            }
            m *= 10;
        }
    } else {
        bool rem = false;
        for (int k = 0; k < -t; k++) {
            rem |= m % 10 != 0;
            m /= 10;
        }
        m += rem;
    }
    if (m > lim) {
        *err = LQ_ETOOBIG;
        return 1;
    }
    *err = LQ_OK;
    *out = neg ? (int64_t)-m : (int64_t)m;
    return 1;
}

static void check_text(const char *t, size_t n)
{
    CHECK(n > 0 && n <= 31);
    size_t i = 0;
    if (t[0] == '-')
        i++;
    size_t d0 = i;
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++;
    CHECK(i > d0);                               /* a mantissa */
    CHECK(t[d0] != '0' || i == d0 + 1);          /* no leading zero */
    if (t[d0] == '0')
        CHECK(n == 1);                           /* zero is "0", alone */
    else {
        /* canonical: never three trailing zeros (they would move to the suffix) */
        CHECK(!(i - d0 >= 3 && memcmp(t + i - 3, "000", 3) == 0));
    }
    if (i == n)
        return;
    if (t[i] == 'e') {
        CHECK(i + 1 < n);
        for (size_t j = i + 1; j < n; j++)
            CHECK(t[j] >= '0' && t[j] <= '9');
        return;
    }
    CHECK(i + 1 == n && strchr("numkMGTPE", t[i]) != NULL);
}

static void round_trip(int64_t v, int scale)
{
    char buf[48], again[48];
    size_t len = 0, len2 = 0;
    CHECK(lq_quantity_format(v, scale, buf, sizeof buf, &len) == LQ_OK);
    CHECK(len == strlen(buf));
    check_text(buf, len);
    int64_t back = SENTINEL;
    CHECK(lq_quantity_parse(buf, len, scale, &back) == LQ_OK);
    CHECK(back == v);
    CHECK(lq_quantity_format(back, scale, again, sizeof again, &len2) == LQ_OK);
    CHECK(len2 == len && memcmp(again, buf, len) == 0);
    /* capacities */
    char tight[48];
    memset(tight, 'x', sizeof tight);
    CHECK(lq_quantity_format(v, scale, tight, len + 1, NULL) == LQ_OK);
    CHECK(memcmp(tight, buf, len + 1) == 0);
    memset(tight, 'x', sizeof tight);
    CHECK(lq_quantity_format(v, scale, tight, len, NULL) == LQ_ETOOBIG);
    CHECK(tight[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data;

    /* Parse at every scale; coarser scales agree with finer ones. */
    int64_t v[28];
    lq_err_t e[28];
    for (int sc = -9; sc <= 18; sc++) {
        int64_t out = SENTINEL;
        lq_err_t err = lq_quantity_parse(s, size, sc, &out);
        CHECK(err == LQ_OK || err == LQ_EPROTO || err == LQ_ETOOBIG);
        if (err != LQ_OK)
            CHECK(out == SENTINEL);
        v[sc + 9] = out;
        e[sc + 9] = err;
        lq_err_t re;
        int64_t rv;
        if (ref_parse(s, size, sc, &re, &rv)) {
            if (getenv("Q_DEBUG") && (re != err || (err == LQ_OK && rv != out)))
                fprintf(stderr, "scale %d: ref %d %lld, parser %d %lld\n", sc, re, (long long)rv, err, (long long)out);
            CHECK(re == err);
            if (err == LQ_OK)
                CHECK(rv == out);
        }
        if (sc > -9) {
            lq_err_t pe = e[sc + 8];
            /* the syntax does not depend on the scale */
            CHECK((err == LQ_EPROTO) == (pe == LQ_EPROTO));
            if (err == LQ_ETOOBIG)
                CHECK(pe == LQ_ETOOBIG);
            if (err == LQ_OK && pe == LQ_OK)
                CHECK(out == div10_away(v[sc + 8]));
        }
    }
    int64_t dummy = SENTINEL;
    CHECK(lq_quantity_parse(s, size, -10, &dummy) == LQ_EINVAL && dummy == SENTINEL);
    CHECK(lq_quantity_parse(s, size, 19, &dummy) == LQ_EINVAL && dummy == SENTINEL);

    /* parse -> format -> parse at the scales the formatter takes */
    for (int sc = -9; sc <= 18; sc += 3)
        if (e[sc + 9] == LQ_OK)
            round_trip(v[sc + 9], sc);

    /* A leading '-' negates an unsigned text. */
    if (size < 4096 && s[0] != '-' && s[0] != '+') {
        static char neg[4097];
        neg[0] = '-';
        memcpy(neg + 1, s, size);
        for (int sc = -9; sc <= 18; sc += 9) {
            int64_t n = SENTINEL;
            lq_err_t err = lq_quantity_parse(neg, size + 1, sc, &n);
            if (err == LQ_OK && n == INT64_MIN)
                CHECK(e[sc + 9] == LQ_ETOOBIG); /* 2^63: only the negative fits */
            else
                CHECK(err == e[sc + 9]);
            if (err == LQ_OK && e[sc + 9] == LQ_OK)
                CHECK(n == -v[sc + 9]);
        }
    }

    /* format(any int64) -> parse */
    int scale = -9 + 3 * (int)(data[0] % 10u);
    uint64_t raw = 0;
    for (size_t i = 0; i < 8; i++)
        raw |= (uint64_t)(i + 1 < size ? data[i + 1] : 0) << (8 * i);
    round_trip((int64_t)raw, scale);
    return 0;
}
