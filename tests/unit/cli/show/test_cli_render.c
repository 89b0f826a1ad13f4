#include "closeloop/cli/show/cli_render.h"

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_date.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum what { LIST, OBJECT, JSON };

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    assert_non_null(v);
    return v;
}

#define NOW_2024_03_01_1200Z 1709294400L /* the clock the views are rendered against */

/* Renders the JSON text into a string, today being 2024-03-01 (12:00 UTC), tables in
 * `width` columns (0: full values), in the zone TZ names (UTC unless a test sets it).
 * Caller frees. */
static char *render_in(enum what what, enum cli_res res, const char *json, bool color, size_t width)
{
    json_t *v = parse(json);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    long today = 0;
    int rc;

    assert_int_equal(cli_date_parse(&today, "2024-03-01"), CL_OK);
    if (what == LIST)
        rc = cli_render_list(out, res, v, color, today, NOW_2024_03_01_1200Z, width);
    else if (what == OBJECT)
        rc = cli_render_object(out, res, v, color, today, NOW_2024_03_01_1200Z, width);
    else
        rc = cli_render_json(out, v);
    assert_int_equal(rc, CL_OK);
    fclose(out);
    json_decref(v);
    return text;
}

static char *render(enum what what, enum cli_res res, const char *json, bool color)
{
    return render_in(what, res, json, color, 0);
}

static const char actions[] =
    "[{\"id\":1,\"status\":\"open\",\"due_on\":\"2024-02-27\",\"priority\":\"P1\","
    "\"kind\":\"corrective\",\"owner\":\"al\",\"owner_active\":false,\"incident\":\"INC-1\","
    "\"title\":\"Fix it\"},"
    "{\"id\":22,\"status\":\"blocked\",\"due_on\":\"2024-03-01\",\"priority\":\"P2\","
    "\"kind\":\"preventive\",\"owner\":null,\"incident\":\"INC-1\",\"title\":\"Guard\"},"
    "{\"id\":3,\"status\":\"done\",\"due_on\":\"2024-01-01\",\"priority\":\"P3\","
    "\"kind\":\"corrective\",\"owner\":\"bo\",\"owner_active\":true,\"incident\":\"INC-2\","
    "\"title\":\"Old\"},"
    "{\"id\":4,\"status\":\"in_progress\",\"due_on\":\"2024-03-03\",\"priority\":\"P0\","
    "\"kind\":\"corrective\",\"owner\":\"cy\",\"incident\":\"INC-2\",\"title\":\"Soon\"}]";

static void test_cli_render__action_table_plain(void **state)
{
    char *got = render(LIST, CLI_RES_ACTION, actions, false);

    (void)state;
    assert_string_equal(
        got, "ID  STATUS       DUE         PRI  KIND        OWNER          INCIDENT  TITLE\n"
             "1   open         3d overdue  P1   corrective  al (inactive)  INC-1     Fix it\n"
             "22  blocked      due today   P2   preventive  -              INC-1     Guard\n"
             "3   done         2024-01-01  P3   corrective  bo             INC-2     Old\n"
             "4   in_progress  due in 2d   P0   corrective  cy             INC-2     Soon\n");
    free(got);
}

static void test_cli_render__action_table_coloured(void **state)
{
    char *got = render(LIST, CLI_RES_ACTION, actions, true);

    (void)state;
    assert_non_null(strstr(got, "1   open         \033[31m3d overdue\033[0m  P1"));
    assert_non_null(strstr(got, "\033[33mblocked\033[0m      due today   P2"));
    assert_non_null(strstr(got, "\033[32mdone\033[0m         2024-01-01"));
    assert_non_null(strstr(got, "\033[36min_progress\033[0m  due in 2d"));
    free(got);
    assert_int_equal(cli_render_status_color("wont_do"), CLI_COLOR_DIM);
    assert_int_equal(cli_render_status_color("open"), CLI_COLOR_NONE);
    assert_int_equal(cli_render_status_color(NULL), CLI_COLOR_NONE);
}

