/* outbox: the push worker of one connection. It claims the pending outbox rows of one
 * action at a time (with a lease, SKIP LOCKED, held by this process), brings the
 * remote issue in step through the provider (create it, or find the one an
 * interrupted create made; otherwise fetch it, merge it in PostgreSQL and update what
 * differs), records the outcome, and backs off with jitter on failures. A comment row
 * (a reminder) is posted once the issue is in step, looked for by its marker first when
 * an earlier attempt may have posted it; refused for good, it fails with its fallback
 * mail queued (cl_outbox_comment_fail). Woken by
 * outbox_kick() (NOTIFY at commit) and by its own timer. Loop-only. */
#ifndef CLOSELOOP_OUTBOX_H
#define CLOSELOOP_OUTBOX_H

#include "closeloop/sync/provider.h"
#include "closeloop/sync/worker.h"

struct outbox;

/* Starts the worker for conn (borrowed: it must outlive the worker). */
struct outbox *outbox_new(const struct worker_conn *conn);
/* Stops it; a job in flight is dropped (its claim is freed with this process). NULL ok. */
void outbox_free(struct outbox *o);
/* Looks for work now (or right after the job in hand). */
void outbox_kick(struct outbox *o);
/* Jobs finished so far by outcome (PROVIDER_OK..PROVIDER_AUTH). */
unsigned long outbox_count(const struct outbox *o, enum provider_outcome outcome);

#endif
