/* mime: composes one RFC 5322 / MIME message from its parts. Headers Date, Message-ID,
 * From, To, Subject (RFC 2047 encoded-words when not plain ASCII or long), MIME-Version;
 * a multipart/alternative of text/plain, optional text/html and an optional
 * text/calendar; method=... part (inside the alternative, where calendar clients look),
 * wrapped in multipart/related when inline parts (images by Content-ID) come along.
 * Bodies are quoted-printable (text) or base64 (calendar, inline parts): every line ends
 * in CRLF and is at most 78 characters, header lines at most 998. A CR or LF in any
 * header value is refused, so no header can be injected. Pure functions, any thread. */
#ifndef CLOSELOOP_MIME_H
#define CLOSELOOP_MIME_H

#include "closeloop/util/cl.h"

#include <stddef.h>
#include <time.h>

/* One inline part of a multipart/related message (an image a digest's HTML shows with
 * <img src="cid:ID">). */
struct mail_inline {
    char *content_id;   /* without the angle brackets: "chart1@closeloop" */
    char *content_type; /* "image/png" */
    char *filename;     /* NULL for none */
    unsigned char *data;
    size_t len;
};

/* What a mail kind renders from its payload. The caller owns the struct; its members are
 * heap strings freed by mime_parts_dispose(). */
struct mail_parts {
    char *text;            /* text/plain, UTF-8; required */
    char *html;            /* text/html, UTF-8; NULL for none */
    char *calendar;        /* an iCalendar object (CRLF lines); NULL for none */
    char *calendar_method; /* its METHOD: "REQUEST", "CANCEL"...; required with calendar */
    struct mail_inline *inl;
    size_t ninline;
};

/* Frees every member and zeroes p; NULL ok. */
void mime_parts_dispose(struct mail_parts *p);
/* Appends an inline part; everything is copied. */
void mime_parts_add_inline(struct mail_parts *p, const char *content_id, const char *content_type,
                           const char *filename, const void *data, size_t len);

/* The envelope-level headers; everything borrowed. */
struct mime_headers {
    const char *from_addr;  /* a plain address: local@domain */
    const char *from_name;  /* display name, UTF-8; NULL or "" for none */
    const char *to_addr;    /* a plain address */
    const char *to_name;    /* display name, UTF-8; NULL or "" for none */
    const char *subject;    /* UTF-8 */
    const char *message_id; /* "<id@domain>", as enqueued */
    time_t date;
};

/* Composes the message into *out (heap, NUL-terminated, length in *len; the caller frees
 * it). The same inputs give the same bytes: the boundaries derive from the Message-ID.
 * CL_EINVAL when a header value holds CR or LF or is not valid UTF-8, an address is not
 * plain, the text part is missing, or a calendar has no method. */
int mime_compose(char **out, size_t *len, const struct mime_headers *h, const struct mail_parts *p,
                 struct cl_err *err);

/* RFC 2047 "B" encoded-words for one header value, folded with CRLF SP between words
 * (each word at most 75 characters, never splitting a UTF-8 sequence); plain ASCII
 * without specials comes back as is. Heap; the caller frees it. */
char *mime_encode_header(const char *value, size_t room);

/* Quoted-printable (RFC 2045 §6.7) of len bytes: input line breaks (LF or CRLF) become
 * CRLF, lines at most 76 characters with soft breaks. Heap; the caller frees it. */
char *mime_qp(const char *in, size_t len);

#endif
