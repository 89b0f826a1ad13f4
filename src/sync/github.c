/* strptime */
#define _XOPEN_SOURCE 700
#include "closeloop/sync/github.h"

#include "closeloop/util/crypto.h"
#include "closeloop/util/jwt.h"
#include "closeloop/util/log.h"
#include "closeloop/util/valid.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GH_API_VERSION     "2022-11-28"
#define GH_LABEL           "postmortem"
#define GH_MAX_PAGES       1000
#define GH_AUTH_PAUSE      300.0
#define GH_SECONDARY_PAUSE 60.0
#define GH_TOKEN_MARGIN    300.0
#define GH_SECTION_BEGIN   "<!-- closeloop:begin -->"
#define GH_SECTION_END     "<!-- closeloop:end -->"

struct github {
    struct ev_loop *loop;
    struct http_client *http;
    const struct conf_github *cfg;
    EVP_PKEY *app_key;        /* GitHub App mode when non-NULL */
    char *token;              /* the bearer in use: the PAT or an installation token */
    double token_expires;     /* ev_now() time; 0 for a PAT */
    struct gh_op *token_wait; /* ops waiting for an installation token */
    bool token_fetching;
    long rate_limit;
    long rate_remaining; /* -1 until a response told us */
    double rate_reset;   /* epoch seconds */
    double paused_until; /* ev_now() time */
    char pause_reason[160];
    bool auth_failed;
    char last_error[256];
    double next_write_at;
    unsigned long requests;
    struct gh_op *ops;              /* every live operation, freed with the provider */
    struct http_request *token_req; /* the installation-token request in flight */
};

struct gh_op;
typedef void (*gh_step_fn)(struct gh_op *op, const struct http_response *resp);

/* One provider operation: one or more requests, then one callback. */
struct gh_op {
    struct github *g;
    struct gh_op *prev;
    struct gh_op *next;
    struct gh_op *next_waiting;
    provider_done_fn done;
    void *arg;
    json_t *job;        /* owned reference, may be NULL */
    json_t *local;      /* owned reference, may be NULL */
    json_t *remote;     /* owned reference, may be NULL */
    json_t *acc;        /* owned: list results */
    json_t *acc_pages;  /* owned: [{"url","etag"}] of this listing's pages */
    json_t *pages_in;   /* owned: the same from the last listing, or NULL */
    bool changed;       /* some page answered 200 */
    char listed_at[32]; /* the first page's Date, RFC 3339 */
    char *repo;
    char *label;
    char *etag_first;
    int requests;
    int pages;
    int redirects;
    ev_timer wait;
    /* the request to send (kept for spacing and token waits) */
    char *method;
    char *url;
    char *body;
    char *if_none_match;
    gh_step_fn step;
    struct http_request *req;
};

static void gh_op_send(struct gh_op *op);
static void gh_op_refuse(struct gh_op *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A member of a tracker's JSON that must be a string: NULL when absent or of another
 * type. Nothing read from GitHub is used before its type is checked. */
static const char *gh_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- operation life cycle ---- */

static struct gh_op *gh_op_new(struct github *g, provider_done_fn done, void *arg)
{
    struct gh_op *op = cl_calloc(1, sizeof(*op));

    op->g = g;
    op->done = done;
    op->arg = arg;
    op->next = g->ops;
    if (g->ops != NULL)
        g->ops->prev = op;
    g->ops = op;
    return op;
}

static void gh_op_free(struct gh_op *op)
{
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        op->g->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    http_cancel(op->req);
    ev_timer_stop(op->g->loop, &op->wait);
    json_decref(op->job);
    json_decref(op->local);
    json_decref(op->remote);
    json_decref(op->acc);
    json_decref(op->acc_pages);
    json_decref(op->pages_in);
    free(op->repo);
    free(op->label);
    free(op->etag_first);
    free(op->method);
    free(op->url);
    free(op->body);
    free(op->if_none_match);
    free(op);
}

/* Calls back with `r` (requests counted) and frees the op. */
static void gh_op_finish(struct gh_op *op, struct provider_result *r)
{
    r->requests = op->requests;
    op->done(r, op->arg);
    gh_op_free(op);
}

static void gh_op_fail(struct gh_op *op, enum provider_outcome outcome, double retry_after,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void gh_op_fail(struct gh_op *op, enum provider_outcome outcome, double retry_after,
                       const char *fmt, ...)
{
    struct provider_result r = {.outcome = outcome, .retry_after = retry_after};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r.message, sizeof(r.message), fmt, ap);
    va_end(ap);
    snprintf(op->g->last_error, sizeof(op->g->last_error), "%s", r.message);
    gh_op_finish(op, &r);
}

static void gh_op_ok(struct gh_op *op, json_t *remote)
{
    struct provider_result r = {.outcome = PROVIDER_OK, .remote = remote};

    gh_op_finish(op, &r);
}

/* ---- bookkeeping from responses ---- */

static void gh_pause(struct github *g, double seconds, const char *why)
{
    double until = ev_now(g->loop) + seconds;

    if (until > g->paused_until) {
        g->paused_until = until;
        snprintf(g->pause_reason, sizeof(g->pause_reason), "%s", why);
        log_warn("event=github_paused connection=%s seconds=%.0f reason=\"%s\"", g->cfg->name,
                 seconds, why);
    }
}

static double gh_header_num(const struct http_response *resp, const char *name, double def)
{
    const char *v = http_response_header(resp, name);
    char *end = NULL;
    double d;

    if (v == NULL)
        return def;
    d = strtod(v, &end);
    return end != v ? d : def;
}

static void gh_note_rate(struct github *g, const struct http_response *resp)
{
    double remaining = gh_header_num(resp, "x-ratelimit-remaining", -1);

    if (remaining < 0)
        return;
    g->rate_remaining = (long)remaining;
    g->rate_limit = (long)gh_header_num(resp, "x-ratelimit-limit", (double)g->rate_limit);
    g->rate_reset = gh_header_num(resp, "x-ratelimit-reset", g->rate_reset);
}

/* GitHub's message for an error answer: errors[0].message, else message. */
static void gh_error_text(char *out, size_t n, const struct http_response *resp)
{
    json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *errs = json_object_get(root, "errors");
    const char *msg = json_string_value(json_object_get(root, "message"));
    const char *detail = json_string_value(json_object_get(json_array_get(errs, 0), "message"));
    const char *code = json_string_value(json_object_get(json_array_get(errs, 0), "code"));

    if (detail != NULL)
        snprintf(out, n, "GitHub %ld: %s", resp->status, detail);
    else if (msg != NULL && code != NULL)
        snprintf(out, n, "GitHub %ld: %s (%s)", resp->status, msg, code);
    else if (msg != NULL)
        snprintf(out, n, "GitHub %ld: %s", resp->status, msg);
    else
        snprintf(out, n, "GitHub answered %ld", resp->status);
    json_decref(root);
}

/* A limit answer: 429, or 403 with retry-after / no remaining / a rate-limit message. */
static bool gh_limited(struct github *g, const struct http_response *resp, double *wait)
{
    double retry = gh_header_num(resp, "retry-after", -1);
    double now_epoch = (double)time(NULL);

    if (resp->status != 403 && resp->status != 429)
        return false;
    if (retry >= 0) {
        *wait = retry;
        return true;
    }
    if (gh_header_num(resp, "x-ratelimit-remaining", -1) == 0) {
        *wait = g->rate_reset > now_epoch ? g->rate_reset - now_epoch + 1 : 60;
        return true;
    }
    if (resp->status == 429 || strstr(resp->body, "rate limit") != NULL) {
        *wait = GH_SECONDARY_PAUSE;
        return true;
    }
    return false;
}

/* Turns a non-2xx/304 answer into the op's failure. True when it failed the op. */
static bool gh_check(struct gh_op *op, const struct http_response *resp)
{
    struct github *g = op->g;
    char why[200];
    double wait = 0;

    if (resp->code != CL_OK) {
        gh_op_fail(op, PROVIDER_RETRY, 0, "GitHub unreachable: %s", resp->error);
        return true;
    }
    if ((resp->status >= 200 && resp->status < 300) || resp->status == 304)
        return false;
    gh_error_text(why, sizeof(why), resp);
    if (gh_limited(g, resp, &wait)) {
        gh_pause(g, wait, why);
        gh_op_fail(op, PROVIDER_LIMITED, wait, "rate limited: %s", why);
    } else if (resp->status == 401) {
        g->auth_failed = true;
        free(g->token);
        g->token = g->app_key != NULL ? NULL : cl_strdup(g->cfg->token);
        g->token_expires = 0;
        gh_pause(g, GH_AUTH_PAUSE, "credentials refused (401)");
        gh_op_fail(op, PROVIDER_AUTH, GH_AUTH_PAUSE, "%s: check the token or App", why);
    } else if (resp->status == 410) {
        gh_op_fail(op, PROVIDER_GONE, 0, "%s", why);
    } else if (resp->status == 404) {
        /* deleted issues answer 410; 404 may only mean the credentials lost access, so
         * the link is kept and the push retried (with back-off) rather than broken */
        gh_op_fail(op, PROVIDER_RETRY, 0, "%s: not found, or not visible to these credentials",
                   why);
    } else if (resp->status >= 500 || resp->status == 408) {
        gh_op_fail(op, PROVIDER_RETRY, 0, "%s", why);
    } else {
        gh_op_fail(op, PROVIDER_REJECTED, 0, "%s", why);
    }
    return true;
}

/* ---- sending: auth, spacing, pauses ---- */

static bool gh_is_write(const char *method)
{
    return strcmp(method, "GET") != 0;
}

static void gh_op_on_response(const struct http_response *resp, void *arg)
{
    struct gh_op *op = arg;
    struct github *g = op->g;

    op->req = NULL;
    op->requests++;
    g->requests++;
    gh_note_rate(g, resp);
    if (resp->code == CL_OK && resp->status != 401)
        g->auth_failed = false;
    op->step(op, resp);
}

static void gh_op_on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    gh_op_send(container_of(w, struct gh_op, wait));
}

