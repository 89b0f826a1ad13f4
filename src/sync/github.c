/* strptime */
#define _XOPEN_SOURCE 700
#include "closeloop/sync/github.h"

#include "closeloop/sync/github_map.h"
#include "closeloop/sync/remote.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/crypto.h"
#include "closeloop/util/jwt.h"
#include "closeloop/util/log.h"
#include "closeloop/util/valid.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GH_API_VERSION     "2022-11-28"
#define GH_MAX_PAGES       1000
#define GH_AUTH_PAUSE      300.0
#define GH_SECONDARY_PAUSE 60.0
#define GH_TOKEN_MARGIN    300.0

/* The keys of a GitHub connection, on top of the neutral ones (conf.h). */
static const struct conf_key gh_keys[] = {
    {"api_url", "https://api.github.com", false},
    {"token", "", true},
    {"app_id", "", false},
    {"app_key_file", "", false},
    {"app_installation_id", "", false},
};
static const char *const gh_aliases[] = {"owners", "scopes", NULL};

const struct conf_tracker github_conf = {"github", gh_keys, CL_ARRAY_LEN(gh_keys), gh_aliases};

struct github {
    struct ev_loop *loop;
    struct http_client *http;
    const struct conf_conn *cfg;
    struct remote_config rcfg;
    struct remote *remote;
    const char *api_url;      /* borrowed from cfg */
    EVP_PKEY *app_key;        /* GitHub App mode when non-NULL */
    char *token;              /* the bearer in use: the PAT or an installation token */
    double token_expires;     /* ev_now() time; 0 for a PAT */
    struct gh_op *token_wait; /* ops waiting for an installation token */
    bool token_fetching;
    struct http_request *token_req; /* the installation-token request in flight */
};

/* One provider operation: the shared part first, then what GitHub's flows keep. */
struct gh_op {
    struct remote_op base;
    struct github *g;
    struct gh_op *next_waiting;
    long long action_id; /* marker search: the action whose issue is looked for */
    char *instance;      /* the markers to read */
    json_t *local;       /* update: what closeloop holds */
    json_t *remote;      /* update: the snapshot it was computed against */
    json_t *acc;         /* listings: snapshots; doctor: checks */
    json_t *acc_pages;   /* listings: [{"url","etag"}] of this listing's pages */
    json_t *pages_in;    /* listings: the same from the last listing, or NULL */
    bool changed;        /* a page answered 200 */
    char listed_at[32];  /* the first page's Date, RFC 3339 */
    char *scope;
    char *poll_state;
    int pages;
    int redirects;
    /* searches: what an item found is (a new reference), or NULL */
    json_t *(*match)(struct gh_op *op, const json_t *item);
};

static const struct remote_hooks gh_hooks;

/* ---- operations ---- */

static void gh_op_dispose(struct remote_op *base)
{
    struct gh_op *op = (struct gh_op *)base;

    json_decref(op->local);
    json_decref(op->remote);
    json_decref(op->acc);
    json_decref(op->acc_pages);
    json_decref(op->pages_in);
    free(op->instance);
    free(op->scope);
    free(op->poll_state);
}

static struct gh_op *gh_op_new(struct github *g, provider_done_fn done, void *arg)
{
    struct gh_op *op =
        (struct gh_op *)remote_op_new(g->remote, sizeof(struct gh_op), gh_op_dispose, done, arg);

    op->g = g;
    return op;
}

/* "/repos/OWNER/NAME" + suffix, each segment percent-encoded, or NULL when repo is not
 * a valid owner/repo: nothing a caller or GitHub supplied can reach another path. */
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
    oe = curl_easy_escape(NULL, owner, 0);
    ne = curl_easy_escape(NULL, slash + 1, 0);
    out = oe != NULL && ne != NULL ? cl_asprintf("/repos/%s/%s%s", oe, ne, suffix) : NULL;
    curl_free(oe);
    curl_free(ne);
    free(owner);
    return out;
}

/* Queues `method` on repo's `suffix` path, or refuses the op when repo is not valid. */
static void gh_repo_request(struct gh_op *op, const char *method, const char *repo,
                            const char *suffix, const json_t *body, remote_step_fn step)
{
    char *path = gh_repo_path(repo, suffix);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    if (path == NULL)
        remote_op_refuse(&op->base, "\"%.120s\" is not a GitHub repository (%s)",
                         repo != NULL ? repo : "", VALID_GITHUB_REPO_RULE);
    else
        remote_request(&op->base, method, path, text, NULL, step);
    free(path);
    free(text);
}

