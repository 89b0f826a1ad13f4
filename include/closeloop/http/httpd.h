/* httpd: inbound HTTP through libmicrohttpd, run from the libev loop (MHD_USE_EPOLL,
 * its epoll fd watched by an ev_io, MHD_run on readiness and on MHD's timeout).
 * Loop-only. A request reaches the handler once, with its whole body; the handler
 * answers now or later with httpd_reply() (the connection is suspended meanwhile).
 * httpd owns every struct httpd_req and frees it when libmicrohttpd reports the
 * request complete, after calling the ctx free function. */
#ifndef CLOSELOOP_HTTPD_H
#define CLOSELOOP_HTTPD_H

#include "closeloop/util/cl.h"
#include "closeloop/http/metrics.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct httpd;
struct httpd_req;

typedef void (*httpd_handler_fn)(struct httpd_req *r, void *arg);
typedef void (*httpd_ctx_free_fn)(void *ctx);
typedef void (*httpd_query_fn)(const char *key, const char *value, void *arg);

struct httpd_opts {
    const char *listen; /* host:port */
    long max_body;
    long max_connections;
    double read_timeout; /* seconds for a request's headers and body to arrive */
    httpd_handler_fn handler;
    void *arg;
    struct metrics *metrics; /* borrowed; may be NULL */
};

/* Binds and starts serving. *out is freed with httpd_free(). */
int httpd_start(struct httpd **out, struct ev_loop *loop, const struct httpd_opts *o,
                struct cl_err *err);
/* Stops at once, closing connections. NULL is a no-op. */
void httpd_free(struct httpd *h);
/* Stops accepting new connections (closes the listening socket). */
void httpd_quiesce(struct httpd *h);
/* Requests received and not yet completed. */
int httpd_inflight(const struct httpd *h);
/* The port actually bound (useful with port 0). */
int httpd_port(const struct httpd *h);
void httpd_set_max_body(struct httpd *h, long max_body);
void httpd_set_read_timeout(struct httpd *h, double seconds);
/* Connections closed so far because their request did not arrive within read_timeout. */
unsigned long httpd_cut_slow(const struct httpd *h);

/* Request accessors: strings are borrowed for the request's lifetime. The path is the
 * raw one, still percent-encoded (already checked to decode to UTF-8 without NUL or
 * control characters); query values are decoded. Requests whose target is too long,
 * has more than 64 parameters or does not decode, and bodies announced larger than
 * max_body, are answered (400/413/414) before the handler sees them. */
const char *httpd_req_method(const struct httpd_req *r);
const char *httpd_req_path(const struct httpd_req *r);
const char *httpd_req_id(const struct httpd_req *r);
const char *httpd_req_header(const struct httpd_req *r, const char *name);
const char *httpd_req_query(const struct httpd_req *r, const char *name);
void httpd_req_query_each(const struct httpd_req *r, httpd_query_fn fn, void *arg);
const char *httpd_req_body(const struct httpd_req *r, size_t *len);
/* True when the body was cut at max_body: answer 413. */
bool httpd_req_too_large(const struct httpd_req *r);

/* Attaches the handler's context, freed by `fn` when the request completes. */
void httpd_req_set_ctx(struct httpd_req *r, void *ctx, httpd_ctx_free_fn fn);
/* Names the route template for metrics and logs (a static string). */
void httpd_req_set_route(struct httpd_req *r, const char *route);
/* The path carries a secret (a calendar feed's token): the access log says "(hidden)"
 * instead of it, and shows the route. */
void httpd_req_hide_path(struct httpd_req *r);
/* Names the authenticated principal for the access log (copied). */
void httpd_req_set_principal(struct httpd_req *r, const char *who);
/* Adds a response header (both copied) before httpd_reply(). */
void httpd_req_add_header(struct httpd_req *r, const char *name, const char *value);
/* Answers {"error":{"code","message"}} (both copied). */
void httpd_reply_error(struct httpd_req *r, int status, const char *code, const char *message);
/* Answers once; takes ownership of body (heap, free()d). Later calls are ignored. */
void httpd_reply(struct httpd_req *r, int status, const char *content_type, char *body, size_t len);
bool httpd_req_replied(const struct httpd_req *r);

#endif
