/* The sync workers (outbox, inbox) against a fake provider written here: scripted answers,
 * every call recorded, answers given from the loop as the provider contract demands, and a
 * remote issue kept in memory. PostgreSQL is real: a database of this binary's own, made on
 * the cluster of CLOSELOOP_TEST_DSN and dropped at the end (skipped when it is unset). */
#include "closeloop/db/db.h"
#include "closeloop/db/migrate.h"
#include "closeloop/sync/inbox.h"
#include "closeloop/sync/outbox.h"
#include "closeloop/sync/provider.h"
#include "closeloop/sync/worker.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/log.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define TRACKER    "github" /* a tracker the schema knows; the provider is the fake below */
#define CONN       "fake"
#define SCOPE      "acme/web"
#define MAX_SCRIPT 8
#define MAX_CALLS  16

/* ---- the fake provider ---- */

struct fake_answer {
    enum provider_outcome outcome;
    double retry_after;
    const char *message;
    bool none; /* find_marker: OK with no remote (nothing was created) */
};

struct fake {
    struct ev_loop *loop;
    struct fake_answer script[MAX_SCRIPT]; /* the next answers, in order; then OK */
    int nscript;
    char calls[MAX_CALLS][16]; /* ops in the order they were called */
    int ncalls;
    json_t *issue; /* the remote issue, NULL until created */
    int clock;     /* seconds past the epoch base of updated_at */
    ev_timer answer;
    struct fake_answer pending;
    json_t *pending_remote; /* owned until the answer is given */
    provider_done_fn done;
    void *arg;
};

static struct fake_answer fake_next(struct fake *f, const char *op)
{
    struct fake_answer a = {.outcome = PROVIDER_OK};

    assert_true(f->ncalls < MAX_CALLS);
    snprintf(f->calls[f->ncalls++], sizeof(f->calls[0]), "%s", op);
    if (f->nscript > 0) {
        a = f->script[0];
        memmove(f->script, f->script + 1, (size_t)(f->nscript - 1) * sizeof(f->script[0]));
        f->nscript--;
    }
    return a;
}

static void fake_script(struct fake *f, enum provider_outcome outcome, double retry_after,
                        const char *message)
{
    assert_true(f->nscript < MAX_SCRIPT);
    f->script[f->nscript++] =
        (struct fake_answer){.outcome = outcome, .retry_after = retry_after, .message = message};
}

static void fake_on_answer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct fake *f = container_of(w, struct fake, answer);
    struct provider_result r = {.outcome = f->pending.outcome,
                                .retry_after = f->pending.retry_after,
                                .remote = f->pending_remote,
                                .requests = 1};
    json_t *remote = f->pending_remote;

    (void)loop;
    (void)revents;
    snprintf(r.message, sizeof(r.message), "%s", f->pending.message ? f->pending.message : "");
    f->pending_remote = NULL;
    f->done(&r, f->arg);
    json_decref(remote);
}

/* Answers from the loop, never inside the call (the provider contract). */
static void fake_answer(struct fake *f, struct fake_answer a, json_t *remote, provider_done_fn done,
                        void *arg)
{
    assert_false(ev_is_active(&f->answer)); /* one operation at a time per connection */
    f->pending = a;
    f->pending_remote = a.outcome == PROVIDER_OK ? remote : NULL;
    if (a.outcome != PROVIDER_OK)
        json_decref(remote);
    f->done = done;
    f->arg = arg;
    ev_timer_set(&f->answer, 0.0, 0.0);
    ev_timer_start(f->loop, &f->answer);
}

static void fake_stamp(struct fake *f)
{
    char at[32];

    f->clock++;
    snprintf(at, sizeof(at), "2026-01-01T00:%02d:%02dZ", f->clock / 60, f->clock % 60);
    json_object_set_new(f->issue, "updated_at", json_string(at));
}

/* The remote takes what closeloop holds (the fields the core compares). */
static void fake_take(struct fake *f, const json_t *local)
{
    static const char *const fields[] = {"title", "description", "due_on", "status"};
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        json_object_set(f->issue, fields[i], json_object_get(local, fields[i]));
    fake_stamp(f);
}

