#include "closeloop/sync/remote.h"

#include "closeloop/util/log.h"

#include <curl/curl.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct remote {
    struct ev_loop *loop;
    struct http_client *http;
    const struct remote_config *cfg;
    const struct remote_hooks *hooks;
    void *prov;
    struct remote_op *ops; /* every live operation */
    double paused_until;   /* ev_now() time */
    char pause_reason[160];
    bool auth_failed;
    char last_error[256];
    double next_write_at;
    unsigned long requests;
    long rate_limit;
    long rate_remaining; /* -1 until a response told us */
    double rate_reset;   /* epoch seconds */
};

static void remote_op_send(struct remote_op *op);

/* ---- life cycle ---- */

struct remote *remote_new(struct ev_loop *loop, struct http_client *http,
                          const struct remote_config *cfg, const struct remote_hooks *hooks,
                          void *prov)
{
    struct remote *r = cl_calloc(1, sizeof(*r));

    r->loop = loop;
    r->http = http;
    r->cfg = cfg;
    r->hooks = hooks;
    r->prov = prov;
    r->rate_remaining = -1;
    return r;
}

static void remote_op_free(struct remote_op *op)
{
    struct remote *r = op->r;

    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        r->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    http_cancel(op->req);
    ev_timer_stop(r->loop, &op->wait);
    if (op->dispose != NULL)
        op->dispose(op);
    json_decref(op->later);
    free(op->method);
    free(op->url);
    free(op->body);
    free(op->header);
    free(op);
}

void remote_free(struct remote *r)
{
    if (r == NULL)
        return;
    while (r->ops != NULL)
        remote_op_free(r->ops); /* no callbacks: the sync core is going away too */
    free(r);
}

struct remote_op *remote_op_new(struct remote *r, size_t size, void (*dispose)(struct remote_op *),
                                provider_done_fn done, void *arg)
{
    struct remote_op *op = cl_calloc(1, size > sizeof(*op) ? size : sizeof(*op));

    op->r = r;
    op->dispose = dispose;
    op->done = done;
    op->arg = arg;
    op->next = r->ops;
    if (r->ops != NULL)
        r->ops->prev = op;
    r->ops = op;
    return op;
}

struct remote *remote_op_remote(const struct remote_op *op)
{
    return op->r;
}

const char *remote_op_url(const struct remote_op *op)
{
    return op->url != NULL ? op->url : "";
}

struct ev_loop *remote_loop(const struct remote *r)
{
    return r->loop;
}

/* ---- ending an operation ---- */

void remote_op_finish(struct remote_op *op, struct provider_result *res)
{
    res->requests = op->requests;
    op->done(res, op->arg);
    remote_op_free(op);
}

void remote_op_ok(struct remote_op *op, json_t *remote)
{
    struct provider_result res = {.outcome = PROVIDER_OK, .remote = remote};

    remote_op_finish(op, &res);
}

static void remote_op_failv(struct remote_op *op, enum provider_outcome outcome, double retry_after,
                            const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void remote_op_failv(struct remote_op *op, enum provider_outcome outcome, double retry_after,
                            const char *fmt, va_list ap)
{
    struct provider_result res = {.outcome = outcome, .retry_after = retry_after};

    vsnprintf(res.message, sizeof(res.message), fmt, ap);
    snprintf(op->r->last_error, sizeof(op->r->last_error), "%s", res.message);
    remote_op_finish(op, &res);
}

void remote_op_fail(struct remote_op *op, enum provider_outcome outcome, double retry_after,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    remote_op_failv(op, outcome, retry_after, fmt, ap);
    va_end(ap);
}

/* A refusal or a result decided without a request, delivered through the loop. */
static void remote_op_on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct remote_op *op = container_of(w, struct remote_op, wait);

    (void)loop;
    (void)revents;
    if (op->refused)
        remote_op_fail(op, PROVIDER_REJECTED, 0, "%.250s", op->method);
    else
        remote_op_ok(op, op->later);
}

