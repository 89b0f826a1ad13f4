#include "closeloop/metrics.h"

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
    snprintf(method, sizeof(method), "XXX"); /* the caller's string may change: metrics copies it */
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
    buf_dispose(&b);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__counts_by_route_method_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
