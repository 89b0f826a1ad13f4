/* The API request life cycle through a real httpd on a loopback socket and a real pool
 * on the test database (CLOSELOOP_TEST_DSN, migrated here). Client threads (blocking
 * libcurl) talk while the main thread runs the loop. Everything this run creates is
 * named after a per-run tag and removed at the end, so the shared database stays as it
 * was and a second run does not collide with the first. */
#include "closeloop/api/api.h"
#include "closeloop/api/routes_core.h"
#include "closeloop/api/routes_records.h"
#include "closeloop/api/routes_sync.h"
#include "closeloop/db/migrate.h"
#include "closeloop/sync/registry.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_BODY   4096
#define WAIT_MAX   20.0   /* seconds any wait in this file may take before it fails */
#define CLIENT_MAX 15000L /* ms: a client gives up first, so no thread outlives a wait */

/* One server: its own loop, pool, auth, api and httpd. Each stack has its own loop,
 * destroyed with it and never run again: httpd_free() can leave its idle watcher
 * started on freed memory (see httpd_on_connection), which a later run would touch. */
struct stack {
    struct ev_loop *loop;
    struct db_pool *pool;
    struct auth *auth;
    struct metrics *metrics;
    struct api *api;
    struct httpd *httpd;
    int port;
};

struct client {
    pthread_t thread;
    atomic_int done;     /* set by the client thread: libev itself is not thread-safe */
    struct stack *stack; /* NULL: the main stack */
    const char *method;
    const char *path;
    const char *token;
    const char *ctype; /* sent with a body; NULL: application/json, "": none */
    const char *body;
    const char *header; /* one more request header, or NULL */
    bool chunked;
    long timeout_ms; /* 0: CLIENT_MAX */
    long status;
    double seconds;
    char reply[8192];
    size_t len;
    char allow[64];
    char www[128];
    char rtype[96];
    char etag[32];
    char reqid[32];
};

static const char *dsn;
static PGconn *pg;   /* blocking admin connection (tokens, locks, cleanup) */
static char tag[24]; /* names what this run creates */
static char write_name[64];
static char read_name[64];
static char *write_token;
static char *read_token;
static struct stack main_stack;
/* The lock test's, here so that teardown can release them when an assertion cuts it
 * short (else the cleanup would wait on the row lock forever). */
static struct stack slow_stack;
static PGconn *locker;
static int after_runs; /* how often api_req_after's function ran */

/* ---- the client ---- */

static size_t client_write(char *p, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t take = size * n;

    if (c->len + take >= sizeof(c->reply))
        take = sizeof(c->reply) - 1 - c->len;
    memcpy(c->reply + c->len, p, take);
    c->len += take;
    c->reply[c->len] = '\0';
    return size * n;
}

static void header_copy(char *out, size_t n, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *v;
    size_t vl;

    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    v = line + nl + 1;
    vl = len - nl - 1;
    while (vl > 0 && *v == ' ') {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, n, "%.*s", (int)vl, v);
}

static size_t client_header(char *p, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = size * n;

    header_copy(c->allow, sizeof(c->allow), p, len, "Allow");
    header_copy(c->www, sizeof(c->www), p, len, "WWW-Authenticate");
    header_copy(c->rtype, sizeof(c->rtype), p, len, "Content-Type");
    header_copy(c->etag, sizeof(c->etag), p, len, "ETag");
    header_copy(c->reqid, sizeof(c->reqid), p, len, "X-Request-Id");
    return len;
}

static struct curl_slist *client_headers(const struct client *c)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    char line[256];

    if (c->token != NULL) {
        snprintf(line, sizeof(line), "Authorization: %s", c->token);
        h = curl_slist_append(h, line);
    }
    if (c->body != NULL) { /* "Content-Type:" alone makes curl send none */
        snprintf(line, sizeof(line), "Content-Type: %s",
                 c->ctype != NULL ? c->ctype : "application/json");
        h = curl_slist_append(h, c->ctype != NULL && c->ctype[0] == '\0' ? "Content-Type:" : line);
    }
    if (c->chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    if (c->header != NULL)
        h = curl_slist_append(h, c->header);
    return h;
}

static void *client_run(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = client_headers(c);
    double started = cl_now_mono();
    char url[512];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->stack->port, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, client_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : CLIENT_MAX);
    if (c->method != NULL)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    c->seconds = cl_now_mono() - started;
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    atomic_store(&c->done, 1);
    return NULL;
}

/* ---- driving the loop ---- */

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
}

/* Runs the loop until cond(arg) holds; fails after WAIT_MAX seconds. */
static void drive_until(struct ev_loop *loop, bool (*cond)(void *arg), void *arg, const char *what)
{
    double until = cl_now_mono() + WAIT_MAX;
    ev_timer tick;

    ev_timer_init(&tick, on_tick, 0.005, 0.005); /* the loop wakes to look at cond */
    ev_timer_start(loop, &tick);
    while (!cond(arg) && cl_now_mono() < until)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    if (!cond(arg))
        fail_msg("timed out waiting for %s", what);
}

struct batch {
    struct client *c;
    int n;
};

static bool batch_done(void *arg)
{
    const struct batch *b = arg;
    int i;

    for (i = 0; i < b->n; i++)
        if (!atomic_load(&b->c[i].done))
            return false;
    return true;
}

static void start(struct client *c)
{
    if (c->stack == NULL)
        c->stack = &main_stack;
    assert_int_equal(pthread_create(&c->thread, NULL, client_run, c), 0);
}

static void finish(struct client *c, int n)
{
    struct batch b = {c, n};
    int i;

    drive_until(c[0].stack->loop, batch_done, &b, "the clients");
    for (i = 0; i < n; i++)
        pthread_join(c[i].thread, NULL);
}

/* Sends n requests at once and waits for every answer. */
static void run(struct client *c, int n)
{
    int i;

    for (i = 0; i < n; i++)
        start(&c[i]);
    finish(c, n);
}

/* httpd counts a request until libmicrohttpd reports it complete, which may come after
 * the client has read the answer. */
static bool stack_idle(void *arg)
{
    const struct stack *s = arg;

    return httpd_inflight(s->httpd) == 0;
}

static void settle(struct stack *s)
{
    drive_until(s->loop, stack_idle, s, "the requests to complete");
}

/* ---- checking answers ---- */

static json_t *reply_json(const struct client *c)
{
    json_error_t e;
    json_t *v = json_loads(c->reply, 0, &e);

    if (v == NULL)
        fail_msg("%s: status %ld, not JSON: %s", c->path, c->status, c->reply);
    return v;
}

static void expect_status(const struct client *c, long status)
{
    if (c->status != status)
        fail_msg("%s %s: status %ld, want %ld: %s", c->method != NULL ? c->method : "-", c->path,
                 c->status, status, c->reply);
}

/* The answer is {"error":{"code","message"[,"field"]}} with this status, code and field
 * (NULL: none), and a message holding `part`. */
