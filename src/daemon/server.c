#include "closeloop/daemon/server.h"

#include "closeloop/sync/registry.h"
#include "closeloop/util/crypto.h"
#include "closeloop/sync/sync.h"

#include "closeloop/api/api.h"
#include "closeloop/api/routes_core.h"
#include "closeloop/api/routes_records.h"
#include "closeloop/api/routes_sync.h"
#include "closeloop/api/routes_figures.h"
#include "closeloop/api/routes_outcomes.h"
#include "closeloop/api/routes_chat.h"
#include "closeloop/api/routes_mail.h"
#include "closeloop/api/routes_search.h"
#include "closeloop/api/routes_calendar.h"
#include "closeloop/report/figures.h"
#include "closeloop/review/scheduler.h"
#include "closeloop/report/chart.h"
#include "closeloop/report/digester.h"
#include "closeloop/api/routes_digests.h"
#include "closeloop/notify/reminder.h"
#include "closeloop/util/policy/remind_policy.h"
#include "closeloop/api/routes_reviews.h"
#include "closeloop/api/auth.h"
#include "closeloop/db/db.h"
#include "closeloop/http/httpd.h"
#include "closeloop/util/log.h"
#include "closeloop/http/metrics.h"
#include "closeloop/db/migrate.h"
#include "closeloop/mail/queue.h"
#include "closeloop/notify/chat_queue.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct server {
    struct ev_loop *loop;
    struct conf *conf;
    struct db_pool *pool;
    struct auth *auth;
    struct metrics *metrics;
    struct api *api;
    struct sync *sync; /* NULL when no tracker connection is configured */
    struct figures *figures;
    struct review_scheduler *reviews;
    struct digester *digester;
    struct reminder *reminder;
    struct mail_queue *mail;
    struct chat_queue *chat;
    struct httpd *httpd;
    ev_signal sigterm;
    ev_signal sigint;
    ev_signal sighup;
    ev_timer drain;
    double drain_until;
    bool stopping;
    bool aborting;
};

int server_migrate(const char *dsn, double wait, int *applied, struct cl_err *err)
{
    struct cl_err cerr = CL_ERR_INIT;
    double until = cl_now_mono() + wait;
    PGconn *pg = NULL;
    int rc;

    while (db_connect_blocking(&pg, dsn, &cerr) != CL_OK) {
        if (cl_now_mono() >= until)
            return cl_fail(err, CL_EDB, "%s", cerr.msg);
        log_warn("event=db_wait error=\"%s\"", cerr.msg);
        cl_err_clear(&cerr);
        sleep(1); /* before the loop exists: blocking is fine here */
    }
    rc = migrate_run(pg, applied, err);
    PQfinish(pg);
    return rc;
}

/* Seconds to wait for cancelled statements to report how they ended. */
#define SERVER_ABORT_GRACE 3.0

/* Stops waiting politely: cancels the statements still running so that each request
 * can be answered with what really happened, then waits a little for those answers. */
static void server_abort(struct server *s)
{
    s->aborting = true;
    s->drain_until = ev_now(s->loop) + SERVER_ABORT_GRACE;
    db_pool_cancel_running(s->pool);
}

static void server_on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct server *s = container_of(w, struct server, drain);
    int left = httpd_inflight(s->httpd);

    (void)revents;
    if (left > 0 && ev_now(loop) < s->drain_until)
        return;
    if (left > 0 && !s->aborting) {
        log_warn("event=shutdown_timeout in_flight=%d", left);
        server_abort(s);
        return;
    }
    ev_timer_stop(loop, w);
    ev_break(loop, EVBREAK_ALL);
}

static void server_on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct server *s = w->signum == SIGTERM ? container_of(w, struct server, sigterm)
                                            : container_of(w, struct server, sigint);

    (void)revents;
    if (s->stopping) {
        log_warn("event=shutdown_forced in_flight=%d", httpd_inflight(s->httpd));
        if (!s->aborting)
            server_abort(s);
        return;
    }
    s->stopping = true;
    log_info("event=shutdown_begin signal=%d in_flight=%d", w->signum, httpd_inflight(s->httpd));
    httpd_quiesce(s->httpd);
    s->drain_until = ev_now(loop) + s->conf->shutdown_timeout;
    ev_timer_init(&s->drain, server_on_drain, 0.0, 0.02);
    ev_timer_start(loop, &s->drain);
}

