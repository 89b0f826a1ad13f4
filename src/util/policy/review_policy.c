#include "closeloop/util/policy/review_policy.h"

#include "closeloop/util/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const review_backlogs[] = {"off", "weekly", "biweekly", NULL};

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

static int review_dates(void *rules, const struct policy_key *k, const char *v)
{
    struct review_rules *r = rules;
    const char *p = v;

    (void)k;
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

static void review_dates_print(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    const struct review_rules *r = rules;
    size_t len = 0;
    int i;

    (void)k;
    out[0] = '\0';
    for (i = 0; i < r->nholidays && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i > 0 ? "," : "", r->holidays[i]);
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

static int review_list(void *rules, const struct policy_key *k, const char *v)
{
    char *out = policy_field(rules, k);
    size_t n = k->size;
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

static int review_zone(void *rules, const struct policy_key *k, const char *v)
{
    if (!review_policy_zone_ok(v))
        return CL_EINVAL;
    snprintf(policy_field(rules, k), k->size, "%s", v);
    return CL_OK;
}

static int review_organizer(void *rules, const struct policy_key *k, const char *v)
{
    if (v[0] != '\0' && !review_policy_address_ok(v, strlen(v)))
        return CL_EINVAL;
    snprintf(policy_field(rules, k), k->size, "%s", v);
    return CL_OK;
}

static void review_text_print(char *out, size_t n, const void *rules, const struct policy_key *k)
{
    snprintf(out, n, "%s", (const char *)policy_cfield(rules, k));
}

#define RR(f) POLICY_FIELD(struct review_rules, f)

static const char review_days_allowed[] = "days like 7d or 2w (0 to 3650 days)";
static const char review_hour_allowed[] = "an hour from 0 to 23";

static const struct policy_key review_keys[] = {
    {"grace", "7d", "after the latest open due date", review_days_allowed, RR(grace_days), 0, 3650,
     NULL, policy_parse_days, policy_print_days, false},
    {"min", "14d", "earliest, after the incident started", review_days_allowed, RR(min_days), 0,
     3650, NULL, policy_parse_days, policy_print_days, false},
    {"max", "60d", "latest, after the incident started", review_days_allowed, RR(max_days), 0, 3650,
     NULL, policy_parse_days, policy_print_days, false},
    {"hour", "15", "hour of the meeting, in the facilitator's zone", review_hour_allowed, RR(hour),
     0, 23, NULL, policy_parse_hour, policy_print_int, false},
    {"duration", "45m", "length of the meeting", "minutes like 45m or 1h (5 to 480)",
     RR(duration_minutes), 5, 480, NULL, policy_parse_minutes, policy_print_minutes, false},
    {"working_days", "mon-fri", "days a review may fall on", "days like mon-fri or mon,tue,thu",
     RR(working_days), 0, 0, NULL, policy_parse_weekdays, policy_print_weekdays, false},
    {"holidays", "", "dates skipped (YYYY-MM-DD, comma list)",
     "dates YYYY-MM-DD separated by commas (at most 32)", offsetof(struct review_rules, holidays),
     POLICY_SPAN(struct review_rules, holidays, nholidays), 0, 0, NULL, review_dates,
     review_dates_print, false},
    {"timezone", "UTC", "zone for incidents without a facilitator",
     "an IANA time zone such as Europe/Berlin", RR(timezone), 0, 0, NULL, review_zone,
     review_text_print, false},
    {"backlog", "off", "recurring backlog review: off|weekly|biweekly", "off, weekly or biweekly",
     RR(backlog), 0, 0, review_backlogs, policy_parse_choice, policy_print_choice, false},
    {"backlog_day", "tue", "day of the backlog review",
     "a day: mon, tue, wed, thu, fri, sat or sun", RR(backlog_day), 0, 0, NULL,
     policy_parse_weekday, policy_print_weekday, false},
    {"backlog_hour", "10", "hour of the backlog review", review_hour_allowed, RR(backlog_hour), 0,
     23, NULL, policy_parse_hour, policy_print_int, false},
    {"at_risk", "7d", "backlog: due within this and not started", review_days_allowed,
     RR(at_risk_days), 0, 3650, NULL, policy_parse_days, policy_print_days, false},
    {"summary_to", "", "addresses every review summary goes to",
     "e-mail addresses separated by commas", RR(summary_to), 0, 0, NULL, review_list,
     review_text_print, false},
    {"organizer", "", "ORGANIZER of invitations; empty: the facilitator",
     "one e-mail address, or nothing", RR(organizer), 0, 0, NULL, review_organizer,
     review_text_print, true},
};

static const struct policy review_engine =
    POLICY_OF("review", review_keys, struct review_rules, 12);

void review_policy_init(struct review_policy *p)
{
    memset(p, 0, sizeof(*p));
    policy_init(&review_engine, &p->def);
}

int review_policy_set(struct review_policy *p, const char *key, const char *value,
                      const char *where, struct cl_err *err)
{
    return policy_set(&review_engine, &p->def, p->teams, &p->names, key, value, where, err);
}

static json_t *review_rules_json(const void *rules)
{
    const struct review_rules *r = rules;
    json_t *hol = json_array();
    json_t *to = json_array();
    const char *p = r->summary_to;
    int i;

    for (i = 0; i < r->nholidays; i++)
        json_array_append_new(hol, json_string(r->holidays[i]));
    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        json_array_append_new(to, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:s, s:s, s:i, s:i, s:i, s:o}",
                     "grace_days", r->grace_days, "min_days", r->min_days, "max_days", r->max_days,
                     "hour", r->hour, "duration_minutes", r->duration_minutes, "working_days",
                     policy_weekdays_json(r->working_days), "holidays", hol, "timezone",
                     r->timezone, "backlog", review_backlogs[r->backlog], "backlog_day",
                     r->backlog_day, "backlog_hour", r->backlog_hour, "at_risk_days",
                     r->at_risk_days, "summary_to", to);
}

char *review_policy_json(const struct review_policy *p)
{
    return policy_json_dump(json_pack(
        "{s:o, s:o, s:s}", "default", review_rules_json(&p->def), "teams",
        policy_teams_json(&review_engine, &p->def, p->teams, &p->names, review_rules_json),
        "organizer", p->def.organizer));
}

void review_policy_print(const struct review_policy *p, FILE *out)
{
    policy_print(&review_engine, &p->def, p->teams, &p->names, out);
}

const struct review_policy_doc *review_policy_docs(void)
{
    static struct review_policy_doc docs[CL_ARRAY_LEN(review_keys) + 1];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(review_keys); i++)
        docs[i] = (struct review_policy_doc){review_keys[i].name, review_keys[i].def,
                                             review_keys[i].what};
    return docs;
}
