/* closeloopd's service: server_migrate() against empty, busy and unreachable databases,
 * and server_run() for real: serving, reloading on SIGHUP, stopping on SIGTERM (and
 * cancelling what is stuck), failing cleanly at start-up. Each database test works in
 * a scratch database of its own, created from CLOSELOOP_TEST_DSN and dropped after, so
 * the shared test database is never touched. A helper thread plays the client and the
 * operator (signals) while server_run() owns the main thread; it never asserts (cmocka
 * is not thread-safe), it records what it saw for the main thread to check. */
#include "closeloop/daemon/server.h"

#include "closeloop/api/auth.h"
#include "closeloop/db/db.h"
#include "closeloop/db/migrate.h"
#include "closeloop/sync/registry.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define WAIT_MAX 20.0 /* seconds any wait in this file may take before it fails */

static PGconn *admin; /* to CLOSELOOP_TEST_DSN: creates and drops the scratch databases */
static int scratch_count;

/* ---- scratch databases ---- */

struct scratch {
    char name[64];
    char dsn[1024];
};

/* Appends key='value' with libpq's quoting (\\ and \'). */
static void dsn_append(char *out, size_t n, const char *key, const char *val)
{
    size_t o = strlen(out);
    const char *p;

    o += (size_t)snprintf(out + o, n - o, "%s='", key);
    for (p = val; *p != '\0' && o + 3 < n; p++) {
        if (*p == '\\' || *p == '\'')
            out[o++] = '\\';
        out[o++] = *p;
    }
    snprintf(out + o, n - o, "' ");
}

/* The test DSN's settings (URI or key=value), with dbname replaced. */
static void dsn_for(char *out, size_t n, const char *dbname)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(getenv("CLOSELOOP_TEST_DSN"), &msg);
    PQconninfoOption *o;

    out[0] = '\0';
    if (opts == NULL)
        fail_msg("CLOSELOOP_TEST_DSN does not parse: %s", msg != NULL ? msg : "?");
    for (o = opts; o->keyword != NULL; o++)
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "dbname") != 0)
            dsn_append(out, n, o->keyword, o->val);
    dsn_append(out, n, "dbname", dbname);
    PQconninfoFree(opts);
}

static void admin_exec(const char *sql)
{
    struct cl_err err = CL_ERR_INIT;

    if (db_exec_blocking(NULL, admin, sql, 0, NULL, &err) != CL_OK)
        fail_msg("%s: %s", sql, err.msg);
}

static void scratch_drop_name(const char *name)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin_exec(sql);
}

/* An empty database (from template0: nothing anyone added to template1). */
static void scratch_new(struct scratch *s)
{
    char sql[160];

    snprintf(s->name, sizeof(s->name), "cl_unit_server_%d_%d", (int)getpid(), ++scratch_count);
    scratch_drop_name(s->name);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0", s->name);
    admin_exec(sql);
    dsn_for(s->dsn, sizeof(s->dsn), s->name);
}

static void scratch_drop(const struct scratch *s)
{
    scratch_drop_name(s->name);
}

static char *scalar(const char *dsn, const char *sql)
{
    struct cl_err err = CL_ERR_INIT;
    PGconn *pg = NULL;
    PGresult *res = NULL;
    char *v;

    assert_int_equal(db_connect_blocking(&pg, dsn, &err), CL_OK);
    if (db_exec_blocking(&res, pg, sql, 0, NULL, &err) != CL_OK)
        fail_msg("%s: %s", sql, err.msg);
    v = cl_strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(pg);
    return v;
}

static void expect_scalar(const char *dsn, const char *sql, const char *want)
{
    char *got = scalar(dsn, sql);

    assert_string_equal(got, want);
    free(got);
}

/* ---- server_migrate ---- */

