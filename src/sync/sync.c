#include "closeloop/sync/sync.h"

#include "closeloop/http/metrics.h"
#include "closeloop/sync/inbox.h"
#include "closeloop/sync/outbox.h"
#include "closeloop/sync/poll.h"
#include "closeloop/sync/registry.h"
#include "closeloop/util/http.h"
#include "closeloop/util/log.h"
#include "closeloop/util/version.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYNC_GAUGE_EVERY 5.0
#define SYNC_PRUNE_EVERY 60.0
#define SYNC_PRUNE_BATCH 5000

/* One running connection: the provider and its two workers. */
struct sync_conn {
    struct worker_conn w; /* what the workers see; w.cfg is the conf's connection */
    struct outbox *outbox;
    struct poll *poll;
};

struct sync {
    struct ev_loop *loop;
    struct db_pool *pool;
    const struct conf *conf;
    struct http_client *http;
    struct provider_env env;
    struct db_listener *listener;
    struct sync_conn conns[CONF_MAX_CONNS];
    int nconns;
    char *routes;
    char *names; /* "{a,b}": the running connections */
    struct inbox *inbox;
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
    bool running; /* the provider holds it: it calls back even when cancelled */
    struct db_query *q;
    char *tracker;
    char *scope;
    char *query;
    char *incident;
    char *actor;
    int requests;
};

/* ---- connections ---- */

static struct sync_conn *sync_conn_named(struct sync *s, const char *tracker, const char *name)
{
    int i;

    for (i = 0; tracker != NULL && name != NULL && i < s->nconns; i++)
        if (strcmp(s->conns[i].w.def->tracker, tracker) == 0 &&
            strcmp(s->conns[i].w.cfg->name, name) == 0)
            return &s->conns[i];
    return NULL;
}

static const struct worker_conn *sync_find(void *arg, const char *tracker, const char *name)
{
    struct sync_conn *c = sync_conn_named(arg, tracker, name);

    return c != NULL ? &c->w : NULL;
}

