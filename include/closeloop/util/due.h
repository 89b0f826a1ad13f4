/* due: the due-date policy, the default due date an action gets from its priority (and,
 * optionally, its kind) when it is created without one. closeloopd's [due] section sets
 * it: "P1 = 14d", "preventive.P1 = 30d", "P4 = none". A kind's value beats the
 * priority's. The struct is embedded in struct conf (copied on reload); no allocation. */
#ifndef CLOSELOOP_DUE_H
#define CLOSELOOP_DUE_H

#include "closeloop/util/cl.h"

#include <stdio.h>

#define DUE_PRIORITIES 5    /* P0..P4 */
#define DUE_KINDS      2    /* corrective, preventive */
#define DUE_MAX_DAYS   3650 /* the longest a policy may give */
#define DUE_NONE       (-1) /* no due date from the policy */
#define DUE_UNSET      (-2) /* a kind's value that is not set: the priority's applies */

struct due_policy {
    int days[DUE_PRIORITIES];                 /* days after creation, or DUE_NONE */
    int kind_days[DUE_KINDS][DUE_PRIORITIES]; /* or DUE_UNSET */
};

/* The built-in policy: P0 7 days, P1 14, P2 30, P3 60, P4 none; no kind overrides. */
void due_policy_init(struct due_policy *p);

/* Sets one key ("P1", "corrective.P0") to a value ("14d", "2w", "none"; 0 to
 * DUE_MAX_DAYS days). CL_EINVAL with a message naming `where` and the key otherwise. */
int due_policy_set(struct due_policy *p, const char *key, const char *value, const char *where,
                   struct cl_err *err);

/* The days the policy gives an action of this kind ("corrective"/"preventive") and
 * priority ("P0".."P4"), or DUE_NONE (also for a kind or priority it does not know). */
int due_policy_days(const struct due_policy *p, const char *kind, const char *priority);

/* The policy resolved for SQL: {"corrective":{"P0":7,...,"P4":null},"preventive":{...}}.
 * Caller frees. */
char *due_policy_json(const struct due_policy *p);

/* The policy, one line per key that has a value, as the flat keys conf_set() takes
 * ("due.P1 = 14d", "due.preventive.P3 = none"). */
void due_policy_print(const struct due_policy *p, FILE *out);

#endif
