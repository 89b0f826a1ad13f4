/* closeloopd's usage and man pages come from its tables: every verb, flag and configuration
 * key (closeloopd's own, a connection's neutral ones, each tracker's) is documented. That
 * groff reads the pages without a warning is tested by tests/integration/test_man.py. */
#include "closeloop/daemon/daemon_doc.h"

#include "closeloop/sync/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum page { USAGE, MAN8, MAN5 };

static char *written(enum page page)
{
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    if (page == USAGE)
        daemon_doc_usage(f, "/etc/x.ini");
    else if (page == MAN8)
        daemon_doc_man8(f, "/etc/x.ini");
    else
        daemon_doc_man5(f, "/etc/x.ini", trackers, n);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Whether the man page names `word` as a tag: a .TP line followed by it in bold. */
static bool has_tag(const char *page, const char *word)
{
    char want[128];
    size_t i;
    size_t j = 0;

    for (i = 0; word[i] != '\0' && j + 3 < sizeof(want); i++) {
        if (word[i] == '-')
            want[j++] = '\\';
        want[j++] = word[i];
    }
    want[j] = '\0';
    for (const char *p = strstr(page, ".TP\n\\fB"); p != NULL; p = strstr(p + 1, ".TP\n\\fB")) {
        if (strncmp(p + 7, want, j) == 0 && strncmp(p + 7 + j, "\\fR", 3) == 0)
            return true;
    }
    return false;
}

static void test_daemon_doc__every_verb_and_flag(void **state)
{
    char *usage = written(USAGE);
    char *man8 = written(MAN8);
    size_t i;

    (void)state;
    for (i = 0; daemon_doc_verbs[i].name != NULL; i++) {
        assert_non_null(strstr(usage, daemon_doc_verbs[i].name));
        assert_true(has_tag(man8, daemon_doc_verbs[i].name));
    }
    for (i = 0; daemon_doc_flags[i].name != NULL; i++) {
        assert_non_null(strstr(usage, daemon_doc_flags[i].name));
        assert_true(has_tag(man8, daemon_doc_flags[i].name));
    }
    assert_true(i >= 4);
    assert_non_null(strstr(man8, ".TH \"closeloopd\" \"8\""));
    free(usage);
    free(man8);
}

static void test_daemon_doc__every_key_has_a_description_and_an_entry(void **state)
{
    struct conf_doc docs[64];
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);
    char *man5 = written(MAN5);
    char key[96];
    size_t k;
    size_t i;
    int conn;

    (void)state;
    for (conn = 0; conn < 2; conn++) {
        size_t nkeys = conf_doc_list(docs, 64, conn);

        assert_true(nkeys > 3 && nkeys <= 64);
        for (i = 0; i < nkeys; i++) {
            snprintf(key, sizeof(key), "%s%s", conn ? "conn." : "", docs[i].key);
            if (daemon_doc_key_help(key) == NULL)
                fail_msg("no description of the key %s in daemon_doc.c", key);
            assert_true(has_tag(man5, docs[i].key));
        }
    }
    for (k = 0; k < n; k++) {
        for (i = 0; i < trackers[k]->nkeys; i++) {
            snprintf(key, sizeof(key), "%s.%s", trackers[k]->name, trackers[k]->keys[i].key);
            if (daemon_doc_key_help(key) == NULL)
                fail_msg("no description of the key %s in daemon_doc.c", key);
            snprintf(key, sizeof(key), "%s_%s", trackers[k]->name, trackers[k]->keys[i].key);
            assert_true(has_tag(man5, key));
        }
    }
    assert_null(daemon_doc_key_help("no_such_key"));
    assert_null(strstr(man5, "(undocumented)"));
    free(man5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_doc__every_verb_and_flag),
        cmocka_unit_test(test_daemon_doc__every_key_has_a_description_and_an_entry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
