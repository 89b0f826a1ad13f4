/* The libcurl-on-libev client against servers inside this process: a libmicrohttpd daemon
 * on 127.0.0.1 (one thread per connection, so a sleeping handler blocks nobody) and, for
 * answers libmicrohttpd will not produce, a raw socket that replays canned bytes. */
#include "closeloop/util/http.h"

#include "closeloop/util/buf.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define BIG_LEN 100000

/* ---- the libmicrohttpd server ------------------------------------------------------------ */

struct seen_req { /* what /echo received last */
    char method[16];
    char ua[128];
    char custom[128];
    char ctype[64];
    char expect[64];
    char *body;
    size_t body_len;
    int hits;
};

static struct MHD_Daemon *srv;
static int srv_port;
static atomic_int srv_stopping;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seen_req seen;

static void copy_value(char *dst, size_t n, struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    snprintf(dst, n, "%s", v != NULL ? v : "(none)");
}

static void srv_record(struct MHD_Connection *conn, const char *method, const struct buf *body)
{
    pthread_mutex_lock(&seen_mu);
    snprintf(seen.method, sizeof(seen.method), "%s", method);
    copy_value(seen.ua, sizeof(seen.ua), conn, "User-Agent");
    copy_value(seen.custom, sizeof(seen.custom), conn, "X-Custom");
    copy_value(seen.ctype, sizeof(seen.ctype), conn, "Content-Type");
    copy_value(seen.expect, sizeof(seen.expect), conn, "Expect");
    free(seen.body);
    seen.body = cl_malloc(body->len + 1);
    memcpy(seen.body, body->data != NULL ? body->data : "", body->len);
    seen.body[body->len] = '\0';
    seen.body_len = body->len;
    seen.hits++;
    pthread_mutex_unlock(&seen_mu);
}

/* Hands over what /echo saw and resets it; the caller frees .body. Asserts come after the
 * lock is released, because a failing one jumps away and the server thread needs it. */
static struct seen_req seen_take(void)
{
    struct seen_req s;

    pthread_mutex_lock(&seen_mu);
    s = seen;
    memset(&seen, 0, sizeof(seen));
    pthread_mutex_unlock(&seen_mu);
    return s;
}

static ssize_t srv_big_chunk(void *cls, uint64_t pos, char *out, size_t max)
{
    size_t n = max < 4096 ? max : 4096;

    (void)cls;
    if (pos >= BIG_LEN)
        return MHD_CONTENT_READER_END_OF_STREAM;
    memset(out, 'y', n);
    return (ssize_t)n;
}

static void srv_nap(double seconds)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    int i;

    for (i = 0; i < (int)(seconds * 100) && !atomic_load(&srv_stopping); i++)
        nanosleep(&ts, NULL);
}

static struct MHD_Response *srv_route(struct MHD_Connection *conn, const char *url,
                                      const char *method, const struct buf *body,
                                      unsigned int *status)
{
    static char big[BIG_LEN];
    struct MHD_Response *r;

    *status = MHD_HTTP_OK;
    if (strcmp(url, "/echo") == 0) {
        srv_record(conn, method, body);
        *status = MHD_HTTP_CREATED;
        return MHD_create_response_from_buffer(6, (void *)"echoed", MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/status/404") == 0 || strcmp(url, "/status/500") == 0) {
        *status = url[8] == '4' ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR;
        return MHD_create_response_from_buffer(4, (void *)"nope", MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/redirect") == 0) {
        *status = MHD_HTTP_MOVED_PERMANENTLY;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/hello");
        return r;
    }
    if (strcmp(url, "/sleep") == 0)
        srv_nap(1.0);
    if (strcmp(url, "/big") == 0) {
        memset(big, 'x', sizeof(big));
        return MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_MUST_COPY);
    }
    if (strcmp(url, "/bigchunked") == 0) /* no Content-Length: only the write cap can stop it */
        return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, srv_big_chunk, NULL, NULL);
    if (strcmp(url, "/empty") == 0)
        return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    r = MHD_create_response_from_buffer(11, (void *)"hello world", MHD_RESPMEM_PERSISTENT);
    if (MHD_add_response_header(r, "X-Test", " \t padded value  ") != MHD_YES)
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR; /* no cmocka asserts off the test thread */
    MHD_add_response_header(r, "Content-Type", "text/plain");
    return r;
}

