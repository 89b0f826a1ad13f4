#include "closeloop/cli/cli_import.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The rows of text as compact JSON with sorted keys (caller frees). */
static char *rows_of(const char *text)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *rows = NULL;
    char *out;

    if (cli_import_parse(&rows, text, strlen(text), "f.csv", &err) != CL_OK)
        fail_msg("parse failed: %s", err.msg);
    out = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(rows);
    return out;
}

static void expect_rows(const char *text, const char *want)
{
    char *got = rows_of(text);

    assert_string_equal(got, want);
    free(got);
}

static void expect_error(const char *text, const char *want)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *rows = NULL;

    assert_int_equal(cli_import_parse(&rows, text, strlen(text), "f.csv", &err), CL_EINVAL);
    assert_null(rows);
    if (strstr(err.msg, want) == NULL)
        fail_msg("\"%s\" does not hold \"%s\"", err.msg, want);
}

static void test_cli_import__csv_any_column_order_quotes_and_blank_cells(void **state)
{
    (void)state;
    expect_rows("\xEF\xBB\xBFkind,title,due,owner\r\n"
                "corrective,\"Say \"\"hi\"\", twice\",2030-01-02,alice\r\n"
                "\r\n"
                "preventive,\"two\nlines\",none,\n",
                "[{\"due_on\":\"2030-01-02\",\"kind\":\"corrective\",\"line\":2,\"owner\":"
                "\"alice\",\"title\":\"Say \\\"hi\\\", twice\"},{\"due_on\":null,\"kind\":"
                "\"preventive\",\"line\":4,\"title\":\"two\\nlines\"}]");
}

static void test_cli_import__csv_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("title,kind,colour\n", "f.csv:1: unknown column \"colour\"");
    expect_error("title,kind,title\n", "f.csv:1: column title appears twice");
    expect_error("title,owner\nx,y\n", "f.csv:1: the header needs the columns title and kind");
    expect_error("title,kind\na,corrective\n\"b\nc\",corrective,x\n",
                 "f.csv:3: 3 cells, the header has 2");
    expect_error("title,kind\n\"open,corrective\n", "a quoted cell is never closed");
    expect_error("title,kind\n\"a\"b,corrective\n", "f.csv:2: text after a closing quote");
    expect_error("title,kind\n", "f.csv: no actions in it");
    expect_error("", "f.csv: no header");
}

static void test_cli_import__markdown_trailing_tokens(void **state)
{
    (void)state;
    expect_rows("# Actions\n\nprose, not an item\n"
                "- [ ] Add rate limit to the form @alice due:2026-12-20 P1 preventive\n"
                "  * [ ] Page on P1 errors corrective  \n"
                "- not a checkbox\n",
                "[{\"due_on\":\"2026-12-20\",\"kind\":\"preventive\",\"line\":4,\"owner\":"
                "\"alice\",\"priority\":\"P1\",\"title\":\"Add rate limit to the form\"},"
                "{\"kind\":\"corrective\",\"line\":5,\"title\":\"Page on P1 errors\"}]");
}

static void test_cli_import__markdown_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("- [ ] a corrective\n- [x] b corrective\n", "f.csv:2: a checked item");
    expect_error("- [ ] a @x @y\n", "f.csv:1: \"@x\": this item already has its owner");
    expect_error("- [ ] P1 corrective\n", "f.csv:1: the item has no title");
    expect_error("- [ ] \n", "f.csv:1: the item has no title");
}

static void test_cli_import__at_most_500_rows(void **state)
{
    size_t n = 501;
    size_t i;
    size_t cap = n * 24 + 16;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "title,kind\n");

    (void)state;
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "t%zu,corrective\n", i);
    expect_error(text, "f.csv: 501 actions, more than 500 at once: split the file");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_import__csv_any_column_order_quotes_and_blank_cells),
        cmocka_unit_test(test_cli_import__csv_errors_name_the_line),
        cmocka_unit_test(test_cli_import__markdown_trailing_tokens),
        cmocka_unit_test(test_cli_import__markdown_errors_name_the_line),
        cmocka_unit_test(test_cli_import__at_most_500_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