static void remote_op_defer(struct remote_op *op, double delay,
                            void (*cb)(struct ev_loop *, ev_timer *, int))
{
    ev_timer_stop(op->r->loop, &op->wait);
    ev_timer_init(&op->wait, cb, delay > 0 ? delay : 0, 0.0);
    ev_timer_start(op->r->loop, &op->wait);
}

void remote_op_refuse(struct remote_op *op, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    op->refused = true;
    op->step = NULL;
    free(op->method);
    op->method = cl_strdup(msg); /* no request needs it any more */
    remote_op_defer(op, 0, remote_op_on_later);
}

void remote_op_ok_later(struct remote_op *op, json_t *remote)
{
    json_decref(op->later);
    op->later = json_incref(remote);
    remote_op_defer(op, 0, remote_op_on_later);
}

/* ---- sending ---- */

static bool remote_is_write(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static void remote_op_on_response(const struct http_response *resp, void *arg)
{
    struct remote_op *op = arg;

    op->req = NULL;
    op->requests++;
    op->r->requests++;
    if (op->r->hooks->observe != NULL)
        op->r->hooks->observe(op->r->prov, resp);
    op->step(op, resp);
}

static void remote_op_transmit(struct remote_op *op)
{
    struct remote *r = op->r;
    char *lines[REMOTE_MAX_HEADERS + 3] = {NULL};
    struct http_opts o = {.method = op->method, .url = op->url, .timeout = r->cfg->timeout};
    int n = r->hooks->headers(r->prov, op, lines, REMOTE_MAX_HEADERS);
    int i;

    if (op->body != NULL) {
        lines[n++] = cl_strdup("Content-Type: application/json");
        o.body = op->body;
        o.body_len = strlen(op->body);
    }
    if (op->header != NULL)
        lines[n++] = cl_strdup(op->header);
    lines[n] = NULL;
    o.headers = (const char *const *)lines;
    if (remote_is_write(op->method))
        r->next_write_at = ev_now(r->loop) + r->cfg->write_interval;
    op->req = http_send(r->http, &o, remote_op_on_response, op);
    for (i = 0; i < n; i++) {
        memset(lines[i], 0, strlen(lines[i])); /* credentials do not linger */
        free(lines[i]);
    }
}

static void remote_op_on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    remote_op_send(container_of(w, struct remote_op, wait));
}

/* Sends op's request when the connection may: not paused, credentials ready, writes
 * spaced. */
static void remote_op_send(struct remote_op *op)
{
    struct remote *r = op->r;
    double now = ev_now(r->loop);

    if (r->paused_until > now) {
        remote_op_fail(op, r->auth_failed ? PROVIDER_AUTH : PROVIDER_LIMITED, r->paused_until - now,
                       "connection %s paused: %s", r->cfg->connection, r->pause_reason);
        return;
    }
    if (r->hooks->ready != NULL && !r->hooks->ready(r->prov, op))
        return; /* the provider resumes it */
    if (remote_is_write(op->method) && r->next_write_at > now) {
        remote_op_defer(op, r->next_write_at - now, remote_op_on_wait);
        return;
    }
    remote_op_transmit(op);
}

void remote_op_resume(struct remote_op *op)
{
    remote_op_send(op);
}

/* True when url has the base's scheme, host and port: the credentials are only ever
 * sent there, whatever a Location or Link header says. */
static bool remote_same_origin(const char *base, const char *url)
{
    const char *host = strstr(base, "://");
    size_t n = host != NULL ? (size_t)(host + 3 - base) + strcspn(host + 3, "/") : strlen(base);

    return strncmp(base, url, n) == 0 && (url[n] == '/' || url[n] == '\0' || url[n] == '?');
}

void remote_request(struct remote_op *op, const char *method, const char *path, const char *body,
                    const char *header, remote_step_fn step)
{
    bool absolute = strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;

    if (absolute && !remote_same_origin(op->r->cfg->base_url, path)) {
        remote_op_refuse(op, "refused: %.100s is not on %.100s", path, op->r->cfg->base_url);
        return;
    }
    free(op->method);
    free(op->url);
    free(op->body);
    free(op->header);
    op->method = cl_strdup(method);
    op->url = absolute ? cl_strdup(path) : cl_asprintf("%s%s", op->r->cfg->base_url, path);
    op->body = cl_strdup(body);
    op->header = cl_strdup(header);
    op->step = step;
    /* deferred through the loop: callbacks never run inside the starting call */
    remote_op_defer(op, 0, remote_op_on_wait);
}