static enum MHD_Result srv_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    struct buf *body = *con_cls;
    struct MHD_Response *resp;
    unsigned int status;
    enum MHD_Result ret;

    (void)cls;
    (void)version;
    if (body == NULL) {
        body = cl_calloc(1, sizeof(*body));
        buf_init(body);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        buf_append(body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    resp = srv_route(conn, url, method, body, &status);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct buf *body = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (body != NULL)
        buf_dispose(body);
    free(body);
    *con_cls = NULL;
}

static int group_setup(void **state)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                           NULL, srv_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_NOTIFY_COMPLETED, srv_completed, NULL, MHD_OPTION_END);
    if (srv == NULL)
        return -1;
    info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        return -1;
    srv_port = info->port;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    atomic_store(&srv_stopping, 1);
    MHD_stop_daemon(srv);
    free(seen.body);
    seen.body = NULL;
    return 0;
}

/* ---- a raw server that replays canned bytes once ----------------------------------------- */

struct raw_srv {
    int fd;
    int port;
    const char *reply;
    pthread_t thread;
};

static void *raw_main(void *arg)
{
    struct raw_srv *rs = arg;
    char req[8192];
    size_t len = 0;
    ssize_t n;
    int conn = accept(rs->fd, NULL, NULL);

    if (conn < 0)
        return NULL;
    while (len < sizeof(req) - 1) { /* read the whole request head before answering */
        n = read(conn, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    n = write(conn, rs->reply, strlen(rs->reply));
    (void)n;
    shutdown(conn, SHUT_WR);
    close(conn);
    return NULL;
}

/* Binds 127.0.0.1:0; with listening false the port is closed again (connection refused). */
static int raw_bind(bool listening, int *port_out)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port_out = ntohs(sa.sin_port);
    if (!listening) {
        close(fd);
        return -1;
    }
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void raw_start(struct raw_srv *rs, const char *reply)
{
    rs->reply = reply;
    rs->fd = raw_bind(true, &rs->port);
    assert_int_equal(pthread_create(&rs->thread, NULL, raw_main, rs), 0);
}

static void raw_join(struct raw_srv *rs)
{
    pthread_join(rs->thread, NULL);
    close(rs->fd);
}

/* ---- the client side ---------------------------------------------------------------------- */

struct got {
    int calls;
    int code;
    long status;
    char error[256];
    char *body;
    size_t body_len;
    size_t nheaders;
    bool names_lower;
    char xtest[64];
    char xtest_any_case[64];
    char location[64];
    char xlate[64];
    char xfold[64];
    bool xearly;
    double seconds;
};

static struct ev_loop *loop;
static struct http_client *client;
static int pending; /* callbacks still expected; the loop stops at 0 */

static void copy_header(char *dst, size_t n, const struct http_response *r, const char *name)
{
    const char *v = http_response_header(r, name);

    snprintf(dst, n, "%s", v != NULL ? v : "(none)");
}

static void got_record(struct got *g, const struct http_response *r)
{
    size_t i;
    const char *p;

    g->calls++;
    g->code = r->code;
    g->status = r->status;
    g->seconds = r->seconds;
    snprintf(g->error, sizeof(g->error), "%s", r->error);
    free(g->body);
    assert_non_null(r->body);
    assert_int_equal(r->body[r->body_len], '\0');
    g->body = cl_strndup(r->body, r->body_len);
    g->body_len = r->body_len;
    g->nheaders = r->nheaders;
    g->names_lower = true;
    for (i = 0; i < r->nheaders; i++) {
        for (p = r->headers[i].name; *p != '\0'; p++)
            g->names_lower = g->names_lower && !(*p >= 'A' && *p <= 'Z');
    }
    copy_header(g->xtest, sizeof(g->xtest), r, "x-test");
    copy_header(g->xtest_any_case, sizeof(g->xtest_any_case), r, "X-TeSt");
    copy_header(g->location, sizeof(g->location), r, "LOCATION");
    copy_header(g->xlate, sizeof(g->xlate), r, "X-Late");
    copy_header(g->xfold, sizeof(g->xfold), r, "X-Fold");
    g->xearly = http_response_header(r, "x-early") != NULL;
}

static void on_done(const struct http_response *r, void *arg)
{
    got_record(arg, r);
    if (--pending == 0)
        ev_break(loop, EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    bool *fired = w->data;

    (void)revents;
    *fired = true;
    ev_break(l, EVBREAK_ALL);
}

/* Runs the loop until `pending` callbacks came; false if `seconds` passed first. */
static bool run_until_done(double seconds)
{
    ev_timer guard;
    bool fired = false;

    ev_timer_init(&guard, guard_cb, seconds, 0.0);
    guard.data = &fired;
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    return !fired && pending == 0;
}

/* Runs the loop for `seconds`, whatever happens. */
static void run_for(double seconds)
{
    int saved = pending;

    pending = 1000000;
    run_until_done(seconds);
    pending = saved;
}

static struct http_opts opts_for(const char *method, const char *path, char *url, size_t n)
{
    struct http_opts o;

    memset(&o, 0, sizeof(o));
    snprintf(url, n, "http://127.0.0.1:%d%s", srv_port, path);
    o.method = method;
    o.url = url;
    return o;
}

/* One request, run to completion. */
static void fetch(struct got *g, struct http_opts *o)
{
    pending = 1;
    assert_non_null(http_send(client, o, on_done, g));
    assert_int_equal(g->calls, 0);
    assert_true(run_until_done(5.0));
    assert_int_equal(g->calls, 1);
}

static void got_dispose(struct got *g)
{
    free(g->body);
    g->body = NULL;
}

static int setup(void **state)
{
    (void)state;
    loop = ev_loop_new(EVFLAG_AUTO);
    client = http_client_new(loop, "closeloop-test/1.0");
    pending = 0;
    return loop != NULL && client != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_client_free(client);
    client = NULL;
    ev_loop_destroy(loop);
    loop = NULL;
    return 0;
}

/* ---- cases ------------------------------------------------------------------------------- */

static void test_http__get_200_body_and_headers(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/hello", url, sizeof(url));
    struct got g = {0};

    (void)state;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_string_equal(g.error, "");
    assert_int_equal(g.status, 200);
    assert_int_equal(g.body_len, 11);
    assert_string_equal(g.body, "hello world");
    assert_string_equal(g.xtest, "padded value");
    assert_string_equal(g.xtest_any_case, "padded value");
    assert_true(g.names_lower);
    assert_true(g.nheaders >= 3); /* x-test, content-type, content-length at least */
    assert_true(g.seconds >= 0.0 && g.seconds < 5.0);
    got_dispose(&g);
}

static void send_json(const char *method)
{
    static const char *const headers[] = {"Content-Type: application/json",
                                          "X-Custom:  custom value", "Authorization: Bearer t0k3n",
                                          NULL};
    const char *json = "{\"title\":\"caf\xc3\xa9\",\"n\":1}TRAILING-NOT-SENT";
    size_t json_len = strlen(json) - strlen("TRAILING-NOT-SENT");
    char url[128];
    struct http_opts o = opts_for(method, "/echo", url, sizeof(url));
    struct got g = {0};
    struct seen_req s;

    o.headers = headers;
    o.body = json;
    o.body_len = json_len;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 201);
    assert_string_equal(g.body, "echoed");
    s = seen_take();
    assert_int_equal(s.hits, 1);
    assert_string_equal(s.method, method);
    assert_int_equal(s.body_len, json_len);
    assert_memory_equal(s.body, json, json_len);
    assert_string_equal(s.custom, "custom value");
    assert_string_equal(s.ctype, "application/json");
    assert_string_equal(s.ua, "closeloop-test/1.0");
    assert_string_equal(s.expect, "(none)");
    free(s.body);
    got_dispose(&g);
}

static void test_http__post_json_body_and_headers_arrive(void **state)
{
    (void)state;
    send_json("POST");
}

static void test_http__patch_json_body_and_headers_arrive(void **state)
{
    (void)state;
    send_json("PATCH");
}

static void test_http__put_and_delete_methods_arrive(void **state)
{
    char url[128];
    struct http_opts o = opts_for("DELETE", "/echo", url, sizeof(url));
    struct got g = {0};
    struct seen_req s;

    (void)state;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    s = seen_take();
    assert_int_equal(s.hits, 1);
    assert_string_equal(s.method, "DELETE");
    assert_int_equal(s.body_len, 0);
    free(s.body);
    got_dispose(&g);
    send_json("PUT");
}

static char pattern_at(size_t i)
{
    return (char)('a' + i % 26);
}

/* Over 1 MiB curl would ask for 100-continue unless told not to. The caller's copy of the
 * body is freed right after http_send(): the client must have its own. */
static void test_http__large_body_copied_and_sent_without_expect(void **state)
{
    size_t len = 3 * 1024 * 1024 / 2;
    char *body = cl_malloc(len);
    char url[128];
    struct http_opts o = opts_for("POST", "/echo", url, sizeof(url));
    struct got g = {0};
    struct seen_req s;
    size_t bad = 0;
    size_t i;

    (void)state;
    for (i = 0; i < len; i++)
        body[i] = pattern_at(i);
    o.body = body;
    o.body_len = len;
    pending = 1;
    assert_non_null(http_send(client, &o, on_done, &g));
    free(body);
    assert_true(run_until_done(10.0));
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 201);
    s = seen_take();
    assert_string_equal(s.expect, "(none)");
    assert_int_equal(s.body_len, len);
    for (i = 0; i < len; i++)
        bad += s.body[i] != pattern_at(i);
    assert_int_equal(bad, 0);
    free(s.body);
    got_dispose(&g);
}

static void test_http__404_and_500_are_ok(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/status/404", url, sizeof(url));
    struct got g = {0};

    (void)state;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 404);
    assert_string_equal(g.body, "nope");
    got_dispose(&g);
    memset(&g, 0, sizeof(g));
    o = opts_for("GET", "/status/500", url, sizeof(url));
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_string_equal(g.error, "");
    assert_int_equal(g.status, 500);
    got_dispose(&g);
}

