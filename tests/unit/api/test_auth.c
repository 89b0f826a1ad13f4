/* Token verbs against the real PostgreSQL (CLOSELOOP_TEST_DSN), migrated first. */
#include "closeloop/api/auth.h"
#include "closeloop/util/crypto.h"
#include "closeloop/db/migrate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static PGconn *pg;

static int setup(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    const char *dsn = getenv("CLOSELOOP_TEST_DSN");

    (void)state;
    if (dsn == NULL)
        return 0;
    if (db_connect_blocking(&pg, dsn, &err) != CL_OK || migrate_run(pg, NULL, &err) != CL_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(pg);
    return 0;
}

static char *scalar(const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    char *v;

    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    v = cl_strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return v;
}

static void test_auth__create_stores_only_the_hash(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    char *token = NULL;
    char *stored;

    (void)state;
    if (pg == NULL)
        skip();
    assert_int_equal(auth_token_create(&token, pg, "unit-create", AUTH_WRITE, NULL, &err), CL_OK);
    assert_int_equal(strlen(token), 47);
    assert_true(strncmp(token, "clt_", 4) == 0);
    crypto_sha256_hex(hash, token, strlen(token));
    stored = scalar("SELECT hash || ' ' || scope FROM api_tokens WHERE name = $1"
                    " AND revoked_at IS NULL",
                    "unit-create");
    assert_true(strncmp(stored, hash, CRYPTO_SHA256_HEX_LEN) == 0);
    assert_string_equal(stored + CRYPTO_SHA256_HEX_LEN, " write");
    free(stored);
    stored = scalar("SELECT count(*)::text FROM api_tokens WHERE hash = $1", token);
    assert_string_equal(stored, "0"); /* the clear token is nowhere */
    free(stored);
    free(token);
    assert_int_equal(auth_token_revoke(pg, "unit-create", &err), CL_OK); /* the test can rerun */
}

static void test_auth__revoke_by_name_then_not_found(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *token = NULL;
    char *revoked;

    (void)state;
    if (pg == NULL)
        skip();
    assert_int_equal(auth_token_create(&token, pg, "unit-revoke", AUTH_READ, NULL, &err), CL_OK);
    free(token);
    assert_int_equal(auth_token_revoke(pg, "unit-revoke", &err), CL_OK);
    revoked = scalar("SELECT (revoked_at IS NOT NULL)::text FROM api_tokens WHERE name = $1",
                     "unit-revoke");
    assert_string_equal(revoked, "true");
    free(revoked);
    assert_int_equal(auth_token_revoke(pg, "unit-revoke", &err), CL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "unit-revoke"));
}

static void test_auth__list_never_shows_tokens(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *token = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    if (pg == NULL)
        skip();
    assert_int_equal(auth_token_create(&token, pg, "unit-list", AUTH_ADMIN, NULL, &err), CL_OK);
    f = open_memstream(&text, &len);
    assert_int_equal(auth_token_list(pg, f, &err), CL_OK);
    fclose(f);
    assert_non_null(strstr(text, "unit-list"));
    assert_null(strstr(text, token));
    assert_null(strstr(text, token + 4));
    free(text);
    free(token);
    assert_int_equal(auth_token_revoke(pg, "unit-list", &err), CL_OK); /* the test can rerun */
}

static void test_auth__scopes(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *token = NULL;

    (void)state;
    assert_int_equal(auth_scope_parse("read"), AUTH_READ);
    assert_int_equal(auth_scope_parse("admin"), AUTH_ADMIN);
    assert_int_equal(auth_scope_parse("root"), AUTH_NONE);
    assert_int_equal(auth_scope_parse(NULL), AUTH_NONE);
    assert_true(AUTH_READ < AUTH_WRITE && AUTH_WRITE < AUTH_ADMIN);
    if (pg == NULL)
        return;
    assert_int_equal(auth_token_create(&token, pg, "unit-bad", AUTH_NONE, NULL, &err), CL_EINVAL);
    assert_null(token);
}

/* A token for a person needs someone with that handle, and nothing is stored otherwise. */
static void test_auth__create_for_an_unknown_person(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *token = NULL;
    PGresult *res = NULL;

    (void)state;
    if (pg == NULL)
        skip();
    assert_int_equal(
        auth_token_create(&token, pg, "unit-nobody", AUTH_READ, "no-such-handle-x", &err),
        CL_ENOTFOUND);
    assert_null(token);
    assert_non_null(strstr(err.msg, "no-such-handle-x"));
    assert_int_equal(db_exec_blocking(&res, pg,
                                      "SELECT count(*) FROM api_tokens WHERE name = 'unit-nobody'",
                                      0, NULL, &err),
                     CL_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__create_stores_only_the_hash),
        cmocka_unit_test(test_auth__revoke_by_name_then_not_found),
        cmocka_unit_test(test_auth__list_never_shows_tokens),
        cmocka_unit_test(test_auth__scopes),
        cmocka_unit_test(test_auth__create_for_an_unknown_person),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