static void test_cli_render__empty_list(void **state)
{
    char *got = render(LIST, CLI_RES_TEAM, "[]", true);

    (void)state;
    assert_string_equal(got, "no teams\n");
    free(got);
}

static void test_cli_render__action_object_with_description(void **state)
{
    char *got = render(OBJECT, CLI_RES_ACTION,
                       "{\"id\":5,\"incident\":\"INC-1\",\"kind\":\"corrective\",\"title\":\"T\","
                       "\"status\":\"open\",\"priority\":\"P2\",\"owner\":\"al\","
                       "\"due_on\":\"2024-02-28\",\"version\":3,\"created_at\":\"c\","
                       "\"updated_at\":\"u\",\"closed_at\":null,"
                       "\"description\":\"line 1\\n\\u001b[1mline 2\"}",
                       false);

    (void)state;
    assert_string_equal(got, "id:        5\n"
                             "incident:  INC-1\n"
                             "kind:      corrective\n"
                             "title:     T\n"
                             "status:    open\n"
                             "priority:  P2\n"
                             "owner:     al\n"
                             "due:       2024-02-28 (2d overdue)\n"
                             "version:   3\n"
                             "created:   c\n"
                             "updated:   u\n"
                             "closed:    -\n"
                             "\n"
                             "line 1\n"
                             " [1mline 2\n");
    free(got);
}

static const char synced_action[] =
    "{\"id\":5,\"incident\":\"INC-1\",\"kind\":\"corrective\",\"title\":\"T\","
    "\"status\":\"open\",\"priority\":\"P2\",\"owner\":null,\"due_on\":null,\"version\":3,"
    "\"created_at\":\"c\",\"updated_at\":\"u\",\"closed_at\":null,\"description\":\"d\","
    "\"sync\":{\"tracker\":\"github\",\"repo\":\"acme/api\",\"number\":7,"
    "\"url\":\"https://github.com/acme/api/issues/7\",\"state\":\"linked\","
    "\"last_error\":\"HTTP 502\",\"warning\":\"no login for the owner\","
    "\"synced_at\":\"2026-03-10T11:57:00Z\",\"pending\":1}}";

/* issue 9, defect 14: every colour is reset on its own line, before the newline. */
static void test_cli_render__colour_resets_before_the_newline(void **state)
{
    char *got = render(OBJECT, CLI_RES_ACTION,
                       "{\"id\":5,\"incident\":\"INC-1\",\"kind\":\"corrective\",\"title\":\"T\","
                       "\"status\":\"blocked\",\"priority\":\"P2\",\"owner\":\"al\","
                       "\"due_on\":\"2024-02-28\",\"version\":3,\"created_at\":\"c\","
                       "\"updated_at\":\"u\",\"closed_at\":null,\"description\":\"d\"}",
                       true);
    const char *p;

    (void)state;
    assert_non_null(strstr(got, "\033["));
    assert_null(strstr(got, "\n\033[0m"));
    for (p = strchr(got, '\033'); p != NULL; p = strchr(p + 1, '\033')) {
        const char *nl = strchr(p, '\n');
        const char *reset = strstr(p, "\033[0m");

        assert_non_null(reset);
        assert_true(nl == NULL || reset < nl); /* reset on the same line */
        p = reset;
    }
    free(got);
    got = render(LIST, CLI_RES_ACTION,
                 "[{\"id\":5,\"incident\":\"INC-1\",\"kind\":\"corrective\",\"title\":\"T\","
                 "\"status\":\"done\",\"owner\":null,\"due_on\":\"2024-02-28\"}]",
                 true);
    assert_null(strstr(got, "\n\033[0m"));
    free(got);
}

