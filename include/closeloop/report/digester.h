/* digester: queues the managers' digests; several instances share the work. Every
 * `interval` seconds a pass plans, in its own short transaction (cl_digest_plan in
 * sql/functions/digests.sql): each recipient whose latest period (in their zone) has started
 * since they were first seen and has no digest_runs row yet gets a 'pending' one. It then
 * claims (cl_digest_claim) up to DIGESTER_BATCH pending rows FOR UPDATE SKIP LOCKED and, in
 * that transaction, computes each digest, queues its mail (and chat message) and marks the
 * row sent: rows held by another instance are skipped, a worker that dies before its commit
 * leaves its rows pending for the next claim (its database session checks every second
 * that closeloopd is still there, db_pool_new), and a committed row is never rendered
 * again. A claim that leaves some pending claims again at once.
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
