/* closeloop(1) comes from the verb table: every verb, positional and option is in it. That
 * groff reads it without a warning is tested by tests/integration/test_man.py. */
#include "closeloop/cli/cli_man.h"

#include "closeloop/cli/cli_help.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *page(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    cli_man_page(f, cli_verbs, cli_verbs_len);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* "--due-before" as roff writes it: "\-\-due\-before". */
static void roff_name(char *out, size_t n, const char *dashes, const char *name)
{
    size_t j = 0;
    const char *s;

    for (s = dashes; *s != '\0' && j + 3 < n; s++) {
        out[j++] = '\\';
        out[j++] = '-';
    }
    for (s = name; *s != '\0' && j + 3 < n; s++) {
        if (*s == '-')
            out[j++] = '\\';
        out[j++] = *s;
    }
    out[j] = '\0';
}

static void test_cli_man__every_verb_option_and_positional(void **state)
{
    char *text = page();
    char want[160];
    char name[96];
    size_t i;
    size_t j;

    (void)state;
    assert_non_null(strstr(text, ".TH \"closeloop\" \"1\""));
    for (i = 0; i < cli_verbs_len; i++) {
        const struct cli_verb *v = &cli_verbs[i];

        snprintf(want, sizeof(want), ".TP\n\\fBcloseloop %s%s%s\\fR", v->group,
                 v->name[0] != '\0' ? " " : "", v->name);
        roff_name(name, sizeof(name), "", want);
        if (strstr(text, name) == NULL)
            fail_msg("closeloop(1) lacks %s %s", v->group, v->name);
        for (j = 0; j < cli_verbs_count(v->opts); j++) {
            roff_name(name, sizeof(name), "--", v->opts[j].name);
            snprintf(want, sizeof(want), ".TP\n\\fB%s\\fR", name);
            assert_non_null(strstr(text, want));
        }
        for (j = 0; j < cli_verbs_count(v->pos); j++) {
            snprintf(want, sizeof(want), " \\fI%s\\fR", v->pos[j].name);
            assert_non_null(strstr(text, want));
        }
    }
    for (j = 0; cli_help_globals[j].name != NULL; j++) {
        roff_name(name, sizeof(name), "--", cli_help_globals[j].name);
        assert_non_null(strstr(text, name));
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_man__every_verb_option_and_positional),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
