/* jira_map: Jira issues as snapshots (both flavours), the requests an action needs, the
 * transition chosen toward a status, webhook payloads, times and JQL literals. */
#include "closeloop/sync/jira_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const struct jira_map_ctx cloud = {JIRA_CLOUD, "https://acme.atlassian.net", "Won't Do",
                                          "0123456789abcdef"};
static const struct jira_map_ctx dc = {JIRA_DC, "https://jira.corp/ctx", "Won't Do",
                                       "0123456789abcdef"};

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (v == NULL)
        fail_msg("bad test JSON at %d: %s", e.position, e.text);
    return v;
}

/* An issue as Jira's GET shows it; `status` is {name, category}, description raw JSON. */
static json_t *issue(const char *desc, const char *status, const char *category,
                     const char *resolution, const char *assignee)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "{\"id\": \"10042\", \"key\": \"OPS-7\", \"fields\": {\"summary\": \"Cap the pool\","
             " \"description\": %s, \"status\": {\"id\": \"1\", \"name\": \"%s\","
             " \"statusCategory\": {\"key\": \"%s\"}}, \"resolution\": %s, \"assignee\": %s,"
             " \"duedate\": \"2027-01-15\", \"labels\": [\"postmortem\","
             " \"closeloop-01234567-12\"], \"project\": {\"key\": \"OPS\"},"
             " \"updated\": \"2026-12-06T17:52:03.123+0530\"}}",
             desc, status, category, resolution, assignee);
    return load(text);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- names and times ---- */

static void test_jira_map__scopes_keys_and_markers(void **state)
{
    char p[64];
    char t[64];
    char m[64];

    (void)state;
    assert_true(jira_map_scope_split("OPS", p, sizeof(p), t, sizeof(t)));
    assert_string_equal(p, "OPS");
    assert_string_equal(t, "");
    assert_true(jira_map_scope_split("OPS/New Feature", p, sizeof(p), t, sizeof(t)));
    assert_string_equal(t, "New Feature");
    assert_false(jira_map_scope_split("ops", NULL, 0, NULL, 0));
    assert_false(jira_map_scope_split("OPS/", NULL, 0, NULL, 0));
    assert_false(jira_map_scope_split("OPS/a/b", NULL, 0, NULL, 0));
    assert_false(jira_map_scope_split("OPS/a\nb", NULL, 0, NULL, 0));
    assert_false(jira_map_scope_split("../OPS", NULL, 0, NULL, 0));
    assert_true(jira_map_key_valid("OPS-1"));
    assert_true(jira_map_key_valid("A_1-9999999999"));
    assert_false(jira_map_key_valid("OPS-0"));
    assert_false(jira_map_key_valid("OPS-01"));
    assert_false(jira_map_key_valid("OPS-12345678901"));
    assert_false(jira_map_key_valid("ops-1"));
    assert_false(jira_map_key_valid("OPS"));
    jira_map_marker(m, sizeof(m), "0123456789abcdef", 42);
    assert_string_equal(m, "closeloop-01234567-42");
}

static void test_jira_map__times(void **state)
{
    char out[40];
    double t;

    (void)state;
    assert_true(jira_map_time(&t, "2024-01-31T12:34:56.789+0000"));
    assert_true(jira_map_rfc3339(out, sizeof(out), "2024-01-31T12:34:56.789+0000"));
    assert_string_equal(out, "2024-01-31T12:34:56.789Z");
    assert_true(jira_map_rfc3339(out, sizeof(out), "2024-01-31T18:04:56.789+0530"));
    assert_string_equal(out, "2024-01-31T12:34:56.789Z");
    assert_true(jira_map_rfc3339(out, sizeof(out), "2024-01-31T07:34:56-05:00"));
    assert_string_equal(out, "2024-01-31T12:34:56.000Z");
    assert_true(jira_map_rfc3339(out, sizeof(out), "2024-01-31T12:34:56.5Z"));
    assert_string_equal(out, "2024-01-31T12:34:56.500Z");
    assert_true(jira_map_time(&t, "2026-12-06T17:52:03.123456+00:00")); /* PostgreSQL's form */
    assert_false(jira_map_time(&t, "2024-01-31 12:34:56+0000"));
    assert_false(jira_map_time(&t, "2024-01-31T12:34:56"));
    assert_false(jira_map_time(&t, "2024-13-31T12:34:56Z"));
    assert_false(jira_map_time(&t, "2024-01-31T12:34:56+2500"));
    assert_false(jira_map_time(&t, "2024-01-31T12:34:56.+0000"));
    assert_false(jira_map_time(&t, NULL));
}

