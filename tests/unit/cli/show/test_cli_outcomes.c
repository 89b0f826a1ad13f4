#include "closeloop/cli/show/cli_outcomes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TODAY 20795L /* 2026-12-08 */

static json_t *body_of(int argc, char *const *argv, int *rc)
{
    static struct cli_args a;
    struct cl_err err = CL_ERR_INIT;
    json_t *body = NULL;

    assert_int_equal(cli_args_parse_at(&a, argc, argv, cli_verbs, cli_verbs_len, TODAY, &err),
                     CL_OK);
    *rc = cli_outcomes_flags_body(&body, &a, TODAY, &err);
    return body;
}

static void test_cli_outcomes__flags_make_items_in_order(void **state)
{
    char *argv[] = {"closeloop",
                    "review",
                    "hold",
                    "INC-1",
                    "--outcome",
                    "7=not_done",
                    "--due",
                    "7=+14d",
                    "--outcome",
                    "3=not_effective",
                    "--follow-up",
                    "3=Try again",
                    "--follow-up-owner",
                    "3=bob",
                    "--follow-up-due",
                    "3=2026-12-24",
                    "--note",
                    "7=vendor late",
                    "--attended",
                    "alice, bob ,",
                    "--notes",
                    "ok"};
    int rc = -99;
    json_t *body = body_of((int)(sizeof(argv) / sizeof(argv[0])), argv, &rc);
    char *text;

    (void)state;
    assert_int_equal(rc, CL_OK);
    text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text,
        "{\"attended\":[\"alice\",\"bob\"],\"items\":[{\"action\":7,\"due_on\":\"2026-12-22\","
        "\"note\":\"vendor late\",\"outcome\":\"not_done\"},{\"action\":3,\"follow_up\":{"
        "\"due_on\":\"2026-12-24\",\"owner\":\"bob\",\"title\":\"Try again\"},\"outcome\":"
        "\"not_effective\"}],\"notes\":\"ok\"}");
    free(text);
    json_decref(body);
}

static void test_cli_outcomes__no_flags_no_body(void **state)
{
    char *argv[] = {"closeloop", "review", "hold", "INC-1", "--notes", "x"};
    int rc = -99;
    json_t *body = body_of(6, argv, &rc);

    (void)state;
    assert_int_equal(rc, CL_OK);
    assert_null(body);
}

static void test_cli_outcomes__bad_pairs_are_usage_errors(void **state)
{
    struct cli_args a;
    struct cl_err err = CL_ERR_INIT;
    char *argv[] = {"closeloop", "review", "hold", "INC-1", "--outcome", "x=effective"};
    char *argv2[] = {"closeloop", "review", "hold", "INC-1", "--outcome", "4="};

    (void)state;
    assert_int_equal(cli_args_parse_at(&a, 6, argv, cli_verbs, cli_verbs_len, TODAY, &err),
                     CL_EINVAL);
    assert_non_null(strstr(err.msg, "ID=VALUE"));
    cl_err_clear(&err);
    assert_int_equal(cli_args_parse_at(&a, 6, argv2, cli_verbs, cli_verbs_len, TODAY, &err),
                     CL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_outcomes__flags_make_items_in_order),
        cmocka_unit_test(test_cli_outcomes__no_flags_no_body),
        cmocka_unit_test(test_cli_outcomes__bad_pairs_are_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