/* ---- the connection's state ---- */

void remote_pause(struct remote *r, double seconds, const char *why)
{
    double until = ev_now(r->loop) + seconds;
    char quoted[200];

    if (until <= r->paused_until)
        return;
    r->paused_until = until;
    snprintf(r->pause_reason, sizeof(r->pause_reason), "%s", why);
    log_warn("event=sync_paused connection=%s seconds=%.0f reason=\"%s\"", r->cfg->connection,
             seconds, log_quote(quoted, sizeof(quoted), why));
}

void remote_set_auth_failed(struct remote *r, bool failed)
{
    r->auth_failed = failed;
}

bool remote_auth_failed(const struct remote *r)
{
    return r->auth_failed;
}

void remote_note_rate(struct remote *r, long limit, long remaining, double reset_epoch)
{
    if (remaining < 0)
        return;
    r->rate_remaining = remaining;
    r->rate_limit = limit;
    r->rate_reset = reset_epoch;
}

double remote_rate_reset(const struct remote *r)
{
    return r->rate_reset;
}

/* Epoch seconds as an RFC 3339 UTC string. */
static json_t *remote_time_json(double epoch)
{
    char out[32];
    time_t t = (time_t)epoch;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(out);
}

void remote_describe(const struct remote *r, json_t *into)
{
    double now = ev_now(r->loop);
    bool paused = r->paused_until > now;

    json_object_set_new(into, "state",
                        json_string(r->auth_failed ? "auth_failed"
                                    : paused       ? "paused"
                                                   : "ok"));
    json_object_set_new(into, "rate_limit",
                        r->rate_remaining < 0
                            ? json_null()
                            : json_pack("{s:I, s:I, s:o}", "limit", (json_int_t)r->rate_limit,
                                        "remaining", (json_int_t)r->rate_remaining, "reset_at",
                                        remote_time_json(r->rate_reset)));
    json_object_set_new(into, "paused_until",
                        paused ? remote_time_json((double)time(NULL) + (r->paused_until - now))
                               : json_null());
    json_object_set_new(into, "pause_reason", paused ? json_string(r->pause_reason) : json_null());
    json_object_set_new(into, "last_error",
                        r->last_error[0] != '\0' ? json_string(r->last_error) : json_null());
    json_object_set_new(into, "requests", json_integer((json_int_t)r->requests));
}

void remote_response_date(char *out, size_t n, const struct http_response *resp)
{
    const char *d = resp != NULL ? http_response_header(resp, "date") : NULL;
    time_t t = d != NULL ? curl_getdate(d, NULL) : -1;
    struct tm tm;

    out[0] = '\0';
    if (t < 0)
        return;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

double remote_header_num(const struct http_response *resp, const char *name, double def)
{
    const char *v = http_response_header(resp, name);
    char *end = NULL;
    double d;

    if (v == NULL)
        return def;
    d = strtod(v, &end);
    return end != v && d >= 0 ? d : def;
}

const char *remote_hook_header(const struct provider_delivery *d, const char *name, size_t max)
{
    const char *v = d->header(d->ctx, name);
    size_t n = v != NULL ? strlen(v) : 0;
    size_t i;

    if (n == 0 || n > max)
        return NULL;
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
            return NULL;
    return v;
}

bool remote_marker_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n >= 8 && n <= 100 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

void remote_check(json_t *checks, const char *name, bool ok, const char *fmt, ...)
{
    char detail[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    json_array_append_new(checks,
                          json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail));
}

void remote_op_checks_done(struct remote_op *op, json_t *checks)
{
    json_t *out = json_object();
    size_t i;
    json_t *c;
    bool ok = true;

    json_array_foreach (checks, i, c) {
        ok &= json_is_true(json_object_get(c, "ok"));
    }
    json_object_set_new(out, "ok", json_boolean(ok));
    json_object_set(out, "checks", checks);
    remote_op_ok(op, out);
    json_decref(out);
}
