/* digest_policy: who gets a managers' digest besides the managers and facilitators, and
 * when. closeloopd's [digest] section sets the defaults, [digest.extra.NAME] adds a
 * recipient, [digest.team.NAME] names a team's chat channel:
 *
 *   [digest]
 *   cadence = weekly        daily | weekly | monthly | off (people.digest_cadence beats it)
 *   day = mon               the weekly digest's day (monthly: the 1st)
 *   hour = 9                in the recipient's zone
 *
 *   [digest.extra.vp]
 *   to = vp@example.org
 *   scope = all             or team:NAME
 *   cadence = monthly       default: [digest] cadence
 *   timezone = UTC
 *   chat = leads            a [chat.NAME] channel (optional)
 *
 *   [digest.team.sre]
 *   chat = sre-channel
 *
 * Embedded in struct conf (copied on reload); no allocation. The SQL of
 * sql/functions/digests.sql reads it as digest_policy_json(). */
#ifndef CLOSELOOP_DIGEST_POLICY_H
#define CLOSELOOP_DIGEST_POLICY_H

#include "closeloop/util/cl.h"

#include <stdio.h>

#define DIGEST_POLICY_EXTRAS 32 /* [digest.extra.NAME] sections */
#define DIGEST_POLICY_TEAMS  32 /* [digest.team.NAME] sections */

enum digest_cadence { DIGEST_DAILY, DIGEST_WEEKLY, DIGEST_MONTHLY, DIGEST_OFF };

struct digest_extra {
    char name[64];
    char to[255];
    char scope[70]; /* "all" or "team:NAME" */
    enum digest_cadence cadence;
    int cadence_set; /* 0: the [digest] default */
    char timezone[65];
    char chat[64];
};

struct digest_policy {
    enum digest_cadence cadence;
    int day;  /* ISO 1 (Monday) .. 7 */
    int hour; /* 0..23 */
    struct digest_extra extras[DIGEST_POLICY_EXTRAS];
    int nextras;
    char team[DIGEST_POLICY_TEAMS][64];
    char team_chat[DIGEST_POLICY_TEAMS][64];
    int nteams;
};

/* weekly, Monday, 9; no extras. */
void digest_policy_init(struct digest_policy *p);

/* Sets "KEY" ([digest]), "extra.NAME.KEY" or "team.NAME.KEY"; CL_EINVAL with a message
 * naming `where` (file:line), the key and what is allowed. */
int digest_policy_set(struct digest_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err);

/* Every extra recipient has an address (CL_EINVAL naming it otherwise). */
int digest_policy_validate(const struct digest_policy *p, struct cl_err *err);

/* {"cadence", "day", "hour", "extras": [{"name", "to", "scope", "cadence"?, "timezone",
 * "chat"?}], "team_chat": {"TEAM": "CHANNEL"}}. Caller frees. */
char *digest_policy_json(const struct digest_policy *p);

/* One "digest.KEY = value" line per key (defaults included), then the sections'. */
void digest_policy_print(const struct digest_policy *p, FILE *out);

#endif
