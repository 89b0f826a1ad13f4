/* github: the GitHub provider (struct provider_ops) for one configured connection:
 * REST calls with the required headers, token or GitHub App auth (installation token
 * refreshed five minutes before it expires), rate-limit bookkeeping (the connection
 * pauses until reset, or for retry-after), spacing of mutating requests, issue bodies
 * with a closeloop-managed section (due date, incident) and a hidden marker, webhook
 * signature checks and parsing. Loop-only. */
#ifndef CLOSELOOP_GITHUB_H
#define CLOSELOOP_GITHUB_H

#include "closeloop/util/conf.h"
#include "closeloop/util/http.h"
#include "closeloop/sync/provider.h"

#include <ev.h>

struct github;

extern const struct provider_ops github_ops;

/* cfg and http are borrowed and must outlive the provider. Fails when the App key
 * cannot be loaded. Free through github_ops.free. */
int github_new(struct github **out, struct ev_loop *loop, struct http_client *http,
               const struct conf_github *cfg, struct cl_err *err);

/* Body rendering and parsing, exposed for tests. render: description, then the managed
 * section. parse: fills "description" and, when the section says, "due_on"; returns the
 * action id in the marker for `instance` (0 when absent). */
char *github_body_render(const json_t *action, const char *instance);
long github_body_parse(json_t *into, const char *body, const char *instance);

/* Turns a GitHub issue object into a neutral snapshot (new reference). NULL for a pull
 * request (err untouched) and for an object whose members are not of the documented
 * types (err says which; err may be NULL). */
json_t *github_snapshot(const json_t *issue, const char *instance, struct cl_err *err);

/* Parses a verified delivery (github_ops.parse_hook; self is unused and may be NULL).
 * CL_EINVAL with the reason for a malformed payload; *out is then IGNORE. */
int github_parse_hook(void *self, const char *event, const char *body, size_t len,
                      struct provider_hook *out, struct cl_err *err);

#endif
