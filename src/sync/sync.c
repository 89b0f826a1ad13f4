#include "closeloop/sync/sync.h"

#include "closeloop/sync/github.h"
#include "closeloop/util/http.h"
#include "closeloop/util/log.h"
#include "closeloop/sync/provider.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_LEASE       60.0 /* seconds a claim is ours at least; a crashed worker's expires */
#define SYNC_TICK        1.0  /* fallback wake-up: retries, other instances' leftovers */
#define SYNC_INBOX_BATCH "50"
#define SYNC_BACKOFF_MAX 300.0
#define SYNC_GAUGE_EVERY 5.0
#define SYNC_PRUNE_EVERY 60.0
#define SYNC_PRUNE_BATCH 5000

struct sync_conn {
    struct sync *s;
    const struct conf_github *cfg;
    const struct provider_ops *ops;
    void *prov;
    /* outbox worker */
    bool ob_busy;
    bool ob_again;
    json_t *job; /* the claimed job, owned */
    struct db_query *ob_q;
    ev_timer ob_timer;
    /* reconciler */
    bool poll_busy;
    char *poll_repo;
    struct db_query *poll_q;
    ev_timer poll_timer;
    /* counters */
    unsigned long jobs[PROVIDER_AUTH + 1];
    unsigned long polls;
    unsigned long polls_not_modified;
};

struct sync {
    struct ev_loop *loop;
    struct db_pool *pool;
    const struct conf *conf;
    struct http_client *http;
    struct db_listener *listener;
    struct sync_conn conns[CONF_MAX_GITHUB];
    int nconns;
    char *routes;
    char *names; /* "{a,b}": the configured connections */
    /* inbox worker */
    bool ib_busy;
    bool ib_again;
    json_t *ib_rows; /* claimed deliveries, owned */
    size_t ib_next;
    struct db_query *ib_q;
    ev_timer ib_timer;
    unsigned long inbox_done;
    unsigned long inbox_bad;
    /* inbox retention */
    ev_timer prune_timer;
    struct db_query *prune_q;
    unsigned long inbox_pruned;
    /* gauges read from PostgreSQL */
    ev_timer gauge_timer;
    struct db_query *gauge_q;
    long outbox_pending;
    long outbox_failed;
    long inbox_pending;
    double oldest_poll_age;
};

struct sync_call {
    struct sync *s;
    struct sync_conn *c;
    sync_result_fn fn;
    void *arg;
    bool cancelled;
    bool running;
    struct db_query *q;
    char *repo;
    char *label;
    char *incident;
    char *actor;
    int requests;
};

static void ob_kick(struct sync_conn *c);
static void ib_kick(struct sync *s);
static void ib_next(struct sync *s);
static void poll_tick(struct sync_conn *c);

/* Long enough for a whole job (token, spacing, a few requests at `timeout` each): a
 * claim must not expire under a live worker, or another could repeat its create. */
static double sync_lease(const struct sync_conn *c)
{
    double lease = 3.0 * c->cfg->timeout + 3.0 * c->cfg->write_interval + 30.0;

    return lease > SYNC_LEASE ? lease : SYNC_LEASE;
}

static double sync_jitter(double seconds)
{
    return seconds * (0.75 + 0.5 * (double)rand() / RAND_MAX);
}

static char *sync_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL)
        abort(); /* jansson fails only when out of memory */
    return s;
}

static struct sync_conn *sync_conn_named(struct sync *s, const char *tracker, const char *name)
{
    int i;

    for (i = 0; i < s->nconns; i++)
        if (strcmp(s->conns[i].ops->tracker, tracker) == 0 &&
            strcmp(s->conns[i].cfg->name, name) == 0)
            return &s->conns[i];
    return NULL;
}

static struct sync_conn *sync_conn_for(struct sync *s, const char *repo)
{
    const struct conf_github *g = conf_github_for(s->conf, repo);

    return g != NULL ? sync_conn_named(s, "github", g->name) : NULL;
}

/* ---- outbox worker: one job at a time per connection ---- */

static const json_t *job_link(const struct sync_conn *c)
{
    return json_object_get(c->job, "link");
}

static json_int_t job_link_id(const struct sync_conn *c)
{
    return json_integer_value(json_object_get(job_link(c), "id"));
}

