#include "closeloop/cli/show/cli_sync.h"

#include "closeloop/cli/cli_date.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW "2026-03-10T12:00:00Z"

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

    assert_non_null(v);
    return v;
}

static long now(void)
{
    long t = 0;

    assert_int_equal(cli_date_parse_time(&t, NOW), CL_OK);
    return t;
}

/* The rows cli_sync_add_rows() adds for the sync object in json, as a printed table. */
static char *rows(const char *json)
{
    json_t *sync = parse(json);
    struct cli_table *t = cli_table_new(2);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    cli_sync_add_rows(t, sync);
    assert_int_equal(cli_table_print(t, out, false, 0), CL_OK);
    fclose(out);
    cli_table_free(t);
    json_decref(sync);
    return text;
}

static void expect_rows(const char *json, const char *want)
{
    char *got = rows(json);

    assert_string_equal(got, want);
    free(got);
}

static void test_cli_sync__linked_issue_rows(void **state)
{
    (void)state;
    expect_rows("{\"tracker\":\"github\",\"repo\":\"acme/api\",\"number\":7,"
                "\"url\":\"https://github.com/acme/api/issues/7\",\"state\":\"linked\","
                "\"last_error\":null,\"warning\":null,\"synced_at\":\"2026-03-10T11:57:00Z\","
                "\"pending\":0}",
                "github:  acme/api#7  https://github.com/acme/api/issues/7\n"
                "sync:    linked (synced 2026-03-10T11:57:00Z)\n");
}

static void test_cli_sync__failed_broken_warning_pending(void **state)
{
    (void)state;
    expect_rows("{\"tracker\":\"github\",\"repo\":\"acme/api\",\"number\":null,\"url\":null,"
                "\"state\":\"creating\",\"last_error\":\"HTTP 502 from api.github.com\","
                "\"warning\":\"owner bob has no GitHub login\",\"synced_at\":null,\"pending\":2}",
                "github:   acme/api\n"
                "sync:     failed: HTTP 502 from api.github.com\n"
                "warning:  owner bob has no GitHub login\n"
                "pending:  2\n");
    expect_rows("{\"tracker\":\"github\",\"repo\":\"acme/api\",\"number\":9,\"url\":\"\","
                "\"state\":\"broken\",\"last_error\":\"issue deleted\",\"warning\":\"\","
                "\"pending\":0}",
                "github:  acme/api#9\n"
                "sync:    broken: issue deleted\n");
    expect_rows("{\"tracker\":\"github\",\"repo\":\"acme/api\",\"state\":\"pending\"}",
                "github:  acme/api\n"
                "sync:    pending\n");
    /* odd types from a confused server are shown, not trusted */
    expect_rows("{\"tracker\":\"github\",\"repo\":7,\"number\":\"7\",\"url\":42,\"state\":null,"
                "\"pending\":\"3\",\"warning\":[1]}",
                "github:   7\n"
                "sync:     -\n"
                "warning:  [1]\n");
    /* a linked issue with no sync time yet, from a server that names no tracker */
    expect_rows("{\"repo\":\"a/b\",\"number\":1,\"state\":\"linked\",\"synced_at\":null}",
                "tracker:  a/b#1\n"
                "sync:     linked\n");
}

static void test_cli_sync__no_sync_object_adds_nothing(void **state)
{
    (void)state;
    expect_rows("null", "");
    expect_rows("[1]", "");
}

static char *status(const char *json, bool color)
{
    json_t *v = parse(json);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_int_equal(cli_sync_render_status(out, v, color, now()), CL_OK);
    fclose(out);
    json_decref(v);
    return text;
}

static const char sync_status[] =
    "{\"connections\":["
    "{\"name\":\"github\",\"tracker\":\"github\",\"api_url\":\"https://api.github.com\","
    "\"auth\":\"app\",\"state\":\"ok\",\"rate_limit\":{\"remaining\":4870,"
    "\"reset_at\":\"2026-03-10T12:12:30Z\"},\"paused_until\":null,\"last_error\":null,"
    "\"repos\":[{\"repo\":\"acme/api\",\"last_success_at\":\"2026-03-10T11:57:00+00:00\","
    "\"last_error\":null,\"pending\":0,\"failed\":0,\"requests\":120,\"not_modified\":98},"
    "{\"repo\":\"acme/web\",\"last_success_at\":null,\"last_error\":\"404 Not Found\","
    "\"pending\":3,\"failed\":1,\"requests\":4,\"not_modified\":0}]},"
    "{\"name\":\"ghe\",\"tracker\":\"github\",\"api_url\":\"https://ghe.example/api/v3\","
    "\"auth\":\"token\",\"state\":\"paused\",\"rate_limit\":{\"remaining\":0,"
    "\"reset_at\":\"2026-03-10T11:00:00Z\"},\"paused_until\":\"2026-03-10T14:00:00+01:00\","
    "\"last_error\":\"rate limited\",\"repos\":[{\"repo\":\"ops/infra\","
    "\"last_success_at\":\"2026-03-08T12:00:00Z\",\"last_error\":null,\"pending\":0,"
    "\"failed\":0,\"requests\":2,\"not_modified\":2}]}]}";

