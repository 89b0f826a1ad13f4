/* routes_outcomes: the agenda, holding a review, verification, the summary and the list
 * of reviews. Holding is one SQL function in one transaction (all outcomes or none); it
 * returns the summary's JSON, which is rendered here and stored, with the summary mails
 * queued, by a second statement (cl_review_summary_store). A crash between the two leaves
 * a held review without a stored summary: GET .../review/summary renders it then and runs
 * the same store, whose mails are queued once by their dedup key. */
#include "closeloop/api/routes_outcomes.h"

#include "closeloop/review/agenda.h"
#include "closeloop/review/summary.h"
#include "closeloop/util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTCOMES_DEFAULT_LIMIT 50
#define OUTCOMES_MAX_LIMIT     500

static const char *const outcomes[] = {"effective", "not_effective", "not_done", "dropped", NULL};
static const char *const kinds[] = {"corrective", "preventive", NULL};

static const struct valid_field hold_spec[] = {
    {"items", VALID_ARRAY, 0, OUTCOMES_MAX_ITEMS, NULL},
    {"attended", VALID_ARRAY, 0, 200, NULL},
    {"notes", VALID_TEXT, VALID_NULLABLE, 65536, NULL},
};

/* One item, its follow_up aside (checked with follow_spec). */
static const struct valid_field item_spec[] = {
    {"action", VALID_INT, VALID_REQUIRED, 0, NULL},
    {"outcome", VALID_ENUM, VALID_REQUIRED, 16, outcomes},
    {"note", VALID_TEXT, VALID_NULLABLE, 4000, NULL},
    {"due_on", VALID_DATE, VALID_NULLABLE, 10, NULL},
    {"reason", VALID_STR, VALID_NULLABLE, 500, NULL},
    {"evidence", VALID_STR, VALID_NULLABLE | VALID_NONBLANK, 2000, NULL},
};

static const struct valid_field follow_spec[] = {
    {"title", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 300, NULL},
    {"owner", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 63, NULL},
    {"due_on", VALID_DATE, VALID_REQUIRED, 10, NULL},
    {"kind", VALID_ENUM, 0, 16, kinds},
    {"description", VALID_TEXT, VALID_NULLABLE, 65536, NULL},
};

static const struct valid_field verify_spec[] = {
    {"evidence", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 2000, NULL},
};

static const char sql_agenda[] = "SELECT cl_review_agenda($1)";
static const char sql_hold[] = "SELECT cl_review_hold($1, $2::jsonb, $3, $4, $5::jsonb)";
static const char sql_store[] =
    "SELECT (cl_review_summary_json($1::bigint)::jsonb || jsonb_build_object('recipients',"
    " cl_review_summary_store($1::bigint, $2, $3, $4::jsonb, $5, $6)))::text";
static const char sql_summary[] = "SELECT review_id, j, md, html FROM cl_review_summary($1)";
static const char sql_verify[] = "SELECT cl_action_verify($1::bigint, $2, $3, $4)";
static const char sql_list[] =
    "SELECT j, c FROM cl_review_list($1, $2::timestamptz, $3::timestamptz, $4, $5,"
    " $6::timestamptz, $7::bigint, $8::int)";

/* ---- formats ---- */

enum outcomes_format { OUT_JSON, OUT_MD, OUT_HTML };

/* ?format=json|md|html (json when absent); 400 (answered) otherwise. */
static int outcomes_format(enum outcomes_format *out, struct api_req *q)
{
    static const char *const allowed[] = {"format", NULL};
    const char *f = api_req_query(q, "format");

    *out = OUT_JSON;
    if (api_req_check_query(q, allowed) != CL_OK)
        return CL_EINVAL;
    if (f == NULL || strcmp(f, "json") == 0)
        return CL_OK;
    if (strcmp(f, "md") == 0 || strcmp(f, "markdown") == 0)
        *out = OUT_MD;
    else if (strcmp(f, "html") == 0)
        *out = OUT_HTML;
    else {
        api_req_error(q, 400, "bad_request", "format", "format must be json, md or html");
        return CL_EINVAL;
    }
    return CL_OK;
}

typedef int (*outcomes_render_fn)(const json_t *doc, struct buf *out, struct cl_err *err);

