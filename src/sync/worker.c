#include "closeloop/sync/worker.h"

#include <stdlib.h>

#define WORKER_BACKOFF_MAX 300.0

double worker_lease(const struct conf_conn *cfg)
{
    double lease = 3.0 * cfg->timeout + 3.0 * cfg->write_interval + 30.0;

    return lease > WORKER_LEASE ? lease : WORKER_LEASE;
}

double worker_jitter(double seconds)
{
    return seconds * (0.75 + 0.5 * (double)rand() / RAND_MAX);
}

double worker_backoff(long attempts)
{
    double b = attempts < 9 ? (double)(1L << (attempts > 0 ? attempts : 0)) : WORKER_BACKOFF_MAX;

    return worker_jitter(b < WORKER_BACKOFF_MAX ? b : WORKER_BACKOFF_MAX);
}

char *worker_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL)
        abort(); /* jansson fails only when out of memory */
    return s;
}
