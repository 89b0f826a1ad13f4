/* utf8: strict UTF-8 checks (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) and percent-decoding of URL parts. Pure functions, any thread. */
#ifndef CLOSELOOP_UTF8_H
#define CLOSELOOP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes available), or 0
 * when the bytes there are not valid UTF-8. */
size_t utf8_seq_len(const char *s, size_t n);

/* True when the n bytes at s are valid UTF-8 without NUL or other control characters
 * (C0 and DEL; tab and newline refused too). */
bool utf8_printable(const char *s, size_t n);

/* Percent-decodes n bytes of s into a new NUL-terminated heap string; *out_len gets its
 * length. `plus` turns '+' into a space (query strings). NULL when an escape is
 * malformed; decoded NUL bytes are kept, so check the result with utf8_printable(). */
char *utf8_percent_decode(const char *s, size_t n, bool plus, size_t *out_len);

#endif
