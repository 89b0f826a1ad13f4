/* review_policy: when the close-the-loop review of an incident is scheduled, and the
 * recurring backlog review of a team. closeloopd's [review] section sets the default and
 * [review.TEAM] sections override single keys for one team:
 *
 *   [review]
 *   grace = 7d              after the latest open due date
 *   min = 14d               bounds, counted from the incident's start
 *   max = 60d
 *   hour = 15               in the facilitator's time zone (people.review_hour beats it)
 *   duration = 45m
 *   working_days = mon-fri  or a list: mon,tue,thu
 *   holidays = 2026-12-25,2027-01-01
 *   timezone = UTC          for incidents without a facilitator
 *   backlog = off           weekly | biweekly: a recurring backlog review per team
 *   backlog_day = tue
 *   backlog_hour = 10
 *   at_risk = 7d            the backlog's "at risk": due within this and not started
 *   summary_to = a@x.org    who gets every held review's summary (comma list)
 *   organizer =             ORGANIZER of invitations; empty: the facilitator
 *
 * The struct is embedded in struct conf (copied on reload); no allocation. The SQL of
 * sql/functions/reviews.sql reads it as review_policy_json(). */
#ifndef CLOSELOOP_REVIEW_POLICY_H
#define CLOSELOOP_REVIEW_POLICY_H

#include "closeloop/util/cl.h"
#include "closeloop/util/policy/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define REVIEW_POLICY_TEAMS    POLICY_TEAMS /* [review.TEAM] sections */
#define REVIEW_POLICY_HOLIDAYS 32           /* dates per section */
#define REVIEW_POLICY_LIST     512          /* bytes of an address list */

enum review_backlog { REVIEW_BACKLOG_OFF, REVIEW_BACKLOG_WEEKLY, REVIEW_BACKLOG_BIWEEKLY };

/* One section's values; `set` says which keys it set (a team inherits the others). */
struct review_rules {
    unsigned set;
    int grace_days, min_days, max_days, hour, duration_minutes;
    unsigned working_days; /* bit d for ISO day d (1 Monday .. 7 Sunday) */
    char holidays[REVIEW_POLICY_HOLIDAYS][11];
    int nholidays;
    char timezone[65];
    enum review_backlog backlog;
    int backlog_day, backlog_hour, at_risk_days;
    char summary_to[REVIEW_POLICY_LIST];
    char organizer[256]; /* [review] only: a team's is never set nor read */
};

struct review_policy {
    struct review_rules def;
    struct review_rules teams[REVIEW_POLICY_TEAMS]; /* teams[i] is [review.names.name[i]] */
    struct policy_teams names;
};

/* The built-in policy (the values in the comment above; backlog off; no holidays). */
void review_policy_init(struct review_policy *p);

/* Sets "KEY" (the default) or "TEAM.KEY" (a team's override) to a value; CL_EINVAL with a
 * message naming `where`, the key and what is allowed. */
int review_policy_set(struct review_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err);

/* {"default": {...}, "teams": {"TEAM": {... complete}}, "organizer": ""} for SQL. Caller
 * frees. */
char *review_policy_json(const struct review_policy *p);

/* One "review.KEY = value" line per key set (defaults included), then the teams'. */
void review_policy_print(const struct review_policy *p, FILE *out);

/* The keys, NULL-terminated, with a one-line description each (documentation). */
struct review_policy_doc {
    const char *key;
    const char *def;
    const char *what;
};
const struct review_policy_doc *review_policy_docs(void);

/* Whether zone is an IANA name the system's tz database has ("UTC" always). */
bool review_policy_zone_ok(const char *zone);
/* Whether s[0..len) is one plain e-mail address (local@domain.tld, nothing to quote). */
bool review_policy_address_ok(const char *s, size_t len);

#endif