static void test_http__empty_body_is_empty_string(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/empty", url, sizeof(url));
    struct got g = {0};

    (void)state;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.body_len, 0);
    assert_string_equal(g.body, "");
    got_dispose(&g);
}

static void test_http__redirect_not_followed(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/redirect", url, sizeof(url));
    struct got g = {0};

    (void)state;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 301);
    assert_string_equal(g.location, "/hello");
    assert_string_not_equal(g.body, "hello world");
    got_dispose(&g);
}

static void test_http__timeout(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/sleep", url, sizeof(url));
    struct got g = {0};

    (void)state;
    o.timeout = 0.2;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_ETIMEOUT);
    assert_true(strlen(g.error) > 0);
    assert_null(strchr(g.error, '\n'));
    assert_int_equal(g.body_len, 0);
    assert_true(g.seconds >= 0.15 && g.seconds < 0.9);
    got_dispose(&g);
}

static void test_http__connection_refused(void **state)
{
    char url[128];
    struct http_opts o;
    struct got g = {0};
    int port;

    (void)state;
    raw_bind(false, &port);
    memset(&o, 0, sizeof(o));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    o.method = "GET";
    o.url = url;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_EHTTP);
    assert_int_equal(g.status, 0);
    assert_true(strlen(g.error) > 0);
    assert_null(strchr(g.error, '\n'));
    got_dispose(&g);
}