static void fake_create(void *self, const struct provider_job *job, provider_done_fn done,
                        void *arg)
{
    struct fake *f = self;
    struct fake_answer a = fake_next(f, "create");

    if (a.outcome == PROVIDER_OK) {
        json_decref(f->issue);
        f->issue =
            json_pack("{s:s, s:s, s:s, s:s, s:[], s:[]}", "remote_id", "9001", "key", "1", "scope",
                      job->scope, "url", "https://tracker.test/acme/web/1", "assignees", "labels");
        fake_take(f, job->action);
    }
    fake_answer(f, a, a.outcome == PROVIDER_OK ? json_deep_copy(f->issue) : NULL, done, arg);
}

static void fake_find_marker(void *self, const struct provider_job *job, provider_done_fn done,
                             void *arg)
{
    struct fake *f = self;
    struct fake_answer a = fake_next(f, "find_marker");

    (void)job;
    fake_answer(f, a, f->issue != NULL ? json_deep_copy(f->issue) : NULL, done, arg);
}

static void fake_fetch(void *self, const struct provider_job *job, provider_done_fn done, void *arg)
{
    struct fake *f = self;
    struct fake_answer a = fake_next(f, "fetch");

    assert_non_null(job->remote_id);
    assert_non_null(f->issue);
    assert_string_equal(job->remote_id, json_string_value(json_object_get(f->issue, "remote_id")));
    fake_answer(f, a, json_deep_copy(f->issue), done, arg);
}

static void fake_update(void *self, const struct provider_job *job, const json_t *local,
                        const json_t *remote, provider_done_fn done, void *arg)
{
    struct fake *f = self;
    struct fake_answer a = fake_next(f, "update");

    (void)job;
    assert_non_null(remote);
    if (a.outcome == PROVIDER_OK)
        fake_take(f, local);
    fake_answer(f, a, a.outcome == PROVIDER_OK ? json_deep_copy(f->issue) : NULL, done, arg);
}

/* A stored delivery, as this fake's tracker writes them: {"title", "at"} edits the issue. */
static int fake_parse_hook(void *self, const char *event, const char *body, size_t len,
                           struct provider_hook *out, struct cl_err *err)
{
    struct fake *f = self;
    json_t *d = json_loadb(body, len, 0, NULL);
    const char *title = json_string_value(json_object_get(d, "title"));
    const char *at = json_string_value(json_object_get(d, "at"));

    if (title == NULL || at == NULL || f->issue == NULL) {
        json_decref(d);
        return cl_fail(err, CL_EINVAL, "%s: not a delivery of the fake", event);
    }
    out->kind = PROVIDER_HOOK_APPLY;
    out->remote = json_deep_copy(f->issue);
    json_object_set_new(out->remote, "title", json_string(title));
    json_object_set_new(out->remote, "updated_at", json_string(at));
    snprintf(out->updated_at, sizeof(out->updated_at), "%s", at);
    snprintf(out->actor, sizeof(out->actor), "owner-1");
    json_decref(d);
    return CL_OK;
}

static const struct provider_ops fake_ops = {
    .parse_hook = fake_parse_hook,
    .create = fake_create,
    .find_marker = fake_find_marker,
    .fetch = fake_fetch,
    .update = fake_update,
};

static const struct provider_def fake_def = {
    .tracker = TRACKER,
    .display = "Fake",
    .scope_noun = "project",
    .ops = &fake_ops,
};

/* ---- the database ---- */

struct world {
    char dsn[512];   /* this binary's own database */
    char admin[512]; /* CLOSELOOP_TEST_DSN */
    char dbname[64];
    PGconn *pg; /* blocking connection for set-up and checks */
    struct ev_loop *loop;
    struct db_pool *pool;
    struct fake fake;
    struct conf_conn cfg;
    struct worker_conn wc;
    struct outbox *ob;
    struct inbox *ib;
};

static PGresult *sql(struct world *w, const char *q, int n, const char *const *params)
{
    struct cl_err err = CL_ERR_INIT;
    PGresult *res = NULL;

    if (db_exec_blocking(&res, w->pg, q, n, params, &err) != CL_OK)
        fail_msg("%s: %s", q, err.msg);
    return res;
}

