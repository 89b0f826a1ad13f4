#include "closeloop/cli/show/cli_feed.h"

#include "closeloop/util/cl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* What cli_feed_render_created() prints for the answer json under base; *rc its result. */
static char *created(int *rc, const char *json, const char *base)
{
    json_t *feed = json_loads(json, 0, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(feed);
    assert_non_null(out);
    *rc = cli_feed_render_created(out, feed, base);
    fclose(out);
    json_decref(feed);
    return text;
}

static void test_cli_feed__prints_the_whole_url_once(void **state)
{
    int rc;
    char *got =
        created(&rc,
                "{\"id\":7,\"person\":\"fay\",\"team\":null,\"url\":\"/calendar/clf_x.ics\","
                "\"token\":\"clf_x\"}",
                "https://cl.example.com/");

    (void)state;
    assert_int_equal(rc, CL_OK);
    assert_non_null(strstr(got, "feed 7: the reviews fay is invited to\n"));
    assert_non_null(strstr(got, "url:  https://cl.example.com/calendar/clf_x.ics\n"));
    assert_non_null(strstr(got, "closeloop feed revoke 7\n"));
    free(got);
    got =
        created(&rc, "{\"id\":8,\"person\":null,\"team\":\"sre\",\"url\":\"/calendar/clf_y.ics\"}",
                "http://127.0.0.1:8080");
    assert_int_equal(rc, CL_OK);
    assert_non_null(strstr(got, "feed 8: the reviews of team sre\n"));
    assert_non_null(strstr(got, "url:  http://127.0.0.1:8080/calendar/clf_y.ics\n"));
    free(got);
}

static void test_cli_feed__odd_answers_are_refused(void **state)
{
    int rc;
    char *got = created(&rc, "{\"id\":\"7\",\"url\":\"/calendar/x.ics\"}", "http://h");

    (void)state;
    assert_int_equal(rc, CL_EHTTP);
    free(got);
    got = created(&rc, "{\"id\":7,\"url\":\"calendar/x.ics\"}", "http://h");
    assert_int_equal(rc, CL_EHTTP);
    free(got);
    got = created(&rc, "{\"id\":7}", "http://h");
    assert_int_equal(rc, CL_EHTTP);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_feed__prints_the_whole_url_once),
        cmocka_unit_test(test_cli_feed__odd_answers_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
