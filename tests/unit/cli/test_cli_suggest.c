#include "closeloop/cli/cli_suggest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_cli_suggest__distance(void **state)
{
    char long_word[CLI_SUGGEST_WORD_MAX + 2];

    (void)state;
    assert_int_equal(cli_suggest_distance("action", "action"), 0);
    assert_int_equal(cli_suggest_distance("acton", "action"), 1);   /* a letter left out */
    assert_int_equal(cli_suggest_distance("actiion", "action"), 1); /* one too many */
    assert_int_equal(cli_suggest_distance("lsit", "list"), 1);      /* two swapped */
    assert_int_equal(cli_suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(cli_suggest_distance("", "abc"), 3);
    memset(long_word, 'a', sizeof(long_word) - 1);
    long_word[sizeof(long_word) - 1] = '\0';
    assert_int_equal(cli_suggest_distance(long_word, "a"), (size_t)-1);
}

static void test_cli_suggest__near_words_only(void **state)
{
    static const char *const words[] = {"owner", "overdue", "team", "title"};

    (void)state;
    assert_string_equal(cli_suggest_word("ownr", words, 4), "owner");
    assert_string_equal(cli_suggest_word("overdeu", words, 4), "overdue");
    assert_string_equal(cli_suggest_word("tema", words, 4), "team");
    assert_null(cli_suggest_word("tm", words, 4));    /* two edits on a short word */
    assert_null(cli_suggest_word("x", words, 4));     /* as many edits as letters */
    assert_null(cli_suggest_word("zzzzz", words, 4)); /* nothing alike */
    assert_null(cli_suggest_word("owner", words, 0));
}

static void test_cli_suggest__from_the_verb_table(void **state)
{
    const struct cli_verb *list = cli_verbs_find(cli_verbs, cli_verbs_len, "action", "list");

    (void)state;
    assert_string_equal(cli_suggest_group(cli_verbs, cli_verbs_len, "acton"), "action");
    assert_string_equal(cli_suggest_group(cli_verbs, cli_verbs_len, "incidnet"), "incident");
    assert_string_equal(cli_suggest_group(cli_verbs, cli_verbs_len, "hepl"), "help");
    assert_null(cli_suggest_group(cli_verbs, cli_verbs_len, "frob"));
    assert_string_equal(cli_suggest_verb(cli_verbs, cli_verbs_len, "action", "lst"), "list");
    assert_string_equal(cli_suggest_verb(cli_verbs, cli_verbs_len, "report", "overdeu"), "overdue");
    assert_null(cli_suggest_verb(cli_verbs, cli_verbs_len, "team", "show")); /* not a team verb */
    assert_string_equal(cli_suggest_option(list, "ownr"), "owner");
    assert_string_equal(cli_suggest_option(list, "jsno"), "json"); /* a global one */
    assert_string_equal(cli_suggest_option(NULL, "tokn"), "token");
    assert_null(cli_suggest_option(list, "title")); /* not an option of action list */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_suggest__distance),
        cmocka_unit_test(test_cli_suggest__near_words_only),
        cmocka_unit_test(test_cli_suggest__from_the_verb_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
