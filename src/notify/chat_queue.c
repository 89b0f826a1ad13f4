#include "closeloop/notify/chat_queue.h"

#include "closeloop/notify/chat_kinds.h"
#include "closeloop/util/policy/chat_conf.h"
#include "closeloop/util/http.h"
#include "closeloop/util/log.h"
#include "closeloop/util/version.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_TICK          1.0  /* fallback wake-up: retries coming due, leftovers */
#define CQ_GAUGE_EVERY   5.0  /* seconds between two reads of the queued gauge */
#define CQ_LEASE_MARGIN  30.0 /* a claim outlives its post by this much */
#define CQ_MAX_RESPONSE  65536
#define CQ_EXCERPT_BYTES 200

enum cq_job_state { CQ_POSTING, CQ_RECORDING };

/* One claimed row, from its claim to its recorded outcome. */
struct cq_job {
    struct chat_queue *q;
    struct cq_job *prev;
    struct cq_job *next;
    enum cq_job_state state;
    bool failing;
    char id[24];
    char channel[72];
    struct http_request *post; /* owned while CQ_POSTING */
    struct db_query *rec;      /* owned while CQ_RECORDING */
};

struct chat_queue {
    struct ev_loop *loop;
    struct db_pool *pool;
    const struct conf *conf;
    struct http_client *http;
    struct db_listener *listener;
    bool enabled;
    bool again;
    struct db_query *claim_q;
    struct db_query *gauge_q;
    ev_timer tick;
    ev_timer gauge;
    struct cq_job *jobs;
    int in_flight;
    unsigned long sent;
    unsigned long failed;
    unsigned long retried;
    long queued;
};

static void cq_kick(struct chat_queue *q);

/* ---- pure helpers ---- */

enum chat_outcome chat_queue_outcome(long status)
{
    if (status >= 200 && status <= 299)
        return CHAT_SENT;
    if (status == 0 || status == 429 || status == 408 || (status >= 500 && status <= 599))
        return CHAT_RETRY;
    return CHAT_PERMANENT; /* 400, 403, 404, 410, other 4xx, 3xx (never followed) */
}

long chat_queue_status(long status, const char *body)
{
    static const char wrapped[] = "Webhook message delivery failed with error:";
    const char *p;
    char *end = NULL;
    long code;

    if (status < 200 || status > 299 || body == NULL ||
        strncmp(body, wrapped, sizeof(wrapped) - 1) != 0)
        return status;
    p = strstr(body, "HTTP error ");
    if (p == NULL)
        return 500; /* refused for a reason it does not give: retried, then failed */
    code = strtol(p + 11, &end, 10);
    return end != p + 11 && code >= 300 && code <= 599 ? code : 500;
}

double chat_queue_retry_after(const char *value, double def, double max, time_t now)
{
    char *end = NULL;
    double s;
    time_t when;

    if (value == NULL || value[0] == '\0')
        return def < max ? def : max;
    s = strtod(value, &end);
    if (end != value && *end == '\0' && isfinite(s)) {
        /* delta-seconds */
    } else {
        when = curl_getdate(value, NULL);
        if (when == (time_t)-1)
            return def < max ? def : max;
        s = difftime(when, now);
    }
    if (!(s >= 0))
        s = 0;
    return s < max ? s : max;
}

void chat_queue_excerpt(char *out, size_t n, long status, const char *body, const char *secret)
{
    size_t slen = secret != NULL ? strlen(secret) : 0;
    size_t len;
    size_t i;
    int w = snprintf(out, n, "HTTP %ld: ", status);

    if (w < 0 || (size_t)w >= n)
        return;
    len = (size_t)w;
    for (i = 0; body != NULL && body[i] != '\0' && i < CQ_EXCERPT_BYTES && len + 6 < n; i++) {
        if (slen > 0 && strncmp(body + i, secret, slen) == 0) {
            len += (size_t)snprintf(out + len, n - len, "(url)");
            i += slen - 1;
            continue;
        }
        out[len++] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? ' ' : body[i];
    }
    if (body != NULL && body[i] != '\0' && len + 4 < n)
        len += (size_t)snprintf(out + len, n - len, "...");
    out[len] = '\0';
    while (len > 0 && out[len - 1] == ' ')
        out[--len] = '\0';
}

