#include "closeloop/cli/show/cli_render.h"

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/show/cli_sync.h"

#include <stdlib.h>
#include <string.h>

enum fmt {
    F_PLAIN,     /* strings as they are, other JSON compactly, null as "-" */
    F_DAY,       /* the local date of a timestamp */
    F_WHEN,      /* a timestamp, local, with how long ago: a fixed-width cell */
    F_WHEN_FULL, /* a timestamp, local with its zone, and how long ago */
    F_STATUS,    /* coloured by status */
    F_DUE,       /* "3d overdue"; closed actions show the date itself */
    F_DUE_FULL,  /* "2024-05-01 (3d overdue)" */
    F_OWNER,     /* "alice", or "alice (inactive)" */
    F_BOOL,      /* yes / no */
    F_OPEN,      /* open + in_progress + blocked of an action-count object */
    F_COUNTS,    /* "2 open, 1 done" of an action-count object */
    F_DETAIL,    /* a report's detail object: "days late 3, owner left" */
    F_WHEN_SET,  /* as F_WHEN_FULL; a show leaves the row out when it is null or absent */
    F_SET,       /* as F_PLAIN; a show leaves the row out when it is null or absent */
    F_REF        /* an action id as "#12"; a show leaves the row out when it is null */
};

/* What times are shown against. */
struct clock {
    long today; /* days since 1970-01-01, local */
    long now;   /* seconds since the epoch */
};

struct col {
    const char *label;
    const char *field;
    enum fmt fmt;
};

struct view {
    const char *plural; /* for "no actions" */
    const struct col *list;
    const struct col *show;
};

/* clang-format off */
#define END {NULL, NULL, F_PLAIN}
#define TIMES {"created", "created_at", F_WHEN_FULL}, {"updated", "updated_at", F_WHEN_FULL}
/* clang-format on */

static const struct col team_list[] = {{"NAME", "name", F_PLAIN},
                                       {"MANAGER", "manager", F_PLAIN},
                                       {"GITHUB", "github_repo", F_PLAIN},
                                       {"JIRA", "jira_project", F_PLAIN},
                                       END};
static const struct col team_show[] = {{"name", "name", F_PLAIN},
                                       {"manager", "manager", F_PLAIN},
                                       {"github", "github_repo", F_PLAIN},
                                       {"jira", "jira_project", F_PLAIN},
                                       TIMES,
                                       END};
static const struct col person_list[] = {{"HANDLE", "handle", F_PLAIN},
                                         {"NAME", "name", F_PLAIN},
                                         {"EMAIL", "email", F_PLAIN},
                                         {"TEAM", "team", F_PLAIN},
                                         {"TZ", "timezone", F_PLAIN},
                                         {"ACTIVE", "active", F_BOOL},
                                         END};
static const struct col person_show[] = {{"handle", "handle", F_PLAIN},
                                         {"name", "name", F_PLAIN},
                                         {"email", "email", F_PLAIN},
                                         {"team", "team", F_PLAIN},
                                         {"timezone", "timezone", F_PLAIN},
                                         {"active", "active", F_BOOL},
                                         {"github", "github_login", F_PLAIN},
                                         {"jira account", "jira_account_id", F_PLAIN},
                                         {"jira name", "jira_name", F_PLAIN},
                                         TIMES,
                                         END};
static const struct col incident_list[] = {{"KEY", "key", F_PLAIN},
                                           {"SEV", "severity", F_PLAIN},
                                           {"STARTED", "started_at", F_DAY},
                                           {"RESOLVED", "resolved_at", F_DAY},
                                           {"OPEN", "actions", F_OPEN},
                                           {"TITLE", "title", F_PLAIN},
                                           END};
static const struct col incident_show[] = {{"key", "key", F_PLAIN},
                                           {"title", "title", F_PLAIN},
                                           {"severity", "severity", F_PLAIN},
                                           {"started", "started_at", F_WHEN_FULL},
                                           {"resolved", "resolved_at", F_WHEN_FULL},
                                           {"facilitator", "facilitator", F_PLAIN},
                                           {"postmortem", "postmortem_url", F_PLAIN},
                                           {"github", "github_repo", F_PLAIN},
                                           {"jira", "jira_project", F_PLAIN},
                                           {"actions", "actions", F_COUNTS},
                                           {"version", "version", F_PLAIN},
                                           TIMES,
                                           {"archived", "archived_at", F_WHEN_SET},
                                           END};
