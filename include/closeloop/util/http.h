/* http: outbound HTTP(S) through one libcurl multi handle driven by the libev loop
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, curl_multi_socket_action).
 * Loop-only. Nothing blocks; every request has a total timeout and a response-size cap;
 * redirects are never followed (the caller sees 3xx and its Location header). */
#ifndef CLOSELOOP_HTTP_H
#define CLOSELOOP_HTTP_H

#include "closeloop/util/cl.h"

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct http_client;
struct http_request;

struct http_header {
    char *name;  /* lower-cased */
    char *value; /* trimmed */
};

/* Handed to the callback; everything is borrowed for the duration of the call. */
struct http_response {
    int code;          /* CL_OK when an HTTP answer arrived (any status), CL_ETIMEOUT,
                          or CL_EHTTP for transport failures and oversize answers; also
                          CL_EHTTP for what http_send() rejects (URL not http(s)://, a
                          header line with CR/LF) and for answers over the header bounds
                          (more than 100 headers, or a line over 8 KiB) */
    const char *error; /* one line when code != CL_OK, else "" */
    long status;       /* HTTP status; 0 when no answer */
    const struct http_header *headers; /* those of the last status line only (after a
                                          100 Continue, the final answer's) */
    size_t nheaders;
    const char *body; /* NUL-terminated; "" when empty, and always "" when code != CL_OK */
    size_t body_len;
    double seconds; /* from send to completion */
};

/* Called exactly once per request from the loop, never from inside http_send(), unless
 * the request was cancelled or the client freed. */
typedef void (*http_done_fn)(const struct http_response *resp, void *arg);

struct http_opts {
    const char *method;         /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *url;            /* http:// or https:// only */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; copied; may be NULL.
                                   "Expect:" is always added (no 100-continue). With a body,
                                   pass Content-Type: curl's default is form-urlencoded. */
    const char *body;           /* copied; NULL for none. POST, PUT and PATCH always send a
                                   body ("" when NULL); a body with GET is a programmer error
                                   (assert), as is a method that is not an upper-case token */
    size_t body_len;
    double timeout;      /* whole request, seconds; <= 0 (or NaN) means 30; capped at
                            one day. Connecting has its own 10 s limit. */
    size_t max_response; /* body cap in bytes; 0 means 16 MiB */
};

struct http_stats {
    unsigned long requests; /* started: every http_send() */
    unsigned long failures; /* completed with code != CL_OK (cancelled ones are not counted) */
    int active;             /* in flight now: sent, neither delivered nor cancelled */
};

/* user_agent is sent on every request (GitHub rejects requests without one); copied, not
 * NULL. Calls curl_global_init() (reference-counted; libcurl here is thread-safe).
 * Returns NULL only when libcurl cannot initialise. */
struct http_client *http_client_new(struct ev_loop *loop, const char *user_agent);
/* Aborts every request in flight without calling back. NULL is a no-op. May be called from
 * inside a `done` callback: the client then goes away when that callback returns. */
void http_client_free(struct http_client *c);

/* Starts a request. Returns a handle valid until `done` runs or http_cancel(); never NULL.
 * Failures found here are delivered through `done` from the loop like any other. */
struct http_request *http_send(struct http_client *c, const struct http_opts *o, http_done_fn done,
                               void *arg);
/* Runs an easy handle the caller configured for another protocol libcurl speaks (SMTP
 * for mail) on the same multi handle and loop. The client sets CURLOPT_PRIVATE,
 * CURLOPT_ERRORBUFFER and CURLOPT_NOSIGNAL on it and nothing else; the caller keeps
 * owning `easy` (its callbacks, lists, buffers) and cleans it up after `done` ran or
 * after http_cancel(). `done` gets status = CURLINFO_RESPONSE_CODE (the last reply
 * code, e.g. SMTP's), no headers and an empty body; code and error as http_send(). */
struct http_request *http_run(struct http_client *c, CURL *easy, http_done_fn done, void *arg);
/* Aborts the request; `done` will not run. NULL is a no-op. Not for the request whose
 * `done` is running (its handle is already gone). */
void http_cancel(struct http_request *r);

/* Case-insensitive lookup; NULL when absent; the first one when repeated. */
const char *http_response_header(const struct http_response *r, const char *name);

void http_client_stats(const struct http_client *c, struct http_stats *out);

#endif
