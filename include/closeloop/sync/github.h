/* github: the GitHub provider (struct provider_def, registered in registry.c): REST
 * calls with GitHub's headers through the shared request life cycle (remote.h), token or
 * GitHub App auth (installation tokens refreshed five minutes before they expire),
 * rate-limit answers read (the connection pauses until reset, or for retry-after),
 * Link pagination and conditional listings, webhook signatures (X-Hub-Signature-256).
 * The mapping itself (bodies, snapshots, patches, payloads) is github_map.h. Loop-only. */
#ifndef CLOSELOOP_GITHUB_H
#define CLOSELOOP_GITHUB_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/conf.h"

extern const struct provider_def github_provider;
/* Its configuration keys: api_url, token (secret), app_id, app_key_file,
 * app_installation_id; `owners` is kept as the old name of the neutral `scopes`. */
extern const struct conf_tracker github_conf;

#endif
