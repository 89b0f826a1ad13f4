/* api: the JSON API's request life cycle. It routes each httpd request, checks the
 * bearer token and scope, runs the resource handler, which validates input and starts
 * one SQL statement, and turns the statement's outcome into the HTTP answer. Every
 * request has a deadline: past it, a request whose statement has not been sent yet is
 * answered 503 at once (and the statement never runs); a statement already running is
 * left to PostgreSQL's statement_timeout (closeloopd sets it to the request timeout), and
 * its answer is then 503 with nothing changed. Loop-only. */
#ifndef CLOSELOOP_API_H
#define CLOSELOOP_API_H

#include "closeloop/api/auth.h"
#include "closeloop/db/db.h"
#include "closeloop/http/httpd.h"
#include "closeloop/http/metrics.h"
#include "closeloop/sync/sync.h"
#include "closeloop/util/valid.h"

#include <ev.h>
#include <jansson.h>

struct api;
struct api_req;
struct figures;
struct review_scheduler;
struct digester;
struct reminder;
struct mail_queue;
struct chat_queue;

struct api_deps {
    struct ev_loop *loop;
    struct db_pool *pool;             /* borrowed */
    struct auth *auth;                /* borrowed */
    struct metrics *metrics;          /* borrowed */
    double request_timeout;           /* seconds */
    struct sync *sync;                /* borrowed; NULL when no tracker is configured */
    double sync_stale_after;          /* /readyz: a reconciliation older than this is stale */
    struct figures *figures;          /* borrowed; its per-team gauges go into /metrics */
    struct review_scheduler *reviews; /* borrowed; its counters go into /metrics */
    struct digester *digester;        /* borrowed; its counter goes into /metrics */
    struct reminder *reminder;        /* borrowed; its counters go into /metrics */
    struct mail_queue *mail;          /* borrowed; its counters go into /metrics */
    struct chat_queue *chat;          /* borrowed; its counters go into /metrics */
};

struct api *api_new(const struct api_deps *deps);
void api_free(struct api *a);
void api_set_timeout(struct api *a, double seconds);
/* Sets the review policy (review_policy_json() text, copied). */
void api_set_review_policy(struct api *a, const char *json);
/* Sets the digest policy (digest_policy_json() text, copied). */
void api_set_digest_policy(struct api *a, const char *json);
/* The reminder policy (remind_policy_json()), copied; SIGHUP replaces it. */
void api_set_remind_policy(struct api *a, const char *json);
/* Sets the due-date policy (due_policy_json() text, copied; NULL, the start: none). */
void api_set_due_policy(struct api *a, const char *json);
/* The server whose in-flight count /metrics reports (borrowed). */
void api_set_httpd(struct api *a, struct httpd *h);
/* The httpd handler: pass `a` as its arg. */
void api_handle(struct httpd_req *r, void *arg);

/* ---- for resource handlers ---- */

/* How a statement's rows become the answer. */
enum api_shape {
    API_ONE, /* row 0, column 0 is the JSON body; no row is 404 */
    API_LIST /* rows of (json, cursor); one extra row beyond `limit` means more */
};

typedef void (*api_route_fn)(struct api_req *q);

struct api_route {
    const char *method;
    const char *pattern; /* "/api/v1/actions/{}/history": {} captures one segment */
    enum auth_scope scope;
    api_route_fn fn;
    const char *noun; /* what {} names, for "no action \"12\"" */
};

/* Adds a route file's table (static, kept): done at start-up by each routes_* module. */
void api_add_routes(struct api *a, const struct api_route *routes, size_t n);

/* Calls fn for every route added so far; returns how many. */
size_t api_routes_each(const struct api *a, void (*fn)(const struct api_route *r, void *arg),
                       void *arg);

/* Path capture i (0-based), URL-decoded; borrowed. */
const char *api_req_param(const struct api_req *q, int i);
/* The underlying HTTP request (headers, raw body); borrowed. */
struct httpd_req *api_req_http(const struct api_req *q);
/* The request path (no query string); borrowed. */
const char *api_req_path(const struct api_req *q);
/* Query parameter or NULL; borrowed. */
const char *api_req_query(const struct api_req *q, const char *name);
/* Answers 400 unless every query parameter is in the NULL-terminated allowed list. */
int api_req_check_query(struct api_req *q, const char *const *allowed);
/* "cli" when the CLI sent the request, else "api". */
const char *api_req_source(const struct api_req *q);
/* Who acts, for the events' actor: the handle of the token's person, else the token's
 * name. */
const char *api_req_actor(const struct api_req *q);
/* The handle of the person the token belongs to, or NULL when it belongs to nobody. */
const char *api_req_person(const struct api_req *q);
/* Replaces *owner when it is "me" by the token's person (field names it in the 422 when
 * the token has none: the request is then answered and CL_EINVAL returned). */
