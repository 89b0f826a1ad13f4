#include "closeloop/util/due.h"

#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

static const char *const due_kinds[DUE_KINDS] = {"corrective", "preventive"};
static const int due_defaults[DUE_PRIORITIES] = {7, 14, 30, 60, DUE_NONE};

void due_policy_init(struct due_policy *p)
{
    int k;
    int i;

    for (i = 0; i < DUE_PRIORITIES; i++) {
        p->days[i] = due_defaults[i];
        for (k = 0; k < DUE_KINDS; k++)
            p->kind_days[k][i] = DUE_UNSET;
    }
}

/* "P0".."P4" -> 0..4, else -1. */
static int due_priority(const char *s)
{
    if (s == NULL || s[0] != 'P' || s[1] < '0' || s[1] > '4' || s[2] != '\0')
        return -1;
    return s[1] - '0';
}

/* The kind index of the `len` bytes at s, else -1. */
static int due_kind(const char *s, size_t len)
{
    int k;

    for (k = 0; s != NULL && k < DUE_KINDS; k++)
        if (strlen(due_kinds[k]) == len && strncmp(due_kinds[k], s, len) == 0)
            return k;
    return -1;
}

/* "14d", "2w" or "none" -> days or DUE_NONE; CL_EINVAL otherwise. */
static int due_parse(int *out, const char *value)
{
    size_t n = strlen(value);
    char digits[8];
    long v;

    if (strcmp(value, "none") == 0) {
        *out = DUE_NONE;
        return CL_OK;
    }
    if (n < 2 || n - 1 >= sizeof(digits) || (value[n - 1] != 'd' && value[n - 1] != 'w'))
        return CL_EINVAL;
    memcpy(digits, value, n - 1);
    digits[n - 1] = '\0';
    if (cl_parse_long(&v, digits, 0, DUE_MAX_DAYS) != CL_OK)
        return CL_EINVAL;
    if (value[n - 1] == 'w')
        v *= 7;
    if (v > DUE_MAX_DAYS)
        return CL_EINVAL;
    *out = (int)v;
    return CL_OK;
}

int due_policy_set(struct due_policy *p, const char *key, const char *value, const char *where,
                   struct cl_err *err)
{
    const char *dot = strchr(key, '.');
    int kind = dot != NULL ? due_kind(key, (size_t)(dot - key)) : DUE_KINDS;
    int prio = due_priority(dot != NULL ? dot + 1 : key);
    int days;

    if (kind < 0 || prio < 0)
        return cl_fail(err, CL_EINVAL,
                       "%s: unknown [due] key \"%s\": P0..P4, or corrective.P0 ... "
                       "preventive.P4",
                       where, key);
    if (due_parse(&days, value) != CL_OK)
        return cl_fail(err, CL_EINVAL,
                       "%s: [due] %s = \"%s\": give days or weeks after creation (e.g. 14d or "
                       "2w, at most %d days), or none",
                       where, key, value, DUE_MAX_DAYS);
    if (kind == DUE_KINDS)
        p->days[prio] = days;
    else
        p->kind_days[kind][prio] = days;
    return CL_OK;
}

int due_policy_days(const struct due_policy *p, const char *kind, const char *priority)
{
    int k = due_kind(kind, kind != NULL ? strlen(kind) : 0);
    int i = due_priority(priority);

    if (k < 0 || i < 0)
        return DUE_NONE;
    return p->kind_days[k][i] != DUE_UNSET ? p->kind_days[k][i] : p->days[i];
}

char *due_policy_json(const struct due_policy *p)
{
    struct buf b;
    size_t len;
    int k;
    int i;

    buf_init(&b);
    buf_puts(&b, "{");
    for (k = 0; k < DUE_KINDS; k++) {
        buf_printf(&b, "%s\"%s\":{", k > 0 ? "," : "", due_kinds[k]);
        for (i = 0; i < DUE_PRIORITIES; i++) {
            int d = due_policy_days(p, due_kinds[k], (const char[]){'P', (char)('0' + i), '\0'});

            if (d == DUE_NONE)
                buf_printf(&b, "%s\"P%d\":null", i > 0 ? "," : "", i);
            else
                buf_printf(&b, "%s\"P%d\":%d", i > 0 ? "," : "", i, d);
        }
        buf_puts(&b, "}");
    }
    buf_puts(&b, "}");
    return buf_steal(&b, &len);
}

/* One line as the flat key the file also takes ("due.P1 = 14d"). */
static void due_print_value(FILE *out, const char *key, int days)
{
    char full[48];

    snprintf(full, sizeof(full), "due.%s", key);
    if (days == DUE_NONE)
        fprintf(out, "%-19s = none\n", full);
    else
        fprintf(out, "%-19s = %dd\n", full, days);
}

void due_policy_print(const struct due_policy *p, FILE *out)
{
    char key[32];
    int k;
    int i;

    for (i = 0; i < DUE_PRIORITIES; i++) {
        snprintf(key, sizeof(key), "P%d", i);
        due_print_value(out, key, p->days[i]);
    }
    for (k = 0; k < DUE_KINDS; k++)
        for (i = 0; i < DUE_PRIORITIES; i++) {
            if (p->kind_days[k][i] == DUE_UNSET)
                continue;
            snprintf(key, sizeof(key), "%s.P%d", due_kinds[k], i);
            due_print_value(out, key, p->kind_days[k][i]);
        }
}
