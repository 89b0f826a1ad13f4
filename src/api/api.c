#include "closeloop/api/api.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/log.h"
#include "closeloop/db/migrate.h"
#include "closeloop/http/path.h"
#include "closeloop/mail/queue.h"
#include "closeloop/notify/chat_queue.h"
#include "closeloop/report/digester.h"
#include "closeloop/report/figures.h"
#include "closeloop/notify/reminder.h"
#include "closeloop/review/scheduler.h"
#include "closeloop/sync/registry.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_MAX_PARAMS   PATH_MAX_CAPTURES
#define API_MAX_TABLES   12 /* route files (8 today): room for a few more */
#define API_MAX_SEGMENTS 8
/* Paths whose segments are secrets (calendar feeds: /calendar/<token>.ics). */
#define API_SECRET_PATHS "/calendar/"

enum api_state { API_AUTHING, API_RUNNING, API_QUERYING, API_DONE };

struct api {
    struct ev_loop *loop;
    struct db_pool *pool;
    struct auth *auth;
    struct metrics *metrics;
    struct figures *figures;
    struct review_scheduler *reviews;
    struct digester *digester;
    struct reminder *reminder;
    struct mail_queue *mail;
    struct chat_queue *chat;
    struct httpd *httpd;
    struct sync *sync;
    double timeout;
    double stale_after;
    char *no_routes;     /* api_req_sync_routes() without sync, made once */
    char *due_policy;    /* owned: JSON for SQL, or NULL */
    char *review_policy; /* owned: JSON for SQL, or NULL */
    char *digest_policy; /* owned: JSON for SQL, or NULL */
    char *remind_policy; /* owned: JSON for SQL, or NULL */
    const struct api_route *tables[API_MAX_TABLES]; /* added by the route files */
    size_t ntables[API_MAX_TABLES];
    int nt;
};

struct api_req {
    struct api *api;
    struct httpd_req *http; /* borrowed: httpd owns it and frees us with it */
    const struct api_route *route;
    char *params[API_MAX_PARAMS];
    struct auth_identity who;
    struct auth_lookup *auth_pending; /* owned while API_AUTHING */
    struct db_query *query;           /* owned while API_QUERYING */
    ev_timer deadline;
    enum api_state state;
    enum api_shape shape;
    int ok_status;
    long limit;
    char version[16];
    bool bad_query;
    void (*after)(void *);
    void *after_arg;
    struct sync_call *call; /* owned while a sync operation runs */
    api_sql_fn then;
    void *kept; /* api_req_keep(): the handler's, freed with kept_free */
    void (*kept_free)(void *);
};

static const char api_json_ct[] = "application/json";

/* ---- answering ---- */

static void api_req_finish(struct api_req *q)
{
    q->state = API_DONE;
    ev_timer_stop(q->api->loop, &q->deadline);
}

/* Sends JSON text with one spacing, whoever wrote it (SQL's json, jsonb or jansson). */
static void api_reply_json_text(struct api_req *q, int status, const char *text, size_t len)
{
    struct buf out;
    size_t n;
    char *body;

    buf_init(&out);
    buf_json_respace(&out, text, len);
    body = buf_steal(&out, &n);
    httpd_reply(q->http, status, api_json_ct, body, n);
}

void api_req_reply(struct api_req *q, int status, const char *content_type, const char *body)
{
    if (q->state == API_DONE)
        return;
    api_req_finish(q);
    if (strcmp(content_type, api_json_ct) == 0)
        api_reply_json_text(q, status, body, strlen(body));
    else
        httpd_reply(q->http, status, content_type, cl_strdup(body), strlen(body));
}

static void api_reply_buf(struct api_req *q, int status, struct buf *b)
{
    if (q->state == API_DONE) {
        buf_dispose(b);
        return;
    }
    api_req_finish(q);
    api_reply_json_text(q, status, b->data != NULL ? b->data : "", b->len);
    buf_dispose(b);
}

