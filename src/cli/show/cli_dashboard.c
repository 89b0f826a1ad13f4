#include "closeloop/cli/show/cli_dashboard.h"

#include "closeloop/cli/cli_build.h"
#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/show/cli_figures.h"
#include "closeloop/cli/show/cli_render.h"
#include "closeloop/cli/show/cli_table.h"

#include <stdlib.h>
#include <string.h>

#define DASH_WIDTH     80 /* off a terminal */
#define DASH_ROWS      5  /* of each list */
#define DASH_INCIDENTS 20 /* newest incidents looked at for progress */
#define DASH_GROUPS    8  /* teams or owners, most overdue first */

/* The answers the screen is drawn from, in the order they are fetched. */
enum dash_part { D_TOTAL, D_OVERDUE, D_UNOWNED, D_INCIDENTS, D_GROUPS, D_DRIFT, D_PARTS };

static const char *const part_names[D_PARTS] = {"figures",   "overdue", "unowned",
                                                "incidents", "groups",  "drift"};

/* "&team=T&incident=K" of the scope (escaped), "" without one. Caller frees. */
static char *scope_query(const struct cli_dashboard *d)
{
    char *team = d->team != NULL ? cli_build_escape(d->team) : NULL;
    char *inc = d->incident != NULL ? cli_build_escape(d->incident) : NULL;
    char *s = cl_asprintf("%s%s%s%s", team != NULL ? "&team=" : "", team != NULL ? team : "",
                          inc != NULL ? "&incident=" : "", inc != NULL ? inc : "");

    free(team);
    free(inc);
    return s;
}

/* The path of each part: a team's or an incident's screen groups by owner, the whole by
 * team; progress per incident looks at the newest incidents of the scope. Caller frees. */
static char *part_path(const struct cli_dashboard *d, enum dash_part p, const char *scope)
{
    switch (p) {
    case D_TOTAL:
        return cl_asprintf("/api/v1/figures?by=total%s", scope);
    case D_OVERDUE:
        return cl_asprintf("/api/v1/reports/overdue?limit=%d%s", DASH_ROWS, scope);
    case D_UNOWNED:
        return cl_asprintf("/api/v1/reports/unowned?limit=%d%s", DASH_ROWS, scope);
    case D_INCIDENTS:
        return cl_asprintf("/api/v1/figures?by=incident&limit=%d%s", DASH_INCIDENTS, scope);
    case D_GROUPS:
        return cl_asprintf("/api/v1/figures?by=%s%s",
                           d->team != NULL || d->incident != NULL ? "owner" : "team", scope);
    case D_DRIFT:
    case D_PARTS:
        break;
    }
    return cl_asprintf("/api/v1/reports/drift?limit=%d%s", DASH_ROWS, scope);
}

static int fetch_all(json_t *parts[D_PARTS], const struct cli_dashboard *d, struct cl_err *err)
{
    char *scope = scope_query(d);
    int rc = CL_OK;
    int p;

    for (p = 0; p < D_PARTS && rc == CL_OK; p++) {
        char *path = part_path(d, (enum dash_part)p, scope);

        rc = d->get(&parts[p], path, err, d->arg);
        free(path);
        if (rc == CL_OK && !json_is_object(parts[p]) && !json_is_array(parts[p]))
            rc = cl_fail(err, CL_EHTTP, "the answer for the dashboard's %s makes no sense",
                         part_names[p]);
    }
    free(scope);
    return rc;
}

/* A report's rows: its answer is {"items": [...]} (or a bare array). Borrowed. */
static const json_t *rows_of(const json_t *answer)
{
    return json_is_array(answer) ? answer : json_object_get(answer, "items");
}

static void heading(FILE *out, const char *title, bool color)
{
    fprintf(out, "\n%s%s%s\n", color ? "\033[1m" : "", title, color ? CLI_TABLE_RESET : "");
}

static void print_head(FILE *out, const struct cli_dashboard *d, const json_t *total)
{
    const json_t *fig = json_array_get(json_object_get(total, "items"), 0);
    char *summary = cli_figures_summary(fig);
    char *rate = cli_figures_rate(json_object_get(fig, "on_time_last"));
    const char *as_of = json_string_value(json_object_get(total, "as_of"));

    fprintf(out, "closeloop dashboard · %s%s%s · as of %.16s\n",
            d->team != NULL       ? "team "
            : d->incident != NULL ? "incident "
                                  : "all work",
            d->team != NULL       ? d->team
            : d->incident != NULL ? d->incident
                                  : "",
            d->team != NULL && d->incident != NULL ? " (one incident)" : "",
            as_of != NULL ? as_of : "-");
    fprintf(out, "%s%s%s\n", d->color ? "\033[1m" : "", summary, d->color ? CLI_TABLE_RESET : "");
    fprintf(out, "%.0f undated · %.0f due this week · %.0f closed in %.0f days, %s on time\n",
            json_number_value(json_object_get(fig, "undated")),
            json_number_value(json_object_get(fig, "due_this_week")),
            json_number_value(json_object_get(fig, "closed")),
            json_number_value(json_object_get(total, "days")), rate);
    free(summary);
    free(rate);
}