static void test_server__migrate_applies_everything_once(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct scratch s;
    char want[16];
    int applied = -1;

    (void)state;
    scratch_new(&s);
    assert_int_equal(server_migrate(s.dsn, 5.0, &applied, &err), CL_OK);
    assert_int_equal(applied, migrate_nfiles);
    snprintf(want, sizeof(want), "%d", migrate_latest());
    expect_scalar(s.dsn, migrate_sql_current, want);
    snprintf(want, sizeof(want), "%d", migrate_nfiles);
    expect_scalar(s.dsn, "SELECT count(*) FROM schema_migrations", want);
    expect_scalar(s.dsn, "SELECT count(*) FROM schema_functions", "1");
    applied = -1;
    assert_int_equal(server_migrate(s.dsn, 5.0, &applied, &err), CL_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(err.code, CL_OK);
    scratch_drop(&s);
}

struct migrator {
    const char *dsn;
    int rc;
    int applied;
    struct cl_err err;
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;

    m->rc = server_migrate(m->dsn, 5.0, &m->applied, &m->err);
    return NULL;
}

/* Two instances starting together: the advisory lock lets one migrate; the other then
 * finds nothing to do. Both succeed. */
static void test_server__concurrent_migrations_apply_once(void **state)
{
    struct scratch s;
    struct migrator m[2];
    pthread_t t[2];
    int i;

    (void)state;
    scratch_new(&s);
    for (i = 0; i < 2; i++) {
        m[i] = (struct migrator){.dsn = s.dsn, .rc = 1, .applied = -1, .err = CL_ERR_INIT};
        assert_int_equal(pthread_create(&t[i], NULL, migrate_thread, &m[i]), 0);
    }
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(m[0].rc, CL_OK);
    assert_int_equal(m[1].rc, CL_OK);
    assert_int_equal(m[0].applied + m[1].applied, migrate_nfiles);
    assert_true(m[0].applied == 0 || m[1].applied == 0);
    scratch_drop(&s);
}

/* No server behind the socket: retried for `wait` seconds, then one clear error that
 * names the socket and never the password. */
static void test_server__migrate_unreachable_fails_after_the_wait(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    double t0 = cl_now_mono();
    double took;
    int applied = -1;
    int rc;

    (void)state;
    rc = server_migrate("host=/nonexistent-closeloop-sock dbname=x user=u password=sekrit-pw", 1.2,
                        &applied, &err);
    took = cl_now_mono() - t0;
    assert_int_equal(rc, CL_EDB);
    assert_int_equal(err.code, CL_EDB);
    assert_true(strncmp(err.msg, "database connect: ", 18) == 0);
    assert_non_null(strstr(err.msg, "/nonexistent-closeloop-sock"));
    assert_null(strstr(err.msg, "sekrit-pw"));
    assert_null(strchr(err.msg, '\n'));
    assert_true(took >= 1.2);
    assert_true(took < 1.2 + 3.0); /* one more attempt at most, each failing at once */
}

static void test_server__migrate_without_wait_tries_once(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    double t0 = cl_now_mono();
    int applied = -1;

    (void)state;
    assert_int_equal(
        server_migrate("host=/nonexistent-closeloop-sock dbname=x", 0.0, &applied, &err), CL_EDB);
    assert_true(cl_now_mono() - t0 < 0.9); /* no sleep between attempts */
    assert_true(strncmp(err.msg, "database connect: ", 18) == 0);
}

static void test_server__migrate_malformed_dsn_is_an_error(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    int applied = -1;

    (void)state;
    assert_int_equal(server_migrate("postgresql://[::1", 0.0, &applied, &err), CL_EDB);
    assert_true(strncmp(err.msg, "database connect: ", 18) == 0);
    assert_true(strlen(err.msg) > 18);
}

/* ---- server_run: the helper thread ---- */

struct http {
    long status;
    char body[32768]; /* /metrics is long */
    size_t len;
};

static size_t http_write(char *p, size_t size, size_t n, void *arg)
{
    struct http *h = arg;
    size_t take = size * n;

    if (h->len + take >= sizeof(h->body))
        take = sizeof(h->body) - 1 - h->len;
    memcpy(h->body + h->len, p, take);
    h->len += take;
    h->body[h->len] = '\0';
    return size * n;
}

/* One blocking request; status 0 when there was no answer. */
static void http_do(struct http *out, int port, const char *method, const char *path,
                    const char *token, const char *body)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char line[128];

    memset(out, 0, sizeof(*out));
    snprintf(line, sizeof(line), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, line);
    if (token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, line);
    }
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};

    nanosleep(&ts, NULL);
}

/* Polls /healthz until it answers 200 (server_run() gives no other sign that it is up);
 * false after WAIT_MAX seconds. */
static bool wait_up(int port)
{
    double until = cl_now_mono() + WAIT_MAX;
    struct http r;

    do {
        http_do(&r, port, "GET", "/healthz", NULL, NULL);
        if (r.status == 200)
            return true;
        pause_ms(20);
    } while (cl_now_mono() < until);
    return false;
}

/* The helper thread lets the main thread take the signals it sends: libev's handler
 * then runs where the loop is. */
