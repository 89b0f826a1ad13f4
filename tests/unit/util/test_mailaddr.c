#include "closeloop/util/mailaddr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_mailaddr__parse(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *name = NULL;
    char *addr = NULL;

    (void)state;
    assert_int_equal(mailaddr_parse(&name, &addr, "ops@example.org", &err), CL_OK);
    assert_string_equal(name, "");
    assert_string_equal(addr, "ops@example.org");
    free(name);
    free(addr);
    assert_int_equal(mailaddr_parse(&name, &addr, " \"Ops Bot\" <ops@example.org>", &err), CL_OK);
    assert_string_equal(name, "Ops Bot");
    assert_string_equal(addr, "ops@example.org");
    free(name);
    free(addr);
    assert_int_equal(mailaddr_parse(&name, &addr, "<ops@example.org>", &err), CL_OK);
    assert_string_equal(name, "");
    free(name);
    free(addr);
    assert_int_equal(mailaddr_parse(&name, &addr, "Ops <ops@example.org> x", &err), CL_EINVAL);
    assert_int_equal(mailaddr_parse(&name, &addr, "ops@example.org\r\nBcc: x@y", &err), CL_EINVAL);
    assert_false(mailaddr_ok("a b@example.org"));
    assert_false(mailaddr_ok("a@b@example.org"));
    assert_false(mailaddr_ok("@example.org"));
    assert_false(mailaddr_ok("a@"));
    assert_false(mailaddr_ok("a@example.org."));
    assert_false(mailaddr_ok("é@example.org"));
    assert_true(mailaddr_ok("first.last+tag@sub.example.org"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailaddr__parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