static char *job_outbox_ids(const struct sync_conn *c)
{
    struct buf b;
    size_t i;
    json_t *v;

    buf_init(&b);
    buf_puts(&b, "{");
    json_array_foreach (json_object_get(c->job, "outbox"), i, v) {
        buf_printf(&b, "%s%" JSON_INTEGER_FORMAT, i > 0 ? "," : "", json_integer_value(v));
    }
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

static void ob_finish(struct sync_conn *c)
{
    json_decref(c->job);
    c->job = NULL;
    c->ob_busy = false;
    ob_kick(c); /* there may be more; an empty claim ends it */
}

static void ob_on_recorded(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;

    c->ob_q = NULL;
    if (r->code != CL_OK)
        log_error("event=sync_record_failed connection=%s error=\"%s\"", c->cfg->name, r->message);
    ob_finish(c);
}

/* Records a job's end: the SQL is one of the cl_outbox_* / cl_link_* calls. */
static void ob_record(struct sync_conn *c, const char *sql, int n, const char *const *params)
{
    c->ob_q = db_query(c->s->pool, sql, n, params, ob_on_recorded, c);
}

static void ob_failed(struct sync_conn *c, const struct provider_result *r)
{
    char *ids = job_outbox_ids(c);
    char link[32];
    char delay[32];
    json_int_t attempts = json_integer_value(json_object_get(c->job, "attempts"));
    double backoff = attempts < 9 ? (double)(1 << attempts) : SYNC_BACKOFF_MAX;

    c->jobs[r->outcome]++;
    snprintf(link, sizeof(link), "%" JSON_INTEGER_FORMAT, job_link_id(c));
    if (backoff > SYNC_BACKOFF_MAX)
        backoff = SYNC_BACKOFF_MAX;
    snprintf(delay, sizeof(delay), "%.3f",
             r->retry_after > 0 ? r->retry_after + sync_jitter(1.0) : sync_jitter(backoff));
    log_warn("event=sync_push_failed connection=%s link=%s outcome=%d error=\"%s\"", c->cfg->name,
             link, (int)r->outcome, r->message);
    if (r->outcome == PROVIDER_REJECTED)
        ob_record(c, "SELECT cl_outbox_fail($1::bigint[], $2)", 2,
                  (const char *const[]){ids, r->message});
    else if (r->outcome == PROVIDER_GONE)
        ob_record(c, "SELECT cl_link_broken($1::bigint, $2)", 2,
                  (const char *const[]){link, r->message});
    else
        ob_record(c, "SELECT cl_outbox_retry($1::bigint[], $2, $3::float8)", 3,
                  (const char *const[]){ids, r->message, delay});
    free(ids);
}

/* The remote now holds `agreed`: record it as the base and close the job's rows. */
static void ob_pushed(struct sync_conn *c, const json_t *remote, const json_t *agreed)
{
    char *ids = job_outbox_ids(c);
    char *rtext = sync_dump(remote);
    char *atext = sync_dump(agreed);
    char link[32];

    c->jobs[PROVIDER_OK]++;
    snprintf(link, sizeof(link), "%" JSON_INTEGER_FORMAT, job_link_id(c));
    ob_record(c,
              "SELECT cl_link_pushed($1::bigint, $2::jsonb, $3::jsonb),"
              " cl_outbox_done($4::bigint[])",
              4, (const char *const[]){link, rtext, atext, ids});
    free(ids);
    free(rtext);
    free(atext);
}

static void ob_on_updated(const struct provider_result *r, void *arg)
{
    struct sync_conn *c = arg;
    json_t *local = json_object_get(c->job, "pushed_local");

    if (r->outcome != PROVIDER_OK) {
        ob_failed(c, r);
        return;
    }
    ob_pushed(c, r->remote, local);
}

static void ob_on_merged(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;
    json_t *res;
    json_t *local;
    struct provider_result fail = {.outcome = PROVIDER_RETRY};

    c->ob_q = NULL;
    if (r->code != CL_OK) {
        /* a constraint or our own validation will not pass on retry: fail it, visibly */
        if (strncmp(r->sqlstate, "23", 2) == 0 || strncmp(r->sqlstate, "CL4", 3) == 0)
            fail.outcome = PROVIDER_REJECTED;
        snprintf(fail.message, sizeof(fail.message), "merge failed: %s", r->message);
        ob_failed(c, &fail);
        return;
    }
    res = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    local = json_object_get(res, "local");
    if (!json_is_object(local))
        local = json_object_get(c->job, "action"); /* a stale fetch merges nothing */
    json_object_set(c->job, "pushed_local", local);
    json_decref(res);
    c->ops->update(c->prov, c->job, json_object_get(c->job, "pushed_local"),
                   json_object_get(c->job, "fetched"), ob_on_updated, c);
}

/* Merges a fetched remote (remote changes first), then pushes what closeloop holds. */
static void ob_merge(struct sync_conn *c, const json_t *remote)
{
    char link[32];
    char *rtext = sync_dump(remote);

    json_object_set(c->job, "fetched", (json_t *)remote);
    snprintf(link, sizeof(link), "%" JSON_INTEGER_FORMAT, job_link_id(c));
    c->ob_q = db_query(c->s->pool, "SELECT cl_sync_fetched($1::bigint, $2::jsonb, 'github')", 2,
                       (const char *const[]){link, rtext}, ob_on_merged, c);
    free(rtext);
}

static void ob_on_fetched(const struct provider_result *r, void *arg)
{
    struct sync_conn *c = arg;

    if (r->outcome != PROVIDER_OK) {
        ob_failed(c, r);
        return;
    }
    ob_merge(c, r->remote);
}

static void ob_on_created(const struct provider_result *r, void *arg)
{
    struct sync_conn *c = arg;

    if (r->outcome != PROVIDER_OK) {
        ob_failed(c, r);
        return;
    }
    log_info("event=sync_created connection=%s action=%" JSON_INTEGER_FORMAT " url=\"%s\"",
             c->cfg->name,
             json_integer_value(json_object_get(json_object_get(c->job, "action"), "id")),
             json_string_value(json_object_get(r->remote, "url")));
    ob_pushed(c, r->remote, json_object_get(c->job, "action"));
}

static void ob_on_creating(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;
    struct provider_result fail = {.outcome = PROVIDER_RETRY};

    c->ob_q = NULL;
    if (r->code != CL_OK) {
        snprintf(fail.message, sizeof(fail.message), "%s", r->message);
        ob_failed(c, &fail);
        return;
    }
    /* "creating" is committed before the request: after a crash the marker is looked for */
    c->ops->create(c->prov, c->job, ob_on_created, c);
}

static void ob_create(struct sync_conn *c)
{
    char link[32];

    snprintf(link, sizeof(link), "%" JSON_INTEGER_FORMAT, job_link_id(c));
    c->ob_q = db_query(c->s->pool, "SELECT cl_link_creating($1::bigint)", 1,
                       (const char *const[]){link}, ob_on_creating, c);
}

static void ob_on_marker(const struct provider_result *r, void *arg)
{
    struct sync_conn *c = arg;

    if (r->outcome != PROVIDER_OK) {
        ob_failed(c, r);
        return;
    }
    if (r->remote == NULL) {
        ob_create(c); /* the earlier attempt never reached GitHub */
        return;
    }
    log_info("event=sync_marker_found connection=%s url=\"%s\"", c->cfg->name,
             json_string_value(json_object_get(r->remote, "url")));
    ob_merge(c, r->remote);
}

static void ob_start(struct sync_conn *c)
{
    const json_t *link = job_link(c);
    const char *state = json_string_value(json_object_get(link, "state"));
    bool has_remote =
        !json_is_null(json_object_get(link, "number")) && json_object_get(link, "number") != NULL;

    if (strcmp(state, "creating") == 0)
        c->ops->find_marker(c->prov, c->job, ob_on_marker, c);
    else if (!has_remote)
        ob_create(c);
    else
        c->ops->fetch(c->prov, c->job, ob_on_fetched, c);
}

static void ob_on_claim(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;

    c->ob_q = NULL;
    if (r->code != CL_OK || PQgetisnull(r->res, 0, 0)) {
        if (r->code != CL_OK)
            log_warn("event=sync_claim_failed connection=%s error=\"%s\"", c->cfg->name,
                     r->message);
        c->ob_busy = false;
        if (c->ob_again && r->code == CL_OK) {
            c->ob_again = false;
            ob_kick(c);
        }
        return;
    }
    c->job = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    if (c->job == NULL) {
        c->ob_busy = false;
        return;
    }
    ob_start(c);
}

static void ob_kick(struct sync_conn *c)
{
    char lease[16];

    if (c->ob_busy) {
        c->ob_again = true;
        return;
    }
    c->ob_busy = true;
    c->ob_again = false;
    snprintf(lease, sizeof(lease), "%.0f", sync_lease(c));
    c->ob_q = db_query(c->s->pool, "SELECT cl_outbox_claim($1, $2, $3::float8)", 3,
                       (const char *const[]){c->ops->tracker, c->cfg->name, lease}, ob_on_claim, c);
}

static void ob_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ob_kick(container_of(w, struct sync_conn, ob_timer));
}

