/* routes_core: the /api/v1 routes for teams, people, incidents and actions. Each
 * handler validates its input, then runs exactly one SQL statement (a function from
 * sql/functions/, so the row, its events and its outbox rows commit together). */
#include "closeloop/api/routes_core.h"

#include "closeloop/sync/registry.h"

#include "closeloop/api/api.h"
#include "closeloop/sync/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_DEFAULT_LIMIT 50
#define RES_MAX_LIMIT     500
#define RES_REASON_MAX    500  /* characters; cl_reason() in sql/functions/history.sql */
#define RES_NOTE_MAX      4000 /* characters; cl_action_note() */

static const char *const kinds[] = {"corrective", "preventive", NULL};
static const char *const statuses[] = {"open", "in_progress", "blocked", "done", "wont_do", NULL};
static const char *const priorities[] = {"P0", "P1", "P2", "P3", "P4", NULL};
static const char *const severities[] = {"SEV1", "SEV2", "SEV3", "SEV4", "SEV5", NULL};

/* ---- field specs ---- */

/* The specs below are completed at start-up with one field per tracker in the registry
 * (res_specs_build): "github" on actions, "github_repo" on teams and incidents. */
#define RES_MAX_FIELDS 24

static const struct valid_field team_base[] = {
    {"name", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 63, NULL},
    {"manager", VALID_STR, VALID_NULLABLE, 63, NULL},
};

static const struct valid_field person_spec[] = {
    {"handle", VALID_STR, VALID_REQUIRED | VALID_CREATE_ONLY | VALID_NONBLANK, 63, NULL},
    {"name", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 200, NULL},
    {"email", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 254, NULL},
    {"timezone", VALID_STR, VALID_NONBLANK, 64, NULL},
    {"team", VALID_STR, VALID_NULLABLE, 63, NULL},
    {"active", VALID_BOOL, 0, 0, NULL},
    {"github_login", VALID_STR, VALID_NULLABLE, 39, NULL},
    {"jira_account_id", VALID_STR, VALID_NULLABLE, 128, NULL},
    {"jira_name", VALID_STR, VALID_NULLABLE, 255, NULL},
    {"review_hour", VALID_INT, VALID_NULLABLE, 0, NULL},     /* 1..23, the CHECK says the rest */
    {"digest_cadence", VALID_STR, VALID_NULLABLE, 16, NULL}, /* the CHECK: daily|weekly|... */
};

static const struct valid_field incident_base[] = {
    {"key", VALID_STR, VALID_REQUIRED | VALID_CREATE_ONLY | VALID_NONBLANK, 200, NULL},
    {"title", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 300, NULL},
    {"severity", VALID_ENUM, VALID_NULLABLE, 8, severities},
    {"started_at", VALID_TIME, VALID_NULLABLE, 64, NULL},
    {"resolved_at", VALID_TIME, VALID_NULLABLE, 64, NULL},
    {"postmortem_url", VALID_STR, VALID_NULLABLE, 2000, NULL},
    {"facilitator", VALID_STR, VALID_NULLABLE, 63, NULL},
    {"version", VALID_INT, VALID_UPDATE_ONLY, 0, NULL},
};

static const struct valid_field action_base[] = {
    {"incident", VALID_STR, VALID_REQUIRED | VALID_CREATE_ONLY | VALID_NONBLANK, 200, NULL},
    {"kind", VALID_ENUM, VALID_REQUIRED, 16, kinds},
    {"title", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 300, NULL},
    {"description", VALID_TEXT, VALID_NULLABLE, 65536, NULL},
    {"owner", VALID_STR, VALID_NULLABLE, 63, NULL},
    {"due_on", VALID_DATE, VALID_NULLABLE, 10, NULL},
    {"priority", VALID_ENUM, 0, 4, priorities},
    {"status", VALID_ENUM, VALID_UPDATE_ONLY, 16, statuses},
    {"version", VALID_INT, VALID_UPDATE_ONLY, 0, NULL},
    {"reason", VALID_STR, VALID_UPDATE_ONLY | VALID_NONBLANK, RES_REASON_MAX, NULL},
};

struct res_spec {
    struct valid_field fields[RES_MAX_FIELDS];
    size_t n;
};

static struct res_spec team_spec;
static struct res_spec incident_spec;
static struct res_spec action_spec;

/* Which tracker field a body may carry: an action's own ("github": a scope, null to opt
 * out) or a team's or incident's default ("github_repo"). */
enum res_sync { RES_SYNC_NONE, RES_SYNC_ACTION, RES_SYNC_DEFAULT };

static const char *res_sync_field_name(const struct provider_def *def, enum res_sync kind)
{
    return kind == RES_SYNC_ACTION ? def->tracker : def->default_field;
}

