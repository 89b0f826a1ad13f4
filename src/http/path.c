#include "closeloop/http/path.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/utf8.h"

#include <stdlib.h>
#include <string.h>

bool path_valid(const char *raw)
{
    size_t n = 0;
    char *dec =
        raw != NULL && raw[0] == '/' ? utf8_percent_decode(raw, strlen(raw), false, &n) : NULL;
    bool ok = dec != NULL && utf8_printable(dec, n);

    free(dec);
    return ok;
}

char *path_segment_decode(const char *s, size_t n)
{
    size_t len = 0;
    char *out = n > 0 ? utf8_percent_decode(s, n, false, &len) : NULL;

    if (out == NULL || len == 0 || memchr(out, '/', len) != NULL || !utf8_printable(out, len)) {
        free(out);
        return NULL;
    }
    return out;
}

bool path_match(const char *pattern, const char *raw, char *caps[PATH_MAX_CAPTURES], int *ncaps)
{
    *ncaps = 0;
    while (*pattern != '\0' && *raw != '\0') {
        const char *pe = strchr(pattern + 1, '/');
        const char *se = strchr(raw + 1, '/');
        size_t pl = pe != NULL ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se != NULL ? (size_t)(se - raw) : strlen(raw);

        if (pl == 3 && strncmp(pattern, "/{}", 3) == 0) {
            if (sl <= 1 || *ncaps == PATH_MAX_CAPTURES)
                return false;
            caps[*ncaps] = path_segment_decode(raw + 1, sl - 1);
            if (caps[*ncaps] == NULL)
                return false;
            (*ncaps)++;
        } else if (pl != sl || strncmp(pattern, raw, pl) != 0) {
            return false;
        }
        pattern += pl;
        raw += sl;
    }
    return *pattern == '\0' && *raw == '\0';
}
