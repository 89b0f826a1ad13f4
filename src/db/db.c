#include "closeloop/db/db.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/log.h"

#include <stdlib.h>
#include <string.h>

enum db_conn_state { DBC_DOWN, DBC_CONNECTING, DBC_IDLE, DBC_BUSY };

#define DB_MAX_PREPARED 32

struct db_query {
    struct db_query *next;
    struct db_pool *pool;
    const char *sql;            /* constant text, outlives the query */
    const struct db_stmt *stmt; /* or a statement to run prepared */
    bool script;                /* sql holds several statements, no parameters */
    int nparams;
    char **params;
    db_done_fn done;
    void *arg;
    bool cancelled;
    bool sent;
    char *failure; /* why it failed, while it waits in `failed` */
    double sent_at;
};

struct db_conn {
    struct db_pool *pool;
    int index;
    PGconn *pg;
    ev_io io;
    ev_timer timer; /* connect deadline, then reconnect back-off */
    enum db_conn_state state;
    bool flushing;
    int failures;
    struct db_query *q; /* in flight, owned */
    bool preparing;     /* q's statement is being prepared first */
    const struct db_stmt *prepared[DB_MAX_PREPARED];
    int nprepared;
    PGresult *last;  /* last good result of the statement */
    PGresult *error; /* first error result of the statement */
};

struct db_query_list {
    struct db_query *head;
    struct db_query *tail;
};

struct db_pool {
    struct ev_loop *loop;
    char *dsn;
    char options[128]; /* session settings sent at connect */
    char name[64];     /* application_name: this process's, unique (claims are held by it) */
    int size;
    struct db_conn *conns;
    struct db_query_list queue;  /* waiting for a connection */
    struct db_query_list failed; /* failed fast, delivered from `kick` */
    ev_timer kick;
    int connected;
    bool down; /* every connection failed since the last success */
    uint64_t queries;
    uint64_t errors;
    uint64_t reconnects;
};

#define DB_CONNECT_TIMEOUT 10.0
#define DB_BACKOFF_MAX     5.0
/* How often a busy session checks that closeloopd is still connected: a statement of a
 * closeloopd killed -9 is cancelled (and its transaction, with the rows it holds, rolled
 * back) within this, instead of running to its commit. */
#define DB_CLIENT_CHECK_MS 1000

static void db_conn_connect(struct db_conn *c);
static void db_pool_dispatch(struct db_pool *p);
static void db_conn_send(struct db_conn *c, struct db_query *q);

static void watch(struct ev_loop *loop, ev_io *w, int fd, int events)
{
    ev_io_stop(loop, w);
    ev_io_set(w, fd, events);
    ev_io_start(loop, w);
}

static void db_list_push(struct db_query_list *l, struct db_query *q)
{
    q->next = NULL;
    if (l->tail != NULL)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
}

static struct db_query *db_list_pop(struct db_query_list *l)
{
    struct db_query *q = l->head;

    if (q == NULL)
        return NULL;
    l->head = q->next;
    if (l->head == NULL)
        l->tail = NULL;
    q->next = NULL;
    return q;
}

static void db_query_free(struct db_query *q)
{
    int i;

    if (q == NULL)
        return;
    for (i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->failure);
    free(q);
}

/* Makes a libpq message one log-safe line: newlines and tabs become spaces, double
 * quotes single ones, trailing space goes. */
static void db_copy_line(char *dst, size_t n, const char *src)
{
    size_t len;
    size_t i;

    snprintf(dst, n, "%s", src != NULL ? src : "");
    for (i = 0; dst[i] != '\0'; i++) {
        if (dst[i] == '\n' || dst[i] == '\r' || dst[i] == '\t')
            dst[i] = ' ';
        else if (dst[i] == '"')
            dst[i] = '\'';
    }
    len = strlen(dst);
    while (len > 0 && dst[len - 1] == ' ')
        dst[--len] = '\0';
}

/* Whether a failed statement is the database's fault rather than the input's: our own
 * CLxxx answers, data exceptions (22) and constraint violations (23) are what a user
 * typed; everything else (connection lost, timeouts, deadlocks, bugs) is a fault. */
