/* sync: the tracker-neutral sync core. For each configured tracker connection it runs
 * an outbox worker (claims work with a lease and SKIP LOCKED, woken by NOTIFY at commit,
 * pushes through the provider, backs off with jitter on failures), a reconciler (polls
 * each repository that is due; a quiet one answers 304), and one inbox worker applies
 * stored webhook deliveries. Every merge happens in PostgreSQL (cl_sync_apply). Loop-only. */
#ifndef CLOSELOOP_SYNC_H
#define CLOSELOOP_SYNC_H

#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"
#include "closeloop/db/db.h"
#include "closeloop/sync/provider.h"

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

struct sync;
struct sync_call;

/* Result of import, doctor: `result` is borrowed for the call. http_status is the
 * status the API should answer (200, 404 no connection, 502/503 tracker trouble). */
typedef void (*sync_result_fn)(int http_status, const json_t *result, const char *message,
                               void *arg);

/* Starts the workers for every enabled connection. conf and pool are borrowed. */
int sync_new(struct sync **out, struct ev_loop *loop, struct db_pool *pool, const struct conf *conf,
             struct cl_err *err);
/* Stops everything; pending callbacks are dropped. NULL is a no-op. */
void sync_free(struct sync *s);

/* {"default": name|null, "owners": {...}}: which connection serves a repository, for SQL. */
const char *sync_routes(const struct sync *s);

/* Checks a delivery for tracker/connection (NULL: the default). CL_OK, CL_ENOTFOUND
 * (no such connection), CL_EAUTH (bad or missing signature, or no secret configured). */
int sync_hook_check(struct sync *s, const char *tracker, const char *connection,
                    const char *signature, const char *body, size_t len, const char **name);
/* Parses a verified delivery for the connection sync_hook_check() named (see
 * provider_ops.parse_hook); CL_EINVAL with the reason for a malformed one. */
int sync_hook_parse(struct sync *s, const char *tracker, const char *connection, const char *event,
                    const char *body, size_t len, struct provider_hook *out, struct cl_err *err);
/* Wakes the inbox worker (after a delivery committed). */
void sync_inbox_kick(struct sync *s);

struct sync_call *sync_import(struct sync *s, const char *repo, const char *label,
                              const char *incident, const char *actor, sync_result_fn fn,
                              void *arg);
struct sync_call *sync_doctor(struct sync *s, const char *repo, sync_result_fn fn, void *arg);
/* The caller went away: fn will not run. NULL is a no-op. */
void sync_call_cancel(struct sync_call *c);

/* Each connection's in-memory state (auth, rate limit, pause), new reference:
 * [{"name","tracker",...}]. */
json_t *sync_describe(struct sync *s);
/* The configured connections' names as a PostgreSQL text array literal ("{github}"). */
const char *sync_connection_names(const struct sync *s);
/* False when a connection's credentials are refused; why says which. */
bool sync_healthy(struct sync *s, char *why, size_t n);
/* Prometheus lines for the sync. */
void sync_metrics(struct sync *s, struct buf *out);

#endif
