#include "closeloop/http/httpd.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/conf.h"
#include "closeloop/util/log.h"
#include "closeloop/http/path.h"
#include "closeloop/util/utf8.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTPD_MAX_HEADERS  8
#define HTTPD_IDLE_TIMEOUT 60
#define HTTPD_MAX_URI      8192 /* request target, bytes: longer is 414 */
#define HTTPD_MAX_PATH     2048 /* the path alone */
#define HTTPD_MAX_ARGS     64   /* query parameters: more is 414 */
/* libmicrohttpd keeps the request line, the headers and one entry per query parameter
 * in a per-connection pool that it zeroes for every request (so a bigger pool costs on
 * every request). Parsing the query cannot run out of it: a target with more than 64
 * parameters has its query dropped before libmicrohttpd splits it (see httpd_on_uri)
 * and is answered 414; half the pool (16 KiB) holds the longest target we accept. */
#define HTTPD_POOL_BYTES  (32u * 1024u)
#define HTTPD_SWEEP_EVERY 0.25

/* One TCP connection, from accept to close. `reading` is true from the start of a
 * request (accept, or the end of the previous response) until its headers and body
 * are in: a client that takes longer than read_timeout loses the connection, so that
 * slow clients cannot hold every slot. */
struct httpd_conn {
    struct httpd_conn *prev;
    struct httpd_conn *next;
    int fd;
    double phase_started; /* ev_now() */
    bool reading;
    bool cut; /* shut down for being slow; MHD closes it */
};

struct httpd_arg {
    char *key;
    char *value;
};

struct httpd {
    struct ev_loop *loop;
    struct MHD_Daemon *mhd;
    ev_io io;       /* MHD's epoll fd */
    ev_timer tick;  /* MHD's own timeouts */
    ev_idle kick;   /* runs MHD after a resume */
    ev_timer sweep; /* read deadlines */
    int listen_fd;
    int port;
    long max_body;
    double read_timeout;
    struct httpd_conn *conns;
    unsigned long cut_slow; /* connections closed for a missed read deadline */
    int inflight;
    struct httpd_req *reqs; /* every live request, for shutdown */
    unsigned long next_id;
    httpd_handler_fn handler;
    void *arg;
    struct metrics *metrics;
};

struct httpd_req {
    struct httpd *h;
    struct httpd_req *prev;
    struct httpd_req *next;
    struct MHD_Connection *conn;
    char id[24];
    char *method;
    char *path; /* as sent: still percent-encoded */
    size_t uri_len;
    struct httpd_arg *args; /* the query, decoded */
    int nargs;
    const char *bad; /* why the request line is refused (400/414), or NULL */
    int bad_status;
    const char *route;
    char *principal;
    struct buf body;
    bool too_large;
    bool hide_path; /* the path holds a secret: the access log shows the route instead */
    bool dispatched;
    bool suspended;
    double started;
    /* the response, built by httpd_reply() and queued from the access handler */
    struct MHD_Response *response;
    int status;
    size_t resp_len;
    char *hdr_names[HTTPD_MAX_HEADERS];
    char *hdr_values[HTTPD_MAX_HEADERS];
    int nhdr;
    void *ctx;
    httpd_ctx_free_fn ctx_free;
};

static void httpd_run(struct httpd *h);
static void httpd_on_sweep(struct ev_loop *loop, ev_timer *w, int revents);

/* ---- request accessors ---- */

const char *httpd_req_method(const struct httpd_req *r)
{
    return r->method;
}
const char *httpd_req_path(const struct httpd_req *r)
{
    return r->path;
}
const char *httpd_req_id(const struct httpd_req *r)
{
    return r->id;
}
bool httpd_req_too_large(const struct httpd_req *r)
{
    return r->too_large;
}
bool httpd_req_replied(const struct httpd_req *r)
{
    return r->response != NULL;
}