/* The document text in the format asked for: md or html rendered from the JSON text. */
static void outcomes_reply_doc(struct api_req *q, enum outcomes_format fmt, const char *text,
                               outcomes_render_fn md, outcomes_render_fn html)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *doc = json_loads(text, 0, NULL);
    struct buf out;

    buf_init(&out);
    if (fmt == OUT_JSON)
        api_req_reply(q, 200, "application/json", text);
    else if (doc == NULL || (fmt == OUT_MD ? md : html)(doc, &out, &err) != CL_OK)
        api_req_error(q, 500, "internal", NULL, "cannot render the document: %s",
                      doc == NULL ? "not JSON" : err.msg);
    else
        api_req_reply(q, 200,
                      fmt == OUT_MD ? "text/markdown; charset=utf-8" : "text/html; charset=utf-8",
                      out.data != NULL ? out.data : "");
    buf_dispose(&out);
    json_decref(doc);
}

/* Column 0 of row 0 of a successful reply, or NULL. Borrowed. */
static const char *outcomes_cell(const struct db_reply *r, int col)
{
    if (PQntuples(r->res) < 1 || PQgetisnull(r->res, 0, col))
        return NULL;
    return PQgetvalue(r->res, 0, col);
}

/* ---- agenda ---- */

static void agenda_done(struct api_req *q, const struct db_reply *r)
{
    enum outcomes_format fmt = OUT_JSON;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    outcomes_format(&fmt, q); /* checked before the statement */
    outcomes_reply_doc(q, fmt, outcomes_cell(r, 0), agenda_markdown, agenda_html);
}

/* GET /api/v1/incidents/{key}/review/agenda?format=json|md|html */
static void agenda_get(struct api_req *q)
{
    enum outcomes_format fmt;

    if (outcomes_format(&fmt, q) != CL_OK)
        return;
    api_req_sql_then(q, sql_agenda, 1, (const char *const[]){api_req_param(q, 0)}, agenda_done);
}

/* ---- the summary: rendered, then stored with its mails queued ---- */

/* Renders the summary JSON and starts cl_review_summary_store; `then` answers. */
static void summary_store(struct api_req *q, const char *rid, const char *text, api_sql_fn then)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *doc = json_loads(text != NULL ? text : "", 0, NULL);
    struct buf md;
    struct buf html;

    buf_init(&md);
    buf_init(&html);
    if (doc == NULL || summary_markdown(doc, &md, &err) != CL_OK ||
        summary_html(doc, &html, &err) != CL_OK)
        api_req_error(q, 500, "internal", NULL, "cannot render the summary: %s",
                      doc == NULL ? "not JSON" : err.msg);
    else /* the team's summary list is in the review policy ([review] summary_to) */
        api_req_sql_then(q, sql_store, 6,
                         (const char *const[]){rid, md.data != NULL ? md.data : "",
                                               html.data != NULL ? html.data : "",
                                               api_req_review_policy(q), api_req_source(q),
                                               api_req_actor(q)},
                         then);
    buf_dispose(&md);
    buf_dispose(&html);
    json_decref(doc);
}

static void hold_stored(struct api_req *q, const struct db_reply *r)
{
    if (r->code != CL_OK) { /* the hold committed: say so, and how it is repaired */
        api_req_error(q, 503, "unavailable", NULL,
                      "the review was held, but storing its summary failed (%s); GET "
                      ".../review/summary makes and sends it",
                      r->sqlstate);
        return;
    }
    api_req_reply(q, 200, "application/json", outcomes_cell(r, 0));
}

static void hold_done(struct api_req *q, const struct db_reply *r)
{
    const char *text;
    json_t *doc;
    char rid[24];

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    text = outcomes_cell(r, 0);
    doc = json_loads(text != NULL ? text : "", 0, NULL);
    snprintf(rid, sizeof(rid), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(json_object_get(doc, "review"), "id")));
    summary_store(q, rid, text, hold_stored);
    json_decref(doc);
}

/* Every item is an object of the item's fields; a follow_up an object of its own. 422
 * (answered) naming items[i].field otherwise. */
