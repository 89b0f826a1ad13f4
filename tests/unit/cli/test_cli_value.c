#include "closeloop/cli/cli_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int check(enum cli_val type, const char *value)
{
    struct cl_err err = CL_ERR_INIT;

    return cli_value_check(type, "--x", value, &err);
}

static void test_cli_value__enums(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_KIND, "corrective"), CL_OK);
    assert_int_equal(check(CLI_VAL_KIND, "preventive"), CL_OK);
    assert_int_equal(check(CLI_VAL_KIND, "foo"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_KIND, "Corrective"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PRIORITY, "P0"), CL_OK);
    assert_int_equal(check(CLI_VAL_PRIORITY, "P5"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_SEVERITY, "SEV5"), CL_OK);
    assert_int_equal(check(CLI_VAL_SEVERITY, "SEV0"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_SEVERITY, "none"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_SEVERITY_OR_NONE, "none"), CL_OK);
    assert_int_equal(check(CLI_VAL_BOOL, "true"), CL_OK);
    assert_int_equal(check(CLI_VAL_BOOL, "yes"), CL_EINVAL);
}

static void test_cli_value__status_lists(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_STATUSES, "open"), CL_OK);
    assert_int_equal(check(CLI_VAL_STATUSES, "open,in_progress,blocked,done,wont_do"), CL_OK);
    assert_int_equal(check(CLI_VAL_STATUSES, "open,"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_STATUSES, ",open"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_STATUSES, "open,closed"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_STATUSES, "opened"), CL_EINVAL);
}

static void test_cli_value__dates_and_times(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_DATE, "2024-02-29"), CL_OK);
    assert_int_equal(check(CLI_VAL_DATE, "2023-02-29"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_DATE, "none"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_DATE_OR_NONE, "none"), CL_OK);
    assert_int_equal(check(CLI_VAL_DATE_OR_NONE, "tomorrow"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01T10:00:00Z"), CL_OK);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TIME_OR_NONE, "none"), CL_OK);
}

static void test_cli_value__numbers(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_ID, "1"), CL_OK);
    assert_int_equal(check(CLI_VAL_ID, "0"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ID, "12abc"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ID, "99999999999999999999999"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_VERSION, "0"), CL_OK);
    assert_int_equal(check(CLI_VAL_VERSION, "-1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_LIMIT, "10000"), CL_OK);
    assert_int_equal(check(CLI_VAL_LIMIT, "10001"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_LIMIT, "0"), CL_EINVAL);
}

static void test_cli_value__flags_and_empty(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_FLAG, NULL), CL_OK);
    assert_int_equal(check(CLI_VAL_FLAG, "yes"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TEXT, ""), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TEXT, NULL), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TEXT, "anything at all"), CL_OK);
    assert_int_equal(check(CLI_VAL_DESC, "-"), CL_OK);
}

static void test_cli_value__length_is_bounded(void **state)
{
    char *big = malloc(CLI_VALUE_DESC_MAX + 2);

    (void)state;
    memset(big, 'a', CLI_VALUE_DESC_MAX + 1);
    big[CLI_VALUE_TEXT_MAX] = '\0';
    assert_int_equal(check(CLI_VAL_TEXT, big), CL_OK);
    big[CLI_VALUE_TEXT_MAX] = 'a';
    big[CLI_VALUE_TEXT_MAX + 1] = '\0';
    assert_int_equal(check(CLI_VAL_TEXT, big), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_DESC, big), CL_OK);
    memset(big, 'a', CLI_VALUE_DESC_MAX + 1);
    big[CLI_VALUE_DESC_MAX] = '\0';
    assert_int_equal(check(CLI_VAL_DESC, big), CL_OK);
    big[CLI_VALUE_DESC_MAX] = 'a';
    big[CLI_VALUE_DESC_MAX + 1] = '\0';
    assert_int_equal(check(CLI_VAL_DESC, big), CL_EINVAL);
    free(big);
}