/* "archived:" shows only on an archived action or incident. */
static void test_cli_render__archived_row_only_when_archived(void **state)
{
    char *got = render(OBJECT, CLI_RES_ACTION,
                       "{\"id\":5,\"archived_at\":\"2024-02-29T12:00:00Z\"}", false);
    char *inc = render(OBJECT, CLI_RES_INCIDENT,
                       "{\"key\":\"INC-1\",\"archived_at\":\"2024-02-29T12:00:00Z\"}", false);
    char *live =
        render(OBJECT, CLI_RES_INCIDENT, "{\"key\":\"INC-1\",\"archived_at\":null}", false);

    (void)state;
    assert_non_null(strstr(got, "\narchived:  2024-02-29 12:00")); /* as closed: local time */
    assert_non_null(strstr(inc, "\narchived:     2024-02-29 12:00"));
    assert_null(strstr(live, "archived"));
    free(got);
    free(inc);
    free(live);
}

static void test_cli_render__action_object_with_sync(void **state)
{
    char *got = render(OBJECT, CLI_RES_ACTION, synced_action, false);

    (void)state;
    assert_string_equal(got, "id:        5\n"
                             "incident:  INC-1\n"
                             "kind:      corrective\n"
                             "title:     T\n"
                             "status:    open\n"
                             "priority:  P2\n"
                             "owner:     -\n"
                             "due:       -\n"
                             "version:   3\n"
                             "created:   c\n"
                             "updated:   u\n"
                             "closed:    -\n"
                             "github:    acme/api#7  https://github.com/acme/api/issues/7\n"
                             "sync:      failed: HTTP 502\n"
                             "warning:   no login for the owner\n"
                             "pending:   1\n"
                             "\n"
                             "d\n");
    free(got);
    got = render(OBJECT, CLI_RES_ACTION, synced_action, true);
    assert_non_null(strstr(got, "sync:      \033[31mfailed: HTTP 502\033[0m\n"));
    assert_non_null(strstr(got, "warning:   \033[33mno login for the owner\033[0m\n"));
    free(got);
    /* "sync": null adds no line */
    got = render(OBJECT, CLI_RES_ACTION, "{\"id\":5,\"sync\":null}", false);
    assert_null(strstr(got, "sync:"));
    assert_null(strstr(got, "github:"));
    free(got);
}

static void test_cli_render__action_table_ignores_sync(void **state)
{
    char *list = cl_asprintf("[%s]", synced_action);
    char *got = render(LIST, CLI_RES_ACTION, list, false);

    (void)state;
    assert_string_equal(got, "ID  STATUS  DUE  PRI  KIND        OWNER  INCIDENT  TITLE\n"
                             "5   open    -    P2   corrective  -      INC-1     T\n");
    free(got);
    free(list);
}

static void test_cli_render__github_repo_of_teams_and_incidents(void **state)
{
    char *got;

    (void)state;
    got = render(LIST, CLI_RES_TEAM,
                 "[{\"name\":\"sre\",\"manager\":\"dana\",\"github_repo\":\"acme/ops\"},"
                 "{\"name\":\"web\",\"manager\":null,\"github_repo\":null,"
                 "\"jira_project\":\"OPS/Bug\"}]",
                 false);
    assert_string_equal(got, "NAME  MANAGER  GITHUB    JIRA\n"
                             "sre   dana     acme/ops  -\n"
                             "web   -        -         OPS/Bug\n");
    free(got);
    got = render(OBJECT, CLI_RES_TEAM, "{\"name\":\"sre\",\"github_repo\":\"acme/ops\"}", false);
    assert_non_null(strstr(got, "\ngithub:   acme/ops\n"));
    free(got);
    got = render(OBJECT, CLI_RES_INCIDENT,
                 "{\"key\":\"K\",\"postmortem_url\":\"u\",\"github_repo\":\"acme/api\"}", false);
    assert_non_null(
        strstr(got, "postmortem:   u\ngithub:       acme/api\njira:         -\nactions:"));
    free(got);
}

static void test_cli_render__answers_without_a_view_print_as_json(void **state)
{
    char *got = render(OBJECT, CLI_RES_SYNC, "{\"connections\":[]}", false);

    (void)state;
    assert_string_equal(got, "{\n  \"connections\": []\n}\n");
    free(got);
    got = render(LIST, CLI_RES_DOCTOR, "[1]", false);
    assert_string_equal(got, "[\n  1\n]\n");
    free(got);
}