/* JQL reads literals in the account's zone, at minute precision, DST included. */
static void test_jira_map__jql_literals_in_the_accounts_zone(void **state)
{
    char out[32];
    const char *before = getenv("TZ");

    (void)state;
    jira_map_jql_time(out, sizeof(out), 1783080059.0,
                      "America/New_York");        /* 2026-07-03 12:00:59Z */
    assert_string_equal(out, "2026/07/03 08:00"); /* EDT, -4 */
    jira_map_jql_time(out, sizeof(out), 1796558400.0, "America/New_York"); /* 2026-12-06 12:00Z */
    assert_string_equal(out, "2026/12/06 07:00");                          /* EST, -5 */
    jira_map_jql_time(out, sizeof(out), 1796558400.0, "Asia/Kolkata");
    assert_string_equal(out, "2026/12/06 17:30");
    jira_map_jql_time(out, sizeof(out), 1796558400.0, NULL);
    assert_string_equal(out, "2026/12/06 12:00");
    if (before == NULL)
        assert_null(getenv("TZ")); /* the process's TZ is left as it was */
    else
        assert_string_equal(getenv("TZ"), before);
}

/* ---- snapshots ---- */

static void test_jira_map__cloud_snapshot(void **state)
{
    json_t *raw = issue("{\"type\": \"doc\", \"version\": 1, \"content\": ["
                        "{\"type\": \"paragraph\", \"content\": [{\"type\": \"text\", \"text\": "
                        "\"Owner \"}, {\"type\": \"text\", \"text\": \"words\", \"marks\": "
                        "[{\"type\": \"strong\"}]}]}, {\"type\": \"rule\"}, {\"type\": "
                        "\"paragraph\", \"content\": [{\"type\": \"text\", \"text\": "
                        "\"Postmortem: INC-1 · corrective action, kept in step by "
                        "closeloop.\"}]}]}",
                        "In Review", "indeterminate", "null", "{\"accountId\": \"5b10ac8d\"}");
    struct cl_err err = CL_ERR_INIT;
    json_t *s = jira_map_snapshot(raw, &cloud, &err);

    (void)state;
    assert_non_null(s);
    assert_string_equal(str(s, "remote_id"), "10042");
    assert_string_equal(str(s, "key"), "OPS-7");
    assert_string_equal(str(s, "scope"), "OPS");
    assert_string_equal(str(s, "url"), "https://acme.atlassian.net/browse/OPS-7");
    assert_string_equal(str(s, "updated_at"), "2026-12-06T12:22:03.123Z");
    assert_string_equal(str(s, "description"), "Owner **words**");
    assert_string_equal(str(s, "status"), "in_progress");
    assert_string_equal(str(s, "due_on"), "2027-01-15");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "assignees"), 0)),
                        "5b10ac8d");
    assert_int_equal(json_integer_value(json_object_get(s, "marker_action")), 12);
    json_decref(s);
    json_decref(raw);
}

