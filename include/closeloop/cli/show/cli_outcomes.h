/* cli_outcomes: the review verbs that are more than one request and a table. `review show`
 * and `review summary` print a document as the server renders it (Markdown by default,
 * HTML or JSON with --format). `review hold` sends a review's outcomes, built from flags
 * (--outcome ID=effective --due ID=DATE ...), from a JSON file (--file), or, with neither
 * and a terminal on stdin, from prompts per action with their defaults shown. Blocking. */
#ifndef CLOSELOOP_CLI_OUTCOMES_H
#define CLOSELOOP_CLI_OUTCOMES_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_args.h"
#include "closeloop/cli/cli_cmd.h"
#include "closeloop/cli/cli_http.h"

#include <jansson.h>
#include <stdio.h>

/* GET the verb's document in --format (md when absent) and print it to out as it came
 * (JSON pretty-printed). *status is the HTTP status (0: none). */
int cli_outcomes_doc(FILE *out, struct cli_http *h, long *status, const struct cli_args *a,
                     struct cl_err *err);

/* The hold's body from the flags of a (`review hold`): {"items": [{"action", "outcome",
 * ...}] in the order the ids first appear, "attended", "notes"}; NULL in *out when no
 * --outcome (nor any other per-action flag) was given. today dates relative values
 * (friday, +14d). CL_EINVAL naming the flag for a bad value. *out is a new reference. */
int cli_outcomes_flags_body(json_t **out, const struct cli_args *a, long today, struct cl_err *err);

/* The whole verb: the body from --file, the flags or the prompts (stdin a terminal), sent;
 * the answer printed (JSON with --json). */
int cli_outcomes_hold(const struct cli_cmd_io *io, struct cli_http *h, long *status,
                      const struct cli_args *a, struct cl_err *err);

#endif