static void gh_op_defer(struct gh_op *op, double delay)
{
    ev_timer_stop(op->g->loop, &op->wait);
    ev_timer_init(&op->wait, gh_op_on_wait, delay > 0 ? delay : 0, 0.0);
    ev_timer_start(op->g->loop, &op->wait);
}

static void gh_token_fetch(struct github *g);

static void gh_op_transmit(struct gh_op *op)
{
    struct github *g = op->g;
    char auth[4096];
    char inm[300];
    const char *headers[8];
    struct http_opts o = {.method = op->method, .url = op->url, .timeout = g->cfg->timeout};
    int n = 0;

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->token);
    headers[n++] = auth;
    headers[n++] = "Accept: application/vnd.github+json";
    headers[n++] = "X-GitHub-Api-Version: " GH_API_VERSION;
    if (op->body != NULL) {
        headers[n++] = "Content-Type: application/json";
        o.body = op->body;
        o.body_len = strlen(op->body);
    }
    if (op->if_none_match != NULL) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", op->if_none_match);
        headers[n++] = inm;
    }
    headers[n] = NULL;
    o.headers = headers;
    if (gh_is_write(op->method))
        g->next_write_at = ev_now(g->loop) + g->cfg->write_interval;
    op->req = http_send(g->http, &o, gh_op_on_response, op);
    memset(auth, 0, sizeof(auth));
}

/* Sends op's request when the connection may: not paused, token fresh, writes spaced. */
static void gh_op_send(struct gh_op *op)
{
    struct github *g = op->g;
    double now = ev_now(g->loop);

    if (g->paused_until > now) {
        gh_op_fail(op, g->auth_failed ? PROVIDER_AUTH : PROVIDER_LIMITED, g->paused_until - now,
                   "connection %s paused: %s", g->cfg->name, g->pause_reason);
        return;
    }
    if (g->app_key != NULL && (g->token == NULL || g->token_expires - GH_TOKEN_MARGIN < now)) {
        op->next_waiting = g->token_wait;
        g->token_wait = op;
        gh_token_fetch(g);
        return;
    }
    if (gh_is_write(op->method) && g->next_write_at > now) {
        gh_op_defer(op, g->next_write_at - now);
        return;
    }
    gh_op_transmit(op);
}

static void gh_op_on_refused(struct ev_loop *loop, ev_timer *w, int revents);
static char *gh_escape(const char *s);
static void gh_request(struct gh_op *op, const char *method, const char *path, json_t *body,
                       gh_step_fn step);

/* "/repos/OWNER/NAME" + suffix, each segment percent-encoded, or NULL when repo is not
 * a valid owner/repo: nothing a caller or a tracker supplied can reach another path. */
static char *gh_repo_path(const char *repo, const char *suffix)
{
    const char *slash;
    char *owner;
    char *oe;
    char *ne;
    char *out;

    if (repo == NULL || !valid_github_repo(repo))
        return NULL;
    slash = strchr(repo, '/');
    owner = cl_strndup(repo, (size_t)(slash - repo));
    oe = gh_escape(owner);
    ne = gh_escape(slash + 1);
    out = cl_asprintf("/repos/%s/%s%s", oe, ne, suffix);
    free(owner);
    free(oe);
    free(ne);
    return out;
}

/* Queues `method` on repo's `suffix` path, or refuses the op when repo is not valid. */
static void gh_repo_request(struct gh_op *op, const char *method, const char *repo,
                            const char *suffix, json_t *body, gh_step_fn step)
{
    char *path = gh_repo_path(repo, suffix);

    if (path == NULL) {
        gh_op_refuse(op, "\"%.120s\" is not a GitHub repository (%s)", repo != NULL ? repo : "",
                     VALID_GITHUB_REPO_RULE);
        return;
    }
    gh_request(op, method, path, body, step);
    free(path);
}

