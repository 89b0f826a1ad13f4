#include "closeloop/cli/cli_http.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct cli_http {
    CURL *curl;
    char *base;
    char *token;                  /* never logged, never part of a message */
    long timeout_s;               /* whole-exchange budget */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl keeps a pointer to it: it lives as long as curl */
};

struct cli_http *cli_http_new(const char *base_url, const char *token)
{
    struct cli_http *h;
    CURL *curl = curl_easy_init();

    if (curl == NULL)
        return NULL;
    h = cl_calloc(1, sizeof(*h));
    h->curl = curl;
    h->base = cl_strdup(base_url);
    h->token = cl_strdup(token);
    h->timeout_s = CLI_HTTP_TIMEOUT_S;
    return h;
}

void cli_http_set_timeout(struct cli_http *h, long seconds)
{
    assert(seconds > 0);
    h->timeout_s = seconds;
}

void cli_http_free(struct cli_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h->base);
    if (h->token != NULL) {
        memset(h->token, 0, strlen(h->token));
        free(h->token);
    }
    free(h);
}

const char *cli_http_base(const struct cli_http *h)
{
    return h->base;
}

void cli_http_resp_dispose(struct cli_http_resp *r)
{
    if (r == NULL)
        return;
    cl_freep(&r->body);
    r->len = 0;
}

size_t cli_http_sink(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct cli_http_buf *b = arg;
    size_t n = size * nmemb;

    if (n > b->max - b->len) {
        b->overflow = true;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        b->cap = b->len + n + 1 > 2 * b->cap ? b->len + n + 1 : 2 * b->cap;
        b->data = cl_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Appends line to list; on failure frees list and returns NULL. */
static struct curl_slist *add(struct curl_slist *list, const char *line)
{
    struct curl_slist *next = curl_slist_append(list, line);

    if (next == NULL)
        curl_slist_free_all(list);
    return next;
}

struct curl_slist *cli_http_headers(const char *token, bool has_body, const char *if_match)
{
    struct curl_slist *list = add(NULL, "Accept: application/json");
    char *line;

    list = list != NULL ? add(list, "X-Closeloop-Source: cli") : NULL;
    /* Without a body, "Content-Type:" stops libcurl from adding a form type of its own. */
    if (list != NULL)
        list = add(list, has_body ? "Content-Type: application/json" : "Content-Type:");
    /* "Expect:" stops libcurl from waiting for a 100 Continue before bodies over 1 KiB. */
    if (list != NULL && has_body)
        list = add(list, "Expect:");
    if (list != NULL && if_match != NULL) {
        line = cl_asprintf("If-Match: %s", if_match);
        list = add(list, line);
        free(line);
    }
    if (list != NULL && token != NULL) {
        line = cl_asprintf("Authorization: Bearer %s", token);
        list = add(list, line);
        memset(line, 0, strlen(line));
        free(line);
    }
    return list;
}

/* Every option of one request; CURLE_FAILED_INIT when libcurl refuses one. */
static CURLcode set_options(CURL *c, const char *url, struct curl_slist *headers,
                            struct cli_http_buf *buf, char *errbuf, long timeout_s)
{
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, CLI_HTTP_USER_AGENT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CLI_HTTP_CONNECT_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLI_HTTP_BODY_MAX) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_http_sink) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, buf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK)
        return CURLE_FAILED_INIT;
    return CURLE_OK;
}

/* GET without a body; anything else sends body (or nothing) with its own method name. */
static CURLcode set_method(CURL *c, const char *method, const char *body)
{
    if (body == NULL && strcmp(method, "GET") == 0)
        return curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body != NULL ? strlen(body) : 0)) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
        return CURLE_FAILED_INIT;
    return CURLE_OK;
}

/* The one-line message for a transfer that got no usable answer. */
static int describe(struct cl_err *err, CURLcode rc, const struct cli_http *h,
                    const struct cli_http_buf *buf)
{
    const char *base = h->base;
    const char *errbuf = h->errbuf;
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

    if (buf->overflow || rc == CURLE_FILESIZE_EXCEEDED)
        return cl_fail(err, CL_EHTTP, "the answer from %s is larger than %ld MiB", base,
                       CLI_HTTP_BODY_MAX >> 20);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        return cl_fail(err, CL_EIO, "cannot reach %s: is closeloopd running? (make run)", base);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return cl_fail(err, CL_ETIMEOUT,
                       "no answer from %s in time (%lds connect, %lds in all): is closeloopd "
                       "running and its database up?",
                       base, CLI_HTTP_CONNECT_TIMEOUT_S, h->timeout_s);
    return cl_fail(err, CL_EHTTP, "request to %s failed: %s", base, why);
}

int cli_http_do(struct cli_http_resp *out, struct cli_http *h, const char *method, const char *path,
                const char *body, const char *if_match, struct cl_err *err)
{
    struct cli_http_buf buf = {NULL, 0, 0, (size_t)CLI_HTTP_BODY_MAX, false};
    struct curl_slist *headers = cli_http_headers(h->token, body != NULL, if_match);
    char *url = cl_asprintf("%s%s", h->base, path);
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    int code = CL_OK;

    curl_easy_reset(h->curl); /* keeps the connection cache, drops the last request's options */
    h->errbuf[0] = '\0';
    if (headers != NULL)
        rc = set_options(h->curl, url, headers, &buf, h->errbuf, h->timeout_s);
    if (rc == CURLE_OK)
        rc = set_method(h->curl, method, body);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h->curl);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        code = describe(err, rc, h, &buf);
        free(buf.data);
        goto cleanup;
    }
    out->status = status;
    out->body = buf.data;
    out->len = buf.len;
cleanup:
    curl_slist_free_all(headers);
    free(url);
    return code;
}
