#include "closeloop/mail/queue.h"

#include "closeloop/mail/kinds.h"
#include "closeloop/mail/mime.h"
#include "closeloop/mail/smtp.h"
#include "closeloop/util/http.h"
#include "closeloop/util/log.h"
#include "closeloop/util/mailaddr.h"
#include "closeloop/util/version.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MQ_TICK         1.0  /* fallback wake-up: retries coming due, leftovers */
#define MQ_GAUGE_EVERY  5.0  /* seconds between two reads of the queued gauge */
#define MQ_LEASE_MARGIN 30.0 /* a claim outlives its send by this much */

enum mq_job_state { MQ_SENDING, MQ_RECORDING };

/* One claimed row, from its claim to its recorded outcome. */
struct mq_job {
    struct mail_queue *q;
    struct mq_job *prev;
    struct mq_job *next;
    enum mq_job_state state;
    bool failing; /* what is being recorded is a failure (counted by its outcome) */
    char id[24];
    struct smtp_send *send; /* owned while MQ_SENDING */
    struct db_query *rec;   /* owned while MQ_RECORDING */
};

struct mail_queue {
    struct ev_loop *loop;
    struct db_pool *pool;
    const struct conf *conf;
    struct http_client *http;
    struct db_listener *listener;
    struct smtp_opts smtp;
    char *from_name;
    char *from_addr;
    bool enabled;
    bool again; /* kicked while a claim was running */
    struct db_query *claim_q;
    struct db_query *gauge_q;
    struct db_query *domain_q;
    ev_timer tick;
    ev_timer gauge;
    struct mq_job *jobs;
    int in_flight;
    unsigned long sent;
    unsigned long failed;
    unsigned long retried;
    long queued;
};

static void mq_kick(struct mail_queue *q);

/* ---- jobs ---- */

static struct mq_job *mq_job_new(struct mail_queue *q, const char *id)
{
    struct mq_job *j = cl_calloc(1, sizeof(*j));

    j->q = q;
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->next = q->jobs;
    if (q->jobs != NULL)
        q->jobs->prev = j;
    q->jobs = j;
    q->in_flight++;
    return j;
}

/* Unlinks and frees the job; cancels what it still owns. */
static void mq_job_free(struct mq_job *j)
{
    struct mail_queue *q = j->q;

    smtp_cancel(j->send);
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

static void mq_on_recorded(const struct db_reply *r, void *arg)
{
    struct mq_job *j = arg;
    struct mail_queue *q = j->q;

    j->rec = NULL;
    /* Not recorded: the row keeps its lease and is sent again once it lapses. */
    if (r->code != CL_OK)
        log_error("event=mail_record_failed id=%s error=\"%s\"", j->id, r->message);
    else if (j->failing && PQntuples(r->res) == 1 &&
             strcmp(PQgetvalue(r->res, 0, 0), "failed") == 0)
        q->failed++;
    else if (j->failing && PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0))
        q->retried++;
    mq_job_free(j);
    mq_kick(q);
}

static void mq_record_sent(struct mq_job *j, long reply)
{
    char code[24];

    snprintf(code, sizeof(code), "%ld", reply > 0 ? reply : 250);
    j->q->sent++;
    j->state = MQ_RECORDING;
    j->rec = db_query(j->q->pool, "SELECT cl_mail_sent($1::bigint, $2::int)", 2,
                      (const char *const[]){j->id, code}, mq_on_recorded, j);
}

/* A failure: permanent ones are failed at once, others queued again after back-off. */
static void mq_record_failed(struct mq_job *j, long reply, const char *error, bool permanent)
{
    const struct conf *c = j->q->conf;
    char code[24];
    char base[32];
    char cap[32];
    char max[24];
    char why[300];

    snprintf(code, sizeof(code), "%ld", reply);
    snprintf(base, sizeof(base), "%g", c->smtp_retry_base);
    snprintf(cap, sizeof(cap), "%g", c->smtp_retry_max);
    snprintf(max, sizeof(max), "%ld", c->smtp_max_attempts);
    log_warn("event=mail_send_failed id=%s code=%ld permanent=%s error=\"%s\"", j->id, reply,
             permanent ? "true" : "false", log_quote(why, sizeof(why), error));
    j->state = MQ_RECORDING;
    j->failing = true;
    j->rec = db_query(j->q->pool,
                      "SELECT cl_mail_failed($1::bigint, $2::int, $3, $4::boolean, $5::float8,"
                      " $6::float8, $7::int)",
                      7,
                      (const char *const[]){j->id, reply > 0 ? code : NULL, error,
                                            permanent ? "true" : "false", base, cap, max},
                      mq_on_recorded, j);
}