/* True when url has the API base's scheme, host and port: the bearer token is only ever
 * sent there, whatever a Location or Link header says. */
static bool gh_same_origin(const char *api, const char *url)
{
    const char *host = strstr(api, "://");
    size_t n = host != NULL ? (size_t)(host + 3 - api) + strcspn(host + 3, "/") : strlen(api);

    return strncmp(api, url, n) == 0 && (url[n] == '/' || url[n] == '\0' || url[n] == '?');
}

/* Queues a request for op; `path` is relative to the API base unless absolute. */
static void gh_request(struct gh_op *op, const char *method, const char *path, json_t *body,
                       gh_step_fn step)
{
    if (strncmp(path, "http", 4) == 0 && !gh_same_origin(op->g->cfg->api_url, path)) {
        gh_op_refuse(op, "refused: %.100s is not on %.100s", path, op->g->cfg->api_url);
        return;
    }
    free(op->method);
    free(op->url);
    free(op->body);
    op->method = cl_strdup(method);
    op->url = strncmp(path, "http", 4) == 0 ? cl_strdup(path)
                                            : cl_asprintf("%s%s", op->g->cfg->api_url, path);
    op->body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    op->step = step;
    /* deferred through the loop: callbacks never run inside the starting call */
    gh_op_defer(op, 0);
}

static void gh_op_on_refused(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct gh_op *op = container_of(w, struct gh_op, wait);

    (void)loop;
    (void)revents;
    gh_op_fail(op, PROVIDER_REJECTED, 0, "%.200s", op->method);
}

/* Fails op as rejected, through the loop (never inside the starting call); nothing is
 * sent. The message travels in op->method, which no request needs any more. */
static void gh_op_refuse(struct gh_op *op, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    op->step = NULL;
    free(op->method);
    op->method = cl_strdup(msg);
    ev_timer_stop(op->g->loop, &op->wait);
    ev_timer_init(&op->wait, gh_op_on_refused, 0, 0);
    ev_timer_start(op->g->loop, &op->wait);
}

/* ---- GitHub App: installation tokens ---- */

static void gh_token_release(struct github *g, bool ok, bool auth, const char *why)
{
    struct gh_op *op = g->token_wait;

    g->token_wait = NULL;
    g->token_fetching = false;
    while (op != NULL) {
        struct gh_op *next = op->next_waiting;

        op->next_waiting = NULL;
        if (ok)
            gh_op_send(op);
        else
            gh_op_fail(op, auth ? PROVIDER_AUTH : PROVIDER_RETRY, auth ? GH_AUTH_PAUSE : 10,
                       "GitHub App token: %s", why);
        op = next;
    }
}

static double gh_parse_time(const char *s)
{
    struct tm tm = {0};

    if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        return 0;
    return (double)timegm(&tm);
}

static void gh_token_on_response(const struct http_response *resp, void *arg)
{
    struct github *g = arg;
    json_t *root = NULL;
    const char *tok;
    double expires;
    char why[200];

    g->requests++;
    g->token_req = NULL;
    if (resp->code != CL_OK || resp->status != 201) {
        if (resp->code != CL_OK)
            snprintf(why, sizeof(why), "%s", resp->error);
        else
            gh_error_text(why, sizeof(why), resp);
        g->auth_failed = resp->code == CL_OK && (resp->status == 401 || resp->status == 404);
        gh_pause(g, g->auth_failed ? GH_AUTH_PAUSE : 10, why);
        gh_token_release(g, false, g->auth_failed, why);
        return;
    }
    root = json_loadb(resp->body, resp->body_len, 0, NULL);
    tok = json_string_value(json_object_get(root, "token"));
    expires = gh_parse_time(json_string_value(json_object_get(root, "expires_at")));
    if (tok == NULL || expires == 0) {
        json_decref(root);
        gh_token_release(g, false, false, "malformed access_tokens answer");
        return;
    }
    free(g->token);
    g->token = cl_strdup(tok);
    /* expires_at is wall-clock; keep it on the loop's clock */
    g->token_expires = ev_now(g->loop) + (expires - (double)time(NULL));
    g->auth_failed = false;
    json_decref(root);
    gh_token_release(g, true, false, NULL);
}

static void gh_token_fetch(struct github *g)
{
    struct cl_err err = CL_ERR_INIT;
    char *jwt = NULL;
    char *auth;
    char *url;
    const char *headers[5];
    struct http_opts o = {.method = "POST", .body = "{}", .body_len = 2};

    if (g->token_fetching)
        return;
    if (jwt_github_app(&jwt, g->app_key, g->cfg->app_id, time(NULL), &err) != CL_OK) {
        gh_token_release(g, false, true, err.msg);
        return;
    }
    g->token_fetching = true;
    auth = cl_asprintf("Authorization: Bearer %s", jwt);
    url = cl_asprintf("%s/app/installations/%s/access_tokens", g->cfg->api_url,
                      g->cfg->app_installation_id);
    headers[0] = auth;
    headers[1] = "Accept: application/vnd.github+json";
    headers[2] = "X-GitHub-Api-Version: " GH_API_VERSION;
    headers[3] = "Content-Type: application/json";
    headers[4] = NULL;
    o.url = url;
    o.headers = headers;
    o.timeout = g->cfg->timeout;
    g->token_req = http_send(g->http, &o, gh_token_on_response, g);
    memset(auth, 0, strlen(auth));
    memset(jwt, 0, strlen(jwt));
    free(auth);
    free(jwt);
    free(url);
}

/* ---- bodies and snapshots ---- */

