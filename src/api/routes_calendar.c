#include "closeloop/api/routes_calendar.h"

#include "closeloop/api/routes_core.h"
#include "closeloop/cal/ics.h"
#include "closeloop/http/httpd.h"
#include "closeloop/util/crypto.h"
#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALENDAR_TOKEN_BYTES 32
#define CALENDAR_SUFFIX      ".ics"
#define CALENDAR_CT          "text/calendar; charset=utf-8"

static const struct valid_field feed_spec[] = {
    {"person", VALID_STR, VALID_NONBLANK, 63, NULL},
    {"team", VALID_STR, VALID_NONBLANK, 63, NULL},
    {"label", VALID_STR, VALID_NONBLANK, 200, NULL},
};

static const char sql_feed_create[] = "SELECT cl_calendar_feed_create($1::jsonb, $2, $3)";
static const char sql_feed_list[] =
    "SELECT calendar_feed_json(f), f.id::text FROM calendar_feeds f"
    " WHERE ($1::bigint IS NULL OR f.id > $1) ORDER BY f.id LIMIT $2";
static const char sql_feed_revoke[] = "SELECT cl_calendar_feed_revoke($1::bigint)";
static const char sql_feed[] = "SELECT cl_calendar_feed($1)";

bool routes_calendar_token_valid(const char *s)
{
    size_t i;

    if (s == NULL || strlen(s) != CALENDAR_TOKEN_LEN ||
        strncmp(s, CALENDAR_TOKEN_PREFIX, strlen(CALENDAR_TOKEN_PREFIX)) != 0)
        return false;
    for (i = strlen(CALENDAR_TOKEN_PREFIX); i < CALENDAR_TOKEN_LEN; i++)
        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]) ==
            NULL)
            return false;
    return true;
}

/* ---- making, listing, revoking ---- */

/* A new token ("clf_" + base64url of 32 random bytes) on the heap, or NULL (err set). */
static char *calendar_token_new(struct cl_err *err)
{
    unsigned char raw[CALENDAR_TOKEN_BYTES];
    char enc[64];

    if (crypto_random(raw, sizeof(raw), err) != CL_OK)
        return NULL;
    crypto_base64url(enc, raw, sizeof(raw));
    return cl_asprintf(CALENDAR_TOKEN_PREFIX "%s", enc);
}

/* 201 {"id", ..., "url": "/calendar/<token>.ics", "token"}: the token's only showing. */
static void feed_created(struct api_req *q, const struct db_reply *r)
{
    const char *token = api_req_kept(q);
    json_t *feed = NULL;
    char *url;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    if (PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0))
        feed = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    if (!json_is_object(feed)) {
        api_req_error(q, 500, "internal", NULL, "internal error (request %s)",
                      httpd_req_id(api_req_http(q)));
        json_decref(feed);
        return;
    }
    url = cl_asprintf("/calendar/%s" CALENDAR_SUFFIX, token);
    json_object_set_new(feed, "url", json_string(url));
    json_object_set_new(feed, "token", json_string(token));
    api_req_reply_json(q, 201, feed);
    json_decref(feed);
    free(url);
}

/* POST /api/v1/calendar-feeds {"person": handle} or {"team": name}, "label"?. */
static void feed_create(struct api_req *q)
{
    struct cl_err err = CL_ERR_INIT;
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    json_t *body = NULL;
    char *token;
    char *text;

    if (api_req_body(&body, q, feed_spec, CL_ARRAY_LEN(feed_spec), VALID_MODE_CREATE, false) !=
        CL_OK)
        return;
    token = calendar_token_new(&err);
    if (token == NULL) {
        log_req_error(httpd_req_id(api_req_http(q)), "event=feed_token_failed error=\"%s\"",
                      err.msg);
        api_req_error(q, 500, "internal", NULL, "cannot make a token (request %s)",
                      httpd_req_id(api_req_http(q)));
        json_decref(body);
        return;
    }
    crypto_sha256_hex(hash, token, strlen(token));
    api_req_keep(q, token, free); /* for feed_created(): it goes to the client, nowhere else */
    text = api_dump(body);
    api_req_sql_then(q, sql_feed_create, 3, (const char *const[]){text, hash, api_req_actor(q)},
                     feed_created);
    free(text);
    json_decref(body);
}

/* GET /api/v1/calendar-feeds: every feed, revoked ones too, never a token. */
static void feed_list(struct api_req *q)
{
    routes_core_id_page(q, sql_feed_list, false);
}

/* DELETE /api/v1/calendar-feeds/{id}: revoked at once; the feed's JSON. */
static void feed_revoke(struct api_req *q)
{
    if (api_req_path_id(q) != CL_OK)
        return;
    api_req_sql(q, sql_feed_revoke, 1, (const char *const[]){api_req_param(q, 0)}, API_ONE, 200, 0);
}

