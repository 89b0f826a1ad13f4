/* The bash completion written from the verb table: the committed script is what the CLI
 * writes, and every group, verb, option and flag of the table is in it. How bash uses it
 * is tested by tests/integration/test_completion.py. */
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

static char *generated(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    cli_complete_bash(f, cli_verbs, cli_verbs_len);
    assert_int_equal(fclose(f), 0);
    return text;
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

static void test_cli_complete__committed_script_is_current(void **state)
{
    const char *src = getenv("CLOSELOOP_SRC_DIR");
    char path[1024];
    char *want = generated();
    char *have;

    (void)state;
    snprintf(path, sizeof(path), "%s/contrib/closeloop.bash-completion", src ? src : ".");
    have = slurp(path);
    if (strcmp(have, want) != 0)
        fail_msg("%s differs from `closeloop completion bash`: run `make completion`", path);
    free(have);
    free(want);
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
    line_of(text, "    local flags=\"", flags, sizeof(flags));
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
        cmocka_unit_test(test_cli_complete__committed_script_is_current),
        cmocka_unit_test(test_cli_complete__every_verb_and_option),
        cmocka_unit_test(test_cli_complete__flags_are_exactly_the_flags),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
