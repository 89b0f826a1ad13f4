#include "closeloop/api/routes_mail.h"

#include "closeloop/api/auth.h"
#include "closeloop/mail/queue.h"
#include "closeloop/util/cl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAIL_MAX_LIMIT     500
#define MAIL_DEFAULT_LIMIT 50

static void mail_on_list(struct api_req *q, const struct db_reply *r)
{
    struct mail_queue_stats st;
    json_t *body;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    body = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        api_req_error(q, 500, "internal", NULL, "the mail list is not a JSON object");
        return;
    }
    mail_queue_stats(api_req_mail(q), &st);
    json_object_set_new(body, "enabled", json_boolean(st.enabled));
    api_req_reply_json(q, 200, body);
    json_decref(body);
}

static bool mail_status_ok(const char *s)
{
    static const char *const statuses[] = {"queued", "sending", "sent", "failed"};
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(statuses); i++) {
        if (strcmp(s, statuses[i]) == 0)
            return true;
    }
    return false;
}

/* GET /api/v1/mail?status=queued|sending|sent|failed&limit=&cursor= (cursor: the
 * previous page's "next_cursor", an id). */
static void mail_list(struct api_req *q)
{
    static const char *const allowed[] = {"status", "limit", "cursor", NULL};
    const char *status = api_req_query(q, "status");
    const char *s = api_req_query(q, "limit");
    const char *cursor = api_req_query(q, "cursor");
    char limit[16];
    long n = MAIL_DEFAULT_LIMIT;
    long before = 0;

    if (api_req_check_query(q, allowed) != CL_OK)
        return;
    if (status != NULL && !mail_status_ok(status)) {
        api_req_error(q, 400, "bad_request", "status",
                      "status must be queued, sending, sent or failed");
        return;
    }
    if (s != NULL && cl_parse_long(&n, s, 1, MAIL_MAX_LIMIT) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%d",
                      MAIL_MAX_LIMIT);
        return;
    }
    if (cursor != NULL && cl_parse_long(&before, cursor, 1, 1L << 62) != CL_OK) {
        api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave");
        return;
    }
    snprintf(limit, sizeof(limit), "%ld", n);
    api_req_sql_then(q, "SELECT cl_mail_list($1, $2::bigint, $3::int)", 3,
                     (const char *const[]){status, cursor, limit}, mail_on_list);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/mail", AUTH_ADMIN, mail_list, "mail"},
};

void routes_mail_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
