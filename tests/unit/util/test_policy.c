#include "closeloop/util/policy/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

/* A tiny policy: [tiny] with [tiny.TEAM] overrides of two keys, and one default-only key. */
struct tiny_rules {
    unsigned set;
    int hour;
    unsigned days;
    int mode;
};

static const char *const tiny_modes[] = {"quiet", "loud", NULL};

#define TR(f) POLICY_FIELD(struct tiny_rules, f)

static const struct policy_key tiny_keys[] = {
    {"hour", "9", "hour of the day", "an hour from 0 to 23", TR(hour), 0, 23, NULL,
     policy_parse_hour, policy_print_int, false},
    {"days", "mon-fri", "days it runs", "days like mon-fri or mon,tue,thu", TR(days), 0, 0, NULL,
     policy_parse_weekdays, policy_print_weekdays, false},
    {"mode", "quiet", "quiet or loud", "quiet or loud", TR(mode), 0, 0, tiny_modes,
     policy_parse_choice, policy_print_choice, true},
};

static const struct policy tiny = POLICY_OF("tiny", tiny_keys, struct tiny_rules, 6);

struct tiny_policy {
    struct tiny_rules def;
    struct tiny_rules teams[POLICY_TEAMS];
    struct policy_teams names;
};

static void tiny_init(struct tiny_policy *p)
{
    memset(p, 0, sizeof(*p));
    policy_init(&tiny, &p->def);
}

static int tiny_set(struct tiny_policy *p, const char *key, const char *value, struct cl_err *err)
{
    return policy_set(&tiny, &p->def, p->teams, &p->names, key, value, "t.ini:7", err);
}

static json_t *tiny_json(const void *rules)
{
    const struct tiny_rules *r = rules;

    return json_pack("{s:i, s:o}", "hour", r->hour, "days", policy_weekdays_json(r->days));
}

static void test_policy__defaults(void **state)
{
    struct tiny_policy p;

    (void)state;
    tiny_init(&p);
    assert_int_equal(p.def.hour, 9);
    assert_int_equal(p.def.days, 0x3e); /* bits 1..5: Monday to Friday */
    assert_int_equal(p.def.mode, 0);
    assert_int_equal(p.def.set, 0);
    assert_int_equal(p.names.n, 0);
}

static void test_policy__team_inherits_what_it_does_not_set(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct tiny_policy p;
    struct tiny_rules m;

    (void)state;
    tiny_init(&p);
    assert_int_equal(tiny_set(&p, "ops.hour", "7h", &err), CL_OK);
    assert_int_equal(tiny_set(&p, "days", "sat,sun", &err), CL_OK); /* after the team's */
    assert_int_equal(tiny_set(&p, "mode", "loud", &err), CL_OK);
    assert_int_equal(p.names.n, 1);
    assert_string_equal(p.names.name[0], "ops");
    assert_int_equal(p.teams[0].set, 1u << 0);
    policy_merge(&tiny, &m, &p.def, &p.teams[0]);
    assert_int_equal(m.hour, 7);
    assert_int_equal(m.days, (1u << 6) | (1u << 7));
    assert_int_equal(m.mode, 1);
    assert_int_equal(p.def.hour, 9);
    assert_int_equal(p.def.set, (1u << 1) | (1u << 2));
}

/* Setting key = value fails with exactly `msg`. */
static void tiny_fails(struct tiny_policy *p, const char *key, const char *value, const char *msg)
{
    struct cl_err err = CL_ERR_INIT;

    assert_int_equal(tiny_set(p, key, value, &err), CL_EINVAL);
    assert_string_equal(err.msg, msg);
}

static void test_policy__unknown_key_lists_the_keys(void **state)
{
    struct tiny_policy p;

    (void)state;
    tiny_init(&p);
    tiny_fails(&p, "ops.colour", "red", "t.ini:7: unknown [tiny] key \"colour\": hour, days, mode");
    assert_int_equal(p.names.n, 0);
}

static void test_policy__bad_value_names_where_and_changes_nothing(void **state)
{
    struct tiny_policy p;

    (void)state;
    tiny_init(&p);
    tiny_fails(&p, "ops.hour", "24", "t.ini:7: tiny.ops.hour: \"24\" is not an hour from 0 to 23");
    assert_int_equal(p.names.n, 0); /* the team it would have begun is not kept */
    tiny_fails(&p, "days", "fri-mon",
               "t.ini:7: tiny.days: \"fri-mon\" is not days like mon-fri or mon,tue,thu");
    assert_int_equal(p.def.days, 0x3e);
    assert_int_equal(p.def.set, 0);
    tiny_fails(&p, "ops.mode", "loud", "t.ini:7: mode is set in [tiny] only");
}