/* Replaces every occurrence of secret in s (in place) by "(url)". */
static void cq_scrub(char *s, const char *secret)
{
    size_t slen = strlen(secret);
    char *p;

    if (slen < 6)
        return;
    while ((p = strstr(s, secret)) != NULL) {
        memcpy(p, "(url)", 5);
        memmove(p + 5, p + slen, strlen(p + slen) + 1);
    }
}

/* ---- jobs ---- */

static struct cq_job *cq_job_new(struct chat_queue *q, const char *id, const char *channel)
{
    struct cq_job *j = cl_calloc(1, sizeof(*j));

    j->q = q;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->channel, sizeof(j->channel), "%s", channel);
    j->next = q->jobs;
    if (q->jobs != NULL)
        q->jobs->prev = j;
    q->jobs = j;
    q->in_flight++;
    return j;
}

static void cq_job_free(struct cq_job *j)
{
    struct chat_queue *q = j->q;

    http_cancel(j->post);
    db_query_cancel(j->rec);
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        q->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    q->in_flight--;
    free(j);
}

static void cq_on_recorded(const struct db_reply *r, void *arg)
{
    struct cq_job *j = arg;
    struct chat_queue *q = j->q;

    j->rec = NULL;
    if (r->code != CL_OK)
        log_error("event=chat_record_failed id=%s error=\"%s\"", j->id, r->message);
    else if (j->failing && PQntuples(r->res) == 1 &&
             strcmp(PQgetvalue(r->res, 0, 0), "failed") == 0)
        q->failed++;
    else if (j->failing && PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0))
        q->retried++;
    cq_job_free(j);
    cq_kick(q);
}

static void cq_record_sent(struct cq_job *j, long status)
{
    char code[24];

    snprintf(code, sizeof(code), "%ld", status);
    j->q->sent++;
    j->state = CQ_RECORDING;
    j->rec = db_query(j->q->pool, "SELECT cl_chat_sent($1::bigint, $2::int)", 2,
                      (const char *const[]){j->id, code}, cq_on_recorded, j);
}

/* retry_after < 0: the back-off decides. */
static void cq_record_failed(struct cq_job *j, long status, const char *error, bool permanent,
                             double retry_after)
{
    const struct conf *c = j->q->conf;
    char code[24], after[32], base[32], cap[32], max[24];
    char why[300];

    snprintf(code, sizeof(code), "%ld", status);
    snprintf(after, sizeof(after), "%.3f", retry_after);
    snprintf(base, sizeof(base), "%g", c->chat_retry_base);
    snprintf(cap, sizeof(cap), "%g", c->chat_retry_max);
    snprintf(max, sizeof(max), "%ld", c->chat_max_attempts);
    log_warn("event=chat_post_failed id=%s channel=%s status=%ld permanent=%s error=\"%s\"", j->id,
             j->channel, status, permanent ? "true" : "false", log_quote(why, sizeof(why), error));
    j->state = CQ_RECORDING;
    j->failing = true;
    j->rec = db_query(j->q->pool,
                      "SELECT cl_chat_failed($1::bigint, $2::int, $3, $4::boolean, $5::float8,"
                      " $6::float8, $7::float8, $8::int)",
                      8,
                      (const char *const[]){j->id, status > 0 ? code : NULL, error,
                                            permanent ? "true" : "false",
                                            retry_after >= 0 ? after : NULL, base, cap, max},
                      cq_on_recorded, j);
}

static void cq_on_posted(const struct http_response *r, void *arg)
{
    struct cq_job *j = arg;
    const struct chat_channel *ch = chat_conf_find(&j->q->conf->chat, j->channel);
    const char *url = ch != NULL ? ch->url : "";
    char msg[400];
    enum chat_outcome o;
    long status;

    j->post = NULL;
    status = chat_queue_status(r->status, r->body);
    if (r->code != CL_OK) { /* a timeout or transport failure: curl's line, scrubbed */
        snprintf(msg, sizeof(msg), "%s", r->error);
        cq_scrub(msg, url);
        cq_record_failed(j, 0, msg, false, -1);
        return;
    }
    o = chat_queue_outcome(status);
    if (o == CHAT_SENT) {
        log_info("event=chat_sent id=%s channel=%s status=%ld seconds=%.3f", j->id, j->channel,
                 status, r->seconds);
        cq_record_sent(j, status);
        return;
    }
    chat_queue_excerpt(msg, sizeof(msg), status, r->body, url);
    if (status == 429)
        cq_record_failed(j, status, msg, false,
                         chat_queue_retry_after(http_response_header(r, "retry-after"),
                                                j->q->conf->chat_retry_base,
                                                j->q->conf->chat_retry_after_max, time(NULL)));
    else
        cq_record_failed(j, status, msg, o == CHAT_PERMANENT, -1);
}