static void res_spec_build(struct res_spec *spec, const struct valid_field *base, size_t n,
                           enum res_sync kind)
{
    size_t count = 0;
    const struct provider_def *const *all = registry_all(&count);
    size_t i;

    memcpy(spec->fields, base, n * sizeof(*base));
    spec->n = n;
    for (i = 0; i < count && spec->n < RES_MAX_FIELDS; i++)
        spec->fields[spec->n++] = (struct valid_field){
            res_sync_field_name(all[i], kind), VALID_STR,
            VALID_NULLABLE | (kind == RES_SYNC_ACTION ? VALID_CREATE_ONLY : 0), 201, NULL};
}

/* Turns the body's tracker field into "sync": {"tracker","scope"} for SQL, checking the
 * scope with its provider. 422 (answered) when it is not valid or two trackers are named. */
static int res_sync_fields(struct api_req *q, json_t *body, enum res_sync kind)
{
    size_t count = 0;
    const struct provider_def *const *all = registry_all(&count);
    const struct provider_def *found = NULL;
    json_t *v = NULL;
    size_t i;

    for (i = 0; kind != RES_SYNC_NONE && i < count; i++) {
        json_t *f = json_object_get(body, res_sync_field_name(all[i], kind));

        if (f == NULL)
            continue;
        if (found != NULL) {
            api_req_error(q, 422, "validation", res_sync_field_name(all[i], kind),
                          "an action goes to one tracker: name %s or %s, not both",
                          res_sync_field_name(found, kind), res_sync_field_name(all[i], kind));
            return CL_EINVAL;
        }
        found = all[i];
        v = f;
    }
    if (found == NULL)
        return CL_OK;
    if (json_is_string(v) && !found->scope_valid(json_string_value(v))) {
        api_req_error(q, 422, "validation", res_sync_field_name(found, kind),
                      "%s \"%.60s\" is not a %s %s: %s", res_sync_field_name(found, kind),
                      json_string_value(v), found->tracker, found->scope_noun, found->scope_rule);
        return CL_EINVAL;
    }
    json_object_set_new(body, "sync",
                        json_pack("{s:s, s:O}", "tracker", found->tracker, "scope", v));
    json_object_del(body, res_sync_field_name(found, kind));
    return CL_OK;
}

static const struct valid_field assign_spec[] = {
    {"owner", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 63, NULL},
    {"version", VALID_INT, 0, 0, NULL},
};

static const struct valid_field verb_spec[] = {
    {"version", VALID_INT, 0, 0, NULL},
};

static const struct valid_field note_spec[] = {
    {"text", VALID_TEXT, VALID_REQUIRED | VALID_NONBLANK, RES_NOTE_MAX, NULL},
};

static const struct valid_field snooze_spec[] = {
    {"until", VALID_DATE, VALID_REQUIRED, 10, NULL},
    {"reason", VALID_TEXT, VALID_REQUIRED | VALID_NONBLANK, RES_NOTE_MAX, NULL},
};

/* block and drop: the reason is checked by SQL (required from the API and the CLI). */
static const struct valid_field verb_reason_spec[] = {
    {"version", VALID_INT, 0, 0, NULL},
    {"reason", VALID_STR, VALID_NONBLANK, RES_REASON_MAX, NULL},
};

/* ---- SQL ---- */

static const struct db_stmt sql_team_get = {"team_get",
                                            "SELECT team_json(t) FROM teams t WHERE t.name = $1"};
static const char sql_team_list[] =
    "SELECT team_json(t), t.id::text FROM teams t"
    " WHERE ($1::bigint IS NULL OR t.id > $1) ORDER BY t.id LIMIT $2";
static const struct db_stmt sql_team_create = {"team_create", "SELECT cl_team_create($1::jsonb)"};
static const struct db_stmt sql_team_update = {"team_update",
                                               "SELECT cl_team_update($1, $2::jsonb)"};

static const struct db_stmt sql_person_get = {
    "person_get", "SELECT person_json(p) FROM people p WHERE p.handle = $1"};
static const char sql_person_list[] =
    "SELECT person_json(p), p.id::text FROM people p"
    " WHERE ($1::bigint IS NULL OR p.id > $1)"
    " AND ($3::text IS NULL OR p.team_id = (SELECT id FROM teams WHERE name = $3))"
    " AND ($4::boolean IS NULL OR p.active = $4)"
    " ORDER BY p.id LIMIT $2";
static const struct db_stmt sql_person_create = {"person_create",
                                                 "SELECT cl_person_create($1::jsonb)"};
static const struct db_stmt sql_person_update = {"person_update",
                                                 "SELECT cl_person_update($1, $2::jsonb)"};

static const struct db_stmt sql_incident_get = {
    "incident_get",
    "SELECT incident_json(i), i.version AS etag FROM incidents i WHERE i.key = upper($1)"};
