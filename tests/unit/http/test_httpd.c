/* The HTTP server on a real loop and socket: a client thread (blocking libcurl) talks to
 * httpd while the main thread runs the loop. */
#include "closeloop/http/httpd.h"

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
#include <cmocka.h>

static struct ev_loop *loop;
static struct httpd *server;
static int port;
static struct httpd_req *parked; /* a request answered later, from a timer */
static ev_timer later;

struct client {
    atomic_int done; /* set by the client thread: libev itself is not thread-safe */
    const char *path;
    const char *body;
    long status;
    char reply[512];
    size_t len;
};

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

static void *client_run(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "X-Test: yes");
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    if (c->body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    atomic_store(&c->done, 1);
    return NULL;
}

static void on_later(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    httpd_reply(parked, 202, "text/plain", cl_strdup("later"), 5);
    parked = NULL;
}

/* Echoes what it saw; /later answers from a timer (the connection is suspended). */
static void handler(struct httpd_req *r, void *arg)
{
    char *out;
    size_t len;
    const char *body = httpd_req_body(r, &len);

    (void)arg;
    if (strcmp(httpd_req_path(r), "/later") == 0) {
        parked = r;
        ev_timer_init(&later, on_later, 0.05, 0);
        ev_timer_start(loop, &later);
        return;
    }
    if (httpd_req_too_large(r)) {
        httpd_reply(r, 413, "text/plain", cl_strdup("big"), 3);
        return;
    }
    out = cl_asprintf("%s %s q=%s h=%s body=%.*s", httpd_req_method(r), httpd_req_path(r),
                      httpd_req_query(r, "q") ? httpd_req_query(r, "q") : "-",
                      httpd_req_header(r, "X-Test") ? httpd_req_header(r, "X-Test") : "-", (int)len,
                      body);
    httpd_reply(r, 200, "text/plain", out, strlen(out));
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
}

/* Runs the loop until the client thread is done (bounded: 10 s of ticks). */
static void talk(struct client *c)
{
    pthread_t t;
    ev_timer tick;
    int n = 0;

    ev_timer_init(&tick, on_tick, 0.01, 0.01); /* the loop wakes to check `done` */
    ev_timer_start(loop, &tick);
    assert_int_equal(pthread_create(&t, NULL, client_run, c), 0);
    while (!atomic_load(&c->done) && n++ < 1000)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    pthread_join(t, NULL);
}

static int setup(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct httpd_opts o = {
        .listen = "127.0.0.1:0", .max_body = 64, .max_connections = 16, .handler = handler};

    (void)state;
    loop = ev_default_loop(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (httpd_start(&server, loop, &o, &err) != CL_OK)
        return -1;
    port = httpd_port(server);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    httpd_free(server);
    curl_global_cleanup();
    return 0;
}

static void test_httpd__answers_with_method_path_query_headers_body(void **state)
{
    struct client c = {.path = "/x/y?q=1", .body = "hello"};

    (void)state;
    talk(&c);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.reply, "POST /x/y q=1 h=yes body=hello");
}

static void test_httpd__suspends_until_the_answer(void **state)
{
    struct client c = {.path = "/later"};

    (void)state;
    talk(&c);
    assert_int_equal(c.status, 202);
    assert_string_equal(c.reply, "later");
}

static void test_httpd__body_over_the_limit_is_flagged(void **state)
{
    char big[200];
    struct client c = {.path = "/big", .body = big};

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    talk(&c);
    assert_int_equal(c.status, 413);
}

static void test_httpd__listen_errors_name_the_address(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct httpd *h = NULL;
    struct httpd_opts o = {
        .listen = "127.0.0.1", .max_body = 64, .max_connections = 1, .handler = handler};

    (void)state;
    assert_int_equal(httpd_start(&h, loop, &o, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    assert_null(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpd__answers_with_method_path_query_headers_body),
        cmocka_unit_test(test_httpd__suspends_until_the_answer),
        cmocka_unit_test(test_httpd__body_over_the_limit_is_flagged),
        cmocka_unit_test(test_httpd__listen_errors_name_the_address),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