/* Renders row i of a claim for its channel into *body. */
static int cq_render(char **body, const struct chat_channel *ch, const PGresult *res, int i,
                     struct cl_err *err)
{
    const struct chat_kind *kind = chat_kind_find(PQgetvalue(res, i, 2));
    json_error_t jerr;
    json_t *payload;
    int rc;

    if (ch == NULL)
        return cl_fail(err, CL_EINVAL, "no such channel \"%s\" (no [chat.%s] section)",
                       PQgetvalue(res, i, 1), PQgetvalue(res, i, 1));
    if (kind == NULL)
        return cl_fail(err, CL_EINVAL, "no chat kind \"%s\"", PQgetvalue(res, i, 2));
    payload = json_loads(PQgetvalue(res, i, 3), 0, &jerr);
    if (payload == NULL)
        return cl_fail(err, CL_EINVAL, "payload: %s", jerr.text);
    rc = kind->render(payload, chat_channel_format(ch), body, err);
    json_decref(payload);
    return rc;
}

static void cq_job_start(struct chat_queue *q, const PGresult *res, int i)
{
    static const char *const headers[] = {"Content-Type: application/json; charset=utf-8", NULL};
    struct cq_job *j = cq_job_new(q, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    const struct chat_channel *ch = chat_conf_find(&q->conf->chat, j->channel);
    struct cl_err err = CL_ERR_INIT;
    char *body = NULL;

    if (cq_render(&body, ch, res, i, &err) != CL_OK) {
        cq_record_failed(j, 0, err.msg, true, -1); /* rendering again will not help */
        return;
    }
    j->state = CQ_POSTING;
    j->post = http_send(q->http,
                        &(struct http_opts){.method = "POST",
                                            .url = ch->url,
                                            .headers = headers,
                                            .body = body,
                                            .body_len = strlen(body),
                                            .timeout = ch->timeout,
                                            .max_response = CQ_MAX_RESPONSE},
                        cq_on_posted, j);
    free(body);
}

/* ---- claiming ---- */

static void cq_on_claim(const struct db_reply *r, void *arg)
{
    struct chat_queue *q = arg;
    bool again = q->again;
    int n;
    int i;

    q->claim_q = NULL;
    q->again = false;
    if (r->code != CL_OK) {
        log_warn("event=chat_claim_failed error=\"%s\"", r->message);
        return;
    }
    n = PQntuples(r->res);
    for (i = 0; i < n; i++)
        cq_job_start(q, r->res, i);
    if (again || n > 0)
        cq_kick(q);
}

static double cq_max_timeout(const struct conf *c)
{
    double t = 0;
    int i;

    for (i = 0; i < c->chat.n; i++)
        t = c->chat.channels[i].timeout > t ? c->chat.channels[i].timeout : t;
    return t;
}

static void cq_kick(struct chat_queue *q)
{
    char lim[24];
    char lease[32];
    int room = (int)q->conf->chat_concurrency - q->in_flight;

    if (!q->enabled)
        return;
    if (q->claim_q != NULL) {
        q->again = true;
        return;
    }
    if (room <= 0)
        return;
    snprintf(lim, sizeof(lim), "%d", room);
    snprintf(lease, sizeof(lease), "%.0f", cq_max_timeout(q->conf) + CQ_LEASE_MARGIN);
    q->claim_q = db_query(q->pool,
                          "SELECT id, channel, kind, payload::text, attempts"
                          " FROM cl_chat_claim($1::int, $2::float8)",
                          2, (const char *const[]){lim, lease}, cq_on_claim, q);
}

static void cq_on_notify(const char *channel, const char *payload, void *arg)
{
    (void)channel;
    (void)payload;
    cq_kick(arg);
}

static void cq_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    cq_kick(container_of(w, struct chat_queue, tick));
}

static void cq_on_gauge_reply(const struct db_reply *r, void *arg)
{
    struct chat_queue *q = arg;

    q->gauge_q = NULL;
    if (r->code == CL_OK && PQntuples(r->res) == 1)
        cl_parse_long(&q->queued, PQgetvalue(r->res, 0, 0), 0, 1L << 62);
}

