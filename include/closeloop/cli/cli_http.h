/* cli_http: blocking HTTP exchanges with closeloopd over libcurl's easy interface. Every
 * request carries the bearer token, Accept, User-Agent and X-Closeloop-Source: cli; bodies
 * are sent as application/json. Connect timeout 5 s, whole exchange 30 s unless the caller
 * allows more, answers capped at 16 MiB, no redirects, http and https only. Messages never
 * contain the token. */
#ifndef CLOSELOOP_CLI_HTTP_H
#define CLOSELOOP_CLI_HTTP_H

#include "closeloop/util/cl.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_HTTP_BODY_MAX          (16L * 1024 * 1024)
#define CLI_HTTP_CONNECT_TIMEOUT_S 5L
#define CLI_HTTP_TIMEOUT_S         30L
#define CLI_HTTP_USER_AGENT        "closeloop-cli/0.1"

struct cli_http;

struct cli_http_resp {
    long status; /* HTTP status of the answer */
    char *body;  /* owned, NUL-terminated; NULL when the answer had no body */
    size_t len;
};

/* A client for base_url (e.g. "http://127.0.0.1:8080", no trailing '/'); token may be NULL.
 * Both are copied. Returns NULL only when libcurl cannot make a handle. Free with
 * cli_http_free(). */
struct cli_http *cli_http_new(const char *base_url, const char *token);

/* NULL is a no-op. */
void cli_http_free(struct cli_http *h);

/* Sets the whole-exchange budget of later requests (seconds > 0); CLI_HTTP_TIMEOUT_S until
 * then. */
void cli_http_set_timeout(struct cli_http *h, long seconds);

/* The base URL, borrowed from h, for messages. */
const char *cli_http_base(const struct cli_http *h);

/* Sends method to base_url + path (path starts with '/', query included, already escaped).
 * body (may be NULL) is sent as JSON; if_match (may be NULL) becomes If-Match. Any HTTP
 * answer, 404 and 500 included, is 0 with *out filled (release with
 * cli_http_resp_dispose). No answer: CL_EIO (cannot connect or resolve), CL_ETIMEOUT, or
 * CL_EHTTP (answer over 16 MiB, TLS or protocol trouble), each with a one-line message that
 * says what to do. */
int cli_http_do(struct cli_http_resp *out, struct cli_http *h, const char *method, const char *path,
                const char *body, const char *if_match, struct cl_err *err);

/* Frees the body; NULL is a no-op. */
void cli_http_resp_dispose(struct cli_http_resp *r);

/* The request headers, for cli_http_do() and its tests: token may be NULL; NULL when
 * libcurl fails. Free with curl_slist_free_all(). */
struct curl_slist *cli_http_headers(const char *token, bool has_body, const char *if_match);

/* Where an answer accumulates; exposed for tests of the size cap. */
struct cli_http_buf {
    char *data; /* owned, always NUL-terminated once anything arrived */
    size_t len;
    size_t cap;
    size_t max;    /* bytes allowed */
    bool overflow; /* set when more than max arrived; the transfer is then aborted */
};

/* CURLOPT_WRITEFUNCTION for a struct cli_http_buf: returns 0 (abort) past buf->max. */
size_t cli_http_sink(char *ptr, size_t size, size_t nmemb, void *arg);

#endif
