/* figures: keeps the figures snapshot fresh and serves its per-team gauges to /metrics.
 *
 * Every `interval` seconds it asks PostgreSQL to recompute the snapshot of sql/functions/
 * figures.sql (cl_figures_refresh(): of several instances one computes, the others skip
 * while it is fresh), then reads the open, overdue and unowned counts per team it holds.
 * /metrics prints those from memory: a scrape costs no query and no scan. The refresh is
 * one background statement on the pool, allowed longer than a request (SET LOCAL
 * statement_timeout): at 1,000,000 actions it takes seconds.
 *
 * Loop-only. Owns its timer, its queries and the gauges text; borrows the loop and the
 * pool, which must outlive it. */
#ifndef CLOSELOOP_REPORT_FIGURES_H
#define CLOSELOOP_REPORT_FIGURES_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"

#include <ev.h>

struct figures;

/* Starts the refresh: at once, then every `interval` seconds, over a window of `days`
 * days of closed work. Free with figures_free(). */
struct figures *figures_new(struct ev_loop *loop, struct db_pool *pool, double interval, long days);
void figures_free(struct figures *f);

/* Appends the gauges: closeloop_actions_{open,overdue,unowned}{team="..."} ("" for work
 * of no team) and closeloop_figures_age_seconds; the families always, their samples once
 * the snapshot was read. f may be NULL (the families and the age, -1). */
void figures_metrics(const struct figures *f, struct buf *out);

#endif