static void block_stop_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* A port nobody else gets meanwhile: bound (not listening) with SO_REUSEADDR, which
 * still lets httpd bind it with SO_REUSEADDR. Close the fd once the server is up. */
static int reserve_port(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A configuration as closeloopd builds it, for the scratch database. */
static struct conf *conf_for(const char *dsn, int port)
{
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);
    struct conf *c = conf_new_defaults(trackers, n);
    struct cl_err err = CL_ERR_INIT;
    char listen_on[32];

    snprintf(listen_on, sizeof(listen_on), "127.0.0.1:%d", port);
    assert_int_equal(conf_set(c, "database_url", dsn, "test", &err), CL_OK);
    assert_int_equal(conf_set(c, "listen", listen_on, "test", &err), CL_OK);
    assert_int_equal(conf_set(c, "pool_size", "2", "test", &err), CL_OK);
    assert_int_equal(conf_set(c, "shutdown_timeout", "5", "test", &err), CL_OK);
    return c;
}

/* What the helper saw, and how it ends the server. */
struct helper {
    int port;
    const char *dsn;
    const char *token;
    const char *config_path;
    bool up;
    struct http r[6];
    char note[256]; /* the first thing that went wrong, for the main thread */
    pthread_t thread;
};

static void note(struct helper *op, const char *what)
{
    if (op->note[0] == '\0')
        snprintf(op->note, sizeof(op->note), "%s", what);
}

/* Ends server_run() (only once it is known to serve: its handler is installed). */
static void stop_server(struct helper *op)
{
    if (op->up)
        kill(getpid(), SIGTERM);
}

/* ---- server_run: serving and stopping ---- */

static void *serve_then_stop(void *arg)
{
    struct helper *op = arg;

    block_stop_signals();
    op->up = wait_up(op->port);
    if (op->up) {
        http_do(&op->r[0], op->port, "GET", "/readyz", NULL, NULL);
        http_do(&op->r[1], op->port, "GET", "/api/v1/teams", NULL, NULL);
        http_do(&op->r[2], op->port, "GET", "/metrics", NULL, NULL);
    }
    stop_server(op);
    return NULL;
}

/* The value of the in-flight gauge in a /metrics text, or -1. */
static long in_flight(const char *text)
{
    static const char name[] = "\ncloseloop_http_requests_in_flight ";
    const char *p = strstr(text, name);

    return p != NULL ? strtol(p + strlen(name), NULL, 10) : -1;
}

/* server_run() migrates an empty database, serves the API (routes, auth, readiness,
 * metrics) and returns CL_OK on SIGTERM. */
static void test_server__run_serves_then_stops_on_sigterm(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct helper op = {0};
    struct scratch s;
    struct conf *conf;
    int fd;
    char want[64];

    (void)state;
    scratch_new(&s);
    fd = reserve_port(&op.port);
    conf = conf_for(s.dsn, op.port);
    assert_int_equal(pthread_create(&op.thread, NULL, serve_then_stop, &op), 0);
    assert_int_equal(server_run(conf, &err), CL_OK);
    pthread_join(op.thread, NULL);
    close(fd);
    assert_true(op.up);
    assert_int_equal(op.r[0].status, 200);
    snprintf(want, sizeof(want), "\"schema\": %d", migrate_latest());
    assert_non_null(strstr(op.r[0].body, want));
    assert_non_null(strstr(op.r[0].body, "\"status\": \"ready\""));
    assert_int_equal(op.r[1].status, 401);
    assert_int_equal(op.r[2].status, 200);
    assert_true(in_flight(op.r[2].body) >= 1); /* the gauge sees this server's requests */
    assert_non_null(
        strstr(op.r[2].body, "closeloop_db_pool_connections{state=\"configured\"} 2\n"));
    conf_free(conf);
    scratch_drop(&s);
}

/* The PATCH's backend (application_name closeloopd/...) waits on a lock. */
static bool server_waits_on_lock(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT count(*) FROM pg_stat_activity"
                               " WHERE application_name LIKE 'closeloopd/%'"
                               " AND datname = current_database() AND wait_event_type = 'Lock'");
    bool yes = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "1") == 0;

    PQclear(res);
    return yes;
}

static bool wait_lock(PGconn *pg)
{
    double until = cl_now_mono() + WAIT_MAX;

    while (!server_waits_on_lock(pg)) {
        if (cl_now_mono() >= until)
            return false;
        pause_ms(10);
    }
    return true;
}

struct patcher {
    struct helper *op;
    pthread_t thread;
};

