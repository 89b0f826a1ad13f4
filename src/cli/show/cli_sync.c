#include "closeloop/cli/show/cli_sync.h"

#include "closeloop/cli/cli_date.h"

#include <stdlib.h>
#include <string.h>

#define SPAN_MAX 32 /* bytes of "in 12345d" */

static const char *const conn_head[] = {"CONNECTION", "TRACKER", "AUTH",         "STATE",
                                        "RATE LEFT",  "RESET",   "PAUSED UNTIL", "LAST ERROR"};
static const char *const repo_head[] = {"SCOPE",    "LAST SUCCESS", "PENDING",   "FAILED",
                                        "REQUESTS", "UNCHANGED",    "LAST ERROR"};

/* Whether v is worth a line: not absent, not null, not "". */
static bool given(const json_t *v)
{
    const char *s = json_string_value(v);

    return v != NULL && !json_is_null(v) && (s == NULL || *s != '\0');
}

/* Any JSON value as text: strings as they are, null or absent as "-", the rest compactly.
 * Caller frees. */
static char *text_of(const json_t *v)
{
    char *s;

    if (v == NULL || json_is_null(v))
        return cl_strdup("-");
    if (json_is_string(v))
        return cl_strdup(json_string_value(v));
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s != NULL ? s : cl_strdup("?");
}

/* Adds text as a cell and frees it. */
static void add_owned(struct cli_table *t, char *text, enum cli_color color)
{
    cli_table_add(t, text, color);
    free(text);
}

static void add_value(struct cli_table *t, const json_t *v, enum cli_color color)
{
    add_owned(t, text_of(v), color);
}

/* A time sent as RFC 3339 text or as epoch seconds. */
static bool when(long *t, const json_t *v)
{
    if (json_is_integer(v)) {
        *t = (long)json_integer_value(v);
        return true;
    }
    return cli_date_parse_time(t, json_string_value(v)) == CL_OK;
}

/* "in 12m" for a time still ahead; one already past (or unreadable) as it was sent. */
static char *until(const json_t *v, long now)
{
    char span[SPAN_MAX];
    long t;

    if (!when(&t, v) || t <= now)
        return text_of(v);
    cli_date_span_words(span, sizeof(span), t - now);
    return cl_asprintf("in %s", span);
}

/* "3m ago"; "never" for none. */
static char *ago(const json_t *v, long now)
{
    char span[SPAN_MAX];
    long t;

    if (v == NULL || json_is_null(v))
        return cl_strdup("never");
    if (!when(&t, v))
        return text_of(v);
    cli_date_span_words(span, sizeof(span), now - t);
    return cl_asprintf("%s ago", span);
}

/* "owner/repo#7  https://..." or "OPS-12  https://...", or the scope alone while no issue
 * exists yet. */
static char *where(const json_t *sync)
{
    const json_t *number = json_object_get(sync, "number");
    const json_t *display = json_object_get(sync, "display");
    const json_t *scope = json_object_get(sync, "scope");
    const char *url = json_string_value(json_object_get(sync, "url"));
    char *repo = text_of(json_is_string(scope) ? scope : json_object_get(sync, "repo"));
    char *issue = json_is_string(display) ? cl_strdup(json_string_value(display))
                  : json_is_integer(number)
                      ? cl_asprintf("%s#%" JSON_INTEGER_FORMAT, repo, json_integer_value(number))
                      : cl_strdup(repo);
    char *text = url != NULL && *url != '\0' ? cl_asprintf("%s  %s", issue, url) : NULL;

    free(repo);
    if (text == NULL)
        return issue;
    free(issue);
    return text;
}

/* The sync line: a broken link or a failure with its reason, else the state. */
static char *state_words(const json_t *sync, enum cli_color *color)
{
    const char *state = json_string_value(json_object_get(sync, "state"));
    const json_t *error = json_object_get(sync, "last_error");
    const json_t *synced = json_object_get(sync, "synced_at");
    bool broken = state != NULL && strcmp(state, "broken") == 0;
    char *why = given(error) ? text_of(error) : NULL;
    char *text;

    *color = broken || why != NULL ? CLI_COLOR_RED : CLI_COLOR_NONE;
    if (broken)
        text = why != NULL ? cl_asprintf("broken: %s", why) : cl_strdup("broken");
    else if (why != NULL)
        text = cl_asprintf("failed: %s", why);
    else if (state != NULL && strcmp(state, "linked") == 0 && json_is_string(synced))
        text = cl_asprintf("linked (synced %s)", json_string_value(synced));
    else
        text = text_of(json_object_get(sync, "state"));
    free(why);
    return text;
}

static void add_row(struct cli_table *t, const char *label, char *value, enum cli_color color)
{
    cli_table_add(t, label, CLI_COLOR_NONE);
    add_owned(t, value, color);
}

