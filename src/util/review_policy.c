#include "closeloop/util/review_policy.h"

#include "closeloop/util/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum review_kind {
    RK_DAYS,     /* "7d", "2w": 0..3650 days */
    RK_HOUR,     /* 0..23 */
    RK_MINUTES,  /* "45m", "1h", "90": 5..480 */
    RK_WEEKDAYS, /* "mon-fri", "mon,tue,thu" */
    RK_WEEKDAY,  /* "tue" */
    RK_DATES,    /* "2026-12-25,2027-01-01" */
    RK_ZONE,     /* an IANA name the system knows */
    RK_BACKLOG,  /* off | weekly | biweekly */
    RK_LIST,     /* comma list of e-mail addresses */
    RK_ORGANIZER /* one address or empty; the default section only */
};

struct review_key {
    const char *key;
    enum review_kind kind;
    size_t offset; /* in struct review_rules; unused for the organizer */
    const char *def;
    const char *what;
};

#define RR(f) offsetof(struct review_rules, f)

static const struct review_key review_keys[] = {
    {"grace", RK_DAYS, RR(grace_days), "7d", "after the latest open due date"},
    {"min", RK_DAYS, RR(min_days), "14d", "earliest, after the incident started"},
    {"max", RK_DAYS, RR(max_days), "60d", "latest, after the incident started"},
    {"hour", RK_HOUR, RR(hour), "15", "hour of the meeting, in the facilitator's zone"},
    {"duration", RK_MINUTES, RR(duration_minutes), "45m", "length of the meeting"},
    {"working_days", RK_WEEKDAYS, RR(working_days), "mon-fri", "days a review may fall on"},
    {"holidays", RK_DATES, RR(holidays), "", "dates skipped (YYYY-MM-DD, comma list)"},
    {"timezone", RK_ZONE, RR(timezone), "UTC", "zone for incidents without a facilitator"},
    {"backlog", RK_BACKLOG, RR(backlog), "off", "recurring backlog review: off|weekly|biweekly"},
    {"backlog_day", RK_WEEKDAY, RR(backlog_day), "tue", "day of the backlog review"},
    {"backlog_hour", RK_HOUR, RR(backlog_hour), "10", "hour of the backlog review"},
    {"at_risk", RK_DAYS, RR(at_risk_days), "7d", "backlog: due within this and not started"},
    {"summary_to", RK_LIST, RR(summary_to), "", "addresses every review summary goes to"},
    {"organizer", RK_ORGANIZER, 0, "", "ORGANIZER of invitations; empty: the facilitator"},
};

static const char *const review_days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const review_backlogs[] = {"off", "weekly", "biweekly"};

static const struct review_key *review_key_find(const char *key)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++)
        if (strcmp(review_keys[i].key, key) == 0)
            return &review_keys[i];
    return NULL;
}

/* "mon".."sun" -> 1..7, else 0. */
static int review_day(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(review_days); i++)
        if (len == 3 && strncmp(s, review_days[i], 3) == 0)
            return (int)i + 1;
    return 0;
}

/* "N" + unit (d/w or m/h) -> the number in the smaller unit; CL_EINVAL otherwise. */
static int review_amount(int *out, const char *v, char unit, char big, int factor, long lo, long hi)
{
    long x;

    if (cl_parse_amount(&x, v, unit, big, factor, lo, hi) != CL_OK)
        return CL_EINVAL;
    *out = (int)x;
    return CL_OK;
}

