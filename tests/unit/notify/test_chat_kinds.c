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

static void test_messagecard_digest(void **state)
{
    json_t *payload = json_loads(digest_text, 0, NULL);
    struct cl_err err = CL_ERR_INIT;
    json_t *msg;
    json_t *secs;
    const char *t;

    (void)state;
    msg = render("teams_messagecard", payload, &err);
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

/* The body of an Adaptive Card message, after checking the envelope a Workflows webhook
 * takes. */
static const json_t *card_body(const json_t *msg)
{
    const json_t *att = json_object_get(msg, "attachments");
    const json_t *a = json_array_get(att, 0);
    const json_t *card = json_object_get(a, "content");

    assert_string_equal(json_string_value(json_object_get(msg, "type")), "message");
    assert_int_equal(json_array_size(att), 1);
    assert_string_equal(json_string_value(json_object_get(a, "contentType")),
                        "application/vnd.microsoft.card.adaptive");
    assert_true(json_is_null(json_object_get(a, "contentUrl")));
    assert_string_equal(json_string_value(json_object_get(card, "type")), "AdaptiveCard");
    assert_string_equal(json_string_value(json_object_get(card, "version")), "1.4");
    assert_string_equal(json_string_value(json_object_get(card, "$schema")),
                        "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_true(json_is_array(json_object_get(card, "body")));
    return json_object_get(card, "body");
}

/* The text of the TextBlock right after the one starting with `title`. */
static const char *block_after(const json_t *body, const char *title)
{
    size_t i;

    for (i = 0; i + 1 < json_array_size(body); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(body, i), "text"));

        if (t != NULL && strncmp(t, title, strlen(title)) == 0)
            return json_string_value(json_object_get(json_array_get(body, i + 1), "text"));
    }
    return NULL;
}

static void test_adaptive_digest(void **state)
{
    static const char *const names[] = {"Open",     "Overdue", "Slipped", "Done",
                                        "Verified", "Unowned", "Undated"};
    static const int values[] = {3, 0, 1, 0, 0, 0, 0};
    json_t *payload = json_loads(digest_text, 0, NULL);
    struct cl_err err = CL_ERR_INIT;
    const json_t *body;
    const json_t *facts;
    json_t *msg;
    const char *t;
    size_t i;

    (void)state;
    json_object_set_new(payload, "trend",
                        json_pack("[{s:s, s:i, s:i, s:i}]", "period", "2026-*11*", "opened", 4,
                                  "closed", 2, "overdue", 1));
    msg = render("teams", payload, &err);
    assert_non_null(msg);
    body = card_body(msg);
    assert_string_equal(json_string_value(json_object_get(json_array_get(body, 0), "text")),
                        "closeloop digest: incidents facilitated by mia, 2026-12");
    assert_string_equal(json_string_value(json_object_get(json_array_get(body, 0), "weight")),
                        "Bolder");
    /* the counts: a FactSet right after the heading */
    assert_string_equal(json_string_value(json_object_get(json_array_get(body, 1), "type")),
                        "FactSet");
    facts = json_object_get(json_array_get(body, 1), "facts");
    assert_int_equal(json_array_size(facts), 7);
    for (i = 0; i < 7; i++) {
        char v[16];

        snprintf(v, sizeof(v), "%d", values[i]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(facts, i), "title")),
                            names[i]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(facts, i), "value")),
                            v);
    }
    for (i = 0; i < json_array_size(body); i++) {
        const json_t *b = json_array_get(body, i);

        if (strcmp(json_string_value(json_object_get(b, "type")), "TextBlock") == 0)
            assert_true(json_is_true(json_object_get(b, "wrap")));
    }
    t = block_after(body, "What is owed, by owner (1)");
    assert_non_null(t);
    /* a markdown link, | ( ) and space percent-encoded; < escaped, no entity */
    assert_non_null(strstr(t, "**no owner**: 3 open, 0 overdue\n\n• [INC-1 #1 a|b>c]"
                              "(https://x.example/i?a=1%7C2%20%283%29) — no owner"));
    t = block_after(body, "Drift between closeloop and the trackers (1)");
    assert_non_null(strstr(t, "• INC-1 #3 d — bo · no due date · done (closed in GitHub)"));
    assert_null(strstr(t, "javascript"));
    t = block_after(body, "Reviews coming up (1)");
    assert_non_null(strstr(t, "INC-1 — not scheduled · proposed"));
    /* the trend: a FactSet under its title, the period's markdown escaped */
    facts = json_object_get(json_array_get(body, json_array_size(body) - 2), "facts");
    assert_string_equal(json_string_value(json_object_get(json_array_get(facts, 0), "title")),
                        "2026-\\*11\\*");
    assert_string_equal(json_string_value(json_object_get(json_array_get(facts, 0), "value")),
                        "4 / 2 / 1");
    assert_true(
        json_is_true(json_object_get(json_array_get(body, json_array_size(body) - 1), "isSubtle")));
    json_decref(msg);
    json_decref(payload);
}

