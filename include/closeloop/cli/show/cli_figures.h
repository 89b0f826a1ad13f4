/* cli_figures: prints the answer of GET /api/v1/figures (`closeloop report figures`) as a
 * table, CSV or Markdown — one row per team, owner or incident, or one for the whole —
 * followed by the trend as sparklines; and the pieces the dashboard reuses: the one-line
 * summary in the CLI's vocabulary and a sparkline. Nothing here fails on odd input: a
 * missing or mistyped figure shows as "-". */
#ifndef CLOSELOOP_CLI_FIGURES_H
#define CLOSELOOP_CLI_FIGURES_H

#include "closeloop/cli/show/cli_render.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The figures answer as a table (format NULL or "table"), "csv" or "markdown" ("json" is
 * the caller's). width as for cli_render_list(). 0 or CL_EIO. */
int cli_figures_print(FILE *out, const json_t *answer, const char *format, bool color,
                      size_t width);

/* "5 open (2 overdue, 1 unowned, 1 in progress, 1 blocked) · 1 done · 0 dropped" of one
 * figures object; the parts that are 0 inside the brackets are left out. Caller frees. */
char *cli_figures_summary(const json_t *fig);

/* The values of `field` of each trend entry as a sparkline of ▁▂▃▄▅▆▇█ (one per entry,
 * scaled to the largest; "-" for an empty trend). Caller frees. */
char *cli_figures_sparkline(const json_t *trend, const char *field);

/* "72%" of a rate 0..1, or "-". Caller frees. */
char *cli_figures_rate(const json_t *v);

#endif
