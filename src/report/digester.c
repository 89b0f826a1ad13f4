#include "closeloop/report/digester.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DIGESTER_BATCH                                                                             \
    "4" /* pending rows claimed per statement: they stay locked until it commits, and it stays     \
           well inside the statement timeout */

struct digester {
    struct ev_loop *loop;
    struct db_pool *pool;
    ev_timer tick; /* every interval: plan, then claim */
    ev_timer soon; /* claim again at once after a claim that left some pending */
    struct db_query *q;
    char *policy;
    unsigned long queued;
};

static const char sql_plan[] = "SELECT cl_digest_plan($1::jsonb)::text";
static const char sql_claim[] = "SELECT cl_digest_claim($1::jsonb, " DIGESTER_BATCH ")::text";

static void digester_claim(struct digester *d);

/* The reply's one JSON object, or NULL (logged) when the statement failed or said
 * something else. New reference. */
static json_t *digester_answer(const struct db_reply *r, const char *what)
{
    json_t *o;

    if (r->code != CL_OK) {
        log_warn("event=digest_%s_failed error=\"%s\"", what, r->message);
        return NULL;
    }
    o = PQntuples(r->res) == 1 ? json_loads(PQgetvalue(r->res, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(o)) {
        log_warn("event=digest_%s_failed error=\"unexpected answer\"", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_int_t digester_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key)); /* 0 when missing */
}

/* {"recipients", "planned"}: whatever was planned, pending rows are claimed next (some may
 * be left from a worker that died). */
static void digester_on_plan(const struct db_reply *r, void *arg)
{
    struct digester *d = arg;
    json_t *o = digester_answer(r, "plan");

    d->q = NULL;
    if (o != NULL && digester_int(o, "planned") > 0)
        log_info("event=digest_plan planned=%lld", (long long)digester_int(o, "planned"));
    json_decref(o);
    digester_claim(d);
}

/* {"due", "claimed", "sent", "superseded", "failed"}: more due than claimed means more
 * rows are waiting (or held by another instance: the next claim skips them again). */
static void digester_on_claim(const struct db_reply *r, void *arg)
{
    struct digester *d = arg;
    json_t *o = digester_answer(r, "claim");
    json_int_t due;
    json_int_t claimed;

    d->q = NULL;
    if (o == NULL)
        return;
    due = digester_int(o, "due");
    claimed = digester_int(o, "claimed");
    d->queued += (unsigned long)digester_int(o, "sent");
    if (claimed > 0)
        log_info("event=digest_claim due=%lld queued=%lld superseded=%lld failed=%lld",
                 (long long)due, (long long)digester_int(o, "sent"),
                 (long long)digester_int(o, "superseded"), (long long)digester_int(o, "failed"));
    if (due > claimed && claimed > 0 && !ev_is_active(&d->soon)) {
        ev_timer_set(&d->soon, 0.0, 0.0);
        ev_timer_start(d->loop, &d->soon);
    }
    json_decref(o);
}

static void digester_plan(struct digester *d)
{
    const char *params[1] = {d->policy};

    if (d->q == NULL)
        d->q = db_query(d->pool, sql_plan, 1, params, digester_on_plan, d);
}

static void digester_claim(struct digester *d)
{
    const char *params[1] = {d->policy};

    if (d->q == NULL)
        d->q = db_query(d->pool, sql_claim, 1, params, digester_on_claim, d);
}

static void digester_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    digester_plan(container_of(w, struct digester, tick));
}

static void digester_on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    digester_claim(container_of(w, struct digester, soon));
}

struct digester *digester_new(struct ev_loop *loop, struct db_pool *pool, double interval,
                              const char *policy)
{
    struct digester *d = cl_calloc(1, sizeof(*d));

    d->loop = loop;
    d->pool = pool;
    d->policy = cl_strdup(policy);
    ev_timer_init(&d->tick, digester_on_tick, 0.0, interval);
    ev_timer_start(loop, &d->tick);
    ev_timer_init(&d->soon, digester_on_soon, 0.0, 0.0);
    return d;
}

void digester_free(struct digester *d)
{
    if (d == NULL)
        return;
    ev_timer_stop(d->loop, &d->tick);
    ev_timer_stop(d->loop, &d->soon);
    db_query_cancel(d->q);
    free(d->policy);
    free(d);
}

void digester_set_policy(struct digester *d, const char *policy)
{
    free(d->policy);
    d->policy = cl_strdup(policy);
}

void digester_metrics(const struct digester *d, struct buf *out)
{
    buf_printf(out,
               "# HELP closeloop_digests_queued_total Digests this instance's digester queued.\n"
               "# TYPE closeloop_digests_queued_total counter\n"
               "closeloop_digests_queued_total %lu\n",
               d != NULL ? d->queued : 0UL);
}