static const char sql_incident_list[] =
    "SELECT incident_json(i), i.id::text FROM incidents i"
    " WHERE ($1::bigint IS NULL OR i.id > $1)"
    " AND ($3::text IS NULL OR ($3 = 'open') = (i.resolved_at IS NULL))"
    " AND i.archived_at IS NULL"
    " ORDER BY i.id LIMIT $2";
static const struct db_stmt sql_incident_create = {
    "incident_create", "SELECT cl_incident_create_by($1::jsonb, $2, $3)"};
static const struct db_stmt sql_incident_update = {
    "incident_update", "SELECT cl_incident_update_by($1, $2::int, $3::jsonb, $4, $5)"};
static const char sql_incident_history[] =
    "SELECT j, c FROM cl_incident_history($1, $2::bigint, $3::int)";

static const struct db_stmt sql_action_get = {
    "action_get",
    "SELECT action_json(v), v.version AS etag FROM action_v v WHERE v.id = $1::bigint"};
static const struct db_stmt sql_action_reminder = {
    "action_reminder",
    "SELECT j::text FROM cl_reminder_next($1::bigint, $2::jsonb, now()) j WHERE j IS NOT NULL"};
static const struct db_stmt sql_action_snooze = {
    "action_snooze", "SELECT cl_action_snooze($1::bigint, $2::date, $3, $4, $5, $6::jsonb)"};
static const struct db_stmt sql_action_create = {
    "action_create", "SELECT cl_action_add($1::jsonb, $2, $3, $4::jsonb, $5::jsonb)"};
static const struct db_stmt sql_action_update = {
    "action_update",
    "SELECT cl_action_change_why($1::bigint, $2::int, NULL, $3::jsonb, $4, $5, $6)"};
static const struct db_stmt sql_action_verb = {
    "action_verb", "SELECT cl_action_change_why($1::bigint, $2::int, $3, NULL, $4, $5, $6)"};
static const struct db_stmt sql_action_note = {"action_note",
                                               "SELECT cl_action_note($1::bigint, $2, $3, $4)"};
static const struct db_stmt sql_action_history = {"action_history",
                                                  "SELECT cl_action_history($1::bigint)"};

/* Most urgent first. The overdue and unowned predicates are sql/functions/reports.sql's,
 * which the planner inlines: it still walks actions_open_due_idx. */
static const char sql_action_list[] =
    "SELECT action_json(v), coalesce(v.due_on, 'infinity'::date)::text || '.' || v.id"
    " FROM action_v v"
    " WHERE ($1::text[] IS NULL OR v.status = ANY ($1::text[]))"
    " AND ($2::text IS NULL OR v.owner_handle = $2)"
    " AND ($3::text IS NULL OR v.owner_team_id = (SELECT id FROM teams WHERE name = $3))"
    " AND ($4::text IS NULL OR v.incident_key = upper($4))"
    " AND ($5::text IS NULL OR v.kind = $5)"
    " AND (NOT $6::boolean OR cl_action_overdue(v.status, v.due_on))"
    " AND (NOT $7::boolean OR cl_action_unowned(v.status, v.owner_active))"
    " AND ($8::date IS NULL OR v.due_on < $8::date)"
    " AND ($9::date IS NULL OR v.due_on > $9::date)"
    " AND ($10::date IS NULL OR (coalesce(v.due_on, 'infinity'::date), v.id)"
    "      > ($10::date, $11::bigint))"
    " AND v.archived_at IS NULL"
    " ORDER BY coalesce(v.due_on, 'infinity'::date), v.id LIMIT $12";

/* ---- shared helpers ---- */

/* Reads limit (1..500) into *limit and the "limit+1" text for SQL into fetch. */
static int res_limit(long *limit, char fetch[24], struct api_req *q)
{
    return api_req_limit(limit, fetch, q, RES_DEFAULT_LIMIT, RES_MAX_LIMIT);
}

/* An id cursor: the last id seen, as decimal text. */
static int res_id_cursor(const char **out, struct api_req *q)
{
    const char *s = api_req_query(q, "cursor");
    long id;

    *out = NULL;
    if (s == NULL)
        return CL_OK;
    if (cl_parse_long(&id, s, 0, __LONG_MAX__) != CL_OK) {
        api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave out");
        return CL_EINVAL;
    }
    *out = s;
    return CL_OK;
}

/* A boolean query parameter: absent is `def`; anything but true/false is 400. */
static int res_bool(const char **out, struct api_req *q, const char *name, const char *def)
{
    const char *s = api_req_query(q, name);

    *out = def;
    if (s == NULL)
        return CL_OK;
    if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
        api_req_error(q, 400, "bad_request", name, "%s must be true or false", name);
        return CL_EINVAL;
    }
    *out = s;
    return CL_OK;
}

