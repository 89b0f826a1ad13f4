#include "closeloop/buf.h"
#include "closeloop/digest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_buf__grows_and_steals(void **state)
{
    struct buf b;
    char *s;
    size_t len;
    int i;

    (void)state;
    buf_init(&b);
    for (i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    s = buf_steal(&b, &len);
    assert_int_equal(len, strlen(s));
    assert_true(strncmp(s, "0,1,2,", 6) == 0);
    assert_non_null(strstr(s, ",999,"));
    assert_null(b.data);
    free(s);
}

static void test_buf__json_string_escapes(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_json_string(&b, "a\"b\\c\nd\x01");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\\u0001\"");
    buf_dispose(&b);
}

static void test_digest__sha256_and_base64url(void **state)
{
    char hex[DIGEST_SHA256_HEX_LEN + 1];
    char b64[16];

    (void)state;
    digest_sha256_hex(hex, "abc", 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    digest_base64url(b64, (const unsigned char *)"\xfb\xff", 2);
    assert_string_equal(b64, "-_8");
    digest_base64url(b64, (const unsigned char *)"abcd", 4);
    assert_string_equal(b64, "YWJjZA");
    assert_true(digest_equal("abc", "abc", 3));
    assert_false(digest_equal("abc", "abd", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__grows_and_steals),
        cmocka_unit_test(test_buf__json_string_escapes),
        cmocka_unit_test(test_digest__sha256_and_base64url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
