#include "closeloop/sync/jira.h"

#include "closeloop/sync/jira_map.h"
#include "closeloop/sync/remote.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/crypto.h"
#include "closeloop/util/log.h"
#include "closeloop/util/utf8.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JR_AUTH_PAUSE  300.0
#define JR_LIMIT_PAUSE 60.0  /* a 429 without Retry-After */
#define JR_OVERLAP     120.0 /* seconds the search window reaches back past the cursor */
#define JR_SEARCH_LAG  30.0  /* seconds Jira's search may miss a just-created issue */
#define JR_PAGE        100
#define JR_MAX_PAGES   500
#define JR_MAX_STEPS   4 /* transitions walked to reach a status */
#define JR_JQL_MAX     2000
#define JR_CHECK_PERMS "BROWSE_PROJECTS,CREATE_ISSUES,EDIT_ISSUES,TRANSITION_ISSUES,ASSIGN_ISSUES"

/* The keys of a Jira connection, on top of the neutral ones (conf.h). */
static const struct conf_key jr_keys[] = {
    {"site", "", false},           /* https://acme.atlassian.net, https://jira.corp[/ctx] */
    {"flavour", "cloud", false},   /* cloud | dc */
    {"email", "", false},          /* cloud: the account's e-mail */
    {"api_token", "", true},       /* cloud: its API token */
    {"pat", "", true},             /* dc: a personal access token */
    {"issue_type", "Task", false}, /* when the scope names none */
    {"wont_do", "Won't Do", false},
    {"create_fields", "", false}, /* JSON: {"PROJ": {"customfield_10010": value}} */
};

const struct conf_tracker jira_conf = {"jira", jr_keys, CL_ARRAY_LEN(jr_keys), NULL};

struct jira {
    struct ev_loop *loop;
    const struct conf_conn *cfg;
    struct remote_config rcfg;
    struct remote *remote;
    struct jira_map_ctx ctx;
    char *site; /* without a trailing slash */
    char *base; /* site + /rest/api/3 or /2 */
    char *auth; /* the Authorization header line: a secret */
    json_t *create_fields;
    char tz[64];       /* the account's profile time zone (JQL literals), "" until read */
    char instance[64]; /* this installation's id (marker labels), from the first job */
};

/* One provider operation: the shared part first, then what Jira's flows keep. */
struct jr_op {
    struct remote_op base;
    struct jira *j;
    json_t *local;   /* create, update: what closeloop holds */
    json_t *remote;  /* update: the snapshot; create: the issue once made */
    json_t *acc;     /* listings: snapshots; doctor: checks */
    json_t *visited; /* the transition walk: status ids */
    char *id;        /* the issue's id (or key, for a link) */
    char *project;
    char *type;
    char *jql;
    char *token; /* Cloud search: nextPageToken */
    char listed_at[32];
    long long action_id;
    double creating_since;
    int start_at; /* Data Center search */
    int pages;
    int steps;
    bool reached; /* the last transition taken reaches the wanted status */
    bool wrote;
    bool gone_on_404;
    bool marker;               /* the search looks for the creation marker */
    remote_step_fn after_zone; /* what runs once the time zone is known */
};

static const struct remote_hooks jr_hooks;

static const char *jr_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- operations ---- */

static void jr_op_dispose(struct remote_op *base)
{
    struct jr_op *op = (struct jr_op *)base;

    json_decref(op->local);
    json_decref(op->remote);
    json_decref(op->acc);
    json_decref(op->visited);
    free(op->id);
    free(op->project);
    free(op->type);
    free(op->jql);
    free(op->token);
}

static struct jr_op *jr_op_new(struct jira *j, provider_done_fn done, void *arg)
{
    struct jr_op *op =
        (struct jr_op *)remote_op_new(j->remote, sizeof(struct jr_op), jr_op_dispose, done, arg);

    op->j = j;
    return op;
}

/* Queues a request with a JSON body (may be NULL). */
static void jr_request(struct jr_op *op, const char *method, const char *path, const json_t *body,
                       remote_step_fn step)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    remote_request(&op->base, method, path, text, NULL, step);
    free(text);
}

/* "/issue/<escaped id>" + suffix. */
static char *jr_issue_path(const char *id, const char *suffix)
{
    char *e = curl_easy_escape(NULL, id, 0);
    char *out = cl_asprintf("/issue/%s%s", e != NULL ? e : "", suffix);

    curl_free(e);
    return out;
}

/* The installation's id, kept for the mapping (jobs carry it; it never changes). */
static void jr_instance(struct jira *j, const char *instance)
{
    if (instance != NULL && j->instance[0] == '\0') {
        snprintf(j->instance, sizeof(j->instance), "%s", instance);
        j->ctx.instance = j->instance;
    }
}

/* ---- answers ---- */

/* Jira's ErrorCollection as one line: errorMessages, then "field: message" pairs. */
static void jr_error_text(char *out, size_t n, const struct http_response *resp)
{
    json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *msgs = json_object_get(root, "errorMessages");
    struct buf b;
    const char *k;
    json_t *v;
    size_t i;

    buf_init(&b);
    buf_printf(&b, "Jira %ld", resp->status);
    json_array_foreach (msgs, i, v) {
        if (json_is_string(v))
            buf_printf(&b, "%s %s", i == 0 ? ":" : ";", json_string_value(v));
    }
    json_object_foreach (json_object_get(root, "errors"), k, v) {
        if (json_is_string(v))
            buf_printf(&b, "%s %s: %s", b.len > 12 ? ";" : ":", k, json_string_value(v));
    }
    snprintf(out, n, "%s", b.data);
    buf_dispose(&b);
    json_decref(root);
}

/* 429, or a 503 that says when to come back: the connection waits that long. */
static bool jr_limited(const struct http_response *resp, double *wait)
{
    double retry = remote_header_num(resp, "retry-after", -1);

    if (resp->status == 429) {
        *wait = retry >= 0 ? retry : JR_LIMIT_PAUSE;
        return true;
    }
    if (resp->status == 503 && retry > 0) {
        *wait = retry;
        return true;
    }
    return false;
}

