#include "closeloop/util/policy/digest_policy.h"

#include "closeloop/util/policy/policy.h"
#include "closeloop/util/policy/review_policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const digest_cadences[] = {"daily", "weekly", "monthly", "off", NULL};

static int digest_cadence_parse(enum digest_cadence *out, const char *v)
{
    size_t i;

    for (i = 0; digest_cadences[i] != NULL; i++)
        if (strcmp(v, digest_cadences[i]) == 0) {
            *out = (enum digest_cadence)i;
            return CL_OK;
        }
    return CL_EINVAL;
}

/* A section name: [A-Za-z0-9][A-Za-z0-9._-]{0,62}, like a team's. */
static bool digest_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 63)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || strchr("._-", c) == NULL))
            return false;
    }
    return true;
}

#define DP(f) POLICY_FIELD(struct digest_policy, f)

/* [digest] itself: no team overrides ([digest.team.NAME] is a chat channel, below). */
static const struct policy_key digest_keys[] = {
    {"cadence", "weekly", "how often managers get the digest", "daily, weekly, monthly or off",
     DP(cadence), 0, 0, digest_cadences, policy_parse_choice, policy_print_choice, false},
    {"day", "mon", "the weekly digest's day", "a day (mon, tue, wed, thu, fri, sat, sun)", DP(day),
     0, 0, NULL, policy_parse_weekday, policy_print_weekday, false},
    {"hour", "9", "hour, in the recipient's zone", "an hour from 0 to 23", DP(hour), 0, 23, NULL,
     policy_parse_count, policy_print_int, false},
};

static const struct policy digest_engine = {
    "digest",      digest_keys, CL_ARRAY_LEN(digest_keys), sizeof(struct digest_policy),
    POLICY_NO_SET, 0,
};

void digest_policy_init(struct digest_policy *p)
{
    memset(p, 0, sizeof(*p));
    policy_init(&digest_engine, p);
}

static struct digest_extra *digest_extra(struct digest_policy *p, const char *name, size_t len)
{
    int i;

    for (i = 0; i < p->nextras; i++)
        if (strlen(p->extras[i].name) == len && strncmp(p->extras[i].name, name, len) == 0)
            return &p->extras[i];
    if (p->nextras == DIGEST_POLICY_EXTRAS)
        return NULL;
    memset(&p->extras[p->nextras], 0, sizeof(p->extras[0]));
    memcpy(p->extras[p->nextras].name, name, len);
    snprintf(p->extras[p->nextras].scope, sizeof(p->extras[0].scope), "all");
    snprintf(p->extras[p->nextras].timezone, sizeof(p->extras[0].timezone), "UTC");
    return &p->extras[p->nextras++];
}

static int digest_set_extra(struct digest_extra *x, const char *key, const char *v,
                            const char *where, struct cl_err *err)
{
    if (strcmp(key, "to") == 0) {
        if (!review_policy_address_ok(v, strlen(v)))
            return cl_fail(err, CL_EINVAL,
                           "%s: digest.extra.%s.to: \"%s\" is not an e-mail address", where,
                           x->name, v);
        snprintf(x->to, sizeof(x->to), "%s", v);
        return CL_OK;
    }
    if (strcmp(key, "scope") == 0) {
        if (strcmp(v, "all") != 0 &&
            (strncmp(v, "team:", 5) != 0 || !digest_name_ok(v + 5, strlen(v + 5))))
            return cl_fail(err, CL_EINVAL,
                           "%s: digest.extra.%s.scope: \"%s\" is not all or team:NAME", where,
                           x->name, v);
        snprintf(x->scope, sizeof(x->scope), "%s", v);
        return CL_OK;
    }
    if (strcmp(key, "cadence") == 0) {
        if (digest_cadence_parse(&x->cadence, v) != CL_OK)
            return cl_fail(err, CL_EINVAL,
                           "%s: digest.extra.%s.cadence: \"%s\" is not daily, weekly, monthly "
                           "or off",
                           where, x->name, v);
        x->cadence_set = 1;
        return CL_OK;
    }
    if (strcmp(key, "timezone") == 0) {
        if (!review_policy_zone_ok(v))
            return cl_fail(err, CL_EINVAL,
                           "%s: digest.extra.%s.timezone: unknown time zone \"%s\" (an IANA "
                           "name such as Europe/Berlin)",
                           where, x->name, v);
        snprintf(x->timezone, sizeof(x->timezone), "%s", v);
        return CL_OK;
    }
    if (strcmp(key, "chat") == 0) {
        if (v[0] != '\0' && !digest_name_ok(v, strlen(v)))
            return cl_fail(err, CL_EINVAL, "%s: digest.extra.%s.chat: \"%s\" is not a channel name",
                           where, x->name, v);
        snprintf(x->chat, sizeof(x->chat), "%s", v);
        return CL_OK;
    }
    return cl_fail(err, CL_EINVAL,
                   "%s: unknown [digest.extra.%s] key \"%s\": to, scope, cadence, timezone, chat",
                   where, x->name, key);
}

