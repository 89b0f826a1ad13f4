#include "closeloop/migrate.h"

#include "closeloop/db.h"
#include "closeloop/digest.h"
#include "closeloop/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant: it only has to be the same for every closeloopd. */
#define MIGRATE_LOCK_KEY "7354201"

const char migrate_sql_current[] = "SELECT max(version) FROM schema_migrations";

const char migrate_sql_ready[] =
    "SELECT (SELECT max(version) FROM schema_migrations),"
    " (SELECT count(*) FROM sync_repos r"
    "  WHERE r.connection = ANY ($2::text[])"
    "  AND coalesce(r.last_success_at, r.created_at) < now() - make_interval(secs => $1::float8)"
    "  AND EXISTS (SELECT 1 FROM links l WHERE l.connection = r.connection"
    "              AND l.repo = r.repo AND l.state <> 'broken'))";

static const char sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

int migrate_latest(void)
{
    return migrate_nfiles > 0 ? migrate_files[migrate_nfiles - 1].version : 0;
}

/* Looks up the recorded checksum; *found says whether the version was applied. */
static int migrate_recorded(PGconn *pg, const struct migrate_file *m, const char *sum, int *found,
                            struct cl_err *err)
{
    char ver[16];
    const char *params[1] = {ver};
    PGresult *res = NULL;
    int rc;

    snprintf(ver, sizeof(ver), "%d", m->version);
    rc = db_exec_blocking(&res, pg, "SELECT checksum FROM schema_migrations WHERE version = $1", 1,
                          params, err);
    if (rc != CL_OK)
        return rc;
    *found = PQntuples(res) > 0;
    if (*found && strcmp(PQgetvalue(res, 0, 0), sum) != 0)
        rc = cl_fail(err, CL_EDB,
                     "migration %04d_%s was changed after it was applied (checksum differs)",
                     m->version, m->name);
    PQclear(res);
    return rc;
}

static int migrate_apply(PGconn *pg, const struct migrate_file *m, const char *sum,
                         struct cl_err *err)
{
    char ver[16];
    const char *params[3] = {ver, m->name, sum};
    PGresult *res;
    int rc;

    snprintf(ver, sizeof(ver), "%d", m->version);
    rc = db_exec_blocking(NULL, pg, "BEGIN", 0, NULL, err);
    if (rc != CL_OK)
        return rc;
    /* Simple protocol: a migration file holds many statements and no parameters. */
    res = PQexec(pg, m->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[200];

        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = '\0';
        rc = cl_fail(err, CL_EDB, "migration %04d_%s: %s", m->version, m->name, msg);
    }
    PQclear(res);
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg,
                              "INSERT INTO schema_migrations (version, name, checksum) "
                              "VALUES ($1, $2, $3)",
                              3, params, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg, "COMMIT", 0, NULL, err);
    if (rc != CL_OK)
        db_exec_blocking(NULL, pg, "ROLLBACK", 0, NULL, NULL);
    return rc;
}

static int migrate_locked(PGconn *pg, int *applied, struct cl_err *err)
{
    char sum[DIGEST_SHA256_HEX_LEN + 1];
    int i;
    int rc = db_exec_blocking(NULL, pg, sql_table, 0, NULL, err);

    for (i = 0; rc == CL_OK && i < migrate_nfiles; i++) {
        const struct migrate_file *m = &migrate_files[i];
        int found = 0;

        digest_sha256_hex(sum, m->sql, strlen(m->sql));
        rc = migrate_recorded(pg, m, sum, &found, err);
        if (rc != CL_OK || found)
            continue;
        rc = migrate_apply(pg, m, sum, err);
        if (rc == CL_OK) {
            (*applied)++;
            log_info("event=migration_applied version=%d name=%s", m->version, m->name);
        }
    }
    return rc;
}

int migrate_run(PGconn *pg, int *applied, struct cl_err *err)
{
    int count = 0;
    int rc;

    rc = db_exec_blocking(NULL, pg, "SET client_min_messages = warning", 0, NULL, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL,
                              err);
    if (rc != CL_OK)
        return rc;
    rc = migrate_locked(pg, &count, err);
    db_exec_blocking(NULL, pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0, NULL, NULL);
    if (applied != NULL)
        *applied = count;
    return rc;
}
