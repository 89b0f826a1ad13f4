/* log: one line per event, key=value pairs, to stderr. Levels are checked before
 * formatting. Never pass tokens, passwords, DSNs, Authorization headers or bodies. */
#ifndef CLOSELOOP_LOG_H
#define CLOSELOOP_LOG_H

#include <stddef.h>

enum cl_log_level { CL_LOG_ERROR, CL_LOG_WARN, CL_LOG_INFO, CL_LOG_DEBUG };

extern enum cl_log_level log_max_level;

/* Parses "error", "warn", "info" or "debug"; 0 on success, CL_EINVAL otherwise. */
int log_level_parse(enum cl_log_level *out, const char *s);

/* Writes "ts=... level=... [req=...] <formatted>" as one line. id may be NULL. Whatever
 * the arguments hold, the line stays one line: control bytes and bytes that are not
 * UTF-8 are written as \xNN. */
void log_line(enum cl_log_level lvl, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies s (NULL: "-") into out, n bytes, escaped for a quoted value: \" and \\, and
 * \xNN for control bytes and bytes that are not UTF-8; cut with "..." when longer.
 * Returns out. Use it for every value that came from outside (paths, methods, a
 * tracker's messages) so that no input can end a value or forge a field. */
const char *log_quote(char *out, size_t n, const char *s);

#define LOG_AT(lvl, id, ...)                                                                       \
    do {                                                                                           \
        if ((lvl) <= log_max_level)                                                                \
            log_line((lvl), (id), __VA_ARGS__);                                                    \
    } while (0)
#define log_error(...) LOG_AT(CL_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  LOG_AT(CL_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  LOG_AT(CL_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) LOG_AT(CL_LOG_DEBUG, NULL, __VA_ARGS__)
/* _req variants put the request id first. */
#define log_req_info(id, ...)  LOG_AT(CL_LOG_INFO, (id), __VA_ARGS__)
#define log_req_warn(id, ...)  LOG_AT(CL_LOG_WARN, (id), __VA_ARGS__)
#define log_req_error(id, ...) LOG_AT(CL_LOG_ERROR, (id), __VA_ARGS__)

#endif
