#include "closeloop/sync/github_map.h"

#include "closeloop/sync/github.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static json_t *action(const char *desc, const char *due)
{
    return json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s}", "id", (json_int_t)12, "title",
                     "Cap the pool", "description", desc, "due_on", due, "incident", "INC-42",
                     "postmortem_url", "https://wiki/pm/42", "kind", "corrective");
}

/* A delivery parsed as the inbox worker does: the hook zeroed first. */
static int hook_parse(const char *event, const char *body, size_t len, struct provider_hook *h,
                      struct cl_err *err)
{
    memset(h, 0, sizeof(*h));
    return github_map_hook(event, body, len, h, err);
}

static void test_github_map__body_round_trip(void **state)
{
    json_t *a = action("Bound the pool.\n\nSee the graph.\n\n", "2026-12-01");
    char *body = github_map_body(a, "inst1");
    json_t *got = json_object();

    (void)state;
    assert_non_null(strstr(body, "**Due:** 2026-12-01\n"));
    assert_non_null(strstr(body, "<!-- closeloop:action=12 instance=inst1 -->"));
    assert_int_equal(github_map_parse_body(got, body, "inst1"), 12);
    assert_string_equal(json_string_value(json_object_get(got, "description")),
                        "Bound the pool.\n\nSee the graph.");
    assert_string_equal(json_string_value(json_object_get(got, "due_on")), "2026-12-01");
    /* another installation's marker is not ours */
    assert_int_equal(github_map_parse_body(got, body, "other"), 0);
    json_decref(got);
    json_decref(a);
    free(body);
}

static void test_github_map__due_edits_are_read_back(void **state)
{
    json_t *a = action("", NULL);
    char *body = github_map_body(a, "i");
    json_t *got = json_object();
    char edited[1024];
    char *p;

    (void)state;
    assert_non_null(strstr(body, "**Due:** none"));
    assert_int_equal(github_map_parse_body(got, body, "i"), 12);
    assert_true(json_is_null(json_object_get(got, "due_on")));
    assert_string_equal(json_string_value(json_object_get(got, "description")), "");
    /* an owner types a date */
    snprintf(edited, sizeof(edited), "%s", body);
    p = strstr(edited, "none");
    memmove(p + 10, p + 4, strlen(p + 4) + 1);
    memcpy(p, "2027-01-05", 10);
    github_map_parse_body(got, edited, "i");
    assert_string_equal(json_string_value(json_object_get(got, "due_on")), "2027-01-05");
    /* nonsense leaves the due date unknown (no key), it does not clear it */
    json_object_clear(got);
    github_map_parse_body(got, "text\n<!-- closeloop:begin -->\n**Due:** soon\n", "i");
    assert_null(json_object_get(got, "due_on"));
    /* a body without the section: all of it is the description, nothing about due */
    json_object_clear(got);
    assert_int_equal(github_map_parse_body(got, "just text  \n", "i"), 0);
    assert_string_equal(json_string_value(json_object_get(got, "description")), "just text");
    assert_null(json_object_get(got, "due_on"));
    json_decref(got);
    json_decref(a);
    free(body);
}

static json_t *issue(const char *state, const char *reason, bool pr)
{
    json_t *i =
        json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:s, s:s?, s:s, s:[{s:s},{s:s}], s:[{s:s}]}",
                  "id", (json_int_t)3000000001LL, "node_id", "I_x", "number", 7, "title", "T",
                  "body", "b", "updated_at", "2026-11-21T10:00:00Z", "state", state, "state_reason",
                  reason, "repository_url", "https://api.github.com/repos/acme/web", "assignees",
                  "login", "a1", "login", "a2", "labels", "name", "postmortem");

    if (pr)
        json_object_set_new(i, "pull_request", json_pack("{s:s}", "url", "x"));
    return i;
}

