#include "closeloop/api/routes_figures.h"

#include "closeloop/api/auth.h"
#include "closeloop/util/cl.h"

#include <stdio.h>
#include <string.h>

#define FIGURES_MAX_LIMIT     1000
#define FIGURES_DEFAULT_LIMIT 100
#define FIGURES_MAX_CURSOR    64 /* a team name, a handle or an incident id */

static const char sql_figures[] = "SELECT cl_figures($1, $2, $3, $4, $5::int, $6, $7, $8::int)";

/* One of `allowed` (the first when absent) into *out; else 400 naming the parameter. */
static int figures_word(const char **out, struct api_req *q, const char *name,
                        const char *const *allowed, const char *rule)
{
    const char *s = api_req_query(q, name);
    size_t i;

    *out = allowed[0];
    if (s == NULL)
        return CL_OK;
    for (i = 0; allowed[i] != NULL; i++) {
        if (strcmp(s, allowed[i]) == 0) {
            *out = allowed[i];
            return CL_OK;
        }
    }
    api_req_error(q, 400, "bad_request", name, "%s must be %s", name, rule);
    return CL_EINVAL;
}

/* days (1..3650, absent: the snapshot's window) and limit (1..1000) as decimal text. */
static int figures_numbers(const char **days, char limit[16], struct api_req *q)
{
    const char *s = api_req_query(q, "limit");
    long n = FIGURES_DEFAULT_LIMIT;

    *days = api_req_query(q, "days");
    if (*days != NULL && cl_parse_long(&n, *days, 1, 3650) != CL_OK) {
        api_req_error(q, 400, "bad_request", "days",
                      "days (the window of closed work) must be a whole number 1..3650");
        return CL_EINVAL;
    }
    n = FIGURES_DEFAULT_LIMIT;
    if (s != NULL && cl_parse_long(&n, s, 1, FIGURES_MAX_LIMIT) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit must be an integer 1..%d",
                      FIGURES_MAX_LIMIT);
        return CL_EINVAL;
    }
    snprintf(limit, 16, "%ld", n);
    return CL_OK;
}

/* A cursor is the last team name, handle or incident id of a page: [A-Za-z0-9._-]. */
static bool figures_cursor_ok(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    return n > 0 && n <= FIGURES_MAX_CURSOR && s[n] == '\0';
}

/* GET /api/v1/figures?by=total|team|owner|incident&team=&owner=&incident=&days=
 * &period=week|month&limit=&cursor= */
static void figures_get(struct api_req *q)
{
    static const char *const allowed[] = {"by",     "owner", "team",   "incident", "days",
                                          "period", "limit", "cursor", NULL};
    static const char *const bys[] = {"total", "team", "owner", "incident", NULL};
    static const char *const periods[] = {"week", "month", NULL};
    const char *cursor = api_req_query(q, "cursor");
    const char *owner = api_req_query(q, "owner");
    const char *by;
    const char *period;
    const char *days;
    char limit[16];
    const char *params[8];

    if (api_req_check_query(q, allowed) != CL_OK ||
        figures_word(&by, q, "by", bys, "total, team, owner or incident") != CL_OK ||
        figures_word(&period, q, "period", periods, "week or month") != CL_OK ||
        figures_numbers(&days, limit, q) != CL_OK || api_req_owner_me(&owner, q, "owner") != CL_OK)
        return;
    if (cursor != NULL && !figures_cursor_ok(cursor)) {
        api_req_error(q, 400, "bad_request", "cursor", "cursor is not one this API gave");
        return;
    }
    params[0] = by;
    params[1] = owner; /* "me": the token's person */
    params[2] = api_req_query(q, "team");
    params[3] = api_req_query(q, "incident");
    params[4] = days;
    params[5] = period;
    params[6] = cursor;
    params[7] = limit;
    api_req_sql(q, sql_figures, 8, params, API_ONE, 200, 0);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/figures", AUTH_READ, figures_get, "figures"},
};

void routes_figures_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
