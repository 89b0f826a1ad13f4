#include "closeloop/util/remind_policy.h"

#include "closeloop/util/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum remind_kind {
    MK_DAYS,     /* "3d", "1w": 0..365 days */
    MK_COUNT,    /* 1..100 */
    MK_QUIET,    /* "20-08" or "off" */
    MK_WEEKDAYS, /* "mon-fri", "mon,tue,thu" */
    MK_WHERE     /* email | tracker */
};

struct remind_key {
    const char *key;
    enum remind_kind kind;
    size_t offset; /* in struct remind_rules */
    const char *def;
    const char *what;
};

#define MR(f) offsetof(struct remind_rules, f)

static const struct remind_key remind_keys[] = {
    {"before", MK_DAYS, MR(before_days), "3d",
     "the owner is reminded this long before the due date"},
    {"overdue_every", MK_DAYS, MR(overdue_every_days), "7d", "and again this often once overdue"},
    {"escalate_after", MK_DAYS, MR(escalate_after_days), "7d",
     "the facilitator is reminded after this long overdue"},
    {"budget", MK_COUNT, MR(budget), "3", "at most this many messages per person per ISO week"},
    {"quiet", MK_QUIET, MR(quiet_from), "20-08", "quiet hours in the person's zone, or off"},
    {"working_days", MK_WEEKDAYS, MR(working_days), "mon-fri", "days reminders may be sent"},
    {"where", MK_WHERE, MR(where), "email", "email, or tracker: a comment on the linked issue"},
};

static const char *const remind_days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const remind_wheres[] = {"email", "tracker"};

static int remind_day(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(remind_days); i++)
        if (len == 3 && strncmp(s, remind_days[i], 3) == 0)
            return (int)i + 1;
    return 0;
}

static int remind_weekdays(unsigned *out, const char *v)
{
    unsigned mask = 0;
    const char *p = v;

    if (strlen(v) == 7 && v[3] == '-') {
        int a = remind_day(v, 3);
        int b = remind_day(v + 4, 3);
        int d;

        if (a == 0 || b == 0 || a > b)
            return CL_EINVAL;
        for (d = a; d <= b; d++)
            mask |= 1u << d;
        *out = mask;
        return CL_OK;
    }
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        int d = remind_day(p, len);

        if (d == 0)
            return CL_EINVAL;
        mask |= 1u << d;
        p += len + (p[len] == ',');
    }
    if (mask == 0)
        return CL_EINVAL;
    *out = mask;
    return CL_OK;
}

/* "HH-HH" (hours 0..23, one or two digits) or "off". */
static int remind_quiet(struct remind_rules *r, const char *v)
{
    char *end;
    long a;
    long b;

    if (strcmp(v, "off") == 0) {
        r->quiet_from = r->quiet_to = 0;
        return CL_OK;
    }
    if (v[0] < '0' || v[0] > '9')
        return CL_EINVAL;
    a = strtol(v, &end, 10);
    if (*end != '-' || end - v > 2 || end[1] < '0' || end[1] > '9')
        return CL_EINVAL;
    v = end + 1;
    b = strtol(v, &end, 10);
    if (*end != '\0' || end - v > 2 || a > 23 || b > 23 || a == b)
        return CL_EINVAL;
    r->quiet_from = (int)a;
    r->quiet_to = (int)b;
    return CL_OK;
}

static int remind_parse(struct remind_rules *r, const struct remind_key *k, const char *v)
{
    char *f = (char *)r + k->offset;
    long x;
    size_t i;

    switch (k->kind) {
    case MK_DAYS:
        if (cl_parse_amount(&x, v, 'd', 'w', 7, 0, 365) != CL_OK)
            return CL_EINVAL;
        *(int *)(void *)f = (int)x;
        return CL_OK;
    case MK_COUNT:
        if (cl_parse_long(&x, v, 1, 100) != CL_OK)
            return CL_EINVAL;
        *(int *)(void *)f = (int)x;
        return CL_OK;
    case MK_QUIET:
        return remind_quiet(r, v);
    case MK_WEEKDAYS:
        return remind_weekdays(&r->working_days, v);
    case MK_WHERE:
        for (i = 0; i < CL_ARRAY_LEN(remind_wheres); i++)
            if (strcmp(v, remind_wheres[i]) == 0) {
                r->where = (enum remind_where)i;
                return CL_OK;
            }
        return CL_EINVAL;
    }
    return CL_EINVAL;
}

static const char *remind_allowed(enum remind_kind k)
{
    static const char *const what[] = {
        [MK_DAYS] = "days like 3d or 1w (0 to 365 days)",
        [MK_COUNT] = "a number from 1 to 100",
        [MK_QUIET] = "hours like 20-08 (from-to, 0 to 23, in the person's zone) or off",
        [MK_WEEKDAYS] = "days like mon-fri or mon,tue,thu",
        [MK_WHERE] = "email or tracker",
    };
    return what[k];
}

void remind_policy_init(struct remind_policy *p)
{
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    memset(p, 0, sizeof(*p));
    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++) {
        int rc = remind_policy_set(p, remind_keys[i].key, remind_keys[i].def, "defaults", &err);

        (void)rc; /* the defaults are ours */
    }
    p->def.set = 0;
}

static struct remind_rules *remind_team(struct remind_policy *p, const char *team, size_t len)
{
    int i;