const char *httpd_req_header(const struct httpd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_req_query(const struct httpd_req *r, const char *name)
{
    int i;

    for (i = 0; i < r->nargs; i++)
        if (strcmp(r->args[i].key, name) == 0)
            return r->args[i].value;
    return NULL;
}

void httpd_req_query_each(const struct httpd_req *r, httpd_query_fn fn, void *arg)
{
    int i;

    for (i = 0; i < r->nargs; i++)
        fn(r->args[i].key, r->args[i].value, arg);
}

const char *httpd_req_body(const struct httpd_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data != NULL ? r->body.data : "";
}

void httpd_req_set_ctx(struct httpd_req *r, void *ctx, httpd_ctx_free_fn fn)
{
    r->ctx = ctx;
    r->ctx_free = fn;
}

void httpd_req_set_route(struct httpd_req *r, const char *route)
{
    r->route = route;
}

void httpd_req_hide_path(struct httpd_req *r)
{
    r->hide_path = true;
}

void httpd_req_set_principal(struct httpd_req *r, const char *who)
{
    free(r->principal);
    r->principal = cl_strdup(who);
}

void httpd_req_add_header(struct httpd_req *r, const char *name, const char *value)
{
    if (r->nhdr == HTTPD_MAX_HEADERS)
        return;
    r->hdr_names[r->nhdr] = cl_strdup(name);
    r->hdr_values[r->nhdr] = cl_strdup(value);
    r->nhdr++;
}

void httpd_reply(struct httpd_req *r, int status, const char *content_type, char *body, size_t len)
{
    int i;

    if (r->response != NULL) {
        free(body);
        return;
    }
    r->response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r->response == NULL) {
        free(body);
        r->response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 500;
    }
    r->status = status;
    r->resp_len = len;
    MHD_add_response_header(r->response, "Content-Type", content_type);
    MHD_add_response_header(r->response, "X-Request-Id", r->id);
    MHD_add_response_header(r->response, "Cache-Control", "no-store");
    MHD_add_response_header(r->response, "X-Content-Type-Options", "nosniff");
    for (i = 0; i < r->nhdr; i++)
        MHD_add_response_header(r->response, r->hdr_names[i], r->hdr_values[i]);
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        ev_idle_start(r->h->loop, &r->h->kick);
    }
}

/* ---- request life cycle ---- */

static struct httpd_req *httpd_req_new(struct httpd *h, struct MHD_Connection *conn)
{
    struct httpd_req *r = cl_calloc(1, sizeof(*r));

    r->h = h;
    r->conn = conn;
    r->route = "unmatched";
    r->started = cl_now_mono();
    snprintf(r->id, sizeof(r->id), "%x-%lu", (unsigned)getpid(), ++h->next_id);
    buf_init(&r->body);
    r->next = h->reqs;
    if (h->reqs != NULL)
        h->reqs->prev = r;
    h->reqs = r;
    h->inflight++;
    return r;
}

static void httpd_req_free(struct httpd_req *r)
{
    int i;

    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        r->h->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;

    if (r->ctx_free != NULL)
        r->ctx_free(r->ctx);
    if (r->response != NULL)
        MHD_destroy_response(r->response);
    for (i = 0; i < r->nhdr; i++) {
        free(r->hdr_names[i]);
        free(r->hdr_values[i]);
    }
    for (i = 0; i < r->nargs; i++) {
        free(r->args[i].key);
        free(r->args[i].value);
    }
    free(r->args);
    buf_dispose(&r->body);
    free(r->principal);
    free(r->method);
    free(r->path);
    free(r);
}

static void httpd_req_log(const struct httpd_req *r, double secs,
                          enum MHD_RequestTerminationCode toe)
{
    char method[48];
    char path[256];
    char who[96];

    /* every value that came from the client is escaped: no forged fields or lines */
    log_req_info(r->id,
                 "event=request method=\"%s\" path=\"%s\" route=%s status=%d ms=%.2f "
                 "bytes=%zu principal=%s%s",
                 log_quote(method, sizeof(method), r->method),
                 r->hide_path ? "(hidden)" : log_quote(path, sizeof(path), r->path), r->route,
                 r->status, secs * 1000.0, r->resp_len, log_quote(who, sizeof(who), r->principal),
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
}

/* ---- connections and read deadlines ---- */

static struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

static void httpd_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *h = cls;
    struct httpd_conn *c = *socket_context;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c = cl_calloc(1, sizeof(*c));
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci != NULL ? ci->connect_fd : -1;
        c->phase_started = ev_now(h->loop);
        c->reading = true;
        c->next = h->conns;
        if (h->conns != NULL)
            h->conns->prev = c;
        h->conns = c;
        *socket_context = c;
        return;
    }
    /* at its connection limit libmicrohttpd stops accepting; it starts again on its next
     * run after a close, which must not wait for an unrelated event */
    ev_idle_start(h->loop, &h->kick);
    if (c == NULL)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    *socket_context = NULL;
    free(c);
}

/* Cuts connections whose request is not in after read_timeout: shutting the socket down
 * makes libmicrohttpd read EOF and close it on its next run. */
