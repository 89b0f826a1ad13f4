#include "closeloop/util/policy/policy.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const policy_days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

void *policy_field(void *rules, const struct policy_key *k)
{
    return (char *)rules + k->offset;
}

const void *policy_cfield(const void *rules, const struct policy_key *k)
{
    return (const char *)rules + k->offset;
}

static unsigned *policy_set_bits(const struct policy *pol, void *rules)
{
    return (unsigned *)(void *)((char *)rules + pol->set_offset);
}

static unsigned policy_set_of(const struct policy *pol, const void *rules)
{
    return *(const unsigned *)(const void *)((const char *)rules + pol->set_offset);
}

/* Parses into k's field, or leaves it as it was: a bad value writes nothing. */
static int policy_parse(void *rules, const struct policy_key *k, const char *value)
{
    unsigned char saved[POLICY_FIELD_MAX];
    void *f = policy_field(rules, k);

    assert(k->size <= sizeof(saved));
    memcpy(saved, f, k->size);
    if (k->parse(rules, k, value) == CL_OK)
        return CL_OK;
    memcpy(f, saved, k->size);
    return CL_EINVAL;
}

void policy_init(const struct policy *pol, void *rules)
{
    size_t i;

    assert(pol->nkeys <= 32);
    for (i = 0; i < pol->nkeys; i++) {
        int rc = policy_parse(rules, &pol->keys[i], pol->keys[i].def);

        assert(rc == CL_OK); /* the defaults are ours */
        (void)rc;
    }
}

const struct policy_key *policy_key_find(const struct policy *pol, const char *name)
{
    size_t i;

    for (i = 0; i < pol->nkeys; i++)
        if (strcmp(pol->keys[i].name, name) == 0)
            return &pol->keys[i];
    return NULL;
}

static int policy_fail_unknown(const struct policy *pol, const char *name, const char *where,
                               struct cl_err *err)
{
    char list[512] = "";
    size_t len = 0;
    size_t i;

    for (i = 0; i < pol->nkeys && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i > 0 ? ", " : "",
                                pol->keys[i].name);
    return cl_fail(err, CL_EINVAL, "%s: unknown [%s] key \"%s\": %s", where, pol->section, name,
                   list);
}

/* The rules of [SECTION.TEAM] (team[0..len)); a new team gets the next slot, zeroed. NULL:
 * no slot left, or no name that fits. */
static void *policy_team(const struct policy *pol, void *teams, struct policy_teams *names,
                         const char *team, size_t len)
{
    char *slot;
    int i;

    for (i = 0; i < names->n; i++)
        if (strlen(names->name[i]) == len && strncmp(names->name[i], team, len) == 0)
            return (char *)teams + (size_t)i * pol->rules_size;
    if (names->n == POLICY_TEAMS || len == 0 || len >= POLICY_NAME)
        return NULL;
    memcpy(names->name[names->n], team, len);
    names->name[names->n][len] = '\0';
    slot = (char *)teams + (size_t)names->n * pol->rules_size;
    memset(slot, 0, pol->rules_size);
    names->n++;
    return slot;
}

int policy_set(const struct policy *pol, void *def, void *teams, struct policy_teams *names,
               const char *key, const char *value, const char *where, struct cl_err *err)
{
    const char *dot = teams != NULL ? strrchr(key, '.') : NULL;
    const char *name = dot != NULL ? dot + 1 : key;
    const struct policy_key *k = policy_key_find(pol, name);
    int nteams = names != NULL ? names->n : 0;
    void *r;

    if (k == NULL)
        return policy_fail_unknown(pol, name, where, err);
    if (dot != NULL && k->default_only)
        return cl_fail(err, CL_EINVAL, "%s: %s is set in [%s] only", where, name, pol->section);
    r = dot == NULL ? def : policy_team(pol, teams, names, key, (size_t)(dot - key));
    if (r == NULL)
        return cl_fail(err, CL_EINVAL,
                       "%s: [%s.%.*s]: at most %d team sections, names under %d bytes", where,
                       pol->section, (int)(dot - key), key, POLICY_TEAMS, POLICY_NAME);
    if (policy_parse(r, k, value) != CL_OK) {
        if (names != NULL)
            names->n = nteams; /* a team this key would have begun is not kept */
        return cl_fail(err, CL_EINVAL, "%s: %s.%s: \"%s\" is not %s", where, pol->section, key,
                       value, k->allowed);
    }
    if (pol->set_offset != POLICY_NO_SET)
        *policy_set_bits(pol, r) |= 1u << (k - pol->keys);
    return CL_OK;
}

void policy_merge(const struct policy *pol, void *out, const void *def, const void *team)
{
    unsigned set = policy_set_of(pol, team);
    size_t i;

    memcpy(out, def, pol->rules_size);
    for (i = 0; i < pol->nkeys; i++)
        if (set & (1u << i))
            memcpy(policy_field(out, &pol->keys[i]), policy_cfield(team, &pol->keys[i]),
                   pol->keys[i].size);
}

static void policy_print_team(const struct policy *pol, const void *rules, const char *team,
                              FILE *out)
{
    char v[POLICY_VALUE_MAX];
    unsigned set = policy_set_of(pol, rules);
    size_t i;

    for (i = 0; i < pol->nkeys; i++) {
        if (!(set & (1u << i)))
            continue;
        pol->keys[i].print(v, sizeof(v), rules, &pol->keys[i]);
        fprintf(out, "%s.%s.%s = %s\n", pol->section, team, pol->keys[i].name, v);
    }
}

