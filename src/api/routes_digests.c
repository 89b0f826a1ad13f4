#include "closeloop/api/routes_digests.h"

#include "closeloop/api/auth.h"
#include "closeloop/report/digest.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGESTS_MAX_LIMIT     500
#define DIGESTS_DEFAULT_LIMIT 50

static const char sql_preview[] = "SELECT cl_digest_preview($1::jsonb, $2, $3)::text";
static const char sql_send_now[] = "SELECT cl_digest_send_now($1::jsonb, $2)::text";
static const char sql_list[] = "SELECT cl_digest_list($1::bigint, $2::int)::text";

static const struct valid_field send_spec[] = {
    {"to", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 300, NULL},
};

/* ?format=md|html|json (md when absent), kept for the answer; 400 (answered) otherwise. */
static int digests_format(struct api_req *q, const char **fmt)
{
    static const char *const allowed[] = {"format", "period", NULL};
    const char *f = api_req_query(q, "format");

    if (api_req_check_query(q, allowed) != CL_OK)
        return CL_EINVAL;
    *fmt = f == NULL || strcmp(f, "markdown") == 0 ? "md" : f;
    if (strcmp(*fmt, "md") != 0 && strcmp(*fmt, "html") != 0 && strcmp(*fmt, "json") != 0) {
        api_req_error(q, 400, "bad_request", "format", "format must be md, html or json");
        return CL_EINVAL;
    }
    return CL_OK;
}

/* The digest in the format asked for; the HTML shows the chart as a data: URL, so that
 * a browser shows the page as a mail client shows the mail. */
static void digests_on_preview(struct api_req *q, const struct db_reply *r)
{
    struct cl_err err = CL_ERR_INIT;
    const char *fmt = NULL;
    json_t *d;
    struct buf out;
    char *chart = NULL;
    int rc;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    digests_format(q, &fmt); /* checked before the statement */
    if (strcmp(fmt, "json") == 0) {
        api_req_reply(q, 200, "application/json", PQgetvalue(r->res, 0, 0));
        return;
    }
    d = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    buf_init(&out);
    if (strcmp(fmt, "md") == 0) {
        rc = digest_markdown(d, &out, &err);
    } else {
        chart = digest_chart_data_url(d, &err);
        rc = chart != NULL ? digest_html(d, chart, &out, &err) : CL_EINVAL;
    }
    if (rc != CL_OK)
        api_req_error(q, 500, "internal", NULL, "the digest did not render: %s", err.msg);
    else
        api_req_reply(q, 200,
                      strcmp(fmt, "md") == 0 ? "text/markdown; charset=utf-8"
                                             : "text/html; charset=utf-8",
                      out.data != NULL ? out.data : "");
    free(chart);
    buf_dispose(&out);
    json_decref(d);
}

/* GET /api/v1/digests/{to}/preview?period=KEY&format=md|html|json: to is a handle or a
 * recipient key (team:T:h, facilitator:h, extra:NAME). */
static void digests_preview(struct api_req *q)
{
    const char *fmt = NULL;

    if (digests_format(q, &fmt) != CL_OK)
        return;
    api_req_sql_then(q, sql_preview, 3,
                     (const char *const[]){api_req_digest_policy(q), api_req_param(q, 0),
                                           api_req_query(q, "period")},
                     digests_on_preview);
}

/* POST /api/v1/digests/send-now {"to": HANDLE|RECIPIENT} */
static void digests_send_now(struct api_req *q)
{
    json_t *body = NULL;

    if (api_req_body(&body, q, send_spec, CL_ARRAY_LEN(send_spec), VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    api_req_sql(q, sql_send_now, 2,
                (const char *const[]){api_req_digest_policy(q),
                                      json_string_value(json_object_get(body, "to"))},
                API_ONE, 200, 0);
    json_decref(body);
}

/* GET /api/v1/digests?limit=&cursor= (cursor: the previous page's "next_cursor"). */
static void digests_list(struct api_req *q)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    const char *s = api_req_query(q, "limit");
    const char *cursor = api_req_query(q, "cursor");
    char limit[16];
    long n = DIGESTS_DEFAULT_LIMIT;
    long before = 0;

    if (api_req_check_query(q, allowed) != CL_OK)
        return;
    if (s != NULL && cl_parse_long(&n, s, 1, DIGESTS_MAX_LIMIT) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%d",
                      DIGESTS_MAX_LIMIT);
        return;
    }
    if (cursor != NULL && cl_parse_long(&before, cursor, 1, 1L << 62) != CL_OK) {
        api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave");
        return;
    }
    snprintf(limit, sizeof(limit), "%ld", n);
    api_req_sql(q, sql_list, 2, (const char *const[]){cursor, limit}, API_ONE, 200, 0);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/digests", AUTH_ADMIN, digests_list, "digest"},
    {"GET", "/api/v1/digests/{}/preview", AUTH_READ, digests_preview, "digest"},
    {"POST", "/api/v1/digests/send-now", AUTH_ADMIN, digests_send_now, "digest"},
};

void routes_digests_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
