#include "closeloop/notify/reminder.h"

#include "closeloop/util/batch.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/log.h"

#include <jansson.h>
#include <stdlib.h>

#define REMINDER_BATCH 1000 /* people per pass at most: halved while passes time out */

struct reminder {
    struct ev_loop *loop;
    struct db_pool *pool;
    ev_timer tick; /* every interval */
    ev_timer soon; /* again at once after a full batch */
    struct db_query *q;
    char *policy;
    unsigned long sent;
    unsigned long items;
    struct batch batch;
};

static const char sql_pass[] = "SELECT cl_reminder_pass($1::jsonb, $2::integer)::text";

static void reminder_pass(struct reminder *r);

/* {"people", "items", "held", "comments"}: a full batch of people means more may be waiting. */
static void reminder_on_pass(const struct db_reply *rep, void *arg)
{
    struct reminder *r = arg;
    json_t *o = NULL;
    json_int_t people = 0;
    int size = r->batch.size;
    bool again = false;

    r->q = NULL;
    if (batch_after(&r->batch, rep->code == CL_OK, rep->sqlstate))
        log_info("event=reminder_batch from=%d to=%d", size, r->batch.size);
    if (rep->code != CL_OK) {
        log_warn("event=reminder_pass_failed batch=%d error=\"%s\"", size, rep->message);
        again = r->batch.size < size; /* timed out: a smaller batch at once */
        goto out;
    }
    o = PQntuples(rep->res) == 1 ? json_loads(PQgetvalue(rep->res, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "people")) ||
        !json_is_integer(json_object_get(o, "items"))) {
        log_warn("event=reminder_pass_failed error=\"unexpected answer\"");
        goto out;
    }
    people = json_integer_value(json_object_get(o, "people"));
    r->sent += (unsigned long)people;
    r->items += (unsigned long)json_integer_value(json_object_get(o, "items"));
    if (people > 0)
        log_info("event=reminder_pass people=%lld items=%lld comments=%lld held=%lld",
                 (long long)people, (long long)json_integer_value(json_object_get(o, "items")),
                 (long long)json_integer_value(json_object_get(o, "comments")),
                 (long long)json_integer_value(json_object_get(o, "held")));
out:
    json_decref(o);
    if ((again || people >= size) && !ev_is_active(&r->soon)) {
        ev_timer_set(&r->soon, 0.0, 0.0);
        ev_timer_start(r->loop, &r->soon);
    }
}

static void reminder_pass(struct reminder *r)
{
    char lim[16];
    const char *params[2] = {r->policy, batch_text(&r->batch, lim, sizeof(lim))};

    if (r->q == NULL)
        r->q = db_query(r->pool, sql_pass, 2, params, reminder_on_pass, r);
}

static void reminder_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    reminder_pass(container_of(w, struct reminder, tick));
}

static void reminder_on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    reminder_pass(container_of(w, struct reminder, soon));
}

struct reminder *reminder_new(struct ev_loop *loop, struct db_pool *pool, double interval,
                              const char *policy)
{
    struct reminder *r = cl_calloc(1, sizeof(*r));

    r->loop = loop;
    r->pool = pool;
    batch_init(&r->batch, REMINDER_BATCH);
    r->policy = cl_strdup(policy);
    ev_timer_init(&r->tick, reminder_on_tick, 0.0, interval);
    ev_timer_start(loop, &r->tick);
    ev_timer_init(&r->soon, reminder_on_soon, 0.0, 0.0);
    return r;
}

void reminder_free(struct reminder *r)
{
    if (r == NULL)
        return;
    ev_timer_stop(r->loop, &r->tick);
    ev_timer_stop(r->loop, &r->soon);
    db_query_cancel(r->q);
    free(r->policy);
    free(r);
}

void reminder_set_policy(struct reminder *r, const char *policy)
{
    free(r->policy);
    r->policy = cl_strdup(policy);
}

void reminder_metrics(const struct reminder *r, struct buf *out)
{
    buf_printf(out,
               "# HELP closeloop_reminders_sent_total Reminder messages this instance's passes "
               "queued (one per person and pass, all their due items).\n"
               "# TYPE closeloop_reminders_sent_total counter\n"
               "closeloop_reminders_sent_total %lu\n"
               "# HELP closeloop_reminder_items_total Actions those reminders listed.\n"
               "# TYPE closeloop_reminder_items_total counter\n"
               "closeloop_reminder_items_total %lu\n",
               r != NULL ? r->sent : 0UL, r != NULL ? r->items : 0UL);
}