static const struct col action_list[] = {{"ID", "id", F_PLAIN},
                                         {"STATUS", "status", F_STATUS},
                                         {"DUE", "due_on", F_DUE},
                                         {"PRI", "priority", F_PLAIN},
                                         {"KIND", "kind", F_PLAIN},
                                         {"OWNER", "owner", F_OWNER},
                                         {"INCIDENT", "incident", F_PLAIN},
                                         {"TITLE", "title", F_PLAIN},
                                         END};
static const struct col report_list[] = {
    {"ID", "id", F_PLAIN},       {"DUE", "due_on", F_DUE},
    {"OWNER", "owner", F_OWNER}, {"STATUS", "status", F_STATUS},
    {"WHY", "report", F_DETAIL}, {"INCIDENT", "incident", F_PLAIN},
    {"TITLE", "title", F_PLAIN}, END};
static const struct col action_show[] = {{"id", "id", F_PLAIN},
                                         {"incident", "incident", F_PLAIN},
                                         {"kind", "kind", F_PLAIN},
                                         {"title", "title", F_PLAIN},
                                         {"status", "status", F_STATUS},
                                         {"priority", "priority", F_PLAIN},
                                         {"owner", "owner", F_OWNER},
                                         {"due", "due_on", F_DUE_FULL},
                                         {"version", "version", F_PLAIN},
                                         TIMES,
                                         {"closed", "closed_at", F_WHEN_FULL},
                                         {"verified", "verified_at", F_WHEN_SET},
                                         {"verified by", "verified_by", F_SET},
                                         {"evidence", "evidence", F_SET},
                                         {"follow-up of", "follow_up_of", F_REF},
                                         {"archived", "archived_at", F_WHEN_SET},
                                         END};
static const struct col review_outcomes_list[] = {
    {"INCIDENT", "incident", F_PLAIN},  {"TEAM", "team", F_PLAIN},
    {"WHEN", "local", F_PLAIN},         {"ZONE", "timezone", F_PLAIN},
    {"STATUS", "status", F_PLAIN},      {"FACILITATOR", "facilitator", F_PLAIN},
    {"OUTCOMES", "outcomes", F_DETAIL}, END};
static const struct col event_list[] = {{"AT", "at", F_WHEN},
                                        {"SOURCE", "source", F_PLAIN},
                                        {"ACTOR", "actor", F_PLAIN},
                                        {"FIELD", "field", F_PLAIN},
                                        {"OLD", "old", F_PLAIN},
                                        {"NEW", "new", F_PLAIN},
                                        END};

static const struct col review_list[] = {{"INCIDENT", "incident", F_PLAIN},
                                         {"TEAM", "team", F_PLAIN},
                                         {"WHEN", "local", F_PLAIN},
                                         {"ZONE", "timezone", F_PLAIN},
                                         {"STATUS", "status", F_PLAIN},
                                         {"SEQ", "sequence", F_PLAIN},
                                         {"PINNED", "pinned", F_BOOL},
                                         {"FACILITATOR", "facilitator", F_PLAIN},
                                         END};
static const struct col review_show[] = {{"incident", "incident", F_PLAIN},
                                         {"team", "team", F_PLAIN},
                                         {"kind", "kind", F_PLAIN},
                                         {"status", "status", F_PLAIN},
                                         {"when", "local", F_PLAIN},
                                         {"zone", "timezone", F_PLAIN},
                                         {"minutes", "duration_minutes", F_PLAIN},
                                         {"repeats", "rrule", F_PLAIN},
                                         {"pinned", "pinned", F_BOOL},
                                         {"facilitator", "facilitator", F_PLAIN},
                                         {"also invited", "attendees", F_PLAIN},
                                         {"summary to", "summary_to", F_PLAIN},
                                         {"uid", "uid", F_PLAIN},
                                         {"sequence", "sequence", F_PLAIN},
                                         {"scheduled by", "source", F_PLAIN},
                                         {"held", "held_at", F_WHEN_SET},
                                         TIMES,
                                         END};