static int res_date_param(const char **out, struct api_req *q, const char *name)
{
    const char *s = api_req_query(q, name);

    *out = s;
    if (s != NULL && !valid_date(s)) {
        api_req_error(q, 400, "bad_request", name, "%s must be a date (YYYY-MM-DD)", name);
        return CL_EINVAL;
    }
    return CL_OK;
}

/* Validates the body and runs `sql` with (prefix params..., body [, suffix...]). */
static void res_change(struct api_req *q, const struct valid_field *spec, size_t n,
                       enum valid_mode mode, enum res_sync kind, const struct db_stmt *sql,
                       int status)
{
    json_t *body = NULL;
    char *text;
    const char *params[2];
    int np = 0;

    if (api_req_body(&body, q, spec, n, mode, false) != CL_OK)
        return;
    if (res_sync_fields(q, body, kind) != CL_OK) {
        json_decref(body);
        return;
    }
    text = api_dump(body);
    if (mode == VALID_MODE_UPDATE)
        params[np++] = api_req_param(q, 0);
    params[np++] = text;
    api_req_prepared(q, sql, np, params, API_ONE, status, 0);
    free(text);
    json_decref(body);
}

static void res_get(struct api_req *q, const struct db_stmt *sql)
{
    const char *params[1] = {api_req_param(q, 0)};

    if (api_req_check_query(q, (const char *const[]){NULL}) != CL_OK)
        return;
    api_req_prepared(q, sql, 1, params, API_ONE, 200, 0);
}

/* A list keyset-paged by id that takes only limit and cursor: runs `sql` with ([path
 * capture 0,] cursor, limit+1). */
void routes_core_id_page(struct api_req *q, const char *sql, bool by_path)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    const char *params[3];
    const char *cursor;
    char fetch[24];
    long limit;
    int n = 0;

    if (api_req_check_query(q, allowed) != CL_OK || res_limit(&limit, fetch, q) != CL_OK ||
        res_id_cursor(&cursor, q) != CL_OK)
        return;
    if (by_path)
        params[n++] = api_req_param(q, 0);
    params[n++] = cursor;
    params[n++] = fetch;
    api_req_sql(q, sql, n, params, API_LIST, 200, limit);
}

/* ---- teams ---- */

static void team_list(struct api_req *q)
{
    routes_core_id_page(q, sql_team_list, false);
}

static void team_get(struct api_req *q)
{
    res_get(q, &sql_team_get);
}

static void team_create(struct api_req *q)
{
    res_change(q, team_spec.fields, team_spec.n, VALID_MODE_CREATE, RES_SYNC_DEFAULT,
               &sql_team_create, 201);
}

static void team_update(struct api_req *q)
{
    res_change(q, team_spec.fields, team_spec.n, VALID_MODE_UPDATE, RES_SYNC_DEFAULT,
               &sql_team_update, 200);
}

/* ---- people ---- */

static void person_list(struct api_req *q)
{
    static const char *const allowed[] = {"limit", "cursor", "team", "active", NULL};
    const char *cursor;
    const char *active;
    char fetch[24];
    long limit;

    if (api_req_check_query(q, allowed) != CL_OK || res_limit(&limit, fetch, q) != CL_OK ||
        res_id_cursor(&cursor, q) != CL_OK || res_bool(&active, q, "active", NULL) != CL_OK)
        return;
    api_req_sql(q, sql_person_list, 4,
                (const char *const[]){cursor, fetch, api_req_query(q, "team"), active}, API_LIST,
                200, limit);
}

static void person_get(struct api_req *q)
{
    res_get(q, &sql_person_get);
}

static void person_create(struct api_req *q)
{
    res_change(q, person_spec, CL_ARRAY_LEN(person_spec), VALID_MODE_CREATE, RES_SYNC_NONE,
               &sql_person_create, 201);
}

static void person_update(struct api_req *q)
{
    res_change(q, person_spec, CL_ARRAY_LEN(person_spec), VALID_MODE_UPDATE, RES_SYNC_NONE,
               &sql_person_update, 200);
}

/* ---- incidents ---- */

static void incident_list(struct api_req *q)
{
    static const char *const allowed[] = {"limit", "cursor", "status", NULL};
    const char *status = api_req_query(q, "status");
    const char *cursor;
    char fetch[24];
    long limit;

    if (api_req_check_query(q, allowed) != CL_OK || res_limit(&limit, fetch, q) != CL_OK ||
        res_id_cursor(&cursor, q) != CL_OK)
        return;
    if (status != NULL && strcmp(status, "open") != 0 && strcmp(status, "resolved") != 0) {
        api_req_error(q, 400, "bad_request", "status", "status must be open or resolved");
        return;
    }
    api_req_sql(q, sql_incident_list, 3, (const char *const[]){cursor, fetch, status}, API_LIST,
                200, limit);
}

static void incident_get(struct api_req *q)
{
    res_get(q, &sql_incident_get);
}