static void test_policy__team_limit(void **state)
{
    struct tiny_policy p;
    char key[128];
    int i;

    (void)state;
    tiny_init(&p);
    for (i = 0; i < POLICY_TEAMS; i++) {
        struct cl_err err = CL_ERR_INIT;

        snprintf(key, sizeof(key), "t%d.hour", i);
        assert_int_equal(tiny_set(&p, key, "5", &err), CL_OK);
    }
    {
        struct cl_err err = CL_ERR_INIT;

        assert_int_equal(tiny_set(&p, "t0.days", "mon", &err), CL_OK); /* an old team still */
        assert_int_equal(tiny_set(&p, "one_more.hour", "5", &err), CL_EINVAL);
        assert_string_equal(err.msg, "t.ini:7: [tiny.one_more]: at most 32 team sections, names "
                                     "under 64 bytes");
    }
    tiny_init(&p);
    memset(key, 'x', 64);
    snprintf(key + 64, sizeof(key) - 64, ".hour");
    {
        struct cl_err err = CL_ERR_INIT;

        assert_int_equal(tiny_set(&p, key, "5", &err), CL_EINVAL); /* a 64-byte name */
        assert_int_equal(tiny_set(&p, key + 1, "5", &err), CL_OK); /* 63 bytes */
    }
}

static void test_policy__prints_what_it_reads(void **state)
{
    static const char *const sets[][2] = {
        {"ops.days", "tue-thu"}, {"dev.hour", "23"}, {"ops.hour", "0"}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct tiny_policy p;
    size_t i;

    (void)state;
    tiny_init(&p);
    for (i = 0; i < CL_ARRAY_LEN(sets); i++) {
        struct cl_err err = CL_ERR_INIT;

        assert_int_equal(tiny_set(&p, sets[i][0], sets[i][1], &err), CL_OK);
    }
    policy_print(&tiny, &p.def, p.teams, &p.names, f);
    fclose(f);
    assert_string_equal(text, "tiny.hour   = 9\n"
                              "tiny.days   = mon,tue,wed,thu,fri\n"
                              "tiny.mode   = quiet\n"
                              "tiny.ops.hour = 0\n"
                              "tiny.ops.days = tue,wed,thu\n"
                              "tiny.dev.hour = 23\n");
    free(text);
}

static void test_policy__teams_json_is_complete(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct tiny_policy p;
    char *s;

    (void)state;
    tiny_init(&p);
    assert_int_equal(tiny_set(&p, "ops.days", "sun", &err), CL_OK);
    assert_int_equal(tiny_set(&p, "hour", "10", &err), CL_OK);
    s = policy_json_dump(policy_teams_json(&tiny, &p.def, p.teams, &p.names, tiny_json));
    assert_string_equal(s, "{\"ops\":{\"days\":[7],\"hour\":10}}");
    free(s);
}

static void test_policy__value_parsers(void **state)
{
    static const struct policy_key days = {
        "d", "", "", "", 0, sizeof(int), 0, 30, NULL, policy_parse_days, policy_print_days, false};
    static const struct policy_key mins = {
        "m",  "", "", "", 0, sizeof(int), 5, 480, NULL, policy_parse_minutes, policy_print_minutes,
        false};
    static const struct policy_key day = {
        "w",  "", "", "", 0, sizeof(int), 0, 0, NULL, policy_parse_weekday, policy_print_weekday,
        false};
    int v = 0;
    char out[16];

    (void)state;
    assert_int_equal(policy_parse_days(&v, &days, "2w"), CL_OK);
    assert_int_equal(v, 14);
    policy_print_days(out, sizeof(out), &v, &days);
    assert_string_equal(out, "14d");
    assert_int_equal(policy_parse_days(&v, &days, "5w"), CL_EINVAL); /* 35 > 30 */
    assert_int_equal(policy_parse_minutes(&v, &mins, "1h"), CL_OK);
    assert_int_equal(v, 60);
    assert_int_equal(policy_parse_minutes(&v, &mins, "4"), CL_EINVAL);
    assert_int_equal(policy_parse_weekday(&v, &day, "sun"), CL_OK);
    assert_int_equal(v, 7);
    policy_print_weekday(out, sizeof(out), &v, &day);
    assert_string_equal(out, "sun");
    assert_int_equal(policy_parse_weekday(&v, &day, "sunday"), CL_EINVAL);
    assert_int_equal(policy_weekday("mon", 3), 1);
    assert_int_equal(policy_weekday("mo", 2), 0);
    assert_string_equal(policy_weekday_name(0), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy__defaults),
        cmocka_unit_test(test_policy__team_inherits_what_it_does_not_set),
        cmocka_unit_test(test_policy__unknown_key_lists_the_keys),
        cmocka_unit_test(test_policy__bad_value_names_where_and_changes_nothing),
        cmocka_unit_test(test_policy__team_limit),
        cmocka_unit_test(test_policy__prints_what_it_reads),
        cmocka_unit_test(test_policy__teams_json_is_complete),
        cmocka_unit_test(test_policy__value_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
