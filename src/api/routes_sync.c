/* routes_sync: the API of the sync, for every tracker in the registry: linking an
 * action to an existing issue, the sync status, import and doctor under
 * /api/v1/<tracker>/, and webhook deliveries at /webhooks/<tracker>[/<connection>]. */
#include "closeloop/api/routes_sync.h"

#include "closeloop/sync/registry.h"
#include "closeloop/util/valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_MAX_TRACKERS 8

/* Request specs built from the registry when the routes are added: the field names are
 * each provider's (GitHub: {"repo","label","incident"}). */
struct rs_specs {
    const struct provider_def *def;
    struct valid_field import[3];
    struct valid_field doctor[1];
};

static struct rs_specs rs_specs[RS_MAX_TRACKERS];
static struct valid_field rs_link_spec[RS_MAX_TRACKERS + 1]; /* each tracker's, and "issue" */
static size_t rs_ntrackers;

static const struct db_stmt sql_inbox_put = {"inbox_put",
                                             "SELECT cl_inbox_put($1, $2, $3, $4, $5, $6, $7, $8)"};

/* The provider the path's first capture names; answers 404 when there is none. */
static const struct rs_specs *rs_tracker(struct api_req *q)
{
    const char *name = api_req_param(q, 0);
    size_t i;

    for (i = 0; i < rs_ntrackers; i++)
        if (strcmp(rs_specs[i].def->tracker, name) == 0)
            return &rs_specs[i];
    api_req_error(q, 404, "not_found", NULL, "no tracker \"%.40s\"", name);
    return NULL;
}

/* A scope the provider accepts, or a 422 naming the field and the rule. */
static bool rs_scope_ok(struct api_req *q, const struct provider_def *def, const char *field,
                        const char *scope)
{
    if (def->scope_valid(scope))
        return true;
    api_req_error(q, 422, "validation", field, "%s \"%.60s\" is not a %s %s: %s", field, scope,
                  def->tracker, def->scope_noun, def->scope_rule);
    return false;
}

/* ---- link ---- */

/* The provider whose references include ref ("owner/repo#1", "OPS-1"), or NULL. */
static const struct provider_def *rs_ref_owner(const char *ref)
{
    char scope[202];
    char key[65];
    size_t i;

    for (i = 0; ref != NULL && i < rs_ntrackers; i++)
        if (rs_specs[i].def->parse_ref(ref, scope, sizeof(scope), key, sizeof(key)))
            return rs_specs[i].def;
    return NULL;
}

/* {"<tracker>": "<reference>"}, or {"issue": "<reference>"} for whichever tracker's
 * references look like it: exactly one, and a reference its tracker can parse. */
static void action_link(struct api_req *q)
{
    json_t *body = NULL;
    const struct provider_def *def = NULL;
    const char *ref = NULL;
    char scope[202];
    char key[65];
    size_t i;

    if (api_req_path_id(q) != CL_OK ||
        api_req_body(&body, q, rs_link_spec, rs_ntrackers + 1, VALID_MODE_CREATE, false) != CL_OK)
        return;
    for (i = 0; i < rs_ntrackers && json_object_size(body) == 1; i++)
        if (json_object_get(body, rs_specs[i].def->tracker) != NULL) {
            def = rs_specs[i].def;
            ref = json_string_value(json_object_get(body, def->tracker));
        }
    if (def == NULL && json_object_size(body) == 1 && json_object_get(body, "issue") != NULL) {
        ref = json_string_value(json_object_get(body, "issue"));
        def = rs_ref_owner(ref);
        if (def == NULL) {
            api_req_error(q, 422, "validation", "issue",
                          "\"%.80s\" is no tracker's issue reference (owner/repo#123, PROJ-123)",
                          ref);
            json_decref(body);
            return;
        }
    }
    if (def == NULL)
        api_req_error(q, 422, "validation", NULL, "name exactly one tracker and its issue");
    else if (!def->parse_ref(ref, scope, sizeof(scope), key, sizeof(key)))
        api_req_error(q, 422, "validation", def->tracker, "expected %s (%s), not \"%.80s\"",
                      def->ref_rule, def->scope_rule, ref);
    else
        api_req_sql(q, "SELECT cl_action_link($1::bigint, $2, $3, $4, $5::jsonb)", 5,
                    (const char *const[]){api_req_param(q, 0), def->tracker, scope, key,
                                          api_req_sync_routes(q)},
                    API_ONE, 200, 0);
    json_decref(body);
}

/* ---- status ---- */

