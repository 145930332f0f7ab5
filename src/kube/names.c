/* liqolet: syntax of Kubernetes names and IP literals (include/liqolet/names.h). Pure. */
#include <string.h>

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

bool lq_names_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0;
        size_t digits = 0;
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
    }
    return i == n;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 4291 text form: up to 8 groups of 1-4 hex digits, at most one "::", optionally
 * ending in a dotted IPv4 address (worth two groups). No zone id. */
bool lq_names_ipv6(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    bool dcolon = false;

    if (n < 2 || n > LQ_NAMES_IP_MAX)
        return false;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        dcolon = true;
        i = 2;
        if (i == n)
            return true; /* "::" */
    }
    while (i < n) {
        size_t start = i;
        while (i < n && is_hex(s[i]) && i - start < 5)
            i++;
        if (i < n && s[i] == '.') { /* trailing IPv4 */
            if (!lq_names_ipv4(s + start, n - start))
                return false;
            groups += 2;
            i = n;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (dcolon)
                return false;
            dcolon = true;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return false; /* trailing single ':' */
        }
    }
    return dcolon ? groups <= 7 : groups == 8;
}

bool lq_names_ip_literal(const char *s, size_t n)
{
    return memchr(s, ':', n) != NULL ? lq_names_ipv6(s, n) : lq_names_ipv4(s, n);
}

