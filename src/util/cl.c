#include "closeloop/util/cl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cl_fail(struct cl_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != CL_OK)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void cl_err_clear(struct cl_err *err)
{
    err->code = CL_OK;
    err->msg[0] = '\0';
}

static void cl_oom(size_t n)
{
    fprintf(stderr, "closeloop: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cl_malloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);

    if (p == NULL)
        cl_oom(n);
    return p;
}

void *cl_calloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb == 0 ? 1 : nmemb, n == 0 ? 1 : n);

    if (p == NULL)
        cl_oom(nmemb * n);
    return p;
}

void *cl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);

    if (q == NULL)
        cl_oom(n);
    return q;
}

char *cl_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return cl_strndup(s, strlen(s));
}

char *cl_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = cl_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *cl_asprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        cl_oom(0);
    p = cl_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void cl_freep(void *p)
{
    void **pp = p;

    free(*pp);
    *pp = NULL;
}

int cl_parse_long(long *out, const char *s, long min, long max)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return CL_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return CL_EINVAL;
    *out = v;
    return CL_OK;
}

int cl_parse_amount(long *out, const char *s, char unit, char big, long factor, long min, long max)
{
    char num[24];
    size_t n = s != NULL ? strlen(s) : 0;
    long mult = 1;
    long v;

    if (n == 0 || n >= sizeof(num))
        return CL_EINVAL;
    memcpy(num, s, n + 1);
    if (num[n - 1] == unit || num[n - 1] == big) {
        mult = num[n - 1] == big ? factor : 1;
        num[n - 1] = '\0';
    }
    if (cl_parse_long(&v, num, 0, max) != CL_OK || v * mult < min || v * mult > max)
        return CL_EINVAL;
    *out = v * mult;
    return CL_OK;
}

double cl_now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
