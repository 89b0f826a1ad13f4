#include "closeloop/util/http.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/log.h"

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_TIMEOUT      30.0
#define HTTP_MAX_TIMEOUT          86400.0 /* keeps the ms conversion far from LONG_MAX */
#define HTTP_CONNECT_TIMEOUT_MS   10000L
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)16 * 1024 * 1024)
#define HTTP_MAX_HEADERS          100
#define HTTP_MAX_HEADER_LINE      8192

/* One per socket curl asks us to watch; stored with curl_multi_assign(). */
struct http_sock {
    struct http_client *client;
    struct http_sock *prev;
    struct http_sock *next;
    ev_io io;
};

struct http_request {
    struct http_client *client; /* NULL once detached */
    struct http_request *prev;
    struct http_request *next;
    CURL *easy;
    bool borrowed; /* easy is the caller's (http_run): not cleaned up here */
    bool in_multi;
    struct curl_slist *headers; /* request headers; curl does not copy the list */
    char *body;                 /* request body; curl does not copy POSTFIELDS */
    char method[16];            /* for the debug line */
    struct buf resp;            /* response body */
    struct http_header *hdrs;   /* response headers */
    size_t nhdrs;
    size_t hdrs_cap;
    size_t max_response;
    double started;
    ev_timer fail;     /* delivers a failure known inside http_send() from the loop */
    struct cl_err err; /* our own reason (setup, cap, header bounds); beats curl's */
    http_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer; /* the single timeout curl asks for */
    char *user_agent;
    struct http_request *reqs; /* every request not yet delivered or cancelled */
    struct http_sock *socks;
    unsigned long requests;
    unsigned long failures;
    int active;
    int depth;  /* > 0 while one of our loop callbacks may be calling `done` */
    bool dying; /* http_client_free() ran inside a `done`: destroy on the way out */
};

static void watch(struct ev_loop *loop, ev_io *w, int fd, int events)
{
    ev_io_stop(loop, w);
    ev_io_set(w, fd, events);
    ev_io_start(loop, w);
}

/* ---- response headers ------------------------------------------------------------------- */

