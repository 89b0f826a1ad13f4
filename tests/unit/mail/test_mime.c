#include "closeloop/mail/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---- parse-back helpers: an independent reading of what mime.c writes ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes quoted-printable into LF-ended lines (CRLF hard breaks become LF). */
static char *qp_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    size_t o = 0;

    while (*s != '\0') {
        if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
        } else if (s[0] == '=') {
            assert_true(hexval(s[1]) >= 0 && hexval(s[2]) >= 0);
            out[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        } else if (s[0] == '\r' && s[1] == '\n') {
            out[o++] = '\n';
            s += 2;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return out;
}

static int b64val(char c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(a, c);

    return c != '\0' && p != NULL ? (int)(p - a) : -1;
}

static size_t b64_decode(unsigned char *out, const char *s, size_t n)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        int d = b64val(s[i]);

        if (d < 0)
            continue; /* CRLF, padding */
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((v >> bits) & 0xff);
        }
    }
    return o;
}

/* Decodes a header value of encoded-words folded with CRLF SP into UTF-8. */
static char *words_decode(const char *v)
{
    char *out = calloc(1, strlen(v) + 1);
    size_t o = 0;

    while (*v != '\0') {
        const char *end;

        if (strncmp(v, "\r\n ", 3) == 0) {
            v += 3;
            continue;
        }
        assert_int_equal(strncmp(v, "=?UTF-8?B?", 10), 0);
        v += 10;
        end = strstr(v, "?=");
        assert_non_null(end);
        o += b64_decode((unsigned char *)out + o, v, (size_t)(end - v));
        v = end + 2;
    }
    return out;
}

/* The value of header `name` (unfolded only for encoded words), or NULL. */
static char *header(const char *msg, const char *name)
{
    size_t n = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n");
    const char *p = msg;

    while (p < end) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 2;
            const char *e = v;

            while (!(e[0] == '\r' && e[1] == '\n' && e[2] != ' '))
                e++;
            return strndup(v, (size_t)(e - v));
        }
        p = strstr(p, "\r\n") + 2;
    }
    return NULL;
}

static void assert_wire_format(const char *msg, size_t len)
{
    size_t i;
    size_t col = 0;

    assert_int_equal(strlen(msg), len);
    for (i = 0; i < len; i++) {
        if (msg[i] == '\n')
            assert_true(i > 0 && msg[i - 1] == '\r'); /* bare LF */
        if (msg[i] == '\r')
            assert_true(msg[i + 1] == '\n'); /* bare CR */
        if (msg[i] == '\n') {
            assert_true(col <= 999); /* 998 + the CR */
            col = 0;
        } else {
            col++;
        }
    }
    assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
}

static struct mime_headers headers(void)
{
    return (struct mime_headers){.from_addr = "closeloop@example.org",
                                 .from_name = "closeloop",
                                 .to_addr = "ana@example.com",
                                 .to_name = "Ana Example",
                                 .subject = "Review of INC-7",
                                 .message_id = "<1234-abcd@example.org>",
                                 .date = 1796601600}; /* 2026-12-07 00:00:00 UTC */
}

/* ---- tests ---- */

static void test_mime__headers_and_alternative(void **state)
{
    struct mime_headers h = headers();
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    char *msg = NULL;
    char *v;
    size_t len = 0;

    (void)state;
    p.text = strdup("Hello Ana,\nthe review is tomorrow.\n");
    p.html = strdup("<p>Hello Ana,</p>");
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_OK);
    assert_wire_format(msg, len);
    v = header(msg, "Date");
    assert_string_equal(v, "Mon, 07 Dec 2026 00:00:00 +0000");
    free(v);
    v = header(msg, "Message-ID");
    assert_string_equal(v, "<1234-abcd@example.org>");
    free(v);
    v = header(msg, "From");
    assert_string_equal(v, "\"closeloop\" <closeloop@example.org>");
    free(v);
    v = header(msg, "To");
    assert_string_equal(v, "\"Ana Example\" <ana@example.com>");
    free(v);
    v = header(msg, "MIME-Version");
    assert_string_equal(v, "1.0");
    free(v);
    v = header(msg, "Content-Type");
    assert_non_null(strstr(v, "multipart/alternative; boundary=\"=_cl_"));
    free(v);
    assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                "Hello Ana,\r\nthe review is tomorrow.\r\n"));
    assert_non_null(strstr(msg, "Content-Type: text/html; charset=UTF-8"));
    assert_null(strstr(msg, "text/calendar"));
    assert_null(strstr(msg, "multipart/related"));
    free(msg);
    mime_parts_dispose(&p);
}

static void test_mime__same_input_same_bytes(void **state)
{
    struct mime_headers h = headers();
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    char *a = NULL;
    char *b = NULL;
    size_t la = 0;
    size_t lb = 0;

    (void)state;
    p.text = strdup("x");
    assert_int_equal(mime_compose(&a, &la, &h, &p, &err), CL_OK);
    assert_int_equal(mime_compose(&b, &lb, &h, &p, &err), CL_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    mime_parts_dispose(&p);
}

static void test_mime__utf8_subject_and_name_are_encoded_words(void **state)
{
    struct mime_headers h = headers();
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    const char *subject = "Revue d'incident — échéance dépassée pour l'action « réseau » "
                          "et ses suites très longues à écrire ✓";
    char *msg = NULL;
    char *v;
    char *d;
    size_t len = 0;

    (void)state;
    h.subject = subject;
    h.to_name = "Zoë Ünal";
    p.text = strdup("ok");
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_OK);
    assert_wire_format(msg, len);
    v = header(msg, "Subject");
    assert_non_null(strstr(v, "\r\n ")); /* folded over several words */
    d = words_decode(v);
    assert_string_equal(d, subject);
    free(d);
    free(v);
    v = header(msg, "To");
    assert_non_null(strstr(v, " <ana@example.com>"));
    *strstr(v, " <ana@example.com>") = '\0';
    d = words_decode(v);
    assert_string_equal(d, "Zoë Ünal");
    free(d);
    free(v);
    free(msg);
    mime_parts_dispose(&p);
}