bool db_reply_is_fault(const struct db_reply *r)
{
    const char *st = r->sqlstate != NULL ? r->sqlstate : "";

    if (r->code == CL_OK)
        return false;
    if (r->code == CL_EIO)
        return true;
    return strncmp(st, "CL", 2) != 0 && strncmp(st, "22", 2) != 0 && strncmp(st, "23", 2) != 0;
}

/* Calls the requester (unless cancelled), counts, frees the query. */
static void db_complete(struct db_pool *p, struct db_query *q, struct db_reply *r)
{
    p->queries++;
    if (db_reply_is_fault(r))
        p->errors++;
    if (!q->cancelled && q->done != NULL)
        q->done(r, q->arg); /* NULL done: fire and forget */
    db_query_free(q);
}

static void db_complete_io(struct db_pool *p, struct db_query *q, const char *why)
{
    char msg[256];
    struct db_reply r = {.code = CL_EIO, .sqlstate = "", .message = msg};

    db_copy_line(msg, sizeof(msg), why);
    db_complete(p, q, &r);
}

static void db_complete_result(struct db_conn *c, struct db_query *q)
{
    char msg[512];
    struct db_reply r = {.code = CL_OK, .sqlstate = "", .message = ""};
    PGresult *e = c->error;

    r.seconds = ev_now(c->pool->loop) - q->sent_at;
    if (e != NULL) {
        const char *st = PQresultErrorField(e, PG_DIAG_SQLSTATE);

        db_copy_line(msg, sizeof(msg), PQresultErrorField(e, PG_DIAG_MESSAGE_PRIMARY));
        r.code = CL_EDB;
        r.sqlstate = st != NULL ? st : "";
        r.message = msg;
        r.column = PQresultErrorField(e, PG_DIAG_COLUMN_NAME);
        r.constraint = PQresultErrorField(e, PG_DIAG_CONSTRAINT_NAME);
        r.table = PQresultErrorField(e, PG_DIAG_TABLE_NAME);
    } else {
        r.res = c->last;
    }
    db_complete(c->pool, q, &r);
}

static void db_conn_clear_results(struct db_conn *c)
{
    PQclear(c->last);
    c->last = NULL;
    PQclear(c->error);
    c->error = NULL;
}

/* Fails q through the loop: its requester may be inside db_query() right now, and a
 * callback must never run inside the call that started it. */
static void db_fail_later(struct db_pool *p, struct db_query *q, const char *why)
{
    free(q->failure);
    q->failure = cl_strdup(why);
    db_list_push(&p->failed, q);
    ev_timer_start(p->loop, &p->kick);
}

/* Fails every queued query when no connection can serve them. */
static void db_pool_fail_queue(struct db_pool *p, const char *why)
{
    struct db_query *q = db_list_pop(&p->queue);

    while (q != NULL) {
        db_fail_later(p, q, why);
        q = db_list_pop(&p->queue);
    }
}

static void db_conn_schedule_retry(struct db_conn *c)
{
    double delay = 0.1 * (double)(1 << (c->failures < 6 ? c->failures : 6));

    if (delay > DB_BACKOFF_MAX)
        delay = DB_BACKOFF_MAX;
    delay *= 0.5 + (double)rand() / RAND_MAX * 0.5; /* jitter: no thundering herd */
    ev_timer_stop(c->pool->loop, &c->timer);
    ev_timer_set(&c->timer, delay, 0.0);
    ev_timer_start(c->pool->loop, &c->timer);
}

/* Drops the connection: fails its statement, schedules a reconnect. */
static void db_conn_fail(struct db_conn *c, const char *what)
{
    struct db_pool *p = c->pool;
    char why[256];
    char detail[200];
    bool was_up = c->state == DBC_IDLE || c->state == DBC_BUSY;
    struct db_query *q = c->q;

    db_copy_line(detail, sizeof(detail), c->pg != NULL ? PQerrorMessage(c->pg) : "no connection");
    snprintf(why, sizeof(why), "database %s: %s", what, detail);
    ev_io_stop(p->loop, &c->io);
    ev_timer_stop(p->loop, &c->timer);
    PQfinish(c->pg);
    c->pg = NULL;
    db_conn_clear_results(c);
    c->q = NULL;
    c->preparing = false;
    c->nprepared = 0; /* a new session knows no statements */
    c->state = DBC_DOWN;
    c->failures++;
    if (was_up)
        p->connected--;
    log_warn("event=db_conn_down conn=%d error=\"%s\"", c->index, why);
    if (q != NULL)
        db_fail_later(p, q, why);
    if (p->connected == 0) {
        p->down = true;
        db_pool_fail_queue(p, why);
    }
    db_conn_schedule_retry(c);
}

