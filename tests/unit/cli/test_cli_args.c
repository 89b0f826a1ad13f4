#include "closeloop/cli/cli_args.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define ARGV(...) ((char *const[]){"closeloop", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *const[]){"closeloop", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(a, err, ...)                                                                         \
    cli_args_parse((a), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cli_verbs, cli_verbs_len, (err))

static void test_cli_args__globals_anywhere(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(PARSE(&a, &err, "--json", "action", "--url", "http://h:1", "list", "--token",
                           "t0k", "--overdue", "--owner", "alice"),
                     CL_OK);
    assert_true(a.json);
    assert_string_equal(a.url, "http://h:1");
    assert_string_equal(a.token, "t0k");
    assert_string_equal(a.verb->name, "list");
    assert_string_equal(cli_args_get(&a, "overdue"), "true");
    assert_string_equal(cli_args_get(&a, "owner"), "alice");
    assert_null(cli_args_get(&a, "team"));
    assert_null(cli_args_get(&a, "nonsense"));
}

static void test_cli_args__equals_form_and_positionals(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(
        PARSE(&a, &err, "action", "edit", "12", "--due=none", "--title=a=b", "--if-version", "3"),
        CL_OK);
    assert_int_equal(a.npos, 1);
    assert_string_equal(a.pos[0], "12");
    assert_string_equal(cli_args_get(&a, "due"), "none");
    assert_string_equal(cli_args_get(&a, "title"), "a=b");
    assert_string_equal(cli_args_get(&a, "if-version"), "3");
}

static void test_cli_args__dash_values_and_double_dash(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(PARSE(&a, &err, "action", "add", "--incident", "INC-1", "--kind", "corrective",
                           "--title", "--not-an-option", "--description", "-"),
                     CL_OK);
    assert_string_equal(cli_args_get(&a, "title"), "--not-an-option");
    assert_string_equal(cli_args_get(&a, "description"), "-");
    assert_int_equal(PARSE(&a, &err, "action", "assign", "7", "--", "-odd-handle"), CL_OK);
    assert_string_equal(a.pos[1], "-odd-handle");
}

/* Each bad line must fail with the given message. */
static void expect_usage(int argc, char *const *argv, const char *msg)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    assert_int_equal(cli_args_parse(&a, argc, argv, cli_verbs, cli_verbs_len, &err), CL_EINVAL);
    assert_string_equal(err.msg, msg);
}
#define EXPECT_USAGE(msg, ...) expect_usage(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (msg))

static void test_cli_args__usage_errors(void **state)
{
    (void)state;
    EXPECT_USAGE("unknown command 'frob'", "frob");
    EXPECT_USAGE("unknown verb 'frob' for action", "action", "frob");
    EXPECT_USAGE("missing verb for team", "team");
    EXPECT_USAGE("unknown option --colour", "action", "list", "--colour");
    EXPECT_USAGE("unknown option --owner", "action", "--owner", "x", "list");
    EXPECT_USAGE("unknown option -x", "action", "list", "-x");
    EXPECT_USAGE("--owner needs a value", "action", "list", "--owner");
    EXPECT_USAGE("--owner is given twice", "action", "list", "--owner", "a", "--owner", "b");
    EXPECT_USAGE("--overdue takes no value", "action", "list", "--overdue=yes");
    EXPECT_USAGE("--json takes no value", "action", "list", "--json=1");
    EXPECT_USAGE("unexpected argument 'extra'", "action", "show", "1", "extra");
    EXPECT_USAGE("missing ID", "action", "show");
    EXPECT_USAGE("missing HANDLE", "action", "assign", "3");
    EXPECT_USAGE("missing --title", "action", "add", "--incident", "I", "--kind", "preventive");
    EXPECT_USAGE("--kind must be corrective or preventive, not 'foo'", "action", "add",
                 "--incident", "I", "--kind", "foo", "--title", "t");
    EXPECT_USAGE("ID must be a whole number >= 1, not 'abc'", "action", "show", "abc");
    EXPECT_USAGE(
        "--due must be YYYY-MM-DD, today, tomorrow, yesterday, +Nd, +Nw or a weekday (fri), "
        "not '2024-02-30'",
        "action", "edit", "1", "--due", "2024-02-30");
    EXPECT_USAGE("--url needs a value", "team", "list", "--url");
}

