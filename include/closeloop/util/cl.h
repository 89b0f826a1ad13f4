/* cl: project-wide basics shared by every module: the error type, allocation
 * that aborts on out-of-memory, and container_of. */
#ifndef CLOSELOOP_CL_H
#define CLOSELOOP_CL_H

#include <stddef.h>

enum cl_code {
    CL_OK = 0,
    CL_EINVAL = -1,    /* bad input: validation, usage */
    CL_ENOTFOUND = -2, /* the named thing does not exist */
    CL_EDB = -3,       /* PostgreSQL failed or refused */
    CL_EHTTP = -4,     /* an HTTP exchange failed */
    CL_ETIMEOUT = -5,  /* a deadline passed */
    CL_ECONFLICT = -6, /* stale version, duplicate, invalid transition */
    CL_EAUTH = -7,     /* missing, bad or insufficient credentials */
    CL_EIO = -8        /* a file or socket operation failed */
};

/* The first failure wins: cl_fail() writes only while code is CL_OK. */
struct cl_err {
    int code;
    char msg[512];
};

#define CL_ERR_INIT                                                                                \
    {                                                                                              \
        0,                                                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Records the first failure into err (NULL allowed); returns code. */
int cl_fail(struct cl_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets err to "no failure". */
void cl_err_clear(struct cl_err *err);

/* Allocation: never returns NULL, aborts the process on OOM. */
void *cl_malloc(size_t n);
void *cl_calloc(size_t nmemb, size_t n);
void *cl_realloc(void *p, size_t n);
char *cl_strdup(const char *s);            /* NULL in, NULL out */
char *cl_strndup(const char *s, size_t n); /* copies at most n bytes, NUL-terminates */

/* Formatted string on the heap; the caller frees it. */
char *cl_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees *p and sets it to NULL. */
void cl_freep(void *p);

/* Parses a whole decimal string into [min, max]; 0 on success, CL_EINVAL otherwise. */
int cl_parse_long(long *out, const char *s, long min, long max);

/* Parses an amount with an optional unit: digits alone or followed by `unit` count as
 * they are, followed by `big` count `factor` times ("45m", "1h" with 'm', 'h', 60; "7d",
 * "2w" with 'd', 'w', 7). The result must lie in [min, max]; CL_EINVAL otherwise. */
int cl_parse_amount(long *out, const char *s, char unit, char big, long factor, long min, long max);

/* Monotonic seconds, for latency measurement. */
double cl_now_mono(void);

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define CL_ARRAY_LEN(a)                 (sizeof(a) / sizeof((a)[0]))

#endif
