#include "closeloop/cli/show/cli_figures.h"

#include "closeloop/cli/show/cli_table.h"
#include "closeloop/util/cl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum fig_fmt {
    FIG_COUNT, /* a whole number */
    FIG_DAYS,  /* "12d" */
    FIG_RATE   /* "72%" */
};

struct fig_col {
    const char *label;
    const char *field;
    enum fig_fmt fmt;
};

/* The columns after the group's name, in this order everywhere (table, CSV, Markdown). */
static const struct fig_col cols[] = {
    {"OPEN", "open", FIG_COUNT},           {"OVERDUE", "overdue", FIG_COUNT},
    {"UNOWNED", "unowned", FIG_COUNT},     {"UNDATED", "undated", FIG_COUNT},
    {"BLOCKED", "blocked", FIG_COUNT},     {"DUE 7D", "due_this_week", FIG_COUNT},
    {"AGE", "median_age_days", FIG_DAYS},  {"LATE", "median_days_late", FIG_DAYS},
    {"CLOSED", "closed", FIG_COUNT},       {"TO CLOSE", "median_days_to_close", FIG_DAYS},
    {"ON TIME", "on_time_last", FIG_RATE}, {"1ST DATE", "on_time_first", FIG_RATE},
};

char *cli_figures_rate(const json_t *v)
{
    if (!json_is_number(v))
        return cl_strdup("-");
    return cl_asprintf("%.0f%%", json_number_value(v) * 100.0);
}

/* The text of one figure; raw (CSV) keeps numbers bare. Caller frees. */
static char *fig_text(const json_t *fig, const struct fig_col *c, bool raw)
{
    const json_t *v = json_object_get(fig, c->field);

    if (!json_is_number(v))
        return cl_strdup(raw ? "" : "-");
    if (c->fmt == FIG_RATE)
        return raw ? cl_asprintf("%.3f", json_number_value(v)) : cli_figures_rate(v);
    return cl_asprintf("%.0f%s", json_number_value(v), c->fmt == FIG_DAYS && !raw ? "d" : "");
}

/* The answer's grouping: "team", "owner", "incident", or NULL for the whole. */
static const char *group_of(const json_t *answer)
{
    const char *by = json_string_value(json_object_get(answer, "by"));

    if (by == NULL || strcmp(by, "total") == 0)
        return NULL;
    return by;
}

/* The group's name in a row: "-" for work of no team or owner. Borrowed. */
static const char *group_name(const json_t *fig, const char *by)
{
    const char *s = json_string_value(json_object_get(fig, by));

    return s != NULL ? s : "-";
}

static int print_table(FILE *out, const json_t *answer, bool color, size_t width)
{
    const char *by = group_of(answer);
    const json_t *items = json_object_get(answer, "items");
    struct cli_table *t = cli_table_new(CL_ARRAY_LEN(cols) + (by != NULL ? 1 : 0));
    const json_t *fig;
    char *upper = cl_strdup(by != NULL ? by : "");
    size_t i;
    size_t c;
    int rc;

    for (c = 0; upper[c] != '\0'; c++)
        upper[c] = (char)(upper[c] - 'a' + 'A');
    if (by != NULL)
        cli_table_add(t, upper, CLI_COLOR_NONE);
    for (c = 0; c < CL_ARRAY_LEN(cols); c++)
        cli_table_add(t, cols[c].label, CLI_COLOR_NONE);
    json_array_foreach (items, i, fig) {
        if (by != NULL)
            cli_table_add(t, group_name(fig, by), CLI_COLOR_NONE);
        for (c = 0; c < CL_ARRAY_LEN(cols); c++) {
            char *s = fig_text(fig, &cols[c], false);
            bool alarm = c == 1 && strcmp(s, "0") != 0 && strcmp(s, "-") != 0;

            cli_table_add(t, s, alarm ? CLI_COLOR_RED : CLI_COLOR_NONE);
            free(s);
        }
    }
    rc = json_array_size(items) > 0 ? cli_table_print(t, out, color, width) : CL_OK;
    if (json_array_size(items) == 0)
        fputs("no figures: nothing matches\n", out);
    cli_table_free(t);
    free(upper);
    return rc;
}

