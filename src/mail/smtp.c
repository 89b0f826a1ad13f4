#include "closeloop/mail/smtp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTP_CONNECT_TIMEOUT_MS 10000L
#define SMTP_REPLY_MAX          300

struct smtp_send {
    CURL *easy;
    struct http_request *req; /* NULL once done or before it started */
    struct curl_slist *rcpt;
    char *msg;
    size_t len;
    size_t off;
    char *from;
    char reply[SMTP_REPLY_MAX]; /* the server's last refusal */
    char setup_error[128];      /* why smtp_setup() failed, "" when it did not */
    smtp_done_fn done;
    void *arg;
};

int smtp_tls_parse(enum smtp_tls *out, const char *s)
{
    if (strcmp(s, "none") == 0)
        *out = SMTP_TLS_NONE;
    else if (strcmp(s, "try") == 0)
        *out = SMTP_TLS_TRY;
    else if (strcmp(s, "required") == 0)
        *out = SMTP_TLS_REQUIRED;
    else
        return CL_EINVAL;
    return CL_OK;
}

/* RFC 4954's refusals of AUTH (required, too weak, bad credentials, needs TLS): the
 * set-up is at fault, not the message, which waits for the set-up to be fixed. */
static bool smtp_auth_refusal(long reply)
{
    return reply == 530 || reply == 534 || reply == 535 || reply == 538;
}

enum smtp_outcome smtp_classify(int code, long reply)
{
    if (code == CL_OK)
        return SMTP_SENT;
    if (smtp_auth_refusal(reply))
        return SMTP_TRANSIENT;
    return reply >= 500 && reply <= 599 ? SMTP_PERMANENT : SMTP_TRANSIENT;
}

static void smtp_free(struct smtp_send *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->rcpt);
    free(s->msg);
    free(s->from);
    free(s);
}

/* CURLOPT_READFUNCTION: the message, from memory. */
static size_t smtp_on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct smtp_send *s = arg;
    size_t room = size * n;
    size_t left = s->len - s->off;
    size_t take = left < room ? left : room;

    memcpy(dst, s->msg + s->off, take);
    s->off += take;
    return take;
}

/* CURLOPT_HEADERFUNCTION: for SMTP, libcurl hands over the server's reply lines. The
 * last refusal (4xx, 5xx) is kept to show why a send failed: the QUIT that follows it
 * answers 221. */
static size_t smtp_on_reply(char *data, size_t size, size_t n, void *arg)
{
    struct smtp_send *s = arg;
    size_t len = size * n;
    size_t k;

    if (len >= 3 && (data[0] == '4' || data[0] == '5')) {
        k = len < sizeof(s->reply) - 1 ? len : sizeof(s->reply) - 1;
        memcpy(s->reply, data, k);
        s->reply[k] = '\0';
        s->reply[strcspn(s->reply, "\r\n")] = '\0';
    }
    return len;
}

static void smtp_on_done(const struct http_response *resp, void *arg)
{
    struct smtp_send *s = arg;
    struct smtp_result r;
    char error[sizeof(s->reply) + 600];

    s->req = NULL;
    r.reply = resp->status;
    r.outcome = smtp_classify(resp->code, resp->status);
    r.seconds = resp->seconds;
    error[0] = '\0';
    if (s->setup_error[0] != '\0')
        snprintf(error, sizeof(error), "%s", s->setup_error);
    else if (resp->code != CL_OK && s->reply[0] != '\0' && resp->status >= 400)
        snprintf(error, sizeof(error), "%s; server said: %s", resp->error, s->reply);
    else if (resp->code != CL_OK)
        snprintf(error, sizeof(error), "%s", resp->error);
    r.error = error;
    s->done(&r, s->arg);
    smtp_free(s);
}

static void opt_str(CURL *e, CURLoption opt, const char *v, CURLcode *rc)
{
    if (*rc == CURLE_OK)
        *rc = curl_easy_setopt(e, opt, v);
}

