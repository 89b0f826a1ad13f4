#include "closeloop/cli/show/cli_outcomes.h"

#include "closeloop/cli/cli_api.h"
#include "closeloop/cli/cli_build.h"
#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/show/cli_render.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTCOMES_LINE_MAX     4096 /* bytes of one answer to a prompt */
#define OUTCOMES_DEFAULT_DAYS 14   /* a new due date's default: two weeks from today */

int cli_outcomes_doc(FILE *out, struct cli_http *h, long *status, const struct cli_args *a,
                     struct cl_err *err)
{
    const char *format = cli_args_get(a, "format");
    char *path = cli_build_path(a);
    char *query = cli_build_query(a);
    char *url = cl_asprintf("%s?format=%s%s%s", path, format != NULL ? format : "md",
                            query[0] != '\0' ? "&" : "", query);
    struct cli_http_resp r = {0, NULL, 0};
    json_t *doc = NULL;
    int rc = cli_http_do(&r, h, "GET", url, NULL, NULL, err);

    *status = rc == CL_OK ? r.status : 0;
    if (rc == CL_OK && (r.status < 200 || r.status > 299))
        rc = cli_api_describe(err, r.status, r.body, r.len, cli_http_base(h));
    else if (rc == CL_OK && format != NULL && strcmp(format, "json") == 0) {
        rc = cli_api_decode(&doc, &r, cli_http_base(h), err);
        if (rc == CL_OK)
            rc = cli_render_json(out, doc);
    } else if (rc == CL_OK && r.body != NULL) {
        fwrite(r.body, 1, r.len, out);
        if (r.len > 0 && r.body[r.len - 1] != '\n')
            fputc('\n', out);
    }
    json_decref(doc);
    cli_http_resp_dispose(&r);
    free(url);
    free(query);
    free(path);
    return rc;
}

/* ---- the body from flags ---- */

/* The item of action `id` in items, made (in order) when it is not there yet. Borrowed. */
static json_t *item_for(json_t *items, long id)
{
    json_t *it;
    size_t i;

    json_array_foreach (items, i, it)
        if (json_integer_value(json_object_get(it, "action")) == id)
            return it;
    it = json_pack("{s:I}", "action", (json_int_t)id);
    json_array_append_new(items, it);
    return it;
}

/* A date as the server takes it (YYYY-MM-DD), read as people type it. */
static int date_value(json_t **out, const char *flag, const char *v, long today, struct cl_err *err)
{
    char buf[16];
    const char *why = NULL;
    long day;

    if (cli_date_read(&day, &why, v, today) != CL_OK)
        return cl_fail(err, CL_EINVAL, "--%s %s, not '%.40s'", flag, why, v);
    cli_date_format(buf, sizeof(buf), day);
    *out = json_string(buf);
    return CL_OK;
}

/* Where --NAME ID=VALUE goes in the item: "due_on", or "follow_up" member "owner"... */
static int pair_set(json_t *it, const char *flag, const char *v, long today, struct cl_err *err)
{
    static const char *const map[][3] = {{"outcome", NULL, "outcome"},
                                         {"note", NULL, "note"},
                                         {"due", NULL, "due_on"},
                                         {"reason", NULL, "reason"},
                                         {"evidence", NULL, "evidence"},
                                         {"follow-up", "follow_up", "title"},
                                         {"follow-up-owner", "follow_up", "owner"},
                                         {"follow-up-due", "follow_up", "due_on"}};
    json_t *val = NULL;
    json_t *obj = it;
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(map) && strcmp(map[i][0], flag) != 0; i++)
        ;
    if (i == CL_ARRAY_LEN(map))
        return cl_fail(err, CL_EINVAL, "--%s is not a per-action option", flag);
    if (strcmp(map[i][2], "due_on") == 0 && date_value(&val, flag, v, today, err) != CL_OK)
        return CL_EINVAL;
    if (val == NULL)
        val = json_string(v);
    if (map[i][1] != NULL) {
        obj = json_object_get(it, map[i][1]);
        if (obj == NULL) {
            obj = json_object();
            json_object_set_new(it, map[i][1], obj);
        }
    }
    json_object_set_new(obj, map[i][2], val);
    return CL_OK;
}