static void test_github_map__snapshot(void **state)
{
    json_t *i = issue("closed", "not_planned", false);
    json_t *s = github_map_snapshot(i, NULL, NULL);

    (void)state;
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "remote_id")), "3000000001");
    assert_string_equal(json_string_value(json_object_get(s, "scope")), "acme/web");
    assert_string_equal(json_string_value(json_object_get(s, "key")), "7");
    assert_string_equal(json_string_value(json_object_get(s, "status")), "wont_do");
    assert_int_equal(json_array_size(json_object_get(s, "assignees")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "labels"), 0)),
                        "postmortem");
    json_decref(s);
    json_decref(i);
    i = issue("closed", "completed", false);
    s = github_map_snapshot(i, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "done");
    json_decref(s);
    json_decref(i);
    i = issue("open", "reopened", false);
    s = github_map_snapshot(i, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "open");
    json_decref(s);
    json_decref(i);
    i = issue("open", NULL, true); /* pull requests are not issues */
    assert_null(github_map_snapshot(i, NULL, NULL));
    json_decref(i);
}

/* Every member read from GitHub is checked for type: an odd answer is an error that
 * names the member, never a crash or a value of the wrong kind. */
static void test_github_map__snapshot_checks_types(void **state)
{
    static const char *const cases[][2] = {
        {"{\"title\":12345}", "title"},
        {"{\"title\":null}", "title"},
        {"{\"id\":\"7\"}", "id"},
        {"{\"number\":-1}", "number"},
        {"{\"state\":[\"open\"]}", "state"},
        {"{\"state\":\"merged\"}", "state"},
        {"{\"updated_at\":7}", "updated_at"},
        {"{\"updated_at\":\"soon\"}", "updated_at"},
        {"{\"body\":{\"x\":1}}", "body"},
        {"{\"state_reason\":3}", "state_reason"},
        {"{\"assignees\":\"a1\"}", "assignees"},
        {"{\"assignees\":[{\"login\":1}]}", "assignees"},
        {"{\"labels\":[\"postmortem\"]}", "labels"},
        {"{\"labels\":{}}", "labels"},
    };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct cl_err err = CL_ERR_INIT;
        json_t *i = issue("open", NULL, false);
        json_t *patch = json_loads(cases[k][0], 0, NULL);

        json_object_update(i, patch);
        assert_null(github_map_snapshot(i, NULL, &err));
        assert_int_equal(err.code, CL_EINVAL);
        if (strstr(err.msg, cases[k][1]) == NULL)
            fail_msg("%s: message \"%s\" does not name %s", cases[k][0], err.msg, cases[k][1]);
        json_decref(patch);
        json_decref(i);
    }
}

/* A repository URL that is not a plain owner/repo is not believed: writes go by name. */
static void test_github_map__snapshot_repo_must_be_valid(void **state)
{
    json_t *i = issue("open", NULL, false);
    json_t *s;

    (void)state;
    json_object_set_new(i, "repository_url",
                        json_string("https://api.github.com/repos/../../user/repos?x="));
    s = github_map_snapshot(i, NULL, NULL);
    assert_non_null(s);
    assert_true(json_is_null(json_object_get(s, "scope")));
    json_decref(s);
    json_object_del(i, "assignees"); /* absent: the owner is left alone, not cleared */
    s = github_map_snapshot(i, NULL, NULL);
    assert_null(json_object_get(s, "assignees"));
    json_decref(s);
    json_decref(i);
}

