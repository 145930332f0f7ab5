/* liqolet: ASCII helpers shared by the pure parsers (no locale, no <ctype.h>). */
#ifndef LIQOLET_ASCII_H
#define LIQOLET_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/* Value of a hexadecimal digit (either case), or -1 for any other byte. */
static inline int lq_ascii_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Lower-case of an ASCII letter; any other byte unchanged. */
static inline unsigned char lq_ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* tchar (RFC 9110 section 5.6.2): what an HTTP token (method, field name) is made of. */
static inline bool lq_ascii_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/* ASCII case-insensitive equality of the bytes p[0..n) and the NUL-terminated s. */
static inline bool lq_ascii_eq_ci(const char *p, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char a = lq_ascii_lower((unsigned char)p[i]);
        if (s[i] == '\0' || a != lq_ascii_lower((unsigned char)s[i]))
            return false;
    }
    return s[n] == '\0';
}

#endif