static void *patch_team(void *arg)
{
    struct patcher *p = arg;

    http_do(&p->op->r[1], p->op->port, "PATCH", "/api/v1/teams/stuck", p->op->token,
            "{\"name\":\"moved\"}");
    return NULL;
}

/* Holds the team's row, lets a PATCH block on it, then asks the server to stop. */
static void *stop_with_a_stuck_request(void *arg)
{
    struct helper *op = arg;
    struct patcher p = {op, 0};
    PGconn *locker = PQconnectdb(op->dsn);
    PGconn *watch = PQconnectdb(op->dsn); /* outside the transaction: fresh activity */

    block_stop_signals();
    op->up = wait_up(op->port);
    PQclear(PQexec(locker, "BEGIN"));
    PQclear(PQexec(locker, "SELECT 1 FROM teams WHERE name = 'stuck' FOR UPDATE"));
    if (op->up && pthread_create(&p.thread, NULL, patch_team, &p) == 0) {
        if (!wait_lock(watch))
            note(op, "the PATCH never waited on the lock");
        stop_server(op);
        pthread_join(p.thread, NULL);
    } else {
        note(op, "the server did not come up");
    }
    PQfinish(watch);
    PQfinish(locker); /* rolls back */
    return NULL;
}

static char *setup_stuck_team(const char *dsn)
{
    struct cl_err err = CL_ERR_INIT;
    PGconn *pg = NULL;
    char *token = NULL;
    int applied = 0;

    assert_int_equal(server_migrate(dsn, 5.0, &applied, &err), CL_OK);
    assert_int_equal(db_connect_blocking(&pg, dsn, &err), CL_OK);
    assert_int_equal(auth_token_create(&token, pg, "unit-server", AUTH_WRITE, NULL, &err), CL_OK);
    assert_int_equal(
        db_exec_blocking(NULL, pg, "SELECT cl_team_create('{\"name\":\"stuck\"}')", 0, NULL, &err),
        CL_OK);
    PQfinish(pg);
    return token;
}

/* SIGTERM with a request stuck on a lock: after shutdown_timeout the server cancels the
 * statement, the client gets 503 "nothing was changed" (true: the row is as it was),
 * and server_run() returns CL_OK instead of waiting for the lock. */
static void test_server__run_shutdown_cancels_a_stuck_statement(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct helper op = {0};
    struct scratch s;
    struct conf *conf;
    char *token;
    int fd;

    (void)state;
    scratch_new(&s);
    token = setup_stuck_team(s.dsn);
    fd = reserve_port(&op.port);
    conf = conf_for(s.dsn, op.port);
    assert_int_equal(conf_set(conf, "shutdown_timeout", "0.3", "test", &err), CL_OK);
    assert_int_equal(conf_set(conf, "request_timeout", "60", "test", &err), CL_OK);
    op.dsn = s.dsn;
    op.token = token;
    assert_int_equal(pthread_create(&op.thread, NULL, stop_with_a_stuck_request, &op), 0);
    assert_int_equal(server_run(conf, &err), CL_OK);
    pthread_join(op.thread, NULL);
    close(fd);
    if (op.note[0] != '\0')
        fail_msg("%s", op.note);
    assert_int_equal(op.r[1].status, 503);
    assert_non_null(strstr(op.r[1].body, "nothing was changed"));
    expect_scalar(s.dsn, "SELECT string_agg(name, ',') FROM teams", "stuck");
    free(token);
    conf_free(conf);
    scratch_drop(&s);
}

/* ---- server_run: SIGHUP ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* Posts a 3000-byte body until the status is `want` (a reload is asynchronous). */
static bool wait_status(struct http *r, int port, const char *body, long want)
{
    double until = cl_now_mono() + WAIT_MAX;

    do {
        http_do(r, port, "POST", "/api/v1/teams", NULL, body);
        if (r->status == want)
            return true;
        pause_ms(20);
    } while (cl_now_mono() < until);
    return false;
}