static void httpd_on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct httpd *h = container_of(w, struct httpd, sweep);
    double now = ev_now(loop);
    struct httpd_conn *c;
    int cut = 0;

    (void)revents;
    for (c = h->conns; c != NULL; c = c->next) {
        if (!c->reading || c->cut || c->fd < 0 || now - c->phase_started < h->read_timeout)
            continue;
        c->cut = true;
        shutdown(c->fd, SHUT_RDWR);
        cut++;
    }
    if (cut > 0) {
        h->cut_slow += (unsigned long)cut;
        log_warn("event=read_timeout connections=%d seconds=%g", cut, h->read_timeout);
        httpd_run(h);
    }
}

/* ---- request life cycle ---- */

static void httpd_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct httpd *h = cls;
    struct httpd_req *r = *con_cls;
    struct httpd_conn *c = httpd_conn_of(conn);
    double secs;

    if (c != NULL) { /* the next request on this connection starts its own deadline */
        c->phase_started = ev_now(h->loop);
        c->reading = true;
    }
    if (r == NULL)
        return;
    *con_cls = NULL;
    secs = cl_now_mono() - r->started;
    if (h->metrics != NULL)
        metrics_observe(h->metrics, r->route, r->method, r->status != 0 ? r->status : 499, secs);
    httpd_req_log(r, secs, toe);
    h->inflight--;
    httpd_req_free(r);
}

static void httpd_req_body_add(struct httpd_req *r, const char *data, size_t len)
{
    if (r->too_large || r->body.len + len > (size_t)r->h->max_body) {
        r->too_large = true; /* keep reading, keep nothing: the answer is 413 */
        return;
    }
    buf_append(&r->body, data, len);
}

void httpd_reply_error(struct httpd_req *r, int status, const char *code, const char *message)
{
    struct buf b;
    size_t len;
    char *body;

    buf_init(&b);
    buf_puts(&b, "{\"error\":{\"code\":");
    buf_json_string(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_string(&b, message);
    buf_puts(&b, "}}\n");
    body = buf_steal(&b, &len);
    httpd_reply(r, status, "application/json", body, len);
}

struct httpd_args {
    struct httpd_req *r;
    int seen;
};

static void httpd_bad(struct httpd_req *r, int status, const char *why)
{
    if (r->bad == NULL) {
        r->bad = why;
        r->bad_status = status;
    }
}

/* One query parameter as libmicrohttpd split it (raw: our unescape callback leaves the
 * bytes alone, '+' is already a space). Decoded here, checked for UTF-8 and controls. */
static enum MHD_Result httpd_arg_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct httpd_args *a = cls;
    struct httpd_req *r = a->r;
    size_t klen = 0;
    size_t vlen = 0;
    char *k;
    char *v;

    (void)kind;
    if (++a->seen > HTTPD_MAX_ARGS) {
        httpd_bad(r, 414, "more than 64 query parameters");
        return MHD_NO;
    }
    k = utf8_percent_decode(key, strlen(key), false, &klen);
    v = utf8_percent_decode(value != NULL ? value : "", value != NULL ? strlen(value) : 0, false,
                            &vlen);
    if (k == NULL || v == NULL || !utf8_printable(k, klen) || !utf8_printable(v, vlen)) {
        free(k);
        free(v);
        httpd_bad(r, 400, "the query string is not valid percent-encoded UTF-8");
        return MHD_NO;
    }
    r->args[r->nargs].key = k;
    r->args[r->nargs].value = v;
    r->nargs++;
    return MHD_YES;
}

/* The path must decode to UTF-8 without NUL or control characters; its segments are
 * decoded again by the router, one by one, so "%2F" stays inside a segment. */
static void httpd_check_path(struct httpd_req *r, const char *url)
{
    if (strlen(url) > HTTPD_MAX_PATH)
        httpd_bad(r, 414, "the path is too long");
    else if (!path_valid(url))
        httpd_bad(r, 400,
                  "the path is not valid: percent-encoded UTF-8 without NUL or "
                  "control characters");
}

/* The first call: the request line and headers are in. Refuses what is malformed or
 * too large before any body is read (no 100 Continue for a body we would refuse). */