/* One value of a one-row query, copied into out ("" for NULL). */
static const char *sql1(struct world *w, char *out, size_t len, const char *q, int n,
                        const char *const *params)
{
    PGresult *res = sql(w, q, n, params);

    assert_int_equal(PQntuples(res), 1);
    snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static void sql0(struct world *w, const char *q)
{
    PQclear(sql(w, q, 0, NULL));
}

/* The admin DSN with another database: key=value words from libpq's own parse. */
static void dsn_for(char *out, size_t len, const char *admin, const char *dbname)
{
    PQconninfoOption *opts = PQconninfoParse(admin, NULL);
    PQconninfoOption *o;
    struct buf b;
    char *s;

    assert_non_null(opts);
    buf_init(&b);
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || strcmp(o->keyword, "dbname") == 0)
            continue;
        buf_printf(&b, "%s='%s' ", o->keyword, o->val); /* test paths hold no quote */
    }
    buf_printf(&b, "dbname='%s'", dbname);
    s = buf_steal(&b, NULL);
    snprintf(out, len, "%s", s);
    free(s);
    PQconninfoFree(opts);
}

static void admin_exec(const char *admin, const char *q)
{
    struct cl_err err = CL_ERR_INIT;
    PGconn *pg = NULL;

    assert_int_equal(db_connect_blocking(&pg, admin, &err), CL_OK);
    if (db_exec_blocking(NULL, pg, q, 0, NULL, &err) != CL_OK)
        fail_msg("%s: %s", q, err.msg);
    PQfinish(pg);
}

static int group_setup(void **state)
{
    const char *admin = getenv("CLOSELOOP_TEST_DSN");
    struct world *w;
    struct cl_err err = CL_ERR_INIT;
    char q[160];

    if (admin == NULL) {
        *state = NULL;
        return 0;
    }
    w = cl_calloc(1, sizeof(*w));
    snprintf(w->admin, sizeof(w->admin), "%s", admin);
    snprintf(w->dbname, sizeof(w->dbname), "unit_workers_%ld", (long)getpid());
    snprintf(q, sizeof(q), "CREATE DATABASE %s", w->dbname); /* dropped by group_teardown */
    admin_exec(admin, q);
    dsn_for(w->dsn, sizeof(w->dsn), admin, w->dbname);
    assert_int_equal(db_connect_blocking(&w->pg, w->dsn, &err), CL_OK);
    if (migrate_run(w->pg, NULL, &err) != CL_OK)
        fail_msg("migrate: %s", err.msg);
    *state = w;
    return 0;
}

static int group_teardown(void **state)
{
    struct world *w = *state;
    char q[160];

    if (w == NULL)
        return 0;
    PQfinish(w->pg);
    snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)", w->dbname);
    admin_exec(w->admin, q);
    free(w);
    return 0;
}

/* ---- each test: empty tables, a loop, a pool, the fake and a worker ---- */

static int setup(void **state)
{
    struct world *w = *state;

    if (w == NULL)
        return 0;
    sql0(w, "TRUNCATE events, outbox, inbox, links, sync_scopes, actions, incidents "
            "RESTART IDENTITY CASCADE");
    sql0(w, "INSERT INTO incidents (key, title) VALUES ('INC-1', 'Checkout outage')");
    w->loop = ev_loop_new(EVFLAG_AUTO);
    w->pool = db_pool_new(w->loop, w->dsn, 2, 0, "closeloopd/unit-workers");
    memset(&w->fake, 0, sizeof(w->fake));
    w->fake.loop = w->loop;
    ev_timer_init(&w->fake.answer, fake_on_answer, 0.0, 0.0);
    w->cfg = (struct conf_conn){.name = CONN, .timeout = 5, .poll_interval = 3600};
    w->wc = (struct worker_conn){
        .loop = w->loop, .pool = w->pool, .def = &fake_def, .prov = &w->fake, .cfg = &w->cfg};
    w->ob = NULL;
    w->ib = NULL;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    if (w == NULL)
        return 0;
    outbox_free(w->ob);
    inbox_free(w->ib);
    ev_timer_stop(w->loop, &w->fake.answer);
    json_decref(w->fake.pending_remote);
    json_decref(w->fake.issue);
    db_pool_free(w->pool);
    ev_loop_destroy(w->loop);
    return 0;
}

static struct world *world_or_skip(void **state)
{
    if (*state == NULL)
        skip();
    return *state;
}

