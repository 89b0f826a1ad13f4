#include "closeloop/http/metrics.h"
#include "closeloop/util/version.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void test_metrics__counts_by_route_method_status(void **state)
{
    struct metrics *m = metrics_new();
    struct db_pool_stats st = {.size = 8, .connected = 7, .busy = 2, .queued = 3};
    char method[8] = "GET";
    struct buf b;

    (void)state;
    metrics_observe(m, "/a", method, 200, 0.004);
    snprintf(method, sizeof(method),
             "XXX"); /* the caller's string may change: metrics keeps none */
    metrics_observe(m, "/a", "GET", 200, 0.030);
    metrics_observe(m, "/a", "POST", 422, 0.001);
    buf_init(&b);
    metrics_render(&b, m, &st, 5);
    assert_non_null(strstr(b.data, "closeloop_http_requests_total{route=\"/a\",method=\"GET\","
                                   "status=\"200\"} 2\n"));
    assert_non_null(strstr(b.data, "method=\"POST\",status=\"422\"} 1\n"));
    assert_null(strstr(b.data, "XXX"));
    /* cumulative buckets: 0.001 -> le 0.001; 0.004 -> le 0.005; 0.03 -> le 0.05 */
    assert_non_null(strstr(b.data, "_bucket{route=\"/a\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(b.data, "_bucket{route=\"/a\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(b.data, "_bucket{route=\"/a\",le=\"0.02\"} 2\n"));
    assert_non_null(strstr(b.data, "_bucket{route=\"/a\",le=\"0.05\"} 3\n"));
    assert_non_null(strstr(b.data, "_bucket{route=\"/a\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(b.data, "closeloop_http_requests_in_flight 5\n"));
    assert_non_null(strstr(b.data, "closeloop_db_pool_connections{state=\"busy\"} 2\n"));
    assert_non_null(strstr(b.data, "closeloop_db_queued_queries 3\n"));
    assert_non_null(strstr(b.data, "closeloop_build_info{version=\"" CL_VERSION "\"} 1\n"));
    buf_dispose(&b);
    metrics_free(m);
}

/* Clients choose the method: it may neither break the exposition nor add series. */
static void test_metrics__methods_are_a_fixed_set(void **state)
{
    struct metrics *m = metrics_new();
    struct db_pool_stats st = {0};
    char junk[32];
    struct buf b;
    int i;

    (void)state;
    metrics_observe(m, "/a", "A\"}x", 405, 0.001);
    for (i = 0; i < 600; i++) {
        snprintf(junk, sizeof(junk), "JUNK%d", i);
        metrics_observe(m, "/a", junk, 405, 0.001);
    }
    metrics_observe(m, "/b", "GET", 200, 0.001);
    buf_init(&b);
    metrics_render(&b, m, &st, 0);
    assert_null(strstr(b.data, "JUNK"));
    assert_null(strstr(b.data, "A\"}x"));
    assert_non_null(strstr(b.data, "{route=\"/a\",method=\"other\",status=\"405\"} 601\n"));
    assert_non_null(strstr(b.data, "{route=\"/b\",method=\"GET\",status=\"200\"} 1\n"));
    buf_dispose(&b);
    metrics_free(m);
}

static void test_metrics__label_values_are_escaped(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    metrics_label(&b, "a\"b\\c\nd");
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    buf_dispose(&b);
}

/* Rejections count by reason from a fixed set; database faults are not input errors. */
static void test_metrics__rejections_by_reason_and_faults(void **state)
{
    struct metrics *m = metrics_new();
    struct db_pool_stats st = {0};
    struct db_reply bad_input = {.code = CL_EDB, .sqlstate = "CL422"};
    struct db_reply bad_date = {.code = CL_EDB, .sqlstate = "22007"};
    struct db_reply dup = {.code = CL_EDB, .sqlstate = "23505"};
    struct db_reply gone = {.code = CL_EIO, .sqlstate = ""};
    struct db_reply deadlock = {.code = CL_EDB, .sqlstate = "40P01"};
    struct db_reply ok = {.code = CL_OK, .sqlstate = ""};
    struct buf b;

    (void)state;
    metrics_reject(m, "validation");
    metrics_reject(m, "validation");
    metrics_reject(m, "A\"}x"); /* never a label of its own */
    buf_init(&b);
    metrics_render(&b, m, &st, 0);
    assert_non_null(strstr(b.data, "closeloop_requests_rejected_total{reason=\"validation\"} 2\n"));
    assert_non_null(strstr(b.data, "closeloop_requests_rejected_total{reason=\"other\"} 1\n"));
    assert_non_null(strstr(b.data, "closeloop_requests_rejected_total{reason=\"not_found\"} 0\n"));
    assert_null(strstr(b.data, "A\""));
    buf_dispose(&b);
    metrics_free(m);
    assert_false(db_reply_is_fault(&bad_input));
    assert_false(db_reply_is_fault(&bad_date));
    assert_false(db_reply_is_fault(&dup));
    assert_false(db_reply_is_fault(&ok));
    assert_true(db_reply_is_fault(&gone));
    assert_true(db_reply_is_fault(&deadlock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__counts_by_route_method_status),
        cmocka_unit_test(test_metrics__methods_are_a_fixed_set),
        cmocka_unit_test(test_metrics__label_values_are_escaped),
        cmocka_unit_test(test_metrics__rejections_by_reason_and_faults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
