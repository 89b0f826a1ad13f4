/* libFuzzer target: request paths and query strings as they arrive, through the checks
 * and the router of every real route. Any input: no crash, and whatever is accepted
 * decodes to printable UTF-8 without NUL. */
#include "closeloop/http/path.h"
#include "closeloop/api/routes_core.h"
#include "closeloop/util/utf8.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route_all(const char *raw)
{
    int i;

    for (i = 0; i < resource_nroutes; i++) {
        char *caps[PATH_MAX_CAPTURES] = {NULL, NULL};
        int n = 0;
        bool ok = path_match(resource_routes[i].pattern, raw, caps, &n);
        int k;

        for (k = 0; k < n; k++) {
            if (ok && (caps[k] == NULL || !utf8_printable(caps[k], strlen(caps[k])) ||
                       strchr(caps[k], '/') != NULL))
                abort();
            free(caps[k]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size + 1);
    size_t len = 0;
    char *q;

    memcpy(raw, data, size);
    raw[size] = '\0';
    if (path_valid(raw))
        route_all(raw);
    q = utf8_percent_decode(raw, strlen(raw), true, &len);
    if (q != NULL && len > strlen(raw))
        abort(); /* decoding never grows */
    free(q);
    free(raw);
    return 0;
}
