#include "closeloop/util/policy/remind_policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

/* The policy as SQL reads it, parsed. */
static json_t *policy_json(const struct remind_policy *p)
{
    char *s = remind_policy_json(p);
    json_t *o = json_loads(s, 0, NULL);

    free(s);
    assert_non_null(o);
    return o;
}

static json_int_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void test_remind_policy__defaults(void **state)
{
    struct remind_policy p;
    json_t *o;
    json_t *d;

    (void)state;
    remind_policy_init(&p);
    o = policy_json(&p);
    d = json_object_get(o, "default");
    assert_int_equal(num(d, "before_days"), 3);
    assert_int_equal(num(d, "overdue_every_days"), 7);
    assert_int_equal(num(d, "escalate_after_days"), 7);
    assert_int_equal(num(d, "budget"), 3);
    assert_int_equal(num(d, "quiet_from"), 20);
    assert_int_equal(num(d, "quiet_to"), 8);
    assert_int_equal(json_array_size(json_object_get(d, "working_days")), 5);
    assert_string_equal(json_string_value(json_object_get(d, "where")), "email");
    assert_int_equal(json_object_size(json_object_get(o, "teams")), 0);
    json_decref(o);
}

static void test_remind_policy__team_inherits_what_it_does_not_set(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct remind_policy p;
    json_t *o;
    json_t *t;

    (void)state;
    remind_policy_init(&p);
    assert_int_equal(remind_policy_set(&p, "pay.budget", "1", "f:2", &err), CL_OK);
    assert_int_equal(remind_policy_set(&p, "pay.quiet", "off", "f:3", &err), CL_OK);
    assert_int_equal(remind_policy_set(&p, "before", "1w", "f:5", &err), CL_OK); /* after */
    assert_int_equal(remind_policy_set(&p, "where", "tracker", "f:6", &err), CL_OK);
    o = policy_json(&p);
    t = json_object_get(json_object_get(o, "teams"), "pay");
    assert_non_null(t);
    assert_int_equal(num(t, "budget"), 1);
    assert_int_equal(num(t, "quiet_from"), num(t, "quiet_to"));
    assert_int_equal(num(t, "before_days"), 7);
    assert_string_equal(json_string_value(json_object_get(t, "where")), "tracker");
    assert_int_equal(num(json_object_get(o, "default"), "quiet_from"), 20);
    json_decref(o);
}

static void test_remind_policy__bad_values_name_where_and_what(void **state)
{
    static const char *const bad[][2] = {
        {"quiet", "25-08"},          {"quiet", "08-08"}, {"quiet", "8"},
        {"quiet", "-1-08"},          {"budget", "0"},    {"budget", "x"},
        {"before", "-1d"},           {"before", "400d"}, {"where", "slack"},
        {"working_days", "fri-mon"}, {"nope", "1"},
    };
    struct cl_err err = CL_ERR_INIT;
    struct remind_policy p;
    size_t i;

    (void)state;
    remind_policy_init(&p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (struct cl_err)CL_ERR_INIT;
        assert_int_equal(remind_policy_set(&p, bad[i][0], bad[i][1], "x.ini:4", &err), CL_EINVAL);
        assert_non_null(strstr(err.msg, "x.ini:4"));
        if (strstr(err.msg, bad[i][0]) == NULL)
            fail_msg("%s = %s: %s", bad[i][0], bad[i][1], err.msg);
    }
    assert_int_equal(remind_policy_set(&p, "quiet", "22-6", "x", &err), CL_OK);
}

static void test_remind_policy__prints_what_it_reads(void **state)
{
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    struct cl_err err = CL_ERR_INIT;
    struct remind_policy p;

    (void)state;
    remind_policy_init(&p);
    assert_int_equal(remind_policy_set(&p, "ops.quiet", "18-09", "f", &err), CL_OK);
    remind_policy_print(&p, f);
    fclose(f);
    assert_non_null(strstr(buf, "remind.quiet        = 20-08\n"));
    assert_non_null(strstr(buf, "remind.ops.quiet = 18-09\n"));
    assert_non_null(strstr(buf, "remind.working_days = mon,tue,wed,thu,fri\n"));
}

/* The exact text SQL gets (pinned from the code before the policy engine: not a byte may
 * change). */
static void test_remind_policy__json_text_is_stable(void **state)
{
    static const char want[] =
        "{\"default\":{\"before_days\":7,\"budget\":3,"
        "\"escalate_after_days\":7,\"overdue_every_days\":7,"
        "\"quiet_from\":20,\"quiet_to\":8,\"where\":\"email\","
        "\"working_days\":[1,2,3,4,5]},\"teams\":{\"ops\":{\"before_days\":7,"
        "\"budget\":3,\"escalate_after_days\":7,\"overdue_every_days\":7,"
        "\"quiet_from\":20,\"quiet_to\":8,\"where\":\"tracker\","
        "\"working_days\":[1,3]},\"pay\":{\"before_days\":7,\"budget\":1,"
        "\"escalate_after_days\":7,\"overdue_every_days\":7,"
        "\"quiet_from\":0,\"quiet_to\":0,\"where\":\"email\","
        "\"working_days\":[1,2,3,4,5]}}}";
    static const char *const sets[][2] = {
        {"pay.budget", "1"},
        {"pay.quiet", "off"},
        {"before", "1w"},
        {"ops.where", "tracker"},
        {"ops.working_days", "mon,wed"},
    };
    struct cl_err err = CL_ERR_INIT;
    struct remind_policy p;
    char *s;
    size_t i;

    (void)state;
    remind_policy_init(&p);
    for (i = 0; i < CL_ARRAY_LEN(sets); i++)
        assert_int_equal(remind_policy_set(&p, sets[i][0], sets[i][1], "f", &err), CL_OK);
    s = remind_policy_json(&p);
    assert_string_equal(s, want);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remind_policy__defaults),
        cmocka_unit_test(test_remind_policy__team_inherits_what_it_does_not_set),
        cmocka_unit_test(test_remind_policy__bad_values_name_where_and_what),
        cmocka_unit_test(test_remind_policy__prints_what_it_reads),
        cmocka_unit_test(test_remind_policy__json_text_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