/* ---- answers ---- */

/* GitHub's message for an error answer: errors[0].message, else message. */
static void gh_error_text(char *out, size_t n, const struct http_response *resp)
{
    json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *first = json_array_get(json_object_get(root, "errors"), 0);
    const char *msg = json_string_value(json_object_get(root, "message"));
    const char *detail = json_string_value(json_object_get(first, "message"));
    const char *code = json_string_value(json_object_get(first, "code"));

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
static bool gh_limited(const struct github *g, const struct http_response *resp, double *wait)
{
    double retry = remote_header_num(resp, "retry-after", -1);
    double now_epoch = (double)time(NULL);
    double reset = remote_rate_reset(g->remote);

    if (resp->status != 403 && resp->status != 429)
        return false;
    if (retry >= 0) {
        *wait = retry;
        return true;
    }
    if (remote_header_num(resp, "x-ratelimit-remaining", -1) == 0) {
        *wait = reset > now_epoch ? reset - now_epoch + 1 : 60;
        return true;
    }
    if (resp->status == 429 || strstr(resp->body, "rate limit") != NULL) {
        *wait = GH_SECONDARY_PAUSE;
        return true;
    }
    return false;
}

static void gh_auth_refused(struct github *g)
{
    remote_set_auth_failed(g->remote, true);
    free(g->token);
    g->token = g->app_key != NULL ? NULL : cl_strdup(conf_conn_get(g->cfg, "token"));
    g->token_expires = 0;
    remote_pause(g->remote, GH_AUTH_PAUSE, "credentials refused (401)");
}

/* Turns a non-2xx/304 answer into the op's failure. True when it failed the op. */
static bool gh_check(struct gh_op *op, const struct http_response *resp)
{
    struct github *g = op->g;
    char why[200];
    double wait = 0;

    if (resp->code != CL_OK) {
        remote_op_fail(&op->base, PROVIDER_RETRY, 0, "GitHub unreachable: %s", resp->error);
        return true;
    }
    if ((resp->status >= 200 && resp->status < 300) || resp->status == 304)
        return false;
    gh_error_text(why, sizeof(why), resp);
    if (gh_limited(g, resp, &wait)) {
        remote_pause(g->remote, wait, why);
        remote_op_fail(&op->base, PROVIDER_LIMITED, wait, "rate limited: %s", why);
    } else if (resp->status == 401) {
        gh_auth_refused(g);
        remote_op_fail(&op->base, PROVIDER_AUTH, GH_AUTH_PAUSE, "%s: check the token or App", why);
    } else if (resp->status == 410) {
        remote_op_fail(&op->base, PROVIDER_GONE, 0, "%s", why);
    } else if (resp->status == 404) {
        /* deleted issues answer 410; 404 may only mean the credentials lost access, so
         * the link is kept and the push retried (with back-off) rather than broken */
        remote_op_fail(&op->base, PROVIDER_RETRY, 0,
                       "%s: not found, or not visible to these credentials", why);
    } else if (resp->status >= 500 || resp->status == 408) {
        remote_op_fail(&op->base, PROVIDER_RETRY, 0, "%s", why);
    } else {
        remote_op_fail(&op->base, PROVIDER_REJECTED, 0, "%s", why);
    }
    return true;
}

/* Parses a 2xx issue answer into a snapshot and finishes the op. */
static void gh_finish_issue(struct gh_op *op, const struct http_response *resp)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *issue = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *snap = github_map_snapshot(issue, op->instance, &err);

    json_decref(issue);
    if (snap == NULL) {
        remote_op_fail(&op->base, PROVIDER_RETRY, 0,
                       "GitHub answered %ld with something not an issue: %s", resp->status,
                       err.code != CL_OK ? err.msg : "a pull request");
        return;
    }
    remote_op_ok(&op->base, snap);
    json_decref(snap);
}

static void gh_issue_done(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;

    if (!gh_check(op, resp))
        gh_finish_issue(op, resp);
}

/* ---- hooks for the shared request life cycle ---- */

static int gh_headers(void *prov, const struct remote_op *op, char **lines, int room)
{
    struct github *g = prov;

    (void)op;
    (void)room;
    lines[0] = cl_asprintf("Authorization: Bearer %s", g->token != NULL ? g->token : "");
    lines[1] = cl_strdup("Accept: application/vnd.github+json");
    lines[2] = cl_strdup("X-GitHub-Api-Version: " GH_API_VERSION);
    return 3;
}

static void gh_token_fetch(struct github *g);