static void mq_on_sent(const struct smtp_result *r, void *arg)
{
    struct mq_job *j = arg;

    j->send = NULL;
    if (r->outcome == SMTP_SENT) {
        log_info("event=mail_sent id=%s code=%ld seconds=%.3f", j->id, r->reply, r->seconds);
        mq_record_sent(j, r->reply);
    } else {
        mq_record_failed(j, r->reply, r->error, r->outcome == SMTP_PERMANENT);
    }
}

/* Renders and composes row `i` of a claim into *msg. */
static int mq_compose(char **msg, size_t *len, struct mail_queue *q, const PGresult *res, int i,
                      struct cl_err *err)
{
    const struct mail_kind *kind = mail_kind_find(PQgetvalue(res, i, 1));
    struct mail_parts parts = {0};
    struct mime_headers h;
    json_error_t jerr;
    json_t *payload = NULL;
    int rc;

    if (kind == NULL)
        return cl_fail(err, CL_EINVAL, "no mail kind \"%s\"", PQgetvalue(res, i, 1));
    payload = json_loads(PQgetvalue(res, i, 5), 0, &jerr);
    if (payload == NULL)
        return cl_fail(err, CL_EINVAL, "payload: %s", jerr.text);
    rc = kind->render(payload, &parts, err);
    if (rc == CL_OK) {
        h = (struct mime_headers){.from_addr = q->from_addr,
                                  .from_name = q->from_name,
                                  .to_addr = PQgetvalue(res, i, 2),
                                  .to_name = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
                                  .subject = PQgetvalue(res, i, 4),
                                  .message_id = PQgetvalue(res, i, 6),
                                  .date = time(NULL)};
        rc = mime_compose(msg, len, &h, &parts, err);
    }
    mime_parts_dispose(&parts);
    json_decref(payload);
    return rc;
}

static void mq_job_start(struct mail_queue *q, const PGresult *res, int i)
{
    struct mq_job *j = mq_job_new(q, PQgetvalue(res, i, 0));
    struct cl_err err = CL_ERR_INIT;
    char *msg = NULL;
    size_t len = 0;

    if (mq_compose(&msg, &len, q, res, i, &err) != CL_OK) {
        mq_record_failed(j, 0, err.msg, true); /* rendering again will not help */
        return;
    }
    j->state = MQ_SENDING;
    j->send =
        smtp_send(q->http, &q->smtp, q->from_addr, PQgetvalue(res, i, 2), msg, len, mq_on_sent, j);
    free(msg);
}

/* ---- claiming ---- */

static void mq_on_claim(const struct db_reply *r, void *arg)
{
    struct mail_queue *q = arg;
    bool again = q->again;
    int n = 0;
    int i;

    q->claim_q = NULL;
    q->again = false;
    if (r->code != CL_OK) {
        log_warn("event=mail_claim_failed error=\"%s\"", r->message);
        return; /* the tick tries again */
    }
    n = PQntuples(r->res);
    for (i = 0; i < n; i++)
        mq_job_start(q, r->res, i);
    if (again || n > 0)
        mq_kick(q); /* there may be more than this claim could take */
}

static void mq_kick(struct mail_queue *q)
{
    char lim[24];
    char lease[32];
    int room = (int)q->conf->smtp_concurrency - q->in_flight;

    if (!q->enabled)
        return;
    if (q->claim_q != NULL) {
        q->again = true;
        return;
    }
    if (room <= 0)
        return; /* a finishing job kicks again */
    snprintf(lim, sizeof(lim), "%d", room);
    snprintf(lease, sizeof(lease), "%.0f", q->conf->smtp_timeout + MQ_LEASE_MARGIN);
    q->claim_q = db_query(q->pool,
                          "SELECT id, kind, to_addr, to_name, subject, payload::text, message_id,"
                          " attempts FROM cl_mail_claim($1::int, $2::float8)",
                          2, (const char *const[]){lim, lease}, mq_on_claim, q);
}

static void mq_on_notify(const char *channel, const char *payload, void *arg)
{
    (void)channel; /* NULL after a reconnect: catch up as well */
    (void)payload;
    mq_kick(arg);
}

static void mq_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mq_kick(container_of(w, struct mail_queue, tick));
}

/* ---- the gauge ---- */

static void mq_on_gauge_reply(const struct db_reply *r, void *arg)
{
    struct mail_queue *q = arg;

    q->gauge_q = NULL;
    if (r->code == CL_OK && PQntuples(r->res) == 1)
        cl_parse_long(&q->queued, PQgetvalue(r->res, 0, 0), 0, 1L << 62);
}

static void mq_on_gauge(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mail_queue *q = container_of(w, struct mail_queue, gauge);

    (void)loop;
    (void)revents;
    if (q->gauge_q == NULL)
        q->gauge_q = db_query(q->pool, "SELECT cl_mail_pending()", 0, NULL, mq_on_gauge_reply, q);
}

static void mq_on_domain(const struct db_reply *r, void *arg)
{
    struct mail_queue *q = arg;

    q->domain_q = NULL;
    if (r->code != CL_OK)
        log_warn("event=mail_domain_failed error=\"%s\"", r->message);
}