/* ---- inbox worker ---- */

static void ib_on_applied(const struct db_reply *r, void *arg)
{
    struct sync *s = arg;

    s->ib_q = NULL;
    if (r->code != CL_OK) {
        const char *id =
            json_string_value(json_object_get(json_array_get(s->ib_rows, s->ib_next), "id"));

        log_error("event=inbox_apply_failed delivery_row=%s error=\"%s\"", id, r->message);
        /* recorded for sync status; after five attempts it stays as a dead letter */
        db_query(s->pool, "SELECT cl_inbox_failed($1::bigint, $2)", 2,
                 (const char *const[]){id, r->message}, NULL, NULL);
    } else {
        s->inbox_done++;
    }
    s->ib_next++;
    ib_next(s);
}

static const char *const hook_kinds[] = {"ignore", "ping", "apply", "moved", "deleted"};

/* Parses one delivery and applies it with cl_inbox_apply (which marks it processed). */
static void ib_apply(struct sync *s, const json_t *row)
{
    struct cl_err err = CL_ERR_INIT;
    struct provider_hook hook = {0};
    const char *payload = json_string_value(json_object_get(row, "payload"));
    struct sync_conn *c = sync_conn_named(s, json_string_value(json_object_get(row, "tracker")),
                                          json_string_value(json_object_get(row, "connection")));
    char *remote = NULL;
    int rc = c != NULL
                 ? c->ops->parse_hook(c->prov, json_string_value(json_object_get(row, "event")),
                                      payload, strlen(payload), &hook, &err)
                 : cl_fail(&err, CL_EINVAL, "connection is no longer configured");

    if (rc != CL_OK) {
        s->inbox_bad++;
        hook.kind = PROVIDER_HOOK_IGNORE;
    }
    if (hook.remote != NULL)
        remote = sync_dump(hook.remote);
    s->ib_q = db_query(
        s->pool, "SELECT cl_inbox_apply($1::bigint, $2, $3::jsonb, $4, $5, $6, $7::timestamptz)", 7,
        (const char *const[]){json_string_value(json_object_get(row, "id")), hook_kinds[hook.kind],
                              remote, hook.old_id[0] != '\0' ? hook.old_id : NULL,
                              hook.actor[0] != '\0' ? hook.actor : "github",
                              rc != CL_OK ? err.msg : NULL,
                              hook.updated_at[0] != '\0' ? hook.updated_at : NULL},
        ib_on_applied, s);
    json_decref(hook.remote);
    free(remote);
}