static const struct col review_event_list[] = {
    {"AT", "at", F_WHEN},          {"SOURCE", "source", F_PLAIN},
    {"ACTOR", "actor", F_PLAIN},   {"WHAT", "what", F_PLAIN},
    {"FROM", "from", F_PLAIN},     {"TO", "to", F_PLAIN},
    {"REASON", "reason", F_PLAIN}, END};
static const struct col mail_list[] = {{"ID", "id", F_PLAIN},
                                       {"STATUS", "status", F_PLAIN},
                                       {"AT", "created_at", F_WHEN},
                                       {"TO", "to_addr", F_PLAIN},
                                       {"KIND", "kind", F_PLAIN},
                                       {"TRIES", "attempts", F_PLAIN},
                                       {"CODE", "last_code", F_PLAIN},
                                       {"SUBJECT", "subject", F_PLAIN},
                                       {"ERROR", "last_error", F_PLAIN},
                                       END};
static const struct col mail_show[] = {{"id", "id", F_PLAIN},
                                       {"status", "status", F_PLAIN},
                                       {"to", "to_addr", F_PLAIN},
                                       {"kind", "kind", F_PLAIN},
                                       {"subject", "subject", F_PLAIN},
                                       {"message id", "message_id", F_PLAIN},
                                       {"attempts", "attempts", F_PLAIN},
                                       {"next attempt", "next_attempt_at", F_WHEN_FULL},
                                       {"sent", "sent_at", F_WHEN_FULL},
                                       {"reply code", "last_code", F_PLAIN},
                                       {"error", "last_error", F_PLAIN},
                                       {"queued", "created_at", F_WHEN_FULL},
                                       END};
static const struct col chat_list[] = {{"ID", "id", F_PLAIN},
                                       {"STATUS", "status", F_PLAIN},
                                       {"AT", "created_at", F_WHEN},
                                       {"CHANNEL", "channel", F_PLAIN},
                                       {"KIND", "kind", F_PLAIN},
                                       {"TRIES", "attempts", F_PLAIN},
                                       {"HTTP", "last_status", F_PLAIN},
                                       {"ERROR", "last_error", F_PLAIN},
                                       END};
static const struct col chat_show[] = {{"id", "id", F_PLAIN},
                                       {"status", "status", F_PLAIN},
                                       {"channel", "channel", F_PLAIN},
                                       {"kind", "kind", F_PLAIN},
                                       {"dedup key", "dedup_key", F_PLAIN},
                                       {"attempts", "attempts", F_PLAIN},
                                       {"next attempt", "next_attempt_at", F_WHEN_FULL},
                                       {"sent", "sent_at", F_WHEN_FULL},
                                       {"HTTP status", "last_status", F_PLAIN},
                                       {"error", "last_error", F_PLAIN},
                                       {"queued", "created_at", F_WHEN_FULL},
                                       END};
static const struct col feed_list[] = {{"ID", "id", F_PLAIN},
                                       {"PERSON", "person", F_PLAIN},
                                       {"TEAM", "team", F_PLAIN},
                                       {"LABEL", "label", F_PLAIN},
                                       {"CREATED", "created_at", F_WHEN},
                                       {"REVOKED", "revoked_at", F_WHEN},
                                       END};
static const struct col feed_show[] = {{"id", "id", F_PLAIN},
                                       {"person", "person", F_PLAIN},
                                       {"team", "team", F_PLAIN},
                                       {"label", "label", F_PLAIN},
                                       {"created", "created_at", F_WHEN_FULL},
                                       {"created by", "created_by", F_PLAIN},
                                       {"revoked", "revoked_at", F_WHEN_SET},
                                       END};

