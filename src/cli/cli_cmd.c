#include "closeloop/cli/cli_cmd.h"

#include "closeloop/cli/cli_complete.h"

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_api.h"
#include "closeloop/cli/cli_args.h"
#include "closeloop/cli/cli_build.h"
#include "closeloop/cli/cli_conf.h"
#include "closeloop/cli/show/cli_dashboard.h"
#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/show/cli_feed.h"
#include "closeloop/cli/show/cli_figures.h"
#include "closeloop/cli/cli_help.h"
#include "closeloop/cli/cli_http.h"
#include "closeloop/cli/cli_man.h"
#include "closeloop/cli/show/cli_outcomes.h"
#include "closeloop/cli/cli_page.h"
#include "closeloop/cli/show/cli_render.h"
#include "closeloop/cli/show/cli_review.h"
#include "closeloop/cli/show/cli_search.h"
#include "closeloop/cli/show/cli_sync.h"
#include "closeloop/util/version.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLI_DASHBOARD_EVERY 10 /* default seconds between two drawings of dashboard --watch */

#define CLI_CMD_SHOW_NOTES 3 /* the latest notes `action show` prints */

struct ctx {
    const struct cli_cmd_io *io;
    const struct cli_args *args;
    struct cli_http *http;
    long today;
    long now;    /* seconds since the epoch, for "3m ago" */
    long status; /* HTTP status of the last answer; 0 while none came */
    int verdict; /* exit code of a run that worked but found problems (github doctor) */
};

/* One paged GET, for cli_page_collect(). */
struct list_req {
    struct ctx *c;
    const char *path;
    const char *query; /* "" when none */
    bool paged;        /* whether to send limit= */
};

/* path?a&b&c of the non-empty parts. Caller frees. */
static char *with_query(const char *path, const char *const *parts, size_t n)
{
    char *url = cl_strdup(path);
    char *next;
    bool first = true;
    size_t i;

    for (i = 0; i < n; i++) {
        if (parts[i] == NULL || *parts[i] == '\0')
            continue;
        next = cl_asprintf("%s%c%s", url, first ? '?' : '&', parts[i]);
        free(url);
        url = next;
        first = false;
    }
    return url;
}

static int fetch_page(json_t **page, const char *cursor, size_t want, struct cl_err *err, void *arg)
{
    struct list_req *r = arg;
    char *esc = cursor != NULL ? cli_build_escape(cursor) : NULL;
    char *cur = esc != NULL ? cl_asprintf("cursor=%s", esc) : NULL;
    char *limit = r->paged ? cl_asprintf("limit=%zu", want) : NULL;
    const char *parts[] = {r->query, limit, cur};
    char *url = with_query(r->path, parts, CL_ARRAY_LEN(parts));
    int rc = cli_api_call(page, &r->c->status, r->c->http, "GET", url, NULL, NULL, err);

    free(esc);
    free(cur);
    free(limit);
    free(url);
    return rc;
}

/* The row cap: --limit when the verb has it and it was given, else the verb's default. */
static size_t row_limit(const struct ctx *c)
{
    const char *v = cli_args_get(c->args, "limit");
    long n;

    if (v != NULL && cl_parse_long(&n, v, 1, CLI_VERBS_LIMIT_MAX) == CL_OK)
        return (size_t)n;
    return c->args->verb->limit;
}