/* User text cannot start markup, a link, an HTML tag or a DATE() function. */
static void test_adaptive_escaping(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    chat_text(&b, CHAT_STYLE_ADAPTIVE, "a *b* _c_ [d](https://e) `f` <g> & {{DATE(x)}} \\ h\ni");
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "a \\*b\\* \\_c\\_ \\[d\\](https://e) \\`f\\` \\<g> & "
                                "{\xE2\x80\x8B{DATE(x)}} \\\\ h i");
    buf_dispose(&b);
    buf_init(&b);
    chat_link(&b, CHAT_STYLE_ADAPTIVE, "https://x.example/a b", "t_1");
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "[t\\_1](https://x.example/a%20b)");
    buf_dispose(&b);
}

/* Every Slack section's text within the 3000 characters Slack takes. */
static void assert_slack_sections_fit(const char *body)
{
    json_t *msg = json_loads(body, 0, NULL);
    const json_t *blocks = json_object_get(msg, "blocks");
    size_t i;

    assert_non_null(msg);
    for (i = 0; i < json_array_size(blocks); i++) {
        const char *t = json_string_value(
            json_object_get(json_object_get(json_array_get(blocks, i), "text"), "text"));

        if (t != NULL && strlen(t) > 3000)
            fail_msg("block %zu: %zu bytes", i, strlen(t));
    }
    json_decref(msg);
}

/* A digest too big for one Teams post is cut, list by list, until it fits; the counts
 * still count every item. */
static void test_big_digest_fits(void **state)
{
    static const char *const flavours[] = {"teams", "teams_messagecard", "slack"};
    static const char *const lists[] = {"slipped", "done",    "verified",
                                        "unowned", "undated", "drift"};
    json_t *payload = json_loads(digest_text, 0, NULL);
    json_t *owes = json_array();
    char title[400];
    size_t f;
    int i, k;

    (void)state;
    memset(title, '*', sizeof(title) - 1); /* each escaped: twice as long in a card */
    title[sizeof(title) - 1] = '\0';
    for (i = 0; i < 300; i++) {
        json_t *items = json_array();

        for (k = 0; k < 10; k++)
            json_array_append_new(items, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "id", k,
                                                   "incident", "INC-9", "title", title, "owner",
                                                   "ana", "status", "open", "due_on", "2026-12-01",
                                                   "url", "https://github.com/acme/ops/issues/1"));
        json_array_append_new(owes, json_pack("{s:s+, s:i, s:i, s:o}", "owner", "owner-", title,
                                              "open", 10, "overdue", 1, "items", items));
    }
    json_object_set_new(payload, "owes", owes);
    for (i = 0; i < (int)CL_ARRAY_LEN(lists); i++) {
        json_t *l = json_array();

        for (k = 0; k < 200; k++)
            json_array_append_new(
                l, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", k,
                             "incident", "INC-9", "title", title, "owner", "bo", "status", "open",
                             "due_on", "2026-12-01", "url", "https://github.com/acme/ops/issues/2",
                             "why", "new_overdue", "from", "2026-11-01", "to", "2026-12-01",
                             "drift", "closed in GitHub"));
        json_object_set_new(payload, lists[i], l);
    }
    for (f = 0; f < CL_ARRAY_LEN(flavours); f++) {
        const struct chat_kind *kd = chat_kind_find("digest");
        struct cl_err err = CL_ERR_INIT;
        char *body = NULL;

        assert_int_equal(kd->render(payload, flavours[f], &body, &err), CL_OK);
        assert_true(strlen(body) <= CHAT_MAX_BODY);
        assert_non_null(strstr(body, "more"));
        assert_non_null(strstr(body, "3000")); /* the open count of all 300 owners */
        if (strcmp(flavours[f], "slack") == 0)
            assert_slack_sections_fit(body);
        free(body);
    }
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
        msg = render(i % 3 == 2 ? "teams_messagecard" : i % 3 ? "teams" : "slack", payload, &err);
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
    assert_int_equal(k->render(payload, "teams_messagecard", &body, &err), CL_OK);
    assert_non_null(strstr(body, "\"@type\":\"MessageCard\""));
    assert_non_null(strstr(body, "a &lt;b&gt; &amp; c"));
    free(body);
    json_decref(payload);
}

static void test_adaptive_test_message(void **state)
{
    const struct chat_kind *k = chat_kind_find("test");
    json_t *payload = json_pack("{s:s}", "note", "a <b> & *c*");
    struct cl_err err = CL_ERR_INIT;
    const json_t *body;
    char *text = NULL;
    json_t *msg;

    (void)state;
    assert_int_equal(k->render(payload, "teams", &text, &err), CL_OK);
    msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    body = card_body(msg);
    assert_int_equal(json_array_size(body), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(body, 0), "text")),
                        "closeloop test message");
    assert_string_equal(json_string_value(json_object_get(json_array_get(body, 1), "text")),
                        "This is a test message from closeloop: the webhook works.\n\n"
                        "a \\<b> & \\*c\\*");
    json_decref(msg);
    free(text);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_digest),          cmocka_unit_test(test_messagecard_digest),
        cmocka_unit_test(test_adaptive_digest),       cmocka_unit_test(test_adaptive_escaping),
        cmocka_unit_test(test_big_digest_fits),       cmocka_unit_test(test_type_checks),
        cmocka_unit_test(test_long_lists_are_cut),    cmocka_unit_test(test_test_kind_and_flavours),
        cmocka_unit_test(test_adaptive_test_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
