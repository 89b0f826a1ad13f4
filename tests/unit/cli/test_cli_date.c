#include "closeloop/cli/cli_date.h"

#include "closeloop/util/cl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static void test_cli_date__parse_counts_days_from_epoch(void **state)
{
    long d = -1;

    (void)state;
    assert_int_equal(cli_date_parse(&d, "1970-01-01"), CL_OK);
    assert_int_equal(d, 0);
    assert_int_equal(cli_date_parse(&d, "2024-03-01"), CL_OK);
    assert_int_equal(d, 19783);
    assert_int_equal(cli_date_parse(&d, "1969-12-31"), CL_OK);
    assert_int_equal(d, -1);
}

static void test_cli_date__parse_knows_leap_years(void **state)
{
    long d = 7;

    (void)state;
    assert_int_equal(cli_date_parse(&d, "2024-02-29"), CL_OK);
    assert_int_equal(cli_date_parse(&d, "2000-02-29"), CL_OK);
    assert_int_equal(cli_date_parse(&d, "2023-02-29"), CL_EINVAL);
    assert_int_equal(cli_date_parse(&d, "1900-02-29"), CL_EINVAL);
}

static void test_cli_date__parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {"",           "2024-1-01",   "2024-01-1",  "2024/01/01",
                                      "2024-13-01", "2024-00-10",  "2024-04-31", "2024-01-01x",
                                      "24-01-01",   "2024-01-01 ", "0000-01-01", "abcd-ef-gh"};
    long d = 42;
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(bad); i++)
        assert_int_equal(cli_date_parse(&d, bad[i]), CL_EINVAL);
    assert_int_equal(cli_date_parse(&d, NULL), CL_EINVAL);
    assert_int_equal(d, 42); /* untouched on failure */
}

static void test_cli_date__today_is_the_local_date(void **state)
{
    time_t now = time(NULL);
    struct tm tm;
    char buf[16];
    long want = 0;

    (void)state;
    localtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    assert_int_equal(cli_date_parse(&want, buf), CL_OK);
    assert_int_equal(cli_date_today(), want);
}

static void test_cli_date__rfc3339_accepts_offsets_and_fractions(void **state)
{
    (void)state;
    assert_true(cli_date_is_rfc3339("2024-05-01T10:00:00Z"));
    assert_true(cli_date_is_rfc3339("2024-05-01T10:00:00.123+02:00"));
    assert_true(cli_date_is_rfc3339("2024-05-01t10:00-05:30"));
    assert_true(cli_date_is_rfc3339("2024-05-01 23:59:60z"));
}

static void test_cli_date__rfc3339_rejects_missing_offset_and_junk(void **state)
{
    static const char *const bad[] = {"2024-05-01",
                                      "2024-05-01T10:00:00",
                                      "2024-05-01T24:00:00Z",
                                      "2024-05-01T10:60Z",
                                      "2024-05-01T10:00:00+2:00",
                                      "2024-05-01T10:00:00+02:00x",
                                      "2024-05-01T10:00:00.Z",
                                      "2024-02-30T10:00:00Z",
                                      "2024-05-01X10:00:00Z",
                                      "2024-05-01T10",
                                      "yesterday"};
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(bad); i++)
        assert_false(cli_date_is_rfc3339(bad[i]));
    assert_false(cli_date_is_rfc3339(NULL));
}

static void test_cli_date__parse_time_gives_epoch_seconds(void **state)
{
    long t = -7;

    (void)state;
    assert_int_equal(cli_date_parse_time(&t, "1970-01-01T00:00:00Z"), CL_OK);
    assert_int_equal(t, 0);
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01T10:20:30Z"), CL_OK);
    assert_int_equal(t, 19783L * 86400 + 10 * 3600 + 20 * 60 + 30);
    /* the same instant written with offsets, a fraction, or no seconds */
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01T12:20:30.999+02:00"), CL_OK);
    assert_int_equal(t, 19783L * 86400 + 10 * 3600 + 20 * 60 + 30);
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01 07:50:30-02:30"), CL_OK);
    assert_int_equal(t, 19783L * 86400 + 10 * 3600 + 20 * 60 + 30);
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01t10:20z"), CL_OK);
    assert_int_equal(t, 19783L * 86400 + 10 * 3600 + 20 * 60);
    t = 5;
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01T10:20:30"), CL_EINVAL);
    assert_int_equal(cli_date_parse_time(&t, "2024-03-01"), CL_EINVAL);
    assert_int_equal(cli_date_parse_time(&t, NULL), CL_EINVAL);
    assert_int_equal(t, 5);
}

static void test_cli_date__span_words(void **state)
{
    char buf[32];

    (void)state;
    cli_date_span_words(buf, sizeof(buf), -5);
    assert_string_equal(buf, "0s");
    cli_date_span_words(buf, sizeof(buf), 59);
    assert_string_equal(buf, "59s");
    cli_date_span_words(buf, sizeof(buf), 60);
    assert_string_equal(buf, "1m");
    cli_date_span_words(buf, sizeof(buf), 779);
    assert_string_equal(buf, "12m");
    cli_date_span_words(buf, sizeof(buf), 3600);
    assert_string_equal(buf, "1h");
    cli_date_span_words(buf, sizeof(buf), 86399);
    assert_string_equal(buf, "23h");
    cli_date_span_words(buf, sizeof(buf), 3 * 86400 + 5);
    assert_string_equal(buf, "3d");
}

static void test_cli_date__due_words(void **state)
{
    char buf[32];
    long today = 0;

    (void)state;
    assert_int_equal(cli_date_parse(&today, "2024-03-01"), CL_OK);
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "2024-02-27", today), CLI_DUE_OVERDUE);
    assert_string_equal(buf, "3d overdue"); /* across the leap day */
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "2024-03-01", today), CLI_DUE_TODAY);
    assert_string_equal(buf, "due today");
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "2024-03-03", today), CLI_DUE_LATER);
    assert_string_equal(buf, "due in 2d");
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "2024-02-29", today), CLI_DUE_OVERDUE);
    assert_string_equal(buf, "1d overdue");
}

static void test_cli_date__due_words_without_a_date(void **state)
{
    char buf[32];

    (void)state;
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), NULL, 100), CLI_DUE_NONE);
    assert_string_equal(buf, "-");
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "", 100), CLI_DUE_NONE);
    assert_string_equal(buf, "-");
    assert_int_equal(cli_date_due_words(buf, sizeof(buf), "soon", 100), CLI_DUE_NONE);
    assert_string_equal(buf, "soon");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_date__parse_counts_days_from_epoch),
        cmocka_unit_test(test_cli_date__parse_knows_leap_years),
        cmocka_unit_test(test_cli_date__parse_rejects_malformed),
        cmocka_unit_test(test_cli_date__today_is_the_local_date),
        cmocka_unit_test(test_cli_date__rfc3339_accepts_offsets_and_fractions),
        cmocka_unit_test(test_cli_date__rfc3339_rejects_missing_offset_and_junk),
        cmocka_unit_test(test_cli_date__parse_time_gives_epoch_seconds),
        cmocka_unit_test(test_cli_date__span_words),
        cmocka_unit_test(test_cli_date__due_words),
        cmocka_unit_test(test_cli_date__due_words_without_a_date),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
