/* db: a small pool of asynchronous PostgreSQL connections driven by one libev loop.
 * Loop-only: every function here must be called from the loop's thread. Nothing blocks:
 * connecting uses PQconnectStartParams/PQconnectPoll, queries PQsendQueryParams, and
 * results arrive through an ev_io on PQsocket(). Each connection runs one statement at a
 * time; the pool queues the rest in FIFO order. */
#ifndef CLOSELOOP_DB_H
#define CLOSELOOP_DB_H

#include "closeloop/util/cl.h"

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct db_pool;
struct db_query;

/* A statement worth preparing: hot and with a plan that does not depend on its
 * parameters (no optional filters). Define it static const; the pool prepares it on
 * each connection the first time that connection runs it, and again after reconnects.
 * Names must be unique. */
struct db_stmt {
    const char *name;
    const char *sql;
};

/* What a finished statement hands to its requester. Everything is borrowed and valid
 * only during the callback: copy what you keep. */
struct db_reply {
    int code;               /* CL_OK, CL_EDB (PostgreSQL said no) or CL_EIO (connection) */
    PGresult *res;          /* the last result when code == CL_OK, else NULL */
    const char *sqlstate;   /* "" unless PostgreSQL raised an error */
    const char *message;    /* one line, no trailing newline */
    const char *column;     /* PG_DIAG_COLUMN_NAME or NULL */
    const char *constraint; /* PG_DIAG_CONSTRAINT_NAME or NULL */
    const char *table;      /* PG_DIAG_TABLE_NAME or NULL */
    double seconds;         /* time from send to result */
};

/* Whether a failed reply is a database fault (lost connection, timeout, deadlock, an
 * error in our SQL) rather than input the database refused (CLxxx, classes 22 and 23).
 * Only faults count in closeloop_db_errors_total. */
bool db_reply_is_fault(const struct db_reply *r);

/* Called exactly once per query, from the loop, never from inside db_query(). */
typedef void (*db_done_fn)(const struct db_reply *reply, void *arg);

struct db_pool_stats {
    int size;         /* configured connections */
    int connected;    /* ready or busy */
    int busy;         /* with a statement in flight */
    int queued;       /* waiting for a connection */
    uint64_t queries; /* completed, all outcomes */
    uint64_t errors;  /* database faults (db_reply_is_fault) */
    uint64_t reconnects;
};

/* Creates a pool of `size` connections to `dsn` (copied; never logged). Connecting
 * starts at once and is retried with back-off. Each session gets TimeZone=UTC,
 * statement_timeout = `statement_timeout` seconds (0: the server's default),
 * client_connection_check_interval = 1 s (a statement whose closeloopd died is cancelled,
 * its transaction rolled back, instead of running on to its commit) and
 * application_name = `name` (copied; NULL: "closeloopd"): closeloopd passes a name
 * unique to the process, by which the claims it holds are known to be alive.
 * Free with db_pool_free(). */
struct db_pool *db_pool_new(struct ev_loop *loop, const char *dsn, int size,
                            double statement_timeout, const char *name);
/* The pool's application_name. */
const char *db_pool_name(const struct db_pool *p);
/* Closes every connection; pending queries are dropped without a callback. NULL ok. */
void db_pool_free(struct db_pool *p);

/* Queues `sql` (constant text, $1..$n parameters) with text params (copied; NULL means
 * SQL NULL). Returns a handle valid until `done` runs or db_query_cancel() is called.
 * When no connection has been up since the last failure, the query fails fast with
 * CL_EIO, still through the loop. */
struct db_query *db_query(struct db_pool *p, const char *sql, int nparams,
                          const char *const *params, db_done_fn done, void *arg);

/* Like db_query for a script of several statements without parameters (PQsendQuery):
 * they run as one implicit transaction, so a SET LOCAL in it (statement_timeout for a
 * long background job) holds for the statements after it and ends with them. The reply
 * is the last statement's result, or the first error. `sql` must outlive the query. */
struct db_query *db_query_script(struct db_pool *p, const char *sql, db_done_fn done, void *arg);

/* Like db_query, but runs a prepared statement (PQsendQueryPrepared). */
struct db_query *db_query_stmt(struct db_pool *p, const struct db_stmt *stmt, int nparams,
                               const char *const *params, db_done_fn done, void *arg);

/* Forgets the requester: `done` will not be called. A query still queued is never
 * sent; a statement already sent runs to completion on the server (bounded by the
 * pool's statement_timeout) and its result is discarded. */
void db_query_cancel(struct db_query *q);

/* True once the statement has been handed to a connection. */
bool db_query_sent(const struct db_query *q);

/* Asks PostgreSQL to cancel every statement in flight (PQcancel: blocking, for
 * shutdown only). Their outcomes still arrive through the loop: cancelled ones fail
 * with SQLSTATE 57014 and changed nothing; ones that already committed succeed. */
void db_pool_cancel_running(struct db_pool *p);

/* True when at least one connection is up. */
bool db_pool_ready(const struct db_pool *p);

void db_pool_stats(const struct db_pool *p, struct db_pool_stats *out);

/* ---- LISTEN/NOTIFY ---- */

struct db_listener;

/* Called for each notification; after every (re)connect it is called once with
 * channel == NULL, so the caller can catch up on what it missed while disconnected. */
typedef void (*db_notify_fn)(const char *channel, const char *payload, void *arg);

/* Keeps one connection LISTENing on `channels` (NULL-terminated identifiers, copied),
 * reconnecting with back-off; its application_name is `name` (NULL: a default).
 * Free with db_listener_free(). */
struct db_listener *db_listener_new(struct ev_loop *loop, const char *dsn, const char *name,
                                    const char *const *channels, db_notify_fn fn, void *arg);
void db_listener_free(struct db_listener *l);

/* Blocking helpers for admin verbs and start-up, outside the loop only. */

/* Connects with the same session settings as the pool (UTC, application_name). */
int db_connect_blocking(PGconn **out, const char *dsn, struct cl_err *err);

/* Runs one parameterised statement; *out (may be NULL to discard) gets the result
 * to PQclear(). Fails with the server's message, one line. */
int db_exec_blocking(PGresult **out, PGconn *pg, const char *sql, int nparams,
                     const char *const *params, struct cl_err *err);

#endif