static void test_jira_map__statuses_by_category_and_resolution(void **state)
{
    static const char *const cases[][4] = {
        {"To Do", "new", "null", "open"},
        {"Backlog", "undefined", "null", "open"},
        {"Done", "done", "{\"name\": \"Done\"}", "done"},
        {"Closed", "done", "{\"name\": \"won't do\"}", "wont_do"},
        {"Won't Do", "done", "null", "wont_do"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *raw = issue("null", cases[i][0], cases[i][1], cases[i][2], "null");
        json_t *s = jira_map_snapshot(raw, &cloud, NULL);

        assert_non_null(s);
        assert_string_equal(str(s, "status"), cases[i][3]);
        assert_int_equal(json_array_size(json_object_get(s, "assignees")), 0);
        assert_string_equal(str(s, "description"), "");
        json_decref(s);
        json_decref(raw);
    }
}

static void test_jira_map__data_center_snapshot_and_odd_forms(void **state)
{
    json_t *raw = issue("\"Keys expire *soon*.\\n\\n----\\nPostmortem: INC-1 \\u00b7 corrective "
                        "action, kept in step by closeloop.\"",
                        "To Do", "new", "null", "{\"name\": \"alice\"}");
    json_t *s = jira_map_snapshot(raw, &dc, NULL);

    (void)state;
    assert_non_null(s);
    assert_string_equal(str(s, "description"), "Keys expire **soon**.");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "assignees"), 0)),
                        "alice");
    json_decref(s);
    assert_null(jira_map_snapshot(raw, &cloud, NULL)); /* Cloud names assignees by accountId */
    json_object_set_new(json_object_get(raw, "fields"), "assignee", json_null());
    s = jira_map_snapshot(raw, &cloud, NULL); /* v2 text where v3 is expected: unknown */
    assert_non_null(s);
    assert_null(json_object_get(s, "description"));
    assert_true(json_is_true(json_object_get(s, "description_unknown")));
    json_decref(s);
    json_decref(raw);
}

/* Every member is checked for type: an odd answer is refused with the reason. */
static void test_jira_map__odd_issues_are_refused(void **state)
{
    static const char *const bad[][2] = {
        {"{\"id\": 10042, \"key\": \"OPS-7\", \"fields\": {}}", "id"},
        {"{\"id\": \"10042\", \"key\": \"../x\", \"fields\": {}}", "key"},
        {"{\"id\": \"1\", \"key\": \"OPS-7\", \"fields\": {\"summary\": 5}}", "summary"},
        {"{\"id\": \"1\", \"key\": \"OPS-7\", \"fields\": {\"summary\": \"s\", \"updated\": "
         "\"yesterday\"}}",
         "updated"},
        {"{\"id\": \"1\", \"key\": \"OPS-7\", \"fields\": {\"summary\": \"s\", \"updated\": "
         "\"2026-12-06T17:52:03.123+0530\", \"status\": {\"name\": \"x\"}}}",
         "statusCategory"},
        {"{\"id\": \"1\", \"key\": \"OPS-7\"}", "fields"},
        {"[]", "fields"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cl_err err = CL_ERR_INIT;
        json_t *raw = load(bad[i][0]);

        assert_null(jira_map_snapshot(raw, &cloud, &err));
        assert_non_null(strstr(err.msg, bad[i][1]));
        json_decref(raw);
    }
}

/* ---- requests ---- */

static json_t *action(const char *title, const char *owner_id, const char *owner_name)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s}", "id", (json_int_t)12,
                     "title", title, "description", "Cap it **now**.", "kind", "corrective",
                     "incident", "INC-1", "due_on", "2027-01-15", "owner_jira_account_id", owner_id,
                     "owner_jira_name", owner_name, "status", "open", "owner", "alice");
}