    for (i = 0; i < p->nteams; i++)
        if (strlen(p->team[i]) == len && strncmp(p->team[i], team, len) == 0)
            return &p->teams[i];
    if (p->nteams == REMIND_POLICY_TEAMS || len == 0 || len >= sizeof(p->team[0]))
        return NULL;
    memcpy(p->team[p->nteams], team, len);
    p->team[p->nteams][len] = '\0';
    memset(&p->teams[p->nteams], 0, sizeof(p->teams[0]));
    return &p->teams[p->nteams++];
}

int remind_policy_set(struct remind_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err)
{
    const char *dot = strrchr(key, '.');
    const char *name = dot != NULL ? dot + 1 : key;
    const struct remind_key *k = NULL;
    struct remind_rules *r;
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++)
        if (strcmp(remind_keys[i].key, name) == 0)
            k = &remind_keys[i];
    if (k == NULL)
        return cl_fail(err, CL_EINVAL,
                       "%s: unknown [remind] key \"%s\": before, overdue_every, escalate_after, "
                       "budget, quiet, working_days, where",
                       where, name);
    r = dot == NULL ? &p->def : remind_team(p, key, (size_t)(dot - key));
    if (r == NULL)
        return cl_fail(err, CL_EINVAL,
                       "%s: [remind.%.*s]: at most %d team sections, names under 64 bytes", where,
                       dot != NULL ? (int)(dot - key) : 0, key, REMIND_POLICY_TEAMS);
    if (remind_parse(r, k, value) != CL_OK)
        return cl_fail(err, CL_EINVAL, "%s: remind.%s: \"%s\" is not %s", where, key, value,
                       remind_allowed(k->kind));
    r->set |= 1u << (k - remind_keys);
    return CL_OK;
}

/* A team's rules: its own keys over the default. */
static struct remind_rules remind_merged(const struct remind_policy *p, int team)
{
    struct remind_rules out = p->def;
    const struct remind_rules *t = &p->teams[team];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++) {
        const struct remind_key *k = &remind_keys[i];

        if (!(t->set & (1u << i)))
            continue;
        if (k->kind == MK_QUIET) {
            out.quiet_from = t->quiet_from;
            out.quiet_to = t->quiet_to;
        } else {
            memcpy((char *)&out + k->offset, (const char *)t + k->offset, sizeof(int));
        }
    }
    return out;
}

static json_t *remind_rules_json(const struct remind_rules *r)
{
    json_t *days = json_array();
    int i;

    for (i = 1; i <= 7; i++)
        if (r->working_days & (1u << i))
            json_array_append_new(days, json_integer(i));
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:s}", "before_days", r->before_days,
                     "overdue_every_days", r->overdue_every_days, "escalate_after_days",
                     r->escalate_after_days, "budget", r->budget, "quiet_from", r->quiet_from,
                     "quiet_to", r->quiet_to, "working_days", days, "where",
                     remind_wheres[r->where]);
}

char *remind_policy_json(const struct remind_policy *p)
{
    json_t *teams = json_object();
    json_t *o;
    char *s;
    int i;

    for (i = 0; i < p->nteams; i++) {
        struct remind_rules m = remind_merged(p, i);

        json_object_set_new(teams, p->team[i], remind_rules_json(&m));
    }
    o = json_pack("{s:o, s:o}", "default", remind_rules_json(&p->def), "teams", teams);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (s == NULL)
        abort(); /* only when out of memory */
    return s;
}

/* The text form of one key of r, as remind_policy_set() reads it. */
static void remind_value(char *out, size_t n, const struct remind_rules *r,
                         const struct remind_key *k)
{
    const int *f = (const int *)(const void *)((const char *)r + k->offset);
    struct buf b;
    int i;

    switch (k->kind) {
    case MK_DAYS:
        snprintf(out, n, "%dd", *f);
        return;
    case MK_COUNT:
        snprintf(out, n, "%d", *f);
        return;
    case MK_QUIET:
        if (r->quiet_from == r->quiet_to)
            snprintf(out, n, "off");
        else
            snprintf(out, n, "%02d-%02d", r->quiet_from, r->quiet_to);
        return;
    case MK_WHERE:
        snprintf(out, n, "%s", remind_wheres[r->where]);
        return;
    case MK_WEEKDAYS:
        break;
    }
    buf_init(&b);
    for (i = 1; i <= 7; i++)
        if (r->working_days & (1u << i))
            buf_printf(&b, "%s%s", b.len > 0 ? "," : "", remind_days[i - 1]);
    snprintf(out, n, "%s", b.len > 0 ? b.data : "");
    buf_dispose(&b);
}

void remind_policy_print(const struct remind_policy *p, FILE *out)
{
    char v[64];
    size_t i;
    int t;

    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++) {
        remind_value(v, sizeof(v), &p->def, &remind_keys[i]);
        fprintf(out, "remind.%-12s = %s\n", remind_keys[i].key, v);
    }
    for (t = 0; t < p->nteams; t++)
        for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++)
            if (p->teams[t].set & (1u << i)) {
                remind_value(v, sizeof(v), &p->teams[t], &remind_keys[i]);
                fprintf(out, "remind.%s.%s = %s\n", p->team[t], remind_keys[i].key, v);
            }
}

const struct remind_policy_doc *remind_policy_docs(void)
{
    static struct remind_policy_doc docs[CL_ARRAY_LEN(remind_keys) + 1];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++)
        docs[i] =
            (struct remind_policy_doc){remind_keys[i].key, remind_keys[i].def, remind_keys[i].what};
    return docs;
}
