/* migrate: the schema migrations in sql/ and the function files in sql/functions/,
 * embedded into the binary at build time. Each migration is applied once and recorded
 * in schema_migrations with its checksum; the function files are re-created as a whole
 * whenever their content changed or a migration ran. Both happen in one transaction,
 * under a session advisory lock that stops two instances from migrating at once.
 * Blocking: call before the loop starts or from an admin verb, never from the loop. */
#ifndef CLOSELOOP_MIGRATE_H
#define CLOSELOOP_MIGRATE_H

#include "closeloop/util/cl.h"

#include <libpq-fe.h>

struct migrate_file {
    int version;
    const char *name;
    const char *sql;
};

/* Generated from sql/ (contrib/embed-sql.sh), in version order. */
extern const struct migrate_file migrate_files[];
extern const int migrate_nfiles;
/* The files of sql/functions/ by name, from index 1 (version unused); [0] is a
 * placeholder. */
extern const struct migrate_file migrate_functions[];
extern const int migrate_nfunctions;

/* The highest version this binary knows. */
int migrate_latest(void);

/* Applies what is missing; *applied (may be NULL) gets how many. Fails, changing nothing
 * more, when an applied migration's checksum differs from the embedded one. */
int migrate_run(PGconn *pg, int *applied, struct cl_err *err);

/* SQL returning one row, one column: the highest applied version (NULL if none). */
extern const char migrate_sql_current[];
/* SQL for /readyz: the version, and how many repositories of the configured connections
 * ($2, a text array) with live links have not been reconciled within $1 seconds (it fails
 * before migration 3: not ready then). */
extern const char migrate_sql_ready[];

#endif
