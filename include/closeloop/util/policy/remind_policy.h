/* remind_policy: when owners and facilitators are reminded of their actions. closeloopd's
 * [remind] section sets the default and [remind.TEAM] sections override single keys for
 * one team (the team of the person reminded), like [review.TEAM]:
 *
 *   [remind]
 *   before = 3d            the owner is reminded this long before the due date
 *   overdue_every = 7d     and again this often once overdue
 *   escalate_after = 7d    the facilitator is reminded after this long overdue
 *   budget = 3             at most this many messages per person per ISO week
 *   quiet = 20-08          quiet hours in the person's zone; "off" for none
 *   working_days = mon-fri or a list: mon,tue,thu
 *   where = email          email | tracker (a comment on the linked issue)
 *
 * The struct is embedded in struct conf (copied on reload); no allocation. The SQL of
 * sql/functions/reminders.sql reads it as remind_policy_json(). */
#ifndef CLOSELOOP_REMIND_POLICY_H
#define CLOSELOOP_REMIND_POLICY_H

#include "closeloop/util/cl.h"
#include "closeloop/util/policy/policy.h"

#include <stdio.h>

#define REMIND_POLICY_TEAMS POLICY_TEAMS /* [remind.TEAM] sections */

enum remind_where { REMIND_WHERE_EMAIL, REMIND_WHERE_TRACKER };

/* One section's values; `set` says which keys it set (a team inherits the others). */
struct remind_rules {
    unsigned set;
    int before_days, overdue_every_days, escalate_after_days, budget;
    int quiet_from, quiet_to; /* hours 0..23; equal: no quiet hours */
    unsigned working_days;    /* bit d for ISO day d (1 Monday .. 7 Sunday) */
    enum remind_where where;
};

struct remind_policy {
    struct remind_rules def;
    struct remind_rules teams[REMIND_POLICY_TEAMS]; /* teams[i] is [remind.names.name[i]] */
    struct policy_teams names;
};

/* The built-in policy (the values in the comment above). */
void remind_policy_init(struct remind_policy *p);

/* Sets "KEY" (the default) or "TEAM.KEY" (a team's override); CL_EINVAL with a message
 * naming `where`, the key and what is allowed. */
int remind_policy_set(struct remind_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err);

/* {"default": RULES, "teams": {"TEAM": RULES (complete)}} for SQL. Caller frees. */
char *remind_policy_json(const struct remind_policy *p);

/* One "remind.KEY = value" line per key (defaults included), then the teams'. */
void remind_policy_print(const struct remind_policy *p, FILE *out);

/* The keys, NULL-terminated, with their defaults and a one-line description each. */
struct remind_policy_doc {
    const char *key;
    const char *def;
    const char *what;
};
const struct remind_policy_doc *remind_policy_docs(void);

#endif