void api_req_error(struct api_req *q, int status, const char *code, const char *field,
                   const char *fmt, ...)
{
    char msg[512];
    struct buf b;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf_init(&b);
    buf_puts(&b, "{\"error\":{\"code\":");
    buf_json_string(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_string(&b, msg);
    if (field != NULL && field[0] != '\0') {
        buf_puts(&b, ",\"field\":");
        buf_json_string(&b, field);
    }
    buf_puts(&b, "}}\n");
    if (status >= 400 && status < 500 && q->api->metrics != NULL)
        metrics_reject(q->api->metrics, code);
    if (status == 401)
        httpd_req_add_header(q->http, "WWW-Authenticate", "Bearer realm=\"closeloop\"");
    api_reply_buf(q, status, &b);
}

/* ---- database outcome -> HTTP ---- */

/* "people_email_check" on table people -> "email"; "actions_owner_id_fkey" -> "owner". */
static void api_constraint_field(char *out, size_t n, const char *table, const char *constraint)
{
    size_t tl = table != NULL ? strlen(table) : 0;
    const char *s = constraint != NULL ? constraint : "";
    /* a foreign key names the column (team_id); the API field is the noun (team) */
    static const char *const suffixes[] = {"_id_fkey", "_check", "_key"};
    size_t len;
    size_t i;

    if (tl > 0 && strncmp(s, table, tl) == 0 && s[tl] == '_')
        s += tl + 1;
    snprintf(out, n, "%s", s);
    for (i = 0; i < CL_ARRAY_LEN(suffixes); i++) {
        size_t sl = strlen(suffixes[i]);

        len = strlen(out);
        if (len > sl && strcmp(out + len - sl, suffixes[i]) == 0) {
            out[len - sl] = '\0';
            break;
        }
    }
    if (strcmp(out, table != NULL ? table : "") == 0 || strcmp(out, "live_name") == 0)
        out[0] = '\0';
}

/* The rule behind each CHECK constraint a person can break, by constraint name: the answer
 * says what a valid value is, not only that this one is not. */
static const char *api_check_rule(const char *constraint)
{
    static const char *const rules[][2] = {
        {"teams_name_check", "name must be 1 to 63 letters, digits, '.', '_' or '-', starting "
                             "with a letter or a digit"},
        {"people_handle_check", "handle must be 1 to 63 lower-case letters, digits, '.', '_' or "
                                "'-', starting with a letter or a digit"},
        {"people_name_check", "name must hold 1 to 200 characters"},
        {"people_email_check", "email must be an address such as jamie@example.com (at most 254 "
                               "characters)"},
        {"people_github_login_check", "github_login must be a GitHub login: letters, digits and "
                                      "'-', at most 39, not starting with '-'"},
        {"people_jira_account_id_check", "jira_account_id must hold 1 to 128 characters"},
        {"people_jira_name_check", "jira_name must hold 1 to 255 characters"},
        {"people_digest_cadence_check", "digest_cadence must be daily, weekly, monthly or off"},
        {"people_review_hour_check", "review_hour must be an hour from 1 to 23 (local time)"},
        {"incidents_title_check", "title must hold 1 to 300 characters"},
        {"incidents_postmortem_url_check", "postmortem_url must be an http:// or https:// URL "
                                           "without spaces (at most 2000 characters)"},
        {"incidents_resolved_at_check", "resolved_at must not be before started_at"},
        {"actions_title_check", "title must hold 1 to 300 characters"},
        {"actions_description_check", "description must hold at most 65536 characters"}};
    size_t i;

    for (i = 0; constraint != NULL && i < CL_ARRAY_LEN(rules); i++)
        if (strcmp(constraint, rules[i][0]) == 0)
            return rules[i][1];
    return NULL;
}

/* A value PostgreSQL refused with its own words (a data exception, a NOT NULL): the
 * answer names the field when known and never carries the database's text. */
static void api_db_refused(struct api_req *q, const struct db_reply *r, const char *field)
{
    char why[200];

    log_req_warn(httpd_req_id(q->http), "event=db_refused sqlstate=%s error=\"%s\"", r->sqlstate,
                 log_quote(why, sizeof(why), r->message));
    if (field[0] != '\0')
        api_req_error(q, 422, "validation", field, "%s is not valid", field);
    else
        api_req_error(q, 422, "validation", NULL, "a value is not valid (request %s)",
                      httpd_req_id(q->http));
}

static void api_db_error(struct api_req *q, const struct db_reply *r)
{
    const char *st = r->sqlstate;
    char field[64];

    if (r->code == CL_EIO) {
        api_req_error(q, 503, "unavailable", NULL, "database unavailable, try again");
        return;
    }
    if (strcmp(st, "57014") == 0) { /* statement_timeout: rolled back */
        api_req_error(q, 503, "unavailable", NULL,
                      "the database took too long; nothing was changed, try again");
        return;
    }
    api_constraint_field(field, sizeof(field), r->table, r->constraint);
    if (strcmp(st, "CL404") == 0)
        api_req_error(q, 404, "not_found", NULL, "%s", r->message);
    else if (strcmp(st, "CL409") == 0)
        api_req_error(q, 409, "version_conflict", "version", "%s", r->message);
    else if (strcmp(st, "CLTRN") == 0)
        api_req_error(q, 409, "invalid_transition", "status", "%s", r->message);
    else if (strcmp(st, "CL422") == 0)
        api_req_error(q, 422, "validation", r->column, "%s", r->message);
    else if (strcmp(st, "CLCON") == 0) /* the object's state forbids it (a held review) */
        api_req_error(q, 409, "conflict", r->column, "%s", r->message);
    else if (strcmp(st, "23505") == 0 && strncmp(r->message, "duplicate key", 13) != 0)
        api_req_error(q, 409, "duplicate", field, "%s", r->message); /* raised by our SQL */
    else if (strcmp(st, "23505") == 0)
        api_req_error(q, 409, "duplicate", field, "%s is already taken",
                      field[0] != '\0' ? field : "a unique value");
    else if (strcmp(st, "23514") == 0 && api_check_rule(r->constraint) != NULL)
        api_req_error(q, 422, "validation", field, "%s", api_check_rule(r->constraint));
    else if (strcmp(st, "23514") == 0)
        api_req_error(q, 422, "validation", field, "%s is not valid",
                      field[0] != '\0' ? field : "the combination of values");
    else if (strcmp(st, "23503") == 0)
        api_req_error(q, 422, "validation", field, "%s refers to something that does not exist",
                      field[0] != '\0' ? field : "a value");
    else if (strcmp(st, "23502") == 0 || strncmp(st, "22", 2) == 0)
        api_db_refused(q, r, field); /* PostgreSQL's own text stays in the log */
    else {
        char why[200];

        log_req_error(httpd_req_id(q->http), "event=db_error sqlstate=%s error=\"%s\"", st,
                      log_quote(why, sizeof(why), r->message));
        api_req_error(q, 500, "internal", NULL, "internal error (request %s)",
                      httpd_req_id(q->http));
    }
}

static void api_reply_one(struct api_req *q, PGresult *res)
{
    struct buf b;

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        api_req_error(q, 404, "not_found", NULL, "no %s \"%.80s\"",
                      q->route->noun != NULL ? q->route->noun : "such object",
                      q->params[0] != NULL ? q->params[0] : "");
        return;
    }
    if (PQnfields(res) > 1 && strcmp(PQfname(res, 1), "etag") == 0) {
        char etag[40];

        snprintf(etag, sizeof(etag), "\"%s\"", PQgetvalue(res, 0, 1));
        httpd_req_add_header(q->http, "ETag", etag);
    }
    buf_init(&b);
    buf_append(&b, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    buf_puts(&b, "\n");
    api_reply_buf(q, q->ok_status, &b);
}

/* Rows are (json, cursor); a row past `limit` only says there is a next page. */
static void api_reply_list(struct api_req *q, PGresult *res)
{
    int n = PQntuples(res);
    int shown = n > q->limit ? (int)q->limit : n;
    struct buf b;
    int i;

    buf_init(&b);
    buf_puts(&b, "{\"items\":[");
    for (i = 0; i < shown; i++) {
        if (i > 0)
            buf_puts(&b, ",");
        buf_append(&b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
    }
    buf_puts(&b, "],\"next_cursor\":");
    if (n > shown && shown > 0)
        buf_json_string(&b, PQgetvalue(res, shown - 1, 1));
    else
        buf_puts(&b, "null");
    buf_puts(&b, "}\n");
    api_reply_buf(q, q->ok_status, &b);
}

static void api_on_sql(const struct db_reply *r, void *arg)
{
    struct api_req *q = arg;

    q->query = NULL;
    if (r->code != CL_OK)
        api_db_error(q, r);
    else if (q->shape == API_LIST)
        api_reply_list(q, r->res);
    else
        api_reply_one(q, r->res);
    if (r->code == CL_OK && q->after != NULL)
        q->after(q->after_arg);
}

static void api_on_sql_then(const struct db_reply *r, void *arg)
{
    struct api_req *q = arg;

    q->query = NULL;
    q->then(q, r);
}

void api_req_sql_then(struct api_req *q, const char *sql, int nparams, const char *const *params,
                      api_sql_fn fn)
{
    q->state = API_QUERYING;
    q->then = fn;
    q->query = db_query(q->api->pool, sql, nparams, params, api_on_sql_then, q);
}

void api_req_db_error(struct api_req *q, const struct db_reply *r)
{
    api_db_error(q, r);
}

void api_req_after(struct api_req *q, void (*fn)(void *), void *arg)
{
    q->after = fn;
    q->after_arg = arg;
}

void api_req_keep(struct api_req *q, void *data, void (*free_fn)(void *))
{
    if (q->kept_free != NULL)
        q->kept_free(q->kept);
    q->kept = data;
    q->kept_free = free_fn;
}

void *api_req_kept(const struct api_req *q)
{
    return q->kept;
}

void api_req_set_deadline(struct api_req *q, double seconds)
{
    ev_timer_stop(q->api->loop, &q->deadline);
    ev_timer_set(&q->deadline, seconds, 0.0);
    ev_timer_start(q->api->loop, &q->deadline);
}

void api_req_set_call(struct api_req *q, struct sync_call *call)
{
    q->call = call;
    q->state = API_QUERYING;
}

void api_req_reply_json(struct api_req *q, int status, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct buf b;

    q->call = NULL;
    buf_init(&b);
    buf_puts(&b, text != NULL ? text : "{}");
    buf_puts(&b, "\n");
    free(text);
    api_reply_buf(q, status, &b);
}

struct mail_queue *api_req_mail(const struct api_req *q)
{
    return q->api->mail;
}

struct chat_queue *api_req_chat(const struct api_req *q)
{
    return q->api->chat;
}

struct sync *api_req_sync(const struct api_req *q)
{
    return q->api->sync;
}

void api_req_sql(struct api_req *q, const char *sql, int nparams, const char *const *params,
                 enum api_shape shape, int ok_status, long limit)
{
    q->state = API_QUERYING;
    q->shape = shape;
    q->ok_status = ok_status;
    q->limit = limit;
    q->query = db_query(q->api->pool, sql, nparams, params, api_on_sql, q);
}

void api_req_prepared(struct api_req *q, const struct db_stmt *stmt, int nparams,
                      const char *const *params, enum api_shape shape, int ok_status, long limit)
{
    q->state = API_QUERYING;
    q->shape = shape;
    q->ok_status = ok_status;
    q->limit = limit;
    q->query = db_query_stmt(q->api->pool, stmt, nparams, params, api_on_sql, q);
}

/* ---- request accessors for resource handlers ---- */

const char *api_req_param(const struct api_req *q, int i)
{
    return i < API_MAX_PARAMS ? q->params[i] : NULL;
}

struct httpd_req *api_req_http(const struct api_req *q)
{
    return q->http;
}

const char *api_req_path(const struct api_req *q)
{
    return httpd_req_path(q->http);
}

const char *api_req_query(const struct api_req *q, const char *name)
{
    return httpd_req_query(q->http, name);
}

struct api_query_check {
    const char *const *allowed;
    char bad[64];
};

static void api_query_check_one(const char *key, const char *value, void *arg)
{
    struct api_query_check *c = arg;
    const char *const *a;

    (void)value;
    for (a = c->allowed; *a != NULL; a++)
        if (strcmp(*a, key) == 0)
            return;
    if (c->bad[0] == '\0')
        snprintf(c->bad, sizeof(c->bad), "%s", key);
}

int api_req_check_query(struct api_req *q, const char *const *allowed)
{
    struct api_query_check c = {allowed, {0}};

    httpd_req_query_each(q->http, api_query_check_one, &c);
    if (c.bad[0] == '\0')
        return CL_OK;
    api_req_error(q, 400, "bad_request", c.bad, "unknown query parameter \"%s\"", c.bad);
    return CL_EINVAL;
}

const char *api_req_source(const struct api_req *q)
{
    const char *s = httpd_req_header(q->http, "X-Closeloop-Source");

    return s != NULL && strcmp(s, "cli") == 0 ? "cli" : "api";
}

const char *api_req_actor(const struct api_req *q)
{
    return q->who.person[0] != '\0' ? q->who.person : q->who.name;
}

const char *api_req_person(const struct api_req *q)
{
    return q->who.person[0] != '\0' ? q->who.person : NULL;
}

int api_req_owner_me(const char **owner, struct api_req *q, const char *field)
{
    if (*owner == NULL || strcmp(*owner, "me") != 0)
        return CL_OK;
    *owner = api_req_person(q);
    if (*owner != NULL)
        return CL_OK;
    api_req_error(q, 422, "validation", field,
                  "%s \"me\" needs a token that belongs to a person, and token \"%s\" belongs "
                  "to nobody: name the owner's handle, or use a token made with closeloopd token "
                  "create --name N --scope S --person HANDLE",
                  field, q->who.name);
    return CL_EINVAL;
}

const char *api_req_due_policy(const struct api_req *q)
{
    return q->api->due_policy;
}

const char *api_req_review_policy(const struct api_req *q)
{
    return q->api->review_policy;
}

const char *api_req_digest_policy(const struct api_req *q)
{
    return q->api->digest_policy;
}

const char *api_req_remind_policy(const struct api_req *q)
{
    return q->api->remind_policy;
}

struct db_pool *api_req_pool(const struct api_req *q)
{
    return q->api->pool;
}

/* If-Match: "3", 3 or W/"3". */
static int api_parse_if_match(long *out, const char *h)
{
    char digits[16];
    size_t n;

    if (strncmp(h, "W/", 2) == 0)
        h += 2;
    n = strlen(h);
    if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(digits))
        return CL_EINVAL;
    memcpy(digits, h, n);
    digits[n] = '\0';
    return cl_parse_long(out, digits, 1, 2147483647);
}

int api_req_version(const char **out, struct api_req *q, const json_t *body)
{
    const char *h = httpd_req_header(q->http, "If-Match");
    json_t *v = body != NULL ? json_object_get(body, "version") : NULL;
    long n;

    *out = NULL;
    if (h != NULL) {
        if (api_parse_if_match(&n, h) != CL_OK) {
            api_req_error(q, 400, "bad_request", "If-Match",
                          "If-Match must be a version such as \"3\"");
            return CL_EINVAL;
        }
    } else if (json_is_integer(v)) {
        n = (long)json_integer_value(v);
    } else {
        return CL_OK;
    }
    snprintf(q->version, sizeof(q->version), "%ld", n);
    *out = q->version;
    return CL_OK;
}

static bool api_is_json(const char *ct)
{
    size_t n = strlen("application/json");

    return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int api_req_body(json_t **out, struct api_req *q, const struct valid_field *spec, size_t n,
                 enum valid_mode mode, bool allow_empty)
{
    struct cl_err err = CL_ERR_INIT;
    json_error_t jerr;
    char field[64];
    size_t len;
    const char *text = httpd_req_body(q->http, &len);
    json_t *root;

    if (len == 0 && allow_empty) {
        *out = json_object();
        return CL_OK;
    }
    if (!api_is_json(httpd_req_header(q->http, "Content-Type"))) {
        api_req_error(q, 415, "unsupported_media_type", NULL,
                      "send the body as Content-Type: application/json");
        return CL_EINVAL;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        api_req_error(q, 400, "bad_json", NULL, "body is not a JSON object: %s",
                      root == NULL ? jerr.text : "found another JSON value");
        json_decref(root);
        return CL_EINVAL;
    }
    if (valid_object(root, spec, n, mode, field, sizeof(field), &err) != CL_OK) {
        api_req_error(q, 422, "validation", field, "%s", err.msg);
        json_decref(root);
        return CL_EINVAL;
    }
    *out = root;
    return CL_OK;
}

/* ---- routing ---- */

/* Matches path against pattern, filling the request's captures; false when it does not
 * match. */
static bool api_match(struct api_req *q, const char *pattern, const char *path)
{
    char *caps[PATH_MAX_CAPTURES] = {NULL, NULL};
    int n = 0;
    bool ok = path_match(pattern, path, caps, &n);
    int i;

    for (i = 0; i < API_MAX_PARAMS; i++) {
        free(q->params[i]);
        q->params[i] = ok && i < n ? caps[i] : NULL;
        if (!ok && i < n)
            free(caps[i]);
    }
    return ok;
}

/* The route of the request's method and path, or NULL; `allow` gets the methods the path
 * has ("GET, PATCH"; empty when no route has the path) and *pattern that path's route
 * template (NULL when none), for the metrics of a 405. */
static const struct api_route *api_route_find(struct api_req *q, char *allow, size_t n,
                                              const char **pattern)
{
    const char *method = httpd_req_method(q->http);
    const char *path = httpd_req_path(q->http);
    size_t len = 0;
    size_t i;
    int t;

    allow[0] = '\0';
    *pattern = NULL;
    for (t = 0; t < q->api->nt; t++) {
        for (i = 0; i < q->api->ntables[t]; i++) {
            const struct api_route *rt = &q->api->tables[t][i];

            if (!api_match(q, rt->pattern, path))
                continue;
            if (strcmp(rt->method, method) == 0)
                return rt;
            *pattern = rt->pattern;
            if (len < n && strstr(allow, rt->method) == NULL)
                len +=
                    (size_t)snprintf(allow + len, n - len, "%s%s", len > 0 ? ", " : "", rt->method);
        }
    }
    return NULL;
}

/* ---- life cycle ---- */

static void api_req_free(void *ctx)
{
    struct api_req *q = ctx;
    int i;

    ev_timer_stop(q->api->loop, &q->deadline);
    auth_lookup_cancel(q->auth_pending);
    db_query_cancel(q->query);
    sync_call_cancel(q->call);
    if (q->kept_free != NULL)
        q->kept_free(q->kept);
    for (i = 0; i < API_MAX_PARAMS; i++)
        free(q->params[i]);
    free(q);
}

static void api_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct api_req *q = container_of(w, struct api_req, deadline);

    (void)loop;
    (void)revents;
    if (q->query != NULL && db_query_sent(q->query)) {
        /* A statement on the server may commit: answering 503 now could report a
         * failure for a change that happened. statement_timeout bounds the wait, and
         * the outcome, whichever it is, is the answer. */
        log_req_warn(httpd_req_id(q->http), "event=deadline_waiting_for_statement");
        return;
    }
    auth_lookup_cancel(q->auth_pending);
    q->auth_pending = NULL;
    db_query_cancel(q->query);
    q->query = NULL;
    sync_call_cancel(q->call);
    q->call = NULL;
    log_req_warn(httpd_req_id(q->http), "event=deadline state=%d", (int)q->state);
    api_req_error(q, 503, "unavailable", NULL, "request deadline passed, try again");
}

static void api_run(struct api_req *q)
{
    if (q->who.scope < q->route->scope) {
        api_req_error(q, 403, "forbidden", NULL, "token \"%s\" has scope %s; this needs %s",
                      q->who.name, auth_scope_name(q->who.scope), auth_scope_name(q->route->scope));
        return;
    }
    q->state = API_RUNNING;
    q->route->fn(q);
}

static void api_on_auth(int code, const struct auth_identity *id, void *arg)
{
    struct api_req *q = arg;

    q->auth_pending = NULL;
    if (code == CL_EAUTH) {
        api_req_error(q, 401, "unauthorized", NULL, "unknown or revoked token");
        return;
    }
    if (code != CL_OK) {
        api_req_error(q, 503, "unavailable", NULL, "database unavailable, try again");
        return;
    }
    q->who = *id;
    httpd_req_set_principal(q->http, q->who.name);
    api_run(q);
}

static void api_authenticate(struct api_req *q)
{
    struct cl_err err = CL_ERR_INIT;
    int rc;

    if (q->route->scope == AUTH_NONE) { /* e.g. webhooks: they carry their own proof */
        q->state = API_RUNNING;
        q->route->fn(q);
        return;
    }
    rc = auth_check(&q->who, &q->auth_pending, q->api->auth,
                    httpd_req_header(q->http, "Authorization"), api_on_auth, q, &err);
    if (rc == AUTH_PENDING) {
        q->state = API_AUTHING;
        return;
    }
    if (rc != CL_OK) {
        api_req_error(q, 401, "unauthorized", NULL, "%s", err.msg);
        return;
    }
    httpd_req_set_principal(q->http, q->who.name);
    api_run(q);
}

/* ---- built-in routes: health, readiness, metrics ---- */

static void api_on_ready(const struct db_reply *r, void *arg)
{
    struct api_req *q = arg;
    long have = 0;
    long stale = 0;
    char why[200] = "";
    bool sync_ok = true;
    json_t *body;
    const char *status;

    q->query = NULL;
    if (r->code != CL_OK) {
        api_req_reply(q, 503, api_json_ct, "{\"status\":\"unavailable\",\"database\":false}\n");
        return;
    }
    if (!PQgetisnull(r->res, 0, 0))
        cl_parse_long(&have, PQgetvalue(r->res, 0, 0), 0, 1 << 30);
    if (PQnfields(r->res) > 1 && !PQgetisnull(r->res, 0, 1))
        cl_parse_long(&stale, PQgetvalue(r->res, 0, 1), 0, 1 << 30);
    if (q->api->sync != NULL)
        sync_ok = sync_healthy(q->api->sync, why, sizeof(why));
    status = have < migrate_latest() ? "migrating"
             : !sync_ok              ? "sync_auth_failed"
             : stale > 0             ? "sync_stale"
                                     : "ready";
    body = json_pack("{s:s, s:b, s:I, s:i, s:I, s:s?}", "status", status, "database", 1, "schema",
                     (json_int_t)have, "expected_schema", migrate_latest(), "stale_repositories",
                     (json_int_t)stale, "sync_error", why[0] != '\0' ? why : NULL);
    api_req_reply_json(q, strcmp(status, "ready") == 0 ? 200 : 503, body);
    json_decref(body);
}

static void api_metrics(struct api_req *q)
{
    struct db_pool_stats st;
    struct buf b;
    size_t len;
    char *body;

    db_pool_stats(q->api->pool, &st);
    buf_init(&b);
    metrics_render(&b, q->api->metrics, &st,
                   q->api->httpd != NULL ? httpd_inflight(q->api->httpd) : 0);
    sync_metrics(q->api->sync, &b); /* zeros without a tracker: alerts find their series */
    figures_metrics(q->api->figures, &b);
    review_scheduler_metrics(q->api->reviews, &b);
    digester_metrics(q->api->digester, &b);
    reminder_metrics(q->api->reminder, &b);
    mail_queue_metrics(q->api->mail, &b); /* zeros without mail */
    chat_queue_metrics(q->api->chat, &b); /* zeros without channels */
    body = buf_steal(&b, &len);
    api_req_finish(q);
    httpd_reply(q->http, 200, "text/plain; version=0.0.4", body, len);
}

static bool api_builtin(struct api_req *q)
{
    const char *path = httpd_req_path(q->http);
    bool get = strcmp(httpd_req_method(q->http), "GET") == 0;
    bool builtin = strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
                   strcmp(path, "/metrics") == 0;

    if (builtin && !get) {
        httpd_req_add_header(q->http, "Allow", "GET");
        api_req_error(q, 405, "method_not_allowed", NULL, "%s is not allowed here",
                      httpd_req_method(q->http));
    } else if (strcmp(path, "/healthz") == 0) {
        httpd_req_set_route(q->http, "/healthz");
        api_req_reply(q, 200, api_json_ct, "{\"status\":\"ok\"}\n");
    } else if (strcmp(path, "/readyz") == 0) {
        httpd_req_set_route(q->http, "/readyz");
        char stale[32];

        snprintf(stale, sizeof(stale), "%.0f", q->api->stale_after);
        q->state = API_QUERYING;
        q->query =
            db_query(q->api->pool, migrate_sql_ready, 2,
                     (const char *const[]){
                         stale, q->api->sync != NULL ? sync_connection_names(q->api->sync) : "{}"},
                     api_on_ready, q);
    } else if (strcmp(path, "/metrics") == 0) {
        httpd_req_set_route(q->http, "/metrics");
        api_metrics(q);
    } else {
        return false;
    }
    return true;
}

void api_handle(struct httpd_req *r, void *arg)
{
    struct api *a = arg;
    struct api_req *q = cl_calloc(1, sizeof(*q));
    char allow[64];
    const char *pattern;

    q->api = a;
    q->http = r;
    httpd_req_set_ctx(r, q, api_req_free);
    if (strncmp(httpd_req_path(r), API_SECRET_PATHS, strlen(API_SECRET_PATHS)) == 0)
        httpd_req_hide_path(r); /* a feed's token is its whole authority: never logged */
    ev_timer_init(&q->deadline, api_on_deadline, a->timeout, 0.0);
    ev_timer_start(a->loop, &q->deadline);
    if (api_builtin(q))
        return;
    q->route = api_route_find(q, allow, sizeof(allow), &pattern);
    if (q->route == NULL && allow[0] != '\0') {
        httpd_req_set_route(r, pattern);         /* counted under its route, not "unmatched" */
        httpd_req_add_header(r, "Allow", allow); /* RFC 9110: a 405 says what is allowed */
        api_req_error(q, 405, "method_not_allowed", NULL, "%s is not allowed here",
                      httpd_req_method(r));
        return;
    }
    if (q->route == NULL) {
        api_req_error(q, 404, "not_found", NULL, "no such route");
        return;
    }
    httpd_req_set_route(r, q->route->pattern);
    if (httpd_req_too_large(r)) {
        api_req_error(q, 413, "payload_too_large", NULL, "body is larger than the limit");
        return;
    }
    api_authenticate(q);
}

/* ---- the api object ---- */

struct api *api_new(const struct api_deps *deps)
{
    struct api *a = cl_calloc(1, sizeof(*a));

    a->loop = deps->loop;
    a->pool = deps->pool;
    a->auth = deps->auth;
    a->metrics = deps->metrics;
    a->mail = deps->mail;
    a->chat = deps->chat;
    a->figures = deps->figures;
    a->reviews = deps->reviews;
    a->digester = deps->digester;
    a->reminder = deps->reminder;
    a->sync = deps->sync;
    a->stale_after = deps->sync_stale_after;
    a->timeout = deps->request_timeout;
    return a;
}

void api_free(struct api *a)
{
    if (a != NULL) {
        free(a->no_routes);
        free(a->due_policy);
        free(a->review_policy);
        free(a->digest_policy);
        free(a->remind_policy);
    }
    free(a);
}

void api_add_routes(struct api *a, const struct api_route *routes, size_t n)
{
    assert(a->nt < API_MAX_TABLES); /* a fixed number of route files */
    a->tables[a->nt] = routes;
    a->ntables[a->nt] = n;
    a->nt++;
}

size_t api_routes_each(const struct api *a, void (*fn)(const struct api_route *r, void *arg),
                       void *arg)
{
    size_t n = 0;
    size_t i;
    int t;

    for (t = 0; t < a->nt; t++)
        for (i = 0; i < a->ntables[t]; i++, n++)
            fn(&a->tables[t][i], arg);
    return n;
}

int api_req_limit(long *limit, char fetch[24], struct api_req *q, long dflt, long max)
{
    const char *s = api_req_query(q, "limit");

    *limit = dflt;
    if (s != NULL && cl_parse_long(limit, s, 1, max) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%ld", max);
        return CL_EINVAL;
    }
    snprintf(fetch, 24, "%ld", *limit + 1);
    return CL_OK;
}

int api_req_path_id(struct api_req *q)
{
    const char *s = api_req_param(q, 0);
    long id;

    /* canonical decimal only: "+7", " 7" and "007" would name action 7 a second way */
    if (s == NULL || s[0] < '1' || s[0] > '9' || cl_parse_long(&id, s, 1, __LONG_MAX__) != CL_OK) {
        api_req_error(q, 404, "not_found", NULL, "no %s \"%.40s\"",
                      q->route->noun != NULL ? q->route->noun : "such object", api_req_param(q, 0));
        return CL_EINVAL;
    }
    return CL_OK;
}

char *api_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL)
        abort(); /* jansson fails here only when out of memory */
    return s;
}