/* ---- the feed itself ---- */

static void feed_not_found(struct api_req *q)
{
    api_req_error(q, 404, "not_found", NULL, "no such calendar feed");
}

/* The events of the feed's JSON that render; one that does not (a zone libical does not
 * know, say) is left out and logged, so one odd review does not blank a calendar. *n gets
 * how many; the array is the caller's (ics_event_dispose() each, then free()). */
static struct ics_event *feed_events(size_t *n, const json_t *events, const char *req_id)
{
    struct ics_event *ev = cl_calloc(json_array_size(events) + 1, sizeof(*ev));
    size_t i;

    *n = 0;
    for (i = 0; i < json_array_size(events); i++) {
        struct cl_err err = CL_ERR_INIT;
        struct ics_event *e = &ev[*n];
        char why[300];

        if (ics_event_from_json(e, json_array_get(events, i), &err) == CL_OK &&
            ics_event_check(e, ICS_PUBLISH, &err) == CL_OK) {
            (*n)++;
            continue;
        }
        log_req_warn(req_id, "event=feed_event_skipped error=\"%s\"",
                     log_quote(why, sizeof(why), err.msg));
        ics_event_dispose(e);
    }
    return ev;
}

/* Renders the feed's JSON ({"name", "events"}) as a PUBLISH calendar. */
static void feed_render(struct api_req *q, const json_t *feed)
{
    const char *req_id = httpd_req_id(api_req_http(q));
    const json_t *events = json_object_get(feed, "events");
    struct cl_err err = CL_ERR_INIT;
    struct ics_event *ev = NULL;
    char *text = NULL;
    size_t n = 0;
    size_t i;

    if (!json_is_array(events) || !json_is_string(json_object_get(feed, "name"))) {
        api_req_error(q, 500, "internal", NULL, "internal error (request %s)", req_id);
        return;
    }
    ev = feed_events(&n, events, req_id);
    if (ics_render_feed(&text, ev, n, json_string_value(json_object_get(feed, "name")), &err) ==
        CL_OK) {
        httpd_req_add_header(api_req_http(q), "Cache-Control", "private, max-age=300");
        api_req_reply(q, 200, CALENDAR_CT, text);
    } else {
        log_req_error(req_id, "event=feed_render_failed error=\"%s\"", err.msg);
        api_req_error(q, 500, "internal", NULL, "internal error (request %s)", req_id);
    }
    for (i = 0; i < n; i++)
        ics_event_dispose(&ev[i]);
    free(ev);
    free(text);
}

static void feed_found(struct api_req *q, const struct db_reply *r)
{
    json_t *feed = NULL;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    if (PQntuples(r->res) == 0 || PQgetisnull(r->res, 0, 0)) {
        feed_not_found(q); /* unknown and revoked alike */
        return;
    }
    feed = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    if (json_is_object(feed))
        feed_render(q, feed);
    else
        api_req_error(q, 500, "internal", NULL, "internal error (request %s)",
                      httpd_req_id(api_req_http(q)));
    json_decref(feed);
}

/* GET /calendar/{token}.ics: no bearer token; a token of the wrong shape, unknown or
 * revoked is the same 404. A query (a calendar app's cache buster) is ignored. */
static void feed_get(struct api_req *q)
{
    const char *seg = api_req_param(q, 0);
    size_t len = seg != NULL ? strlen(seg) : 0;
    size_t sl = strlen(CALENDAR_SUFFIX);
    char token[CALENDAR_TOKEN_LEN + 1];
    char hash[CRYPTO_SHA256_HEX_LEN + 1];

    if (len != CALENDAR_TOKEN_LEN + sl || strcmp(seg + len - sl, CALENDAR_SUFFIX) != 0) {
        feed_not_found(q);
        return;
    }
    memcpy(token, seg, CALENDAR_TOKEN_LEN);
    token[CALENDAR_TOKEN_LEN] = '\0';
    if (!routes_calendar_token_valid(token)) {
        feed_not_found(q);
        return;
    }
    crypto_sha256_hex(hash, token, strlen(token));
    api_req_sql_then(q, sql_feed, 1, (const char *const[]){hash}, feed_found);
}

static const struct api_route routes[] = {
    {"POST", "/api/v1/calendar-feeds", AUTH_WRITE, feed_create, NULL},
    {"GET", "/api/v1/calendar-feeds", AUTH_READ, feed_list, NULL},
    {"DELETE", "/api/v1/calendar-feeds/{}", AUTH_WRITE, feed_revoke, "calendar feed"},
    /* the token in the path is the authority: calendar apps send no bearer token */
    {"GET", "/calendar/{}", AUTH_NONE, feed_get, "calendar feed"},
};

void routes_calendar_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
