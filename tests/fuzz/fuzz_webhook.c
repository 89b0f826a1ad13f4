/* libFuzzer target: the GitHub webhook payload parser (what a signed delivery can make
 * closeloop read). Any input: no crash, no leak, no sanitizer report, and a delivery is
 * either parsed or refused with a reason. Seeded with the octokit examples. */
#include "closeloop/sync/github_map.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const events[] = {"issues", "ping", "issue_comment"};
    size_t i;

    for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        struct cl_err err = CL_ERR_INIT;
        struct provider_hook hook;
        int rc;

        memset(&hook, 0, sizeof(hook)); /* as the inbox worker hands it over */
        rc = github_map_hook(events[i], (const char *)data, size, &hook, &err);

        if (rc != CL_OK && err.msg[0] == '\0')
            abort(); /* a refusal always says why */
        if (rc != CL_OK && hook.remote != NULL)
            abort(); /* and leaves nothing to apply */
        if (hook.remote != NULL && json_string_value(json_object_get(hook.remote, "title")) == NULL)
            abort(); /* what is applied has the types the merge expects */
        json_decref(hook.remote);
        json_decref(hook.replaced);
    }
    return 0;
}
