#include "closeloop/notify/chat_queue.h"
#include "closeloop/util/policy/chat_conf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_outcomes(void **state)
{
    (void)state;
    assert_int_equal(chat_queue_outcome(200), CHAT_SENT);
    assert_int_equal(chat_queue_outcome(202), CHAT_SENT); /* a Workflows webhook */
    assert_int_equal(chat_queue_outcome(204), CHAT_SENT);
    assert_int_equal(chat_queue_outcome(0), CHAT_RETRY);
    assert_int_equal(chat_queue_outcome(429), CHAT_RETRY);
    assert_int_equal(chat_queue_outcome(500), CHAT_RETRY);
    assert_int_equal(chat_queue_outcome(503), CHAT_RETRY);
    assert_int_equal(chat_queue_outcome(400), CHAT_PERMANENT);
    assert_int_equal(chat_queue_outcome(403), CHAT_PERMANENT);
    assert_int_equal(chat_queue_outcome(404), CHAT_PERMANENT);
    assert_int_equal(chat_queue_outcome(410), CHAT_PERMANENT);
    assert_int_equal(chat_queue_outcome(302), CHAT_PERMANENT);
}

/* A legacy connector's 200 that says Teams refused the message counts as that status. */
static void test_wrapped_status(void **state)
{
    static const char refused[] = "Webhook message delivery failed with error: Microsoft Teams "
                                  "endpoint returned HTTP error 413 with ContextId tcid=0..";

    (void)state;
    assert_int_equal(chat_queue_status(200, "1"), 200);
    assert_int_equal(chat_queue_status(200, "ok"), 200);
    assert_int_equal(chat_queue_status(202, ""), 202);
    assert_int_equal(chat_queue_status(202, NULL), 202);
    assert_int_equal(chat_queue_status(200, refused), 413);
    assert_int_equal(chat_queue_outcome(chat_queue_status(200, refused)), CHAT_PERMANENT);
    assert_int_equal(chat_queue_status(200, "Webhook message delivery failed with error: "
                                            "Microsoft Teams endpoint returned HTTP error 429 "
                                            "with ContextId x"),
                     429);
    assert_int_equal(chat_queue_status(200, "Webhook message delivery failed with error: "
                                            "something"),
                     500);
    assert_int_equal(chat_queue_status(200, "Webhook message delivery failed with error: "
                                            "HTTP error 200"),
                     500);
    assert_int_equal(chat_queue_status(404, refused), 404); /* only a 2xx is looked into */
}

static void test_retry_after(void **state)
{
    time_t now = 1796601600; /* 2026-12-07T00:00:00Z */

    (void)state;
    assert_true(chat_queue_retry_after("7", 30, 600, now) == 7);
    assert_true(chat_queue_retry_after("7000", 30, 600, now) == 600);
    assert_true(chat_queue_retry_after(NULL, 30, 600, now) == 30);
    assert_true(chat_queue_retry_after("soon", 30, 600, now) == 30);
    assert_true(chat_queue_retry_after("-5", 30, 600, now) == 0);
    assert_true(chat_queue_retry_after("Mon, 07 Dec 2026 00:00:20 GMT", 30, 600, now) == 20);
}

static void test_excerpt(void **state)
{
    char out[400];
    char body[600];

    (void)state;
    chat_queue_excerpt(out, sizeof(out), 404, "no_service\r\n", NULL);
    assert_string_equal(out, "HTTP 404: no_service");
    chat_queue_excerpt(out, sizeof(out), 400, "bad https://h.example/T/SECRET here",
                       "https://h.example/T/SECRET");
    assert_string_equal(out, "HTTP 400: bad (url) here");
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    chat_queue_excerpt(out, sizeof(out), 500, body, NULL);
    assert_int_equal(strlen(out), strlen("HTTP 500: ") + 200 + 3);
}

static void test_conf(void **state)
{
    struct chat_conf c = {0};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(chat_conf_set(&c, "ops.kind", "slack", "f:1", &err), CL_OK);
    assert_int_equal(chat_conf_set(&c, "ops.url", "http://127.0.0.1:8/x", "f:2", &err), CL_OK);
    assert_int_equal(chat_conf_validate(&c, false, &err), CL_EINVAL);
    assert_string_equal(err.msg, "f:2: chat.ops.url must be an https:// URL");
    err = (struct cl_err)CL_ERR_INIT;
    assert_int_equal(chat_conf_validate(&c, true, &err), CL_OK);
    assert_false(chat_conf_url_ok("http://127.0.0.10/x", true));
    assert_false(chat_conf_url_ok("https://", false));
    assert_true(chat_conf_url_ok("https://hooks.slack.com/services/A/B/C", false));
    assert_int_equal(chat_conf_set(&c, "ops.kind", "irc", "f:3", &err), CL_EINVAL);
    err = (struct cl_err)CL_ERR_INIT;
    assert_int_equal(chat_conf_set(&c, "Bad Name.kind", "slack", "f:4", &err), CL_EINVAL);
    err = (struct cl_err)CL_ERR_INIT;
    assert_int_equal(chat_conf_set(&c, "ops.colour", "red", "f:5", &err), CL_EINVAL);
    err = (struct cl_err)CL_ERR_INIT;
    assert_int_equal(chat_conf_set(&c, "ops.timeout", "0", "f:6", &err), CL_EINVAL);
    assert_non_null(chat_conf_find(&c, "ops"));
    assert_null(chat_conf_find(&c, "op"));
}

static void test_conf_card(void **state)
{
    struct chat_conf c = {0};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(chat_conf_set(&c, "t.kind", "teams", "f:1", &err), CL_OK);
    assert_int_equal(chat_conf_set(&c, "t.url", "https://x.example/workflows/1", "f:2", &err),
                     CL_OK);
    assert_int_equal(chat_conf_validate(&c, false, &err), CL_OK);
    assert_string_equal(chat_channel_format(chat_conf_find(&c, "t")), "teams"); /* adaptive */
    assert_int_equal(chat_conf_set(&c, "t.card", "messagecard", "f:3", &err), CL_OK);
    assert_string_equal(chat_channel_format(chat_conf_find(&c, "t")), "teams_messagecard");
    assert_int_equal(chat_conf_set(&c, "t.card", "adaptive", "f:3", &err), CL_OK);
    assert_string_equal(chat_channel_format(chat_conf_find(&c, "t")), "teams");
    assert_int_equal(chat_conf_set(&c, "t.card", "hero", "f:4", &err), CL_EINVAL);
    assert_string_equal(err.msg, "f:4: chat.t.card must be adaptive or messagecard");
    err = (struct cl_err)CL_ERR_INIT;
    /* a card on a Slack channel is refused at validation, with its line */
    assert_int_equal(chat_conf_set(&c, "s.kind", "slack", "g:1", &err), CL_OK);
    assert_int_equal(chat_conf_set(&c, "s.url", "https://hooks.slack.com/x", "g:2", &err), CL_OK);
    assert_int_equal(chat_conf_set(&c, "s.card", "adaptive", "g:3", &err), CL_OK);
    assert_int_equal(chat_conf_validate(&c, false, &err), CL_EINVAL);
    assert_string_equal(err.msg, "g:3: chat.s.card is for kind = teams only");
    assert_string_equal(chat_channel_format(chat_conf_find(&c, "s")), "slack");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),  cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_excerpt),   cmocka_unit_test(test_conf),
        cmocka_unit_test(test_conf_card), cmocka_unit_test(test_wrapped_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
