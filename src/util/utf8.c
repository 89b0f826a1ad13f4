#include "closeloop/util/utf8.h"

#include "closeloop/util/cl.h"

#include <ctype.h>
#include <stdlib.h>

size_t utf8_seq_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len;
    unsigned cp;
    size_t i;

    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    /* overlong forms, surrogates and code points past U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool utf8_printable(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_seq_len(s + i, n - i);

        if (k == 0 || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)))
            return false;
        i += k;
    }
    return true;
}

static int utf8_hex(int c)
{
    if (isdigit(c))
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *utf8_percent_decode(const char *s, size_t n, bool plus, size_t *out_len)
{
    char *out = cl_malloc(n + 1);
    size_t o = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        int hi;
        int lo;

        if (s[i] != '%') {
            out[o++] = plus && s[i] == '+' ? ' ' : s[i];
            continue;
        }
        hi = i + 2 < n ? utf8_hex((unsigned char)s[i + 1]) : -1;
        lo = i + 2 < n ? utf8_hex((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