static void opt_long(CURL *e, CURLoption opt, long v, CURLcode *rc)
{
    if (*rc == CURLE_OK)
        *rc = curl_easy_setopt(e, opt, v);
}

static void opt_ptr(CURL *e, CURLoption opt, void *v, CURLcode *rc)
{
    if (*rc == CURLE_OK)
        *rc = curl_easy_setopt(e, opt, v);
}

static CURLcode smtp_setup(struct smtp_send *s, const struct smtp_opts *o)
{
    static const long tls[] = {[SMTP_TLS_NONE] = CURLUSESSL_NONE,
                               [SMTP_TLS_TRY] = CURLUSESSL_TRY,
                               [SMTP_TLS_REQUIRED] = CURLUSESSL_ALL};
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;

    opt_str(e, CURLOPT_URL, o->url, &rc);
#if LIBCURL_VERSION_NUM >= 0x075500
    opt_str(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps", &rc);
#else
    opt_long(e, CURLOPT_PROTOCOLS, CURLPROTO_SMTP | CURLPROTO_SMTPS, &rc);
#endif
    opt_str(e, CURLOPT_MAIL_FROM, s->from, &rc);
    opt_ptr(e, CURLOPT_MAIL_RCPT, s->rcpt, &rc);
    opt_long(e, CURLOPT_UPLOAD, 1L, &rc);
    opt_ptr(e, CURLOPT_READFUNCTION, (void *)smtp_on_read, &rc);
    opt_ptr(e, CURLOPT_READDATA, s, &rc);
    opt_ptr(e, CURLOPT_HEADERFUNCTION, (void *)smtp_on_reply, &rc);
    opt_ptr(e, CURLOPT_HEADERDATA, s, &rc);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
    opt_long(e, CURLOPT_USE_SSL, tls[o->tls], &rc);
    opt_long(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000.0 + 0.5), &rc);
    opt_long(e, CURLOPT_CONNECTTIMEOUT_MS, SMTP_CONNECT_TIMEOUT_MS, &rc);
    if (o->username != NULL && o->username[0] != '\0') {
        opt_str(e, CURLOPT_USERNAME, o->username, &rc);
        opt_str(e, CURLOPT_PASSWORD, o->password != NULL ? o->password : "", &rc);
    }
    return rc;
}

struct smtp_send *smtp_send(struct http_client *hc, const struct smtp_opts *o, const char *from,
                            const char *rcpt, const char *msg, size_t len, smtp_done_fn done,
                            void *arg)
{
    struct smtp_send *s = cl_calloc(1, sizeof(*s));
    char *angle = cl_asprintf("<%s>", rcpt);
    CURLcode rc;

    s->done = done;
    s->arg = arg;
    s->from = cl_asprintf("<%s>", from);
    s->msg = cl_malloc(len > 0 ? len : 1);
    memcpy(s->msg, msg, len);
    s->len = len;
    s->rcpt = curl_slist_append(NULL, angle);
    free(angle);
    s->easy = curl_easy_init();
    if (s->easy == NULL || s->rcpt == NULL) { /* only out of memory: as cl_malloc does */
        fputs("closeloopd: libcurl is out of memory\n", stderr);
        abort();
    }
    /* A setup failure is reported through `done` from the loop like any other: the
     * transfer then fails on the option left unset, and the reason replaces curl's. */
    rc = smtp_setup(s, o);
    if (rc != CURLE_OK) {
        snprintf(s->setup_error, sizeof(s->setup_error), "curl setup: %s", curl_easy_strerror(rc));
        curl_easy_setopt(s->easy, CURLOPT_URL, "");
    }
    s->req = http_run(hc, s->easy, smtp_on_done, s);
    return s;
}

void smtp_cancel(struct smtp_send *s)
{
    if (s == NULL)
        return;
    http_cancel(s->req);
    s->req = NULL;
    smtp_free(s);
}
