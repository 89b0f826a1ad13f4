/* cli_review: how the closeloop CLI prints a team's backlog review: when it is, then its
 * agenda, list by list (overdue, at risk, awaiting verification, unowned). Pure
 * rendering of the API's answer; borrows everything. */
#ifndef CLOSELOOP_CLI_REVIEW_H
#define CLOSELOOP_CLI_REVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* GET /api/v1/teams/NAME/backlog-review's answer. 0, or CL_EHTTP when it is not the
 * expected shape (every value is type-checked), CL_EIO when writing fails. */
int cli_review_render_backlog(FILE *out, const json_t *obj, bool color, long today);

#endif
