#include "closeloop/http/metrics.h"
#include "closeloop/util/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_SERIES 512
#define METRICS_MAX_ROUTES 64

static const double metrics_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,  10};
#define METRICS_NBUCKETS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

struct metrics_series {
    const char *route;
    const char *method; /* one of metrics_methods[]: clients cannot add label values */
    int status;
    unsigned long long count;
};

struct metrics_hist {
    const char *route;
    unsigned long long buckets[METRICS_NBUCKETS]; /* not cumulative; summed on render */
    unsigned long long count;
    double sum;
};

/* The reasons requests are rejected for (the API's error codes of 4xx answers); anything
 * else counts as "other". */
static const char *const metrics_reasons[] = {"bad_json",          "bad_request",
                                              "unauthorized",      "forbidden",
                                              "not_found",         "method_not_allowed",
                                              "validation",        "version_conflict",
                                              "duplicate",         "invalid_transition",
                                              "payload_too_large", "unsupported_media_type",
                                              "tracker_refused",   "other"};
#define METRICS_NREASONS (sizeof(metrics_reasons) / sizeof(metrics_reasons[0]))

struct metrics {
    unsigned long long rejected[METRICS_NREASONS];
    struct metrics_series series[METRICS_MAX_SERIES];
    int nseries;
    struct metrics_hist hists[METRICS_MAX_ROUTES];
    int nhists;
    unsigned long long dropped; /* observations past the bounds above */
};

/* The methods counted by name; anything else is "other", so that no client can add
 * series or write into the exposition. */
static const char *const metrics_methods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                              "PATCH", "DELETE", "OPTIONS"};

static const char *metrics_method(const char *method)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(metrics_methods); i++)
        if (method != NULL && strcmp(method, metrics_methods[i]) == 0)
            return metrics_methods[i];
    return "other";
}

struct metrics *metrics_new(void)
{
    return cl_calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    free(m);
}

static struct metrics_series *metrics_series_get(struct metrics *m, const char *route,
                                                 const char *method, int status)
{
    int i;

    for (i = 0; i < m->nseries; i++) {
        struct metrics_series *s = &m->series[i];

        if (s->status == status && s->route == route && s->method == method)
            return s;
    }
    if (m->nseries == METRICS_MAX_SERIES)
        return NULL;
    m->series[m->nseries].route = route;
    m->series[m->nseries].method = method;
    m->series[m->nseries].status = status;
    m->series[m->nseries].count = 0;
    return &m->series[m->nseries++];
}

static struct metrics_hist *metrics_hist_get(struct metrics *m, const char *route)
{
    int i;

    for (i = 0; i < m->nhists; i++)
        if (m->hists[i].route == route)
            return &m->hists[i];
    if (m->nhists == METRICS_MAX_ROUTES)
        return NULL;
    memset(&m->hists[m->nhists], 0, sizeof(m->hists[0]));
    m->hists[m->nhists].route = route;
    return &m->hists[m->nhists++];
}