/* Puts each scope under its connection's in-memory description. */
static void sync_status_done(struct api_req *q, const struct db_reply *r)
{
    json_t *conns;
    json_t *status;
    json_t *scopes;
    json_t *out;
    size_t i;
    size_t k;
    json_t *c;
    json_t *scope;

    if (r->code != CL_OK) {
        api_req_db_error(q, r);
        return;
    }
    conns = api_req_sync(q) != NULL ? sync_describe(api_req_sync(q)) : json_array();
    status = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    scopes = json_object_get(status, "scopes");
    json_array_foreach (conns, i, c) {
        json_t *mine = json_array();

        json_array_foreach (scopes, k, scope) {
            if (json_equal(json_object_get(scope, "connection"), json_object_get(c, "name")) &&
                json_equal(json_object_get(scope, "tracker"), json_object_get(c, "tracker")))
                json_array_append(mine, scope);
        }
        json_object_set_new(c, "repos", json_incref(mine)); /* the first API's name */
        json_object_set_new(c, "scopes", mine);
    }
    out = json_pack("{s:o, s:O*}", "connections", conns, "inbox", json_object_get(status, "inbox"));
    api_req_reply_json(q, 200, out);
    json_decref(out);
    json_decref(status);
}

static void sync_status(struct api_req *q)
{
    if (api_req_check_query(q, (const char *const[]){NULL}) != CL_OK)
        return;
    api_req_sql_then(q, "SELECT cl_sync_status()", 0, NULL, sync_status_done);
}

/* ---- import and doctor ---- */

/* How a sync call ended, in HTTP terms (next to the SQLSTATE mapping in api.c). */
static void rs_answer(const struct sync_result *r, void *arg)
{
    struct api_req *q = arg;

    if (r->code == CL_OK) {
        api_req_reply_json(q, 200, r->result);
        return;
    }
    api_req_set_call(q, NULL);
    if (r->code == CL_ENOTFOUND)
        api_req_error(q, 404, "not_found", NULL, "%s", r->message);
    else if (r->code == CL_EINVAL)
        api_req_error(q, 422, "validation", r->field, "%s", r->message);
    else if (r->code == CL_EHTTP &&
             (r->outcome == PROVIDER_AUTH || r->outcome == PROVIDER_REJECTED))
        api_req_error(q, 502, "tracker_refused", NULL, "%s", r->message);
    else
        api_req_error(q, 503, "unavailable", NULL, "%s", r->message);
}

static bool rs_need_sync(struct api_req *q, const struct provider_def *def)
{
    if (api_req_sync(q) != NULL)
        return true;
    api_req_error(q, 404, "not_found", NULL, "no %s connection is configured", def->tracker);
    return false;
}

static void sync_import_route(struct api_req *q)
{
    const struct rs_specs *t = rs_tracker(q);
    json_t *body = NULL;
    const char *scope;

    if (t == NULL || !rs_need_sync(q, t->def) ||
        api_req_body(&body, q, t->import, CL_ARRAY_LEN(t->import), VALID_MODE_CREATE, false) !=
            CL_OK)
        return;
    scope = json_string_value(json_object_get(body, t->def->scope_field));
    if (rs_scope_ok(q, t->def, t->def->scope_field, scope)) {
        api_req_set_deadline(q, 600.0); /* 10,000 issues are 100 listing requests */
        api_req_set_call(q,
                         sync_import(api_req_sync(q), t->def->tracker, scope,
                                     json_string_value(json_object_get(body, t->def->query_field)),
                                     json_string_value(json_object_get(body, "incident")),
                                     api_req_actor(q), rs_answer, q));
    }
    json_decref(body);
}

static void sync_doctor_route(struct api_req *q)
{
    const struct rs_specs *t = rs_tracker(q);
    json_t *body = NULL;
    const char *scope;

    if (t == NULL || !rs_need_sync(q, t->def) ||
        api_req_body(&body, q, t->doctor, CL_ARRAY_LEN(t->doctor), VALID_MODE_CREATE, false) !=
            CL_OK)
        return;
    scope = json_string_value(json_object_get(body, t->def->scope_field));
    if (rs_scope_ok(q, t->def, t->def->scope_field, scope)) {
        api_req_set_deadline(q, 120.0);
        api_req_set_call(q, sync_doctor(api_req_sync(q), t->def->tracker, scope, rs_answer, q));
    }
    json_decref(body);
}

/* ---- webhooks ---- */

static void rs_kick_inbox(void *arg)
{
    sync_inbox_kick(arg);
}

static const char *rs_header(const void *ctx, const char *name)
{
    return httpd_req_header(ctx, name);
}

/* True when body looks like a JSON object (a malformed one is still kept as a dead
 * letter: the tracker signed it). */
static bool rs_json_object(const char *body, size_t len)
{
    return len > 0 && memchr(body, '\0', len) == NULL && body[strspn(body, " \t\r\n")] == '{';
}

