#include "closeloop/review/scheduler.h"

#include "closeloop/util/batch.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULER_BATCH    100 /* incidents per pass at most: halved while passes time out */
#define SCHEDULER_DEBOUNCE 0.2 /* seconds from a NOTIFY to the pass: a batch of changes */

struct review_scheduler {
    struct ev_loop *loop;
    struct db_pool *pool;
    struct db_listener *listener;
    ev_timer tick; /* every interval */
    ev_timer soon; /* after a NOTIFY, or again after a full batch */
    struct db_query *q;
    char *policy;
    bool again; /* woken while a pass ran: pass once more when it ends */
    struct batch batch;
    unsigned long created;
    unsigned long moved;
};

static const char sql_pass[] = "SELECT cl_review_pass($1::jsonb, $2::integer)::text";

static void scheduler_pass(struct review_scheduler *s);

static void scheduler_wake(struct review_scheduler *s, double after)
{
    if (s->q != NULL) {
        s->again = true;
        return;
    }
    if (!ev_is_active(&s->soon)) {
        ev_timer_set(&s->soon, after, 0.0);
        ev_timer_start(s->loop, &s->soon);
    }
}

/* {"checked", "created", "moved", "backlog", "skipped"}: counts what it did; a full batch
 * means more is waiting. */
static void scheduler_on_pass(const struct db_reply *r, void *arg)
{
    struct review_scheduler *s = arg;
    json_t *o = NULL;
    json_int_t checked = 0;
    int size = s->batch.size;

    s->q = NULL;
    if (batch_after(&s->batch, r->code == CL_OK, r->sqlstate))
        log_info("event=review_batch from=%d to=%d", size, s->batch.size);
    if (r->code != CL_OK) {
        log_warn("event=review_pass_failed batch=%d error=\"%s\"", size, r->message);
        if (s->batch.size < size) /* timed out: a smaller batch at once */
            s->again = true;
        goto out;
    }
    o = PQntuples(r->res) == 1 ? json_loads(PQgetvalue(r->res, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(o)) {
        log_warn("event=review_pass_failed error=\"unexpected answer\"");
        goto out;
    }
    checked = json_integer_value(json_object_get(o, "checked"));
    s->created += (unsigned long)json_integer_value(json_object_get(o, "created"));
    s->moved += (unsigned long)json_integer_value(json_object_get(o, "moved"));
    if (json_integer_value(json_object_get(o, "created")) > 0 ||
        json_integer_value(json_object_get(o, "moved")) > 0 ||
        json_integer_value(json_object_get(o, "backlog")) > 0)
        log_info("event=review_pass checked=%lld created=%lld moved=%lld backlog=%lld",
                 (long long)checked, (long long)json_integer_value(json_object_get(o, "created")),
                 (long long)json_integer_value(json_object_get(o, "moved")),
                 (long long)json_integer_value(json_object_get(o, "backlog")));
out:
    json_decref(o);
    if (checked >= size || s->again) {
        s->again = false;
        scheduler_wake(s, 0.0);
    }
}

static void scheduler_pass(struct review_scheduler *s)
{
    char lim[16];
    const char *params[2] = {s->policy, batch_text(&s->batch, lim, sizeof(lim))};

    if (s->q != NULL) {
        s->again = true;
        return;
    }
    s->q = db_query(s->pool, sql_pass, 2, params, scheduler_on_pass, s);
}

static void scheduler_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    scheduler_pass(container_of(w, struct review_scheduler, tick));
}

static void scheduler_on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    scheduler_pass(container_of(w, struct review_scheduler, soon));
}

/* A NOTIFY closeloop_review, or (channel NULL) a reconnect: something may be waiting. */
static void scheduler_on_notify(const char *channel, const char *payload, void *arg)
{
    (void)channel;
    (void)payload;
    scheduler_wake(arg, SCHEDULER_DEBOUNCE);
}

struct review_scheduler *review_scheduler_new(struct ev_loop *loop, struct db_pool *pool,
                                              const char *dsn, double interval, const char *policy)
{
    static const char *const channels[] = {"closeloop_review", NULL};
    struct review_scheduler *s = cl_calloc(1, sizeof(*s));

    s->loop = loop;
    s->pool = pool;
    batch_init(&s->batch, SCHEDULER_BATCH);
    s->policy = cl_strdup(policy);
    ev_timer_init(&s->tick, scheduler_on_tick, 0.0, interval);
    ev_timer_start(loop, &s->tick);
    ev_timer_init(&s->soon, scheduler_on_soon, 0.0, 0.0);
    s->listener = db_listener_new(loop, dsn, db_pool_name(pool), channels, scheduler_on_notify, s);
    return s;
}

void review_scheduler_free(struct review_scheduler *s)
{
    if (s == NULL)
        return;
    ev_timer_stop(s->loop, &s->tick);
    ev_timer_stop(s->loop, &s->soon);
    db_listener_free(s->listener);
    db_query_cancel(s->q);
    free(s->policy);
    free(s);
}

void review_scheduler_set_policy(struct review_scheduler *s, const char *policy)
{
    free(s->policy);
    s->policy = cl_strdup(policy);
    scheduler_wake(s, 0.0);
}

void review_scheduler_metrics(const struct review_scheduler *s, struct buf *out)
{
    buf_printf(out,
               "# HELP closeloop_reviews_created_total Reviews this instance's scheduler created.\n"
               "# TYPE closeloop_reviews_created_total counter\n"
               "closeloop_reviews_created_total %lu\n"
               "# HELP closeloop_reviews_moved_total Reviews this instance's scheduler moved "
               "because the work moved past them.\n"
               "# TYPE closeloop_reviews_moved_total counter\n"
               "closeloop_reviews_moved_total %lu\n",
               s != NULL ? s->created : 0UL, s != NULL ? s->moved : 0UL);
}
