/* github_map: GitHub's side of the mapping, pure: closeloop's section of an issue body
 * (the due date, the incident, the hidden marker) rendered and read back, GitHub issue
 * objects turned into neutral snapshots with every member's type checked, the create
 * and update requests an action needs, and webhook payloads parsed. No I/O; any thread. */
#ifndef CLOSELOOP_GITHUB_MAP_H
#define CLOSELOOP_GITHUB_MAP_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

#define GITHUB_MAP_LABEL "postmortem"

/* The issue body for an action (cl_sync_push_view()): its description, then
 * closeloop's section with the due date, the incident and the marker of `instance`. */
char *github_map_body(const json_t *action, const char *instance);

/* Reads a body into `into`: "description" (the text above the section) and, when the
 * section says, "due_on" (a date or null). Returns the action id in the marker of
 * `instance`, 0 when there is none. */
long github_map_parse_body(json_t *into, const char *body, const char *instance);

/* A GitHub issue object as a neutral snapshot (new reference). NULL for a pull request
 * (err untouched) and for an object whose members are not of the documented types (err
 * says which; err may be NULL). Extras: "body_raw", "marker_action". */
json_t *github_map_snapshot(const json_t *issue, const char *instance, struct cl_err *err);

/* The POST body creating the issue of `action` (new reference), NULL if the action
 * lacks a title or kind. */
json_t *github_map_create(const json_t *action, const char *instance);

/* The PATCH body making `remote` (a snapshot) match `local`: only what differs (new
 * reference; an empty object when nothing does). */
json_t *github_map_patch(const json_t *local, const json_t *remote, const char *instance);

/* Parses a delivery of `event` into *out (kind, remote, old_id, scope, updated_at,
 * actor, replaced). CL_EINVAL with the reason for a malformed payload. */
int github_map_hook(const char *event, const char *body, size_t len, struct provider_hook *out,
                    struct cl_err *err);

#endif