static void httpd_req_headers(struct httpd_req *r)
{
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    struct httpd_args a = {r, 0};
    int nargs;
    long n;

    httpd_check_path(r, r->path);
    nargs =
        r->bad == NULL ? MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) : 0;
    if (nargs > 0) {
        r->args =
            cl_calloc((size_t)(nargs < HTTPD_MAX_ARGS ? nargs : HTTPD_MAX_ARGS), sizeof(*r->args));
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, httpd_arg_cb, &a);
    }
    if (cl != NULL && (cl_parse_long(&n, cl, 0, __LONG_MAX__) != CL_OK || n > r->h->max_body))
        r->too_large = true;
    if (r->bad != NULL)
        httpd_reply_error(r, r->bad_status, r->bad_status == 414 ? "uri_too_long" : "bad_request",
                          r->bad);
    else if (r->too_large)
        httpd_reply_error(r, 413, "payload_too_large", "body is larger than the limit");
}

static enum MHD_Result httpd_queue(struct httpd_req *r)
{
    return MHD_queue_response(r->conn, (unsigned)r->status, r->response);
}

/* Called by libmicrohttpd with the raw request target, before it splits off the query
 * (its 0.9.75 logs 431 but never sends it when the parameters outgrow the pool, and
 * keeps the connection). The request context starts here. A target that is too long,
 * or has more parameters than we accept, is answered 414 by the first access call; its
 * query is emptied here so that libmicrohttpd has nothing to split: `uri` points into
 * libmicrohttpd's own writable read buffer, which it parses right after this call. */
static void *httpd_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct httpd *h = cls;
    struct httpd_req *r = httpd_req_new(h, conn);
    char *query = strchr(uri, '?');
    size_t params = 0;
    const char *p;

    r->uri_len = strlen(uri);
    for (p = query; p != NULL && *p != '\0'; p++)
        params += *p == '&' || p == query;
    if (r->uri_len > HTTPD_MAX_URI)
        httpd_bad(r, 414, "the request target is longer than 8192 bytes");
    else if (params > HTTPD_MAX_ARGS)
        httpd_bad(r, 414, "more than 64 query parameters");
    if (r->bad != NULL && query != NULL)
        query[1] = '\0';
    return r;
}

/* The identity: paths and query values stay percent-encoded until we decode them,
 * so a decoded NUL can never cut a string short. */
static size_t httpd_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static enum MHD_Result httpd_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version, const char *upload,
                                       size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    struct httpd_req *r = *con_cls;
    struct httpd_conn *c;

    (void)version;
    if (r->method == NULL) {
        r->method = cl_strndup(method, 32);
        r->path = cl_strndup(url, HTTPD_MAX_PATH + 1);
        httpd_req_headers(r);
        return r->response != NULL ? httpd_queue(r) : MHD_YES;
    }
    if (*upload_size > 0) {
        httpd_req_body_add(r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->response == NULL && !r->dispatched) {
        r->dispatched = true;
        c = httpd_conn_of(conn);
        if (c != NULL)
            c->reading = false; /* the request is in: the handler's deadline rules now */
        h->handler(r, h->arg);
    }
    if (r->response != NULL)
        return httpd_queue(r);
    r->suspended = true;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

/* ---- driving MHD from libev ---- */

static void httpd_arm_timer(struct httpd *h)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;

    ev_timer_stop(h->loop, &h->tick);
    if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
        ev_timer_set(&h->tick, (double)ms / 1000.0, 0.0);
        ev_timer_start(h->loop, &h->tick);
    }
}

static void httpd_run(struct httpd *h)
{
    MHD_run(h->mhd);
    httpd_arm_timer(h);
}

static void httpd_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    httpd_run(container_of(w, struct httpd, io));
}

static void httpd_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    httpd_run(container_of(w, struct httpd, tick));
}

static void httpd_on_kick(struct ev_loop *loop, ev_idle *w, int revents)
{
    struct httpd *h = container_of(w, struct httpd, kick);

    (void)revents;
    ev_idle_stop(loop, w);
    httpd_run(h);
}

static void httpd_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void httpd_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    char quoted[300];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("event=http_error error=\"%s\"", log_quote(quoted, sizeof(quoted), msg));
}

/* Binds host:port (names resolved, v4 or v6) and listens. */
static int httpd_bind(int *fd_out, int *port_out, const char *listen_on, struct cl_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char *host = NULL;
    char port[8];
    int one = 1;
    int fd = -1;
    int p;
    int rc = conf_split_listen(&host, &p, listen_on, err);

    if (rc != CL_OK)
        return rc;
    snprintf(port, sizeof(port), "%d", p);
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        rc = cl_fail(err, CL_EINVAL, "listen %s: cannot resolve host", listen_on);
        goto cleanup;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = cl_fail(err, CL_EIO, "listen %s: %s", listen_on, strerror(errno));
        goto cleanup;
    }
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    if (ai != NULL)
        freeaddrinfo(ai);
    free(host);
    return rc;
}