/* Turns a non-2xx answer into the op's failure. True when it failed the op. */
static bool jr_check(struct jr_op *op, const struct http_response *resp)
{
    struct jira *j = op->j;
    char why[400];
    double wait = 0;

    if (resp->code != CL_OK) {
        remote_op_fail(&op->base, PROVIDER_RETRY, 0, "Jira unreachable: %s", resp->error);
        return true;
    }
    if (resp->status >= 200 && resp->status < 300)
        return false;
    jr_error_text(why, sizeof(why), resp);
    if (jr_limited(resp, &wait)) {
        remote_pause(j->remote, wait, why);
        remote_op_fail(&op->base, PROVIDER_LIMITED, wait, "rate limited: %s", why);
    } else if (resp->status == 401) {
        remote_set_auth_failed(j->remote, true);
        remote_pause(j->remote, JR_AUTH_PAUSE, "credentials refused (401)");
        remote_op_fail(&op->base, PROVIDER_AUTH, JR_AUTH_PAUSE, "%s: check the %s", why,
                       j->ctx.flavour == JIRA_CLOUD ? "e-mail and API token" : "token");
    } else if (resp->status == 404 && op->gone_on_404) {
        remote_op_fail(&op->base, PROVIDER_GONE, 0, "%s: the issue is deleted", why);
    } else if (resp->status >= 500 || resp->status == 408 || resp->status == 409) {
        remote_op_fail(&op->base, PROVIDER_RETRY, 0, "%s", why);
    } else {
        remote_op_fail(&op->base, PROVIDER_REJECTED, 0, "%s", why);
    }
    return true;
}

/* The answer's JSON body, or NULL after failing the op (not JSON). */
static json_t *jr_body(struct jr_op *op, const struct http_response *resp)
{
    json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);

    if (root == NULL)
        remote_op_fail(&op->base, PROVIDER_RETRY, 0, "Jira answered %ld with something not JSON",
                       resp->status);
    return root;
}

/* The snapshot of an issue answer, or NULL after failing the op. */
static json_t *jr_snapshot(struct jr_op *op, const struct http_response *resp)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *issue = jr_body(op, resp);
    json_t *snap = issue != NULL ? jira_map_snapshot(issue, &op->j->ctx, &err) : NULL;

    if (issue != NULL && snap == NULL)
        remote_op_fail(&op->base, PROVIDER_RETRY, 0,
                       "Jira answered %ld with something not an "
                       "issue: %s",
                       resp->status, err.msg);
    json_decref(issue);
    return snap;
}

static void jr_issue_done(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *snap;

    if (jr_check(op, resp) || (snap = jr_snapshot(op, resp)) == NULL)
        return;
    remote_op_ok(base, snap);
    json_decref(snap);
}

/* GET the issue (by id or key) and end the op with its snapshot. */
static void jr_read_issue(struct jr_op *op, remote_step_fn step)
{
    char *path = jr_issue_path(op->id, "?fields=" JIRA_MAP_FIELDS);

    remote_request(&op->base, "GET", path, NULL, NULL, step);
    free(path);
}

/* ---- hooks for the shared request life cycle ---- */

static int jr_headers(void *prov, const struct remote_op *op, char **lines, int room)
{
    struct jira *j = prov;

    (void)op;
    (void)room;
    lines[0] = cl_strdup(j->auth);
    lines[1] = cl_strdup("Accept: application/json");
    return 2;
}

static void jr_observe(void *prov, const struct http_response *resp)
{
    struct jira *j = prov;
    double remaining = remote_header_num(resp, "x-ratelimit-remaining", -1);

    if (remaining >= 0)
        remote_note_rate(j->remote, (long)remote_header_num(resp, "x-ratelimit-limit", 0),
                         (long)remaining, 0);
    if (resp->code == CL_OK && resp->status != 401)
        remote_set_auth_failed(j->remote, false);
}

static const struct remote_hooks jr_hooks = {jr_headers, NULL, jr_observe};

/* ---- status: transitions, walked when there is no direct one ---- */

static void jr_final(struct jr_op *op)
{
    jr_read_issue(op, jr_issue_done);
}

static void jr_transitions(struct jr_op *op);

static void jr_after_transition(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;

    if (jr_check(op, resp))
        return;
    op->wrote = true;
    if (op->reached)
        jr_final(op);
    else if (++op->steps >= JR_MAX_STEPS)
        remote_op_fail(base, PROVIDER_REJECTED, 0,
                       "status %s: not reached within %d transitions; move the issue in Jira",
                       jr_str(op->local, "status"), JR_MAX_STEPS);
    else
        jr_transitions(op); /* a step of the walk: look again from the new status */
}

static void jr_on_transitions(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    struct cl_err err = CL_ERR_INIT;
    json_t *answer;
    json_t *body;
    char *path;
    bool final = false;

    if (jr_check(op, resp) || (answer = jr_body(op, resp)) == NULL)
        return;
    body = jira_map_transition(answer, op->local, op->visited, &op->j->ctx, &final, &err);
    json_decref(answer);
    if (body == NULL) {
        remote_op_fail(base, PROVIDER_REJECTED, 0, "status %s: %s", jr_str(op->local, "status"),
                       err.msg);
        return;
    }
    op->reached = final;
    path = jr_issue_path(op->id, "/transitions");
    jr_request(op, "POST", path, body, jr_after_transition);
    free(path);
    json_decref(body);
}

/* Looks at where the issue can go from here (the walk re-reads after every step). */
static void jr_transitions(struct jr_op *op)
{
    char *path = jr_issue_path(op->id, "/transitions?expand=transitions.fields");

    if (op->visited == NULL) {
        op->visited = json_array();
        if (jr_str(op->remote, "status_id") != NULL)
            json_array_append_new(op->visited, json_string(jr_str(op->remote, "status_id")));
    }
    remote_request(&op->base, "GET", path, NULL, NULL, jr_on_transitions);
    free(path);
}

/* Status last: a transition may need the fields written first. */
static void jr_status(struct jr_op *op)
{
    if (!jira_map_status_ok(op->local, op->remote, &op->j->ctx))
        jr_transitions(op);
    else if (op->wrote)
        jr_final(op);
    else
        remote_op_ok(&op->base, op->remote); /* nothing was to be written */
}

static void jr_after_assignee(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;

    if (jr_check(op, resp))
        return;
    op->wrote = true;
    jr_status(op);
}

/* Assigns through /assignee (Assign issues is enough); unassigns through the issue's
 * fields, the form Jira's API description documents for a null assignee. */