static void db_conn_ready(struct db_conn *c)
{
    struct db_pool *p = c->pool;

    ev_timer_stop(p->loop, &c->timer);
    if (PQsetnonblocking(c->pg, 1) != 0) {
        db_conn_fail(c, "setnonblocking");
        return;
    }
    c->state = DBC_IDLE;
    if (c->failures > 0)
        p->reconnects++;
    c->failures = 0;
    p->connected++;
    p->down = false;
    ev_io_stop(p->loop, &c->io);
    log_debug("event=db_conn_up conn=%d", c->index);
    db_pool_dispatch(p);
}

static void db_conn_poll(struct db_conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);

    switch (st) {
    case PGRES_POLLING_READING:
        watch(c->pool->loop, &c->io, PQsocket(c->pg), EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        watch(c->pool->loop, &c->io, PQsocket(c->pg), EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        db_conn_ready(c);
        break;
    default:
        db_conn_fail(c, "connect");
        break;
    }
}

/* Collects results until the statement finishes, then completes it. */
static void db_conn_read(struct db_conn *c)
{
    PGresult *res;
    struct db_query *q;

    while (!PQisBusy(c->pg)) {
        res = PQgetResult(c->pg);
        if (res == NULL && c->preparing && c->error == NULL) {
            c->preparing = false;
            c->prepared[c->nprepared++] = c->q->stmt;
            db_conn_clear_results(c);
            db_conn_send(c, c->q); /* now run it */
            return;
        }
        if (res == NULL) {
            c->preparing = false;
            q = c->q;
            c->q = NULL;
            c->state = DBC_IDLE;
            ev_io_stop(c->pool->loop, &c->io);
            db_complete_result(c, q);
            db_conn_clear_results(c);
            if (PQstatus(c->pg) == CONNECTION_BAD)
                db_conn_fail(c, "connection");
            else
                db_pool_dispatch(c->pool);
            return;
        }
        if (PQresultStatus(res) == PGRES_FATAL_ERROR && c->error == NULL) {
            c->error = res;
        } else {
            PQclear(c->last);
            c->last = res;
        }
    }
}

static void db_conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct db_conn *c = container_of(w, struct db_conn, io);
    int rc;

    if (c->state == DBC_CONNECTING) {
        db_conn_poll(c);
        return;
    }
    if ((revents & EV_READ) && !PQconsumeInput(c->pg)) {
        db_conn_fail(c, "read");
        return;
    }
    if (c->flushing) {
        rc = PQflush(c->pg); /* 0 all sent, 1 more to send, -1 error */
        c->flushing = (rc == 1);
        if (rc < 0) {
            db_conn_fail(c, "write");
            return;
        }
        watch(loop, w, PQsocket(c->pg), rc == 1 ? EV_READ | EV_WRITE : EV_READ);
        if (rc != 0)
            return;
    }
    db_conn_read(c);
}

static void db_conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct db_conn *c = container_of(w, struct db_conn, timer);

    (void)loop;
    (void)revents;
    if (c->state == DBC_CONNECTING)
        db_conn_fail(c, "connect timed out");
    else if (c->state == DBC_DOWN)
        db_conn_connect(c);
}

static void db_conn_connect(struct db_conn *c)
{
    static const char *const keys[] = {"dbname", "application_name", "options", NULL};
    const char *vals[] = {c->pool->dsn, c->pool->name, c->pool->options, NULL};

    c->pg = PQconnectStartParams(keys, vals, 1);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
        db_conn_fail(c, "connect");
        return;
    }
    c->state = DBC_CONNECTING;
    ev_timer_stop(c->pool->loop, &c->timer);
    ev_timer_set(&c->timer, DB_CONNECT_TIMEOUT, 0.0);
    ev_timer_start(c->pool->loop, &c->timer);
    watch(c->pool->loop, &c->io, PQsocket(c->pg), EV_WRITE);
}

static bool db_conn_has(const struct db_conn *c, const struct db_stmt *stmt)
{
    int i;

    for (i = 0; i < c->nprepared; i++)
        if (c->prepared[i] == stmt)
            return true;
    return false;
}