/* The incident and its history's first events, with who made it. */
static void incident_create(struct api_req *q)
{
    json_t *body = NULL;
    char *text;

    if (api_req_body(&body, q, incident_spec.fields, incident_spec.n, VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    if (res_sync_fields(q, body, RES_SYNC_DEFAULT) == CL_OK) {
        text = api_dump(body);
        api_req_prepared(q, &sql_incident_create, 3,
                         (const char *const[]){text, api_req_source(q), api_req_actor(q)}, API_ONE,
                         201, 0);
        free(text);
    }
    json_decref(body);
}

static void incident_update(struct api_req *q)
{
    json_t *body = NULL;
    const char *version = NULL;
    char *text;

    if (api_req_body(&body, q, incident_spec.fields, incident_spec.n, VALID_MODE_UPDATE, false) !=
        CL_OK)
        return;
    if (res_sync_fields(q, body, RES_SYNC_DEFAULT) == CL_OK &&
        api_req_version(&version, q, body) == CL_OK) {
        text = api_dump(body);
        api_req_prepared(q, &sql_incident_update, 5,
                         (const char *const[]){api_req_param(q, 0), version, text,
                                               api_req_source(q), api_req_actor(q)},
                         API_ONE, 200, 0);
        free(text);
    }
    json_decref(body);
}

/* GET /incidents/{key}/history: its changes, oldest first, keyset paged by event id. */
static void incident_history(struct api_req *q)
{
    routes_core_id_page(q, sql_incident_history, true);
}

/* ---- actions ---- */

/* Checks every status in a comma list and turns it into a SQL array literal. */
static int action_status_array(char *out, size_t n, struct api_req *q, const char *list)
{
    char item[32];
    const char *p = list;
    size_t o = 0;

    out[o++] = '{';
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *const *s;

        snprintf(item, sizeof(item), "%.*s", (int)(len < 31 ? len : 31), p);
        for (s = statuses; *s != NULL && strcmp(*s, item) != 0; s++)
            ;
        if (*s == NULL || len > 31 || o + len + 2 >= n) {
            api_req_error(q, 400, "bad_request", "status", "unknown status \"%s\"", item);
            return CL_EINVAL;
        }
        o += (size_t)snprintf(out + o, n - o, "%s%s", o > 1 ? "," : "", item);
        p += len + (p[len] == ',');
    }
    snprintf(out + o, n - o, "}");
    return CL_OK;
}

/* "2026-12-01.42" or "infinity.42" -> date text and id text. */
static int action_cursor(char date[16], char id[24], struct api_req *q)
{
    const char *s = api_req_query(q, "cursor");
    const char *dot = s != NULL ? strrchr(s, '.') : NULL;
    long n;

    date[0] = '\0';
    if (s == NULL)
        return CL_OK;
    if (dot == NULL || dot - s > 10 || cl_parse_long(&n, dot + 1, 0, __LONG_MAX__) != CL_OK)
        goto bad;
    snprintf(date, 16, "%.*s", (int)(dot - s), s);
    snprintf(id, 24, "%ld", n);
    if (strcmp(date, "infinity") == 0 || valid_date(date))
        return CL_OK;
bad:
    api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave out");
    return CL_EINVAL;
}

struct action_filter {
    char statuses[128];
    char cdate[16];
    char cid[24];
    char fetch[24];
    const char *overdue;
    const char *unowned;
    const char *before;
    const char *after;
    const char *kind;
    long limit;
};

static int action_filter_parse(struct action_filter *f, struct api_req *q)
{
    static const char *const allowed[] = {"status",    "owner",   "team",    "incident",
                                          "kind",      "overdue", "unowned", "due_before",
                                          "due_after", "limit",   "cursor",  NULL};
    const char *status = api_req_query(q, "status");

    f->kind = api_req_query(q, "kind");
    f->statuses[0] = '\0';
    if (api_req_check_query(q, allowed) != CL_OK || res_limit(&f->limit, f->fetch, q) != CL_OK ||
        action_cursor(f->cdate, f->cid, q) != CL_OK ||
        res_bool(&f->overdue, q, "overdue", "false") != CL_OK ||
        res_bool(&f->unowned, q, "unowned", "false") != CL_OK ||
        res_date_param(&f->before, q, "due_before") != CL_OK ||
        res_date_param(&f->after, q, "due_after") != CL_OK)
        return CL_EINVAL;
    if (status != NULL && action_status_array(f->statuses, sizeof(f->statuses), q, status) != 0)
        return CL_EINVAL;
    if (f->kind != NULL && strcmp(f->kind, kinds[0]) != 0 && strcmp(f->kind, kinds[1]) != 0) {
        api_req_error(q, 400, "bad_request", "kind", "kind must be corrective or preventive");
        return CL_EINVAL;
    }
    return CL_OK;
}

static void action_list_run(struct api_req *q)
{
    struct action_filter f;
    const char *params[12];
    const char *owner = api_req_query(q, "owner");

    if (action_filter_parse(&f, q) != CL_OK || api_req_owner_me(&owner, q, "owner") != CL_OK)
        return;
    params[0] = f.statuses[0] != '\0' ? f.statuses : NULL;
    params[1] = owner;
    params[2] = api_req_query(q, "team");
    params[3] = api_req_query(q, "incident");
    params[4] = f.kind;
    params[5] = f.overdue;
    params[6] = f.unowned;
    params[7] = f.before;
    params[8] = f.after;
    params[9] = f.cdate[0] != '\0' ? f.cdate : NULL;
    params[10] = f.cdate[0] != '\0' ? f.cid : NULL;
    params[11] = f.fetch;
    api_req_sql(q, sql_action_list, 12, params, API_LIST, 200, f.limit);
}

/* ---- reports: sql/functions/reports.sql's cl_report(), paged like the action list ---- */

static const char *const report_names[] = {"overdue", "stale", "unowned", "undated",   "due-soon",
                                           "blocked", "drift", "slipped", "unverified"};

/* cl_report_page() chooses the page (planned for its report: see reports.sql); only its
 * rows are rendered. */
static const char sql_report[] =
    "SELECT substr(j, 1, length(j) - 1) || ', \"report\": ' || r.detail::text || '}',"
    "       coalesce(v.due_on, 'infinity'::date)::text || '.' || v.id"
    " FROM cl_report_page($1, $2::int, $3, $4, $5, $6::date, $7::bigint, $8::int) r"
    " JOIN action_v v ON v.id = r.action_id CROSS JOIN LATERAL action_json(v) j"
    " ORDER BY coalesce(v.due_on, 'infinity'::date), v.id";

static void report_run(struct api_req *q)
{
    static const char *const allowed[] = {"owner", "team",   "incident", "days",
                                          "limit", "cursor", NULL};
    const char *days = api_req_query(q, "days");
    const char *owner = api_req_query(q, "owner");
    char cdate[16];
    char cid[24];
    char fetch[24];
    long limit;
    long n;
    const char *params[8];

    if (api_req_check_query(q, allowed) != CL_OK || res_limit(&limit, fetch, q) != CL_OK ||
        action_cursor(cdate, cid, q) != CL_OK || api_req_owner_me(&owner, q, "owner") != CL_OK)
        return;
    if (days != NULL && cl_parse_long(&n, days, 0, 3650) != CL_OK) {
        api_req_error(q, 400, "bad_request", "days",
                      "days must be a whole number of days, 0..3650");
        return;
    }
    params[0] = api_req_param(q, 0);
    params[1] = days;
    params[2] = owner;
    params[3] = api_req_query(q, "team");
    params[4] = api_req_query(q, "incident");
    params[5] = cdate[0] != '\0' ? cdate : NULL;
    params[6] = cdate[0] != '\0' ? cid : NULL;
    params[7] = fetch;
    api_req_sql(q, sql_report, 8, params, API_LIST, 200, limit);
}

/* The action list, or (with a report name in the path) a report. */
static void list_run(struct api_req *q)
{
    if (api_req_param(q, 0) != NULL)
        report_run(q);
    else
        action_list_run(q);
}

static void list_filters_checked(struct api_req *q, const struct db_reply *r)
{
    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    list_run(q);
}

/* A filter naming a person, team or incident that does not exist is a 422 naming the
 * filter, checked first (one more statement, only when such a filter is given). owner=me
 * is the token's person. */
static void list_with_filters(struct api_req *q)
{
    const char *params[3] = {api_req_query(q, "owner"), api_req_query(q, "team"),
                             api_req_query(q, "incident")};

    if (api_req_owner_me(&params[0], q, "owner") != CL_OK)
        return;
    if (params[0] == NULL && params[1] == NULL && params[2] == NULL) {
        list_run(q);
        return;
    }
    api_req_sql_then(q, "SELECT cl_list_filters_check($1, $2, $3)", 3, params,
                     list_filters_checked);
}

/* GET /api/v1/reports/{name}: the actions a report lists, each with its "report" detail. */
static void report_get(struct api_req *q)
{
    const char *name = api_req_param(q, 0);
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(report_names); i++)
        if (name != NULL && strcmp(name, report_names[i]) == 0)
            break;
    if (i == CL_ARRAY_LEN(report_names)) {
        api_req_error(q, 404, "not_found", NULL,
                      "no report \"%.40s\": overdue, stale, unowned, undated, due-soon, blocked, "
                      "drift, slipped or unverified",
                      name != NULL ? name : "");
        return;
    }
    list_with_filters(q);
}