/* "a, b,c" -> ["a", "b", "c"]. */
static json_t *split_list(const char *s)
{
    json_t *list = json_array();

    while (s != NULL && *s != '\0') {
        size_t n = strcspn(s, ",");
        size_t b = 0;

        while (b < n && s[b] == ' ')
            b++;
        while (n > b && s[n - 1] == ' ')
            n--;
        if (n > b)
            json_array_append_new(list, json_stringn(s + b, n - b));
        s += strcspn(s, ",");
        s += *s == ',';
    }
    return list;
}

int cli_outcomes_flags_body(json_t **out, const struct cli_args *a, long today, struct cl_err *err)
{
    json_t *items = json_array();
    json_t *body = NULL;
    const char *att = cli_args_get(a, "attended");
    const char *notes = cli_args_get(a, "notes");
    size_t i;
    int rc = CL_OK;

    for (i = 0; rc == CL_OK && i < a->nrep; i++) {
        const char *v = a->rep[i];
        const char *eq = strchr(v, '=');
        long id = 0;
        char num[24];

        snprintf(num, sizeof(num), "%.*s", (int)(eq - v), v); /* checked by the parser */
        cl_parse_long(&id, num, 1, __LONG_MAX__);
        rc = pair_set(item_for(items, id), a->verb->opts[a->rep_opt[i]].name, eq + 1, today, err);
    }
    if (rc == CL_OK && json_array_size(items) > 0) {
        body = json_pack("{s:O}", "items", items);
        if (att != NULL)
            json_object_set_new(body, "attended", split_list(att));
        if (notes != NULL)
            json_object_set_new(body, "notes", json_string(notes));
    }
    json_decref(items);
    *out = rc == CL_OK ? body : NULL;
    if (rc != CL_OK)
        json_decref(body);
    return rc;
}

/* ---- prompts ---- */

struct prompt {
    FILE *in;
    FILE *err;
    long today;
};

/* One answer: the line typed, or def when it is empty. Caller frees. NULL at end of input. */
static char *ask(struct prompt *p, const char *question, const char *def)
{
    char line[OUTCOMES_LINE_MAX];
    size_t n;

    fprintf(p->err, "%s%s%s%s: ", question, def != NULL ? " [" : "", def != NULL ? def : "",
            def != NULL ? "]" : "");
    fflush(p->err);
    if (fgets(line, sizeof(line), p->in) == NULL)
        return NULL;
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0)
        return cl_strdup(def != NULL ? def : "");
    return cl_strdup(line);
}

/* The outcome the meeting most likely records for an action of the agenda. */
static const char *default_outcome(const json_t *a)
{
    const char *st = json_string_value(json_object_get(a, "status"));

    return st != NULL && strcmp(st, "done") == 0 ? "effective" : "not_done";
}

static int ask_into(json_t *obj, const char *key, struct prompt *p, const char *q, const char *def,
                    struct cl_err *err)
{
    char *v = ask(p, q, def);

    if (v == NULL)
        return cl_fail(err, CL_EINVAL, "input ended before every question was answered");
    if (*v != '\0')
        json_object_set_new(obj, key, json_string(v));
    free(v);
    return CL_OK;
}

/* The date questions take what people type (friday, 2026-12-24); asked again until valid.
 * The default is `due` when it is still ahead, else two weeks from today. */
static int ask_date(json_t *obj, const char *key, struct prompt *p, const char *q, const char *due,
                    struct cl_err *err)
{
    char def[16];
    json_t *val = NULL;
    struct cl_err e2 = CL_ERR_INIT;
    long day;
    char *v;

    if (due == NULL || cli_date_parse(&day, due) != CL_OK || day <= p->today)
        day = p->today + OUTCOMES_DEFAULT_DAYS;
    cli_date_format(def, sizeof(def), day);
    for (;;) {
        v = ask(p, q, def);
        if (v == NULL)
            return cl_fail(err, CL_EINVAL, "input ended before every question was answered");
        cl_err_clear(&e2);
        if (date_value(&val, "due", v, p->today, &e2) == CL_OK) {
            json_object_set_new(obj, key, val);
            free(v);
            return CL_OK;
        }
        fprintf(p->err, "  %s\n", e2.msg);
        free(v);
    }
}

