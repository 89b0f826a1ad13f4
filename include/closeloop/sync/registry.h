/* registry: the trackers closeloop can sync with, one entry per provider, like curl's
 * table of TLS backends. The sync core finds providers here by name and never names
 * one itself; adding a tracker adds a line here. Pure data, any thread. */
#ifndef CLOSELOOP_REGISTRY_H
#define CLOSELOOP_REGISTRY_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/conf.h"

#include <stddef.h>

/* The provider of `tracker` ("github"), or NULL. */
const struct provider_def *registry_find(const char *tracker);
/* Every provider; *n gets how many. */
const struct provider_def *const *registry_all(size_t *n);
/* Every tracker's configuration keys, for conf_new_defaults(); *n gets how many. */
const struct conf_tracker *const *registry_conf(size_t *n);

#endif
