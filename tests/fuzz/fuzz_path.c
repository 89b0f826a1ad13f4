/* libFuzzer target: request paths and query strings as they arrive, through the checks
 * and the router of every real route. Any input: no crash, and whatever is accepted
 * decodes to printable UTF-8 without NUL. */
#include "closeloop/api/api.h"
#include "closeloop/api/routes_core.h"
#include "closeloop/api/routes_records.h"
#include "closeloop/api/routes_sync.h"
#include "closeloop/http/path.h"
#include "closeloop/util/utf8.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every route the service serves, matched against one raw path. */
static void route_one(const struct api_route *r, void *arg)
{
    const char *raw = arg;
    char *caps[PATH_MAX_CAPTURES] = {NULL, NULL};
    int n = 0;
    bool ok = path_match(r->pattern, raw, caps, &n);
    int k;

    for (k = 0; k < n; k++) {
        if (ok && (caps[k] == NULL || !utf8_printable(caps[k], strlen(caps[k])) ||
                   strchr(caps[k], '/') != NULL))
            abort();
        free(caps[k]);
    }
}

static struct api *routes(void)
{
    static struct api *a;
    struct api_deps deps = {0};

    if (a == NULL) {
        a = api_new(&deps);
        routes_core_add(a);
        routes_records_add(a);
        routes_sync_add(a);
    }
    return a;
}

static void route_all(const char *raw)
{
    if (api_routes_each(routes(), route_one, (void *)raw) == 0)
        abort();
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