/* An action linked to SCOPE through CONN, its link pending and a create queued. */
static long add_action(struct world *w, const char *title)
{
    char id[32];
    char p[256];

    snprintf(p, sizeof(p),
             "{\"incident\": \"INC-1\", \"kind\": \"corrective\", \"title\": \"%s\","
             " \"due_on\": \"2027-01-15\", \"sync\": {\"tracker\": \"" TRACKER
             "\", \"scope\": \"" SCOPE "\"}}",
             title);
    sql1(
        w, id, sizeof(id),
        "SELECT (cl_action_create($1::jsonb, 'cli', 'unit', $2::jsonb)::jsonb)->>'id'", 2,
        (const char *const[]){p, "{\"" TRACKER "\": {\"default\": \"" CONN "\", \"scopes\": {}}}"});
    return atol(id);
}

/* Runs the loop until cond holds (checked between iterations), at most `seconds`. */
static bool run_until(struct world *w, bool (*cond)(struct world *w), double seconds)
{
    double end = ev_time() + seconds;

    while (!cond(w)) {
        if (ev_time() > end)
            return false;
        ev_run(w->loop, EVRUN_ONCE);
    }
    return true;
}

/* Runs the loop for `seconds` whatever happens (a window in which nothing may happen). */
static void run_for(struct world *w, double seconds)
{
    double end = ev_time() + seconds;

    while (ev_time() < end) {
        ev_run(w->loop, EVRUN_NOWAIT);
        usleep(10000);
    }
}

static long count(struct world *w, const char *q)
{
    char v[32];

    return atol(sql1(w, v, sizeof(v), q, 0, NULL));
}

static bool outbox_settled(struct world *w)
{
    return count(w, "SELECT count(*) FROM outbox WHERE done_at IS NULL AND failed_at IS NULL "
                    "AND (claimed_by IS NOT NULL OR available_at <= now())") == 0 &&
           !ev_is_active(&w->fake.answer);
}

static bool link_linked(struct world *w)
{
    return count(w, "SELECT count(*) FROM links WHERE state = 'linked'") == 1 && outbox_settled(w);
}

static void assert_calls(const struct world *w, const char *const *want, int n)
{
    int i;

    for (i = 0; i < n && i < w->fake.ncalls; i++)
        assert_string_equal(w->fake.calls[i], want[i]);
    assert_int_equal(w->fake.ncalls, n);
}

static void start_outbox(struct world *w)
{
    w->ob = outbox_new(&w->wc);
    outbox_kick(w->ob);
}

/* ---- outbox ---- */

static void test_workers__create_links_the_action(void **state)
{
    struct world *w = world_or_skip(state);
    char v[256];

    add_action(w, "Cap the pool");
    start_outbox(w);
    assert_true(run_until(w, link_linked, 10));
    assert_calls(w, (const char *const[]){"create"}, 1);
    assert_string_equal(sql1(w, v, sizeof(v),
                             "SELECT remote_id || ' ' || remote_key || ' ' || url || ' ' ||"
                             " (base->>'title') FROM links",
                             0, NULL),
                        "9001 1 https://tracker.test/acme/web/1 Cap the pool");
    assert_int_equal(count(w, "SELECT count(*) FROM outbox WHERE done_at IS NOT NULL"), 1);
    assert_int_equal(outbox_count(w->ob, PROVIDER_OK), 1);
}

/* A transient failure: the row waits the back-off (2 s after the first attempt, jittered
 * by at most a quarter) with the error on the link; then it goes through. */
static void test_workers__retry_backs_off_then_succeeds(void **state)
{
    struct world *w = world_or_skip(state);
    char v[64];
    double wait;

    add_action(w, "Cap the pool");
    fake_script(&w->fake, PROVIDER_RETRY, 0, "502 Bad Gateway");
    start_outbox(w);
    assert_true(run_until(w, outbox_settled, 10));
    assert_calls(w, (const char *const[]){"create"}, 1);
    wait = atof(sql1(w, v, sizeof(v), "SELECT extract(epoch FROM available_at - now()) FROM outbox",
                     0, NULL));
    assert_true(wait > 1.0 && wait <= 2.5);
    assert_string_equal(sql1(w, v, sizeof(v), "SELECT last_error FROM links", 0, NULL),
                        "502 Bad Gateway");
    assert_int_equal(outbox_count(w->ob, PROVIDER_RETRY), 1);
    assert_true(run_until(w, link_linked, 6));
    assert_calls(w, (const char *const[]){"create", "find_marker", "create"}, 3);
    assert_string_equal(
        sql1(w, v, sizeof(v), "SELECT coalesce(last_error, '-') FROM links", 0, NULL), "-");
}

