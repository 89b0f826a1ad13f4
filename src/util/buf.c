#include "closeloop/util/buf.h"

#include "closeloop/util/cl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_dispose(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

static void buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap = b->cap > 0 ? b->cap : 256;

    if (need <= b->cap)
        return;
    while (cap < need)
        cap *= 2;
    b->data = cl_realloc(b->data, cap);
    b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_json_string(struct buf *b, const char *s)
{
    const unsigned char *p;

    buf_puts(b, "\"");
    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            buf_printf(b, "\\u%04x", *p);
        else
            buf_append(b, p, 1);
    }
    buf_puts(b, "\"");
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *data = b->data != NULL ? b->data : cl_strdup("");

    if (len != NULL)
        *len = b->len;
    buf_init(b);
    return data;
}

/* Copies the string starting at in[i] (a quote) through its closing quote; -> the index
 * after it. */
static size_t buf_json_copy_string(struct buf *b, const char *in, size_t len, size_t i)
{
    size_t start = i++;

    while (i < len && in[i] != '"')
        i += in[i] == '\\' ? 2 : 1;
    i = i < len ? i + 1 : len;
    buf_append(b, in + start, i - start);
    return i;
}

void buf_json_respace(struct buf *b, const char *in, size_t len)
{
    size_t i = 0;

    while (i < len) {
        char c = in[i];

        if (c == '"') {
            i = buf_json_copy_string(b, in, len, i);
            continue;
        }
        if (c == ':')
            buf_puts(b, ": ");
        else if (c == ',')
            buf_puts(b, ", ");
        else if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            buf_append(b, &c, 1);
        i++;
    }
    if (len > 0 && in[len - 1] == '\n')
        buf_puts(b, "\n");
}
