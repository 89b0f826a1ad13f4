#include "closeloop/report/digester.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DIGESTER_BATCH                                                                             \
    "2" /* recipients per pass: a digest costs 0.1-0.5 s of SQL at 100k actions, so a pass stays   \
           well inside the statement timeout */

struct digester {
    struct ev_loop *loop;
    struct db_pool *pool;
    ev_timer tick; /* every interval */
    ev_timer soon; /* again at once after a pass that left some due */
    struct db_query *q;
    char *policy;
    unsigned long queued;
};

static const char sql_pass[] = "SELECT cl_digest_pass($1::jsonb, " DIGESTER_BATCH ")::text";

static void digester_pass(struct digester *d);

/* {"recipients", "due", "sent"}: more due than sent means another batch is waiting. */
static void digester_on_pass(const struct db_reply *r, void *arg)
{
    struct digester *d = arg;
    json_t *o = NULL;
    json_int_t due;
    json_int_t sent;

    d->q = NULL;
    if (r->code != CL_OK) {
        log_warn("event=digest_pass_failed error=\"%s\"", r->message);
        return;
    }
    o = PQntuples(r->res) == 1 ? json_loads(PQgetvalue(r->res, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "due")) ||
        !json_is_integer(json_object_get(o, "sent"))) {
        log_warn("event=digest_pass_failed error=\"unexpected answer\"");
        json_decref(o);
        return;
    }
    due = json_integer_value(json_object_get(o, "due"));
    sent = json_integer_value(json_object_get(o, "sent"));
    d->queued += (unsigned long)sent;
    if (sent > 0)
        log_info("event=digest_pass due=%lld queued=%lld", (long long)due, (long long)sent);
    if (due > sent && sent > 0 && !ev_is_active(&d->soon)) {
        ev_timer_set(&d->soon, 0.0, 0.0);
        ev_timer_start(d->loop, &d->soon);
    }
    json_decref(o);
}

static void digester_pass(struct digester *d)
{
    const char *params[1] = {d->policy};

    if (d->q == NULL)
        d->q = db_query(d->pool, sql_pass, 1, params, digester_on_pass, d);
}

static void digester_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    digester_pass(container_of(w, struct digester, tick));
}

static void digester_on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    digester_pass(container_of(w, struct digester, soon));
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