static void test_jira_map__create_bodies(void **state)
{
    json_t *a = action("Cap the pool", "5b10", "alice");
    json_t *extra = load("{\"customfield_10050\": {\"value\": \"High\"}, \"summary\": \"no\"}");
    json_t *b = jira_map_create(a, "OPS", "Bug", extra, &cloud, NULL);
    json_t *f = json_object_get(b, "fields");
    char *text;

    (void)state;
    assert_string_equal(str(json_object_get(f, "project"), "key"), "OPS");
    assert_string_equal(str(json_object_get(f, "issuetype"), "name"), "Bug");
    assert_string_equal(str(f, "summary"), "Cap the pool"); /* extra fields never override */
    assert_string_equal(str(json_object_get(f, "assignee"), "accountId"), "5b10");
    assert_string_equal(str(f, "duedate"), "2027-01-15");
    assert_string_equal(str(json_object_get(f, "description"), "type"), "doc");
    assert_non_null(json_object_get(f, "customfield_10050"));
    text = json_dumps(json_object_get(f, "labels"), JSON_COMPACT);
    assert_string_equal(text, "[\"postmortem\",\"corrective\",\"closeloop-01234567-12\"]");
    free(text);
    assert_non_null(json_object_get(b, "properties"));
    json_decref(b);
    b = jira_map_create(a, "OPS", "Task", NULL, &dc, NULL);
    f = json_object_get(b, "fields");
    assert_true(json_is_string(json_object_get(f, "description")));
    assert_string_equal(str(json_object_get(f, "assignee"), "name"), "alice");
    assert_null(json_object_get(b, "properties"));
    json_decref(b);
    json_decref(extra);
    json_decref(a);
}

/* 255 characters fit (each 3 bytes here); 256 are a permanent error naming the limit. */
static void test_jira_map__summary_limit_counts_characters(void **state)
{
    char title[1024] = "";
    struct cl_err err = CL_ERR_INIT;
    json_t *a;
    json_t *b;
    int i;

    (void)state;
    for (i = 0; i < 255; i++)
        strcat(title, "\xe5\xad\x97");
    a = action(title, NULL, NULL);
    b = jira_map_create(a, "OPS", "Task", NULL, &cloud, &err);
    assert_non_null(b);
    json_decref(b);
    json_decref(a);
    strcat(title, "x");
    a = action(title, NULL, NULL);
    assert_null(jira_map_create(a, "OPS", "Task", NULL, &cloud, &err));
    assert_non_null(strstr(err.msg, "256 characters"));
    assert_non_null(strstr(err.msg, "255"));
    json_decref(a);
}

static void test_jira_map__edit_sends_only_what_differs(void **state)
{
    json_t *raw = issue("null", "To Do", "new", "null", "null");
    json_t *remote = jira_map_snapshot(raw, &cloud, NULL);
    json_t *local = action("Cap the pool", NULL, NULL);
    json_t *edit;
    char *text;

    (void)state;
    json_object_set_new(remote, "description", json_string("Cap it **now**."));
    json_object_set_new(local, "kind", json_string("preventive"));
    edit = jira_map_edit(local, remote, &cloud, NULL);
    text = json_dumps(edit, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"update\":{\"labels\":[{\"add\":\"preventive\"}]}}");
    free(text);
    json_decref(edit);
    json_object_set_new(local, "title", json_string("Cap the pool at 80"));
    json_object_set_new(local, "due_on", json_null());
    edit = jira_map_edit(local, remote, &cloud, NULL);
    assert_string_equal(str(json_object_get(edit, "fields"), "summary"), "Cap the pool at 80");
    assert_true(json_is_null(json_object_get(json_object_get(edit, "fields"), "duedate")));
    assert_null(json_object_get(json_object_get(edit, "fields"), "description"));
    json_decref(edit);
    json_decref(local);
    json_decref(remote);
    json_decref(raw);
}