static int review_weekdays(unsigned *out, const char *v)
{
    unsigned mask = 0;
    const char *p = v;

    if (strlen(v) == 7 && v[3] == '-') {
        int a = review_day(v, 3);
        int b = review_day(v + 4, 3);
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
        int d = review_day(p, len);

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

static bool review_date_ok(const char *s, size_t len)
{
    size_t i;

    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (i = 0; i < len; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    return (s[5] == '0' || (s[5] == '1' && s[6] <= '2')) && !(s[5] == '0' && s[6] == '0') &&
           s[8] <= '3' && !(s[8] == '0' && s[9] == '0');
}

static int review_dates(struct review_rules *r, const char *v)
{
    const char *p = v;

    r->nholidays = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (!review_date_ok(p, len) || r->nholidays == REVIEW_POLICY_HOLIDAYS)
            return CL_EINVAL;
        memcpy(r->holidays[r->nholidays], p, 10);
        r->holidays[r->nholidays++][10] = '\0';
        p += len + (p[len] == ',');
    }
    return CL_OK;
}

/* An IANA zone name the system's tz database has (PostgreSQL has its own copy and checks
 * again when it schedules). */
bool review_policy_zone_ok(const char *v)
{
    char path[160];
    struct stat st;
    size_t i;

    if (strcmp(v, "UTC") == 0)
        return true;
    if (v[0] == '\0' || strlen(v) > 64 || strstr(v, "..") != NULL || v[0] == '/')
        return false;
    for (i = 0; v[i] != '\0'; i++)
        if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') ||
              (v[i] >= '0' && v[i] <= '9') || strchr("/_+-", v[i]) != NULL))
            return false;
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool review_policy_address_ok(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    size_t i;

    if (len == 0 || len > 254 || at == NULL || at == s ||
        memchr(at + 1, '.', len - (size_t)(at - s) - 1) == NULL)
        return false;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == ',' || s[i] == '<' || s[i] == '>' ||
            s[i] == '"' || (s + i != at && s[i] == '@'))
            return false;
    return s[len - 1] != '.' && s[len - 1] != '@';
}

static int review_list(char *out, size_t n, const char *v)
{
    struct buf b;
    const char *p = v;
    int rc = CL_OK;

    buf_init(&b);

    while (*p != '\0' && rc == CL_OK) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t l = len;

        while (l > 0 && *s == ' ') {
            s++;
            l--;
        }
        while (l > 0 && s[l - 1] == ' ')
            l--;
        if (!review_policy_address_ok(s, l))
            rc = CL_EINVAL;
        else
            buf_printf(&b, "%s%.*s", b.len > 0 ? "," : "", (int)l, s);
        p += len + (p[len] == ',');
    }
    if (rc == CL_OK && b.len >= n)
        rc = CL_EINVAL;
    if (rc == CL_OK)
        snprintf(out, n, "%s", b.len > 0 ? b.data : "");
    buf_dispose(&b);
    return rc;
}

static int review_parse(struct review_rules *r, const struct review_key *k, const char *v)
{
    char *f = (char *)r + k->offset;
    size_t i;

    switch (k->kind) {
    case RK_DAYS:
        return review_amount((int *)(void *)f, v, 'd', 'w', 7, 0, 3650);
    case RK_HOUR:
        return review_amount((int *)(void *)f, v, 'h', 'h', 1, 0, 23);
    case RK_MINUTES:
        return review_amount((int *)(void *)f, v, 'm', 'h', 60, 5, 480);
    case RK_WEEKDAYS:
        return review_weekdays((unsigned *)(void *)f, v);
    case RK_WEEKDAY:
        *(int *)(void *)f = review_day(v, strlen(v));
        return *(int *)(void *)f != 0 ? CL_OK : CL_EINVAL;
    case RK_DATES:
        return review_dates(r, v);
    case RK_ZONE:
        if (!review_policy_zone_ok(v))
            return CL_EINVAL;
        snprintf(r->timezone, sizeof(r->timezone), "%s", v);
        return CL_OK;
    case RK_BACKLOG:
        for (i = 0; i < CL_ARRAY_LEN(review_backlogs); i++)
            if (strcmp(v, review_backlogs[i]) == 0) {
                r->backlog = (enum review_backlog)i;
                return CL_OK;
            }
        return CL_EINVAL;
    case RK_LIST:
        return review_list(r->summary_to, sizeof(r->summary_to), v);
    case RK_ORGANIZER:
        break;
    }
    return CL_EINVAL;
}

static const char *review_allowed(enum review_kind k)
{
    static const char *const what[] = {
        [RK_DAYS] = "days like 7d or 2w (0 to 3650 days)",
        [RK_HOUR] = "an hour from 0 to 23",
        [RK_MINUTES] = "minutes like 45m or 1h (5 to 480)",
        [RK_WEEKDAYS] = "days like mon-fri or mon,tue,thu",
        [RK_WEEKDAY] = "a day: mon, tue, wed, thu, fri, sat or sun",
        [RK_DATES] = "dates YYYY-MM-DD separated by commas (at most 32)",
        [RK_ZONE] = "an IANA time zone such as Europe/Berlin",
        [RK_BACKLOG] = "off, weekly or biweekly",
        [RK_LIST] = "e-mail addresses separated by commas",
        [RK_ORGANIZER] = "one e-mail address, or nothing",
    };
    return what[k];
}

