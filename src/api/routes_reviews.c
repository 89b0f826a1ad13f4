#include "closeloop/api/routes_reviews.h"

#include "closeloop/api/routes_core.h"

#include <stdlib.h>
#include <string.h>

#define REVIEWS_MAX_ADDRESSES 50

static const struct valid_field schedule_spec[] = {
    {"at", VALID_STR, VALID_NONBLANK, 40, NULL},
    {"timezone", VALID_STR, VALID_NONBLANK, 64, NULL},
    {"duration_minutes", VALID_INT, 0, 0, NULL},
    {"attendees", VALID_ARRAY, 0, REVIEWS_MAX_ADDRESSES, NULL},
    {"summary_to", VALID_ARRAY, 0, REVIEWS_MAX_ADDRESSES, NULL},
    {"reason", VALID_STR, VALID_NONBLANK, 500, NULL},
};

static const struct valid_field move_spec[] = {
    {"at", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 40, NULL},
    {"timezone", VALID_STR, VALID_NONBLANK, 64, NULL},
    {"duration_minutes", VALID_INT, 0, 0, NULL},
    {"reason", VALID_STR, VALID_NONBLANK, 500, NULL},
};

static const struct valid_field cancel_spec[] = {
    {"reason", VALID_STR, VALID_NONBLANK, 500, NULL},
};

static const char sql_get[] = "SELECT cl_review_get($1)";
static const char sql_schedule[] = "SELECT cl_review_schedule($1, $2::jsonb, $3, $4, $5::jsonb)";
static const char sql_move[] = "SELECT cl_review_move($1, $2::jsonb, $3, $4)";
static const char sql_cancel[] = "SELECT cl_review_cancel($1, $2, $3, $4)";
static const char sql_history[] = "SELECT j, c FROM cl_review_history($1, $2::bigint, $3::int)";
static const char sql_backlog[] = "SELECT cl_review_backlog($1, $2::jsonb)";

/* Every element of the body's array `name` is a string; else a 422 naming it. */
static int reviews_strings(struct api_req *q, const json_t *body, const char *name)
{
    const json_t *a = json_object_get(body, name);
    char field[48];
    size_t i;

    for (i = 0; i < json_array_size(a); i++)
        if (!json_is_string(json_array_get(a, i))) {
            snprintf(field, sizeof(field), "%s[%zu]", name, i);
            api_req_error(q, 422, "validation", field, "an e-mail address (a string) expected");
            return CL_EINVAL;
        }
    return CL_OK;
}

/* A duration from 5 to 480 minutes, when given. */
static int reviews_duration(struct api_req *q, const json_t *body)
{
    const json_t *d = json_object_get(body, "duration_minutes");

    if (d != NULL && (json_integer_value(d) < 5 || json_integer_value(d) > 480)) {
        api_req_error(q, 422, "validation", "duration_minutes",
                      "a review lasts from 5 to 480 minutes");
        return CL_EINVAL;
    }
    return CL_OK;
}

/* The body checked against spec (and its arrays and duration), or NULL once answered. */
static json_t *reviews_body(struct api_req *q, const struct valid_field *spec, size_t n, bool empty)
{
    json_t *body = NULL;

    if (api_req_body(&body, q, spec, n, VALID_MODE_CREATE, empty) != CL_OK)
        return NULL;
    if (reviews_strings(q, body, "attendees") != CL_OK ||
        reviews_strings(q, body, "summary_to") != CL_OK || reviews_duration(q, body) != CL_OK) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* GET /api/v1/incidents/{key}/review */
static void review_get(struct api_req *q)
{
    api_req_sql(q, sql_get, 1, (const char *const[]){api_req_param(q, 0)}, API_ONE, 200, 0);
}

/* PUT /api/v1/incidents/{key}/review: by the policy, or at "at" (pinned). */
static void review_schedule(struct api_req *q)
{
    json_t *body = reviews_body(q, schedule_spec, CL_ARRAY_LEN(schedule_spec), true);
    char *text;

    if (body == NULL)
        return;
    text = api_dump(body);
    api_req_sql(q, sql_schedule, 5,
                (const char *const[]){api_req_param(q, 0), text, api_req_source(q),
                                      api_req_actor(q), api_req_review_policy(q)},
                API_ONE, 200, 0);
    free(text);
    json_decref(body);
}

/* POST /api/v1/incidents/{key}/review/move */
static void review_move(struct api_req *q)
{
    json_t *body = reviews_body(q, move_spec, CL_ARRAY_LEN(move_spec), false);
    char *text;

    if (body == NULL)
        return;
    text = api_dump(body);
    api_req_sql(
        q, sql_move, 4,
        (const char *const[]){api_req_param(q, 0), text, api_req_source(q), api_req_actor(q)},
        API_ONE, 200, 0);
    free(text);
    json_decref(body);
}

/* POST /api/v1/incidents/{key}/review/cancel */
static void review_cancel(struct api_req *q)
{
    json_t *body = reviews_body(q, cancel_spec, CL_ARRAY_LEN(cancel_spec), true);

    if (body == NULL)
        return;
    api_req_sql(q, sql_cancel, 4,
                (const char *const[]){api_req_param(q, 0),
                                      json_string_value(json_object_get(body, "reason")),
                                      api_req_source(q), api_req_actor(q)},
                API_ONE, 200, 0);
    json_decref(body);
}

/* GET /api/v1/incidents/{key}/review/history */
static void review_history(struct api_req *q)
{
    routes_core_id_page(q, sql_history, true);
}

/* GET /api/v1/teams/{name}/backlog-review: the team's backlog review and its agenda. */
static void review_backlog(struct api_req *q)
{
    api_req_sql(q, sql_backlog, 2,
                (const char *const[]){api_req_param(q, 0), api_req_review_policy(q)}, API_ONE, 200,
                0);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/incidents/{}/review", AUTH_READ, review_get, "incident"},
    {"PUT", "/api/v1/incidents/{}/review", AUTH_WRITE, review_schedule, "incident"},
    {"POST", "/api/v1/incidents/{}/review/move", AUTH_WRITE, review_move, "incident"},
    {"POST", "/api/v1/incidents/{}/review/cancel", AUTH_WRITE, review_cancel, "incident"},
    {"GET", "/api/v1/incidents/{}/review/history", AUTH_READ, review_history, "incident"},
    {"GET", "/api/v1/teams/{}/backlog-review", AUTH_READ, review_backlog, "team"},
};

void routes_reviews_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
