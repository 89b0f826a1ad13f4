#include "closeloop/cli/cli_build.h"

#include "closeloop/cli/cli_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ARGV(...) ((char *const[]){"closeloop", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *const[]){"closeloop", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(a, ...)                                                                              \
    assert_int_equal(                                                                              \
        cli_args_parse((a), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cli_verbs, cli_verbs_len, NULL), \
        CL_OK)

/* The body built from a, as sorted compact JSON; in may be NULL. Caller frees. */
static char *body_of(const struct cli_args *a, FILE *in)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *body = NULL;
    char *text;

    if (cli_build_body(&body, a, in, &err) != CL_OK)
        fail_msg("cli_build_body: %s", err.msg);
    text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    return text;
}

static void expect_body(const struct cli_args *a, const char *want)
{
    char *got = body_of(a, NULL);

    assert_string_equal(got, want);
    free(got);
}

static void test_cli_build__add_sends_only_given_fields(void **state)
{
    struct cli_args a;

    (void)state;
    PARSE(&a, "action", "add", "--incident", "INC-1", "--kind", "corrective", "--title", "Fix");
    expect_body(&a, "{\"incident\":\"INC-1\",\"kind\":\"corrective\",\"title\":\"Fix\"}");
    PARSE(&a, "action", "add", "--title", "T", "--incident", "I", "--kind", "preventive", "--owner",
          "al", "--due", "2024-05-01", "--priority", "P1", "--description", "*md*");
    expect_body(&a, "{\"description\":\"*md*\",\"due_on\":\"2024-05-01\",\"incident\":\"I\","
                    "\"kind\":\"preventive\",\"owner\":\"al\",\"priority\":\"P1\","
                    "\"title\":\"T\"}");
}

static void test_cli_build__edit_none_is_null_and_version_is_not_a_field(void **state)
{
    struct cli_args a;

    (void)state;
    PARSE(&a, "action", "edit", "42", "--due", "none", "--kind", "preventive", "--if-version", "7");
    expect_body(&a, "{\"due_on\":null,\"kind\":\"preventive\"}");
    PARSE(&a, "action", "edit", "42", "--due", "2024-12-31");
    expect_body(&a, "{\"due_on\":\"2024-12-31\"}");
    PARSE(&a, "action", "edit", "42", "--if-version", "7");
    expect_body(&a, "{}");
    PARSE(&a, "incident", "edit", "INC-2", "--resolved", "none", "--severity", "none");
    expect_body(&a, "{\"resolved_at\":null,\"severity\":null}");
}

static void test_cli_build__positionals_booleans_and_posts(void **state)
{
    struct cli_args a;

    (void)state;
    PARSE(&a, "person", "edit", "alice", "--active", "false", "--tz", "Europe/Paris");
    expect_body(&a, "{\"active\":false,\"timezone\":\"Europe/Paris\"}");
    PARSE(&a, "person", "add", "bob", "--name", "Bob B", "--email", "b@x", "--jira-account", "j1");
    expect_body(&a, "{\"email\":\"b@x\",\"handle\":\"bob\",\"jira_account_id\":\"j1\","
                    "\"name\":\"Bob B\"}");
    PARSE(&a, "action", "assign", "5", "carol");
    expect_body(&a, "{\"owner\":\"carol\"}");
    PARSE(&a, "action", "done", "5");
    expect_body(&a, "{}");
    PARSE(&a, "team", "add", "sre", "--manager", "dana");
    expect_body(&a, "{\"manager\":\"dana\",\"name\":\"sre\"}");
}