static void test_http__oversize_body(void **state)
{
    const char *paths[] = {"/big", "/bigchunked"}; /* with and without Content-Length */
    char url[128];
    struct http_opts o;
    struct got g;
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(paths); i++) {
        memset(&g, 0, sizeof(g));
        o = opts_for("GET", paths[i], url, sizeof(url));
        o.max_response = 1000;
        fetch(&g, &o);
        assert_int_equal(g.code, CL_EHTTP);
        assert_string_equal(g.error, "response larger than 1000 bytes");
        assert_int_equal(g.body_len, 0);
        got_dispose(&g);
    }
    memset(&g, 0, sizeof(g)); /* the same answer fits under a larger cap */
    o = opts_for("GET", "/big", url, sizeof(url));
    o.max_response = BIG_LEN;
    fetch(&g, &o);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.body_len, BIG_LEN);
    got_dispose(&g);
}

static void test_http__fifty_concurrent_complete_once(void **state)
{
    enum { N = 50 };
    static struct got gs[N];
    char url[128];
    struct http_opts o = opts_for("GET", "/hello", url, sizeof(url));
    struct http_stats st;
    int i;

    (void)state;
    memset(gs, 0, sizeof(gs));
    pending = N;
    for (i = 0; i < N; i++)
        assert_non_null(http_send(client, &o, on_done, &gs[i]));
    http_client_stats(client, &st);
    assert_int_equal(st.active, N);
    assert_true(run_until_done(10.0));
    run_for(0.05); /* nothing more arrives */
    for (i = 0; i < N; i++) {
        assert_int_equal(gs[i].calls, 1);
        assert_int_equal(gs[i].code, CL_OK);
        assert_int_equal(gs[i].status, 200);
        assert_string_equal(gs[i].body, "hello world");
        got_dispose(&gs[i]);
    }
    http_client_stats(client, &st);
    assert_int_equal(st.requests, N);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.active, 0);
}

