#include "closeloop/util/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_utf8__sequences(void **state)
{
    (void)state;
    assert_int_equal(utf8_seq_len("a", 1), 1);
    assert_int_equal(utf8_seq_len("\xc3\xa9", 2), 2);         /* é */
    assert_int_equal(utf8_seq_len("\xe6\x97\xa5", 3), 3);     /* 日 */
    assert_int_equal(utf8_seq_len("\xf0\x9f\x98\x80", 4), 4); /* 😀 */
    assert_int_equal(utf8_seq_len("\xc3", 1), 0);             /* cut short */
    assert_int_equal(utf8_seq_len("\xc0\xaf", 2), 0);         /* overlong '/' */
    assert_int_equal(utf8_seq_len("\xe0\x80\xaf", 3), 0);     /* overlong */
    assert_int_equal(utf8_seq_len("\xed\xa0\x80", 3), 0);     /* surrogate */
    assert_int_equal(utf8_seq_len("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(utf8_seq_len("\xff", 1), 0);
    assert_int_equal(utf8_seq_len("\x80", 1), 0);
}

static void test_utf8__printable(void **state)
{
    (void)state;
    assert_true(utf8_printable("INC-1 日本", strlen("INC-1 日本")));
    assert_false(utf8_printable("a\0b", 3));
    assert_false(utf8_printable("a\nb", 3));
    assert_false(utf8_printable("a\x7f", 2));
    assert_false(utf8_printable("\xc3\x28", 2));
    assert_true(utf8_printable("", 0));
}

static void test_utf8__percent_decode(void **state)
{
    size_t n = 0;
    char *s;

    (void)state;
    s = utf8_percent_decode("a%2Fb+c%2B", 10, true, &n);
    assert_string_equal(s, "a/b c+");
    assert_int_equal(n, 6);
    free(s);
    s = utf8_percent_decode("a+b", 3, false, &n);
    assert_string_equal(s, "a+b");
    free(s);
    s = utf8_percent_decode("1%00x", 5, false, &n);
    assert_int_equal(n, 3); /* the NUL is kept: utf8_printable refuses it */
    assert_false(utf8_printable(s, n));
    free(s);
    assert_null(utf8_percent_decode("%4", 2, false, &n));
    assert_null(utf8_percent_decode("%zz", 3, false, &n));
    assert_null(utf8_percent_decode("abc%", 4, false, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8__sequences),
        cmocka_unit_test(test_utf8__printable),
        cmocka_unit_test(test_utf8__percent_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
