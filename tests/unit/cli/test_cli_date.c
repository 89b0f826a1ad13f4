#include "closeloop/cli/cli_date.h"

#include "closeloop/util/cl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* Days since 1970-01-01 of "YYYY-MM-DD", for readable expectations. */
static long day_of(const char *s)
{
    long d = 0;

    assert_int_equal(cli_date_parse(&d, s), CL_OK);
    return d;
}

/* What s reads as, against today, as "YYYY-MM-DD"; "" when it is refused. */
static const char *read_date(const char *s, const char *today)
{
    static char buf[16];
    const char *why = NULL;
    long d = 0;

    if (cli_date_read(&d, &why, s, day_of(today)) != CL_OK) {
        assert_non_null(why);
        return "";
    }
    cli_date_format(buf, sizeof(buf), d);
    return buf;
}

static void use_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_cli_date__format_inverts_parse(void **state)
{
    static const char *const days[] = {"1970-01-01", "1969-12-31", "2000-02-29", "2026-12-31",
                                       "2027-01-01", "0001-01-01", "9999-12-31"};
    char buf[16];
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(days); i++) {
        cli_date_format(buf, sizeof(buf), day_of(days[i]));
        assert_string_equal(buf, days[i]);
    }
}

static void test_cli_date__read_words_and_offsets(void **state)
{
    (void)state;
    assert_string_equal(read_date("2026-11-18", "2026-12-06"), "2026-11-18");
    assert_string_equal(read_date("today", "2026-12-06"), "2026-12-06");
    assert_string_equal(read_date("Today", "2026-12-31"), "2026-12-31");
    assert_string_equal(read_date("tomorrow", "2026-12-31"), "2027-01-01");
    assert_string_equal(read_date("yesterday", "2027-03-01"), "2027-02-28");
    assert_string_equal(read_date("+7d", "2026-12-28"), "2027-01-04");
    assert_string_equal(read_date("+0d", "2026-12-28"), "2026-12-28");
    assert_string_equal(read_date("+2W", "2028-02-20"), "2028-03-05"); /* leap year */
    assert_string_equal(read_date("+3660d", "2026-01-01"), "2036-01-09");
    assert_string_equal(read_date("+3661d", "2026-01-01"), "");
    assert_string_equal(read_date("+523w", "2026-01-01"), "");
    assert_string_equal(read_date("+1m", "2026-01-31"), "");
    assert_string_equal(read_date("+1y", "2026-01-31"), "");
    assert_string_equal(read_date("+d", "2026-01-31"), "");
    assert_string_equal(read_date("+7", "2026-01-31"), "");
    assert_string_equal(read_date("+-7d", "2026-01-31"), "");
    assert_string_equal(read_date("+ 7d", "2026-01-31"), "");
    assert_string_equal(read_date("7d", "2026-01-31"), "");
    assert_string_equal(read_date("next friday", "2026-01-31"), "");
    assert_string_equal(read_date("", "2026-01-31"), "");
}

static void test_cli_date__read_weekdays_strictly_after_today(void **state)
{
    (void)state;
    /* 2026-12-06 is a Sunday, 2026-12-11 a Friday. */
    assert_string_equal(read_date("friday", "2026-12-06"), "2026-12-11");
    assert_string_equal(read_date("FRI", "2026-12-10"), "2026-12-11");
    assert_string_equal(read_date("fri", "2026-12-11"), "2026-12-18"); /* not today */
    assert_string_equal(read_date("Monday", "2026-12-06"), "2026-12-07");
    assert_string_equal(read_date("sun", "2026-12-06"), "2026-12-13");
    assert_string_equal(read_date("sat", "2026-12-31"), "2027-01-02");
    assert_string_equal(read_date("thu", "1969-12-31"), "1970-01-01"); /* before the epoch */
    assert_string_equal(read_date("wed", "1969-12-31"), "1970-01-07");
    assert_string_equal(read_date("fr", "2026-12-06"), "");
    assert_string_equal(read_date("frid", "2026-12-06"), "");
}

/* The local date at a fixed instant depends on the zone: the clock is a parameter. */
static void test_cli_date__today_at_a_fixed_instant_in_a_zone(void **state)
{
    time_t t = (time_t)day_of("2026-03-28") * 86400 + 23 * 3600 + 30 * 60; /* 23:30Z */

    (void)state;
    use_zone("UTC");
    assert_int_equal(cli_date_today_at(t), day_of("2026-03-28"));
    use_zone("Europe/Paris"); /* 00:30 the next day, +01:00 */
    assert_int_equal(cli_date_today_at(t), day_of("2026-03-29"));
    use_zone("America/Los_Angeles");
    assert_int_equal(cli_date_today_at(t), day_of("2026-03-28"));
    use_zone("UTC");
}

/* How s is sent in zone tz; "" when it is refused. */
static const char *read_time(const char *tz, const char *s)
{
    static char buf[CLI_DATE_TIME_MAX];
    const char *why = NULL;

    use_zone(tz);
    if (cli_date_read_time(buf, sizeof(buf), &why, s) != CL_OK) {
        assert_non_null(why);
        buf[0] = '\0';
    }
    use_zone("UTC");
    return buf;
}