void review_policy_init(struct review_policy *p)
{
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    memset(p, 0, sizeof(*p));
    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++) {
        int rc = review_policy_set(p, review_keys[i].key, review_keys[i].def, "defaults", &err);

        (void)rc; /* the defaults are ours */
    }
    p->def.set = 0;
}

static struct review_rules *review_team(struct review_policy *p, const char *team, size_t len)
{
    int i;

    for (i = 0; i < p->nteams; i++)
        if (strlen(p->team[i]) == len && strncmp(p->team[i], team, len) == 0)
            return &p->teams[i];
    if (p->nteams == REVIEW_POLICY_TEAMS || len == 0 || len >= sizeof(p->team[0]))
        return NULL;
    memcpy(p->team[p->nteams], team, len);
    p->team[p->nteams][len] = '\0';
    memset(&p->teams[p->nteams], 0, sizeof(p->teams[0]));
    return &p->teams[p->nteams++];
}

int review_policy_set(struct review_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err)
{
    const char *dot = strrchr(key, '.');
    const char *name = dot != NULL ? dot + 1 : key;
    const struct review_key *k = review_key_find(name);
    struct review_rules *r;

    if (k == NULL)
        return cl_fail(err, CL_EINVAL,
                       "%s: unknown [review] key \"%s\": grace, min, max, hour, duration, "
                       "working_days, holidays, timezone, backlog, backlog_day, backlog_hour, "
                       "at_risk, summary_to, organizer",
                       where, name);
    if (k->kind == RK_ORGANIZER) {
        if (dot != NULL)
            return cl_fail(err, CL_EINVAL, "%s: organizer is set in [review] only", where);
        if (value[0] != '\0' && !review_policy_address_ok(value, strlen(value)))
            return cl_fail(err, CL_EINVAL, "%s: review.organizer: \"%s\" is not %s", where, value,
                           review_allowed(k->kind));
        snprintf(p->organizer, sizeof(p->organizer), "%s", value);
        return CL_OK;
    }
    r = dot == NULL ? &p->def : review_team(p, key, (size_t)(dot - key));
    if (r == NULL)
        return cl_fail(err, CL_EINVAL,
                       "%s: [review.%.*s]: at most %d team sections, names under 64 bytes", where,
                       dot != NULL ? (int)(dot - key) : 0, key, REVIEW_POLICY_TEAMS);
    if (review_parse(r, k, value) != CL_OK)
        return cl_fail(err, CL_EINVAL, "%s: review.%s: \"%s\" is not %s", where, key, value,
                       review_allowed(k->kind));
    r->set |= 1u << (k - review_keys);
    return CL_OK;
}

/* A team's rules: its own keys over the default. */
static struct review_rules review_merged(const struct review_policy *p, int team)
{
    struct review_rules out = p->def;
    const struct review_rules *t = &p->teams[team];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++) {
        const struct review_key *k = &review_keys[i];

        if (!(t->set & (1u << i)) || k->kind == RK_ORGANIZER)
            continue;
        if (k->kind == RK_DATES) {
            memcpy(out.holidays, t->holidays, sizeof(out.holidays));
            out.nholidays = t->nholidays;
        } else if (k->kind == RK_ZONE || k->kind == RK_LIST) {
            size_t n = k->kind == RK_ZONE ? sizeof(out.timezone) : sizeof(out.summary_to);

            memcpy((char *)&out + k->offset, (const char *)t + k->offset, n);
        } else {
            memcpy((char *)&out + k->offset, (const char *)t + k->offset, sizeof(int));
        }
    }
    return out;
}