static int ask_outcome(const char **out, struct prompt *p, const json_t *a, struct cl_err *err)
{
    static const char *const words[] = {"effective", "not_effective", "not_done", "dropped"};
    char *v;
    size_t i;

    for (;;) {
        v = ask(p, "  outcome (effective, not_effective, not_done, dropped)", default_outcome(a));
        if (v == NULL)
            return cl_fail(err, CL_EINVAL, "input ended before every question was answered");
        for (i = 0; i < CL_ARRAY_LEN(words) && strcmp(words[i], v) != 0; i++)
            ;
        free(v);
        if (i < CL_ARRAY_LEN(words)) {
            *out = words[i];
            return CL_OK;
        }
        fputs("  one of effective, not_effective, not_done, dropped\n", p->err);
    }
}

static int ask_follow_up(json_t *it, struct prompt *p, const json_t *a, bool required,
                         struct cl_err *err)
{
    json_t *f = json_object();
    const char *owner = json_string_value(json_object_get(a, "owner"));
    char *title = cl_asprintf("Follow-up: %s", json_string_value(json_object_get(a, "title")));
    char *yes = required ? cl_strdup("y") : ask(p, "  a follow-up action? (y/n)", "n");
    int rc = yes == NULL ? cl_fail(err, CL_EINVAL, "input ended") : CL_OK;

    if (rc == CL_OK && yes[0] == 'y') {
        rc = ask_into(f, "title", p, "  follow-up title", title, err);
        if (rc == CL_OK)
            rc = ask_into(f, "owner", p, "  follow-up owner", owner, err);
        if (rc == CL_OK)
            rc = ask_date(f, "due_on", p, "  follow-up due date", NULL, err);
        if (rc == CL_OK)
            json_object_set(it, "follow_up", f);
    }
    json_decref(f);
    free(title);
    free(yes);
    return rc;
}

/* The questions for one action of the agenda, its answers added to items. */
static int ask_action(json_t *items, struct prompt *p, const json_t *a, struct cl_err *err)
{
    json_t *it = json_pack("{s:O}", "action", json_object_get(a, "id"));
    const char *o = NULL;
    int rc;

    fprintf(p->err, "\n#%" JSON_INTEGER_FORMAT " %s\n  owner %s, %s, due %s: %s\n",
            json_integer_value(json_object_get(a, "id")),
            json_string_value(json_object_get(a, "title")),
            json_is_string(json_object_get(a, "owner"))
                ? json_string_value(json_object_get(a, "owner"))
                : "nobody",
            json_string_value(json_object_get(a, "status")),
            json_is_string(json_object_get(a, "due_on"))
                ? json_string_value(json_object_get(a, "due_on"))
                : "never",
            json_string_value(json_object_get(a, "expect_text")));
    rc = ask_outcome(&o, p, a, err);
    if (rc == CL_OK)
        json_object_set_new(it, "outcome", json_string(o));
    if (rc == CL_OK && strcmp(o, "not_done") == 0)
        rc = ask_date(it, "due_on", p, "  new due date",
                      json_string_value(json_object_get(a, "due_on")), err);
    if (rc == CL_OK && strcmp(o, "dropped") == 0)
        rc = ask_into(it, "reason", p, "  why it will not be done", NULL, err);
    if (rc == CL_OK && strncmp(o, "effective", 9) == 0)
        rc = ask_into(it, "evidence", p, "  evidence (a URL or what shows it)", NULL, err);
    if (rc == CL_OK)
        rc = ask_follow_up(it, p, a, strcmp(o, "not_effective") == 0, err);
    if (rc == CL_OK)
        rc = ask_into(it, "note", p, "  note", NULL, err);
    if (rc == CL_OK)
        json_array_append(items, it);
    json_decref(it);
    return rc;
}

/* Every action of the agenda that needs an outcome, asked in turn; then who attended. */
static int prompt_body(json_t **out, struct prompt *p, const json_t *agenda, struct cl_err *err)
{
    const json_t *actions = json_object_get(agenda, "actions");
    json_t *items = json_array();
    json_t *body = json_object();
    char *att = NULL;
    const json_t *a;
    size_t i;
    int rc = CL_OK;

    json_array_foreach (actions, i, a)
        if (rc == CL_OK && json_is_true(json_object_get(a, "needs_outcome")))
            rc = ask_action(items, p, a, err);
    if (rc == CL_OK)
        att = ask(p, "\nwho attended (handles or addresses, comma-separated)", NULL);
    if (rc == CL_OK && att == NULL)
        rc = cl_fail(err, CL_EINVAL, "input ended before every question was answered");
    if (rc == CL_OK)
        rc = ask_into(body, "notes", p, "notes of the meeting", NULL, err);
    if (rc == CL_OK) {
        json_object_set(body, "items", items);
        json_object_set_new(body, "attended", split_list(att));
        *out = body;
        body = NULL;
    }
    free(att);
    json_decref(items);
    json_decref(body);
    return rc;
}