/* One report row in the screen's few columns: id, why, owner, incident, title. */
static void add_row(struct cli_table *t, const json_t *a, long today)
{
    const json_t *due = json_object_get(a, "due_on");
    const char *owner = json_string_value(json_object_get(a, "owner"));
    char *id = cl_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(a, "id")));
    char *when = cl_strdup("no date");
    long day;

    if (json_is_string(due) && cli_date_parse(&day, json_string_value(due)) == CL_OK) {
        free(when);
        when = day < today   ? cl_asprintf("%ldd late", today - day)
               : day > today ? cl_asprintf("in %ldd", day - today)
                             : cl_strdup("today");
    }
    cli_table_add(t, id, CLI_COLOR_NONE);
    cli_table_add(t, when, json_is_string(due) && day < today ? CLI_COLOR_RED : CLI_COLOR_NONE);
    cli_table_add(t, owner != NULL ? owner : "nobody", CLI_COLOR_NONE);
    cli_table_add(t, json_string_value(json_object_get(a, "incident")), CLI_COLOR_NONE);
    cli_table_add(t, json_string_value(json_object_get(a, "title")), CLI_COLOR_NONE);
    free(id);
    free(when);
}

static void print_list(FILE *out, const struct cli_dashboard *d, const char *title,
                       const json_t *answer, size_t width)
{
    const json_t *rows = rows_of(answer);
    struct cli_table *t = cli_table_new(5);
    const json_t *a;
    size_t i;

    heading(out, title, d->color);
    for (i = 0; i < 5; i++)
        cli_table_add(t, (const char *const[]){"ID", "DUE", "OWNER", "INCIDENT", "TITLE"}[i],
                      CLI_COLOR_NONE);
    json_array_foreach (rows, i, a)
        add_row(t, a, d->today);
    if (json_array_size(rows) == 0)
        fputs("  none\n", out);
    else
        cli_table_print(t, out, d->color, width);
    cli_table_free(t);
}

/* "INC-117  1/6 done, 2 overdue" for the newest incidents with open work. */
static void print_incidents(FILE *out, const struct cli_dashboard *d, const json_t *answer,
                            size_t width)
{
    struct cli_table *t = cli_table_new(3);
    const json_t *fig;
    size_t shown = 0;
    size_t i;

    heading(out, "Incidents with open work, newest first", d->color);
    json_array_foreach (json_object_get(answer, "items"), i, fig) {
        double open = json_number_value(json_object_get(fig, "open"));
        double done = json_number_value(json_object_get(fig, "done"));
        double dropped = json_number_value(json_object_get(fig, "dropped"));
        double late = json_number_value(json_object_get(fig, "overdue"));
        char *progress;

        if (open <= 0 || shown == DASH_ROWS)
            continue;
        progress = cl_asprintf("%.0f/%.0f done", done, open + done + dropped);
        cli_table_add(t, json_string_value(json_object_get(fig, "incident")), CLI_COLOR_NONE);
        cli_table_add(t, progress, CLI_COLOR_NONE);
        free(progress);
        progress = late > 0 ? cl_asprintf("%.0f overdue", late) : cl_strdup("");
        cli_table_add(t, progress, late > 0 ? CLI_COLOR_RED : CLI_COLOR_NONE);
        free(progress);
        shown++;
    }
    if (shown == 0)
        fputs("  none\n", out);
    else
        cli_table_print(t, out, d->color, width);
    cli_table_free(t);
}

static int more_overdue(const void *a, const void *b)
{
    double x = json_number_value(json_object_get(*(json_t *const *)a, "overdue"));
    double y = json_number_value(json_object_get(*(json_t *const *)b, "overdue"));

    return x < y ? 1 : x > y ? -1 : 0;
}