/* Today's answer names "scopes" (a repository, a Jira project); "repos" above is the
 * first API's name, still read. */
static void test_cli_sync__status_scopes_of_every_tracker(void **state)
{
    char *got =
        status("{\"connections\":[{\"name\":\"jira\",\"tracker\":\"jira\",\"auth\":"
               "\"api_token\",\"state\":\"ok\",\"rate_limit\":null,\"scopes\":[{\"tracker\":"
               "\"jira\",\"connection\":\"jira\",\"scope\":\"OPS\",\"repo\":\"OPS\","
               "\"last_success_at\":null,\"pending\":2,\"failed\":0,\"requests\":7,"
               "\"not_modified\":5,\"last_error\":null}],\"repos\":[]}]}",
               false);

    (void)state;
    assert_non_null(
        strstr(got, "\nOPS    never         2        0       7         5          -\n"));
    free(got);
}

static void test_cli_sync__status_tables(void **state)
{
    char *got = status(sync_status, false);

    (void)state;
    assert_string_equal(
        got, "CONNECTION  TRACKER  AUTH   STATE   RATE LEFT  RESET                 PAUSED UNTIL"
             "  LAST ERROR\n"
             "github      github   app    ok      4870       in 12m                -           "
             "  -\n"
             "ghe         github   token  paused  0          2026-03-10T11:00:00Z  in 1h       "
             "  rate limited\n"
             "\n"
             "SCOPE      LAST SUCCESS  PENDING  FAILED  REQUESTS  UNCHANGED  LAST ERROR\n"
             "acme/api   3m ago        0        0       120       98         -\n"
             "acme/web   never         3        1       4         0          404 Not Found\n"
             "ops/infra  2d ago        0        0       2         2          -\n");
    free(got);
}

static void test_cli_sync__status_colours_trouble(void **state)
{
    char *got = status(sync_status, true);

    (void)state;
    assert_non_null(strstr(got, "paused  \033[31m0\033[0m          2026"));
    assert_non_null(strstr(got, "\033[31mrate limited\033[0m\n"));
    assert_non_null(strstr(got, "3        \033[31m1\033[0m       4 "));
    assert_non_null(strstr(got, "\033[31m404 Not Found\033[0m\n"));
    assert_null(strstr(got, "\033[31m-"));
    free(got);
}

static void test_cli_sync__status_shows_dead_letters(void **state)
{
    char *got = status("{\"connections\":[{\"name\":\"github\",\"tracker\":\"github\","
                       "\"auth\":\"token\",\"state\":\"ok\",\"repos\":[]}],"
                       "\"inbox\":{\"pending\":2,\"dead\":1,\"dead_letters\":[{\"id\":9,"
                       "\"delivery\":\"d-1\",\"event\":\"issues\","
                       "\"received_at\":\"2026-03-10T11:00:00Z\","
                       "\"error\":\"issue.title is not a string\"}]}}",
                       false);

    (void)state;
    assert_non_null(strstr(got, "\ninbox: 2 pending, 1 dead letters\n"));
    assert_non_null(strstr(got, "DEAD LETTER  EVENT   RECEIVED  REASON\n"
                                "d-1          issues  1h ago    issue.title is not a string\n"));
    free(got);
}

static void test_cli_sync__status_without_connections_or_repos(void **state)
{
    char *got = status("{\"connections\":[]}", false);

    (void)state;
    assert_string_equal(got, "no sync connections\n");
    free(got);
    got = status("{}", false);
    assert_string_equal(got, "no sync connections\n");
    free(got);
    got = status("{\"connections\":[{\"name\":\"gh\",\"tracker\":\"github\",\"auth\":\"app\","
                 "\"state\":\"ok\",\"rate_limit\":null,\"repos\":[]}]}",
                 false);
    assert_string_equal(got, "CONNECTION  TRACKER  AUTH  STATE  RATE LEFT  RESET  PAUSED UNTIL  "
                             "LAST ERROR\n"
                             "gh          github   app   ok     -          -      -             -\n"
                             "\n"
                             "no scopes reconciled yet\n");
    free(got);
}

