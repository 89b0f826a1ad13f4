#include "closeloop/cli/cli_value.h"

#include "closeloop/cli/cli_date.h"
#include "closeloop/util/valid.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kinds[] = {"corrective", "preventive", NULL};
static const char *const formats[] = {"table", "json", "csv", "markdown", NULL};
static const char *const doc_formats[] = {"md", "html", "json", NULL};
static const char *const priorities[] = {"P0", "P1", "P2", "P3", "P4", NULL};
static const char *const severities[] = {"SEV1", "SEV2", "SEV3", "SEV4", "SEV5", NULL};
static const char *const statuses[] = {"open", "in_progress", "blocked", "done", "wont_do", NULL};
static const char *const bools[] = {"true", "false", NULL};
static const char *const severities_or_none[] = {"SEV1", "SEV2", "SEV3", "SEV4",
                                                 "SEV5", "none", NULL};
static const char *const stdin_only[] = {"-", NULL};

const char *const *cli_value_choices(enum cli_val type)
{
    switch (type) {
    case CLI_VAL_KIND:
        return kinds;
    case CLI_VAL_PRIORITY:
        return priorities;
    case CLI_VAL_SEVERITY:
        return severities;
    case CLI_VAL_SEVERITY_OR_NONE:
        return severities_or_none;
    case CLI_VAL_STATUSES:
        return statuses;
    case CLI_VAL_BOOL:
        return bools;
    case CLI_VAL_DESC:
        return stdin_only;
    default:
        return NULL;
    }
}

size_t cli_value_max(enum cli_val type)
{
    return type == CLI_VAL_DESC ? CLI_VALUE_DESC_MAX : CLI_VALUE_TEXT_MAX;
}

bool cli_value_is_flag(enum cli_val type)
{
    return type == CLI_VAL_FLAG || type == CLI_VAL_FLAG_NULL;
}

bool cli_value_is_none(enum cli_val type, const char *value)
{
    bool nullable = type == CLI_VAL_DATE_OR_NONE || type == CLI_VAL_TIME_OR_NONE ||
                    type == CLI_VAL_SEVERITY_OR_NONE || type == CLI_VAL_REPO_OR_NONE ||
                    type == CLI_VAL_PROJECT_OR_NONE || type == CLI_VAL_TEXT_OR_NONE;

    if (type == CLI_VAL_FLAG_NULL)
        return value != NULL;
    return nullable && value != NULL && strcmp(value, "none") == 0;
}

/* The word of words that the n bytes at s spell in any case, with '-' for '_'; or NULL. */
static const char *word_like(const char *const *words, const char *s, size_t n)
{
    size_t i;
    size_t k;

    for (i = 0; words[i] != NULL; i++) {
        if (strlen(words[i]) != n)
            continue;
        for (k = 0; k < n; k++) {
            char c = s[k] == '-' ? '_' : s[k];

            if (tolower((unsigned char)c) != tolower((unsigned char)words[i][k]))
                break;
        }
        if (k == n)
            return words[i];
    }
    return NULL;
}

/* Writes the comma-separated statuses at s into buf in their own spelling. */
static bool statuses_read(char *buf, size_t len, const char *s)
{
    const char *comma;
    const char *w;
    size_t used = 0;
    int n;

    for (;;) {
        comma = strchr(s, ',');
        w = word_like(statuses, s, comma != NULL ? (size_t)(comma - s) : strlen(s));
        if (w == NULL)
            return false;
        n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "", w);
        if (n < 0 || (size_t)n >= len - used)
            return false;
        used += (size_t)n;
        if (comma == NULL)
            return true;
        s = comma + 1;
    }
}

/* A character GitHub allows in an owner or repository name. */
static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Whether the n bytes at s are owner/repo: two non-empty names around exactly one '/'. */
static bool repo_ok(const char *s, size_t n)
{
    size_t slash = n;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '/' && slash == n)
            slash = i;
        else if (!name_char(s[i]))
            return false;
    }
    return slash > 0 && slash + 1 < n;
}

/* owner/repo#N with N a number from 1 that fits GitHub's 32-bit issue numbers. */
static bool issue_ok(const char *s)
{
    const char *hash = strchr(s, '#');
    long n;

    if (hash == NULL || !repo_ok(s, (size_t)(hash - s)))
        return false;
    if (hash[1] < '1' || hash[1] > '9') /* no sign, space or leading zero for strtol to skip */
        return false;
    return cl_parse_long(&n, hash + 1, 1, INT32_MAX) == CL_OK;
}

