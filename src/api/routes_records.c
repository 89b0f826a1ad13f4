/* routes_records: recording many actions at once, and correcting records. A batch is
 * checked row by row before any SQL runs; then one statement creates every row in one
 * transaction, each exactly as POST /api/v1/actions would (events, tracker outbox rows,
 * the due policy, warnings). Archiving and re-keying are one function each in
 * sql/functions/corrections.sql. */
#include "closeloop/api/routes_records.h"

#include "closeloop/api/routes_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct valid_field batch_spec[] = {
    {"actions", VALID_ARRAY, VALID_REQUIRED, RECORDS_MAX_ROWS, NULL},
};

#define RECORDS_ROW_FIELDS 16

/* One row: an action's fields but its incident (the batch's) and tracker (the incident's
 * default), and the line of the file it came from (optional, for the messages). Built
 * once from routes_core's. */
static struct valid_field row_spec[RECORDS_ROW_FIELDS];
static size_t row_n;

static void records_row_spec_build(void)
{
    size_t n = 0;
    const struct valid_field *all = routes_core_action_fields(&n);
    size_t i;

    for (i = 0; i < n && row_n < RECORDS_ROW_FIELDS - 1; i++)
        if (strcmp(all[i].name, "incident") != 0)
            row_spec[row_n++] = all[i];
    row_spec[row_n++] = (struct valid_field){"line", VALID_INT, 0, 0, NULL};
}

static const char sql_batch[] =
    "SELECT cl_action_batch($1, $2::jsonb, $3, $4, $5::jsonb, $6::jsonb)";

/* "row 3" or "row 3 (line 7)": how messages name a row (1-based), as SQL does. */
static void records_row_name(char *out, size_t n, const json_t *row, size_t i)
{
    const json_t *line = json_is_object(row) ? json_object_get(row, "line") : NULL;

    if (json_is_integer(line))
        snprintf(out, n, "row %zu (line %" JSON_INTEGER_FORMAT ")", i + 1,
                 json_integer_value(line));
    else
        snprintf(out, n, "row %zu", i + 1);
}

/* Every row is a valid action; the first that is not is a 422 naming it and the rule. */
static int records_rows_check(struct api_req *q, const json_t *rows)
{
    char field[64];
    char where[96];
    char name[48];
    size_t i;

    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);
        struct cl_err err = CL_ERR_INIT;

        records_row_name(name, sizeof(name), row, i);
        if (!json_is_object(row)) {
            snprintf(where, sizeof(where), "actions[%zu]", i);
            api_req_error(q, 422, "validation", where, "%s: not a JSON object", name);
            return CL_EINVAL;
        }
        if (valid_object(row, row_spec, row_n, VALID_MODE_CREATE, field, sizeof(field), &err) !=
            CL_OK) {
            snprintf(where, sizeof(where), "actions[%zu].%s", i, field);
            api_req_error(q, 422, "validation", where, "%s: %s", name, err.msg);
            return CL_EINVAL;
        }
    }
    return CL_OK;
}

/* POST /api/v1/incidents/{key}/actions {"actions": [...]}: 201 {"items", "warnings"}. */
static void action_batch(struct api_req *q)
{
    json_t *body = NULL;
    const json_t *rows;
    char *text;

    if (api_req_body(&body, q, batch_spec, CL_ARRAY_LEN(batch_spec), VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    rows = json_object_get(body, "actions");
    if (records_rows_check(q, rows) == CL_OK) {
        text = api_dump(rows);
        api_req_sql(q, sql_batch, 6,
                    (const char *const[]){api_req_param(q, 0), text, api_req_source(q),
                                          api_req_actor(q), api_req_sync_routes(q),
                                          api_req_due_policy(q)},
                    API_ONE, 201, 0);
        free(text);
    }
    json_decref(body);
}

/* ---- corrections: archive, unarchive, rekey ---- */

static const struct valid_field no_fields[] = {{"", VALID_STR, 0, 0, NULL}}; /* used with n 0 */

static const struct valid_field rekey_spec[] = {
    {"key", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 200, NULL},
};

static const char sql_action_archive[] =
    "SELECT cl_action_archive($1::bigint, $2::boolean, $3, $4)";
static const char sql_incident_archive[] = "SELECT cl_incident_archive($1, $2::boolean, $3, $4)";
static const char sql_incident_rekey[] = "SELECT cl_incident_rekey($1, $2, $3, $4)";

/* archive or unarchive: the path's last segment; the body is empty or {}. */
static void records_archive(struct api_req *q, const char *sql)
{
    const char *verb = strrchr(api_req_path(q), '/') + 1;
    json_t *body = NULL;

    if (api_req_body(&body, q, no_fields, 0, VALID_MODE_CREATE, true) != CL_OK)
        return;
    api_req_sql(q, sql, 4,
                (const char *const[]){api_req_param(q, 0),
                                      strcmp(verb, "archive") == 0 ? "true" : "false",
                                      api_req_source(q), api_req_actor(q)},
                API_ONE, 200, 0);
    json_decref(body);
}

/* POST /api/v1/actions/{id}/archive|unarchive: the action, as GET shows it. */
static void action_archive(struct api_req *q)
{
    if (api_req_path_id(q) == CL_OK)
        records_archive(q, sql_action_archive);
}

/* POST /api/v1/incidents/{key}/archive|unarchive: the incident (its actions go with it). */
static void incident_archive(struct api_req *q)
{
    records_archive(q, sql_incident_archive);
}

/* POST /api/v1/incidents/{key}/rekey {"key": NEW}: the incident under its new key. */
static void incident_rekey(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_body(&body, q, rekey_spec, CL_ARRAY_LEN(rekey_spec), VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    api_req_sql(q, sql_incident_rekey, 4,
                (const char *const[]){api_req_param(q, 0),
                                      json_string_value(json_object_get(body, "key")),
                                      api_req_source(q), api_req_actor(q)},
                API_ONE, 200, 0);
    json_decref(body);
}

static const struct api_route routes[] = {
    {"POST", "/api/v1/incidents/{}/actions", AUTH_WRITE, action_batch, "incident"},
    {"POST", "/api/v1/actions/{}/archive", AUTH_WRITE, action_archive, "action"},
    {"POST", "/api/v1/actions/{}/unarchive", AUTH_WRITE, action_archive, "action"},
    {"POST", "/api/v1/incidents/{}/archive", AUTH_WRITE, incident_archive, "incident"},
    {"POST", "/api/v1/incidents/{}/unarchive", AUTH_WRITE, incident_archive, "incident"},
    {"POST", "/api/v1/incidents/{}/rekey", AUTH_WRITE, incident_rekey, "incident"},
};

void routes_records_add(struct api *a)
{
    if (row_n == 0) /* the same for every api: built once */
        records_row_spec_build();
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
