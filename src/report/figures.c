#include "closeloop/report/figures.h"

#include "closeloop/http/metrics.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIGURES_REFRESH_TIMEOUT "600s" /* a refresh may take this long, not a request's */
#define FIGURES_GAUGES          3

/* The gauges, in the column order of sql_gauges (after the team). */
static const char *const gauge_names[FIGURES_GAUGES][2] = {
    {"closeloop_actions_open", "Open actions per team (the owner's team)."},
    {"closeloop_actions_overdue", "Open actions past their due date per team."},
    {"closeloop_actions_unowned", "Open actions with no active owner per team."},
};

struct figures {
    struct ev_loop *loop;
    struct db_pool *pool;
    ev_timer timer;
    struct db_query *q;
    char refresh_sql[160];         /* numbers from the validated configuration only */
    char *samples[FIGURES_GAUGES]; /* each gauge's per-team lines; NULL before the first read */
    double computed_at;            /* epoch seconds of the snapshot read, 0 before */
};

/* The per-team counts the snapshot holds, and when it was computed. */
static const char sql_gauges[] =
    "SELECT coalesce(e->>'team', ''), coalesce(e->>'open', '0'), coalesce(e->>'overdue', '0'),"
    "       coalesce(e->>'unowned', '0'), extract(epoch FROM s.computed_at)::text"
    " FROM figure_snapshot s LEFT JOIN LATERAL jsonb_array_elements(s.teams) e ON true"
    " WHERE s.id = 1 ORDER BY 1";

/* One gauge's sample lines, from column col of the snapshot's rows. Caller frees. */
static char *gauge_samples(PGresult *res, int col)
{
    struct buf b;
    int i;

    buf_init(&b);
    for (i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 4) || PQgetisnull(res, i, 0))
            continue; /* no snapshot yet, or a snapshot of no team */
        buf_printf(&b, "%s{team=\"", gauge_names[col - 1][0]);
        metrics_label(&b, PQgetvalue(res, i, 0));
        buf_printf(&b, "\"} %ld\n", atol(PQgetvalue(res, i, col)));
    }
    return buf_steal(&b, NULL);
}

static void gauges_on_result(const struct db_reply *r, void *arg)
{
    struct figures *f = arg;
    int k;

    f->q = NULL;
    if (r->code != CL_OK) {
        log_warn("event=figures_read_failed error=\"%s\"", r->message);
        return;
    }
    for (k = 0; k < FIGURES_GAUGES; k++) {
        free(f->samples[k]);
        f->samples[k] = gauge_samples(r->res, k + 1);
    }
    if (PQntuples(r->res) > 0 && !PQgetisnull(r->res, 0, 4))
        f->computed_at = atof(PQgetvalue(r->res, 0, 4));
}

static void refresh_on_result(const struct db_reply *r, void *arg)
{
    struct figures *f = arg;

    f->q = NULL;
    if (r->code != CL_OK)
        log_warn("event=figures_refresh_failed error=\"%s\"", r->message);
    else if (PQntuples(r->res) == 1 && atol(PQgetvalue(r->res, 0, 0)) >= 0)
        log_info("event=figures_refreshed ms=%s", PQgetvalue(r->res, 0, 0));
    f->q = db_query(f->pool, sql_gauges, 0, NULL, gauges_on_result, f);
}

static void figures_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct figures *f = container_of(w, struct figures, timer);

    (void)loop;
    (void)revents;
    if (f->q == NULL) /* the last refresh still running: skip this turn */
        f->q = db_query_script(f->pool, f->refresh_sql, refresh_on_result, f);
}

struct figures *figures_new(struct ev_loop *loop, struct db_pool *pool, double interval, long days)
{
    struct figures *f = cl_calloc(1, sizeof(*f));

    f->loop = loop;
    f->pool = pool;
    snprintf(f->refresh_sql, sizeof(f->refresh_sql),
             "SET LOCAL statement_timeout = '" FIGURES_REFRESH_TIMEOUT "';"
             " SELECT cl_figures_refresh(%.3f, %ld)",
             interval, days);
    ev_timer_init(&f->timer, figures_on_timer, 0.0, interval);
    ev_timer_start(loop, &f->timer);
    return f;
}

void figures_free(struct figures *f)
{
    int k;

    if (f == NULL)
        return;
    ev_timer_stop(f->loop, &f->timer);
    db_query_cancel(f->q);
    for (k = 0; k < FIGURES_GAUGES; k++)
        free(f->samples[k]);
    free(f);
}

void figures_metrics(const struct figures *f, struct buf *out)
{
    int k;

    for (k = 0; k < FIGURES_GAUGES; k++) { /* the families always, their samples once read */
        buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauge_names[k][0], gauge_names[k][1],
                   gauge_names[k][0]);
        if (f != NULL && f->samples[k] != NULL)
            buf_puts(out, f->samples[k]);
    }
    buf_printf(out,
               "# HELP closeloop_figures_age_seconds Age of the figures snapshot the per-team "
               "gauges come from (-1: none yet).\n# TYPE closeloop_figures_age_seconds gauge\n"
               "closeloop_figures_age_seconds %.0f\n",
               f != NULL && f->computed_at > 0 ? ev_time() - f->computed_at : -1.0);
}