static void test_cli_build__github_fields(void **state)
{
    struct cli_args a;

    (void)state;
    PARSE(&a, "action", "add", "--incident", "I", "--kind", "corrective", "--title", "T",
          "--github", "acme/api");
    expect_body(&a, "{\"github\":\"acme/api\",\"incident\":\"I\",\"kind\":\"corrective\","
                    "\"title\":\"T\"}");
    PARSE(&a, "action", "add", "--no-github", "--incident", "I", "--kind", "corrective", "--title",
          "T");
    expect_body(&a, "{\"github\":null,\"incident\":\"I\",\"kind\":\"corrective\","
                    "\"title\":\"T\"}");
    PARSE(&a, "action", "link", "5", "acme/api#12");
    expect_body(&a, "{\"issue\":\"acme/api#12\"}"); /* the server knows whose it is */
    PARSE(&a, "action", "link", "5", "OPS-12");
    expect_body(&a, "{\"issue\":\"OPS-12\"}");
    PARSE(&a, "team", "edit", "sre", "--jira", "OPS/Bug");
    expect_body(&a, "{\"jira_project\":\"OPS/Bug\"}");
    PARSE(&a, "action", "add", "--incident", "I-1", "--kind", "corrective", "--title", "t",
          "--jira", "none");
    expect_body(&a, "{\"incident\":\"I-1\",\"jira\":null,\"kind\":\"corrective\",\"title\":\"t\"}");
    PARSE(&a, "jira", "import", "OPS", "--jql", "labels = pm", "--incident", "I-1");
    expect_body(&a, "{\"incident\":\"I-1\",\"jql\":\"labels = pm\",\"project\":\"OPS\"}");
    PARSE(&a, "team", "add", "sre", "--github", "acme/ops");
    expect_body(&a, "{\"github_repo\":\"acme/ops\",\"name\":\"sre\"}");
    PARSE(&a, "team", "edit", "sre", "--name", "SRE", "--manager", "dana", "--github", "none");
    expect_body(&a, "{\"github_repo\":null,\"manager\":\"dana\",\"name\":\"SRE\"}");
    PARSE(&a, "incident", "add", "INC-3", "--title", "Down", "--github", "acme/api");
    expect_body(&a, "{\"github_repo\":\"acme/api\",\"key\":\"INC-3\",\"title\":\"Down\"}");
    PARSE(&a, "incident", "edit", "INC-3", "--github", "acme/web");
    expect_body(&a, "{\"github_repo\":\"acme/web\"}");
    PARSE(&a, "github", "import", "acme/api", "--label", "post mortem", "--incident", "INC-1");
    expect_body(&a, "{\"incident\":\"INC-1\",\"label\":\"post mortem\",\"repo\":\"acme/api\"}");
    PARSE(&a, "github", "doctor", "acme/api");
    expect_body(&a, "{\"repo\":\"acme/api\"}");
}

static void test_cli_build__description_from_stdin(void **state)
{
    static char text[] = "# Why\n\nbecause\n";
    struct cli_args a;
    FILE *in = fmemopen(text, strlen(text), "r");
    char *got;

    (void)state;
    PARSE(&a, "action", "edit", "1", "--description", "-");
    got = body_of(&a, in);
    assert_string_equal(got, "{\"description\":\"# Why\\n\\nbecause\\n\"}");
    free(got);
    fclose(in);
}

static void expect_body_error(const struct cli_args *a, FILE *in, const char *msg)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *body = NULL;

    assert_int_equal(cli_build_body(&body, a, in, &err), CL_EINVAL);
    assert_null(body);
    assert_string_equal(err.msg, msg);
}

static void test_cli_build__bad_text_is_refused(void **state)
{
    static char nul[] = {'a', '\0', 'b'};
    size_t big = CLI_VALUE_DESC_MAX + 1;
    char *huge = malloc(big);
    struct cli_args a;
    FILE *in;

    (void)state;
    PARSE(&a, "action", "edit", "1", "--title", "bad \xff utf8");
    expect_body_error(&a, NULL, "title is not valid UTF-8 text");
    PARSE(&a, "action", "edit", "1", "--description", "-");
    in = fmemopen(nul, sizeof(nul), "r");
    expect_body_error(&a, in, "--description -: stdin contains a NUL byte");
    fclose(in);
    memset(huge, 'x', big);
    in = fmemopen(huge, big, "r");
    expect_body_error(&a, in, "--description -: stdin is longer than 262144 bytes");
    fclose(in);
    free(huge);
}