static int hold_item_check(struct api_req *q, const json_t *item, size_t i)
{
    struct cl_err err = CL_ERR_INIT;
    char field[80];
    char where[112];
    const json_t *f = json_object_get(item, "follow_up");
    json_t *copy;
    int rc;

    if (json_is_null(f)) /* null: no follow-up, as absent */
        f = NULL;
    if (!json_is_object(item)) {
        snprintf(where, sizeof(where), "items[%zu]", i);
        api_req_error(q, 422, "validation", where, "items[%zu]: not a JSON object", i);
        return CL_EINVAL;
    }
    copy = json_copy((json_t *)item);
    json_object_del(copy, "follow_up");
    rc = valid_object(copy, item_spec, CL_ARRAY_LEN(item_spec), VALID_MODE_CREATE, field,
                      sizeof(field), &err);
    json_decref(copy);
    if (rc == CL_OK && f != NULL && !json_is_object(f)) {
        snprintf(field, sizeof(field), "follow_up");
        rc = cl_fail(&err, CL_EINVAL, "follow_up must be an object: title, owner, due_on");
    } else if (rc == CL_OK && f != NULL) {
        rc = valid_object(f, follow_spec, CL_ARRAY_LEN(follow_spec), VALID_MODE_CREATE, field,
                          sizeof(field), &err);
        if (rc != CL_OK) {
            char inner[80];

            snprintf(inner, sizeof(inner), "follow_up.%.60s", field);
            snprintf(field, sizeof(field), "%s", inner);
        }
    }
    if (rc != CL_OK) {
        snprintf(where, sizeof(where), "items[%zu].%s", i, field);
        api_req_error(q, 422, "validation", where, "items[%zu]: %s", i, err.msg);
    }
    return rc;
}

static int hold_body_check(struct api_req *q, const json_t *body)
{
    const json_t *items = json_object_get(body, "items");
    const json_t *att = json_object_get(body, "attended");
    size_t i;

    for (i = 0; i < json_array_size(items); i++)
        if (hold_item_check(q, json_array_get(items, i), i) != CL_OK)
            return CL_EINVAL;
    for (i = 0; i < json_array_size(att); i++) {
        const char *s = json_string_value(json_array_get(att, i));

        if (s == NULL || s[0] == '\0' || strlen(s) > 254) {
            api_req_error(q, 422, "validation", "attended",
                          "attended[%zu] must be a handle or an e-mail address", i);
            return CL_EINVAL;
        }
    }
    return CL_OK;
}

