/* path: request paths, as sent (still percent-encoded): the check every path passes
 * before routing, and matching against a route pattern with captures. Pure functions,
 * any thread. */
#ifndef CLOSELOOP_PATH_H
#define CLOSELOOP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_MAX_CAPTURES 2

/* True when raw starts with '/' and decodes to UTF-8 without NUL or other control
 * characters. */
bool path_valid(const char *raw);

/* Percent-decodes one path segment (n bytes) into a new heap string; NULL when it is
 * malformed, empty, or decodes to NUL, '/', a control character or invalid UTF-8. */
char *path_segment_decode(const char *s, size_t n);

/* Matches raw against pattern ("/api/v1/actions/{}/history": each "{}" captures one
 * whole segment). On a match the captures, decoded, go to caps[0..*ncaps) (heap: the
 * caller frees them, also on no match for those set) and true is returned. */
bool path_match(const char *pattern, const char *raw, char *caps[PATH_MAX_CAPTURES], int *ncaps);

#endif