/* An App's installation token must be fresh; ops wait for it in a list. */
static bool gh_ready(void *prov, struct remote_op *base)
{
    struct github *g = prov;
    struct gh_op *op = (struct gh_op *)base;

    if (g->app_key == NULL ||
        (g->token != NULL && g->token_expires - GH_TOKEN_MARGIN >= ev_now(g->loop)))
        return true;
    op->next_waiting = g->token_wait;
    g->token_wait = op;
    gh_token_fetch(g);
    return false;
}

static void gh_observe(void *prov, const struct http_response *resp)
{
    struct github *g = prov;
    double remaining = remote_header_num(resp, "x-ratelimit-remaining", -1);

    if (remaining >= 0)
        remote_note_rate(g->remote, (long)remote_header_num(resp, "x-ratelimit-limit", 0),
                         (long)remaining, remote_header_num(resp, "x-ratelimit-reset", 0));
    if (resp->code == CL_OK && resp->status != 401)
        remote_set_auth_failed(g->remote, false);
}

static const struct remote_hooks gh_hooks = {gh_headers, gh_ready, gh_observe};

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
            remote_op_resume(&op->base);
        else
            remote_op_fail(&op->base, auth ? PROVIDER_AUTH : PROVIDER_RETRY,
                           auth ? GH_AUTH_PAUSE : 10, "GitHub App token: %s", why);
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

static void gh_token_failed(struct github *g, const struct http_response *resp)
{
    char why[200];
    bool auth = resp->code == CL_OK && (resp->status == 401 || resp->status == 404);

    if (resp->code != CL_OK)
        snprintf(why, sizeof(why), "%s", resp->error);
    else
        gh_error_text(why, sizeof(why), resp);
    remote_set_auth_failed(g->remote, auth);
    remote_pause(g->remote, auth ? GH_AUTH_PAUSE : 10, why);
    gh_token_release(g, false, auth, why);
}

