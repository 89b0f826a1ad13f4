/* inbox: applies stored webhook deliveries. It claims a batch (oldest first, held by
 * this process), has the connection's provider parse each again, and applies it with
 * cl_inbox_apply(), which marks it processed in the same transaction. A delivery that
 * cannot be parsed becomes a dead letter at once; one whose apply fails in SQL is tried
 * again, five times at most; a lost database connection costs no try: the batch stops
 * and is claimed again when PostgreSQL is back. Loop-only. */
#ifndef CLOSELOOP_INBOX_H
#define CLOSELOOP_INBOX_H

#include "closeloop/db/db.h"
#include "closeloop/sync/worker.h"

#include <ev.h>

struct inbox;

/* The running connection `name` of `tracker`, or NULL (no longer configured). */
typedef const struct worker_conn *(*inbox_find_fn)(void *arg, const char *tracker,
                                                   const char *name);

struct inbox *inbox_new(struct ev_loop *loop, struct db_pool *pool, inbox_find_fn find, void *arg);
void inbox_free(struct inbox *ib);
/* Looks for deliveries now (after one committed). */
void inbox_kick(struct inbox *ib);
unsigned long inbox_applied(const struct inbox *ib);
unsigned long inbox_unreadable(const struct inbox *ib);

#endif