static void expect_error(const struct client *c, long status, const char *code, const char *field,
                         const char *part)
{
    json_t *v;
    json_t *e;
    const char *f;
    const char *msg;

    expect_status(c, status);
    assert_string_equal(c->rtype, "application/json");
    v = reply_json(c);
    e = json_object_get(v, "error");
    f = json_string_value(json_object_get(e, "field"));
    msg = json_string_value(json_object_get(e, "message"));
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    if (field == NULL && f != NULL)
        fail_msg("%s: unexpected field %s", c->path, f);
    if (field != NULL)
        assert_string_equal(f != NULL ? f : "(none)", field);
    assert_non_null(msg);
    if (strstr(msg, part) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", c->path, msg, part);
    json_decref(v);
}

static const char *jstr(const json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));

    return s != NULL ? s : "(none)";
}

static char *bearer(const char *token)
{
    return cl_asprintf("Bearer %s", token);
}

/* ---- a route table of probes: api.c's helpers, called the way route files call them */

static const struct {
    const char *name;
    const char *sql;
} raises[] = {
    {"cl404", "DO $$BEGIN RAISE EXCEPTION 'widget 7 is gone' USING ERRCODE = 'CL404'; END$$"},
    {"cl409", "DO $$BEGIN RAISE EXCEPTION 'version 3 is stale' USING ERRCODE = 'CL409'; END$$"},
    {"cltrn", "DO $$BEGIN RAISE EXCEPTION 'done to done' USING ERRCODE = 'CLTRN'; END$$"},
    {"cl422", "DO $$BEGIN RAISE EXCEPTION 'unknown person zed' USING ERRCODE = 'CL422',"
              " COLUMN = 'owner'; END$$"},
    {"dup", "DO $$BEGIN RAISE EXCEPTION 'duplicate key value violates unique constraint'"
            " USING ERRCODE = '23505', CONSTRAINT = 'teams_name_key', TABLE = 'teams'; END$$"},
    {"dupown",
     "DO $$BEGIN RAISE EXCEPTION 'handle zed is taken by person 4'"
     " USING ERRCODE = '23505', CONSTRAINT = 'people_handle_key', TABLE = 'people'; END$$"},
    {"livename", "DO $$BEGIN RAISE EXCEPTION 'duplicate key value' USING ERRCODE = '23505',"
                 " CONSTRAINT = 'api_tokens_live_name_key', TABLE = 'api_tokens'; END$$"},
    {"check", "DO $$BEGIN RAISE EXCEPTION 'new row violates check constraint' USING ERRCODE ="
              " '23514', CONSTRAINT = 'people_email_check', TABLE = 'people'; END$$"},
    {"fkey", "DO $$BEGIN RAISE EXCEPTION 'violates foreign key constraint' USING ERRCODE ="
             " '23503', CONSTRAINT = 'actions_owner_id_fkey', TABLE = 'actions'; END$$"},
    {"div", "SELECT (1 / 0)::text"},
    {"timeout", "DO $$BEGIN RAISE EXCEPTION 'canceling statement' USING ERRCODE = '57014'; END$$"},
    {"internal", "SELECT nosuchcolumn_zq FROM (SELECT 1) s"},
    {"sleep", "SELECT pg_sleep(0.6)::text"},
    {"etag", "SELECT '{\"a\":1}', 7 AS etag"},
    {"null", "SELECT NULL::text"},
};

static void probe_raise(struct api_req *q)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(raises); i++)
        if (strcmp(raises[i].name, api_req_param(q, 0)) == 0) {
            api_req_sql(q, raises[i].sql, 0, NULL, API_ONE, 200, 0);
            return;
        }
    api_req_error(q, 404, "not_found", NULL, "no probe \"%s\"", api_req_param(q, 0));
}

static void probe_echo(struct api_req *q)
{
    json_t *v =
        json_pack("{s:s, s:s, s:b, s:s?, s:s, s:s, s:s, s:s}", "p0", api_req_param(q, 0), "p1",
                  api_req_param(q, 1), "p2_null", api_req_param(q, 2) == NULL, "q",
                  api_req_query(q, "q"), "source", api_req_source(q), "actor", api_req_actor(q),
                  "path", api_req_path(q), "method", httpd_req_method(api_req_http(q)));

    api_req_reply_json(q, 200, v);
    json_decref(v);
}

static void probe_version(struct api_req *q)
{
    static const struct valid_field spec[] = {{"version", VALID_INT, 0, 0, NULL}};
    const char *version = NULL;
    json_t *body = NULL;
    json_t *v;

    if (api_req_body(&body, q, spec, 1, VALID_MODE_CREATE, true) != CL_OK)
        return;
    if (api_req_version(&version, q, body) == CL_OK) {
        v = json_pack("{s:s?}", "version", version);
        api_req_reply_json(q, 200, v);
        json_decref(v);
    }
    json_decref(body);
}

static void probe_list(struct api_req *q)
{
    const char *s = api_req_query(q, "limit");
    char fetch[24];
    long limit = 0;

    if (s == NULL || cl_parse_long(&limit, s, 1, 100) != CL_OK) {
        api_req_error(q, 400, "bad_request", "limit", "limit 1..100");
        return;
    }
    snprintf(fetch, sizeof(fetch), "%ld", limit + 1);
    api_req_sql(q,
                "SELECT json_build_object('n', x)::text, x::text FROM generate_series(1, 5) x"
                " ORDER BY x LIMIT $1",
                1, (const char *const[]){fetch}, API_LIST, 200, limit);
}

static void probe_then_done(struct api_req *q, const struct db_reply *r)
{
    if (r->code != CL_OK)
        api_req_db_error(q, r);
    else
        api_req_reply(q, 200, "text/plain", PQgetvalue(r->res, 0, 0));
}

static void probe_then(struct api_req *q)
{
    const char *v = api_req_query(q, "v");

    api_req_sql_then(q, v != NULL ? "SELECT 'then:' || $1::text" : "SELECT 1/0", v != NULL ? 1 : 0,
                     (const char *const[]){v}, probe_then_done);
}

static void probe_after_ran(void *arg)
{
    int *n = arg;

    (*n)++;
}

static void probe_after(struct api_req *q)
{
    bool fail = api_req_query(q, "fail") != NULL;

    api_req_after(q, probe_after_ran, &after_runs);
    api_req_sql(q, fail ? "SELECT (1 / 0)::text" : "SELECT '{}'", 0, NULL, API_ONE, 201, 0);
}

/* Never answers by itself: only the deadline (or api_req_set_deadline's) ends it. */
static void probe_stall(struct api_req *q)
{
    const char *d = api_req_query(q, "deadline");

    if (d != NULL)
        api_req_set_deadline(q, strtod(d, NULL));
}

static void probe_twice(struct api_req *q)
{
    api_req_reply(q, 200, "text/plain", "first");
    api_req_error(q, 500, "internal", NULL, "second");
    api_req_reply(q, 201, "text/plain", "third");
}

static void probe_ok(struct api_req *q)
{
    api_req_reply(q, 200, "text/plain", "ok");
}

static const struct api_route probes[] = {
    {"GET", "/probe/raise/{}", AUTH_NONE, probe_raise, "widget"},
    {"GET", "/probe/echo/{}/{}", AUTH_READ, probe_echo, NULL},
    {"POST", "/probe/version", AUTH_NONE, probe_version, NULL},
    {"GET", "/probe/list", AUTH_NONE, probe_list, NULL},
    {"GET", "/probe/then", AUTH_NONE, probe_then, NULL},
    {"POST", "/probe/after", AUTH_NONE, probe_after, NULL},
    {"GET", "/probe/stall", AUTH_NONE, probe_stall, NULL},
    {"GET", "/probe/twice", AUTH_NONE, probe_twice, NULL},
    {"GET", "/probe/admin", AUTH_ADMIN, probe_ok, NULL},
};