/* Sends q: plain, prepared, or first the PREPARE when this session lacks it. */
static int db_conn_send_one(struct db_conn *c, struct db_query *q)
{
    const char *const *params = (const char *const *)q->params;

    if (q->script)
        return PQsendQuery(c->pg, q->sql);
    if (q->stmt == NULL)
        return PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, params, NULL, NULL, 0);
    if (db_conn_has(c, q->stmt) || c->nprepared == DB_MAX_PREPARED)
        return PQsendQueryPrepared(c->pg, q->stmt->name, q->nparams, params, NULL, NULL, 0);
    c->preparing = true;
    return PQsendPrepare(c->pg, q->stmt->name, q->stmt->sql, q->nparams, NULL);
}

static void db_conn_send(struct db_conn *c, struct db_query *q)
{
    c->q = q;
    c->state = DBC_BUSY;
    q->sent = true;
    q->sent_at = ev_now(c->pool->loop);
    if (!db_conn_send_one(c, q)) {
        db_conn_fail(c, "send");
        return;
    }
    c->flushing = true;
    watch(c->pool->loop, &c->io, PQsocket(c->pg), EV_READ | EV_WRITE);
}

static void db_pool_dispatch(struct db_pool *p)
{
    int i;

    for (i = 0; i < p->size && p->queue.head != NULL; i++) {
        struct db_conn *c = &p->conns[i];
        struct db_query *q;

        if (c->state != DBC_IDLE)
            continue;
        q = db_list_pop(&p->queue);
        if (q->cancelled) { /* its requester gave up: it must never run */
            db_query_free(q);
            i--;
            continue;
        }
        db_conn_send(c, q);
    }
}

static void db_pool_on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct db_pool *p = container_of(w, struct db_pool, kick);
    struct db_query *q;

    (void)loop;
    (void)revents;
    q = db_list_pop(&p->failed);
    while (q != NULL) {
        db_complete_io(p, q,
                       q->failure != NULL ? q->failure
                                          : "database unavailable: no connection could be made");
        q = db_list_pop(&p->failed);
    }
}

struct db_pool *db_pool_new(struct ev_loop *loop, const char *dsn, int size,
                            double statement_timeout, const char *name)
{
    struct db_pool *p = cl_calloc(1, sizeof(*p));
    int i;

    p->loop = loop;
    p->dsn = cl_strdup(dsn);
    snprintf(p->name, sizeof(p->name), "%s", name != NULL ? name : "closeloopd");
    snprintf(p->options, sizeof(p->options),
             "-c TimeZone=UTC -c statement_timeout=%ld -c client_connection_check_interval=%d",
             (long)(statement_timeout * 1000.0), DB_CLIENT_CHECK_MS);
    p->size = size;
    p->conns = cl_calloc((size_t)size, sizeof(*p->conns));
    ev_timer_init(&p->kick, db_pool_on_kick, 0.0, 0.0);
    for (i = 0; i < size; i++) {
        struct db_conn *c = &p->conns[i];

        c->pool = p;
        c->index = i;
        ev_init(&c->io, db_conn_on_io);
        ev_init(&c->timer, db_conn_on_timer);
        db_conn_connect(c);
    }
    return p;
}

void db_pool_free(struct db_pool *p)
{
    struct db_query *q;
    int i;

    if (p == NULL)
        return;
    for (i = 0; i < p->size; i++) {
        struct db_conn *c = &p->conns[i];

        ev_io_stop(p->loop, &c->io);
        ev_timer_stop(p->loop, &c->timer);
        db_conn_clear_results(c);
        db_query_free(c->q);
        PQfinish(c->pg);
    }
    while ((q = db_list_pop(&p->queue)) != NULL)
        db_query_free(q);
    while ((q = db_list_pop(&p->failed)) != NULL)
        db_query_free(q);
    ev_timer_stop(p->loop, &p->kick);
    free(p->conns);
    /* The DSN may hold a password: wipe it before freeing. */
    memset(p->dsn, 0, strlen(p->dsn));
    free(p->dsn);
    free(p);
}

