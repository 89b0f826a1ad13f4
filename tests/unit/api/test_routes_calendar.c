#include "closeloop/api/routes_calendar.h"

#include "closeloop/util/crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Tokens are made as routes_calendar makes them: the prefix and base64url of 32 bytes. */
static void test_routes_calendar__made_tokens_have_the_shape(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    unsigned char raw[32];
    char enc[64];
    char tok[128];
    int i;

    (void)state;
    for (i = 0; i < 64; i++) {
        assert_int_equal(crypto_random(raw, sizeof(raw), &err), CL_OK);
        crypto_base64url(enc, raw, sizeof(raw));
        snprintf(tok, sizeof(tok), CALENDAR_TOKEN_PREFIX "%s", enc);
        assert_int_equal(strlen(tok), CALENDAR_TOKEN_LEN);
        assert_true(routes_calendar_token_valid(tok));
    }
}

static void test_routes_calendar__other_shapes_are_refused(void **state)
{
    char tok[CALENDAR_TOKEN_LEN + 2];
    static const char *const bad[] = {
        "",
        "clf_",
        "clt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* an API token's prefix */
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* one short */
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* one long */
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'",
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%",
        "clf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
    };
    size_t i;

    (void)state;
    assert_false(routes_calendar_token_valid(NULL));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (routes_calendar_token_valid(bad[i]))
            fail_msg("\"%s\" was taken for a token", bad[i]);
    memset(tok, 'A', sizeof(tok));
    memcpy(tok, CALENDAR_TOKEN_PREFIX, 4);
    tok[CALENDAR_TOKEN_LEN] = '\0';
    assert_true(routes_calendar_token_valid(tok));
    tok[10] = '\0'; /* an embedded NUL shortens it */
    assert_false(routes_calendar_token_valid(tok));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_calendar__made_tokens_have_the_shape),
        cmocka_unit_test(test_routes_calendar__other_shapes_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