static void *reload_then_stop(void *arg)
{
    struct helper *op = arg;
    char *big = cl_calloc(1, 3001);

    memset(big, ' ', 3000);
    big[0] = '{';
    big[2999] = '}';
    block_stop_signals();
    op->up = wait_up(op->port);
    if (!op->up)
        note(op, "the server did not come up");
    if (op->up && !wait_status(&op->r[0], op->port, big, 401))
        note(op, "a 3000-byte body was refused before the reload");
    write_file(op->config_path, "max_body = 2048\nrequest_timeout = 7\npool_size = 5\n");
    if (op->up)
        kill(getpid(), SIGHUP);
    if (op->up && !wait_status(&op->r[1], op->port, big, 413))
        note(op, "max_body = 2048 never took effect");
    /* A file that does not parse changes nothing, not even its valid lines. The HUP is
     * handled before the TERM that follows it (signals are taken lowest first, and the
     * loop stops only on the drain timer's next run). */
    write_file(op->config_path, "max_body = 1024\nrequest_timeout = banana\n");
    if (op->up)
        kill(getpid(), SIGHUP);
    stop_server(op);
    free(big);
    return NULL;
}

/* SIGHUP re-reads the file: reloadable keys apply to the running server and land in
 * the caller's conf; pool_size (not reloadable) stays; a bad file is refused whole and
 * the server goes on with what it had. */
static void test_server__run_reloads_on_sighup(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct helper op = {0};
    struct scratch s;
    struct conf *conf;
    char path[] = "/tmp/cl-unit-server-XXXXXX";
    int tmp = mkstemp(path);
    int fd;

    (void)state;
    assert_true(tmp >= 0);
    close(tmp);
    write_file(path, "max_body = 1048576\nrequest_timeout = 5\n");
    scratch_new(&s);
    fd = reserve_port(&op.port);
    conf = conf_for(s.dsn, op.port);
    assert_int_equal(conf_load_file(conf, path, &err), CL_OK); /* records config_path */
    assert_string_equal(conf->config_path, path);
    op.config_path = path;
    assert_int_equal(pthread_create(&op.thread, NULL, reload_then_stop, &op), 0);
    assert_int_equal(server_run(conf, &err), CL_OK);
    pthread_join(op.thread, NULL);
    close(fd);
    unlink(path);
    if (op.note[0] != '\0')
        fail_msg("%s", op.note);
    assert_int_equal(conf->max_body, 2048);
    assert_true(conf->request_timeout > 6.99 && conf->request_timeout < 7.01);
    assert_int_equal(conf->pool_size, 2);
    conf_free(conf);
    scratch_drop(&s);
}

/* ---- server_run: start-up failures ---- */

/* The port is taken: server_run() returns the listen error (after migrating) instead of
 * serving or hanging, and frees what it started (the leak check runs at exit). */
static void test_server__run_fails_cleanly_when_the_port_is_taken(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct scratch s;
    struct conf *conf;
    int port = 0;
    int fd;
    char want[48];

    (void)state;
    scratch_new(&s);
    fd = reserve_port(&port);
    assert_int_equal(listen(fd, 1), 0);
    conf = conf_for(s.dsn, port);
    assert_int_equal(server_run(conf, &err), CL_EIO);
    snprintf(want, sizeof(want), "listen 127.0.0.1:%d", port);
    assert_non_null(strstr(err.msg, want));
    close(fd);
    conf_free(conf);
    scratch_drop(&s);
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    const char *dsn = getenv("CLOSELOOP_TEST_DSN");

    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (dsn != NULL && (db_connect_blocking(&admin, dsn, &err) != CL_OK ||
                        db_exec_blocking(NULL, admin, "SET client_min_messages = warning", 0, NULL,
                                         &err) != CL_OK)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Drops the scratch databases a failed test left behind. */
static int teardown(void **state)
{
    char name[64];
    int i;

    (void)state;
    for (i = 1; admin != NULL && i <= scratch_count; i++) {
        snprintf(name, sizeof(name), "cl_unit_server_%d_%d", (int)getpid(), i);
        scratch_drop_name(name);
    }
    PQfinish(admin);
    curl_global_cleanup();
    return 0;
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
        cmocka_unit_test(test_server__migrate_unreachable_fails_after_the_wait),
        cmocka_unit_test(test_server__migrate_without_wait_tries_once),
        cmocka_unit_test(test_server__migrate_malformed_dsn_is_an_error),
    };
    const struct CMUnitTest with_db[] = {
        cmocka_unit_test(test_server__migrate_applies_everything_once),
        cmocka_unit_test(test_server__concurrent_migrations_apply_once),
        cmocka_unit_test(test_server__run_serves_then_stops_on_sigterm),
        cmocka_unit_test(test_server__run_shutdown_cancels_a_stuck_statement),
        cmocka_unit_test(test_server__run_reloads_on_sighup),
        cmocka_unit_test(test_server__run_fails_cleanly_when_the_port_is_taken),
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
