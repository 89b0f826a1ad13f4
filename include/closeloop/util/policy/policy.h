/* policy: the engine behind closeloopd's sectioned policies. A policy is a table of keys
 * over a "rules" struct of its own: [SECTION] sets the default rules and [SECTION.TEAM]
 * sections override single keys for one team, which inherits the others:
 *
 *   [remind]             key = value        -> the default rules
 *   [remind.payments]    key = value        -> set "payments.key": that team's rules
 *
 * Each key names the field it fills (offset and size in the rules struct), the function
 * that parses a value into it and the one that prints it back. The rules struct has an
 * `unsigned set` with bit i for key i (which keys a section set); the engine keeps it.
 * Team names live in a struct policy_teams next to an array of POLICY_TEAMS rules.
 *
 * Nothing here allocates, except policy_teams_json() and policy_json_dump(): the policies
 * are embedded in struct conf and copied on reload. The tables are static and read-only. */
#ifndef CLOSELOOP_POLICY_H
#define CLOSELOOP_POLICY_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define POLICY_TEAMS     32   /* [SECTION.TEAM] sections per policy */
#define POLICY_NAME      64   /* bytes of a team name, with its NUL */
#define POLICY_FIELD_MAX 1024 /* bytes of one key's field */
#define POLICY_VALUE_MAX 1024 /* bytes of one key's printed value */
#define POLICY_NO_SET    ((size_t)-1)

/* Bytes from field `first` to the end of field `last` of `type` (a key filling two fields,
 * such as a list and its count). */
#define POLICY_SPAN(type, first, last)                                                             \
    (offsetof(type, last) + sizeof(((type *)0)->last) - offsetof(type, first))

/* offset, size: the two fields of a key table entry for field `f` of `type`. */
#define POLICY_FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)

struct policy_key;

/* Parses `value` into k's field of `rules`: CL_OK, or CL_EINVAL when it is not allowed (the
 * engine then puts the field back as it was). */
typedef int (*policy_parse_fn)(void *rules, const struct policy_key *k, const char *value);
/* Writes k's field of `rules` into out[0..n) as text the parse function reads back. */
typedef void (*policy_print_fn)(char *out, size_t n, const void *rules, const struct policy_key *k);
/* One section's rules as JSON (a new reference). */
typedef json_t *(*policy_json_fn)(const void *rules);

struct policy_key {
    const char *name;         /* "working_days" */
    const char *def;          /* the built-in value, as text */
    const char *what;         /* one line for the documentation */
    const char *allowed;      /* for messages: "\"v\" is not ALLOWED" */
    size_t offset;            /* of the field in the rules struct */
    size_t size;              /* of the field: what a team's value copies over the default */
    long min, max;            /* bounds for the numeric parsers below */
    const char *const *words; /* policy_parse_choice(): the words, NULL-terminated */
    policy_parse_fn parse;
    policy_print_fn print;
    bool default_only; /* [SECTION] only: no team may set it */
};

struct policy {
    const char *section; /* "review" */
    const struct policy_key *keys;
    size_t nkeys;      /* at most 32 (the set bits) */
    size_t rules_size; /* sizeof the rules struct */
    size_t set_offset; /* of its `unsigned set`, or POLICY_NO_SET (no team sections) */
    int width;         /* "SECTION.%-*s = value": the key column of policy_print() */
};

/* The struct policy of `section` whose rules struct `type` has an `unsigned set`. */
#define POLICY_OF(section, keys, type, width)                                                      \
    {                                                                                              \
        (section), (keys), CL_ARRAY_LEN(keys), sizeof(type), offsetof(type, set), (width)          \
    }

struct policy_teams {
    char name[POLICY_TEAMS][POLICY_NAME];
    int n;
};

/* Fills `rules` (zeroed by the caller) with every key's default; its set bits stay 0. */
void policy_init(const struct policy *pol, void *rules);

/* The key called `name`, or NULL. */
const struct policy_key *policy_key_find(const struct policy *pol, const char *name);

/* Sets "KEY" in `def` or "TEAM.KEY" in that team's rules (teams[i] for names->name[i], a new
 * slot, zeroed, for a new team), and its set bit. `teams` is an array of POLICY_TEAMS rules
 * (NULL: the policy has no team sections). CL_EINVAL naming `where` (file:line) for an
 * unknown key, a bad value, a default-only key in a team or one team too many; nothing is
 * changed then. */
int policy_set(const struct policy *pol, void *def, void *teams, struct policy_teams *names,
               const char *key, const char *value, const char *where, struct cl_err *err);

/* out = def with the keys team set copied over it (out, def and team are rules structs). */
void policy_merge(const struct policy *pol, void *out, const void *def, const void *team);

/* "SECTION.KEY = value" for every key of def, then "SECTION.TEAM.KEY = value" for each key a
 * team set. teams and names may be NULL (no team sections). */
void policy_print(const struct policy *pol, const void *def, const void *teams,
                  const struct policy_teams *names, FILE *out);

/* {"TEAM": rules_json(merged rules), ...}: each team complete. A new reference. */
json_t *policy_teams_json(const struct policy *pol, const void *def, const void *teams,
                          const struct policy_teams *names, policy_json_fn rules_json);

/* Compact, sorted text of o, which it takes (decref); aborts only when out of memory. The
 * caller frees the text. */
char *policy_json_dump(json_t *o);

/* Shared value parsers and printers for the key tables. days: "7d", "2w" (k->min..max days);
 * hour: "15" or "15h" (k->min..max); minutes: "45m", "1h", "90" (k->min..max); count: a plain
 * number (k->min..max); all into an int. weekdays: "mon-fri" or "mon,tue,thu" into an
 * unsigned, bit d for ISO day d; weekday: "tue" into an int 1..7; choice: one of k->words
 * into an int (or an enum) holding its index. */
int policy_parse_days(void *rules, const struct policy_key *k, const char *value);
int policy_parse_hour(void *rules, const struct policy_key *k, const char *value);
int policy_parse_minutes(void *rules, const struct policy_key *k, const char *value);
int policy_parse_count(void *rules, const struct policy_key *k, const char *value);
int policy_parse_weekdays(void *rules, const struct policy_key *k, const char *value);
int policy_parse_weekday(void *rules, const struct policy_key *k, const char *value);
int policy_parse_choice(void *rules, const struct policy_key *k, const char *value);
void policy_print_days(char *out, size_t n, const void *rules, const struct policy_key *k);
void policy_print_int(char *out, size_t n, const void *rules, const struct policy_key *k);
void policy_print_minutes(char *out, size_t n, const void *rules, const struct policy_key *k);
void policy_print_weekdays(char *out, size_t n, const void *rules, const struct policy_key *k);
void policy_print_weekday(char *out, size_t n, const void *rules, const struct policy_key *k);
void policy_print_choice(char *out, size_t n, const void *rules, const struct policy_key *k);

/* "mon".."sun" (s[0..len)) -> 1..7, else 0. */
int policy_weekday(const char *s, size_t len);
/* 1..7 -> "mon".."sun" (static). */
const char *policy_weekday_name(int day);
/* [1,2,3,4,5] for the bits 1..7 of a weekday mask. A new reference. */
json_t *policy_weekdays_json(unsigned mask);

/* The field of k in rules. */
void *policy_field(void *rules, const struct policy_key *k);
const void *policy_cfield(const void *rules, const struct policy_key *k);

#endif