/* Whether verb v has the option --name. */
static bool has_option(const struct cli_verb *v, const char *name)
{
    size_t i;

    for (i = 0; i < cli_verbs_count(v->opts); i++) {
        if (strcmp(v->opts[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Every page up to limit rows; says on stderr when the server had more. */
static int fetch_list(json_t **items, struct ctx *c, struct list_req *r, size_t limit,
                      struct cl_err *err)
{
    bool more = false;
    int rc = cli_page_collect(items, &more, limit, fetch_page, r, err);

    if (rc == CL_OK && more)
        fprintf(c->io->err, "closeloop: showing the first %zu rows; the server has more%s\n",
                json_array_size(*items),
                has_option(c->args->verb, "limit") ? " (raise --limit or narrow the filters)" : "");
    return rc;
}

static int cmd_list(struct ctx *c, struct cl_err *err)
{
    char *path = cli_build_path(c->args);
    char *query = cli_build_query(c->args);
    struct list_req r = {c, path, query, c->args->verb->paged};
    json_t *items = NULL;
    int rc = fetch_list(&items, c, &r, row_limit(c), err);

    const char *format = cli_args_get(c->args, "format");

    if (rc == CL_OK && (c->args->json || (format != NULL && strcmp(format, "json") == 0)))
        rc = cli_render_json(c->io->out, items);
    else if (rc == CL_OK && format != NULL && strcmp(format, "table") != 0)
        rc = cli_render_list_as(c->io->out, c->args->verb->res, items, c->today,
                                strcmp(format, "csv") == 0 ? CLI_RENDER_CSV : CLI_RENDER_MARKDOWN);
    else if (rc == CL_OK)
        rc = cli_render_list(c->io->out, c->args->verb->res, items, c->io->color, c->today, c->now,
                             c->io->width);
    json_decref(items);
    free(path);
    free(query);
    return rc;
}

static int print_id(struct ctx *c, const json_t *obj, struct cl_err *err)
{
    const json_t *id = json_object_get(obj, "id");

    if (json_is_integer(id))
        fprintf(c->io->out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(id));
    else if (json_is_string(id))
        fprintf(c->io->out, "%s\n", json_string_value(id));
    else
        return cl_fail(err, CL_EHTTP, "the answer from %s has no id", cli_http_base(c->http));
    return CL_OK;
}

/* Human output of one answer, by what it holds. */
static int render_answer(struct ctx *c, const json_t *obj)
{
    FILE *out = c->io->out;

    switch (c->args->verb->res) {
    case CLI_RES_SYNC:
        return cli_sync_render_status(out, obj, c->io->color, c->now);
    case CLI_RES_IMPORT:
        return cli_sync_render_import(out, obj, cli_args_get(c->args, "incident"));
    case CLI_RES_DOCTOR:
        return cli_sync_render_doctor(out, obj, c->io->color);
    case CLI_RES_BACKLOG:
        return cli_review_render_backlog(out, obj, c->io->color, c->today);
    case CLI_RES_FEED: /* a new feed: its URL, this once */
        if (c->args->verb->op == CLI_OP_CREATE)
            return cli_feed_render_created(out, obj, cli_http_base(c->http));
        break;
    case CLI_RES_BATCH: /* the actions it created, as action list shows them */
        if (!json_is_array(json_object_get(obj, "items")))
            return CL_EHTTP;
        return cli_render_list(out, CLI_RES_ACTION, json_object_get(obj, "items"), c->io->color,
                               c->today, c->now, c->io->width);
    case CLI_RES_TEAM:
    case CLI_RES_PERSON:
    case CLI_RES_INCIDENT:
    case CLI_RES_ACTION:
    case CLI_RES_EVENT:
    case CLI_RES_REPORT:
    case CLI_RES_FIGURES:
    case CLI_RES_REVIEW:
    case CLI_RES_REVIEW_EVENT:
    case CLI_RES_REVIEW_LIST:
    case CLI_RES_MAIL:
    case CLI_RES_CHAT:
    case CLI_RES_SEARCH:
    case CLI_RES_DIGEST:
    case CLI_RES_REMINDER:
        break;
    }
    return cli_render_object(out, c->args->verb->res, obj, c->io->color, c->today, c->now,
                             c->io->width);
}

/* A doctor answer, then the verdict: failed checks exit 1, whatever the output format. The
 * note goes to stderr after the output is flushed, so that it comes last on a terminal. */
static int print_doctor(struct ctx *c, const json_t *answer, struct cl_err *err)
{
    struct cli_sync_verdict v = {0, 0, true};
    int rc = cli_sync_doctor_verdict(&v, answer, err);

    if (rc == CL_OK)
        rc = c->args->json ? cli_render_json(c->io->out, answer) : render_answer(c, answer);
    if (rc != CL_OK || v.ok)
        return rc;
    fflush(c->io->out);
    c->verdict = CLI_API_EXIT_REJECTED;
    if (v.failed > 0)
        fprintf(c->io->err, "closeloop: %zu of %zu checks failed\n", v.failed, v.checks);
    else
        fputs("closeloop: the server reports a failed check\n", c->io->err);
    return CL_OK;
}

static int print_object(struct ctx *c, const json_t *obj, struct cl_err *err)
{
    if (c->args->verb->res == CLI_RES_DOCTOR)
        return print_doctor(c, obj, err);
    if (obj == NULL)
        return CL_OK; /* 204: nothing to show */
    if (c->args->json)
        return cli_render_json(c->io->out, obj);
    if (c->args->verb->prints_id)
        return print_id(c, obj, err);
    return render_answer(c, obj);
}

/* What the server says is still missing ({"warnings": ["..."]}), on stderr: the change
 * is made, the exit code stays 0. */
static void print_warnings(struct ctx *c, const json_t *obj)
{
    const json_t *w = json_object_get(obj, "warnings");
    size_t i;

    for (i = 0; i < json_array_size(w); i++)
        if (json_is_string(json_array_get(w, i)))
            fprintf(c->io->err, "closeloop: warning: %s\n",
                    json_string_value(json_array_get(w, i)));
}

/* CREATE, SHOW, EDIT, POST and DELETE: one request, one object back. */
static int cmd_object(struct ctx *c, const json_t *body, struct cl_err *err)
{
    static const char *const methods[] = {
        [CLI_OP_CREATE] = "POST", [CLI_OP_SHOW] = "GET", [CLI_OP_EDIT] = "PATCH",
        [CLI_OP_POST] = "POST",   [CLI_OP_PUT] = "PUT",  [CLI_OP_DELETE] = "DELETE"};
    char *path = cli_build_path(c->args);
    char *if_match = cli_build_if_match(c->args);
    json_t *obj = NULL;
    int rc = cli_api_call(&obj, &c->status, c->http, methods[c->args->verb->op], path, body,
                          if_match, err);

    if (rc == CL_OK)
        rc = print_object(c, obj, err);
    if (rc == CL_OK)
        print_warnings(c, obj);
    json_decref(obj);
    free(path);
    free(if_match);
    return rc;
}

/* JSON output of incident show: both answers in one document. */
static int print_incident_json(struct ctx *c, json_t *incident, json_t *actions)
{
    json_t *doc = json_pack("{s:O, s:O}", "incident", incident, "actions", actions);
    int rc = doc != NULL ? cli_render_json(c->io->out, doc) : CL_EIO;

    json_decref(doc);
    return rc;
}

static int print_incident(struct ctx *c, json_t *incident, json_t *actions)
{
    int rc;

    if (c->args->json)
        return print_incident_json(c, incident, actions);
    rc = cli_render_object(c->io->out, CLI_RES_INCIDENT, incident, c->io->color, c->today, c->now,
                           c->io->width);
    fputc('\n', c->io->out);
    if (rc == CL_OK)
        rc = cli_render_list(c->io->out, CLI_RES_ACTION, actions, c->io->color, c->today, c->now,
                             c->io->width);
    return rc;
}

static int cmd_incident_show(struct ctx *c, struct cl_err *err)
{
    char *path = cli_build_path(c->args);
    char *key = cli_build_escape(c->args->pos[0]);
    char *query = cl_asprintf("incident=%s", key);
    struct list_req r = {c, "/api/v1/actions", query, true};
    json_t *incident = NULL;
    json_t *actions = NULL;
    int rc = cli_api_call(&incident, &c->status, c->http, "GET", path, NULL, NULL, err);

    if (rc == CL_OK && !json_is_object(incident))
        rc = cl_fail(err, CL_EHTTP, "unexpected answer from %s", cli_http_base(c->http));
    if (rc == CL_OK)
        rc = fetch_list(&actions, c, &r, CLI_VERBS_LIMIT_MAX, err);
    if (rc == CL_OK)
        rc = print_incident(c, incident, actions);
    json_decref(incident);
    json_decref(actions);
    free(path);
    free(key);
    free(query);
    return rc;
}

/* report figures: one GET, printed as a table, CSV, Markdown or JSON. */
static int cmd_figures(struct ctx *c, struct cl_err *err)
{
    const char *format = cli_args_get(c->args, "format");
    char *query = cli_build_query(c->args);
    const char *parts[] = {query};
    char *url = with_query("/api/v1/figures", parts, CL_ARRAY_LEN(parts));
    json_t *answer = NULL;
    int rc = cli_api_call(&answer, &c->status, c->http, "GET", url, NULL, NULL, err);

    if (rc == CL_OK && !json_is_object(answer))
        rc = cl_fail(err, CL_EHTTP, "unexpected answer from %s", cli_http_base(c->http));
    if (rc == CL_OK && (c->args->json || (format != NULL && strcmp(format, "json") == 0)))
        rc = cli_render_json(c->io->out, answer);
    else if (rc == CL_OK)
        rc = cli_figures_print(c->io->out, answer, format, c->io->color, c->io->width);
    json_decref(answer);
    free(url);
    free(query);
    return rc;
}

static int dashboard_get(json_t **out, const char *path, struct cl_err *err, void *arg)
{
    struct ctx *c = arg;

    return cli_api_call(out, &c->status, c->http, "GET", path, NULL, NULL, err);
}

/* dashboard: one screen; with --watch drawn again every --every (CLI_DASHBOARD_EVERY)
 * seconds, the terminal cleared first, until interrupted or a request fails. */
static int cmd_dashboard(struct ctx *c, struct cl_err *err)
{
    struct cli_dashboard d = {cli_args_get(c->args, "team"),
                              cli_args_get(c->args, "incident"),
                              c->args->json,
                              c->io->color,
                              c->io->width,
                              c->today,
                              dashboard_get,
                              c};
    bool watch = cli_args_get(c->args, "watch") != NULL;
    const char *every = cli_args_get(c->args, "every");
    long secs = CLI_DASHBOARD_EVERY;
    int rc;

    if (every != NULL && cl_parse_long(&secs, every, 1, CLI_VERBS_LIMIT_MAX) != CL_OK)
        secs = CLI_DASHBOARD_EVERY; /* checked by the parser: not reached */
    for (;;) {
        if (watch && c->io->width > 0)
            fputs("\033[H\033[2J", c->io->out);
        rc = cli_dashboard_draw(c->io->out, &d, err);
        if (rc != CL_OK || !watch)
            return rc;
        fflush(c->io->out);
        sleep((unsigned)secs);
        d.today = cli_date_today();
    }
}

/* search TEXT: the best --limit hits, pages of CLI_SEARCH_PAGE. */
static int cmd_search(struct ctx *c, struct cl_err *err)
{
    char *query = cli_build_query(c->args);
    struct cli_search s = {c->args->pos[0], query,
                           row_limit(c),    cli_args_get(c->args, "format"),
                           c->args->json,   c->io->color,
                           c->io->width,    c->now,
                           dashboard_get,   c};
    int rc = cli_search_run(c->io->out, c->io->err, &s, err);

    free(query);
    return rc;
}

/* The action, then what its history says: --json prints the action alone, as it came. */
static int cmd_action_show(struct ctx *c, struct cl_err *err)
{
    char *path = cli_build_path(c->args);
    char *hpath = cl_asprintf("%s/history", path);
    char *rpath = cl_asprintf("%s/reminder", path);
    json_t *action = NULL;
    json_t *history = NULL;
    json_t *reminder = NULL;
    int rc = cli_api_call(&action, &c->status, c->http, "GET", path, NULL, NULL, err);

    if (rc == CL_OK && !json_is_object(action))
        rc = cl_fail(err, CL_EHTTP, "unexpected answer from %s", cli_http_base(c->http));
    if (rc == CL_OK && c->args->json) {
        rc = cli_render_json(c->io->out, action);
        goto cleanup;
    }
    if (rc == CL_OK)
        rc = cli_api_call(&history, &c->status, c->http, "GET", hpath, NULL, NULL, err);
    if (rc == CL_OK)
        rc = render_answer(c, action);
    if (rc == CL_OK)
        rc = cli_api_call(&reminder, &c->status, c->http, "GET", rpath, NULL, NULL, err);
    if (rc == CL_OK && json_is_object(reminder))
        rc = cli_render_object(c->io->out, CLI_RES_REMINDER, reminder, c->io->color, c->today,
                               c->now, c->io->width);
    if (rc == CL_OK)
        rc = cli_render_action_story(c->io->out, action, json_object_get(history, "items"), c->now,
                                     CLI_CMD_SHOW_NOTES);
cleanup:
    json_decref(action);
    json_decref(history);
    json_decref(reminder);
    free(path);
    free(hpath);
    free(rpath);
    return rc;
}

static int dispatch(struct ctx *c, const json_t *body, struct cl_err *err)
{
    switch (c->args->verb->op) {
    case CLI_OP_LIST:
        return cmd_list(c, err);
    case CLI_OP_FIGURES:
        return cmd_figures(c, err);
    case CLI_OP_DASHBOARD:
        return cmd_dashboard(c, err);
    case CLI_OP_INCIDENT_SHOW:
        return cmd_incident_show(c, err);
    case CLI_OP_ACTION_SHOW:
        return cmd_action_show(c, err);
    case CLI_OP_DOC:
        return cli_outcomes_doc(c->io->out, c->http, &c->status, c->args, err);
    case CLI_OP_REVIEW_HOLD:
        return cli_outcomes_hold(c->io, c->http, &c->status, c->args, err);
    case CLI_OP_SEARCH:
        return cmd_search(c, err);
    case CLI_OP_CREATE:
    case CLI_OP_SHOW:
    case CLI_OP_EDIT:
    case CLI_OP_POST:
    case CLI_OP_PUT:
    case CLI_OP_DELETE:
        break;
    }
    return cmd_object(c, body, err);
}

/* The request body, built and checked before anything is sent; NULL for GETs. */
static int prepare_body(json_t **out, const struct cli_args *a, FILE *in, struct cl_err *err)
{
    enum cli_op op = a->verb->op;
    json_t *body = NULL;
    int rc;

    *out = NULL;
    if (op != CLI_OP_CREATE && op != CLI_OP_EDIT && op != CLI_OP_POST && op != CLI_OP_PUT)
        return CL_OK;
    rc = cli_build_body(&body, a, in, err);
    if (rc == CL_OK && op == CLI_OP_EDIT && json_object_size(body) == 0)
        rc = cl_fail(err, CL_EINVAL, "nothing to change: give at least one option");
    if (rc != CL_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return CL_OK;
}

static int usage_error(const struct cli_cmd_io *io, const struct cli_args *a, const char *msg)
{
    fprintf(io->err, "closeloop: %s\n", msg);
    if (a->verb != NULL)
        fprintf(io->err, "try 'closeloop %s %s --help'\n", a->verb->group, a->verb->name);
    else if (a->group != NULL)
        fprintf(io->err, "try 'closeloop %s --help'\n", a->group);
    else
        fputs("try 'closeloop --help'\n", io->err);
    return CLI_API_EXIT_USAGE;
}

/* The exit code of a failed run: what the server's status means, else a service problem. */
static int failure_exit(long status)
{
    int code = cli_api_exit_for_status(status);

    return code == CLI_API_EXIT_OK ? CLI_API_EXIT_SERVICE : code;
}

/* Rewrites msg when it is about `o`'s API field: "(field X)" becomes "(--flag)" (or the
 * positional's placeholder) and a leading "X " the same. True when it did. */
static bool flag_name(char *msg, size_t n, const struct cli_opt *o, const char *dashes)
{
    char note[96];
    char *p;
    char *out;
    size_t fl;

    if (o->field == NULL || o->dest != CLI_TO_BODY)
        return false;
    fl = strlen(o->field);
    snprintf(note, sizeof(note), "(field %s", o->field);
    p = strstr(msg, note);
    if (p == NULL || (p[strlen(note)] != ')' && p[strlen(note)] != ';'))
        return false;
    if (strncmp(msg, o->field, fl) == 0 && msg[fl] == ' ') /* "due_on must ..." */
        out = cl_asprintf("%s%s%.*s(%s%s%s", dashes, o->name, (int)(p - msg - fl), msg + fl, dashes,
                          o->name, p + strlen(note));
    else
        out = cl_asprintf("%.*s(%s%s%s", (int)(p - msg), msg, dashes, o->name, p + strlen(note));
    snprintf(msg, n, "%s", out);
    free(out);
    return true;
}

/* The server names API fields ("resolved_at"); the person typed flags (--resolved). A
 * message about a field this verb takes says the flag or the argument instead. */
static void flag_names(char *msg, size_t n, const struct cli_verb *v)
{
    const struct cli_opt *o;

    for (o = v->opts; o != NULL && o->name != NULL; o++)
        if (flag_name(msg, n, o, "--"))
            return;
    for (o = v->pos; o != NULL && o->name != NULL; o++)
        if (flag_name(msg, n, o, ""))
            return;
}

static int connect_and_run(struct ctx *c, const json_t *body, struct cl_err *err)
{
    struct cli_conf conf = {NULL, NULL, ""};
    int rc = cli_conf_resolve(&conf, c->args->url, c->args->token, err);

    if (rc != CL_OK) {
        fprintf(c->io->err, "closeloop: %s\n", err->msg);
        return CLI_API_EXIT_USAGE;
    }
    if (conf.warning[0] != '\0')
        fprintf(c->io->err, "closeloop: warning: %s\n", conf.warning);
    if (conf.token == NULL)
        rc = cl_fail(err, CL_EAUTH,
                     "no token: set CLOSELOOP_TOKEN or "
                     "~/.config/closeloop/config, or pass --token");
    c->http = rc == CL_OK ? cli_http_new(conf.url, conf.token) : NULL;
    if (rc == CL_OK && c->http == NULL)
        rc = cl_fail(err, CL_EHTTP, "cannot start libcurl");
    if (rc == CL_OK && c->args->verb->timeout_s > 0)
        cli_http_set_timeout(c->http, c->args->verb->timeout_s);
    if (rc == CL_OK)
        rc = dispatch(c, body, err);
    if (rc == CL_OK && (fflush(c->io->out) != 0 || ferror(c->io->out)))
        rc = cl_fail(err, CL_EIO, "cannot write the output");
    cli_http_free(c->http);
    c->http = NULL;
    cli_conf_dispose(&conf);
    if (rc == CL_OK)
        return c->verdict;
    flag_names(err->msg, sizeof(err->msg), c->args->verb);
    fprintf(c->io->err, "closeloop: %s\n", err->msg);
    return failure_exit(c->status);
}

/* A date set on create or edit (a due date) that is already past is most likely a typo;
 * it is still sent, since recording late work is legitimate, but the person hears of it. */
static void warn_past_dates(const struct cli_cmd_io *io, const struct cli_args *a, long today)
{
    const struct cli_opt *o = a->verb->opts;
    size_t i;
    long day;

    if (a->verb->op != CLI_OP_CREATE && a->verb->op != CLI_OP_EDIT)
        return;
    for (i = 0; i < cli_verbs_count(o); i++) {
        if (o[i].dest != CLI_TO_BODY || a->vals[i] == NULL ||
            (o[i].type != CLI_VAL_DATE && o[i].type != CLI_VAL_DATE_OR_NONE))
            continue;
        if (cli_date_parse(&day, a->vals[i]) == CL_OK && day < today)
            fprintf(io->err, "closeloop: warning: --%s %s is in the past (%ld day%s ago)\n",
                    o[i].name, a->vals[i], today - day, today - day == 1 ? "" : "s");
    }
}

static int execute(const struct cli_cmd_io *io, const struct cli_args *a)
{
    struct ctx c = {io, a, NULL, cli_date_today(), (long)time(NULL), 0, CLI_API_EXIT_OK};
    struct cl_err err = CL_ERR_INIT;
    json_t *body = NULL;
    int code;

    if (prepare_body(&body, a, io->in, &err) != CL_OK)
        return usage_error(io, a, err.msg);
    warn_past_dates(io, a, c.today);
    code = connect_and_run(&c, body, &err);
    json_decref(body);
    return code;
}

static void help(FILE *out, const struct cli_args *a)
{
    if (a->verb != NULL)
        cli_help_verb(out, a->verb);
    else if (a->group != NULL)
        cli_help_group(out, cli_verbs, cli_verbs_len, a->group);
    else
        cli_help_top(out, cli_verbs, cli_verbs_len);
}

/* "closeloop completion bash|zsh": the script, written from the verb table. */
static int completion(const struct cli_cmd_io *io, int argc, char *const *argv)
{
    bool bash = argc == 3 && strcmp(argv[2], "bash") == 0;
    bool zsh = argc == 3 && strcmp(argv[2], "zsh") == 0;

    if (!bash && !zsh) {
        fputs("closeloop: " CLI_HELP_COMPLETION_USAGE "\n", io->err);
        return CLI_API_EXIT_USAGE;
    }
    if (bash)
        cli_complete_bash(io->out, cli_verbs, cli_verbs_len);
    else
        cli_complete_zsh(io->out, cli_verbs, cli_verbs_len);
    return fflush(io->out) == 0 && !ferror(io->out) ? CLI_API_EXIT_OK : CLI_API_EXIT_SERVICE;
}

/* The hidden "closeloop __complete KIND [PREFIX]" the completion scripts call: values from
 * the service, one a line; on any failure nothing at all, and exit 1. */
static int complete_values(const struct cli_cmd_io *io, int argc, char *const *argv)
{
    if (argc < 3 || argc > 4)
        return CLI_API_EXIT_USAGE;
    if (cli_complete_fetch(io->out, argv[2], argc == 4 ? argv[3] : "") != CL_OK)
        return CLI_API_EXIT_REJECTED;
    return fflush(io->out) == 0 ? CLI_API_EXIT_OK : CLI_API_EXIT_SERVICE;
}

/* "closeloop help [GROUP [VERB]]": the same text as --help, on stdout. */
static int help_command(const struct cli_cmd_io *io, int argc, char *const *argv)
{
    char *sub[4] = {argv[0], NULL, NULL, NULL};
    struct cli_args args;
    struct cl_err err = CL_ERR_INIT;
    int i;

    if (argc > 4) {
        fputs("closeloop: usage: closeloop help [GROUP [VERB]]\n", io->err);
        return CLI_API_EXIT_USAGE;
    }
    if (argc == 3 && strcmp(argv[2], "completion") == 0) {
        fputs(CLI_HELP_COMPLETION_USAGE "\n", io->out);
        return CLI_API_EXIT_OK;
    }
    for (i = 2; i < argc; i++)
        sub[i - 1] = argv[i];
    cli_args_parse(&args, argc - 1, sub, cli_verbs, cli_verbs_len, &err);
    if ((argc >= 3 && args.group == NULL) || (argc == 4 && args.verb == NULL))
        return usage_error(io, &args, err.msg);
    help(io->out, &args);
    return CLI_API_EXIT_OK;
}

int cli_cmd_run(int argc, char *const *argv, const struct cli_cmd_io *io)
{
    struct cli_args args;
    struct cl_err err = CL_ERR_INIT;
    int rc;

    if (argc < 2) {
        cli_help_short(io->err, cli_verbs, cli_verbs_len);
        return CLI_API_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0)
        return help_command(io, argc, argv);
    if (strcmp(argv[1], "completion") == 0)
        return completion(io, argc, argv);
    if (strcmp(argv[1], "__complete") == 0)
        return complete_values(io, argc, argv);
    if (strcmp(argv[1], "__man") == 0 && argc == 2) {
        cli_man_page(io->out, cli_verbs, cli_verbs_len);
        return fflush(io->out) == 0 ? CLI_API_EXIT_OK : CLI_API_EXIT_SERVICE;
    }
    rc = cli_args_parse(&args, argc, argv, cli_verbs, cli_verbs_len, &err);

    if (args.version) {
        fprintf(io->out, "closeloop %s\n", CL_VERSION);
        return CLI_API_EXIT_OK;
    }
    if (args.help) {
        help(io->out, &args);
        return CLI_API_EXIT_OK;
    }
    if (rc != CL_OK)
        return usage_error(io, &args, err.msg);
    return execute(io, &args);
}