static void http_headers_clear(struct http_request *r)
{
    size_t i;

    for (i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    r->nhdrs = 0;
}

static bool http_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Copies [s, s+len) without surrounding whitespace. */
static char *http_trimmed(const char *s, size_t len)
{
    while (len > 0 && http_is_space(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && http_is_space(s[len - 1]))
        len--;
    return cl_strndup(s, len);
}

/* An obsolete folded line continues the previous value, joined by one space. */
static size_t http_header_fold(struct http_request *r, const char *line, size_t len)
{
    struct http_header *h = &r->hdrs[r->nhdrs - 1];
    char *more = http_trimmed(line, len);
    char *joined = cl_asprintf("%s %s", h->value, more);

    free(more);
    if (strlen(joined) > HTTP_MAX_HEADER_LINE) {
        free(joined);
        cl_fail(&r->err, CL_EHTTP, "response header longer than %d bytes", HTTP_MAX_HEADER_LINE);
        return 0;
    }
    free(h->value);
    h->value = joined;
    return len;
}

static size_t http_header_add(struct http_request *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    struct http_header *h;
    char *p;

    if (colon == NULL)
        return len; /* the blank line ending a block, or junk curl let through */
    if (r->nhdrs == HTTP_MAX_HEADERS) {
        cl_fail(&r->err, CL_EHTTP, "more than %d response headers", HTTP_MAX_HEADERS);
        return 0;
    }
    if (r->nhdrs == r->hdrs_cap) {
        r->hdrs_cap = r->hdrs_cap == 0 ? 16 : r->hdrs_cap * 2;
        r->hdrs = cl_realloc(r->hdrs, r->hdrs_cap * sizeof(*r->hdrs));
    }
    h = &r->hdrs[r->nhdrs++];
    h->name = http_trimmed(line, (size_t)(colon - line));
    h->value = http_trimmed(colon + 1, len - (size_t)(colon - line) - 1);
    for (p = h->name; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return len;
}

/* curl hands over one complete header line at a time, CRLF included. */
static size_t http_on_header(char *data, size_t size, size_t n, void *arg)
{
    struct http_request *r = arg;
    size_t len = size * n;

    if (len > HTTP_MAX_HEADER_LINE) {
        cl_fail(&r->err, CL_EHTTP, "response header longer than %d bytes", HTTP_MAX_HEADER_LINE);
        return 0;
    }
    /* A new status line (after 100 Continue, a proxy's CONNECT answer) starts a new block. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        http_headers_clear(r);
        return len;
    }
    if (len > 0 && (data[0] == ' ' || data[0] == '\t') && r->nhdrs > 0)
        return http_header_fold(r, data, len);
    return http_header_add(r, data, len);
}

static size_t http_on_body(char *data, size_t size, size_t n, void *arg)
{
    struct http_request *r = arg;
    size_t len = size * n;

    if (len > r->max_response - r->resp.len) {
        cl_fail(&r->err, CL_EHTTP, "response larger than %zu bytes", r->max_response);
        return 0; /* anything but len aborts the transfer */
    }
    buf_append(&r->resp, data, len);
    return len;
}

/* ---- request lifetime ------------------------------------------------------------------- */

/* Leaves the multi handle and the client; after this the request touches no client state. */
static void http_detach(struct http_request *r)
{
    struct http_client *c = r->client;

    if (r->in_multi)
        curl_multi_remove_handle(c->multi, r->easy);
    r->in_multi = false;
    ev_timer_stop(c->loop, &r->fail);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = NULL;
    r->next = NULL;
    c->active--;
    r->client = NULL;
}

static void http_request_free(struct http_request *r)
{
    if (r == NULL)
        return;
    assert(r->client == NULL);
    if (r->borrowed) { /* the caller's handle must not point into freed memory */
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, NULL);
    } else {
        curl_easy_cleanup(r->easy); /* NULL is a no-op */
    }
    r->easy = NULL;
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    free(r->body);
    r->body = NULL;
    buf_dispose(&r->resp);
    http_headers_clear(r);
    free(r->hdrs);
    r->hdrs = NULL;
    free(r);
}

/* Turns a curl result into our code and one-line message, unless we already have one. */
static void http_set_result(struct http_request *r, CURLcode res)
{
    const char *msg = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(res);

    if (res == CURLE_OK || r->err.code != CL_OK)
        return;
    if (res == CURLE_FILESIZE_EXCEEDED)
        cl_fail(&r->err, CL_EHTTP, "response larger than %zu bytes", r->max_response);
    else if (res == CURLE_OPERATION_TIMEDOUT)
        cl_fail(&r->err, CL_ETIMEOUT, "%s", msg);
    else
        cl_fail(&r->err, CL_EHTTP, "%s", msg);
    r->err.msg[strcspn(r->err.msg, "\r\n")] = '\0';
}

/* Delivers the outcome: detach, call back, clean up. `done` may free the client, so the
 * client is not touched once it has been called. */
static void http_finish(struct http_request *r, CURLcode res)
{
    struct http_client *c = r->client;
    struct http_response resp;
    long status = 0;

    http_detach(r);
    if (r->easy != NULL)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    http_set_result(r, res);
    if (r->err.code != CL_OK)
        c->failures++;
    memset(&resp, 0, sizeof(resp));
    resp.code = r->err.code;
    resp.error = r->err.msg; /* "" while code is CL_OK */
    resp.status = status;
    resp.headers = r->hdrs;
    resp.nheaders = r->nhdrs;
    resp.body = r->err.code == CL_OK && r->resp.data != NULL ? r->resp.data : "";
    resp.body_len = r->err.code == CL_OK ? r->resp.len : 0;
    resp.seconds = cl_now_mono() - r->started;
    log_debug("http method=%s status=%ld code=%d seconds=%.3f", r->method, status, resp.code,
              resp.seconds);
    r->done(&resp, r->arg);
    http_request_free(r);
}

/* ---- libev <-> curl --------------------------------------------------------------------- */

static void http_client_destroy(struct http_client *c);

static void http_enter(struct http_client *c)
{
    c->depth++;
}

static void http_leave(struct http_client *c)
{
    c->depth--;
    if (c->depth == 0 && c->dying)
        http_client_destroy(c);
}

static void http_drain(struct http_client *c)
{
    struct http_request *r;
    char *priv;
    CURLMsg *m;
    CURLcode res;
    int left;

    while (!c->dying) {
        m = curl_multi_info_read(c->multi, &left);
        if (m == NULL)
            break;
        if (m->msg != CURLMSG_DONE)
            continue;
        res = m->data.result; /* m dies with the handle's removal */
        priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        r = (struct http_request *)(void *)priv;
        http_finish(r, res);
    }
}

static void http_on_fd(struct ev_loop *loop, ev_io *w, int revents)
{
    struct http_sock *hs = container_of(w, struct http_sock, io);
    struct http_client *c = hs->client; /* read first: the call below may free hs */
    int fd = w->fd;
    int action = 0;
    int running = 0;
    CURLMcode mc;

    (void)loop;
    if (revents & EV_READ)
        action |= CURL_CSELECT_IN;
    if (revents & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    if (revents & EV_ERROR)
        action |= CURL_CSELECT_ERR;
    http_enter(c);
    mc = curl_multi_socket_action(c->multi, fd, action, &running);
    if (mc != CURLM_OK)
        log_debug("http socket_action fd=%d: %s", fd, curl_multi_strerror(mc));
    http_drain(c);
    http_leave(c);
}

static void http_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct http_client *c = container_of(w, struct http_client, timer);
    int running = 0;
    CURLMcode mc;

    (void)loop;
    (void)revents;
    http_enter(c);
    mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK)
        log_debug("http socket_action timeout: %s", curl_multi_strerror(mc));
    http_drain(c);
    http_leave(c);
}