static void ib_next(struct sync *s)
{
    size_t n = json_array_size(s->ib_rows);

    if (s->ib_next < n) {
        ib_apply(s, json_array_get(s->ib_rows, s->ib_next));
        return;
    }
    json_decref(s->ib_rows);
    s->ib_rows = NULL;
    s->ib_busy = false;
    if (s->ib_again || n > 0) {
        s->ib_again = false;
        ib_kick(s);
    }
}

static void ib_on_claim(const struct db_reply *r, void *arg)
{
    struct sync *s = arg;
    int i;

    s->ib_q = NULL;
    if (r->code != CL_OK) {
        log_warn("event=inbox_claim_failed error=\"%s\"", r->message);
        s->ib_busy = false;
        return;
    }
    s->ib_rows = json_array();
    for (i = 0; i < PQntuples(r->res); i++)
        json_array_append_new(s->ib_rows,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", PQgetvalue(r->res, i, 0),
                                        "tracker", PQgetvalue(r->res, i, 1), "connection",
                                        PQgetvalue(r->res, i, 2), "event", PQgetvalue(r->res, i, 3),
                                        "payload", PQgetvalue(r->res, i, 4)));
    s->ib_next = 0;
    ib_next(s);
}

static void ib_kick(struct sync *s)
{
    char lease[16];

    if (s->ib_busy) {
        s->ib_again = true;
        return;
    }
    s->ib_busy = true;
    snprintf(lease, sizeof(lease), "%.0f", SYNC_LEASE);
    s->ib_q = db_query(s->pool, "SELECT * FROM cl_inbox_claim(" SYNC_INBOX_BATCH ", $1::float8)", 1,
                       (const char *const[]){lease}, ib_on_claim, s);
}

void sync_inbox_kick(struct sync *s)
{
    ib_kick(s);
}

static void ib_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ib_kick(container_of(w, struct sync, ib_timer));
}

/* ---- inbox retention ---- */

static void prune_start(struct sync *s);

static void prune_on_result(const struct db_reply *r, void *arg)
{
    struct sync *s = arg;
    long n = 0;

    s->prune_q = NULL;
    if (r->code != CL_OK) {
        log_warn("event=inbox_prune_failed error=\"%s\"", r->message);
        return;
    }
    cl_parse_long(&n, PQgetvalue(r->res, 0, 0), 0, __LONG_MAX__);
    s->inbox_pruned += (unsigned long)n;
    if (n > 0)
        log_info("event=inbox_pruned rows=%ld", n);
    if (n == SYNC_PRUNE_BATCH)
        prune_start(s); /* more to go: batch after batch, one statement at a time */
}

/* Deletes one batch of deliveries past inbox_retention. */
static void prune_start(struct sync *s)
{
    char keep[32];
    char batch[16];

    snprintf(keep, sizeof(keep), "%.0f", s->conf->inbox_retention);
    snprintf(batch, sizeof(batch), "%d", SYNC_PRUNE_BATCH);
    s->prune_q = db_query(s->pool, "SELECT cl_inbox_prune($1::float8, $2::int)", 2,
                          (const char *const[]){keep, batch}, prune_on_result, s);
}

static void prune_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sync *s = container_of(w, struct sync, prune_timer);

    (void)loop;
    (void)revents;
    if (s->prune_q == NULL)
        prune_start(s);
}

/* ---- reconciler: one repository at a time per connection ---- */

