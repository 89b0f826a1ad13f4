#include "closeloop/mail/smtp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_smtp__classify(void **state)
{
    (void)state;
    assert_int_equal(smtp_classify(CL_OK, 250), SMTP_SENT);
    assert_int_equal(smtp_classify(CL_EHTTP, 550), SMTP_PERMANENT);
    assert_int_equal(smtp_classify(CL_EHTTP, 554), SMTP_PERMANENT);
    assert_int_equal(smtp_classify(CL_EHTTP, 451), SMTP_TRANSIENT);
    assert_int_equal(smtp_classify(CL_EHTTP, 421), SMTP_TRANSIENT);
    assert_int_equal(smtp_classify(CL_EHTTP, 0), SMTP_TRANSIENT);      /* no connection */
    assert_int_equal(smtp_classify(CL_ETIMEOUT, 354), SMTP_TRANSIENT); /* hung in DATA */
    assert_int_equal(smtp_classify(CL_EHTTP, 535), SMTP_TRANSIENT);    /* bad credentials */
    assert_int_equal(smtp_classify(CL_EHTTP, 530), SMTP_TRANSIENT);    /* AUTH required */
}

static void test_smtp__tls_parse(void **state)
{
    enum smtp_tls t = SMTP_TLS_NONE;

    (void)state;
    assert_int_equal(smtp_tls_parse(&t, "required"), CL_OK);
    assert_int_equal(t, SMTP_TLS_REQUIRED);
    assert_int_equal(smtp_tls_parse(&t, "try"), CL_OK);
    assert_int_equal(t, SMTP_TLS_TRY);
    assert_int_equal(smtp_tls_parse(&t, "none"), CL_OK);
    assert_int_equal(t, SMTP_TLS_NONE);
    assert_int_equal(smtp_tls_parse(&t, "yes"), CL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp__classify),
        cmocka_unit_test(test_smtp__tls_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
