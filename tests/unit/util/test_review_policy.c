#include "closeloop/util/policy/review_policy.h"

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
static json_t *policy_json(const struct review_policy *p)
{
    char *s = review_policy_json(p);
    json_t *o = json_loads(s, 0, NULL);

    free(s);
    assert_non_null(o);
    return o;
}

static void test_review_policy__defaults(void **state)
{
    struct review_policy p;
    json_t *o;
    json_t *d;

    (void)state;
    review_policy_init(&p);
    o = policy_json(&p);
    d = json_object_get(o, "default");
    assert_int_equal(json_integer_value(json_object_get(d, "grace_days")), 7);
    assert_int_equal(json_integer_value(json_object_get(d, "min_days")), 14);
    assert_int_equal(json_integer_value(json_object_get(d, "max_days")), 60);
    assert_int_equal(json_integer_value(json_object_get(d, "hour")), 15);
    assert_int_equal(json_integer_value(json_object_get(d, "duration_minutes")), 45);
    assert_int_equal(json_array_size(json_object_get(d, "working_days")), 5);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(d, "working_days"), 4)), 5);
    assert_string_equal(json_string_value(json_object_get(d, "backlog")), "off");
    assert_int_equal(json_integer_value(json_object_get(d, "backlog_day")), 2);
    assert_string_equal(json_string_value(json_object_get(d, "timezone")), "UTC");
    assert_int_equal(json_object_size(json_object_get(o, "teams")), 0);
    json_decref(o);
}

static void test_review_policy__team_inherits_what_it_does_not_set(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct review_policy p;
    json_t *o;
    json_t *t;

    (void)state;
    review_policy_init(&p);
    assert_int_equal(review_policy_set(&p, "sre.hour", "10", "f:2", &err), CL_OK);
    assert_int_equal(review_policy_set(&p, "sre.working_days", "mon,wed", "f:3", &err), CL_OK);
    assert_int_equal(review_policy_set(&p, "grace", "2w", "f:5", &err), CL_OK); /* after */
    assert_int_equal(review_policy_set(&p, "holidays", "2026-12-24, 2026-12-25", "f:6", &err),
                     CL_OK);
    assert_int_equal(review_policy_set(&p, "sre.summary_to", "a@x.org, b@y.org", "f:7", &err),
                     CL_OK);
    assert_int_equal(review_policy_set(&p, "sre.backlog", "biweekly", "f:8", &err), CL_OK);
    assert_int_equal(review_policy_set(&p, "duration", "1h", "f:9", &err), CL_OK);
    o = policy_json(&p);
    t = json_object_get(json_object_get(o, "teams"), "sre");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(t, "hour")), 10);
    assert_int_equal(json_integer_value(json_object_get(t, "grace_days")), 14);
    assert_int_equal(json_integer_value(json_object_get(t, "duration_minutes")), 60);
    assert_int_equal(json_array_size(json_object_get(t, "working_days")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(t, "working_days"), 1)), 3);
    assert_int_equal(json_array_size(json_object_get(t, "holidays")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "summary_to"), 1)),
                        "b@y.org");
    assert_string_equal(json_string_value(json_object_get(t, "backlog")), "biweekly");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "default"), "hour")),
                     15);
    json_decref(o);
}

static void test_review_policy__bad_values_name_where_and_what(void **state)
{
    static const char *const bad[][2] = {{"hour", "24"},
                                         {"hour", "-1"},
                                         {"grace", "3x"},
                                         {"max", "3651d"},
                                         {"duration", "4m"},
                                         {"duration", "9h"},
                                         {"working_days", "fri-mon"},
                                         {"working_days", "mo"},
                                         {"working_days", ""},
                                         {"holidays", "2026-13-01"},
                                         {"holidays", "25.12.2026"},
                                         {"timezone", "Mars/Olympus"},
                                         {"timezone", "../../etc/passwd"},
                                         {"backlog", "daily"},
                                         {"backlog_day", "friday"},
                                         {"summary_to", "not-an-address"},
                                         {"organizer", "x"},
                                         {"colour", "red"},
                                         {"sre.organizer", "a@b.org"},
                                         {"grace", "12345678d"}};
    struct review_policy p;
    size_t i;

    (void)state;
    review_policy_init(&p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cl_err err = CL_ERR_INIT;

        assert_int_equal(review_policy_set(&p, bad[i][0], bad[i][1], "f.ini:9", &err), CL_EINVAL);
        assert_non_null(strstr(err.msg, "f.ini:9"));
    }
}