static json_t *review_rules_json(const struct review_rules *r)
{
    json_t *days = json_array();
    json_t *hol = json_array();
    json_t *to = json_array();
    const char *p = r->summary_to;
    int i;

    for (i = 1; i <= 7; i++)
        if (r->working_days & (1u << i))
            json_array_append_new(days, json_integer(i));
    for (i = 0; i < r->nholidays; i++)
        json_array_append_new(hol, json_string(r->holidays[i]));
    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        json_array_append_new(to, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:s, s:s, s:i, s:i, s:i, s:o}",
                     "grace_days", r->grace_days, "min_days", r->min_days, "max_days", r->max_days,
                     "hour", r->hour, "duration_minutes", r->duration_minutes, "working_days", days,
                     "holidays", hol, "timezone", r->timezone, "backlog",
                     review_backlogs[r->backlog], "backlog_day", r->backlog_day, "backlog_hour",
                     r->backlog_hour, "at_risk_days", r->at_risk_days, "summary_to", to);
}

char *review_policy_json(const struct review_policy *p)
{
    json_t *teams = json_object();
    json_t *o;
    char *s;
    int i;

    for (i = 0; i < p->nteams; i++) {
        struct review_rules m = review_merged(p, i);

        json_object_set_new(teams, p->team[i], review_rules_json(&m));
    }
    o = json_pack("{s:o, s:o, s:s}", "default", review_rules_json(&p->def), "teams", teams,
                  "organizer", p->organizer);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (s == NULL)
        abort(); /* only when out of memory */
    return s;
}

/* The text form of one key of r, as review_policy_set() reads it. */
static void review_value(char *out, size_t n, const struct review_rules *r,
                         const struct review_key *k)
{
    const char *f = (const char *)r + k->offset;
    struct buf b;
    int i;

    buf_init(&b);

    switch (k->kind) {
    case RK_DAYS:
        snprintf(out, n, "%dd", *(const int *)(const void *)f);
        return;
    case RK_HOUR:
        snprintf(out, n, "%d", *(const int *)(const void *)f);
        return;
    case RK_MINUTES:
        snprintf(out, n, "%dm", *(const int *)(const void *)f);
        return;
    case RK_WEEKDAYS:
        for (i = 1; i <= 7; i++)
            if (r->working_days & (1u << i))
                buf_printf(&b, "%s%s", b.len > 0 ? "," : "", review_days[i - 1]);
        break;
    case RK_WEEKDAY:
        snprintf(out, n, "%s", review_days[(*(const int *)(const void *)f) - 1]);
        return;
    case RK_DATES:
        for (i = 0; i < r->nholidays; i++)
            buf_printf(&b, "%s%s", i > 0 ? "," : "", r->holidays[i]);
        break;
    case RK_ZONE:
        snprintf(out, n, "%s", r->timezone);
        return;
    case RK_BACKLOG:
        snprintf(out, n, "%s", review_backlogs[r->backlog]);
        return;
    case RK_LIST:
        snprintf(out, n, "%s", r->summary_to);
        return;
    case RK_ORGANIZER:
        break;
    }
    snprintf(out, n, "%s", b.len > 0 ? b.data : "");
    buf_dispose(&b);
}

void review_policy_print(const struct review_policy *p, FILE *out)
{
    char v[REVIEW_POLICY_LIST + 16];
    size_t i;
    int t;

    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++) {
        if (review_keys[i].kind == RK_ORGANIZER) {
            fprintf(out, "%-19s = %s\n", "review.organizer", p->organizer);
            continue;
        }
        review_value(v, sizeof(v), &p->def, &review_keys[i]);
        fprintf(out, "review.%-12s = %s\n", review_keys[i].key, v);
    }
    for (t = 0; t < p->nteams; t++)
        for (i = 0; i < CL_ARRAY_LEN(review_keys); i++)
            if (p->teams[t].set & (1u << i)) {
                review_value(v, sizeof(v), &p->teams[t], &review_keys[i]);
                fprintf(out, "review.%s.%s = %s\n", p->team[t], review_keys[i].key, v);
            }
}

const struct review_policy_doc *review_policy_docs(void)
{
    static struct review_policy_doc docs[CL_ARRAY_LEN(review_keys) + 1];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++)
        docs[i] =
            (struct review_policy_doc){review_keys[i].key, review_keys[i].def, review_keys[i].what};
    return docs;
}