static void expect_path(const struct cli_args *a, const char *want)
{
    char *got = cli_build_path(a);

    assert_string_equal(got, want);
    free(got);
}

static void test_cli_build__paths(void **state)
{
    struct cli_args a;

    (void)state;
    PARSE(&a, "action", "show", "5");
    expect_path(&a, "/api/v1/actions/5");
    PARSE(&a, "action", "history", "5");
    expect_path(&a, "/api/v1/actions/5/history");
    PARSE(&a, "action", "assign", "5", "bob");
    expect_path(&a, "/api/v1/actions/5/assign");
    PARSE(&a, "action", "list");
    expect_path(&a, "/api/v1/actions");
    PARSE(&a, "person", "show", "a b/../c");
    expect_path(&a, "/api/v1/people/a%20b%2F..%2Fc");
    PARSE(&a, "person", "add", "x", "--name", "n", "--email", "e");
    expect_path(&a, "/api/v1/people"); /* the handle goes into the body */
    PARSE(&a, "action", "link", "5", "acme/api#12");
    expect_path(&a, "/api/v1/actions/5/link"); /* the issue goes into the body */
    PARSE(&a, "team", "edit", "sre team", "--name", "sre");
    expect_path(&a, "/api/v1/teams/sre%20team");
    PARSE(&a, "sync", "status");
    expect_path(&a, "/api/v1/sync/status");
    PARSE(&a, "github", "import", "acme/api", "--label", "l", "--incident", "I");
    expect_path(&a, "/api/v1/github/import");
    PARSE(&a, "github", "doctor", "acme/api");
    expect_path(&a, "/api/v1/github/doctor");
}

static void test_cli_build__query_and_if_match(void **state)
{
    struct cli_args a;
    char *q;
    char *m;

    (void)state;
    PARSE(&a, "action", "list", "--status", "open,blocked", "--owner", "a b&c", "--overdue",
          "--due-before", "2024-01-01", "--limit", "5");
    q = cli_build_query(&a);
    assert_string_equal(q, "status=open,blocked&owner=a%20b%26c&overdue=true&"
                           "due_before=2024-01-01");
    free(q);
    PARSE(&a, "team", "list");
    q = cli_build_query(&a);
    assert_string_equal(q, "");
    free(q);
    /* action list: open work unless --status or --all */
    PARSE(&a, "action", "list", "--team", "sre");
    q = cli_build_query(&a);
    assert_string_equal(q, "team=sre&status=open,in_progress,blocked");
    free(q);
    PARSE(&a, "action", "list", "--all");
    q = cli_build_query(&a);
    assert_string_equal(q, "");
    free(q);
    PARSE(&a, "action", "list", "--status", "done");
    q = cli_build_query(&a);
    assert_string_equal(q, "status=done");
    free(q);
    PARSE(&a, "action", "done", "3", "--if-version", "12");
    m = cli_build_if_match(&a);
    assert_string_equal(m, "\"12\"");
    free(m);
    PARSE(&a, "action", "done", "3");
    assert_null(cli_build_if_match(&a));
}

static void test_cli_build__escape(void **state)
{
    char *e = cli_build_escape("a/b?c&d=\xc3\xa9 ~_.-,%");

    (void)state;
    assert_string_equal(e, "a%2Fb%3Fc%26d%3D%C3%A9%20~_.-,%25");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_build__add_sends_only_given_fields),
        cmocka_unit_test(test_cli_build__edit_none_is_null_and_version_is_not_a_field),
        cmocka_unit_test(test_cli_build__positionals_booleans_and_posts),
        cmocka_unit_test(test_cli_build__github_fields),
        cmocka_unit_test(test_cli_build__description_from_stdin),
        cmocka_unit_test(test_cli_build__bad_text_is_refused),
        cmocka_unit_test(test_cli_build__paths),
        cmocka_unit_test(test_cli_build__query_and_if_match),
        cmocka_unit_test(test_cli_build__escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