static void test_review_policy__prints_what_it_reads(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct review_policy p;
    char buf[4096] = "";
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

    (void)state;
    review_policy_init(&p);
    assert_int_equal(review_policy_set(&p, "plat.working_days", "mon-wed", "f", &err), CL_OK);
    review_policy_print(&p, f);
    fclose(f);
    assert_non_null(strstr(buf, "review.working_days = mon,tue,wed,thu,fri\n"));
    assert_non_null(strstr(buf, "review.plat.working_days = mon,tue,wed\n"));
    assert_non_null(strstr(buf, "review.duration     = 45m\n"));
}

/* p: the built-in policy with each KEY = VALUE of sets set (each must be fine). */
static void review_with(struct review_policy *p, const char *const (*sets)[2], size_t n)
{
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    review_policy_init(p);
    for (i = 0; i < n; i++)
        if (review_policy_set(p, sets[i][0], sets[i][1], "f", &err) != CL_OK)
            fail_msg("%s = %s: %s", sets[i][0], sets[i][1], err.msg);
}

/* The exact text SQL gets (pinned from the code before the policy engine: not a byte may
 * change). */
static void test_review_policy__json_text_is_stable(void **state)
{
    static const char want[] =
        "{\"default\":{\"at_risk_days\":7,\"backlog\":\"off\","
        "\"backlog_day\":2,\"backlog_hour\":10,\"duration_minutes\":45,"
        "\"grace_days\":14,\"holidays\":[\"2026-12-24\",\"2026-12-25\"],"
        "\"hour\":15,\"max_days\":60,\"min_days\":14,\"summary_to\":[],"
        "\"timezone\":\"UTC\",\"working_days\":[1,2,3,4,5]},"
        "\"organizer\":\"org@x.org\",\"teams\":{\"ops\":{\"at_risk_days\":7,"
        "\"backlog\":\"off\",\"backlog_day\":2,\"backlog_hour\":10,"
        "\"duration_minutes\":45,\"grace_days\":14,"
        "\"holidays\":[\"2026-12-24\",\"2026-12-25\"],\"hour\":15,"
        "\"max_days\":60,\"min_days\":14,\"summary_to\":[],"
        "\"timezone\":\"Europe/Berlin\",\"working_days\":[6,7]},"
        "\"sre\":{\"at_risk_days\":7,\"backlog\":\"weekly\",\"backlog_day\":2,"
        "\"backlog_hour\":10,\"duration_minutes\":45,\"grace_days\":14,"
        "\"holidays\":[\"2026-12-24\",\"2026-12-25\"],\"hour\":10,"
        "\"max_days\":60,\"min_days\":14,\"summary_to\":[\"a@x.org\","
        "\"b@y.org\"],\"timezone\":\"UTC\",\"working_days\":[1,2,3,4,5]}}}";
    static const char *const sets[][2] = {
        {"sre.hour", "10"},
        {"grace", "2w"},
        {"holidays", "2026-12-24, 2026-12-25"},
        {"sre.summary_to", "a@x.org, b@y.org"},
        {"sre.backlog", "weekly"},
        {"organizer", "org@x.org"},
        {"ops.working_days", "sat-sun"},
        {"ops.timezone", "Europe/Berlin"},
    };
    struct review_policy p;
    char *s;

    (void)state;
    review_with(&p, sets, CL_ARRAY_LEN(sets));
    s = review_policy_json(&p);
    assert_string_equal(s, want);
    free(s);
}

/* A bad value leaves the policy as it was: no half-written field, no team begun. */
static void test_review_policy__bad_value_changes_nothing(void **state)
{
    static const char *const sets[][2] = {{"holidays", "2026-12-24"}};
    struct cl_err err = CL_ERR_INIT;
    struct review_policy p;
    char *before;
    char *after;

    (void)state;
    review_with(&p, sets, CL_ARRAY_LEN(sets));
    before = review_policy_json(&p);
    assert_int_equal(review_policy_set(&p, "holidays", "2026-12-25,2026-13-01", "f", &err),
                     CL_EINVAL);
    assert_int_equal(review_policy_set(&p, "backlog_day", "friday", "f", &err), CL_EINVAL);
    assert_int_equal(review_policy_set(&p, "new.hour", "99", "f", &err), CL_EINVAL);
    after = review_policy_json(&p);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review_policy__defaults),
        cmocka_unit_test(test_review_policy__team_inherits_what_it_does_not_set),
        cmocka_unit_test(test_review_policy__bad_values_name_where_and_what),
        cmocka_unit_test(test_review_policy__prints_what_it_reads),
        cmocka_unit_test(test_review_policy__json_text_is_stable),
        cmocka_unit_test(test_review_policy__bad_value_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