static const struct col digest_list[] = {{"ID", "id", F_PLAIN},
                                         {"PERIOD", "period", F_PLAIN},
                                         {"RECIPIENT", "recipient", F_PLAIN},
                                         {"TO", "to", F_PLAIN},
                                         {"BY", "trigger", F_PLAIN},
                                         {"STATE", "state", F_PLAIN},
                                         {"MAIL", "mail_status", F_PLAIN},
                                         {"QUEUED", "created_at", F_WHEN},
                                         {"SENT", "sent_at", F_WHEN},
                                         END};
static const struct col digest_show[] = {{"recipient", "recipient", F_PLAIN},
                                         {"period", "period", F_PLAIN},
                                         {"to", "to", F_PLAIN},
                                         {"queued now", "queued", F_BOOL},
                                         END};
static const struct col reminder_show[] = {
    {"next reminder", "next_reminder", F_PLAIN}, /* ahead: no "ago" */
    {"to", "to", F_PLAIN},
    {"step", "step", F_PLAIN},
    {"snoozed until", "snoozed_until", F_PLAIN},
    {"snooze reason", "snooze_reason", F_PLAIN},
    {"last reminder", "last_reminder", F_WHEN_SET},
    END};

/* Answers of other kinds (sync status, import, doctor) have no view: cli_sync renders them. */
static const struct view views[] = {
    [CLI_RES_TEAM] = {"teams", team_list, team_show},
    [CLI_RES_PERSON] = {"people", person_list, person_show},
    [CLI_RES_INCIDENT] = {"incidents", incident_list, incident_show},
    [CLI_RES_ACTION] = {"actions", action_list, action_show},
    [CLI_RES_EVENT] = {"events", event_list, event_list},
    [CLI_RES_REPORT] = {"actions", report_list, action_show},
    [CLI_RES_REVIEW] = {"reviews", review_list, review_show},
    [CLI_RES_REVIEW_EVENT] = {"events", review_event_list, review_event_list},
    [CLI_RES_REVIEW_LIST] = {"reviews", review_outcomes_list, review_outcomes_list},
    [CLI_RES_MAIL] = {"messages", mail_list, mail_show},
    [CLI_RES_FEED] = {"calendar feeds", feed_list, feed_show},
    [CLI_RES_CHAT] = {"chat messages", chat_list, chat_show},
    [CLI_RES_DIGEST] = {"digests", digest_list, digest_show},
    [CLI_RES_REMINDER] = {"reminders", reminder_show, reminder_show},
};

static bool has_view(enum cli_res res)
{
    return (size_t)res < CL_ARRAY_LEN(views) && views[res].list != NULL;
}

enum cli_color cli_render_status_color(const char *status)
{
    if (status == NULL)
        return CLI_COLOR_NONE;
    if (strcmp(status, "in_progress") == 0)
        return CLI_COLOR_CYAN;
    if (strcmp(status, "blocked") == 0)
        return CLI_COLOR_YELLOW;
    if (strcmp(status, "done") == 0)
        return CLI_COLOR_GREEN;
    if (strcmp(status, "wont_do") == 0)
        return CLI_COLOR_DIM;
    return CLI_COLOR_NONE;
}

/* Any JSON value as text: strings as they are, null or absent as "-", the rest compactly. */
static char *plain(const json_t *v)
{
    char *s;

    if (v == NULL || json_is_null(v))
        return cl_strdup("-");
    if (json_is_string(v))
        return cl_strdup(json_string_value(v));
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return cl_strdup("?");
    return s;
}

static bool closed(const json_t *obj)
{
    const char *status = json_string_value(json_object_get(obj, "status"));

    return status != NULL && (strcmp(status, "done") == 0 || strcmp(status, "wont_do") == 0);
}

/* The due column: worded while the action is open, the date itself once it is closed. */
static char *due(const json_t *obj, const json_t *v, bool full, long today, enum cli_color *color)
{
    char words[64];
    const char *date = json_string_value(v);
    enum cli_due d;

    if (date == NULL || closed(obj))
        return plain(v);
    d = cli_date_due_words(words, sizeof(words), date, today);
    *color = d == CLI_DUE_OVERDUE ? CLI_COLOR_RED : CLI_COLOR_NONE;
    if (!full || d == CLI_DUE_NONE)
        return cl_strdup(words);
    return cl_asprintf("%s (%s)", date, words);
}

