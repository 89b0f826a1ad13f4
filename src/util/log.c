#include "closeloop/util/log.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/utf8.h"

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

/* Appends s[0..len) to out at *o (capacity n, room kept for "...\0"), escaping control
 * bytes and invalid UTF-8 as \xNN, and also '"' and '\' when `quote`. False when cut. */
static bool log_escape(char *out, size_t n, size_t *o, const char *s, size_t len, bool quote)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_seq_len(s + i, len - i);
        bool esc = k == 0 || (k == 1 && (c < 0x20 || c == 0x7f));
        bool backslash = !esc && quote && (c == '"' || c == '\\');
        size_t need = esc ? 4 : backslash ? 2 : k;

        if (*o + need + 4 > n)
            return false;
        if (esc) {
            out[(*o)++] = '\\';
            out[(*o)++] = 'x';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
            i++;
        } else if (backslash) {
            out[(*o)++] = '\\';
            out[(*o)++] = (char)c;
            i++;
        } else {
            memcpy(out + *o, s + i, k);
            *o += k;
            i += k;
        }
    }
    return true;
}

const char *log_quote(char *out, size_t n, const char *s)
{
    size_t o = 0;

    if (n < 8) {
        if (n > 0)
            out[0] = '\0';
        return out;
    }
    if (s == NULL)
        s = "-";
    if (!log_escape(out, n, &o, s, strlen(s), true)) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

void log_line(enum cl_log_level lvl, const char *id, const char *fmt, ...)
{
    char msg[1024];
    char line[2048];
    char ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    size_t o;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s ", ts, (long)(tv.tv_usec / 1000),
                 level_names[lvl]);
    o = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
    if (id != NULL && !log_escape(line, sizeof(line), &o, "req=", 4, false))
        id = NULL;
    if (id != NULL) {
        log_escape(line, sizeof(line), &o, id, strlen(id), true);
        line[o++] = ' ';
    }
    /* the arguments may hold anything: the line must stay one line */
    if (!log_escape(line, sizeof(line), &o, msg, strlen(msg), false)) {
        memcpy(line + o, "...", 3);
        o += 3;
    }
    line[o] = '\0';
    /* One write per line so concurrent processes do not interleave. */
    fprintf(stderr, "%s\n", line);
}
