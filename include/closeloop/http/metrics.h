/* metrics: request counters and latency histograms, rendered as Prometheus text.
 * Loop-only (no locking). Route strings must be static (they are kept); methods are
 * counted under a fixed set of names (GET ... OPTIONS, else "other"). */
#ifndef CLOSELOOP_METRICS_H
#define CLOSELOOP_METRICS_H

#include "closeloop/util/buf.h"
#include "closeloop/db/db.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Counts one finished request under its route template (e.g. "/api/v1/actions/{id}"). */
void metrics_observe(struct metrics *m, const char *route, const char *method, int status,
                     double seconds);

/* Counts one request answered 4xx under reason, the API's error code ("validation"); a
 * code outside the fixed set counts as "other". */
void metrics_reject(struct metrics *m, const char *reason);

/* Appends value escaped for a Prometheus label value (\\, \" and \n). */
void metrics_label(struct buf *out, const char *value);

/* Appends the whole exposition: requests, latency, in-flight, pool stats. */
void metrics_render(struct buf *out, const struct metrics *m, const struct db_pool_stats *pool,
                    int inflight);

#endif