static char *owner(const json_t *obj, const json_t *v)
{
    if (json_is_string(v) && json_is_false(json_object_get(obj, "owner_active")))
        return cl_asprintf("%s (inactive)", json_string_value(v));
    return plain(v);
}

/* Sum of the still-open statuses in an action-count object. */
static char *open_count(const json_t *v)
{
    static const char *const open[] = {"open", "in_progress", "blocked"};
    json_int_t n = 0;
    size_t i;

    if (!json_is_object(v))
        return plain(v);
    for (i = 0; i < CL_ARRAY_LEN(open); i++)
        n += json_integer_value(json_object_get(v, open[i]));
    return cl_asprintf("%" JSON_INTEGER_FORMAT, n);
}

/* One vocabulary for action counts everywhere: "open" is all open work (open,
 * in_progress, blocked), then what needs attention within it, then what was closed:
 * "5 open (2 overdue, 1 unowned, 1 in progress, 1 blocked) · 1 done · 0 dropped". */
static char *counts(const json_t *v)
{
    static const char *const within[][2] = {{"overdue", "overdue"},
                                            {"unowned", "unowned"},
                                            {"in_progress", "in progress"},
                                            {"blocked", "blocked"}};
    char *detail = cl_strdup("");
    char *next;
    char *open;
    char *out;
    size_t i;

    if (!json_is_object(v)) {
        free(detail);
        return plain(v);
    }
    for (i = 0; i < CL_ARRAY_LEN(within); i++) {
        json_int_t n = json_integer_value(json_object_get(v, within[i][0]));

        if (n == 0)
            continue;
        next = cl_asprintf("%s%s%" JSON_INTEGER_FORMAT " %s", detail, *detail != '\0' ? ", " : "",
                           n, within[i][1]);
        free(detail);
        detail = next;
    }
    open = open_count(v);
    out = cl_asprintf("%s open%s%s%s \xc2\xb7 %" JSON_INTEGER_FORMAT
                      " done \xc2\xb7 %" JSON_INTEGER_FORMAT " dropped",
                      open, *detail != '\0' ? " (" : "", detail, *detail != '\0' ? ")" : "",
                      json_integer_value(json_object_get(v, "done")),
                      json_integer_value(json_object_get(v, "wont_do")));
    free(open);
    free(detail);
    return out;
}

/* A timestamp as the viewer sees it (cli_date_when()); anything else as it came. */
static char *when(const json_t *v, long now, enum cli_date_when how)
{
    const char *s = json_string_value(v);
    char buf[64];

    if (s != NULL && cli_date_when(buf, sizeof(buf), s, now, how))
        return cl_strdup(buf);
    return plain(v);
}

/* A report's detail, {"days_late": 3, "owner_left": true}: "days late 3, owner left";
 * false and null members are left out; "-" when nothing is left. */
static char *detail(const json_t *v)
{
    char *s = cl_strdup("");
    char *next;
    char *name;
    char *val;
    const char *key;
    json_t *m;
    size_t i;

    json_object_foreach ((json_t *)v, key, m) {
        if (json_is_null(m) || json_is_false(m))
            continue;
        name = cl_strdup(key);
        for (i = 0; name[i] != '\0'; i++)
            name[i] = name[i] == '_' ? ' ' : name[i];
        val = json_is_true(m) ? cl_strdup("") : plain(m);
        if (json_is_string(m) && strlen(val) > 10 && val[10] == 'T') {
            free(val);
            val = when(m, 0, CLI_DATE_WHEN_DAY); /* a time: its local day */
        }
        next = cl_asprintf("%s%s%s%s%s", s, *s != '\0' ? ", " : "", name, *val != '\0' ? " " : "",
                           val);
        free(name);
        free(val);
        free(s);
        s = next;
    }
    if (*s != '\0')
        return s;
    free(s);
    return cl_strdup("-");
}

/* The text of one cell and its colour. Caller frees. */
static char *cell(const json_t *obj, const struct col *c, const struct clock *k,
                  enum cli_color *color)
{
    const json_t *v = json_object_get(obj, c->field);
    long today = k->today;

