/* chat_queue: closeloopd's chat worker. Woken by LISTEN closeloop_chat (NOTIFY at the
 * commit of cl_chat_enqueue) and by a timer, it claims due rows of chat_queue under a
 * lease (SKIP LOCKED, held by this process), renders each through its kind
 * (chat_kinds.h) for its channel's format, posts it to the channel's webhook through
 * the libcurl client (http.h) and records the outcome: 2xx sent (but a legacy Teams
 * connector's 200 that says Teams refused the message counts as the status it names,
 * chat_queue_status()); 429 queued again after its Retry-After (capped by
 * chat_retry_after_max); 5xx, 408 and transport failures or timeouts queued again with
 * back-off and jitter until chat_max_attempts; any other answer (400, 403, 404, 410,
 * 413, 3xx...), an unknown channel or a payload that does not render failed at once,
 * with the status and a bounded, sanitized excerpt of the reply. At most
 * chat_concurrency posts are in flight. Webhooks have no idempotency key: a crash
 * between the post and its record posts the message once more. The webhook URL is a
 * secret: it is never logged nor stored (errors are scrubbed of it). Loop-only. */
#ifndef CLOSELOOP_CHAT_QUEUE_H
#define CLOSELOOP_CHAT_QUEUE_H

#include "closeloop/db/db.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct chat_queue;

struct chat_queue_stats {
    bool enabled;         /* at least one [chat.NAME] channel is configured */
    unsigned long sent;   /* by this process */
    unsigned long failed; /* marked failed by this process */
    unsigned long retried;
    int in_flight;
    long queued; /* rows queued or sending, all instances (refreshed every few seconds) */
};

/* Starts the worker. conf and pool are borrowed and must outlive it. Without channels
 * nothing is posted (rows wait queued) and only the gauge runs. */
int chat_queue_new(struct chat_queue **out, struct ev_loop *loop, struct db_pool *pool,
                   const struct conf *conf, struct cl_err *err);
/* After conf's [chat.NAME] channels changed (SIGHUP; conf is the same borrowed struct):
 * posts go by the new channels from the next claim (each post looks its channel up by
 * name; one in flight finishes with the URL it started with). Adding the first channel
 * starts claiming, removing the last stops it (rows stay queued). CL_EIO when libcurl
 * cannot start. */
int chat_queue_reload(struct chat_queue *q, struct cl_err *err);
/* Stops it: posts in flight are abandoned (their leases lapse; another claim posts them
 * again). NULL ok. */
void chat_queue_free(struct chat_queue *q);

void chat_queue_stats(const struct chat_queue *q, struct chat_queue_stats *out);
/* Appends the closeloop_chat_* families (zeros when q is NULL). */
void chat_queue_metrics(const struct chat_queue *q, struct buf *out);

/* What a webhook's answer means for the row. */
enum chat_outcome { CHAT_SENT, CHAT_RETRY, CHAT_PERMANENT };
/* The outcome of an HTTP status (0: no answer: a timeout or transport failure): any
 * 2xx is sent (Slack's 200 "ok", a Teams Workflows webhook's 202 with an empty body, a
 * legacy connector's 200 "1"). */
enum chat_outcome chat_queue_outcome(long status);
/* The status that counts for a reply: a legacy Office 365 connector answers 200 with
 * "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP
 * error 413 ..." when Teams refused the message; that gives 413 (500 when the body names
 * no status). Any other reply: `status` itself. body may be NULL. */
long chat_queue_status(long status, const char *body);
/* Seconds a 429's Retry-After asks for (delta-seconds, or an HTTP date from now),
 * within [0, max]; `def` when absent or unparsable. */
double chat_queue_retry_after(const char *value, double def, double max, time_t now);
/* Writes "HTTP <status>: <excerpt>" of the reply body into out: at most 200 bytes of
 * it, control characters as spaces, every occurrence of `secret` (the URL) replaced by
 * "(url)". */
void chat_queue_excerpt(char *out, size_t n, long status, const char *body, const char *secret);

#endif
