/* sync: the tracker-neutral sync core. For each configured connection of any tracker in
 * the registry it starts the provider, an outbox worker (outbox.h) and a reconciler
 * (poll.h); one inbox worker (inbox.h) applies stored webhook deliveries; NOTIFY wakes
 * the outbox workers at commit. Every merge happens in PostgreSQL (sql/functions/
 * sync.sql). This module names no tracker. Loop-only. */
#ifndef CLOSELOOP_SYNC_H
#define CLOSELOOP_SYNC_H

#include "closeloop/db/db.h"
#include "closeloop/sync/provider.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

struct sync;
struct sync_call;

/* How an import or a doctor ended. Borrowed for the call. */
struct sync_result {
    int code; /* CL_OK; CL_ENOTFOUND: no connection serves the scope; CL_EINVAL: bad input
                 (field names it); CL_EDB: the database failed; CL_EHTTP: the tracker
                 refused or failed (outcome says how) */
    enum provider_outcome outcome;
    const char *field;    /* CL_EINVAL: the request field at fault, else NULL */
    const char *message;  /* why, when code != CL_OK */
    const json_t *result; /* CL_OK: the answer */
};

typedef void (*sync_result_fn)(const struct sync_result *r, void *arg);

/* Starts a connection for every configured connection in conf whose tracker is in the
 * registry and has what it needs (credentials). conf and pool are borrowed. */
int sync_new(struct sync **out, struct ev_loop *loop, struct db_pool *pool, const struct conf *conf,
             struct cl_err *err);
/* Stops everything; pending callbacks are dropped. NULL is a no-op. */
void sync_free(struct sync *s);
/* True when conf names at least one connection that would start. */
bool sync_wanted(const struct conf *conf);

/* Which connection serves which scope, as JSON for the SQL that creates links:
 * {"<tracker>": {"default": name|null, "scopes": {"<prefix>": name}}}. */
const char *sync_routes(const struct sync *s);
/* The running connections' names as a PostgreSQL text array literal ("{a,b}"). */
const char *sync_connection_names(const struct sync *s);

/* Reads a webhook delivery for connection `connection` (NULL: the tracker's default)
 * of `tracker`: CL_ENOTFOUND (no such running connection), CL_EAUTH (signature), or the
 * provider's read_hook() outcome, *out filled. *name gets the connection's name. */
int sync_hook_read(struct sync *s, const char *tracker, const char *connection,
                   const struct provider_delivery *d, struct provider_hook *out, const char **name,
                   struct cl_err *err);
/* Wakes the inbox worker (after a delivery committed). */
void sync_inbox_kick(struct sync *s);

/* Turns the issues of scope matching query into actions of the incident. fn runs once,
 * from the loop, unless the call is cancelled first. */
struct sync_call *sync_import(struct sync *s, const char *tracker, const char *scope,
                              const char *query, const char *incident, const char *actor,
                              sync_result_fn fn, void *arg);
/* Checks the connection serving scope. */
struct sync_call *sync_doctor(struct sync *s, const char *tracker, const char *scope,
                              sync_result_fn fn, void *arg);
/* The caller went away: fn will not run. NULL is a no-op. */
void sync_call_cancel(struct sync_call *c);

/* Each connection's in-memory state, new reference: [{"name","tracker",...}]. */
json_t *sync_describe(struct sync *s);
/* False when a connection's credentials are refused; why says which. */
bool sync_healthy(struct sync *s, char *why, size_t n);
/* Prometheus lines for the sync (s may be NULL: every series at zero). */
void sync_metrics(struct sync *s, struct buf *out);

#endif