/* Answers a delivery that is not stored (a ping, an event that cannot change anything). */
static void rs_hook_dropped(struct api_req *q, const struct provider_hook *hook)
{
    api_req_reply(q, 202, "application/json",
                  hook->kind == PROVIDER_HOOK_PING
                      ? "{\"accepted\":true,\"stored\":false,\"ping\":true}\n"
                      : "{\"accepted\":true,\"stored\":false}\n");
}

/* Deliveries of every tracker: the provider checks the signature over the raw bytes,
 * names the delivery and parses it; what can matter (an issue closeloop links or a
 * scope it reconciles) is stored once and answered 202, then applied by the inbox
 * worker. A malformed delivery is kept as a dead letter with its reason. */
static void sync_hook(struct api_req *q)
{
    struct sync *s = api_req_sync(q);
    const struct provider_def *def = registry_find(api_req_param(q, 0));
    struct provider_delivery d = {rs_header, api_req_http(q), NULL, 0};
    struct provider_hook hook;
    struct cl_err err = CL_ERR_INIT;
    const char *name = NULL;
    int rc;

    d.body = httpd_req_body(api_req_http(q), &d.len);
    if (s == NULL || def == NULL) {
        api_req_error(q, 404, "not_found", NULL, "no such tracker connection");
        return;
    }
    rc = sync_hook_read(s, def->tracker, api_req_param(q, 1), &d, &hook, &name, &err);
    if (rc == CL_ENOTFOUND || rc == CL_EAUTH) {
        api_req_error(q, rc == CL_EAUTH ? 401 : 404, rc == CL_EAUTH ? "unauthorized" : "not_found",
                      NULL, "%s", err.msg);
    } else if (rc != CL_OK && (hook.event[0] == '\0' || hook.delivery[0] == '\0')) {
        api_req_error(q, 400, "bad_request", NULL, "%s", err.msg);
    } else if (rc != CL_OK && !rs_json_object(d.body, d.len)) {
        api_req_error(q, 400, "bad_json", NULL,
                      "the payload must be a JSON object (webhook content type application/json)");
    } else if (rc == CL_OK && hook.kind != PROVIDER_HOOK_APPLY &&
               hook.kind != PROVIDER_HOOK_MOVED && hook.kind != PROVIDER_HOOK_DELETED &&
               hook.kind != PROVIDER_HOOK_REREAD) {
        rs_hook_dropped(q, &hook);
    } else {
        api_req_after(q, rs_kick_inbox, s);
        api_req_prepared(q, &sql_inbox_put, 8,
                         (const char *const[]){def->tracker, name, hook.delivery, hook.event,
                                               d.body, rc == CL_OK ? hook.old_id : NULL,
                                               rc == CL_OK ? hook.scope : NULL,
                                               rc == CL_OK ? NULL : err.msg},
                         API_ONE, 202, 0);
    }
    json_decref(hook.remote);
    json_decref(hook.replaced);
}

/* ---- the table ---- */

static const struct api_route routes[] = {
    {"POST", "/api/v1/actions/{}/link", AUTH_WRITE, action_link, "action"},
    {"GET", "/api/v1/sync/status", AUTH_READ, sync_status, NULL},
    {"POST", "/api/v1/{}/import", AUTH_WRITE, sync_import_route, NULL},
    {"POST", "/api/v1/{}/doctor", AUTH_WRITE, sync_doctor_route, NULL},
    {"POST", "/webhooks/{}", AUTH_NONE, sync_hook, NULL},
    {"POST", "/webhooks/{}/{}", AUTH_NONE, sync_hook, NULL},
};

/* The request specs of each provider, from its field names. */
static void rs_specs_build(void)
{
    size_t n = 0;
    const struct provider_def *const *all = registry_all(&n);
    size_t i;

    for (i = 0; i < n && i < RS_MAX_TRACKERS; i++) {
        struct rs_specs *t = &rs_specs[i];

        t->def = all[i];
        t->import[0] = (struct valid_field){all[i]->scope_field, VALID_STR,
                                            VALID_REQUIRED | VALID_NONBLANK, 201, NULL};
        t->import[1] = (struct valid_field){all[i]->query_field, VALID_TEXT,
                                            VALID_REQUIRED | VALID_NONBLANK, 2000, NULL};
        t->import[2] =
            (struct valid_field){"incident", VALID_STR, VALID_REQUIRED | VALID_NONBLANK, 26, NULL};
        t->doctor[0] = t->import[0];
        rs_link_spec[i] =
            (struct valid_field){all[i]->tracker, VALID_STR, VALID_NONBLANK, 270, NULL};
    }
    rs_ntrackers = i;
    rs_link_spec[i] = (struct valid_field){"issue", VALID_STR, VALID_NONBLANK, 270, NULL};
}

void routes_sync_add(struct api *a)
{
    if (rs_ntrackers == 0)
        rs_specs_build();
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
