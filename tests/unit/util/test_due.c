#include "closeloop/util/due.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_due__defaults(void **state)
{
    struct due_policy p;

    (void)state;
    due_policy_init(&p);
    assert_int_equal(due_policy_days(&p, "corrective", "P0"), 7);
    assert_int_equal(due_policy_days(&p, "preventive", "P1"), 14);
    assert_int_equal(due_policy_days(&p, "corrective", "P2"), 30);
    assert_int_equal(due_policy_days(&p, "corrective", "P3"), 60);
    assert_int_equal(due_policy_days(&p, "preventive", "P4"), DUE_NONE);
    assert_int_equal(due_policy_days(&p, "other", "P1"), DUE_NONE);
    assert_int_equal(due_policy_days(&p, "corrective", "P9"), DUE_NONE);
}

static void test_due__kind_beats_priority_whatever_the_order(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct due_policy p;

    (void)state;
    due_policy_init(&p);
    assert_int_equal(due_policy_set(&p, "preventive.P1", "6w", "f:3", &err), CL_OK);
    assert_int_equal(due_policy_set(&p, "P1", "3d", "f:4", &err), CL_OK);
    assert_int_equal(due_policy_set(&p, "P4", "0d", "f:5", &err), CL_OK);
    assert_int_equal(due_policy_set(&p, "corrective.P0", "none", "f:6", &err), CL_OK);
    assert_int_equal(due_policy_days(&p, "preventive", "P1"), 42);
    assert_int_equal(due_policy_days(&p, "corrective", "P1"), 3);
    assert_int_equal(due_policy_days(&p, "corrective", "P4"), 0);
    assert_int_equal(due_policy_days(&p, "corrective", "P0"), DUE_NONE);
    assert_int_equal(due_policy_days(&p, "preventive", "P0"), 7);
}

static void test_due__bad_keys_and_values_name_where_and_what(void **state)
{
    static const char *const bad[][2] = {
        {"P5", "3d"},  {"p1", "3d"}, {"urgent.P1", "3d"}, {"P1", "3"},    {"P1", "3h"},
        {"P1", "-1d"}, {"P1", ""},   {"P1", "3651d"},     {"P1", "522w"}, {"P1", "d"}};
    struct due_policy p;
    size_t i;

    (void)state;
    due_policy_init(&p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cl_err err = CL_ERR_INIT;

        assert_int_equal(due_policy_set(&p, bad[i][0], bad[i][1], "x.ini:7", &err), CL_EINVAL);
        assert_non_null(strstr(err.msg, "x.ini:7: "));
        assert_non_null(strstr(err.msg, bad[i][0]));
    }
    assert_int_equal(due_policy_days(&p, "corrective", "P1"), 14); /* nothing changed */
}

static void test_due__json_resolves_every_pair(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct due_policy p;
    char *json;

    (void)state;
    due_policy_init(&p);
    assert_int_equal(due_policy_set(&p, "preventive.P2", "2w", "f", &err), CL_OK);
    json = due_policy_json(&p);
    assert_string_equal(json, "{\"corrective\":{\"P0\":7,\"P1\":14,\"P2\":30,\"P3\":60,"
                              "\"P4\":null},\"preventive\":{\"P0\":7,\"P1\":14,\"P2\":14,"
                              "\"P3\":60,\"P4\":null}}");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due__defaults),
        cmocka_unit_test(test_due__kind_beats_priority_whatever_the_order),
        cmocka_unit_test(test_due__bad_keys_and_values_name_where_and_what),
        cmocka_unit_test(test_due__json_resolves_every_pair),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