static void action_list(struct api_req *q)
{
    list_with_filters(q);
}

static void action_get(struct api_req *q)
{
    if (api_req_path_id(q) == CL_OK)
        res_get(q, &sql_action_get);
}

/* GET /actions/{id}/reminder: when the next reminder is due, to whom, the snooze. */
static void action_reminder(struct api_req *q)
{
    if (api_req_path_id(q) != CL_OK || api_req_check_query(q, (const char *const[]){NULL}) != CL_OK)
        return;
    api_req_prepared(q, &sql_action_reminder, 2,
                     (const char *const[]){api_req_param(q, 0), api_req_remind_policy(q)}, API_ONE,
                     200, 0);
}

/* POST /actions/{id}/snooze {"until", "reason"}: 200 with the action's reminder state. */
static void action_snooze(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_path_id(q) != CL_OK ||
        api_req_body(&body, q, snooze_spec, CL_ARRAY_LEN(snooze_spec), VALID_MODE_CREATE, false) !=
            CL_OK)
        return;
    api_req_prepared(q, &sql_action_snooze, 6,
                     (const char *const[]){
                         api_req_param(q, 0), json_string_value(json_object_get(body, "until")),
                         json_string_value(json_object_get(body, "reason")), api_req_source(q),
                         api_req_actor(q), api_req_remind_policy(q)},
                     API_ONE, 200, 0);
    json_decref(body);
}