static void test_cli_render__incidents_people_events(void **state)
{
    char *got;

    (void)state;
    got =
        render(LIST, CLI_RES_INCIDENT,
               "[{\"key\":\"INC-1\",\"severity\":\"SEV2\",\"started_at\":\"2024-02-01T10:00:00Z\","
               "\"resolved_at\":null,\"actions\":{\"open\":2,\"blocked\":1,\"done\":4},"
               "\"title\":\"DB\"}]",
               false);
    assert_string_equal(got, "KEY    SEV   STARTED     RESOLVED  OPEN  TITLE\n"
                             "INC-1  SEV2  2024-02-01  -         3     DB\n");
    free(got);
    got = render(OBJECT, CLI_RES_INCIDENT, "{\"key\":\"K\",\"actions\":{\"open\":2,\"done\":0}}",
                 false);
    assert_non_null(strstr(got, "actions:      2 open \xc2\xb7 0 done \xc2\xb7 0 dropped\n"));
    free(got);
    /* one vocabulary (issue 9, defect 6): open is all open work, with what needs attention */
    got = render(OBJECT, CLI_RES_INCIDENT,
                 "{\"key\":\"K\",\"actions\":{\"total\":7,\"open\":2,\"in_progress\":1,"
                 "\"blocked\":2,\"done\":1,\"wont_do\":1,\"overdue\":2,\"unowned\":1}}",
                 false);
    assert_non_null(strstr(got, "actions:      5 open (2 overdue, 1 unowned, 1 in progress, 2 "
                                "blocked) \xc2\xb7 1 done \xc2\xb7 1 dropped\n"));
    free(got);
    got = render(LIST, CLI_RES_PERSON,
                 "[{\"handle\":\"al\",\"name\":\"Al\",\"email\":\"a@x\",\"team\":null,"
                 "\"timezone\":\"UTC\",\"active\":false}]",
                 false);
    assert_string_equal(got, "HANDLE  NAME  EMAIL  TEAM  TZ   ACTIVE\n"
                             "al      Al    a@x    -     UTC  no\n");
    free(got);
    got = render(LIST, CLI_RES_EVENT,
                 "[{\"at\":\"t1\",\"source\":\"cli\",\"actor\":\"al\",\"field\":\"version\","
                 "\"old\":2,\"new\":{\"a\":[1]}}]",
                 false);
    assert_string_equal(got, "AT  SOURCE  ACTOR  FIELD    OLD  NEW\n"
                             "t1  cli     al     version  2    {\"a\":[1]}\n");
    free(got);
}

static void use_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static const char history[] =
    "[{\"at\":\"2024-03-01T10:00:00Z\",\"source\":\"cli\",\"actor\":\"al\",\"field\":\"a\","
    "\"old\":null,\"new\":1},"
    "{\"at\":\"2024-02-27T23:30:00Z\",\"source\":\"cli\",\"actor\":\"al\",\"field\":\"b\","
    "\"old\":null,\"new\":2},"
    "{\"at\":\"2023-01-01T00:00:00Z\",\"source\":\"cli\",\"actor\":\"al\",\"field\":\"c\","
    "\"old\":null,\"new\":3},"
    "{\"at\":\"2024-03-01T11:59:15Z\",\"source\":\"cli\",\"actor\":\"al\",\"field\":\"d\","
    "\"old\":null,\"new\":4}]";

