#include "closeloop/cli/cli_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* The header lines joined by '|'. Caller frees. */
static char *joined(struct curl_slist *list)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct curl_slist *l;

    for (l = list; l != NULL; l = l->next)
        fprintf(out, "%s|", l->data);
    fclose(out);
    curl_slist_free_all(list);
    return text;
}

static void test_cli_http__headers(void **state)
{
    char *h;

    (void)state;
    h = joined(cli_http_headers("t0k", true, "\"3\""));
    assert_string_equal(h, "Accept: application/json|X-Closeloop-Source: cli|"
                           "Content-Type: application/json|Expect:|If-Match: \"3\"|"
                           "Authorization: Bearer t0k|");
    free(h);
    /* without a body, libcurl must not add a form content type of its own */
    h = joined(cli_http_headers(NULL, false, NULL));
    assert_string_equal(h, "Accept: application/json|X-Closeloop-Source: cli|Content-Type:|");
    free(h);
}

static void test_cli_http__sink_caps_the_answer(void **state)
{
    struct cli_http_buf b = {NULL, 0, 0, 10, false};
    char chunk[] = "0123456";

    (void)state;
    assert_int_equal(cli_http_sink(chunk, 1, 7, &b), 7);
    assert_string_equal(b.data, "0123456");
    assert_int_equal(cli_http_sink(chunk, 1, 3, &b), 3);
    assert_int_equal(b.len, 10);
    assert_false(b.overflow);
    assert_int_equal(cli_http_sink(chunk, 1, 1, &b), 0); /* one byte too many: abort */
    assert_true(b.overflow);
    assert_string_equal(b.data, "0123456012");
    free(b.data);
}

/* A loopback port where nothing listens. */
static int closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_cli_http__unreachable_says_what_to_do(void **state)
{
    char base[64];
    char want[160];
    struct cli_http *h;
    struct cli_http_resp r = {0, NULL, 0};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", closed_port());
    h = cli_http_new(base, "very-secret");
    assert_non_null(h);
    assert_string_equal(cli_http_base(h), base);
    assert_int_equal(cli_http_do(&r, h, "GET", "/api/v1/teams", NULL, NULL, &err), CL_EIO);
    snprintf(want, sizeof(want), "cannot reach %s: is closeloopd running? (make run)", base);
    assert_string_equal(err.msg, want);
    assert_null(r.body);
    assert_null(strstr(err.msg, "very-secret"));
    cli_http_free(h);
    cli_http_free(NULL);
    cli_http_resp_dispose(NULL);
}

/* A server that accepts connections (the kernel does, from the backlog) and never answers. */
static void test_cli_http__timeout_can_be_changed(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char base[64];
    struct cli_http *h;
    struct cli_http_resp r = {0, NULL, 0};
    struct cl_err err = CL_ERR_INIT;
    double start;

    (void)state;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    h = cli_http_new(base, NULL);
    cli_http_set_timeout(h, 1);
    start = cl_now_mono();
    assert_int_equal(cli_http_do(&r, h, "POST", "/api/v1/github/import", "{}", NULL, &err),
                     CL_ETIMEOUT);
    assert_true(cl_now_mono() - start < 10.0);
    assert_non_null(strstr(err.msg, "(5s connect, 1s in all)"));
    assert_null(r.body);
    cli_http_free(h);
    close(fd);
}

static void test_cli_http__other_protocols_are_refused(void **state)
{
    struct cli_http *h = cli_http_new("file://", NULL);
    struct cli_http_resp r = {0, NULL, 0};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(cli_http_do(&r, h, "GET", "/etc/passwd", NULL, NULL, &err), CL_EHTTP);
    assert_non_null(strstr(err.msg, "request to file:// failed: "));
    assert_null(r.body);
    cli_http_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_http__headers),
        cmocka_unit_test(test_cli_http__sink_caps_the_answer),
        cmocka_unit_test(test_cli_http__unreachable_says_what_to_do),
        cmocka_unit_test(test_cli_http__timeout_can_be_changed),
        cmocka_unit_test(test_cli_http__other_protocols_are_refused),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
