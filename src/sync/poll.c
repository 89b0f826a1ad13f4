#include "closeloop/sync/poll.h"

#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>

#define POLL_TICK 1.0

enum poll_state { POLL_IDLE, POLL_CLAIMING, POLL_LISTING, POLL_RECORDING };

static const char *const poll_state_names[] = {"idle", "claiming", "listing", "recording"};

struct poll {
    const struct worker_conn *c;
    enum poll_state state;
    char *scope; /* the scope being polled */
    struct db_query *q;
    ev_timer timer;
    unsigned long polls;
    unsigned long unchanged;
};

static void poll_tick(struct poll *p);

static void poll_set(struct poll *p, enum poll_state s)
{
    log_debug("event=poll_state connection=%s from=%s to=%s", p->c->cfg->name,
              poll_state_names[p->state], poll_state_names[s]);
    p->state = s;
}

static void poll_on_recorded(const struct db_reply *r, void *arg)
{
    struct poll *p = arg;

    p->q = NULL;
    if (r->code != CL_OK)
        log_error("event=reconcile_record_failed connection=%s scope=%s error=\"%s\"",
                  p->c->cfg->name, p->scope, r->message);
    free(p->scope);
    p->scope = NULL;
    poll_set(p, POLL_IDLE);
    if (r->code == CL_OK)
        poll_tick(p); /* another scope may be due */
}

static void poll_on_list(const struct provider_result *r, void *arg)
{
    struct poll *p = arg;
    bool ok = r->outcome == PROVIDER_OK;
    char *remotes = ok && r->remotes != NULL ? worker_dump(r->remotes) : NULL;
    char requests[16];
    char interval[32];
    char why[300];
    double wait = p->c->cfg->poll_interval;

    p->polls++;
    p->unchanged += r->not_modified;
    if (!ok && r->retry_after > wait)
        wait = r->retry_after;
    snprintf(requests, sizeof(requests), "%d", r->requests);
    snprintf(interval, sizeof(interval), "%.3f", wait);
    if (!ok)
        log_warn("event=reconcile_failed connection=%s scope=%s error=\"%s\"", p->c->cfg->name,
                 p->scope, log_quote(why, sizeof(why), r->message));
    poll_set(p, POLL_RECORDING);
    p->q = db_query(
        p->c->pool,
        "SELECT cl_scope_polled($1, $2, $3, $4::jsonb, $5, $6::boolean, $7, $8::int, $9::float8,"
        " $10::timestamptz, $11::timestamptz)",
        11,
        (const char *const[]){p->c->def->tracker, p->c->cfg->name, p->scope, remotes, r->poll_state,
                              r->not_modified ? "true" : "false", ok ? NULL : r->message, requests,
                              interval, r->listed_at, ok ? r->next_cursor : NULL},
        poll_on_recorded, p);
    free(remotes);
}

static void poll_on_claim(const struct db_reply *r, void *arg)
{
    struct poll *p = arg;

    p->q = NULL;
    if (r->code != CL_OK || PQntuples(r->res) == 0) {
        poll_set(p, POLL_IDLE);
        return;
    }
    p->scope = cl_strdup(PQgetvalue(r->res, 0, 0));
    poll_set(p, POLL_LISTING);
    p->c->def->ops->list_since(
        p->c->prov, p->scope, PQgetisnull(r->res, 0, 1) ? NULL : PQgetvalue(r->res, 0, 1),
        PQgetisnull(r->res, 0, 2) ? NULL : PQgetvalue(r->res, 0, 2), poll_on_list, p);
}

static void poll_tick(struct poll *p)
{
    char lease[16];

    if (p->state != POLL_IDLE)
        return;
    snprintf(lease, sizeof(lease), "%.0f", worker_lease(p->c->cfg) * 4); /* listings span pages */
    poll_set(p, POLL_CLAIMING);
    p->q = db_query(p->c->pool, "SELECT * FROM cl_scope_claim($1, $2, $3::float8)", 3,
                    (const char *const[]){p->c->def->tracker, p->c->cfg->name, lease},
                    poll_on_claim, p);
}

static void poll_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    poll_tick(container_of(w, struct poll, timer));
}

struct poll *poll_new(const struct worker_conn *conn)
{
    struct poll *p = cl_calloc(1, sizeof(*p));

    p->c = conn;
    ev_timer_init(&p->timer, poll_on_timer, 0.1, POLL_TICK);
    ev_timer_start(conn->loop, &p->timer);
    return p;
}

void poll_free(struct poll *p)
{
    if (p == NULL)
        return;
    ev_timer_stop(p->c->loop, &p->timer);
    db_query_cancel(p->q);
    free(p->scope);
    free(p);
}

unsigned long poll_count(const struct poll *p)
{
    return p->polls;
}

unsigned long poll_count_unchanged(const struct poll *p)
{
    return p->unchanged;
}
