/* poll: the reconciler of one connection, the safety net under webhooks. It claims a
 * scope whose poll is due (held by this process), lists what changed there since its
 * cursor through the provider, and has cl_scope_polled() merge every issue and move
 * the cursor, in one transaction. A quiet scope costs what the provider makes it cost
 * (a conditional request answered "not modified" may cost nothing). Loop-only. */
#ifndef CLOSELOOP_POLL_H
#define CLOSELOOP_POLL_H

#include "closeloop/sync/worker.h"

struct poll;

/* Starts the reconciler for conn (borrowed: it must outlive the reconciler). */
struct poll *poll_new(const struct worker_conn *conn);
void poll_free(struct poll *p);
unsigned long poll_count(const struct poll *p);           /* listings made */
unsigned long poll_count_unchanged(const struct poll *p); /* of which nothing changed */

#endif
