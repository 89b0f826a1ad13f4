/* digester: queues the managers' digests. A pass (cl_digest_pass in
 * sql/functions/digests.sql) finds every recipient whose latest period (in their zone)
 * has started since they were first seen and has no run yet, and for each records the
 * run and queues its mail (and chat message) in one transaction, so that a crash anywhere
 * neither sends twice nor skips. Of several instances one passes at a time (an advisory
 * lock). Passes run every `interval` seconds, and again at once while a pass leaves some
 * due (a batch is at most DIGESTER_BATCH recipients).
 *
 * Loop-only. Owns its timers and its copy of the policy; borrows the loop and the pool,
 * which must outlive it. */
#ifndef CLOSELOOP_DIGESTER_H
#define CLOSELOOP_DIGESTER_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"

#include <ev.h>

struct digester;

/* Starts passing at once. `policy` is digest_policy_json()'s text (copied). Free with
 * digester_free(). */
struct digester *digester_new(struct ev_loop *loop, struct db_pool *pool, double interval,
                              const char *policy);
void digester_free(struct digester *d);

/* Replaces the policy (SIGHUP); the next pass uses it. */
void digester_set_policy(struct digester *d, const char *policy);

/* Appends closeloop_digests_queued_total (what this instance's passes queued). d may be
 * NULL (zero). */
void digester_metrics(const struct digester *d, struct buf *out);

#endif