/* "owner": "me" in a body becomes the token's person; 422 (answered) when it has none. */
static int action_owner_me(struct api_req *q, json_t *body)
{
    const char *owner = json_string_value(json_object_get(body, "owner"));

    if (owner == NULL || strcmp(owner, "me") != 0)
        return CL_OK;
    if (api_req_owner_me(&owner, q, "owner") != CL_OK)
        return CL_EINVAL;
    json_object_set_new(body, "owner", json_string(owner));
    return CL_OK;
}

static void action_create(struct api_req *q)
{
    json_t *body = NULL;
    char *text;

    if (api_req_body(&body, q, action_spec.fields, action_spec.n, VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    if (action_owner_me(q, body) != CL_OK || res_sync_fields(q, body, RES_SYNC_ACTION) != CL_OK) {
        json_decref(body);
        return;
    }
    text = api_dump(body);
    api_req_prepared(q, &sql_action_create, 5,
                     (const char *const[]){text, api_req_source(q), api_req_actor(q),
                                           api_req_sync_routes(q), api_req_due_policy(q)},
                     API_ONE, 201, 0);
    free(text);
    json_decref(body);
}

/* Runs cl_action_update with `patch` (a validated object; "version" is ignored by SQL). */
static void action_patch_with(struct api_req *q, const json_t *body, const json_t *patch)
{
    const char *version = NULL;
    char *text;

    if (api_req_version(&version, q, body) != CL_OK)
        return;
    text = api_dump(patch);
    api_req_prepared(q, &sql_action_update, 6,
                     (const char *const[]){api_req_param(q, 0), version, text, api_req_source(q),
                                           api_req_actor(q),
                                           json_string_value(json_object_get(body, "reason"))},
                     API_ONE, 200, 0);
    free(text);
}

static void action_update(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_path_id(q) != CL_OK || api_req_body(&body, q, action_spec.fields, action_spec.n,
                                                    VALID_MODE_UPDATE, false) != CL_OK)
        return;
    if (action_owner_me(q, body) == CL_OK)
        action_patch_with(q, body, body);
    json_decref(body);
}

static void action_assign(struct api_req *q)
{
    json_t *body = NULL;
    json_t *patch;

    if (api_req_path_id(q) != CL_OK ||
        api_req_body(&body, q, assign_spec, CL_ARRAY_LEN(assign_spec), VALID_MODE_CREATE, false) !=
            CL_OK)
        return;
    if (action_owner_me(q, body) == CL_OK) {
        patch = json_pack("{s:O}", "owner", json_object_get(body, "owner"));
        action_patch_with(q, body, patch);
        json_decref(patch);
    }
    json_decref(body);
}

static void action_unassign(struct api_req *q)
{
    json_t *body = NULL;
    json_t *patch;

    if (api_req_path_id(q) != CL_OK || api_req_body(&body, q, verb_spec, CL_ARRAY_LEN(verb_spec),
                                                    VALID_MODE_CREATE, true) != CL_OK)
        return;
    patch = json_pack("{s:n}", "owner");
    action_patch_with(q, body, patch);
    json_decref(patch);
    json_decref(body);
}

/* start, block, done, drop, reopen: the verb is the path's last segment. block and drop
 * take a reason. */
static void action_verb(struct api_req *q)
{
    const char *path = api_req_path(q);
    const char *verb = strrchr(path, '/') + 1;
    bool why = strcmp(verb, "block") == 0 || strcmp(verb, "drop") == 0;
    json_t *body = NULL;
    const char *version = NULL;

    if (api_req_path_id(q) != CL_OK ||
        api_req_body(&body, q, why ? verb_reason_spec : verb_spec,
                     why ? CL_ARRAY_LEN(verb_reason_spec) : CL_ARRAY_LEN(verb_spec),
                     VALID_MODE_CREATE, true) != CL_OK)
        return;
    if (api_req_version(&version, q, body) == CL_OK)
        api_req_prepared(q, &sql_action_verb, 6,
                         (const char *const[]){api_req_param(q, 0), version, verb,
                                               api_req_source(q), api_req_actor(q),
                                               json_string_value(json_object_get(body, "reason"))},
                         API_ONE, 200, 0);
    json_decref(body);
}

/* POST /actions/{id}/notes {"text"}: 201 with the note's event. */
static void action_note(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_path_id(q) != CL_OK || api_req_body(&body, q, note_spec, CL_ARRAY_LEN(note_spec),
                                                    VALID_MODE_CREATE, false) != CL_OK)
        return;
    api_req_prepared(q, &sql_action_note, 4,
                     (const char *const[]){api_req_param(q, 0),
                                           json_string_value(json_object_get(body, "text")),
                                           api_req_source(q), api_req_actor(q)},
                     API_ONE, 201, 0);
    json_decref(body);
}