/* CURLMOPT_TIMERFUNCTION: only re-arms our timer; a 0 delay runs on the next loop pass. */
static int http_on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct http_client *c = arg;

    (void)multi;
    ev_timer_stop(c->loop, &c->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.0);
        ev_timer_start(c->loop, &c->timer);
    }
    return 0;
}

static void http_sock_free(struct http_client *c, struct http_sock *hs)
{
    if (hs == NULL)
        return;
    ev_io_stop(c->loop, &hs->io);
    if (hs->prev != NULL)
        hs->prev->next = hs->next;
    else
        c->socks = hs->next;
    if (hs->next != NULL)
        hs->next->prev = hs->prev;
    free(hs);
}

static struct http_sock *http_sock_new(struct http_client *c)
{
    struct http_sock *hs = cl_calloc(1, sizeof(*hs));

    hs->client = c;
    ev_init(&hs->io, http_on_fd);
    hs->next = c->socks;
    if (c->socks != NULL)
        c->socks->prev = hs;
    c->socks = hs;
    return hs;
}

/* CURLMOPT_SOCKETFUNCTION: one ev_io per socket, created, re-armed or freed here. */
static int http_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct http_client *c = arg;
    struct http_sock *hs = sockp;
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        http_sock_free(c, hs);
        return 0;
    }
    if (hs == NULL) {
        hs = http_sock_new(c);
        curl_multi_assign(c->multi, fd, hs);
    }
    if (events == 0)
        ev_io_stop(c->loop, &hs->io);
    else
        watch(c->loop, &hs->io, fd, events);
    return 0;
}

/* ---- client ----------------------------------------------------------------------------- */

struct http_client *http_client_new(struct ev_loop *loop, const char *user_agent)
{
    struct http_client *c;