static void test_http__cancel_means_no_callback(void **state)
{
    char url[128];
    char url2[128];
    struct http_opts slow = opts_for("GET", "/sleep", url, sizeof(url));
    struct http_opts fast = opts_for("GET", "/hello", url2, sizeof(url2));
    struct got before = {0};
    struct got during = {0};
    struct got other = {0};
    struct http_request *r;
    struct http_stats st;

    (void)state;
    http_cancel(NULL);
    /* Cancelled before the loop ever ran it. */
    http_cancel(http_send(client, &fast, on_done, &before));
    /* Cancelled mid-transfer, while the server sleeps. */
    r = http_send(client, &slow, on_done, &during);
    run_for(0.2);
    http_client_stats(client, &st);
    assert_int_equal(st.active, 1);
    http_cancel(r);
    fetch(&other, &fast); /* the client still works */
    assert_int_equal(other.code, CL_OK);
    run_for(1.2); /* past the server's sleep */
    assert_int_equal(before.calls, 0);
    assert_int_equal(during.calls, 0);
    http_client_stats(client, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.active, 0);
    got_dispose(&other);
}

/* The loop returns at once when no watcher of ours is left; the guard is not counted. */
static bool loop_is_idle(void)
{
    ev_timer guard;
    bool fired = false;

    ev_timer_init(&guard, guard_cb, 2.0, 0.0);
    guard.data = &fired;
    ev_timer_start(loop, &guard);
    ev_unref(loop);
    ev_run(loop, 0);
    ev_ref(loop);
    ev_timer_stop(loop, &guard);
    return !fired;
}

static void test_http__free_with_requests_in_flight(void **state)
{
    char url[128];
    char url2[128];
    struct http_opts slow = opts_for("GET", "/sleep", url, sizeof(url));
    struct http_opts bad = opts_for("GET", "/x", url2, sizeof(url2));
    struct got g[5];
    int i;

    (void)state;
    memset(g, 0, sizeof(g));
    bad.url = "gopher://127.0.0.1/";
    for (i = 0; i < 3; i++)
        http_send(client, &slow, on_done, &g[i]);
    run_for(0.2);                             /* connected, waiting for answers */
    http_send(client, &bad, on_done, &g[3]);  /* failure queued for the loop */
    http_send(client, &slow, on_done, &g[4]); /* not started yet */
    http_client_free(client);
    client = NULL;
    assert_true(loop_is_idle());
    for (i = 0; i < 5; i++)
        assert_int_equal(g[i].calls, 0);
}

static void on_done_free_client(const struct http_response *r, void *arg)
{
    got_record(arg, r);
    http_client_free(client);
    client = NULL;
    pending = 0;
    ev_break(loop, EVBREAK_ALL);
}

static void test_http__free_from_inside_done(void **state)
{
    char url[128];
    struct http_opts o = opts_for("GET", "/hello", url, sizeof(url));
    struct got g[3];
    int i;

    (void)state;
    memset(g, 0, sizeof(g));
    for (i = 0; i < 3; i++)
        http_send(client, &o, on_done_free_client, &g[i]);
    pending = 1;
    assert_true(run_until_done(5.0));
    assert_null(client);
    assert_int_equal(g[0].calls + g[1].calls + g[2].calls, 1);
    assert_true(loop_is_idle());
    for (i = 0; i < 3; i++)
        got_dispose(&g[i]);
}

static void test_http__done_never_called_inside_send(void **state)
{
    static const char *const crlf[] = {"X-Evil: a\r\nX-Injected: b", NULL};
    const char *urls[] = {"not a url", "ftp://127.0.0.1/",     "http://", "http://[::1/",
                          "",          "http://127.0.0.1:1/ok"};
    struct got g[CL_ARRAY_LEN(urls) + 1];
    struct http_opts o;
    struct http_stats st;
    size_t i;

    (void)state;
    memset(g, 0, sizeof(g));
    memset(&o, 0, sizeof(o));
    o.method = "GET";
    pending = (int)CL_ARRAY_LEN(g);
    for (i = 0; i < CL_ARRAY_LEN(urls); i++) {
        o.url = urls[i];
        o.headers = i == CL_ARRAY_LEN(urls) - 1 ? crlf : NULL;
        assert_non_null(http_send(client, &o, on_done, &g[i]));
        assert_int_equal(g[i].calls, 0);
    }
    o.url = "http://127.0.0.1:1/"; /* nothing listens on port 1 */
    o.headers = NULL;
    assert_non_null(http_send(client, &o, on_done, &g[i]));
    assert_int_equal(g[i].calls, 0);
    assert_true(run_until_done(5.0));
    for (i = 0; i < CL_ARRAY_LEN(g); i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].code, CL_EHTTP);
        assert_true(strlen(g[i].error) > 0);
        assert_int_equal(g[i].status, 0);
        got_dispose(&g[i]);
    }
    http_client_stats(client, &st);
    assert_int_equal(st.requests, CL_ARRAY_LEN(g));
    assert_int_equal(st.failures, CL_ARRAY_LEN(g));
    assert_int_equal(st.active, 0);
}