static void test_cli_date__read_time_in_the_viewers_zone(void **state)
{
    (void)state;
    assert_string_equal(read_time("Europe/Paris", "2026-11-18"), "2026-11-18T00:00:00+01:00");
    assert_string_equal(read_time("Europe/Paris", "2026-07-18"), "2026-07-18T00:00:00+02:00");
    assert_string_equal(read_time("Europe/Paris", "2026-11-18 09:30"), "2026-11-18T09:30:00+01:00");
    assert_string_equal(read_time("Europe/Paris", "2026-11-18T09:30:15"),
                        "2026-11-18T09:30:15+01:00");
    assert_string_equal(read_time("America/New_York", "2026-11-18 09:30"),
                        "2026-11-18T09:30:00-05:00");
    assert_string_equal(read_time("Asia/Kolkata", "2026-11-18 09:30"), "2026-11-18T09:30:00+05:30");
    assert_string_equal(read_time("UTC", "2026-11-18"), "2026-11-18T00:00:00+00:00");
    /* RFC 3339 with its own offset is sent as typed, whatever the zone. */
    assert_string_equal(read_time("Europe/Paris", "2026-11-18T09:30:00Z"), "2026-11-18T09:30:00Z");
}

static void test_cli_date__read_time_across_daylight_saving(void **state)
{
    (void)state;
    /* Europe/Paris springs forward 2026-03-29 02:00 -> 03:00 and falls back 10-25 03:00. */
    assert_string_equal(read_time("Europe/Paris", "2026-03-29 01:59"), "2026-03-29T01:59:00+01:00");
    assert_string_equal(read_time("Europe/Paris", "2026-03-29 02:30"), ""); /* skipped */
    assert_string_equal(read_time("Europe/Paris", "2026-03-29 03:00"), "2026-03-29T03:00:00+02:00");
    assert_string_equal(read_time("Europe/Paris", "2026-03-29"), "2026-03-29T00:00:00+01:00");
    assert_string_equal(read_time("Europe/Paris", "2026-03-30"), "2026-03-30T00:00:00+02:00");
    assert_string_equal(read_time("America/New_York", "2026-03-08 02:30"), "");
    assert_string_equal(read_time("America/New_York", "2026-03-08 12:00"),
                        "2026-03-08T12:00:00-04:00");
    /* America/Santiago skips midnight (2026-09-06 00:00 -> 01:00): the day starts at 01:00. */
    assert_string_equal(read_time("America/Santiago", "2026-09-06"), "2026-09-06T01:00:00-03:00");
}

static void test_cli_date__read_time_rejects_junk(void **state)
{
    static const char *const bad[] = {"",
                                      "2026-11-18 9:30",
                                      "2026-11-18 09",
                                      "2026-11-18 24:00",
                                      "2026-11-18 09:30:60",
                                      "2026-11-18 09:30:00.5",
                                      "2026-11-18 09:30 ",
                                      "2026-02-30",
                                      "2026-11-18X09:30",
                                      "today",
                                      "18/11/2026"};
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(bad); i++)
        assert_string_equal(read_time("Europe/Paris", bad[i]), "");
}

/* How the start s is sent in zone tz, today being 2026-11-18; "" when it is refused. */
static const char *read_since(const char *tz, const char *s)
{
    static char buf[CLI_DATE_TIME_MAX];
    const char *why = NULL;
    long today = 0;

    assert_int_equal(cli_date_parse(&today, "2026-11-18"), CL_OK);
    use_zone(tz);
    if (cli_date_read_since(buf, sizeof(buf), &why, s, today) != CL_OK) {
        assert_non_null(why);
        buf[0] = '\0';
    }
    use_zone("UTC");
    return buf;
}

static void test_cli_date__read_since_counts_back_to_midnight(void **state)
{
    (void)state;
    assert_string_equal(read_since("Europe/Paris", "today"), "2026-11-18T00:00:00+01:00");
    assert_string_equal(read_since("Europe/Paris", "Yesterday"), "2026-11-17T00:00:00+01:00");
    assert_string_equal(read_since("Europe/Paris", "-30d"), "2026-10-19T00:00:00+02:00");
    assert_string_equal(read_since("UTC", "-2w"), "2026-11-04T00:00:00+00:00");
    assert_string_equal(read_since("UTC", "-0d"), "2026-11-18T00:00:00+00:00");
    assert_string_equal(read_since("UTC", "-3660d"), "2016-11-10T00:00:00+00:00");
    /* the shapes of a time are taken as cli_date_read_time() takes them */
    assert_string_equal(read_since("Europe/Paris", "2026-11-01"), "2026-11-01T00:00:00+01:00");
    assert_string_equal(read_since("UTC", "2026-11-01 09:30"), "2026-11-01T09:30:00+00:00");
    assert_string_equal(read_since("UTC", "2026-11-01T09:30:00Z"), "2026-11-01T09:30:00Z");
}

static void test_cli_date__read_since_rejects_the_future_and_junk(void **state)
{
    static const char *const bad[] = {"tomorrow", "+3d", "fri",       "-3661d", "-1m", "-d",
                                      "--3d",     "30d", "last week", "",       "-30x"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(read_since("UTC", bad[i]), "");
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
        cmocka_unit_test(test_cli_date__format_inverts_parse),
        cmocka_unit_test(test_cli_date__read_words_and_offsets),
        cmocka_unit_test(test_cli_date__read_weekdays_strictly_after_today),
        cmocka_unit_test(test_cli_date__today_at_a_fixed_instant_in_a_zone),
        cmocka_unit_test(test_cli_date__read_time_in_the_viewers_zone),
        cmocka_unit_test(test_cli_date__read_time_across_daylight_saving),
        cmocka_unit_test(test_cli_date__read_time_rejects_junk),
        cmocka_unit_test(test_cli_date__read_since_counts_back_to_midnight),
        cmocka_unit_test(test_cli_date__read_since_rejects_the_future_and_junk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
