#include "closeloop/mail/kinds.h"
#include "closeloop/notify/chat_kinds.h"
#include "closeloop/report/chart.h"
#include "closeloop/report/digest.h"
#include "closeloop/util/policy/digest_policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A digest as cl_digest_content() answers it (a short one). */
static const char digest_text[] =
    "{\"recipient\": {\"handle\": \"mia\", \"email\": \"mia@x.org\", \"name\": \"Mia\","
    "  \"timezone\": \"Europe/Paris\"},"
    " \"scope\": {\"kind\": \"team\", \"team\": \"sre\"},"
    " \"period\": {\"key\": \"2026-W49\", \"cadence\": \"weekly\", \"from\":"
    "  \"2026-11-23T08:00:00Z\", \"to\": \"2026-11-30T08:00:00Z\", \"timezone\": \"Europe/Paris\"},"
    " \"owes\": [{\"owner\": \"bob\", \"open\": 2, \"overdue\": 1, \"items\": ["
    "  {\"id\": 7, \"incident\": \"INC-1\", \"title\": \"Fix <script>x</script> "
    "[now](javascript:a)\","
    "   \"owner\": \"bob\", \"status\": \"in_progress\", \"due_on\": \"2026-11-25\","
    "   \"url\": \"https://github.com/acme/ops/issues/7\"},"
    "  {\"id\": 8, \"incident\": \"INC-1\", \"title\": \"# not a heading\", \"owner\": \"bob\","
    "   \"status\": \"open\", \"due_on\": null, \"url\": \"javascript:alert(1)\"}]}],"
    " \"slipped\": [{\"id\": 7, \"incident\": \"INC-1\", \"title\": \"t\", \"owner\": \"bob\","
    "  \"status\": \"open\", \"due_on\": \"2026-12-10\", \"url\": null, \"why\": \"due_moved\","
    "  \"from\": \"2026-12-01\", \"to\": \"2026-12-10\"}],"
    " \"done\": [], \"verified\": [], \"unowned\": [], \"undated\": [],"
    " \"drift\": [{\"id\": 9, \"incident\": \"INC-1\", \"title\": \"d\", \"owner\": null,"
    "  \"status\": \"open\", \"due_on\": null, \"url\": null, \"drift\": {\"link\": \"broken\","
    "  \"error\": null, \"warning\": null, \"tracker_owner\": null}}],"
    " \"reviews\": {\"held\": [], \"upcoming\": [{\"incident\": \"INC-1\", \"local\":"
    "  \"2026-12-02 15:00\", \"timezone\": \"Europe/Paris\", \"status\": \"scheduled\"}]},"
    " \"trend\": [{\"period\": \"2026-W48\", \"opened\": 3, \"closed\": 1, \"overdue\": 0},"
    "  {\"period\": \"2026-W49\", \"opened\": 5, \"closed\": 2, \"overdue\": 1}],"
    " \"counts\": {\"open\": 2, \"overdue\": 1, \"done\": 0}}";

static json_t *digest(void)
{
    json_t *d = json_loads(digest_text, 0, NULL);

    assert_non_null(d);
    return d;
}

static void test_digest__markdown_escapes_user_text(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *d = digest();
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(digest_markdown(d, &out, &err), CL_OK);
    assert_non_null(strstr(out.data, "# Digest 2026-W49: team sre\n"));
    assert_non_null(strstr(out.data, "- **bob**: 2 open, 1 overdue\n"));
    assert_non_null(strstr(out.data, "  - INC-1 #7: [Fix \\<script\\>x\\<\\/script\\> \\[now\\]"
                                     "\\(javascript\\:a\\)](<https://github.com/acme/ops/issues/"
                                     "7>): bob, due 2026-11-25, in progress\n"));
    /* a javascript: URL is no link; a title is never a heading */
    assert_non_null(strstr(out.data, "  - INC-1 #8: \\# not a heading: bob, no due date, open\n"));
    assert_non_null(strstr(out.data, "(due date moved from 2026-12-01 to 2026-12-10)"));
    assert_non_null(strstr(out.data, "- 2026-W49: 5 opened, 2 closed, 1 overdue\n"));
    buf_dispose(&out);
    json_decref(d);
}

static void test_digest__html_is_inline_styled_with_the_chart(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *d = digest();
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(digest_html(d, "cid:trend@closeloop", &out, &err), CL_OK);
    assert_null(strstr(out.data, "<style"));
    assert_null(strstr(out.data, "<script"));
    assert_null(strstr(out.data, "href=\"javascript"));
    assert_non_null(strstr(out.data, "[now](javascript:a)</a>")); /* text, inside the link */
    assert_non_null(strstr(out.data, "max-width:600px"));
    assert_non_null(strstr(out.data, "<h2 style=\""));
    assert_non_null(strstr(out.data, "<h2 style=\"font-size:17px;line-height:22px;margin:22px 0 "
                                     "8px 0;color:#1a1a1a;border-bottom:1px solid #dddddd;"
                                     "padding-bottom:4px\">Trend</h2>\n<img src=\"cid:trend@"
                                     "closeloop\""));
    buf_dispose(&out);
    json_decref(d);
}

