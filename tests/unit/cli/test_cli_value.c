#include "closeloop/cli/cli_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    assert_int_equal(check(CLI_VAL_KIND, "Corrective"), CL_OK);
    assert_int_equal(check(CLI_VAL_KIND, "Correct"), CL_EINVAL);
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
    assert_int_equal(check(CLI_VAL_DATE_OR_NONE, "tomorrow"), CL_OK);
    assert_int_equal(check(CLI_VAL_DATE_OR_NONE, "next week"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01T10:00:00Z"), CL_OK);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01"), CL_OK);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01T10:00:00"), CL_OK);
    assert_int_equal(check(CLI_VAL_TIME, "2024-05-01 10"), CL_EINVAL);
    assert_int_equal(check(CLI_VAL_TIME_OR_NONE, "none"), CL_OK);
}

/* The form value is sent as, read on 2026-12-06 (day 20793); "" when it is refused. */
static const char *sent(enum cli_val type, const char *value)
{
    static char buf[CLI_VALUE_NORM_MAX];
    static char last[CLI_VALUE_NORM_MAX];
    struct cl_err err = CL_ERR_INIT;
    const char *out = NULL;

    if (cli_value_read(&out, buf, type, "--x", value, 20793, &err) != CL_OK)
        return "";
    snprintf(last, sizeof(last), "%s", out);
    return last;
}

static void test_cli_value__enums_are_rewritten_in_their_own_case(void **state)
{
    (void)state;
    assert_string_equal(sent(CLI_VAL_PRIORITY, "p1"), "P1");
    assert_string_equal(sent(CLI_VAL_SEVERITY, "sev2"), "SEV2");
    assert_string_equal(sent(CLI_VAL_SEVERITY_OR_NONE, "Sev5"), "SEV5");
    assert_string_equal(sent(CLI_VAL_KIND, "PREVENTIVE"), "preventive");
    assert_string_equal(sent(CLI_VAL_BOOL, "False"), "false");
    assert_string_equal(sent(CLI_VAL_FORMAT, "CSV"), "csv");
    assert_string_equal(sent(CLI_VAL_STATUSES, "IN_PROGRESS,Blocked,wont-do"),
                        "in_progress,blocked,wont_do");
    assert_string_equal(sent(CLI_VAL_STATUSES, "in_progres"), "");
    assert_string_equal(sent(CLI_VAL_PRIORITY, "p 1"), "");
    assert_string_equal(sent(CLI_VAL_TEXT, "Alice"), "Alice"); /* open text stays as typed */
}

static void test_cli_value__dates_are_rewritten_from_today(void **state)
{
    (void)state;
    assert_string_equal(sent(CLI_VAL_DATE, "today"), "2026-12-06"); /* a Sunday */
    assert_string_equal(sent(CLI_VAL_DATE, "TOMORROW"), "2026-12-07");
    assert_string_equal(sent(CLI_VAL_DATE, "+7d"), "2026-12-13");
    assert_string_equal(sent(CLI_VAL_DATE_OR_NONE, "+2w"), "2026-12-20");
    assert_string_equal(sent(CLI_VAL_DATE, "fri"), "2026-12-11");
    assert_string_equal(sent(CLI_VAL_DATE, "sunday"), "2026-12-13"); /* strictly after today */
    assert_string_equal(sent(CLI_VAL_DATE, "2027-01-31"), "2027-01-31");
    assert_string_equal(sent(CLI_VAL_DATE_OR_NONE, "none"), "none");
    assert_string_equal(sent(CLI_VAL_DATE, "+1m"), "");
}

static void test_cli_value__errors_name_the_flag_and_the_shapes(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char buf[CLI_VALUE_NORM_MAX];
    const char *out = "untouched";

    (void)state;
    assert_int_equal(cli_value_read(&out, buf, CLI_VAL_DATE, "--due", "+1m", 20793, &err),
                     CL_EINVAL);
    assert_string_equal(out, "untouched");
    assert_non_null(strstr(err.msg, "--due cannot count months or years"));
    assert_non_null(strstr(err.msg, "+30d or +4w, not '+1m'"));
    err = (struct cl_err)CL_ERR_INIT;
    cli_value_read(&out, buf, CLI_VAL_DATE, "--due-before", "soon", 20793, &err);
    assert_string_equal(err.msg, "--due-before must be YYYY-MM-DD, today, tomorrow, yesterday, "
                                 "+Nd, +Nw or a weekday (fri), not 'soon'");
    err = (struct cl_err)CL_ERR_INIT;
    cli_value_read(&out, buf, CLI_VAL_TIME, "--started", "noon", 20793, &err);
    assert_string_equal(err.msg, "--started must be RFC 3339 (2026-11-18T09:30:00Z), YYYY-MM-DD "
                                 "or YYYY-MM-DD HH:MM, not 'noon'");
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
        cmocka_unit_test(test_cli_value__enums_are_rewritten_in_their_own_case),
        cmocka_unit_test(test_cli_value__dates_are_rewritten_from_today),
        cmocka_unit_test(test_cli_value__errors_name_the_flag_and_the_shapes),
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
