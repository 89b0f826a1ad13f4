/* jira: the Jira provider: Jira Cloud (REST v3, ADF, e-mail + API token over Basic) and
 * Jira Data Center (REST v2, wiki markup, a personal access token as Bearer) on the
 * shared request life cycle of remote.h. Status changes go through transitions, found by
 * walking the workflow (bounded); reconciliation is a JQL search on `updated`, written in
 * the account's time zone at minute precision with an overlap; creation carries a marker
 * label that JQL finds after a crash. The mapping itself is jira_map.h. Loop-only. */
#ifndef CLOSELOOP_JIRA_H
#define CLOSELOOP_JIRA_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/conf.h"

/* The keys of a Jira connection, on top of the neutral ones: [jira] jira_*, [jira.NAME]. */
extern const struct conf_tracker jira_conf;

/* The registry's entry. */
extern const struct provider_def jira_provider;

#endif