static void print_row_as(FILE *out, const json_t *fig, const char *by, bool csv)
{
    void (*field)(FILE *, const char *) = csv ? cli_render_csv_field : cli_render_md_field;
    const char *sep = csv ? "," : " | ";
    size_t c;

    fputs(csv ? "" : "| ", out);
    if (by != NULL) {
        field(out, fig != NULL ? group_name(fig, by) : by);
        fputs(sep, out);
    }
    for (c = 0; c < CL_ARRAY_LEN(cols); c++) {
        char *s = fig != NULL ? fig_text(fig, &cols[c], csv) : cl_strdup(cols[c].field);

        fputs(c > 0 ? sep : "", out);
        field(out, s);
        free(s);
    }
    fputs(csv ? "\r\n" : " |\n", out);
}

static int print_as(FILE *out, const json_t *answer, bool csv)
{
    const char *by = group_of(answer);
    const json_t *fig;
    size_t i;
    size_t c;

    print_row_as(out, NULL, by, csv);
    for (c = 0; !csv && c < CL_ARRAY_LEN(cols) + (by != NULL ? 1 : 0); c++)
        fputs(c > 0 ? " | ---" : "| ---", out);
    fputs(csv ? "" : " |\n", out);
    json_array_foreach (json_object_get(answer, "items"), i, fig)
        print_row_as(out, fig, by, csv);
    return ferror(out) ? CL_EIO : CL_OK;
}

char *cli_figures_sparkline(const json_t *trend, const char *field)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const json_t *e;
    double max = 0;
    size_t i;
    char *s;

    if (json_array_size(trend) == 0)
        return cl_strdup("-");
    json_array_foreach (trend, i, e) {
        double v = json_number_value(json_object_get(e, field));

        max = v > max ? v : max;
    }
    s = cl_calloc(json_array_size(trend) * 3 + 1, 1);
    json_array_foreach (trend, i, e) {
        double v = json_number_value(json_object_get(e, field));
        size_t k = max > 0 ? (size_t)lround(v / max * 7.0) : 0;

        strcat(s, bars[k > 7 ? 7 : k]);
    }
    return s;
}

/* The trend in two lines: opened and closed per period, first and last values. */
static void print_trend(FILE *out, const json_t *answer)
{
    static const char *const fields[] = {"closed", "opened"};
    const json_t *trend = json_object_get(answer, "trend");
    const char *period = json_string_value(json_object_get(answer, "period"));
    size_t n = json_array_size(trend);
    size_t i;

    if (n == 0)
        return;
    fprintf(out, "\ntrend, %zu %ss to this one:\n", n, period != NULL ? period : "period");
    for (i = 0; i < CL_ARRAY_LEN(fields); i++) {
        char *line = cli_figures_sparkline(trend, fields[i]);

        fprintf(out, "  %-7s %s  %.0f → %.0f\n", fields[i], line,
                json_number_value(json_object_get(json_array_get(trend, 0), fields[i])),
                json_number_value(json_object_get(json_array_get(trend, n - 1), fields[i])));
        free(line);
    }
}

int cli_figures_print(FILE *out, const json_t *answer, const char *format, bool color, size_t width)
{
    int rc;

    if (format != NULL && strcmp(format, "csv") == 0)
        return print_as(out, answer, true);
    if (format != NULL && strcmp(format, "markdown") == 0)
        return print_as(out, answer, false);
    rc = print_table(out, answer, color, width);
    if (rc == CL_OK)
        print_trend(out, answer);
    return ferror(out) ? CL_EIO : rc;
}

/* Appends ", N label" to *s when N > 0 (the first without the comma). */
static void add_part(char **s, const json_t *fig, const char *field, const char *label)
{
    long n = (long)json_number_value(json_object_get(fig, field));
    char *next;

    if (n <= 0)
        return;
    next = cl_asprintf("%s%s%ld %s", *s, **s != '\0' ? ", " : "", n, label);
    free(*s);
    *s = next;
}

char *cli_figures_summary(const json_t *fig)
{
    char *inner = cl_strdup("");
    char *s;

    add_part(&inner, fig, "overdue", "overdue");
    add_part(&inner, fig, "unowned", "unowned");
    add_part(&inner, fig, "in_progress", "in progress");
    add_part(&inner, fig, "blocked", "blocked");
    s = cl_asprintf("%.0f open%s%s%s · %.0f done · %.0f dropped",
                    json_number_value(json_object_get(fig, "open")), *inner ? " (" : "", inner,
                    *inner ? ")" : "", json_number_value(json_object_get(fig, "done")),
                    json_number_value(json_object_get(fig, "dropped")));
    free(inner);
    return s;
}
