#include "closeloop/mail/mime.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/crypto.h"
#include "closeloop/util/mailaddr.h"
#include "closeloop/util/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIME_WORD_RAW  45 /* bytes per encoded-word: 60 base64 chars + 12 = 72 <= 75 */
#define MIME_QP_LINE   75 /* characters before a soft break ("=" makes 76) */
#define MIME_B64_LINE  76
#define MIME_ROOM_NAME 60 /* a display name longer than this is encoded (and folded) */

void mime_parts_dispose(struct mail_parts *p)
{
    size_t i;

    if (p == NULL)
        return;
    free(p->text);
    free(p->html);
    free(p->calendar);
    free(p->calendar_method);
    for (i = 0; i < p->ninline; i++) {
        free(p->inl[i].content_id);
        free(p->inl[i].content_type);
        free(p->inl[i].filename);
        free(p->inl[i].data);
    }
    free(p->inl);
    memset(p, 0, sizeof(*p));
}

void mime_parts_add_inline(struct mail_parts *p, const char *content_id, const char *content_type,
                           const char *filename, const void *data, size_t len)
{
    struct mail_inline *in;

    p->inl = cl_realloc(p->inl, (p->ninline + 1) * sizeof(*p->inl));
    in = &p->inl[p->ninline++];
    in->content_id = cl_strdup(content_id);
    in->content_type = cl_strdup(content_type);
    in->filename = cl_strdup(filename);
    in->data = cl_malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(in->data, data, len);
    in->len = len;
}

/* ---- header values ---- */

static bool mime_ascii_plain(const char *v, size_t room)
{
    size_t n = strlen(v);
    size_t i;

    if (n > room || strstr(v, "=?") != NULL)
        return false;
    for (i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return false;
    }
    return true;
}

/* How many bytes of s (n available) fit into one word without splitting a character. */
static size_t mime_word_take(const char *s, size_t n)
{
    size_t used = 0;
    size_t k;

    while (used < n) {
        k = utf8_seq_len(s + used, n - used);
        if (k == 0)
            k = 1; /* validated by the caller; never loop */
        if (used + k > MIME_WORD_RAW)
            break;
        used += k;
    }
    return used;
}

char *mime_encode_header(const char *value, size_t room)
{
    size_t n = strlen(value);
    size_t off = 0;
    struct buf b;
    char *chunk;

    if (mime_ascii_plain(value, room))
        return cl_strdup(value);
    buf_init(&b);
    while (off < n || off == 0) {
        size_t take = mime_word_take(value + off, n - off);

        chunk = crypto_base64(value + off, take);
        buf_printf(&b, "%s=?UTF-8?B?%s?=", off > 0 ? "\r\n " : "", chunk);
        free(chunk);
        off += take;
        if (take == 0)
            break; /* the empty value: one empty word */
    }
    return buf_steal(&b, NULL);
}

/* A display name as a quoted-string when plain ASCII, else as encoded-words. */
static char *mime_phrase(const char *name)
{
    struct buf b;
    const char *s;

    if (!mime_ascii_plain(name, MIME_ROOM_NAME))
        return mime_encode_header(name, 0);
    buf_init(&b);
    buf_puts(&b, "\"");
    for (s = name; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_puts(&b, "\\");
        buf_append(&b, s, 1);
    }
    buf_puts(&b, "\"");
    return buf_steal(&b, NULL);
}

static int mime_check_value(const char *what, const char *v, struct cl_err *err)
{
    if (v == NULL)
        return CL_OK;
    if (strpbrk(v, "\r\n") != NULL)
        return cl_fail(err, CL_EINVAL, "mail %s contains CR or LF", what);
    if (!utf8_printable(v, strlen(v)))
        return cl_fail(err, CL_EINVAL, "mail %s is not printable UTF-8", what);
    return CL_OK;
}

static int mime_check_inline(const struct mail_inline *in, struct cl_err *err)
{
    const char *bad = "\r\n\"<> ;\\";

    if (in->content_id == NULL || in->content_type == NULL ||
        strpbrk(in->content_id, bad) != NULL || strpbrk(in->content_type, "\r\n\"<> ;\\") != NULL ||
        strchr(in->content_type, '/') == NULL || in->content_id[0] == '\0')
        return cl_fail(err, CL_EINVAL, "inline part: bad Content-ID or type");
    if (in->filename != NULL && strpbrk(in->filename, "\r\n\"\\/") != NULL)
        return cl_fail(err, CL_EINVAL, "inline part: bad file name");
    return CL_OK;
}