static void jr_assignee(struct jr_op *op)
{
    json_t *body = jira_map_assignee(op->local, op->remote, &op->j->ctx);
    json_t *edit;
    char *path;

    if (body == NULL) {
        jr_status(op);
        return;
    }
    if (json_is_null(json_object_iter_value(json_object_iter(body)))) {
        edit = json_pack("{s:{s:n}}", "fields", "assignee");
        path = jr_issue_path(op->id, "");
        jr_request(op, "PUT", path, edit, jr_after_assignee);
        json_decref(edit);
    } else {
        path = jr_issue_path(op->id, "/assignee");
        jr_request(op, "PUT", path, body, jr_after_assignee);
    }
    free(path);
    json_decref(body);
}

static void jr_after_edit(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;

    if (jr_check(op, resp))
        return;
    op->wrote = true;
    jr_assignee(op);
}

/* ---- create, fetch, update ---- */

static void jr_created_read(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;

    if (jr_check(op, resp) || (op->remote = jr_snapshot(op, resp)) == NULL)
        return;
    op->wrote = true;
    jr_status(op); /* an action created already started or done walks the workflow */
}

static void jr_created(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *root;
    const char *id;

    if (jr_check(op, resp) || (root = jr_body(op, resp)) == NULL)
        return;
    id = jr_str(root, "id");
    if (id == NULL || id[0] == '\0' || strspn(id, "0123456789") != strlen(id)) {
        remote_op_fail(base, PROVIDER_RETRY, 0, "Jira created an issue without a numeric id");
        json_decref(root);
        return;
    }
    op->id = cl_strdup(id);
    json_decref(root);
    jr_read_issue(op, jr_created_read);
}

static void jira_create(void *self, const struct provider_job *job, provider_done_fn done,
                        void *arg)
{
    struct jira *j = self;
    struct jr_op *op = jr_op_new(j, done, arg);
    struct cl_err err = CL_ERR_INIT;
    char project[256];
    char type[64];
    json_t *body = NULL;

    jr_instance(j, job->instance);
    op->local = json_incref((json_t *)job->action);
    if (!jira_map_scope_split(job->scope, project, sizeof(project), type, sizeof(type))) {
        remote_op_refuse(&op->base, "\"%.120s\" is not a Jira project", job->scope);
        return;
    }
    body = jira_map_create(job->action, project,
                           type[0] != '\0' ? type : conf_conn_get(j->cfg, "issue_type"),
                           json_object_get(j->create_fields, project), &j->ctx, &err);
    if (body == NULL)
        remote_op_refuse(&op->base, "%s", err.msg);
    else
        jr_request(op, "POST", "/issue", body, jr_created);
    json_decref(body);
}

/* An id (digits) or a key: what may follow /issue/. */
static bool jr_issue_ref_ok(const char *s)
{
    return s != NULL &&
           ((s[0] != '\0' && strlen(s) <= 20 && strspn(s, "0123456789") == strlen(s)) ||
            jira_map_key_valid(s));
}

static void jira_fetch(void *self, const struct provider_job *job, provider_done_fn done, void *arg)
{
    struct jr_op *op = jr_op_new(self, done, arg);
    const char *ref = job->remote_id != NULL ? job->remote_id : job->remote_key;

    jr_instance(self, job->instance);
    op->gone_on_404 = true; /* a deleted issue answers 404 by id */
    if (!jr_issue_ref_ok(ref)) {
        remote_op_refuse(&op->base, "\"%.40s\" is not a Jira issue id or key", ref ? ref : "");
        return;
    }
    op->id = cl_strdup(ref);
    jr_read_issue(op, jr_issue_done);
}

static void jira_update(void *self, const struct provider_job *job, const json_t *local,
                        const json_t *remote, provider_done_fn done, void *arg)
{
    struct jira *j = self;
    struct jr_op *op = jr_op_new(j, done, arg);
    struct cl_err err = CL_ERR_INIT;
    const char *id = jr_str(remote, "remote_id");
    json_t *edit = jira_map_edit(local, remote, &j->ctx, &err);
    char *path;

    jr_instance(j, job->instance);
    op->local = json_incref((json_t *)local);
    op->remote = json_incref((json_t *)remote);
    if (edit == NULL || !jr_issue_ref_ok(id)) {
        remote_op_refuse(&op->base, "%s", edit == NULL ? err.msg : "the issue has no id");
        json_decref(edit);
        return;
    }
    op->id = cl_strdup(id);
    if (json_object_size(edit) == 0) {
        jr_assignee(op);
    } else {
        path = jr_issue_path(id, "");
        jr_request(op, "PUT", path, edit, jr_after_edit);
        free(path);
    }
    json_decref(edit);
}

/* ---- searches: reconciliation, import, the marker ---- */

static void jr_search_page(struct remote_op *base, const struct http_response *resp);

