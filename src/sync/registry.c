#include "closeloop/sync/registry.h"

#include "closeloop/sync/github.h"
#include "closeloop/sync/jira.h"

#include <string.h>

/* The one place that lists the trackers. */
static const struct provider_def *const providers[] = {
    &github_provider,
    &jira_provider,
};

static const struct conf_tracker *const trackers[] = {
    &github_conf,
    &jira_conf,
};

const struct provider_def *registry_find(const char *tracker)
{
    size_t i;

    for (i = 0; tracker != NULL && i < CL_ARRAY_LEN(providers); i++)
        if (strcmp(providers[i]->tracker, tracker) == 0)
            return providers[i];
    return NULL;
}

const struct provider_def *const *registry_all(size_t *n)
{
    *n = CL_ARRAY_LEN(providers);
    return providers;
}

const struct conf_tracker *const *registry_conf(size_t *n)
{
    *n = CL_ARRAY_LEN(trackers);
    return trackers;
}
