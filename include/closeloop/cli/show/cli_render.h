/* cli_render: human output of the server's JSON (tables of lists, label/value views of one
 * object) and --json output (the JSON pretty-printed as it came). Statuses are coloured
 * (in_progress cyan, blocked yellow, done green, wont_do dim) and due dates worded against
 * today ("3d overdue" in red, "due today", "due in 2d", "-"), when color is true. Missing or
 * unexpected fields show as "-" or as compact JSON; nothing here fails on odd input. */
#ifndef CLOSELOOP_CLI_RENDER_H
#define CLOSELOOP_CLI_RENDER_H

#include "closeloop/cli/show/cli_table.h"
#include "closeloop/cli/cli_verbs.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* A table of items (a JSON array of objects of kind res), with a header row; "no <res>"
 * when it is empty. today is days since 1970-01-01 (cli_date_today()), now seconds since
 * the epoch: times show in the local zone (TZ), with how long ago (cli_date_when()). A kind without
 * a table of its own (CLI_RES_SYNC, _IMPORT, _DOCTOR: see cli_sync) prints as JSON. 0 or CL_EIO.
 * width > 0 fits the table to that many columns (cli_table_print()). */
int cli_render_list(FILE *out, enum cli_res res, const json_t *items, bool color, long today,
                    long now, size_t width);

enum cli_render_format { CLI_RENDER_CSV, CLI_RENDER_MARKDOWN };

/* The same table as cli_render_list() with every value in full (times as the server's
 * RFC 3339), as CSV (RFC 4180: a header
 * row, fields quoted when they hold a comma, quote or line break) or as a Markdown table
 * (| escaped). No colour. 0 or CL_EIO. */
int cli_render_list_as(FILE *out, enum cli_res res, const json_t *items, long today,
                       enum cli_render_format format);

/* One field of a CSV row (RFC 4180: quoted when it holds a comma, quote or line break). */
void cli_render_csv_field(FILE *out, const char *s);
/* One cell of a Markdown table: | escaped, line breaks as spaces. */
void cli_render_md_field(FILE *out, const char *s);

/* One object as "label:  value" lines; an action with a non-null "sync" object gets its
 * tracker rows (cli_sync_add_rows()) and its description follows after a blank line. A kind
 * without a view prints as JSON. 0 or CL_EIO. width as for cli_render_list(). */
int cli_render_object(FILE *out, enum cli_res res, const json_t *obj, bool color, long today,
                      long now, size_t width);

/* What an action's history (events, its "items": oldest first) adds to `action show`:
 * since when a blocked or dropped action is so, and why ("blocked since 2026-05-01 10:02 CET
 * (2d ago): waiting for vendor"); the reason of its last due date move; then its latest
 * max_notes notes, oldest first, each with its time and author. Times as views show them
 * (cli_date_when(), against now). Nothing when the history holds none of these. 0 or
 * CL_EIO. */
int cli_render_action_story(FILE *out, const json_t *action, const json_t *events, long now,
                            size_t max_notes);

/* v pretty-printed (2-space indent) and a newline. 0 or CL_EIO. */
int cli_render_json(FILE *out, const json_t *v);

/* The colour of an action status ("open", "in_progress", ...); CLI_COLOR_NONE if unknown. */
enum cli_color cli_render_status_color(const char *status);

#endif
