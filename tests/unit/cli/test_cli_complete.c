/* The bash and zsh completions written from the verb table: the committed scripts are what
 * the CLI writes, every group, verb, option and flag of the table is in them, and the values
 * the service knows are asked for where the table says. How bash and zsh use them is tested
 * by tests/integration/test_completion.py. */
#include "closeloop/cli/cli_complete.h"
#include "closeloop/cli/cli_value.h"
#include "closeloop/cli/cli_verbs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *generated_for(void (*write)(FILE *, const struct cli_verb *, size_t))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    write(f, cli_verbs, cli_verbs_len);
    assert_int_equal(fclose(f), 0);
    return text;
}

static char *generated(void)
{
    return generated_for(cli_complete_bash);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;

    if (f == NULL)
        fail_msg("cannot read %s (run from the source tree or set CLOSELOOP_SRC_DIR)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static void expect_committed(const char *file,
                             void (*write)(FILE *, const struct cli_verb *, size_t))
{
    const char *src = getenv("CLOSELOOP_SRC_DIR");
    char path[1024];
    char *want = generated_for(write);
    char *have;

    snprintf(path, sizeof(path), "%s/contrib/%s", src ? src : ".", file);
    have = slurp(path);
    if (strcmp(have, want) != 0)
        fail_msg("%s differs from what `closeloop completion` writes: run `make completion`", path);
    free(have);
    free(want);
}

static void test_cli_complete__committed_scripts_are_current(void **state)
{
    (void)state;
    expect_committed("closeloop.bash-completion", cli_complete_bash);
    expect_committed("_closeloop", cli_complete_zsh);
}

static const struct cli_opt *opt_of(const char *group, const char *verb, const char *name)
{
    const struct cli_verb *v = cli_verbs_find(cli_verbs, cli_verbs_len, group, verb);
    size_t i;

    assert_non_null(v);
    for (i = 0; i < cli_verbs_count(v->opts); i++)
        if (strcmp(v->opts[i].name, name) == 0)
            return &v->opts[i];
    fail_msg("%s %s has no --%s", group, verb, name);
    return NULL;
}

static enum cli_complete_kind pos_kind(const char *group, const char *verb, size_t i)
{
    const struct cli_verb *v = cli_verbs_find(cli_verbs, cli_verbs_len, group, verb);

    assert_non_null(v);
    assert_true(i < cli_verbs_count(v->pos));
    return cli_complete_pos_kind(v, &v->pos[i]);
}

static void test_cli_complete__kinds_come_from_the_table(void **state)
{
    (void)state;
    assert_int_equal(cli_complete_opt_kind(opt_of("action", "list", "owner")),
                     CLI_COMPLETE_HANDLES);
    assert_int_equal(cli_complete_opt_kind(opt_of("action", "edit", "owner")),
                     CLI_COMPLETE_HANDLES);
    assert_int_equal(cli_complete_opt_kind(opt_of("incident", "add", "facilitator")),
                     CLI_COMPLETE_HANDLES);
    assert_int_equal(cli_complete_opt_kind(opt_of("team", "add", "manager")), CLI_COMPLETE_HANDLES);
    assert_int_equal(cli_complete_opt_kind(opt_of("person", "add", "team")), CLI_COMPLETE_TEAMS);
    assert_int_equal(cli_complete_opt_kind(opt_of("action", "add", "incident")),
                     CLI_COMPLETE_INCIDENTS);
    assert_int_equal(cli_complete_opt_kind(opt_of("action", "add", "title")), CLI_COMPLETE_NONE);
    assert_int_equal(cli_complete_opt_kind(opt_of("action", "list", "unowned")), CLI_COMPLETE_NONE);
    assert_int_equal(pos_kind("person", "show", 0), CLI_COMPLETE_HANDLES);
    assert_int_equal(pos_kind("person", "add", 0), CLI_COMPLETE_NONE); /* a new handle */
    assert_int_equal(pos_kind("team", "edit", 0), CLI_COMPLETE_TEAMS);
    assert_int_equal(pos_kind("incident", "edit", 0), CLI_COMPLETE_INCIDENTS);
    assert_int_equal(pos_kind("incident", "add", 0), CLI_COMPLETE_NONE);
    assert_int_equal(pos_kind("action", "start", 0), CLI_COMPLETE_ACTIONS);
    assert_int_equal(pos_kind("action", "assign", 1), CLI_COMPLETE_HANDLES);
    assert_int_equal(pos_kind("action", "link", 1), CLI_COMPLETE_NONE);
    assert_string_equal(cli_complete_kind_word(CLI_COMPLETE_ACTIONS), "actions");
    assert_null(cli_complete_kind_word(CLI_COMPLETE_NONE));
}

/* Every option whose kind is known asks the service, in both scripts. */
static void test_cli_complete__scripts_fetch_what_the_table_says(void **state)
{
    char *bash = generated_for(cli_complete_bash);
    char *zsh = generated_for(cli_complete_zsh);

    (void)state;
    assert_non_null(strstr(bash, "    --owner) _closeloop_fetch handles \"$2\" ;;\n"));
    assert_non_null(strstr(zsh, "    --owner) _closeloop_fetch handles \"$2\" ;;\n"));
    assert_non_null(strstr(bash, "    \"action assign 2\") _closeloop_fetch handles \"$4\" ;;\n"));
    assert_non_null(strstr(bash, "    \"action done 1\") _closeloop_fetch actions \"$4\" ;;\n"));
    assert_null(strstr(bash, "\"person add 1\")"));
    assert_non_null(strstr(zsh, "#compdef closeloop\n"));
    assert_non_null(strstr(bash, "complete -F _closeloop closeloop\n"));
    free(bash);
    free(zsh);
}

/* The line of `text` that starts with `prefix` (up to its newline), or fails. */
static const char *line_of(const char *text, const char *prefix, char *out, size_t n)
{
    const char *p = strstr(text, prefix);
    const char *end;

    if (p == NULL)
        fail_msg("no line starting %s", prefix);
    end = strchr(p + 1, '\n');
    snprintf(out, n, "%.*s", (int)(end - p), p);
    return out;
}

/* Whether `word` is a whole space- or quote-delimited word of line. */
static int has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    const char *p;

    for (p = strstr(line, word); p != NULL; p = strstr(p + 1, word)) {
        if ((p == line || strchr(" \"", p[-1]) != NULL) && strchr(" \"", p[n]) != NULL)
            return 1;
    }
    return 0;
}