/* POST /api/v1/incidents/{key}/review/hold: the summary JSON and its recipients count. */
static void hold_post(struct api_req *q)
{
    json_t *body = NULL;
    char *text;

    if (api_req_body(&body, q, hold_spec, CL_ARRAY_LEN(hold_spec), VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    if (hold_body_check(q, body) == CL_OK) {
        text = api_dump(body);
        api_req_sql_then(q, sql_hold, 5,
                         (const char *const[]){api_req_param(q, 0), text, api_req_source(q),
                                               api_req_actor(q), api_req_sync_routes(q)},
                         hold_done);
        free(text);
    }
    json_decref(body);
}

static void summary_repaired(struct api_req *q, const struct db_reply *r)
{
    enum outcomes_format fmt = OUT_JSON;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    outcomes_format(&fmt, q);
    outcomes_reply_doc(q, fmt, outcomes_cell(r, 0), summary_markdown, summary_html);
}

static void summary_done(struct api_req *q, const struct db_reply *r)
{
    enum outcomes_format fmt = OUT_JSON;
    const char *stored;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    outcomes_format(&fmt, q);
    stored = outcomes_cell(r, fmt == OUT_HTML ? 3 : 2);
    if (outcomes_cell(r, 2) == NULL) /* held, never stored: a crash after the hold */
        summary_store(q, outcomes_cell(r, 0), outcomes_cell(r, 1), summary_repaired);
    else if (fmt == OUT_JSON)
        api_req_reply(q, 200, "application/json", outcomes_cell(r, 1));
    else
        api_req_reply(q, 200,
                      fmt == OUT_MD ? "text/markdown; charset=utf-8" : "text/html; charset=utf-8",
                      stored != NULL ? stored : "");
}

/* GET /api/v1/incidents/{key}/review/summary?format=json|md|html */
static void summary_get(struct api_req *q)
{
    enum outcomes_format fmt;

    if (outcomes_format(&fmt, q) != CL_OK)
        return;
    api_req_sql_then(q, sql_summary, 1, (const char *const[]){api_req_param(q, 0)}, summary_done);
}

/* ---- verify ---- */

/* POST /api/v1/actions/{id}/verify {"evidence"}: the action, verified. */
static void verify_post(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_path_id(q) != CL_OK ||
        api_req_body(&body, q, verify_spec, CL_ARRAY_LEN(verify_spec), VALID_MODE_CREATE, false) !=
            CL_OK)
        return;
    api_req_sql(q, sql_verify, 4,
                (const char *const[]){api_req_param(q, 0),
                                      json_string_value(json_object_get(body, "evidence")),
                                      api_req_source(q), api_req_actor(q)},
                API_ONE, 200, 0);
    json_decref(body);
}

/* ---- the list ---- */

/* "2026-12-07T15:00:00.000000Z.42" -> time text and id text. */
static int list_cursor(char at[40], char id[24], struct api_req *q)
{
    const char *s = api_req_query(q, "cursor");
    const char *dot = s != NULL ? strrchr(s, '.') : NULL;
    long n;

    at[0] = '\0';
    if (s == NULL)
        return CL_OK;
    if (dot != NULL && dot - s <= 32 && cl_parse_long(&n, dot + 1, 1, __LONG_MAX__) == CL_OK) {
        snprintf(at, 40, "%.*s", (int)(dot - s), s);
        snprintf(id, 24, "%ld", n);
        if (valid_timestamp(at))
            return CL_OK;
    }
    api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave out");
    return CL_EINVAL;
}

/* from/to: an RFC 3339 time or a date (midnight UTC); 400 (answered) otherwise. */
static int list_time(const char **out, struct api_req *q, const char *name)
{
    const char *s = api_req_query(q, name);

    *out = s;
    if (s == NULL || valid_timestamp(s) || valid_date(s))
        return CL_OK;
    api_req_error(q, 400, "bad_request", name, "%s must be a date or an RFC 3339 time", name);
    return CL_EINVAL;
}

static int list_enum(struct api_req *q, const char *name, const char *a, const char *b,
                     const char *c)
{
    const char *s = api_req_query(q, name);

    if (s == NULL || strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c != NULL && strcmp(s, c) == 0))
        return CL_OK;
    api_req_error(q, 400, "bad_request", name, "%s must be %s, %s%s%s", name, a, b,
                  c != NULL ? " or " : "", c != NULL ? c : "");
    return CL_EINVAL;
}

/* GET /api/v1/reviews: by starting time, keyset paged. */
static void list_get(struct api_req *q)
{
    static const char *const allowed[] = {"team", "from",  "to",     "status",
                                          "kind", "limit", "cursor", NULL};
    const char *lim = api_req_query(q, "limit");
    const char *from;
    const char *to;
    char at[40];
    char id[24];
    char fetch[24];
    long limit = OUTCOMES_DEFAULT_LIMIT;

    if (api_req_check_query(q, allowed) != CL_OK || list_cursor(at, id, q) != CL_OK ||
        list_time(&from, q, "from") != CL_OK || list_time(&to, q, "to") != CL_OK ||
        list_enum(q, "status", "scheduled", "held", "cancelled") != CL_OK ||
        list_enum(q, "kind", "incident", "backlog", NULL) != CL_OK)
        return;
    if (lim != NULL && cl_parse_long(&limit, lim, 1, OUTCOMES_MAX_LIMIT) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%d",
                      OUTCOMES_MAX_LIMIT);
        return;
    }
    snprintf(fetch, sizeof(fetch), "%ld", limit + 1);
    api_req_sql(q, sql_list, 8,
                (const char *const[]){api_req_query(q, "team"), from, to,
                                      api_req_query(q, "status"), api_req_query(q, "kind"),
                                      at[0] != '\0' ? at : NULL, at[0] != '\0' ? id : NULL, fetch},
                API_LIST, 200, limit);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/incidents/{}/review/agenda", AUTH_READ, agenda_get, "incident"},
    {"POST", "/api/v1/incidents/{}/review/hold", AUTH_WRITE, hold_post, "incident"},
    {"GET", "/api/v1/incidents/{}/review/summary", AUTH_READ, summary_get, "incident"},
    {"GET", "/api/v1/reviews", AUTH_READ, list_get, "review"},
    {"POST", "/api/v1/actions/{}/verify", AUTH_WRITE, verify_post, "action"},
};

void routes_outcomes_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
