/* liqolet: syntax of Kubernetes names and IP literals (include/liqolet/names.h). Pure. */
#include <stdint.h>
#include <string.h>

#include "liqolet/ascii.h"

#include "liqolet/names.h"


static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool any_alnum(char c)
{
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool lq_names_dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool lq_names_dns_subdomain(const char *s, size_t n)
{
    size_t start = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!lq_names_dns_label(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* Kubernetes label value / qualified-name "name" part: alnum at both ends, [-_.] inside. */
bool lq_names_label_name(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !any_alnum(s[0]) || !any_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!any_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool lq_names_qualified_name(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (slash == NULL)
        return lq_names_label_name(s, n);
    size_t pl = (size_t)(slash - s);
    return lq_names_dns_subdomain(s, pl) && lq_names_label_name(slash + 1, n - pl - 1);
}

bool lq_names_ipv4_parse(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
            v = v * 10u + (unsigned)(s[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[i - digits] == '0'))
            return false;
        out[part] = (uint8_t)v;
    }
    return i == n;
}

/* RFC 4291 text form into 16 bytes (one "::", an optional dotted IPv4 tail). */
bool lq_names_ipv6_parse(const char *s, size_t n, uint8_t out[16])
{
    uint16_t head[8], tail[8];
    size_t nh = 0, nt = 0, i = 0;
    bool gap = false;
    if (n > LQ_NAMES_IP_MAX)
        return false;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        i = 2;
    }
    while (i < n) {
        uint16_t *grp = gap ? tail : head;
        size_t *ng = gap ? &nt : &nh;
        size_t start = i;
        unsigned v = 0;
        while (i < n && lq_ascii_hex((unsigned char)s[i]) >= 0 && i - start < 4) {
            v = v * 16u + (unsigned)lq_ascii_hex((unsigned char)s[i]);
            i++;
        }
        if (i < n && s[i] == '.') { /* IPv4 tail: two groups */
            uint8_t v4[4];
            if (!lq_names_ipv4_parse(s + start, n - start, v4) || *ng + 2 > 8)
                return false;
            grp[(*ng)++] = (uint16_t)(v4[0] << 8 | v4[1]);
            grp[(*ng)++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = n;
            break;
        }
        if (i == start || *ng >= 8)
            return false;
        grp[(*ng)++] = (uint16_t)v;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
        } else if (i == n) {
            return false;
        }
    }
    if (gap ? nh + nt > 7 : nh != 8)
        return false;
    memset(out, 0, 16);
    for (size_t k = 0; k < nh; k++) {
        out[2 * k] = (uint8_t)(head[k] >> 8);
        out[2 * k + 1] = (uint8_t)head[k];
    }
    for (size_t k = 0; k < nt; k++) {
        size_t at = 8 - nt + k;
        out[2 * at] = (uint8_t)(tail[k] >> 8);
        out[2 * at + 1] = (uint8_t)tail[k];
    }
    return true;
}

bool lq_names_ipv4(const char *s, size_t n)
{
    uint8_t a[4];
    return lq_names_ipv4_parse(s, n, a);
}

bool lq_names_ipv6(const char *s, size_t n)
{
    uint8_t a[16];
    return lq_names_ipv6_parse(s, n, a);
}

bool lq_names_ip_literal(const char *s, size_t n)
{
    return memchr(s, ':', n) != NULL ? lq_names_ipv6(s, n) : lq_names_ipv4(s, n);
}

bool lq_names_is_loopback(const char *s, size_t n)
{
    uint8_t a[16];
    if (memchr(s, ':', n) == NULL)
        return lq_names_ipv4_parse(s, n, a) && a[0] == 127;
    if (!lq_names_ipv6_parse(s, n, a))
        return false;
    static const uint8_t lo[16] = { [15] = 1 };
    static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
    if (memcmp(a, lo, 16) == 0)
        return true;
    return memcmp(a, mapped, 12) == 0 && a[12] == 127;
}