static void poll_on_recorded(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;

    c->poll_q = NULL;
    if (r->code != CL_OK)
        log_error("event=reconcile_record_failed connection=%s repo=%s error=\"%s\"", c->cfg->name,
                  c->poll_repo, r->message);
    free(c->poll_repo);
    c->poll_repo = NULL;
    c->poll_busy = false;
    if (r->code == CL_OK)
        poll_tick(c); /* another repository may be due */
}

static void poll_on_list(const struct provider_result *r, void *arg)
{
    struct sync_conn *c = arg;
    char *remotes = r->outcome == PROVIDER_OK && r->remotes != NULL ? sync_dump(r->remotes) : NULL;
    char requests[16];
    char interval[32];
    double wait = c->cfg->poll_interval;

    c->polls++;
    c->polls_not_modified += r->not_modified;
    if (r->outcome != PROVIDER_OK && r->retry_after > wait)
        wait = r->retry_after;
    snprintf(requests, sizeof(requests), "%d", r->requests);
    snprintf(interval, sizeof(interval), "%.3f", wait);
    if (r->outcome != PROVIDER_OK)
        log_warn("event=reconcile_failed connection=%s repo=%s error=\"%s\"", c->cfg->name,
                 c->poll_repo, r->message);
    c->poll_q = db_query(
        c->s->pool,
        "SELECT cl_repo_polled($1, $2, $3, $4::jsonb, $5, $6::boolean, $7, $8::int, $9::float8,"
        " $10::timestamptz)",
        10,
        (const char *const[]){c->ops->tracker, c->cfg->name, c->poll_repo, remotes, r->etag,
                              r->not_modified ? "true" : "false",
                              r->outcome == PROVIDER_OK ? NULL : r->message, requests, interval,
                              r->listed_at},
        poll_on_recorded, c);
    free(remotes);
}

static void poll_on_claim(const struct db_reply *r, void *arg)
{
    struct sync_conn *c = arg;

    c->poll_q = NULL;
    if (r->code != CL_OK || PQntuples(r->res) == 0) {
        c->poll_busy = false;
        return;
    }
    c->poll_repo = cl_strdup(PQgetvalue(r->res, 0, 0));
    c->ops->list_since(
        c->prov, c->poll_repo, PQgetisnull(r->res, 0, 1) ? NULL : PQgetvalue(r->res, 0, 1),
        PQgetisnull(r->res, 0, 2) ? NULL : PQgetvalue(r->res, 0, 2), poll_on_list, c);
}

static void poll_tick(struct sync_conn *c)
{
    char lease[16];

    if (c->poll_busy)
        return;
    c->poll_busy = true;
    snprintf(lease, sizeof(lease), "%.0f", sync_lease(c) * 4); /* listings span pages */
    c->poll_q =
        db_query(c->s->pool, "SELECT * FROM cl_repo_claim($1, $2, $3::float8)", 3,
                 (const char *const[]){c->ops->tracker, c->cfg->name, lease}, poll_on_claim, c);
}

static void poll_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    poll_tick(container_of(w, struct sync_conn, poll_timer));
}

/* ---- NOTIFY ---- */

static void sync_on_notify(const char *channel, const char *payload, void *arg)
{
    struct sync *s = arg;
    int i;

    (void)payload;
    for (i = 0; i < s->nconns; i++)
        ob_kick(&s->conns[i]);
    if (channel == NULL)
        ib_kick(s); /* reconnected: catch up on anything missed */
}

/* ---- import and doctor ---- */

static void call_free(struct sync_call *k)
{
    free(k->repo);
    free(k->label);
    free(k->incident);
    free(k->actor);
    free(k);
}

static void call_reply(struct sync_call *k, int status, const json_t *result, const char *msg)
{
    if (!k->cancelled)
        k->fn(status, result, msg, k->arg);
    call_free(k);
}

static int call_status(enum provider_outcome o)
{
    switch (o) {
    case PROVIDER_OK:
        return 200;
    case PROVIDER_GONE:
        return 404;
    case PROVIDER_AUTH:
    case PROVIDER_REJECTED:
        return 502;
    default:
        return 503;
    }
}

static void import_on_sql(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;
    json_t *res;

    k->q = NULL;
    if (r->code != CL_OK) {
        call_reply(k, strcmp(r->sqlstate, "CL422") == 0 ? 422 : 503, NULL, r->message);
        return;
    }
    res = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    json_object_set_new(res, "requests", json_integer(k->requests));
    call_reply(k, 200, res, NULL);
    json_decref(res);
}

static void import_on_list(const struct provider_result *r, void *arg)
{
    struct sync_call *k = arg;
    char *remotes;

    k->running = false;
    if (k->cancelled) {
        call_free(k);
        return;
    }
    if (r->outcome != PROVIDER_OK) {
        call_reply(k, call_status(r->outcome), NULL, r->message);
        return;
    }
    k->requests = r->requests;
    remotes = sync_dump(r->remotes);
    k->q = db_query(k->s->pool, "SELECT cl_sync_import('github', $1, $2, $3, $4::jsonb, $5)", 5,
                    (const char *const[]){k->c->cfg->name, k->repo, k->incident, remotes, k->actor},
                    import_on_sql, k);
    free(remotes);
}

