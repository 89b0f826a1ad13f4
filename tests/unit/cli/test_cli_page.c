#include "closeloop/cli/cli_page.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A scripted server: page i answers pages[i]; the calls are recorded. */
struct script {
    const char *const *pages;
    size_t npages;
    size_t calls;
    char seen[8][32]; /* "cursor/want" of each call */
    int fail_at;      /* call number that fails, -1 for none */
};

static int fake_fetch(json_t **page, const char *cursor, size_t want, struct cl_err *err, void *arg)
{
    struct script *s = arg;
    size_t i = s->calls++;

    if (i < 8)
        snprintf(s->seen[i], sizeof(s->seen[i]), "%s/%zu", cursor != NULL ? cursor : "-", want);
    if ((int)i == s->fail_at)
        return cl_fail(err, CL_EIO, "cannot reach the fake");
    assert_true(i < s->npages);
    *page = json_loads(s->pages[i], 0, NULL);
    assert_non_null(*page);
    return CL_OK;
}

static json_t *collect(struct script *s, size_t limit, bool *more, int want_rc)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *items = NULL;

    assert_int_equal(cli_page_collect(&items, more, limit, fake_fetch, s, &err), want_rc);
    return items;
}

static void test_cli_page__follows_cursors_to_the_end(void **state)
{
    static const char *const pages[] = {"{\"items\":[1,2],\"next_cursor\":\"c1\"}",
                                        "{\"items\":[3],\"next_cursor\":\"c2\"}",
                                        "{\"items\":[4],\"next_cursor\":null}"};
    struct script s = {pages, 3, 0, {{0}}, -1};
    bool more = true;
    json_t *items = collect(&s, 200, &more, CL_OK);
    char *text = json_dumps(items, JSON_COMPACT);

    (void)state;
    assert_string_equal(text, "[1,2,3,4]");
    assert_false(more);
    assert_int_equal(s.calls, 3);
    assert_string_equal(s.seen[0], "-/200");
    assert_string_equal(s.seen[1], "c1/198");
    assert_string_equal(s.seen[2], "c2/197");
    free(text);
    json_decref(items);
}

static void test_cli_page__stops_at_the_limit(void **state)
{
    static const char *const pages[] = {"{\"items\":[1,2],\"next_cursor\":\"c1\"}",
                                        "{\"items\":[3,4,5],\"next_cursor\":\"c2\"}"};
    struct script s = {pages, 2, 0, {{0}}, -1};
    bool more = false;
    json_t *items = collect(&s, 3, &more, CL_OK);

    (void)state;
    assert_int_equal(json_array_size(items), 3); /* the server sent more than asked */
    assert_true(more);
    assert_string_equal(s.seen[1], "c1/1");
    json_decref(items);
}

static void test_cli_page__more_when_the_last_page_overflows(void **state)
{
    static const char *const pages[] = {"{\"items\":[1,2,3],\"next_cursor\":null}"};
    struct script s = {pages, 1, 0, {{0}}, -1};
    bool more = false;
    json_t *items = collect(&s, 2, &more, CL_OK);

    (void)state;
    assert_int_equal(json_array_size(items), 2);
    assert_true(more);
    json_decref(items);
}

static void test_cli_page__more_when_the_limit_meets_a_cursor(void **state)
{
    static const char *const pages[] = {"{\"items\":[1,2],\"next_cursor\":\"c1\"}"};
    struct script s = {pages, 1, 0, {{0}}, -1};
    bool more = false;
    json_t *items = collect(&s, 2, &more, CL_OK);

    (void)state;
    assert_int_equal(json_array_size(items), 2);
    assert_true(more);
    assert_int_equal(s.calls, 1);
    json_decref(items);
}

static void test_cli_page__page_size_is_capped(void **state)
{
    static const char *const pages[] = {"{\"items\":[1],\"next_cursor\":\"a\"}",
                                        "{\"items\":[2],\"next_cursor\":null}"};
    struct script s = {pages, 2, 0, {{0}}, -1};
    bool more = false;
    json_t *items = collect(&s, 10000, &more, CL_OK);

    (void)state;
    assert_string_equal(s.seen[0], "-/500");
    assert_string_equal(s.seen[1], "a/500");
    json_decref(items);
}

static void test_cli_page__bare_array_and_empty_page(void **state)
{
    static const char *const bare[] = {"[1,2,3]"};
    static const char *const empty[] = {"{\"items\":[],\"next_cursor\":\"x\"}"};
    struct script s = {bare, 1, 0, {{0}}, -1};
    struct script e = {empty, 1, 0, {{0}}, -1};
    bool more = true;
    json_t *items = collect(&s, 50, &more, CL_OK);

    (void)state;
    assert_int_equal(json_array_size(items), 3);
    assert_false(more);
    json_decref(items);
    items = collect(&e, 50, &more, CL_OK); /* an empty page cannot advance: stop */
    assert_int_equal(json_array_size(items), 0);
    assert_int_equal(e.calls, 1);
    json_decref(items);
}

static void expect_bad(const char *const *pages, size_t n, const char *msg)
{
    struct script s = {pages, n, 0, {{0}}, -1};
    struct cl_err err = CL_ERR_INIT;
    json_t *items = NULL;
    bool more = false;

    assert_int_equal(cli_page_collect(&items, &more, 100, fake_fetch, &s, &err), CL_EHTTP);
    assert_null(items);
    assert_string_equal(err.msg, msg);
}

static void test_cli_page__odd_answers_fail(void **state)
{
    static const char *const no_items[] = {"{\"rows\":[]}"};
    static const char *const bad_cursor[] = {"{\"items\":[1],\"next_cursor\":5}"};
    static const char *const loop[] = {"{\"items\":[1],\"next_cursor\":\"same\"}",
                                       "{\"items\":[2],\"next_cursor\":\"same\"}"};

    (void)state;
    expect_bad(no_items, 1, "unexpected list from the server: no \"items\" array");
    expect_bad(bad_cursor, 1, "unexpected list from the server: bad \"next_cursor\"");
    expect_bad(loop, 2, "the server sent the same cursor twice");
}

static void test_cli_page__fetch_errors_pass_through(void **state)
{
    static const char *const pages[] = {"{\"items\":[1],\"next_cursor\":\"c\"}"};
    struct script s = {pages, 1, 0, {{0}}, 1};
    struct cl_err err = CL_ERR_INIT;
    json_t *items = NULL;
    bool more = false;

    (void)state;
    assert_int_equal(cli_page_collect(&items, &more, 100, fake_fetch, &s, &err), CL_EIO);
    assert_string_equal(err.msg, "cannot reach the fake");
    assert_null(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_page__follows_cursors_to_the_end),
        cmocka_unit_test(test_cli_page__stops_at_the_limit),
        cmocka_unit_test(test_cli_page__more_when_the_last_page_overflows),
        cmocka_unit_test(test_cli_page__more_when_the_limit_meets_a_cursor),
        cmocka_unit_test(test_cli_page__page_size_is_capped),
        cmocka_unit_test(test_cli_page__bare_array_and_empty_page),
        cmocka_unit_test(test_cli_page__odd_answers_fail),
        cmocka_unit_test(test_cli_page__fetch_errors_pass_through),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