static void test_cli_args__github_options(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(PARSE(&a, &err, "action", "add", "--incident", "I", "--kind", "corrective",
                           "--title", "t", "--no-github"),
                     CL_OK);
    assert_string_equal(cli_args_get(&a, "no-github"), "true");
    assert_null(cli_args_get(&a, "github"));
    assert_int_equal(PARSE(&a, &err, "action", "link", "4", "acme/api#12"), CL_OK);
    assert_string_equal(a.pos[1], "acme/api#12");
    assert_int_equal(PARSE(&a, &err, "team", "edit", "sre", "--github", "none"), CL_OK);
    assert_int_equal(PARSE(&a, &err, "github", "import", "acme/api", "--label", "postmortem",
                           "--incident", "INC-1"),
                     CL_OK);
    assert_string_equal(a.pos[0], "acme/api");
    assert_int_equal(PARSE(&a, &err, "sync", "status"), CL_OK);
}

static void test_cli_args__github_usage_errors(void **state)
{
    (void)state;
    EXPECT_USAGE("--github and --no-github cannot be used together", "action", "add", "--github",
                 "acme/api", "--incident", "I", "--kind", "corrective", "--title", "t",
                 "--no-github");
    EXPECT_USAGE("--no-github takes no value", "action", "add", "--no-github=yes");
    EXPECT_USAGE("--github must be owner/repo, not 'acme'", "action", "add", "--incident", "I",
                 "--kind", "corrective", "--title", "t", "--github", "acme");
    EXPECT_USAGE("--github must be owner/repo, not 'none'", "team", "add", "sre", "--github",
                 "none");
    EXPECT_USAGE("--github must be owner/repo, not 'a/b/c'", "incident", "edit", "INC-1",
                 "--github", "a/b/c");
    EXPECT_USAGE("unknown option --no-github", "action", "edit", "1", "--no-github");
    EXPECT_USAGE("missing ISSUE", "action", "link", "3");
    EXPECT_USAGE("ISSUE must be owner/repo#NUMBER or PROJ-NUMBER, not 'acme/api'", "action", "link",
                 "3", "acme/api");
    EXPECT_USAGE("ID must be a whole number >= 1, not 'x'", "action", "link", "x", "a/b#1");
    EXPECT_USAGE("missing NAME", "team", "edit");
    EXPECT_USAGE("missing REPO", "github", "doctor");
    EXPECT_USAGE("REPO must be owner/repo, not 'acme'", "github", "doctor", "acme");
    EXPECT_USAGE("missing --label", "github", "import", "acme/api", "--incident", "INC-1");
    EXPECT_USAGE("missing --incident", "github", "import", "acme/api", "--label", "l");
    EXPECT_USAGE("unexpected argument 'now'", "sync", "status", "now");
    EXPECT_USAGE("unknown verb 'frob' for github", "github", "frob");
}

static void test_cli_args__first_error_wins(void **state)
{
    (void)state;
    EXPECT_USAGE("unknown option --a", "action", "list", "--a", "--b");
}

static void test_cli_args__help_survives_errors(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(PARSE(&a, &err, "action", "add", "--kind", "foo", "--help"), CL_EINVAL);
    assert_true(a.help);
    assert_string_equal(a.verb->name, "add");
    /* with --help, missing pieces are not errors */
    assert_int_equal(PARSE(&a, &err, "action", "-h"), CL_OK);
    assert_true(a.help);
    assert_string_equal(a.group, "action");
    assert_null(a.verb);
    assert_int_equal(PARSE(&a, &err, "--version"), CL_OK);
    assert_true(a.version);
}

static void test_cli_args__lengths_are_bounded(void **state)
{
    char url[CLI_ARGS_URL_MAX + 2];
    char *argv[CLI_ARGS_ARGC_MAX + 2];
    int i;

    (void)state;
    memset(url, 'u', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    EXPECT_USAGE("--url is longer than 2048 bytes", "team", "list", "--url", url);
    for (i = 0; i < CLI_ARGS_ARGC_MAX + 1; i++)
        argv[i] = "team";
    argv[i] = NULL;
    expect_usage(CLI_ARGS_ARGC_MAX + 1, argv, "more than 128 arguments");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_args__globals_anywhere),
        cmocka_unit_test(test_cli_args__equals_form_and_positionals),
        cmocka_unit_test(test_cli_args__dash_values_and_double_dash),
        cmocka_unit_test(test_cli_args__usage_errors),
        cmocka_unit_test(test_cli_args__github_options),
        cmocka_unit_test(test_cli_args__github_usage_errors),
        cmocka_unit_test(test_cli_args__first_error_wins),
        cmocka_unit_test(test_cli_args__help_survives_errors),
        cmocka_unit_test(test_cli_args__lengths_are_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