static void test_jira_map__assignee(void **state)
{
    json_t *raw = issue("null", "To Do", "new", "null", "{\"accountId\": \"5b10\"}");
    json_t *remote = jira_map_snapshot(raw, &cloud, NULL);
    json_t *local = action("t", "5b10", NULL);
    json_t *b;

    (void)state;
    assert_null(jira_map_assignee(local, remote, &cloud)); /* the same */
    json_object_set_new(local, "owner_jira_account_id", json_string("7c20"));
    b = jira_map_assignee(local, remote, &cloud);
    assert_string_equal(str(b, "accountId"), "7c20");
    json_decref(b);
    json_object_del(local, "owner_jira_account_id"); /* an owner without an account here */
    assert_null(jira_map_assignee(local, remote, &cloud));
    json_object_del(local, "owner"); /* no owner: unassign */
    b = jira_map_assignee(local, remote, &cloud);
    assert_true(json_is_null(json_object_get(b, "accountId")));
    json_decref(b);
    json_decref(local);
    json_decref(remote);
    json_decref(raw);
}

/* ---- transitions ---- */

/* What a classic workflow offers from To Do, and from In Progress. */
static const char from_todo[] =
    "{\"transitions\": ["
    "{\"id\": \"111\", \"name\": \"Start\", \"to\": {\"id\": \"3\", \"name\": \"In Progress\","
    " \"statusCategory\": {\"key\": \"indeterminate\"}}},"
    "{\"id\": \"141\", \"name\": \"Won't Do\", \"to\": {\"id\": \"5\", \"name\": \"Won't Do\","
    " \"statusCategory\": {\"key\": \"done\"}}, \"fields\": {\"resolution\": {\"required\": true,"
    " \"allowedValues\": [{\"name\": \"Done\"}, {\"name\": \"Won't Do\"}]}}}]}";
static const char from_progress[] =
    "{\"transitions\": ["
    "{\"id\": \"131\", \"name\": \"Done\", \"to\": {\"id\": \"4\", \"name\": \"Done\","
    " \"statusCategory\": {\"key\": \"done\"}}, \"fields\": {\"resolution\": {\"required\": true,"
    " \"allowedValues\": [{\"name\": \"Done\"}, {\"name\": \"Won't Do\"}]}}},"
    "{\"id\": \"121\", \"name\": \"Stop\", \"to\": {\"id\": \"1\", \"name\": \"To Do\","
    " \"statusCategory\": {\"key\": \"new\"}}},"
    "{\"id\": \"99\", \"name\": \"Review\", \"to\": {\"id\": \"6\", \"name\": \"Review\","
    " \"statusCategory\": {\"key\": \"done\"}}, \"fields\": {\"customfield_1\": {\"required\":"
    " true}}}]}";

static char *pick(const char *answer, const char *status, json_t *visited, bool *final)
{
    json_t *ans = load(answer);
    json_t *local = json_pack("{s:s}", "status", status);
    struct cl_err err = CL_ERR_INIT;
    json_t *b = jira_map_transition(ans, local, visited, &cloud, final, &err);
    char *text = b != NULL ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : cl_strdup(err.msg);

    json_decref(b);
    json_decref(local);
    json_decref(ans);
    return text;
}

static void test_jira_map__transitions_walk_to_the_category(void **state)
{
    json_t *visited = json_pack("[s]", "1");
    bool final = true;
    char *t;

    (void)state;
    t = pick(from_todo, "done", visited, &final); /* no direct way: a step through In Progress */
    assert_string_equal(t, "{\"transition\":{\"id\":\"111\"}}");
    assert_false(final);
    assert_int_equal(json_array_size(visited), 2);
    free(t);
    t = pick(from_progress, "done", visited, &final); /* the lower id 99 needs a field */
    assert_string_equal(t,
                        "{\"fields\":{\"resolution\":{\"name\":\"Done\"}},\"transition\":{\"id\":"
                        "\"131\"}}");
    assert_true(final);
    free(t);
    t = pick(from_todo, "wont_do", visited, &final);
    assert_string_equal(t, "{\"fields\":{\"resolution\":{\"name\":\"Won't Do\"}},\"transition\":{"
                           "\"id\":\"141\"}}");
    assert_true(final);
    free(t);
    json_decref(visited);
    visited = json_pack("[s]", "3"); /* now in progress, going back to To Do */
    t = pick(from_progress, "open", visited, &final);
    assert_string_equal(t, "{\"transition\":{\"id\":\"121\"}}");
    assert_true(final);
    free(t);
    json_decref(visited);
}

