#include "closeloop/review/agenda.h"

#include "closeloop/review/md.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* An agenda as cl_review_agenda() answers it: one late, slipped, linked action; one done. */
static const char agenda_text[] =
    "{\"incident\": {\"key\": \"INC-42\", \"title\": \"Checkout <b>down</b>\","
    " \"postmortem_url\": \"https://wiki/pm 1\"},"
    " \"review\": {\"local\": \"2026-12-10 15:00\", \"timezone\": \"Europe/Paris\","
    " \"duration_minutes\": 60, \"facilitator\": \"alice\", \"status\": \"scheduled\"},"
    " \"actions\": ["
    "  {\"id\": 12, \"title\": \"Cap the *pool*\", \"owner\": \"bob\", \"owner_active\": true,"
    "   \"status\": \"open\", \"due_on\": \"2026-12-01\", \"days_late\": 6, \"slips\": 2,"
    "   \"slip_days\": 9, \"first_due_on\": \"2026-11-22\","
    "   \"sync\": {\"display\": \"acme/app#3\", \"url\": \"https://github.com/acme/app/issues/3\","
    "    \"state\": \"linked\", \"pending\": 1, \"failed\": 0, \"last_error\": null},"
    "   \"expect\": \"new_date\", \"expect_text\": \"6 days late: agree a new date or drop it\"},"
    "  {\"id\": 13, \"title\": \"<script>x</script>\", \"owner\": null, \"status\": \"done\","
    "   \"due_on\": null, \"slips\": 0, \"slip_days\": 0, \"sync\": null,"
    "   \"expect\": \"confirm\", \"expect_text\": \"confirm it worked\"}]}";

static json_t *agenda(void)
{
    json_t *j = json_loads(agenda_text, 0, NULL);

    assert_non_null(j);
    return j;
}

static void test_agenda__markdown_has_slip_sync_and_decision(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *a = agenda();
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(agenda_markdown(a, &out, &err), CL_OK);
    assert_non_null(strstr(out.data, "# Review of INC\\-42: Checkout \\<b\\>down\\<\\/b\\>\n"));
    assert_non_null(strstr(out.data, "Meeting: 2026\\-12\\-10 15\\:00 Europe\\/Paris \\(60 min\\), "
                                     "facilitator alice, scheduled"));
    assert_non_null(strstr(out.data, "## \\#12 Cap the \\*pool\\*\n"));
    assert_non_null(strstr(out.data, "due 2026\\-12\\-01 \\(6 days late\\)"));
    assert_non_null(strstr(out.data, "- Slipped: moved 2 times, 9 days in all \\(first due "
                                     "2026\\-11\\-22\\)"));
    assert_non_null(strstr(out.data, "[acme\\/app\\#3](<https://github.com/acme/app/issues/3>) "
                                     "\\(1 change to push\\)"));
    assert_non_null(strstr(out.data, "- **To decide:** 6 days late\\: agree a new date"));
    assert_non_null(strstr(out.data, "- Owner: nobody\n"));
    assert_non_null(strstr(out.data, "- Tracker: none\n"));
    /* a URL with a space is no link */
    assert_null(strstr(out.data, "](<https://wiki/pm 1>)"));
    buf_dispose(&out);
    json_decref(a);
}

static void test_agenda__html_is_safe(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *a = agenda();
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(agenda_html(a, &out, &err), CL_OK);
    assert_null(strstr(out.data, "<script>"));
    assert_null(strstr(out.data, "<b>"));
    assert_non_null(strstr(out.data, "&lt;script&gt;x&lt;/script&gt;"));
    assert_non_null(strstr(out.data, "<h2>#12 Cap the *pool*</h2>"));
    assert_non_null(strstr(out.data, "<a href=\"https://github.com/acme/app/issues/3\">"));
    buf_dispose(&out);
    json_decref(a);
}

static void test_agenda__not_an_agenda(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *bad = json_pack("{s:[]}", "actions");
    struct buf out;

    (void)state;
    buf_init(&out);
    assert_int_equal(agenda_markdown(bad, &out, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "agenda"));
    buf_dispose(&out);
    json_decref(bad);
}

static void test_agenda__md_escapes_and_links(void **state)
{
    struct buf out;

    (void)state;
    buf_init(&out);
    md_text(&out, "a*b_[c](d)\n#e<f>&g");
    assert_string_equal(out.data, "a\\*b\\_\\[c\\]\\(d\\) \\#e\\<f\\>\\&g");
    buf_dispose(&out);
    md_link(&out, "x", "javascript:alert(1)");
    assert_string_equal(out.data, "x");
    buf_dispose(&out);
    md_link(&out, NULL, "https://a.b/c?d=1");
    assert_string_equal(out.data, "[https\\:\\/\\/a\\.b\\/c\\?d\\=1](<https://a.b/c?d=1>)");
    buf_dispose(&out);
    md_lines(&out, "one\r\n\n- two");
    assert_string_equal(out.data, "one\n\n\\- two");
    buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agenda__markdown_has_slip_sync_and_decision),
        cmocka_unit_test(test_agenda__html_is_safe),
        cmocka_unit_test(test_agenda__not_an_agenda),
        cmocka_unit_test(test_agenda__md_escapes_and_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
