#include "closeloop/cli/cli_date.h"

#include "closeloop/util/cl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

long cli_date_today_at(time_t now)
{
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return (long)(now / 86400);
    return days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1L, tm.tm_mday);
}

long cli_date_today(void)
{
    return cli_date_today_at(time(NULL));
}

/* The inverse of days_from_civil (H. Hinnant's civil_from_days). */
static void civil_from_days(long *y, long *m, long *d, long z)
{
    long era;
    long doe;
    long yoe;
    long doy;
    long mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

void cli_date_format(char *buf, size_t len, long day)
{
    long y;
    long m;
    long d;

    civil_from_days(&y, &m, &d, day);
    snprintf(buf, len, "%04ld-%02ld-%02ld", y, m, d);
}

/* The weekday named by s (sunday or sun, any case) as 0..6 from Sunday, or -1. */
static int weekday(const char *s)
{
    static const char *const names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    size_t n = strlen(s);
    int i;

    for (i = 0; i < 7; i++) {
        if ((n == 3 || n == strlen(names[i])) && strncasecmp(s, names[i], n) == 0)
            return i;
    }
    return -1;
}

/* "+Nd" or "+Nw" as a number of days; *why says what is wrong otherwise. */
static bool relative(long *days, const char **why, const char *s)
{
    size_t n = strlen(s);
    char unit = n > 0 ? (char)tolower((unsigned char)s[n - 1]) : '\0';
    char num[8];
    long v;

    *why = "must be +N then d (days) or w (weeks), e.g. +3d or +2w";
    if (unit == 'm' || unit == 'y') {
        *why = "cannot count months or years (+1m: a month or a minute? which day is a month "
               "after January 31?): count days or weeks, e.g. +30d or +4w";
        return false;
    }
    if (n < 3 || n - 2 >= sizeof(num) || (unit != 'd' && unit != 'w') || s[1] < '0' || s[1] > '9')
        return false;
    memcpy(num, s + 1, n - 2);
    num[n - 2] = '\0';
    if (cl_parse_long(&v, num, 0, CLI_DATE_REL_MAX) != CL_OK)
        return false;
    v *= unit == 'w' ? 7 : 1;
    if (v > CLI_DATE_REL_MAX) {
        *why = "must be at most +3660d (ten years)";
        return false;
    }
    *days = v;
    return true;
}

/* The days from today to the day s names, for every shape but YYYY-MM-DD. */
static bool read_word(long *delta, const char **why, const char *s, long today)
{
    int wd = weekday(s);

    if (s[0] == '+')
        return relative(delta, why, s);
    if (strcasecmp(s, "today") == 0)
        *delta = 0;
    else if (strcasecmp(s, "tomorrow") == 0)
        *delta = 1;
    else if (strcasecmp(s, "yesterday") == 0)
        *delta = -1;
    else if (wd >= 0) /* the next one strictly after today; 1970-01-01 was a Thursday (4) */
        *delta = (wd - (today % 7 + 11) % 7 + 6) % 7 + 1;
    else
        return false;
    return true;
}

int cli_date_read(long *out, const char **why, const char *s, long today)
{
    long day;
    long delta;

    *why = "must be YYYY-MM-DD, today, tomorrow, yesterday, +Nd, +Nw or a weekday (fri)";
    if (s == NULL)
        return CL_EINVAL;
    if (cli_date_parse(&day, s) == CL_OK) {
        *out = day;
        return CL_OK;
    }
    if (!read_word(&delta, why, s, today))
        return CL_EINVAL;
    *out = today + delta;
    return CL_OK;
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

/* The UTC offset in seconds of local time tm, which mktime() turned into t. */
static long local_offset(const struct tm *tm, time_t t)
{
    long local = days_from_civil(tm->tm_year + 1900L, tm->tm_mon + 1L, tm->tm_mday) * 86400 +
                 tm->tm_hour * 3600L + tm->tm_min * 60L + tm->tm_sec;

    return local - (long)t;
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS]]" without an offset into tm; false when it is not that. */
static bool local_fields(struct tm *tm, bool *has_time, const char *s)
{
    long days;
    long y;
    long mo;
    long d;
    long hm = 0;
    long sec = 0;
    const char *p = s + 16;

    if (!date_prefix(&days, s))
        return false;
    *has_time = s[10] != '\0';
    if (*has_time && s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    if (*has_time && (strnlen(s + 11, 5) < 5 || !hour_minute(&hm, s + 11) || !seconds(&p, &sec) ||
                      *p != '\0' || sec > 59 || strchr(s, '.') != NULL))
        return false;
    civil_from_days(&y, &mo, &d, days);
    memset(tm, 0, sizeof(*tm));
    tm->tm_year = (int)(y - 1900);
    tm->tm_mon = (int)(mo - 1);
    tm->tm_mday = (int)d;
    tm->tm_hour = (int)(hm / 60);
    tm->tm_min = (int)(hm % 60);
    tm->tm_sec = (int)sec;
    tm->tm_isdst = -1;
    return true;
}

int cli_date_read_time(char *buf, size_t len, const char **why, const char *s)
{
    struct tm want;
    struct tm got;
    bool has_time = false;
    time_t t;
    long off;

    *why = "must be RFC 3339 (2026-11-18T09:30:00Z), YYYY-MM-DD or YYYY-MM-DD HH:MM";
    if (s != NULL && cli_date_is_rfc3339(s)) {
        snprintf(buf, len, "%s", s);
        return CL_OK;
    }
    if (s == NULL || !local_fields(&want, &has_time, s))
        return CL_EINVAL;
    got = want;
    t = mktime(&got);
    if (t == (time_t)-1 || got.tm_mday != want.tm_mday ||
        (has_time && (got.tm_hour != want.tm_hour || got.tm_min != want.tm_min))) {
        *why = "names a local time that does not exist in this time zone (a daylight-saving "
               "change skips it)";
        return CL_EINVAL;
    }
    off = local_offset(&got, t);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", got.tm_year + 1900,
             got.tm_mon + 1, got.tm_mday, got.tm_hour, got.tm_min, got.tm_sec, off < 0 ? '-' : '+',
             labs(off) / 3600, labs(off) % 3600 / 60);
    return CL_OK;
}

int cli_date_read_since(char *buf, size_t len, const char **why, const char *s, long today)
{
    char date[16];
    long days = 0;

    if (s == NULL)
        return CL_EINVAL;
    if (cli_date_read_time(buf, len, why, s) == CL_OK)
        return CL_OK;
    if (strcasecmp(s, "yesterday") == 0)
        days = 1;
    else if ((s[0] == '-' && !relative(&days, why, s)) ||
             (s[0] != '-' && strcasecmp(s, "today") != 0)) {
        *why = "must be RFC 3339, YYYY-MM-DD [HH:MM], today, yesterday, -Nd or -Nw (N days or "
               "weeks ago, at most ten years)";
        return CL_EINVAL;
    }
    cli_date_format(date, sizeof(date), today - days);
    return cli_date_read_time(buf, len, why, date);
}

/* "2h ago" for seconds before now ("0s ago" for a time ahead of the clock). */
static void ago(char *buf, size_t len, long seconds)
{
    char span[24];

    cli_date_span_words(span, sizeof(span), seconds);
    snprintf(buf, len, "%s ago", span);
}

/* The local time tm as `how` shows it; false when it does not fit. */
static bool local_words(char *buf, size_t len, const struct tm *tm, enum cli_date_when how)
{
    switch (how) {
    case CLI_DATE_WHEN_DAY:
        return strftime(buf, len, "%Y-%m-%d", tm) > 0;
    case CLI_DATE_WHEN_CELL:
        return strftime(buf, len, "%Y-%m-%d %H:%M", tm) > 0;
    case CLI_DATE_WHEN_FULL:
        return strftime(buf, len, "%Y-%m-%d %H:%M %Z", tm) > 0;
    }
    return false;
}

bool cli_date_when(char *buf, size_t len, const char *s, long now, enum cli_date_when how)
{
    char local[48];
    char rel[32];
    long t;
    time_t tt;
    struct tm tm;

    if (cli_date_parse_time(&t, s) != CL_OK)
        return false;
    tt = (time_t)t;
    if (localtime_r(&tt, &tm) == NULL || !local_words(local, sizeof(local), &tm, how))
        return false;
    ago(rel, sizeof(rel), now - t);
    if (how == CLI_DATE_WHEN_DAY)
        snprintf(buf, len, "%s", local);
    else if (how == CLI_DATE_WHEN_FULL)
        snprintf(buf, len, "%s (%s)", local, rel);
    else
        snprintf(buf, len, "%s %8s", local, now - t < 100L * 86400 ? rel : "");
    return true;
}
