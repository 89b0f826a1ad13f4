/* The async pool against the real PostgreSQL the harness starts (CLOSELOOP_TEST_DSN). */
#include "closeloop/db/db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct seen {
    int calls;
    int code;
    char sqlstate[6];
    char value[64];
    char column[32];
    int order[64];
    int norder;
};

struct tagged {
    struct seen *seen;
    int tag;
};

static struct ev_loop *loop;

static void on_done(const struct db_reply *r, void *arg)
{
    struct seen *s = arg;

    s->calls++;
    s->code = r->code;
    snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", r->sqlstate);
    snprintf(s->column, sizeof(s->column), "%s", r->column != NULL ? r->column : "");
    if (r->code == CL_OK && PQntuples(r->res) > 0)
        snprintf(s->value, sizeof(s->value), "%s", PQgetvalue(r->res, 0, 0));
    ev_break(loop, EVBREAK_ALL);
}

static void on_tagged(const struct db_reply *r, void *arg)
{
    struct tagged *t = arg;

    t->seen->order[t->seen->norder++] = t->tag;
    t->seen->calls++;
    t->seen->code = r->code;
    if (t->seen->calls == 20)
        ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until a callback breaks it, bounded by a 10 s guard. */
static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    fail_msg("timed out waiting for the database");
    ev_break(l, EVBREAK_ALL);
}

static void run_loop(void)
{
    ev_timer guard;

    ev_timer_init(&guard, guard_cb, 10.0, 0.0);
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
}

static const char *dsn_or_skip(void)
{
    const char *dsn = getenv("CLOSELOOP_TEST_DSN");

    if (dsn == NULL)
        skip();
    return dsn;
}

static void test_db__query_with_params(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 2, 5.0, NULL);
    const char *params[2] = {"40", "2"};
    struct seen s = {0};

    (void)state;
    db_query(p, "SELECT ($1::int + $2::int)::text", 2, params, on_done, &s);
    run_loop();
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, CL_OK);
    assert_string_equal(s.value, "42");
    db_pool_free(p);
}

static void test_db__error_carries_sqlstate_and_column(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 1, 5.0, NULL);
    struct seen s = {0};

    (void)state;
    db_query(p, "SELECT 1/0", 0, NULL, on_done, &s);
    run_loop();
    assert_int_equal(s.code, CL_EDB);
    assert_string_equal(s.sqlstate, "22012");
    memset(&s, 0, sizeof(s));
    db_query(p, "DO $$BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'CL422', COLUMN = 'owner'; END$$",
             0, NULL, on_done, &s);
    run_loop();
    assert_string_equal(s.sqlstate, "CL422");
    assert_string_equal(s.column, "owner");
    /* the connection is still usable after an error */
    memset(&s, 0, sizeof(s));
    db_query(p, "SELECT 'ok'", 0, NULL, on_done, &s);
    run_loop();
    assert_string_equal(s.value, "ok");
    db_pool_free(p);
}

static void test_db__queues_in_order_on_one_connection(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 1, 5.0, NULL);
    struct seen s = {0};
    struct tagged t[20];
    struct db_pool_stats st;
    int i;

    (void)state;
    for (i = 0; i < 20; i++) {
        t[i] = (struct tagged){&s, i};
        db_query(p, "SELECT pg_sleep(0.001)", 0, NULL, on_tagged, &t[i]);
    }
    db_pool_stats(p, &st);
    assert_true(st.queued >= 19);
    run_loop();
    assert_int_equal(s.calls, 20);
    for (i = 0; i < 20; i++)
        assert_int_equal(s.order[i], i);
    db_pool_free(p);
}

static void test_db__cancel_suppresses_callback(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 1, 5.0, NULL);
    struct seen dropped = {0};
    struct seen s = {0};

    (void)state;
    db_query_cancel(db_query(p, "SELECT 1", 0, NULL, on_done, &dropped));
    db_query(p, "SELECT 2", 0, NULL, on_done, &s);
    run_loop();
    assert_int_equal(dropped.calls, 0);
    assert_string_equal(s.value, "2");
    db_pool_free(p);
}

static void test_db__unreachable_fails_fast(void **state)
{
    struct db_pool *p = db_pool_new(loop, "postgresql:///x?host=/nonexistent-dir", 2, 5.0, NULL);
    struct seen s = {0};

    (void)state;
    db_query(p, "SELECT 1", 0, NULL, on_done, &s);
    run_loop();
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, CL_EIO);
    assert_false(db_pool_ready(p));
    db_pool_free(p);
}

/* A query cancelled while still queued must never reach the server: its requester has
 * already answered, so running it would change data behind a failure reply. */
static void test_db__cancelled_queued_query_never_runs(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 1, 5.0, NULL);
    struct seen busy = {0};
    struct seen s = {0};
    struct db_query *q;

    (void)state;
    db_query(p, "SELECT pg_sleep(0.05)", 0, NULL, on_done, &busy);
    q = db_query(p, "SELECT set_config('closeloop.test_mark', 'ran', false)", 0, NULL, on_done,
                 &busy);
    assert_false(db_query_sent(q));
    db_query_cancel(q);
    db_query(p, "SELECT coalesce(current_setting('closeloop.test_mark', true), 'never')", 0, NULL,
             on_done, &s);
    while (s.calls == 0)
        run_loop();
    assert_string_equal(s.value, "never");
    assert_int_equal(busy.calls, 1);
    db_pool_free(p);
}

static const struct db_stmt stmt_add = {"test_add", "SELECT ($1::int + 1)::text"};
static const struct db_stmt stmt_bad = {"test_bad", "SELECT no_such_column FROM pg_class"};

static void test_db__prepared_statements(void **state)
{
    struct db_pool *p = db_pool_new(loop, dsn_or_skip(), 1, 5.0, NULL);
    struct seen s = {0};
    const char *one[1] = {"1"};
    const char *two[1] = {"41"};

    (void)state;
    db_query_stmt(p, &stmt_add, 1, one, on_done, &s);
    run_loop();
    assert_string_equal(s.value, "2");
    memset(&s, 0, sizeof(s));
    db_query_stmt(p, &stmt_add, 1, two, on_done, &s); /* second run: already prepared */
    run_loop();
    assert_string_equal(s.value, "42");
    memset(&s, 0, sizeof(s));
    db_query_stmt(p, &stmt_bad, 0, NULL, on_done, &s); /* PREPARE fails: reported once */
    run_loop();
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, CL_EDB);
    assert_string_equal(s.sqlstate, "42703");
    memset(&s, 0, sizeof(s));
    db_query_stmt(p, &stmt_add, 1, one, on_done, &s); /* the connection still works */
    run_loop();
    assert_string_equal(s.value, "2");
    db_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db__query_with_params),
        cmocka_unit_test(test_db__error_carries_sqlstate_and_column),
        cmocka_unit_test(test_db__queues_in_order_on_one_connection),
        cmocka_unit_test(test_db__cancel_suppresses_callback),
        cmocka_unit_test(test_db__unreachable_fails_fast),
        cmocka_unit_test(test_db__prepared_statements),
        cmocka_unit_test(test_db__cancelled_queued_query_never_runs),
    };

    loop = ev_default_loop(0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