static void test_digest__a_digest_without_period_is_refused(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *d = json_loads("{\"counts\": {}}", 0, NULL);
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(digest_markdown(d, &out, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "period"));
    buf_dispose(&out);
    json_decref(d);
}

static void test_digest__chart_is_a_png_of_its_size(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *d = digest();
    unsigned char *png = NULL;
    size_t len = 0;
    json_t *bad =
        json_loads("[{\"period\": \"x\", \"opened\": -1, \"closed\": 0, \"overdue\": 0}]", 0, NULL);

    (void)state;
    assert_int_equal(chart_trend_png(json_object_get(d, "trend"), &png, &len, &err), CL_OK);
    assert_true(len > 24);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    /* IHDR: width and height, big-endian, at bytes 16..23 */
    assert_int_equal((png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19], CHART_WIDTH);
    assert_int_equal((png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23], CHART_HEIGHT);
    free(png);
    assert_int_equal(chart_trend_png(bad, &png, &len, &err), CL_EINVAL);
    json_decref(bad);
    json_decref(d);
}

static void test_digest__mail_kind_sends_the_chart_inline(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    const struct mail_kind *k = mail_kind_find("digest");
    json_t *d = digest();
    struct mail_parts p;

    (void)state;
    memset(&p, 0, sizeof(p));
    assert_non_null(k);
    assert_int_equal(k->render(d, &p, &err), CL_OK);
    assert_non_null(strstr(p.text, "## Open work by owner"));
    assert_non_null(strstr(p.html, "src=\"cid:trend@closeloop\""));
    assert_int_equal(p.ninline, 1);
    assert_string_equal(p.inl[0].content_id, "trend@closeloop");
    assert_string_equal(p.inl[0].content_type, "image/png");
    mime_parts_dispose(&p);
    json_decref(d);
}

static void test_digest__policy_refuses_bad_values_naming_the_line(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct digest_policy p;
    json_t *o;
    char *s;

    (void)state;
    digest_policy_init(&p);
    assert_int_equal(digest_policy_set(&p, "cadence", "hourly", "f.ini:3", &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "f.ini:3"));
    assert_int_equal(digest_policy_set(&p, "day", "someday", "f.ini:4", &err), CL_EINVAL);
    assert_int_equal(digest_policy_set(&p, "hour", "24", "f.ini:5", &err), CL_EINVAL);
    err = (struct cl_err)CL_ERR_INIT;
    assert_int_equal(digest_policy_set(&p, "extra.vp.timezone", "Mars/Base", "f.ini:9", &err),
                     CL_EINVAL);
    assert_non_null(strstr(err.msg, "f.ini:9"));
    assert_non_null(strstr(err.msg, "unknown time zone \"Mars/Base\""));
    assert_int_equal(digest_policy_set(&p, "extra.vp.scope", "team:", "f.ini:10", &err), CL_EINVAL);
    assert_int_equal(digest_policy_set(&p, "extra.vp.colour", "red", "f.ini:11", &err), CL_EINVAL);
    assert_int_equal(digest_policy_validate(&p, &err), CL_EINVAL); /* vp has no "to" */
    assert_int_equal(digest_policy_set(&p, "extra.vp.to", "vp@x.org", "f.ini:12", &err), CL_OK);
    assert_int_equal(digest_policy_set(&p, "extra.vp.timezone", "Asia/Tokyo", "f", &err), CL_OK);
    assert_int_equal(digest_policy_set(&p, "team.sre.chat", "sre-room", "f", &err), CL_OK);
    assert_int_equal(digest_policy_set(&p, "day", "fri", "f", &err), CL_OK);
    assert_int_equal(digest_policy_validate(&p, &err), CL_OK);
    s = digest_policy_json(&p);
    o = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "cadence")), "weekly");
    assert_int_equal(json_integer_value(json_object_get(o, "day")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "hour")), 9);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "extras"), 0), "timezone")),
                        "Asia/Tokyo");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "team_chat"), "sre")),
                        "sre-room");
    json_decref(o);
}

/* The chat part renders the same JSON (chat_kind_digest): the shape must suit it. */
static void test_digest__the_chat_kind_renders_it(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    const struct chat_kind *k = chat_kind_find("digest");
    json_t *d = digest();
    char *body = NULL;

    (void)state;
    assert_non_null(k);
    assert_int_equal(k->render(d, "slack", &body, &err), CL_OK);
    assert_non_null(strstr(body, "2026-W49"));
    free(body);
    body = NULL;
    assert_int_equal(k->render(d, "teams", &body, &err), CL_OK);
    free(body);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest__markdown_escapes_user_text),
        cmocka_unit_test(test_digest__html_is_inline_styled_with_the_chart),
        cmocka_unit_test(test_digest__a_digest_without_period_is_refused),
        cmocka_unit_test(test_digest__chart_is_a_png_of_its_size),
        cmocka_unit_test(test_digest__mail_kind_sends_the_chart_inline),
        cmocka_unit_test(test_digest__policy_refuses_bad_values_naming_the_line),
        cmocka_unit_test(test_digest__the_chat_kind_renders_it),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    chart_shutdown();
    return rc;
}
