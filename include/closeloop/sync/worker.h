/* worker: what the sync's workers (outbox.c, inbox.c, poll.c) share: one running
 * connection as they see it, claim leases, jittered back-off, and JSON text for SQL.
 * Loop-only. */
#ifndef CLOSELOOP_WORKER_H
#define CLOSELOOP_WORKER_H

#include "closeloop/db/db.h"
#include "closeloop/sync/provider.h"
#include "closeloop/util/conf.h"

#include <ev.h>
#include <jansson.h>

/* One running connection: everything borrowed, owned by sync.c. */
struct worker_conn {
    struct ev_loop *loop;
    struct db_pool *pool;
    const struct provider_def *def;
    void *prov; /* the provider's connection state */
    const struct conf_conn *cfg;
};

#define WORKER_LEASE 60.0 /* seconds a claim is held at least; its holder's death frees it */

/* Long enough for a whole job (token, spacing, a few requests at `timeout` each): a
 * claim must not expire under a live, working holder. */
double worker_lease(const struct conf_conn *cfg);
/* seconds * a random factor in [0.75, 1.25]. */
double worker_jitter(double seconds);
/* Exponential back-off for the n-th attempt (1, 2, 4... seconds), capped, jittered. */
double worker_backoff(long attempts);
/* JSON text of v on the heap (compact); aborts only when out of memory. */
char *worker_dump(const json_t *v);

#endif
