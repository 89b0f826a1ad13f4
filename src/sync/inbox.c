#include "closeloop/sync/inbox.h"

#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IB_BATCH "50"
#define IB_TICK  2.0  /* fallback wake-up: other instances' leftovers, a database back */
#define IB_DEFER 0.35 /* look again this soon when a delivery waited for a push */

enum ib_state { IB_IDLE, IB_CLAIMING, IB_APPLYING };

static const char *const ib_state_names[] = {"idle", "claiming", "applying"};

/* One claimed delivery, copied out of the claim's result. */
struct ib_row {
    char *id;
    char *tracker;
    char *connection;
    char *event;
    char *payload;
};

struct inbox {
    struct ev_loop *loop;
    struct db_pool *pool;
    inbox_find_fn find;
    void *arg;
    enum ib_state state;
    bool again;
    struct ib_row *rows;
    int nrows;
    int next;
    struct db_query *q;
    ev_timer timer;
    bool deferred; /* a delivery of this batch waits for its issue's push */
    unsigned long applied;
    unsigned long unreadable;
};

static void ib_kick(struct inbox *ib);
static void ib_next(struct inbox *ib);

static void ib_set(struct inbox *ib, enum ib_state s)
{
    log_debug("event=inbox_state from=%s to=%s", ib_state_names[ib->state], ib_state_names[s]);
    ib->state = s;
}

static void ib_rows_free(struct inbox *ib)
{
    int i;

    for (i = 0; i < ib->nrows; i++) {
        free(ib->rows[i].id);
        free(ib->rows[i].tracker);
        free(ib->rows[i].connection);
        free(ib->rows[i].event);
        free(ib->rows[i].payload);
    }
    free(ib->rows);
    ib->rows = NULL;
    ib->nrows = 0;
    ib->next = 0;
}

/* The batch is over (or abandoned): look again at once when it was full or kicked. */
static void ib_done(struct inbox *ib, bool more)
{
    ib_rows_free(ib);
    ib_set(ib, IB_IDLE);
    if (ib->deferred) { /* the push it waits for is short: the next look is soon */
        ib->deferred = false;
        ev_timer_stop(ib->loop, &ib->timer);
        ev_timer_set(&ib->timer, IB_DEFER, IB_TICK);
        ev_timer_start(ib->loop, &ib->timer);
    }
    if (more || ib->again) {
        ib->again = false;
        ib_kick(ib);
    }
}

static void ib_on_applied(const struct db_reply *r, void *arg)
{
    struct inbox *ib = arg;
    const struct ib_row *row = &ib->rows[ib->next];

    ib->q = NULL;
    if (r->code == CL_EIO) { /* no try is used up: the rows are claimed again later */
        log_warn("event=inbox_db_lost left=%d", ib->nrows - ib->next);
        ib_rows_free(ib);
        ib_set(ib, IB_IDLE);
        return;
    }
    if (r->code != CL_OK) {
        log_error("event=inbox_apply_failed delivery_row=%s error=\"%s\"", row->id, r->message);
        /* counted as a try; after five the delivery stays as a dead letter */
        db_query(ib->pool, "SELECT cl_inbox_failed($1::bigint, $2)", 2,
                 (const char *const[]){row->id, r->message}, NULL, NULL);
    } else if (strstr(PQgetvalue(r->res, 0, 0), "\"deferred\"") != NULL) {
        ib->deferred = true; /* not applied yet: it waits for its issue's push */
    } else {
        ib->applied++;
    }
    ib->next++;
    ib_next(ib);
}

static const char *const hook_kinds[] = {"ignore", "ping", "apply", "moved", "deleted", "reread"};

