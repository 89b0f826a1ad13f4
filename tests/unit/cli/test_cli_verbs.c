#include "closeloop/cli/cli_verbs.h"

#include "closeloop/cli/cli_args.h"
#include "closeloop/cli/cli_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_cli_verbs__find_and_groups(void **state)
{
    const struct cli_verb *v;

    (void)state;
    v = cli_verbs_find(cli_verbs, cli_verbs_len, "action", "assign");
    assert_non_null(v);
    assert_string_equal(v->suffix, "assign");
    assert_null(cli_verbs_find(cli_verbs, cli_verbs_len, "action", "frob"));
    assert_null(cli_verbs_find(cli_verbs, cli_verbs_len, "team", "show"));
    assert_true(cli_verbs_has_group(cli_verbs, cli_verbs_len, "incident"));
    assert_true(cli_verbs_has_group(cli_verbs, cli_verbs_len, "review"));
    assert_false(cli_verbs_has_group(cli_verbs, cli_verbs_len, "meeting"));
}

/* The parser indexes option values by position and has fixed room for them. */
static void test_cli_verbs__table_fits_the_parser(void **state)
{
    size_t i;
    size_t j;

    (void)state;
    assert_true(cli_verbs_len > 0);
    for (i = 0; i < cli_verbs_len; i++) {
        for (j = i + 1; j < cli_verbs_len; j++) /* each verb once: find() takes the first */
            assert_false(strcmp(cli_verbs[i].group, cli_verbs[j].group) == 0 &&
                         strcmp(cli_verbs[i].name, cli_verbs[j].name) == 0);
        assert_true(cli_verbs_count(cli_verbs[i].opts) <= CLI_ARGS_OPTS_MAX);
        assert_true(cli_verbs_count(cli_verbs[i].pos) <= CLI_ARGS_POS_MAX);
        assert_non_null(cli_verbs[i].coll);
        assert_true(cli_verbs[i].op != CLI_OP_LIST || cli_verbs[i].limit > 0);
    }
}

static void check_opts(const struct cli_verb *v, const struct cli_opt *list)
{
    size_t n = cli_verbs_count(list);
    size_t i;
    size_t j;

    for (i = 0; i < n; i++) {
        bool needs_field = list[i].dest == CLI_TO_BODY || list[i].dest == CLI_TO_QUERY;

        if (needs_field && list[i].field == NULL)
            fail_msg("%s %s: %s has no field", v->group, v->name, list[i].name);
        if (list == v->opts && cli_value_is_flag(list[i].type) != (list[i].meta == NULL))
            fail_msg("%s %s: --%s meta does not match its type", v->group, v->name, list[i].name);
        for (j = i + 1; j < n; j++)
            assert_string_not_equal(list[i].name, list[j].name);
    }
}

static void test_cli_verbs__entries_are_complete_and_unique(void **state)
{
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; i < cli_verbs_len; i++) {
        check_opts(&cli_verbs[i], cli_verbs[i].opts);
        check_opts(&cli_verbs[i], cli_verbs[i].pos);
        for (j = i + 1; j < cli_verbs_len; j++) {
            assert_false(strcmp(cli_verbs[i].group, cli_verbs[j].group) == 0 &&
                         strcmp(cli_verbs[i].name, cli_verbs[j].name) == 0);
        }
    }
}

/* Only the import waits on GitHub long enough to need more than the default budget. */
/* The imports wait on a tracker for minutes; nothing else does. */
static void test_cli_verbs__slow_verbs_get_a_longer_timeout(void **state)
{
    const struct cli_verb *gh = cli_verbs_find(cli_verbs, cli_verbs_len, "github", "import");
    const struct cli_verb *jira = cli_verbs_find(cli_verbs, cli_verbs_len, "jira", "import");
    size_t i;

    (void)state;
    assert_non_null(gh);
    assert_non_null(jira);
    assert_int_equal(gh->timeout_s, 300);
    assert_int_equal(jira->timeout_s, 300);
    for (i = 0; i < cli_verbs_len; i++) {
        if (&cli_verbs[i] != gh && &cli_verbs[i] != jira)
            assert_int_equal(cli_verbs[i].timeout_s, 0);
    }
}

static void test_cli_verbs__github_verbs_are_routed(void **state)
{
    const struct cli_verb *v;

    (void)state;
    v = cli_verbs_find(cli_verbs, cli_verbs_len, "action", "link");
    assert_non_null(v);
    assert_int_equal(v->op, CLI_OP_POST);
    assert_int_equal(v->res, CLI_RES_ACTION);
    v = cli_verbs_find(cli_verbs, cli_verbs_len, "sync", "status");
    assert_non_null(v);
    assert_int_equal(v->op, CLI_OP_SHOW);
    assert_int_equal(v->res, CLI_RES_SYNC);
    v = cli_verbs_find(cli_verbs, cli_verbs_len, "github", "doctor");
    assert_non_null(v);
    assert_int_equal(v->op, CLI_OP_POST);
    assert_int_equal(v->res, CLI_RES_DOCTOR);
    v = cli_verbs_find(cli_verbs, cli_verbs_len, "team", "edit");
    assert_non_null(v);
    assert_int_equal(v->op, CLI_OP_EDIT);
}

static void test_cli_verbs__count_stops_at_the_end_marker(void **state)
{
    static const struct cli_opt two[] = {
        {"a", "A", "", CLI_VAL_TEXT, CLI_TO_BODY, "a", false},
        {"b", NULL, "", CLI_VAL_FLAG, CLI_TO_QUERY, "b", false},
        {NULL, NULL, NULL, CLI_VAL_FLAG, CLI_TO_LOCAL, NULL, false}};

    (void)state;
    assert_int_equal(cli_verbs_count(two), 2);
    assert_int_equal(cli_verbs_count(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_verbs__find_and_groups),
        cmocka_unit_test(test_cli_verbs__table_fits_the_parser),
        cmocka_unit_test(test_cli_verbs__entries_are_complete_and_unique),
        cmocka_unit_test(test_cli_verbs__slow_verbs_get_a_longer_timeout),
        cmocka_unit_test(test_cli_verbs__github_verbs_are_routed),
        cmocka_unit_test(test_cli_verbs__count_stops_at_the_end_marker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