static void gh_token_on_response(const struct http_response *resp, void *arg)
{
    struct github *g = arg;
    json_t *root;
    const char *tok;
    double expires;

    g->token_req = NULL;
    if (resp->code != CL_OK || resp->status != 201) {
        gh_token_failed(g, resp);
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
    remote_set_auth_failed(g->remote, false);
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
    if (jwt_app_assertion(&jwt, g->app_key, conf_conn_get(g->cfg, "app_id"), time(NULL), &err) !=
        CL_OK) {
        gh_token_release(g, false, true, err.msg);
        return;
    }
    g->token_fetching = true;
    auth = cl_asprintf("Authorization: Bearer %s", jwt);
    url = cl_asprintf("%s/app/installations/%s/access_tokens", g->api_url,
                      conf_conn_get(g->cfg, "app_installation_id"));
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

/* ---- create, fetch, update ---- */

static void github_create(void *self, const struct provider_job *job, provider_done_fn done,
                          void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    json_t *req = github_map_create(job->action, job->instance);

    op->instance = cl_strdup(job->instance);
    if (req == NULL) /* the job is ours: a title and a kind are always there */
        remote_op_refuse(&op->base, "action has no title or kind to create an issue from");
    else
        gh_repo_request(op, "POST", job->scope, "/issues", req, gh_issue_done);
    json_decref(req);
}

/* A Location to follow (a transferred issue, a renamed repository), or NULL. */
static const char *gh_moved_to(struct gh_op *op, const struct http_response *resp)
{
    const char *loc = http_response_header(resp, "location");

    if (resp->code != CL_OK || loc == NULL || op->redirects >= 3 ||
        (resp->status != 301 && resp->status != 307 && resp->status != 308))
        return NULL;
    op->redirects++;
    return loc;
}

static void gh_fetch_done(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    const char *loc = gh_moved_to(op, resp);
    char from[300];

    if (loc != NULL) {
        log_info("event=github_moved connection=%s from=\"%s\" to=\"%s\"", op->g->cfg->name,
                 log_quote(from, sizeof(from), remote_op_url(base)), loc);
        remote_request(base, "GET", loc, NULL, NULL, gh_fetch_done);
        return;
    }
    gh_issue_done(base, resp);
}

/* "/issues/N" for a key that is an issue number; NULL otherwise. */
static char *gh_issue_suffix(const char *key)
{
    long n;

    if (key == NULL || cl_parse_long(&n, key, 1, 2147483647) != CL_OK)
        return NULL;
    return cl_asprintf("/issues/%ld", n);
}

static void github_fetch(void *self, const struct provider_job *job, provider_done_fn done,
                         void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    char *suffix = gh_issue_suffix(job->remote_key);

    op->instance = cl_strdup(job->instance);
    if (suffix == NULL)
        remote_op_refuse(&op->base, "\"%.40s\" is not a GitHub issue number",
                         job->remote_key != NULL ? job->remote_key : "");
    else
        gh_repo_request(op, "GET", job->scope, suffix, NULL, gh_fetch_done);
    free(suffix);
}

static void github_update(void *self, const struct provider_job *job, const json_t *local,
                          const json_t *remote, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    json_t *patch = github_map_patch(local, remote, job->instance);
    char *suffix = gh_issue_suffix(json_string_value(json_object_get(remote, "key")));

    op->instance = cl_strdup(job->instance);
    if (json_object_size(patch) == 0)
        remote_op_ok_later(&op->base, (json_t *)remote); /* nothing to write */
    else if (suffix == NULL)
        remote_op_refuse(&op->base, "the issue to update has no number");
    else
        gh_repo_request(op, "PATCH", json_string_value(json_object_get(remote, "scope")), suffix,
                        patch, gh_issue_done);
    json_decref(patch);
    free(suffix);
}

/* ---- listings: reconciliation, import, the marker search ---- */

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
    const char *p = http_response_header(resp, "link");

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

/* "Sat, 21 Nov 2026 12:00:00 GMT" -> "2026-11-21T12:00:00Z"; "" when absent or odd. */
static void gh_list_page(struct remote_op *base, const struct http_response *resp);

/* Asks for the next page, conditionally when the last listing saw that same URL. */
static void gh_list_next(struct gh_op *op, const char *url)
{
    const json_t *stored = json_array_get(op->pages_in, (size_t)op->pages);
    const char *surl = json_string_value(json_object_get(stored, "url"));
    const char *etag = json_string_value(json_object_get(stored, "etag"));
    char *inm = surl != NULL && etag != NULL && strcmp(surl, url) == 0
                    ? cl_asprintf("If-None-Match: %s", etag)
                    : NULL;

    remote_request(&op->base, "GET", url, NULL, inm, gh_list_page);
    free(inm);
}

/* Ends a listing: the result carries every page's URL and ETag, for the next poll. */
static void gh_list_finish(struct gh_op *op)
{
    struct provider_result r = {.outcome = PROVIDER_OK};

    free(op->poll_state);
    op->poll_state = json_dumps(op->acc_pages, JSON_COMPACT);
    r.not_modified = !op->changed;
    r.remotes = op->changed ? op->acc : NULL;
    r.poll_state = op->poll_state;
    r.listed_at = op->listed_at[0] != '\0' ? op->listed_at : NULL;
    remote_op_finish(&op->base, &r);
}

/* A listed item GitHub described oddly: skipped, and said once in the log. */
static void gh_log_odd(const struct gh_op *op, const struct cl_err *err)
{
    char why[300];

    log_warn("event=github_odd_issue connection=%s error=\"%s\"", op->g->cfg->name,
             log_quote(why, sizeof(why), err->msg));
}

static void gh_list_take(struct gh_op *op, const struct http_response *resp)
{
    json_t *arr = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *v;
    size_t i;

    json_array_foreach (arr, i, v) {
        struct cl_err err = CL_ERR_INIT;
        json_t *snap = github_map_snapshot(v, NULL, &err);

        if (snap != NULL)
            json_array_append_new(op->acc, snap);
        else if (err.code != CL_OK) /* pull requests are skipped quietly */
            gh_log_odd(op, &err);
    }
    json_decref(arr);
}

/* One page of a listing. Every page is asked for with the ETag it had last time, so a
 * quiet repository answers 304 on every page (free) however many pages it spans, and a
 * change on any page is seen. */
static void gh_list_page(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    const char *loc = gh_moved_to(op, resp);
    char *next;

    if (loc != NULL) {
        gh_list_next(op, loc); /* a renamed or transferred repository */
        return;
    }
    if (gh_check(op, resp))
        return;
    if (op->pages == 0)
        remote_response_date(op->listed_at, sizeof(op->listed_at), resp);
    if (resp->status == 304) {
        const char *after = json_string_value(
            json_object_get(json_array_get(op->pages_in, (size_t)op->pages + 1), "url"));

        json_array_append(op->acc_pages, json_array_get(op->pages_in, (size_t)op->pages++));
        if (after != NULL && op->pages < GH_MAX_PAGES)
            gh_list_next(op, after);
        else
            gh_list_finish(op);
        return;
    }
    op->pages++;
    op->changed = true;
    json_array_append_new(op->acc_pages, json_pack("{s:s, s:s?}", "url", remote_op_url(base),
                                                   "etag", http_response_header(resp, "etag")));
    gh_list_take(op, resp);
    next = gh_link_next(resp);
    if (next != NULL && op->pages < GH_MAX_PAGES)
        gh_list_next(op, next);
    else
        gh_list_finish(op);
    free(next);
}

static struct gh_op *gh_listing_new(struct github *g, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(g, done, arg);

    op->acc = json_array();
    op->acc_pages = json_array();
    return op;
}

static void github_list_since(void *self, const char *scope, const char *cursor,
                              const char *poll_state, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_listing_new(self, done, arg);
    char *since = cursor != NULL ? curl_easy_escape(NULL, cursor, 0) : NULL;
    char *rp = gh_repo_path(scope, "/issues?state=all&sort=updated&direction=asc&per_page=100");
    char *url = cl_asprintf("%s%s%s%s", op->g->api_url, rp != NULL ? rp : "",
                            since != NULL ? "&since=" : "", since != NULL ? since : "");

    /* poll_state holds the pages of the last listing at this cursor: [{"url","etag"}...] */
    op->pages_in = poll_state != NULL ? json_loads(poll_state, 0, NULL) : NULL;
    if (!json_is_array(op->pages_in)) {
        json_decref(op->pages_in);
        op->pages_in = NULL;
    }
    if (rp != NULL)
        gh_list_next(op, url);
    else
        remote_op_refuse(&op->base, "\"%.120s\" is not a GitHub repository (%s)", scope,
                         VALID_GITHUB_REPO_RULE);
    curl_free(since);
    free(rp);
    free(url);
}

static void github_list_import(void *self, const char *scope, const char *label,
                               provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_listing_new(self, done, arg);
    char *lab = curl_easy_escape(NULL, label, 0);
    char *suffix =
        cl_asprintf("/issues?state=all&labels=%s&sort=created&direction=asc&per_page=100",
                    lab != NULL ? lab : "");

    gh_repo_request(op, "GET", scope, suffix, NULL, gh_list_page);
    curl_free(lab);
    free(suffix);
}

/* The marker search's test of one listed issue: its snapshot when it is the action's. */
static json_t *gh_marker_match(struct gh_op *op, const json_t *issue)
{
    json_t *snap = github_map_snapshot(issue, op->instance, NULL);

    if (snap != NULL && json_integer_value(json_object_get(snap, "marker_action")) == op->action_id)
        return snap;
    json_decref(snap);
    return NULL;
}

/* A page of a search listing (issues, comments): the op ends with the first item
 * op->match takes, or with NULL after the last page (at most 20). */
static void gh_search_page(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    json_t *arr;
    json_t *v;
    size_t i;
    char *next;

    if (gh_check(op, resp))
        return;
    arr = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_array_foreach (arr, i, v) {
        json_t *hit = op->match(op, v);

        if (hit != NULL) {
            json_decref(arr);
            remote_op_ok(base, hit);
            json_decref(hit);
            return;
        }
    }
    json_decref(arr);
    next = gh_link_next(resp);
    if (next == NULL || ++op->pages >= 20)
        remote_op_ok(base, NULL);
    else
        remote_request(base, "GET", next, NULL, NULL, gh_search_page);
    free(next);
}

/* GitHub's `since` form of a PostgreSQL timestamp ("2026-11-21T12:00:00.123+00:00",
 * always UTC here) less `margin` seconds of clock skew; the epoch when absent or odd. */
static void gh_since(char *out, size_t n, const char *pg_time, double margin)
{
    double t = 0;
    struct tm tm;
    time_t tt;

    if (pg_time != NULL) {
        memset(&tm, 0, sizeof(tm));
        if (strptime(pg_time, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
            t = (double)timegm(&tm);
    }
    tt = (time_t)(t > margin ? t - margin : 0);
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The issues carrying our label created since the first create attempt (less a clock
 * skew margin), newest first, scanned for the action's marker. */
static void github_find_marker(void *self, const struct provider_job *job, provider_done_fn done,
                               void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    char when[32];
    char *suffix;

    op->instance = cl_strdup(job->instance);
    op->action_id = json_integer_value(json_object_get(job->action, "id"));
    gh_since(when, sizeof(when), job->creating_since, 120);
    suffix = cl_asprintf("/issues?state=all&labels=%s&sort=created&direction=desc&since=%s"
                         "&per_page=100",
                         GITHUB_MAP_LABEL, when);
    op->match = gh_marker_match;
    gh_repo_request(op, "GET", job->scope, suffix, NULL, gh_search_page);
    free(suffix);
}

/* ---- comments ---- */

/* The hidden line that marks a comment as closeloop's: HTML comments do not render. */
static char *gh_comment_mark(const char *marker)
{
    return cl_asprintf("<!-- closeloop:%s -->", marker);
}

/* {"id", "url"} of a comment answer, or NULL when it is not one (id not an integer). */
static json_t *gh_comment_result(const json_t *c)
{
    const json_t *id = json_object_get(c, "id");
    const char *url = json_string_value(json_object_get(c, "html_url"));
    char text[32];

    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return NULL;
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    return json_pack("{s:s, s:s?}", "id", text, "url", url);
}

static void gh_comment_done(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    json_t *root;
    json_t *res;

    if (gh_check(op, resp))
        return;
    root = json_loadb(resp->body, resp->body_len, 0, NULL);
    res = gh_comment_result(root);
    json_decref(root);
    if (res == NULL) {
        /* it may be posted: the retry looks for the marker before posting again */
        remote_op_fail(base, PROVIDER_RETRY, 0, "GitHub answered %ld with something not a comment",
                       resp->status);
        return;
    }
    remote_op_ok(base, res);
    json_decref(res);
}

/* A GitHub login as people.github_login allows: what may follow an @ in a comment. */
static bool gh_login_valid(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 39 && s[0] != '-' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* "/issues/N/comments" + query for the job's issue, or NULL (refusing the op). */
static char *gh_comments_suffix(struct gh_op *op, const struct provider_job *job,
                                const struct provider_comment *c, const char *query)
{
    char *issue = gh_issue_suffix(job->remote_key);
    char *out = NULL;

    if (issue == NULL)
        remote_op_refuse(&op->base, "\"%.40s\" is not a GitHub issue number",
                         job->remote_key != NULL ? job->remote_key : "");
    else if (!remote_marker_valid(c->marker))
        remote_op_refuse(&op->base, "the comment's marker is not valid");
    else
        out = cl_asprintf("%s/comments%s", issue, query);
    free(issue);
    return out;
}

static void github_comment(void *self, const struct provider_job *job,
                           const struct provider_comment *c, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    const char *login = json_string_value(json_object_get(c->mention, "github"));
    char *suffix = gh_comments_suffix(op, job, c, "");
    char *mark;
    char *text;
    json_t *req;

    if (suffix == NULL)
        return;
    mark = gh_comment_mark(c->marker);
    if (login != NULL && gh_login_valid(login))
        text = cl_asprintf("@%s %s\n\n%s", login, c->body, mark);
    else
        text = cl_asprintf("%s\n\n%s", c->body, mark);
    req = json_pack("{s:s}", "body", text);
    gh_repo_request(op, "POST", job->scope, suffix, req, gh_comment_done);
    json_decref(req);
    free(text);
    free(mark);
    free(suffix);
}

/* The comment search's test of one listed comment: {"id", "url"} when it has the mark. */
static json_t *gh_comment_match(struct gh_op *op, const json_t *c)
{
    const char *body = json_string_value(json_object_get(c, "body"));

    return body != NULL && strstr(body, op->scope) != NULL ? gh_comment_result(c) : NULL;
}

/* The issue's comments updated since the comment was queued (less a clock skew margin),
 * scanned for its marker. */
static void github_find_comment(void *self, const struct provider_job *job,
                                const struct provider_comment *c, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);
    char when[32];
    char *query;
    char *suffix;

    gh_since(when, sizeof(when), c->since, 300);
    query = cl_asprintf("?since=%s&per_page=100", when);
    suffix = gh_comments_suffix(op, job, c, query);
    free(query);
    if (suffix == NULL)
        return;
    op->scope = gh_comment_mark(c->marker); /* what the bodies are searched for */
    op->match = gh_comment_match;
    gh_repo_request(op, "GET", job->scope, suffix, NULL, gh_search_page);
    free(suffix);
}

/* ---- doctor ---- */

static void gh_doctor_labels(struct remote_op *base, const struct http_response *resp)
{
    static const char *const want[] = {GITHUB_MAP_LABEL, "corrective", "preventive"};
    struct gh_op *op = (struct gh_op *)base;
    json_t *arr = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    struct buf missing;
    size_t i;
    size_t k;
    json_t *v;

    buf_init(&missing);
    for (k = 0; k < CL_ARRAY_LEN(want); k++) {
        bool found = false;

        json_array_foreach (arr, i, v) {
            const char *name = json_string_value(json_object_get(v, "name"));

            found |= name != NULL && strcmp(name, want[k]) == 0; /* a proxy may answer anything */
        }
        if (!found)
            buf_printf(&missing, "%s%s", missing.len > 0 ? ", " : "", want[k]);
    }
    if (resp->code != CL_OK || resp->status != 200)
        remote_check(op->acc, "labels", false, "could not list the repository's labels");
    else if (missing.len > 0)
        remote_check(op->acc, "labels", false, "%s", missing.data);
    else
        remote_check(op->acc, "labels", true, "postmortem, corrective and preventive exist");
    json_decref(arr);
    buf_dispose(&missing);
    remote_op_checks_done(&op->base, op->acc);
}

static void gh_doctor_repo(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    json_t *repo;
    json_t *perm;
    bool push;
    char detail[200];

    if (resp->code != CL_OK || resp->status != 200) {
        snprintf(detail, sizeof(detail), "cannot read %s (%ld): wrong name, or the %s", op->scope,
                 resp->status,
                 op->g->app_key != NULL ? "App is not installed on it" : "token cannot see it");
        remote_check(op->acc, "repository", false, "%s", detail);
        remote_op_checks_done(&op->base, op->acc);
        return;
    }
    repo = json_loadb(resp->body, resp->body_len, 0, NULL);
    perm = json_object_get(repo, "permissions");
    push = json_is_true(json_object_get(perm, "push"));
    remote_check(op->acc, "repository", true, "%s", op->scope);
    remote_check(op->acc, "issues enabled", !json_is_false(json_object_get(repo, "has_issues")),
                 json_is_false(json_object_get(repo, "has_issues")) ? "issues are disabled"
                                                                    : "issues are on");
    if (json_is_object(perm))
        remote_check(op->acc, "write access", push,
                     push ? "can create, edit, close and assign issues"
                          : "no push access: assignees and labels would be silently dropped; "
                            "grant Issues: read and write");
    json_decref(repo);
    gh_repo_request(op, "GET", op->scope, "/labels?per_page=100", NULL, gh_doctor_labels);
}

static void gh_doctor_auth(struct remote_op *base, const struct http_response *resp)
{
    struct gh_op *op = (struct gh_op *)base;
    bool app = op->g->app_key != NULL;
    bool ok = resp->code == CL_OK && resp->status == 200;
    char detail[200];

    if (app)
        snprintf(detail, sizeof(detail), "GitHub App %s, installation %s: token issued",
                 conf_conn_get(op->g->cfg, "app_id"),
                 conf_conn_get(op->g->cfg, "app_installation_id"));
    else if (ok)
        snprintf(detail, sizeof(detail), "token accepted");
    else
        snprintf(detail, sizeof(detail), "token refused (%ld): set github_token", resp->status);
    remote_check(op->acc, "credentials", ok || app, "%s", detail);
    if (!ok && !app) {
        remote_op_checks_done(&op->base, op->acc);
        return;
    }
    gh_repo_request(op, "GET", op->scope, "", NULL, gh_doctor_repo);
}

static void github_doctor(void *self, const char *scope, provider_done_fn done, void *arg)
{
    struct gh_op *op = gh_op_new(self, done, arg);

    op->acc = json_array();
    op->scope = cl_strdup(scope);
    /* an App's installation token cannot read /user: the repository check proves it */
    remote_request(&op->base, "GET", op->g->app_key != NULL ? "/rate_limit" : "/user", NULL, NULL,
                   gh_doctor_auth);
}

/* ---- webhooks ---- */

static int github_parse_hook(void *self, const char *event, const char *body, size_t len,
                             struct provider_hook *out, struct cl_err *err)
{
    (void)self;
    return github_map_hook(event, body, len, out, err);
}

static int github_read_hook(void *self, const struct provider_delivery *d,
                            struct provider_hook *out, struct cl_err *err)
{
    struct github *g = self;
    const char *secret = g->cfg->webhook_secret;
    const char *event = remote_hook_header(d, "X-GitHub-Event", sizeof(out->event) - 1);
    const char *delivery = remote_hook_header(d, "X-GitHub-Delivery", sizeof(out->delivery) - 1);

    memset(out, 0, sizeof(*out));
    if (secret[0] == '\0' || !crypto_verify_sha256_header(d->header(d->ctx, "X-Hub-Signature-256"),
                                                          secret, d->body, d->len))
        return cl_fail(err, CL_EAUTH, "X-Hub-Signature-256 missing or wrong (check the secret)");
    if (event == NULL || delivery == NULL)
        return cl_fail(err, CL_EINVAL,
                       "X-GitHub-Event and X-GitHub-Delivery are required (printable, at most "
                       "100 and 200 bytes)");
    snprintf(out->event, sizeof(out->event), "%s", event);
    snprintf(out->delivery, sizeof(out->delivery), "%s", delivery);
    return github_map_hook(event, d->body, d->len, out, err);
}

/* ---- state ---- */

static void github_describe(void *self, json_t *into)
{
    struct github *g = self;

    json_object_set_new(into, "api_url", json_string(g->api_url));
    json_object_set_new(into, "auth", json_string(g->app_key != NULL ? "app" : "token"));
    remote_describe(g->remote, into);
}

static bool github_healthy(void *self)
{
    return !remote_auth_failed(((struct github *)self)->remote);
}

static void github_free(void *self)
{
    struct github *g = self;

    if (g == NULL)
        return;
    http_cancel(g->token_req);
    remote_free(g->remote); /* no callbacks: the sync core is going away too */
    if (g->token != NULL)
        memset(g->token, 0, strlen(g->token));
    free(g->token);
    EVP_PKEY_free(g->app_key);
    free(g);
}

static bool github_configured(const struct conf_conn *c)
{
    return conf_conn_get(c, "token")[0] != '\0' || conf_conn_get(c, "app_id")[0] != '\0';
}

static int gh_app_load(struct github *g, struct cl_err *err)
{
    const struct conf_conn *c = g->cfg;

    if (conf_conn_get(c, "app_id")[0] == '\0') {
        g->token = cl_strdup(conf_conn_get(c, "token"));
        return CL_OK;
    }
    if (conf_conn_get(c, "app_key_file")[0] == '\0' ||
        conf_conn_get(c, "app_installation_id")[0] == '\0')
        return cl_fail(err, CL_EINVAL,
                       "github connection %s: an App needs app_key_file and app_installation_id",
                       c->name);
    return jwt_key_load(&g->app_key, conf_conn_get(c, "app_key_file"), err);
}

static int github_start(void **out, const struct provider_env *env, const struct conf_conn *c,
                        struct cl_err *err)
{
    struct github *g = cl_calloc(1, sizeof(*g));
    int rc;

    g->loop = env->loop;
    g->http = env->http;
    g->cfg = c;
    g->api_url = conf_conn_get(c, "api_url");
    g->rcfg = (struct remote_config){c->name, g->api_url, c->timeout, c->write_interval};
    rc = gh_app_load(g, err);
    if (rc != CL_OK) {
        free(g->token);
        free(g);
        return rc;
    }
    g->remote = remote_new(env->loop, env->http, &g->rcfg, &gh_hooks, g);
    log_info("event=sync_connection tracker=github connection=%s api=\"%s\" auth=%s", c->name,
             g->api_url, g->app_key != NULL ? "app" : "token");
    *out = g;
    return CL_OK;
}

static const struct provider_ops github_ops = {
    .create = github_create,
    .find_marker = github_find_marker,
    .comment = github_comment,
    .find_comment = github_find_comment,
    .fetch = github_fetch,
    .update = github_update,
    .list_since = github_list_since,
    .list_import = github_list_import,
    .doctor = github_doctor,
    .read_hook = github_read_hook,
    .parse_hook = github_parse_hook,
    .describe = github_describe,
    .healthy = github_healthy,
    .free = github_free,
};

/* "owner/repo#123": a valid repository and a positive issue number. */
static bool github_parse_ref(const char *ref, char *scope, size_t scope_len, char *key,
                             size_t key_len)
{
    const char *hash = strrchr(ref, '#');
    long n;

    if (hash == NULL || (size_t)(hash - ref) >= scope_len ||
        cl_parse_long(&n, hash + 1, 1, 999999999) != CL_OK)
        return false;
    snprintf(scope, scope_len, "%.*s", (int)(hash - ref), ref);
    snprintf(key, key_len, "%ld", n);
    return valid_github_repo(scope);
}

const struct provider_def github_provider = {
    .tracker = "github",
    .display = "GitHub",
    .scope_noun = "repository",
    .scope_rule = VALID_GITHUB_REPO_RULE,
    .scope_field = "repo",
    .query_field = "label",
    .default_field = "github_repo",
    .ref_rule = "owner/repo#number",
    .parse_ref = github_parse_ref,
    .scope_valid = valid_github_repo,
    .conf = &github_conf,
    .configured = github_configured,
    .start = github_start,
    .ops = &github_ops,
};
