/* liqolet: ASCII helpers shared by the pure parsers (no locale, no <ctype.h>). */
#ifndef LIQOLET_ASCII_H
#define LIQOLET_ASCII_H

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

#endif
