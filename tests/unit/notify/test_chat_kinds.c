#include "closeloop/notify/chat_kinds.h"
#include "closeloop/notify/chat_render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A hand-written digest in the shape of cl_digest_content(). */
static const char digest_text[] =
    "{\"recipient\": {\"handle\": \"mia\", \"email\": \"mia@example.com\", \"name\": \"Mia\","
    " \"timezone\": \"Europe/Berlin\"},"
    " \"scope\": {\"kind\": \"facilitator\", \"handle\": \"mia\"},"
    " \"period\": {\"key\": \"2026-12\", \"cadence\": \"monthly\", \"from\": "
    "\"2026-12-01T00:00:00+01:00\", \"to\": \"2027-01-01T00:00:00+01:00\", \"timezone\": "
    "\"Europe/Berlin\"},"
    " \"owes\": [{\"owner\": null, \"open\": 3, \"overdue\": 0, \"items\": [{\"id\": 1, "
    "\"incident\": \"INC-1\", \"title\": \"a|b>c\", \"owner\": null, \"status\": \"open\", "
    "\"due_on\": null, \"url\": \"https://x.example/i?a=1|2 (3)\"}]}],"
    " \"slipped\": [{\"id\": 2, \"incident\": \"INC-1\", \"title\": \"late\", \"owner\": \"bo\","
    " \"status\": \"open\", \"due_on\": \"2026-12-02\", \"url\": null, \"why\": "
    "\"new_overdue\"}],"
    " \"done\": [], \"verified\": [], \"unowned\": [], \"undated\": [],"
    " \"reviews\": {\"held\": [], \"upcoming\": [{\"incident\": \"INC-1\", \"local\": null,"
    " \"timezone\": null, \"status\": \"proposed\"}]},"
    " \"drift\": [{\"id\": 3, \"incident\": \"INC-1\", \"title\": \"d\", \"owner\": \"bo\","
    " \"status\": \"done\", \"due_on\": null, \"url\": \"javascript:alert(1)\", \"drift\": "
    "\"closed in GitHub\"}],"
    " \"trend\": [], \"counts\": {}}";

static json_t *render(const char *flavour, const json_t *payload, struct cl_err *err)
{
    const struct chat_kind *k = chat_kind_find("digest");
    char *body = NULL;
    json_t *v;

    assert_non_null(k);
    if (k->render(payload, flavour, &body, err) != CL_OK)
        return NULL;
    v = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(v);
    return v;
}

static const char *section_text(const json_t *blocks, const char *prefix)
{
    size_t i;

    for (i = 0; i < json_array_size(blocks); i++) {
        const char *t = json_string_value(
            json_object_get(json_object_get(json_array_get(blocks, i), "text"), "text"));

        if (t != NULL && strncmp(t, prefix, strlen(prefix)) == 0)
            return t;
    }
    return NULL;
}

static void test_slack_digest(void **state)
{
    json_t *payload = json_loads(digest_text, 0, NULL);
    struct cl_err err = CL_ERR_INIT;
    json_t *msg;
    json_t *blocks;
    const char *t;

    (void)state;
    assert_non_null(payload);
    msg = render("slack", payload, &err);
    assert_non_null(msg);
    blocks = json_object_get(msg, "blocks");
    assert_string_equal(json_string_value(json_object_get(msg, "text")),
                        "closeloop digest: incidents facilitated by mia, 2026-12");
    t = section_text(blocks, "*What is owed");
    assert_non_null(t);
    /* | > ( ) and space percent-encoded in the url; & < > escaped in the text */
    assert_non_null(strstr(t, "<https://x.example/i?a=1%7C2%20%283%29|INC-1 #1 a|b&gt;c> — no "
                              "owner · no due date · open"));
    assert_non_null(strstr(t, "*no owner*: 3 open, 0 overdue"));
    t = section_text(blocks, "*Slipped");
    assert_non_null(strstr(t, "INC-1 #2 late — bo · due 2026-12-02 · open (newly overdue)"));
    t = section_text(blocks, "*Drift");
    /* a javascript: url is not linked */
    assert_non_null(strstr(t, "• INC-1 #3 d — bo · no due date · done (closed in GitHub)"));
    assert_null(strstr(t, "javascript"));
    t = section_text(blocks, "*Reviews coming up* (1)");
    assert_non_null(strstr(t, "INC-1 — not scheduled · proposed"));
    assert_null(section_text(blocks, "*Trend")); /* empty trend: no block */
    json_decref(msg);
    json_decref(payload);
}