    *color = CLI_COLOR_NONE;
    switch (c->fmt) {
    case F_DAY:
        return when(v, k->now, CLI_DATE_WHEN_DAY);
    case F_WHEN:
        return when(v, k->now, CLI_DATE_WHEN_CELL);
    case F_WHEN_FULL:
    case F_WHEN_SET:
        return when(v, k->now, CLI_DATE_WHEN_FULL);
    case F_STATUS:
        *color = cli_render_status_color(json_string_value(v));
        return plain(v);
    case F_DUE:
    case F_DUE_FULL:
        return due(obj, v, c->fmt == F_DUE_FULL, today, color);
    case F_OWNER:
        return owner(obj, v);
    case F_BOOL:
        return json_is_boolean(v) ? cl_strdup(json_is_true(v) ? "yes" : "no") : plain(v);
    case F_OPEN:
        return open_count(v);
    case F_COUNTS:
        return counts(v);
    case F_DETAIL:
        return json_is_object(v) ? detail(v) : plain(v);
    case F_REF:
        if (json_is_integer(v))
            return cl_asprintf("#%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case F_PLAIN:
    case F_SET:
        break;
    }
    return plain(v);
}

static void add_cell(struct cli_table *t, const json_t *obj, const struct col *c,
                     const struct clock *k)
{
    enum cli_color color;
    char *text = cell(obj, c, k, &color);

    cli_table_add(t, text, color);
    free(text);
}

static size_t ncols(const struct col *cols)
{
    size_t n = 0;

    while (cols[n].label != NULL)
        n++;
    return n;
}

int cli_render_list(FILE *out, enum cli_res res, const json_t *items, bool color, long today,
                    long now, size_t width)
{
    const struct clock k = {today, now};
    const struct col *cols;
    struct cli_table *t;
    const json_t *item;
    size_t i;
    size_t c;
    int rc;

    if (!has_view(res))
        return cli_render_json(out, items);
    cols = views[res].list;
    if (json_array_size(items) == 0) {
        fprintf(out, "no %s\n", views[res].plural);
        return ferror(out) ? CL_EIO : CL_OK;
    }
    t = cli_table_new(ncols(cols));
    for (c = 0; cols[c].label != NULL; c++)
        cli_table_add(t, cols[c].label, CLI_COLOR_NONE);
    json_array_foreach (items, i, item) {
        for (c = 0; cols[c].label != NULL; c++)
            add_cell(t, item, &cols[c], &k);
    }
    rc = cli_table_print(t, out, color, width);
    cli_table_free(t);
    return rc;
}

static void print_description(FILE *out, const json_t *obj)
{
    const char *d = json_string_value(json_object_get(obj, "description"));
    char *clean;

    if (d == NULL || *d == '\0')
        return;
    clean = cli_table_clean(d, true);
    fprintf(out, "\n%s%s", clean, clean[strlen(clean) - 1] == '\n' ? "" : "\n");
    free(clean);
}

void cli_render_csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void cli_render_md_field(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
    }
}

static void row_as(FILE *out, const struct col *cols, const json_t *item, long today,
                   enum cli_render_format format)
{
    const struct clock k = {today, 0};
    enum cli_color color;
    size_t c;

    for (c = 0; cols[c].label != NULL; c++) {
        struct col full = cols[c]; /* dates whole: the plain date in CSV, with lateness in MD */
        char *text;
        char *clean;

        if (full.fmt == F_DUE)
            full.fmt = format == CLI_RENDER_CSV ? F_PLAIN : F_DUE_FULL;
        if (full.fmt == F_DAY || full.fmt == F_WHEN || full.fmt == F_WHEN_FULL)
            full.fmt = F_PLAIN; /* times as the server wrote them: RFC 3339, for programs */
        text = item != NULL ? cell(item, &full, &k, &color) : cl_strdup(cols[c].label);
        clean = cli_table_clean(text, false);

        if (format == CLI_RENDER_CSV) {
            fputs(c > 0 ? "," : "", out);
            cli_render_csv_field(out, clean);
        } else {
            fputs(c > 0 ? " | " : "| ", out);
            cli_render_md_field(out, clean);
        }
        free(clean);
        free(text);
    }
    fputs(format == CLI_RENDER_CSV ? "\r\n" : " |\n", out);
}