static json_t *jr_fields(void)
{
    json_t *a = json_array();
    char *list = cl_strdup(JIRA_MAP_FIELDS);
    char *save = NULL;
    char *f;

    for (f = strtok_r(list, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(f));
    free(list);
    return a;
}

/* The next page: Cloud's /search/jql by nextPageToken, Data Center's /search by startAt. */
static void jr_search_next(struct jr_op *op)
{
    bool cloud = op->j->ctx.flavour == JIRA_CLOUD;
    json_t *body = json_pack("{s:s, s:o, s:i}", "jql", op->jql, "fields", jr_fields(), "maxResults",
                             op->marker ? 10 : JR_PAGE);

    if (cloud && op->token != NULL)
        json_object_set_new(body, "nextPageToken", json_string(op->token));
    if (!cloud)
        json_object_set_new(body, "startAt", json_integer(op->start_at));
    jr_request(op, "POST", cloud ? "/search/jql" : "/search", body, jr_search_page);
    json_decref(body);
}

static void jr_log_odd(const struct jr_op *op, const struct cl_err *err)
{
    char why[300];

    log_warn("event=jira_odd_issue connection=%s error=\"%s\"", op->j->cfg->name,
             log_quote(why, sizeof(why), err->msg));
}

/* Takes a page's issues; returns how many the page held. */
static size_t jr_take(struct jr_op *op, const json_t *page)
{
    const json_t *issues = json_object_get(page, "issues");
    size_t i;
    json_t *v;

    json_array_foreach (issues, i, v) {
        struct cl_err err = CL_ERR_INIT;
        json_t *snap = jira_map_snapshot(v, &op->j->ctx, &err);

        if (snap == NULL)
            jr_log_odd(op, &err);
        else if (strcmp(jr_str(snap, "scope"), op->project) != 0)
            json_decref(snap); /* only the project asked for, whatever the JQL said */
        else
            json_array_append_new(op->acc, snap);
    }
    return json_array_size(issues);
}

/* Whether another page follows: Cloud's isLast/nextPageToken, Data Center's total. */
static bool jr_more(struct jr_op *op, const json_t *page, size_t got)
{
    const char *tok = jr_str(page, "nextPageToken");

    if (op->j->ctx.flavour == JIRA_CLOUD) {
        free(op->token);
        op->token = tok != NULL ? cl_strdup(tok) : NULL;
        return tok != NULL && !json_is_true(json_object_get(page, "isLast")) && got > 0;
    }
    op->start_at += (int)got; /* the server may cap maxResults: count what came */
    return got > 0 && json_is_integer(json_object_get(page, "total")) &&
           op->start_at < json_integer_value(json_object_get(page, "total"));
}

static void jr_search_finish(struct jr_op *op)
{
    struct provider_result r = {.outcome = PROVIDER_OK};

    r.remotes = op->acc;
    r.not_modified = json_array_size(op->acc) == 0;
    r.listed_at = op->listed_at[0] != '\0' ? op->listed_at : NULL;
    /* the next search starts where this one began (its query reaches JR_OVERLAP back for
     * search lag and JQL's minutes): a burst of updates is not listed again and again */
    r.next_cursor = r.listed_at;
    remote_op_finish(&op->base, &r);
}

static void jr_marker_finish(struct jr_op *op);

static void jr_search_page(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *page;
    size_t got;
    bool more;

    if (jr_check(op, resp) || (page = jr_body(op, resp)) == NULL)
        return;
    if (op->pages++ == 0)
        remote_response_date(op->listed_at, sizeof(op->listed_at), resp);
    if (!json_is_array(json_object_get(page, "issues"))) {
        json_decref(page);
        remote_op_fail(base, PROVIDER_RETRY, 0, "Jira's search answered without an issues list");
        return;
    }
    got = jr_take(op, page);
    more = jr_more(op, page, got);
    json_decref(page);
    if (op->marker)
        jr_marker_finish(op);
    else if (more && op->pages < JR_MAX_PAGES)
        jr_search_next(op);
    else
        jr_search_finish(op);
}

static struct jr_op *jr_search_new(struct jira *j, const char *project, provider_done_fn done,
                                   void *arg)
{
    struct jr_op *op = jr_op_new(j, done, arg);

    op->acc = json_array();
    op->project = cl_strdup(project);
    return op;
}

/* The account's time zone, read once (JQL writes times in it). */
static void jr_on_myself(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *me;
    const char *tz;

    if (jr_check(op, resp) || (me = jr_body(op, resp)) == NULL)
        return;
    tz = jr_str(me, "timeZone");
    if (tz != NULL && strlen(tz) < sizeof(op->j->tz) &&
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/") ==
            strlen(tz))
        snprintf(op->j->tz, sizeof(op->j->tz), "%s", tz);
    else
        snprintf(op->j->tz, sizeof(op->j->tz), "UTC");
    json_decref(me);
    op->after_zone(base, resp);
}

static void jr_search_start(struct remote_op *base, const struct http_response *resp)
{
    (void)resp;
    jr_search_next((struct jr_op *)base);
}

/* Starts the search once the account's zone is known. */
static void jr_with_zone(struct jr_op *op, remote_step_fn then)
{
    if (op->j->tz[0] != '\0') {
        then(&op->base, NULL);
        return;
    }
    op->after_zone = then;
    remote_request(&op->base, "GET", "/myself", NULL, NULL, jr_on_myself);
}

/* The reconciliation query, written once the zone is known: from the cursor less the
 * overlap, at minute precision, in the account's zone. */
static void jr_since_start(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    char when[32];
    char *jql;

    if (op->creating_since > 0) {
        jira_map_jql_time(when, sizeof(when), op->creating_since - JR_OVERLAP, op->j->tz);
        jql = cl_asprintf("project = \"%s\" AND updated >= \"%s\" ORDER BY updated ASC, key ASC",
                          op->project, when);
    } else {
        jql = cl_asprintf("project = \"%s\" ORDER BY updated ASC, key ASC", op->project);
    }
    op->jql = jql;
    jr_search_start(base, resp);
}

static void jira_list_since(void *self, const char *scope, const char *cursor,
                            const char *poll_state, provider_done_fn done, void *arg)
{
    char project[256];
    struct jr_op *op;
    double t = 0;

    (void)poll_state;
    if (!jira_map_scope_split(scope, project, sizeof(project), NULL, 0)) {
        op = jr_op_new(self, done, arg);
        remote_op_refuse(&op->base, "\"%.120s\" is not a Jira project", scope);
        return;
    }
    op = jr_search_new(self, project, done, arg);
    if (cursor != NULL && jira_map_time(&t, cursor))
        op->creating_since = t; /* here: the cursor */
    jr_with_zone(op, jr_since_start);
}

/* A user's JQL for an import: printable, bounded, without its own ORDER BY. */
static bool jr_jql_ok(const char *q)
{
    const char *p;

    if (q == NULL || q[0] == '\0' || strlen(q) > JR_JQL_MAX || !utf8_printable(q, strlen(q)))
        return false;
    for (p = q; *p != '\0'; p++)
        if (strncasecmp(p, "order by", 8) == 0)
            return false;
    return true;
}

static void jira_list_import(void *self, const char *scope, const char *query,
                             provider_done_fn done, void *arg)
{
    char project[256];
    struct jr_op *op;

    if (!jira_map_scope_split(scope, project, sizeof(project), NULL, 0))
        project[0] = '\0';
    op = jr_search_new(self, project, done, arg);
    if (project[0] == '\0') {
        remote_op_refuse(&op->base, "\"%.120s\" is not a Jira project", scope);
        return;
    }
    if (!jr_jql_ok(query)) {
        remote_op_refuse(&op->base, "jql must be 1..%d printable characters, without ORDER BY",
                         JR_JQL_MAX);
        return;
    }
    op->jql =
        cl_asprintf("project = \"%s\" AND (%s) ORDER BY created ASC, key ASC", project, query);
    jr_search_next(op);
}

/* The marker search's verdict: the issue, none (create it), or wait for the search to
 * catch up with a create that may have happened moments ago. */
static void jr_marker_finish(struct jr_op *op)
{
    size_t i;
    json_t *v;
    double age = (double)time(NULL) - op->creating_since;

    json_array_foreach (op->acc, i, v) {
        if (json_integer_value(json_object_get(v, "marker_action")) == op->action_id) {
            log_info("event=jira_marker_found connection=%s issue=%s", op->j->cfg->name,
                     jr_str(v, "key"));
            remote_op_ok(&op->base, v);
            return;
        }
    }
    if (op->creating_since > 0 && age < JR_SEARCH_LAG)
        remote_op_fail(&op->base, PROVIDER_RETRY, age + 5 < JR_SEARCH_LAG ? 5 : JR_SEARCH_LAG - age,
                       "looking again: Jira's search may not show yet an issue created %.0f s ago",
                       age);
    else
        remote_op_ok(&op->base, NULL);
}

static void jira_find_marker(void *self, const struct provider_job *job, provider_done_fn done,
                             void *arg)
{
    char project[256];
    char label[64];
    struct jr_op *op;

    if (!jira_map_scope_split(job->scope, project, sizeof(project), NULL, 0))
        project[0] = '\0';
    op = jr_search_new(self, project, done, arg);
    jr_instance(self, job->instance);
    op->marker = true;
    op->action_id = json_integer_value(json_object_get(job->action, "id"));
    if (job->creating_since == NULL || !jira_map_time(&op->creating_since, job->creating_since))
        op->creating_since = 0;
    if (project[0] == '\0') {
        remote_op_refuse(&op->base, "\"%.120s\" is not a Jira project", job->scope);
        return;
    }
    jira_map_marker(label, sizeof(label), job->instance, op->action_id);
    op->jql =
        cl_asprintf("project = \"%s\" AND labels = \"%s\" ORDER BY created DESC", project, label);
    jr_search_next(op);
}

/* ---- comments ---- */

#define JR_COMMENT_PAGES 4 /* the newest 4 x 50 comments are searched for a marker */

/* "/issue/<ref>/comment" + query for the job's issue, or NULL (refusing the op). */
static char *jr_comment_path(struct jr_op *op, const struct provider_job *job,
                             const struct provider_comment *c, const char *query)
{
    const char *ref = job->remote_id != NULL ? job->remote_id : job->remote_key;

    jr_instance(op->j, job->instance);
    if (!jr_issue_ref_ok(ref)) {
        remote_op_refuse(&op->base, "\"%.40s\" is not a Jira issue id or key", ref ? ref : "");
        return NULL;
    }
    if (!remote_marker_valid(c->marker)) {
        remote_op_refuse(&op->base, "the comment's marker is not valid");
        return NULL;
    }
    op->id = cl_strdup(ref);
    /* the key people see, for the link to the comment */
    op->project = cl_strdup(
        job->remote_key != NULL && jira_map_key_valid(job->remote_key) ? job->remote_key : ref);
    return jr_issue_path(ref, query);
}

/* {"id", "url"} of a comment answer (the browse link to it), or NULL when id is not text. */
static json_t *jr_comment_result(struct jr_op *op, const json_t *c)
{
    const char *id = jr_str(c, "id");
    char *url;
    json_t *out;

    if (id == NULL || id[0] == '\0' || strlen(id) > 20 || strspn(id, "0123456789") != strlen(id))
        return NULL;
    url = cl_asprintf("%s/browse/%s?focusedCommentId=%s", op->j->site, op->project, id);
    out = json_pack("{s:s, s:s}", "id", id, "url", url);
    free(url);
    return out;
}

static void jr_commented(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *root;
    json_t *res;

    if (jr_check(op, resp) || (root = jr_body(op, resp)) == NULL)
        return;
    res = jr_comment_result(op, root);
    json_decref(root);
    if (res == NULL) {
        /* it may be posted: the retry looks for the marker before posting again */
        remote_op_fail(base, PROVIDER_RETRY, 0, "Jira answered %ld with something not a comment",
                       resp->status);
        return;
    }
    remote_op_ok(base, res);
    json_decref(res);
}

static void jira_comment(void *self, const struct provider_job *job,
                         const struct provider_comment *c, provider_done_fn done, void *arg)
{
    struct jira *j = self;
    struct jr_op *op = jr_op_new(j, done, arg);
    char *path = jr_comment_path(op, job, c, "/comment");
    json_t *body;

    if (path == NULL)
        return;
    body = jira_map_comment(c, &j->ctx);
    jr_request(op, "POST", path, body, jr_commented);
    json_decref(body);
    free(path);
}

static void jr_comment_page(struct remote_op *base, const struct http_response *resp);

static void jr_comment_next(struct jr_op *op)
{
    char *query = cl_asprintf("/comment?orderBy=-created&startAt=%d&maxResults=50", op->start_at);
    char *path = jr_issue_path(op->id, query);

    remote_request(&op->base, "GET", path, NULL, NULL, jr_comment_page);
    free(path);
    free(query);
}

static void jr_comment_page(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *root;
    json_t *list;
    json_t *v;
    size_t i;

    if (jr_check(op, resp) || (root = jr_body(op, resp)) == NULL)
        return;
    list = json_object_get(root, "comments");
    json_array_foreach (list, i, v) {
        json_t *res = jira_map_comment_has(v, op->jql) ? jr_comment_result(op, v) : NULL;

        if (res != NULL) {
            json_decref(root);
            remote_op_ok(base, res);
            json_decref(res);
            return;
        }
    }
    op->start_at += (int)json_array_size(list);
    if (json_array_size(list) == 0 || ++op->pages >= JR_COMMENT_PAGES ||
        op->start_at >= (int)json_integer_value(json_object_get(root, "total")))
        remote_op_ok(base, NULL);
    else
        jr_comment_next(op);
    json_decref(root);
}

/* The issue's newest comments, scanned for the marker's line. */
static void jira_find_comment(void *self, const struct provider_job *job,
                              const struct provider_comment *c, provider_done_fn done, void *arg)
{
    struct jr_op *op = jr_op_new(self, done, arg);
    char *path = jr_comment_path(op, job, c, "");

    if (path == NULL)
        return;
    free(path);
    op->jql = cl_strdup(c->marker); /* what the bodies are searched for */
    jr_comment_next(op);
}

/* ---- doctor ---- */

/* A doctor step's answer as JSON, or NULL after recording a failed check (the doctor
 * reports; it does not fail). Credentials and limits still stop it. */
static json_t *jr_doctor_body(struct jr_op *op, const struct http_response *resp, const char *check,
                              const char *what)
{
    char why[300];

    if (resp->code == CL_OK && resp->status >= 200 && resp->status < 300)
        return json_loadb(resp->body, resp->body_len, 0, NULL);
    if (resp->code != CL_OK)
        snprintf(why, sizeof(why), "Jira unreachable: %s", resp->error);
    else
        jr_error_text(why, sizeof(why), resp);
    remote_check(op->acc, check, false, "cannot read %s: %s", what, why);
    return NULL;
}

/* Array member `a`, else `b`, else `c` (Cloud and Data Center page shapes). */
static const json_t *jr_list(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);

    if (!json_is_array(v))
        v = json_object_get(o, b);
    if (!json_is_array(v) && c != NULL)
        v = json_object_get(o, c);
    return json_is_array(v) ? v : NULL;
}

