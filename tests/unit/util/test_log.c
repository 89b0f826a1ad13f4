#include "closeloop/util/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static void test_log__quote_escapes_what_could_forge_a_field(void **state)
{
    char out[64];

    (void)state;
    assert_string_equal(log_quote(out, sizeof(out), "a\"b\\c"), "a\\\"b\\\\c");
    assert_string_equal(log_quote(out, sizeof(out), "x\ny\rz\t"), "x\\x0ay\\x0dz\\x09");
    assert_string_equal(log_quote(out, sizeof(out),
                                  "\xff\xfe"
                                  "ok"),
                        "\\xff\\xfeok");
    assert_string_equal(log_quote(out, sizeof(out), "日本"), "日本");
    assert_string_equal(log_quote(out, sizeof(out), NULL), "-");
}

static void test_log__quote_cuts_long_values(void **state)
{
    char out[16];
    char big[100];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_quote(out, sizeof(out), big);
    assert_true(strlen(out) < sizeof(out));
    assert_non_null(strstr(out, "..."));
}

/* Whatever the arguments hold, one call writes one line. */
static void test_log__line_stays_one_line(void **state)
{
    char buf[4096];
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;
    int lines = 0;
    size_t i;

    (void)state;
    assert_non_null(f);
    dup2(fileno(f), 2);
    log_line(CL_LOG_INFO, "r\n1", "event=x value=%s", "a\nlevel=error forged=1\r\xff");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    for (i = 0; i < n; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 1);
    assert_non_null(strstr(buf, "value=a\\x0alevel=error forged=1\\x0d\\xff"));
    assert_non_null(strstr(buf, "req=r\\x0a1 "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__quote_escapes_what_could_forge_a_field),
        cmocka_unit_test(test_log__quote_cuts_long_values),
        cmocka_unit_test(test_log__line_stays_one_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