/* The due-date, review and digest policies, as the API's SQL and the background jobs read
 * them. */
static void server_set_policies(struct server *s)
{
    char *json = due_policy_json(&s->conf->due);

    api_set_due_policy(s->api, json);
    free(json);
    json = review_policy_json(&s->conf->review);
    api_set_review_policy(s->api, json);
    if (s->reviews != NULL)
        review_scheduler_set_policy(s->reviews, json);
    free(json);
    json = digest_policy_json(&s->conf->digest);
    api_set_digest_policy(s->api, json);
    if (s->digester != NULL)
        digester_set_policy(s->digester, json);
    free(json);
    json = remind_policy_json(&s->conf->remind);
    api_set_remind_policy(s->api, json);
    if (s->reminder != NULL)
        reminder_set_policy(s->reminder, json);
    free(json);
}

static void server_reload(struct server *s)
{
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);
    struct conf *fresh = conf_new_defaults(trackers, n);
    struct cl_err err = CL_ERR_INIT;
    enum cl_log_level lvl;
    int rc = CL_OK;

    if (s->conf->config_path != NULL)
        rc = conf_load_file(fresh, s->conf->config_path, &err);
    if (rc == CL_OK)
        rc = conf_load_env(fresh, &err);
    if (rc == CL_OK) /* flags beat the file and the environment on reload too */
        rc = conf_reapply_flags(fresh, s->conf, &err);
    if (rc == CL_OK) /* as at start-up: e.g. a chat webhook that is not https:// */
        rc = conf_validate_reloadable(fresh, &err);
    if (rc != CL_OK) {
        log_error("event=reload_failed error=\"%s\"", err.msg);
        conf_free(fresh);
        return;
    }
    conf_apply_reloadable(s->conf, fresh);
    conf_free(fresh);
    if (log_level_parse(&lvl, s->conf->log_level) == CL_OK)
        log_max_level = lvl;
    api_set_timeout(s->api, s->conf->request_timeout);
    server_set_policies(s);
    if (s->chat != NULL && chat_queue_reload(s->chat, &err) != CL_OK)
        log_error("event=chat_reload_failed error=\"%s\"", err.msg);
    auth_set_ttl(s->auth, s->conf->token_cache_ttl);
    httpd_set_max_body(s->httpd, s->conf->max_body);
    httpd_set_read_timeout(s->httpd, s->conf->read_timeout);
    log_info("event=reloaded log_level=%s", s->conf->log_level);
}

static void server_on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    server_reload(container_of(w, struct server, sighup));
}

/* "closeloopd/<12 hex>": this process's sessions, unique, so that its claims die with
 * it (cl_claim_held() looks the name up among live sessions). */
static int server_name(char out[32], struct cl_err *err)
{
    unsigned char raw[6];
    size_t i;
    int rc = crypto_random(raw, sizeof(raw), err);

    if (rc != CL_OK)
        return rc;
    snprintf(out, 32, "closeloopd/");
    for (i = 0; i < sizeof(raw); i++)
        snprintf(out + 11 + 2 * i, 3, "%02x", raw[i]);
    return CL_OK;
}