static int digest_set_team(struct digest_policy *p, const char *team, size_t len, const char *key,
                           const char *v, const char *where, struct cl_err *err)
{
    int i;

    if (strcmp(key, "chat") != 0)
        return cl_fail(err, CL_EINVAL, "%s: unknown [digest.team.%.*s] key \"%s\": chat", where,
                       (int)len, team, key);
    if (v[0] != '\0' && !digest_name_ok(v, strlen(v)))
        return cl_fail(err, CL_EINVAL, "%s: digest.team.%.*s.chat: \"%s\" is not a channel name",
                       where, (int)len, team, v);
    for (i = 0; i < p->nteams; i++)
        if (strlen(p->team[i]) == len && strncmp(p->team[i], team, len) == 0)
            break;
    if (i == p->nteams) {
        if (p->nteams == DIGEST_POLICY_TEAMS)
            return cl_fail(err, CL_EINVAL, "%s: more than %d [digest.team.*] sections", where,
                           DIGEST_POLICY_TEAMS);
        memcpy(p->team[i], team, len);
        p->team[i][len] = '\0';
        p->nteams++;
    }
    snprintf(p->team_chat[i], sizeof(p->team_chat[i]), "%s", v);
    return CL_OK;
}

int digest_policy_set(struct digest_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err)
{
    bool extra = strncmp(key, "extra.", 6) == 0;
    bool team = strncmp(key, "team.", 5) == 0;
    const char *name = key + (extra ? 6 : 5);
    const char *dot = strrchr(key, '.');
    struct digest_extra *x;

    if (!extra && !team)
        return policy_set(&digest_engine, p, NULL, NULL, key, value, where, err);
    if (dot == NULL || dot < name || !digest_name_ok(name, (size_t)(dot - name)))
        return cl_fail(err, CL_EINVAL,
                       "%s: [digest.%s...]: a section name is letters, digits, '.', '_' or '-' "
                       "(at most 63)",
                       where, extra ? "extra" : "team");
    if (team)
        return digest_set_team(p, name, (size_t)(dot - name), dot + 1, value, where, err);
    x = digest_extra(p, name, (size_t)(dot - name));
    if (x == NULL)
        return cl_fail(err, CL_EINVAL, "%s: more than %d [digest.extra.*] sections", where,
                       DIGEST_POLICY_EXTRAS);
    return digest_set_extra(x, dot + 1, value, where, err);
}

int digest_policy_validate(const struct digest_policy *p, struct cl_err *err)
{
    int i;

    for (i = 0; i < p->nextras; i++)
        if (p->extras[i].to[0] == '\0')
            return cl_fail(err, CL_EINVAL,
                           "[digest.extra.%s]: \"to\" (an e-mail address) is "
                           "required",
                           p->extras[i].name);
    return CL_OK;
}

char *digest_policy_json(const struct digest_policy *p)
{
    json_t *o = json_object();
    json_t *extras = json_array();
    json_t *chats = json_object();
    char *s;
    int i;

    json_object_set_new(o, "cadence", json_string(digest_cadences[p->cadence]));
    json_object_set_new(o, "day", json_integer(p->day));
    json_object_set_new(o, "hour", json_integer(p->hour));
    for (i = 0; i < p->nextras; i++) {
        const struct digest_extra *x = &p->extras[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "name", x->name, "to", x->to, "scope",
                              x->scope, "timezone", x->timezone);

        if (x->cadence_set)
            json_object_set_new(e, "cadence", json_string(digest_cadences[x->cadence]));
        if (x->chat[0] != '\0')
            json_object_set_new(e, "chat", json_string(x->chat));
        json_array_append_new(extras, e);
    }
    for (i = 0; i < p->nteams; i++)
        if (p->team_chat[i][0] != '\0')
            json_object_set_new(chats, p->team[i], json_string(p->team_chat[i]));
    json_object_set_new(o, "extras", extras);
    json_object_set_new(o, "team_chat", chats);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

void digest_policy_print(const struct digest_policy *p, FILE *out)
{
    int i;

    policy_print(&digest_engine, p, NULL, NULL, out);
    for (i = 0; i < p->nextras; i++) {
        const struct digest_extra *x = &p->extras[i];

        fprintf(out, "digest.extra.%s.to = %s\ndigest.extra.%s.scope = %s\n", x->name, x->to,
                x->name, x->scope);
        if (x->cadence_set)
            fprintf(out, "digest.extra.%s.cadence = %s\n", x->name, digest_cadences[x->cadence]);
        fprintf(out, "digest.extra.%s.timezone = %s\n", x->name, x->timezone);
        if (x->chat[0] != '\0')
            fprintf(out, "digest.extra.%s.chat = %s\n", x->name, x->chat);
    }
    for (i = 0; i < p->nteams; i++)
        fprintf(out, "digest.team.%s.chat = %s\n", p->team[i], p->team_chat[i]);
}