void cli_sync_add_rows(struct cli_table *t, const json_t *sync)
{
    const char *tracker = json_string_value(json_object_get(sync, "tracker"));
    const json_t *warning = json_object_get(sync, "warning");
    const json_t *pending = json_object_get(sync, "pending");
    enum cli_color color = CLI_COLOR_NONE;
    char *label;
    char *state;

    if (!json_is_object(sync))
        return;
    label = cl_asprintf("%s:", tracker != NULL && *tracker != '\0' ? tracker : "tracker");
    add_row(t, label, where(sync), CLI_COLOR_NONE);
    free(label);
    state = state_words(sync, &color); /* sets color: call it before passing color on */
    add_row(t, "sync:", state, color);
    if (given(warning))
        add_row(t, "warning:", text_of(warning), CLI_COLOR_YELLOW);
    if (json_is_integer(pending) && json_integer_value(pending) > 0)
        add_row(t, "pending:", text_of(pending), CLI_COLOR_NONE);
}

/* A table whose first row is the header. */
static struct cli_table *table_new(const char *const *head, size_t n)
{
    struct cli_table *t = cli_table_new(n);
    size_t i;

    for (i = 0; i < n; i++)
        cli_table_add(t, head[i], CLI_COLOR_NONE);
    return t;
}

static void add_connection(struct cli_table *t, const json_t *c, long now)
{
    const json_t *rate = json_object_get(c, "rate_limit");
    const json_t *left = json_object_get(rate, "remaining");
    const json_t *error = json_object_get(c, "last_error");
    bool spent = json_is_integer(left) && json_integer_value(left) <= 0;

    add_value(t, json_object_get(c, "name"), CLI_COLOR_NONE);
    add_value(t, json_object_get(c, "tracker"), CLI_COLOR_NONE);
    add_value(t, json_object_get(c, "auth"), CLI_COLOR_NONE);
    add_value(t, json_object_get(c, "state"), CLI_COLOR_NONE);
    add_value(t, left, spent ? CLI_COLOR_RED : CLI_COLOR_NONE);
    add_owned(t, until(json_object_get(rate, "reset_at"), now), CLI_COLOR_NONE);
    add_owned(t, until(json_object_get(c, "paused_until"), now), CLI_COLOR_NONE);
    add_value(t, error, given(error) ? CLI_COLOR_RED : CLI_COLOR_NONE);
}

static void add_repo(struct cli_table *t, const json_t *r, long now)
{
    const json_t *failed = json_object_get(r, "failed");
    const json_t *error = json_object_get(r, "last_error");
    bool bad = json_is_integer(failed) && json_integer_value(failed) > 0;

    add_value(t, json_object_get(r, json_object_get(r, "scope") != NULL ? "scope" : "repo"),
              CLI_COLOR_NONE);
    add_owned(t, ago(json_object_get(r, "last_success_at"), now), CLI_COLOR_NONE);
    add_value(t, json_object_get(r, "pending"), CLI_COLOR_NONE);
    add_value(t, failed, bad ? CLI_COLOR_RED : CLI_COLOR_NONE);
    add_value(t, json_object_get(r, "requests"), CLI_COLOR_NONE);
    add_value(t, json_object_get(r, "not_modified"), CLI_COLOR_NONE);
    add_value(t, error, given(error) ? CLI_COLOR_RED : CLI_COLOR_NONE);
}

/* Every reconciled scope of every connection, or "no scopes reconciled yet". */
static int print_repos(FILE *out, const json_t *conns, bool color, long now)
{
    struct cli_table *t = table_new(repo_head, CL_ARRAY_LEN(repo_head));
    const json_t *conn;
    const json_t *repo;
    size_t rows = 0;
    size_t i;
    size_t j;
    int rc = CL_OK;

    json_array_foreach (conns, i, conn) {
        const json_t *list = json_object_get(conn, "scopes");

        json_array_foreach (list != NULL ? list : json_object_get(conn, "repos"), j, repo) {
            add_repo(t, repo, now);
            rows++;
        }
    }
    if (rows > 0)
        rc = cli_table_print(t, out, color, 0);
    else
        fputs("no scopes reconciled yet\n", out);
    cli_table_free(t);
    return rc != CL_OK || ferror(out) ? CL_EIO : CL_OK;
}

/* The inbox: pending deliveries, and each dead letter with its reason. */
static int print_inbox(FILE *out, const json_t *inbox, bool color, long now)
{
    static const char *const head[] = {"DEAD LETTER", "EVENT", "RECEIVED", "REASON"};
    const json_t *dead = json_object_get(inbox, "dead_letters");
    struct cli_table *t;
    const json_t *d;
    size_t i;
    int rc = CL_OK;

    if (!json_is_object(inbox))
        return CL_OK;
    fprintf(out,
            "\ninbox: %" JSON_INTEGER_FORMAT " pending, %" JSON_INTEGER_FORMAT " dead letters\n",
            json_integer_value(json_object_get(inbox, "pending")),
            json_integer_value(json_object_get(inbox, "dead")));
    if (json_array_size(dead) == 0)
        return ferror(out) ? CL_EIO : CL_OK;
    t = table_new(head, CL_ARRAY_LEN(head));
    json_array_foreach (dead, i, d) {
        add_value(t, json_object_get(d, "delivery"), CLI_COLOR_NONE);
        add_value(t, json_object_get(d, "event"), CLI_COLOR_NONE);
        add_owned(t, ago(json_object_get(d, "received_at"), now), CLI_COLOR_NONE);
        add_value(t, json_object_get(d, "error"), CLI_COLOR_RED);
    }
    rc = cli_table_print(t, out, color, 0);
    cli_table_free(t);
    return rc != CL_OK || ferror(out) ? CL_EIO : CL_OK;
}