/* ---- fixture ---- */

static void stack_stop(struct stack *s)
{
    httpd_free(s->httpd); /* first: completing its requests frees their api contexts */
    api_free(s->api);
    auth_free(s->auth);
    db_pool_free(s->pool);
    metrics_free(s->metrics);
    ev_loop_destroy(s->loop);
    memset(s, 0, sizeof(*s));
}

static int stack_start(struct stack *s, const char *db, int size, double stmt_timeout,
                       double request_timeout, const char *name)
{
    struct cl_err err = CL_ERR_INIT;
    struct api_deps deps;
    struct httpd_opts o;

    s->loop = ev_loop_new(EVFLAG_AUTO);
    s->pool = db_pool_new(s->loop, db, size, stmt_timeout, name);
    s->auth = auth_new(s->loop, s->pool, 60.0);
    s->metrics = metrics_new();
    deps = (struct api_deps){.loop = s->loop,
                             .pool = s->pool,
                             .auth = s->auth,
                             .metrics = s->metrics,
                             .request_timeout = request_timeout,
                             .sync = NULL,
                             .sync_stale_after = 900.0};
    s->api = api_new(&deps);
    routes_core_add(s->api);
    routes_records_add(s->api);
    routes_sync_add(s->api);
    api_add_routes(s->api, probes, CL_ARRAY_LEN(probes));
    o = (struct httpd_opts){.listen = "127.0.0.1:0",
                            .max_body = MAX_BODY,
                            .max_connections = 32,
                            .read_timeout = 10.0,
                            .handler = api_handle,
                            .arg = s->api,
                            .metrics = s->metrics};
    if (httpd_start(&s->httpd, s->loop, &o, &err) != CL_OK) {
        fprintf(stderr, "httpd_start: %s\n", err.msg);
        stack_stop(s);
        return -1;
    }
    api_set_httpd(s->api, s->httpd);
    s->port = httpd_port(s->httpd);
    return 0;
}

static int db_setup(void)
{
    struct cl_err err = CL_ERR_INIT;

    snprintf(write_name, sizeof(write_name), "unit-api-%s-w", tag);
    snprintf(read_name, sizeof(read_name), "unit-api-%s-r", tag);
    if (db_connect_blocking(&pg, dsn, &err) != CL_OK || migrate_run(pg, NULL, &err) != CL_OK ||
        db_exec_blocking(NULL, pg, "SET lock_timeout = '10s'", 0, NULL, &err) != CL_OK ||
        auth_token_create(&write_token, pg, write_name, AUTH_WRITE, NULL, &err) != CL_OK ||
        auth_token_create(&read_token, pg, read_name, AUTH_READ, NULL, &err) != CL_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return stack_start(&main_stack, dsn, 2, 5.0, 5.0, write_name);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tag, sizeof(tag), "%x%lx", (unsigned)getpid(), (unsigned long)time(NULL) & 0xffffff);
    dsn = getenv("CLOSELOOP_TEST_DSN");
    return dsn != NULL ? db_setup() : 0;
}

/* Removes this run's tokens and teams: the shared database is left as it was. */
static void db_cleanup(void)
{
    struct cl_err err = CL_ERR_INIT;
    char *like = cl_asprintf("unit-api-%s-%%", tag);
    const char *params[1] = {like};

    if (db_exec_blocking(NULL, pg, "DELETE FROM teams WHERE name LIKE $1", 1, params, &err) !=
            CL_OK ||
        db_exec_blocking(NULL, pg, "DELETE FROM api_tokens WHERE name LIKE $1", 1, params, &err) !=
            CL_OK)
        fprintf(stderr, "cleanup: %s\n", err.msg);
    free(like);
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(locker);
    if (slow_stack.api != NULL)
        stack_stop(&slow_stack);
    if (main_stack.api != NULL)
        stack_stop(&main_stack);
    if (pg != NULL)
        db_cleanup();
    PQfinish(pg);
    free(write_token);
    free(read_token);
    curl_global_cleanup();
    return 0;
}

/* ---- tests without a database ---- */

static void test_api__dump_is_compact_json(void **state)
{
    json_t *v = json_pack("{s:[i,s], s:n}", "a", 1, "x\"", "b");
    json_t *n = json_integer(7);
    char *s = api_dump(v);
    char *t = api_dump(n);

    (void)state;
    assert_string_equal(s, "{\"a\":[1,\"x\\\"\"],\"b\":null}");
    assert_string_equal(t, "7"); /* any value, not only objects */
    free(s);
    free(t);
    json_decref(v);
    json_decref(n);
}

/* With the database unreachable, /healthz still answers 200 (the process is alive),
 * /readyz and every authenticated route answer 503, and nothing hangs. */
