#include "closeloop/db/migrate.h"

#include "closeloop/util/buf.h"
#include "closeloop/db/db.h"
#include "closeloop/util/crypto.h"
#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant: it only has to be the same for every closeloopd. */
#define MIGRATE_LOCK_KEY "7354201"

const char migrate_sql_current[] = "SELECT max(version) FROM schema_migrations";

const char migrate_sql_ready[] =
    "SELECT (SELECT max(version) FROM schema_migrations),"
    " (SELECT count(*) FROM sync_scopes r"
    "  WHERE r.connection = ANY ($2::text[])"
    "  AND coalesce(r.last_success_at, r.created_at) < now() - make_interval(secs => $1::float8)"
    "  AND EXISTS (SELECT 1 FROM links l WHERE l.connection = r.connection"
    "              AND l.scope = r.scope AND l.state <> 'broken'))";

static const char sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
static const char sql_functions_table[] =
    "CREATE TABLE IF NOT EXISTS schema_functions ("
    " id integer PRIMARY KEY CHECK (id = 1), checksum text NOT NULL,"
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

/* Runs a file of many statements (simple protocol, no parameters) inside the open
 * transaction; `what` names it in the error. */
static int migrate_exec_file(PGconn *pg, const char *sql, const char *what, struct cl_err *err)
{
    PGresult *res = PQexec(pg, sql);
    int rc = CL_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[200];

        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = '\0';
        rc = cl_fail(err, CL_EDB, "%s: %s", what, msg);
    }
    PQclear(res);
    return rc;
}

static int migrate_apply(PGconn *pg, const struct migrate_file *m, const char *sum,
                         struct cl_err *err)
{
    char ver[16];
    char what[96];
    const char *params[3] = {ver, m->name, sum};

    snprintf(ver, sizeof(ver), "%d", m->version);
    snprintf(what, sizeof(what), "migration %04d_%s", m->version, m->name);
    if (migrate_exec_file(pg, m->sql, what, err) != CL_OK)
        return err->code;
    return db_exec_blocking(NULL, pg,
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES ($1, $2, $3)",
                            3, params, err);
}

static int migrate_schema(PGconn *pg, int *applied, struct cl_err *err)
{
    char sum[CRYPTO_SHA256_HEX_LEN + 1];
    int rc = CL_OK;
    int i;

    for (i = 0; rc == CL_OK && i < migrate_nfiles; i++) {
        const struct migrate_file *m = &migrate_files[i];
        int found = 0;

        crypto_sha256_hex(sum, m->sql, strlen(m->sql));
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

/* The checksum of every function file together, as recorded and as embedded. */
static void migrate_functions_sum(char sum[CRYPTO_SHA256_HEX_LEN + 1])
{
    struct buf all;
    int i;

    buf_init(&all);
    for (i = 1; i <= migrate_nfunctions; i++)
        buf_printf(&all, "%s\n%s\n", migrate_functions[i].name, migrate_functions[i].sql);
    crypto_sha256_hex(sum, all.data != NULL ? all.data : "", all.len);
    buf_dispose(&all);
}

/* True when the recorded checksum differs (or none is recorded), or the schema is
 * newer than this binary (then *newer is set and nothing is to be done). */
static int migrate_functions_stale(bool *stale, bool *newer, PGconn *pg, const char *sum,
                                   struct cl_err *err)
{
    PGresult *res = NULL;
    long have = 0;
    int rc = db_exec_blocking(&res, pg,
                              "SELECT (SELECT max(version) FROM schema_migrations),"
                              " (SELECT checksum FROM schema_functions WHERE id = 1)",
                              0, NULL, err);

    if (rc != CL_OK)
        return rc;
    if (!PQgetisnull(res, 0, 0))
        cl_parse_long(&have, PQgetvalue(res, 0, 0), 0, 1 << 30);
    *newer = have > migrate_latest();
    *stale = !*newer && (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 1), sum) != 0);
    PQclear(res);
    return CL_OK;
}

/* Re-creates every function and view from sql/functions/, in file order, when their
 * content changed or a migration ran. Bodies are checked when they run, not now, so
 * the files need no order among themselves (pg_dump does the same). */
static int migrate_recreate(PGconn *pg, bool force, bool *done, struct cl_err *err)
{
    char sum[CRYPTO_SHA256_HEX_LEN + 1];
    bool stale = false;
    bool newer = false;
    const char *params[1] = {sum};
    int rc;
    int i;

    migrate_functions_sum(sum);
    rc = migrate_functions_stale(&stale, &newer, pg, sum, err);
    if (rc != CL_OK || newer || (!stale && !force)) {
        if (newer)
            log_warn("event=schema_newer_than_binary expected=%d", migrate_latest());
        return rc;
    }
    rc = db_exec_blocking(NULL, pg, "SET LOCAL check_function_bodies = off", 0, NULL, err);
    for (i = 1; rc == CL_OK && i <= migrate_nfunctions; i++) {
        char what[96];

        snprintf(what, sizeof(what), "sql/functions/%s.sql", migrate_functions[i].name);
        rc = migrate_exec_file(pg, migrate_functions[i].sql, what, err);
    }
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg,
                              "INSERT INTO schema_functions (id, checksum) VALUES (1, $1)"
                              " ON CONFLICT (id) DO UPDATE SET checksum = $1, applied_at = now()",
                              1, params, err);
    *done = rc == CL_OK;
    return rc;
}

/* Everything in one transaction: the schema never moves without its functions. */
static int migrate_locked(PGconn *pg, int *applied, struct cl_err *err)
{
    bool functions = false;
    int rc = db_exec_blocking(NULL, pg, "BEGIN", 0, NULL, err);

    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg, sql_table, 0, NULL, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg, sql_functions_table, 0, NULL, err);
    if (rc == CL_OK)
        rc = migrate_schema(pg, applied, err);
    if (rc == CL_OK)
        rc = migrate_recreate(pg, *applied > 0, &functions, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(NULL, pg, "COMMIT", 0, NULL, err);
    if (rc != CL_OK) {
        db_exec_blocking(NULL, pg, "ROLLBACK", 0, NULL, NULL);
        *applied = 0;
        return rc;
    }
    if (functions)
        log_info("event=functions_created files=%d", migrate_nfunctions);
    return CL_OK;
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