/* A copy of items (new reference), most overdue first. */
static json_t *by_overdue(const json_t *items)
{
    size_t n = json_array_size(items);
    json_t **v = cl_calloc(n + 1, sizeof(*v));
    json_t *out = json_array();
    size_t i;

    for (i = 0; i < n; i++)
        v[i] = json_array_get(items, i);
    qsort(v, n, sizeof(*v), more_overdue);
    for (i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

static void print_groups(FILE *out, const struct cli_dashboard *d, const json_t *answer,
                         size_t width)
{
    static const char *const fields[] = {"open", "overdue", "unowned", "blocked"};
    const char *by = d->team != NULL || d->incident != NULL ? "owner" : "team";
    struct cli_table *t = cli_table_new(CL_ARRAY_LEN(fields) + 3);
    json_t *sorted;
    const json_t *fig;
    size_t i;
    size_t k;

    heading(out, strcmp(by, "team") == 0 ? "Teams" : "Owners", d->color);
    cli_table_add(t, strcmp(by, "team") == 0 ? "TEAM" : "OWNER", CLI_COLOR_NONE);
    for (k = 0; k < CL_ARRAY_LEN(fields); k++) {
        char *label = cl_strdup(fields[k]);
        size_t c;

        for (c = 0; label[c] != '\0'; c++)
            label[c] = (char)(label[c] - 'a' + 'A');
        cli_table_add(t, label, CLI_COLOR_NONE);
        free(label);
    }
    cli_table_add(t, "ON TIME", CLI_COLOR_NONE);
    cli_table_add(t, "MEDIAN LATE", CLI_COLOR_NONE);
    sorted = by_overdue(json_object_get(answer, "items"));
    json_array_foreach (sorted, i, fig) {
        const char *name = json_string_value(json_object_get(fig, by));
        const json_t *late = json_object_get(fig, "median_days_late");
        char *s;

        if (i == DASH_GROUPS)
            break;
        cli_table_add(t, name != NULL ? name : "-", CLI_COLOR_NONE);
        for (k = 0; k < CL_ARRAY_LEN(fields); k++) {
            s = cl_asprintf("%.0f", json_number_value(json_object_get(fig, fields[k])));
            cli_table_add(t, s, CLI_COLOR_NONE);
            free(s);
        }
        s = cli_figures_rate(json_object_get(fig, "on_time_last"));
        cli_table_add(t, s, CLI_COLOR_NONE);
        free(s);
        s = json_is_number(late) ? cl_asprintf("%.0fd", json_number_value(late)) : cl_strdup("-");
        cli_table_add(t, s, CLI_COLOR_NONE);
        free(s);
    }
    if (json_array_size(sorted) == 0)
        fputs("  none\n", out);
    else
        cli_table_print(t, out, d->color, width);
    if (json_array_size(sorted) > DASH_GROUPS)
        fprintf(out, "  … %zu more: closeloop report figures --by %s%s%s\n",
                json_array_size(sorted) - DASH_GROUPS, by, d->team != NULL ? " --team " : "",
                d->team != NULL ? d->team : "");
    json_decref(sorted);
    cli_table_free(t);
}

static void print_trend(FILE *out, const struct cli_dashboard *d, const json_t *total)
{
    const json_t *trend = json_object_get(total, "trend");
    char *closed = cli_figures_sparkline(trend, "closed");
    char *opened = cli_figures_sparkline(trend, "opened");

    heading(out, "Trend, 12 weeks to this one", d->color);
    fprintf(out, "  closed %s   opened %s\n", closed, opened);
    free(closed);
    free(opened);
}

static int print_json(FILE *out, json_t *parts[D_PARTS])
{
    json_t *doc = json_object();
    int rc;
    int p;

    for (p = 0; p < D_PARTS; p++)
        json_object_set(doc, part_names[p], parts[p]);
    rc = cli_render_json(out, doc);
    json_decref(doc);
    return rc;
}

int cli_dashboard_draw(FILE *out, const struct cli_dashboard *d, struct cl_err *err)
{
    json_t *parts[D_PARTS] = {NULL};
    size_t width = d->width > 0 ? d->width : DASH_WIDTH;
    int rc = fetch_all(parts, d, err);
    int p;

    if (rc == CL_OK && d->json) {
        rc = print_json(out, parts);
    } else if (rc == CL_OK) {
        print_head(out, d, parts[D_TOTAL]);
        print_list(out, d, "Most overdue", parts[D_OVERDUE], width);
        print_list(out, d, "Unowned", parts[D_UNOWNED], width);
        if (d->incident == NULL)
            print_incidents(out, d, parts[D_INCIDENTS], width);
        print_groups(out, d, parts[D_GROUPS], width);
        print_list(out, d, "Sync problems", parts[D_DRIFT], width);
        print_trend(out, d, parts[D_TOTAL]);
        rc = ferror(out) ? CL_EIO : CL_OK;
    }
    for (p = 0; p < D_PARTS; p++)
        json_decref(parts[p]);
    return rc;
}
