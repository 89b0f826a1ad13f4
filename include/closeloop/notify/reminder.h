/* reminder: the background pass that reminds owners (and facilitators) of their actions.
 * Every `interval` seconds it runs cl_reminder_pass (sql/functions/reminders.sql): of
 * several instances one passes at a time (an advisory lock); each person due a reminder,
 * out of quiet hours, on a working day in their zone and under the week's budget, gets one
 * message listing all their due items (mail kind "reminder"), and each item an event,
 * in the pass's transaction. A full batch of people passes again at once.
 *
 * Loop-only. Owns its timers and its copy of the policy; borrows the loop and the pool,
 * which must outlive it. */
#ifndef CLOSELOOP_REMINDER_H
#define CLOSELOOP_REMINDER_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"

#include <ev.h>

struct reminder;

/* Starts passing at once. `policy` is remind_policy_json()'s text (copied). Free with
 * reminder_free(). */
struct reminder *reminder_new(struct ev_loop *loop, struct db_pool *pool, double interval,
                              const char *policy);
void reminder_free(struct reminder *r);

/* Replaces the policy (SIGHUP); the next pass uses it. */
void reminder_set_policy(struct reminder *r, const char *policy);

/* Appends closeloop_reminders_sent_total and closeloop_reminder_items_total (what this
 * instance's passes queued). r may be NULL (zeros). */
void reminder_metrics(const struct reminder *r, struct buf *out);

#endif
