/* routes_search: the search route. The handler checks the query's shape (limit, cursor,
 * since) and leaves the words to cl_search(), which parses them with PostgreSQL's own
 * websearch syntax and answers 422 when there is nothing to search for. */
#include "closeloop/api/routes_search.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/valid.h"

#include <stdio.h>
#include <string.h>

static const char sql_search[] = "SELECT j, c FROM cl_search($1, $2, $3::timestamptz, $4::int, $5)";

/* A cursor is the place of a page's last hit in the ranking: 1..SEARCH_MAX_HITS-1. */
static int search_cursor(const char **out, struct api_req *q)
{
    const char *s = api_req_query(q, "cursor");
    long n;

    *out = s;
    if (s == NULL || (strspn(s, "0123456789") == strlen(s) &&
                      cl_parse_long(&n, s, 1, SEARCH_MAX_HITS - 1) == CL_OK))
        return CL_OK;
    api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave out");
    return CL_EINVAL;
}

/* since: an RFC 3339 time, or a date (its midnight, UTC). */
static int search_since(struct api_req *q)
{
    const char *s = api_req_query(q, "since");

    if (s == NULL || valid_timestamp(s) || valid_date(s))
        return CL_OK;
    api_req_error(q, 400, "bad_request", "since",
                  "since must be an RFC 3339 time (2026-01-31T09:30:00Z) or a date (2026-01-31)");
    return CL_EINVAL;
}

/* GET /api/v1/search?q=&team=&since=&limit=&cursor=: {"items": [hits], "next_cursor"}. */
static void search_get(struct api_req *q)
{
    static const char *const allowed[] = {"q", "team", "since", "limit", "cursor", NULL};
    const char *cursor;
    char fetch[24];
    long limit;

    if (api_req_check_query(q, allowed) != CL_OK ||
        api_req_limit(&limit, fetch, q, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT) != CL_OK ||
        search_cursor(&cursor, q) != CL_OK || search_since(q) != CL_OK)
        return;
    api_req_sql(q, sql_search, 5,
                (const char *const[]){api_req_query(q, "q"), api_req_query(q, "team"),
                                      api_req_query(q, "since"), fetch, cursor},
                API_LIST, 200, limit);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/search", AUTH_READ, search_get, "search"},
};

void routes_search_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