    assert(loop != NULL && user_agent != NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    c = cl_calloc(1, sizeof(*c));
    c->loop = loop;
    c->user_agent = cl_strdup(user_agent);
    ev_init(&c->timer, http_on_timer);
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        http_client_destroy(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

static void http_client_destroy(struct http_client *c)
{
    assert(c->reqs == NULL);
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi); /* may still report CURL_POLL_REMOVE for sockets */
    c->multi = NULL;
    while (c->socks != NULL) /* any curl did not report */
        http_sock_free(c, c->socks);
    ev_timer_stop(c->loop, &c->timer);
    free(c->user_agent);
    c->user_agent = NULL;
    free(c);
    curl_global_cleanup();
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    while (c->reqs != NULL)
        http_cancel(c->reqs);
    if (c->depth > 0) {
        c->dying = true; /* inside a `done`: the callback that called it destroys c */
        return;
    }
    http_client_destroy(c);
}

void http_client_stats(const struct http_client *c, struct http_stats *out)
{
    out->requests = c->requests;
    out->failures = c->failures;
    out->active = c->active;
}

/* ---- sending ---------------------------------------------------------------------------- */

/* Keep the first setopt failure, so one check covers a run of options. */
static void opt_long(CURL *e, CURLoption opt, long v, CURLcode *rc)
{
    if (*rc == CURLE_OK)
        *rc = curl_easy_setopt(e, opt, v);
}

static void opt_str(CURL *e, CURLoption opt, const char *v, CURLcode *rc)
{
    if (*rc == CURLE_OK)
        *rc = curl_easy_setopt(e, opt, v);
}

static bool http_has_body(const char *method, const char *body)
{
    return body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

/* Failures found here are the data's fault (not the caller's code), so they are reported
 * through `done` like any other; a bad method is a programmer error. */
static int http_check(struct http_request *r, const struct http_opts *o)
{
    const char *const *h;
    const char *m;

    for (m = o->method; *m != '\0'; m++)
        assert(*m >= 'A' && *m <= 'Z');
    assert(m > o->method && (size_t)(m - o->method) < sizeof(r->method));
    assert(o->body == NULL || strcmp(o->method, "GET") != 0);
    if (strncasecmp(o->url, "http://", 7) != 0 && strncasecmp(o->url, "https://", 8) != 0)
        return cl_fail(&r->err, CL_EHTTP, "URL scheme is not http or https");
    for (h = o->headers; h != NULL && *h != NULL; h++) {
        if (strpbrk(*h, "\r\n") != NULL)
            return cl_fail(&r->err, CL_EHTTP, "request header contains CR or LF");
    }
    return CL_OK;
}

static int http_setup_headers(struct http_request *r, const struct http_opts *o)
{
    const char *const *h;
    struct curl_slist *l;

    for (h = o->headers; h != NULL && *h != NULL; h++) {
        l = curl_slist_append(r->headers, *h);
        if (l == NULL)
            return cl_fail(&r->err, CL_EHTTP, "curl_slist_append failed");
        r->headers = l;
    }
    l = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    if (l == NULL)
        return cl_fail(&r->err, CL_EHTTP, "curl_slist_append failed");
    r->headers = l;
    return CL_OK;
}

static CURLcode http_setup_callbacks(struct http_request *r)
{
    CURLcode rc = curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, http_on_body);

    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, http_on_header);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    return rc;
}

static int http_setup_easy(struct http_request *r, const struct http_opts *o, double timeout)
{
    CURL *e = r->easy;
    CURLcode rc = http_setup_callbacks(r);

    opt_str(e, CURLOPT_URL, o->url, &rc);
    opt_long(e, CURLOPT_NOSIGNAL, 1L, &rc);
    opt_long(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000.0 + 0.5), &rc);
    opt_long(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS, &rc);
#if LIBCURL_VERSION_NUM >= 0x075500
    opt_str(e, CURLOPT_PROTOCOLS_STR, "http,https", &rc);
#else
    opt_long(e, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS, &rc);
#endif
    opt_long(e, CURLOPT_FOLLOWLOCATION, 0L, &rc);
    opt_str(e, CURLOPT_USERAGENT, r->client->user_agent, &rc);
    opt_str(e, CURLOPT_ACCEPT_ENCODING, "", &rc);
    opt_str(e, CURLOPT_CUSTOMREQUEST, o->method, &rc);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_response);
    if (rc == CURLE_OK && http_has_body(o->method, o->body)) {
        r->body = cl_malloc(o->body_len);
        if (o->body_len > 0)
            memcpy(r->body, o->body, o->body_len);
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    }
    if (rc == CURLE_OK && http_setup_headers(r, o) == CL_OK)
        rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (rc != CURLE_OK)
        return cl_fail(&r->err, CL_EHTTP, "curl setup: %s", curl_easy_strerror(rc));
    return r->err.code;
}