/* Times in tables: local, with how long ago right-aligned, every cell as wide. */
static void test_cli_render__times_in_the_viewers_zone_at_fixed_width(void **state)
{
    char *got;

    (void)state;
    use_zone("Europe/Paris");
    got = render(LIST, CLI_RES_EVENT, history, false);
    assert_string_equal(got, "AT                         SOURCE  ACTOR  FIELD  OLD  NEW\n"
                             "2024-03-01 11:00   2h ago  cli     al     a      -    1\n"
                             "2024-02-28 00:30   2d ago  cli     al     b      -    2\n"
                             "2023-01-01 01:00           cli     al     c      -    3\n"
                             "2024-03-01 12:59  45s ago  cli     al     d      -    4\n");
    free(got);
    use_zone("America/Los_Angeles"); /* the day itself moves with the zone */
    got = render(LIST, CLI_RES_INCIDENT,
                 "[{\"key\":\"INC-1\",\"severity\":null,\"started_at\":\"2024-02-01T03:00:00Z\","
                 "\"resolved_at\":\"2024-07-01T06:59:00Z\",\"actions\":null,\"title\":\"x\"}]",
                 false);
    assert_non_null(strstr(got, "INC-1  -    2024-01-31  2024-06-30  "));
    free(got);
    use_zone("UTC");
}

static void test_cli_render__one_object_shows_its_zone_and_age(void **state)
{
    char *got;

    (void)state;
    use_zone("Europe/Paris");
    got = render(OBJECT, CLI_RES_INCIDENT,
                 "{\"key\":\"K\",\"started_at\":\"2024-02-28T12:00:00Z\","
                 "\"resolved_at\":\"2023-07-01T12:00:00+02:00\",\"created_at\":\"odd\"}",
                 false);
    assert_non_null(strstr(got, "started:      2024-02-28 13:00 CET (2d ago)\n"));
    assert_non_null(strstr(got, "resolved:     2023-07-01 12:00 CEST (244d ago)\n"));
    assert_non_null(strstr(got, "created:      odd\n")); /* not a time: as it came */
    free(got);
    use_zone("UTC");
}

/* --format csv and markdown keep the server's RFC 3339 for programs. */
static void test_cli_render__formats_keep_rfc3339(void **state)
{
    json_t *v = parse(history);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    use_zone("Europe/Paris");
    assert_int_equal(cli_render_list_as(out, CLI_RES_EVENT, v, 0, CLI_RENDER_CSV), CL_OK);
    fclose(out);
    assert_non_null(strstr(text, "\r\n2024-03-01T10:00:00Z,cli,al,a,-,1\r\n"));
    free(text);
    json_decref(v);
    use_zone("UTC");
}

static void test_cli_render__json_is_pretty_and_unchanged(void **state)
{
    char *got =
        render(JSON, CLI_RES_ACTION, "{\"id\":1,\"title\":\"\xc3\xa9\",\"x\":[1,null]}", true);

    (void)state;
    assert_string_equal(got, "{\n  \"id\": 1,\n  \"title\": \"\xc3\xa9\",\n  \"x\": [\n    1,\n"
                             "    null\n  ]\n}\n");
    free(got);
}

static char *story(const char *action, const char *events, size_t max_notes)
{
    json_t *a = parse(action);
    json_t *e = parse(events);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    use_zone("UTC");
    assert_int_equal(cli_render_action_story(out, a, e, NOW_2024_03_01_1200Z, max_notes), CL_OK);
    fclose(out);
    json_decref(a);
    json_decref(e);
    return text;
}

#define EV(at, field, old, new, actor)                                                             \
    "{\"at\":\"" at "\",\"field\":\"" field "\",\"old\":" old                                      \
    ",\"new\":" new ",\"actor\":\"" actor "\"}"

static void test_cli_render__story_blocked_since_with_its_reason(void **state)
{
    char *got = story(
        "{\"status\":\"blocked\"}",
        "[" EV("2024-03-01T09:00:00+00:00", "status", "\"open\"", "\"blocked\"", "amy") "," EV(
            "2024-03-01T09:00:00+00:00", "reason", "null", "\"old one\"",
            "amy") "," EV("2024-03-02T10:00:00+00:00", "status", "\"blocked\"", "\"open\"",
                          "amy") "," EV("2024-03-03T11:30:00.5+00:00", "status", "\"open\"",
                                        "\"blocked\"", "bo") "," EV("2024-03-03T11:30:00.5+00:00",
                                                                    "reason", "null",
                                                                    "\"waiting for\\u0007 vendor\"",
                                                                    "bo") "]",
        3);

    (void)state;
    /* the last move into the status, its own reason (control characters blanked) */
    assert_string_equal(got,
                        "\nblocked since 2024-03-03 11:30 UTC (0s ago): waiting for  vendor\n");
    free(got);
}