static void test_api__database_down_is_503_and_healthz_stays_up(void **state)
{
    struct stack down = {0};
    struct client c[3] = {
        {.path = "/healthz"},
        {.path = "/readyz"},
        {.path = "/api/v1/teams",
         .token = "Bearer clt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    };
    json_t *v;
    int i;

    (void)state;
    assert_int_equal(stack_start(&down, "host=/nonexistent-closeloop dbname=x connect_timeout=2", 1,
                                 5.0, 5.0, "unit-api-down"),
                     0);
    for (i = 0; i < 3; i++)
        c[i].stack = &down;
    run(c, 3);
    expect_status(&c[0], 200);
    assert_string_equal(c[0].reply, "{\"status\": \"ok\"}\n");
    expect_status(&c[1], 503);
    v = reply_json(&c[1]);
    assert_string_equal(jstr(v, "status"), "unavailable");
    assert_true(json_is_false(json_object_get(v, "database")));
    json_decref(v);
    expect_error(&c[2], 503, "unavailable", NULL, "database unavailable");
    settle(&down);
    stack_stop(&down);
}

/* ---- built-in routes ---- */

static void test_api__healthz_answers_json_with_request_id(void **state)
{
    struct client c = {.path = "/healthz"};

    (void)state;
    run(&c, 1);
    expect_status(&c, 200);
    assert_string_equal(c.reply, "{\"status\": \"ok\"}\n");
    assert_string_equal(c.rtype, "application/json");
    assert_true(strlen(c.reqid) > 2);
}

static void test_api__readyz_reports_the_schema(void **state)
{
    struct client c = {.path = "/readyz"};
    json_t *v;

    (void)state;
    run(&c, 1);
    expect_status(&c, 200);
    v = reply_json(&c);
    assert_string_equal(jstr(v, "status"), "ready");
    assert_true(json_is_true(json_object_get(v, "database")));
    assert_int_equal(json_integer_value(json_object_get(v, "schema")), migrate_latest());
    assert_int_equal(json_integer_value(json_object_get(v, "expected_schema")), migrate_latest());
    assert_int_equal(json_integer_value(json_object_get(v, "stale_repositories")), 0);
    assert_true(json_is_null(json_object_get(v, "sync_error")));
    json_decref(v);
}

static void test_api__builtins_allow_only_get(void **state)
{
    struct client c[3] = {
        {.method = "POST", .path = "/healthz", .body = "{}"},
        {.method = "DELETE", .path = "/readyz"},
        {.method = "PUT", .path = "/metrics", .body = "{}"},
    };
    int i;

    (void)state;
    run(c, 3);
    for (i = 0; i < 3; i++) {
        expect_error(&c[i], 405, "method_not_allowed", NULL, "is not allowed here");
        assert_string_equal(c[i].allow, "GET");
    }
}

/* Counted under the route's pattern, never the raw path (bounded label cardinality). */
static void test_api__metrics_label_requests_by_route(void **state)
{
    char *unmatched = cl_asprintf("/api/v1/zz-%s", tag);
    char *team = cl_asprintf("/api/v1/teams/unit-api-%s-metrics", tag);
    char *auth = bearer(read_token);
    struct client c[3] = {{.path = unmatched}, {.path = team, .token = auth}, {.path = "/metrics"}};

    (void)state;
    run(c, 2);
    expect_status(&c[0], 404);
    expect_status(&c[1], 404);
    settle(&main_stack); /* counted when complete */
    run(&c[2], 1);
    expect_status(&c[2], 200);
    assert_string_equal(c[2].rtype, "text/plain; version=0.0.4");
    assert_non_null(strstr(c[2].reply, "closeloop_http_requests_total{route=\"/api/v1/teams/{}\","
                                       "method=\"GET\",status=\"404\"} "));
    assert_non_null(strstr(c[2].reply, "route=\"unmatched\",method=\"GET\",status=\"404\"}"));
    assert_non_null(strstr(c[2].reply, "closeloop_http_requests_in_flight 1\n"));
    assert_non_null(strstr(c[2].reply, "closeloop_db_pool_connections{state=\"configured\"} 2\n"));
    assert_null(strstr(c[2].reply, tag));
    free(unmatched);
    free(team);
    free(auth);
}

/* ---- authentication and scope ---- */

static void test_api__missing_token_is_401_with_a_challenge(void **state)
{
    struct client c = {.path = "/api/v1/teams"};

    (void)state;
    run(&c, 1);
    expect_error(&c, 401, "unauthorized", NULL, "missing Authorization: Bearer token");
    assert_string_equal(c.www, "Bearer realm=\"closeloop\"");
}

static void test_api__bad_tokens_are_401(void **state)
{
    struct client c[3] = {
        {.path = "/api/v1/teams", .token = "Basic dXNlcjpwYXNz"},
        {.path = "/api/v1/teams", .token = "Bearer not-ours"},
        {.path = "/api/v1/teams",
         .token = "Bearer clt_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"},
    };
    int i;

    (void)state;
    run(c, 3);
    expect_error(&c[0], 401, "unauthorized", NULL, "must be \"Bearer <token>\"");
    expect_error(&c[1], 401, "unauthorized", NULL, "not a closeloop token");
    expect_error(&c[2], 401, "unauthorized", NULL, "unknown or revoked token");
    for (i = 0; i < 3; i++)
        assert_string_equal(c[i].www, "Bearer realm=\"closeloop\"");
}

static void test_api__revoked_token_is_401(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *name = cl_asprintf("unit-api-%s-revoked", tag);
    char *token = NULL;
    char *auth;
    struct client c = {.path = "/api/v1/teams"};

    (void)state;
    assert_int_equal(auth_token_create(&token, pg, name, AUTH_ADMIN, NULL, &err), CL_OK);
    assert_int_equal(auth_token_revoke(pg, name, &err), CL_OK);
    auth = bearer(token);
    c.token = auth;
    run(&c, 1);
    expect_error(&c, 401, "unauthorized", NULL, "unknown or revoked token");
    free(auth);
    free(token);
    free(name);
}

/* A read token may not write: 403 naming both scopes, and nothing is created. */
static void test_api__read_token_cannot_write(void **state)
{
    char *body = cl_asprintf("{\"name\":\"unit-api-%s-ro\"}", tag);
    char *path = cl_asprintf("/api/v1/teams/unit-api-%s-ro", tag);
    char *auth = bearer(read_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};
    struct client g = {.path = path, .token = auth};
    char want[128];

    (void)state;
    run(&c, 1);
    snprintf(want, sizeof(want), "token \"%s\" has scope read; this needs write", read_name);
    expect_error(&c, 403, "forbidden", NULL, want);
    run(&g, 1);
    expect_error(&g, 404, "not_found", NULL, "no team");
    free(body);
    free(path);
    free(auth);
}

static void test_api__write_token_is_not_admin(void **state)
{
    char *auth = bearer(write_token);
    struct client c = {.path = "/probe/admin", .token = auth};

    (void)state;
    run(&c, 1);
    expect_error(&c, 403, "forbidden", NULL, "has scope write; this needs admin");
    free(auth);
}

/* ---- routing ---- */

/* Routing comes before authentication: an unknown path is 404 even without a token. */
static void test_api__unknown_path_is_404_json(void **state)
{
    char *auth = bearer(read_token);
    struct client c[3] = {
        {.path = "/api/v1/nothing-here"},
        {.path = "/api/v1/teams/", .token = auth},
        {.path = "/api/v1/teams/a%2Fb", .token = auth}, /* %2F never splits a segment */
    };
    int i;

    (void)state;
    run(c, 3);
    for (i = 0; i < 3; i++)
        expect_error(&c[i], 404, "not_found", NULL, "no such route");
    free(auth);
}

static void test_api__wrong_method_is_405(void **state)
{
    char *auth = bearer(write_token);
    struct client c[3] = {
        {.method = "DELETE", .path = "/api/v1/teams", .token = auth},
        {.method = "PUT", .path = "/api/v1/teams/x", .token = auth, .body = "{}"},
        {.method = "GET", .path = "/webhooks/github"},
    };
    int i;

    (void)state;
    run(c, 3);
    expect_error(&c[0], 405, "method_not_allowed", NULL, "DELETE is not allowed here");
    expect_error(&c[1], 405, "method_not_allowed", NULL, "PUT is not allowed here");
    expect_error(&c[2], 405, "method_not_allowed", NULL, "GET is not allowed here");
    for (i = 0; i < 3; i++)
        assert_string_equal(c[i].www, "");        /* refused before any token check */
    assert_string_equal(c[0].allow, "GET, POST"); /* RFC 9110: what the path allows */
    assert_string_equal(c[1].allow, "GET, PATCH");
    assert_string_equal(c[2].allow, "POST");
    free(auth);
}

/* ---- query parameters ---- */

static void test_api__unknown_query_parameter_is_400_naming_it(void **state)
{
    char *auth = bearer(read_token);
    struct client c[4] = {
        {.path = "/api/v1/teams?limit=5&colour=red", .token = auth},
        {.path = "/api/v1/teams/x?expand=1", .token = auth},
        {.path = "/api/v1/actions?overdue=true&Status=open", .token = auth},
        {.path = "/api/v1/sync/status?verbose=1", .token = auth},
    };

    (void)state;
    run(c, 4);
    expect_error(&c[0], 400, "bad_request", "colour", "unknown query parameter \"colour\"");
    expect_error(&c[1], 400, "bad_request", "expand", "unknown query parameter \"expand\"");
    expect_error(&c[2], 400, "bad_request", "Status", "unknown query parameter \"Status\"");
    expect_error(&c[3], 400, "bad_request", "verbose", "unknown query parameter \"verbose\"");
    free(auth);
}

static void test_api__bad_query_values_are_400_naming_them(void **state)
{
    char *auth = bearer(read_token);
    struct client c[5] = {
        {.path = "/api/v1/teams?limit=0", .token = auth},
        {.path = "/api/v1/teams?limit=501", .token = auth},
        {.path = "/api/v1/teams?cursor=abc", .token = auth},
        {.path = "/api/v1/actions?status=open,bogus", .token = auth},
        {.path = "/api/v1/people?active=yes", .token = auth},
    };

    (void)state;
    run(c, 5);
    expect_error(&c[0], 400, "bad_request", "limit", "limit must be an integer 1..500");
    expect_error(&c[1], 400, "bad_request", "limit", "limit must be an integer 1..500");
    expect_error(&c[2], 400, "bad_request", "cursor", "cursor is not one this API gave out");
    expect_error(&c[3], 400, "bad_request", "status", "unknown status \"bogus\"");
    expect_error(&c[4], 400, "bad_request", "active", "active must be true or false");
    free(auth);
}

/* ---- bodies ---- */

static void test_api__malformed_json_is_400(void **state)
{
    char *auth = bearer(write_token);
    struct client c[3] = {
        {.path = "/api/v1/teams", .token = auth, .body = "{\"name\":"},
        {.path = "/api/v1/teams", .token = auth, .body = "[\"x\"]"},
        {.path = "/api/v1/teams", .token = auth, .body = "{\"name\":\"a\",\"name\":\"b\"}"},
    };

    (void)state;
    run(c, 3);
    expect_error(&c[0], 400, "bad_json", NULL, "body is not a JSON object");
    expect_error(&c[1], 400, "bad_json", NULL, "found another JSON value");
    expect_error(&c[2], 400, "bad_json", NULL, "duplicate object key");
    free(auth);
}

static void test_api__body_that_is_not_json_is_415(void **state)
{
    char *auth = bearer(write_token);
    struct client c[4] = {
        {.path = "/api/v1/teams", .token = auth, .body = "{}", .ctype = "text/plain"},
        {.path = "/api/v1/teams", .token = auth, .body = "{}", .ctype = "application/jsonp"},
        {.path = "/api/v1/teams", .token = auth, .body = "{}", .ctype = ""},
        /* parameters after the type are fine: this one reaches validation */
        {.path = "/api/v1/teams",
         .token = auth,
         .body = "{}",
         .ctype = "Application/JSON; charset=utf-8"},
    };
    int i;

    (void)state;
    run(c, 4);
    for (i = 0; i < 3; i++)
        expect_error(&c[i], 415, "unsupported_media_type", NULL, "Content-Type: application/json");
    expect_error(&c[3], 422, "validation", "name", "name");
    free(auth);
}

/* Refused by the spec before SQL, or by the table's CHECK: either way 422 naming it. */
static void test_api__validation_failure_is_422_naming_the_field(void **state)
{
    char *auth = bearer(write_token);
    struct client c[4] = {
        {.path = "/api/v1/teams", .token = auth, .body = "{}"},
        {.path = "/api/v1/teams", .token = auth, .body = "{\"name\":\"x\",\"colour\":\"red\"}"},
        {.path = "/api/v1/teams", .token = auth, .body = "{\"name\":5}"},
        {.path = "/api/v1/teams", .token = auth, .body = "{\"name\":\"has a space\"}"},
    };

    (void)state;
    run(c, 4);
    expect_error(&c[0], 422, "validation", "name", "name");
    expect_error(&c[1], 422, "validation", "colour", "unknown field \"colour\"");
    expect_error(&c[2], 422, "validation", "name", "name");
    expect_error(&c[3], 422, "validation", "name", "name must be 1 to 63 letters");
    free(auth);
}

/* Announced larger than max_body: httpd refuses it before reading. Sent chunked (size
 * unknown), it reaches routing: a route answers 413, an unknown path still 404. */
static void test_api__body_over_the_limit_is_413(void **state)
{
    char *auth = bearer(write_token);
    char *big = cl_calloc(1, MAX_BODY + 100);
    struct client c[3] = {
        {.path = "/api/v1/teams", .token = auth, .body = big},
        {.path = "/api/v1/teams", .token = auth, .body = big, .chunked = true},
        {.path = "/api/v1/nowhere", .token = auth, .body = big, .chunked = true},
    };

    (void)state;
    memset(big, ' ', MAX_BODY + 99);
    big[0] = '{';
    big[MAX_BODY + 98] = '}';
    run(c, 3);
    expect_error(&c[0], 413, "payload_too_large", NULL, "larger than the limit");
    expect_error(&c[1], 413, "payload_too_large", NULL, "larger than the limit");
    expect_error(&c[2], 404, "not_found", NULL, "no such route");
    free(big);
    free(auth);
}

/* ---- resources through the core routes ---- */

static void test_api__create_then_get_round_trip(void **state)
{
    char *name = cl_asprintf("unit-api-%s-rt", tag);
    char *body = cl_asprintf("{\"name\":\"%s\",\"manager\":null}", name);
    char *path = cl_asprintf("/api/v1/teams/%s", name);
    char *auth = bearer(write_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};
    struct client g = {.path = path, .token = auth};
    json_t *made;
    json_t *got;

    (void)state;
    run(&c, 1);
    expect_status(&c, 201);
    assert_string_equal(c.rtype, "application/json");
    made = reply_json(&c);
    assert_string_equal(jstr(made, "name"), name);
    assert_true(json_integer_value(json_object_get(made, "id")) > 0);
    assert_true(json_is_null(json_object_get(made, "manager")));
    run(&g, 1);
    expect_status(&g, 200);
    got = reply_json(&g);
    assert_true(json_equal(made, got));
    json_decref(made);
    json_decref(got);
    free(name);
    free(body);
    free(path);
    free(auth);
}

/* A list page: the cursor just below a new team's id starts the page at that team. */
static void test_api__list_pages_from_a_cursor(void **state)
{
    char *body = cl_asprintf("{\"name\":\"unit-api-%s-page\"}", tag);
    char *auth = bearer(write_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};
    struct client l = {.token = auth};
    char path[96];
    json_t *made;
    json_t *page;
    json_t *first;

    (void)state;
    run(&c, 1);
    expect_status(&c, 201);
    made = reply_json(&c);
    snprintf(path, sizeof(path), "/api/v1/teams?limit=1&cursor=%lld",
             (long long)json_integer_value(json_object_get(made, "id")) - 1);
    l.path = path;
    run(&l, 1);
    expect_status(&l, 200);
    page = reply_json(&l);
    first = json_array_get(json_object_get(page, "items"), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_true(json_equal(first, made));
    assert_non_null(json_object_get(page, "next_cursor"));
    json_decref(page);
    json_decref(made);
    free(body);
    free(auth);
}

static void test_api__duplicate_is_409_naming_the_field(void **state)
{
    char *body = cl_asprintf("{\"name\":\"unit-api-%s-dup\"}", tag);
    char *auth = bearer(write_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};
    struct client d = {.path = "/api/v1/teams", .token = auth, .body = body};

    (void)state;
    run(&c, 1);
    expect_status(&c, 201);
    run(&d, 1);
    expect_error(&d, 409, "duplicate", "name", "name is already taken");
    free(body);
    free(auth);
}

/* Captures are percent-decoded before they reach SQL. */
static void test_api__percent_encoded_capture_is_decoded(void **state)
{
    char *body = cl_asprintf("{\"name\":\"unit-api-%s-pc\"}", tag);
    char *path = cl_asprintf("/api/v1/teams/unit%%2Dapi%%2D%s%%2Dpc", tag);
    char *auth = bearer(write_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};
    struct client g = {.path = path, .token = auth};
    char want[96];
    json_t *v;

    (void)state;
    run(&c, 1);
    expect_status(&c, 201);
    run(&g, 1);
    expect_status(&g, 200);
    v = reply_json(&g);
    snprintf(want, sizeof(want), "unit-api-%s-pc", tag);
    assert_string_equal(jstr(v, "name"), want);
    json_decref(v);
    free(body);
    free(path);
    free(auth);
}

static void test_api__unknown_resource_is_404_naming_it(void **state)
{
    char *path = cl_asprintf("/api/v1/teams/unit-api-%s-none", tag);
    char *auth = bearer(read_token);
    struct client c[2] = {
        {.path = path, .token = auth},
        {.path = "/api/v1/actions/9223372036854775807", .token = auth},
    };
    char want[96];

    (void)state;
    run(c, 2);
    snprintf(want, sizeof(want), "no team \"unit-api-%s-none\"", tag);
    expect_error(&c[0], 404, "not_found", NULL, want);
    expect_error(&c[1], 404, "not_found", NULL, "no action \"9223372036854775807\"");
    free(path);
    free(auth);
}

/* An id capture that is not a positive decimal integer is 404 before any SQL or body
 * parsing (the last one has no JSON body at all). */
static void test_api__id_capture_must_be_a_positive_integer(void **state)
{
    static const char *const bad[] = {"abc",  "0",  "-1", "1.5", "99999999999999999999",
                                      "0x1f", "+7", "007"};
    char *auth = bearer(write_token);
    struct client c[CL_ARRAY_LEN(bad) + 1] = {{0}};
    char paths[CL_ARRAY_LEN(bad)][64];
    char want[64];
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(bad); i++) {
        snprintf(paths[i], sizeof(paths[i]), "/api/v1/actions/%s", bad[i]);
        c[i] = (struct client){.path = paths[i], .token = auth};
    }
    c[i] = (struct client){
        .path = "/api/v1/actions/x1/start", .token = auth, .body = "nope", .ctype = "text/plain"};
    run(c, (int)CL_ARRAY_LEN(c));
    for (i = 0; i < CL_ARRAY_LEN(bad); i++) {
        snprintf(want, sizeof(want), "no action \"%s\"", bad[i]);
        expect_error(&c[i], 404, "not_found", NULL, want);
    }
    expect_error(&c[i], 404, "not_found", NULL, "no action \"x1\"");
    free(auth);
}

/* ---- sync routes without a tracker connection (deps.sync == NULL) ---- */

/* import and doctor name the missing connection (404); webhooks are 404 for every
 * tracker, known or not; the status lists no connection. */
static void test_api__sync_routes_without_a_tracker(void **state)
{
    size_t n = 0;
    const char *tracker = registry_all(&n)[0]->tracker;
    char *auth = bearer(write_token);
    char *imp = cl_asprintf("/api/v1/%s/import", tracker);
    char *doc = cl_asprintf("/api/v1/%s/doctor", tracker);
    char *hook = cl_asprintf("/webhooks/%s", tracker);
    char *hook2 = cl_asprintf("/webhooks/%s/main", tracker);
    char *want = cl_asprintf("no %s connection is configured", tracker);
    struct client c[7] = {
        {.path = imp, .token = auth, .body = "{}"},
        {.path = doc, .token = auth, .body = "{}"},
        {.path = "/api/v1/nosuch/import", .token = auth, .body = "{}"},
        {.path = hook, .body = "{}"},
        {.path = hook2, .body = "{}"},
        {.path = "/webhooks/nosuch", .body = "{}"},
        {.path = "/api/v1/sync/status", .token = auth},
    };
    json_t *v;

    (void)state;
    run(c, 7);
    expect_error(&c[0], 404, "not_found", NULL, want);
    expect_error(&c[1], 404, "not_found", NULL, want);
    expect_error(&c[2], 404, "not_found", NULL, "no tracker \"nosuch\"");
    expect_error(&c[3], 404, "not_found", NULL, "no such tracker connection");
    expect_error(&c[4], 404, "not_found", NULL, "no such tracker connection");
    expect_error(&c[5], 404, "not_found", NULL, "no such tracker connection");
    expect_status(&c[6], 200);
    v = reply_json(&c[6]);
    assert_true(json_is_array(json_object_get(v, "connections")));
    assert_int_equal(json_array_size(json_object_get(v, "connections")), 0);
    json_decref(v);
    free(auth);
    free(imp);
    free(doc);
    free(hook);
    free(hook2);
    free(want);
}

/* ---- api.c's helpers, through the probe routes ---- */

/* Captures are decoded, the raw path is kept, the actor is the token's name. */
static void test_api__request_accessors(void **state)
{
    char *auth = bearer(read_token);
    struct client c[2] = {
        {.path = "/probe/echo/a%20b/%C3%A9?q=%26x", .token = auth},
        {.path = "/probe/echo/1/2", .token = auth, .header = "X-Closeloop-Source: cli"},
    };
    json_t *v;

    (void)state;
    run(c, 2);
    expect_status(&c[0], 200);
    v = reply_json(&c[0]);
    assert_string_equal(jstr(v, "p0"), "a b");
    assert_string_equal(jstr(v, "p1"), "\xc3\xa9");
    assert_true(json_is_true(json_object_get(v, "p2_null")));
    assert_string_equal(jstr(v, "q"), "&x");
    assert_string_equal(jstr(v, "path"), "/probe/echo/a%20b/%C3%A9");
    assert_string_equal(jstr(v, "source"), "api");
    assert_string_equal(jstr(v, "actor"), read_name);
    assert_string_equal(jstr(v, "method"), "GET");
    json_decref(v);
    v = reply_json(&c[1]);
    assert_string_equal(jstr(v, "source"), "cli");
    json_decref(v);
    free(auth);
}

static void expect_version(const struct client *c, const char *version)
{
    json_t *v;

    expect_status(c, 200);
    v = reply_json(c);
    if (version == NULL)
        assert_true(json_is_null(json_object_get(v, "version")));
    else
        assert_string_equal(jstr(v, "version"), version);
    json_decref(v);
}

/* If-Match wins over the body's version; a malformed one is 400 naming If-Match. */
static void test_api__version_from_if_match_or_body(void **state)
{
    struct client c[7] = {
        {.path = "/probe/version", .body = "", .header = "If-Match: \"3\""},
        {.path = "/probe/version", .body = "", .header = "If-Match: W/\"4\""},
        {.path = "/probe/version", .body = "", .header = "If-Match: 5"},
        {.path = "/probe/version", .body = "{\"version\":6}"},
        {.path = "/probe/version", .body = "{\"version\":6}", .header = "If-Match: \"7\""},
        {.path = "/probe/version", .body = ""},
        {.path = "/probe/version", .body = "", .header = "If-Match: \"abc\""},
    };

    (void)state;
    run(c, 7);
    expect_version(&c[0], "3");
    expect_version(&c[1], "4");
    expect_version(&c[2], "5");
    expect_version(&c[3], "6");
    expect_version(&c[4], "7");
    expect_version(&c[5], NULL);
    expect_error(&c[6], 400, "bad_request", "If-Match", "If-Match must be a version");
}

/* Each SQLSTATE the generic path knows becomes its status, code and field; the
 * database's own words stay out of data exceptions and internal errors. */
static void test_api__sql_errors_map_to_http(void **state)
{
    struct client c[11] = {
        {.path = "/probe/raise/cl404"},    {.path = "/probe/raise/cl409"},
        {.path = "/probe/raise/cltrn"},    {.path = "/probe/raise/cl422"},
        {.path = "/probe/raise/dup"},      {.path = "/probe/raise/dupown"},
        {.path = "/probe/raise/livename"}, {.path = "/probe/raise/check"},
        {.path = "/probe/raise/fkey"},     {.path = "/probe/raise/div"},
        {.path = "/probe/raise/timeout"},
    };

    (void)state;
    run(c, 11);
    expect_error(&c[0], 404, "not_found", NULL, "widget 7 is gone");
    expect_error(&c[1], 409, "version_conflict", "version", "version 3 is stale");
    expect_error(&c[2], 409, "invalid_transition", "status", "done to done");
    expect_error(&c[3], 422, "validation", "owner", "unknown person zed");
    expect_error(&c[4], 409, "duplicate", "name", "name is already taken");
    expect_error(&c[5], 409, "duplicate", "handle", "handle zed is taken by person 4");
    expect_error(&c[6], 409, "duplicate", NULL, "a unique value is already taken");
    expect_error(&c[7], 422, "validation", "email", "email must be an address");
    expect_error(&c[8], 422, "validation", "owner", "owner refers to something that does not");
    expect_error(&c[9], 422, "validation", NULL, "a value is not valid (request ");
    assert_null(strstr(c[9].reply, "division"));
    expect_error(&c[10], 503, "unavailable", NULL, "nothing was changed");
}

static void test_api__internal_error_names_the_request_not_the_cause(void **state)
{
    struct client c = {.path = "/probe/raise/internal"};
    char want[64];

    (void)state;
    run(&c, 1);
    snprintf(want, sizeof(want), "internal error (request %s)", c.reqid);
    expect_error(&c, 500, "internal", NULL, want);
    assert_null(strstr(c.reply, "nosuchcolumn_zq"));
}

/* API_ONE: a column named etag becomes the ETag header; no row is 404 with the noun. */
static void test_api__one_row_shape(void **state)
{
    struct client c[2] = {{.path = "/probe/raise/etag"}, {.path = "/probe/raise/null"}};

    (void)state;
    run(c, 2);
    expect_status(&c[0], 200);
    assert_string_equal(c[0].reply, "{\"a\": 1}\n");
    assert_string_equal(c[0].etag, "\"7\"");
    expect_error(&c[1], 404, "not_found", NULL, "no widget \"null\"");
}

/* API_LIST: `limit` rows, and next_cursor is the last shown row's cursor only when a
 * row beyond the limit exists. */
static void test_api__list_shape_and_next_cursor(void **state)
{
    struct client c[3] = {{.path = "/probe/list?limit=3"},
                          {.path = "/probe/list?limit=5"},
                          {.path = "/probe/list?limit=9"}};

    (void)state;
    run(c, 3);
    expect_status(&c[0], 200);
    assert_string_equal(c[0].reply, "{\"items\": [{\"n\": 1}, {\"n\": 2}, {\"n\": 3}], "
                                    "\"next_cursor\": \"3\"}\n");
    expect_status(&c[1], 200);
    assert_non_null(strstr(c[1].reply, "{\"n\": 5}], \"next_cursor\": null}"));
    expect_status(&c[2], 200);
    assert_non_null(strstr(c[2].reply, "{\"n\": 5}], \"next_cursor\": null}"));
}

static void test_api__sql_then_hands_the_outcome_to_the_handler(void **state)
{
    struct client c[2] = {{.path = "/probe/then?v=h%C3%A9+llo"}, {.path = "/probe/then"}};

    (void)state;
    run(c, 2);
    expect_status(&c[0], 200);
    assert_string_equal(c[0].rtype, "text/plain");
    assert_string_equal(c[0].reply, "then:h\xc3\xa9 llo");
    expect_error(&c[1], 422, "validation", NULL, "a value is not valid");
}

/* The after function runs once the statement succeeded, never after a failure. */
static void test_api__after_runs_only_on_success(void **state)
{
    struct client c = {.path = "/probe/after", .body = ""};
    struct client f = {.path = "/probe/after?fail=1", .body = ""};
    int before = after_runs;

    (void)state;
    run(&c, 1);
    expect_status(&c, 201);
    assert_int_equal(after_runs, before + 1);
    run(&f, 1);
    expect_status(&f, 422);
    assert_int_equal(after_runs, before + 1);
}

static void test_api__only_the_first_answer_counts(void **state)
{
    struct client c = {.path = "/probe/twice"};

    (void)state;
    run(&c, 1);
    expect_status(&c, 200);
    assert_string_equal(c.reply, "first");
}

/* A handler that never answers is cut by the request deadline (api_set_timeout), or by
 * its own (api_req_set_deadline), with 503; the server is then idle again. */
static void test_api__deadline_answers_a_stalled_handler(void **state)
{
    struct client c = {.path = "/probe/stall"};
    struct client d = {.path = "/probe/stall?deadline=0.1"};

    (void)state;
    api_set_timeout(main_stack.api, 0.2);
    run(&c, 1);
    api_set_timeout(main_stack.api, 5.0);
    expect_error(&c, 503, "unavailable", NULL, "request deadline passed");
    assert_true(c.seconds < 4.0);
    run(&d, 1);
    expect_error(&d, 503, "unavailable", NULL, "request deadline passed");
    assert_true(d.seconds < 4.0);
    settle(&main_stack);
}

/* A client that gives up while its statement runs, or while its handler stalls: the
 * request still ends (statement outcome, deadline) and its context is freed once. */
static void test_api__client_gone_mid_request(void **state)
{
    struct client c[2] = {
        {.path = "/probe/raise/sleep", .timeout_ms = 150},
        {.path = "/probe/stall?deadline=0.4", .timeout_ms = 150},
    };

    (void)state;
    run(c, 2);
    assert_int_equal(c[0].status, 0); /* curl gave up */
    assert_int_equal(c[1].status, 0);
    settle(&main_stack); /* fails unless both abandoned requests end */
}

/* ---- the deadline against a statement held by a row lock ---- */

struct waiter {
    const char *app;
};

static bool waiting_on_lock(void *arg)
{
    const struct waiter *w = arg;
    struct cl_err err = CL_ERR_INIT;
    PGresult *res = NULL;
    bool yes;

    assert_int_equal(db_exec_blocking(&res, pg,
                                      "SELECT count(*) FROM pg_stat_activity"
                                      " WHERE application_name = $1 AND wait_event_type = 'Lock'",
                                      1, (const char *const[]){w->app}, &err),
                     CL_OK);
    yes = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return yes;
}

/* Opens `locker` holding the team's row in an open transaction. */
static void lock_team(const char *name)
{
    struct cl_err err = CL_ERR_INIT;

    assert_int_equal(db_connect_blocking(&locker, dsn, &err), CL_OK);
    assert_int_equal(db_exec_blocking(NULL, locker, "BEGIN", 0, NULL, &err), CL_OK);
    assert_int_equal(db_exec_blocking(NULL, locker,
                                      "SELECT 1 FROM teams WHERE name = $1 FOR UPDATE", 1,
                                      (const char *const[]){name}, &err),
                     CL_OK);
}

static void make_team(const char *name)
{
    char *body = cl_asprintf("{\"name\":\"%s\"}", name);
    char *auth = bearer(write_token);
    struct client c = {.path = "/api/v1/teams", .token = auth, .body = body};

    run(&c, 1);
    expect_status(&c, 201);
    free(body);
    free(auth);
}

/* Pool of one, request deadline 0.2 s, statement_timeout 1 s. A PATCH blocks on a row
 * lock held elsewhere (its token cached, its pool connected); a GET queued behind it passes its
 * deadline unsent and gets 503 at once. The PATCH, already sent, is not cut by its deadline (it
 * might commit): it ends by statement_timeout, 503 "nothing was changed", and indeed nothing
 * changed. Afterwards the same pool serves again. */
static void test_api__deadline_with_a_statement_held_by_a_lock(void **state)
{
    char *name = cl_asprintf("unit-api-%s-lock", tag);
    char *app = cl_asprintf("unit-api-%s-slow", tag);
    char *path = cl_asprintf("/api/v1/teams/%s", name);
    char *patch = cl_asprintf("{\"name\":\"%s-x\"}", name);
    char *auth = bearer(write_token);
    struct waiter w = {app};
    struct client a = {.method = "PATCH", .path = path, .token = auth, .body = patch};
    struct client b = {.path = path, .token = auth};
    struct client warm = {.path = path, .token = auth};
    struct client after = {.path = path, .token = auth};

    (void)state;
    make_team(name);
    assert_int_equal(stack_start(&slow_stack, dsn, 1, 1.0, 0.2, app), 0);
    a.stack = b.stack = warm.stack = after.stack = &slow_stack;
    run(&warm, 1); /* connects the pool and caches the token: A is sent at once */
    expect_status(&warm, 200);
    lock_team(name);
    start(&a);
    drive_until(slow_stack.loop, waiting_on_lock, &w, "the PATCH to wait on the row lock");
    run(&b, 1);
    expect_error(&b, 503, "unavailable", NULL, "request deadline passed");
    assert_true(b.seconds < 0.9); /* answered before statement_timeout */
    finish(&a, 1);
    expect_error(&a, 503, "unavailable", NULL, "nothing was changed");
    assert_true(a.seconds >= 0.9); /* waited for the statement's outcome */
    PQfinish(locker);              /* rolls back: the lock goes */
    locker = NULL;
    run(&after, 1);
    expect_status(&after, 200);
    assert_non_null(strstr(after.reply, name));
    assert_null(strstr(after.reply, "-x\""));
    settle(&slow_stack);
    stack_stop(&slow_stack);
    free(name);
    free(app);
    free(path);
    free(patch);
    free(auth);
}

/* Without CLOSELOOP_TEST_DSN the database tests are reported skipped. */
static void skip_without_database(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_api__dump_is_compact_json),
        cmocka_unit_test(test_api__database_down_is_503_and_healthz_stays_up),
    };
    const struct CMUnitTest with_db[] = {
        cmocka_unit_test(test_api__healthz_answers_json_with_request_id),
        cmocka_unit_test(test_api__readyz_reports_the_schema),
        cmocka_unit_test(test_api__builtins_allow_only_get),
        cmocka_unit_test(test_api__metrics_label_requests_by_route),
        cmocka_unit_test(test_api__missing_token_is_401_with_a_challenge),
        cmocka_unit_test(test_api__bad_tokens_are_401),
        cmocka_unit_test(test_api__revoked_token_is_401),
        cmocka_unit_test(test_api__read_token_cannot_write),
        cmocka_unit_test(test_api__write_token_is_not_admin),
        cmocka_unit_test(test_api__unknown_path_is_404_json),
        cmocka_unit_test(test_api__wrong_method_is_405),
        cmocka_unit_test(test_api__unknown_query_parameter_is_400_naming_it),
        cmocka_unit_test(test_api__bad_query_values_are_400_naming_them),
        cmocka_unit_test(test_api__malformed_json_is_400),
        cmocka_unit_test(test_api__body_that_is_not_json_is_415),
        cmocka_unit_test(test_api__validation_failure_is_422_naming_the_field),
        cmocka_unit_test(test_api__body_over_the_limit_is_413),
        cmocka_unit_test(test_api__create_then_get_round_trip),
        cmocka_unit_test(test_api__list_pages_from_a_cursor),
        cmocka_unit_test(test_api__duplicate_is_409_naming_the_field),
        cmocka_unit_test(test_api__percent_encoded_capture_is_decoded),
        cmocka_unit_test(test_api__unknown_resource_is_404_naming_it),
        cmocka_unit_test(test_api__id_capture_must_be_a_positive_integer),
        cmocka_unit_test(test_api__sync_routes_without_a_tracker),
        cmocka_unit_test(test_api__request_accessors),
        cmocka_unit_test(test_api__version_from_if_match_or_body),
        cmocka_unit_test(test_api__sql_errors_map_to_http),
        cmocka_unit_test(test_api__internal_error_names_the_request_not_the_cause),
        cmocka_unit_test(test_api__one_row_shape),
        cmocka_unit_test(test_api__list_shape_and_next_cursor),
        cmocka_unit_test(test_api__sql_then_hands_the_outcome_to_the_handler),
        cmocka_unit_test(test_api__after_runs_only_on_success),
        cmocka_unit_test(test_api__only_the_first_answer_counts),
        cmocka_unit_test(test_api__deadline_answers_a_stalled_handler),
        cmocka_unit_test(test_api__client_gone_mid_request),
        cmocka_unit_test(test_api__deadline_with_a_statement_held_by_a_lock),
    };
    struct CMUnitTest tests[CL_ARRAY_LEN(alone) + CL_ARRAY_LEN(with_db)];
    size_t i;

    memcpy(tests, alone, sizeof(alone));
    memcpy(tests + CL_ARRAY_LEN(alone), with_db, sizeof(with_db));
    for (i = CL_ARRAY_LEN(alone); getenv("CLOSELOOP_TEST_DSN") == NULL && i < CL_ARRAY_LEN(tests);
         i++)
        tests[i].test_func = skip_without_database;
    return cmocka_run_group_tests(tests, setup, teardown);
}