static char *import_line(const char *json, const char *incident)
{
    json_t *v = parse(json);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_int_equal(cli_sync_render_import(out, v, incident), CL_OK);
    fclose(out);
    json_decref(v);
    return text;
}

static void test_cli_sync__import_summary(void **state)
{
    char *got = import_line("{\"imported\":12,\"skipped\":3,\"requests\":5}", "INC-1");

    (void)state;
    assert_string_equal(got, "imported 12 issues as actions of INC-1 (3 already linked, "
                             "5 requests)\n");
    free(got);
    got = import_line("{\"imported\":\"x\"}", "INC-\0332");
    assert_string_equal(got, "imported ? issues as actions of INC- 2 (? already linked, "
                             "? requests)\n");
    free(got);
}

static const char doctor_bad[] =
    "{\"ok\":false,\"checks\":["
    "{\"name\":\"credentials\",\"ok\":true,\"detail\":\"app 123 installed on acme\"},"
    "{\"name\":\"permissions\",\"ok\":false,\"detail\":\"issues: read, need write\"},"
    "{\"name\":\"labels\",\"ok\":true,\"detail\":null}]}";

static char *doctor(const char *json, bool color)
{
    json_t *v = parse(json);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_int_equal(cli_sync_render_doctor(out, v, color), CL_OK);
    fclose(out);
    json_decref(v);
    return text;
}

static void test_cli_sync__doctor_lines(void **state)
{
    char *got = doctor(doctor_bad, false);

    (void)state;
    assert_string_equal(got, "ok   credentials  app 123 installed on acme\n"
                             "FAIL permissions  issues: read, need write\n"
                             "ok   labels\n");
    free(got);
    got = doctor(doctor_bad, true);
    assert_non_null(strstr(got, "\033[32mok\033[0m   credentials  app"));
    assert_non_null(strstr(got, "\033[31mFAIL\033[0m permissions  issues"));
    free(got);
    got = doctor("{\"ok\":true,\"checks\":[]}", false);
    assert_string_equal(got, "no checks\n");
    free(got);
}

static int verdict(struct cli_sync_verdict *v, const char *json)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *answer = parse(json);
    int rc = cli_sync_doctor_verdict(v, answer, &err);

    json_decref(answer);
    return rc;
}

static void test_cli_sync__doctor_verdict(void **state)
{
    struct cli_sync_verdict v = {99, 99, true};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(verdict(&v, doctor_bad), CL_OK);
    assert_false(v.ok);
    assert_int_equal(v.checks, 3);
    assert_int_equal(v.failed, 1);
    assert_int_equal(verdict(&v, "{\"ok\":true,\"checks\":[{\"name\":\"a\",\"ok\":true}]}"), CL_OK);
    assert_true(v.ok);
    assert_int_equal(v.failed, 0);
    /* a check without a clear "ok": true counts as failed */
    assert_int_equal(verdict(&v, "{\"ok\":true,\"checks\":[{\"name\":\"a\",\"ok\":\"yes\"}]}"),
                     CL_OK);
    assert_false(v.ok);
    /* the server's own "ok": false wins even when every check passed */
    assert_int_equal(verdict(&v, "{\"ok\":false,\"checks\":[{\"name\":\"a\",\"ok\":true}]}"),
                     CL_OK);
    assert_false(v.ok);
    assert_int_equal(v.failed, 0);
    v.checks = 42;
    assert_int_equal(cli_sync_doctor_verdict(&v, NULL, &err), CL_EHTTP);
    assert_string_equal(err.msg, "unexpected answer from the server: no \"checks\" array");
    assert_int_equal(v.checks, 42); /* untouched on failure */
    assert_int_equal(verdict(&v, "{\"ok\":true}"), CL_EHTTP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_sync__linked_issue_rows),
        cmocka_unit_test(test_cli_sync__failed_broken_warning_pending),
        cmocka_unit_test(test_cli_sync__no_sync_object_adds_nothing),
        cmocka_unit_test(test_cli_sync__status_tables),
        cmocka_unit_test(test_cli_sync__status_colours_trouble),
        cmocka_unit_test(test_cli_sync__status_shows_dead_letters),
        cmocka_unit_test(test_cli_sync__status_without_connections_or_repos),
        cmocka_unit_test(test_cli_sync__status_scopes_of_every_tracker),
        cmocka_unit_test(test_cli_sync__import_summary),
        cmocka_unit_test(test_cli_sync__doctor_lines),
        cmocka_unit_test(test_cli_sync__doctor_verdict),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
