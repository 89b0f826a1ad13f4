/* cli_dashboard: `closeloop dashboard`, one screen of what to chase, drawn from several
 * GETs: the figures of the scope (counts in the CLI's vocabulary and the weekly closure
 * trend as a sparkline), the worst overdue and the unowned actions (the reports' first
 * rows), progress per incident, a table per team (or, within a team or an incident, per
 * owner) with closure rate and median lateness, and the sync problems (the drift report).
 * Fits `width` columns (80 when not on a terminal); --json prints every answer in one
 * document instead. The requests go through `get` (the caller's HTTP). */
#ifndef CLOSELOOP_CLI_DASHBOARD_H
#define CLOSELOOP_CLI_DASHBOARD_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* GET path (with its query) into *out (a new reference). 0 or an error in err. */
typedef int (*cli_dashboard_get_fn)(json_t **out, const char *path, struct cl_err *err, void *arg);

struct cli_dashboard {
    const char *team;     /* --team, or NULL */
    const char *incident; /* --incident, or NULL */
    bool json;            /* --json */
    bool color;
    size_t width; /* 0: 80 */
    long today;   /* days since the epoch */
    cli_dashboard_get_fn get;
    void *arg;
};

/* Fetches everything first, then prints the screen to out (nothing is printed when a
 * request fails). 0 or the failing request's error. */
int cli_dashboard_draw(FILE *out, const struct cli_dashboard *d, struct cl_err *err);

#endif
