#include "closeloop/api/queue_list.h"

#include "closeloop/util/cl.h"

#include <stdio.h>
#include <string.h>

#define QUEUE_LIST_MAX_LIMIT     500
#define QUEUE_LIST_DEFAULT_LIMIT 50

static bool queue_status_ok(const char *s)
{
    static const char *const statuses[] = {"queued", "sending", "sent", "failed"};
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(statuses); i++) {
        if (strcmp(s, statuses[i]) == 0)
            return true;
    }
    return false;
}

void queue_list_reply(struct api_req *q, const struct db_reply *r, bool enabled, const char *what)
{
    json_t *body;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    body = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        api_req_error(q, 500, "internal", NULL, "the %s list is not a JSON object", what);
        return;
    }
    json_object_set_new(body, "enabled", json_boolean(enabled));
    api_req_reply_json(q, 200, body);
    json_decref(body);
}

void queue_list_run(struct api_req *q, const char *sql, api_sql_fn on_reply)
{
    static const char *const allowed[] = {"status", "limit", "cursor", NULL};
    const char *status = api_req_query(q, "status");
    const char *s = api_req_query(q, "limit");
    const char *cursor = api_req_query(q, "cursor");
    char limit[16];
    long n = QUEUE_LIST_DEFAULT_LIMIT;
    long before = 0;

    if (api_req_check_query(q, allowed) != CL_OK)
        return;
    if (status != NULL && !queue_status_ok(status)) {
        api_req_error(q, 400, "bad_request", "status",
                      "status must be queued, sending, sent or failed");
        return;
    }
    if (s != NULL && cl_parse_long(&n, s, 1, QUEUE_LIST_MAX_LIMIT) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%d",
                      QUEUE_LIST_MAX_LIMIT);
        return;
    }
    if (cursor != NULL && cl_parse_long(&before, cursor, 1, 1L << 62) != CL_OK) {
        api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave");
        return;
    }
    snprintf(limit, sizeof(limit), "%ld", n);
    api_req_sql_then(q, sql, 3, (const char *const[]){status, cursor, limit}, on_reply);
}