static int httpd_mhd_start(struct httpd *h, long max_connections, struct cl_err *err)
{
    const union MHD_DaemonInfo *info;

    /* The logger goes first so that option errors are logged through it too. */
    h->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        httpd_on_access, h, MHD_OPTION_EXTERNAL_LOGGER, httpd_mhd_log, h, MHD_OPTION_LISTEN_SOCKET,
        h->listen_fd, MHD_OPTION_NOTIFY_COMPLETED, httpd_on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, httpd_on_connection, h, MHD_OPTION_URI_LOG_CALLBACK,
        httpd_on_uri, h, MHD_OPTION_UNESCAPE_CALLBACK, httpd_unescape, h,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_POOL_BYTES, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_IDLE_TIMEOUT,
        MHD_OPTION_END);
    if (h->mhd == NULL)
        return cl_fail(err, CL_EIO, "libmicrohttpd would not start");
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL)
        return cl_fail(err, CL_EIO, "libmicrohttpd has no epoll fd");
    ev_io_init(&h->io, httpd_on_io, info->epoll_fd, EV_READ);
    ev_io_start(h->loop, &h->io);
    ev_init(&h->tick, httpd_on_tick);
    ev_idle_init(&h->kick, httpd_on_kick);
    ev_timer_init(&h->sweep, httpd_on_sweep, HTTPD_SWEEP_EVERY, HTTPD_SWEEP_EVERY);
    ev_timer_start(h->loop, &h->sweep);
    httpd_arm_timer(h);
    return CL_OK;
}

int httpd_start(struct httpd **out, struct ev_loop *loop, const struct httpd_opts *o,
                struct cl_err *err)
{
    struct httpd *h = cl_calloc(1, sizeof(*h));
    int rc;

    h->loop = loop;
    h->listen_fd = -1;
    h->max_body = o->max_body;
    h->read_timeout = o->read_timeout > 0 ? o->read_timeout : 15.0;
    h->handler = o->handler;
    h->arg = o->arg;
    h->metrics = o->metrics;
    rc = httpd_bind(&h->listen_fd, &h->port, o->listen, err);
    if (rc == CL_OK)
        rc = httpd_mhd_start(h, o->max_connections, err);
    if (rc != CL_OK) {
        httpd_free(h);
        return rc;
    }
    *out = h;
    return CL_OK;
}

void httpd_quiesce(struct httpd *h)
{
    MHD_socket fd;

    if (h->listen_fd < 0)
        return;
    fd = MHD_quiesce_daemon(h->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    h->listen_fd = -1;
}

/* Answers every request still waiting (503) so that none stays suspended:
 * libmicrohttpd aborts when stopped with suspended connections. */
static void httpd_release_suspended(struct httpd *h)
{
    static const char body[] = "{\"error\":{\"code\":\"unavailable\","
                               "\"message\":\"the service is shutting down, try again\"}}\n";
    struct httpd_req *r;
    bool any = false;

    for (r = h->reqs; r != NULL; r = r->next) {
        if (!r->suspended)
            continue;
        any = true;
        httpd_reply(r, 503, "application/json", cl_strdup(body), sizeof(body) - 1);
    }
    if (any)
        MHD_run(h->mhd); /* moves the resumed connections out of the suspended list */
}

void httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->mhd != NULL) {
        httpd_release_suspended(h);
        ev_io_stop(h->loop, &h->io);
        ev_timer_stop(h->loop, &h->tick);
        ev_timer_stop(h->loop, &h->sweep);
        MHD_stop_daemon(h->mhd);         /* completes every request and closes the listener */
        ev_idle_stop(h->loop, &h->kick); /* after: each close above starts it again */
    } else if (h->listen_fd >= 0) {
        close(h->listen_fd);
    }
    free(h);
}

int httpd_inflight(const struct httpd *h)
{
    return h->inflight;
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

void httpd_set_max_body(struct httpd *h, long max_body)
{
    h->max_body = max_body;
}

void httpd_set_read_timeout(struct httpd *h, double seconds)
{
    h->read_timeout = seconds;
}

unsigned long httpd_cut_slow(const struct httpd *h)
{
    return h->cut_slow;
}