/* True when the comma list names the first n bytes of prefix (case-insensitive). */
static bool sync_listed(const char *list, const char *prefix, size_t n)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        if (len > 0 && len == n && strncasecmp(p, prefix, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* The connection serving scope: a named one whose scopes list its prefix (the part
 * before the first '/'), else the tracker's default one when it lists none or it. */
static struct sync_conn *sync_conn_for(struct sync *s, const char *tracker, const char *scope)
{
    size_t n = strcspn(scope, "/");
    struct sync_conn *def = NULL;
    int i;

    for (i = 0; i < s->nconns; i++) {
        struct sync_conn *c = &s->conns[i];

        if (strcmp(c->w.def->tracker, tracker) != 0)
            continue;
        if (strcmp(c->w.cfg->name, tracker) == 0)
            def = c;
        else if (sync_listed(c->w.cfg->scopes, scope, n))
            return c;
    }
    if (def != NULL && (def->w.cfg->scopes[0] == '\0' || sync_listed(def->w.cfg->scopes, scope, n)))
        return def;
    return NULL;
}

/* The same routing as sync_conn_for(), as JSON for SQL. */
static void sync_routes_add(json_t *routes, const struct sync_conn *c)
{
    const char *tracker = c->w.def->tracker;
    json_t *t = json_object_get(routes, tracker);
    const char *p = c->w.cfg->scopes;

    if (t == NULL) {
        t = json_pack("{s:s, s:n, s:{}}", "display", c->w.def->display, "default", "scopes");
        json_object_set_new(routes, tracker, t);
    }
    if (strcmp(c->w.cfg->name, tracker) == 0 && p[0] == '\0')
        json_object_set_new(t, "default", json_string(c->w.cfg->name));
    while (*p != '\0') {
        size_t len;
        char *name;
        size_t k;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        name = cl_strndup(p, len);
        for (k = 0; name[k] != '\0'; k++)
            name[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
        if (len > 0 && json_object_get(json_object_get(t, "scopes"), name) == NULL)
            json_object_set_new(json_object_get(t, "scopes"), name, json_string(c->w.cfg->name));
        free(name);
        p += len;
    }
}

static char *sync_routes_json(const struct sync *s)
{
    json_t *routes = json_object();
    char *text;
    int i;

    /* named connections first: their scopes win over the default's */
    for (i = 0; i < s->nconns; i++)
        if (strcmp(s->conns[i].w.cfg->name, s->conns[i].w.def->tracker) != 0)
            sync_routes_add(routes, &s->conns[i]);
    for (i = 0; i < s->nconns; i++)
        if (strcmp(s->conns[i].w.cfg->name, s->conns[i].w.def->tracker) == 0)
            sync_routes_add(routes, &s->conns[i]);
    text = worker_dump(routes);
    json_decref(routes);
    return text;
}

static char *sync_names_array(const struct sync *s)
{
    struct buf b;
    int i;

    buf_init(&b);
    buf_puts(&b, "{");
    for (i = 0; i < s->nconns; i++) /* names are [a-z0-9_-]: no quoting needed */
        buf_printf(&b, "%s%s", i > 0 ? "," : "", s->conns[i].w.cfg->name);
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

static int sync_conn_start(struct sync *s, const struct provider_def *def,
                           const struct conf_conn *cfg, struct cl_err *err)
{
    struct sync_conn *c = &s->conns[s->nconns];
    void *prov = NULL;
    int rc = def->start(&prov, &s->env, cfg, err);

    if (rc != CL_OK)
        return rc;
    c->w = (struct worker_conn){s->loop, s->pool, def, prov, cfg};
    c->outbox = outbox_new(&c->w);
    c->poll = poll_new(&c->w);
    s->nconns++;
    return CL_OK;
}

bool sync_wanted(const struct conf *conf)
{
    int i;

    for (i = 0; i < conf->nconns; i++) {
        const struct provider_def *def = registry_find(conf->conns[i].tracker->name);

        if (def != NULL && def->configured(&conf->conns[i]))
            return true;
    }
    return false;
}

/* ---- NOTIFY ---- */

static void sync_on_notify(const char *channel, const char *payload, void *arg)
{
    struct sync *s = arg;
    int i;

    (void)payload;
    for (i = 0; i < s->nconns; i++)
        outbox_kick(s->conns[i].outbox);
    if (channel == NULL)
        inbox_kick(s->inbox); /* reconnected: catch up on anything missed */
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

/* ---- import and doctor ---- */

static void call_free(struct sync_call *k)
{
    free(k->tracker);
    free(k->scope);
    free(k->query);
    free(k->incident);
    free(k->actor);
    free(k);
}

static void call_reply(struct sync_call *k, const struct sync_result *r)
{
    if (!k->cancelled)
        k->fn(r, k->arg);
    call_free(k);
}

static void call_fail(struct sync_call *k, int code, enum provider_outcome outcome,
                      const char *field, const char *message)
{
    struct sync_result r = {code, outcome, field, message, NULL};

    call_reply(k, &r);
}

/* A provider's failure as the call's. */
static void call_provider_failed(struct sync_call *k, const struct provider_result *r)
{
    call_fail(k, CL_EHTTP, r->outcome, NULL, r->message);
}

static void import_on_sql(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;
    struct sync_result ok = {.code = CL_OK};
    json_t *res;

    k->q = NULL;
    if (r->code != CL_OK) {
        if (strcmp(r->sqlstate, "CL422") == 0)
            call_fail(k, CL_EINVAL, PROVIDER_OK, r->column, r->message);
        else
            call_fail(k, CL_EDB, PROVIDER_OK, NULL, r->message);
        return;
    }
    res = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    json_object_set_new(res, "requests", json_integer(k->requests));
    ok.result = res;
    call_reply(k, &ok);
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
        call_provider_failed(k, r);
        return;
    }
    k->requests = r->requests;
    remotes = worker_dump(r->remotes != NULL ? r->remotes : json_array());
    k->q = db_query(k->s->pool, "SELECT cl_sync_import($1, $2, $3, $4, $5::jsonb, $6)", 6,
                    (const char *const[]){k->c->w.def->tracker, k->c->w.cfg->name, k->scope,
                                          k->incident, remotes, k->actor},
                    import_on_sql, k);
    free(remotes);
}

static void import_on_incident(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;

    k->q = NULL;
    if (r->code != CL_OK) {
        call_fail(k, CL_EDB, PROVIDER_OK, NULL, r->message);
        return;
    }
    if (PQntuples(r->res) == 0) {
        call_fail(k, CL_EINVAL, PROVIDER_OK, "incident", "unknown incident");
        return;
    }
    k->running = true;
    k->c->w.def->ops->list_import(k->c->w.prov, k->scope, k->query, import_on_list, k);
}

static struct sync_call *call_new(struct sync *s, const char *tracker, const char *scope,
                                  sync_result_fn fn, void *arg)
{
    struct sync_call *k = cl_calloc(1, sizeof(*k));

    k->s = s;
    k->fn = fn;
    k->arg = arg;
    k->scope = cl_strdup(scope);
    k->tracker = cl_strdup(tracker);
    k->c = sync_conn_for(s, tracker, scope);
    return k;
}

/* "No connection serves it", through the loop like every answer. */
static void call_on_no_conn(const struct db_reply *r, void *arg)
{
    struct sync_call *k = arg;
    char msg[300];

    (void)r;
    k->q = NULL;
    snprintf(msg, sizeof(msg), "no %s connection is configured for %s",
             registry_find(k->tracker) != NULL ? registry_find(k->tracker)->display : k->tracker,
             k->scope);
    call_fail(k, CL_ENOTFOUND, PROVIDER_OK, NULL, msg);
}

struct sync_call *sync_import(struct sync *s, const char *tracker, const char *scope,
                              const char *query, const char *incident, const char *actor,
                              sync_result_fn fn, void *arg)
{
    struct sync_call *k = call_new(s, tracker, scope, fn, arg);

    k->query = cl_strdup(query);
    k->incident = cl_strdup(incident);
    k->actor = cl_strdup(actor);
    k->q = db_query(s->pool, "SELECT id FROM incidents WHERE key = $1", 1,
                    (const char *const[]){incident},
                    k->c != NULL ? import_on_incident : call_on_no_conn, k);
    return k;
}

static void doctor_on_result(const struct provider_result *r, void *arg)
{
    struct sync_call *k = arg;
    struct sync_result ok = {.code = CL_OK};

    k->running = false;
    if (r->outcome != PROVIDER_OK) {
        call_provider_failed(k, r);
        return;
    }
    ok.result = r->remote;
    call_reply(k, &ok);
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
    k->c->w.def->ops->doctor(k->c->w.prov, k->scope, doctor_on_result, k);
}

struct sync_call *sync_doctor(struct sync *s, const char *tracker, const char *scope,
                              sync_result_fn fn, void *arg)
{
    struct sync_call *k = call_new(s, tracker, scope, fn, arg);

    /* a statement only to answer through the loop, never inside this call */
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

/* ---- webhooks ---- */

int sync_hook_read(struct sync *s, const char *tracker, const char *connection,
                   const struct provider_delivery *d, struct provider_hook *out, const char **name,
                   struct cl_err *err)
{
    struct sync_conn *c = sync_conn_named(s, tracker, connection != NULL ? connection : tracker);

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return cl_fail(err, CL_ENOTFOUND, "no such %s connection", tracker);
    *name = c->w.cfg->name;
    return c->w.def->ops->read_hook(c->w.prov, d, out, err);
}

void sync_inbox_kick(struct sync *s)
{
    inbox_kick(s->inbox);
}

/* ---- state for the API, /readyz and /metrics ---- */

json_t *sync_describe(struct sync *s)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; i < s->nconns; i++) {
        const struct sync_conn *c = &s->conns[i];
        json_t *o = json_pack("{s:s, s:s}", "name", c->w.cfg->name, "tracker", c->w.def->tracker);

        c->w.def->ops->describe(c->w.prov, o);
        json_array_append_new(arr, o);
    }
    return arr;
}

bool sync_healthy(struct sync *s, char *why, size_t n)
{
    int i;

    for (i = 0; i < s->nconns; i++) {
        const struct sync_conn *c = &s->conns[i];

        if (!c->w.def->ops->healthy(c->w.prov)) {
            snprintf(why, n, "%s connection %s: credentials refused", c->w.def->tracker,
                     c->w.cfg->name);
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
        " (SELECT count(*) FROM inbox WHERE processed_at IS NULL AND attempts < 5),"
        " coalesce((SELECT extract(epoch FROM max(now() - coalesce(last_success_at, created_at)))"
        "           FROM sync_scopes), 0)",
        0, NULL, gauge_on_result, s);
}

static void metric_conn(struct buf *out, const char *name, const struct sync_conn *c,
                        const char *more, unsigned long value)
{
    buf_printf(out, "%s{connection=\"", name);
    metrics_label(out, c->w.cfg->name);
    buf_printf(out, "\"%s} %lu\n", more, value);
}

static void sync_metrics_conns(struct sync *s, struct buf *out)
{
    static const char *const outcomes[] = {"ok", "retry", "limited", "rejected", "gone", "auth"};
    char more[64];
    int i;
    int k;

    buf_puts(out, "# HELP closeloop_sync_jobs_total Outbox jobs by connection and outcome.\n"
                  "# TYPE closeloop_sync_jobs_total counter\n");
    for (i = 0; s != NULL && i < s->nconns; i++) {
        for (k = 0; k < PROVIDER_OUTCOMES; k++) {
            snprintf(more, sizeof(more), ",outcome=\"%s\"", outcomes[k]);
            metric_conn(out, "closeloop_sync_jobs_total", &s->conns[i], more,
                        outbox_count(s->conns[i].outbox, (enum provider_outcome)k));
        }
    }
    buf_puts(out, "# HELP closeloop_sync_polls_total Reconciliation listings (unchanged ones "
                  "free).\n# TYPE closeloop_sync_polls_total counter\n");
    for (i = 0; s != NULL && i < s->nconns; i++) {
        const struct poll *p = s->conns[i].poll;

        metric_conn(out, "closeloop_sync_polls_total", &s->conns[i], ",result=\"changed\"",
                    poll_count(p) - poll_count_unchanged(p));
        metric_conn(out, "closeloop_sync_polls_total", &s->conns[i], ",result=\"not_modified\"",
                    poll_count_unchanged(p));
    }
    buf_puts(out, "# HELP closeloop_sync_connection_up 0 while a connection's credentials are "
                  "refused.\n# TYPE closeloop_sync_connection_up gauge\n");
    for (i = 0; s != NULL && i < s->nconns; i++)
        metric_conn(out, "closeloop_sync_connection_up", &s->conns[i], "",
                    s->conns[i].w.def->ops->healthy(s->conns[i].w.prov) ? 1 : 0);
}

void sync_metrics(struct sync *s, struct buf *out)
{
    sync_metrics_conns(s, out);
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
               s != NULL ? s->outbox_pending : 0, s != NULL ? s->outbox_failed : 0,
               s != NULL ? s->inbox_pending : 0, s != NULL ? inbox_applied(s->inbox) : 0,
               s != NULL ? s->inbox_pruned : 0, s != NULL ? s->oldest_poll_age : 0);
}

/* ---- life cycle ---- */

static int sync_start_all(struct sync *s, struct cl_err *err)
{
    int rc = CL_OK;
    int i;

    for (i = 0; rc == CL_OK && i < s->conf->nconns; i++) {
        const struct conf_conn *cfg = &s->conf->conns[i];
        const struct provider_def *def = registry_find(cfg->tracker->name);

        if (def != NULL && def->configured(cfg))
            rc = sync_conn_start(s, def, cfg, err);
    }
    return rc;
}

int sync_new(struct sync **out, struct ev_loop *loop, struct db_pool *pool, const struct conf *conf,
             struct cl_err *err)
{
    static const char *const channels[] = {"closeloop_outbox", NULL};
    struct sync *s = cl_calloc(1, sizeof(*s));

    s->loop = loop;
    s->pool = pool;
    s->conf = conf;
    s->http = http_client_new(loop, "closeloop/" CL_VERSION);
    s->env = (struct provider_env){loop, s->http};
    if (sync_start_all(s, err) != CL_OK) {
        sync_free(s);
        return err->code;
    }
    s->routes = sync_routes_json(s);
    s->names = sync_names_array(s);
    s->inbox = inbox_new(loop, pool, sync_find, s);
    s->listener =
        db_listener_new(loop, conf->database_url, db_pool_name(pool), channels, sync_on_notify, s);
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

        c->w.def->ops->free(c->w.prov); /* first: its operations call back no more */
        outbox_free(c->outbox);
        poll_free(c->poll);
    }
    ev_timer_stop(s->loop, &s->gauge_timer);
    ev_timer_stop(s->loop, &s->prune_timer);
    db_query_cancel(s->prune_q);
    db_query_cancel(s->gauge_q);
    inbox_free(s->inbox);
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

const char *sync_connection_names(const struct sync *s)
{
    return s->names;
}
