#include "closeloop/cli/show/cli_search.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* cli_search_snippet(s, mark, width) compared with want, then freed. */
static void expect_snippet(const char *s, enum cli_search_mark mark, size_t width, const char *want)
{
    char *got = cli_search_snippet(s, mark, width);

    assert_string_equal(got, want);
    free(got);
}

static void test_cli_search__markers_as_each_output_writes_them(void **state)
{
    const char *s = "saw another \002timeout\003 in the \002pool\003";

    (void)state;
    expect_snippet(s, CLI_SEARCH_PLAIN, 0, "saw another timeout in the pool");
    expect_snippet(s, CLI_SEARCH_MARKDOWN, 0, "saw another **timeout** in the **pool**");
    expect_snippet(s, CLI_SEARCH_BOLD, 0,
                   "saw another \033[1mtimeout\033[0m in the \033[1mpool\033[0m");
}

static void test_cli_search__control_characters_blanked(void **state)
{
    (void)state;
    expect_snippet("a\033[2Jb\tc\nd", CLI_SEARCH_PLAIN, 0, "a [2Jb c d");
    expect_snippet("\003stray\002 open", CLI_SEARCH_BOLD, 0, "stray\033[1m open\033[0m");
    expect_snippet("", CLI_SEARCH_BOLD, 0, "");
}

static void test_cli_search__cut_to_width_counts_text_only(void **state)
{
    (void)state;
    /* 11 columns of text fit in 11: markers take none */
    expect_snippet("a \002word\003 here", CLI_SEARCH_BOLD, 11, "a \033[1mword\033[0m here");
    /* cut inside a marked word: bold is turned off before the "…" */
    expect_snippet("a \002word\003 here", CLI_SEARCH_BOLD, 5, "a \033[1mwo\033[0m…");
    expect_snippet("a \002word\003 here", CLI_SEARCH_MARKDOWN, 5, "a **wo**…");
    /* code points, not bytes */
    expect_snippet("\xc3\xa9t\xc3\xa9 \002chaud\003", CLI_SEARCH_PLAIN, 6, "\xc3\xa9t\xc3\xa9 c…");
}

static void test_cli_search__print_rows_and_empty(void **state)
{
    json_t *hits =
        json_loads("[{\"kind\":\"note\",\"field\":\"reason\",\"incident\":\"INC-1\",\"action\":7,"
                   "\"title\":\"Cap | pool\",\"snippet\":\"a "
                   "\\u0002b\\u0003\",\"at\":\"2026-11-18T10:00:00Z\","
                   "\"archived\":true}]",
                   0, NULL);
    json_t *none = json_array();
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(hits);
    assert_int_equal(cli_search_print(out, hits, "markdown", false, 0, 0), CL_OK);
    assert_int_equal(cli_search_print(out, hits, "csv", false, 0, 0), CL_OK);
    assert_int_equal(cli_search_print(out, none, NULL, false, 0, 0), CL_OK);
    fclose(out);
    assert_non_null(strstr(text, "| reason | INC-1 #7 | 2026-11-18T10:00:00Z | yes | Cap \\| pool "
                                 "| a **b** |\n"));
    assert_non_null(strstr(text, "reason,INC-1 #7,2026-11-18T10:00:00Z,yes,Cap | pool,a b\n"));
    assert_non_null(strstr(text, "no matches\n"));
    free(text);
    json_decref(hits);
    json_decref(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_search__markers_as_each_output_writes_them),
        cmocka_unit_test(test_cli_search__control_characters_blanked),
        cmocka_unit_test(test_cli_search__cut_to_width_counts_text_only),
        cmocka_unit_test(test_cli_search__print_rows_and_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