/* A permanent rejection fails the row at once, visibly, and is never retried. */
static void test_workers__rejected_fails_without_retry(void **state)
{
    struct world *w = world_or_skip(state);
    char v[128];

    add_action(w, "Cap the pool");
    fake_script(&w->fake, PROVIDER_REJECTED, 0, "422 title is too long");
    start_outbox(w);
    assert_true(run_until(w, outbox_settled, 10));
    run_for(w, 1.5); /* a tick of the worker's timer passes: no second attempt */
    assert_calls(w, (const char *const[]){"create"}, 1);
    assert_string_equal(sql1(w, v, sizeof(v),
                             "SELECT (failed_at IS NOT NULL) || ' ' || last_error FROM outbox", 0,
                             NULL),
                        "true 422 title is too long");
    assert_string_equal(sql1(w, v, sizeof(v), "SELECT last_error FROM links", 0, NULL),
                        "422 title is too long");
}

static void link_and_edit(struct world *w, long *aid)
{
    char id[32];

    *aid = add_action(w, "Cap the pool");
    start_outbox(w);
    assert_true(run_until(w, link_linked, 10));
    snprintf(id, sizeof(id), "%ld", *aid);
    PQclear(sql(w,
                "SELECT cl_action_update($1::bigint, NULL, '{\"title\": \"Cap the pool at 80\"}',"
                " 'cli', 'unit')",
                1, (const char *const[]){id}));
}

/* The remote issue is gone: the link breaks, with the reason, and nothing is retried. */
static void test_workers__gone_breaks_the_link(void **state)
{
    struct world *w = world_or_skip(state);
    long aid;
    char v[128];

    link_and_edit(w, &aid);
    fake_script(&w->fake, PROVIDER_GONE, 0, "410 the issue was deleted");
    outbox_kick(w->ob);
    assert_true(run_until(w, outbox_settled, 10));
    run_for(w, 1.2);
    assert_calls(w, (const char *const[]){"create", "fetch"}, 2);
    assert_string_equal(
        sql1(w, v, sizeof(v), "SELECT state || ' ' || last_error FROM links", 0, NULL),
        "broken 410 the issue was deleted");
    assert_int_equal(outbox_count(w->ob, PROVIDER_GONE), 1);
}

/* A linked action edited: fetch, merge, update with what closeloop holds. */
static void test_workers__push_fetches_then_updates(void **state)
{
    struct world *w = world_or_skip(state);
    long aid;
    char v[128];

    link_and_edit(w, &aid);
    outbox_kick(w->ob);
    assert_true(run_until(w, outbox_settled, 10));
    assert_calls(w, (const char *const[]){"create", "fetch", "update"}, 3);
    assert_string_equal(json_string_value(json_object_get(w->fake.issue, "title")),
                        "Cap the pool at 80");
    assert_string_equal(sql1(w, v, sizeof(v), "SELECT base->>'title' FROM links", 0, NULL),
                        "Cap the pool at 80");
}

/* Rate limited: the row waits what the tracker asked (30 s, jittered by up to a second). */
static void test_workers__limited_waits_what_the_tracker_asked(void **state)
{
    struct world *w = world_or_skip(state);
    char v[64];
    double wait;

    add_action(w, "Cap the pool");
    fake_script(&w->fake, PROVIDER_LIMITED, 30, "403 secondary rate limit");
    start_outbox(w);
    assert_true(run_until(w, outbox_settled, 10));
    run_for(w, 1.2);
    assert_calls(w, (const char *const[]){"create"}, 1);
    wait = atof(sql1(w, v, sizeof(v), "SELECT extract(epoch FROM available_at - now()) FROM outbox",
                     0, NULL));
    assert_true(wait > 28.0 && wait <= 31.25);
    assert_int_equal(outbox_count(w->ob, PROVIDER_LIMITED), 1);
}

/* After a crash between "creating" and the create's answer, the issue may exist: found by
 * its marker, it is linked and brought in step, never created twice. */
static void test_workers__marker_found_after_a_crash(void **state)
{
    struct world *w = world_or_skip(state);
    char v[64];

    add_action(w, "Cap the pool");
    sql0(w, "SELECT cl_link_creating(id) FROM links"); /* what a killed push left */
    w->fake.issue = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:[], s:[]}", "remote_id",
                              "9001", "key", "1", "scope", SCOPE, "url",
                              "https://tracker.test/acme/web/1", "title", "Cap the pool",
                              "description", "", "due_on", "status", "open", "assignees", "labels");
    fake_stamp(&w->fake);
    start_outbox(w);
    assert_true(run_until(w, link_linked, 10));
    assert_calls(w, (const char *const[]){"find_marker", "update"}, 2);
    assert_string_equal(sql1(w, v, sizeof(v), "SELECT remote_id FROM links", 0, NULL), "9001");
    assert_string_equal(json_string_value(json_object_get(w->fake.issue, "due_on")), "2027-01-15");
}