/* The routes when no connection runs: every tracker, no connection (messages name it). */
static char *api_no_routes(void)
{
    size_t n = 0;
    const struct provider_def *const *all = registry_all(&n);
    json_t *routes = json_object();
    char *text;
    size_t i;

    for (i = 0; i < n; i++)
        json_object_set_new(
            routes, all[i]->tracker,
            json_pack("{s:s, s:n, s:{}}", "display", all[i]->display, "default", "scopes"));
    text = api_dump(routes);
    json_decref(routes);
    return text;
}

const char *api_req_sync_routes(const struct api_req *q)
{
    if (q->api->sync != NULL)
        return sync_routes(q->api->sync);
    if (q->api->no_routes == NULL)
        q->api->no_routes = api_no_routes();
    return q->api->no_routes;
}

void api_set_timeout(struct api *a, double seconds)
{
    a->timeout = seconds;
}

void api_set_due_policy(struct api *a, const char *json)
{
    free(a->due_policy);
    a->due_policy = cl_strdup(json);
}

void api_set_review_policy(struct api *a, const char *json)
{
    free(a->review_policy);
    a->review_policy = cl_strdup(json);
}

void api_set_digest_policy(struct api *a, const char *json)
{
    free(a->digest_policy);
    a->digest_policy = cl_strdup(json);
}

void api_set_remind_policy(struct api *a, const char *json)
{
    free(a->remind_policy);
    a->remind_policy = cl_strdup(json);
}

void api_set_httpd(struct api *a, struct httpd *h)
{
    a->httpd = h;
}
