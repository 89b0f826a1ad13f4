#include "closeloop/review/summary.h"
#include "closeloop/mail/kinds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A summary as cl_review_summary_json() answers it. */
static const char summary_text[] =
    "{\"subject\": \"Review of INC-42 held on 2026-12-07\","
    " \"incident\": {\"key\": \"INC-42\", \"title\": \"Checkout down\"},"
    " \"review\": {\"local\": \"2026-12-07 15:00\", \"timezone\": \"Europe/Paris\","
    "  \"held_by\": \"alice\", \"attended\": [\"alice\", \"bob@x.org\"],"
    "  \"notes\": \"went well\\n\\n# not a heading\"},"
    " \"items\": ["
    "  {\"action\": 1, \"title\": \"Cap\", \"owner\": \"bob\", \"outcome\": \"effective\","
    "   \"note\": \"\", \"evidence\": \"https://grafana/d/1\", \"follow_up\": null},"
    "  {\"action\": 2, \"title\": \"Alert\", \"owner\": null, \"outcome\": \"not_done\","
    "   \"new_due_on\": \"2026-12-21\", \"note\": \"vendor <late>\", \"follow_up\": null},"
    "  {\"action\": 3, \"title\": \"Old\", \"owner\": \"bob\", \"outcome\": \"dropped\","
    "   \"reason\": \"superseded\", \"note\": \"\", \"follow_up\": null},"
    "  {\"action\": 4, \"title\": \"Retry\", \"owner\": \"carol\", \"outcome\": \"not_effective\","
    "   \"note\": \"\", \"follow_up\": {\"id\": 9, \"title\": \"Retry again\", \"owner\":"
    "   \"dave\", \"due_on\": \"2026-12-24\", \"sync\": null}}]}";

static void test_summary__markdown_says_each_outcome(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *s = json_loads(summary_text, 0, NULL);
    struct buf out;

    (void)state;
    assert_non_null(s);
    buf_init(&out);
    assert_int_equal(summary_markdown(s, &out, &err), CL_OK);
    assert_non_null(strstr(out.data, "# Review of INC\\-42: Checkout down\n"));
    assert_non_null(strstr(out.data, "Attended: alice, bob\\@x\\.org\n"));
    assert_non_null(strstr(out.data, "- **\\#1 Cap** \\(bob\\): effective; evidence: https"));
    assert_non_null(strstr(out.data, "- **\\#2 Alert** \\(no owner\\): not done, new due date "
                                     "2026\\-12\\-21\\\n  Note: vendor \\<late\\>\n"));
    assert_non_null(strstr(out.data, "dropped; reason: superseded\n"));
    assert_non_null(strstr(out.data, "done, not effective; follow\\-up \\#9\n"));
    assert_non_null(strstr(out.data, "## Follow-ups\n\n- \\#9 Retry again: dave, due "
                                     "2026\\-12\\-24 \\(follow\\-up of \\#4\\)\n"));
    assert_non_null(strstr(out.data, "## Notes\n\nwent well\n\n\\# not a heading\n"));
    buf_dispose(&out);
    json_decref(s);
}

static void test_summary__mail_render_gives_text_and_html(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *s = json_loads(summary_text, 0, NULL);
    const struct mail_kind *k = mail_kind_find("summary");
    struct mail_parts parts;

    (void)state;
    memset(&parts, 0, sizeof(parts));
    assert_ptr_equal(k, &summary_mail_kind);
    assert_int_equal(k->render(s, &parts, &err), CL_OK);
    assert_non_null(strstr(parts.text, "## Outcomes"));
    assert_non_null(strstr(parts.html, "<h2>Outcomes</h2>"));
    assert_non_null(strstr(parts.html, "vendor &lt;late&gt;"));
    assert_non_null(strstr(parts.html, "<!DOCTYPE html>"));
    assert_null(strstr(parts.html, "<h1>not a heading"));
    assert_null(parts.calendar);
    mime_parts_dispose(&parts);
    json_decref(s);
    s = json_object();
    assert_int_equal(k->render(s, &parts, &err), CL_EINVAL);
    mime_parts_dispose(&parts);
    json_decref(s);
}

static void test_summary__not_a_summary(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *bad = json_pack("{s:{}}", "incident");
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(summary_html(bad, &out, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "summary"));
    buf_dispose(&out);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary__markdown_says_each_outcome),
        cmocka_unit_test(test_summary__mail_render_gives_text_and_html),
        cmocka_unit_test(test_summary__not_a_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
