#include "closeloop/cli/show/cli_table.h"

#include "closeloop/util/cl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Prints t into a string, in `width` columns (0: no limit). Caller frees. */
static char *render_in(const struct cli_table *t, bool color, size_t width)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    assert_int_equal(cli_table_print(t, out, color, width), CL_OK);
    fclose(out);
    return text;
}

static char *render(const struct cli_table *t, bool color)
{
    return render_in(t, color, 0);
}

/* issue 9, defect 5: a table fits the terminal, cutting the widest cells with "…". */
static void test_cli_table__fits_the_width(void **state)
{
    struct cli_table *t = cli_table_new(3);
    char *got;
    char *line;
    char *save = NULL;

    (void)state;
    cli_table_add(t, "ID", CLI_COLOR_NONE);
    cli_table_add(t, "STATUS", CLI_COLOR_RED);
    cli_table_add(t, "TITLE", CLI_COLOR_NONE);
    cli_table_add(t, "1", CLI_COLOR_NONE);
    cli_table_add(t, "in_progress", CLI_COLOR_RED);
    cli_table_add(t, "Rotate the \xe6\x97\xa5\xe6\x9c\xac credentials of every replica now",
                  CLI_COLOR_NONE);
    got = render_in(t, false, 30);
    for (line = strtok_r(got, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
        assert_true(cli_table_width(line) <= 30);
    free(got);
    got = render_in(t, false, 30);
    assert_non_null(strstr(
        got, "1   in_pr\xe2\x80\xa6  Rotate the \xe6\x97\xa5\xe6\x9c\xac cre\xe2\x80\xa6\n"));
    free(got);
    got = render_in(t, true, 30); /* colour still ends before the newline */
    assert_null(strstr(got, "\n\033[0m"));
    free(got);
    got = render_in(t, false, 0); /* piped: every value in full */
    assert_non_null(strstr(got, "every replica now\n"));
    free(got);
    got = render_in(t, false, 10); /* narrower than the minimum: columns stop at 6 */
    assert_non_null(strstr(got, "in_pr\xe2\x80\xa6"));
    free(got);
    cli_table_free(t);
    got = cli_table_cut("abc", 3);
    assert_string_equal(got, "abc");
    free(got);
    got = cli_table_cut("abcd", 3);
    assert_string_equal(got, "ab\xe2\x80\xa6");
    free(got);
}

static void test_cli_table__columns_fit_the_widest_cell(void **state)
{
    struct cli_table *t = cli_table_new(3);
    char *got;

    (void)state;
    cli_table_add(t, "ID", CLI_COLOR_NONE);
    cli_table_add(t, "STATUS", CLI_COLOR_NONE);
    cli_table_add(t, "TITLE", CLI_COLOR_NONE);
    cli_table_add(t, "12345", CLI_COLOR_NONE);
    cli_table_add(t, "open", CLI_COLOR_NONE);
    cli_table_add(t, "short", CLI_COLOR_NONE);
    cli_table_add(t, "7", CLI_COLOR_NONE);
    cli_table_add(t, NULL, CLI_COLOR_NONE);
    cli_table_add(t, "a longer title", CLI_COLOR_NONE);
    got = render(t, false);
    assert_string_equal(got, "ID     STATUS  TITLE\n"
                             "12345  open    short\n"
                             "7      -       a longer title\n");
    free(got);
    cli_table_free(t);
}

static void test_cli_table__utf8_counts_code_points(void **state)
{
    struct cli_table *t = cli_table_new(2);
    char *got;

    (void)state;
    assert_int_equal(cli_table_width("\xc3\xbcn\xc3\xaf"
                                     "code"),
                     7);                                  /* "ünïcode" */
    cli_table_add(t, "\xc3\xbc\xc3\xbc", CLI_COLOR_NONE); /* "üü": 2 columns */
    cli_table_add(t, "x", CLI_COLOR_NONE);
    cli_table_add(t, "abc", CLI_COLOR_NONE);
    cli_table_add(t, "y", CLI_COLOR_NONE);
    got = render(t, false);
    assert_string_equal(got, "\xc3\xbc\xc3\xbc   x\nabc  y\n");
    free(got);
    cli_table_free(t);
}

static void test_cli_table__colour_wraps_text_not_padding(void **state)
{
    struct cli_table *t = cli_table_new(2);
    char *got;

    (void)state;
    cli_table_add(t, "done", CLI_COLOR_GREEN);
    cli_table_add(t, "3d overdue", CLI_COLOR_RED);
    cli_table_add(t, "in_progress", CLI_COLOR_CYAN);
    cli_table_add(t, "-", CLI_COLOR_NONE);
    got = render(t, true);
    assert_string_equal(got, "\033[32mdone\033[0m         \033[31m3d overdue\033[0m\n"
                             "\033[36min_progress\033[0m  -\n");
    free(got);
    got = render(t, false);
    assert_string_equal(got, "done         3d overdue\nin_progress  -\n");
    free(got);
    cli_table_free(t);
}

static void test_cli_table__control_characters_are_blanked(void **state)
{
    struct cli_table *t = cli_table_new(1);
    char *got;
    char *kept;

    (void)state;
    cli_table_add(t,
                  "a\033[2Jb\nc\td\x7f"
                  "e\xc2\x9b"
                  "f",
                  CLI_COLOR_NONE);
    got = render(t, true);
    assert_string_equal(got, "a [2Jb c d e  f\n");
    free(got);
    kept = cli_table_clean("one\ntwo\tthree\r", true);
    assert_string_equal(kept, "one\ntwo\tthree ");
    free(kept);
    cli_table_free(t);
}

static void test_cli_table__short_last_row(void **state)
{
    struct cli_table *t = cli_table_new(3);
    char *got;

    (void)state;
    cli_table_add(t, "a", CLI_COLOR_NONE);
    cli_table_add(t, "b", CLI_COLOR_NONE);
    cli_table_add(t, "c", CLI_COLOR_NONE);
    cli_table_add(t, "dd", CLI_COLOR_NONE);
    got = render(t, false);
    assert_string_equal(got, "a   b  c\ndd\n");
    free(got);
    cli_table_free(t);
    cli_table_free(NULL);
}

static void test_cli_table__colour_only_on_a_terminal_without_no_color(void **state)
{
    (void)state;
    assert_true(cli_table_color_wanted(true, NULL, "xterm-256color"));
    assert_true(cli_table_color_wanted(true, NULL, NULL));
    assert_false(cli_table_color_wanted(false, NULL, "xterm"));
    assert_true(cli_table_color_wanted(true, "", "xterm")); /* empty NO_COLOR does not count */
    assert_false(cli_table_color_wanted(true, "1", "xterm"));
    assert_false(cli_table_color_wanted(true, NULL, "dumb"));
    assert_string_equal(cli_table_sgr(CLI_COLOR_DIM), "\033[2m");
    assert_string_equal(cli_table_sgr(CLI_COLOR_YELLOW), "\033[33m");
    assert_string_equal(cli_table_sgr(CLI_COLOR_NONE), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_table__columns_fit_the_widest_cell),
        cmocka_unit_test(test_cli_table__fits_the_width),
        cmocka_unit_test(test_cli_table__utf8_counts_code_points),
        cmocka_unit_test(test_cli_table__colour_wraps_text_not_padding),
        cmocka_unit_test(test_cli_table__control_characters_are_blanked),
        cmocka_unit_test(test_cli_table__short_last_row),
        cmocka_unit_test(test_cli_table__colour_only_on_a_terminal_without_no_color),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
