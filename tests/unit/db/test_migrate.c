/* Migrations against the real PostgreSQL (CLOSELOOP_TEST_DSN). */
#include "closeloop/db/migrate.h"
#include "closeloop/db/db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static PGconn *connect_or_skip(void)
{
    struct cl_err err = CL_ERR_INIT;
    const char *dsn = getenv("CLOSELOOP_TEST_DSN");
    PGconn *pg = NULL;

    if (dsn == NULL)
        skip();
    assert_int_equal(db_connect_blocking(&pg, dsn, &err), CL_OK);
    return pg;
}

static void test_migrate__files_are_embedded_in_order(void **state)
{
    int i;

    (void)state;
    assert_true(migrate_nfiles >= 3);
    for (i = 1; i < migrate_nfiles; i++)
        assert_true(migrate_files[i].version > migrate_files[i - 1].version);
    assert_int_equal(migrate_latest(), migrate_files[migrate_nfiles - 1].version);
    assert_non_null(strstr(migrate_files[0].sql, "CREATE TABLE actions"));
}

static void test_migrate__applies_once(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    PGconn *pg = connect_or_skip();
    PGresult *res = NULL;
    int applied = -1;

    (void)state;
    assert_int_equal(migrate_run(pg, NULL, &err), CL_OK);
    assert_int_equal(migrate_run(pg, &applied, &err), CL_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(db_exec_blocking(&res, pg, migrate_sql_current, 0, NULL, &err), CL_OK);
    assert_int_equal(atol(PQgetvalue(res, 0, 0)), migrate_latest());
    PQclear(res);
    PQfinish(pg);
}

/* An applied migration edited afterwards is refused, and nothing more is applied. */
static void test_migrate__refuses_a_changed_migration(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    PGconn *pg = connect_or_skip();
    PGresult *res = NULL;
    char *saved;

    (void)state;
    assert_int_equal(migrate_run(pg, NULL, &err), CL_OK);
    assert_int_equal(db_exec_blocking(&res, pg,
                                      "SELECT checksum FROM schema_migrations WHERE version = 1", 0,
                                      NULL, &err),
                     CL_OK);
    saved = cl_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    assert_int_equal(db_exec_blocking(NULL, pg,
                                      "UPDATE schema_migrations SET checksum = 'x' WHERE "
                                      "version = 1",
                                      0, NULL, &err),
                     CL_OK);
    assert_int_equal(migrate_run(pg, NULL, &err), CL_EDB);
    assert_non_null(strstr(err.msg, "0001_schema was changed after it was applied"));
    cl_err_clear(&err);
    assert_int_equal(db_exec_blocking(NULL, pg,
                                      "UPDATE schema_migrations SET checksum = $1 WHERE "
                                      "version = 1",
                                      1, (const char *const[]){saved}, &err),
                     CL_OK);
    assert_int_equal(migrate_run(pg, NULL, &err), CL_OK);
    free(saved);
    PQfinish(pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate__files_are_embedded_in_order),
        cmocka_unit_test(test_migrate__applies_once),
        cmocka_unit_test(test_migrate__refuses_a_changed_migration),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