static struct db_query *db_query_new(struct db_pool *p, int nparams, const char *const *params,
                                     db_done_fn done, void *arg)
{
    struct db_query *q = cl_calloc(1, sizeof(*q));
    int i;

    q->pool = p;
    q->nparams = nparams;
    q->params = cl_calloc((size_t)(nparams > 0 ? nparams : 1), sizeof(char *));
    for (i = 0; i < nparams; i++)
        q->params[i] = cl_strdup(params[i]);
    q->done = done;
    q->arg = arg;
    return q;
}

static struct db_query *db_query_submit(struct db_pool *p, struct db_query *q)
{
    if (p->down && p->connected == 0) {
        db_list_push(&p->failed, q);
        ev_timer_start(p->loop, &p->kick);
        return q;
    }
    db_list_push(&p->queue, q);
    db_pool_dispatch(p);
    return q;
}

struct db_query *db_query(struct db_pool *p, const char *sql, int nparams,
                          const char *const *params, db_done_fn done, void *arg)
{
    struct db_query *q = db_query_new(p, nparams, params, done, arg);

    q->sql = sql;
    return db_query_submit(p, q);
}

struct db_query *db_query_script(struct db_pool *p, const char *sql, db_done_fn done, void *arg)
{
    struct db_query *q = db_query_new(p, 0, NULL, done, arg);

    q->sql = sql;
    q->script = true;
    return db_query_submit(p, q);
}

struct db_query *db_query_stmt(struct db_pool *p, const struct db_stmt *stmt, int nparams,
                               const char *const *params, db_done_fn done, void *arg)
{
    struct db_query *q = db_query_new(p, nparams, params, done, arg);

    q->stmt = stmt;
    return db_query_submit(p, q);
}

void db_query_cancel(struct db_query *q)
{
    if (q != NULL)
        q->cancelled = true;
}

bool db_query_sent(const struct db_query *q)
{
    return q->sent;
}

void db_pool_cancel_running(struct db_pool *p)
{
    char errbuf[256];
    int i;

    for (i = 0; i < p->size; i++) {
        struct db_conn *c = &p->conns[i];
        PGcancel *cn;

        if (c->state != DBC_BUSY)
            continue;
        cn = PQgetCancel(c->pg);
        if (cn == NULL)
            continue;
        if (!PQcancel(cn, errbuf, sizeof(errbuf)))
            log_warn("event=db_cancel_failed conn=%d", c->index);
        PQfreeCancel(cn);
    }
}

bool db_pool_ready(const struct db_pool *p)
{
    return p->connected > 0;
}

void db_pool_stats(const struct db_pool *p, struct db_pool_stats *out)
{
    const struct db_query *q;
    int i;

    memset(out, 0, sizeof(*out));
    out->size = p->size;
    out->connected = p->connected;
    for (i = 0; i < p->size; i++)
        out->busy += p->conns[i].state == DBC_BUSY;
    for (q = p->queue.head; q != NULL; q = q->next)
        out->queued++;
    out->queries = p->queries;
    out->errors = p->errors;
    out->reconnects = p->reconnects;
}

int db_connect_blocking(PGconn **out, const char *dsn, struct cl_err *err)
{
    static const char *const keys[] = {"dbname", "application_name", "options", NULL};
    const char *vals[] = {dsn, "closeloopd", "-c TimeZone=UTC", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    char msg[256];

    if (pg == NULL)
        return cl_fail(err, CL_EDB, "database connect: out of memory");
    if (PQstatus(pg) != CONNECTION_OK) {
        db_copy_line(msg, sizeof(msg), PQerrorMessage(pg));
        PQfinish(pg);
        return cl_fail(err, CL_EDB, "database connect: %s", msg);
    }
    *out = pg;
    return CL_OK;
}

int db_exec_blocking(PGresult **out, PGconn *pg, const char *sql, int nparams,
                     const char *const *params, struct cl_err *err)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    char msg[256];

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_copy_line(msg, sizeof(msg),
                     res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg));
        PQclear(res);
        return cl_fail(err, CL_EDB, "%s", msg);
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return CL_OK;
}

/* ---- LISTEN/NOTIFY ---- */

enum db_listen_state { DBL_DOWN, DBL_CONNECTING, DBL_LISTENING };

struct db_listener {
    struct ev_loop *loop;
    char *dsn;
    char name[64];    /* application_name */
    char *listen_sql; /* "LISTEN a; LISTEN b" */
    db_notify_fn fn;
    void *arg;
    PGconn *pg;
    ev_io io;
    ev_timer retry;
    enum db_listen_state state;
    int failures;
};

