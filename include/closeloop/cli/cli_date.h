/* cli_date: calendar dates (YYYY-MM-DD) as day numbers, the dates and times people type
 * (today, +2w, friday, 2026-11-18 09:30) read in the viewer's zone (TZ), RFC 3339 timestamp
 * checks, and the wording of a due date against today. The clock is always a parameter
 * (`now`, seconds since the epoch), so that tests fix it; only cli_date_today() reads it. */
#ifndef CLOSELOOP_CLI_DATE_H
#define CLOSELOOP_CLI_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CLI_DATE_TIME_MAX 32   /* bytes of a written RFC 3339 time, NUL included */
#define CLI_DATE_REL_MAX  3660 /* most days of a relative date (+3660d, +522w) */

/* Parses exactly "YYYY-MM-DD" naming a real day (leap years included) into days since
 * 1970-01-01. 0 on success; CL_EINVAL otherwise, *out untouched. */
int cli_date_parse(long *out, const char *s);

/* Today's date in the local time zone, as days since 1970-01-01. */
long cli_date_today(void);

/* The local date (TZ) at the instant now, as days since 1970-01-01. */
long cli_date_today_at(time_t now);

/* Writes day (days since 1970-01-01) as "YYYY-MM-DD" into buf (11 bytes suffice). */
void cli_date_format(char *buf, size_t len, long day);

/* Reads a date as people type it, against today (days since 1970-01-01): YYYY-MM-DD;
 * today, tomorrow, yesterday; +Nd or +Nw (N days or weeks ahead, N <= CLI_DATE_REL_MAX
 * days); a weekday name, full or three letters (the next such day strictly after today).
 * Words are case-insensitive. Months are refused as ambiguous (+1m: minutes or months?
 * which day is one month after January 31?). 0 on success; CL_EINVAL otherwise, with
 * *why (static) saying what was wrong, *out untouched. */
int cli_date_read(long *out, const char **why, const char *s, long today);

/* Reads a time as people type it and writes it as RFC 3339 into buf (CLI_DATE_TIME_MAX):
 * an RFC 3339 timestamp is copied as is; "YYYY-MM-DD" is 00:00 that day, and
 * "YYYY-MM-DD HH:MM[:SS]" (or with 'T') that time, both in the local zone (TZ) and written
 * with its offset then, e.g. 2026-11-18T00:00:00+01:00. A local time that the zone skips
 * (a DST gap) is CL_EINVAL, as is anything else, with *why (static) saying why. */
int cli_date_read_time(char *buf, size_t len, const char **why, const char *s);

/* Reads the start of a span back from now as people type it, as cli_date_read_time() does
 * (RFC 3339; YYYY-MM-DD and YYYY-MM-DD HH:MM in the local zone), or as a day counted back
 * from today (days since 1970-01-01): today, yesterday, -Nd or -Nw (N days or weeks ago, N
 * <= CLI_DATE_REL_MAX days), each meaning that day's local midnight. Written as RFC 3339
 * with the zone's offset into buf (CLI_DATE_TIME_MAX). CL_EINVAL otherwise, *why (static)
 * saying why. */
int cli_date_read_since(char *buf, size_t len, const char **why, const char *s, long today);

/* Whether s is an RFC 3339 timestamp with offset: YYYY-MM-DDTHH:MM[:SS[.frac]](Z|+HH:MM|-HH:MM);
 * 't' or a space may stand for 'T', 'z' for 'Z'. */
bool cli_date_is_rfc3339(const char *s);

/* Parses such a timestamp into seconds since 1970-01-01T00:00:00Z (the fraction dropped). 0 on
 * success; CL_EINVAL otherwise, *out untouched. */
int cli_date_parse_time(long *out, const char *s);

/* Writes a span of seconds in its largest whole unit into buf: "45s", "12m", "3h", "2d". A
 * negative span counts as 0s. */
void cli_date_span_words(char *buf, size_t len, long seconds);

enum cli_date_when {
    CLI_DATE_WHEN_DAY,  /* "2026-12-06": the local day */
    CLI_DATE_WHEN_CELL, /* "2026-12-06 14:03   2h ago": a table cell, always 25 columns; the
                           relative part is blank from 100 days on */
    CLI_DATE_WHEN_FULL  /* "2026-12-06 14:03 CET (2h ago)": one object's view */
};

/* Writes the RFC 3339 timestamp s as the viewer sees it: in the local zone (TZ), and for
 * CELL and FULL how long before now (seconds since the epoch) it was. Returns false, and
 * leaves buf alone, when s is not such a timestamp. */
bool cli_date_when(char *buf, size_t len, const char *s, long now, enum cli_date_when how);

enum cli_due {
    CLI_DUE_NONE,    /* no due date, or one that does not parse */
    CLI_DUE_OVERDUE, /* before today */
    CLI_DUE_TODAY,
    CLI_DUE_LATER
};

/* Writes the wording of due_on (NULL for none) against today into buf: "3d overdue",
 * "due today", "due in 2d", or "-" when there is no date. A date that does not parse is
 * copied as is. Returns which case it was. */
enum cli_due cli_date_due_words(char *buf, size_t len, const char *due_on, long today);

#endif