void policy_print(const struct policy *pol, const void *def, const void *teams,
                  const struct policy_teams *names, FILE *out)
{
    char v[POLICY_VALUE_MAX];
    size_t i;
    int t;

    for (i = 0; i < pol->nkeys; i++) {
        pol->keys[i].print(v, sizeof(v), def, &pol->keys[i]);
        fprintf(out, "%s.%-*s = %s\n", pol->section, pol->width, pol->keys[i].name, v);
    }
    for (t = 0; names != NULL && t < names->n; t++)
        policy_print_team(pol, (const char *)teams + (size_t)t * pol->rules_size, names->name[t],
                          out);
}

json_t *policy_teams_json(const struct policy *pol, const void *def, const void *teams,
                          const struct policy_teams *names, policy_json_fn rules_json)
{
    json_t *o = json_object();
    void *m = cl_malloc(pol->rules_size);
    int t;

    for (t = 0; t < names->n; t++) {
        policy_merge(pol, m, def, (const char *)teams + (size_t)t * pol->rules_size);
        json_object_set_new(o, names->name[t], rules_json(m));
    }
    free(m);
    return o;
}

char *policy_json_dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

    json_decref(o);
    if (s == NULL)
        abort(); /* only when out of memory */
    return s;
}

/* "N" + unit (or big: times factor) -> an int in k->min..k->max. */
static int policy_amount(void *rules, const struct policy_key *k, const char *v, char unit,
                         char big, long factor)
{
    long x;

    if (cl_parse_amount(&x, v, unit, big, factor, k->min, k->max) != CL_OK)
        return CL_EINVAL;
    *(int *)policy_field(rules, k) = (int)x;
    return CL_OK;
}

int policy_parse_days(void *rules, const struct policy_key *k, const char *value)
{
    return policy_amount(rules, k, value, 'd', 'w', 7);
}

int policy_parse_hour(void *rules, const struct policy_key *k, const char *value)
{
    return policy_amount(rules, k, value, 'h', 'h', 1);
}

int policy_parse_minutes(void *rules, const struct policy_key *k, const char *value)
{
    return policy_amount(rules, k, value, 'm', 'h', 60);
}

int policy_parse_count(void *rules, const struct policy_key *k, const char *value)
{
    long x;

    if (cl_parse_long(&x, value, k->min, k->max) != CL_OK)
        return CL_EINVAL;
    *(int *)policy_field(rules, k) = (int)x;
    return CL_OK;
}

int policy_weekday(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(policy_days); i++)
        if (len == 3 && strncmp(s, policy_days[i], 3) == 0)
            return (int)i + 1;
    return 0;
}

const char *policy_weekday_name(int day)
{
    return day >= 1 && day <= 7 ? policy_days[day - 1] : "";
}

/* "mon-fri": a range, Monday first. */
static unsigned policy_weekday_range(const char *v)
{
    int a = policy_weekday(v, 3);
    int b = policy_weekday(v + 4, 3);
    unsigned mask = 0;
    int d;

    if (a == 0 || b == 0 || a > b)
        return 0;
    for (d = a; d <= b; d++)
        mask |= 1u << d;
    return mask;
}

/* "mon,tue,thu": a list; 0 when a day is not one. */
static unsigned policy_weekday_list(const char *v)
{
    unsigned mask = 0;

    while (*v != '\0') {
        size_t len = strcspn(v, ",");
        int d = policy_weekday(v, len);

        if (d == 0)
            return 0;
        mask |= 1u << d;
        v += len + (v[len] == ',');
    }
    return mask;
}

int policy_parse_weekdays(void *rules, const struct policy_key *k, const char *value)
{
    unsigned mask = strlen(value) == 7 && value[3] == '-' ? policy_weekday_range(value)
                                                          : policy_weekday_list(value);

    if (mask == 0)
        return CL_EINVAL;
    *(unsigned *)policy_field(rules, k) = mask;
    return CL_OK;
}

int policy_parse_weekday(void *rules, const struct policy_key *k, const char *value)
{
    int d = policy_weekday(value, strlen(value));

    if (d == 0)
        return CL_EINVAL;
    *(int *)policy_field(rules, k) = d;
    return CL_OK;
}

int policy_parse_choice(void *rules, const struct policy_key *k, const char *value)
{
    int i;

    assert(k->size == sizeof(int));
    for (i = 0; k->words[i] != NULL; i++)
        if (strcmp(value, k->words[i]) == 0) {
            *(int *)policy_field(rules, k) = i;
            return CL_OK;
        }
    return CL_EINVAL;
}

void policy_print_days(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%dd", *(const int *)policy_cfield(rules, k));
}

void policy_print_int(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%d", *(const int *)policy_cfield(rules, k));
}

void policy_print_minutes(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%dm", *(const int *)policy_cfield(rules, k));
}

void policy_print_weekdays(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    unsigned mask = *(const unsigned *)policy_cfield(rules, k);
    size_t len = 0;
    int d;

    out[0] = '\0';
    for (d = 1; d <= 7 && len < n; d++)
        if (mask & (1u << d))
            len += (size_t)snprintf(out + len, n - len, "%s%s", len > 0 ? "," : "",
                                    policy_days[d - 1]);
}

void policy_print_weekday(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%s", policy_weekday_name(*(const int *)policy_cfield(rules, k)));
}

void policy_print_choice(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%s", k->words[*(const int *)policy_cfield(rules, k)]);
}

json_t *policy_weekdays_json(unsigned mask)
{
    json_t *days = json_array();
    int d;

    for (d = 1; d <= 7; d++)
        if (mask & (1u << d))
            json_array_append_new(days, json_integer(d));
    return days;
}