static void http_on_fail(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct http_request *r = container_of(w, struct http_request, fail);
    struct http_client *c = r->client;

    (void)loop;
    (void)revents;
    http_enter(c);
    http_finish(r, CURLE_OK);
    http_leave(c);
}

static struct http_request *http_request_new(struct http_client *c, const struct http_opts *o,
                                             http_done_fn done, void *arg)
{
    struct http_request *r = cl_calloc(1, sizeof(*r));

    r->client = c;
    r->done = done;
    r->arg = arg;
    r->started = cl_now_mono();
    r->max_response = o->max_response > 0 ? o->max_response : HTTP_DEFAULT_MAX_RESPONSE;
    buf_init(&r->resp);
    ev_timer_init(&r->fail, http_on_fail, 0.0, 0.0);
    snprintf(r->method, sizeof(r->method), "%s", o->method);
    r->next = c->reqs;
    if (c->reqs != NULL)
        c->reqs->prev = r;
    c->reqs = r;
    c->requests++;
    c->active++;
    return r;
}

struct http_request *http_send(struct http_client *c, const struct http_opts *o, http_done_fn done,
                               void *arg)
{
    struct http_request *r;
    double timeout = o->timeout > 0 ? o->timeout : HTTP_DEFAULT_TIMEOUT; /* NaN -> default */
    CURLMcode mc;

    assert(c != NULL && !c->dying && done != NULL);
    assert(o->method != NULL && o->url != NULL);
    r = http_request_new(c, o, done, arg);
    if (timeout > HTTP_MAX_TIMEOUT)
        timeout = HTTP_MAX_TIMEOUT;
    if (http_check(r, o) != CL_OK)
        goto deferred;
    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        cl_fail(&r->err, CL_EHTTP, "curl_easy_init failed");
        goto deferred;
    }
    if (http_setup_easy(r, o, timeout) != CL_OK)
        goto deferred;
    /* Only arms our timer (at 0 s): the transfer starts from the loop, never in here. */
    mc = curl_multi_add_handle(c->multi, r->easy);
    if (mc != CURLM_OK) {
        cl_fail(&r->err, CL_EHTTP, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        goto deferred;
    }
    r->in_multi = true;
    return r;
deferred:
    ev_timer_start(c->loop, &r->fail); /* `done` must not run inside http_send() */
    return r;
}

struct http_request *http_run(struct http_client *c, CURL *easy, http_done_fn done, void *arg)
{
    static const struct http_opts run = {.method = "RUN", .url = ""};
    struct http_request *r;
    CURLcode rc;
    CURLMcode mc;

    assert(c != NULL && !c->dying && done != NULL && easy != NULL);
    r = http_request_new(c, &run, done, arg);
    r->easy = easy;
    r->borrowed = true;
    rc = curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (rc != CURLE_OK) {
        cl_fail(&r->err, CL_EHTTP, "curl setup: %s", curl_easy_strerror(rc));
        ev_timer_start(c->loop, &r->fail);
        return r;
    }
    mc = curl_multi_add_handle(c->multi, easy);
    if (mc != CURLM_OK) {
        cl_fail(&r->err, CL_EHTTP, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        ev_timer_start(c->loop, &r->fail);
        return r;
    }
    r->in_multi = true;
    return r;
}

void http_cancel(struct http_request *r)
{
    if (r == NULL)
        return;
    http_detach(r);
    http_request_free(r);
}

const char *http_response_header(const struct http_response *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}