int cli_sync_render_status(FILE *out, const json_t *status, bool color, long now)
{
    const json_t *conns = json_object_get(status, "connections");
    struct cli_table *t;
    const json_t *conn;
    size_t i;
    int rc;

    if (json_array_size(conns) == 0) {
        fputs("no sync connections\n", out);
        return ferror(out) ? CL_EIO : CL_OK;
    }
    t = table_new(conn_head, CL_ARRAY_LEN(conn_head));
    json_array_foreach (conns, i, conn)
        add_connection(t, conn, now);
    rc = cli_table_print(t, out, color, 0);
    cli_table_free(t);
    fputc('\n', out);
    if (rc == CL_OK)
        rc = print_repos(out, conns, color, now);
    if (rc == CL_OK)
        rc = print_inbox(out, json_object_get(status, "inbox"), color, now);
    return rc;
}

/* A count of the answer as text, "?" when it is not a number. Caller frees. */
static char *count(const json_t *answer, const char *name)
{
    const json_t *v = json_object_get(answer, name);

    if (!json_is_integer(v))
        return cl_strdup("?");
    return cl_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

int cli_sync_render_import(FILE *out, const json_t *answer, const char *incident)
{
    char *imported = count(answer, "imported");
    char *skipped = count(answer, "skipped");
    char *requests = count(answer, "requests");
    char *key = cli_table_clean(incident != NULL ? incident : "-", false);

    fprintf(out, "imported %s issues as actions of %s (%s already linked, %s requests)\n", imported,
            key, skipped, requests);
    free(imported);
    free(skipped);
    free(requests);
    free(key);
    return ferror(out) ? CL_EIO : CL_OK;
}

/* Member name of a check as terminal-safe text; "" when absent or null. Caller frees. */
static char *check_text(const json_t *check, const char *name)
{
    const json_t *v = json_object_get(check, name);
    char *raw = given(v) ? text_of(v) : cl_strdup("");
    char *clean = cli_table_clean(raw, false);

    free(raw);
    return clean;
}

static void print_check(FILE *out, const json_t *check, size_t width, bool color)
{
    bool ok = json_is_true(json_object_get(check, "ok"));
    const char *word = ok ? "ok" : "FAIL";
    enum cli_color c = ok ? CLI_COLOR_GREEN : CLI_COLOR_RED;
    char *name = check_text(check, "name");
    char *detail = check_text(check, "detail");

    if (color)
        fprintf(out, "%s%s%s", cli_table_sgr(c), word, CLI_TABLE_RESET);
    else
        fputs(word, out);
    fprintf(out, "%*s%s", (int)(5 - strlen(word)), "", name);
    if (*detail != '\0')
        fprintf(out, "%*s%s", (int)(width - cli_table_width(name) + 2), "", detail);
    fputc('\n', out);
    free(name);
    free(detail);
}

int cli_sync_render_doctor(FILE *out, const json_t *answer, bool color)
{
    const json_t *checks = json_object_get(answer, "checks");
    const json_t *check;
    size_t width = 0;
    size_t i;
    char *name;

    if (json_array_size(checks) == 0)
        fputs("no checks\n", out);
    json_array_foreach (checks, i, check) {
        name = check_text(check, "name");
        if (cli_table_width(name) > width)
            width = cli_table_width(name);
        free(name);
    }
    json_array_foreach (checks, i, check)
        print_check(out, check, width, color);
    return ferror(out) ? CL_EIO : CL_OK;
}

int cli_sync_doctor_verdict(struct cli_sync_verdict *out, const json_t *answer, struct cl_err *err)
{
    const json_t *checks = json_object_get(answer, "checks");
    struct cli_sync_verdict v = {0, 0, false};
    const json_t *check;
    size_t i;

    if (!json_is_array(checks))
        return cl_fail(err, CL_EHTTP, "unexpected answer from the server: no \"checks\" array");
    json_array_foreach (checks, i, check) {
        if (!json_is_true(json_object_get(check, "ok")))
            v.failed++;
    }
    v.checks = json_array_size(checks);
    v.ok = v.failed == 0 && !json_is_false(json_object_get(answer, "ok"));
    *out = v;
    return CL_OK;
}
