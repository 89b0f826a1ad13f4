#include "closeloop/cli/cli_help.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum level { TOP, GROUP, VERB };

static char *help(enum level level, const char *group, const char *verb)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    if (level == TOP)
        cli_help_top(out, cli_verbs, cli_verbs_len);
    else if (level == GROUP)
        cli_help_group(out, cli_verbs, cli_verbs_len, group);
    else
        cli_help_verb(out, cli_verbs_find(cli_verbs, cli_verbs_len, group, verb));
    fclose(out);
    return text;
}

static void test_cli_help__verb_lists_every_option(void **state)
{
    char *text = help(VERB, "action", "add");
    char needle[64];
    const struct cli_verb *v = cli_verbs_find(cli_verbs, cli_verbs_len, "action", "add");
    size_t i;

    (void)state;
    assert_true(strncmp(text,
                        "usage: closeloop action add --incident KEY --kind corrective|preventive "
                        "--title TITLE [options]\n",
                        strlen("usage: closeloop action add --incident KEY")) == 0);
    for (i = 0; i < cli_verbs_count(v->opts); i++) {
        snprintf(needle, sizeof(needle), "  --%s ", v->opts[i].name);
        assert_non_null(strstr(text, needle));
    }
    assert_non_null(strstr(text, "the incident it follows up (required)"));
    assert_null(strstr(text, "who owns it (required)"));
    free(text);
}

static void test_cli_help__verb_lists_positionals(void **state)
{
    char *text = help(VERB, "action", "assign");

    (void)state;
    assert_non_null(strstr(text, "usage: closeloop action assign ID HANDLE [options]\n"));
    assert_non_null(strstr(text, "arguments:\n  ID      action id\n"));
    assert_non_null(strstr(text, "  --if-version N  "));
    free(text);
}

static void test_cli_help__group_lists_only_its_verbs(void **state)
{
    char *text = help(GROUP, "person", NULL);

    (void)state;
    assert_non_null(strstr(text, "usage: closeloop person <verb>"));
    assert_non_null(strstr(text, "  person show HANDLE  show one person\n"));
    assert_null(strstr(text, "action"));
    free(text);
}

static void test_cli_help__top_lists_everything(void **state)
{
    char *text = help(TOP, NULL, NULL);
    size_t i;
    char needle[64];

    (void)state;
    for (i = 0; i < cli_verbs_len; i++) {
        snprintf(needle, sizeof(needle), "  %s %s", cli_verbs[i].group, cli_verbs[i].name);
        assert_non_null(strstr(text, needle));
    }
    assert_non_null(strstr(text, "--url URL"));
    assert_non_null(strstr(text, "exit codes: 0 ok; 1 rejected by the server, or a github doctor "
                                 "check failed;\n2 usage error"));
    free(text);
}

static void test_cli_help__github_verbs(void **state)
{
    char *text = help(GROUP, "github", NULL);

    (void)state;
    assert_non_null(strstr(text, "  github import REPO  turn labelled issues into actions"));
    assert_non_null(strstr(text, "  github doctor REPO  check access to a repository; exit 1"));
    free(text);
    text = help(VERB, "github", "import");
    assert_non_null(strstr(text, "usage: closeloop github import REPO --label LABEL "
                                 "--incident KEY\n"));
    assert_non_null(strstr(text, "  REPO  GitHub repository, owner/repo\n"));
    free(text);
    text = help(VERB, "action", "add");
    assert_non_null(strstr(text, "  --github OWNER/REPO           also open a GitHub issue"));
    assert_non_null(strstr(text, "  --no-github                   open no GitHub issue"));
    free(text);
    text = help(VERB, "action", "link");
    assert_non_null(strstr(text, "usage: closeloop action link ID ISSUE\n"));
    assert_non_null(
        strstr(text, "  ISSUE  an existing issue: GitHub owner/repo#123 or Jira PROJ-123\n"));
    free(text);
    text = help(VERB, "team", "edit");
    assert_non_null(strstr(text, "  --github OWNER/REPO|none  "));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_help__verb_lists_every_option),
        cmocka_unit_test(test_cli_help__verb_lists_positionals),
        cmocka_unit_test(test_cli_help__group_lists_only_its_verbs),
        cmocka_unit_test(test_cli_help__top_lists_everything),
        cmocka_unit_test(test_cli_help__github_verbs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