static void test_mime__header_injection_refused(void **state)
{
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    struct mime_headers h;
    char *msg = NULL;
    size_t len = 0;

    (void)state;
    p.text = strdup("x");
    h = headers();
    h.subject = "hi\r\nBcc: evil@example.net";
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "CR or LF"));
    cl_err_clear(&err);
    h = headers();
    h.to_name = "Ana\nBcc: x@y.z";
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    cl_err_clear(&err);
    h = headers();
    h.to_addr = "ana@example.com>\r\nBcc: <x@y.z";
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    cl_err_clear(&err);
    h = headers();
    h.message_id = "<a@b>\r\nX: y";
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    assert_null(msg);
    mime_parts_dispose(&p);
}

static void test_mime__quoted_printable_round_trip(void **state)
{
    char line[400];
    char *qp;
    char *back;
    const char *eol;
    const char *s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(line) - 1; i++)
        line[i] = (char)('a' + i % 26);
    line[sizeof(line) - 1] = '\0';
    memcpy(line + 10, "= é\t ", 6);
    memcpy(line + 200, "trailing \n.next", 15);
    qp = mime_qp(line, strlen(line));
    for (s = qp; *s != '\0'; s = eol + 2) { /* every line at most 76, CRLF ended */
        eol = strstr(s, "\r\n");
        if (eol == NULL)
            eol = s + strlen(s) - 2;
        assert_true(eol - s <= 76);
        if (eol > s) /* no trailing blank before a line break */
            assert_true(eol[-1] != ' ' && eol[-1] != '\t');
    }
    assert_null(strstr(qp, "trailing \r\n"));
    back = qp_decode(qp);
    assert_string_equal(back, line);
    free(back);
    free(qp);
}

static void test_mime__calendar_and_related(void **state)
{
    struct mime_headers h = headers();
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    const char *ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";
    unsigned char png[300];
    unsigned char back[400];
    const char *body;
    const char *end;
    char *msg = NULL;
    size_t len = 0;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(png); i++)
        png[i] = (unsigned char)(i * 7);
    p.text = strdup("t");
    p.html = strdup("<img src=\"cid:chart1@closeloop\">");
    p.calendar = strdup(ics);
    p.calendar_method = strdup("REQUEST");
    mime_parts_add_inline(&p, "chart1@closeloop", "image/png", "chart.png", png, sizeof(png));
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_OK);
    assert_wire_format(msg, len);
    assert_non_null(strstr(msg, "Content-Type: multipart/related; boundary=\"=_cl_"));
    assert_non_null(strstr(msg, "type=\"multipart/alternative\""));
    assert_non_null(strstr(msg, "Content-Type: text/calendar; method=REQUEST; charset=UTF-8"));
    /* the calendar sits inside the alternative: before its closing boundary */
    assert_true(strstr(msg, "text/calendar") < strstr(msg, "_alt--"));
    assert_true(strstr(msg, "_alt--") < strstr(msg, "Content-ID: <chart1@closeloop>"));
    body = strstr(strstr(msg, "Content-ID: <chart1@closeloop>"), "\r\n\r\n") + 4;
    end = strstr(body, "--=_cl_");
    assert_int_equal(b64_decode(back, body, (size_t)(end - body)), sizeof(png));
    assert_memory_equal(back, png, sizeof(png));
    body = strstr(strstr(msg, "text/calendar"), "\r\n\r\n") + 4;
    end = strstr(body, "--=_cl_");
    i = b64_decode(back, body, (size_t)(end - body));
    assert_int_equal(i, strlen(ics));
    assert_memory_equal(back, ics, i);
    assert_true(strstr(msg, "_rel--\r\n") == msg + len - strlen("_rel--\r\n"));
    free(msg);
    mime_parts_dispose(&p);
}

static void test_mime__refuses_incomplete_parts(void **state)
{
    struct mime_headers h = headers();
    struct mail_parts p = {0};
    struct cl_err err = CL_ERR_INIT;
    char *msg = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    cl_err_clear(&err);
    p.text = strdup("t");
    p.calendar = strdup("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "method"));
    cl_err_clear(&err);
    p.calendar_method = strdup("REQUEST\r\nX");
    assert_int_equal(mime_compose(&msg, &len, &h, &p, &err), CL_EINVAL);
    assert_null(msg);
    mime_parts_dispose(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime__headers_and_alternative),
        cmocka_unit_test(test_mime__same_input_same_bytes),
        cmocka_unit_test(test_mime__utf8_subject_and_name_are_encoded_words),
        cmocka_unit_test(test_mime__header_injection_refused),
        cmocka_unit_test(test_mime__quoted_printable_round_trip),
        cmocka_unit_test(test_mime__calendar_and_related),
        cmocka_unit_test(test_mime__refuses_incomplete_parts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