static void gh_rtrim(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

char *github_body_render(const json_t *action, const char *instance)
{
    const char *desc = json_string_value(json_object_get(action, "description"));
    const char *due = json_string_value(json_object_get(action, "due_on"));
    const char *inc = json_string_value(json_object_get(action, "incident"));
    const char *pm = json_string_value(json_object_get(action, "postmortem_url"));
    const char *kind = json_string_value(json_object_get(action, "kind"));
    json_int_t id = json_integer_value(json_object_get(action, "id"));
    char *d = cl_strdup(desc != NULL ? desc : "");
    struct buf b;

    gh_rtrim(d);
    buf_init(&b);
    if (d[0] != '\0')
        buf_printf(&b, "%s\n\n", d);
    buf_puts(&b, GH_SECTION_BEGIN "\n---\n");
    buf_printf(&b, "**Due:** %s\n", due != NULL ? due : "none");
    buf_printf(&b, "**Postmortem:** %s", inc != NULL ? inc : "?");
    if (pm != NULL)
        buf_printf(&b, " ([postmortem](%s))", pm);
    buf_printf(&b,
               " · %s action, kept in step by closeloop. Edit the due date above; "
               "closeloop rewrites the rest of this section.\n",
               kind != NULL ? kind : "follow-up");
    buf_printf(&b, "<!-- closeloop:action=%" JSON_INTEGER_FORMAT " instance=%s -->\n", id,
               instance);
    buf_puts(&b, GH_SECTION_END);
    free(d);
    return buf_steal(&b, NULL);
}

/* Reads "**Due:** <value>" in the section: a date, or none. Absent or unreadable: no key. */
static void gh_parse_due(json_t *into, const char *section)
{
    const char *p = strstr(section, "**Due:**");
    char val[16];
    size_t n;

    if (p == NULL)
        return;
    p += strlen("**Due:**");
    while (*p == ' ' || *p == '\t')
        p++;
    n = strcspn(p, " \t\r\n");
    if (n >= sizeof(val))
        return;
    memcpy(val, p, n);
    val[n] = '\0';
    if (valid_date(val))
        json_object_set_new(into, "due_on", json_string(val));
    else if (strcasecmp(val, "none") == 0 || strcmp(val, "-") == 0)
        json_object_set_new(into, "due_on", json_null());
}

static long gh_parse_marker(const char *s, const char *instance)
{
    const char *p = strstr(s, "<!-- closeloop:action=");
    char want[96];
    char *end = NULL;
    long id;

    if (p == NULL || instance == NULL)
        return 0;
    id = strtol(p + strlen("<!-- closeloop:action="), &end, 10);
    snprintf(want, sizeof(want), " instance=%s -->", instance);
    if (end == NULL || strncmp(end, want, strlen(want)) != 0)
        return 0;
    return id;
}

long github_body_parse(json_t *into, const char *body, const char *instance)
{
    const char *sec = body != NULL ? strstr(body, GH_SECTION_BEGIN) : NULL;
    char *desc = cl_strndup(body != NULL ? body : "",
                            sec != NULL ? (size_t)(sec - body) : strlen(body != NULL ? body : ""));
    long id = 0;

    gh_rtrim(desc);
    json_object_set_new(into, "description", json_string(desc));
    free(desc);
    if (sec != NULL) {
        gh_parse_due(into, sec);
        id = gh_parse_marker(sec, instance);
    }
    return id;
}

/* "https://api.github.com/repos/o/r" -> "o/r"; null unless that is a valid owner/repo
 * (a repository name read from GitHub builds the URLs of later writes). */
static json_t *gh_repo_of(const json_t *issue)
{
    const char *u = gh_str(issue, "repository_url");
    const char *p = u != NULL ? strstr(u, "/repos/") : NULL;

    if (p == NULL || !valid_github_repo(p + strlen("/repos/")))
        return json_null();
    return json_string(p + strlen("/repos/"));
}

/* [obj.key...] as strings; NULL when arr is not an array of objects holding a string
 * under key. */
static json_t *gh_names(const json_t *arr, const char *key)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;

    json_array_foreach (arr, i, v) {
        const char *s = gh_str(v, key);

        if (s == NULL) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_string(s));
    }
    return out;
}

static const char *gh_status_of(const char *state, const char *reason)
{
    if (strcmp(state, "closed") != 0)
        return "open";
    if (reason != NULL && (strcmp(reason, "not_planned") == 0 || strcmp(reason, "duplicate") == 0))
        return "wont_do";
    return "done";
}

/* The members a snapshot needs, each of the type GitHub documents. */
static int gh_issue_check(const json_t *issue, struct cl_err *err)
{
    const json_t *id = json_object_get(issue, "id");
    const json_t *number = json_object_get(issue, "number");
    const char *state = gh_str(issue, "state");
    const char *updated = gh_str(issue, "updated_at");
    const json_t *body = json_object_get(issue, "body");
    const json_t *reason = json_object_get(issue, "state_reason");

    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return cl_fail(err, CL_EINVAL, "issue.id is not a positive integer");
    if (!json_is_integer(number) || json_integer_value(number) <= 0 ||
        json_integer_value(number) > 2147483647)
        return cl_fail(err, CL_EINVAL, "issue.number is not a positive integer");
    if (!json_is_string(json_object_get(issue, "title")))
        return cl_fail(err, CL_EINVAL, "issue.title is not a string");
    if (body != NULL && !json_is_string(body) && !json_is_null(body))
        return cl_fail(err, CL_EINVAL, "issue.body is neither a string nor null");
    if (state == NULL || (strcmp(state, "open") != 0 && strcmp(state, "closed") != 0))
        return cl_fail(err, CL_EINVAL, "issue.state is not \"open\" or \"closed\"");
    if (reason != NULL && !json_is_string(reason) && !json_is_null(reason))
        return cl_fail(err, CL_EINVAL, "issue.state_reason is neither a string nor null");
    if (updated == NULL || !valid_timestamp(updated))
        return cl_fail(err, CL_EINVAL, "issue.updated_at is not a timestamp");
    return CL_OK;
}

/* Assignees and labels: absent assignees leave the owner alone; present ones must be
 * user objects with a login, labels objects with a name. */
static int gh_issue_lists(json_t *snap, const json_t *issue, struct cl_err *err)
{
    const json_t *assignees = json_object_get(issue, "assignees");
    const json_t *labels = json_object_get(issue, "labels");
    json_t *a = assignees != NULL ? gh_names(assignees, "login") : NULL;
    json_t *l = gh_names(labels, "name");

    if ((assignees != NULL && !json_is_array(assignees)) || (assignees != NULL && a == NULL)) {
        json_decref(a);
        json_decref(l);
        return cl_fail(err, CL_EINVAL, "issue.assignees is not a list of users with a login");
    }
    if ((labels != NULL && !json_is_array(labels)) || l == NULL) {
        json_decref(a);
        json_decref(l);
        return cl_fail(err, CL_EINVAL, "issue.labels is not a list of labels with a name");
    }
    if (a != NULL)
        json_object_set_new(snap, "assignees", a);
    json_object_set_new(snap, "labels", l);
    return CL_OK;
}

json_t *github_snapshot(const json_t *issue, const char *instance, struct cl_err *err)
{
    const char *body = gh_str(issue, "body");
    json_t *s;
    char idtxt[32];
    long marker;

    if (!json_is_object(issue)) {
        cl_fail(err, CL_EINVAL, "issue is not an object");
        return NULL;
    }
    if (json_object_get(issue, "pull_request") != NULL &&
        !json_is_null(json_object_get(issue, "pull_request")))
        return NULL; /* a pull request: not ours, not an error */
    if (gh_issue_check(issue, err) != CL_OK)
        return NULL;
    snprintf(idtxt, sizeof(idtxt), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(issue, "id")));
    s = json_pack("{s:s, s:s?, s:O, s:o, s:s?, s:s, s:O, s:s, s:s}", "remote_id", idtxt, "node_id",
                  gh_str(issue, "node_id"), "number", json_object_get(issue, "number"), "repo",
                  gh_repo_of(issue), "url", gh_str(issue, "html_url"), "updated_at",
                  gh_str(issue, "updated_at"), "title", json_object_get(issue, "title"), "status",
                  gh_status_of(gh_str(issue, "state"), gh_str(issue, "state_reason")), "body_raw",
                  body != NULL ? body : "");
    if (s == NULL || gh_issue_lists(s, issue, err) != CL_OK) {
        json_decref(s);
        cl_fail(err, CL_EINVAL, "issue could not be read");
        return NULL;
    }
    marker = github_body_parse(s, body, instance);
    if (marker > 0)
        json_object_set_new(s, "marker_action", json_integer(marker));
    return s;
}