int cli_render_list_as(FILE *out, enum cli_res res, const json_t *items, long today,
                       enum cli_render_format format)
{
    const struct col *cols;
    const json_t *item;
    size_t i;
    size_t c;

    if (!has_view(res))
        return cli_render_json(out, items);
    cols = views[res].list;
    row_as(out, cols, NULL, today, format);
    if (format == CLI_RENDER_MARKDOWN) {
        for (c = 0; cols[c].label != NULL; c++)
            fputs(c > 0 ? " | ---" : "| ---", out);
        fputs(" |\n", out);
    }
    json_array_foreach (items, i, item)
        row_as(out, cols, item, today, format);
    return ferror(out) ? CL_EIO : CL_OK;
}

int cli_render_object(FILE *out, enum cli_res res, const json_t *obj, bool color, long today,
                      long now, size_t width)
{
    const struct clock k = {today, now};
    const struct col *cols;
    struct cli_table *t;
    char *label;
    size_t c;
    int rc;

    if (!has_view(res))
        return cli_render_json(out, obj);
    cols = views[res].show;
    t = cli_table_new(2);
    for (c = 0; cols[c].label != NULL; c++) {
        if ((cols[c].fmt == F_WHEN_SET || cols[c].fmt == F_SET || cols[c].fmt == F_REF) &&
            (json_object_get(obj, cols[c].field) == NULL ||
             json_is_null(json_object_get(obj, cols[c].field))))
            continue;
        label = cl_asprintf("%s:", cols[c].label);
        cli_table_add(t, label, CLI_COLOR_NONE);
        free(label);
        add_cell(t, obj, &cols[c], &k);
    }
    if (res == CLI_RES_ACTION)
        cli_sync_add_rows(t, json_object_get(obj, "sync"));
    rc = cli_table_print(t, out, color, width);
    cli_table_free(t);
    if (res == CLI_RES_ACTION)
        print_description(out, obj);
    return rc != CL_OK || ferror(out) ? CL_EIO : CL_OK;
}

static const char *ev_str(const json_t *e, const char *key)
{
    return json_string_value(json_object_get(e, key));
}

/* The reason recorded with events[i]: a 'reason' event after it, of the same transaction
 * (the same time), or NULL. */
static const char *reason_of(const json_t *events, size_t i)
{
    const char *at = ev_str(json_array_get(events, i), "at");
    size_t j;

    for (j = i + 1; at != NULL && j < json_array_size(events); j++) {
        const json_t *e = json_array_get(events, j);
        const char *eat = ev_str(e, "at");

        if (eat == NULL || strcmp(eat, at) != 0)
            return NULL;
        if (strcmp(ev_str(e, "field") != NULL ? ev_str(e, "field") : "", "reason") == 0)
            return ev_str(e, "new");
    }
    return NULL;
}

/* The index of the last event about `field` (with new value `value` unless NULL), or -1. */
static long last_event(const json_t *events, const char *field, const char *value)
{
    size_t i = json_array_size(events);

    while (i-- > 0) {
        const json_t *e = json_array_get(events, i);
        const char *f = ev_str(e, "field");
        const char *n = ev_str(e, "new");

        if (f != NULL && strcmp(f, field) == 0 &&
            (value == NULL || (n != NULL && strcmp(n, value) == 0)))
            return (long)i;
    }
    return -1;
}

/* One line "<what> <time>: <reason>" for events[i], the reason cleaned of controls; a
 * blank line first when it is the story's first. */
static void story_line(FILE *out, bool *first, const char *what, const json_t *events, long i,
                       long now)
{
    const char *why = reason_of(events, (size_t)i);
    char *clean = why != NULL ? cli_table_clean(why, false) : NULL;
    char *at =
        when(json_object_get(json_array_get(events, (size_t)i), "at"), now, CLI_DATE_WHEN_FULL);

    fprintf(out, "%s%s %s%s%s\n", *first ? "\n" : "", what, at, clean != NULL ? ": " : "",
            clean != NULL ? clean : "");
    *first = false;
    free(at);
    free(clean);
}

