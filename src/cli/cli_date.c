#include "closeloop/cli/cli_date.h"

#include "closeloop/util/cl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long days_from_civil(long y, long m, long d)
{
    long era;
    long yoe;
    long doy;
    long doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(long y, long m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n ASCII digits at s into *out. */
static bool digits(long *out, const char *s, size_t n)
{
    long v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Checks the "YYYY-MM-DD" at the start of s, without looking past it. */
static bool date_prefix(long *out, const char *s)
{
    long y;
    long m;
    long d;

    if (strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!digits(&y, s, 4) || !digits(&m, s + 5, 2) || !digits(&d, s + 8, 2))
        return false;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *out = days_from_civil(y, m, d);
    return true;
}

int cli_date_parse(long *out, const char *s)
{
    long days;

    if (s == NULL || !date_prefix(&days, s) || s[10] != '\0')
        return CL_EINVAL;
    *out = days;
    return CL_OK;
}

long cli_date_today(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return (long)(now / 86400);
    return days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1L, tm.tm_mday);
}

/* "HH:MM" at s, hours 0..23 and minutes 0..59, as minutes; for an offset the same. */
static bool hour_minute(long *minutes, const char *s)
{
    long h;
    long m;

    if (!digits(&h, s, 2) || s[2] != ':' || !digits(&m, s + 3, 2) || h > 23 || m > 59)
        return false;
    *minutes = h * 60 + m;
    return true;
}

/* Optional ":SS[.frac]" at *s; leaves *s after it and the whole seconds in *sec. */
static bool seconds(const char **s, long *sec)
{
    const char *p = *s;

    *sec = 0;
    if (*p != ':')
        return true;
    if (!digits(sec, p + 1, 2) || *sec > 60)
        return false;
    p += 3;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    *s = p;
    return true;
}

/* "Z" or "+HH:MM" / "-HH:MM" ending the string, as seconds east of UTC. */
static bool offset(long *out, const char *p)
{
    long m;

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *out = 0;
        return true;
    }
    if ((*p != '+' && *p != '-') || strnlen(p + 1, 6) != 5 || !hour_minute(&m, p + 1))
        return false;
    *out = (*p == '-' ? -m : m) * 60;
    return true;
}

int cli_date_parse_time(long *out, const char *s)
{
    long days;
    long hm;
    long sec;
    long off;
    const char *p;

    if (s == NULL || !date_prefix(&days, s))
        return CL_EINVAL;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return CL_EINVAL;
    if (strnlen(s + 11, 5) < 5 || !hour_minute(&hm, s + 11))
        return CL_EINVAL;
    p = s + 16;
    if (!seconds(&p, &sec) || !offset(&off, p))
        return CL_EINVAL;
    *out = days * 86400 + hm * 60 + sec - off;
    return CL_OK;
}

bool cli_date_is_rfc3339(const char *s)
{
    long t;

    return cli_date_parse_time(&t, s) == CL_OK;
}

void cli_date_span_words(char *buf, size_t len, long seconds)
{
    if (seconds < 60)
        snprintf(buf, len, "%lds", seconds > 0 ? seconds : 0);
    else if (seconds < 3600)
        snprintf(buf, len, "%ldm", seconds / 60);
    else if (seconds < 86400)
        snprintf(buf, len, "%ldh", seconds / 3600);
    else
        snprintf(buf, len, "%ldd", seconds / 86400);
}

enum cli_due cli_date_due_words(char *buf, size_t len, const char *due_on, long today)
{
    long due;

    if (due_on == NULL || *due_on == '\0') {
        snprintf(buf, len, "-");
        return CLI_DUE_NONE;
    }
    if (cli_date_parse(&due, due_on) != CL_OK) {
        snprintf(buf, len, "%s", due_on);
        return CLI_DUE_NONE;
    }
    if (due < today) {
        snprintf(buf, len, "%ldd overdue", today - due);
        return CLI_DUE_OVERDUE;
    }
    if (due == today) {
        snprintf(buf, len, "due today");
        return CLI_DUE_TODAY;
    }
    snprintf(buf, len, "due in %ldd", due - today);
    return CLI_DUE_LATER;
}