static void test_github_map__webhook_kinds(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct provider_hook h;
    json_t *i = issue("open", NULL, false);
    char *payload;
    json_t *root;

    (void)state;
    root = json_pack("{s:s, s:O, s:{s:s}}", "action", "edited", "issue", i, "sender", "login",
                     "octocat");
    payload = json_dumps(root, 0);
    assert_int_equal(hook_parse("issues", payload, strlen(payload), &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_APPLY);
    assert_string_equal(h.actor, "octocat");
    assert_string_equal(json_string_value(json_object_get(h.remote, "title")), "T");
    json_decref(h.remote);
    free(payload);
    json_object_set_new(root, "action", json_string("deleted"));
    payload = json_dumps(root, 0);
    assert_int_equal(hook_parse("issues", payload, strlen(payload), &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_DELETED);
    assert_string_equal(h.old_id, "3000000001");
    free(payload);
    assert_int_equal(hook_parse("ping", "{\"zen\":\"z\"}", 11, &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_PING);
    assert_int_equal(hook_parse("star", "{}", 2, &h, &err), CL_OK);
    assert_int_equal(h.kind, PROVIDER_HOOK_IGNORE);
    assert_int_equal(hook_parse("issues", "not json", 8, &h, &err), CL_EINVAL);
    json_decref(root);
    json_decref(i);
}

/* Every real `issues` example payload from @octokit/webhooks-examples parses; the
 * directory comes from tests/run.sh (skipped when npm could not fetch it). */
/* The example's top-level "action" is one that can change what closeloop syncs. */
static bool example_relevant(const char *text)
{
    static const char *const relevant[] = {"opened",   "edited",     "closed",      "reopened",
                                           "assigned", "unassigned", "transferred", "deleted"};
    json_t *root = json_loads(text, 0, NULL);
    const char *action = json_string_value(json_object_get(root, "action"));
    bool yes = false;
    size_t i;

    for (i = 0; action != NULL && i < CL_ARRAY_LEN(relevant); i++)
        yes |= strcmp(action, relevant[i]) == 0;
    json_decref(root);
    return yes;
}

static void test_github_map__octokit_examples_parse(void **state)
{
    const char *dir = getenv("CLOSELOOP_WEBHOOK_EXAMPLES");
    char path[512];
    int n;
    int parsed = 0;

    (void)state;
    if (dir == NULL)
        skip();
    for (n = 1; n <= 200; n++) {
        struct cl_err err = CL_ERR_INIT;
        struct provider_hook h;
        char *text;
        long len;
        FILE *f;

        snprintf(path, sizeof(path), "%s/issues-%d.json", dir, n);
        f = fopen(path, "r");
        if (f == NULL)
            break;
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = calloc(1, (size_t)len + 1);
        assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        if (hook_parse("issues", text, (size_t)len, &h, &err) != CL_OK)
            fail_msg("%s: %s", path, err.msg);
        /* a pull request, and an action that cannot change a synced field (pinned,
         * labeled, locked...), is ignored; every other one is applied */
        if (strstr(text, "\"pull_request\"") != NULL || !example_relevant(text))
            assert_int_equal(h.kind, PROVIDER_HOOK_IGNORE);
        else
            assert_true(h.kind == PROVIDER_HOOK_APPLY || h.kind == PROVIDER_HOOK_MOVED ||
                        h.kind == PROVIDER_HOOK_DELETED);
        json_decref(h.remote);
        free(text);
        parsed++;
    }
    assert_true(parsed >= 20);
}

static void test_github_map__connections_from_config(void **state)
{
    static const struct conf_tracker *const trackers[] = {&github_conf};
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char path[] = "/tmp/closeloop-gh-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    const struct conf_conn *ghes;

    (void)state;
    fputs("github_token = ghp_default\n[github.ghes]\napi_url = https://ghe.corp/api/v3\n"
          "token = t2\nowners = corp, Corp-Labs\n",
          f);
    fclose(f);
    assert_int_equal(conf_load_file(c, path, &err), CL_OK);
    assert_int_equal(c->nconns, 2);
    ghes = conf_conn_named(c, "github", "ghes");
    assert_non_null(ghes);
    assert_string_equal(conf_conn_get(ghes, "api_url"), "https://ghe.corp/api/v3");
    assert_string_equal(ghes->scopes, "corp, Corp-Labs"); /* "owners" is scopes' old name */
    assert_string_equal(conf_conn_get(conf_conn_named(c, "github", "github"), "token"),
                        "ghp_default");
    assert_int_equal(conf_set(c, "github_nope", "1", "t", &err), CL_EINVAL);
    unlink(path);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_github_map__body_round_trip),
        cmocka_unit_test(test_github_map__due_edits_are_read_back),
        cmocka_unit_test(test_github_map__snapshot),
        cmocka_unit_test(test_github_map__snapshot_checks_types),
        cmocka_unit_test(test_github_map__snapshot_repo_must_be_valid),
        cmocka_unit_test(test_github_map__webhook_kinds),
        cmocka_unit_test(test_github_map__octokit_examples_parse),
        cmocka_unit_test(test_github_map__connections_from_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