/* A Jira project key: an upper-case letter, then upper-case letters, digits or '_'. */
static bool project_key_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 255 || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    for (i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* PROJ or PROJ/Issue Type (a type of 1..60 bytes, no '/'). */
static bool project_ok(const char *s)
{
    const char *slash = strchr(s, '/');

    if (slash == NULL)
        return project_key_ok(s, strlen(s));
    return project_key_ok(s, (size_t)(slash - s)) && slash[1] != '\0' && strlen(slash + 1) <= 60 &&
           strchr(slash + 1, '/') == NULL;
}

/* PROJ-N, N from 1 without a leading zero. */
static bool jira_key_ok(const char *s)
{
    const char *dash = strrchr(s, '-');
    long n;

    return dash != NULL && project_key_ok(s, (size_t)(dash - s)) && dash[1] >= '1' &&
           dash[1] <= '9' && cl_parse_long(&n, dash + 1, 1, 9999999999L) == CL_OK;
}

/* n digits at s. */
static bool digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "YYYY-MM-DD HH:MM[:SS]" or RFC 3339 with an offset: the shape; the server checks the
 * calendar and that it is in the future. */
static bool when_ok(const char *v)
{
    size_t n = strlen(v);

    if (n >= 16 && digits(v, 4) && v[4] == '-' && digits(v + 5, 2) && v[7] == '-' &&
        digits(v + 8, 2) && (v[10] == ' ' || v[10] == 'T') && digits(v + 11, 2) && v[13] == ':' &&
        digits(v + 14, 2)) {
        if (n == 16 || (n == 19 && v[16] == ':' && digits(v + 17, 2)))
            return true;
        return v[10] == 'T' && valid_timestamp(v);
    }
    return false;
}

/* 45m, 1h, 90 -> minutes written to buf (5..480); false otherwise. */
static bool minutes_read(char *buf, size_t len, const char *v)
{
    long x;

    if (cl_parse_amount(&x, v, 'm', 'h', 60, 5, 480) != CL_OK)
        return false;
    snprintf(buf, len, "%ld", x);
    return true;
}

/* "12=effective": an action id, '=', then a non-empty value. */
static bool pair_ok(const char *v)
{
    const char *eq = strchr(v, '=');
    char id[24];
    long n;

    if (eq == NULL || eq == v || (size_t)(eq - v) >= sizeof(id) || eq[1] == '\0')
        return false;
    snprintf(id, sizeof(id), "%.*s", (int)(eq - v), v);
    return cl_parse_long(&n, id, 1, LONG_MAX) == CL_OK;
}

/* The one-line reason value is wrong for type, or NULL when it is right. */
static const char *why_wrong(enum cli_val type, const char *v)
{
    long n;

    switch (type) {
    case CLI_VAL_FLAG:
    case CLI_VAL_FLAG_NULL:
        return "takes no value";
    case CLI_VAL_TEXT:
    case CLI_VAL_TEXT_OR_NONE:
    case CLI_VAL_DESC:
    case CLI_VAL_ACTIONS_FILE:
        return NULL;
    case CLI_VAL_PAIR:
        return pair_ok(v) ? NULL : "must be ID=VALUE (an action id, then its value)";
    case CLI_VAL_LIMIT:
        return cl_parse_long(&n, v, 1, CLI_VERBS_LIMIT_MAX) == CL_OK ? NULL : "must be 1..10000";
    case CLI_VAL_VERSION:
        return cl_parse_long(&n, v, 0, LONG_MAX) == CL_OK ? NULL : "must be a whole number >= 0";
    case CLI_VAL_ID:
        return cl_parse_long(&n, v, 1, LONG_MAX) == CL_OK ? NULL : "must be a whole number >= 1";
    case CLI_VAL_REPO:
    case CLI_VAL_REPO_OR_NONE:
        return repo_ok(v, strlen(v)) ? NULL : "must be owner/repo";
    case CLI_VAL_ISSUE:
        return issue_ok(v) || jira_key_ok(v) ? NULL : "must be owner/repo#NUMBER or PROJ-NUMBER";
    case CLI_VAL_PROJECT:
    case CLI_VAL_PROJECT_OR_NONE:
        return project_ok(v) ? NULL : "must be a Jira project key, optionally /type (OPS/Bug)";
    case CLI_VAL_ADDRESSES:
        return strchr(v, '@') != NULL ? NULL : "must be e-mail addresses separated by commas";
    case CLI_VAL_WHEN:
        return when_ok(v) ? NULL
                          : "must be \"YYYY-MM-DD HH:MM\" (in --tz, else the facilitator's zone) "
                            "or RFC 3339 with an offset";
    default:
        break;
    }
    return "has an unknown type";
}

/* The one word of words that v spells in any case, written to buf; else *why. */
static bool enum_read(char *buf, size_t len, const char **why, const char *const *words,
                      const char *v, const char *rule)
{
    const char *w = word_like(words, v, strlen(v));

    *why = rule;
    if (w == NULL)
        return false;
    snprintf(buf, len, "%s", w);
    return true;
}

static bool date_read(char *buf, size_t len, const char **why, const char *v, long today)
{
    long day;

    if (cli_date_read(&day, why, v, today) != CL_OK)
        return false;
    cli_date_format(buf, len, day);
    return true;
}

/* For a type whose values are rewritten: whether v is right (then buf holds its form), or
 * *why. *rewrites is false for every other type. */
static bool rewrite(bool *rewrites, char *buf, size_t len, const char **why, enum cli_val type,
                    const char *v, long today)
{
    *rewrites = true;
    switch (type) {
    case CLI_VAL_DATE:
    case CLI_VAL_DATE_OR_NONE:
        return date_read(buf, len, why, v, today);
    case CLI_VAL_TIME:
    case CLI_VAL_TIME_OR_NONE:
        return cli_date_read_time(buf, len, why, v) == CL_OK;
    case CLI_VAL_SINCE:
        return cli_date_read_since(buf, len, why, v, today) == CL_OK;
    case CLI_VAL_KIND:
        return enum_read(buf, len, why, kinds, v, "must be corrective or preventive");
    case CLI_VAL_PRIORITY:
        return enum_read(buf, len, why, priorities, v, "must be one of P0 P1 P2 P3 P4");
    case CLI_VAL_SEVERITY:
    case CLI_VAL_SEVERITY_OR_NONE:
        return enum_read(buf, len, why, severities, v, "must be one of SEV1..SEV5");
    case CLI_VAL_BOOL:
        return enum_read(buf, len, why, bools, v, "must be true or false");
    case CLI_VAL_FORMAT:
        return enum_read(buf, len, why, formats, v, "must be table, json, csv or markdown");
    case CLI_VAL_DOC_FORMAT:
        return enum_read(buf, len, why, doc_formats, v, "must be md, html or json");
    case CLI_VAL_STATUSES:
        *why = "must list open, in_progress, blocked, done or wont_do";
        return statuses_read(buf, len, v);
    case CLI_VAL_MINUTES:
        *why = "must be minutes like 45m, 1h or 90 (5 to 480)";
        return minutes_read(buf, len, v);
    default:
        *rewrites = false;
        return true;
    }
}

int cli_value_read(const char **out, char buf[CLI_VALUE_NORM_MAX], enum cli_val type,
                   const char *label, const char *value, long today, struct cl_err *err)
{
    size_t max = cli_value_max(type);
    const char *why = NULL;
    bool rewrites = false;
    bool ok;

    if (cli_value_is_flag(type)) {
        if (value != NULL)
            return cl_fail(err, CL_EINVAL, "%s takes no value", label);
        *out = NULL;
        return CL_OK;
    }
    if (value == NULL || *value == '\0')
        return cl_fail(err, CL_EINVAL, "%s needs a value", label);
    if (strnlen(value, max + 1) > max)
        return cl_fail(err, CL_EINVAL, "%s is longer than %zu bytes", label, max);
    if (cli_value_is_none(type, value)) {
        *out = value;
        return CL_OK;
    }
    ok = rewrite(&rewrites, buf, CLI_VALUE_NORM_MAX, &why, type, value, today);
    if (ok && !rewrites) {
        why = why_wrong(type, value);
        ok = why == NULL;
    }
    if (!ok)
        return cl_fail(err, CL_EINVAL, "%s %s, not '%.40s'", label, why, value);
    *out = rewrites ? buf : value;
    return CL_OK;
}

int cli_value_check(enum cli_val type, const char *label, const char *value, struct cl_err *err)
{
    char buf[CLI_VALUE_NORM_MAX];
    const char *out;

    return cli_value_read(&out, buf, type, label, value, cli_date_today(), err);
}
