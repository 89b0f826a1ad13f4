/* cli_import: turns a file of actions into the rows of POST /api/v1/incidents/KEY/actions.
 * Two shapes, told apart by content: a Markdown checklist when some line is an item
 * ("- [ ] Add rate limit to the form @alice due:2026-12-20 P1 preventive"; other lines
 * are ignored), else CSV with a header naming columns among title, kind, owner, due,
 * priority, description (RFC 4180 quoting). Each row carries its "line" for the
 * server's messages. Pure: no I/O. */
#ifndef CLOSELOOP_CLI_IMPORT_H
#define CLOSELOOP_CLI_IMPORT_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stddef.h>

#define CLI_IMPORT_MAX_ROWS  500           /* as the server's batch limit */
#define CLI_IMPORT_MAX_BYTES (1024 * 1024) /* a file larger than this is refused */

/* Parses the len bytes at text (a file called name, for messages) into *out, a new JSON
 * array of row objects {"line", "title", "kind", "owner"?, "due_on"?, "priority"?,
 * "description"?}; a CSV cell or Markdown due of "none" is null (no due date, not even
 * the policy's). CL_EINVAL with "name:LINE: what is wrong" otherwise; *out is set only on
 * success. */
int cli_import_parse(json_t **out, const char *text, size_t len, const char *name,
                     struct cl_err *err);

#endif
