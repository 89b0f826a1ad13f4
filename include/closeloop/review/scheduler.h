/* scheduler: gives each incident its review and keeps it in step with the work. A pass
 * (cl_review_pass in sql/functions/reviews.sql) takes the incidents whose actions were
 * added, moved, closed or archived since the last one, creates the reviews that are wanted
 * and moves unpinned ones the work moved past, then keeps each team's backlog review as
 * the policy says. Of several instances one passes at a time (an advisory lock), and
 * each incident is taken once (SKIP LOCKED). Passes run every `interval` seconds and soon
 * after a NOTIFY closeloop_review (the actions' trigger sends it), and again at once while
 * a pass finds a full batch.
 *
 * Loop-only. Owns its timers, its listener connection and its copy of the policy;
 * borrows the loop and the pool, which must outlive it. */
#ifndef CLOSELOOP_REVIEW_SCHEDULER_H
#define CLOSELOOP_REVIEW_SCHEDULER_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"

#include <ev.h>

struct review_scheduler;

/* Starts passing at once. `dsn` (copied) is for the LISTEN connection; `policy` is
 * review_policy_json()'s text (copied). Free with review_scheduler_free(). */
struct review_scheduler *review_scheduler_new(struct ev_loop *loop, struct db_pool *pool,
                                              const char *dsn, double interval, const char *policy);
void review_scheduler_free(struct review_scheduler *s);

/* Replaces the policy (SIGHUP); the next pass uses it. */
void review_scheduler_set_policy(struct review_scheduler *s, const char *policy);

/* Appends closeloop_reviews_created_total and closeloop_reviews_moved_total (what this
 * instance's passes did). s may be NULL (zeros). */
void review_scheduler_metrics(const struct review_scheduler *s, struct buf *out);

#endif
