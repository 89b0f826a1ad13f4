#include "closeloop/cli/cli_api.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define BASE "http://127.0.0.1:8080"

static void test_cli_api__exit_codes_from_status(void **state)
{
    static const long rejected[] = {400, 404, 405, 409, 413, 415, 422};
    static const long service[] = {0, 100, 301, 304, 401, 403, 408, 429, 500, 502, 503, 504};
    size_t i;

    (void)state;
    assert_int_equal(cli_api_exit_for_status(200), CLI_API_EXIT_OK);
    assert_int_equal(cli_api_exit_for_status(201), CLI_API_EXIT_OK);
    assert_int_equal(cli_api_exit_for_status(204), CLI_API_EXIT_OK);
    for (i = 0; i < CL_ARRAY_LEN(rejected); i++)
        assert_int_equal(cli_api_exit_for_status(rejected[i]), CLI_API_EXIT_REJECTED);
    for (i = 0; i < CL_ARRAY_LEN(service); i++)
        assert_int_equal(cli_api_exit_for_status(service[i]), CLI_API_EXIT_SERVICE);
    assert_int_equal(CLI_API_EXIT_USAGE, 2);
}

static void expect(long status, const char *body, int code, const char *msg)
{
    struct cl_err err = CL_ERR_INIT;

    assert_int_equal(cli_api_describe(&err, status, body, body != NULL ? strlen(body) : 0, BASE),
                     code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
}

static void test_cli_api__rejections_quote_the_server(void **state)
{
    (void)state;
    expect(422,
           "{\"error\":{\"code\":\"validation\",\"message\":\"title must not be empty\","
           "\"field\":\"title\"}}",
           CL_EINVAL, "title must not be empty (field title)");
    expect(409, "{\"error\":{\"code\":\"version_conflict\",\"message\":\"stale version\"}}",
           CL_ECONFLICT, "stale version");
    expect(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no action 9\"}}", CL_ENOTFOUND,
           "no action 9");
    expect(413, "not json", CL_EINVAL, "the server rejected the request (HTTP 413)");
    expect(400, NULL, CL_EINVAL, "the server rejected the request (HTTP 400)");
    expect(422, "{\"error\":{\"message\":\"bad\\u001b[2J\\nthing\"}}", CL_EINVAL, "bad [2J thing");
    /* an unknown name says where the known ones are listed */
    expect(422, "{\"error\":{\"message\":\"unknown team 'platfrom'\",\"field\":\"team\"}}",
           CL_EINVAL, "unknown team 'platfrom' (field team; see `closeloop team list`)");
    expect(422, "{\"error\":{\"message\":\"unknown person 'x'\",\"field\":\"owner\"}}", CL_EINVAL,
           "unknown person 'x' (field owner; see `closeloop person list`)");
    expect(422, "{\"error\":{\"message\":\"person 'x' is inactive\",\"field\":\"owner\"}}",
           CL_EINVAL, "person 'x' is inactive (field owner)");
}

static void test_cli_api__service_problems_say_what_to_do(void **state)
{
    (void)state;
    expect(401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"unknown token\"}}", CL_EAUTH,
           "token rejected: set CLOSELOOP_TOKEN or ~/.config/closeloop/config");
    expect(403, "{\"error\":{\"code\":\"forbidden\",\"message\":\"needs write\"}}", CL_EAUTH,
           "the token may not do this: needs write: use a token with the write scope");
    expect(503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"database unreachable\"}}",
           CL_EHTTP, BASE " failed with HTTP 503: database unreachable: see closeloopd's log");
    expect(500, "<html>", CL_EHTTP, BASE " failed with HTTP 500: see closeloopd's log");
    expect(302, NULL, CL_EHTTP, "unexpected HTTP 302 from " BASE ": is it closeloopd?");
}

static void test_cli_api__decode(void **state)
{
    char ok[] = "{\"id\":17}";
    char bad[] = "{\"id\":";
    char err422[] = "{\"error\":{\"message\":\"no\",\"field\":\"kind\"}}";
    struct cli_http_resp r = {201, ok, strlen(ok)};
    struct cl_err err = CL_ERR_INIT;
    json_t *marker = json_object();
    json_t *out = NULL;

    (void)state;
    assert_int_equal(cli_api_decode(&out, &r, BASE, &err), CL_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "id")), 17);
    json_decref(out);
    r = (struct cli_http_resp){204, NULL, 0};
    out = marker;
    assert_int_equal(cli_api_decode(&out, &r, BASE, &err), CL_OK);
    assert_null(out); /* a 2xx without a body is "no object" */
    json_decref(marker);
    r = (struct cli_http_resp){200, bad, strlen(bad)};
    assert_int_equal(cli_api_decode(&out, &r, BASE, &err), CL_EHTTP);
    assert_non_null(strstr(err.msg, "unreadable answer from " BASE));
    cl_err_clear(&err);
    r = (struct cli_http_resp){422, err422, strlen(err422)};
    assert_int_equal(cli_api_decode(&out, &r, BASE, &err), CL_EINVAL);
    assert_string_equal(err.msg, "no (field kind)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_api__exit_codes_from_status),
        cmocka_unit_test(test_cli_api__rejections_quote_the_server),
        cmocka_unit_test(test_cli_api__service_problems_say_what_to_do),
        cmocka_unit_test(test_cli_api__decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