static int server_start(struct server *s, struct cl_err *err)
{
    struct api_deps deps;
    struct httpd_opts ho;
    char name[32];
    char *policy;

    if (server_name(name, err) != CL_OK)
        return err->code;
    log_info("event=instance name=%s", name);
    s->pool = db_pool_new(s->loop, s->conf->database_url, (int)s->conf->pool_size,
                          s->conf->request_timeout, name);
    s->auth = auth_new(s->loop, s->pool, s->conf->token_cache_ttl);
    s->metrics = metrics_new();
    if (sync_wanted(s->conf) && sync_new(&s->sync, s->loop, s->pool, s->conf, err) != CL_OK)
        return err->code;
    s->figures = figures_new(s->loop, s->pool, s->conf->figures_interval, s->conf->figures_window);
    policy = review_policy_json(&s->conf->review);
    s->reviews = review_scheduler_new(s->loop, s->pool, s->conf->database_url,
                                      s->conf->review_interval, policy);
    free(policy);
    policy = digest_policy_json(&s->conf->digest);
    s->digester = digester_new(s->loop, s->pool, s->conf->digest_interval, policy);
    free(policy);
    policy = remind_policy_json(&s->conf->remind);
    s->reminder = reminder_new(s->loop, s->pool, s->conf->remind_interval, policy);
    free(policy);
    if (mail_queue_new(&s->mail, s->loop, s->pool, s->conf, err) != CL_OK)
        return err->code;
    if (chat_queue_new(&s->chat, s->loop, s->pool, s->conf, err) != CL_OK)
        return err->code;
    deps = (struct api_deps){.loop = s->loop,
                             .pool = s->pool,
                             .auth = s->auth,
                             .metrics = s->metrics,
                             .request_timeout = s->conf->request_timeout,
                             .sync = s->sync,
                             .sync_stale_after = s->conf->sync_stale_after,
                             .figures = s->figures,
                             .reviews = s->reviews,
                             .digester = s->digester,
                             .reminder = s->reminder,
                             .mail = s->mail,
                             .chat = s->chat};
    s->api = api_new(&deps);
    server_set_policies(s);
    routes_core_add(s->api);
    routes_records_add(s->api);
    routes_sync_add(s->api);
    routes_figures_add(s->api);
    routes_reviews_add(s->api);
    routes_outcomes_add(s->api);
    routes_mail_add(s->api);
    routes_chat_add(s->api);
    routes_search_add(s->api);
    routes_calendar_add(s->api);
    routes_digests_add(s->api);
    ho = (struct httpd_opts){.listen = s->conf->listen,
                             .max_body = s->conf->max_body,
                             .max_connections = s->conf->max_connections,
                             .read_timeout = s->conf->read_timeout,
                             .handler = api_handle,
                             .arg = s->api,
                             .metrics = s->metrics};
    if (httpd_start(&s->httpd, s->loop, &ho, err) != CL_OK)
        return err->code;
    api_set_httpd(s->api, s->httpd);
    ev_signal_init(&s->sigterm, server_on_stop, SIGTERM);
    ev_signal_init(&s->sigint, server_on_stop, SIGINT);
    ev_signal_init(&s->sighup, server_on_hup, SIGHUP);
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_signal_start(s->loop, &s->sighup);
    return CL_OK;
}

static void server_dispose(struct server *s)
{
    if (s->loop != NULL) {
        ev_signal_stop(s->loop, &s->sigterm);
        ev_signal_stop(s->loop, &s->sigint);
        ev_signal_stop(s->loop, &s->sighup);
    }
    httpd_free(s->httpd);
    api_free(s->api);
    sync_free(s->sync);
    mail_queue_free(s->mail); /* sends in flight are abandoned: their leases lapse */
    chat_queue_free(s->chat); /* likewise */
    figures_free(s->figures);
    review_scheduler_free(s->reviews);
    digester_free(s->digester);
    reminder_free(s->reminder);
    auth_free(s->auth);
    db_pool_free(s->pool);
    metrics_free(s->metrics);
    chart_shutdown(); /* the mail worker drew its last chart above */
}

int server_run(struct conf *conf, struct cl_err *err)
{
    struct server s = {.conf = conf};
    int applied = 0;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    rc = server_migrate(conf->database_url, 30.0, &applied, err);
    if (rc != CL_OK)
        return rc;
    s.loop = ev_default_loop(EVFLAG_AUTO);
    if (s.loop == NULL)
        return cl_fail(err, CL_EIO, "libev could not create a loop");
    rc = server_start(&s, err);
    if (rc == CL_OK) {
        log_info("event=listening listen=%s port=%d pool_size=%ld schema=%d migrations_applied=%d",
                 conf->listen, httpd_port(s.httpd), conf->pool_size, migrate_latest(), applied);
        ev_run(s.loop, 0);
        log_info("event=shutdown_done");
    }
    server_dispose(&s);
    ev_loop_destroy(s.loop);
    return rc;
}
