/* cli_sync: human output of the tracker-sync answers: the sync block of an action, the sync
 * status of every connection and repository, the summary of a GitHub import and the checks
 * of a GitHub doctor run, plus the doctor's verdict (which decides the exit code). Server
 * text is blanked of control characters; missing fields show as "-". Times are worded
 * against now, in seconds since the epoch: "in 12m", "3m ago", "never". */
#ifndef CLOSELOOP_CLI_SYNC_H
#define CLOSELOOP_CLI_SYNC_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/show/cli_table.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Appends "label:" / value rows for an action's "sync" object to t, a two-column table:
 * "<tracker>:" (owner/repo#7  url), "sync:" (linked (synced T), failed: E, broken: E, or the
 * state), then "warning:" when there is one and "pending:" when above 0. Adds nothing when
 * sync is not an object (null or absent). */
void cli_sync_add_rows(struct cli_table *t, const json_t *sync);

/* The answer of GET /sync/status as two tables: one row per connection, then one row per
 * repository of every connection; "no sync connections" when there is none. 0 or CL_EIO. */
int cli_sync_render_status(FILE *out, const json_t *status, bool color, long now);

/* "imported N issues as actions of KEY (M already linked, R requests)"; a count the answer
 * lacks shows as "?". 0 or CL_EIO. */
int cli_sync_render_import(FILE *out, const json_t *answer, const char *incident);

/* The checks of a doctor answer, one line each: "ok   name  detail" or "FAIL name  detail",
 * names aligned. 0 or CL_EIO. */
int cli_sync_render_doctor(FILE *out, const json_t *answer, bool color);

struct cli_sync_verdict {
    size_t checks; /* how many checks the answer holds */
    size_t failed; /* how many of them are not ok */
    bool ok;       /* no check failed and the answer's "ok" is not false */
};

/* Judges a doctor answer into *out. CL_EHTTP when the answer has no "checks" array; *out is
 * set only on success. */
int cli_sync_doctor_verdict(struct cli_sync_verdict *out, const json_t *answer, struct cl_err *err);

#endif