static const char *gh_instance(const json_t *job)
{
    return json_string_value(json_object_get(job, "instance"));
}

/* Parses a 2xx issue answer into a snapshot and finishes the op. */
static void gh_finish_issue(struct gh_op *op, const struct http_response *resp)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *issue = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *snap = github_snapshot(issue, gh_instance(op->job), &err);

    json_decref(issue);
    if (snap == NULL) {
        gh_op_fail(op, PROVIDER_RETRY, 0, "GitHub answered %ld with something not an issue: %s",
                   resp->status, err.code != CL_OK ? err.msg : "a pull request");
        return;
    }
    gh_op_ok(op, snap);
    json_decref(snap);
}

static char *gh_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = cl_strdup(e != NULL ? e : "");

    curl_free(e);
    return out;
}

/* ---- create ---- */

static void gh_create_done(struct gh_op *op, const struct http_response *resp)
{
    if (gh_check(op, resp))
        return;
    gh_finish_issue(op, resp);
}

static void github_create(void *self, const json_t *job, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    const json_t *a = json_object_get(job, "action");
    const char *login = json_string_value(json_object_get(a, "owner_login"));
    char *body = github_body_render(a, gh_instance(job));
    json_t *req =
        json_pack("{s:O, s:s, s:[s,s]}", "title", json_object_get(a, "title"), "body", body,
                  "labels", GH_LABEL, json_string_value(json_object_get(a, "kind")));

    op->job = json_incref((json_t *)job);
    if (req == NULL) { /* the job is ours: a title and a kind are always there */
        gh_op_refuse(op, "action has no title or kind to create an issue from");
        free(body);
        return;
    }
    if (login != NULL)
        json_object_set_new(req, "assignees", json_pack("[s]", login));
    gh_repo_request(op, "POST", gh_str(json_object_get(job, "link"), "repo"), "/issues", req,
                    gh_create_done);
    json_decref(req);
    free(body);
}

/* ---- marker search after a crash ---- */

static void gh_marker_page(struct gh_op *op, const struct http_response *resp);

