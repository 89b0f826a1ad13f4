#include "closeloop/util/policy/remind_policy.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const remind_wheres[] = {"email", "tracker", NULL};

/* "HH-HH" (hours 0..23, one or two digits) or "off". */
static int remind_quiet(void *rules, const struct policy_key *k, const char *v)
{
    struct remind_rules *r = rules;
    char *end;
    long a;
    long b;

    (void)k;
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

static void remind_quiet_print(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    const struct remind_rules *r = rules;

    (void)k;
    if (r->quiet_from == r->quiet_to)
        snprintf(out, n, "off");
    else
        snprintf(out, n, "%02d-%02d", r->quiet_from, r->quiet_to);
}

#define MR(f) POLICY_FIELD(struct remind_rules, f)

static const char remind_days_allowed[] = "days like 3d or 1w (0 to 365 days)";

static const struct policy_key remind_keys[] = {
    {"before", "3d", "the owner is reminded this long before the due date", remind_days_allowed,
     MR(before_days), 0, 365, NULL, policy_parse_days, policy_print_days, false},
    {"overdue_every", "7d", "and again this often once overdue", remind_days_allowed,
     MR(overdue_every_days), 0, 365, NULL, policy_parse_days, policy_print_days, false},
    {"escalate_after", "7d", "the facilitator is reminded after this long overdue",
     remind_days_allowed, MR(escalate_after_days), 0, 365, NULL, policy_parse_days,
     policy_print_days, false},
    {"budget", "3", "at most this many messages per person per ISO week", "a number from 1 to 100",
     MR(budget), 1, 100, NULL, policy_parse_count, policy_print_int, false},
    {"quiet", "20-08", "quiet hours in the person's zone, or off",
     "hours like 20-08 (from-to, 0 to 23, in the person's zone) or off",
     offsetof(struct remind_rules, quiet_from),
     POLICY_SPAN(struct remind_rules, quiet_from, quiet_to), 0, 0, NULL, remind_quiet,
     remind_quiet_print, false},
    {"working_days", "mon-fri", "days reminders may be sent", "days like mon-fri or mon,tue,thu",
     MR(working_days), 0, 0, NULL, policy_parse_weekdays, policy_print_weekdays, false},
    {"where", "email", "email, or tracker: a comment on the linked issue", "email or tracker",
     MR(where), 0, 0, remind_wheres, policy_parse_choice, policy_print_choice, false},
};

static const struct policy remind_engine =
    POLICY_OF("remind", remind_keys, struct remind_rules, 12);

void remind_policy_init(struct remind_policy *p)
{
    memset(p, 0, sizeof(*p));
    policy_init(&remind_engine, &p->def);
}

int remind_policy_set(struct remind_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err)
{
    return policy_set(&remind_engine, &p->def, p->teams, &p->names, key, value, where, err);
}

static json_t *remind_rules_json(const void *rules)
{
    const struct remind_rules *r = rules;

    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:s}", "before_days", r->before_days,
                     "overdue_every_days", r->overdue_every_days, "escalate_after_days",
                     r->escalate_after_days, "budget", r->budget, "quiet_from", r->quiet_from,
                     "quiet_to", r->quiet_to, "working_days", policy_weekdays_json(r->working_days),
                     "where", remind_wheres[r->where]);
}

char *remind_policy_json(const struct remind_policy *p)
{
    return policy_json_dump(json_pack(
        "{s:o, s:o}", "default", remind_rules_json(&p->def), "teams",
        policy_teams_json(&remind_engine, &p->def, p->teams, &p->names, remind_rules_json)));
}

void remind_policy_print(const struct remind_policy *p, FILE *out)
{
    policy_print(&remind_engine, &p->def, p->teams, &p->names, out);
}

const struct remind_policy_doc *remind_policy_docs(void)
{
    static struct remind_policy_doc docs[CL_ARRAY_LEN(remind_keys) + 1];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(remind_keys); i++)
        docs[i] = (struct remind_policy_doc){remind_keys[i].name, remind_keys[i].def,
                                             remind_keys[i].what};
    return docs;
}
