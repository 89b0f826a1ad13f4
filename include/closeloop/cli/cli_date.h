/* cli_date: calendar dates (YYYY-MM-DD) as day numbers, RFC 3339 timestamp checks, and the
 * wording of a due date against today. Everything is pure except cli_date_today(). */
#ifndef CLOSELOOP_CLI_DATE_H
#define CLOSELOOP_CLI_DATE_H

#include <stdbool.h>
#include <stddef.h>

/* Parses exactly "YYYY-MM-DD" naming a real day (leap years included) into days since
 * 1970-01-01. 0 on success; CL_EINVAL otherwise, *out untouched. */
int cli_date_parse(long *out, const char *s);

/* Today's date in the local time zone, as days since 1970-01-01. */
long cli_date_today(void);

/* Whether s is an RFC 3339 timestamp with offset: YYYY-MM-DDTHH:MM[:SS[.frac]](Z|+HH:MM|-HH:MM);
 * 't' or a space may stand for 'T', 'z' for 'Z'. */
bool cli_date_is_rfc3339(const char *s);

/* Parses such a timestamp into seconds since 1970-01-01T00:00:00Z (the fraction dropped). 0 on
 * success; CL_EINVAL otherwise, *out untouched. */
int cli_date_parse_time(long *out, const char *s);

/* Writes a span of seconds in its largest whole unit into buf: "45s", "12m", "3h", "2d". A
 * negative span counts as 0s. */
void cli_date_span_words(char *buf, size_t len, long seconds);

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