static int mime_check(const struct mime_headers *h, const struct mail_parts *p, struct cl_err *err)
{
    size_t i;
    int rc = CL_OK;

    if (!mailaddr_ok(h->from_addr))
        return cl_fail(err, CL_EINVAL, "mail From is not a plain address");
    if (!mailaddr_ok(h->to_addr))
        return cl_fail(err, CL_EINVAL, "mail To is not a plain address");
    if (h->message_id == NULL || h->message_id[0] != '<' ||
        strpbrk(h->message_id, "\r\n \t") != NULL || strlen(h->message_id) > 250)
        return cl_fail(err, CL_EINVAL, "mail Message-ID is not <id@domain>");
    if (p->text == NULL)
        return cl_fail(err, CL_EINVAL, "mail has no text part");
    if (p->calendar != NULL &&
        (p->calendar_method == NULL || p->calendar_method[0] == '\0' ||
         strspn(p->calendar_method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") != strlen(p->calendar_method)))
        return cl_fail(err, CL_EINVAL, "mail calendar part has no method");
    rc = mime_check_value("From name", h->from_name, err);
    if (rc == CL_OK)
        rc = mime_check_value("To name", h->to_name, err);
    if (rc == CL_OK)
        rc = mime_check_value("Subject", h->subject, err);
    for (i = 0; rc == CL_OK && i < p->ninline; i++)
        rc = mime_check_inline(&p->inl[i], err);
    return rc;
}

/* ---- bodies ---- */

static void qp_token(struct buf *b, size_t *col, const char *tok, size_t len)
{
    if (*col + len > MIME_QP_LINE) {
        buf_puts(b, "=\r\n");
        *col = 0;
    }
    buf_append(b, tok, len);
    *col += len;
}

char *mime_qp(const char *in, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;
    size_t col = 0;
    size_t i;
    char esc[3];

    buf_init(&b);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool eol_next = i + 1 == len || in[i + 1] == '\n' ||
                        (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n');

        if (c == '\n' || (c == '\r' && i + 1 < len && in[i + 1] == '\n')) {
            i += c == '\r';
            buf_puts(&b, "\r\n");
            col = 0;
        } else if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol_next)) {
            qp_token(&b, &col, &in[i], 1);
        } else {
            esc[0] = '=';
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 15];
            qp_token(&b, &col, esc, 3);
        }
    }
    return buf_steal(&b, NULL);
}

static void mime_base64(struct buf *b, const void *data, size_t len)
{
    char *s = crypto_base64(data, len);
    size_t n = strlen(s);
    size_t off;

    for (off = 0; off < n; off += MIME_B64_LINE) {
        buf_append(b, s + off, n - off < MIME_B64_LINE ? n - off : MIME_B64_LINE);
        buf_puts(b, "\r\n");
    }
    free(s);
}

static void mime_text_part(struct buf *b, const char *boundary, const char *subtype,
                           const char *text)
{
    char *qp = mime_qp(text, strlen(text));

    buf_printf(b,
               "--%s\r\nContent-Type: text/%s; charset=UTF-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n",
               boundary, subtype, qp);
    free(qp);
}

static void mime_alternative(struct buf *b, const char *alt, const struct mail_parts *p)
{
    mime_text_part(b, alt, "plain", p->text);
    if (p->html != NULL)
        mime_text_part(b, alt, "html", p->html);
    if (p->calendar != NULL) {
        buf_printf(b,
                   "--%s\r\nContent-Type: text/calendar; method=%s; charset=UTF-8\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n",
                   alt, p->calendar_method);
        mime_base64(b, p->calendar, strlen(p->calendar));
    }
    buf_printf(b, "--%s--\r\n", alt);
}

static void mime_inline_part(struct buf *b, const char *rel, const struct mail_inline *in)
{
    buf_printf(b, "--%s\r\nContent-Type: %s", rel, in->content_type);
    if (in->filename != NULL)
        buf_printf(b, "; name=\"%s\"", in->filename);
    buf_printf(b, "\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <%s>\r\n", in->content_id);
    buf_puts(b, "Content-Disposition: inline");
    if (in->filename != NULL)
        buf_printf(b, "; filename=\"%s\"", in->filename);
    buf_puts(b, "\r\n\r\n");
    mime_base64(b, in->data, in->len);
}

/* ---- headers ---- */

static void mime_date(char *out, size_t n, time_t t)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void mime_mailbox(struct buf *b, const char *header, const char *name, const char *addr)
{
    char *phrase;

    if (name == NULL || name[0] == '\0') {
        buf_printf(b, "%s: <%s>\r\n", header, addr);
        return;
    }
    phrase = mime_phrase(name);
    buf_printf(b, "%s: %s <%s>\r\n", header, phrase, addr);
    free(phrase);
}

static uint64_t mime_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void mime_headers_write(struct buf *b, const struct mime_headers *h)
{
    char date[64];
    char *subject = mime_encode_header(h->subject != NULL ? h->subject : "", 69);

    mime_date(date, sizeof(date), h->date);
    buf_printf(b, "Date: %s\r\nMessage-ID: %s\r\n", date, h->message_id);
    mime_mailbox(b, "From", h->from_name, h->from_addr);
    mime_mailbox(b, "To", h->to_name, h->to_addr);
    buf_printf(b, "Subject: %s\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n",
               subject);
    free(subject);
}

int mime_compose(char **out, size_t *len, const struct mime_headers *h, const struct mail_parts *p,
                 struct cl_err *err)
{
    struct buf b;
    char alt[48];
    char rel[48];
    size_t i;
    int rc = mime_check(h, p, err);

    if (rc != CL_OK)
        return rc;
    /* "=_" never occurs in quoted-printable nor base64 text: no body can hold a boundary */
    snprintf(alt, sizeof(alt), "=_cl_%016llx_alt", (unsigned long long)mime_hash(h->message_id));
    snprintf(rel, sizeof(rel), "=_cl_%016llx_rel", (unsigned long long)mime_hash(h->message_id));
    buf_init(&b);
    mime_headers_write(&b, h);
    if (p->ninline > 0) {
        buf_printf(&b,
                   "Content-Type: multipart/related; boundary=\"%s\";\r\n"
                   " type=\"multipart/alternative\"\r\n\r\n--%s\r\n",
                   rel, rel);
    }
    buf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", alt);
    mime_alternative(&b, alt, p);
    for (i = 0; i < p->ninline; i++)
        mime_inline_part(&b, rel, &p->inl[i]);
    if (p->ninline > 0)
        buf_printf(&b, "--%s--\r\n", rel);
    *out = buf_steal(&b, len);
    return CL_OK;
}