static void test_cli_complete__every_verb_and_option(void **state)
{
    char *text = generated();
    char line[1024];
    char prefix[128];
    char opt[64];
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; i < cli_verbs_len; i++) {
        const struct cli_verb *v = &cli_verbs[i];

        snprintf(prefix, sizeof(prefix), "\n    %s) echo \"", v->group);
        assert_true(has_word(line_of(text, prefix, line, sizeof(line)), v->name));
        if (cli_verbs_count(v->opts) == 0)
            continue;
        snprintf(prefix, sizeof(prefix), "\n    \"%s %s\") echo \"", v->group, v->name);
        line_of(text, prefix, line, sizeof(line));
        for (j = 0; j < cli_verbs_count(v->opts); j++) {
            snprintf(opt, sizeof(opt), "--%s", v->opts[j].name);
            assert_true(has_word(line, opt));
        }
    }
    free(text);
}

/* Flags are skipped alone, every other option with its value: the list must be exact. */
static void test_cli_complete__flags_are_exactly_the_flags(void **state)
{
    char *text = generated();
    char flags[1024];
    char opt[64];
    size_t i;
    size_t j;

    (void)state;
    line_of(text, "\n_closeloop_flags=\"", flags, sizeof(flags));
    for (i = 0; i < cli_verbs_len; i++) {
        for (j = 0; j < cli_verbs_count(cli_verbs[i].opts); j++) {
            const struct cli_opt *o = &cli_verbs[i].opts[j];

            snprintf(opt, sizeof(opt), "--%s", o->name);
            assert_int_equal(has_word(flags, opt), cli_value_is_flag(o->type));
        }
    }
    assert_true(has_word(flags, "--json") && has_word(flags, "-h"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_complete__committed_scripts_are_current),
        cmocka_unit_test(test_cli_complete__kinds_come_from_the_table),
        cmocka_unit_test(test_cli_complete__scripts_fetch_what_the_table_says),
        cmocka_unit_test(test_cli_complete__every_verb_and_option),
        cmocka_unit_test(test_cli_complete__flags_are_exactly_the_flags),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