static void test_http__new_status_line_resets_headers(void **state)
{
    struct raw_srv rs;
    char url[128];
    struct http_opts o;
    struct got g = {0};

    (void)state;
    raw_start(&rs, "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Late: \t v  \r\n"
                   "X-Fold: a\r\n  b\r\nConnection: close\r\n\r\nok");
    memset(&o, 0, sizeof(o));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rs.port);
    o.method = "POST";
    o.url = url;
    o.body = "x";
    o.body_len = 1;
    fetch(&g, &o);
    raw_join(&rs);
    assert_int_equal(g.code, CL_OK);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "ok");
    assert_false(g.xearly);
    assert_string_equal(g.xlate, "v");
    assert_string_equal(g.xfold, "a b");
    assert_int_equal(g.nheaders, 4);
    got_dispose(&g);
}

static void expect_header_failure(const char *reply, const char *error)
{
    struct raw_srv rs;
    char url[128];
    struct http_opts o;
    struct got g = {0};

    raw_start(&rs, reply);
    memset(&o, 0, sizeof(o));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rs.port);
    o.method = "GET";
    o.url = url;
    fetch(&g, &o);
    raw_join(&rs);
    assert_int_equal(g.code, CL_EHTTP);
    assert_string_equal(g.error, error);
    got_dispose(&g);
}

static void test_http__response_headers_are_bounded(void **state)
{
    struct buf b;
    int i;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for (i = 0; i < 100; i++)
        buf_printf(&b, "X-H%d: v\r\n", i);
    buf_puts(&b, "\r\n");
    expect_header_failure(b.data, "more than 100 response headers");
    buf_dispose(&b);
    buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Long: ");
    for (i = 0; i < 9000; i++)
        buf_puts(&b, "a");
    buf_puts(&b, "\r\n\r\n");
    expect_header_failure(b.data, "response header longer than 8192 bytes");
    buf_dispose(&b);
}

static void test_http__stats_count_failures(void **state)
{
    char url[128];
    struct http_opts ok = opts_for("GET", "/status/404", url, sizeof(url));
    struct http_opts bad;
    struct http_stats st;
    struct got g[2];

    (void)state;
    memset(g, 0, sizeof(g));
    bad = ok;
    bad.url = "ftp://x/";
    http_client_stats(client, &st);
    assert_int_equal(st.requests, 0);
    pending = 2;
    http_send(client, &ok, on_done, &g[0]);
    http_send(client, &bad, on_done, &g[1]);
    http_client_stats(client, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.active, 2);
    assert_int_equal(st.failures, 0);
    assert_true(run_until_done(5.0));
    http_client_stats(client, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.failures, 1); /* the 404 is a success */
    got_dispose(&g[0]);
    got_dispose(&g[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_http__get_200_body_and_headers),
        T(test_http__post_json_body_and_headers_arrive),
        T(test_http__patch_json_body_and_headers_arrive),
        T(test_http__put_and_delete_methods_arrive),
        T(test_http__large_body_copied_and_sent_without_expect),
        T(test_http__404_and_500_are_ok),
        T(test_http__empty_body_is_empty_string),
        T(test_http__redirect_not_followed),
        T(test_http__timeout),
        T(test_http__connection_refused),
        T(test_http__oversize_body),
        T(test_http__fifty_concurrent_complete_once),
        T(test_http__cancel_means_no_callback),
        T(test_http__free_with_requests_in_flight),
        T(test_http__free_from_inside_done),
        T(test_http__done_never_called_inside_send),
        T(test_http__new_status_line_resets_headers),
        T(test_http__response_headers_are_bounded),
        T(test_http__stats_count_failures),
#undef T
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
