/* buf: a growing byte buffer, always NUL-terminated. The struct is the caller's
 * (buf_init/buf_dispose); buf_steal hands the bytes over to be free()d. */
#ifndef CLOSELOOP_BUF_H
#define CLOSELOOP_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_dispose(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void buf_json_string(struct buf *b, const char *s);
/* Appends the JSON text in[0..len) with one spacing, whatever produced it (PostgreSQL's
 * json " : ", jsonb, jansson): ": " after a key, ", " between items, no other whitespace
 * outside strings; strings are copied as they are. A trailing newline is kept. The text
 * must be valid JSON (it is not checked). */
void buf_json_respace(struct buf *b, const char *in, size_t len);

/* Returns the bytes (never NULL; "" when empty) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