static void db_listener_connect(struct db_listener *l);

static void db_listener_down(struct db_listener *l, const char *what)
{
    char detail[200];
    double delay = 0.1 * (double)(1 << (l->failures < 5 ? l->failures : 5));

    db_copy_line(detail, sizeof(detail), l->pg != NULL ? PQerrorMessage(l->pg) : "");
    log_warn("event=db_listener_down what=%s error=\"%s\"", what, detail);
    ev_io_stop(l->loop, &l->io);
    PQfinish(l->pg);
    l->pg = NULL;
    l->state = DBL_DOWN;
    l->failures++;
    ev_timer_stop(l->loop, &l->retry);
    ev_timer_set(&l->retry, delay, 0.0);
    ev_timer_start(l->loop, &l->retry);
}

/* Reads notifications and drains results (the LISTEN commands' own). */
static void db_listener_read(struct db_listener *l)
{
    PGnotify *n;
    PGresult *res;

    if (!PQconsumeInput(l->pg)) {
        db_listener_down(l, "read");
        return;
    }
    while (!PQisBusy(l->pg)) {
        res = PQgetResult(l->pg);
        if (res == NULL)
            break;
        PQclear(res);
    }
    while ((n = PQnotifies(l->pg)) != NULL) {
        l->fn(n->relname, n->extra, l->arg);
        PQfreemem(n);
    }
}

static void db_listener_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct db_listener *l = container_of(w, struct db_listener, io);
    PostgresPollingStatusType st;

    (void)revents;
    if (l->state == DBL_LISTENING) {
        db_listener_read(l);
        return;
    }
    st = PQconnectPoll(l->pg);
    if (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
        watch(loop, w, PQsocket(l->pg), st == PGRES_POLLING_READING ? EV_READ : EV_WRITE);
        return;
    }
    if (st != PGRES_POLLING_OK || PQsetnonblocking(l->pg, 1) != 0 ||
        !PQsendQuery(l->pg, l->listen_sql)) {
        db_listener_down(l, "connect");
        return;
    }
    l->state = DBL_LISTENING;
    l->failures = 0;
    PQflush(l->pg);
    watch(loop, w, PQsocket(l->pg), EV_READ);
    l->fn(NULL, NULL, l->arg); /* catch up: notifications may have been missed */
}

static void db_listener_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    db_listener_connect(container_of(w, struct db_listener, retry));
}

static void db_listener_connect(struct db_listener *l)
{
    static const char *const keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {l->dsn, l->name, NULL};

    l->pg = PQconnectStartParams(keys, vals, 1);
    if (l->pg == NULL || PQstatus(l->pg) == CONNECTION_BAD) {
        db_listener_down(l, "connect");
        return;
    }
    l->state = DBL_CONNECTING;
    watch(l->loop, &l->io, PQsocket(l->pg), EV_WRITE);
}

const char *db_pool_name(const struct db_pool *p)
{
    return p->name;
}

struct db_listener *db_listener_new(struct ev_loop *loop, const char *dsn, const char *name,
                                    const char *const *channels, db_notify_fn fn, void *arg)
{
    struct db_listener *l = cl_calloc(1, sizeof(*l));
    struct buf sql;
    int i;

    buf_init(&sql);
    for (i = 0; channels[i] != NULL; i++)
        buf_printf(&sql, "LISTEN %s;", channels[i]); /* identifiers are ours, constant */
    l->loop = loop;
    l->dsn = cl_strdup(dsn);
    snprintf(l->name, sizeof(l->name), "%s", name != NULL ? name : "closeloopd-listen");
    l->listen_sql = buf_steal(&sql, NULL);
    l->fn = fn;
    l->arg = arg;
    ev_init(&l->io, db_listener_on_io);
    ev_init(&l->retry, db_listener_on_retry);
    db_listener_connect(l);
    return l;
}

void db_listener_free(struct db_listener *l)
{
    if (l == NULL)
        return;
    ev_io_stop(l->loop, &l->io);
    ev_timer_stop(l->loop, &l->retry);
    PQfinish(l->pg);
    memset(l->dsn, 0, strlen(l->dsn));
    free(l->dsn);
    free(l->listen_sql);
    free(l);
}