static void print_status_story(FILE *out, bool *first, const json_t *action, const json_t *events,
                               long now)
{
    const char *status = json_string_value(json_object_get(action, "status"));
    long i;

    if (status == NULL || (strcmp(status, "blocked") != 0 && strcmp(status, "wont_do") != 0))
        return;
    i = last_event(events, "status", status);
    if (i >= 0)
        story_line(out, first, strcmp(status, "blocked") == 0 ? "blocked since" : "dropped on",
                   events, i, now);
}

static void print_due_story(FILE *out, bool *first, const json_t *events, long now)
{
    long i = last_event(events, "due_on", NULL);
    const json_t *e;
    char *what;

    if (i < 0 || reason_of(events, (size_t)i) == NULL)
        return;
    e = json_array_get(events, (size_t)i);
    what = cl_asprintf("due moved from %s to %s on",
                       ev_str(e, "old") != NULL ? ev_str(e, "old") : "none",
                       ev_str(e, "new") != NULL ? ev_str(e, "new") : "none");
    story_line(out, first, what, events, i, now);
    free(what);
}

/* "follow-ups: #40, #41": the actions a review created to follow this one up (its
 * history's follow_up events). */
static void print_follow_ups(FILE *out, const json_t *events)
{
    const json_t *e;
    size_t i;
    bool any = false;

    json_array_foreach (events, i, e) {
        const char *f = ev_str(e, "field");

        if (f == NULL || strcmp(f, "follow_up") != 0 || ev_str(e, "new") == NULL)
            continue;
        fprintf(out, "%s#%s", any ? ", " : "follow-ups:   ", ev_str(e, "new"));
        any = true;
    }
    if (any)
        fputc('\n', out);
}

static bool is_note(const json_t *e)
{
    const char *f = ev_str(e, "field");

    return f != NULL && strcmp(f, "note") == 0;
}

/* The note, its continuation lines indented under it. */
static void print_note(FILE *out, const json_t *e, long now)
{
    const char *text = ev_str(e, "new");
    char *clean = cli_table_clean(text != NULL ? text : "", true);
    char *at = when(json_object_get(e, "at"), now, CLI_DATE_WHEN_FULL);
    char *p;

    fprintf(out, "  %s %s: ", at, ev_str(e, "actor") != NULL ? ev_str(e, "actor") : "-");
    free(at);
    for (p = clean; *p != '\0'; p++) {
        if (*p == '\n' && p[1] != '\0')
            fputs("\n    ", out);
        else if (*p != '\n')
            fputc(*p, out);
    }
    fputc('\n', out);
    free(clean);
}

static void print_notes(FILE *out, const json_t *events, size_t max_notes, long now)
{
    size_t total = 0;
    size_t seen = 0;
    size_t skip;
    size_t i;

    for (i = 0; i < json_array_size(events); i++)
        total += is_note(json_array_get(events, i));
    if (total == 0 || max_notes == 0)
        return;
    skip = total > max_notes ? total - max_notes : 0;
    if (skip > 0)
        fprintf(out, "\nnotes (latest %zu of %zu; all in `action history`):\n", max_notes, total);
    else
        fputs("\nnotes:\n", out);
    for (i = 0; i < json_array_size(events); i++) {
        const json_t *e = json_array_get(events, i);

        if (is_note(e) && seen++ >= skip)
            print_note(out, e, now);
    }
}

int cli_render_action_story(FILE *out, const json_t *action, const json_t *events, long now,
                            size_t max_notes)
{
    bool first = true;

    if (!json_is_array(events))
        return CL_OK;
    print_status_story(out, &first, action, events, now);
    print_due_story(out, &first, events, now);
    print_follow_ups(out, events);
    print_notes(out, events, max_notes, now);
    return ferror(out) ? CL_EIO : CL_OK;
}

int cli_render_json(FILE *out, const json_t *v)
{
    if (json_dumpf(v, out, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
        return CL_EIO;
    fputc('\n', out);
    return ferror(out) ? CL_EIO : CL_OK;
}