static void test_cli_render__story_reason_only_from_its_transaction(void **state)
{
    char *got = story(
        "{\"status\":\"wont_do\"}",
        "[" EV("2024-03-01T09:00:00+00:00", "status", "\"open\"", "\"wont_do\"",
               "amy") "," EV("2024-03-01T09:00:01+00:00", "reason", "null", "\"later\"", "amy") "]",
        3);

    (void)state;
    assert_string_equal(got, "\ndropped on 2024-03-01 09:00 UTC (3h ago)\n");
    free(got);
}

static void test_cli_render__story_due_move_and_latest_notes(void **state)
{
    char *got =
        story("{\"status\":\"open\"}",
              "[" EV("2024-03-01T09:00:00+00:00", "note", "null", "\"one\"", "amy") "," EV(
                  "2024-03-01T10:00:00+00:00", "due_on", "\"2024-04-01\"", "\"2024-05-01\"",
                  "amy") "," EV("2024-03-01T10:00:00+00:00", "reason", "null", "\"vendor\"",
                                "amy") "," EV("2024-03-02T09:00:00+00:00", "note", "null",
                                              "\"two\\nlines\"",
                                              "bo") "," EV("2024-03-03T09:00:00+00:00", "note",
                                                           "null", "\"three\"", "cy") "]",
              2);

    (void)state;
    assert_string_equal(
        got, "\ndue moved from 2024-04-01 to 2024-05-01 on 2024-03-01 10:00 UTC (2h ago): vendor\n"
             "\nnotes (latest 2 of 3; all in `action history`):\n"
             "  2024-03-02 09:00 UTC (0s ago) bo: two\n    lines\n"
             "  2024-03-03 09:00 UTC (0s ago) cy: three\n");
    free(got);
}

static void test_cli_render__story_empty_without_reasons_or_notes(void **state)
{
    char *got = story(
        "{\"status\":\"in_progress\"}",
        "[" EV("2024-03-01T09:00:00+00:00", "status", "\"open\"", "\"in_progress\"", "amy") "]", 3);

    (void)state;
    assert_string_equal(got, "");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_render__action_table_plain),
        cmocka_unit_test(test_cli_render__action_table_coloured),
        cmocka_unit_test(test_cli_render__empty_list),
        cmocka_unit_test(test_cli_render__action_object_with_description),
        cmocka_unit_test(test_cli_render__colour_resets_before_the_newline),
        cmocka_unit_test(test_cli_render__action_object_with_sync),
        cmocka_unit_test(test_cli_render__archived_row_only_when_archived),
        cmocka_unit_test(test_cli_render__action_table_ignores_sync),
        cmocka_unit_test(test_cli_render__github_repo_of_teams_and_incidents),
        cmocka_unit_test(test_cli_render__answers_without_a_view_print_as_json),
        cmocka_unit_test(test_cli_render__incidents_people_events),
        cmocka_unit_test(test_cli_render__times_in_the_viewers_zone_at_fixed_width),
        cmocka_unit_test(test_cli_render__one_object_shows_its_zone_and_age),
        cmocka_unit_test(test_cli_render__formats_keep_rfc3339),
        cmocka_unit_test(test_cli_render__json_is_pretty_and_unchanged),
        cmocka_unit_test(test_cli_render__story_blocked_since_with_its_reason),
        cmocka_unit_test(test_cli_render__story_reason_only_from_its_transaction),
        cmocka_unit_test(test_cli_render__story_due_move_and_latest_notes),
        cmocka_unit_test(test_cli_render__story_empty_without_reasons_or_notes),
    };

    use_zone("UTC");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