int api_req_owner_me(const char **owner, struct api_req *q, const char *field);
/* The review policy as JSON for SQL (review_policy_json(); sql/functions/reviews.sql), or
 * NULL; borrowed like the due policy. */
const char *api_req_review_policy(const struct api_req *q);
/* The digest policy as JSON for SQL (digest_policy_json(); sql/functions/digests.sql), or
 * NULL; borrowed like the due policy. */
const char *api_req_digest_policy(const struct api_req *q);
/* The reminder policy as JSON for SQL (remind_policy_json(); sql/functions/reminders.sql),
 * or NULL; borrowed like the due policy. */
const char *api_req_remind_policy(const struct api_req *q);
/* The due-date policy as JSON for SQL (cl_action_add), or NULL; borrowed until the
 * request's statement is started (the parameters are copied then). */
const char *api_req_due_policy(const struct api_req *q);
/* Expected version from If-Match or the body's "version"; NULL when absent. Borrowed
 * until the request ends. Answers 400 on a malformed If-Match and returns CL_EINVAL. */
int api_req_version(const char **out, struct api_req *q, const json_t *body);

/* Parses and validates the body as a JSON object against spec. On success *out is a
 * new reference (json_decref it) and `raw` (may be NULL) the body text; on failure the
 * request has been answered (400/413/415/422) and CL_EINVAL is returned. An empty body
 * counts as {} when `allow_empty`. */
int api_req_body(json_t **out, struct api_req *q, const struct valid_field *spec, size_t n,
                 enum valid_mode mode, bool allow_empty);

/* The page size of a list: query parameter limit (1..max; absent: dflt) into *limit, and
 * limit+1 as text into fetch (the rows to ask SQL for: one more says there is a next page,
 * API_LIST). Answers 400 naming limit and returns CL_EINVAL when it is not such a number. */
int api_req_limit(long *limit, char fetch[24], struct api_req *q, long dflt, long max);

/* Checks that path capture 0 is a positive decimal id; otherwise answers 404 ("no
 * <noun> ...") and returns CL_EINVAL. */
int api_req_path_id(struct api_req *q);
/* The JSON text of v (compact) on the heap; aborts only when out of memory. */
char *api_dump(const json_t *v);
/* Which sync connection serves which scope, as JSON for the SQL that creates links
 * ("{}" without sync). Borrowed. */
const char *api_req_sync_routes(const struct api_req *q);

/* Starts the statement (constant SQL, params copied) and answers from its outcome. */
void api_req_sql(struct api_req *q, const char *sql, int nparams, const char *const *params,
                 enum api_shape shape, int ok_status, long limit);

/* The same with a prepared statement: for hot statements whose plan does not depend on
 * the parameters. */
void api_req_prepared(struct api_req *q, const struct db_stmt *stmt, int nparams,
                      const char *const *params, enum api_shape shape, int ok_status, long limit);

/* Starts the statement and hands its outcome to fn, which must answer. */
typedef void (*api_sql_fn)(struct api_req *q, const struct db_reply *r);
void api_req_sql_then(struct api_req *q, const char *sql, int nparams, const char *const *params,
                      api_sql_fn fn);
/* Answers from a failed statement as the generic path does (404, 409, 422, 503...). */
void api_req_db_error(struct api_req *q, const struct db_reply *r);

/* Answers an error: {"error":{"code","message","field"}}. field may be NULL. */
void api_req_error(struct api_req *q, int status, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Answers with a JSON or text body (copied). */
void api_req_reply(struct api_req *q, int status, const char *content_type, const char *body);

/* The loop and pool, for handlers with special needs (health checks). */
struct db_pool *api_req_pool(const struct api_req *q);
/* The mail worker (NULL in unit tests). */
struct mail_queue *api_req_mail(const struct api_req *q);
/* The chat worker (NULL in unit tests). */
struct chat_queue *api_req_chat(const struct api_req *q);
/* The sync core, or NULL when no tracker connection is configured. */
struct sync *api_req_sync(const struct api_req *q);
/* Runs fn(arg) once the request's statement succeeded and its answer is queued. */
void api_req_after(struct api_req *q, void (*fn)(void *), void *arg);
/* Keeps data for the handler's later steps (e.g. an api_req_sql_then() callback): freed
 * with free_fn when the request ends; a second call frees the first data. */
void api_req_keep(struct api_req *q, void *data, void (*free_fn)(void *));
/* The data given to api_req_keep(), or NULL; borrowed. */
void *api_req_kept(const struct api_req *q);
/* Replaces the request's deadline (long operations such as an import). */
void api_req_set_deadline(struct api_req *q, double seconds);
/* Attaches a sync call to cancel if the request ends first (deadline, disconnect). */
void api_req_set_call(struct api_req *q, struct sync_call *call);
/* A JSON answer built by the handler (copied). */
void api_req_reply_json(struct api_req *q, int status, const json_t *body);

#endif