static void jr_doctor_resolutions(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *list = jr_doctor_body(op, resp, "won't do", "the resolutions");
    const char *want = conf_conn_get(op->j->cfg, "wont_do");
    bool found = false;
    size_t i;
    json_t *v;

    json_array_foreach (list, i, v) {
        found |= jr_str(v, "name") != NULL && strcasecmp(jr_str(v, "name"), want) == 0;
    }
    if (list != NULL && (found || op->wrote))
        remote_check(op->acc, "won't do", true, "expressed as %s \"%s\"",
                     found ? "the resolution" : "the status", want);
    else if (list != NULL)
        remote_check(op->acc, "won't do", false,
                     "no resolution or done status named \"%s\": add one, or set wont_do to "
                     "the name your workflow uses",
                     want);
    json_decref(list);
    remote_op_checks_done(&op->base, op->acc);
}

/* The workflow of the issue type: a status of category done, and a status named like
 * won't do (remembered in op->wrote for the next check). */
static void jr_doctor_statuses(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *types = jr_doctor_body(op, resp, "workflow", "the project's statuses");
    const char *want = conf_conn_get(op->j->cfg, "wont_do");
    int done = 0;
    size_t i;
    size_t k;
    json_t *t;
    json_t *s;

    json_array_foreach (types, i, t) {
        if (jr_str(t, "name") == NULL || strcasecmp(jr_str(t, "name"), op->type) != 0)
            continue;
        json_array_foreach (json_object_get(t, "statuses"), k, s) {
            const char *cat = jr_str(json_object_get(s, "statusCategory"), "key");

            done += cat != NULL && strcmp(cat, "done") == 0;
            op->wrote |= jr_str(s, "name") != NULL && strcasecmp(jr_str(s, "name"), want) == 0;
        }
    }
    if (types != NULL && done > 0)
        remote_check(op->acc, "workflow", true, "%d status(es) of category done: closing works",
                     done);
    else if (types != NULL)
        remote_check(op->acc, "workflow", false,
                     "no status of category done for %s: actions cannot be closed", op->type);
    json_decref(types);
    remote_request(base, "GET", "/resolution", NULL, NULL, jr_doctor_resolutions);
}

