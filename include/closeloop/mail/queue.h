/* queue: closeloopd's mail worker. Woken by LISTEN closeloop_mail (NOTIFY at the commit
 * of cl_mail_enqueue) and by a timer (retries that come due, other instances' leftovers),
 * it claims due rows of mail_queue under a lease (SKIP LOCKED, held by this process),
 * renders each through its kind (kinds.h), composes it (mime.h), sends it (smtp.h) and
 * records the outcome: sent; retried later with back-off on a transient failure; failed
 * at once on a permanent one (5xx, a payload that does not render). At most
 * smtp_concurrency messages are in flight. Exactly once per row, except that a crash
 * between the server's 250 and its record resends the message, with the same
 * Message-ID. Loop-only. */
#ifndef CLOSELOOP_QUEUE_H
#define CLOSELOOP_QUEUE_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"

#include <ev.h>
#include <stdbool.h>

struct mail_queue;

struct mail_queue_stats {
    bool enabled;         /* smtp_url is set */
    unsigned long sent;   /* by this process */
    unsigned long failed; /* marked failed by this process (permanent or given up) */
    unsigned long retried;
    int in_flight;
    long queued; /* rows queued or sending, all instances (refreshed every few seconds) */
};

/* Starts the worker. conf and pool are borrowed and must outlive it. With an empty
 * smtp_url nothing is sent (rows wait queued) and only the gauge runs. CL_EINVAL when
 * smtp_from or smtp_tls do not parse (conf_load already refuses those). */
int mail_queue_new(struct mail_queue **out, struct ev_loop *loop, struct db_pool *pool,
                   const struct conf *conf, struct cl_err *err);
/* Stops it: sends in flight are abandoned (their rows' leases lapse and another claim
 * sends them again, with the same Message-ID). NULL ok. */
void mail_queue_free(struct mail_queue *q);
/* Looks for work now. */
void mail_queue_kick(struct mail_queue *q);

void mail_queue_stats(const struct mail_queue *q, struct mail_queue_stats *out);
/* Appends the closeloop_mail_* families (zeros when q is NULL). */
void mail_queue_metrics(const struct mail_queue *q, struct buf *out);

#endif