static void action_history(struct api_req *q)
{
    if (api_req_path_id(q) == CL_OK)
        res_get(q, &sql_action_history);
}

/* ---- the table ---- */

static const struct api_route routes[] = {
    {"GET", "/api/v1/teams", AUTH_READ, team_list, "team"},
    {"POST", "/api/v1/teams", AUTH_WRITE, team_create, "team"},
    {"GET", "/api/v1/teams/{}", AUTH_READ, team_get, "team"},
    {"PATCH", "/api/v1/teams/{}", AUTH_WRITE, team_update, "team"},
    {"GET", "/api/v1/people", AUTH_READ, person_list, "person"},
    {"POST", "/api/v1/people", AUTH_WRITE, person_create, "person"},
    {"GET", "/api/v1/people/{}", AUTH_READ, person_get, "person"},
    {"PATCH", "/api/v1/people/{}", AUTH_WRITE, person_update, "person"},
    {"GET", "/api/v1/incidents", AUTH_READ, incident_list, "incident"},
    {"POST", "/api/v1/incidents", AUTH_WRITE, incident_create, "incident"},
    {"GET", "/api/v1/incidents/{}", AUTH_READ, incident_get, "incident"},
    {"PATCH", "/api/v1/incidents/{}", AUTH_WRITE, incident_update, "incident"},
    {"GET", "/api/v1/incidents/{}/history", AUTH_READ, incident_history, "incident"},
    {"GET", "/api/v1/actions", AUTH_READ, action_list, "action"},
    {"GET", "/api/v1/reports/{}", AUTH_READ, report_get, "report"},
    {"POST", "/api/v1/actions", AUTH_WRITE, action_create, "action"},
    {"GET", "/api/v1/actions/{}", AUTH_READ, action_get, "action"},
    {"PATCH", "/api/v1/actions/{}", AUTH_WRITE, action_update, "action"},
    {"GET", "/api/v1/actions/{}/history", AUTH_READ, action_history, "action"},
    {"POST", "/api/v1/actions/{}/notes", AUTH_WRITE, action_note, "action"},
    {"POST", "/api/v1/actions/{}/snooze", AUTH_WRITE, action_snooze, "action"},
    {"GET", "/api/v1/actions/{}/reminder", AUTH_READ, action_reminder, "action"},
    {"POST", "/api/v1/actions/{}/assign", AUTH_WRITE, action_assign, "action"},
    {"POST", "/api/v1/actions/{}/unassign", AUTH_WRITE, action_unassign, "action"},
    {"POST", "/api/v1/actions/{}/start", AUTH_WRITE, action_verb, "action"},
    {"POST", "/api/v1/actions/{}/block", AUTH_WRITE, action_verb, "action"},
    {"POST", "/api/v1/actions/{}/done", AUTH_WRITE, action_verb, "action"},
    {"POST", "/api/v1/actions/{}/drop", AUTH_WRITE, action_verb, "action"},
    {"POST", "/api/v1/actions/{}/reopen", AUTH_WRITE, action_verb, "action"},
};

void routes_core_add(struct api *a)
{
    if (action_spec.n == 0) { /* the same for every api: built once */
        res_spec_build(&team_spec, team_base, CL_ARRAY_LEN(team_base), RES_SYNC_DEFAULT);
        res_spec_build(&incident_spec, incident_base, CL_ARRAY_LEN(incident_base),
                       RES_SYNC_DEFAULT);
        res_spec_build(&action_spec, action_base, CL_ARRAY_LEN(action_base), RES_SYNC_ACTION);
    }
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}

const struct valid_field *routes_core_action_fields(size_t *n)
{
    *n = CL_ARRAY_LEN(action_base);
    return action_base;
}