static void test_cli_value__github_repositories(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_REPO, "acme/api"), CL_OK);
    assert_int_equal(check(CLI_VAL_REPO, "A-Z_0.9/x.y-z_1"), CL_OK);
    assert_int_equal(check(CLI_VAL_REPO, "acme"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "acme/"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "/api"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "a/b/c"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "ac me/api"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "acme/api#1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "acme/\xc3\xa9"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "https://github.com/acme/api"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO, "none"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_REPO_OR_NONE, "none"), CL_OK);
    assert_int_equal(check(CLI_VAL_REPO_OR_NONE, "acme/api"), CL_OK);
    assert_int_equal(check(CLI_VAL_REPO_OR_NONE, "nothing"), CL_EINVAL);
}

static void test_cli_value__github_issues(void **state)
{
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#123"), CL_OK);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#1"), CL_OK);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#2147483647"), CL_OK);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#2147483648"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#0"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#007"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#-1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#+1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api# 1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#12x"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme/api#1#2"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "acme#1"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "#1"), CL_EINVAL);
    assert_int_equal(cli_value_check(CLI_VAL_ISSUE, "ISSUE", "acme#1", &err), CL_EINVAL);
    assert_string_equal(err.msg, "ISSUE must be owner/repo#NUMBER or PROJ-NUMBER, not 'acme#1'");
}

/* Jira: issue keys PROJ-N, projects PROJ or PROJ/Issue Type (or none where allowed). */
static void test_cli_value__jira_keys_and_projects(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_ISSUE, "OPS-12"), CL_OK);
    assert_int_equal(check(CLI_VAL_ISSUE, "A_B2-1"), CL_OK);
    assert_int_equal(check(CLI_VAL_ISSUE, "OPS-0"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "OPS-012"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "ops-12"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "OPS-"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_ISSUE, "-12"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT, "OPS"), CL_OK);
    assert_int_equal(check(CLI_VAL_PROJECT, "OPS/New Feature"), CL_OK);
    assert_int_equal(check(CLI_VAL_PROJECT, "OPS/"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT, "OPS/a/b"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT, "9OPS"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT, "Ops"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT, "none"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_PROJECT_OR_NONE, "none"), CL_OK);
    assert_true(cli_value_is_none(CLI_VAL_PROJECT_OR_NONE, "none"));
}

static void test_cli_value__null_flags(void **state)
{
    (void)state;
    assert_int_equal(check(CLI_VAL_FLAG_NULL, NULL), CL_OK);
    assert_int_equal(check(CLI_VAL_FLAG_NULL, "x"), CL_EINVAL);
    assert_true(cli_value_is_flag(CLI_VAL_FLAG_NULL));
    assert_true(cli_value_is_flag(CLI_VAL_FLAG));
    assert_false(cli_value_is_flag(CLI_VAL_REPO));
    assert_true(cli_value_is_none(CLI_VAL_FLAG_NULL, "true"));
    assert_false(cli_value_is_none(CLI_VAL_FLAG_NULL, NULL));
    assert_false(cli_value_is_none(CLI_VAL_FLAG, "true"));
    assert_true(cli_value_is_none(CLI_VAL_REPO_OR_NONE, "none"));
    assert_false(cli_value_is_none(CLI_VAL_REPO, "none"));
}

static void test_cli_value__message_names_the_option_and_value(void **state)
{
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(cli_value_check(CLI_VAL_KIND, "--kind", "foo", &err), CL_EINVAL);
    assert_string_equal(err.msg, "--kind must be corrective or preventive, not 'foo'");
    assert_true(cli_value_is_none(CLI_VAL_DATE_OR_NONE, "none"));
    assert_false(cli_value_is_none(CLI_VAL_TEXT, "none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_value__enums),
        cmocka_unit_test(test_cli_value__status_lists),
        cmocka_unit_test(test_cli_value__dates_and_times),
        cmocka_unit_test(test_cli_value__numbers),
        cmocka_unit_test(test_cli_value__flags_and_empty),
        cmocka_unit_test(test_cli_value__length_is_bounded),
        cmocka_unit_test(test_cli_value__github_repositories),
        cmocka_unit_test(test_cli_value__github_issues),
        cmocka_unit_test(test_cli_value__jira_keys_and_projects),
        cmocka_unit_test(test_cli_value__null_flags),
        cmocka_unit_test(test_cli_value__message_names_the_option_and_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