/* ---- the verb ---- */

static int read_file_body(json_t **out, const char *path, FILE *in, struct cl_err *err)
{
    json_error_t jerr;
    FILE *f = strcmp(path, "-") == 0 ? in : fopen(path, "r");
    json_t *body;

    if (f == NULL)
        return cl_fail(err, CL_EINVAL, "--file %s: cannot open it", path);
    body = json_loadf(f, 0, &jerr);
    if (f != in)
        fclose(f);
    if (!json_is_object(body)) {
        json_decref(body);
        return cl_fail(err, CL_EINVAL, "--file %s: not a JSON object (%s, line %d)", path,
                       jerr.text, jerr.line);
    }
    *out = body;
    return CL_OK;
}

static int agenda_get(json_t **out, struct cli_http *h, long *status, const struct cli_args *a,
                      struct cl_err *err)
{
    char *key = cli_build_escape(a->pos[0]);
    char *url = cl_asprintf("/api/v1/incidents/%s/review/agenda", key);
    int rc = cli_api_call(out, status, h, "GET", url, NULL, NULL, err);

    free(url);
    free(key);
    return rc;
}

/* The body the person gave: --file, the flags, or the prompts on a terminal. */
static int hold_body(json_t **out, const struct cli_cmd_io *io, struct cli_http *h, long *status,
                     const struct cli_args *a, struct cl_err *err)
{
    struct prompt p = {io->in, io->err, cli_date_today()};
    const char *file = cli_args_get(a, "file");
    json_t *agenda = NULL;
    int rc;

    if (file != NULL && a->nrep > 0)
        return cl_fail(err, CL_EINVAL, "--file and per-action options: give one or the other");
    if (file != NULL)
        return read_file_body(out, file, io->in, err);
    rc = cli_outcomes_flags_body(out, a, p.today, err);
    if (rc != CL_OK || *out != NULL)
        return rc;
    if (!isatty(fileno(io->in)))
        return cl_fail(err, CL_EINVAL,
                       "no outcomes: give --outcome ID=OUTCOME per action, or --file, or run "
                       "it on a terminal to be asked");
    rc = agenda_get(&agenda, h, status, a, err);
    if (rc == CL_OK)
        rc = prompt_body(out, &p, agenda, err);
    json_decref(agenda);
    return rc;
}

/* "#12 effective", one a line, then the follow-ups and who got the summary. */
static void print_held(FILE *out, const json_t *answer)
{
    const json_t *it;
    size_t i;

    fprintf(out, "held: %s\n", json_string_value(json_object_get(answer, "subject")));
    json_array_foreach (json_object_get(answer, "items"), i, it) {
        const json_t *f = json_object_get(it, "follow_up");

        fprintf(out, "#%" JSON_INTEGER_FORMAT " %s",
                json_integer_value(json_object_get(it, "action")),
                json_string_value(json_object_get(it, "outcome")));
        if (json_is_string(json_object_get(it, "new_due_on")))
            fprintf(out, ", due %s", json_string_value(json_object_get(it, "new_due_on")));
        if (json_is_object(f))
            fprintf(out, ", follow-up #%" JSON_INTEGER_FORMAT,
                    json_integer_value(json_object_get(f, "id")));
        fputc('\n', out);
    }
    fprintf(out, "summary sent to %" JSON_INTEGER_FORMAT " recipient(s)\n",
            json_integer_value(json_object_get(answer, "recipients")));
}

int cli_outcomes_hold(const struct cli_cmd_io *io, struct cli_http *h, long *status,
                      const struct cli_args *a, struct cl_err *err)
{
    json_t *body = NULL;
    json_t *answer = NULL;
    char *path = cli_build_path(a);
    int rc = hold_body(&body, io, h, status, a, err);

    if (rc == CL_OK)
        rc = cli_api_call(&answer, status, h, "POST", path, body, NULL, err);
    if (rc == CL_OK && a->json)
        rc = cli_render_json(io->out, answer);
    else if (rc == CL_OK)
        print_held(io->out, answer);
    json_decref(answer);
    json_decref(body);
    free(path);
    return rc;
}