/* ---- life cycle ---- */

static int mq_configure(struct mail_queue *q, const struct conf *c, struct cl_err *err)
{
    enum smtp_tls tls;
    int rc = mailaddr_parse(&q->from_name, &q->from_addr, c->smtp_from, err);

    if (rc != CL_OK)
        return rc;
    if (smtp_tls_parse(&tls, c->smtp_tls) != CL_OK)
        return cl_fail(err, CL_EINVAL, "smtp_tls must be none, try or required");
    q->smtp = (struct smtp_opts){.url = c->smtp_url,
                                 .username = c->smtp_username,
                                 .password = c->smtp_password,
                                 .tls = tls,
                                 .timeout = c->smtp_timeout};
    q->http = http_client_new(q->loop, "closeloop/" CL_VERSION);
    if (q->http == NULL)
        return cl_fail(err, CL_EIO, "libcurl could not initialise");
    return CL_OK;
}

static void mq_start(struct mail_queue *q)
{
    static const char *const channels[] = {"closeloop_mail", NULL};
    double tick = q->conf->smtp_retry_base < MQ_TICK ? q->conf->smtp_retry_base : MQ_TICK;

    q->enabled = true;
    q->listener = db_listener_new(q->loop, q->conf->database_url, db_pool_name(q->pool), channels,
                                  mq_on_notify, q);
    q->domain_q = db_query(q->pool, "SELECT cl_mail_set_sender($1)", 1,
                           (const char *const[]){q->from_addr}, mq_on_domain, q);
    ev_timer_init(&q->tick, mq_on_tick, 0.05, tick);
    ev_timer_start(q->loop, &q->tick);
    log_info("event=mail_started concurrency=%ld tls=%s", q->conf->smtp_concurrency,
             q->conf->smtp_tls);
}

int mail_queue_new(struct mail_queue **out, struct ev_loop *loop, struct db_pool *pool,
                   const struct conf *conf, struct cl_err *err)
{
    struct mail_queue *q = cl_calloc(1, sizeof(*q));

    q->loop = loop;
    q->pool = pool;
    q->conf = conf;
    ev_init(&q->tick, mq_on_tick);
    ev_timer_init(&q->gauge, mq_on_gauge, 0.5, MQ_GAUGE_EVERY);
    ev_timer_start(loop, &q->gauge);
    if (conf->smtp_url[0] == '\0') {
        log_info("event=mail_disabled reason=\"smtp_url is not set: messages stay queued\"");
    } else if (mq_configure(q, conf, err) != CL_OK) {
        mail_queue_free(q);
        return err->code;
    } else {
        mq_start(q);
    }
    *out = q;
    return CL_OK;
}

void mail_queue_free(struct mail_queue *q)
{
    if (q == NULL)
        return;
    while (q->jobs != NULL)
        mq_job_free(q->jobs);
    ev_timer_stop(q->loop, &q->tick);
    ev_timer_stop(q->loop, &q->gauge);
    db_query_cancel(q->claim_q);
    db_query_cancel(q->gauge_q);
    db_query_cancel(q->domain_q);
    db_listener_free(q->listener);
    http_client_free(q->http);
    free(q->from_name);
    free(q->from_addr);
    free(q);
}

void mail_queue_kick(struct mail_queue *q)
{
    mq_kick(q);
}

void mail_queue_stats(const struct mail_queue *q, struct mail_queue_stats *out)
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

void mail_queue_metrics(const struct mail_queue *q, struct buf *out)
{
    struct mail_queue_stats st;

    mail_queue_stats(q, &st);
    buf_printf(out,
               "# HELP closeloop_mail_sent_total Messages the SMTP server accepted (this "
               "instance).\n# TYPE closeloop_mail_sent_total counter\n"
               "closeloop_mail_sent_total %lu\n"
               "# HELP closeloop_mail_failed_total Messages marked failed: a 5xx reply, a "
               "payload that does not render, or attempts used up (this instance).\n"
               "# TYPE closeloop_mail_failed_total counter\ncloseloop_mail_failed_total %lu\n"
               "# HELP closeloop_mail_retries_total Transient send failures queued again "
               "with back-off (this instance).\n"
               "# TYPE closeloop_mail_retries_total counter\ncloseloop_mail_retries_total %lu\n"
               "# HELP closeloop_mail_queued Messages waiting to be sent, every instance's "
               "(read every 5 s).\n# TYPE closeloop_mail_queued gauge\n"
               "closeloop_mail_queued %ld\n"
               "# HELP closeloop_mail_enabled 1 when smtp_url is set.\n"
               "# TYPE closeloop_mail_enabled gauge\ncloseloop_mail_enabled %d\n",
               st.sent, st.failed, st.retried, st.queued, st.enabled ? 1 : 0);
}