static bool jr_field_filled(const struct jr_op *op, const char *id)
{
    static const char *const ours[] = {"project", "issuetype", "summary",  "description",
                                       "labels",  "duedate",   "assignee", "reporter"};
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(ours); i++)
        if (strcmp(id, ours[i]) == 0)
            return true;
    return json_object_get(json_object_get(op->j->create_fields, op->project), id) != NULL;
}

static void jr_doctor_fields(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *page = jr_doctor_body(op, resp, "required fields", "the create screen");
    const json_t *fields = jr_list(page, "fields", "values", "results");
    struct buf missing;
    size_t i;
    json_t *f;
    char *path;

    buf_init(&missing);
    json_array_foreach (fields, i, f) {
        const char *id = jr_str(f, "fieldId") != NULL ? jr_str(f, "fieldId") : jr_str(f, "key");

        if (id != NULL && json_is_true(json_object_get(f, "required")) &&
            !json_is_true(json_object_get(f, "hasDefaultValue")) && !jr_field_filled(op, id))
            buf_printf(&missing, "%s%s (%s)", missing.len > 0 ? ", " : "", id,
                       jr_str(f, "name") != NULL ? jr_str(f, "name") : "?");
    }
    if (page != NULL)
        remote_check(op->acc, "required fields", missing.len == 0,
                     missing.len == 0 ? "every required field has a value"
                                      : "required without a default: %s; set create_fields",
                     missing.len > 0 ? missing.data : "");
    buf_dispose(&missing);
    json_decref(page);
    path = cl_asprintf("/project/%s/statuses", op->project);
    remote_request(base, "GET", path, NULL, NULL, jr_doctor_statuses);
    free(path);
}

static void jr_doctor_types(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *page = jr_doctor_body(op, resp, "issue type", "the project's issue types");
    const json_t *types = jr_list(page, "issueTypes", "values", "createMetaIssueType");
    const char *id = NULL;
    char *path;
    size_t i;
    json_t *t;

    json_array_foreach (types, i, t) {
        if (jr_str(t, "name") != NULL && strcasecmp(jr_str(t, "name"), op->type) == 0)
            id = jr_str(t, "id");
    }
    if (page != NULL)
        remote_check(op->acc, "issue type", id != NULL,
                     id != NULL ? "%s can be created in %s"
                                : "%s is not an issue type of %s: set issue_type or name one "
                                  "in the scope (PROJ/Type)",
                     op->type, op->project);
    if (id == NULL || strspn(id, "0123456789") != strlen(id)) {
        json_decref(page);
        path = cl_asprintf("/project/%s/statuses", op->project);
        remote_request(base, "GET", path, NULL, NULL, jr_doctor_statuses);
        free(path);
        return;
    }
    path = cl_asprintf("/issue/createmeta/%s/issuetypes/%s?maxResults=200", op->project, id);
    json_decref(page);
    remote_request(base, "GET", path, NULL, NULL, jr_doctor_fields);
    free(path);
}

