#include "closeloop/notify/reminder_mail.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static json_t *payload(void)
{
    json_t *p = json_loads(
        "{\"recipient\": {\"handle\": \"ana\", \"name\": \"Ana <Ops>\", \"timezone\": "
        "\"Asia/Tokyo\"}, \"reminder\": 7, \"items\": ["
        "{\"id\": 3, \"incident\": \"INC-1\", \"title\": \"rotate *keys*\", \"owner\": \"ana\", "
        "\"status\": \"open\", \"due_on\": \"2026-12-09\", \"step\": \"before\", \"days\": -2, "
        "\"url\": \"https://github.com/o/r/issues/5\"},"
        "{\"id\": 4, \"incident\": \"INC-1\", \"title\": \"add alert\", \"owner\": \"bo\", "
        "\"status\": \"open\", \"due_on\": \"2026-11-20\", \"step\": \"escalate\", \"days\": 17, "
        "\"url\": null}]}",
        0, NULL);

    assert_non_null(p);
    return p;
}

static void test_reminder_mail__lists_every_item_in_text_and_html(void **state)
{
    const struct mail_kind *k = mail_kind_find("reminder");
    struct mail_parts parts = {0};
    struct cl_err err = CL_ERR_INIT;
    json_t *p = payload();

    (void)state;
    assert_ptr_equal(k, &reminder_mail_kind);
    assert_int_equal(k->render(p, &parts, &err), CL_OK);
    assert_non_null(strstr(parts.text, "These actions need your attention"));
    assert_non_null(
        strstr(parts.text, "\\#3 [rotate \\*keys\\*](<https://github.com/o/r/issues/5>)"));
    assert_non_null(strstr(parts.text, "due in 2 days, due 2026\\-12\\-09"));
    assert_non_null(strstr(parts.text, "17 days overdue"));
    assert_non_null(strstr(parts.text, "owner bo, you facilitate the incident"));
    assert_non_null(strstr(parts.html, "<a href=\"https://github.com/o/r/issues/5\">"));
    assert_non_null(strstr(parts.html, "Ana &lt;Ops&gt;"));
    assert_null(strstr(parts.html, "<Ops>"));
    mime_parts_dispose(&parts);
    json_decref(p);
}

static void test_reminder_mail__a_misshapen_payload_fails_with_a_reason(void **state)
{
    struct mail_parts parts = {0};
    struct cl_err err = CL_ERR_INIT;
    json_t *p = payload();

    (void)state;
    json_object_set_new(json_array_get(json_object_get(p, "items"), 1), "days", json_string("17"));
    assert_int_equal(reminder_mail_kind.render(p, &parts, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "reminder"));
    assert_null(parts.text);
    json_decref(p);
    err = (struct cl_err)CL_ERR_INIT;
    p = json_pack("{s:{s:s}, s:[]}", "recipient", "handle", "x", "items");
    assert_int_equal(reminder_mail_kind.render(p, &parts, &err), CL_EINVAL);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reminder_mail__lists_every_item_in_text_and_html),
        cmocka_unit_test(test_reminder_mail__a_misshapen_payload_fails_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