/* ... and when the marker is not found, the create happens (once). */
static void test_workers__marker_not_found_creates(void **state)
{
    struct world *w = world_or_skip(state);

    add_action(w, "Cap the pool");
    sql0(w, "SELECT cl_link_creating(id) FROM links");
    start_outbox(w);
    assert_true(run_until(w, link_linked, 10));
    assert_calls(w, (const char *const[]){"find_marker", "create"}, 2);
}

/* ---- inbox ---- */

static const struct worker_conn *find_conn(void *arg, const char *tracker, const char *name)
{
    struct world *w = arg;

    return strcmp(tracker, TRACKER) == 0 && strcmp(name, CONN) == 0 ? &w->wc : NULL;
}

static void put_delivery(struct world *w, const char *id, const char *body)
{
    PQclear(sql(w,
                "SELECT cl_inbox_put('" TRACKER "', '" CONN "', $1, 'edit', $2, '9001', '" SCOPE
                "', NULL)",
                2, (const char *const[]){id, body}));
}

static bool inbox_settled(struct world *w)
{
    return count(w, "SELECT count(*) FROM inbox WHERE processed_at IS NULL AND attempts < 5") == 0;
}

static void linked_with_inbox(struct world *w)
{
    add_action(w, "Cap the pool");
    start_outbox(w);
    assert_true(run_until(w, link_linked, 10));
    w->ib = inbox_new(w->loop, w->pool, find_conn, w);
}

/* A stored delivery is parsed by its connection's provider and merged, once. */
static void test_workers__inbox_applies_a_delivery(void **state)
{
    struct world *w = world_or_skip(state);
    char v[128];

    linked_with_inbox(w);
    put_delivery(w, "d-1", "{\"title\": \"Cap the pool at 70\", \"at\": \"2026-02-01T00:00:00Z\"}");
    inbox_kick(w->ib);
    assert_true(run_until(w, inbox_settled, 10));
    assert_string_equal(sql1(w, v, sizeof(v),
                             "SELECT a.title || ' ' || (i.processed_at IS NOT NULL) FROM actions a,"
                             " inbox i",
                             0, NULL),
                        "Cap the pool at 70 true");
    assert_string_equal(sql1(w, v, sizeof(v),
                             "SELECT source || ' ' || actor FROM events WHERE field = 'title'", 0,
                             NULL),
                        TRACKER " owner-1");
    assert_int_equal(inbox_applied(w->ib), 1);
    assert_int_equal(inbox_unreadable(w->ib), 0);
}

/* A delivery its provider cannot read is a dead letter at once, with the reason. */
static void test_workers__inbox_unreadable_is_a_dead_letter(void **state)
{
    struct world *w = world_or_skip(state);
    char v[128];

    linked_with_inbox(w);
    put_delivery(w, "d-2", "{\"nothing\": true}");
    inbox_kick(w->ib);
    assert_true(run_until(w, inbox_settled, 10));
    run_for(w, 1.2); /* the inbox's timer ticks: it is not tried again */
    assert_string_equal(sql1(w, v, sizeof(v),
                             "SELECT attempts || ' ' || (processed_at IS NULL) || ' ' || last_error"
                             " FROM inbox",
                             0, NULL),
                        "5 true edit: not a delivery of the fake");
    assert_string_equal(sql1(w, v, sizeof(v), "SELECT title FROM actions", 0, NULL),
                        "Cap the pool");
    assert_int_equal(inbox_unreadable(w->ib), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_workers__create_links_the_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__retry_backs_off_then_succeeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__rejected_fails_without_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__gone_breaks_the_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__push_fetches_then_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__limited_waits_what_the_tracker_asked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__marker_found_after_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__marker_not_found_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__inbox_applies_a_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__inbox_unreadable_is_a_dead_letter, setup,
                                        teardown),
    };

    log_max_level = CL_LOG_ERROR; /* the failures the tests cause are expected */
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