void metrics_observe(struct metrics *m, const char *route, const char *method, int status,
                     double seconds)
{
    struct metrics_series *s = metrics_series_get(m, route, metrics_method(method), status);
    struct metrics_hist *h = metrics_hist_get(m, route);
    size_t i;

    if (s == NULL || h == NULL) {
        m->dropped++;
        return;
    }
    s->count++;
    h->count++;
    h->sum += seconds;
    for (i = 0; i < METRICS_NBUCKETS; i++) {
        if (seconds <= metrics_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
}

void metrics_reject(struct metrics *m, const char *reason)
{
    size_t i;

    for (i = 0; i + 1 < METRICS_NREASONS; i++)
        if (reason != NULL && strcmp(reason, metrics_reasons[i]) == 0)
            break;
    m->rejected[i]++; /* the last is "other" */
}

static void metrics_render_rejected(struct buf *out, const struct metrics *m)
{
    size_t i;

    buf_puts(out, "# HELP closeloop_requests_rejected_total Requests answered 4xx, by reason "
                  "(the API's error code).\n"
                  "# TYPE closeloop_requests_rejected_total counter\n");
    for (i = 0; i < METRICS_NREASONS; i++)
        buf_printf(out, "closeloop_requests_rejected_total{reason=\"%s\"} %llu\n",
                   metrics_reasons[i], m->rejected[i]);
}

void metrics_label(struct buf *out, const char *value)
{
    const char *p;

    for (p = value != NULL ? value : ""; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            buf_printf(out, "\\%c", *p);
        else if (*p == '\n')
            buf_puts(out, "\\n");
        else
            buf_append(out, p, 1);
    }
}

static void metrics_render_hist(struct buf *out, const struct metrics_hist *h)
{
    unsigned long long cum = 0;
    size_t i;

    for (i = 0; i <= METRICS_NBUCKETS; i++) {
        cum += i < METRICS_NBUCKETS ? h->buckets[i] : 0;
        buf_puts(out, "closeloop_http_request_duration_seconds_bucket{route=\"");
        metrics_label(out, h->route);
        if (i < METRICS_NBUCKETS)
            buf_printf(out, "\",le=\"%g\"} %llu\n", metrics_bounds[i], cum);
        else
            buf_printf(out, "\",le=\"+Inf\"} %llu\n", h->count);
    }
    buf_puts(out, "closeloop_http_request_duration_seconds_sum{route=\"");
    metrics_label(out, h->route);
    buf_printf(out, "\"} %.6f\n", h->sum);
    buf_puts(out, "closeloop_http_request_duration_seconds_count{route=\"");
    metrics_label(out, h->route);
    buf_printf(out, "\"} %llu\n", h->count);
}

static void metrics_render_pool(struct buf *out, const struct db_pool_stats *p)
{
    buf_puts(out, "# HELP closeloop_db_pool_connections PostgreSQL pool connections by state.\n"
                  "# TYPE closeloop_db_pool_connections gauge\n");
    buf_printf(out, "closeloop_db_pool_connections{state=\"configured\"} %d\n", p->size);
    buf_printf(out, "closeloop_db_pool_connections{state=\"connected\"} %d\n", p->connected);
    buf_printf(out, "closeloop_db_pool_connections{state=\"busy\"} %d\n", p->busy);
    buf_puts(out, "# HELP closeloop_db_queued_queries Queries waiting for a connection.\n"
                  "# TYPE closeloop_db_queued_queries gauge\n");
    buf_printf(out, "closeloop_db_queued_queries %d\n", p->queued);
    buf_puts(out, "# HELP closeloop_db_queries_total Statements completed.\n"
                  "# TYPE closeloop_db_queries_total counter\n");
    buf_printf(out, "closeloop_db_queries_total %llu\n", (unsigned long long)p->queries);
    buf_puts(out, "# HELP closeloop_db_errors_total Statements that failed through a database "
                  "fault (not rejected input).\n"
                  "# TYPE closeloop_db_errors_total counter\n");
    buf_printf(out, "closeloop_db_errors_total %llu\n", (unsigned long long)p->errors);
    buf_puts(out, "# HELP closeloop_db_reconnects_total Connections re-established.\n"
                  "# TYPE closeloop_db_reconnects_total counter\n");
    buf_printf(out, "closeloop_db_reconnects_total %llu\n", (unsigned long long)p->reconnects);
}

void metrics_render(struct buf *out, const struct metrics *m, const struct db_pool_stats *pool,
                    int inflight)
{
    int i;

    buf_puts(out,
             "# HELP closeloop_http_requests_total HTTP requests by route, method and status.\n"
             "# TYPE closeloop_http_requests_total counter\n");
    for (i = 0; i < m->nseries; i++) {
        const struct metrics_series *s = &m->series[i];

        buf_puts(out, "closeloop_http_requests_total{route=\"");
        metrics_label(out, s->route);
        buf_printf(out, "\",method=\"%s\",status=\"%d\"} %llu\n", s->method, s->status, s->count);
    }
    buf_puts(out, "# HELP closeloop_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE closeloop_http_request_duration_seconds histogram\n");
    for (i = 0; i < m->nhists; i++)
        metrics_render_hist(out, &m->hists[i]);
    buf_puts(out, "# HELP closeloop_http_requests_in_flight Requests being served.\n"
                  "# TYPE closeloop_http_requests_in_flight gauge\n");
    buf_printf(out, "closeloop_http_requests_in_flight %d\n", inflight);
    metrics_render_rejected(out, m);
    metrics_render_pool(out, pool);
    buf_puts(out, "# HELP closeloop_build_info The running version (always 1).\n"
                  "# TYPE closeloop_build_info gauge\n"
                  "closeloop_build_info{version=\"" CL_VERSION "\"} 1\n");
}