static void cq_on_gauge(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct chat_queue *q = container_of(w, struct chat_queue, gauge);

    (void)loop;
    (void)revents;
    if (q->gauge_q == NULL)
        q->gauge_q = db_query(q->pool, "SELECT cl_chat_pending()", 0, NULL, cq_on_gauge_reply, q);
}

/* ---- life cycle ---- */

/* Starts claiming and posting: the HTTP client and the listener are made the first time. */
static int cq_enable(struct chat_queue *q, struct cl_err *err)
{
    static const char *const channels[] = {"closeloop_chat", NULL};
    const struct conf *conf = q->conf;
    double tick = conf->chat_retry_base < CQ_TICK ? conf->chat_retry_base : CQ_TICK;

    if (q->http == NULL)
        q->http = http_client_new(q->loop, "closeloop/" CL_VERSION);
    if (q->http == NULL)
        return cl_fail(err, CL_EIO, "libcurl could not initialise");
    if (q->listener == NULL)
        q->listener = db_listener_new(q->loop, conf->database_url, db_pool_name(q->pool), channels,
                                      cq_on_notify, q);
    q->enabled = true;
    ev_timer_stop(q->loop, &q->tick);
    ev_timer_init(&q->tick, cq_on_tick, 0.05, tick);
    ev_timer_start(q->loop, &q->tick);
    log_info("event=chat_started channels=%d concurrency=%ld", conf->chat.n,
             conf->chat_concurrency);
    return CL_OK;
}

int chat_queue_new(struct chat_queue **out, struct ev_loop *loop, struct db_pool *pool,
                   const struct conf *conf, struct cl_err *err)
{
    struct chat_queue *q = cl_calloc(1, sizeof(*q));

    q->loop = loop;
    q->pool = pool;
    q->conf = conf;
    ev_init(&q->tick, cq_on_tick);
    ev_timer_init(&q->gauge, cq_on_gauge, 0.5, CQ_GAUGE_EVERY);
    ev_timer_start(loop, &q->gauge);
    if (conf->chat.n == 0) {
        log_info("event=chat_disabled reason=\"no [chat.NAME] channel: messages stay queued\"");
    } else if (cq_enable(q, err) != CL_OK) {
        chat_queue_free(q);
        return err->code;
    }
    *out = q;
    return CL_OK;
}

int chat_queue_reload(struct chat_queue *q, struct cl_err *err)
{
    if (q->conf->chat.n > 0 && !q->enabled)
        return cq_enable(q, err);
    if (q->conf->chat.n == 0 && q->enabled) {
        q->enabled = false; /* posts in flight finish; nothing more is claimed */
        ev_timer_stop(q->loop, &q->tick);
        log_info("event=chat_disabled reason=\"no [chat.NAME] channel: messages stay queued\"");
    }
    if (q->enabled)
        cq_kick(q); /* rows that waited for a channel just added */
    return CL_OK;
}

void chat_queue_free(struct chat_queue *q)
{
    if (q == NULL)
        return;
    while (q->jobs != NULL)
        cq_job_free(q->jobs);
    ev_timer_stop(q->loop, &q->tick);
    ev_timer_stop(q->loop, &q->gauge);
    db_query_cancel(q->claim_q);
    db_query_cancel(q->gauge_q);
    db_listener_free(q->listener);
    http_client_free(q->http);
    free(q);
}

void chat_queue_stats(const struct chat_queue *q, struct chat_queue_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (q == NULL)
        return;
    out->enabled = q->enabled;
    out->sent = q->sent;
    out->failed = q->failed;
    out->retried = q->retried;
    out->in_flight = q->in_flight;
    out->queued = q->queued;
}

void chat_queue_metrics(const struct chat_queue *q, struct buf *out)
{
    struct chat_queue_stats st;

    chat_queue_stats(q, &st);
    buf_printf(out,
               "# HELP closeloop_chat_sent_total Chat messages a webhook accepted (this "
               "instance).\n# TYPE closeloop_chat_sent_total counter\n"
               "closeloop_chat_sent_total %lu\n"
               "# HELP closeloop_chat_failed_total Chat messages marked failed: a 4xx reply, "
               "no such channel, a payload that does not render, or attempts used up (this "
               "instance).\n# TYPE closeloop_chat_failed_total counter\n"
               "closeloop_chat_failed_total %lu\n"
               "# HELP closeloop_chat_queued Chat messages waiting to be posted, every "
               "instance's (read every 5 s).\n# TYPE closeloop_chat_queued gauge\n"
               "closeloop_chat_queued %ld\n",
               st.sent, st.failed, st.queued);
}
