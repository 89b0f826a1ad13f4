/* jira_map: Jira's side of the mapping, pure: Jira issues (REST v3 on Cloud with ADF
 * descriptions, REST v2 on Data Center with wiki markup) turned into neutral snapshots
 * with every member's type checked, the create, edit, assignee and transition requests an
 * action needs, webhook payloads parsed, Jira's timestamps and JQL's minute-precision
 * literals. closeloop's section (the incident, the postmortem link) is kept apart from the
 * owner's text after a rule, as on GitHub. No I/O; any thread, except jira_map_jql_time()
 * (it sets TZ for a moment: loop thread only). */
#ifndef CLOSELOOP_JIRA_MAP_H
#define CLOSELOOP_JIRA_MAP_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JIRA_MAP_LABEL       "postmortem"
#define JIRA_MAP_SUMMARY_MAX 255 /* characters: Jira's limit for a summary */
#define JIRA_MAP_FIELDS                                                                            \
    "summary,description,status,resolution,assignee,duedate,labels,project,issuetype,updated,"     \
    "created"

enum jira_flavour {
    JIRA_CLOUD, /* REST v3, ADF, accountId */
    JIRA_DC     /* Data Center REST v2, wiki markup, user names */
};

/* What the mapping needs of its connection; borrowed. */
struct jira_map_ctx {
    enum jira_flavour flavour;
    const char *site;     /* base URL of the site, for browse links */
    const char *wont_do;  /* the resolution (or status) name that means won't do */
    const char *instance; /* this installation's id: the creation marker */
};

/* The request body of a comment: {"body": ADF doc (Cloud) or wiki text (Data Center)},
 * with the person mentioned when their account is known and the marker as a last, visible
 * line ("closeloop ref MARKER"). New reference. */
json_t *jira_map_comment(const struct provider_comment *cm, const struct jira_map_ctx *c);

/* True when a comment of Jira's answer (either form) carries marker's line. */
bool jira_map_comment_has(const json_t *comment, const char *marker);

/* The label marking the issue created for action `id` by `instance`
 * ("closeloop-<8 hex>-<id>"): what JQL finds after a crash. */
void jira_map_marker(char *out, size_t n, const char *instance, long long id);

/* A Jira issue (GET, a search item, a webhook's "issue") as a neutral snapshot (new
 * reference), or NULL with err when it is not an issue of the documented types.
 * Extras: "category" (the status category key), "resolution" (name or null),
 * "marker_action" (the action in this instance's marker label, 0 when none). When the
 * description is not in the flavour's form (a webhook may carry v2 text on Cloud) the
 * snapshot has no "description" and "description_unknown": true. */
json_t *jira_map_snapshot(const json_t *issue, const struct jira_map_ctx *c, struct cl_err *err);

/* The description Jira should hold for an action (cl_sync_push_view()): its Markdown,
 * then closeloop's section; ADF (v3) or wiki markup (v2), new reference. */
json_t *jira_map_description(const json_t *action, const struct jira_map_ctx *c);

/* The POST /issue body for `action` into project `project` with issue type `type`
 * (a name), plus `extra` (the connection's default values of required fields for that
 * project; may be NULL). NULL with err (CL_EINVAL) when the action cannot become an
 * issue as it is: a summary over JIRA_MAP_SUMMARY_MAX characters says so. */
json_t *jira_map_create(const json_t *action, const char *project, const char *type,
                        const json_t *extra, const struct jira_map_ctx *c, struct cl_err *err);

/* The PUT /issue/{id} body making `remote` match `local` in summary, description, due
 * date and kind labels (new reference; {} when nothing differs); NULL with err when the
 * summary is too long. */
json_t *jira_map_edit(const json_t *local, const json_t *remote, const struct jira_map_ctx *c,
                      struct cl_err *err);

/* The PUT /issue/{id}/assignee body when local's owner differs from remote's assignee
 * and local's owner has an account on this flavour ({"accountId": x|null} or
 * {"name": x|null}); NULL when nothing is to be done. */
json_t *jira_map_assignee(const json_t *local, const json_t *remote, const struct jira_map_ctx *c);

/* Whether remote's status already says what local's says. */
bool jira_map_status_ok(const json_t *local, const json_t *remote, const struct jira_map_ctx *c);

/* The next transition toward local's status, from a GET .../transitions answer:
 * the POST body (new reference) and *final true when it reaches the target, false when it
 * is a step of a walk through an intermediate status (one not in `visited`, an array of
 * status ids, appended to). NULL with err (CL_EINVAL) when there is no way forward or the
 * target cannot be expressed (won't do without a resolution or a status for it). */
json_t *jira_map_transition(const json_t *answer, const json_t *local, json_t *visited,
                            const struct jira_map_ctx *c, bool *final, struct cl_err *err);

/* Parses a webhook body into *out (kind, remote, old_id, scope, updated_at, actor,
 * event). Issue created/updated: APPLY, or REREAD when the description is not in the
 * flavour's form; deleted: DELETED; anything else: IGNORE. CL_EINVAL with the reason
 * for a malformed payload. */
int jira_map_hook(const char *body, size_t len, const struct jira_map_ctx *c,
                  struct provider_hook *out, struct cl_err *err);

/* Jira's "2024-01-31T12:34:56.789+0000" (also "Z" and "+01:00") as epoch seconds;
 * false when it is not one. */
bool jira_map_time(double *out, const char *s);

/* The same instant as RFC 3339 UTC with milliseconds ("2024-01-31T12:34:56.789Z");
 * false when s is not a Jira time. */
bool jira_map_rfc3339(char *out, size_t n, const char *s);

/* A JQL date-time literal ("2024/01/31 07:34") for epoch `t` in time zone `zone` (IANA;
 * NULL or "" for UTC), rounded down to the minute: JQL reads literals in the querying
 * account's zone at minute precision. Loop thread only (TZ is set for the call). */
void jira_map_jql_time(char *out, size_t n, double t, const char *zone);

/* A Jira project key: ^[A-Z][A-Z0-9_]{0,254}$. */
bool jira_map_project_valid(const char *s);

/* A scope: a project key, optionally "/" and an issue type name (1..60 characters, no
 * control characters, no "/"). Splits it (out buffers may be NULL). */
bool jira_map_scope_split(const char *scope, char *project, size_t plen, char *type, size_t tlen);

/* An issue key: a project key, "-", a number 1..9999999999. */
bool jira_map_key_valid(const char *s);

#endif