static void jr_doctor_perms(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *root = jr_doctor_body(op, resp, "permissions", "the account's permissions");
    const json_t *perms = json_object_get(root, "permissions");
    struct buf missing;
    char *list = cl_strdup(JR_CHECK_PERMS);
    char *save = NULL;
    char *p;
    char *path;

    buf_init(&missing);
    for (p = strtok_r(list, ",", &save); p != NULL && root != NULL; p = strtok_r(NULL, ",", &save))
        if (!json_is_true(json_object_get(json_object_get(perms, p), "havePermission")))
            buf_printf(&missing, "%s%s", missing.len > 0 ? ", " : "", p);
    if (root != NULL)
        remote_check(op->acc, "permissions", missing.len == 0,
                     missing.len == 0 ? "browse, create, edit, transition and assign in %s"
                                      : "missing in %s: %s",
                     op->project, missing.len > 0 ? missing.data : "");
    free(list);
    buf_dispose(&missing);
    json_decref(root);
    path = cl_asprintf("/issue/createmeta/%s/issuetypes?maxResults=200", op->project);
    remote_request(base, "GET", path, NULL, NULL, jr_doctor_types);
    free(path);
}

static void jr_doctor_myself(struct remote_op *base, const struct http_response *resp)
{
    struct jr_op *op = (struct jr_op *)base;
    json_t *me = jr_doctor_body(op, resp, "credentials", "/myself");
    const char *who = jr_str(me, op->j->ctx.flavour == JIRA_CLOUD ? "accountId" : "name");
    const char *tz = jr_str(me, "timeZone");
    char *path;

    if (me == NULL) {
        remote_op_checks_done(&op->base, op->acc);
        return;
    }
    remote_check(op->acc, "credentials", true, "accepted: %s (%s)",
                 jr_str(me, "displayName") ? jr_str(me, "displayName") : "?", who ? who : "?");
    remote_check(op->acc, "time zone", tz != NULL,
                 tz != NULL ? "JQL times are written in %s" : "the account shows no time zone%s",
                 tz != NULL ? tz : "");
    if (tz != NULL && strlen(tz) < sizeof(op->j->tz))
        snprintf(op->j->tz, sizeof(op->j->tz), "%s", tz);
    json_decref(me);
    path = cl_asprintf("/mypermissions?projectKey=%s&permissions=" JR_CHECK_PERMS, op->project);
    remote_request(base, "GET", path, NULL, NULL, jr_doctor_perms);
    free(path);
}

static void jira_doctor(void *self, const char *scope, provider_done_fn done, void *arg)
{
    struct jira *j = self;
    struct jr_op *op = jr_op_new(j, done, arg);
    char project[256];
    char type[64];

    op->acc = json_array();
    if (!jira_map_scope_split(scope, project, sizeof(project), type, sizeof(type))) {
        remote_op_refuse(&op->base, "\"%.120s\" is not a Jira project", scope);
        return;
    }
    op->project = cl_strdup(project);
    op->type = cl_strdup(type[0] != '\0' ? type : conf_conn_get(j->cfg, "issue_type"));
    remote_request(&op->base, "GET", "/myself", NULL, NULL, jr_doctor_myself);
}

/* ---- webhooks ---- */

static int jira_parse_hook(void *self, const char *event, const char *body, size_t len,
                           struct provider_hook *out, struct cl_err *err)
{
    struct jira *j = self;

    (void)event;
    return jira_map_hook(body, len, &j->ctx, out, err);
}