static bool gh_span_has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    size_t i;

    for (i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

/* The URL of rel="next" in a Link header, or NULL. Heap. */
static char *gh_link_next(const struct http_response *resp)
{
    const char *link = http_response_header(resp, "link");
    const char *p = link;

    while (p != NULL && *p != '\0') {
        const char *lt = strchr(p, '<');
        const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
        const char *end;

        if (gt == NULL)
            return NULL;
        end = strchr(gt, ',');
        if (end == NULL)
            end = gt + strlen(gt);
        if (gh_span_has(gt, (size_t)(end - gt), "rel=\"next\""))
            return cl_strndup(lt + 1, (size_t)(gt - lt - 1));
        p = *end == ',' ? end + 1 : end;
    }
    return NULL;
}

static void gh_marker_page(struct gh_op *op, const struct http_response *resp)
{
    json_t *arr;
    json_t *v;
    size_t i;
    char *next;
    json_int_t want = json_integer_value(json_object_get(json_object_get(op->job, "action"), "id"));

    if (gh_check(op, resp))
        return;
    arr = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_array_foreach (arr, i, v) {
        json_t *snap = github_snapshot(v, gh_instance(op->job), NULL);

        if (snap != NULL && json_integer_value(json_object_get(snap, "marker_action")) == want) {
            json_decref(arr);
            gh_op_ok(op, snap);
            json_decref(snap);
            return;
        }
        json_decref(snap);
    }
    json_decref(arr);
    next = gh_link_next(resp);
    if (next == NULL || ++op->pages >= 20) {
        free(next);
        gh_op_ok(op, NULL);
        return;
    }
    gh_request(op, "GET", next, NULL, gh_marker_page);
    free(next);
}

static void github_find_marker(void *self, const json_t *job, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    const json_t *link = json_object_get(job, "link");
    const char *since = json_string_value(json_object_get(link, "creating_since"));
    double t = 0;
    char when[32];
    char *path;
    struct tm tm;
    time_t tt;

    op->job = json_incref((json_t *)job);
    if (since != NULL) {
        /* PostgreSQL's text form: "2026-11-21T12:00:00.123+00:00" (always UTC here) */
        memset(&tm, 0, sizeof(tm));
        if (strptime(since, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
            t = (double)timegm(&tm);
    }
    tt = (time_t)(t > 120 ? t - 120 : 0); /* clock skew margin */
    gmtime_r(&tt, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    path = cl_asprintf("/issues?state=all&labels=%s&sort=created&direction=desc&since=%s"
                       "&per_page=100",
                       GH_LABEL, when);
    gh_repo_request(op, "GET", gh_str(link, "repo"), path, NULL, gh_marker_page);
    free(path);
}

/* ---- fetch (following transfers) ---- */

static void gh_fetch_done(struct gh_op *op, const struct http_response *resp)
{
    const char *loc = http_response_header(resp, "location");

    if (resp->code == CL_OK &&
        (resp->status == 301 || resp->status == 307 || resp->status == 308) && loc != NULL &&
        op->pages++ < 3) {
        log_info("event=github_moved connection=%s from=\"%s\" to=\"%s\"", op->g->cfg->name,
                 op->url, loc);
        gh_request(op, "GET", loc, NULL, gh_fetch_done);
        return;
    }
    if (gh_check(op, resp))
        return;
    gh_finish_issue(op, resp);
}

static void github_fetch(void *self, const json_t *job, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    const json_t *link = json_object_get(job, "link");
    char *path = cl_asprintf("/issues/%" JSON_INTEGER_FORMAT,
                             json_integer_value(json_object_get(link, "number")));

    op->job = json_incref((json_t *)job);
    gh_repo_request(op, "GET", gh_str(link, "repo"), path, NULL, gh_fetch_done);
    free(path);
}

/* ---- update: send only what differs ---- */

static bool gh_same_logins(const json_t *a, const json_t *b)
{
    size_t i;

    if (json_array_size(a) != json_array_size(b))
        return false;
    for (i = 0; i < json_array_size(a); i++) {
        const char *x = json_string_value(json_array_get(a, i));
        const char *y = json_string_value(json_array_get(b, i));

        if (x == NULL || y == NULL || strcasecmp(x, y) != 0)
            return false;
    }
    return true;
}

/* The label set to send: the remote's, with the kind labels replaced. NULL if same. */
static json_t *gh_labels_patch(const json_t *local, const json_t *remote)
{
    const char *kind = gh_str(local, "kind") != NULL ? gh_str(local, "kind") : "corrective";
    const json_t *have = json_object_get(remote, "labels");
    json_t *want = json_array();
    bool has_kind = false;
    bool has_pm = false;
    bool stale = false;
    size_t i;
    json_t *v;

    json_array_foreach (have, i, v) {
        const char *n = json_string_value(v);

        if (n == NULL)
            continue;
        if ((strcmp(n, "corrective") == 0 || strcmp(n, "preventive") == 0) &&
            strcmp(n, kind) != 0) {
            stale = true;
            continue;
        }
        has_kind |= strcmp(n, kind) == 0;
        has_pm |= strcmp(n, GH_LABEL) == 0;
        json_array_append(want, v);
    }
    if (has_kind && has_pm && !stale) {
        json_decref(want);
        return NULL;
    }
    if (!has_kind)
        json_array_append_new(want, json_string(kind));
    if (!has_pm)
        json_array_append_new(want, json_string(GH_LABEL));
    return want;
}

static void gh_patch_state(json_t *patch, const json_t *local, const json_t *remote)
{
    const char *want = json_string_value(json_object_get(local, "status"));
    const char *have = json_string_value(json_object_get(remote, "status"));

    if (want == NULL || have == NULL || strcmp(want, have) == 0)
        return;
    if (strcmp(want, "open") == 0) {
        json_object_set_new(patch, "state", json_string("open"));
        return;
    }
    json_object_set_new(patch, "state", json_string("closed"));
    json_object_set_new(patch, "state_reason",
                        json_string(strcmp(want, "done") == 0 ? "completed" : "not_planned"));
}

static json_t *gh_patch_for(const json_t *job, const json_t *local, const json_t *remote)
{
    json_t *patch = json_object();
    char *body = github_body_render(local, gh_instance(job));
    const char *login = json_string_value(json_object_get(local, "owner_login"));
    const char *owner = json_string_value(json_object_get(local, "owner"));
    json_t *assignees = NULL;
    json_t *labels = gh_labels_patch(local, remote);

    if (!json_equal(json_object_get(local, "title"), json_object_get(remote, "title")))
        json_object_set(patch, "title", json_object_get(local, "title"));
    if (gh_str(remote, "body_raw") == NULL || strcmp(body, gh_str(remote, "body_raw")) != 0)
        json_object_set_new(patch, "body", json_string(body));
    gh_patch_state(patch, local, remote);
    if (owner == NULL)
        assignees = json_array();
    else if (login != NULL)
        assignees = json_pack("[s]", login);
    /* an owner without a GitHub login leaves the assignees alone (a warning says so) */
    if (assignees != NULL && !gh_same_logins(assignees, json_object_get(remote, "assignees")))
        json_object_set(patch, "assignees", assignees);
    if (labels != NULL)
        json_object_set(patch, "labels", labels);
    json_decref(assignees);
    json_decref(labels);
    free(body);
    return patch;
}

static void gh_update_done(struct gh_op *op, const struct http_response *resp)
{
    if (gh_check(op, resp))
        return;
    gh_finish_issue(op, resp);
}

static void gh_op_on_unchanged(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct gh_op *op = container_of(w, struct gh_op, wait);

    (void)loop;
    (void)revents;
    gh_op_ok(op, op->remote);
}

static void github_update(void *self, const json_t *job, const json_t *local, const json_t *remote,
                          provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    json_t *patch = gh_patch_for(job, local, remote);
    char *path;

    op->job = json_incref((json_t *)job);
    if (json_object_size(patch) == 0) {
        /* nothing to write: answer with the remote as fetched, through the loop */
        op->remote = json_incref((json_t *)remote);
        json_decref(patch);
        ev_timer_init(&op->wait, gh_op_on_unchanged, 0, 0);
        ev_timer_start(op->g->loop, &op->wait);
        return;
    }
    path = cl_asprintf("/issues/%" JSON_INTEGER_FORMAT,
                       json_integer_value(json_object_get(remote, "number")));
    gh_repo_request(op, "PATCH", gh_str(remote, "repo"), path, patch, gh_update_done);
    json_decref(patch);
    free(path);
}

/* ---- listings: reconciliation and import ---- */

static void gh_list_page(struct gh_op *op, const struct http_response *resp);

/* "Sat, 21 Nov 2026 12:00:00 GMT" -> "2026-11-21T12:00:00Z"; "" when absent or odd. */
static void gh_date_rfc3339(char *out, size_t n, const char *http_date)
{
    struct tm tm = {0};

    out[0] = '\0';
    if (http_date == NULL || strptime(http_date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return;
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A listed item GitHub described oddly: skipped, and said once in the log. */
static void gh_log_odd(struct gh_op *op, const struct cl_err *err)
{
    char why[300];

    log_warn("event=github_odd_issue connection=%s error=\"%s\"", op->g->cfg->name,
             log_quote(why, sizeof(why), err->msg));
}

/* Asks for the next page, conditionally when the last listing saw that same URL. */
static void gh_list_next(struct gh_op *op, const char *url)
{
    const json_t *stored = json_array_get(op->pages_in, (size_t)op->pages);
    const char *surl = json_string_value(json_object_get(stored, "url"));
    const char *etag = json_string_value(json_object_get(stored, "etag"));

    free(op->if_none_match);
    op->if_none_match =
        surl != NULL && etag != NULL && strcmp(surl, url) == 0 ? cl_strdup(etag) : NULL;
    gh_request(op, "GET", url, NULL, gh_list_page);
}

/* Ends a listing: the result carries every page's URL and ETag, for the next poll. */
static void gh_list_finish(struct gh_op *op)
{
    struct provider_result r = {.outcome = PROVIDER_OK};

    free(op->etag_first);
    op->etag_first = json_dumps(op->acc_pages, JSON_COMPACT);
    r.not_modified = !op->changed;
    r.remotes = op->changed ? op->acc : NULL;
    r.etag = op->etag_first;
    r.listed_at = op->listed_at[0] != '\0' ? op->listed_at : NULL;
    gh_op_finish(op, &r);
}

/* One page of a listing. Every page is asked for with the ETag it had last time, so a
 * quiet repository answers 304 on every page (free) however many pages it spans, and a
 * change on any page is seen. */
static void gh_list_page(struct gh_op *op, const struct http_response *resp)
{
    const json_t *stored = json_array_get(op->pages_in, (size_t)op->pages);
    const char *etag = http_response_header(resp, "etag");
    const char *loc = http_response_header(resp, "location");
    json_t *arr;
    json_t *v;
    size_t i;
    char *next;

    if (resp->code == CL_OK && loc != NULL && op->redirects++ < 3 &&
        (resp->status == 301 || resp->status == 307 || resp->status == 308)) {
        gh_list_next(op, loc); /* a renamed or transferred repository */
        return;
    }
    if (gh_check(op, resp))
        return;
    if (op->pages == 0)
        gh_date_rfc3339(op->listed_at, sizeof(op->listed_at), http_response_header(resp, "date"));
    op->pages++;
    if (resp->status == 304) {
        const char *after = json_string_value(
            json_object_get(json_array_get(op->pages_in, (size_t)op->pages), "url"));

        json_array_append(op->acc_pages, (json_t *)stored);
        if (after != NULL && op->pages < GH_MAX_PAGES)
            gh_list_next(op, after);
        else
            gh_list_finish(op);
        return;
    }
    op->changed = true;
    json_array_append_new(op->acc_pages, json_pack("{s:s, s:s?}", "url", op->url, "etag", etag));
    arr = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_array_foreach (arr, i, v) {
        struct cl_err err = CL_ERR_INIT;
        json_t *snap = github_snapshot(v, NULL, &err);

        if (snap != NULL)
            json_array_append_new(op->acc, snap);
        else if (err.code != CL_OK) /* pull requests are skipped quietly */
            gh_log_odd(op, &err);
    }
    json_decref(arr);
    next = gh_link_next(resp);
    if (next != NULL && op->pages < GH_MAX_PAGES)
        gh_list_next(op, next);
    else
        gh_list_finish(op);
    free(next);
}

static void github_list_since(void *self, const char *repo, const char *cursor, const char *etag,
                              provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    char *since = cursor != NULL ? gh_escape(cursor) : NULL;
    char *rp = gh_repo_path(repo, "/issues?state=all&sort=updated&direction=asc&per_page=100");
    char *path = cl_asprintf("%s%s%s%s", op->g->cfg->api_url, rp != NULL ? rp : "",
                             since != NULL ? "&since=" : "", since != NULL ? since : "");

    op->acc = json_array();
    op->acc_pages = json_array();
    op->repo = cl_strdup(repo);
    /* `etag` holds the pages of the last listing at this cursor: [{"url","etag"}...] */
    op->pages_in = etag != NULL ? json_loads(etag, 0, NULL) : NULL;
    if (!json_is_array(op->pages_in)) {
        json_decref(op->pages_in);
        op->pages_in = NULL;
    }
    if (rp != NULL)
        gh_list_next(op, path);
    else
        gh_op_refuse(op, "\"%.120s\" is not a GitHub repository (%s)", repo,
                     VALID_GITHUB_REPO_RULE);
    free(rp);
    free(since);
    free(path);
}

static void github_list_labelled(void *self, const char *repo, const char *label,
                                 provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    char *lab = gh_escape(label);
    char *path =
        cl_asprintf("/issues?state=all&labels=%s&sort=created&direction=asc&per_page=100", lab);

    op->acc = json_array();
    op->acc_pages = json_array();
    gh_repo_request(op, "GET", repo, path, NULL, gh_list_page);
    free(lab);
    free(path);
}

/* ---- doctor ---- */

static void gh_check_add(json_t *checks, const char *name, bool ok, const char *detail)
{
    json_array_append_new(checks,
                          json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail));
}

static void gh_doctor_finish(struct gh_op *op)
{
    json_t *out = json_object();
    size_t i;
    json_t *c;
    bool ok = true;

    json_array_foreach (op->acc, i, c) {
        ok &= json_is_true(json_object_get(c, "ok"));
    }
    json_object_set_new(out, "ok", json_boolean(ok));
    json_object_set(out, "checks", op->acc);
    gh_op_ok(op, out);
    json_decref(out);
}

static void gh_doctor_labels(struct gh_op *op, const struct http_response *resp)
{
    static const char *const want[] = {GH_LABEL, "corrective", "preventive"};
    json_t *arr = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    struct buf missing;
    size_t i;
    size_t k;
    json_t *v;

    buf_init(&missing);
    for (k = 0; k < CL_ARRAY_LEN(want); k++) {
        bool found = false;

        json_array_foreach (arr, i, v) {
            const char *name = gh_str(v, "name"); /* a proxy may answer anything */

            found |= name != NULL && strcmp(name, want[k]) == 0;
        }
        if (!found)
            buf_printf(&missing, "%s%s", missing.len > 0 ? ", " : "", want[k]);
    }
    if (resp->code != CL_OK || resp->status != 200)
        gh_check_add(op->acc, "labels", false, "could not list the repository's labels");
    else if (missing.len > 0)
        gh_check_add(op->acc, "labels", false, missing.data);
    else
        gh_check_add(op->acc, "labels", true, "postmortem, corrective and preventive exist");
    json_decref(arr);
    buf_dispose(&missing);
    gh_doctor_finish(op);
}

static void gh_doctor_repo(struct gh_op *op, const struct http_response *resp)
{
    json_t *repo = NULL;
    json_t *perm;
    char detail[200];

    if (resp->code != CL_OK || resp->status != 200) {
        snprintf(detail, sizeof(detail), "cannot read %s (%ld): wrong name, or the %s", op->repo,
                 resp->status,
                 op->g->app_key != NULL ? "App is not installed on it" : "token cannot see it");
        gh_check_add(op->acc, "repository", false, detail);
        gh_doctor_finish(op);
        return;
    }
    repo = json_loadb(resp->body, resp->body_len, 0, NULL);
    perm = json_object_get(repo, "permissions");
    gh_check_add(op->acc, "repository", true, op->repo);
    gh_check_add(op->acc, "issues enabled", !json_is_false(json_object_get(repo, "has_issues")),
                 json_is_false(json_object_get(repo, "has_issues")) ? "issues are disabled"
                                                                    : "issues are on");
    if (perm != NULL)
        gh_check_add(op->acc, "write access", json_is_true(json_object_get(perm, "push")),
                     json_is_true(json_object_get(perm, "push"))
                         ? "can create, edit, close and assign issues"
                         : "no push access: assignees and labels would be silently dropped; "
                           "grant Issues: read and write");
    json_decref(repo);
    gh_repo_request(op, "GET", op->repo, "/labels?per_page=100", NULL, gh_doctor_labels);
}

static void gh_doctor_auth(struct gh_op *op, const struct http_response *resp)
{
    char detail[200];
    bool ok = resp->code == CL_OK && resp->status == 200;

    if (op->g->app_key != NULL)
        snprintf(detail, sizeof(detail), "GitHub App %s, installation %s: token issued",
                 op->g->cfg->app_id, op->g->cfg->app_installation_id);
    else if (ok)
        snprintf(detail, sizeof(detail), "token accepted");
    else
        snprintf(detail, sizeof(detail), "token refused (%ld): set github_token", resp->status);
    gh_check_add(op->acc, "credentials", ok || op->g->app_key != NULL, detail);
    if (!ok && op->g->app_key == NULL) {
        gh_doctor_finish(op);
        return;
    }
    gh_repo_request(op, "GET", op->repo, "", NULL, gh_doctor_repo);
}

static void github_doctor(void *self, const char *repo, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);

    op->acc = json_array();
    op->repo = cl_strdup(repo);
    /* an App's installation token cannot read /user: the repository check proves it */
    gh_request(op, "GET", op->g->app_key != NULL ? "/rate_limit" : "/user", NULL, gh_doctor_auth);
}

/* ---- webhooks ---- */

static bool github_verify_hook(void *self, const char *signature, const char *body, size_t len)
{
    struct github *g = self;

    return crypto_verify_sha256_header(signature, g->cfg->webhook_secret, body, len);
}

/* The repository a delivery is about: repository.full_name, else the issue's. */
static void gh_hook_repo(struct provider_hook *out, const json_t *root, const json_t *issue)
{
    const char *full = gh_str(json_object_get(root, "repository"), "full_name");
    json_t *of_issue = gh_repo_of(issue);
    const char *r = full != NULL && valid_github_repo(full) ? full : json_string_value(of_issue);

    snprintf(out->scope, sizeof(out->scope), "%s", r != NULL ? r : "");
    json_decref(of_issue);
}

/* The issues actions that can change what closeloop syncs (title, body, state,
 * assignees) or where the issue is; the rest, and actions GitHub adds later, are
 * ignored and not stored. */
static bool gh_hook_relevant(const char *action)
{
    static const char *const relevant[] = {"opened",   "edited",     "closed",     "reopened",
                                           "assigned", "unassigned", "transferred"};
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(relevant); i++)
        if (strcmp(action, relevant[i]) == 0)
            return true;
    return false;
}

static int gh_hook_issues(struct provider_hook *out, json_t *root, struct cl_err *err)
{
    const char *action = gh_str(root, "action");
    json_t *issue = json_object_get(root, "issue");
    json_t *id = json_object_get(issue, "id");
    const char *updated = gh_str(issue, "updated_at");

    if (action == NULL || !json_is_integer(id))
        return cl_fail(err, CL_EINVAL, "issues delivery without action or issue.id");
    snprintf(out->old_id, sizeof(out->old_id), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    gh_hook_repo(out, root, issue);
    if (updated == NULL || !valid_timestamp(updated))
        return cl_fail(err, CL_EINVAL, "issue.updated_at is not a timestamp");
    snprintf(out->updated_at, sizeof(out->updated_at), "%s", updated);
    if (strcmp(action, "deleted") == 0) {
        out->kind = PROVIDER_HOOK_DELETED;
        return CL_OK;
    }
    if (!gh_hook_relevant(action)) {
        out->kind = PROVIDER_HOOK_IGNORE; /* pinned, labeled, locked, new actions... */
        return CL_OK;
    }
    if (strcmp(action, "transferred") == 0) {
        out->remote = github_snapshot(
            json_object_get(json_object_get(root, "changes"), "new_issue"), NULL, err);
        out->kind = out->remote != NULL ? PROVIDER_HOOK_MOVED : PROVIDER_HOOK_IGNORE;
        return err->code;
    }
    out->remote = github_snapshot(issue, NULL, err);
    out->kind = out->remote != NULL ? PROVIDER_HOOK_APPLY : PROVIDER_HOOK_IGNORE;
    return err->code;
}

int github_parse_hook(void *self, const char *event, const char *body, size_t len,
                      struct provider_hook *out, struct cl_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *sender = gh_str(json_object_get(root, "sender"), "login");
    int rc = CL_OK;

    (void)self;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(root)) {
        json_decref(root);
        return cl_fail(err, CL_EINVAL, "delivery is not a JSON object: %s",
                       root == NULL ? jerr.text : "another JSON value");
    }
    snprintf(out->actor, sizeof(out->actor), "%s",
             sender != NULL && sender[0] != '\0' ? sender : "github");
    if (strcmp(event, "ping") == 0)
        out->kind = PROVIDER_HOOK_PING;
    else if (strcmp(event, "issues") == 0)
        rc = gh_hook_issues(out, root, err);
    else
        out->kind = PROVIDER_HOOK_IGNORE;
    json_decref(root);
    if (rc != CL_OK) {
        json_decref(out->remote);
        out->remote = NULL;
    }
    return rc;
}

/* ---- state ---- */

/* Epoch seconds as an RFC 3339 UTC string. */
static json_t *gh_time_json(double epoch)
{
    char out[32];
    time_t t = (time_t)epoch;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(out);
}

static void github_describe(void *self, json_t *into)
{
    struct github *g = self;
    double now = ev_now(g->loop);

    json_object_set_new(into, "api_url", json_string(g->cfg->api_url));
    json_object_set_new(into, "auth", json_string(g->app_key != NULL ? "app" : "token"));
    json_object_set_new(into, "state",
                        json_string(g->auth_failed          ? "auth_failed"
                                    : g->paused_until > now ? "paused"
                                                            : "ok"));
    json_object_set_new(into, "rate_limit",
                        g->rate_remaining < 0
                            ? json_null()
                            : json_pack("{s:I, s:I, s:o}", "limit", (json_int_t)g->rate_limit,
                                        "remaining", (json_int_t)g->rate_remaining, "reset_at",
                                        gh_time_json(g->rate_reset)));
    json_object_set_new(into, "paused_until",
                        g->paused_until > now
                            ? gh_time_json((double)time(NULL) + (g->paused_until - now))
                            : json_null());
    json_object_set_new(into, "pause_reason",
                        g->paused_until > now ? json_string(g->pause_reason) : json_null());
    json_object_set_new(into, "last_error",
                        g->last_error[0] != '\0' ? json_string(g->last_error) : json_null());
    json_object_set_new(into, "requests", json_integer((json_int_t)g->requests));
}

static bool github_healthy(void *self)
{
    return !((struct github *)self)->auth_failed;
}

static void github_free(void *self)
{
    struct github *g = self;

    if (g == NULL)
        return;
    http_cancel(g->token_req);
    while (g->ops != NULL)
        gh_op_free(g->ops); /* no callbacks: the sync core is going away too */
    if (g->token != NULL)
        memset(g->token, 0, strlen(g->token));
    free(g->token);
    EVP_PKEY_free(g->app_key);
    free(g);
}

int github_new(struct github **out, struct ev_loop *loop, struct http_client *http,
               const struct conf_github *cfg, struct cl_err *err)
{
    struct github *g = cl_calloc(1, sizeof(*g));

    g->loop = loop;
    g->http = http;
    g->cfg = cfg;
    g->rate_remaining = -1;
    if (cfg->app_id[0] != '\0') {
        if (cfg->app_key_file[0] == '\0' || cfg->app_installation_id[0] == '\0') {
            free(g);
            return cl_fail(err, CL_EINVAL,
                           "github connection %s: an App needs app_key_file and "
                           "app_installation_id",
                           cfg->name);
        }
        if (jwt_key_load(&g->app_key, cfg->app_key_file, err) != CL_OK) {
            free(g);
            return err->code;
        }
    } else {
        g->token = cl_strdup(cfg->token);
    }
    *out = g;
    return CL_OK;
}

const struct provider_ops github_ops = {
    .tracker = "github",
    .create = github_create,
    .find_marker = github_find_marker,
    .fetch = github_fetch,
    .update = github_update,
    .list_since = github_list_since,
    .list_labelled = github_list_labelled,
    .doctor = github_doctor,
    .verify_hook = github_verify_hook,
    .parse_hook = github_parse_hook,
    .describe = github_describe,
    .healthy = github_healthy,
    .free = github_free,
};
