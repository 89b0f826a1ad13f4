#include "closeloop/util/valid.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const char *const colours[] = {"red", "green", NULL};

static const struct valid_field spec[] = {
    {"name", VALID_STR, VALID_REQUIRED | VALID_NONBLANK | VALID_CREATE_ONLY, 8, NULL},
    {"colour", VALID_ENUM, VALID_NULLABLE, 8, colours},
    {"due", VALID_DATE, VALID_NULLABLE, 10, NULL},
    {"at", VALID_TIME, 0, 40, NULL},
    {"on", VALID_BOOL, 0, 0, NULL},
    {"version", VALID_INT, VALID_UPDATE_ONLY, 0, NULL},
    {"notes", VALID_TEXT, 0, 100, NULL},
};

static int check(const char *json, enum valid_mode mode, char *field)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *o = json_loads(json, 0, NULL);
    int rc;

    assert_non_null(o);
    rc = valid_object(o, spec, sizeof(spec) / sizeof(spec[0]), mode, field, 64, &err);
    assert_true(rc == CL_OK || err.msg[0] != '\0');
    json_decref(o);
    return rc;
}

static void test_valid__accepts_good_create(void **state)
{
    char field[64];

    (void)state;
    assert_int_equal(check("{\"name\":\"a\",\"colour\":null,\"due\":\"2024-02-29\","
                           "\"at\":\"2026-01-31T09:30:00.5+01:00\",\"on\":true,"
                           "\"notes\":\"line\\nline\"}",
                           VALID_MODE_CREATE, field),
                     CL_OK);
}

static void test_valid__names_the_bad_field(void **state)
{
    char field[64];

    (void)state;
    assert_int_equal(check("{\"name\":\"a\",\"bogus\":1}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_string_equal(field, "bogus");
    assert_int_equal(check("{\"colour\":\"red\"}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_string_equal(field, "name");
    assert_int_equal(check("{\"name\":\"   \"}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_string_equal(field, "name");
    assert_int_equal(check("{\"name\":\"123456789\"}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_int_equal(check("{\"name\":\"a\",\"colour\":\"blue\"}", VALID_MODE_CREATE, field),
                     CL_EINVAL);
    assert_string_equal(field, "colour");
    assert_int_equal(check("{\"name\":\"a\",\"on\":\"yes\"}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_int_equal(check("{\"name\":\"a\",\"at\":null}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_string_equal(field, "at");
    assert_int_equal(check("{\"name\":\"a\\u0001\"}", VALID_MODE_CREATE, field), CL_EINVAL);
}

/* Limits count characters, as people and PostgreSQL do, not bytes (issue 9, defect 7). */
static void test_valid__limits_count_characters(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char field[64];
    json_t *o;

    (void)state;
    /* 8 three-byte characters (24 bytes) fit a limit of 8 */
    assert_int_equal(check("{\"name\":\"\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e\u65e5\u672c\"}",
                           VALID_MODE_CREATE, field),
                     CL_OK);
    o = json_loads("{\"name\":\"\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e\"}", 0,
                   NULL);
    assert_int_equal(
        valid_object(o, spec, sizeof(spec) / sizeof(spec[0]), VALID_MODE_CREATE, field, 64, &err),
        CL_EINVAL);
    assert_string_equal(err.msg, "name is longer than 8 characters");
    json_decref(o);
}

static void test_valid__modes(void **state)
{
    char field[64];

    (void)state;
    assert_int_equal(check("{\"name\":\"a\"}", VALID_MODE_UPDATE, field), CL_EINVAL);
    assert_string_equal(field, "name");
    assert_int_equal(check("{\"version\":3}", VALID_MODE_UPDATE, field), CL_OK);
    assert_int_equal(check("{\"version\":0}", VALID_MODE_UPDATE, field), CL_EINVAL);
    assert_int_equal(check("{\"name\":\"a\",\"version\":3}", VALID_MODE_CREATE, field), CL_EINVAL);
    assert_string_equal(field, "version");
    assert_int_equal(check("{}", VALID_MODE_UPDATE, field), CL_OK);
}

static void test_valid__dates(void **state)
{
    (void)state;
    assert_true(valid_date("2026-12-31"));
    assert_true(valid_date("2024-02-29"));
    assert_false(valid_date("2023-02-29"));
    assert_false(valid_date("1900-02-29"));
    assert_true(valid_date("2000-02-29"));
    assert_false(valid_date("2026-13-01"));
    assert_false(valid_date("2026-04-31"));
    assert_false(valid_date("2026-4-03"));
    assert_false(valid_date("2026-04-03x"));
    assert_false(valid_date(""));
}

static void test_valid__timestamps(void **state)
{
    (void)state;
    assert_true(valid_timestamp("2026-01-31T09:30:00Z"));
    assert_true(valid_timestamp("2026-01-31 09:30:00-05:30"));
    assert_true(valid_timestamp("2026-01-31T09:30:00.123456+00:00"));
    assert_false(valid_timestamp("2026-01-31T09:30:00"));
    assert_false(valid_timestamp("2026-01-31T24:30:00Z"));
    assert_false(valid_timestamp("2026-01-31T09:30:00+0100"));
    assert_false(valid_timestamp("2026-01-31T09:30:00.Z"));
    assert_false(valid_timestamp("yesterday"));
}

static void test_valid__github_repo(void **state)
{
    char repo[160];

    (void)state;
    assert_true(valid_github_repo("acme/web"));
    assert_true(valid_github_repo("Acme-Corp/web.site_2"));
    assert_true(valid_github_repo("a/.github"));
    assert_true(valid_github_repo("a/..x"));
    /* GitHub's limits: owner 39, name 100 */
    snprintf(repo, sizeof(repo), "%.39s/w", "oooooooooooooooooooooooooooooooooooooooooooooo");
    assert_true(valid_github_repo(repo));
    snprintf(repo, sizeof(repo), "%.40s/w", "oooooooooooooooooooooooooooooooooooooooooooooo");
    assert_false(valid_github_repo(repo));
    memset(repo, 'n', sizeof(repo));
    memcpy(repo, "a/", 2);
    repo[102] = '\0';
    assert_true(valid_github_repo(repo));
    repo[102] = 'n';
    repo[103] = '\0';
    assert_false(valid_github_repo(repo));
    assert_false(valid_github_repo("a/b/issues?"));
    assert_false(valid_github_repo("../.."));
    assert_false(valid_github_repo("acme/.."));
    assert_false(valid_github_repo("acme/."));
    assert_false(valid_github_repo("./web"));
    assert_false(valid_github_repo("acme/we b"));
    assert_false(valid_github_repo("acme/web#1"));
    assert_false(valid_github_repo("acme/web%2F.."));
    assert_false(valid_github_repo("acme"));
    assert_false(valid_github_repo("/web"));
    assert_false(valid_github_repo("acme/"));
    assert_false(valid_github_repo(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid__accepts_good_create),
        cmocka_unit_test(test_valid__names_the_bad_field),
        cmocka_unit_test(test_valid__limits_count_characters),
        cmocka_unit_test(test_valid__modes),
        cmocka_unit_test(test_valid__dates),
        cmocka_unit_test(test_valid__timestamps),
        cmocka_unit_test(test_valid__github_repo),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