static int jira_read_hook(void *self, const struct provider_delivery *d, struct provider_hook *out,
                          struct cl_err *err)
{
    struct jira *j = self;
    const char *secret = j->cfg->webhook_secret;
    const char *id =
        remote_hook_header(d, "X-Atlassian-Webhook-Identifier", sizeof(out->delivery) - 1);
    char digest[CRYPTO_SHA256_HEX_LEN + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    if (secret[0] != '\0' &&
        !crypto_verify_sha256_header(d->header(d->ctx, "X-Hub-Signature"), secret, d->body, d->len))
        return cl_fail(err, CL_EAUTH, "X-Hub-Signature missing or wrong (check the secret)");
    rc = jira_map_hook(d->body, d->len, &j->ctx, out, err);
    if (id != NULL) {
        snprintf(out->delivery, sizeof(out->delivery), "%s", id); /* stable across retries */
    } else { /* no identifier (older Data Center): the same body is the same delivery */
        crypto_sha256_hex(digest, d->body, d->len);
        snprintf(out->delivery, sizeof(out->delivery), "sha256:%s", digest);
    }
    if (out->event[0] == '\0')
        snprintf(out->event, sizeof(out->event), "unknown");
    return rc;
}

/* ---- state ---- */

static void jira_describe(void *self, json_t *into)
{
    struct jira *j = self;

    json_object_set_new(into, "api_url", json_string(j->base));
    json_object_set_new(into, "flavour",
                        json_string(j->ctx.flavour == JIRA_CLOUD ? "cloud" : "dc"));
    json_object_set_new(into, "auth",
                        json_string(j->ctx.flavour == JIRA_CLOUD ? "api_token" : "pat"));
    json_object_set_new(into, "time_zone", j->tz[0] != '\0' ? json_string(j->tz) : json_null());
    remote_describe(j->remote, into);
}

static bool jira_healthy(void *self)
{
    return !remote_auth_failed(((struct jira *)self)->remote);
}

static void jira_free(void *self)
{
    struct jira *j = self;

    if (j == NULL)
        return;
    remote_free(j->remote); /* no callbacks: the sync core is going away too */
    if (j->auth != NULL)
        memset(j->auth, 0, strlen(j->auth));
    free(j->auth);
    free(j->site);
    free(j->base);
    json_decref(j->create_fields);
    free(j);
}

static bool jira_configured(const struct conf_conn *c)
{
    return conf_conn_get(c, "site")[0] != '\0' &&
           (conf_conn_get(c, "api_token")[0] != '\0' || conf_conn_get(c, "pat")[0] != '\0');
}

/* The Authorization line: Basic e-mail:token on Cloud, Bearer PAT on Data Center. */
static int jr_auth_line(struct jira *j, struct cl_err *err)
{
    const struct conf_conn *c = j->cfg;
    char *pair;
    char *b64;

    if (j->ctx.flavour == JIRA_DC) {
        if (conf_conn_get(c, "pat")[0] == '\0')
            return cl_fail(err, CL_EINVAL, "jira connection %s: flavour dc needs pat", c->name);
        j->auth = cl_asprintf("Authorization: Bearer %s", conf_conn_get(c, "pat"));
        return CL_OK;
    }
    if (conf_conn_get(c, "email")[0] == '\0' || conf_conn_get(c, "api_token")[0] == '\0')
        return cl_fail(err, CL_EINVAL,
                       "jira connection %s: flavour cloud needs email and api_token", c->name);
    pair = cl_asprintf("%s:%s", conf_conn_get(c, "email"), conf_conn_get(c, "api_token"));
    b64 = crypto_base64(pair, strlen(pair));
    j->auth = cl_asprintf("Authorization: Basic %s", b64);
    memset(pair, 0, strlen(pair));
    free(pair);
    free(b64);
    return CL_OK;
}

/* site (http or https, no query, trailing slashes dropped), flavour, create_fields. */
static int jr_settings(struct jira *j, struct cl_err *err)
{
    const struct conf_conn *c = j->cfg;
    const char *site = conf_conn_get(c, "site");
    const char *flavour = conf_conn_get(c, "flavour");
    const char *fields = conf_conn_get(c, "create_fields");
    size_t n = strlen(site);

    if ((strncmp(site, "https://", 8) != 0 && strncmp(site, "http://", 7) != 0) ||
        strpbrk(site, "?# \t") != NULL || !utf8_printable(site, n))
        return cl_fail(err, CL_EINVAL, "jira connection %s: site must be an http(s) URL", c->name);
    while (n > 0 && site[n - 1] == '/')
        n--;
    j->site = cl_strndup(site, n);
    if (strcmp(flavour, "cloud") != 0 && strcmp(flavour, "dc") != 0)
        return cl_fail(err, CL_EINVAL, "jira connection %s: flavour must be cloud or dc", c->name);
    j->ctx.flavour = strcmp(flavour, "dc") == 0 ? JIRA_DC : JIRA_CLOUD;
    j->create_fields = fields[0] != '\0' ? json_loads(fields, 0, NULL) : json_object();
    if (!json_is_object(j->create_fields))
        return cl_fail(err, CL_EINVAL,
                       "jira connection %s: create_fields must be a JSON object "
                       "{\"PROJ\": {\"customfield_10010\": value}}",
                       c->name);
    j->base = cl_asprintf("%s/rest/api/%s", j->site, j->ctx.flavour == JIRA_CLOUD ? "3" : "2");
    return CL_OK;
}

static void jr_probe_done(const struct provider_result *r, void *arg)
{
    struct jira *j = arg;
    char why[300];

    if (r->outcome == PROVIDER_OK)
        log_info("event=jira_account connection=%s time_zone=\"%s\"", j->cfg->name, j->tz);
    else
        log_warn("event=jira_account connection=%s error=\"%s\"", j->cfg->name,
                 log_quote(why, sizeof(why), r->message));
}

static void jr_probe_finish(struct remote_op *base, const struct http_response *resp)
{
    (void)resp;
    remote_op_ok(base, NULL);
}

/* At start: the account's time zone (JQL is written in it), and the credentials tried. */
static void jr_probe(struct jira *j)
{
    jr_with_zone(jr_op_new(j, jr_probe_done, j), jr_probe_finish);
}

static int jira_start(void **out, const struct provider_env *env, const struct conf_conn *c,
                      struct cl_err *err)
{
    struct jira *j = cl_calloc(1, sizeof(*j));
    int rc;

    j->loop = env->loop;
    j->cfg = c;
    rc = jr_settings(j, err);
    if (rc == CL_OK)
        rc = jr_auth_line(j, err);
    if (rc != CL_OK) {
        jira_free(j);
        return rc;
    }
    j->ctx.site = j->site;
    j->ctx.wont_do = conf_conn_get(c, "wont_do");
    j->rcfg = (struct remote_config){c->name, j->base, c->timeout, c->write_interval};
    j->remote = remote_new(env->loop, env->http, &j->rcfg, &jr_hooks, j);
    log_info("event=sync_connection tracker=jira connection=%s api=\"%s\" flavour=%s%s", c->name,
             j->base, j->ctx.flavour == JIRA_CLOUD ? "cloud" : "dc",
             c->webhook_secret[0] == '\0' ? " webhooks=unsigned" : "");
    jr_probe(j);
    *out = j;
    return CL_OK;
}

/* The instance id reaches the mapping with each job; the marker needs it for snapshots
 * too (a listing shows which issue a crashed create made). */
static const struct provider_ops jira_ops = {
    .create = jira_create,
    .find_marker = jira_find_marker,
    .comment = jira_comment,
    .find_comment = jira_find_comment,
    .fetch = jira_fetch,
    .update = jira_update,
    .list_since = jira_list_since,
    .list_import = jira_list_import,
    .doctor = jira_doctor,
    .read_hook = jira_read_hook,
    .parse_hook = jira_parse_hook,
    .describe = jira_describe,
    .healthy = jira_healthy,
    .free = jira_free,
};

/* "OPS-123": the project's key and the issue's. */
static bool jira_parse_ref(const char *ref, char *scope, size_t scope_len, char *key,
                           size_t key_len)
{
    if (!jira_map_key_valid(ref) || (size_t)(strrchr(ref, '-') - ref) >= scope_len ||
        strlen(ref) >= key_len)
        return false;
    snprintf(scope, scope_len, "%.*s", (int)(strrchr(ref, '-') - ref), ref);
    snprintf(key, key_len, "%s", ref);
    return true;
}

static bool jira_scope_valid(const char *s)
{
    return jira_map_scope_split(s, NULL, 0, NULL, 0);
}

const struct provider_def jira_provider = {
    .tracker = "jira",
    .display = "Jira",
    .scope_noun = "project",
    .scope_rule = "a project key (OPS), optionally with an issue type (OPS/Bug)",
    .scope_field = "project",
    .query_field = "jql",
    .default_field = "jira_project",
    .ref_rule = "PROJ-123",
    .parse_ref = jira_parse_ref,
    .scope_valid = jira_scope_valid,
    .conf = &jira_conf,
    .configured = jira_configured,
    .start = jira_start,
    .ops = &jira_ops,
};
