#include "closeloop/util/batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A pass that hits the statement timeout halves the batch, down to 1; each pass that
 * succeeds doubles it back, up to the maximum; any other failure leaves it. */
static void test_batch__halves_on_timeout_and_grows_back(void **state)
{
    struct batch b;
    char buf[16];

    (void)state;
    batch_init(&b, 100);
    assert_int_equal(b.size, 100);
    assert_false(batch_after(&b, true, NULL));
    assert_int_equal(b.size, 100);
    assert_true(batch_after(&b, false, "57014"));
    assert_int_equal(b.size, 50);
    assert_string_equal(batch_text(&b, buf, sizeof(buf)), "50");
    assert_false(batch_after(&b, false, "40001")); /* a serialization failure: not the size */
    assert_false(batch_after(&b, false, ""));      /* the connection lost: not the size either */
    assert_int_equal(b.size, 50);
    for (int i = 0; i < 10; i++)
        batch_after(&b, false, "57014");
    assert_int_equal(b.size, 1);
    assert_false(batch_after(&b, false, "57014"));
    assert_true(batch_after(&b, true, NULL));
    assert_int_equal(b.size, 2);
    for (int i = 0; i < 10; i++)
        batch_after(&b, true, NULL);
    assert_int_equal(b.size, 100);
    batch_init(&b, 0);
    assert_int_equal(b.size, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch__halves_on_timeout_and_grows_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