static void import_on_incident(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;

    k->q = NULL;
    if (r->code != CL_OK || PQntuples(r->res) == 0) {
        call_reply(k, r->code != CL_OK ? 503 : 422, NULL,
                   r->code != CL_OK ? r->message : "unknown incident");
        return;
    }
    k->running = true;
    k->c->ops->list_labelled(k->c->prov, k->repo, k->label, import_on_list, k);
}

static struct sync_call *call_new(struct sync *s, const char *repo, sync_result_fn fn, void *arg)
{
    struct sync_call *k = cl_calloc(1, sizeof(*k));

    k->s = s;
    k->fn = fn;
    k->arg = arg;
    k->repo = cl_strdup(repo);
    k->c = sync_conn_for(s, repo);
    return k;
}

static void call_on_no_conn(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;
    char msg[300];

    (void)r;
    k->q = NULL;
    snprintf(msg, sizeof(msg), "no GitHub connection is configured for %s", k->repo);
    call_reply(k, 404, NULL, msg);
}

struct sync_call *sync_import(struct sync *s, const char *repo, const char *label,
                              const char *incident, const char *actor, sync_result_fn fn, void *arg)
{
    struct sync_call *k = call_new(s, repo, fn, arg);

    k->label = cl_strdup(label);
    k->incident = cl_strdup(incident);
    k->actor = cl_strdup(actor);
    /* even the "no connection" answer goes through the loop */
    k->q = db_query(s->pool, "SELECT id FROM incidents WHERE key = $1", 1,
                    (const char *const[]){incident},
                    k->c != NULL ? import_on_incident : call_on_no_conn, k);
    return k;
}

static void doctor_on_result(const struct provider_result *r, void *arg)
{
    struct sync_call *k = arg;

    k->running = false;
    if (r->outcome != PROVIDER_OK)
        call_reply(k, call_status(r->outcome), NULL, r->message);
    else
        call_reply(k, 200, r->remote, NULL);
}

static void doctor_start(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;

    (void)r;
    k->q = NULL;
    if (k->cancelled) {
        call_free(k);
        return;
    }
    k->running = true;
    k->c->ops->doctor(k->c->prov, k->repo, doctor_on_result, k);
}

struct sync_call *sync_doctor(struct sync *s, const char *repo, sync_result_fn fn, void *arg)
{
    struct sync_call *k = call_new(s, repo, fn, arg);

    k->q = db_query(s->pool, "SELECT 1", 0, NULL, k->c != NULL ? doctor_start : call_on_no_conn, k);
    return k;
}

void sync_call_cancel(struct sync_call *k)
{
    if (k == NULL)
        return;
    k->cancelled = true;
    if (k->running)
        return; /* the provider still calls back; call_* frees then */
    db_query_cancel(k->q);
    call_free(k);
}

/* ---- state for the API, /readyz and /metrics ---- */

json_t *sync_describe(struct sync *s)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; i < s->nconns; i++) {
        struct sync_conn *c = &s->conns[i];
        json_t *o = json_pack("{s:s, s:s}", "name", c->cfg->name, "tracker", c->ops->tracker);

        c->ops->describe(c->prov, o);
        json_array_append_new(arr, o);
    }
    return arr;
}

bool sync_healthy(struct sync *s, char *why, size_t n)
{
    int i;

    for (i = 0; i < s->nconns; i++) {
        if (!s->conns[i].ops->healthy(s->conns[i].prov)) {
            snprintf(why, n, "%s connection %s: credentials refused", s->conns[i].ops->tracker,
                     s->conns[i].cfg->name);
            return false;
        }
    }
    return true;
}

static void gauge_on_result(const struct db_reply *r, void *arg)
{
    struct sync *s = arg;

    s->gauge_q = NULL;
    if (r->code != CL_OK || PQntuples(r->res) != 1)
        return;
    cl_parse_long(&s->outbox_pending, PQgetvalue(r->res, 0, 0), 0, __LONG_MAX__);
    cl_parse_long(&s->outbox_failed, PQgetvalue(r->res, 0, 1), 0, __LONG_MAX__);
    cl_parse_long(&s->inbox_pending, PQgetvalue(r->res, 0, 2), 0, __LONG_MAX__);
    s->oldest_poll_age = strtod(PQgetvalue(r->res, 0, 3), NULL);
}