static void test_jira_map__no_way_forward_is_an_error(void **state)
{
    json_t *visited = json_pack("[s, s]", "1", "3");
    bool final = true;
    char *t;

    (void)state;
    t = pick(from_todo, "done", visited, &final); /* In Progress already visited */
    assert_non_null(strstr(t, "no transition leads to a status of category done"));
    free(t);
    t = pick("{\"transitions\": 5}", "done", visited, &final);
    assert_non_null(strstr(t, "no transitions list"));
    free(t);
    json_decref(visited);
}

/* ---- webhooks ---- */

static int hook(const char *body, const struct jira_map_ctx *c, struct provider_hook *h,
                struct cl_err *err)
{
    memset(h, 0, sizeof(*h));
    return jira_map_hook(body, strlen(body), c, h, err);
}

static void test_jira_map__webhooks(void **state)
{
    struct provider_hook h;
    struct cl_err err = CL_ERR_INIT;
    char body[2048];

    (void)state;
    snprintf(
        body, sizeof(body),
        "{\"webhookEvent\": \"jira:issue_updated\", \"timestamp\": 1796580000000, \"user\":"
        " {\"accountId\": \"5b10\"}, \"issue\": {\"id\": \"10042\", \"key\": \"OPS-7\","
        " \"fields\": {\"summary\": \"s\", \"description\": %s, \"status\": {\"statusCategory\":"
        " {\"key\": \"new\"}}, \"updated\": \"2026-12-06T17:52:03.123+0530\"}}}",
        "null");
    assert_int_equal(hook(body, &cloud, &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_APPLY);
    assert_string_equal(h.old_id, "10042");
    assert_string_equal(h.actor, "5b10");
    assert_string_equal(h.scope, "OPS");
    assert_string_equal(h.updated_at, "2026-12-06T12:22:03.123Z");
    assert_string_equal(h.event, "jira:issue_updated");
    json_decref(h.remote);
    snprintf(body, sizeof(body),
             "{\"webhookEvent\": \"jira:issue_updated\", \"issue\": {\"id\": \"10042\", \"key\":"
             " \"OPS-7\", \"fields\": {\"summary\": \"s\", \"description\": \"wiki *text*\","
             " \"status\": {\"statusCategory\": {\"key\": \"new\"}}, \"updated\":"
             " \"2026-12-06T17:52:03.123+0530\"}}}");
    assert_int_equal(hook(body, &cloud, &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_REREAD); /* v2 text on Cloud: read the issue */
    json_decref(h.remote);
    assert_int_equal(hook("{\"webhookEvent\": \"jira:issue_deleted\", \"timestamp\": "
                          "1796580000250, \"issue\": {\"id\": \"10042\"}}",
                          &cloud, &h, &err),
                     CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_DELETED);
    assert_string_equal(h.old_id, "10042");
    /* the milliseconds stay: a deletion in the second of the last update is not "older" */
    assert_string_equal(h.updated_at, "2026-12-06T18:00:00.250Z");
    assert_int_equal(hook("{\"webhookEvent\": \"comment_created\"}", &cloud, &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_IGNORE);
    assert_int_equal(hook("{\"webhookEvent\": 5}", &cloud, &h, &err), CL_EINVAL);
    assert_int_equal(hook("not json", &cloud, &h, &err), CL_EINVAL);
    assert_int_equal(hook("{\"webhookEvent\": \"jira:issue_deleted\", \"issue\": {\"id\": 7}}",
                          &cloud, &h, &err),
                     CL_EINVAL);
}

/* A reminder comment: Cloud gets ADF with the mention node first and the marker as the
 * last paragraph; Data Center gets wiki text with [~name]; the marker is found in either
 * form of Jira's answer and not in another comment. */
static void test_jira_map__comment_bodies(void **state)
{
    json_t *mention = json_pack("{s:s, s:s}", "jira_account_id", "5b10ac8d82e05b22cc7d4ef5",
                                "jira_name", "alice");
    struct provider_comment cm = {"**Reminder:** due on 2026-12-10, in 3 days.",
                                  "clr-1a2b3c4d-7-42", "2026-12-07T10:00:00+00:00", mention};
    json_t *c = jira_map_comment(&cm, &cloud);
    json_t *doc = json_object_get(c, "body");
    json_t *blocks = json_object_get(doc, "content");
    json_t *first = json_array_get(json_object_get(json_array_get(blocks, 0), "content"), 0);
    json_t *last = json_array_get(blocks, json_array_size(blocks) - 1);
    char *wiki;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(doc, "type")), "doc");
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "mention");
    assert_string_equal(json_string_value(json_object_get(json_object_get(first, "attrs"), "id")),
                        "5b10ac8d82e05b22cc7d4ef5");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(last, "content"), 0), "text")),
                        "closeloop ref clr-1a2b3c4d-7-42");
    assert_true(jira_map_comment_has(c, "clr-1a2b3c4d-7-42"));
    assert_false(jira_map_comment_has(c, "clr-1a2b3c4d-7-4"));
    json_decref(c);

    c = jira_map_comment(&cm, &dc);
    wiki = cl_strdup(json_string_value(json_object_get(c, "body")));
    assert_non_null(strstr(wiki, "[~alice] *Reminder:*"));
    assert_non_null(strstr(wiki, "_closeloop ref clr-1a2b3c4d-7-42_"));
    assert_true(jira_map_comment_has(c, "clr-1a2b3c4d-7-42"));
    json_decref(c);
    free(wiki);

    /* no account known, and a name that cannot be written in [~...]: no mention */
    json_object_del(mention, "jira_account_id");
    json_object_set_new(mention, "jira_name", json_string("a]b"));
    c = jira_map_comment(&cm, &cloud);
    blocks = json_object_get(json_object_get(c, "body"), "content");
    first = json_array_get(json_object_get(json_array_get(blocks, 0), "content"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "text");
    json_decref(c);
    c = jira_map_comment(&cm, &dc);
    assert_null(strstr(json_string_value(json_object_get(c, "body")), "[~"));
    json_decref(c);
    /* an odd answer: a body that is neither text nor a document has no marker */
    c = json_pack("{s:i}", "body", 5);
    assert_false(jira_map_comment_has(c, "clr-1a2b3c4d-7-42"));
    json_decref(c);
    json_decref(mention);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jira_map__scopes_keys_and_markers),
        cmocka_unit_test(test_jira_map__times),
        cmocka_unit_test(test_jira_map__jql_literals_in_the_accounts_zone),
        cmocka_unit_test(test_jira_map__cloud_snapshot),
        cmocka_unit_test(test_jira_map__statuses_by_category_and_resolution),
        cmocka_unit_test(test_jira_map__data_center_snapshot_and_odd_forms),
        cmocka_unit_test(test_jira_map__odd_issues_are_refused),
        cmocka_unit_test(test_jira_map__create_bodies),
        cmocka_unit_test(test_jira_map__summary_limit_counts_characters),
        cmocka_unit_test(test_jira_map__edit_sends_only_what_differs),
        cmocka_unit_test(test_jira_map__assignee),
        cmocka_unit_test(test_jira_map__transitions_walk_to_the_category),
        cmocka_unit_test(test_jira_map__no_way_forward_is_an_error),
        cmocka_unit_test(test_jira_map__webhooks),
        cmocka_unit_test(test_jira_map__comment_bodies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
