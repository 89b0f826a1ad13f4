#include "closeloop/log.h"

#include "closeloop/cl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum cl_log_level log_max_level = CL_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(enum cl_log_level *out, const char *s)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum cl_log_level)i;
            return CL_OK;
        }
    }
    return CL_EINVAL;
}

void log_line(enum cl_log_level lvl, const char *id, const char *fmt, ...)
{
    char line[1024];
    char ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s ", ts, (long)(tv.tv_usec / 1000),
                 level_names[lvl]);
    if (id != NULL && n > 0 && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "req=%s ", id);
    if (n > 0 && (size_t)n < sizeof(line)) {
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* One write per line so concurrent processes do not interleave. */
    fprintf(stderr, "%s\n", line);
}