static void gauge_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sync *s = container_of(w, struct sync, gauge_timer);

    (void)loop;
    (void)revents;
    if (s->gauge_q != NULL)
        return;
    s->gauge_q = db_query(
        s->pool,
        "SELECT (SELECT count(*) FROM outbox WHERE done_at IS NULL AND failed_at IS NULL),"
        " (SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL),"
        " (SELECT count(*) FROM inbox WHERE processed_at IS NULL),"
        " coalesce((SELECT extract(epoch FROM max(now() - coalesce(last_success_at, created_at)))"
        "           FROM sync_repos), 0)",
        0, NULL, gauge_on_result, s);
}

void sync_metrics(struct sync *s, struct buf *out)
{
    static const char *const outcomes[] = {"ok", "retry", "limited", "rejected", "gone", "auth"};
    int i;
    int k;

    buf_puts(out, "# HELP closeloop_sync_jobs_total Outbox jobs by connection and outcome.\n"
                  "# TYPE closeloop_sync_jobs_total counter\n");
    for (i = 0; i < s->nconns; i++)
        for (k = 0; k <= PROVIDER_AUTH; k++)
            buf_printf(out, "closeloop_sync_jobs_total{connection=\"%s\",outcome=\"%s\"} %lu\n",
                       s->conns[i].cfg->name, outcomes[k], s->conns[i].jobs[k]);
    buf_puts(out, "# HELP closeloop_sync_polls_total Reconciliation listings (304 ones free).\n"
                  "# TYPE closeloop_sync_polls_total counter\n");
    for (i = 0; i < s->nconns; i++) {
        buf_printf(out, "closeloop_sync_polls_total{connection=\"%s\",result=\"changed\"} %lu\n",
                   s->conns[i].cfg->name, s->conns[i].polls - s->conns[i].polls_not_modified);
        buf_printf(out,
                   "closeloop_sync_polls_total{connection=\"%s\",result=\"not_modified\"} %lu\n",
                   s->conns[i].cfg->name, s->conns[i].polls_not_modified);
    }
    buf_puts(out, "# HELP closeloop_sync_connection_up 0 while a connection's credentials are "
                  "refused.\n# TYPE closeloop_sync_connection_up gauge\n");
    for (i = 0; i < s->nconns; i++)
        buf_printf(out, "closeloop_sync_connection_up{connection=\"%s\"} %d\n",
                   s->conns[i].cfg->name, s->conns[i].ops->healthy(s->conns[i].prov) ? 1 : 0);
    buf_printf(out,
               "# TYPE closeloop_sync_outbox_pending gauge\ncloseloop_sync_outbox_pending %ld\n"
               "# TYPE closeloop_sync_outbox_failed gauge\ncloseloop_sync_outbox_failed %ld\n"
               "# TYPE closeloop_sync_inbox_pending gauge\ncloseloop_sync_inbox_pending %ld\n"
               "# TYPE closeloop_sync_inbox_processed_total counter\n"
               "closeloop_sync_inbox_processed_total %lu\n"
               "# HELP closeloop_sync_inbox_pruned_total Processed deliveries deleted after "
               "inbox_retention.\n# TYPE closeloop_sync_inbox_pruned_total counter\n"
               "closeloop_sync_inbox_pruned_total %lu\n"
               "# HELP closeloop_sync_reconcile_age_seconds Age of the oldest successful "
               "reconciliation.\n# TYPE closeloop_sync_reconcile_age_seconds gauge\n"
               "closeloop_sync_reconcile_age_seconds %.0f\n",
               s->outbox_pending, s->outbox_failed, s->inbox_pending, s->inbox_done,
               s->inbox_pruned, s->oldest_poll_age);
}

/* ---- life cycle ---- */

