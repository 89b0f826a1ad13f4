/* remote: the tracker-neutral half of a provider's traffic with its tracker, shared by
 * every provider. A `struct remote` is one connection's state: the operations in flight,
 * a pause (rate limit, refused credentials) before which nothing is sent, the spacing of
 * mutating requests, the rate limit last reported, the last error, request counts. A
 * `struct remote_op` is one provider operation: one or more requests, then exactly one
 * callback, always from the loop and never inside the call that started it.
 *
 * Providers embed struct remote_op as the first member of their own operation struct
 * (remote_op_new() allocates `size` bytes, zeroed) and add the tracker's own parts
 * through struct remote_hooks: its headers (auth, media type, API version), whether
 * its credentials are ready, and what each response says about limits. Loop-only. */
#ifndef CLOSELOOP_REMOTE_H
#define CLOSELOOP_REMOTE_H

#include "closeloop/sync/provider.h"
#include "closeloop/util/http.h"

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct remote;
struct remote_op;

/* What a step does with one answer; it ends by sending another request or by finishing
 * the operation (remote_op_ok/finish/fail). */
typedef void (*remote_step_fn)(struct remote_op *op, const struct http_response *resp);

#define REMOTE_MAX_HEADERS 8

/* The common part of every provider operation: providers embed it as their first
 * member and touch it only through the functions below. */
struct remote_op {
    struct remote *r;
    struct remote_op *prev;
    struct remote_op *next;
    void (*dispose)(struct remote_op *op);
    provider_done_fn done;
    void *arg;
    ev_timer wait;
    int requests;
    /* the request to send, kept while it waits (spacing, a pause, credentials) */
    char *method;
    char *url;
    char *body;
    char *header;
    remote_step_fn step;
    struct http_request *req;
    json_t *later; /* remote_op_ok_later()'s result; a refusal's message is in `method` */
    bool refused;
};

struct remote_hooks {
    /* Writes the tracker's own header lines ("Name: value", heap) into lines (room for
     * `room`); returns how many. Called right before each send. Secrets live only there. */
    int (*headers)(void *prov, const struct remote_op *op, char **lines, int room);
    /* False when the credentials are not ready (a token being fetched): the provider
     * keeps the op and calls remote_op_resume() or remote_op_fail() on it later. NULL:
     * always ready. */
    bool (*ready)(void *prov, struct remote_op *op);
    /* Sees every answer before the step does (rate-limit headers...). May be NULL. */
    void (*observe)(void *prov, const struct http_response *resp);
};

struct remote_config {
    const char *connection; /* for logs */
    const char *base_url;   /* paths are relative to it; absolute URLs must share its origin */
    double timeout;         /* seconds per request */
    double write_interval;  /* seconds between mutating requests */
};

/* cfg's strings are borrowed and must outlive r; so must http and prov. */
struct remote *remote_new(struct ev_loop *loop, struct http_client *http,
                          const struct remote_config *cfg, const struct remote_hooks *hooks,
                          void *prov);
/* Frees every live operation without calling back (the core is going away too).
 * NULL is a no-op. */
void remote_free(struct remote *r);

/* ---- operations ---- */

/* A new operation of `size` bytes (>= sizeof(struct remote_op), zeroed); `dispose`
 * (may be NULL) frees the provider's part when it ends. */
struct remote_op *remote_op_new(struct remote *r, size_t size, void (*dispose)(struct remote_op *),
                                provider_done_fn done, void *arg);
struct remote *remote_op_remote(const struct remote_op *op);
/* The URL of the request last sent (for logs and redirects); borrowed. */
const char *remote_op_url(const struct remote_op *op);

/* Queues a request through the loop: `path` is relative to base_url unless absolute,
 * and an absolute URL on another origin is refused (the credentials never leave the
 * tracker's origin). body (may be NULL) is copied; `header` (may be NULL) is one more
 * line for this request only ("If-None-Match: ..."). Waits out a pause, the write
 * spacing and the provider's readiness. */
void remote_request(struct remote_op *op, const char *method, const char *path, const char *body,
                    const char *header, remote_step_fn step);
/* Sends the held request once the provider's credentials are ready. */
void remote_op_resume(struct remote_op *op);

/* Ends the operation with OK and `remote` (borrowed; may be NULL). */
void remote_op_ok(struct remote_op *op, json_t *remote);
/* Ends it with a result built by the provider (list results). */
void remote_op_finish(struct remote_op *op, struct provider_result *r);
/* Ends it with a failure; the message becomes the connection's last error. */
void remote_op_fail(struct remote_op *op, enum provider_outcome outcome, double retry_after,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Ends it as rejected through the loop, nothing sent (a bad name, a foreign URL). */
void remote_op_refuse(struct remote_op *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends it OK with `remote` (new reference taken) through the loop: nothing to send. */
void remote_op_ok_later(struct remote_op *op, json_t *remote);

/* The answer's Date header (the tracker's clock) as RFC 3339 UTC in out; "" when it has
 * none that parses. */
void remote_response_date(char *out, size_t n, const struct http_response *resp);

/* A numeric response header (Retry-After, rate-limit counters), or def when absent or not
 * a number >= 0. */
double remote_header_num(const struct http_response *resp, const char *name, double def);

/* A delivery's header that may be stored and logged: printable ASCII, 1..max bytes; else
 * NULL. */
const char *remote_hook_header(const struct provider_delivery *d, const char *name, size_t max);

/* True when s may serve as a comment's marker (struct provider_comment): 8..100 of
 * [A-Za-z0-9-], safe in a URL, a log line, HTML and JSON as it is. */
bool remote_marker_valid(const char *s);

/* A doctor's check: {"name", "ok", "detail"} appended to checks. */
void remote_check(json_t *checks, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends a doctor's op with {"ok": every check ok, "checks": checks}. */
void remote_op_checks_done(struct remote_op *op, json_t *checks);

/* ---- the connection ---- */

/* Nothing is sent for `seconds` (the later of two pauses wins); why is shown. */
void remote_pause(struct remote *r, double seconds, const char *why);
/* Credentials refused (true) or accepted again (false): /readyz and the metrics say so. */
void remote_set_auth_failed(struct remote *r, bool failed);
bool remote_auth_failed(const struct remote *r);
/* The rate limit a response reported; remaining < 0 leaves it unknown. */
void remote_note_rate(struct remote *r, long limit, long remaining, double reset_epoch);
/* The reset time last reported (epoch seconds, 0 when unknown). */
double remote_rate_reset(const struct remote *r);
/* Adds {"state","rate_limit","paused_until","pause_reason","last_error","requests"}. */
void remote_describe(const struct remote *r, json_t *into);
struct ev_loop *remote_loop(const struct remote *r);

#endif