static void test_teams_digest(void **state)
{
    json_t *payload = json_loads(digest_text, 0, NULL);
    struct cl_err err = CL_ERR_INIT;
    json_t *msg;
    json_t *secs;
    const char *t;

    (void)state;
    msg = render("teams", payload, &err);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "@type")), "MessageCard");
    secs = json_object_get(msg, "sections");
    assert_string_equal(json_string_value(json_object_get(json_array_get(secs, 0), "title")),
                        "Summary");
    assert_int_equal(json_array_size(json_object_get(json_array_get(secs, 0), "facts")), 7);
    t = json_string_value(json_object_get(json_array_get(secs, 1), "text"));
    assert_non_null(strstr(t, "[INC-1 #1 a|b&gt;c](https://x.example/i?a=1%7C2%20%283%29)"));
    /* one paragraph per line: Teams joins single line breaks */
    assert_non_null(strstr(t, "**no owner**: 3 open, 0 overdue\n\n• [INC-1 #1"));
    json_decref(msg);
    json_decref(payload);
}

/* Each wrong value is refused with its path. */
static void test_type_checks(void **state)
{
    static const struct {
        const char *path; /* JSON pointer-ish: object key, then member */
        const char *key;
        const char *value;
        const char *want;
    } cases[] = {
        {"period", "key", "7", "digest: period.key is not a string"},
        {"scope", "kind", "\"boss\"", "digest: scope.kind is not team"},
        {NULL, "slipped", "{}", "digest: slipped is not an array"},
        {NULL, "owes", "[{\"owner\": \"a\", \"open\": -1, \"overdue\": 0}]",
         "digest: owes[].open is not a non-negative integer"},
        {NULL, "done", "[{\"id\": \"1\"}]", "digest: done[].id is not a non-negative integer"},
        {NULL, "done", "[{\"id\": 1, \"title\": \"t\", \"status\": \"open\", \"url\": 5}]",
         "digest: done[].url is not a string or null"},
        {NULL, "reviews", "[]", "digest: reviews is not an object"},
        {NULL, "trend", "[{\"period\": 1}]", "digest: trend[].period is not a string"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *payload = json_loads(digest_text, 0, NULL);
        json_t *target = cases[i].path ? json_object_get(payload, cases[i].path) : payload;
        struct cl_err err = CL_ERR_INIT;
        json_t *msg;

        json_object_set_new(target, cases[i].key,
                            json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
        msg = render(i % 2 ? "teams" : "slack", payload, &err);
        assert_null(msg);
        if (strncmp(err.msg, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg, cases[i].want);
        json_decref(payload);
    }
}

static void test_long_lists_are_cut(void **state)
{
    json_t *payload = json_loads(digest_text, 0, NULL);
    json_t *done = json_array();
    struct cl_err err = CL_ERR_INIT;
    json_t *msg;
    const char *t;
    int i;

    (void)state;
    for (i = 0; i < 25; i++)
        json_array_append_new(done, json_pack("{s:i, s:s, s:s, s:s, s:n, s:n, s:n}", "id", i,
                                              "incident", "INC-2", "title", "t", "status", "done",
                                              "owner", "due_on", "url"));
    json_object_set_new(payload, "done", done);
    msg = render("slack", payload, &err);
    assert_non_null(msg);
    t = section_text(json_object_get(msg, "blocks"), "*Done* (25)");
    assert_non_null(t);
    assert_non_null(strstr(t, "…and 15 more"));
    json_decref(msg);
    json_decref(payload);
}

static void test_test_kind_and_flavours(void **state)
{
    const struct chat_kind *k = chat_kind_find("test");
    json_t *payload = json_pack("{s:s}", "note", "a <b> & c");
    struct cl_err err = CL_ERR_INIT;
    char *body = NULL;

    (void)state;
    assert_null(chat_kind_find("nope"));
    assert_int_equal(k->render(payload, "slack", &body, &err), CL_OK);
    assert_non_null(strstr(body, "a &lt;b&gt; &amp; c"));
    free(body);
    assert_int_equal(k->render(payload, "discord", &body, &err), CL_EINVAL);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_digest),
        cmocka_unit_test(test_teams_digest),
        cmocka_unit_test(test_type_checks),
        cmocka_unit_test(test_long_lists_are_cut),
        cmocka_unit_test(test_test_kind_and_flavours),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