/* Adds owner -> connection for each owner a connection lists (first listing wins). */
static void sync_routes_add(json_t *owners, const struct conf_github *g)
{
    const char *p = g->owners;

    while (conf_github_enabled(g) && *p != '\0') {
        size_t len;
        char *name;
        size_t k;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        name = cl_strndup(p, len);
        for (k = 0; name[k] != '\0'; k++)
            name[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
        if (len > 0 && json_object_get(owners, name) == NULL)
            json_object_set_new(owners, name, json_string(g->name));
        free(name);
        p += len;
    }
}

/* The same routing as conf_github_for(), as JSON for SQL: named connections first, then
 * the default's own owners; the default takes the rest only when it lists none. */
static char *sync_routes_json(const struct conf *conf)
{
    json_t *owners = json_object();
    json_t *root;
    char *text;
    int i;

    for (i = 1; i < conf->ngithub; i++)
        sync_routes_add(owners, &conf->github[i]);
    sync_routes_add(owners, &conf->github[0]);
    root = json_pack("{s:o, s:o}", "default",
                     conf_github_enabled(&conf->github[0]) && conf->github[0].owners[0] == '\0'
                         ? json_string(conf->github[0].name)
                         : json_null(),
                     "owners", owners);
    text = sync_dump(root);
    json_decref(root);
    return text;
}

static int sync_conn_start(struct sync *s, const struct conf_github *g, struct cl_err *err)
{
    struct sync_conn *c = &s->conns[s->nconns];
    struct github *gh = NULL;
    int rc = github_new(&gh, s->loop, s->http, g, err);

    if (rc != CL_OK)
        return rc;
    c->s = s;
    c->cfg = g;
    c->ops = &github_ops;
    c->prov = gh;
    ev_timer_init(&c->ob_timer, ob_on_timer, 0.05, SYNC_TICK);
    ev_timer_start(s->loop, &c->ob_timer);
    ev_timer_init(&c->poll_timer, poll_on_timer, 0.1, SYNC_TICK);
    ev_timer_start(s->loop, &c->poll_timer);
    s->nconns++;
    log_info("event=sync_connection connection=%s api=\"%s\" auth=%s", g->name, g->api_url,
             g->app_id[0] != '\0' ? "app" : "token");
    return CL_OK;
}

static char *sync_names_array(const struct sync *s)
{
    struct buf b;
    int i;

    buf_init(&b);
    buf_puts(&b, "{");
    for (i = 0; i < s->nconns; i++) /* names are [a-z0-9_-]: no quoting needed */
        buf_printf(&b, "%s%s", i > 0 ? "," : "", s->conns[i].cfg->name);
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

const char *sync_connection_names(const struct sync *s)
{
    return s->names;
}

int sync_new(struct sync **out, struct ev_loop *loop, struct db_pool *pool, const struct conf *conf,
             struct cl_err *err)
{
    static const char *const channels[] = {"closeloop_outbox", NULL};
    struct sync *s = cl_calloc(1, sizeof(*s));
    int rc = CL_OK;
    int i;

    s->loop = loop;
    s->pool = pool;
    s->conf = conf;
    s->http = http_client_new(loop, "closeloop/0.1 (+https://github.com/closeloop)");
    s->routes = sync_routes_json(conf);
    for (i = 0; rc == CL_OK && i < conf->ngithub; i++)
        if (conf_github_enabled(&conf->github[i]))
            rc = sync_conn_start(s, &conf->github[i], err);
    if (rc != CL_OK) {
        sync_free(s);
        return rc;
    }
    s->names = sync_names_array(s);
    s->listener = db_listener_new(loop, conf->database_url, channels, sync_on_notify, s);
    ev_timer_init(&s->ib_timer, ib_on_timer, 0.05, SYNC_TICK * 2);
    ev_timer_start(loop, &s->ib_timer);
    ev_timer_init(&s->gauge_timer, gauge_on_timer, 0.5, SYNC_GAUGE_EVERY);
    ev_timer_start(loop, &s->gauge_timer);
    ev_timer_init(&s->prune_timer, prune_on_timer, 5.0, SYNC_PRUNE_EVERY);
    ev_timer_start(loop, &s->prune_timer);
    *out = s;
    return CL_OK;
}

void sync_free(struct sync *s)
{
    int i;

    if (s == NULL)
        return;
    for (i = 0; i < s->nconns; i++) {
        struct sync_conn *c = &s->conns[i];

        ev_timer_stop(s->loop, &c->ob_timer);
        ev_timer_stop(s->loop, &c->poll_timer);
        db_query_cancel(c->ob_q);
        db_query_cancel(c->poll_q);
        c->ops->free(c->prov);
        json_decref(c->job);
        free(c->poll_repo);
    }
    ev_timer_stop(s->loop, &s->ib_timer);
    ev_timer_stop(s->loop, &s->gauge_timer);
    ev_timer_stop(s->loop, &s->prune_timer);
    db_query_cancel(s->prune_q);
    db_query_cancel(s->ib_q);
    db_query_cancel(s->gauge_q);
    json_decref(s->ib_rows);
    db_listener_free(s->listener);
    http_client_free(s->http);
    free(s->routes);
    free(s->names);
    free(s);
}

const char *sync_routes(const struct sync *s)
{
    return s->routes;
}

int sync_hook_parse(struct sync *s, const char *tracker, const char *connection, const char *event,
                    const char *body, size_t len, struct provider_hook *out, struct cl_err *err)
{
    struct sync_conn *c = sync_conn_named(s, tracker, connection);

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return cl_fail(err, CL_ENOTFOUND, "no %s connection %s", tracker, connection);
    return c->ops->parse_hook(c->prov, event, body, len, out, err);
}

int sync_hook_check(struct sync *s, const char *tracker, const char *connection,
                    const char *signature, const char *body, size_t len, const char **name)
{
    struct sync_conn *c = sync_conn_named(s, tracker, connection != NULL ? connection : tracker);

    if (c == NULL)
        return CL_ENOTFOUND;
    *name = c->cfg->name;
    if (c->cfg->webhook_secret[0] == '\0' || !c->ops->verify_hook(c->prov, signature, body, len))
        return CL_EAUTH;
    return CL_OK;
}