/* Parses one delivery with its connection's provider and applies it. */
static void ib_apply(struct inbox *ib, const struct ib_row *row)
{
    struct cl_err err = CL_ERR_INIT;
    struct provider_hook hook;
    const struct worker_conn *c = ib->find(ib->arg, row->tracker, row->connection);
    char *remote = NULL;
    char *replaced = NULL;
    int rc;

    memset(&hook, 0, sizeof(hook));
    rc = c != NULL ? c->def->ops->parse_hook(c->prov, row->event, row->payload,
                                             strlen(row->payload), &hook, &err)
                   : cl_fail(&err, CL_EINVAL, "connection %s of %s is no longer configured",
                             row->connection, row->tracker);
    if (rc != CL_OK) {
        ib->unreadable++;
        hook.kind = PROVIDER_HOOK_IGNORE;
    }
    remote = hook.remote != NULL ? worker_dump(hook.remote) : NULL;
    replaced = hook.replaced != NULL ? worker_dump(hook.replaced) : NULL;
    ib->q = db_query(
        ib->pool,
        "SELECT cl_inbox_apply($1::bigint, $2, $3::jsonb, $4, $5, $6, $7::timestamptz, $8::jsonb)",
        8,
        (const char *const[]){
            row->id, hook_kinds[hook.kind], remote, hook.old_id[0] != '\0' ? hook.old_id : NULL,
            hook.actor[0] != '\0' ? hook.actor : row->tracker, rc != CL_OK ? err.msg : NULL,
            hook.updated_at[0] != '\0' ? hook.updated_at : NULL, replaced},
        ib_on_applied, ib);
    json_decref(hook.remote);
    json_decref(hook.replaced);
    free(remote);
    free(replaced);
}

static void ib_next(struct inbox *ib)
{
    if (ib->next < ib->nrows) {
        ib_apply(ib, &ib->rows[ib->next]);
        return;
    }
    ib_done(ib, ib->nrows > 0);
}

static void ib_on_claim(const struct db_reply *r, void *arg)
{
    struct inbox *ib = arg;
    int i;

    ib->q = NULL;
    if (r->code != CL_OK) {
        log_warn("event=inbox_claim_failed error=\"%s\"", r->message);
        ib_set(ib, IB_IDLE);
        return;
    }
    ib->nrows = PQntuples(r->res);
    ib->rows = cl_calloc((size_t)ib->nrows + 1, sizeof(*ib->rows));
    for (i = 0; i < ib->nrows; i++) {
        ib->rows[i].id = cl_strdup(PQgetvalue(r->res, i, 0));
        ib->rows[i].tracker = cl_strdup(PQgetvalue(r->res, i, 1));
        ib->rows[i].connection = cl_strdup(PQgetvalue(r->res, i, 2));
        ib->rows[i].event = cl_strdup(PQgetvalue(r->res, i, 3));
        ib->rows[i].payload = cl_strdup(PQgetvalue(r->res, i, 4));
    }
    ib_set(ib, IB_APPLYING);
    ib_next(ib);
}

static void ib_kick(struct inbox *ib)
{
    char lease[16];

    if (ib->state != IB_IDLE) {
        ib->again = true;
        return;
    }
    snprintf(lease, sizeof(lease), "%.0f", WORKER_LEASE);
    ib_set(ib, IB_CLAIMING);
    ib->q = db_query(ib->pool, "SELECT * FROM cl_inbox_claim(" IB_BATCH ", $1::float8)", 1,
                     (const char *const[]){lease}, ib_on_claim, ib);
}

static void ib_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ib_kick(container_of(w, struct inbox, timer));
}

struct inbox *inbox_new(struct ev_loop *loop, struct db_pool *pool, inbox_find_fn find, void *arg)
{
    struct inbox *ib = cl_calloc(1, sizeof(*ib));

    ib->loop = loop;
    ib->pool = pool;
    ib->find = find;
    ib->arg = arg;
    ev_timer_init(&ib->timer, ib_on_timer, 0.05, IB_TICK);
    ev_timer_start(loop, &ib->timer);
    return ib;
}

void inbox_free(struct inbox *ib)
{
    if (ib == NULL)
        return;
    ev_timer_stop(ib->loop, &ib->timer);
    db_query_cancel(ib->q);
    ib_rows_free(ib);
    free(ib);
}

void inbox_kick(struct inbox *ib)
{
    ib_kick(ib);
}

unsigned long inbox_applied(const struct inbox *ib)
{
    return ib->applied;
}

unsigned long inbox_unreadable(const struct inbox *ib)
{
    return ib->unreadable;
}
