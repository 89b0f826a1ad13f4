#include "closeloop/util/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool valid_repo_part(const char *s, size_t n, size_t max);

static bool valid_digits(const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int valid_num(const char *s, int n)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool valid_ymd(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y;
    int m;
    int d;
    int max;

    if (!valid_digits(s, 4) || s[4] != '-' || !valid_digits(s + 5, 2) || s[7] != '-' ||
        !valid_digits(s + 8, 2))
        return false;
    y = valid_num(s, 4);
    m = valid_num(s + 5, 2);
    d = valid_num(s + 8, 2);
    if (y < 1900 || m < 1 || m > 12)
        return false;
    max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d >= 1 && d <= max;
}

bool valid_date(const char *s)
{
    return strlen(s) == 10 && valid_ymd(s);
}

/* YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
bool valid_timestamp(const char *s)
{
    const char *p;

    if (strlen(s) < 20 || !valid_ymd(s) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return false;
    p = s + 11;
    if (!valid_digits(p, 2) || p[2] != ':' || !valid_digits(p + 3, 2) || p[5] != ':' ||
        !valid_digits(p + 6, 2))
        return false;
    if (valid_num(p, 2) > 23 || valid_num(p + 3, 2) > 59 || valid_num(p + 6, 2) > 60)
        return false;
    p += 8;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if ((*p != '+' && *p != '-') || !valid_digits(p + 1, 2) || p[3] != ':' ||
        !valid_digits(p + 4, 2) || p[6] != '\0')
        return false;
    return valid_num(p + 1, 2) <= 23 && valid_num(p + 4, 2) <= 59;
}

static bool valid_blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static bool valid_no_controls(const char *s, bool multiline)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
            return false;
    }
    return true;
}

/* Characters (code points) of UTF-8 text, as PostgreSQL's length() counts them. */
static size_t valid_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static int valid_string(const struct valid_field *f, const char *s, struct cl_err *err)
{
    const char *const *v;

    if (valid_chars(s) > f->max_len)
        return cl_fail(err, CL_EINVAL, "%s is longer than %zu characters", f->name, f->max_len);
    if ((f->flags & VALID_NONBLANK) && valid_blank(s))
        return cl_fail(err, CL_EINVAL, "%s must not be empty", f->name);
    switch (f->kind) {
    case VALID_ENUM:
        for (v = f->values; *v != NULL; v++)
            if (strcmp(*v, s) == 0)
                return CL_OK;
        return cl_fail(err, CL_EINVAL, "%s \"%.40s\" is not one of the allowed values", f->name, s);
    case VALID_DATE:
        if (!valid_date(s))
            return cl_fail(err, CL_EINVAL, "%s \"%.40s\" is not a date (YYYY-MM-DD)", f->name, s);
        return CL_OK;
    case VALID_TIME:
        if (!valid_timestamp(s))
            return cl_fail(err, CL_EINVAL,
                           "%s \"%.40s\" is not an RFC 3339 time (2026-01-31T09:30:00Z)", f->name,
                           s);
        return CL_OK;
    default:
        if (!valid_no_controls(s, f->kind == VALID_TEXT))
            return cl_fail(err, CL_EINVAL, "%s holds control characters", f->name);
        return CL_OK;
    }
}

static int valid_value(const struct valid_field *f, const json_t *v, struct cl_err *err)
{
    if (json_is_null(v)) {
        if (!(f->flags & VALID_NULLABLE))
            return cl_fail(err, CL_EINVAL, "%s must not be null", f->name);
        return CL_OK;
    }
    switch (f->kind) {
    case VALID_BOOL:
        if (!json_is_boolean(v))
            return cl_fail(err, CL_EINVAL, "%s must be true or false", f->name);
        return CL_OK;
    case VALID_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 2147483647)
            return cl_fail(err, CL_EINVAL, "%s must be a positive integer", f->name);
        return CL_OK;
    case VALID_ARRAY:
        if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > f->max_len)
            return cl_fail(err, CL_EINVAL, "%s must be an array of 1 to %zu items", f->name,
                           f->max_len);
        return CL_OK;
    default:
        if (!json_is_string(v))
            return cl_fail(err, CL_EINVAL, "%s must be a string", f->name);
        return valid_string(f, json_string_value(v), err);
    }
}

static const struct valid_field *valid_find(const struct valid_field *spec, size_t n,
                                            const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(spec[i].name, name) == 0)
            return &spec[i];
    return NULL;
}

int valid_object(const json_t *obj, const struct valid_field *spec, size_t n, enum valid_mode mode,
                 char *field, size_t fieldlen, struct cl_err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach ((json_t *)obj, key, v) {
        const struct valid_field *f = valid_find(spec, n, key);
        int rc;

        snprintf(field, fieldlen, "%s", key);
        if (f == NULL || (mode == VALID_MODE_CREATE && (f->flags & VALID_UPDATE_ONLY)))
            return cl_fail(err, CL_EINVAL, "unknown field \"%.60s\"", key);
        if (mode == VALID_MODE_UPDATE && (f->flags & VALID_CREATE_ONLY))
            return cl_fail(err, CL_EINVAL, "%s cannot be changed", key);
        rc = valid_value(f, v, err);
        if (rc != CL_OK)
            return rc;
    }
    for (i = 0; mode == VALID_MODE_CREATE && i < n; i++) {
        if ((spec[i].flags & VALID_REQUIRED) && json_object_get(obj, spec[i].name) == NULL) {
            snprintf(field, fieldlen, "%s", spec[i].name);
            return cl_fail(err, CL_EINVAL, "%s is required", spec[i].name);
        }
    }
    field[0] = '\0';
    return CL_OK;
}

/* One part of owner/repo: 1..max of letters, digits, '-', '_', '.', and not a dot
 * segment ("." or ".."), which a URL would collapse. */
static bool valid_repo_part(const char *s, size_t n, size_t max)
{
    size_t i;

    if (n == 0 || n > max || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool valid_github_repo(const char *s)
{
    const char *slash = s != NULL ? strchr(s, '/') : NULL;

    return slash != NULL && valid_repo_part(s, (size_t)(slash - s), VALID_GITHUB_OWNER_MAX) &&
           valid_repo_part(slash + 1, strlen(slash + 1), VALID_GITHUB_NAME_MAX);
}
